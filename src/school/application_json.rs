//! The whole enrollment application as JSON: the body of the REST API's `POST /applications`
//! (`docs/school-api.yaml`, schema `Application`) and, nested, the embedded journal's copy of an application.
//!
//! One shape serves both because both must carry everything the form carries and nothing else; the journal keeps its
//! own older flat fields beside it, so that its lines written before this shape existed still read. Any change here
//! must keep old journal lines readable: add optional fields, never rename or remove one.
#![forbid(unsafe_code)]

use serde::{Deserialize, Serialize};

use super::datafile::{format_timestamp, parse_date, parse_timestamp};
use super::enrollment::{DesiredSchool, EnrollmentApplication, EnrollmentBenefit, SchoolSibling};
use super::format::format_date;
use super::kindergarten::model::{
    Address, Applicant, BirthDoc, Child, Coded, DocInfo, FileRef, IdentityDoc, Representative,
};
use super::snils::Snils;

/// A dictionary value: code and text.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct CodedJson {
    /// The ESNSI (or FIAS/GAR) code; may be empty.
    #[serde(default)]
    code: String,
    /// The text shown.
    #[serde(default)]
    text: String,
}

impl CodedJson {
    fn of(c: &Coded) -> CodedJson {
        CodedJson { code: c.code.clone(), text: c.text.clone() }
    }
    fn into_coded(self) -> Coded {
        Coded { code: self.code, text: self.text }
    }
}

/// A file the portal attached.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct FileJson {
    /// EPGU's code of the file.
    code: String,
    /// Its name.
    name: String,
    /// Its MIME type (may be empty).
    #[serde(default)]
    mime: String,
}

impl FileJson {
    fn of(f: &FileRef) -> FileJson {
        FileJson { code: f.code.clone(), name: f.name.clone(), mime: f.mime.clone() }
    }
    fn into_file(self) -> FileRef {
        FileRef { code: self.code, name: self.name, mime: self.mime }
    }
}

/// A document's issue.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct DocInfoJson {
    /// `YYYY-MM-DD`.
    issue_date: String,
    /// Who issued it.
    issued: String,
    /// `YYYY-MM-DD`, if it expires.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    expires: Option<String>,
}

/// A representative's document.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct RepresentativeJson {
    /// The document's name.
    doc_name: String,
    /// Series.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    doc_series: Option<String>,
    /// Number.
    doc_number: String,
    /// `YYYY-MM-DD`.
    doc_date: String,
    /// Who issued it.
    doc_issued: String,
}

/// The applicant.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct ApplicantJson {
    /// `XXX-XXX-XXX YY`.
    snils: String,
    /// Surname.
    surname: String,
    /// Given name.
    name: String,
    /// Patronymic.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    middle_name: Option<String>,
    /// Phone.
    #[serde(default)]
    phone: String,
    /// E-mail.
    #[serde(default)]
    email: String,
    /// Whether a parent.
    #[serde(default = "yes")]
    is_parent: bool,
    /// The representative's document, if not a parent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    representative: Option<RepresentativeJson>,
}

fn yes() -> bool {
    true
}

/// The identity document.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct IdentityJson {
    /// The kind (ESNSI).
    kind: CodedJson,
    /// Series.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    series: Option<String>,
    /// Number.
    number: String,
    /// `YYYY-MM-DD`.
    issue_date: String,
    /// The issuing department's code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    issuer_code: Option<String>,
    /// Who issued it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    issued: Option<String>,
}

/// The child's birth document: `kind` is `russian`, `foreign` or `act`; the other fields as that kind has them.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct BirthDocJson {
    /// `russian`, `foreign` or `act`.
    kind: String,
    /// The foreign document's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    name: Option<String>,
    /// Series.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    series: Option<String>,
    /// Number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    number: Option<String>,
    /// `YYYY-MM-DD`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    issue_date: Option<String>,
    /// The civil registry act's number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    act_number: Option<String>,
    /// The act's date.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    act_date: Option<String>,
    /// Who issued it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    issued: Option<String>,
}

/// The child.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct ChildJson {
    /// Surname.
    surname: String,
    /// Given name.
    name: String,
    /// Patronymic.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    middle_name: Option<String>,
    /// `YYYY-MM-DD`.
    birth_date: String,
    /// The child's SNILS.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    snils: Option<String>,
    /// The birth document.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    birth_doc: Option<BirthDocJson>,
}

/// The address, each part with its FIAS/GAR GUID as the code.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct AddressJson {
    /// One line.
    full: String,
    /// Postal index.
    #[serde(default)]
    index: String,
    /// Region.
    region: CodedJson,
    /// District.
    area: CodedJson,
    /// City.
    city: CodedJson,
    /// City district.
    city_area: CodedJson,
    /// Settlement.
    place: CodedJson,
    /// Street.
    street: CodedJson,
    /// Additional territory.
    additional_area: CodedJson,
    /// Street of the additional territory.
    additional_street: CodedJson,
    /// House.
    house: CodedJson,
    /// Korpus.
    #[serde(default)]
    building1: String,
    /// Stroenie.
    #[serde(default)]
    building2: String,
    /// Apartment.
    #[serde(default)]
    apartment: String,
}

/// A desired school.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct SchoolChoiceJson {
    /// The school's code.
    code: String,
    /// Its name as the portal showed it.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    name: String,
    /// 1 = most wanted.
    priority: u8,
}

/// A sibling attending a school.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct SiblingJson {
    /// Surname.
    surname: String,
    /// Given name.
    name: String,
    /// Patronymic.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    middle_name: Option<String>,
    /// The school attended.
    school: CodedJson,
}

/// A right of admission claimed.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct BenefitJson {
    /// The category.
    category: CodedJson,
    /// The proof.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    doc: Option<DocInfoJson>,
    /// The proof's files.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    files: Vec<FileJson>,
}

/// The whole application.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct ApplicationJson {
    /// The portal's order number.
    pub(crate) order_id: i64,
    /// Municipality.
    oktmo: String,
    /// The EPGU service code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    service_type: Option<String>,
    /// RFC 3339.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    filed_at: Option<String>,
    /// The applicant.
    applicant: ApplicantJson,
    /// The applicant's identity document.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    identity_doc: Option<IdentityJson>,
    /// The child.
    child: ChildJson,
    /// The child's address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    address: Option<AddressJson>,
    /// Desired schools.
    schools: Vec<SchoolChoiceJson>,
    /// Grade.
    grade: u8,
    /// "2027/2028".
    academic_year: String,
    /// Language of instruction.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    language: Option<CodedJson>,
    /// Adapted programme.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    adapted_program: Option<CodedJson>,
    /// Siblings.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    siblings: Vec<SiblingJson>,
    /// The right claimed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    benefit: Option<BenefitJson>,
    /// The benefit category's code alone (the API's 1.0 field, kept for school systems that read only it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    benefit_code: Option<String>,
    /// Other attached documents.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    documents: Vec<FileJson>,
}

fn date(d: time::Date) -> String {
    format_date(d)
}

fn read_date(text: &str, field: &str) -> Result<time::Date, String> {
    parse_date(text).map_err(|p| format!("{field}: the date {p}"))
}

fn opt_date(text: Option<String>, field: &str) -> Result<Option<time::Date>, String> {
    text.map(|t| read_date(&t, field)).transpose()
}

fn doc_info_of(d: &DocInfo) -> DocInfoJson {
    DocInfoJson { issue_date: date(d.issue_date), issued: d.issued.clone(), expires: d.expires.map(date) }
}

fn birth_doc_of(doc: &BirthDoc) -> BirthDocJson {
    let empty = BirthDocJson {
        kind: String::new(),
        name: None,
        series: None,
        number: None,
        issue_date: None,
        act_number: None,
        act_date: None,
        issued: None,
    };
    match doc {
        BirthDoc::Russian { series, number, issue_date, act_number, act_date, issued } => BirthDocJson {
            kind: "russian".into(),
            series: Some(series.clone()),
            number: Some(number.clone()),
            issue_date: Some(date(*issue_date)),
            act_number: act_number.clone(),
            act_date: act_date.map(date),
            issued: Some(issued.clone()),
            ..empty
        },
        BirthDoc::Foreign { name, series, number, issue_date, issued } => BirthDocJson {
            kind: "foreign".into(),
            name: Some(name.clone()),
            series: series.clone(),
            number: Some(number.clone()),
            issue_date: Some(date(*issue_date)),
            issued: Some(issued.clone()),
            ..empty
        },
        BirthDoc::Act { act_number, act_date, issued } => BirthDocJson {
            kind: "act".into(),
            act_number: Some(act_number.clone()),
            act_date: Some(date(*act_date)),
            issued: issued.clone(),
            ..empty
        },
    }
}

impl BirthDocJson {
    fn into_doc(self) -> Result<BirthDoc, String> {
        let need = |v: Option<String>, f: &str| v.ok_or_else(|| format!("birthDoc.{f} is missing"));
        Ok(match self.kind.as_str() {
            "russian" => BirthDoc::Russian {
                series: need(self.series, "series")?,
                number: need(self.number, "number")?,
                issue_date: read_date(&need(self.issue_date, "issueDate")?, "birthDoc.issueDate")?,
                act_number: self.act_number,
                act_date: opt_date(self.act_date, "birthDoc.actDate")?,
                issued: need(self.issued, "issued")?,
            },
            "foreign" => BirthDoc::Foreign {
                name: need(self.name, "name")?,
                series: self.series,
                number: need(self.number, "number")?,
                issue_date: read_date(&need(self.issue_date, "issueDate")?, "birthDoc.issueDate")?,
                issued: need(self.issued, "issued")?,
            },
            "act" => BirthDoc::Act {
                act_number: need(self.act_number, "actNumber")?,
                act_date: read_date(&need(self.act_date, "actDate")?, "birthDoc.actDate")?,
                issued: self.issued,
            },
            other => return Err(format!("birthDoc.kind: unknown kind {other:?}")),
        })
    }
}

fn address_of(a: &Address) -> AddressJson {
    AddressJson {
        full: a.full.clone(),
        index: a.index.clone(),
        region: CodedJson::of(&a.region),
        area: CodedJson::of(&a.area),
        city: CodedJson::of(&a.city),
        city_area: CodedJson::of(&a.city_area),
        place: CodedJson::of(&a.place),
        street: CodedJson::of(&a.street),
        additional_area: CodedJson::of(&a.additional_area),
        additional_street: CodedJson::of(&a.additional_street),
        house: CodedJson::of(&a.house),
        building1: a.building1.clone(),
        building2: a.building2.clone(),
        apartment: a.apartment.clone(),
    }
}

impl AddressJson {
    fn into_address(self) -> Address {
        Address {
            full: self.full,
            index: self.index,
            region: self.region.into_coded(),
            area: self.area.into_coded(),
            city: self.city.into_coded(),
            city_area: self.city_area.into_coded(),
            place: self.place.into_coded(),
            street: self.street.into_coded(),
            additional_area: self.additional_area.into_coded(),
            additional_street: self.additional_street.into_coded(),
            house: self.house.into_coded(),
            building1: self.building1,
            building2: self.building2,
            apartment: self.apartment,
        }
    }
}

impl ApplicationJson {
    /// The JSON of `a`.
    pub(crate) fn of(a: &EnrollmentApplication) -> ApplicationJson {
        let applicant = &a.applicant;
        ApplicationJson {
            order_id: a.order_id,
            oktmo: a.oktmo.clone(),
            service_type: a.service_type.clone(),
            filed_at: a.filed_at.map(format_timestamp),
            applicant: ApplicantJson {
                snils: a.applicant_snils.formatted(),
                surname: applicant.surname.clone(),
                name: applicant.name.clone(),
                middle_name: applicant.middle_name.clone(),
                phone: applicant.phone.clone(),
                email: applicant.email.clone(),
                is_parent: applicant.is_parent,
                representative: applicant.representative.as_ref().map(|r| RepresentativeJson {
                    doc_name: r.doc_name.clone(),
                    doc_series: r.doc_series.clone(),
                    doc_number: r.doc_number.clone(),
                    doc_date: date(r.doc_date),
                    doc_issued: r.doc_issued.clone(),
                }),
            },
            identity_doc: a.identity.as_ref().map(|d| IdentityJson {
                kind: CodedJson::of(&d.kind),
                series: d.series.clone(),
                number: d.number.clone(),
                issue_date: date(d.issue_date),
                issuer_code: d.issuer_code.clone(),
                issued: d.issued.clone(),
            }),
            child: ChildJson {
                surname: a.child.surname.clone(),
                name: a.child.name.clone(),
                middle_name: a.child.middle_name.clone(),
                birth_date: date(a.child.birth_date),
                snils: a.child_snils.as_ref().map(Snils::formatted),
                birth_doc: a.child.birth_doc.as_ref().map(birth_doc_of),
            },
            address: a.address.as_ref().map(address_of),
            schools: a
                .schools
                .iter()
                .map(|s| SchoolChoiceJson { code: s.code.clone(), name: s.name.clone(), priority: s.priority })
                .collect(),
            grade: a.grade,
            academic_year: a.academic_year.clone(),
            language: a.language.as_ref().map(CodedJson::of),
            adapted_program: a.adapted_program.as_ref().map(CodedJson::of),
            siblings: a
                .siblings
                .iter()
                .map(|s| SiblingJson {
                    surname: s.surname.clone(),
                    name: s.name.clone(),
                    middle_name: s.middle_name.clone(),
                    school: CodedJson::of(&s.school),
                })
                .collect(),
            benefit: a.benefit.as_ref().map(|b| BenefitJson {
                category: CodedJson::of(&b.category),
                doc: b.doc.as_ref().map(doc_info_of),
                files: b.files.iter().map(FileJson::of).collect(),
            }),
            benefit_code: a.benefit.as_ref().map(|b| b.category.code.clone()),
            documents: a.documents.iter().map(FileJson::of).collect(),
        }
    }

    /// The application this JSON holds; an error names the field.
    pub(crate) fn into_application(self) -> Result<EnrollmentApplication, String> {
        let snils = Snils::parse(&self.applicant.snils).map_err(|e| format!("applicant.snils: {e}"))?;
        let child_snils =
            self.child.snils.as_deref().map(Snils::parse).transpose().map_err(|e| format!("child.snils: {e}"))?;
        let representative = self
            .applicant
            .representative
            .map(|r| {
                Ok::<_, String>(Representative {
                    doc_name: r.doc_name,
                    doc_series: r.doc_series,
                    doc_number: r.doc_number,
                    doc_date: read_date(&r.doc_date, "applicant.representative.docDate")?,
                    doc_issued: r.doc_issued,
                })
            })
            .transpose()?;
        let identity = self
            .identity_doc
            .map(|d| {
                Ok::<_, String>(IdentityDoc {
                    kind: d.kind.into_coded(),
                    series: d.series,
                    number: d.number,
                    issue_date: read_date(&d.issue_date, "identityDoc.issueDate")?,
                    issuer_code: d.issuer_code,
                    issued: d.issued,
                })
            })
            .transpose()?;
        let benefit = match self.benefit {
            Some(b) => Some(EnrollmentBenefit {
                category: b.category.into_coded(),
                doc: b
                    .doc
                    .map(|d| {
                        Ok::<_, String>(DocInfo {
                            issue_date: read_date(&d.issue_date, "benefit.doc.issueDate")?,
                            issued: d.issued,
                            expires: opt_date(d.expires, "benefit.doc.expires")?,
                        })
                    })
                    .transpose()?,
                files: b.files.into_iter().map(FileJson::into_file).collect(),
            }),
            None => self.benefit_code.map(|code| EnrollmentBenefit {
                category: Coded { code, text: String::new() },
                doc: None,
                files: Vec::new(),
            }),
        };
        Ok(EnrollmentApplication {
            order_id: self.order_id,
            oktmo: self.oktmo,
            service_type: self.service_type,
            filed_at: self.filed_at.as_deref().map(parse_timestamp).transpose().map_err(|e| format!("filedAt: {e}"))?,
            applicant: Applicant {
                surname: self.applicant.surname,
                name: self.applicant.name,
                middle_name: self.applicant.middle_name,
                phone: self.applicant.phone,
                email: self.applicant.email,
                is_parent: self.applicant.is_parent,
                representative,
                snils: Some(snils.clone()),
            },
            applicant_snils: snils,
            identity,
            child: Child {
                surname: self.child.surname,
                name: self.child.name,
                middle_name: self.child.middle_name,
                birth_date: read_date(&self.child.birth_date, "child.birthDate")?,
                birth_doc: self.child.birth_doc.map(BirthDocJson::into_doc).transpose()?,
            },
            child_snils,
            address: self.address.map(AddressJson::into_address),
            schools: self
                .schools
                .into_iter()
                .map(|s| DesiredSchool { code: s.code, name: s.name, priority: s.priority })
                .collect(),
            grade: self.grade,
            academic_year: self.academic_year,
            language: self.language.map(CodedJson::into_coded),
            adapted_program: self.adapted_program.map(CodedJson::into_coded),
            siblings: self
                .siblings
                .into_iter()
                .map(|s| SchoolSibling {
                    surname: s.surname,
                    name: s.name,
                    middle_name: s.middle_name,
                    school: s.school.into_coded(),
                })
                .collect(),
            benefit,
            documents: self.documents.into_iter().map(FileJson::into_file).collect(),
        })
    }
}
