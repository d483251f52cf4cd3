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

use super::concentrator::{self, Answer, FormData, Request, StatusCode, Version};
use super::{Asked, Decided, Decision, KindService, Push, Pushing, ReadRequest, Served, Unavailable};
use crate::school::kindergarten::{
    CancelResult, Cancelled, Filed, KindergartenChange, Kindergartens, QueueAnswer, Status, Subscribed,
};
use crate::school::{BoxFuture, SchoolError, SchoolSystem};
use crate::smev::{RejectCode, Rejection, ResponseBody};
use crate::xml::{Document, NodeId};

/// The formats served by default: the three versions of the concentrator's kindergarten kind of data.
const SERVES: &[Served] = &[
    Served { namespace: concentrator::NS_4_0_1, root: "FormData", version: "4.0.1" },
    Served { namespace: concentrator::NS_3_2_1, root: "FormData", version: "3.2.1" },
    Served { namespace: concentrator::NS_3_1_1, root: "FormData", version: "3.1.1" },
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
        match concentrator::read(doc, content) {
            Ok(form) => Box::new(Asking { form }),
            Err(error) => Box::new(Decided(unreadable(doc, content, &error))),
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

/// What a change of the queue's feed becomes: a further response to the request that filed the application; an
/// application filed elsewhere is the kindergarten-order consumer's business, which this service does not push.
fn pushing(change: KindergartenChange) -> Pushing {
    let what = format!("order {} status {}", change.order_id, change.status.code);
    let push = change.filed_on_portal.then(|| {
        let (order_id, status) = (change.order_id, change.status);
        Push::Response {
            thread: thread_key(order_id),
            write: Box::new(move |namespace: &str| {
                let version = Version::from_namespace(namespace).unwrap_or(Version::V4_0_1);
                status_answer(version, order_id, &status)
            }),
        }
    });
    Pushing { cursor: change.cursor, push, what }
}

/// A request read, to be decided with the queue.
struct Asking {
    /// What the portal asked.
    form: FormData,
}

impl ReadRequest for Asking {
    fn decide<'a>(
        self: Box<Self>,
        school: &'a dyn SchoolSystem,
        asked: Asked<'a>,
    ) -> BoxFuture<'a, Result<Decision, Unavailable>> {
        Box::pin(async move {
            let FormData { version, request, .. } = self.form;
            let order_id = request.order_id();
            let Some(queue) = school.kindergartens() else {
                return Ok(Decision::Answer(refusal(version, order_id, NO_QUEUE)));
            };
            match decide(queue, version, request).await {
                Ok(decision) => Ok(decision),
                Err(error) if error.is_retryable() => Err(Unavailable(error.to_string())),
                Err(error) => {
                    tracing::warn!(message_id = asked.message_id, order_id, %error, "the queue refused the request");
                    Ok(Decision::Answer(refusal(version, order_id, "Запрос не может быть обработан")))
                }
            }
        })
    }
}

/// Asks the queue and writes the answer the schema provides for `request`.
async fn decide(queue: &dyn Kindergartens, version: Version, request: Request) -> Result<Decision, SchoolError> {
    let answer = |answer: Answer| Decision::Answer(content(version, &answer));
    Ok(match request {
        Request::Application(application) => {
            let order_id = application.order_id;
            match queue.file(&application).await? {
                Filed::Registered { status, .. } | Filed::AlreadyFiled(status) | Filed::Edited(status)
                    if status.code != REFUSED =>
                {
                    Decision::Open { answer: status_answer(version, order_id, &status), thread: thread_key(order_id) }
                }
                Filed::Registered { status, .. }
                | Filed::AlreadyFiled(status)
                | Filed::Edited(status)
                | Filed::Refused(status) => Decision::Answer(status_answer(version, order_id, &status)),
            }
        }
        Request::OrderInfo(subscription) => {
            let order_id = subscription.order_id;
            match queue.subscribe(&subscription).await? {
                Subscribed::Found { number } => {
                    let comment = format!("Сведения о заявлении № {number} переданы в личный кабинет");
                    answer(tech(order_id, SUBSCRIBED, comment))
                }
                Subscribed::NotFound(missing) => answer(tech(order_id, NOT_SUBSCRIBED, missing)),
                Subscribed::FiledOnPortal(status) => Decision::Answer(status_answer(version, order_id, &status)),
            }
        }
        Request::Admission(admission) => {
            let status = queue.admit(&admission).await?;
            Decision::Answer(status_answer(version, admission.order_id, &status))
        }
        Request::Queue { order_id } => match queue.queue_position(order_id).await? {
            QueueAnswer::Found(position) => answer(Answer::Queue { order_id, position }),
            QueueAnswer::Refused(status) => Decision::Answer(status_answer(version, order_id, &status)),
        },
        Request::QueueReason { order_id, from, to } => match queue.queue_reasons(order_id, from, to).await? {
            QueueAnswer::Found(reasons) => answer(Answer::QueueReason { order_id, reasons }),
            QueueAnswer::Refused(status) => Decision::Answer(status_answer(version, order_id, &status)),
        },
        Request::Get { order_id } => match queue.application(order_id).await? {
            Some(application) => answer(Answer::Application(Box::new(application))),
            None => Decision::Answer(refusal(version, order_id, NOT_FOUND)),
        },
        Request::GetAdmission { order_id } => match queue.admission(order_id).await? {
            Some(admission) => answer(Answer::Admission(Box::new(admission))),
            None => Decision::Answer(refusal(version, order_id, "Направление в детский сад не выдавалось")),
        },
        Request::Rejection { order_id, kindergarten_code, comment } => {
            let status = queue.refuse_offer(order_id, kindergarten_code.as_deref(), comment.as_deref()).await?;
            Decision::Answer(status_answer(version, order_id, &status))
        }
        Request::Cancel { order_id, reason } => {
            let cancelled = queue.cancel(order_id, reason.as_deref()).await?;
            answer(Answer::Cancel { order_id, cancelled })
        }
        other => Decision::Answer(refusal(version, other.order_id(), "Запрос этого вида не поддерживается")),
    })
}

/// The `changeOrderInfo` with a department status.
fn status_answer(version: Version, order_id: i64, status: &Status) -> ResponseBody {
    let answer = Answer::ChangeOrderInfo {
        order_id,
        status: StatusCode::Org(status.code),
        comment: status.comment.clone(),
        cancel_allowed: Some(status.cancel_allowed),
    };
    content(version, &answer)
}

/// The `changeOrderInfo` with a portal (technical) code.
fn tech(order_id: i64, code: i8, comment: String) -> Answer {
    Answer::ChangeOrderInfo { order_id, status: StatusCode::Tech(code), comment: Some(comment), cancel_allowed: None }
}

/// The 150 refusal with its reason.
fn refusal(version: Version, order_id: i64, reason: &str) -> ResponseBody {
    let status = Status { code: REFUSED, comment: Some(reason.to_string()), cancel_allowed: false };
    status_answer(version, order_id, &status)
}

/// The answer's content in `version`'s namespace.
fn content(version: Version, answer: &Answer) -> ResponseBody {
    ResponseBody::Content {
        content: concentrator::write_answer(version, answer),
        personal_signature: None,
        attachment_headers: Vec::new(),
    }
}

/// The answer to a request that could not be read: 150 with the reason where the order number and the version were
/// read, SMEV's RequestRejected otherwise.
fn unreadable(doc: &Document<'_>, content: NodeId, error: &concentrator::ReadError) -> ResponseBody {
    let version = Version::from_namespace(doc.element_ns(content));
    match (version, error.order_id) {
        (Some(version), Some(order_id)) => refusal(version, order_id, &error.to_string()),
        _ => ResponseBody::Rejected(vec![Rejection {
            code: RejectCode::Failure,
            description: format!("Запрос не соответствует схеме: {error}"),
        }]),
    }
}

#[allow(dead_code)]
fn _uses(_: CancelResult, _: Cancelled) {}
