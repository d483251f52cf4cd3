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
use super::enrollment::EnrollmentApplication;
use super::journal::Journal;
use super::kindergarten::model::Cancelled;
use super::model::{Marks, Pupil, PupilId, StatusChange, SubmitOutcome, STATUS_REFUSED, STATUS_REGISTERED};
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
        match decide(application, &snapshot) {
            Verdict::Refuse(reason) => {
                journal.refuse(application, &reason, now())?;
                tracing::info!(order_id, status = STATUS_REFUSED, "application refused");
                Ok(SubmitOutcome::Refused { status: STATUS_REFUSED, reason })
            }
            Verdict::Review(note) => {
                journal.register(application, Some(&note), now())?;
                tracing::info!(order_id, status = STATUS_REGISTERED, "application registered for review");
                Ok(SubmitOutcome::ForReview { status: STATUS_REGISTERED, note })
            }
            Verdict::Register => {
                journal.register(application, None, now())?;
                tracing::info!(order_id, status = STATUS_REGISTERED, "application registered");
                Ok(SubmitOutcome::Registered { status: STATUS_REGISTERED })
            }
        }
    }

    /// [`SchoolSystem::cancel_application`] without the future. Blocking (fsync).
    pub fn cancel(&self, order_id: i64, reason: Option<&str>) -> Result<Cancelled, SchoolError> {
        let cancelled = lock(&self.inner.journal).cancel(order_id, reason, now())?;
        tracing::info!(order_id, result = ?cancelled.result, "application withdrawal asked");
        Ok(cancelled)
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

    fn enrollment_application<'a>(
        &'a self,
        order_id: i64,
    ) -> BoxFuture<'a, Result<Option<EnrollmentApplication>, SchoolError>> {
        Box::pin(async move { Ok(self.application(order_id)) })
    }

    fn cancel_application<'a>(
        &'a self,
        order_id: i64,
        reason: Option<&'a str>,
    ) -> BoxFuture<'a, Result<Cancelled, SchoolError>> {
        let school = self.clone();
        let reason = reason.map(str::to_owned);
        Box::pin(async move {
            tokio::task::spawn_blocking(move || school.cancel(order_id, reason.as_deref()))
                .await
                .map_err(|e| SchoolError::Unavailable(format!("the journal write did not finish: {e}")))?
        })
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

/// What the school does with an application at submission.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Verdict {
    /// Registers it (110).
    Register,
    /// Registers it (110) for a review with the founder's permission, telling the parent why.
    Review(String),
    /// Refuses it (150) for this reason.
    Refuse(String),
}

/// What the school does with `application`: refusals are for what no review can mend (an unknown school, a grade
/// or year that does not exist); a grade-1 child outside the law's age range goes to review, never to a refusal.
fn decide(application: &EnrollmentApplication, snapshot: &Snapshot) -> Verdict {
    let grade = application.grade;
    if !(1..=11).contains(&grade) {
        return Verdict::Refuse(format!("класса {grade} нет: принимают в 1–11 классы"));
    }
    let Some(year) = academic_year_start(&application.academic_year) else {
        return Verdict::Refuse(format!(
            "учебный год «{}» указан неверно: ожидается запись вида 2027/2028",
            application.academic_year
        ));
    };
    if application.schools.is_empty() {
        return Verdict::Refuse("не выбрана ни одна школа".to_owned());
    }
    if let Some(code) = application.school_codes().find(|code| snapshot.school(code).is_none()) {
        return Verdict::Refuse(format!("школа с кодом {code} не найдена"));
    }
    age_verdict(application.child.birth_date, grade, year)
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

/// What the child's age on 1 September of the academic year starting in `year` means for the grade.
///
/// Grade 1 (273-ФЗ, ст. 67 ч. 1): from 6 years 6 months to 8 years, both ends included (a child who turns 8 on
/// 1 September is admitted; one day older is not); outside that range only with the founder's permission, so the
/// application is registered for review. Later grades take children of `grade + 5` to `grade + 7` full years.
fn age_verdict(birth: time::Date, grade: u8, year: i32) -> Verdict {
    let start = time::Date::from_calendar_date(year, time::Month::September, 1).expect("1 September exists");
    if birth >= start {
        return Verdict::Refuse(format!("дата рождения ребёнка не раньше 1 сентября {year} г."));
    }
    if grade == 1 {
        let young = plus_months(birth, 6 * 12 + 6) > start;
        let old = plus_months(birth, 8 * 12) < start;
        if !(young || old) {
            return Verdict::Register;
        }
        let months = full_months(birth, start);
        return Verdict::Review(format!(
            "на 1 сентября {year} г. ребёнку будет {}; в 1 класс принимают детей от 6 лет 6 месяцев до 8 лет, \
             в другом возрасте — с разрешения учредителя школы. Заявление зарегистрировано и будет рассмотрено \
             школой с учредителем",
            age_text(months)
        ));
    }
    let age = full_years(birth, start);
    let (min, max) = (grade as i32 + 5, grade as i32 + 7);
    if (min..=max).contains(&age) {
        return Verdict::Register;
    }
    Verdict::Refuse(format!(
        "на 1 сентября {year} г. ребёнку будет {age} {}, а в {grade} класс принимают детей от {min} до {max} лет",
        years_word(age)
    ))
}

/// `date` plus `months` calendar months; a day the month lacks (31 April, 29 February of a common year) becomes the
/// month's last day, as the Civil Code counts periods (ст. 192 ГК РФ).
fn plus_months(date: time::Date, months: u32) -> time::Date {
    let total = date.year() * 12 + (date.month() as i32 - 1) + months as i32;
    let (year, month) = (total.div_euclid(12), (total.rem_euclid(12) + 1) as u8);
    let month = time::Month::try_from(month).expect("1..=12");
    let day = date.day().min(month.length(year));
    time::Date::from_calendar_date(year, month, day).expect("a day within the month")
}

/// Full calendar months from `birth` to `on` (`birth` before `on`).
fn full_months(birth: time::Date, on: time::Date) -> u32 {
    let mut months = ((on.year() - birth.year()) * 12 + on.month() as i32 - birth.month() as i32).max(0) as u32;
    while months > 0 && plus_months(birth, months) > on {
        months -= 1;
    }
    months
}

/// "5 лет 11 месяцев", "8 лет 1 месяц", "7 лет".
fn age_text(months: u32) -> String {
    let (years, rest) = ((months / 12) as i32, (months % 12) as i32);
    let mut text = format!("{years} {}", years_word(years));
    if rest > 0 {
        text.push_str(&format!(" {rest} {}", months_word(rest)));
    }
    text
}

/// "месяц", "месяца" or "месяцев".
fn months_word(n: i32) -> &'static str {
    match (n % 10, n % 100) {
        (_, 11..=14) => "месяцев",
        (1, _) => "месяц",
        (2..=4, _) => "месяца",
        _ => "месяцев",
    }
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
        // 6 years 6 months exactly, and a day less.
        assert_eq!(age_verdict(date!(2021 - 03 - 01), 1, 2027), Verdict::Register);
        assert_eq!(age_verdict(date!(2021 - 03 - 02), 1, 2027), Verdict::Review(review_of("6 лет 5 месяцев")));
        // 8 years exactly, and a day more.
        assert_eq!(age_verdict(date!(2019 - 09 - 01), 1, 2027), Verdict::Register);
        assert_eq!(age_verdict(date!(2019 - 08 - 31), 1, 2027), Verdict::Review(review_of("8 лет")));
        assert_eq!(age_verdict(date!(2020 - 03 - 15), 1, 2027), Verdict::Register);
        assert_eq!(age_verdict(date!(2023 - 01 - 10), 1, 2027), Verdict::Review(review_of("4 года 7 месяцев")));
        assert_eq!(age_verdict(date!(2015 - 01 - 10), 5, 2027), Verdict::Register);
        let Verdict::Refuse(old) = age_verdict(date!(2012 - 01 - 10), 5, 2027) else { panic!("refused") };
        assert!(old.contains("от 10 до 12 лет"), "{old}");
        let Verdict::Refuse(unborn) = age_verdict(date!(2028 - 01 - 10), 1, 2027) else { panic!("refused") };
        assert!(unborn.contains("не раньше"), "{unborn}");
    }

    fn review_of(age: &str) -> String {
        format!(
            "на 1 сентября 2027 г. ребёнку будет {age}; в 1 класс принимают детей от 6 лет 6 месяцев до 8 лет, в \
             другом возрасте — с разрешения учредителя школы. Заявление зарегистрировано и будет рассмотрено школой \
             с учредителем"
        )
    }

    #[test]
    fn leap_day_birthdays() {
        // Born on 29 February 2020: 6 years 6 months on 29 August 2026, so admitted on 1 September 2026.
        assert_eq!(age_verdict(date!(2020 - 02 - 29), 1, 2026), Verdict::Register);
        // Born on 29 February 2020, 1 September 2028: 8 years 6 months, review.
        let Verdict::Review(note) = age_verdict(date!(2020 - 02 - 29), 1, 2028) else { panic!("a review") };
        assert!(note.contains("будет 8 лет 6 месяцев"), "{note}");
        // 1 March 2020 in a leap year: 6 years 6 months exactly on 1 September 2026.
        assert_eq!(age_verdict(date!(2020 - 03 - 01), 1, 2026), Verdict::Register);
        // Born on 29 February 2016: 8 years on 29 February 2024, a leap year ...
        assert_eq!(plus_months(date!(2016 - 02 - 29), 96), date!(2024 - 02 - 29));
        // ... and 7 years on 28 February 2023, as the Civil Code counts a missing day.
        assert_eq!(plus_months(date!(2016 - 02 - 29), 84), date!(2023 - 02 - 28));
    }

    #[test]
    fn months_are_counted_as_the_civil_code_counts_them() {
        assert_eq!(plus_months(date!(2020 - 02 - 29), 12), date!(2021 - 02 - 28));
        assert_eq!(plus_months(date!(2020 - 02 - 29), 78), date!(2026 - 08 - 29));
        assert_eq!(plus_months(date!(2019 - 08 - 31), 6), date!(2020 - 02 - 29));
        assert_eq!(plus_months(date!(2019 - 12 - 15), 1), date!(2020 - 01 - 15));
        assert_eq!(full_months(date!(2020 - 03 - 02), date!(2026 - 09 - 01)), 77);
        assert_eq!(full_months(date!(2020 - 03 - 01), date!(2026 - 09 - 01)), 78);
        assert_eq!(age_text(77), "6 лет 5 месяцев");
        assert_eq!(age_text(97), "8 лет 1 месяц");
        assert_eq!(months_word(2), "месяца");
    }

    #[test]
    fn russian_years() {
        let words: Vec<_> = [1, 2, 5, 11, 12, 21, 22, 25].into_iter().map(years_word).collect();
        assert_eq!(words, ["год", "года", "лет", "лет", "лет", "год", "года", "лет"]);
    }
}
