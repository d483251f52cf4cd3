//! Operators' tools: the HTTP API under `/ops/api/` (bearer tokens with roles), the dashboard page at `/ops/`, the
//! audit log, the pause switch of each kind of data, masking of personal data, and the client the `edugate queue`
//! and `edugate trace` commands use.
//!
//! [`desk::Desk`] holds what an operator can do over the stores alone, so that the API (for a running gateway) and
//! the command line (for a stopped gateway's store) do exactly the same thing and answer in the same JSON shapes
//! ([`view`]).
#![forbid(unsafe_code)]

pub mod api;
pub mod audit;
pub mod client;
pub mod dashboard;
pub mod desk;
pub use crate::school::mask;

pub mod table;
pub mod view;

use crate::inbox::InboxError;
use crate::outbox::OutboxError;

pub use audit::{AuditEntry, AuditLog};
pub use desk::{Actor, Desk, ItemQuery};

/// Why an operator's request failed; each maps to one HTTP status.
#[derive(Debug, thiserror::Error)]
pub enum OpsError {
    /// No valid bearer token (401).
    #[error("a valid bearer token is required (Authorization: Bearer <token>)")]
    Unauthorized,
    /// The token's role may not do this (403).
    #[error("{0}")]
    Forbidden(String),
    /// No such item or kind (404).
    #[error("{0}")]
    NotFound(String),
    /// The item is not in a state that allows this (409).
    #[error("{0}")]
    Conflict(String),
    /// The request is malformed or unconfirmed (400).
    #[error("{0}")]
    BadRequest(String),
    /// The outbox failed (500; 404 and 409 for its own not-found and not-dead).
    #[error(transparent)]
    Outbox(#[from] OutboxError),
    /// The inbox failed (500).
    #[error(transparent)]
    Inbox(#[from] InboxError),
    /// The audit log could not be written or read (500): the action was not carried out.
    #[error(transparent)]
    Audit(#[from] audit::AuditError),
    /// A running gateway answered the command line with an error.
    #[error("the gateway answered {status}: {message}")]
    Remote {
        /// The HTTP status.
        status: u16,
        /// The error body's code.
        code: String,
        /// The error body's message.
        message: String,
    },
    /// The command line could not reach the gateway, or could not read its answer.
    #[error("cannot talk to the gateway: {0}")]
    Connect(String),
}

impl OpsError {
    /// The HTTP status and the stable code of the error body.
    pub fn status(&self) -> (u16, &'static str) {
        match self {
            OpsError::Unauthorized => (401, "unauthorized"),
            OpsError::Forbidden(_) => (403, "forbidden"),
            OpsError::NotFound(_) | OpsError::Outbox(OutboxError::NotFound(_)) => (404, "not_found"),
            OpsError::Conflict(_) | OpsError::Outbox(OutboxError::NotDead { .. }) => (409, "conflict"),
            OpsError::BadRequest(_) => (400, "bad_request"),
            OpsError::Remote { status, .. } => (*status, "remote"),
            OpsError::Outbox(_) | OpsError::Inbox(_) | OpsError::Audit(_) | OpsError::Connect(_) => (500, "internal"),
        }
    }
}
