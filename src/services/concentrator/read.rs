//! Reading a `FormData` (3.2.1 and 4.0.1 here; 3.1.1 in `read311.rs`) into the domain model, strictly in schema
//! order, with the schema's types and limits.
#![forbid(unsafe_code)]

use crate::school::kindergarten::model::{
    Adaptation, AdmissionApplication, Applicant, Benefit, BirthDoc, Child, DesiredKindergarten, DocInfo, EntryParams,
    FileRef, IdentityDoc, KindergartenApplication, MedicalReport, Representative, SecondParent, Sibling, Subscription,
};
use crate::services::concentrator::cursor::{El, Reader, Seq};
use crate::services::concentrator::read311;
use crate::services::concentrator::shape::{self, Shape};
use crate::services::concentrator::types::{FormData, ReadError, Request, Version};
use crate::xml::{Document, NodeId};

/// Reads the `FormData` element `root` of any supported version: its version by namespace, `@oktmo`, and its one
/// request. Any deviation from the version's schema (an unknown, missing, repeated or misplaced element, a value of
/// the wrong type or length) is a [`ReadError`] naming the element.
pub fn read(doc: &Document<'_>, root: NodeId) -> Result<FormData, ReadError> {
    read_as(doc, root, None)
}

/// Reads a `FormData` as [`read`] does; a namespace that is none of the concentrator's is read in the shape of
/// `version` (a region that maps its portal's own namespace to a version), and is an error without one.
pub fn read_as(doc: &Document<'_>, root: NodeId, version: Option<Version>) -> Result<FormData, ReadError> {
    let Some(element) = doc.as_element(root) else {
        return Err(ReadError {
            order_id: None, path: String::new(), message: "нет элемента FormData".into()
        });
    };
    let ns = doc.element_ns(root);
    let r = Reader::new(doc, ns);
    let root_el = El { id: root, path: element.local.to_string() };
    let Some(version) = Version::from_namespace(ns).or(version) else {
        return Err(r.err(&root_el.path, format!("неизвестная версия вида сведений: пространство имён «{ns}»")));
    };
    if element.local != "FormData" {
        return Err(r.err(&root_el.path, "ожидался элемент FormData"));
    }
    let oktmo = r.attr(&root_el, "oktmo", 11)?;
    if oktmo.trim().is_empty() {
        return Err(r.err(&format!("{}/@oktmo", root_el.path), "атрибут не заполнен"));
    }
    let mut s = r.seq(&root_el);
    let (request, legacy) = match version {
        Version::V3_1_1 => read311::request(&mut s)?,
        Version::V3_2_1 => (request(&mut s, &shape::V3_2_1)?, None),
        Version::V4_0_1 => (request(&mut s, &shape::V4_0_1)?, None),
    };
    s.end()?;
    let request = match request {
        Request::Application(app) => Request::Application(KindergartenApplication { oktmo: oktmo.clone(), ..app }),
        other => other,
    };
    Ok(FormData { version, oktmo, request, legacy })
}

/// The one request of a 3.2.1 / 4.0.1 `FormData` choice.
fn request(s: &mut Seq<'_, '_, '_>, sh: &Shape) -> Result<Request, ReadError> {
    let r = s.reader();
    let Some(name) = s.peek() else {
        s.end()?;
        return Err(r.err(s.path(), "нет запроса"));
    };
    let Some(el) = s.opt(name) else { return Err(r.err(s.path(), "нет запроса")) };
    let mut q = r.seq(&el);
    let request = match name {
        "ApplicationRequest" => Request::Application(application(&mut q, sh)?),
        "ApplicationOrderInfoRequest" => Request::OrderInfo(order_info(&mut q, sh)?),
        "ApplicationAdmissionRequest" => Request::Admission(admission(&mut q, sh)?),
        "GetApplicationQueueRequest" => Request::Queue { order_id: q.order_id()? },
        "GetApplicationQueueReasonRequest" => {
            Request::QueueReason { order_id: q.order_id()?, from: q.date("PeriodStart")?, to: q.date("PeriodEnd")? }
        }
        "GetApplicationRequest" => Request::Get { order_id: q.order_id()? },
        "GetApplicationAdmissionRequest" => Request::GetAdmission { order_id: q.order_id()? },
        "ApplicationRejectionRequest" => {
            let order_id = q.order_id()?;
            let kindergarten_code = if sh.rejection_code { q.opt_str("eduOrganizationCode", 50)? } else { None };
            Request::Rejection { order_id, kindergarten_code, comment: q.opt_str("comment", 2048)? }
        }
        "cancelRequest" => Request::Cancel { order_id: q.order_id()?, reason: q.opt_str("reason", 2048)? },
        other => {
            return Err(r.err(&el.path, format!("запрос {other} не предусмотрен версией {} вида сведений", sh.name)))
        }
    };
    if sh.tails {
        q.skip_tails("attribute", "refInfo");
    }
    q.end()?;
    Ok(request)
}

/// `ApplicationRequest` (`ApplicationType`).
fn application(s: &mut Seq<'_, '_, '_>, sh: &Shape) -> Result<KindergartenApplication, ReadError> {
    let order_id = s.order_id()?;
    let service_type = s.nn("ServicesType", 20)?;
    let filed_at = s.opt_datetime("FilingDate")?;
    let applicant = person(s, "PersonInfo")?;
    let identity = identity(s, sh)?;
    let child = child(s, sh)?;
    let address = s.address("Address")?;
    let entry = entry(s, sh)?;
    let adaptation = adaptation(s, sh)?;
    let medical = medical(s, sh, true)?;
    let (kindergartens, allow_offer_other) = edu_organizations(s, sh)?;
    let siblings = s.many("BrotherSisterInfo", 10)?.iter().map(|el| sibling(s, el)).collect::<Result<_, _>>()?;
    let benefit = benefit(s, sh, true)?;
    let stay_right_files = if sh.stay_right { files(s, "ConfirmingRightIsLocatedRF", 4, sh)? } else { Vec::new() };
    Ok(KindergartenApplication {
        order_id,
        oktmo: String::new(),
        service_type,
        filed_at,
        applicant,
        identity,
        child,
        address,
        entry,
        adaptation,
        medical,
        kindergartens,
        allow_offer_other,
        siblings,
        benefit,
        stay_right_files,
    })
}

/// `ApplicationOrderInfoRequest`.
fn order_info(s: &mut Seq<'_, '_, '_>, sh: &Shape) -> Result<Subscription, ReadError> {
    Ok(Subscription {
        order_id: s.order_id()?,
        service_type: s.nn("ServicesType", 20)?,
        applicant: person(s, "PersonInfo")?,
        identity: identity(s, sh)?,
        child: child(s, sh)?,
    })
}

/// `ApplicationAdmissionRequest`.
fn admission(s: &mut Seq<'_, '_, '_>, sh: &Shape) -> Result<AdmissionApplication, ReadError> {
    Ok(AdmissionApplication {
        order_id: s.order_id()?,
        service_type: s.nn("ServicesType", 20)?,
        applicant: person(s, "PersonInfo")?,
        identity: identity(s, sh)?,
        second_parent: second_parent(s)?,
        child: child(s, sh)?,
        address: s.address("Address")?,
        entry: entry(s, sh)?,
        adaptation: adaptation(s, sh)?,
        medical: medical(s, sh, true)?,
        kindergarten_code: s.str("EduOrganizationCode", 50)?,
        doc_list_review: s.bool("DocListReview")?,
        license_charter: s.bool("LicenseCharter")?,
    })
}

/// `PersonInfoType`.
pub(crate) fn person(s: &mut Seq<'_, '_, '_>, local: &str) -> Result<Applicant, ReadError> {
    let el = s.req(local)?;
    let mut p = s.reader().seq(&el);
    let applicant = Applicant {
        surname: p.str("PersonSurname", 256)?,
        name: p.str("PersonName", 256)?,
        middle_name: p.opt_str("PersonMiddleName", 256)?,
        phone: p.str("PersonPhone", 14)?,
        email: p.str("PersonEmail", 256)?,
        is_parent: p.bool("Parents")?,
        representative: representative(&mut p)?,
        snils: None,
    };
    p.end()?;
    Ok(applicant)
}

fn representative(p: &mut Seq<'_, '_, '_>) -> Result<Option<Representative>, ReadError> {
    let Some(el) = p.opt("OtherRepresentative") else { return Ok(None) };
    let mut o = p.reader().seq(&el);
    let rep = Representative {
        doc_name: o.str("OtherRepresentativeDocName", 256)?,
        doc_series: o.opt_str("OtherRepresentativeDocSeries", 10)?,
        doc_number: o.str("OtherRepresentativeDocNumber", 10)?,
        doc_date: o.date("OtherRepresentativeDocDate")?,
        doc_issued: o.str("OtherRepresentativeDocIssued", 256)?,
    };
    o.end()?;
    Ok(Some(rep))
}

/// `Person2InfoType`.
fn second_parent(s: &mut Seq<'_, '_, '_>) -> Result<Option<SecondParent>, ReadError> {
    let Some(el) = s.opt("Person2Info") else { return Ok(None) };
    let mut p = s.reader().seq(&el);
    let parent = SecondParent {
        surname: p.str("Person2Surname", 256)?,
        name: p.str("Person2Name", 256)?,
        middle_name: p.opt_str("Person2MiddleName", 256)?,
        phone: p.opt_str("Person2Phone", 14)?,
        email: p.opt_str("Person2Email", 256)?,
    };
    p.end()?;
    Ok(Some(parent))
}

/// `PersonIdentityDocInfoType`.
pub(crate) fn identity(s: &mut Seq<'_, '_, '_>, sh: &Shape) -> Result<IdentityDoc, ReadError> {
    let el = s.req("PersonIdentityDocInfo")?;
    let mut d = s.reader().seq(&el);
    let doc = IdentityDoc {
        kind: d.coded("IdentityDocName")?,
        series: d.opt_str("IdentityDocSeries", sh.identity_len)?,
        number: d.str("IdentityDocNumber", sh.identity_len)?,
        issue_date: d.date("IdentityDocIssueDate")?,
        issuer_code: d.opt_str("IdentityDocIssueCode", 6)?,
        issued: if sh.identity_issued_optional {
            d.opt_str("IdentityDocIssued", 256)?
        } else {
            Some(d.str("IdentityDocIssued", 256)?)
        },
    };
    d.end()?;
    Ok(doc)
}

/// `ChildInfoType`.
pub(crate) fn child(s: &mut Seq<'_, '_, '_>, sh: &Shape) -> Result<Child, ReadError> {
    let el = s.req("ChildInfo")?;
    let mut c = s.reader().seq(&el);
    let surname = c.str("ChildSurname", 256)?;
    let name = c.str("ChildName", 256)?;
    let middle_name = c.opt_str("ChildMiddleName", 256)?;
    let birth_date = c.date("ChildBirthDate")?;
    let birth_doc = Some(birth_doc(&mut c, sh)?);
    c.end()?;
    Ok(Child { surname, name, middle_name, birth_date, birth_doc })
}

fn birth_doc(c: &mut Seq<'_, '_, '_>, sh: &Shape) -> Result<BirthDoc, ReadError> {
    let r = c.reader();
    if let Some(el) = c.opt("ChildBirthDocRF") {
        let mut d = r.seq(&el);
        let series = d.str("ChildBirthDocSeries", 10)?;
        let number = d.str("ChildBirthDocNumber", 10)?;
        let issue_date = d.date("ChildBirthDocIssueDate")?;
        let (act_number, act_date) = if sh.rf_act_optional {
            (d.opt_str("ChildBirthDocActNumber", 21)?, d.opt_date("ChildBirthDocActDate")?)
        } else {
            (Some(d.str("ChildBirthDocActNumber", 21)?), Some(d.date("ChildBirthDocActDate")?))
        };
        let issued = d.str("ChildBirthDocIssued", 256)?;
        d.end()?;
        return Ok(BirthDoc::Russian { series, number, issue_date, act_number, act_date, issued });
    }
    if let Some(el) = c.opt("ChildBirthDocForeign") {
        let mut d = r.seq(&el);
        let doc = BirthDoc::Foreign {
            name: d.str("ChildBirthDocName", 256)?,
            series: d.opt_str("ChildBirthDocSeries", sh.foreign_series_len)?,
            number: d.str("ChildBirthDocNumber", 50)?,
            issue_date: d.date("ChildBirthDocIssueDate")?,
            issued: d.str("ChildBirthDocIssued", 256)?,
        };
        d.end()?;
        return Ok(doc);
    }
    if sh.birth_act {
        if let Some(el) = c.opt("ChildBirthAct") {
            let mut d = r.seq(&el);
            let doc = BirthDoc::Act {
                act_number: d.str("ChildBirthDocActNumber", 21)?,
                act_date: d.date("ChildBirthDocActDate")?,
                issued: d.opt_str("ChildActBirthDocIssued", 256)?,
            };
            d.end()?;
            return Ok(doc);
        }
    }
    let kinds = if sh.birth_act {
        "ChildBirthDocRF, ChildBirthDocForeign или ChildBirthAct"
    } else {
        "ChildBirthDocRF или ChildBirthDocForeign"
    };
    Err(match c.peek() {
        Some(found) => r.err(
            &format!("{}/{found}", c.path()),
            format!("элемент здесь не предусмотрен версией {}: ожидается {kinds}", sh.name),
        ),
        None => r.err(&format!("{}/ChildBirthDocRF", c.path()), format!("нет документа о рождении ({kinds})")),
    })
}

/// `EntryParamsType`.
pub(crate) fn entry(s: &mut Seq<'_, '_, '_>, sh: &Shape) -> Result<EntryParams, ReadError> {
    let el = s.req("EntryParams")?;
    let mut e = s.reader().seq(&el);
    let params = EntryParams {
        entry_date: e.date("EntryDate")?,
        language: e.coded("Language")?,
        schedule: e.coded("Schedule")?,
        full_day_group: e.opt_bool("AgreementOnFullDayGroup")?,
        other_day_group: if sh.other_day_group { e.opt_bool("AgreementOnOtherDayGroup")? } else { None },
    };
    e.end()?;
    Ok(params)
}

/// `AdaptationProgramType`.
pub(crate) fn adaptation(s: &mut Seq<'_, '_, '_>, sh: &Shape) -> Result<Adaptation, ReadError> {
    let el = s.req("AdaptationProgram")?;
    let mut a = s.reader().seq(&el);
    let program = Adaptation {
        group: a.coded("AdaptationGroup")?,
        group_type: a.opt_coded("AdaptationGroupType")?,
        education_group: if sh.adaptation_education_group {
            a.opt_bool("AgreementAdaptationEducationGroup")?
        } else {
            None
        },
        general_group: a.opt_bool("AgreementOnGeneralGroup")?,
        care_group: a.opt_bool("AgreementOnCareGroup")?,
        special_care: a.opt_bool("NeedSpecialCareConditions")?,
    };
    a.end()?;
    Ok(program)
}

/// `MedicalReport` (`MedicalReportType`, or the "without files" type when `with_files` is false).
pub(crate) fn medical(
    s: &mut Seq<'_, '_, '_>,
    sh: &Shape,
    with_files: bool,
) -> Result<Option<MedicalReport>, ReadError> {
    let Some(el) = s.opt("MedicalReport") else { return Ok(None) };
    let mut m = s.reader().seq(&el);
    let report = MedicalReport {
        kind: m.coded("DocName")?,
        series: m.opt_str("DocSeries", 20)?,
        number: m.str("DocNumber", 20)?,
        issue_date: m.date("DocIssueDate")?,
        issued: m.str("DocIssued", 256)?,
        expires: m.opt_date("DocExpirationDate")?,
        files: if with_files { files(&mut m, "DocFile", 2, sh)? } else { Vec::new() },
    };
    m.end()?;
    Ok(Some(report))
}

/// Consecutive `AppliedDocumentType` elements named `local`, at most `max`.
fn files(s: &mut Seq<'_, '_, '_>, local: &str, max: usize, sh: &Shape) -> Result<Vec<FileRef>, ReadError> {
    let mut out = Vec::new();
    for el in s.many(local, max)? {
        let mut f = s.reader().seq(&el);
        out.push(FileRef {
            code: f.str("CodeDocument", sh.code_document_len)?,
            name: f.str("NameDocument", 50)?,
            mime: f.str("TypeDocument", 50)?,
        });
        f.end()?;
    }
    Ok(out)
}

/// `EduOrganizationsType`.
pub(crate) fn edu_organizations(
    s: &mut Seq<'_, '_, '_>,
    sh: &Shape,
) -> Result<(Vec<DesiredKindergarten>, Option<bool>), ReadError> {
    let el = s.req("EduOrganizations")?;
    let r = s.reader();
    let mut e = r.seq(&el);
    let orgs = e.many("EduOrganization", 50)?;
    if orgs.is_empty() {
        return Err(r.err(&format!("{}/EduOrganization", el.path), "не выбрана ни одна дошкольная организация"));
    }
    let mut kindergartens = Vec::with_capacity(orgs.len());
    for org in &orgs {
        let code = r.attr(org, "code", 50)?;
        let priority_text = r.attr(org, "PriorityNumber", 4)?;
        let priority = crate::services::concentrator::cursor::parse_byte(priority_text.trim())
            .and_then(|p| u8::try_from(p).ok())
            .ok_or_else(|| {
                r.err(&format!("{}/@PriorityNumber", org.path), "приоритет должен быть целым числом от 0 до 127")
            })?;
        let name = r.leaf(org)?;
        crate::services::concentrator::cursor::check_len(r, &org.path, &name, 256)?;
        kindergartens.push(DesiredKindergarten { code, name, priority });
    }
    let allow_offer_other =
        if sh.allow_offer_other_optional { e.opt_bool("AllowOfferOther")? } else { Some(e.bool("AllowOfferOther")?) };
    e.end()?;
    Ok((kindergartens, allow_offer_other))
}

/// `BrotherSisterInfoType`.
pub(crate) fn sibling(s: &Seq<'_, '_, '_>, el: &El) -> Result<Sibling, ReadError> {
    let mut b = s.reader().seq(el);
    let sibling = Sibling {
        surname: b.str("ChildSurname", 256)?,
        name: b.str("ChildName", 256)?,
        middle_name: b.opt_str("ChildMiddleName", 256)?,
        kindergarten: b.coded("EduOrganization")?,
    };
    b.end()?;
    Ok(sibling)
}

/// `BenefitInfo` (with its files, or the "without files" type).
pub(crate) fn benefit(s: &mut Seq<'_, '_, '_>, sh: &Shape, with_files: bool) -> Result<Option<Benefit>, ReadError> {
    let Some(el) = s.opt("BenefitInfo") else { return Ok(None) };
    let r = s.reader();
    let mut b = r.seq(&el);
    let category = b.coded("BenefitCategory")?;
    let doc_el = b.req("BenefitDocInfo")?;
    let mut d = r.seq(&doc_el);
    let doc = DocInfo {
        issue_date: d.date("DocIssueDate")?,
        issued: d.str("DocIssued", 256)?,
        expires: d.opt_date("DocExpirationDate")?,
    };
    d.end()?;
    let files = if with_files { files(&mut b, "BenefitFile", sh.benefit_files, sh)? } else { Vec::new() };
    b.end()?;
    Ok(Some(Benefit { category, doc, files }))
}
