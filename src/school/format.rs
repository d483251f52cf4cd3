//! The format of the embedded school system's data file: the records as written, the one definition that the loader
//! (`datafile.rs`) reads and the developer tool `edugate-school-data` (`src/bin/school_data/`) writes, so the two
//! cannot disagree. Serde structs of the file, never domain types.
//!
//! # Format `edugate-school-data/1`
//!
//! ```text
//! { "format": "edugate-school-data/1",
//!   "schools":      [ {"code", "name", "oktmo"} ],
//!   "classes":      [ {"id", "school", "name", "subjects": [name], "lessons": [[date, subject index, topic, work type, weight]]} ],
//!   "pupils":       [ {"id", "surname", "name", "middle_name"?, "birth_date", "class",
//!                      "marks": [[lesson index, value]], "terms": [[subject, term, value]], "year": [[subject, value]]} ],
//!   "guardians":    [ {"snils", "links": [ {"pupil", "consent_given"?, "consent_withdrawn"?} ]} ],
//!   "applications": [ {"order_id", "status", "changed_at"?, "comment"?} ],
//!   "kindergartens": [ {"code", "name", "oktmo", "address", "groups": [ {"name", "age_from", "age_to", "capacity"} ]} ],
//!   "benefit_categories": [ {"code", "name", "right": "out_of_turn" | "first_turn" | "priority"} ],
//!   "kindergarten_queue": [ {"number", "filed_at", "status", "changed_at"?, "comment"?,
//!                            "child": {"surname", "name", "middle_name"?, "birth_date", "birth_doc"?},
//!                            "kindergartens": [[code, priority]], "entry_date", "benefit"?, "offered"?,
//!                            "address"?, "language"?, "schedule"?, "group"?} ],
//!   "kindergarten_statuses": [ {"order_id", "status", "changed_at"?, "comment"?} ] }
//! ```
//!
//! The four kindergarten sections are optional. `kindergarten_queue` holds applications filed elsewhere (in person),
//! named by the region's number; `kindergarten_statuses` sets the statuses of applications filed on the portal (kept
//! in the journal), by order. A `birth_doc` is tagged by `kind`: `russian` (series, number, issue_date, act_number?,
//! act_date?, issued), `foreign` (name, series?, number, issue_date, issued) or `act` (act_number, act_date, issued?).
//!
//! Lessons belong to a class (a journal records the lesson once, with its topic and the kind of work); a pupil's
//! mark points at a lesson of the pupil's class by its index. Dates are `YYYY-MM-DD`, `changed_at` is RFC 3339.
//! A link carries consent when `consent_given` is set and no later `consent_withdrawn` is. `data/README.md` is the
//! user's description of the same format.
#![forbid(unsafe_code)]

use serde::{Deserialize, Serialize};

pub use crate::school::kindergarten::records::{
    BenefitCategoryRec, BirthDocRec, ChildRec, CodedRec, GroupRec, KindergartenRec, QueueEntryRec,
};

/// The format tag a data file must carry.
pub const FORMAT: &str = "edugate-school-data/1";

/// The whole data file, as written.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DataFile {
    /// The format tag, so that a file of another format is refused by name rather than by a field it lacks.
    pub format: String,
    /// The schools of the region.
    pub schools: Vec<SchoolRec>,
    /// The classes, each with its journal of lessons.
    pub classes: Vec<ClassRec>,
    /// The pupils, each with their marks.
    pub pupils: Vec<PupilRec>,
    /// The guardians, with their links to pupils and consent.
    pub guardians: Vec<GuardianRec>,
    /// Statuses of applications as the school sets them; editing this section produces status changes.
    #[serde(default)]
    pub applications: Vec<ApplicationRec>,
    /// The region's kindergartens (ESNSI code, name, OKTMO, address, groups by age).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub kindergartens: Vec<KindergartenRec>,
    /// The region's benefit categories and the queue right each gives.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub benefit_categories: Vec<BenefitCategoryRec>,
    /// The kindergarten queue's applications filed elsewhere (in person); editing a status produces a change.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub kindergarten_queue: Vec<QueueEntryRec>,
    /// Statuses of kindergarten applications filed on the portal, as the school sets them (by order, as
    /// `applications` does for enrollment); editing this section produces status changes.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub kindergarten_statuses: Vec<ApplicationRec>,
}

/// A school, as written.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SchoolRec {
    /// The school's code, unique.
    pub code: String,
    /// The school's name.
    pub name: String,
    /// The municipality's OKTMO code, 8 or 11 digits.
    pub oktmo: String,
}

/// A class and its journal, as written.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClassRec {
    /// A unique id, by which pupils name their class ("SCH-001:5А").
    pub id: String,
    /// The school's code.
    pub school: String,
    /// The class as the school writes it ("5А").
    pub name: String,
    /// The curriculum: subject names, in the order the journal shows them; lessons refer to them by index.
    pub subjects: Vec<String>,
    /// The lessons held, in any order.
    #[serde(default)]
    pub lessons: Vec<LessonRec>,
}

/// A lesson, as written: `[date, subject index, topic, work type, weight]`.
#[derive(Debug, Serialize, Deserialize)]
pub struct LessonRec(
    /// The date, `YYYY-MM-DD`.
    pub String,
    /// The subject's index in the class's `subjects`.
    pub usize,
    /// The topic, if recorded.
    pub Option<String>,
    /// The kind of work marked at this lesson, if recorded.
    pub Option<String>,
    /// The weight of the lesson's marks, 1 or more.
    pub u8,
);

/// A pupil, as written.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PupilRec {
    /// The school system's id, unique.
    pub id: String,
    /// The surname.
    pub surname: String,
    /// The given name.
    pub name: String,
    /// The patronymic, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub middle_name: Option<String>,
    /// The birth date, `YYYY-MM-DD`.
    pub birth_date: String,
    /// The class's id.
    pub class: String,
    /// Lesson marks: `[lesson index in the class, value]`.
    #[serde(default)]
    pub marks: Vec<(usize, String)>,
    /// Term marks: `[subject, term, value]`.
    #[serde(default)]
    pub terms: Vec<(String, u8, String)>,
    /// Year marks: `[subject, value]`.
    #[serde(default)]
    pub year: Vec<(String, String)>,
}

/// A guardian, as written.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GuardianRec {
    /// The guardian's SNILS, `XXX-XXX-XXX YY`.
    pub snils: String,
    /// The pupils the guardian is linked to.
    pub links: Vec<LinkRec>,
}

/// A guardian's link to a pupil, as written.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LinkRec {
    /// The pupil's id.
    pub pupil: String,
    /// When the guardian signed consent to the processing of personal data, if they did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub consent_given: Option<String>,
    /// When the guardian withdrew that consent, if they did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub consent_withdrawn: Option<String>,
}

/// An application's status as the school sets it, as written.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApplicationRec {
    /// The portal's order number.
    pub order_id: i64,
    /// The department status code, 110..250.
    pub status: u16,
    /// When the status was set, RFC 3339; without it, the time the change is noticed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub changed_at: Option<String>,
    /// The comment for the parent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
}

/// Writes `YYYY-MM-DD`.
pub fn format_date(date: time::Date) -> String {
    format!("{:04}-{:02}-{:02}", date.year(), date.month() as u8, date.day())
}
