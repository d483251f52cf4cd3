//! The gateway never loses or duplicates a request's answer when it is killed with SIGKILL at random moments.
//!
//! mock-smev (over sled) and the gateway run as separate processes; requests are fed through mock-smev's portal
//! API while the gateway is killed and restarted; at the end mock-smev confirms that every request got exactly one
//! response, delivered and acknowledged. The fast version runs in `make test`; `make soak` sets `EDUGATE_SOAK=1`
//! for 10,000 requests and 50 kills. Both print `lost=N duplicated=N` last.
mod procs;

use procs::{start_gateway, start_mock, Control, Direction, MessageState, MessageSummary};
use rand::{Rng, SeedableRng};
use std::collections::HashMap;
use std::time::{Duration, Instant};

fn setting(name: &str, fast: u64, soak: u64) -> u64 {
    let soaking = std::env::var("EDUGATE_SOAK").is_ok_and(|v| v == "1");
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(if soaking { soak } else { fast })
}

fn echo(i: u64) -> String {
    format!("<e:Echo xmlns:e=\"urn://edugate/echo/1.0.0\">запрос {i} &amp; ответ</e:Echo>")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_gateway_loses_and_duplicates_nothing() {
    let requests = setting("EDUGATE_CRASH_REQUESTS", 60, 10_000);
    let kills = setting("EDUGATE_CRASH_KILLS", 6, 50);
    let seed = setting("EDUGATE_CRASH_SEED", 7, 7);
    let dir = tempfile::tempdir().unwrap();
    let mock = start_mock(dir.path());
    let control = Control::new(&mock.addr);
    let mut gateway = start_gateway(dir.path(), &mock.addr);
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);

    // Feed requests and kill the gateway at random moments in between.
    let mut sent = Vec::with_capacity(requests as usize);
    let kill_every = (requests / (kills + 1)).max(1);
    let mut killed = 0;
    for i in 0..requests {
        sent.push(control.portal_send(&echo(i)).await);
        if killed < kills && i > 0 && i % kill_every == 0 {
            tokio::time::sleep(Duration::from_millis(rng.gen_range(0..300))).await;
            gateway.kill();
            killed += 1;
            gateway = start_gateway(dir.path(), &mock.addr);
        }
    }
    while killed < kills {
        tokio::time::sleep(Duration::from_millis(rng.gen_range(50..400))).await;
        gateway.kill();
        killed += 1;
        gateway = start_gateway(dir.path(), &mock.addr);
    }

    // Wait for every answer (the portal polls and acknowledges them).
    let deadline = Instant::now() + Duration::from_secs(60 + requests / 20);
    let mut answered = HashMap::new();
    while answered.len() < sent.len() && Instant::now() < deadline {
        for id in &sent {
            if !answered.contains_key(id) {
                if let Some(r) = control.portal_response(id).await {
                    answered.insert(id.clone(), r);
                }
            }
        }
        if answered.len() < sent.len() {
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    // Count what mock-smev holds: responses per request, and whether each request was acknowledged.
    let responses = control.messages(Direction::Response).await;
    let mut per_request: HashMap<String, usize> = HashMap::new();
    for r in &responses {
        *per_request.entry(r.original_message_id.clone().unwrap_or_default()).or_default() += 1;
    }
    // The gateway acknowledges a request through its outbox after queuing the answer: give the last acknowledgements
    // time to go out before counting.
    let mut unacked = usize::MAX;
    while Instant::now() < deadline + Duration::from_secs(30) {
        let requests_held = control.messages(Direction::Request).await;
        unacked = requests_held.iter().filter(|r| r.state != MessageState::Acknowledged).count();
        if unacked == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let lost = sent.iter().filter(|id| !per_request.contains_key(*id) || !answered.contains_key(*id)).count();
    let duplicated: usize = per_request.values().map(|n| n.saturating_sub(1)).sum();
    // What a duplicate looked like, for the investigation: every response mock-smev holds for that request.
    for (request, _) in per_request.iter().filter(|(_, n)| **n > 1) {
        let held: Vec<&MessageSummary> =
            responses.iter().filter(|r| r.original_message_id.as_deref() == Some(request.as_str())).collect();
        println!("request {request} has {} responses: {held:?}", held.len());
    }
    let wrong = answered.iter().filter(|(_, r)| r.content().is_none() || !r.signatures_valid).count();
    drop(gateway);
    drop(mock);
    println!("requests={requests} kills={killed} answered={} unacked={unacked} wrong={wrong}", answered.len());
    println!("lost={lost} duplicated={duplicated}");
    assert_eq!((lost, duplicated, unacked, wrong), (0, 0, 0, 0), "logs in {}", dir.keep().display());
}
