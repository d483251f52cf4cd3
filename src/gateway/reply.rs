//! What a delivered message leaves in the outbox: its answer (or the work deferred to the school system) and its
//! acknowledgement, written with the inbox's record of the answer as ONE durable step
//! ([`crate::store::MessageStore::commit`]). The request pipeline, the deferred-work worker and the responses loop
//! all answer and acknowledge through [`Replies`], and every step wakes the outbox's workers at once.
#![forbid(unsafe_code)]

use super::jobs::{self, AckJob, DeferredJob, Origin, Send, SendHead};
use crate::outbox::{Clock, ItemState, Lease};
use crate::smev::{build, MessageId, ResponseBody, SendResponse, Version};
use crate::store::{MessageStore, NewItem, Step, StoreError, ThreadWrite};
use std::sync::Arc;
use tokio::sync::Notify;

/// Why a message could not be dealt with now (SMEV delivers it again, or the outbox retries the work).
#[derive(Debug, thiserror::Error)]
pub enum NotNow {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The outbox failed (the rarer steps that read an item before deciding).
    #[error(transparent)]
    Outbox(#[from] crate::outbox::OutboxError),
    /// The school system cannot decide now.
    #[error("the service is unavailable: {0}")]
    Unavailable(#[from] crate::services::Unavailable),
    /// The answer cannot be written as an envelope.
    #[error(transparent)]
    Build(#[from] crate::smev::SmevError),
}

/// What answers a request, and the thread it opens, if any.
#[derive(Debug)]
pub enum Reply {
    /// The answer, to send now.
    Answer {
        /// The answer.
        body: ResponseBody,
        /// The thread the request opens.
        opens: Option<Opens>,
    },
    /// Work deferred to the school system by a service; the answer follows it.
    Defer {
        /// The service that runs it.
        service: String,
        /// The service's record of the work.
        work: String,
        /// The thread the request opens.
        opens: Option<Opens>,
    },
}

/// A thread a request opens (see [`crate::store::Thread`]): its key, and how its later responses are written.
#[derive(Debug, Clone)]
pub struct Opens {
    /// The thread's key.
    pub thread: String,
    /// The namespace of the request's content, in which later responses are written.
    pub namespace: String,
    /// The version its registration names.
    pub version: String,
}

/// Answers and acknowledges delivered messages, each in one durable step. Cheap to clone.
#[derive(Clone)]
pub struct Replies {
    /// The outbox and the inbox, written together.
    pub store: Arc<dyn MessageStore>,
    /// Time, for the store.
    pub clock: Arc<dyn Clock>,
    /// The schema version of the envelopes built.
    pub version: Version,
    /// Wakes the outbox's workers after each step, so that new work does not wait for their idle poll.
    pub work_ready: Arc<Notify>,
}

/// A delivered request, as the reply to it needs it.
#[derive(Debug, Clone, Copy)]
pub struct Answering<'a> {
    /// SMEV's id of the request.
    pub smev_id: &'a str,
    /// The metrics label of the exchange (see [`SendHead::kind`]).
    pub kind: &'a str,
    /// The request's `ReplyTo`.
    pub reply_to: &'a str,
}

/// The send job of the response to request `answers` (of kind `kind`), with the response's MessageID: an unsigned
/// `SendResponseRequest` envelope under a new MessageID.
fn response_job(
    version: Version,
    (answers, kind, reply_to): (&str, &str, &str),
    body: ResponseBody,
) -> Result<(Vec<u8>, String), NotNow> {
    let response =
        SendResponse { message_id: MessageId::new_v1(), to: reply_to.to_string(), body, attachments: Vec::new() };
    let envelope = build::send_response_unsigned_trusted(version, &response)?;
    let message_id = response.message_id.to_string();
    let head = SendHead {
        send: Send::Response,
        kind: kind.to_string(),
        message_id: message_id.clone(),
        answers: Some(answers.into()),
    };
    Ok((jobs::encode_send(&head, &envelope), message_id))
}

/// The thread's key and the encoded origin it keeps of the request `to`.
fn origin_of(to: Answering<'_>, opens: Opens) -> (String, Vec<u8>) {
    let Opens { thread, namespace, version } = opens;
    let origin = Origin {
        message_id: to.smev_id.to_string(),
        reply_to: to.reply_to.to_string(),
        kind: to.kind.to_string(),
        namespace,
        version,
    };
    (thread, jobs::encode(&origin))
}

impl Replies {
    fn now(&self) -> std::time::SystemTime {
        self.clock.now()
    }

    /// Answers request `to` and queues its acknowledgement, in one durable step: the response (or the deferred
    /// work), the acknowledgement, and the response's id in the inbox. A response already queued for the request
    /// (the keys are idempotent) is kept, and so is the id the inbox recorded with it.
    pub async fn answer(&self, to: Answering<'_>, reply: Reply) -> Result<(), NotNow> {
        let ack = jobs::encode(&AckJob { message_id: to.smev_id.to_string(), accepted: true, kind: to.kind.into() });
        let ack_key = jobs::ack_key(to.smev_id, 1);
        let origin;
        let (work, key, queue, response_id) = match reply {
            Reply::Answer { body, opens } => {
                origin = opens.map(|opens| origin_of(to, opens));
                let (job, response_id) = response_job(self.version, (to.smev_id, to.kind, to.reply_to), body)?;
                (job, jobs::response_key(to.smev_id), jobs::SEND_QUEUE, Some(response_id))
            }
            Reply::Defer { service, work, opens } => {
                origin = opens.map(|opens| origin_of(to, opens));
                let job = DeferredJob {
                    service,
                    kind: to.kind.to_string(),
                    message_id: to.smev_id.to_string(),
                    reply_to: to.reply_to.to_string(),
                    work,
                };
                (jobs::encode(&job), jobs::deferred_key(to.smev_id), jobs::DEFERRED_QUEUE, None)
            }
        };
        let step = Step {
            smev_id: to.smev_id,
            enqueue: vec![
                NewItem { queue, key: &key, payload: &work },
                NewItem { queue: jobs::ACK_QUEUE, key: &ack_key, payload: &ack },
            ],
            response_message_id: response_id.as_deref(),
            complete: None,
            acked: false,
            thread: origin.as_ref().map(|(key, origin)| ThreadWrite::Open { key, origin }),
        };
        self.store.commit(step, self.now()).await?;
        self.work_ready.notify_waiters();
        Ok(())
    }

    /// Queues a further response to the request that opened `thread` (as `origin` recorded it), under the
    /// idempotency key `key`, and records it as the thread's latest push, in one durable step.
    pub async fn push_response(
        &self,
        thread: &str,
        origin: &Origin,
        key: &str,
        body: ResponseBody,
    ) -> Result<(), NotNow> {
        let (payload, _) = response_job(self.version, (&origin.message_id, &origin.kind, &origin.reply_to), body)?;
        let step = Step {
            smev_id: "",
            enqueue: vec![NewItem { queue: jobs::SEND_QUEUE, key, payload: &payload }],
            response_message_id: None,
            complete: None,
            acked: false,
            thread: Some(ThreadWrite::Pushed { key: thread }),
        };
        self.store.commit(step, self.now()).await?;
        self.work_ready.notify_waiters();
        Ok(())
    }

    /// Queues the answer that deferred work produced and completes the work's lease, in one durable step.
    pub async fn answer_deferred(&self, lease: &Lease, job: &DeferredJob, body: ResponseBody) -> Result<(), NotNow> {
        let (payload, response_id) = response_job(self.version, (&job.message_id, &job.kind, &job.reply_to), body)?;
        let key = jobs::response_key(&job.message_id);
        let step = Step {
            smev_id: &job.message_id,
            enqueue: vec![NewItem { queue: jobs::SEND_QUEUE, key: &key, payload: &payload }],
            response_message_id: Some(&response_id),
            complete: Some(lease),
            acked: false,
            thread: None,
        };
        self.store.commit(step, self.now()).await?;
        self.work_ready.notify_waiters();
        Ok(())
    }

    /// Queues the acknowledgement of a delivered message (`accepted` says whether the gateway took it), in one
    /// durable step. A redelivery means SMEV has not taken an acknowledgement: if the earlier one was
    /// dead-lettered it is revived, if it completed (SMEV lost it) a new one is queued, and if it is still waiting
    /// nothing more is needed.
    pub async fn acknowledge(&self, smev_id: &str, kind: &str, accepted: bool, deliveries: u32) -> Result<(), NotNow> {
        let ack = jobs::encode(&AckJob { message_id: smev_id.to_string(), accepted, kind: kind.to_string() });
        let first = self.enqueue_ack(smev_id, &jobs::ack_key(smev_id, 1), &ack).await?;
        if deliveries <= 1 {
            return Ok(());
        }
        let now = self.now();
        let outbox = self.store.outbox();
        match outbox.get(first).await?.map(|item| item.state) {
            Some(ItemState::Dead { .. }) => {
                tracing::info!(message_id = %smev_id, "redelivered: reviving its dead-lettered acknowledgement");
                outbox.retry_dead(first, now).await?;
                self.work_ready.notify_waiters();
            }
            Some(ItemState::Completed { .. }) => {
                self.enqueue_ack(smev_id, &jobs::ack_key(smev_id, deliveries), &ack).await?;
            }
            _ => {}
        }
        Ok(())
    }

    /// Queues one acknowledgement item in a step of its own.
    async fn enqueue_ack(&self, smev_id: &str, key: &str, ack: &[u8]) -> Result<crate::outbox::ItemId, NotNow> {
        let step = Step {
            smev_id,
            enqueue: vec![NewItem { queue: jobs::ACK_QUEUE, key, payload: ack }],
            response_message_id: None,
            complete: None,
            acked: false,
            thread: None,
        };
        let committed = self.store.commit(step, self.now()).await?;
        self.work_ready.notify_waiters();
        Ok(committed.items[0].0)
    }
}
