//! GOST private keys: loading, generating and signing.
#![forbid(unsafe_code)]

use std::fmt;
use std::path::PathBuf;

use openssl::pkey::{HasPublic, Id, PKey, PKeyRef, Private};
use openssl::pkey_ctx::PkeyCtx;
use openssl::sign::Signer;

use super::alg::GostAlg;
use super::engine;
use super::error::{describe, CryptoError};
use super::ffi;

/// Where the gateway's private key lives.
///
/// Development keys are PEM files; production keys usually stay inside a certified provider and are reached through
/// its engine, so the source is configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeySource {
    /// An unencrypted PKCS#8 PEM file (`-----BEGIN PRIVATE KEY-----`).
    PemFile(PathBuf),
    /// A key held by the loaded engine, named by the engine's own key id (`ENGINE_load_private_key`).
    Engine {
        /// The engine-specific key identifier (a container name, a URI, a slot id).
        key_id: String,
    },
}

/// A GOST R 34.10-2012 private key, ready to sign.
///
/// Only GOST 2012 keys can be constructed, so [`PrivateKey::alg`] is always known. Cloning shares the underlying
/// OpenSSL key.
#[derive(Clone)]
pub struct PrivateKey {
    pkey: PKey<Private>,
    alg: GostAlg,
}

impl PrivateKey {
    /// Parses an unencrypted PEM private key (PKCS#8 or the engine's legacy form).
    pub fn from_pem(pem: &[u8]) -> Result<Self, CryptoError> {
        Self::parse_pem(pem, "PEM data")
    }

    /// Loads the key from wherever the configuration says it is.
    pub fn load(src: &KeySource) -> Result<Self, CryptoError> {
        match src {
            KeySource::PemFile(path) => {
                let location = path.display().to_string();
                let pem = std::fs::read(path)
                    .map_err(|e| CryptoError::KeyLoad { location: location.clone(), detail: e.to_string() })?;
                Self::parse_pem(&pem, &location)
            }
            KeySource::Engine { key_id } => {
                let pkey = engine::load_engine_key(key_id)?;
                Self::from_pkey(pkey)
            }
        }
    }

    fn parse_pem(pem: &[u8], location: &str) -> Result<Self, CryptoError> {
        engine::ready()?;
        let pkey = PKey::private_key_from_pem(pem)
            .map_err(|e| CryptoError::KeyLoad { location: location.to_owned(), detail: describe(&e) })?;
        Self::from_pkey(pkey)
    }

    fn from_pkey(pkey: PKey<Private>) -> Result<Self, CryptoError> {
        let alg = key_alg(&pkey)?;
        Ok(PrivateKey { pkey, alg })
    }

    /// The signature suite this key signs with, decided by its type (2012-256 or 2012-512).
    pub fn alg(&self) -> GostAlg {
        self.alg
    }

    /// Signs `data` with GOST R 34.10-2012 over the matching Streebog digest.
    ///
    /// Returns the raw signature (64 or 128 bytes) exactly as OpenSSL's GOST engine outputs it, with no reordering:
    /// this is the byte layout SMEV puts into `SignatureValue`.
    pub fn sign(&self, data: &[u8]) -> Result<Vec<u8>, CryptoError> {
        let md = self.alg.message_digest()?;
        let sign_error = |e: openssl::error::ErrorStack| CryptoError::Sign(describe(&e));
        let mut signer = Signer::new(md, &self.pkey).map_err(sign_error)?;
        signer.update(data).map_err(sign_error)?;
        let signature = signer.sign_to_vec().map_err(sign_error)?;
        if signature.len() != self.alg.signature_len() {
            return Err(CryptoError::Sign(format!(
                "the engine returned a {}-byte signature, expected {}",
                signature.len(),
                self.alg.signature_len()
            )));
        }
        Ok(signature)
    }

    /// Encodes the key as unencrypted PKCS#8 PEM, so that generated keys can be saved for tests and tools.
    pub fn to_pem_pkcs8(&self) -> Result<Vec<u8>, CryptoError> {
        self.pkey.private_key_to_pem_pkcs8().map_err(|e| CryptoError::Encode(describe(&e)))
    }

    /// The OpenSSL key, for comparing it with a certificate's public key.
    pub(crate) fn pkey(&self) -> &PKeyRef<Private> {
        &self.pkey
    }
}

impl fmt::Debug for PrivateKey {
    /// Shows the suite only: key material never goes into logs.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PrivateKey").field("alg", &self.alg).finish_non_exhaustive()
    }
}

/// Tells which GOST 2012 suite a key belongs to, refusing anything else.
pub(crate) fn key_alg<T: HasPublic>(pkey: &PKeyRef<T>) -> Result<GostAlg, CryptoError> {
    let nid = openssl::nid::Nid::from_raw(pkey.id().as_raw());
    GostAlg::from_key_nid(nid).ok_or_else(|| {
        let name = nid.short_name().map(str::to_owned).unwrap_or_else(|_| format!("key type {}", nid.as_raw()));
        CryptoError::UnsupportedKey { detail: format!("a {name} key of {} bits", pkey.bits()) }
    })
}

/// Generates a fresh GOST R 34.10-2012 key pair on parameter set A.
///
/// Tests and development tools use it; production keys come from a certified provider instead.
pub fn generate_key(alg: GostAlg) -> Result<PrivateKey, CryptoError> {
    engine::ready()?;
    let gen_error = |e: openssl::error::ErrorStack| CryptoError::KeyGeneration(describe(&e));
    let nid = alg.key_nid()?;
    let mut ctx = PkeyCtx::new_id(Id::from_raw(nid.as_raw())).map_err(gen_error)?;
    ctx.keygen_init().map_err(gen_error)?;
    ffi::pkey_ctx_ctrl_str(&mut ctx, c"paramset", c"A").map_err(gen_error)?;
    let pkey = ctx.keygen().map_err(gen_error)?;
    PrivateKey::from_pkey(pkey)
}
