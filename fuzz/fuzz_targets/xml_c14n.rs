//! Untrusted bytes through the bounded parser, exclusive c14n and the SMEV transform. Beyond "no panic", it checks
//! that canonical output is a fixed point: canonicalizing the canonical form gives the same bytes.
#![no_main]
use edugate::xml::{exc_c14n, parse, parse_bytes, smev_transform, C14nOptions, Limits};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let limits = Limits { max_document_bytes: 64 * 1024, max_depth: 64, ..Limits::default() };
    let Ok(doc) = parse_bytes(data, &limits) else { return };
    let options = C14nOptions::default();
    let canonical = exc_c14n(&doc, doc.root(), &options);
    let _ = smev_transform(&doc, doc.root(), &options, std::io::sink());
    let text = std::str::from_utf8(&canonical).expect("canonical output is UTF-8");
    let again = parse(text, &Limits::default()).expect("canonical output parses");
    assert_eq!(exc_c14n(&again, again.root(), &options), canonical, "c14n is a fixed point");
});
