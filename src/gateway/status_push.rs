//! Status pushes: the gateway tells the portal about application status changes the school system reports, each
//! as a further response to the request that filed the application (the thread it opened, see
//! [`crate::store::Thread`]) or as a request of the service's consumer kind of data.
//!
//! Each pushing service has a feed of status changes read after a cursor of its own; each change becomes an item
//! in the outbox under the key `status:<service>:<cursor>` *before* the cursor moves on, and the cursor is kept in a
//! small file written atomically. A crash between the two queues the same change again under the same key: nothing
//! is sent twice. A further response waits while the thread's previous push has not left, so one application's
//! statuses reach the portal in order. What a change becomes is its service's business ([`KindService::pushes`]).
#![forbid(unsafe_code)]

use super::jobs::{self, Origin, Send, SendHead};
use super::reply::Replies;
use super::shutdown::Shutdown;
use crate::outbox::ItemState;
use crate::school::SchoolSystem;
use crate::services::{KindService, Push, WriteResponse};
use crate::smev::{build, SendRequest};
use crate::store::{NewItem, Step};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// A durable counter in a file of its own: written to a temporary file, synced, then renamed over the old one.
#[derive(Debug, Clone)]
pub struct FileCursor {
    path: PathBuf,
}

impl FileCursor {
    /// The cursor kept at `path`.
    pub fn new(path: impl Into<PathBuf>) -> FileCursor {
        FileCursor { path: path.into() }
    }

    /// The stored value; 0 when there is none yet.
    pub fn load(&self) -> std::io::Result<u64> {
        match std::fs::read_to_string(&self.path) {
            Ok(text) => text.trim().parse().map_err(|e| {
                std::io::Error::new(std::io::ErrorKind::InvalidData, format!("{}: {e}", self.path.display()))
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(0),
            Err(e) => Err(e),
        }
    }

    /// Stores a value durably, making its directory first if there is none yet (a gateway whose store is not on
    /// disk has no state directory until the first cursor is kept).
    pub fn store(&self, value: u64) -> std::io::Result<()> {
        use std::io::Write;
        if let Some(dir) = self.path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)?;
        }
        let tmp = self.path.with_extension("tmp");
        let mut file = std::fs::File::create(&tmp)?;
        file.write_all(value.to_string().as_bytes())?;
        file.sync_all()?;
        std::fs::rename(&tmp, &self.path)?;
        if let Some(dir) = self.path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::File::open(dir)?.sync_all()?;
        }
        Ok(())
    }
}

/// The cursor file of the status pushes of service `service`, in the gateway's state directory.
pub fn status_cursor(store: &Path, service: &str) -> FileCursor {
    FileCursor::new(store.join(format!("status-push.{service}.cursor")))
}

/// The one cursor file of earlier versions, when a single service pushed statuses.
const LEGACY_CURSOR: &str = "status-push.cursor";

/// Hands the cursor file of earlier versions (`status-push.cursor`, kept when one service pushed statuses: the
/// first pushing service of the registry) to `service`, unless it has a cursor of its own already, so that an
/// upgraded gateway goes on after the last change it pushed instead of pushing every change again. Returns whether
/// it did.
pub fn adopt_legacy_cursor(store: &Path, service: &str) -> std::io::Result<bool> {
    let legacy = store.join(LEGACY_CURSOR);
    let own = status_cursor(store, service);
    if own.path.exists() || !legacy.exists() {
        return Ok(false);
    }
    std::fs::rename(&legacy, &own.path)?;
    std::fs::File::open(store)?.sync_all()?;
    Ok(true)
}

/// Everything the status pushes use, and nothing else.
#[derive(Clone)]
pub struct StatusPush {
    /// Where the pushes are queued.
    pub replies: Replies,
    /// Where status changes come from.
    pub school: Arc<dyn SchoolSystem>,
    /// The service whose feed is pushed.
    pub service: Arc<dyn KindService>,
    /// The cursor of the changes already queued.
    pub cursor: FileCursor,
    /// How often the school system is asked.
    pub every: Duration,
}

/// Why a pass of status pushes stopped; the next pass tries again from the cursor.
#[derive(Debug, thiserror::Error)]
pub enum PushError {
    /// The school system did not answer.
    #[error("school system: {0}")]
    School(#[from] crate::school::SchoolError),
    /// The cursor file.
    #[error("status cursor: {0}")]
    Cursor(#[from] std::io::Error),
    /// The request could not be written.
    #[error(transparent)]
    Build(#[from] crate::smev::SmevError),
    /// The outbox.
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    /// The answer could not be queued.
    #[error(transparent)]
    Reply(#[from] super::reply::NotNow),
    /// A thread's origin cannot be read (a damaged store or a bug).
    #[error("thread {0}: its origin cannot be read: {1}")]
    Origin(String, String),
}

impl StatusPush {
    /// Pushes status changes until shutdown.
    pub async fn run(self, mut shutdown: Shutdown) {
        loop {
            if let Err(e) = self.push_once().await {
                tracing::warn!(service = self.service.name(), error = %e, "status push pass failed; it is tried again");
            }
            if shutdown.sleep(self.every).await {
                return;
            }
        }
    }

    /// One pass: queues the status changes after the cursor, in order; returns how many the cursor moved past. A
    /// further response waits (the pass ends there, and the next one starts from it) while the thread's previous
    /// push has not left, so that one application's statuses reach the portal in order.
    pub async fn push_once(&self) -> Result<usize, PushError> {
        let since = self.cursor.load()?;
        let changes = self.service.pushes(&*self.school, since, 100).await?;
        let mut done = 0;
        for change in changes {
            let key = jobs::status_key(self.service.name(), change.cursor);
            match change.push {
                None => {}
                Some(Push::Request(content)) => self.push_request(&key, content).await?,
                Some(Push::Response { thread, write, otherwise }) => {
                    let queued = self.push_response(&key, &thread, write, otherwise).await?;
                    if !queued {
                        tracing::debug!(%thread, "a further response waits for the thread's previous one");
                        break;
                    }
                }
            }
            self.cursor.store(change.cursor)?;
            tracing::info!(service = self.service.name(), change = %change.what, "status change queued for the portal");
            done += 1;
        }
        Ok(done)
    }

    /// Queues a request of the service's consumer kind of data under `key`.
    async fn push_request(&self, key: &str, content: String) -> Result<(), PushError> {
        let request = SendRequest::new(content);
        let envelope = build::send_request(self.replies.version, &request, None)?;
        let head = SendHead {
            send: Send::Request,
            kind: "request".into(),
            message_id: request.message_id.to_string(),
            answers: None,
        };
        let payload = jobs::encode_send(&head, &envelope);
        let step = Step {
            smev_id: "",
            enqueue: vec![NewItem { queue: jobs::SEND_QUEUE, key, payload: &payload }],
            response_message_id: None,
            complete: None,
            acked: false,
            thread: None,
        };
        self.replies.store.commit(step, self.replies.clock.now()).await?;
        self.replies.work_ready.notify_waiters();
        Ok(())
    }

    /// Queues a further response to the request that opened `thread`; false (nothing queued) while the thread's
    /// previous push has not left. A change about a thread no request opened is sent as the request `otherwise`
    /// when there is one (an application of a format without threads), else logged and passed over (an
    /// application the gateway never answered: there is no request to answer).
    async fn push_response(
        &self,
        key: &str,
        thread: &str,
        write: WriteResponse,
        otherwise: Option<String>,
    ) -> Result<bool, PushError> {
        let store = &self.replies.store;
        let Some(open) = store.thread(thread).await? else {
            match otherwise {
                Some(content) => self.push_request(key, content).await?,
                None => tracing::warn!(%thread, "a status change for an application no request opened: not pushed"),
            }
            return Ok(true);
        };
        if let Some(previous) = open.last_push {
            let state = store.outbox().get(previous).await.map_err(crate::store::StoreError::from)?.map(|i| i.state);
            if matches!(state, Some(ItemState::Pending | ItemState::Leased { .. })) {
                return Ok(false);
            }
        }
        let origin: Origin =
            jobs::decode(&open.origin).map_err(|e| PushError::Origin(thread.to_string(), e.to_string()))?;
        let body = write(&origin.namespace, &origin.version);
        self.replies.push_response(thread, &origin, key, body).await?;
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cursor_survives_and_starts_at_zero() {
        let dir = tempfile::tempdir().unwrap();
        let cursor = status_cursor(dir.path(), "enrollment");
        assert_eq!(cursor.load().unwrap(), 0);
        cursor.store(41).unwrap();
        cursor.store(42).unwrap();
        assert_eq!(status_cursor(dir.path(), "enrollment").load().unwrap(), 42);
        assert_eq!(status_cursor(dir.path(), "kindergarten").load().unwrap(), 0, "a cursor per service");
        let fresh = status_cursor(&dir.path().join("not-yet"), "kindergarten");
        fresh.store(3).unwrap();
        assert_eq!(fresh.load().unwrap(), 3, "the state directory is made when the first cursor is kept");
        std::fs::write(dir.path().join("status-push.enrollment.cursor"), "garbage").unwrap();
        assert!(cursor.load().is_err(), "a damaged cursor is an error, not a restart from zero");
    }

    /// An upgraded gateway once kept one cursor for its one pushing service; the first pushing service takes it
    /// over, once, and a service with a cursor of its own keeps it.
    #[test]
    fn the_cursor_of_earlier_versions_is_taken_over_once() {
        let dir = tempfile::tempdir().unwrap();
        assert!(!adopt_legacy_cursor(dir.path(), "enrollment").unwrap(), "nothing to take over");
        std::fs::write(dir.path().join(LEGACY_CURSOR), "17").unwrap();
        assert!(adopt_legacy_cursor(dir.path(), "enrollment").unwrap());
        assert_eq!(status_cursor(dir.path(), "enrollment").load().unwrap(), 17);
        assert!(!dir.path().join(LEGACY_CURSOR).exists());
        std::fs::write(dir.path().join(LEGACY_CURSOR), "3").unwrap();
        assert!(!adopt_legacy_cursor(dir.path(), "enrollment").unwrap(), "its own cursor is kept");
        assert_eq!(status_cursor(dir.path(), "enrollment").load().unwrap(), 17);
    }
}
