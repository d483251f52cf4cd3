//! The codec's vocabulary: the versions it speaks, what a read `FormData` holds, the answers it writes, the
//! kindergarten-order messages, and its errors. The readers and writers are in the sibling files.
#![forbid(unsafe_code)]

use std::fmt;
use time::{Date, OffsetDateTime};

use crate::school::kindergarten::model::{
    Admission, AdmissionApplication, Cancelled, Coded, KindergartenApplication, QueuePosition, QueueReasons, Status,
    Subscription,
};

/// A version of the concentrator's kindergarten kind of data (`FormData` -> `FormDataResponse`). One codec serves
/// all three: a request is read in its own version and its answer is written in the same one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Version {
    /// The older service version: its own application shape and answers.
    V3_1_1,
    /// The version most regions serve.
    V3_2_1,
    /// The newest: a birth act as a birth document, longer document fields, `attribute`/`refInfo` tails.
    V4_0_1,
}

impl Version {
    /// Every version, oldest first.
    pub const ALL: [Version; 3] = [Version::V3_1_1, Version::V3_2_1, Version::V4_0_1];

    /// The version's namespace.
    pub fn namespace(self) -> &'static str {
        match self {
            Version::V3_1_1 => "http://epgu.gosuslugi.ru/concentrator/kindergarten/3.1.1",
            Version::V3_2_1 => "http://epgu.gosuslugi.ru/concentrator/kindergarten/3.2.1",
            Version::V4_0_1 => "http://epgu.gosuslugi.ru/concentrator/kindergarten/4.0.1",
        }
    }

    /// The version whose namespace this is.
    pub fn from_namespace(ns: &str) -> Option<Version> {
        Version::ALL.into_iter().find(|v| v.namespace() == ns)
    }

    /// The version written as `3.2.1` (as a registration of the kind of data names it).
    pub fn from_name(name: &str) -> Option<Version> {
        Version::ALL.into_iter().find(|v| v.as_str() == name)
    }

    /// The version as written in its namespace, for messages.
    pub fn as_str(self) -> &'static str {
        match self {
            Version::V3_1_1 => "3.1.1",
            Version::V3_2_1 => "3.2.1",
            Version::V4_0_1 => "4.0.1",
        }
    }
}

/// A version of kindergarten-order (`OrderRequest[@env]` -> `OrderResponse`), the kind of data the region
/// consumes to report an application filed elsewhere to the parent's EPGU account.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OrderVersion {
    /// Used when the subscription came in 3.2.1.
    V1_0_0,
    /// Used when the subscription came in 4.0.1: the 4.0.1 child and person changes.
    V1_0_1,
}

impl OrderVersion {
    /// Both versions, oldest first.
    pub const ALL: [OrderVersion; 2] = [OrderVersion::V1_0_0, OrderVersion::V1_0_1];

    /// The version's namespace.
    pub fn namespace(self) -> &'static str {
        match self {
            OrderVersion::V1_0_0 => "http://epgu.gosuslugi.ru/concentrator/kindergarten-order/1.0.0",
            OrderVersion::V1_0_1 => "http://epgu.gosuslugi.ru/concentrator/kindergarten-order/1.0.1",
        }
    }

    /// The version whose namespace this is.
    pub fn from_namespace(ns: &str) -> Option<OrderVersion> {
        OrderVersion::ALL.into_iter().find(|v| v.namespace() == ns)
    }

    /// The version as written in its namespace, for messages.
    pub fn as_str(self) -> &'static str {
        match self {
            OrderVersion::V1_0_0 => "1.0.0",
            OrderVersion::V1_0_1 => "1.0.1",
        }
    }
}

/// A sex as 3.1.1 writes it (`GenderType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sex {
    /// `Male`.
    Male,
    /// `Female`.
    Female,
}

impl Sex {
    /// The schema's word.
    pub fn as_str(self) -> &'static str {
        match self {
            Sex::Male => "Male",
            Sex::Female => "Female",
        }
    }
}

/// A foreign birth document as 3.1.1 carries it: no issue date and no issuer, so it does not fit the model's
/// [`crate::school::kindergarten::model::BirthDoc::Foreign`] and is kept here.
#[derive(Clone, PartialEq, Eq)]
pub struct ForeignBirthDoc311 {
    /// The document's name.
    pub name: String,
    /// Series, if any.
    pub series: Option<String>,
    /// Number.
    pub number: String,
}

/// What a 3.1.1 `ApplicationRequest` carries beyond the version-neutral model (the older shape asked more about
/// the people). Read beside the application so that a 3.1.1 `GetApplicationResponse`, whose `Application` requires
/// these fields, can be written back; the newer versions neither carry nor need it.
#[derive(Clone, PartialEq, Eq)]
pub struct Legacy311 {
    /// The applicant's birth date (`PersonBirthDate`).
    pub person_birth_date: Date,
    /// The applicant's sex (`PersonSex`).
    pub person_sex: Sex,
    /// The applicant's citizenship (`Citizenship`).
    pub citizenship: String,
    /// The applicant's country of birth, if given (`BirthCountry`).
    pub birth_country: Option<String>,
    /// The applicant's place of birth (`BirthPlace`).
    pub birth_place: String,
    /// Who the applicant is to the child (`PersonType`, ESNSI).
    pub person_type: Coded,
    /// The child's sex (`ChildSex`).
    pub child_sex: Sex,
    /// The child's SNILS as written, if given (`ChildSNILS`).
    pub child_snils: Option<String>,
    /// The child's place of birth (`ChildBirthPlace`, written with a Russian birth certificate).
    pub child_birth_place: String,
    /// The child's foreign birth document, when the application had one instead of a Russian certificate.
    pub foreign_birth_doc: Option<ForeignBirthDoc311>,
}

impl fmt::Debug for Legacy311 {
    /// Shows nothing personal.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Legacy311").field("person_type", &self.person_type).finish_non_exhaustive()
    }
}

/// A request of the `FormData` choice, read into the domain model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    /// `ApplicationRequest`: a new application, or an edit of one already sent (the same `order_id`).
    Application(KindergartenApplication),
    /// `ApplicationOrderInfoRequest`: a parent subscribes to an application filed elsewhere.
    OrderInfo(Subscription),
    /// `ApplicationAdmissionRequest`: an application for admission to the kindergarten offered.
    Admission(AdmissionApplication),
    /// `GetApplicationQueueRequest`: the queue position.
    Queue {
        /// The application's order number.
        order_id: i64,
    },
    /// `GetApplicationQueueReasonRequest`: why the position changed between two dates.
    QueueReason {
        /// The application's order number.
        order_id: i64,
        /// The period's first day (`PeriodStart`).
        from: Date,
        /// The period's last day (`PeriodEnd`).
        to: Date,
    },
    /// `GetApplicationRequest`: the application as held, for the portal's edit form.
    Get {
        /// The application's order number.
        order_id: i64,
    },
    /// `GetApplicationAdmissionRequest`: the data for the admission form.
    GetAdmission {
        /// The application's order number.
        order_id: i64,
    },
    /// `ApplicationRejectionRequest`: the applicant refuses the kindergarten offered.
    Rejection {
        /// The application's order number.
        order_id: i64,
        /// The kindergarten refused (4.0.1 only).
        kindergarten_code: Option<String>,
        /// The applicant's comment.
        comment: Option<String>,
    },
    /// `cancelRequest`: withdraw the application.
    Cancel {
        /// The application's order number.
        order_id: i64,
        /// The applicant's reason.
        reason: Option<String>,
    },
    /// 3.1.1 `ApplicationChooseRequest`: the applicant's decision on the kindergarten offered.
    Choose {
        /// The application's order number.
        order_id: i64,
        /// The kindergarten offered.
        kindergarten_code: String,
        /// Whether the applicant accepts it.
        accepted: bool,
    },
    /// 3.1.1 `textRequest`: a text message from the applicant to the department.
    Text {
        /// The application's order number.
        order_id: i64,
        /// The message.
        text: String,
    },
}

impl Request {
    /// The portal's order number the request names.
    pub fn order_id(&self) -> i64 {
        match self {
            Request::Application(a) => a.order_id,
            Request::OrderInfo(s) => s.order_id,
            Request::Admission(a) => a.order_id,
            Request::Queue { order_id }
            | Request::QueueReason { order_id, .. }
            | Request::Get { order_id }
            | Request::GetAdmission { order_id }
            | Request::Rejection { order_id, .. }
            | Request::Cancel { order_id, .. }
            | Request::Choose { order_id, .. }
            | Request::Text { order_id, .. } => *order_id,
        }
    }
}

/// A `FormData` as read: its version, its routing code and its one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FormData {
    /// The version the request came in (by its namespace); the answer is written in it.
    pub version: Version,
    /// `@oktmo`: the routing code of the regional system (1 to 11 characters).
    pub oktmo: String,
    /// The request.
    pub request: Request,
    /// What a 3.1.1 `ApplicationRequest` carries beyond the model (`None` for every other request).
    pub legacy: Option<Legacy311>,
}

/// Why a request cannot be read: what is wrong, where, and the order it names when that was read first.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{path}: {message}")]
pub struct ReadError {
    /// The request's `orderId`, when it was read before the error (so the answer can name the order).
    pub order_id: Option<i64>,
    /// The element (or attribute) at fault, as a path from the root, e.g. `FormData/ApplicationRequest/orderId`.
    pub path: String,
    /// What is wrong, in Russian, fit for the comment of a 150 answer.
    pub message: String,
}

/// Why an answer cannot be written in a version: the version's schema has no place for it, or the model holds a
/// value the schema cannot carry. Never a partial or schema-invalid document.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WriteError {
    /// The version's `FormDataResponse` (or the kind of data) has no such answer, e.g. a queue-reason answer in 3.1.1.
    #[error("{version} has no {what}")]
    NotInVersion {
        /// The version.
        version: &'static str,
        /// What it lacks.
        what: &'static str,
    },
    /// A value longer than the schema allows there.
    #[error("{path}: {len} characters, the schema allows {max}")]
    TooLong {
        /// Where.
        path: String,
        /// The value's length in characters.
        len: usize,
        /// The schema's limit.
        max: usize,
    },
    /// A value the schema cannot carry there (out of range, too many, missing, a kind the version lacks).
    #[error("{path}: {reason}")]
    Inexpressible {
        /// Where.
        path: String,
        /// Why.
        reason: String,
    },
}

/// `statusCode`: a department status or a portal (technical) code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusCode {
    /// `orgCode`: the department status, 110 .. 250.
    Org {
        /// The code.
        code: u16,
    },
    /// `techCode`: the portal's code (3 subscription found, 4 not found ...); 3.1.1 has only this.
    Tech {
        /// The code (`xsd:byte`).
        code: i8,
    },
}

/// `changeOrderInfo`: a status for the order, the answer to applications, subscriptions, admissions and
/// rejections, and every later status push.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChangeOrderInfo {
    /// The portal's order number (written wrapped as `orderId/pguId`).
    pub order_id: i64,
    /// The status.
    pub status: StatusCode,
    /// The comment for the parent: cut to the schema's 2048 characters when longer.
    pub comment: Option<String>,
    /// Whether the portal may offer "cancel" (`cancelAllowed`).
    pub cancel_allowed: Option<bool>,
    /// Whether the portal may let the applicant write to the department (`sendMessageAllowed`, 3.1.1 only: left
    /// out in the newer versions, which have no such element).
    pub send_message_allowed: Option<bool>,
}

impl ChangeOrderInfo {
    /// The answer for a department status of the model.
    pub fn from_status(order_id: i64, status: &Status) -> ChangeOrderInfo {
        ChangeOrderInfo {
            order_id,
            status: StatusCode::Org { code: status.code },
            comment: status.comment.clone(),
            cancel_allowed: Some(status.cancel_allowed),
            send_message_allowed: None,
        }
    }
}

/// One kindergarten's queue in a 3.1.1 queue answer (`EduOrganizationQueue`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KindergartenQueue311 {
    /// The kindergarten's code.
    pub code: String,
    /// The application's place in its queue (`NumberInQueue`).
    pub position: i64,
    /// How many applications the queue holds (`AllInQueue`).
    pub total: i64,
}

/// The 3.1.1 queue answer: the application's entry parameters and its place in each chosen kindergarten's queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Queue311 {
    /// The application's order number.
    pub order_id: i64,
    /// The desired entry date.
    pub entry_date: Date,
    /// The group's orientation (a code or a name, at most 50 characters).
    pub adaptation_group: String,
    /// The kind of adapted programme, if any.
    pub adaptation_group_type: Option<String>,
    /// The schedule.
    pub schedule: String,
    /// One entry per kindergarten (1 to 10).
    pub kindergartens: Vec<KindergartenQueue311>,
}

/// An answer (`FormDataResponse` holds exactly one).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer<'a> {
    /// `changeOrderInfo`.
    ChangeOrderInfo(ChangeOrderInfo),
    /// `GetApplicationQueueResponse` (3.2.1, 4.0.1).
    Queue {
        /// The application's order number.
        order_id: i64,
        /// The position.
        position: &'a QueuePosition,
    },
    /// `GetApplicationQueueResponse` in 3.1.1's own shape.
    Queue311(&'a Queue311),
    /// `GetApplicationQueueReasonResponse` (3.2.1, 4.0.1).
    QueueReason {
        /// The application's order number.
        order_id: i64,
        /// The reasons.
        reasons: &'a QueueReasons,
    },
    /// `GetApplicationResponse`: the application as held, without files. In 3.1.1 its `Application` needs what
    /// `legacy` holds, and `read_only` names the fields the portal must not let the parent change.
    Application {
        /// The application.
        application: &'a KindergartenApplication,
        /// The 3.1.1-only data (required in 3.1.1, ignored otherwise).
        legacy: Option<&'a Legacy311>,
        /// 3.1.1 `ReadOnlyFields/Field` (ignored otherwise).
        read_only: &'a [String],
    },
    /// `GetApplicationAdmissionResponse` (3.2.1, 4.0.1).
    Admission(&'a Admission),
    /// `cancelResponse`.
    Cancel {
        /// The application's order number.
        order_id: i64,
        /// The outcome.
        cancelled: &'a Cancelled,
    },
    /// 3.1.1 `textResponse` (`OK`).
    Text {
        /// The application's order number.
        order_id: i64,
    },
}

/// The `@env` of an `OrderRequest`: the portal's contour.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Env {
    /// Production.
    Epgu,
    /// Development.
    Dev,
    /// User acceptance.
    Uat,
    /// External user acceptance.
    Exuat,
    /// Service development.
    Svcdev,
    /// The test contour of the portal's consumers.
    Tcod,
}

impl Env {
    /// The schema's word.
    pub fn as_str(self) -> &'static str {
        match self {
            Env::Epgu => "EPGU",
            Env::Dev => "DEV",
            Env::Uat => "UAT",
            Env::Exuat => "EXUAT",
            Env::Svcdev => "SVCDEV",
            Env::Tcod => "TCOD",
        }
    }
}

/// One `statusHistory` entry of an order request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusEntry {
    /// The status.
    pub code: StatusCode,
    /// When it was set (written with its zone).
    pub at: OffsetDateTime,
    /// The comment for the parent: cut to the schema's 4000 characters when longer.
    pub comment: Option<String>,
    /// Whether the portal may offer "cancel".
    pub cancel_allowed: Option<bool>,
}

/// A kindergarten-order `OrderRequest` (the region as a consumer).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OrderRequest<'a> {
    /// `CreateOrderRequest`: opens the order in the parent's account after a subscription.
    Create {
        /// The subscription's order number (`orderId_InfoRequest`).
        info_request_order_id: i64,
        /// When the application was filed (`requestDate`).
        request_date: OffsetDateTime,
        /// The statuses so far (at least one).
        history: &'a [StatusEntry],
        /// The application.
        application: &'a KindergartenApplication,
    },
    /// `UpdateOrderRequest`: later statuses, and the application when it changed.
    Update {
        /// The order's number in the parent's account (from `CreateOrderResponse/orderId`).
        order_id: i64,
        /// The new statuses (at least one).
        history: &'a [StatusEntry],
        /// The application, when it changed.
        application: Option<&'a KindergartenApplication>,
    },
}

/// The portal's `OrderResponse`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OrderResponse {
    /// `CreateOrderResponse`.
    Created {
        /// 0 = success; anything else is a refusal with `message`.
        code: i8,
        /// The portal's message.
        message: String,
        /// The subscription's order number the request named.
        info_request_order_id: i64,
        /// The order's number in the parent's account, on success.
        order_id: Option<i64>,
    },
    /// `UpdateOrderResponse`.
    Updated {
        /// 0 = success.
        code: i8,
        /// The portal's message.
        message: String,
    },
}
