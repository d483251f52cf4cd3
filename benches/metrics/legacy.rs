//! The registry edugate used before prometheus-client, kept here only so that the benchmark measures both in one
//! run: a mutex over `BTreeMap`s keyed by family and label vector, and a hand-written text renderer. Trimmed to
//! what the benchmark exercises (counters, histograms, the scrape-time gauges).
use edugate::metrics::{BreakerState, Snapshot};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// Upper bounds (seconds) of the latency buckets of calls over the network.
pub const CALL_BUCKETS: &[f64] = &[0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];

/// What a family is, for its `# TYPE` line.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Type {
    /// Only grows.
    Counter,
    /// Read at scrape time.
    Gauge,
    /// Buckets.
    Histogram,
}

/// The families, in output order (names and help as before).
const FAMILIES: &[(&str, &str, Type)] = &[
    ("edugate_messages_received_total", "Requests taken from SMEV, by kind of data and outcome.", Type::Counter),
    ("edugate_messages_sent_total", "Messages sent to SMEV, by kind of data and outcome.", Type::Counter),
    (
        "edugate_messages_acknowledged_total",
        "Acknowledgements sent to SMEV, by kind of data and outcome.",
        Type::Counter,
    ),
    ("edugate_outbox_retries_total", "Failed attempts rescheduled by the outbox, by queue.", Type::Counter),
    ("edugate_outbox_dead_letters_total", "Items dead-lettered, by queue and cause.", Type::Counter),
    ("edugate_outbox_items", "Items in the outbox, by queue and state.", Type::Gauge),
    ("edugate_outbox_oldest_pending_age_seconds", "Age of the oldest pending or leased item.", Type::Gauge),
    ("edugate_smev_faults_total", "SMEV faults and failed SMEV calls, by type and operation.", Type::Counter),
    ("edugate_smev_call_duration_seconds", "Latency of SMEV calls (signature included).", Type::Histogram),
    ("edugate_school_call_duration_seconds", "Latency of school-system calls.", Type::Histogram),
    ("edugate_signatures_total", "Signatures made (sign) and checked (verify), by outcome.", Type::Counter),
    ("edugate_signature_duration_seconds", "Latency of signatures made and checked.", Type::Histogram),
    ("edugate_circuit_breaker_state", "Circuit breaker state per destination.", Type::Gauge),
    ("edugate_kind_paused", "1 for a kind of data whose polling an operator paused.", Type::Gauge),
    ("edugate_uptime_seconds", "Seconds since the gateway started.", Type::Gauge),
];

/// A series' labels.
type Labels = Vec<(&'static str, String)>;

/// One histogram series.
#[derive(Clone)]
struct Histogram {
    /// Bounds.
    bounds: &'static [f64],
    /// Per-bucket counts.
    counts: Vec<u64>,
    /// Above the last bound.
    overflow: u64,
    /// Sum.
    sum: f64,
}

/// Everything under one lock.
#[derive(Default)]
struct Inner {
    /// Counters.
    counters: BTreeMap<(&'static str, Labels), u64>,
    /// Histograms.
    histograms: BTreeMap<(&'static str, Labels), Histogram>,
}

/// The old handle.
#[derive(Clone)]
pub struct Metrics {
    /// The registry.
    inner: Arc<Mutex<Inner>>,
    /// For uptime.
    started: Instant,
}

impl Metrics {
    /// Empty.
    pub fn new() -> Metrics {
        Metrics { inner: Arc::default(), started: Instant::now() }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The old `count`.
    pub fn count(&self, family: &'static str, labels: Labels) {
        *self.lock().counters.entry((family, labels)).or_default() += 1;
    }

    /// The old `received`.
    pub fn received(&self, kind: &str, outcome: &str) {
        self.count("edugate_messages_received_total", vec![("kind", label(kind)), ("outcome", label(outcome))]);
    }

    /// The old `observe`.
    pub fn observe(&self, family: &'static str, labels: Labels, took: Duration) {
        let mut inner = self.lock();
        let h = inner.histograms.entry((family, labels)).or_insert_with(|| Histogram {
            bounds: CALL_BUCKETS,
            counts: vec![0; CALL_BUCKETS.len()],
            overflow: 0,
            sum: 0.0,
        });
        let seconds = took.as_secs_f64();
        h.sum += seconds;
        match h.bounds.iter().position(|b| seconds <= *b) {
            Some(i) => h.counts[i] += 1,
            None => h.overflow += 1,
        }
    }

    /// The old `render`.
    pub fn render(&self, snapshot: &Snapshot) -> String {
        let inner = self.lock();
        let mut out = String::with_capacity(8192);
        for (name, help, kind) in FAMILIES {
            let _ = writeln!(out, "# HELP {name} {help}");
            let text = match kind {
                Type::Counter => "counter",
                Type::Gauge => "gauge",
                Type::Histogram => "histogram",
            };
            let _ = writeln!(out, "# TYPE {name} {text}");
            match kind {
                Type::Counter => {
                    for ((_, labels), value) in inner.counters.iter().filter(|((n, _), _)| n == name) {
                        sample(&mut out, name, labels, None, *value as f64);
                    }
                }
                Type::Histogram => {
                    for ((_, labels), h) in inner.histograms.iter().filter(|((n, _), _)| n == name) {
                        let bucket = format!("{name}_bucket");
                        let mut cumulative = 0;
                        for (bound, count) in h.bounds.iter().zip(&h.counts) {
                            cumulative += count;
                            sample(&mut out, &bucket, labels, Some(&format_float(*bound)), cumulative as f64);
                        }
                        cumulative += h.overflow;
                        sample(&mut out, &bucket, labels, Some("+Inf"), cumulative as f64);
                        sample(&mut out, &format!("{name}_sum"), labels, None, h.sum);
                        sample(&mut out, &format!("{name}_count"), labels, None, cumulative as f64);
                    }
                }
                Type::Gauge => self.gauge(&mut out, name, snapshot),
            }
        }
        out
    }

    /// The old `render_gauge`.
    fn gauge(&self, out: &mut String, name: &str, snapshot: &Snapshot) {
        match name {
            "edugate_outbox_items" => {
                for (queue, c) in &snapshot.stats.queues {
                    for (state, n) in
                        [("pending", c.pending), ("leased", c.leased), ("completed", c.completed), ("dead", c.dead)]
                    {
                        sample(out, name, &vec![("queue", label(queue)), ("state", state.to_owned())], None, n as f64);
                    }
                }
            }
            "edugate_outbox_oldest_pending_age_seconds" => {
                for (queue, c) in &snapshot.stats.queues {
                    let age = c.oldest_pending_age.unwrap_or_default().as_secs_f64();
                    sample(out, name, &vec![("queue", label(queue))], None, age);
                }
            }
            "edugate_circuit_breaker_state" => {
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
            "edugate_kind_paused" => {
                for (kind, paused) in &snapshot.kinds {
                    sample(out, name, &vec![("kind", label(kind))], None, if *paused { 1.0 } else { 0.0 });
                }
            }
            "edugate_uptime_seconds" => sample(out, name, &Vec::new(), None, self.started.elapsed().as_secs_f64()),
            _ => {}
        }
    }
}

/// One sample line.
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

/// A float as the old renderer wrote it.
fn format_float(value: f64) -> String {
    if value.is_infinite() {
        if value > 0.0 { "+Inf" } else { "-Inf" }.to_owned()
    } else {
        format!("{value}")
    }
}

/// The old escaping.
fn escape(value: &str) -> String {
    value.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

/// The old sanitizer.
fn label(value: &str) -> String {
    value.chars().take(64).map(|c| if c == ',' || c == '=' || c.is_control() { '_' } else { c }).collect()
}
