//! Kindergarten enrollment through the EPGU concentrator (постановка на учёт и направление в ДОО): one service
//! answers the concentrator's `FormData` in 3.1.1, 3.2.1 and 4.0.1 at once, each answer in the namespace of its
//! request, asking the region's queue through [`Kindergartens`].
//!
//! An application filed on the portal opens a thread (its key: the service's name and the portal's order number):
//! every later status change of the application goes to the portal as one more `FormDataResponse/changeOrderInfo`
//! to the request that filed it ([`Push::Response`]), never as a request of its own. What cannot be read is
//! answered with 150 and the reason when the order number was read, else refused as SMEV refuses (RequestRejected);
//! a school system that cannot answer now leaves the request for SMEV to deliver again.
#![forbid(unsafe_code)]

use super::concentrator::{
    self, Answer, ChangeOrderInfo, FormData, KindergartenQueue311, Queue311, Request, StatusCode, Version,
};
use super::{Asked, Decided, Decision, KindService, Push, Pushing, ReadRequest, Served, Unavailable};
use crate::school::kindergarten::{Filed, KindergartenChange, Kindergartens, QueueAnswer, Status, Subscribed};
use crate::school::{BoxFuture, SchoolError, SchoolSystem};
use crate::smev::{RejectCode, Rejection, ResponseBody};
use crate::xml::{Document, NodeId};

/// The kindergarten kind of data's request root, in every version.
const FORM_DATA: &str = "FormData";

/// The formats served by default: the three versions of the concentrator's kindergarten kind of data.
const SERVES: &[Served] = &[
    Served { namespace: "http://epgu.gosuslugi.ru/concentrator/kindergarten/4.0.1", root: FORM_DATA, version: "4.0.1" },
    Served { namespace: "http://epgu.gosuslugi.ru/concentrator/kindergarten/3.2.1", root: FORM_DATA, version: "3.2.1" },
    Served { namespace: "http://epgu.gosuslugi.ru/concentrator/kindergarten/3.1.1", root: FORM_DATA, version: "3.1.1" },
];

/// The department status "refused / request not possible".
const REFUSED: u16 = 150;
/// techCode: a subscription found the application.
const SUBSCRIBED: i8 = 3;
/// techCode: a subscription found no application, or its data are incomplete.
const NOT_SUBSCRIBED: i8 = 4;

/// The comment of every answer given where the region runs no kindergarten queue behind the gateway.
const NO_QUEUE: &str = "Услуга не предоставляется через эту региональную систему";
/// The comment of a request about an order the region does not hold.
const NOT_FOUND: &str = "Заявление не найдено";
/// The comment of a request the region's system refused for a reason retrying cannot mend.
const NOT_PROCESSED: &str = "Запрос не может быть обработан";

/// The concentrator's kindergarten service.
#[derive(Debug, Default)]
pub struct KindergartenService;

/// The thread of the application under the portal's order `order_id`.
pub fn thread_key(order_id: i64) -> String {
    format!("kindergarten:{order_id}")
}

impl KindService for KindergartenService {
    fn name(&self) -> &'static str {
        "kindergarten"
    }

    fn serves(&self) -> &'static [Served] {
        SERVES
    }

    fn read(&self, doc: &Document<'_>, content: NodeId) -> Box<dyn ReadRequest> {
        self.read_in(doc, content, "")
    }

    /// A region's own namespace is read (and answered) in the shape of the version its registration names.
    fn read_in(&self, doc: &Document<'_>, content: NodeId, version: &str) -> Box<dyn ReadRequest> {
        let namespace = doc.element_ns(content).to_string();
        let hint = Version::from_name(version);
        match concentrator::read_as(doc, content, hint) {
            Ok(form) => Box::new(Asking { form, namespace }),
            Err(error) => {
                let version = Version::from_namespace(&namespace).or(hint);
                Box::new(Decided(unreadable(version.map(|v| Written { version: v, namespace: &namespace }), &error)))
            }
        }
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
            let Some(queue) = school.kindergartens() else { return Ok(Vec::new()) };
            let changes = queue.status_changes(since, limit).await?;
            Ok(changes.into_iter().map(pushing).collect())
        })
    }
}

/// What a change of the queue's feed becomes: a further response to the request that filed the application. An
/// application filed elsewhere is reported through kindergarten-order as a consumer, which this service does not do
/// yet: such a change is passed over (and logged by the gateway as pushed nowhere).
fn pushing(change: KindergartenChange) -> Pushing {
    let what = format!("order {} status {}", change.order_id, change.status.code);
    let push = change.filed_on_portal.then(|| {
        let (order_id, status) = (change.order_id, change.status);
        Push::Response {
            thread: thread_key(order_id),
            write: Box::new(move |namespace: &str, version: &str| {
                let named = Version::from_namespace(namespace).or(Version::from_name(version));
                let written = Written { version: named.unwrap_or(Version::V4_0_1), namespace };
                status_answer(written, order_id, &status)
            }),
            otherwise: None,
        }
    });
    Pushing { cursor: change.cursor, push, what }
}

/// A request read, to be decided with the queue.
struct Asking {
    /// What the portal asked.
    form: FormData,
    /// The namespace it asked in: the answer is written in it.
    namespace: String,
}

/// How an answer is written: in the shape of a version, in the namespace of the request it answers (the
/// version's own, or a region's mapped to it).
#[derive(Debug, Clone, Copy)]
struct Written<'a> {
    /// The format's version.
    version: Version,
    /// The namespace.
    namespace: &'a str,
}

impl ReadRequest for Asking {
    fn decide<'a>(
        self: Box<Self>,
        school: &'a dyn SchoolSystem,
        asked: Asked<'a>,
    ) -> BoxFuture<'a, Result<Decision, Unavailable>> {
        Box::pin(async move {
            let FormData { version, request, legacy, .. } = self.form;
            let written = Written { version, namespace: &self.namespace };
            let order_id = request.order_id();
            let Some(queue) = school.kindergartens() else {
                return Ok(Decision::Answer(refusal(written, order_id, NO_QUEUE)));
            };
            let asking = Ask { queue, written, legacy: legacy.as_ref() };
            match asking.decide(request).await {
                Ok(decision) => Ok(decision),
                Err(error) if error.is_retryable() => Err(Unavailable(error.to_string())),
                Err(error) => {
                    tracing::warn!(message_id = asked.message_id, order_id, %error, "the queue refused the request");
                    Ok(Decision::Answer(refusal(written, order_id, NOT_PROCESSED)))
                }
            }
        })
    }
}

/// One request's question to the queue, and the version its answer is written in.
struct Ask<'q> {
    /// The region's queue.
    queue: &'q dyn Kindergartens,
    /// How the answer is written.
    written: Written<'q>,
    /// What a 3.1.1 application carried beyond the model.
    legacy: Option<&'q concentrator::Legacy311>,
}

impl Ask<'_> {
    /// Asks the queue and writes the answer the schema provides for `request`.
    async fn decide(&self, request: Request) -> Result<Decision, SchoolError> {
        let version = self.written;
        let status = |order_id: i64, status: &Status| Decision::Answer(status_answer(version, order_id, status));
        let answer = |order_id: i64, answer: &Answer<'_>| Decision::Answer(content(version, order_id, answer));
        Ok(match request {
            Request::Application(application) => {
                let order_id = application.order_id;
                match self.queue.file(&application).await? {
                    Filed::Registered { status: filed, .. } | Filed::AlreadyFiled(filed) | Filed::Edited(filed)
                        if filed.code != REFUSED =>
                    {
                        let answer = status_answer(version, order_id, &filed);
                        Decision::Open { answer, thread: thread_key(order_id) }
                    }
                    Filed::Registered { status: filed, .. }
                    | Filed::AlreadyFiled(filed)
                    | Filed::Edited(filed)
                    | Filed::Refused(filed) => status(order_id, &filed),
                }
            }
            Request::OrderInfo(subscription) => {
                let order_id = subscription.order_id;
                match self.queue.subscribe(&subscription).await? {
                    Subscribed::Found { number } => {
                        let comment = format!("Сведения о заявлении № {number} переданы в личный кабинет");
                        answer(order_id, &tech(order_id, SUBSCRIBED, comment))
                    }
                    Subscribed::NotFound(missing) => answer(order_id, &tech(order_id, NOT_SUBSCRIBED, missing)),
                    Subscribed::FiledOnPortal(filed) => status(order_id, &filed),
                }
            }
            Request::Admission(admission) => status(admission.order_id, &self.queue.admit(&admission).await?),
            Request::Queue { order_id } => self.queue_position(order_id).await?,
            Request::QueueReason { order_id, from, to } => match self.queue.queue_reasons(order_id, from, to).await? {
                QueueAnswer::Found(reasons) => answer(order_id, &Answer::QueueReason { order_id, reasons: &reasons }),
                QueueAnswer::Refused(refused) => status(order_id, &refused),
            },
            Request::Get { order_id } => match self.queue.application(order_id).await? {
                Some(application) => {
                    let held = Answer::Application { application: &application, legacy: self.legacy, read_only: &[] };
                    answer(order_id, &held)
                }
                None => Decision::Answer(refusal(version, order_id, NOT_FOUND)),
            },
            Request::GetAdmission { order_id } => match self.queue.admission(order_id).await? {
                Some(admission) => answer(order_id, &Answer::Admission(&admission)),
                None => Decision::Answer(refusal(version, order_id, "Направление в детский сад не выдавалось")),
            },
            Request::Rejection { order_id, kindergarten_code, comment } => {
                let code = kindergarten_code.as_deref();
                status(order_id, &self.queue.refuse_offer(order_id, code, comment.as_deref()).await?)
            }
            Request::Choose { order_id, kindergarten_code, accepted: false } => {
                status(order_id, &self.queue.refuse_offer(order_id, Some(&kindergarten_code), None).await?)
            }
            Request::Cancel { order_id, reason } => {
                let cancelled = self.queue.cancel(order_id, reason.as_deref()).await?;
                answer(order_id, &Answer::Cancel { order_id, cancelled: &cancelled })
            }
            Request::Text { order_id, .. } => answer(order_id, &Answer::Text { order_id }),
            Request::Choose { order_id, accepted: true, .. } => {
                Decision::Answer(refusal(version, order_id, "Согласие на место подаётся заявлением о зачислении"))
            }
        })
    }

    /// The queue position, in the version's shape (3.1.1 names the first-priority kindergarten's queue).
    async fn queue_position(&self, order_id: i64) -> Result<Decision, SchoolError> {
        let version = self.written;
        let position = match self.queue.queue_position(order_id).await? {
            QueueAnswer::Found(position) => position,
            QueueAnswer::Refused(refused) => return Ok(Decision::Answer(status_answer(version, order_id, &refused))),
        };
        if version.version != Version::V3_1_1 {
            return Ok(Decision::Answer(content(version, order_id, &Answer::Queue { order_id, position: &position })));
        }
        let Some(application) = self.queue.application(order_id).await? else {
            return Ok(Decision::Answer(refusal(version, order_id, NOT_FOUND)));
        };
        let first = application.kindergartens.iter().min_by_key(|k| k.priority);
        let queue = Queue311 {
            order_id,
            entry_date: application.entry.entry_date,
            adaptation_group: application.adaptation.group.text.chars().take(50).collect(),
            adaptation_group_type: application
                .adaptation
                .group_type
                .as_ref()
                .map(|t| t.text.chars().take(50).collect()),
            schedule: application.entry.schedule.text.clone(),
            kindergartens: first
                .map(|k| KindergartenQueue311 {
                    code: k.code.clone(),
                    position: i64::try_from(position.position).unwrap_or(i64::MAX),
                    total: i64::try_from(position.total).unwrap_or(i64::MAX),
                })
                .into_iter()
                .collect(),
        };
        Ok(Decision::Answer(content(version, order_id, &Answer::Queue311(&queue))))
    }
}

/// The `changeOrderInfo` with a department status (3.1.1, whose `statusCode` is a `techCode` only, gets the code
/// of its era for it: [`tech_code_311`]).
fn status_answer(version: Written<'_>, order_id: i64, status: &Status) -> ResponseBody {
    let mut info = ChangeOrderInfo::from_status(order_id, status);
    if version.version == Version::V3_1_1 {
        info.status = StatusCode::Tech { code: tech_code_311(status.code) };
        info.cancel_allowed = Some(status.cancel_allowed);
    }
    content(version, order_id, &Answer::ChangeOrderInfo(info))
}

/// The 3.1.1-era portal code for a department status, as that era's status events used them: 1 registered in the
/// queue, 4 refused, 3 enrolled, 7 any step between.
fn tech_code_311(code: u16) -> i8 {
    match code {
        110 => 1,
        150 => 4,
        250 => 3,
        _ => 7,
    }
}

/// The `changeOrderInfo` with a portal (technical) code.
fn tech(order_id: i64, code: i8, comment: String) -> Answer<'static> {
    Answer::ChangeOrderInfo(ChangeOrderInfo {
        order_id,
        status: StatusCode::Tech { code },
        comment: Some(comment),
        cancel_allowed: None,
        send_message_allowed: None,
    })
}

/// The 150 refusal with its reason.
fn refusal(version: Written<'_>, order_id: i64, reason: &str) -> ResponseBody {
    let status = Status { code: REFUSED, comment: Some(reason.to_string()), cancel_allowed: false };
    status_answer(version, order_id, &status)
}

/// The answer's content in `version`'s namespace. An answer the version cannot carry (a value its schema cannot
/// hold, an answer it lacks) becomes 150 with the reason, and a 150 that cannot be written either SMEV's refusal:
/// never an answer that breaks the schema, never silence.
fn content(version: Written<'_>, order_id: i64, answer: &Answer<'_>) -> ResponseBody {
    let Written { version, namespace } = version;
    let written = concentrator::write_answer_in(version, namespace, answer).or_else(|error| {
        tracing::warn!(order_id, version = version.as_str(), %error, "the answer cannot be written in this version");
        let reason = format!("Ответ не может быть передан в версии {}: {error}", version.as_str());
        let status = Status { code: REFUSED, comment: Some(reason), cancel_allowed: false };
        let refused = Answer::ChangeOrderInfo(ChangeOrderInfo::from_status(order_id, &status));
        concentrator::write_answer_in(version, namespace, &refused)
    });
    match written {
        Ok(content) => ResponseBody::Content { content, personal_signature: None, attachment_headers: Vec::new() },
        Err(error) => rejected(format!("Ответ не может быть сформирован: {error}")),
    }
}

/// SMEV's refusal with a reason.
fn rejected(description: String) -> ResponseBody {
    ResponseBody::Rejected(vec![Rejection { code: RejectCode::Failure, description }])
}

/// The answer to a request that could not be read: 150 with the reason where the order number and the version were
/// read, SMEV's RequestRejected otherwise.
fn unreadable(version: Option<Written<'_>>, error: &concentrator::ReadError) -> ResponseBody {
    match (version, error.order_id) {
        (Some(version), Some(order_id)) => refusal(version, order_id, &error.to_string()),
        _ => rejected(format!("Запрос не соответствует схеме: {error}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_formats_served_are_the_codecs_versions() {
        let mut served: Vec<&str> = SERVES.iter().map(|s| s.namespace).collect();
        let mut versions: Vec<&str> = Version::ALL.iter().map(|v| v.namespace()).collect();
        served.sort_unstable();
        versions.sort_unstable();
        assert_eq!(served, versions);
        for s in SERVES {
            assert_eq!(Version::from_namespace(s.namespace).map(Version::as_str), Some(s.version));
        }
    }

    #[test]
    fn a_status_push_is_written_in_the_namespace_of_the_request_that_opened_the_thread() {
        let status =
            Status { code: 190, comment: Some("Выдано направление".into()), cancel_allowed: false };
        let change = KindergartenChange {
            cursor: 7,
            order_id: 42,
            status,
            at: time::OffsetDateTime::UNIX_EPOCH,
            filed_on_portal: true,
        };
        let pushing = pushing(change.clone());
        assert_eq!((pushing.cursor, pushing.what.as_str()), (7, "order 42 status 190"));
        let Some(Push::Response { thread, write, .. }) = pushing.push else { panic!("a further response") };
        assert_eq!(thread, "kindergarten:42");
        let ResponseBody::Content { content, .. } = write(Version::V3_2_1.namespace(), "") else { panic!("content") };
        assert!(
            content.contains(Version::V3_2_1.namespace()) && content.contains("<orgCode>190</orgCode>"),
            "{content}"
        );
        let elsewhere = KindergartenChange { filed_on_portal: false, ..change };
        assert!(super::pushing(elsewhere).push.is_none());
    }
}
