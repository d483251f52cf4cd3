//! The education services end to end over HTTP through mock-smev: mock-smev runs as a process, the gateway in
//! this test over the bundled school data, behind a switch that takes the school system down.
#[path = "support/oracle.rs"]
mod oracle;
mod procs;

use edugate::demo::control::PortalAnswer;
use edugate::school::{
    BoxFuture, EmbeddedSchool, EnrollmentApplication, Marks, Pupil, PupilId, SchoolError, SchoolSystem, Snils,
    StatusChange, SubmitOutcome,
};
use edugate::services::enrollment;
use procs::{start_mock, Control, PortalResponse};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::Arc;

/// The embedded school behind a switch: while down, every call fails as an unreachable system's would.
struct Switchable {
    inner: EmbeddedSchool,
    down: AtomicBool,
    submissions: AtomicU32,
    /// Applications refused because the school was down: each is a try the gateway must repeat later.
    refused_submissions: AtomicU32,
}

impl Switchable {
    fn check(&self) -> Result<(), SchoolError> {
        if self.down.load(Ordering::SeqCst) {
            Err(SchoolError::Unavailable("connection refused".into()))
        } else {
            Ok(())
        }
    }
}

impl SchoolSystem for Switchable {
    fn linked_children<'a>(&'a self, guardian: &'a Snils) -> BoxFuture<'a, Result<Vec<Pupil>, SchoolError>> {
        Box::pin(async move {
            self.check()?;
            self.inner.linked_children(guardian).await
        })
    }
    fn marks<'a>(
        &'a self,
        pupil: &'a PupilId,
        from: time::Date,
        to: time::Date,
    ) -> BoxFuture<'a, Result<Marks, SchoolError>> {
        Box::pin(async move {
            self.check()?;
            self.inner.marks(pupil, from, to).await
        })
    }
    fn submit_application<'a>(
        &'a self,
        a: &'a EnrollmentApplication,
    ) -> BoxFuture<'a, Result<SubmitOutcome, SchoolError>> {
        Box::pin(async move {
            if let Err(down) = self.check() {
                self.refused_submissions.fetch_add(1, Ordering::SeqCst);
                return Err(down);
            }
            self.submissions.fetch_add(1, Ordering::SeqCst);
            self.inner.submit_application(a).await
        })
    }
    fn status_changes<'a>(&'a self, since: u64, limit: usize) -> BoxFuture<'a, Result<Vec<StatusChange>, SchoolError>> {
        Box::pin(async move {
            self.check()?;
            self.inner.status_changes(since, limit).await
        })
    }
    fn enrollment_application<'a>(
        &'a self,
        order_id: i64,
    ) -> BoxFuture<'a, Result<Option<EnrollmentApplication>, SchoolError>> {
        Box::pin(async move {
            self.check()?;
            self.inner.enrollment_application(order_id).await
        })
    }
    fn cancel_application<'a>(
        &'a self,
        order_id: i64,
        reason: Option<&'a str>,
    ) -> BoxFuture<'a, Result<edugate::school::kindergarten::Cancelled, SchoolError>> {
        Box::pin(async move {
            self.check()?;
            self.inner.cancel_application(order_id, reason).await
        })
    }
    fn name(&self) -> &str {
        "switchable"
    }
}

struct World {
    control: Control,
    /// The gateway's HTTP endpoint.
    base: String,
    school: Arc<Switchable>,
    _mock: procs::Proc,
    _dir: tempfile::TempDir,
    _gateway: procs::InProcess,
}

async fn world() -> World {
    world_with("", |_| {}).await
}

/// A world whose mock-smev takes `mock_config` (TOML) and whose gateway configuration `edit` changes.
async fn world_with(mock_config: &str, edit: impl FnOnce(&mut edugate::config::Config)) -> World {
    let dir = tempfile::tempdir().unwrap();
    let mock = if mock_config.is_empty() {
        start_mock(dir.path())
    } else {
        procs::start_mock_with(dir.path(), mock_config, false)
    };
    let mut config = procs::gateway_config(dir.path(), &mock.addr);
    edit(&mut config);
    let inner = EmbeddedSchool::open(&config.school.data, &dir.path().join("journal.jsonl")).unwrap();
    let school = Arc::new(Switchable {
        inner,
        down: AtomicBool::new(false),
        submissions: AtomicU32::new(0),
        refused_submissions: AtomicU32::new(0),
    });
    let gateway = procs::run_in_process(config, school.clone()).await;
    let base = gateway.base.clone();
    World { control: Control::new(&mock.addr), base, school, _mock: mock, _dir: dir, _gateway: gateway }
}

fn lookup(snils: &str) -> String {
    format!(
        "<p:ProgressRequest xmlns:p=\"urn://edugate/progress/1.0.0\"><p:ApplicantSnils>{snils}</p:ApplicantSnils>\
         <p:PeriodFrom>2026-09-01</p:PeriodFrom><p:PeriodTo>2026-10-24</p:PeriodTo></p:ProgressRequest>"
    )
}

fn order_status(answer: &PortalResponse) -> (String, String) {
    let content = answer.content().unwrap_or_default();
    let pick = |tag: &str| {
        content.split(&format!("<e:{tag}>")).nth(1).and_then(|s| s.split('<').next()).unwrap_or("").to_string()
    };
    (pick("orgCode"), pick("comment"))
}

/// Valid XSD-checked answers for a linked parent; the same NO_DATA for every case that must not reveal a child.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn progress_lookups() {
    let w = world().await;
    let linked = w.control.answer(&lookup("112-233-445 95")).await;
    let content = linked.content().expect("grades");
    assert_eq!(content.matches("<p:Pupil>").count(), 2, "two children linked with consent");
    assert!(linked.signatures_valid);
    let xsd = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("xsd/progress-1.0.0.xsd");
    let file = w._dir.path().join("answer.xml");
    std::fs::write(&file, content).unwrap();
    if let Some(xmllint) = oracle::oracle("xmllint", "libxml2-utils") {
        let out = std::process::Command::new(xmllint).arg("--noout").arg("--schema").arg(&xsd).arg(&file).output();
        let out = out.expect("running xmllint");
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    }

    // No link, no consent, consent withdrawn, unknown: one and the same answer.
    let mut answers = Vec::new();
    for snils in ["123-456-789 64", "145-678-901 05", "198-765-432 47"] {
        let a = w.control.answer(&lookup(snils)).await;
        answers.push(a.answer);
    }
    assert!(answers.iter().all(|a| a == &answers[0]), "{answers:?}");
    let PortalAnswer::Rejected { reasons } = &answers[0] else { panic!("a refusal: {answers:?}") };
    assert_eq!(reasons[0].code, "NO_DATA");

    // A wrong check number is refused with a reason a person can read.
    let wrong = w.control.answer(&lookup("198-765-432 48")).await;
    assert_eq!(wrong.kind(), "rejected");
    assert!(wrong.reasons()[0].description.contains("СНИЛС"), "{wrong:?}");

    // Schema-invalid content never reaches the gateway: SMEV refuses it.
    let bad = "<p:ProgressRequest xmlns:p=\"urn://edugate/progress/1.0.0\"><p:Wrong/></p:ProgressRequest>";
    let refused = w.control.client.portal_send(bad).await.expect_err("SMEV refuses invalid content");
    assert_eq!(refused.status(), Some(422), "{refused}");
    assert_eq!(refused.fault(), Some("InvalidContent"), "{refused}");
}

/// A region maps its portal's own namespace to the progress service next to the service's own format: the same
/// service reads requests in either namespace and answers both.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_region_maps_its_own_namespace_to_a_service() {
    const REGION: &str = "urn://region/diary/2.0";
    let kind = |namespace: &str| {
        format!("[[kinds]]\nnamespace = \"{namespace}\"\nroot = \"ProgressRequest\"\nprovider = \"EDUGATE\"\n")
    };
    let mock = kind(REGION) + &kind("urn://edugate/progress/1.0.0");
    let w = world_with(&mock, |config| {
        let mut regional = config.provider.kinds.iter().find(|k| k.service == "progress").unwrap().clone();
        regional.namespace = REGION.into();
        regional.version = Some("2.0".into());
        config.provider.kinds.push(regional);
    })
    .await;
    let asked = lookup("112-233-445 95").replace("urn://edugate/progress/1.0.0", REGION);
    let regional = w.control.answer(&asked).await;
    let content = regional.content().expect("grades, from the regional namespace");
    assert_eq!(content.matches("<p:Pupil>").count(), 2, "{content}");
    assert!(regional.signatures_valid);
    let own = w.control.answer(&lookup("112-233-445 95")).await;
    assert_eq!(own.content().expect("grades").matches("<p:Pupil>").count(), 2);
    // A regional request without the applicant's SNILS is refused in its own terms, like the service's own.
    let broken = w.control.answer(&asked.replace("112-233-445 95", "")).await;
    assert_eq!(broken.kind(), "rejected", "{broken:?}");
}

/// An application reaches the school exactly once, even while the school is down; the same order sent twice is
/// submitted once and answered twice the same way; a bad application gets 150 with the reason.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn enrollment_applications() {
    let w = world().await;
    let first = w.control.answer(&enrollment::sample_form(4_300_000_001)).await;
    assert_eq!(order_status(&first).0, "110");

    // The same orderId again, as a new request: answered the same, not submitted again.
    let again = w.control.answer(&enrollment::sample_form(4_300_000_001)).await;
    assert_eq!(order_status(&again).0, "110");
    assert_eq!(w.school.inner.submitted_orders().iter().filter(|&&o| o == 4_300_000_001).count(), 1);

    // The school goes down; the application waits in the outbox and arrives once it is back.
    w.school.down.store(true, Ordering::SeqCst);
    let id = w.control.portal_send(&enrollment::sample_form(4_300_000_002)).await;
    // Tried, refused and tried again: the application is kept for a later try, not answered.
    procs::wait_for("two tries while the school is down", procs::ANSWER_LIMIT, || async {
        (w.school.refused_submissions.load(Ordering::SeqCst) >= 2).then_some(())
    })
    .await;
    assert!(w.control.portal_response(&id).await.is_none(), "no answer while the school is down");
    assert!(w.school.inner.order_status(4_300_000_002).is_none());
    w.school.down.store(false, Ordering::SeqCst);
    let late = w.control.answer_to(&id).await;
    assert_eq!(order_status(&late).0, "110");
    assert_eq!(w.school.inner.submitted_orders().iter().filter(|&&o| o == 4_300_000_002).count(), 1);

    // Refusals carry their reason.
    let unknown_school = enrollment::sample_form(4_300_000_003).replace("SCH-002", "SCH-999");
    let refused = w.control.answer(&unknown_school).await;
    let (status, comment) = order_status(&refused);
    assert_eq!(status, "150");
    assert!(comment.contains("SCH-999"), "{comment}");
    let bad_snils = enrollment::sample_form(4_300_000_004).replace("112-233-445 95", "112-233-445 96");
    let refused = w.control.answer(&bad_snils).await;
    let (status, comment) = order_status(&refused);
    assert_eq!(status, "150");
    assert!(comment.contains("СНИЛС"), "{comment}");
}

/// The content of an answer, checked against the 1.1.0 schema (when xmllint is there).
fn valid_1_1_0(answer: &PortalResponse, dir: &std::path::Path) -> String {
    let content = answer.content().unwrap_or_else(|| panic!("content: {answer:?}")).to_string();
    let prefix = format!("<e:FormDataResponse xmlns:e=\"{}\">", enrollment::NS_1_1_0);
    assert!(content.starts_with(&prefix), "answered in its own namespace: {content}");
    if let Some(xmllint) = oracle::oracle("xmllint", "libxml2-utils") {
        let xsd = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("xsd/school-enrollment-1.1.0.xsd");
        let file = dir.join("answer-1.1.0.xml");
        std::fs::write(&file, &content).unwrap();
        let out = std::process::Command::new(xmllint).arg("--noout").arg("--schema").arg(&xsd).arg(&file).output();
        let out = out.expect("running xmllint");
        assert!(out.status.success(), "{}\n{content}", String::from_utf8_lossy(&out.stderr));
    }
    content
}

/// Format 1.1.0 end to end, beside 1.0.0: an application reaches the school whole and is answered 110 in its own
/// namespace with `cancelAllowed`; a grade-1 child outside the law's age range is registered for review with the
/// founder's permission, not refused; an unknown school gets 150 with the reason; the application as held comes back
/// for editing; a withdrawal is answered `cancelResponse` (CANCELLED, again CANCELLED, REJECTED for an enrolled
/// child or an unknown order); a schema-invalid form never reaches the gateway. Every answer validates.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn enrollment_format_1_1_0() {
    use enrollment::v110::{sample_order_request, sample_request};
    let w = world().await;
    let dir = w._dir.path().to_owned();
    let order = 4_600_000_001;
    let first = w.control.answer(&sample_request(order, "2020-03-15")).await;
    let content = valid_1_1_0(&first, &dir);
    assert_eq!(order_status(&first).0, "110", "{content}");
    assert!(content.contains("<e:cancelAllowed>true</e:cancelAllowed>"), "{content}");
    assert!(order_status(&first).1.contains(&order.to_string()), "the comment names the number: {content}");
    let held = w.school.inner.application(order).expect("the school holds the application");
    assert_eq!(held.identity.as_ref().map(|d| d.number.as_str()), Some("123456"), "the whole application");
    assert_eq!(held.address.as_ref().map(|a| a.street.code.as_str()), Some("9b8f1e6e-5a0d-4a5e-8f5c-2b1a3c4d5e6f"));
    assert_eq!((held.siblings.len(), held.documents.len()), (1, 1));
    assert_eq!(held.service_type.as_deref(), Some("600426"));

    // 1.0.0 is still served, and answered in its own namespace.
    let old = w.control.answer(&enrollment::sample_form(4_600_000_002)).await;
    let old_content = old.content().unwrap_or_default();
    assert!(old_content.starts_with(&format!("<e:FormDataResponse xmlns:e=\"{}\"", enrollment::NS)), "{old_content}");
    assert_eq!(order_status(&old).0, "110");

    // Too young for grade 1 (5 years 3 months on 1 September 2027): registered, for review with the founder.
    let young = w.control.answer(&sample_request(4_600_000_003, "2022-06-01")).await;
    valid_1_1_0(&young, &dir);
    let (status, comment) = order_status(&young);
    assert_eq!(status, "110", "never an automatic refusal for the age: {comment}");
    assert!(comment.contains("5 лет 3 месяца") && comment.contains("разрешения учредителя"), "{comment}");

    // An unknown school: 150 with the reason, and no cancel offered.
    let unknown = w.control.answer(&sample_request(4_600_000_004, "2020-03-15").replace("SCH-002", "SCH-999")).await;
    let content = valid_1_1_0(&unknown, &dir);
    let (status, comment) = order_status(&unknown);
    assert_eq!(status, "150");
    assert!(comment.contains("SCH-999"), "{comment}");
    assert!(content.contains("<e:cancelAllowed>false</e:cancelAllowed>"), "{content}");

    // The application as held, for the portal's edit form.
    let get = w.control.answer(&sample_order_request("GetApplicationRequest", order)).await;
    let content = valid_1_1_0(&get, &dir);
    assert!(content.contains("<e:GetApplicationResponse>") && content.contains("<e:IdentityDocNumber>123456<"));
    let missing = w.control.answer(&sample_order_request("GetApplicationRequest", 4_600_000_999)).await;
    valid_1_1_0(&missing, &dir);
    assert_eq!(order_status(&missing), ("150".to_string(), "Заявление не найдено".to_string()));

    // Withdrawal: cancelled, the same again, and the school's status follows.
    let result = |answer: &PortalResponse| {
        let content = valid_1_1_0(answer, &dir);
        content.split("<e:result>").nth(1).and_then(|s| s.split('<').next()).unwrap_or("").to_string()
    };
    let cancel = sample_order_request("cancelRequest", order);
    assert_eq!(result(&w.control.answer(&cancel).await), "CANCELLED");
    assert_eq!(result(&w.control.answer(&cancel).await), "CANCELLED");
    assert_eq!(w.school.inner.order_status(order), Some(150));
    // An enrolled child's application is not withdrawn; neither is one the school does not know.
    w.school.inner.set_status(4_600_000_003, 250, Some("Зачислен в 1А класс")).unwrap();
    assert_eq!(result(&w.control.answer(&sample_order_request("cancelRequest", 4_600_000_003)).await), "REJECTED");
    assert_eq!(w.school.inner.order_status(4_600_000_003), Some(250));
    assert_eq!(result(&w.control.answer(&sample_order_request("cancelRequest", 4_600_000_999)).await), "REJECTED");

    // Schema-invalid content never reaches the gateway: SMEV refuses it.
    let invalid = sample_request(4_600_000_005, "2020-03-15").replace("<Grade>1</Grade>", "<Grade>один</Grade>");
    let refused = w.control.client.portal_send(&invalid).await.expect_err("SMEV refuses invalid content");
    assert_eq!(refused.status(), Some(422), "{refused}");
    assert_eq!(refused.fault(), Some("InvalidContent"), "{refused}");
}

/// mock-smev acting as a portal registered at SMEV as `ROGUE`, signing with the dev `other` key: a system SMEV
/// knows and passes on, but not one the gateway registered as a sender of any kind of data.
fn rogue_portal() -> String {
    let dev = edugate::config::certs_dev();
    let path = |name: &str| format!("{:?}", dev.join(name).display().to_string());
    format!(
        "portal = \"ROGUE\"\n\
         [[systems]]\nmnemonic = \"EPGU\"\ncert = {}\nkey = {}\n\
         [[systems]]\nmnemonic = \"EDUGATE\"\ncert = {}\n\
         [[systems]]\nmnemonic = \"ROGUE\"\ncert = {}\nkey = {}\n",
        path("portal.crt"),
        path("portal.key"),
        path("gateway.crt"),
        path("other.crt"),
        path("other.key"),
    )
}

/// Regression: trust rested on SMEV's signature alone, so a request for another parent's SNILS signed by any system
/// SMEV passes on was answered with that family's grades. A sender outside the kind's trust gets ACCESS_DENIED and
/// nothing of the child; the same sender, once its CA is the kind's trust anchor, gets the grades.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sender_outside_the_trust_of_its_kind_gets_access_denied() {
    // The development profile trusts the dev portal's certificate only.
    let w = world_with(&rogue_portal(), |_| {}).await;
    let refused = w.control.answer(&lookup("112-233-445 95")).await;
    assert_eq!(refused.kind(), "rejected", "{refused:?}");
    assert_eq!(refused.reasons()[0].code, "ACCESS_DENIED", "{refused:?}");
    assert!(!format!("{refused:?}").contains("Pupil"), "nothing of the child: {refused:?}");
    // Counted under `unverified`, not under the kind the unverified content names.
    let metrics = reqwest::get(format!("{}/metrics", w.base)).await.unwrap().text().await.unwrap();
    let received: Vec<&str> = metrics.lines().filter(|l| l.starts_with("edugate_messages_received_total{")).collect();
    assert_eq!(received, vec!["edugate_messages_received_total{kind=\"unverified\",outcome=\"untrusted\"} 1"]);
    drop(w);

    // Trust by CA: the dev CA issued the `other` certificate, so the same sender is now trusted for lookups.
    let ca = edugate::config::certs_dev().join("ca.crt");
    let w = world_with(&rogue_portal(), |config| {
        let progress = config.provider.kinds.iter_mut().find(|k| k.root == "ProgressRequest").unwrap();
        progress.sender_trust = edugate::config::SenderTrustConfig { ca: Some(ca), certs: Vec::new() };
    })
    .await;
    let answered = w.control.answer(&lookup("112-233-445 95")).await;
    let content = answered.content().unwrap_or_else(|| panic!("grades: {answered:?}"));
    assert_eq!(content.matches("<p:Pupil>").count(), 2);
}

/// A 1.1.0 application is followed as the concentrator follows one: the school's later status goes to the portal as
/// a further response to the request that filed it (in its namespace, valid against its schema), not as a request
/// of the 1.0.0 status kind; a 1.0.0 application's status still goes as that request.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_1_1_0_application_gets_its_statuses_as_further_responses() {
    let w = world_with("", |config| config.school.status_poll_secs = 1).await;
    let dir = w._dir.path().to_owned();
    let order = 4_600_000_101;
    let filed = w.control.portal_send(&enrollment::v110::sample_request(order, "2020-03-15")).await;
    assert_eq!(order_status(&w.control.answer_to(&filed).await).0, "110");
    w.school.inner.set_status(order, 250, Some("Зачислен в 1А класс")).unwrap();
    let all = procs::wait_for("the further response", procs::ANSWER_LIMIT, || async {
        let all = w.control.client.portal_responses(&filed).await.unwrap().unwrap_or_default();
        (all.len() >= 2).then_some(all)
    })
    .await;
    assert_eq!(order_status(&all[1]), ("250".to_string(), "Зачислен в 1А класс".to_string()));
    valid_1_1_0(&all[1], &dir);
    let pushed_requests = w.control.messages(procs::Direction::Request).await;
    let status_requests = pushed_requests.iter().filter(|m| m.root_element == "OrderStatusRequest").count();
    assert_eq!(status_requests, 0, "no 1.0.0 status request for a 1.1.0 application");
}
