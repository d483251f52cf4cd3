//! The HTTP connector against a mock school server: a test-local axum server speaking the API of
//! `docs/school-api.yaml` over an embedded school system, checking the bearer token, and failing on demand (the next
//! N calls 503, answers that are not JSON, answers too slow for the connector, or down entirely).
#![forbid(unsafe_code)]

// The demo data's well-known records, from the `edugate-school-data` tool.
#[allow(dead_code)]
#[path = "../src/bin/school_data/fixtures.rs"]
mod fixtures;

use std::net::SocketAddr;
use std::path::Path;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Path as UrlPath, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use edugate::school::kindergarten::CancelResult;
use edugate::school::{
    DesiredSchool, EmbeddedSchool, EnrollmentApplication, HttpSchool, Marks, Pupil, PupilId, SchoolError, SchoolSystem,
    Snils, StatusChange, SubmitOutcome,
};
use edugate::services::enrollment;
use serde_json::{json, Value};
use time::macros::date;

/// The token the mock server accepts.
const TOKEN: &str = "school-token-1";

/// What the mock server serves and how it misbehaves.
struct MockState {
    /// The school system behind the API.
    school: EmbeddedSchool,
    /// Calls still to be answered 503.
    fail_next: AtomicU32,
    /// Calls still to be answered with something that is not JSON.
    garbage_next: AtomicU32,
    /// How long to wait, after doing the work, before answering (milliseconds).
    delay_ms: AtomicU64,
    /// `POST /applications` calls that reached the school system.
    submissions: AtomicU32,
}

/// The mock server: runs on its own thread and runtime, so that stopping it closes every connection at once.
struct MockServer {
    /// Where it listens (the same address after a restart).
    addr: SocketAddr,
    /// Shared with the handlers.
    state: Arc<MockState>,
    /// Stops the running server.
    stop: Option<(tokio::sync::oneshot::Sender<()>, std::thread::JoinHandle<()>)>,
}

impl MockServer {
    /// Serves `school` on a free local port.
    fn start(school: EmbeddedSchool) -> MockServer {
        let state = Arc::new(MockState {
            school,
            fail_next: AtomicU32::new(0),
            garbage_next: AtomicU32::new(0),
            delay_ms: AtomicU64::new(0),
            submissions: AtomicU32::new(0),
        });
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let mut server = MockServer { addr: listener.local_addr().unwrap(), state, stop: None };
        server.serve(listener);
        server
    }

    /// The API's base URL.
    fn base_url(&self) -> String {
        format!("http://{}/api/v1", self.addr)
    }

    /// Runs the server on `listener` in a thread of its own.
    fn serve(&mut self, listener: std::net::TcpListener) {
        listener.set_nonblocking(true).unwrap();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let router = router(self.state.clone());
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            runtime.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).unwrap();
                tokio::select! {
                    _ = axum::serve(listener, router) => {}
                    _ = stopped => {}
                }
            });
            // Dropping the runtime drops every connection task: clients see their connections closed.
        });
        self.stop = Some((stop, thread));
    }

    /// Stops the server: connections are closed and new ones refused.
    fn down(&mut self) {
        let (stop, thread) = self.stop.take().expect("the server is running");
        let _ = stop.send(());
        thread.join().unwrap();
    }

    /// Starts the server again on the same address.
    fn up(&mut self) {
        let listener = std::net::TcpListener::bind(self.addr).unwrap();
        self.serve(listener);
    }
}

impl Drop for MockServer {
    fn drop(&mut self) {
        if self.stop.is_some() {
            self.down();
        }
    }
}

/// The API's routes.
fn router(state: Arc<MockState>) -> Router {
    Router::new()
        .route("/api/v1/guardians/{snils}/children", get(children))
        .route("/api/v1/pupils/{id}/marks", get(marks))
        .route("/api/v1/applications", post(submit))
        .route("/api/v1/applications/changes", get(changes))
        .route("/api/v1/applications/{order_id}", get(held))
        .route("/api/v1/applications/{order_id}/cancel", post(cancel))
        .with_state(state)
}

/// An error answer as the API documents it.
fn error(status: StatusCode, code: &str, message: &str) -> Response {
    (status, axum::Json(json!({"error": code, "message": message}))).into_response()
}

/// Checks the token and plays the failures asked for; `Some` is the answer to give instead of serving.
fn guard(state: &MockState, headers: &HeaderMap) -> Option<Response> {
    let expected = format!("Bearer {TOKEN}");
    if headers.get("authorization").and_then(|v| v.to_str().ok()) != Some(expected.as_str()) {
        return Some(error(StatusCode::UNAUTHORIZED, "unauthorized", "the bearer token is missing or wrong"));
    }
    if take_one(&state.fail_next) {
        return Some(error(StatusCode::SERVICE_UNAVAILABLE, "unavailable", "maintenance"));
    }
    if take_one(&state.garbage_next) {
        return Some((StatusCode::OK, "<html><body>502 Bad Gateway</body></html>").into_response());
    }
    None
}

/// Decrements `counter` if it is above zero; whether it was.
fn take_one(counter: &AtomicU32) -> bool {
    counter.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1)).is_ok()
}

/// Waits the delay asked for (after the work is done, as a slow network would).
async fn delay(state: &MockState) {
    let ms = state.delay_ms.load(Ordering::SeqCst);
    if ms > 0 {
        tokio::time::sleep(Duration::from_millis(ms)).await;
    }
}

/// `GET /guardians/{snils}/children`.
async fn children(
    State(state): State<Arc<MockState>>,
    headers: HeaderMap,
    UrlPath(snils): UrlPath<String>,
) -> Response {
    if let Some(answer) = guard(&state, &headers) {
        return answer;
    }
    if snils.len() != 11 {
        return error(StatusCode::BAD_REQUEST, "bad_snils", "the SNILS is written as 11 digits");
    }
    let Ok(snils) = Snils::parse(&snils) else {
        return error(StatusCode::BAD_REQUEST, "bad_snils", "the SNILS check number is wrong");
    };
    let children: Vec<Value> = state.school.linked_children_now(&snils).iter().map(child_json).collect();
    delay(&state).await;
    axum::Json(json!({ "children": children })).into_response()
}

/// A child as the API writes it.
fn child_json(pupil: &Pupil) -> Value {
    json!({
        "id": pupil.id.0,
        "surname": pupil.surname,
        "name": pupil.name,
        "middleName": pupil.middle_name,
        "birthDate": pupil.birth_date.to_string(),
        "school": {"code": pupil.school.code, "name": pupil.school.name, "oktmo": pupil.school.oktmo},
        "className": pupil.class_name,
    })
}

/// The query of `GET /pupils/{id}/marks`.
#[derive(serde::Deserialize)]
struct Period {
    /// First day.
    from: String,
    /// Last day.
    to: String,
}

/// `GET /pupils/{id}/marks?from=&to=`.
async fn marks(
    State(state): State<Arc<MockState>>,
    headers: HeaderMap,
    UrlPath(id): UrlPath<String>,
    Query(period): Query<Period>,
) -> Response {
    if let Some(answer) = guard(&state, &headers) {
        return answer;
    }
    let format = time::macros::format_description!("[year]-[month]-[day]");
    let (Ok(from), Ok(to)) = (time::Date::parse(&period.from, format), time::Date::parse(&period.to, format)) else {
        return error(StatusCode::BAD_REQUEST, "bad_period", "from and to are dates, YYYY-MM-DD");
    };
    let answer = match state.school.marks_now(&PupilId(id), from, to) {
        Ok(marks) => axum::Json(marks_json(&marks)).into_response(),
        Err(SchoolError::Rejected(message)) if message.contains("no pupil") => {
            error(StatusCode::NOT_FOUND, "not_found", &message)
        }
        Err(e) => error(StatusCode::BAD_REQUEST, "bad_request", &e.to_string()),
    };
    delay(&state).await;
    answer
}

/// Marks as the API writes them.
fn marks_json(marks: &Marks) -> Value {
    let subjects: Vec<Value> = marks
        .subjects
        .iter()
        .map(|subject| {
            let lessons: Vec<Value> = subject
                .lessons
                .iter()
                .map(|mark| {
                    json!({"date": mark.date.to_string(), "value": mark.value.as_str(), "weight": mark.weight,
                           "workType": mark.work_type, "topic": mark.topic})
                })
                .collect();
            let terms: Vec<Value> =
                subject.terms.iter().map(|(term, value)| json!({"term": term, "value": value.as_str()})).collect();
            json!({"subject": subject.subject, "lessons": lessons, "terms": terms,
                   "year": subject.year.map(|value| value.as_str())})
        })
        .collect();
    json!({"pupilId": marks.pupil.0, "from": marks.from.to_string(), "to": marks.to.to_string(), "subjects": subjects})
}

/// `POST /applications`.
async fn submit(State(state): State<Arc<MockState>>, headers: HeaderMap, body: Bytes) -> Response {
    if let Some(answer) = guard(&state, &headers) {
        return answer;
    }
    let Some(application) = application_of(&body) else {
        return error(StatusCode::BAD_REQUEST, "bad_request", "the body is not an application");
    };
    state.submissions.fetch_add(1, Ordering::SeqCst);
    let order_id = application.order_id;
    let answer = match state.school.submit_application(&application).await {
        Ok(SubmitOutcome::Registered { status }) => {
            (StatusCode::CREATED, axum::Json(json!({"orderId": order_id, "status": status}))).into_response()
        }
        Ok(SubmitOutcome::ForReview { status, note }) => {
            let body = json!({"orderId": order_id, "status": status, "review": note});
            (StatusCode::CREATED, axum::Json(body)).into_response()
        }
        Ok(SubmitOutcome::AlreadySubmitted { status }) => {
            (StatusCode::OK, axum::Json(json!({"orderId": order_id, "status": status}))).into_response()
        }
        Ok(SubmitOutcome::Refused { status, reason }) => {
            let body = json!({"orderId": order_id, "status": status, "reason": reason});
            (StatusCode::UNPROCESSABLE_ENTITY, axum::Json(body)).into_response()
        }
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, "internal", &e.to_string()),
    };
    delay(&state).await;
    answer
}

/// An application from the API's JSON, read as the connector reads the school system's answers.
fn application_of(body: &[u8]) -> Option<EnrollmentApplication> {
    let order_id = serde_json::from_slice::<Value>(body).ok()?["orderId"].as_i64()?;
    edugate::school::http::decode_application(200, body, order_id).ok().flatten()
}

/// `GET /applications/{orderId}`.
async fn held(State(state): State<Arc<MockState>>, headers: HeaderMap, UrlPath(order_id): UrlPath<i64>) -> Response {
    if let Some(answer) = guard(&state, &headers) {
        return answer;
    }
    match state.school.application(order_id) {
        Some(application) => (
            StatusCode::OK,
            [("content-type", "application/json")],
            edugate::school::http::application_json(&application),
        )
            .into_response(),
        None => error(StatusCode::NOT_FOUND, "not_found", "no such application"),
    }
}

/// `POST /applications/{orderId}/cancel`.
async fn cancel(
    State(state): State<Arc<MockState>>,
    headers: HeaderMap,
    UrlPath(order_id): UrlPath<i64>,
    body: Bytes,
) -> Response {
    if let Some(answer) = guard(&state, &headers) {
        return answer;
    }
    let reason = serde_json::from_slice::<Value>(&body).ok().and_then(|b| b["reason"].as_str().map(str::to_owned));
    match state.school.cancel(order_id, reason.as_deref()) {
        Ok(cancelled) => {
            let result = match cancelled.result {
                CancelResult::Cancelled => "CANCELLED",
                CancelResult::InProgress => "IN_PROGRESS",
                CancelResult::Rejected => "REJECTED",
            };
            axum::Json(json!({"orderId": order_id, "result": result, "comment": cancelled.comment})).into_response()
        }
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, "internal", &e.to_string()),
    }
}

/// The query of `GET /applications/changes`.
#[derive(serde::Deserialize)]
struct Since {
    /// The last cursor seen.
    since: u64,
    /// At most this many.
    limit: usize,
}

/// `GET /applications/changes?since=&limit=`.
async fn changes(State(state): State<Arc<MockState>>, headers: HeaderMap, Query(query): Query<Since>) -> Response {
    if let Some(answer) = guard(&state, &headers) {
        return answer;
    }
    let changes: Vec<Value> =
        state.school.status_changes_now(query.since, query.limit).iter().map(change_json).collect();
    delay(&state).await;
    axum::Json(json!({ "changes": changes })).into_response()
}

/// A status change as the API writes it.
fn change_json(change: &StatusChange) -> Value {
    let at = change.at.format(&time::format_description::well_known::Rfc3339).unwrap();
    json!({"cursor": change.cursor, "orderId": change.order_id, "status": change.status, "at": at, "comment": change.comment})
}

/// An embedded school over the shipped demo data with a fresh journal, and the directory holding the journal.
fn demo_school() -> (EmbeddedSchool, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join(fixtures::DEMO_DATA_PATH);
    (EmbeddedSchool::open(&data, &dir.path().join("journal.jsonl")).unwrap(), dir)
}

/// A connector to `server` with the right token.
fn connector(server: &MockServer) -> HttpSchool {
    HttpSchool::new(&server.base_url(), TOKEN, Duration::from_secs(5)).unwrap()
}

/// A SNILS from its written form.
fn snils(text: &str) -> Snils {
    Snils::parse(text).unwrap()
}

/// A grade-1 application to the demo data's first school: the whole 1.1.0 sample (documents, address, siblings,
/// benefit) for this family.
fn application(order_id: i64) -> EnrollmentApplication {
    let sample = enrollment::v110::sample_request(order_id, "2020-05-20");
    let Ok(enrollment::v110::Request::Application(mut a)) = enrollment::parse_request(&sample, date!(2026 - 12 - 01))
    else {
        panic!("the sample reads")
    };
    (a.oktmo, a.applicant_snils) = (fixtures::OKTMO_CITY.into(), snils(fixtures::PARENT_WITH_CONSENT));
    a.applicant.snils = Some(snils(fixtures::PARENT_WITH_CONSENT));
    (a.applicant.surname, a.applicant.name) = ("Иванова".into(), "Елена".into());
    (a.child.surname, a.child.name) = ("Иванова".into(), "Варвара".into());
    a.schools = vec![desired(fixtures::SCHOOL_1, 1), desired(fixtures::SCHOOL_2, 2)];
    *a
}

/// A desired school.
fn desired(code: &str, priority: u8) -> DesiredSchool {
    DesiredSchool { code: code.into(), name: String::new(), priority }
}

#[tokio::test]
async fn every_endpoint_answers_what_the_school_holds() {
    let (school, _dir) = demo_school();
    let server = MockServer::start(school.clone());
    let http = connector(&server);
    assert_eq!(http.name(), "127.0.0.1");

    let parent = snils(fixtures::PARENT_WITH_CONSENT);
    let children = http.linked_children(&parent).await.unwrap();
    assert_eq!(children, school.linked_children_now(&parent));
    assert_eq!(children.len(), 2);
    for nobody in [fixtures::PARENT_WITHOUT_CONSENT, fixtures::PARENT_CONSENT_WITHDRAWN, fixtures::UNKNOWN_SNILS] {
        assert!(http.linked_children(&snils(nobody)).await.unwrap().is_empty());
    }

    for child in &children {
        let over_http = http.marks(&child.id, fixtures::DEMO_TERM_FROM, fixtures::DEMO_TERM_TO).await.unwrap();
        let embedded = school.marks_now(&child.id, fixtures::DEMO_TERM_FROM, fixtures::DEMO_TERM_TO).unwrap();
        assert_eq!(over_http, embedded, "the wire format carries every mark, weight, topic and term mark");
    }
    let september = http.marks(&children[0].id, date!(2026 - 09 - 01), date!(2026 - 09 - 15)).await.unwrap();
    assert!(september.subjects.iter().flat_map(|s| &s.lessons).all(|m| m.date <= date!(2026 - 09 - 15)));

    let order = application(fixtures::FREE_ORDERS_FROM);
    assert_eq!(http.submit_application(&order).await.unwrap(), SubmitOutcome::Registered { status: 110 });
    assert_eq!(school.application(order.order_id), Some(order.clone()), "the application arrives whole");
    let mut refused = application(fixtures::FREE_ORDERS_FROM + 1);
    refused.schools = vec![desired("SCH-404", 1)];
    let outcome = http.submit_application(&refused).await.unwrap();
    assert_eq!(outcome, SubmitOutcome::Refused { status: 150, reason: "школа с кодом SCH-404 не найдена".into() });

    let first = school.set_status(order.order_id, 120, Some("Принято к рассмотрению")).unwrap();
    let second = school.set_status(order.order_id, 250, Some("Зачислен в 1А")).unwrap();
    assert_eq!(http.status_changes(0, 10).await.unwrap(), [first.clone(), second.clone()]);
    assert_eq!(http.status_changes(first.cursor, 10).await.unwrap(), std::slice::from_ref(&second));
    assert_eq!(http.status_changes(0, 1).await.unwrap(), [first]);
    assert!(http.status_changes(second.cursor, 10).await.unwrap().is_empty());
}

/// The application as held and its withdrawal over the API; a registration for review carries its note.
#[tokio::test]
async fn applications_are_read_back_and_withdrawn_over_http() {
    let (school, _dir) = demo_school();
    let server = MockServer::start(school.clone());
    let http = connector(&server);
    let order = application(fixtures::FREE_ORDERS_FROM + 20);
    assert_eq!(http.submit_application(&order).await.unwrap(), SubmitOutcome::Registered { status: 110 });
    assert_eq!(http.enrollment_application(order.order_id).await.unwrap(), Some(order.clone()), "whole, both ways");
    assert_eq!(http.enrollment_application(fixtures::FREE_ORDERS_FROM + 21).await.unwrap(), None);
    let cancelled = http.cancel_application(order.order_id, Some("переезд")).await.unwrap();
    assert_eq!(cancelled.result, CancelResult::Cancelled);
    assert_eq!(school.order_status(order.order_id), Some(150));

    let mut young = application(fixtures::FREE_ORDERS_FROM + 22);
    young.child.birth_date = date!(2022 - 06 - 01);
    let SubmitOutcome::ForReview { status: 110, note } = http.submit_application(&young).await.unwrap() else {
        panic!("a registration for review")
    };
    assert!(note.contains("разрешения учредителя"), "{note}");

    // What a school system answers is checked.
    let error = edugate::school::http::decode_cancel(200, br#"{"orderId": 1, "result": "MAYBE"}"#, 1).unwrap_err();
    assert!(matches!(error, SchoolError::Protocol(_)), "{error}");
    let error = edugate::school::http::decode_application(200, br#"{"orderId": 2}"#, 1).unwrap_err();
    assert!(matches!(error, SchoolError::Protocol(_)), "{error}");
}

#[tokio::test]
async fn the_same_order_twice_is_submitted_once_and_answered_alike() {
    let (school, _dir) = demo_school();
    let server = MockServer::start(school.clone());
    let http = connector(&server);
    let order = application(fixtures::FREE_ORDERS_FROM + 7);
    assert_eq!(http.submit_application(&order).await.unwrap(), SubmitOutcome::Registered { status: 110 });
    assert_eq!(http.submit_application(&order).await.unwrap(), SubmitOutcome::AlreadySubmitted { status: 110 });
    school.set_status(order.order_id, 190, None).unwrap();
    assert_eq!(http.submit_application(&order).await.unwrap(), SubmitOutcome::AlreadySubmitted { status: 190 });
    assert_eq!(school.submitted_orders(), [order.order_id]);
    assert_eq!(server.state.submissions.load(Ordering::SeqCst), 3);

    // An order the school held before the gateway existed.
    let known = application(fixtures::ORDER_PLACE_OFFERED);
    assert_eq!(http.submit_application(&known).await.unwrap(), SubmitOutcome::AlreadySubmitted { status: 190 });
}

#[tokio::test]
async fn a_refused_token_is_rejected_with_a_clear_message() {
    let (school, _dir) = demo_school();
    let server = MockServer::start(school.clone());
    let wrong = HttpSchool::new(&server.base_url(), "stolen-token", Duration::from_secs(5)).unwrap();
    let error = wrong.linked_children(&snils(fixtures::PARENT_WITH_CONSENT)).await.unwrap_err();
    assert!(matches!(error, SchoolError::Rejected(ref m) if m.contains("refused the token (HTTP 401)")), "{error}");
    assert!(!error.is_retryable());
    let error = wrong.submit_application(&application(fixtures::FREE_ORDERS_FROM)).await.unwrap_err();
    assert!(matches!(error, SchoolError::Rejected(_)), "{error}");
    assert!(school.submitted_orders().is_empty());
}

#[tokio::test]
async fn a_503_is_unavailable_and_the_next_call_goes_through() {
    let (school, _dir) = demo_school();
    let server = MockServer::start(school.clone());
    let http = connector(&server);
    let order = application(fixtures::FREE_ORDERS_FROM);
    server.state.fail_next.store(2, Ordering::SeqCst);
    for _ in 0..2 {
        let error = http.submit_application(&order).await.unwrap_err();
        assert!(matches!(error, SchoolError::Unavailable(ref m) if m.contains("HTTP 503")), "{error}");
        assert!(error.is_retryable());
    }
    assert_eq!(http.submit_application(&order).await.unwrap(), SubmitOutcome::Registered { status: 110 });
    assert_eq!(school.submitted_orders(), [order.order_id]);
}

#[tokio::test]
async fn a_school_system_down_is_unavailable_and_then_back_up_works() {
    let (school, _dir) = demo_school();
    let mut server = MockServer::start(school.clone());
    let http = connector(&server);
    let parent = snils(fixtures::PARENT_WITH_CONSENT);
    assert_eq!(http.linked_children(&parent).await.unwrap().len(), 2, "a kept-alive connection exists");

    server.down();
    let error = http.linked_children(&parent).await.unwrap_err();
    assert!(matches!(error, SchoolError::Unavailable(_)), "{error}");
    assert!(error.is_retryable());
    assert!(!error.to_string().contains("11223344595"), "no URL, so no SNILS, in errors: {error}");
    let order = application(fixtures::FREE_ORDERS_FROM);
    assert!(matches!(http.submit_application(&order).await, Err(SchoolError::Unavailable(_))));
    assert!(matches!(http.status_changes(0, 10).await, Err(SchoolError::Unavailable(_))));

    server.up();
    assert_eq!(http.linked_children(&parent).await.unwrap().len(), 2);
    assert_eq!(http.submit_application(&order).await.unwrap(), SubmitOutcome::Registered { status: 110 });
    assert_eq!(school.submitted_orders(), [order.order_id], "the application arrives exactly once");
}

#[tokio::test]
async fn a_slow_answer_times_out_and_the_retry_finds_the_work_done() {
    let (school, _dir) = demo_school();
    let server = MockServer::start(school.clone());
    let http = HttpSchool::new(&server.base_url(), TOKEN, Duration::from_millis(300)).unwrap();
    let order = application(fixtures::FREE_ORDERS_FROM);
    server.state.delay_ms.store(1_500, Ordering::SeqCst);
    let error = http.submit_application(&order).await.unwrap_err();
    assert!(matches!(error, SchoolError::Unavailable(ref m) if m.contains("no answer within")), "{error}");
    server.state.delay_ms.store(0, Ordering::SeqCst);
    // The school registered it before the answer was lost: the outbox's retry learns that, and nothing doubles.
    assert_eq!(http.submit_application(&order).await.unwrap(), SubmitOutcome::AlreadySubmitted { status: 110 });
    assert_eq!(school.submitted_orders(), [order.order_id]);
}

#[tokio::test]
async fn unreadable_answers_and_unknown_pupils() {
    let (school, _dir) = demo_school();
    let server = MockServer::start(school);
    let http = connector(&server);
    server.state.garbage_next.store(1, Ordering::SeqCst);
    let error = http.linked_children(&snils(fixtures::PARENT_WITH_CONSENT)).await.unwrap_err();
    assert!(matches!(error, SchoolError::Protocol(ref m) if m.contains("not the documented JSON")), "{error}");
    assert!(error.is_retryable());

    let unknown = http.marks(&PupilId("nobody".into()), fixtures::DEMO_TERM_FROM, fixtures::DEMO_TERM_TO).await;
    assert!(matches!(unknown, Err(SchoolError::Rejected(ref m)) if m.contains("HTTP 404")), "{unknown:?}");
}

#[tokio::test]
async fn connection_refused_from_the_start_is_unavailable() {
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let http = HttpSchool::new(&format!("http://127.0.0.1:{port}/api/v1"), TOKEN, Duration::from_secs(2)).unwrap();
    let error = http.status_changes(0, 10).await.unwrap_err();
    assert!(matches!(error, SchoolError::Unavailable(_)), "{error}");
}
