//! Untrusted bytes through signature verification: any input gives a verdict, never a panic.
#![no_main]
use edugate::dsig::{verify_document, VerifyOptions};
use edugate::xml::{parse_bytes, Limits};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = edugate::crypto::ensure_default_engine();
    let limits = Limits { max_document_bytes: 64 * 1024, ..Limits::default() };
    let Ok(doc) = parse_bytes(data, &limits) else { return };
    if let Ok(reports) = verify_document(&doc, &VerifyOptions::default()) {
        for report in reports {
            let _ = report.outcome;
        }
    }
});
