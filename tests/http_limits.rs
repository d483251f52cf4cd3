//! The gateway's HTTP port under hostile clients, and the gateway when its state directory fails.
//!
//! - A connection that sends nothing, one that trickles its headers (slowloris) and a keep-alive connection left
//!   idle are closed by the configured timeouts (small here, 200 ms): the client reads EOF.
//! - 2000 idle connections against a limit of 256, in a gateway limited to 1024 file descriptors, do not starve
//!   the port or the store: `/healthz` answers and `/readyz` reports the store ok; in process, the accept loop is
//!   seen never to serve more connections at once than the limit.
//! - A request body over `http.max_body_bytes` is refused with 413.
//! - A failed flush of the state directory turns `/readyz` to 503 naming the store, stops the gateway and makes
//!   `run` fail (in-process, with an injected failure); the binary exits non-zero when its disk refuses a write.
//!
//! No test asserts a wall-clock duration: each waits with a generous hang guard, far beyond the configured
//! timeouts and far below what the defaults would take.
mod procs;

#[path = "support/closed.rs"]
mod closed;
use closed::read_until_closed;
use edugate::gateway::runtime::RunError;
use edugate::gateway::Gateway;
use procs::{gateway_config, start_mock, Control, Proc};
use std::path::Path;
use std::process::Command;
use std::time::Duration;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

/// Far beyond any timeout configured here; reached only when a timeout does not work.
const HANG_GUARD: Duration = Duration::from_secs(60);

/// Starts the gateway binary with small HTTP timeouts and the given extra settings, polling an SMEV that is not
/// there (the port's behaviour does not depend on it); `shell` wraps the start in `sh -c` (for `ulimit`).
fn start_limited(dir: &Path, extra: &[(&str, &str)], shell: Option<&str>) -> Proc {
    let command = match shell {
        Some(prelude) => {
            let mut c = Command::new("sh");
            c.arg("-c").arg(format!("{prelude}; exec \"$0\" run")).arg(procs::edugate_bin());
            c
        }
        None => {
            let mut c = Command::new(procs::edugate_bin());
            c.arg("run");
            c
        }
    };
    let mut settings: Vec<(&str, String)> = vec![
        ("EDUGATE__SMEV__POLL_INTERVAL_MS", "1000".into()),
        ("EDUGATE__HTTP__HEADER_READ_TIMEOUT_MS", "200".into()),
        ("EDUGATE__HTTP__IDLE_TIMEOUT_MS", "200".into()),
        ("EDUGATE__SCHOOL__STATUS_POLL_SECS", "0".into()),
    ];
    settings.extend(extra.iter().map(|&(k, v)| (k, v.to_string())));
    procs::start_gateway_command(command, dir, "127.0.0.1:1", Some("warn"), &settings)
}

async fn get(addr: &str, path: &str) -> (u16, String) {
    let client = reqwest::Client::builder().timeout(HANG_GUARD).build().unwrap();
    let reply = client.get(format!("http://{addr}{path}")).send().await.expect("the port answers");
    (reply.status().as_u16(), reply.text().await.unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_and_slow_header_connections_are_closed_on_time() {
    let dir = tempfile::tempdir().unwrap();
    let gateway = start_limited(dir.path(), &[], None);

    // Connected, never a byte.
    let mut silent = TcpStream::connect(&gateway.addr).await.unwrap();
    assert_eq!(read_until_closed(&mut silent, HANG_GUARD).await, "", "nothing is answered to nothing");

    // Slowloris: a request head trickled one byte every 50 ms, never finished.
    let mut slow = TcpStream::connect(&gateway.addr).await.unwrap();
    slow.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n").await.unwrap();
    let trickle = async {
        for byte in b"X-Slow: ".iter().cycle() {
            if slow.write_all(&[*byte]).await.is_err() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    };
    let stopped = tokio::time::timeout(HANG_GUARD, trickle).await;
    assert!(stopped.is_ok(), "a trickled request head held its connection");
    let answer = read_until_closed(&mut slow, HANG_GUARD).await;
    assert!(!answer.contains("200 OK"), "{answer}");

    // A keep-alive connection, once answered, left idle.
    let mut kept = TcpStream::connect(&gateway.addr).await.unwrap();
    kept.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n").await.unwrap();
    let answer = read_until_closed(&mut kept, HANG_GUARD).await;
    assert!(answer.starts_with("HTTP/1.1 200") && answer.ends_with("ok"), "{answer}");

    // The port still serves.
    assert_eq!(get(&gateway.addr, "/healthz").await, (200, "ok".into()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_idle_connections_neither_starves_the_port_nor_the_store() {
    let dir = tempfile::tempdir().unwrap();
    // 1024 descriptors for the gateway: 2000 connections would exhaust them without a limit, and the state
    // directory's next fsync (which opens files) would fail with them.
    let limits = [("EDUGATE__HTTP__MAX_CONNECTIONS", "256"), ("EDUGATE__HTTP__IDLE_TIMEOUT_MS", "500")];
    let gateway = start_limited(dir.path(), &limits, Some("ulimit -n 1024"));
    let mut flood = tokio::task::JoinSet::new();
    for _ in 0..2000 {
        let addr = gateway.addr.clone();
        flood.spawn(async move { tokio::time::timeout(HANG_GUARD, TcpStream::connect(addr)).await });
    }
    let mut idle = Vec::new();
    while let Some(connected) = flood.join_next().await {
        if let Ok(Ok(Ok(stream))) = connected {
            idle.push(stream);
        }
    }
    assert!(idle.len() >= 1000, "the flood connected only {} times", idle.len());

    // Behind the flood in the backlog, a probe is served once idle connections are closed.
    assert_eq!(get(&gateway.addr, "/healthz").await, (200, "ok".into()));
    let (_, ready) = get(&gateway.addr, "/readyz").await;
    let ready: serde_json::Value = serde_json::from_str(&ready).unwrap();
    assert_eq!(ready["store"], "ok", "{ready}");

    drop(idle);
    let log = std::fs::read_to_string(dir.path().join("gateway.log")).unwrap();
    assert!(!log.contains("accept failed"), "the gateway ran out of descriptors:\n{log}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_over_the_limit_are_never_served_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = gateway_config(dir.path(), "127.0.0.1:1");
    config.http.max_connections = 8;
    config.http.idle_timeout_ms = 200;
    let gateway = Gateway::open(config).unwrap();
    let shared = gateway.handles();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let running = tokio::spawn(gateway.run(listener, async move {
        let _ = stopped.await;
    }));
    let mut idle = Vec::new();
    for _ in 0..64 {
        idle.push(TcpStream::connect(&addr).await.unwrap());
    }
    assert_eq!(get(&addr, "/healthz").await, (200, "ok".into()));
    let connections = &shared.http_connections;
    let peak = connections.peak.load(std::sync::atomic::Ordering::Relaxed);
    assert!(peak <= 8, "{peak} connections served at once, over the limit of 8");
    assert!(connections.closed_idle.load(std::sync::atomic::Ordering::Relaxed) >= 8, "idle ones made room");
    stop.send(()).unwrap();
    tokio::time::timeout(HANG_GUARD, running).await.expect("stops").unwrap().expect("a clean stop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oversized_body_is_refused_with_413() {
    let dir = tempfile::tempdir().unwrap();
    let gateway = start_limited(dir.path(), &[("EDUGATE__HTTP__MAX_BODY_BYTES", "1024")], None);
    let client = reqwest::Client::builder().timeout(HANG_GUARD).build().unwrap();
    let url = format!("http://{}/ops/api/items", gateway.addr);
    let reply = client.post(&url).body(vec![b'x'; 4096]).send().await.unwrap();
    assert_eq!(reply.status().as_u16(), 413);
    assert_eq!(get(&gateway.addr, "/healthz").await, (200, "ok".into()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_injected_fsync_failure_fails_readyz_and_stops_the_gateway() {
    let dir = tempfile::tempdir().unwrap();
    let mock = start_mock(dir.path());
    let mut config = gateway_config(dir.path(), &mock.addr);
    config.http.shutdown_grace_secs = 2;
    let gateway = Gateway::open(config).unwrap();
    let shared = gateway.handles();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let running = tokio::spawn(gateway.run(listener, std::future::pending()));

    let (_, ready) = get(&addr, "/readyz").await;
    assert!(ready.contains("\"store\":\"ok\""), "{ready}");
    let state = shared.store_health.state().expect("the gateway watches its state directory");
    state.inject_flush_failure("fsync of the log: Input/output error (injected)");
    let written = shared.outbox.enqueue("send", "after-the-failure", b"x", shared.clock.now()).await;
    assert!(written.is_err(), "a write after the failure is refused");

    // The reason is on /readyz while the gateway winds down.
    let (status, ready) = get(&addr, "/readyz").await;
    assert_eq!(status, 503, "{ready}");
    let ready: serde_json::Value = serde_json::from_str(&ready).unwrap();
    let store = ready["store"].as_str().unwrap();
    assert!(store.starts_with("failed: ") && store.contains("Input/output error"), "{ready}");

    let stopped = tokio::time::timeout(HANG_GUARD, running).await.expect("the gateway stops by itself");
    match stopped.unwrap() {
        Err(RunError::StoreFailed(reason)) => assert!(reason.contains("Input/output error"), "{reason}"),
        other => panic!("run ended with {other:?}"),
    }
    drop(mock);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_disk_that_refuses_writes_makes_the_binary_exit_non_zero() {
    let dir = tempfile::tempdir().unwrap();
    let mock = start_mock(dir.path());
    let control = Control::new(&mock.addr);
    // Files the gateway writes may not grow past a few MiB (`ulimit -f 4096`, in the shell's blocks): sled's log
    // soon needs more, and its write fails with EFBIG as on a full disk (SIGXFSZ is ignored so that the write
    // fails rather than the process).
    let mut gateway = start_gateway_under(dir.path(), &mock.addr, "trap '' XFSZ; ulimit -f 4096");
    let payload = "x".repeat(60_000);
    let content = format!("<e:Echo xmlns:e=\"urn://edugate/echo/1.0.0\">{payload}</e:Echo>");
    let mut saw_503 = None;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
    while tokio::time::Instant::now() < deadline {
        if gateway.child.try_wait().unwrap().is_some() {
            break;
        }
        control.portal_send(&content).await;
        if let Ok(reply) = reqwest::get(format!("http://{}/readyz", gateway.addr)).await {
            let status = reply.status().as_u16();
            let text = reply.text().await.unwrap_or_default();
            if status == 503 && text.contains("\"store\":\"failed: ") {
                saw_503 = Some(text);
            }
        }
    }
    let status = wait_exit(&mut gateway.child);
    let log = std::fs::read_to_string(dir.path().join("gateway.log")).unwrap();
    assert!(!status.success(), "the gateway must exit non-zero: {status:?}\n{log}");
    assert_eq!(status.code(), Some(2), "an error exit, not a crash: {status:?}\n{log}");
    assert!(log.contains("store.path: the state directory cannot keep work any more"), "{log}");
    let ready = saw_503.expect("/readyz said 503 with the store's reason before the exit");
    println!("exit {status:?}; /readyz said {ready}");
    assert!(ready.contains("\"ready\":false"), "{ready}");
}

/// Starts the gateway against mock-smev at `mock_addr` through `sh -c "PRELUDE; exec edugate run"`.
fn start_gateway_under(dir: &Path, mock_addr: &str, prelude: &str) -> Proc {
    let mut command = Command::new("sh");
    command.arg("-c").arg(format!("{prelude}; exec \"$0\" run")).arg(procs::edugate_bin());
    let settings =
        [("EDUGATE__HTTP__SHUTDOWN_GRACE_SECS", "2".to_string()), ("EDUGATE__SCHOOL__STATUS_POLL_SECS", "0".into())];
    procs::start_gateway_command(command, dir, mock_addr, Some("warn"), &settings)
}

/// Waits for the child to exit, within the hang guard.
fn wait_exit(child: &mut std::process::Child) -> std::process::ExitStatus {
    let deadline = std::time::Instant::now() + HANG_GUARD;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        assert!(std::time::Instant::now() < deadline, "the gateway did not exit");
        std::thread::sleep(Duration::from_millis(50));
    }
}
