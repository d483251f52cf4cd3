//! Writing a `FormDataResponse` (the answers) and a `FormData` (the requests, as the portal sends them: for the
//! portal emulator and the tests) in 3.2.1 and 4.0.1; 3.1.1 is in `write311.rs`.
#![forbid(unsafe_code)]

use crate::school::kindergarten::model::{Admission, AdmissionApplication, QueuePosition, QueueReasons, Subscription};
use crate::services::concentrator::shape::{self, Shape};
use crate::services::concentrator::types::{Answer, ChangeOrderInfo, FormData, Request, Version, WriteError};
use crate::services::concentrator::write::{self as w, cancel_result, not_in, Body, COMMENT_MAX, W};
use crate::services::concentrator::write311;

/// Writes `answer` as a `FormDataResponse` in `version`'s namespace (declared on it as the default namespace).
/// Fails, writing nothing, when the version has no such answer or the model holds a value its schema cannot carry
/// (see `write.rs` for what is left out or filled in instead).
pub fn write_answer(version: Version, answer: &Answer<'_>) -> Result<String, WriteError> {
    write_answer_in(version, version.namespace(), answer)
}

/// Writes `answer` as [`write_answer`] does, in the shape of `version` but in `namespace`: a region that maps its
/// portal's own namespace to a version of the concentrator gets its answers in that namespace.
pub fn write_answer_in(version: Version, namespace: &str, answer: &Answer<'_>) -> Result<String, WriteError> {
    let sh = match version {
        Version::V3_1_1 => return write311::answer(namespace, answer),
        Version::V3_2_1 => &shape::V3_2_1,
        Version::V4_0_1 => &shape::V4_0_1,
    };
    let mut out = W::new(namespace, "FormDataResponse", &[]);
    match answer {
        Answer::ChangeOrderInfo(info) => change_order_info(&mut out, info),
        Answer::Queue { order_id, position } => queue(&mut out, *order_id, position)?,
        Answer::QueueReason { order_id, reasons } => queue_reason(&mut out, *order_id, reasons),
        Answer::Application { application, .. } => {
            out.open("GetApplicationResponse");
            w::application(&mut out, application, sh, Body::Answer)?;
            out.close();
        }
        Answer::Admission(admission) => admission_answer(&mut out, admission, sh)?,
        Answer::Cancel { order_id, cancelled } => {
            out.open("cancelResponse");
            out.value("orderId", order_id);
            out.value("result", cancel_result(cancelled.result));
            out.comment("comment", cancelled.comment.as_deref(), COMMENT_MAX);
            out.close();
        }
        Answer::Queue311(_) => return Err(not_in(version, "3.1.1's per-kindergarten queue answer")),
        Answer::Text { .. } => return Err(not_in(version, "textResponse")),
    }
    Ok(out.finish())
}

/// `changeOrderInfo` in 3.2.1 / 4.0.1.
fn change_order_info(out: &mut W, info: &ChangeOrderInfo) {
    out.open("changeOrderInfo");
    out.open("orderId");
    out.value("pguId", info.order_id);
    out.close();
    out.status_code(info.status);
    out.comment("comment", info.comment.as_deref(), COMMENT_MAX);
    out.opt_bool("cancelAllowed", info.cancel_allowed);
    out.close();
}

fn queue(out: &mut W, order_id: i64, p: &QueuePosition) -> Result<(), WriteError> {
    out.open("GetApplicationQueueResponse");
    out.value("orderId", order_id);
    out.value("Position", p.position);
    out.value("Total", p.total);
    // xsd:short: a count above 32767 is written as 32767.
    out.value("WithoutQueue", p.without_queue.min(i16::MAX as u16));
    out.value("FirstQueue", p.first_queue.min(i16::MAX as u16));
    out.value("AdvantageQueue", p.advantage_queue.min(i16::MAX as u16));
    out.datetime("RelevantDT", p.relevant_at)?;
    out.close();
    Ok(())
}

fn queue_reason(out: &mut W, order_id: i64, r: &QueueReasons) {
    out.open("GetApplicationQueueReasonResponse");
    out.value("orderId", order_id);
    out.value("IncreaseQueue", r.increase_queue);
    out.value("GotAPlace", r.got_a_place);
    out.value("IncreaseBenefits", r.increase_benefits);
    out.close();
}

/// `GetApplicationAdmissionResponse`: the kindergarten as `EduOrganizationCode` (3.2.1) or `EduOrganizationData`
/// with its name when known (4.0.1).
fn admission_answer(out: &mut W, a: &Admission, sh: &Shape) -> Result<(), WriteError> {
    let app = &a.application;
    out.open("GetApplicationAdmissionResponse");
    out.value("orderId", app.order_id);
    w::person(out, &app.applicant)?;
    w::identity(out, &app.identity, sh)?;
    w::child(out, &app.child, sh)?;
    w::address(out, "Address", &app.address)?;
    w::entry(out, &app.entry, sh)?;
    w::adaptation(out, &app.adaptation, sh)?;
    if let Some(m) = &app.medical {
        w::medical(out, m, sh, false)?;
    }
    if sh.tails {
        out.open("EduOrganizationData");
        out.text("EduOrganizationCode", &a.kindergarten.code, 50)?;
        if !a.kindergarten.text.is_empty() {
            out.text("EduOrganizationName", &a.kindergarten.text, 1024)?;
        }
        out.close();
    } else {
        out.text("EduOrganizationCode", &a.kindergarten.code, 50)?;
    }
    out.close();
    Ok(())
}

/// Writes `form` as a `FormData` in its version, as the portal sends it (with its files). For the portal
/// emulator and the tests; the same choices as the answers where the model and the schema differ (a 3.1.1
/// application needs `form.legacy`).
pub fn write_request(form: &FormData) -> Result<String, WriteError> {
    let (version, oktmo, request) = (form.version, form.oktmo.as_str(), &form.request);
    let sh = match version {
        Version::V3_1_1 => return write311::request(oktmo, request, form.legacy.as_ref()),
        Version::V3_2_1 => &shape::V3_2_1,
        Version::V4_0_1 => &shape::V4_0_1,
    };
    let mut out = W::new(version.namespace(), "FormData", &[("oktmo", oktmo)]);
    out.check_nn("@oktmo", oktmo, 11)?;
    match request {
        Request::Application(app) => {
            out.open("ApplicationRequest");
            w::application(&mut out, app, sh, Body::Request)?;
        }
        Request::OrderInfo(s) => order_info(&mut out, s, sh)?,
        Request::Admission(a) => admission_request(&mut out, a, sh)?,
        Request::Queue { order_id } => {
            out.open("GetApplicationQueueRequest");
            out.value("orderId", order_id);
        }
        Request::QueueReason { order_id, from, to } => {
            out.open("GetApplicationQueueReasonRequest");
            out.value("orderId", order_id);
            out.date("PeriodStart", *from)?;
            out.date("PeriodEnd", *to)?;
        }
        Request::Get { order_id } => {
            out.open("GetApplicationRequest");
            out.value("orderId", order_id);
        }
        Request::GetAdmission { order_id } => {
            out.open("GetApplicationAdmissionRequest");
            out.value("orderId", order_id);
        }
        Request::Rejection { order_id, kindergarten_code, comment } => {
            out.open("ApplicationRejectionRequest");
            out.value("orderId", order_id);
            if sh.rejection_code {
                out.opt_text("eduOrganizationCode", kindergarten_code.as_deref(), 50)?;
            }
            out.opt_text("comment", comment.as_deref(), 2048)?;
        }
        Request::Cancel { order_id, reason } => {
            out.open("cancelRequest");
            out.value("orderId", order_id);
            out.opt_text("reason", reason.as_deref(), 2048)?;
        }
        Request::Choose { .. } => return Err(not_in(version, "ApplicationChooseRequest")),
        Request::Text { .. } => return Err(not_in(version, "textRequest")),
    }
    out.close();
    Ok(out.finish())
}

fn order_info(out: &mut W, s: &Subscription, sh: &Shape) -> Result<(), WriteError> {
    out.open("ApplicationOrderInfoRequest");
    out.value("orderId", s.order_id);
    out.nn("ServicesType", &s.service_type, 20)?;
    w::person(out, &s.applicant)?;
    w::identity(out, &s.identity, sh)?;
    w::child(out, &s.child, sh)
}

fn admission_request(out: &mut W, a: &AdmissionApplication, sh: &Shape) -> Result<(), WriteError> {
    out.open("ApplicationAdmissionRequest");
    out.value("orderId", a.order_id);
    out.nn("ServicesType", &a.service_type, 20)?;
    w::person(out, &a.applicant)?;
    w::identity(out, &a.identity, sh)?;
    if let Some(p) = &a.second_parent {
        w::second_parent(out, p)?;
    }
    w::child(out, &a.child, sh)?;
    w::address(out, "Address", &a.address)?;
    w::entry(out, &a.entry, sh)?;
    w::adaptation(out, &a.adaptation, sh)?;
    if let Some(m) = &a.medical {
        w::medical(out, m, sh, true)?;
    }
    out.text("EduOrganizationCode", &a.kindergarten_code, 50)?;
    out.bool("DocListReview", a.doc_list_review);
    out.bool("LicenseCharter", a.license_charter);
    Ok(())
}
