//! Writing the model into the concentrator's elements: a checked writer (every value against its schema type and
//! length, so that what is written validates or is a [`WriteError`]) and the application blocks shared by the
//! answers, the requests and kindergarten-order.
//!
//! Choices where the model holds less or more than a version's schema (documented here once):
//! - an optional element the version lacks (`AgreementOnOtherDayGroup`, `AgreementAdaptationEducationGroup` before
//!   4.0.1) is left out;
//! - a required one the model may lack: `IdentityDocIssued` before 4.0.1 is written empty (the schema allows an
//!   empty string; the portal's form shows the field empty), `AllowOfferOther` before 4.0.1 is written `false` (no
//!   consent to another kindergarten was given);
//! - a birth document the version cannot carry (a `ChildBirthAct` before 4.0.1 and in kindergarten-order 1.0.0, a
//!   Russian certificate without its act where the act is required, no birth document at all) is a
//!   [`WriteError::Inexpressible`]: `ChildInfo` and its document are required, and nothing else stands for them;
//! - comments are cut to the schema's limit on a character boundary; every other string that is too long is a
//!   [`WriteError::TooLong`], never cut.
#![forbid(unsafe_code)]

use time::{Date, OffsetDateTime, UtcOffset};

use crate::school::kindergarten::model::{
    Adaptation, Address, Applicant, Benefit, BirthDoc, CancelResult, Child, Coded, DesiredKindergarten, EntryParams,
    FileRef, IdentityDoc, KindergartenApplication, MedicalReport, SecondParent, Sibling,
};
use crate::services::concentrator::shape::Shape;
use crate::services::concentrator::types::{StatusCode, Version, WriteError};
use crate::services::xmlout::XmlOut;
use crate::xml::chars::is_xml_char;

/// An `XmlOut` in the default namespace that checks every value and knows where it is (for errors).
pub(crate) struct W {
    x: XmlOut,
    path: Vec<&'static str>,
}

impl W {
    /// Starts `root` in `namespace` (declared as the default namespace), with attributes.
    pub fn new(namespace: &str, root: &'static str, attrs: &[(&str, &str)]) -> W {
        W { x: XmlOut::new("", namespace, root, attrs), path: vec![root] }
    }

    /// The text, the root closed.
    pub fn finish(self) -> String {
        let root = self.path.first().copied().unwrap_or_default();
        self.x.finish(root)
    }

    fn here(&self, name: &str) -> String {
        let mut p = self.path.join("/");
        if !name.is_empty() {
            p.push('/');
            p.push_str(name);
        }
        p
    }

    /// An error at `name` under the current element.
    pub fn inexpressible(&self, name: &str, reason: impl Into<String>) -> WriteError {
        WriteError::Inexpressible { path: self.here(name), reason: reason.into() }
    }

    /// Checks a value that goes into an attribute or is written by the caller: XML characters, at most `max`.
    pub fn check(&self, name: &str, value: &str, max: usize) -> Result<(), WriteError> {
        if !value.chars().all(is_xml_char) {
            return Err(self.inexpressible(name, "a character XML cannot carry"));
        }
        let len = value.chars().count();
        if len > max {
            return Err(WriteError::TooLong { path: self.here(name), len, max });
        }
        Ok(())
    }

    /// Opens a child element.
    pub fn open(&mut self, name: &'static str) {
        self.x.open(name);
        self.path.push(name);
    }

    /// Closes the element opened last.
    pub fn close(&mut self) {
        if let Some(name) = self.path.pop() {
            self.x.close(name);
        }
    }

    /// A string leaf of at most `max` characters.
    pub fn text(&mut self, name: &'static str, value: &str, max: usize) -> Result<(), WriteError> {
        self.check(name, value, max)?;
        self.x.leaf(name, value);
        Ok(())
    }

    /// An optional string leaf.
    pub fn opt_text(&mut self, name: &'static str, value: Option<&str>, max: usize) -> Result<(), WriteError> {
        match value {
            Some(v) => self.text(name, v, max),
            None => Ok(()),
        }
    }

    /// A `normalizedString` of 1 to `max` characters.
    pub fn nn(&mut self, name: &'static str, value: &str, max: usize) -> Result<(), WriteError> {
        self.check_nn(name, value, max)?;
        self.text(name, value, max)
    }

    /// Checks a `normalizedString` of 1 to `max` characters (an element's or the root's attribute's).
    pub fn check_nn(&self, name: &str, value: &str, max: usize) -> Result<(), WriteError> {
        if value.trim().is_empty() || value.contains(['\r', '\n', '\t']) {
            return Err(self.inexpressible(name, "empty, or a line break or tab in a normalizedString"));
        }
        self.check(name, value, max)
    }

    /// A comment, cut to `max` characters on a character boundary.
    pub fn comment(&mut self, name: &'static str, value: Option<&str>, max: usize) {
        if let Some(v) = value {
            // Characters XML cannot carry are left out (a comment is for reading; it is never refused).
            let cut: String = v.chars().filter(|&c| is_xml_char(c)).take(max).collect();
            self.x.leaf(name, &cut);
        }
    }

    /// A leaf written from a number or other displayable value.
    pub fn value(&mut self, name: &'static str, value: impl std::fmt::Display) {
        self.x.leaf(name, &value.to_string());
    }

    /// An `xsd:boolean`.
    pub fn bool(&mut self, name: &'static str, value: bool) {
        self.x.leaf(name, if value { "true" } else { "false" });
    }

    /// An optional `xsd:boolean`.
    pub fn opt_bool(&mut self, name: &'static str, value: Option<bool>) {
        if let Some(v) = value {
            self.bool(name, v);
        }
    }

    /// An `xsd:date`.
    pub fn date(&mut self, name: &'static str, value: Date) -> Result<(), WriteError> {
        let text = date_text(value).ok_or_else(|| self.inexpressible(name, "a year outside 1..9999"))?;
        self.x.leaf(name, &text);
        Ok(())
    }

    /// An optional `xsd:date`.
    pub fn opt_date(&mut self, name: &'static str, value: Option<Date>) -> Result<(), WriteError> {
        match value {
            Some(v) => self.date(name, v),
            None => Ok(()),
        }
    }

    /// An `xsd:dateTime` with its zone and no fractions.
    pub fn datetime(&mut self, name: &'static str, value: OffsetDateTime) -> Result<(), WriteError> {
        let text = datetime_text(value).ok_or_else(|| self.inexpressible(name, "a year outside 1..9999"))?;
        self.x.leaf(name, &text);
        Ok(())
    }

    /// A `DataElementType`: text (at most 256) with its `@code` (at most 50).
    pub fn coded(&mut self, name: &'static str, value: &Coded) -> Result<(), WriteError> {
        self.check(name, &value.text, 256)?;
        self.check(&format!("{name}/@code"), &value.code, 50)?;
        self.x.leaf_with_attrs(name, &[("code", &value.code)], &value.text);
        Ok(())
    }

    /// A leaf with attributes (checked by the caller).
    pub fn leaf_with_attrs(&mut self, name: &'static str, attrs: &[(&str, &str)], text: &str) {
        self.x.leaf_with_attrs(name, attrs, text);
    }

    /// `statusCode` with `orgCode` or `techCode`.
    pub fn status_code(&mut self, code: StatusCode) {
        self.open("statusCode");
        match code {
            StatusCode::Org { code } => self.value("orgCode", code),
            StatusCode::Tech { code } => self.value("techCode", code),
        }
        self.close();
    }
}

/// `YYYY-MM-DD`, for years 1 to 9999.
pub(crate) fn date_text(d: Date) -> Option<String> {
    (1..=9999).contains(&d.year()).then(|| format!("{:04}-{:02}-{:02}", d.year(), u8::from(d.month()), d.day()))
}

/// `YYYY-MM-DDThh:mm:ss±hh:mm` (an offset with seconds, which the type cannot write, is shown in UTC).
pub(crate) fn datetime_text(t: OffsetDateTime) -> Option<String> {
    let t = if t.offset().seconds_past_minute() != 0 { t.to_offset(UtcOffset::UTC) } else { t };
    let (h, m, _) = t.offset().as_hms();
    let sign = if t.offset().is_negative() { '-' } else { '+' };
    Some(format!(
        "{}T{:02}:{:02}:{:02}{sign}{:02}:{:02}",
        date_text(t.date())?,
        t.hour(),
        t.minute(),
        t.second(),
        h.unsigned_abs(),
        m.unsigned_abs()
    ))
}

/// The schema's limit of every answer's `comment`.
pub const COMMENT_MAX: usize = 2048;

/// The answer or request `what` is not in `version`.
pub(crate) fn not_in(version: Version, what: &'static str) -> WriteError {
    WriteError::NotInVersion { version: version.as_str(), what }
}

/// `cancelResponse/result`.
pub(crate) fn cancel_result(result: CancelResult) -> &'static str {
    match result {
        CancelResult::Cancelled => "CANCELLED",
        CancelResult::InProgress => "IN_PROGRESS",
        CancelResult::Rejected => "REJECTED",
    }
}

/// Which schema type the application block is written as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Body {
    /// `ApplicationRequest`: `orderId`, `ServicesType`, `FilingDate?`, the blocks with their files.
    Request,
    /// `GetApplicationResponse`: `orderId`, the blocks without files.
    Answer,
    /// kindergarten-order `application`: the blocks without files, no `orderId`.
    Order,
}

/// The application's content as `body` (the caller opens and closes the element).
pub(crate) fn application(w: &mut W, app: &KindergartenApplication, sh: &Shape, body: Body) -> Result<(), WriteError> {
    let files = body == Body::Request;
    if body != Body::Order {
        w.value("orderId", app.order_id);
    }
    if files {
        w.nn("ServicesType", &app.service_type, 20)?;
        if let Some(at) = app.filed_at {
            w.datetime("FilingDate", at)?;
        }
    }
    person(w, &app.applicant)?;
    identity(w, &app.identity, sh)?;
    child(w, &app.child, sh)?;
    address(w, "Address", &app.address)?;
    entry(w, &app.entry, sh)?;
    adaptation(w, &app.adaptation, sh)?;
    if let Some(m) = &app.medical {
        medical(w, m, sh, files)?;
    }
    edu_organizations(w, &app.kindergartens, app.allow_offer_other, sh)?;
    if app.siblings.len() > 10 {
        return Err(
            w.inexpressible("BrotherSisterInfo", format!("{} siblings, the schema allows 10", app.siblings.len()))
        );
    }
    for s in &app.siblings {
        sibling(w, s)?;
    }
    if let Some(b) = &app.benefit {
        benefit(w, b, sh, files)?;
    }
    if files && sh.stay_right {
        file_list(w, "ConfirmingRightIsLocatedRF", &app.stay_right_files, 4, sh)?;
    }
    Ok(())
}

/// `PersonInfoType`.
pub(crate) fn person(w: &mut W, p: &Applicant) -> Result<(), WriteError> {
    w.open("PersonInfo");
    w.text("PersonSurname", &p.surname, 256)?;
    w.text("PersonName", &p.name, 256)?;
    w.opt_text("PersonMiddleName", p.middle_name.as_deref(), 256)?;
    w.text("PersonPhone", &p.phone, 14)?;
    w.text("PersonEmail", &p.email, 256)?;
    w.bool("Parents", p.is_parent);
    if let Some(r) = &p.representative {
        w.open("OtherRepresentative");
        w.text("OtherRepresentativeDocName", &r.doc_name, 256)?;
        w.opt_text("OtherRepresentativeDocSeries", r.doc_series.as_deref(), 10)?;
        w.text("OtherRepresentativeDocNumber", &r.doc_number, 10)?;
        w.date("OtherRepresentativeDocDate", r.doc_date)?;
        w.text("OtherRepresentativeDocIssued", &r.doc_issued, 256)?;
        w.close();
    }
    w.close();
    Ok(())
}

/// `Person2InfoType`.
pub(crate) fn second_parent(w: &mut W, p: &SecondParent) -> Result<(), WriteError> {
    w.open("Person2Info");
    w.text("Person2Surname", &p.surname, 256)?;
    w.text("Person2Name", &p.name, 256)?;
    w.opt_text("Person2MiddleName", p.middle_name.as_deref(), 256)?;
    w.opt_text("Person2Phone", p.phone.as_deref(), 14)?;
    w.opt_text("Person2Email", p.email.as_deref(), 256)?;
    w.close();
    Ok(())
}

/// `PersonIdentityDocInfoType`.
pub(crate) fn identity(w: &mut W, d: &IdentityDoc, sh: &Shape) -> Result<(), WriteError> {
    w.open("PersonIdentityDocInfo");
    w.coded("IdentityDocName", &d.kind)?;
    w.opt_text("IdentityDocSeries", d.series.as_deref(), sh.identity_len)?;
    w.text("IdentityDocNumber", &d.number, sh.identity_len)?;
    w.date("IdentityDocIssueDate", d.issue_date)?;
    w.opt_text("IdentityDocIssueCode", d.issuer_code.as_deref(), 6)?;
    match (&d.issued, sh.identity_issued_optional) {
        (Some(issued), _) => w.text("IdentityDocIssued", issued, 256)?,
        (None, true) => {}
        (None, false) => w.text("IdentityDocIssued", "", 256)?,
    }
    w.close();
    Ok(())
}

/// `ChildInfoType`.
pub(crate) fn child(w: &mut W, c: &Child, sh: &Shape) -> Result<(), WriteError> {
    w.open("ChildInfo");
    w.text("ChildSurname", &c.surname, 256)?;
    w.text("ChildName", &c.name, 256)?;
    w.opt_text("ChildMiddleName", c.middle_name.as_deref(), 256)?;
    w.date("ChildBirthDate", c.birth_date)?;
    match &c.birth_doc {
        None => return Err(w.inexpressible("ChildBirthDocRF", "no birth document, which the schema requires")),
        Some(doc) => birth_doc(w, doc, sh)?,
    }
    w.close();
    Ok(())
}

fn birth_doc(w: &mut W, doc: &BirthDoc, sh: &Shape) -> Result<(), WriteError> {
    match doc {
        BirthDoc::Russian { series, number, issue_date, act_number, act_date, issued } => {
            if !sh.rf_act_optional && (act_number.is_none() || act_date.is_none()) {
                let why = format!("{} requires the act's number and date", sh.name);
                return Err(w.inexpressible("ChildBirthDocRF", why));
            }
            w.open("ChildBirthDocRF");
            w.text("ChildBirthDocSeries", series, 10)?;
            w.text("ChildBirthDocNumber", number, 10)?;
            w.date("ChildBirthDocIssueDate", *issue_date)?;
            w.opt_text("ChildBirthDocActNumber", act_number.as_deref(), 21)?;
            w.opt_date("ChildBirthDocActDate", *act_date)?;
            w.text("ChildBirthDocIssued", issued, 256)?;
        }
        BirthDoc::Foreign { name, series, number, issue_date, issued } => {
            w.open("ChildBirthDocForeign");
            w.text("ChildBirthDocName", name, 256)?;
            w.opt_text("ChildBirthDocSeries", series.as_deref(), sh.foreign_series_len)?;
            w.text("ChildBirthDocNumber", number, 50)?;
            w.date("ChildBirthDocIssueDate", *issue_date)?;
            w.text("ChildBirthDocIssued", issued, 256)?;
        }
        BirthDoc::Act { act_number, act_date, issued } => {
            if !sh.birth_act {
                return Err(w.inexpressible("ChildBirthAct", format!("{} has no ChildBirthAct", sh.name)));
            }
            w.open("ChildBirthAct");
            w.text("ChildBirthDocActNumber", act_number, 21)?;
            w.date("ChildBirthDocActDate", *act_date)?;
            w.opt_text("ChildActBirthDocIssued", issued.as_deref(), 256)?;
        }
    }
    w.close();
    Ok(())
}

/// `AddressType`.
pub(crate) fn address(w: &mut W, name: &'static str, a: &Address) -> Result<(), WriteError> {
    w.open(name);
    w.text("FullAddress", &a.full, 1024)?;
    w.text("Index", &a.index, 6)?;
    w.coded("Region", &a.region)?;
    w.coded("Area", &a.area)?;
    w.coded("City", &a.city)?;
    w.coded("CityArea", &a.city_area)?;
    w.coded("Place", &a.place)?;
    w.coded("Street", &a.street)?;
    w.coded("AdditionalArea", &a.additional_area)?;
    w.coded("AdditionalStreet", &a.additional_street)?;
    w.coded("House", &a.house)?;
    w.text("Building1", &a.building1, 50)?;
    w.text("Building2", &a.building2, 50)?;
    w.text("Apartment", &a.apartment, 50)?;
    w.close();
    Ok(())
}

/// `EntryParamsType`.
pub(crate) fn entry(w: &mut W, e: &EntryParams, sh: &Shape) -> Result<(), WriteError> {
    w.open("EntryParams");
    w.date("EntryDate", e.entry_date)?;
    w.coded("Language", &e.language)?;
    w.coded("Schedule", &e.schedule)?;
    w.opt_bool("AgreementOnFullDayGroup", e.full_day_group);
    if sh.other_day_group {
        w.opt_bool("AgreementOnOtherDayGroup", e.other_day_group);
    }
    w.close();
    Ok(())
}

/// `AdaptationProgramType`.
pub(crate) fn adaptation(w: &mut W, a: &Adaptation, sh: &Shape) -> Result<(), WriteError> {
    w.open("AdaptationProgram");
    w.coded("AdaptationGroup", &a.group)?;
    if let Some(t) = &a.group_type {
        w.coded("AdaptationGroupType", t)?;
    }
    if sh.adaptation_education_group {
        w.opt_bool("AgreementAdaptationEducationGroup", a.education_group);
    }
    w.opt_bool("AgreementOnGeneralGroup", a.general_group);
    w.opt_bool("AgreementOnCareGroup", a.care_group);
    w.opt_bool("NeedSpecialCareConditions", a.special_care);
    w.close();
    Ok(())
}

/// `MedicalReport`, with its files or without.
pub(crate) fn medical(w: &mut W, m: &MedicalReport, sh: &Shape, files: bool) -> Result<(), WriteError> {
    w.open("MedicalReport");
    w.coded("DocName", &m.kind)?;
    w.opt_text("DocSeries", m.series.as_deref(), 20)?;
    w.text("DocNumber", &m.number, 20)?;
    w.date("DocIssueDate", m.issue_date)?;
    w.text("DocIssued", &m.issued, 256)?;
    w.opt_date("DocExpirationDate", m.expires)?;
    if files {
        file_list(w, "DocFile", &m.files, 2, sh)?;
    }
    w.close();
    Ok(())
}

fn file_list(w: &mut W, name: &'static str, files: &[FileRef], max: usize, sh: &Shape) -> Result<(), WriteError> {
    if files.len() > max {
        return Err(w.inexpressible(name, format!("{} files, the schema allows {max}", files.len())));
    }
    for f in files {
        w.open(name);
        w.text("CodeDocument", &f.code, sh.code_document_len)?;
        w.text("NameDocument", &f.name, 50)?;
        w.text("TypeDocument", &f.mime, 50)?;
        w.close();
    }
    Ok(())
}

/// `EduOrganizationsType`.
pub(crate) fn edu_organizations(
    w: &mut W,
    orgs: &[DesiredKindergarten],
    allow_offer_other: Option<bool>,
    sh: &Shape,
) -> Result<(), WriteError> {
    if orgs.is_empty() || orgs.len() > 50 {
        return Err(
            w.inexpressible("EduOrganizations", format!("{} kindergartens, the schema allows 1 to 50", orgs.len()))
        );
    }
    w.open("EduOrganizations");
    for o in orgs {
        w.check("EduOrganization", &o.name, 256)?;
        w.check("EduOrganization/@code", &o.code, 50)?;
        if o.priority > 127 {
            return Err(w.inexpressible("EduOrganization/@PriorityNumber", "above 127 (xsd:byte)"));
        }
        let priority = o.priority.to_string();
        w.leaf_with_attrs("EduOrganization", &[("code", &o.code), ("PriorityNumber", &priority)], &o.name);
    }
    match allow_offer_other {
        Some(v) => w.bool("AllowOfferOther", v),
        None if !sh.allow_offer_other_optional => w.bool("AllowOfferOther", false),
        None => {}
    }
    w.close();
    Ok(())
}

/// `BrotherSisterInfoType`.
pub(crate) fn sibling(w: &mut W, s: &Sibling) -> Result<(), WriteError> {
    w.open("BrotherSisterInfo");
    w.text("ChildSurname", &s.surname, 256)?;
    w.text("ChildName", &s.name, 256)?;
    w.opt_text("ChildMiddleName", s.middle_name.as_deref(), 256)?;
    w.coded("EduOrganization", &s.kindergarten)?;
    w.close();
    Ok(())
}

/// `BenefitInfo`, with its files or without.
pub(crate) fn benefit(w: &mut W, b: &Benefit, sh: &Shape, files: bool) -> Result<(), WriteError> {
    w.open("BenefitInfo");
    w.coded("BenefitCategory", &b.category)?;
    w.open("BenefitDocInfo");
    w.date("DocIssueDate", b.doc.issue_date)?;
    w.text("DocIssued", &b.doc.issued, 256)?;
    w.opt_date("DocExpirationDate", b.doc.expires)?;
    w.close();
    if files {
        file_list(w, "BenefitFile", &b.files, sh.benefit_files, sh)?;
    }
    w.close();
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn date_times_are_written_with_their_zone_and_no_fractions() {
        assert_eq!(datetime_text(datetime!(2026-12-02 10:00:00.75 +03:00)).unwrap(), "2026-12-02T10:00:00+03:00");
        assert_eq!(datetime_text(datetime!(2026-12-02 10:00:00 -09:30)).unwrap(), "2026-12-02T10:00:00-09:30");
        assert_eq!(datetime_text(datetime!(2026-12-02 10:00:00 UTC)).unwrap(), "2026-12-02T10:00:00+00:00");
        // An offset with seconds, which xsd:dateTime cannot write, is shown in UTC.
        assert_eq!(datetime_text(datetime!(2026-12-02 10:00:30 +00:00:30)).unwrap(), "2026-12-02T10:00:00+00:00");
    }

    #[test]
    fn comments_are_cut_on_a_character_boundary() {
        let mut w = W::new("urn:x", "R", &[]);
        w.comment("c", Some("жжж"), 2);
        w.comment("d", Some("ab"), 2);
        assert_eq!(w.finish(), "<R xmlns=\"urn:x\"><c>жж</c><d>ab</d></R>");
    }

    #[test]
    fn errors_name_the_element_by_its_path() {
        let mut w = W::new("urn:x", "R", &[]);
        w.open("A");
        assert_eq!(w.text("B", "123", 2), Err(WriteError::TooLong { path: "R/A/B".into(), len: 3, max: 2 }));
        assert!(w.nn("S", " ", 20).is_err());
        assert!(w.nn("S", "a\nb", 20).is_err());
    }
}
