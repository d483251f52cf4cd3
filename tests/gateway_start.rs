//! The gateway refuses to start on a bad configuration or a damaged state directory, with a message that says what
//! is wrong, rather than starting empty and losing what the store held.
mod procs;

use std::process::Command;

/// Runs the gateway under the development profile with `vars`.
fn run_with(dir: &std::path::Path, vars: &[(&str, String)]) -> (bool, String) {
    run_as(dir, &[&[("EDUGATE__PROFILE", "development".to_string())], vars].concat())
}

/// Runs the gateway with `vars` only (no profile chosen).
fn run_as(dir: &std::path::Path, vars: &[(&str, String)]) -> (bool, String) {
    let mut command = Command::new(procs::edugate_bin());
    command.arg("run").env("EDUGATE__HTTP__LISTEN", "127.0.0.1:0").env("EDUGATE__STORE__PATH", dir.join("state"));
    command.env_remove("EDUGATE__PROFILE");
    for (k, v) in vars {
        command.env(k, v);
    }
    let out = command.output().unwrap();
    (out.status.success(), String::from_utf8_lossy(&out.stderr).into_owned())
}

#[test]
fn a_corrupt_store_stops_the_start() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    std::fs::create_dir_all(&state).unwrap();
    std::fs::write(state.join("db"), vec![0xA5u8; 4096]).unwrap();
    std::fs::write(state.join("conf"), b"garbage").unwrap();
    let (ok, stderr) = run_with(dir.path(), &[]);
    assert!(!ok, "the gateway must not start over a damaged store");
    assert!(stderr.contains("store.path"), "the error names the key: {stderr}");
}

#[test]
fn a_bad_setting_is_named_before_anything_opens() {
    let dir = tempfile::tempdir().unwrap();
    let (ok, stderr) = run_with(dir.path(), &[("EDUGATE__SMEV__ENDPOINT", "ftp://nowhere".into())]);
    assert!(!ok);
    assert!(stderr.contains("smev.endpoint"), "{stderr}");
    assert!(!dir.path().join("state").exists(), "nothing was opened");
}

/// Regression: the gateway's key, its certificate, SMEV's certificate and the senders' trust defaulted to the public
/// test material of certs-dev/. Without the development profile a gateway with none configured does not start, and
/// says which key is missing before it opens a store or binds a socket.
#[test]
fn dev_material_is_refused_without_the_development_profile() {
    let dir = tempfile::tempdir().unwrap();
    let (ok, stderr) = run_as(dir.path(), &[]);
    assert!(!ok, "the gateway must not start on test material by default");
    assert!(stderr.contains("identity.key") && stderr.contains("not configured"), "{stderr}");
    assert!(!dir.path().join("state").exists(), "nothing was opened");
    let dev = edugate::config::certs_dev();
    let (ok, stderr) = run_as(
        dir.path(),
        &[
            ("EDUGATE__IDENTITY__KEY", dev.join("gateway.key").display().to_string()),
            ("EDUGATE__IDENTITY__CERT", dev.join("gateway.crt").display().to_string()),
        ],
    );
    assert!(!ok);
    assert!(stderr.contains("smev.smev_cert"), "{stderr}");
    assert!(!dir.path().join("state").exists(), "nothing was opened");
}

/// The development profile is loud: a WARN at every start, and a gauge a scraper sees.
#[test]
fn the_development_profile_warns_at_start_and_shows_in_metrics() {
    use std::io::{Read, Write};
    let dir = tempfile::tempdir().unwrap();
    // No SMEV listens at port 9: polls fail, which does not matter here.
    let mut gateway = procs::start_gateway_logging(dir.path(), "127.0.0.1:9", Some("warn"));
    let log = dir.path().join("gateway.log");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while !std::fs::read_to_string(&log).unwrap_or_default().contains("DEVELOPMENT PROFILE") {
        assert!(std::time::Instant::now() < deadline, "no warning: {}", std::fs::read_to_string(&log).unwrap());
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let mut stream = std::net::TcpStream::connect(&gateway.addr).unwrap();
    write!(stream, "GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    assert!(answer.contains("\nedugate_development_profile 1\n"), "{answer}");
    gateway.kill();
}
