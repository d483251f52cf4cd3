//! School information systems: identifiers, the data the education services read, and the systems that hold it.
//!
//! The education services talk to a region's school system only through [`SchoolSystem`]: the [`EmbeddedSchool`]
//! default reads a data file (the repository ships a generated one, see [`format`]), and [`HttpSchool`] calls a
//! school system's REST API (`docs/school-api.yaml`). Neither retries: the gateway's outbox does, guided by
//! [`SchoolError::is_retryable`].
//!
//! # The consent rule
//!
//! [`SchoolSystem::linked_children`] returns only children linked to the guardian's SNILS *with consent on file*,
//! and answers an unknown SNILS, a link without consent and a withdrawn consent with the same empty list, so that
//! nothing tells a caller whether a child exists.
#![forbid(unsafe_code)]

mod datafile;
pub mod embedded;
pub mod format;
pub mod http;
mod journal;
pub mod mask;
pub mod model;
pub mod snils;
pub mod timed;

use std::future::Future;
use std::pin::Pin;

pub use embedded::{EmbeddedSchool, ReloadSummary};
pub use http::HttpSchool;
pub use model::{
    EnrollmentApplication, LessonMark, MarkValue, Marks, Pupil, PupilId, School, StatusChange, SubjectRecord,
    SubmitOutcome,
};
pub use snils::{Snils, SnilsError};

/// A boxed future that may move between threads, as the trait's methods return (object safety for
/// `Arc<dyn SchoolSystem>`, chosen at start-up).
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// A region's school system, as the education services see it.
pub trait SchoolSystem: Send + Sync {
    /// Children linked to this guardian SNILS *with consent on file*; unknown SNILS and unlinked/no-consent give the
    /// same empty list.
    fn linked_children<'a>(&'a self, guardian: &'a Snils) -> BoxFuture<'a, Result<Vec<Pupil>, SchoolError>>;

    /// The pupil's lesson marks dated `from..=to`, with their term and year marks, per subject.
    fn marks<'a>(
        &'a self,
        pupil: &'a PupilId,
        from: time::Date,
        to: time::Date,
    ) -> BoxFuture<'a, Result<Marks, SchoolError>>;

    /// Idempotent by order_id: a second submission of the same order returns AlreadySubmitted with its current
    /// status.
    fn submit_application<'a>(
        &'a self,
        application: &'a EnrollmentApplication,
    ) -> BoxFuture<'a, Result<SubmitOutcome, SchoolError>>;

    /// Status changes with cursor > since, oldest first, at most `limit`.
    fn status_changes<'a>(&'a self, since: u64, limit: usize) -> BoxFuture<'a, Result<Vec<StatusChange>, SchoolError>>;

    /// A name for logs, metrics and the circuit breaker ("embedded", or the connector's base URL host).
    fn name(&self) -> &str;
}

/// Why a school system could not answer.
#[derive(Debug, thiserror::Error)]
pub enum SchoolError {
    /// The system is down, answered 5xx, or did not answer in time: retryable.
    #[error("school system unavailable: {0}")]
    Unavailable(String),
    /// The system refused the request (4xx): retrying the same request cannot help.
    #[error("school system refused the request: {0}")]
    Rejected(String),
    /// The answer could not be read: retryable, since a proxy's error page or a cut answer passes.
    #[error("school system answered unreadably: {0}")]
    Protocol(String),
    /// The data file (or the journal beside it) is bad: final until an operator fixes it.
    #[error("school data: {0}")]
    Data(String),
}

impl SchoolError {
    /// Whether the outbox should try again later.
    pub fn is_retryable(&self) -> bool {
        matches!(self, SchoolError::Unavailable(_) | SchoolError::Protocol(_))
    }
}
