//! Reading a 3.1.1 `FormData` (the older service version) into the same model as the newer ones.
//!
//! The 3.1.1 application has its own shape. What the model holds is mapped into it; what only 3.1.1 asks (the
//! applicant's birth date, sex, citizenship and birth place, who the applicant is to the child, the child's sex,
//! SNILS and birth place, a foreign birth document without issue date) goes into [`Legacy311`] beside it. What
//! neither keeps: `AddressResidence`, the code of the representative's document kind, an `AdaptationDocInfo`
//! without number, date or issuer, and every benefit but the first one with a complete document (the model holds
//! one benefit). The model's language of education is empty (3.1.1 has none); each kindergarten's 3.1.1
//! `@priority` becomes priority 1 (true) or 2 (false).
#![forbid(unsafe_code)]

use crate::school::kindergarten::model::{
    Adaptation, Applicant, Benefit, BirthDoc, Child, Coded, DesiredKindergarten, DocInfo, EntryParams, IdentityDoc,
    KindergartenApplication, MedicalReport, Representative,
};
use crate::school::snils::Snils;
use crate::services::concentrator::cursor::{check_len, is_email_311, parse_bool, Seq};
use crate::services::concentrator::types::{ForeignBirthDoc311, Legacy311, ReadError, Request, Sex};

/// The one request of a 3.1.1 `FormData` choice (the cursor is on `FormData`'s children).
pub(crate) fn request(s: &mut Seq<'_, '_, '_>) -> Result<(Request, Option<Legacy311>), ReadError> {
    let r = s.reader();
    let Some(name) = s.peek() else {
        s.end()?;
        return Err(r.err(s.path(), "нет запроса"));
    };
    let Some(el) = s.opt(name) else { return Err(r.err(s.path(), "нет запроса")) };
    let mut q = r.seq(&el);
    let mut legacy = None;
    let request = match name {
        "ApplicationRequest" => {
            let (app, extra) = application(&mut q)?;
            legacy = Some(extra);
            Request::Application(app)
        }
        "ApplicationChooseRequest" => Request::Choose {
            order_id: q.order_id()?,
            kindergarten_code: q.str("EduOrganizationCode", 50)?,
            accepted: q.bool("EduOrganizationAnswer")?,
        },
        "GetApplicationRequest" => Request::Get { order_id: q.order_id()? },
        "GetApplicationQueueRequest" => Request::Queue { order_id: q.order_id()? },
        "cancelRequest" => Request::Cancel { order_id: q.order_id()?, reason: q.opt_str("reason", 2048)? },
        "textRequest" => Request::Text { order_id: q.order_id()?, text: q.str("text", 2048)? },
        other => return Err(r.err(&el.path, format!("запрос {other} не предусмотрен версией 3.1.1 вида сведений"))),
    };
    q.end()?;
    Ok((request, legacy))
}

fn sex(s: &mut Seq<'_, '_, '_>, local: &str) -> Result<Sex, ReadError> {
    let el = s.req(local)?;
    let r = s.reader();
    match r.leaf(&el)?.trim() {
        "Male" => Ok(Sex::Male),
        "Female" => Ok(Sex::Female),
        other => {
            let shown: String = other.chars().take(20).collect();
            Err(r.err(&el.path, format!("значение «{shown}» не подходит: ожидается Male или Female")))
        }
    }
}

/// The pieces of a 3.1.1 `PersonInfo`.
struct Person311 {
    applicant: Applicant,
    identity: IdentityDoc,
    birth_date: time::Date,
    sex: Sex,
    citizenship: String,
    birth_country: Option<String>,
    birth_place: String,
    person_type: Coded,
}

fn person(s: &mut Seq<'_, '_, '_>) -> Result<Person311, ReadError> {
    let el = s.req("PersonInfo")?;
    let r = s.reader();
    let mut p = r.seq(&el);
    let surname = p.str("PersonSurname", 256)?;
    let name = p.str("PersonName", 256)?;
    let middle_name = p.opt_str("PersonMiddleName", 256)?;
    let birth_date = p.date("PersonBirthDate")?;
    let sex = sex(&mut p, "PersonSex")?;
    let snils_el = p.req("PersonSNILS")?;
    let snils_text = r.leaf(&snils_el)?;
    check_len(r, &snils_el.path, &snils_text, 14)?;
    let snils = Snils::parse(&snils_text).map_err(|e| r.err(&snils_el.path, format!("СНИЛС указан неверно: {e}")))?;
    let phone = p.str("PersonPhone", 14)?;
    let email_el = p.req("PersonEmail")?;
    let email = r.leaf(&email_el)?;
    check_len(r, &email_el.path, &email, 256)?;
    if !is_email_311(&email) {
        return Err(r.err(&email_el.path, "адрес электронной почты указан неверно"));
    }
    let doc_el = p.req("PersonIdentityDocInfo")?;
    let mut d = r.seq(&doc_el);
    let identity = IdentityDoc {
        kind: d.coded("IdentityDocName")?,
        series: Some(d.str("IdentityDocSeries", 10)?),
        number: d.str("IdentityDocNumber", 10)?,
        issue_date: d.date("IdentityDocIssueDate")?,
        issuer_code: Some(d.str("IdentityDocIssueCode", 6)?),
        issued: Some(d.str("IdentityDocIssued", 256)?),
    };
    let citizenship = d.str("Citizenship", 256)?;
    let birth_country = d.opt_str("BirthCountry", 256)?;
    let birth_place = d.str("BirthPlace", 256)?;
    d.end()?;
    let person_type = p.coded("PersonType")?;
    let representative = match p.opt("PersonCredentialsDocInfo") {
        None => None,
        Some(c_el) => {
            let mut c = r.seq(&c_el);
            let rep = Representative {
                doc_name: c.coded("CredentialsDocName")?.text,
                doc_series: c.opt_str("CredentialsDocSeries", 10)?,
                doc_number: c.str("CredentialsDocNumber", 10)?,
                doc_date: c.date("CredentialsDocDate")?,
                doc_issued: c.str("CredentialsDocIssued", 256)?,
            };
            c.end()?;
            Some(rep)
        }
    };
    p.end()?;
    let applicant = Applicant {
        surname,
        name,
        middle_name,
        phone,
        email,
        is_parent: representative.is_none(),
        representative,
        snils: Some(snils),
    };
    Ok(Person311 { applicant, identity, birth_date, sex, citizenship, birth_country, birth_place, person_type })
}

/// The child, its sex, SNILS and birth place, and a foreign birth document the model cannot hold.
struct Child311 {
    child: Child,
    sex: Sex,
    snils: Option<String>,
    birth_place: String,
    foreign: Option<ForeignBirthDoc311>,
}

fn child(s: &mut Seq<'_, '_, '_>) -> Result<Child311, ReadError> {
    let el = s.req("ChildInfo")?;
    let r = s.reader();
    let mut c = r.seq(&el);
    let surname = c.str("ChildSurname", 256)?;
    let name = c.str("ChildName", 256)?;
    let middle_name = c.opt_str("ChildMiddleName", 256)?;
    let sex = sex(&mut c, "ChildSex")?;
    let birth_date = c.date("ChildBirthDate")?;
    let snils = c.opt_str("ChildSNILS", 14)?;
    let mut birth_place = String::new();
    let mut foreign = None;
    let birth_doc = if let Some(rf) = c.opt("ChildBirthDocRF") {
        let mut d = r.seq(&rf);
        let series = d.str("ChildBirthDocSeries", 10)?;
        let number = d.str("ChildBirthDocNumber", 10)?;
        let act_number = Some(d.str("ChildBirthDocActNumber", 21)?);
        let issue_date = d.date("ChildBirthDocIssueDate")?;
        let issued = d.str("ChildBirthDocIssued", 256)?;
        birth_place = d.str("ChildBirthPlace", 256)?;
        d.end()?;
        Some(BirthDoc::Russian { series, number, issue_date, act_number, act_date: None, issued })
    } else if let Some(f) = c.opt("ChildBirthDocForeign") {
        let mut d = r.seq(&f);
        foreign = Some(ForeignBirthDoc311 {
            name: d.str("ChildBirthDocName", 256)?,
            series: d.opt_str("ChildBirthDocSeries", 10)?,
            number: d.str("ChildBirthDocNumber", 50)?,
        });
        d.end()?;
        None
    } else {
        let found = c.peek().map(|n| format!(", а на его месте {n}")).unwrap_or_default();
        return Err(r.err(
            &format!("{}/ChildBirthDocRF", el.path),
            format!("нет документа о рождении (ChildBirthDocRF или ChildBirthDocForeign){found}"),
        ));
    };
    c.end()?;
    let child = Child { surname, name, middle_name, birth_date, birth_doc };
    Ok(Child311 { child, sex, snils, birth_place, foreign })
}

fn edu_organizations(s: &mut Seq<'_, '_, '_>) -> Result<(Vec<DesiredKindergarten>, bool), ReadError> {
    let el = s.req("EduOrganizations")?;
    let r = s.reader();
    let mut e = r.seq(&el);
    let orgs = e.many("EduOrganization", 10)?;
    if orgs.is_empty() {
        return Err(r.err(&format!("{}/EduOrganization", el.path), "не выбрана ни одна дошкольная организация"));
    }
    let mut out = Vec::with_capacity(orgs.len());
    for org in &orgs {
        let code = r.attr(org, "code", 50)?;
        let flag = r.attr(org, "priority", 10)?;
        let priority = parse_bool(flag.trim())
            .ok_or_else(|| r.err(&format!("{}/@priority", org.path), "ожидается true, false, 1 или 0"))?;
        let name = r.leaf(org)?;
        check_len(r, &org.path, &name, 256)?;
        out.push(DesiredKindergarten { code, name, priority: if priority { 1 } else { 2 } });
    }
    let allow = e.bool("AllowOfferOther")?;
    e.end()?;
    Ok((out, allow))
}

/// A 3.1.1 `DocInfoType`: kind, series, number, date, issuer (all but the kind optional).
struct DocInfo311 {
    kind: Coded,
    series: Option<String>,
    number: Option<String>,
    issue_date: Option<time::Date>,
    issued: Option<String>,
}

fn doc_info(s: &mut Seq<'_, '_, '_>, local: &str) -> Result<Option<DocInfo311>, ReadError> {
    let Some(el) = s.opt(local) else { return Ok(None) };
    let mut d = s.reader().seq(&el);
    let doc = DocInfo311 {
        kind: d.coded("DocName")?,
        series: d.opt_str("DocSeries", 20)?,
        number: d.opt_str("DocNumber", 20)?,
        issue_date: d.opt_date("DocIssueDate")?,
        issued: d.opt_str("DocIssued", 256)?,
    };
    d.end()?;
    Ok(Some(doc))
}

fn adaptation(s: &mut Seq<'_, '_, '_>) -> Result<(Adaptation, Option<MedicalReport>), ReadError> {
    let el = s.req("AdaptationProgram")?;
    let mut a = s.reader().seq(&el);
    let group = a.coded("AdaptationGroup")?;
    let group_type = a.opt_coded("AdaptationGroupType")?;
    let medical = doc_info(&mut a, "AdaptationDocInfo")?.and_then(|d| {
        Some(MedicalReport {
            kind: d.kind,
            series: d.series,
            number: d.number?,
            issue_date: d.issue_date?,
            issued: d.issued?,
            expires: None,
            files: Vec::new(),
        })
    });
    let general_group = a.opt_bool("AgreementOnGeneralGroup")?;
    let care_group = a.opt_bool("AgreementOnCareGroup")?;
    a.end()?;
    let adaptation =
        Adaptation { group, group_type, education_group: None, general_group, care_group, special_care: None };
    Ok((adaptation, medical))
}

fn benefits(s: &mut Seq<'_, '_, '_>) -> Result<Option<Benefit>, ReadError> {
    let Some(el) = s.opt("BenefitsInfo") else { return Ok(None) };
    let r = s.reader();
    let mut b = r.seq(&el);
    let items = b.many("BenefitInfo", 10)?;
    if items.is_empty() {
        return Err(r.err(&format!("{}/BenefitInfo", el.path), "нет ни одной льготы"));
    }
    b.end()?;
    let mut first = None;
    for item in &items {
        let mut i = r.seq(item);
        let category = i.coded("BenefitCategory")?;
        let doc = doc_info(&mut i, "BenefitDocInfo")?;
        i.end()?;
        if first.is_none() {
            if let Some(DocInfo311 { issue_date: Some(issue_date), issued: Some(issued), .. }) = doc {
                first =
                    Some(Benefit { category, doc: DocInfo { issue_date, issued, expires: None }, files: Vec::new() });
            }
        }
    }
    Ok(first)
}

fn application(s: &mut Seq<'_, '_, '_>) -> Result<(KindergartenApplication, Legacy311), ReadError> {
    let order_id = s.order_id()?;
    let service_type = s.nn("ServicesType", 20)?;
    let person = person(s)?;
    let child = child(s)?;
    let address = s.address("Address")?;
    if s.peek() == Some("AddressResidence") {
        // Checked, not kept: the model holds one address (where the child lives).
        s.address("AddressResidence")?;
    }
    let (kindergartens, allow_offer_other) = edu_organizations(s)?;
    let entry_date = s.date("EntryDate")?;
    let (adaptation, medical) = adaptation(s)?;
    let schedule = s.coded("ScheduleType")?;
    let benefit = benefits(s)?;
    let legacy = Legacy311 {
        person_birth_date: person.birth_date,
        person_sex: person.sex,
        citizenship: person.citizenship,
        birth_country: person.birth_country,
        birth_place: person.birth_place,
        person_type: person.person_type,
        child_sex: child.sex,
        child_snils: child.snils,
        child_birth_place: child.birth_place,
        foreign_birth_doc: child.foreign,
    };
    let app = KindergartenApplication {
        order_id,
        oktmo: String::new(),
        service_type,
        filed_at: None,
        applicant: person.applicant,
        identity: person.identity,
        child: child.child,
        address,
        entry: EntryParams {
            entry_date,
            language: Coded::default(),
            schedule,
            full_day_group: None,
            other_day_group: None,
        },
        adaptation,
        medical,
        kindergartens,
        allow_offer_other: Some(allow_offer_other),
        siblings: Vec::new(),
        benefit,
        stay_right_files: Vec::new(),
    };
    Ok((app, legacy))
}
