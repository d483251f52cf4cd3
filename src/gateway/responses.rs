//! Responses to the gateway's own requests (the portal's answers to status pushes, and SMEV's reports of requests
//! it refused after queueing): each is checked in the same parse that read it, recorded in the inbox and
//! acknowledged in one durable step.
#![forbid(unsafe_code)]

use super::intake::{answered, take_unreadable, PollPacing};
use super::reply::{NotNow, Replies};
use super::shutdown::Shutdown;
use crate::metrics::Metrics;
use crate::smev::client::{ClientError, SmevClient};
use crate::smev::delivered::{Delivered, DeliveryCheck};
use crate::smev::parse::ReceivedResponse;
use crate::smev::ResponseBody;
use rand::SeedableRng;
use std::sync::Arc;
use std::time::Duration;

/// Everything the responses loop uses, and nothing else.
#[derive(Clone)]
pub struct Responses {
    /// The SMEV client.
    pub client: SmevClient,
    /// What a response is checked against (`consumer.sender_trust`, and SMEV itself).
    pub check: Arc<DeliveryCheck>,
    /// Where acknowledgements go.
    pub replies: Replies,
    /// Counters.
    pub metrics: Metrics,
    /// Poll pacing.
    pub pacing: PollPacing,
    /// This process's name in lease owners (unreadable deliveries).
    pub instance: String,
    /// How long a lease on an unreadable delivery's dead letter lasts.
    pub lease_for: Duration,
}

impl Responses {
    /// Takes responses until shutdown.
    pub async fn run(self, mut shutdown: Shutdown) {
        let mut failures = 0u32;
        let mut rng = rand::rngs::StdRng::from_entropy();
        while !shutdown.is_stopping() {
            let started = std::time::Instant::now();
            let polled = self.client.get_response_checked(None, self.check.clone()).await;
            self.metrics.smev_call("GetResponse", started.elapsed(), polled.as_ref().map(|_| ()));
            self.metrics.polled(answered(&polled));
            let pause = match polled {
                Err(ClientError::Unreadable(delivery)) => {
                    failures = 0;
                    take_unreadable(&self.replies, &self.metrics, &self.instance, self.lease_for, &delivery).await;
                    Duration::ZERO
                }
                Ok(Some(delivered)) => {
                    failures = 0;
                    if let Err(e) = self.take(delivered).await {
                        tracing::warn!(error = %e, "response left for redelivery");
                    }
                    Duration::ZERO
                }
                Ok(None) => self.pacing.idle,
                Err(e) => {
                    failures += 1;
                    tracing::warn!(error = %e, "GetResponse failed");
                    self.pacing.after_failure(failures, e.retry_class(), &mut rng)
                }
            };
            shutdown.sleep(pause).await;
        }
    }

    async fn take(&self, delivered: Delivered<ReceivedResponse, ()>) -> Result<(), NotNow> {
        let response = &delivered.message;
        let smev_id = response.metadata.message_id.clone().unwrap_or_else(|| response.response.message_id.to_string());
        let trusted = &delivered.trusted;
        self.metrics.verified(trusted.is_ok(), delivered.verify_took);
        // The label is fixed, never read from the response: `response` once verified, `unverified` otherwise.
        let kind = if trusted.is_ok() { "response" } else { crate::metrics::UNVERIFIED };
        self.metrics.received(kind, if trusted.is_ok() { "answered" } else { "untrusted" });
        let summary = match (trusted, &response.response.body) {
            (Err(e), _) => crate::school::mask::mask_text(&format!("untrusted: {e}")),
            (Ok(()), ResponseBody::Content { .. }) => "answer".to_string(),
            (Ok(()), ResponseBody::Rejected(r)) => format!("rejected: {}", r.first().map_or("", |r| r.code.as_str())),
            (Ok(()), ResponseBody::Status(s)) => format!("status {}", s.code),
            (Ok(()), ResponseBody::AsyncStatus(s)) => format!("SMEV: {}", s.category),
        };
        let now = self.replies.clock.now();
        let entry = self.replies.store.received(&smev_id, "response", &summary, now).await?;
        tracing::info!(
            message_id = %smev_id,
            original = response.original_message_id.as_deref().unwrap_or("-"),
            outcome = %summary,
            deliveries = entry.deliveries,
            "response to the gateway's request"
        );
        self.replies.acknowledge(&smev_id, kind, trusted.is_ok(), entry.deliveries).await
    }
}
