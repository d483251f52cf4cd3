//! The embedded school system: the default [`SchoolSystem`], reading a region's data from a JSON file (format in
//! [`datafile`](super::datafile), described for people in `data/README.md`) and keeping applications in a journal
//! beside it.
//!
//! # Reads
//!
//! The file is read once into an indexed, immutable snapshot (guardian SNILS → links, pupil → subjects → marks
//! sorted by date) behind an `Arc`: a progress lookup clones the `Arc` under a read lock for a moment and then
//! works on its own, in microseconds. [`EmbeddedSchool::reload`] builds a new snapshot and swaps it in whole; a file
//! that cannot be read leaves the old one in place.
//!
//! # Writes
//!
//! Applications submitted through the gateway, and every status they take afterwards, go to the journal
//! ([`journal`](super::journal)), fsynced before the call returns: they survive restarts, and its line numbers are
//! the durable cursors of [`SchoolSystem::status_changes`]. The school "changes a status" by editing the
//! `applications` section of the data file (each reload compares it with what the journal knows and records the
//! differences as changes) or, in the demo and tests, through [`EmbeddedSchool::set_status`].
//!
//! # The kindergarten queue
//!
//! The same system runs the region's kindergarten queue (`embedded_kg.rs`): the data file's kindergarten sections
//! are part of the snapshot, and the queue's records share the journal (and its cursors) with enrollment's.
#![forbid(unsafe_code)]

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, RwLock};
use std::time::SystemTime;

use super::datafile::{self, Snapshot};
use super::journal::Journal;
use super::model::{
    EnrollmentApplication, Marks, Pupil, PupilId, StatusChange, SubmitOutcome, STATUS_REFUSED, STATUS_REGISTERED,
};
use super::{BoxFuture, SchoolError, SchoolSystem, Snils};

/// The embedded school system. Cloning it is cheap and shares the same data and journal.
#[derive(Clone)]
pub struct EmbeddedSchool {
    /// The shared state, in an `Arc` so that blocking work (fsync, reload) can move to a blocking thread.
    inner: Arc<Inner>,
}

/// What the clones share.
struct Inner {
    /// The data file, re-read on reload.
    data_path: PathBuf,
    /// The current snapshot of the data file.
    snapshot: RwLock<Arc<Snapshot>>,
    /// The journal of applications and status changes.
    journal: Mutex<Journal>,
    /// The data file's stamp at the last reload attempted; the lock also keeps reloads one at a time, so an older
    /// file read can never be swapped in after a newer one.
    reload: Mutex<Option<FileStamp>>,
}

/// What tells that the data file was rewritten.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct FileStamp {
    /// Last modification time.
    modified: SystemTime,
    /// Length in bytes (a rewrite within the clock's resolution usually changes it).
    len: u64,
}

/// What a reload found, for the log line and for the caller's metrics.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReloadSummary {
    /// Pupils in the new snapshot.
    pub pupils: usize,
    /// Guardians in the new snapshot.
    pub guardians: usize,
    /// Status changes the new `applications` section produced, oldest first.
    pub status_changes: Vec<StatusChange>,
}

impl std::fmt::Debug for EmbeddedSchool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmbeddedSchool").field("data_path", &self.inner.data_path).finish_non_exhaustive()
    }
}

impl EmbeddedSchool {
    /// Replays the journal at `journal_path` (created if missing), loads the data file at `data_path`, and records
    /// the status changes the file holds that the journal does not know yet. Fails with [`SchoolError::Data`]
    /// naming the file and the problem.
    pub fn open(data_path: &Path, journal_path: &Path) -> Result<EmbeddedSchool, SchoolError> {
        let mut journal = Journal::open(journal_path)?;
        let stamp = file_stamp(data_path);
        let snapshot = datafile::load(data_path)?;
        let changes = journal.reconcile(&snapshot.applications, now())?;
        let kindergarten_changes = journal.reconcile_kindergartens(&snapshot.kindergartens, now())?;
        tracing::info!(
            kindergartens = snapshot.kindergartens.kindergartens.len(),
            queue = snapshot.kindergartens.entries.len(),
            status_changes = kindergarten_changes,
            "kindergarten data loaded"
        );
        tracing::info!(
            data = %data_path.display(),
            pupils = snapshot.pupil_count(),
            guardians = snapshot.guardian_count(),
            status_changes = changes.len(),
            "school data loaded"
        );
        let inner = Inner {
            data_path: data_path.to_owned(),
            snapshot: RwLock::new(Arc::new(snapshot)),
            journal: Mutex::new(journal),
            reload: Mutex::new(stamp),
        };
        Ok(EmbeddedSchool { inner: Arc::new(inner) })
    }

    /// Re-reads the data file and swaps the new snapshot in, recording status changes from its `applications`
    /// section. A file that cannot be read keeps the old snapshot and returns the error. Blocking (file I/O,
    /// parsing, fsync): call it from a blocking thread in async code.
    pub fn reload(&self) -> Result<ReloadSummary, SchoolError> {
        let mut last = lock(&self.inner.reload);
        *last = file_stamp(&self.inner.data_path);
        self.reload_now()
    }

    /// Reloads if the data file's modification time or length differs from the last reload attempted (successful
    /// or not: a bad file is not re-read every time until it is rewritten); `None` when nothing changed.
    pub fn reload_if_changed(&self) -> Result<Option<ReloadSummary>, SchoolError> {
        let mut last = lock(&self.inner.reload);
        let stamp = file_stamp(&self.inner.data_path);
        if stamp == *last {
            return Ok(None);
        }
        *last = stamp;
        self.reload_now().map(Some)
    }

    /// Loads the file and swaps it in; the caller holds the reload lock.
    fn reload_now(&self) -> Result<ReloadSummary, SchoolError> {
        let snapshot = datafile::load(&self.inner.data_path).inspect_err(|e| {
            tracing::warn!(error = %e, "school data not reloaded; the previous data stay in use");
        })?;
        let mut journal = lock(&self.inner.journal);
        let status_changes = journal.reconcile(&snapshot.applications, now())?;
        let kindergarten_changes = journal.reconcile_kindergartens(&snapshot.kindergartens, now())?;
        if kindergarten_changes > 0 {
            tracing::info!(status_changes = kindergarten_changes, "kindergarten statuses changed in the data file");
        }
        let summary =
            ReloadSummary { pupils: snapshot.pupil_count(), guardians: snapshot.guardian_count(), status_changes };
        *self.inner.snapshot.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(snapshot);
        drop(journal);
        tracing::info!(
            pupils = summary.pupils,
            guardians = summary.guardians,
            status_changes = summary.status_changes.len(),
            "school data reloaded"
        );
        Ok(summary)
    }

    /// Sets an order's status as the school would, recording the change in the journal (for the demo and tests).
    /// An unknown order or a code that is not a department status is [`SchoolError::Rejected`]. Blocking (fsync).
    pub fn set_status(&self, order_id: i64, status: u16, comment: Option<&str>) -> Result<StatusChange, SchoolError> {
        let change = lock(&self.inner.journal).set_status(order_id, status, comment, now())?;
        tracing::info!(order_id, status, cursor = change.cursor, "application status set");
        Ok(change)
    }

    /// [`SchoolSystem::submit_application`] without the future: validates, then records the application as
    /// registered or refused. Blocking (fsync).
    pub fn submit(&self, application: &EnrollmentApplication) -> Result<SubmitOutcome, SchoolError> {
        let mut journal = lock(&self.inner.journal);
        let order_id = application.order_id;
        if let Some(outcome) = journal.known_outcome(order_id) {
            tracing::info!(order_id, "application submitted again; answered as before");
            return Ok(outcome);
        }
        let snapshot = self.snapshot();
        match refusal(application, &snapshot) {
            Some(reason) => {
                journal.refuse(application, &reason, now())?;
                tracing::info!(order_id, status = STATUS_REFUSED, "application refused");
                Ok(SubmitOutcome::Refused { status: STATUS_REFUSED, reason })
            }
            None => {
                journal.register(application, now())?;
                tracing::info!(order_id, status = STATUS_REGISTERED, "application registered");
                Ok(SubmitOutcome::Registered { status: STATUS_REGISTERED })
            }
        }
    }

    /// The current status of an order, whether submitted through the gateway or named in the data file.
    pub fn order_status(&self, order_id: i64) -> Option<u16> {
        lock(&self.inner.journal).status_of(order_id)
    }

    /// Orders registered through the gateway, in order of submission (each once, however often it was sent).
    pub fn submitted_orders(&self) -> Vec<i64> {
        lock(&self.inner.journal).submitted().to_vec()
    }

    /// An application as it was submitted through the gateway.
    pub fn application(&self, order_id: i64) -> Option<EnrollmentApplication> {
        lock(&self.inner.journal).application(order_id)
    }

    /// The data file this system reads.
    pub fn data_path(&self) -> &Path {
        &self.inner.data_path
    }

    /// How many pupils the current snapshot holds.
    pub fn pupil_count(&self) -> usize {
        self.snapshot().pupil_count()
    }

    /// [`SchoolSystem::linked_children`] without the future.
    pub fn linked_children_now(&self, guardian: &Snils) -> Vec<Pupil> {
        self.snapshot().linked_children(guardian)
    }

    /// [`SchoolSystem::marks`] without the future.
    pub fn marks_now(&self, pupil: &PupilId, from: time::Date, to: time::Date) -> Result<Marks, SchoolError> {
        if from > to {
            return Err(SchoolError::Rejected(format!("the period ends ({to}) before it starts ({from})")));
        }
        self.snapshot()
            .marks(pupil, from, to)
            .ok_or_else(|| SchoolError::Rejected(format!("no pupil has the id {pupil}")))
    }

    /// [`SchoolSystem::status_changes`] without the future.
    pub fn status_changes_now(&self, since: u64, limit: usize) -> Vec<StatusChange> {
        lock(&self.inner.journal).changes_since(since, limit)
    }

    /// Runs `f` on the current snapshot and the journal, locked (the kindergarten queue's calls).
    pub(crate) fn with_journal<R>(&self, f: impl FnOnce(&Snapshot, &mut Journal) -> R) -> R {
        let mut journal = lock(&self.inner.journal);
        let snapshot = self.snapshot();
        f(&snapshot, &mut journal)
    }

    /// The current snapshot.
    fn snapshot(&self) -> Arc<Snapshot> {
        self.inner.snapshot.read().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

impl SchoolSystem for EmbeddedSchool {
    fn linked_children<'a>(&'a self, guardian: &'a Snils) -> BoxFuture<'a, Result<Vec<Pupil>, SchoolError>> {
        Box::pin(async move { Ok(self.linked_children_now(guardian)) })
    }

    fn marks<'a>(
        &'a self,
        pupil: &'a PupilId,
        from: time::Date,
        to: time::Date,
    ) -> BoxFuture<'a, Result<Marks, SchoolError>> {
        Box::pin(async move { self.marks_now(pupil, from, to) })
    }

    fn submit_application<'a>(
        &'a self,
        application: &'a EnrollmentApplication,
    ) -> BoxFuture<'a, Result<SubmitOutcome, SchoolError>> {
        let school = self.clone();
        let application = application.clone();
        // The journal's fsync blocks: it runs on a blocking thread, not on the runtime's workers.
        Box::pin(async move {
            tokio::task::spawn_blocking(move || school.submit(&application))
                .await
                .map_err(|e| SchoolError::Unavailable(format!("the journal write did not finish: {e}")))?
        })
    }

    fn status_changes<'a>(&'a self, since: u64, limit: usize) -> BoxFuture<'a, Result<Vec<StatusChange>, SchoolError>> {
        Box::pin(async move { Ok(self.status_changes_now(since, limit)) })
    }

    fn name(&self) -> &str {
        "embedded"
    }

    fn kindergartens(&self) -> Option<&dyn crate::school::kindergarten::Kindergartens> {
        Some(self)
    }
}

/// Locks `mutex`, ignoring poisoning: every update under these locks leaves the state consistent before anything
/// that could panic.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

/// The data file's stamp, or `None` if it cannot be read (a reload then reports why).
fn file_stamp(path: &Path) -> Option<FileStamp> {
    let meta = std::fs::metadata(path).ok()?;
    Some(FileStamp { modified: meta.modified().ok()?, len: meta.len() })
}

/// The current time, for records.
fn now() -> time::OffsetDateTime {
    time::OffsetDateTime::now_utc()
}

/// Why the school refuses `application`, in words for the parent, or `None` if it can be registered.
fn refusal(application: &EnrollmentApplication, snapshot: &Snapshot) -> Option<String> {
    let grade = application.grade;
    if !(1..=11).contains(&grade) {
        return Some(format!("класса {grade} нет: принимают в 1–11 классы"));
    }
    let Some(year) = academic_year_start(&application.academic_year) else {
        return Some(format!(
            "учебный год «{}» указан неверно: ожидается запись вида 2027/2028",
            application.academic_year
        ));
    };
    if application.schools.is_empty() {
        return Some("не выбрана ни одна школа".to_owned());
    }
    if let Some((code, _)) = application.schools.iter().find(|(code, _)| snapshot.school(code).is_none()) {
        return Some(format!("школа с кодом {code} не найдена"));
    }
    age_refusal(application.child_birth_date, grade, year)
}

/// The first year of an academic year written `2027/2028`.
fn academic_year_start(text: &str) -> Option<i32> {
    let (first, second) = text.split_once('/')?;
    let digits = |s: &str| s.len() == 4 && s.bytes().all(|b| b.is_ascii_digit());
    if !digits(first) || !digits(second) {
        return None;
    }
    let (first, second) = (first.parse::<i32>().ok()?, second.parse::<i32>().ok()?);
    (second == first + 1).then_some(first)
}

/// Why the child's age on 1 September does not fit the grade, if it does not: grade 1 takes children of 6 to 8 full
/// years, each later grade one year older.
fn age_refusal(birth: time::Date, grade: u8, year: i32) -> Option<String> {
    let start = time::Date::from_calendar_date(year, time::Month::September, 1).expect("1 September exists");
    if birth >= start {
        return Some(format!("дата рождения ребёнка не раньше 1 сентября {year} г."));
    }
    let age = full_years(birth, start);
    let (min, max) = (grade as i32 + 5, grade as i32 + 7);
    if (min..=max).contains(&age) {
        return None;
    }
    Some(format!(
        "на 1 сентября {year} г. ребёнку будет {age} {}, а в {grade} класс принимают детей от {min} до {max} лет",
        years_word(age)
    ))
}

/// Full years from `birth` to `on`.
fn full_years(birth: time::Date, on: time::Date) -> i32 {
    let had_birthday = (on.month() as u8, on.day()) >= (birth.month() as u8, birth.day());
    on.year() - birth.year() - if had_birthday { 0 } else { 1 }
}

/// "год", "года" or "лет", as Russian counts years.
fn years_word(n: i32) -> &'static str {
    match (n % 10, n % 100) {
        (_, 11..=14) => "лет",
        (1, _) => "год",
        (2..=4, _) => "года",
        _ => "лет",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    #[test]
    fn academic_years() {
        assert_eq!(academic_year_start("2027/2028"), Some(2027));
        assert_eq!(academic_year_start("2027/2029"), None);
        assert_eq!(academic_year_start("2027-2028"), None);
        assert_eq!(academic_year_start("27/28"), None);
    }

    #[test]
    fn ages_and_grades() {
        assert_eq!(full_years(date!(2020 - 09 - 01), date!(2027 - 09 - 01)), 7);
        assert_eq!(full_years(date!(2020 - 09 - 02), date!(2027 - 09 - 01)), 6);
        assert_eq!(age_refusal(date!(2020 - 03 - 15), 1, 2027), None);
        assert_eq!(age_refusal(date!(2018 - 09 - 02), 1, 2027), None);
        let young = age_refusal(date!(2023 - 01 - 10), 1, 2027).unwrap();
        assert_eq!(young, "на 1 сентября 2027 г. ребёнку будет 4 года, а в 1 класс принимают детей от 6 до 8 лет");
        assert!(age_refusal(date!(2015 - 01 - 10), 5, 2027).is_none());
        assert!(age_refusal(date!(2028 - 01 - 10), 1, 2027).unwrap().contains("не раньше"));
    }

    #[test]
    fn russian_years() {
        let words: Vec<_> = [1, 2, 5, 11, 12, 21, 22, 25].into_iter().map(years_word).collect();
        assert_eq!(words, ["год", "года", "лет", "лет", "лет", "год", "года", "лет"]);
    }
}
