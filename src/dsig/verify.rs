//! Verification, with work bounded by the input: the number of signatures and of references is limited, each
//! signature's key and SignatureValue are checked before any reference is digested (an untrusted or forged signature
//! costs one signature check, not a digest per reference), and Ids resolve through an index built once per
//! document. The report says which element each signature covers.
#![forbid(unsafe_code)]

use super::limits::VerifyLimits;
use super::model::{SignatureModel, Transform};
use super::{DsigError, DSIG_NS};
use crate::crypto::{Certificate, Digester, GostAlg};
use crate::xml::{self, C14nOptions, C14nWriter, Document, IdMatch, NodeId, SmevTransform, TransformVariant};
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
    /// Bounds on signatures and references.
    pub limits: VerifyLimits,
}

/// One reference of a signature that verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedReference {
    /// The referenced Id.
    pub id: String,
    /// The one element it resolved to.
    pub element: NodeId,
    /// Which text rule of the SMEV transform the digest matched (always `Reference` without the SMEV transform):
    /// the field has both, and an operator may want to know which a sender uses.
    pub variant: TransformVariant,
    /// Bytes fed to the digest for this reference (all variants tried), so that callers and tests can see the
    /// work verification did.
    pub digested_bytes: u64,
}

/// A signature that verified.
#[derive(Debug, Clone)]
pub struct VerifiedSignature {
    /// The `ds:Signature` element.
    pub signature: NodeId,
    /// Each reference, with the one element it resolved to.
    pub references: Vec<VerifiedReference>,
    /// The certificate that checked the signature (`None` with `digest_only`).
    pub certificate: Option<Certificate>,
    /// The signature algorithm.
    pub alg: GostAlg,
}

impl VerifiedSignature {
    /// The element the (first) reference covers: the one a caller must be processing.
    pub fn signed_element(&self) -> NodeId {
        self.references[0].element
    }

    /// Whether this signature covers `element` itself (not merely an ancestor or descendant of it).
    pub fn covers(&self, element: NodeId) -> bool {
        self.references.iter().any(|r| r.element == element)
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

/// Every `ds:Signature` of the document, refused as a whole when there are more than `limits` allow (before any is
/// read) or none.
pub fn find_signatures(doc: &Document<'_>, limits: &VerifyLimits) -> Result<Vec<NodeId>, DsigError> {
    let mut signatures = Vec::new();
    for e in doc.elements().filter(|&e| doc.is(e, DSIG_NS, "Signature")) {
        if signatures.len() >= limits.max_signatures {
            return Err(DsigError::TooManySignatures { limit: limits.max_signatures });
        }
        signatures.push(e);
    }
    if signatures.is_empty() {
        return Err(DsigError::NoSignature);
    }
    Ok(signatures)
}

/// Verifies every `ds:Signature` in the document. Fails only when there is none or more than the limit allows.
pub fn verify_document(doc: &Document<'_>, options: &VerifyOptions) -> Result<Vec<SignatureReport>, DsigError> {
    let signatures = find_signatures(doc, &options.limits)?;
    Ok(signatures
        .into_iter()
        .map(|signature| SignatureReport {
            signature,
            reference_ids: reference_ids(doc, signature, &options.limits),
            outcome: verify_signature(doc, signature, options),
        })
        .collect())
}

/// The `URI`s of a signature's references without the `#`, read leniently, for reporting (no more than the
/// reference limit allows, plus one to show it was exceeded).
fn reference_ids(doc: &Document<'_>, signature: NodeId, limits: &VerifyLimits) -> Vec<String> {
    let Some(signed_info) = doc.child(signature, DSIG_NS, "SignedInfo") else { return Vec::new() };
    doc.child_elements(signed_info)
        .filter(|&r| doc.is(r, DSIG_NS, "Reference"))
        .filter_map(|r| doc.attr(r, "URI"))
        .take(limits.max_references.saturating_add(1))
        .map(|uri| uri.trim_start_matches('#').to_string())
        .collect()
}

/// Verifies one `ds:Signature`: reads it (refusing more references than the limit), checks the certificate
/// (selection, trust, validity, algorithm) and SignatureValue over the canonical SignedInfo, and only then digests
/// the references.
pub fn verify_signature(
    doc: &Document<'_>,
    signature: NodeId,
    options: &VerifyOptions,
) -> Result<VerifiedSignature, DsigError> {
    let model = SignatureModel::read_bounded(doc, signature, &options.limits)?;
    let certificate = if options.digest_only { None } else { Some(check_signature_value(doc, &model, options)?) };
    let mut references = Vec::with_capacity(model.references.len());
    for reference in &model.references {
        let element = resolve_id(doc, &reference.id)?;
        let (variant, digested_bytes) = match_digest(doc, element, reference, signature)?;
        references.push(VerifiedReference { id: reference.id.clone(), element, variant, digested_bytes });
    }
    Ok(VerifiedSignature { signature, references, certificate, alg: model.alg })
}

/// Selects and checks the certificate, then SignatureValue over the exclusive c14n of SignedInfo.
fn check_signature_value(
    doc: &Document<'_>,
    model: &SignatureModel,
    options: &VerifyOptions,
) -> Result<Certificate, DsigError> {
    let certificate = select_certificate(model, &options.keys)?;
    match options.validity {
        Validity::Now => certificate.check_validity_now().map_err(DsigError::CertificateValidity)?,
        Validity::At(t) => certificate.check_validity_at(t).map_err(DsigError::CertificateValidity)?,
        Validity::Skip => {}
    }
    let key_alg = certificate.alg().map_err(DsigError::BadCertificate)?;
    if key_alg != model.alg {
        return Err(DsigError::AlgorithmMismatch { method: alg_name(model.alg), key: alg_name(key_alg) });
    }
    let c14n = C14nOptions { inclusive_prefixes: model.c14n_prefixes.clone(), exclude: None };
    let signed_info = xml::exc_c14n(doc, model.signed_info, &c14n);
    if !certificate.verify(&signed_info, &model.signature_value)? {
        return Err(DsigError::SignatureInvalid);
    }
    Ok(certificate)
}

/// Digests a reference's element and compares: first with the reference text rule of the SMEV transform, then,
/// only when the text held something the rules treat differently, with the carriage return kept. Returns the rule
/// that matched and the bytes digested.
fn match_digest(
    doc: &Document<'_>,
    element: NodeId,
    reference: &super::model::Reference,
    signature: NodeId,
) -> Result<(TransformVariant, u64), DsigError> {
    let first = digest_variant(
        doc,
        element,
        &reference.transforms,
        reference.digest_alg,
        Some(signature),
        TransformVariant::Reference,
    )?;
    if first.digest == reference.digest_value {
        return Ok((TransformVariant::Reference, first.bytes));
    }
    if first.diverged {
        let second = digest_variant(
            doc,
            element,
            &reference.transforms,
            reference.digest_alg,
            Some(signature),
            TransformVariant::CrKept,
        )?;
        if second.digest == reference.digest_value {
            return Ok((TransformVariant::CrKept, first.bytes + second.bytes));
        }
    }
    Err(DsigError::DigestMismatch(reference.id.clone()))
}

fn alg_name(alg: GostAlg) -> &'static str {
    match alg {
        GostAlg::Gost2012_256 => "GOST R 34.10-2012 256",
        GostAlg::Gost2012_512 => "GOST R 34.10-2012 512",
    }
}

/// The one element carrying `Id="id"`: none or several is an error, since a verifier that picked one of several
/// could be shown a different element than the one processed. Through the document's Id index.
pub(crate) fn resolve_id(doc: &Document<'_>, id: &str) -> Result<NodeId, DsigError> {
    match doc.element_with_id(id) {
        IdMatch::One(element) => Ok(element),
        IdMatch::None => Err(DsigError::IdNotFound(id.to_string())),
        IdMatch::Many(count) => Err(DsigError::DuplicateId { id: id.to_string(), count }),
    }
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
    match (keys, &model.certificate_der) {
        (KeySelection::KeyInfo, Some(der)) => decode_certificate(der),
        (KeySelection::KeyInfo, None) => Err(DsigError::NoCertificate),
        // Trust is decided on the DER as sent, before anything of it is decoded or cached: an untrusted
        // certificate is decoded once, uncached, only to name it in the error.
        (KeySelection::Trusted(trusted), Some(der)) => match trusted.iter().find(|t| t.der() == der.as_slice()) {
            Some(t) => Ok(t.clone()),
            None => {
                let subject = Certificate::from_der(der).map_or_else(|_| "unreadable".to_string(), |c| c.subject());
                Err(DsigError::CertificateNotTrusted { subject })
            }
        },
        (KeySelection::Trusted(trusted), None) => match trusted.as_slice() {
            [only] => Ok(only.clone()),
            _ => Err(DsigError::NoCertificate),
        },
    }
}

/// A digest and what computing it showed.
struct Digested {
    /// The digest.
    digest: Vec<u8>,
    /// Bytes fed to the hash.
    bytes: u64,
    /// Whether the other text rule of the SMEV transform would have fed it different bytes.
    diverged: bool,
}

/// Digests an element through a transform chain, streaming the canonical output into the hash, with the reference
/// text rule of the SMEV transform (what edugate signs with).
pub(crate) fn digest_element(
    doc: &Document<'_>,
    element: NodeId,
    transforms: &[Transform],
    alg: GostAlg,
    signature: Option<NodeId>,
) -> Result<Vec<u8>, DsigError> {
    Ok(digest_variant(doc, element, transforms, alg, signature, TransformVariant::Reference)?.digest)
}

fn digest_variant(
    doc: &Document<'_>,
    element: NodeId,
    transforms: &[Transform],
    alg: GostAlg,
    signature: Option<NodeId>,
    variant: TransformVariant,
) -> Result<Digested, DsigError> {
    let mut options = C14nOptions::default();
    let mut smev = false;
    for t in transforms {
        match t {
            Transform::Enveloped => options.exclude = signature,
            Transform::ExcC14n { inclusive_prefixes } => options.inclusive_prefixes = inclusive_prefixes.clone(),
            Transform::Smev => smev = true,
        }
    }
    let out = BufWriter::with_capacity(16 * 1024, Counting { inner: Digester::new(alg)?, bytes: 0 });
    let (out, diverged) = if smev {
        let mut sink = SmevTransform::with_variant(out, variant);
        xml::canonicalize(doc, element, &options, &mut sink)?;
        let diverged = sink.variants_diverged();
        (sink.into_inner(), diverged)
    } else {
        let mut sink = C14nWriter::new(out);
        xml::canonicalize(doc, element, &options, &mut sink)?;
        (sink.into_inner(), false)
    };
    let counting = out.into_inner().map_err(|e| DsigError::Canon(e.into_error().into()))?;
    Ok(Digested { bytes: counting.bytes, digest: counting.inner.finish()?, diverged })
}

/// A writer that counts the bytes passed to the one it wraps.
struct Counting<W> {
    /// The wrapped writer.
    inner: W,
    /// Bytes written so far.
    bytes: u64,
}

impl<W: Write> Write for Counting<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.bytes += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}
