//! Format 1.0.0 (`xsd/school-enrollment-1.0.0.xsd`), still served: `FormData[@oktmo]` whose children are the
//! application itself, answered by `FormDataResponse[@oktmo]/changeOrderInfo`; status changes are pushed as
//! `OrderStatusRequest`. Everything the form carries is read into the same application as format 1.1.0.
#![forbid(unsafe_code)]

use crate::school::kindergarten::model::{Address, Applicant, BirthDoc, Child, Coded, FileRef, IdentityDoc};
use crate::school::{DesiredSchool, EnrollmentApplication, EnrollmentBenefit};
use crate::services::enrollment::read::{Reader, Refusal};
use crate::services::xmlout::XmlOut;
use crate::xml::{Document, NodeId};
use time::Date;

/// The namespace of format 1.0.0.
pub const NS: &str = "urn://edugate/school-enrollment/1.0.0";
/// The status push's root element (the gateway sends it as a consumer).
pub const STATUS_REQUEST: &str = "OrderStatusRequest";

/// Reads and checks a 1.0.0 application from its root element `root` in `doc`. `today` bounds birth dates.
pub fn read_form(doc: &Document<'_>, root: NodeId, today: Date) -> Result<EnrollmentApplication, Refusal> {
    let mut r = Reader::new(doc, NS);
    if !doc.is(root, NS, "FormData") {
        return Err(r.refuse("ожидается заявление FormData"));
    }
    let order_id = r.order_id(root)?;
    let oktmo = r.oktmo(root)?;
    let applicant_node = r.node(root, "Applicant")?;
    let child_node = r.node(root, "Child")?;
    let applicant_snils = r.snils(applicant_node, "Snils", "заявителя")?;
    let child_snils = match r.opt_node(child_node, "Snils") {
        Some(_) => Some(r.snils(child_node, "Snils", "ребёнка")?),
        None => None,
    };
    let birth_date = r.date(child_node, "BirthDate")?;
    if birth_date > today {
        return Err(r.refuse("дата рождения ребёнка в будущем"));
    }
    let schools = schools(&r, root)?;
    let grade = r.grade(root)?;
    let academic_year = r.academic_year(root)?;
    let identity = match r.opt_node(applicant_node, "IdentityDocument") {
        Some(doc) => Some(IdentityDoc {
            kind: r.coded(doc, "Kind")?,
            series: r.opt_text(doc, "Series"),
            number: r.text(doc, "Number")?,
            issue_date: r.date(doc, "IssueDate")?,
            issuer_code: None,
            issued: r.opt_text(doc, "Issuer"),
        }),
        None => None,
    };
    let applicant = Applicant {
        surname: r.text(applicant_node, "Surname")?,
        name: r.text(applicant_node, "Name")?,
        middle_name: r.opt_text(applicant_node, "MiddleName"),
        phone: r.opt_text(applicant_node, "Phone").unwrap_or_default(),
        email: r.opt_text(applicant_node, "Email").unwrap_or_default(),
        is_parent: r.opt_node(applicant_node, "IsParent").is_none() || r.boolean(applicant_node, "IsParent")?,
        representative: None,
        snils: Some(applicant_snils.clone()),
    };
    let child = Child {
        surname: r.text(child_node, "Surname")?,
        name: r.text(child_node, "Name")?,
        middle_name: r.opt_text(child_node, "MiddleName"),
        birth_date,
        birth_doc: r.opt_node(child_node, "BirthDocument").map(|d| birth_doc(&r, d)).transpose()?,
    };
    let benefit = r.opt_coded(root, "BenefitCategory").map(|category| EnrollmentBenefit {
        category,
        doc: None,
        files: Vec::new(),
    });
    let documents = match r.opt_node(root, "Documents") {
        Some(list) => r
            .nodes(list, "Document")
            .map(|d| Ok(FileRef { code: r.text(d, "Code")?, name: r.text(d, "Name")?, mime: String::new() }))
            .collect::<Result<Vec<_>, Refusal>>()?,
        None => Vec::new(),
    };
    Ok(EnrollmentApplication {
        order_id,
        oktmo,
        service_type: None,
        filed_at: None,
        applicant_snils,
        applicant,
        identity,
        child,
        child_snils,
        address: r.opt_node(root, "Address").map(|a| address(&r, a)).transpose()?,
        schools,
        grade,
        academic_year,
        language: None,
        adapted_program: None,
        siblings: Vec::new(),
        benefit,
        documents,
    })
}

fn birth_doc(r: &Reader<'_, '_>, at: NodeId) -> Result<BirthDoc, Refusal> {
    let foreign = r.opt_node(at, "Foreign").is_some() && r.boolean(at, "Foreign")?;
    let issued = r.text(at, "Issuer")?;
    let issue_date = r.date(at, "IssueDate")?;
    let number = r.text(at, "Number")?;
    Ok(if foreign {
        BirthDoc::Foreign {
            name: "Иностранный документ о рождении".to_owned(),
            series: r.opt_text(at, "Series"),
            number,
            issue_date,
            issued,
        }
    } else {
        BirthDoc::Russian {
            series: r.opt_text(at, "Series").unwrap_or_default(),
            number,
            issue_date,
            act_number: r.opt_text(at, "ActNumber"),
            act_date: None,
            issued,
        }
    })
}

fn address(r: &Reader<'_, '_>, at: NodeId) -> Result<Address, Refusal> {
    let coded = |local: &str| r.opt_coded(at, local).unwrap_or_default();
    Ok(Address {
        full: r.text(at, "FullAddress")?,
        index: r.opt_text(at, "PostalCode").unwrap_or_default(),
        region: r.coded(at, "Region")?,
        city: coded("City"),
        street: coded("Street"),
        house: Coded { code: String::new(), text: r.opt_text(at, "House").unwrap_or_default() },
        apartment: r.opt_text(at, "Apartment").unwrap_or_default(),
        ..Address::default()
    })
}

fn schools(r: &Reader<'_, '_>, root: NodeId) -> Result<Vec<DesiredSchool>, Refusal> {
    let list = r.node(root, "Schools")?;
    let mut out: Vec<DesiredSchool> = Vec::new();
    for s in r.nodes(list, "School") {
        let code = r.text(s, "Code")?;
        let priority_text = r.text(s, "Priority")?;
        let priority = priority_text.parse::<u8>().ok().filter(|p| (1..=5).contains(p));
        let priority = priority.ok_or_else(|| r.refuse(format!("приоритет школы {code} указан неверно")))?;
        if out.iter().any(|s| s.code == code || s.priority == priority) {
            return Err(r.refuse(format!("школа {code} или приоритет {priority} указаны дважды")));
        }
        out.push(DesiredSchool { code, name: String::new(), priority });
    }
    if out.is_empty() {
        return Err(r.refuse("не выбрана ни одна школа"));
    }
    out.sort_by_key(|s| s.priority);
    Ok(out)
}

/// The 1.0.0 `FormDataResponse/changeOrderInfo` (with the form's `@oktmo` when known, as 1.0.0 always wrote it).
pub fn change_order_info(order_id: i64, oktmo: Option<&str>, status: u16, comment: Option<&str>) -> String {
    let attrs: Vec<(&str, &str)> = oktmo.map(|o| vec![("oktmo", o)]).unwrap_or_default();
    let mut out = XmlOut::new("e", NS, "FormDataResponse", &attrs);
    out.open("changeOrderInfo");
    out.open("orderId");
    out.leaf("pguId", &order_id.to_string());
    out.close("orderId");
    out.open("statusCode");
    out.leaf("orgCode", &status.to_string());
    out.close("statusCode");
    out.opt_leaf("comment", comment);
    out.close("changeOrderInfo");
    out.finish("FormDataResponse")
}

/// The content of a 1.0.0 status push to the portal.
pub fn status_request(order_id: i64, status: u16, at: &str, comment: Option<&str>) -> String {
    let mut out = XmlOut::new("e", NS, STATUS_REQUEST, &[]);
    out.leaf("orderId", &order_id.to_string());
    out.open("statusCode");
    out.leaf("orgCode", &status.to_string());
    out.close("statusCode");
    out.leaf("statusDate", at);
    out.opt_leaf("comment", comment);
    out.finish(STATUS_REQUEST)
}
