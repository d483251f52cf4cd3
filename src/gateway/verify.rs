//! Checks a delivered request before it is processed: SMEV's signature over `Request` (with SMEV's certificate when
//! configured), the sender's signature over `SenderProvidedRequestData` by a certificate the kind of data trusts
//! ([`SenderTrust`]), and that the data the handler will read is exactly the element the sender signed (the defense
//! against signature wrapping).
//!
//! Verification is CPU work proportional to the message: the async entry points run it on the blocking pool under a
//! [`VerifyPool`] ([`CpuPool`]) semaphore, so a large message never stalls the async threads (and `/healthz` with them), and no
//! more verifications run at once than the pool allows.
#![forbid(unsafe_code)]

use crate::config::SenderTrustConfig;
use crate::crypto::{Certificate, CryptoError, TrustAnchors};
use crate::dsig::{
    find_signatures, verify_signature, DsigError, KeySelection, SignatureModel, Validity, VerifyLimits, VerifyOptions,
};
use crate::smev::parse::{ReceivedRequest, ReceivedResponse};
use crate::xml::{self, Limits, NodeId};
use std::sync::Arc;

pub use crate::cpu::{default_concurrency, CpuPool, PoolError};

/// The pool verifications run in: the crate's [`CpuPool`], under the name the provider and its tests know it by.
pub type VerifyPool = CpuPool;

/// Verifies a delivered request's two signatures and their targets, the sender's against `senders`, on `pool`.
pub async fn verify_delivered_in(
    pool: &VerifyPool,
    envelope: &str,
    received: &ReceivedRequest,
    smev_cert: Option<&Certificate>,
    senders: Arc<SenderTrust>,
    limits: VerifyLimits,
) -> Result<(), Untrusted> {
    let nodes = (received.request_node, received.data_node);
    verify_on(pool, envelope, nodes, smev_cert, senders, limits).await
}

/// Verifies a delivered response's two signatures and their targets, the sender's against `senders`, on `pool`.
pub async fn verify_response_in(
    pool: &VerifyPool,
    envelope: &str,
    received: &ReceivedResponse,
    smev_cert: Option<&Certificate>,
    senders: Arc<SenderTrust>,
    limits: VerifyLimits,
) -> Result<(), Untrusted> {
    let nodes = (received.response_node, received.data_node);
    verify_on(pool, envelope, nodes, smev_cert, senders, limits).await
}

/// [`verify_nodes`] on `pool` (off the async threads when the envelope is large).
async fn verify_on(
    pool: &VerifyPool,
    envelope: &str,
    nodes: (NodeId, NodeId),
    smev_cert: Option<&Certificate>,
    senders: Arc<SenderTrust>,
    limits: VerifyLimits,
) -> Result<(), Untrusted> {
    let (bytes, envelope, cert) = (envelope.len(), envelope.to_string(), smev_cert.cloned());
    let work = move || verify_nodes(&envelope, nodes, cert.as_ref(), &senders, &limits);
    pool.run(bytes, work).await.map_err(|e| Untrusted::Unreadable(e.to_string()))?
}

/// Why a delivered request is not trusted. Such a request is never processed, but it is still answered
/// (`ACCESS_DENIED`) and acknowledged, or SMEV would deliver it again for weeks.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum Untrusted {
    /// SMEV's signature is missing, invalid, or not by SMEV's certificate.
    #[error("SMEV's signature: {0}")]
    SmevSignature(String),
    /// The sender's signature is missing or invalid.
    #[error("the sender's signature: {0}")]
    SenderSignature(String),
    /// The envelope cannot be read again.
    #[error("unreadable envelope: {0}")]
    Unreadable(String),
    /// The envelope asks more verification work than the limits allow (too many signatures or references).
    #[error("over the verification limits: {0}")]
    OverLimits(String),
}

/// Whose signature over a message's data is trusted: the registered certificates of the senders allowed (matched
/// exactly, by their DER), or any certificate that chains to the configured trust anchors. Without it, trust would
/// rest on SMEV's signature alone, and anyone able to pass a message through SMEV could ask for any family's data.
#[derive(Debug, Default)]
pub struct SenderTrust {
    /// The registered certificates, matched exactly.
    registered: Vec<Certificate>,
    /// The CA bundle a sender's certificate may chain to instead.
    anchors: Option<TrustAnchors>,
}

impl SenderTrust {
    /// Loads the trust a kind of data's configuration names.
    pub fn load(config: &SenderTrustConfig) -> Result<SenderTrust, CryptoError> {
        let registered = config.certs.iter().map(|path| Certificate::load(path)).collect::<Result<Vec<_>, _>>()?;
        let anchors = config.ca.as_deref().map(TrustAnchors::load).transpose()?;
        Ok(SenderTrust { registered, anchors })
    }

    /// The same trust, also admitting `cert` exactly.
    pub fn and_registered(mut self, cert: Certificate) -> SenderTrust {
        self.registered.push(cert);
        self
    }

    /// Trust in exactly these certificates.
    pub fn registered(certs: Vec<Certificate>) -> SenderTrust {
        SenderTrust { registered: certs, anchors: None }
    }

    /// Decides whether a sender's certificate (the DER from its signature's KeyInfo) is trusted, and returns the
    /// certificate the signature must verify with. Runs before any digest is computed: an untrusted sender costs
    /// a byte comparison or one chain check, never the canonicalization of its message.
    pub fn check(&self, der: Option<&[u8]>) -> Result<Certificate, String> {
        let der = der.ok_or("the signature carries no certificate")?;
        if let Some(known) = self.registered.iter().find(|c| c.der() == der) {
            return Ok(known.clone());
        }
        let cert = Certificate::from_der(der).map_err(|e| e.to_string())?;
        match &self.anchors {
            Some(anchors) => anchors.verify(&cert).map(|()| cert).map_err(|e| e.to_string()),
            None => Err(format!("the certificate of {} is not registered for this kind of data", cert.subject())),
        }
    }
}

/// SMEV's signature must cover `outer` (`Request` or `Response`) and the sender's must cover `data`.
fn verify_nodes(
    envelope: &str,
    (outer, data): (NodeId, NodeId),
    smev_cert: Option<&Certificate>,
    senders: &SenderTrust,
    limits: &VerifyLimits,
) -> Result<(), Untrusted> {
    let doc = xml::parse(envelope, &Limits::default()).map_err(|e| Untrusted::Unreadable(e.to_string()))?;
    let signatures = match find_signatures(&doc, limits) {
        Ok(signatures) => signatures,
        Err(DsigError::NoSignature) => Vec::new(),
        Err(e) => return Err(Untrusted::OverLimits(e.to_string())),
    };
    // Each signature is verified once, with the certificate that applies to what it covers: SMEV's own (when
    // configured) for SMEV's signature, a trusted sender's for the sender's.
    let smev_keys = match smev_cert {
        Some(cert) => KeySelection::Trusted(vec![cert.clone()]),
        None => KeySelection::KeyInfo,
    };
    let smev_options = VerifyOptions { keys: smev_keys, validity: Validity::Now, digest_only: false, limits: *limits };
    let (mut smev_ok, mut sender_ok) = (None, None);
    for signature in signatures {
        let model = SignatureModel::read_bounded(&doc, signature, limits).ok();
        let target =
            model.as_ref().and_then(|m| m.references.first()).and_then(|r| crate::dsig::resolve_id(&doc, &r.id).ok());
        if target == Some(outer) && smev_ok.is_none() {
            smev_ok = Some(verify_signature(&doc, signature, &smev_options).map(|_| ()).map_err(|e| e.to_string()));
        } else if target == Some(data) && sender_ok.is_none() {
            let der = model.as_ref().and_then(|m| m.certificate_der.as_deref());
            sender_ok = Some(senders.check(der).and_then(|cert| {
                let options = VerifyOptions {
                    keys: KeySelection::Trusted(vec![cert]),
                    limits: *limits,
                    ..VerifyOptions::default()
                };
                verify_signature(&doc, signature, &options).map(|_| ()).map_err(|e| e.to_string())
            }));
        }
    }
    let missing = |node: NodeId| format!("no signature covers {}", doc.element(node).local);
    smev_ok.unwrap_or_else(|| Err(missing(outer))).map_err(Untrusted::SmevSignature)?;
    sender_ok.unwrap_or_else(|| Err(missing(data))).map_err(Untrusted::SenderSignature)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn dev(name: &str) -> PathBuf {
        crate::config::certs_dev().join(name)
    }

    fn der(name: &str) -> Vec<u8> {
        Certificate::load(&dev(name)).unwrap().to_der()
    }

    #[test]
    fn registered_certificates_are_matched_exactly() {
        let trust = SenderTrust::load(&SenderTrustConfig { ca: None, certs: vec![dev("portal.crt")] }).unwrap();
        assert!(trust.check(Some(&der("portal.crt"))).is_ok());
        // Issued by the same CA, but not registered.
        let refused = trust.check(Some(&der("other.crt"))).unwrap_err();
        assert!(refused.contains("not registered"), "{refused}");
        assert!(trust.check(None).is_err(), "a signature without a certificate is refused");
        assert!(trust.check(Some(b"not a certificate")).is_err());
    }

    #[test]
    fn a_ca_bundle_trusts_what_it_issued_and_valid_now() {
        let trust = SenderTrust::load(&SenderTrustConfig { ca: Some(dev("ca.crt")), certs: Vec::new() }).unwrap();
        assert!(trust.check(Some(&der("other.crt"))).is_ok());
        assert!(trust.check(Some(&der("expired.crt"))).is_err());
        let pinned = SenderTrust::load(&SenderTrustConfig { ca: Some(dev("portal.crt")), certs: Vec::new() }).unwrap();
        assert!(pinned.check(Some(&der("other.crt"))).unwrap_err().contains("not trusted"));
    }

    #[test]
    fn an_empty_trust_trusts_nobody() {
        assert!(SenderTrust::default().check(Some(&der("portal.crt"))).is_err());
        let one = SenderTrust::registered(vec![Certificate::load(&dev("other.crt")).unwrap()]);
        assert!(one.check(Some(&der("other.crt"))).is_ok());
    }
}
