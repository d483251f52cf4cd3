//! Strict reading in schema order: a cursor over an element's children that takes them one by one by name (in the
//! root's namespace), checks each value against its schema type and length, and names the element at fault, with
//! its path from the root, in a message a person can read. Nothing here panics on any input.
#![forbid(unsafe_code)]

use std::cell::Cell;
use time::format_description::well_known::Rfc3339;
use time::{Date, Month, OffsetDateTime};

use crate::school::kindergarten::model::{Address, Coded};
use crate::services::concentrator::types::ReadError;
use crate::xml::{Document, NodeId};

/// An element and its path from the root (for messages).
#[derive(Debug, Clone)]
pub(crate) struct El {
    /// The element.
    pub id: NodeId,
    /// `FormData/ApplicationRequest/...`.
    pub path: String,
}

/// The document being read, the namespace every element must be in, and the order id once read.
pub(crate) struct Reader<'d, 'a> {
    /// The parsed document.
    pub doc: &'d Document<'a>,
    /// The root's namespace: every element of the request is in it.
    pub ns: &'d str,
    /// The request's `orderId`, once read, so that every later error carries it.
    pub order_id: Cell<Option<i64>>,
}

impl<'d, 'a> Reader<'d, 'a> {
    /// A reader of the document whose elements are in `ns`.
    pub fn new(doc: &'d Document<'a>, ns: &'d str) -> Self {
        Reader { doc, ns, order_id: Cell::new(None) }
    }

    /// An error at `path`; the message starts with the element's (or attribute's) name, so that it reads on its
    /// own in a comment to the parent.
    pub fn err(&self, path: &str, message: impl AsRef<str>) -> ReadError {
        let name = path.rsplit('/').next().unwrap_or_default();
        let message =
            if name.is_empty() { message.as_ref().to_string() } else { format!("{name}: {}", message.as_ref()) };
        ReadError { order_id: self.order_id.get(), path: path.to_string(), message }
    }

    /// A cursor over the children of `el`.
    pub fn seq(&self, el: &El) -> Seq<'_, 'd, 'a> {
        Seq { r: self, path: el.path.clone(), kids: self.doc.child_elements(el.id).collect(), next: 0 }
    }

    /// The text of a leaf element: an element child there is an error.
    pub fn leaf(&self, el: &El) -> Result<String, ReadError> {
        if let Some(kid) = self.doc.child_elements(el.id).next() {
            let name = self.doc.element(kid).local;
            return Err(self.err(&format!("{}/{name}", el.path), "элемент здесь не предусмотрен"));
        }
        Ok(self.doc.text(el.id))
    }

    /// An unqualified attribute's value, which must be present, at most `max` characters.
    pub fn attr(&self, el: &El, name: &str, max: usize) -> Result<String, ReadError> {
        let path = format!("{}/@{name}", el.path);
        let value = self.doc.attr(el.id, name).ok_or_else(|| self.err(&path, "не указан обязательный атрибут"))?;
        check_len(self, &path, value, max)?;
        Ok(value.to_string())
    }

    /// A `DataElementType`: text (at most 256) and its required `@code` (at most 50).
    pub fn coded(&self, el: &El) -> Result<Coded, ReadError> {
        let code = self.attr(el, "code", 50)?;
        let text = self.leaf(el)?;
        check_len(self, &el.path, &text, 256)?;
        Ok(Coded { code, text })
    }
}

/// Checks a string's length in characters.
pub(crate) fn check_len(r: &Reader<'_, '_>, path: &str, value: &str, max: usize) -> Result<(), ReadError> {
    let len = value.chars().count();
    if len > max {
        return Err(r.err(path, format!("значение длиннее {max} символов ({len})")));
    }
    Ok(())
}

/// A cursor over one element's children, taken in schema order.
pub(crate) struct Seq<'r, 'd, 'a> {
    r: &'r Reader<'d, 'a>,
    path: String,
    kids: Vec<NodeId>,
    next: usize,
}

impl<'r, 'd, 'a> Seq<'r, 'd, 'a> {
    /// The reader.
    pub fn reader(&self) -> &'r Reader<'d, 'a> {
        self.r
    }

    /// The path of the element this cursor reads.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The local name of the next child, if it is in the request's namespace.
    pub fn peek(&self) -> Option<&'a str> {
        let &id = self.kids.get(self.next)?;
        (self.r.doc.element_ns(id) == self.r.ns).then(|| self.r.doc.element(id).local)
    }

    /// The next child if it is `local`.
    pub fn opt(&mut self, local: &str) -> Option<El> {
        let &id = self.kids.get(self.next)?;
        if self.r.doc.is(id, self.r.ns, local) {
            self.next += 1;
            Some(El { id, path: format!("{}/{local}", self.path) })
        } else {
            None
        }
    }

    /// The next child, which must be `local`.
    pub fn req(&mut self, local: &str) -> Result<El, ReadError> {
        match self.opt(local) {
            Some(el) => Ok(el),
            None => {
                let path = format!("{}/{local}", self.path);
                let found = match self.kids.get(self.next) {
                    Some(&k) => format!(", а на его месте {}", self.r.doc.element(k).local),
                    None => String::new(),
                };
                Err(self.r.err(&path, format!("нет обязательного элемента{found}")))
            }
        }
    }

    /// Every consecutive child named `local`, at most `max`.
    pub fn many(&mut self, local: &str, max: usize) -> Result<Vec<El>, ReadError> {
        let mut out = Vec::new();
        while let Some(el) = self.opt(local) {
            if out.len() == max {
                return Err(self.r.err(&el.path, format!("таких элементов не может быть больше {max}")));
            }
            out.push(el);
        }
        Ok(out)
    }

    /// Skips the 4.0.1 tails `first*` then `second*` (`attribute`/`refInfo`, in the order the type has them).
    pub fn skip_tails(&mut self, first: &str, second: &str) {
        while self.opt(first).is_some() {}
        while self.opt(second).is_some() {}
    }

    /// Nothing may follow.
    pub fn end(&self) -> Result<(), ReadError> {
        match self.kids.get(self.next) {
            None => Ok(()),
            Some(&k) => {
                let e = self.r.doc.element(k);
                let path = format!("{}/{}", self.path, e.local);
                let ns = self.r.doc.element_ns(k);
                Err(if ns == self.r.ns {
                    self.r.err(&path, "элемент здесь не предусмотрен схемой")
                } else {
                    self.r.err(&path, format!("элемент из чужого пространства имён «{ns}»"))
                })
            }
        }
    }

    /// A required string, at most `max` characters.
    pub fn str(&mut self, local: &str, max: usize) -> Result<String, ReadError> {
        let el = self.req(local)?;
        self.text(&el, max)
    }

    /// An optional string, at most `max` characters.
    pub fn opt_str(&mut self, local: &str, max: usize) -> Result<Option<String>, ReadError> {
        match self.opt(local) {
            Some(el) => self.text(&el, max).map(Some),
            None => Ok(None),
        }
    }

    fn text(&self, el: &El, max: usize) -> Result<String, ReadError> {
        let text = self.r.leaf(el)?;
        check_len(self.r, &el.path, &text, max)?;
        Ok(text)
    }

    /// A required `normalizedString` of 1 to `max` characters: tabs and line breaks become spaces, as the type's
    /// whitespace rule (`replace`) says.
    pub fn nn(&mut self, local: &str, max: usize) -> Result<String, ReadError> {
        let el = self.req(local)?;
        let text = self.text(&el, max)?.replace(['\t', '\n', '\r'], " ");
        if text.trim().is_empty() {
            return Err(self.r.err(&el.path, "поле не заполнено"));
        }
        Ok(text)
    }

    /// A required typed value, parsed from its collapsed text.
    fn typed<T>(&mut self, local: &str, parse: fn(&str) -> Option<T>, what: &str) -> Result<T, ReadError> {
        let el = self.req(local)?;
        typed_value(self.r, &el, parse, what)
    }

    /// An optional typed value.
    fn opt_typed<T>(&mut self, local: &str, parse: fn(&str) -> Option<T>, what: &str) -> Result<Option<T>, ReadError> {
        match self.opt(local) {
            Some(el) => typed_value(self.r, &el, parse, what).map(Some),
            None => Ok(None),
        }
    }

    /// A required `xsd:long`.
    pub fn long(&mut self, local: &str) -> Result<i64, ReadError> {
        self.typed(local, parse_long, "целое число (xsd:long)")
    }

    /// The request's `orderId`, remembered for every later error.
    pub fn order_id(&mut self) -> Result<i64, ReadError> {
        let id = self.long("orderId")?;
        self.r.order_id.set(Some(id));
        Ok(id)
    }

    /// A required `xsd:date`.
    pub fn date(&mut self, local: &str) -> Result<Date, ReadError> {
        self.typed(local, parse_date, "дата в виде ГГГГ-ММ-ДД")
    }

    /// An optional `xsd:date`.
    pub fn opt_date(&mut self, local: &str) -> Result<Option<Date>, ReadError> {
        self.opt_typed(local, parse_date, "дата в виде ГГГГ-ММ-ДД")
    }

    /// An optional `xsd:dateTime`, which must carry its zone.
    pub fn opt_datetime(&mut self, local: &str) -> Result<Option<OffsetDateTime>, ReadError> {
        self.opt_typed(local, parse_datetime, "дата и время с часовым поясом")
    }

    /// A required `xsd:boolean`.
    pub fn bool(&mut self, local: &str) -> Result<bool, ReadError> {
        self.typed(local, parse_bool, "true, false, 1 или 0")
    }

    /// An optional `xsd:boolean`.
    pub fn opt_bool(&mut self, local: &str) -> Result<Option<bool>, ReadError> {
        self.opt_typed(local, parse_bool, "true, false, 1 или 0")
    }

    /// A required `xsd:byte`.
    pub fn byte(&mut self, local: &str) -> Result<i8, ReadError> {
        self.typed(local, parse_byte, "целое число от -128 до 127 (xsd:byte)")
    }

    /// A required `DataElementType`.
    pub fn coded(&mut self, local: &str) -> Result<Coded, ReadError> {
        let el = self.req(local)?;
        self.r.coded(&el)
    }

    /// An optional `DataElementType`.
    pub fn opt_coded(&mut self, local: &str) -> Result<Option<Coded>, ReadError> {
        match self.opt(local) {
            Some(el) => self.r.coded(&el).map(Some),
            None => Ok(None),
        }
    }

    /// An `AddressType` (the same in every version).
    pub fn address(&mut self, local: &str) -> Result<Address, ReadError> {
        let el = self.req(local)?;
        let mut s = self.r.seq(&el);
        let address = Address {
            full: s.str("FullAddress", 1024)?,
            index: s.str("Index", 6)?,
            region: s.coded("Region")?,
            area: s.coded("Area")?,
            city: s.coded("City")?,
            city_area: s.coded("CityArea")?,
            place: s.coded("Place")?,
            street: s.coded("Street")?,
            additional_area: s.coded("AdditionalArea")?,
            additional_street: s.coded("AdditionalStreet")?,
            house: s.coded("House")?,
            building1: s.str("Building1", 50)?,
            building2: s.str("Building2", 50)?,
            apartment: s.str("Apartment", 50)?,
        };
        s.end()?;
        Ok(address)
    }
}

/// Parses a typed leaf, naming the expected form when it does not parse.
pub(crate) fn typed_value<T>(
    r: &Reader<'_, '_>,
    el: &El,
    parse: fn(&str) -> Option<T>,
    what: &str,
) -> Result<T, ReadError> {
    let text = r.leaf(el)?;
    parse(text.trim()).ok_or_else(|| {
        let shown: String = text.chars().take(40).collect();
        r.err(&el.path, format!("значение «{shown}» не подходит: ожидается {what}"))
    })
}

/// 3.1.1's `EmailAddressType` pattern: `[0-9a-zA-Z_.\-]{2,50}@[0-9a-zA-Z_./-]{2,50}\.[a-zA-Z]{2,5}` (whole value).
pub(crate) fn is_email_311(s: &str) -> bool {
    let Some((local, domain)) = s.split_once('@') else { return false };
    let Some((host, top)) = domain.rsplit_once('.') else { return false };
    let part = |p: &str, extra: &[char]| {
        (2..=50).contains(&p.len())
            && p.chars().all(|c| c.is_ascii_alphanumeric() || "_.".contains(c) || extra.contains(&c))
    };
    part(local, &['-'])
        && part(host, &['/', '-'])
        && (2..=5).contains(&top.len())
        && top.chars().all(|c| c.is_ascii_alphabetic())
}

/// `xsd:long` (an optional sign, then digits).
pub(crate) fn parse_long(s: &str) -> Option<i64> {
    let digits = s.strip_prefix(['+', '-']).unwrap_or(s);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// `xsd:byte`.
pub(crate) fn parse_byte(s: &str) -> Option<i8> {
    parse_long(s).and_then(|v| i8::try_from(v).ok())
}

/// `xsd:boolean`.
pub(crate) fn parse_bool(s: &str) -> Option<bool> {
    match s {
        "true" | "1" => Some(true),
        "false" | "0" => Some(false),
        _ => None,
    }
}

/// Two or more ASCII digits as a number.
fn digits(s: &str) -> Option<u32> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// `xsd:date` as `YYYY-MM-DD`, with the optional zone the type allows (which a date of the model does not keep).
pub(crate) fn parse_date(s: &str) -> Option<Date> {
    let (day, zone) = (s.get(..10)?, s.get(10..)?);
    if !(zone.is_empty() || zone == "Z" || is_offset(zone)) {
        return None;
    }
    let b = day.as_bytes();
    if b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    // xsd:date has no year 0000.
    let year = i32::try_from(digits(day.get(..4)?)?).ok().filter(|&y| y >= 1)?;
    let month = Month::try_from(u8::try_from(digits(day.get(5..7)?)?).ok()?).ok()?;
    let d = u8::try_from(digits(day.get(8..10)?)?).ok()?;
    Date::from_calendar_date(year, month, d).ok()
}

/// `+hh:mm` / `-hh:mm`.
fn is_offset(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 6
        && (b[0] == b'+' || b[0] == b'-')
        && b[3] == b':'
        && [1, 2, 4, 5].iter().all(|&i| b[i].is_ascii_digit())
}

/// `xsd:dateTime` with its zone (`Z` or an offset); fractions of a second are accepted.
pub(crate) fn parse_datetime(s: &str) -> Option<OffsetDateTime> {
    if s.len() < 20 || s.as_bytes().get(10) != Some(&b'T') || s.ends_with('z') {
        return None;
    }
    OffsetDateTime::parse(s, &Rfc3339).ok().filter(|t| t.year() >= 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn longs_follow_the_schema_lexical_space() {
        assert_eq!(parse_long("+42"), Some(42));
        assert_eq!(parse_long("-0007"), Some(-7));
        assert_eq!(parse_long("9223372036854775807"), Some(i64::MAX));
        for bad in ["", "+", "1 2", "0x10", "1e3", "9223372036854775808", "١٢"] {
            assert_eq!(parse_long(bad), None, "{bad}");
        }
        assert_eq!(parse_byte("-128"), Some(-128));
        assert_eq!(parse_byte("128"), None);
    }

    #[test]
    fn the_3_1_1_email_pattern() {
        for ok in ["test@test.ru", "a.b-c_d@mail.example.com", "ab@c/d.info"] {
            assert!(is_email_311(ok), "{ok}");
        }
        for bad in [
            "a@test.ru",
            "test@t.ru",
            "test@test.r",
            "test@test.russia",
            "te st@test.ru",
            "t@@test.ru",
            "тест@test.ru",
            "test@test.r1",
        ] {
            assert!(!is_email_311(bad), "{bad}");
        }
    }

    #[test]
    fn booleans_are_true_false_1_0() {
        assert_eq!(parse_bool("1"), Some(true));
        assert_eq!(parse_bool("false"), Some(false));
        assert_eq!(parse_bool("True"), None);
        assert_eq!(parse_bool("yes"), None);
    }

    #[test]
    fn dates_take_an_optional_zone_and_no_year_zero() {
        let d = Date::from_calendar_date(2024, Month::February, 29).unwrap();
        assert_eq!(parse_date("2024-02-29"), Some(d));
        assert_eq!(parse_date("2024-02-29Z"), Some(d));
        assert_eq!(parse_date("2024-02-29-05:00"), Some(d));
        for bad in ["2023-02-29", "0000-01-01", "2024-2-29", "2024-02-29T00:00:00", "2024-02-29+5:00", "2024/02/29"] {
            assert_eq!(parse_date(bad), None, "{bad}");
        }
        assert_eq!(parse_date("ёёёёё-01-01"), None);
    }

    #[test]
    fn date_times_need_their_zone() {
        let t = parse_datetime("2020-10-15T09:30:10+03:00").unwrap();
        assert_eq!((t.hour(), t.offset().whole_hours()), (9, 3));
        assert!(parse_datetime("2020-10-15T09:30:10.250Z").is_some());
        for bad in ["2020-10-15T09:30:10", "2020-10-15 09:30:10Z", "2020-10-15t09:30:10Z", "2020-10-15T09:30:10z"] {
            assert_eq!(parse_datetime(bad), None, "{bad}");
        }
    }
}
