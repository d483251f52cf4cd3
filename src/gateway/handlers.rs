//! Handlers answer a kind of data. An answer is either given at once (progress lookups, refusals, `echo`) or
//! deferred: work for the school system goes into the outbox's `call-school` queue, and the answer follows the
//! school's (enrollment applications).
#![forbid(unsafe_code)]

use super::jobs::{self, SchoolJob};
use crate::school::SchoolSystem;
use crate::services::{enrollment, progress};
use crate::smev::{KindOfData, RejectCode, Rejection, ResponseBody};

/// The names of the handlers a configuration may use.
pub const KNOWN: &[&str] = &["echo", "progress", "enrollment"];

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
    /// Where the response goes (`ReplyTo`).
    pub reply_to: &'a str,
    /// How many times SMEV delivered the request.
    pub deliveries: u32,
}

/// What a handler decided.
#[derive(Debug)]
pub enum Handled {
    /// The answer, now.
    Answer(ResponseBody),
    /// Work for the school system, queued under `key`; the answer follows.
    Deferred {
        /// The outbox idempotency key.
        key: String,
        /// The job.
        job: Vec<u8>,
    },
}

/// Why a handler could not answer now: the request is left for SMEV to deliver again (a final refusal is an
/// answer, not an error).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct HandlerUnavailable(pub String);

/// After this many deliveries a lookup the school cannot serve is answered with FAILURE rather than left again.
pub const GIVE_UP_AFTER_DELIVERIES: u32 = 5;

/// Answers a request with the named handler.
pub async fn handle(
    name: &str,
    school: &dyn SchoolSystem,
    input: &HandlerInput<'_>,
) -> Result<Handled, HandlerUnavailable> {
    match name {
        "echo" => Ok(Handled::Answer(ResponseBody::Content {
            content: input.content.to_string(),
            personal_signature: None,
            attachment_headers: Vec::new(),
        })),
        "progress" => match progress::answer(school, input.content).await {
            Ok(body) => Ok(Handled::Answer(body)),
            Err(e) if input.deliveries >= GIVE_UP_AFTER_DELIVERIES => {
                tracing::warn!(message_id = input.message_id, error = %e, "school system unavailable: answering FAILURE");
                Ok(Handled::Answer(ResponseBody::Rejected(vec![Rejection {
                    code: RejectCode::Failure,
                    description: "Школьная система недоступна, повторите запрос позже".into(),
                }])))
            }
            Err(e) => Err(HandlerUnavailable(e.to_string())),
        },
        "enrollment" => {
            let today = time::OffsetDateTime::now_utc().date();
            match enrollment::parse_form(input.content, today) {
                Err(refusal) => Ok(Handled::Answer(enrollment::refusal_answer(&refusal))),
                Ok(application) => {
                    tracing::info!(
                        message_id = input.message_id,
                        order_id = application.order_id,
                        "application queued for the school"
                    );
                    let job = SchoolJob {
                        message_id: input.message_id.to_string(),
                        reply_to: input.reply_to.to_string(),
                        content: input.content.to_string(),
                    };
                    Ok(Handled::Deferred { key: jobs::school_key(input.message_id), job: jobs::encode(&job) })
                }
            }
        }
        other => Ok(Handled::Answer(ResponseBody::Rejected(vec![Rejection {
            code: RejectCode::UnknownRequestDescription,
            description: format!("no handler '{other}' for {}", input.kind),
        }]))),
    }
}
