//! The EPGU concentrator codec on untrusted content: any parsed document's root read as a kindergarten `FormData`
//! (3.1.1, 3.2.1, 4.0.1) and as a kindergarten-order `OrderResponse` must give a value or a `ReadError`, never a
//! panic. What reads as a request must also write back (`write_request`) and read again to the same request:
//! the reader and the writer keep the same limits, so nothing read is refused by the writer or changed by the trip
//! (but fractions of a second, which the writer leaves out of a dateTime).
#![no_main]
use edugate::services::concentrator::{read, read_order_response, write_request, Request};
use edugate::xml::{parse, parse_bytes, Limits};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(doc) = parse_bytes(data, &Limits::default()) else { return };
    let _ = read_order_response(&doc, doc.root());
    let Ok(mut form) = read(&doc, doc.root()) else { return };
    if let Request::Application(app) = &mut form.request {
        app.filed_at = app.filed_at.and_then(|t| t.replace_nanosecond(0).ok());
    }
    let written = write_request(&form).expect("what was read writes back");
    let again = parse(&written, &Limits::default()).expect("what is written parses");
    assert_eq!(read(&again, again.root()).expect("what is written reads"), form);
});
