//! The audit log: who retried, purged, paused, resumed or unmasked what, and when.
//!
//! It is an append-only file of JSON lines, `audit.jsonl` in the gateway's state directory, and every append is
//! fsynced before the action it records is carried out: an action that cannot be recorded is refused. A file
//! rather than a tree of the sled store because operators' actions are rare (an fsync each costs nothing), because
//! the log must outlive a damaged or replaced store and be readable with `tail` and `grep` or shipped to a log
//! collector, and because it works the same beside the in-memory stores of tests and against a stopped store.
//!
//! A crash in the middle of an append can leave a torn last line; reading skips it (with a warning) instead of
//! failing, and the next append starts on a new line.
#![forbid(unsafe_code)]

use serde::{Deserialize, Serialize};
use std::fs::OpenOptions;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// The file's name in the state directory.
pub const FILE_NAME: &str = "audit.jsonl";

/// One recorded action.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEntry {
    /// When, as RFC 3339 in UTC.
    pub at: String,
    /// Who: the token's name, or `cli:<user>` for the command line on a stopped store.
    pub actor: String,
    /// The actor's role (`viewer`, `operator`, `admin`, or `local` for the command line on a store).
    pub role: String,
    /// What: `retry`, `purge`, `pause`, `resume`, `view-pii`.
    pub action: String,
    /// On what: `item 17`, `kind FormData`, `trace <id>`.
    pub target: String,
    /// More about the target, for the reader: the item's queue and key. Never personal data.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

/// Why the audit log could not be written or read.
#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    /// The file could not be opened, written, synced or read.
    #[error("audit log {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
}

/// The audit log of one state directory; cheap to clone, appends are serialized.
#[derive(Debug, Clone)]
pub struct AuditLog {
    /// The file.
    path: PathBuf,
    /// Orders appends within this process, so lines never interleave.
    writer: Arc<Mutex<()>>,
}

impl AuditLog {
    /// The audit log in the state directory `store`; nothing is opened until the first append or read.
    pub fn in_store(store: &Path) -> AuditLog {
        AuditLog::at(store.join(FILE_NAME))
    }

    /// The audit log in the file `path`.
    pub fn at(path: PathBuf) -> AuditLog {
        AuditLog { path, writer: Arc::default() }
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn io(&self) -> impl FnOnce(std::io::Error) -> AuditError + '_ {
        move |source| AuditError::Io { path: self.path.clone(), source }
    }

    /// Appends `entry` and returns once it is on disk (the file's data synced, and the directory too when the file
    /// was created).
    pub fn append(&self, entry: &AuditEntry) -> Result<(), AuditError> {
        let _writer = self.writer.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let mut line = serde_json::to_vec(entry).expect("audit entries are plain data");
        line.push(b'\n');
        if let Some(dir) = self.path.parent().filter(|dir| !dir.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(self.io())?;
        }
        let created = !self.path.exists();
        let mut file = OpenOptions::new().create(true).append(true).open(&self.path).map_err(self.io())?;
        // A torn last line (a crash mid-append) must not swallow this entry: start on a line of our own.
        if !created && !ends_with_newline(&self.path).map_err(self.io())? {
            file.write_all(b"\n").map_err(self.io())?;
        }
        file.write_all(&line).map_err(self.io())?;
        file.sync_data().map_err(self.io())?;
        if created {
            if let Some(dir) = self.path.parent().filter(|dir| !dir.as_os_str().is_empty()) {
                std::fs::File::open(dir).and_then(|dir| dir.sync_all()).map_err(self.io())?;
            }
        }
        Ok(())
    }

    /// The last `limit` entries, newest first; empty when nothing was recorded yet.
    pub fn recent(&self, limit: usize) -> Result<Vec<AuditEntry>, AuditError> {
        let mut entries = self.read_all()?;
        entries.reverse();
        entries.truncate(limit);
        Ok(entries)
    }

    /// Every entry, oldest first. Unreadable lines (a torn last line) are skipped.
    pub fn read_all(&self) -> Result<Vec<AuditEntry>, AuditError> {
        let file = match std::fs::File::open(&self.path) {
            Ok(file) => file,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(error) => return Err(self.io()(error)),
        };
        let mut entries = Vec::new();
        for (number, line) in BufReader::new(file).lines().enumerate() {
            let line = line.map_err(self.io())?;
            if line.trim().is_empty() {
                continue;
            }
            match serde_json::from_str(&line) {
                Ok(entry) => entries.push(entry),
                Err(error) => {
                    tracing::warn!(path = %self.path.display(), line = number + 1, %error, "skipping an unreadable audit line")
                }
            }
        }
        Ok(entries)
    }
}

/// Whether the file at `path` is empty or ends with a line feed.
fn ends_with_newline(path: &Path) -> std::io::Result<bool> {
    use std::io::{Read, Seek, SeekFrom};
    let mut file = std::fs::File::open(path)?;
    let len = file.metadata()?.len();
    if len == 0 {
        return Ok(true);
    }
    file.seek(SeekFrom::Start(len - 1))?;
    let mut last = [0u8; 1];
    file.read_exact(&mut last)?;
    Ok(last[0] == b'\n')
}

/// Now, as the audit log and the operators' API write times.
pub fn now_rfc3339() -> String {
    rfc3339(std::time::SystemTime::now())
}

pub use crate::metrics::health::rfc3339;

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(action: &str) -> AuditEntry {
        AuditEntry {
            at: now_rfc3339(),
            actor: "duty".into(),
            role: "operator".into(),
            action: action.into(),
            target: "item 1".into(),
            detail: None,
        }
    }

    #[test]
    fn entries_survive_reopening_and_a_torn_line() {
        let dir = tempfile::tempdir().unwrap();
        let log = AuditLog::in_store(&dir.path().join("state"));
        assert!(log.recent(10).unwrap().is_empty());
        log.append(&entry("retry")).unwrap();
        std::fs::OpenOptions::new().append(true).open(log.path()).unwrap().write_all(b"{\"at\":\"torn").unwrap();
        let reopened = AuditLog::in_store(&dir.path().join("state"));
        reopened.append(&entry("purge")).unwrap();
        let actions: Vec<String> = reopened.recent(10).unwrap().into_iter().map(|e| e.action).collect();
        assert_eq!(actions, vec!["purge", "retry"]);
    }

    #[test]
    fn times_are_rfc3339_in_utc() {
        let at = std::time::UNIX_EPOCH + std::time::Duration::from_millis(1_700_000_000_123);
        assert_eq!(rfc3339(at), "2023-11-14T22:13:20.123Z");
    }
}
