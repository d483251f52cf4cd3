//! In-process XSD validation (`edugate::schema`) of the real sample `ApplicationRequest.xml` (FormData 3.2.1, 4 KiB)
//! against the shipped `kindergarten-3.2.1.xsd`, with libxml2's own `xmllint` on the same file as the peer:
//!
//! - `edugate_validate`: one validation through a compiled `Schema` (a round trip to its threads: the caller's
//!   cost in the gateway);
//! - `edugate_c14n_validate`: the same from a parsed envelope's element, exclusive c14n included (what the gateway
//!   does per request);
//! - `floor_libxml_same_thread`: the floor: libxml2 parsing and validating on the calling thread, through the same
//!   binding and options, with no hop to another thread (what a `Schema` cannot do without `unsafe`);
//! - `xmllint_process`: one `xmllint --noout --schema` process (start, schema compilation, one validation);
//! - `xmllint_process_repeat100`: the same with `--repeat` (the schema compiled once, the file validated 100
//!   times): the difference over 99 is libxml2's cost of one validation, with no process or compilation around it;
//! - `compile`: compiling the 3.2.1 and 4.0.1 schemas (once per process and thread at start-up).
//!
//! After criterion's report, the ratios are printed; docs/benchmarks.md records them.
use criterion::{black_box, Criterion};
use edugate::schema::{shipped, Schema};
use libxml::parser::{Parser, ParserOptions};
use libxml::schemas::{SchemaParserContext, SchemaValidationContext};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

const NS_321: &str = "http://epgu.gosuslugi.ru/concentrator/kindergarten/3.2.1";
const NS_401: &str = "http://epgu.gosuslugi.ru/concentrator/kindergarten/4.0.1";

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn sample_path() -> PathBuf {
    root().join("tests/data/epgu/ApplicationRequest.xml")
}

fn validate(c: &mut Criterion) {
    let bytes = std::fs::read(sample_path()).unwrap();
    let schema = shipped::for_namespace(NS_321).unwrap().compiled().unwrap();
    schema.validate(bytes.as_slice()).expect("the sample is valid");
    let text = String::from_utf8(bytes.clone()).unwrap();
    let envelope = format!(
        "<s:Envelope xmlns:s=\"http://schemas.xmlsoap.org/soap/envelope/\"><s:Body><m:MessagePrimaryContent \
         xmlns:m=\"urn://x-artefacts-smev-gov-ru/services/message-exchange/types/basic/1.3\">{text}\
         </m:MessagePrimaryContent></s:Body></s:Envelope>"
    );
    let doc = edugate::xml::parse(&envelope, &edugate::xml::Limits::default()).unwrap();
    let content = doc.elements().find(|&e| doc.element(e).local == "FormData").unwrap();
    let mut group = c.benchmark_group("xsd_validate/ApplicationRequest_321");
    group.bench_function("edugate_validate", |b| b.iter(|| schema.validate(black_box(bytes.as_slice())).unwrap()));
    group.bench_function("edugate_c14n_validate", |b| b.iter(|| schema.validate_element(&doc, content).unwrap()));
    let xsd = shipped::for_namespace(NS_321).unwrap().xsd;
    let mut context = SchemaValidationContext::from_parser(&mut SchemaParserContext::from_buffer(xsd)).unwrap();
    let options =
        || ParserOptions { recover: false, no_net: true, no_error: true, no_warning: true, ..Default::default() };
    group.bench_function("floor_libxml_same_thread", |b| {
        b.iter(|| {
            let (document, _) = Parser::default().parse_string_with_diagnostics(black_box(&bytes), options()).unwrap();
            context.validate_document(&document).unwrap()
        })
    });
    if Command::new("xmllint").arg("--version").output().is_ok() {
        let xsd = root().join("xsd/epgu/kindergarten-3.2.1.xsd");
        let xmllint = |repeat: bool| {
            let mut command = Command::new("xmllint");
            command.arg("--noout").arg("--nonet");
            if repeat {
                command.arg("--repeat");
            }
            command.arg("--schema").arg(&xsd).arg(sample_path());
            let out = command.output().unwrap();
            assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        };
        group.sample_size(20);
        group.bench_function("xmllint_process", |b| b.iter(|| xmllint(false)));
        group.bench_function("xmllint_process_repeat100", |b| b.iter(|| xmllint(true)));
    } else {
        eprintln!("xmllint not installed (Debian package libxml2-utils): skipping the peer");
    }
    group.finish();
}

fn compile(c: &mut Criterion) {
    let mut group = c.benchmark_group("xsd_compile");
    group.sample_size(20);
    for (name, ns) in [("kindergarten_321", NS_321), ("kindergarten_401", NS_401)] {
        let xsd = shipped::for_namespace(ns).unwrap().xsd;
        group.bench_function(name, |b| b.iter(|| Schema::with_threads(name, black_box(xsd), 1).unwrap()));
    }
    group.finish();
}

/// Criterion's mean estimate (ns) for a benchmark id, from its saved report.
fn estimate(id: &str) -> Option<f64> {
    let path = root().join("target/criterion").join(id).join("new/estimates.json");
    let text = std::fs::read_to_string(path).ok()?;
    let mean = text.split("\"mean\"").nth(1)?;
    let value = mean.split("\"point_estimate\":").nth(1)?;
    value.split([',', '}']).next()?.trim().parse().ok()
}

fn print_ratios() {
    let g = "xsd_validate_ApplicationRequest_321";
    let get = |leaf: &str| estimate(&format!("{g}/{leaf}"));
    println!("\n## XSD validation of ApplicationRequest.xml (3.2.1), measured in this run\n");
    if let (Some(ours), Some(c14n)) = (get("edugate_validate"), get("edugate_c14n_validate")) {
        println!("edugate validate: {:.1} µs; with exclusive c14n of the element: {:.1} µs", ours / 1e3, c14n / 1e3);
        if let Some(floor) = get("floor_libxml_same_thread") {
            println!("floor, libxml2 on the calling thread: {:.1} µs; ratio {:.2}", floor / 1e3, ours / floor);
        }
        if let (Some(once), Some(repeat)) = (get("xmllint_process"), get("xmllint_process_repeat100")) {
            let per = (repeat - once) / 99.0;
            println!(
                "xmllint process: {:.1} µs; per validation inside xmllint (--repeat): {:.1} µs",
                once / 1e3,
                per / 1e3
            );
            println!("ratio edugate validate / xmllint per validation: {:.2}", ours / per);
            println!("ratio edugate validate / xmllint process: {:.3}", ours / once);
        }
    }
    for name in ["kindergarten_321", "kindergarten_401"] {
        if let Some(t) = estimate(&format!("xsd_compile/{name}")) {
            println!("compile {name} (one thread): {:.2} ms", t / 1e6);
        }
    }
}

fn main() {
    let mut c = Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3))
        .configure_from_args();
    validate(&mut c);
    compile(&mut c);
    c.final_summary();
    print_ratios();
}
