//! Behaviour of the outbox, the inbox and the message store over both, run over the memory and sled backends alike,
//! plus what only the sled backend has: persistence across reopening, refusal of damaged stores, group commit, and
//! a step's write surviving a kill whole or not at all.
//!
//! Time is always passed in (or comes from tokio's paused clock); no test reads or asserts the wall clock.

use std::ops::Deref;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use edugate::inbox::{Inbox, InboxError, MemoryInbox, SledInbox};
use edugate::outbox::{
    lease_when_due, BackoffPolicy, Clock, DeadCause, FailOutcome, FailureKind, ItemId, ItemState, Lease, LeaseWait,
    ListFilter, MemoryOutbox, OpenError, Outbox, OutboxConfig, OutboxError, SledOutbox, StateDb, TokioClock,
};
use edugate::store::{Committed, MemoryStore, MessageStore, NewItem, SledStore, Step, StoreError, Thread, ThreadWrite};
use rand::rngs::mock::StepRng;

/// The queue most tests use.
const Q: &str = "send-to-smev";
/// A queue whose policy retries without limit, for schedule tests.
const FOREVER: &str = "forever";

/// The test epoch plus `seconds`.
fn t(seconds: u64) -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000 + seconds)
}

/// `seconds` as a duration.
fn secs(seconds: u64) -> Duration {
    Duration::from_secs(seconds)
}

/// Five attempts or an hour by default; no limits on [`FOREVER`].
fn config() -> OutboxConfig {
    let default_policy =
        BackoffPolicy { base: secs(1), cap: secs(60), max_attempts: Some(5), max_age: Some(secs(3600)) };
    let forever = BackoffPolicy { max_attempts: None, max_age: None, ..default_policy };
    OutboxConfig {
        default_policy,
        queue_policies: [(FOREVER.to_owned(), forever)].into_iter().collect(),
        jitter_seed: Some(7),
    }
}

/// A jitter generator whose every draw is one half: each delay is exactly half its ceiling.
fn half() -> Box<StepRng> {
    Box::new(StepRng::new(1 << 63, 0))
}

/// An outbox under test, and whatever keeps it alive.
struct Rig {
    /// The backend.
    outbox: Box<dyn Outbox>,
    /// The sled backend's directory, removed when the rig is dropped.
    _dir: Option<tempfile::TempDir>,
}

impl Deref for Rig {
    type Target = dyn Outbox;

    fn deref(&self) -> &(dyn Outbox + 'static) {
        &*self.outbox
    }
}

/// A memory outbox.
fn memory() -> Rig {
    Rig { outbox: Box::new(MemoryOutbox::new(config()).with_rng(half())), _dir: None }
}

/// A sled outbox in a fresh directory.
fn sled_backend() -> Rig {
    let dir = tempfile::tempdir().expect("temporary directory");
    let outbox = SledOutbox::open_path(dir.path().join("state"), config()).expect("open").with_rng(half());
    Rig { outbox: Box::new(outbox), _dir: Some(dir) }
}

impl Rig {
    /// Enqueues, expecting success.
    async fn put(&self, queue: &str, key: &str, now: SystemTime) -> ItemId {
        self.enqueue(queue, key, key.as_bytes(), now).await.expect("enqueue")
    }

    /// Leases for 30 s, expecting success.
    async fn take(&self, queue: &str, owner: &str, max: usize, now: SystemTime) -> Vec<Lease> {
        self.lease(queue, owner, max, secs(30), now).await.expect("lease")
    }

    /// Leases exactly one item.
    async fn take_one(&self, queue: &str, owner: &str, now: SystemTime) -> Lease {
        let mut leases = self.take(queue, owner, 1, now).await;
        assert_eq!(leases.len(), 1, "one item due at {now:?}");
        leases.remove(0)
    }

    /// The item `id`, which must exist.
    async fn item(&self, id: ItemId) -> edugate::outbox::WorkItem {
        self.get(id).await.expect("get").expect("item exists")
    }
}

/// A retryable failure.
fn retryable(reason: &str) -> FailureKind {
    FailureKind::Retryable { reason: reason.to_owned() }
}

/// Each behaviour, as a function of a rig, run by [`suite!`] over every backend.
mod behaviour {
    use super::*;

    pub async fn idempotent_enqueue(rig: Rig) {
        let id = rig.enqueue(Q, "k1", b"first", t(0)).await.expect("enqueue");
        let again = rig.enqueue(Q, "k1", b"second", t(1)).await.expect("enqueue again");
        assert_eq!(again, id);
        assert_eq!(rig.item(id).await.payload, b"first");
        let other_queue = rig.enqueue("ack", "k1", b"x", t(1)).await.expect("other queue");
        assert_ne!(other_queue, id);
        let lease = rig.take_one(Q, "w", t(2)).await;
        rig.complete(&lease, t(3)).await.expect("complete");
        assert_eq!(rig.enqueue(Q, "k1", b"third", t(4)).await.expect("after completion"), id);
        let stats = rig.stats(t(4)).await.expect("stats");
        assert_eq!((stats.queue(Q).completed, stats.queue(Q).pending), (1, 0));
    }

    pub async fn lease_order_and_max_items(rig: Rig) {
        // Enqueued out of time order; lease order is next attempt time, then id.
        let c = rig.put(Q, "c", t(3)).await;
        let a = rig.put(Q, "a", t(1)).await;
        let b1 = rig.put(Q, "b1", t(2)).await;
        let b2 = rig.put(Q, "b2", t(2)).await;
        let later = rig.put(Q, "later", t(500)).await;
        rig.put("ack", "elsewhere", t(0)).await;
        assert!(rig.take(Q, "w", 0, t(100)).await.is_empty());
        let first: Vec<ItemId> = rig.take(Q, "w", 2, t(100)).await.iter().map(|l| l.id).collect();
        assert_eq!(first, [a, b1]);
        let rest: Vec<ItemId> = rig.take(Q, "w", 10, t(100)).await.iter().map(|l| l.id).collect();
        assert_eq!(rest, [b2, c]);
        // Leased items come back when their leases lapse, all at t(130) and so in id (enqueue) order, before the
        // item due at t(500).
        let lapsed: Vec<ItemId> = rig.take(Q, "w", 10, t(500)).await.iter().map(|l| l.id).collect();
        assert_eq!(lapsed, [c, a, b1, b2, later]);
    }

    pub async fn leases_carry_the_work(rig: Rig) {
        let id = rig.enqueue(Q, "key-1", b"payload bytes", t(0)).await.expect("enqueue");
        let lease = rig.take_one(Q, "worker-1", t(1)).await;
        let expected = (id, Q, "worker-1", "key-1", &b"payload bytes"[..], 1, t(31), t(0));
        let actual = (
            lease.id,
            lease.queue.as_str(),
            lease.owner.as_str(),
            lease.idempotency_key.as_str(),
            lease.payload.as_slice(),
            lease.attempt,
            lease.until,
            lease.created_at,
        );
        assert_eq!(actual, expected);
        assert!(matches!(rig.item(id).await.state, ItemState::Leased { ref owner, .. } if owner == "worker-1"));
    }

    pub async fn a_zero_length_lease_is_handed_out_once_per_call(rig: Rig) {
        rig.put(Q, "only", t(0)).await;
        let leases = rig.lease(Q, "w", 10, Duration::ZERO, t(1)).await.expect("lease");
        assert_eq!(leases.len(), 1);
        let again = rig.lease(Q, "other", 10, Duration::ZERO, t(1)).await.expect("lease again");
        assert_eq!((again.len(), again[0].attempt), (1, 2));
    }

    pub async fn a_lapsed_lease_returns_the_item(rig: Rig) {
        let id = rig.put(Q, "k", t(0)).await;
        rig.take_one(Q, "crashed", t(0)).await;
        assert!(rig.take(Q, "survivor", 10, t(29)).await.is_empty());
        let lease = rig.take_one(Q, "survivor", t(30)).await;
        assert_eq!((lease.id, lease.attempt), (id, 2));
        rig.complete(&lease, t(31)).await.expect("complete");
    }

    pub async fn a_stale_lease_is_refused(rig: Rig) {
        let id = rig.put(Q, "k", t(0)).await;
        let stale = rig.take_one(Q, "a", t(0)).await;
        let current = rig.take_one(Q, "b", t(40)).await;
        let stale_error =
            |result: Result<(), OutboxError>| matches!(result, Err(OutboxError::StaleLease { id: i }) if i == id);
        assert!(stale_error(rig.complete(&stale, t(41)).await));
        assert!(stale_error(rig.fail(&stale, retryable("late"), t(41)).await.map(drop)));
        assert!(stale_error(rig.release(&stale, t(41)).await));
        assert!(stale_error(rig.extend(&stale, secs(60), t(41)).await.map(drop)));
        // The same owner name with another lease's token is refused too.
        let forged = Lease { owner: "b".to_owned(), ..stale.clone() };
        assert!(stale_error(rig.complete(&forged, t(41)).await));
        rig.complete(&current, t(42)).await.expect("the current holder completes");
        assert!(stale_error(rig.complete(&current, t(43)).await));
    }

    pub async fn a_lapsed_lease_nobody_took_still_completes(rig: Rig) {
        let id = rig.put(Q, "k", t(0)).await;
        let slow = rig.take_one(Q, "slow", t(0)).await;
        rig.complete(&slow, t(100)).await.expect("complete after the lease's end");
        assert!(matches!(rig.item(id).await.state, ItemState::Completed { .. }));
    }

    pub async fn extend_keeps_the_item(rig: Rig) {
        rig.put(Q, "k", t(0)).await;
        let lease = rig.take_one(Q, "a", t(0)).await;
        let extended = rig.extend(&lease, secs(30), t(25)).await.expect("extend");
        assert_eq!(extended.until, t(55));
        assert!(rig.take(Q, "b", 1, t(40)).await.is_empty());
        rig.complete(&extended, t(50)).await.expect("complete with the extended lease");
    }

    pub async fn retry_schedule_with_a_fixed_generator(rig: Rig) {
        // Every draw is one half, so each delay is half of min(60 s, 1 s * 2^n).
        let expected_ms = [500, 1000, 2000, 4000, 8000, 16_000, 30_000, 30_000, 30_000];
        let id = rig.put(FOREVER, "k", t(0)).await;
        let mut now = t(0);
        for (n, delay_ms) in expected_ms.into_iter().enumerate() {
            let lease = rig.take_one(FOREVER, "w", now).await;
            assert_eq!(lease.attempt as usize, n + 1);
            let outcome = rig.fail(&lease, retryable("SMEVFailure"), now).await.expect("fail");
            let at = now + Duration::from_millis(delay_ms);
            assert_eq!(outcome, FailOutcome::Rescheduled { at }, "retry {n}");
            assert!(rig.take(FOREVER, "w", 1, at - Duration::from_millis(1)).await.is_empty(), "retry {n} early");
            now = at;
        }
        let item = rig.item(id).await;
        assert_eq!((item.attempts, item.last_error.as_deref()), (9, Some("SMEVFailure")));
    }

    pub async fn retry_at_is_honoured(rig: Rig) {
        rig.put(Q, "k", t(0)).await;
        let lease = rig.take_one(Q, "w", t(0)).await;
        let failure = FailureKind::RetryAt { at: t(900), reason: "QuoteLimitExceeded".to_owned() };
        assert_eq!(rig.fail(&lease, failure, t(1)).await.expect("fail"), FailOutcome::Rescheduled { at: t(900) });
        assert_eq!(rig.next_due(Q).await.expect("next due"), Some(t(900)));
        assert!(rig.take(Q, "w", 1, t(899)).await.is_empty());
        assert_eq!(rig.take_one(Q, "w", t(900)).await.attempt, 2);
    }

    pub async fn dead_letter_after_max_attempts(rig: Rig) {
        let id = rig.put(Q, "k", t(0)).await;
        let mut now = t(0);
        for attempt in 1..=5 {
            let lease = rig.take_one(Q, "w", now).await;
            let outcome = rig.fail(&lease, retryable(&format!("timeout {attempt}")), now).await.expect("fail");
            match outcome {
                FailOutcome::Rescheduled { at } if attempt < 5 => now = at,
                FailOutcome::DeadLettered { cause: DeadCause::AttemptsExhausted } if attempt == 5 => {}
                other => panic!("attempt {attempt}: {other:?}"),
            }
        }
        let item = rig.item(id).await;
        assert!(
            matches!(
                item.state,
                ItemState::Dead { ref reason, cause: DeadCause::AttemptsExhausted, .. } if reason == "timeout 5"
            ),
            "{:?}",
            item.state
        );
        assert!(rig.take(Q, "w", 1, t(10_000)).await.is_empty());
        let dead = rig.list_dead(Some(Q), 10).await.expect("list");
        assert_eq!((dead.len(), dead[0].id, dead[0].payload.as_slice()), (1, id, &b"k"[..]));
    }

    pub async fn dead_letter_after_max_age(rig: Rig) {
        let id = rig.put(Q, "k", t(0)).await;
        let lease = rig.take_one(Q, "w", t(3599)).await;
        assert!(matches!(rig.fail(&lease, retryable("early"), t(3599)).await, Ok(FailOutcome::Rescheduled { .. })));
        let lease = rig.take_one(Q, "w", t(3700)).await;
        let outcome = rig.fail(&lease, retryable("still down"), t(3700)).await.expect("fail");
        assert_eq!(outcome, FailOutcome::DeadLettered { cause: DeadCause::TooOld });
        assert!(matches!(rig.item(id).await.state, ItemState::Dead { ref reason, .. } if reason == "still down"));
    }

    pub async fn a_final_failure_dead_letters_at_once(rig: Rig) {
        let id = rig.put(Q, "k", t(0)).await;
        let lease = rig.take_one(Q, "w", t(0)).await;
        let failure = FailureKind::Final { reason: "InvalidContent: element Foo".to_owned() };
        assert_eq!(
            rig.fail(&lease, failure, t(1)).await.expect("fail"),
            FailOutcome::DeadLettered { cause: DeadCause::Final }
        );
        let item = rig.item(id).await;
        assert_eq!(
            item.state,
            ItemState::Dead { at: t(1), reason: "InvalidContent: element Foo".to_owned(), cause: DeadCause::Final }
        );
        assert_eq!(rig.stats(t(1)).await.expect("stats").queue(Q).dead, 1);
    }

    pub async fn a_poison_item_is_buried_by_lapsed_leases(rig: Rig) {
        let id = rig.put(Q, "k", t(0)).await;
        for n in 0..5 {
            let lease = rig.take_one(Q, "crashing", t(100 * n)).await;
            assert_eq!(lease.attempt as u64, n + 1);
        }
        assert!(rig.take(Q, "crashing", 1, t(500)).await.is_empty());
        let item = rig.item(id).await;
        assert!(matches!(item.state, ItemState::Dead { cause: DeadCause::AttemptsExhausted, .. }), "{item:?}");
    }

    pub async fn retry_dead_and_purge_dead(rig: Rig) {
        let dead = rig.put(Q, "dead", t(0)).await;
        let pending = rig.put(Q, "pending", t(0)).await;
        let lease = rig.take_one(Q, "w", t(0)).await;
        assert_eq!(lease.id, dead);
        rig.fail(&lease, FailureKind::Final { reason: "AccessDenied".to_owned() }, t(1)).await.expect("fail");
        assert!(matches!(rig.retry_dead(pending, t(2)).await, Err(OutboxError::NotDead { .. })));
        assert!(matches!(rig.purge_dead(pending).await, Err(OutboxError::NotDead { .. })));
        assert!(matches!(rig.retry_dead(ItemId(999_999), t(2)).await, Err(OutboxError::NotFound(_))));

        rig.retry_dead(dead, t(100)).await.expect("retry dead");
        let revived = rig.item(dead).await;
        assert_eq!((revived.attempts, revived.state, revived.next_attempt_at), (0, ItemState::Pending, t(100)));
        assert_eq!(revived.last_error.as_deref(), Some("AccessDenied"));
        let leases = rig.take(Q, "w", 10, t(100)).await;
        let again = leases.iter().find(|l| l.id == dead).expect("leased again");
        assert_eq!(again.attempt, 1);
        rig.fail(again, FailureKind::Final { reason: "AccessDenied".to_owned() }, t(101)).await.expect("fail");

        rig.purge_dead(dead).await.expect("purge");
        assert!(rig.get(dead).await.expect("get").is_none());
        assert!(rig.list_dead(None, 10).await.expect("list").is_empty());
        assert!(matches!(rig.purge_dead(dead).await, Err(OutboxError::NotFound(_))));
    }

    pub async fn release_does_not_count_an_attempt(rig: Rig) {
        let id = rig.put(Q, "k", t(0)).await;
        let lease = rig.take_one(Q, "shutting-down", t(0)).await;
        rig.release(&lease, t(5)).await.expect("release");
        let item = rig.item(id).await;
        assert_eq!((item.attempts, item.state, item.next_attempt_at), (0, ItemState::Pending, t(5)));
        let again = rig.take_one(Q, "next", t(5)).await;
        assert_eq!(again.attempt, 1);
        assert!(matches!(rig.complete(&lease, t(6)).await, Err(OutboxError::StaleLease { .. })));
    }

    pub async fn prune_removes_only_old_finished_items(rig: Rig) {
        let old = rig.put(Q, "old", t(0)).await;
        let recent = rig.put(Q, "recent", t(0)).await;
        let dead = rig.put(Q, "dead", t(0)).await;
        let leases = rig.take(Q, "w", 3, t(1)).await;
        rig.complete(&leases[0], t(10)).await.expect("complete old");
        rig.complete(&leases[1], t(100)).await.expect("complete recent");
        rig.fail(&leases[2], FailureKind::Final { reason: "bad".to_owned() }, t(5)).await.expect("dead");
        let pending = rig.put(Q, "pending", t(0)).await;

        assert_eq!(rig.prune(t(10)).await.expect("prune"), 0, "completed at t(10) is not before t(10)");
        assert_eq!(rig.prune(t(50)).await.expect("prune"), 1);
        assert!(rig.get(old).await.expect("get").is_none());
        for kept in [recent, dead, pending] {
            assert!(rig.get(kept).await.expect("get").is_some(), "{kept}");
        }
        // Past retention, the key is free again.
        assert_ne!(rig.put(Q, "old", t(60)).await, old);
        assert_eq!(rig.prune(t(50)).await.expect("prune again"), 0);
    }

    pub async fn stats_count_by_queue_and_state(rig: Rig) {
        for key in ["a", "b", "c", "d"] {
            rig.put(Q, key, t(10)).await;
        }
        rig.put("ack", "x", t(50)).await;
        let leases = rig.take(Q, "w", 3, t(20)).await;
        rig.complete(&leases[0], t(21)).await.expect("complete");
        rig.fail(&leases[1], FailureKind::Final { reason: "no".to_owned() }, t(21)).await.expect("fail");
        let stats = rig.stats(t(100)).await.expect("stats");
        let q = stats.queue(Q);
        assert_eq!((q.pending, q.leased, q.completed, q.dead), (1, 1, 1, 1));
        assert_eq!(q.oldest_pending_age, Some(secs(90)));
        assert_eq!(stats.queue("ack").oldest_pending_age, Some(secs(50)));
        assert_eq!(stats.queues.len(), 2);
    }

    pub async fn next_due_follows_the_queue(rig: Rig) {
        assert_eq!(rig.next_due(Q).await.expect("empty"), None);
        rig.put("ack", "other", t(1)).await;
        assert_eq!(rig.next_due(Q).await.expect("other queue only"), None);
        rig.put(Q, "k", t(5)).await;
        assert_eq!(rig.next_due(Q).await.expect("pending"), Some(t(5)));
        rig.take_one(Q, "w", t(6)).await;
        assert_eq!(rig.next_due(Q).await.expect("leased"), Some(t(36)));
    }

    pub async fn bad_arguments_are_typed_errors(rig: Rig) {
        assert!(matches!(rig.enqueue("", "k", b"", t(0)).await, Err(OutboxError::InvalidQueue { .. })));
        assert!(matches!(rig.enqueue("a b", "k", b"", t(0)).await, Err(OutboxError::InvalidQueue { .. })));
        assert!(matches!(rig.enqueue(Q, "", b"", t(0)).await, Err(OutboxError::InvalidKey { .. })));
        assert!(matches!(rig.lease(Q, "", 1, secs(1), t(0)).await, Err(OutboxError::InvalidOwner)));
        assert!(matches!(rig.next_due("a\0b").await, Err(OutboxError::InvalidQueue { .. })));
    }

    /// Under paused time: a worker waiting for work sleeps until the retry is due, and no longer.
    pub async fn lease_when_due_sleeps_until_the_retry(rig: Rig) {
        let clock = TokioClock::starting_at(t(0));
        rig.put(FOREVER, "k", clock.now()).await;
        let wait = LeaseWait { queue: FOREVER, owner: "w", max_items: 10, lease_for: secs(30), idle_poll: secs(3600) };
        let mut retry_at = clock.now();
        for n in 0..8u32 {
            let leases = lease_when_due(&*rig, &clock, &wait).await.expect("lease when due");
            assert!(clock.now() >= retry_at, "retry {n} came early");
            match rig.fail(&leases[0], retryable("down"), clock.now()).await.expect("fail") {
                FailOutcome::Rescheduled { at } => retry_at = at,
                other => panic!("{other:?}"),
            }
        }
        // Eight retries of up to 30 s each passed in paused time.
        assert!(clock.now() >= t(60));
    }

    /// Under paused time: a worker polling an empty queue picks up work enqueued meanwhile.
    pub async fn lease_when_due_sees_new_work(rig: Rig) {
        let rig = Arc::new(rig);
        let clock = TokioClock::starting_at(t(0));
        let producer = {
            let rig = Arc::clone(&rig);
            tokio::spawn(async move {
                tokio::time::sleep(secs(90)).await;
                rig.put(Q, "late", clock.now()).await
            })
        };
        let wait = LeaseWait { queue: Q, owner: "w", max_items: 1, lease_for: secs(30), idle_poll: secs(10) };
        let leases = lease_when_due(&**rig, &clock, &wait).await.expect("lease when due");
        assert_eq!(leases[0].id, producer.await.expect("producer"));
        assert!(clock.now() >= t(90));
    }
}

/// Runs every behaviour over one backend.
macro_rules! suite {
    ($module:ident, $make:ident) => {
        mod $module {
            use super::*;
            suite!(@each $make;
                idempotent_enqueue, lease_order_and_max_items, a_zero_length_lease_is_handed_out_once_per_call,
                leases_carry_the_work, a_lapsed_lease_returns_the_item,
                a_stale_lease_is_refused, a_lapsed_lease_nobody_took_still_completes, extend_keeps_the_item,
                retry_schedule_with_a_fixed_generator, retry_at_is_honoured, dead_letter_after_max_attempts,
                dead_letter_after_max_age, a_final_failure_dead_letters_at_once,
                a_poison_item_is_buried_by_lapsed_leases, retry_dead_and_purge_dead,
                release_does_not_count_an_attempt, prune_removes_only_old_finished_items,
                stats_count_by_queue_and_state, next_due_follows_the_queue, bad_arguments_are_typed_errors);
            suite!(@paused $make; lease_when_due_sleeps_until_the_retry, lease_when_due_sees_new_work);
        }
    };
    (@each $make:ident; $($name:ident),* $(,)?) => {
        $(
            #[tokio::test]
            async fn $name() {
                behaviour::$name(super::$make()).await
            }
        )*
    };
    (@paused $make:ident; $($name:ident),* $(,)?) => {
        $(
            #[tokio::test(start_paused = true)]
            async fn $name() {
                behaviour::$name(super::$make()).await
            }
        )*
    };
}

suite!(on_memory, memory);
suite!(on_sled, sled_backend);

// ---- What only the sled backend has: persistence, damage, group commit.

/// A state directory path inside a fresh temporary directory.
fn state_dir() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("temporary directory");
    let path = dir.path().join("state");
    (dir, path)
}

/// Opens the sled outbox at `path` with the half generator.
fn open_outbox(path: &Path) -> SledOutbox {
    SledOutbox::open_path(path, config()).expect("open").with_rng(half())
}

#[tokio::test]
async fn work_survives_reopening() {
    let (_dir, path) = state_dir();
    let outbox = open_outbox(&path);
    let leased = outbox.enqueue(Q, "leased", b"1", t(0)).await.expect("enqueue");
    let done = outbox.enqueue(Q, "done", b"2", t(1)).await.expect("enqueue");
    let dead = outbox.enqueue(Q, "dead", b"3", t(2)).await.expect("enqueue");
    let waiting = outbox.enqueue(Q, "waiting", b"4", t(3)).await.expect("enqueue");
    let leases = outbox.lease(Q, "crashing", 3, secs(30), t(10)).await.expect("lease");
    outbox.complete(&leases[1], t(11)).await.expect("complete");
    outbox.fail(&leases[2], FailureKind::Final { reason: "AccessDenied".to_owned() }, t(11)).await.expect("fail");
    drop(outbox);

    let outbox = open_outbox(&path);
    assert_eq!(outbox.get(done).await.expect("get").expect("done").state, ItemState::Completed { at: t(11) });
    let dead_item = outbox.get(dead).await.expect("get").expect("dead");
    assert!(matches!(dead_item.state, ItemState::Dead { ref reason, .. } if reason == "AccessDenied"));
    // Only the waiting item is due until the crashed worker's lease lapses at t(40).
    let before: Vec<ItemId> =
        outbox.lease(Q, "new", 10, secs(30), t(20)).await.expect("lease").iter().map(|l| l.id).collect();
    assert_eq!(before, [waiting]);
    let after = outbox.lease(Q, "new", 10, secs(30), t(40)).await.expect("lease");
    assert_eq!((after.len(), after[0].id, after[0].attempt, after[0].payload.as_slice()), (1, leased, 2, &b"1"[..]));
    assert_eq!(outbox.enqueue(Q, "done", b"again", t(41)).await.expect("repeat"), done);
}

#[tokio::test]
async fn large_payloads_survive_reopening() {
    // Large values live in sled's blob files, which the group commit syncs as well.
    let (_dir, path) = state_dir();
    let payload: Vec<u8> = (0..600_000u32).map(|n| (n % 251) as u8).collect();
    let outbox = open_outbox(&path);
    let id = outbox.enqueue(Q, "large", &payload, t(0)).await.expect("enqueue");
    let lease = outbox.lease(Q, "w", 1, secs(30), t(1)).await.expect("lease");
    assert_eq!(lease[0].payload, payload);
    drop(outbox);
    let outbox = open_outbox(&path);
    assert_eq!(outbox.get(id).await.expect("get").expect("item").payload, payload);
}

#[test]
fn group_commit_makes_every_enqueue_durable_with_fewer_flushes() {
    const PRODUCERS: usize = 32;
    const EACH: usize = 16;
    let (_dir, path) = state_dir();
    let copy = path.with_file_name("copy");
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(4).build().expect("runtime");
    let outbox = Arc::new(open_outbox(&path));
    runtime.block_on(async {
        let tasks: Vec<_> = (0..PRODUCERS)
            .map(|producer| {
                let outbox = Arc::clone(&outbox);
                tokio::spawn(async move {
                    for n in 0..EACH {
                        let key = format!("{producer}-{n}");
                        outbox.enqueue(Q, &key, key.as_bytes(), t(0)).await.expect("enqueue");
                    }
                })
            })
            .collect();
        for task in tasks {
            task.await.expect("producer");
        }
    });
    let flushes = runtime.block_on(outbox.stats(t(0))).expect("stats").flushes;
    assert!(flushes < (PRODUCERS * EACH) as u64, "{flushes} flushes for {} enqueues", PRODUCERS * EACH);
    // The files as they are now, with the outbox still open, are what a crash at this moment would leave behind.
    copy_dir(&path, &copy);
    drop(outbox);
    let recovered = open_outbox(&copy);
    let stats = runtime.block_on(recovered.stats(t(0))).expect("stats");
    assert_eq!(stats.queue(Q).pending, (PRODUCERS * EACH) as u64);
}

/// Copies directory `from` to `to`, recursively.
fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("create copy");
    for entry in std::fs::read_dir(from).expect("read dir") {
        let entry = entry.expect("entry");
        let target = to.join(entry.file_name());
        if entry.file_type().expect("file type").is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).expect("copy file");
        }
    }
}

/// A state directory holding a few items and an inbox entry, closed.
async fn populated() -> (tempfile::TempDir, PathBuf) {
    let (dir, path) = state_dir();
    let state = StateDb::open(&path).expect("open");
    let outbox = SledOutbox::open(&state, config()).expect("outbox");
    let inbox = SledInbox::open(&state).expect("inbox");
    for key in ["a", "b", "c"] {
        outbox.enqueue(Q, key, key.as_bytes(), t(0)).await.expect("enqueue");
    }
    inbox.record_received("m-1", "progress", "a request", t(0)).await.expect("inbox");
    inbox.record_response("m-1", "r-1", t(1)).await.expect("response");
    (dir, path)
}

/// Opens everything in `path`, as the gateway does at start-up.
fn open_all(path: &Path) -> Result<(), OpenError> {
    let state = StateDb::open_with_lock_wait(path, Duration::from_secs(5))?;
    SledOutbox::open(&state, config())?;
    SledInbox::open(&state)?;
    Ok(())
}

#[tokio::test]
async fn damaged_files_refuse_to_open() {
    type Damage = fn(&[u8]) -> Vec<u8>;
    type Chooser = fn(&str) -> bool;
    let garbage: Damage = |bytes| vec![0x5a; bytes.len().max(4096)];
    let flipped: Damage = |bytes| bytes.iter().enumerate().map(|(i, b)| if i % 7 == 3 { !b } else { *b }).collect();
    let emptied: Damage = |_| Vec::new();
    let cases: [(&str, Chooser, Damage); 5] = [
        ("every file replaced by garbage", |_| true, garbage),
        ("db replaced by garbage", |name| name == "db", garbage),
        ("conf replaced by garbage", |name| name == "conf", garbage),
        ("db bits flipped", |name| name == "db", flipped),
        ("db and snapshots emptied", |name| name == "db" || name.starts_with("snap."), emptied),
    ];
    for (what, chosen, damage) in cases {
        let (_dir, path) = populated().await;
        for entry in std::fs::read_dir(&path).expect("read dir") {
            let file = entry.expect("entry").path();
            let name = file.file_name().and_then(|name| name.to_str()).unwrap_or_default().to_owned();
            if file.is_file() && chosen(&name) {
                let bytes = std::fs::read(&file).expect("readable");
                std::fs::write(&file, damage(&bytes)).expect("writable");
            }
        }
        match open_all(&path) {
            Err(error) => assert!(!error.to_string().is_empty(), "{what}"),
            Ok(()) => panic!("{what}: the damaged store opened"),
        }
    }
}

#[test]
fn foreign_paths_are_not_state_directories() {
    let dir = tempfile::tempdir().expect("temporary directory");
    std::fs::write(dir.path().join("notes.txt"), "not a store").expect("write");
    assert!(matches!(open_all(dir.path()), Err(OpenError::NotAStore { .. })));
    assert!(matches!(open_all(&dir.path().join("notes.txt")), Err(OpenError::NotAStore { .. })));
}

#[tokio::test]
async fn an_open_directory_is_refused() {
    let (_dir, path) = populated().await;
    let _first = StateDb::open(&path).expect("first open");
    let second = StateDb::open_with_lock_wait(&path, Duration::from_millis(50));
    assert!(matches!(second, Err(OpenError::Locked { .. })), "{second:?}");
}

/// Opens the raw sled database in `path` to damage it, retrying while the last handle's lock is released.
fn tamper(path: &Path, change: impl FnOnce(&sled::Db)) {
    let open = || sled::Config::new().path(path).flush_every_ms(None).open();
    let retry = |_| match open() {
        Ok(db) => Some(db),
        Err(_) => {
            std::thread::sleep(Duration::from_millis(10));
            None
        }
    };
    let db = (0..500).find_map(retry).expect("raw open");
    change(&db);
    db.flush().expect("flush");
}

/// The outbox tree's record key of item `id`.
fn record_key(prefix: u8, id: u64) -> Vec<u8> {
    let mut key = vec![prefix];
    key.extend_from_slice(&id.to_be_bytes());
    key
}

/// The id of the first item record in the outbox tree.
fn first_item(db: &sled::Db) -> u64 {
    let tree = db.open_tree("outbox").expect("tree");
    let (key, _) = tree.scan_prefix(b"i").next().expect("an item").expect("readable");
    u64::from_be_bytes(key[1..].try_into().expect("id"))
}

#[tokio::test]
async fn damaged_records_refuse_to_open() {
    type Tamper = fn(&sled::Db);
    type Expected = fn(&OpenError) -> bool;
    let damaged: Expected = |error| matches!(error, OpenError::Damaged { .. });
    let cases: [(&str, Tamper, Expected); 8] = [
        (
            "record is not JSON",
            |db| {
                outbox_tree(db).insert(record_key(b'i', first_item(db)), &b"{no"[..]).expect("insert");
            },
            damaged,
        ),
        (
            "record under another id",
            |db| {
                let tree = outbox_tree(db);
                let id = first_item(db);
                let record = tree.get(record_key(b'i', id)).expect("get").expect("record");
                tree.insert(record_key(b'i', id + 1000), record).expect("insert");
            },
            damaged,
        ),
        (
            "record truncated",
            |db| {
                let tree = outbox_tree(db);
                let id = first_item(db);
                let record = tree.get(record_key(b'i', id)).expect("get").expect("record");
                tree.insert(record_key(b'i', id), &record[..10]).expect("insert");
            },
            damaged,
        ),
        (
            "state is not JSON",
            |db| {
                outbox_tree(db).insert(record_key(b's', first_item(db)), &b"[1"[..]).expect("insert");
            },
            damaged,
        ),
        (
            "unknown key",
            |db| {
                outbox_tree(db).insert(b"stray", &b"x"[..]).expect("insert");
            },
            damaged,
        ),
        (
            "inbox entry is not JSON",
            |db| {
                db.open_tree("inbox").expect("tree").insert(b"em-1", &b"]"[..]).expect("insert");
            },
            damaged,
        ),
        (
            "unknown inbox key",
            |db| {
                db.open_tree("inbox").expect("tree").insert(b"xm-1", &b"{}"[..]).expect("insert");
            },
            damaged,
        ),
        (
            "format marker changed",
            |db| {
                db.insert(b"format", &b"edugate-state/99"[..]).expect("insert");
            },
            |error| matches!(error, OpenError::NotAStore { .. }),
        ),
    ];
    for (what, change, expected) in cases {
        let (_dir, path) = populated().await;
        tamper(&path, change);
        match open_all(&path) {
            Err(error) => assert!(expected(&error), "{what}: {error:?}"),
            Ok(()) => panic!("{what}: the damaged store opened"),
        }
    }
}

#[tokio::test]
async fn interrupted_removals_are_tidied_at_open() {
    let (_dir, path) = populated().await;
    // What a crash would leave between the two deletions of a purge, and a response body an earlier version kept
    // in the inbox (the response lives in its outbox item only).
    tamper(&path, |db| {
        outbox_tree(db).insert(record_key(b's', 999_999), &b"{}"[..]).expect("insert");
        db.open_tree("inbox").expect("tree").insert(b"rm-unrecorded", &b"body"[..]).expect("insert");
    });
    open_all(&path).expect("opens");
    tamper(&path, |db| {
        assert!(!outbox_tree(db).contains_key(record_key(b's', 999_999)).expect("read"));
        assert!(!db.open_tree("inbox").expect("tree").contains_key(b"rm-unrecorded").expect("read"));
    });
}

/// The outbox's tree.
fn outbox_tree(db: &sled::Db) -> sled::Tree {
    db.open_tree("outbox").expect("tree")
}

// ---- The inbox, over both backends.

/// Each inbox behaviour, as a function of an inbox.
mod inbox_behaviour {
    use super::*;

    pub async fn redelivery_finds_the_record(inbox: &dyn Inbox) {
        let first = inbox.record_received("m-1", "progress", "marks of one pupil", t(0)).await.expect("receive");
        assert_eq!((first.deliveries, first.response.is_none(), first.acked_at), (1, true, None));
        let response = inbox.record_response("m-1", "r-1", t(1)).await.expect("respond");
        assert_eq!((response.message_id.as_str(), response.recorded_at), ("r-1", t(1)));
        let again = inbox.record_received("m-1", "other kind", "other summary", t(100)).await.expect("redelivery");
        assert_eq!(
            (again.deliveries, again.kind.as_str(), again.received_at, again.last_received_at),
            (2, "progress", t(0), t(100))
        );
        assert_eq!(again.response, Some(response.clone()));
    }

    pub async fn the_first_response_is_kept(inbox: &dyn Inbox) {
        inbox.record_received("m-1", "k", "s", t(0)).await.expect("receive");
        let first = inbox.record_response("m-1", "r-1", t(1)).await.expect("respond");
        let second = inbox.record_response("m-1", "r-2", t(2)).await.expect("respond again");
        assert_eq!(second, first);
        let entry = inbox.get("m-1").await.expect("get").expect("entry");
        assert_eq!(entry.response, Some(first));
    }

    pub async fn acks_are_recorded_once(inbox: &dyn Inbox) {
        inbox.record_received("m-1", "k", "s", t(0)).await.expect("receive");
        assert_eq!(inbox.mark_acked("m-1", t(5)).await.expect("ack").acked_at, Some(t(5)));
        assert_eq!(inbox.mark_acked("m-1", t(9)).await.expect("ack again").acked_at, Some(t(5)));
    }

    pub async fn unknown_and_bad_ids_are_typed_errors(inbox: &dyn Inbox) {
        assert!(inbox.get("nobody").await.expect("get").is_none());
        assert!(matches!(inbox.record_response("nobody", "r", t(0)).await, Err(InboxError::NotFound(_))));
        assert!(matches!(inbox.mark_acked("nobody", t(0)).await, Err(InboxError::NotFound(_))));
        assert!(matches!(inbox.record_received("", "k", "s", t(0)).await, Err(InboxError::InvalidMessageId { .. })));
        let long = "x".repeat(129);
        assert!(matches!(inbox.get(&long).await, Err(InboxError::InvalidMessageId { .. })));
    }

    pub async fn prune_removes_entries_idle_since_before(inbox: &dyn Inbox) {
        inbox.record_received("old", "k", "s", t(0)).await.expect("receive");
        inbox.mark_acked("old", t(10)).await.expect("ack");
        inbox.record_received("redelivered", "k", "s", t(0)).await.expect("receive");
        inbox.record_received("redelivered", "k", "s", t(200)).await.expect("receive again");
        inbox.record_received("answered", "k", "s", t(0)).await.expect("receive");
        inbox.record_response("answered", "r", t(150)).await.expect("respond");
        assert_eq!(inbox.prune(t(100)).await.expect("prune"), 1);
        assert!(inbox.get("old").await.expect("get").is_none());
        assert!(inbox.get("redelivered").await.expect("get").is_some());
        assert!(inbox.get("answered").await.expect("get").is_some());
    }
}

/// Runs every inbox behaviour over one backend.
macro_rules! inbox_suite {
    ($backend:ident, $make:expr) => {
        mod $backend {
            use super::*;
            inbox_suite!(@each $make; redelivery_finds_the_record, the_first_response_is_kept,
                acks_are_recorded_once, unknown_and_bad_ids_are_typed_errors,
                prune_removes_entries_idle_since_before);
        }
    };
    (@each $make:expr; $($name:ident),* $(,)?) => {
        $(
            #[tokio::test]
            async fn $name() {
                let (inbox, _dir) = $make;
                inbox_behaviour::$name(&inbox).await
            }
        )*
    };
}

inbox_suite!(inbox_memory, (MemoryInbox::new(), ()));
inbox_suite!(inbox_sled, {
    let (dir, path) = state_dir();
    (SledInbox::open_path(&path).expect("open inbox"), dir)
});

#[tokio::test]
async fn the_inbox_and_outbox_share_a_directory_and_survive_reopening() {
    let (_dir, path) = populated().await;
    let state = StateDb::open(&path).expect("reopen");
    let inbox = SledInbox::open(&state).expect("inbox");
    let outbox = SledOutbox::open(&state, config()).expect("outbox");
    let entry = inbox.get("m-1").await.expect("get").expect("entry");
    let response = entry.response.expect("response");
    assert_eq!((response.message_id.as_str(), response.recorded_at), ("r-1", t(1)));
    assert_eq!(outbox.stats(t(0)).await.expect("stats").queue(Q).pending, 3);
    let before = state.flushes();
    inbox.mark_acked("m-1", t(2)).await.expect("ack");
    assert!(state.flushes() > before, "the inbox's write was flushed by the shared group commit");
}

// ---- The message store: one durable write per step of a message, over both backends.

/// The queue of acknowledgements in the store's tests.
const ACKS: &str = "ack";

/// A store under test, and the directory that keeps a sled store's files.
struct StoreRig {
    /// The backend.
    store: Box<dyn MessageStore>,
    /// The sled backend's directory, removed when the rig is dropped.
    _dir: Option<tempfile::TempDir>,
}

impl Deref for StoreRig {
    type Target = dyn MessageStore;

    fn deref(&self) -> &(dyn MessageStore + 'static) {
        &*self.store
    }
}

/// A memory store.
fn memory_store() -> StoreRig {
    let store = MemoryStore::from_parts(MemoryOutbox::new(config()).with_rng(half()), MemoryInbox::new());
    StoreRig { store: Box::new(store), _dir: None }
}

/// A sled store in a fresh directory.
fn sled_store() -> StoreRig {
    let (dir, path) = state_dir();
    StoreRig { store: Box::new(open_store(&path)), _dir: Some(dir) }
}

/// Opens the sled store at `path` with the half generator.
fn open_store(path: &Path) -> SledStore {
    SledStore::with_outbox(open_outbox(path)).expect("open store")
}

/// The request task's step of a lookup of `smev_id`: queue the response (`payload`, MessageID `response_id`) and
/// the acknowledgement, and record the response.
fn answer<'a>(smev_id: &'a str, keys: &'a [String; 2], response_id: &'a str, payload: &'a [u8]) -> Step<'a> {
    Step {
        smev_id,
        enqueue: vec![
            NewItem { queue: Q, key: &keys[0], payload },
            NewItem { queue: ACKS, key: &keys[1], payload: b"{}" },
        ],
        response_message_id: Some(response_id),
        ..Step::default()
    }
}

/// The keys of the response and of the acknowledgement of `smev_id`.
fn keys_of(smev_id: &str) -> [String; 2] {
    [format!("response:{smev_id}"), format!("ack:{smev_id}")]
}

/// Ids of the items whose key contains `text`.
async fn items_about(outbox: &dyn Outbox, text: &str) -> Vec<ItemId> {
    let filter = ListFilter { key_contains: Some(text.to_owned()), limit: 100, ..ListFilter::default() };
    outbox.list(&filter).await.expect("list").into_iter().map(|item| item.id).collect()
}

/// Each store behaviour, as a function of a store.
mod store_behaviour {
    use super::*;

    pub async fn a_lookup_takes_three_steps(store: StoreRig) {
        let keys = keys_of("m-1");
        store.received("m-1", "progress", "marks", t(0)).await.expect("received");
        let answered = store.commit(answer("m-1", &keys, "r-1", b"<response/>"), t(1)).await.expect("answer");
        assert_eq!(answered.items.iter().map(|(_, created)| *created).collect::<Vec<_>>(), vec![true, true]);
        let entry = answered.entry.expect("entry");
        assert_eq!(entry.response.as_ref().map(|r| (r.message_id.as_str(), r.recorded_at)), Some(("r-1", t(1))));
        assert_eq!(entry.acked_at, None);

        let send = store.outbox().lease(Q, "sender", 1, secs(30), t(2)).await.expect("lease").remove(0);
        assert_eq!((send.id, send.payload.as_slice()), (answered.items[0].0, &b"<response/>"[..]));
        let sent = store.commit(Step { complete: Some(&send), ..Step::default() }, t(3)).await.expect("sent");
        assert_eq!(sent, Committed { items: Vec::new(), entry: None });

        let ack = store.outbox().lease(ACKS, "acker", 1, secs(30), t(4)).await.expect("lease").remove(0);
        let acked = Step { smev_id: "m-1", complete: Some(&ack), acked: true, ..Step::default() };
        let entry = store.commit(acked, t(5)).await.expect("acked").entry.expect("entry");
        assert_eq!((entry.acked_at, entry.response.map(|r| r.message_id)), (Some(t(5)), Some("r-1".to_owned())));
        for (id, _) in answered.items {
            let item = store.outbox().get(id).await.expect("get").expect("item");
            assert!(matches!(item.state, ItemState::Completed { .. }), "{item:?}");
        }
        assert_eq!(store.inbox().get("m-1").await.expect("get").expect("entry").acked_at, Some(t(5)));
    }

    pub async fn items_are_idempotent_and_the_first_response_is_kept(store: StoreRig) {
        let keys = keys_of("m-1");
        store.received("m-1", "progress", "marks", t(0)).await.expect("received");
        let first = store.commit(answer("m-1", &keys, "r-1", b"one"), t(1)).await.expect("first");
        store.received("m-1", "progress", "marks", t(10)).await.expect("redelivered");
        let second = store.commit(answer("m-1", &keys, "r-2", b"two"), t(11)).await.expect("second");
        let ids = |committed: &Committed| committed.items.iter().map(|(id, _)| *id).collect::<Vec<_>>();
        assert_eq!(ids(&second), ids(&first));
        assert!(second.items.iter().all(|(_, created)| !created), "{second:?}");
        let entry = second.entry.expect("entry");
        assert_eq!(entry.deliveries, 2);
        assert_eq!(entry.response.map(|r| (r.message_id, r.recorded_at)), Some(("r-1".to_owned(), t(1))));
        let response = store.outbox().get(first.items[0].0).await.expect("get").expect("item");
        assert_eq!(response.payload, b"one", "the response is stored once, as first queued");
        assert_eq!(store.outbox().stats(t(11)).await.expect("stats").queue(Q).pending, 1);
    }

    pub async fn a_lost_lease_fails_the_whole_step(store: StoreRig) {
        store.received("m-1", "progress", "marks", t(0)).await.expect("received");
        let job = NewItem { queue: "call-school", key: "school:m-1", payload: b"job" };
        store.commit(Step { smev_id: "m-1", enqueue: vec![job], ..Step::default() }, t(0)).await.expect("defer");
        let lapsed = store.outbox().lease("call-school", "slow", 1, secs(10), t(1)).await.expect("lease").remove(0);
        let taken = store.outbox().lease("call-school", "fast", 1, secs(10), t(20)).await.expect("lease").remove(0);
        let keys = keys_of("m-1");
        let step = Step { complete: Some(&lapsed), acked: true, ..answer("m-1", &keys, "r-1", b"late") };
        let refused = store.commit(step, t(21)).await;
        assert!(matches!(refused, Err(StoreError::Outbox(OutboxError::StaleLease { .. }))), "{refused:?}");
        assert!(items_about(&**store.outbox(), "response:m-1").await.is_empty(), "no item of the step");
        assert!(items_about(&**store.outbox(), "ack:m-1").await.is_empty(), "no item of the step");
        let entry = store.inbox().get("m-1").await.expect("get").expect("entry");
        assert_eq!((entry.response, entry.acked_at), (None, None));
        // The worker that holds the lease now finishes the step.
        let step = Step { complete: Some(&taken), ..answer("m-1", &keys, "r-2", b"on time") };
        let done = store.commit(step, t(22)).await.expect("the holder's step");
        assert_eq!(done.entry.and_then(|entry| entry.response).map(|r| r.message_id), Some("r-2".to_owned()));
    }

    pub async fn a_refused_step_writes_nothing(store: StoreRig) {
        let keys = keys_of("nobody");
        let unknown = store.commit(answer("nobody", &keys, "r-1", b"x"), t(0)).await;
        assert!(matches!(unknown, Err(StoreError::Inbox(InboxError::NotFound(_)))), "{unknown:?}");
        store.received("m-1", "progress", "marks", t(0)).await.expect("received");
        let bad = Step {
            smev_id: "m-1",
            enqueue: vec![
                NewItem { queue: Q, key: "good", payload: b"x" },
                NewItem { queue: "", key: "k", payload: b"" },
            ],
            response_message_id: Some("r-1"),
            ..Step::default()
        };
        let refused = store.commit(bad, t(1)).await;
        assert!(matches!(refused, Err(StoreError::Outbox(OutboxError::InvalidQueue { .. }))), "{refused:?}");
        assert_eq!(store.outbox().stats(t(1)).await.expect("stats").queues.len(), 0, "no item at all");
        assert_eq!(store.inbox().get("m-1").await.expect("get").expect("entry").response, None);
        assert!(store.inbox().get("nobody").await.expect("get").is_none());
    }

    pub async fn steps_without_an_entry(store: StoreRig) {
        let push = NewItem { queue: Q, key: "status:42:enrolled", payload: b"push" };
        let pushed = store.commit(Step { enqueue: vec![push], ..Step::default() }, t(0)).await.expect("push");
        assert_eq!((pushed.items.len(), pushed.items[0].1, pushed.entry), (1, true, None));
        let again = store.commit(Step { enqueue: vec![push], ..Step::default() }, t(1)).await.expect("again");
        assert_eq!(again.items, vec![(pushed.items[0].0, false)]);
        let nothing = store.commit(Step::default(), t(2)).await.expect("an empty step");
        assert_eq!(nothing, Committed { items: Vec::new(), entry: None });
        let nameless = Step { response_message_id: Some("r-1"), ..Step::default() };
        assert!(matches!(store.commit(nameless, t(3)).await, Err(StoreError::InvalidStep { .. })));
        let nameless = Step { acked: true, ..Step::default() };
        assert!(matches!(store.commit(nameless, t(3)).await, Err(StoreError::InvalidStep { .. })));
        // A consumer's step: an entry, an ack queued, nothing recorded in the entry.
        let received = store.received("m-9", "response", "an answer", t(4)).await.expect("received");
        let ack = NewItem { queue: ACKS, key: "ack:m-9", payload: b"{}" };
        let step = Step { smev_id: "m-9", enqueue: vec![ack], ..Step::default() };
        assert_eq!(store.commit(step, t(5)).await.expect("ack queued").entry, Some(received));
    }

    pub async fn a_thread_keeps_its_first_origin_and_its_latest_push(store: StoreRig) {
        assert_eq!(store.thread("kindergarten:7").await.expect("read"), None);
        let keys = keys_of("m-1");
        store.received("m-1", "kindergarten", "application", t(0)).await.expect("received");
        let open = ThreadWrite::Open { key: "kindergarten:7", origin: b"first" };
        let step = Step { thread: Some(open), ..answer("m-1", &keys, "r-1", b"<110/>") };
        store.commit(step, t(1)).await.expect("answer and open");
        let opened = Thread { origin: b"first".to_vec(), last_push: None };
        assert_eq!(store.thread("kindergarten:7").await.expect("read"), Some(opened.clone()));

        // An edit (another request about the same order) is answered, but the thread keeps the first origin.
        let keys = keys_of("m-2");
        store.received("m-2", "kindergarten", "edit", t(2)).await.expect("received");
        let reopen = ThreadWrite::Open { key: "kindergarten:7", origin: b"second" };
        store
            .commit(Step { thread: Some(reopen), ..answer("m-2", &keys, "r-2", b"<170/>") }, t(3))
            .await
            .expect("edit");
        assert_eq!(store.thread("kindergarten:7").await.expect("read"), Some(opened));

        let push = NewItem { queue: Q, key: "push:kindergarten:1", payload: b"<120/>" };
        let pushed = ThreadWrite::Pushed { key: "kindergarten:7" };
        let step = Step { enqueue: vec![push], thread: Some(pushed), ..Step::default() };
        let first = store.commit(step, t(4)).await.expect("push").items[0].0;
        assert_eq!(store.thread("kindergarten:7").await.expect("read").expect("open").last_push, Some(first));
        let push = NewItem { queue: Q, key: "push:kindergarten:2", payload: b"<130/>" };
        let step = Step { enqueue: vec![push], thread: Some(pushed), ..Step::default() };
        let second = store.commit(step, t(5)).await.expect("push").items[0].0;
        assert_ne!(first, second);
        assert_eq!(store.thread("kindergarten:7").await.expect("read").expect("open").last_push, Some(second));
    }

    pub async fn a_push_to_a_thread_never_opened_writes_nothing(store: StoreRig) {
        let push = NewItem { queue: Q, key: "push:kindergarten:1", payload: b"<120/>" };
        let pushed = ThreadWrite::Pushed { key: "kindergarten:8" };
        let step = Step { enqueue: vec![push], thread: Some(pushed), ..Step::default() };
        let refused = store.commit(step, t(1)).await;
        assert!(matches!(&refused, Err(StoreError::NoThread { key }) if key == "kindergarten:8"), "{refused:?}");
        assert_eq!(store.outbox().stats(t(1)).await.expect("stats").queues.len(), 0, "no item at all");
        let itemless = Step { thread: Some(pushed), ..Step::default() };
        assert!(matches!(store.commit(itemless, t(2)).await, Err(StoreError::InvalidStep { .. })));
    }

    pub async fn deliveries_are_counted_and_settled(store: StoreRig) {
        let first = store.received("m-1", "progress", "marks", t(0)).await.expect("received");
        assert_eq!((first.deliveries, first.received_at), (1, t(0)));
        let second = store.received("m-1", "other", "other", t(5)).await.expect("received again");
        assert_eq!((second.deliveries, second.kind.as_str(), second.last_received_at), (2, "progress", t(5)));
        store.settle().await.expect("settle");
        assert_eq!(store.inbox().get("m-1").await.expect("get"), Some(second));
        assert!(matches!(store.received("", "k", "s", t(6)).await, Err(StoreError::Inbox(_))));
    }
}

/// Runs every store behaviour over one backend.
macro_rules! store_suite {
    ($backend:ident, $make:ident) => {
        mod $backend {
            use super::*;
            store_suite!(@each $make; a_lookup_takes_three_steps, items_are_idempotent_and_the_first_response_is_kept,
                a_lost_lease_fails_the_whole_step, a_refused_step_writes_nothing, steps_without_an_entry,
                deliveries_are_counted_and_settled, a_thread_keeps_its_first_origin_and_its_latest_push,
                a_push_to_a_thread_never_opened_writes_nothing);
        }
    };
    (@each $make:ident; $($name:ident),* $(,)?) => {
        $(
            #[tokio::test(start_paused = true)]
            async fn $name() {
                store_behaviour::$name(super::$make()).await
            }
        )*
    };
}

store_suite!(store_memory, memory_store);
store_suite!(store_sled, sled_store);

// ---- What only the sled store has: steps that survive restarts and kills whole, or not at all.

#[tokio::test]
async fn a_step_survives_reopening_and_the_next_steps_follow() {
    let (_dir, path) = state_dir();
    let keys = keys_of("m-1");
    let answered = {
        let store = open_store(&path);
        store.received("m-1", "progress", "marks", t(0)).await.expect("received");
        store.commit(answer("m-1", &keys, "r-1", b"<response/>"), t(1)).await.expect("answer")
    };
    let store = open_store(&path);
    let entry = store.inbox().get("m-1").await.expect("get").expect("entry");
    assert_eq!(entry.response.map(|r| r.message_id), Some("r-1".to_owned()));
    let again = store.commit(answer("m-1", &keys, "r-2", b"other"), t(2)).await.expect("answer again");
    assert_eq!(again.items, answered.items.iter().map(|(id, _)| (*id, false)).collect::<Vec<_>>());
    let send = store.outbox().lease(Q, "sender", 1, secs(30), t(3)).await.expect("lease").remove(0);
    assert_eq!(send.payload, b"<response/>");
    store.commit(Step { complete: Some(&send), ..Step::default() }, t(4)).await.expect("sent");
    let ack = store.outbox().lease(ACKS, "acker", 1, secs(30), t(5)).await.expect("lease").remove(0);
    let step = Step { smev_id: "m-1", complete: Some(&ack), acked: true, ..Step::default() };
    store.commit(step, t(6)).await.expect("acked");
    drop(store);
    let store = open_store(&path);
    assert_eq!(store.inbox().get("m-1").await.expect("get").expect("entry").acked_at, Some(t(6)));
    let stats = store.outbox().stats(t(7)).await.expect("stats");
    assert_eq!((stats.queue(Q).completed, stats.queue(ACKS).completed), (1, 1));
}

#[tokio::test]
async fn a_thread_survives_reopening_and_a_damaged_thread_record_is_refused() {
    let (_dir, path) = state_dir();
    let pushed = {
        let store = open_store(&path);
        store.received("m-1", "kindergarten", "application", t(0)).await.expect("received");
        let open = ThreadWrite::Open { key: "kindergarten:7", origin: b"origin" };
        store
            .commit(Step { thread: Some(open), ..answer("m-1", &keys_of("m-1"), "r-1", b"<110/>") }, t(1))
            .await
            .expect("open");
        let push = NewItem { queue: Q, key: "push:kindergarten:1", payload: b"<120/>" };
        let step = Step {
            enqueue: vec![push],
            thread: Some(ThreadWrite::Pushed { key: "kindergarten:7" }),
            ..Step::default()
        };
        store.commit(step, t(2)).await.expect("push").items[0].0
    };
    let store = open_store(&path);
    let thread = store.thread("kindergarten:7").await.expect("read").expect("open");
    assert_eq!(thread, Thread { origin: b"origin".to_vec(), last_push: Some(pushed) });
    drop(store);
    tamper(&path, |db| {
        db.open_tree("threads").expect("tree").insert(b"pkindergarten:7", &b"short"[..]).expect("damage");
    });
    let refused = SledStore::with_outbox(open_outbox(&path));
    assert!(refused.as_ref().is_err_and(|e| e.to_string().contains("threads")), "{:?}", refused.err());
}

#[tokio::test]
async fn a_delivery_not_settled_may_be_lost_in_a_crash_and_nothing_else() {
    let (dir, path) = state_dir();
    let (unsettled, settled) = (dir.path().join("unsettled"), dir.path().join("settled"));
    let keys = keys_of("m-0");
    let store = open_store(&path);
    store.received("m-0", "progress", "marks", t(0)).await.expect("received");
    store.commit(answer("m-0", &keys, "r-0", b"<response/>"), t(1)).await.expect("answer");
    store.received("m-1", "progress", "marks", t(2)).await.expect("received");
    store.received("m-0", "progress", "marks", t(3)).await.expect("redelivered");
    // The files as they are now, with the store still open, are what a crash at this moment would leave behind.
    copy_dir(&path, &unsettled);
    store.settle().await.expect("settle");
    copy_dir(&path, &settled);
    drop(store);

    let crashed = open_store(&unsettled);
    let answered = crashed.inbox().get("m-0").await.expect("get").expect("the step's entry is durable");
    assert_eq!(answered.response.map(|r| r.message_id), Some("r-0".to_owned()));
    assert!(matches!(answered.deliveries, 1 | 2), "only the count of the unsettled delivery may be lost");
    if let Some(entry) = crashed.inbox().get("m-1").await.expect("get") {
        assert_eq!((entry.deliveries, entry.response, entry.acked_at), (1, None, None));
    }
    assert_eq!(crashed.outbox().stats(t(4)).await.expect("stats").queue(Q).pending, 1);
    assert_eq!(crashed.outbox().stats(t(4)).await.expect("stats").queue(ACKS).pending, 1);

    let recovered = open_store(&settled);
    assert_eq!(recovered.inbox().get("m-1").await.expect("get").expect("settled").deliveries, 1);
    assert_eq!(recovered.inbox().get("m-0").await.expect("get").expect("entry").deliveries, 2);
}

#[tokio::test]
async fn a_step_that_changes_nothing_still_makes_the_delivery_before_it_durable() {
    let (dir, path) = state_dir();
    let copy = dir.path().join("copy");
    let keys = keys_of("m-1");
    let store = open_store(&path);
    store.received("m-1", "progress", "marks", t(0)).await.expect("received");
    store.commit(answer("m-1", &keys, "r-1", b"<response/>"), t(1)).await.expect("answer");
    store.received("m-1", "progress", "marks", t(2)).await.expect("redelivered");
    let again = store.commit(answer("m-1", &keys, "r-2", b"other"), t(3)).await.expect("the same answer");
    assert!(again.items.iter().all(|(_, created)| !created));
    copy_dir(&path, &copy);
    drop(store);
    let crashed = open_store(&copy);
    assert_eq!(crashed.inbox().get("m-1").await.expect("get").expect("entry").deliveries, 2);
}

/// Where [`killed_store_child`] works, when a test runs it as a child process.
const KILL_DIR: &str = "EDUGATE_STORE_KILL_DIR";
/// The round of the kill test, so that each child's messages have ids of their own.
const KILL_ROUND: &str = "EDUGATE_STORE_KILL_ROUND";

/// Not a test of its own: the child process of [`a_killed_store_keeps_each_step_whole`], which runs it with
/// [`KILL_DIR`] set. Producers answer requests and a worker acknowledges them, each a step, printing every step that
/// returned, until the process is killed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_store_child() {
    let Some(path) = std::env::var_os(KILL_DIR) else { return };
    let round = std::env::var(KILL_ROUND).expect("round");
    let store = Arc::new(open_store(Path::new(&path)));
    let acker = {
        let store = Arc::clone(&store);
        tokio::spawn(async move {
            loop {
                let now = SystemTime::now();
                let leases = store.outbox().lease(ACKS, "acker", 8, secs(600), now).await.expect("lease");
                if leases.is_empty() {
                    tokio::time::sleep(Duration::from_millis(1)).await;
                }
                for lease in &leases {
                    let smev_id = lease.idempotency_key.trim_start_matches("ack:").to_owned();
                    let step = Step { smev_id: &smev_id, complete: Some(lease), acked: true, ..Step::default() };
                    store.commit(step, now).await.expect("ack step");
                    println!("acked {smev_id}");
                }
            }
        })
    };
    let producers: Vec<_> = (0..4)
        .map(|producer| {
            let (store, round) = (Arc::clone(&store), round.clone());
            tokio::spawn(async move {
                for n in 0.. {
                    let smev_id = format!("m-{round}-{producer}-{n}");
                    let keys = keys_of(&smev_id);
                    let response_id = format!("r-{smev_id}");
                    let now = SystemTime::now();
                    store.received(&smev_id, "progress", "marks", now).await.expect("received");
                    let payload = vec![b'x'; 512 + n % 4096];
                    store.commit(answer(&smev_id, &keys, &response_id, &payload), now).await.expect("answer step");
                    println!("answered {smev_id}");
                }
            })
        })
        .collect();
    for producer in producers {
        producer.await.expect("producer");
    }
    acker.await.expect("acker");
}

/// Kills a process that writes steps with SIGKILL, three times, and checks after each kill that every step is on
/// disk whole or not at all, and that every step that returned is there.
#[test]
fn a_killed_store_keeps_each_step_whole() {
    use std::io::{BufRead, BufReader};
    use std::process::{Command, Stdio};
    let (_dir, path) = state_dir();
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    for round in 0..3 {
        let mut child = Command::new(std::env::current_exe().expect("test binary"))
            .args(["killed_store_child", "--exact", "--nocapture", "--test-threads=1"])
            .env(KILL_DIR, &path)
            .env(KILL_ROUND, round.to_string())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("child");
        let mut returned = Vec::new();
        for line in BufReader::new(child.stdout.take().expect("stdout")).lines() {
            let line = line.expect("line");
            if let Some(step) = line.strip_prefix("answered ").or_else(|| line.strip_prefix("acked ")) {
                returned.push((line.starts_with("acked"), step.to_owned()));
            }
            // Kill while steps are being written, at a different point each round.
            if returned.len() >= 150 + 70 * round {
                break;
            }
        }
        child.kill().expect("kill");
        child.wait().expect("reap");
        assert!(returned.len() >= 150, "the child stopped early after {} steps", returned.len());
        runtime.block_on(check_steps_whole(&path, &returned));
    }
}

/// Checks the store at `path` after a kill: the answer step of each message (response item, ack item, recorded
/// response) and its ack step (ack completed, entry acknowledged) are each there whole or not at all, and every step
/// in `returned` (acked or answered, message) is there.
async fn check_steps_whole(path: &Path, returned: &[(bool, String)]) {
    let store = open_store(path);
    let all = ListFilter { limit: usize::MAX, ..ListFilter::default() };
    let items = store.outbox().list(&all).await.expect("list");
    let item = |key: &str| items.iter().find(|item| item.idempotency_key == key).cloned();
    let mut messages = std::collections::BTreeSet::new();
    for item in &items {
        messages.insert(item.idempotency_key.split_once(':').expect("key").1.to_owned());
    }
    for (acked, smev_id) in returned {
        assert!(messages.contains(smev_id), "a step that returned is lost: {smev_id}");
        let entry = store.inbox().get(smev_id).await.expect("get").expect("entry");
        assert!(!acked || entry.acked_at.is_some(), "an ack step that returned is lost: {smev_id}");
    }
    for smev_id in &messages {
        let [response_key, ack_key] = keys_of(smev_id);
        let entry = store.inbox().get(smev_id).await.expect("get").expect("the step's entry");
        let response = item(&response_key).expect("the step's response item");
        let ack = item(&ack_key).expect("the step's ack item");
        assert_eq!(entry.response.map(|r| r.message_id), Some(format!("r-{smev_id}")), "{smev_id}");
        let ack_done = matches!(ack.state, ItemState::Completed { .. });
        assert_eq!(ack_done, entry.acked_at.is_some(), "the ack step of {smev_id} is half written: {ack:?}");
        assert!(!matches!(response.state, ItemState::Dead { .. }), "{response:?}");
    }
}
