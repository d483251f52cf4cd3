//! Every fault mock-smev can answer, in each version, exactly as that version's faults schema types it: the detail
//! element validates against the shipped official schema, carries only what its type allows, exists in that version,
//! and goes out with SMEV's `faultcode`.
mod schema;

use edugate::smev::fault::code_max_chars;
use edugate::smev::{build, parse, FaultKind, SignatureFaultKind, SmevError, SmevFault, Version};
use edugate::xml::{parse as parse_xml, Document, Limits, NodeId};
use mock_smev::inject::{injectable_faults, injected_fault};

const VERSIONS: [Version; 2] = [Version::V1_3, Version::V1_2];

/// The typed element inside `soap:Fault/detail`, if any.
fn detail_of(doc: &Document<'_>) -> Option<NodeId> {
    let fault = parse::body_child(doc).unwrap();
    let detail = doc.child_elements(fault).find(|&c| doc.element(c).local == "detail")?;
    doc.child_elements(detail).next()
}

fn children(doc: &Document<'_>, node: NodeId) -> Vec<String> {
    doc.child_elements(node).map(|c| doc.element(c).local.to_string()).collect()
}

/// Builds `f` for `version` and reads it back the way a client does.
fn round_trip(f: &SmevFault, version: Version) -> SmevFault {
    let xml = build::fault(version, f);
    let doc = parse_xml(&xml, &Limits::default()).unwrap();
    match parse::expect_body(&doc, "SendRequestResponse") {
        Err(SmevError::Fault(parsed)) => *parsed,
        other => panic!("not a fault: {other:?}"),
    }
}

#[test]
fn every_injectable_fault_validates_against_its_versions_faults_schema() {
    let mut validated = 0;
    for version in VERSIONS {
        for kind in injectable_faults() {
            let mut fault = injected_fault(kind.clone());
            fault.code = Some("TEST:CODE".into());
            let xml = build::fault(version, &fault);
            let doc = parse_xml(&xml, &Limits::default()).unwrap();
            let Some(detail) = detail_of(&doc) else {
                assert_eq!(kind, FaultKind::Unspecified, "{} has no detail in {}", kind.name(), version.as_str());
                continue;
            };
            let answered = kind.in_version(version);
            assert!(doc.is(detail, version.faults_ns(), answered.name()), "{} in {}", kind.name(), version.as_str());
            schema::assert_valid(&doc, detail, version);
            validated += 1;
        }
    }
    // Every fault but the untyped one, in both versions.
    assert_eq!(validated, 2 * (injectable_faults().len() - 1));
}

#[test]
fn void_faults_carry_no_description() {
    for version in VERSIONS {
        for kind in [FaultKind::MessageIsAlreadySent, FaultKind::SmevFailure, FaultKind::TargetMessageIsNotFound] {
            let mut fault = SmevFault::new(kind.clone(), "the message for people");
            fault.code = Some("X".into());
            let doc_text = build::fault(version, &fault);
            let doc = parse_xml(&doc_text, &Limits::default()).unwrap();
            let detail = detail_of(&doc).unwrap();
            assert!(children(&doc, detail).is_empty(), "{} in {}: {doc_text}", kind.name(), version.as_str());
            let parsed = round_trip(&fault, version);
            assert_eq!(parsed.kind, kind);
            assert_eq!(parsed.faultstring, "the message for people");
        }
    }
    // EndOfLifeReached is Void in 1.2 only.
    let fault = SmevFault::new(FaultKind::EndOfLifeReached, "EOL has passed");
    let doc_text = build::fault(Version::V1_2, &fault);
    let doc = parse_xml(&doc_text, &Limits::default()).unwrap();
    assert!(children(&doc, detail_of(&doc).unwrap()).is_empty(), "{doc_text}");
    let doc_text = build::fault(Version::V1_3, &fault);
    let doc = parse_xml(&doc_text, &Limits::default()).unwrap();
    assert_eq!(children(&doc, detail_of(&doc).unwrap()), ["Description"]);
}

#[test]
fn size_faults_carry_their_required_sizes() {
    let cases = [
        (
            FaultKind::QuoteLimitExceeded { remained_total_quote_size: 10, real_total_attachment_size: 2048 },
            ["RemainedTotalQuoteSize", "RealTotalAttachmentSize"],
        ),
        (
            FaultKind::AttachmentSizeLimitExceeded {
                permitted_total_attachment_size: 5_242_880,
                real_total_attachment_size: 6_000_000,
            },
            ["PermittedTotalAttachmentSize", "RealTotalAttachmentSize"],
        ),
    ];
    for version in VERSIONS {
        for (kind, fields) in &cases {
            let fault = SmevFault::new(kind.clone(), "too big");
            let doc_text = build::fault(version, &fault);
            let doc = parse_xml(&doc_text, &Limits::default()).unwrap();
            let detail = detail_of(&doc).unwrap();
            assert_eq!(children(&doc, detail), ["Description", fields[0], fields[1]]);
            schema::assert_valid(&doc, detail, version);
            assert_eq!(&round_trip(&fault, version).kind, kind);
        }
    }
}

#[test]
fn size_faults_without_sizes_still_parse() {
    // The form older mock-smev builds sent: a Description and no sizes.
    for name in ["QuoteLimitExceeded", "AttachmentSizeLimitExceeded"] {
        let xml = format!(
            "<soap:Envelope xmlns:soap=\"http://schemas.xmlsoap.org/soap/envelope/\"><soap:Body><soap:Fault>\
             <faultcode>soap:Client</faultcode><faultstring>old</faultstring><detail>\
             <f:{name} xmlns:f=\"{}\" xmlns:b=\"{}\"><b:Description>old</b:Description></f:{name}>\
             </detail></soap:Fault></soap:Body></soap:Envelope>",
            Version::V1_3.faults_ns(),
            Version::V1_3.basic_ns()
        );
        let doc = parse_xml(&xml, &Limits::default()).unwrap();
        let parsed = match parse::expect_body(&doc, "SendRequestResponse") {
            Err(SmevError::Fault(f)) => f,
            other => panic!("{other:?}"),
        };
        assert_eq!(parsed.kind.name(), name);
        assert_eq!(parsed.description.as_deref(), Some("old"));
        match parsed.kind {
            FaultKind::QuoteLimitExceeded { remained_total_quote_size: 0, real_total_attachment_size: 0 }
            | FaultKind::AttachmentSizeLimitExceeded {
                permitted_total_attachment_size: 0,
                real_total_attachment_size: 0,
            } => {}
            other => panic!("{other:?}"),
        }
    }
}

#[test]
fn personal_access_denied_is_not_served_on_1_2() {
    let fault = SmevFault::new(FaultKind::PersonalAccessDenied, "personal access refused");
    let doc_text = build::fault(Version::V1_2, &fault);
    assert!(!doc_text.contains("PersonalAccessDenied"), "{doc_text}");
    let doc = parse_xml(&doc_text, &Limits::default()).unwrap();
    let detail = detail_of(&doc).unwrap();
    assert_eq!(doc.element(detail).local, "AccessDenied");
    schema::assert_valid(&doc, detail, Version::V1_2);
    assert_eq!(round_trip(&fault, Version::V1_2).kind, FaultKind::AccessDenied);
    assert_eq!(round_trip(&fault, Version::V1_3).kind, FaultKind::PersonalAccessDenied);
}

#[test]
fn signature_verification_fault_is_soap_server() {
    // As SMEV answers it (../shared/reference/samples/SoapFaultResponse_SignatureVerificationFault.xml), and so every
    // other typed fault.
    for version in VERSIONS {
        for kind in injectable_faults() {
            let parsed = round_trip(&injected_fault(kind.clone()), version);
            assert_eq!(parsed.faultcode, "soap:Server", "{} in {}", kind.name(), version.as_str());
        }
        let f = SmevFault::new(FaultKind::SignatureVerification(SignatureFaultKind::CertificateIsExpired), "expired");
        assert_eq!(round_trip(&f, version).faultcode, "soap:Server");
    }
}

#[test]
fn an_overlong_code_is_cut_to_the_versions_limit() {
    // Hostile or foreign input: a Code longer than basic:SmevFault allows (string-50 in 1.2, string-100 in 1.3).
    let long = "К".repeat(300);
    for version in VERSIONS {
        let mut fault = SmevFault::new(FaultKind::TransactionCodeInvalid, "bad transaction code");
        fault.code = Some(long.clone());
        let doc_text = build::fault(version, &fault);
        let doc = parse_xml(&doc_text, &Limits::default()).unwrap();
        let detail = detail_of(&doc).unwrap();
        schema::assert_valid(&doc, detail, version);
        let parsed = round_trip(&fault, version);
        assert_eq!(parsed.code.unwrap().chars().count(), code_max_chars(version));
    }
}

#[test]
fn invalid_content_always_has_a_valid_validation_error() {
    // The schema requires at least one ValidationError, with an xs:int position.
    use edugate::smev::fault::ValidationError;
    let cases = [
        vec![],
        vec![ValidationError { message: "far away".into(), position: i64::MAX }],
        vec![ValidationError { message: "<&>".into(), position: i64::MIN }],
    ];
    for version in VERSIONS {
        for errors in &cases {
            let fault = SmevFault::new(FaultKind::InvalidContent(errors.clone()), "invalid");
            let doc_text = build::fault(version, &fault);
            let doc = parse_xml(&doc_text, &Limits::default()).unwrap();
            let detail = detail_of(&doc).unwrap();
            schema::assert_valid(&doc, detail, version);
            match round_trip(&fault, version).kind {
                FaultKind::InvalidContent(read) => {
                    assert_eq!(read.len(), errors.len().max(1));
                    assert!(read.iter().all(|e| i32::try_from(e.position).is_ok()));
                }
                other => panic!("{other:?}"),
            }
        }
    }
}
