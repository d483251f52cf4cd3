//! The EPGU concentrator codec: the real samples read into the model; every answer and request of every version,
//! written from a full model, validates against the published schema shipped in `xsd/epgu/` (xmllint, an oracle:
//! skipped when missing unless `EDUGATE_REQUIRE_ORACLES=1`); what is written reads back equal; bad input is a
//! `ReadError` naming the element, never a panic.
mod support;

use edugate::school::kindergarten::model::*;
use edugate::school::snils::Snils;
use edugate::services::concentrator::*;
use edugate::xml::{parse as parse_xml, Limits};
use proptest::prelude::*;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::path::PathBuf;
use std::process::Command;
use time::{Date, Month, OffsetDateTime, PrimitiveDateTime, Time, UtcOffset};

// ---------------------------------------------------------------------------------------------------------------
// Helpers

fn date(y: i32, m: u8, d: u8) -> Date {
    Date::from_calendar_date(y, Month::try_from(m).unwrap(), d).unwrap()
}

fn at(y: i32, m: u8, d: u8, hh: u8, mm: u8, ss: u8, offset_h: i8) -> OffsetDateTime {
    PrimitiveDateTime::new(date(y, m, d), Time::from_hms(hh, mm, ss).unwrap())
        .assume_offset(UtcOffset::from_hms(offset_h, 0, 0).unwrap())
}

fn coded(code: &str, text: &str) -> Coded {
    Coded { code: code.into(), text: text.into() }
}

fn file(code: &str, name: &str) -> FileRef {
    FileRef { code: code.into(), name: name.into(), mime: "application/pdf".into() }
}

fn read_str(xml: &str) -> Result<FormData, ReadError> {
    let doc = parse_xml(xml, &Limits::default()).expect("well-formed");
    read(&doc, doc.root())
}

fn schema(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("xsd/epgu").join(name)
}

fn version_schema(v: Version) -> String {
    format!("kindergarten-{}.xsd", v.as_str())
}

fn order_schema(v: OrderVersion) -> String {
    format!("kindergarten-order-{}.xsd", v.as_str())
}

/// Validates every document against `schema_file` in one xmllint run.
fn validate(schema_file: &str, docs: &[(String, String)]) {
    let Some(xmllint) = support::oracle("xmllint", "libxml2-utils") else { return };
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = Command::new(xmllint);
    cmd.arg("--noout").arg("--schema").arg(schema(schema_file));
    for (i, (name, xml)) in docs.iter().enumerate() {
        let path = dir.path().join(format!("{i:02}-{name}.xml"));
        std::fs::write(&path, xml).unwrap();
        cmd.arg(path);
    }
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "invalid against {schema_file}:\n{}\n{}",
        String::from_utf8_lossy(&out.stderr),
        docs.iter().map(|(n, x)| format!("--- {n}\n{x}")).collect::<Vec<_>>().join("\n")
    );
}

fn samples() -> Option<PathBuf> {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/reference/epgu/samples");
    support::oracle_path(p, "the real EPGU concentrator samples")
}

// ---------------------------------------------------------------------------------------------------------------
// Full models

fn applicant(with_representative: bool) -> Applicant {
    Applicant {
        surname: "Иванова".into(),
        name: "Елена".into(),
        middle_name: Some("Викторовна".into()),
        phone: "+7(123)1234567".into(),
        email: "test@test.ru".into(),
        is_parent: !with_representative,
        representative: with_representative.then(|| Representative {
            doc_name: "Постановление об опеке".into(),
            doc_series: Some("АБ".into()),
            doc_number: "123".into(),
            doc_date: date(2020, 1, 2),
            doc_issued: "Орган опеки & попечительства <Казань>".into(),
        }),
        snils: None,
    }
}

fn identity(long_fields: bool) -> IdentityDoc {
    IdentityDoc {
        kind: coded("1", "Паспорт гражданина РФ"),
        series: Some(if long_fields { "1234567890123".into() } else { "6004".into() }),
        number: "586830".into(),
        issue_date: date(2007, 9, 10),
        issuer_code: Some("000009".into()),
        issued: Some("Отделением УФМС России".into()),
    }
}

fn russian_certificate() -> BirthDoc {
    BirthDoc::Russian {
        series: "VII-ЛД".into(),
        number: "132564".into(),
        issue_date: date(2024, 1, 2),
        act_number: Some("13245".into()),
        act_date: Some(date(2024, 1, 2)),
        issued: "ЗАГС района №5".into(),
    }
}

fn child(doc: BirthDoc) -> Child {
    Child {
        surname: "Иванов".into(),
        name: "Василий".into(),
        middle_name: Some("Александрович".into()),
        birth_date: date(2024, 1, 2),
        birth_doc: Some(doc),
    }
}

fn address() -> Address {
    Address {
        full: "121351, Москва г., Бобруйская ул., 4 д., 2 корп.".into(),
        index: "121351".into(),
        region: coded("0c5b2444-70a0-4932-980c-b4dc0d3f02b5", "г. Москва"),
        street: coded("585eec0b-314c-4309-a497-3fe09300e903", "ул. Бобруйская"),
        house: coded("", "4"),
        building1: "2".into(),
        apartment: "23".into(),
        ..Address::default()
    }
}

/// An application with every field its version's schema has filled.
fn full_application(v: Version) -> KindergartenApplication {
    let newest = v == Version::V4_0_1;
    KindergartenApplication {
        order_id: 9_000_000_000_001,
        oktmo: "92701000".into(),
        service_type: "-10002202019".into(),
        filed_at: Some(at(2026, 11, 30, 9, 30, 10, 3)),
        applicant: applicant(true),
        identity: identity(newest),
        child: child(if newest {
            BirthDoc::Act {
                act_number: "170239000123".into(), act_date: date(2024, 1, 5), issued: Some("ЗАГС".into())
            }
        } else {
            russian_certificate()
        }),
        address: address(),
        entry: EntryParams {
            entry_date: date(2027, 9, 1),
            language: coded("1", "Русский"),
            schedule: coded("2", "Кратковременный режим"),
            full_day_group: Some(false),
            other_day_group: newest.then_some(true),
        },
        adaptation: Adaptation {
            group: coded("2", "Компенсирующая"),
            group_type: Some(coded("4", "Для слабовидящих детей")),
            education_group: newest.then_some(true),
            general_group: Some(true),
            care_group: Some(false),
            special_care: Some(true),
        },
        medical: Some(MedicalReport {
            kind: coded("1", "Заключение ПМПК"),
            series: Some("А1".into()),
            number: "1122".into(),
            issue_date: date(2025, 9, 1),
            issued: "Центральная ПМПК".into(),
            expires: Some(date(2027, 9, 1)),
            files: vec![file("MedicalFile", "Заключение.pdf"), file("MedicalSignature", "Заключение.pdf.sig")],
        }),
        kindergartens: vec![
            DesiredKindergarten { code: "{dou_id}".into(), name: "Василёк".into(), priority: 1 },
            DesiredKindergarten {
                code: "DOU-17".into(), name: "МАДОУ \"ЦРР-Детский сад № 396\"".into(), priority: 2
            },
        ],
        allow_offer_other: Some(true),
        siblings: vec![Sibling {
            surname: "Иванов".into(),
            name: "Петр".into(),
            middle_name: None,
            kindergarten: coded("{dou_id}", "Василёк"),
        }],
        benefit: Some(Benefit {
            category: coded("1", "Дети из многодетных семей"),
            doc: DocInfo {
                issue_date: date(2022, 2, 2), issued: "Справка".into(), expires: Some(date(2028, 1, 1))
            },
            files: (0..if newest { 4 } else { 2 }).map(|i| file(&format!("Benefit{i}"), "Справка.pdf")).collect(),
        }),
        stay_right_files: if newest { vec![file("Stay", "Разрешение.pdf")] } else { Vec::new() },
    }
}

fn legacy311() -> Legacy311 {
    Legacy311 {
        person_birth_date: date(1990, 5, 6),
        person_sex: Sex::Female,
        citizenship: "РФ".into(),
        birth_country: Some("Россия".into()),
        birth_place: "г. Казань".into(),
        person_type: coded("1", "Мать"),
        child_sex: Sex::Male,
        child_snils: Some("112-233-445 95".into()),
        child_birth_place: "г. Казань".into(),
        foreign_birth_doc: None,
    }
}

/// A 3.1.1 application: what the model keeps of the older shape.
fn application_311() -> KindergartenApplication {
    let mut app = full_application(Version::V3_2_1);
    app.applicant.snils = Some(Snils::parse("112-233-445 95").unwrap());
    app.applicant.representative = None;
    app.applicant.is_parent = true;
    app.filed_at = None;
    app.child.birth_doc = Some(BirthDoc::Russian {
        series: "VII-ЛД".into(),
        number: "132564".into(),
        issue_date: date(2024, 1, 2),
        act_number: Some("13245".into()),
        act_date: None,
        issued: "ЗАГС района №5".into(),
    });
    app.entry.language = Coded::default();
    app.entry.full_day_group = None;
    app.adaptation.special_care = None;
    if let Some(m) = &mut app.medical {
        m.expires = None;
        m.files.clear();
    }
    app.siblings.clear();
    if let Some(b) = &mut app.benefit {
        b.doc.expires = None;
        b.files.clear();
    }
    app
}

fn admission(v: Version) -> Admission {
    Admission { application: full_application(v), kindergarten: coded("DOU-17", "Детский сад № 17") }
}

fn admission_application(v: Version) -> AdmissionApplication {
    let app = full_application(v);
    AdmissionApplication {
        order_id: app.order_id,
        service_type: app.service_type,
        applicant: app.applicant,
        identity: app.identity,
        second_parent: Some(SecondParent {
            surname: "Иванов".into(),
            name: "Александр".into(),
            middle_name: None,
            phone: Some("+79001234567".into()),
            email: Some("a@b.ru".into()),
        }),
        child: app.child,
        address: app.address,
        entry: app.entry,
        adaptation: app.adaptation,
        medical: app.medical,
        kindergarten_code: "DOU-17".into(),
        doc_list_review: true,
        license_charter: false,
    }
}

fn subscription(v: Version) -> Subscription {
    let app = full_application(v);
    Subscription {
        order_id: 77,
        service_type: app.service_type,
        applicant: app.applicant,
        identity: app.identity,
        child: app.child,
    }
}

fn queue_position() -> QueuePosition {
    QueuePosition {
        position: 12,
        total: 340,
        without_queue: 1,
        first_queue: 2,
        advantage_queue: 40_000,
        relevant_at: at(2026, 12, 2, 10, 0, 0, 3),
    }
}

fn long_comment() -> String {
    "Заявление зарегистрировано. ".repeat(100)
}

/// Every request of `v`'s `FormData` choice, from full models.
fn every_request(v: Version) -> Vec<(&'static str, FormData)> {
    let form = |request, legacy| FormData { version: v, oktmo: "92701000".into(), request, legacy };
    if v == Version::V3_1_1 {
        return vec![
            ("application", form(Request::Application(application_311()), Some(legacy311()))),
            ("choose", form(Request::Choose { order_id: 5, kindergarten_code: "DOU-17".into(), accepted: true }, None)),
            ("get", form(Request::Get { order_id: 5 }, None)),
            ("queue", form(Request::Queue { order_id: 5 }, None)),
            ("cancel", form(Request::Cancel { order_id: 5, reason: Some("Переезд".into()) }, None)),
            ("text", form(Request::Text { order_id: 5, text: "Вопрос".into() }, None)),
        ];
    }
    let newest = v == Version::V4_0_1;
    vec![
        ("application", form(Request::Application(full_application(v)), None)),
        ("order-info", form(Request::OrderInfo(subscription(v)), None)),
        ("admission", form(Request::Admission(admission_application(v)), None)),
        ("queue", form(Request::Queue { order_id: 5 }, None)),
        (
            "queue-reason",
            form(Request::QueueReason { order_id: 5, from: date(2026, 1, 1), to: date(2026, 12, 1) }, None),
        ),
        ("get", form(Request::Get { order_id: 5 }, None)),
        ("get-admission", form(Request::GetAdmission { order_id: 5 }, None)),
        (
            "rejection",
            form(
                Request::Rejection {
                    order_id: 5,
                    kindergarten_code: newest.then(|| "DOU-17".into()),
                    comment: Some("Далеко".into()),
                },
                None,
            ),
        ),
        ("cancel", form(Request::Cancel { order_id: 5, reason: None }, None)),
    ]
}

// ---------------------------------------------------------------------------------------------------------------
// Versions

#[test]
fn versions_map_to_and_from_their_namespaces() {
    for v in Version::ALL {
        assert_eq!(Version::from_namespace(v.namespace()), Some(v));
        assert!(v.namespace().ends_with(v.as_str()));
    }
    for v in OrderVersion::ALL {
        assert_eq!(OrderVersion::from_namespace(v.namespace()), Some(v));
        assert!(v.namespace().ends_with(v.as_str()));
    }
    assert_eq!(Version::from_namespace("http://epgu.gosuslugi.ru/concentrator/kindergarten/3.2.2"), None);
    assert_eq!(OrderVersion::from_namespace(Version::V3_2_1.namespace()), None);
}

// ---------------------------------------------------------------------------------------------------------------
// The real samples

#[test]
fn the_real_3_2_1_sample_with_files_and_a_sibling_reads_into_the_model() {
    let Some(dir) = samples() else { return };
    let form = read_str(&std::fs::read_to_string(dir.join("smev3_321.xml")).unwrap()).unwrap();
    assert_eq!(form.version, Version::V3_2_1);
    assert_eq!(form.oktmo, "00000000000");
    assert!(form.legacy.is_none());
    let Request::Application(app) = form.request else { panic!("an application") };
    assert_eq!(app.order_id, 321);
    assert_eq!(app.oktmo, "00000000000");
    assert_eq!(app.service_type, "-10002202019");
    assert_eq!(app.filed_at, Some(at(2020, 10, 15, 9, 30, 10, 3)));
    assert_eq!((app.applicant.surname.as_str(), app.applicant.is_parent), ("Иванова", true));
    assert_eq!(app.applicant.middle_name.as_deref(), Some("Викторовна"));
    assert_eq!(app.identity.kind, coded("1", "Паспорт гражданина РФ"));
    assert_eq!(app.identity.issuer_code.as_deref(), Some("000009"));
    assert_eq!(
        app.child.birth_doc,
        Some(BirthDoc::Russian {
            series: "VII-ЛД".into(),
            number: "132564".into(),
            issue_date: date(2024, 1, 2),
            act_number: Some("13245".into()),
            act_date: Some(date(2016, 2, 2)),
            issued: "ЗАГС района №5".into(),
        })
    );
    assert_eq!(app.address.region, coded("0c5b2444-70a0-4932-980c-b4dc0d3f02b5", "г. Москва"));
    assert_eq!(app.address.area, coded("", ""));
    assert_eq!(app.address.house, coded("5956b056-0d23-4f59-9c52-f561968bdda0", "4"));
    assert_eq!((app.address.building1.as_str(), app.address.building2.as_str()), ("2", ""));
    assert_eq!(app.entry.entry_date, date(2029, 9, 1));
    assert_eq!(app.entry.full_day_group, Some(false));
    assert_eq!(app.adaptation.group_type, Some(coded("4", "Для слабовидящих детей")));
    assert_eq!((app.adaptation.general_group, app.adaptation.special_care), (Some(true), None));
    let medical = app.medical.expect("a medical report");
    assert_eq!(medical.files.len(), 2);
    assert_eq!(medical.files[1].mime, "application/x-pkcs7-signature");
    assert_eq!(
        app.kindergartens,
        vec![DesiredKindergarten { code: "{dou_id}".into(), name: "Василёк".into(), priority: 1 }]
    );
    assert_eq!(app.allow_offer_other, Some(true));
    assert_eq!(app.siblings.len(), 1);
    assert_eq!(app.siblings[0].kindergarten, coded("{dou_id}", "Василёк"));
    assert!(app.benefit.is_none());
}

#[test]
fn the_real_3_2_1_sample_with_a_benefit_reads_into_the_model() {
    let Some(dir) = samples() else { return };
    let form = read_str(&std::fs::read_to_string(dir.join("ApplicationRequest.xml")).unwrap()).unwrap();
    assert_eq!((form.version, form.oktmo.as_str()), (Version::V3_2_1, "42000000"));
    let Request::Application(app) = form.request else { panic!("an application") };
    assert_eq!(app.order_id, 14_025_644_457_542_599);
    assert_eq!(app.identity.issuer_code, None);
    assert_eq!(app.address.building1, "");
    assert_eq!(app.kindergartens[0].code, "{dou_id}");
    assert_eq!(app.kindergartens[0].name, "МАДОУ \"ЦРР-Детский сад № 396\" Приволжского района г.Казани");
    let benefit = app.benefit.expect("a benefit");
    assert_eq!(benefit.category, coded("1", "Дети из многодетных семей"));
    assert_eq!(benefit.doc, DocInfo { issue_date: date(2022, 2, 2), issued: "Справка с работы".into(), expires: None });
}

#[test]
fn the_real_3_1_1_get_application_sample_reads() {
    let Some(dir) = samples() else { return };
    let form = read_str(&std::fs::read_to_string(dir.join("getapplication-1.xml")).unwrap()).unwrap();
    assert_eq!(form.version, Version::V3_1_1);
    assert_eq!(form.oktmo, "00000000001");
    assert_eq!(form.request, Request::Get { order_id: 12_345_678 });
}

#[test]
fn the_real_unknown_request_sample_is_a_clear_error() {
    let Some(dir) = samples() else { return };
    let err = read_str(&std::fs::read_to_string(dir.join("OtherRequest.xml")).unwrap()).unwrap_err();
    assert_eq!(err.path, "FormData/OtherRequest");
    assert_eq!(err.order_id, None);
    assert!(err.message.contains("OtherRequest") && err.message.contains("3.2.1"), "{err}");
}

// ---------------------------------------------------------------------------------------------------------------
// Answers against the published schemas

#[test]
fn every_answer_of_every_version_validates_against_its_schema() {
    let position = queue_position();
    let reasons = QueueReasons { increase_queue: 3, got_a_place: 10, increase_benefits: 1 };
    let cancelled = Cancelled { result: CancelResult::Rejected, comment: Some(long_comment()) };
    let read_only = vec!["ChildInfo".to_string(), "PersonInfo".to_string()];
    let legacy = legacy311();
    let queue311 = Queue311 {
        order_id: 5,
        entry_date: date(2027, 9, 1),
        adaptation_group: "Общеразвивающая".into(),
        adaptation_group_type: None,
        schedule: "Полный день".into(),
        kindergartens: vec![
            KindergartenQueue311 { code: "DOU-17".into(), position: 3, total: 40 },
            KindergartenQueue311 { code: "DOU-18".into(), position: 7, total: 12 },
        ],
    };
    for v in Version::ALL {
        let app = if v == Version::V3_1_1 { application_311() } else { full_application(v) };
        let admission = admission(v);
        let mut answers: Vec<(&str, Answer)> = vec![
            (
                "tech",
                Answer::ChangeOrderInfo(ChangeOrderInfo {
                    order_id: 5,
                    status: StatusCode::Tech { code: 3 },
                    comment: Some(long_comment()),
                    cancel_allowed: Some(false),
                    send_message_allowed: Some(true),
                }),
            ),
            ("application", Answer::Application { application: &app, legacy: Some(&legacy), read_only: &read_only }),
            ("cancel", Answer::Cancel { order_id: 5, cancelled: &cancelled }),
        ];
        if v == Version::V3_1_1 {
            answers.push(("queue", Answer::Queue311(&queue311)));
            answers.push(("text", Answer::Text { order_id: 5 }));
        } else {
            let status = Status { code: 150, comment: Some(long_comment()), cancel_allowed: true };
            answers.push(("org", Answer::ChangeOrderInfo(ChangeOrderInfo::from_status(5, &status))));
            answers.push(("queue", Answer::Queue { order_id: 5, position: &position }));
            answers.push(("queue-reason", Answer::QueueReason { order_id: 5, reasons: &reasons }));
            answers.push(("admission", Answer::Admission(&admission)));
        }
        let docs: Vec<(String, String)> = answers
            .iter()
            .map(|(name, a)| {
                let xml = write_answer(v, a).unwrap_or_else(|e| panic!("{} {name}: {e}", v.as_str()));
                assert!(xml.starts_with(&format!("<FormDataResponse xmlns=\"{}\">", v.namespace())), "{xml}");
                if *name == "tech" {
                    // 3.1.1 alone has sendMessageAllowed.
                    assert_eq!(xml.contains("<sendMessageAllowed>true<"), v == Version::V3_1_1, "{xml}");
                }
                (format!("{}-{name}", v.as_str()), xml)
            })
            .collect();
        validate(&version_schema(v), &docs);
    }
}

#[test]
fn comments_are_cut_to_2048_characters_on_a_char_boundary() {
    let info = ChangeOrderInfo {
        order_id: 1,
        status: StatusCode::Org { code: 110 },
        comment: Some("ё".repeat(3000)),
        cancel_allowed: None,
        send_message_allowed: None,
    };
    let xml = write_answer(Version::V3_2_1, &Answer::ChangeOrderInfo(info)).unwrap();
    let doc = parse_xml(&xml, &Limits::default()).unwrap();
    let ns = Version::V3_2_1.namespace();
    let change = doc.child(doc.root(), ns, "changeOrderInfo").unwrap();
    assert_eq!(doc.text(doc.child(change, ns, "comment").unwrap()).chars().count(), 2048);
    assert_eq!(doc.text(doc.child(doc.child(change, ns, "orderId").unwrap(), ns, "pguId").unwrap()), "1");
    assert!(doc.child(change, ns, "cancelAllowed").is_none());
}

#[test]
fn an_answer_a_version_lacks_is_an_error_not_an_invalid_document() {
    let reasons = QueueReasons { increase_queue: 0, got_a_place: 0, increase_benefits: 0 };
    let admission = admission(Version::V3_2_1);
    let position = queue_position();
    let org = Answer::ChangeOrderInfo(ChangeOrderInfo {
        order_id: 1,
        status: StatusCode::Org { code: 110 },
        comment: None,
        cancel_allowed: None,
        send_message_allowed: None,
    });
    for answer in [
        org,
        Answer::QueueReason { order_id: 1, reasons: &reasons },
        Answer::Admission(&admission),
        Answer::Queue { order_id: 1, position: &position },
    ] {
        assert!(matches!(write_answer(Version::V3_1_1, &answer), Err(WriteError::NotInVersion { .. })));
    }
    assert!(matches!(
        write_answer(Version::V3_2_1, &Answer::Text { order_id: 1 }),
        Err(WriteError::NotInVersion { .. })
    ));
    // A character XML cannot carry is refused, never written (and left out of a comment).
    let mut app = full_application(Version::V3_2_1);
    app.applicant.surname = "Ива\u{1}нова".into();
    let answer = Answer::Application { application: &app, legacy: None, read_only: &[] };
    match write_answer(Version::V3_2_1, &answer) {
        Err(WriteError::Inexpressible { path, .. }) => assert!(path.ends_with("PersonInfo/PersonSurname"), "{path}"),
        other => panic!("{other:?}"),
    }
    let cancelled = Cancelled { result: CancelResult::Cancelled, comment: Some("от\u{0}менено".into()) };
    let xml = write_answer(Version::V3_2_1, &Answer::Cancel { order_id: 1, cancelled: &cancelled }).unwrap();
    assert!(xml.contains("<comment>отменено</comment>"), "{xml}");
    // A 3.1.1 application needs what only 3.1.1 carries.
    let app = application_311();
    let answer = Answer::Application { application: &app, legacy: None, read_only: &[] };
    assert!(matches!(write_answer(Version::V3_1_1, &answer), Err(WriteError::Inexpressible { .. })));
}

#[test]
fn a_birth_act_cannot_be_written_in_3_2_1_and_4_0_1_only_fields_are_left_out() {
    let mut app = full_application(Version::V4_0_1);
    app.identity = identity(false);
    let answer = Answer::Application { application: &app, legacy: None, read_only: &[] };
    match write_answer(Version::V3_2_1, &answer) {
        Err(WriteError::Inexpressible { path, .. }) => assert!(path.ends_with("ChildInfo/ChildBirthAct"), "{path}"),
        other => panic!("{other:?}"),
    }
    let mut app = full_application(Version::V4_0_1);
    app.child.birth_doc = Some(russian_certificate());
    app.identity = identity(false);
    app.identity.issued = None;
    app.allow_offer_other = None;
    let answer = Answer::Application { application: &app, legacy: None, read_only: &[] };
    let xml = write_answer(Version::V3_2_1, &answer).unwrap();
    assert!(!xml.contains("AgreementOnOtherDayGroup") && !xml.contains("AgreementAdaptationEducationGroup"));
    assert!(xml.contains("<IdentityDocIssued></IdentityDocIssued>") && xml.contains("<AllowOfferOther>false<"));
    validate(&version_schema(Version::V3_2_1), &[("down-3.2.1".into(), xml)]);
    // A value longer than the version allows is an error, never cut.
    app.identity = identity(true);
    match write_answer(Version::V3_2_1, &Answer::Application { application: &app, legacy: None, read_only: &[] }) {
        Err(WriteError::TooLong { path, max: 10, .. }) => assert!(path.ends_with("IdentityDocSeries"), "{path}"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn admission_answers_name_the_kindergarten_as_each_version_does() {
    let a = admission(Version::V3_2_1);
    let xml = write_answer(Version::V3_2_1, &Answer::Admission(&a)).unwrap();
    assert!(xml.contains("<EduOrganizationCode>DOU-17</EduOrganizationCode></GetApplicationAdmissionResponse>"));
    let a = admission(Version::V4_0_1);
    let xml = write_answer(Version::V4_0_1, &Answer::Admission(&a)).unwrap();
    assert!(xml.contains(
        "<EduOrganizationData><EduOrganizationCode>DOU-17</EduOrganizationCode>\
         <EduOrganizationName>Детский сад № 17</EduOrganizationName></EduOrganizationData>"
    ));
}

// ---------------------------------------------------------------------------------------------------------------
// Requests: written, valid, and read back equal

#[test]
fn every_request_of_every_version_validates_and_reads_back_equal() {
    for v in Version::ALL {
        let forms = every_request(v);
        let docs: Vec<(String, String)> = forms
            .iter()
            .map(|(name, form)| {
                let xml = write_request(form).unwrap_or_else(|e| panic!("{} {name}: {e}", v.as_str()));
                let back = read_str(&xml).unwrap_or_else(|e| panic!("{} {name}: {e}\n{xml}", v.as_str()));
                let mut expected = form.clone();
                if let Request::Application(app) = &mut expected.request {
                    app.oktmo = form.oktmo.clone();
                }
                assert_eq!(back, expected, "{} {name}", v.as_str());
                (format!("{}-{name}", v.as_str()), xml)
            })
            .collect();
        validate(&version_schema(v), &docs);
    }
}

/// A `GetApplicationResponse` turned back into an `ApplicationRequest` (the same blocks, plus `ServicesType`).
fn response_as_request(xml: &str, v: Version, service_type: &str) -> String {
    let ns = v.namespace();
    xml.replacen(&format!("<FormDataResponse xmlns=\"{ns}\">"), &format!("<FormData xmlns=\"{ns}\" oktmo=\"1\">"), 1)
        .replace("</FormDataResponse>", "</FormData>")
        .replace("GetApplicationResponse>", "ApplicationRequest>")
        .replacen("</orderId>", &format!("</orderId><ServicesType>{service_type}</ServicesType>"), 1)
}

fn without_files(mut app: KindergartenApplication) -> KindergartenApplication {
    app.filed_at = None;
    app.oktmo = "1".into();
    app.stay_right_files.clear();
    if let Some(m) = &mut app.medical {
        m.files.clear();
    }
    if let Some(b) = &mut app.benefit {
        b.files.clear();
    }
    app
}

#[test]
fn an_application_read_then_written_as_get_application_response_keeps_every_field() {
    let mut apps = vec![(Version::V3_2_1, full_application(Version::V3_2_1))];
    apps.push((Version::V4_0_1, full_application(Version::V4_0_1)));
    if let Some(dir) = samples() {
        for name in ["smev3_321.xml", "ApplicationRequest.xml"] {
            let form = read_str(&std::fs::read_to_string(dir.join(name)).unwrap()).unwrap();
            let Request::Application(app) = form.request else { panic!("an application") };
            apps.push((form.version, app));
        }
    }
    for (v, app) in apps {
        let xml = write_answer(v, &Answer::Application { application: &app, legacy: None, read_only: &[] }).unwrap();
        validate(&version_schema(v), &[("get-application".into(), xml.clone())]);
        let back = read_str(&response_as_request(&xml, v, &app.service_type)).unwrap();
        let Request::Application(back) = back.request else { panic!("an application") };
        assert_eq!(back, without_files(app));
    }
}

#[test]
fn a_3_1_1_application_reads_into_the_model_and_its_answer_validates() {
    let form = FormData {
        version: Version::V3_1_1,
        oktmo: "92701000".into(),
        request: Request::Application(application_311()),
        legacy: Some(legacy311()),
    };
    let xml = write_request(&form).unwrap();
    let back = read_str(&xml).unwrap();
    let Request::Application(app) = &back.request else { panic!("an application") };
    assert_eq!(app.applicant.snils, Some(Snils::parse("112-233-445 95").unwrap()));
    assert_eq!(app.kindergartens.iter().map(|k| k.priority).collect::<Vec<_>>(), vec![1, 2]);
    assert_eq!(back.legacy.as_ref().map(|l| l.person_sex), Some(Sex::Female));
    // 3.1.1's own checks: its e-mail pattern, a valid SNILS, its sex words.
    assert_error_at(&xml.replace("test@test.ru", "test@test"), "PersonInfo/PersonEmail");
    assert_error_at(&xml.replace("112-233-445 95", "112-233-445 96"), "PersonInfo/PersonSNILS");
    assert_error_at(&xml.replace("<ChildSex>Male<", "<ChildSex>M<"), "ChildInfo/ChildSex");
    let answer = Answer::Application { application: app, legacy: back.legacy.as_ref(), read_only: &[] };
    let written = write_answer(Version::V3_1_1, &answer).unwrap();
    assert!(written.contains("<GetApplicationResponse><Application><orderId>"));
    validate(&version_schema(Version::V3_1_1), &[("application-311".into(), xml), ("answer-311".into(), written)]);
}

// ---------------------------------------------------------------------------------------------------------------
// kindergarten-order

fn history() -> Vec<StatusEntry> {
    vec![
        StatusEntry {
            code: StatusCode::Org { code: 110 },
            at: at(2026, 12, 1, 10, 0, 0, 3),
            comment: Some("Ж".repeat(5000)),
            cancel_allowed: Some(true),
        },
        StatusEntry {
            code: StatusCode::Tech { code: 3 },
            at: at(2026, 12, 2, 11, 0, 0, 0),
            comment: None,
            cancel_allowed: None,
        },
    ]
}

#[test]
fn every_order_request_validates_against_both_order_schemas() {
    let history = history();
    let mut app = full_application(Version::V4_0_1);
    app.child.birth_doc = Some(russian_certificate());
    app.identity = identity(false);
    for v in OrderVersion::ALL {
        let requests = [
            OrderRequest::Create {
                info_request_order_id: 77,
                request_date: at(2026, 11, 30, 9, 0, 0, 3),
                history: &history,
                application: &app,
            },
            OrderRequest::Update { order_id: 1_000_123, history: &history, application: None },
            OrderRequest::Update { order_id: 1_000_123, history: &history[1..], application: Some(&app) },
        ];
        let docs: Vec<(String, String)> = requests
            .iter()
            .enumerate()
            .map(|(i, r)| {
                let xml = write_order_request(v, Env::Epgu, r).unwrap();
                assert!(xml.starts_with(&format!("<OrderRequest xmlns=\"{}\" env=\"EPGU\">", v.namespace())));
                (format!("order-{}-{i}", v.as_str()), xml)
            })
            .collect();
        assert!(docs[0].1.contains(&format!("<statusComment>{}</statusComment>", "Ж".repeat(4000))));
        validate(&order_schema(v), &docs);
    }
}

#[test]
fn order_requests_follow_each_order_version() {
    let history = history();
    let app = full_application(Version::V4_0_1);
    let create = |app| OrderRequest::Create {
        info_request_order_id: 77,
        request_date: at(2026, 11, 30, 9, 0, 0, 3),
        history: &history,
        application: app,
    };
    // A birth act: 1.0.1 carries it, 1.0.0 cannot.
    let mut only_act = app.clone();
    only_act.identity = identity(false);
    let xml = write_order_request(OrderVersion::V1_0_1, Env::Tcod, &create(&only_act)).unwrap();
    assert!(xml.contains("<ChildBirthAct>") && xml.contains("AgreementOnOtherDayGroup"));
    validate(&order_schema(OrderVersion::V1_0_1), &[("act".into(), xml)]);
    assert!(matches!(
        write_order_request(OrderVersion::V1_0_0, Env::Tcod, &create(&only_act)),
        Err(WriteError::Inexpressible { .. })
    ));
    // 1.0.1 keeps the Russian certificate's act required, unlike 4.0.1.
    let mut no_act = only_act.clone();
    no_act.child.birth_doc = Some(BirthDoc::Russian {
        series: "I-КБ".into(),
        number: "1".into(),
        issue_date: date(2024, 1, 1),
        act_number: None,
        act_date: None,
        issued: "ЗАГС".into(),
    });
    assert!(write_order_request(OrderVersion::V1_0_1, Env::Epgu, &create(&no_act)).is_err());
    // No status: the schema requires one.
    let empty = OrderRequest::Update { order_id: 1, history: &[], application: None };
    assert!(write_order_request(OrderVersion::V1_0_1, Env::Epgu, &empty).is_err());
}

fn read_order(xml: &str) -> Result<OrderResponse, ReadError> {
    let doc = parse_xml(xml, &Limits::default()).unwrap();
    read_order_response(&doc, doc.root())
}

#[test]
fn order_responses_read_and_bad_ones_are_named() {
    let ns = OrderVersion::V1_0_1.namespace();
    let created = format!(
        "<p:OrderResponse xmlns:p=\"{ns}\"><p:CreateOrderResponse><p:code>0</p:code><p:message>OK</p:message>\
         <p:orderId_InfoRequest>77</p:orderId_InfoRequest><p:orderId>1000123</p:orderId></p:CreateOrderResponse>\
         </p:OrderResponse>"
    );
    assert_eq!(
        read_order(&created).unwrap(),
        OrderResponse::Created { code: 0, message: "OK".into(), info_request_order_id: 77, order_id: Some(1_000_123) }
    );
    let ns0 = OrderVersion::V1_0_0.namespace();
    let refused = format!(
        "<OrderResponse xmlns=\"{ns0}\"><CreateOrderResponse><code>-5</code><message>Нет ЛК</message>\
         <orderId_InfoRequest>77</orderId_InfoRequest></CreateOrderResponse></OrderResponse>"
    );
    assert_eq!(
        read_order(&refused).unwrap(),
        OrderResponse::Created { code: -5, message: "Нет ЛК".into(), info_request_order_id: 77, order_id: None }
    );
    let updated = format!(
        "<OrderResponse xmlns=\"{ns}\"><UpdateOrderResponse><code>0</code><message></message></UpdateOrderResponse>\
         </OrderResponse>"
    );
    assert_eq!(read_order(&updated).unwrap(), OrderResponse::Updated { code: 0, message: String::new() });
    let bad = updated.replace("<code>0</code>", "<code>300</code>");
    assert_eq!(read_order(&bad).unwrap_err().path, "OrderResponse/UpdateOrderResponse/code");
    let unknown = updated.replace("<message></message>", "<message></message><extra/>");
    assert_eq!(read_order(&unknown).unwrap_err().path, "OrderResponse/UpdateOrderResponse/extra");
    let empty = format!("<OrderResponse xmlns=\"{ns}\"/>");
    assert!(read_order(&empty).is_err());
    let foreign = updated.replace(ns, "urn:other");
    assert!(read_order(&foreign).unwrap_err().message.contains("urn:other"));
}

// ---------------------------------------------------------------------------------------------------------------
// Bad input: each a ReadError naming the element

fn valid_321() -> String {
    let form = FormData {
        version: Version::V3_2_1,
        oktmo: "92701000".into(),
        request: Request::Application(full_application(Version::V3_2_1)),
        legacy: None,
    };
    write_request(&form).unwrap()
}

fn assert_error_at(xml: &str, path_end: &str) -> ReadError {
    let err = read_str(xml).expect_err(path_end);
    assert!(err.path.ends_with(path_end), "expected an error at …{path_end}, got {err}");
    assert!(!err.message.is_empty());
    err
}

#[test]
fn wrong_types_are_named() {
    let xml = valid_321();
    let err = assert_error_at(
        &xml.replace("<orderId>9000000000001</orderId>", "<orderId>12a</orderId>"),
        "ApplicationRequest/orderId",
    );
    assert_eq!(err.order_id, None);
    let err = assert_error_at(
        &xml.replace("<ChildBirthDate>2024-01-02", "<ChildBirthDate>2024-13-02"),
        "ChildInfo/ChildBirthDate",
    );
    assert_eq!(err.order_id, Some(9_000_000_000_001), "the order id read before the error is kept");
    assert_error_at(&xml.replace("<Parents>false</Parents>", "<Parents>yes</Parents>"), "PersonInfo/Parents");
    assert_error_at(&xml.replace("PriorityNumber=\"2\"", "PriorityNumber=\"200\""), "EduOrganization/@PriorityNumber");
    assert_error_at(&xml.replace("2026-11-30T09:30:10+03:00", "2026-11-30T09:30:10"), "ApplicationRequest/FilingDate");
    assert_error_at(&xml.replace("<orderId>9000000000001<", "<orderId>99999999999999999999<"), "orderId");
}

#[test]
fn too_long_strings_are_named() {
    let xml = valid_321();
    let err = assert_error_at(&xml.replace("+7(123)1234567", "+7(123)12345678"), "PersonInfo/PersonPhone");
    assert_eq!(err.message, "PersonPhone: значение длиннее 14 символов (15)");
    assert_error_at(&xml.replace("oktmo=\"92701000\"", "oktmo=\"927010001234\""), "FormData/@oktmo");
    assert_error_at(&xml.replace("code=\"DOU-17\"", &format!("code=\"{}\"", "Д".repeat(51))), "EduOrganization/@code");
    assert_error_at(&xml.replace(">6004<", ">12345678901<"), "PersonIdentityDocInfo/IdentityDocSeries");
}

#[test]
fn a_missing_required_element_is_named() {
    let xml = valid_321();
    let err = assert_error_at(&xml.replace("<PersonEmail>test@test.ru</PersonEmail>", ""), "PersonInfo/PersonEmail");
    assert_eq!(err.message, "PersonEmail: нет обязательного элемента, а на его месте Parents");
    assert_eq!(err.to_string(), format!("FormData/ApplicationRequest/PersonInfo/PersonEmail: {}", err.message));
    assert_error_at(&xml.replace("<AllowOfferOther>true</AllowOfferOther>", ""), "EduOrganizations/AllowOfferOther");
    assert_error_at(&xml.replace(" oktmo=\"92701000\"", ""), "FormData/@oktmo");
    let ns = Version::V3_2_1.namespace();
    assert_error_at(&format!("<FormData xmlns=\"{ns}\" oktmo=\"1\"/>"), "FormData");
    assert_error_at(
        &format!("<FormData xmlns=\"{ns}\" oktmo=\"1\"><cancelRequest/></FormData>"),
        "cancelRequest/orderId",
    );
}

#[test]
fn two_choices_at_once_are_named() {
    let ns = Version::V3_2_1.namespace();
    let xml = format!(
        "<FormData xmlns=\"{ns}\" oktmo=\"1\"><GetApplicationRequest><orderId>5</orderId></GetApplicationRequest>\
         <cancelRequest><orderId>5</orderId></cancelRequest></FormData>"
    );
    let err = assert_error_at(&xml, "FormData/cancelRequest");
    assert_eq!(err.order_id, Some(5));
}

#[test]
fn unknown_elements_are_named() {
    let xml = valid_321();
    // In place of a required element: the error is at the element expected and names the one found.
    let err = assert_error_at(&xml.replace("<PersonEmail>", "<Foo/><PersonEmail>"), "PersonInfo/PersonEmail");
    assert!(err.message.contains("Foo"), "{err}");
    assert_error_at(&xml.replace("</PersonInfo>", "<Foo/></PersonInfo>"), "PersonInfo/Foo");
    assert_error_at(
        &xml.replace("</ApplicationRequest>", "<Extra>1</Extra></ApplicationRequest>"),
        "ApplicationRequest/Extra",
    );
    // A known element out of order.
    assert_error_at(
        &xml.replace("<Parents>false</Parents>", "").replace("</PersonInfo>", "<Parents>false</Parents></PersonInfo>"),
        "PersonInfo/Parents",
    );
    // An element in another namespace.
    assert_error_at(
        &xml.replace("<PersonEmail>", "<x:PersonEmail xmlns:x=\"urn:x\">t</x:PersonEmail><PersonEmail>"),
        "PersonInfo/PersonEmail",
    );
    // Markup inside a leaf.
    assert_error_at(
        &xml.replace("<PersonName>Елена</PersonName>", "<PersonName><b>Елена</b></PersonName>"),
        "PersonName/b",
    );
    // A root of another kind or another version.
    assert_error_at(&xml.replace("FormData", "FormDataResponse"), "FormDataResponse");
    let err = read_str(&xml.replace("/3.2.1", "/3.2.2")).unwrap_err();
    assert!(err.message.contains("3.2.2"), "{err}");
}

#[test]
fn a_3_2_1_request_with_a_4_0_1_only_element_is_named() {
    let xml = valid_321();
    assert_error_at(
        &xml.replace("</EntryParams>", "<AgreementOnOtherDayGroup>true</AgreementOnOtherDayGroup></EntryParams>"),
        "EntryParams/AgreementOnOtherDayGroup",
    );
    let act = "<ChildBirthAct><ChildBirthDocActNumber>1</ChildBirthDocActNumber>\
               <ChildBirthDocActDate>2024-01-05</ChildBirthDocActDate></ChildBirthAct>";
    let start = xml.find("<ChildBirthDocRF>").unwrap();
    let end = xml.find("</ChildBirthDocRF>").unwrap() + "</ChildBirthDocRF>".len();
    let with_act = format!("{}{act}{}", &xml[..start], &xml[end..]);
    let err = assert_error_at(&with_act, "ChildInfo/ChildBirthAct");
    assert!(err.message.contains("3.2.1"), "{err}");
    assert_error_at(
        &xml.replace("</ApplicationRequest>", "<attribute><attributeName>a</attributeName><attributeValue>b</attributeValue></attribute></ApplicationRequest>"),
        "ApplicationRequest/attribute",
    );
    // The same tails are accepted and skipped in 4.0.1.
    let ns = Version::V4_0_1.namespace();
    let tails = format!(
        "<FormData xmlns=\"{ns}\" oktmo=\"1\"><GetApplicationRequest><orderId>5</orderId>\
         <attribute><attributeName>a</attributeName><attributeValue>b</attributeValue></attribute>\
         <refInfo><DirectoryValue><Value>v</Value></DirectoryValue></refInfo></GetApplicationRequest></FormData>"
    );
    assert_eq!(read_str(&tails).unwrap().request, Request::Get { order_id: 5 });
}

#[test]
fn schema_lexical_forms_are_accepted() {
    let ns = Version::V3_2_1.namespace();
    let xml = format!(
        "<FormData xmlns=\"{ns}\" oktmo=\"1\"><GetApplicationQueueReasonRequest><orderId> +42 </orderId>\
         <PeriodStart>2026-01-01Z</PeriodStart><PeriodEnd>2026-02-01+03:00</PeriodEnd>\
         </GetApplicationQueueReasonRequest></FormData>"
    );
    assert_eq!(
        read_str(&xml).unwrap().request,
        Request::QueueReason { order_id: 42, from: date(2026, 1, 1), to: date(2026, 2, 1) }
    );
    let xml = valid_321().replace("<Parents>false</Parents>", "<Parents>1</Parents>");
    let Request::Application(app) = read_str(&xml).unwrap().request else { panic!() };
    assert!(app.applicant.is_parent);
}

// ---------------------------------------------------------------------------------------------------------------
// Properties

const CHARS: &[char] =
    &['a', 'Z', '0', ' ', '-', '.', 'ё', 'Ж', '№', '&', '<', '>', '"', '\'', '{', '}', '/', '\t', '\n', '\r'];

fn text(rng: &mut StdRng, max: usize) -> String {
    let len = if rng.gen_bool(0.1) { max } else { rng.gen_range(0..=max.min(12)) };
    (0..len).map(|_| CHARS[rng.gen_range(0..CHARS.len())]).collect()
}

fn nonempty(rng: &mut StdRng, max: usize) -> String {
    // A normalizedString: no tabs or line breaks.
    let mut s = text(rng, max).replace(['\t', '\n', '\r'], " ");
    if s.trim().is_empty() {
        s = "x".into();
    }
    s
}

fn opt<T>(rng: &mut StdRng, f: impl FnOnce(&mut StdRng) -> T) -> Option<T> {
    if rng.gen_bool(0.5) {
        Some(f(rng))
    } else {
        None
    }
}

fn rdate(rng: &mut StdRng) -> Date {
    date(rng.gen_range(1900..2100), rng.gen_range(1..=12), rng.gen_range(1..=28))
}

fn rcoded(rng: &mut StdRng) -> Coded {
    Coded { code: text(rng, 50), text: text(rng, 256) }
}

fn rfile(rng: &mut StdRng, code_len: usize) -> FileRef {
    FileRef { code: text(rng, code_len), name: text(rng, 50), mime: text(rng, 50) }
}

fn rfiles(rng: &mut StdRng, max: usize, code_len: usize) -> Vec<FileRef> {
    let n = rng.gen_range(0..=max);
    (0..n).map(|_| rfile(rng, code_len)).collect()
}

/// A random application that fits `v`'s schema.
fn random_application(rng: &mut StdRng, v: Version) -> KindergartenApplication {
    let newest = v == Version::V4_0_1;
    let id_len = if newest { 20 } else { 10 };
    let birth_doc = match rng.gen_range(0..if newest { 3 } else { 2 }) {
        0 => BirthDoc::Russian {
            series: text(rng, 10),
            number: text(rng, 10),
            issue_date: rdate(rng),
            act_number: if newest { opt(rng, |r| text(r, 21)) } else { Some(text(rng, 21)) },
            act_date: if newest { opt(rng, rdate) } else { Some(rdate(rng)) },
            issued: text(rng, 256),
        },
        1 => BirthDoc::Foreign {
            name: text(rng, 256),
            series: opt(rng, |r| text(r, if newest { 20 } else { 10 })),
            number: text(rng, 50),
            issue_date: rdate(rng),
            issued: text(rng, 256),
        },
        _ => BirthDoc::Act { act_number: text(rng, 21), act_date: rdate(rng), issued: opt(rng, |r| text(r, 256)) },
    };
    let code_len = if newest { 256 } else { 50 };
    let kindergartens = (0..rng.gen_range(1..=50))
        .map(|_| DesiredKindergarten { code: text(rng, 50), name: text(rng, 256), priority: rng.gen_range(0..=127) })
        .collect();
    let siblings = (0..rng.gen_range(0..=10))
        .map(|_| Sibling {
            surname: text(rng, 256),
            name: text(rng, 256),
            middle_name: opt(rng, |r| text(r, 256)),
            kindergarten: rcoded(rng),
        })
        .collect();
    let offset = UtcOffset::from_hms(rng.gen_range(-12..=14), if rng.gen_bool(0.2) { 30 } else { 0 }, 0).unwrap();
    let filed_at = PrimitiveDateTime::new(
        rdate(rng),
        Time::from_hms(rng.gen_range(0..24), rng.gen_range(0..60), rng.gen_range(0..60)).unwrap(),
    )
    .assume_offset(if offset.whole_hours() < 0 {
        UtcOffset::from_hms(offset.whole_hours(), 0, 0).unwrap()
    } else {
        offset
    });
    KindergartenApplication {
        order_id: rng.gen(),
        oktmo: nonempty(rng, 11),
        service_type: nonempty(rng, 20),
        filed_at: rng.gen_bool(0.5).then_some(filed_at),
        applicant: Applicant {
            surname: text(rng, 256),
            name: text(rng, 256),
            middle_name: opt(rng, |r| text(r, 256)),
            phone: text(rng, 14),
            email: text(rng, 256),
            is_parent: rng.gen(),
            representative: opt(rng, |r| Representative {
                doc_name: text(r, 256),
                doc_series: opt(r, |r| text(r, 10)),
                doc_number: text(r, 10),
                doc_date: rdate(r),
                doc_issued: text(r, 256),
            }),
            snils: None,
        },
        identity: IdentityDoc {
            kind: rcoded(rng),
            series: opt(rng, |r| text(r, id_len)),
            number: text(rng, id_len),
            issue_date: rdate(rng),
            issuer_code: opt(rng, |r| text(r, 6)),
            issued: if newest { opt(rng, |r| text(r, 256)) } else { Some(text(rng, 256)) },
        },
        child: Child {
            surname: text(rng, 256),
            name: text(rng, 256),
            middle_name: opt(rng, |r| text(r, 256)),
            birth_date: rdate(rng),
            birth_doc: Some(birth_doc),
        },
        address: Address {
            full: text(rng, 1024),
            index: text(rng, 6),
            region: rcoded(rng),
            area: rcoded(rng),
            city: rcoded(rng),
            city_area: rcoded(rng),
            place: rcoded(rng),
            street: rcoded(rng),
            additional_area: rcoded(rng),
            additional_street: rcoded(rng),
            house: rcoded(rng),
            building1: text(rng, 50),
            building2: text(rng, 50),
            apartment: text(rng, 50),
        },
        entry: EntryParams {
            entry_date: rdate(rng),
            language: rcoded(rng),
            schedule: rcoded(rng),
            full_day_group: opt(rng, |r| r.gen()),
            other_day_group: if newest { opt(rng, |r| r.gen()) } else { None },
        },
        adaptation: Adaptation {
            group: rcoded(rng),
            group_type: opt(rng, rcoded),
            education_group: if newest { opt(rng, |r| r.gen()) } else { None },
            general_group: opt(rng, |r| r.gen()),
            care_group: opt(rng, |r| r.gen()),
            special_care: opt(rng, |r| r.gen()),
        },
        medical: opt(rng, |r| MedicalReport {
            kind: rcoded(r),
            series: opt(r, |r| text(r, 20)),
            number: text(r, 20),
            issue_date: rdate(r),
            issued: text(r, 256),
            expires: opt(r, rdate),
            files: rfiles(r, 2, code_len),
        }),
        kindergartens,
        allow_offer_other: if newest { opt(rng, |r| r.gen()) } else { Some(rng.gen()) },
        siblings,
        benefit: opt(rng, |r| Benefit {
            category: rcoded(r),
            doc: DocInfo { issue_date: rdate(r), issued: text(r, 256), expires: opt(r, rdate) },
            files: rfiles(r, if newest { 4 } else { 2 }, code_len),
        }),
        stay_right_files: if newest { rfiles(rng, 4, 256) } else { Vec::new() },
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// Any application that fits a version's schema, written as that version's request, reads back equal.
    #[test]
    fn any_application_written_reads_back_equal(seed in any::<u64>(), newest in any::<bool>()) {
        let v = if newest { Version::V4_0_1 } else { Version::V3_2_1 };
        let mut rng = StdRng::seed_from_u64(seed);
        let app = random_application(&mut rng, v);
        let form = FormData { version: v, oktmo: app.oktmo.clone(), request: Request::Application(app), legacy: None };
        let xml = write_request(&form).unwrap();
        prop_assert_eq!(read_str(&xml).unwrap(), form);
    }

    /// The same for the other requests that carry people: admissions (with a second parent) and subscriptions.
    #[test]
    fn any_admission_or_subscription_written_reads_back_equal(seed in any::<u64>(), newest in any::<bool>()) {
        let v = if newest { Version::V4_0_1 } else { Version::V3_2_1 };
        let mut rng = StdRng::seed_from_u64(seed);
        let app = random_application(&mut rng, v);
        let second_parent = opt(&mut rng, |r| SecondParent {
            surname: text(r, 256),
            name: text(r, 256),
            middle_name: opt(r, |r| text(r, 256)),
            phone: opt(r, |r| text(r, 14)),
            email: opt(r, |r| text(r, 256)),
        });
        let subscription = Subscription {
            order_id: rng.gen(),
            service_type: app.service_type.clone(),
            applicant: app.applicant.clone(),
            identity: app.identity.clone(),
            child: app.child.clone(),
        };
        let admission = AdmissionApplication {
            order_id: app.order_id,
            service_type: app.service_type,
            applicant: app.applicant,
            identity: app.identity,
            second_parent,
            child: app.child,
            address: app.address,
            entry: app.entry,
            adaptation: app.adaptation,
            medical: app.medical,
            kindergarten_code: text(&mut rng, 50),
            doc_list_review: rng.gen(),
            license_charter: rng.gen(),
        };
        for request in [Request::Admission(admission), Request::OrderInfo(subscription)] {
            let form = FormData { version: v, oktmo: app.oktmo.clone(), request, legacy: None };
            let xml = write_request(&form).unwrap();
            prop_assert_eq!(read_str(&xml).unwrap(), form);
        }
    }

    /// Reading never panics: any byte changed in a valid request either fails to parse or reads to a value or an
    /// error.
    #[test]
    fn reading_a_damaged_request_never_panics(at in any::<prop::sample::Index>(), byte in any::<u8>()) {
        let mut bytes = valid_321().into_bytes();
        let i = at.index(bytes.len());
        bytes[i] = byte;
        if let Ok(doc) = edugate::xml::parse_bytes(&bytes, &Limits::default()) {
            let _ = read(&doc, doc.root());
            let _ = read_order_response(&doc, doc.root());
        }
    }
}

#[test]
fn random_applications_validate_against_their_schemas() {
    let mut rng = StdRng::seed_from_u64(13);
    for v in [Version::V3_2_1, Version::V4_0_1] {
        let docs: Vec<(String, String)> = (0..8)
            .flat_map(|i| {
                let app = random_application(&mut rng, v);
                let answer = write_answer(v, &Answer::Application { application: &app, legacy: None, read_only: &[] });
                let form =
                    FormData { version: v, oktmo: app.oktmo.clone(), request: Request::Application(app), legacy: None };
                [(format!("request-{i}"), write_request(&form).unwrap()), (format!("answer-{i}"), answer.unwrap())]
            })
            .collect();
        validate(&version_schema(v), &docs);
    }
}
