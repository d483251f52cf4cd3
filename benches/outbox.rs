//! Durable throughput of the outbox against raw sled, each ratio measured in one run.
//!
//! For K concurrent producers (1, 8, 64), three ways to make N items of 512 bytes durable, each in a fresh store:
//! - `outbox`: K tokio tasks enqueue (each enqueue returns once on disk) while workers lease batches and complete
//!   each item (each completion returns once on disk); timed until the last item is completed;
//! - `sled_flush_each`: K threads each insert an item into raw sled and make it durable, item after item (the
//!   per-item floor: what durability costs without group commit);
//! - `sled_flush_batch`: one thread inserts K items and makes them durable once, over and over (the batched floor:
//!   one sync per K items with no coordination at all, the best any group commit at concurrency K can do).
//!
//! "Durable" is the same everywhere: sled's `flush` and then an fsync of sled's log file, as the outbox's group
//! commit does (sled's flush alone uses `sync_file_range`, which does not survive a power loss).
//!
//! After criterion's own report, a table of throughputs and ratios is printed; docs/benchmarks.md records it. The
//! table comes from a second, interleaved measurement in this process: each round runs the outbox and both floors
//! back to back, and the table shows medians over rounds (`OUTBOX_BENCH_ROUNDS`, default 7), so that load from other
//! processes that drifts during the run skews ours and the floors alike.
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use criterion::{BenchmarkId, Criterion, SamplingMode, Throughput};
use edugate::outbox::{Outbox, OutboxConfig, SledOutbox};
use futures_util::future::join_all;
use tokio::sync::Notify;

/// Producer counts.
const PRODUCERS: [usize; 3] = [1, 8, 64];
/// Payload size, about a signed SendResponse job's metadata.
const PAYLOAD: usize = 512;
/// The queue.
const QUEUE: &str = "send-to-smev";
/// Most items a worker leases at once.
const LEASE_BATCH: usize = 64;

/// Items per run with `k` producers: enough for a few hundred fsyncs, few enough to keep a sample short.
fn items_for(k: usize) -> usize {
    match k {
        1 => 400,
        8 => 2_000,
        _ => 4_000,
    }
}

/// The payload of item `n`.
fn payload(n: usize) -> Vec<u8> {
    let mut bytes = format!("{{\"job\":\"send-response\",\"n\":{n},\"body\":\"").into_bytes();
    bytes.resize(PAYLOAD - 2, b'x');
    bytes.extend_from_slice(b"\"}");
    bytes
}

/// Enqueues `items` with `k` producer tasks while `k.min(4)` workers lease and complete them; returns the time to
/// the last completion and the flushes done.
fn run_outbox(runtime: &tokio::runtime::Runtime, k: usize, items: usize) -> (Duration, u64) {
    let dir = tempfile::tempdir().unwrap();
    let outbox = Arc::new(SledOutbox::open_path(dir.path().join("state"), OutboxConfig::default()).unwrap());
    let flushes_before = outbox.state().flushes();
    let elapsed = runtime.block_on(async {
        let completed = Arc::new(AtomicUsize::new(0));
        let enqueued = Arc::new(Notify::new());
        let started = Instant::now();
        let producers: Vec<_> =
            (0..k).map(|p| tokio::spawn(produce(Arc::clone(&outbox), Arc::clone(&enqueued), p, k, items))).collect();
        let workers: Vec<_> = (0..k.min(4))
            .map(|w| {
                let worker = Worker {
                    outbox: Arc::clone(&outbox),
                    owner: format!("worker-{w}"),
                    enqueued: Arc::clone(&enqueued),
                    completed: Arc::clone(&completed),
                };
                tokio::spawn(worker.run(items))
            })
            .collect();
        for task in producers.into_iter().chain(workers) {
            task.await.unwrap();
        }
        started.elapsed()
    });
    let flushes = outbox.state().flushes() - flushes_before;
    (elapsed, flushes)
}

/// Producer `p` of `k`: enqueues its share of `items`, one durable enqueue after another, waking a worker after
/// each.
async fn produce(outbox: Arc<SledOutbox>, enqueued: Arc<Notify>, p: usize, k: usize, items: usize) {
    for n in (p..items).step_by(k) {
        outbox.enqueue(QUEUE, &format!("item-{n}"), &payload(n), SystemTime::now()).await.unwrap();
        enqueued.notify_one();
    }
}

/// A worker of the pipeline.
struct Worker {
    /// The outbox.
    outbox: Arc<SledOutbox>,
    /// Its lease owner id.
    owner: String,
    /// Signalled after each enqueue, so an idle worker wakes at once (as a gateway's would on its own enqueues).
    enqueued: Arc<Notify>,
    /// Items completed by every worker.
    completed: Arc<AtomicUsize>,
}

impl Worker {
    /// Leases batches and completes each item (concurrently, so their flushes are shared) until all `items` are
    /// completed.
    async fn run(self, items: usize) {
        while self.completed.load(Ordering::Acquire) < items {
            let now = SystemTime::now();
            let leases = self.outbox.lease(QUEUE, &self.owner, LEASE_BATCH, Duration::from_secs(300), now).await;
            let leases = leases.unwrap();
            if leases.is_empty() {
                // Another worker may have taken the last items: look again now and then.
                let _ = tokio::time::timeout(Duration::from_millis(1), self.enqueued.notified()).await;
                continue;
            }
            let done = join_all(leases.iter().map(|lease| self.outbox.complete(lease, SystemTime::now()))).await;
            done.into_iter().for_each(|result| result.unwrap());
            self.completed.fetch_add(leases.len(), Ordering::AcqRel);
        }
        // Wake the others so they see the end.
        self.enqueued.notify_waiters();
    }
}

/// A raw sled database in a fresh directory, flushed only when asked, like the outbox's.
struct RawSled {
    /// Removed on drop.
    _dir: tempfile::TempDir,
    /// The database.
    db: sled::Db,
    /// Its log file, to fsync.
    log: std::fs::File,
}

impl RawSled {
    fn new() -> RawSled {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("raw");
        let db = sled::Config::new().path(&path).flush_every_ms(None).open().unwrap();
        let log = std::fs::File::open(path.join("db")).unwrap();
        RawSled { _dir: dir, db, log }
    }

    /// sled's flush, then an fsync of its log: the outbox's notion of durable.
    fn sync(&self) {
        self.db.flush().unwrap();
        self.log.sync_all().unwrap();
    }
}

/// `k` threads each insert and flush their share of `items`, one at a time.
fn run_flush_each(k: usize, items: usize) -> Duration {
    let raw = RawSled::new();
    let started = Instant::now();
    std::thread::scope(|scope| {
        for p in 0..k {
            let raw = &raw;
            scope.spawn(move || {
                for n in (p..items).step_by(k) {
                    raw.db.insert((n as u64).to_be_bytes(), payload(n)).unwrap();
                    raw.sync();
                }
            });
        }
    });
    started.elapsed()
}

/// One thread inserts `items` and flushes after every `k`.
fn run_flush_batch(k: usize, items: usize) -> Duration {
    let raw = RawSled::new();
    let started = Instant::now();
    for n in 0..items {
        raw.db.insert((n as u64).to_be_bytes(), payload(n)).unwrap();
        if (n + 1) % k == 0 || n + 1 == items {
            raw.sync();
        }
    }
    started.elapsed()
}

fn throughput(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    for k in PRODUCERS {
        let items = items_for(k);
        let mut group = c.benchmark_group("outbox_durable");
        group.sampling_mode(SamplingMode::Flat).sample_size(10).throughput(Throughput::Elements(items as u64));
        group.bench_function(BenchmarkId::new("outbox", k), |b| {
            b.iter_custom(|iters| (0..iters).map(|_| run_outbox(&runtime, k, items).0).sum())
        });
        group.bench_function(BenchmarkId::new("sled_flush_each", k), |b| {
            b.iter_custom(|iters| (0..iters).map(|_| run_flush_each(k, items)).sum())
        });
        group.bench_function(BenchmarkId::new("sled_flush_batch", k), |b| {
            b.iter_custom(|iters| (0..iters).map(|_| run_flush_batch(k, items)).sum())
        });
        group.finish();
    }
}

/// One round of the interleaved measurement: items per second of each way, and the outbox's items per flush.
#[derive(Debug, Clone, Copy)]
struct Round {
    /// The outbox's rate.
    outbox: f64,
    /// Items per group-commit flush.
    per_flush: f64,
    /// The per-item floor's rate.
    each: f64,
    /// The batched floor's rate.
    batch: f64,
}

/// Runs `rounds` interleaved rounds with `k` producers.
fn interleaved(runtime: &tokio::runtime::Runtime, k: usize, rounds: usize) -> Vec<Round> {
    let items = items_for(k);
    let rate = |elapsed: Duration| items as f64 / elapsed.as_secs_f64();
    (0..rounds)
        .map(|_| {
            let (elapsed, flushes) = run_outbox(runtime, k, items);
            Round {
                outbox: rate(elapsed),
                per_flush: items as f64 / flushes.max(1) as f64,
                each: rate(run_flush_each(k, items)),
                batch: rate(run_flush_batch(k, items)),
            }
        })
        .collect()
}

/// The median of `values`.
fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

fn print_table() {
    let rounds: usize = std::env::var("OUTBOX_BENCH_ROUNDS").ok().and_then(|v| v.parse().ok()).unwrap_or(7);
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    println!("\n## Durable throughput, {rounds} interleaved rounds (medians; items/s; ratio = outbox / floor)\n");
    println!(
        "| producers | outbox | items per flush | sled flush each | sled flush batch | vs flush each | vs flush batch |"
    );
    println!("|---|---|---|---|---|---|---|");
    for k in PRODUCERS {
        let measured = interleaved(&runtime, k, rounds);
        let of = |field: fn(&Round) -> f64| median(measured.iter().map(field).collect());
        println!(
            "| {k} | {:.0} | {:.1} | {:.0} | {:.0} | {:.2} | {:.2} |",
            of(|r| r.outbox),
            of(|r| r.per_flush),
            of(|r| r.each),
            of(|r| r.batch),
            of(|r| r.outbox / r.each),
            of(|r| r.outbox / r.batch)
        );
    }
}

fn main() {
    let mut c = Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(5))
        .configure_from_args();
    throughput(&mut c);
    c.final_summary();
    // `cargo bench` passes `--bench`; a test run of the benchmarks (`cargo test --benches`) skips the long table.
    if std::env::args().any(|arg| arg == "--bench") {
        print_table();
    }
}
