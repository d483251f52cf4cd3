//! Format 1.1.0 (`xsd/school-enrollment-1.1.0.xsd`), on the EPGU concentrator's pattern: `FormData[@oktmo]` holds
//! one request of a choice (`ApplicationRequest`, `GetApplicationRequest`, `cancelRequest`), answered by
//! `FormDataResponse` holding `changeOrderInfo`, `GetApplicationResponse` or `cancelResponse`.
//!
//! Requests are read in the namespace of their root, and answers written in the namespace given, so that a region
//! may map its portal's own namespace to this format.
#![forbid(unsafe_code)]

use crate::school::kindergarten::model::{
    Address, Applicant, BirthDoc, CancelResult, Cancelled, Child, Coded, DocInfo, FileRef, IdentityDoc, Representative,
};
use crate::school::{DesiredSchool, EnrollmentApplication, EnrollmentBenefit, SchoolSibling};
use crate::services::enrollment::read::{Reader, Refusal};
use crate::services::xmlout::XmlOut;
use crate::xml::{Document, NodeId};
use time::Date;

/// The namespace of format 1.1.0.
pub const NS: &str = "urn://edugate/school-enrollment/1.1.0";

/// The longest comment the schema allows, in characters.
pub const COMMENT_MAX: usize = 2048;

/// One request of the `FormData` choice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    /// `ApplicationRequest`: a new application (or the same order again).
    Application(Box<EnrollmentApplication>),
    /// `GetApplicationRequest`: the application as held, for the portal's edit form.
    Get {
        /// The order.
        order_id: i64,
    },
    /// `cancelRequest`: the applicant withdraws the application.
    Cancel {
        /// The order.
        order_id: i64,
        /// The applicant's reason, if given.
        reason: Option<String>,
    },
}

/// Reads a 1.1.0 `FormData` (in its root's namespace) and checks it; `today` bounds birth dates.
pub fn read_request(doc: &Document<'_>, root: NodeId, today: Date) -> Result<Request, Refusal> {
    let ns = doc.element_ns(root);
    let mut r = Reader::new(doc, ns);
    if !doc.is(root, ns, "FormData") {
        return Err(r.refuse("ожидается заявление FormData"));
    }
    let oktmo = r.oktmo(root)?;
    let requests: Vec<NodeId> = doc.child_elements(root).collect();
    let [request] = requests[..] else {
        return Err(r.refuse("FormData должен содержать ровно один запрос"));
    };
    match doc.as_element(request).map(|e| e.local).unwrap_or_default() {
        "ApplicationRequest" if doc.is(request, ns, "ApplicationRequest") => {
            read_application(&mut r, request, oktmo, today).map(|a| Request::Application(Box::new(a)))
        }
        "GetApplicationRequest" if doc.is(request, ns, "GetApplicationRequest") => {
            Ok(Request::Get { order_id: r.order_id(request)? })
        }
        "cancelRequest" if doc.is(request, ns, "cancelRequest") => {
            Ok(Request::Cancel { order_id: r.order_id(request)?, reason: r.opt_text(request, "reason") })
        }
        other => Err(r.refuse(format!("запрос {other} не поддерживается"))),
    }
}

/// Reads an `ApplicationRequest`.
fn read_application(
    r: &mut Reader<'_, '_>,
    at: NodeId,
    oktmo: String,
    today: Date,
) -> Result<EnrollmentApplication, Refusal> {
    let order_id = r.order_id(at)?;
    let service_type = r.text(at, "ServicesType")?;
    let filed_at = match r.opt_text(at, "FilingDate") {
        Some(text) => Some(
            time::OffsetDateTime::parse(&text, &time::format_description::well_known::Rfc3339)
                .map_err(|_| r.refuse(format!("дата подачи FilingDate («{text}») указана неверно")))?,
        ),
        None => None,
    };
    let person = r.node(at, "PersonInfo")?;
    let applicant_snils = r.snils(person, "PersonSnils", "заявителя")?;
    let applicant = applicant(r, person, &applicant_snils)?;
    let identity = identity(r, r.node(at, "PersonIdentityDocInfo")?)?;
    let child_node = r.node(at, "ChildInfo")?;
    let child_snils = match r.opt_node(child_node, "ChildSnils") {
        Some(_) => Some(r.snils(child_node, "ChildSnils", "ребёнка")?),
        None => None,
    };
    let child = child(r, child_node)?;
    if child.birth_date > today {
        return Err(r.refuse("дата рождения ребёнка в будущем"));
    }
    let address = address(r, r.node(at, "Address")?)?;
    let entry = r.node(at, "EntryParams")?;
    let grade = r.grade(entry)?;
    let academic_year = r.academic_year(entry)?;
    let schools = schools(r, r.node(at, "EduOrganizations")?)?;
    let siblings = r.nodes(at, "BrotherSisterInfo").map(|s| sibling(r, s)).collect::<Result<Vec<_>, _>>()?;
    let benefit = r.opt_node(at, "BenefitInfo").map(|b| benefit(r, b)).transpose()?;
    let documents = r.nodes(at, "AppliedDocument").map(|d| file(r, d)).collect::<Result<Vec<_>, _>>()?;
    Ok(EnrollmentApplication {
        order_id,
        oktmo,
        service_type: Some(service_type),
        filed_at,
        applicant_snils,
        applicant,
        identity: Some(identity),
        child,
        child_snils,
        address: Some(address),
        schools,
        grade,
        academic_year,
        language: r.opt_coded(entry, "Language"),
        adapted_program: r.opt_coded(entry, "AdaptedProgram"),
        siblings,
        benefit,
        documents,
    })
}

fn applicant(r: &Reader<'_, '_>, at: NodeId, snils: &crate::school::Snils) -> Result<Applicant, Refusal> {
    let representative = match r.opt_node(at, "OtherRepresentative") {
        Some(rep) => Some(Representative {
            doc_name: r.text(rep, "OtherRepresentativeDocName")?,
            doc_series: r.opt_text(rep, "OtherRepresentativeDocSeries"),
            doc_number: r.text(rep, "OtherRepresentativeDocNumber")?,
            doc_date: r.date(rep, "OtherRepresentativeDocDate")?,
            doc_issued: r.text(rep, "OtherRepresentativeDocIssued")?,
        }),
        None => None,
    };
    let is_parent = r.boolean(at, "Parents")?;
    if !is_parent && representative.is_none() {
        return Err(
            r.refuse("заявитель не родитель, а документ законного представителя (OtherRepresentative) не указан")
        );
    }
    Ok(Applicant {
        surname: r.text(at, "PersonSurname")?,
        name: r.text(at, "PersonName")?,
        middle_name: r.opt_text(at, "PersonMiddleName"),
        phone: r.text(at, "PersonPhone")?,
        email: r.text(at, "PersonEmail")?,
        is_parent,
        representative,
        snils: Some(snils.clone()),
    })
}

fn identity(r: &Reader<'_, '_>, at: NodeId) -> Result<IdentityDoc, Refusal> {
    Ok(IdentityDoc {
        kind: r.coded(at, "IdentityDocName")?,
        series: r.opt_text(at, "IdentityDocSeries"),
        number: r.text(at, "IdentityDocNumber")?,
        issue_date: r.date(at, "IdentityDocIssueDate")?,
        issuer_code: r.opt_text(at, "IdentityDocIssueCode"),
        issued: Some(r.text(at, "IdentityDocIssued")?),
    })
}

fn child(r: &Reader<'_, '_>, at: NodeId) -> Result<Child, Refusal> {
    let birth_doc = if let Some(doc) = r.opt_node(at, "ChildBirthDocRF") {
        BirthDoc::Russian {
            series: r.text(doc, "ChildBirthDocSeries")?,
            number: r.text(doc, "ChildBirthDocNumber")?,
            issue_date: r.date(doc, "ChildBirthDocIssueDate")?,
            act_number: r.opt_text(doc, "ChildBirthDocActNumber"),
            act_date: r.opt_date(doc, "ChildBirthDocActDate")?,
            issued: r.text(doc, "ChildBirthDocIssued")?,
        }
    } else if let Some(doc) = r.opt_node(at, "ChildBirthDocForeign") {
        BirthDoc::Foreign {
            name: r.text(doc, "ChildBirthDocName")?,
            series: r.opt_text(doc, "ChildBirthDocSeries"),
            number: r.text(doc, "ChildBirthDocNumber")?,
            issue_date: r.date(doc, "ChildBirthDocIssueDate")?,
            issued: r.text(doc, "ChildBirthDocIssued")?,
        }
    } else if let Some(doc) = r.opt_node(at, "ChildBirthAct") {
        BirthDoc::Act {
            act_number: r.text(doc, "ChildBirthDocActNumber")?,
            act_date: r.date(doc, "ChildBirthDocActDate")?,
            issued: r.opt_text(doc, "ChildActBirthDocIssued"),
        }
    } else {
        return Err(r.refuse("не указан документ о рождении ребёнка"));
    };
    Ok(Child {
        surname: r.text(at, "ChildSurname")?,
        name: r.text(at, "ChildName")?,
        middle_name: r.opt_text(at, "ChildMiddleName"),
        birth_date: r.date(at, "ChildBirthDate")?,
        birth_doc: Some(birth_doc),
    })
}

fn address(r: &Reader<'_, '_>, at: NodeId) -> Result<Address, Refusal> {
    Ok(Address {
        full: r.text(at, "FullAddress")?,
        index: r.text_or_empty(at, "Index")?,
        region: r.coded(at, "Region")?,
        area: r.coded(at, "Area")?,
        city: r.coded(at, "City")?,
        city_area: r.coded(at, "CityArea")?,
        place: r.coded(at, "Place")?,
        street: r.coded(at, "Street")?,
        additional_area: r.coded(at, "AdditionalArea")?,
        additional_street: r.coded(at, "AdditionalStreet")?,
        house: r.coded(at, "House")?,
        building1: r.text_or_empty(at, "Building1")?,
        building2: r.text_or_empty(at, "Building2")?,
        apartment: r.text_or_empty(at, "Apartment")?,
    })
}

fn schools(r: &Reader<'_, '_>, at: NodeId) -> Result<Vec<DesiredSchool>, Refusal> {
    let mut out: Vec<DesiredSchool> = Vec::new();
    for node in r.nodes(at, "EduOrganization") {
        let Coded { code, text } = r.coded_of(node);
        if code.is_empty() {
            return Err(r.refuse("у выбранной школы не указан код"));
        }
        let priority_text = r.doc.attr(node, "PriorityNumber").map(str::trim).unwrap_or("");
        let priority = priority_text.parse::<u8>().ok().filter(|p| (1..=5).contains(p));
        let priority = priority.ok_or_else(|| r.refuse(format!("приоритет школы {code} указан неверно")))?;
        if out.iter().any(|s| s.code == code || s.priority == priority) {
            return Err(r.refuse(format!("школа {code} или приоритет {priority} указаны дважды")));
        }
        out.push(DesiredSchool { code, name: text, priority });
    }
    if out.is_empty() {
        return Err(r.refuse("не выбрана ни одна школа"));
    }
    out.sort_by_key(|s| s.priority);
    Ok(out)
}

fn sibling(r: &Reader<'_, '_>, at: NodeId) -> Result<SchoolSibling, Refusal> {
    Ok(SchoolSibling {
        surname: r.text(at, "ChildSurname")?,
        name: r.text(at, "ChildName")?,
        middle_name: r.opt_text(at, "ChildMiddleName"),
        school: r.coded(at, "EduOrganization")?,
    })
}

fn benefit(r: &Reader<'_, '_>, at: NodeId) -> Result<EnrollmentBenefit, Refusal> {
    let doc = match r.opt_node(at, "BenefitDocInfo") {
        Some(doc) => Some(DocInfo {
            issue_date: r.date(doc, "DocIssueDate")?,
            issued: r.text(doc, "DocIssued")?,
            expires: r.opt_date(doc, "DocExpirationDate")?,
        }),
        None => None,
    };
    let files = r.nodes(at, "BenefitFile").map(|f| file(r, f)).collect::<Result<Vec<_>, _>>()?;
    Ok(EnrollmentBenefit { category: r.coded(at, "BenefitCategory")?, doc, files })
}

fn file(r: &Reader<'_, '_>, at: NodeId) -> Result<FileRef, Refusal> {
    Ok(FileRef {
        code: r.text(at, "CodeDocument")?,
        name: r.text(at, "NameDocument")?,
        mime: r.text_or_empty(at, "TypeDocument")?,
    })
}

/// `comment` cut to the schema's limit on a character boundary.
pub fn cut_comment(comment: &str) -> &str {
    cut(comment, COMMENT_MAX)
}

/// Whether the portal may offer "cancel" for an application in `status`: not once it has ended (150) or the child
/// is enrolled (250).
pub fn cancel_allowed(status: u16) -> bool {
    !matches!(status, 150 | 250)
}

/// A `FormDataResponse/changeOrderInfo` in `ns`: the department status, the comment (cut to the schema's limit),
/// and whether the portal may offer "cancel".
pub fn change_order_info(ns: &str, order_id: i64, status: u16, comment: Option<&str>) -> String {
    let mut out = XmlOut::new("e", ns, "FormDataResponse", &[]);
    out.open("changeOrderInfo");
    out.open("orderId");
    out.leaf("pguId", &order_id.to_string());
    out.close("orderId");
    out.open("statusCode");
    out.leaf("orgCode", &status.to_string());
    out.close("statusCode");
    out.opt_leaf("comment", comment.map(cut_comment));
    out.leaf("cancelAllowed", if cancel_allowed(status) { "true" } else { "false" });
    out.close("changeOrderInfo");
    out.finish("FormDataResponse")
}

/// A `FormDataResponse/cancelResponse` in `ns`.
pub fn cancel_response(ns: &str, order_id: i64, cancelled: &Cancelled) -> String {
    let mut out = XmlOut::new("e", ns, "FormDataResponse", &[]);
    out.open("cancelResponse");
    out.leaf("orderId", &order_id.to_string());
    let result = match cancelled.result {
        CancelResult::Cancelled => "CANCELLED",
        CancelResult::InProgress => "IN_PROGRESS",
        CancelResult::Rejected => "REJECTED",
    };
    out.leaf("result", result);
    out.opt_leaf("comment", cancelled.comment.as_deref().map(cut_comment));
    out.close("cancelResponse");
    out.finish("FormDataResponse")
}

/// A `FormDataResponse/GetApplicationResponse` in `ns`: the application as held, without files. Blocks an older
/// application lacks (no identity document or address in the journal) are written with empty values, which the
/// portal's form shows as fields to fill in.
pub fn application_response(ns: &str, a: &EnrollmentApplication) -> String {
    let mut out = XmlOut::new("e", ns, "FormDataResponse", &[]);
    out.open("GetApplicationResponse");
    out.leaf("orderId", &a.order_id.to_string());
    write_person(&mut out, a);
    write_identity(&mut out, a.identity.as_ref());
    write_child(&mut out, a);
    write_address(&mut out, a.address.as_ref());
    out.open("EntryParams");
    out.leaf("Grade", &a.grade.to_string());
    out.leaf("AcademicYear", &a.academic_year);
    if let Some(language) = &a.language {
        coded(&mut out, "Language", language);
    }
    if let Some(program) = &a.adapted_program {
        coded(&mut out, "AdaptedProgram", program);
    }
    out.close("EntryParams");
    out.open("EduOrganizations");
    for school in &a.schools {
        let priority = school.priority.to_string();
        let attrs = [("code", cut(&school.code, 50)), ("PriorityNumber", &priority)];
        out.leaf_with("EduOrganization", &attrs, cut(&school.name, 256));
    }
    out.close("EduOrganizations");
    for sibling in a.siblings.iter().take(10) {
        out.open("BrotherSisterInfo");
        out.leaf("ChildSurname", cut(&sibling.surname, 256));
        out.leaf("ChildName", cut(&sibling.name, 256));
        out.opt_leaf("ChildMiddleName", sibling.middle_name.as_deref().map(|t| cut(t, 256)));
        coded(&mut out, "EduOrganization", &sibling.school);
        out.close("BrotherSisterInfo");
    }
    if let Some(benefit) = &a.benefit {
        out.open("BenefitInfo");
        coded(&mut out, "BenefitCategory", &benefit.category);
        if let Some(doc) = &benefit.doc {
            out.open("BenefitDocInfo");
            out.leaf("DocIssueDate", &doc.issue_date.to_string());
            out.leaf("DocIssued", cut(&doc.issued, 256));
            out.opt_leaf("DocExpirationDate", doc.expires.map(|d| d.to_string()).as_deref());
            out.close("BenefitDocInfo");
        }
        out.close("BenefitInfo");
    }
    out.close("GetApplicationResponse");
    out.finish("FormDataResponse")
}

fn coded(out: &mut XmlOut, name: &str, value: &Coded) {
    out.leaf_with(name, &[("code", cut(&value.code, 50))], cut(&value.text, 256));
}

/// `text` cut to `max` characters (the schema's limit of the element written), on a character boundary: data read
/// from format 1.0.0 or from a school system may be longer than 1.1.0 allows.
fn cut(text: &str, max: usize) -> &str {
    match text.char_indices().nth(max) {
        Some((at, _)) => &text[..at],
        None => text,
    }
}

/// A phone number as 1.1.0 writes it (at most 14 characters): the digits and a leading plus, without the spaces,
/// hyphens and brackets people write.
fn phone(text: &str) -> String {
    text.chars().filter(|c| c.is_ascii_digit() || *c == '+').collect()
}

fn write_person(out: &mut XmlOut, a: &EnrollmentApplication) {
    let p = &a.applicant;
    out.open("PersonInfo");
    out.leaf("PersonSurname", cut(&p.surname, 256));
    out.leaf("PersonName", cut(&p.name, 256));
    out.opt_leaf("PersonMiddleName", p.middle_name.as_deref().map(|t| cut(t, 256)));
    out.leaf("PersonSnils", &a.applicant_snils.formatted());
    out.leaf("PersonPhone", cut(&phone(&p.phone), 14));
    out.leaf("PersonEmail", cut(&p.email, 256));
    out.leaf("Parents", if p.is_parent { "true" } else { "false" });
    if let Some(rep) = &p.representative {
        out.open("OtherRepresentative");
        out.leaf("OtherRepresentativeDocName", cut(&rep.doc_name, 256));
        out.opt_leaf("OtherRepresentativeDocSeries", rep.doc_series.as_deref().map(|t| cut(t, 20)));
        out.leaf("OtherRepresentativeDocNumber", cut(&rep.doc_number, 20));
        out.leaf("OtherRepresentativeDocDate", &rep.doc_date.to_string());
        out.leaf("OtherRepresentativeDocIssued", cut(&rep.doc_issued, 256));
        out.close("OtherRepresentative");
    }
    out.close("PersonInfo");
}

fn write_identity(out: &mut XmlOut, doc: Option<&IdentityDoc>) {
    out.open("PersonIdentityDocInfo");
    match doc {
        Some(doc) => {
            coded(out, "IdentityDocName", &doc.kind);
            out.opt_leaf("IdentityDocSeries", doc.series.as_deref().map(|t| cut(t, 20)));
            out.leaf("IdentityDocNumber", cut(&doc.number, 20));
            out.leaf("IdentityDocIssueDate", &doc.issue_date.to_string());
            out.opt_leaf("IdentityDocIssueCode", doc.issuer_code.as_deref().map(|t| cut(t, 6)));
            out.leaf("IdentityDocIssued", cut(doc.issued.as_deref().unwrap_or(""), 256));
        }
        None => {
            coded(out, "IdentityDocName", &Coded::default());
            out.leaf("IdentityDocNumber", "");
            out.leaf("IdentityDocIssueDate", "1900-01-01");
            out.leaf("IdentityDocIssued", "");
        }
    }
    out.close("PersonIdentityDocInfo");
}

fn write_child(out: &mut XmlOut, a: &EnrollmentApplication) {
    let c = &a.child;
    out.open("ChildInfo");
    out.leaf("ChildSurname", cut(&c.surname, 256));
    out.leaf("ChildName", cut(&c.name, 256));
    out.opt_leaf("ChildMiddleName", c.middle_name.as_deref().map(|t| cut(t, 256)));
    out.leaf("ChildBirthDate", &c.birth_date.to_string());
    out.opt_leaf("ChildSnils", a.child_snils.as_ref().map(|s| s.formatted()).as_deref());
    match &c.birth_doc {
        Some(BirthDoc::Russian { series, number, issue_date, act_number, act_date, issued }) => {
            out.open("ChildBirthDocRF");
            out.leaf("ChildBirthDocSeries", cut(series, 20));
            out.leaf("ChildBirthDocNumber", cut(number, 20));
            out.leaf("ChildBirthDocIssueDate", &issue_date.to_string());
            out.opt_leaf("ChildBirthDocActNumber", act_number.as_deref().map(|t| cut(t, 21)));
            out.opt_leaf("ChildBirthDocActDate", act_date.map(|d| d.to_string()).as_deref());
            out.leaf("ChildBirthDocIssued", cut(issued, 256));
            out.close("ChildBirthDocRF");
        }
        Some(BirthDoc::Foreign { name, series, number, issue_date, issued }) => {
            out.open("ChildBirthDocForeign");
            out.leaf("ChildBirthDocName", cut(name, 256));
            out.opt_leaf("ChildBirthDocSeries", series.as_deref().map(|t| cut(t, 20)));
            out.leaf("ChildBirthDocNumber", cut(number, 20));
            out.leaf("ChildBirthDocIssueDate", &issue_date.to_string());
            out.leaf("ChildBirthDocIssued", cut(issued, 256));
            out.close("ChildBirthDocForeign");
        }
        Some(BirthDoc::Act { act_number, act_date, issued }) => {
            out.open("ChildBirthAct");
            out.leaf("ChildBirthDocActNumber", cut(act_number, 21));
            out.leaf("ChildBirthDocActDate", &act_date.to_string());
            out.opt_leaf("ChildActBirthDocIssued", issued.as_deref().map(|t| cut(t, 256)));
            out.close("ChildBirthAct");
        }
        None => {
            out.open("ChildBirthAct");
            out.leaf("ChildBirthDocActNumber", "");
            out.leaf("ChildBirthDocActDate", "1900-01-01");
            out.close("ChildBirthAct");
        }
    }
    out.close("ChildInfo");
}

fn write_address(out: &mut XmlOut, address: Option<&Address>) {
    let empty = Address::default();
    let a = address.unwrap_or(&empty);
    out.open("Address");
    out.leaf("FullAddress", cut(&a.full, 1024));
    out.leaf("Index", cut(&a.index, 6));
    for (name, part) in [
        ("Region", &a.region),
        ("Area", &a.area),
        ("City", &a.city),
        ("CityArea", &a.city_area),
        ("Place", &a.place),
        ("Street", &a.street),
        ("AdditionalArea", &a.additional_area),
        ("AdditionalStreet", &a.additional_street),
        ("House", &a.house),
    ] {
        coded(out, name, part);
    }
    out.leaf("Building1", cut(&a.building1, 50));
    out.leaf("Building2", cut(&a.building2, 50));
    out.leaf("Apartment", cut(&a.apartment, 50));
    out.close("Address");
}

/// A complete, valid 1.1.0 `ApplicationRequest` for order `order_id` by the demo parent (112-233-445 95) for a
/// child born on `birth` into grade 1 of 2027/2028 at the demo schools: for the demo, the tests and the
/// documentation.
pub fn sample_request(order_id: i64, birth: &str) -> String {
    format!(
        "<FormData xmlns=\"{NS}\" oktmo=\"46701000\"><ApplicationRequest><orderId>{order_id}</orderId>\
<ServicesType>600426</ServicesType><FilingDate>2027-01-20T09:00:12+03:00</FilingDate>\
<PersonInfo><PersonSurname>Петров</PersonSurname><PersonName>Иван</PersonName>\
<PersonMiddleName>Сергеевич</PersonMiddleName><PersonSnils>112-233-445 95</PersonSnils>\
<PersonPhone>+79001234567</PersonPhone><PersonEmail>petrov@example.org</PersonEmail><Parents>true</Parents>\
</PersonInfo><PersonIdentityDocInfo><IdentityDocName code=\"1\">Паспорт гражданина Российской Федерации\
</IdentityDocName><IdentityDocSeries>4510</IdentityDocSeries><IdentityDocNumber>123456</IdentityDocNumber>\
<IdentityDocIssueDate>2015-03-12</IdentityDocIssueDate><IdentityDocIssueCode>500001</IdentityDocIssueCode>\
<IdentityDocIssued>Отделом УФМС России по Московской области</IdentityDocIssued></PersonIdentityDocInfo>\
<ChildInfo><ChildSurname>Петрова</ChildSurname><ChildName>Мария</ChildName>\
<ChildMiddleName>Ивановна</ChildMiddleName><ChildBirthDate>{birth}</ChildBirthDate><ChildBirthDocRF>\
<ChildBirthDocSeries>II-МЮ</ChildBirthDocSeries><ChildBirthDocNumber>654321</ChildBirthDocNumber>\
<ChildBirthDocIssueDate>2020-04-20</ChildBirthDocIssueDate><ChildBirthDocActNumber>1234</ChildBirthDocActNumber>\
<ChildBirthDocActDate>2020-04-20</ChildBirthDocActDate><ChildBirthDocIssued>Отдел ЗАГС г. Энска</ChildBirthDocIssued>\
</ChildBirthDocRF></ChildInfo><Address><FullAddress>Московская обл., г. Энск, ул. Ленина, д. 1, кв. 2</FullAddress>\
<Index>140000</Index><Region code=\"29251dcf-00a1-4e34-98d4-5c47484a36d4\">Московская обл.</Region>\
<Area code=\"\"></Area><City code=\"0c5b2444-70a0-4932-980c-b4dc0d3f02b5\">г. Энск</City><CityArea code=\"\"></CityArea>\
<Place code=\"\"></Place><Street code=\"9b8f1e6e-5a0d-4a5e-8f5c-2b1a3c4d5e6f\">ул. Ленина</Street>\
<AdditionalArea code=\"\"></AdditionalArea><AdditionalStreet code=\"\"></AdditionalStreet>\
<House code=\"\">1</House><Building1></Building1><Building2></Building2><Apartment>2</Apartment></Address>\
<EntryParams><Grade>1</Grade><AcademicYear>2027/2028</AcademicYear><Language code=\"rus\">русский</Language>\
</EntryParams><EduOrganizations><EduOrganization code=\"SCH-001\" PriorityNumber=\"1\">МБОУ СОШ № 1</EduOrganization>\
<EduOrganization code=\"SCH-002\" PriorityNumber=\"2\">МБОУ СОШ № 2</EduOrganization></EduOrganizations>\
<BrotherSisterInfo><ChildSurname>Петров</ChildSurname><ChildName>Алексей</ChildName>\
<EduOrganization code=\"SCH-001\">МБОУ СОШ № 1</EduOrganization></BrotherSisterInfo>\
<BenefitInfo><BenefitCategory code=\"sibling\">Преимущественное право: брат или сестра обучается в школе\
</BenefitCategory></BenefitInfo><AppliedDocument><CodeDocument>a1b2c3</CodeDocument>\
<NameDocument>registration.pdf</NameDocument><TypeDocument>application/pdf</TypeDocument></AppliedDocument>\
</ApplicationRequest></FormData>"
    )
}

/// A 1.1.0 `GetApplicationRequest` or `cancelRequest` (`request` is the element name) for `order_id`.
pub fn sample_order_request(request: &str, order_id: i64) -> String {
    format!(
        "<FormData xmlns=\"{NS}\" oktmo=\"46701000\"><{request}><orderId>{order_id}</orderId></{request}></FormData>"
    )
}
