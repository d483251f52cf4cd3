//! What `edugate queue` and `edugate trace` act on: a running gateway's API (with a token) or a stopped gateway's
//! state directory (opened directly; sled's lock refuses it while the gateway runs). Both answer in the shapes of
//! [`super::view`].
#![forbid(unsafe_code)]

use super::audit::{AuditEntry, AuditLog};
use super::desk::{Actor, Desk, ItemQuery};
use super::view::{ActionView, ErrorBody, ItemDetail, ItemView, TraceView};
use super::OpsError;
use crate::inbox::SledInbox;
use crate::outbox::{OpenError, OutboxConfig, SledOutbox, StateDb, SystemClock};
use serde::de::DeserializeOwned;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

/// A running gateway's operators' API.
pub struct Remote {
    /// The gateway's base URL (`http://host:port`).
    base: String,
    /// The bearer token.
    token: String,
    /// The HTTP client.
    http: reqwest::Client,
}

/// Where the commands act.
pub enum Target {
    /// A running gateway, through its API; the audit log names the token.
    Remote(Remote),
    /// A stopped gateway's state directory; the audit log names the local user.
    Store {
        /// The desk over the opened stores.
        desk: Desk,
        /// Who acts.
        actor: Actor,
    },
}

impl Target {
    /// A running gateway at `url` (`http://host:port`, with or without a path), called with `token`.
    pub fn remote(url: &str, token: &str) -> Result<Target, OpsError> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(60))
            .build()
            .map_err(|e| OpsError::Connect(e.to_string()))?;
        let base = url.trim_end_matches('/').trim_end_matches("/ops/api").trim_end_matches("/ops").to_owned();
        Ok(Target::Remote(Remote { base, token: token.to_owned(), http }))
    }

    /// The stopped gateway's state directory `dir`, acting as `actor`. A directory that is not there is an error,
    /// never a new empty store; a gateway still running holds the directory's lock, which is reported as such.
    pub fn store(dir: &Path, actor: Actor) -> Result<Target, OpsError> {
        if !dir.is_dir() {
            return Err(OpsError::NotFound(format!("{} is not a state directory", dir.display())));
        }
        let opened = StateDb::open_with_lock_wait(dir, Duration::from_millis(500)).and_then(|state| {
            let outbox = SledOutbox::open(&state, OutboxConfig::default())?;
            let inbox = SledInbox::open(&state)?;
            Ok((outbox, inbox))
        });
        let (outbox, inbox) = opened.map_err(|error| match error {
            OpenError::Locked { path } => OpsError::Conflict(format!(
                "{} is in use: the gateway is running; use --url and --token to go through its API",
                path.display()
            )),
            other => OpsError::Connect(other.to_string()),
        })?;
        let desk = Desk {
            outbox: Arc::new(outbox),
            inbox: Arc::new(inbox),
            audit: AuditLog::in_store(dir),
            clock: Arc::new(SystemClock),
        };
        Ok(Target::Store { desk, actor })
    }

    /// Items matching `query`.
    pub async fn list(&self, query: &ItemQuery, reveal: bool) -> Result<Vec<ItemView>, OpsError> {
        match self {
            Target::Store { desk, actor } => {
                if reveal {
                    desk.record(actor, "view-pii", &query.audit_target(), None)?;
                }
                desk.list(query, reveal).await
            }
            Target::Remote(remote) => {
                let mut params = vec![("limit", query.limit.to_string())];
                params.extend(query.queue.clone().map(|q| ("queue", q)));
                params.extend(query.state.map(|s| ("state", s.as_str().to_owned())));
                params.extend(query.key.clone().map(|k| ("key", k)));
                params.extend(query.after.map(|a| ("after", a.to_string())));
                if reveal {
                    params.push(("pii", "true".into()));
                }
                let answer: serde_json::Value = remote.call(reqwest::Method::GET, "/items", &params, None).await?;
                serde_json::from_value(answer["items"].clone()).map_err(|e| OpsError::Connect(e.to_string()))
            }
        }
    }

    /// One item with its payload.
    pub async fn show(&self, id: u64, reveal: bool) -> Result<ItemDetail, OpsError> {
        match self {
            Target::Store { desk, actor } => {
                if reveal {
                    desk.record(actor, "view-pii", &format!("item {id}"), None)?;
                }
                desk.show(id, reveal).await
            }
            Target::Remote(remote) => {
                let params = pii(reveal);
                remote.call(reqwest::Method::GET, &format!("/items/{id}"), &params, None).await
            }
        }
    }

    /// Retries a dead letter.
    pub async fn retry(&self, id: u64) -> Result<ActionView, OpsError> {
        match self {
            Target::Store { desk, actor } => desk.retry(id, actor).await,
            Target::Remote(remote) => {
                remote.call(reqwest::Method::POST, &format!("/items/{id}/retry"), &[], None).await
            }
        }
    }

    /// Purges a dead letter (the caller has confirmed).
    pub async fn purge(&self, id: u64) -> Result<ActionView, OpsError> {
        match self {
            Target::Store { desk, actor } => desk.purge(id, actor).await,
            Target::Remote(remote) => {
                let body = serde_json::json!({ "confirm": id });
                remote.call(reqwest::Method::POST, &format!("/items/{id}/purge"), &[], Some(body)).await
            }
        }
    }

    /// Traces a message or an application.
    pub async fn trace(&self, id: &str, reveal: bool) -> Result<TraceView, OpsError> {
        match self {
            Target::Store { desk, actor } => {
                if reveal {
                    desk.record(actor, "view-pii", &format!("trace {id}"), None)?;
                }
                desk.trace(id, reveal).await
            }
            Target::Remote(remote) => {
                let path = format!("/trace/{}", url_segment(id));
                remote.call(reqwest::Method::GET, &path, &pii(reveal), None).await
            }
        }
    }

    /// The last `limit` audit entries, newest first.
    pub async fn audit(&self, limit: usize) -> Result<Vec<AuditEntry>, OpsError> {
        match self {
            Target::Store { desk, .. } => desk.audit_entries(limit),
            Target::Remote(remote) => {
                let params = [("limit", limit.to_string())];
                let answer: serde_json::Value = remote.call(reqwest::Method::GET, "/audit", &params, None).await?;
                serde_json::from_value(answer["entries"].clone()).map_err(|e| OpsError::Connect(e.to_string()))
            }
        }
    }

    /// Every dead letter (of `queue`, if given), in id order, a page at a time.
    pub async fn all_dead(&self, queue: Option<&str>) -> Result<Vec<ItemView>, OpsError> {
        let mut all = Vec::new();
        loop {
            let query = ItemQuery {
                queue: queue.map(str::to_owned),
                state: Some(crate::outbox::StateFilter::Dead),
                key: None,
                after: all.last().map(|item: &ItemView| item.id),
                limit: super::desk::MAX_LIST,
            };
            let page = self.list(&query, false).await?;
            let full = page.len() == super::desk::MAX_LIST;
            all.extend(page);
            if !full {
                return Ok(all);
            }
        }
    }
}

/// The `pii` parameter, when personal data is asked for.
fn pii(reveal: bool) -> Vec<(&'static str, String)> {
    if reveal {
        vec![("pii", "true".to_owned())]
    } else {
        Vec::new()
    }
}

/// `text` as one path segment: the ids a trace takes are letters, digits, `-`, `_`, `.` and `:`; anything else is
/// percent-encoded.
fn url_segment(text: &str) -> String {
    text.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':') {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

impl Remote {
    /// Calls the API and reads the answer, or the error body as [`OpsError::Remote`].
    async fn call<T: DeserializeOwned>(
        &self,
        method: reqwest::Method,
        path: &str,
        params: &[(&str, String)],
        body: Option<serde_json::Value>,
    ) -> Result<T, OpsError> {
        let url = reqwest::Url::parse_with_params(&format!("{}/ops/api{path}", self.base), params)
            .map_err(|e| OpsError::Connect(format!("{}: {e}", self.base)))?;
        let mut request = self.http.request(method, url).bearer_auth(&self.token);
        if let Some(body) = body {
            request = request.header("Content-Type", "application/json").body(body.to_string());
        }
        let response = request.send().await.map_err(|e| OpsError::Connect(e.to_string()))?;
        let status = response.status().as_u16();
        let text = response.text().await.map_err(|e| OpsError::Connect(e.to_string()))?;
        if !(200..300).contains(&status) {
            let error: Option<ErrorBody> = serde_json::from_str(&text).ok();
            let (code, message) = match error {
                Some(body) => (body.error, body.message),
                None => (String::new(), text.chars().take(200).collect()),
            };
            return Err(OpsError::Remote { status, code, message });
        }
        serde_json::from_str(&text).map_err(|e| OpsError::Connect(format!("unreadable answer: {e}")))
    }
}
