//! Hot paths of the signature core against their physical floor and against libxml2, each ratio measured in one run.
//!
//! - c14n + SMEV transform of 1 KiB, 64 KiB and 4 MiB elements against Streebog-256 over the same bytes;
//! - `edugate dsig c14n FILE` against `xmllint --exc-c14n FILE` (whole processes, 4 MiB file);
//! - XMLDSig sign and verify of a 2 KiB SenderProvidedRequestData against raw GOST sign and verify of 2 KiB.
//!
//! After criterion's own report, a table of ratios (ours / floor) is printed; docs/benchmarks.md records it.
use criterion::{black_box, Criterion, Throughput};
use edugate::crypto::{digest, ensure_default_engine, Certificate, GostAlg, PrivateKey};
use edugate::dsig::{verify_document, Placement, Signer, Validity, VerifyOptions};
use edugate::xml::{self, C14nOptions, Limits};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

/// A SenderProvidedRequestData whose content is a pupil's marks, grown to about `size` bytes.
fn request(size: usize) -> String {
    let mut s = String::from(
        "<tns:SendRequestRequest xmlns:tns=\"urn://x-artefacts-smev-gov-ru/services/message-exchange/types/1.3\">\n  \
         <tns:SenderProvidedRequestData Id=\"SIGNED_BY_CONSUMER\">\n    \
         <tns:MessageID>39f52a38-9a54-11ea-b23a-3316e2108089</tns:MessageID>\n    \
         <MessagePrimaryContent xmlns=\"urn://x-artefacts-smev-gov-ru/services/message-exchange/types/basic/1.3\">\n      \
         <p:Progress xmlns:p=\"urn://edugate/progress/1.0.0\" xmlns:c=\"urn://edugate/common/1.0.0\">\n",
    );
    let tail = "      </p:Progress>\n    </MessagePrimaryContent>\n  </tns:SenderProvidedRequestData>\n</tns:SendRequestRequest>\n";
    let mut i = 0;
    while s.len() + tail.len() < size {
        s.push_str(&format!(
            "        <p:Mark c:date=\"2026-09-{:02}\" weight=\"{}\" subject=\"Математика\"><p:Value>{}</p:Value><p:Topic>Дроби &amp; проценты, урок {i}</p:Topic></p:Mark>\n",
            i % 28 + 1,
            i % 3 + 1,
            i % 4 + 2
        ));
        i += 1;
    }
    s.push_str(tail);
    s
}

fn certs_dev(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("certs-dev").join(name)
}

fn c14n_transform(c: &mut Criterion) {
    for (label, size) in [("1KiB", 1024), ("64KiB", 64 * 1024), ("4MiB", 4 * 1024 * 1024)] {
        let text = request(size);
        let doc = xml::parse(&text, &Limits::default()).unwrap();
        let target = doc.elements_with_id("SIGNED_BY_CONSUMER").next().unwrap();
        let element_bytes = &text[doc.element(target).span.clone()];
        let mut group = c.benchmark_group(format!("c14n_transform/{label}"));
        group.throughput(Throughput::Bytes(element_bytes.len() as u64));
        if size > 1 << 20 {
            group.sample_size(10);
        }
        group.bench_function("edugate_c14n_transform", |b| {
            b.iter(|| xml::smev_transform(&doc, target, &C14nOptions::default(), std::io::sink()).unwrap())
        });
        group.bench_function("edugate_parse_c14n_transform", |b| {
            b.iter(|| {
                let doc = xml::parse(black_box(&text), &Limits::default()).unwrap();
                let target = doc.elements_with_id("SIGNED_BY_CONSUMER").next().unwrap();
                xml::smev_transform(&doc, target, &C14nOptions::default(), std::io::sink()).unwrap()
            })
        });
        group.bench_function("floor_streebog256", |b| {
            b.iter(|| digest(GostAlg::Gost2012_256, black_box(element_bytes.as_bytes())).unwrap())
        });
        group.finish();
    }
}

fn run_quiet(cmd: &mut Command) {
    let status = cmd.stdout(std::process::Stdio::null()).status().unwrap();
    assert!(status.success());
}

fn versus_xmllint(c: &mut Criterion) {
    if Command::new("xmllint").arg("--version").output().is_err() {
        eprintln!("xmllint not installed (Debian package libxml2-utils): skipping the xmllint comparison");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("request.xml");
    std::fs::write(&file, request(4 * 1024 * 1024)).unwrap();
    let edugate = env!("CARGO_BIN_EXE_edugate");
    let mut group = c.benchmark_group("c14n_process/4MiB");
    group.sample_size(10);
    group.bench_function("edugate_dsig_c14n", |b| {
        b.iter(|| run_quiet(Command::new(edugate).args(["dsig", "c14n"]).arg(&file)))
    });
    group.bench_function("xmllint_exc_c14n", |b| {
        b.iter(|| run_quiet(Command::new("xmllint").arg("--exc-c14n").arg(&file)))
    });
    group.finish();
}

fn sign_verify(c: &mut Criterion) {
    ensure_default_engine().unwrap();
    for name in ["gateway", "gateway-512"] {
        let key = PrivateKey::from_pem(&std::fs::read(certs_dev(&format!("{name}.key"))).unwrap()).unwrap();
        let cert = Certificate::load(&certs_dev(&format!("{name}.crt"))).unwrap();
        let signer = Signer::new(
            PrivateKey::from_pem(&std::fs::read(certs_dev(&format!("{name}.key"))).unwrap()).unwrap(),
            cert.clone(),
        )
        .unwrap();
        let text = request(2048);
        let signed = signer.sign(&text, "SIGNED_BY_CONSUMER", Placement::CallerSignature).unwrap();
        let element_len = {
            let doc = xml::parse(&text, &Limits::default()).unwrap();
            let target = doc.elements_with_id("SIGNED_BY_CONSUMER").next().unwrap();
            doc.element(target).span.len()
        };
        let payload = vec![b'x'; element_len];
        let raw_signature = key.sign(&payload).unwrap();
        let options = VerifyOptions { validity: Validity::Now, ..Default::default() };

        let mut group = c.benchmark_group(format!("xmldsig/{name}"));
        group.bench_function("edugate_sign", |b| {
            b.iter(|| signer.sign(black_box(&text), "SIGNED_BY_CONSUMER", Placement::CallerSignature).unwrap())
        });
        group.bench_function("floor_raw_sign", |b| b.iter(|| key.sign(black_box(&payload)).unwrap()));
        group.bench_function("edugate_verify", |b| {
            b.iter(|| {
                let doc = xml::parse(black_box(&signed), &Limits::default()).unwrap();
                let reports = verify_document(&doc, &options).unwrap();
                assert!(reports[0].outcome.is_ok());
            })
        });
        group.bench_function("floor_raw_verify", |b| {
            b.iter(|| assert!(cert.verify(black_box(&payload), &raw_signature).unwrap()))
        });
        group.finish();
    }
}

/// Criterion's point estimate (mean, nanoseconds) of one benchmark, read back from its report.
fn estimate(id: &str) -> Option<f64> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/criterion").join(id).join("new/estimates.json");
    let text = std::fs::read_to_string(path).ok()?;
    let mean = text.split("\"mean\"").nth(1)?;
    let value = mean.split("\"point_estimate\":").nth(1)?;
    value.split([',', '}']).next()?.trim().parse().ok()
}

fn print_ratios() {
    println!("\n## Ratios measured in this run (time of ours / time of the floor or peer; below 1 is faster)\n");
    println!("| what | ours | floor or peer | ours | floor | ratio |");
    println!("|---|---|---|---|---|---|");
    let row = |what: &str, ours: &str, floor: &str| {
        if let (Some(a), Some(b)) = (estimate(ours), estimate(floor)) {
            println!(
                "| {what} | {} | {} | {:.1} µs | {:.1} µs | {:.2} |",
                leaf(ours),
                leaf(floor),
                a / 1e3,
                b / 1e3,
                a / b
            );
        }
    };
    for size in ["1KiB", "64KiB", "4MiB"] {
        let g = format!("c14n_transform_{size}");
        row(
            &format!("c14n+transform {size}"),
            &format!("{g}/edugate_c14n_transform"),
            &format!("{g}/floor_streebog256"),
        );
        row(
            &format!("parse+c14n+transform {size}"),
            &format!("{g}/edugate_parse_c14n_transform"),
            &format!("{g}/floor_streebog256"),
        );
    }
    row("c14n process 4MiB", "c14n_process_4MiB/edugate_dsig_c14n", "c14n_process_4MiB/xmllint_exc_c14n");
    for name in ["gateway", "gateway-512"] {
        let g = format!("xmldsig_{name}");
        row(&format!("sign 2KiB ({name})"), &format!("{g}/edugate_sign"), &format!("{g}/floor_raw_sign"));
        row(&format!("verify 2KiB ({name})"), &format!("{g}/edugate_verify"), &format!("{g}/floor_raw_verify"));
    }
}

fn leaf(id: &str) -> &str {
    id.rsplit('/').next().unwrap_or(id)
}

fn main() {
    let mut c = Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3))
        .configure_from_args();
    c14n_transform(&mut c);
    versus_xmllint(&mut c);
    sign_verify(&mut c);
    c.final_summary();
    print_ratios();
}
