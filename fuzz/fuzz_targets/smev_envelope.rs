//! Untrusted bytes through every SMEV envelope parser: what SMEV answers to each operation (GetRequestResponse,
//! GetResponseResponse, GetStatusResponse, SendRequestResponse, SendResponseResponse, AckResponse, faults) and what
//! an information system sends to SMEV (`parse_call`, mock-smev's side). Each input is parsed once as XML and read
//! by every parser, so one input exercises them all; any input gives a typed result, never a panic.
#![no_main]
use edugate::smev::{parse, Operation};
use edugate::xml::{parse_bytes, Limits};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let limits = Limits { max_document_bytes: 64 * 1024, ..Limits::default() };
    let Ok(doc) = parse_bytes(data, &limits) else { return };
    let _ = parse::received_request(&doc);
    let _ = parse::received_response(&doc);
    let _ = parse::status_response(&doc);
    let _ = parse::ack_response(&doc);
    let _ = parse::send_receipt(&doc, Operation::SendRequest);
    let _ = parse::send_receipt(&doc, Operation::SendResponse);
    let _ = parse::parse_call(&doc);
    let _ = parse::has_header(&doc);
    if let Ok(child) = parse::body_child(&doc) {
        let _ = parse::read_fault(&doc, child);
    }
});
