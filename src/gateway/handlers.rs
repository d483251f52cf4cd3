//! Handlers answer a kind of data: they turn a request's content into a response body. They are synchronous and
//! pure where they can be; the education services (progress, enrollment) join them later.
#![forbid(unsafe_code)]

use crate::smev::{KindOfData, RejectCode, Rejection, ResponseBody};

/// The names of the handlers a configuration may use.
pub const KNOWN: &[&str] = &["echo"];

/// Whether `name` is a handler the gateway has.
pub fn is_known(name: &str) -> bool {
    KNOWN.contains(&name)
}

/// What a handler needs to know about a request.
#[derive(Debug, Clone)]
pub struct HandlerInput<'a> {
    /// The request's kind of data.
    pub kind: &'a KindOfData,
    /// The request's business content (one self-contained element).
    pub content: &'a str,
    /// SMEV's id of the request.
    pub message_id: &'a str,
}

/// Why a handler could not answer now: the request will be tried again later (a final refusal is an answer, a
/// `ResponseBody::Rejected`, not an error).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct HandlerUnavailable(pub String);

/// Answers a request with the named handler.
pub fn handle(name: &str, input: &HandlerInput<'_>) -> Result<ResponseBody, HandlerUnavailable> {
    match name {
        "echo" => Ok(echo(input)),
        other => Ok(ResponseBody::Rejected(vec![Rejection {
            code: RejectCode::UnknownRequestDescription,
            description: format!("no handler '{other}' for {}", input.kind),
        }])),
    }
}

/// The `echo` handler: answers with the request's own content, for tests and the crash test.
fn echo(input: &HandlerInput<'_>) -> ResponseBody {
    ResponseBody::Content {
        content: input.content.to_string(),
        personal_signature: None,
        attachment_headers: Vec::new(),
    }
}
