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
//! A second group, `outbox_step`, measures the request task's writes of a lookup at K concurrent producers (1, 32),
//! each producer answering requests one after another, in a fresh store:
//! - `commit`: one [`MessageStore::commit`] of the step (the response item, the ack item, the response's MessageID
//!   in the inbox entry): one durable write;
//! - `separate`: the three awaited durable writes it replaces: enqueue the response, record the response in the
//!   inbox, enqueue the acknowledgement.
//!
//! Both record the delivery first with [`MessageStore::received`] (not awaited), so the inbox entry exists.
//!
//! After criterion's own report, tables of throughputs and ratios are printed; docs/benchmarks.md records them. The
//! tables come from a second, interleaved measurement in this process: each round runs the ways compared back to
//! back, and the tables show medians over rounds (`OUTBOX_BENCH_ROUNDS`, default 7), so that load from other
//! processes that drifts during the run skews each way alike. `OUTBOX_BENCH_TABLES` (`throughput`, `step`, or both
//! separated by a comma, the default) chooses the tables.
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use criterion::{BenchmarkId, Criterion, SamplingMode, Throughput};
use edugate::outbox::{Outbox, OutboxConfig, SledOutbox};
use edugate::store::{MessageStore, NewItem, SledStore, Step};
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

fn print_table(rounds: usize) {
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

/// Producer counts of the step group.
const STEP_PRODUCERS: [usize; 2] = [1, 32];

/// Lookups per run with `k` producers.
fn lookups_for(k: usize) -> usize {
    if k == 1 {
        300
    } else {
        3_000
    }
}

/// How the request task's writes of a lookup are made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Way {
    /// One `MessageStore::commit`.
    Commit,
    /// Enqueue, record, enqueue: three awaited writes.
    Separate,
}

impl Way {
    /// The name in reports.
    fn name(self) -> &'static str {
        match self {
            Way::Commit => "commit",
            Way::Separate => "separate",
        }
    }
}

/// This process's CPU time so far (every thread, user and system), from `/proc/self/stat`, in clock ticks of 10 ms.
fn cpu_time() -> Duration {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap();
    // The fields after the command's name (which is in parentheses and may hold spaces); utime and stime are the
    // 14th and 15th fields of the line, the 12th and 13th after the name.
    let fields: Vec<&str> = stat[stat.rfind(')').unwrap() + 2..].split(' ').collect();
    let ticks: u64 = fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();
    Duration::from_millis(ticks * 10)
}

/// What one run of lookups took.
#[derive(Debug, Clone, Copy)]
struct StepRun {
    /// Wall time.
    elapsed: Duration,
    /// Group-commit flushes.
    flushes: u64,
    /// CPU time of the whole process (producers, sled, the flusher).
    cpu: Duration,
}

/// Answers `lookups` requests with `k` producer tasks, each lookup's writes made `way`; returns the time taken and
/// the flushes done.
fn run_steps(runtime: &tokio::runtime::Runtime, way: Way, k: usize, lookups: usize) -> (Duration, u64) {
    let run = run_steps_measured(runtime, way, k, lookups);
    (run.elapsed, run.flushes)
}

/// [`run_steps`], with the CPU time it took.
fn run_steps_measured(runtime: &tokio::runtime::Runtime, way: Way, k: usize, lookups: usize) -> StepRun {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(SledStore::open_path(dir.path().join("state"), OutboxConfig::default()).unwrap());
    let flushes_before = store.state().flushes();
    let cpu_before = cpu_time();
    let elapsed = runtime.block_on(async {
        let started = Instant::now();
        let producers: Vec<_> = (0..k)
            .map(|p| {
                let store = Arc::clone(&store);
                tokio::spawn(async move {
                    for n in (p..lookups).step_by(k) {
                        answer(&store, way, n).await;
                    }
                })
            })
            .collect();
        for task in producers {
            task.await.unwrap();
        }
        started.elapsed()
    });
    let cpu = cpu_time().saturating_sub(cpu_before);
    StepRun { elapsed, flushes: store.state().flushes() - flushes_before, cpu }
}

/// The request task's writes of lookup `n`.
async fn answer(store: &SledStore, way: Way, n: usize) {
    let smev_id = format!("00000000-0000-0000-0000-{n:012}");
    let (response_key, ack_key) = (format!("response:{smev_id}"), format!("ack:{smev_id}"));
    let response_id = format!("11111111-0000-0000-0000-{n:012}");
    let (response, ack) = (payload(n), b"{\"accepted\":true}".to_vec());
    let now = SystemTime::now();
    store.received(&smev_id, "progress", "marks of one pupil", now).await.unwrap();
    match way {
        Way::Commit => {
            let step = Step {
                smev_id: &smev_id,
                enqueue: vec![
                    NewItem { queue: QUEUE, key: &response_key, payload: &response },
                    NewItem { queue: "ack", key: &ack_key, payload: &ack },
                ],
                response_message_id: Some(&response_id),
                ..Step::default()
            };
            store.commit(step, now).await.unwrap();
        }
        Way::Separate => {
            store.outbox().enqueue(QUEUE, &response_key, &response, now).await.unwrap();
            store.inbox().record_response(&smev_id, &response_id, now).await.unwrap();
            store.outbox().enqueue("ack", &ack_key, &ack, now).await.unwrap();
        }
    }
}

fn steps(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    for k in STEP_PRODUCERS {
        let lookups = lookups_for(k);
        let mut group = c.benchmark_group("outbox_step");
        group.sampling_mode(SamplingMode::Flat).sample_size(10).throughput(Throughput::Elements(lookups as u64));
        for way in [Way::Commit, Way::Separate] {
            group.bench_function(BenchmarkId::new(way.name(), k), |b| {
                b.iter_custom(|iters| (0..iters).map(|_| run_steps(&runtime, way, k, lookups).0).sum())
            });
        }
        group.finish();
    }
}

/// Prints the step table: lookups per second, flushes and CPU per lookup of each way, medians over interleaved
/// rounds.
fn print_step_table(rounds: usize) {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    println!("\n## The request task's writes of a lookup, {rounds} interleaved rounds (medians)\n");
    println!(
        "| producers | way | lookups/s | flushes per lookup | CPU µs per lookup | lookups/s vs separate \
         | CPU vs separate |"
    );
    println!("|---|---|---|---|---|---|---|");
    for k in STEP_PRODUCERS {
        let lookups = lookups_for(k);
        let ways = [Way::Commit, Way::Separate];
        let mut runs: [Vec<StepRun>; 2] = [Vec::new(), Vec::new()];
        for _ in 0..rounds {
            for (i, way) in ways.into_iter().enumerate() {
                runs[i].push(run_steps_measured(&runtime, way, k, lookups));
            }
        }
        let rate = |run: &StepRun| lookups as f64 / run.elapsed.as_secs_f64();
        let cpu = |run: &StepRun| run.cpu.as_secs_f64() * 1e6 / lookups as f64;
        for (i, way) in ways.into_iter().enumerate() {
            let versus = |of: &dyn Fn(&StepRun) -> f64| {
                median(runs[i].iter().zip(&runs[1]).map(|(this, separate)| of(this) / of(separate)).collect())
            };
            println!(
                "| {k} | {} | {:.0} | {:.2} | {:.0} | {:.2} | {:.2} |",
                way.name(),
                median(runs[i].iter().map(rate).collect()),
                median(runs[i].iter().map(|run| run.flushes as f64 / lookups as f64).collect()),
                median(runs[i].iter().map(cpu).collect()),
                versus(&rate),
                versus(&cpu),
            );
        }
    }
}

/// Whether the table `name` was asked for (all are, by default).
fn table_wanted(name: &str) -> bool {
    std::env::var("OUTBOX_BENCH_TABLES").map_or(true, |tables| tables.split(',').any(|table| table.trim() == name))
}

fn main() {
    let mut c = Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(5))
        .configure_from_args();
    throughput(&mut c);
    steps(&mut c);
    c.final_summary();
    // `cargo bench` passes `--bench`; a test run of the benchmarks (`cargo test --benches`) skips the long tables.
    if std::env::args().any(|arg| arg == "--bench") {
        let rounds: usize = std::env::var("OUTBOX_BENCH_ROUNDS").ok().and_then(|v| v.parse().ok()).unwrap_or(7);
        if table_wanted("throughput") {
            print_table(rounds);
        }
        if table_wanted("step") {
            print_step_table(rounds);
        }
    }
}
