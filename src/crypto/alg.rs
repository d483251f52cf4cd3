//! The two GOST algorithm suites SMEV accepts, and their XMLDSig identifiers.
#![forbid(unsafe_code)]

use std::ffi::CStr;
use std::sync::OnceLock;

use openssl::hash::MessageDigest;
use openssl::nid::Nid;

use super::engine;
use super::error::CryptoError;
use super::ffi;

/// A GOST R 34.10-2012 signature suite with its matching GOST R 34.11-2012 (Streebog) digest.
///
/// The key size decides the suite: a 256-bit key signs with Streebog-256, a 512-bit key with Streebog-512, and
/// SMEV's XMLDSig URIs name the pair.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum GostAlg {
    /// GOST R 34.10-2012 with a 256-bit key and Streebog-256; what SMEV participants use almost everywhere.
    Gost2012_256,
    /// GOST R 34.10-2012 with a 512-bit key and Streebog-512.
    Gost2012_512,
}

const SIG_256: &str = "urn:ietf:params:xml:ns:cpxmlsec:algorithms:gostr34102012-gostr34112012-256";
const SIG_512: &str = "urn:ietf:params:xml:ns:cpxmlsec:algorithms:gostr34102012-gostr34112012-512";
const DIGEST_256: &str = "urn:ietf:params:xml:ns:cpxmlsec:algorithms:gostr34112012-256";
const DIGEST_512: &str = "urn:ietf:params:xml:ns:cpxmlsec:algorithms:gostr34112012-512";

impl GostAlg {
    /// The XMLDSig `SignatureMethod` algorithm URI, as SMEV writes and expects it.
    pub fn signature_uri(self) -> &'static str {
        match self {
            GostAlg::Gost2012_256 => SIG_256,
            GostAlg::Gost2012_512 => SIG_512,
        }
    }

    /// The XMLDSig `DigestMethod` algorithm URI, as SMEV writes and expects it.
    pub fn digest_uri(self) -> &'static str {
        match self {
            GostAlg::Gost2012_256 => DIGEST_256,
            GostAlg::Gost2012_512 => DIGEST_512,
        }
    }

    /// Recognises a `SignatureMethod` URI from an incoming signature; `None` for anything that is not GOST 2012.
    pub fn from_signature_uri(uri: &str) -> Option<GostAlg> {
        match uri {
            SIG_256 => Some(GostAlg::Gost2012_256),
            SIG_512 => Some(GostAlg::Gost2012_512),
            _ => None,
        }
    }

    /// Recognises a `DigestMethod` URI from an incoming signature; `None` for anything that is not Streebog.
    pub fn from_digest_uri(uri: &str) -> Option<GostAlg> {
        match uri {
            DIGEST_256 => Some(GostAlg::Gost2012_256),
            DIGEST_512 => Some(GostAlg::Gost2012_512),
            _ => None,
        }
    }

    /// The digest length in bytes (32 or 64); a signature is twice as long.
    pub fn digest_len(self) -> usize {
        match self {
            GostAlg::Gost2012_256 => 32,
            GostAlg::Gost2012_512 => 64,
        }
    }

    /// The signature length in bytes (64 or 128).
    pub(crate) fn signature_len(self) -> usize {
        2 * self.digest_len()
    }

    /// OpenSSL's name for the Streebog digest of this suite.
    pub(crate) fn digest_name(self) -> &'static str {
        match self {
            GostAlg::Gost2012_256 => "md_gost12_256",
            GostAlg::Gost2012_512 => "md_gost12_512",
        }
    }

    /// OpenSSL's short name for the key type of this suite.
    pub(crate) fn key_short_name(self) -> &'static CStr {
        match self {
            GostAlg::Gost2012_256 => c"gost2012_256",
            GostAlg::Gost2012_512 => c"gost2012_512",
        }
    }

    /// The key type's NID, used to recognise keys and to generate them.
    pub(crate) fn key_nid(self) -> Result<Nid, CryptoError> {
        ffi::sn2nid(self.key_short_name()).ok_or_else(|| CryptoError::UnsupportedKey {
            detail: format!("OpenSSL does not know the key type {}", self.key_short_name().to_string_lossy()),
        })
    }

    /// Finds the suite of a key from its OpenSSL key type, `None` for non-GOST-2012 keys.
    pub(crate) fn from_key_nid(nid: Nid) -> Option<GostAlg> {
        [GostAlg::Gost2012_256, GostAlg::Gost2012_512].into_iter().find(|alg| alg.key_nid().is_ok_and(|n| n == nid))
    }

    /// The engine's Streebog implementation for this suite. Looked up by name once per suite: the lookup takes a
    /// lock and a hash of the name in OpenSSL, and every signature, verification and digest needs it.
    pub(crate) fn message_digest(self) -> Result<MessageDigest, CryptoError> {
        static FOUND: [OnceLock<MessageDigest>; 2] = [OnceLock::new(), OnceLock::new()];
        let slot = match self {
            GostAlg::Gost2012_256 => &FOUND[0],
            GostAlg::Gost2012_512 => &FOUND[1],
        };
        if let Some(md) = slot.get() {
            return Ok(*md);
        }
        engine::ready()?;
        let md = MessageDigest::from_name(self.digest_name()).ok_or_else(|| {
            CryptoError::Digest(format!(
                "OpenSSL has no digest named {}: the loaded engine does not provide Streebog",
                self.digest_name()
            ))
        })?;
        Ok(*slot.get_or_init(|| md))
    }
}
