//! Throughput of the SMEV exchange against mock-smev on loopback: K concurrent clients each running
//! SendRequest -> GetRequest -> SendResponse -> Ack -> GetResponse -> Ack cycles, reported as cycles per second and
//! CPU per cycle against the crypto floor (the signs and verifies a cycle needs, times their raw cost measured in
//! the same run). Client and emulator share this process, so its CPU time covers both sides of every call.
//!
//! `cargo bench -p mock-smev --bench exchange`; `EXCHANGE_SECS` sets the seconds per K (default 4).
use edugate::crypto::{Certificate, PrivateKey};
use edugate::dsig::Signer;
use edugate::smev::client::{ClientConfig, SmevClient};
use edugate::smev::{KindOfData, MessageId, ResponseBody, SendRequest, SendResponse};
use mock_smev::config::{certs_dev, Config};
use mock_smev::server::{self, AppState, ServerOptions};
use mock_smev::soap::Emulator;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Signatures made and checked per cycle: six calls signed by clients and verified by the emulator, four answers
/// signed by the emulator (two receipts, two deliveries); acknowledgements are answered unsigned.
const SIGNS_PER_CYCLE: f64 = 10.0;
const VERIFIES_PER_CYCLE: f64 = 6.0;

fn signer(name: &str) -> (Arc<Signer>, PrivateKey, Certificate) {
    edugate::crypto::ensure_default_engine().unwrap();
    let dir = certs_dev();
    let key = PrivateKey::from_pem(&std::fs::read(dir.join(format!("{name}.key"))).unwrap()).unwrap();
    let cert = Certificate::load(&dir.join(format!("{name}.crt"))).unwrap();
    (Arc::new(Signer::new(key.clone(), cert.clone()).unwrap()), key, cert)
}

/// Process CPU time (user + system) from /proc, in seconds.
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let after = stat.rsplit(')').next().unwrap_or("");
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks: f64 = fields.get(11).and_then(|v| v.parse().ok()).unwrap_or(0.0)
        + fields.get(12).and_then(|v| v.parse().ok()).unwrap_or(0.0);
    ticks / 100.0
}

/// Raw GOST sign and verify of a SignedInfo-sized buffer, microseconds each.
fn crypto_floor(key: &PrivateKey, cert: &Certificate) -> (f64, f64) {
    let data = vec![b'x'; 700];
    let sig = key.sign(&data).unwrap();
    let n = 2000;
    let start = Instant::now();
    for _ in 0..n {
        key.sign(&data).unwrap();
    }
    let sign = start.elapsed().as_secs_f64() * 1e6 / n as f64;
    let start = Instant::now();
    for _ in 0..n / 2 {
        assert!(cert.verify(&data, &sig).unwrap());
    }
    let verify = start.elapsed().as_secs_f64() * 1e6 / (n / 2) as f64;
    (sign, verify)
}

async fn cycle(portal: &SmevClient, provider: &SmevClient, kind: &KindOfData, n: u64) {
    let request = SendRequest::new(format!("<e:Echo xmlns:e=\"{}\">cycle {n}</e:Echo>", kind.namespace_uri));
    portal.send_request(&request).await.unwrap();
    let received = loop {
        if let Some(r) = provider.get_request(Some(kind)).await.unwrap() {
            break r.message;
        }
    };
    let response = SendResponse {
        message_id: MessageId::new_v1(),
        to: received.reply_to.clone().unwrap(),
        body: ResponseBody::Content {
            content: received.request.content.clone(),
            personal_signature: None,
            attachment_headers: vec![],
        },
        attachments: vec![],
    };
    provider.send_response(&response).await.unwrap();
    provider.ack(received.metadata.message_id.as_deref().unwrap(), true).await.unwrap();
    let delivered = loop {
        if let Some(r) = portal.get_response(Some(kind)).await.unwrap() {
            break r.message;
        }
    };
    portal.ack(delivered.metadata.message_id.as_deref().unwrap(), true).await.unwrap();
}

fn main() {
    let secs: u64 = std::env::var("EXCHANGE_SECS").ok().and_then(|v| v.parse().ok()).unwrap_or(4);
    let (portal_signer, _, _) = signer("portal");
    let (gateway_signer, key, cert) = signer("gateway");
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let (sign_us, verify_us) = crypto_floor(&key, &cert);
    let floor_us = SIGNS_PER_CYCLE * sign_us + VERIFIES_PER_CYCLE * verify_us;
    println!("crypto floor: sign {sign_us:.1} µs, verify {verify_us:.1} µs; per cycle {floor_us:.0} µs");
    println!("\n| clients | cycles | cycles/s | CPU per cycle | floor per cycle | CPU / floor |");
    println!("|---|---|---|---|---|---|");
    runtime.block_on(async {
        let mut config = Config::default();
        config.limits.quota_per_minute = u32::MAX;
        // Each client has a kind of data of its own, so no client takes (and answers) another's messages and no
        // poll comes back empty: every call counted is part of a cycle.
        for i in 0..16 {
            config.kinds.push(mock_smev::config::KindConfig {
                namespace: format!("urn://edugate/bench/{i}"),
                root: "Echo".into(),
                provider: "EDUGATE".into(),
                xsd: None,
            });
        }
        let options = ServerOptions { read_timeout: Duration::from_secs(30), grace: Duration::from_secs(1), seed: 1 };
        let state = AppState::new(Emulator::open(config).unwrap(), options);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/smev/1.3", listener.local_addr().unwrap());
        tokio::spawn(server::run(listener, state, std::future::pending()));
        for clients in [1usize, 4, 16] {
            let done = Arc::new(AtomicU64::new(0));
            let deadline = Instant::now() + Duration::from_secs(secs);
            let (cpu0, t0) = (cpu_seconds(), Instant::now());
            let mut tasks = Vec::new();
            for i in 0..clients {
                let kind = KindOfData::new(format!("urn://edugate/bench/{i}"), "Echo");
                let portal = SmevClient::new(ClientConfig::new(url.clone()), portal_signer.clone()).unwrap();
                let provider = SmevClient::new(ClientConfig::new(url.clone()), gateway_signer.clone()).unwrap();
                let done = done.clone();
                tasks.push(tokio::spawn(async move {
                    while Instant::now() < deadline {
                        let n = done.fetch_add(1, Ordering::Relaxed);
                        cycle(&portal, &provider, &kind, n).await;
                    }
                }));
            }
            for t in tasks {
                t.await.unwrap();
            }
            let (cpu, wall) = (cpu_seconds() - cpu0, t0.elapsed().as_secs_f64());
            let cycles = done.load(Ordering::Relaxed) as f64;
            let cpu_per_cycle_us = cpu * 1e6 / cycles;
            println!(
                "| {clients} | {cycles:.0} | {:.0} | {:.0} µs | {floor_us:.0} µs | {:.2} |",
                cycles / wall,
                cpu_per_cycle_us,
                cpu_per_cycle_us / floor_us
            );
        }
    });
}
