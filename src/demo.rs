//! `edugate demo`: plays the portal against a running mock-smev and gateway and shows, readably, the four things
//! the services do: a progress lookup for a linked parent, one for an unlinked SNILS, an enrollment application,
//! and a status change in the school's data reaching the portal. Exits non-zero unless all four happened.
use anyhow::{bail, Context, Result};
use edugate::crypto::{Certificate, KeySource, PrivateKey};
use edugate::dsig::Signer;
use edugate::services::{enrollment, progress};
use edugate::smev::client::{ClientConfig, SmevClient};
use edugate::smev::{KindOfData, MessageId, ResponseBody, SendResponse};
use edugate::xml::{self, Document, Limits, NodeId};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

const PARENT: &str = "112-233-445 95";
const UNLINKED: &str = "123-456-789 64";

/// Runs the demo against mock-smev at `mock` (`http://host:port`), editing the gateway's school data at `data`.
pub fn run(mock: &str, data: &Path, certs: &Path) -> Result<()> {
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(demo(mock.trim_end_matches('/'), data, certs))
}

fn lookup(snils: &str) -> String {
    format!(
        "<p:ProgressRequest xmlns:p=\"{}\"><p:ApplicantSnils>{snils}</p:ApplicantSnils>\
         <p:PeriodFrom>2026-09-01</p:PeriodFrom><p:PeriodTo>2026-10-24</p:PeriodTo></p:ProgressRequest>",
        progress::NS
    )
}

struct Portal {
    base: String,
    http: reqwest::Client,
}

impl Portal {
    async fn send(&self, content: &str) -> Result<String> {
        let body = serde_json::json!({ "content": content }).to_string();
        let reply = self
            .http
            .post(format!("{}/control/portal/send", self.base))
            .header("Content-Type", "application/json")
            .body(body)
            .send()
            .await
            .context("mock-smev's control API")?;
        let status = reply.status();
        let text = reply.text().await?;
        if !status.is_success() {
            bail!("the portal's request was refused: {text}");
        }
        let v: Value = serde_json::from_str(&text)?;
        Ok(v["message_id"].as_str().unwrap_or_default().to_string())
    }

    async fn response(&self, id: &str) -> Result<Value> {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let reply = self.http.get(format!("{}/control/portal/responses/{id}", self.base)).send().await?;
            if reply.status().is_success() {
                return Ok(serde_json::from_str(&reply.text().await?)?);
            }
            if Instant::now() > deadline {
                bail!("no response to {id} within 30 s (is the gateway running?)");
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

async fn demo(mock: &str, data: &Path, certs: &Path) -> Result<()> {
    let portal = Portal { base: mock.to_string(), http: reqwest::Client::new() };
    let mut done = 0;

    println!("\n1. A parent ({PARENT}) asks for the current grades of their children");
    let answer = portal.response(&portal.send(&lookup(PARENT)).await?).await?;
    match answer["content"].as_str() {
        Some(content) => {
            print_progress(content)?;
            done += 1;
        }
        None => println!("   unexpected answer: {answer}"),
    }

    println!("\n2. Someone asks with a SNILS linked to no child with consent ({UNLINKED})");
    let answer = portal.response(&portal.send(&lookup(UNLINKED)).await?).await?;
    let reason = &answer["reasons"][0];
    println!("   {}: {}", reason["code"].as_str().unwrap_or("?"), reason["description"].as_str().unwrap_or(""));
    if reason["code"] == "NO_DATA" {
        done += 1;
    }

    let order_id = 4_200_000_000 + (time::OffsetDateTime::now_utc().unix_timestamp() % 100_000_000);
    println!("\n3. The parent applies to enroll a child in grade 1 (order {order_id})");
    let answer = portal.response(&portal.send(&enrollment::sample_form(order_id)).await?).await?;
    let (status, comment) = change_order_info(answer["content"].as_str().unwrap_or(""));
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
        bail!("the demo did not complete");
    }
    Ok(())
}

fn status_name(code: u16) -> &'static str {
    match code {
        110 => "registered",
        120 => "review started",
        150 => "refused",
        190 => "place offered",
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
fn print_progress(content: &str) -> Result<()> {
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
    let ns = enrollment::NS;
    let Some(info) = doc.child(doc.root(), ns, "changeOrderInfo") else { return (0, content.to_string()) };
    let status = doc.child(info, ns, "statusCode").map(|s| child_text(&doc, s, ns, "orgCode")).unwrap_or_default();
    (status.trim().parse().unwrap_or(0), child_text(&doc, info, ns, "comment"))
}

/// Records the enrollment in the school's data file, as the school's own software would: the gateway notices the
/// file changed and reads the new status.
fn mark_enrolled(data: &Path, order_id: i64) -> Result<()> {
    let text = std::fs::read_to_string(data).with_context(|| format!("reading {}", data.display()))?;
    let mut value: Value = serde_json::from_str(&text)?;
    let at = time::OffsetDateTime::now_utc().format(&time::format_description::well_known::Rfc3339)?;
    let applications = value["applications"].as_array_mut().context("the data file has no applications")?;
    applications.push(serde_json::json!({
        "order_id": order_id,
        "status": enrollment::ENROLLED,
        "changed_at": at,
        "comment": "Зачислен в 1А класс"
    }));
    let tmp = data.with_extension("json.tmp");
    std::fs::write(&tmp, serde_json::to_vec_pretty(&value)?)?;
    std::fs::rename(&tmp, data)?;
    Ok(())
}

/// Acts as the portal's provider side: takes the gateway's status push for `order_id`, answers it and
/// acknowledges it.
async fn receive_status_push(mock: &str, certs: &Path, order_id: i64) -> Result<(u16, String)> {
    let key = PrivateKey::load(&KeySource::PemFile(certs.join("portal.key")))?;
    let signer = Signer::new(key, Certificate::load(&certs.join("portal.crt"))?)?;
    let client = SmevClient::new(ClientConfig::new(format!("{mock}/smev/1.3")), std::sync::Arc::new(signer))?;
    let kind = KindOfData::new(enrollment::NS, enrollment::STATUS_REQUEST);
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(received) = client.get_request(Some(&kind)).await? {
            let request = &received.message;
            let doc = xml::parse(&request.request.content, &Limits::default())?;
            let ns = enrollment::NS;
            let order = child_text(&doc, doc.root(), ns, "orderId");
            let status = doc.child(doc.root(), ns, "statusCode").map(|s| child_text(&doc, s, ns, "orgCode"));
            let comment = child_text(&doc, doc.root(), ns, "comment");
            let answer = format!(
                "<e:OrderStatusResponse xmlns:e=\"{ns}\"><e:orderId>{order}</e:orderId><e:accepted>true</e:accepted></e:OrderStatusResponse>"
            );
            let response = SendResponse {
                message_id: MessageId::new_v1(),
                to: request.reply_to.clone().unwrap_or_default(),
                body: ResponseBody::Content { content: answer, personal_signature: None, attachment_headers: vec![] },
                attachments: vec![],
            };
            client.send_response(&response).await?;
            client.ack(request.metadata.message_id.as_deref().unwrap_or_default(), true).await?;
            if order.trim() == order_id.to_string() {
                return Ok((status.unwrap_or_default().trim().parse().unwrap_or(0), comment));
            }
            continue;
        }
        if Instant::now() > deadline {
            bail!("no status push for order {order_id} within 30 s");
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

/// The repository's dev certificates.
pub fn certs_dev() -> PathBuf {
    edugate::config::certs_dev()
}
