//! One signed envelope of each request operation, built by the client code: for conformance checks against the
//! official schemas and for integrators who want to see what edugate sends.
#![forbid(unsafe_code)]

use super::message::*;
use super::{build, now_datetime, MessageId, SmevError, Version};
use crate::dsig::Signer;

/// A small progress lookup, the content the gateway most often carries.
pub const SAMPLE_CONTENT: &str = "<p:ProgressRequest xmlns:p=\"urn://edugate/progress/1.0.0\">\
<p:ApplicantSnils>112-233-445 95</p:ApplicantSnils><p:PeriodFrom>2026-09-01</p:PeriodFrom>\
<p:PeriodTo>2026-12-31</p:PeriodTo></p:ProgressRequest>";

/// The kind of data of [`SAMPLE_CONTENT`].
pub fn sample_kind() -> KindOfData {
    KindOfData::new("urn://edugate/progress/1.0.0", "ProgressRequest")
}

/// `(file stem, envelope)` for SendRequest, GetRequest, SendResponse, GetResponse, Ack and GetStatus.
pub fn envelopes(version: Version, signer: &Signer) -> Result<Vec<(&'static str, String)>, SmevError> {
    let selector = |kind| MessageTypeSelector { kind, timestamp: now_datetime(), node_id: None };
    let request = SendRequest::new(SAMPLE_CONTENT);
    let response = SendResponse {
        message_id: MessageId::new_v1(),
        to: "eyJzaWQiOjEsIm1pZCI6InNhbXBsZSJ9".to_string(),
        body: ResponseBody::Rejected(vec![Rejection {
            code: RejectCode::NoData,
            description: "Сведения не найдены".to_string(),
        }]),
        attachments: Vec::new(),
    };
    Ok(vec![
        ("SendRequestRequest", build::send_request(version, &request, Some(signer))?),
        ("GetRequestRequest", build::get_request(version, &selector(Some(sample_kind())), Some(signer))?),
        ("SendResponseRequest", build::send_response(version, &response, Some(signer))?),
        ("GetResponseRequest", build::get_response(version, &selector(None), Some(signer))?),
        (
            "AckRequest",
            build::ack(version, &Ack { message_id: MessageId::new_v1().to_string(), accepted: true }, Some(signer))?,
        ),
        ("GetStatusRequest", build::get_status(version, &GetStatus { timestamp: now_datetime() }, Some(signer))?),
    ])
}
