//! How many durable writes a message costs the gateway. Every awaited write is a wait for the group commit (an
//! fsync shared by the writers of the moment); a progress lookup is answered in three: the request task's step
//! (the response and the acknowledgement queued, the response's id recorded in the inbox), the send worker's
//! (the response sent) and the ack worker's (the acknowledgement sent and recorded). Regression: a lookup used to
//! cost seven, one of them a second copy of the response.
//!
//! mock-smev runs as a process; the gateway runs in this test, on its sled state directory.
mod procs;

use edugate::gateway::Gateway;
use procs::{start_mock, wait_for, Control};
use std::time::Duration;

/// A progress lookup by the demo parent, whose children are linked with consent.
const LOOKUP: &str = "<p:ProgressRequest xmlns:p=\"urn://edugate/progress/1.0.0\"><p:ApplicantSnils>112-233-445 95\
</p:ApplicantSnils><p:PeriodFrom>2026-10-18</p:PeriodFrom><p:PeriodTo>2026-10-24</p:PeriodTo></p:ProgressRequest>";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lookup_costs_three_awaited_durable_writes() {
    let dir = tempfile::tempdir().unwrap();
    let mock = start_mock(dir.path());
    let config = procs::gateway_config(dir.path(), &mock.addr);
    let gateway = Gateway::open(config).unwrap();
    let handles = gateway.handles();
    let state = handles.store_health.state().expect("the gateway keeps its state in a directory").clone();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let running = tokio::spawn(gateway.run(listener, async move {
        let _ = stopped.await;
    }));
    let control = Control::new(&mock.addr);
    let acked = |id: String| {
        let inbox = handles.inbox.clone();
        async move { inbox.get(&id).await.unwrap().and_then(|entry| entry.acked_at) }
    };
    // A first lookup warms up: retention's first pass and every poller's start are behind it.
    let first = control.portal_send(LOOKUP).await;
    control.answer_to(&first).await;
    wait_for("the first lookup's acknowledgement", Duration::from_secs(30), || acked(first.clone())).await;

    let before = state.durable_waits();
    let id = control.portal_send(LOOKUP).await;
    control.answer_to(&id).await;
    wait_for("the acknowledgement", Duration::from_secs(30), || acked(id.clone())).await;
    let key = edugate::gateway::jobs::response_key(&id);
    let sent = || {
        let (outbox, key) = (handles.outbox.clone(), key.clone());
        async move {
            let filter = edugate::outbox::ListFilter {
                key_contains: Some(key),
                state: Some(edugate::outbox::StateFilter::Completed),
                limit: 10,
                ..Default::default()
            };
            (!outbox.list(&filter).await.unwrap().is_empty()).then_some(())
        }
    };
    wait_for("the response's completion", Duration::from_secs(30), sent).await;
    let waits = state.durable_waits() - before;
    assert_eq!(waits, 3, "awaited durable writes for one lookup");

    let _ = stop.send(());
    running.await.unwrap().unwrap();
}
