//! The gateway: the provider loop (requests from SMEV to handlers and back), the workers that drain the outbox, the
//! policies around every call, and the runtime that runs them with a bounded shutdown.
#![forbid(unsafe_code)]

pub mod breaker;
pub mod consumer;
pub mod handlers;
pub mod http;
pub mod jobs;
pub mod provider;
pub mod runtime;
pub mod verify;
pub mod worker;

pub use runtime::{Gateway, Shared, StartError};
