//! The embedded school system's data file: loading its records ([`super::format`]) into the indexed, immutable
//! [`Snapshot`].
//!
//! Errors name the file and the place in it (`pupils[12] (P-001-0012).marks[3]`) but never a value that could
//! identify a person: no SNILS, name or birth date appears in a message.
#![forbid(unsafe_code)]

use std::collections::{HashMap, HashSet};
use std::path::Path;

use super::format::{ApplicationRec, ClassRec, DataFile, GuardianRec, LessonRec, LinkRec, PupilRec, SchoolRec, FORMAT};
use super::model::{is_department_status, LessonMark, MarkValue, Marks, Pupil, PupilId, School, SubjectRecord};
use super::{SchoolError, Snils};
use crate::school::kindergarten::queue::{build_catalog, Catalog, FileStatusRec};

/// An application's status from the data file, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FileStatus {
    /// The portal's order number.
    pub order_id: i64,
    /// The department status code.
    pub status: u16,
    /// `changed_at` as written (kept as text: it is compared, not computed with).
    pub changed_at_text: Option<String>,
    /// `changed_at` read.
    pub changed_at: Option<time::OffsetDateTime>,
    /// The comment.
    pub comment: Option<String>,
}

/// A guardian's link as the consent rule needs it.
#[derive(Debug)]
struct Link {
    /// The pupil linked.
    pupil: PupilId,
    /// Whether consent is on file now.
    consent: bool,
}

/// One subject of a pupil's journal, indexed for period lookups.
#[derive(Debug)]
struct SubjectMarks {
    /// The subject's name.
    subject: String,
    /// Lesson marks sorted by date, so a period is found by two binary searches.
    lessons: Vec<LessonMark>,
    /// Term marks, by term.
    terms: Vec<(u8, MarkValue)>,
    /// The year mark.
    year: Option<MarkValue>,
}

/// A pupil with their journal.
#[derive(Debug)]
struct PupilEntry {
    /// The pupil as lookups return them.
    pupil: Pupil,
    /// Their subjects, in curriculum order.
    subjects: Vec<SubjectMarks>,
}

/// The data file read and indexed: immutable, shared by lookups through an `Arc`, replaced whole on reload.
#[derive(Debug, Default)]
pub(crate) struct Snapshot {
    /// Schools by code, for validating applications.
    schools: HashMap<String, School>,
    /// Pupils by id.
    pupils: HashMap<PupilId, PupilEntry>,
    /// Guardians' links by SNILS.
    guardians: HashMap<Snils, Vec<Link>>,
    /// Application statuses, in file order.
    pub applications: Vec<FileStatus>,
    /// The kindergarten sections: kindergartens, benefit categories, the queue filed elsewhere.
    pub kindergartens: Catalog,
}

impl Snapshot {
    /// The children linked to `guardian` with consent on file, in the file's order of links.
    pub fn linked_children(&self, guardian: &Snils) -> Vec<Pupil> {
        let Some(links) = self.guardians.get(guardian) else { return Vec::new() };
        links
            .iter()
            .filter(|link| link.consent)
            .filter_map(|link| self.pupils.get(&link.pupil))
            .map(|entry| entry.pupil.clone())
            .collect()
    }

    /// The pupil's marks dated `from..=to` (with every term and year mark), or `None` for an unknown pupil.
    pub fn marks(&self, pupil: &PupilId, from: time::Date, to: time::Date) -> Option<Marks> {
        let entry = self.pupils.get(pupil)?;
        let subjects = entry.subjects.iter().filter_map(|subject| subject.in_period(from, to)).collect();
        Some(Marks { pupil: pupil.clone(), from, to, subjects })
    }

    /// The school with this code.
    pub fn school(&self, code: &str) -> Option<&School> {
        self.schools.get(code)
    }

    /// How many pupils the file holds.
    pub fn pupil_count(&self) -> usize {
        self.pupils.len()
    }

    /// How many guardians the file holds.
    pub fn guardian_count(&self) -> usize {
        self.guardians.len()
    }
}

impl SubjectMarks {
    /// The subject's record for a period, or `None` when it has nothing to show for it.
    fn in_period(&self, from: time::Date, to: time::Date) -> Option<SubjectRecord> {
        let start = self.lessons.partition_point(|mark| mark.date < from);
        let end = self.lessons.partition_point(|mark| mark.date <= to).max(start);
        let lessons = self.lessons[start..end].to_vec();
        if lessons.is_empty() && self.terms.is_empty() && self.year.is_none() {
            return None;
        }
        Some(SubjectRecord { subject: self.subject.clone(), lessons, terms: self.terms.clone(), year: self.year })
    }
}

/// Reads, checks and indexes the data file at `path`.
pub(crate) fn load(path: &Path) -> Result<Snapshot, SchoolError> {
    let bytes = std::fs::read(path).map_err(|e| data_error(path, format!("cannot read: {e}")))?;
    let file: DataFile =
        serde_json::from_slice(&bytes).map_err(|e| data_error(path, format!("not a valid data file: {e}")))?;
    build(file).map_err(|problem| data_error(path, problem))
}

/// A `SchoolError::Data` naming the file.
pub(crate) fn data_error(path: &Path, problem: impl std::fmt::Display) -> SchoolError {
    SchoolError::Data(format!("{}: {problem}", path.display()))
}

/// Checks the file's content and builds its indexes; an error is the problem and where it is.
fn build(file: DataFile) -> Result<Snapshot, String> {
    if file.format != FORMAT {
        return Err(format!("format is {:?}, expected {FORMAT:?}", file.format));
    }
    let schools = build_schools(&file.schools)?;
    let classes = index_classes(&file.classes, &schools)?;
    let pupils = build_pupils(&file.pupils, &classes, &schools)?;
    let guardians = build_guardians(&file.guardians, &pupils)?;
    let applications = build_applications(&file.applications)?;
    let kindergartens = build_kindergartens(&file)?;
    Ok(Snapshot { schools, pupils, guardians, applications, kindergartens })
}

/// The kindergarten sections, checked.
fn build_kindergartens(file: &DataFile) -> Result<Catalog, String> {
    let portal: Vec<(i64, FileStatusRec)> = file
        .kindergarten_statuses
        .iter()
        .map(|rec| {
            let entry =
                FileStatusRec { status: rec.status, comment: rec.comment.clone(), changed_at: rec.changed_at.clone() };
            (rec.order_id, entry)
        })
        .collect();
    build_catalog(&file.kindergartens, &file.benefit_categories, &file.kindergarten_queue, &portal)
}

/// Schools by code, each checked.
fn build_schools(records: &[SchoolRec]) -> Result<HashMap<String, School>, String> {
    let mut schools = HashMap::with_capacity(records.len());
    for (i, rec) in records.iter().enumerate() {
        let at = format!("schools[{i}]");
        if !is_code(&rec.code) {
            return Err(format!("{at}.code: {:?} is not a school code (1 to 20 letters, digits, hyphens)", rec.code));
        }
        if !is_oktmo(&rec.oktmo) {
            return Err(format!("{at}.oktmo: {:?} is not an OKTMO code (8 or 11 digits)", rec.oktmo));
        }
        let school = School { code: rec.code.clone(), name: rec.name.clone(), oktmo: rec.oktmo.clone() };
        if schools.insert(rec.code.clone(), school).is_some() {
            return Err(format!("{at}.code: school {} appears twice", rec.code));
        }
    }
    Ok(schools)
}

/// Classes by id, each checked against the schools.
fn index_classes<'a>(
    records: &'a [ClassRec],
    schools: &HashMap<String, School>,
) -> Result<HashMap<&'a str, &'a ClassRec>, String> {
    let mut classes = HashMap::with_capacity(records.len());
    for (i, class) in records.iter().enumerate() {
        let at = format!("classes[{i}] ({})", class.id);
        if !schools.contains_key(&class.school) {
            return Err(format!("{at}.school: no school has the code {:?}", class.school));
        }
        check_lessons(&at, class)?;
        if classes.insert(class.id.as_str(), class).is_some() {
            return Err(format!("{at}.id: class {} appears twice", class.id));
        }
    }
    Ok(classes)
}

/// Checks a class's lessons: dates, subject indexes, weights.
fn check_lessons(at: &str, class: &ClassRec) -> Result<(), String> {
    for (j, LessonRec(date, subject, _, _, weight)) in class.lessons.iter().enumerate() {
        parse_date(date).map_err(|problem| format!("{at}.lessons[{j}]: the date {problem}"))?;
        if *subject >= class.subjects.len() {
            return Err(format!(
                "{at}.lessons[{j}]: subject {subject} is not in the class's {} subjects",
                class.subjects.len()
            ));
        }
        if *weight == 0 {
            return Err(format!("{at}.lessons[{j}]: the weight must be 1 or more"));
        }
    }
    Ok(())
}

/// Pupils by id with their journals, each checked against their class.
fn build_pupils(
    records: &[PupilRec],
    classes: &HashMap<&str, &ClassRec>,
    schools: &HashMap<String, School>,
) -> Result<HashMap<PupilId, PupilEntry>, String> {
    let mut pupils = HashMap::with_capacity(records.len());
    for (i, rec) in records.iter().enumerate() {
        let at = format!("pupils[{i}] ({})", rec.id);
        let class = classes
            .get(rec.class.as_str())
            .ok_or_else(|| format!("{at}.class: no class has the id {:?}", rec.class))?;
        let entry = build_pupil(&at, rec, class, &schools[&class.school])?;
        if pupils.insert(entry.pupil.id.clone(), entry).is_some() {
            return Err(format!("{at}.id: pupil {} appears twice", rec.id));
        }
    }
    Ok(pupils)
}

/// One pupil with their journal.
fn build_pupil(at: &str, rec: &PupilRec, class: &ClassRec, school: &School) -> Result<PupilEntry, String> {
    if rec.id.is_empty() || rec.surname.is_empty() || rec.name.is_empty() {
        return Err(format!("{at}: id, surname and name must not be empty"));
    }
    let birth_date = parse_date(&rec.birth_date).map_err(|problem| format!("{at}.birth_date: the date {problem}"))?;
    let pupil = Pupil {
        id: PupilId(rec.id.clone()),
        surname: rec.surname.clone(),
        name: rec.name.clone(),
        middle_name: rec.middle_name.clone(),
        birth_date,
        school: school.clone(),
        class_name: class.name.clone(),
    };
    let subjects = build_journal(at, rec, class)?;
    Ok(PupilEntry { pupil, subjects })
}

/// A pupil's subjects: the class's curriculum, then any other subject a term or year mark names, each with its
/// marks sorted by date.
fn build_journal(at: &str, rec: &PupilRec, class: &ClassRec) -> Result<Vec<SubjectMarks>, String> {
    let mut subjects: Vec<SubjectMarks> = class
        .subjects
        .iter()
        .map(|name| SubjectMarks { subject: name.clone(), lessons: Vec::new(), terms: Vec::new(), year: None })
        .collect();
    for (j, (lesson, value)) in rec.marks.iter().enumerate() {
        let LessonRec(date, subject, topic, work_type, weight) = class
            .lessons
            .get(*lesson)
            .ok_or_else(|| format!("{at}.marks[{j}]: lesson {lesson} is not in the journal of class {}", class.id))?;
        let value = parse_mark(value).map_err(|problem| format!("{at}.marks[{j}]: {problem}"))?;
        let date = parse_date(date).map_err(|problem| format!("{at}.marks[{j}]: the lesson's date {problem}"))?;
        let mark = LessonMark { date, value, weight: *weight, work_type: work_type.clone(), topic: topic.clone() };
        subjects[*subject].lessons.push(mark);
    }
    for (j, (subject, term, value)) in rec.terms.iter().enumerate() {
        let value = parse_mark(value).map_err(|problem| format!("{at}.terms[{j}]: {problem}"))?;
        if *term == 0 {
            return Err(format!("{at}.terms[{j}]: terms are numbered from 1"));
        }
        subject_named(&mut subjects, subject).terms.push((*term, value));
    }
    for (j, (subject, value)) in rec.year.iter().enumerate() {
        let value = parse_mark(value).map_err(|problem| format!("{at}.year[{j}]: {problem}"))?;
        subject_named(&mut subjects, subject).year = Some(value);
    }
    for subject in &mut subjects {
        subject.lessons.sort_by_key(|mark| mark.date);
        subject.terms.sort_by_key(|(term, _)| *term);
    }
    Ok(subjects)
}

/// The subject with this name, added at the end if the curriculum lacks it.
fn subject_named<'a>(subjects: &'a mut Vec<SubjectMarks>, name: &str) -> &'a mut SubjectMarks {
    let index = match subjects.iter().position(|subject| subject.subject == name) {
        Some(index) => index,
        None => {
            subjects.push(SubjectMarks {
                subject: name.to_owned(),
                lessons: Vec::new(),
                terms: Vec::new(),
                year: None,
            });
            subjects.len() - 1
        }
    };
    &mut subjects[index]
}

/// Guardians' links by SNILS, each checked against the pupils.
fn build_guardians(
    records: &[GuardianRec],
    pupils: &HashMap<PupilId, PupilEntry>,
) -> Result<HashMap<Snils, Vec<Link>>, String> {
    let mut guardians = HashMap::with_capacity(records.len());
    for (i, rec) in records.iter().enumerate() {
        let at = format!("guardians[{i}]");
        // The SNILS itself never appears in the message: the index is enough to find it.
        let snils = Snils::parse(&rec.snils).map_err(|e| format!("{at}.snils: {e}"))?;
        let links = rec.links.iter().enumerate().map(|(j, link)| build_link(&format!("{at}.links[{j}]"), link, pupils));
        let links = links.collect::<Result<Vec<_>, _>>()?;
        if guardians.insert(snils, links).is_some() {
            return Err(format!("{at}.snils: the same SNILS as an earlier guardian (merge their links)"));
        }
    }
    Ok(guardians)
}

/// One link, with its consent decided.
fn build_link(at: &str, rec: &LinkRec, pupils: &HashMap<PupilId, PupilEntry>) -> Result<Link, String> {
    let pupil = PupilId(rec.pupil.clone());
    if !pupils.contains_key(&pupil) {
        return Err(format!("{at}.pupil: no pupil has the id {:?}", rec.pupil));
    }
    let given = optional_date(rec.consent_given.as_deref()).map_err(|p| format!("{at}.consent_given: the date {p}"))?;
    let withdrawn =
        optional_date(rec.consent_withdrawn.as_deref()).map_err(|p| format!("{at}.consent_withdrawn: the date {p}"))?;
    let consent = match (given, withdrawn) {
        (Some(given), Some(withdrawn)) => given > withdrawn,
        (Some(_), None) => true,
        (None, _) => false,
    };
    Ok(Link { pupil, consent })
}

/// The applications section, checked.
fn build_applications(records: &[ApplicationRec]) -> Result<Vec<FileStatus>, String> {
    let mut seen = HashSet::with_capacity(records.len());
    let mut statuses = Vec::with_capacity(records.len());
    for (i, rec) in records.iter().enumerate() {
        let at = format!("applications[{i}] (order {})", rec.order_id);
        if !seen.insert(rec.order_id) {
            return Err(format!("{at}: the order appears twice"));
        }
        if !is_department_status(rec.status) {
            return Err(format!("{at}.status: {} is not a department status (110, 120, ... 250)", rec.status));
        }
        let changed_at =
            rec.changed_at.as_deref().map(parse_timestamp).transpose().map_err(|p| format!("{at}.changed_at: {p}"))?;
        statuses.push(FileStatus {
            order_id: rec.order_id,
            status: rec.status,
            changed_at_text: rec.changed_at.clone(),
            changed_at,
            comment: rec.comment.clone(),
        });
    }
    Ok(statuses)
}

/// Reads `YYYY-MM-DD`; the error never repeats the text (it may be a birth date).
pub(crate) fn parse_date(text: &str) -> Result<time::Date, String> {
    let bytes = text.as_bytes();
    let shape_ok = bytes.len() == 10
        && bytes[4] == b'-'
        && bytes[7] == b'-'
        && bytes.iter().enumerate().all(|(i, b)| i == 4 || i == 7 || b.is_ascii_digit());
    if !shape_ok {
        return Err("is not written YYYY-MM-DD".into());
    }
    let number = |range: std::ops::Range<usize>| text[range].parse::<u16>().expect("digits");
    let month = time::Month::try_from(number(5..7) as u8).map_err(|_| "has no such month".to_string())?;
    time::Date::from_calendar_date(number(0..4) as i32, month, number(8..10) as u8)
        .map_err(|_| "has no such day".to_string())
}

/// Reads an optional `YYYY-MM-DD`.
fn optional_date(text: Option<&str>) -> Result<Option<time::Date>, String> {
    text.map(parse_date).transpose()
}

/// Reads an RFC 3339 timestamp.
pub(crate) fn parse_timestamp(text: &str) -> Result<time::OffsetDateTime, String> {
    time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339)
        .map_err(|_| format!("{text:?} is not an RFC 3339 timestamp (2026-09-01T10:00:00+03:00)"))
}

/// Writes an RFC 3339 timestamp.
pub(crate) fn format_timestamp(at: time::OffsetDateTime) -> String {
    at.format(&time::format_description::well_known::Rfc3339).expect("every timestamp has an RFC 3339 form")
}

/// Reads a mark value.
fn parse_mark(text: &str) -> Result<MarkValue, String> {
    MarkValue::parse(text).ok_or_else(|| format!("{text:?} is not a mark (1..5, зачёт, незачёт)"))
}

/// Whether `text` is a school code as the schemas allow it.
pub(crate) fn is_code(text: &str) -> bool {
    (1..=20).contains(&text.len()) && text.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

/// Whether `text` is an OKTMO code.
pub(crate) fn is_oktmo(text: &str) -> bool {
    (text.len() == 8 || text.len() == 11) && text.bytes().all(|b| b.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::school::format::format_date;

    #[test]
    fn dates() {
        assert_eq!(parse_date("2026-09-01").unwrap(), time::macros::date!(2026 - 09 - 01));
        assert!(parse_date("2026-02-30").unwrap_err().contains("no such day"));
        assert!(parse_date("2026-13-01").unwrap_err().contains("no such month"));
        assert!(parse_date("01.09.2026").unwrap_err().contains("YYYY-MM-DD"));
        assert!(parse_date("２０26-09-01").is_err());
        assert_eq!(format_date(time::macros::date!(2026 - 09 - 01)), "2026-09-01");
    }

    #[test]
    fn codes() {
        assert!(is_code("SCH-001") && !is_code("") && !is_code("школа") && !is_code(&"1".repeat(21)));
        assert!(is_oktmo("46701000") && is_oktmo("46701000001") && !is_oktmo("4670100") && !is_oktmo("4670100a"));
    }
}
