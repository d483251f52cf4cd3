//! The SMEV transform (`urn://smev-gov-ru/xmldsig/transform`), applied to the events of exclusive c14n.
//!
//! What it does, in the order the SMEV 3 methodical recommendations give: no declaration, comments or processing
//! instructions; whitespace-only text dropped; no empty-element tags; namespace declarations only where needed,
//! with prefixes renamed `ns1`, `ns2`, ... in order of first need among the *open ancestors* (a later sibling in the
//! same namespace gets a fresh prefix); namespaced attributes sorted by (URI, local name) before unqualified ones
//! sorted by local name; declarations before attributes, the element's own first.
#![forbid(unsafe_code)]

use super::c14n::{write_escaped, CanonError, CanonicalElement, CanonicalSink, Escape};
use std::io::Write;

/// A [`CanonicalSink`] that writes the SMEV transform of the events it receives.
pub struct SmevTransform<W: Write> {
    out: W,
    /// Namespace URIs bound to `ns<N>` by open elements, innermost last.
    bindings: Vec<(String, u32)>,
    /// For each open element: its prefix number and how many bindings it pushed.
    open: Vec<(u32, usize)>,
    /// The last prefix number handed out; never goes back.
    counter: u32,
    /// Scratch list of declarations for the element being written, reused to avoid allocation.
    declare: Vec<u32>,
}

impl<W: Write> SmevTransform<W> {
    /// A transform writing to `out`.
    pub fn new(out: W) -> Self {
        SmevTransform { out, bindings: Vec::new(), open: Vec::new(), counter: 0, declare: Vec::new() }
    }

    /// The underlying output.
    pub fn into_inner(self) -> W {
        self.out
    }

    /// The prefix number for `uri`, binding a fresh one (to be declared on the current element) when no open
    /// ancestor has it.
    fn prefix_for(&mut self, uri: &str) -> u32 {
        if let Some(&(_, n)) = self.bindings.iter().rev().find(|(u, _)| u == uri) {
            return n;
        }
        self.counter += 1;
        self.bindings.push((uri.to_string(), self.counter));
        self.declare.push(self.counter);
        self.counter
    }

    fn write_prefix(&mut self, n: u32) -> std::io::Result<()> {
        write!(self.out, "ns{n}:")
    }
}

impl<W: Write> CanonicalSink for SmevTransform<W> {
    fn start_element(&mut self, el: &CanonicalElement<'_, '_>) -> Result<(), CanonError> {
        if el.ns_uri.is_empty() {
            return Err(CanonError::ElementWithoutNamespace { element: el.local.to_string() });
        }
        let mark = self.bindings.len();
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
            let n = self.declare[i];
            let uri = &self.bindings.iter().rev().find(|(_, m)| *m == n).expect("bound above").0;
            write!(self.out, " xmlns:ns{n}=\"")?;
            write_escaped(&mut self.out, uri, Escape::TransformAttribute)?;
            self.out.write_all(b"\"")?;
        }
        for ((_, a), n) in qualified.iter().zip(attr_prefixes) {
            self.out.write_all(b" ")?;
            self.write_prefix(n)?;
            self.out.write_all(a.local.as_bytes())?;
            self.out.write_all(b"=\"")?;
            write_escaped(&mut self.out, &a.value, Escape::TransformAttribute)?;
            self.out.write_all(b"\"")?;
        }
        for (_, a) in plain {
            self.out.write_all(b" ")?;
            self.out.write_all(a.local.as_bytes())?;
            self.out.write_all(b"=\"")?;
            write_escaped(&mut self.out, &a.value, Escape::TransformAttribute)?;
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
        if text.chars().all(|c| c <= '\u{20}') {
            return Ok(());
        }
        write_escaped(&mut self.out, text, Escape::TransformText)?;
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
