//! Behaviour of the queue engine, run over both stores, plus the sled store's persistence and corruption handling.
//!
//! Time is a `ManualClock`: no test sleeps or looks at the wall clock.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use mock_smev::{
    Direction, Envelope, InteractionStatus, Limits, ListFilter, ManualClock, MemoryStore, MessageHeader, MessageState,
    QueueDepth, QueueError, Queues, Selector, SledStore, Store, StoreError,
};

/// The start of every test's clock: 2023-11-14T22:13:20Z.
const T0: u64 = 1_700_000_000_000;

/// A kind of data: namespace URI and root element.
type Kind = (&'static str, &'static str);

/// The default kind of data of test messages.
const ENROLLMENT: Kind = ("urn://edu/enrollment/1.0", "FormData");
/// A second kind of data, for selector tests.
const PROGRESS: Kind = ("urn://edu/progress/1.0", "ProgressRequest");

/// Where a test's engine keeps its messages; `store` may be called again to "restart" over the same data.
trait Backend {
    /// A store holding whatever earlier engines from this backend wrote. For sled the caller must have dropped
    /// the previous engine first, since sled locks its directory.
    fn store(&mut self) -> Arc<dyn Store>;
}

/// One `MemoryStore` shared by every engine the test opens, so a reopen exercises the index rebuild.
struct Memory(Arc<MemoryStore>);

impl Backend for Memory {
    fn store(&mut self) -> Arc<dyn Store> {
        self.0.clone()
    }
}

/// A sled store in a temporary directory, opened afresh on every call.
struct Sled(tempfile::TempDir);

impl Sled {
    /// The store's directory.
    fn path(&self) -> PathBuf {
        self.0.path().join("store")
    }
}

impl Backend for Sled {
    fn store(&mut self) -> Arc<dyn Store> {
        Arc::new(SledStore::open(self.path()).expect("the sled store opens"))
    }
}

/// A fresh in-memory backend.
fn memory() -> Memory {
    Memory(Arc::new(MemoryStore::new()))
}

/// A fresh sled backend.
fn sled() -> Sled {
    Sled(tempfile::tempdir().expect("a temporary directory"))
}

/// A test engine and the clock that drives it.
struct Rig {
    /// The manual clock the engine reads.
    clock: Arc<ManualClock>,
    /// The limits the engine was opened with, for reopening.
    limits: Limits,
    /// The engine under test.
    queues: Queues,
}

impl Rig {
    /// An engine over `backend` with `limits`, its clock at `T0`.
    fn new(backend: &mut dyn Backend, limits: Limits) -> Rig {
        let clock = Arc::new(ManualClock::new(T0));
        let queues = Queues::open(backend.store(), clock.clone(), limits.clone()).expect("the engine opens");
        Rig { clock, limits, queues }
    }

    /// An engine over `backend` with the default limits.
    fn default(backend: &mut dyn Backend) -> Rig {
        Rig::new(backend, Limits::default())
    }

    /// Drops the engine and opens a new one over the same backend and clock, as after a restart.
    fn restart(self, backend: &mut dyn Backend) -> Rig {
        let Rig { clock, limits, queues } = self;
        drop(queues);
        let queues = Queues::open(backend.store(), clock.clone(), limits.clone()).expect("the engine reopens");
        Rig { clock, limits, queues }
    }

    /// Moves the clock by `ms` milliseconds.
    fn advance(&self, ms: u64) {
        self.clock.advance(Duration::from_millis(ms));
    }

    /// Sends `envelope`, which must be accepted.
    fn send_ok(&self, envelope: Envelope) {
        let id = envelope.header.message_id.clone();
        self.queues.send(envelope).unwrap_or_else(|error| panic!("send of {id} refused: {error}"));
    }

    /// The id of the next message `recipient` receives from `direction` (optionally of `kind`), or `None`.
    fn next(&self, recipient: &str, direction: Direction, kind: Option<Kind>) -> Option<String> {
        let selector = kind.map(|(namespace_uri, root_element)| Selector { namespace_uri, root_element });
        let message = self.queues.receive(recipient, direction, selector).expect("receive works");
        message.map(|message| message.record.header.message_id)
    }

    /// The next request for `provider`, any kind.
    fn next_request(&self, provider: &str) -> Option<String> {
        self.next(provider, Direction::Request, None)
    }

    /// Acknowledges `id` as `recipient`, which must succeed.
    fn ack_ok(&self, recipient: &str, id: &str) {
        self.queues.ack(recipient, id, true).unwrap_or_else(|error| panic!("ack of {id} by {recipient}: {error}"));
    }

    /// The statuses of `id`, without timestamps.
    fn statuses(&self, id: &str) -> Vec<InteractionStatus> {
        self.queues.status(id).into_iter().map(|entry| entry.status).collect()
    }
}

/// A request of the default kind.
fn request(id: &str, sender: &str, recipient: &str) -> Envelope {
    envelope(id, Direction::Request, sender, recipient, None, ENROLLMENT)
}

/// A request of `kind`.
fn request_of(id: &str, sender: &str, recipient: &str, kind: Kind) -> Envelope {
    envelope(id, Direction::Request, sender, recipient, None, kind)
}

/// A response from `sender` to the request `original`; its recipient is left for the engine to route.
fn response(id: &str, sender: &str, original: &str) -> Envelope {
    envelope(id, Direction::Response, sender, "", Some(original), ENROLLMENT)
}

/// A message whose payload names its id, so payload round trips can be checked.
fn envelope(
    id: &str,
    direction: Direction,
    sender: &str,
    recipient: &str,
    original: Option<&str>,
    (namespace_uri, root_element): Kind,
) -> Envelope {
    Envelope {
        header: MessageHeader {
            message_id: id.to_owned(),
            direction,
            sender: sender.to_owned(),
            recipient: recipient.to_owned(),
            namespace_uri: namespace_uri.to_owned(),
            root_element: root_element.to_owned(),
            original_message_id: original.map(str::to_owned),
            reference_message_id: None,
            test_message: false,
            sending_timestamp_ms: T0 - 5,
        },
        payload: payload_of(id),
    }
}

/// The payload test messages carry.
fn payload_of(id: &str) -> Vec<u8> {
    format!("<Content xmlns=\"urn://test\">{id}</Content>").into_bytes()
}

/// Limits small enough to reach in a test.
fn tight(visibility_ms: u64, max_pending: usize, quota: u32) -> Limits {
    Limits {
        visibility_timeout: Duration::from_millis(visibility_ms),
        destination_max_pending: max_pending,
        quota_per_minute: quota,
    }
}

/// The engine-independent behaviour every store must give; each function is one test, run per store below.
mod behaviour {
    use super::*;

    pub fn fifo_per_recipient(backend: &mut dyn Backend) {
        let rig = Rig::default(backend);
        let sends = [("a1", "PROV_A"), ("b1", "PROV_B"), ("a2", "PROV_A"), ("a3", "PROV_A"), ("b2", "PROV_B")];
        for (id, provider) in sends {
            rig.send_ok(request(id, "CONSUMER", provider));
        }
        // Each step: who polls, and what it must get.
        let steps = [
            ("PROV_B", Some("b1")),
            ("PROV_A", Some("a1")),
            ("PROV_A", Some("a2")),
            ("PROV_B", Some("b2")),
            ("PROV_B", None),
            ("PROV_A", Some("a3")),
            ("PROV_A", None),
            ("CONSUMER", None),
        ];
        for (step, (provider, expected)) in steps.into_iter().enumerate() {
            assert_eq!(rig.next_request(provider).as_deref(), expected, "step {step}: {provider}");
        }
        // Requests and responses are separate queues: nothing sent was a response.
        assert_eq!(rig.next("PROV_A", Direction::Response, None), None);
    }

    pub fn fifo_per_selector(backend: &mut dyn Backend) {
        let rig = Rig::default(backend);
        let sends = [("e1", ENROLLMENT), ("p1", PROGRESS), ("e2", ENROLLMENT), ("p2", PROGRESS), ("e3", ENROLLMENT)];
        for (id, kind) in sends {
            rig.send_ok(request_of(id, "PORTAL", "SCHOOLS", kind));
        }
        let steps = [
            (Some(PROGRESS), Some("p1")),
            (Some(PROGRESS), Some("p2")),
            (Some(PROGRESS), None),
            (None, Some("e1")),
            (Some(ENROLLMENT), Some("e2")),
            (Some(("urn://edu/enrollment/1.0", "OtherRoot")), None),
            (Some(("urn://other", "FormData")), None),
            (None, Some("e3")),
            (None, None),
        ];
        for (step, (kind, expected)) in steps.into_iter().enumerate() {
            assert_eq!(rig.next("SCHOOLS", Direction::Request, kind).as_deref(), expected, "step {step}");
        }
    }

    pub fn delivery_carries_the_message(backend: &mut dyn Backend) {
        let rig = Rig::default(backend);
        let mut sent = request_of("m1", "PORTAL", "SCHOOLS", PROGRESS);
        sent.header.reference_message_id = Some("ref-1".to_owned());
        sent.header.test_message = true;
        let receipt = rig.queues.send(sent.clone()).expect("send");
        assert_eq!(receipt.status, InteractionStatus::RequestIsQueued);
        assert_eq!((receipt.accepted_ms, receipt.recipient.as_str()), (T0, "SCHOOLS"));
        rig.advance(7);
        let got = rig.queues.receive("SCHOOLS", Direction::Request, None).expect("receive").expect("a message");
        assert_eq!(got.payload, sent.payload);
        assert_eq!(got.record.header, sent.header);
        assert_eq!(got.record.sequence, receipt.sequence);
        assert_eq!(got.record.payload_len, sent.payload.len());
        assert_eq!((got.record.delivery_count, got.record.last_delivery_ms), (1, Some(T0 + 7)));
        assert_eq!(got.record.invisible_until_ms, T0 + 7 + 30_000);
    }

    pub fn redelivery_after_visibility_timeout(backend: &mut dyn Backend) {
        let rig = Rig::new(backend, tight(1_000, 100, 100));
        rig.send_ok(request("m1", "C", "P"));
        rig.send_ok(request("m2", "C", "P"));
        // Each step: milliseconds to advance, then the message P must get (or none).
        let steps: [(u64, Option<&str>); 9] = [
            (0, Some("m1")), // t=0: m1 hidden until 1000
            (0, Some("m2")), // m2 hidden until 1000
            (0, None),       // everything in flight
            (999, None),     // t=999: one millisecond early
            (1, Some("m1")), // t=1000: m1 again, before m2
            (0, Some("m2")), // then m2
            (500, None),     // t=1500
            (499, None),     // t=1999
            (1, Some("m1")), // t=2000: third delivery
        ];
        for (step, (advance, expected)) in steps.into_iter().enumerate() {
            rig.advance(advance);
            assert_eq!(rig.next_request("P").as_deref(), expected, "step {step}");
        }
        let m1 = rig.queues.get("m1").expect("get").expect("m1 exists");
        assert_eq!((m1.record.delivery_count, m1.record.last_delivery_ms), (3, Some(T0 + 2_000)));
        // Redeliveries do not grow the history: one `messageIsDelivered` however often.
        assert_eq!(rig.statuses("m1"), [InteractionStatus::RequestIsQueued, InteractionStatus::MessageIsDelivered]);
    }

    pub fn redelivery_keeps_order_with_later_messages(backend: &mut dyn Backend) {
        let rig = Rig::new(backend, tight(1_000, 100, 100));
        rig.send_ok(request("m1", "C", "P"));
        assert_eq!(rig.next_request("P").as_deref(), Some("m1"));
        rig.send_ok(request("m2", "C", "P"));
        rig.send_ok(request("m3", "C", "P"));
        assert_eq!(rig.next_request("P").as_deref(), Some("m2"));
        rig.advance(1_000);
        // m1 and m2 are visible again and older than m3.
        let order: Vec<_> = std::iter::from_fn(|| rig.next_request("P")).collect();
        assert_eq!(order, ["m1", "m2", "m3"]);
    }

    pub fn ack_stops_redelivery(backend: &mut dyn Backend) {
        let rig = Rig::new(backend, tight(1_000, 100, 100));
        for id in ["m1", "m2", "m3"] {
            rig.send_ok(request(id, "C", "P"));
        }
        assert_eq!(rig.next_request("P").as_deref(), Some("m1"));
        assert_eq!(rig.next_request("P").as_deref(), Some("m2"));
        rig.ack_ok("P", "m1");
        rig.advance(1_000);
        assert_eq!(rig.next_request("P").as_deref(), Some("m2"));
        assert_eq!(rig.next_request("P").as_deref(), Some("m3"));
        // An ack after the timeout ran out (m2 is visible again) still takes the message off the queue.
        rig.advance(5_000);
        rig.ack_ok("P", "m2");
        assert_eq!(rig.next_request("P").as_deref(), Some("m3"));
        rig.queues.ack("P", "m3", false).expect("a refusing ack is still an ack");
        rig.advance(1_000_000);
        assert_eq!(rig.next_request("P"), None);
        let refused = rig.queues.get("m3").expect("get").expect("m3 is kept");
        assert_eq!(refused.record.ack.map(|ack| ack.accepted), Some(false));
    }

    pub fn duplicates_are_refused(backend: &mut dyn Backend) {
        let rig = Rig::default(backend);
        rig.send_ok(request("r1", "C1", "P"));
        rig.send_ok(request("r2", "C1", "P"));
        assert_eq!(rig.next_request("P").as_deref(), Some("r1"));
        rig.ack_ok("P", "r1");
        rig.send_ok(response("s1", "P", "r1"));
        // Each case: the envelope, and whether it is a duplicate.
        let cases = [
            (request("r1", "C1", "P"), true),     // acknowledged already
            (request("r2", "C1", "P"), true),     // still queued
            (request("r2", "C1", "OTHER"), true), // the recipient does not matter
            (response("s1", "P", "r1"), true),    // responses too
            (request("r2", "C2", "P"), false),    // another sender may use the same id
            (response("r1", "P", "r1"), false),   // P never sent an r1
        ];
        for (case, (envelope, duplicate)) in cases.into_iter().enumerate() {
            let (sender, id) = (envelope.header.sender.clone(), envelope.header.message_id.clone());
            match rig.queues.send(envelope) {
                Err(QueueError::MessageIsAlreadySent { sender: s, message_id: m }) if duplicate => {
                    assert_eq!((s, m), (sender, id), "case {case}");
                }
                Ok(_) if !duplicate => {}
                other => panic!("case {case}: {other:?}"),
            }
        }
        // A refused duplicate changed nothing: P still has exactly r2 (from C1), then r2 (from C2).
        assert_eq!(rig.next_request("P").as_deref(), Some("r2"));
        assert_eq!(rig.next_request("P").as_deref(), Some("r2"));
        assert_eq!(rig.next_request("P"), None);
    }

    pub fn bad_acks_are_target_not_found(backend: &mut dyn Backend) {
        let rig = Rig::default(backend);
        for id in ["delivered", "queued", "acked", "for_q"] {
            let recipient = if id == "for_q" { "Q" } else { "P" };
            rig.send_ok(request(id, "C", recipient));
        }
        assert_eq!(rig.next_request("P").as_deref(), Some("delivered"));
        assert_eq!(rig.next_request("P").as_deref(), Some("queued"));
        assert_eq!(rig.next_request("P").as_deref(), Some("acked"));
        rig.ack_ok("P", "acked");
        assert_eq!(rig.next_request("Q").as_deref(), Some("for_q"));
        // Each case: who acks which id.
        let cases = [
            ("P", "unknown"),   // never sent
            ("C", "delivered"), // the sender is not the recipient
            ("Q", "delivered"), // someone else's message
            ("P", "acked"),     // acknowledged twice
            ("P", "for_q"),     // Q's message
            ("", "delivered"),  // nobody
        ];
        for (acker, id) in cases {
            for accepted in [true, false] {
                match rig.queues.ack(acker, id, accepted) {
                    Err(QueueError::TargetMessageIsNotFound { message_id }) => assert_eq!(message_id, id),
                    other => panic!("{acker} acking {id}: {other:?}"),
                }
            }
        }
        // "queued" was delivered above, so it can be acked; a message never delivered cannot.
        rig.send_ok(request("fresh", "C", "P"));
        assert!(matches!(rig.queues.ack("P", "fresh", true), Err(QueueError::TargetMessageIsNotFound { .. })));
        // The refused acks changed nothing: the legitimate ones still work.
        rig.ack_ok("P", "delivered");
        rig.ack_ok("Q", "for_q");
    }

    pub fn destination_overflow_and_recovery(backend: &mut dyn Backend) {
        let rig = Rig::new(backend, tight(1_000, 3, 1_000));
        for id in ["m1", "m2", "m3"] {
            rig.send_ok(request(id, "C", "P"));
        }
        match rig.queues.send(request("m4", "C", "P")) {
            Err(QueueError::DestinationOverflow { recipient, direction, limit }) => {
                assert_eq!((recipient.as_str(), direction, limit), ("P", Direction::Request, 3));
            }
            other => panic!("expected DestinationOverflow, got {other:?}"),
        }
        // Other queues are unaffected: another recipient, and P's own response queue.
        rig.send_ok(request("q1", "C", "Q"));
        rig.send_ok(request("to_c", "P", "C"));
        assert_eq!(rig.next_request("C").as_deref(), Some("to_c"));
        rig.send_ok(response("back_to_p", "C", "to_c"));
        // Delivered but unacknowledged messages still count.
        assert_eq!(rig.next_request("P").as_deref(), Some("m1"));
        assert!(matches!(rig.queues.send(request("m4", "C", "P")), Err(QueueError::DestinationOverflow { .. })));
        // Draining one makes room for one.
        rig.ack_ok("P", "m1");
        rig.send_ok(request("m4", "C", "P"));
        assert!(matches!(rig.queues.send(request("m5", "C", "P")), Err(QueueError::DestinationOverflow { .. })));
    }

    pub fn quota_and_recovery(backend: &mut dyn Backend) {
        let rig = Rig::new(backend, tight(1_000, 1_000, 3));
        // Each step: milliseconds to advance, the sender, and whether its send is accepted. The window slides:
        // a send counts for exactly 60 s after it was accepted.
        let steps: [(u64, &str, bool); 11] = [
            (0, "C", true),       // t=0
            (10_000, "C", true),  // t=10s
            (10_000, "C", true),  // t=20s: three in the window
            (0, "C", false),      // a fourth is refused
            (0, "D", true),       // other senders have their own quota
            (39_999, "C", false), // t=59.999s: the first still counts
            (1, "C", true),       // t=60s: the first left the window
            (0, "C", false),      // the refused sends did not count, but the window is full again
            (9_999, "C", false),  // t=69.999s
            (1, "C", true),       // t=70s: the second left
            (20_000, "C", true),  // t=90s: the third left
        ];
        for (step, (advance, sender, accepted)) in steps.into_iter().enumerate() {
            rig.advance(advance);
            let result = rig.queues.send(request(&format!("m{step}"), sender, "P"));
            match result {
                Ok(_) if accepted => {}
                Err(QueueError::QuoteLimitExceeded { sender: s, limit: 3 }) if !accepted => assert_eq!(s, sender),
                other => panic!("step {step}: {other:?}"),
            }
        }
    }

    pub fn responses_route_to_the_original_consumer(backend: &mut dyn Backend) {
        let rig = Rig::default(backend);
        rig.send_ok(request("req_c1", "C1", "P"));
        rig.send_ok(request("req_c2", "C2", "P"));
        rig.send_ok(request("req_q", "C1", "Q"));
        // The response's own recipient field is ignored: routing follows OriginalMessageId.
        let mut misaddressed = response("resp_c2", "P", "req_c2");
        misaddressed.header.recipient = "C1".to_owned();
        let receipt = rig.queues.send(misaddressed).expect("response to a known request");
        assert_eq!(receipt.recipient, "C2");
        assert_eq!(receipt.status, InteractionStatus::ResponseIsQueued);
        rig.send_ok(response("resp_c1", "P", "req_c1"));
        assert_eq!(rig.next("C1", Direction::Response, None).as_deref(), Some("resp_c1"));
        assert_eq!(rig.next("C1", Direction::Response, None), None);
        assert_eq!(rig.next("C2", Direction::Response, None).as_deref(), Some("resp_c2"));
        assert_eq!(rig.next("P", Direction::Response, None), None);
        // A response must answer a request addressed to its sender.
        let cases = [
            response("x1", "P", "unknown"), // no such request
            response("x2", "P", "req_q"),   // a request for Q, not P
            response("x3", "C1", "req_c1"), // the consumer cannot answer its own request
            response("x4", "P", "resp_c1"), // a response is not a request
            {
                let mut orphan = response("x5", "P", "req_c1");
                orphan.header.original_message_id = None;
                orphan
            },
        ];
        for envelope in cases {
            let id = envelope.header.message_id.clone();
            let result = rig.queues.send(envelope);
            assert!(matches!(result, Err(QueueError::TargetMessageIsNotFound { .. })), "{id}: {result:?}");
            assert_eq!(rig.queues.current_status(&id), InteractionStatus::DoesNotExist, "{id}");
        }
        // The refused responses left nothing behind and used no message ids.
        rig.send_ok(response("x1", "P", "req_c1"));
    }

    pub fn status_history(backend: &mut dyn Backend) {
        use InteractionStatus::*;
        let rig = Rig::default(backend);
        rig.send_ok(request("req", "C", "P"));
        rig.advance(10);
        assert_eq!(rig.next_request("P").as_deref(), Some("req"));
        rig.advance(10);
        rig.ack_ok("P", "req");
        assert_eq!(rig.statuses("req"), [RequestIsQueued, MessageIsDelivered]);
        rig.advance(10);
        rig.send_ok(response("status", "P", "req"));
        rig.advance(10);
        rig.send_ok(response("final", "P", "req"));
        rig.advance(10);
        assert_eq!(rig.next("C", Direction::Response, None).as_deref(), Some("status"));
        rig.advance(10);
        rig.ack_ok("C", "status");
        assert_eq!(rig.next("C", Direction::Response, None).as_deref(), Some("final"));
        rig.queues.ack("C", "final", false).expect("refusing ack");
        let history: Vec<_> = rig.queues.status("req").into_iter().map(|e| (e.at_ms - T0, e.status)).collect();
        assert_eq!(
            history,
            [
                (0, RequestIsQueued),
                (10, MessageIsDelivered),
                (30, RequestIsProcessed),
                (30, ResponseIsQueued),
                (40, ResponseIsQueued),
                (60, ResponseIsProcessed),
            ]
        );
        let status: Vec<_> = rig.queues.status("status").into_iter().map(|e| (e.at_ms - T0, e.status)).collect();
        assert_eq!(status, [(30, ResponseIsQueued), (50, MessageIsDelivered), (60, ResponseIsProcessed)]);
        // A refusing ack adds no status.
        assert_eq!(rig.statuses("final"), [ResponseIsQueued, MessageIsDelivered]);
        assert_eq!(rig.queues.current_status("req"), ResponseIsProcessed);
        assert!(rig.queues.status("unknown").is_empty());
        assert_eq!(rig.queues.current_status("unknown"), DoesNotExist);
    }

    pub fn control_api(backend: &mut dyn Backend) {
        let rig = Rig::new(backend, tight(1_000, 100, 100));
        for (id, sender, recipient) in [("m1", "C", "P"), ("m2", "C", "P"), ("m3", "D", "P"), ("m4", "C", "Q")] {
            rig.send_ok(request(id, sender, recipient));
        }
        assert_eq!(rig.next_request("P").as_deref(), Some("m1"));
        assert_eq!(rig.next_request("P").as_deref(), Some("m2"));
        rig.ack_ok("P", "m2");
        let ids = |filter: ListFilter| -> Vec<String> {
            rig.queues.list(&filter).into_iter().map(|summary| summary.record.header.message_id).collect()
        };
        let by_state = |state| ListFilter { state: Some(state), ..ListFilter::default() };
        assert_eq!(ids(ListFilter::default()), ["m1", "m2", "m3", "m4"]);
        assert_eq!(ids(ListFilter { sender: Some("D".to_owned()), ..ListFilter::default() }), ["m3"]);
        assert_eq!(ids(ListFilter { recipient: Some("Q".to_owned()), ..ListFilter::default() }), ["m4"]);
        assert!(ids(ListFilter { direction: Some(Direction::Response), ..ListFilter::default() }).is_empty());
        assert_eq!(ids(by_state(MessageState::Queued)), ["m3", "m4"]);
        assert_eq!(ids(by_state(MessageState::Delivered)), ["m1"]);
        assert_eq!(ids(by_state(MessageState::Acknowledged)), ["m2"]);
        let depth = |recipient: &str, pending, deliverable| QueueDepth {
            recipient: recipient.to_owned(),
            direction: Direction::Request,
            pending,
            deliverable,
        };
        assert_eq!(rig.queues.queue_depths(), [depth("P", 2, 1), depth("Q", 1, 1)]);
        rig.advance(1_000);
        assert_eq!(rig.queues.queue_depths(), [depth("P", 2, 2), depth("Q", 1, 1)]);
        let m3 = rig.queues.get("m3").expect("get").expect("m3 exists");
        assert_eq!((m3.payload, m3.record.header.sender.as_str()), (payload_of("m3"), "D"));
        assert_eq!(rig.queues.get("nothing").expect("get"), None);

        rig.queues.reset().expect("reset");
        assert!(rig.queues.list(&ListFilter::default()).is_empty());
        assert!(rig.queues.queue_depths().is_empty());
        assert_eq!(rig.next_request("P"), None);
        assert!(rig.queues.status("m1").is_empty());
        // Duplicate detection starts over too.
        rig.send_ok(request("m1", "C", "P"));
        assert_eq!(rig.next_request("P").as_deref(), Some("m1"));
    }

    pub fn restart_keeps_everything(backend: &mut dyn Backend) {
        let rig = Rig::new(backend, tight(1_000, 100, 100));
        for id in ["acked", "in_flight", "queued_1", "queued_2"] {
            rig.send_ok(request(id, "C", "P"));
        }
        assert_eq!(rig.next_request("P").as_deref(), Some("acked"));
        rig.ack_ok("P", "acked");
        assert_eq!(rig.next_request("P").as_deref(), Some("in_flight"));
        rig.send_ok(response("answer", "P", "in_flight"));
        rig.advance(400);
        let before = rig.queues.list(&ListFilter::default());
        let depths = rig.queues.queue_depths();

        let rig = rig.restart(backend);
        assert_eq!(rig.queues.list(&ListFilter::default()), before);
        assert_eq!(rig.queues.queue_depths(), depths);
        // Duplicates are still detected, acknowledged or not.
        for id in ["acked", "in_flight", "queued_2"] {
            let result = rig.queues.send(request(id, "C", "P"));
            assert!(matches!(result, Err(QueueError::MessageIsAlreadySent { .. })), "{id}: {result:?}");
        }
        // The in-flight message keeps its visibility deadline (T0 + 1000): the queued ones come first.
        assert_eq!(rig.next_request("P").as_deref(), Some("queued_1"));
        rig.advance(600);
        assert_eq!(rig.next_request("P").as_deref(), Some("in_flight"));
        assert_eq!(rig.next_request("P").as_deref(), Some("queued_2"));
        assert_eq!(rig.next_request("P"), None);
        assert_eq!(rig.next("C", Direction::Response, None).as_deref(), Some("answer"));
        // New messages continue the arrival order after the stored ones.
        rig.send_ok(request("after", "C", "P"));
        let sequences: Vec<u64> = rig.queues.list(&ListFilter::default()).iter().map(|s| s.record.sequence).collect();
        assert!(sequences.windows(2).all(|pair| pair[0] < pair[1]), "{sequences:?}");
        let payload = rig.queues.get("queued_2").expect("get").expect("exists").payload;
        assert_eq!(payload, payload_of("queued_2"));
    }

    pub fn concurrent_senders_and_receivers(backend: &mut dyn Backend) {
        const SENDERS: usize = 4;
        const PER_SENDER: usize = 25;
        let rig = Rig::default(backend);
        let queues = &rig.queues;
        let received = std::thread::scope(|scope| {
            for sender in 0..SENDERS {
                scope.spawn(move || {
                    for n in 0..PER_SENDER {
                        let id = format!("s{sender}-{n}");
                        queues.send(request(&id, &format!("C{sender}"), "P")).expect("send");
                    }
                });
            }
            let receivers: Vec<_> = (0..3)
                .map(|_| {
                    scope.spawn(move || {
                        let mut got = Vec::new();
                        // Bounded: the senders send SENDERS * PER_SENDER messages in all.
                        for _ in 0..SENDERS * PER_SENDER * 50 {
                            if let Some(message) = queues.receive("P", Direction::Request, None).expect("receive") {
                                let header = message.record.header;
                                queues.ack("P", &header.message_id, true).expect("ack");
                                got.push(header.message_id);
                            }
                        }
                        got
                    })
                })
                .collect();
            receivers.into_iter().flat_map(|receiver| receiver.join().expect("receiver")).collect::<Vec<_>>()
        });
        // Whatever the receivers missed while senders were still busy is drained here.
        let mut all = received;
        while let Some(id) = rig.next_request("P") {
            rig.ack_ok("P", &id);
            all.push(id);
        }
        all.sort();
        let mut expected: Vec<String> =
            (0..SENDERS).flat_map(|s| (0..PER_SENDER).map(move |n| format!("s{s}-{n}"))).collect();
        expected.sort();
        assert_eq!(all, expected, "every message delivered exactly once");
        // Each sender's messages were queued in its own sending order.
        let order = rig.queues.list(&ListFilter { sender: Some("C0".to_owned()), ..ListFilter::default() });
        let ids: Vec<_> = order.iter().map(|summary| summary.record.header.message_id.clone()).collect();
        assert_eq!(ids, (0..PER_SENDER).map(|n| format!("s0-{n}")).collect::<Vec<_>>());
    }
}

/// Runs every behaviour test against the backend `$backend` makes, in a module named `$name`.
macro_rules! behaviour_suite {
    ($name:ident, $backend:expr) => {
        mod $name {
            use super::*;

            behaviour_suite!(@tests $backend;
                fifo_per_recipient,
                fifo_per_selector,
                delivery_carries_the_message,
                redelivery_after_visibility_timeout,
                redelivery_keeps_order_with_later_messages,
                ack_stops_redelivery,
                duplicates_are_refused,
                bad_acks_are_target_not_found,
                destination_overflow_and_recovery,
                quota_and_recovery,
                responses_route_to_the_original_consumer,
                status_history,
                control_api,
                restart_keeps_everything,
                concurrent_senders_and_receivers,
            );
        }
    };
    (@tests $backend:expr; $($test:ident),* $(,)?) => {
        $(
            #[test]
            fn $test() {
                behaviour::$test(&mut $backend);
            }
        )*
    };
}

behaviour_suite!(memory_store, memory());
behaviour_suite!(sled_store, sled());

#[test]
fn queues_can_be_shared_between_threads() {
    fn shareable<T: Send + Sync + 'static>() {}
    shareable::<Queues>();
    shareable::<Arc<Queues>>();
}

#[test]
fn sled_persists_every_status_and_payload_across_reopen() {
    let mut backend = sled();
    let rig = Rig::default(&mut backend);
    rig.send_ok(request("req", "C", "P"));
    assert_eq!(rig.next_request("P").as_deref(), Some("req"));
    rig.ack_ok("P", "req");
    rig.send_ok(response("resp", "P", "req"));
    let request_history = rig.queues.status("req");
    let rig = rig.restart(&mut backend);
    assert_eq!(rig.queues.status("req"), request_history);
    let answer = rig.queues.receive("C", Direction::Response, None).expect("receive").expect("the response");
    assert_eq!(answer.payload, payload_of("resp"));
    rig.ack_ok("C", "resp");
    // Reopened twice: the ack made after the first reopen is durable too.
    let rig = rig.restart(&mut backend);
    assert_eq!(rig.queues.current_status("resp"), InteractionStatus::ResponseIsProcessed);
    assert_eq!(rig.next("C", Direction::Response, None), None);
    assert!(matches!(rig.queues.ack("C", "resp", true), Err(QueueError::TargetMessageIsNotFound { .. })));
}

#[test]
fn sled_reset_is_durable() {
    let mut backend = sled();
    let rig = Rig::default(&mut backend);
    rig.send_ok(request("m1", "C", "P"));
    rig.queues.reset().expect("reset");
    let rig = rig.restart(&mut backend);
    assert!(rig.queues.list(&ListFilter::default()).is_empty());
    rig.send_ok(request("m1", "C", "P"));
}

/// Files under `dir`, recursively.
fn files_in(dir: &std::path::Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).expect("readable directory") {
        let path = entry.expect("directory entry").path();
        if path.is_dir() {
            files.extend(files_in(&path));
        } else {
            files.push(path);
        }
    }
    files
}

/// A sled store directory holding a few messages, closed.
fn populated_sled() -> Sled {
    let mut backend = sled();
    let rig = Rig::default(&mut backend);
    for id in ["m1", "m2", "m3"] {
        rig.send_ok(request(id, "C", "P"));
    }
    drop(rig);
    backend
}

#[test]
fn corrupt_sled_files_fail_to_open() {
    // Each case: which files to damage, and how.
    type Damage = fn(&[u8]) -> Vec<u8>;
    let garbage: Damage = |bytes| vec![0x5a; bytes.len().max(4096)];
    let flipped: Damage = |bytes| bytes.iter().enumerate().map(|(i, b)| if i % 7 == 3 { !b } else { *b }).collect();
    let truncated: Damage = |_| Vec::new();
    type Chooser = fn(&str) -> bool;
    let cases: [(&str, Chooser, Damage); 5] = [
        ("every file replaced by garbage", |_| true, garbage),
        ("db replaced by garbage", |name| name == "db", garbage),
        ("conf replaced by garbage", |name| name == "conf", garbage),
        ("db bits flipped", |name| name == "db", flipped),
        ("db and snapshots emptied", |name| name == "db" || name.starts_with("snap."), truncated),
    ];
    for (what, chosen, damage) in cases {
        let backend = populated_sled();
        for file in files_in(&backend.path()) {
            let name = file.file_name().and_then(|name| name.to_str()).unwrap_or_default().to_owned();
            if chosen(&name) {
                let bytes = std::fs::read(&file).expect("readable file");
                std::fs::write(&file, damage(&bytes)).expect("writable file");
            }
        }
        let opened = SledStore::open(backend.path()).and_then(|store| {
            let clock = Arc::new(ManualClock::new(T0));
            Queues::open(Arc::new(store), clock, Limits::default()).map(|_| ())
        });
        match opened {
            Err(error) => assert!(!error.to_string().is_empty(), "{what}"),
            Ok(()) => panic!("{what}: the damaged store opened"),
        }
    }
}

#[test]
fn foreign_directories_are_not_stores() {
    let dir = tempfile::tempdir().expect("temporary directory");
    std::fs::write(dir.path().join("notes.txt"), "not a store").expect("write");
    assert!(matches!(SledStore::open(dir.path()), Err(StoreError::NotAStore { .. })));
    let file = dir.path().join("notes.txt");
    assert!(matches!(SledStore::open(&file), Err(StoreError::NotAStore { .. })));
}

#[test]
fn a_store_open_elsewhere_is_refused() {
    let backend = sled();
    let _first = SledStore::open(backend.path()).expect("first open");
    let second = SledStore::open_with_lock_wait(backend.path(), Duration::from_millis(50));
    assert!(matches!(second, Err(StoreError::Locked { .. })), "{second:?}");
}

/// Opens the raw sled database of `backend` to damage one record.
fn tamper(backend: &Sled, change: impl FnOnce(&sled::Db)) {
    // sled releases a dropped database's lock a moment after the drop, so the raw open retries for a while, like
    // `SledStore::open` does.
    let open = || sled::Config::new().path(backend.path()).flush_every_ms(None).open();
    let retry = |_| match open() {
        Ok(db) => Some(db),
        Err(_) => {
            std::thread::sleep(Duration::from_millis(10));
            None
        }
    };
    let db = (0..200).find_map(retry).expect("raw open");
    change(&db);
    db.flush().expect("flush");
}

/// The key the store uses for `prefix` and `sequence`.
fn raw_key(prefix: u8, sequence: u64) -> Vec<u8> {
    let mut key = vec![prefix];
    key.extend_from_slice(&sequence.to_be_bytes());
    key
}

#[test]
fn damaged_records_fail_the_engine_open() {
    // Each case: what is done to the raw store, and the error the engine must open with.
    type Tamper = fn(&sled::Db);
    type Expected = fn(&StoreError) -> bool;
    let cases: [(&str, Tamper, Expected); 5] = [
        (
            "record is not JSON",
            |db| {
                db.insert(raw_key(b'm', 2), &b"{not json"[..]).expect("insert");
            },
            |error| matches!(error, StoreError::Corrupt { .. }),
        ),
        (
            "record under another sequence",
            |db| {
                let record = db.get(raw_key(b'm', 1)).expect("get").expect("record 1");
                db.insert(raw_key(b'm', 2), record).expect("insert");
            },
            |error| matches!(error, StoreError::Corrupt { .. }),
        ),
        (
            "payload removed",
            |db| {
                db.remove(raw_key(b'p', 3)).expect("remove");
            },
            |error| matches!(error, StoreError::MissingPayload { sequence: 3 }),
        ),
        (
            "unknown key",
            |db| {
                db.insert(b"stray", &b"x"[..]).expect("insert");
            },
            |error| matches!(error, StoreError::Corrupt { .. }),
        ),
        (
            "format marker changed",
            |db| {
                db.insert(b"format", &b"mock-smev-store/99"[..]).expect("insert");
            },
            |error| matches!(error, StoreError::NotAStore { .. }),
        ),
    ];
    for (what, change, expected) in cases {
        let backend = populated_sled();
        tamper(&backend, change);
        let opened = SledStore::open(backend.path()).and_then(|store| {
            Queues::open(Arc::new(store), Arc::new(ManualClock::new(T0)), Limits::default()).map(|_| ())
        });
        match opened {
            Err(error) if expected(&error) => {}
            other => panic!("{what}: {other:?}"),
        }
    }
}

#[test]
fn duplicate_records_fail_the_engine_open() {
    let backend = populated_sled();
    tamper(&backend, |db| {
        // Record 3 rewritten to repeat record 1's MessageID from the same sender.
        let json = db.get(raw_key(b'm', 3)).expect("get").expect("record 3");
        let text = String::from_utf8(json.to_vec()).expect("utf-8").replace("\"m3\"", "\"m1\"");
        db.insert(raw_key(b'm', 3), text.as_bytes()).expect("insert");
    });
    let store = SledStore::open(backend.path()).expect("the store itself is readable");
    let opened = Queues::open(Arc::new(store), Arc::new(ManualClock::new(T0)), Limits::default());
    assert!(matches!(opened, Err(StoreError::Inconsistent(_))), "{opened:?}");
}

#[test]
fn fault_names_match_smev() {
    let cases = [
        (QueueError::MessageIsAlreadySent { sender: "C".into(), message_id: "m".into() }, "MessageIsAlreadySent"),
        (
            QueueError::DestinationOverflow { recipient: "P".into(), direction: Direction::Request, limit: 1 },
            "DestinationOverflow",
        ),
        (QueueError::QuoteLimitExceeded { sender: "C".into(), limit: 1 }, "QuoteLimitExceeded"),
        (QueueError::TargetMessageIsNotFound { message_id: "m".into() }, "TargetMessageIsNotFound"),
        (QueueError::Storage(StoreError::MissingPayload { sequence: 1 }), "SMEVFailure"),
    ];
    for (error, name) in cases {
        assert_eq!(error.fault_name(), name, "{error}");
    }
}

/// The environment variable that makes `sled_crash_child` do its work: the store directory to crash in.
const CRASH_DIR: &str = "MOCK_SMEV_CRASH_DIR";

#[test]
#[ignore = "the child half of sled_survives_a_crash: it aborts its process"]
fn sled_crash_child() {
    let dir = std::env::var_os(CRASH_DIR).expect("run by sled_survives_a_crash");
    let store = SledStore::open(dir).expect("the store opens");
    let queues = Queues::open(Arc::new(store), Arc::new(ManualClock::new(T0)), Limits::default()).expect("engine");
    for id in ["acked", "in_flight", "queued"] {
        queues.send(request(id, "C", "P")).expect("send");
    }
    let first = queues.receive("P", Direction::Request, None).expect("receive").expect("a message");
    queues.ack("P", &first.record.header.message_id, true).expect("ack");
    queues.receive("P", Direction::Request, None).expect("receive").expect("a second message");
    // No destructor runs: whatever `send`, `receive` and `ack` did not make durable themselves is lost.
    std::process::abort();
}

#[cfg(unix)]
#[test]
fn sled_survives_a_crash() {
    use std::os::unix::process::ExitStatusExt;
    use std::process::{Command, Stdio};

    let mut backend = sled();
    let status = Command::new(std::env::current_exe().expect("the test binary"))
        .args(["sled_crash_child", "--exact", "--ignored", "--test-threads=1"])
        .env(CRASH_DIR, backend.path())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("the child runs");
    // SIGABRT: the child got through its work to the abort, rather than failing earlier.
    assert_eq!(status.signal(), Some(6), "{status:?}");

    let rig = Rig::default(&mut backend);
    let states: Vec<_> = rig
        .queues
        .list(&ListFilter::default())
        .into_iter()
        .map(|summary| (summary.record.header.message_id, summary.state, summary.record.delivery_count))
        .collect();
    let expected = [
        ("acked", MessageState::Acknowledged, 1),
        ("in_flight", MessageState::Delivered, 1),
        ("queued", MessageState::Queued, 0),
    ];
    assert_eq!(states, expected.map(|(id, state, count)| (id.to_owned(), state, count)));
    assert!(matches!(rig.queues.send(request("acked", "C", "P")), Err(QueueError::MessageIsAlreadySent { .. })));
    // The in-flight message comes back once its visibility timeout (30 s from T0) passed.
    assert_eq!(rig.next_request("P").as_deref(), Some("queued"));
    rig.advance(30_000);
    assert_eq!(rig.next_request("P").as_deref(), Some("in_flight"));
}
