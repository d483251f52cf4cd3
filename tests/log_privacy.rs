//! No SNILS, name or birth date appears unmasked in the gateway's log at the default level, whatever it handles.
mod procs;

use edugate::services::enrollment;
use procs::{start_gateway_logging, start_mock, Control};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_log_names_nobody() {
    let dir = tempfile::tempdir().unwrap();
    let mock = start_mock(dir.path());
    let control = Control::new(&mock.addr);
    let gateway = start_gateway_logging(dir.path(), &mock.addr, None);
    let lookup = |snils: &str| {
        format!(
            "<p:ProgressRequest xmlns:p=\"urn://edugate/progress/1.0.0\"><p:ApplicantSnils>{snils}</p:ApplicantSnils>\
             <p:Child><p:Surname>Иванова</p:Surname></p:Child>\
             <p:PeriodFrom>2026-09-01</p:PeriodFrom><p:PeriodTo>2026-10-24</p:PeriodTo></p:ProgressRequest>"
        )
    };
    let mut ids = Vec::new();
    for content in [
        lookup("112-233-445 95"),
        lookup("123-456-789 64"),
        lookup("198-765-432 48"),
        enrollment::sample_form(4_400_000_001),
        enrollment::sample_form(4_400_000_002).replace("SCH-002", "SCH-999"),
    ] {
        ids.push(control.portal_send(&content).await);
    }
    for id in &ids {
        control.answer_to(id).await;
    }
    drop(gateway);
    let log = std::fs::read_to_string(dir.path().join("gateway.log")).unwrap();
    assert!(log.contains("INFO"), "the default level logs at INFO");
    assert!(log.contains("***-***-**5 95"), "SNILS appear masked");
    let forbidden = [
        "112-233-445",
        "11223344595",
        "123-456-789",
        "198-765-432",
        "Иванова",
        "Анна",
        "Петров",
        "Мария",
        "Иван ",
        "2020-04-15",
        "654321",
        "4510",
    ];
    for word in forbidden {
        assert!(!log.contains(word), "the log contains '{word}':\n{log}");
    }
}
