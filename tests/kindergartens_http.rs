//! The HTTP connector's kindergarten queue against a test-local axum server speaking the `/kindergarten/…`
//! endpoints of `docs/school-api.yaml` over an embedded school system (the demo data): every method round-trips,
//! and failures map to `SchoolError` classes as the other endpoints' do (401 refused, 503 and a dead server
//! retryable, an unreadable answer a protocol error).
#![forbid(unsafe_code)]

// The demo data's well-known records, from the `edugate-school-data` tool.
#[allow(dead_code)]
#[path = "../src/bin/school_data/fixtures.rs"]
mod fixtures;

use std::path::Path;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Path as UrlPath, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use edugate::school::kindergarten::records::{format_timestamp, AdmissionRec, ApplicationRec, SubscriptionRec};
use edugate::school::kindergarten::{
    Adaptation, Address, AdmissionApplication, Applicant, BirthDoc, CancelResult, Child, Coded, DesiredKindergarten,
    EntryParams, Filed, IdentityDoc, KindergartenApplication, QueueAnswer, Status, Subscribed, Subscription,
};
use edugate::school::{EmbeddedSchool, HttpSchool, SchoolError, SchoolSystem};
use serde::Deserialize;
use serde_json::{json, Value};
use time::{Date, Duration as Days, OffsetDateTime};

/// The token the server accepts.
const TOKEN: &str = "kg-token-1";

/// What the server serves and how it misbehaves.
struct Mock {
    /// The system behind the API.
    school: EmbeddedSchool,
    /// Calls still to be answered 503.
    fail_next: AtomicU32,
    /// Calls still to be answered with something that is not JSON.
    garbage_next: AtomicU32,
}

/// Serves `school` on a free port; returns the base URL, the shared state and the server task.
async fn start(school: EmbeddedSchool) -> (String, Arc<Mock>, tokio::task::JoinHandle<()>) {
    let mock = Arc::new(Mock { school, fail_next: AtomicU32::new(0), garbage_next: AtomicU32::new(0) });
    let router = Router::new()
        .route("/api/v1/kindergarten/applications", post(file))
        .route("/api/v1/kindergarten/applications/{id}", get(held_application))
        .route("/api/v1/kindergarten/applications/{id}/queue", get(queue))
        .route("/api/v1/kindergarten/applications/{id}/queue/reasons", get(reasons))
        .route("/api/v1/kindergarten/applications/{id}/cancel", post(cancel))
        .route("/api/v1/kindergarten/applications/{id}/admission", post(admit).get(admission))
        .route("/api/v1/kindergarten/applications/{id}/offer-refusal", post(refuse))
        .route("/api/v1/kindergarten/subscriptions", post(subscribe))
        .route("/api/v1/kindergarten/changes", get(changes))
        .with_state(mock.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}/api/v1", listener.local_addr().unwrap());
    let task = tokio::spawn(async move {
        axum::serve(listener, router).await.unwrap();
    });
    (base, mock, task)
}

/// The answer to give instead of the real one, if the token is wrong or a failure is due.
fn guard(mock: &Mock, headers: &HeaderMap) -> Option<Response> {
    let bearer = headers.get("authorization").and_then(|v| v.to_str().ok());
    if bearer != Some(&format!("Bearer {TOKEN}")) {
        return Some(
            (StatusCode::UNAUTHORIZED, axum::Json(json!({"error": "token", "message": "no"}))).into_response(),
        );
    }
    let take =
        |counter: &AtomicU32| counter.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1)).is_ok();
    if take(&mock.fail_next) {
        return Some((StatusCode::SERVICE_UNAVAILABLE, "busy").into_response());
    }
    if take(&mock.garbage_next) {
        return Some((StatusCode::OK, "<html>proxy</html>").into_response());
    }
    None
}

/// A status as the API writes it.
fn status_json(status: &Status) -> Value {
    json!({"code": status.code, "comment": status.comment, "cancel_allowed": status.cancel_allowed})
}

/// A 400 for a body that is not the documented record.
fn bad_request() -> Response {
    (StatusCode::BAD_REQUEST, axum::Json(json!({"error": "bad_request", "message": "not the documented JSON"})))
        .into_response()
}

async fn file(State(mock): State<Arc<Mock>>, headers: HeaderMap, body: Bytes) -> Response {
    if let Some(answer) = guard(&mock, &headers) {
        return answer;
    }
    let Ok(rec) = serde_json::from_slice::<ApplicationRec>(&body) else { return bad_request() };
    let Ok(app) = rec.to_model() else { return bad_request() };
    let answer = match mock.school.file_kindergarten(&app).unwrap() {
        Filed::Registered { number, status } => {
            json!({"outcome": "registered", "number": number, "status": status_json(&status)})
        }
        Filed::AlreadyFiled(s) => json!({"outcome": "already_filed", "status": status_json(&s)}),
        Filed::Edited(s) => json!({"outcome": "edited", "status": status_json(&s)}),
        Filed::Refused(s) => json!({"outcome": "refused", "status": status_json(&s)}),
    };
    axum::Json(answer).into_response()
}

async fn held_application(State(mock): State<Arc<Mock>>, headers: HeaderMap, UrlPath(id): UrlPath<i64>) -> Response {
    if let Some(answer) = guard(&mock, &headers) {
        return answer;
    }
    match mock.school.kindergarten_application(id) {
        Some(app) => axum::Json(ApplicationRec::of(&app)).into_response(),
        None => (StatusCode::NOT_FOUND, axum::Json(json!({"error": "not_found", "message": "no application"})))
            .into_response(),
    }
}

async fn queue(State(mock): State<Arc<Mock>>, headers: HeaderMap, UrlPath(id): UrlPath<i64>) -> Response {
    if let Some(answer) = guard(&mock, &headers) {
        return answer;
    }
    let answer = match mock.school.kindergarten_queue_position(id) {
        QueueAnswer::Found(p) => json!({"found": {"position": p.position, "total": p.total,
            "without_queue": p.without_queue, "first_queue": p.first_queue, "advantage_queue": p.advantage_queue,
            "relevant_at": format_timestamp(p.relevant_at)}}),
        QueueAnswer::Refused(s) => json!({"refused": status_json(&s)}),
    };
    axum::Json(answer).into_response()
}

/// `?from=…&to=…`.
#[derive(Deserialize)]
struct Period {
    /// First day.
    from: String,
    /// Last day.
    to: String,
}

async fn reasons(
    State(mock): State<Arc<Mock>>,
    headers: HeaderMap,
    UrlPath(id): UrlPath<i64>,
    Query(period): Query<Period>,
) -> Response {
    if let Some(answer) = guard(&mock, &headers) {
        return answer;
    }
    let date = |text: &str| edugate::school::kindergarten::records::parse_date(text).unwrap();
    let answer = match mock.school.kindergarten_queue_reasons(id, date(&period.from), date(&period.to)) {
        QueueAnswer::Found(r) => json!({"found": {"increase_queue": r.increase_queue, "got_a_place": r.got_a_place,
            "increase_benefits": r.increase_benefits}}),
        QueueAnswer::Refused(s) => json!({"refused": status_json(&s)}),
    };
    axum::Json(answer).into_response()
}

async fn cancel(State(mock): State<Arc<Mock>>, headers: HeaderMap, UrlPath(id): UrlPath<i64>, body: Bytes) -> Response {
    if let Some(answer) = guard(&mock, &headers) {
        return answer;
    }
    let Ok(body) = serde_json::from_slice::<Value>(&body) else { return bad_request() };
    let done = mock.school.cancel_kindergarten(id, body["reason"].as_str()).unwrap();
    let result = match done.result {
        CancelResult::Cancelled => "CANCELLED",
        CancelResult::InProgress => "IN_PROGRESS",
        CancelResult::Rejected => "REJECTED",
    };
    axum::Json(json!({"result": result, "comment": done.comment})).into_response()
}

async fn admit(State(mock): State<Arc<Mock>>, headers: HeaderMap, body: Bytes) -> Response {
    if let Some(answer) = guard(&mock, &headers) {
        return answer;
    }
    let Ok(rec) = serde_json::from_slice::<AdmissionRec>(&body) else { return bad_request() };
    let status = mock.school.admit_kindergarten(&rec.to_model().unwrap()).unwrap();
    axum::Json(status_json(&status)).into_response()
}

async fn admission(State(mock): State<Arc<Mock>>, headers: HeaderMap, UrlPath(id): UrlPath<i64>) -> Response {
    if let Some(answer) = guard(&mock, &headers) {
        return answer;
    }
    match mock.school.kindergarten_admission(id) {
        Some(a) => axum::Json(json!({"application": ApplicationRec::of(&a.application),
            "kindergarten": {"code": a.kindergarten.code, "text": a.kindergarten.text}}))
        .into_response(),
        None => (StatusCode::NOT_FOUND, axum::Json(json!({"error": "not_found", "message": "no place offered"})))
            .into_response(),
    }
}

async fn refuse(State(mock): State<Arc<Mock>>, headers: HeaderMap, UrlPath(id): UrlPath<i64>, body: Bytes) -> Response {
    if let Some(answer) = guard(&mock, &headers) {
        return answer;
    }
    let Ok(body) = serde_json::from_slice::<Value>(&body) else { return bad_request() };
    let status = mock
        .school
        .refuse_kindergarten_offer(id, body["kindergarten_code"].as_str(), body["comment"].as_str())
        .unwrap();
    axum::Json(status_json(&status)).into_response()
}

async fn subscribe(State(mock): State<Arc<Mock>>, headers: HeaderMap, body: Bytes) -> Response {
    if let Some(answer) = guard(&mock, &headers) {
        return answer;
    }
    let Ok(rec) = serde_json::from_slice::<SubscriptionRec>(&body) else { return bad_request() };
    let answer = match mock.school.subscribe_kindergarten(&rec.to_model().unwrap()).unwrap() {
        Subscribed::Found { number } => json!({"outcome": "found", "number": number}),
        Subscribed::NotFound(missing) => json!({"outcome": "not_found", "missing": missing}),
        Subscribed::FiledOnPortal(s) => json!({"outcome": "filed_on_portal", "status": status_json(&s)}),
    };
    axum::Json(answer).into_response()
}

/// `?since=…&limit=…`.
#[derive(Deserialize)]
struct Since {
    /// The last cursor seen.
    since: u64,
    /// The most to return.
    limit: usize,
}

async fn changes(State(mock): State<Arc<Mock>>, headers: HeaderMap, Query(q): Query<Since>) -> Response {
    if let Some(answer) = guard(&mock, &headers) {
        return answer;
    }
    let changes: Vec<Value> = mock
        .school
        .kindergarten_changes(q.since, q.limit)
        .iter()
        .map(|c| {
            json!({"cursor": c.cursor, "order_id": c.order_id, "status": status_json(&c.status),
                   "at": format_timestamp(c.at), "filed_on_portal": c.filed_on_portal})
        })
        .collect();
    axum::Json(json!({ "changes": changes })).into_response()
}

/// The demo data's school system in a scratch directory.
fn demo_school() -> (EmbeddedSchool, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join(fixtures::DEMO_DATA_PATH);
    (EmbeddedSchool::open(&data, &dir.path().join("journal.jsonl")).unwrap(), dir)
}

/// A day `days` from today.
fn day(days: i64) -> Date {
    OffsetDateTime::now_utc().date() + Days::days(days)
}

/// An application for the demo's first two kindergartens.
fn application(order_id: i64) -> KindergartenApplication {
    let coded = |code: &str, text: &str| Coded { code: code.into(), text: text.into() };
    KindergartenApplication {
        order_id,
        oktmo: fixtures::OKTMO_CITY.into(),
        service_type: "-10002202019".into(),
        filed_at: None,
        applicant: Applicant {
            surname: "Волкова".into(),
            name: "Елена".into(),
            middle_name: None,
            phone: "+79005550101".into(),
            email: "volkova@example.ru".into(),
            is_parent: true,
            representative: None,
            snils: None,
        },
        identity: IdentityDoc {
            kind: coded("1", "Паспорт гражданина РФ"),
            series: Some("4600".into()),
            number: "765432".into(),
            issue_date: day(-3000),
            issuer_code: None,
            issued: Some("УФМС".into()),
        },
        child: Child {
            surname: "Волков".into(),
            name: format!("Ребёнок{order_id}"),
            middle_name: None,
            birth_date: day(-700),
            birth_doc: Some(BirthDoc::Act { act_number: format!("77{order_id}"), act_date: day(-690), issued: None }),
        },
        address: Address {
            full: "г. Красногорск, ул. Мира, д. 3".into(),
            street: coded("2f3a1b2c-0000-4000-8000-000000000001", "ул. Мира"),
            ..Address::default()
        },
        entry: EntryParams {
            entry_date: day(200),
            language: coded("3", "русский"),
            schedule: coded("1", "полного дня"),
            full_day_group: Some(true),
            other_day_group: Some(false),
        },
        adaptation: Adaptation {
            group: coded("1", "общеразвивающая"),
            group_type: None,
            education_group: None,
            general_group: Some(true),
            care_group: None,
            special_care: None,
        },
        medical: None,
        kindergartens: vec![
            DesiredKindergarten { code: fixtures::KINDERGARTEN_1.into(), name: "Солнышко".into(), priority: 1 },
            DesiredKindergarten { code: fixtures::KINDERGARTEN_2.into(), name: "Ромашка".into(), priority: 2 },
        ],
        allow_offer_other: Some(true),
        siblings: Vec::new(),
        benefit: None,
        stay_right_files: Vec::new(),
    }
}

#[tokio::test]
async fn every_method_round_trips_through_the_api() {
    let (school, _dir) = demo_school();
    let (base, mock, server) = start(school).await;
    let http = HttpSchool::new(&base, TOKEN, Duration::from_secs(5)).unwrap();
    let kg = http.kindergartens().expect("the connector offers the queue");
    let order = fixtures::FREE_ORDERS_FROM + 500;
    let app = application(order);

    let Filed::Registered { number, status } = kg.file(&app).await.unwrap() else { panic!("not registered") };
    assert_eq!(status.code, 110);
    assert!(status.comment.unwrap().contains(&number));
    assert!(matches!(kg.file(&app).await.unwrap(), Filed::AlreadyFiled(s) if s.code == 110));
    let mut unknown = application(order + 1);
    unknown.kindergartens[0].code = fixtures::KINDERGARTEN_UNKNOWN.into();
    assert!(matches!(kg.file(&unknown).await.unwrap(), Filed::Refused(s) if s.code == 150));

    // The whole application comes back as filed (the filing time is the system's).
    let mut held = kg.application(order).await.unwrap().expect("held");
    assert!(held.filed_at.is_some());
    held.filed_at = None;
    assert!(held == app, "the application changed on its way: {held:?}");
    assert!(kg.application(order + 99).await.unwrap().is_none());

    let QueueAnswer::Found(position) = kg.queue_position(order).await.unwrap() else { panic!() };
    assert_eq!(position.position, position.total);
    assert!(
        matches!(kg.queue_reasons(order, day(-1), day(0)).await.unwrap(), QueueAnswer::Refused(s) if s.code == 150)
    );

    // A place offered: the admission form, consent; then the feed.
    assert!(kg.admission(order).await.unwrap().is_none());
    mock.school.set_kindergarten_status(order, 190, Some("Направление № 3")).unwrap();
    let admission = kg.admission(order).await.unwrap().expect("offered");
    assert_eq!(admission.kindergarten.code, fixtures::KINDERGARTEN_1);
    let consent = AdmissionApplication {
        order_id: order,
        service_type: app.service_type.clone(),
        applicant: app.applicant.clone(),
        identity: app.identity.clone(),
        second_parent: None,
        child: app.child.clone(),
        address: app.address.clone(),
        entry: app.entry.clone(),
        adaptation: app.adaptation.clone(),
        medical: None,
        kindergarten_code: fixtures::KINDERGARTEN_1.into(),
        doc_list_review: true,
        license_charter: true,
    };
    assert_eq!(kg.admit(&consent).await.unwrap().code, 230);
    assert_eq!(kg.refuse_offer(order, None, Some("передумали")).await.unwrap().code, 180);
    let changes = kg.status_changes(0, 10).await.unwrap();
    assert_eq!(changes.iter().map(|c| c.status.code).collect::<Vec<_>>(), [190, 230]);
    assert!(changes.iter().all(|c| c.order_id == order && c.filed_on_portal));
    assert_eq!(kg.status_changes(changes[0].cursor, 10).await.unwrap().len(), 1);

    // Cancel; a subscription to the demo's application filed in person.
    let other = application(order + 2);
    kg.file(&other).await.unwrap();
    let cancelled = kg.cancel(order + 2, Some("переезд")).await.unwrap();
    assert_eq!(cancelled.result, CancelResult::Cancelled);
    assert_eq!(kg.cancel(order + 77, None).await.unwrap().result, CancelResult::Rejected);
    let darya = Child {
        surname: fixtures::KG_CHILD_SURNAME.into(),
        name: fixtures::KG_CHILD_NAME.into(),
        middle_name: None,
        birth_date: fixtures::KG_CHILD_BIRTH,
        birth_doc: Some(BirthDoc::Russian {
            series: fixtures::KG_CHILD_CERT_SERIES.into(),
            number: fixtures::KG_CHILD_CERT_NUMBER.into(),
            issue_date: fixtures::KG_CHILD_BIRTH,
            act_number: None,
            act_date: None,
            issued: "ЗАГС".into(),
        }),
    };
    let subscription = Subscription {
        order_id: order + 3,
        service_type: app.service_type.clone(),
        applicant: app.applicant.clone(),
        identity: app.identity.clone(),
        child: darya,
    };
    let found = kg.subscribe(&subscription).await.unwrap();
    assert_eq!(found, Subscribed::Found { number: fixtures::KG_NUMBER_IN_PERSON.into() });
    let last = kg.status_changes(0, 100).await.unwrap().pop().unwrap();
    assert_eq!((last.order_id, last.status.code, last.filed_on_portal), (order + 3, 140, false));
    server.abort();
}

#[tokio::test]
async fn failures_map_to_error_classes() {
    let (school, _dir) = demo_school();
    let (base, mock, server) = start(school).await;
    let wrong = HttpSchool::new(&base, "wrong", Duration::from_secs(5)).unwrap();
    let error = wrong.kindergartens().unwrap().queue_position(1).await.unwrap_err();
    assert!(matches!(error, SchoolError::Rejected(ref m) if m.contains("401")), "{error}");

    let http = HttpSchool::new(&base, TOKEN, Duration::from_secs(5)).unwrap();
    let kg = http.kindergartens().unwrap();
    mock.fail_next.store(1, Ordering::SeqCst);
    let error = kg.file(&application(1)).await.unwrap_err();
    assert!(matches!(error, SchoolError::Unavailable(_)) && error.is_retryable(), "{error}");
    mock.garbage_next.store(1, Ordering::SeqCst);
    let error = kg.status_changes(0, 10).await.unwrap_err();
    assert!(matches!(error, SchoolError::Protocol(_)), "{error}");
    // Nothing was filed by the failed call; the next one is.
    assert!(matches!(kg.file(&application(1)).await.unwrap(), Filed::Registered { .. }));

    server.abort();
    let _ = server.await;
    let error = kg.queue_position(1).await.unwrap_err();
    assert!(matches!(error, SchoolError::Unavailable(_)), "{error}");
}
