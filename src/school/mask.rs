//! Masking of personal data in what the operators' API returns: SNILS numbers wherever they appear, and the text
//! of XML elements known to carry names, dates of birth, contacts, documents and addresses.
//!
//! Masking is textual on purpose: payloads are envelopes, jobs and error messages in several shapes, some of them
//! not well-formed XML (a fault's text, a truncated snippet), and a mask must work on all of them. It errs on the
//! side of masking: an 11-digit number that is not a SNILS is masked too.
#![forbid(unsafe_code)]

use crate::school::model::masked_name;

/// Elements whose text is a person's name: masked to the first letter, as in logs.
const NAME_ELEMENTS: &[&str] = &[
    "Surname",
    "Name",
    "MiddleName",
    "FirstName",
    "LastName",
    "FamilyName",
    "GivenName",
    "Patronymic",
    "FullName",
    "ChildSurname",
    "ChildName",
    "ChildMiddleName",
    "PersonSurname",
    "PersonName",
    "PersonMiddleName",
];

/// Elements whose text is other personal data: masked whole. Addresses are masked part by part as well as whole,
/// since the portals' schemas split them into elements (names from the EPGU schemas: Region, City, Street, ...).
const OTHER_ELEMENTS: &[&str] = &[
    "BirthDate",
    "ChildBirthDate",
    "PersonBirthDate",
    "BirthPlace",
    "ChildBirthPlace",
    "Phone",
    "PersonPhone",
    "Email",
    "PersonEmail",
    "Series",
    "Number",
    "ActNumber",
    "DocSeries",
    "DocNumber",
    "IdentityDocSeries",
    "IdentityDocNumber",
    "ChildBirthDocSeries",
    "ChildBirthDocNumber",
    "ChildBirthDocActNumber",
    "CredentialsDocSeries",
    "CredentialsDocNumber",
    "OtherRepresentativeDocSeries",
    "OtherRepresentativeDocNumber",
    "Issuer",
    "IssueDate",
    "Snils",
    "SNILS",
    "ApplicantSnils",
    "ChildSnils",
    "ChildSNILS",
    "PersonSNILS",
    // Addresses.
    "FullAddress",
    "Address",
    "AddressResidence",
    "PostalCode",
    "PostIndex",
    "Index",
    "Region",
    "District",
    "Area",
    "AdditionalArea",
    "City",
    "CityArea",
    "Settlement",
    "Locality",
    "Place",
    "Street",
    "AdditionalStreet",
    "House",
    "Building",
    "Housing",
    "Flat",
    "Apartment",
    "Room",
];

/// `text` with SNILS numbers and the text of personal-data elements masked.
pub fn mask_text(text: &str) -> String {
    mask_digits(&mask_elements(text))
}

/// Masks every string inside a JSON value, in place.
pub fn mask_json(value: &mut serde_json::Value) {
    match value {
        serde_json::Value::String(text) => *text = mask_text(text),
        serde_json::Value::Array(items) => items.iter_mut().for_each(mask_json),
        serde_json::Value::Object(fields) => fields.values_mut().for_each(mask_json),
        _ => {}
    }
}

/// Masks SNILS numbers: `DDD-DDD-DDD DD` with any of the separators people write (hyphens, spaces, no-break
/// spaces, in any mix, some left out) and runs of exactly 11 digits, keeping the last three digits as
/// [`crate::school::Snils::masked`] does.
fn mask_digits(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < chars.len() {
        let boundary_before = i == 0 || !chars[i - 1].is_ascii_digit();
        if boundary_before {
            if let Some(len) = formatted_snils_at(&chars, i) {
                let digits: Vec<char> = chars[i..i + len].iter().copied().filter(char::is_ascii_digit).collect();
                out.push_str(&format!("***-***-**{} {}{}", digits[8], digits[9], digits[10]));
                i += len;
                continue;
            }
            let run = chars[i..].iter().take_while(|c| c.is_ascii_digit()).count();
            if run == 11 {
                out.push_str("********");
                out.extend(&chars[i + 8..i + 11]);
                i += 11;
                continue;
            }
            if run > 0 {
                out.extend(&chars[i..i + run]);
                i += run;
                continue;
            }
        }
        out.push(chars[i]);
        i += 1;
    }
    out
}

/// Characters written between the groups of a SNILS: hyphens and dashes, spaces and no-break spaces.
fn is_snils_separator(c: char) -> bool {
    matches!(c, '-' | ' ' | '\u{a0}' | '\u{202f}' | '\u{2010}' | '\u{2011}' | '\u{2012}' | '\u{2013}')
}

/// The length of a formatted SNILS starting at `i`: groups of 3, 3, 3 and 2 digits with at least one separator
/// between them (one character each), not followed by a digit. Eleven digits with no separator are a plain run.
fn formatted_snils_at(chars: &[char], i: usize) -> Option<usize> {
    let mut at = i;
    let mut separators = 0;
    for (n, group) in [3usize, 3, 3, 2].into_iter().enumerate() {
        if n > 0 && chars.get(at).copied().is_some_and(is_snils_separator) {
            separators += 1;
            at += 1;
        }
        let window = chars.get(at..at + group)?;
        if !window.iter().all(char::is_ascii_digit) {
            return None;
        }
        at += group;
    }
    let followed_by_digit = chars.get(at).is_some_and(char::is_ascii_digit);
    (separators > 0 && !followed_by_digit).then_some(at - i)
}

/// Masks the text directly inside start tags of the personal-data elements (any namespace prefix).
fn mask_elements(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(open) = rest.find('<') {
        let (before, tag_and_after) = rest.split_at(open);
        out.push_str(before);
        let Some(close) = tag_and_after.find('>') else {
            out.push_str(tag_and_after);
            return out;
        };
        let tag = &tag_and_after[..=close];
        out.push_str(tag);
        rest = &tag_and_after[close + 1..];
        let Some(mask) = element_mask(tag) else { continue };
        let end = rest.find('<').unwrap_or(rest.len());
        let content = &rest[..end];
        if !content.trim().is_empty() {
            out.push_str(&mask(content));
        }
        rest = &rest[end..];
    }
    out.push_str(rest);
    out
}

/// How to mask the text after `tag`, if it opens a personal-data element.
fn element_mask(tag: &str) -> Option<fn(&str) -> String> {
    let inner = tag.strip_prefix('<')?.strip_suffix('>')?;
    if inner.starts_with(['/', '?', '!']) || inner.ends_with('/') {
        return None;
    }
    let name = inner.split(|c: char| c.is_whitespace()).next()?;
    let local = name.rsplit(':').next()?;
    if NAME_ELEMENTS.contains(&local) {
        Some(|content| masked_name(content.trim()))
    } else if OTHER_ELEMENTS.contains(&local) {
        Some(|_| "***".to_owned())
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snils_in_every_form_is_masked() {
        assert_eq!(mask_text("СНИЛС 112-233-445 95 указан"), "СНИЛС ***-***-**5 95 указан");
        assert_eq!(mask_text("112-233-445-95"), "***-***-**5 95");
        assert_eq!(mask_text("x11223344595y"), "x********595y");
        assert_eq!(mask_text("order 4200000001 and 123456789012"), "order 4200000001 and 123456789012");
    }

    /// Regression: a SNILS written with spaces ("123 456 789 01") was returned whole.
    #[test]
    fn snils_with_spaces_or_dashes_is_masked() {
        assert_eq!(mask_text("СНИЛС 123 456 789 01."), "СНИЛС ***-***-**9 01.");
        assert_eq!(mask_text("123-456-789-01"), "***-***-**9 01");
        assert_eq!(mask_text("123 456-789 01"), "***-***-**9 01");
        assert_eq!(mask_text("123456789 01"), "***-***-**9 01");
        assert_eq!(mask_text("123\u{a0}456\u{a0}789\u{a0}01"), "***-***-**9 01");
        assert_eq!(mask_text("123\u{2011}456\u{2011}789 01"), "***-***-**9 01");
        // Not a SNILS: too few or too many digits, phone numbers, dates.
        for text in ["123 456 789 0", "123 456 789 012", "+7 900 123-45-67", "2026-09-01", "12 345 678 901"] {
            assert_eq!(mask_text(text), text);
        }
    }

    /// Regression: Street, City and Region (and the other parts of an address) were returned whole.
    #[test]
    fn address_elements_are_masked() {
        let xml = "<a:Address><a:PostIndex>630000</a:PostIndex><a:Region>Новосибирская обл.</a:Region>\
                   <a:District>Центральный</a:District><a:City>Новосибирск</a:City>\
                   <a:Settlement>Кольцово</a:Settlement><a:Street>ул. Ленина</a:Street><a:House>5</a:House>\
                   <a:Flat>12</a:Flat><a:Apartment>13</a:Apartment><a:Index>630001</a:Index></a:Address>\
                   <r:ChildName>Анна</r:ChildName><r:PersonSNILS>123 456 789 01</r:PersonSNILS>";
        let masked = mask_text(xml);
        for secret in [
            "630000",
            "Новосибирская",
            "Центральный",
            "Новосибирск",
            "Кольцово",
            "Ленина",
            ">5<",
            ">12<",
            ">13<",
            "630001",
            "Анна",
            "789 01",
        ] {
            assert!(!masked.contains(secret), "{secret} in {masked}");
        }
        assert!(masked.contains("<a:Street>***</a:Street>"), "{masked}");
        assert!(masked.contains("<r:ChildName>А***</r:ChildName>"), "{masked}");
    }

    #[test]
    fn names_and_personal_elements_are_masked() {
        let xml = "<e:Applicant><e:Surname>Петров</e:Surname><e:Name>Иван</e:Name>\
                   <e:Snils>112-233-445 95</e:Snils><e:BirthDate>2020-04-15</e:BirthDate>\
                   <e:Kind code=\"21\">Паспорт</e:Kind><e:orderId>42</e:orderId></e:Applicant>";
        let masked = mask_text(xml);
        assert!(masked.contains("<e:Surname>П***</e:Surname><e:Name>И***</e:Name>"), "{masked}");
        assert!(masked.contains("<e:Snils>***</e:Snils><e:BirthDate>***</e:BirthDate>"), "{masked}");
        assert!(masked.contains("<e:Kind code=\"21\">Паспорт</e:Kind><e:orderId>42</e:orderId>"), "{masked}");
        assert!(!masked.contains("Петров") && !masked.contains("445 95"));
    }

    #[test]
    fn json_strings_are_masked_at_every_depth() {
        let mut value = serde_json::json!({"a": ["112-233-445 95", {"b": "<Name>Анна</Name>"}], "n": 11223344595u64});
        mask_json(&mut value);
        assert_eq!(value["a"][0], "***-***-**5 95");
        assert_eq!(value["a"][1]["b"], "<Name>А***</Name>");
    }
}
