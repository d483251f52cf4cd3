//! GOST cryptography through the system OpenSSL 3 and a GOST engine.
//!
//! SMEV 3 accepts only GOST R 34.10-2012 signatures with GOST R 34.11-2012 (Streebog) digests. OpenSSL provides
//! them through an ENGINE: Debian's `gost` engine (package `libengine-gost-openssl`) in development, a certified
//! vendor's engine in production. This module loads the engine ([`init_engine`]), computes digests ([`digest`],
//! [`Digester`]), signs with a [`PrivateKey`] and verifies with a [`Certificate`]; the XMLDSig layer builds on it.
//!
//! All direct calls into C live in the private `ffi` submodule, the only place in the crate where `unsafe` is
//! allowed; every other submodule forbids it.
#![deny(unsafe_code)]

mod alg;
mod cert;
mod digest;
mod engine;
mod error;
mod ffi;
mod key;
mod trust;

pub use alg::GostAlg;
pub use cert::Certificate;
pub use digest::{digest, Digester};
pub use engine::{ensure_default_engine, init_engine, EngineConfig};
pub use error::CryptoError;
pub use key::{generate_key, KeySource, PrivateKey};
pub use trust::TrustAnchors;
