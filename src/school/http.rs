//! The HTTP connector: a [`SchoolSystem`] over a school system's REST API, specified in `docs/school-api.yaml`.
//!
//! Each call is one request with a bearer token and a timeout; the connector never retries (the gateway's outbox
//! does) and classifies every failure: no connection, a timeout or a 5xx is [`SchoolError::Unavailable`]; a 4xx is
//! [`SchoolError::Rejected`] (401 and 403 say the token was refused; 408 and 429 are `Unavailable`, since waiting
//! helps them); an answer that cannot be read is [`SchoolError::Protocol`]. Error texts never carry a request's
//! URL (the SNILS is in the path of one of them) or a value from an answer that could identify a person.
#![forbid(unsafe_code)]

use std::time::Duration;

use reqwest::header::{HeaderValue, AUTHORIZATION, CONTENT_TYPE};
use reqwest::{Method, StatusCode, Url};
use serde::{Deserialize, Serialize};

use super::application_json::ApplicationJson;
use super::datafile::{parse_date, parse_timestamp};
use super::enrollment::EnrollmentApplication;
use super::format::format_date;
use super::kindergarten::model::{CancelResult, Cancelled};
use super::model::{
    is_department_status, LessonMark, MarkValue, Marks, Pupil, PupilId, School, StatusChange, SubjectRecord,
    SubmitOutcome,
};
use super::{BoxFuture, SchoolError, SchoolSystem, Snils};

/// The largest answer the connector reads: a year of marks is far below it; more is an error, not a memory spike.
const MAX_ANSWER_BYTES: usize = 16 << 20;

/// A school system reached over its REST API.
#[derive(Debug, Clone)]
pub struct HttpSchool {
    /// The API's base URL; endpoints are appended to its path.
    base: Url,
    /// The base URL's host, the system's name in logs and for the circuit breaker.
    host: String,
    /// `Bearer <token>`, marked sensitive so that it never appears in debug output.
    authorization: HeaderValue,
    /// The client, with the timeout; it keeps connections alive between calls.
    client: reqwest::Client,
    /// The timeout, for messages.
    timeout: Duration,
    /// Whether the system runs the kindergarten queue (the `/kindergarten/…` endpoints).
    kindergartens: bool,
}

impl HttpSchool {
    /// A connector to the API at `base_url` (e.g. `https://school.region.example/api/v1`), authenticating with
    /// `token`, giving up on any call after `timeout`. A URL or token that cannot be used is
    /// [`SchoolError::Data`] (a configuration error, final).
    pub fn new(base_url: &str, token: &str, timeout: Duration) -> Result<HttpSchool, SchoolError> {
        let base = Url::parse(base_url).map_err(|e| SchoolError::Data(format!("school API URL {base_url:?}: {e}")))?;
        if !matches!(base.scheme(), "http" | "https") || base.cannot_be_a_base() {
            return Err(SchoolError::Data(format!("school API URL {base_url:?}: not an http or https URL")));
        }
        let host = base.host_str().unwrap_or_default().to_owned();
        let mut authorization = HeaderValue::from_str(&format!("Bearer {token}"))
            .map_err(|_| SchoolError::Data("the school API token has characters a header cannot carry".to_owned()))?;
        authorization.set_sensitive(true);
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout)
            .build()
            .map_err(|e| SchoolError::Data(format!("cannot build the HTTP client: {e}")))?;
        Ok(HttpSchool { base, host, authorization, client, timeout, kindergartens: true })
    }

    /// The same connector, for a school system that does not run the kindergarten queue: [`SchoolSystem::kindergartens`]
    /// is `None`, so the kindergarten service answers without calling endpoints that are not there.
    pub fn without_kindergartens(self) -> HttpSchool {
        HttpSchool { kindergartens: false, ..self }
    }

    /// The URL of the endpoint whose path segments (after the base path) are `segments`, each percent-encoded.
    pub(crate) fn url(&self, segments: &[&str]) -> Url {
        let mut url = self.base.clone();
        url.path_segments_mut().expect("checked to be a base URL").pop_if_empty().extend(segments);
        url
    }

    /// Sends a request and reads the answer's status and body; `what` names the call in messages.
    pub(crate) async fn call(
        &self,
        method: Method,
        url: Url,
        body: Option<Vec<u8>>,
        what: &str,
    ) -> Result<(StatusCode, Vec<u8>), SchoolError> {
        let mut request = self.client.request(method, url).header(AUTHORIZATION, self.authorization.clone());
        if let Some(body) = body {
            request = request.header(CONTENT_TYPE, "application/json").body(body);
        }
        let mut response = request.send().await.map_err(|e| self.transport_error(e, what))?;
        let status = response.status();
        let mut bytes = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(|e| self.transport_error(e, what))? {
            if bytes.len() + chunk.len() > MAX_ANSWER_BYTES {
                return Err(SchoolError::Protocol(format!(
                    "{what}: the answer is larger than {MAX_ANSWER_BYTES} bytes"
                )));
            }
            bytes.extend_from_slice(&chunk);
        }
        Ok((status, bytes))
    }

    /// Classifies a failure to get an answer: all of them are worth retrying.
    fn transport_error(&self, error: reqwest::Error, what: &str) -> SchoolError {
        let error = error.without_url();
        if error.is_timeout() {
            return SchoolError::Unavailable(format!("{what}: no answer within {:?}", self.timeout));
        }
        SchoolError::Unavailable(format!("{what}: {}", error_chain(&error)))
    }

    /// Calls an endpoint with GET and returns its answer's status and body, to be decoded by one of the `decode_*`
    /// functions.
    pub(crate) async fn get(&self, url: Url, what: &str) -> Result<(u16, Vec<u8>), SchoolError> {
        let (status, body) = self.call(Method::GET, url, None, what).await?;
        Ok((status.as_u16(), body))
    }
}

/// The name of `GET /guardians/{snils}/children` in messages.
const CHILDREN: &str = "GET /guardians/{snils}/children";
/// The name of `GET /pupils/{id}/marks` in messages.
const MARKS: &str = "GET /pupils/{id}/marks";
/// The name of `POST /applications` in messages.
const SUBMIT: &str = "POST /applications";
/// The name of `GET /applications/changes` in messages.
const CHANGES: &str = "GET /applications/changes";
/// The name of `GET /applications/{orderId}` in messages.
const APPLICATION: &str = "GET /applications/{orderId}";
/// The name of `POST /applications/{orderId}/cancel` in messages.
const CANCEL: &str = "POST /applications/{orderId}/cancel";

/// Decodes a school system's answer (HTTP `status` and `body`) to `GET /guardians/{snils}/children`.
///
/// This and the other `decode_*` functions are the connector's entry points for untrusted input: everything a school
/// system answers goes through one of them (they are public so that the fuzzer reaches exactly that code).
pub fn decode_children(status: u16, body: &[u8]) -> Result<Vec<Pupil>, SchoolError> {
    let answer: ChildrenWire = json_ok(status, body, CHILDREN)?;
    answer
        .children
        .into_iter()
        .map(|child| child.into_pupil())
        .collect::<Result<_, _>>()
        .map_err(|problem| SchoolError::Protocol(format!("{CHILDREN}: {problem}")))
}

/// Decodes the answer to `GET /pupils/{id}/marks` for `pupil` between `from` and `to` (an untrusted-input entry,
/// see [`decode_children`]).
pub fn decode_marks(
    status: u16,
    body: &[u8],
    pupil: &PupilId,
    from: time::Date,
    to: time::Date,
) -> Result<Marks, SchoolError> {
    let answer: MarksWire = json_ok(status, body, MARKS)?;
    answer.into_marks(pupil, from, to).map_err(|problem| SchoolError::Protocol(format!("{MARKS}: {problem}")))
}

/// Decodes the answer to `POST /applications` for order `order_id` (an untrusted-input entry, see
/// [`decode_children`]).
pub fn decode_submit(status: u16, body: &[u8], order_id: i64) -> Result<SubmitOutcome, SchoolError> {
    submit_outcome(status_code(status, SUBMIT)?, body, order_id, SUBMIT)
}

/// Decodes the answer to `GET /applications/changes?since=…&limit=…` (an untrusted-input entry, see
/// [`decode_children`]).
pub fn decode_changes(status: u16, body: &[u8], since: u64, limit: usize) -> Result<Vec<StatusChange>, SchoolError> {
    let answer: ChangesWire = json_ok(status, body, CHANGES)?;
    let changes = answer.changes.into_iter().map(ChangeWire::into_change).collect::<Result<Vec<_>, _>>();
    let changes = changes.map_err(|problem| SchoolError::Protocol(format!("{CHANGES}: {problem}")))?;
    check_changes(&changes, since, limit).map_err(|problem| SchoolError::Protocol(format!("{CHANGES}: {problem}")))?;
    Ok(changes)
}

/// The JSON of `application` as the API carries it (`POST /applications`' body and `GET /applications/{orderId}`'s
/// answer): public so that tests and tools playing a school system write exactly what the connector reads.
pub fn application_json(application: &EnrollmentApplication) -> Vec<u8> {
    serde_json::to_vec(&ApplicationJson::of(application)).expect("applications serialize")
}

/// Decodes the answer to `GET /applications/{orderId}` (an untrusted-input entry, see [`decode_children`]): 200
/// the application, 404 none.
pub fn decode_application(
    status: u16,
    body: &[u8],
    order_id: i64,
) -> Result<Option<EnrollmentApplication>, SchoolError> {
    if status == 404 {
        return Ok(None);
    }
    let answer: ApplicationJson = json_ok(status, body, APPLICATION)?;
    if answer.order_id != order_id {
        return Err(SchoolError::Protocol(format!("{APPLICATION}: the answer is about order {}", answer.order_id)));
    }
    let application =
        answer.into_application().map_err(|problem| SchoolError::Protocol(format!("{APPLICATION}: {problem}")))?;
    Ok(Some(application))
}

/// Decodes the answer to `POST /applications/{orderId}/cancel` (an untrusted-input entry, see
/// [`decode_children`]).
pub fn decode_cancel(status: u16, body: &[u8], order_id: i64) -> Result<Cancelled, SchoolError> {
    let answer: CancelledWire = json_ok(status, body, CANCEL)?;
    if answer.order_id != order_id {
        return Err(SchoolError::Protocol(format!("{CANCEL}: the answer is about order {}", answer.order_id)));
    }
    let result = match answer.result.as_str() {
        "CANCELLED" => CancelResult::Cancelled,
        "IN_PROGRESS" => CancelResult::InProgress,
        "REJECTED" => CancelResult::Rejected,
        _ => return Err(SchoolError::Protocol(format!("{CANCEL}: an unknown result"))),
    };
    Ok(Cancelled { result, comment: answer.comment })
}

/// An HTTP status from its number; one outside 100..=999 is a protocol error.
pub(crate) fn status_code(status: u16, what: &str) -> Result<StatusCode, SchoolError> {
    StatusCode::from_u16(status).map_err(|_| SchoolError::Protocol(format!("{what}: HTTP status {status}")))
}

/// The JSON of type `T` in an answer that must be 200.
pub(crate) fn json_ok<T: for<'de> Deserialize<'de>>(status: u16, body: &[u8], what: &str) -> Result<T, SchoolError> {
    let status = status_code(status, what)?;
    if status != StatusCode::OK {
        return Err(status_error(status, body, what));
    }
    read_json(body, what)
}

impl SchoolSystem for HttpSchool {
    fn linked_children<'a>(&'a self, guardian: &'a Snils) -> BoxFuture<'a, Result<Vec<Pupil>, SchoolError>> {
        Box::pin(async move {
            let digits: String = guardian.formatted().chars().filter(char::is_ascii_digit).collect();
            let url = self.url(&["guardians", &digits, "children"]);
            let (status, body) = self.get(url, CHILDREN).await?;
            decode_children(status, &body)
        })
    }

    fn marks<'a>(
        &'a self,
        pupil: &'a PupilId,
        from: time::Date,
        to: time::Date,
    ) -> BoxFuture<'a, Result<Marks, SchoolError>> {
        Box::pin(async move {
            let mut url = self.url(&["pupils", &pupil.0, "marks"]);
            url.query_pairs_mut().append_pair("from", &format_date(from)).append_pair("to", &format_date(to));
            let (status, body) = self.get(url, MARKS).await?;
            decode_marks(status, &body, pupil, from, to)
        })
    }

    fn submit_application<'a>(
        &'a self,
        application: &'a EnrollmentApplication,
    ) -> BoxFuture<'a, Result<SubmitOutcome, SchoolError>> {
        Box::pin(async move {
            let body = application_json(application);
            let (status, answer) = self.call(Method::POST, self.url(&["applications"]), Some(body), SUBMIT).await?;
            decode_submit(status.as_u16(), &answer, application.order_id)
        })
    }

    fn status_changes<'a>(&'a self, since: u64, limit: usize) -> BoxFuture<'a, Result<Vec<StatusChange>, SchoolError>> {
        Box::pin(async move {
            let mut url = self.url(&["applications", "changes"]);
            url.query_pairs_mut().append_pair("since", &since.to_string()).append_pair("limit", &limit.to_string());
            let (status, body) = self.get(url, CHANGES).await?;
            decode_changes(status, &body, since, limit)
        })
    }

    fn enrollment_application<'a>(
        &'a self,
        order_id: i64,
    ) -> BoxFuture<'a, Result<Option<EnrollmentApplication>, SchoolError>> {
        Box::pin(async move {
            let (status, body) = self.get(self.url(&["applications", &order_id.to_string()]), APPLICATION).await?;
            decode_application(status, &body, order_id)
        })
    }

    fn cancel_application<'a>(
        &'a self,
        order_id: i64,
        reason: Option<&'a str>,
    ) -> BoxFuture<'a, Result<Cancelled, SchoolError>> {
        Box::pin(async move {
            let body = serde_json::to_vec(&CancelWire { reason }).expect("a cancel serializes");
            let url = self.url(&["applications", &order_id.to_string(), "cancel"]);
            let (status, answer) = self.call(Method::POST, url, Some(body), CANCEL).await?;
            decode_cancel(status.as_u16(), &answer, order_id)
        })
    }

    fn name(&self) -> &str {
        &self.host
    }

    fn kindergartens(&self) -> Option<&dyn crate::school::kindergarten::Kindergartens> {
        self.kindergartens.then_some(self as &dyn crate::school::kindergarten::Kindergartens)
    }
}

/// The outcome of `POST /applications` from its answer: 201 registered, 200 already submitted, 422 refused.
fn submit_outcome(status: StatusCode, body: &[u8], order_id: i64, what: &str) -> Result<SubmitOutcome, SchoolError> {
    let answer = |body| -> Result<SubmitAnswerWire, SchoolError> {
        let answer: SubmitAnswerWire = read_json(body, what)?;
        if answer.order_id != order_id {
            return Err(SchoolError::Protocol(format!("{what}: the answer is about order {}", answer.order_id)));
        }
        Ok(answer)
    };
    match status {
        StatusCode::CREATED => {
            let answer = answer(body)?;
            Ok(match answer.review.filter(|note| !note.is_empty()) {
                Some(note) => SubmitOutcome::ForReview { status: answer.status, note },
                None => SubmitOutcome::Registered { status: answer.status },
            })
        }
        StatusCode::OK => Ok(SubmitOutcome::AlreadySubmitted { status: answer(body)?.status }),
        StatusCode::UNPROCESSABLE_ENTITY => {
            let answer = answer(body)?;
            let reason = answer
                .reason
                .filter(|reason| !reason.is_empty())
                .ok_or_else(|| SchoolError::Protocol(format!("{what}: a refusal (422) without a reason")))?;
            Ok(SubmitOutcome::Refused { status: answer.status, reason })
        }
        _ => Err(status_error(status, body, what)),
    }
}

/// Checks that a page of changes is what was asked for: after `since`, increasing, at most `limit`.
fn check_changes(changes: &[StatusChange], since: u64, limit: usize) -> Result<(), String> {
    if changes.len() > limit {
        return Err(format!("{} changes where at most {limit} were asked for", changes.len()));
    }
    let mut last = since;
    for change in changes {
        if change.cursor <= last {
            return Err(format!("cursor {} does not follow {last}", change.cursor));
        }
        last = change.cursor;
    }
    Ok(())
}

/// The error an unexpected HTTP status means.
pub(crate) fn status_error(status: StatusCode, body: &[u8], what: &str) -> SchoolError {
    let detail = error_detail(body);
    let code = status.as_u16();
    match code {
        401 | 403 => SchoolError::Rejected(format!(
            "{what}: the school system refused the token (HTTP {code}){detail}; check the token configured for it"
        )),
        408 | 429 => SchoolError::Unavailable(format!("{what}: HTTP {code}{detail}")),
        400..=499 => SchoolError::Rejected(format!("{what}: HTTP {code}{detail}")),
        500..=599 => SchoolError::Unavailable(format!("{what}: HTTP {code}{detail}")),
        _ => SchoolError::Protocol(format!("{what}: unexpected HTTP {code}")),
    }
}

/// The error body's code and message, if it has the documented shape, as `": code: message"`, shortened and with
/// anything that looks like a SNILS or another long number masked.
fn error_detail(body: &[u8]) -> String {
    let Ok(error) = serde_json::from_slice::<ErrorWire>(body) else { return String::new() };
    let message: String = mask_numbers(&error.message).chars().take(200).collect();
    format!(": {}: {message}", mask_numbers(&error.error))
}

/// Replaces every run of digits (with the spaces and hyphens inside it) holding nine or more digits by `***`.
fn mask_numbers(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut run = String::new();
    let mut digits = 0;
    let flush = |out: &mut String, run: &mut String, digits: &mut usize| {
        // Separators after the last digit are not part of the number.
        let end = run.trim_end_matches([' ', '-']).len();
        out.push_str(if *digits >= 9 { "***" } else { &run[..end] });
        out.push_str(&run[end..]);
        run.clear();
        *digits = 0;
    };
    for c in text.chars() {
        if c.is_ascii_digit() || (!run.is_empty() && (c == ' ' || c == '-')) {
            digits += usize::from(c.is_ascii_digit());
            run.push(c);
        } else {
            flush(&mut out, &mut run, &mut digits);
            out.push(c);
        }
    }
    flush(&mut out, &mut run, &mut digits);
    out
}

/// Reads a JSON answer; a failure is [`SchoolError::Protocol`] without any value from the answer.
pub(crate) fn read_json<T: for<'de> Deserialize<'de>>(body: &[u8], what: &str) -> Result<T, SchoolError> {
    serde_json::from_slice(body).map_err(|e| SchoolError::Protocol(format!("{what}: {}", describe_json_error(&e))))
}

/// A JSON error's description with quoted values left out (field names, in backticks, stay).
fn describe_json_error(error: &serde_json::Error) -> String {
    let text = error.to_string();
    let mut out = String::with_capacity(text.len());
    let mut quoted = false;
    for c in text.chars() {
        if c == '"' {
            quoted = !quoted;
            if quoted {
                out.push_str("\"…\"");
            }
        } else if !quoted {
            out.push(c);
        }
    }
    format!("not the documented JSON: {out}")
}

/// An error and its causes, joined by ": ".
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

/// A mark value from the wire.
fn mark_value(text: &str) -> Result<MarkValue, String> {
    MarkValue::parse(text).ok_or_else(|| format!("{text:?} is not a mark"))
}

/// `GET /guardians/{snils}/children`, 200.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ChildrenWire {
    /// The linked children with consent.
    children: Vec<ChildWire>,
}

/// A child on the wire.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ChildWire {
    /// The pupil's id.
    id: String,
    /// Surname.
    surname: String,
    /// Given name.
    name: String,
    /// Patronymic.
    #[serde(default)]
    middle_name: Option<String>,
    /// `YYYY-MM-DD`.
    birth_date: String,
    /// The school.
    school: SchoolWire,
    /// "5А".
    class_name: String,
}

impl ChildWire {
    /// The pupil this is.
    fn into_pupil(self) -> Result<Pupil, String> {
        let birth_date = parse_date(&self.birth_date).map_err(|p| format!("child {}: the birth date {p}", self.id))?;
        Ok(Pupil {
            id: PupilId(self.id),
            surname: self.surname,
            name: self.name,
            middle_name: self.middle_name,
            birth_date,
            school: School { code: self.school.code, name: self.school.name, oktmo: self.school.oktmo },
            class_name: self.class_name,
        })
    }
}

/// A school on the wire.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SchoolWire {
    /// Code.
    code: String,
    /// Name.
    name: String,
    /// OKTMO.
    oktmo: String,
}

/// `GET /pupils/{id}/marks`, 200.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct MarksWire {
    /// The pupil, to check the answer is about the one asked for.
    pupil_id: String,
    /// Per subject.
    subjects: Vec<SubjectWire>,
}

impl MarksWire {
    /// The marks this is, checked against the question.
    fn into_marks(self, pupil: &PupilId, from: time::Date, to: time::Date) -> Result<Marks, String> {
        if self.pupil_id != pupil.0 {
            return Err(format!("the answer is about pupil {}, not {pupil}", self.pupil_id));
        }
        let subjects =
            self.subjects.into_iter().map(|subject| subject.into_record(from, to)).collect::<Result<_, _>>()?;
        Ok(Marks { pupil: pupil.clone(), from, to, subjects })
    }
}

/// A subject on the wire.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SubjectWire {
    /// Name.
    subject: String,
    /// Lesson marks.
    #[serde(default)]
    lessons: Vec<LessonWire>,
    /// Term marks.
    #[serde(default)]
    terms: Vec<TermWire>,
    /// Year mark.
    #[serde(default)]
    year: Option<String>,
}

impl SubjectWire {
    /// The record this is; lesson marks outside the period asked for are a protocol error.
    fn into_record(self, from: time::Date, to: time::Date) -> Result<SubjectRecord, String> {
        let mut lessons = self.lessons.into_iter().map(LessonWire::into_mark).collect::<Result<Vec<_>, _>>()?;
        if lessons.iter().any(|mark| mark.date < from || mark.date > to) {
            return Err(format!("{}: a lesson mark outside the period asked for", self.subject));
        }
        lessons.sort_by_key(|mark| mark.date);
        let terms = self
            .terms
            .into_iter()
            .map(|term| Ok((term.term, mark_value(&term.value)?)))
            .collect::<Result<_, String>>()?;
        let year = self.year.as_deref().map(mark_value).transpose()?;
        Ok(SubjectRecord { subject: self.subject, lessons, terms, year })
    }
}

/// A lesson mark on the wire.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct LessonWire {
    /// `YYYY-MM-DD`.
    date: String,
    /// The mark.
    value: String,
    /// Its weight, 1 or more.
    weight: u8,
    /// Kind of work.
    #[serde(default)]
    work_type: Option<String>,
    /// Topic.
    #[serde(default)]
    topic: Option<String>,
}

impl LessonWire {
    /// The mark this is.
    fn into_mark(self) -> Result<LessonMark, String> {
        if self.weight == 0 {
            return Err("a lesson mark of weight 0".to_owned());
        }
        Ok(LessonMark {
            date: parse_date(&self.date).map_err(|p| format!("a lesson's date {p}"))?,
            value: mark_value(&self.value)?,
            weight: self.weight,
            work_type: self.work_type,
            topic: self.topic,
        })
    }
}

/// A term mark on the wire.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct TermWire {
    /// The term's number.
    term: u8,
    /// The mark.
    value: String,
}

/// `POST /applications` answer (201, 200 or 422).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct SubmitAnswerWire {
    /// The order answered about.
    order_id: i64,
    /// Its status.
    status: u16,
    /// Why it was refused (422).
    #[serde(default)]
    reason: Option<String>,
    /// Why a registered application (201) goes to review with the founder's permission, if it does.
    #[serde(default)]
    review: Option<String>,
}

/// `POST /applications/{orderId}/cancel` body.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct CancelWire<'a> {
    /// The applicant's reason, if given.
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<&'a str>,
}

/// `POST /applications/{orderId}/cancel` answer, 200.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct CancelledWire {
    /// The order answered about.
    order_id: i64,
    /// `CANCELLED`, `IN_PROGRESS` or `REJECTED`.
    result: String,
    /// For the parent.
    #[serde(default)]
    comment: Option<String>,
}

/// `GET /applications/changes`, 200.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ChangesWire {
    /// Oldest first.
    changes: Vec<ChangeWire>,
}

/// A status change on the wire.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ChangeWire {
    /// Position in the sequence of changes.
    cursor: u64,
    /// The order.
    order_id: i64,
    /// The new status.
    status: u16,
    /// RFC 3339.
    at: String,
    /// Comment for the parent.
    #[serde(default)]
    comment: Option<String>,
}

impl ChangeWire {
    /// The change this is.
    fn into_change(self) -> Result<StatusChange, String> {
        if !is_department_status(self.status) {
            return Err(format!("status {} is not a department status (110 ... 190, 210 ... 250)", self.status));
        }
        let at = parse_timestamp(&self.at)?;
        Ok(StatusChange {
            cursor: self.cursor,
            order_id: self.order_id,
            status: self.status,
            at,
            comment: self.comment,
        })
    }
}

/// An error answer's body.
#[derive(Deserialize)]
struct ErrorWire {
    /// A machine-readable code.
    error: String,
    /// A message for people.
    #[serde(default)]
    message: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_impossible_http_status_is_a_protocol_error() {
        for status in [0, 99, 1000, u16::MAX] {
            let error = decode_submit(status, b"{}", 1).unwrap_err();
            assert!(matches!(error, SchoolError::Protocol(ref m) if m.contains(&format!("HTTP status {status}"))));
            assert!(matches!(decode_children(status, b"{}"), Err(SchoolError::Protocol(_))));
        }
    }

    #[test]
    fn a_page_of_changes_out_of_order_is_a_protocol_error() {
        let body = br#"{"changes":[{"cursor":5,"orderId":1,"status":120,"at":"2026-09-01T10:00:00Z"}]}"#;
        let error = decode_changes(200, body, 5, 10).unwrap_err();
        assert!(matches!(error, SchoolError::Protocol(ref m) if m.contains("does not follow")), "{error}");
        assert_eq!(decode_changes(200, body, 4, 10).unwrap().len(), 1);
    }

    #[test]
    fn a_change_to_a_status_that_does_not_exist_is_a_protocol_error() {
        for status in [200, 2, 115] {
            let body =
                format!(r#"{{"changes":[{{"cursor":1,"orderId":1,"status":{status},"at":"2026-09-01T10:00:00Z"}}]}}"#);
            let error = decode_changes(200, body.as_bytes(), 0, 10).unwrap_err();
            assert!(matches!(error, SchoolError::Protocol(ref m) if m.contains("department status")), "{error}");
        }
    }

    #[test]
    fn masks_long_numbers() {
        assert_eq!(mask_numbers("guardian 112-233-445 95 unknown"), "guardian *** unknown");
        assert_eq!(mask_numbers("guardian 11223344595"), "guardian ***");
        assert_eq!(mask_numbers("HTTP 404 in 2026"), "HTTP 404 in 2026");
    }

    #[test]
    fn json_errors_leave_values_out() {
        let error = serde_json::from_str::<SubmitAnswerWire>(r#"{"orderId": "Иванов", "status": 110}"#).unwrap_err();
        let text = describe_json_error(&error);
        assert!(!text.contains("Иванов"), "{text}");
        assert!(text.contains("invalid type"), "{text}");
    }

    #[test]
    fn statuses_map_to_errors() {
        let what = "GET /x";
        assert!(
            matches!(status_error(StatusCode::UNAUTHORIZED, b"", what), SchoolError::Rejected(m) if m.contains("token"))
        );
        assert!(matches!(status_error(StatusCode::NOT_FOUND, b"", what), SchoolError::Rejected(_)));
        assert!(matches!(status_error(StatusCode::TOO_MANY_REQUESTS, b"", what), SchoolError::Unavailable(_)));
        assert!(matches!(status_error(StatusCode::BAD_GATEWAY, b"", what), SchoolError::Unavailable(_)));
        assert!(matches!(status_error(StatusCode::FOUND, b"", what), SchoolError::Protocol(_)));
        let body = br#"{"error": "not_found", "message": "no guardian 112-233-445 95"}"#;
        let SchoolError::Rejected(message) = status_error(StatusCode::NOT_FOUND, body, what) else { panic!() };
        assert_eq!(message, "GET /x: HTTP 404: not_found: no guardian ***");
    }

    #[test]
    fn urls_keep_the_base_path_and_encode_ids() {
        let school = HttpSchool::new("http://school.test:8080/api/v1", "t", Duration::from_secs(1)).unwrap();
        assert_eq!(school.name(), "school.test");
        assert_eq!(
            school.url(&["pupils", "a/b с", "marks"]).as_str(),
            "http://school.test:8080/api/v1/pupils/a%2Fb%20%D1%81/marks"
        );
        assert!(school.kindergartens().is_some(), "a system runs the kindergarten queue unless configured otherwise");
        assert!(school.clone().without_kindergartens().kindergartens().is_none());
        let trailing = HttpSchool::new("http://school.test/api/", "t", Duration::from_secs(1)).unwrap();
        assert_eq!(trailing.url(&["applications"]).as_str(), "http://school.test/api/applications");
        assert!(matches!(HttpSchool::new("ftp://x", "t", Duration::from_secs(1)), Err(SchoolError::Data(_))));
        assert!(matches!(HttpSchool::new("http://x", "bad\ntoken", Duration::from_secs(1)), Err(SchoolError::Data(_))));
    }
}
