//! Every SMEV fault class, injected through mock-smev's control API while the gateway runs, ends where
//! smev3-facts.md says: retried (and delivered), stopped (an earlier send succeeded), re-signed under a new
//! MessageID, or dead-lettered with its reason.
//!
//! Each class is a test of its own (the table at the bottom), with its own mock-smev and gateway, so that a failure
//! names its class and the others still run, in parallel. Where a class must end with nothing sent, the test does
//! not wait for a send that should not come: it waits until the gateway's own outbox has closed the response's item
//! (completed, or dead), stops the gateway, and then reads mock-smev's records.
mod procs;

use edugate::inbox::{Inbox, SledInbox};
use edugate::outbox::{Outbox, OutboxConfig, SledOutbox, StateDb};
use procs::{start_gateway_with, start_mock, terminate, wait_for, Control, Direction, MessageState, Proc};
use std::path::Path;
use std::time::Duration;

/// Where a fault must end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ends {
    /// Retried until the response is delivered.
    Delivered,
    /// Re-signed under a new MessageID, then delivered.
    Resigned,
    /// Stopped: the gateway treats the send as done; nothing more is sent.
    Stopped,
    /// Dead-lettered with the fault in the reason.
    DeadLettered,
    /// An acknowledgement that failed finally is revived when SMEV delivers the request again.
    AckRevived,
}

/// One fault class: the call that fails, how many times, and where the exchange must end.
struct Case {
    operation: &'static str,
    fault: &'static str,
    count: u32,
    ends: Ends,
}

/// A bound against a hang, never a measurement.
const LIMIT: Duration = Duration::from_secs(30);

/// The ops token the tests read the gateway's outbox with.
const VIEWER: &str = "faults-viewer-token-0123456789";

/// Starts the gateway with a viewer's ops token, so that the test can read its outbox while it runs.
fn start_gateway(dir: &Path, mock_addr: &str) -> Proc {
    let tokens = format!("[{{ name = \"faults\", token = \"{VIEWER}\", role = \"viewer\" }}]");
    start_gateway_with(dir, mock_addr, Some("warn"), &[("EDUGATE__OPS__TOKENS", tokens)])
}

/// Whether the running gateway's outbox holds the item `key` in `state` (`completed`, `dead`, ...).
async fn item_in_state(gateway: &str, key: &str, state: &str) -> Option<()> {
    let url = format!("http://{gateway}/ops/api/items?key={key}&state={state}");
    let reply = reqwest::Client::new().get(url).bearer_auth(VIEWER).send().await.ok()?;
    let body: serde_json::Value = serde_json::from_str(&reply.text().await.ok()?).ok()?;
    body["items"].as_array().is_some_and(|items| !items.is_empty()).then_some(())
}

/// Whether mock-smev records the request `id` as acknowledged.
async fn acknowledged(control: &Control, id: &str) -> Option<()> {
    let m = control.message(id).await?;
    (m.summary.state == MessageState::Acknowledged).then_some(())
}

/// Runs one fault class against a fresh mock-smev and gateway, and checks where it ends.
async fn check(case: Case) {
    let dir = tempfile::tempdir().unwrap();
    let mock = start_mock(dir.path());
    let control = Control::new(&mock.addr);
    let mut gateway = start_gateway(dir.path(), &mock.addr);
    control.inject(case.operation, case.fault, case.count).await;
    let id = control.portal_send("<e:Echo xmlns:e=\"urn://edugate/echo/1.0.0\">fault</e:Echo>").await;
    let key = format!("response:{id}");
    match case.ends {
        Ends::Delivered | Ends::Resigned | Ends::AckRevived => {
            let response = wait_for(case.fault, LIMIT, || control.portal_response(&id)).await;
            assert_eq!(response.kind(), "content", "{}", case.fault);
        }
        Ends::Stopped | Ends::DeadLettered => {
            // The response's item is closed in the gateway's outbox: no further send of it can happen.
            let state = if case.ends == Ends::Stopped { "completed" } else { "dead" };
            let what = format!("{}: the response's item {state}", case.fault);
            wait_for(&what, LIMIT, || item_in_state(&gateway.addr, &key, state)).await;
        }
    }
    wait_for("the acknowledgement", LIMIT, || acknowledged(&control, &id)).await;
    terminate(&mut gateway);

    // mock-smev's record, now that nothing more can be sent: a response exactly when one was due.
    let responses = control.messages(Direction::Response).await;
    let held = responses.iter().filter(|r| r.original_message_id.as_deref() == Some(id.as_str())).count();
    let due = matches!(case.ends, Ends::Delivered | Ends::Resigned | Ends::AckRevived);
    assert_eq!(held, usize::from(due), "{}: responses mock-smev holds", case.fault);
    if !due {
        assert!(control.portal_response(&id).await.is_none(), "{}: no response may arrive", case.fault);
    }

    // The gateway's own record: dead letters with reasons, and the inbox for the re-signed response.
    let state = StateDb::open(dir.path().join("gateway-state")).unwrap();
    let outbox = SledOutbox::open(&state, OutboxConfig::default()).unwrap();
    let inbox = SledInbox::open(&state).unwrap();
    let dead = outbox.list_dead(None, 100).await.unwrap();
    let dead_item = dead.iter().find(|d| d.idempotency_key == key);
    match case.ends {
        Ends::DeadLettered => {
            let item = dead_item.unwrap_or_else(|| panic!("{} must be dead-lettered", case.fault));
            let reason = item.last_error.clone().unwrap_or_default();
            let name = case.fault.split('/').next_back().unwrap();
            assert!(reason.contains(name), "{}: reason '{reason}'", case.fault);
        }
        _ => assert!(dead_item.is_none(), "{} must not be dead-lettered", case.fault),
    }
    if case.ends == Ends::Resigned {
        let recorded = inbox.get(&id).await.unwrap().unwrap().response.unwrap().message_id;
        let delivered = control.portal_response(&id).await.unwrap().response_message_id;
        assert_ne!(recorded, delivered, "a stale MessageID is replaced by a new one");
    }
    let revived = dead.iter().filter(|d| d.queue == "ack").count();
    assert_eq!(revived, 0, "{}: a dead acknowledgement is revived on redelivery", case.fault);
    drop(mock);
}

/// One test per fault class: `name: operation, fault, count => where it ends;`.
macro_rules! fault_classes {
    ($($name:ident: $operation:literal, $fault:literal, $count:literal => $ends:ident;)*) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                check(Case { operation: $operation, fault: $fault, count: $count, ends: Ends::$ends }).await;
            }
        )*
    };
}

fault_classes! {
    send_response_smev_failure_is_retried: "SendResponse", "SMEVFailure", 3 => Delivered;
    send_response_end_of_life_is_retried: "SendResponse", "EndOfLifeReached", 2 => Delivered;
    send_response_destination_overflow_is_retried: "SendResponse", "DestinationOverflow", 2 => Delivered;
    send_response_quota_limit_is_retried: "SendResponse", "QuoteLimitExceeded", 2 => Delivered;
    send_response_unspecified_fault_is_retried: "SendResponse", "Unspecified", 2 => Delivered;
    get_request_smev_failure_is_retried: "GetRequest", "SMEVFailure", 3 => Delivered;
    send_response_stale_message_id_is_resigned: "SendResponse", "StaleMessageId", 1 => Resigned;
    send_response_already_sent_stops: "SendResponse", "MessageIsAlreadySent", 1 => Stopped;
    send_response_invalid_content_is_dead_lettered: "SendResponse", "InvalidContent", 1 => DeadLettered;
    send_response_invalid_signature_is_dead_lettered:
        "SendResponse", "SignatureVerificationFault/SignatureIsInvalid", 1 => DeadLettered;
    send_response_unregistered_sender_is_dead_lettered: "SendResponse", "SenderIsNotRegistered", 1 => DeadLettered;
    send_response_access_denied_is_dead_lettered: "SendResponse", "AccessDenied", 1 => DeadLettered;
    ack_target_not_found_is_revived: "Ack", "TargetMessageIsNotFound", 1 => AckRevived;
}
