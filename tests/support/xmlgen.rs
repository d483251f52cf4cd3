//! Random well-formed XML documents for differential tests.
//!
//! A document is kept as a tree of what was written (raw text with its references, raw attribute values, the
//! whitespace inside tags), so it can be written out exactly, written out for an oracle with comments replaced,
//! and any element can be written out alone as a document of its own with the namespaces in scope at it.
//!
//! Everything generated is well-formed XML 1.0 with namespaces whose namespace names are absolute URIs (libxml2
//! refuses to canonicalize relative ones).

use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::Rng;

/// Namespace names: how each is written in an attribute value, and its value. Two spellings of `urn:x:a` (one
/// with a character reference) are the same namespace; `.../ns` and `.../ns/` are different ones.
///
/// No namespace name here holds `&`, `<` or `"`: libxml2 writes namespace declarations without escaping their
/// values (C14N 1.0 section 2.3 says to escape them as attribute values, as edugate does), so it is no oracle for
/// that; a golden case in `c14n_differential.rs` covers it.
const URIS: &[(&str, &str)] = &[
    ("urn:x:a", "urn:x:a"),
    ("urn:x&#58;a", "urn:x:a"),
    ("urn:x:b", "urn:x:b"),
    ("http://example.com/ns", "http://example.com/ns"),
    ("http://example.com/ns/", "http://example.com/ns/"),
    ("http://www.w3.org/2000/09/xmldsig#", "http://www.w3.org/2000/09/xmldsig#"),
    (
        "urn://x-artefacts-smev-gov-ru/services/message-exchange/types/1.3",
        "urn://x-artefacts-smev-gov-ru/services/message-exchange/types/1.3",
    ),
    ("urn:x:%D0%B0", "urn:x:%D0%B0"),
];

/// The namespace bound to `xml` by definition; declaring it explicitly is allowed.
const XML_NS: &str = "http://www.w3.org/XML/1998/namespace";

/// Prefixes, some of them non-ASCII (Cyrillic, and a Gothic letter from outside the Basic Multilingual Plane).
pub const PREFIXES: &[&str] = &["a", "b", "p1", "ns2", "пр", "𐌰", "x.y", "soap"];
const ELEMENT_LOCALS: &[&str] = &["a", "b", "c", "Data", "item", "элемент", "Имя", "x-y.z", "_u", "𐌰𐌱", "ä", "A1"];
/// Attribute local names; `Id` is kept out, the generator adds it only to mark elements for references.
const ATTRIBUTE_LOCALS: &[&str] = &["a", "b", "attr", "значение", "z-1", "𐌰", "Algorithm"];

const TEXT_PIECES: &[&str] = &[
    "hello",
    " ",
    "Привет, мир",
    "𝄞",
    "&amp;",
    "&lt;",
    "&gt;",
    ">",
    "&quot;",
    "\"",
    "'",
    "&apos;",
    "&#13;",
    "&#xD;",
    "&#9;",
    "&#10;",
    "&#x20AC;",
    "&#128512;",
    "&#x10FFFF;",
    "\t",
    "\n",
    "\r\n",
    "\r",
    "]",
    "x]]",
    "&#93;&#93;&#62;",
];
const ATTRIBUTE_PIECES: &[&str] = &[
    "v",
    " ",
    "Значение",
    "𝄞",
    "&amp;",
    "&lt;",
    "&gt;",
    ">",
    "&quot;",
    "&apos;",
    "&#13;",
    "&#xD;",
    "&#9;",
    "&#10;",
    "&#xA;",
    "\t",
    "\n",
    "\r\n",
    "\r",
    "  ",
    "#",
    "?",
    "]]>",
];
const WHITESPACE_PIECES: &[&str] = &[" ", "\t", "\n", "\r\n", "\r", "  "];
const CDATA_PIECES: &[&str] = &["<", "&", ">", "]", "x", "Ж", "\r\n", "\r", "\t", "&amp;", "𝄞", " ", "<!--"];
const COMMENT_PIECES: &[&str] = &["c", " ", "-", "Ж", "<x>", "&", "\r\n", "𝄞"];
const PI_TARGETS: &[&str] = &["pi", "t-1", "обработка", "xml-stylesheet", "x𐌰"];
const PI_PIECES: &[&str] = &["d", " ", "?", ">", "a=\"1\"", "Ж", "\r\n", "\r", "\t", "&amp;", "<", "𝄞"];
/// Whitespace between attributes and around `=`.
const TAG_SPACES: &[&str] = &[" ", " ", " ", "  ", "\n", "\t", "\r\n"];
const EQUALS: &[&str] = &["=", "=", "=", " = ", "\n=\t"];

/// A namespace declaration as written.
#[derive(Debug, Clone)]
pub struct Decl {
    /// `None` for the default namespace.
    pub prefix: Option<String>,
    /// The value as written (with references).
    pub raw: String,
    /// The namespace name it declares (`""` undeclares the default namespace).
    pub value: String,
}

/// One `name="value"` in a start tag: a namespace declaration or an attribute.
#[derive(Debug, Clone)]
pub enum TagItem {
    Decl(Decl),
    Attr { name: String, raw: String, quote: char },
}

/// An element as written.
#[derive(Debug, Clone)]
pub struct Element {
    pub name: String,
    /// The namespace name the element is in (`""` for none).
    pub ns: String,
    pub local: String,
    /// Declarations and attributes, in the order written, each with the whitespace and `=` spelling before it.
    pub items: Vec<(String, String, TagItem)>,
    /// An `Id` attribute added to make the element a reference target.
    pub id: Option<String>,
    pub children: Vec<Node>,
    /// Written as `<a/>` (only when there are no children).
    pub empty_tag: bool,
    /// Whitespace before `>` of the start tag and of the end tag.
    pub tag_end_space: String,
}

impl Element {
    /// The namespace declarations written on this element.
    pub fn decls(&self) -> impl Iterator<Item = &Decl> {
        self.items.iter().filter_map(|(_, _, item)| match item {
            TagItem::Decl(d) => Some(d),
            TagItem::Attr { .. } => None,
        })
    }

    /// The child elements, in order.
    pub fn child_elements(&self) -> impl Iterator<Item = &Element> {
        self.children.iter().filter_map(|n| match n {
            Node::Element(e) => Some(e),
            _ => None,
        })
    }

    fn child_element_mut(&mut self, index: usize) -> &mut Element {
        self.children
            .iter_mut()
            .filter_map(|n| match n {
                Node::Element(e) => Some(e),
                _ => None,
            })
            .nth(index)
            .expect("path from element_paths")
    }
}

/// A child of an element, or a top-level node.
#[derive(Debug, Clone)]
pub enum Node {
    Element(Element),
    /// Character data as written, references included.
    Text(String),
    /// The content of a CDATA section.
    CData(String),
    /// The content of a comment.
    Comment(String),
    /// A whole processing instruction, `<?` to `?>`.
    Pi(String),
}

/// A document: an optional XML declaration, whitespace and comments around the document element.
#[derive(Debug, Clone)]
pub struct Document {
    pub declaration: String,
    pub prolog: Vec<Node>,
    pub root: Element,
    pub epilog: Vec<Node>,
}

/// Path to an element: indexes among child elements, from the document element (the empty path).
pub type Path = Vec<usize>;

/// Shapes of generated documents.
#[derive(Debug, Clone, Copy)]
pub struct Shape {
    /// Deepest element nesting below the document element.
    pub max_depth: usize,
    /// Most children of one element.
    pub max_children: usize,
}

impl Default for Shape {
    fn default() -> Self {
        Shape { max_depth: 5, max_children: 5 }
    }
}

/// How to write a document.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Exactly as generated.
    Exact,
    /// For an oracle that canonicalizes *with* comments: comments inside elements become empty CDATA sections
    /// (which keeps the text on either side apart, as the comment did) and comments outside the document
    /// element are left out. Canonicalization with comments of that equals canonicalization without comments
    /// of the exact document.
    CommentsRemoved,
}

/// A random document generator.
pub struct Generator<'r> {
    rng: &'r mut StdRng,
    shape: Shape,
    /// Namespace bindings of the open elements, innermost last: (prefix, namespace name, raw spelling).
    scope: Vec<(Option<String>, String, String)>,
}

impl<'r> Generator<'r> {
    pub fn new(rng: &'r mut StdRng, shape: Shape) -> Self {
        Generator { rng, shape, scope: Vec::new() }
    }

    fn pick<'s>(&mut self, from: &[&'s str]) -> &'s str {
        from.choose(self.rng).expect("non-empty pool")
    }

    fn pieces(&mut self, from: &[&str], max: usize) -> String {
        let n = self.rng.gen_range(0..=max);
        (0..n).map(|_| self.pick(from)).collect()
    }

    /// A new random document.
    pub fn document(&mut self) -> Document {
        let declaration = match self.rng.gen_range(0..5) {
            0 => "<?xml version=\"1.0\"?>",
            1 => "<?xml version='1.0' encoding='utf-8'?>",
            2 => "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?>",
            _ => "",
        }
        .to_string();
        let prolog = self.misc();
        self.scope.clear();
        let root = self.element(0);
        let epilog = self.misc();
        Document { declaration, prolog, root, epilog }
    }

    /// Whitespace and comments outside the document element.
    fn misc(&mut self) -> Vec<Node> {
        let mut out = Vec::new();
        for _ in 0..self.rng.gen_range(0..3) {
            if self.rng.gen_bool(0.5) {
                out.push(Node::Text(self.pieces(WHITESPACE_PIECES, 3) + "\n"));
            } else {
                out.push(Node::Comment(self.comment()));
            }
        }
        out
    }

    fn lookup(&self, prefix: Option<&str>) -> Option<&str> {
        self.scope.iter().rev().find(|(p, _, _)| p.as_deref() == prefix).map(|(_, v, _)| v.as_str())
    }

    /// Prefixes bound (to a namespace) in scope, each once.
    fn bound_prefixes(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for (p, _, _) in &self.scope {
            if let Some(p) = p {
                if p != "xml" && !out.contains(p) {
                    out.push(p.clone());
                }
            }
        }
        out
    }

    fn element(&mut self, depth: usize) -> Element {
        let mark = self.scope.len();
        let mut decls: Vec<Decl> = Vec::new();
        if self.rng.gen_bool(0.3) {
            // The default namespace: declared, or undeclared with xmlns="" (usually under a default one).
            let (raw, value) = if self.rng.gen_bool(0.3) { ("", "") } else { *URIS.choose(self.rng).expect("pool") };
            decls.push(Decl { prefix: None, raw: raw.into(), value: value.into() });
        }
        if self.rng.gen_bool(0.5) {
            for _ in 0..self.rng.gen_range(1..=3) {
                let prefix = self.pick(PREFIXES).to_string();
                if decls.iter().any(|d| d.prefix.as_deref() == Some(&prefix)) {
                    continue;
                }
                let (raw, value) = *URIS.choose(self.rng).expect("pool");
                decls.push(Decl { prefix: Some(prefix), raw: raw.into(), value: value.into() });
            }
        }
        if self.rng.gen_ratio(1, 40) {
            decls.push(Decl { prefix: Some("xml".into()), raw: XML_NS.into(), value: XML_NS.into() });
        }
        for d in &decls {
            self.scope.push((d.prefix.clone(), d.value.clone(), d.raw.clone()));
        }

        let bound = self.bound_prefixes();
        let local = self.pick(ELEMENT_LOCALS).to_string();
        let (name, ns) = match bound.choose(self.rng) {
            Some(p) if self.rng.gen_bool(0.6) => {
                (format!("{p}:{local}"), self.lookup(Some(p)).expect("bound").to_string())
            }
            _ => (local.clone(), self.lookup(None).unwrap_or("").to_string()),
        };

        let mut items: Vec<TagItem> = decls.into_iter().map(TagItem::Decl).collect();
        // Attributes, unique by (namespace name, local name).
        let mut seen: Vec<(String, String)> = Vec::new();
        for _ in 0..self.rng.gen_range(0..=4) {
            let (name, key) = match self.rng.gen_range(0..10) {
                0 => ("xml:lang".to_string(), (XML_NS.to_string(), "lang".to_string())),
                1 => ("xml:space".to_string(), (XML_NS.to_string(), "space".to_string())),
                2..=5 if !bound.is_empty() => {
                    let p = bound.choose(self.rng).expect("non-empty");
                    let l = self.pick(ATTRIBUTE_LOCALS);
                    (format!("{p}:{l}"), (self.lookup(Some(p)).expect("bound").to_string(), l.to_string()))
                }
                _ => {
                    let l = self.pick(ATTRIBUTE_LOCALS);
                    (l.to_string(), (String::new(), l.to_string()))
                }
            };
            if seen.contains(&key) {
                continue;
            }
            seen.push(key);
            let quote = if self.rng.gen_bool(0.7) { '"' } else { '\'' };
            let raw = match name.as_str() {
                "xml:space" => if self.rng.gen_bool(0.5) { "preserve" } else { "default" }.to_string(),
                "xml:lang" => self.pick(&["ru", "en-GB", "", "ru-RU"]).to_string(),
                _ => {
                    let other_quote = if quote == '"' { "'" } else { "\"" };
                    let n = self.rng.gen_range(0..=5);
                    (0..n)
                        .map(|_| if self.rng.gen_ratio(1, 12) { other_quote } else { self.pick(ATTRIBUTE_PIECES) })
                        .collect()
                }
            };
            items.push(TagItem::Attr { name, raw, quote });
        }
        items.shuffle(self.rng);
        let items = items
            .into_iter()
            .map(|item| (self.pick(TAG_SPACES).to_string(), self.pick(EQUALS).to_string(), item))
            .collect();

        let mut children = Vec::new();
        // The document element nearly always has children, and elements are likelier near the top, so that most
        // documents have inner elements to canonicalize on their own.
        let n = match depth {
            0 => self.rng.gen_range(1..=self.shape.max_children),
            d if d >= self.shape.max_depth => self.rng.gen_range(0..=2),
            _ => self.rng.gen_range(0..=self.shape.max_children),
        };
        let elements = if depth < 2 { 7 } else { 5 };
        for _ in 0..n {
            let kind = self.rng.gen_range(0..12);
            let child = match kind {
                _ if kind < elements && depth < self.shape.max_depth => Node::Element(self.element(depth + 1)),
                0..=6 => Node::Text(self.text()),
                7 => Node::Text(self.pieces(WHITESPACE_PIECES, 4)),
                8 => Node::CData(self.cdata()),
                9 => Node::Comment(self.comment()),
                _ => Node::Pi(self.pi()),
            };
            // Adjacent text is one run of character data as written: join it, then keep `]]>` out of it.
            match (children.last_mut(), child) {
                (Some(Node::Text(prev)), Node::Text(more)) => {
                    prev.push_str(&more);
                    *prev = prev.replace("]]>", "]]&gt;");
                }
                (_, child) => children.push(child),
            }
        }
        self.scope.truncate(mark);
        let empty_tag = children.is_empty() && self.rng.gen_bool(0.5);
        let tag_end_space = if self.rng.gen_bool(0.8) { String::new() } else { self.pick(TAG_SPACES).to_string() };
        Element { name, ns, local, items, id: None, children, empty_tag, tag_end_space }
    }

    fn text(&mut self) -> String {
        let s = self.pieces(TEXT_PIECES, 6);
        let s = if s.is_empty() { "t".to_string() } else { s };
        s.replace("]]>", "]]&gt;")
    }

    fn cdata(&mut self) -> String {
        self.pieces(CDATA_PIECES, 5).replace("]]>", "]] >")
    }

    fn comment(&mut self) -> String {
        let mut s = self.pieces(COMMENT_PIECES, 5);
        while s.contains("--") {
            s = s.replace("--", "- ");
        }
        if s.ends_with('-') {
            s.push(' ');
        }
        s
    }

    fn pi(&mut self) -> String {
        let target = self.pick(PI_TARGETS);
        let data = self.pieces(PI_PIECES, 4).replace("?>", "? >");
        let space = match (data.is_empty(), self.rng.gen_range(0..4)) {
            (true, 0) => "",
            (_, 1) => "\t",
            (_, 2) => "\r\n ",
            _ => " ",
        };
        format!("<?{target}{space}{data}?>")
    }
}

impl Document {
    /// Every element's path, the document element first.
    pub fn element_paths(&self) -> Vec<Path> {
        fn walk(e: &Element, path: &mut Path, out: &mut Vec<Path>) {
            out.push(path.clone());
            for (i, c) in e.child_elements().enumerate() {
                path.push(i);
                walk(c, path, out);
                path.pop();
            }
        }
        let mut out = Vec::new();
        walk(&self.root, &mut Vec::new(), &mut out);
        out
    }

    /// The element at a path.
    pub fn element_at(&self, path: &[usize]) -> &Element {
        path.iter().fold(&self.root, |e, &i| e.child_elements().nth(i).expect("valid path"))
    }

    /// The element at a path, to change.
    pub fn element_at_mut(&mut self, path: &[usize]) -> &mut Element {
        path.iter().fold(&mut self.root, |e, &i| e.child_element_mut(i))
    }

    /// Namespace declarations in scope at the element at `path` that it inherits from its ancestors (those it does
    /// not redeclare itself), one per prefix, as they are written. An undeclared default namespace is left out.
    pub fn inherited_decls(&self, path: &[usize]) -> Vec<Decl> {
        let mut in_scope: Vec<Decl> = Vec::new();
        let mut e = &self.root;
        for &i in path {
            for d in e.decls() {
                in_scope.retain(|s| s.prefix != d.prefix);
                in_scope.push(d.clone());
            }
            e = e.child_elements().nth(i).expect("valid path");
        }
        let own: Vec<&Decl> = e.decls().collect();
        in_scope.retain(|d| !d.value.is_empty() && !own.iter().any(|o| o.prefix == d.prefix));
        in_scope
    }

    /// The whole document as text. `root_extra` is written as the last content of the document element.
    pub fn write(&self, mode: Mode, root_extra: &str) -> String {
        let mut out = self.declaration.clone();
        for n in &self.prolog {
            write_outer(n, mode, &mut out);
        }
        write_element(&self.root, mode, &[], root_extra, &mut out);
        for n in &self.epilog {
            write_outer(n, mode, &mut out);
        }
        out
    }

    /// The element at `path` alone as a document, declaring on it every namespace it inherits.
    pub fn write_standalone(&self, path: &[usize], mode: Mode) -> String {
        let mut out = String::new();
        write_element(self.element_at(path), mode, &self.inherited_decls(path), "", &mut out);
        out
    }
}

fn write_outer(n: &Node, mode: Mode, out: &mut String) {
    match n {
        Node::Text(t) => out.push_str(t),
        Node::Comment(c) if mode == Mode::Exact => {
            out.push_str("<!--");
            out.push_str(c);
            out.push_str("-->");
        }
        Node::Comment(_) => {}
        other => unreachable!("only whitespace and comments outside the document element: {other:?}"),
    }
}

fn write_decl(d: &Decl, out: &mut String) {
    match &d.prefix {
        None => out.push_str("xmlns"),
        Some(p) => {
            out.push_str("xmlns:");
            out.push_str(p);
        }
    }
}

fn write_element(e: &Element, mode: Mode, extra_decls: &[Decl], extra_content: &str, out: &mut String) {
    out.push('<');
    out.push_str(&e.name);
    for d in extra_decls {
        out.push(' ');
        write_decl(d, out);
        out.push_str("=\"");
        out.push_str(&d.raw);
        out.push('"');
    }
    for (space, equals, item) in &e.items {
        out.push_str(space);
        let quote = match item {
            TagItem::Decl(d) => {
                write_decl(d, out);
                '"'
            }
            TagItem::Attr { name, quote, .. } => {
                out.push_str(name);
                *quote
            }
        };
        out.push_str(equals);
        out.push(quote);
        out.push_str(match item {
            TagItem::Decl(d) => &d.raw,
            TagItem::Attr { raw, .. } => raw,
        });
        out.push(quote);
    }
    if let Some(id) = &e.id {
        out.push_str(" Id=\"");
        out.push_str(id);
        out.push('"');
    }
    out.push_str(&e.tag_end_space);
    if e.empty_tag && extra_content.is_empty() {
        out.push_str("/>");
        return;
    }
    out.push('>');
    for c in &e.children {
        match c {
            Node::Element(child) => write_element(child, mode, &[], "", out),
            Node::Text(t) => out.push_str(t),
            Node::CData(t) => {
                out.push_str("<![CDATA[");
                out.push_str(t);
                out.push_str("]]>");
            }
            Node::Comment(c) if mode == Mode::Exact => {
                out.push_str("<!--");
                out.push_str(c);
                out.push_str("-->");
            }
            Node::Comment(_) => out.push_str("<![CDATA[]]>"),
            Node::Pi(pi) => out.push_str(pi),
        }
    }
    out.push_str(extra_content);
    out.push_str("</");
    out.push_str(&e.name);
    out.push_str(&e.tag_end_space);
    out.push('>');
}
