//! Signing and verification with the dev certificates: round trips, tampering, and one test per verdict.
use edugate::crypto::{ensure_default_engine, Certificate, PrivateKey};
use edugate::dsig::{verify_document, DsigError, KeySelection, Placement, Signer, Validity, VerifyOptions};
use edugate::xml::{parse, Limits};
use std::path::PathBuf;

const REQUEST: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<tns:SendRequestRequest xmlns:tns="urn://x-artefacts-smev-gov-ru/services/message-exchange/types/1.3">
  <tns:SenderProvidedRequestData Id="SIGNED_BY_CONSUMER">
    <tns:MessageID>39f52a38-9a54-11ea-b23a-3316e2108089</tns:MessageID>
    <MessagePrimaryContent xmlns="urn://x-artefacts-smev-gov-ru/services/message-exchange/types/basic/1.3">
      <x:Req xmlns:x="urn://edugate/test" b="2" a="1">Иванов &amp; сын <!-- comment --> &lt;ok&gt;</x:Req>
    </MessagePrimaryContent>
  </tns:SenderProvidedRequestData>
  <tns:Routing/>
</tns:SendRequestRequest>"#;

fn certs_dev(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("certs-dev").join(name)
}

fn signer(name: &str) -> Signer {
    ensure_default_engine().expect("GOST engine");
    let key = std::fs::read(certs_dev(&format!("{name}.key"))).unwrap();
    let cert = Certificate::load(&certs_dev(&format!("{name}.crt"))).unwrap();
    Signer::new(PrivateKey::from_pem(&key).unwrap(), cert).unwrap()
}

fn now() -> VerifyOptions {
    VerifyOptions::default()
}

/// Verifies every signature of `xml` and returns the first verdict.
fn verdict(xml: &str, options: &VerifyOptions) -> Result<(), DsigError> {
    let doc = parse(xml, &Limits::default())?;
    let reports = verify_document(&doc, options)?;
    for r in reports {
        r.outcome?;
    }
    Ok(())
}

fn signed(name: &str) -> String {
    signer(name).sign(REQUEST, "SIGNED_BY_CONSUMER", Placement::CallerSignature).unwrap()
}

#[test]
fn round_trip_gost_256_and_512() {
    for name in ["gateway", "gateway-512", "portal", "mock-smev"] {
        let xml = signed(name);
        let doc = parse(&xml, &Limits::default()).unwrap();
        let reports = verify_document(&doc, &now()).unwrap();
        assert_eq!(reports.len(), 1, "{name}");
        let ok = reports[0].outcome.as_ref().unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(doc.element(ok.signed_element()).local, "SenderProvidedRequestData");
        assert_eq!(reports[0].reference_ids, vec!["SIGNED_BY_CONSUMER".to_string()]);
    }
}

#[test]
fn signature_goes_into_caller_signature_before_routing() {
    let xml = signed("gateway");
    let holder = xml.find("<tns:CallerInformationSystemSignature><ds:Signature").expect("holder created");
    assert!(holder > xml.find("</tns:SenderProvidedRequestData>").unwrap());
    assert!(holder < xml.find("<tns:Routing/>").unwrap());
    // Everything before the holder is byte-for-byte the input.
    assert_eq!(&xml[..holder], &REQUEST[..holder]);
}

#[test]
fn an_existing_empty_holder_is_filled() {
    let input = REQUEST.replace("<tns:Routing/>", "<tns:CallerInformationSystemSignature/>");
    let xml = signer("gateway").sign(&input, "SIGNED_BY_CONSUMER", Placement::CallerSignature).unwrap();
    assert_eq!(xml.matches("CallerInformationSystemSignature>").count(), 2);
    verdict(&xml, &now()).unwrap();
    let again = signer("gateway").sign(&xml, "SIGNED_BY_CONSUMER", Placement::CallerSignature);
    assert!(matches!(again, Err(DsigError::AlreadySigned(_))));
}

#[test]
fn enveloped_round_trip() {
    let xml = signer("portal").sign(REQUEST, "SIGNED_BY_CONSUMER", Placement::Enveloped).unwrap();
    assert!(xml.contains("xmldsig#enveloped-signature"));
    verdict(&xml, &now()).unwrap();
}

#[test]
fn whitespace_reindentation_of_the_signed_element_keeps_the_digest() {
    let xml = signed("gateway").replace("\n    <tns:MessageID>", "\n\n\t\t<tns:MessageID>");
    verdict(&xml, &now()).unwrap();
}

#[test]
fn one_changed_byte_in_the_signed_element_fails() {
    let xml = signed("gateway").replace("Иванов", "Иваноф");
    assert!(matches!(verdict(&xml, &now()), Err(DsigError::DigestMismatch(id)) if id == "SIGNED_BY_CONSUMER"));
    let xml = signed("gateway").replace("b=\"2\"", "b=\"3\"");
    assert!(matches!(verdict(&xml, &now()), Err(DsigError::DigestMismatch(_))));
}

#[test]
fn one_changed_byte_in_signed_info_fails() {
    // An extra space inside SignedInfo changes its canonical form but not the digests.
    let xml = signed("gateway").replace("<ds:SignatureMethod ", "<ds:SignatureMethod  ");
    assert!(matches!(verdict(&xml, &now()), Ok(())), "c14n normalizes whitespace inside tags");
    let xml = signed("gateway").replace("<ds:SignedInfo><ds:Canon", "<ds:SignedInfo> <ds:Canon");
    assert!(matches!(verdict(&xml, &now()), Err(DsigError::SignatureInvalid)));
}

#[test]
fn a_changed_signature_value_fails() {
    let xml = signed("gateway");
    let start = xml.find("<ds:SignatureValue>").unwrap() + "<ds:SignatureValue>".len();
    let mut bytes = xml.into_bytes();
    bytes[start] = if bytes[start] == b'A' { b'B' } else { b'A' };
    let xml = String::from_utf8(bytes).unwrap();
    assert!(matches!(verdict(&xml, &now()), Err(DsigError::SignatureInvalid)));
}

#[test]
fn duplicated_id_is_an_error() {
    let xml = signed("gateway").replace("<tns:Routing/>", "<tns:Routing Id=\"SIGNED_BY_CONSUMER\"/>");
    assert!(matches!(verdict(&xml, &now()), Err(DsigError::DuplicateId { count: 2, .. })));
}

#[test]
fn missing_id_is_an_error() {
    let xml = signed("gateway").replace("Id=\"SIGNED_BY_CONSUMER\"", "Id=\"OTHER\"");
    assert!(matches!(verdict(&xml, &now()), Err(DsigError::IdNotFound(id)) if id == "SIGNED_BY_CONSUMER"));
}

#[test]
fn unknown_algorithms_are_errors() {
    let cases = [
        ("gostr34102012-gostr34112012-256\"", "rsa-sha256\"", "SignatureMethod"),
        ("algorithms:gostr34112012-256\"", "algorithms:sha256\"", "DigestMethod"),
        (
            "<ds:CanonicalizationMethod Algorithm=\"http://www.w3.org/2001/10/xml-exc-c14n#\"",
            "<ds:CanonicalizationMethod Algorithm=\"http://www.w3.org/TR/2001/REC-xml-c14n-20010315\"",
            "CanonicalizationMethod",
        ),
        ("urn://smev-gov-ru/xmldsig/transform", "urn://smev-gov-ru/xmldsig/other", "Transform"),
    ];
    for (from, to, context) in cases {
        let xml = signed("gateway").replacen(from, to, 1);
        match verdict(&xml, &now()) {
            Err(DsigError::UnknownAlgorithm { context: c, .. }) => assert_eq!(c, context),
            other => panic!("{context}: {other:?}"),
        }
    }
}

#[test]
fn certificate_that_does_not_match_the_key() {
    ensure_default_engine().unwrap();
    let key = PrivateKey::from_pem(&std::fs::read(certs_dev("gateway.key")).unwrap()).unwrap();
    let other = Certificate::load(&certs_dev("other.crt")).unwrap();
    assert!(matches!(Signer::new(key, other), Err(DsigError::CertificateKeyMismatch)));

    // A signature whose KeyInfo carries another certificate does not verify.
    let xml = signed("gateway");
    let other_b64 = base64_of(&certs_dev("other.crt"));
    let start = xml.find("<ds:X509Certificate>").unwrap() + "<ds:X509Certificate>".len();
    let end = xml.find("</ds:X509Certificate>").unwrap();
    let swapped = format!("{}{}{}", &xml[..start], other_b64, &xml[end..]);
    assert!(matches!(verdict(&swapped, &now()), Err(DsigError::SignatureInvalid)));
}

fn base64_of(path: &std::path::Path) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(Certificate::load(path).unwrap().to_der())
}

#[test]
fn expired_certificate() {
    let xml = signer("expired").sign(REQUEST, "SIGNED_BY_CONSUMER", Placement::CallerSignature).unwrap();
    assert!(matches!(verdict(&xml, &now()), Err(DsigError::CertificateValidity(_))));
    let archive = VerifyOptions { validity: Validity::Skip, ..now() };
    verdict(&xml, &archive).unwrap();
}

#[test]
fn trusted_certificate_selection() {
    let xml = signed("gateway");
    let gateway = Certificate::load(&certs_dev("gateway.crt")).unwrap();
    let portal = Certificate::load(&certs_dev("portal.crt")).unwrap();
    let trust = |certs: Vec<Certificate>| VerifyOptions { keys: KeySelection::Trusted(certs), ..now() };
    verdict(&xml, &trust(vec![portal.clone(), gateway.clone()])).unwrap();
    assert!(matches!(verdict(&xml, &trust(vec![portal])), Err(DsigError::CertificateNotTrusted { .. })));
    // Without KeyInfo the single trusted certificate is used.
    let start = xml.find("<ds:KeyInfo>").unwrap();
    let end = xml.find("</ds:KeyInfo>").unwrap() + "</ds:KeyInfo>".len();
    let bare = format!("{}{}", &xml[..start], &xml[end..]);
    verdict(&bare, &trust(vec![gateway])).unwrap();
    assert!(matches!(verdict(&bare, &now()), Err(DsigError::NoCertificate)));
}

#[test]
fn no_signature_at_all() {
    assert!(matches!(verdict(REQUEST, &now()), Err(DsigError::NoSignature)));
}

/// Signature wrapping: the attacker keeps the signed element (so the signature verifies) but moves it aside and
/// puts their own element where the processor looks. The verifier reports which element is signed, and it is not
/// the one in the processing position.
#[test]
fn signature_wrapping_is_visible_to_the_caller() {
    let xml = signed("gateway");
    let start = xml.find("<tns:SenderProvidedRequestData").unwrap();
    let end = xml.find("</tns:SenderProvidedRequestData>").unwrap() + "</tns:SenderProvidedRequestData>".len();
    let original = &xml[start..end];
    let forged = original.replace("Id=\"SIGNED_BY_CONSUMER\"", "Id=\"FORGED\"").replace("Иванов", "Петров");
    let wrapped = format!("{}{forged}<tns:Wrapper>{original}</tns:Wrapper>{}", &xml[..start], &xml[end..]);
    let doc = parse(&wrapped, &Limits::default()).unwrap();
    let reports = verify_document(&doc, &now()).unwrap();
    let ok = reports[0].outcome.as_ref().expect("the moved original still verifies");
    let root = doc.root();
    let processed = doc.child_elements(root).next().unwrap();
    assert_eq!(doc.attr(processed, "Id"), Some("FORGED"));
    assert!(!ok.covers(processed), "the element a processor would read is not the signed one");
}
