//! What every school system's method returns: a boxed future and, when it fails, a [`SchoolError`] whose class
//! tells the outbox whether to try again. Kept apart from the traits so that each system's module can use it
//! without reaching into the module that declares them.
#![forbid(unsafe_code)]

use std::future::Future;
use std::pin::Pin;

/// A boxed future that may move between threads, as the trait's methods return (object safety for
/// `Arc<dyn SchoolSystem>`, chosen at start-up).
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

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
