//! `edugate dsig` on hostile input and output: an endless input (`/dev/zero`, a FIFO, stdin) is refused at the size
//! limit in bounded memory, a closed stdout ends the command quietly, and `dsig verify` accepts an SMEVSignature
//! computed with carriage returns kept as `&#xD;` and says so.
use base64::Engine as _;
use edugate::crypto::{self, ensure_default_engine, Certificate, GostAlg, PrivateKey};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};
use support::signing::signature;

mod support;

fn edugate() -> Command {
    Command::new(env!("CARGO_BIN_EXE_edugate"))
}

/// Waits for a child with a generous bound, only as a guard against a hang.
fn wait(mut child: Child) -> Output {
    let deadline = Instant::now() + Duration::from_secs(120);
    while child.try_wait().expect("wait").is_none() {
        assert!(Instant::now() < deadline, "the command hung");
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().expect("output")
}

fn refused_for_size(out: &Output) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("more than the limit of"), "the error says why: {stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

/// Regression: `edugate dsig verify /dev/zero` read until memory ran out.
#[test]
fn dev_zero_is_refused_at_the_limit() {
    for sub in ["verify", "c14n", "transform"] {
        let child = edugate()
            .args(["dsig", sub, "/dev/zero", "--max-bytes", "1048576"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let out = wait(child);
        refused_for_size(&out);
        assert!(out.stdout.is_empty());
    }
    // The default limit too (32 MiB): read once, refused.
    let out = wait(edugate().args(["dsig", "c14n", "/dev/zero"]).stderr(Stdio::piped()).spawn().unwrap());
    refused_for_size(&out);
}

/// Stdin (`-`) is read under the same bound; a document within it is processed as from a file.
#[test]
fn stdin_is_bounded_and_works() {
    let mut child = edugate()
        .args(["dsig", "c14n", "-", "--max-bytes", "64"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    // Writes until the command stops reading; the write then fails, which is expected.
    let writer = std::thread::spawn(move || {
        let chunk = [b'x'; 4096];
        for _ in 0..1024 {
            if stdin.write_all(&chunk).is_err() {
                return;
            }
        }
    });
    refused_for_size(&wait(child));
    writer.join().unwrap();

    let mut child = edugate()
        .args(["dsig", "c14n", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(b"<a b='1'/>").unwrap();
    let out = wait(child);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(out.stdout, b"<a b=\"1\"></a>");
}

/// A FIFO that never ends is refused at the limit.
#[test]
fn an_endless_fifo_is_refused_at_the_limit() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("endless");
    let status = Command::new("mkfifo").arg(&fifo).status().expect("mkfifo");
    assert!(status.success());
    let path = fifo.clone();
    let writer = std::thread::spawn(move || {
        let Ok(mut f) = std::fs::OpenOptions::new().write(true).open(&path) else { return };
        let chunk = [b' '; 4096];
        while f.write_all(&chunk).is_ok() {}
    });
    let child = edugate()
        .args(["dsig", "verify", fifo.to_str().unwrap(), "--max-bytes", "100000"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    refused_for_size(&wait(child));
    writer.join().unwrap();
}

fn big_document(dir: &Path) -> PathBuf {
    let path = dir.join("big.xml");
    let mut text = String::from("<r:Root xmlns:r=\"urn:r\">");
    for i in 0..40_000 {
        text.push_str(&format!("<r:Item n=\"{i}\">text {i}</r:Item>"));
    }
    text.push_str("</r:Root>");
    std::fs::write(&path, text).unwrap();
    path
}

/// Regression: `edugate dsig c14n big.xml | head -c1` panicked when head closed the pipe.
#[test]
fn a_closed_stdout_ends_quietly() {
    let dir = tempfile::tempdir().unwrap();
    let big = big_document(dir.path());
    for sub in ["c14n", "transform"] {
        let mut child = edugate()
            .args(["dsig", sub, big.to_str().unwrap()])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stdout = child.stdout.take().unwrap();
        let mut first = [0u8; 1];
        stdout.read_exact(&mut first).unwrap();
        drop(stdout);
        let out = wait(child);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.is_empty(), "{sub}: quiet, no panic: {stderr}");
        assert_eq!(out.status.code(), Some(141), "{sub}: the status of a process ended by a closed pipe");
    }
}

/// Regression: `edugate dsig verify` refused an SMEVSignature computed (as another SMEV stack does) over a Request
/// holding `&#13;`, with the carriage return kept as `&#xD;` by the transform.
#[test]
fn verify_accepts_a_smev_signature_with_the_carriage_return_kept() {
    ensure_default_engine().unwrap();
    let certs = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("certs-dev");
    let key = PrivateKey::from_pem(&std::fs::read(certs.join("mock-smev.key")).unwrap()).unwrap();
    let cert = Certificate::load(&certs.join("mock-smev.crt")).unwrap();
    let ns = "urn://x-artefacts-smev-gov-ru/services/message-exchange/types/1.3";
    let request = "<t:Request Id=\"SIGNED_BY_SMEV\"><t:Data>QUJD&#13;\nREVG&#13;\n</t:Data></t:Request>";
    // What the other rule writes, by hand: the CR as `&#xD;`, the whitespace after it kept.
    let kept = format!(
        "<ns1:Request xmlns:ns1=\"{ns}\" Id=\"SIGNED_BY_SMEV\"><ns1:Data>QUJD&#xD;\nREVG&#xD;\n</ns1:Data></ns1:Request>"
    );
    let b64 = &base64::engine::general_purpose::STANDARD;
    let digest = b64.encode(crypto::digest(GostAlg::Gost2012_256, kept.as_bytes()).unwrap());
    let ids = ["SIGNED_BY_SMEV".to_string()];
    let document = format!(
        "<t:RequestMessage xmlns:t=\"{ns}\">{request}<t:SMEVSignature>{}</t:SMEVSignature></t:RequestMessage>",
        signature(&key, &cert, &ids, &[digest])
    );
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("request.xml");
    std::fs::write(&file, document).unwrap();
    let out = edugate().args(["dsig", "verify", file.to_str().unwrap()]).output().unwrap();
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "{stdout}{stderr}");
    assert!(stdout.starts_with("OK SIGNED_BY_SMEV"), "{stdout}");
    assert!(stderr.contains("carriage returns kept"), "the variant is reported: {stderr}");
}
