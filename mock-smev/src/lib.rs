//! mock-smev: an SMEV 3 emulator that integrators, and edugate's own tests, send messages through.
//!
//! This crate holds the emulator's message-queue engine ([`Queues`]) and its storage ([`store`]); the SOAP and HTTP
//! layers stand on top and treat payloads as opaque bytes.
#![forbid(unsafe_code)]

pub mod clock;
pub mod config;
pub mod control;
pub mod inject;
pub mod queue;
pub mod server;
pub mod soap;
pub mod state;
pub mod store;
pub mod validate;

pub use crate::clock::{Clock, ManualClock, SystemClock};
pub use crate::queue::{
    Limits, ListFilter, MessageState, MessageSummary, QueueDepth, QueueError, Queues, Selector, SendReceipt,
    QUOTA_WINDOW,
};
pub use crate::store::{
    AckRecord, Direction, Envelope, InteractionStatus, MemoryStore, MessageHeader, MessageRecord, SledStore,
    StatusEntry, Store, StoreError, StoredMessage,
};
