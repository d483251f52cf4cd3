//! The only place in the crate that calls C directly.
//!
//! The `openssl` crate has no bindings for OpenSSL's ENGINE API, and GOST keys and signatures on Debian are only
//! available through the `gost` engine (the `gostprov` provider does digests only). This module declares the few
//! ENGINE functions the gateway needs and wraps each one in a safe function, so that every other module can keep
//! `#![forbid(unsafe_code)]`. Everything else goes through the `openssl` crate's safe types.
#![allow(unsafe_code)]

use std::ffi::CStr;
use std::os::raw::{c_char, c_int, c_uint, c_void};
use std::ptr::{self, NonNull};

use foreign_types::{ForeignType, ForeignTypeRef};
use openssl::error::ErrorStack;
use openssl::nid::Nid;
use openssl::pkey::{PKey, Private};
use openssl::pkey_ctx::PkeyCtxRef;
use openssl_sys as sys;

/// `ENGINE_METHOD_ALL`: make the engine the default for every kind of algorithm it implements.
const ENGINE_METHOD_ALL: c_uint = 0xFFFF;

extern "C" {
    fn ENGINE_by_id(id: *const c_char) -> *mut sys::ENGINE;
    fn ENGINE_init(e: *mut sys::ENGINE) -> c_int;
    fn ENGINE_finish(e: *mut sys::ENGINE) -> c_int;
    fn ENGINE_free(e: *mut sys::ENGINE) -> c_int;
    fn ENGINE_set_default(e: *mut sys::ENGINE, flags: c_uint) -> c_int;
    fn ENGINE_ctrl_cmd_string(
        e: *mut sys::ENGINE,
        cmd_name: *const c_char,
        arg: *const c_char,
        cmd_optional: c_int,
    ) -> c_int;
    fn ENGINE_load_private_key(
        e: *mut sys::ENGINE,
        key_id: *const c_char,
        ui_method: *mut c_void,
        callback_data: *mut c_void,
    ) -> *mut sys::EVP_PKEY;
    fn EVP_PKEY_CTX_ctrl_str(ctx: *mut sys::EVP_PKEY_CTX, name: *const c_char, value: *const c_char) -> c_int;
}

/// An initialised OpenSSL engine: owns one structural and one functional reference, released on drop.
///
/// The gateway keeps its engines in a process-wide registry for the life of the process, because OpenSSL objects
/// (digests, keys) created through an engine must not outlive it.
pub(crate) struct Engine {
    ptr: NonNull<sys::ENGINE>,
}

// SAFETY: an ENGINE is reference-counted by OpenSSL under its own locks, and the calls made through this handle
// (ENGINE_set_default, ENGINE_load_private_key, ENGINE_finish/ENGINE_free) are thread-safe in OpenSSL 3; the
// engine registry additionally serialises them behind a mutex.
unsafe impl Send for Engine {}
// SAFETY: see the `Send` impl above; `&Engine` exposes no unsynchronised mutable state.
unsafe impl Sync for Engine {}

impl Engine {
    /// Finds an engine by id (OpenSSL falls back to loading `<enginesdir>/<id>.so`) and initialises it.
    pub(crate) fn by_id(id: &CStr) -> Result<Engine, ErrorStack> {
        openssl_sys::init();
        // SAFETY: `id` is a valid NUL-terminated string that outlives the call; a null result is handled.
        let raw = unsafe { ENGINE_by_id(id.as_ptr()) };
        let structural = NonNull::new(raw).ok_or_else(ErrorStack::get)?;
        Self::init(structural)
    }

    /// Loads an engine from a shared object through OpenSSL's `dynamic` engine, then initialises it.
    ///
    /// This is how sites point the gateway at an engine that is not in OpenSSL's engines directory.
    pub(crate) fn dynamic(so_path: &CStr, id: &CStr) -> Result<Engine, ErrorStack> {
        openssl_sys::init();
        // SAFETY: the literal is NUL-terminated; a null result is handled.
        let raw = unsafe { ENGINE_by_id(c"dynamic".as_ptr()) };
        let structural = NonNull::new(raw).ok_or_else(ErrorStack::get)?;
        let commands: [(&CStr, Option<&CStr>); 3] = [(c"SO_PATH", Some(so_path)), (c"ID", Some(id)), (c"LOAD", None)];
        for (name, arg) in commands {
            let arg_ptr = arg.map_or(ptr::null(), CStr::as_ptr);
            // SAFETY: `structural` is a live structural reference; `name` and `arg` (or null, which the LOAD
            // command accepts) are valid NUL-terminated strings that outlive the call.
            let ok = unsafe { ENGINE_ctrl_cmd_string(structural.as_ptr(), name.as_ptr(), arg_ptr, 0) };
            if ok != 1 {
                let err = ErrorStack::get();
                // SAFETY: releases the structural reference obtained above, which is not used again.
                unsafe { ENGINE_free(structural.as_ptr()) };
                return Err(err);
            }
        }
        Self::init(structural)
    }

    /// Turns a structural reference into an initialised engine, releasing the reference on failure.
    fn init(structural: NonNull<sys::ENGINE>) -> Result<Engine, ErrorStack> {
        // SAFETY: `structural` is a live structural reference owned by this function.
        if unsafe { ENGINE_init(structural.as_ptr()) } != 1 {
            let err = ErrorStack::get();
            // SAFETY: releases the structural reference, which is not used again.
            unsafe { ENGINE_free(structural.as_ptr()) };
            return Err(err);
        }
        Ok(Engine { ptr: structural })
    }

    /// Makes this engine OpenSSL's default implementation for every algorithm it provides.
    pub(crate) fn set_default_all(&self) -> Result<(), ErrorStack> {
        // SAFETY: `self.ptr` is a live, initialised engine.
        if unsafe { ENGINE_set_default(self.ptr.as_ptr(), ENGINE_METHOD_ALL) } == 1 {
            Ok(())
        } else {
            Err(ErrorStack::get())
        }
    }

    /// Asks the engine for a private key it holds (a token, a container, a key store), by the engine's key id.
    pub(crate) fn load_private_key(&self, key_id: &CStr) -> Result<PKey<Private>, ErrorStack> {
        // SAFETY: `self.ptr` is a live, initialised engine and `key_id` a valid NUL-terminated string; null UI
        // method and callback data mean "no interactive prompt", which the API allows.
        let raw =
            unsafe { ENGINE_load_private_key(self.ptr.as_ptr(), key_id.as_ptr(), ptr::null_mut(), ptr::null_mut()) };
        if raw.is_null() {
            return Err(ErrorStack::get());
        }
        // SAFETY: `raw` is a non-null EVP_PKEY whose single reference is transferred to the returned PKey.
        Ok(unsafe { PKey::from_ptr(raw) })
    }
}

impl Drop for Engine {
    fn drop(&mut self) {
        // SAFETY: `self.ptr` holds one functional and one structural reference, released exactly once here.
        unsafe {
            ENGINE_finish(self.ptr.as_ptr());
            ENGINE_free(self.ptr.as_ptr());
        }
    }
}

/// Looks up an object's NID by its OpenSSL short name (for example `gost2012_256`).
pub(crate) fn sn2nid(short_name: &CStr) -> Option<Nid> {
    // SAFETY: `short_name` is a valid NUL-terminated string; OBJ_sn2nid only reads it.
    let nid = unsafe { sys::OBJ_sn2nid(short_name.as_ptr()) };
    (nid != sys::NID_undef).then(|| Nid::from_raw(nid))
}

/// Passes a string control (such as `paramset`=`A`) to a key context, which the `openssl` crate cannot do.
pub(crate) fn pkey_ctx_ctrl_str<T>(ctx: &mut PkeyCtxRef<T>, name: &CStr, value: &CStr) -> Result<(), ErrorStack> {
    // SAFETY: `ctx` is a live key context borrowed mutably for the call; `name` and `value` are valid
    // NUL-terminated strings that outlive it.
    let rc = unsafe { EVP_PKEY_CTX_ctrl_str(ctx.as_ptr(), name.as_ptr(), value.as_ptr()) };
    if rc > 0 {
        Ok(())
    } else {
        Err(ErrorStack::get())
    }
}
