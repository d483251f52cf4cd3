//! Writing 3.1.1 (the older service version): its own `changeOrderInfo` (`techCode` only), its per-kindergarten
//! queue answer, its `GetApplicationResponse` (`Application` in the 3.1.1 `ApplicationType`, then `ReadOnlyFields`),
//! `cancelResponse`, `textResponse`, and its requests.
//!
//! The 3.1.1 `Application` requires what the model does not hold; it comes from [`Legacy311`] (read with the
//! application), and without it the application cannot be written. Required fields the model may lack are written
//! empty where the type allows it (the identity document's series, issuer code and issuer, the act number of a
//! Russian certificate, the code of the representative's document kind and the benefit document's kind); 3.1.1's
//! `@priority` is true for priority 1.
#![forbid(unsafe_code)]

use crate::school::kindergarten::model::{BirthDoc, Coded, KindergartenApplication};
use crate::services::concentrator::cursor::is_email_311;
use crate::services::concentrator::types::{Answer, Legacy311, Queue311, Request, StatusCode, Version, WriteError};
use crate::services::concentrator::write::{self as w, cancel_result, not_in, COMMENT_MAX, W};

const V: Version = Version::V3_1_1;

/// A 3.1.1 `FormDataResponse`.
pub(crate) fn answer(namespace: &str, answer: &Answer<'_>) -> Result<String, WriteError> {
    let mut out = W::new(namespace, "FormDataResponse", &[]);
    match answer {
        Answer::ChangeOrderInfo(info) => {
            let StatusCode::Tech { .. } = info.status else {
                return Err(not_in(V, "orgCode (its changeOrderInfo carries a techCode only)"));
            };
            out.open("changeOrderInfo");
            out.open("orderId");
            out.value("pguId", info.order_id);
            out.close();
            out.status_code(info.status);
            out.comment("comment", info.comment.as_deref(), COMMENT_MAX);
            out.opt_bool("cancelAllowed", info.cancel_allowed);
            out.opt_bool("sendMessageAllowed", info.send_message_allowed);
            out.close();
        }
        Answer::Queue311(q) => queue(&mut out, q)?,
        Answer::Application { application, legacy, read_only } => {
            let legacy = legacy.ok_or_else(|| {
                out.inexpressible("GetApplicationResponse/Application", "3.1.1 requires the data only it carries")
            })?;
            out.open("GetApplicationResponse");
            out.open("Application");
            application_type(&mut out, application, legacy)?;
            out.close();
            if !read_only.is_empty() {
                out.open("ReadOnlyFields");
                for field in read_only.iter() {
                    out.text("Field", field, 50)?;
                }
                out.close();
            }
            out.close();
        }
        Answer::Cancel { order_id, cancelled } => {
            out.open("cancelResponse");
            out.value("orderId", order_id);
            out.value("result", cancel_result(cancelled.result));
            out.comment("comment", cancelled.comment.as_deref(), COMMENT_MAX);
            out.close();
        }
        Answer::Text { order_id } => {
            out.open("textResponse");
            out.value("orderId", order_id);
            out.value("result", "OK");
            out.close();
        }
        Answer::Queue { .. } => return Err(not_in(V, "the 3.2.1 queue answer (use its own, per kindergarten)")),
        Answer::QueueReason { .. } => return Err(not_in(V, "GetApplicationQueueReasonResponse")),
        Answer::Admission(_) => return Err(not_in(V, "GetApplicationAdmissionResponse")),
    }
    Ok(out.finish())
}

fn queue(out: &mut W, q: &Queue311) -> Result<(), WriteError> {
    if q.kindergartens.is_empty() || q.kindergartens.len() > 10 {
        let why = format!("{} kindergartens, the schema allows 1 to 10", q.kindergartens.len());
        return Err(out.inexpressible("GetApplicationQueueResponse/EduOrganizationQueue", why));
    }
    out.open("GetApplicationQueueResponse");
    out.value("orderId", q.order_id);
    out.date("EntryDate", q.entry_date)?;
    out.text("AdaptationGroup", &q.adaptation_group, 50)?;
    out.opt_text("AdaptationGroupType", q.adaptation_group_type.as_deref(), 50)?;
    out.text("ScheduleType", &q.schedule, 50)?;
    for k in &q.kindergartens {
        out.open("EduOrganizationQueue");
        out.text("Code", &k.code, 50)?;
        out.value("NumberInQueue", k.position);
        out.value("AllInQueue", k.total);
        out.close();
    }
    out.close();
    Ok(())
}

/// A 3.1.1 `FormData` with one request.
pub(crate) fn request(oktmo: &str, request: &Request, legacy: Option<&Legacy311>) -> Result<String, WriteError> {
    let mut out = W::new(V.namespace(), "FormData", &[("oktmo", oktmo)]);
    out.check_nn("@oktmo", oktmo, 11)?;
    match request {
        Request::Application(app) => {
            let legacy = legacy
                .ok_or_else(|| out.inexpressible("ApplicationRequest", "3.1.1 requires the data only it carries"))?;
            out.open("ApplicationRequest");
            application_type(&mut out, app, legacy)?;
        }
        Request::Choose { order_id, kindergarten_code, accepted } => {
            out.open("ApplicationChooseRequest");
            out.value("orderId", order_id);
            out.text("EduOrganizationCode", kindergarten_code, 50)?;
            out.bool("EduOrganizationAnswer", *accepted);
        }
        Request::Get { order_id } => {
            out.open("GetApplicationRequest");
            out.value("orderId", order_id);
        }
        Request::Queue { order_id } => {
            out.open("GetApplicationQueueRequest");
            out.value("orderId", order_id);
        }
        Request::Cancel { order_id, reason } => {
            out.open("cancelRequest");
            out.value("orderId", order_id);
            out.opt_text("reason", reason.as_deref(), 2048)?;
        }
        Request::Text { order_id, text } => {
            out.open("textRequest");
            out.value("orderId", order_id);
            out.text("text", text, 2048)?;
        }
        Request::OrderInfo(_)
        | Request::Admission(_)
        | Request::QueueReason { .. }
        | Request::GetAdmission { .. }
        | Request::Rejection { .. } => return Err(not_in(V, "this request")),
    }
    out.close();
    Ok(out.finish())
}

/// The 3.1.1 `ApplicationType`'s content.
fn application_type(out: &mut W, app: &KindergartenApplication, legacy: &Legacy311) -> Result<(), WriteError> {
    out.value("orderId", app.order_id);
    out.nn("ServicesType", &app.service_type, 20)?;
    person(out, app, legacy)?;
    child(out, app, legacy)?;
    w::address(out, "Address", &app.address)?;
    if app.kindergartens.is_empty() || app.kindergartens.len() > 10 {
        let why = format!("{} kindergartens, 3.1.1 allows 1 to 10", app.kindergartens.len());
        return Err(out.inexpressible("EduOrganizations", why));
    }
    out.open("EduOrganizations");
    for k in &app.kindergartens {
        out.check("EduOrganization", &k.name, 256)?;
        out.check("EduOrganization/@code", &k.code, 50)?;
        let priority = if k.priority == 1 { "true" } else { "false" };
        out.leaf_with_attrs("EduOrganization", &[("code", &k.code), ("priority", priority)], &k.name);
    }
    out.bool("AllowOfferOther", app.allow_offer_other.unwrap_or(false));
    out.close();
    out.date("EntryDate", app.entry.entry_date)?;
    adaptation(out, app)?;
    out.coded("ScheduleType", &app.entry.schedule)?;
    if let Some(b) = &app.benefit {
        out.open("BenefitsInfo");
        out.open("BenefitInfo");
        out.coded("BenefitCategory", &b.category)?;
        out.open("BenefitDocInfo");
        out.coded("DocName", &Coded::default())?;
        out.date("DocIssueDate", b.doc.issue_date)?;
        out.text("DocIssued", &b.doc.issued, 256)?;
        out.close();
        out.close();
        out.close();
    }
    Ok(())
}

fn person(out: &mut W, app: &KindergartenApplication, legacy: &Legacy311) -> Result<(), WriteError> {
    let p = &app.applicant;
    let d = &app.identity;
    let snils = p.snils.as_ref().ok_or_else(|| out.inexpressible("PersonInfo/PersonSNILS", "no SNILS"))?;
    out.open("PersonInfo");
    out.text("PersonSurname", &p.surname, 256)?;
    out.text("PersonName", &p.name, 256)?;
    out.opt_text("PersonMiddleName", p.middle_name.as_deref(), 256)?;
    out.date("PersonBirthDate", legacy.person_birth_date)?;
    out.value("PersonSex", legacy.person_sex.as_str());
    out.text("PersonSNILS", &snils.formatted(), 14)?;
    out.text("PersonPhone", &p.phone, 14)?;
    if !is_email_311(&p.email) {
        return Err(out.inexpressible("PersonInfo/PersonEmail", "not an address 3.1.1's pattern accepts"));
    }
    out.text("PersonEmail", &p.email, 256)?;
    out.open("PersonIdentityDocInfo");
    out.coded("IdentityDocName", &d.kind)?;
    out.text("IdentityDocSeries", d.series.as_deref().unwrap_or_default(), 10)?;
    out.text("IdentityDocNumber", &d.number, 10)?;
    out.date("IdentityDocIssueDate", d.issue_date)?;
    out.text("IdentityDocIssueCode", d.issuer_code.as_deref().unwrap_or_default(), 6)?;
    out.text("IdentityDocIssued", d.issued.as_deref().unwrap_or_default(), 256)?;
    out.text("Citizenship", &legacy.citizenship, 256)?;
    out.opt_text("BirthCountry", legacy.birth_country.as_deref(), 256)?;
    out.text("BirthPlace", &legacy.birth_place, 256)?;
    out.close();
    out.coded("PersonType", &legacy.person_type)?;
    if let Some(r) = &p.representative {
        out.open("PersonCredentialsDocInfo");
        out.coded("CredentialsDocName", &Coded { code: String::new(), text: r.doc_name.clone() })?;
        out.opt_text("CredentialsDocSeries", r.doc_series.as_deref(), 10)?;
        out.text("CredentialsDocNumber", &r.doc_number, 10)?;
        out.date("CredentialsDocDate", r.doc_date)?;
        out.text("CredentialsDocIssued", &r.doc_issued, 256)?;
        out.close();
    }
    out.close();
    Ok(())
}

fn child(out: &mut W, app: &KindergartenApplication, legacy: &Legacy311) -> Result<(), WriteError> {
    let c = &app.child;
    out.open("ChildInfo");
    out.text("ChildSurname", &c.surname, 256)?;
    out.text("ChildName", &c.name, 256)?;
    out.opt_text("ChildMiddleName", c.middle_name.as_deref(), 256)?;
    out.value("ChildSex", legacy.child_sex.as_str());
    out.date("ChildBirthDate", c.birth_date)?;
    out.opt_text("ChildSNILS", legacy.child_snils.as_deref(), 14)?;
    match (&c.birth_doc, &legacy.foreign_birth_doc) {
        (Some(BirthDoc::Russian { series, number, issue_date, act_number, issued, .. }), _) => {
            out.open("ChildBirthDocRF");
            out.text("ChildBirthDocSeries", series, 10)?;
            out.text("ChildBirthDocNumber", number, 10)?;
            out.text("ChildBirthDocActNumber", act_number.as_deref().unwrap_or_default(), 21)?;
            out.date("ChildBirthDocIssueDate", *issue_date)?;
            out.text("ChildBirthDocIssued", issued, 256)?;
            out.text("ChildBirthPlace", &legacy.child_birth_place, 256)?;
            out.close();
        }
        (Some(BirthDoc::Foreign { name, series, number, .. }), _) => foreign(out, name, series.as_deref(), number)?,
        (None, Some(f)) => foreign(out, &f.name, f.series.as_deref(), &f.number)?,
        (Some(BirthDoc::Act { .. }), _) => return Err(out.inexpressible("ChildBirthAct", "3.1.1 has no ChildBirthAct")),
        (None, None) => return Err(out.inexpressible("ChildBirthDocRF", "no birth document, which 3.1.1 requires")),
    }
    out.close();
    Ok(())
}

fn foreign(out: &mut W, name: &str, series: Option<&str>, number: &str) -> Result<(), WriteError> {
    out.open("ChildBirthDocForeign");
    out.text("ChildBirthDocName", name, 256)?;
    out.opt_text("ChildBirthDocSeries", series, 10)?;
    out.text("ChildBirthDocNumber", number, 50)?;
    out.close();
    Ok(())
}

fn adaptation(out: &mut W, app: &KindergartenApplication) -> Result<(), WriteError> {
    let a = &app.adaptation;
    out.open("AdaptationProgram");
    out.coded("AdaptationGroup", &a.group)?;
    if let Some(t) = &a.group_type {
        out.coded("AdaptationGroupType", t)?;
    }
    if let Some(m) = &app.medical {
        out.open("AdaptationDocInfo");
        out.coded("DocName", &m.kind)?;
        out.opt_text("DocSeries", m.series.as_deref(), 20)?;
        out.text("DocNumber", &m.number, 20)?;
        out.date("DocIssueDate", m.issue_date)?;
        out.text("DocIssued", &m.issued, 256)?;
        out.close();
    }
    out.opt_bool("AgreementOnGeneralGroup", a.general_group);
    out.opt_bool("AgreementOnCareGroup", a.care_group);
    out.close();
    Ok(())
}
