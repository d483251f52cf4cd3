//! Exclusive XML Canonicalization 1.0, without comments (<http://www.w3.org/2001/10/xml-exc-c14n#>), of one element
//! in the context of its document.
//!
//! The walk produces canonical *events* ([`CanonicalSink`]): [`C14nWriter`] turns them into the canonical bytes and
//! [`super::transform::SmevTransform`] applies the SMEV transform to the same events, so a digest over
//! "exc-c14n, then the SMEV transform" never materializes the intermediate text. Events are exactly what a parser of
//! the canonical bytes would report: comments are gone, text on either side of a removed comment is one text event.
#![forbid(unsafe_code)]

use super::dom::{Attribute, Document, NodeId, NodeKind};
use super::escape::{write_escaped, Escape};
use super::scope::ScopeStack;
use std::borrow::Cow;
use std::io::{self, Write};

/// Errors of canonicalization and of the transforms applied to its output.
#[derive(Debug, thiserror::Error)]
pub enum CanonError {
    /// Writing the output failed.
    #[error("writing canonical output: {0}")]
    Io(#[from] io::Error),
    /// The SMEV transform requires every element to be in a namespace.
    #[error("element '{element}' has no namespace, which the SMEV transform does not allow")]
    ElementWithoutNamespace {
        /// The element's local name.
        element: String,
    },
}

/// One element as canonicalization renders it.
pub struct CanonicalElement<'e, 'a> {
    /// The prefix as written in the input.
    pub prefix: Option<&'a str>,
    /// The local name.
    pub local: &'a str,
    /// The element's namespace URI, `""` when it has none.
    pub ns_uri: &'e str,
    /// The namespace declarations canonicalization renders on this element, sorted by prefix (default first).
    pub ns_decls: &'e [(Option<&'e str>, &'e str)],
    /// The attributes in canonical order, each with its namespace URI (`""` for none).
    pub attrs: &'e [(&'e str, &'e Attribute<'a>)],
}

/// A consumer of canonical events.
pub trait CanonicalSink {
    /// An element starts.
    fn start_element(&mut self, element: &CanonicalElement<'_, '_>) -> Result<(), CanonError>;
    /// The most recently started open element ends.
    fn end_element(&mut self, prefix: Option<&str>, local: &str) -> Result<(), CanonError>;
    /// A run of character data; never two in a row.
    fn text(&mut self, text: &str) -> Result<(), CanonError>;
    /// A processing instruction.
    fn processing_instruction(&mut self, target: &str, data: &str) -> Result<(), CanonError>;
}

/// Options of exclusive canonicalization.
#[derive(Debug, Clone, Default)]
pub struct C14nOptions {
    /// The `InclusiveNamespaces PrefixList`: prefixes treated as in inclusive canonicalization; `#default` names
    /// the default namespace.
    pub inclusive_prefixes: Vec<String>,
    /// An element left out of the output with its subtree: the signature itself, for the enveloped-signature
    /// transform.
    pub exclude: Option<NodeId>,
}

/// Walks the subtree of `apex` and feeds its canonical events to `sink`.
pub fn canonicalize<S: CanonicalSink>(
    doc: &Document<'_>,
    apex: NodeId,
    options: &C14nOptions,
    sink: &mut S,
) -> Result<(), CanonError> {
    let mut walker = Walker { doc, options, rendered: ScopeStack::default(), in_scope: ScopeStack::default() };
    if !options.inclusive_prefixes.is_empty() {
        // Inclusive prefixes are looked up in the apex's context: every declaration of its ancestors, outermost
        // first, then each element's own as the walk enters it.
        let mut ancestors = Vec::new();
        let mut cur = doc.parent(apex);
        while let Some(c) = cur {
            ancestors.push(c);
            cur = doc.parent(c);
        }
        for &a in ancestors.iter().rev() {
            walker.declare_in_scope(a);
        }
    }
    walker.element(apex, sink)
}

/// Exclusive c14n of an element, as bytes.
pub fn exc_c14n(doc: &Document<'_>, apex: NodeId, options: &C14nOptions) -> Vec<u8> {
    let mut writer = C14nWriter::new(Vec::with_capacity(doc.element(apex).span.len()));
    canonicalize(doc, apex, options, &mut writer).expect("writing to a Vec cannot fail");
    writer.into_inner()
}

struct Walker<'d, 'a> {
    doc: &'d Document<'a>,
    options: &'d C14nOptions,
    /// Namespace declarations rendered by open output ancestors: prefix to URI.
    rendered: ScopeStack<Option<&'d str>, &'d str>,
    /// Namespace declarations in scope in the input (`None` for `xmlns=""`), kept only when inclusive prefixes
    /// need them.
    in_scope: ScopeStack<Option<&'d str>, Option<&'d str>>,
}

impl<'d, 'a> Walker<'d, 'a> {
    fn rendered_uri(&self, prefix: Option<&'d str>) -> &'d str {
        self.rendered.get(&prefix).unwrap_or("")
    }

    fn declare_in_scope(&mut self, id: NodeId) {
        let doc = self.doc;
        for d in &doc.element(id).ns_decls {
            self.in_scope.push(d.prefix, d.ns.map(|ns| doc.ns_uri(ns)));
        }
    }

    fn element<S: CanonicalSink>(&mut self, id: NodeId, sink: &mut S) -> Result<(), CanonError> {
        let doc = self.doc;
        let e = doc.element(id);
        let ns_uri = e.ns.map_or("", |ns| doc.ns_uri(ns));
        let options = self.options;
        let scope_mark = self.in_scope.mark();
        if !options.inclusive_prefixes.is_empty() {
            self.declare_in_scope(id);
        }

        // Visibly utilized namespaces: the element's own prefix and those of its attributes.
        let mut needed: Vec<(Option<&'d str>, &'d str)> = Vec::with_capacity(1 + e.attrs.len());
        needed.push((e.prefix, ns_uri));
        for a in &e.attrs {
            if let (Some(p), Some(ns)) = (a.prefix, a.ns) {
                if p != "xml" {
                    needed.push((Some(p), doc.ns_uri(ns)));
                }
            }
        }
        for p in &options.inclusive_prefixes {
            let prefix: Option<&'d str> = if p == "#default" { None } else { Some(p.as_str()) };
            if prefix == Some("xml") {
                continue;
            }
            match self.in_scope.get(&prefix).flatten() {
                Some(uri) => needed.push((prefix, uri)),
                None if prefix.is_none() => needed.push((None, "")),
                None => {}
            }
        }
        // One declaration per prefix (a prefix names one URI in scope, so which duplicate stays does not matter),
        // sorted by prefix, default first; sorting rather than a pairwise check keeps many attributes cheap.
        if needed.len() > 1 {
            needed.sort_by(|a, b| a.0.cmp(&b.0));
            needed.dedup_by(|a, b| a.0 == b.0);
        }
        let mark = self.rendered.mark();
        let mut decls: Vec<(Option<&'d str>, &'d str)> = Vec::new();
        for (prefix, uri) in needed {
            if self.rendered_uri(prefix) != uri {
                decls.push((prefix, uri));
            }
        }
        for &(prefix, uri) in &decls {
            self.rendered.push(prefix, uri);
        }

        let mut attrs: Vec<(&'d str, &'d Attribute<'a>)> =
            e.attrs.iter().map(|a| (a.ns.map_or("", |ns| doc.ns_uri(ns)), a)).collect();
        attrs.sort_unstable_by(|x, y| (x.0, x.1.local).cmp(&(y.0, y.1.local)));

        sink.start_element(&CanonicalElement {
            prefix: e.prefix,
            local: e.local,
            ns_uri,
            ns_decls: &decls,
            attrs: &attrs,
        })?;
        self.children(id, sink)?;
        sink.end_element(e.prefix, e.local)?;
        self.rendered.truncate(mark);
        self.in_scope.truncate(scope_mark);
        Ok(())
    }

    fn children<S: CanonicalSink>(&mut self, id: NodeId, sink: &mut S) -> Result<(), CanonError> {
        let doc = self.doc;
        let mut pending: Option<Cow<'d, str>> = None;
        for child in doc.children(id) {
            match &doc.node(child).kind {
                NodeKind::Text(t) => match &mut pending {
                    None => pending = Some(Cow::Borrowed(t.as_ref())),
                    Some(p) => p.to_mut().push_str(t),
                },
                NodeKind::Comment(_) => {}
                NodeKind::Pi { target, data } => {
                    flush(&mut pending, sink)?;
                    sink.processing_instruction(target, data)?;
                }
                NodeKind::Element(_) if Some(child) == self.options.exclude => {}
                NodeKind::Element(_) => {
                    flush(&mut pending, sink)?;
                    self.element(child, sink)?;
                }
            }
        }
        flush(&mut pending, sink)
    }
}

fn flush<S: CanonicalSink>(pending: &mut Option<Cow<'_, str>>, sink: &mut S) -> Result<(), CanonError> {
    match pending.take() {
        Some(text) => sink.text(&text),
        None => Ok(()),
    }
}

/// Writes canonical events as exclusive-c14n bytes.
pub struct C14nWriter<W: Write> {
    out: W,
}

impl<W: Write> C14nWriter<W> {
    /// A writer over `out`.
    pub fn new(out: W) -> Self {
        C14nWriter { out }
    }

    /// The underlying output.
    pub fn into_inner(self) -> W {
        self.out
    }

    fn qname(&mut self, prefix: Option<&str>, local: &str) -> io::Result<()> {
        if let Some(p) = prefix {
            self.out.write_all(p.as_bytes())?;
            self.out.write_all(b":")?;
        }
        self.out.write_all(local.as_bytes())
    }
}

impl<W: Write> CanonicalSink for C14nWriter<W> {
    fn start_element(&mut self, el: &CanonicalElement<'_, '_>) -> Result<(), CanonError> {
        self.out.write_all(b"<")?;
        self.qname(el.prefix, el.local)?;
        for (prefix, uri) in el.ns_decls {
            match prefix {
                None => self.out.write_all(b" xmlns=\"")?,
                Some(p) => {
                    self.out.write_all(b" xmlns:")?;
                    self.out.write_all(p.as_bytes())?;
                    self.out.write_all(b"=\"")?;
                }
            }
            write_escaped(&mut self.out, uri, Escape::C14nAttribute)?;
            self.out.write_all(b"\"")?;
        }
        for (_, a) in el.attrs {
            self.out.write_all(b" ")?;
            self.qname(a.prefix, a.local)?;
            self.out.write_all(b"=\"")?;
            write_escaped(&mut self.out, &a.value, Escape::C14nAttribute)?;
            self.out.write_all(b"\"")?;
        }
        self.out.write_all(b">")?;
        Ok(())
    }

    fn end_element(&mut self, prefix: Option<&str>, local: &str) -> Result<(), CanonError> {
        self.out.write_all(b"</")?;
        self.qname(prefix, local)?;
        self.out.write_all(b">")?;
        Ok(())
    }

    fn text(&mut self, text: &str) -> Result<(), CanonError> {
        write_escaped(&mut self.out, text, Escape::C14nText)?;
        Ok(())
    }

    fn processing_instruction(&mut self, target: &str, data: &str) -> Result<(), CanonError> {
        self.out.write_all(b"<?")?;
        self.out.write_all(target.as_bytes())?;
        if !data.is_empty() {
            self.out.write_all(b" ")?;
            self.out.write_all(data.as_bytes())?;
        }
        self.out.write_all(b"?>")?;
        Ok(())
    }
}
