//! The kindergarten application as the region's system holds it: one version-neutral model of what the EPGU
//! concentrator's `FormData` requests carry (3.1.1, 3.2.1 and 4.0.1; 4.0.1 is the widest), so that the codec in
//! `services::kindergarten` reads every version into it and writes every version's answers from it, and the
//! systems behind [`super::Kindergartens`] never see XML.
//!
//! Domain types: not `Serialize` (the embedded data file and the REST connector have their own records), and their
//! `Debug` masks people (names, documents, addresses, contacts), so that a `{:?}` in a log line is safe.
#![forbid(unsafe_code)]

use std::fmt;
use time::{Date, OffsetDateTime};

use crate::school::model::masked_name;
use crate::school::snils::Snils;

/// A value from one of the region's ESNSI dictionaries: its code and the text the portal showed
/// (`DataElementType`: identity document kinds, languages, schedules, groups, benefits, FIAS/GAR address parts).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Coded {
    /// The dictionary code (`@code`, at most 50 characters; may be empty, as for an address part without a GUID).
    pub code: String,
    /// The text, at most 256 characters.
    pub text: String,
}

/// A file the portal attached, as the application names it (`AppliedDocumentType`); the file itself travels as an
/// attachment of the SMEV message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileRef {
    /// The code EPGU generated for the file.
    pub code: String,
    /// The file's name.
    pub name: String,
    /// Its MIME type.
    pub mime: String,
}

/// A document's issue (`DocInfoType`), as for a benefit's proof.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DocInfo {
    /// When it was issued.
    pub issue_date: Date,
    /// Who issued it.
    pub issued: String,
    /// Until when it is valid, if it expires.
    pub expires: Option<Date>,
}

/// A representative who is not a parent, with the document that makes them one.
#[derive(Clone, PartialEq, Eq)]
pub struct Representative {
    /// The document's name.
    pub doc_name: String,
    /// Its series, if it has one.
    pub doc_series: Option<String>,
    /// Its number.
    pub doc_number: String,
    /// When it was issued.
    pub doc_date: Date,
    /// Who issued it.
    pub doc_issued: String,
}

/// The applicant (`PersonInfo`).
#[derive(Clone, PartialEq, Eq)]
pub struct Applicant {
    /// Surname.
    pub surname: String,
    /// Given name.
    pub name: String,
    /// Patronymic, if any.
    pub middle_name: Option<String>,
    /// Phone, as the portal wrote it (at most 14 characters).
    pub phone: String,
    /// E-mail.
    pub email: String,
    /// Whether the applicant is a parent (`Parents`); otherwise `representative` says why they may apply.
    pub is_parent: bool,
    /// The document of a representative who is not a parent.
    pub representative: Option<Representative>,
    /// The applicant's SNILS, which only 3.1.1 carries.
    pub snils: Option<Snils>,
}

/// The second parent (`Person2Info`, in an admission request).
#[derive(Clone, PartialEq, Eq)]
pub struct SecondParent {
    /// Surname.
    pub surname: String,
    /// Given name.
    pub name: String,
    /// Patronymic, if any.
    pub middle_name: Option<String>,
    /// Phone, if given.
    pub phone: Option<String>,
    /// E-mail, if given.
    pub email: Option<String>,
}

/// The applicant's identity document (`PersonIdentityDocInfo`).
#[derive(Clone, PartialEq, Eq)]
pub struct IdentityDoc {
    /// The kind of document, from the ESNSI dictionary.
    pub kind: Coded,
    /// Series, if any.
    pub series: Option<String>,
    /// Number.
    pub number: String,
    /// When it was issued.
    pub issue_date: Date,
    /// The issuing department's code, if given.
    pub issuer_code: Option<String>,
    /// Who issued it (required before 4.0.1).
    pub issued: Option<String>,
}

/// The child's birth document: one of three kinds.
#[derive(Clone, PartialEq, Eq)]
pub enum BirthDoc {
    /// A Russian birth certificate (`ChildBirthDocRF`).
    Russian {
        /// Series, e.g. "I-КБ".
        series: String,
        /// Number.
        number: String,
        /// When it was issued.
        issue_date: Date,
        /// The civil registry act's number (required before 4.0.1).
        act_number: Option<String>,
        /// The act's date (required before 4.0.1).
        act_date: Option<Date>,
        /// The registry office that issued it.
        issued: String,
    },
    /// A foreign birth document (`ChildBirthDocForeign`).
    Foreign {
        /// The document's name.
        name: String,
        /// Series, if any.
        series: Option<String>,
        /// Number.
        number: String,
        /// When it was issued.
        issue_date: Date,
        /// Who issued it.
        issued: String,
    },
    /// Only the civil registry act (`ChildBirthAct`, 4.0.1).
    Act {
        /// The act's number.
        act_number: String,
        /// The act's date.
        act_date: Date,
        /// The registry office, if given.
        issued: Option<String>,
    },
}

/// The child (`ChildInfo`).
#[derive(Clone, PartialEq, Eq)]
pub struct Child {
    /// Surname.
    pub surname: String,
    /// Given name.
    pub name: String,
    /// Patronymic, if any.
    pub middle_name: Option<String>,
    /// Birth date: the queue's age groups follow from it.
    pub birth_date: Date,
    /// The birth document (3.1.1 carries none: `None` there only).
    pub birth_doc: Option<BirthDoc>,
}

/// Where the child lives (`AddressType`): the full text and each part with its FIAS/GAR GUID as the code.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Address {
    /// The whole address as one line.
    pub full: String,
    /// Postal index.
    pub index: String,
    /// Region.
    pub region: Coded,
    /// District.
    pub area: Coded,
    /// City.
    pub city: Coded,
    /// City district.
    pub city_area: Coded,
    /// Settlement.
    pub place: Coded,
    /// Street.
    pub street: Coded,
    /// Additional territory.
    pub additional_area: Coded,
    /// Street within the additional territory.
    pub additional_street: Coded,
    /// House (its GUID may be empty).
    pub house: Coded,
    /// Korpus.
    pub building1: String,
    /// Stroenie.
    pub building2: String,
    /// Apartment.
    pub apartment: String,
}

/// When and how the child is to attend (`EntryParams`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntryParams {
    /// The desired entry date.
    pub entry_date: Date,
    /// The language of education.
    pub language: Coded,
    /// The day schedule (full day, short day ...).
    pub schedule: Coded,
    /// Whether a full-day group is acceptable when the schedule asked for is not available.
    pub full_day_group: Option<bool>,
    /// Whether a group of another schedule is acceptable (4.0.1).
    pub other_day_group: Option<bool>,
}

/// The group's orientation (`AdaptationProgram`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Adaptation {
    /// General, compensating, combined ... (ESNSI).
    pub group: Coded,
    /// The kind of adapted programme, if any.
    pub group_type: Option<Coded>,
    /// Whether an adapted educational group is agreed to (4.0.1).
    pub education_group: Option<bool>,
    /// Whether a general group is agreed to.
    pub general_group: Option<bool>,
    /// Whether a care group is agreed to.
    pub care_group: Option<bool>,
    /// Whether special care conditions are needed.
    pub special_care: Option<bool>,
}

/// A medical report that supports an adapted group.
#[derive(Clone, PartialEq, Eq)]
pub struct MedicalReport {
    /// The kind of report (ESNSI).
    pub kind: Coded,
    /// Series, if any.
    pub series: Option<String>,
    /// Number.
    pub number: String,
    /// When it was issued.
    pub issue_date: Date,
    /// Who issued it.
    pub issued: String,
    /// Until when it is valid, if it expires.
    pub expires: Option<Date>,
    /// The report's files (at most 2).
    pub files: Vec<FileRef>,
}

/// A kindergarten the applicant wants, by the region's ESNSI code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DesiredKindergarten {
    /// The organisation's code in the region's classifier.
    pub code: String,
    /// Its name as the portal showed it.
    pub name: String,
    /// 1 = most wanted. 3.1.1 has only "priority or not": there 1 for priority, 2 otherwise.
    pub priority: u8,
}

/// A brother or sister already attending a kindergarten (a priority right).
#[derive(Clone, PartialEq, Eq)]
pub struct Sibling {
    /// Surname.
    pub surname: String,
    /// Given name.
    pub name: String,
    /// Patronymic, if any.
    pub middle_name: Option<String>,
    /// The kindergarten they attend.
    pub kindergarten: Coded,
}

/// A benefit claimed (priority or out-of-turn admission) and its proof.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Benefit {
    /// The benefit's category (ESNSI).
    pub category: Coded,
    /// The proving document.
    pub doc: DocInfo,
    /// The proof's files (at most 4 in 4.0.1).
    pub files: Vec<FileRef>,
}

/// A new application for a place in a kindergarten (or an edit of one: the same `order_id` again).
#[derive(Clone, PartialEq, Eq)]
pub struct KindergartenApplication {
    /// The portal's order number: the application's identity and the key of idempotent submission.
    pub order_id: i64,
    /// The OKTMO (routing code) the portal sent the application to.
    pub oktmo: String,
    /// The EPGU service code (`ServicesType`).
    pub service_type: String,
    /// When the parent filed it on the portal (first filing only).
    pub filed_at: Option<OffsetDateTime>,
    /// The applicant.
    pub applicant: Applicant,
    /// The applicant's identity document.
    pub identity: IdentityDoc,
    /// The child.
    pub child: Child,
    /// The child's address.
    pub address: Address,
    /// Entry date, language, schedule.
    pub entry: EntryParams,
    /// The group's orientation.
    pub adaptation: Adaptation,
    /// A medical report, if an adapted group is asked for.
    pub medical: Option<MedicalReport>,
    /// Kindergartens wanted, in the order sent (1 to 50).
    pub kindergartens: Vec<DesiredKindergarten>,
    /// Whether another kindergarten may be offered when none of those is free.
    pub allow_offer_other: Option<bool>,
    /// Brothers and sisters (at most 10).
    pub siblings: Vec<Sibling>,
    /// A benefit claimed, if any.
    pub benefit: Option<Benefit>,
    /// Files proving the right to stay in Russia (4.0.1, at most 4).
    pub stay_right_files: Vec<FileRef>,
}

/// An application for admission to the kindergarten offered (`ApplicationAdmissionRequest`).
#[derive(Clone, PartialEq, Eq)]
pub struct AdmissionApplication {
    /// The order the place was offered for.
    pub order_id: i64,
    /// The EPGU service code.
    pub service_type: String,
    /// The applicant.
    pub applicant: Applicant,
    /// The applicant's identity document.
    pub identity: IdentityDoc,
    /// The second parent, if given.
    pub second_parent: Option<SecondParent>,
    /// The child.
    pub child: Child,
    /// The child's address.
    pub address: Address,
    /// Entry date, language, schedule.
    pub entry: EntryParams,
    /// The group's orientation.
    pub adaptation: Adaptation,
    /// A medical report, if any.
    pub medical: Option<MedicalReport>,
    /// The kindergarten offered, by code.
    pub kindergarten_code: String,
    /// Whether the applicant has read the list of documents.
    pub doc_list_review: bool,
    /// Whether the applicant has read the licence and the charter.
    pub license_charter: bool,
}

/// A parent's subscription to an application filed elsewhere (`ApplicationOrderInfoRequest`): the application is
/// found by the child's names, birth date and birth document.
#[derive(Clone, PartialEq, Eq)]
pub struct Subscription {
    /// The portal's order number of the subscription: later pushes name it.
    pub order_id: i64,
    /// The EPGU service code.
    pub service_type: String,
    /// The applicant.
    pub applicant: Applicant,
    /// The applicant's identity document.
    pub identity: IdentityDoc,
    /// The child, whose data find the application.
    pub child: Child,
}

/// The admission as held, for the portal's admission form (`GetApplicationAdmissionResponse`).
#[derive(Clone, PartialEq, Eq)]
pub struct Admission {
    /// The application the admission is for (its person, child, address, entry and group data are written).
    pub application: KindergartenApplication,
    /// The kindergarten offered: code and name.
    pub kindergarten: Coded,
}

/// A department status with what the portal shows beside it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Status {
    /// The department status code (`orgCode`): 110 .. 250.
    pub code: u16,
    /// The comment for the parent (at most 2048 characters in the answer).
    pub comment: Option<String>,
    /// Whether the portal may offer "cancel" now.
    pub cancel_allowed: bool,
}

/// What became of a submitted (or edited) application.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Filed {
    /// Registered now, under the region's own number: answered 110.
    Registered {
        /// The region's number of the application.
        number: String,
        /// The status to answer with (110, comment naming the number and the next step).
        status: Status,
    },
    /// The same order was filed before and not changed: its current status, so the portal gets the same answer.
    AlreadyFiled(Status),
    /// An edit of an application already held: answered 110 ("changes accepted") now, 170 later lists the changes.
    Edited(Status),
    /// Refused (150) with the reason: an unknown kindergarten code, a child too old, a date in the past ...
    Refused(Status),
}

/// A queue position (`GetApplicationQueueResponse`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueuePosition {
    /// The application's place in the queue of its first-priority kindergarten (1 = first).
    pub position: u64,
    /// How many applications that queue holds.
    pub total: u64,
    /// How many ahead have the out-of-turn right.
    pub without_queue: u16,
    /// How many ahead have the first-turn right.
    pub first_queue: u16,
    /// How many ahead have a priority right.
    pub advantage_queue: u16,
    /// When the position was computed.
    pub relevant_at: OffsetDateTime,
}

/// Why the position changed in a period (`GetApplicationQueueReasonResponse`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueReasons {
    /// Applications placed ahead (new ones with rights, edits).
    pub increase_queue: u64,
    /// Applications ahead that got a place.
    pub got_a_place: u64,
    /// Applications ahead by a benefit.
    pub increase_benefits: u64,
}

/// The answer to a queue question.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum QueueAnswer<T> {
    /// The figures.
    Found(T),
    /// Not answerable: 150 with this status (not found, not in the queue, no change in the period).
    Refused(Status),
}

/// What a cancellation did (`cancelResponse/result`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CancelResult {
    /// Withdrawn.
    Cancelled,
    /// Still being processed.
    InProgress,
    /// Not withdrawn (e.g. the child is already enrolled).
    Rejected,
}

/// A cancellation's outcome and its comment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cancelled {
    /// The result.
    pub result: CancelResult,
    /// The comment for the parent.
    pub comment: Option<String>,
}

/// What a subscription found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Subscribed {
    /// Found (techCode 3): the region's number of the application; its history follows as pushes.
    Found {
        /// The region's number of the application.
        number: String,
    },
    /// Not found, or the data are incomplete (techCode 4): what is missing, for the parent.
    NotFound(String),
    /// The application was filed on the portal: 150 ("follow the status in your account").
    FiledOnPortal(Status),
}

/// A change of a kindergarten application's status in the region's system, to be pushed to the portal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KindergartenChange {
    /// The change's position in the system's durable sequence of changes: increasing, never reused.
    pub cursor: u64,
    /// The portal's order number (of the application, or of the subscription for one filed elsewhere).
    pub order_id: i64,
    /// The new status.
    pub status: Status,
    /// When it changed.
    pub at: OffsetDateTime,
    /// Whether the application was filed on the portal (the change is a further response to its request) or
    /// elsewhere (the change is a kindergarten-order `OrderRequest`).
    pub filed_on_portal: bool,
}

fn masked_opt(value: &Option<String>) -> Option<String> {
    value.as_deref().map(masked_name)
}

impl fmt::Debug for Representative {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Representative").field("doc_name", &self.doc_name).finish_non_exhaustive()
    }
}

impl fmt::Debug for Applicant {
    /// Masks names and contacts.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Applicant")
            .field("surname", &masked_name(&self.surname))
            .field("name", &masked_name(&self.name))
            .field("middle_name", &masked_opt(&self.middle_name))
            .field("is_parent", &self.is_parent)
            .field("snils", &self.snils)
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for SecondParent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SecondParent").field("surname", &masked_name(&self.surname)).finish_non_exhaustive()
    }
}

impl fmt::Debug for IdentityDoc {
    /// Shows the kind only.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IdentityDoc").field("kind", &self.kind).finish_non_exhaustive()
    }
}

impl fmt::Debug for BirthDoc {
    /// Shows the kind only.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            BirthDoc::Russian { .. } => "BirthDoc::Russian(..)",
            BirthDoc::Foreign { .. } => "BirthDoc::Foreign(..)",
            BirthDoc::Act { .. } => "BirthDoc::Act(..)",
        })
    }
}

impl fmt::Debug for Child {
    /// Masks names and the birth date.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Child")
            .field("surname", &masked_name(&self.surname))
            .field("name", &masked_name(&self.name))
            .field("birth_date", &"****-**-**")
            .field("birth_doc", &self.birth_doc)
            .finish()
    }
}

impl fmt::Debug for Address {
    /// Shows the region only.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Address").field("region", &self.region.text).finish_non_exhaustive()
    }
}

impl fmt::Debug for MedicalReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MedicalReport").field("kind", &self.kind).field("files", &self.files.len()).finish()
    }
}

impl fmt::Debug for Sibling {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sibling").field("kindergarten", &self.kindergarten).finish_non_exhaustive()
    }
}

impl fmt::Debug for KindergartenApplication {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KindergartenApplication")
            .field("order_id", &self.order_id)
            .field("oktmo", &self.oktmo)
            .field("applicant", &self.applicant)
            .field("child", &self.child)
            .field("kindergartens", &self.kindergartens)
            .field("benefit", &self.benefit.as_ref().map(|b| &b.category))
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for AdmissionApplication {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AdmissionApplication")
            .field("order_id", &self.order_id)
            .field("kindergarten_code", &self.kindergarten_code)
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for Subscription {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Subscription")
            .field("order_id", &self.order_id)
            .field("child", &self.child)
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for Admission {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Admission")
            .field("order_id", &self.application.order_id)
            .field("kindergarten", &self.kindergarten)
            .finish()
    }
}
