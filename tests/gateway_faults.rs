//! Every SMEV fault class, injected through mock-smev's control API while the gateway runs, ends where
//! smev3-facts.md says: retried (and delivered), stopped (an earlier send succeeded), re-signed under a new
//! MessageID, or dead-lettered with its reason.
mod procs;

use edugate::inbox::{Inbox, SledInbox};
use edugate::outbox::{Outbox, OutboxConfig, SledOutbox, StateDb};
use procs::{start_gateway, start_mock, terminate, Control};
use std::time::{Duration, Instant};

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

struct Case {
    operation: &'static str,
    fault: &'static str,
    count: u32,
    ends: Ends,
}

const CASES: &[Case] = &[
    Case { operation: "SendResponse", fault: "SMEVFailure", count: 3, ends: Ends::Delivered },
    Case { operation: "SendResponse", fault: "EndOfLifeReached", count: 2, ends: Ends::Delivered },
    Case { operation: "SendResponse", fault: "DestinationOverflow", count: 2, ends: Ends::Delivered },
    Case { operation: "SendResponse", fault: "QuoteLimitExceeded", count: 2, ends: Ends::Delivered },
    Case { operation: "SendResponse", fault: "Unspecified", count: 2, ends: Ends::Delivered },
    Case { operation: "GetRequest", fault: "SMEVFailure", count: 3, ends: Ends::Delivered },
    Case { operation: "SendResponse", fault: "StaleMessageId", count: 1, ends: Ends::Resigned },
    Case { operation: "SendResponse", fault: "MessageIsAlreadySent", count: 1, ends: Ends::Stopped },
    Case { operation: "SendResponse", fault: "InvalidContent", count: 1, ends: Ends::DeadLettered },
    Case {
        operation: "SendResponse",
        fault: "SignatureVerificationFault/SignatureIsInvalid",
        count: 1,
        ends: Ends::DeadLettered,
    },
    Case { operation: "SendResponse", fault: "SenderIsNotRegistered", count: 1, ends: Ends::DeadLettered },
    Case { operation: "SendResponse", fault: "AccessDenied", count: 1, ends: Ends::DeadLettered },
    Case { operation: "Ack", fault: "TargetMessageIsNotFound", count: 1, ends: Ends::AckRevived },
];

async fn wait_for<F, Fut, T>(what: &str, limit: Duration, mut probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = Instant::now() + limit;
    loop {
        if let Some(v) = probe().await {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn acknowledged(control: &Control, id: &str) -> Option<()> {
    let m = control.message(id).await?;
    (m["state"] == "acknowledged").then_some(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_fault_class_ends_where_the_facts_say() {
    let dir = tempfile::tempdir().unwrap();
    let mock = start_mock(dir.path());
    let control = Control::new(&mock.addr);
    let mut gateway = start_gateway(dir.path(), &mock.addr);
    let mut outcomes = Vec::new();
    for (i, case) in CASES.iter().enumerate() {
        control.clear_faults().await;
        control.inject(case.operation, case.fault, case.count).await;
        let id = control.portal_send(&format!("<e:Echo xmlns:e=\"urn://edugate/echo/1.0.0\">case {i}</e:Echo>")).await;
        let limit = Duration::from_secs(30);
        match case.ends {
            Ends::Delivered | Ends::Resigned | Ends::AckRevived => {
                let response = wait_for(case.fault, limit, || control.portal_response(&id)).await;
                assert_eq!(response["kind"], "content", "{}", case.fault);
                wait_for("the acknowledgement", limit, || acknowledged(&control, &id)).await;
            }
            Ends::Stopped | Ends::DeadLettered => {
                wait_for("the acknowledgement", limit, || acknowledged(&control, &id)).await;
                // Give a wrongly retried send time to show up.
                tokio::time::sleep(Duration::from_millis(1500)).await;
                assert!(control.portal_response(&id).await.is_none(), "{}: no response may arrive", case.fault);
            }
        }
        outcomes.push((id, case));
    }
    control.clear_faults().await;
    terminate(&mut gateway);

    // The gateway's own record: dead letters with reasons, and the inbox for the re-signed response.
    let state = StateDb::open(dir.path().join("gateway-state")).unwrap();
    let outbox = SledOutbox::open(&state, OutboxConfig::default()).unwrap();
    let inbox = SledInbox::open(&state).unwrap();
    let dead = outbox.list_dead(None, 100).await.unwrap();
    for (id, case) in &outcomes {
        let key = format!("response:{id}");
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
            let recorded = inbox.get(id).await.unwrap().unwrap().response.unwrap().message_id;
            let delivered =
                control.portal_response(id).await.unwrap()["response_message_id"].as_str().unwrap().to_string();
            assert_ne!(recorded, delivered, "a stale MessageID is replaced by a new one");
        }
    }
    let revived = dead.iter().filter(|d| d.queue == "ack").count();
    assert_eq!(revived, 0, "a dead acknowledgement is revived on redelivery");
    drop(mock);
}
