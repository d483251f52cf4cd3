//! The SMEV codec: every builder's output parses back to what was built, validates against the official schema
//! (the copies shipped in `xsd/smev/`), and keeps its signatures verifiable after mock-smev copies it into a delivery.
mod support;

use edugate::crypto::{ensure_default_engine, Certificate, PrivateKey};
use edugate::dsig::{verify_document, Signer, VerifyOptions};
use edugate::smev::build::{self, DeliveredRequest, DeliveredResponse};
use edugate::smev::fault::ValidationError;
use edugate::smev::parse::{self, CallBody};
use edugate::smev::*;
use edugate::xml::{parse as parse_xml, Limits};
use std::path::{Path, PathBuf};

fn signer(name: &str) -> Signer {
    ensure_default_engine().unwrap();
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("certs-dev");
    let key = PrivateKey::from_pem(&std::fs::read(dir.join(format!("{name}.key"))).unwrap()).unwrap();
    Signer::new(key, Certificate::load(&dir.join(format!("{name}.crt"))).unwrap()).unwrap()
}

/// The shared reference folder with the real SMEV samples: an oracle like any other (`support::oracle`'s rule:
/// a skip, or a failure under `EDUGATE_REQUIRE_ORACLES=1`).
fn shared() -> Option<PathBuf> {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/reference");
    support::oracle_path(p, "the real SMEV samples")
}

/// Validates one self-contained element (a SOAP body's element or a fault detail) against the official types and
/// faults schemas of `version` (`support::smev_schema`).
fn assert_element_valid(fragment: &str, version: Version) {
    if let Some(Err(complaint)) = support::smev_schema::check(fragment, version) {
        panic!("invalid against the {} schemas:\n{complaint}\n{fragment}", version.as_str());
    }
}

/// Validates the SOAP body's element against the official schemas of `version`.
fn assert_schema_valid(envelope: &str, version: Version) {
    let doc = parse_xml(envelope, &Limits::default()).unwrap();
    let body = parse::body_child(&doc).unwrap();
    assert_element_valid(&doc.self_contained_source(body), version);
}

fn all_signatures_verify(envelope: &str) -> usize {
    let doc = parse_xml(envelope, &Limits::default()).unwrap();
    let reports = verify_document(&doc, &VerifyOptions::default()).unwrap();
    for r in &reports {
        assert!(r.outcome.is_ok(), "{:?}: {:?}", r.reference_ids, r.outcome);
    }
    reports.len()
}

fn call(envelope: &str) -> parse::Call {
    let doc = parse_xml(envelope, &Limits::default()).unwrap();
    parse::parse_call(&doc).unwrap()
}

fn rich_request() -> SendRequest {
    let mut r = SendRequest::new(sample::SAMPLE_CONTENT);
    r.reference_message_id = Some(MessageId::new_v1());
    r.transaction_code = Some("TX-1".into());
    r.eol = Some("2030-01-01T00:00:00.000Z".into());
    r.test_message = true;
    r.attachment_headers = vec![AttachmentHeader {
        content_id: "att1".into(),
        mime_type: "application/pdf".into(),
        signature_pkcs7: Some(vec![1, 2, 3]),
    }];
    r.attachments = vec![AttachmentContent { id: "att1".into(), content: b"%PDF-1.4".to_vec() }];
    r
}

#[test]
fn every_request_operation_round_trips_in_both_versions() {
    let s = signer("gateway");
    for version in [Version::V1_3, Version::V1_2] {
        let request = rich_request();
        let xml = build::send_request(version, &request, Some(&s)).unwrap();
        assert_schema_valid(&xml, version);
        assert_eq!(all_signatures_verify(&xml), 1);
        let c = call(&xml);
        assert_eq!((c.version, c.operation), (version, Operation::SendRequest));
        match c.body {
            CallBody::SendRequest(parsed, kind) => {
                assert_eq!(parsed, request);
                assert_eq!(kind, sample::sample_kind());
            }
            other => panic!("{other:?}"),
        }
        assert!(c.signature.is_some());

        for (name, xml) in sample::envelopes(version, &s).unwrap() {
            assert_schema_valid(&xml, version);
            assert_eq!(all_signatures_verify(&xml), 1, "{name}");
            let c = call(&xml);
            assert_eq!(c.operation.request_element(), name);
        }
    }
}

#[test]
fn response_bodies_round_trip() {
    let s = signer("gateway");
    let bodies = vec![
        ResponseBody::Content {
            content: "<r:Answer xmlns:r=\"urn://edugate/test\"><r:Mark>5</r:Mark></r:Answer>".into(),
            personal_signature: None,
            attachment_headers: vec![],
        },
        ResponseBody::Rejected(vec![
            Rejection { code: RejectCode::NoData, description: "нет данных".into() },
            Rejection { code: RejectCode::AccessDenied, description: "a < b & c".into() },
        ]),
        ResponseBody::Status(RequestStatus {
            code: 110,
            parameters: vec![("orderId".into(), "42".into())],
            description: "registered".into(),
        }),
    ];
    for body in bodies {
        let response =
            SendResponse { message_id: MessageId::new_v1(), to: "reply-token".into(), body, attachments: vec![] };
        let xml = build::send_response(Version::V1_3, &response, Some(&s)).unwrap();
        assert_schema_valid(&xml, Version::V1_3);
        all_signatures_verify(&xml);
        match call(&xml).body {
            CallBody::SendResponse(parsed, _) => assert_eq!(parsed, response),
            other => panic!("{other:?}"),
        }
    }
}

#[test]
fn selector_ack_and_status_round_trip() {
    let s = signer("portal");
    let selector = MessageTypeSelector {
        kind: Some(KindOfData::new("urn://edugate/progress/1.0.0", "ProgressRequest")),
        timestamp: now_datetime(),
        node_id: Some("node-1".into()),
    };
    match call(&build::get_request(Version::V1_3, &selector, Some(&s)).unwrap()).body {
        CallBody::GetRequest(parsed) => assert_eq!(parsed, selector),
        other => panic!("{other:?}"),
    }
    let ack = Ack { message_id: MessageId::new_v1().to_string(), accepted: false };
    let xml = build::ack(Version::V1_3, &ack, Some(&s)).unwrap();
    assert_schema_valid(&xml, Version::V1_3);
    match call(&xml).body {
        CallBody::Ack(parsed) => assert_eq!(parsed, ack),
        other => panic!("{other:?}"),
    }
}

/// mock-smev delivers the consumer's `SenderProvidedRequestData` inside its own `Request`: the consumer's signature
/// and SMEV's signature must both verify in the delivered message.
#[test]
fn delivered_request_keeps_the_senders_signature() {
    let portal = signer("portal");
    let smev = signer("mock-smev");
    let request = rich_request();
    let sent = build::send_request(Version::V1_3, &request, Some(&portal)).unwrap();
    let doc = parse_xml(&sent, &Limits::default()).unwrap();
    let c = parse::parse_call(&doc).unwrap();
    let data = doc.self_contained_source(c.signed_node);
    let signature = doc.self_contained_source(c.signature.unwrap());
    let metadata = MessageMetadata {
        message_id: Some(request.message_id.to_string()),
        message_type: MessageType::Request,
        sender: Some(Party { mnemonic: Some("PORTAL".into()), human_readable_name: "Портал".into() }),
        sending_timestamp: now_datetime(),
        recipient: Some(Party { mnemonic: Some("EDUGATE".into()), human_readable_name: "edugate".into() }),
        delivery_timestamp: Some(now_datetime()),
        status: Some("messageIsDelivered".into()),
    };
    let delivered = DeliveredRequest {
        sender_provided_data: &data,
        metadata: metadata.clone(),
        reply_to: Some("reply-token".into()),
        sender_signature: Some(&signature),
        attachments: request.attachments.clone(),
    };
    let xml = build::get_request_response(Version::V1_3, Some(&delivered), Some(&smev)).unwrap();
    assert_schema_valid(&xml, Version::V1_3);
    assert_eq!(all_signatures_verify(&xml), 2, "SMEV's signature and the consumer's");
    let doc = parse_xml(&xml, &Limits::default()).unwrap();
    let received = parse::received_request(&doc).unwrap().expect("a request");
    assert_eq!(received.request, request);
    assert_eq!(received.metadata, metadata);
    assert_eq!(received.reply_to.as_deref(), Some("reply-token"));
    let reports = verify_document(&doc, &VerifyOptions::default()).unwrap();
    let covered: Vec<_> = reports.iter().map(|r| r.outcome.as_ref().unwrap().signed_element()).collect();
    assert!(covered.contains(&received.data_node) && covered.contains(&received.request_node));

    let empty = build::get_request_response(Version::V1_3, None, Some(&smev)).unwrap();
    assert_schema_valid(&empty, Version::V1_3);
    assert!(parse::received_request(&parse_xml(&empty, &Limits::default()).unwrap()).unwrap().is_none());
}

#[test]
fn delivered_response_and_async_rejection() {
    let smev = signer("mock-smev");
    let provider = signer("gateway");
    let response = SendResponse {
        message_id: MessageId::new_v1(),
        to: "reply-token".into(),
        body: ResponseBody::Rejected(vec![Rejection { code: RejectCode::NoData, description: "нет".into() }]),
        attachments: vec![],
    };
    let sent = build::send_response(Version::V1_3, &response, Some(&provider)).unwrap();
    let doc = parse_xml(&sent, &Limits::default()).unwrap();
    let c = parse::parse_call(&doc).unwrap();
    let data = doc.self_contained_source(c.signed_node);
    let metadata = MessageMetadata {
        message_id: Some(response.message_id.to_string()),
        message_type: MessageType::Response,
        sender: None,
        sending_timestamp: now_datetime(),
        recipient: None,
        delivery_timestamp: None,
        status: None,
    };
    let signature = doc.self_contained_source(c.signature.unwrap());
    let original = MessageId::new_v1().to_string();
    let delivered = DeliveredResponse {
        original_transaction_code: None,
        reference_message_id: None,
        original_message_id: Some(original.clone()),
        sender_provided_data: &data,
        metadata: metadata.clone(),
        sender_signature: Some(&signature),
        attachments: vec![],
    };
    let xml = build::get_response_response(Version::V1_3, Some(&delivered), Some(&smev)).unwrap();
    assert_schema_valid(&xml, Version::V1_3);
    assert_eq!(all_signatures_verify(&xml), 2);
    let got = parse::received_response(&parse_xml(&xml, &Limits::default()).unwrap()).unwrap().unwrap();
    assert_eq!(got.response, response);
    assert_eq!(got.original_message_id, Some(original.clone()));

    // SMEV's own asynchronous rejection, as the InvalidContent sample shows it.
    let status = AsyncProcessingStatus {
        original_message_id: original.clone(),
        category: "requestIsRejectedBySmev".into(),
        details: Some("content does not match the schema".into()),
        fault: Some(SmevFault::new(
            FaultKind::InvalidContent(vec![ValidationError { message: "cvc-complex-type.2.4.b".into(), position: -1 }]),
            "content does not match the schema",
        )),
    };
    let data = build::async_status_response_data(Version::V1_3, &MessageId::new_v1(), "reply", &status);
    let delivered = DeliveredResponse {
        original_message_id: Some(original),
        original_transaction_code: None,
        reference_message_id: None,
        sender_provided_data: &data,
        metadata,
        sender_signature: None,
        attachments: vec![],
    };
    let xml = build::get_response_response(Version::V1_3, Some(&delivered), Some(&smev)).unwrap();
    assert_schema_valid(&xml, Version::V1_3);
    let got = parse::received_response(&parse_xml(&xml, &Limits::default()).unwrap()).unwrap().unwrap();
    match got.response.body {
        ResponseBody::AsyncStatus(s) => {
            assert_eq!(s.category, "requestIsRejectedBySmev");
            assert!(matches!(s.fault.unwrap().kind, FaultKind::InvalidContent(e) if e.len() == 1));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn receipts_status_and_ack_responses() {
    let smev = signer("mock-smev");
    let metadata = MessageMetadata {
        message_id: Some(MessageId::new_v1().to_string()),
        message_type: MessageType::Request,
        sender: Some(Party { mnemonic: Some("EDUGATE".into()), human_readable_name: "edugate".into() }),
        sending_timestamp: now_datetime(),
        recipient: Some(Party { mnemonic: Some("EPGU".into()), human_readable_name: "ЕПГУ".into() }),
        delivery_timestamp: None,
        status: Some("requestIsQueued".into()),
    };
    let xml = build::send_request_response(Version::V1_3, &metadata, Some(&smev)).unwrap();
    assert_schema_valid(&xml, Version::V1_3);
    all_signatures_verify(&xml);
    let (parsed, _) =
        parse::send_receipt(&parse_xml(&xml, &Limits::default()).unwrap(), Operation::SendRequest).unwrap();
    assert_eq!(parsed, metadata);

    let status = AsyncProcessingStatus {
        original_message_id: MessageId::new_v1().to_string(),
        category: "requestIsAcceptedBySmev".into(),
        details: None,
        fault: None,
    };
    let xml = build::get_status_response(Version::V1_3, Some(&status), Some(&smev)).unwrap();
    assert_schema_valid(&xml, Version::V1_3);
    assert_eq!(parse::status_response(&parse_xml(&xml, &Limits::default()).unwrap()).unwrap(), Some(status));
    let xml = build::ack_response(Version::V1_3);
    assert_schema_valid(&xml, Version::V1_3);
    parse::ack_response(&parse_xml(&xml, &Limits::default()).unwrap()).unwrap();
}

#[test]
fn async_status_faults_with_sizes_name_their_type() {
    // In `AsyncProcessingStatus/SmevFault` (a `basic:SmevFault`) the size fields are only valid under `xsi:type`.
    let smev = signer("mock-smev");
    for version in [Version::V1_3, Version::V1_2] {
        for kind in [
            FaultKind::QuoteLimitExceeded { remained_total_quote_size: 0, real_total_attachment_size: 10 },
            FaultKind::AttachmentSizeLimitExceeded {
                permitted_total_attachment_size: 5,
                real_total_attachment_size: 6,
            },
        ] {
            let status = AsyncProcessingStatus {
                original_message_id: MessageId::new_v1().to_string(),
                category: "requestIsRejectedBySmev".into(),
                details: None,
                fault: Some(SmevFault::new(kind.clone(), "refused")),
            };
            let xml = build::get_status_response(version, Some(&status), Some(&smev)).unwrap();
            assert_schema_valid(&xml, version);
            let parsed = parse::status_response(&parse_xml(&xml, &Limits::default()).unwrap()).unwrap().unwrap();
            assert_eq!(parsed.fault.unwrap().kind, kind);
        }
    }
}

#[test]
fn every_fault_round_trips_with_its_retry_class() {
    let mut kinds = vec![
        FaultKind::MessageIsAlreadySent,
        FaultKind::StaleMessageId,
        FaultKind::SmevFailure,
        FaultKind::EndOfLifeReached,
        FaultKind::DestinationOverflow { broker: "mq".into(), destination: "q1".into() },
        FaultKind::QuoteLimitExceeded { remained_total_quote_size: 0, real_total_attachment_size: 4096 },
        FaultKind::InvalidContent(vec![ValidationError { message: "bad".into(), position: 3 }]),
        FaultKind::SenderIsNotRegistered,
        FaultKind::RecipientIsNotFound,
        FaultKind::AccessDenied,
        FaultKind::BusinessDataTypeIsNotSupported { namespace_uri: "urn:x".into(), root_element: "Y".into() },
        FaultKind::InvalidMessageIdFormat,
        FaultKind::TransactionCodeInvalid,
        FaultKind::UnknownMessageType,
        FaultKind::AttachmentSizeLimitExceeded {
            permitted_total_attachment_size: 5_242_880,
            real_total_attachment_size: 5_242_881,
        },
        FaultKind::TargetMessageIsNotFound,
        FaultKind::PersonalAccessDenied,
        FaultKind::AttachmentContentMiscoordination,
        FaultKind::RequestIsNotFound,
        FaultKind::IncorrectResponseContentType,
        FaultKind::Unspecified,
    ];
    kinds.extend(SignatureFaultKind::ALL.map(FaultKind::SignatureVerification));
    for (version, kind) in [Version::V1_3, Version::V1_2].into_iter().flat_map(|v| kinds.iter().map(move |k| (v, k))) {
        let fault = SmevFault::new(kind.clone(), "описание & <детали>");
        let xml = build::fault(version, &fault);
        let doc = parse_xml(&xml, &Limits::default()).unwrap();
        let detail = doc
            .child_elements(parse::body_child(&doc).unwrap())
            .find(|&c| doc.element(c).local == "detail")
            .and_then(|d| doc.child_elements(d).next());
        if let Some(detail) = detail {
            assert_element_valid(&doc.self_contained_source(detail), version);
        }
        match parse::expect_body(&doc, "SendRequestResponse") {
            Err(SmevError::Fault(parsed)) => {
                assert_eq!(parsed.kind, kind.in_version(version));
                assert_eq!(parsed.retry_class(), kind.in_version(version).retry_class());
                assert_eq!(parsed.faultstring, "описание & <детали>");
                assert_eq!(parsed.faultcode, "soap:Server");
            }
            other => panic!("{}: {other:?}", kind.name()),
        }
    }
}

fn read_sample(name: &str) -> Option<Vec<u8>> {
    shared().map(|r| std::fs::read(r.join("samples").join(name)).unwrap())
}

#[test]
fn real_smev_samples_parse() {
    let Some(bytes) = read_sample("SoapFaultResponse_SignatureVerificationFault.xml") else { return };
    let doc = edugate::xml::parse_bytes(&bytes, &Limits::default()).unwrap();
    match parse::expect_body(&doc, "SendRequestResponse") {
        Err(SmevError::Fault(f)) => {
            assert_eq!(f.kind, FaultKind::SignatureVerification(SignatureFaultKind::CertificateIsExpired));
            assert_eq!(f.retry_class(), RetryClass::Final);
            assert!(f.code.unwrap().starts_with("tsmev3"));
        }
        other => panic!("{other:?}"),
    }
    let bytes = read_sample("SoapFaultResponse.xml").unwrap();
    let doc = edugate::xml::parse_bytes(&bytes, &Limits::default()).unwrap();
    assert!(
        matches!(parse::expect_body(&doc, "AckResponse"), Err(SmevError::Fault(f)) if f.kind == FaultKind::Unspecified)
    );

    let bytes = read_sample("GetResponseResponce_EmptyQueue.xml").unwrap();
    let doc = edugate::xml::parse_bytes(&bytes, &Limits::default()).unwrap();
    assert!(parse::received_response(&doc).unwrap().is_none());

    let bytes = read_sample("GetResponseResponce_InvalidContent.xml").unwrap();
    let doc = edugate::xml::parse_bytes(&bytes, &Limits::default()).unwrap();
    let got = parse::received_response(&doc).unwrap().unwrap();
    match got.response.body {
        ResponseBody::AsyncStatus(s) => {
            assert_eq!(s.category, "requestIsRejectedBySmev");
            assert!(matches!(s.fault.unwrap().kind, FaultKind::InvalidContent(_)));
        }
        other => panic!("{other:?}"),
    }

    let bytes = read_sample("SendRequestResponce.xml").unwrap();
    let doc = edugate::xml::parse_bytes(&bytes, &Limits::default()).unwrap();
    let (m, _) = parse::send_receipt(&doc, Operation::SendRequest).unwrap();
    assert_eq!(m.message_type, MessageType::Request);

    let bytes = read_sample("GetResponseResponce_MultipartEmptyQueue.xml").unwrap();
    let boundary = String::from_utf8_lossy(&bytes).lines().next().unwrap().trim_start_matches("--").trim().to_string();
    let multipart =
        mtom::decode(&format!("multipart/related; type=\"application/xop+xml\"; boundary=\"{boundary}\""), &bytes)
            .unwrap();
    let doc = edugate::xml::parse_bytes(multipart.root.body, &Limits::default()).unwrap();
    assert!(parse::received_response(&doc).unwrap().is_none());
}

/// The element names under `soap:Fault` and under its detail, with the faultcode.
fn fault_shape(bytes: &[u8]) -> (String, Vec<String>, Vec<String>) {
    let doc = edugate::xml::parse_bytes(bytes, &Limits::default()).unwrap();
    let fault = parse::body_child(&doc).unwrap();
    let names = |node| doc.child_elements(node).map(|c| doc.element(c).local.to_string()).collect::<Vec<_>>();
    let code = doc.child_elements(fault).find(|&c| doc.element(c).local == "faultcode").unwrap();
    let detail = doc.child_elements(fault).find(|&c| doc.element(c).local == "detail").unwrap();
    let typed = doc.child_elements(detail).next().unwrap();
    (doc.text(code).trim().to_string(), names(fault), names(typed))
}

/// mock-smev once answered `SignatureVerificationFault` with `soap:Client`; SMEV answers `soap:Server`, with `Code`,
/// `Description` and the subtype in the detail.
#[test]
fn signature_fault_has_the_shape_of_the_real_one() {
    let Some(real) = read_sample("SoapFaultResponse_SignatureVerificationFault.xml") else { return };
    let mut ours =
        SmevFault::new(FaultKind::SignatureVerification(SignatureFaultKind::CertificateIsExpired), "expired");
    ours.code = Some("EDUGATE:MOCK".into());
    assert_eq!(fault_shape(build::fault(Version::V1_2, &ours).as_bytes()), fault_shape(&real));
}

#[test]
fn malformed_envelopes_are_errors_not_panics() {
    let cases = [
        "<a/>",
        "<soap:Envelope xmlns:soap=\"http://schemas.xmlsoap.org/soap/envelope/\"/>",
        "<soap:Envelope xmlns:soap=\"http://schemas.xmlsoap.org/soap/envelope/\"><soap:Body/></soap:Envelope>",
        "<soap:Envelope xmlns:soap=\"http://schemas.xmlsoap.org/soap/envelope/\"><soap:Body><x:Foo xmlns:x=\"urn:x\"/></soap:Body></soap:Envelope>",
        "<soap:Envelope xmlns:soap=\"http://schemas.xmlsoap.org/soap/envelope/\"><soap:Body><ns:SendRequestRequest xmlns:ns=\"urn://x-artefacts-smev-gov-ru/services/message-exchange/types/1.3\"/></soap:Body></soap:Envelope>",
        "<soap:Envelope xmlns:soap=\"http://schemas.xmlsoap.org/soap/envelope/\"><soap:Body><ns:AckRequest xmlns:ns=\"urn://x-artefacts-smev-gov-ru/services/message-exchange/types/1.3\"><ns:Junk/></ns:AckRequest></soap:Body></soap:Envelope>",
    ];
    for case in cases {
        let doc = parse_xml(case, &Limits::default()).unwrap();
        assert!(parse::parse_call(&doc).is_err(), "{case}");
    }
    let _ = Path::new("");
}
