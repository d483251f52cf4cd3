//! Progress lookups end to end: portal → mock-smev → gateway → embedded school → response delivered to the portal.
//!
//! mock-smev and the gateway run as separate processes (release builds), so that each one's CPU time can be read
//! from /proc on its own; portal clients in this process send lookups for the demo parent and collect the
//! responses. The load runs for a warm-up (`LOOKUP_WARMUP_SECS`, default 3: connections, caches and pollers come up
//! to speed) and then for the measured window (`LOOKUP_SECS`, default 15). Reported for the window: lookups per
//! second, latency percentiles (send to delivered response), the CPU each process spent per lookup, how busy the
//! machine was, and the gateway's CPU per lookup against its crypto floor (the 3 signatures and 2 verifications a
//! lookup costs it, at the raw cost measured in the same run). `LOOKUP_CLIENTS` (default 32) senders keep two
//! lookups in flight each.
//!
//! `LOOKUP_KIND=kindergarten` files kindergarten applications instead (the EPGU concentrator's 3.2.1
//! `ApplicationRequest`, a new order each, answered 110): the gateway validates each against the published schema,
//! the embedded queue registers it with an fsynced journal record, and the answer opens the application's thread;
//! the same signatures and verifications make its floor.
#[path = "../tests/procs/mod.rs"]
mod procs;

use edugate::crypto::{Certificate, PrivateKey};
use edugate::demo::portal::SoapPortal;
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

/// The measured part of the run: lookups completed in it count.
#[derive(Debug, Clone, Copy)]
struct Window {
    start: Instant,
    end: Instant,
}

impl Window {
    fn contains(&self, at: Instant) -> bool {
        self.start <= at && at <= self.end
    }
}

/// CPU seconds of each process of the run, and the machine's busy and total CPU seconds, at one moment.
struct CpuSnapshot {
    processes: Vec<f64>,
    busy: f64,
    total: f64,
}

impl CpuSnapshot {
    fn take(pids: &[u32]) -> CpuSnapshot {
        let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
        let ticks: Vec<f64> =
            stat.lines().next().unwrap_or("").split_whitespace().skip(1).filter_map(|v| v.parse().ok()).collect();
        let total: f64 = ticks.iter().sum();
        // idle and iowait are the fourth and fifth fields.
        let idle = ticks.get(3).copied().unwrap_or(0.0) + ticks.get(4).copied().unwrap_or(0.0);
        CpuSnapshot {
            processes: pids.iter().map(|&p| cpu_of(p)).collect(),
            busy: (total - idle) / 100.0,
            total: total / 100.0,
        }
    }
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

/// Prints the gateway's SMEV calls per request it received, from its /metrics (the whole run: warm-up, window
/// and drain): extra calls, such as polls of an empty queue, cost a signature here and a verification in mock-smev
/// each.
fn print_smev_calls(runtime: &tokio::runtime::Runtime, addr: &str) {
    let text = runtime
        .block_on(async { reqwest::get(format!("http://{addr}/metrics")).await?.text().await })
        .unwrap_or_default();
    let count = |line: &str| line.rsplit(' ').next().and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    let received: f64 =
        text.lines().filter(|l| l.starts_with("edugate_messages_received_total{")).map(count).sum::<f64>().max(1.0);
    let calls: Vec<String> = text
        .lines()
        .filter(|l| l.starts_with("edugate_smev_call_duration_seconds_count"))
        .filter_map(|l| {
            let operation = l.split("operation=\"").nth(1)?.split('"').next()?;
            Some(format!("{operation} {:.2}", count(l) / received))
        })
        .collect();
    println!("gateway SMEV calls per request received: {}", calls.join(", "));
    if let Ok(path) = std::env::var("LOOKUP_METRICS") {
        let _ = std::fs::write(path, &text);
    }
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

fn main() {
    let secs = setting("LOOKUP_SECS", 15);
    let clients = setting("LOOKUP_CLIENTS", 32) as usize;
    edugate::crypto::ensure_default_engine().unwrap();
    let dir = tempfile::tempdir().unwrap();
    // SMEV validates content on its own servers, not on the region's: unless LOOKUP_VALIDATE=1, mock-smev here
    // registers the progress kind without its XSD, so that a validator process per lookup does not compete with the
    // gateway for the same two cores.
    let kindergarten = std::env::var("LOOKUP_KIND").is_ok_and(|k| k == "kindergarten");
    let (namespace, root) = if kindergarten {
        (edugate::demo::KINDERGARTEN_3_2_1, "FormData")
    } else {
        ("urn://edugate/progress/1.0.0", "ProgressRequest")
    };
    let kinds = if setting("LOOKUP_VALIDATE", 0) == 1 {
        String::new()
    } else {
        format!("[[kinds]]\nnamespace = \"{namespace}\"\nroot = \"{root}\"\nprovider = \"EDUGATE\"\n")
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
    let (gkey, gcert) = (
        PrivateKey::from_pem(&std::fs::read(certs.join("gateway.key")).unwrap()).unwrap(),
        Certificate::load(&certs.join("gateway.crt")).unwrap(),
    );
    let (sign_us, verify_us) = floor(&gkey, &gcert);
    let floor_us = 3.0 * sign_us + 2.0 * verify_us;
    let signer = SoapPortal::dev_signer(&certs).unwrap();
    let url = format!("http://{}/smev/1.3", mock.addr);
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let sent: Arc<Mutex<HashMap<String, Instant>>> = Arc::default();
    let latencies: Arc<Mutex<Vec<f64>>> = Arc::default();
    let portal_polls: Arc<std::sync::atomic::AtomicU64> = Arc::default();
    let completions: Arc<Mutex<Vec<Instant>>> = Arc::default();
    // The period ends on the demo term's last day; LOOKUP_DAYS=54 asks for the whole term (the heaviest answer).
    let days = setting("LOOKUP_DAYS", 7) as i64;
    let to = time::macros::date!(2026 - 10 - 24);
    let from = to - time::Duration::days(days - 1);
    let lookup = format!(
        "<p:ProgressRequest xmlns:p=\"urn://edugate/progress/1.0.0\"><p:ApplicantSnils>112-233-445 95</p:ApplicantSnils>\
         <p:PeriodFrom>{from}</p:PeriodFrom><p:PeriodTo>{to}</p:PeriodTo></p:ProgressRequest>"
    );
    // Each request's content: the same lookup, or a new kindergarten application (a new order) each time.
    let orders = Arc::new(std::sync::atomic::AtomicI64::new(7_000_000_000));
    let content = move || {
        if kindergarten {
            let order = orders.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            edugate::demo::kindergarten_application(order)
        } else {
            lookup.clone()
        }
    };
    let pids = [gateway.child.id(), mock.child.id(), std::process::id()];
    let warmup = Duration::from_secs(setting("LOOKUP_WARMUP_SECS", 3));
    let (before, after, window) = runtime.block_on(async {
        // One lookup end to end before the load starts.
        let portal = SoapPortal::new(&url, signer.clone()).unwrap();
        let answered = if kindergarten { "FormDataResponse" } else { "ProgressResponse" };
        let kind = KindOfData::new(namespace, answered);
        portal.send(&SendRequest::new(content())).await.unwrap();
        while portal.collect(&kind).await.unwrap().is_none() {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let window =
            Window { start: Instant::now() + warmup, end: Instant::now() + warmup + Duration::from_secs(secs) };
        let mut tasks = Vec::new();
        // Senders keep two lookups in flight each (a permit per lookup, handed back when its answer is
        // collected); collectors take the responses.
        let in_flight = Arc::new(tokio::sync::Semaphore::new(clients * 2));
        for _ in 0..clients {
            let portal = SoapPortal::new(&url, signer.clone()).unwrap();
            let (sent, in_flight, content) = (sent.clone(), in_flight.clone(), content.clone());
            tasks.push(tokio::spawn(async move {
                while Instant::now() < window.end {
                    let Ok(Ok(permit)) =
                        tokio::time::timeout_at(window.end.into(), in_flight.clone().acquire_owned()).await
                    else {
                        break;
                    };
                    let request = SendRequest::new(content());
                    let id = request.message_id.to_string();
                    sent.lock().unwrap().insert(id.clone(), Instant::now());
                    if portal.send(&request).await.is_err() {
                        sent.lock().unwrap().remove(&id);
                        continue;
                    }
                    permit.forget();
                }
            }));
        }
        for _ in 0..4 {
            let portal = SoapPortal::new(&url, signer.clone()).unwrap();
            let (sent, latencies, kind) = (sent.clone(), latencies.clone(), kind.clone());
            let (portal_polls, in_flight) = (portal_polls.clone(), in_flight.clone());
            let completions = completions.clone();
            tasks.push(tokio::spawn(async move {
                while Instant::now() < window.end + Duration::from_secs(5) {
                    if window.contains(Instant::now()) {
                        portal_polls.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    }
                    match portal.take_response(&kind).await {
                        Ok(Some(r)) => {
                            let original = r.original_message_id.clone().unwrap_or_default();
                            if let Some(at) = sent.lock().unwrap().remove(&original) {
                                in_flight.add_permits(1);
                                if window.contains(Instant::now()) {
                                    latencies.lock().unwrap().push(at.elapsed().as_secs_f64() * 1e3);
                                    completions.lock().unwrap().push(Instant::now());
                                }
                            }
                            let _ = portal.acknowledge(&r).await;
                        }
                        // An empty poll costs a signature here and a verification in mock-smev, like any
                        // other call: a portal waits a little before asking again.
                        _ => tokio::time::sleep(Duration::from_millis(25)).await,
                    }
                }
            }));
        }
        tokio::time::sleep_until(window.start.into()).await;
        let before = CpuSnapshot::take(&pids);
        tokio::time::sleep_until(window.end.into()).await;
        let after = CpuSnapshot::take(&pids);
        for t in tasks {
            let _ = t.await;
        }
        (before, after, window)
    });
    // The longest time without a delivered answer: a stall anywhere in the chain shows here.
    let mut done = completions.lock().unwrap().clone();
    done.sort();
    if let Some((gap, at)) = done.windows(2).map(|w| (w[1] - w[0], w[0] - window.start)).max() {
        println!("longest time without an answer: {} ms, {:.1} s into the window", gap.as_millis(), at.as_secs_f64());
    }
    let lookups = latencies.lock().unwrap().len();
    let n = lookups.max(1) as f64;
    let spent: Vec<f64> = (0..3).map(|i| after.processes[i] - before.processes[i]).collect();
    let busy = (after.busy - before.busy) / (after.total - before.total).max(1e-9);
    println!(
        "CPU per lookup: gateway {:.0} µs, mock-smev {:.0} µs, portal clients {:.0} µs, together {:.0} µs; machine busy {:.0}%",
        spent[0] * 1e6 / n,
        spent[1] * 1e6 / n,
        spent[2] * 1e6 / n,
        spent.iter().sum::<f64>() * 1e6 / n,
        busy * 100.0
    );
    print_smev_calls(&runtime, &gateway.addr);
    println!(
        "portal GetResponse calls per lookup: {:.2}",
        portal_polls.load(std::sync::atomic::Ordering::Relaxed) as f64 / n
    );
    // A graceful stop, so that a profiler wrapped around the gateway writes its output.
    procs::terminate(&mut gateway);
    for name in ["gateway.log", "mock-smev.log"] {
        let log = std::fs::read_to_string(dir.path().join(name)).unwrap_or_default();
        let warnings: Vec<&str> = log.lines().filter(|l| l.contains("WARN") || l.contains("ERROR")).collect();
        if !warnings.is_empty() {
            println!("{name}: {} warnings, the first: {}", warnings.len(), warnings[0]);
        }
    }
    let mut lat = latencies.lock().unwrap().clone();
    lat.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let per_lookup_us = spent[0] * 1e6 / n;
    println!(
        "latency: p10 {:.0} ms, p50 {:.0} ms, p90 {:.0} ms, p95 {:.0} ms, p99 {:.0} ms, max {:.0} ms",
        percentile(&lat, 0.10),
        percentile(&lat, 0.50),
        percentile(&lat, 0.90),
        percentile(&lat, 0.95),
        percentile(&lat, 0.99),
        percentile(&lat, 1.0)
    );
    println!("gateway crypto floor: sign {sign_us:.1} µs, verify {verify_us:.1} µs; per lookup (3 signs + 2 verifies) {floor_us:.0} µs");
    let what = if kindergarten { "kindergarten applications".to_string() } else { format!("{days} days") };
    println!("\n| period | clients | lookups | lookups/s | p50 | p99 | gateway CPU per lookup | floor | CPU / floor |");
    println!("|---|---|---|---|---|---|---|---|---|");
    println!(
        "| {what} | {clients} | {} | {:.0} | {:.1} ms | {:.1} ms | {:.0} µs | {:.0} µs | {:.2} |",
        lookups,
        lookups as f64 / secs as f64,
        percentile(&lat, 0.50),
        percentile(&lat, 0.99),
        per_lookup_us,
        floor_us,
        per_lookup_us / floor_us
    );
}
