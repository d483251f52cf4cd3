//! The kindergarten application as JSON: the one record of [`KindergartenApplication`] that the embedded system's
//! journal stores and the REST connector sends and reads (`docs/school-api.yaml`, schema `KindergartenApplication`),
//! so that the two cannot drift apart. Serde structs only, with conversions to and from the domain model; dates are
//! `YYYY-MM-DD`, timestamps RFC 3339.
//!
//! A record that cannot be read into the model says which field, never the value (it may be a birth date).
#![forbid(unsafe_code)]

use serde::{Deserialize, Serialize};
use time::{Date, OffsetDateTime};

use crate::school::kindergarten::model::{
    Adaptation, Address, AdmissionApplication, Applicant, Benefit, BirthDoc, Child, Coded, DesiredKindergarten,
    DocInfo, EntryParams, FileRef, IdentityDoc, KindergartenApplication, MedicalReport, Representative, SecondParent,
    Sibling, Subscription,
};
use crate::school::snils::Snils;

/// A dictionary value as written: `{"code", "text"}`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CodedRec {
    /// The dictionary code (may be empty).
    #[serde(default)]
    pub code: String,
    /// The text.
    #[serde(default)]
    pub text: String,
}

/// A file descriptor as written.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileRec {
    /// The code EPGU generated.
    pub code: String,
    /// The file's name.
    pub name: String,
    /// Its MIME type.
    pub mime: String,
}

/// A representative's document as written.
#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RepresentativeRec {
    /// The document's name.
    pub doc_name: String,
    /// Its series.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub doc_series: Option<String>,
    /// Its number.
    pub doc_number: String,
    /// Its date.
    pub doc_date: String,
    /// Who issued it.
    pub doc_issued: String,
}

/// The applicant as written.
#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApplicantRec {
    /// Surname.
    pub surname: String,
    /// Given name.
    pub name: String,
    /// Patronymic.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub middle_name: Option<String>,
    /// Phone.
    #[serde(default)]
    pub phone: String,
    /// E-mail.
    #[serde(default)]
    pub email: String,
    /// Whether a parent.
    pub is_parent: bool,
    /// A non-parent representative's document.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub representative: Option<RepresentativeRec>,
    /// SNILS, `XXX-XXX-XXX YY` (3.1.1 only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snils: Option<String>,
}

/// The second parent as written.
#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SecondParentRec {
    /// Surname.
    pub surname: String,
    /// Given name.
    pub name: String,
    /// Patronymic.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub middle_name: Option<String>,
    /// Phone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    /// E-mail.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
}

/// The applicant's identity document as written.
#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IdentityRec {
    /// Its kind (ESNSI).
    pub kind: CodedRec,
    /// Series.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub series: Option<String>,
    /// Number.
    pub number: String,
    /// Issue date.
    pub issue_date: String,
    /// Issuing department's code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issuer_code: Option<String>,
    /// Who issued it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issued: Option<String>,
}

/// The child's birth document as written, tagged by `kind`: `russian`, `foreign` or `act`.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum BirthDocRec {
    /// A Russian birth certificate.
    Russian {
        /// Series.
        series: String,
        /// Number.
        number: String,
        /// Issue date.
        issue_date: String,
        /// The act's number.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        act_number: Option<String>,
        /// The act's date.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        act_date: Option<String>,
        /// The registry office.
        issued: String,
    },
    /// A foreign birth document.
    Foreign {
        /// The document's name.
        name: String,
        /// Series.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        series: Option<String>,
        /// Number.
        number: String,
        /// Issue date.
        issue_date: String,
        /// Who issued it.
        issued: String,
    },
    /// Only the civil registry act.
    Act {
        /// The act's number.
        act_number: String,
        /// The act's date.
        act_date: String,
        /// The registry office.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        issued: Option<String>,
    },
}

/// The child as written.
#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChildRec {
    /// Surname.
    pub surname: String,
    /// Given name.
    pub name: String,
    /// Patronymic.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub middle_name: Option<String>,
    /// Birth date.
    pub birth_date: String,
    /// Birth document.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub birth_doc: Option<BirthDocRec>,
}

/// The address as written: every part with its FIAS/GAR GUID as `code`.
#[derive(Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AddressRec {
    /// The whole address.
    pub full: String,
    /// Postal index.
    pub index: String,
    /// Region.
    pub region: CodedRec,
    /// District.
    pub area: CodedRec,
    /// City.
    pub city: CodedRec,
    /// City district.
    pub city_area: CodedRec,
    /// Settlement.
    pub place: CodedRec,
    /// Street.
    pub street: CodedRec,
    /// Additional territory.
    pub additional_area: CodedRec,
    /// Street within it.
    pub additional_street: CodedRec,
    /// House.
    pub house: CodedRec,
    /// Korpus.
    pub building1: String,
    /// Stroenie.
    pub building2: String,
    /// Apartment.
    pub apartment: String,
}

/// Entry parameters as written.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EntryRec {
    /// Desired entry date.
    pub entry_date: String,
    /// Language.
    pub language: CodedRec,
    /// Schedule.
    pub schedule: CodedRec,
    /// Full-day group acceptable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub full_day_group: Option<bool>,
    /// Other-schedule group acceptable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub other_day_group: Option<bool>,
}

/// The group orientation as written.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdaptationRec {
    /// The group kind.
    pub group: CodedRec,
    /// The adapted programme.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group_type: Option<CodedRec>,
    /// Adapted educational group agreed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub education_group: Option<bool>,
    /// General group agreed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub general_group: Option<bool>,
    /// Care group agreed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub care_group: Option<bool>,
    /// Special care needed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub special_care: Option<bool>,
}

/// A medical report as written.
#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MedicalRec {
    /// Its kind.
    pub kind: CodedRec,
    /// Series.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub series: Option<String>,
    /// Number.
    pub number: String,
    /// Issue date.
    pub issue_date: String,
    /// Who issued it.
    pub issued: String,
    /// Valid until.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires: Option<String>,
    /// Its files.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub files: Vec<FileRec>,
}

/// A desired kindergarten as written.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DesiredRec {
    /// ESNSI code.
    pub code: String,
    /// Name as shown.
    #[serde(default)]
    pub name: String,
    /// 1 = most wanted.
    pub priority: u8,
}

/// A sibling as written.
#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SiblingRec {
    /// Surname.
    pub surname: String,
    /// Given name.
    pub name: String,
    /// Patronymic.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub middle_name: Option<String>,
    /// The kindergarten attended.
    pub kindergarten: CodedRec,
}

/// A benefit as written.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BenefitRec {
    /// Category (ESNSI).
    pub category: CodedRec,
    /// The proof's issue date.
    pub doc_issue_date: String,
    /// Who issued it.
    pub doc_issued: String,
    /// Valid until.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub doc_expires: Option<String>,
    /// The proof's files.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub files: Vec<FileRec>,
}

/// The whole application as written.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApplicationRec {
    /// The portal's order number.
    pub order_id: i64,
    /// The routing OKTMO.
    pub oktmo: String,
    /// The EPGU service code.
    #[serde(default)]
    pub service_type: String,
    /// When filed on the portal.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filed_at: Option<String>,
    /// The applicant.
    pub applicant: ApplicantRec,
    /// The applicant's identity document.
    pub identity: IdentityRec,
    /// The child.
    pub child: ChildRec,
    /// The address.
    #[serde(default)]
    pub address: AddressRec,
    /// Entry parameters.
    pub entry: EntryRec,
    /// Group orientation.
    pub adaptation: AdaptationRec,
    /// Medical report.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub medical: Option<MedicalRec>,
    /// Desired kindergartens.
    pub kindergartens: Vec<DesiredRec>,
    /// Another kindergarten may be offered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allow_offer_other: Option<bool>,
    /// Siblings.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub siblings: Vec<SiblingRec>,
    /// Benefit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub benefit: Option<BenefitRec>,
    /// Files proving the right to stay in Russia.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub stay_right_files: Vec<FileRec>,
}

/// An admission application as written.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdmissionRec {
    /// The order.
    pub order_id: i64,
    /// The EPGU service code.
    #[serde(default)]
    pub service_type: String,
    /// The applicant.
    pub applicant: ApplicantRec,
    /// The identity document.
    pub identity: IdentityRec,
    /// The second parent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub second_parent: Option<SecondParentRec>,
    /// The child.
    pub child: ChildRec,
    /// The address.
    #[serde(default)]
    pub address: AddressRec,
    /// Entry parameters.
    pub entry: EntryRec,
    /// Group orientation.
    pub adaptation: AdaptationRec,
    /// Medical report.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub medical: Option<MedicalRec>,
    /// The kindergarten offered.
    pub kindergarten_code: String,
    /// The list of documents was read.
    pub doc_list_review: bool,
    /// The licence and charter were read.
    pub license_charter: bool,
}

/// A subscription as written.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SubscriptionRec {
    /// The subscription's order.
    pub order_id: i64,
    /// The EPGU service code.
    #[serde(default)]
    pub service_type: String,
    /// The applicant.
    pub applicant: ApplicantRec,
    /// The identity document.
    pub identity: IdentityRec,
    /// The child.
    pub child: ChildRec,
}

/// `Debug` for the records that hold a person's data: the type's name only, so that a `{:?}` of a record (or of a
/// journal line holding one) never prints a name, a document, an address or a SNILS.
macro_rules! opaque_debug {
    ($($ty:ident),*) => {$(
        impl std::fmt::Debug for $ty {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(concat!(stringify!($ty), "(..)"))
            }
        }
    )*};
}

opaque_debug!(
    RepresentativeRec,
    ApplicantRec,
    SecondParentRec,
    IdentityRec,
    BirthDocRec,
    ChildRec,
    AddressRec,
    SiblingRec,
    MedicalRec
);

/// Writes `YYYY-MM-DD`.
pub fn format_date(date: Date) -> String {
    format!("{:04}-{:02}-{:02}", date.year(), date.month() as u8, date.day())
}

/// Reads `YYYY-MM-DD`; the error never repeats the text.
pub fn parse_date(text: &str) -> Result<Date, String> {
    Date::parse(text, time::macros::format_description!("[year]-[month]-[day]"))
        .map_err(|_| "is not a date written YYYY-MM-DD".to_owned())
}

/// Writes an RFC 3339 timestamp.
pub fn format_timestamp(at: OffsetDateTime) -> String {
    at.format(&time::format_description::well_known::Rfc3339).expect("every timestamp has an RFC 3339 form")
}

/// Reads an RFC 3339 timestamp; the error never repeats the text.
pub fn parse_timestamp(text: &str) -> Result<OffsetDateTime, String> {
    OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339)
        .map_err(|_| "is not an RFC 3339 timestamp (2026-09-01T10:00:00+03:00)".to_owned())
}

/// Reads a date field, naming it on failure.
fn date(field: &str, text: &str) -> Result<Date, String> {
    parse_date(text).map_err(|problem| format!("{field}: the date {problem}"))
}

/// Reads an optional date field.
fn opt_date(field: &str, text: &Option<String>) -> Result<Option<Date>, String> {
    text.as_deref().map(|t| date(field, t)).transpose()
}

impl CodedRec {
    /// The record of `coded`.
    pub fn of(coded: &Coded) -> CodedRec {
        CodedRec { code: coded.code.clone(), text: coded.text.clone() }
    }

    /// The value.
    pub fn to_model(&self) -> Coded {
        Coded { code: self.code.clone(), text: self.text.clone() }
    }
}

impl FileRec {
    /// The records of `files`.
    fn all(files: &[FileRef]) -> Vec<FileRec> {
        files.iter().map(|f| FileRec { code: f.code.clone(), name: f.name.clone(), mime: f.mime.clone() }).collect()
    }

    /// The descriptors of `records`.
    fn models(records: &[FileRec]) -> Vec<FileRef> {
        records.iter().map(|f| FileRef { code: f.code.clone(), name: f.name.clone(), mime: f.mime.clone() }).collect()
    }
}

impl ApplicantRec {
    /// The record of `applicant`.
    pub fn of(a: &Applicant) -> ApplicantRec {
        ApplicantRec {
            surname: a.surname.clone(),
            name: a.name.clone(),
            middle_name: a.middle_name.clone(),
            phone: a.phone.clone(),
            email: a.email.clone(),
            is_parent: a.is_parent,
            representative: a.representative.as_ref().map(|r| RepresentativeRec {
                doc_name: r.doc_name.clone(),
                doc_series: r.doc_series.clone(),
                doc_number: r.doc_number.clone(),
                doc_date: format_date(r.doc_date),
                doc_issued: r.doc_issued.clone(),
            }),
            snils: a.snils.as_ref().map(Snils::formatted),
        }
    }

    /// The applicant.
    pub fn to_model(&self) -> Result<Applicant, String> {
        let representative = match &self.representative {
            None => None,
            Some(r) => Some(Representative {
                doc_name: r.doc_name.clone(),
                doc_series: r.doc_series.clone(),
                doc_number: r.doc_number.clone(),
                doc_date: date("applicant.representative.doc_date", &r.doc_date)?,
                doc_issued: r.doc_issued.clone(),
            }),
        };
        let snils = self.snils.as_deref().map(Snils::parse).transpose().map_err(|e| format!("applicant.snils: {e}"))?;
        Ok(Applicant {
            surname: self.surname.clone(),
            name: self.name.clone(),
            middle_name: self.middle_name.clone(),
            phone: self.phone.clone(),
            email: self.email.clone(),
            is_parent: self.is_parent,
            representative,
            snils,
        })
    }
}

impl IdentityRec {
    /// The record of `doc`.
    pub fn of(doc: &IdentityDoc) -> IdentityRec {
        IdentityRec {
            kind: CodedRec::of(&doc.kind),
            series: doc.series.clone(),
            number: doc.number.clone(),
            issue_date: format_date(doc.issue_date),
            issuer_code: doc.issuer_code.clone(),
            issued: doc.issued.clone(),
        }
    }

    /// The document.
    pub fn to_model(&self) -> Result<IdentityDoc, String> {
        Ok(IdentityDoc {
            kind: self.kind.to_model(),
            series: self.series.clone(),
            number: self.number.clone(),
            issue_date: date("identity.issue_date", &self.issue_date)?,
            issuer_code: self.issuer_code.clone(),
            issued: self.issued.clone(),
        })
    }
}

impl BirthDocRec {
    /// The record of `doc`.
    pub fn of(doc: &BirthDoc) -> BirthDocRec {
        match doc {
            BirthDoc::Russian { series, number, issue_date, act_number, act_date, issued } => BirthDocRec::Russian {
                series: series.clone(),
                number: number.clone(),
                issue_date: format_date(*issue_date),
                act_number: act_number.clone(),
                act_date: act_date.map(format_date),
                issued: issued.clone(),
            },
            BirthDoc::Foreign { name, series, number, issue_date, issued } => BirthDocRec::Foreign {
                name: name.clone(),
                series: series.clone(),
                number: number.clone(),
                issue_date: format_date(*issue_date),
                issued: issued.clone(),
            },
            BirthDoc::Act { act_number, act_date, issued } => BirthDocRec::Act {
                act_number: act_number.clone(),
                act_date: format_date(*act_date),
                issued: issued.clone(),
            },
        }
    }

    /// The document; `at` names the field in errors.
    pub fn to_model(&self, at: &str) -> Result<BirthDoc, String> {
        Ok(match self {
            BirthDocRec::Russian { series, number, issue_date, act_number, act_date, issued } => BirthDoc::Russian {
                series: series.clone(),
                number: number.clone(),
                issue_date: date(&format!("{at}.issue_date"), issue_date)?,
                act_number: act_number.clone(),
                act_date: opt_date(&format!("{at}.act_date"), act_date)?,
                issued: issued.clone(),
            },
            BirthDocRec::Foreign { name, series, number, issue_date, issued } => BirthDoc::Foreign {
                name: name.clone(),
                series: series.clone(),
                number: number.clone(),
                issue_date: date(&format!("{at}.issue_date"), issue_date)?,
                issued: issued.clone(),
            },
            BirthDocRec::Act { act_number, act_date, issued } => BirthDoc::Act {
                act_number: act_number.clone(),
                act_date: date(&format!("{at}.act_date"), act_date)?,
                issued: issued.clone(),
            },
        })
    }
}

impl ChildRec {
    /// The record of `child`.
    pub fn of(child: &Child) -> ChildRec {
        ChildRec {
            surname: child.surname.clone(),
            name: child.name.clone(),
            middle_name: child.middle_name.clone(),
            birth_date: format_date(child.birth_date),
            birth_doc: child.birth_doc.as_ref().map(BirthDocRec::of),
        }
    }

    /// The child; `at` names the field in errors.
    pub fn to_model(&self, at: &str) -> Result<Child, String> {
        Ok(Child {
            surname: self.surname.clone(),
            name: self.name.clone(),
            middle_name: self.middle_name.clone(),
            birth_date: date(&format!("{at}.birth_date"), &self.birth_date)?,
            birth_doc: self.birth_doc.as_ref().map(|d| d.to_model(&format!("{at}.birth_doc"))).transpose()?,
        })
    }
}

impl AddressRec {
    /// The record of `a`.
    pub fn of(a: &Address) -> AddressRec {
        AddressRec {
            full: a.full.clone(),
            index: a.index.clone(),
            region: CodedRec::of(&a.region),
            area: CodedRec::of(&a.area),
            city: CodedRec::of(&a.city),
            city_area: CodedRec::of(&a.city_area),
            place: CodedRec::of(&a.place),
            street: CodedRec::of(&a.street),
            additional_area: CodedRec::of(&a.additional_area),
            additional_street: CodedRec::of(&a.additional_street),
            house: CodedRec::of(&a.house),
            building1: a.building1.clone(),
            building2: a.building2.clone(),
            apartment: a.apartment.clone(),
        }
    }

    /// The address.
    pub fn to_model(&self) -> Address {
        Address {
            full: self.full.clone(),
            index: self.index.clone(),
            region: self.region.to_model(),
            area: self.area.to_model(),
            city: self.city.to_model(),
            city_area: self.city_area.to_model(),
            place: self.place.to_model(),
            street: self.street.to_model(),
            additional_area: self.additional_area.to_model(),
            additional_street: self.additional_street.to_model(),
            house: self.house.to_model(),
            building1: self.building1.clone(),
            building2: self.building2.clone(),
            apartment: self.apartment.clone(),
        }
    }
}

impl EntryRec {
    /// The record of `e`.
    pub fn of(e: &EntryParams) -> EntryRec {
        EntryRec {
            entry_date: format_date(e.entry_date),
            language: CodedRec::of(&e.language),
            schedule: CodedRec::of(&e.schedule),
            full_day_group: e.full_day_group,
            other_day_group: e.other_day_group,
        }
    }

    /// The entry parameters.
    pub fn to_model(&self) -> Result<EntryParams, String> {
        Ok(EntryParams {
            entry_date: date("entry.entry_date", &self.entry_date)?,
            language: self.language.to_model(),
            schedule: self.schedule.to_model(),
            full_day_group: self.full_day_group,
            other_day_group: self.other_day_group,
        })
    }
}

impl AdaptationRec {
    /// The record of `a`.
    pub fn of(a: &Adaptation) -> AdaptationRec {
        AdaptationRec {
            group: CodedRec::of(&a.group),
            group_type: a.group_type.as_ref().map(CodedRec::of),
            education_group: a.education_group,
            general_group: a.general_group,
            care_group: a.care_group,
            special_care: a.special_care,
        }
    }

    /// The orientation.
    pub fn to_model(&self) -> Adaptation {
        Adaptation {
            group: self.group.to_model(),
            group_type: self.group_type.as_ref().map(CodedRec::to_model),
            education_group: self.education_group,
            general_group: self.general_group,
            care_group: self.care_group,
            special_care: self.special_care,
        }
    }
}

impl MedicalRec {
    /// The record of `m`.
    pub fn of(m: &MedicalReport) -> MedicalRec {
        MedicalRec {
            kind: CodedRec::of(&m.kind),
            series: m.series.clone(),
            number: m.number.clone(),
            issue_date: format_date(m.issue_date),
            issued: m.issued.clone(),
            expires: m.expires.map(format_date),
            files: FileRec::all(&m.files),
        }
    }

    /// The report.
    pub fn to_model(&self) -> Result<MedicalReport, String> {
        Ok(MedicalReport {
            kind: self.kind.to_model(),
            series: self.series.clone(),
            number: self.number.clone(),
            issue_date: date("medical.issue_date", &self.issue_date)?,
            issued: self.issued.clone(),
            expires: opt_date("medical.expires", &self.expires)?,
            files: FileRec::models(&self.files),
        })
    }
}

impl BenefitRec {
    /// The record of `b`.
    pub fn of(b: &Benefit) -> BenefitRec {
        BenefitRec {
            category: CodedRec::of(&b.category),
            doc_issue_date: format_date(b.doc.issue_date),
            doc_issued: b.doc.issued.clone(),
            doc_expires: b.doc.expires.map(format_date),
            files: FileRec::all(&b.files),
        }
    }

    /// The benefit.
    pub fn to_model(&self) -> Result<Benefit, String> {
        Ok(Benefit {
            category: self.category.to_model(),
            doc: DocInfo {
                issue_date: date("benefit.doc_issue_date", &self.doc_issue_date)?,
                issued: self.doc_issued.clone(),
                expires: opt_date("benefit.doc_expires", &self.doc_expires)?,
            },
            files: FileRec::models(&self.files),
        })
    }
}

impl ApplicationRec {
    /// The record of `a`.
    pub fn of(a: &KindergartenApplication) -> ApplicationRec {
        ApplicationRec {
            order_id: a.order_id,
            oktmo: a.oktmo.clone(),
            service_type: a.service_type.clone(),
            filed_at: a.filed_at.map(format_timestamp),
            applicant: ApplicantRec::of(&a.applicant),
            identity: IdentityRec::of(&a.identity),
            child: ChildRec::of(&a.child),
            address: AddressRec::of(&a.address),
            entry: EntryRec::of(&a.entry),
            adaptation: AdaptationRec::of(&a.adaptation),
            medical: a.medical.as_ref().map(MedicalRec::of),
            kindergartens: a
                .kindergartens
                .iter()
                .map(|k| DesiredRec { code: k.code.clone(), name: k.name.clone(), priority: k.priority })
                .collect(),
            allow_offer_other: a.allow_offer_other,
            siblings: a
                .siblings
                .iter()
                .map(|s| SiblingRec {
                    surname: s.surname.clone(),
                    name: s.name.clone(),
                    middle_name: s.middle_name.clone(),
                    kindergarten: CodedRec::of(&s.kindergarten),
                })
                .collect(),
            benefit: a.benefit.as_ref().map(BenefitRec::of),
            stay_right_files: FileRec::all(&a.stay_right_files),
        }
    }

    /// The application; an error names the field.
    pub fn to_model(&self) -> Result<KindergartenApplication, String> {
        let filed_at: Option<OffsetDateTime> =
            self.filed_at.as_deref().map(parse_timestamp).transpose().map_err(|p| format!("filed_at: {p}"))?;
        Ok(KindergartenApplication {
            order_id: self.order_id,
            oktmo: self.oktmo.clone(),
            service_type: self.service_type.clone(),
            filed_at,
            applicant: self.applicant.to_model()?,
            identity: self.identity.to_model()?,
            child: self.child.to_model("child")?,
            address: self.address.to_model(),
            entry: self.entry.to_model()?,
            adaptation: self.adaptation.to_model(),
            medical: self.medical.as_ref().map(MedicalRec::to_model).transpose()?,
            kindergartens: self
                .kindergartens
                .iter()
                .map(|k| DesiredKindergarten { code: k.code.clone(), name: k.name.clone(), priority: k.priority })
                .collect(),
            allow_offer_other: self.allow_offer_other,
            siblings: self
                .siblings
                .iter()
                .map(|s| Sibling {
                    surname: s.surname.clone(),
                    name: s.name.clone(),
                    middle_name: s.middle_name.clone(),
                    kindergarten: s.kindergarten.to_model(),
                })
                .collect(),
            benefit: self.benefit.as_ref().map(BenefitRec::to_model).transpose()?,
            stay_right_files: FileRec::models(&self.stay_right_files),
        })
    }
}

impl AdmissionRec {
    /// The record of `a`.
    pub fn of(a: &AdmissionApplication) -> AdmissionRec {
        AdmissionRec {
            order_id: a.order_id,
            service_type: a.service_type.clone(),
            applicant: ApplicantRec::of(&a.applicant),
            identity: IdentityRec::of(&a.identity),
            second_parent: a.second_parent.as_ref().map(|p| SecondParentRec {
                surname: p.surname.clone(),
                name: p.name.clone(),
                middle_name: p.middle_name.clone(),
                phone: p.phone.clone(),
                email: p.email.clone(),
            }),
            child: ChildRec::of(&a.child),
            address: AddressRec::of(&a.address),
            entry: EntryRec::of(&a.entry),
            adaptation: AdaptationRec::of(&a.adaptation),
            medical: a.medical.as_ref().map(MedicalRec::of),
            kindergarten_code: a.kindergarten_code.clone(),
            doc_list_review: a.doc_list_review,
            license_charter: a.license_charter,
        }
    }

    /// The admission application.
    pub fn to_model(&self) -> Result<AdmissionApplication, String> {
        Ok(AdmissionApplication {
            order_id: self.order_id,
            service_type: self.service_type.clone(),
            applicant: self.applicant.to_model()?,
            identity: self.identity.to_model()?,
            second_parent: self.second_parent.as_ref().map(|p| SecondParent {
                surname: p.surname.clone(),
                name: p.name.clone(),
                middle_name: p.middle_name.clone(),
                phone: p.phone.clone(),
                email: p.email.clone(),
            }),
            child: self.child.to_model("child")?,
            address: self.address.to_model(),
            entry: self.entry.to_model()?,
            adaptation: self.adaptation.to_model(),
            medical: self.medical.as_ref().map(MedicalRec::to_model).transpose()?,
            kindergarten_code: self.kindergarten_code.clone(),
            doc_list_review: self.doc_list_review,
            license_charter: self.license_charter,
        })
    }
}

impl SubscriptionRec {
    /// The record of `s`.
    pub fn of(s: &Subscription) -> SubscriptionRec {
        SubscriptionRec {
            order_id: s.order_id,
            service_type: s.service_type.clone(),
            applicant: ApplicantRec::of(&s.applicant),
            identity: IdentityRec::of(&s.identity),
            child: ChildRec::of(&s.child),
        }
    }

    /// The subscription.
    pub fn to_model(&self) -> Result<Subscription, String> {
        Ok(Subscription {
            order_id: self.order_id,
            service_type: self.service_type.clone(),
            applicant: self.applicant.to_model()?,
            identity: self.identity.to_model()?,
            child: self.child.to_model("child")?,
        })
    }
}

/// A kindergarten of the region, as the data file writes it.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KindergartenRec {
    /// Its code in the region's ESNSI classifier (what the portal sends as `EduOrganization@code`), unique.
    pub code: String,
    /// Its name.
    pub name: String,
    /// The municipality's OKTMO, 8 or 11 digits.
    pub oktmo: String,
    /// Its address, as parents read it.
    pub address: String,
    /// Its groups by age.
    #[serde(default)]
    pub groups: Vec<GroupRec>,
}

/// A kindergarten group, as the data file writes it.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GroupRec {
    /// The group's name ("ясельная", "младшая" ...).
    pub name: String,
    /// The youngest age taken, in full years on the entry date.
    pub age_from: u8,
    /// The oldest age taken, in full years on the entry date.
    pub age_to: u8,
    /// How many places it has.
    pub capacity: u16,
}

/// A benefit category of the region and the queue right it gives, as the data file writes it.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BenefitCategoryRec {
    /// The category's ESNSI code (what the portal sends in `BenefitInfo/BenefitCategory@code`).
    pub code: String,
    /// Its name.
    pub name: String,
    /// The right: `out_of_turn`, `first_turn` or `priority`.
    pub right: String,
}

/// An application in the kindergarten queue filed elsewhere (in person, at an МФЦ), as the data file writes it:
/// what the queue and a parent's subscription need, not the whole application.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QueueEntryRec {
    /// The region's number of the application, unique ("ДОУ-2025-000123").
    pub number: String,
    /// When it was filed, RFC 3339: the queue's order within a right.
    pub filed_at: String,
    /// The department status (110 .. 250); editing it produces a status change.
    pub status: u16,
    /// When the status was set, RFC 3339; without it, the time the change is noticed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub changed_at: Option<String>,
    /// The comment for the parent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    /// The child, whose names, birth date and birth document a subscription matches.
    pub child: ChildRec,
    /// Desired kindergartens: `[code, priority]`, 1 = most wanted.
    pub kindergartens: Vec<(String, u8)>,
    /// The desired entry date, `YYYY-MM-DD`.
    pub entry_date: String,
    /// The benefit category's code, if a benefit is claimed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub benefit: Option<String>,
    /// The kindergarten offered, when the status is 190 and it is not the first-priority one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offered: Option<String>,
    /// The child's address as one line (the portal's order of a subscription carries the application).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    /// The language of education (ESNSI).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub language: Option<CodedRec>,
    /// The day schedule (ESNSI).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schedule: Option<CodedRec>,
    /// The group's orientation (ESNSI).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<CodedRec>,
}
