//! Trust anchors: a PEM bundle of CA certificates against which a signer's certificate is checked, so that a
//! signature by a certificate of the signer's own making is not taken for one by a registered sender.
#![forbid(unsafe_code)]

use std::fmt;
use std::path::Path;

use openssl::stack::Stack;
use openssl::x509::store::{X509Store, X509StoreBuilder};
use openssl::x509::verify::X509VerifyFlags;
use openssl::x509::{X509StoreContext, X509};

use super::cert::Certificate;
use super::engine;
use super::error::{describe, CryptoError};

/// The largest trust-anchor bundle read, bytes: a bundle of a few hundred CA certificates is far below it, and a
/// wrong path (a device, a huge file) fails clearly instead of filling memory.
pub const MAX_BUNDLE_BYTES: u64 = 4 * 1024 * 1024;

/// A set of trust anchors (root or intermediate CA certificates) and the OpenSSL store that checks chains to them.
///
/// Any certificate of the bundle may end a chain (OpenSSL's partial-chain rule), so an operator can pin an
/// intermediate CA without trusting its whole root. A chain is checked at the current time, signatures included.
pub struct TrustAnchors {
    /// The store built from the bundle.
    store: X509Store,
    /// The anchors' subjects, for logs and errors.
    subjects: Vec<String>,
}

impl TrustAnchors {
    /// Reads a PEM bundle of one or more CA certificates.
    pub fn load(path: &Path) -> Result<TrustAnchors, CryptoError> {
        let location = path.display().to_string();
        let load_error = |detail: String| CryptoError::CertificateLoad { location: location.clone(), detail };
        let size = std::fs::metadata(path).map_err(|e| load_error(e.to_string()))?.len();
        if size > MAX_BUNDLE_BYTES {
            return Err(load_error(format!("{size} bytes, over the limit of {MAX_BUNDLE_BYTES} bytes")));
        }
        let bytes = std::fs::read(path).map_err(|e| load_error(e.to_string()))?;
        TrustAnchors::from_pem(&bytes, &location)
    }

    /// Builds the anchors from PEM data; `location` names it in errors.
    pub fn from_pem(bytes: &[u8], location: &str) -> Result<TrustAnchors, CryptoError> {
        engine::ready()?;
        let load_error = |detail: String| CryptoError::CertificateLoad { location: location.to_owned(), detail };
        let certs = X509::stack_from_pem(bytes).map_err(|e| load_error(describe(&e)))?;
        if certs.is_empty() {
            return Err(load_error("no PEM certificate in the bundle".into()));
        }
        let mut builder = X509StoreBuilder::new().map_err(|e| load_error(describe(&e)))?;
        builder.set_flags(X509VerifyFlags::PARTIAL_CHAIN).map_err(|e| load_error(describe(&e)))?;
        let mut subjects = Vec::with_capacity(certs.len());
        for cert in certs {
            subjects.push(Certificate::from_x509(cert.clone(), location)?.subject());
            builder.add_cert(cert).map_err(|e| load_error(describe(&e)))?;
        }
        Ok(TrustAnchors { store: builder.build(), subjects })
    }

    /// The anchors' subjects.
    pub fn subjects(&self) -> &[String] {
        &self.subjects
    }

    /// Checks that `cert` chains to one of the anchors and that the chain is valid now.
    pub fn verify(&self, cert: &Certificate) -> Result<(), CryptoError> {
        let run_error = |e: openssl::error::ErrorStack| CryptoError::Verify(describe(&e));
        let untrusted = Stack::new().map_err(run_error)?;
        let mut context = X509StoreContext::new().map_err(run_error)?;
        let outcome = context
            .init(&self.store, cert.x509(), &untrusted, |ctx| {
                let ok = ctx.verify_cert()?;
                Ok((ok, ctx.error().error_string().to_owned()))
            })
            .map_err(run_error)?;
        match outcome {
            (true, _) => Ok(()),
            (false, reason) => Err(CryptoError::NotTrusted { subject: cert.subject(), reason }),
        }
    }
}

impl fmt::Debug for TrustAnchors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TrustAnchors").field("subjects", &self.subjects).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dev(name: &str) -> std::path::PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("certs-dev").join(name)
    }

    #[test]
    fn a_certificate_issued_under_the_anchor_is_trusted() {
        let anchors = TrustAnchors::load(&dev("ca.crt")).unwrap();
        assert_eq!(anchors.subjects().len(), 1);
        for name in ["portal.crt", "other.crt", "gateway.crt"] {
            anchors.verify(&Certificate::load(&dev(name)).unwrap()).unwrap();
        }
    }

    #[test]
    fn certificates_outside_the_anchors_or_expired_are_refused() {
        // The portal's certificate is no CA: a certificate it did not issue does not chain to it.
        let anchors = TrustAnchors::load(&dev("portal.crt")).unwrap();
        let other = Certificate::load(&dev("other.crt")).unwrap();
        assert!(matches!(anchors.verify(&other), Err(CryptoError::NotTrusted { .. })));
        let ca = TrustAnchors::load(&dev("ca.crt")).unwrap();
        let expired = Certificate::load(&dev("expired.crt")).unwrap();
        match ca.verify(&expired) {
            Err(e @ CryptoError::NotTrusted { .. }) => assert!(e.to_string().contains("expired"), "{e}"),
            other => panic!("{other:?}"),
        }
    }

    /// A path that names something huge (a wrong file, a device) is refused by its size, not read.
    #[test]
    fn an_oversized_bundle_is_refused_before_it_is_read() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("huge.pem");
        let file = std::fs::File::create(&path).unwrap();
        file.set_len(MAX_BUNDLE_BYTES + 1).unwrap();
        match TrustAnchors::load(&path) {
            Err(e @ CryptoError::CertificateLoad { .. }) => assert!(e.to_string().contains("over the limit"), "{e}"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_bundle_without_certificates_is_refused() {
        assert!(matches!(TrustAnchors::from_pem(b"not pem", "test"), Err(CryptoError::CertificateLoad { .. })));
    }
}
