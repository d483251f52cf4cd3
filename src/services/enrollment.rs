//! School enrollment on the EPGU concentrator pattern: the portal sends `FormData` with one application; the
//! region answers `FormDataResponse/changeOrderInfo` with a department status code (110 registered ... 250
//! enrolled, 150 refused with the reason), and later pushes status changes to the portal.
//!
//! An application that cannot be read or fails its checks is answered at once with 150 and a reason a person can
//! read; a valid one goes to the school system through the outbox (it is retried while the school is down and
//! reaches it exactly once, its order id being the school's idempotency key), and the answer follows the school's.
#![forbid(unsafe_code)]

use super::xmlout::XmlOut;
use super::{Asked, Decision, DeferredError, KindService, Push, Pushing, ReadRequest, Served, Unavailable};
use crate::school::{BoxFuture, EnrollmentApplication, SchoolError, SchoolSystem, Snils, StatusChange, SubmitOutcome};
use crate::smev::ResponseBody;
use crate::xml::{self, Document, Limits, NodeId};
use time::macros::format_description;
use time::Date;

/// The kind of data's namespace.
pub const NS: &str = "urn://edugate/school-enrollment/1.0.0";
/// The application's root element.
pub const FORM_DATA: &str = "FormData";
/// The status push's root element (the gateway sends it as a consumer).
pub const STATUS_REQUEST: &str = "OrderStatusRequest";

/// EPGU department status: registered.
pub const REGISTERED: u16 = 110;
/// EPGU department status: refused, with the reason.
pub const REFUSED: u16 = 150;
/// EPGU department status: enrolled.
pub const ENROLLED: u16 = 250;

/// An application that cannot be accepted, with its order id when it could be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{reason}")]
pub struct Refusal {
    /// The order, when the form got that far.
    pub order_id: Option<i64>,
    /// The OKTMO, when the form got that far.
    pub oktmo: Option<String>,
    /// Why, for the parent.
    pub reason: String,
}

struct Reader<'d, 'a> {
    doc: &'d Document<'a>,
    /// The namespace of the form's elements (the root's).
    ns: &'d str,
    order_id: Option<i64>,
    oktmo: Option<String>,
}

impl Reader<'_, '_> {
    fn refuse(&self, reason: impl Into<String>) -> Refusal {
        Refusal { order_id: self.order_id, oktmo: self.oktmo.clone(), reason: reason.into() }
    }

    fn node(&self, parent: NodeId, local: &str) -> Result<NodeId, Refusal> {
        self.doc.child(parent, self.ns, local).ok_or_else(|| self.refuse(format!("в заявлении нет поля {local}")))
    }

    fn text(&self, parent: NodeId, local: &str) -> Result<String, Refusal> {
        let text = self.doc.text(self.node(parent, local)?).trim().to_string();
        if text.is_empty() {
            return Err(self.refuse(format!("поле {local} не заполнено")));
        }
        Ok(text)
    }

    fn date(&self, parent: NodeId, local: &str) -> Result<Date, Refusal> {
        let text = self.text(parent, local)?;
        Date::parse(&text, format_description!("[year]-[month]-[day]"))
            .map_err(|_| self.refuse(format!("дата в поле {local} («{text}») указана неверно")))
    }

    fn snils(&self, parent: NodeId, local: &str, whose: &str) -> Result<Snils, Refusal> {
        let text = self.text(parent, local)?;
        Snils::parse(&text).map_err(|e| self.refuse(format!("СНИЛС {whose} указан неверно: {e}")))
    }
}

/// Reads and checks an application. `today` bounds birth dates.
pub fn parse_form(content: &str, today: Date) -> Result<EnrollmentApplication, Refusal> {
    let doc = xml::parse(content, &Limits::default()).map_err(|e| Refusal {
        order_id: None,
        oktmo: None,
        reason: format!("заявление не читается: {e}"),
    })?;
    read_form(&doc, doc.root(), today)
}

/// Reads and checks an application from its root element `root` in `doc`.
pub fn read_form(doc: &Document<'_>, root: NodeId, today: Date) -> Result<EnrollmentApplication, Refusal> {
    let mut r = Reader { doc, ns: NS, order_id: None, oktmo: None };
    if !doc.is(root, NS, FORM_DATA) {
        return Err(r.refuse("ожидается заявление FormData"));
    }
    let oktmo = doc.attr(root, "oktmo").map(str::trim).unwrap_or("").to_string();
    let order_text = r.text(root, "orderId")?;
    r.order_id = order_text.parse().ok();
    let order_id = r.order_id.ok_or_else(|| r.refuse(format!("номер заявления «{order_text}» указан неверно")))?;
    if !(oktmo.len() == 8 || oktmo.len() == 11) || !oktmo.bytes().all(|b| b.is_ascii_digit()) {
        return Err(r.refuse(format!("код ОКТМО «{oktmo}» указан неверно")));
    }
    r.oktmo = Some(oktmo.clone());
    let applicant = r.node(root, "Applicant")?;
    let child = r.node(root, "Child")?;
    let applicant_snils = r.snils(applicant, "Snils", "заявителя")?;
    if doc.child(child, r.ns, "Snils").is_some() {
        r.snils(child, "Snils", "ребёнка")?;
    }
    let child_birth_date = r.date(child, "BirthDate")?;
    if child_birth_date > today {
        return Err(r.refuse("дата рождения ребёнка в будущем"));
    }
    let schools = schools(&r, root)?;
    let grade_text = r.text(root, "Grade")?;
    let grade = grade_text.parse::<u8>().ok().filter(|g| (1..=11).contains(g));
    let grade = grade.ok_or_else(|| r.refuse(format!("класс «{grade_text}» указан неверно: ожидается 1–11")))?;
    let academic_year = r.text(root, "AcademicYear")?;
    check_academic_year(&r, &academic_year)?;
    Ok(EnrollmentApplication {
        order_id,
        oktmo,
        applicant_snils,
        applicant_surname: r.text(applicant, "Surname")?,
        applicant_name: r.text(applicant, "Name")?,
        child_surname: r.text(child, "Surname")?,
        child_name: r.text(child, "Name")?,
        child_birth_date,
        schools,
        grade,
        academic_year,
        benefit_code: doc.child(root, r.ns, "BenefitCategory").and_then(|b| doc.attr(b, "code")).map(String::from),
    })
}

fn schools(r: &Reader<'_, '_>, root: NodeId) -> Result<Vec<(String, u8)>, Refusal> {
    let list = r.node(root, "Schools")?;
    let mut out: Vec<(String, u8)> = Vec::new();
    for s in r.doc.child_elements(list).filter(|&s| r.doc.is(s, r.ns, "School")) {
        let code = r.text(s, "Code")?;
        let priority_text = r.text(s, "Priority")?;
        let priority = priority_text.parse::<u8>().ok().filter(|p| (1..=5).contains(p));
        let priority = priority.ok_or_else(|| r.refuse(format!("приоритет школы {code} указан неверно")))?;
        if out.iter().any(|(c, p)| *c == code || *p == priority) {
            return Err(r.refuse(format!("школа {code} или приоритет {priority} указаны дважды")));
        }
        out.push((code, priority));
    }
    if out.is_empty() {
        return Err(r.refuse("не выбрана ни одна школа"));
    }
    out.sort_by_key(|(_, p)| *p);
    Ok(out)
}

fn check_academic_year(r: &Reader<'_, '_>, year: &str) -> Result<(), Refusal> {
    let ok = year
        .split_once('/')
        .and_then(|(a, b)| Some((a.parse::<i32>().ok()?, b.parse::<i32>().ok()?)))
        .is_some_and(|(a, b)| b == a + 1);
    if ok {
        Ok(())
    } else {
        Err(r.refuse(format!("учебный год «{year}» указан неверно: ожидается, например, 2027/2028")))
    }
}

/// The `FormDataResponse/changeOrderInfo` answer.
pub fn change_order_info(order_id: i64, oktmo: Option<&str>, status: u16, comment: Option<&str>) -> ResponseBody {
    let attrs: Vec<(&str, &str)> = oktmo.map(|o| vec![("oktmo", o)]).unwrap_or_default();
    let mut out = XmlOut::new("e", NS, "FormDataResponse", &attrs);
    out.open("changeOrderInfo");
    out.open("orderId");
    out.leaf("pguId", &order_id.to_string());
    out.close("orderId");
    out.open("statusCode");
    out.leaf("orgCode", &status.to_string());
    out.close("statusCode");
    out.opt_leaf("comment", comment);
    out.close("changeOrderInfo");
    ResponseBody::Content {
        content: out.finish("FormDataResponse"),
        personal_signature: None,
        attachment_headers: vec![],
    }
}

/// The answer to a refused application; an application whose order id could not be read gets order 0.
pub fn refusal_answer(refusal: &Refusal) -> ResponseBody {
    change_order_info(refusal.order_id.unwrap_or(0), refusal.oktmo.as_deref(), REFUSED, Some(&refusal.reason))
}

/// The answer that follows the school system's decision.
pub fn outcome_answer(application: &EnrollmentApplication, outcome: &SubmitOutcome) -> ResponseBody {
    let (status, comment) = match outcome {
        SubmitOutcome::Registered { status } => (*status, "Заявление зарегистрировано".to_string()),
        SubmitOutcome::AlreadySubmitted { status } => (*status, "Заявление уже зарегистрировано".to_string()),
        SubmitOutcome::Refused { status, reason } => (*status, reason.clone()),
    };
    change_order_info(application.order_id, Some(&application.oktmo), status, Some(&comment))
}

/// The content of a status push to the portal.
pub fn status_request(order_id: i64, status: u16, at: &str, comment: Option<&str>) -> String {
    let mut out = XmlOut::new("e", NS, STATUS_REQUEST, &[]);
    out.leaf("orderId", &order_id.to_string());
    out.open("statusCode");
    out.leaf("orgCode", &status.to_string());
    out.close("statusCode");
    out.leaf("statusDate", at);
    out.opt_leaf("comment", comment);
    out.finish(STATUS_REQUEST)
}

/// The enrollment service's default format.
const SERVES: &[Served] = &[Served { namespace: NS, root: FORM_DATA, version: "1.0.0" }];

/// School enrollment applications as a kind of data: a valid application is deferred to the school system (through
/// the outbox, so it reaches the school exactly once however long the school is down), the answer follows the
/// school's decision, and the school's later status changes are pushed to the portal.
#[derive(Debug, Default)]
pub struct EnrollmentService;

/// An application as read from a delivered request: checked, with its content kept as received for the school call.
struct Application {
    /// The application, or why it is refused.
    checked: Result<EnrollmentApplication, Refusal>,
    /// The content as received (a self-contained element), which the deferred work reads again.
    content: String,
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
        let checked = read_form(doc, content, today);
        let content = if checked.is_ok() { doc.self_contained_source(content).into_owned() } else { String::new() };
        Box::new(Application { checked, content })
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

/// The request that tells the portal about `change`.
fn status_pushing(change: &StatusChange) -> Pushing {
    let at = crate::smev::format_datetime(change.at);
    let content = status_request(change.order_id, change.status, &at, change.comment.as_deref());
    Pushing {
        cursor: change.cursor,
        push: Some(Push::Request(content)),
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
                Err(refusal) => Ok(Decision::Answer(refusal_answer(&refusal))),
                Ok(application) => {
                    tracing::info!(
                        message_id = asked.message_id,
                        order_id = application.order_id,
                        "application queued for the school"
                    );
                    Ok(Decision::Defer(self.content))
                }
            }
        })
    }
}

/// Submits a deferred application (its content as received) and returns the answer that follows the school's
/// decision. While the school is down the work is retried; a school that refuses the request outright still gets
/// the parent an answer.
async fn submit(content: &str, school: &dyn SchoolSystem) -> Result<ResponseBody, DeferredError> {
    let today = time::OffsetDateTime::now_utc().date();
    let application = match parse_form(content, today) {
        Err(refusal) => return Ok(refusal_answer(&refusal)),
        Ok(application) => application,
    };
    match school.submit_application(&application).await {
        Ok(outcome) => {
            tracing::info!(order_id = application.order_id, ?outcome, "school decided");
            Ok(outcome_answer(&application, &outcome))
        }
        Err(e) if e.is_retryable() => Err(DeferredError::Retry(e.to_string())),
        Err(e) => Ok(change_order_info(
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
