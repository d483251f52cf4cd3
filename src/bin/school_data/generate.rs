//! Generates realistic school data for the embedded school system: schools of one region, classes 1А..11Б with a
//! term's journal (a weekly timetable, topics, kinds of work and their weights), pupils with Russian names and
//! birth dates that fit their class, guardians with valid SNILS and consent (mostly given, sometimes missing or
//! withdrawn), lesson marks drawn around each pupil's level, and term marks from the weighted averages.
//!
//! The output depends only on the arguments: the generator uses its own small PRNG (SplitMix64) rather than a
//! library's, whose stream may change between versions, so the shipped `data/school-demo.json` can be regenerated
//! byte for byte ([`generate_demo_to`]). Every file also holds the records of [`fixtures`](super::fixtures).
#![forbid(unsafe_code)]

use std::collections::HashSet;
use std::io::Write;
use std::path::Path;

use time::{Date, Duration, Month, Weekday};

use edugate::school::format::{
    format_date, ApplicationRec, BenefitCategoryRec, BirthDocRec, ChildRec, ClassRec, CodedRec, DataFile, GroupRec,
    GuardianRec, KindergartenRec, LessonRec, LinkRec, PupilRec, QueueEntryRec, SchoolRec, FORMAT,
};
use edugate::school::Snils;

use super::fixtures;

/// Generates a data file as JSON: `schools` schools (at least one), about `pupils_per_school` pupils in each, and
/// a journal from `term_from` to `term_to` taken as one complete term (term marks are given for it).
pub fn generate(
    seed: u64,
    schools: usize,
    pupils_per_school: usize,
    term_from: Date,
    term_to: Date,
) -> serde_json::Value {
    serde_json::to_value(build(seed, schools, pupils_per_school, term_from, term_to)).expect("data files serialize")
}

/// Generates a data file as [`generate`] does and writes it to `path` (atomically: a temporary file renamed over
/// it, so a running gateway never reloads half a file), one record per line so that people can read and edit it.
pub fn generate_to(
    path: &Path,
    seed: u64,
    schools: usize,
    pupils_per_school: usize,
    term_from: Date,
    term_to: Date,
) -> std::io::Result<()> {
    let text = render(&build(seed, schools, pupils_per_school, term_from, term_to));
    write_atomically(path, text.as_bytes())
}

/// Writes the shipped demo data (the [`fixtures`] module's seed, sizes and term) to `path`.
pub fn generate_demo_to(path: &Path) -> std::io::Result<()> {
    generate_to(
        path,
        fixtures::DEMO_SEED,
        fixtures::DEMO_SCHOOLS,
        fixtures::DEMO_PUPILS_PER_SCHOOL,
        fixtures::DEMO_TERM_FROM,
        fixtures::DEMO_TERM_TO,
    )
}

/// Writes `bytes` to a temporary file beside `path`, syncs it and renames it over `path`.
fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut temporary = path.as_os_str().to_owned();
    temporary.push(".tmp");
    let temporary = Path::new(&temporary);
    let mut file = std::fs::File::create(temporary)?;
    file.write_all(bytes)?;
    file.sync_all()?;
    std::fs::rename(temporary, path)
}

/// SplitMix64: tiny, fast, and fixed forever, so a seed always gives the same data.
struct Rng(u64);

impl Rng {
    /// The next 64 random bits.
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (`n` > 0).
    fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }

    /// A number in `[0, 1)`.
    fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// True with probability `p`.
    fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }

    /// One of `items`.
    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }

    /// Shuffles `items` (Fisher–Yates).
    fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            items.swap(i, self.below(i + 1));
        }
    }
}

/// Male surnames; the female form adds "а" (all of them end in -ов, -ев, -ёв or -ин).
const SURNAMES: &[&str] = &[
    "Иванов",
    "Смирнов",
    "Кузнецов",
    "Попов",
    "Васильев",
    "Петров",
    "Соколов",
    "Михайлов",
    "Новиков",
    "Фёдоров",
    "Морозов",
    "Волков",
    "Алексеев",
    "Лебедев",
    "Семёнов",
    "Егоров",
    "Павлов",
    "Козлов",
    "Степанов",
    "Николаев",
    "Орлов",
    "Андреев",
    "Макаров",
    "Никитин",
    "Захаров",
    "Зайцев",
    "Соловьёв",
    "Борисов",
    "Яковлев",
    "Григорьев",
    "Романов",
    "Воробьёв",
    "Сергеев",
    "Кузьмин",
    "Фролов",
    "Александров",
    "Дмитриев",
    "Королёв",
    "Гусев",
    "Киселёв",
    "Ильин",
    "Максимов",
    "Поляков",
    "Сорокин",
    "Виноградов",
    "Ковалёв",
    "Белов",
    "Медведев",
    "Антонов",
    "Тарасов",
    "Жуков",
    "Баранов",
    "Филиппов",
    "Комаров",
    "Давыдов",
    "Беляев",
    "Герасимов",
    "Богданов",
    "Осипов",
    "Сидоров",
];

/// Boys' names.
const BOYS: &[&str] = &[
    "Александр",
    "Дмитрий",
    "Максим",
    "Сергей",
    "Андрей",
    "Алексей",
    "Артём",
    "Илья",
    "Кирилл",
    "Михаил",
    "Никита",
    "Матвей",
    "Роман",
    "Егор",
    "Иван",
    "Тимофей",
    "Даниил",
    "Владимир",
    "Павел",
    "Глеб",
    "Лев",
    "Марк",
    "Фёдор",
];

/// Girls' names.
const GIRLS: &[&str] = &[
    "Анна",
    "Мария",
    "Елена",
    "Дарья",
    "Алина",
    "Ирина",
    "Екатерина",
    "Арина",
    "Полина",
    "Ольга",
    "Юлия",
    "Татьяна",
    "Виктория",
    "Елизавета",
    "Анастасия",
    "Софья",
    "Варвара",
    "Алиса",
    "Ксения",
    "Вероника",
    "Милана",
    "Ева",
];

/// Fathers' names with the patronymics they give a son and a daughter.
const PATRONYMICS: &[(&str, &str, &str)] = &[
    ("Александр", "Александрович", "Александровна"),
    ("Дмитрий", "Дмитриевич", "Дмитриевна"),
    ("Сергей", "Сергеевич", "Сергеевна"),
    ("Андрей", "Андреевич", "Андреевна"),
    ("Алексей", "Алексеевич", "Алексеевна"),
    ("Михаил", "Михайлович", "Михайловна"),
    ("Иван", "Иванович", "Ивановна"),
    ("Владимир", "Владимирович", "Владимировна"),
    ("Павел", "Павлович", "Павловна"),
    ("Николай", "Николаевич", "Николаевна"),
    ("Евгений", "Евгеньевич", "Евгеньевна"),
    ("Олег", "Олегович", "Олеговна"),
    ("Игорь", "Игоревич", "Игоревна"),
    ("Денис", "Денисович", "Денисовна"),
    ("Максим", "Максимович", "Максимовна"),
    ("Роман", "Романович", "Романовна"),
    ("Артём", "Артёмович", "Артёмовна"),
    ("Виктор", "Викторович", "Викторовна"),
    ("Юрий", "Юрьевич", "Юрьевна"),
    ("Константин", "Константинович", "Константиновна"),
];

/// School names by kind; `{}` is the school's number.
const SCHOOL_KINDS: &[&str] = &[
    "МБОУ «Средняя общеобразовательная школа № {}»",
    "МАОУ «Гимназия № {}»",
    "МБОУ «Лицей № {}»",
    "МБОУ «Средняя общеобразовательная школа № {} с углублённым изучением отдельных предметов»",
    "МБОУ «Основная общеобразовательная школа № {}»",
];

/// Municipalities' OKTMO codes: the first two schools share the city's, the others are in districts.
const OKTMO: &[&str] = &[fixtures::OKTMO_CITY, fixtures::OKTMO_CITY, "46735000", "46748000", "46756000", "46768000"];

/// Holidays on which no lessons are held: (month, day).
const HOLIDAYS: &[(Month, u8)] = &[
    (Month::November, 4),
    (Month::February, 23),
    (Month::March, 8),
    (Month::May, 1),
    (Month::May, 9),
    (Month::June, 12),
];

/// A subject of a grade's curriculum.
#[derive(Debug, Clone, Copy)]
struct Subject {
    /// Its name.
    name: &'static str,
    /// Lessons a week.
    hours: u8,
    /// Marked pass/fail rather than on the scale.
    pass_fail: bool,
}

/// The curriculum of `grade`, in journal order (a simplified federal curriculum).
fn curriculum(grade: u8) -> Vec<Subject> {
    let numeric = |name, hours| Subject { name, hours, pass_fail: false };
    let pass_fail = |name, hours| Subject { name, hours, pass_fail: true };
    let mut subjects = match grade {
        1..=4 => vec![
            numeric("Русский язык", 5),
            numeric("Литературное чтение", if grade < 4 { 4 } else { 3 }),
            numeric("Иностранный язык (английский)", if grade > 1 { 2 } else { 0 }),
            numeric("Математика", 4),
            numeric("Окружающий мир", 2),
            pass_fail("Основы религиозных культур и светской этики", u8::from(grade == 4)),
            numeric("Изобразительное искусство", 1),
            numeric("Музыка", 1),
            numeric("Труд (технология)", 1),
            numeric("Физическая культура", 2),
        ],
        5..=6 => vec![
            numeric("Русский язык", if grade == 5 { 5 } else { 6 }),
            numeric("Литература", 3),
            numeric("Иностранный язык (английский)", 3),
            numeric("Математика", 5),
            numeric("История", 2),
            numeric("Обществознание", u8::from(grade == 6)),
            numeric("География", 1),
            numeric("Биология", 1),
            pass_fail("Основы духовно-нравственной культуры народов России", u8::from(grade == 5)),
            numeric("Изобразительное искусство", 1),
            numeric("Музыка", 1),
            numeric("Труд (технология)", 2),
            numeric("Физическая культура", 2),
        ],
        7..=9 => vec![
            numeric("Русский язык", if grade == 7 { 4 } else { 3 }),
            numeric("Литература", if grade == 9 { 3 } else { 2 }),
            numeric("Иностранный язык (английский)", 3),
            numeric("Алгебра", 3),
            numeric("Геометрия", 2),
            numeric("Вероятность и статистика", 1),
            numeric("Информатика", 1),
            numeric("История", 2),
            numeric("Обществознание", 1),
            numeric("География", 2),
            numeric("Физика", if grade == 9 { 3 } else { 2 }),
            numeric("Химия", if grade == 7 { 0 } else { 2 }),
            numeric("Биология", if grade == 7 { 1 } else { 2 }),
            numeric("Изобразительное искусство", u8::from(grade == 7)),
            numeric("Музыка", u8::from(grade < 9)),
            numeric("Труд (технология)", u8::from(grade < 9)),
            numeric("Основы безопасности и защиты Родины", u8::from(grade > 7)),
            numeric("Физическая культура", 2),
        ],
        _ => vec![
            numeric("Русский язык", 2),
            numeric("Литература", 3),
            numeric("Иностранный язык (английский)", 3),
            numeric("Алгебра", 3),
            numeric("Геометрия", 2),
            numeric("Вероятность и статистика", 1),
            numeric("Информатика", 1),
            numeric("История", 2),
            numeric("Обществознание", 2),
            numeric("География", 1),
            numeric("Физика", 2),
            numeric("Химия", 1),
            numeric("Биология", 1),
            numeric("Основы безопасности и защиты Родины", 1),
            pass_fail("Индивидуальный проект", u8::from(grade == 10)),
            numeric("Физическая культура", 2),
        ],
    };
    subjects.retain(|subject| subject.hours > 0);
    subjects
}

/// The topics a subject goes through in a term, in order.
fn topics(subject: &str, grade: u8) -> &'static [&'static str] {
    let primary = grade <= 4;
    match subject {
        "Русский язык" if primary => &[
            "Звуки и буквы",
            "Гласные и согласные звуки",
            "Ударение. Слог",
            "Перенос слов",
            "Правописание жи–ши, ча–ща, чу–щу",
            "Состав слова. Корень",
            "Однокоренные слова",
            "Безударные гласные в корне",
            "Парные согласные в корне",
            "Предложение и текст",
        ],
        "Русский язык" => &[
            "Повторение изученного в начальной школе",
            "Морфемика и словообразование",
            "Правописание корней с чередованием",
            "Правописание приставок",
            "Имя существительное как часть речи",
            "Склонение имён существительных",
            "Имя прилагательное",
            "Глагол: вид и время",
            "Словосочетание",
            "Простое предложение. Грамматическая основа",
            "Знаки препинания при однородных членах",
            "Сложное предложение",
        ],
        "Литературное чтение" => &[
            "Устное народное творчество",
            "Русские народные сказки",
            "Басни И. А. Крылова",
            "А. С. Пушкин. Стихи о природе",
            "Л. Н. Толстой. Рассказы для детей",
            "Стихи об осени русских поэтов",
            "Рассказы о животных",
            "Произведения о детях",
        ],
        "Литература" => &[
            "Мифы и былины",
            "А. С. Пушкин. «Сказка о мёртвой царевне и о семи богатырях»",
            "М. Ю. Лермонтов. «Бородино»",
            "Н. В. Гоголь. «Вечера на хуторе близ Диканьки»",
            "И. С. Тургенев. «Муму»",
            "Н. А. Некрасов. Стихотворения",
            "Л. Н. Толстой. «Кавказский пленник»",
            "А. П. Чехов. Рассказы",
            "Развитие речи: подготовка к сочинению",
        ],
        "Иностранный язык (английский)" => &[
            "Greetings and introductions",
            "My family",
            "School life",
            "Present Simple",
            "Present Continuous",
            "Daily routine",
            "Hobbies and free time",
            "Past Simple: regular verbs",
            "Past Simple: irregular verbs",
            "Reading: a short story",
        ],
        "Математика" if primary => &[
            "Числа от 1 до 100. Нумерация",
            "Сложение и вычитание в пределах 100",
            "Таблица умножения",
            "Деление",
            "Решение задач в два действия",
            "Единицы длины",
            "Периметр многоугольника",
            "Порядок действий в выражениях",
        ],
        "Математика" => &[
            "Натуральные числа и шкалы",
            "Сложение и вычитание натуральных чисел",
            "Умножение и деление натуральных чисел",
            "Упрощение выражений",
            "Площади и объёмы",
            "Обыкновенные дроби",
            "Сложение и вычитание дробей с одинаковыми знаменателями",
            "Десятичные дроби",
            "Округление чисел",
            "Проценты",
        ],
        "Алгебра" => &[
            "Выражения с переменными",
            "Тождественные преобразования",
            "Линейное уравнение с одной переменной",
            "Функции и их графики",
            "Степень с натуральным показателем",
            "Одночлены и многочлены",
            "Формулы сокращённого умножения",
            "Системы линейных уравнений",
        ],
        "Геометрия" => &[
            "Начальные геометрические сведения",
            "Треугольники",
            "Признаки равенства треугольников",
            "Параллельные прямые",
            "Соотношения между сторонами и углами треугольника",
            "Окружность",
            "Задачи на построение",
        ],
        "Вероятность и статистика" => &[
            "Представление данных в таблицах и диаграммах",
            "Описательная статистика: среднее и медиана",
            "Случайная изменчивость",
            "Случайные события и вероятность",
        ],
        "Информатика" => &[
            "Информация и информационные процессы",
            "Компьютер и его устройство",
            "Файлы и файловая система",
            "Системы счисления",
            "Алгоритмы и исполнители",
        ],
        "История" => &[
            "Древний Восток",
            "Древняя Греция",
            "Древний Рим",
            "Русь в IX – начале XII века",
            "Россия в XVI веке",
            "Смутное время",
            "Эпоха Петра I",
            "Российская империя в XIX веке",
        ],
        "Обществознание" => &[
            "Человек и общество",
            "Семья и её роль в жизни человека",
            "Права и обязанности гражданина",
            "Экономика и её роль в жизни общества",
            "Государство и политика",
        ],
        "География" => &[
            "Земля во Вселенной",
            "План местности и географическая карта",
            "Литосфера",
            "Гидросфера",
            "Атмосфера и климаты Земли",
            "Природные зоны",
        ],
        "Биология" => &[
            "Биология — наука о живой природе",
            "Клетка — основа строения организмов",
            "Ткани и органы",
            "Многообразие растений",
            "Царство Животные",
            "Экосистемы",
        ],
        "Физика" => &[
            "Физика и методы изучения природы",
            "Строение вещества",
            "Механическое движение",
            "Масса и плотность",
            "Силы в природе",
            "Давление твёрдых тел, жидкостей и газов",
            "Работа и мощность",
        ],
        "Химия" => &[
            "Первоначальные химические понятия",
            "Атомы и молекулы",
            "Химические формулы и валентность",
            "Кислород и водород",
            "Вода и растворы",
            "Основные классы неорганических соединений",
        ],
        "Окружающий мир" => &[
            "Природа и человек",
            "Неживая и живая природа",
            "Растения и животные нашего края",
            "Времена года",
            "Наша Родина — Россия",
            "Правила безопасного поведения",
        ],
        "Изобразительное искусство" => {
            &["Рисунок с натуры", "Цвет и настроение", "Декоративная роспись", "Народные промыслы"]
        }
        "Музыка" => {
            &["Музыка народов России", "Классическая музыка", "Музыкальные жанры", "Музыка в театре и кино"]
        }
        "Труд (технология)" => &[
            "Материалы и их свойства",
            "Работа с бумагой и картоном",
            "Проектирование изделия",
            "Технологии обработки материалов",
        ],
        "Физическая культура" => &[
            "Лёгкая атлетика: бег на короткие дистанции",
            "Лёгкая атлетика: прыжок в длину",
            "Подвижные игры",
            "Баскетбол: ведение мяча",
            "Волейбол: передача мяча",
            "Гимнастика: строевые упражнения",
        ],
        "Основы безопасности и защиты Родины" => {
            &["Безопасность в быту", "Безопасность на дорогах", "Первая помощь", "Основы обороны государства"]
        }
        "Основы религиозных культур и светской этики" => {
            &["Россия — наша Родина", "Культура и мораль", "Добро и зло", "Семейные ценности"]
        }
        "Основы духовно-нравственной культуры народов России" => {
            &["Культура как социальность", "Семья — хранитель духовных ценностей", "Традиции народов России"]
        }
        "Индивидуальный проект" => {
            &["Выбор темы проекта", "Постановка цели и задач", "Работа с источниками", "Оформление проекта"]
        }
        _ => &["Повторение"],
    }
}

/// The kind of work done at the `count`-th lesson of a subject in the term, and its weight.
fn work(subject: &Subject, count: usize) -> (&'static str, u8) {
    let name = subject.name;
    if subject.pass_fail {
        return if count % 4 == 3 {
            ("Творческая работа", 2)
        } else {
            ("Работа на уроке", 1)
        };
    }
    if name == "Физическая культура" {
        return if count % 6 == 5 {
            ("Сдача нормативов", 2)
        } else {
            ("Работа на уроке", 1)
        };
    }
    if subject.hours >= 2 && count % 8 == 7 {
        return match name {
            "Русский язык" => ("Диктант", 3),
            "Литература" => ("Сочинение", 3),
            _ => ("Контрольная работа", 3),
        };
    }
    if count % 4 == 2 {
        return match name {
            "Физика" | "Химия" | "Биология" if count % 8 == 2 => ("Лабораторная работа", 2),
            "Литература" | "Литературное чтение" => ("Чтение наизусть", 2),
            "Иностранный язык (английский)" => ("Словарный диктант", 2),
            "Русский язык" => ("Проверочная работа", 2),
            _ => ("Самостоятельная работа", 2),
        };
    }
    if count % 3 == 1 {
        ("Домашнее задание", 1)
    } else {
        ("Работа на уроке", 1)
    }
}

/// What the generator keeps while it works.
struct Gen {
    /// Randomness.
    rng: Rng,
    /// The first year of the school year the term belongs to.
    school_year: i32,
    /// The term's first day.
    term_from: Date,
    /// The term's last day.
    term_to: Date,
    /// The term's number in the school year.
    term: u8,
    /// SNILS heads given out (and the fixtures'), so that no two guardians share one.
    snils_heads: HashSet<[u8; 9]>,
}

/// A class as the generator builds it: the record and what marks need.
struct GenClass {
    /// The class as written.
    rec: ClassRec,
    /// Its grade.
    grade: u8,
    /// Its curriculum, in the order of `rec.subjects`.
    subjects: Vec<Subject>,
}

/// A family: one surname and father's name for the children, one or two guardians.
struct Family {
    /// The male form of the surname.
    surname: &'static str,
    /// Index into [`PATRONYMICS`].
    father: usize,
    /// The guardians and how their consent stands.
    guardians: Vec<(Snils, Consent)>,
}

/// How a guardian's consent stands.
#[derive(Debug, Clone, Copy)]
enum Consent {
    /// Given on that date.
    Given(Date),
    /// Never given.
    Missing,
    /// Given, then withdrawn.
    Withdrawn(Date, Date),
}

/// Builds the whole data file.
fn build(seed: u64, schools: usize, pupils_per_school: usize, term_from: Date, term_to: Date) -> DataFile {
    let school_year = if term_from.month() as u8 >= 8 { term_from.year() } else { term_from.year() - 1 };
    let term = match term_from.month() as u8 {
        9 | 10 => 1,
        11 | 12 => 2,
        1..=3 => 3,
        _ => 4,
    };
    let mut gen = Gen { rng: Rng(seed), school_year, term_from, term_to, term, snils_heads: HashSet::new() };
    for fixed in [
        fixtures::PARENT_WITH_CONSENT,
        fixtures::PARENT_WITHOUT_CONSENT,
        fixtures::PARENT_CONSENT_WITHDRAWN,
        fixtures::UNKNOWN_SNILS,
    ] {
        gen.snils_heads.insert(head_of(fixed));
    }
    let school_recs: Vec<SchoolRec> = (0..schools.max(1)).map(school_rec).collect();
    let (mut classes, mut pupils, mut guardians) = (Vec::new(), Vec::new(), Vec::new());
    for (index, school) in school_recs.iter().enumerate() {
        let school_classes = gen.classes(&school.code);
        let (school_pupils, school_guardians) = gen.populate(index, &school.code, &school_classes, pupils_per_school);
        classes.extend(school_classes.into_iter().map(|class| class.rec));
        pupils.extend(school_pupils);
        guardians.extend(school_guardians);
    }
    DataFile {
        format: FORMAT.to_owned(),
        schools: school_recs,
        classes,
        pupils,
        guardians,
        applications: fixture_applications(),
        kindergartens: kindergarten_recs(schools.max(1) * KINDERGARTENS_PER_SCHOOL),
        benefit_categories: benefit_categories(),
        kindergarten_queue: KindergartenGen::new(seed, schools.max(1) * KINDERGARTENS_PER_SCHOOL).queue(),
        kindergarten_statuses: Vec::new(),
    }
}

/// Kindergartens per school of the region (the demo's 4 schools give 40 kindergartens).
const KINDERGARTENS_PER_SCHOOL: usize = 10;
/// Queue entries per kindergarten (the demo's 40 kindergartens give 3000 applications filed in person).
const QUEUE_PER_KINDERGARTEN: usize = 75;

/// Kindergartens' names ("Детский сад № N «…»").
const KINDERGARTEN_NAMES: &[&str] = &[
    "Солнышко",
    "Ромашка",
    "Колокольчик",
    "Берёзка",
    "Теремок",
    "Звёздочка",
    "Радуга",
    "Сказка",
    "Улыбка",
    "Светлячок",
    "Золотой ключик",
    "Алёнушка",
    "Журавушка",
    "Родничок",
    "Ладушки",
    "Белочка",
    "Незабудка",
    "Рябинка",
];

/// Streets of the kindergartens' addresses.
const STREETS: &[&str] = &[
    "ул. Ленина",
    "ул. Мира",
    "ул. Садовая",
    "ул. Школьная",
    "ул. Лесная",
    "ул. Советская",
    "ул. Молодёжная",
    "ул. Центральная",
    "пр. Победы",
    "ул. Гагарина",
    "ул. Пушкина",
    "ул. Заводская",
];

/// Towns by OKTMO, in the order of [`OKTMO`].
const TOWNS: &[&str] = &["г. Красногорск", "г. Красногорск", "г. Дмитров", "г. Клин", "г. Коломна", "г. Луховицы"];

/// The age groups every kindergarten has: name, ages (full years on the entry date), base capacity.
const GROUPS: &[(&str, u8, u8, u16)] = &[
    ("группа раннего возраста", 0, 2, 15),
    ("младшая группа", 3, 3, 20),
    ("средняя группа", 4, 4, 25),
    ("старшая группа", 5, 5, 25),
    ("подготовительная группа", 6, 7, 25),
];

/// The region's benefit categories: code, name, right.
const BENEFITS: &[(&str, &str, &str)] = &[
    ("01", "Дети прокуроров", "out_of_turn"),
    ("02", "Дети судей", "out_of_turn"),
    ("03", "Дети сотрудников Следственного комитета", "out_of_turn"),
    ("04", "Дети военнослужащих", "first_turn"),
    ("05", "Дети сотрудников полиции", "first_turn"),
    ("06", "Дети из многодетных семей", "first_turn"),
    ("07", "Дети-инвалиды и дети, один из родителей которых инвалид", "first_turn"),
    ("08", "Братья и сёстры детей, посещающих тот же детский сад", "priority"),
];

/// Languages of education (ESNSI code, text), weighted by repetition: almost all Russian.
const LANGUAGES: &[(&str, &str)] =
    &[("1", "русский"), ("1", "русский"), ("1", "русский"), ("1", "русский"), ("2", "татарский")];

/// Day schedules (ESNSI code, text), weighted: mostly full day.
const SCHEDULES: &[(&str, &str)] =
    &[("1", "полного дня"), ("1", "полного дня"), ("1", "полного дня"), ("2", "кратковременного пребывания")];

/// Group orientations (ESNSI code, text), weighted: mostly general.
const GROUP_KINDS: &[(&str, &str)] = &[
    ("1", "общеразвивающая"),
    ("1", "общеразвивающая"),
    ("1", "общеразвивающая"),
    ("1", "общеразвивающая"),
    ("1", "общеразвивающая"),
    ("2", "компенсирующая"),
    ("3", "комбинированная"),
];

/// A dictionary value as written.
fn coded(&(code, text): &(&str, &str)) -> CodedRec {
    CodedRec { code: code.to_owned(), text: text.to_owned() }
}

/// Series of Russian birth certificates: a Roman numeral and two Cyrillic letters.
const CERTIFICATE_SERIES: &[&str] = &["I-МЮ", "II-МЮ", "III-МЮ", "IV-ИК", "V-ИК", "I-ДН", "II-ДН", "VI-АГ"];

/// The region's kindergartens.
fn kindergarten_recs(count: usize) -> Vec<KindergartenRec> {
    (0..count)
        .map(|i| {
            let town = i % TOWNS.len();
            let groups = GROUPS
                .iter()
                .enumerate()
                .map(|(j, &(name, age_from, age_to, capacity))| GroupRec {
                    name: name.to_owned(),
                    age_from,
                    age_to,
                    capacity: capacity + ((i * 7 + j * 3) % 6) as u16,
                })
                .collect();
            KindergartenRec {
                code: fixtures::kindergarten_code(i),
                name: format!("МБДОУ «Детский сад № {} «{}»", i + 1, KINDERGARTEN_NAMES[i % KINDERGARTEN_NAMES.len()]),
                oktmo: OKTMO[town].to_owned(),
                address: format!("{}, {}, д. {}", TOWNS[town], STREETS[(i * 5) % STREETS.len()], 1 + (i * 13) % 60),
                groups,
            }
        })
        .collect()
}

/// The benefit categories as written.
fn benefit_categories() -> Vec<BenefitCategoryRec> {
    BENEFITS
        .iter()
        .map(|&(code, name, right)| BenefitCategoryRec {
            code: code.to_owned(),
            name: name.to_owned(),
            right: right.to_owned(),
        })
        .collect()
}

/// What the queue's generator keeps: its own random stream (so the schools' data do not change with it).
struct KindergartenGen {
    /// Randomness.
    rng: Rng,
    /// How many kindergartens there are.
    kindergartens: usize,
}

impl KindergartenGen {
    /// A generator for `kindergartens` kindergartens.
    fn new(seed: u64, kindergartens: usize) -> KindergartenGen {
        KindergartenGen { rng: Rng(seed ^ 0x4B47_5155_4555_4500), kindergartens }
    }

    /// The queue: the fixture's entry, then applications filed in person over the three years before the demo's
    /// term ends, with children of 0 to 7 on their entry dates, rights, priorities and statuses.
    fn queue(mut self) -> Vec<QueueEntryRec> {
        let count = self.kindergartens * QUEUE_PER_KINDERGARTEN;
        let mut filed: Vec<time::OffsetDateTime> = (1..count).map(|_| self.filing_time()).collect();
        filed.sort();
        let mut queue = vec![fixtures::kindergarten_entry()];
        for (i, at) in filed.into_iter().enumerate() {
            queue.push(self.entry(i + 2, at));
        }
        queue
    }

    /// A filing time within the three years before the demo's term ends, in office hours (Moscow time).
    fn filing_time(&mut self) -> time::OffsetDateTime {
        let day = fixtures::DEMO_TERM_TO - Duration::days(1 + self.rng.below(3 * 365) as i64);
        let time = time::Time::from_hms(9 + self.rng.below(8) as u8, self.rng.below(60) as u8, 0).expect("a time");
        day.with_time(time).assume_offset(time::macros::offset!(+3))
    }

    /// The `seq`-th application, filed at `at`.
    fn entry(&mut self, seq: usize, at: time::OffsetDateTime) -> QueueEntryRec {
        // Entry from the next September or January on; the child is 0 to 7 then, born before filing.
        let entry = Date::from_calendar_date(
            2027 + self.rng.below(2) as i32,
            *self.rng.pick(&[Month::January, Month::September]),
            1,
        )
        .expect("a date");
        let age_days = 60 + self.rng.below(7 * 365) as i64;
        let birth = (entry - Duration::days(age_days)).min(at.date() - Duration::days(14));
        let (status, comment) = self.status();
        let first = self.rng.below(self.kindergartens);
        let mut wanted = vec![(fixtures::kindergarten_code(first), 1u8)];
        for priority in 2..=(1 + self.rng.below(3)) as u8 {
            let code = fixtures::kindergarten_code((first + 1 + self.rng.below(5)) % self.kindergartens);
            if wanted.iter().all(|(c, _)| *c != code) {
                wanted.push((code, priority));
            }
        }
        let benefit = match self.rng.below(100) {
            0..=1 => Some(BENEFITS[self.rng.below(3)].0),
            2..=11 => Some(BENEFITS[3 + self.rng.below(4)].0),
            12..=19 => Some(BENEFITS[7].0),
            _ => None,
        };
        QueueEntryRec {
            number: format!("ДОУ-{}-{seq:06}", at.year()),
            filed_at: at.format(&time::format_description::well_known::Rfc3339).expect("a timestamp"),
            status,
            changed_at: None,
            comment,
            child: self.child(birth),
            kindergartens: wanted,
            entry_date: format_date(entry),
            benefit: benefit.map(str::to_owned),
            offered: None,
            address: Some(self.address(first)),
            language: Some(coded(self.rng.pick(LANGUAGES))),
            schedule: Some(coded(self.rng.pick(SCHEDULES))),
            group: Some(coded(self.rng.pick(GROUP_KINDS))),
        }
    }

    /// A home address in the town of the `kindergarten`-th kindergarten.
    fn address(&mut self, kindergarten: usize) -> String {
        let town = TOWNS[kindergarten % TOWNS.len()];
        let street = self.rng.pick(STREETS);
        format!("{town}, {street}, д. {}, кв. {}", 1 + self.rng.below(80), 1 + self.rng.below(150))
    }

    /// A status: most wait (140), some are being reviewed, some got a place or were enrolled or archived.
    fn status(&mut self) -> (u16, Option<String>) {
        let (code, comment) = match self.rng.below(100) {
            // The most common statuses go without a comment, to keep the file small: the standard text is implied.
            0..=9 => (110, None),
            10..=19 => (120, Some("Начато рассмотрение заявления")),
            20..=24 => (130, Some("Подтвердите льготу: принесите документы в управление образования")),
            25..=79 => (140, None),
            80..=84 => (160, Some("Свободных мест в выбранных детских садах сейчас нет")),
            85..=89 => (190, Some("Предоставлено место, явитесь в детский сад с документами в течение 14 дней")),
            90..=94 => (250, Some("Ребёнок зачислен в детский сад")),
            _ => (150, Some("Заявление аннулировано: ребёнку исполнилось 7 лет")),
        };
        (code, comment.map(str::to_owned))
    }

    /// A child born on `birth`, with a birth document: mostly a Russian certificate, sometimes only the act, rarely
    /// a foreign one.
    fn child(&mut self, birth: Date) -> ChildRec {
        let boy = self.rng.chance(0.51);
        let surname = *self.rng.pick(SURNAMES);
        let (_, son, daughter) = *self.rng.pick(PATRONYMICS);
        let issued = birth + Duration::days(3 + self.rng.below(20) as i64);
        let act_number = format!("1{:08}{:03}", self.rng.below(100_000_000), self.rng.below(1000));
        let birth_doc = match self.rng.below(20) {
            0..=16 => BirthDocRec::Russian {
                series: (*self.rng.pick(CERTIFICATE_SERIES)).to_owned(),
                number: format!("{:06}", self.rng.below(1_000_000)),
                issue_date: format_date(issued),
                act_number: Some(act_number),
                act_date: Some(format_date(issued)),
                issued: "Отдел ЗАГС".to_owned(),
            },
            17..=18 => BirthDocRec::Act { act_number, act_date: format_date(issued), issued: None },
            _ => BirthDocRec::Foreign {
                name: "Свидетельство о рождении".to_owned(),
                series: None,
                number: format!("{:09}", self.rng.below(1_000_000_000)),
                issue_date: format_date(issued),
                issued: "Civil registry".to_owned(),
            },
        };
        ChildRec {
            surname: if boy { surname.to_owned() } else { format!("{surname}а") },
            name: (*if boy { self.rng.pick(BOYS) } else { self.rng.pick(GIRLS) }).to_owned(),
            middle_name: Some((if boy { son } else { daughter }).to_owned()),
            birth_date: format_date(birth),
            birth_doc: Some(birth_doc),
        }
    }
}

/// The `index`-th school.
fn school_rec(index: usize) -> SchoolRec {
    let number = [1, 7, 12, 24, 31, 40, 45, 52][index % 8] + 60 * (index / 8);
    SchoolRec {
        code: format!("SCH-{:03}", index + 1),
        name: SCHOOL_KINDS[index % SCHOOL_KINDS.len()].replace("{}", &number.to_string()),
        oktmo: OKTMO[index % OKTMO.len()].to_owned(),
    }
}

/// The nine digits of a SNILS written `XXX-XXX-XXX YY`.
fn head_of(snils: &str) -> [u8; 9] {
    let digits: Vec<u8> = snils.bytes().filter(u8::is_ascii_digit).map(|b| b - b'0').take(9).collect();
    digits.try_into().expect("a fixture SNILS has nine digits before its check number")
}

/// The applications the school already holds, with their statuses.
fn fixture_applications() -> Vec<ApplicationRec> {
    let rec = |order_id, status, changed_at: &str, comment: &str| ApplicationRec {
        order_id,
        status,
        changed_at: Some(changed_at.to_owned()),
        comment: Some(comment.to_owned()),
    };
    vec![
        rec(
            fixtures::ORDER_ENROLLED,
            250,
            "2026-08-28T12:00:00+03:00",
            "Зачислен в 1А класс, приказ № 112-у от 28.08.2026",
        ),
        rec(
            fixtures::ORDER_PLACE_OFFERED,
            190,
            "2026-11-18T09:30:00+03:00",
            "Предоставлено место во 2Б классе; оригиналы документов — до 30.11.2026",
        ),
        rec(fixtures::ORDER_UNDER_REVIEW, 120, "2026-11-20T15:45:00+03:00", "Заявление принято к рассмотрению"),
    ]
}

impl Gen {
    /// The classes 1А..11Б of a school, each with the term's journal.
    fn classes(&mut self, school: &str) -> Vec<GenClass> {
        let mut classes = Vec::with_capacity(22);
        for grade in 1..=11u8 {
            for letter in ['А', 'Б'] {
                let name = format!("{grade}{letter}");
                let subjects = curriculum(grade);
                let lessons = self.journal(grade, &subjects);
                let rec = ClassRec {
                    id: format!("{school}:{name}"),
                    school: school.to_owned(),
                    name,
                    subjects: subjects.iter().map(|subject| subject.name.to_owned()).collect(),
                    lessons,
                };
                classes.push(GenClass { rec, grade, subjects });
            }
        }
        classes
    }

    /// A term of lessons: a weekly timetable (the subjects' hours spread over five days), followed day by day.
    fn journal(&mut self, grade: u8, subjects: &[Subject]) -> Vec<LessonRec> {
        let mut slots: Vec<usize> = subjects
            .iter()
            .enumerate()
            .flat_map(|(i, subject)| std::iter::repeat_n(i, subject.hours as usize))
            .collect();
        self.rng.shuffle(&mut slots);
        let mut days: Vec<Vec<usize>> = vec![Vec::new(); 5];
        for (n, slot) in slots.into_iter().enumerate() {
            days[n % 5].push(slot);
        }
        let mut counts = vec![0usize; subjects.len()];
        let mut lessons = Vec::new();
        let mut date = self.term_from;
        while date <= self.term_to {
            if let Some(day) = school_day(date) {
                for &i in &days[day] {
                    lessons.push(lesson(date, i, &subjects[i], grade, counts[i]));
                    counts[i] += 1;
                }
            }
            date = date.next_day().expect("term dates are far from the calendar's end");
        }
        lessons
    }

    /// Fills a school with families until it has `pupils` pupils (the first school starts with the fixtures).
    fn populate(
        &mut self,
        school_index: usize,
        school: &str,
        classes: &[GenClass],
        pupils: usize,
    ) -> (Vec<PupilRec>, Vec<GuardianRec>) {
        let (mut pupil_recs, mut guardian_recs) =
            if school_index == 0 { self.fixture_families(classes) } else { (Vec::new(), Vec::new()) };
        let mut places: Vec<usize> = (0..pupils.saturating_sub(pupil_recs.len())).map(|n| n % classes.len()).collect();
        self.rng.shuffle(&mut places);
        let mut places = places.into_iter().peekable();
        while places.peek().is_some() {
            let size = match self.rng.below(20) {
                0 => 3,
                1..=4 => 2,
                _ => 1,
            };
            let family = self.family();
            let children: Vec<usize> = places.by_ref().take(size).collect();
            let mut ids = Vec::new();
            for class in children {
                let id = format!("{school}-{:04}", pupil_recs.len() + 1);
                let boy = self.rng.chance(0.5);
                let birth = self.birth_date(classes[class].grade);
                pupil_recs.push(self.pupil(&id, &family, boy, birth, &classes[class]));
                ids.push(id);
            }
            guardian_recs.extend(guardians(&family, &ids));
        }
        (pupil_recs, guardian_recs)
    }

    /// The fixtures' two families, in the first school.
    fn fixture_families(&mut self, classes: &[GenClass]) -> (Vec<PupilRec>, Vec<GuardianRec>) {
        let class = |name: &str| classes.iter().find(|class| class.rec.name == name).expect("classes 1А..11Б exist");
        let parent = |snils: &str| Snils::parse(snils).expect("fixture SNILS are valid");
        let father = |name: &str| PATRONYMICS.iter().position(|(father, _, _)| *father == name).expect("a listed name");
        let ivanovs = Family {
            surname: "Иванов",
            father: father("Сергей"),
            guardians: vec![
                (parent(fixtures::PARENT_WITH_CONSENT), Consent::Given(self.day(8, 29))),
                (parent(fixtures::PARENT_WITHOUT_CONSENT), Consent::Missing),
            ],
        };
        let petrovs = Family {
            surname: "Петров",
            father: father("Андрей"),
            guardians: vec![(
                parent(fixtures::PARENT_CONSENT_WITHDRAWN),
                Consent::Withdrawn(self.day(8, 30), self.day(10, 12)),
            )],
        };
        let anna = self.named_pupil(fixtures::CHILD_ANNA, &ivanovs, "Анна", false, (2015, 4, 17), class("5А"));
        let mikhail = self.named_pupil(fixtures::CHILD_MIKHAIL, &ivanovs, "Михаил", true, (2012, 10, 3), class("8Б"));
        let nikita = self.named_pupil(fixtures::CHILD_NIKITA, &petrovs, "Никита", true, (2017, 6, 21), class("3А"));
        let mut guardian_recs = guardians(&ivanovs, &[fixtures::CHILD_ANNA.into(), fixtures::CHILD_MIKHAIL.into()]);
        guardian_recs.extend(guardians(&petrovs, &[fixtures::CHILD_NIKITA.into()]));
        (vec![anna, mikhail, nikita], guardian_recs)
    }

    /// A fixture pupil with a given name and birth date.
    fn named_pupil(
        &mut self,
        id: &str,
        family: &Family,
        name: &str,
        boy: bool,
        (year, month, day): (i32, u8, u8),
        class: &GenClass,
    ) -> PupilRec {
        let birth = Date::from_calendar_date(year, Month::try_from(month).expect("a month"), day).expect("a date");
        let mut rec = self.pupil(id, family, boy, birth, class);
        rec.name = name.to_owned();
        rec.middle_name = Some(patronymic(family, boy).to_owned());
        rec
    }

    /// A new family with random names and guardians.
    fn family(&mut self) -> Family {
        let surname = *self.rng.pick(SURNAMES);
        let father = self.rng.below(PATRONYMICS.len());
        let count = if self.rng.chance(0.3) { 1 } else { 2 };
        let guardians = (0..count).map(|_| (self.snils(), self.consent())).collect();
        Family { surname, father, guardians }
    }

    /// A pupil of `family` in `class`, with marks.
    fn pupil(&mut self, id: &str, family: &Family, boy: bool, birth: Date, class: &GenClass) -> PupilRec {
        let name = if boy { *self.rng.pick(BOYS) } else { *self.rng.pick(GIRLS) };
        let surname = if boy { family.surname.to_owned() } else { format!("{}а", family.surname) };
        let middle_name = (!self.rng.chance(0.03)).then(|| patronymic(family, boy).to_owned());
        let (marks, terms) = self.marks(class);
        PupilRec {
            id: id.to_owned(),
            surname,
            name: name.to_owned(),
            middle_name,
            birth_date: format_date(birth),
            class: class.rec.id.clone(),
            marks,
            terms,
            year: Vec::new(),
        }
    }

    /// A birth date that fits `grade`: 6½ to 7½ years old on 1 September for grade 1, a year older per grade.
    fn birth_date(&mut self, grade: u8) -> Date {
        let earliest = Date::from_calendar_date(self.school_year - grade as i32 - 6, Month::March, 1).expect("a date");
        earliest + Duration::days(self.rng.below(365) as i64)
    }

    /// A new SNILS that no one else has.
    fn snils(&mut self) -> Snils {
        loop {
            let number = 100_000_000 + self.rng.below(900_000_000);
            let mut head = [0u8; 9];
            for (i, digit) in head.iter_mut().enumerate() {
                *digit = (number / 10usize.pow(8 - i as u32) % 10) as u8;
            }
            if self.snils_heads.insert(head) {
                return Snils::from_head(head);
            }
        }
    }

    /// A guardian's consent: mostly given before the school year, sometimes never, sometimes withdrawn in autumn.
    fn consent(&mut self) -> Consent {
        let given = self.day(8, 20) + Duration::days(self.rng.below(27) as i64);
        match self.rng.below(50) {
            0..=2 => Consent::Missing,
            3..=5 => Consent::Withdrawn(given, self.day(10, 1) + Duration::days(self.rng.below(40) as i64)),
            _ => Consent::Given(given),
        }
    }

    /// A day of the school year's autumn (month 8..=12 of its first year).
    fn day(&self, month: u8, day: u8) -> Date {
        Date::from_calendar_date(self.school_year, Month::try_from(month).expect("a month"), day).expect("a date")
    }

    /// A pupil's lesson marks (none in grade 1, which is not marked) and term marks, drawn around their level.
    #[allow(clippy::type_complexity)]
    fn marks(&mut self, class: &GenClass) -> (Vec<(usize, String)>, Vec<(String, u8, String)>) {
        if class.grade == 1 {
            return (Vec::new(), Vec::new());
        }
        let level = 3.0 + 1.8 * (self.rng.unit() + self.rng.unit()) / 2.0;
        let offsets: Vec<f64> = class.subjects.iter().map(|_| (self.rng.unit() - 0.5) * 0.8).collect();
        let mut marks = Vec::new();
        let mut tallies = vec![Tally::default(); class.subjects.len()];
        for (index, LessonRec(_, subject, _, work_type, weight)) in class.rec.lessons.iter().enumerate() {
            let probability = match (*weight, work_type.as_deref()) {
                (3, _) => 0.95,
                (2, _) => 0.85,
                (_, Some("Домашнее задание")) => 0.25,
                _ => 0.15,
            };
            if !self.rng.chance(probability) {
                continue;
            }
            let value = if class.subjects[*subject].pass_fail {
                if self.rng.chance(0.95) {
                    "зачёт"
                } else {
                    "незачёт"
                }
            } else {
                let noise = (self.rng.unit() + self.rng.unit() + self.rng.unit() - 1.5) * 1.3;
                let harder = if *weight == 3 { 0.2 } else { 0.0 };
                numeric_text((level + offsets[*subject] + noise - harder + 0.5).floor())
            };
            tallies[*subject].add(value, *weight);
            marks.push((index, value.to_owned()));
        }
        let terms = class
            .subjects
            .iter()
            .zip(&tallies)
            .filter_map(|(subject, tally)| {
                tally.term_mark().map(|mark| (subject.name.to_owned(), self.term, mark.to_owned()))
            })
            .collect();
        (marks, terms)
    }
}

/// The marks of one subject so far, for its term mark.
#[derive(Debug, Clone, Default)]
struct Tally {
    /// Sum of numeric marks times weights.
    sum: u32,
    /// Sum of their weights.
    weights: u32,
    /// Numeric marks counted.
    count: u32,
    /// Pass marks.
    passes: u32,
    /// Fail marks.
    fails: u32,
}

impl Tally {
    /// Counts a mark.
    fn add(&mut self, value: &str, weight: u8) {
        match value {
            "зачёт" => self.passes += 1,
            "незачёт" => self.fails += 1,
            _ => {
                self.sum += value.parse::<u32>().expect("numeric marks are digits") * weight as u32;
                self.weights += weight as u32;
                self.count += 1;
            }
        }
    }

    /// The term mark: the weighted average rounded (4.5 gives 5), given from three marks on; pass/fail by majority.
    fn term_mark(&self) -> Option<&'static str> {
        if self.passes + self.fails > 0 {
            return Some(if self.passes >= self.fails { "зачёт" } else { "незачёт" });
        }
        if self.count < 3 {
            return None;
        }
        // Compared in integers: average >= k.5 exactly when 2·sum >= (2k + 1)·weights.
        let at_least = |k: u32| 2 * self.sum >= (2 * k + 1) * self.weights;
        Some(if at_least(4) {
            "5"
        } else if at_least(3) {
            "4"
        } else if at_least(2) {
            "3"
        } else {
            "2"
        })
    }
}

/// A numeric mark's text, clamped to 2..5 (teachers rarely give 1).
fn numeric_text(value: f64) -> &'static str {
    match value {
        v if v >= 5.0 => "5",
        v if v >= 4.0 => "4",
        v if v >= 3.0 => "3",
        _ => "2",
    }
}

/// The patronymic a father's name gives a son or a daughter.
fn patronymic(family: &Family, boy: bool) -> &'static str {
    let (_, son, daughter) = PATRONYMICS[family.father];
    if boy {
        son
    } else {
        daughter
    }
}

/// The guardian records of a family whose children have `ids`.
fn guardians(family: &Family, ids: &[String]) -> Vec<GuardianRec> {
    family
        .guardians
        .iter()
        .map(|(snils, consent)| GuardianRec {
            snils: snils.formatted(),
            links: ids.iter().map(|id| link(id, *consent)).collect(),
        })
        .collect()
}

/// A link to pupil `id` with `consent`.
fn link(id: &str, consent: Consent) -> LinkRec {
    let (given, withdrawn) = match consent {
        Consent::Given(given) => (Some(given), None),
        Consent::Missing => (None, None),
        Consent::Withdrawn(given, withdrawn) => (Some(given), Some(withdrawn)),
    };
    LinkRec {
        pupil: id.to_owned(),
        consent_given: given.map(format_date),
        consent_withdrawn: withdrawn.map(format_date),
    }
}

/// The timetable day (0 = Monday) of `date`, or `None` on weekends and holidays.
fn school_day(date: Date) -> Option<usize> {
    if HOLIDAYS.contains(&(date.month(), date.day())) {
        return None;
    }
    match date.weekday() {
        Weekday::Saturday | Weekday::Sunday => None,
        weekday => Some(weekday.number_days_from_monday() as usize),
    }
}

/// The `count`-th lesson of a subject (index `i` in the class's curriculum), on `date`.
fn lesson(date: Date, i: usize, subject: &Subject, grade: u8, count: usize) -> LessonRec {
    let topics = topics(subject.name, grade);
    // Each topic takes two lessons; a class starts the list where its grade's course would.
    let topic = topics[(count / 2 + grade as usize) % topics.len()];
    let (work_type, weight) = work(subject, count);
    LessonRec(format_date(date), i, Some(topic.to_owned()), Some(work_type.to_owned()), weight)
}

/// The data file as text: the top-level sections one record per line (lessons one per line inside their class),
/// so that people can read, edit and diff it.
fn render(data: &DataFile) -> String {
    let mut out = String::with_capacity(4 << 20);
    out.push_str(&format!("{{\"format\": {},\n", json(&data.format)));
    render_section(&mut out, "schools", &data.schools, ",");
    out.push_str("\"classes\": [\n");
    for (i, class) in data.classes.iter().enumerate() {
        render_class(&mut out, class);
        out.push_str(if i + 1 < data.classes.len() { ",\n" } else { "\n" });
    }
    out.push_str("],\n");
    render_section(&mut out, "pupils", &data.pupils, ",");
    render_section(&mut out, "guardians", &data.guardians, ",");
    render_section(&mut out, "applications", &data.applications, ",");
    render_section(&mut out, "kindergartens", &data.kindergartens, ",");
    render_section(&mut out, "benefit_categories", &data.benefit_categories, ",");
    render_section(&mut out, "kindergarten_queue", &data.kindergarten_queue, ",");
    render_section(&mut out, "kindergarten_statuses", &data.kindergarten_statuses, "");
    out.push_str("}\n");
    out
}

/// One top-level array, a record per line.
fn render_section<T: serde::Serialize>(out: &mut String, name: &str, items: &[T], after: &str) {
    out.push_str(&format!("\"{name}\": ["));
    for (i, item) in items.iter().enumerate() {
        out.push_str(if i == 0 { "\n" } else { ",\n" });
        out.push_str(&json(item));
    }
    out.push_str(&format!("{}]{after}\n", if items.is_empty() { "" } else { "\n" }));
}

/// A class, its lessons one per line.
fn render_class(out: &mut String, class: &ClassRec) {
    out.push_str(&format!(
        "{{\"id\": {}, \"school\": {}, \"name\": {}, \"subjects\": {}, \"lessons\": [",
        json(&class.id),
        json(&class.school),
        json(&class.name),
        json(&class.subjects)
    ));
    for (i, lesson) in class.lessons.iter().enumerate() {
        out.push_str(if i == 0 { "\n" } else { ",\n" });
        out.push_str(&json(lesson));
    }
    out.push_str(if class.lessons.is_empty() { "]}" } else { "\n]}" });
}

/// Compact JSON of a value.
fn json<T: serde::Serialize + ?Sized>(value: &T) -> String {
    serde_json::to_string(value).expect("data records serialize")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rng_is_fixed() {
        // SplitMix64's published first outputs for seed 0; a change here would change every generated file.
        let mut rng = Rng(0);
        assert_eq!(rng.next_u64(), 0xE220_A839_7B1D_CDAF);
        assert_eq!(rng.next_u64(), 0x6E78_9E6A_A1B9_65F4);
    }

    #[test]
    fn birth_dates_fit_the_grade() {
        let mut gen = Gen {
            rng: Rng(1),
            school_year: 2026,
            term_from: fixtures::DEMO_TERM_FROM,
            term_to: fixtures::DEMO_TERM_TO,
            term: 1,
            snils_heads: HashSet::new(),
        };
        for grade in 1..=11u8 {
            for _ in 0..50 {
                let birth = gen.birth_date(grade);
                let september = Date::from_calendar_date(2026, Month::September, 1).unwrap();
                let months = (september.year() - birth.year()) * 12 + september.month() as i32 - birth.month() as i32;
                let (low, high) = ((grade as i32 + 5) * 12 + 5, (grade as i32 + 6) * 12 + 6);
                assert!((low..=high).contains(&months), "grade {grade}: {months} months");
            }
        }
    }

    #[test]
    fn term_marks_round_half_up() {
        let mut tally = Tally::default();
        for (value, weight) in [("5", 1), ("4", 1), ("5", 2), ("4", 2)] {
            tally.add(value, weight);
        }
        // (5 + 4 + 10 + 8) / 6 = 4.5
        assert_eq!(tally.term_mark(), Some("5"));
        let mut few = Tally::default();
        few.add("5", 1);
        assert_eq!(few.term_mark(), None);
    }

    #[test]
    fn fixture_snils_heads() {
        assert_eq!(head_of(fixtures::PARENT_WITH_CONSENT), [1, 1, 2, 2, 3, 3, 4, 4, 5]);
        for fixed in [fixtures::PARENT_WITH_CONSENT, fixtures::PARENT_WITHOUT_CONSENT, fixtures::UNKNOWN_SNILS] {
            assert_eq!(Snils::from_head(head_of(fixed)).formatted(), fixed);
        }
        assert!(Snils::parse(fixtures::BAD_CHECK_SNILS).is_err());
    }
}
