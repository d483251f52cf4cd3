//! Errors of the GOST cryptography layer.
#![forbid(unsafe_code)]

use openssl::error::ErrorStack;

/// Everything that can go wrong in [`crate::crypto`], typed so that callers can tell configuration problems
/// (engine, keys, certificates) from per-message failures (signing, verification, digests).
#[derive(Debug, thiserror::Error)]
pub enum CryptoError {
    /// The OpenSSL engine could not be found, loaded, initialised or made the default; nothing GOST works then.
    #[error(
        "cannot load the OpenSSL engine `{engine_id}`: {detail} (for the default `gost` engine on Debian: \
         apt-get install libengine-gost-openssl)"
    )]
    EngineUnavailable {
        /// The engine id that was asked for.
        engine_id: String,
        /// What OpenSSL reported.
        detail: String,
    },

    /// A private key could not be read or parsed.
    #[error("cannot load the private key from {location}: {detail}")]
    KeyLoad {
        /// Where the key was looked for: a file path, `PEM data`, or an engine key id.
        location: String,
        /// What went wrong.
        detail: String,
    },

    /// A certificate could not be read or parsed.
    #[error("cannot load the certificate from {location}: {detail}")]
    CertificateLoad {
        /// Where the certificate came from: a file path or `PEM data` / `DER data`.
        location: String,
        /// What went wrong.
        detail: String,
    },

    /// The key is not a GOST R 34.10-2012 key, so SMEV would not accept signatures made with it.
    #[error("unsupported key: {detail}; only GOST R 34.10-2012 256-bit and 512-bit keys are supported")]
    UnsupportedKey {
        /// What kind of key was found instead.
        detail: String,
    },

    /// The certificate's validity period is over.
    #[error("the certificate expired at {not_after}")]
    CertificateExpired {
        /// The end of the validity period, as `YYYY-MM-DDTHH:MM:SSZ`.
        not_after: String,
    },

    /// The certificate's validity period has not started yet.
    #[error("the certificate is not valid before {not_before}")]
    CertificateNotYetValid {
        /// The start of the validity period, as `YYYY-MM-DDTHH:MM:SSZ`.
        not_before: String,
    },

    /// The certificate does not chain to any configured trust anchor (or the chain is not valid now).
    #[error("the certificate of {subject} is not trusted: {reason}")]
    NotTrusted {
        /// The certificate's subject.
        subject: String,
        /// OpenSSL's verdict on the chain.
        reason: String,
    },

    /// Signing failed inside OpenSSL.
    #[error("GOST signing failed: {0}")]
    Sign(String),

    /// Verification could not be carried out at all (a wrong signature is `Ok(false)`, not this).
    #[error("GOST signature verification failed to run: {0}")]
    Verify(String),

    /// The Streebog digest is unavailable or failed.
    #[error("Streebog digest failed: {0}")]
    Digest(String),

    /// Generating a key pair failed.
    #[error("GOST key generation failed: {0}")]
    KeyGeneration(String),

    /// Encoding a key or certificate failed.
    #[error("cannot encode: {0}")]
    Encode(String),
}

/// Renders an OpenSSL error stack for an error message, never as an empty string.
pub(crate) fn describe(stack: &ErrorStack) -> String {
    if stack.errors().is_empty() {
        "OpenSSL gave no detail".to_owned()
    } else {
        stack.to_string()
    }
}
