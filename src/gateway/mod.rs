//! The gateway: the intake of requests from SMEV (poll, check, decide through the kind's service, answer), the
//! workers that drain the outbox, the status pushes and the responses to the gateway's own requests, the policies
//! around every call, and the runtime that runs them with a bounded shutdown. It names no kind of data (the
//! services do) and knows nothing of the operators' API (which plugs its routes in from above).
#![forbid(unsafe_code)]

pub mod breaker;
pub mod handles;
pub mod http;
pub mod intake;
pub mod jobs;
pub mod pause;
pub mod reply;
pub mod responses;
pub mod runtime;
pub mod shutdown;
pub mod status_push;
pub mod workers;

pub use handles::{Handles, StoreHealth};
pub use pause::PauseSet;
pub use runtime::{Gateway, StartError};
