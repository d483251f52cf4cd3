//! The SOAP core, driven in process: a full exchange, and each way a call is refused with the exact SMEV fault and
//! nothing queued.
use edugate::crypto::{Certificate, PrivateKey};
use edugate::dsig::Signer;
use edugate::smev::build;
use edugate::smev::parse;
use edugate::smev::*;
use edugate::xml::{parse as parse_xml, Limits};
use mock_smev::config::{certs_dev, Config, KindConfig};
use mock_smev::soap::Emulator;
use mock_smev::{Clock, ListFilter, ManualClock, Queues};
use std::sync::Arc;

fn signer(name: &str) -> Signer {
    edugate::crypto::ensure_default_engine().unwrap();
    let dir = certs_dev();
    let key = PrivateKey::from_pem(&std::fs::read(dir.join(format!("{name}.key"))).unwrap()).unwrap();
    Signer::new(key, Certificate::load(&dir.join(format!("{name}.crt"))).unwrap()).unwrap()
}

const PROGRESS_NS: &str = "urn://edugate/progress/1.0.0";

fn progress(snils: &str) -> String {
    format!(
        "<p:ProgressRequest xmlns:p=\"{PROGRESS_NS}\"><p:ApplicantSnils>{snils}</p:ApplicantSnils>\
         <p:PeriodFrom>2026-09-01</p:PeriodFrom><p:PeriodTo>2026-12-31</p:PeriodTo></p:ProgressRequest>"
    )
}

/// An emulator on a manual clock at the current time, with an XSD for the validated kind.
fn emulator(dir: &std::path::Path) -> (Emulator, Arc<ManualClock>) {
    let xsd = dir.join("validated.xsd");
    std::fs::write(
        &xsd,
        r#"<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema" targetNamespace="urn://edugate/validated/1.0.0" elementFormDefault="qualified">
  <xs:element name="Validated"><xs:complexType><xs:sequence>
    <xs:element name="Snils" type="xs:string"/>
  </xs:sequence></xs:complexType></xs:element>
</xs:schema>"#,
    )
    .unwrap();
    let mut config = Config::default();
    config.kinds.push(KindConfig {
        namespace: "urn://edugate/validated/1.0.0".into(),
        root: "Validated".into(),
        provider: "EDUGATE".into(),
        xsd: Some(xsd),
    });
    // Registered, but its certificate has expired.
    config.systems.push(mock_smev::config::SystemConfig {
        mnemonic: "EXPIRED".into(),
        name: String::new(),
        cert: certs_dev().join("expired.crt"),
        key: None,
    });
    config.validate().unwrap();
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as u64;
    let clock = Arc::new(ManualClock::new(now));
    let queues =
        Queues::open(Arc::new(mock_smev::MemoryStore::new()), clock.clone(), config.limits.queue_limits()).unwrap();
    (Emulator::with_queues(config, queues, clock.clone()).unwrap(), clock)
}

fn queued(e: &Emulator) -> usize {
    e.queues().list(&ListFilter::default()).len()
}

fn fault_of(e: &Emulator, envelope: &str) -> SmevFault {
    let reply = e.handle(Version::V1_3, envelope.as_bytes());
    assert_eq!(reply.status, 500, "{}", reply.body);
    // The fault on the wire parses back to the same kind.
    let doc = parse_xml(&reply.body, &Limits::default()).unwrap();
    match parse::expect_body(&doc, "SendRequestResponse") {
        Err(SmevError::Fault(f)) => assert_eq!(Some(&f.kind), reply.fault.as_ref().map(|f| &f.kind)),
        other => panic!("not a fault: {other:?}"),
    }
    reply.fault.unwrap()
}

#[test]
fn a_full_exchange_in_process() {
    let dir = tempfile::tempdir().unwrap();
    let (e, _) = emulator(dir.path());
    let gateway = signer("gateway");
    let request_id = e.portal_send(&progress("112-233-445 95"), false).unwrap();

    let selector = MessageTypeSelector {
        kind: Some(KindOfData::new(PROGRESS_NS, "ProgressRequest")),
        timestamp: now_datetime(),
        node_id: None,
    };
    let reply =
        e.handle(Version::V1_3, build::get_request(Version::V1_3, &selector, Some(&gateway)).unwrap().as_bytes());
    assert_eq!(reply.status, 200, "{}", reply.body);
    let doc = parse_xml(&reply.body, &Limits::default()).unwrap();
    let received = parse::received_request(&doc).unwrap().expect("the portal's request");
    assert_eq!(received.request.message_id.as_str(), request_id);
    let reports = edugate::dsig::verify_document(&doc, &Default::default()).unwrap();
    assert_eq!(reports.len(), 2);
    assert!(reports.iter().all(|r| r.outcome.is_ok()));

    let response = SendResponse {
        message_id: MessageId::new_v1(),
        to: received.reply_to.clone().unwrap(),
        body: ResponseBody::Rejected(vec![Rejection {
            code: RejectCode::NoData, description: "нет данных".into()
        }]),
        attachments: vec![],
    };
    let reply =
        e.handle(Version::V1_3, build::send_response(Version::V1_3, &response, Some(&gateway)).unwrap().as_bytes());
    assert_eq!(reply.status, 200, "{}", reply.body);
    let ack = Ack { message_id: received.metadata.message_id.clone().unwrap(), accepted: true };
    let reply = e.handle(Version::V1_3, build::ack(Version::V1_3, &ack, Some(&gateway)).unwrap().as_bytes());
    assert_eq!(reply.status, 200, "{}", reply.body);

    assert_eq!(e.portal_poll().unwrap(), 1);
    let got = e.portal_response(&request_id).unwrap();
    assert!(got.signatures_valid);
    assert!(matches!(got.body, ResponseBody::Rejected(ref r) if r[0].code == RejectCode::NoData));

    // A second Ack of the same message: it is no longer delivered to anyone.
    let f = fault_of(&e, &build::ack(Version::V1_3, &ack, Some(&gateway)).unwrap());
    assert_eq!(f.kind, FaultKind::TargetMessageIsNotFound);
}

#[test]
fn signature_faults_queue_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (e, _) = emulator(dir.path());
    let request = SendRequest::new(progress("112-233-445 95"));
    let signed = build::send_request(Version::V1_3, &request, Some(&signer("portal"))).unwrap();

    let unsigned = build::send_request(Version::V1_3, &request, None).unwrap();
    let tampered = signed.replace("112-233-445 95", "112-233-445 96");
    let unregistered = build::send_request(Version::V1_3, &request, Some(&signer("other"))).unwrap();
    let expired = build::send_request(Version::V1_3, &request, Some(&signer("expired"))).unwrap();
    let no_header = signed.replace("<soap:Header/>", "");
    // The signature covers the selector-like MessageID element's parent... point the reference at another element.
    let wrong_target = signed
        .replace("Id=\"SIGNED_BY_CONSUMER\"", "")
        .replace("<ns:MessageID>", "<ns:MessageID Id=\"SIGNED_BY_CONSUMER\">");
    let cases = [
        (unsigned, SignatureFaultKind::NoSignatureFound),
        (tampered, SignatureFaultKind::SignatureIsInvalid),
        (unregistered, SignatureFaultKind::CertificateIsNotFound),
        (expired, SignatureFaultKind::CertificateIsExpired),
        (no_header, SignatureFaultKind::PoorSoapEnvelopeFormat),
    ];
    for (envelope, expected) in cases {
        let f = fault_of(&e, &envelope);
        assert_eq!(f.kind, FaultKind::SignatureVerification(expected), "{}", f.faultstring);
        assert_eq!(f.retry_class(), RetryClass::Final);
    }
    // A reference moved to another element: the digest no longer matches, or the target is wrong.
    let f = fault_of(&e, &wrong_target);
    assert!(matches!(
        f.kind,
        FaultKind::SignatureVerification(
            SignatureFaultKind::SignatureIsInvalid | SignatureFaultKind::IncorrectSignatureTarget
        )
    ));
    assert_eq!(queued(&e), 0, "nothing refused is queued");
}

#[test]
fn a_signature_over_the_wrong_element_is_an_incorrect_target() {
    let dir = tempfile::tempdir().unwrap();
    let (e, _) = emulator(dir.path());
    let portal = signer("portal");
    // A valid signature, in the right place, over MessageID (given an Id of its own) instead of
    // SenderProvidedRequestData.
    let request = SendRequest::new(progress("112-233-445 95"));
    let unsigned = build::send_request(Version::V1_3, &request, None).unwrap();
    let with_id = unsigned.replace("<ns:MessageID>", "<ns:MessageID Id=\"OTHER\">");
    let doc = parse_xml(&with_id, &Limits::default()).unwrap();
    let target = doc.elements_with_id("OTHER").next().unwrap();
    let signature = portal.signature_xml(&doc, target, false).unwrap();
    let signed = with_id.replace(
        "</ns:SendRequestRequest>",
        &format!("<ns:CallerInformationSystemSignature>{signature}</ns:CallerInformationSystemSignature></ns:SendRequestRequest>"),
    );
    let f = fault_of(&e, &signed);
    assert_eq!(f.kind, FaultKind::SignatureVerification(SignatureFaultKind::IncorrectSignatureTarget));
    assert_eq!(queued(&e), 0);
}

#[test]
fn content_and_identity_faults_queue_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (e, clock) = emulator(dir.path());
    let portal = signer("portal");
    let send = |r: &SendRequest| build::send_request(Version::V1_3, r, Some(&portal)).unwrap();

    let invalid = SendRequest::new("<v:Validated xmlns:v=\"urn://edugate/validated/1.0.0\"><v:Wrong/></v:Validated>");
    match fault_of(&e, &send(&invalid)).kind {
        FaultKind::InvalidContent(errors) => assert!(!errors.is_empty() && errors[0].message.contains("Wrong")),
        other => panic!("{other:?}"),
    }
    let unknown_kind = SendRequest::new("<u:Unknown xmlns:u=\"urn://nobody\"/>");
    assert!(matches!(fault_of(&e, &send(&unknown_kind)).kind, FaultKind::BusinessDataTypeIsNotSupported { .. }));
    let mut not_v1 = SendRequest::new(progress("1"));
    not_v1.message_id = MessageId::parse("3f1c6d2e-8f5b-4c1a-9e2d-7b6a5c4d3e2f").unwrap();
    assert_eq!(fault_of(&e, &send(&not_v1)).kind, FaultKind::InvalidMessageIdFormat);
    let mut stale = SendRequest::new(progress("1"));
    stale.message_id = MessageId::v1_at(clock.now_ms() / 1000 - 3 * 24 * 3600, 0);
    assert_eq!(fault_of(&e, &send(&stale)).kind, FaultKind::StaleMessageId);
    let mut dead = SendRequest::new(progress("1"));
    dead.eol = Some("2000-01-01T00:00:00Z".into());
    assert_eq!(fault_of(&e, &send(&dead)).kind, FaultKind::EndOfLifeReached);
    assert_eq!(queued(&e), 0);

    let valid =
        SendRequest::new("<v:Validated xmlns:v=\"urn://edugate/validated/1.0.0\"><v:Snils>1</v:Snils></v:Validated>");
    assert_eq!(e.handle(Version::V1_3, send(&valid).as_bytes()).status, 200);
    assert_eq!(fault_of(&e, &send(&valid)).kind, FaultKind::MessageIsAlreadySent);
    assert_eq!(queued(&e), 1);
}

#[test]
fn malformed_input_gets_a_fault_never_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    let (e, _) = emulator(dir.path());
    let bomb = "<!DOCTYPE lolz [<!ENTITY lol \"lol\"><!ENTITY lol2 \"&lol;&lol;&lol;\">]><lolz>&lol2;</lolz>";
    let deep = "<a>".repeat(100_000);
    let cases: Vec<&[u8]> = vec![
        b"",
        b"not xml",
        b"\xff\xfe\x00<",
        bomb.as_bytes(),
        deep.as_bytes(),
        b"<soap:Envelope xmlns:soap=\"http://schemas.xmlsoap.org/soap/envelope/\"><soap:Header/><soap:Body/></soap:Envelope>",
        b"<soap:Envelope xmlns:soap=\"http://schemas.xmlsoap.org/soap/envelope/\"><soap:Header/><soap:Body><x:Y xmlns:x=\"urn:x\"/></soap:Body></soap:Envelope>",
    ];
    for body in cases {
        let reply = e.handle(Version::V1_3, body);
        assert!(
            reply.status >= 400 && reply.fault.is_some(),
            "{}",
            String::from_utf8_lossy(&body[..body.len().min(60)])
        );
        assert!(parse_xml(&reply.body, &Limits::default()).is_ok(), "the fault is well-formed XML");
    }
    let oversize = vec![b' '; e.config().limits.max_body_bytes + 1];
    assert_eq!(e.handle(Version::V1_3, &oversize).status, 413);
    assert_eq!(queued(&e), 0);
}

#[test]
fn redelivery_after_the_visibility_timeout() {
    let dir = tempfile::tempdir().unwrap();
    let (e, clock) = emulator(dir.path());
    let gateway = signer("gateway");
    e.portal_send(&progress("112-233-445 95"), false).unwrap();
    let poll = || {
        let selector = MessageTypeSelector { kind: None, timestamp: now_datetime(), node_id: None };
        let reply =
            e.handle(Version::V1_3, build::get_request(Version::V1_3, &selector, Some(&gateway)).unwrap().as_bytes());
        let doc = parse_xml(&reply.body, &Limits::default()).unwrap();
        parse::received_request(&doc).unwrap().map(|r| r.request.message_id)
    };
    let first = poll().expect("delivered");
    assert_eq!(poll(), None, "invisible while unacknowledged");
    clock.advance(e.config().limits.queue_limits().visibility_timeout + std::time::Duration::from_millis(1));
    assert_eq!(poll(), Some(first), "delivered again");
}

/// mock-smev once answered `QuoteLimitExceeded` without the sizes its schema requires.
#[test]
fn quote_limit_exceeded_reports_the_refused_attachments() {
    let mut config = Config::default();
    config.limits.quota_per_minute = 1;
    config.validate().unwrap();
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as u64;
    let clock = Arc::new(ManualClock::new(now));
    let queues =
        Queues::open(Arc::new(mock_smev::MemoryStore::new()), clock.clone(), config.limits.queue_limits()).unwrap();
    let e = Emulator::with_queues(config, queues, clock).unwrap();
    let portal = signer("portal");
    let with_attachment = |bytes: usize| {
        let mut r = SendRequest::new("<e:Echo xmlns:e=\"urn://edugate/echo/1.0.0\">x</e:Echo>");
        r.attachment_headers = vec![AttachmentHeader {
            content_id: "a1".into(),
            mime_type: "application/pdf".into(),
            signature_pkcs7: None,
        }];
        r.attachments = vec![AttachmentContent { id: "a1".into(), content: vec![7; bytes] }];
        build::send_request(Version::V1_3, &r, Some(&portal)).unwrap()
    };
    assert_eq!(e.handle(Version::V1_3, with_attachment(10).as_bytes()).status, 200);
    let f = fault_of(&e, &with_attachment(3000));
    assert_eq!(
        f.kind,
        FaultKind::QuoteLimitExceeded { remained_total_quote_size: 0, real_total_attachment_size: 3000 }
    );
    assert_eq!(queued(&e), 1);
}
