//! Untrusted bytes through mock-smev's SOAP endpoint (`Emulator::handle`): size check, bounded XML parse,
//! `parse_call`, the envelope checks, caller authentication by signature and, for a call that passes it, the
//! operation itself. The first byte picks the endpoint's version (1.2 or 1.3); the rest is the posted body. The
//! emulator is reset before each input, on a fixed clock, so an input's outcome does not depend on earlier ones.
#![no_main]
use std::sync::{Arc, OnceLock};

use edugate::smev::Version;
use libfuzzer_sys::fuzz_target;
use mock_smev::config::Config;
use mock_smev::soap::Emulator;
use mock_smev::{ManualClock, MemoryStore, Queues};

/// The emulator on its default configuration (the test-only certificates of `certs-dev/`), built once.
fn emulator() -> &'static Emulator {
    static EMULATOR: OnceLock<Emulator> = OnceLock::new();
    EMULATOR.get_or_init(|| {
        let config = Config::default();
        // 2026-06-01T00:00:00Z: inside the validity of the development certificates.
        let clock = Arc::new(ManualClock::new(1_780_272_000_000));
        let queues = Queues::open(Arc::new(MemoryStore::new()), clock.clone(), config.limits.queue_limits())
            .expect("an in-memory queue opens");
        Emulator::with_queues(config, queues, clock).expect("the default configuration starts")
    })
}

fuzz_target!(|data: &[u8]| {
    let Some((&selector, body)) = data.split_first() else { return };
    let version = if selector & 1 == 0 { Version::V1_3 } else { Version::V1_2 };
    let emulator = emulator();
    emulator.reset().expect("an in-memory queue resets");
    let reply = emulator.handle(version, body);
    assert!(matches!(reply.status, 200 | 413 | 500), "an answer is 200, 413 or a SOAP fault");
    assert_eq!(reply.status == 200, reply.fault.is_none(), "a fault is never answered with 200");
});
