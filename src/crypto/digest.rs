//! Streebog (GOST R 34.11-2012) digests.
#![forbid(unsafe_code)]

use std::fmt;
use std::io;

use openssl::hash::Hasher;

use super::alg::GostAlg;
use super::error::{describe, CryptoError};

/// A streaming Streebog digest.
///
/// XMLDSig references digest the canonical form of an element; implementing [`io::Write`] lets the canonicaliser
/// stream its output straight into the digest instead of building the whole document in memory.
pub struct Digester {
    alg: GostAlg,
    hasher: Hasher,
}

impl Digester {
    /// Starts a digest of the given suite's Streebog size.
    pub fn new(alg: GostAlg) -> Result<Self, CryptoError> {
        let md = alg.message_digest()?;
        let hasher = Hasher::new(md).map_err(|e| CryptoError::Digest(describe(&e)))?;
        Ok(Digester { alg, hasher })
    }

    /// Feeds more bytes into the digest.
    pub fn update(&mut self, data: &[u8]) -> Result<(), CryptoError> {
        self.hasher.update(data).map_err(|e| CryptoError::Digest(describe(&e)))
    }

    /// Ends the digest and returns its bytes exactly as OpenSSL outputs them (the byte order `DigestValue` uses).
    pub fn finish(mut self) -> Result<Vec<u8>, CryptoError> {
        let bytes = self.hasher.finish().map_err(|e| CryptoError::Digest(describe(&e)))?;
        Ok(bytes.to_vec())
    }

    /// The suite this digest belongs to.
    pub fn alg(&self) -> GostAlg {
        self.alg
    }
}

impl fmt::Debug for Digester {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Digester").field("alg", &self.alg).finish()
    }
}

impl io::Write for Digester {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.update(buf).map_err(io::Error::other)?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Digests a whole buffer in one call.
pub fn digest(alg: GostAlg, data: &[u8]) -> Result<Vec<u8>, CryptoError> {
    let mut digester = Digester::new(alg)?;
    digester.update(data)?;
    digester.finish()
}
