//! The gateway's metrics: counters and histograms updated where the work happens, gauges read from the outbox and
//! the breakers when `/metrics` is scraped, written in the OpenMetrics text format by the `prometheus-client` crate.
//!
//! Each family's labels are a type ([`labels`]): closed sets (outcomes, operations, states) are enums, open values
//! (kinds of data, queues, destinations) are bounded [`labels::Text`]. Labels never hold ids or personal data, so
//! that the number of series stays small and a scrape leaks nothing.
//!
//! Beside the registry: [`health`] keeps the last poll and the recent SMEV faults (readiness and the operators'
//! summary), and [`Metrics::instrument_school`] times the school system through [`crate::school::timed`].
#![forbid(unsafe_code)]

pub mod health;
pub mod labels;

use crate::outbox::{StateFilter, Stats};
use crate::school::timed::{Call, CallOutcome, TimedSchool};
use crate::school::SchoolSystem;
use crate::smev::client::ClientError;
use crate::smev::{Operation, SmevError};
use labels::{
    Attempt, AttemptLabels, BreakerLabels, Closed, DeadLetterLabels, FaultLabels, KindLabels, QueueLabels,
    QueueStateLabels, Received, ReceivedLabels, SchoolCallLabels, SignatureDurationLabels, SignatureLabels,
    SignatureOperation, SignatureOutcome, SmevCallLabels, Text,
};
use prometheus_client::encoding::{EncodeMetric, MetricEncoder};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::Registry;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

pub use health::{fault_type, FaultRecord, PollOutcome, RECENT_FAULTS};
pub use labels::BreakerState;

/// The content type of what [`Metrics::render`] writes: OpenMetrics text, which Prometheus scrapes natively.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Upper bounds (seconds) of the latency buckets of calls over the network.
const CALL_BUCKETS: &[f64] = &[0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];
/// Upper bounds (seconds) of the latency buckets of signature checks, which take a millisecond or so.
const SIGNATURE_BUCKETS: &[f64] = &[0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0];

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

/// A histogram family whose series all share one set of buckets.
type Histograms<L> = Family<L, Histogram, fn() -> Histogram>;
/// A gauge holding seconds.
type Seconds = Gauge<f64, AtomicU64>;

/// The histogram of a call over the network.
fn call_histogram() -> Histogram {
    Histogram::new(CALL_BUCKETS.iter().copied())
}

/// The histogram of a signature.
fn signature_histogram() -> Histogram {
    Histogram::new(SIGNATURE_BUCKETS.iter().copied())
}

/// The families updated where the work happens; cloning one shares its series.
#[derive(Debug, Clone)]
struct Families {
    /// [`RECEIVED`].
    received: Family<ReceivedLabels, Counter>,
    /// [`SENT`].
    sent: Family<AttemptLabels, Counter>,
    /// [`ACKED`].
    acked: Family<AttemptLabels, Counter>,
    /// [`RETRIES`].
    retries: Family<QueueLabels, Counter>,
    /// [`DEAD_LETTERS`].
    dead_letters: Family<DeadLetterLabels, Counter>,
    /// [`SMEV_FAULTS`].
    smev_faults: Family<FaultLabels, Counter>,
    /// [`SMEV_CALLS`].
    smev_calls: Histograms<SmevCallLabels>,
    /// [`SCHOOL_CALLS`].
    school_calls: Histograms<SchoolCallLabels>,
    /// [`SIGNATURES`].
    signatures: Family<SignatureLabels, Counter>,
    /// [`SIGNATURE_DURATION`].
    signature_duration: Histograms<SignatureDurationLabels>,
}

impl Default for Families {
    fn default() -> Families {
        Families {
            received: Family::default(),
            sent: Family::default(),
            acked: Family::default(),
            retries: Family::default(),
            dead_letters: Family::default(),
            smev_faults: Family::default(),
            smev_calls: Family::new_with_constructor(call_histogram as fn() -> Histogram),
            school_calls: Family::new_with_constructor(call_histogram as fn() -> Histogram),
            signatures: Family::default(),
            signature_duration: Family::new_with_constructor(signature_histogram as fn() -> Histogram),
        }
    }
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

/// The running totals behind [`Totals`]: the crate's families cannot be summed without encoding them, and the
/// operators' summary should not render the whole registry to draw six numbers.
#[derive(Debug, Default)]
struct Running {
    /// [`Totals::received`].
    received: AtomicU64,
    /// [`Totals::sent`].
    sent: AtomicU64,
    /// [`Totals::acked`].
    acked: AtomicU64,
    /// [`Totals::retries`].
    retries: AtomicU64,
    /// [`Totals::dead_lettered`].
    dead_lettered: AtomicU64,
    /// [`Totals::faults`].
    faults: AtomicU64,
}

/// What the scrape reads besides the counters: the state of things now.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    /// The outbox's counts.
    pub stats: Stats,
    /// Each breaker's destination and state (the gateway converts its breakers' states into [`BreakerState`]).
    pub breakers: Vec<(String, BreakerState)>,
    /// Each configured kind of data (root element) and whether it is paused.
    pub kinds: Vec<(String, bool)>,
}

/// The metrics handle the gateway's tasks share; cheap to clone.
#[derive(Debug, Clone)]
pub struct Metrics {
    /// The families updated at the call sites.
    families: Families,
    /// Totals for the operators' summary.
    running: Arc<Running>,
    /// The last poll and the recent faults.
    health: Arc<health::Health>,
    /// When the gateway started, for the uptime gauge.
    started: Instant,
    /// Whether the development profile is in use, for its gauge: dev material must be visible from outside.
    development: Arc<AtomicBool>,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

/// Adds one to a running total.
fn bump(total: &AtomicU64) {
    total.fetch_add(1, Ordering::Relaxed);
}

impl Metrics {
    /// An empty registry.
    pub fn new() -> Metrics {
        Metrics {
            families: Families::default(),
            running: Arc::default(),
            health: Arc::default(),
            started: Instant::now(),
            development: Arc::default(),
        }
    }

    /// Records that the development profile is in use (shown by the `edugate_development_profile` gauge).
    pub fn set_development(&self, development: bool) {
        self.development.store(development, Ordering::Relaxed);
    }

    /// A request of `kind` was taken from SMEV and dealt with as `outcome` ([`Received`], or its name).
    /// `kind` must be the kind polled or that of a verified message, else [`UNVERIFIED`].
    pub fn received(&self, kind: &str, outcome: impl Into<Closed<Received>>) {
        let labels = ReceivedLabels { kind: Text::new(kind), outcome: outcome.into() };
        self.families.received.get_or_create(&labels).inc();
        bump(&self.running.received);
    }

    /// A message of `kind` was sent to SMEV (or the attempt ended with `outcome`: [`Attempt`], or its name).
    pub fn sent(&self, kind: &str, outcome: impl Into<Closed<Attempt>>) {
        let outcome = outcome.into();
        self.families.sent.get_or_create(&AttemptLabels { kind: Text::new(kind), outcome }).inc();
        if outcome == Closed(Some(Attempt::Ok)) {
            bump(&self.running.sent);
        }
    }

    /// An acknowledgement of a message of `kind` was sent (or the attempt ended with `outcome`).
    pub fn acked(&self, kind: &str, outcome: impl Into<Closed<Attempt>>) {
        let outcome = outcome.into();
        self.families.acked.get_or_create(&AttemptLabels { kind: Text::new(kind), outcome }).inc();
        if outcome == Closed(Some(Attempt::Ok)) {
            bump(&self.running.acked);
        }
    }

    /// The outbox rescheduled a failed attempt of `queue`.
    pub fn retried(&self, queue: &str) {
        self.families.retries.get_or_create(&QueueLabels { queue: Text::new(queue) }).inc();
        bump(&self.running.retries);
    }

    /// The outbox dead-lettered an item of `queue` for `cause` ([`crate::outbox::DeadCause`], or its name).
    pub fn dead_lettered(&self, queue: &str, cause: impl Into<Closed<crate::outbox::DeadCause>>) {
        let labels = DeadLetterLabels { queue: Text::new(queue), cause: cause.into() };
        self.families.dead_letters.get_or_create(&labels).inc();
        bump(&self.running.dead_lettered);
    }

    /// A call of `operation` ([`Operation`], or its name) to SMEV ended after `took`; a failure is counted by type
    /// and kept for the summary. Every call carries one signature made by the client, which is counted too.
    pub fn smev_call(&self, operation: impl Into<Closed<Operation>>, took: Duration, result: Result<(), &ClientError>) {
        let operation = operation.into();
        self.families.smev_calls.get_or_create(&SmevCallLabels { operation }).observe(took.as_secs_f64());
        let signed = !matches!(result, Err(ClientError::Smev(SmevError::Dsig(_))) | Err(ClientError::Config(_)));
        self.signature(SignatureOperation::Sign, signed);
        if let Err(error) = result {
            let labels = FaultLabels { r#type: Text::new(&fault_type(error)), operation };
            self.families.smev_faults.get_or_create(&labels).inc();
            bump(&self.running.faults);
            self.health.fault(operation.0.map_or("other", Operation::name), error);
        }
    }

    /// Counts a signature made or checked.
    fn signature(&self, operation: SignatureOperation, ok: bool) {
        let outcome = if ok { SignatureOutcome::Ok } else { SignatureOutcome::Failed };
        self.families.signatures.get_or_create(&SignatureLabels { operation, outcome }).inc();
    }

    /// A poll of SMEV (GetRequest, GetResponse) ended; readiness reports the last one.
    pub fn polled(&self, result: Result<(), &ClientError>) {
        self.health.polled(result);
    }

    /// A signature was made (with the envelope it signs built around it) in `took`; counted by `smev_call`.
    pub fn signed(&self, took: Duration) {
        let labels = SignatureDurationLabels { operation: SignatureOperation::Sign };
        self.families.signature_duration.get_or_create(&labels).observe(took.as_secs_f64());
    }

    /// A signature check ended after `took`.
    pub fn verified(&self, ok: bool, took: Duration) {
        self.signature(SignatureOperation::Verify, ok);
        let labels = SignatureDurationLabels { operation: SignatureOperation::Verify };
        self.families.signature_duration.get_or_create(&labels).observe(took.as_secs_f64());
    }

    /// A call of `operation` to the school system ended after `took` with `outcome` (`ok`, `unavailable`, `error`).
    pub fn school_call(
        &self,
        operation: impl Into<Closed<Call>>,
        outcome: impl Into<Closed<CallOutcome>>,
        took: Duration,
    ) {
        let labels = SchoolCallLabels { operation: operation.into(), outcome: outcome.into() };
        self.families.school_calls.get_or_create(&labels).observe(took.as_secs_f64());
    }

    /// The last [`RECENT_FAULTS`] SMEV faults, newest first.
    pub fn recent_faults(&self) -> Vec<FaultRecord> {
        self.health.recent_faults()
    }

    /// The outcome of the last poll of SMEV, if there was one.
    pub fn last_poll(&self) -> Option<PollOutcome> {
        self.health.last_poll()
    }

    /// Counter totals, for the operators' charts (successful sends and acks only).
    pub fn totals(&self) -> Totals {
        let read = |total: &AtomicU64| total.load(Ordering::Relaxed);
        let running = &self.running;
        Totals {
            received: read(&running.received),
            sent: read(&running.sent),
            acked: read(&running.acked),
            retries: read(&running.retries),
            dead_lettered: read(&running.dead_lettered),
            faults: read(&running.faults),
        }
    }

    /// Wraps a school system so that every call to it is timed into [`SCHOOL_CALLS`].
    pub fn instrument_school(&self, school: Arc<dyn SchoolSystem>) -> Arc<dyn SchoolSystem> {
        let metrics = self.clone();
        let observer =
            Arc::new(move |call: Call, outcome: CallOutcome, took: Duration| metrics.school_call(call, outcome, took));
        Arc::new(TimedSchool::new(school, observer))
    }

    /// The whole registry in the OpenMetrics text format ([`CONTENT_TYPE`]), with the gauges of `snapshot`.
    pub fn render(&self, snapshot: &Snapshot) -> String {
        let mut out = String::with_capacity(16 * 1024);
        // Writing into a String cannot fail, and every family encodes.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry(snapshot));
        out
    }

    /// A registry of this scrape: the shared families, and gauges that hold what `snapshot` says is true now (so
    /// that a queue, breaker or kind that went away leaves no stale series). Families are in the catalogue's order.
    fn registry(&self, snapshot: &Snapshot) -> Registry {
        let f = self.families.clone();
        let mut r = Registry::default();
        r.register(family(RECEIVED), "Requests taken from SMEV, by kind of data and outcome", Declared(f.received));
        r.register(family(SENT), "Messages sent to SMEV, by kind of data and outcome", Declared(f.sent));
        r.register(family(ACKED), "Acknowledgements sent to SMEV, by kind of data and outcome", Declared(f.acked));
        r.register(family(RETRIES), "Failed attempts rescheduled by the outbox, by queue", Declared(f.retries));
        r.register(family(DEAD_LETTERS), "Items dead-lettered, by queue and cause", Declared(f.dead_letters));
        r.register(OUTBOX_ITEMS, "Items in the outbox, by queue and state", Declared(outbox_items(&snapshot.stats)));
        r.register(
            OLDEST_PENDING,
            "Age of the oldest pending or leased item, by queue (0 when none waits)",
            Declared(oldest_pending(&snapshot.stats)),
        );
        r.register(
            family(SMEV_FAULTS),
            "SMEV faults and failed SMEV calls, by type and operation",
            Declared(f.smev_faults),
        );
        r.register(SMEV_CALLS, "Latency of SMEV calls (signature included), by operation", Declared(f.smev_calls));
        r.register(SCHOOL_CALLS, "Latency of school-system calls, by operation and outcome", Declared(f.school_calls));
        r.register(
            family(SIGNATURES),
            "Signatures made (sign) and checked (verify), by outcome",
            Declared(f.signatures),
        );
        r.register(
            SIGNATURE_DURATION,
            "Latency of signatures made (sign, with the envelope built) and checked (verify)",
            Declared(f.signature_duration),
        );
        r.register(
            BREAKER,
            "Circuit breaker state per destination: 1 for the current state",
            Declared(breakers(snapshot)),
        );
        r.register(PAUSED, "1 for a kind of data whose polling an operator paused", Declared(paused(snapshot)));
        let uptime = Seconds::default();
        uptime.set(self.started.elapsed().as_secs_f64());
        r.register(UPTIME, "Seconds since the gateway started", Declared(uptime));
        let development = Gauge::<i64>::default();
        development.set(i64::from(self.development.load(Ordering::Relaxed)));
        r.register(
            DEVELOPMENT,
            "1 when the development profile (public test keys and trust anchors) is in use",
            Declared(development),
        );
        r
    }
}

/// A family written even before its first series, with its HELP and TYPE lines: the crate leaves empty families
/// out, and the catalogue (and the metrics test) expects every family from the first scrape on.
#[derive(Debug)]
struct Declared<M>(
    /// The family.
    M,
);

impl<M: EncodeMetric> EncodeMetric for Declared<M> {
    fn encode(&self, encoder: MetricEncoder) -> Result<(), std::fmt::Error> {
        self.0.encode(encoder)
    }

    fn metric_type(&self) -> MetricType {
        self.0.metric_type()
    }
}

/// The name a counter family is registered under: the crate adds `_total` to its samples (and writes its HELP and
/// TYPE lines without it, as OpenMetrics wants).
fn family(counter: &'static str) -> &'static str {
    counter.strip_suffix("_total").unwrap_or(counter)
}

/// [`OUTBOX_ITEMS`] now.
fn outbox_items(stats: &Stats) -> Family<QueueStateLabels, Gauge> {
    let gauges = Family::<QueueStateLabels, Gauge>::default();
    for (queue, counts) in &stats.queues {
        let states = [
            (StateFilter::Pending, counts.pending),
            (StateFilter::Leased, counts.leased),
            (StateFilter::Completed, counts.completed),
            (StateFilter::Dead, counts.dead),
        ];
        for (state, count) in states {
            let labels = QueueStateLabels { queue: Text::new(queue), state: state.into() };
            gauges.get_or_create(&labels).set(i64::try_from(count).unwrap_or(i64::MAX));
        }
    }
    gauges
}

/// [`OLDEST_PENDING`] now.
fn oldest_pending(stats: &Stats) -> Family<QueueLabels, Seconds> {
    let gauges = Family::<QueueLabels, Seconds>::default();
    for (queue, counts) in &stats.queues {
        let age = counts.oldest_pending_age.unwrap_or_default().as_secs_f64();
        gauges.get_or_create(&QueueLabels { queue: Text::new(queue) }).set(age);
    }
    gauges
}

/// [`BREAKER`] now: every state of every breaker, 1 for its current one.
fn breakers(snapshot: &Snapshot) -> Family<BreakerLabels, Gauge> {
    let gauges = Family::<BreakerLabels, Gauge>::default();
    for (destination, current) in &snapshot.breakers {
        for state in BreakerState::ALL {
            let labels = BreakerLabels { destination: Text::new(destination), state: *state };
            gauges.get_or_create(&labels).set(i64::from(state == current));
        }
    }
    gauges
}

/// [`PAUSED`] now.
fn paused(snapshot: &Snapshot) -> Family<KindLabels, Gauge> {
    let gauges = Family::<KindLabels, Gauge>::default();
    for (kind, paused) in &snapshot.kinds {
        gauges.get_or_create(&KindLabels { kind: Text::new(kind) }).set(i64::from(*paused));
    }
    gauges
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counters_histograms_and_gauges() {
        let metrics = Metrics::new();
        metrics.received("Echo", "answered");
        metrics.received("Echo", Received::Answered);
        metrics.sent("Echo", "ok");
        metrics.verified(true, Duration::from_micros(700));
        metrics.school_call("marks", "ok", Duration::from_secs(20));
        let mut snapshot = Snapshot::default();
        snapshot.stats.queues.insert("ack".into(), crate::outbox::QueueStats { pending: 2, ..Default::default() });
        snapshot.breakers.push(("smev".into(), BreakerState::Open));
        let text = metrics.render(&snapshot);
        assert!(text.contains("edugate_messages_received_total{kind=\"Echo\",outcome=\"answered\"} 2\n"), "{text}");
        assert!(text.contains("edugate_signature_duration_seconds_bucket{le=\"0.001\",operation=\"verify\"} 1\n"));
        assert!(text.contains(
            "edugate_school_call_duration_seconds_bucket{le=\"+Inf\",operation=\"marks\",outcome=\"ok\"} 1\n"
        ));
        assert!(text.contains("edugate_outbox_items{queue=\"ack\",state=\"pending\"} 2\n"));
        assert!(text.contains("edugate_circuit_breaker_state{destination=\"smev\",state=\"open\"} 1\n"));
        assert!(text.contains("edugate_circuit_breaker_state{destination=\"smev\",state=\"half-open\"} 0\n"));
        assert_eq!(metrics.totals().received, 2);
        assert_eq!(metrics.totals().sent, 1);
        assert!(text.contains("edugate_development_profile 0\n"), "{text}");
        assert!(text.ends_with("# EOF\n"), "{text}");
        metrics.set_development(true);
        assert!(metrics.render(&snapshot).contains("edugate_development_profile 1\n"));
    }

    #[test]
    fn every_family_keeps_its_name_help_and_type() {
        let text = Metrics::new().render(&Snapshot::default());
        let described = [
            (RECEIVED, "counter"),
            (SENT, "counter"),
            (ACKED, "counter"),
            (RETRIES, "counter"),
            (DEAD_LETTERS, "counter"),
            (OUTBOX_ITEMS, "gauge"),
            (OLDEST_PENDING, "gauge"),
            (SMEV_FAULTS, "counter"),
            (SMEV_CALLS, "histogram"),
            (SCHOOL_CALLS, "histogram"),
            (SIGNATURES, "counter"),
            (SIGNATURE_DURATION, "histogram"),
            (BREAKER, "gauge"),
            (PAUSED, "gauge"),
            (UPTIME, "gauge"),
            (DEVELOPMENT, "gauge"),
        ];
        for (name, kind) in described {
            let name = family(name);
            assert!(text.contains(&format!("# TYPE {name} {kind}\n")), "{name}: {text}");
            assert!(text.contains(&format!("# HELP {name} ")), "{name}: {text}");
        }
        assert!(
            text.contains("# HELP edugate_messages_received Requests taken from SMEV, by kind of data and outcome.\n")
        );
        assert!(!text.contains("# UNIT"), "{text}");
    }

    #[test]
    fn buckets_keep_their_bounds() {
        let metrics = Metrics::new();
        metrics.smev_call("GetRequest", Duration::from_millis(3), Ok(()));
        metrics.verified(false, Duration::from_micros(300));
        let text = metrics.render(&Snapshot::default());
        let bounds = |family: &str, operation: &str| -> Vec<f64> {
            text.lines()
                .filter(|line| line.starts_with(&format!("{family}_bucket{{")) && line.contains(operation))
                .filter_map(|line| line.split("le=\"").nth(1)?.split('"').next().map(str::to_owned))
                .filter(|le| le != "+Inf")
                .map(|le| le.parse().unwrap())
                .collect()
        };
        assert_eq!(bounds(SMEV_CALLS, "GetRequest"), CALL_BUCKETS);
        assert_eq!(bounds(SIGNATURE_DURATION, "verify"), SIGNATURE_BUCKETS);
        assert!(text.contains("edugate_signatures_total{operation=\"verify\",outcome=\"failed\"} 1\n"));
        assert!(text.contains("edugate_signatures_total{operation=\"sign\",outcome=\"ok\"} 1\n"));
    }

    #[test]
    fn faults_are_counted_and_kept() {
        let metrics = Metrics::new();
        for i in 0..(RECENT_FAULTS + 5) {
            let error = ClientError::Http { status: 500 + (i % 3) as u16, snippet: String::new() };
            metrics.smev_call("SendResponse", Duration::ZERO, Err(&error));
        }
        let faults = metrics.recent_faults();
        assert_eq!(faults.len(), RECENT_FAULTS);
        assert_eq!(faults[0].fault, format!("http-{}", 500 + ((RECENT_FAULTS + 4) % 3)));
        assert_eq!(faults[0].operation, "SendResponse");
        assert_eq!(metrics.totals().faults, (RECENT_FAULTS + 5) as u64);
        let text = metrics.render(&Snapshot::default());
        assert!(
            text.contains("edugate_smev_faults_total{type=\"http-500\",operation=\"SendResponse\"} 19\n"),
            "{text}"
        );
    }

    #[test]
    fn label_values_are_escaped_and_bounded() {
        let metrics = Metrics::new();
        metrics.received("a\"b\\c\nd,e", "left");
        metrics.received(&"x".repeat(100), "invented");
        let text = metrics.render(&Snapshot::default());
        assert!(text.contains("{kind=\"a\\\"b\\\\c_d_e\",outcome=\"left\"} 1\n"), "{text}");
        assert!(text.contains(&format!("{{kind=\"{}\",outcome=\"other\"}} 1\n", "x".repeat(64))), "{text}");
    }
}
