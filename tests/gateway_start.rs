//! The gateway refuses to start on a bad configuration or a damaged state directory, with a message that says what
//! is wrong, rather than starting empty and losing what the store held.
mod procs;

use std::process::Command;

fn run_with(dir: &std::path::Path, vars: &[(&str, String)]) -> (bool, String) {
    let mut command = Command::new(procs::edugate_bin());
    command.arg("run").env("EDUGATE__HTTP__LISTEN", "127.0.0.1:0").env("EDUGATE__STORE__PATH", dir.join("state"));
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
