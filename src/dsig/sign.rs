//! Signing: a detached GOST XMLDSig over an element referenced by `Id`, placed where SMEV expects it.
#![forbid(unsafe_code)]

use super::model::Transform;
use super::verify::{digest_element, resolve_id};
use super::{DsigError, DSIG_NS, ENVELOPED_SIGNATURE, EXC_C14N, SMEV_TRANSFORM};
use crate::crypto::{Certificate, GostAlg, PrivateKey};
use crate::xml::escape::{push_escaped, Escape};
use crate::xml::{self, Document, Limits, NodeId};
use base64::Engine as _;

/// Where a new signature goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Placement {
    /// Into the `CallerInformationSystemSignature` sibling that follows the signed element, created (after the
    /// element's other siblings, before `Routing`) when absent. What every SMEV request wrapper expects.
    CallerSignature,
    /// Like `CallerSignature`, into a following sibling with another local name (mock-smev's `SMEVSignature`).
    Holder(&'static str),
    /// As the last child of the signed element itself, with the enveloped-signature transform first.
    Enveloped,
}

/// A private key with its certificate: everything needed to sign.
pub struct Signer {
    key: PrivateKey,
    cert: Certificate,
    /// The certificate's DER in base64, computed once: it goes into every signature.
    cert_base64: String,
}

impl Signer {
    /// Pairs a key with its certificate, refusing a certificate that belongs to another key.
    pub fn new(key: PrivateKey, cert: Certificate) -> Result<Signer, DsigError> {
        if !cert.matches_key(&key) {
            return Err(DsigError::CertificateKeyMismatch);
        }
        let cert_base64 = base64::engine::general_purpose::STANDARD.encode(cert.to_der());
        Ok(Signer { key, cert, cert_base64 })
    }

    /// The signer's certificate.
    pub fn certificate(&self) -> &Certificate {
        &self.cert
    }

    /// Builds a complete `ds:Signature` (declaring its own `ds` prefix) over `target` of `doc`.
    pub fn signature_xml(&self, doc: &Document<'_>, target: NodeId, enveloped: bool) -> Result<String, DsigError> {
        let id = doc.attr(target, "Id").ok_or_else(|| {
            DsigError::Malformed(format!("{} has no Id attribute to reference", doc.describe(target)))
        })?;
        let alg = self.key.alg();
        let mut transforms = Vec::with_capacity(3);
        if enveloped {
            transforms.push(Transform::Enveloped);
        }
        transforms.push(Transform::ExcC14n { inclusive_prefixes: Vec::new() });
        transforms.push(Transform::Smev);
        let digest = digest_element(doc, target, &transforms, alg, None)?;

        let b64 = &base64::engine::general_purpose::STANDARD;
        let inner = signed_info_content(id, alg, enveloped, &b64.encode(&digest));
        let canonical = format!("<ds:SignedInfo xmlns:ds=\"{DSIG_NS}\">{inner}");
        let value = self.key.sign(canonical.as_bytes())?;

        let mut out = String::with_capacity(inner.len() + self.cert_base64.len() + 320);
        out.push_str("<ds:Signature xmlns:ds=\"");
        out.push_str(DSIG_NS);
        out.push_str("\"><ds:SignedInfo>");
        out.push_str(&inner);
        out.push_str("<ds:SignatureValue>");
        out.push_str(&b64.encode(&value));
        out.push_str("</ds:SignatureValue><ds:KeyInfo><ds:X509Data><ds:X509Certificate>");
        out.push_str(&self.cert_base64);
        out.push_str("</ds:X509Certificate></ds:X509Data></ds:KeyInfo></ds:Signature>");
        Ok(out)
    }

    /// Signs the element of `xml` whose `Id` is `id` and returns the document with the signature placed.
    /// Nothing else in the document changes: the signature is spliced into the original text.
    pub fn sign(&self, xml: &str, id: &str, placement: Placement) -> Result<String, DsigError> {
        let doc = xml::parse(xml, &Limits::default())?;
        let target = resolve_id(&doc, id)?;
        let signature = self.signature_xml(&doc, target, placement == Placement::Enveloped)?;
        let (at, replace_end, before, after) = match placement {
            Placement::Enveloped => insertion_at_end(&doc, target),
            Placement::CallerSignature => holder_insertion(&doc, target, id, "CallerInformationSystemSignature")?,
            Placement::Holder(name) => holder_insertion(&doc, target, id, name)?,
        };
        let mut out = String::with_capacity(xml.len() + signature.len() + before.len() + after.len());
        out.push_str(&xml[..at]);
        out.push_str(&before);
        out.push_str(&signature);
        out.push_str(&after);
        out.push_str(&xml[replace_end..]);
        Ok(out)
    }
}

/// Everything of a `ds:SignedInfo` after its start tag, written directly in canonical form (no empty-element tags,
/// attribute values escaped as c14n escapes them), so that the bytes signed need no canonicalization pass. With
/// `<ds:SignedInfo xmlns:ds="...">` in front it is exactly the exclusive c14n of the SignedInfo as placed in a
/// `ds:Signature`; the tests check that it is a fixed point of the canonicalizer.
fn signed_info_content(id: &str, alg: GostAlg, enveloped: bool, digest_b64: &str) -> String {
    let mut s = String::with_capacity(720 + id.len());
    let method = |s: &mut String, name: &str, uri: &str| {
        s.push_str("<ds:");
        s.push_str(name);
        s.push_str(" Algorithm=\"");
        s.push_str(uri);
        s.push_str("\"></ds:");
        s.push_str(name);
        s.push('>');
    };
    method(&mut s, "CanonicalizationMethod", EXC_C14N);
    method(&mut s, "SignatureMethod", alg.signature_uri());
    s.push_str("<ds:Reference URI=\"#");
    push_escaped(&mut s, id, Escape::C14nAttribute);
    s.push_str("\"><ds:Transforms>");
    if enveloped {
        method(&mut s, "Transform", ENVELOPED_SIGNATURE);
    }
    method(&mut s, "Transform", EXC_C14N);
    method(&mut s, "Transform", SMEV_TRANSFORM);
    s.push_str("</ds:Transforms>");
    method(&mut s, "DigestMethod", alg.digest_uri());
    s.push_str("<ds:DigestValue>");
    s.push_str(digest_b64);
    s.push_str("</ds:DigestValue></ds:Reference></ds:SignedInfo>");
    s
}

/// The qualified name of an element as written, for writing its end tag.
fn qname(doc: &Document<'_>, id: NodeId) -> String {
    let e = doc.element(id);
    match e.prefix {
        Some(p) => format!("{p}:{}", e.local),
        None => e.local.to_string(),
    }
}

/// Where to put content as the last child of `element`: returns (start, end of replaced text, text before the
/// content, text after it). An empty-element tag `<x/>` is rewritten as `<x>...</x>`.
fn insertion_at_end(doc: &Document<'_>, element: NodeId) -> (usize, usize, String, String) {
    let e = doc.element(element);
    let src = doc.source();
    if e.start_tag_end == e.span.end && src[..e.span.end].ends_with("/>") {
        let open = src[e.span.start..e.span.end - 2].trim_end();
        return (e.span.start, e.span.end, format!("{open}>"), format!("</{}>", qname(doc, element)));
    }
    let close = src[..e.span.end].rfind("</").expect("a non-empty element ends with an end tag");
    (close, close, String::new(), String::new())
}

/// Where the signature of `target` goes among its siblings: into the holder element `holder` that follows it.
fn holder_insertion(
    doc: &Document<'_>,
    target: NodeId,
    id: &str,
    holder: &str,
) -> Result<(usize, usize, String, String), DsigError> {
    let parent = doc.parent(target).ok_or_else(|| {
        DsigError::Malformed("the signed element has no parent to hold CallerInformationSystemSignature".into())
    })?;
    let siblings: Vec<NodeId> = doc.child_elements(parent).collect();
    let index = siblings.iter().position(|&s| s == target).expect("a child of its parent");
    let following = &siblings[index + 1..];
    if let Some(&holder) = following.iter().find(|&&s| doc.element(s).local == holder) {
        if doc.child_elements(holder).next().is_some() {
            return Err(DsigError::AlreadySigned(id.to_string()));
        }
        return Ok(insertion_at_end(doc, holder));
    }
    // The holder is in the wrapper's namespace, written with the wrapper's own prefix, which is in scope there.
    let name = match doc.element(parent).prefix {
        Some(p) => format!("{p}:{holder}"),
        None => holder.to_string(),
    };
    let at = match following.iter().find(|&&s| doc.element(s).local == "Routing") {
        Some(&routing) => doc.element(routing).span.start,
        None => insertion_at_end(doc, parent).0,
    };
    if doc.element(parent).start_tag_end == doc.element(parent).span.end {
        unreachable!("the parent contains the target, so it is not an empty-element tag");
    }
    Ok((at, at, format!("<{name}>"), format!("</{name}>")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::xml::{exc_c14n, parse, C14nOptions};

    /// The SignedInfo written by the signer must be byte-for-byte its own exclusive c14n, or signatures would not
    /// verify anywhere.
    #[test]
    fn signed_info_is_written_in_canonical_form() {
        for id in ["SIGNED_BY_CONSUMER", "a&b<c\"d", "tab\there", "Идентификатор"] {
            for alg in [GostAlg::Gost2012_256, GostAlg::Gost2012_512] {
                for enveloped in [false, true] {
                    let inner = signed_info_content(id, alg, enveloped, "AAAA");
                    let canonical = format!("<ds:SignedInfo xmlns:ds=\"{DSIG_NS}\">{inner}");
                    let doc = parse(&canonical, &Limits::default()).unwrap();
                    assert_eq!(
                        doc.attr(doc.child_elements(doc.root()).nth(2).unwrap(), "URI"),
                        Some(&*format!("#{id}"))
                    );
                    let again = exc_c14n(&doc, doc.root(), &C14nOptions::default());
                    assert_eq!(String::from_utf8(again).unwrap(), canonical, "id {id:?}");
                }
            }
        }
    }
}
