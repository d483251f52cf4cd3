//! Untrusted bytes through the strict reader of `ds:Signature` (`SignatureModel::read`): every element of the
//! document is offered to it, so a signature anywhere (and any element that is not one) is read without a panic.
#![no_main]
use edugate::dsig::SignatureModel;
use edugate::xml::{parse_bytes, Limits};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let limits = Limits { max_document_bytes: 64 * 1024, ..Limits::default() };
    let Ok(doc) = parse_bytes(data, &limits) else { return };
    for element in doc.elements() {
        if let Ok(model) = SignatureModel::read(&doc, element) {
            assert!(!model.references.is_empty(), "a read signature has at least one reference");
        }
    }
});
