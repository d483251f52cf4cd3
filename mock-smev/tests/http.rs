//! mock-smev over real HTTP on loopback: the server runs in-process on port 0, the portal and the gateway talk to
//! it with edugate's own `SmevClient`, and the control API is driven with plain JSON requests.
//!
//! No test asserts a wall-clock duration: latency is checked by the call still succeeding, or by a client timeout
//! shorter than the injected delay.

use edugate::crypto::{ensure_default_engine, Certificate, PrivateKey};
use edugate::dsig::{verify_document, Signer, VerifyOptions};
use edugate::smev::client::{ClientConfig, ClientError, SmevClient};
use edugate::smev::parse;
use edugate::smev::{
    FaultKind, KindOfData, MessageId, Operation, RejectCode, Rejection, ResponseBody, RetryClass, SendRequest,
    SendResponse, Version,
};
use edugate::xml::{self, Limits};
use mock_smev::config::{certs_dev, Config};
use mock_smev::inject::{fault_label, injectable_faults};
use mock_smev::server::{self, AppState, ServerOptions};
use mock_smev::soap::Emulator;
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// A valid request of the progress kind of data (valid against `xsd/progress-1.0.0.xsd` too).
const PROGRESS: &str = "<p:ProgressRequest xmlns:p=\"urn://edugate/progress/1.0.0\">\
    <p:ApplicantSnils>112-233-445 95</p:ApplicantSnils><p:PeriodFrom>2026-09-01</p:PeriodFrom>\
    <p:PeriodTo>2026-10-31</p:PeriodTo></p:ProgressRequest>";

/// A provider's answer (valid against `xsd/progress-1.0.0.xsd`: mock-smev validates responses in a namespace it has a
/// schema for).
const ANSWER: &str =
    "<a:ProgressResponse xmlns:a=\"urn://edugate/progress/1.0.0\"><a:Pupil><a:Surname>Иванов</a:Surname>\
    <a:Name>Пётр</a:Name><a:School><a:Code>S1</a:Code><a:Name>Школа №1</a:Name></a:School><a:Class>3А</a:Class>\
    <a:PeriodFrom>2026-09-01</a:PeriodFrom><a:PeriodTo>2026-10-31</a:PeriodTo><a:Subject><a:Name>Математика</a:Name>\
    <a:YearMark>5</a:YearMark></a:Subject></a:Pupil></a:ProgressResponse>";

fn progress_kind() -> KindOfData {
    KindOfData::new("urn://edugate/progress/1.0.0", "ProgressRequest")
}

fn signer(name: &str) -> Arc<Signer> {
    ensure_default_engine().unwrap();
    let dir = certs_dev();
    let key = PrivateKey::from_pem(&std::fs::read(dir.join(format!("{name}.key"))).unwrap()).unwrap();
    Arc::new(Signer::new(key, Certificate::load(&dir.join(format!("{name}.crt"))).unwrap()).unwrap())
}

/// The emulator serving on a loopback port for one test.
struct TestServer {
    addr: SocketAddr,
    state: Arc<AppState>,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<std::io::Result<()>>>,
    http: reqwest::Client,
}

impl TestServer {
    /// Options for tests: a one-second read timeout, so stalled bodies are seen quickly, and a short grace.
    fn options() -> ServerOptions {
        ServerOptions { read_timeout: Duration::from_secs(1), grace: Duration::from_millis(500), seed: 7 }
    }

    async fn start(config: Config) -> TestServer {
        TestServer::start_with(config, TestServer::options()).await
    }

    async fn start_with(config: Config, options: ServerOptions) -> TestServer {
        let state = AppState::new(Emulator::open(config).unwrap(), options);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(server::run(listener, state.clone(), async move {
            let _ = stopped.await;
        }));
        TestServer { addr, state, stop: Some(stop), task: Some(task), http: reqwest::Client::new() }
    }

    async fn default() -> TestServer {
        TestServer::start(Config::default()).await
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    fn client_with(&self, who: &str, version: Version, read_timeout: Duration) -> SmevClient {
        let path = if version == Version::V1_2 { "/smev/1.2" } else { "/smev/1.3" };
        let mut config = ClientConfig::new(self.url(path));
        config.version = version;
        config.read_timeout = read_timeout;
        SmevClient::new(config, signer(who)).unwrap()
    }

    fn client(&self, who: &str) -> SmevClient {
        self.client_with(who, Version::V1_3, Duration::from_secs(10))
    }

    async fn json(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> (StatusCode, Value) {
        let mut request = self.http.request(method, self.url(path));
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        let status = response.status();
        let content_type = response.headers()["content-type"].to_str().unwrap().to_string();
        assert!(content_type.starts_with("application/json"), "{path}: {content_type}");
        (status, response.json().await.unwrap())
    }

    async fn get(&self, path: &str) -> (StatusCode, Value) {
        self.json(reqwest::Method::GET, path, None).await
    }

    async fn post(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.json(reqwest::Method::POST, path, Some(body)).await
    }

    async fn inject(&self, path: &str, body: Value) -> Value {
        let (status, rule) = self.post(path, body.clone()).await;
        assert_eq!(status, StatusCode::CREATED, "{body}: {rule}");
        rule
    }

    async fn rules(&self) -> Vec<Value> {
        self.get("/control/faults").await.1["rules"].as_array().unwrap().clone()
    }

    /// Stops the server and waits for it to drain.
    async fn stop(mut self) {
        let _ = self.stop.take().unwrap().send(());
        let done = tokio::time::timeout(Duration::from_secs(60), self.task.take().unwrap()).await;
        done.expect("the server stops within its grace period").unwrap().unwrap();
    }
}

/// Parses a SOAP fault answer.
fn read_soap_fault(body: &str) -> edugate::smev::SmevFault {
    let doc = xml::parse(body, &Limits::default()).unwrap_or_else(|e| panic!("{e}: {body}"));
    let child = parse::body_child(&doc).unwrap();
    assert!(doc.is(child, edugate::smev::SOAP_ENV_NS, "Fault"), "{body}");
    parse::read_fault(&doc, child)
}

/// What the facts say a sender does about each fault (smev3-facts.md, "Faults").
fn expected_retry_class(kind: &FaultKind) -> RetryClass {
    match kind {
        FaultKind::MessageIsAlreadySent => RetryClass::AlreadyDone,
        FaultKind::StaleMessageId => RetryClass::NewMessageId,
        FaultKind::SmevFailure | FaultKind::Unspecified => RetryClass::Retry,
        FaultKind::EndOfLifeReached => RetryClass::RetryWithLaterEol,
        FaultKind::DestinationOverflow { .. } | FaultKind::QuoteLimitExceeded { .. } => RetryClass::BackOffAndAlert,
        _ => RetryClass::Final,
    }
}

/// Runs one call of `operation` and returns its error, if any.
async fn call(client: &SmevClient, operation: Operation) -> Result<(), ClientError> {
    match operation {
        Operation::SendRequest => client.send_request(&SendRequest::new(PROGRESS)).await.map(drop),
        Operation::SendResponse => {
            let response = SendResponse {
                message_id: MessageId::new_v1(),
                to: "no-such-request".into(),
                body: ResponseBody::Rejected(vec![Rejection { code: RejectCode::NoData, description: "-".into() }]),
                attachments: vec![],
            };
            client.send_response(&response).await.map(drop)
        }
        Operation::GetRequest => client.get_request(None).await.map(drop),
        Operation::GetResponse => client.get_response(None).await.map(drop),
        Operation::Ack => client.ack(&MessageId::new_v1().to_string(), true).await,
        Operation::GetStatus => client.get_status().await.map(drop),
        Operation::GetIncomingQueueStatistics => unreachable!("not a client call"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn full_cycle_in_both_versions() {
    let server = TestServer::default().await;
    for version in [Version::V1_3, Version::V1_2] {
        let portal = server.client_with("portal", version, Duration::from_secs(10));
        let gateway = server.client_with("gateway", version, Duration::from_secs(10));
        let request = SendRequest::new(PROGRESS);
        let id = request.message_id.to_string();

        let receipt = portal.send_request(&request).await.unwrap();
        assert_eq!(receipt.message_id.as_deref(), Some(id.as_str()));
        assert_eq!(receipt.status.as_deref(), Some("requestIsQueued"));

        let delivered = gateway.get_request(Some(&progress_kind())).await.unwrap().expect("a request");
        assert_eq!(delivered.message.request.message_id, request.message_id);
        assert_eq!(delivered.message.kind, progress_kind());
        let sender = delivered.message.metadata.sender.as_ref().and_then(|p| p.mnemonic.as_deref());
        assert_eq!(sender, Some("EPGU"));
        let doc = xml::parse(&delivered.envelope, &Limits::default()).unwrap();
        let reports = verify_document(&doc, &VerifyOptions::default()).unwrap();
        assert_eq!(reports.len(), 2, "the portal's signature and SMEV's");
        assert!(reports.iter().all(|r| r.outcome.is_ok()));

        let response = SendResponse {
            message_id: MessageId::new_v1(),
            to: delivered.message.reply_to.clone().expect("ReplyTo"),
            body: ResponseBody::Content {
                content: ANSWER.into(),
                personal_signature: None,
                attachment_headers: vec![],
            },
            attachments: vec![],
        };
        gateway.send_response(&response).await.unwrap();
        let smev_id = delivered.message.metadata.message_id.clone().unwrap();
        gateway.ack(&smev_id, true).await.unwrap();
        assert!(gateway.get_request(None).await.unwrap().is_none(), "an acknowledged request is gone");
        let again = gateway.ack(&smev_id, true).await.unwrap_err();
        assert!(matches!(&again, ClientError::Fault(f) if f.kind == FaultKind::TargetMessageIsNotFound), "{again}");

        let answer = portal.get_response(None).await.unwrap().expect("a response");
        assert_eq!(answer.message.original_message_id.as_deref(), Some(id.as_str()));
        match &answer.message.response.body {
            ResponseBody::Content { content, .. } => {
                assert!(content.contains("<a:YearMark>5</a:YearMark>"), "{content}")
            }
            other => panic!("{other:?}"),
        }
        portal.ack(answer.message.metadata.message_id.as_deref().unwrap(), true).await.unwrap();
        assert!(portal.get_response(None).await.unwrap().is_none());

        let status = portal.get_status().await.unwrap().expect("a status");
        assert_eq!((status.original_message_id.as_str(), status.category.as_str()), (id.as_str(), "requestIsQueued"));

        let (code, message) = server.get(&format!("/control/messages/{id}")).await;
        assert_eq!(code, StatusCode::OK);
        let history: Vec<&str> =
            message["history"].as_array().unwrap().iter().map(|e| e["status"].as_str().unwrap()).collect();
        assert_eq!(
            history,
            ["requestIsQueued", "messageIsDelivered", "requestIsProcessed", "responseIsQueued", "responseIsProcessed"]
        );
        assert_eq!(message["state"], "acknowledged");
    }
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_injectable_fault_reaches_the_client_with_its_retry_class() {
    let server = TestServer::default().await;
    let portal = server.client("portal");
    let operations = [
        Operation::SendRequest,
        Operation::GetRequest,
        Operation::SendResponse,
        Operation::GetResponse,
        Operation::Ack,
        Operation::GetStatus,
    ];
    let kinds = injectable_faults();
    assert!(kinds.len() >= 27, "every fault of the schema, each signature subtype, and a fault without detail");
    for (i, kind) in kinds.iter().enumerate() {
        let operation = operations[i % operations.len()];
        let label = fault_label(kind);
        server.inject("/control/faults", json!({ "operation": operation.name(), "fault": label, "count": 1 })).await;
        let error = call(&portal, operation).await.expect_err(&label);
        let ClientError::Fault(fault) = &error else { panic!("{label}: {error:?}") };
        assert_eq!(&fault.kind, kind, "{label}");
        assert_eq!(error.retry_class(), expected_retry_class(kind), "{label}");
        assert_eq!(error.retry_class(), fault.retry_class(), "{label}");
    }
    let rules = server.rules().await;
    assert_eq!(rules.len(), kinds.len());
    assert!(rules.iter().all(|r| r["fired"] == 1 && r["remaining"] == 0), "{rules:?}");
    // Used-up rules change nothing any more, and none of the injected calls touched a queue.
    call(&portal, Operation::GetStatus).await.unwrap();
    assert_eq!(server.get("/control/messages").await.1["messages"], json!([]));
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bare_signature_fault_and_every_operation() {
    let server = TestServer::default().await;
    let gateway = server.client("gateway");
    let rule = server.inject("/control/faults", json!({ "fault": "SignatureVerificationFault", "count": 2 })).await;
    assert_eq!(
        (rule["operation"].as_str(), rule["fault"].as_str()),
        (Some("*"), Some("SignatureVerificationFault/SignatureIsInvalid"))
    );
    for operation in [Operation::GetRequest, Operation::Ack] {
        match call(&gateway, operation).await {
            Err(ClientError::Fault(f)) => {
                assert_eq!(f.to_string().split(':').next(), Some("SignatureVerificationFault/SignatureIsInvalid"))
            }
            other => panic!("{other:?}"),
        }
    }
    call(&gateway, Operation::GetRequest).await.unwrap();
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn latency_delays_calls_and_a_shorter_client_timeout_sees_it() {
    let server = TestServer::default().await;
    let gateway = server.client("gateway");
    server.inject("/control/latency", json!({ "operation": "GetStatus", "ms": 150, "count": 1 })).await;
    gateway.get_status().await.unwrap();
    server.inject("/control/latency", json!({ "operation": "GetRequest", "ms": 30_000 })).await;
    let impatient = server.client_with("gateway", Version::V1_3, Duration::from_secs(1));
    let error = impatient.get_request(None).await.unwrap_err();
    assert!(matches!(error, ClientError::Timeout(_)), "{error:?}");
    assert_eq!(error.retry_class(), RetryClass::Retry);
    // Other operations are not delayed, so the impatient client gets its answer.
    impatient.get_status().await.unwrap();
    let rules = server.rules().await;
    assert_eq!((rules[0]["fired"].as_u64(), rules[0]["remaining"].as_u64()), (Some(1), Some(0)));
    assert_eq!((rules[1]["fired"].as_u64(), rules[1]["ms"].as_u64()), (Some(1), Some(30_000)));
    assert!(rules[1].get("remaining").is_none(), "a latency without count applies to every call");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropped_connections_are_transport_errors_and_change_nothing() {
    let server = TestServer::default().await;
    let portal = server.client("portal");
    server.inject("/control/drop", json!({ "operation": "SendRequest", "count": 2 })).await;
    let request = SendRequest::new(PROGRESS);
    for _ in 0..2 {
        let error = portal.send_request(&request).await.unwrap_err();
        assert!(matches!(error, ClientError::Transport(_)), "{error:?}");
        assert_eq!(error.retry_class(), RetryClass::Retry);
    }
    // The dropped calls never reached the queues: the retry is the first send, not a duplicate.
    portal.send_request(&request).await.unwrap();
    let error = portal.send_request(&request).await.unwrap_err();
    assert!(matches!(&error, ClientError::Fault(f) if f.kind == FaultKind::MessageIsAlreadySent), "{error:?}");
    assert_eq!(server.rules().await[0]["fired"], 2);
    assert_eq!(server.get("/control/messages").await.1["messages"].as_array().unwrap().len(), 1);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn probability_one_always_fails_and_zero_never() {
    let server = TestServer::default().await;
    let gateway = server.client("gateway");
    server
        .inject(
            "/control/faults",
            json!({ "operation": "GetStatus", "fault": "QuoteLimitExceeded", "probability": 1.0 }),
        )
        .await;
    for _ in 0..5 {
        let error = gateway.get_status().await.unwrap_err();
        assert!(
            matches!(&error, ClientError::Fault(f) if matches!(f.kind, FaultKind::QuoteLimitExceeded { .. })),
            "{error:?}"
        );
        assert_eq!(error.retry_class(), RetryClass::BackOffAndAlert);
    }
    server.inject("/control/drop", json!({ "operation": "GetRequest", "probability": 1.0 })).await;
    assert!(matches!(gateway.get_request(None).await, Err(ClientError::Transport(_))));
    let (status, cleared) = server.json(reqwest::Method::DELETE, "/control/faults", None).await;
    assert_eq!((status, cleared["cleared"].as_u64()), (StatusCode::OK, Some(2)));

    server.inject("/control/faults", json!({ "fault": "SMEVFailure", "probability": 0.0 })).await;
    server.inject("/control/drop", json!({ "probability": 0.0 })).await;
    for _ in 0..10 {
        gateway.get_status().await.unwrap();
        gateway.get_request(None).await.unwrap();
    }
    assert!(server.rules().await.iter().all(|r| r["fired"] == 0));
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn control_api() {
    let server = TestServer::default().await;
    let (status, health) = server.get("/healthz").await;
    assert_eq!((status, health), (StatusCode::OK, json!({ "status": "ok" })));

    let portal = server.client("portal");
    let gateway = server.client("gateway");
    let first = SendRequest::new(PROGRESS);
    let second = SendRequest::new("<e:Echo xmlns:e=\"urn://edugate/echo/1.0.0\">hi</e:Echo>");
    portal.send_request(&first).await.unwrap();
    portal.send_request(&second).await.unwrap();
    let delivered = gateway.get_request(Some(&progress_kind())).await.unwrap().unwrap();
    assert_eq!(delivered.message.request.message_id, first.message_id);

    let (_, queues) = server.get("/control/queues").await;
    assert_eq!(
        queues,
        json!({ "queues": [{ "recipient": "EDUGATE", "direction": "request", "pending": 2, "deliverable": 1 }] })
    );
    let ids = |list: &Value| -> Vec<String> {
        list["messages"].as_array().unwrap().iter().map(|m| m["message_id"].as_str().unwrap().to_string()).collect()
    };
    let (_, all) = server.get("/control/messages").await;
    assert_eq!(ids(&all), [first.message_id.to_string(), second.message_id.to_string()]);
    assert!(all["messages"][0].get("payload").is_none(), "summaries carry no payload");
    let (_, delivered_only) =
        server.get("/control/messages?state=delivered&direction=request&recipient=EDUGATE&sender=EPGU").await;
    assert_eq!(ids(&delivered_only), [first.message_id.to_string()]);
    let (_, queued) = server.get("/control/messages?state=queued").await;
    assert_eq!(ids(&queued), [second.message_id.to_string()]);
    let (_, none) = server.get("/control/messages?direction=response").await;
    assert_eq!(ids(&none), Vec::<String>::new());

    let (status, one) = server.get(&format!("/control/messages/{}", second.message_id)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!((one["sender"].as_str(), one["root_element"].as_str()), (Some("EPGU"), Some("Echo")));
    assert_eq!(one["history"], json!([{ "at_ms": one["accepted_ms"], "status": "requestIsQueued" }]));
    let payload = one["payload"].as_str().unwrap();
    assert!(payload.contains(">hi</e:Echo>") && payload.contains("CallerInformationSystemSignature"), "{payload}");

    for (path, want) in [
        ("/control/messages/00000000-0000-1000-8000-000000000000", StatusCode::NOT_FOUND),
        ("/control/messages?state=lost", StatusCode::BAD_REQUEST),
        ("/control/messages?colour=red", StatusCode::BAD_REQUEST),
        ("/control/nothing", StatusCode::NOT_FOUND),
    ] {
        let (status, error) = server.get(path).await;
        assert_eq!(status, want, "{path}: {error}");
        assert!(error["error"].as_str().is_some_and(|e| !e.is_empty()), "{path}: {error}");
    }
    for (path, body) in [
        ("/control/faults", json!({ "fault": "NoSuchFault" })),
        ("/control/faults", json!({ "operation": "Send", "fault": "SMEVFailure" })),
        ("/control/faults", json!({ "fault": "SMEVFailure", "count": 1, "probability": 0.5 })),
        ("/control/faults", json!({ "fault": "SMEVFailure", "probabilty": 0.5 })),
        ("/control/faults", json!({ "fault": "SMEVFailure", "probability": 2 })),
        ("/control/drop", json!({ "count": 0 })),
        ("/control/latency", json!({ "operation": "Ack" })),
    ] {
        let (status, error) = server.post(path, body.clone()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}: {error}");
        assert!(error["error"].is_string(), "{error}");
    }
    let garbage = server.http.post(server.url("/control/faults")).body("{not json").send().await.unwrap();
    assert_eq!(garbage.status(), StatusCode::BAD_REQUEST);

    server.inject("/control/faults", json!({ "operation": "Ack", "fault": "SMEVFailure", "count": 3 })).await;
    let (status, reset) = server.post("/control/reset", json!({})).await;
    assert_eq!((status, reset["rules_cleared"].as_u64()), (StatusCode::OK, Some(1)));
    assert_eq!(server.get("/control/queues").await.1, json!({ "queues": [] }));
    assert_eq!(server.get("/control/messages").await.1, json!({ "messages": [] }));
    assert!(server.rules().await.is_empty());
    // After a reset the same MessageID is new again.
    portal.send_request(&first).await.unwrap();
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acting_as_the_portal() {
    let server = TestServer::default().await;
    let gateway = server.client("gateway");
    let (status, sent) =
        server.post("/control/portal/send", json!({ "content": PROGRESS, "test_message": true })).await;
    assert_eq!(status, StatusCode::CREATED, "{sent}");
    let id = sent["message_id"].as_str().unwrap().to_string();
    let path = format!("/control/portal/responses/{id}");
    let (status, error) = server.get(&path).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{error}");

    let delivered = gateway.get_request(None).await.unwrap().expect("the portal's request");
    assert_eq!(delivered.message.request.message_id.to_string(), id);
    assert!(delivered.message.request.test_message);
    let response = SendResponse {
        message_id: MessageId::new_v1(),
        to: delivered.message.reply_to.clone().unwrap(),
        body: ResponseBody::Content { content: ANSWER.into(), personal_signature: None, attachment_headers: vec![] },
        attachments: vec![],
    };
    gateway.send_response(&response).await.unwrap();
    gateway.ack(delivered.message.metadata.message_id.as_deref().unwrap(), true).await.unwrap();
    let (status, answer) = server.get(&path).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["kind"], "content");
    assert_eq!(answer["signatures_valid"], true);
    assert_eq!(answer["request_message_id"].as_str(), Some(id.as_str()));
    assert_eq!(answer["response_message_id"].as_str(), Some(response.message_id.to_string().as_str()));
    assert!(answer["content"].as_str().unwrap().contains("<a:YearMark>5</a:YearMark>"), "{answer}");
    // The portal acknowledged it: nothing is left for it in the queue, and it still answers from memory.
    let (_, queues) = server.get("/control/queues").await;
    assert_eq!(queues, json!({ "queues": [] }));
    assert_eq!(server.get(&path).await.0, StatusCode::OK);

    // A refusal.
    let (_, sent) = server.post("/control/portal/send", json!({ "content": PROGRESS })).await;
    let id = sent["message_id"].as_str().unwrap().to_string();
    let delivered = gateway.get_request(None).await.unwrap().unwrap();
    let refusal = SendResponse {
        message_id: MessageId::new_v1(),
        to: delivered.message.reply_to.clone().unwrap(),
        body: ResponseBody::Rejected(vec![Rejection {
            code: RejectCode::NoData, description: "нет данных".into()
        }]),
        attachments: vec![],
    };
    gateway.send_response(&refusal).await.unwrap();
    let (_, answer) = server.get(&format!("/control/portal/responses/{id}")).await;
    assert_eq!(answer["kind"], "rejected");
    assert_eq!(answer["reasons"], json!([{ "code": "NO_DATA", "description": "нет данных" }]));

    // Faults come back as JSON errors with the fault's name.
    let unknown = "<x:Unknown xmlns:x=\"urn://nobody\"/>";
    let (status, error) = server.post("/control/portal/send", json!({ "content": unknown })).await;
    assert_eq!(
        (status, error["fault"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("BusinessDataTypeIsNotSupported"))
    );
    let (status, error) = server.post("/control/portal/send", json!({ "content": "not xml" })).await;
    assert!(status.is_client_error() || status.is_server_error(), "{status}: {error}");
    assert!(error["error"].is_string());
    let (status, _) = server.post("/control/portal/send", json!({ "test_message": true })).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    server.stop().await;
}

/// Posts raw bytes to a SOAP endpoint.
async fn post_raw(server: &TestServer, body: Vec<u8>) -> (StatusCode, String) {
    let response = server
        .http
        .post(server.url("/smev/1.3"))
        .header("Content-Type", "text/xml; charset=utf-8")
        .header("SOAPAction", "\"urn:SendRequest\"")
        .body(body)
        .send()
        .await
        .unwrap();
    let status = response.status();
    let content_type = response.headers()["content-type"].to_str().unwrap().to_string();
    assert_eq!(content_type, "text/xml; charset=utf-8");
    (status, response.text().await.unwrap())
}

/// Writes `request` on a fresh connection, optionally shuts the sending side, and reads the answer to its end.
async fn raw_exchange(server: &TestServer, request: &[u8], half_close: bool) -> String {
    let mut stream = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    stream.write_all(request).await.unwrap();
    if half_close {
        stream.shutdown().await.unwrap();
    }
    let mut answer = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut answer)).await;
    read.expect("the server answers instead of hanging").unwrap();
    String::from_utf8_lossy(&answer).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_truncated_and_oversize_bodies_get_soap_faults() {
    let mut config = Config::default();
    config.limits.max_body_bytes = 64 * 1024;
    let server = TestServer::start(config).await;
    let nested = "<a>".repeat(20_000);
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("truncated XML", b"<soap:Envelope xmlns:soap=\"http://schemas.xmlsoap.org/soap/envelope/\"><soap:Bo".to_vec()),
        ("empty", Vec::new()),
        ("not UTF-8", vec![0xff, 0xfe, 0x00, 0x3c]),
        ("deep nesting", nested.into_bytes()),
        ("a DOCTYPE", b"<!DOCTYPE x [<!ENTITY a \"aaaa\">]><x>&a;</x>".to_vec()),
        ("not SOAP", b"<x/>".to_vec()),
    ];
    for (name, body) in cases {
        let (status, text) = post_raw(&server, body).await;
        assert!(status.is_client_error() || status.is_server_error(), "{name}: {status}");
        read_soap_fault(&text);
    }
    let (status, text) = post_raw(&server, vec![b' '; 200 * 1024]).await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR, "a SOAP fault, as SOAP 1.1 answers faults");
    assert!(read_soap_fault(&text).faultstring.contains("65536"), "{text}");

    // Through the real client: a fault it can classify.
    let portal = server.client("portal");
    let error = portal.call(Operation::SendRequest, "<oops".into()).await.unwrap_err();
    assert!(matches!(&error, ClientError::Fault(f) if f.faultcode == "soap:Client"), "{error:?}");

    // Chunked and oversize: read to its end (within the drain allowance), then refused.
    let mut chunked =
        b"POST /smev/1.3 HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n".to_vec();
    for _ in 0..20 {
        chunked.extend_from_slice(format!("{:x}\r\n", 8192).as_bytes());
        chunked.extend_from_slice(&[b'x'; 8192]);
        chunked.extend_from_slice(b"\r\n");
    }
    chunked.extend_from_slice(b"0\r\n\r\n");
    let answer = raw_exchange(&server, &chunked, false).await;
    assert!(answer.starts_with("HTTP/1.1 500") && answer.contains("Fault"), "{answer}");
    // Declared far beyond the limit: refused at once, without reading.
    let huge = b"POST /smev/1.3 HTTP/1.1\r\nHost: x\r\nContent-Length: 10000000000\r\n\r\n<soap:Envelope";
    let answer = raw_exchange(&server, huge, false).await;
    assert!(answer.starts_with("HTTP/1.1 413") && answer.contains("Fault"), "{answer}");
    // A body cut short: the client gives up sending.
    let cut = b"POST /smev/1.3 HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n<soap:Envelope";
    let answer = raw_exchange(&server, cut, true).await;
    assert!(answer.starts_with("HTTP/1.1 400") && answer.contains("Fault"), "{answer}");
    // A body that stalls: the read timeout (one second here) answers for it.
    let answer = raw_exchange(&server, cut, false).await;
    assert!(answer.starts_with("HTTP/1.1 408") && answer.contains("Fault"), "{answer}");

    // The server keeps serving.
    assert_eq!(server.get("/healthz").await.0, StatusCode::OK);
    portal.send_request(&SendRequest::new(PROGRESS)).await.unwrap();
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_drains_calls_in_progress() {
    // A grace period far longer than the call needs, so the drain, not the cut, ends it.
    let options = ServerOptions { grace: Duration::from_secs(30), ..TestServer::options() };
    let server = TestServer::start_with(Config::default(), options).await;
    let gateway = server.client("gateway");
    server.inject("/control/latency", json!({ "operation": "GetStatus", "ms": 200 })).await;
    let call = tokio::spawn(async move { gateway.get_status().await });
    // Wait until the call is inside the server (its latency rule fired), then stop the server under it.
    for _ in 0..200 {
        if server.state.injector.rules()[0].fired == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert_eq!(server.state.injector.rules()[0].fired, 1);
    let addr = server.addr;
    server.stop().await;
    call.await.unwrap().expect("the call in progress completes");
    assert!(tokio::net::TcpStream::connect(addr).await.is_err(), "no new connections after shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_cuts_calls_that_outlast_the_grace_period() {
    let server = TestServer::default().await;
    let gateway = server.client("gateway");
    server.inject("/control/latency", json!({ "operation": "GetStatus", "ms": 60_000 })).await;
    let call = tokio::spawn(async move { gateway.get_status().await });
    for _ in 0..200 {
        if server.state.injector.rules()[0].fired == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    server.stop().await;
    let error = call.await.unwrap().unwrap_err();
    assert!(matches!(error, ClientError::Transport(_)), "{error:?}");
}
