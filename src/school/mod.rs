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

mod application_json;
mod datafile;
pub mod embedded;
mod embedded_kg;
pub mod enrollment;
pub mod error;
pub mod format;
pub mod http;
mod http_kg;
mod journal;
pub mod kindergarten;
pub mod mask;
pub mod model;
pub mod snils;
pub mod timed;

pub use embedded::{EmbeddedSchool, ReloadSummary};
pub use embedded_kg::CANCELLED_COMMENT;
pub use enrollment::{DesiredSchool, EnrollmentApplication, EnrollmentBenefit, SchoolSibling};
pub use error::{BoxFuture, SchoolError};
pub use http::HttpSchool;
pub use model::{LessonMark, MarkValue, Marks, Pupil, PupilId, School, StatusChange, SubjectRecord, SubmitOutcome};
pub use snils::{Snils, SnilsError};

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

    /// The enrollment application held under `order_id`, for the portal's edit form (`GetApplicationRequest`);
    /// `None` when there is none. A system that keeps no applications answers `None` (the default).
    fn enrollment_application<'a>(
        &'a self,
        order_id: i64,
    ) -> BoxFuture<'a, Result<Option<EnrollmentApplication>, SchoolError>> {
        let _ = order_id;
        Box::pin(async { Ok(None) })
    }

    /// Withdraws the enrollment application held under `order_id` at the applicant's request (`cancelRequest`):
    /// idempotent (a second cancel answers as the first did); an enrolled child's application is not withdrawn
    /// ([`kindergarten::CancelResult::Rejected`]). A system that cannot withdraw refuses the call (the default).
    fn cancel_application<'a>(
        &'a self,
        order_id: i64,
        reason: Option<&'a str>,
    ) -> BoxFuture<'a, Result<kindergarten::Cancelled, SchoolError>> {
        let _ = (order_id, reason);
        Box::pin(async { Err(SchoolError::Rejected("this school system cannot withdraw applications".to_owned())) })
    }

    /// A name for logs, metrics and the circuit breaker ("embedded", or the connector's base URL host).
    fn name(&self) -> &str;

    /// The region's kindergarten queue, when this system runs it too; `None` (the default) when it does not.
    fn kindergartens(&self) -> Option<&dyn kindergarten::Kindergartens> {
        None
    }
}
