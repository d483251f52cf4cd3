//! `edugate demo`: plays the portal against a running mock-smev and gateway and shows, readably, the four things
//! the services do: a progress lookup for a linked parent, one for an unlinked SNILS, an enrollment application,
//! and a status change in the school's data reaching the portal. Fails unless all four happened.
//!
//! Its two portal clients, [`control`] (mock-smev's control API) and [`portal`] (the portal's own SOAP side), are
//! the ones the integration tests and benchmarks use too.
pub mod control;
pub mod portal;

use crate::services::{enrollment, progress};
use crate::smev::KindOfData;
use crate::xml::{self, Document, Limits, NodeId, XmlError};
use control::{ControlClient, ControlError};
use portal::{PortalError, SoapPortal};
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
    #[error("the demo did not complete: {done} of 4 steps done")]
    Incomplete {
        /// How many steps did.
        done: usize,
    },
}

/// Runs the demo against mock-smev at `mock` (`http://host:port`), editing the gateway's school data at `data`.
pub fn run(mock: &str, data: &Path, certs: &Path) -> Result<(), DemoError> {
    let runtime = tokio::runtime::Runtime::new().map_err(DemoError::Runtime)?;
    runtime.block_on(demo(mock.trim_end_matches('/'), data, certs))
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

async fn demo(mock: &str, data: &Path, certs: &Path) -> Result<(), DemoError> {
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
    let answer = ask(&portal, &enrollment::v110::sample_request(order_id, "2020-03-15")).await?;
    let (status, comment) = change_order_info(answer.content().unwrap_or(""));
    println!("   status {status} {}: {comment}", status_name(status));
    if status == enrollment::REGISTERED {
        done += 1;
    }

    println!("\n4. The school enrolls the child (its data file changes); the status travels to the portal");
    mark_enrolled(data, order_id)?;
    let (status, comment) = receive_status_push(mock, certs, order_id).await?;
    println!("   status {status} {}: {comment}", status_name(status));
    if status == enrollment::ENROLLED {
        done += 1;
    }

    println!("\n{done} of 4 steps done");
    if done != 4 {
        return Err(DemoError::Incomplete { done });
    }
    Ok(())
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
    let io = |source| DemoError::DataFile { path: data.to_path_buf(), source };
    let format = |why: String| DemoError::DataFormat { path: data.to_path_buf(), why };
    let text = std::fs::read_to_string(data).map_err(io)?;
    let mut value: Value = serde_json::from_str(&text).map_err(|e| format(e.to_string()))?;
    let at = time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .map_err(|e| format(e.to_string()))?;
    let applications =
        value["applications"].as_array_mut().ok_or_else(|| format("it has no applications".to_string()))?;
    applications.push(serde_json::json!({
        "order_id": order_id,
        "status": enrollment::ENROLLED,
        "changed_at": at,
        "comment": "Зачислен в 1А класс"
    }));
    let tmp = data.with_extension("json.tmp");
    let text = serde_json::to_vec_pretty(&value).map_err(|e| format(e.to_string()))?;
    std::fs::write(&tmp, text).map_err(io)?;
    std::fs::rename(&tmp, data).map_err(io)?;
    Ok(())
}

/// Acts as the portal's provider side: takes the gateway's status push for `order_id`, answers it and
/// acknowledges it.
async fn receive_status_push(mock: &str, certs: &Path, order_id: i64) -> Result<(u16, String), DemoError> {
    let portal = SoapPortal::new(&format!("{mock}/smev/1.3"), SoapPortal::dev_signer(certs)?)?;
    let kind = KindOfData::new(enrollment::NS, enrollment::STATUS_REQUEST);
    let deadline = Instant::now() + PATIENCE;
    loop {
        let mut push = None;
        let answered = portal.answer_next(&kind, |request| {
            let pushed = read_status_push(&request.request.content);
            let answer = format!(
                "<e:OrderStatusResponse xmlns:e=\"{}\"><e:orderId>{}</e:orderId><e:accepted>true</e:accepted></e:OrderStatusResponse>",
                enrollment::NS,
                pushed.as_ref().map(|p| p.order.as_str()).unwrap_or_default()
            );
            push = pushed;
            answer
        });
        if answered.await?.is_some() {
            match push {
                Some(push) if push.order == order_id.to_string() => return Ok((push.status, push.comment)),
                _ => continue,
            }
        }
        if Instant::now() > deadline {
            return Err(DemoError::NoStatusPush { order_id, waited: PATIENCE });
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

/// What a status push says.
struct StatusPush {
    /// The order, as written.
    order: String,
    /// The new status code (0 when unreadable).
    status: u16,
    /// The school's comment.
    comment: String,
}

/// Reads a status push's content; `None` when it is not well-formed.
fn read_status_push(content: &str) -> Option<StatusPush> {
    let doc = xml::parse(content, &Limits::default()).ok()?;
    let ns = enrollment::NS;
    let order = child_text(&doc, doc.root(), ns, "orderId").trim().to_string();
    let status = doc.child(doc.root(), ns, "statusCode").map(|s| child_text(&doc, s, ns, "orgCode"));
    let comment = child_text(&doc, doc.root(), ns, "comment");
    Some(StatusPush { order, status: status.unwrap_or_default().trim().parse().unwrap_or(0), comment })
}
