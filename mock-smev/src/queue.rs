//! The emulator's message-queue engine: SMEV 3's queues without XML or HTTP.
//!
//! Every recipient has two FIFO queues, one of requests and one of responses. A message leaves its queue only when
//! its recipient acknowledges it; a delivered but unacknowledged message becomes invisible for the visibility
//! timeout and is then delivered again, ahead of every later message, as SMEV does.
//!
//! # Statuses
//! A message's history (what `GetStatus` reports) is written as follows:
//! - send: `requestIsQueued` or `responseIsQueued`;
//! - first delivery: `messageIsDelivered` (redeliveries only count in `delivery_count` and `last_delivery_ms`, so a
//!   message redelivered for weeks keeps a short history);
//! - ack of a request: no new status, it stays `messageIsDelivered`: the provider's answer is what processes it;
//! - a response to a request: the request gets `requestIsProcessed` (on its first response only) and
//!   `responseIsQueued`, so the consumer's view of its request reads queued, delivered, processed, response queued;
//! - ack of a response with `accepted="true"`: `responseIsProcessed` on the response and on its request;
//! - ack with `accepted="false"`: no new status; the refusal is kept in the message's [`AckRecord`].
//!
//! # Concurrency and durability
//! One mutex guards the in-memory index, and every store write happens while it is held: the store sees changes in
//! the engine's order, and memory changes only after the store accepted a change, so a failed write leaves the
//! engine as it was. The clock is read under the lock too, so timestamps never run backwards along the sequence. This serializes all operations, including the sled store's flush per write; the emulator
//! trades throughput for simple, strict ordering. Quota windows are not stored: a restart forgives recent sends.
//!
//! After a restart over a durable store, a message that was delivered but not acknowledged keeps its stored
//! visibility deadline: it is delivered again once that deadline passes (at once if it already has).

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use crate::clock::{duration_ms, Clock, SystemClock};
use crate::store::{
    AckRecord, Change, Direction, Envelope, InteractionStatus, MemoryStore, MessageHeader, MessageRecord, StatusEntry,
    Store, StoreError, StoredMessage,
};

/// The length of the quota window: `quota_per_minute` counts sends in the last 60 seconds.
pub const QUOTA_WINDOW: Duration = Duration::from_secs(60);

/// The engine's configurable limits, which tests shrink to reach each fault quickly.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// How long a delivered, unacknowledged message stays hidden before it is delivered again.
    pub visibility_timeout: Duration,
    /// How many unacknowledged messages one recipient's queue (of one direction) may hold before sends to it fail
    /// with `DestinationOverflow`.
    pub destination_max_pending: usize,
    /// How many messages one sender may send in any 60-second window (a sliding window over accepted sends)
    /// before sends fail with `QuoteLimitExceeded`.
    pub quota_per_minute: u32,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits { visibility_timeout: Duration::from_secs(30), destination_max_pending: 10_000, quota_per_minute: 6_000 }
    }
}

/// Why the engine refused an operation. Each variant but `Storage` is an SMEV fault of the same name.
#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    /// The sender already sent a message with this `MessageID`.
    #[error("{sender} already sent message {message_id}")]
    MessageIsAlreadySent {
        /// The sender's mnemonic.
        sender: String,
        /// The repeated `MessageID`.
        message_id: String,
    },
    /// The recipient's queue is full.
    #[error("the {direction} queue of {recipient} holds {limit} unacknowledged messages, its limit")]
    DestinationOverflow {
        /// The recipient whose queue is full.
        recipient: String,
        /// Which of its queues.
        direction: Direction,
        /// The configured limit.
        limit: usize,
    },
    /// The sender used up its quota for the current window.
    #[error("{sender} sent {limit} messages in the last minute, its quota")]
    QuoteLimitExceeded {
        /// The sender's mnemonic.
        sender: String,
        /// The configured quota per minute.
        limit: u32,
    },
    /// The message an operation names does not exist for this caller: an ack of an unknown, undelivered,
    /// already acknowledged or someone else's message, or a response to an unknown request.
    #[error("message {message_id} is not found")]
    TargetMessageIsNotFound {
        /// The `MessageID` named.
        message_id: String,
    },
    /// The store failed; the operation did not happen.
    #[error(transparent)]
    Storage(#[from] StoreError),
}

impl QueueError {
    /// The local name of the SMEV fault to answer with; a storage failure is SMEV's generic `SMEVFailure`, which
    /// tells the caller to retry.
    pub fn fault_name(&self) -> &'static str {
        match self {
            QueueError::MessageIsAlreadySent { .. } => "MessageIsAlreadySent",
            QueueError::DestinationOverflow { .. } => "DestinationOverflow",
            QueueError::QuoteLimitExceeded { .. } => "QuoteLimitExceeded",
            QueueError::TargetMessageIsNotFound { .. } => "TargetMessageIsNotFound",
            QueueError::Storage(_) => "SMEVFailure",
        }
    }
}

/// What a successful send tells the sender, for `MessageMetadata` in the SOAP answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendReceipt {
    /// The engine's arrival number for the message.
    pub sequence: u64,
    /// The sender's `MessageID`.
    pub message_id: String,
    /// The queue the message joined.
    pub direction: Direction,
    /// The recipient the message was routed to (for a response, the original request's sender).
    pub recipient: String,
    /// When the engine queued it (unix milliseconds).
    pub accepted_ms: u64,
    /// The message's status now: `requestIsQueued` or `responseIsQueued`.
    pub status: InteractionStatus,
}

/// A kind of data ("вид сведений") to poll for, as in `MessageTypeSelector`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Selector<'a> {
    /// The namespace URI of the content's root element.
    pub namespace_uri: &'a str,
    /// The local name of the content's root element.
    pub root_element: &'a str,
}

impl Selector<'_> {
    /// Whether `header` carries this kind of data.
    fn matches(&self, header: &MessageHeader) -> bool {
        header.namespace_uri == self.namespace_uri && header.root_element == self.root_element
    }
}

/// Where a message stands in its queue, for the control API.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MessageState {
    /// Waiting, never delivered.
    Queued,
    /// Delivered at least once and not acknowledged: in flight, or waiting for redelivery.
    Delivered,
    /// Acknowledged by its recipient; never delivered again.
    Acknowledged,
}

impl MessageState {
    /// The state of `record`.
    pub fn of(record: &MessageRecord) -> MessageState {
        if record.is_acked() {
            MessageState::Acknowledged
        } else if record.delivery_count > 0 {
            MessageState::Delivered
        } else {
            MessageState::Queued
        }
    }
}

/// Which messages `list` returns; every field left `None` matches everything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListFilter {
    /// Only requests or only responses.
    pub direction: Option<Direction>,
    /// Only messages to this recipient.
    pub recipient: Option<String>,
    /// Only messages from this sender.
    pub sender: Option<String>,
    /// Only messages in this state.
    pub state: Option<MessageState>,
}

impl ListFilter {
    /// Whether `record` passes the filter.
    fn matches(&self, record: &MessageRecord) -> bool {
        let header = &record.header;
        self.direction.is_none_or(|direction| header.direction == direction)
            && self.recipient.as_ref().is_none_or(|recipient| &header.recipient == recipient)
            && self.sender.as_ref().is_none_or(|sender| &header.sender == sender)
            && self.state.is_none_or(|state| MessageState::of(record) == state)
    }
}

/// One line of a `list`: a message's metadata and where it stands, without its payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageSummary {
    /// The message's metadata and history.
    pub record: MessageRecord,
    /// Where it stands in its queue.
    pub state: MessageState,
}

/// How full one recipient's queue is, for the control API and for operators watching a test run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueDepth {
    /// The recipient.
    pub recipient: String,
    /// Which of its queues.
    pub direction: Direction,
    /// Unacknowledged messages, the number `destination_max_pending` limits.
    pub pending: usize,
    /// Of those, how many could be delivered now (the rest are within a visibility timeout).
    pub deliverable: usize,
}

/// The SMEV 3 queue engine: send, receive, ack and status over a [`Store`], safe to share between threads.
#[derive(Debug)]
pub struct Queues {
    /// Where messages are persisted.
    store: Arc<dyn Store>,
    /// The engine's notion of now.
    clock: Arc<dyn Clock>,
    /// Timeouts, capacities and quotas.
    limits: Limits,
    /// The in-memory index, rebuilt from the store at open; the one lock of the engine.
    index: Mutex<Index>,
}

impl Queues {
    /// Opens the engine over `store`, rebuilding its index from what the store holds.
    pub fn open(store: Arc<dyn Store>, clock: Arc<dyn Clock>, limits: Limits) -> Result<Queues, StoreError> {
        let index = Index::rebuild(store.load()?)?;
        Ok(Queues { store, clock, limits, index: Mutex::new(index) })
    }

    /// An engine over a fresh [`MemoryStore`] and the system clock.
    pub fn in_memory(limits: Limits) -> Queues {
        let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
        Queues { store, clock: Arc::new(SystemClock), limits, index: Mutex::new(Index::default()) }
    }

    /// The limits the engine enforces.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// Queues `envelope` for its recipient (`SendRequest` / `SendResponse`); returns once the store holds it.
    ///
    /// Checks, in order: a repeated `MessageID` from the same sender (`MessageIsAlreadySent`), for a response an
    /// `OriginalMessageId` naming no request addressed to this sender (`TargetMessageIsNotFound`), the sender's
    /// quota (`QuoteLimitExceeded`) and the recipient's queue (`DestinationOverflow`). A refused send changes
    /// nothing and does not count against the quota. A response's `recipient` is replaced by the consumer who sent
    /// the original request.
    pub fn send(&self, envelope: Envelope) -> Result<SendReceipt, QueueError> {
        let Envelope { mut header, payload } = envelope;
        let mut index = self.lock();
        let now = self.clock.now_ms();
        index.check_not_sent(&header)?;
        let request = index.route_response(&mut header)?;
        index.check_quota(&header.sender, now, self.limits.quota_per_minute)?;
        index.check_capacity(&header.recipient, header.direction, self.limits.destination_max_pending)?;
        let record = new_record(index.next_sequence, header, now, payload.len(), request.as_ref());
        let mut changed = vec![record];
        changed.extend(request.map(|request| answered(request, now)));
        self.store.apply(Change { records: &changed, payload: Some((changed[0].sequence, &payload)) })?;
        let receipt = receipt(&changed[0]);
        index.record_send(changed, now);
        Ok(receipt)
    }

    /// Hands out the oldest deliverable message for `recipient` in the `direction` queue, of the `selector`'s kind
    /// of data if one is given (`GetRequest` / `GetResponse`); `None` when there is none.
    ///
    /// The message stays queued but hidden for the visibility timeout; unless acknowledged by then, it is handed
    /// out again, ahead of later messages.
    pub fn receive(
        &self,
        recipient: &str,
        direction: Direction,
        selector: Option<Selector<'_>>,
    ) -> Result<Option<StoredMessage>, QueueError> {
        let mut index = self.lock();
        let now = self.clock.now_ms();
        let Some(sequence) = index.next_deliverable(recipient, direction, selector, now) else {
            return Ok(None);
        };
        let payload = self.store.payload(sequence)?;
        let mut record = index.record(sequence).clone();
        mark_delivered(&mut record, now, duration_ms(self.limits.visibility_timeout));
        self.store.apply(Change { records: std::slice::from_ref(&record), payload: None })?;
        index.replace(record.clone());
        Ok(Some(StoredMessage { record, payload }))
    }

    /// Acknowledges message `message_id` on behalf of `recipient` (`Ack`), taking it off the queue for good.
    ///
    /// Only a delivered, not yet acknowledged message addressed to `recipient` can be acknowledged, even after its
    /// visibility timeout passed; anything else is `TargetMessageIsNotFound`. Returns once the store holds the ack.
    pub fn ack(&self, recipient: &str, message_id: &str, accepted: bool) -> Result<(), QueueError> {
        let mut index = self.lock();
        let now = self.clock.now_ms();
        let sequence = index
            .ackable(recipient, message_id)
            .ok_or_else(|| QueueError::TargetMessageIsNotFound { message_id: message_id.to_owned() })?;
        let changed = acknowledged(&index, sequence, now, accepted);
        self.store.apply(Change { records: &changed, payload: None })?;
        for record in changed {
            index.replace(record);
        }
        Ok(())
    }

    /// The status history of message `message_id`, oldest first; empty if the engine knows no such message. If
    /// several senders used the same `MessageID`, the oldest message's history is returned.
    pub fn status(&self, message_id: &str) -> Vec<StatusEntry> {
        let index = self.lock();
        index.oldest_with_id(message_id).map(|record| record.history.clone()).unwrap_or_default()
    }

    /// The latest status of message `message_id`, `doesNotExist` if the engine knows no such message.
    pub fn current_status(&self, message_id: &str) -> InteractionStatus {
        let index = self.lock();
        index.oldest_with_id(message_id).map_or(InteractionStatus::DoesNotExist, MessageRecord::status)
    }

    /// The whole message `message_id` (the oldest, if several senders used that id), without delivering it.
    pub fn get(&self, message_id: &str) -> Result<Option<StoredMessage>, QueueError> {
        let index = self.lock();
        let Some(record) = index.oldest_with_id(message_id) else {
            return Ok(None);
        };
        let payload = self.store.payload(record.sequence)?;
        Ok(Some(StoredMessage { record: record.clone(), payload }))
    }

    /// Every message `filter` matches, in arrival order, without payloads.
    pub fn list(&self, filter: &ListFilter) -> Vec<MessageSummary> {
        let index = self.lock();
        let matching = index.records.values().filter(|record| filter.matches(record));
        matching.map(|record| MessageSummary { record: record.clone(), state: MessageState::of(record) }).collect()
    }

    /// The depth of every non-empty queue, sorted by recipient, then requests before responses.
    pub fn queue_depths(&self) -> Vec<QueueDepth> {
        let index = self.lock();
        let now = self.clock.now_ms();
        let mut depths: Vec<QueueDepth> = index
            .pending
            .iter()
            .filter(|(_, sequences)| !sequences.is_empty())
            .map(|((recipient, direction), sequences)| QueueDepth {
                recipient: recipient.clone(),
                direction: *direction,
                pending: sequences.len(),
                deliverable: sequences.iter().filter(|&&sequence| index.record(sequence).is_deliverable(now)).count(),
            })
            .collect();
        depths.sort_by(|a, b| (&a.recipient, a.direction).cmp(&(&b.recipient, b.direction)));
        depths
    }

    /// Drops every message, every duplicate-detection entry and every quota window, in the store too.
    pub fn reset(&self) -> Result<(), QueueError> {
        let mut index = self.lock();
        self.store.clear()?;
        *index = Index::default();
        Ok(())
    }

    /// The index, even after a panic in another thread: memory is changed only after the store accepted a change,
    /// in steps that cannot fail halfway, so a poisoned lock still guards a consistent index.
    fn lock(&self) -> MutexGuard<'_, Index> {
        self.index.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The engine's in-memory view of the store, kept in step with it.
#[derive(Debug)]
struct Index {
    /// Every message's metadata, by sequence.
    records: BTreeMap<u64, MessageRecord>,
    /// Duplicate detection: sender, then `MessageID`, to the message's sequence.
    by_sender: HashMap<String, HashMap<String, u64>>,
    /// Every message with a given `MessageID` (one per sender), oldest first, for ack, status and routing.
    by_id: HashMap<String, Vec<u64>>,
    /// The unacknowledged messages of each queue (recipient and direction), in FIFO order.
    pending: HashMap<(String, Direction), BTreeSet<u64>>,
    /// When each sender's sends in the current quota window were accepted, oldest first.
    recent_sends: HashMap<String, VecDeque<u64>>,
    /// The sequence the next accepted message gets.
    next_sequence: u64,
}

impl Default for Index {
    fn default() -> Index {
        Index {
            records: BTreeMap::new(),
            by_sender: HashMap::new(),
            by_id: HashMap::new(),
            pending: HashMap::new(),
            recent_sends: HashMap::new(),
            next_sequence: 1,
        }
    }
}

impl Index {
    /// The index of the stored `records`, which must not contradict each other.
    fn rebuild(records: Vec<MessageRecord>) -> Result<Index, StoreError> {
        let mut index = Index::default();
        for record in records {
            index.check_loadable(&record)?;
            index.next_sequence = index.next_sequence.max(record.sequence.saturating_add(1));
            index.insert(record);
        }
        Ok(index)
    }

    /// Refuses a stored record that repeats a sequence or a sender's `MessageID`, or answers an unknown request.
    fn check_loadable(&self, record: &MessageRecord) -> Result<(), StoreError> {
        let header = &record.header;
        if self.records.contains_key(&record.sequence) {
            return Err(StoreError::Inconsistent(format!("sequence {} is stored twice", record.sequence)));
        }
        if self.sent_by(&header.sender, &header.message_id).is_some() {
            let what = format!("{} sent message {} twice", header.sender, header.message_id);
            return Err(StoreError::Inconsistent(what));
        }
        match record.answers {
            Some(request) if !self.records.contains_key(&request) => Err(StoreError::Inconsistent(format!(
                "response {} answers request {request}, which is not stored before it",
                record.sequence
            ))),
            _ => Ok(()),
        }
    }

    /// The record with `sequence`, which the caller knows exists.
    fn record(&self, sequence: u64) -> &MessageRecord {
        &self.records[&sequence]
    }

    /// The sequence of the message `sender` sent as `message_id`, if any.
    fn sent_by(&self, sender: &str, message_id: &str) -> Option<u64> {
        self.by_sender.get(sender).and_then(|ids| ids.get(message_id)).copied()
    }

    /// The oldest message with `message_id`.
    fn oldest_with_id(&self, message_id: &str) -> Option<&MessageRecord> {
        let sequences = self.by_id.get(message_id)?;
        sequences.first().map(|&sequence| self.record(sequence))
    }

    /// The messages with `message_id`, oldest first.
    fn with_id<'a>(&'a self, message_id: &str) -> impl Iterator<Item = &'a MessageRecord> + 'a {
        let sequences = self.by_id.get(message_id).map(Vec::as_slice).unwrap_or_default();
        sequences.iter().map(|&sequence| self.record(sequence))
    }

    /// Refuses a `MessageID` its sender already used.
    fn check_not_sent(&self, header: &MessageHeader) -> Result<(), QueueError> {
        match self.sent_by(&header.sender, &header.message_id) {
            Some(_) => Err(QueueError::MessageIsAlreadySent {
                sender: header.sender.clone(),
                message_id: header.message_id.clone(),
            }),
            None => Ok(()),
        }
    }

    /// For a response, finds the request it answers (addressed to the response's sender) and routes the response
    /// to that request's sender; a request passes unchanged.
    fn route_response(&self, header: &mut MessageHeader) -> Result<Option<MessageRecord>, QueueError> {
        if header.direction == Direction::Request {
            return Ok(None);
        }
        let original = header.original_message_id.as_deref().unwrap_or_default();
        let request = self
            .with_id(original)
            .find(|request| request.header.direction == Direction::Request && request.header.recipient == header.sender)
            .ok_or_else(|| QueueError::TargetMessageIsNotFound { message_id: original.to_owned() })?;
        header.recipient = request.header.sender.clone();
        Ok(Some(request.clone()))
    }

    /// Refuses a send once `sender` had `quota` accepted sends in the last [`QUOTA_WINDOW`], forgetting older ones.
    fn check_quota(&mut self, sender: &str, now_ms: u64, quota: u32) -> Result<(), QueueError> {
        let window_start = now_ms.saturating_sub(duration_ms(QUOTA_WINDOW));
        let sent = self.recent_sends.entry(sender.to_owned()).or_default();
        while sent.front().is_some_and(|&at_ms| at_ms <= window_start) {
            sent.pop_front();
        }
        if sent.len() >= quota as usize {
            return Err(QueueError::QuoteLimitExceeded { sender: sender.to_owned(), limit: quota });
        }
        Ok(())
    }

    /// Refuses a send to a queue that already holds `limit` unacknowledged messages.
    fn check_capacity(&self, recipient: &str, direction: Direction, limit: usize) -> Result<(), QueueError> {
        let pending = self.pending.get(&(recipient.to_owned(), direction)).map_or(0, BTreeSet::len);
        if pending >= limit {
            return Err(QueueError::DestinationOverflow { recipient: recipient.to_owned(), direction, limit });
        }
        Ok(())
    }

    /// Takes in an accepted send: the new message first, then the request it answers, if any.
    fn record_send(&mut self, changed: Vec<MessageRecord>, now_ms: u64) {
        let mut changed = changed.into_iter();
        if let Some(sent) = changed.next() {
            self.recent_sends.entry(sent.header.sender.clone()).or_default().push_back(now_ms);
            self.next_sequence = sent.sequence + 1;
            self.insert(sent);
        }
        for record in changed {
            self.replace(record);
        }
    }

    /// Adds a message to every map.
    fn insert(&mut self, record: MessageRecord) {
        let header = &record.header;
        let sender_ids = self.by_sender.entry(header.sender.clone()).or_default();
        sender_ids.insert(header.message_id.clone(), record.sequence);
        self.by_id.entry(header.message_id.clone()).or_default().push(record.sequence);
        if !record.is_acked() {
            let queue = self.pending.entry((header.recipient.clone(), header.direction)).or_default();
            queue.insert(record.sequence);
        }
        self.records.insert(record.sequence, record);
    }

    /// Replaces a known message's record, taking it off its queue once acknowledged.
    fn replace(&mut self, record: MessageRecord) {
        if record.is_acked() {
            let key = (record.header.recipient.clone(), record.header.direction);
            if let Some(queue) = self.pending.get_mut(&key) {
                queue.remove(&record.sequence);
                if queue.is_empty() {
                    self.pending.remove(&key);
                }
            }
        }
        self.records.insert(record.sequence, record);
    }

    /// The oldest message of the queue that may be handed out now and matches `selector`.
    fn next_deliverable(
        &self,
        recipient: &str,
        direction: Direction,
        selector: Option<Selector<'_>>,
        now_ms: u64,
    ) -> Option<u64> {
        let queue = self.pending.get(&(recipient.to_owned(), direction))?;
        queue.iter().copied().find(|&sequence| {
            let record = self.record(sequence);
            record.is_deliverable(now_ms) && selector.is_none_or(|selector| selector.matches(&record.header))
        })
    }

    /// The message `recipient` may acknowledge as `message_id`: addressed to it, delivered, not yet acknowledged.
    fn ackable(&self, recipient: &str, message_id: &str) -> Option<u64> {
        self.with_id(message_id)
            .find(|record| record.header.recipient == recipient && record.delivery_count > 0 && !record.is_acked())
            .map(|record| record.sequence)
    }
}

/// The record of a message accepted at `now_ms` with the next sequence.
fn new_record(
    sequence: u64,
    header: MessageHeader,
    now_ms: u64,
    payload_len: usize,
    request: Option<&MessageRecord>,
) -> MessageRecord {
    let mut record = MessageRecord {
        sequence,
        answers: request.map(|request| request.sequence),
        header,
        accepted_ms: now_ms,
        payload_len,
        history: Vec::new(),
        delivery_count: 0,
        last_delivery_ms: None,
        invisible_until_ms: 0,
        ack: None,
    };
    record.push_status(now_ms, queued_status(record.header.direction));
    record
}

/// The status a message gets when it joins its queue.
fn queued_status(direction: Direction) -> InteractionStatus {
    match direction {
        Direction::Request => InteractionStatus::RequestIsQueued,
        Direction::Response => InteractionStatus::ResponseIsQueued,
    }
}

/// `request` after a response to it was queued: processed (once) and a response queued.
fn answered(mut request: MessageRecord, now_ms: u64) -> MessageRecord {
    let processed = request.history.iter().any(|entry| entry.status == InteractionStatus::RequestIsProcessed);
    if !processed {
        request.push_status(now_ms, InteractionStatus::RequestIsProcessed);
    }
    request.push_status(now_ms, InteractionStatus::ResponseIsQueued);
    request
}

/// Records a delivery at `now_ms`, hiding the message for `visibility_ms`.
fn mark_delivered(record: &mut MessageRecord, now_ms: u64, visibility_ms: u64) {
    if record.delivery_count == 0 {
        record.push_status(now_ms, InteractionStatus::MessageIsDelivered);
    }
    record.delivery_count = record.delivery_count.saturating_add(1);
    record.last_delivery_ms = Some(now_ms);
    record.invisible_until_ms = now_ms.saturating_add(visibility_ms);
}

/// The records an ack of message `sequence` changes: the message, and for an accepted response its request.
fn acknowledged(index: &Index, sequence: u64, now_ms: u64, accepted: bool) -> Vec<MessageRecord> {
    let mut message = index.record(sequence).clone();
    message.ack = Some(AckRecord { at_ms: now_ms, accepted });
    let processed_response = accepted && message.header.direction == Direction::Response;
    if !processed_response {
        return vec![message];
    }
    message.push_status(now_ms, InteractionStatus::ResponseIsProcessed);
    let mut changed = vec![message];
    if let Some(request) = changed[0].answers.and_then(|request| index.records.get(&request)) {
        let mut request = request.clone();
        request.push_status(now_ms, InteractionStatus::ResponseIsProcessed);
        changed.push(request);
    }
    changed
}

/// The receipt for a freshly queued `record`.
fn receipt(record: &MessageRecord) -> SendReceipt {
    SendReceipt {
        sequence: record.sequence,
        message_id: record.header.message_id.clone(),
        direction: record.header.direction,
        recipient: record.header.recipient.clone(),
        accepted_ms: record.accepted_ms,
        status: record.status(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A request record as `send` writes it, for the helpers below.
    fn request_record() -> MessageRecord {
        let header = MessageHeader {
            message_id: "r".to_owned(),
            direction: Direction::Request,
            sender: "C".to_owned(),
            recipient: "P".to_owned(),
            namespace_uri: "urn://test".to_owned(),
            root_element: "Request".to_owned(),
            original_message_id: None,
            reference_message_id: None,
            test_message: false,
            sending_timestamp_ms: 0,
        };
        new_record(1, header, 100, 10, None)
    }

    #[test]
    fn a_request_is_processed_once_however_many_responses() {
        use InteractionStatus::*;
        let request = answered(answered(request_record(), 200), 300);
        let statuses: Vec<_> = request.history.iter().map(|entry| (entry.at_ms, entry.status)).collect();
        assert_eq!(
            statuses,
            [(100, RequestIsQueued), (200, RequestIsProcessed), (200, ResponseIsQueued), (300, ResponseIsQueued)]
        );
    }

    #[test]
    fn deliveries_hide_the_message_and_count() {
        let mut record = request_record();
        assert_eq!(MessageState::of(&record), MessageState::Queued);
        assert!(record.is_deliverable(100));
        mark_delivered(&mut record, 150, 1_000);
        mark_delivered(&mut record, 1_150, 1_000);
        assert_eq!(
            (record.delivery_count, record.last_delivery_ms, record.invisible_until_ms),
            (2, Some(1_150), 2_150)
        );
        assert_eq!(record.history.len(), 2, "one messageIsDelivered for two deliveries");
        assert!(!record.is_deliverable(2_149) && record.is_deliverable(2_150));
        assert_eq!(MessageState::of(&record), MessageState::Delivered);
        // A timeout too large for the clock saturates instead of wrapping into the past.
        mark_delivered(&mut record, 5, u64::MAX);
        assert_eq!(record.invisible_until_ms, u64::MAX);
    }

    #[test]
    fn the_quota_window_slides() {
        let mut index = Index::default();
        let minute = duration_ms(QUOTA_WINDOW);
        index.recent_sends.insert("C".to_owned(), VecDeque::from([1_000, 2_000]));
        assert!(matches!(index.check_quota("C", 1_000 + minute - 1, 2), Err(QueueError::QuoteLimitExceeded { .. })));
        assert!(index.check_quota("C", 1_000 + minute, 2).is_ok());
        assert_eq!(index.recent_sends["C"], [2_000]);
        assert!(matches!(index.check_quota("C", 0, 0), Err(QueueError::QuoteLimitExceeded { limit: 0, .. })));
    }
}
