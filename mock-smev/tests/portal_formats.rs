//! mock-smev plays the portal with the EPGU concentrator's real formats: its default configuration registers the
//! kindergarten kinds with their published schemas, the portal sends the real samples, every response to one
//! request is kept in arrival order (`GET /control/portal/responses/{id}/all`), and a provider's response whose
//! content does not match its namespace's schema is refused with `InvalidContent`, as SMEV refuses it.

use edugate::crypto::{ensure_default_engine, Certificate, PrivateKey};
use edugate::dsig::Signer;
use edugate::smev::client::{ClientConfig, ClientError, SmevClient};
use edugate::smev::{FaultKind, MessageId, ResponseBody, SendResponse};
use mock_smev::config::{certs_dev, Config};
use mock_smev::server::{self, AppState, ServerOptions};
use mock_smev::soap::Emulator;
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

const NS_321: &str = "http://epgu.gosuslugi.ru/concentrator/kindergarten/3.2.1";
const NS_311: &str = "http://epgu.gosuslugi.ru/concentrator/kindergarten/3.1.1";
const NS_401: &str = "http://epgu.gosuslugi.ru/concentrator/kindergarten/4.0.1";

fn sample(name: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/data/epgu").join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// A queue-position request of `namespace` (3.2.1 and 4.0.1 spell it alike).
fn queue_request(namespace: &str, order: u64) -> String {
    format!(
        "<FormData xmlns=\"{namespace}\" oktmo=\"42000000\"><GetApplicationQueueRequest><orderId>{order}</orderId>\
         </GetApplicationQueueRequest></FormData>"
    )
}

/// The region's `changeOrderInfo` answer with a department status code.
fn change_order_info(order: u64, org_code: u16) -> String {
    format!(
        "<FormDataResponse xmlns=\"{NS_321}\"><changeOrderInfo><orderId><pguId>{order}</pguId></orderId>\
         <statusCode><orgCode>{org_code}</orgCode></statusCode><comment>status {org_code}</comment>\
         <cancelAllowed>true</cancelAllowed></changeOrderInfo></FormDataResponse>"
    )
}

/// mock-smev on a loopback port, with its control API and a client signing as the gateway.
struct Portal {
    base: String,
    http: reqwest::Client,
    gateway: SmevClient,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

impl Portal {
    async fn start() -> Portal {
        let options =
            ServerOptions { read_timeout: Duration::from_secs(5), grace: Duration::from_millis(200), seed: 1 };
        let state = AppState::new(Emulator::open(Config::default()).unwrap(), options);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(server::run(listener, state, async move {
            let _ = stopped.await;
        }));
        ensure_default_engine().unwrap();
        let dir = certs_dev();
        let key = PrivateKey::from_pem(&std::fs::read(dir.join("gateway.key")).unwrap()).unwrap();
        let signer = Arc::new(Signer::new(key, Certificate::load(&dir.join("gateway.crt")).unwrap()).unwrap());
        let gateway = SmevClient::new(ClientConfig::new(format!("{base}/smev/1.3")), signer).unwrap();
        Portal { base, http: reqwest::Client::new(), gateway, stop: Some(stop) }
    }

    async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> (StatusCode, Value) {
        let mut request = self.http.request(method, format!("{}{path}", self.base));
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        (response.status(), response.json().await.unwrap())
    }

    /// Sends `content` as the portal: the HTTP status and the JSON answer.
    async fn send(&self, content: &str) -> (StatusCode, Value) {
        self.call(reqwest::Method::POST, "/control/portal/send", Some(json!({ "content": content }))).await
    }

    /// Sends `content` as the portal, which must be accepted; its MessageID.
    async fn sent(&self, content: &str) -> String {
        let (status, sent) = self.send(content).await;
        assert_eq!(status, StatusCode::CREATED, "{sent}");
        sent["message_id"].as_str().unwrap().to_string()
    }

    async fn get(&self, path: &str) -> (StatusCode, Value) {
        self.call(reqwest::Method::GET, path, None).await
    }

    /// Takes the portal's next request as the gateway; the `To` its responses go to.
    async fn take_request(&self, id: &str) -> (String, String) {
        let delivered = self.gateway.get_request(None).await.unwrap().expect("the portal's request");
        assert_eq!(delivered.message.request.message_id.to_string(), id);
        let smev_id = delivered.message.metadata.message_id.clone().unwrap();
        (delivered.message.reply_to.clone().unwrap(), smev_id)
    }

    /// Answers as the gateway with `content`.
    async fn respond(&self, to: &str, content: &str) -> Result<MessageId, ClientError> {
        let response = SendResponse {
            message_id: MessageId::new_v1(),
            to: to.to_string(),
            body: ResponseBody::Content {
                content: content.into(),
                personal_signature: None,
                attachment_headers: vec![],
            },
            attachments: vec![],
        };
        self.gateway.send_response(&response).await.map(|_| response.message_id)
    }
}

impl Drop for Portal {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_portal_sends_the_concentrators_real_requests_and_smev_refuses_what_the_schema_does_not_allow() {
    let portal = Portal::start().await;
    let mut sent = Vec::new();
    for content in [sample("ApplicationRequest.xml"), sample("smev3_321.xml"), sample("getapplication-1.xml")] {
        sent.push(portal.sent(&content).await);
    }
    sent.push(portal.sent(&queue_request(NS_401, 7)).await);
    let (_, messages) = portal.get("/control/messages?direction=request").await;
    let kinds: Vec<(String, String, String)> = messages["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            let field = |k: &str| m[k].as_str().unwrap().to_string();
            (field("namespace_uri"), field("root_element"), field("recipient"))
        })
        .collect();
    let expected = |version: &str| {
        (format!("http://epgu.gosuslugi.ru/concentrator/kindergarten/{version}"), "FormData".into(), "EDUGATE".into())
    };
    assert_eq!(kinds, vec![expected("3.2.1"), expected("3.2.1"), expected("3.1.1"), expected("4.0.1")]);

    // The sample with a request outside the choice, and a 3.2.1 application under the older 3.1.1 namespace, whose
    // ApplicationRequest is built otherwise.
    let (status, refused) = portal.send(&sample("OtherRequest.xml")).await;
    assert_eq!((status, refused["fault"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("InvalidContent")));
    let first = &refused["validation_errors"][0];
    assert!(first["message"].as_str().unwrap().contains("OtherRequest"), "{refused}");
    assert_eq!(first["position"], 2, "the line of the content");
    let wrong_version = sample("ApplicationRequest.xml").replace(NS_321, NS_311);
    let (status, refused) = portal.send(&wrong_version).await;
    assert_eq!((status, refused["fault"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("InvalidContent")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_response_to_one_request_is_kept_in_arrival_order() {
    let portal = Portal::start().await;
    let id = portal.sent(&queue_request(NS_321, 14025644457542599)).await;
    let all = format!("/control/portal/responses/{id}/all");
    assert_eq!(portal.get(&all).await, (StatusCode::OK, json!([])), "a known request with no response yet");
    let (status, _) = portal.get(&format!("/control/portal/responses/{id}")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    for path in ["/control/portal/responses/nobody/all", "/control/portal/responses/nobody"] {
        let (status, error) = portal.get(path).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}: {error}");
        assert!(error["error"].is_string());
    }

    let (to, smev_id) = portal.take_request(&id).await;
    let mut ids = Vec::new();
    for code in [110, 120, 130] {
        ids.push(portal.respond(&to, &change_order_info(14025644457542599, code)).await.unwrap().to_string());
    }
    portal.gateway.ack(&smev_id, true).await.unwrap();
    let (status, responses) = portal.get(&all).await;
    assert_eq!(status, StatusCode::OK, "{responses}");
    let responses = responses.as_array().unwrap();
    let got: Vec<&str> = responses.iter().map(|r| r["response_message_id"].as_str().unwrap()).collect();
    assert_eq!(got, ids.iter().map(String::as_str).collect::<Vec<_>>(), "in arrival order");
    for (response, code) in responses.iter().zip([110, 120, 130]) {
        assert_eq!(response["kind"], "content");
        assert_eq!(response["request_message_id"].as_str(), Some(id.as_str()));
        assert_eq!(response["signatures_valid"], true);
        assert!(response["content"].as_str().unwrap().contains(&format!("<orgCode>{code}</orgCode>")), "{response}");
    }
    // The single view shows the latest, as the list shows it.
    assert_eq!(portal.get(&format!("/control/portal/responses/{id}")).await, (StatusCode::OK, responses[2].clone()));
    // Asked again, nothing new arrived and nothing is lost.
    assert_eq!(portal.get(&all).await.1.as_array().unwrap().len(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_response_its_namespaces_schema_refuses_is_an_invalid_content_fault() {
    let portal = Portal::start().await;
    let id = portal.sent(&queue_request(NS_321, 5)).await;
    let (to, _) = portal.take_request(&id).await;
    // No statusCode, and a status code that is not a string of its type.
    let invalid = format!(
        "<FormDataResponse xmlns=\"{NS_321}\"><changeOrderInfo><orderId><pguId>5</pguId></orderId>\
         <comment>no status</comment></changeOrderInfo></FormDataResponse>"
    );
    match portal.respond(&to, &invalid).await {
        Err(ClientError::Fault(f)) => match &f.kind {
            FaultKind::InvalidContent(errors) => {
                assert!(errors[0].message.contains("comment"), "{errors:?}");
                assert!(errors[0].position >= 1, "{errors:?}");
            }
            other => panic!("{other:?}"),
        },
        other => panic!("expected InvalidContent, got {other:?}"),
    }
    let all = format!("/control/portal/responses/{id}/all");
    assert_eq!(portal.get(&all).await, (StatusCode::OK, json!([])), "a refused response is never queued");
    // The same answer made valid goes through.
    portal.respond(&to, &change_order_info(5, 150)).await.unwrap();
    assert_eq!(portal.get(&all).await.1.as_array().unwrap().len(), 1);
}
