//! Regression: the gateway parsed SMEV's answers and signed its responses on its async worker threads, so while a
//! large request was being received and answered, `/healthz` (and every other task) waited for that CPU work.
//!
//! The gateway binary runs with one async worker thread (`runtime.worker_threads = 1`), so any CPU work left on it
//! shows as a gap between `/healthz` answers. The portal sends several genuinely signed requests of 1.5 MB to
//! `echo`; the gateway receives them, verifies both signatures, signs a response of the same size and acknowledges
//! them, while a thread probes `/healthz` back to back and records the longest gap between answers.
//!
//! No wall-clock figure is asserted on its own: the longest gap is compared with the time this process takes to
//! sign one such message (measured before and after the load, the longer, so that a machine busy with other work
//! slows both sides), which the old code did on the async thread for every response besides parsing each answer
//! there (its longest gap was one to two such signatures); it must now be under three quarters of one, and under a
//! generous 5 s. The probes' 30 s read timeout is only
//! a hang guard.
mod procs;

use edugate::crypto::{ensure_default_engine, Certificate, PrivateKey};
use edugate::dsig::Signer;
use edugate::smev::{build, SendRequest, Version};
use procs::{start_gateway_with, Control, Proc};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Requests the portal sends.
const REQUESTS: usize = 3;
/// Bytes of business content in each (and in each response).
const CONTENT_BYTES: usize = 1_500_000;
/// Far beyond any gap the gateway should show; reached only when it hangs.
const HANG_GUARD: Duration = Duration::from_secs(30);
/// A gap no gateway doing its CPU work off the async thread comes near, even on a loaded machine.
const GENEROUS_GAP: Duration = Duration::from_secs(5);

/// An echo request of about `CONTENT_BYTES`, told apart by `i`: many small elements with attributes, as a large
/// list in a real message would be, so that parsing and canonicalizing it is real work.
fn echo(i: usize) -> String {
    let mut content = format!("<e:Echo xmlns:e='urn://edugate/echo/1.0.0' n='{i}'>");
    while content.len() < CONTENT_BYTES {
        content.push_str("<e:w b='слово' a='1'/>");
    }
    content + "</e:Echo>"
}

/// How long this process takes to build and sign one request of that size with the portal's key: the same work as
/// the gateway's signature over its echo response.
fn one_signature() -> Duration {
    ensure_default_engine().unwrap();
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("certs-dev");
    let key = PrivateKey::from_pem(&std::fs::read(dir.join("portal.key")).unwrap()).unwrap();
    let signer = Signer::new(key, Certificate::load(&dir.join("portal.crt")).unwrap()).unwrap();
    let request = SendRequest::new(echo(0));
    let started = Instant::now();
    build::send_request(Version::V1_3, &request, Some(&signer)).unwrap();
    started.elapsed()
}

/// The CPU time (user and system) process `pid` has used so far, from /proc.
fn cpu_time(pid: u32) -> Duration {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    // Fields after the command name (which is in parentheses and may hold spaces): utime is the 12th, stime 13th.
    let fields: Vec<&str> = stat.rsplit_once(')').unwrap().1.split_whitespace().collect();
    let ticks: u64 = fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();
    Duration::from_millis(ticks * 10)
}

/// Starts mock-smev in memory with a visibility timeout longer than the test, so that no request is delivered
/// twice while the gateway is still answering it (which would add work the test does not measure).
fn start_mock(dir: &std::path::Path) -> Proc {
    let config = dir.join("mock-smev.toml");
    std::fs::write(&config, "[limits]\nvisibility_timeout_secs = 600\nquota_per_minute = 1000000\n").unwrap();
    let mut command = std::process::Command::new(procs::mock_bin());
    command.arg("--config").arg(&config).args(["--listen", "127.0.0.1:0"]).env("RUST_LOG", "warn");
    procs::start(command, &dir.join("mock-smev.log"))
}

/// One `/healthz` probe on a new connection: whether it was answered `ok`.
fn probe(addr: &str) -> bool {
    let Ok(mut stream) = TcpStream::connect(addr) else { return false };
    let _ = stream.set_read_timeout(Some(HANG_GUARD));
    if stream.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").is_err() {
        return false;
    }
    let mut answer = String::new();
    let _ = stream.read_to_string(&mut answer);
    answer.starts_with("HTTP/1.1 200") && answer.ends_with("ok")
}

/// What the prober saw: probes answered, probes failed, and the longest time between two answers.
#[derive(Debug, Default)]
struct Probes {
    answered: usize,
    failed: usize,
    longest_gap: Duration,
}

/// Probes `/healthz` back to back until `stop`.
fn probe_until(addr: String, stop: Arc<AtomicBool>) -> Probes {
    let mut seen = Probes::default();
    let mut last = Instant::now();
    while !stop.load(Ordering::SeqCst) {
        if probe(&addr) {
            seen.answered += 1;
        } else {
            seen.failed += 1;
        }
        seen.longest_gap = seen.longest_gap.max(last.elapsed());
        last = Instant::now();
        std::thread::sleep(Duration::from_millis(5));
    }
    seen
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn healthz_keeps_answering_while_large_signed_requests_are_handled() {
    let before = one_signature();
    let dir = tempfile::tempdir().unwrap();
    let mock = start_mock(dir.path());
    let settings = [
        ("EDUGATE__RUNTIME__WORKER_THREADS", "1".to_owned()),
        // One CPU-bound thread beside the async one, so that on a small machine the gateway's own pool does not
        // also take the async thread's core.
        ("EDUGATE__PROVIDER__VERIFY_CONCURRENCY", "1".to_owned()),
        ("EDUGATE__SMEV__READ_TIMEOUT_MS", "60000".to_owned()),
    ];
    let gateway = start_gateway_with(dir.path(), &mock.addr, Some("warn"), &settings);
    let control = Control::new(&mock.addr);
    assert!(probe(&gateway.addr), "the gateway answers /healthz before the load");

    let stop = Arc::new(AtomicBool::new(false));
    let prober = {
        let (addr, stop) = (gateway.addr.clone(), stop.clone());
        std::thread::spawn(move || probe_until(addr, stop))
    };
    let cpu_before = cpu_time(gateway.child.id());
    let mut sent = Vec::new();
    for i in 0..REQUESTS {
        sent.push(control.portal_send(&echo(i)).await);
    }
    let deadline = Instant::now() + Duration::from_secs(600);
    let mut answers = Vec::new();
    for id in &sent {
        let answer = loop {
            if let Some(answer) = control.portal_response(id).await {
                break answer;
            }
            assert!(Instant::now() < deadline, "no response to {id} in time");
            tokio::time::sleep(Duration::from_millis(200)).await;
        };
        answers.push(answer);
    }
    let cpu = cpu_time(gateway.child.id()) - cpu_before;
    stop.store(true, Ordering::SeqCst);
    let probes = prober.join().unwrap();
    let signing = before.max(one_signature());

    eprintln!("one signature here: {signing:?}; gateway CPU for {REQUESTS} requests: {cpu:?}; probes: {probes:?}");
    for (i, answer) in answers.iter().enumerate() {
        assert_eq!(answer.kind(), "content", "request {i}: {answer:?}");
        assert!(answer.signatures_valid, "request {i}");
        let content = answer.content().unwrap_or_default();
        assert!(content.len() >= CONTENT_BYTES, "request {i} echoed {} bytes", content.len());
    }
    assert_eq!(probes.failed, 0, "every probe is answered: {probes:?}");
    assert!(probes.answered > 0, "{probes:?}");
    assert!(probes.longest_gap < GENEROUS_GAP, "{probes:?}");
    assert!(
        probes.longest_gap < signing * 3 / 4,
        "the longest /healthz gap ({:?}) is not under three quarters of one signature of such a message \
         ({signing:?}): CPU work is on the async thread",
        probes.longest_gap
    );
}
