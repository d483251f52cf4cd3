//! A message delivered by SMEV, checked while its envelope is parsed: SMEV's signature over `Request` or `Response`
//! (with SMEV's certificate when configured), the sender's signature over the sender's data by a certificate trusted
//! for it ([`SenderTrust`]), and that the data read is exactly the element the sender signed (the defense against
//! signature wrapping). The envelope is parsed once, in the client, and everything that reads it (the typed
//! message, the verification, the caller's reader of the content) runs while that one parse is at hand; what leaves
//! is owned and typed ([`Delivered`]).
#![forbid(unsafe_code)]

use super::parse::{ReceivedRequest, ReceivedResponse};
use crate::crypto::{Certificate, CryptoError, TrustAnchors};
use crate::dsig::{
    find_signatures, verify_signature, DsigError, KeySelection, SignatureModel, Validity, VerifyLimits, VerifyOptions,
};
use crate::xml::{Document, NodeId};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// What a delivered message is checked against: SMEV's certificate, the senders trusted for the data, and the
/// verification limits. Shared by every poll of one kind of data.
#[derive(Debug, Default)]
pub struct DeliveryCheck {
    /// SMEV's signing certificate; without it SMEV's signature is checked with the certificate it carries.
    pub smev_cert: Option<Certificate>,
    /// Whose signature over the data is trusted.
    pub senders: Arc<SenderTrust>,
    /// Signatures and references at most.
    pub limits: VerifyLimits,
}

/// A delivered message, read and checked from one parse of its envelope.
#[derive(Debug)]
pub struct Delivered<T, R> {
    /// The typed message.
    pub message: T,
    /// The verdict, with what the caller's reader made of the content when the message is trusted (an untrusted
    /// message's content is never read).
    pub trusted: Result<R, Untrusted>,
    /// How long the verification took, for the metrics.
    pub verify_took: Duration,
    /// The envelope's size in bytes.
    pub size: usize,
}

/// The content root of a delivered request: the element inside `SenderProvidedRequestData/MessagePrimaryContent`.
fn content_root(doc: &Document<'_>, data: NodeId) -> Option<NodeId> {
    let primary = doc.child_elements(data).find(|&n| doc.element(n).local == "MessagePrimaryContent")?;
    doc.child_elements(primary).next()
}

/// Checks a delivered request in its parsed envelope and, when it is trusted, reads its content with `read`.
pub fn check_request<R>(
    doc: &Document<'_>,
    message: ReceivedRequest,
    check: &DeliveryCheck,
    read: impl FnOnce(&Document<'_>, NodeId) -> R,
) -> Delivered<ReceivedRequest, R> {
    let started = Instant::now();
    let nodes = (message.request_node, message.data_node);
    let verdict = verify_nodes(doc, nodes, check.smev_cert.as_ref(), &check.senders, &check.limits);
    let verify_took = started.elapsed();
    let trusted = verdict.and_then(|()| {
        let root = content_root(doc, message.data_node)
            .ok_or_else(|| Untrusted::Unreadable("the request has no primary content".into()))?;
        Ok(read(doc, root))
    });
    Delivered { message, trusted, verify_took, size: doc.source().len() }
}

/// Checks a delivered response in its parsed envelope.
pub fn check_response(
    doc: &Document<'_>,
    message: ReceivedResponse,
    check: &DeliveryCheck,
) -> Delivered<ReceivedResponse, ()> {
    let started = Instant::now();
    let nodes = (message.response_node, message.data_node);
    let trusted = verify_nodes(doc, nodes, check.smev_cert.as_ref(), &check.senders, &check.limits);
    Delivered { message, trusted, verify_took: started.elapsed(), size: doc.source().len() }
}

/// Why a delivered envelope could not even be read.
#[derive(Debug, thiserror::Error)]
pub enum Unread {
    /// Not XML within the limits, or not a delivery of a request.
    #[error(transparent)]
    Smev(#[from] super::SmevError),
    /// The CPU pool is closed.
    #[error(transparent)]
    Pool(#[from] crate::cpu::PoolError),
}

/// Reads and checks a `GetRequestResponse` envelope on `pool` (off the async threads when it is large), as the
/// client does with what SMEV answers: for tools and tests that hold an envelope rather than a connection.
pub async fn check_request_on(
    pool: &crate::cpu::CpuPool,
    envelope: String,
    check: Arc<DeliveryCheck>,
) -> Result<Option<Delivered<ReceivedRequest, ()>>, Unread> {
    let envelope_len = envelope.len();
    let work = move || -> Result<_, Unread> {
        let doc = crate::xml::parse(&envelope, &crate::xml::Limits::default()).map_err(super::SmevError::from)?;
        let message = super::parse::received_request(&doc)?;
        Ok(message.map(|message| check_request(&doc, message, &check, |_, _| ())))
    };
    let bytes = envelope_len;
    pool.run(bytes, work).await?
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
    /// Loads a trust from files: a PEM bundle of trust anchors (`ca`) and registered certificates (`certs`).
    pub fn load(ca: Option<&Path>, certs: &[PathBuf]) -> Result<SenderTrust, CryptoError> {
        let registered = certs.iter().map(|path| Certificate::load(path)).collect::<Result<Vec<_>, _>>()?;
        let anchors = ca.map(TrustAnchors::load).transpose()?;
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
    doc: &Document<'_>,
    (outer, data): (NodeId, NodeId),
    smev_cert: Option<&Certificate>,
    senders: &SenderTrust,
    limits: &VerifyLimits,
) -> Result<(), Untrusted> {
    let signatures = match find_signatures(doc, limits) {
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
        let model = SignatureModel::read_bounded(doc, signature, limits).ok();
        let target =
            model.as_ref().and_then(|m| m.references.first()).and_then(|r| crate::dsig::resolve_id(doc, &r.id).ok());
        if target == Some(outer) && smev_ok.is_none() {
            smev_ok = Some(verify_signature(doc, signature, &smev_options).map(|_| ()).map_err(|e| e.to_string()));
        } else if target == Some(data) && sender_ok.is_none() {
            let der = model.as_ref().and_then(|m| m.certificate_der.as_deref());
            sender_ok = Some(senders.check(der).and_then(|cert| {
                let options = VerifyOptions {
                    keys: KeySelection::Trusted(vec![cert]),
                    limits: *limits,
                    ..VerifyOptions::default()
                };
                verify_signature(doc, signature, &options).map(|_| ()).map_err(|e| e.to_string())
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
        Path::new(env!("CARGO_MANIFEST_DIR")).join("certs-dev").join(name)
    }

    fn der(name: &str) -> Vec<u8> {
        Certificate::load(&dev(name)).unwrap().to_der()
    }

    #[test]
    fn registered_certificates_are_matched_exactly() {
        let trust = SenderTrust::load(None, &[dev("portal.crt")]).unwrap();
        assert!(trust.check(Some(&der("portal.crt"))).is_ok());
        // Issued by the same CA, but not registered.
        let refused = trust.check(Some(&der("other.crt"))).unwrap_err();
        assert!(refused.contains("not registered"), "{refused}");
        assert!(trust.check(None).is_err(), "a signature without a certificate is refused");
        assert!(trust.check(Some(b"not a certificate")).is_err());
    }

    #[test]
    fn a_ca_bundle_trusts_what_it_issued_and_valid_now() {
        let trust = SenderTrust::load(Some(&dev("ca.crt")), &[]).unwrap();
        assert!(trust.check(Some(&der("other.crt"))).is_ok());
        assert!(trust.check(Some(&der("expired.crt"))).is_err());
        let pinned = SenderTrust::load(Some(&dev("portal.crt")), &[]).unwrap();
        assert!(pinned.check(Some(&der("other.crt"))).unwrap_err().contains("not trusted"));
    }

    #[test]
    fn an_empty_trust_trusts_nobody() {
        assert!(SenderTrust::default().check(Some(&der("portal.crt"))).is_err());
        let one = SenderTrust::registered(vec![Certificate::load(&dev("other.crt")).unwrap()]);
        assert!(one.check(Some(&der("other.crt"))).is_ok());
    }
}
