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
//! After criterion's own report, a table of throughputs and ratios is printed; docs/benchmarks.md records it.
//! The times are measured in this process (criterion's `iter_custom`), so the table needs no report files.
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
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

/// Time and items measured per benchmark, for the final table.
static MEASURED: Mutex<BTreeMap<String, Measured>> = Mutex::new(BTreeMap::new());

/// What one benchmark measured in total.
#[derive(Debug, Default, Clone, Copy)]
struct Measured {
    /// Items made durable.
    items: u64,
    /// Time taken.
    elapsed: Duration,
    /// Flushes performed (outbox only).
    flushes: u64,
}

impl Measured {
    /// Items per second.
    fn rate(&self) -> f64 {
        self.items as f64 / self.elapsed.as_secs_f64()
    }
}

/// Adds a run to the totals of `id`.
fn record(id: &str, items: u64, elapsed: Duration, flushes: u64) {
    let mut measured = MEASURED.lock().unwrap();
    let entry = measured.entry(id.to_owned()).or_default();
    entry.items += items;
    entry.elapsed += elapsed;
    entry.flushes += flushes;
}

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
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    let (elapsed, flushes) = run_outbox(&runtime, k, items);
                    record(&format!("outbox/{k}"), items as u64, elapsed, flushes);
                    total += elapsed;
                }
                total
            })
        });
        group.bench_function(BenchmarkId::new("sled_flush_each", k), |b| {
            b.iter_custom(|iters| timed(iters, &format!("sled_flush_each/{k}"), items, || run_flush_each(k, items)))
        });
        group.bench_function(BenchmarkId::new("sled_flush_batch", k), |b| {
            b.iter_custom(|iters| timed(iters, &format!("sled_flush_batch/{k}"), items, || run_flush_batch(k, items)))
        });
        group.finish();
    }
}

/// Runs `run` `iters` times, recording each run under `id`, and returns the total time.
fn timed(iters: u64, id: &str, items: usize, run: impl Fn() -> Duration) -> Duration {
    (0..iters)
        .map(|_| {
            let elapsed = run();
            record(id, items as u64, elapsed, 0);
            elapsed
        })
        .sum()
}

fn print_table() {
    let measured = MEASURED.lock().unwrap();
    let rate = |id: String| measured.get(&id).map(Measured::rate);
    println!("\n## Durable throughput measured in this run (items/s; ratio = outbox / floor, above 1 is faster)\n");
    println!(
        "| producers | outbox | items per flush | sled flush each | sled flush batch | vs flush each | vs flush batch |"
    );
    println!("|---|---|---|---|---|---|---|");
    for k in PRODUCERS {
        let (Some(outbox), Some(each), Some(batch)) =
            (rate(format!("outbox/{k}")), rate(format!("sled_flush_each/{k}")), rate(format!("sled_flush_batch/{k}")))
        else {
            continue;
        };
        let o = measured[&format!("outbox/{k}")];
        let per_flush = o.items as f64 / o.flushes.max(1) as f64;
        println!(
            "| {k} | {outbox:.0} | {per_flush:.1} | {each:.0} | {batch:.0} | {:.2} | {:.2} |",
            outbox / each,
            outbox / batch
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
    print_table();
}
