//! What operators can do, over the stores alone: list and show outbox items, retry and purge dead letters (each
//! recorded in the audit log first), trace a message or an application, read the audit log.
//!
//! The API serves these for a running gateway; the command line calls them directly on a stopped gateway's store.
//! Personal data is masked unless the caller asks for it and may see it (`reveal`).
#![forbid(unsafe_code)]

use super::audit::{rfc3339, AuditEntry, AuditLog};
use super::mask::{mask_json, mask_text};
use super::view::{ActionView, InboxView, ItemDetail, ItemView, MessageTrace, Step, TraceView};
use super::OpsError;
use crate::inbox::Inbox;
use crate::outbox::{Clock, ItemId, ItemState, ListFilter, Outbox, StateFilter, WorkItem};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::SystemTime;

/// The most items one list returns.
pub const MAX_LIST: usize = 1000;
/// The most items a trace looks at.
const MAX_TRACE_ITEMS: usize = 1000;
/// The longest id a trace accepts.
const MAX_QUERY_LEN: usize = 128;

/// Who acts, as the audit log records them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    /// The token's name, or `cli:<user>`.
    pub name: String,
    /// The role, or `local` for the command line on a store.
    pub role: String,
}

/// Which items to list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ItemQuery {
    /// Only this queue.
    pub queue: Option<String>,
    /// Only this state.
    pub state: Option<StateFilter>,
    /// Only keys containing this.
    pub key: Option<String>,
    /// Only ids above this (paging).
    pub after: Option<u64>,
    /// At most this many (capped at [`MAX_LIST`]).
    pub limit: usize,
}

impl ItemQuery {
    /// The query as the audit log records a listing: its filters, any personal data in them masked.
    pub fn audit_target(&self) -> String {
        let mut target = "items".to_owned();
        if let Some(queue) = &self.queue {
            target.push_str(&format!(" queue={}", mask_text(queue)));
        }
        if let Some(state) = self.state {
            target.push_str(&format!(" state={}", state.as_str()));
        }
        if let Some(key) = &self.key {
            target.push_str(&format!(" key~{}", mask_text(key)));
        }
        if let Some(after) = self.after {
            target.push_str(&format!(" after={after}"));
        }
        target
    }
}

/// The operators' desk over one gateway's stores.
#[derive(Clone)]
pub struct Desk {
    /// The outbox.
    pub outbox: Arc<dyn Outbox>,
    /// The inbox.
    pub inbox: Arc<dyn Inbox>,
    /// The audit log.
    pub audit: AuditLog,
    /// Time, for retries.
    pub clock: Arc<dyn Clock>,
}

/// An item's payload as JSON for operators: a send job as its head's fields and its envelope, another job as it is
/// stored, anything else as text.
fn payload_json(item: &WorkItem) -> serde_json::Value {
    use crate::gateway::jobs;
    if item.queue == jobs::SEND_QUEUE {
        if let Ok(job) = jobs::decode_send(item.payload.clone()) {
            let head = job.head;
            return serde_json::json!({
                "send": head.send,
                "kind": head.kind,
                "message_id": head.message_id,
                "answers": head.answers,
                "envelope": job.envelope,
            });
        }
    }
    match serde_json::from_slice::<serde_json::Value>(&item.payload) {
        Ok(value) => value,
        Err(_) => serde_json::json!({ "text": String::from_utf8_lossy(&item.payload) }),
    }
}

impl Desk {
    /// Items matching `query`, in id order.
    pub async fn list(&self, query: &ItemQuery, reveal: bool) -> Result<Vec<ItemView>, OpsError> {
        let filter = ListFilter {
            queue: query.queue.clone(),
            state: query.state,
            key_contains: query.key.clone(),
            payload_contains: None,
            after: query.after.map(ItemId),
            limit: query.limit.clamp(1, MAX_LIST),
        };
        let items = self.outbox.list(&filter).await?;
        Ok(items.iter().map(|item| view(item, reveal)).collect())
    }

    /// One item with its payload.
    pub async fn show(&self, id: u64, reveal: bool) -> Result<ItemDetail, OpsError> {
        let item = self.item(id).await?;
        let mut payload = payload_json(&item);
        if !reveal {
            mask_json(&mut payload);
        }
        Ok(ItemDetail { item: view(&item, reveal), payload, masked: !reveal })
    }

    /// Moves a dead letter back to pending, recording who did it first.
    pub async fn retry(&self, id: u64, actor: &Actor) -> Result<ActionView, OpsError> {
        let item = self.dead_item(id).await?;
        if item.queue == crate::gateway::jobs::UNREADABLE_QUEUE {
            // No worker drains that queue: a "retried" item would wait as pending for ever.
            return Err(OpsError::Conflict(format!(
                "item {id} is a delivery the gateway could not read, kept for inspection: it cannot be sent again; \
                 purge it once handled"
            )));
        }
        self.record(actor, "retry", &format!("item {id}"), Some(describe(&item)))?;
        self.outbox.retry_dead(item.id, self.clock.now()).await?;
        let now = self.outbox.get(item.id).await?.map(|item| view(&item, false));
        Ok(ActionView { id, action: "retry".into(), item: now })
    }

    /// Deletes a dead letter for good, recording who did it first.
    pub async fn purge(&self, id: u64, actor: &Actor) -> Result<ActionView, OpsError> {
        let item = self.dead_item(id).await?;
        self.record(actor, "purge", &format!("item {id}"), Some(describe(&item)))?;
        self.outbox.purge_dead(item.id).await?;
        Ok(ActionView { id, action: "purge".into(), item: None })
    }

    /// Appends an entry to the audit log; an action that cannot be recorded must not be carried out.
    pub fn record(&self, actor: &Actor, action: &str, target: &str, detail: Option<String>) -> Result<(), OpsError> {
        let entry = AuditEntry {
            at: rfc3339(SystemTime::now()),
            actor: actor.name.clone(),
            role: actor.role.clone(),
            action: action.to_owned(),
            target: target.to_owned(),
            detail,
        };
        self.audit.append(&entry)?;
        tracing::info!(actor = %entry.actor, action, target, "operator action");
        Ok(())
    }

    /// The last `limit` audit entries, newest first.
    pub fn audit_entries(&self, limit: usize) -> Result<Vec<AuditEntry>, OpsError> {
        Ok(self.audit.recent(limit.clamp(1, 10_000))?)
    }

    /// Every step a message (by SMEV MessageID) or an application (by orderId) took.
    pub async fn trace(&self, query: &str, reveal: bool) -> Result<TraceView, OpsError> {
        let query = query.trim();
        let valid = query.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | ':'));
        if query.is_empty() || query.len() > MAX_QUERY_LEN || !valid {
            return Err(OpsError::BadRequest(format!(
                "a trace takes an SMEV MessageID or an orderId (letters, digits, '-', at most {MAX_QUERY_LEN})"
            )));
        }
        let mut matched_by = Vec::new();
        let mut message_ids = BTreeSet::new();
        let mut other_items = Vec::new();
        let known = self.inbox.get(query).await?.is_some() || !self.items_about(query, 1).await?.is_empty();
        if known {
            matched_by.push("message_id".to_owned());
            message_ids.insert(query.to_owned());
        }
        if query.len() <= 19 && query.bytes().all(|b| b.is_ascii_digit()) {
            let mut found = false;
            for item in self.items_of_order(query).await? {
                found = true;
                match message_of_key(&item.idempotency_key) {
                    Some(message_id) => {
                        message_ids.insert(message_id);
                    }
                    None => other_items.push(item),
                }
            }
            if found {
                matched_by.push("order_id".to_owned());
            }
        }
        let mut messages = Vec::new();
        let mut all_items: Vec<WorkItem> = other_items.clone();
        for message_id in &message_ids {
            let entry = self.inbox.get(message_id).await?;
            let items = self.items_about(message_id, MAX_TRACE_ITEMS).await?;
            all_items.extend(items.iter().cloned());
            messages.push((message_id.clone(), entry, items));
        }
        let item_targets: BTreeSet<String> = all_items.iter().map(|item| format!("item {}", item.id.0)).collect();
        let audit: Vec<AuditEntry> = self
            .audit
            .read_all()?
            .into_iter()
            .filter(|entry| item_targets.contains(&entry.target) || entry.target == format!("trace {query}"))
            .collect();
        let steps = timeline(&messages, &other_items, &audit, reveal);
        let messages = messages
            .into_iter()
            .map(|(message_id, entry, items)| MessageTrace {
                message_id,
                inbox: entry.as_ref().map(InboxView::of),
                items: items.iter().map(|item| view(item, reveal)).collect(),
            })
            .collect();
        Ok(TraceView {
            query: query.to_owned(),
            matched_by,
            messages,
            other_items: other_items.iter().map(|item| view(item, reveal)).collect(),
            audit,
            steps,
        })
    }

    /// The item `id`, or `NotFound`.
    async fn item(&self, id: u64) -> Result<WorkItem, OpsError> {
        self.outbox.get(ItemId(id)).await?.ok_or_else(|| OpsError::NotFound(format!("no outbox item {id}")))
    }

    /// The dead letter `id`, or `NotFound` / `Conflict`.
    async fn dead_item(&self, id: u64) -> Result<WorkItem, OpsError> {
        let item = self.item(id).await?;
        match item.state {
            ItemState::Dead { .. } => Ok(item),
            _ => Err(OpsError::Conflict(format!(
                "item {id} is {}, not a dead letter",
                StateFilter::of(&item.state).as_str()
            ))),
        }
    }

    /// Items whose key names `message_id` (its response, acknowledgements, school call).
    async fn items_about(&self, message_id: &str, limit: usize) -> Result<Vec<WorkItem>, OpsError> {
        let filter = ListFilter { key_contains: Some(message_id.to_owned()), limit, ..ListFilter::default() };
        let items = self.outbox.list(&filter).await?;
        // A key contains the id as a whole segment: `response:<id>`, `ack:<id>`, `ack:<id>:2`, `school:<id>`.
        Ok(items.into_iter().filter(|item| item.idempotency_key.split(':').any(|part| part == message_id)).collect())
    }

    /// Items whose payload carries order `order_id` (`orderId` in applications and status pushes, `pguId` in
    /// answers).
    async fn items_of_order(&self, order_id: &str) -> Result<Vec<WorkItem>, OpsError> {
        let needle = format!(">{order_id}<").into_bytes();
        let filter = ListFilter { payload_contains: Some(needle), limit: MAX_TRACE_ITEMS, ..ListFilter::default() };
        let mut found = Vec::new();
        for candidate in self.outbox.list(&filter).await? {
            let Some(item) = self.outbox.get(candidate.id).await? else { continue };
            let text = String::from_utf8_lossy(&item.payload);
            let names_order = ["orderId", "pguId"].iter().any(|element| {
                text.match_indices(&format!(">{order_id}<")).any(|(at, _)| text[..at].ends_with(element))
            });
            if names_order {
                found.push(WorkItem { payload: Vec::new(), ..item });
            }
        }
        Ok(found)
    }
}

/// The SMEV message an idempotency key is about, for the gateway's keys (`response:`, `ack:`, `school:`).
fn message_of_key(key: &str) -> Option<String> {
    let mut parts = key.split(':');
    match (parts.next(), parts.next()) {
        (Some("response" | "ack" | "school"), Some(id)) if !id.is_empty() => Some(id.to_owned()),
        _ => None,
    }
}

/// A short description of an item for the audit log: queue and key, never the payload.
fn describe(item: &WorkItem) -> String {
    format!("queue {}, key {}", item.queue, item.idempotency_key)
}

/// The view of `item`, with its last error masked unless `reveal`.
fn view(item: &WorkItem, reveal: bool) -> ItemView {
    let mut view = ItemView::of(item);
    if !reveal {
        view.last_error = view.last_error.map(|error| mask_text(&error));
    }
    view
}

/// Everything in a trace in time order.
fn timeline(
    messages: &[(String, Option<crate::inbox::InboxEntry>, Vec<WorkItem>)],
    other_items: &[WorkItem],
    audit: &[AuditEntry],
    reveal: bool,
) -> Vec<Step> {
    // Keyed by time then insertion order, so that simultaneous steps keep their logical order.
    let mut steps: BTreeMap<(SystemTime, usize), (String, String)> = BTreeMap::new();
    let mut add = |at: SystemTime, what: &str, detail: String| {
        let n = steps.len();
        steps.insert((at, n), (what.to_owned(), detail));
    };
    let item_steps = |item: &WorkItem, add: &mut dyn FnMut(SystemTime, &str, String)| {
        let name = format!("#{} {} ({})", item.id.0, item.queue, item.idempotency_key);
        add(item.created_at, "queued", name.clone());
        let error = item.last_error.as_deref().map(|e| if reveal { e.to_owned() } else { mask_text(e) });
        match &item.state {
            ItemState::Completed { at } => add(*at, "completed", format!("{name} after {} attempt(s)", item.attempts)),
            ItemState::Dead { at, reason, cause } => {
                let reason = if reveal { reason.clone() } else { mask_text(reason) };
                add(*at, "dead-lettered", format!("{name}: {} ({reason})", cause.as_str()))
            }
            ItemState::Pending | ItemState::Leased { .. } => add(
                item.next_attempt_at,
                "waiting",
                format!(
                    "{name}: {} attempt(s) so far{}",
                    item.attempts,
                    error.map(|e| format!(", last error: {e}")).unwrap_or_default()
                ),
            ),
        }
    };
    for (message_id, entry, items) in messages {
        if let Some(entry) = entry {
            add(
                entry.received_at,
                "received",
                format!("{message_id} ({}, {} delivery(ies))", entry.kind, entry.deliveries),
            );
            if let Some(response) = &entry.response {
                add(response.recorded_at, "responded", format!("{message_id}: response {}", response.message_id));
            }
            if let Some(acked) = entry.acked_at {
                add(acked, "acknowledged", message_id.clone());
            }
        }
        for item in items {
            item_steps(item, &mut add);
        }
    }
    for item in other_items {
        item_steps(item, &mut add);
    }
    let mut steps: Vec<Step> =
        steps.into_iter().map(|((at, _), (what, detail))| Step { at: rfc3339(at), what, detail }).collect();
    // Audit entries carry their time as text, already in the same fixed-width form: merge them in by it.
    for entry in audit {
        let detail = format!("{} ({}) {} {}", entry.actor, entry.role, entry.action, entry.target);
        steps.push(Step { at: entry.at.clone(), what: "audit".into(), detail });
    }
    steps.sort_by(|a, b| a.at.cmp(&b.at));
    steps
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_name_their_message() {
        assert_eq!(message_of_key("response:abc").as_deref(), Some("abc"));
        assert_eq!(message_of_key("ack:abc:2").as_deref(), Some("abc"));
        assert_eq!(message_of_key("school:abc").as_deref(), Some("abc"));
        assert_eq!(message_of_key("status:17"), None);
    }
}
