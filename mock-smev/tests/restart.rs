//! The `mock-smev` binary over a sled store, killed with SIGKILL and started again on the same directory: nothing
//! SMEV accepted is lost, nothing acknowledged comes back, and a resent MessageID is still a duplicate. Also the
//! process's other edges: SIGTERM stops it cleanly, and a bad configuration stops it before it listens.

use edugate::crypto::{ensure_default_engine, Certificate, PrivateKey};
use edugate::dsig::Signer;
use edugate::smev::client::{ClientConfig, ClientError, SmevClient};
use edugate::smev::{FaultKind, SendRequest};
use mock_smev::config::certs_dev;
use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn signer(name: &str) -> Arc<Signer> {
    ensure_default_engine().unwrap();
    let dir = certs_dev();
    let key = PrivateKey::from_pem(&std::fs::read(dir.join(format!("{name}.key"))).unwrap()).unwrap();
    Arc::new(Signer::new(key, Certificate::load(&dir.join(format!("{name}.crt"))).unwrap()).unwrap())
}

/// A running `mock-smev` process and the address it printed.
struct Process {
    child: Child,
    address: String,
}

impl Process {
    /// Starts the binary on a free port over `sled` and waits for its "listening" line.
    fn start(config: &Path, sled: &Path) -> Process {
        let mut child = Command::new(env!("CARGO_BIN_EXE_mock-smev"))
            .arg("--config")
            .arg(config)
            .arg("--sled")
            .arg(sled)
            .arg("--listen")
            .arg("127.0.0.1:0")
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("mock-smev starts");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
        let address = line
            .trim()
            .strip_prefix("mock-smev listening on ")
            .unwrap_or_else(|| panic!("unexpected first line: {line:?}"))
            .to_string();
        Process { child, address }
    }

    fn client(&self, who: &str) -> SmevClient {
        let mut config = ClientConfig::new(format!("{}/smev/1.3", self.address));
        config.read_timeout = Duration::from_secs(10);
        SmevClient::new(config, signer(who)).unwrap()
    }

    /// SIGKILL: no shutdown, no flush beyond what every write already did.
    fn kill(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nothing_accepted_is_lost_across_sigkill() {
    let dir = tempfile::tempdir().unwrap();
    let sled = dir.path().join("store");
    let config = dir.path().join("mock-smev.toml");
    // A one-second visibility timeout, so a delivered but unacknowledged request comes back quickly.
    std::fs::write(&config, "[limits]\nvisibility_timeout_secs = 1\n").unwrap();

    let first = Process::start(&config, &sled);
    let portal = first.client("portal");
    let gateway = first.client("gateway");
    let requests: Vec<SendRequest> = (0..6)
        .map(|i| SendRequest::new(format!("<e:Echo xmlns:e=\"urn://edugate/echo/1.0.0\">{i}</e:Echo>")))
        .collect();
    for request in &requests {
        portal.send_request(request).await.unwrap();
    }
    // The gateway takes three, acknowledges two of them and crashes with the third in hand.
    let mut acked = BTreeSet::new();
    let mut in_hand = None;
    for i in 0..3 {
        let delivered = gateway.get_request(None).await.unwrap().expect("a request");
        let id = delivered.message.request.message_id.to_string();
        if i < 2 {
            gateway.ack(delivered.message.metadata.message_id.as_deref().unwrap(), true).await.unwrap();
            acked.insert(id);
        } else {
            in_hand = Some(id);
        }
    }
    first.kill();

    let second = Process::start(&config, &sled);
    let portal = second.client("portal");
    let gateway = second.client("gateway");
    for request in &requests {
        let error = portal.send_request(request).await.unwrap_err();
        assert!(
            matches!(&error, ClientError::Fault(f) if f.kind == FaultKind::MessageIsAlreadySent),
            "a resend after the restart is still a duplicate: {error:?}"
        );
    }
    let expected: BTreeSet<String> =
        requests.iter().map(|r| r.message_id.to_string()).filter(|id| !acked.contains(id)).collect();
    assert!(expected.contains(in_hand.as_ref().unwrap()));
    let mut redelivered = BTreeSet::new();
    let deadline = Instant::now() + Duration::from_secs(15);
    while redelivered != expected && Instant::now() < deadline {
        match gateway.get_request(None).await.unwrap() {
            Some(delivered) => {
                let id = delivered.message.request.message_id.to_string();
                assert!(!acked.contains(&id), "acknowledged request {id} delivered again");
                gateway.ack(delivered.message.metadata.message_id.as_deref().unwrap(), true).await.unwrap();
                assert!(redelivered.insert(id), "delivered twice after an ack");
            }
            // The request in hand is hidden until its visibility timeout passes.
            None => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
    assert_eq!(redelivered, expected, "every unacknowledged request is delivered after the restart");
    assert!(gateway.get_request(None).await.unwrap().is_none());
    second.kill();

    // A third start sees everything acknowledged and nothing to deliver.
    let third = Process::start(&config, &sled);
    assert!(third.client("gateway").get_request(None).await.unwrap().is_none());
    third.kill();
}

#[test]
fn sigterm_drains_and_exits_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("mock-smev.toml");
    std::fs::write(&config, "").unwrap();
    let mut process = Process::start(&config, &dir.path().join("store"));
    let pid = process.child.id().to_string();
    assert!(Command::new("kill").arg("-TERM").arg(&pid).status().unwrap().success());
    let status = process.child.wait().unwrap();
    assert!(status.success(), "{status}");
}

#[test]
fn a_bad_configuration_is_refused_before_binding() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        ("listen = \"nowhere\"\n", "listen"),
        ("[[kinds]]\nnamespace = \"urn:x\"\nroot = \"X\"\nprovider = \"NOBODY\"\n", "kinds[0].provider"),
        ("colour = \"red\"\n", "colour"),
    ];
    for (text, key) in cases {
        let config = dir.path().join("bad.toml");
        std::fs::write(&config, text).unwrap();
        let output = Command::new(env!("CARGO_BIN_EXE_mock-smev"))
            .arg("--config")
            .arg(&config)
            .arg("--listen")
            .arg("127.0.0.1:0")
            .output()
            .unwrap();
        assert!(!output.status.success(), "{text}");
        assert!(output.stdout.is_empty(), "{text}: it must not listen");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains(key), "{text}: {stderr}");
    }
    // An override is checked too.
    let output = Command::new(env!("CARGO_BIN_EXE_mock-smev")).arg("--listen").arg("nowhere").output().unwrap();
    assert!(!output.status.success() && String::from_utf8_lossy(&output.stderr).contains("listen"));
}
