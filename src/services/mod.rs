//! The education services: what a request of each kind of data means and what the answer is. Each kind of data is
//! a [`KindService`]: it reads a request's content while the delivered envelope is still parsed (so the envelope is
//! parsed once), decides an answer (asking the school system through [`SchoolSystem`]), may defer work to the school
//! system through the outbox, and may push status changes to the portal later. The gateway moves the messages and
//! never names a kind of data: it finds the service of a delivered request in the [`Registry`], which the
//! configuration builds, so one service can serve several namespaces and versions at once.
#![forbid(unsafe_code)]

pub mod concentrator;
pub mod echo;
pub mod enrollment;
pub mod kindergarten;
pub mod progress;
pub mod registry;
pub mod xmlout;

pub use registry::{Registration, Registry, RegistryError};

use crate::school::{BoxFuture, SchoolError, SchoolSystem};
use crate::smev::ResponseBody;
use crate::xml::{Document, NodeId};

/// What a service decided about one request.
#[derive(Debug)]
pub enum Decision {
    /// The answer, now.
    Answer(ResponseBody),
    /// Work for the school system, kept in the outbox until it is done; the answer follows from
    /// [`KindService::run_deferred`]. The bytes are the service's own record of the work (the gateway stores them
    /// as they are).
    Defer(String),
    /// Deferred work as [`Decision::Defer`], with the request kept as the origin of the thread `thread` in the same
    /// step: the application's later statuses are further responses to this request.
    DeferOpen {
        /// The service's record of the work.
        work: String,
        /// The thread's key, unique among all services (prefix it with the service's name).
        thread: String,
    },
    /// The answer, now, and the request kept as the origin of the thread `thread` (an application's key): the
    /// application's later statuses are further responses to this request ([`Push::Response`]). A thread opened
    /// before keeps its first request.
    Open {
        /// The answer.
        answer: ResponseBody,
        /// The thread's key, unique among all services (prefix it with the service's name).
        thread: String,
    },
}

/// Writes a further response for the request that opened the thread, given that request's namespace and the version
/// its registration named (the concentrator answers each version in its own namespace).
pub type WriteResponse = Box<dyn FnOnce(&str, &str) -> ResponseBody + Send>;

/// Something a service tells the portal later, unasked.
pub enum Push {
    /// A further response to the request that opened `thread`, written by `write` for that request's namespace and
    /// version; when no request opened the thread (an application of a format without threads), the request
    /// `otherwise` is sent instead, if there is one.
    Response {
        /// The thread's key, as [`Decision::Open`] gave it.
        thread: String,
        /// The response's body.
        write: WriteResponse,
        /// The request to send when no request opened the thread.
        otherwise: Option<String>,
    },
    /// A request of the service's consumer kind of data: its content.
    Request(String),
}

/// One change from a service's feed of status changes.
pub struct Pushing {
    /// The change's position in the school system's feed: the gateway's cursor moves past it once it is queued.
    pub cursor: u64,
    /// What to push; `None` when the change means nothing to the portal.
    pub push: Option<Push>,
    /// What the change is, for the logs (an order number and a status; no person's data).
    pub what: String,
}

/// Why a request cannot be decided now: the school system is unavailable. The gateway leaves the request for SMEV to
/// deliver again (a final refusal is an answer, never this).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Unavailable(pub String);

/// Why deferred work did not produce an answer.
#[derive(Debug, thiserror::Error)]
pub enum DeferredError {
    /// The school system is unavailable now; the outbox tries again later.
    #[error("{0}")]
    Retry(String),
    /// The stored work cannot be read (a damaged store or a bug); retrying cannot help.
    #[error("{0}")]
    Final(String),
}

/// What a service is told about a request besides its content.
#[derive(Debug, Clone, Copy)]
pub struct Asked<'a> {
    /// SMEV's id of the request, for logs.
    pub message_id: &'a str,
    /// How many times SMEV delivered it: a lookup the school cannot serve is answered with a failure after several.
    pub deliveries: u32,
}

/// A request's content as its service read it, owned, ready to be decided after the envelope is gone.
pub trait ReadRequest: Send {
    /// Decides the answer, asking `school` as needed.
    fn decide<'a>(
        self: Box<Self>,
        school: &'a dyn SchoolSystem,
        asked: Asked<'a>,
    ) -> BoxFuture<'a, Result<Decision, Unavailable>>;
}

/// The namespace, root element and version of a request content a service understands by default.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Served {
    /// The content root's namespace.
    pub namespace: &'static str,
    /// The content root's local name.
    pub root: &'static str,
    /// The format's version, for operators (the EPGU concentrator runs several side by side).
    pub version: &'static str,
}

/// One kind of data as a service: reads its requests, decides answers, runs deferred work, pushes statuses.
pub trait KindService: Send + Sync {
    /// The service's name in the configuration (`provider.kinds[].service`).
    fn name(&self) -> &'static str;

    /// The formats the service understands by default; a configuration may map other namespaces to it.
    fn serves(&self) -> &'static [Served];

    /// Reads a request's content, the element `content` of the delivered envelope `doc`, while the envelope is
    /// parsed. Content the service cannot accept is read into a request that decides a refusal.
    fn read(&self, doc: &Document<'_>, content: NodeId) -> Box<dyn ReadRequest>;

    /// Reads a request as [`KindService::read`] does, told the version its registration names: a region that maps
    /// its portal's own namespace to the service says which version of the format it speaks. Services with one
    /// format need not know it.
    fn read_in(&self, doc: &Document<'_>, content: NodeId, version: &str) -> Box<dyn ReadRequest> {
        let _ = version;
        self.read(doc, content)
    }

    /// Does work deferred by [`Decision::Defer`] and returns the answer that follows.
    fn run_deferred<'a>(
        &'a self,
        work: &'a str,
        school: &'a dyn SchoolSystem,
    ) -> BoxFuture<'a, Result<ResponseBody, DeferredError>> {
        let _ = (work, school);
        let name = self.name();
        Box::pin(async move { Err(DeferredError::Final(format!("the {name} service defers no work"))) })
    }

    /// Whether this service pushes status changes to the portal ([`KindService::pushes`]).
    fn pushes_statuses(&self) -> bool {
        false
    }

    /// The status changes of the service's feed after `since` (at most `limit`, oldest first), each with what to
    /// push to the portal.
    fn pushes<'a>(
        &'a self,
        school: &'a dyn SchoolSystem,
        since: u64,
        limit: usize,
    ) -> BoxFuture<'a, Result<Vec<Pushing>, SchoolError>> {
        let _ = (school, since, limit);
        Box::pin(async { Ok(Vec::new()) })
    }
}

/// A request decided at once, whatever the school says: a refusal of unreadable content, an echo.
pub struct Decided(pub ResponseBody);

impl ReadRequest for Decided {
    fn decide<'a>(
        self: Box<Self>,
        _school: &'a dyn SchoolSystem,
        _asked: Asked<'a>,
    ) -> BoxFuture<'a, Result<Decision, Unavailable>> {
        Box::pin(async move { Ok(Decision::Answer(self.0)) })
    }
}
