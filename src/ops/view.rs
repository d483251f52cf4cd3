//! The JSON shapes of the operators' API, shared by the server, the command line (which reads them back from a
//! running gateway or builds them from a stopped store) and the dashboard. Times are RFC 3339 strings in UTC.
#![forbid(unsafe_code)]

use super::audit::{rfc3339, AuditEntry};
use crate::inbox::InboxEntry;
use crate::outbox::{ItemState, StateFilter, WorkItem};
use serde::{Deserialize, Serialize};
use std::time::SystemTime;

/// An outbox item without its payload, as lists show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ItemView {
    /// The item's id.
    pub id: u64,
    /// Its queue: `send-to-smev`, `ack`, `call-school`.
    pub queue: String,
    /// Its idempotency key, which names the SMEV message it is about (`response:<id>`, `ack:<id>`, ...).
    pub key: String,
    /// `pending`, `leased`, `completed` or `dead`.
    pub state: String,
    /// Attempts made in the current series.
    pub attempts: u32,
    /// When it is next tried (pending), or when its lease lapses (leased).
    pub next_attempt_at: Option<String>,
    /// The last failure's reason (masked unless personal data was asked for).
    pub last_error: Option<String>,
    /// When it was enqueued.
    pub created_at: String,
    /// When it was completed or dead-lettered.
    pub finished_at: Option<String>,
    /// For a dead letter: which rule sent it there (`final`, `attempts-exhausted`, `too-old`).
    pub dead_cause: Option<String>,
    /// Who holds its lease, while leased.
    pub lease_owner: Option<String>,
}

impl ItemView {
    /// The view of `item`.
    pub fn of(item: &WorkItem) -> ItemView {
        let (next_attempt_at, finished_at, dead_cause, lease_owner, dead_reason) = match &item.state {
            ItemState::Pending => (Some(rfc3339(item.next_attempt_at)), None, None, None, None),
            ItemState::Leased { owner, until, .. } => (Some(rfc3339(*until)), None, None, Some(owner.clone()), None),
            ItemState::Completed { at } => (None, Some(rfc3339(*at)), None, None, None),
            ItemState::Dead { at, reason, cause } => {
                (None, Some(rfc3339(*at)), Some(cause.as_str().to_owned()), None, Some(reason.clone()))
            }
        };
        ItemView {
            id: item.id.0,
            queue: item.queue.clone(),
            key: item.idempotency_key.clone(),
            state: StateFilter::of(&item.state).as_str().to_owned(),
            attempts: item.attempts,
            next_attempt_at,
            last_error: item.last_error.clone().or(dead_reason),
            created_at: rfc3339(item.created_at),
            finished_at,
            dead_cause,
            lease_owner,
        }
    }
}

/// One item with its payload, decoded.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ItemDetail {
    /// The item.
    #[serde(flatten)]
    pub item: ItemView,
    /// The payload: the job as JSON (a send job's `envelope` is the unsigned SOAP envelope), or `{"text": ...}`
    /// for a payload that is not JSON.
    pub payload: serde_json::Value,
    /// Whether personal data in `payload` and `last_error` is masked.
    pub masked: bool,
}

/// A request's inbox entry, as a trace shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InboxView {
    /// The request's SMEV MessageID.
    pub message_id: String,
    /// Its kind (the content's root element, or `response` for answers to the gateway's own requests).
    pub kind: String,
    /// The handler, or a short outcome for responses.
    pub summary: String,
    /// First delivery.
    pub received_at: String,
    /// Last delivery.
    pub last_received_at: String,
    /// Deliveries; more than one means SMEV redelivered it.
    pub deliveries: u32,
    /// The MessageID of the gateway's response, once recorded.
    pub response_message_id: Option<String>,
    /// When the response was recorded.
    pub responded_at: Option<String>,
    /// When the acknowledgement went through.
    pub acked_at: Option<String>,
}

impl InboxView {
    /// The view of `entry`.
    pub fn of(entry: &InboxEntry) -> InboxView {
        InboxView {
            message_id: entry.message_id.clone(),
            kind: entry.kind.clone(),
            summary: entry.summary.clone(),
            received_at: rfc3339(entry.received_at),
            last_received_at: rfc3339(entry.last_received_at),
            deliveries: entry.deliveries,
            response_message_id: entry.response.as_ref().map(|r| r.message_id.clone()),
            responded_at: entry.response.as_ref().map(|r| rfc3339(r.recorded_at)),
            acked_at: entry.acked_at.map(rfc3339),
        }
    }
}

/// Everything known about one SMEV message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessageTrace {
    /// SMEV's MessageID of the message.
    pub message_id: String,
    /// Its inbox entry, if it was received (and not yet pruned).
    pub inbox: Option<InboxView>,
    /// The outbox items about it: its response, acknowledgements, school call.
    pub items: Vec<ItemView>,
}

/// One step in a trace's timeline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Step {
    /// When.
    pub at: String,
    /// What happened: `received`, `responded`, `acknowledged`, `queued`, `completed`, `dead-lettered`,
    /// `waiting`, `audit`.
    pub what: String,
    /// About what, in a few words.
    pub detail: String,
}

/// What happened to a message (by SMEV MessageID) or an application (by orderId).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TraceView {
    /// What was asked for.
    pub query: String,
    /// How it matched: `message_id`, `order_id`, or empty when nothing did.
    pub matched_by: Vec<String>,
    /// The SMEV messages involved.
    pub messages: Vec<MessageTrace>,
    /// Items found by orderId that belong to no received message (status pushes to the portal).
    pub other_items: Vec<ItemView>,
    /// Operators' actions on any of these items.
    pub audit: Vec<AuditEntry>,
    /// Everything above in time order.
    pub steps: Vec<Step>,
}

/// One queue's counts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QueueView {
    /// The queue.
    pub queue: String,
    /// Items waiting for an attempt.
    pub pending: u64,
    /// Items a worker holds.
    pub leased: u64,
    /// Completed items not yet pruned.
    pub completed: u64,
    /// Dead letters.
    pub dead: u64,
    /// Age of the oldest pending or leased item, seconds.
    pub oldest_pending_age_secs: Option<f64>,
}

/// A circuit breaker's state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BreakerView {
    /// `smev` or the school system's name.
    pub destination: String,
    /// `closed`, `open` or `half-open`.
    pub state: String,
}

/// A configured kind of data.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KindView {
    /// The content's root element, which names the kind in the API.
    pub root: String,
    /// The content's namespace.
    pub namespace: String,
    /// The handler that answers it.
    pub handler: String,
    /// Whether an operator paused its polling.
    pub paused: bool,
}

/// A recent SMEV fault.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FaultView {
    /// When.
    pub at: String,
    /// The fault type (`SMEVFailure`, `QuoteLimitExceeded`, ...) or `transport`, `timeout`, `http-503`, ...
    #[serde(rename = "type")]
    pub fault: String,
    /// The SMEV operation.
    pub operation: String,
    /// What the gateway does about it: `retry`, `back-off-and-alert`, `final`, ...
    pub class: String,
}

/// Counter totals since the gateway started, for rates on the dashboard.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct CountersView {
    /// Requests received from SMEV.
    pub received: u64,
    /// Messages sent to SMEV.
    pub sent: u64,
    /// Acknowledgements sent.
    pub acked: u64,
    /// Attempts rescheduled.
    pub retries: u64,
    /// Items dead-lettered.
    pub dead_lettered: u64,
    /// SMEV faults and failed calls.
    pub faults: u64,
}

/// The last poll of SMEV.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PollView {
    /// When it ended.
    pub at: String,
    /// Whether SMEV answered.
    pub ok: bool,
    /// The failure's type, if it failed.
    pub fault: Option<String>,
}

/// The dashboard's view of the gateway.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SummaryView {
    /// When this was taken.
    pub now: String,
    /// Every queue with items, and the gateway's own queues always.
    pub queues: Vec<QueueView>,
    /// The circuit breakers.
    pub breakers: Vec<BreakerView>,
    /// The configured kinds of data.
    pub kinds: Vec<KindView>,
    /// The root elements of the paused kinds.
    pub paused_kinds: Vec<String>,
    /// The last 50 SMEV faults, newest first.
    pub recent_faults: Vec<FaultView>,
    /// Totals since start.
    pub counters: CountersView,
    /// The last poll of SMEV.
    pub last_poll: Option<PollView>,
}

/// The JSON body of every error the API answers with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    /// A stable code: `unauthorized`, `forbidden`, `not_found`, `conflict`, `bad_request`, `internal`.
    pub error: String,
    /// What went wrong, for people.
    pub message: String,
}

/// The answer to an action on one item.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActionView {
    /// The item.
    pub id: u64,
    /// What was done: `retry` or `purge`.
    pub action: String,
    /// The item as it now stands (absent once purged).
    pub item: Option<ItemView>,
}

/// The answer to a pause or resume.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KindActionView {
    /// The kind's root element.
    pub root: String,
    /// Whether it is now paused.
    pub paused: bool,
    /// Whether this call changed anything.
    pub changed: bool,
}

/// A time as the API writes it.
pub fn at(time: SystemTime) -> String {
    rfc3339(time)
}
