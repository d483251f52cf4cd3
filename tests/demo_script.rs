//! `scripts/demo.sh` (what `make demo` and `make serve` run) leaves no process behind: the demo stops mock-smev
//! and the gateway when it ends, and `serve` stops both on SIGTERM. The script records the pids it starts in
//! `DEMO_PID_FILE`; each must be gone once the script has exited.
mod procs;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The repository root, where the script lives.
fn repository() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The script with its binaries taken from this build, recording pids in `pid_file`.
fn script(mode: &str, pid_file: &Path) -> Command {
    let bins = procs::mock_bin().parent().expect("the binaries' directory").to_path_buf();
    let mut command = Command::new("bash");
    command
        .arg(repository().join("scripts/demo.sh"))
        .arg(mode)
        .env("DEMO_BIN_DIR", bins)
        .env("DEMO_PID_FILE", pid_file)
        .stdin(Stdio::null());
    command
}

/// The pids the script recorded.
fn recorded(pid_file: &Path) -> Vec<u32> {
    let text = std::fs::read_to_string(pid_file).unwrap_or_default();
    text.lines().map(|line| line.trim().parse().expect("a pid per line")).collect()
}

/// Whether `pid` is still one of the processes the script started (a pid reused by an unrelated process does not
/// count; a zombie does, since nobody reaped it).
fn survives(pid: u32) -> bool {
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
    let text = String::from_utf8_lossy(&cmdline);
    text.contains("mock-smev") || text.contains("edugate")
}

/// Waits (a hang guard, not a timing assertion) until none of `pids` survives; returns those that still do.
fn wait_gone(pids: &[u32]) -> Vec<u32> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let alive: Vec<u32> = pids.iter().copied().filter(|&pid| survives(pid)).collect();
        if alive.is_empty() || Instant::now() > deadline {
            return alive;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Kills whatever a failed test left running.
struct Reaper(Vec<u32>);

impl Drop for Reaper {
    fn drop(&mut self) {
        for pid in self.0.iter().filter(|&&pid| survives(pid)) {
            let _ = Command::new("kill").arg("-KILL").arg(pid.to_string()).status();
        }
    }
}

/// Kills the script itself if a test fails while it runs.
struct Script(Child);

impl Drop for Script {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn demo_leaves_no_process_behind() {
    let dir = tempfile::tempdir().unwrap();
    let pid_file = dir.path().join("pids");
    let out = script("demo", &pid_file).output().expect("running scripts/demo.sh");
    let pids = recorded(&pid_file);
    let _reaper = Reaper(pids.clone());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "the demo failed: {stderr}");
    assert_eq!(pids.len(), 2, "the demo started mock-smev and the gateway");
    assert_eq!(wait_gone(&pids), Vec::<u32>::new(), "processes left running after the demo");
}

#[test]
fn serve_stops_both_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let pid_file = dir.path().join("pids");
    let child = script("serve", &pid_file).stdout(Stdio::piped()).stderr(Stdio::null()).spawn().expect("spawn");
    let mut script = Script(child);
    let stdout = script.0.stdout.take().expect("stdout");
    let running = BufReader::new(stdout).lines().map_while(Result::ok).any(|line| line.starts_with("running"));
    let pids = recorded(&pid_file);
    let _reaper = Reaper(pids.clone());
    assert!(running, "serve said it is running");
    assert_eq!(pids.len(), 2, "serve started mock-smev and the gateway");
    assert!(pids.iter().all(|&pid| survives(pid)), "both run while serving");

    let pid = script.0.id().to_string();
    assert!(Command::new("kill").args(["-TERM", &pid]).status().expect("kill").success());
    let status = script.0.wait().expect("the script exits");
    assert!(!status.success(), "a stop by SIGTERM is not a success: {status}");
    assert_eq!(wait_gone(&pids), Vec::<u32>::new(), "processes left running after SIGTERM");
}
