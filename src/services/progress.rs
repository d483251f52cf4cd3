//! The progress lookup: a parent asks for the current grades of the children linked to their SNILS.
//!
//! The consent rule lives here and nowhere else: the school system returns only children linked to the SNILS with
//! consent on file, and every other case (unknown SNILS, no link, no consent, a filter that matches no child) gets
//! the same NO_DATA answer, so the response never hints that a child exists.
#![forbid(unsafe_code)]

use super::xmlout::XmlOut;
use super::{Asked, Decided, Decision, KindService, ReadRequest, Served};
use crate::school::BoxFuture;
use crate::school::{Marks, Pupil, SchoolError, SchoolSystem, Snils, SnilsError};
use crate::smev::{RejectCode, Rejection, ResponseBody};
use crate::xml::{self, Document, Limits, NodeId};
use time::macros::format_description;
use time::Date;

/// The kind of data's namespace.
pub const NS: &str = "urn://edugate/progress/1.0.0";
/// The request's root element.
pub const REQUEST: &str = "ProgressRequest";

/// The one answer for every "nothing to show" case.
pub const NO_DATA_TEXT: &str = "Сведения не найдены";

/// A progress request, read and checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProgressRequest {
    /// The applicant.
    pub applicant: Snils,
    /// Narrowing to one child, when given.
    pub child_surname: Option<String>,
    /// Narrowing to one child, when given.
    pub child_name: Option<String>,
    /// Narrowing to one child, when given.
    pub child_birth_date: Option<Date>,
    /// First day of the period.
    pub from: Date,
    /// Last day of the period.
    pub to: Date,
    /// Only this school, when given.
    pub school_code: Option<String>,
    /// Only schools of this municipality, when given.
    pub oktmo: Option<String>,
}

/// Why a request cannot be answered with data: said to the parent in words.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidRequest {
    /// The SNILS is malformed or its check number is wrong.
    #[error("СНИЛС заявителя указан неверно: {0}")]
    Snils(SnilsError),
    /// A date is not a date.
    #[error("дата «{0}» указана неверно, ожидается ГГГГ-ММ-ДД")]
    Date(String),
    /// The period is reversed or too long.
    #[error("период указан неверно: {0}")]
    Period(String),
    /// The XML is not a progress request.
    #[error("запрос не соответствует схеме: {0}")]
    Shape(String),
}

fn date(text: &str) -> Result<Date, InvalidRequest> {
    Date::parse(text.trim(), format_description!("[year]-[month]-[day]"))
        .map_err(|_| InvalidRequest::Date(text.trim().to_string()))
}

fn child_text(doc: &Document<'_>, ns: &str, parent: NodeId, local: &str) -> Option<String> {
    doc.child(parent, ns, local).map(|n| doc.text(n).trim().to_string()).filter(|t| !t.is_empty())
}

impl ProgressRequest {
    /// Reads and checks a request's content (parsing it first: tests and fuzzing; the gateway reads the delivered
    /// envelope's element with [`ProgressRequest::read`]).
    pub fn parse(content: &str) -> Result<ProgressRequest, InvalidRequest> {
        let doc = xml::parse(content, &Limits::default()).map_err(|e| InvalidRequest::Shape(e.to_string()))?;
        if !doc.is(doc.root(), NS, REQUEST) {
            return Err(InvalidRequest::Shape(format!("ожидается {REQUEST}")));
        }
        ProgressRequest::read(&doc, doc.root())
    }

    /// Reads and checks a request from its root element `root` in `doc`. Its children are read in the root's own
    /// namespace, so that a region may map its portal's namespace to this service.
    pub fn read(doc: &Document<'_>, root: NodeId) -> Result<ProgressRequest, InvalidRequest> {
        let ns = doc.element_ns(root);
        let child_text = |parent: NodeId, local: &str| child_text(doc, ns, parent, local);
        let snils =
            child_text(root, "ApplicantSnils").ok_or_else(|| InvalidRequest::Shape("нет СНИЛС заявителя".into()))?;
        let applicant = Snils::parse(&snils).map_err(InvalidRequest::Snils)?;
        let from =
            date(&child_text(root, "PeriodFrom").ok_or_else(|| InvalidRequest::Shape("нет начала периода".into()))?)?;
        let to = date(&child_text(root, "PeriodTo").ok_or_else(|| InvalidRequest::Shape("нет конца периода".into()))?)?;
        if to < from {
            return Err(InvalidRequest::Period("конец периода раньше начала".into()));
        }
        if (to - from).whole_days() > 366 {
            return Err(InvalidRequest::Period("период длиннее учебного года".into()));
        }
        let child = doc.child(root, ns, "Child");
        let child_birth_date = match child.and_then(|c| child_text(c, "BirthDate")) {
            Some(d) => Some(date(&d)?),
            None => None,
        };
        Ok(ProgressRequest {
            applicant,
            child_surname: child.and_then(|c| child_text(c, "Surname")),
            child_name: child.and_then(|c| child_text(c, "Name")),
            child_birth_date,
            from,
            to,
            school_code: child_text(root, "SchoolCode"),
            oktmo: child_text(root, "Oktmo"),
        })
    }

    /// Whether a linked child passes the request's filters (names compared without regard to case and ё/е).
    fn wants(&self, pupil: &Pupil) -> bool {
        let same = |a: &str, b: &str| fold(a) == fold(b);
        self.child_surname.as_deref().is_none_or(|s| same(s, &pupil.surname))
            && self.child_name.as_deref().is_none_or(|n| same(n, &pupil.name))
            && self.child_birth_date.is_none_or(|d| d == pupil.birth_date)
            && self.school_code.as_deref().is_none_or(|c| c == pupil.school.code)
            && self
                .oktmo
                .as_deref()
                .is_none_or(|o| pupil.school.oktmo.starts_with(o) || o.starts_with(&pupil.school.oktmo))
    }
}

fn fold(s: &str) -> String {
    s.trim().to_lowercase().replace('ё', "е")
}

/// Why an answer cannot be given now; the request will be tried again.
#[derive(Debug, thiserror::Error)]
#[error("school system: {0}")]
pub struct Unavailable(pub SchoolError);

/// Answers a progress request's content (parsing it: tests and tools; the gateway goes through
/// [`ProgressService`]).
pub async fn answer(school: &dyn SchoolSystem, content: &str) -> Result<ResponseBody, Unavailable> {
    match ProgressRequest::parse(content) {
        Ok(request) => answer_request(school, &request).await,
        Err(invalid) => Ok(invalid_answer(&invalid)),
    }
}

/// The refusal of a request that cannot be read.
fn invalid_answer(invalid: &InvalidRequest) -> ResponseBody {
    ResponseBody::Rejected(vec![Rejection {
        code: RejectCode::UnknownRequestDescription,
        description: invalid.to_string(),
    }])
}

/// Answers a request read: the grades of the applicant's linked children that pass its filters, or no data.
pub async fn answer_request(school: &dyn SchoolSystem, request: &ProgressRequest) -> Result<ResponseBody, Unavailable> {
    let children = school.linked_children(&request.applicant).await.map_err(Unavailable)?;
    let wanted: Vec<Pupil> = children.into_iter().filter(|p| request.wants(p)).collect();
    if wanted.is_empty() {
        tracing::info!(applicant = %request.applicant, "progress lookup: no data");
        return Ok(no_data());
    }
    let mut out = XmlOut::new("p", NS, "ProgressResponse", &[]);
    for pupil in &wanted {
        let marks = school.marks(&pupil.id, request.from, request.to).await.map_err(Unavailable)?;
        render_pupil(&mut out, pupil, &marks);
    }
    tracing::info!(applicant = %request.applicant, children = wanted.len(), "progress lookup answered");
    Ok(ResponseBody::Content {
        content: out.finish("ProgressResponse"),
        personal_signature: None,
        attachment_headers: vec![],
    })
}

/// After this many deliveries a lookup the school cannot serve is answered with FAILURE rather than left again.
pub const GIVE_UP_AFTER_DELIVERIES: u32 = 5;

/// The progress service's default format.
const SERVES: &[Served] = &[Served { namespace: NS, root: REQUEST, version: "1.0.0" }];

/// Progress lookups as a kind of data: a parent's request for the grades of their linked children.
#[derive(Debug, Default)]
pub struct ProgressService;

impl KindService for ProgressService {
    fn name(&self) -> &'static str {
        "progress"
    }

    fn serves(&self) -> &'static [Served] {
        SERVES
    }

    fn read(&self, doc: &Document<'_>, content: NodeId) -> Box<dyn ReadRequest> {
        match ProgressRequest::read(doc, content) {
            Ok(request) => Box::new(request),
            Err(invalid) => Box::new(Decided(invalid_answer(&invalid))),
        }
    }
}

impl ReadRequest for ProgressRequest {
    fn decide<'a>(
        self: Box<Self>,
        school: &'a dyn SchoolSystem,
        asked: Asked<'a>,
    ) -> BoxFuture<'a, Result<Decision, super::Unavailable>> {
        Box::pin(async move {
            match answer_request(school, &self).await {
                Ok(body) => Ok(Decision::Answer(body)),
                Err(e) if asked.deliveries >= GIVE_UP_AFTER_DELIVERIES => {
                    tracing::warn!(message_id = asked.message_id, error = %e, "school system unavailable: answering FAILURE");
                    Ok(Decision::Answer(ResponseBody::Rejected(vec![Rejection {
                        code: RejectCode::Failure,
                        description: "Школьная система недоступна, повторите запрос позже".into(),
                    }])))
                }
                Err(e) => Err(super::Unavailable(e.to_string())),
            }
        })
    }
}

/// The answer for every case in which there is nothing to show.
pub fn no_data() -> ResponseBody {
    ResponseBody::Rejected(vec![Rejection { code: RejectCode::NoData, description: NO_DATA_TEXT.into() }])
}

fn iso(d: Date) -> String {
    d.format(format_description!("[year]-[month]-[day]")).unwrap_or_default()
}

fn render_pupil(out: &mut XmlOut, pupil: &Pupil, marks: &Marks) {
    out.open("Pupil");
    out.leaf("Surname", &pupil.surname);
    out.leaf("Name", &pupil.name);
    out.opt_leaf("MiddleName", pupil.middle_name.as_deref());
    out.open("School");
    out.leaf("Code", &pupil.school.code);
    out.leaf("Name", &pupil.school.name);
    out.close("School");
    out.leaf("Class", &pupil.class_name);
    out.leaf("PeriodFrom", &iso(marks.from));
    out.leaf("PeriodTo", &iso(marks.to));
    for subject in &marks.subjects {
        out.open("Subject");
        out.leaf("Name", &subject.subject);
        for m in &subject.lessons {
            out.open("Mark");
            out.leaf("Date", &iso(m.date));
            out.leaf("Value", m.value.as_str());
            out.leaf("Weight", &m.weight.to_string());
            out.opt_leaf("WorkType", m.work_type.as_deref());
            out.opt_leaf("Topic", m.topic.as_deref());
            out.close("Mark");
        }
        for (term, value) in &subject.terms {
            out.open("TermMark");
            out.leaf("Term", &term.to_string());
            out.leaf("Value", value.as_str());
            out.close("TermMark");
        }
        if let Some(year) = subject.year {
            out.leaf("YearMark", year.as_str());
        }
        if let Some(avg) = subject.weighted_average() {
            out.leaf("Average", &format!("{avg:.2}"));
        }
        out.close("Subject");
    }
    out.close("Pupil");
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(body: &str) -> String {
        format!("<p:ProgressRequest xmlns:p=\"{NS}\">{body}</p:ProgressRequest>")
    }

    #[test]
    fn invalid_requests_get_readable_reasons() {
        let cases = [
            (request("<p:ApplicantSnils>112-233-445 96</p:ApplicantSnils><p:PeriodFrom>2026-09-01</p:PeriodFrom><p:PeriodTo>2026-12-31</p:PeriodTo>"), "СНИЛС"),
            (request("<p:ApplicantSnils>112-233-445 95</p:ApplicantSnils><p:PeriodFrom>2026-13-01</p:PeriodFrom><p:PeriodTo>2026-12-31</p:PeriodTo>"), "2026-13-01"),
            (request("<p:ApplicantSnils>112-233-445 95</p:ApplicantSnils><p:PeriodFrom>2026-12-31</p:PeriodFrom><p:PeriodTo>2026-09-01</p:PeriodTo>"), "период"),
            (request("<p:PeriodFrom>2026-09-01</p:PeriodFrom>"), "СНИЛС"),
        ];
        for (content, needle) in cases {
            let err = ProgressRequest::parse(&content).unwrap_err().to_string();
            assert!(err.contains(needle), "{err}");
        }
        let ok = ProgressRequest::parse(&request(
            "<p:ApplicantSnils>112-233-445 95</p:ApplicantSnils><p:Child><p:Surname>Иванов</p:Surname></p:Child><p:PeriodFrom>2026-09-01</p:PeriodFrom><p:PeriodTo>2026-12-31</p:PeriodTo><p:SchoolCode>S1</p:SchoolCode>",
        ))
        .unwrap();
        assert_eq!(ok.child_surname.as_deref(), Some("Иванов"));
        assert_eq!(ok.school_code.as_deref(), Some("S1"));
    }
}
