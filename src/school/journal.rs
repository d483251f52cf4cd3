//! The embedded school system's journal: applications submitted through the gateway and every status they take,
//! as append-only JSON lines, each fsynced before the call that wrote it returns, replayed at open.
//!
//! A record's line number (from 1) is its cursor: durable and increasing, so the status changes the gateway
//! pushes to the portal survive restarts and are never numbered twice. Records:
//!
//! - `submitted`: an application registered (status 110); not a status change, since the submission's own answer
//!   carries the status. It holds the whole application (`whole`, in the REST API's JSON shape) beside the flat
//!   fields older lines hold alone (those still read, the rest of the application empty), and the note of a
//!   registration for review with the founder's permission (`review`), if any.
//! - `refused`: an application refused (status 150) with its reason, so that a repeat gets the same answer.
//! - `seen`: the data file's status of an order, remembered without being a change: the first time the file names an
//!   order the gateway never knew, or when the file agrees with the order's current status.
//! - `status`: a status change, from an edit of the data file, from [`Journal::set_status`] or from a withdrawal
//!   ([`Journal::cancel`], 150 with the applicant's reason); these are what
//!   [`Journal::changes_since`] returns.
//!
//! A last line cut short by a crash (no newline) was never acknowledged, and is cut off at open; any other line
//! that cannot be read makes the journal damaged, and open refuses it naming the line.
#![forbid(unsafe_code)]

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::application_json::ApplicationJson;
use super::datafile::{data_error, format_timestamp, parse_date, parse_timestamp, FileStatus};
use super::enrollment::{DesiredSchool, EnrollmentApplication, EnrollmentBenefit};
use super::format::format_date;
use super::kindergarten::model::{Applicant, CancelResult, Cancelled, Child, Coded};
use super::model::{
    is_department_status, StatusChange, SubmitOutcome, STATUS_ENROLLED, STATUS_REFUSED, STATUS_REGISTERED,
};
use super::{SchoolError, Snils};
use crate::school::kindergarten::queue::{Book, Catalog, Event};

/// One line of the journal.
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
enum Record {
    /// An application registered.
    Submitted {
        /// The order.
        order_id: i64,
        /// When, RFC 3339.
        at: String,
        /// The application as submitted.
        application: ApplicationRec,
        /// Why the school must review it with the founder's permission (the child's age), as the parent was told;
        /// absent for an ordinary registration.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        review: Option<String>,
    },
    /// An application refused.
    Refused {
        /// The order.
        order_id: i64,
        /// When, RFC 3339.
        at: String,
        /// Why, as the parent was told.
        reason: String,
        /// The application as submitted.
        application: ApplicationRec,
    },
    /// The data file's status of an order, noted without being a change.
    Seen {
        /// The order.
        order_id: i64,
        /// When it was noted, RFC 3339.
        at: String,
        /// The file's entry.
        file: FileEntryRec,
    },
    /// A status change.
    Status {
        /// The order.
        order_id: i64,
        /// When the status changed, RFC 3339.
        at: String,
        /// The new status.
        status: u16,
        /// The comment for the parent.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        comment: Option<String>,
        /// The data file's entry, if the change came from an edit of the file.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        file: Option<FileEntryRec>,
    },
    /// A record of the kindergarten queue ([`Event`]): its status changes share the journal's cursors.
    Kindergarten {
        /// When, RFC 3339.
        at: String,
        /// What happened.
        event: Event,
    },
}

/// A data file entry as the journal remembers it, to tell at the next reload whether the entry changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileEntryRec {
    /// The status.
    status: u16,
    /// The comment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    comment: Option<String>,
    /// `changed_at` as written.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    changed_at: Option<String>,
}

impl FileEntryRec {
    /// The entry of `status`.
    fn of(status: &FileStatus) -> FileEntryRec {
        FileEntryRec {
            status: status.status,
            comment: status.comment.clone(),
            changed_at: status.changed_at_text.clone(),
        }
    }
}

/// An application as the journal stores it (the school system's copy: it holds personal data, as the school does).
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct ApplicationRec {
    /// The municipality.
    oktmo: String,
    /// The applicant's SNILS, `XXX-XXX-XXX YY`.
    applicant_snils: String,
    /// The applicant's surname.
    applicant_surname: String,
    /// The applicant's name.
    applicant_name: String,
    /// The child's surname.
    child_surname: String,
    /// The child's name.
    child_name: String,
    /// The child's birth date, `YYYY-MM-DD`.
    child_birth_date: String,
    /// Desired schools: `[code, priority]`.
    schools: Vec<(String, u8)>,
    /// The grade.
    grade: u8,
    /// The academic year.
    academic_year: String,
    /// The benefit category's code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    benefit_code: Option<String>,
    /// The whole application (documents, address, rights, siblings ...); absent from lines written before it was
    /// kept, which still read from the fields above.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    whole: Option<ApplicationJson>,
}

impl ApplicationRec {
    /// The record of `application`: the flat fields every version of the journal wrote, and the whole application.
    fn of(application: &EnrollmentApplication) -> ApplicationRec {
        ApplicationRec {
            oktmo: application.oktmo.clone(),
            applicant_snils: application.applicant_snils.formatted(),
            applicant_surname: application.applicant.surname.clone(),
            applicant_name: application.applicant.name.clone(),
            child_surname: application.child.surname.clone(),
            child_name: application.child.name.clone(),
            child_birth_date: format_date(application.child.birth_date),
            schools: application.schools.iter().map(|s| (s.code.clone(), s.priority)).collect(),
            grade: application.grade,
            academic_year: application.academic_year.clone(),
            benefit_code: application.benefit.as_ref().map(|b| b.category.code.clone()),
            whole: Some(ApplicationJson::of(application)),
        }
    }

    /// The application this record holds for `order_id`: the whole one when the record has it, otherwise (a line
    /// written before the whole application was kept) what the flat fields give, the rest empty.
    fn into_application(self, order_id: i64) -> Result<EnrollmentApplication, String> {
        if let Some(whole) = self.whole {
            if whole.order_id != order_id {
                return Err(format!("the application is of order {}, the record of {order_id}", whole.order_id));
            }
            return whole.into_application();
        }
        let snils = Snils::parse(&self.applicant_snils).map_err(|e| format!("applicant_snils: {e}"))?;
        Ok(EnrollmentApplication {
            order_id,
            oktmo: self.oktmo,
            service_type: None,
            filed_at: None,
            applicant: Applicant {
                surname: self.applicant_surname,
                name: self.applicant_name,
                middle_name: None,
                phone: String::new(),
                email: String::new(),
                is_parent: true,
                representative: None,
                snils: Some(snils.clone()),
            },
            applicant_snils: snils,
            identity: None,
            child: Child {
                surname: self.child_surname,
                name: self.child_name,
                middle_name: None,
                birth_date: parse_date(&self.child_birth_date)
                    .map_err(|p| format!("child_birth_date: the date {p}"))?,
                birth_doc: None,
            },
            child_snils: None,
            address: None,
            schools: self
                .schools
                .into_iter()
                .map(|(code, priority)| DesiredSchool { code, name: String::new(), priority })
                .collect(),
            grade: self.grade,
            academic_year: self.academic_year,
            language: None,
            adapted_program: None,
            siblings: Vec::new(),
            benefit: self.benefit_code.map(|code| EnrollmentBenefit {
                category: Coded { code, text: String::new() },
                doc: None,
                files: Vec::new(),
            }),
            documents: Vec::new(),
        })
    }
}

/// What the journal knows of one order.
#[derive(Debug, Default)]
struct Order {
    /// The current status.
    status: u16,
    /// The comment of the current status, if any.
    comment: Option<String>,
    /// The reason, if the order was refused at submission.
    refused: Option<String>,
    /// The application, if it was submitted through the gateway.
    application: Option<EnrollmentApplication>,
    /// The data file's entry for the order when last compared.
    file: Option<FileEntryRec>,
}

/// The journal, open for appending, with the state its records add up to.
#[derive(Debug)]
pub(crate) struct Journal {
    /// Where it is, for messages.
    path: PathBuf,
    /// The file, opened for appending.
    file: File,
    /// Its length in bytes: a failed append is cut back to it.
    len: u64,
    /// The number of records: the last cursor used.
    records: u64,
    /// Set when a failed append could not be cut back: no further write is safe.
    broken: bool,
    /// Orders by order id.
    orders: HashMap<i64, Order>,
    /// Orders registered through the gateway, in order of submission.
    submitted: Vec<i64>,
    /// Every status change, by cursor.
    changes: Vec<StatusChange>,
    /// The kindergarten queue's records, added up.
    kindergartens: Book,
}

impl Journal {
    /// Opens (creating it and its directory if need be) and replays the journal at `path`.
    pub fn open(path: &Path) -> Result<Journal, SchoolError> {
        let dir = path.parent().filter(|dir| !dir.as_os_str().is_empty()).unwrap_or(Path::new("."));
        std::fs::create_dir_all(dir).map_err(|e| data_error(dir, format!("cannot create the directory: {e}")))?;
        let created = !path.exists();
        let mut file = OpenOptions::new()
            .read(true)
            .append(true)
            .create(true)
            .open(path)
            .map_err(|e| data_error(path, format!("cannot open the journal: {e}")))?;
        if created {
            // The new file's name must be durable too, or a crash could lose the whole journal.
            File::open(dir)
                .and_then(|dir| dir.sync_all())
                .map_err(|e| data_error(dir, format!("cannot sync the directory: {e}")))?;
        }
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes).map_err(|e| data_error(path, format!("cannot read the journal: {e}")))?;
        let complete = bytes.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
        if complete < bytes.len() {
            // A torn last line: its append never returned, so nobody was told it happened.
            file.set_len(complete as u64).map_err(|e| data_error(path, format!("cannot cut a torn last line: {e}")))?;
            file.sync_all().map_err(|e| data_error(path, format!("cannot sync the journal: {e}")))?;
            tracing::warn!(journal = %path.display(), "cut a torn last line off the school journal");
        }
        let mut journal = Journal {
            path: path.to_owned(),
            file,
            len: complete as u64,
            records: 0,
            broken: false,
            orders: HashMap::new(),
            submitted: Vec::new(),
            changes: Vec::new(),
            kindergartens: Book::default(),
        };
        journal.replay(&bytes[..complete])?;
        Ok(journal)
    }

    /// Applies every record of `bytes` (complete lines).
    fn replay(&mut self, bytes: &[u8]) -> Result<(), SchoolError> {
        for (i, line) in bytes.split(|&b| b == b'\n').filter(|line| !line.is_empty()).enumerate() {
            let cursor = i as u64 + 1;
            let record: Record = serde_json::from_slice(line)
                .map_err(|e| data_error(&self.path, format!("line {cursor}: not a journal record: {e}")))?;
            self.apply(cursor, record)
                .map_err(|problem| data_error(&self.path, format!("line {cursor}: {problem}")))?;
            self.records = cursor;
        }
        Ok(())
    }

    /// Adds the effect of the record at `cursor` to the state.
    fn apply(&mut self, cursor: u64, record: Record) -> Result<(), String> {
        match record {
            Record::Submitted { order_id, application, review, .. } => {
                let application = Some(application.into_application(order_id)?);
                let order = Order { status: STATUS_REGISTERED, comment: review, application, ..Order::default() };
                self.orders.insert(order_id, order);
                self.submitted.push(order_id);
            }
            Record::Refused { order_id, reason, application, .. } => {
                let application = Some(application.into_application(order_id)?);
                let order = Order { status: STATUS_REFUSED, refused: Some(reason), application, ..Order::default() };
                self.orders.insert(order_id, order);
            }
            Record::Seen { order_id, file, .. } => {
                let order = self.orders.entry(order_id).or_default();
                order.status = file.status;
                order.comment = file.comment.clone();
                order.file = Some(file);
            }
            Record::Status { order_id, at, status, comment, file } => {
                let at = parse_timestamp(&at)?;
                let order = self.orders.entry(order_id).or_default();
                order.status = status;
                order.comment = comment.clone();
                if file.is_some() {
                    order.file = file;
                }
                self.changes.push(StatusChange { cursor, order_id, status, at, comment });
            }
            Record::Kindergarten { at, event } => {
                let at = parse_timestamp(&at)?;
                self.kindergartens.apply(cursor, at, event)?;
            }
        }
        Ok(())
    }

    /// Appends `record`, fsyncs it, and applies it; returns its cursor.
    fn append(&mut self, record: Record) -> Result<u64, SchoolError> {
        if self.broken {
            return Err(SchoolError::Unavailable(format!("{}: the journal failed earlier", self.path.display())));
        }
        let mut line = serde_json::to_vec(&record).expect("journal records serialize");
        line.push(b'\n');
        if let Err(e) = self.file.write_all(&line).and_then(|()| self.file.sync_data()) {
            self.cut_back();
            return Err(SchoolError::Unavailable(format!("{}: cannot write the journal: {e}", self.path.display())));
        }
        self.len += line.len() as u64;
        let cursor = self.records + 1;
        self.apply(cursor, record).map_err(|problem| data_error(&self.path, problem))?;
        self.records = cursor;
        Ok(cursor)
    }

    /// Removes what a failed append may have left, or stops all writes if that fails too.
    fn cut_back(&mut self) {
        if self.file.set_len(self.len).and_then(|()| self.file.sync_all()).is_err() {
            self.broken = true;
        }
    }

    /// The answer for an order already known, if it is.
    pub fn known_outcome(&self, order_id: i64) -> Option<SubmitOutcome> {
        let order = self.orders.get(&order_id)?;
        Some(match &order.refused {
            Some(reason) => SubmitOutcome::Refused { status: STATUS_REFUSED, reason: reason.clone() },
            None => SubmitOutcome::AlreadySubmitted { status: order.status },
        })
    }

    /// Records `application` as registered; `review` says why the school must review it with the founder's
    /// permission, if it must.
    pub fn register(
        &mut self,
        application: &EnrollmentApplication,
        review: Option<&str>,
        now: time::OffsetDateTime,
    ) -> Result<(), SchoolError> {
        let application_rec = ApplicationRec::of(application);
        let record = Record::Submitted {
            order_id: application.order_id,
            at: format_timestamp(now),
            application: application_rec,
            review: review.map(str::to_owned),
        };
        self.append(record).map(|_| ())
    }

    /// Records `application` as refused for `reason`.
    pub fn refuse(
        &mut self,
        application: &EnrollmentApplication,
        reason: &str,
        now: time::OffsetDateTime,
    ) -> Result<(), SchoolError> {
        let record = Record::Refused {
            order_id: application.order_id,
            at: format_timestamp(now),
            reason: reason.to_owned(),
            application: ApplicationRec::of(application),
        };
        self.append(record).map(|_| ())
    }

    /// Records a status change of a known order.
    pub fn set_status(
        &mut self,
        order_id: i64,
        status: u16,
        comment: Option<&str>,
        now: time::OffsetDateTime,
    ) -> Result<StatusChange, SchoolError> {
        if !self.orders.contains_key(&order_id) {
            return Err(SchoolError::Rejected(format!("order {order_id} is not known to the school system")));
        }
        if !is_department_status(status) {
            return Err(SchoolError::Rejected(format!(
                "{status} is not a department status (110, 120, ... 190, 210, ... 250)"
            )));
        }
        let comment = comment.map(str::to_owned);
        let record = Record::Status { order_id, at: format_timestamp(now), status, comment, file: None };
        self.append(record)?;
        Ok(self.changes.last().expect("a status record was just applied").clone())
    }

    /// Withdraws an order at the applicant's request: a status change to 150 with `reason` in the comment, unless
    /// the order is unknown, already ended (150: answered as withdrawn again, nothing recorded) or enrolled (250).
    pub fn cancel(
        &mut self,
        order_id: i64,
        reason: Option<&str>,
        now: time::OffsetDateTime,
    ) -> Result<Cancelled, SchoolError> {
        let answer = |result, comment: &str| Cancelled { result, comment: Some(comment.to_owned()) };
        let Some(order) = self.orders.get(&order_id) else {
            return Ok(answer(CancelResult::Rejected, "Заявление не найдено"));
        };
        match order.status {
            STATUS_ENROLLED => Ok(answer(
                CancelResult::Rejected,
                "Ребёнок уже зачислен: заявление нельзя отозвать, обратитесь в школу",
            )),
            STATUS_REFUSED => Ok(answer(CancelResult::Cancelled, "Работа по заявлению прекращена")),
            _ => {
                let comment = match reason.map(str::trim).filter(|r| !r.is_empty()) {
                    Some(reason) => format!("Заявление отозвано по просьбе заявителя: {reason}"),
                    None => "Заявление отозвано по просьбе заявителя".to_owned(),
                };
                self.set_status(order_id, STATUS_REFUSED, Some(&comment), now)?;
                Ok(answer(CancelResult::Cancelled, "Ваше заявление отменено"))
            }
        }
    }

    /// Compares the data file's application statuses with what the journal knows and records what changed;
    /// returns the status changes recorded.
    pub fn reconcile(
        &mut self,
        statuses: &[FileStatus],
        now: time::OffsetDateTime,
    ) -> Result<Vec<StatusChange>, SchoolError> {
        let mut changes = Vec::new();
        for status in statuses {
            if let Some(record) = self.reconciliation(status, now) {
                let is_change = matches!(record, Record::Status { .. });
                self.append(record)?;
                if is_change {
                    changes.push(self.changes.last().expect("a status record was just applied").clone());
                }
            }
        }
        Ok(changes)
    }

    /// The record a file entry calls for, if any: nothing when the entry is as last compared; `seen` for an order
    /// never known, or one whose status and comment the entry merely confirms; `status` otherwise.
    fn reconciliation(&self, status: &FileStatus, now: time::OffsetDateTime) -> Option<Record> {
        let entry = FileEntryRec::of(status);
        let order_id = status.order_id;
        let seen = || Record::Seen { order_id, at: format_timestamp(now), file: entry.clone() };
        let Some(order) = self.orders.get(&order_id) else { return Some(seen()) };
        if order.file.as_ref() == Some(&entry) {
            return None;
        }
        if order.file.is_none() && order.status == status.status && order.comment == status.comment {
            return Some(seen());
        }
        let at = format_timestamp(status.changed_at.unwrap_or(now));
        Some(Record::Status { order_id, at, status: status.status, comment: status.comment.clone(), file: Some(entry) })
    }

    /// Up to `limit` status changes with a cursor above `since`, oldest first.
    pub fn changes_since(&self, since: u64, limit: usize) -> Vec<StatusChange> {
        let start = self.changes.partition_point(|change| change.cursor <= since);
        self.changes[start..].iter().take(limit).cloned().collect()
    }

    /// The current status of an order.
    pub fn status_of(&self, order_id: i64) -> Option<u16> {
        self.orders.get(&order_id).map(|order| order.status)
    }

    /// An application submitted through the gateway.
    pub fn application(&self, order_id: i64) -> Option<EnrollmentApplication> {
        self.orders.get(&order_id).and_then(|order| order.application.clone())
    }

    /// Orders registered through the gateway, in order of submission.
    pub fn submitted(&self) -> &[i64] {
        &self.submitted
    }

    /// The kindergarten queue's state.
    pub fn kindergartens(&self) -> &Book {
        &self.kindergartens
    }

    /// Appends a kindergarten record, fsynced, and applies it; returns its cursor.
    pub fn append_kindergarten(&mut self, event: Event, now: time::OffsetDateTime) -> Result<u64, SchoolError> {
        self.append(Record::Kindergarten { at: format_timestamp(now), event })
    }

    /// Compares the data file's kindergarten statuses with what the journal knows: entries never seen are
    /// remembered in one record, and every status the school changed is recorded as a change. Returns how many
    /// changes were recorded.
    pub fn reconcile_kindergartens(
        &mut self,
        catalog: &Catalog,
        now: time::OffsetDateTime,
    ) -> Result<usize, SchoolError> {
        let (seen, changes) = self.kindergartens.reconciliation(catalog);
        if !seen.is_empty() {
            self.append_kindergarten(Event::Seen { entries: seen }, now)?;
        }
        let count = changes.len();
        for event in changes {
            let at = match &event {
                Event::Status { file: Some(file), .. } => {
                    file.changed_at.as_deref().and_then(|t| parse_timestamp(t).ok())
                }
                _ => None,
            };
            self.append_kindergarten(event, at.unwrap_or(now))?;
        }
        Ok(count)
    }
}
