//! Starting mock-smev and the gateway as separate processes for the crash and soak tests, talking to mock-smev's
//! control API (through the library's one client, `edugate::demo::control`), and waiting with a bound.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// A child process and the address it printed.
pub struct Proc {
    pub child: Child,
    pub addr: String,
}

impl Proc {
    /// Kills the process at once (SIGKILL) and reaps it.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.kill();
    }
}

/// The edugate binary under test.
pub fn edugate_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_edugate"))
}

/// The mock-smev binary beside it, brought up to date first: cargo builds only the binaries of the package under
/// test, and a stale emulator would make a test or a benchmark measure old code. Once per process; a no-op for
/// cargo when nothing changed.
pub fn mock_bin() -> PathBuf {
    static BUILT: std::sync::Once = std::sync::Once::new();
    let bin = edugate_bin().with_file_name("mock-smev");
    BUILT.call_once(|| {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let mut build = Command::new(cargo);
        build.args(["build", "-p", "mock-smev", "--bin", "mock-smev"]);
        if edugate_bin().to_string_lossy().contains("/release/") {
            build.arg("--release");
        }
        assert!(build.status().expect("cargo").success(), "building mock-smev");
    });
    bin
}

/// Starts `command`, waits for the line that names its address (`... listening on http://ADDR`).
pub fn start(mut command: Command, log: &Path) -> Proc {
    let log = std::fs::OpenOptions::new().create(true).append(true).open(log).expect("log file");
    command.stdout(Stdio::piped()).stderr(Stdio::from(log)).stdin(Stdio::null());
    let mut child = command.spawn().expect("spawn");
    let stdout = child.stdout.take().expect("stdout");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if let Some(addr) = line.split("listening on http://").nth(1) {
                let _ = tx.send(addr.trim().to_string());
            }
        }
    });
    let addr = rx.recv_timeout(Duration::from_secs(60)).expect("the process printed its address");
    Proc { child, addr }
}

/// Starts mock-smev over a sled directory with a short visibility timeout, so that redelivery after a gateway
/// crash comes quickly.
pub fn start_mock(dir: &Path) -> Proc {
    start_mock_with(dir, "", true)
}

/// Starts mock-smev like [`start_mock`], with more configuration (TOML) and, unless `sled`, in memory.
pub fn start_mock_with(dir: &Path, more: &str, sled: bool) -> Proc {
    let config = dir.join("mock-smev.toml");
    let text = format!("{more}\n[limits]\nvisibility_timeout_secs = 2\nquota_per_minute = 1000000\n");
    std::fs::write(&config, text).unwrap();
    let mut command = Command::new(mock_bin());
    command.arg("--config").arg(&config).args(["--listen", "127.0.0.1:0"]);
    if sled {
        command.arg("--sled").arg(dir.join("mock-state"));
    }
    command.env("RUST_LOG", "warn");
    start(command, &dir.join("mock-smev.log"))
}

/// Starts the gateway against mock-smev at `mock_addr`, with its state in `dir`, logging warnings only.
pub fn start_gateway(dir: &Path, mock_addr: &str) -> Proc {
    start_gateway_logging(dir, mock_addr, Some("warn"))
}

/// Starts the gateway with a log filter (`None`: the default level).
pub fn start_gateway_logging(dir: &Path, mock_addr: &str, log: Option<&str>) -> Proc {
    start_gateway_with(dir, mock_addr, log, &[])
}

/// Starts the gateway with a log filter and further `EDUGATE__...` settings.
pub fn start_gateway_with(dir: &Path, mock_addr: &str, log: Option<&str>, extra: &[(&str, String)]) -> Proc {
    // EDUGATE_PROFILE_GATEWAY=FILE runs the gateway under callgrind, writing its profile to FILE (for benchmarks).
    let mut command = match std::env::var("EDUGATE_PROFILE_GATEWAY") {
        Ok(out) => {
            let mut c = Command::new("valgrind");
            c.arg("--tool=callgrind").arg(format!("--callgrind-out-file={out}")).arg(edugate_bin());
            c
        }
        Err(_) => Command::new(edugate_bin()),
    };
    command.arg("run");
    start_gateway_command(command, dir, mock_addr, log, extra)
}

/// Starts `command` (the gateway binary, or a wrapper that runs it) with the tests' settings against mock-smev at
/// `mock_addr`, then `extra` over them.
pub fn start_gateway_command(
    mut command: Command,
    dir: &Path,
    mock_addr: &str,
    log: Option<&str>,
    extra: &[(&str, String)],
) -> Proc {
    for (k, v) in [
        // Tests run on the public dev material in certs-dev/, which only the development profile allows.
        ("EDUGATE__PROFILE", "development".to_string()),
        ("EDUGATE__SMEV__ENDPOINT", format!("http://{mock_addr}/smev/1.3")),
        ("EDUGATE__SMEV__POLL_INTERVAL_MS", "50".into()),
        ("EDUGATE__SMEV__READ_TIMEOUT_MS", "5000".into()),
        ("EDUGATE__STORE__PATH", dir.join("gateway-state").display().to_string()),
        ("EDUGATE__HTTP__LISTEN", "127.0.0.1:0".into()),
        ("EDUGATE__HTTP__SHUTDOWN_GRACE_SECS", "1".into()),
        ("EDUGATE__RETRY__LEASE_SECS", "2".into()),
        ("EDUGATE__RETRY__BASE_MS", "50".into()),
        ("EDUGATE__RETRY__CAP_MS", "1000".into()),
        ("EDUGATE__SCHOOL__STATUS_POLL_SECS", "1".into()),
    ] {
        command.env(k, v);
    }
    for (k, v) in extra {
        command.env(k, v);
    }
    match log {
        Some(filter) => command.env("RUST_LOG", filter),
        None => command.env_remove("RUST_LOG"),
    };
    start(command, &dir.join("gateway.log"))
}

/// The development profile, chosen explicitly: tests run on the public dev material in certs-dev/.
pub fn dev_profile() -> Vec<(String, String)> {
    vec![("EDUGATE__PROFILE".to_string(), "development".to_string())]
}

/// The configuration in-process gateway tests share: the development profile, mock-smev at `mock_addr`, state and
/// a copy of the demo school data in `dir`, fast polls and retries, no status pushes.
pub fn gateway_config(dir: &Path, mock_addr: &str) -> edugate::config::Config {
    let mut config = edugate::config::Config::load(None, dev_profile()).unwrap();
    config.smev.endpoint = format!("http://{mock_addr}/smev/1.3");
    config.smev.poll_interval_ms = 50;
    config.store.path = dir.join("state");
    config.retry.base_ms = 50;
    config.retry.cap_ms = 500;
    config.school.status_poll_secs = 0;
    config.http.shutdown_grace_secs = 1;
    let data = dir.join("school.json");
    std::fs::copy(&config.school.data, &data).unwrap();
    config.school.data = data;
    config
}

/// A gateway running in the test's process (over a memory store and the given school system), for the tests that
/// look inside it; dropping it stops the gateway.
pub struct InProcess {
    /// The gateway's HTTP endpoint (`http://host:port`).
    pub base: String,
    /// Stops the gateway when sent or dropped.
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

impl Drop for InProcess {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// Starts the gateway of `config` in this process, on a memory store, asking `school`.
pub async fn run_in_process(
    config: edugate::config::Config,
    school: std::sync::Arc<dyn edugate::school::SchoolSystem>,
) -> InProcess {
    use std::sync::Arc;
    edugate::crypto::ensure_default_engine().unwrap();
    let key = edugate::crypto::PrivateKey::from_pem(&std::fs::read(&config.identity.key).unwrap()).unwrap();
    let cert = edugate::crypto::Certificate::load(&config.identity.cert).unwrap();
    let signer = Arc::new(edugate::dsig::Signer::new(key, cert).unwrap());
    let client =
        edugate::smev::client::SmevClient::new(edugate::gateway::runtime::client_config(&config), signer).unwrap();
    let trust = edugate::gateway::runtime::Trust::load(&config).unwrap();
    let store = Arc::new(edugate::store::MemoryStore::new(edugate::outbox::OutboxConfig::default()));
    let clock = Arc::new(edugate::outbox::SystemClock);
    let gateway = edugate::gateway::Gateway::with_parts(config, client, store, clock, trust, school).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(gateway.run(listener, async move {
        let _ = stopped.await;
    }));
    InProcess { base, stop: Some(stop) }
}

/// The control API's records, for the tests that read them.
#[allow(unused_imports)]
pub use edugate::demo::control::{
    ControlClient, Direction, MessageDetail, MessageState, MessageSummary, PortalResponse,
};

/// How long a test waits for the portal's answer to one request before it fails.
pub const ANSWER_LIMIT: Duration = Duration::from_secs(30);

/// mock-smev's control API for tests: the library's [`ControlClient`], with a failed call failing the test.
pub struct Control {
    /// The client, for a test that checks a call's error itself.
    pub client: ControlClient,
}

impl Control {
    /// The control API of mock-smev at `addr` (`host:port`).
    pub fn new(addr: &str) -> Control {
        Control { client: ControlClient::new(addr) }
    }

    /// Sends a request as the portal; returns its MessageID.
    pub async fn portal_send(&self, content: &str) -> String {
        self.client.portal_send(content).await.unwrap_or_else(|e| panic!("portal send: {e}"))
    }

    /// The portal's response to a request, if it has arrived.
    pub async fn portal_response(&self, id: &str) -> Option<PortalResponse> {
        self.client.portal_response(id).await.unwrap_or_else(|e| panic!("portal response: {e}"))
    }

    /// Waits (at most [`ANSWER_LIMIT`]) for the portal's answer to request `id`.
    pub async fn answer_to(&self, id: &str) -> PortalResponse {
        self.client.wait_portal_response(id, ANSWER_LIMIT).await.unwrap_or_else(|e| panic!("{e}"))
    }

    /// Sends `content` as the portal and waits for the answer.
    pub async fn answer(&self, content: &str) -> PortalResponse {
        let id = self.portal_send(content).await;
        self.answer_to(&id).await
    }

    /// Every message of a direction the emulator holds.
    pub async fn messages(&self, direction: Direction) -> Vec<MessageSummary> {
        self.client.messages(direction).await.unwrap_or_else(|e| panic!("messages: {e}"))
    }

    /// The control API's view of one message.
    pub async fn message(&self, id: &str) -> Option<MessageDetail> {
        self.client.message(id).await.unwrap_or_else(|e| panic!("message {id}: {e}"))
    }

    /// Makes the next `count` calls of `operation` fail with `fault`.
    pub async fn inject(&self, operation: &str, fault: &str, count: u32) {
        self.client.inject_fault(operation, fault, count).await.unwrap_or_else(|e| panic!("inject: {e}"))
    }

    /// Removes every fault rule.
    pub async fn clear_faults(&self) {
        self.client.clear_faults().await.unwrap_or_else(|e| panic!("clear faults: {e}"))
    }
}

/// Polls `probe` every 100 ms until it returns something, failing the test, with `what`, after `limit`: a bound
/// against a hang, never a measurement.
pub async fn wait_for<T, F, Fut>(what: &str, limit: Duration, mut probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = std::time::Instant::now() + limit;
    loop {
        if let Some(v) = probe().await {
            return v;
        }
        assert!(std::time::Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Stops a process with SIGTERM (a graceful shutdown) and waits for it.
pub fn terminate(proc: &mut Proc) {
    let _ = Command::new("kill").arg("-TERM").arg(proc.child.id().to_string()).status();
    let _ = proc.child.wait();
}
