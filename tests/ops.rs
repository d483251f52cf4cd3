//! The operators' API and command line: every endpoint, authentication and roles, masking of personal data,
//! retry and purge of dead letters, pause and resume of a kind of data, traces by MessageID and by orderId, the
//! audit log, and `edugate queue` / `edugate trace` against a running gateway and against a stopped store.
//!
//! mock-smev runs as a process; the gateway runs in this test, on its sled state directory.
mod procs;

use edugate::config::{OpsRole, OpsToken};
use edugate::gateway::{Gateway, Handles};
use edugate::inbox::{Inbox, SledInbox};
use edugate::ops::AuditLog;
use edugate::outbox::{FailureKind, ItemState, Outbox, OutboxConfig, SledOutbox, StateDb};
use edugate::services::enrollment;
use procs::{edugate_bin, start_mock, Control, MessageState};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

const VIEWER: &str = "viewer-token-0123456789";
const OPERATOR: &str = "operator-token-0123456789";
const ADMIN: &str = "admin-token-0123456789";
/// A SNILS and names, as a dead letter's payload might carry them.
const SNILS: &str = "112-233-445 95";

/// mock-smev, the gateway and an HTTP client.
struct World {
    /// The gateway's base URL.
    base: String,
    /// The gateway's shared state, for setting up items.
    shared: Option<Handles>,
    /// mock-smev's control API.
    control: Control,
    /// The HTTP client.
    http: reqwest::Client,
    /// The gateway's state directory.
    store: PathBuf,
    /// Stops the gateway.
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    /// The gateway's task.
    running: Option<tokio::task::JoinHandle<Result<(), edugate::gateway::runtime::RunError>>>,
    _mock: procs::Proc,
    _dir: tempfile::TempDir,
}

fn tokens() -> Vec<OpsToken> {
    let token = |name: &str, token: &str, role| OpsToken { name: name.into(), token: token.into(), role };
    vec![
        token("duty-viewer", VIEWER, OpsRole::Viewer),
        token("duty-operator", OPERATOR, OpsRole::Operator),
        token("duty-admin", ADMIN, OpsRole::Admin),
    ]
}

async fn world() -> World {
    let dir = tempfile::tempdir().unwrap();
    let mock = start_mock(dir.path());
    let mut config = procs::gateway_config(dir.path(), &mock.addr);
    config.ops.tokens = tokens();
    let gateway = edugate::ops::api::attach(Gateway::open(config).unwrap());
    let shared = gateway.handles();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let running = tokio::spawn(gateway.run(listener, async move {
        let _ = stopped.await;
    }));
    World {
        base,
        shared: Some(shared),
        control: Control::new(&mock.addr),
        http: reqwest::Client::new(),
        store: dir.path().join("state"),
        stop: Some(stop),
        running: Some(running),
        _mock: mock,
        _dir: dir,
    }
}

impl Drop for World {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// An answer: status and JSON body.
#[derive(Debug)]
struct Answer {
    status: u16,
    body: Value,
    www_authenticate: Option<String>,
}

impl World {
    fn shared(&self) -> &Handles {
        self.shared.as_ref().expect("the gateway runs")
    }

    async fn call(&self, method: &str, path: &str, token: Option<&str>, body: Option<Value>) -> Answer {
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let mut request = self.http.request(method, format!("{}{path}", self.base));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.header("Content-Type", "application/json").body(body.to_string());
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let www_authenticate =
            response.headers().get("www-authenticate").map(|v| v.to_str().unwrap_or_default().to_owned());
        let text = response.text().await.unwrap();
        let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
        Answer { status, body, www_authenticate }
    }

    async fn get(&self, path: &str, token: &str) -> Answer {
        self.call("GET", path, Some(token), None).await
    }

    async fn post(&self, path: &str, token: &str, body: Option<Value>) -> Answer {
        self.call("POST", path, Some(token), body).await
    }

    /// Puts an item into a queue no worker drains and dead-letters it; returns its id.
    async fn dead_letter(&self, key: &str, payload: &str, reason: &str) -> u64 {
        dead_letter(&*self.shared().outbox, key, payload, reason).await
    }

    /// The GetRequest calls the gateway has made so far, from its /metrics.
    async fn polls(&self) -> u64 {
        let text = self.http.get(format!("{}/metrics", self.base)).send().await.unwrap().text().await.unwrap();
        text.lines()
            .filter(|l| l.starts_with("edugate_smev_call_duration_seconds_count{") && l.contains("\"GetRequest\""))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum::<f64>() as u64
    }

    /// Waits until the gateway has made `more` GetRequest calls after `since`: its pollers went round their loops
    /// that many times (counted, not timed).
    async fn polled_more(&self, since: u64, more: u64) {
        procs::wait_for("the gateway's polls", procs::ANSWER_LIMIT, || async {
            (self.polls().await >= since + more).then_some(())
        })
        .await;
    }

    /// Stops the gateway and waits until its state directory is free.
    async fn stop_gateway(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(running) = self.running.take() {
            running.await.unwrap().unwrap();
        }
        self.shared = None;
    }

    /// Runs the `edugate` binary with `args` and returns its exit code, stdout and stderr.
    async fn cli(&self, args: &[&str], env: &[(&str, &str)]) -> (i32, String, String) {
        cli(args, env).await
    }
}

/// A dead letter in queue `ops-test` (which no worker drains) with `payload`; returns its id.
async fn dead_letter(outbox: &dyn Outbox, key: &str, payload: &str, reason: &str) -> u64 {
    let now = SystemTime::now();
    let id = outbox.enqueue("ops-test", key, payload.as_bytes(), now).await.unwrap();
    let leases = outbox.lease("ops-test", "test", 100, Duration::from_secs(30), now).await.unwrap();
    let lease = leases.into_iter().find(|lease| lease.id == id).expect("leased");
    outbox.fail(&lease, FailureKind::Final { reason: reason.into() }, now).await.unwrap();
    id.0
}

/// Runs the `edugate` binary off the async runtime.
async fn cli(args: &[&str], env: &[(&str, &str)]) -> (i32, String, String) {
    let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    let env: Vec<(String, String)> = env.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    tokio::task::spawn_blocking(move || {
        let mut command = std::process::Command::new(edugate_bin());
        command.args(&args).env_remove("EDUGATE_OPS_TOKEN").env_remove("EDUGATE_OPS_URL");
        command.envs(env);
        let out = command.output().expect("edugate runs");
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    })
    .await
    .unwrap()
}

/// A payload with personal data: an application as the school queue holds it.
fn personal_payload() -> String {
    serde_json::json!({
        "message_id": "0b6fc1d0-0000-11f0-8000-000000000001",
        "reply_to": "portal",
        "content": enrollment::sample_form(4_200_000_777),
    })
    .to_string()
}

/// The state of item `id` as the API shows it.
async fn state_of(w: &World, id: u64) -> String {
    w.get(&format!("/ops/api/items/{id}"), VIEWER).await.body["state"].as_str().unwrap_or("").to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_endpoint_refuses_a_missing_or_wrong_token() {
    let w = world().await;
    let id = w.dead_letter("auth", "{}", "bad").await;
    let endpoints = [
        ("GET", "/ops/api/summary".to_owned()),
        ("GET", "/ops/api/items".to_owned()),
        ("GET", format!("/ops/api/items/{id}")),
        ("POST", format!("/ops/api/items/{id}/retry")),
        ("POST", format!("/ops/api/items/{id}/purge")),
        ("POST", "/ops/api/kinds/Echo/pause".to_owned()),
        ("POST", "/ops/api/kinds/Echo/resume".to_owned()),
        ("GET", "/ops/api/trace/whatever".to_owned()),
        ("GET", "/ops/api/audit".to_owned()),
        ("GET", "/ops/api/no-such-route".to_owned()),
    ];
    for (method, path) in &endpoints {
        for token in [None, Some("wrong-token-0123456789"), Some(""), Some(&VIEWER[..VIEWER.len() - 1])] {
            let answer = w.call(method, path, token, Some(serde_json::json!({ "confirm": id }))).await;
            assert_eq!(answer.status, 401, "{method} {path} with {token:?}: {answer:?}");
            assert_eq!(answer.body["error"], "unauthorized", "{method} {path}");
            assert!(answer.www_authenticate.as_deref().unwrap_or("").starts_with("Bearer"), "{answer:?}");
        }
    }
    // A token in another scheme is no token.
    let basic =
        w.http.get(format!("{}/ops/api/summary", w.base)).basic_auth("duty", Some(VIEWER)).send().await.unwrap();
    assert_eq!(basic.status().as_u16(), 401);
    // Nothing was changed by the refused calls.
    assert_eq!(state_of(&w, id).await, "dead");
    assert!(w.shared().paused.list().is_empty());
    assert!(AuditLog::in_store(&w.store).read_all().unwrap().is_empty());
    // The unknown route is a 404 once authenticated; the probes and the page need no token.
    assert_eq!(w.get("/ops/api/no-such-route", VIEWER).await.status, 404);
    for open in ["/healthz", "/readyz", "/metrics", "/ops/"] {
        let status = w.http.get(format!("{}{open}", w.base)).send().await.unwrap().status().as_u16();
        assert!(status == 200 || status == 503, "{open}: {status}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn roles_limit_what_a_token_may_do() {
    let w = world().await;
    let id = w.dead_letter("roles", &personal_payload(), "school refused").await;
    for (path, body) in [
        (format!("/ops/api/items/{id}/retry"), None),
        (format!("/ops/api/items/{id}/purge"), Some(serde_json::json!({ "confirm": id }))),
        ("/ops/api/kinds/Echo/pause".to_owned(), None),
        ("/ops/api/kinds/Echo/resume".to_owned(), None),
    ] {
        let answer = w.post(&path, VIEWER, body).await;
        assert_eq!(answer.status, 403, "{path}: {answer:?}");
        assert_eq!(answer.body["error"], "forbidden");
        assert!(answer.body["message"].as_str().unwrap().contains("operator"), "{answer:?}");
    }
    assert_eq!(state_of(&w, id).await, "dead", "a refused retry changes nothing");
    // Personal data unmasked is for admins only.
    for token in [VIEWER, OPERATOR] {
        for path in [format!("/ops/api/items/{id}?pii=true"), "/ops/api/items?pii=true".into()] {
            let answer = w.get(&path, token).await;
            assert_eq!(answer.status, 403, "{path}: {answer:?}");
        }
    }
    assert_eq!(w.get(&format!("/ops/api/items/{id}?pii=maybe"), ADMIN).await.status, 400);
    // Everyone reads.
    for token in [VIEWER, OPERATOR, ADMIN] {
        assert_eq!(w.get("/ops/api/summary", token).await.status, 200);
        assert_eq!(w.get(&format!("/ops/api/items/{id}"), token).await.status, 200);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn items_are_listed_filtered_and_shown_with_personal_data_masked() {
    let w = world().await;
    let reason = format!("school refused: applicant {SNILS}");
    let first = w.dead_letter("list:1", &personal_payload(), &reason).await;
    let second = w.dead_letter("list:2", "not json at all 11223344595", "bad").await;
    let pending = w.shared().outbox.enqueue("ops-test", "list:3", b"{}", SystemTime::now()).await.unwrap().0;

    let all = w.get("/ops/api/items?queue=ops-test", VIEWER).await;
    assert_eq!(all.status, 200);
    let ids: Vec<u64> = all.body["items"].as_array().unwrap().iter().map(|i| i["id"].as_u64().unwrap()).collect();
    assert_eq!(ids, vec![first, second, pending]);
    let dead = w.get("/ops/api/items?queue=ops-test&state=dead", VIEWER).await;
    let items = dead.body["items"].as_array().unwrap();
    assert_eq!(items.len(), 2);
    let item = &items[0];
    for field in ["id", "queue", "key", "state", "attempts", "next_attempt_at", "last_error", "created_at"] {
        assert!(item.get(field).is_some(), "{field} in {item}");
    }
    assert_eq!(item["state"], "dead");
    assert_eq!(item["dead_cause"], "final");
    assert_eq!(item["last_error"], "school refused: applicant ***-***-**5 95");
    let limited = w.get("/ops/api/items?queue=ops-test&limit=1", VIEWER).await;
    assert_eq!(limited.body["items"].as_array().unwrap().len(), 1);
    let after = w.get(&format!("/ops/api/items?queue=ops-test&after={first}"), VIEWER).await;
    assert_eq!(after.body["items"][0]["id"].as_u64(), Some(second));
    let by_key = w.get("/ops/api/items?key=list:3", VIEWER).await;
    assert_eq!(by_key.body["items"][0]["id"].as_u64(), Some(pending));
    assert_eq!(w.get("/ops/api/items?state=sleeping", VIEWER).await.status, 400);
    assert_eq!(w.get("/ops/api/items?limit=lots", VIEWER).await.status, 400);

    // One item with its payload, masked for a viewer.
    let shown = w.get(&format!("/ops/api/items/{first}"), VIEWER).await;
    assert_eq!(shown.status, 200);
    assert_eq!(shown.body["masked"], true);
    let text = shown.body.to_string();
    for secret in
        [SNILS, "Петров", "Мария", "2020-04-15", "2015-03-12", "+7 900 123-45-67", "petrov@example.org", "654321"]
    {
        assert!(!text.contains(secret), "{secret} leaked: {text}");
    }
    let content = shown.body["payload"]["content"].as_str().unwrap();
    assert!(content.contains("<e:orderId>4200000777</e:orderId>"), "the rest stays readable: {content}");
    assert!(content.contains("<e:Surname>П***</e:Surname>"), "{content}");
    let raw = w.get(&format!("/ops/api/items/{second}"), VIEWER).await;
    assert_eq!(raw.body["payload"]["text"], "not json at all ********595");

    // An admin who asks sees it all, and the audit log says so.
    let unmasked = w.get(&format!("/ops/api/items/{first}?pii=true"), ADMIN).await;
    assert_eq!(unmasked.body["masked"], false);
    assert!(unmasked.body["payload"]["content"].as_str().unwrap().contains("<e:Surname>Петров</e:Surname>"));
    assert!(unmasked.body["last_error"].as_str().unwrap().contains(SNILS));
    let audit = w.get("/ops/api/audit", VIEWER).await;
    let entry = &audit.body["entries"][0];
    assert_eq!((entry["actor"].as_str(), entry["action"].as_str()), (Some("duty-admin"), Some("view-pii")));
    assert_eq!(entry["target"], format!("item {first}"));
    // An admin who does not ask gets it masked like everyone.
    assert_eq!(w.get(&format!("/ops/api/items/{first}"), ADMIN).await.body["masked"], true);
    assert_eq!(w.get("/ops/api/items/999999", VIEWER).await.status, 404);
    assert_eq!(w.get("/ops/api/items/abc", VIEWER).await.status, 404);
}

/// Regression: `GET /ops/api/items?pii=true` answered unmasked personal data without an audit entry.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn listing_items_unmasked_is_audited_before_it_answers() {
    let w = world().await;
    let reason = format!("school refused: applicant {SNILS}");
    w.dead_letter("pii-list:1", &personal_payload(), &reason).await;
    for token in [VIEWER, OPERATOR] {
        assert_eq!(w.get("/ops/api/items?queue=ops-test&pii=true", token).await.status, 403);
    }
    let audit = w.get("/ops/api/audit", VIEWER).await;
    assert_eq!(audit.body["entries"].as_array().unwrap().len(), 0, "a refused call leaves no entry: {audit:?}");

    let listed = w.get("/ops/api/items?queue=ops-test&state=dead&pii=true", ADMIN).await;
    assert_eq!(listed.status, 200, "{listed:?}");
    assert_eq!(listed.body["items"][0]["last_error"], reason.as_str());
    let audit = w.get("/ops/api/audit", VIEWER).await;
    let entries = audit.body["entries"].as_array().unwrap();
    assert_eq!(entries.len(), 1, "{audit:?}");
    assert_eq!((entries[0]["actor"].as_str(), entries[0]["action"].as_str()), (Some("duty-admin"), Some("view-pii")));
    assert_eq!(entries[0]["target"], "items queue=ops-test state=dead");
    // Masked listings are not personal-data reads and are not audited.
    assert_eq!(w.get("/ops/api/items?queue=ops-test", ADMIN).await.status, 200);
    assert_eq!(w.get("/ops/api/audit", VIEWER).await.body["entries"].as_array().unwrap().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retry_moves_a_dead_letter_and_purge_needs_confirmation() {
    let w = world().await;
    let id = w.dead_letter("retry:1", "{}", "bad").await;
    let retried = w.post(&format!("/ops/api/items/{id}/retry"), OPERATOR, None).await;
    assert_eq!(retried.status, 200, "{retried:?}");
    assert_eq!(retried.body["action"], "retry");
    assert_eq!(retried.body["item"]["state"], "pending");
    assert_eq!(retried.body["item"]["attempts"], 0);
    assert_eq!(state_of(&w, id).await, "pending");
    let again = w.post(&format!("/ops/api/items/{id}/retry"), OPERATOR, None).await;
    assert_eq!(again.status, 409, "only dead letters are retried: {again:?}");
    assert_eq!(w.post("/ops/api/items/424242/retry", OPERATOR, None).await.status, 404);

    let doomed = w.dead_letter("purge:1", "{}", "bad").await;
    let path = format!("/ops/api/items/{doomed}/purge");
    for body in [
        None,
        Some(serde_json::json!({})),
        Some(serde_json::json!({ "confirm": doomed + 1 })),
        Some(serde_json::json!({ "confirm": true })),
    ] {
        let answer = w.post(&path, OPERATOR, body.clone()).await;
        assert_eq!(answer.status, 400, "{body:?}: {answer:?}");
        assert_eq!(answer.body["error"], "bad_request");
    }
    assert_eq!(state_of(&w, doomed).await, "dead", "an unconfirmed purge deletes nothing");
    let pending_purge =
        w.post(&format!("/ops/api/items/{id}/purge"), OPERATOR, Some(serde_json::json!({ "confirm": id }))).await;
    assert_eq!(pending_purge.status, 409, "only dead letters are purged");
    let purged = w.post(&path, ADMIN, Some(serde_json::json!({ "confirm": doomed }))).await;
    assert_eq!(purged.status, 200, "{purged:?}");
    assert_eq!(w.get(&format!("/ops/api/items/{doomed}"), VIEWER).await.status, 404);
    // Purged by a string id too.
    let other = w.dead_letter("purge:2", "{}", "bad").await;
    let confirm = Some(serde_json::json!({ "confirm": other.to_string() }));
    let by_text = w.post(&format!("/ops/api/items/{other}/purge"), OPERATOR, confirm).await;
    assert_eq!(by_text.status, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pause_keeps_requests_queued_in_smev_and_resume_answers_them() {
    let w = world().await;
    // The gateway answers while the kind is not paused.
    let first = w.control.portal_send("<e:Echo xmlns:e=\"urn://edugate/echo/1.0.0\">one</e:Echo>").await;
    w.control.answer_to(&first).await;

    let paused = w.post("/ops/api/kinds/Echo/pause", OPERATOR, None).await;
    assert_eq!(paused.status, 200, "{paused:?}");
    assert_eq!((paused.body["paused"].as_bool(), paused.body["changed"].as_bool()), (Some(true), Some(true)));
    assert_eq!(w.post("/ops/api/kinds/Echo/pause", OPERATOR, None).await.body["changed"], false);
    assert_eq!(w.post("/ops/api/kinds/NoSuchKind/pause", OPERATOR, None).await.status, 404);
    let summary = w.get("/ops/api/summary", VIEWER).await;
    assert_eq!(summary.body["paused_kinds"], serde_json::json!(["Echo"]));
    // A loop in the middle of a poll finishes it; after that nothing is taken. The other kinds' pollers going
    // round several times stands for that poll's round trip.
    w.polled_more(w.polls().await, 6).await;

    let second = w.control.portal_send("<e:Echo xmlns:e=\"urn://edugate/echo/1.0.0\">two</e:Echo>").await;
    // Other kinds go on: a progress lookup is answered while Echo is paused.
    let lookup = "<p:ProgressRequest xmlns:p=\"urn://edugate/progress/1.0.0\"><p:ApplicantSnils>112-233-445 95</p:ApplicantSnils>\
                  <p:PeriodFrom>2026-09-01</p:PeriodFrom><p:PeriodTo>2026-10-24</p:PeriodTo></p:ProgressRequest>";
    let other = w.control.portal_send(lookup).await;
    w.control.answer_to(&other).await;
    // Enough polling of the other kinds that a poller of the paused one, were it still polling, would have polled
    // many times too.
    w.polled_more(w.polls().await, 30).await;
    let message = w.control.message(&second).await.expect("mock-smev knows the request");
    let state = (message.summary.state, message.summary.delivery_count);
    assert_eq!(state, (MessageState::Queued, 0), "a paused kind's request stays in SMEV: {message:?}");
    assert!(w.control.portal_response(&second).await.is_none());

    let resumed = w.post("/ops/api/kinds/Echo/resume", OPERATOR, None).await;
    assert_eq!((resumed.status, resumed.body["paused"].as_bool()), (200, Some(false)));
    w.control.answer_to(&second).await;
    assert!(w.get("/ops/api/summary", VIEWER).await.body["paused_kinds"].as_array().unwrap().is_empty());
    let actions: Vec<String> = AuditLog::in_store(&w.store).read_all().unwrap().into_iter().map(|e| e.action).collect();
    assert_eq!(actions, vec!["pause", "pause", "resume"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trace_by_message_id_and_by_order_id() {
    let w = world().await;
    let order = 4_300_000_123u64;
    let message_id = w.control.portal_send(&enrollment::sample_form(order as i64)).await;
    w.control.answer_to(&message_id).await;
    // The acknowledgement is the last step; wait for it.
    let deadline = Instant::now() + Duration::from_secs(20);
    while w.shared().inbox.get(&message_id).await.unwrap().and_then(|e| e.acked_at).is_none() {
        assert!(Instant::now() < deadline, "acknowledged");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    let by_id = w.get(&format!("/ops/api/trace/{message_id}"), VIEWER).await;
    assert_eq!(by_id.status, 200, "{by_id:?}");
    assert_eq!(by_id.body["matched_by"], serde_json::json!(["message_id"]));
    let message = &by_id.body["messages"][0];
    assert_eq!(message["message_id"], message_id.as_str());
    assert_eq!(message["inbox"]["kind"], "FormData");
    assert_eq!(message["inbox"]["deliveries"], 1);
    assert!(message["inbox"]["response_message_id"].is_string());
    assert!(message["inbox"]["acked_at"].is_string());
    let mut keys: Vec<String> =
        message["items"].as_array().unwrap().iter().map(|i| i["key"].as_str().unwrap().to_owned()).collect();
    keys.sort();
    assert_eq!(
        keys,
        vec![format!("ack:{message_id}"), format!("response:{message_id}"), format!("school:{message_id}")]
    );
    assert!(message["items"].as_array().unwrap().iter().all(|i| i["state"] == "completed"), "{message}");
    let steps: Vec<&str> =
        by_id.body["steps"].as_array().unwrap().iter().map(|s| s["what"].as_str().unwrap()).collect();
    for step in ["received", "queued", "completed", "responded", "acknowledged"] {
        assert!(steps.contains(&step), "{step} in {steps:?}");
    }
    assert_eq!(steps[0], "received");
    assert!(!by_id.body.to_string().contains(SNILS), "no personal data in a trace");

    let by_order = w.get(&format!("/ops/api/trace/{order}"), VIEWER).await;
    assert_eq!(by_order.status, 200);
    assert_eq!(by_order.body["matched_by"], serde_json::json!(["order_id"]));
    assert_eq!(by_order.body["messages"][0]["message_id"], message_id.as_str());
    assert_eq!(by_order.body["messages"].as_array().unwrap().len(), 1);

    let unknown = w.get("/ops/api/trace/0d7e4a10-0000-11f0-8000-000000000000", VIEWER).await;
    assert_eq!(unknown.status, 200);
    assert!(unknown.body["matched_by"].as_array().unwrap().is_empty());
    assert!(unknown.body["messages"].as_array().unwrap().is_empty());
    assert_eq!(w.get("/ops/api/trace/a%20b", VIEWER).await.status, 400);
    assert_eq!(w.get(&format!("/ops/api/trace/{order}?pii=true"), VIEWER).await.status, 403);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn summary_reports_queues_breakers_kinds_faults_and_counters() {
    let w = world().await;
    w.dead_letter("summary:1", "{}", "bad").await;
    let id = w.control.portal_send("<e:Echo xmlns:e=\"urn://edugate/echo/1.0.0\">hi</e:Echo>").await;
    w.control.answer_to(&id).await;
    w.control.inject("GetRequest", "SMEVFailure", 1).await;
    let deadline = Instant::now() + Duration::from_secs(20);
    let summary = loop {
        let summary = w.get("/ops/api/summary", VIEWER).await.body;
        let acked = summary["counters"]["acked"].as_u64().unwrap_or(0);
        let faults = summary["recent_faults"].as_array().map_or(0, Vec::len);
        if acked >= 1 && faults >= 1 {
            break summary;
        }
        assert!(Instant::now() < deadline, "counters moved: {summary}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let queues: Vec<&str> =
        summary["queues"].as_array().unwrap().iter().map(|q| q["queue"].as_str().unwrap()).collect();
    assert_eq!(queues, vec!["send-to-smev", "ack", "call-school", "ops-test"]);
    let ops_test = &summary["queues"][3];
    assert_eq!((ops_test["dead"].as_u64(), ops_test["pending"].as_u64()), (Some(1), Some(0)));
    assert!(summary["queues"][0]["completed"].as_u64().unwrap() >= 1);
    for field in ["pending", "leased", "completed", "dead", "oldest_pending_age_secs"] {
        assert!(summary["queues"][0].get(field).is_some(), "{field}");
    }
    let breakers = summary["breakers"].as_array().unwrap();
    assert_eq!(breakers[0], serde_json::json!({ "destination": "smev", "state": "closed" }));
    assert_eq!(breakers.len(), 2);
    let kinds: Vec<&str> = summary["kinds"].as_array().unwrap().iter().map(|k| k["root"].as_str().unwrap()).collect();
    assert_eq!(kinds, vec!["Echo", "ProgressRequest", "FormData", "FormData", "FormData", "FormData", "FormData"]);
    let applications: Vec<&str> =
        summary["kinds"].as_array().unwrap()[2..].iter().map(|k| k["namespace"].as_str().unwrap()).collect();
    let expected = [
        "urn://edugate/school-enrollment/1.0.0",
        "urn://edugate/school-enrollment/1.1.0",
        "http://epgu.gosuslugi.ru/concentrator/kindergarten/4.0.1",
        "http://epgu.gosuslugi.ru/concentrator/kindergarten/3.2.1",
        "http://epgu.gosuslugi.ru/concentrator/kindergarten/3.1.1",
    ];
    assert_eq!(applications, expected);
    let fault = &summary["recent_faults"][0];
    assert_eq!((fault["type"].as_str(), fault["operation"].as_str()), (Some("SMEVFailure"), Some("GetRequest")));
    assert_eq!(fault["class"], "retry");
    assert!(fault["at"].is_string());
    let counters = &summary["counters"];
    assert!(counters["received"].as_u64().unwrap() >= 1 && counters["sent"].as_u64().unwrap() >= 1, "{counters}");
    assert!(summary["last_poll"]["at"].is_string());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audit_entries_are_recorded_and_survive_the_gateway() {
    let mut w = world().await;
    let retried = w.dead_letter("audit:1", "{}", "bad").await;
    let purged = w.dead_letter("audit:2", "{}", "bad").await;
    assert_eq!(w.post(&format!("/ops/api/items/{retried}/retry"), OPERATOR, None).await.status, 200);
    let confirm = Some(serde_json::json!({ "confirm": purged }));
    assert_eq!(w.post(&format!("/ops/api/items/{purged}/purge"), ADMIN, confirm).await.status, 200);
    assert_eq!(w.post("/ops/api/kinds/FormData/pause", OPERATOR, None).await.status, 200);
    // Refused calls leave no trace.
    assert_eq!(w.post(&format!("/ops/api/items/{retried}/retry"), VIEWER, None).await.status, 403);

    let audit = w.get("/ops/api/audit", VIEWER).await;
    let entries = audit.body["entries"].as_array().unwrap();
    let seen: Vec<(String, String, String)> = entries
        .iter()
        .map(|e| {
            (
                e["actor"].as_str().unwrap().into(),
                e["action"].as_str().unwrap().into(),
                e["target"].as_str().unwrap().into(),
            )
        })
        .collect();
    assert_eq!(
        seen,
        vec![
            ("duty-operator".into(), "pause".into(), "kind FormData".into()),
            ("duty-admin".into(), "purge".into(), format!("item {purged}")),
            ("duty-operator".into(), "retry".into(), format!("item {retried}")),
        ]
    );
    assert_eq!(entries[2]["role"], "operator");
    assert_eq!(entries[2]["detail"], "queue ops-test, key audit:1");
    assert!(entries[2]["at"].as_str().unwrap().ends_with('Z'));
    assert_eq!(w.get("/ops/api/audit?limit=1", VIEWER).await.body["entries"].as_array().unwrap().len(), 1);

    // The log is a file in the state directory: it survives the gateway, and the command line reads it.
    w.stop_gateway().await;
    let reread = AuditLog::in_store(&w.store).recent(10).unwrap();
    assert_eq!(reread.len(), 3);
    assert_eq!(reread[0].action, "pause");
    let store = w.store.display().to_string();
    let (code, out, err) = w.cli(&["queue", "audit", "--store", &store, "--json"], &[]).await;
    assert_eq!(code, 0, "{err}");
    let listed: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(listed.as_array().unwrap().len(), 3);
    assert_eq!(listed[1]["actor"], "duty-admin");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_command_line_against_a_running_gateway() {
    let w = world().await;
    let first = w.dead_letter("cli:1", &personal_payload(), &format!("refused {SNILS}")).await;
    let second = w.dead_letter("cli:2", "{}", "bad").await;
    let third = w.dead_letter("cli:3", "{}", "bad").await;
    let url = w.base.clone();
    let as_operator = [("EDUGATE_OPS_TOKEN", OPERATOR)];

    // A table by default, JSON for scripts.
    let (code, out, err) = w.cli(&["queue", "list", "--url", &url, "--token", VIEWER, "--state", "dead"], &[]).await;
    assert_eq!(code, 0, "{err}");
    assert!(out.starts_with("ID"), "{out}");
    assert!(out.contains("cli:1") && out.contains("3 item(s)"), "{out}");
    assert!(!out.contains(SNILS), "{out}");
    let (code, out, _) = w.cli(&["queue", "list", "--url", &url, "--queue", "ops-test", "--json"], &as_operator).await;
    assert_eq!(code, 0);
    let items: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(items.as_array().unwrap().len(), 3);

    let (code, out, _) = w.cli(&["queue", "show", &first.to_string(), "--url", &url], &as_operator).await;
    assert_eq!(code, 0);
    assert!(out.contains("personal data masked") && out.contains("П***") && !out.contains("Петров"), "{out}");
    let (code, _, err) = w.cli(&["queue", "show", &first.to_string(), "--url", &url, "--pii"], &as_operator).await;
    assert_ne!(code, 0);
    assert!(err.contains("403"), "{err}");
    let (code, out, _) =
        w.cli(&["queue", "show", &first.to_string(), "--url", &url, "--token", ADMIN, "--pii", "--json"], &[]).await;
    assert_eq!(code, 0);
    assert!(out.contains("Петров"));

    // A viewer cannot retry; an operator can.
    let (code, _, err) = w.cli(&["queue", "retry", &first.to_string(), "--url", &url, "--token", VIEWER], &[]).await;
    assert_ne!(code, 0);
    assert!(err.contains("403") && err.contains("operator"), "{err}");
    let (code, out, err) = w.cli(&["queue", "retry", &first.to_string(), "--url", &url], &as_operator).await;
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("pending again"), "{out}");
    assert_eq!(state_of(&w, first).await, "pending");

    // Purge asks for confirmation; a script must say --yes.
    let (code, _, err) = w.cli(&["queue", "purge", &second.to_string(), "--url", &url], &as_operator).await;
    assert_ne!(code, 0);
    assert!(err.contains("--yes"), "{err}");
    assert_eq!(state_of(&w, second).await, "dead");
    let (code, _, err) = w.cli(&["queue", "purge", &second.to_string(), "--url", &url, "--yes"], &as_operator).await;
    assert_eq!(code, 0, "{err}");
    assert_eq!(w.get(&format!("/ops/api/items/{second}"), VIEWER).await.status, 404);

    // Bulk retry of what is dead in one queue.
    let (code, out, err) =
        w.cli(&["queue", "retry", "--all-dead", "--queue", "ops-test", "--url", &url, "--json"], &as_operator).await;
    assert_eq!(code, 0, "{err}");
    let report: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(report["done"], serde_json::json!([third]));
    assert_eq!(state_of(&w, third).await, "pending");

    // A trace.
    let id = w.control.portal_send("<e:Echo xmlns:e=\"urn://edugate/echo/1.0.0\">cli</e:Echo>").await;
    w.control.answer_to(&id).await;
    let (code, out, err) = w.cli(&["trace", &id, "--url", &url], &as_operator).await;
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("matched by message_id") && out.contains("received") && out.contains(&format!("response:{id}"))
    );
    let (code, out, _) = w.cli(&["trace", &id, "--url", &url, "--json"], &as_operator).await;
    assert_eq!(code, 0);
    assert_eq!(serde_json::from_str::<Value>(&out).unwrap()["messages"][0]["message_id"], id.as_str());

    // Without a token, or with a wrong one, nothing happens.
    let (code, _, err) = w.cli(&["queue", "list", "--url", &url], &[]).await;
    assert_ne!(code, 0);
    assert!(err.contains("--token"), "{err}");
    let (code, _, err) = w.cli(&["queue", "list", "--url", &url, "--token", "wrong-token-0123456789"], &[]).await;
    assert_ne!(code, 0);
    assert!(err.contains("401"), "{err}");
    // While the gateway runs, its store is not opened behind its back.
    let store = w.store.display().to_string();
    let (code, _, err) = w.cli(&["queue", "list", "--store", &store], &[]).await;
    assert_ne!(code, 0);
    assert!(err.contains("in use"), "{err}");
}

/// Sets up a stopped gateway's store: a completed response, a dead acknowledgement and two dead school calls.
async fn stopped_store(dir: &Path) -> (u64, u64, u64, String) {
    let state = StateDb::open(dir).unwrap();
    let outbox = SledOutbox::open(&state, OutboxConfig::default()).unwrap();
    let inbox = SledInbox::open(&state).unwrap();
    let message_id = "1b2c3d4e-0000-11f0-8000-0000000000aa".to_owned();
    let now = SystemTime::now();
    inbox.record_received(&message_id, "FormData", "enrollment", now).await.unwrap();
    let ack = dead_letter(&outbox, &format!("ack:{message_id}"), "{}", "TargetMessageIsNotFound").await;
    let school = dead_letter(&outbox, &format!("school:{message_id}"), &personal_payload(), "school down").await;
    let other = dead_letter(&outbox, "school:another", "{}", "school down").await;
    drop((outbox, inbox, state));
    (ack, school, other, message_id)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_command_line_on_a_stopped_store() {
    let dir = tempfile::tempdir().unwrap();
    let store_dir = dir.path().join("state");
    let (ack, school, other, message_id) = stopped_store(&store_dir).await;
    let store = store_dir.display().to_string();

    let (code, out, err) = cli(&["queue", "list", "--store", &store, "--state", "dead", "--json"], &[]).await;
    assert_eq!(code, 0, "{err}");
    let listed: Value = serde_json::from_str(&out).unwrap();
    let ids: Vec<u64> = listed.as_array().unwrap().iter().map(|i| i["id"].as_u64().unwrap()).collect();
    assert_eq!(ids, vec![ack, school, other]);
    let (code, out, _) = cli(&["queue", "show", &school.to_string(), "--store", &store], &[]).await;
    assert_eq!(code, 0);
    assert!(out.contains("school down") && !out.contains("Петров"), "{out}");
    let (code, out, _) = cli(&["trace", &message_id, "--store", &store, "--json"], &[]).await;
    assert_eq!(code, 0);
    let trace: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(trace["messages"][0]["inbox"]["kind"], "FormData");
    assert_eq!(trace["messages"][0]["items"].as_array().unwrap().len(), 2);
    let (code, out, _) = cli(&["trace", "4200000777", "--store", &store], &[]).await;
    assert_eq!(code, 0);
    assert!(out.contains("matched by order_id"), "{out}");

    let (code, _, err) = cli(&["queue", "retry", &ack.to_string(), "--store", &store], &[]).await;
    assert_eq!(code, 0, "{err}");
    let (code, _, err) = cli(&["queue", "purge", "--all-dead", "--store", &store], &[]).await;
    assert_ne!(code, 0, "an unconfirmed bulk purge is refused");
    assert!(err.contains("--yes"), "{err}");
    let (code, out, err) = cli(&["queue", "purge", "--all-dead", "--yes", "--store", &store], &[]).await;
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("2 done"), "{out}");

    let state = StateDb::open(&store_dir).unwrap();
    let outbox = SledOutbox::open(&state, OutboxConfig::default()).unwrap();
    let revived = outbox.get(edugate::outbox::ItemId(ack)).await.unwrap().unwrap();
    assert_eq!(revived.state, ItemState::Pending);
    assert!(outbox.get(edugate::outbox::ItemId(school)).await.unwrap().is_none());
    assert!(outbox.get(edugate::outbox::ItemId(other)).await.unwrap().is_none());
    let audit = AuditLog::in_store(&store_dir).read_all().unwrap();
    let actions: Vec<&str> = audit.iter().map(|e| e.action.as_str()).collect();
    assert_eq!(actions, vec!["retry", "purge", "purge"]);
    assert!(audit.iter().all(|e| e.actor.starts_with("cli:") && e.role == "local"), "{audit:?}");
    drop((outbox, state));

    // A directory that is not a store is not created.
    let missing = dir.path().join("missing").display().to_string();
    let (code, _, err) = cli(&["queue", "list", "--store", &missing], &[]).await;
    assert_ne!(code, 0);
    assert!(err.contains("not a state directory"), "{err}");
    assert!(!dir.path().join("missing").exists());
    let (code, _, err) = cli(&["queue", "list"], &[]).await;
    assert_ne!(code, 0);
    assert!(err.contains("--store"), "{err}");
}

/// A fake SMEV that delivers a fixed list of messages to GetRequest, each again after a second until it is
/// acknowledged (as SMEV's visibility timeout does), answers GetResponse with an empty queue and records every Ack.
struct FakeSmev {
    /// Each delivery's id and answer, and when it was last handed out.
    deliveries: std::sync::Mutex<Vec<(String, String, Option<Instant>)>>,
    /// Every acknowledgement: the id and whether it was accepted.
    acks: std::sync::Mutex<Vec<(String, bool)>>,
}

impl FakeSmev {
    /// The answer to one call.
    fn answer(&self, body: &str) -> String {
        use edugate::smev::{build, Version};
        if body.contains("AckRequest") {
            let ack = body.split("AckTargetMessage").nth(1).unwrap_or_default();
            let id = ack.split('>').nth(1).and_then(|t| t.split('<').next()).unwrap_or_default().to_owned();
            let accepted = !ack.contains("accepted=\"false\"");
            self.deliveries.lock().unwrap().retain(|(delivered, _, _)| *delivered != id);
            self.acks.lock().unwrap().push((id, accepted));
            return build::ack_response(Version::V1_3);
        }
        if body.contains("GetRequestRequest") {
            let mut deliveries = self.deliveries.lock().unwrap();
            let due =
                deliveries.iter_mut().find(|(_, _, at)| at.is_none_or(|at| at.elapsed() > Duration::from_secs(1)));
            if let Some((_, answer, at)) = due {
                *at = Some(Instant::now());
                return answer.clone();
            }
            return build::get_request_response(Version::V1_3, None, None).unwrap();
        }
        build::get_response_response(Version::V1_3, None, None).unwrap()
    }
}

/// Starts the fake on a free port; returns its address.
async fn start_fake_smev(fake: Arc<FakeSmev>) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let app = axum::Router::new().fallback(move |body: String| {
        let fake = fake.clone();
        async move { ([("content-type", "text/xml; charset=utf-8")], fake.answer(&body)) }
    });
    tokio::spawn(async move { axum::serve(listener, app).await });
    addr
}

/// Regression: a delivery the gateway could not parse was never acknowledged, so SMEV delivered it again for ever
/// and nobody could see it. Now it is acknowledged (not accepted) and kept as a dead letter with its raw bytes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreadable_delivery_is_acknowledged_and_kept_as_a_dead_letter() {
    const TYPES: &str = "urn://x-artefacts-smev-gov-ru/services/message-exchange/types/1.3";
    const SCHEMA_ID: &str = "5a6b7c8d-3c08-11e5-95e2-d4c9eff07b77";
    const BROKEN_ID: &str = "6b7c8d9e-3c08-11e5-95e2-d4c9eff07b77";
    // Well-formed, but not what the schema says (no SenderProvidedRequestData), with personal data inside.
    let schema_violation = format!(
        "<soap:Envelope xmlns:soap=\"http://schemas.xmlsoap.org/soap/envelope/\"><soap:Body>\
         <ns:GetRequestResponse xmlns:ns=\"{TYPES}\"><ns:RequestMessage><ns:Request Id=\"SIGNED_BY_SMEV\">\
         <ns:Unexpected><ns:Snils>{SNILS}</ns:Snils></ns:Unexpected>\
         <ns:MessageMetadata><ns:MessageId>{SCHEMA_ID}</ns:MessageId></ns:MessageMetadata>\
         </ns:Request></ns:RequestMessage></ns:GetRequestResponse></soap:Body></soap:Envelope>"
    );
    // Not even well-formed: only the id can be read.
    let not_xml = format!(
        "<soap:Envelope xmlns:soap=\"http://schemas.xmlsoap.org/soap/envelope/\"><soap:Body>\
         <ns:GetRequestResponse xmlns:ns=\"{TYPES}\"><ns:RequestMessage><ns:Request>\
         <ns:MessageMetadata><ns:MessageId>{BROKEN_ID}</ns:MessageId></ns:MessageMetadata><broken"
    );
    let fake = Arc::new(FakeSmev {
        deliveries: std::sync::Mutex::new(vec![
            (SCHEMA_ID.to_owned(), schema_violation.clone(), None),
            (BROKEN_ID.to_owned(), not_xml.clone(), None),
        ]),
        acks: Default::default(),
    });
    let smev = start_fake_smev(fake.clone()).await;
    let dir = tempfile::tempdir().unwrap();
    let mut config = procs::gateway_config(dir.path(), &smev);
    config.ops.tokens = tokens();
    let gateway = edugate::ops::api::attach(Gateway::open(config).unwrap());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(gateway.run(listener, async move {
        let _ = stopped.await;
    }));

    // Both are acknowledged, as not accepted, and SMEV stops delivering them.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let acked: Vec<String> = fake.acks.lock().unwrap().iter().map(|(id, _)| id.clone()).collect();
        if acked.contains(&SCHEMA_ID.to_owned()) && acked.contains(&BROKEN_ID.to_owned()) {
            break;
        }
        assert!(Instant::now() < deadline, "not acknowledged: {acked:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(fake.acks.lock().unwrap().iter().all(|(_, accepted)| !accepted));
    assert!(fake.deliveries.lock().unwrap().is_empty());

    // Each is one dead letter of the `unreadable` queue, with its reason and its bytes.
    let http = reqwest::Client::new();
    let get = |path: String, token: &'static str| {
        let request = http.get(format!("{base}{path}")).bearer_auth(token);
        async move { serde_json::from_str::<Value>(&request.send().await.unwrap().text().await.unwrap()).unwrap() }
    };
    let listed = get("/ops/api/items?queue=unreadable&state=dead".into(), VIEWER).await;
    let items = listed["items"].as_array().unwrap().clone();
    assert_eq!(items.len(), 2, "{listed}");
    let keys: Vec<&str> = items.iter().map(|i| i["key"].as_str().unwrap()).collect();
    assert!(keys.contains(&format!("unreadable:{SCHEMA_ID}").as_str()), "{keys:?}");
    for item in &items {
        assert!(item["last_error"].as_str().unwrap().starts_with("unreadable GetRequest answer"), "{item}");
    }
    let schema_item = items.iter().find(|i| i["key"] == format!("unreadable:{SCHEMA_ID}")).unwrap();
    let id = schema_item["id"].as_u64().unwrap();
    let masked = get(format!("/ops/api/items/{id}"), VIEWER).await;
    assert!(!masked.to_string().contains(SNILS), "{masked}");
    let raw = get(format!("/ops/api/items/{id}?pii=true"), ADMIN).await;
    assert_eq!(raw["payload"]["text"], schema_violation.as_str(), "the bytes as delivered: {raw}");
    // Kept for inspection, never sent again: a retry would leave it pending for ever.
    let retry = http.post(format!("{base}/ops/api/items/{id}/retry")).bearer_auth(OPERATOR).send().await.unwrap();
    assert_eq!(retry.status().as_u16(), 409);

    // Counted under the fixed `unverified` kind, never one read from the content.
    let metrics = http.get(format!("{base}/metrics")).send().await.unwrap().text().await.unwrap();
    assert!(
        metrics.contains("edugate_messages_received_total{kind=\"unverified\",outcome=\"unreadable\"}"),
        "{metrics}"
    );
    let _ = stop.send(());
}
