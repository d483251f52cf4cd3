//! `edugate demo`: plays the portal against a running mock-smev and gateway and shows, readably, what the services
//! do: a progress lookup for a linked parent, one for an unlinked SNILS, a grade-1 enrollment application and a
//! status change in the school's data reaching the portal; then, in the EPGU concentrator's format, a kindergarten
//! application, its place in the queue, a status change arriving as a further response to the application's
//! request, and a cancellation. Fails unless all eight happened.
//!
//! Its two portal clients, [`control`] (mock-smev's control API) and [`portal`] (the portal's own SOAP side), are
//! the ones the integration tests and benchmarks use too.
pub mod control;
pub mod portal;

use crate::services::{enrollment, progress};
use crate::xml::{self, Document, Limits, NodeId, XmlError};
use control::{ControlClient, ControlError};
use portal::PortalError;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

const PARENT: &str = "112-233-445 95";
const UNLINKED: &str = "123-456-789 64";

/// How long the demo waits for each answer and for the status push.
const PATIENCE: Duration = Duration::from_secs(30);

/// Why the demo failed.
#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    /// The async runtime could not start.
    #[error("starting the async runtime: {0}")]
    Runtime(#[source] std::io::Error),
    /// mock-smev's control API failed or refused a step.
    #[error(transparent)]
    Control(#[from] ControlError),
    /// The portal's SOAP side failed.
    #[error(transparent)]
    Portal(#[from] PortalError),
    /// An answer is not well-formed XML.
    #[error("reading an answer: {0}")]
    Xml(#[from] XmlError),
    /// The school's data file could not be read or written.
    #[error("the school data file {path}: {source}")]
    DataFile {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The school's data file is not the JSON the demo edits.
    #[error("the school data file {path}: {why}")]
    DataFormat {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        why: String,
    },
    /// The gateway pushed no status for the order in time.
    #[error("no status push for order {order_id} within {waited:?}")]
    NoStatusPush {
        /// The order.
        order_id: i64,
        /// The bound that ran out.
        waited: Duration,
    },
    /// Not every step showed what it should.
    #[error("the demo did not complete: {done} of 8 steps done")]
    Incomplete {
        /// How many steps did.
        done: usize,
    },
}

/// Runs the demo against mock-smev at `mock` (`http://host:port`), editing the gateway's school data at `data`.
pub fn run(mock: &str, data: &Path) -> Result<(), DemoError> {
    let runtime = tokio::runtime::Runtime::new().map_err(DemoError::Runtime)?;
    runtime.block_on(demo(mock.trim_end_matches('/'), data))
}

fn lookup(snils: &str) -> String {
    format!(
        "<p:ProgressRequest xmlns:p=\"{}\"><p:ApplicantSnils>{snils}</p:ApplicantSnils>\
         <p:PeriodFrom>2026-09-01</p:PeriodFrom><p:PeriodTo>2026-10-24</p:PeriodTo></p:ProgressRequest>",
        progress::NS
    )
}

/// Sends `content` as the portal and waits for its answer.
async fn ask(portal: &ControlClient, content: &str) -> Result<control::PortalResponse, DemoError> {
    let id = portal.portal_send(content).await?;
    Ok(portal.wait_portal_response(&id, PATIENCE).await?)
}

async fn demo(mock: &str, data: &Path) -> Result<(), DemoError> {
    let portal = ControlClient::new(mock);
    let mut done = 0;

    println!("\n1. A parent ({PARENT}) asks for the current grades of their children");
    let answer = ask(&portal, &lookup(PARENT)).await?;
    match answer.content() {
        Some(content) => {
            print_progress(content)?;
            done += 1;
        }
        None => println!("   unexpected answer: {:?}", answer.answer),
    }

    println!("\n2. Someone asks with a SNILS linked to no child with consent ({UNLINKED})");
    let answer = ask(&portal, &lookup(UNLINKED)).await?;
    match answer.reasons().first() {
        Some(reason) => {
            println!("   {}: {}", reason.code, reason.description);
            if reason.code == "NO_DATA" {
                done += 1;
            }
        }
        None => println!("   unexpected answer: {:?}", answer.answer),
    }

    let order_id = 4_200_000_000 + (time::OffsetDateTime::now_utc().unix_timestamp() % 100_000_000);
    println!("\n3. The parent applies to enroll a child in grade 1 (order {order_id})");
    let filed = portal.portal_send(&enrollment::v110::sample_request(order_id, "2020-03-15")).await?;
    let answer = portal.wait_portal_response(&filed, PATIENCE).await?;
    let (status, comment) = change_order_info(answer.content().unwrap_or(""));
    println!("   status {status} {}: {comment}", status_name(status));
    if status == enrollment::REGISTERED {
        done += 1;
    }

    println!("\n4. The school enrolls the child (its data file changes); the status reaches the portal as a further");
    println!("   response to the application's request");
    mark_enrolled(data, order_id)?;
    let pushed = wait_responses(&portal, &filed, 2).await?;
    let Some(last) = pushed.get(1) else { return Err(DemoError::NoStatusPush { order_id, waited: PATIENCE }) };
    let (status, comment) = change_order_info(last.content().unwrap_or(""));
    println!("   status {status} {}: {comment}", status_name(status));
    if status == enrollment::ENROLLED {
        done += 1;
    }

    done += kindergarten(&portal, data).await?;

    println!("\n{done} of {STEPS} steps done");
    if done != STEPS {
        return Err(DemoError::Incomplete { done });
    }
    Ok(())
}

/// How many steps the demo shows.
const STEPS: usize = 8;

/// The kindergarten part of the demo (steps 5 to 8), in the EPGU concentrator's 3.2.1 format: an application, its
/// place in the queue, a status change arriving as a further response to the application's request, and a
/// cancellation. Returns how many steps showed what they should.
async fn kindergarten(portal: &ControlClient, data: &Path) -> Result<usize, DemoError> {
    let mut done = 0;
    let order_id = 5_200_000_000 + (time::OffsetDateTime::now_utc().unix_timestamp() % 100_000_000);
    println!("\n5. A parent applies for a kindergarten place on the portal (concentrator 3.2.1, order {order_id})");
    let filed = portal.portal_send(&kindergarten_application(order_id)).await?;
    let answer = portal.wait_portal_response(&filed, PATIENCE).await?;
    let (status, comment) = change_order_info(answer.content().unwrap_or(""));
    println!("   status {status} {}: {comment}", status_name(status));
    if status == enrollment::REGISTERED {
        done += 1;
    }

    println!("\n6. The parent asks for the application's place in the queue");
    let answer = ask(portal, &kindergarten_request("GetApplicationQueueRequest", order_id)).await?;
    let content = answer.content().unwrap_or("");
    let (position, total) = (element_text(content, "Position"), element_text(content, "Total"));
    if !position.is_empty() {
        println!("   place {position} of {total} in the queue of the first kindergarten chosen");
        done += 1;
    } else {
        println!("   unexpected answer: {:?}", answer.answer);
    }

    println!("\n7. The queue's officer starts the review (the data file changes); the portal gets a further response");
    set_kindergarten_status(data, order_id, 120, "Начато рассмотрение заявления")?;
    let pushed = wait_responses(portal, &filed, 2).await?;
    let (status, comment) = change_order_info(pushed.last().and_then(|r| r.content()).unwrap_or(""));
    println!("   response {} to the same request: status {status} {}: {comment}", pushed.len(), status_name(status));
    if status == 120 {
        done += 1;
    }

    println!("\n8. The parent withdraws the application");
    let answer = ask(portal, &kindergarten_request("cancelRequest", order_id)).await?;
    let result = element_text(answer.content().unwrap_or(""), "result");
    println!("   {result}");
    if result == "CANCELLED" {
        done += 1;
    }
    Ok(done)
}

/// The namespace of the concentrator's kindergarten kind of data the demo speaks.
pub const KINDERGARTEN_3_2_1: &str = "http://epgu.gosuslugi.ru/concentrator/kindergarten/3.2.1";

/// A request of the `FormData` choice that names only an order.
fn kindergarten_request(request: &str, order_id: i64) -> String {
    format!(
        "<FormData xmlns=\"{KINDERGARTEN_3_2_1}\" oktmo=\"46701000\"><{request}><orderId>{order_id}</orderId>\
         </{request}></FormData>"
    )
}

/// A kindergarten application as the portal sends it (concentrator 3.2.1): a three-year-old, two kindergartens of
/// the demo region, entry next September. The benchmarks file it too.
pub fn kindergarten_application(order_id: i64) -> String {
    let today = time::OffsetDateTime::now_utc().date();
    let born = today.replace_year(today.year() - 3).unwrap_or(today);
    let entry = time::Date::from_calendar_date(today.year() + 1, time::Month::September, 1).unwrap_or(today);
    let coded = |tag: &str, code: &str, text: &str| format!("<{tag} code=\"{code}\">{text}</{tag}>");
    let address = ["Region", "Area", "City", "CityArea", "Place", "Street", "AdditionalArea", "AdditionalStreet"]
        .map(|tag| coded(tag, "", if tag == "Street" { "Ленина" } else { "" }))
        .concat();
    format!(
        "<FormData xmlns=\"{KINDERGARTEN_3_2_1}\" oktmo=\"46701000\"><ApplicationRequest>\
         <orderId>{order_id}</orderId><ServicesType>-10000000331</ServicesType>\
         <PersonInfo><PersonSurname>Петрова</PersonSurname><PersonName>Ольга</PersonName>\
         <PersonPhone>+79001234567</PersonPhone><PersonEmail>parent@example.org</PersonEmail><Parents>true</Parents>\
         </PersonInfo><PersonIdentityDocInfo>{}<IdentityDocSeries>4600</IdentityDocSeries>\
         <IdentityDocNumber>123456</IdentityDocNumber><IdentityDocIssueDate>2015-04-01</IdentityDocIssueDate>\
         <IdentityDocIssued>ГУ МВД по Московской области</IdentityDocIssued></PersonIdentityDocInfo>\
         <ChildInfo><ChildSurname>Петров</ChildSurname><ChildName>Иван</ChildName><ChildBirthDate>{born}</ChildBirthDate>\
         <ChildBirthDocRF><ChildBirthDocSeries>V-ИК</ChildBirthDocSeries><ChildBirthDocNumber>765432</ChildBirthDocNumber>\
         <ChildBirthDocIssueDate>{born}</ChildBirthDocIssueDate><ChildBirthDocActNumber>1202350001</ChildBirthDocActNumber>\
         <ChildBirthDocActDate>{born}</ChildBirthDocActDate><ChildBirthDocIssued>Отдел ЗАГС г. Красногорска</ChildBirthDocIssued>\
         </ChildBirthDocRF></ChildInfo>\
         <Address><FullAddress>г. Красногорск, ул. Ленина, д. 5, кв. 12</FullAddress><Index>143401</Index>{address}\
         <House code=\"\">5</House><Building1/><Building2/><Apartment>12</Apartment></Address>\
         <EntryParams><EntryDate>{entry}</EntryDate>{}{}</EntryParams>\
         <AdaptationProgram>{}</AdaptationProgram>\
         <EduOrganizations><EduOrganization code=\"DOU-001\" PriorityNumber=\"1\">Детский сад № 1</EduOrganization>\
         <EduOrganization code=\"DOU-002\" PriorityNumber=\"2\">Детский сад № 2</EduOrganization>\
         <AllowOfferOther>true</AllowOfferOther></EduOrganizations></ApplicationRequest></FormData>",
        coded("IdentityDocName", "1", "Паспорт гражданина Российской Федерации"),
        coded("Language", "1", "Русский"),
        coded("Schedule", "1", "Полный день"),
        coded("AdaptationGroup", "1", "Общеразвивающая"),
    )
}

/// The text of the first element `local` of an answer (the concentrator's answers use the default namespace).
fn element_text(content: &str, local: &str) -> String {
    let Ok(doc) = xml::parse(content, &Limits::default()) else { return String::new() };
    let ns = doc.element_ns(doc.root());
    let found = doc.elements().find(|&e| doc.is(e, ns, local));
    found.map(|e| doc.text(e).trim().to_string()).unwrap_or_default()
}

/// Waits until the portal holds `count` responses to request `id`; returns them in arrival order.
async fn wait_responses(
    portal: &ControlClient,
    id: &str,
    count: usize,
) -> Result<Vec<control::PortalResponse>, DemoError> {
    let started = Instant::now();
    loop {
        let all = portal.portal_responses(id).await?.unwrap_or_default();
        if all.len() >= count || started.elapsed() > PATIENCE {
            return Ok(all);
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Sets a kindergarten application's status in the school's data file, as the queue's own software would (the
/// gateway reloads the file). The tests set statuses this way too.
pub fn set_kindergarten_status(data: &Path, order_id: i64, status: u16, comment: &str) -> Result<(), DemoError> {
    edit_data_file(data, "kindergarten_statuses", order_id, status, comment)
}

fn status_name(code: u16) -> &'static str {
    match code {
        110 => "registered",
        120 => "review started",
        130 => "documents to confirm",
        140 => "reviewed",
        150 => "refused",
        160 => "no places",
        170 => "changed",
        180 => "change refused",
        190 => "place offered",
        210 => "suspended",
        220 => "place refused",
        230 => "consent under review",
        240 => "contract to sign",
        250 => "enrolled",
        _ => "",
    }
}

fn child_text(doc: &Document<'_>, node: NodeId, ns: &str, local: &str) -> String {
    doc.child(node, ns, local).map(|n| doc.text(n)).unwrap_or_default()
}

/// Characters of a subject's name in a line of the diary.
const SUBJECT_COLUMN: usize = 36;

/// Prints a progress answer the way a parent reads a diary.
fn print_progress(content: &str) -> Result<(), XmlError> {
    let doc = xml::parse(content, &Limits::default())?;
    let ns = progress::NS;
    for pupil in doc.child_elements(doc.root()) {
        let school = doc.child(pupil, ns, "School").map(|s| child_text(&doc, s, ns, "Name")).unwrap_or_default();
        println!(
            "   {} {}, {} class, {}",
            child_text(&doc, pupil, ns, "Surname"),
            child_text(&doc, pupil, ns, "Name"),
            child_text(&doc, pupil, ns, "Class"),
            school
        );
        for subject in doc.child_elements(pupil).filter(|&s| doc.is(s, ns, "Subject")) {
            let marks: Vec<String> = doc
                .child_elements(subject)
                .filter(|&m| doc.is(m, ns, "Mark"))
                .map(|m| child_text(&doc, m, ns, "Value"))
                .collect();
            let average = child_text(&doc, subject, ns, "Average");
            let name = child_text(&doc, subject, ns, "Name");
            // A name wider than its column goes on a line of its own, so that the marks stay in theirs.
            let name = if name.chars().count() > SUBJECT_COLUMN {
                println!("     {name}");
                String::new()
            } else {
                name
            };
            println!(
                "     {name:<SUBJECT_COLUMN$} {:<36} average {}",
                marks.join(" "),
                if average.is_empty() { "—".into() } else { average }
            );
        }
    }
    Ok(())
}

fn change_order_info(content: &str) -> (u16, String) {
    let Ok(doc) = xml::parse(content, &Limits::default()) else { return (0, content.to_string()) };
    // Each version is answered in its own namespace.
    let ns = doc.element_ns(doc.root());
    let Some(info) = doc.child(doc.root(), ns, "changeOrderInfo") else { return (0, content.to_string()) };
    let status = doc.child(info, ns, "statusCode").map(|s| child_text(&doc, s, ns, "orgCode")).unwrap_or_default();
    (status.trim().parse().unwrap_or(0), child_text(&doc, info, ns, "comment"))
}

/// Records the enrollment in the school's data file, as the school's own software would: the gateway notices the
/// file changed and reads the new status.
fn mark_enrolled(data: &Path, order_id: i64) -> Result<(), DemoError> {
    edit_data_file(data, "applications", order_id, enrollment::ENROLLED, "Зачислен в 1А класс")
}

/// Sets the status of `order_id` in the data file's `section` (its entry changed, or added), written whole and
/// renamed over the file.
fn edit_data_file(data: &Path, section: &str, order_id: i64, status: u16, comment: &str) -> Result<(), DemoError> {
    let io = |source| DemoError::DataFile { path: data.to_path_buf(), source };
    let format = |why: String| DemoError::DataFormat { path: data.to_path_buf(), why };
    let text = std::fs::read_to_string(data).map_err(io)?;
    let mut value: Value = serde_json::from_str(&text).map_err(|e| format(e.to_string()))?;
    let at = time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .map_err(|e| format(e.to_string()))?;
    if value.get(section).is_none() {
        value[section] = Value::Array(Vec::new());
    }
    let statuses = value[section].as_array_mut().ok_or_else(|| format(format!("its {section} is not a list")))?;
    let entry = serde_json::json!({ "order_id": order_id, "status": status, "changed_at": at, "comment": comment });
    match statuses.iter_mut().find(|held| held["order_id"].as_i64() == Some(order_id)) {
        Some(held) => *held = entry,
        None => statuses.push(entry),
    }
    let tmp = data.with_extension("json.tmp");
    let text = serde_json::to_vec_pretty(&value).map_err(|e| format(e.to_string()))?;
    std::fs::write(&tmp, text).map_err(io)?;
    std::fs::rename(&tmp, data).map_err(io)?;
    Ok(())
}
