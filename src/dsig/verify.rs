//! Verification: every reference digested and compared, then SignedInfo's signature checked, and a report of which
//! element each signature covers.
#![forbid(unsafe_code)]

use super::model::{SignatureModel, Transform};
use super::{DsigError, DSIG_NS};
use crate::crypto::{Certificate, Digester, GostAlg};
use crate::xml::{self, C14nOptions, C14nWriter, CanonicalSink, Document, NodeId, SmevTransform};
use std::collections::HashMap;
use std::io::{BufWriter, Write};
use std::sync::{Mutex, OnceLock};

/// Which certificate checks the signature value.
#[derive(Debug, Clone, Default)]
pub enum KeySelection {
    /// The certificate in the signature's own KeyInfo. Proves integrity, not identity: anyone can sign with a
    /// certificate of their own, so callers that care who signed use [`KeySelection::Trusted`].
    #[default]
    KeyInfo,
    /// One of these certificates. A certificate in KeyInfo must be one of them; without one in KeyInfo, a single
    /// trusted certificate is used directly.
    Trusted(Vec<Certificate>),
}

/// When the signer's certificate must be valid.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Validity {
    /// At the time of verification: what a live exchange requires.
    #[default]
    Now,
    /// At a given time (Unix seconds), for archived messages.
    At(i64),
    /// Not checked: for forensic checks of old messages.
    Skip,
}

/// How to verify.
#[derive(Debug, Clone, Default)]
pub struct VerifyOptions {
    /// Which certificate checks the signature.
    pub keys: KeySelection,
    /// When the certificate must be valid.
    pub validity: Validity,
    /// Check the references' digests only, not the signature value (for messages whose SignedInfo was re-indented).
    pub digest_only: bool,
}

/// A signature that verified.
#[derive(Debug, Clone)]
pub struct VerifiedSignature {
    /// The `ds:Signature` element.
    pub signature: NodeId,
    /// Each reference's Id and the one element it resolved to.
    pub references: Vec<(String, NodeId)>,
    /// The certificate that checked the signature (`None` with `digest_only`).
    pub certificate: Option<Certificate>,
    /// The signature algorithm.
    pub alg: GostAlg,
}

impl VerifiedSignature {
    /// The element the (first) reference covers: the one a caller must be processing.
    pub fn signed_element(&self) -> NodeId {
        self.references[0].1
    }

    /// Whether this signature covers `element` itself (not merely an ancestor or descendant of it).
    pub fn covers(&self, element: NodeId) -> bool {
        self.references.iter().any(|&(_, e)| e == element)
    }
}

/// The verdict on one `ds:Signature` of a document.
#[derive(Debug)]
pub struct SignatureReport {
    /// The `ds:Signature` element.
    pub signature: NodeId,
    /// The Ids its references name, as far as they could be read (for reports of failures).
    pub reference_ids: Vec<String>,
    /// The verdict.
    pub outcome: Result<VerifiedSignature, DsigError>,
}

/// Verifies every `ds:Signature` in the document. Fails only when there is none.
pub fn verify_document(doc: &Document<'_>, options: &VerifyOptions) -> Result<Vec<SignatureReport>, DsigError> {
    let signatures: Vec<NodeId> = doc.elements().filter(|&e| doc.is(e, DSIG_NS, "Signature")).collect();
    if signatures.is_empty() {
        return Err(DsigError::NoSignature);
    }
    Ok(signatures
        .into_iter()
        .map(|signature| SignatureReport {
            signature,
            reference_ids: reference_ids(doc, signature),
            outcome: verify_signature(doc, signature, options),
        })
        .collect())
}

/// The `URI`s of a signature's references without the `#`, read leniently, for reporting.
fn reference_ids(doc: &Document<'_>, signature: NodeId) -> Vec<String> {
    let Some(signed_info) = doc.child(signature, DSIG_NS, "SignedInfo") else { return Vec::new() };
    doc.child_elements(signed_info)
        .filter(|&r| doc.is(r, DSIG_NS, "Reference"))
        .filter_map(|r| doc.attr(r, "URI"))
        .map(|uri| uri.trim_start_matches('#').to_string())
        .collect()
}

/// Verifies one `ds:Signature`.
pub fn verify_signature(
    doc: &Document<'_>,
    signature: NodeId,
    options: &VerifyOptions,
) -> Result<VerifiedSignature, DsigError> {
    let model = SignatureModel::read(doc, signature)?;
    let mut references = Vec::with_capacity(model.references.len());
    for reference in &model.references {
        let element = resolve_id(doc, &reference.id)?;
        let digest = digest_element(doc, element, &reference.transforms, reference.digest_alg, Some(signature))?;
        if digest != reference.digest_value {
            return Err(DsigError::DigestMismatch(reference.id.clone()));
        }
        references.push((reference.id.clone(), element));
    }
    if options.digest_only {
        return Ok(VerifiedSignature { signature, references, certificate: None, alg: model.alg });
    }
    let certificate = select_certificate(&model, &options.keys)?;
    match options.validity {
        Validity::Now => certificate.check_validity_now().map_err(DsigError::CertificateValidity)?,
        Validity::At(t) => certificate.check_validity_at(t).map_err(DsigError::CertificateValidity)?,
        Validity::Skip => {}
    }
    let key_alg = certificate.alg().map_err(DsigError::BadCertificate)?;
    if key_alg != model.alg {
        return Err(DsigError::AlgorithmMismatch { method: alg_name(model.alg), key: alg_name(key_alg) });
    }
    let options = C14nOptions { inclusive_prefixes: model.c14n_prefixes.clone(), exclude: None };
    let signed_info = xml::exc_c14n(doc, model.signed_info, &options);
    if !certificate.verify(&signed_info, &model.signature_value)? {
        return Err(DsigError::SignatureInvalid);
    }
    Ok(VerifiedSignature { signature, references, certificate: Some(certificate), alg: model.alg })
}

fn alg_name(alg: GostAlg) -> &'static str {
    match alg {
        GostAlg::Gost2012_256 => "GOST R 34.10-2012 256",
        GostAlg::Gost2012_512 => "GOST R 34.10-2012 512",
    }
}

/// The one element carrying `Id="id"`: none or several is an error, since a verifier that picked one of several
/// could be shown a different element than the one processed.
pub(crate) fn resolve_id(doc: &Document<'_>, id: &str) -> Result<NodeId, DsigError> {
    let mut found = doc.elements_with_id(id);
    let first = found.next().ok_or_else(|| DsigError::IdNotFound(id.to_string()))?;
    let more = found.count();
    if more > 0 {
        return Err(DsigError::DuplicateId { id: id.to_string(), count: more + 1 });
    }
    Ok(first)
}

/// Certificates decoded from KeyInfo, by their DER. SMEV and each information system sign every message with the
/// same few certificates, and decoding one (GOST public key included) costs about a quarter of a verification.
/// Bounded: when full it is emptied, which costs one decode per certificate in use.
fn decode_certificate(der: &[u8]) -> Result<Certificate, DsigError> {
    const CAPACITY: usize = 256;
    static CACHE: OnceLock<Mutex<HashMap<Vec<u8>, Certificate>>> = OnceLock::new();
    let cache = CACHE.get_or_init(Default::default);
    if let Some(cert) = cache.lock().unwrap_or_else(|p| p.into_inner()).get(der) {
        return Ok(cert.clone());
    }
    let cert = Certificate::from_der(der).map_err(DsigError::BadCertificate)?;
    let mut map = cache.lock().unwrap_or_else(|p| p.into_inner());
    if map.len() >= CAPACITY {
        map.clear();
    }
    map.insert(der.to_vec(), cert.clone());
    Ok(cert)
}

fn select_certificate(model: &SignatureModel, keys: &KeySelection) -> Result<Certificate, DsigError> {
    let embedded = match &model.certificate_der {
        Some(der) => Some(decode_certificate(der)?),
        None => None,
    };
    match (keys, embedded) {
        (KeySelection::KeyInfo, Some(cert)) => Ok(cert),
        (KeySelection::KeyInfo, None) => Err(DsigError::NoCertificate),
        (KeySelection::Trusted(trusted), Some(cert)) => {
            let der = cert.to_der();
            match trusted.iter().find(|t| t.to_der() == der) {
                Some(t) => Ok(t.clone()),
                None => Err(DsigError::CertificateNotTrusted { subject: cert.subject() }),
            }
        }
        (KeySelection::Trusted(trusted), None) => match trusted.as_slice() {
            [only] => Ok(only.clone()),
            _ => Err(DsigError::NoCertificate),
        },
    }
}

/// Digests an element through a transform chain, streaming the canonical output into the hash.
pub(crate) fn digest_element(
    doc: &Document<'_>,
    element: NodeId,
    transforms: &[Transform],
    alg: GostAlg,
    signature: Option<NodeId>,
) -> Result<Vec<u8>, DsigError> {
    let mut options = C14nOptions::default();
    let mut smev = false;
    for t in transforms {
        match t {
            Transform::Enveloped => options.exclude = signature,
            Transform::ExcC14n { inclusive_prefixes } => options.inclusive_prefixes = inclusive_prefixes.clone(),
            Transform::Smev => smev = true,
        }
    }
    let out = BufWriter::with_capacity(16 * 1024, Digester::new(alg)?);
    let out = if smev {
        run(doc, element, &options, SmevTransform::new(out))?
    } else {
        run(doc, element, &options, C14nWriter::new(out))?
    };
    let digester = out.into_inner().map_err(|e| DsigError::Canon(e.into_error().into()))?;
    Ok(digester.finish()?)
}

/// Runs canonicalization into a sink that wraps a buffered digester and hands the buffer back.
fn run<S: CanonicalSink + IntoInner>(
    doc: &Document<'_>,
    element: NodeId,
    options: &C14nOptions,
    mut sink: S,
) -> Result<S::Inner, DsigError> {
    xml::canonicalize(doc, element, options, &mut sink)?;
    let mut inner = sink.into_inner_writer();
    inner.flush().map_err(|e| DsigError::Canon(e.into()))?;
    Ok(inner)
}

/// Sinks that own a writer and give it back.
trait IntoInner {
    type Inner: Write;
    fn into_inner_writer(self) -> Self::Inner;
}

impl<W: Write> IntoInner for SmevTransform<W> {
    type Inner = W;
    fn into_inner_writer(self) -> W {
        self.into_inner()
    }
}

impl<W: Write> IntoInner for C14nWriter<W> {
    type Inner = W;
    fn into_inner_writer(self) -> W {
        self.into_inner()
    }
}
