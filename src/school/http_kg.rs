//! The HTTP connector's kindergarten queue: [`Kindergartens`] over the school system's `/kindergarten/…` endpoints
//! (`docs/school-api.yaml`). The application travels whole as the one JSON record the embedded system journals
//! ([`ApplicationRec`]: snake_case field names, as the data file's); every answer is 200 with a JSON body saying the
//! outcome, except `404` for "no such application" where the method returns `None`. Failures are classified as the
//! other endpoints' are (`status_error`): 5xx, 408, 429 and transport errors retryable, other 4xx final, an
//! unreadable answer a protocol error naming the call, never a value.
#![forbid(unsafe_code)]

use reqwest::{Method, StatusCode};
use serde::{Deserialize, Serialize};
use time::{Date, OffsetDateTime};

use crate::school::error::{BoxFuture, SchoolError};
use crate::school::http::{json_ok, read_json, status_code, status_error, HttpSchool};
use crate::school::kindergarten::model::{
    Admission, AdmissionApplication, CancelResult, Cancelled, Coded, Filed, KindergartenApplication,
    KindergartenChange, QueueAnswer, QueuePosition, QueueReasons, Status, Subscribed, Subscription,
};
use crate::school::kindergarten::records::{
    format_date, parse_timestamp, AdmissionRec, ApplicationRec, CodedRec, SubscriptionRec,
};
use crate::school::kindergarten::Kindergartens;

/// `POST /kindergarten/applications`.
const FILE: &str = "POST /kindergarten/applications";
/// `GET /kindergarten/applications/{orderId}`.
const APPLICATION: &str = "GET /kindergarten/applications/{orderId}";
/// `GET /kindergarten/applications/{orderId}/queue`.
const QUEUE: &str = "GET /kindergarten/applications/{orderId}/queue";
/// `GET /kindergarten/applications/{orderId}/queue/reasons`.
const REASONS: &str = "GET /kindergarten/applications/{orderId}/queue/reasons";
/// `POST /kindergarten/applications/{orderId}/cancel`.
const CANCEL: &str = "POST /kindergarten/applications/{orderId}/cancel";
/// `POST /kindergarten/applications/{orderId}/admission`.
const ADMIT: &str = "POST /kindergarten/applications/{orderId}/admission";
/// `GET /kindergarten/applications/{orderId}/admission`.
const ADMISSION: &str = "GET /kindergarten/applications/{orderId}/admission";
/// `POST /kindergarten/applications/{orderId}/offer-refusal`.
const REFUSE: &str = "POST /kindergarten/applications/{orderId}/offer-refusal";
/// `POST /kindergarten/subscriptions`.
const SUBSCRIBE: &str = "POST /kindergarten/subscriptions";
/// `GET /kindergarten/changes`.
const CHANGES: &str = "GET /kindergarten/changes";

/// A department status on the wire.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StatusWire {
    /// 110 .. 250.
    pub code: u16,
    /// The comment for the parent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    /// Whether the portal may offer "cancel".
    pub cancel_allowed: bool,
}

impl StatusWire {
    /// The status, checked: a code outside 110..250 is a protocol problem.
    fn into_status(self) -> Result<Status, String> {
        if !(110..=250).contains(&self.code) || !self.code.is_multiple_of(10) {
            return Err(format!("{} is not a department status", self.code));
        }
        Ok(Status { code: self.code, comment: self.comment, cancel_allowed: self.cancel_allowed })
    }
}

/// The answer to `POST /kindergarten/applications`.
#[derive(Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case", deny_unknown_fields)]
enum FiledWire {
    /// Registered now under `number`.
    Registered {
        /// The region's number.
        number: String,
        /// 110 with its comment.
        status: StatusWire,
    },
    /// The same application was filed before.
    AlreadyFiled {
        /// Its current status.
        status: StatusWire,
    },
    /// An edit was accepted.
    Edited {
        /// The answer's status.
        status: StatusWire,
    },
    /// Refused.
    Refused {
        /// 150 (or 180 for an edit) with the reason.
        status: StatusWire,
    },
}

/// A queue question's answer: the figures or a refusal.
#[derive(Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
enum AnswerWire<T> {
    /// The figures.
    Found(T),
    /// 150 with the reason.
    Refused(StatusWire),
}

/// A queue position on the wire.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PositionWire {
    /// 1 = first.
    position: u64,
    /// The queue's length.
    total: u64,
    /// Out-of-turn ahead.
    without_queue: u16,
    /// First-turn ahead.
    first_queue: u16,
    /// Priority ahead.
    advantage_queue: u16,
    /// When computed, RFC 3339.
    relevant_at: String,
}

/// The reasons of a position's change on the wire.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ReasonsWire {
    /// Placed ahead.
    increase_queue: u64,
    /// Got a place ahead.
    got_a_place: u64,
    /// Ahead by a benefit.
    increase_benefits: u64,
}

/// `POST …/cancel` body.
#[derive(Serialize)]
struct CancelBody<'a> {
    /// Why, as the applicant wrote it.
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<&'a str>,
}

/// `POST …/cancel` answer.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CancelWire {
    /// `CANCELLED`, `IN_PROGRESS` or `REJECTED`.
    result: String,
    /// The comment for the parent.
    #[serde(default)]
    comment: Option<String>,
}

/// `GET …/admission` answer.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AdmissionWire {
    /// The application.
    application: ApplicationRec,
    /// The kindergarten offered.
    kindergarten: CodedRec,
}

/// `POST …/offer-refusal` body.
#[derive(Serialize)]
struct RefuseBody<'a> {
    /// The kindergarten refused.
    #[serde(skip_serializing_if = "Option::is_none")]
    kindergarten_code: Option<&'a str>,
    /// The applicant's comment.
    #[serde(skip_serializing_if = "Option::is_none")]
    comment: Option<&'a str>,
}

/// `POST /kindergarten/subscriptions` answer.
#[derive(Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case", deny_unknown_fields)]
enum SubscribedWire {
    /// Found and linked.
    Found {
        /// The region's number.
        number: String,
    },
    /// Not found.
    NotFound {
        /// What is missing, for the parent.
        missing: String,
    },
    /// Filed on the portal.
    FiledOnPortal {
        /// 150 with the comment.
        status: StatusWire,
    },
}

/// `GET /kindergarten/changes` answer.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ChangesWire {
    /// The changes, oldest first.
    changes: Vec<ChangeWire>,
}

/// A change on the wire.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ChangeWire {
    /// The durable cursor.
    cursor: u64,
    /// The portal order it is pushed under.
    order_id: i64,
    /// The new status.
    status: StatusWire,
    /// When, RFC 3339.
    at: String,
    /// Filed on the portal, or elsewhere.
    filed_on_portal: bool,
}

/// A protocol error of `what`.
fn protocol(what: &str, problem: impl std::fmt::Display) -> SchoolError {
    SchoolError::Protocol(format!("{what}: {problem}"))
}

/// Decodes the answer to `POST /kindergarten/applications` (an untrusted-input entry).
pub fn decode_filed(status: u16, body: &[u8]) -> Result<Filed, SchoolError> {
    let wire: FiledWire = json_ok(status, body, FILE)?;
    let status = |s: StatusWire| s.into_status().map_err(|p| protocol(FILE, p));
    Ok(match wire {
        FiledWire::Registered { number, status: s } => Filed::Registered { number, status: status(s)? },
        FiledWire::AlreadyFiled { status: s } => Filed::AlreadyFiled(status(s)?),
        FiledWire::Edited { status: s } => Filed::Edited(status(s)?),
        FiledWire::Refused { status: s } => Filed::Refused(status(s)?),
    })
}

/// The body of a 200 answer, or `None` for 404 (an untrusted-input helper).
fn found_or_none(status: u16, body: &[u8], what: &str) -> Result<Option<Vec<u8>>, SchoolError> {
    let code = status_code(status, what)?;
    match code {
        StatusCode::OK => Ok(Some(body.to_vec())),
        StatusCode::NOT_FOUND => Ok(None),
        _ => Err(status_error(code, body, what)),
    }
}

/// Decodes the answer to `GET /kindergarten/applications/{orderId}` (an untrusted-input entry).
pub fn decode_application(
    status: u16,
    body: &[u8],
    order_id: i64,
) -> Result<Option<KindergartenApplication>, SchoolError> {
    let Some(body) = found_or_none(status, body, APPLICATION)? else { return Ok(None) };
    let rec: ApplicationRec = read_json(&body, APPLICATION)?;
    if rec.order_id != order_id {
        return Err(protocol(APPLICATION, format!("the answer is about order {}", rec.order_id)));
    }
    rec.to_model().map(Some).map_err(|p| protocol(APPLICATION, p))
}

/// Decodes the answer to `GET …/queue` (an untrusted-input entry).
pub fn decode_position(status: u16, body: &[u8]) -> Result<QueueAnswer<QueuePosition>, SchoolError> {
    let wire: AnswerWire<PositionWire> = json_ok(status, body, QUEUE)?;
    Ok(match wire {
        AnswerWire::Found(p) => {
            if p.position == 0 || p.position > p.total {
                return Err(protocol(QUEUE, format!("position {} of {}", p.position, p.total)));
            }
            QueueAnswer::Found(QueuePosition {
                position: p.position,
                total: p.total,
                without_queue: p.without_queue,
                first_queue: p.first_queue,
                advantage_queue: p.advantage_queue,
                relevant_at: parse_timestamp(&p.relevant_at)
                    .map_err(|e| protocol(QUEUE, format!("relevant_at {e}")))?,
            })
        }
        AnswerWire::Refused(s) => QueueAnswer::Refused(s.into_status().map_err(|p| protocol(QUEUE, p))?),
    })
}

/// Decodes the answer to `GET …/queue/reasons` (an untrusted-input entry).
pub fn decode_reasons(status: u16, body: &[u8]) -> Result<QueueAnswer<QueueReasons>, SchoolError> {
    let wire: AnswerWire<ReasonsWire> = json_ok(status, body, REASONS)?;
    Ok(match wire {
        AnswerWire::Found(r) => QueueAnswer::Found(QueueReasons {
            increase_queue: r.increase_queue,
            got_a_place: r.got_a_place,
            increase_benefits: r.increase_benefits,
        }),
        AnswerWire::Refused(s) => QueueAnswer::Refused(s.into_status().map_err(|p| protocol(REASONS, p))?),
    })
}

/// Decodes the answer to `POST …/cancel` (an untrusted-input entry).
pub fn decode_cancelled(status: u16, body: &[u8]) -> Result<Cancelled, SchoolError> {
    let wire: CancelWire = json_ok(status, body, CANCEL)?;
    let result = match wire.result.as_str() {
        "CANCELLED" => CancelResult::Cancelled,
        "IN_PROGRESS" => CancelResult::InProgress,
        "REJECTED" => CancelResult::Rejected,
        _ => return Err(protocol(CANCEL, "result is not CANCELLED, IN_PROGRESS or REJECTED")),
    };
    Ok(Cancelled { result, comment: wire.comment })
}

/// Decodes a status answer of `what` (admission, offer refusal; an untrusted-input entry).
pub fn decode_status(status: u16, body: &[u8], what: &str) -> Result<Status, SchoolError> {
    let wire: StatusWire = json_ok(status, body, what)?;
    wire.into_status().map_err(|p| protocol(what, p))
}

/// Decodes the answer to `GET …/admission` (an untrusted-input entry).
pub fn decode_admission(status: u16, body: &[u8], order_id: i64) -> Result<Option<Admission>, SchoolError> {
    let Some(body) = found_or_none(status, body, ADMISSION)? else { return Ok(None) };
    let wire: AdmissionWire = read_json(&body, ADMISSION)?;
    if wire.application.order_id != order_id {
        return Err(protocol(ADMISSION, format!("the answer is about order {}", wire.application.order_id)));
    }
    let application = wire.application.to_model().map_err(|p| protocol(ADMISSION, p))?;
    Ok(Some(Admission {
        application,
        kindergarten: Coded { code: wire.kindergarten.code, text: wire.kindergarten.text },
    }))
}

/// Decodes the answer to `POST /kindergarten/subscriptions` (an untrusted-input entry).
pub fn decode_subscribed(status: u16, body: &[u8]) -> Result<Subscribed, SchoolError> {
    let wire: SubscribedWire = json_ok(status, body, SUBSCRIBE)?;
    Ok(match wire {
        SubscribedWire::Found { number } => Subscribed::Found { number },
        SubscribedWire::NotFound { missing } => Subscribed::NotFound(missing),
        SubscribedWire::FiledOnPortal { status } => {
            Subscribed::FiledOnPortal(status.into_status().map_err(|p| protocol(SUBSCRIBE, p))?)
        }
    })
}

/// Decodes the answer to `GET /kindergarten/changes` (an untrusted-input entry): at most `limit` changes, cursors
/// above `since` and increasing.
pub fn decode_kg_changes(
    status: u16,
    body: &[u8],
    since: u64,
    limit: usize,
) -> Result<Vec<KindergartenChange>, SchoolError> {
    let wire: ChangesWire = json_ok(status, body, CHANGES)?;
    if wire.changes.len() > limit {
        return Err(protocol(CHANGES, format!("{} changes where at most {limit} were asked for", wire.changes.len())));
    }
    let mut last = since;
    let mut changes = Vec::with_capacity(wire.changes.len());
    for change in wire.changes {
        if change.cursor <= last {
            return Err(protocol(CHANGES, format!("cursor {} does not follow {last}", change.cursor)));
        }
        last = change.cursor;
        let at: OffsetDateTime = parse_timestamp(&change.at).map_err(|p| protocol(CHANGES, format!("at {p}")))?;
        changes.push(KindergartenChange {
            cursor: change.cursor,
            order_id: change.order_id,
            status: change.status.into_status().map_err(|p| protocol(CHANGES, p))?,
            at,
            filed_on_portal: change.filed_on_portal,
        });
    }
    Ok(changes)
}

impl HttpSchool {
    /// The URL of `/kindergarten/applications/{order_id}` followed by `rest`.
    fn application_url(&self, order_id: i64, rest: &[&str]) -> reqwest::Url {
        let id = order_id.to_string();
        let mut segments = vec!["kindergarten", "applications", id.as_str()];
        segments.extend_from_slice(rest);
        self.url(&segments)
    }

    /// POSTs `body` as JSON to `url`; returns the answer's status and body.
    async fn post_json<T: Serialize + ?Sized>(
        &self,
        url: reqwest::Url,
        body: &T,
        what: &str,
    ) -> Result<(u16, Vec<u8>), SchoolError> {
        let bytes = serde_json::to_vec(body).expect("kindergarten records serialize");
        let (status, answer) = self.call(Method::POST, url, Some(bytes), what).await?;
        Ok((status.as_u16(), answer))
    }
}

impl Kindergartens for HttpSchool {
    fn file<'a>(&'a self, application: &'a KindergartenApplication) -> BoxFuture<'a, Result<Filed, SchoolError>> {
        Box::pin(async move {
            let url = self.url(&["kindergarten", "applications"]);
            let (status, body) = self.post_json(url, &ApplicationRec::of(application), FILE).await?;
            decode_filed(status, &body)
        })
    }

    fn application<'a>(&'a self, order_id: i64) -> BoxFuture<'a, Result<Option<KindergartenApplication>, SchoolError>> {
        Box::pin(async move {
            let (status, body) = self.get(self.application_url(order_id, &[]), APPLICATION).await?;
            decode_application(status, &body, order_id)
        })
    }

    fn queue_position<'a>(&'a self, order_id: i64) -> BoxFuture<'a, Result<QueueAnswer<QueuePosition>, SchoolError>> {
        Box::pin(async move {
            let (status, body) = self.get(self.application_url(order_id, &["queue"]), QUEUE).await?;
            decode_position(status, &body)
        })
    }

    fn queue_reasons<'a>(
        &'a self,
        order_id: i64,
        from: Date,
        to: Date,
    ) -> BoxFuture<'a, Result<QueueAnswer<QueueReasons>, SchoolError>> {
        Box::pin(async move {
            let mut url = self.application_url(order_id, &["queue", "reasons"]);
            url.query_pairs_mut().append_pair("from", &format_date(from)).append_pair("to", &format_date(to));
            let (status, body) = self.get(url, REASONS).await?;
            decode_reasons(status, &body)
        })
    }

    fn cancel<'a>(&'a self, order_id: i64, reason: Option<&'a str>) -> BoxFuture<'a, Result<Cancelled, SchoolError>> {
        Box::pin(async move {
            let url = self.application_url(order_id, &["cancel"]);
            let (status, body) = self.post_json(url, &CancelBody { reason }, CANCEL).await?;
            decode_cancelled(status, &body)
        })
    }

    fn admit<'a>(&'a self, admission: &'a AdmissionApplication) -> BoxFuture<'a, Result<Status, SchoolError>> {
        Box::pin(async move {
            let url = self.application_url(admission.order_id, &["admission"]);
            let (status, body) = self.post_json(url, &AdmissionRec::of(admission), ADMIT).await?;
            decode_status(status, &body, ADMIT)
        })
    }

    fn admission<'a>(&'a self, order_id: i64) -> BoxFuture<'a, Result<Option<Admission>, SchoolError>> {
        Box::pin(async move {
            let (status, body) = self.get(self.application_url(order_id, &["admission"]), ADMISSION).await?;
            decode_admission(status, &body, order_id)
        })
    }

    fn refuse_offer<'a>(
        &'a self,
        order_id: i64,
        kindergarten_code: Option<&'a str>,
        comment: Option<&'a str>,
    ) -> BoxFuture<'a, Result<Status, SchoolError>> {
        Box::pin(async move {
            let url = self.application_url(order_id, &["offer-refusal"]);
            let (status, body) = self.post_json(url, &RefuseBody { kindergarten_code, comment }, REFUSE).await?;
            decode_status(status, &body, REFUSE)
        })
    }

    fn subscribe<'a>(&'a self, subscription: &'a Subscription) -> BoxFuture<'a, Result<Subscribed, SchoolError>> {
        Box::pin(async move {
            let url = self.url(&["kindergarten", "subscriptions"]);
            let (status, body) = self.post_json(url, &SubscriptionRec::of(subscription), SUBSCRIBE).await?;
            decode_subscribed(status, &body)
        })
    }

    fn status_changes<'a>(
        &'a self,
        since: u64,
        limit: usize,
    ) -> BoxFuture<'a, Result<Vec<KindergartenChange>, SchoolError>> {
        Box::pin(async move {
            let mut url = self.url(&["kindergarten", "changes"]);
            url.query_pairs_mut().append_pair("since", &since.to_string()).append_pair("limit", &limit.to_string());
            let (status, body) = self.get(url, CHANGES).await?;
            decode_kg_changes(status, &body, since, limit)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_decode_and_bad_ones_are_protocol_errors() {
        let filed = br#"{"outcome":"registered","number":"N-1","status":{"code":110,"cancel_allowed":true}}"#;
        assert!(matches!(decode_filed(200, filed).unwrap(), Filed::Registered { number, .. } if number == "N-1"));
        let odd = br#"{"outcome":"registered","number":"N-1","status":{"code":115,"cancel_allowed":true}}"#;
        assert!(matches!(decode_filed(200, odd), Err(SchoolError::Protocol(_))));
        assert!(matches!(decode_filed(503, b""), Err(SchoolError::Unavailable(_))));
        assert!(matches!(decode_filed(400, b""), Err(SchoolError::Rejected(_))));
        assert!(decode_application(404, b"", 1).unwrap().is_none());
        let bad_position = br#"{"found":{"position":3,"total":2,"without_queue":0,"first_queue":0,
            "advantage_queue":0,"relevant_at":"2026-12-01T10:00:00Z"}}"#;
        assert!(matches!(decode_position(200, bad_position), Err(SchoolError::Protocol(_))));
        assert!(matches!(decode_cancelled(200, br#"{"result":"MAYBE"}"#), Err(SchoolError::Protocol(_))));
        let backwards = br#"{"changes":[{"cursor":5,"order_id":1,"status":{"code":120,"cancel_allowed":true},
            "at":"2026-12-01T10:00:00Z","filed_on_portal":true}]}"#;
        assert!(matches!(decode_kg_changes(200, backwards, 5, 10), Err(SchoolError::Protocol(_))));
        assert_eq!(decode_kg_changes(200, backwards, 4, 10).unwrap().len(), 1);
    }
}
