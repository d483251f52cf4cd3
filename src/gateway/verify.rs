//! Checks a delivered request before it is processed: SMEV's signature over `Request` (with SMEV's certificate when
//! configured), the sender's signature over `SenderProvidedRequestData`, and that the data the handler will read is
//! exactly the element the sender signed (the defense against signature wrapping).
#![forbid(unsafe_code)]

use crate::crypto::Certificate;
use crate::dsig::{verify_signature, KeySelection, SignatureModel, Validity, VerifyOptions, DSIG_NS};
use crate::smev::parse::{ReceivedRequest, ReceivedResponse};
use crate::xml::{self, Limits, NodeId};

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
}

/// Verifies a delivered request's two signatures and their targets.
pub fn verify_delivered(
    envelope: &str,
    received: &ReceivedRequest,
    smev_cert: Option<&Certificate>,
) -> Result<(), Untrusted> {
    verify_nodes(envelope, received.request_node, received.data_node, smev_cert)
}

/// Verifies a delivered response's two signatures and their targets.
pub fn verify_response(
    envelope: &str,
    received: &ReceivedResponse,
    smev_cert: Option<&Certificate>,
) -> Result<(), Untrusted> {
    verify_nodes(envelope, received.response_node, received.data_node, smev_cert)
}

/// SMEV's signature must cover `outer` (`Request` or `Response`) and the sender's must cover `data`.
fn verify_nodes(envelope: &str, outer: NodeId, data: NodeId, smev_cert: Option<&Certificate>) -> Result<(), Untrusted> {
    let doc = xml::parse(envelope, &Limits::default()).map_err(|e| Untrusted::Unreadable(e.to_string()))?;
    // Each signature is verified once, with the certificate that applies to what it covers: SMEV's own (when
    // configured) for SMEV's signature, the one in KeyInfo for the sender's.
    let smev_keys = match smev_cert {
        Some(cert) => KeySelection::Trusted(vec![cert.clone()]),
        None => KeySelection::KeyInfo,
    };
    let smev_options = VerifyOptions { keys: smev_keys, validity: Validity::Now, digest_only: false };
    let sender_options = VerifyOptions::default();
    let (mut smev_ok, mut sender_ok) = (None, None);
    for signature in doc.elements().filter(|&e| doc.is(e, DSIG_NS, "Signature")) {
        let target = match SignatureModel::read(&doc, signature) {
            Ok(model) => model.references.first().and_then(|r| crate::dsig::resolve_id(&doc, &r.id).ok()),
            Err(_) => None,
        };
        if target == Some(outer) && smev_ok.is_none() {
            smev_ok = Some(verify_signature(&doc, signature, &smev_options).map(|_| ()).map_err(|e| e.to_string()));
        } else if target == Some(data) && sender_ok.is_none() {
            sender_ok = Some(verify_signature(&doc, signature, &sender_options).map(|_| ()).map_err(|e| e.to_string()));
        }
    }
    let missing = |node: NodeId| format!("no signature covers {}", doc.element(node).local);
    smev_ok.unwrap_or_else(|| Err(missing(outer))).map_err(Untrusted::SmevSignature)?;
    sender_ok.unwrap_or_else(|| Err(missing(data))).map_err(Untrusted::SenderSignature)?;
    Ok(())
}
