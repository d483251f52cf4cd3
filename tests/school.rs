//! The embedded school system: the consent rule, marks by period and their averages, enrollment submissions and
//! their journal, status changes from the data file and from `set_status`, damaged files, and the shipped demo data.
#![forbid(unsafe_code)]

// The demo data generator and its fixtures live in the `edugate-school-data` tool, not in the library.
#[allow(dead_code)]
#[path = "../src/bin/school_data/fixtures.rs"]
mod fixtures;
#[allow(dead_code)]
#[path = "../src/bin/school_data/generate.rs"]
mod generate;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use edugate::school::kindergarten::CancelResult;
use edugate::school::{
    DesiredSchool, EmbeddedSchool, EnrollmentApplication, MarkValue, PupilId, SchoolError, SchoolSystem, Snils,
    SubmitOutcome,
};
use edugate::services::enrollment;
use serde_json::{json, Value};
use time::macros::date;

/// A guardian linked with consent to P1 and P2, and without consent to P3.
const PARENT: &str = "112-233-445 95";
/// Linked to P1 without consent.
const NO_CONSENT: &str = "123-456-789 64";
/// Linked to P4; consent given, then withdrawn.
const WITHDRAWN: &str = "145-678-901 05";
/// Linked to P5; consent withdrawn once, then given again.
const RENEWED: &str = "167-890-123 07";
/// In no guardian record.
const UNKNOWN: &str = "198-765-432 47";

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
        let scratch = Scratch {
            data: dir.path().join("school.json"),
            journal: dir.path().join("state/journal.jsonl"),
            _dir: dir,
        };
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
}

/// A small data file with known marks, whose `applications` section is `applications`.
fn small_data(applications: Value) -> Value {
    json!({
        "format": "edugate-school-data/1",
        "schools": [
            {"code": "SCH-1", "name": "МБОУ «СОШ № 1»", "oktmo": "46701000"},
            {"code": "SCH-2", "name": "МАОУ «Гимназия № 2»", "oktmo": "46735000"}
        ],
        "classes": [
            {"id": "SCH-1:5А", "school": "SCH-1", "name": "5А",
             "subjects": ["Математика", "Русский язык", "ОРКСЭ", "Музыка"],
             "lessons": [
                ["2026-09-01", 0, "Натуральные числа", "Работа на уроке", 1],
                ["2026-09-03", 0, "Сложение и вычитание", "Самостоятельная работа", 2],
                ["2026-09-10", 0, "Умножение", "Контрольная работа", 3],
                ["2026-10-01", 0, "Обыкновенные дроби", "Работа на уроке", 1],
                ["2026-09-02", 1, "Морфемика", "Диктант", 3],
                ["2026-09-05", 2, "Культура и мораль", "Творческая работа", 2],
                ["2026-09-07", 3, null, null, 1]
             ]},
            {"id": "SCH-2:1Б", "school": "SCH-2", "name": "1Б", "subjects": ["Математика"], "lessons": []}
        ],
        "pupils": [
            {"id": "P1", "surname": "Иванова", "name": "Анна", "middle_name": "Сергеевна", "birth_date": "2015-04-17",
             "class": "SCH-1:5А",
             "marks": [[0, "5"], [1, "4"], [2, "3"], [3, "5"], [4, "4"], [5, "зачёт"]],
             "terms": [["Математика", 1, "4"], ["Русский язык", 1, "4"]],
             "year": [["Математика", "4"]]},
            {"id": "P2", "surname": "Иванов", "name": "Борис", "birth_date": "2015-01-09", "class": "SCH-1:5А",
             "marks": [[2, "5"]]},
            {"id": "P3", "surname": "Иванов", "name": "Глеб", "birth_date": "2019-11-30", "class": "SCH-2:1Б"},
            {"id": "P4", "surname": "Петров", "name": "Никита", "birth_date": "2019-06-21", "class": "SCH-2:1Б"},
            {"id": "P5", "surname": "Сидорова", "name": "Ева", "birth_date": "2019-02-02", "class": "SCH-2:1Б"}
        ],
        "guardians": [
            {"snils": PARENT, "links": [
                {"pupil": "P1", "consent_given": "2026-08-29"},
                {"pupil": "P2", "consent_given": "2026-08-29"},
                {"pupil": "P3"}
            ]},
            {"snils": NO_CONSENT, "links": [{"pupil": "P1"}]},
            {"snils": WITHDRAWN, "links": [{"pupil": "P4", "consent_given": "2026-08-01", "consent_withdrawn": "2026-10-01"}]},
            {"snils": RENEWED, "links": [{"pupil": "P5", "consent_given": "2026-09-01", "consent_withdrawn": "2025-05-01"}]}
        ],
        "applications": applications
    })
}

/// The small data file with one application known to the school: order 100, under review.
fn data_with_order_100() -> Value {
    small_data(
        json!([{"order_id": 100, "status": 120, "changed_at": "2026-11-20T15:45:00+03:00", "comment": "На рассмотрении"}]),
    )
}

/// A SNILS from its written form.
fn snils(text: &str) -> Snils {
    Snils::parse(text).unwrap()
}

/// The ids of pupils.
fn ids(pupils: &[edugate::school::Pupil]) -> Vec<&str> {
    pupils.iter().map(|pupil| pupil.id.0.as_str()).collect()
}

/// Desired schools by code, priorities in the order given.
fn schools(codes: &[&str]) -> Vec<DesiredSchool> {
    let school = |(i, code): (usize, &&str)| DesiredSchool {
        code: code.to_string(),
        name: String::new(),
        priority: i as u8 + 1,
    };
    codes.iter().enumerate().map(school).collect()
}

/// An application that the small data's school SCH-1 registers: the whole 1.1.0 sample (documents, address,
/// siblings, benefit), for this family and these schools.
fn application(order_id: i64) -> EnrollmentApplication {
    let sample = enrollment::v110::sample_request(order_id, "2020-03-15");
    let Ok(enrollment::v110::Request::Application(mut a)) = enrollment::parse_request(&sample, date!(2026 - 12 - 01))
    else {
        panic!("the sample reads")
    };
    a.applicant_snils = snils(PARENT);
    a.applicant.snils = Some(snils(PARENT));
    (a.applicant.surname, a.applicant.name) = ("Иванова".into(), "Елена".into());
    (a.child.surname, a.child.name) = ("Иванов".into(), "Глеб".into());
    a.schools = schools(&["SCH-1", "SCH-2"]);
    *a
}

/// The note of a registration for review, or a panic.
fn review(outcome: SubmitOutcome) -> String {
    match outcome {
        SubmitOutcome::ForReview { status: 110, note } => note,
        other => panic!("expected a registration for review, got {other:?}"),
    }
}

/// The reason of a refusal, or a panic.
fn refusal(outcome: SubmitOutcome) -> String {
    match outcome {
        SubmitOutcome::Refused { status: 150, reason } => reason,
        other => panic!("expected a refusal, got {other:?}"),
    }
}

#[tokio::test]
async fn consent_rule_answers_unlinked_and_unknown_alike() {
    let scratch = Scratch::new(&small_data(json!([])));
    let school = scratch.open();
    let children = school.linked_children(&snils(PARENT)).await.unwrap();
    assert_eq!(ids(&children), ["P1", "P2"], "P3 is linked without consent");
    let anna = &children[0];
    assert_eq!(
        (anna.surname.as_str(), anna.name.as_str(), anna.middle_name.as_deref()),
        ("Иванова", "Анна", Some("Сергеевна"))
    );
    assert_eq!(anna.birth_date, date!(2015 - 04 - 17));
    assert_eq!(
        (anna.school.code.as_str(), anna.school.oktmo.as_str(), anna.class_name.as_str()),
        ("SCH-1", "46701000", "5А")
    );
    assert_eq!(children[1].middle_name, None);

    let answers = [NO_CONSENT, WITHDRAWN, UNKNOWN].map(|text| school.linked_children_now(&snils(text)));
    for answer in &answers {
        assert!(answer.is_empty());
    }
    // Indistinguishable: the same value, and the same way of getting it.
    let through_trait = school.linked_children(&snils(WITHDRAWN)).await;
    assert!(matches!(through_trait, Ok(ref list) if list.is_empty()));

    assert_eq!(ids(&school.linked_children_now(&snils(RENEWED))), ["P5"], "consent given again after a withdrawal");
    assert_eq!(school.name(), "embedded");
}

#[tokio::test]
async fn marks_are_those_of_the_period_with_golden_averages() {
    let scratch = Scratch::new(&small_data(json!([])));
    let school = scratch.open();
    let pupil = PupilId("P1".into());

    let september = school.marks(&pupil, date!(2026 - 09 - 01), date!(2026 - 09 - 30)).await.unwrap();
    assert_eq!(
        (september.pupil.clone(), september.from, september.to),
        (pupil.clone(), date!(2026 - 09 - 01), date!(2026 - 09 - 30))
    );
    let names: Vec<_> = september.subjects.iter().map(|s| s.subject.as_str()).collect();
    assert_eq!(names, ["Математика", "Русский язык", "ОРКСЭ"], "curriculum order; Музыка has no marks");
    let maths = &september.subjects[0];
    let values: Vec<_> = maths.lessons.iter().map(|m| (m.date, m.value, m.weight)).collect();
    assert_eq!(
        values,
        [
            (date!(2026 - 09 - 01), MarkValue::Five, 1),
            (date!(2026 - 09 - 03), MarkValue::Four, 2),
            (date!(2026 - 09 - 10), MarkValue::Three, 3)
        ]
    );
    assert_eq!(maths.lessons[2].work_type.as_deref(), Some("Контрольная работа"));
    assert_eq!(maths.lessons[2].topic.as_deref(), Some("Умножение"));
    // (5·1 + 4·2 + 3·3) / 6 = 3.666…
    assert_eq!(maths.average_text().as_deref(), Some("3.67"));
    assert!((maths.weighted_average().unwrap() - 22.0 / 6.0).abs() < 1e-9);
    assert_eq!(maths.terms, [(1, MarkValue::Four)]);
    assert_eq!(maths.year, Some(MarkValue::Four));
    assert_eq!(september.subjects[1].average_text().as_deref(), Some("4.00"));
    let pass_only = &september.subjects[2];
    assert_eq!((pass_only.lessons[0].value, pass_only.weighted_average()), (MarkValue::Pass, None));

    // The whole term: (22 + 5) / 7 = 3.857…
    let term = school.marks_now(&pupil, date!(2026 - 09 - 01), date!(2026 - 10 - 31)).unwrap();
    assert_eq!(term.subjects[0].average_text().as_deref(), Some("3.86"));

    // October: one lesson mark; subjects with term marks stay, with no lessons; the pass/fail subject goes.
    let october = school.marks_now(&pupil, date!(2026 - 10 - 01), date!(2026 - 10 - 01)).unwrap();
    let names: Vec<_> = october.subjects.iter().map(|s| (s.subject.as_str(), s.lessons.len())).collect();
    assert_eq!(names, [("Математика", 1), ("Русский язык", 0)]);
    assert_eq!(october.subjects[1].average_text(), None);

    let nothing = school.marks_now(&PupilId("P3".into()), date!(2026 - 09 - 01), date!(2026 - 12 - 31)).unwrap();
    assert!(nothing.subjects.is_empty());
}

#[tokio::test]
async fn marks_of_unknown_pupils_and_backward_periods_are_rejected() {
    let scratch = Scratch::new(&small_data(json!([])));
    let school = scratch.open();
    let unknown = school.marks(&PupilId("nobody".into()), date!(2026 - 09 - 01), date!(2026 - 09 - 30)).await;
    assert!(matches!(unknown, Err(SchoolError::Rejected(ref m)) if m.contains("nobody")), "{unknown:?}");
    let backward = school.marks_now(&PupilId("P1".into()), date!(2026 - 09 - 30), date!(2026 - 09 - 01));
    assert!(matches!(backward, Err(ref e @ SchoolError::Rejected(_)) if !e.is_retryable()));
}

#[tokio::test]
async fn submissions_are_validated_with_readable_reasons() {
    let scratch = Scratch::new(&small_data(json!([])));
    let school = scratch.open();

    let mut unknown_school = application(1);
    unknown_school.schools.push(DesiredSchool { code: "SCH-99".into(), name: String::new(), priority: 3 });
    let reason = refusal(school.submit_application(&unknown_school).await.unwrap());
    assert_eq!(reason, "школа с кодом SCH-99 не найдена");

    // A grade-1 child outside 6 years 6 months .. 8 years is registered for review with the founder's permission,
    // never refused for the age.
    let mut too_young = application(2);
    too_young.child.birth_date = date!(2023 - 01 - 10);
    let note = review(school.submit_application(&too_young).await.unwrap());
    assert!(note.starts_with("на 1 сентября 2027 г. ребёнку будет 4 года 7 месяцев; в 1 класс принимают детей от 6 лет 6 месяцев до 8 лет"), "{note}");
    assert!(note.contains("с разрешения учредителя"), "{note}");

    let mut too_old = application(3);
    too_old.child.birth_date = date!(2016 - 05 - 01);
    let note = review(school.submit_application(&too_old).await.unwrap());
    assert!(note.contains("будет 11 лет 4 месяца") && note.contains("с разрешения учредителя"), "{note}");

    for (order, grade) in [(4, 0), (5, 12)] {
        let mut wrong_grade = application(order);
        wrong_grade.grade = grade;
        let reason = refusal(school.submit_application(&wrong_grade).await.unwrap());
        assert_eq!(reason, format!("класса {grade} нет: принимают в 1–11 классы"));
    }

    let mut bad_year = application(6);
    bad_year.academic_year = "2027-2028".into();
    assert!(refusal(school.submit(&bad_year).unwrap()).contains("учебный год «2027-2028» указан неверно"));

    let mut fifth_grade = application(7);
    (fifth_grade.grade, fifth_grade.child.birth_date) = (5, date!(2016 - 05 - 01));
    assert_eq!(school.submit(&fifth_grade).unwrap(), SubmitOutcome::Registered { status: 110 });

    assert_eq!(school.submitted_orders(), [2, 3, 7], "refused applications are not registered");
    assert_eq!(school.order_status(2), Some(110));
    assert_eq!(school.order_status(4), Some(150));
}

#[tokio::test]
async fn submission_is_idempotent_by_order_id() {
    let scratch = Scratch::new(&data_with_order_100());
    let school = scratch.open();
    let order = application(fixtures::FREE_ORDERS_FROM);
    assert_eq!(school.submit_application(&order).await.unwrap(), SubmitOutcome::Registered { status: 110 });
    assert_eq!(school.submit_application(&order).await.unwrap(), SubmitOutcome::AlreadySubmitted { status: 110 });
    school.set_status(order.order_id, 120, Some("Принято к рассмотрению")).unwrap();
    assert_eq!(school.submit_application(&order).await.unwrap(), SubmitOutcome::AlreadySubmitted { status: 120 });
    // Whatever a repeat holds, the first submission stands.
    let mut altered = order.clone();
    altered.schools = schools(&["SCH-99"]);
    assert_eq!(school.submit(&altered).unwrap(), SubmitOutcome::AlreadySubmitted { status: 120 });
    assert_eq!(school.application(order.order_id), Some(order.clone()));

    // A refused order gets the same refusal again.
    let mut refused = application(fixtures::FREE_ORDERS_FROM + 1);
    refused.grade = 12;
    let first = school.submit(&refused).unwrap();
    assert_eq!(school.submit(&refused).unwrap(), first);

    // An order the school holds from its data file is already submitted.
    assert_eq!(school.submit(&application(100)).unwrap(), SubmitOutcome::AlreadySubmitted { status: 120 });
    assert_eq!(school.submitted_orders(), [order.order_id]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_submissions_of_one_order_register_it_once() {
    let scratch = Scratch::new(&small_data(json!([])));
    let school: Arc<dyn SchoolSystem> = Arc::new(scratch.open());
    let tasks: Vec<_> = (0..16)
        .map(|_| {
            let school = school.clone();
            tokio::spawn(async move { school.submit_application(&application(42)).await.unwrap() })
        })
        .collect();
    let mut registered = 0;
    for task in tasks {
        match task.await.unwrap() {
            SubmitOutcome::Registered { status: 110 } => registered += 1,
            SubmitOutcome::AlreadySubmitted { status: 110 } => {}
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(registered, 1);
}

#[test]
fn the_journal_survives_reopening() {
    let scratch = Scratch::new(&small_data(json!([])));
    let order = application(7001);
    {
        let school = scratch.open();
        assert_eq!(school.submit(&order).unwrap(), SubmitOutcome::Registered { status: 110 });
        school.set_status(7001, 190, Some("Предоставлено место")).unwrap();
    }
    let school = scratch.open();
    assert_eq!(school.submit(&order).unwrap(), SubmitOutcome::AlreadySubmitted { status: 190 });
    assert_eq!(school.submitted_orders(), [7001]);
    assert_eq!(school.application(7001), Some(order));
    assert_eq!(school.order_status(7001), Some(190));
}

/// A journal written before the whole application was kept still reads: its applications come back with what the
/// line holds (names, birth date, schools, benefit), the rest empty, and answer repeats and withdrawals as before.
#[test]
fn journal_lines_of_the_older_shape_still_read() {
    let scratch = Scratch::new(&small_data(json!([])));
    std::fs::create_dir_all(scratch.journal.parent().unwrap()).unwrap();
    let old = r#"{"kind":"submitted","order_id":7100,"at":"2026-11-20T10:00:00Z","application":{"oktmo":"46701000","applicant_snils":"112-233-445 95","applicant_surname":"Иванова","applicant_name":"Елена","child_surname":"Иванов","child_name":"Глеб","child_birth_date":"2020-03-15","schools":[["SCH-1",1]],"grade":1,"academic_year":"2027/2028","benefit_code":"SIBLING"}}"#;
    std::fs::write(&scratch.journal, format!("{old}\n")).unwrap();
    let school = scratch.open();
    let held = school.application(7100).expect("the old line reads");
    assert_eq!((held.child.surname.as_str(), held.child.birth_date), ("Иванов", date!(2020 - 03 - 15)));
    assert_eq!(held.schools, schools(&["SCH-1"]));
    assert_eq!(held.benefit.map(|b| b.category.code), Some("SIBLING".to_string()));
    assert!(held.identity.is_none() && held.address.is_none() && held.child.birth_doc.is_none());
    assert_eq!(school.submit(&application(7100)).unwrap(), SubmitOutcome::AlreadySubmitted { status: 110 });
    assert_eq!(school.cancel(7100, Some("переезд")).unwrap().result, CancelResult::Cancelled);
    assert_eq!(school.order_status(7100), Some(150));
    // A registration for review keeps its note across a reopen; withdrawal of an enrolled child is refused.
    let mut young = application(7101);
    young.child.birth_date = date!(2022 - 06 - 01);
    let note = review(school.submit(&young).unwrap());
    school.set_status(7101, 250, Some("Зачислен с разрешения учредителя")).unwrap();
    drop(school);
    let school = scratch.open();
    assert_eq!(school.application(7101), Some(young), "the whole application survives a reopen");
    assert!(note.contains("5 лет 3 месяца"), "{note}");
    assert_eq!(school.cancel(7101, None).unwrap().result, CancelResult::Rejected);
    assert_eq!(school.cancel(7999, None).unwrap().result, CancelResult::Rejected, "unknown");
}

#[test]
fn status_changes_from_set_status_and_reloads_have_increasing_durable_cursors() {
    let scratch = Scratch::new(&data_with_order_100());
    let school = scratch.open();
    // The file's own statuses are where the school starts from, not changes.
    assert!(school.status_changes_now(0, 100).is_empty());
    assert_eq!(school.order_status(100), Some(120));

    school.submit(&application(7001)).unwrap();
    let first = school.set_status(7001, 120, Some("Принято к рассмотрению")).unwrap();
    assert_eq!((first.order_id, first.status, first.comment.as_deref()), (7001, 120, Some("Принято к рассмотрению")));

    // The school edits its data: order 7001 enrolled, order 100 gets a place.
    let edited = small_data(json!([
        {"order_id": 100, "status": 190, "changed_at": "2026-11-24T10:00:00+03:00", "comment": "Предоставлено место"},
        {"order_id": 7001, "status": 250, "changed_at": "2026-11-25T09:00:00+03:00", "comment": "Зачислен"}
    ]));
    scratch.write(&edited);
    let summary = school.reload().unwrap();
    let reloaded: Vec<_> = summary.status_changes.iter().map(|c| (c.order_id, c.status)).collect();
    assert_eq!(reloaded, [(100, 190), (7001, 250)]);
    assert_eq!(summary.status_changes[1].at, time::macros::datetime!(2026-11-25 09:00 +03:00));
    assert_eq!(summary.pupils, 5);

    let all = school.status_changes_now(0, 100);
    let cursors: Vec<u64> = all.iter().map(|c| c.cursor).collect();
    assert!(cursors.windows(2).all(|w| w[0] < w[1]), "{cursors:?}");
    assert_eq!(all[0], first);
    assert_eq!(school.status_changes_now(first.cursor, 100), all[1..]);
    assert_eq!(school.status_changes_now(0, 2), all[..2]);
    assert!(school.status_changes_now(cursors[2], 100).is_empty());

    // Reloading the same file changes nothing; a status set by hand is not undone by the file's older one.
    assert!(school.reload().unwrap().status_changes.is_empty());
    let by_hand = school.set_status(7001, 240, None).unwrap();
    assert!(school.reload().unwrap().status_changes.is_empty());
    assert_eq!(school.order_status(7001), Some(240));

    drop(school);
    let school = scratch.open();
    let mut expected = all.clone();
    expected.push(by_hand);
    assert_eq!(school.status_changes_now(0, 100), expected, "changes and cursors survive reopening");
    let next = school.set_status(100, 250, None).unwrap();
    assert!(next.cursor > expected.last().unwrap().cursor);
}

#[test]
fn reload_if_changed_reloads_only_a_rewritten_file() {
    let scratch = Scratch::new(&small_data(json!([])));
    let school = scratch.open();
    assert_eq!(school.reload_if_changed().unwrap(), None);
    school.submit(&application(7001)).unwrap();
    scratch.write(&small_data(json!([{"order_id": 7001, "status": 250, "comment": "Зачислен в 1А"}])));
    let summary = school.reload_if_changed().unwrap().expect("the file changed");
    assert_eq!(summary.status_changes.len(), 1);
    assert_eq!(summary.status_changes[0].comment.as_deref(), Some("Зачислен в 1А"));
    assert_eq!(school.reload_if_changed().unwrap(), None);
}

#[test]
fn a_damaged_data_file_is_refused_and_a_reload_keeps_the_old_data() {
    let scratch = Scratch::new(&small_data(json!([])));
    let school = scratch.open();

    std::fs::write(&scratch.data, b"{\"format\": \"edugate-school-data/1\", \"schools\": [").unwrap();
    let error = school.reload().unwrap_err();
    let SchoolError::Data(message) = &error else { panic!("{error:?}") };
    assert!(message.starts_with(&scratch.data.display().to_string()), "{message}");
    assert!(message.contains("not a valid data file") && message.contains("line 1"), "{message}");
    assert!(!error.is_retryable());
    assert_eq!(ids(&school.linked_children_now(&snils(PARENT))), ["P1", "P2"], "the old snapshot stays");
    // A bad file is not re-read until it changes again.
    assert_eq!(school.reload_if_changed().unwrap(), None);

    let mut bad_lesson = small_data(json!([]));
    bad_lesson["pupils"][0]["marks"][1][0] = json!(99);
    let problem = open_error(&scratch, &bad_lesson);
    assert!(
        problem.ends_with("pupils[0] (P1).marks[1]: lesson 99 is not in the journal of class SCH-1:5А"),
        "{problem}"
    );

    let mut bad_snils = small_data(json!([]));
    bad_snils["guardians"][1]["snils"] = json!("123-456-789 65");
    let problem = open_error(&scratch, &bad_snils);
    assert!(problem.ends_with("guardians[1].snils: the SNILS check number is wrong"), "{problem}");
    assert!(!problem.contains("123-456"), "the SNILS is never repeated: {problem}");

    let mut bad_birth = small_data(json!([]));
    bad_birth["pupils"][1]["birth_date"] = json!("2015-02-30");
    let problem = open_error(&scratch, &bad_birth);
    assert!(problem.ends_with("pupils[1] (P2).birth_date: the date has no such day"), "{problem}");

    let mut unknown_pupil = small_data(json!([]));
    unknown_pupil["guardians"][0]["links"][0]["pupil"] = json!("P9");
    assert!(open_error(&scratch, &unknown_pupil).ends_with("guardians[0].links[0].pupil: no pupil has the id \"P9\""));

    let bad_status = small_data(json!([{"order_id": 1, "status": 115}]));
    assert!(
        open_error(&scratch, &bad_status).contains("applications[0] (order 1).status: 115 is not a department status")
    );

    let mut misspelt = small_data(json!([]));
    misspelt["pupils"][0]["birthdate"] = json!("2015-04-17");
    assert!(open_error(&scratch, &misspelt).contains("unknown field `birthdate`"));

    let missing = EmbeddedSchool::open(&scratch.data.with_extension("missing"), &scratch.journal).unwrap_err();
    assert!(matches!(missing, SchoolError::Data(ref m) if m.contains("cannot read")), "{missing:?}");
}

/// Writes `data` and returns the message of the `Data` error opening it gives.
fn open_error(scratch: &Scratch, data: &Value) -> String {
    scratch.write(data);
    match EmbeddedSchool::open(&scratch.data, &scratch.journal) {
        Err(SchoolError::Data(message)) => message,
        other => panic!("expected a data error, got {other:?}"),
    }
}

#[test]
fn a_torn_journal_line_is_cut_and_a_damaged_one_refused() {
    let scratch = Scratch::new(&small_data(json!([])));
    {
        let school = scratch.open();
        school.submit(&application(7001)).unwrap();
    }
    let mut journal = std::fs::OpenOptions::new().append(true).open(&scratch.journal).unwrap();
    journal.write_all(b"{\"kind\":\"status\",\"order_id\":7001,\"at\":\"2026-11").unwrap();
    drop(journal);
    let school = scratch.open();
    let change = school.set_status(7001, 120, None).unwrap();
    assert_eq!(change.cursor, 2, "the torn line was never acknowledged, so its number is used again");
    drop(school);

    let text = std::fs::read_to_string(&scratch.journal).unwrap();
    let damaged = text.replacen("\"kind\":\"submitted\"", "\"kind\":\"submited\"", 1);
    std::fs::write(&scratch.journal, damaged).unwrap();
    let error = EmbeddedSchool::open(&scratch.data, &scratch.journal).unwrap_err();
    let SchoolError::Data(message) = error else { panic!() };
    assert!(message.contains("journal.jsonl: line 1: not a journal record"), "{message}");
}

#[test]
fn logs_never_name_people() {
    let buffer = Arc::new(Mutex::new(Vec::new()));
    let writer = {
        let buffer = buffer.clone();
        move || LogWriter(buffer.clone())
    };
    let subscriber = tracing_subscriber::fmt().with_max_level(tracing::Level::TRACE).with_writer(writer).finish();
    tracing::subscriber::with_default(subscriber, || {
        let scratch = Scratch::new(&data_with_order_100());
        let school = scratch.open();
        school.submit(&application(7001)).unwrap();
        school.submit(&application(7001)).unwrap();
        let mut refused = application(7002);
        refused.grade = 12;
        school.submit(&refused).unwrap();
        school.set_status(7001, 250, Some("Зачислен")).unwrap();
        let _ = school.linked_children_now(&snils(PARENT));
        std::fs::write(&scratch.data, b"{").unwrap();
        let _ = school.reload();
    });
    let logs = String::from_utf8(buffer.lock().unwrap().clone()).unwrap();
    assert!(logs.contains("application registered"), "{logs}");
    for secret in ["112-233-445", "11223344595", "Иванов", "Елена", "Глеб", "2020-03-15"] {
        assert!(!logs.contains(secret), "{secret} in the logs:\n{logs}");
    }
}

/// A log sink for [`logs_never_name_people`].
struct LogWriter(Arc<Mutex<Vec<u8>>>);

impl Write for LogWriter {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The shipped demo data file.
fn demo_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(fixtures::DEMO_DATA_PATH)
}

#[tokio::test]
async fn the_demo_data_loads_with_its_documented_fixtures() {
    let size = std::fs::metadata(demo_path()).expect("data/school-demo.json is shipped").len();
    assert!(size < 8 << 20, "the demo data is {size} bytes");
    let dir = tempfile::tempdir().unwrap();
    let school = EmbeddedSchool::open(&demo_path(), &dir.path().join("journal.jsonl")).unwrap();
    let pupils = school.pupil_count();
    assert!((550..=650).contains(&pupils), "{pupils} pupils");

    let children = school.linked_children(&snils(fixtures::PARENT_WITH_CONSENT)).await.unwrap();
    assert_eq!(ids(&children), [fixtures::CHILD_ANNA, fixtures::CHILD_MIKHAIL]);
    let names: Vec<_> = children.iter().map(|c| (c.surname.as_str(), c.name.as_str(), c.class_name.as_str())).collect();
    assert_eq!(names, [("Иванова", "Анна", "5А"), ("Иванов", "Михаил", "8Б")]);
    assert_eq!(children[0].school.code, fixtures::SCHOOL_1);
    assert_eq!(children[0].school.oktmo, fixtures::OKTMO_CITY);
    assert_eq!(children[0].birth_date, date!(2015 - 04 - 17));
    for nobody in [fixtures::PARENT_WITHOUT_CONSENT, fixtures::PARENT_CONSENT_WITHDRAWN, fixtures::UNKNOWN_SNILS] {
        assert!(school.linked_children(&snils(nobody)).await.unwrap().is_empty(), "{nobody}");
    }

    for child in &children {
        let marks = school.marks(&child.id, fixtures::DEMO_TERM_FROM, fixtures::DEMO_TERM_TO).await.unwrap();
        assert!(marks.subjects.len() >= 10, "{}: {} subjects", child.id, marks.subjects.len());
        let maths = marks.subjects.iter().find(|s| s.subject == "Математика" || s.subject == "Алгебра").unwrap();
        assert!(maths.lessons.len() >= 5 && maths.average_text().is_some());
        assert_eq!(maths.terms.len(), 1);
        assert!(maths.lessons.iter().all(|m| (1..=3).contains(&m.weight) && m.topic.is_some()));
    }
    let nikita =
        school.marks_now(&PupilId(fixtures::CHILD_NIKITA.into()), fixtures::DEMO_TERM_FROM, fixtures::DEMO_TERM_TO);
    assert!(!nikita.unwrap().subjects.is_empty());

    assert_eq!(school.order_status(fixtures::ORDER_ENROLLED), Some(250));
    assert_eq!(school.order_status(fixtures::ORDER_PLACE_OFFERED), Some(190));
    assert_eq!(school.order_status(fixtures::ORDER_UNDER_REVIEW), Some(120));
    assert_eq!(school.order_status(fixtures::FREE_ORDERS_FROM), None);
    assert!(school.status_changes_now(0, 10).is_empty());

    let mut enrollment = application(fixtures::FREE_ORDERS_FROM);
    enrollment.schools = schools(&[fixtures::SCHOOL_1, fixtures::SCHOOL_2]);
    assert_eq!(school.submit(&enrollment).unwrap(), SubmitOutcome::Registered { status: 110 });
}

#[test]
fn the_demo_data_is_reproducible_from_its_seed() {
    let dir = tempfile::tempdir().unwrap();
    let fresh = dir.path().join("school-demo.json");
    generate::generate_demo_to(&fresh).unwrap();
    let shipped = std::fs::read(demo_path()).unwrap();
    assert!(
        std::fs::read(&fresh).unwrap() == shipped,
        "data/school-demo.json differs from what its seed generates; regenerate it with `make school-data`"
    );
}

#[test]
fn generated_data_of_any_size_loads() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("small.json");
    generate::generate_to(&path, 7, 2, 30, date!(2027 - 01 - 12), date!(2027 - 03 - 20)).unwrap();
    let school = EmbeddedSchool::open(&path, &dir.path().join("journal.jsonl")).unwrap();
    assert_eq!(school.pupil_count(), 30 + 30);
    assert_eq!(ids(&school.linked_children_now(&snils(fixtures::PARENT_WITH_CONSENT))).len(), 2);
    let marks =
        school.marks_now(&PupilId(fixtures::CHILD_ANNA.into()), date!(2027 - 01 - 01), date!(2027 - 03 - 31)).unwrap();
    assert!(marks.subjects.iter().all(|s| s.terms.iter().all(|(term, _)| *term == 3)), "January to March is term 3");

    let value = generate::generate(7, 1, 10, date!(2026 - 09 - 01), date!(2026 - 09 - 30));
    assert_eq!(value["format"], "edugate-school-data/1");
    assert_eq!(value["schools"].as_array().unwrap().len(), 1);
    let again = generate::generate(7, 1, 10, date!(2026 - 09 - 01), date!(2026 - 09 - 30));
    assert_eq!(value, again, "the same seed gives the same data");
    assert_ne!(value, generate::generate(8, 1, 10, date!(2026 - 09 - 01), date!(2026 - 09 - 30)));
}

#[test]
fn a_term_lookup_costs_microseconds() {
    let dir = tempfile::tempdir().unwrap();
    let school = EmbeddedSchool::open(&demo_path(), &dir.path().join("journal.jsonl")).unwrap();
    let parent = snils(fixtures::PARENT_WITH_CONSENT);
    let rounds = 2_000;
    let started = Instant::now();
    let mut marks = 0;
    for _ in 0..rounds {
        for child in school.linked_children_now(&parent) {
            let found = school.marks_now(&child.id, fixtures::DEMO_TERM_FROM, fixtures::DEMO_TERM_TO).unwrap();
            marks += found.subjects.iter().map(|s| s.lessons.len()).sum::<usize>();
        }
    }
    let each = started.elapsed() / rounds;
    eprintln!("a lookup of two children's term marks ({} marks) took {each:?}", marks / rounds as usize);
    // Generous even for an unoptimised build on a busy machine; the release build takes a few microseconds.
    assert!(each.as_micros() < 2_000, "{each:?} per lookup");
}
