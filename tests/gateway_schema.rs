//! Schema validation in the gateway, end to end: mock-smev (as a process, registering the kinds without a schema,
//! so that it lets invalid content through as a lenient SMEV contour would) delivers to a gateway running in this
//! test. Content that does not match its kind's schema (the one shipped for a concentrator namespace, or the file
//! `provider.kinds[].xsd` names) gets `RequestRejected` naming the first errors, answered once and acknowledged;
//! valid content reaches the service.
mod procs;

use edugate::school::EmbeddedSchool;
use procs::{Control, MessageState};
use std::path::Path;
use std::sync::Arc;

const NS_321: &str = "http://epgu.gosuslugi.ru/concentrator/kindergarten/3.2.1";
const STRICT: &str = "urn://edugate/test/strict/1.0.0";

fn sample(name: &str) -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/epgu").join(name)).unwrap()
}

/// A schema of the test's own kind: `Strict` holds one integer `Number`.
fn strict_schema(dir: &Path) -> std::path::PathBuf {
    let path = dir.join("strict.xsd");
    let xsd = format!(
        "<xs:schema xmlns:xs=\"http://www.w3.org/2001/XMLSchema\" targetNamespace=\"{STRICT}\" \
         elementFormDefault=\"qualified\"><xs:element name=\"Strict\"><xs:complexType><xs:sequence>\
         <xs:element name=\"Number\" type=\"xs:int\"/></xs:sequence></xs:complexType></xs:element></xs:schema>"
    );
    std::fs::write(&path, xsd).unwrap();
    path
}

struct World {
    control: Control,
    _mock: procs::Proc,
    _dir: tempfile::TempDir,
    _gateway: procs::InProcess,
}

/// mock-smev with the concentrator's 3.2.1 `FormData` and the strict kind, neither with a schema; a gateway serving
/// both with the echo service, the first validated by the shipped schema, the second by `strict.xsd`.
async fn world() -> World {
    let dir = tempfile::tempdir().unwrap();
    let kind =
        |ns: &str, root: &str| format!("[[kinds]]\nnamespace = \"{ns}\"\nroot = \"{root}\"\nprovider = \"EDUGATE\"\n");
    let mock = procs::start_mock_with(dir.path(), &(kind(NS_321, "FormData") + &kind(STRICT, "Strict")), false);
    let mut config = procs::gateway_config(dir.path(), &mock.addr);
    let echo = config.provider.kinds.iter().find(|k| k.service == "echo").unwrap().clone();
    let concentrator =
        edugate::config::KindConfig { namespace: NS_321.into(), root: "FormData".into(), ..echo.clone() };
    let strict = edugate::config::KindConfig {
        namespace: STRICT.into(),
        root: "Strict".into(),
        xsd: Some(strict_schema(dir.path())),
        ..echo
    };
    config.provider.kinds = vec![concentrator, strict];
    config.validate().expect("the configuration's schemas compile");
    let school = EmbeddedSchool::open(&config.school.data, &dir.path().join("journal.jsonl")).unwrap();
    let gateway = procs::run_in_process(config, Arc::new(school)).await;
    World { control: Control::new(&mock.addr), _mock: mock, _dir: dir, _gateway: gateway }
}

/// Waits until the portal's request `id` is acknowledged by the gateway, then checks it was answered exactly once.
async fn answered_once_and_acknowledged(control: &Control, id: &str) {
    procs::wait_for("the request acknowledged", procs::ANSWER_LIMIT, || async {
        let detail = control.message(id).await?;
        (detail.summary.state == MessageState::Acknowledged).then_some(())
    })
    .await;
    let all = control.client.portal_responses(id).await.unwrap().expect("a known request");
    assert_eq!(all.len(), 1, "answered exactly once: {all:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schema_invalid_content_is_refused_with_its_errors_and_valid_content_is_served() {
    let w = world().await;

    // The package's deliberately unknown request: not in the 3.2.1 FormData choice.
    let id = w.control.portal_send(&sample("OtherRequest.xml")).await;
    let refused = w.control.answer_to(&id).await;
    assert_eq!(refused.kind(), "rejected", "{refused:?}");
    let reason = &refused.reasons()[0];
    assert_eq!(reason.code, "FAILURE");
    assert!(reason.description.contains("epgu/kindergarten-3.2.1.xsd"), "{}", reason.description);
    assert!(reason.description.contains("OtherRequest"), "{}", reason.description);
    assert!(reason.description.chars().count() <= edugate::services::registry::MAX_REJECTION_CHARS);
    assert!(refused.signatures_valid);
    answered_once_and_acknowledged(&w.control, &id).await;

    // The real application passes the same schema and reaches the service (echo answers with it).
    let application = sample("ApplicationRequest.xml");
    let served = w.control.answer(&application).await;
    let content = served.content().unwrap_or_else(|| panic!("served: {served:?}"));
    assert!(content.contains("<orderId>14025644457542599</orderId>"), "{content}");

    // The kind with its own configured schema.
    let strict = |number: &str| format!("<s:Strict xmlns:s=\"{STRICT}\"><s:Number>{number}</s:Number></s:Strict>");
    let id = w.control.portal_send(&strict("seven")).await;
    let refused = w.control.answer_to(&id).await;
    let reason = &refused.reasons()[0];
    assert_eq!(reason.code, "FAILURE", "{refused:?}");
    assert!(
        reason.description.contains("strict.xsd") && reason.description.contains("seven"),
        "{}",
        reason.description
    );
    answered_once_and_acknowledged(&w.control, &id).await;
    let served = w.control.answer(&strict("7")).await;
    assert!(served.content().is_some_and(|c| c.contains(">7<")), "{served:?}");
}
