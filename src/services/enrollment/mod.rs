//! School enrollment on the EPGU concentrator pattern, in two formats served side by side, each answered in its
//! own namespace:
//!
//! - 1.1.0 ([`v110`], `xsd/school-enrollment-1.1.0.xsd`): the concentrator's structure, `FormData[@oktmo]` holding one
//!   request of a choice (`ApplicationRequest`, `GetApplicationRequest`, `cancelRequest`), answered by
//!   `FormDataResponse` (`changeOrderInfo` with `cancelAllowed`, `GetApplicationResponse`, `cancelResponse`);
//! - 1.0.0 ([`v100`], `xsd/school-enrollment-1.0.0.xsd`): one application per `FormData`, answered by
//!   `changeOrderInfo`.
//!
//! An application that cannot be read or fails its checks is answered at once with 150 and a reason a person can
//! read; a valid one goes to the school system through the outbox (it is retried while the school is down and
//! reaches it exactly once, its order id being the school's idempotency key), and the answer follows the school's:
//! 110 registered (with a note when the school must review it with the founder's permission), or 150 with the reason.
//! Reading the application and withdrawing it ask the school system at once (a school that is down leaves the
//! request for SMEV to deliver again). Statuses and their meaning: `docs/enrollment.md`.
#![forbid(unsafe_code)]

pub mod read;
pub mod v100;
pub mod v110;

pub use read::Refusal;
pub use v100::{read_form, STATUS_REQUEST};

use super::{Asked, Decided, Decision, DeferredError, KindService, Push, Pushing, ReadRequest, Served, Unavailable};
use crate::school::kindergarten::model::{CancelResult, Cancelled};
use crate::school::{BoxFuture, EnrollmentApplication, SchoolError, SchoolSystem, StatusChange, SubmitOutcome};
use crate::smev::ResponseBody;
use crate::xml::{self, Document, Limits, NodeId};
use time::Date;

/// The namespace of format 1.0.0.
pub const NS: &str = v100::NS;
/// The namespace of format 1.1.0.
pub const NS_1_1_0: &str = v110::NS;
/// The application's root element (both formats).
pub const FORM_DATA: &str = "FormData";

/// EPGU department status: registered.
pub const REGISTERED: u16 = 110;
/// EPGU department status: refused, with the reason.
pub const REFUSED: u16 = 150;
/// EPGU department status: enrolled.
pub const ENROLLED: u16 = 250;

/// An answer as content.
fn content(content: String) -> ResponseBody {
    ResponseBody::Content { content, personal_signature: None, attachment_headers: vec![] }
}

/// The `changeOrderInfo` answer in the format of namespace `ns` (1.0.0 writes `@oktmo` when known; every other
/// namespace is read and answered as 1.1.0).
pub fn answer_status(ns: &str, order_id: i64, oktmo: Option<&str>, status: u16, comment: Option<&str>) -> ResponseBody {
    if ns == NS {
        content(v100::change_order_info(order_id, oktmo, status, comment))
    } else {
        content(v110::change_order_info(ns, order_id, status, comment))
    }
}

/// The 1.0.0 `FormDataResponse/changeOrderInfo` answer.
pub fn change_order_info(order_id: i64, oktmo: Option<&str>, status: u16, comment: Option<&str>) -> ResponseBody {
    answer_status(NS, order_id, oktmo, status, comment)
}

/// The answer to a refused request in namespace `ns`; a request whose order id could not be read gets order 0.
pub fn refusal_answer_in(ns: &str, refusal: &Refusal) -> ResponseBody {
    answer_status(ns, refusal.order_id.unwrap_or(0), refusal.oktmo.as_deref(), REFUSED, Some(&refusal.reason))
}

/// The answer to a refused 1.0.0 application.
pub fn refusal_answer(refusal: &Refusal) -> ResponseBody {
    refusal_answer_in(NS, refusal)
}

/// The answer in namespace `ns` that follows the school system's decision.
pub fn outcome_answer_in(ns: &str, application: &EnrollmentApplication, outcome: &SubmitOutcome) -> ResponseBody {
    let (status, comment) = match outcome {
        SubmitOutcome::Registered { status } => (*status, registered_comment(application)),
        SubmitOutcome::ForReview { status, note } => (*status, note.clone()),
        SubmitOutcome::AlreadySubmitted { status } => (*status, "Заявление уже зарегистрировано".to_string()),
        SubmitOutcome::Refused { status, reason } => (*status, reason.clone()),
    };
    answer_status(ns, application.order_id, Some(&application.oktmo), status, Some(&comment))
}

/// The answer to a 1.0.0 application that follows the school system's decision.
pub fn outcome_answer(application: &EnrollmentApplication, outcome: &SubmitOutcome) -> ResponseBody {
    outcome_answer_in(NS, application, outcome)
}

/// What the parent reads on registration: the number and the next step.
fn registered_comment(application: &EnrollmentApplication) -> String {
    format!(
        "Заявление № {} зарегистрировано. Ожидайте рассмотрения: о решении школы вы узнаете в личном кабинете",
        application.order_id
    )
}

/// The content of a status push to the portal (format 1.0.0's `OrderStatusRequest`).
pub fn status_request(order_id: i64, status: u16, at: &str, comment: Option<&str>) -> String {
    v100::status_request(order_id, status, at, comment)
}

/// A status change as the concentrator delivers it for an application filed in 1.1.0 (or a namespace mapped to it):
/// the content of a further response to the original request, `FormDataResponse/changeOrderInfo` in `ns` with
/// `cancelAllowed` by the new status. The gateway sends it to the original request's `ReplyTo`.
pub fn status_response(ns: &str, change: &StatusChange) -> ResponseBody {
    content(v110::change_order_info(ns, change.order_id, change.status, change.comment.as_deref()))
}

/// The enrollment service's default formats.
const SERVES: &[Served] = &[
    Served { namespace: NS, root: FORM_DATA, version: "1.0.0" },
    Served { namespace: NS_1_1_0, root: FORM_DATA, version: "1.1.0" },
];

/// School enrollment applications as a kind of data: a valid application is deferred to the school system (through
/// the outbox, so it reaches the school exactly once however long the school is down), the answer follows the
/// school's decision, and the school's later status changes are pushed to the portal.
#[derive(Debug, Default)]
pub struct EnrollmentService;

/// An application as read from a delivered request: checked, with its content kept as received for the school call.
struct Application {
    /// The namespace the answer is written in (the request's).
    ns: String,
    /// The application, or why it is refused.
    checked: Result<EnrollmentApplication, Refusal>,
    /// The content as received (a self-contained element), which the deferred work reads again.
    content: String,
}

/// A 1.1.0 request answered by asking the school system at once.
struct Query {
    /// The namespace the answer is written in (the request's).
    ns: String,
    /// The order asked about.
    order_id: i64,
    /// A cancellation's reason; `None` with `cancel` false for a `GetApplicationRequest`.
    reason: Option<String>,
    /// Whether the request is a `cancelRequest`.
    cancel: bool,
}

/// What a read request of either format is: an application (deferred), a query (answered now), or a refusal.
fn read_content(doc: &Document<'_>, root: NodeId, today: Date) -> Result<Read, (String, Refusal)> {
    let ns = doc.element_ns(root).to_string();
    if ns == NS {
        return read_form(doc, root, today).map(|a| Read::Application(Box::new(a))).map_err(|r| (ns, r));
    }
    match v110::read_request(doc, root, today) {
        Ok(v110::Request::Application(a)) => Ok(Read::Application(a)),
        Ok(v110::Request::Get { order_id }) => Ok(Read::Query(Query { ns, order_id, reason: None, cancel: false })),
        Ok(v110::Request::Cancel { order_id, reason }) => Ok(Read::Query(Query { ns, order_id, reason, cancel: true })),
        Err(refusal) => Err((ns, refusal)),
    }
}

/// A request as read.
enum Read {
    /// A new application.
    Application(Box<EnrollmentApplication>),
    /// A question about an application held.
    Query(Query),
}

impl KindService for EnrollmentService {
    fn name(&self) -> &'static str {
        "enrollment"
    }

    fn serves(&self) -> &'static [Served] {
        SERVES
    }

    fn read(&self, doc: &Document<'_>, content: NodeId) -> Box<dyn ReadRequest> {
        let today = time::OffsetDateTime::now_utc().date();
        match read_content(doc, content, today) {
            Ok(Read::Application(application)) => Box::new(Application {
                ns: doc.element_ns(content).to_string(),
                checked: Ok(*application),
                content: doc.self_contained_source(content).into_owned(),
            }),
            Ok(Read::Query(query)) => Box::new(query),
            Err((ns, refusal)) => Box::new(Decided(refusal_answer_in(&ns, &refusal))),
        }
    }

    fn run_deferred<'a>(
        &'a self,
        work: &'a str,
        school: &'a dyn SchoolSystem,
    ) -> BoxFuture<'a, Result<ResponseBody, DeferredError>> {
        Box::pin(submit(work, school))
    }

    fn pushes_statuses(&self) -> bool {
        true
    }

    fn pushes<'a>(
        &'a self,
        school: &'a dyn SchoolSystem,
        since: u64,
        limit: usize,
    ) -> BoxFuture<'a, Result<Vec<Pushing>, SchoolError>> {
        Box::pin(async move {
            let changes = school.status_changes(since, limit).await?;
            Ok(changes.iter().map(status_pushing).collect())
        })
    }
}

/// The thread of the application under the portal's order `order_id` (opened by a 1.1.0 application).
pub fn thread_key(order_id: i64) -> String {
    format!("enrollment:{order_id}")
}

/// What tells the portal about `change`: a further response to the request that filed the application when it came
/// in 1.1.0 (which opened its thread), otherwise format 1.0.0's status push as a consumer.
fn status_pushing(change: &StatusChange) -> Pushing {
    let at = crate::smev::format_datetime(change.at);
    let otherwise = status_request(change.order_id, change.status, &at, change.comment.as_deref());
    let pushed = change.clone();
    Pushing {
        cursor: change.cursor,
        push: Some(Push::Response {
            thread: thread_key(change.order_id),
            write: Box::new(move |namespace: &str, _version: &str| status_response(namespace, &pushed)),
            otherwise: Some(otherwise),
        }),
        what: format!("order {} status {}", change.order_id, change.status),
    }
}

impl ReadRequest for Application {
    fn decide<'a>(
        self: Box<Self>,
        _school: &'a dyn SchoolSystem,
        asked: Asked<'a>,
    ) -> BoxFuture<'a, Result<Decision, Unavailable>> {
        Box::pin(async move {
            match self.checked {
                Err(refusal) => Ok(Decision::Answer(refusal_answer_in(&self.ns, &refusal))),
                Ok(application) => {
                    tracing::info!(
                        message_id = asked.message_id,
                        order_id = application.order_id,
                        "application queued for the school"
                    );
                    // A 1.1.0 application (or one in a namespace mapped to it) is followed by further responses.
                    Ok(match self.ns.as_str() {
                        NS => Decision::Defer(self.content),
                        _ => Decision::DeferOpen { work: self.content, thread: thread_key(application.order_id) },
                    })
                }
            }
        })
    }
}

impl ReadRequest for Query {
    fn decide<'a>(
        self: Box<Self>,
        school: &'a dyn SchoolSystem,
        _asked: Asked<'a>,
    ) -> BoxFuture<'a, Result<Decision, Unavailable>> {
        Box::pin(async move {
            let answer = if self.cancel { self.cancel(school).await? } else { self.get(school).await? };
            Ok(Decision::Answer(content(answer)))
        })
    }
}

impl Query {
    /// `GetApplicationRequest`: the application as held, or 150 "not found".
    async fn get(&self, school: &dyn SchoolSystem) -> Result<String, Unavailable> {
        match school.enrollment_application(self.order_id).await {
            Ok(Some(application)) => Ok(v110::application_response(&self.ns, &application)),
            Ok(None) => Ok(v110::change_order_info(&self.ns, self.order_id, REFUSED, Some("Заявление не найдено"))),
            Err(e) if e.is_retryable() => Err(Unavailable(e.to_string())),
            Err(e) => Ok(v110::change_order_info(
                &self.ns,
                self.order_id,
                REFUSED,
                Some(&format!("Школьная система не нашла заявление: {e}")),
            )),
        }
    }

    /// `cancelRequest`: what the school did, as `cancelResponse`.
    async fn cancel(&self, school: &dyn SchoolSystem) -> Result<String, Unavailable> {
        let cancelled = match school.cancel_application(self.order_id, self.reason.as_deref()).await {
            Ok(cancelled) => cancelled,
            Err(e) if e.is_retryable() => return Err(Unavailable(e.to_string())),
            Err(e) => Cancelled {
                result: CancelResult::Rejected,
                comment: Some(format!("Школьная система не отозвала заявление: {e}")),
            },
        };
        tracing::info!(order_id = self.order_id, result = ?cancelled.result, "withdrawal answered");
        Ok(v110::cancel_response(&self.ns, self.order_id, &cancelled))
    }
}

/// Reads deferred work (the application's content as received) in its own format.
fn parse_content(content: &str, today: Date) -> Result<(String, EnrollmentApplication), (String, Refusal)> {
    let doc = xml::parse(content, &Limits::default()).map_err(|e| {
        let refusal =
            Refusal { order_id: None, oktmo: None, reason: format!("заявление не читается: {e}") };
        (NS.to_string(), refusal)
    })?;
    let ns = doc.element_ns(doc.root()).to_string();
    match read_content(&doc, doc.root(), today)? {
        Read::Application(application) => Ok((ns, *application)),
        Read::Query(query) => Err((
            ns,
            Refusal {
                order_id: Some(query.order_id), oktmo: None, reason: "ожидается заявление".into()
            },
        )),
    }
}

/// Reads and checks a 1.0.0 application from its text.
pub fn parse_form(content: &str, today: Date) -> Result<EnrollmentApplication, Refusal> {
    let doc = xml::parse(content, &Limits::default()).map_err(|e| Refusal {
        order_id: None,
        oktmo: None,
        reason: format!("заявление не читается: {e}"),
    })?;
    read_form(&doc, doc.root(), today)
}

/// Reads and checks a 1.1.0 request from its text.
pub fn parse_request(content: &str, today: Date) -> Result<v110::Request, Refusal> {
    let doc = xml::parse(content, &Limits::default()).map_err(|e| Refusal {
        order_id: None,
        oktmo: None,
        reason: format!("запрос не читается: {e}"),
    })?;
    v110::read_request(&doc, doc.root(), today)
}

/// Submits a deferred application (its content as received) and returns the answer that follows the school's
/// decision, in the application's own namespace. While the school is down the work is retried; a school that refuses
/// the request outright still gets the parent an answer.
async fn submit(content: &str, school: &dyn SchoolSystem) -> Result<ResponseBody, DeferredError> {
    let today = time::OffsetDateTime::now_utc().date();
    let (ns, application) = match parse_content(content, today) {
        Err((ns, refusal)) => return Ok(refusal_answer_in(&ns, &refusal)),
        Ok(read) => read,
    };
    match school.submit_application(&application).await {
        Ok(outcome) => {
            tracing::info!(order_id = application.order_id, ?outcome, "school decided");
            Ok(outcome_answer_in(&ns, &application, &outcome))
        }
        Err(e) if e.is_retryable() => Err(DeferredError::Retry(e.to_string())),
        Err(e) => Ok(answer_status(
            &ns,
            application.order_id,
            Some(&application.oktmo),
            REFUSED,
            Some(&format!("Школьная система не приняла заявление: {e}")),
        )),
    }
}

/// A complete, valid application for order `order_id` by the demo parent (112-233-445 95) for a child born in
/// 2020 into grade 1 of 2027/2028 at the demo schools: for the demo, the tests and the documentation.
pub fn sample_form(order_id: i64) -> String {
    format!(
        "<e:FormData xmlns:e=\"{NS}\" oktmo=\"46701000\"><e:orderId>{order_id}</e:orderId>\
<e:Applicant><e:Surname>Петров</e:Surname><e:Name>Иван</e:Name><e:MiddleName>Сергеевич</e:MiddleName>\
<e:Snils>112-233-445 95</e:Snils><e:Phone>+7 900 123-45-67</e:Phone><e:Email>petrov@example.org</e:Email>\
<e:IsParent>true</e:IsParent><e:IdentityDocument><e:Kind code=\"21\">Паспорт гражданина Российской Федерации</e:Kind>\
<e:Series>4510</e:Series><e:Number>123456</e:Number><e:IssueDate>2015-03-12</e:IssueDate>\
<e:Issuer>Отделом УФМС России по Московской области</e:Issuer></e:IdentityDocument></e:Applicant>\
<e:Child><e:Surname>Петрова</e:Surname><e:Name>Мария</e:Name><e:MiddleName>Ивановна</e:MiddleName>\
<e:BirthDate>2020-04-15</e:BirthDate><e:BirthDocument><e:Foreign>false</e:Foreign><e:Series>II-МЮ</e:Series>\
<e:Number>654321</e:Number><e:ActNumber>1234</e:ActNumber><e:IssueDate>2020-04-20</e:IssueDate>\
<e:Issuer>Отдел ЗАГС</e:Issuer></e:BirthDocument></e:Child>\
<e:Address><e:FullAddress>Московская область, г. Энск, ул. Ленина, д. 1, кв. 2</e:FullAddress>\
<e:PostalCode>140000</e:PostalCode><e:Region code=\"50\">Московская область</e:Region><e:House>1</e:House>\
<e:Apartment>2</e:Apartment></e:Address><e:Schools><e:School><e:Code>SCH-001</e:Code><e:Priority>1</e:Priority>\
</e:School><e:School><e:Code>SCH-002</e:Code><e:Priority>2</e:Priority></e:School></e:Schools>\
<e:Grade>1</e:Grade><e:AcademicYear>2027/2028</e:AcademicYear></e:FormData>"
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    fn check_refused(content: &str, needle: &str) {
        let refusal = parse_form(content, date!(2026 - 11 - 25)).unwrap_err();
        assert!(refusal.reason.contains(needle), "{}", refusal.reason);
    }

    #[test]
    fn a_status_change_is_a_further_change_order_info() {
        let at = time::OffsetDateTime::UNIX_EPOCH;
        let change =
            StatusChange { cursor: 3, order_id: 42, status: 250, at, comment: Some("Зачислен".into()) };
        let ResponseBody::Content { content, .. } = status_response(NS_1_1_0, &change) else { panic!("content") };
        assert!(content.contains("<e:pguId>42</e:pguId>") && content.contains("<e:orgCode>250</e:orgCode>"));
        assert!(content.contains("<e:cancelAllowed>false</e:cancelAllowed>"), "{content}");
    }

    #[test]
    fn the_sample_is_accepted() {
        let a = parse_form(&sample_form(42), date!(2026 - 11 - 25)).unwrap();
        assert_eq!((a.order_id, a.grade, a.schools.len()), (42, 1, 2));
        assert_eq!(a.applicant_snils.formatted(), "112-233-445 95");
    }

    #[test]
    fn bad_applications_get_readable_reasons() {
        let good = sample_form(42);
        check_refused(&good.replace("112-233-445 95", "112-233-445 96"), "СНИЛС заявителя");
        check_refused(&good.replace("2020-04-15", "2020-13-15"), "BirthDate");
        check_refused(&good.replace("2020-04-15", "2030-01-01"), "будущем");
        check_refused(&good.replace("<e:Grade>1</e:Grade>", "<e:Grade>12</e:Grade>"), "класс");
        check_refused(&good.replace("2027/2028", "2027/2029"), "учебный год");
        check_refused(&good.replace("<e:Priority>2</e:Priority>", "<e:Priority>1</e:Priority>"), "дважды");
        check_refused(&good.replace("oktmo=\"46701000\"", "oktmo=\"4670\""), "ОКТМО");
        let refusal =
            parse_form(&good.replace("<e:orderId>42</e:orderId>", "<e:orderId>x</e:orderId>"), date!(2026 - 11 - 25))
                .unwrap_err();
        assert!(refusal.reason.contains("номер заявления"));
    }
}
