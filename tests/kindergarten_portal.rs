//! Kindergarten enrollment end to end with the EPGU concentrator's real formats: the public samples in
//! `../shared/reference/epgu/samples/` sent by mock-smev playing the portal, answered by the gateway (in this test)
//! over the embedded kindergarten queue; every answer checked against the published XSD of its namespace; status
//! changes made in the queue arriving as further responses to the request that filed the application.
#[path = "support/oracle.rs"]
mod oracle;
mod procs;

use edugate::demo::control::PortalResponse;
use edugate::school::EmbeddedSchool;
use procs::{start_mock, Control};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The public samples, as published.
fn sample(name: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/reference/epgu/samples").join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The 3.2.1 `ApplicationRequest` sample as a parent would file it today: the package's placeholder for the
/// kindergarten replaced by one of the demo region's, the child born three years ago and the entry date next
/// September (the sample's own dates are years in the past), under a fresh order number.
fn application_today(order_id: i64, kindergarten: &str) -> String {
    let today = time::OffsetDateTime::now_utc().date();
    let born = today.replace_year(today.year() - 3).unwrap_or(today);
    let entry = time::Date::from_calendar_date(today.year() + 1, time::Month::September, 1).unwrap();
    sample("ApplicationRequest.xml")
        .replace("{dou_id}", kindergarten)
        .replace("14025644457542599", &order_id.to_string())
        .replace("<ChildBirthDate>2017-01-01</ChildBirthDate>", &format!("<ChildBirthDate>{born}</ChildBirthDate>"))
        .replace("<EntryDate>2024-06-01</EntryDate>", &format!("<EntryDate>{entry}</EntryDate>"))
}

/// The concentrator's published schema of a namespace.
fn xsd_of(content: &str) -> PathBuf {
    let version = ["3.1.1", "3.2.1", "4.0.1"].into_iter().find(|v| content.contains(&format!("kindergarten/{v}")));
    let version = version.unwrap_or_else(|| panic!("not a concentrator answer: {content}"));
    Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("xsd/epgu/kindergarten-{version}.xsd"))
}

/// Checks an answer against the published XSD of its namespace with xmllint, the oracle.
fn assert_valid(dir: &Path, content: &str) {
    let Some(xmllint) = oracle::oracle("xmllint", "libxml2-utils") else { return };
    let file = dir.join("answer.xml");
    std::fs::write(&file, content).unwrap();
    let mut xmllint = std::process::Command::new(xmllint);
    let out = xmllint.arg("--noout").arg("--schema").arg(xsd_of(content)).arg(&file).output().expect("xmllint");
    assert!(out.status.success(), "{content}\n{}", String::from_utf8_lossy(&out.stderr));
}

/// The text of the first element `local` in an answer (the answers use the default namespace, no prefix).
fn field(content: &str, local: &str) -> String {
    let after = content.split(&format!("<{local}>")).nth(1).unwrap_or("");
    after.split('<').next().unwrap_or("").to_string()
}

struct World {
    control: Control,
    school: Arc<EmbeddedSchool>,
    dir: tempfile::TempDir,
    _mock: procs::Proc,
    _gateway: procs::InProcess,
}

/// mock-smev with its default kinds (the concentrator's among them, with their schemas) and a gateway over the
/// embedded school data, pushing status changes every second; `edit` changes the gateway's configuration.
async fn world_with(edit: impl FnOnce(&mut edugate::config::Config)) -> World {
    world_on("", edit).await
}

/// A world whose mock-smev takes `mock_config` (TOML; its `[[kinds]]` replace the default kinds).
async fn world_on(mock_config: &str, edit: impl FnOnce(&mut edugate::config::Config)) -> World {
    if let Ok(filter) = tracing_subscriber::EnvFilter::try_from_default_env() {
        let _ = tracing_subscriber::fmt().with_env_filter(filter).try_init();
    }
    let dir = tempfile::tempdir().unwrap();
    let mock = match mock_config {
        "" => start_mock(dir.path()),
        more => procs::start_mock_with(dir.path(), more, false),
    };
    let mut config = procs::gateway_config(dir.path(), &mock.addr);
    config.school.status_poll_secs = 1;
    edit(&mut config);
    let school = Arc::new(EmbeddedSchool::open(&config.school.data, &dir.path().join("journal.jsonl")).unwrap());
    let gateway = procs::run_in_process(config, school.clone()).await;
    World { control: Control::new(&mock.addr), school, dir, _mock: mock, _gateway: gateway }
}

async fn world() -> World {
    world_with(|_| {}).await
}

impl World {
    /// Sends `content` as the portal; returns the answer, checked against its schema.
    async fn ask(&self, content: &str) -> (String, PortalResponse) {
        let id = self.control.portal_send(content).await;
        let answer = self.control.answer_to(&id).await;
        if let Some(content) = answer.content() {
            assert_valid(self.dir.path(), content);
        }
        (id, answer)
    }

    /// Every response the portal has for request `id`, in arrival order, once there are `count`.
    async fn responses(&self, id: &str, count: usize) -> Vec<PortalResponse> {
        procs::wait_for("the further responses", procs::ANSWER_LIMIT, || async {
            let all = self.control.client.portal_responses(id).await.unwrap().unwrap_or_default();
            (all.len() >= count).then_some(all)
        })
        .await
    }
}

/// The real 3.2.1 sample, filed today: 110 with the region's number; the queue position and the application as
/// held come back in the request's namespace; status changes in the queue reach the portal as further responses to
/// the filing request, each once and in order; the application is cancelled.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_application_filed_on_the_portal_is_answered_and_followed() {
    let w = world().await;
    let order_id = 8_100_000_001;
    let (filed, answer) = w.ask(&application_today(order_id, "DOU-001")).await;
    let content = answer.content().expect("changeOrderInfo");
    assert!(content.contains("http://epgu.gosuslugi.ru/concentrator/kindergarten/3.2.1"), "{content}");
    assert_eq!(field(content, "orgCode"), "110", "{content}");
    assert_eq!(field(content, "pguId"), order_id.to_string());
    let (number, _) = w.school.kindergarten_status(order_id).expect("held by the queue");
    assert!(field(content, "comment").contains(&number), "the comment names the region's number: {content}");

    let ask = |request: &str| {
        format!(
            "<FormData xmlns=\"http://epgu.gosuslugi.ru/concentrator/kindergarten/3.2.1\" oktmo=\"42000000\">\
             <{request}><orderId>{order_id}</orderId></{request}></FormData>"
        )
    };
    let (_, queue) = w.ask(&ask("GetApplicationQueueRequest")).await;
    let queue = queue.content().expect("GetApplicationQueueResponse");
    assert!(field(queue, "Position").parse::<u64>().unwrap() >= 1, "{queue}");
    assert!(field(queue, "Total").parse::<u64>().unwrap() >= field(queue, "Position").parse::<u64>().unwrap());
    let (_, held) = w.ask(&ask("GetApplicationRequest")).await;
    let held = held.content().expect("GetApplicationResponse");
    assert_eq!(field(held, "ChildName"), "Замира", "{held}");

    // Three changes in the queue: three further responses to the filing request, in order, each once.
    for (code, comment) in [(120, "Начато рассмотрение"), (130, "Подтвердите данные"), (140, "Рассмотрено")]
    {
        w.school.set_kindergarten_status(order_id, code, Some(comment)).unwrap();
    }
    let all = w.responses(&filed, 4).await;
    let codes: Vec<String> = all.iter().map(|r| field(r.content().expect("content"), "orgCode")).collect();
    assert_eq!(codes, ["110", "120", "130", "140"]);
    for response in &all {
        assert_eq!(response.request_message_id, filed);
        assert!(response.signatures_valid);
        assert_valid(w.dir.path(), response.content().unwrap());
    }
    let mut ids: Vec<&str> = all.iter().map(|r| r.response_message_id.as_str()).collect();
    ids.dedup();
    assert_eq!(ids.len(), 4, "a new MessageID for each response");

    // Withdrawn: cancelResponse CANCELLED, and the 150 that follows reaches the filing request too.
    let (_, cancelled) = w.ask(&ask("cancelRequest")).await;
    assert_eq!(field(cancelled.content().expect("cancelResponse"), "result"), "CANCELLED");
    let all = w.responses(&filed, 5).await;
    assert_eq!(field(all[4].content().unwrap(), "orgCode"), "150");
    tokio::time::sleep(std::time::Duration::from_secs(3)).await;
    let settled = w.control.client.portal_responses(&filed).await.unwrap().unwrap();
    assert_eq!(settled.len(), 5, "nothing pushed twice");
}

/// Refusals the schema provides: an unknown kindergarten and the unchanged sample (a child now older than the
/// queue takes, an entry date in the past) get 150 with the reason; a question about an order nobody filed gets 150
/// "not found"; a subscription that finds nothing gets techCode 4; a cancel of an unknown order is REJECTED.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refusals_carry_their_reason() {
    let w = world().await;
    let (_, unknown) = w.ask(&application_today(8_100_000_101, "DOU-999")).await;
    let unknown = unknown.content().expect("changeOrderInfo");
    assert_eq!(field(unknown, "orgCode"), "150");
    assert!(field(unknown, "comment").contains("DOU-999"), "{unknown}");

    let (_, stale) = w.ask(&sample("ApplicationRequest.xml").replace("{dou_id}", "DOU-001")).await;
    let stale = stale.content().expect("changeOrderInfo");
    assert_eq!(field(stale, "orgCode"), "150", "{stale}");
    assert!(!field(stale, "comment").is_empty());

    let nobody = "<FormData xmlns=\"http://epgu.gosuslugi.ru/concentrator/kindergarten/4.0.1\" oktmo=\"42000000\">\
                  <GetApplicationQueueRequest><orderId>8100000199</orderId></GetApplicationQueueRequest></FormData>";
    let (_, missing) = w.ask(nobody).await;
    let missing = missing.content().expect("changeOrderInfo");
    assert!(missing.contains("kindergarten/4.0.1"), "answered in the request's version: {missing}");
    assert_eq!(field(missing, "orgCode"), "150");

    let cancel = nobody.replace("GetApplicationQueueRequest", "cancelRequest");
    let (_, rejected) = w.ask(&cancel).await;
    assert_eq!(field(rejected.content().expect("cancelResponse"), "result"), "REJECTED");

    // The 3.1.1 sample asks for an application nobody filed: 150 in 3.1.1's own terms (a techCode).
    let (_, old) = w.ask(&sample("getapplication-1.xml")).await;
    let old = old.content().expect("changeOrderInfo");
    assert!(old.contains("kindergarten/3.1.1") && field(old, "techCode") == "4", "{old}");
}

/// A cancel of an application whose child is already enrolled is answered `cancelResponse` REJECTED with a comment,
/// and the application stays enrolled.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancel_of_an_enrolled_application_is_rejected() {
    let w = world().await;
    let order_id = 8_100_000_501;
    let (_, filed) = w.ask(&application_today(order_id, "DOU-001")).await;
    assert_eq!(field(filed.content().expect("changeOrderInfo"), "orgCode"), "110");
    w.school.set_kindergarten_status(order_id, 250, Some("Зачислен")).unwrap();
    let cancel = format!(
        "<FormData xmlns=\"http://epgu.gosuslugi.ru/concentrator/kindergarten/3.2.1\" oktmo=\"42000000\">\
         <cancelRequest><orderId>{order_id}</orderId><reason>Передумали</reason></cancelRequest></FormData>"
    );
    let (_, answer) = w.ask(&cancel).await;
    let content = answer.content().expect("cancelResponse");
    assert_eq!(field(content, "result"), "REJECTED", "{content}");
    assert!(!field(content, "comment").is_empty(), "the refusal says why: {content}");
    assert_eq!(w.school.kindergarten_status(order_id).map(|(_, s)| s.code), Some(250), "still enrolled");
}

/// The second real sample (a medical report with its files, a sibling) and the same application in 4.0.1 are
/// filed and answered in their own namespaces; a schema-invalid FormData never reaches the region: SMEV refuses it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_version_is_answered_in_its_own_namespace() {
    let w = world().await;
    // The sample is the content as a portal builds it (a child born in 2024, entry in 2029), with the package's
    // placeholder for the kindergarten replaced by one of the demo region's.
    let second = sample("smev3_321.xml").replace("{dou_id}", "DOU-001");
    let (_, answer) = w.ask(&second).await;
    let content = answer.content().expect("answer");
    assert!(content.contains("kindergarten/3.2.1") && field(content, "orgCode") == "110", "{content}");

    let v4 = application_today(8_100_000_201, "DOU-002").replace("kindergarten/3.2.1", "kindergarten/4.0.1");
    let (_, answer) = w.ask(&v4).await;
    let answer = answer.content().expect("answer");
    assert!(answer.contains("kindergarten/4.0.1"), "{answer}");
    assert_eq!(field(answer, "orgCode"), "110", "{answer}");

    let refused = w.control.client.portal_send(&sample("OtherRequest.xml")).await.expect_err("SMEV refuses it");
    assert_eq!(refused.fault(), Some("InvalidContent"), "{refused}");
}

/// A region maps its portal's own namespace to the concentrator's 3.2.1: the application is read in that version's
/// shape and answered, now and later (a status change as a further response), in the region's namespace.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_region_maps_its_own_namespace_to_a_version_of_the_concentrator() {
    const REGION: &str = "urn://region/kindergarten/2.0";
    let mock = format!("[[kinds]]\nnamespace = \"{REGION}\"\nroot = \"FormData\"\nprovider = \"EDUGATE\"\n");
    let w = world_on(&mock, |config| {
        let mut regional = config.provider.kinds.iter().find(|k| k.service == "kindergarten").unwrap().clone();
        regional.namespace = REGION.into();
        regional.version = Some("3.2.1".into());
        config.provider.kinds.push(regional);
    })
    .await;
    let order_id = 8_100_000_401;
    let asked = application_today(order_id, "DOU-001")
        .replace("http://epgu.gosuslugi.ru/concentrator/kindergarten/3.2.1", REGION);
    let filed = w.control.portal_send(&asked).await;
    let answer = w.control.answer_to(&filed).await;
    let content = answer.content().expect("changeOrderInfo");
    assert!(content.contains(REGION) && field(content, "orgCode") == "110", "{content}");
    w.school.set_kindergarten_status(order_id, 120, Some("Начато рассмотрение")).unwrap();
    let all = w.responses(&filed, 2).await;
    let pushed = all[1].content().expect("a further response");
    assert!(pushed.contains(REGION) && field(pushed, "orgCode") == "120", "{pushed}");
}

/// A status change reaches the portal as a further response to the filing request exactly once, although the
/// gateway (a process over its sled store) is killed with SIGKILL around it: once right after the change is made
/// (before or while it is pushed), once after it was delivered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_status_change_is_pushed_once_across_a_gateway_kill() {
    let dir = tempfile::tempdir().unwrap();
    let mock = start_mock(dir.path());
    let control = Control::new(&mock.addr);
    let data = dir.path().join("school.json");
    std::fs::copy(Path::new(env!("CARGO_MANIFEST_DIR")).join("data/school-demo.json"), &data).unwrap();
    let settings =
        [("EDUGATE__SCHOOL__DATA", data.display().to_string()), ("EDUGATE__SCHOOL__RELOAD_SECS", "1".to_string())];
    let start = || procs::start_gateway_with(dir.path(), &mock.addr, Some("warn"), &settings);
    let mut gateway = start();
    let order_id = 8_100_000_301;
    let filed = control.portal_send(&application_today(order_id, "DOU-003")).await;
    let first = control.answer_to(&filed).await;
    assert_eq!(field(first.content().expect("changeOrderInfo"), "orgCode"), "110");
    let responses = |count: usize| {
        let (control, filed) = (&control, &filed);
        async move {
            procs::wait_for("the further responses", procs::ANSWER_LIMIT, || async move {
                let all = control.client.portal_responses(filed).await.unwrap().unwrap_or_default();
                (all.len() >= count).then_some(all)
            })
            .await
        }
    };

    // Killed right after the change: the restarted gateway finds it in the school's feed and pushes it once.
    edugate::demo::set_kindergarten_status(&data, order_id, 120, "Начато рассмотрение").unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    gateway.kill();
    gateway = start();
    responses(2).await;

    // Killed after the push was delivered: nothing is pushed again.
    gateway.kill();
    gateway = start();
    edugate::demo::set_kindergarten_status(&data, order_id, 140, "Рассмотрено").unwrap();
    let all = responses(3).await;
    tokio::time::sleep(std::time::Duration::from_secs(3)).await;
    let settled = control.client.portal_responses(&filed).await.unwrap().unwrap();
    let codes: Vec<String> = settled.iter().map(|r| field(r.content().unwrap(), "orgCode")).collect();
    assert_eq!(codes, ["110", "120", "140"], "each change once, in order");
    assert_eq!(settled.len(), all.len());
    assert!(settled.iter().all(|r| r.request_message_id == filed && r.signatures_valid));
    procs::terminate(&mut gateway);
}
