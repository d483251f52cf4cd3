//! Character-level rules of XML 1.0: which characters and names are allowed, and how references and line ends
//! in text and attribute values are resolved.
#![forbid(unsafe_code)]

use super::XmlErrorKind;
use std::borrow::Cow;

/// Whether `c` may appear in an XML 1.0 document at all.
pub fn is_xml_char(c: char) -> bool {
    matches!(c, '\u{9}' | '\u{A}' | '\u{D}' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..='\u{10FFFF}')
}

fn is_name_start_char(c: char) -> bool {
    matches!(c,
        'A'..='Z' | '_' | 'a'..='z' | '\u{C0}'..='\u{D6}' | '\u{D8}'..='\u{F6}' | '\u{F8}'..='\u{2FF}'
        | '\u{370}'..='\u{37D}' | '\u{37F}'..='\u{1FFF}' | '\u{200C}'..='\u{200D}' | '\u{2070}'..='\u{218F}'
        | '\u{2C00}'..='\u{2FEF}' | '\u{3001}'..='\u{D7FF}' | '\u{F900}'..='\u{FDCF}' | '\u{FDF0}'..='\u{FFFD}'
        | '\u{10000}'..='\u{EFFFF}')
}

fn is_name_char(c: char) -> bool {
    is_name_start_char(c)
        || matches!(c, '-' | '.' | '0'..='9' | '\u{B7}' | '\u{300}'..='\u{36F}' | '\u{203F}'..='\u{2040}')
}

/// Whether `s` is an NCName: an XML name without a colon.
pub fn is_ncname(s: &str) -> bool {
    let bytes = s.as_bytes();
    if bytes.is_ascii() {
        // Almost every name in SMEV traffic is ASCII: check it byte by byte.
        return match bytes.split_first() {
            Some((first, rest)) if first.is_ascii_alphabetic() || *first == b'_' => {
                rest.iter().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
            }
            _ => false,
        };
    }
    let mut chars = s.chars();
    match chars.next() {
        Some(c) if is_name_start_char(c) => chars.all(is_name_char),
        _ => false,
    }
}

/// Splits a qualified name into prefix and local name, checking both are NCNames.
pub fn split_qname(name: &str) -> Option<(Option<&str>, &str)> {
    match name.split_once(':') {
        None if is_ncname(name) => Some((None, name)),
        Some((p, l)) if is_ncname(p) && is_ncname(l) => Some((Some(p), l)),
        _ => None,
    }
}

/// Where in a raw piece of input an error was found, relative to its start.
pub type LocalError = (usize, XmlErrorKind);

/// Which context a piece of character data comes from: the rules differ.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Context {
    /// Element content: `\r\n` and `\r` become `\n`; `]]>` is forbidden.
    Text,
    /// An attribute value: `<` is forbidden; literal tab, newline and carriage return become spaces.
    Attribute,
}

/// Resolves references and normalizes line ends in element content.
pub fn decode_text(raw: &str) -> Result<Cow<'_, str>, LocalError> {
    decode(raw, Context::Text)
}

/// Resolves references and normalizes whitespace in an attribute value (CDATA-type normalization).
pub fn decode_attribute(raw: &str) -> Result<Cow<'_, str>, LocalError> {
    decode(raw, Context::Attribute)
}

/// Normalizes line ends in a CDATA section, whose content has no references.
pub fn decode_cdata(raw: &str) -> Result<Cow<'_, str>, LocalError> {
    check_chars(raw)?;
    if !raw.contains('\r') {
        return Ok(Cow::Borrowed(raw));
    }
    Ok(Cow::Owned(raw.replace("\r\n", "\n").replace('\r', "\n")))
}

/// Rejects characters XML does not allow. Bytes below 0x20 and the encodings of U+FFFE and U+FFFF are the only
/// ones a valid UTF-8 string can hold that XML forbids.
pub fn check_chars(raw: &str) -> Result<(), LocalError> {
    let bytes = raw.as_bytes();
    for (i, &b) in bytes.iter().enumerate() {
        let bad = match b {
            b'\t' | b'\n' | b'\r' => false,
            0..=0x1F => true,
            0xEF => bytes.get(i + 1) == Some(&0xBF) && matches!(bytes.get(i + 2), Some(0xBE | 0xBF)),
            _ => false,
        };
        if bad {
            let c = raw[i..].chars().next().unwrap_or('\0');
            return Err((i, XmlErrorKind::InvalidChar(format!("U+{:04X}", c as u32))));
        }
    }
    Ok(())
}

/// Scans `raw` from `from` in one pass: rejects characters XML forbids (and `]]>` in text, `<` in attribute
/// values) and returns the index of the first byte that needs rewriting (a reference, or whitespace that
/// normalization replaces), or the length when none does.
fn scan(raw: &str, from: usize, ctx: Context) -> Result<usize, LocalError> {
    let bytes = raw.as_bytes();
    let mut i = from;
    while i < bytes.len() {
        let b = bytes[i];
        // Nearly every byte is plain: not a control character and not one of the four that need a closer look.
        if b >= 0x20 && !matches!(b, b'&' | b'<' | b']' | 0xEF) {
            i += 1;
            continue;
        }
        match b {
            b'&' | b'\r' => return Ok(i),
            b'\t' | b'\n' if ctx == Context::Attribute => return Ok(i),
            b'\t' | b'\n' => {}
            b'<' if ctx == Context::Attribute => {
                return Err((i, XmlErrorKind::Malformed("'<' is not allowed in an attribute value".into())))
            }
            b']' if ctx == Context::Text && bytes[i..].starts_with(b"]]>") => {
                return Err((i, XmlErrorKind::Malformed("']]>' is not allowed in text".into())))
            }
            b'<' | b']' => {}
            0xEF => {
                if bytes.get(i + 1) == Some(&0xBF) && matches!(bytes.get(i + 2), Some(0xBE | 0xBF)) {
                    let c = raw[i..].chars().next().unwrap_or('\0');
                    return Err((i, XmlErrorKind::InvalidChar(format!("U+{:04X}", c as u32))));
                }
            }
            _ => return Err((i, XmlErrorKind::InvalidChar(format!("U+{:04X}", b as u32)))),
        }
        i += 1;
    }
    Ok(bytes.len())
}

fn decode(raw: &str, ctx: Context) -> Result<Cow<'_, str>, LocalError> {
    let bytes = raw.as_bytes();
    let first = scan(raw, 0, ctx)?;
    if first == bytes.len() {
        return Ok(Cow::Borrowed(raw));
    }
    let mut out = String::with_capacity(raw.len());
    out.push_str(&raw[..first]);
    let mut i = first;
    while i < bytes.len() {
        match bytes[i] {
            b'&' => {
                let (c, len) = parse_reference(&raw[i..]).map_err(|k| (i, k))?;
                out.push(c);
                i += len;
            }
            b'\r' => {
                out.push(if ctx == Context::Text { '\n' } else { ' ' });
                i += if bytes.get(i + 1) == Some(&b'\n') { 2 } else { 1 };
            }
            // Only attribute values stop the scan at tabs and newlines.
            _ => {
                out.push(' ');
                i += 1;
            }
        }
        let next = scan(raw, i, ctx)?;
        out.push_str(&raw[i..next]);
        i = next;
    }
    Ok(Cow::Owned(out))
}

/// Parses one reference at the start of `s` (which begins with `&`); returns the character and the length consumed.
fn parse_reference(s: &str) -> Result<(char, usize), XmlErrorKind> {
    let end = s.as_bytes().iter().take(16).position(|&b| b == b';').ok_or_else(|| {
        XmlErrorKind::Malformed("'&' must start a reference ending in ';' (escape it as &amp;)".into())
    })?;
    let name = &s[1..end];
    let c = match name {
        "lt" => '<',
        "gt" => '>',
        "amp" => '&',
        "apos" => '\'',
        "quot" => '"',
        _ => {
            let code = if let Some(hex) = name.strip_prefix("#x") {
                u32::from_str_radix(hex, 16)
                    .ok()
                    .filter(|_| !hex.is_empty() && hex.bytes().all(|b| b.is_ascii_hexdigit()))
            } else if let Some(dec) = name.strip_prefix('#') {
                dec.parse::<u32>().ok().filter(|_| dec.bytes().all(|b| b.is_ascii_digit()))
            } else {
                return Err(XmlErrorKind::UnknownEntity(name.to_string()));
            };
            match code.and_then(char::from_u32) {
                Some(c) if is_xml_char(c) => c,
                _ => return Err(XmlErrorKind::InvalidChar(format!("character reference '&{name};'"))),
            }
        }
    };
    Ok((c, end + 1))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check_text(raw: &str, expected: &str) {
        assert_eq!(decode_text(raw).unwrap(), expected, "text {raw:?}");
    }

    fn check_attr(raw: &str, expected: &str) {
        assert_eq!(decode_attribute(raw).unwrap(), expected, "attribute {raw:?}");
    }

    #[test]
    fn text_references_and_line_ends() {
        check_text("plain", "plain");
        check_text("a &lt; b &amp;&gt;&quot;&apos;", "a < b &>\"'");
        check_text("&#1055;&#x0440;&#x438;", "При");
        check_text("a\r\nb\rc\n", "a\nb\nc\n");
        check_text("&#13;&#10;&#9;", "\r\n\t");
    }

    #[test]
    fn attribute_whitespace_becomes_spaces_but_references_survive() {
        check_attr("a\tb\nc\r\nd", "a b c d");
        check_attr("&#9;&#10;&#13;", "\t\n\r");
    }

    #[test]
    fn bad_references_and_chars_are_refused() {
        assert!(matches!(decode_text("&foo;"), Err((0, XmlErrorKind::UnknownEntity(_)))));
        assert!(matches!(decode_text("x &#0;"), Err((2, XmlErrorKind::InvalidChar(_)))));
        assert!(matches!(decode_text("&#xD800;"), Err((0, XmlErrorKind::InvalidChar(_)))));
        assert!(matches!(decode_text("a & b"), Err((2, XmlErrorKind::Malformed(_)))));
        assert!(matches!(decode_text("\u{1}"), Err((0, XmlErrorKind::InvalidChar(_)))));
        assert!(matches!(decode_text("\u{FFFE}"), Err((0, XmlErrorKind::InvalidChar(_)))));
        assert!(matches!(decode_attribute("a<b"), Err((1, XmlErrorKind::Malformed(_)))));
        assert!(decode_text("a]]>b").is_err());
    }

    #[test]
    fn names() {
        assert_eq!(split_qname("a:b"), Some((Some("a"), "b")));
        assert_eq!(split_qname("Имя"), Some((None, "Имя")));
        assert_eq!(split_qname("a:b:c"), None);
        assert_eq!(split_qname("1a"), None);
        assert_eq!(split_qname(":a"), None);
    }
}
