//! The metrics registry on the hot path and at scrape time: prometheus-client (what edugate uses) against the
//! hand-written registry it replaced (`legacy.rs`), measured in one run.
//!
//! - `received/uncontended`: one `received()` increment of an existing series, from one thread;
//! - `received/2-threads`: the same increment from two threads at once on the same series (the time for each
//!   thread to make one increment while the other does too);
//! - `render`: one scrape of a registry holding a realistic set of series (8 kinds of data, 4 queues, 2 breakers,
//!   21 histogram series; about 150 series, 500 lines), gauges included.
//!
//! docs/benchmarks.md records the figures.
mod legacy;

use criterion::{black_box, Criterion};
use edugate::metrics::labels::Received;
use edugate::metrics::{BreakerState, Metrics, Snapshot};
use edugate::outbox::QueueStats;
use edugate::smev::client::ClientError;
use std::sync::Barrier;
use std::time::{Duration, Instant};

/// The kinds of data of a region serving several services.
const KINDS: &[&str] = &[
    "Echo",
    "ProgressRequest",
    "FormData",
    "StatusRequest",
    "AttendanceRequest",
    "ScheduleRequest",
    "GradesRequest",
    "response",
];
/// How a request can end.
const RECEIVED: &[&str] = &["answered", "deferred", "redelivered", "untrusted", "left"];
/// The outbox queues.
const QUEUES: &[&str] = &["send-to-smev", "ack", "call-school", "unreadable"];
/// SMEV operations.
const OPERATIONS: &[&str] = &["GetRequest", "GetResponse", "SendResponse", "SendRequest", "Ack"];
/// School-system calls.
const SCHOOL: &[&str] = &["linked_children", "marks", "submit_application", "status_changes"];
/// School-call outcomes.
const SCHOOL_OUTCOMES: &[&str] = &["ok", "unavailable", "error"];

/// Fills the new registry with the series of a gateway that has run a while.
fn fill_new(m: &Metrics) {
    let took = Duration::from_millis(12);
    for kind in KINDS {
        for outcome in RECEIVED {
            m.received(kind, *outcome);
        }
        for outcome in ["ok", "retry"] {
            m.sent(kind, outcome);
            m.acked(kind, outcome);
        }
    }
    for queue in &QUEUES[..3] {
        m.retried(queue);
        for cause in ["final", "attempts-exhausted", "too-old"] {
            m.dead_lettered(queue, cause);
        }
    }
    for operation in OPERATIONS {
        m.smev_call(*operation, took, Ok(()));
    }
    for status in [500, 502, 503] {
        for operation in &OPERATIONS[2..] {
            m.smev_call(*operation, took, Err(&ClientError::Http { status, snippet: String::new() }));
        }
    }
    for call in SCHOOL {
        for outcome in SCHOOL_OUTCOMES {
            m.school_call(*call, *outcome, took);
        }
    }
    m.verified(true, took);
    m.verified(false, took);
    m.signed(took);
}

/// Fills the old registry with the same series.
fn fill_old(m: &legacy::Metrics) {
    let took = Duration::from_millis(12);
    let l = |pairs: &[(&'static str, &str)]| pairs.iter().map(|(k, v)| (*k, v.to_string())).collect::<Vec<_>>();
    for kind in KINDS {
        for outcome in RECEIVED {
            m.received(kind, outcome);
        }
        for outcome in ["ok", "retry"] {
            m.count("edugate_messages_sent_total", l(&[("kind", kind), ("outcome", outcome)]));
            m.count("edugate_messages_acknowledged_total", l(&[("kind", kind), ("outcome", outcome)]));
        }
    }
    for queue in &QUEUES[..3] {
        m.count("edugate_outbox_retries_total", l(&[("queue", queue)]));
        for cause in ["final", "attempts-exhausted", "too-old"] {
            m.count("edugate_outbox_dead_letters_total", l(&[("queue", queue), ("cause", cause)]));
        }
    }
    for operation in OPERATIONS {
        m.observe("edugate_smev_call_duration_seconds", l(&[("operation", operation)]), took);
        m.count("edugate_signatures_total", l(&[("operation", "sign"), ("outcome", "ok")]));
    }
    for status in ["http-500", "http-502", "http-503"] {
        for operation in &OPERATIONS[2..] {
            m.observe("edugate_smev_call_duration_seconds", l(&[("operation", operation)]), took);
            m.count("edugate_smev_faults_total", l(&[("type", status), ("operation", operation)]));
        }
    }
    for call in SCHOOL {
        for outcome in SCHOOL_OUTCOMES {
            m.observe("edugate_school_call_duration_seconds", l(&[("operation", call), ("outcome", outcome)]), took);
        }
    }
    for outcome in ["ok", "failed"] {
        m.count("edugate_signatures_total", l(&[("operation", "verify"), ("outcome", outcome)]));
    }
    for operation in ["verify", "sign"] {
        m.observe("edugate_signature_duration_seconds", l(&[("operation", operation)]), took);
    }
}

/// The scrape-time state both render.
fn snapshot() -> Snapshot {
    let mut snapshot = Snapshot::default();
    for (i, queue) in QUEUES.iter().enumerate() {
        let stats = QueueStats {
            pending: i as u64,
            leased: 1,
            completed: 1000 + i as u64,
            dead: 2,
            oldest_pending_age: Some(Duration::from_millis(1500)),
        };
        snapshot.stats.queues.insert(queue.to_string(), stats);
    }
    snapshot.breakers = vec![("smev".into(), BreakerState::Closed), ("embedded".into(), BreakerState::Closed)];
    snapshot.kinds = KINDS[..7].iter().map(|kind| (kind.to_string(), false)).collect();
    snapshot
}

/// Runs `op` `iters` times on each of two threads started together; the time until both are done.
fn two_threads(iters: u64, op: impl Fn() + Sync) -> Duration {
    let barrier = Barrier::new(3);
    std::thread::scope(|scope| {
        for _ in 0..2 {
            scope.spawn(|| {
                barrier.wait();
                for _ in 0..iters {
                    op();
                }
            });
        }
        barrier.wait();
        let started = Instant::now();
        // The scope joins both threads before it returns.
        started
    })
    .elapsed()
}

fn hot_path(c: &mut Criterion) {
    let new = Metrics::new();
    fill_new(&new);
    let old = legacy::Metrics::new();
    fill_old(&old);
    let mut group = c.benchmark_group("received/uncontended");
    group.bench_function("legacy", |b| b.iter(|| old.received(black_box("ProgressRequest"), black_box("answered"))));
    group.bench_function("prometheus-client", |b| {
        b.iter(|| new.received(black_box("ProgressRequest"), black_box("answered")))
    });
    group.bench_function("prometheus-client-typed", |b| {
        b.iter(|| new.received(black_box("ProgressRequest"), black_box(Received::Answered)))
    });
    group.finish();
    let mut group = c.benchmark_group("received/2-threads");
    group.bench_function("legacy", |b| {
        b.iter_custom(|iters| two_threads(iters, || old.received(black_box("ProgressRequest"), "answered")))
    });
    group.bench_function("prometheus-client", |b| {
        b.iter_custom(|iters| two_threads(iters, || new.received(black_box("ProgressRequest"), "answered")))
    });
    group.finish();
}

fn render(c: &mut Criterion) {
    let new = Metrics::new();
    fill_new(&new);
    let old = legacy::Metrics::new();
    fill_old(&old);
    let snapshot = snapshot();
    let (new_text, old_text) = (new.render(&snapshot), old.render(&snapshot));
    let samples = |text: &str| text.lines().filter(|line| !line.starts_with('#')).count();
    println!(
        "render: legacy {} bytes, {} samples; prometheus-client {} bytes, {} samples",
        old_text.len(),
        samples(&old_text),
        new_text.len(),
        samples(&new_text)
    );
    let mut group = c.benchmark_group("render");
    group.bench_function("legacy", |b| b.iter(|| old.render(black_box(&snapshot))));
    group.bench_function("prometheus-client", |b| b.iter(|| new.render(black_box(&snapshot))));
    group.finish();
}

fn main() {
    let mut criterion = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .sample_size(30)
        .configure_from_args();
    hot_path(&mut criterion);
    render(&mut criterion);
    criterion.final_summary();
}
