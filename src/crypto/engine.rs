//! Loading the OpenSSL engine that provides GOST.
//!
//! GOST keys and signatures come from an OpenSSL ENGINE: Debian's `gost` engine in development and tests,
//! a certified vendor's engine in production. Engines are loaded once per process and kept until it exits.
#![forbid(unsafe_code)]

use std::collections::HashMap;
use std::ffi::CString;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};

use openssl::pkey::{PKey, Private};

use super::error::{describe, CryptoError};
use super::ffi::Engine;

/// The engine id of Debian's `libengine-gost-openssl`.
const DEFAULT_ENGINE_ID: &str = "gost";

/// Which engine to load and from where.
///
/// Production sites use other vendors' engines, so the id (and optionally the shared object) is configuration,
/// not code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EngineConfig {
    /// The engine id as OpenSSL knows it; `gost` for Debian's engine.
    pub engine_id: String,
    /// A shared object to load through OpenSSL's `dynamic` engine, for engines outside OpenSSL's engines directory;
    /// `None` lets OpenSSL find the engine by id.
    pub dynamic_path: Option<PathBuf>,
}

impl Default for EngineConfig {
    /// Debian's `gost` engine, found by OpenSSL in its engines directory.
    fn default() -> Self {
        EngineConfig { engine_id: DEFAULT_ENGINE_ID.to_owned(), dynamic_path: None }
    }
}

/// Engines loaded so far, by id, plus the one made default last (used for engine-held keys).
#[derive(Default)]
struct Registry {
    by_id: HashMap<String, Arc<Engine>>,
    current: Option<Arc<Engine>>,
}

fn registry() -> MutexGuard<'static, Registry> {
    static REGISTRY: OnceLock<Mutex<Registry>> = OnceLock::new();
    let lock = REGISTRY.get_or_init(|| Mutex::new(Registry::default()));
    // A panic while holding the lock cannot leave the map half-updated, so a poisoned lock is still usable.
    lock.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Set once any engine is loaded, so that the hot paths (digests, signatures) can skip the registry lock.
static ANY_ENGINE: AtomicBool = AtomicBool::new(false);

/// Loads and initialises the configured engine and makes it OpenSSL's default for all algorithms.
///
/// Calling it again with an engine id that is already loaded does nothing, so every component may call it at
/// start-up. No `OPENSSL_CONF` is needed. When several different engines are loaded, the last one loaded is the
/// default and holds engine keys ([`crate::crypto::KeySource::Engine`]).
pub fn init_engine(cfg: &EngineConfig) -> Result<(), CryptoError> {
    let unavailable = |detail: String| CryptoError::EngineUnavailable { engine_id: cfg.engine_id.clone(), detail };
    let mut reg = registry();
    if reg.by_id.contains_key(&cfg.engine_id) {
        return Ok(());
    }
    let id = CString::new(cfg.engine_id.as_str())
        .map_err(|_| unavailable("the engine id contains a NUL byte".to_owned()))?;
    let engine = match &cfg.dynamic_path {
        None => Engine::by_id(&id).map_err(|e| unavailable(describe(&e)))?,
        Some(path) => {
            let path_str =
                path.to_str().ok_or_else(|| unavailable(format!("the engine path {} is not UTF-8", path.display())))?;
            let so_path =
                CString::new(path_str).map_err(|_| unavailable("the engine path contains a NUL byte".to_owned()))?;
            Engine::dynamic(&so_path, &id)
                .map_err(|e| unavailable(format!("loading {}: {}", path.display(), describe(&e))))?
        }
    };
    engine.set_default_all().map_err(|e| unavailable(format!("cannot make it the default: {}", describe(&e))))?;
    let engine = Arc::new(engine);
    reg.by_id.insert(cfg.engine_id.clone(), Arc::clone(&engine));
    reg.current = Some(engine);
    ANY_ENGINE.store(true, Ordering::Release);
    Ok(())
}

/// Loads Debian's `gost` engine with the default configuration, once per process.
///
/// This is what tests and development tools call; the gateway itself calls [`init_engine`] with its configuration.
pub fn ensure_default_engine() -> Result<(), CryptoError> {
    static DONE: OnceLock<()> = OnceLock::new();
    if DONE.get().is_some() {
        return Ok(());
    }
    init_engine(&EngineConfig::default())?;
    let _ = DONE.set(());
    Ok(())
}

/// Makes sure some GOST engine is loaded before OpenSSL parses keys or certificates or looks up digests.
///
/// Order matters: OpenSSL decodes a certificate's public key while parsing it and never retries, so a certificate
/// parsed before the engine is loaded would have no usable GOST key. When the application has not loaded an engine
/// yet, the default `gost` engine is loaded.
pub(crate) fn ready() -> Result<(), CryptoError> {
    if ANY_ENGINE.load(Ordering::Acquire) {
        return Ok(());
    }
    ensure_default_engine()
}

/// Asks the current engine for a private key it holds, by the engine's own key id.
pub(crate) fn load_engine_key(key_id: &str) -> Result<PKey<Private>, CryptoError> {
    ready()?;
    let key_error = |detail: String| CryptoError::KeyLoad { location: format!("engine key `{key_id}`"), detail };
    let id = CString::new(key_id).map_err(|_| key_error("the key id contains a NUL byte".to_owned()))?;
    // The registry lock also serialises calls into the engine's key loader, which some engines need.
    let reg = registry();
    let engine = reg.current.as_ref().ok_or_else(|| key_error("no engine is loaded".to_owned()))?;
    engine.load_private_key(&id).map_err(|e| key_error(describe(&e)))
}
