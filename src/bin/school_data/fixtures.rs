//! The well-known records of the shipped demo data (`data/school-demo.json`), which the demo, the end-to-end tests
//! and `data/README.md` rely on. The generator puts them into every file it makes, whatever the seed.
#![forbid(unsafe_code)]

use edugate::school::format::{BirthDocRec, ChildRec, CodedRec, QueueEntryRec};
use time::macros::date;
use time::Date;

/// The seed of the shipped demo data.
pub const DEMO_SEED: u64 = 20_260_901;
/// Schools in the shipped demo data.
pub const DEMO_SCHOOLS: usize = 4;
/// Pupils per school in the shipped demo data.
pub const DEMO_PUPILS_PER_SCHOOL: usize = 150;
/// The first day of the term the shipped demo data holds marks for (term 1 of 2026/2027).
pub const DEMO_TERM_FROM: Date = date!(2026 - 09 - 01);
/// The last day of that term.
pub const DEMO_TERM_TO: Date = date!(2026 - 10 - 24);
/// Where the shipped demo data lives, relative to the repository root.
pub const DEMO_DATA_PATH: &str = "data/school-demo.json";

/// A parent linked, with consent on file, to two children ([`CHILD_ANNA`], [`CHILD_MIKHAIL`]).
pub const PARENT_WITH_CONSENT: &str = "112-233-445 95";
/// The other parent of the same two children, linked to both without consent: sees nothing.
pub const PARENT_WITHOUT_CONSENT: &str = "123-456-789 64";
/// A parent linked to one child ([`CHILD_NIKITA`]) who gave consent and withdrew it: sees nothing.
pub const PARENT_CONSENT_WITHDRAWN: &str = "145-678-901 05";
/// A valid SNILS that no guardian in the data has: sees nothing, exactly like the two above.
pub const UNKNOWN_SNILS: &str = "198-765-432 47";
/// The unknown SNILS with a wrong check number, for tests of identifier validation.
pub const BAD_CHECK_SNILS: &str = "198-765-432 48";

/// Иванова Анна Сергеевна, 5А of [`SCHOOL_1`], born 2015-04-17.
pub const CHILD_ANNA: &str = "SCH-001-0001";
/// Иванов Михаил Сергеевич, 8Б of [`SCHOOL_1`], born 2012-10-03.
pub const CHILD_MIKHAIL: &str = "SCH-001-0002";
/// Петров Никита Андреевич, 3А of [`SCHOOL_1`], born 2017-06-21.
pub const CHILD_NIKITA: &str = "SCH-001-0003";

/// The first school's code (OKTMO [`OKTMO_CITY`]).
pub const SCHOOL_1: &str = "SCH-001";
/// The second school's code (OKTMO [`OKTMO_CITY`]).
pub const SCHOOL_2: &str = "SCH-002";
/// The municipality of the first two schools.
pub const OKTMO_CITY: &str = "46701000";

/// An order already enrolled (250) before the gateway started.
pub const ORDER_ENROLLED: i64 = 4_100_000_001;
/// An order with a place offered (190).
pub const ORDER_PLACE_OFFERED: i64 = 4_100_000_002;
/// An order under review (120).
pub const ORDER_UNDER_REVIEW: i64 = 4_100_000_003;
/// The first of the order numbers the data never uses: the demo and tests submit from here up.
pub const FREE_ORDERS_FROM: i64 = 4_200_000_001;

/// The code of the `index`-th kindergarten (from 0) in the region's classifier: `DOU-001`, `DOU-002` ...
pub fn kindergarten_code(index: usize) -> String {
    format!("DOU-{:03}", index + 1)
}

/// The first kindergarten, МБДОУ «Детский сад № 1 «Солнышко» (OKTMO [`OKTMO_CITY`]).
pub const KINDERGARTEN_1: &str = "DOU-001";
/// The second kindergarten.
pub const KINDERGARTEN_2: &str = "DOU-002";
/// A code no kindergarten has: an application naming it is refused (150).
pub const KINDERGARTEN_UNKNOWN: &str = "DOU-999";
/// The region's number of the well-known application filed in person (status 140, [`KINDERGARTEN_1`]).
pub const KG_NUMBER_IN_PERSON: &str = "ДОУ-2025-000001";
/// Its child's surname.
pub const KG_CHILD_SURNAME: &str = "Кузнецова";
/// Its child's name.
pub const KG_CHILD_NAME: &str = "Дарья";
/// Its child's birth date.
pub const KG_CHILD_BIRTH: Date = date!(2023 - 05 - 14);
/// Its child's birth certificate: series.
pub const KG_CHILD_CERT_SERIES: &str = "II-МЮ";
/// Its child's birth certificate: number.
pub const KG_CHILD_CERT_NUMBER: &str = "654321";

/// The well-known application filed in person, which a parent subscribes to in the demo.
pub fn kindergarten_entry() -> QueueEntryRec {
    QueueEntryRec {
        number: KG_NUMBER_IN_PERSON.to_owned(),
        filed_at: "2025-06-02T10:15:00+03:00".to_owned(),
        status: 140,
        changed_at: Some("2025-06-09T12:00:00+03:00".to_owned()),
        comment: Some("Заявление рассмотрено, ожидайте направления".to_owned()),
        child: ChildRec {
            surname: KG_CHILD_SURNAME.to_owned(),
            name: KG_CHILD_NAME.to_owned(),
            middle_name: Some("Игоревна".to_owned()),
            birth_date: "2023-05-14".to_owned(),
            birth_doc: Some(BirthDocRec::Russian {
                series: KG_CHILD_CERT_SERIES.to_owned(),
                number: KG_CHILD_CERT_NUMBER.to_owned(),
                issue_date: "2023-05-20".to_owned(),
                act_number: Some("120235000012345".to_owned()),
                act_date: Some("2023-05-20".to_owned()),
                issued: "Отдел ЗАГС г. Красногорска".to_owned(),
            }),
        },
        kindergartens: vec![(KINDERGARTEN_1.to_owned(), 1), (KINDERGARTEN_2.to_owned(), 2)],
        entry_date: "2027-09-01".to_owned(),
        benefit: None,
        offered: None,
        address: Some("г. Красногорск, ул. Мира, д. 7, кв. 12".to_owned()),
        language: Some(CodedRec { code: "1".to_owned(), text: "русский".to_owned() }),
        schedule: Some(CodedRec { code: "1".to_owned(), text: "полного дня".to_owned() }),
        group: Some(CodedRec { code: "1".to_owned(), text: "общеразвивающая".to_owned() }),
    }
}
