//! Progress lookups end to end: portal → mock-smev → gateway → embedded school → response delivered to the portal.
//!
//! mock-smev and the gateway run as separate processes (release builds), so that the gateway's CPU time can be
//! read from /proc on its own; K portal clients in this process send lookups for the demo parent and collect the
//! responses. Reported: lookups per second, p50 and p99 latency (send to delivered response), and the gateway's CPU
//! per lookup against its crypto floor (the 3 signatures and 2 verifications a lookup costs it, at the raw cost
//! measured in the same run). `LOOKUP_SECS` (default 15) and `LOOKUP_CLIENTS` (default 16) tune the run.
#[path = "../tests/procs/mod.rs"]
mod procs;

use edugate::crypto::{Certificate, PrivateKey};
use edugate::dsig::Signer;
use edugate::smev::client::{ClientConfig, SmevClient};
use edugate::smev::{KindOfData, SendRequest};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

fn setting(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// CPU seconds (user + system) a process has used, from /proc.
fn cpu_of(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let after = stat.rsplit(')').next().unwrap_or("");
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks: f64 = fields.get(11).and_then(|v| v.parse().ok()).unwrap_or(0.0)
        + fields.get(12).and_then(|v| v.parse().ok()).unwrap_or(0.0);
    ticks / 100.0
}

fn floor(key: &PrivateKey, cert: &Certificate) -> (f64, f64) {
    let data = vec![b'x'; 700];
    let sig = key.sign(&data).unwrap();
    let start = Instant::now();
    for _ in 0..1000 {
        key.sign(&data).unwrap();
    }
    let sign = start.elapsed().as_secs_f64() * 1e3;
    let start = Instant::now();
    for _ in 0..500 {
        cert.verify(&data, &sig).unwrap();
    }
    (sign, start.elapsed().as_secs_f64() * 2e3)
}

/// Prints the gateway's SMEV calls per lookup by operation, from its /metrics (warm-up included): extra calls, such
/// as polls of an empty queue, cost a signature here and a verification in mock-smev each.
fn print_smev_calls(runtime: &tokio::runtime::Runtime, addr: &str, lookups: usize) {
    let text = runtime
        .block_on(async { reqwest::get(format!("http://{addr}/metrics")).await?.text().await })
        .unwrap_or_default();
    let calls: Vec<String> = text
        .lines()
        .filter(|l| l.starts_with("edugate_smev_call_duration_seconds_count"))
        .filter_map(|l| {
            let operation = l.split("operation=\"").nth(1)?.split('"').next()?;
            let count: f64 = l.rsplit(' ').next()?.parse().ok()?;
            Some(format!("{operation} {:.2}", count / lookups.max(1) as f64))
        })
        .collect();
    println!("gateway SMEV calls per lookup: {}", calls.join(", "));
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

fn main() {
    let secs = setting("LOOKUP_SECS", 15);
    let clients = setting("LOOKUP_CLIENTS", 16) as usize;
    edugate::crypto::ensure_default_engine().unwrap();
    let dir = tempfile::tempdir().unwrap();
    // SMEV validates content on its own servers, not on the region's: unless LOOKUP_VALIDATE=1, mock-smev here
    // registers the progress kind without its XSD, so that a validator process per lookup does not compete with the
    // gateway for the same two cores.
    let kinds = if setting("LOOKUP_VALIDATE", 0) == 1 {
        String::new()
    } else {
        "[[kinds]]\nnamespace = \"urn://edugate/progress/1.0.0\"\nroot = \"ProgressRequest\"\nprovider = \"EDUGATE\"\n"
            .to_string()
    };
    // The emulator keeps its queues in memory: in sled mode it syncs every operation under one lock, which would
    // measure the emulator's disk rather than the gateway.
    let mock = procs::start_mock_with(dir.path(), &kinds, false);
    // Enough requests in flight at the gateway to cover SMEV's round trips and the durable writes of each.
    let concurrency = setting("LOOKUP_GATEWAY_CONCURRENCY", 32);
    let settings = [
        ("EDUGATE__PROVIDER__CONCURRENCY", concurrency.to_string()),
        ("EDUGATE__PROVIDER__POLLERS", (concurrency / 4).max(1).to_string()),
        // The production default: only the kinds of data nobody sends poll at this pace under load.
        ("EDUGATE__SMEV__POLL_INTERVAL_MS", "1000".to_string()),
    ];
    let mut gateway = procs::start_gateway_with(dir.path(), &mock.addr, Some("warn"), &settings);
    let certs = edugate::config::certs_dev();
    let key = PrivateKey::from_pem(&std::fs::read(certs.join("portal.key")).unwrap()).unwrap();
    let cert = Certificate::load(&certs.join("portal.crt")).unwrap();
    let (gkey, gcert) = (
        PrivateKey::from_pem(&std::fs::read(certs.join("gateway.key")).unwrap()).unwrap(),
        Certificate::load(&certs.join("gateway.crt")).unwrap(),
    );
    let (sign_us, verify_us) = floor(&gkey, &gcert);
    let floor_us = 3.0 * sign_us + 2.0 * verify_us;
    let signer = Arc::new(Signer::new(key, cert).unwrap());
    let url = format!("http://{}/smev/1.3", mock.addr);
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let sent: Arc<Mutex<HashMap<String, Instant>>> = Arc::default();
    let latencies: Arc<Mutex<Vec<f64>>> = Arc::default();
    let portal_polls: Arc<std::sync::atomic::AtomicU64> = Arc::default();
    // The period ends on the demo term's last day; LOOKUP_DAYS=54 asks for the whole term (the heaviest answer).
    let days = setting("LOOKUP_DAYS", 7) as i64;
    let to = time::macros::date!(2026 - 10 - 24);
    let from = to - time::Duration::days(days - 1);
    let content: &'static str = Box::leak(
        format!(
            "<p:ProgressRequest xmlns:p=\"urn://edugate/progress/1.0.0\"><p:ApplicantSnils>112-233-445 95</p:ApplicantSnils>\
             <p:PeriodFrom>{from}</p:PeriodFrom><p:PeriodTo>{to}</p:PeriodTo></p:ProgressRequest>"
        )
        .into_boxed_str(),
    );
    let (cpu0, t0, measured) = runtime.block_on(async {
        // Warm up: one lookup end to end.
        let client = SmevClient::new(ClientConfig::new(url.clone()), signer.clone()).unwrap();
        let kind = KindOfData::new("urn://edugate/progress/1.0.0", "ProgressResponse");
        client.send_request(&SendRequest::new(content)).await.unwrap();
        loop {
            if let Some(r) = client.get_response(Some(&kind)).await.unwrap() {
                client.ack(r.message.metadata.message_id.as_deref().unwrap(), true).await.unwrap();
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let (cpu0, t0) = (cpu_of(gateway.child.id()), Instant::now());
        let others0 = (cpu_of(mock.child.id()), cpu_of(std::process::id()));
        let deadline = t0 + Duration::from_secs(secs);
        let mut tasks = Vec::new();
        // Senders keep a bounded number of lookups in flight each; collectors take the responses.
        for _ in 0..clients {
            let client = SmevClient::new(ClientConfig::new(url.clone()), signer.clone()).unwrap();
            let sent = sent.clone();
            tasks.push(tokio::spawn(async move {
                while Instant::now() < deadline {
                    let request = SendRequest::new(content);
                    let id = request.message_id.to_string();
                    sent.lock().unwrap().insert(id, Instant::now());
                    if client.send_request(&request).await.is_err() {
                        continue;
                    }
                    while sent.lock().unwrap().len() > clients * 2 && Instant::now() < deadline {
                        tokio::time::sleep(Duration::from_millis(5)).await;
                    }
                }
            }));
        }
        for _ in 0..4 {
            let client = SmevClient::new(ClientConfig::new(url.clone()), signer.clone()).unwrap();
            let (sent, latencies, kind) = (sent.clone(), latencies.clone(), kind.clone());
            let portal_polls = portal_polls.clone();
            tasks.push(tokio::spawn(async move {
                while Instant::now() < deadline + Duration::from_secs(5) {
                    if Instant::now() <= deadline {
                        portal_polls.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    }
                    match client.get_response(Some(&kind)).await {
                        Ok(Some(r)) => {
                            let original = r.message.original_message_id.clone().unwrap_or_default();
                            if let Some(at) = sent.lock().unwrap().remove(&original) {
                                if Instant::now() <= deadline {
                                    latencies.lock().unwrap().push(at.elapsed().as_secs_f64() * 1e3);
                                }
                            }
                            let _ =
                                client.ack(r.message.metadata.message_id.as_deref().unwrap_or_default(), true).await;
                        }
                        // An empty poll costs a signature here and a verification in mock-smev, like any
                        // other call: a portal waits a little before asking again.
                        _ => tokio::time::sleep(Duration::from_millis(25)).await,
                    }
                }
            }));
        }
        for t in tasks {
            let _ = t.await;
        }
        let others = (cpu_of(mock.child.id()) - others0.0, cpu_of(std::process::id()) - others0.1);
        println!(
            "CPU seconds over the run: gateway {:.1}, mock-smev {:.1}, portal clients {:.1} (of {} available)",
            cpu_of(gateway.child.id()) - cpu0,
            others.0,
            others.1,
            2 * (secs + 5)
        );
        (cpu0, t0, deadline)
    });
    let _ = (t0, measured);
    let cpu = cpu_of(gateway.child.id()) - cpu0;
    print_smev_calls(&runtime, &gateway.addr, latencies.lock().unwrap().len());
    println!(
        "portal GetResponse calls per lookup: {:.2}",
        portal_polls.load(std::sync::atomic::Ordering::Relaxed) as f64 / latencies.lock().unwrap().len().max(1) as f64
    );
    // A graceful stop, so that a profiler wrapped around the gateway writes its output.
    procs::terminate(&mut gateway);
    let mut lat = latencies.lock().unwrap().clone();
    lat.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let n = lat.len() as f64;
    let per_lookup_us = cpu * 1e6 / n.max(1.0);
    println!("gateway crypto floor: sign {sign_us:.1} µs, verify {verify_us:.1} µs; per lookup (3 signs + 2 verifies) {floor_us:.0} µs");
    println!("\n| period | clients | lookups | lookups/s | p50 | p99 | gateway CPU per lookup | floor | CPU / floor |");
    println!("|---|---|---|---|---|---|---|---|---|");
    println!(
        "| {days} days | {clients} | {} | {:.0} | {:.1} ms | {:.1} ms | {:.0} µs | {:.0} µs | {:.2} |",
        lat.len(),
        n / secs as f64,
        percentile(&lat, 0.50),
        percentile(&lat, 0.99),
        per_lookup_us,
        floor_us,
        per_lookup_us / floor_us
    );
}
