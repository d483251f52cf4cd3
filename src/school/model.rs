//! The data the education services read from and write to a school system, as domain types.
//!
//! None of these types is `Serialize`: the embedded data file, its journal and the HTTP connector's wire format each
//! have private serde structs of their own, so that a change of one format never changes another. Types that hold a
//! person's name or birth date print them masked in `Debug`, like [`Snils`](crate::school::Snils) does, so that a `{:?}` in a log line
//! cannot leak them.
#![forbid(unsafe_code)]

use std::fmt;

/// The school system's own identifier of a pupil: opaque to the gateway, safe to log (it names nobody by itself).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PupilId(pub String);

impl fmt::Display for PupilId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A school, as the progress response names it and as enrollment applications choose it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct School {
    /// The regional code of the school, by which applications name it.
    pub code: String,
    /// The school's name as parents know it.
    pub name: String,
    /// The OKTMO code of the municipality the school belongs to, by which requests may narrow the search.
    pub oktmo: String,
}

/// A pupil as the school system knows them: who they are and where they study.
#[derive(Clone, PartialEq, Eq)]
pub struct Pupil {
    /// The school system's id, used to ask for the pupil's marks.
    pub id: PupilId,
    /// The surname, for the response and for narrowing a request to one child.
    pub surname: String,
    /// The given name, for the same reasons.
    pub name: String,
    /// The patronymic, which not every pupil has.
    pub middle_name: Option<String>,
    /// The birth date, by which a request may tell twins or namesakes apart.
    pub birth_date: time::Date,
    /// The school the pupil attends.
    pub school: School,
    /// The class as the school writes it, grade and letter: "5А".
    pub class_name: String,
}

impl fmt::Debug for Pupil {
    /// Masks the names and the birth date: a pupil that reaches a log line through `{:?}` must not identify a child.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pupil")
            .field("id", &self.id)
            .field("surname", &masked_name(&self.surname))
            .field("name", &masked_name(&self.name))
            .field("middle_name", &self.middle_name.as_deref().map(masked_name))
            .field("birth_date", &"****-**-**")
            .field("school", &self.school.code)
            .field("class_name", &self.class_name)
            .finish()
    }
}

/// A name reduced to its first letter, for `Debug` output.
pub fn masked_name(name: &str) -> String {
    match name.chars().next() {
        Some(first) => format!("{first}***"),
        None => String::new(),
    }
}

/// A mark as school journals write it: the five-point scale, or pass/fail for subjects that are not graded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MarkValue {
    /// "5", excellent.
    Five,
    /// "4", good.
    Four,
    /// "3", satisfactory.
    Three,
    /// "2", unsatisfactory.
    Two,
    /// "1", rarely given but still on the scale.
    One,
    /// "зачёт", passed.
    Pass,
    /// "незачёт", not passed.
    Fail,
}

impl MarkValue {
    /// Every mark value, in the order of the scale and then pass, fail.
    pub const ALL: [MarkValue; 7] = [
        MarkValue::Five,
        MarkValue::Four,
        MarkValue::Three,
        MarkValue::Two,
        MarkValue::One,
        MarkValue::Pass,
        MarkValue::Fail,
    ];

    /// The mark as written in journals and in the progress schema: "5".."1", "зачёт", "незачёт".
    pub fn as_str(self) -> &'static str {
        match self {
            MarkValue::Five => "5",
            MarkValue::Four => "4",
            MarkValue::Three => "3",
            MarkValue::Two => "2",
            MarkValue::One => "1",
            MarkValue::Pass => "зачёт",
            MarkValue::Fail => "незачёт",
        }
    }

    /// The mark's number on the five-point scale; `None` for pass and fail, which averages leave out.
    pub fn numeric(self) -> Option<u8> {
        match self {
            MarkValue::Five => Some(5),
            MarkValue::Four => Some(4),
            MarkValue::Three => Some(3),
            MarkValue::Two => Some(2),
            MarkValue::One => Some(1),
            MarkValue::Pass | MarkValue::Fail => None,
        }
    }

    /// Reads a mark as written by [`MarkValue::as_str`]; "зачет" and "незачет" (without ё) are accepted too, as
    /// people type them.
    pub fn parse(text: &str) -> Option<MarkValue> {
        match text {
            "зачет" => Some(MarkValue::Pass),
            "незачет" => Some(MarkValue::Fail),
            _ => MarkValue::ALL.into_iter().find(|mark| mark.as_str() == text),
        }
    }
}

impl fmt::Display for MarkValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One mark in the journal: given at a lesson, for a kind of work, with the weight that work carries in averages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LessonMark {
    /// The date of the lesson.
    pub date: time::Date,
    /// The mark.
    pub value: MarkValue,
    /// The weight in the weighted average: 1 for work in class, up to 3 for a test.
    pub weight: u8,
    /// The kind of work ("Контрольная работа"), if the journal says.
    pub work_type: Option<String>,
    /// The topic of the lesson, if the journal says.
    pub topic: Option<String>,
}

/// Everything the journal holds for one subject: the lesson marks of a period, and term and year marks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubjectRecord {
    /// The subject's name ("Математика").
    pub subject: String,
    /// Lesson marks, oldest first.
    pub lessons: Vec<LessonMark>,
    /// Term marks given so far in the school year: (term number, mark).
    pub terms: Vec<(u8, MarkValue)>,
    /// The year mark, once given.
    pub year: Option<MarkValue>,
}

impl SubjectRecord {
    /// The weighted average of the numeric lesson marks (pass and fail left out), or `None` without any.
    pub fn weighted_average(&self) -> Option<f64> {
        let (sum, weights) = self.weighted_sums()?;
        Some(sum as f64 / weights as f64)
    }

    /// The weighted average as the progress response writes it: two decimals, halves rounded up, computed exactly
    /// ("3.67" for 5·1 + 4·2 + 3·3 over 6), so that the same marks always render the same text.
    pub fn average_text(&self) -> Option<String> {
        let (sum, weights) = self.weighted_sums()?;
        let hundredths = (sum * 200 + weights) / (2 * weights);
        Some(format!("{}.{:02}", hundredths / 100, hundredths % 100))
    }

    /// The sum of numeric marks times weights and the sum of their weights, if any weight counts.
    fn weighted_sums(&self) -> Option<(u64, u64)> {
        let (sum, weights) = self
            .lessons
            .iter()
            .filter_map(|mark| {
                mark.value.numeric().map(|value| (value as u64 * mark.weight as u64, mark.weight as u64))
            })
            .fold((0, 0), |(sum, weights), (product, weight)| (sum + product, weights + weight));
        (weights > 0).then_some((sum, weights))
    }
}

/// A pupil's marks over a period, per subject.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Marks {
    /// Whose marks these are.
    pub pupil: PupilId,
    /// The first day of the period, included.
    pub from: time::Date,
    /// The last day of the period, included.
    pub to: time::Date,
    /// Subjects with lesson marks in the period or with term or year marks, in the order of the curriculum.
    pub subjects: Vec<SubjectRecord>,
}

/// A change of an application's status in the school system, to be pushed to the portal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusChange {
    /// The change's position in the school system's durable sequence of changes: increasing, never reused, so
    /// that the gateway can ask for the changes after the last one it pushed.
    pub cursor: u64,
    /// The portal's order number.
    pub order_id: i64,
    /// The EPGU department status code (orgCode), 110 registered .. 250 enrolled.
    pub status: u16,
    /// When the status changed.
    pub at: time::OffsetDateTime,
    /// The school's comment for the parent, if any.
    pub comment: Option<String>,
}

/// What became of a submitted application.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SubmitOutcome {
    /// The application is registered now (status 110).
    Registered {
        /// The status to answer the portal with: 110.
        status: u16,
    },
    /// The order was submitted before: nothing was done, and this is its current status, so that the portal gets
    /// the same answer again.
    AlreadySubmitted {
        /// The order's current status.
        status: u16,
    },
    /// Registered now (status 110), but outside what the school may decide alone: the school reviews it with the
    /// founder's permission (a child younger than 6 years 6 months or older than 8 years on 1 September). Never a
    /// refusal by itself.
    ForReview {
        /// The status to answer with: 110.
        status: u16,
        /// What the parent is told: why, and what happens next.
        note: String,
    },
    /// The application was refused (status 150) for a reason a person can read.
    Refused {
        /// The status to answer with: 150.
        status: u16,
        /// Why, in Russian, for the parent.
        reason: String,
    },
}

/// The EPGU department status "registered".
pub const STATUS_REGISTERED: u16 = 110;
/// The EPGU department status "refused (with reason)", also the end of a withdrawn application.
pub const STATUS_REFUSED: u16 = 150;
/// The EPGU department status "enrolled".
pub const STATUS_ENROLLED: u16 = 250;

/// Every EPGU department status code (`orgCode`), in order: 110 registered ... 250 enrolled. There is no 200.
pub const DEPARTMENT_STATUSES: [u16; 14] = [110, 120, 130, 140, 150, 160, 170, 180, 190, 210, 220, 230, 240, 250];

/// Whether `status` is an EPGU department status code: 110, 120, ... 190, 210, ... 250 (not 200).
pub fn is_department_status(status: u16) -> bool {
    DEPARTMENT_STATUSES.contains(&status)
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    fn mark(value: MarkValue, weight: u8) -> LessonMark {
        LessonMark { date: date!(2026 - 09 - 01), value, weight, work_type: None, topic: None }
    }

    fn record(marks: Vec<LessonMark>) -> SubjectRecord {
        SubjectRecord { subject: "Математика".into(), lessons: marks, terms: vec![], year: None }
    }

    #[test]
    fn mark_values_round_trip() {
        for mark in MarkValue::ALL {
            assert_eq!(MarkValue::parse(mark.as_str()), Some(mark));
        }
        assert_eq!(MarkValue::parse("зачет"), Some(MarkValue::Pass));
        assert_eq!(MarkValue::parse("6"), None);
        assert_eq!(MarkValue::Pass.numeric(), None);
    }

    #[test]
    fn weighted_average_leaves_out_pass_and_fail() {
        let marks = vec![mark(MarkValue::Five, 1), mark(MarkValue::Four, 2), mark(MarkValue::Three, 3)];
        let subject = record(marks);
        assert_eq!(subject.average_text().as_deref(), Some("3.67"));
        assert!((subject.weighted_average().unwrap() - 22.0 / 6.0).abs() < 1e-12);
        assert_eq!(record(vec![mark(MarkValue::Pass, 1)]).weighted_average(), None);
        // 4.125 exactly: halves round up.
        let eighths = vec![mark(MarkValue::Five, 1), mark(MarkValue::Four, 7)];
        assert_eq!(record(eighths).average_text().as_deref(), Some("4.13"));
    }

    #[test]
    fn debug_masks_people() {
        let pupil = Pupil {
            id: PupilId("P1".into()),
            surname: "Иванова".into(),
            name: "Анна".into(),
            middle_name: Some("Сергеевна".into()),
            birth_date: date!(2015 - 03 - 02),
            school: School { code: "SCH-001".into(), name: "Школа".into(), oktmo: "46701000".into() },
            class_name: "5А".into(),
        };
        let text = format!("{pupil:?}");
        assert!(!text.contains("Иванова") && !text.contains("Анна") && !text.contains("2015"), "{text}");
        assert!(text.contains("P1"));
    }

    #[test]
    fn department_statuses() {
        assert!(is_department_status(110) && is_department_status(190) && is_department_status(210));
        assert!(is_department_status(250));
        assert!(!is_department_status(100) && !is_department_status(115) && !is_department_status(260));
        assert!(!is_department_status(200), "there is no status 200");
        assert_eq!(DEPARTMENT_STATUSES.len(), 14);
    }
}
