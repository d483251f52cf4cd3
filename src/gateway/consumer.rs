//! The gateway as a consumer: it pushes application status changes from the school system to the portal as
//! requests, and takes the portal's answers.
//!
//! Status changes are read from the school system after a cursor; each becomes a request in the outbox under the
//! key `status:<cursor>` *before* the cursor moves on, and the cursor is kept in a small file written atomically.
//! A crash between the two queues the same change again under the same key: nothing is sent twice.
#![forbid(unsafe_code)]

use super::jobs::{self, SendJob};
use super::runtime::Shared;
use super::verify::verify_response_in;
use crate::services::enrollment;
use crate::smev::{build, format_datetime, ResponseBody, SendRequest};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

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

/// Pushes status changes until shutdown.
pub async fn push_statuses(shared: Arc<Shared>, mut stop: watch::Receiver<bool>) {
    let every = Duration::from_secs(shared.config.school.status_poll_secs.max(1));
    let cursor = status_cursor(&shared.config.store.path);
    loop {
        if let Err(e) = push_once(&shared, &cursor).await {
            tracing::warn!(error = %e, "status push pass failed; it is tried again");
        }
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = stop.changed() => return,
        }
    }
}

/// One pass: queues every status change after the cursor.
pub async fn push_once(shared: &Shared, cursor: &FileCursor) -> Result<usize, String> {
    let since = cursor.load().map_err(|e| e.to_string())?;
    let changes = shared.school.status_changes(since, 100).await.map_err(|e| e.to_string())?;
    for change in &changes {
        let at = format_datetime(change.at);
        let content = enrollment::status_request(change.order_id, change.status, &at, change.comment.as_deref());
        let request = SendRequest::new(content);
        let envelope = build::send_request(shared.client.version(), &request, None).map_err(|e| e.to_string())?;
        let job = jobs::encode(&SendJob { envelope, answers: None });
        let key = format!("status:{}", change.cursor);
        shared.enqueue(jobs::SEND_QUEUE, &key, &job, shared.clock.now()).await.map_err(|e| e.to_string())?;
        cursor.store(change.cursor).map_err(|e| e.to_string())?;
        tracing::info!(order_id = change.order_id, status = change.status, "status change queued for the portal");
    }
    Ok(changes.len())
}

/// Takes responses to the gateway's own requests until shutdown: checks them, records them and acknowledges them.
pub async fn take_responses(shared: Arc<Shared>, mut stop: watch::Receiver<bool>) {
    let idle = Duration::from_millis(shared.config.smev.poll_interval_ms);
    let mut failures = 0u32;
    loop {
        let started = std::time::Instant::now();
        let polled = shared.client.get_response(None).await;
        shared.metrics.smev_call("GetResponse", started.elapsed(), polled.as_ref().map(|_| ()));
        shared.metrics.polled(super::provider::answered(&polled));
        let pause = match polled {
            Err(crate::smev::client::ClientError::Unreadable(delivery)) => {
                failures = 0;
                super::provider::take_unreadable(&shared, &delivery).await;
                Duration::ZERO
            }
            Ok(Some(received)) => {
                failures = 0;
                if let Err(e) = take(&shared, received).await {
                    tracing::warn!(error = %e, "response left for redelivery");
                }
                Duration::ZERO
            }
            Ok(None) => idle,
            Err(e) => {
                failures += 1;
                tracing::warn!(error = %e, "GetResponse failed");
                super::provider::poll_backoff(idle, failures, e.retry_class())
            }
        };
        tokio::select! {
            _ = tokio::time::sleep(pause) => {}
            _ = stop.changed() => return,
        }
    }
}

async fn take(
    shared: &Shared,
    received: crate::smev::client::Received<crate::smev::parse::ReceivedResponse>,
) -> Result<(), String> {
    let response = &received.message;
    let smev_id = response.metadata.message_id.clone().unwrap_or_else(|| response.response.message_id.to_string());
    let now = shared.clock.now();
    let started = std::time::Instant::now();
    let trusted = verify_response_in(
        &shared.verify_pool,
        &received.envelope,
        response,
        shared.smev_cert.as_ref(),
        shared.senders.responses.clone(),
        shared.config.provider.verify_limits(),
    )
    .await;
    shared.metrics.verified(trusted.is_ok(), started.elapsed());
    // The label is fixed, never read from the response: `response` once verified, `unverified` otherwise.
    let kind = if trusted.is_ok() { "response" } else { crate::metrics::UNVERIFIED };
    shared.metrics.received(kind, if trusted.is_ok() { "answered" } else { "untrusted" });
    shared.metrics.remember_kind(&smev_id, kind);
    let summary = match (&trusted, &response.response.body) {
        (Err(e), _) => crate::ops::mask::mask_text(&format!("untrusted: {e}")),
        (Ok(()), ResponseBody::Content { .. }) => "answer".to_string(),
        (Ok(()), ResponseBody::Rejected(r)) => format!("rejected: {}", r.first().map_or("", |r| r.code.as_str())),
        (Ok(()), ResponseBody::Status(s)) => format!("status {}", s.code),
        (Ok(()), ResponseBody::AsyncStatus(s)) => format!("SMEV: {}", s.category),
    };
    let entry = shared.inbox.record_received(&smev_id, "response", &summary, now).await.map_err(|e| e.to_string())?;
    tracing::info!(
        message_id = %smev_id,
        original = response.original_message_id.as_deref().unwrap_or("-"),
        outcome = %summary,
        deliveries = entry.deliveries,
        "response to the gateway's request"
    );
    super::provider::acknowledge(shared, &smev_id, trusted.is_ok(), entry.deliveries, entry.deliveries > 1)
        .await
        .map_err(|e| e.to_string())
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
