//! The enrollment application as the school system receives it: everything the portal's form carries (format
//! 1.0.0 or 1.1.0 of `urn://edugate/school-enrollment`), reusing the concentrator's person, document and address
//! types from the kindergarten model. Domain types: not `Serialize`, and their `Debug` masks people.
#![forbid(unsafe_code)]

use std::fmt;

use crate::school::kindergarten::model::{Address, Applicant, Child, Coded, DocInfo, FileRef, IdentityDoc};
use crate::school::snils::Snils;

/// A school the applicant wants, by the region's code (in format 1.1.0 the school's code in the region's ESNSI
/// classifier), with its priority.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DesiredSchool {
    /// The school's code, by which the school system knows it.
    pub code: String,
    /// The school's name as the portal showed it (format 1.0.0 sends none: empty there).
    pub name: String,
    /// 1 = the most wanted, up to 5.
    pub priority: u8,
}

/// A right of admission claimed (out of turn, first turn, or the preferential right of a child whose brother or
/// sister attends the school), with its proof when the form gives one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnrollmentBenefit {
    /// The category (the region's ESNSI code and its text).
    pub category: Coded,
    /// The proving document, if given (format 1.0.0 sends only the category).
    pub doc: Option<DocInfo>,
    /// The proof's files, as the portal names them.
    pub files: Vec<FileRef>,
}

/// A brother or sister who attends a school: the preferential right of admission to that school.
#[derive(Clone, PartialEq, Eq)]
pub struct SchoolSibling {
    /// Surname.
    pub surname: String,
    /// Given name.
    pub name: String,
    /// Patronymic, if any.
    pub middle_name: Option<String>,
    /// The school they attend: its code and name.
    pub school: Coded,
}

/// An application to enroll a child in a school, as the portal sends it: everything the form carries, so that the
/// school decides on the application itself (documents, address, rights, siblings, filing time), not on a summary.
///
/// Both formats are read into it (`urn://edugate/school-enrollment/1.0.0` and `/1.1.0`); what the older format or
/// an older journal line does not carry is `None` or empty.
#[derive(Clone, PartialEq, Eq)]
pub struct EnrollmentApplication {
    /// The portal's order number: the application's identity, and the key of idempotent submission.
    pub order_id: i64,
    /// The OKTMO code of the municipality the portal routed the application to.
    pub oktmo: String,
    /// The EPGU service code (`ServicesType`), when the form names it (1.1.0).
    pub service_type: Option<String>,
    /// When the parent filed the application on the portal (`FilingDate`): it decides the order of admission.
    pub filed_at: Option<time::OffsetDateTime>,
    /// The applicant's SNILS, which later lookups identify the parent by (also in `applicant.snils`).
    pub applicant_snils: Snils,
    /// The applicant: names, contacts, parent or representative (with the representative's document).
    pub applicant: Applicant,
    /// The applicant's identity document (`None` only for applications journaled before it was kept).
    pub identity: Option<IdentityDoc>,
    /// The child: names, birth date (checked against the grade), birth document.
    pub child: Child,
    /// The child's SNILS, if given.
    pub child_snils: Option<Snils>,
    /// Where the child lives, with FIAS/GAR codes: it decides the school's assigned territory (`None` only for
    /// applications journaled before it was kept).
    pub address: Option<Address>,
    /// Desired schools, priority 1 (most wanted) first.
    pub schools: Vec<DesiredSchool>,
    /// The grade applied for, 1..=11.
    pub grade: u8,
    /// The academic year applied for, "2027/2028".
    pub academic_year: String,
    /// The language of instruction asked for, if any.
    pub language: Option<Coded>,
    /// An adapted programme asked for (a child with a commission's recommendation), if any.
    pub adapted_program: Option<Coded>,
    /// Brothers and sisters attending schools (at most 10).
    pub siblings: Vec<SchoolSibling>,
    /// A right of admission claimed, if any.
    pub benefit: Option<EnrollmentBenefit>,
    /// Other documents attached on the portal, as it names them.
    pub documents: Vec<FileRef>,
}

impl EnrollmentApplication {
    /// The desired schools' codes, most wanted first.
    pub fn school_codes(&self) -> impl Iterator<Item = &str> {
        self.schools.iter().map(|s| s.code.as_str())
    }
}

impl fmt::Debug for EnrollmentApplication {
    /// Masks the SNILS, the names, the birth date, documents and the address, so that `{:?}` of an application is
    /// safe in a log line.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EnrollmentApplication")
            .field("order_id", &self.order_id)
            .field("oktmo", &self.oktmo)
            .field("applicant_snils", &self.applicant_snils)
            .field("applicant", &self.applicant)
            .field("identity", &self.identity)
            .field("child", &self.child)
            .field("address", &self.address)
            .field("schools", &self.schools)
            .field("grade", &self.grade)
            .field("academic_year", &self.academic_year)
            .field("siblings", &self.siblings.len())
            .field("benefit", &self.benefit.as_ref().map(|b| &b.category.code))
            .field("documents", &self.documents.len())
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for SchoolSibling {
    /// Shows the school only.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SchoolSibling").field("school", &self.school.code).finish_non_exhaustive()
    }
}
