//! The SMEV transform (`urn://smev-gov-ru/xmldsig/transform`), applied to the events of exclusive c14n.
//!
//! What it does, in the order the SMEV 3 methodical recommendations give: no declaration, comments or processing
//! instructions; whitespace-only text dropped; no empty-element tags; namespace declarations only where needed,
//! with prefixes renamed `ns1`, `ns2`, ... in order of first need among the *open ancestors* (a later sibling in the
//! same namespace gets a fresh prefix); namespaced attributes sorted by (URI, local name) before unqualified ones
//! sorted by local name; declarations before attributes, the element's own first.
//!
//! Whitespace-only text, exactly: the method guide's reference code reads the canonical text with the JDK's StAX
//! parser and drops every character event made only of characters up to U+0020. That parser reports a character
//! or entity reference (`&#xD;`, `&amp;`, `&lt;`, `&gt;`: the only ones canonical text has) as an event of its
//! own, so a carriage return (always `&#xD;` in canonical text) is always dropped, and so is a whitespace-only run
//! between two references or after a carriage return (`a&#xD;\n` is `a`). [`TransformVariant::Reference`] mirrors
//! that (`tests/oracles/` holds the oracle that established it, and `tests/data/transform/` its outputs);
//! [`TransformVariant::CrKept`] is the other rule seen in the field, which drops only text events that are whitespace
//! as a whole and keeps a carriage return as `&#xD;`. Neither writes a raw CR byte. Not mirrored: the JDK parser
//! also splits text longer than its 16 KiB buffer, so a whitespace-only run of that length could be dropped there.
#![forbid(unsafe_code)]

use super::c14n::{CanonError, CanonicalElement, CanonicalSink};
use super::escape::{write_escaped, Escape};
use super::scope::ScopeStack;
use std::io::Write;

/// Which rule the transform follows for text around carriage returns and references.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum TransformVariant {
    /// The method guide's reference code as run on the JDK: every reference is a text event of its own, and
    /// whitespace-only events (carriage returns included) are dropped. What edugate signs with.
    #[default]
    Reference,
    /// Whole text events only are dropped when whitespace; a carriage return inside kept text is written `&#xD;`.
    CrKept,
}

/// A [`CanonicalSink`] that writes the SMEV transform of the events it receives.
pub struct SmevTransform<W: Write> {
    out: W,
    /// Namespace URIs bound to `ns<N>` by open elements.
    bindings: ScopeStack<String, u32>,
    /// For each open element: its prefix number and the bindings mark before it.
    open: Vec<(u32, usize)>,
    /// The last prefix number handed out; never goes back.
    counter: u32,
    /// Marks of the bindings made for the element being written (their keys are the URIs to declare), reused to
    /// avoid allocation.
    declare: Vec<usize>,
    /// The text rule followed.
    variant: TransformVariant,
    /// Whether some text was written differently than [`TransformVariant::CrKept`] would write it (under
    /// [`TransformVariant::Reference`]) or the other way round: when not, both variants give the same output.
    diverged: bool,
}

impl<W: Write> SmevTransform<W> {
    /// A transform writing to `out` with the reference text rule.
    pub fn new(out: W) -> Self {
        Self::with_variant(out, TransformVariant::Reference)
    }

    /// A transform writing to `out` with the given text rule.
    pub fn with_variant(out: W, variant: TransformVariant) -> Self {
        SmevTransform {
            out,
            bindings: ScopeStack::default(),
            open: Vec::new(),
            counter: 0,
            declare: Vec::new(),
            variant,
            diverged: false,
        }
    }

    /// Whether the output so far would differ under the other [`TransformVariant`]: only text with a carriage
    /// return or a whitespace-only run beside a reference makes it differ.
    pub fn variants_diverged(&self) -> bool {
        self.diverged
    }

    /// The underlying output.
    pub fn into_inner(self) -> W {
        self.out
    }

    /// The prefix number for `uri`, binding a fresh one (to be declared on the current element) when no open
    /// ancestor has it.
    fn prefix_for(&mut self, uri: &str) -> u32 {
        if let Some(n) = self.bindings.get(uri) {
            return n;
        }
        self.counter += 1;
        self.declare.push(self.bindings.mark());
        self.bindings.push(uri.to_string(), self.counter);
        self.counter
    }

    fn write_prefix(&mut self, n: u32) -> std::io::Result<()> {
        write!(self.out, "ns{n}:")
    }

    /// Text under [`TransformVariant::Reference`]: split as the JDK parser reports canonical text (each `&`, `<`,
    /// `>` and carriage return, written as references, on its own), whitespace-only pieces dropped.
    fn reference_text(&mut self, text: &str) -> std::io::Result<()> {
        let mut run_start = 0;
        let bytes = text.as_bytes();
        for (i, &b) in bytes.iter().enumerate() {
            if matches!(b, b'&' | b'<' | b'>' | b'\r') {
                self.reference_run(&text[run_start..i])?;
                if b == b'\r' {
                    self.diverged = true;
                } else {
                    write_escaped(&mut self.out, &text[i..i + 1], Escape::Text)?;
                }
                run_start = i + 1;
            }
        }
        self.reference_run(&text[run_start..])
    }

    /// A run of text between references: dropped when whitespace only (which the other variant keeps, since
    /// this run is part of a text event that is not whitespace as a whole).
    fn reference_run(&mut self, run: &str) -> std::io::Result<()> {
        if run.is_empty() {
            return Ok(());
        }
        if is_blank(run) {
            self.diverged = true;
            return Ok(());
        }
        self.out.write_all(run.as_bytes())
    }

    /// Text under [`TransformVariant::CrKept`]: escaped as a whole, a carriage return written `&#xD;`.
    fn cr_kept_text(&mut self, text: &str) -> std::io::Result<()> {
        let mut pieces = text.split('\r');
        if let Some(first) = pieces.next() {
            write_escaped(&mut self.out, first, Escape::Text)?;
        }
        for piece in pieces {
            self.diverged = true;
            self.out.write_all(b"&#xD;")?;
            write_escaped(&mut self.out, piece, Escape::Text)?;
        }
        Ok(())
    }
}

/// Whether text is made only of characters up to U+0020 (what Java's `String.trim` removes).
fn is_blank(text: &str) -> bool {
    text.bytes().all(|b| b <= 0x20)
}

impl<W: Write> CanonicalSink for SmevTransform<W> {
    fn start_element(&mut self, el: &CanonicalElement<'_, '_>) -> Result<(), CanonError> {
        if el.ns_uri.is_empty() {
            return Err(CanonError::ElementWithoutNamespace { element: el.local.to_string() });
        }
        let mark = self.bindings.mark();
        self.declare.clear();
        let own = self.prefix_for(el.ns_uri);
        // Canonical order already puts unqualified attributes (empty URI) first, each group sorted by
        // (URI, local name); the transform wants the namespaced ones first.
        let split = el.attrs.iter().position(|(uri, _)| !uri.is_empty()).unwrap_or(el.attrs.len());
        let (plain, qualified) = el.attrs.split_at(split);
        let mut attr_prefixes = Vec::with_capacity(qualified.len());
        for (uri, _) in qualified {
            attr_prefixes.push(self.prefix_for(uri));
        }

        self.out.write_all(b"<")?;
        self.write_prefix(own)?;
        self.out.write_all(el.local.as_bytes())?;
        for i in 0..self.declare.len() {
            let at = self.declare[i];
            let uri = self.bindings.key_at(at);
            let n = self.bindings.get(uri.as_str()).expect("bound above");
            write!(self.out, " xmlns:ns{n}=\"")?;
            write_escaped(&mut self.out, uri, Escape::Attribute)?;
            self.out.write_all(b"\"")?;
        }
        for ((_, a), n) in qualified.iter().zip(attr_prefixes) {
            self.out.write_all(b" ")?;
            self.write_prefix(n)?;
            self.out.write_all(a.local.as_bytes())?;
            self.out.write_all(b"=\"")?;
            write_escaped(&mut self.out, &a.value, Escape::Attribute)?;
            self.out.write_all(b"\"")?;
        }
        for (_, a) in plain {
            self.out.write_all(b" ")?;
            self.out.write_all(a.local.as_bytes())?;
            self.out.write_all(b"=\"")?;
            write_escaped(&mut self.out, &a.value, Escape::Attribute)?;
            self.out.write_all(b"\"")?;
        }
        self.out.write_all(b">")?;
        self.open.push((own, mark));
        Ok(())
    }

    fn end_element(&mut self, _prefix: Option<&str>, local: &str) -> Result<(), CanonError> {
        let (own, mark) = self.open.pop().expect("end_element follows start_element");
        self.out.write_all(b"</")?;
        self.write_prefix(own)?;
        self.out.write_all(local.as_bytes())?;
        self.out.write_all(b">")?;
        self.bindings.truncate(mark);
        Ok(())
    }

    fn text(&mut self, text: &str) -> Result<(), CanonError> {
        if is_blank(text) {
            return Ok(());
        }
        match self.variant {
            TransformVariant::Reference => self.reference_text(text)?,
            TransformVariant::CrKept => self.cr_kept_text(text)?,
        }
        Ok(())
    }

    fn processing_instruction(&mut self, _target: &str, _data: &str) -> Result<(), CanonError> {
        Ok(())
    }
}

/// Exclusive c14n of `apex` followed by the SMEV transform, written to `out`.
pub fn smev_transform<W: Write>(
    doc: &super::Document<'_>,
    apex: super::NodeId,
    options: &super::C14nOptions,
    out: W,
) -> Result<W, CanonError> {
    let mut sink = SmevTransform::new(out);
    super::c14n::canonicalize(doc, apex, options, &mut sink)?;
    Ok(sink.into_inner())
}
