//! The embedded system's kindergarten queue (`Kindergartens`): each method's outcomes, the journal surviving a
//! reopen and a torn last line, idempotent repeats, the queue's order by right then filing time, subscriptions by
//! each kind of birth document, the feed's durable increasing cursors, `Debug` masking people, and a data file with
//! bad kindergarten sections refused by field.
#![forbid(unsafe_code)]

// The demo data's well-known records live in the `edugate-school-data` tool.
#[allow(dead_code)]
#[path = "../src/bin/school_data/fixtures.rs"]
mod fixtures;

use std::path::PathBuf;
use std::sync::Arc;

use edugate::school::kindergarten::records::ApplicationRec;
use edugate::school::kindergarten::{
    Adaptation, Address, AdmissionApplication, Applicant, Benefit, BirthDoc, CancelResult, Child, Coded,
    DesiredKindergarten, DocInfo, EntryParams, Filed, IdentityDoc, KindergartenApplication, Kindergartens, QueueAnswer,
    Sibling, Subscribed, Subscription,
};
use edugate::school::timed::TimedSchool;
use edugate::school::{EmbeddedSchool, SchoolSystem, CANCELLED_COMMENT};
use serde_json::{json, Value};
use time::{Date, Duration, OffsetDateTime};

/// A scratch directory with a data file and a journal path.
struct Scratch {
    /// Removed when the test ends.
    _dir: tempfile::TempDir,
    /// The data file.
    data: PathBuf,
    /// The journal.
    journal: PathBuf,
}

impl Scratch {
    /// A scratch directory whose data file is `data`.
    fn new(data: &Value) -> Scratch {
        let dir = tempfile::tempdir().expect("temporary directory");
        let scratch =
            Scratch { data: dir.path().join("school.json"), journal: dir.path().join("journal.jsonl"), _dir: dir };
        scratch.write(data);
        scratch
    }

    /// Replaces the data file.
    fn write(&self, data: &Value) {
        std::fs::write(&self.data, serde_json::to_vec_pretty(data).unwrap()).unwrap();
    }

    /// Opens the school system on it.
    fn open(&self) -> EmbeddedSchool {
        EmbeddedSchool::open(&self.data, &self.journal).expect("the data file opens")
    }

    /// The error opening it gives.
    fn open_error(&self) -> String {
        EmbeddedSchool::open(&self.data, &self.journal).expect_err("the data file is refused").to_string()
    }
}

/// Today (UTC).
fn today() -> Date {
    OffsetDateTime::now_utc().date()
}

/// `YYYY-MM-DD`.
fn ymd(date: Date) -> String {
    format!("{:04}-{:02}-{:02}", date.year(), date.month() as u8, date.day())
}

/// A day `days` from today.
fn day(days: i64) -> Date {
    today() + Duration::days(days)
}

/// A Russian birth certificate.
fn certificate(series: &str, number: &str) -> BirthDoc {
    BirthDoc::Russian {
        series: series.into(),
        number: number.into(),
        issue_date: day(-900),
        act_number: Some("110000001".into()),
        act_date: Some(day(-900)),
        issued: "Отдел ЗАГС".into(),
    }
}

/// A child of about three.
fn child(surname: &str, name: &str, doc: BirthDoc) -> Child {
    Child {
        surname: surname.into(),
        name: name.into(),
        middle_name: None,
        birth_date: day(-1000),
        birth_doc: Some(doc),
    }
}

/// The applicant.
fn applicant() -> Applicant {
    Applicant {
        surname: "Смирнова".into(),
        name: "Ольга".into(),
        middle_name: Some("Петровна".into()),
        phone: "+79001234567".into(),
        email: "olga@example.ru".into(),
        is_parent: true,
        representative: None,
        snils: None,
    }
}

/// The applicant's passport.
fn passport() -> IdentityDoc {
    IdentityDoc {
        kind: Coded { code: "1".into(), text: "Паспорт гражданина РФ".into() },
        series: Some("4510".into()),
        number: "123456".into(),
        issue_date: day(-4000),
        issuer_code: Some("770-001".into()),
        issued: Some("ОВД".into()),
    }
}

/// An application for kindergartens `codes` (priority in the order given).
fn application(order_id: i64, codes: &[&str]) -> KindergartenApplication {
    KindergartenApplication {
        order_id,
        oktmo: "46701000".into(),
        service_type: "-10002202019".into(),
        filed_at: None,
        applicant: applicant(),
        identity: passport(),
        child: child("Смирнов", "Иван", certificate("I-МЮ", &format!("{order_id}"))),
        address: Address { full: "г. Москва, ул. Ленина, д. 1, кв. 2".into(), ..Address::default() },
        entry: EntryParams {
            entry_date: day(90),
            language: Coded { code: "3".into(), text: "русский".into() },
            schedule: Coded { code: "1".into(), text: "полного дня".into() },
            full_day_group: Some(true),
            other_day_group: None,
        },
        adaptation: Adaptation {
            group: Coded { code: "1".into(), text: "общеразвивающая".into() },
            group_type: None,
            education_group: None,
            general_group: Some(true),
            care_group: None,
            special_care: None,
        },
        medical: None,
        kindergartens: codes
            .iter()
            .enumerate()
            .map(|(i, code)| DesiredKindergarten { code: (*code).into(), name: String::new(), priority: i as u8 + 1 })
            .collect(),
        allow_offer_other: Some(true),
        siblings: Vec::new(),
        benefit: None,
        stay_right_files: Vec::new(),
    }
}

/// With a child of its own (names differ by order so that no two are the same child).
fn own_child(mut app: KindergartenApplication, name: &str) -> KindergartenApplication {
    app.child.name = name.into();
    app
}

/// A benefit of `category`.
fn benefit(category: &str) -> Benefit {
    Benefit {
        category: Coded { code: category.into(), text: format!("категория {category}") },
        doc: DocInfo { issue_date: day(-30), issued: "Соцзащита".into(), expires: None },
        files: Vec::new(),
    }
}

/// A queue entry filed in person.
fn entry(number: &str, filed_days_ago: i64, status: u16, child: Value, kgs: Value, benefit: Option<&str>) -> Value {
    let filed = OffsetDateTime::now_utc() - Duration::days(filed_days_ago);
    let mut entry = json!({
        "number": number,
        "filed_at": filed.format(&time::format_description::well_known::Rfc3339).unwrap(),
        "status": status,
        "child": child,
        "kindergartens": kgs,
        "entry_date": ymd(day(90)),
    });
    if let Some(code) = benefit {
        entry["benefit"] = json!(code);
    }
    entry
}

/// A child record of the data file with a Russian certificate.
fn file_child(surname: &str, name: &str, series: &str, number: &str) -> Value {
    json!({"surname": surname, "name": name, "birth_date": ymd(day(-1000)),
           "birth_doc": {"kind": "russian", "series": series, "number": number, "issue_date": ymd(day(-990)),
                         "act_number": "770001", "act_date": ymd(day(-995)), "issued": "ЗАГС"}})
}

/// A data file with two kindergartens, three benefit categories and the queue entries `queue`.
fn data(queue: Value) -> Value {
    json!({
        "format": "edugate-school-data/1",
        "schools": [], "classes": [], "pupils": [], "guardians": [],
        "kindergartens": [
            {"code": "DOU-1", "name": "Детский сад № 1 «Солнышко»", "oktmo": "46701000", "address": "ул. Мира, 1",
             "groups": [{"name": "младшая", "age_from": 2, "age_to": 3, "capacity": 20}]},
            {"code": "DOU-2", "name": "Детский сад № 2 «Ромашка»", "oktmo": "46701000", "address": "ул. Лесная, 5",
             "groups": []}
        ],
        "benefit_categories": [
            {"code": "B-OUT", "name": "дети судей", "right": "out_of_turn"},
            {"code": "B-FIRST", "name": "дети военнослужащих", "right": "first_turn"},
            {"code": "B-PRIO", "name": "братья и сёстры", "right": "priority"}
        ],
        "kindergarten_queue": queue
    })
}

/// The queue: in person, all for DOU-1 at the same age: a general one filed 30 days ago, a first-turn one filed 10
/// days ago, and a general one filed 20 days ago (archived, 150); one for DOU-2.
fn standard_queue() -> Value {
    json!([
        entry("ДОУ-2026-000001", 30, 140, file_child("Петров", "Пётр", "I-АБ", "111111"), json!([["DOU-1", 1]]), None),
        entry(
            "ДОУ-2026-000002",
            10,
            120,
            file_child("Сидорова", "Анна", "II-ВГ", "222222"),
            json!([["DOU-1", 1], ["DOU-2", 2]]),
            Some("B-FIRST")
        ),
        entry("ДОУ-2026-000003", 20, 150, file_child("Козлов", "Олег", "I-АБ", "333333"), json!([["DOU-1", 1]]), None),
        entry(
            "ДОУ-2026-000004",
            5,
            110,
            file_child("Орлова", "Мария", "III-ДЕ", "444444"),
            json!([["DOU-2", 1]]),
            None
        )
    ])
}

/// A standard scratch directory.
fn standard() -> Scratch {
    Scratch::new(&data(standard_queue()))
}

#[tokio::test]
async fn filing_registers_refuses_and_repeats_as_the_first_answer() {
    let scratch = standard();
    let school = scratch.open();
    let kg: &dyn Kindergartens = school.kindergartens().expect("the embedded system runs the queue");
    let app = application(1001, &["DOU-1", "DOU-2"]);
    let Filed::Registered { number, status } = kg.file(&app).await.unwrap() else { panic!("not registered") };
    assert!(number.starts_with(&format!("ДОУ-{}-", today().year())), "{number}");
    assert_eq!(status.code, 110);
    let comment = status.comment.unwrap();
    assert!(comment.contains(&number) && comment.contains("7 дней"), "{comment}");
    assert!(status.cancel_allowed);

    // The same application again: the first answer's status, nothing recorded.
    let again = kg.file(&app).await.unwrap();
    assert!(matches!(&again, Filed::AlreadyFiled(s) if s.code == 110), "{again:?}");
    assert!(kg.status_changes(0, 100).await.unwrap().is_empty());

    // Refusals a parent can read.
    let unknown = kg.file(&own_child(application(1002, &["DOU-404"]), "Яков")).await.unwrap();
    assert!(
        matches!(&unknown, Filed::Refused(s) if s.code == 150 && s.comment.as_deref().unwrap().contains("DOU-404"))
    );
    let mut past = own_child(application(1003, &["DOU-1"]), "Семён");
    past.entry.entry_date = day(-1);
    let refused = kg.file(&past).await.unwrap();
    assert!(
        matches!(&refused, Filed::Refused(s) if s.comment.as_deref().unwrap().contains("уже прошла")),
        "{refused:?}"
    );
    let mut old = own_child(application(1004, &["DOU-1"]), "Фёдор");
    old.child.birth_date = day(-8 * 366);
    let refused = kg.file(&old).await.unwrap();
    assert!(matches!(&refused, Filed::Refused(s) if s.comment.as_deref().unwrap().contains("8 лет")), "{refused:?}");
    // A refused order sent again gets the same refusal.
    assert_eq!(kg.file(&old).await.unwrap(), refused);
    // The same child as an application already held: refused, naming it.
    let twin = kg.file(&application(1005, &["DOU-2"])).await.unwrap();
    assert!(matches!(&twin, Filed::Refused(s) if s.comment.as_deref().unwrap().contains(&number)), "{twin:?}");

    // Held for the edit form; unknown orders are None.
    let held = kg.application(1001).await.unwrap().expect("held");
    assert_eq!(held.kindergartens, app.kindergartens);
    assert!(held.filed_at.is_some());
    assert!(kg.application(1002).await.unwrap().is_none());
}

#[tokio::test]
async fn an_edit_is_accepted_and_its_changes_are_fed_as_170() {
    let scratch = standard();
    let school = scratch.open();
    let kg = school.kindergartens().unwrap();
    let app = application(2001, &["DOU-1"]);
    kg.file(&app).await.unwrap();
    let mut edited = app.clone();
    edited.entry.entry_date = day(120);
    edited.kindergartens.push(DesiredKindergarten { code: "DOU-2".into(), name: String::new(), priority: 2 });
    let answer = kg.file(&edited).await.unwrap();
    assert!(matches!(&answer, Filed::Edited(s) if s.code == 110), "{answer:?}");
    let changes = kg.status_changes(0, 10).await.unwrap();
    assert_eq!(changes.len(), 1);
    let change = &changes[0];
    assert_eq!((change.order_id, change.status.code, change.filed_on_portal), (2001, 170, true));
    let comment = change.status.comment.as_deref().unwrap();
    assert!(comment.contains("Желаемая дата зачисления") && comment.contains("Детские сады"), "{comment}");
    assert!(!comment.contains("Телефон"), "{comment}");
    // The edit again: nothing new.
    assert!(matches!(kg.file(&edited).await.unwrap(), Filed::AlreadyFiled(_)));
    assert_eq!(kg.status_changes(0, 10).await.unwrap().len(), 1);
    assert_eq!(kg.application(2001).await.unwrap().unwrap().entry.entry_date, day(120));
    // An edit to an unknown kindergarten is refused (180) and not kept.
    let mut bad = edited.clone();
    bad.kindergartens[0].code = "DOU-404".into();
    assert!(matches!(kg.file(&bad).await.unwrap(), Filed::Refused(s) if s.code == 180));
    assert_eq!(kg.application(2001).await.unwrap().unwrap().kindergartens[0].code, "DOU-1");
}

#[tokio::test]
async fn the_queue_orders_by_right_then_filing_time() {
    let scratch = standard();
    let school = scratch.open();
    let kg = school.kindergartens().unwrap();
    // Filed now: general, behind the two in-person ones still in the queue (the archived one does not count).
    kg.file(&own_child(application(3001, &["DOU-1"]), "General")).await.unwrap();
    // Filed now with an out-of-turn right: first.
    let mut out = own_child(application(3002, &["DOU-1"]), "OutOfTurn");
    out.benefit = Some(benefit("B-OUT"));
    kg.file(&out).await.unwrap();
    // A sibling gives the priority right: after first-turn, before the general ones.
    let mut sibling = own_child(application(3003, &["DOU-1"]), "Sibling");
    sibling.siblings.push(Sibling {
        surname: "Смирнов".into(),
        name: "Пётр".into(),
        middle_name: None,
        kindergarten: Coded { code: "DOU-1".into(), text: String::new() },
    });
    kg.file(&sibling).await.unwrap();
    // Another age group: a queue of its own.
    let mut baby = own_child(application(3004, &["DOU-1"]), "Baby");
    baby.child.birth_date = day(-200);
    kg.file(&baby).await.unwrap();

    let position = |order| async move {
        match kg.queue_position(order).await.unwrap() {
            QueueAnswer::Found(p) => p,
            QueueAnswer::Refused(s) => panic!("order {order} refused: {s:?}"),
        }
    };
    // Queue DOU-1, age 2: out-of-turn 3002, first-turn ДОУ-…-000002, priority 3003, general ДОУ-…-000001 (30 days
    // ago), general 3001 (now).
    let out = position(3002).await;
    assert_eq!((out.position, out.total, out.without_queue, out.first_queue, out.advantage_queue), (1, 5, 0, 0, 0));
    let sib = position(3003).await;
    assert_eq!((sib.position, sib.without_queue, sib.first_queue, sib.advantage_queue), (3, 1, 1, 0));
    let general = position(3001).await;
    assert_eq!((general.position, general.total, general.without_queue, general.first_queue), (5, 5, 1, 1));
    assert_eq!(general.advantage_queue, 1);
    assert_eq!(general.relevant_at.nanosecond(), 0);
    let baby = position(3004).await;
    assert_eq!((baby.position, baby.total), (1, 1));

    // Unknown, or no longer in the queue: 150 with the reason.
    assert!(matches!(kg.queue_position(9999).await.unwrap(), QueueAnswer::Refused(s) if s.code == 150));
    school.set_kindergarten_status(3004, 190, Some("Направление № 1")).unwrap();
    let QueueAnswer::Refused(s) = kg.queue_position(3004).await.unwrap() else { panic!("still in the queue") };
    assert!(s.comment.unwrap().contains("не находится в очереди"));
}

#[tokio::test]
async fn queue_reasons_count_the_events_of_the_period() {
    let scratch = standard();
    let school = scratch.open();
    let kg = school.kindergartens().unwrap();
    let week_ago = day(-7);
    kg.file(&own_child(application(4001, &["DOU-1"]), "Me")).await.unwrap();
    // Nothing happened ahead of it since it was filed.
    let QueueAnswer::Refused(s) = kg.queue_reasons(4001, today(), today()).await.unwrap() else { panic!() };
    assert_eq!(s.code, 150);
    assert!(s.comment.unwrap().contains("Изменений положения"));
    // Someone with a right is filed after it and stands ahead; someone ahead gets a place.
    let mut out = own_child(application(4002, &["DOU-1"]), "Ahead");
    out.benefit = Some(benefit("B-OUT"));
    kg.file(&out).await.unwrap();
    kg.file(&own_child(application(4003, &["DOU-1"]), "Behind")).await.unwrap();
    school.set_kindergarten_status(4002, 190, None).unwrap();
    let QueueAnswer::Found(r) = kg.queue_reasons(4001, week_ago, today()).await.unwrap() else { panic!() };
    assert_eq!((r.increase_queue, r.got_a_place, r.increase_benefits), (1, 1, 0));
    // An edit adding a benefit to one filed earlier than 4001 but behind it... is ahead now: counted as a benefit.
    let mut behind = own_child(application(4003, &["DOU-1"]), "Behind");
    behind.benefit = Some(benefit("B-FIRST"));
    kg.file(&behind).await.unwrap();
    let QueueAnswer::Found(r) = kg.queue_reasons(4001, week_ago, today()).await.unwrap() else { panic!() };
    assert_eq!(r.increase_benefits, 1);
    // A period before any of it: nothing.
    assert!(matches!(kg.queue_reasons(4001, day(-400), day(-300)).await.unwrap(), QueueAnswer::Refused(_)));
}

#[tokio::test]
async fn cancel_records_a_150_once_and_refuses_enrolled_and_unknown() {
    let scratch = standard();
    let school = scratch.open();
    let kg = school.kindergartens().unwrap();
    kg.file(&application(5001, &["DOU-1"])).await.unwrap();
    let done = kg.cancel(5001, Some("переезд")).await.unwrap();
    assert_eq!(done.result, CancelResult::Cancelled);
    let again = kg.cancel(5001, None).await.unwrap();
    assert_eq!(again, done);
    let changes = kg.status_changes(0, 10).await.unwrap();
    assert_eq!(changes.len(), 1, "one 150 for two cancels");
    assert_eq!((changes[0].status.code, changes[0].status.comment.as_deref()), (150, Some(CANCELLED_COMMENT)));
    assert!(!changes[0].status.cancel_allowed);

    kg.file(&own_child(application(5002, &["DOU-1"]), "Enrolled")).await.unwrap();
    school.set_kindergarten_status(5002, 250, Some("Зачислен")).unwrap();
    let enrolled = kg.cancel(5002, None).await.unwrap();
    assert_eq!(enrolled.result, CancelResult::Rejected);
    assert!(enrolled.comment.unwrap().contains("зачислен"));
    let unknown = kg.cancel(5999, None).await.unwrap();
    assert_eq!(unknown.result, CancelResult::Rejected);
    assert!(unknown.comment.is_some());
}

#[tokio::test]
async fn a_place_offered_can_be_taken_or_refused() {
    let scratch = standard();
    let school = scratch.open();
    let kg = school.kindergartens().unwrap();
    kg.file(&application(6001, &["DOU-1", "DOU-2"])).await.unwrap();
    assert!(kg.admission(6001).await.unwrap().is_none(), "no place offered yet");
    let admission_of = |order_id, code: &str| AdmissionApplication {
        order_id,
        service_type: "-10002202019".into(),
        applicant: applicant(),
        identity: passport(),
        second_parent: None,
        child: application(order_id, &[]).child,
        address: Address::default(),
        entry: application(order_id, &[]).entry,
        adaptation: application(order_id, &[]).adaptation,
        medical: None,
        kindergarten_code: code.into(),
        doc_list_review: true,
        license_charter: true,
    };
    let early = kg.admit(&admission_of(6001, "DOU-1")).await.unwrap();
    assert_eq!(early.code, 180);

    school.set_kindergarten_status(6001, 190, Some("Направление № 17")).unwrap();
    let offered = kg.admission(6001).await.unwrap().expect("a place is offered");
    assert_eq!(offered.kindergarten.code, "DOU-1");
    assert!(offered.kindergarten.text.contains("Солнышко"));
    assert_eq!(offered.application.order_id, 6001);
    assert_eq!(kg.admit(&admission_of(6001, "DOU-2")).await.unwrap().code, 180, "not the kindergarten offered");
    let consent = kg.admit(&admission_of(6001, "DOU-1")).await.unwrap();
    assert_eq!(consent.code, 230);
    assert_eq!(kg.admit(&admission_of(6001, "DOU-1")).await.unwrap(), consent, "idempotent");
    assert!(kg.admission(6001).await.unwrap().is_none(), "the offer was answered");

    kg.file(&own_child(application(6002, &["DOU-2"]), "Refuser")).await.unwrap();
    assert_eq!(kg.refuse_offer(6002, None, None).await.unwrap().code, 180, "nothing to refuse yet");
    school.set_kindergarten_status(6002, 190, None).unwrap();
    let refused = kg.refuse_offer(6002, Some("DOU-2"), Some("далеко")).await.unwrap();
    assert_eq!(refused.code, 220);
    assert!(refused.comment.as_deref().unwrap().contains("Ромашка"));
    assert_eq!(kg.refuse_offer(6002, Some("DOU-2"), Some("далеко")).await.unwrap(), refused);
    let codes: Vec<u16> = kg.status_changes(0, 100).await.unwrap().iter().map(|c| c.status.code).collect();
    assert_eq!(codes, [190, 230, 190, 220]);
}

/// A subscription for `child`.
fn subscription(order_id: i64, child: Child) -> Subscription {
    Subscription { order_id, service_type: "-10002202019".into(), applicant: applicant(), identity: passport(), child }
}

#[tokio::test]
async fn subscriptions_match_by_each_kind_of_birth_document() {
    let d = day(-990);
    let foreign = json!({"surname": "Ли", "name": "Мин", "birth_date": ymd(day(-1000)),
        "birth_doc": {"kind": "foreign", "name": "Birth certificate", "number": "KZ 778899", "issue_date": ymd(d),
                      "issued": "Registry"}});
    let act = json!({"surname": "Ёлкина", "name": "Вера", "birth_date": ymd(day(-1000)),
        "birth_doc": {"kind": "act", "act_number": "120000777", "act_date": ymd(d)}});
    let mut queue = standard_queue();
    let list = queue.as_array_mut().unwrap();
    list.push(entry("ДОУ-2026-000005", 3, 130, foreign, json!([["DOU-2", 1]]), None));
    list.push(entry("ДОУ-2026-000006", 3, 110, act, json!([["DOU-2", 1]]), None));
    let scratch = Scratch::new(&data(queue));
    let school = scratch.open();
    let kg = school.kindergartens().unwrap();

    // A Russian certificate: series and number, case and spaces aside.
    let petrov = Child {
        surname: "ПЕТРОВ".into(),
        name: "Пётр".into(),
        middle_name: None,
        birth_date: day(-1000),
        birth_doc: Some(certificate("i-аб", "111 111")),
    };
    let found = kg.subscribe(&subscription(7001, petrov.clone())).await.unwrap();
    assert_eq!(found, Subscribed::Found { number: "ДОУ-2026-000001".into() });
    // The history goes out under the subscription's order, as filed elsewhere.
    let changes = kg.status_changes(0, 10).await.unwrap();
    assert_eq!(changes.len(), 1);
    assert_eq!((changes[0].order_id, changes[0].status.code, changes[0].filed_on_portal), (7001, 140, false));
    // The application as the region holds it, under the subscription's order: the file's child and kindergartens,
    // the subscription's applicant; and its place in the queue.
    let held = kg.application(7001).await.unwrap().expect("held under the subscription's order");
    assert_eq!(
        (held.order_id, held.child.surname.as_str(), held.applicant.surname.as_str()),
        (7001, "Петров", "Смирнова")
    );
    assert_eq!(held.kindergartens.len(), 1);
    assert!(held.kindergartens[0].name.contains("Солнышко"));
    assert!(matches!(kg.queue_position(7001).await.unwrap(), QueueAnswer::Found(_)));
    // Idempotent.
    assert_eq!(kg.subscribe(&subscription(7001, petrov.clone())).await.unwrap(), found);
    assert_eq!(kg.status_changes(0, 10).await.unwrap().len(), 1);

    // A foreign document.
    let li = Child {
        surname: "Ли".into(),
        name: "Мин".into(),
        middle_name: None,
        birth_date: day(-1000),
        birth_doc: Some(BirthDoc::Foreign {
            name: "Свидетельство".into(),
            series: None,
            number: "KZ778899".into(),
            issue_date: d,
            issued: "Registry".into(),
        }),
    };
    assert!(matches!(kg.subscribe(&subscription(7002, li)).await.unwrap(), Subscribed::Found { .. }));
    // A civil registry act (and ё as е).
    let vera = Child {
        surname: "Елкина".into(),
        name: "Вера".into(),
        middle_name: None,
        birth_date: day(-1000),
        birth_doc: Some(BirthDoc::Act { act_number: "120000777".into(), act_date: d, issued: None }),
    };
    assert!(matches!(kg.subscribe(&subscription(7003, vera)).await.unwrap(), Subscribed::Found { .. }));

    // Not found: a wrong number, or no document at all; an archived application is not found either.
    let mut wrong = petrov.clone();
    wrong.birth_doc = Some(certificate("I-АБ", "999999"));
    assert!(matches!(kg.subscribe(&subscription(7004, wrong)).await.unwrap(), Subscribed::NotFound(_)));
    let mut none = petrov.clone();
    none.birth_doc = None;
    let Subscribed::NotFound(why) = kg.subscribe(&subscription(7005, none)).await.unwrap() else { panic!() };
    assert!(why.contains("документ"));
    let kozlov = Child {
        surname: "Козлов".into(),
        name: "Олег".into(),
        middle_name: None,
        birth_date: day(-1000),
        birth_doc: Some(certificate("I-АБ", "333333")),
    };
    assert!(matches!(kg.subscribe(&subscription(7006, kozlov)).await.unwrap(), Subscribed::NotFound(_)));

    // Filed on the portal: 150.
    let app = application(7100, &["DOU-1"]);
    kg.file(&app).await.unwrap();
    let portal = kg.subscribe(&subscription(7007, app.child.clone())).await.unwrap();
    assert!(matches!(portal, Subscribed::FiledOnPortal(s) if s.code == 150));

    // A status the school sets in the data file reaches the subscription's order.
    let mut queue = data(standard_queue());
    queue["kindergarten_queue"][0]["status"] = json!(190);
    queue["kindergarten_queue"][0]["comment"] = json!("Направление № 5");
    scratch.write(&queue);
    school.reload().unwrap();
    let last = kg.status_changes(0, 100).await.unwrap().pop().unwrap();
    assert_eq!((last.order_id, last.status.code, last.filed_on_portal), (7001, 190, false));
    assert_eq!(last.status.comment.as_deref(), Some("Направление № 5"));
    // The place offered to an application filed in person is on the admission form under the subscription's order.
    let admission = kg.admission(7001).await.unwrap().expect("a place is offered");
    assert_eq!((admission.application.order_id, admission.kindergarten.code.as_str()), (7001, "DOU-1"));
}

#[tokio::test]
async fn the_journal_survives_reopening_and_a_torn_last_line() {
    let scratch = standard();
    let (number, cursors) = {
        let school = scratch.open();
        let kg = school.kindergartens().unwrap();
        let Filed::Registered { number, .. } = kg.file(&application(8001, &["DOU-1"])).await.unwrap() else { panic!() };
        school.set_kindergarten_status(8001, 120, Some("Рассмотрение начато")).unwrap();
        school.set_kindergarten_status(8001, 140, Some("Рассмотрено")).unwrap();
        let cursors: Vec<u64> = kg.status_changes(0, 10).await.unwrap().iter().map(|c| c.cursor).collect();
        assert!(cursors.windows(2).all(|w| w[0] < w[1]), "{cursors:?}");
        (number, cursors)
    };
    // A crash mid-append leaves a line without its newline.
    let mut bytes = std::fs::read(&scratch.journal).unwrap();
    bytes.extend_from_slice(br#"{"kind":"kindergarten","at":"2026-"#);
    std::fs::write(&scratch.journal, bytes).unwrap();

    let school = scratch.open();
    let kg = school.kindergartens().unwrap();
    let again = kg.file(&application(8001, &["DOU-1"])).await.unwrap();
    assert!(matches!(&again, Filed::AlreadyFiled(s) if s.code == 140), "{again:?}");
    assert_eq!(school.kindergarten_status(8001).unwrap().0, number);
    let after: Vec<u64> = kg.status_changes(0, 10).await.unwrap().iter().map(|c| c.cursor).collect();
    assert_eq!(after, cursors, "the same changes under the same cursors");
    assert_eq!(kg.status_changes(cursors[0], 10).await.unwrap().len(), 1);
    // New changes continue above the old cursors; a new filing gets the next number.
    let change = school.set_kindergarten_status(8001, 160, None).unwrap();
    assert!(change.cursor > *cursors.last().unwrap());
    let Filed::Registered { number: next, .. } =
        kg.file(&own_child(application(8002, &["DOU-2"]), "Second")).await.unwrap()
    else {
        panic!()
    };
    assert_ne!(next, number);
    // A damaged line in the middle is refused, naming it.
    let text = std::fs::read_to_string(&scratch.journal).unwrap();
    let mut lines: Vec<&str> = text.lines().collect();
    lines[1] = "{not json";
    std::fs::write(&scratch.journal, lines.join("\n") + "\n").unwrap();
    assert!(scratch.open_error().contains("line 2"));
}

#[tokio::test]
async fn data_file_status_edits_are_fed_for_portal_orders_too() {
    let scratch = standard();
    let school = scratch.open();
    let kg = school.kindergartens().unwrap();
    kg.file(&application(9001, &["DOU-1"])).await.unwrap();
    let mut file = data(standard_queue());
    file["kindergarten_statuses"] = json!([{"order_id": 9001, "status": 140, "comment": "Рассмотрено"}]);
    scratch.write(&file);
    school.reload().unwrap();
    school.reload().unwrap();
    let changes = kg.status_changes(0, 10).await.unwrap();
    assert_eq!(changes.len(), 1, "one change however often the file is read");
    assert_eq!((changes[0].order_id, changes[0].status.code, changes[0].filed_on_portal), (9001, 140, true));
    // An in-person entry's status edit with nobody subscribed is not fed (there is no order to push it under).
    file["kindergarten_queue"][3]["status"] = json!(120);
    scratch.write(&file);
    school.reload().unwrap();
    assert_eq!(kg.status_changes(0, 10).await.unwrap().len(), 1);
    // Reopened: the file's statuses are known, nothing is fed again.
    drop(school);
    let school = scratch.open();
    assert_eq!(school.kindergartens().unwrap().status_changes(0, 10).await.unwrap().len(), 1);
}

#[tokio::test]
async fn set_status_rejects_unknown_orders_and_codes() {
    let scratch = standard();
    let school = scratch.open();
    assert!(school.set_kindergarten_status(1, 120, None).is_err());
    school.kindergartens().unwrap().file(&application(1, &["DOU-1"])).await.unwrap();
    assert!(school.set_kindergarten_status(1, 200, None).is_err(), "there is no status 200");
    assert!(school.set_kindergarten_status(1, 115, None).is_err());
}

#[test]
fn bad_kindergarten_sections_are_refused_naming_the_field() {
    let mut file = data(standard_queue());
    file["kindergarten_queue"][1]["kindergartens"] = json!([["DOU-9", 1]]);
    let error = Scratch::new(&file).open_error();
    assert!(error.contains("kindergarten_queue[1]") && error.contains("DOU-9"), "{error}");

    let mut file = data(standard_queue());
    file["kindergartens"][1]["code"] = json!("DOU-1");
    let error = Scratch::new(&file).open_error();
    assert!(error.contains("kindergartens[1].code") && error.contains("twice"), "{error}");

    let mut file = data(standard_queue());
    file["kindergarten_queue"][2]["child"]["birth_date"] = json!("2023-02-30");
    let error = Scratch::new(&file).open_error();
    assert!(error.contains("kindergarten_queue[2]") && error.contains("birth_date"), "{error}");
    assert!(!error.contains("2023-02-30"), "a birth date never appears in a message: {error}");

    let mut file = data(standard_queue());
    file["kindergarten_queue"][0]["number"] = json!("ДОУ-2026-000002");
    assert!(Scratch::new(&file).open_error().contains("twice"));

    let mut file = data(standard_queue());
    file["kindergarten_queue"][0]["status"] = json!(200);
    assert!(Scratch::new(&file).open_error().contains("kindergarten_queue[0]"));

    let mut file = data(standard_queue());
    file["benefit_categories"][0]["right"] = json!("vip");
    assert!(Scratch::new(&file).open_error().contains("benefit_categories[0].right"));
}

#[test]
fn debug_masks_people() {
    let mut app = application(1, &["DOU-1"]);
    app.benefit = Some(benefit("B-OUT"));
    app.siblings.push(Sibling {
        surname: "Смирнова".into(),
        name: "Ольга".into(),
        middle_name: None,
        kindergarten: Coded { code: "DOU-1".into(), text: String::new() },
    });
    app.applicant.snils = Some(edugate::school::Snils::parse("112-233-445 95").unwrap());
    let record = ApplicationRec::of(&app);
    let text = format!("{app:?} {:?} {record:?}", subscription(2, app.child.clone()));
    for secret in ["Смирнова", "Ольга", "Смирнов", "Иван", "olga@example.ru", "+79001234567", "I-МЮ", "4510"]
    {
        assert!(!text.contains(secret), "{secret} in {text}");
    }
    assert!(!text.contains(&ymd(app.child.birth_date)), "{text}");
    assert!(text.contains("DOU-1") && text.contains("С***"), "{text}");
}

#[tokio::test]
async fn the_timed_system_forwards_and_times_the_queue() {
    let scratch = standard();
    let school = Arc::new(scratch.open());
    let calls = Arc::new(std::sync::Mutex::new(Vec::new()));
    let seen = calls.clone();
    let observer: edugate::school::timed::Observer =
        Arc::new(move |call, _, _| seen.lock().unwrap().push(call.as_str()));
    let timed = TimedSchool::new(school.clone(), observer);
    let kg = timed.kindergartens().expect("forwarded");
    assert!(matches!(kg.file(&application(1, &["DOU-1"])).await.unwrap(), Filed::Registered { .. }));
    assert!(matches!(kg.queue_position(1).await.unwrap(), QueueAnswer::Found(_)));
    assert_eq!(*calls.lock().unwrap(), ["kindergarten_file", "kindergarten_queue_position"]);
    assert!(school.kindergarten_status(1).is_some(), "the inner system filed it");
}

#[tokio::test]
async fn the_demo_data_has_a_realistic_queue_and_its_fixture_can_be_subscribed_to() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(fixtures::DEMO_DATA_PATH);
    let file: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    let kindergartens = file["kindergartens"].as_array().unwrap();
    let queue = file["kindergarten_queue"].as_array().unwrap();
    assert!((20..=100).contains(&kindergartens.len()), "{} kindergartens", kindergartens.len());
    assert!(queue.len() >= 2000, "{} applications in the queue", queue.len());
    let with_benefit = queue.iter().filter(|e| e.get("benefit").is_some()).count();
    let second_choice = queue.iter().filter(|e| e["kindergartens"].as_array().unwrap().len() > 1).count();
    assert!(with_benefit * 10 > queue.len() && with_benefit * 2 < queue.len(), "{with_benefit} with a benefit");
    assert!(second_choice * 5 > queue.len(), "{second_choice} with a second choice");

    let dir = tempfile::tempdir().unwrap();
    let school = EmbeddedSchool::open(&path, &dir.path().join("journal.jsonl")).unwrap();
    let kg = school.kindergartens().unwrap();
    let darya = Child {
        surname: fixtures::KG_CHILD_SURNAME.into(),
        name: fixtures::KG_CHILD_NAME.into(),
        middle_name: None,
        birth_date: fixtures::KG_CHILD_BIRTH,
        birth_doc: Some(certificate(fixtures::KG_CHILD_CERT_SERIES, fixtures::KG_CHILD_CERT_NUMBER)),
    };
    let found = kg.subscribe(&subscription(fixtures::FREE_ORDERS_FROM, darya)).await.unwrap();
    assert_eq!(found, Subscribed::Found { number: fixtures::KG_NUMBER_IN_PERSON.into() });
    let held = kg.application(fixtures::FREE_ORDERS_FROM).await.unwrap().expect("held");
    assert!(!held.address.full.is_empty() && held.entry.language.text == "русский", "{held:?}");
    let unknown = kg.file(&application(fixtures::FREE_ORDERS_FROM + 1, &[fixtures::KINDERGARTEN_UNKNOWN])).await;
    assert!(matches!(unknown.unwrap(), Filed::Refused(s) if s.code == 150));
    let mut app = application(fixtures::FREE_ORDERS_FROM + 2, &[fixtures::KINDERGARTEN_1, fixtures::KINDERGARTEN_2]);
    app.child.name = "Демо".into();
    assert!(matches!(kg.file(&app).await.unwrap(), Filed::Registered { .. }));
    let QueueAnswer::Found(position) = kg.queue_position(app.order_id).await.unwrap() else { panic!() };
    assert!(position.total > 1 && position.position == position.total, "{position:?}");
}

#[tokio::test]
async fn concurrent_filings_of_one_order_register_it_once() {
    let scratch = standard();
    let school = Arc::new(scratch.open());
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let school = school.clone();
            tokio::spawn(async move { school.kindergartens().unwrap().file(&application(10_001, &["DOU-1"])).await })
        })
        .collect();
    let mut registered = 0;
    for task in tasks {
        match task.await.unwrap().unwrap() {
            Filed::Registered { .. } => registered += 1,
            Filed::AlreadyFiled(status) => assert_eq!(status.code, 110),
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(registered, 1);
    // An edit that sends another filing time does not move the application in the queue.
    let mut edited = application(10_001, &["DOU-1"]);
    edited.filed_at = Some(OffsetDateTime::now_utc() + Duration::days(1));
    edited.applicant.phone = "+79009990000".into();
    let kg = school.kindergartens().unwrap();
    assert!(matches!(kg.file(&edited).await.unwrap(), Filed::Edited(_)));
    let held = kg.application(10_001).await.unwrap().unwrap();
    assert!(held.filed_at.unwrap() <= OffsetDateTime::now_utc());
    let comment = kg.status_changes(0, 10).await.unwrap().pop().unwrap().status.comment.unwrap();
    assert!(comment.contains("Телефон") && !comment.contains("Прочие"), "{comment}");
}

#[test]
fn a_system_without_the_queue_has_none_timed_or_not() {
    /// A school system that runs no kindergarten queue (the trait's default).
    struct NoQueue;
    impl SchoolSystem for NoQueue {
        fn linked_children<'a>(
            &'a self,
            _: &'a edugate::school::Snils,
        ) -> edugate::school::BoxFuture<'a, Result<Vec<edugate::school::Pupil>, edugate::school::SchoolError>> {
            Box::pin(async { Ok(Vec::new()) })
        }
        fn marks<'a>(
            &'a self,
            _: &'a edugate::school::PupilId,
            _: Date,
            _: Date,
        ) -> edugate::school::BoxFuture<'a, Result<edugate::school::Marks, edugate::school::SchoolError>> {
            Box::pin(async { Err(edugate::school::SchoolError::Rejected("none".into())) })
        }
        fn submit_application<'a>(
            &'a self,
            _: &'a edugate::school::EnrollmentApplication,
        ) -> edugate::school::BoxFuture<'a, Result<edugate::school::SubmitOutcome, edugate::school::SchoolError>>
        {
            Box::pin(async { Err(edugate::school::SchoolError::Rejected("none".into())) })
        }
        fn status_changes<'a>(
            &'a self,
            _: u64,
            _: usize,
        ) -> edugate::school::BoxFuture<'a, Result<Vec<edugate::school::StatusChange>, edugate::school::SchoolError>>
        {
            Box::pin(async { Ok(Vec::new()) })
        }
        fn name(&self) -> &str {
            "none"
        }
    }
    let observer: edugate::school::timed::Observer = Arc::new(|_, _, _| {});
    let timed = TimedSchool::new(Arc::new(NoQueue), observer);
    assert!(NoQueue.kindergartens().is_none() && timed.kindergartens().is_none());
}
