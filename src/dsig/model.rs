//! Reading a `ds:Signature` element into a typed model, strictly: SMEV signatures have one shape, and anything
//! outside it is refused rather than guessed at.
#![forbid(unsafe_code)]

use super::limits::VerifyLimits;
use super::{DsigError, DSIG_NS, ENVELOPED_SIGNATURE, EXC_C14N, SMEV_TRANSFORM};
use crate::crypto::GostAlg;
use crate::xml::{Document, NodeId};
use base64::Engine as _;

/// One step of a Reference's transform chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Transform {
    /// Leave the signature itself out of the referenced element.
    Enveloped,
    /// Exclusive c14n, with its InclusiveNamespaces PrefixList.
    ExcC14n {
        /// Prefixes to treat inclusively (`#default` for the default namespace).
        inclusive_prefixes: Vec<String>,
    },
    /// The SMEV transform, applied to the output of exclusive c14n.
    Smev,
}

/// One `ds:Reference`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reference {
    /// The referenced Id (the URI without `#`).
    pub id: String,
    /// The transform chain, validated to be one edugate implements.
    pub transforms: Vec<Transform>,
    /// The digest algorithm.
    pub digest_alg: GostAlg,
    /// The expected digest.
    pub digest_value: Vec<u8>,
}

/// A `ds:Signature` as the verifier needs it.
#[derive(Debug, Clone)]
pub struct SignatureModel {
    /// The `ds:Signature` element.
    pub signature: NodeId,
    /// Its `ds:SignedInfo` element, whose canonical form is what was signed.
    pub signed_info: NodeId,
    /// InclusiveNamespaces of the CanonicalizationMethod.
    pub c14n_prefixes: Vec<String>,
    /// The signature algorithm.
    pub alg: GostAlg,
    /// The references, in order.
    pub references: Vec<Reference>,
    /// The raw signature bytes.
    pub signature_value: Vec<u8>,
    /// The DER of `KeyInfo/X509Data/X509Certificate`, when present.
    pub certificate_der: Option<Vec<u8>>,
}

fn ds_children<'d>(doc: &'d Document<'_>, id: NodeId) -> impl Iterator<Item = NodeId> + 'd {
    doc.child_elements(id)
}

fn expect_ds(doc: &Document<'_>, id: NodeId, local: &str) -> Result<(), DsigError> {
    if doc.is(id, DSIG_NS, local) {
        Ok(())
    } else {
        Err(DsigError::Malformed(format!(
            "expected ds:{local}, found {} at {}",
            doc.describe(id),
            doc.position(doc.element(id).span.start)
        )))
    }
}

fn algorithm<'d>(doc: &'d Document<'_>, id: NodeId) -> Result<&'d str, DsigError> {
    doc.attr(id, "Algorithm")
        .ok_or_else(|| DsigError::Malformed(format!("{} has no Algorithm attribute", doc.describe(id))))
}

/// Decodes base64 that may be wrapped over several lines.
pub(crate) fn decode_base64(text: &str, field: &'static str) -> Result<Vec<u8>, DsigError> {
    let compact: String = text.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    base64::engine::general_purpose::STANDARD.decode(compact).map_err(|_| DsigError::Base64 { field })
}

fn inclusive_prefixes(doc: &Document<'_>, method: NodeId, limits: &VerifyLimits) -> Result<Vec<String>, DsigError> {
    let mut out = Vec::new();
    for child in doc.child_elements(method) {
        if doc.is(child, EXC_C14N, "InclusiveNamespaces") {
            let list = doc.attr(child, "PrefixList").unwrap_or("");
            for prefix in list.split_whitespace() {
                if out.len() >= limits.max_inclusive_prefixes {
                    return Err(DsigError::TooManyInclusivePrefixes { limit: limits.max_inclusive_prefixes });
                }
                out.push(prefix.to_string());
            }
        } else {
            return Err(DsigError::Malformed(format!("unexpected {} in a c14n method", doc.describe(child))));
        }
    }
    Ok(out)
}

fn transforms(doc: &Document<'_>, list: NodeId, limits: &VerifyLimits) -> Result<Vec<Transform>, DsigError> {
    let mut out = Vec::new();
    for t in ds_children(doc, list) {
        expect_ds(doc, t, "Transform")?;
        let uri = algorithm(doc, t)?;
        out.push(match uri {
            ENVELOPED_SIGNATURE => Transform::Enveloped,
            EXC_C14N => Transform::ExcC14n { inclusive_prefixes: inclusive_prefixes(doc, t, limits)? },
            SMEV_TRANSFORM => Transform::Smev,
            other => return Err(DsigError::UnknownAlgorithm { uri: other.to_string(), context: "Transform" }),
        });
    }
    // The chains SMEV uses: [enveloped] exc-c14n [smev]. Anything else would need inclusive c14n or a transform
    // over octets, which edugate does not implement, so it is refused rather than approximated.
    let mut rest = out.as_slice();
    if rest.first() == Some(&Transform::Enveloped) {
        rest = &rest[1..];
    }
    let ok = matches!(rest, [Transform::ExcC14n { .. }] | [Transform::ExcC14n { .. }, Transform::Smev]);
    if !ok {
        return Err(DsigError::Malformed(
            "unsupported transform chain: expected [enveloped-signature] exc-c14n [SMEV transform]".into(),
        ));
    }
    Ok(out)
}

fn reference(doc: &Document<'_>, r: NodeId, limits: &VerifyLimits) -> Result<Reference, DsigError> {
    let uri = doc.attr(r, "URI").ok_or_else(|| DsigError::Malformed("ds:Reference has no URI".into()))?;
    let id = uri
        .strip_prefix('#')
        .filter(|id| !id.is_empty() && !id.starts_with("xpointer("))
        .ok_or_else(|| DsigError::UnsupportedReference(uri.to_string()))?
        .to_string();
    let mut kids = ds_children(doc, r);
    let mut next = kids.next();
    let chain = match next {
        Some(t) if doc.is(t, DSIG_NS, "Transforms") => {
            next = kids.next();
            transforms(doc, t, limits)?
        }
        _ => return Err(DsigError::Malformed(format!("ds:Reference to '#{id}' has no Transforms"))),
    };
    let method = next.ok_or_else(|| DsigError::Malformed("ds:Reference has no DigestMethod".into()))?;
    expect_ds(doc, method, "DigestMethod")?;
    let uri = algorithm(doc, method)?;
    let digest_alg = GostAlg::from_digest_uri(uri)
        .ok_or_else(|| DsigError::UnknownAlgorithm { uri: uri.to_string(), context: "DigestMethod" })?;
    let value = kids.next().ok_or_else(|| DsigError::Malformed("ds:Reference has no DigestValue".into()))?;
    expect_ds(doc, value, "DigestValue")?;
    if let Some(extra) = kids.next() {
        return Err(DsigError::Malformed(format!("unexpected {} in ds:Reference", doc.describe(extra))));
    }
    let digest_value = decode_base64(&doc.text(value), "DigestValue")?;
    Ok(Reference { id, transforms: chain, digest_alg, digest_value })
}

impl SignatureModel {
    /// Reads the `ds:Signature` element `signature`, within the default [`VerifyLimits`].
    pub fn read(doc: &Document<'_>, signature: NodeId) -> Result<SignatureModel, DsigError> {
        Self::read_bounded(doc, signature, &VerifyLimits::default())
    }

    /// Reads the `ds:Signature` element `signature`, refusing more references or inclusive prefixes than `limits`
    /// allow as soon as the one too many is met.
    pub fn read_bounded(
        doc: &Document<'_>,
        signature: NodeId,
        limits: &VerifyLimits,
    ) -> Result<SignatureModel, DsigError> {
        expect_ds(doc, signature, "Signature")?;
        let mut kids = ds_children(doc, signature);
        let signed_info = kids.next().ok_or_else(|| DsigError::Malformed("ds:Signature is empty".into()))?;
        expect_ds(doc, signed_info, "SignedInfo")?;
        let value = kids.next().ok_or_else(|| DsigError::Malformed("ds:Signature has no SignatureValue".into()))?;
        expect_ds(doc, value, "SignatureValue")?;
        let mut certificate_der = None;
        for extra in kids {
            if doc.is(extra, DSIG_NS, "KeyInfo") && certificate_der.is_none() {
                certificate_der = key_info_certificate(doc, extra)?;
            } else if !doc.is(extra, DSIG_NS, "Object") {
                return Err(DsigError::Malformed(format!("unexpected {} in ds:Signature", doc.describe(extra))));
            }
        }

        let mut parts = ds_children(doc, signed_info);
        let c14n = parts.next().ok_or_else(|| DsigError::Malformed("ds:SignedInfo is empty".into()))?;
        expect_ds(doc, c14n, "CanonicalizationMethod")?;
        let uri = algorithm(doc, c14n)?;
        if uri != EXC_C14N {
            return Err(DsigError::UnknownAlgorithm { uri: uri.to_string(), context: "CanonicalizationMethod" });
        }
        let c14n_prefixes = inclusive_prefixes(doc, c14n, limits)?;
        let method = parts.next().ok_or_else(|| DsigError::Malformed("ds:SignedInfo has no SignatureMethod".into()))?;
        expect_ds(doc, method, "SignatureMethod")?;
        let uri = algorithm(doc, method)?;
        let alg = GostAlg::from_signature_uri(uri)
            .ok_or_else(|| DsigError::UnknownAlgorithm { uri: uri.to_string(), context: "SignatureMethod" })?;
        let mut references = Vec::new();
        for r in parts {
            expect_ds(doc, r, "Reference")?;
            if references.len() >= limits.max_references {
                return Err(DsigError::TooManyReferences { limit: limits.max_references });
            }
            references.push(reference(doc, r, limits)?);
        }
        if references.is_empty() {
            return Err(DsigError::Malformed("ds:SignedInfo has no Reference".into()));
        }
        let signature_value = decode_base64(&doc.text(value), "SignatureValue")?;
        Ok(SignatureModel { signature, signed_info, c14n_prefixes, alg, references, signature_value, certificate_der })
    }
}

fn key_info_certificate(doc: &Document<'_>, key_info: NodeId) -> Result<Option<Vec<u8>>, DsigError> {
    for data in doc.child_elements(key_info).filter(|&d| doc.is(d, DSIG_NS, "X509Data")) {
        if let Some(cert) = doc.child(data, DSIG_NS, "X509Certificate") {
            return decode_base64(&doc.text(cert), "X509Certificate").map(Some);
        }
    }
    Ok(None)
}
