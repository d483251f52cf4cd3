//! The school enrollment formats 1.0.0 and 1.1.0 without a gateway: every request sample and every answer the
//! service writes validates against its own XSD (xmllint is the oracle), status 200 exists in neither, and bad forms
//! are refused with a reason a parent can read (150), never a panic.
#[path = "support/oracle.rs"]
mod oracle;

use edugate::school::kindergarten::{CancelResult, Cancelled};
use edugate::school::model::DEPARTMENT_STATUSES;
use edugate::school::EnrollmentApplication;
use edugate::services::enrollment::{self, v100, v110, Refusal};
use std::path::{Path, PathBuf};
use time::macros::date;

const TODAY: time::Date = date!(2026 - 12 - 01);

fn xsd(version: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("xsd/school-enrollment-{version}.xsd"))
}

/// Whether `content` validates against the schema of `version`, with xmllint's complaint; `None` when xmllint is
/// missing (the test is then skipped, unless oracles are required).
fn validates(content: &str, version: &str) -> Option<Result<(), String>> {
    let xmllint = oracle::oracle("xmllint", "libxml2-utils")?;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("content.xml");
    std::fs::write(&file, content).unwrap();
    let out = std::process::Command::new(xmllint)
        .arg("--noout")
        .arg("--schema")
        .arg(xsd(version))
        .arg(&file)
        .output()
        .expect("running xmllint");
    Some(if out.status.success() { Ok(()) } else { Err(String::from_utf8_lossy(&out.stderr).into_owned()) })
}

/// Asserts that `content` validates against `version`'s schema (when xmllint is there).
fn assert_valid(content: &str, version: &str) {
    if let Some(Err(complaint)) = validates(content, version) {
        panic!("not valid against {version}: {complaint}\n{content}");
    }
}

/// The 1.1.0 sample's application, read.
fn sample_application(order_id: i64) -> EnrollmentApplication {
    match enrollment::parse_request(&v110::sample_request(order_id, "2020-03-15"), TODAY) {
        Ok(v110::Request::Application(a)) => *a,
        other => panic!("the sample is an application: {other:?}"),
    }
}

fn refused_110(content: &str) -> Refusal {
    match enrollment::parse_request(content, TODAY) {
        Err(refusal) => refusal,
        Ok(request) => panic!("expected a refusal, read {request:?}"),
    }
}

#[test]
fn the_samples_validate_against_their_schemas() {
    assert_valid(&v110::sample_request(4_500_000_001, "2020-03-15"), "1.1.0");
    assert_valid(&v110::sample_order_request("GetApplicationRequest", 4_500_000_001), "1.1.0");
    assert_valid(&v110::sample_order_request("cancelRequest", 4_500_000_001), "1.1.0");
    assert_valid(&enrollment::sample_form(4_500_000_001), "1.0.0");
}

#[test]
fn the_whole_application_is_read() {
    let a = sample_application(42);
    assert_eq!((a.order_id, a.oktmo.as_str(), a.grade, a.academic_year.as_str()), (42, "46701000", 1, "2027/2028"));
    assert_eq!(a.service_type.as_deref(), Some("600426"));
    assert_eq!(a.filed_at.map(|t| t.unix_timestamp()), Some(1_800_424_812));
    assert_eq!(a.applicant_snils.formatted(), "112-233-445 95");
    assert_eq!((a.applicant.phone.as_str(), a.applicant.email.as_str()), ("+79001234567", "petrov@example.org"));
    let identity = a.identity.as_ref().unwrap();
    assert_eq!((identity.number.as_str(), identity.issuer_code.as_deref()), ("123456", Some("500001")));
    assert!(matches!(
        &a.child.birth_doc,
        Some(edugate::school::kindergarten::BirthDoc::Russian { series, act_number: Some(act), .. })
            if series == "II-МЮ" && act == "1234"
    ));
    let address = a.address.as_ref().unwrap();
    assert_eq!(address.street.code, "9b8f1e6e-5a0d-4a5e-8f5c-2b1a3c4d5e6f");
    assert_eq!((address.house.text.as_str(), address.apartment.as_str()), ("1", "2"));
    let schools: Vec<_> = a.schools.iter().map(|s| (s.code.as_str(), s.name.as_str(), s.priority)).collect();
    assert_eq!(schools, [("SCH-001", "МБОУ СОШ № 1", 1), ("SCH-002", "МБОУ СОШ № 2", 2)]);
    assert_eq!(a.language.as_ref().map(|l| l.code.as_str()), Some("rus"));
    assert_eq!(a.siblings.len(), 1);
    assert_eq!(a.siblings[0].school.code, "SCH-001");
    assert_eq!(a.benefit.as_ref().map(|b| b.category.code.as_str()), Some("sibling"));
    assert_eq!(a.documents.len(), 1);
    // Debug masks people.
    let debug = format!("{a:?}");
    for secret in ["Петров", "Мария", "2020-03-15", "112-233-445", "654321", "Ленина", "petrov@"] {
        assert!(!debug.contains(secret), "{secret} in {debug}");
    }
}

#[test]
fn the_1_0_0_form_reads_into_the_same_application() {
    let a = enrollment::parse_form(&enrollment::sample_form(42), TODAY).unwrap();
    assert_eq!((a.order_id, a.grade, a.schools.len()), (42, 1, 2));
    assert_eq!(a.applicant.middle_name.as_deref(), Some("Сергеевич"));
    assert_eq!(a.identity.as_ref().map(|d| d.number.as_str()), Some("123456"));
    assert!(a.child.birth_doc.is_some());
    assert_eq!(a.address.as_ref().map(|d| d.region.code.as_str()), Some("50"));
}

#[test]
fn every_answer_validates_against_its_schema() {
    let long = "я".repeat(3000);
    for status in DEPARTMENT_STATUSES {
        let answer = v110::change_order_info(v110::NS, 4_500_000_001, status, Some(&long));
        assert_eq!(answer.matches("cancelAllowed").count(), 2, "{answer}");
        assert_valid(&answer, "1.1.0");
        assert_valid(&v100::change_order_info(4_500_000_001, Some("46701000"), status, Some("ok")), "1.0.0");
        assert_valid(&v100::status_request(4_500_000_001, status, "2026-11-25T09:00:00.000Z", Some("ok")), "1.0.0");
    }
    let enrolled = v110::change_order_info(v110::NS, 1, 250, None);
    assert!(enrolled.contains("<e:cancelAllowed>false</e:cancelAllowed>"), "{enrolled}");
    let registered = v110::change_order_info(v110::NS, 1, 110, None);
    assert!(registered.contains("<e:cancelAllowed>true</e:cancelAllowed>"), "{registered}");
    for result in [CancelResult::Cancelled, CancelResult::InProgress, CancelResult::Rejected] {
        let cancelled = Cancelled { result, comment: Some(long.clone()) };
        assert_valid(&v110::cancel_response(v110::NS, 7, &cancelled), "1.1.0");
    }
    // The application as held, whole, as read from 1.0.0, and as an old journal line holds it (no documents or
    // address): each a valid GetApplicationResponse.
    assert_valid(&v110::application_response(v110::NS, &sample_application(7)), "1.1.0");
    let from_1_0_0 = enrollment::parse_form(&enrollment::sample_form(7), TODAY).unwrap();
    assert_valid(&v110::application_response(v110::NS, &from_1_0_0), "1.1.0");
    let mut bare = sample_application(7);
    (bare.identity, bare.address, bare.child.birth_doc, bare.benefit) = (None, None, None, None);
    assert_valid(&v110::application_response(v110::NS, &bare), "1.1.0");
}

#[test]
fn comments_are_cut_to_the_schema_limit_on_a_character_boundary() {
    let long = "ж".repeat(2049);
    assert_eq!(v110::cut_comment(&long).chars().count(), 2048);
    assert_eq!(v110::cut_comment("short"), "short");
}

#[test]
fn there_is_no_status_200() {
    assert!(!DEPARTMENT_STATUSES.contains(&200));
    assert_eq!(DEPARTMENT_STATUSES.len(), 14);
    if let Some(result) = validates(&v110::change_order_info(v110::NS, 1, 200, None), "1.1.0") {
        assert!(result.is_err(), "1.1.0 accepted status 200");
    }
    if let Some(result) = validates(&v100::change_order_info(1, None, 200, None), "1.0.0") {
        assert!(result.is_err(), "1.0.0 accepted status 200");
    }
}

#[test]
fn get_and_cancel_requests_are_read() {
    let get = enrollment::parse_request(&v110::sample_order_request("GetApplicationRequest", 9), TODAY).unwrap();
    assert_eq!(get, v110::Request::Get { order_id: 9 });
    let cancel =
        v110::sample_order_request("cancelRequest", 9).replace("</orderId>", "</orderId><reason>переезд</reason>");
    assert_eq!(
        enrollment::parse_request(&cancel, TODAY).unwrap(),
        v110::Request::Cancel { order_id: 9, reason: Some("переезд".into()) }
    );
}

#[test]
fn a_form_in_a_regional_namespace_reads_as_1_1_0() {
    let regional = v110::sample_request(5, "2020-03-15").replace(v110::NS, "urn://region/school/2.0");
    let Ok(v110::Request::Application(a)) = enrollment::parse_request(&regional, TODAY) else { panic!("read") };
    assert_eq!(a.order_id, 5);
    let answer = v110::change_order_info("urn://region/school/2.0", 5, 110, None);
    assert!(answer.starts_with("<e:FormDataResponse xmlns:e=\"urn://region/school/2.0\">"), "{answer}");
}

#[test]
fn bad_forms_get_readable_reasons() {
    let good = v110::sample_request(42, "2020-03-15");
    let cut = |from: &str, to: &str| {
        let (start, end) = (good.find(from).unwrap(), good.find(to).unwrap() + to.len());
        format!("{}{}", &good[..start], &good[end..])
    };
    let cases: Vec<(String, &str)> = vec![
        (cut("<PersonIdentityDocInfo>", "</PersonIdentityDocInfo>"), "нет поля PersonIdentityDocInfo"),
        (cut("<ChildInfo>", "</ChildInfo>"), "нет поля ChildInfo"),
        (cut("<Address>", "</Address>"), "нет поля Address"),
        (cut("<EntryParams>", "</EntryParams>"), "нет поля EntryParams"),
        (cut("<ChildBirthDocRF>", "</ChildBirthDocRF>"), "документ о рождении"),
        (
            format!(
                "{}<EduOrganizations></EduOrganizations>{}",
                &good[..good.find("<EduOrganizations>").unwrap()],
                &good[good.find("</EduOrganizations>").unwrap() + "</EduOrganizations>".len()..]
            ),
            "не выбрана ни одна школа",
        ),
        (good.replace("112-233-445 95", "112-233-445 96"), "СНИЛС заявителя"),
        (good.replace("<Parents>true</Parents>", "<Parents>false</Parents>"), "OtherRepresentative"),
        (good.replace("<Parents>true</Parents>", "<Parents>yes</Parents>"), "Parents"),
        (good.replace("2020-03-15", "2030-01-01"), "будущем"),
        (good.replace("2020-03-15", "2020-02-30"), "ChildBirthDate"),
        (good.replace("2027-01-20T09:00:12+03:00", "вчера"), "FilingDate"),
        (good.replace("<Grade>1</Grade>", "<Grade>12</Grade>"), "класс"),
        (good.replace("2027/2028", "2027/2029"), "учебный год"),
        (good.replace("PriorityNumber=\"2\"", "PriorityNumber=\"1\""), "дважды"),
        (good.replace("PriorityNumber=\"2\"", "PriorityNumber=\"9\""), "приоритет"),
        (good.replace("code=\"SCH-002\"", "code=\"\""), "не указан код"),
        (good.replace("oktmo=\"46701000\"", "oktmo=\"4670\""), "ОКТМО"),
        (good.replace("<orderId>42</orderId>", "<orderId>x</orderId>"), "номер заявления"),
        (good.replace("</FormData>", "<cancelRequest><orderId>1</orderId></cancelRequest></FormData>"), "ровно один"),
        (v110::sample_order_request("textRequest", 1), "textRequest"),
    ];
    for (content, needle) in cases {
        let refusal = refused_110(&content);
        assert!(refusal.reason.contains(needle), "{needle:?} not in {:?}", refusal.reason);
        // The refusal itself is a valid answer.
        let answer = v110::change_order_info(v110::NS, refusal.order_id.unwrap_or(0), 150, Some(&refusal.reason));
        assert_valid(&answer, "1.1.0");
    }
    // A form after its order id names the order in the refusal; garbage is refused without one.
    assert_eq!(refused_110(&good.replace("112-233-445 95", "1")).order_id, Some(42));
    assert_eq!(refused_110("<FormData").order_id, None);
}
