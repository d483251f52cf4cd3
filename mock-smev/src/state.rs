//! What the emulator's HTTP handlers share: the SOAP core, the fault injection rules, the server's options and the
//! gate that bounds parsing. On its own so that the SOAP server (`server.rs`) and the control API (`control.rs`),
//! which mounts its routes on the same state, need not use each other for it.
#![forbid(unsafe_code)]

use crate::inject::Injector;
use crate::soap::Emulator;
use edugate::serve::ServeStats;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// How the server behaves beyond the emulator's configuration; the command line sets these.
#[derive(Debug, Clone)]
pub struct ServerOptions {
    /// How long a client may take to send a request's headers, and then its whole body: a slow or stalled client
    /// gets a SOAP fault (or its connection closed) instead of holding a connection for ever.
    pub read_timeout: Duration,
    /// How long shutdown waits for calls in progress before cutting their connections.
    pub grace: Duration,
    /// The seed of the dice behind probability rules, so a run's injected failures can be reproduced.
    pub seed: u64,
}

impl Default for ServerOptions {
    fn default() -> ServerOptions {
        ServerOptions { read_timeout: Duration::from_secs(30), grace: Duration::from_secs(5), seed: 0x5EED }
    }
}

/// Everything the handlers share.
pub struct AppState {
    /// The SOAP core; shared with blocking threads, which run it.
    pub emulator: Arc<Emulator>,
    /// The fault injection rules the control API sets and every SOAP call consults.
    pub injector: Injector,
    /// Timeouts and the seed.
    pub options: ServerOptions,
    /// Bounds the SOAP calls parsed at once.
    pub parses: ParseGate,
    /// What the accept loop has done (connections open, accepted, closed idle).
    pub connections: Arc<ServeStats>,
}

impl AppState {
    /// The state of a server around `emulator`.
    pub fn new(emulator: Emulator, options: ServerOptions) -> Arc<AppState> {
        let config = emulator.config();
        let parses = ParseGate::new(config.server.parses(), config.server.parse_bytes(&config.limits));
        Arc::new(AppState {
            emulator: Arc::new(emulator),
            injector: Injector::new(options.seed),
            options,
            parses,
            connections: Arc::new(ServeStats::default()),
        })
    }
}

/// Bounds the SOAP calls parsed and verified at once, both in number (CPU) and in bytes of body (memory: the tree
/// of a body is many times its size). A call waits for its turn after its body is read and before it is parsed,
/// so that a slow client never holds a turn.
#[derive(Debug)]
pub struct ParseGate {
    /// One permit per call parsed at once.
    calls: Arc<Semaphore>,
    /// One permit per KiB of body parsed at once.
    kib: Arc<Semaphore>,
    /// The permits of `kib`: a body larger than the whole budget waits for all of it.
    budget_kib: u32,
}

/// A call's turn to parse; the next waiting call goes when it is dropped.
#[derive(Debug)]
pub struct ParseTurn {
    _bytes: OwnedSemaphorePermit,
    _call: OwnedSemaphorePermit,
}

impl ParseGate {
    /// At most `calls` calls and `bytes` bytes of bodies parsed at once.
    pub fn new(calls: usize, bytes: usize) -> ParseGate {
        let budget_kib = u32::try_from(bytes.div_ceil(1024)).unwrap_or(u32::MAX).max(1);
        ParseGate {
            calls: Arc::new(Semaphore::new(calls.max(1))),
            kib: Arc::new(Semaphore::new(budget_kib as usize)),
            budget_kib,
        }
    }

    /// Waits for the turn of a body of `len` bytes. Bytes first, then a call slot, always in this order.
    pub async fn enter(&self, len: usize) -> ParseTurn {
        let kib = u32::try_from(len.div_ceil(1024)).unwrap_or(u32::MAX).clamp(1, self.budget_kib);
        let bytes = self.kib.clone().acquire_many_owned(kib).await.expect("the gate is never closed");
        let call = self.calls.clone().acquire_owned().await.expect("the gate is never closed");
        ParseTurn { _bytes: bytes, _call: call }
    }
}
