//! `/metrics` scraped during a run and read with a Prometheus text-format parser: every family is there and the
//! counters move with the traffic; `/healthz` and `/readyz` tell the truth when SMEV goes away.
//!
//! mock-smev runs as a process; the gateway runs in this test.
mod procs;

use edugate::config::Config;
use edugate::gateway::Gateway;
use edugate::services::enrollment;
use procs::{start_mock, Control};
use prometheus_parse::{Scrape, Value};
use std::time::{Duration, Instant};

/// Every family the gateway exports, as its HELP and TYPE lines name it (OpenMetrics names a counter family
/// without the `_total` its samples carry).
const FAMILIES: &[&str] = &[
    "edugate_messages_received",
    "edugate_messages_sent",
    "edugate_messages_acknowledged",
    "edugate_outbox_retries",
    "edugate_outbox_dead_letters",
    "edugate_outbox_items",
    "edugate_outbox_oldest_pending_age_seconds",
    "edugate_smev_faults",
    "edugate_smev_call_duration_seconds",
    "edugate_school_call_duration_seconds",
    "edugate_signatures",
    "edugate_signature_duration_seconds",
    "edugate_circuit_breaker_state",
    "edugate_kind_paused",
    "edugate_uptime_seconds",
    "edugate_development_profile",
];

async fn scrape(http: &reqwest::Client, base: &str) -> Scrape {
    let response = http.get(format!("{base}/metrics")).send().await.unwrap();
    assert_eq!(response.status().as_u16(), 200);
    let content_type = response.headers()["content-type"].to_str().unwrap().to_owned();
    assert!(content_type.starts_with("application/openmetrics-text; version=1.0.0"), "{content_type}");
    let text = response.text().await.unwrap();
    assert!(text.ends_with("# EOF\n"), "OpenMetrics text ends with its EOF marker");
    Scrape::parse(text.lines().map(|line| Ok(line.to_owned()))).expect("the text format parses")
}

/// The value of the series of `metric` whose labels include all of `labels` (counters and gauges), summed.
fn value(scrape: &Scrape, metric: &str, labels: &[(&str, &str)]) -> f64 {
    scrape
        .samples
        .iter()
        .filter(|s| s.metric == metric && labels.iter().all(|(k, v)| s.labels.get(k) == Some(*v)))
        .map(|s| match &s.value {
            Value::Counter(v) | Value::Gauge(v) | Value::Untyped(v) => *v,
            _ => 0.0,
        })
        .sum()
}

/// The total count of a histogram's series whose labels include all of `labels`.
fn observations(scrape: &Scrape, metric: &str, labels: &[(&str, &str)]) -> f64 {
    scrape
        .samples
        .iter()
        .filter(|s| s.metric == metric && labels.iter().all(|(k, v)| s.labels.get(k) == Some(*v)))
        .map(|s| match &s.value {
            Value::Histogram(buckets) => buckets.iter().map(|b| b.count).fold(0.0, f64::max),
            _ => 0.0,
        })
        .sum()
}

async fn answer(control: &Control, id: &str) {
    control.answer_to(id).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_are_scraped_during_a_run_and_the_counters_move() {
    let dir = tempfile::tempdir().unwrap();
    let mut mock = start_mock(dir.path());
    let control = Control::new(&mock.addr);
    let mut config = Config::load(None, procs::dev_profile()).unwrap();
    config.smev.endpoint = format!("http://{}/smev/1.3", mock.addr);
    config.smev.poll_interval_ms = 50;
    config.smev.connect_timeout_ms = 500;
    config.store.path = dir.path().join("state");
    config.retry.base_ms = 50;
    config.retry.cap_ms = 500;
    config.school.status_poll_secs = 0;
    let data = dir.path().join("school.json");
    std::fs::copy(&config.school.data, &data).unwrap();
    config.school.data = data;
    let gateway = Gateway::open(config).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let running = tokio::spawn(gateway.run(listener, async move {
        let _ = stopped.await;
    }));
    let http = reqwest::Client::new();

    // Before any traffic: every family is declared, nothing counted yet.
    let before = scrape(&http, &base).await;
    for family in FAMILIES {
        assert!(before.docs.contains_key(*family), "{family} has a HELP line");
    }
    assert_eq!(value(&before, "edugate_messages_received_total", &[]), 0.0);
    assert_eq!(value(&before, "edugate_circuit_breaker_state", &[("destination", "smev"), ("state", "closed")]), 1.0);
    assert_eq!(value(&before, "edugate_kind_paused", &[("kind", "Echo")]), 0.0);

    // Traffic: an echo, a progress lookup (school calls), an enrollment (a deferred school call), and one
    // SMEVFailure on a send that the outbox retries.
    control.inject("SendResponse", "SMEVFailure", 1).await;
    let echo = control.portal_send("<e:Echo xmlns:e=\"urn://edugate/echo/1.0.0\">metrics</e:Echo>").await;
    let lookup = control
        .portal_send(
            "<p:ProgressRequest xmlns:p=\"urn://edugate/progress/1.0.0\"><p:ApplicantSnils>112-233-445 95</p:ApplicantSnils>\
             <p:PeriodFrom>2026-09-01</p:PeriodFrom><p:PeriodTo>2026-10-24</p:PeriodTo></p:ProgressRequest>",
        )
        .await;
    let application = control.portal_send(&enrollment::sample_form(4_400_000_001)).await;
    for id in [&echo, &lookup, &application] {
        answer(&control, id).await;
    }
    // The answers and the acknowledgements are queued together and sent by their own workers, in either order;
    // scrape until both are counted.
    let deadline = Instant::now() + Duration::from_secs(20);
    let during = loop {
        let during = scrape(&http, &base).await;
        let acked = value(&during, "edugate_messages_acknowledged_total", &[("outcome", "ok")]);
        if acked >= 3.0 && value(&during, "edugate_messages_sent_total", &[("outcome", "ok")]) >= 3.0 {
            break during;
        }
        assert!(Instant::now() < deadline, "acknowledgements counted");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let received = |kind| value(&during, "edugate_messages_received_total", &[("kind", kind)]);
    assert_eq!((received("Echo"), received("ProgressRequest"), received("FormData")), (1.0, 1.0, 1.0));
    assert_eq!(
        value(&during, "edugate_messages_received_total", &[("kind", "FormData"), ("outcome", "deferred")]),
        1.0
    );
    assert_eq!(value(&during, "edugate_messages_sent_total", &[("outcome", "ok")]), 3.0);
    assert_eq!(value(&during, "edugate_messages_sent_total", &[("kind", "Echo"), ("outcome", "ok")]), 1.0);
    assert!(value(&during, "edugate_messages_sent_total", &[("outcome", "retry")]) >= 1.0);
    assert_eq!(value(&during, "edugate_messages_acknowledged_total", &[("kind", "FormData"), ("outcome", "ok")]), 1.0);
    assert!(value(&during, "edugate_outbox_retries_total", &[("queue", "send-to-smev")]) >= 1.0);
    assert!(
        value(&during, "edugate_smev_faults_total", &[("type", "SMEVFailure"), ("operation", "SendResponse")]) >= 1.0
    );
    assert!(value(&during, "edugate_outbox_items", &[("queue", "send-to-smev"), ("state", "completed")]) >= 3.0);
    assert_eq!(value(&during, "edugate_outbox_items", &[("queue", "call-school"), ("state", "completed")]), 1.0);
    assert!(value(&during, "edugate_signatures_total", &[("operation", "verify"), ("outcome", "ok")]) >= 3.0);
    assert!(value(&during, "edugate_signatures_total", &[("operation", "sign"), ("outcome", "ok")]) >= 6.0);
    assert!(observations(&during, "edugate_signature_duration_seconds", &[("operation", "verify")]) >= 3.0);
    assert!(observations(&during, "edugate_signature_duration_seconds", &[("operation", "sign")]) >= 3.0);
    assert!(
        observations(&during, "edugate_school_call_duration_seconds", &[("operation", "submit_application")]) >= 1.0
    );
    assert!(observations(&during, "edugate_school_call_duration_seconds", &[("operation", "linked_children")]) >= 1.0);
    assert!(observations(&during, "edugate_smev_call_duration_seconds", &[("operation", "GetRequest")]) >= 3.0);
    assert!(value(&during, "edugate_uptime_seconds", &[]) > 0.0);
    // Counts and states only: no ids, no personal data.
    let text = http.get(format!("{base}/metrics")).send().await.unwrap().text().await.unwrap();
    assert!(!text.contains(&echo) && !text.contains("112-233-445"), "{text}");

    // Health and readiness while all is well.
    let health = http.get(format!("{base}/healthz")).send().await.unwrap();
    assert_eq!((health.status().as_u16(), health.text().await.unwrap()), (200, "ok".to_owned()));
    let ready = http.get(format!("{base}/readyz")).send().await.unwrap();
    assert_eq!(ready.status().as_u16(), 200);
    let ready: serde_json::Value = serde_json::from_str(&ready.text().await.unwrap()).unwrap();
    assert_eq!((ready["store"].as_str(), ready["smev"].as_str()), (Some("ok"), Some("ok")));
    assert_eq!(ready["breakers"][0], serde_json::json!({ "destination": "smev", "state": "closed" }));

    // SMEV goes away: the gateway is no longer ready, and says why; transport failures are counted.
    mock.kill();
    let deadline = Instant::now() + Duration::from_secs(20);
    let unready = loop {
        let response = http.get(format!("{base}/readyz")).send().await.unwrap();
        if response.status().as_u16() == 503 {
            break serde_json::from_str::<serde_json::Value>(&response.text().await.unwrap()).unwrap();
        }
        assert!(Instant::now() < deadline, "not ready once SMEV is gone");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert!(unready["smev"].as_str().unwrap().starts_with("failing"), "{unready}");
    assert_eq!(unready["ready"], false);
    let after = scrape(&http, &base).await;
    assert!(value(&after, "edugate_smev_faults_total", &[("type", "transport")]) >= 1.0);

    let _ = stop.send(());
    running.await.unwrap().unwrap();
}

/// Regression: every poller of every kind polled an empty queue once per interval, so idle kinds cost
/// `pollers` signed GetRequests (and as many verifications at SMEV) per interval each. Now one scout per kind polls
/// while the queue is empty, and the other pollers join in as soon as it finds a request.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_kind_is_polled_by_one_poller_and_the_others_join_when_requests_come() {
    let dir = tempfile::tempdir().unwrap();
    let mock = start_mock(dir.path());
    let control = Control::new(&mock.addr);
    let mut config = procs::gateway_config(dir.path(), &mock.addr);
    config.smev.poll_interval_ms = 200;
    config.provider.pollers = 6;
    let kinds = config.provider.kinds.len() as f64;
    let gateway = Gateway::open(config).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let started = Instant::now();
    let running = tokio::spawn(gateway.run(listener, async move {
        let _ = stopped.await;
    }));
    let http = reqwest::Client::new();

    tokio::time::sleep(Duration::from_secs(2)).await;
    let idle = scrape(&http, &base).await;
    let polls = observations(&idle, "edugate_smev_call_duration_seconds", &[("operation", "GetRequest")]);
    // Each helper polls once before it parks; each scout once per interval (plus the poll in flight), after a
    // few quicker polls while its pause grows from 20 ms to the interval.
    let intervals = started.elapsed().as_secs_f64() / 0.2;
    let bound = kinds * 5.0 + kinds * (intervals + 2.0 + 4.0);
    assert!(polls <= bound, "{polls} GetRequests while idle, more than {bound}");
    assert!(polls >= kinds, "every kind polled");

    // A burst: everything is answered, whichever poller takes it.
    let mut ids = Vec::new();
    for n in 0..12 {
        ids.push(
            control.portal_send(&format!("<e:Echo xmlns:e=\"urn://edugate/echo/1.0.0\">burst {n}</e:Echo>")).await,
        );
    }
    for id in &ids {
        answer(&control, id).await;
    }
    let _ = stop.send(());
    running.await.unwrap().unwrap();
}
