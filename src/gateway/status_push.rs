//! Status pushes: the gateway tells the portal about application status changes the school system reports, as
//! requests of its own.
//!
//! Status changes are read from the school system after a cursor; each becomes a request in the outbox under the
//! key `status:<cursor>` *before* the cursor moves on, and the cursor is kept in a small file written atomically.
//! A crash between the two queues the same change again under the same key: nothing is sent twice. Which kind of
//! data's format a change is pushed in is its service's business ([`KindService::status_push`]).
#![forbid(unsafe_code)]

use super::jobs::{self, Send, SendHead};
use super::reply::Replies;
use super::shutdown::Shutdown;
use crate::school::SchoolSystem;
use crate::services::KindService;
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

    /// Stores a value durably.
    pub fn store(&self, value: u64) -> std::io::Result<()> {
        use std::io::Write;
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

/// The cursor file of the status pushes, in the gateway's state directory.
pub fn status_cursor(store: &Path) -> FileCursor {
    FileCursor::new(store.join("status-push.cursor"))
}

/// Everything the status pushes use, and nothing else.
#[derive(Clone)]
pub struct StatusPush {
    /// Where the pushes are queued.
    pub replies: Replies,
    /// Where status changes come from.
    pub school: Arc<dyn SchoolSystem>,
    /// The service whose format the pushes are written in.
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
}

impl StatusPush {
    /// Pushes status changes until shutdown.
    pub async fn run(self, mut shutdown: Shutdown) {
        loop {
            if let Err(e) = self.push_once().await {
                tracing::warn!(error = %e, "status push pass failed; it is tried again");
            }
            if shutdown.sleep(self.every).await {
                return;
            }
        }
    }

    /// One pass: queues every status change after the cursor; returns how many.
    pub async fn push_once(&self) -> Result<usize, PushError> {
        let since = self.cursor.load()?;
        let changes = self.school.status_changes(since, 100).await?;
        for change in &changes {
            let Some(content) = self.service.status_push(change) else { continue };
            let request = SendRequest::new(content);
            let envelope = build::send_request(self.replies.version, &request, None)?;
            let head = SendHead {
                send: Send::Request,
                kind: "request".into(),
                message_id: request.message_id.to_string(),
                answers: None,
            };
            let payload = jobs::encode_send(&head, &envelope);
            let key = jobs::status_key(change.cursor);
            let step = Step {
                smev_id: "",
                enqueue: vec![NewItem { queue: jobs::SEND_QUEUE, key: &key, payload: &payload }],
                response_message_id: None,
                complete: None,
                acked: false,
                thread: None,
            };
            self.replies.store.commit(step, self.replies.clock.now()).await?;
            self.replies.work_ready.notify_waiters();
            self.cursor.store(change.cursor)?;
            tracing::info!(order_id = change.order_id, status = change.status, "status change queued for the portal");
        }
        Ok(changes.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cursor_survives_and_starts_at_zero() {
        let dir = tempfile::tempdir().unwrap();
        let cursor = status_cursor(dir.path());
        assert_eq!(cursor.load().unwrap(), 0);
        cursor.store(41).unwrap();
        cursor.store(42).unwrap();
        assert_eq!(status_cursor(dir.path()).load().unwrap(), 42);
        std::fs::write(dir.path().join("status-push.cursor"), "garbage").unwrap();
        assert!(cursor.load().is_err(), "a damaged cursor is an error, not a restart from zero");
    }
}
