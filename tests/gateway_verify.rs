//! The gateway's verification of a delivered request runs off the async threads under a bounded pool: a large
//! verification leaves the async thread free (so `/healthz` keeps answering), no more verifications run at once than
//! the pool allows, and an envelope with more signatures than the limit is refused as such.
use edugate::cpu::CpuPool as VerifyPool;
use edugate::crypto::{ensure_default_engine, Certificate, PrivateKey};
use edugate::dsig::{Signer, VerifyLimits, DSIG_NS};
use edugate::smev::build::{self, DeliveredRequest};
use edugate::smev::delivered::{check_request_on, DeliveryCheck, SenderTrust, Untrusted};
use edugate::smev::parse::{self, ReceivedRequest};
use edugate::smev::{now_datetime, MessageMetadata, MessageType, SendRequest, Version};
use edugate::xml::{self, IdMatch, Limits};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

/// The portal's dev certificate, the one sender the tests trust.
fn portal_trust() -> Arc<SenderTrust> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("certs-dev");
    Arc::new(SenderTrust::registered(vec![Certificate::load(&dir.join("portal.crt")).unwrap()]))
}

fn signer(name: &str) -> Signer {
    ensure_default_engine().unwrap();
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("certs-dev");
    let key = PrivateKey::from_pem(&std::fs::read(dir.join(format!("{name}.key"))).unwrap()).unwrap();
    Signer::new(key, Certificate::load(&dir.join(format!("{name}.crt"))).unwrap()).unwrap()
}

/// A GetRequestResponse as SMEV delivers it: the portal's signed request of `size` bytes of content, SMEV's
/// signature over `Request`.
fn delivered(size: usize) -> (String, ReceivedRequest, Certificate) {
    // (the typed request is read again by the check; it is returned for the tests that look at it)
    let words = "слово ".repeat(size / "слово ".len());
    let content = format!("<e:Echo xmlns:e=\"urn://edugate/echo/1.0.0\">{words}</e:Echo>");
    let sent = build::send_request(Version::V1_3, &SendRequest::new(&content), Some(&signer("portal"))).unwrap();
    let doc = xml::parse(&sent, &Limits::default()).unwrap();
    let IdMatch::One(data) = doc.element_with_id("SIGNED_BY_CONSUMER") else { panic!("no signed data") };
    let signature = doc.elements().find(|&e| doc.is(e, DSIG_NS, "Signature")).unwrap();
    let span = doc.element(signature).span.clone();
    let metadata = MessageMetadata {
        message_id: Some("6a1b2c3d-d03c-11f0-8de9-0242ac120002".into()),
        message_type: MessageType::Request,
        sender: None,
        sending_timestamp: now_datetime(),
        recipient: None,
        delivery_timestamp: None,
        status: None,
    };
    let data_text = doc.self_contained_source(data);
    let request = DeliveredRequest {
        sender_provided_data: &data_text,
        metadata,
        reply_to: Some("reply".into()),
        sender_signature: Some(&sent[span]),
        attachments: Vec::new(),
    };
    let smev = signer("mock-smev");
    let envelope = build::get_request_response(Version::V1_3, Some(&request), Some(&smev)).unwrap();
    let doc = xml::parse(&envelope, &Limits::default()).unwrap();
    let received = parse::received_request(&doc).unwrap().expect("a request");
    (envelope, received, smev.certificate().clone())
}

/// Checks a delivered envelope as the client does, trusting the portal, on `pool`.
async fn verify(
    pool: &VerifyPool,
    envelope: String,
    smev_cert: Certificate,
    limits: VerifyLimits,
) -> Result<(), Untrusted> {
    let check = Arc::new(DeliveryCheck { smev_cert: Some(smev_cert), senders: portal_trust(), limits });
    check_request_on(pool, envelope, check).await.unwrap().expect("a request").trusted
}

/// Regression: verification ran on the async worker threads, so a large signed request froze `/healthz` for 5 s.
/// On a runtime with a single thread, another task keeps running all the while a large verification is under way.
#[tokio::test(flavor = "current_thread")]
async fn the_async_thread_stays_free_while_a_large_verification_runs() {
    let (envelope, received, smev_cert) = delivered(2_000_000);
    let done = Arc::new(AtomicBool::new(false));
    let ticks = Arc::new(AtomicUsize::new(0));
    let ticker = {
        let (done, ticks) = (done.clone(), ticks.clone());
        tokio::spawn(async move {
            while !done.load(Ordering::SeqCst) {
                ticks.fetch_add(1, Ordering::SeqCst);
                tokio::task::yield_now().await;
            }
        })
    };
    let pool = VerifyPool::new(1);
    let _ = received;
    let verdict = verify(&pool, envelope, smev_cert, VerifyLimits::default()).await;
    let during = ticks.load(Ordering::SeqCst);
    done.store(true, Ordering::SeqCst);
    ticker.await.unwrap();
    assert_eq!(verdict, Ok(()));
    assert!(during > 100, "the only async thread ran another task {during} times while verifying");
}

/// The pool runs no more work at once than it was given permits for.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_pool_bounds_concurrent_verifications() {
    for width in [1, 2] {
        let pool = VerifyPool::new(width);
        let (running, peak) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
        let mut tasks = Vec::new();
        for _ in 0..6 {
            let (pool, running, peak) = (pool.clone(), running.clone(), peak.clone());
            tasks.push(tokio::spawn(async move {
                pool.run(edugate::cpu::INLINE_BELOW, move || {
                    let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                    peak.fetch_max(now, Ordering::SeqCst);
                    std::thread::sleep(std::time::Duration::from_millis(20));
                    running.fetch_sub(1, Ordering::SeqCst);
                })
                .await
                .unwrap()
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
        assert!(peak.load(Ordering::SeqCst) <= width, "width {width}: {} at once", peak.load(Ordering::SeqCst));
    }
}

/// A delivered envelope with more signatures than the limit is refused before any is verified.
#[tokio::test(flavor = "current_thread")]
async fn a_delivery_with_too_many_signatures_is_refused() {
    let (envelope, received, smev_cert) = delivered(100);
    let limits = VerifyLimits { max_signatures: 1, ..VerifyLimits::default() };
    let _ = received;
    let verdict = verify(&VerifyPool::new(1), envelope, smev_cert, limits).await;
    assert!(matches!(verdict, Err(Untrusted::OverLimits(ref reason)) if reason.contains("more than 1")), "{verdict:?}");
}
