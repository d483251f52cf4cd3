//! What the layers above the gateway (the operators' API, the binary, tests) may hold of a running gateway: its
//! stores, pause switches, counters, breakers, and whether its state directory still keeps work.
#![forbid(unsafe_code)]

use super::breaker::{BreakerState, Breakers};
use super::pause::PauseSet;
use super::workers::SMEV_DESTINATION;
use crate::inbox::Inbox;
use crate::metrics::Metrics;
use crate::outbox::{Clock, Outbox, StateDb};
use crate::serve::ServeStats;
use crate::services::Registry;
use std::sync::Arc;

/// What the layers above the gateway (the operators' API, tests) may hold of a gateway: the stores, the pause
/// switches, the counters and the breakers. Cheap to clone.
#[derive(Clone)]
pub struct Handles {
    /// The outbox.
    pub outbox: Arc<dyn Outbox>,
    /// The inbox.
    pub inbox: Arc<dyn Inbox>,
    /// Time, as the stores see it.
    pub clock: Arc<dyn Clock>,
    /// Kinds of data whose polling an operator paused.
    pub paused: PauseSet,
    /// Counters and histograms.
    pub metrics: Metrics,
    /// Circuit breakers per destination.
    pub breakers: Arc<Breakers>,
    /// The kinds of data served.
    pub registry: Registry,
    /// The school system's name (its breaker's destination).
    pub school_name: String,
    /// Whether the state directory still keeps work.
    pub store_health: Arc<StoreHealth>,
    /// What the HTTP port's accept loop has done.
    pub http_connections: Arc<ServeStats>,
}

impl Handles {
    /// SMEV's breaker and the school system's, in that order.
    pub fn breaker_states(&self) -> Vec<(String, BreakerState)> {
        vec![
            (SMEV_DESTINATION.to_owned(), self.breakers.state(SMEV_DESTINATION)),
            (self.school_name.clone(), self.breakers.state(&self.school_name)),
        ]
    }
}

/// Whether the gateway's state directory still makes writes durable. A failed flush is sticky (see
/// [`crate::outbox`]): every later write of the outbox and the inbox fails, so a gateway that went on would take
/// requests from SMEV it can neither answer nor keep. Stores other than the state directory (the memory twins of
/// tests) never fail.
#[derive(Debug, Default)]
pub struct StoreHealth {
    /// The state directory watched, once set.
    state: std::sync::OnceLock<StateDb>,
}

impl StoreHealth {
    /// Watches `state` (the directory the outbox and the inbox write to); a second call is ignored.
    pub fn watch(&self, state: StateDb) {
        let _ = self.state.set(state);
    }

    /// The state directory watched, if any (tests inject a flush failure through it).
    pub fn state(&self) -> Option<&StateDb> {
        self.state.get()
    }

    /// Why the store can no longer keep work, once it cannot.
    pub fn failure(&self) -> Option<String> {
        self.state.get().and_then(StateDb::failure)
    }

    /// Completes when the store fails, with the reason; never, for a store that cannot fail.
    pub(crate) async fn failed(&self) -> String {
        match self.state.get() {
            Some(state) => state.failed().await,
            None => std::future::pending().await,
        }
    }
}
