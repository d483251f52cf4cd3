//! Genuinely signed XMLDSig signatures of any shape (many references, digests computed by any rule), for tests
//! that need what the signer would never make.

use base64::Engine as _;
use edugate::crypto::{Certificate, GostAlg, PrivateKey};
use edugate::dsig::DSIG_NS;

/// A genuinely signed `ds:Signature` with one reference per Id, written in canonical form.
pub fn signature(key: &PrivateKey, cert: &Certificate, ids: &[String], digest_values: &[String]) -> String {
    let mut inner = format!(
        "<ds:CanonicalizationMethod Algorithm=\"http://www.w3.org/2001/10/xml-exc-c14n#\"></ds:CanonicalizationMethod>\
         <ds:SignatureMethod Algorithm=\"{}\"></ds:SignatureMethod>",
        GostAlg::Gost2012_256.signature_uri()
    );
    for (id, digest) in ids.iter().zip(digest_values) {
        inner.push_str(&format!(
            "<ds:Reference URI=\"#{id}\"><ds:Transforms>\
             <ds:Transform Algorithm=\"http://www.w3.org/2001/10/xml-exc-c14n#\"></ds:Transform>\
             <ds:Transform Algorithm=\"urn://smev-gov-ru/xmldsig/transform\"></ds:Transform></ds:Transforms>\
             <ds:DigestMethod Algorithm=\"{}\"></ds:DigestMethod><ds:DigestValue>{digest}</ds:DigestValue>\
             </ds:Reference>",
            GostAlg::Gost2012_256.digest_uri()
        ));
    }
    let canonical = format!("<ds:SignedInfo xmlns:ds=\"{DSIG_NS}\">{inner}</ds:SignedInfo>");
    let b64 = &base64::engine::general_purpose::STANDARD;
    let value = b64.encode(key.sign(canonical.as_bytes()).unwrap());
    let cert = b64.encode(cert.to_der());
    format!(
        "<ds:Signature xmlns:ds=\"{DSIG_NS}\"><ds:SignedInfo>{inner}</ds:SignedInfo>\
         <ds:SignatureValue>{value}</ds:SignatureValue><ds:KeyInfo><ds:X509Data>\
         <ds:X509Certificate>{cert}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></ds:Signature>"
    )
}
