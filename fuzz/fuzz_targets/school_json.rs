//! Untrusted bytes through the decoding of a school system's REST answers (`school::http::decode_*`). The first
//! byte picks the call (its high bit: reading an application back or withdrawing it) and its HTTP status; the rest
//! is the answer's body. Any answer gives data or a `SchoolError`, never a panic.
#![no_main]
use edugate::school::http::{
    decode_application, decode_cancel, decode_changes, decode_children, decode_marks, decode_submit,
};
use edugate::school::PupilId;
use libfuzzer_sys::fuzz_target;
use time::{Date, Month};

/// The statuses an answer is tried with: the successes each call expects and some failures.
const STATUSES: [u16; 8] = [200, 201, 422, 404, 401, 503, 302, 0];

fuzz_target!(|data: &[u8]| {
    let Some((&selector, body)) = data.split_first() else { return };
    let status = STATUSES[usize::from(selector >> 2) % STATUSES.len()];
    let from = Date::from_calendar_date(2025, Month::September, 1).expect("a valid date");
    let to = Date::from_calendar_date(2026, Month::May, 31).expect("a valid date");
    // The high bit picks the enrollment application's calls (read back, withdraw), the low two bits the others.
    if selector & 0x80 != 0 {
        if selector & 1 == 0 {
            if let Ok(Some(application)) = decode_application(status, body, 42) {
                assert_eq!(application.order_id, 42, "the application asked for");
            }
        } else {
            drop(decode_cancel(status, body, 42));
        }
        return;
    }
    match selector & 3 {
        0 => drop(decode_children(status, body)),
        1 => drop(decode_marks(status, body, &PupilId("p-1".to_string()), from, to)),
        2 => drop(decode_submit(status, body, 42)),
        _ => {
            if let Ok(changes) = decode_changes(status, body, 10, 100) {
                assert!(changes.len() <= 100, "no more changes than asked for");
                assert!(changes.windows(2).all(|w| w[0].cursor < w[1].cursor), "cursors increase");
            }
        }
    }
});
