//! The bounded parser: quick-xml tokenizes, this module enforces the limits, resolves namespaces and references,
//! and builds a [`Document`].
#![forbid(unsafe_code)]

use super::chars::{decode_attribute, decode_cdata, decode_text, split_qname, LocalError};
use super::dom::{Attribute, Document, Element, Node, NodeId, NodeKind, NsDecl, NsId, XML_NS};
use super::scope::ScopeStack;
use super::{Limits, Position, XmlError, XmlErrorKind};
use quick_xml::events::{BytesStart, Event};
use quick_xml::Reader;
use std::borrow::Cow;
use std::collections::HashMap;

const XMLNS_NS: &str = "http://www.w3.org/2000/xmlns/";

/// Parses raw bytes: refuses oversize input before looking at it, strips a UTF-8 byte-order mark, requires UTF-8.
pub fn parse_bytes<'a>(input: &'a [u8], limits: &Limits) -> Result<Document<'a>, XmlError> {
    check_size(input.len(), limits)?;
    let input = input.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(input);
    let src = std::str::from_utf8(input).map_err(|e| {
        let valid = std::str::from_utf8(&input[..e.valid_up_to()]).unwrap_or("");
        XmlError::at(valid, valid.len(), XmlErrorKind::Encoding(e.to_string()))
    })?;
    // Not `parse`, which would strip a second byte-order mark: only the first is an encoding signature; another
    // is a character before the document element, which XML does not allow.
    Parser::new(src, *limits).run()
}

/// Parses a document held in a string.
pub fn parse<'a>(src: &'a str, limits: &Limits) -> Result<Document<'a>, XmlError> {
    check_size(src.len(), limits)?;
    let src = src.strip_prefix('\u{FEFF}').unwrap_or(src);
    Parser::new(src, *limits).run()
}

fn check_size(size: usize, limits: &Limits) -> Result<(), XmlError> {
    if size > limits.max_document_bytes {
        return Err(XmlError {
            kind: XmlErrorKind::DocumentTooLarge { size, limit: limits.max_document_bytes },
            // The whole document is at fault: point at its start (lines and columns are one-based).
            position: Position { line: 1, column: 1, offset: 0 },
        });
    }
    Ok(())
}

struct Parser<'a> {
    src: &'a str,
    limits: Limits,
    nodes: Vec<Node<'a>>,
    namespaces: Vec<Cow<'a, str>>,
    interned: HashMap<String, NsId>,
    /// Open elements, innermost last, with how many bindings each pushed.
    open: Vec<(NodeId, usize)>,
    /// The namespace bindings in force, by prefix (`None` = default namespace); `None` values undeclare.
    scopes: ScopeStack<Option<&'a str>, Option<NsId>>,
    /// The current start tag's prefixed attributes (namespace, local name, offset, prefix), reused from tag to tag,
    /// for the duplicate check.
    qualified: Vec<(NsId, &'a str, usize, Option<&'a str>)>,
    root: Option<NodeId>,
}

impl<'a> Parser<'a> {
    fn new(src: &'a str, limits: Limits) -> Self {
        // Markup of the messages handled here runs at about 20 bytes a node: reserving for one node per 16 bytes
        // means the node list is rarely copied while it grows. Capped, so that a large hostile input cannot make
        // one large reservation before its first error.
        let estimate = (src.len() / 16).min(limits.max_nodes).min(1 << 16);
        Parser {
            src,
            limits,
            nodes: Vec::with_capacity(estimate + 1),
            namespaces: Vec::new(),
            interned: HashMap::new(),
            open: Vec::new(),
            scopes: ScopeStack::default(),
            qualified: Vec::new(),
            root: None,
        }
    }

    fn err(&self, offset: usize, kind: XmlErrorKind) -> XmlError {
        XmlError::at(self.src, offset, kind)
    }

    fn local_err(&self, base: usize, (off, kind): LocalError) -> XmlError {
        self.err(base + off, kind)
    }

    /// Re-borrows a slice quick-xml handed out so that it carries the input's lifetime. The reader works on the
    /// input string in place, so every slice it returns lies inside it.
    fn reborrow(&self, part: &[u8]) -> &'a str {
        let start = (part.as_ptr() as usize).wrapping_sub(self.src.as_ptr() as usize);
        self.src.get(start..start + part.len()).expect("the tokenizer returns slices of its input")
    }

    fn run(mut self) -> Result<Document<'a>, XmlError> {
        // The one byte-order mark allowed is stripped before we get here. quick-xml silently skips another at the
        // start of its input and then counts offsets from after it (so every span would be off by three bytes):
        // refuse it here as the misplaced character it is.
        if self.src.starts_with('\u{FEFF}') {
            return Err(self.err(0, XmlErrorKind::Structure("text outside the document element".into())));
        }
        let mut reader = Reader::from_str(self.src);
        let config = reader.config_mut();
        config.trim_text(false);
        config.check_comments = true;
        config.check_end_names = true;
        config.expand_empty_elements = false;
        loop {
            let before = reader.buffer_position() as usize;
            let event = reader
                .read_event()
                .map_err(|e| self.err(reader.error_position() as usize, XmlErrorKind::Malformed(e.to_string())))?;
            let after = reader.buffer_position() as usize;
            match event {
                Event::Decl(decl) => self.declaration(&decl, before)?,
                Event::DocType(_) => return Err(self.err(before, XmlErrorKind::DoctypeForbidden)),
                Event::Start(start) => self.start_element(&start, before, after, false)?,
                Event::Empty(start) => self.start_element(&start, before, after, true)?,
                Event::End(_) => self.end_element(after),
                Event::Text(text) => {
                    let raw = self.reborrow(&text);
                    self.text(raw, before, false)?;
                }
                Event::CData(cdata) => {
                    let raw = self.reborrow(&cdata);
                    self.text(raw, before + "<![CDATA[".len(), true)?;
                }
                Event::Comment(comment) => {
                    let raw = self.reborrow(&comment);
                    super::chars::check_chars(raw).map_err(|e| self.local_err(before + 4, e))?;
                    self.push_child(before, NodeKind::Comment(raw))?;
                }
                Event::PI(pi) => {
                    let target = self.reborrow(pi.target());
                    let data = self.reborrow(pi.content()).trim_start_matches([' ', '\t', '\r', '\n']);
                    if target.eq_ignore_ascii_case("xml") || !super::chars::is_ncname(target) {
                        return Err(self.err(before, XmlErrorKind::InvalidName(target.to_string())));
                    }
                    // XML normalizes line ends in the whole input, so CR LF and CR in a processing instruction are
                    // LF to every consumer (and in canonical output); its characters must be XML characters too.
                    // A CDATA section's content follows exactly these rules.
                    let data_offset = data.as_ptr() as usize - self.src.as_ptr() as usize;
                    let data = decode_cdata(data).map_err(|e| self.local_err(data_offset, e))?;
                    self.push_child(before, NodeKind::Pi { target, data })?;
                }
                Event::Eof => break,
            }
        }
        if let Some(&(open, _)) = self.open.last() {
            let name = self.nodes[open.0 as usize].kind.clone();
            let start = match name {
                NodeKind::Element(e) => e.span.start,
                _ => 0,
            };
            return Err(
                self.err(start, XmlErrorKind::Malformed("element is not closed before the end of input".into()))
            );
        }
        let root =
            self.root.ok_or_else(|| self.err(self.src.len(), XmlErrorKind::Structure("no document element".into())))?;
        Ok(Document { src: self.src, nodes: self.nodes, root, namespaces: self.namespaces, ids: Default::default() })
    }

    fn declaration(&self, decl: &quick_xml::events::BytesDecl<'_>, offset: usize) -> Result<(), XmlError> {
        if offset != 0 {
            return Err(self.err(offset, XmlErrorKind::Malformed("XML declaration must be at the start".into())));
        }
        // quick-xml checks little of the declaration. XML 1.0 (production 23) wants `version` (1.x), then
        // optionally `encoding`, then optionally `standalone` (yes or no), in that order, each after whitespace.
        const NAMES: [&str; 3] = ["version", "encoding", "standalone"];
        let mut next = 0;
        let content = BytesStart::from_content(self.reborrow(decl), "xml".len());
        for attr in content.attributes().with_checks(true) {
            let attr = attr.map_err(|e| self.err(offset, XmlErrorKind::Malformed(e.to_string())))?;
            let key = self.reborrow(attr.key.into_inner());
            let key_offset = self.attribute_start(key)?;
            let value = self.reborrow(&attr.value);
            let ok = match NAMES.iter().position(|&n| n == key) {
                Some(0) if next == 0 => {
                    value.strip_prefix("1.").is_some_and(|v| !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()))
                }
                Some(i) if i >= next && next > 0 => i != 2 || value == "yes" || value == "no",
                _ => false,
            };
            if !ok {
                let reason = format!("XML declaration: '{key}=\"{value}\"' is not allowed here");
                return Err(self.err(key_offset, XmlErrorKind::Malformed(reason)));
            }
            next = NAMES.iter().position(|&n| n == key).map_or(next, |i| i + 1);
        }
        if next == 0 {
            return Err(self.err(offset, XmlErrorKind::Malformed("XML declaration without a version".into())));
        }
        if let Some(enc) = decl.encoding() {
            let enc = enc.map_err(|e| self.err(offset, XmlErrorKind::Malformed(e.to_string())))?;
            if !enc.eq_ignore_ascii_case(b"utf-8") && !enc.eq_ignore_ascii_case(b"utf8") {
                let name = String::from_utf8_lossy(&enc).into_owned();
                return Err(self.err(
                    offset,
                    XmlErrorKind::Encoding(format!("declared encoding '{name}'; only UTF-8 is accepted")),
                ));
            }
        }
        Ok(())
    }

    /// The offset of an attribute's name, which XML requires whitespace before; quick-xml accepts `b="1"c="2"`.
    fn attribute_start(&self, key: &'a str) -> Result<usize, XmlError> {
        let at = key.as_ptr() as usize - self.src.as_ptr() as usize;
        if !matches!(self.src.as_bytes()[at - 1], b' ' | b'\t' | b'\r' | b'\n') {
            return Err(self.err(at, XmlErrorKind::Malformed("attributes must be separated by whitespace".into())));
        }
        Ok(at)
    }

    fn intern(&mut self, uri: Cow<'a, str>) -> NsId {
        if let Some(&id) = self.interned.get(uri.as_ref()) {
            return id;
        }
        let id = NsId(self.namespaces.len() as u32);
        self.interned.insert(uri.to_string(), id);
        self.namespaces.push(uri);
        id
    }

    fn lookup(&mut self, prefix: Option<&'a str>) -> Option<NsId> {
        if prefix == Some("xml") {
            return Some(self.intern(Cow::Borrowed(XML_NS)));
        }
        self.scopes.get(&prefix).flatten()
    }

    fn push_child(&mut self, offset: usize, kind: NodeKind<'a>) -> Result<NodeId, XmlError> {
        if self.nodes.len() >= self.limits.max_nodes {
            return Err(self.err(offset, XmlErrorKind::TooManyNodes { limit: self.limits.max_nodes }));
        }
        let id = NodeId(self.nodes.len() as u32);
        let parent = self.open.last().map(|&(p, _)| p);
        self.nodes.push(Node { parent, kind });
        Ok(id)
    }

    fn text(&mut self, raw: &'a str, offset: usize, cdata: bool) -> Result<(), XmlError> {
        if self.open.is_empty() {
            // Point at what is not allowed there: the CDATA section's `<`, or the first character that is not
            // whitespace (not at the whitespace before it, which may be on an earlier line).
            let misplaced = if cdata {
                Some(offset - "<![CDATA[".len())
            } else {
                raw.bytes().position(|b| !matches!(b, b' ' | b'\t' | b'\r' | b'\n')).map(|i| offset + i)
            };
            return match misplaced {
                Some(at) => Err(self.err(at, XmlErrorKind::Structure("text outside the document element".into()))),
                None => Ok(()),
            };
        }
        let decoded =
            if cdata { decode_cdata(raw) } else { decode_text(raw) }.map_err(|e| self.local_err(offset, e))?;
        // Adjacent character data (text beside a CDATA section) is one text node, as in the XPath data model.
        // The last node stored is the open element's last child exactly when the open element is its parent.
        let parent = self.open.last().map(|&(p, _)| p);
        if let Some(last) = self.nodes.last_mut() {
            if let (NodeKind::Text(prev), true) = (&mut last.kind, last.parent == parent) {
                prev.to_mut().push_str(&decoded);
                return Ok(());
            }
        }
        self.push_child(offset, NodeKind::Text(decoded))?;
        Ok(())
    }

    fn check_name(&self, name: &'a str, offset: usize) -> Result<(Option<&'a str>, &'a str), XmlError> {
        if name.len() > self.limits.max_name_bytes {
            return Err(self.err(offset, XmlErrorKind::NameTooLong { limit: self.limits.max_name_bytes }));
        }
        split_qname(name).ok_or_else(|| self.err(offset, XmlErrorKind::InvalidName(name.to_string())))
    }

    fn start_element(
        &mut self,
        start: &BytesStart<'_>,
        before: usize,
        after: usize,
        empty: bool,
    ) -> Result<(), XmlError> {
        if self.open.len() >= self.limits.max_depth {
            return Err(self.err(before, XmlErrorKind::TooDeep { limit: self.limits.max_depth }));
        }
        if self.open.is_empty() && self.root.is_some() {
            return Err(self.err(before, XmlErrorKind::Structure("more than one document element".into())));
        }
        let (prefix, local) = self.check_name(self.reborrow(start.name().into_inner()), before + 1)?;
        let mut ns_decls = Vec::new();
        let mut raw_attrs: Vec<(Option<&'a str>, &'a str, Cow<'a, str>, usize)> = Vec::new();
        for (count, attr) in start.attributes().with_checks(true).enumerate() {
            if count >= self.limits.max_attributes {
                return Err(self.err(before, XmlErrorKind::TooManyAttributes { limit: self.limits.max_attributes }));
            }
            let attr = attr.map_err(|e| match e {
                quick_xml::events::attributes::AttrError::Duplicated(pos, _) => {
                    let name = &self.src[before + 1 + pos..];
                    let name = name.split(['=', ' ', '\t', '\r', '\n']).next().unwrap_or("");
                    self.err(before + 1 + pos, XmlErrorKind::DuplicateAttribute(name.to_string()))
                }
                other => self.err(before, XmlErrorKind::Malformed(other.to_string())),
            })?;
            let key = self.reborrow(attr.key.into_inner());
            let key_offset = self.attribute_start(key)?;
            let raw_value = self.reborrow(&attr.value);
            let value_offset = raw_value.as_ptr() as usize - self.src.as_ptr() as usize;
            let value = decode_attribute(raw_value).map_err(|e| self.local_err(value_offset, e))?;
            let (aprefix, alocal) = self.check_name(key, key_offset)?;
            match (aprefix, alocal) {
                (None, "xmlns") => {
                    if value == XML_NS || value == XMLNS_NS {
                        return Err(self.err(
                            key_offset,
                            XmlErrorKind::InvalidNamespaceDeclaration(format!(
                                "'{value}' cannot be the default namespace"
                            )),
                        ));
                    }
                    let ns = (!value.is_empty()).then(|| self.intern(value));
                    ns_decls.push(NsDecl { prefix: None, ns });
                }
                (Some("xmlns"), p) => {
                    let bad = match p {
                        "xmlns" => Some("the prefix 'xmlns' cannot be declared".to_string()),
                        "xml" if value != XML_NS => Some("the prefix 'xml' cannot be rebound".to_string()),
                        _ if p != "xml" && (value == XML_NS || value == XMLNS_NS) => {
                            Some(format!("'{value}' is reserved"))
                        }
                        _ if value.is_empty() => Some(format!("prefix '{p}' cannot be bound to an empty URI")),
                        _ => None,
                    };
                    if let Some(reason) = bad {
                        return Err(self.err(key_offset, XmlErrorKind::InvalidNamespaceDeclaration(reason)));
                    }
                    if p != "xml" {
                        let ns = Some(self.intern(value));
                        ns_decls.push(NsDecl { prefix: Some(p), ns });
                    }
                }
                _ => raw_attrs.push((aprefix, alocal, value, key_offset)),
            }
        }
        for d in &ns_decls {
            self.scopes.push(d.prefix, d.ns);
        }
        let pushed = ns_decls.len();
        let ns = match prefix {
            None => self.lookup(None),
            Some(p) => Some(
                self.lookup(Some(p)).ok_or_else(|| self.err(before + 1, XmlErrorKind::UnboundPrefix(p.to_string())))?,
            ),
        };
        let mut attrs = Vec::with_capacity(raw_attrs.len());
        self.qualified.clear();
        for (aprefix, alocal, value, offset) in raw_attrs {
            let ans = match aprefix {
                None => None,
                Some(p) => Some(
                    self.lookup(Some(p)).ok_or_else(|| self.err(offset, XmlErrorKind::UnboundPrefix(p.to_string())))?,
                ),
            };
            attrs.push(Attribute { prefix: aprefix, local: alocal, ns: ans, value });
            if let Some(ns) = ans {
                self.qualified.push((ns, alocal, offset, aprefix));
            }
        }
        self.check_qualified_duplicates()?;
        let element = Element {
            prefix,
            local,
            ns,
            ns_decls,
            attrs,
            // Set when the element closes; an empty-element tag has no descendants.
            subtree_end: self.nodes.len() as u32 + 1,
            span: before..after,
            start_tag_end: after,
        };
        let id = self.push_child(before, NodeKind::Element(element))?;
        if self.open.is_empty() {
            self.root = Some(id);
        }
        if empty {
            self.scopes.truncate(self.scopes.mark() - pushed);
        } else {
            self.open.push((id, pushed));
        }
        Ok(())
    }

    /// Two prefixed attributes whose prefixes name the same namespace and that share a local name are one
    /// attribute written twice. Sorted rather than compared pairwise, so an element with many attributes costs
    /// n log n, not n squared; the error points at the later of the two.
    fn check_qualified_duplicates(&mut self) -> Result<(), XmlError> {
        if self.qualified.len() < 2 {
            return Ok(());
        }
        self.qualified.sort_unstable();
        match self.qualified.windows(2).find(|w| w[0].0 == w[1].0 && w[0].1 == w[1].1) {
            Some(w) => {
                let (_, local, offset, prefix) = w[1];
                Err(self.err(offset, XmlErrorKind::DuplicateAttribute(format!("{}:{local}", prefix.unwrap_or("")))))
            }
            None => Ok(()),
        }
    }

    fn end_element(&mut self, after: usize) {
        // The tokenizer has checked that the end tag matches the open element.
        if let Some((id, pushed)) = self.open.pop() {
            self.scopes.truncate(self.scopes.mark() - pushed);
            let subtree_end = self.nodes.len() as u32;
            if let NodeKind::Element(e) = &mut self.nodes[id.0 as usize].kind {
                e.span.end = after;
                e.subtree_end = subtree_end;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pi_data(src: &str) -> String {
        let doc = parse(src, &Limits::default()).expect("parses");
        let first = doc.children(doc.root()).next().expect("a child");
        match &doc.node(first).kind {
            NodeKind::Pi { data, .. } => data.to_string(),
            other => panic!("not a processing instruction: {other:?}"),
        }
    }

    /// Regression: a literal CR LF or CR inside a processing instruction reached the tree, and so the canonical
    /// output, unnormalized (libxml2 and the XML spec make it LF).
    #[test]
    fn pi_data_line_ends_are_normalized() {
        assert_eq!(pi_data("<a><?p x\r\ny\rz\r?></a>"), "x\ny\nz\n");
        assert_eq!(pi_data("<a><?p\r\n  x?></a>"), "x");
        let doc = parse("<a><?p x\r\ny?></a>", &Limits::default()).expect("parses");
        assert_eq!(crate::xml::exc_c14n(&doc, doc.root(), &Default::default()), b"<a><?p x\ny?></a>");
    }

    /// Regression: the size refusal carried line 0, column 0, though positions are one-based.
    #[test]
    fn oversize_document_error_points_at_the_start() {
        let limits = Limits { max_document_bytes: 4, ..Limits::default() };
        for err in [parse("<a></a>", &limits).unwrap_err(), parse_bytes(b"<a></a>", &limits).unwrap_err()] {
            assert_eq!(err.kind, XmlErrorKind::DocumentTooLarge { size: 7, limit: 4 });
            assert_eq!(err.position, Position { line: 1, column: 1, offset: 0 });
        }
    }

    /// Regression: `parse_bytes` stripped a byte-order mark and `parse` then stripped a second one.
    #[test]
    fn a_second_byte_order_mark_is_refused() {
        let err = parse_bytes(b"\xEF\xBB\xBF\xEF\xBB\xBF<a/>", &Limits::default()).unwrap_err();
        assert_eq!(err.kind, XmlErrorKind::Structure("text outside the document element".into()));
        assert_eq!((err.position.line, err.position.column), (1, 1));
        let err = parse("\u{FEFF}\u{FEFF}<a/>", &Limits::default()).unwrap_err();
        assert_eq!(err.kind, XmlErrorKind::Structure("text outside the document element".into()));
        let doc = parse_bytes(b"\xEF\xBB\xBF<a/>", &Limits::default()).unwrap();
        assert_eq!(doc.element(doc.root()).span, 0..4);
    }

    /// Regression: text after the document element was located at the whitespace before it, often a line early.
    #[test]
    fn text_outside_the_document_element_is_located_at_its_first_non_space() {
        let err = parse("<a/>\n  x", &Limits::default()).unwrap_err();
        assert_eq!((err.position.line, err.position.column), (2, 3));
        let err = parse("<a/>\n<![CDATA[x]]>", &Limits::default()).unwrap_err();
        assert_eq!((err.position.line, err.position.column), (2, 1));
    }

    /// Regression: quick-xml accepted attributes with no whitespace between them.
    #[test]
    fn attributes_without_whitespace_between_are_refused() {
        let err = parse("<a b=\"1\"c=\"2\"/>", &Limits::default()).unwrap_err();
        assert!(matches!(err.kind, XmlErrorKind::Malformed(_)), "{err}");
        assert_eq!(err.position.offset, 8);
        assert!(parse("<a b=\"1\"\n\tc='2' />", &Limits::default()).is_ok());
    }

    /// Regression: XML declarations without a version, with another version than 1.x, with their pseudo-attributes
    /// out of order or unknown, or with standalone other than yes or no were accepted.
    #[test]
    fn malformed_xml_declarations_are_refused() {
        for (src, offset) in [
            ("<?xml?><a/>", 0),
            ("<?xml encoding=\"UTF-8\"?><a/>", 6),
            ("<?xml version=\"2.0\"?><a/>", 6),
            ("<?xml version=\"1.0\" standalone=\"yes\" encoding=\"UTF-8\"?><a/>", 37),
            ("<?xml version=\"1.0\" standalone=\"maybe\"?><a/>", 20),
            ("<?xml version=\"1.0\" foo=\"x\"?><a/>", 20),
            ("<?xml version=\"1.0\"encoding=\"UTF-8\"?><a/>", 19),
        ] {
            let err = parse(src, &Limits::default()).unwrap_err();
            assert!(matches!(err.kind, XmlErrorKind::Malformed(_)), "{src}: {err}");
            assert_eq!(err.position.offset, offset, "{src}: {err}");
        }
        for src in ["<?xml version='1.0'?><a/>", "<?xml version=\"1.1\" encoding='utf-8' standalone='no' ?><a/>"] {
            assert!(parse(src, &Limits::default()).is_ok(), "{src}");
        }
    }

    /// Regression: characters XML forbids were accepted inside a processing instruction.
    #[test]
    fn pi_data_with_a_forbidden_character_is_refused() {
        let err = parse("<a><?p x\u{1}?></a>", &Limits::default()).unwrap_err();
        assert_eq!(err.kind, XmlErrorKind::InvalidChar("U+0001".into()));
        assert_eq!((err.position.line, err.position.column, err.position.offset), (1, 9, 8));
    }
}
