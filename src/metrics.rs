//! The gateway's metrics: counters and histograms updated where the work happens, gauges read from the outbox and
//! the breakers when `/metrics` is scraped, written in the Prometheus text format (version 0.0.4).
//!
//! The registry is hand-written: a few label sets per family, counters as `u64` under one mutex (updated a handful
//! of times per message, next to an fsync and two signatures), and a renderer of the text format. A metrics crate
//! would bring a registry, derive macros and the OpenMetrics variant of the format; we need none of them.
//!
//! Labels only ever hold bounded values (kinds of data, queue names, fault types, operations), never ids or
//! personal data, so that the number of series stays small and a scrape leaks nothing.
#![forbid(unsafe_code)]

use crate::gateway::breaker::BreakerState;
use crate::outbox::Stats;
use crate::school::{
    BoxFuture, EnrollmentApplication, Marks, Pupil, PupilId, SchoolError, SchoolSystem, Snils, StatusChange,
    SubmitOutcome,
};
use crate::smev::client::ClientError;
use crate::smev::{RetryClass, SmevError};
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::fmt::Write as _;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime};

/// How many recent SMEV faults are kept for the operators' summary.
pub const RECENT_FAULTS: usize = 50;

/// The content type of the text format.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Upper bounds (seconds) of the latency buckets of calls over the network.
const CALL_BUCKETS: &[f64] = &[0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];
/// Upper bounds (seconds) of the latency buckets of signature checks, which take a millisecond or so.
const SIGNATURE_BUCKETS: &[f64] = &[0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0];

/// What a metric family is, for its `# TYPE` line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Type {
    /// Only ever grows.
    Counter,
    /// Goes up and down; read at scrape time.
    Gauge,
    /// Counts observations into buckets.
    Histogram,
}

/// A family's name, help text and type: the catalogue `docs/operators.md` explains.
struct Family {
    /// The metric name.
    name: &'static str,
    /// The `# HELP` text.
    help: &'static str,
    /// The `# TYPE`.
    kind: Type,
}

/// Requests taken from SMEV, by kind of data (the content's root element) and outcome.
pub const RECEIVED: &str = "edugate_messages_received_total";
/// Messages sent to SMEV (responses and the gateway's own requests), by kind of data and outcome.
pub const SENT: &str = "edugate_messages_sent_total";
/// Acknowledgements sent to SMEV, by kind of data and outcome.
pub const ACKED: &str = "edugate_messages_acknowledged_total";
/// Failed attempts the outbox rescheduled, by queue.
pub const RETRIES: &str = "edugate_outbox_retries_total";
/// Items dead-lettered, by queue and cause.
pub const DEAD_LETTERS: &str = "edugate_outbox_dead_letters_total";
/// Items in the outbox now, by queue and state.
pub const OUTBOX_ITEMS: &str = "edugate_outbox_items";
/// Age of the oldest unfinished item, by queue.
pub const OLDEST_PENDING: &str = "edugate_outbox_oldest_pending_age_seconds";
/// SMEV faults and failed calls, by type and operation.
pub const SMEV_FAULTS: &str = "edugate_smev_faults_total";
/// Latency of calls to SMEV (including the signature the client makes), by operation.
pub const SMEV_CALLS: &str = "edugate_smev_call_duration_seconds";
/// Latency of calls to the school system, by operation and outcome.
pub const SCHOOL_CALLS: &str = "edugate_school_call_duration_seconds";
/// Signatures made and checked, by operation and outcome.
pub const SIGNATURES: &str = "edugate_signatures_total";
/// Latency of signatures made and checked, by operation.
pub const SIGNATURE_DURATION: &str = "edugate_signature_duration_seconds";
/// Circuit breaker states, one series per destination and state, 1 for the current one.
pub const BREAKER: &str = "edugate_circuit_breaker_state";
/// Kinds of data whose polling an operator paused.
pub const PAUSED: &str = "edugate_kind_paused";
/// Seconds since the process started.
pub const UPTIME: &str = "edugate_uptime_seconds";
/// 1 when the gateway runs under the development profile, on the public test material of `certs-dev/`.
pub const DEVELOPMENT: &str = "edugate_development_profile";

/// The kind label of a message whose signatures were not (or could not be) verified, or that could not be parsed:
/// its content names no kind the metrics may trust, and a label read from it would let a sender mint series.
pub const UNVERIFIED: &str = "unverified";

/// Every family, in the order of the text output.
const FAMILIES: &[Family] = &[
    Family { name: RECEIVED, help: "Requests taken from SMEV, by kind of data and outcome.", kind: Type::Counter },
    Family { name: SENT, help: "Messages sent to SMEV, by kind of data and outcome.", kind: Type::Counter },
    Family { name: ACKED, help: "Acknowledgements sent to SMEV, by kind of data and outcome.", kind: Type::Counter },
    Family { name: RETRIES, help: "Failed attempts rescheduled by the outbox, by queue.", kind: Type::Counter },
    Family { name: DEAD_LETTERS, help: "Items dead-lettered, by queue and cause.", kind: Type::Counter },
    Family { name: OUTBOX_ITEMS, help: "Items in the outbox, by queue and state.", kind: Type::Gauge },
    Family {
        name: OLDEST_PENDING,
        help: "Age of the oldest pending or leased item, by queue (0 when none waits).",
        kind: Type::Gauge,
    },
    Family {
        name: SMEV_FAULTS,
        help: "SMEV faults and failed SMEV calls, by type and operation.",
        kind: Type::Counter,
    },
    Family {
        name: SMEV_CALLS,
        help: "Latency of SMEV calls (signature included), by operation.",
        kind: Type::Histogram,
    },
    Family {
        name: SCHOOL_CALLS,
        help: "Latency of school-system calls, by operation and outcome.",
        kind: Type::Histogram,
    },
    Family { name: SIGNATURES, help: "Signatures made (sign) and checked (verify), by outcome.", kind: Type::Counter },
    Family {
        name: SIGNATURE_DURATION,
        help: "Latency of signatures made (sign, with the envelope built) and checked (verify).",
        kind: Type::Histogram,
    },
    Family {
        name: BREAKER,
        help: "Circuit breaker state per destination: 1 for the current state.",
        kind: Type::Gauge,
    },
    Family { name: PAUSED, help: "1 for a kind of data whose polling an operator paused.", kind: Type::Gauge },
    Family { name: UPTIME, help: "Seconds since the gateway started.", kind: Type::Gauge },
    Family {
        name: DEVELOPMENT,
        help: "1 when the development profile (public test keys and trust anchors) is in use.",
        kind: Type::Gauge,
    },
];

/// A series' labels, in the order written.
type Labels = Vec<(&'static str, String)>;

/// One histogram series.
#[derive(Debug, Clone)]
struct Histogram {
    /// The buckets' upper bounds.
    bounds: &'static [f64],
    /// Observations per bucket (not cumulative; the renderer sums them).
    counts: Vec<u64>,
    /// Observations above the last bound.
    overflow: u64,
    /// The sum of all observations, seconds.
    sum: f64,
}

impl Histogram {
    /// An empty histogram over `bounds`.
    fn new(bounds: &'static [f64]) -> Histogram {
        Histogram { bounds, counts: vec![0; bounds.len()], overflow: 0, sum: 0.0 }
    }

    /// Counts one observation.
    fn observe(&mut self, seconds: f64) {
        self.sum += seconds;
        match self.bounds.iter().position(|bound| seconds <= *bound) {
            Some(i) => self.counts[i] += 1,
            None => self.overflow += 1,
        }
    }
}

/// A SMEV fault as the operators' summary lists it: no message text, which may quote a request's content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FaultRecord {
    /// When it happened.
    pub at: SystemTime,
    /// The fault's type (`SMEVFailure`, `QuoteLimitExceeded`, ...) or the kind of failure (`transport`, `timeout`).
    pub fault: String,
    /// The SMEV operation that failed.
    pub operation: String,
    /// What the gateway does about it.
    pub class: &'static str,
}

/// The outcome of the last poll of SMEV, for readiness.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PollOutcome {
    /// When the poll ended.
    pub at: SystemTime,
    /// Whether SMEV answered (with a message or an empty queue).
    pub ok: bool,
    /// The failure's type, when it failed.
    pub fault: Option<String>,
}

/// Counter totals over all label sets, for the operators' charts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Totals {
    /// Requests received.
    pub received: u64,
    /// Messages sent successfully.
    pub sent: u64,
    /// Acknowledgements sent successfully.
    pub acked: u64,
    /// Attempts rescheduled.
    pub retries: u64,
    /// Items dead-lettered.
    pub dead_lettered: u64,
    /// SMEV faults and failed calls.
    pub faults: u64,
}

/// What the scrape reads besides the counters: the state of things now.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    /// The outbox's counts.
    pub stats: Stats,
    /// Each breaker's destination and state.
    pub breakers: Vec<(String, BreakerState)>,
    /// Each configured kind of data (root element) and whether it is paused.
    pub kinds: Vec<(String, bool)>,
}

/// Everything the registry holds, under one lock: updates are a few per message, far from contended.
#[derive(Debug, Default)]
struct Inner {
    /// Counter values by family and labels.
    counters: BTreeMap<(&'static str, Labels), u64>,
    /// Histograms by family and labels.
    histograms: BTreeMap<(&'static str, Labels), Histogram>,
    /// The last [`RECENT_FAULTS`] faults, oldest first.
    faults: VecDeque<FaultRecord>,
    /// The last poll of SMEV.
    last_poll: Option<PollOutcome>,
    /// The kind of data of recently received messages, so that their responses and acknowledgements are counted by
    /// kind without reading the store.
    kinds: HashMap<String, String>,
    /// The order in which `kinds` were remembered, oldest first, to forget the oldest past [`MAX_REMEMBERED`].
    remembered: VecDeque<String>,
}

/// How many messages' kinds are remembered: far more than are ever in flight; an older message's late response or
/// acknowledgement (or one after a restart) is counted under `unknown`.
const MAX_REMEMBERED: usize = 20_000;

/// The metrics handle the gateway's tasks share; cheap to clone.
#[derive(Debug, Clone)]
pub struct Metrics {
    /// The registry.
    inner: Arc<Mutex<Inner>>,
    /// When the gateway started, for the uptime gauge.
    started: Instant,
    /// Whether the development profile is in use, for its gauge: dev material must be visible from outside.
    development: Arc<std::sync::atomic::AtomicBool>,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

impl Metrics {
    /// An empty registry.
    pub fn new() -> Metrics {
        Metrics { inner: Arc::default(), started: Instant::now(), development: Arc::default() }
    }

    /// Records that the development profile is in use (shown by the `edugate_development_profile` gauge).
    pub fn set_development(&self, development: bool) {
        self.development.store(development, std::sync::atomic::Ordering::Relaxed);
    }

    /// Takes the lock; every update leaves the registry consistent, so a poisoned lock is still usable.
    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Adds one to a counter.
    fn count(&self, family: &'static str, labels: Labels) {
        *self.lock().counters.entry((family, labels)).or_default() += 1;
    }

    /// Observes a duration in a histogram.
    fn observe(&self, family: &'static str, bounds: &'static [f64], labels: Labels, took: Duration) {
        let mut inner = self.lock();
        inner.histograms.entry((family, labels)).or_insert_with(|| Histogram::new(bounds)).observe(took.as_secs_f64());
    }

    /// A request of `kind` was taken from SMEV; `outcome` is `answered`, `redelivered`, `untrusted`, `unparseable`
    /// or `left`. `kind` must be the kind polled or that of a verified message, else [`UNVERIFIED`].
    pub fn received(&self, kind: &str, outcome: &str) {
        self.count(RECEIVED, vec![("kind", label(kind)), ("outcome", label(outcome))]);
    }

    /// Remembers the kind of data of message `message_id`, for counting its response and acknowledgement.
    pub fn remember_kind(&self, message_id: &str, kind: &str) {
        let mut inner = self.lock();
        if inner.kinds.insert(message_id.to_owned(), label(kind)).is_none() {
            inner.remembered.push_back(message_id.to_owned());
        }
        while inner.remembered.len() > MAX_REMEMBERED {
            if let Some(oldest) = inner.remembered.pop_front() {
                inner.kinds.remove(&oldest);
            }
        }
    }

    /// The kind of data of message `message_id`, if remembered.
    pub fn kind_of(&self, message_id: &str) -> Option<String> {
        self.lock().kinds.get(message_id).cloned()
    }

    /// A message of `kind` was sent to SMEV (or the attempt ended with `outcome`: `ok`, `retry`, `dead`).
    pub fn sent(&self, kind: &str, outcome: &str) {
        self.count(SENT, vec![("kind", label(kind)), ("outcome", label(outcome))]);
    }

    /// An acknowledgement of a message of `kind` was sent (or the attempt ended with `outcome`).
    pub fn acked(&self, kind: &str, outcome: &str) {
        self.count(ACKED, vec![("kind", label(kind)), ("outcome", label(outcome))]);
    }

    /// The outbox rescheduled a failed attempt of `queue`.
    pub fn retried(&self, queue: &str) {
        self.count(RETRIES, vec![("queue", label(queue))]);
    }

    /// The outbox dead-lettered an item of `queue`.
    pub fn dead_lettered(&self, queue: &str, cause: &str) {
        self.count(DEAD_LETTERS, vec![("queue", label(queue)), ("cause", label(cause))]);
    }

    /// A call of `operation` to SMEV ended after `took`; a failure is counted by type and kept for the summary.
    /// Every call carries one signature made by the client, which is counted too.
    pub fn smev_call(&self, operation: &str, took: Duration, result: Result<(), &ClientError>) {
        self.observe(SMEV_CALLS, CALL_BUCKETS, vec![("operation", label(operation))], took);
        let signed = !matches!(result, Err(ClientError::Smev(SmevError::Dsig(_))) | Err(ClientError::Config(_)));
        self.count(
            SIGNATURES,
            vec![("operation", "sign".into()), ("outcome", label(if signed { "ok" } else { "failed" }))],
        );
        if let Err(error) = result {
            let fault = fault_type(error);
            self.count(SMEV_FAULTS, vec![("type", label(&fault)), ("operation", label(operation))]);
            let record = FaultRecord {
                at: SystemTime::now(),
                fault,
                operation: operation.to_owned(),
                class: class_name(error.retry_class()),
            };
            let mut inner = self.lock();
            if inner.faults.len() == RECENT_FAULTS {
                inner.faults.pop_front();
            }
            inner.faults.push_back(record);
        }
    }

    /// A poll of SMEV (GetRequest, GetResponse) ended; readiness reports the last one.
    pub fn polled(&self, result: Result<(), &ClientError>) {
        let outcome = PollOutcome { at: SystemTime::now(), ok: result.is_ok(), fault: result.err().map(fault_type) };
        self.lock().last_poll = Some(outcome);
    }

    /// A signature was made (with the envelope it signs built around it) in `took`; counted by `smev_call`.
    pub fn signed(&self, took: Duration) {
        self.observe(SIGNATURE_DURATION, SIGNATURE_BUCKETS, vec![("operation", "sign".into())], took);
    }

    /// A signature check ended after `took`.
    pub fn verified(&self, ok: bool, took: Duration) {
        self.count(
            SIGNATURES,
            vec![("operation", "verify".into()), ("outcome", label(if ok { "ok" } else { "failed" }))],
        );
        self.observe(SIGNATURE_DURATION, SIGNATURE_BUCKETS, vec![("operation", "verify".into())], took);
    }

    /// A call of `operation` to the school system ended after `took` with `outcome` (`ok`, `unavailable`, `error`).
    pub fn school_call(&self, operation: &str, outcome: &str, took: Duration) {
        let labels = vec![("operation", label(operation)), ("outcome", label(outcome))];
        self.observe(SCHOOL_CALLS, CALL_BUCKETS, labels, took);
    }

    /// The last [`RECENT_FAULTS`] SMEV faults, newest first.
    pub fn recent_faults(&self) -> Vec<FaultRecord> {
        self.lock().faults.iter().rev().cloned().collect()
    }

    /// The outcome of the last poll of SMEV, if there was one.
    pub fn last_poll(&self) -> Option<PollOutcome> {
        self.lock().last_poll.clone()
    }

    /// Counter totals, for the operators' charts (successful sends and acks only).
    pub fn totals(&self) -> Totals {
        let inner = self.lock();
        let mut totals = Totals::default();
        for ((family, labels), value) in &inner.counters {
            let ok = labels.iter().any(|(name, value)| *name == "outcome" && value == "ok");
            match *family {
                RECEIVED => totals.received += value,
                SENT if ok => totals.sent += value,
                ACKED if ok => totals.acked += value,
                RETRIES => totals.retries += value,
                DEAD_LETTERS => totals.dead_lettered += value,
                SMEV_FAULTS => totals.faults += value,
                _ => {}
            }
        }
        totals
    }

    /// Wraps a school system so that every call to it is timed.
    pub fn instrument_school(&self, school: Arc<dyn SchoolSystem>) -> Arc<dyn SchoolSystem> {
        Arc::new(InstrumentedSchool { inner: school, metrics: self.clone() })
    }

    /// The whole registry in the Prometheus text format, with the gauges of `snapshot`.
    pub fn render(&self, snapshot: &Snapshot) -> String {
        let inner = self.lock();
        let mut out = String::with_capacity(8192);
        for family in FAMILIES {
            let _ = writeln!(out, "# HELP {} {}", family.name, family.help);
            let kind = match family.kind {
                Type::Counter => "counter",
                Type::Gauge => "gauge",
                Type::Histogram => "histogram",
            };
            let _ = writeln!(out, "# TYPE {} {kind}", family.name);
            match family.kind {
                Type::Counter => {
                    for ((_, labels), value) in inner.counters.iter().filter(|((name, _), _)| *name == family.name) {
                        sample(&mut out, family.name, labels, None, *value as f64);
                    }
                }
                Type::Histogram => {
                    let series = inner.histograms.iter().filter(|((name, _), _)| *name == family.name);
                    for ((_, labels), histogram) in series {
                        render_histogram(&mut out, family.name, labels, histogram);
                    }
                }
                Type::Gauge => self.render_gauge(&mut out, family.name, snapshot),
            }
        }
        out
    }

    /// The series of one gauge family.
    fn render_gauge(&self, out: &mut String, name: &'static str, snapshot: &Snapshot) {
        match name {
            OUTBOX_ITEMS => {
                for (queue, counts) in &snapshot.stats.queues {
                    let states = [
                        ("pending", counts.pending),
                        ("leased", counts.leased),
                        ("completed", counts.completed),
                        ("dead", counts.dead),
                    ];
                    for (state, count) in states {
                        let labels = vec![("queue", label(queue)), ("state", state.to_owned())];
                        sample(out, name, &labels, None, count as f64);
                    }
                }
            }
            OLDEST_PENDING => {
                for (queue, counts) in &snapshot.stats.queues {
                    let age = counts.oldest_pending_age.unwrap_or_default().as_secs_f64();
                    sample(out, name, &vec![("queue", label(queue))], None, age);
                }
            }
            BREAKER => {
                for (destination, state) in &snapshot.breakers {
                    for (candidate, text) in [
                        (BreakerState::Closed, "closed"),
                        (BreakerState::Open, "open"),
                        (BreakerState::HalfOpen, "half-open"),
                    ] {
                        let labels = vec![("destination", label(destination)), ("state", text.to_owned())];
                        sample(out, name, &labels, None, if *state == candidate { 1.0 } else { 0.0 });
                    }
                }
            }
            PAUSED => {
                for (kind, paused) in &snapshot.kinds {
                    sample(out, name, &vec![("kind", label(kind))], None, if *paused { 1.0 } else { 0.0 });
                }
            }
            UPTIME => sample(out, name, &Vec::new(), None, self.started.elapsed().as_secs_f64()),
            DEVELOPMENT => {
                let development = self.development.load(std::sync::atomic::Ordering::Relaxed);
                sample(out, name, &Vec::new(), None, if development { 1.0 } else { 0.0 });
            }
            _ => {}
        }
    }
}

/// Writes one histogram series: cumulative buckets, `+Inf`, sum and count.
fn render_histogram(out: &mut String, name: &str, labels: &Labels, histogram: &Histogram) {
    let bucket = format!("{name}_bucket");
    let mut cumulative = 0;
    for (bound, count) in histogram.bounds.iter().zip(&histogram.counts) {
        cumulative += count;
        sample(out, &bucket, labels, Some(&format_float(*bound)), cumulative as f64);
    }
    cumulative += histogram.overflow;
    sample(out, &bucket, labels, Some("+Inf"), cumulative as f64);
    sample(out, &format!("{name}_sum"), labels, None, histogram.sum);
    sample(out, &format!("{name}_count"), labels, None, cumulative as f64);
}

/// Writes one sample line, with an `le` label last when given.
fn sample(out: &mut String, name: &str, labels: &Labels, le: Option<&str>, value: f64) {
    out.push_str(name);
    if !labels.is_empty() || le.is_some() {
        out.push('{');
        let mut first = true;
        for (key, value) in labels.iter().map(|(k, v)| (*k, v.as_str())).chain(le.map(|le| ("le", le))) {
            if !first {
                out.push(',');
            }
            first = false;
            let _ = write!(out, "{key}=\"{}\"", escape(value));
        }
        out.push('}');
    }
    let _ = writeln!(out, " {}", format_float(value));
}

/// A float as the text format writes it.
fn format_float(value: f64) -> String {
    if value.is_infinite() {
        if value > 0.0 { "+Inf" } else { "-Inf" }.to_owned()
    } else if value.is_nan() {
        "NaN".to_owned()
    } else {
        format!("{value}")
    }
}

/// Escapes a label value: backslash, double quote and line feed.
fn escape(value: &str) -> String {
    value.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

/// A label value: bounded in length and free of the characters simple parsers split on.
fn label(value: &str) -> String {
    value.chars().take(64).map(|c| if c == ',' || c == '=' || c.is_control() { '_' } else { c }).collect()
}

/// The type of a failed SMEV call: the fault's element name, or the kind of failure when there is no fault.
pub fn fault_type(error: &ClientError) -> String {
    match error {
        ClientError::Fault(fault) => fault.kind.name().to_owned(),
        ClientError::Smev(SmevError::Fault(fault)) => fault.kind.name().to_owned(),
        ClientError::Transport(_) => "transport".to_owned(),
        ClientError::Timeout(_) => "timeout".to_owned(),
        ClientError::Http { status, .. } => format!("http-{status}"),
        ClientError::TooLarge { .. } => "too-large".to_owned(),
        ClientError::Config(_) => "config".to_owned(),
        ClientError::Smev(_) => "unreadable".to_owned(),
        ClientError::Unreadable(_) => "unreadable-delivery".to_owned(),
        ClientError::Cpu(_) => "cpu-pool".to_owned(),
    }
}

/// The name of a retry class in the summary.
fn class_name(class: RetryClass) -> &'static str {
    match class {
        RetryClass::AlreadyDone => "already-done",
        RetryClass::NewMessageId => "new-message-id",
        RetryClass::Retry => "retry",
        RetryClass::RetryWithLaterEol => "retry-later-eol",
        RetryClass::BackOffAndAlert => "back-off-and-alert",
        RetryClass::Final => "final",
    }
}

/// A school system whose calls are timed into [`SCHOOL_CALLS`]; everything else is the inner system's.
struct InstrumentedSchool {
    /// The system that answers.
    inner: Arc<dyn SchoolSystem>,
    /// Where the timings go.
    metrics: Metrics,
}

impl InstrumentedSchool {
    /// Times `call` as `operation`.
    async fn timed<T>(
        &self,
        operation: &'static str,
        call: BoxFuture<'_, Result<T, SchoolError>>,
    ) -> Result<T, SchoolError> {
        let started = Instant::now();
        let result = call.await;
        let outcome = match &result {
            Ok(_) => "ok",
            Err(e) if e.is_retryable() => "unavailable",
            Err(_) => "error",
        };
        self.metrics.school_call(operation, outcome, started.elapsed());
        result
    }
}

impl SchoolSystem for InstrumentedSchool {
    fn linked_children<'a>(&'a self, guardian: &'a Snils) -> BoxFuture<'a, Result<Vec<Pupil>, SchoolError>> {
        Box::pin(self.timed("linked_children", self.inner.linked_children(guardian)))
    }

    fn marks<'a>(
        &'a self,
        pupil: &'a PupilId,
        from: time::Date,
        to: time::Date,
    ) -> BoxFuture<'a, Result<Marks, SchoolError>> {
        Box::pin(self.timed("marks", self.inner.marks(pupil, from, to)))
    }

    fn submit_application<'a>(
        &'a self,
        application: &'a EnrollmentApplication,
    ) -> BoxFuture<'a, Result<SubmitOutcome, SchoolError>> {
        Box::pin(self.timed("submit_application", self.inner.submit_application(application)))
    }

    fn status_changes<'a>(&'a self, since: u64, limit: usize) -> BoxFuture<'a, Result<Vec<StatusChange>, SchoolError>> {
        Box::pin(self.timed("status_changes", self.inner.status_changes(since, limit)))
    }

    fn name(&self) -> &str {
        self.inner.name()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counters_histograms_and_gauges() {
        let metrics = Metrics::new();
        metrics.received("Echo", "answered");
        metrics.received("Echo", "answered");
        metrics.sent("Echo", "ok");
        metrics.verified(true, Duration::from_micros(700));
        metrics.school_call("marks", "ok", Duration::from_secs(20));
        let mut snapshot = Snapshot::default();
        snapshot.stats.queues.insert("ack".into(), crate::outbox::QueueStats { pending: 2, ..Default::default() });
        snapshot.breakers.push(("smev".into(), BreakerState::Open));
        let text = metrics.render(&snapshot);
        assert!(text.contains("edugate_messages_received_total{kind=\"Echo\",outcome=\"answered\"} 2\n"), "{text}");
        assert!(text.contains("edugate_signature_duration_seconds_bucket{operation=\"verify\",le=\"0.001\"} 1\n"));
        assert!(text.contains(
            "edugate_school_call_duration_seconds_bucket{operation=\"marks\",outcome=\"ok\",le=\"+Inf\"} 1\n"
        ));
        assert!(text.contains("edugate_outbox_items{queue=\"ack\",state=\"pending\"} 2\n"));
        assert!(text.contains("edugate_circuit_breaker_state{destination=\"smev\",state=\"open\"} 1\n"));
        assert_eq!(metrics.totals().received, 2);
        assert_eq!(metrics.totals().sent, 1);
        assert!(text.contains("edugate_development_profile 0\n"), "{text}");
        metrics.set_development(true);
        assert!(metrics.render(&snapshot).contains("edugate_development_profile 1\n"));
    }

    #[test]
    fn faults_are_kept_newest_first_and_bounded() {
        let metrics = Metrics::new();
        for i in 0..(RECENT_FAULTS + 5) {
            let error = ClientError::Http { status: 500 + (i % 3) as u16, snippet: String::new() };
            metrics.smev_call("SendResponse", Duration::ZERO, Err(&error));
        }
        let faults = metrics.recent_faults();
        assert_eq!(faults.len(), RECENT_FAULTS);
        assert_eq!(faults[0].fault, format!("http-{}", 500 + ((RECENT_FAULTS + 4) % 3)));
        assert_eq!(metrics.totals().faults, (RECENT_FAULTS + 5) as u64);
    }

    #[test]
    fn kinds_are_remembered_up_to_a_bound() {
        let metrics = Metrics::new();
        for i in 0..(MAX_REMEMBERED + 10) {
            metrics.remember_kind(&i.to_string(), "Echo");
        }
        metrics.remember_kind("5000", "FormData");
        assert_eq!(metrics.kind_of("0"), None, "the oldest are forgotten");
        assert_eq!(metrics.kind_of(&(MAX_REMEMBERED + 9).to_string()).as_deref(), Some("Echo"));
        assert_eq!(metrics.kind_of("5000").as_deref(), Some("FormData"));
        assert_eq!(metrics.lock().kinds.len(), MAX_REMEMBERED);
    }

    #[test]
    fn label_values_are_escaped_and_bounded() {
        assert_eq!(escape("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
        assert_eq!(label("a,b=c"), "a_b_c");
        assert_eq!(label(&"x".repeat(100)).len(), 64);
    }
}
