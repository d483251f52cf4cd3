//! Untrusted request content through every kind of data's reader (`KindService::read`), as the gateway calls it:
//! the content element of a parsed document, whatever its namespace and shape. A sender the gateway trusts can
//! still send any content, so every reader must refuse it with an answer, never panic. The input is an XML
//! document; each registered service reads its root element.
#![no_main]
use edugate::services::registry::builtin;
use edugate::xml::{parse_bytes, Limits};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(doc) = parse_bytes(data, &Limits::default()) else { return };
    for service in builtin() {
        // The request read is owned: it outlives the document, as it does in the gateway.
        let _read = service.read(&doc, doc.root());
    }
    let _ = edugate::services::progress::ProgressRequest::read(&doc, doc.root());
    let today = time::Date::from_calendar_date(2026, time::Month::December, 2).expect("a valid date");
    let _ = edugate::services::enrollment::read_form(&doc, doc.root(), today);
    let _ = edugate::services::enrollment::v110::read_request(&doc, doc.root(), today);
});
