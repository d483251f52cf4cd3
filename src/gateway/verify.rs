//! Checks a delivered request before it is processed: SMEV's signature over `Request` (with SMEV's certificate when
//! configured), the sender's signature over `SenderProvidedRequestData`, and that the data the handler will read is
//! exactly the element the sender signed (the defense against signature wrapping).
#![forbid(unsafe_code)]

use crate::crypto::Certificate;
use crate::dsig::{verify_document, KeySelection, Validity, VerifyOptions};
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
    let reports =
        verify_document(&doc, &VerifyOptions::default()).map_err(|e| Untrusted::SenderSignature(e.to_string()))?;
    let covering = |node| reports.iter().find(|r| r.outcome.as_ref().is_ok_and(|v| v.covers(node)));
    let failure = |node| {
        reports
            .iter()
            .find_map(|r| r.outcome.as_ref().err().map(|e| e.to_string()))
            .unwrap_or_else(|| format!("no signature covers {}", doc.element(node).local))
    };
    let smev = covering(outer).ok_or_else(|| Untrusted::SmevSignature(failure(outer)))?;
    if let Some(expected) = smev_cert {
        // Integrity was checked with KeyInfo; identity needs the configured certificate.
        let options = VerifyOptions {
            keys: KeySelection::Trusted(vec![expected.clone()]),
            validity: Validity::Now,
            digest_only: false,
        };
        crate::dsig::verify_signature(&doc, smev.signature, &options)
            .map_err(|e| Untrusted::SmevSignature(e.to_string()))?;
    }
    covering(data).ok_or_else(|| Untrusted::SenderSignature(failure(data)))?;
    Ok(())
}
