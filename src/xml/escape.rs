//! The one XML escaper: canonical text and attributes (exclusive c14n), and the plain rules that the SMEV transform
//! and every builder of our own XML (envelopes, business answers) write with.
//!
//! Every replaced character is ASCII, so an unescaped run between two replacements is always whole UTF-8.
#![forbid(unsafe_code)]

use std::borrow::Cow;
use std::io::{self, Write};

/// Which escaping rules apply to a piece of output.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Escape {
    /// Canonical text: `& < >` and carriage return.
    C14nText,
    /// Canonical attribute values: `& < "` and tab, newline, carriage return.
    C14nAttribute,
    /// Text written by the SMEV transform and by our builders: `& < >`.
    Text,
    /// Attribute values (in double quotes) written by the SMEV transform and by our builders: `& < > "`.
    Attribute,
}

/// The replacement of byte `b` under `mode`, if it needs one.
fn replacement(b: u8, mode: Escape) -> Option<&'static str> {
    use Escape::*;
    match (b, mode) {
        (b'&', _) => Some("&amp;"),
        (b'<', _) => Some("&lt;"),
        (b'>', C14nText | Text | Attribute) => Some("&gt;"),
        (b'"', C14nAttribute | Attribute) => Some("&quot;"),
        (b'\r', C14nText | C14nAttribute) => Some("&#xD;"),
        (b'\t', C14nAttribute) => Some("&#x9;"),
        (b'\n', C14nAttribute) => Some("&#xA;"),
        _ => None,
    }
}

/// Calls `run` with each unescaped run and each replacement of `s`, in order.
fn pieces<E>(s: &str, mode: Escape, mut run: impl FnMut(&str) -> Result<(), E>) -> Result<(), E> {
    let mut start = 0;
    for (i, &b) in s.as_bytes().iter().enumerate() {
        if let Some(rep) = replacement(b, mode) {
            run(&s[start..i])?;
            run(rep)?;
            start = i + 1;
        }
    }
    run(&s[start..])
}

/// Writes `s` with the escaping `mode` requires, copying unescaped runs in one write each.
pub fn write_escaped<W: Write + ?Sized>(out: &mut W, s: &str, mode: Escape) -> io::Result<()> {
    pieces(s, mode, |piece| out.write_all(piece.as_bytes()))
}

/// Appends `s` to `out` with the escaping `mode` requires.
pub fn push_escaped(out: &mut String, s: &str, mode: Escape) {
    let infallible: Result<(), std::convert::Infallible> = pieces(s, mode, |piece| {
        out.push_str(piece);
        Ok(())
    });
    let Ok(()) = infallible;
}

/// `s` escaped as `mode` requires, borrowed when nothing needs escaping.
pub fn escape(s: &str, mode: Escape) -> Cow<'_, str> {
    if !s.bytes().any(|b| replacement(b, mode).is_some()) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 16);
    push_escaped(&mut out, s, mode);
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL: &str = "a&b<c>d\"e'f\tg\nh\ri ж";

    #[test]
    fn each_mode_replaces_its_characters_only() {
        assert_eq!(escape(ALL, Escape::C14nText), "a&amp;b&lt;c&gt;d\"e'f\tg\nh&#xD;i ж");
        assert_eq!(escape(ALL, Escape::C14nAttribute), "a&amp;b&lt;c>d&quot;e'f&#x9;g&#xA;h&#xD;i ж");
        assert_eq!(escape(ALL, Escape::Text), "a&amp;b&lt;c&gt;d\"e'f\tg\nh\ri ж");
        assert_eq!(escape(ALL, Escape::Attribute), "a&amp;b&lt;c&gt;d&quot;e'f\tg\nh\ri ж");
    }

    #[test]
    fn the_three_writers_agree() {
        for mode in [Escape::C14nText, Escape::C14nAttribute, Escape::Text, Escape::Attribute] {
            let mut bytes = Vec::new();
            write_escaped(&mut bytes, ALL, mode).unwrap();
            let mut pushed = String::from(">");
            push_escaped(&mut pushed, ALL, mode);
            assert_eq!(String::from_utf8(bytes).unwrap(), escape(ALL, mode));
            assert_eq!(&pushed[1..], escape(ALL, mode));
        }
    }

    #[test]
    fn clean_text_is_borrowed() {
        assert!(matches!(escape("plain ж text", Escape::Attribute), Cow::Borrowed(_)));
    }
}
