//! A read-only document tree that borrows from its input.
//!
//! Names always borrow from the input; text and attribute values borrow unless entity references or line-end
//! normalization forced a copy. Every element remembers its byte span, so a signer can splice a signature into the
//! original bytes without re-serializing (and so without disturbing) anything else.
#![forbid(unsafe_code)]

use super::escape::{push_escaped, Escape};
use std::borrow::Cow;
use std::collections::HashMap;
use std::ops::Range;
use std::sync::OnceLock;

/// The namespace bound to the `xml` prefix by definition.
pub const XML_NS: &str = "http://www.w3.org/XML/1998/namespace";

/// Index of a node in its [`Document`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NodeId(pub(crate) u32);

/// Index of an interned namespace URI in its [`Document`]. Comparing two ids compares the URIs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NsId(pub(crate) u32);

/// A namespace declaration written on an element (`xmlns="..."` or `xmlns:p="..."`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NsDecl<'a> {
    /// The declared prefix; `None` for the default namespace.
    pub prefix: Option<&'a str>,
    /// The URI; `None` for `xmlns=""`, which undeclares the default namespace.
    pub ns: Option<NsId>,
}

/// An attribute that is not a namespace declaration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attribute<'a> {
    /// The prefix as written, if any.
    pub prefix: Option<&'a str>,
    /// The local name.
    pub local: &'a str,
    /// The attribute's namespace: only prefixed attributes have one.
    pub ns: Option<NsId>,
    /// The normalized value, with references replaced.
    pub value: Cow<'a, str>,
}

/// An element with its resolved namespace and its place in the input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Element<'a> {
    /// The prefix as written, if any.
    pub prefix: Option<&'a str>,
    /// The local name.
    pub local: &'a str,
    /// The element's namespace, resolved from the declarations in scope.
    pub ns: Option<NsId>,
    /// Namespace declarations written on this element, in document order.
    pub ns_decls: Vec<NsDecl<'a>>,
    /// Other attributes, in document order.
    pub attrs: Vec<Attribute<'a>>,
    /// One past the id of the element's last descendant: the parser stores nodes in document order, so an
    /// element's descendants are the ids after its own up to this one, and its children need no list (and no
    /// allocation) of their own. See [`Document::children`].
    pub(crate) subtree_end: u32,
    /// Bytes of the whole element in the input, from `<` of the start tag to after the end tag.
    pub span: Range<usize>,
    /// Offset just after the start tag's `>` (equal to `span.end` for an empty-element tag).
    pub start_tag_end: usize,
}

/// What a node is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NodeKind<'a> {
    /// An element.
    Element(Element<'a>),
    /// Character data (text and CDATA sections merged), with references replaced and line ends normalized.
    Text(Cow<'a, str>),
    /// A comment's content.
    Comment(&'a str),
    /// A processing instruction.
    Pi {
        /// The target name.
        target: &'a str,
        /// Everything after the target and the whitespace that follows it, with line ends normalized.
        data: Cow<'a, str>,
    },
}

/// One node of the tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Node<'a> {
    /// The parent element; `None` for top-level nodes.
    pub parent: Option<NodeId>,
    /// What the node is.
    pub kind: NodeKind<'a>,
}

/// The child nodes of an element, in document order: each child's next sibling is the node after its subtree.
#[derive(Debug, Clone)]
pub struct Children<'d, 'a> {
    /// The document.
    doc: &'d Document<'a>,
    /// The next child's id.
    next: u32,
    /// One past the parent's last descendant.
    end: u32,
}

impl Iterator for Children<'_, '_> {
    type Item = NodeId;

    fn next(&mut self) -> Option<NodeId> {
        if self.next >= self.end {
            return None;
        }
        let id = NodeId(self.next);
        self.next = match &self.doc.nodes[self.next as usize].kind {
            NodeKind::Element(e) => e.subtree_end,
            _ => self.next + 1,
        };
        Some(id)
    }
}

/// A parsed document. Build one with [`crate::xml::parse`].
#[derive(Debug, Clone)]
pub struct Document<'a> {
    pub(crate) src: &'a str,
    pub(crate) nodes: Vec<Node<'a>>,
    pub(crate) root: NodeId,
    pub(crate) namespaces: Vec<Cow<'a, str>>,
    /// Every `Id` value with the first element carrying it and how many do, built on the first lookup by Id: a
    /// signature's references are then resolved in constant time each, instead of a scan of the document per
    /// reference.
    pub(crate) ids: OnceLock<HashMap<String, (NodeId, usize)>>,
}

/// What an `Id` value resolves to in a document.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdMatch {
    /// No element carries it.
    None,
    /// Exactly one element does.
    One(NodeId),
    /// Several do (how many): which one a reference means is ambiguous.
    Many(usize),
}

impl<'a> Document<'a> {
    /// The input the document was parsed from (without a byte-order mark).
    pub fn source(&self) -> &'a str {
        self.src
    }

    /// The document element.
    pub fn root(&self) -> NodeId {
        self.root
    }

    /// A node by id.
    pub fn node(&self, id: NodeId) -> &Node<'a> {
        &self.nodes[id.0 as usize]
    }

    /// The element with this id. Panics if the node is not an element: ids of elements come from this document.
    pub fn element(&self, id: NodeId) -> &Element<'a> {
        match &self.node(id).kind {
            NodeKind::Element(e) => e,
            other => panic!("node {id:?} is not an element: {other:?}"),
        }
    }

    /// The element with this id, or `None` when the node is not an element.
    pub fn as_element(&self, id: NodeId) -> Option<&Element<'a>> {
        match &self.node(id).kind {
            NodeKind::Element(e) => Some(e),
            _ => None,
        }
    }

    /// The parent element of a node.
    pub fn parent(&self, id: NodeId) -> Option<NodeId> {
        self.node(id).parent
    }

    /// The URI of an interned namespace.
    pub fn ns_uri(&self, ns: NsId) -> &str {
        &self.namespaces[ns.0 as usize]
    }

    /// The namespace URI of an element, or `""` when it has none.
    pub fn element_ns(&self, id: NodeId) -> &str {
        self.element(id).ns.map_or("", |ns| self.ns_uri(ns))
    }

    /// Whether an element has this namespace URI and local name.
    pub fn is(&self, id: NodeId, ns: &str, local: &str) -> bool {
        self.as_element(id).is_some_and(|e| e.local == local && e.ns.map_or("", |n| self.ns_uri(n)) == ns)
    }

    /// The child nodes of an element, in document order.
    pub fn children(&self, id: NodeId) -> Children<'_, 'a> {
        Children { doc: self, next: id.0 + 1, end: self.element(id).subtree_end }
    }

    /// The child elements of an element, in document order.
    pub fn child_elements(&self, id: NodeId) -> impl Iterator<Item = NodeId> + '_ {
        self.children(id).filter(|&c| self.as_element(c).is_some())
    }

    /// The first child element with this namespace and local name.
    pub fn child(&self, id: NodeId, ns: &str, local: &str) -> Option<NodeId> {
        self.child_elements(id).find(|&c| self.is(c, ns, local))
    }

    /// The value of an unqualified attribute.
    pub fn attr(&self, id: NodeId, local: &str) -> Option<&str> {
        self.element(id).attrs.iter().find(|a| a.ns.is_none() && a.local == local).map(|a| a.value.as_ref())
    }

    /// The concatenated text of an element's descendants (comments and processing instructions excluded).
    pub fn text(&self, id: NodeId) -> String {
        let mut out = String::new();
        self.collect_text(id, &mut out);
        out
    }

    fn collect_text(&self, id: NodeId, out: &mut String) {
        for c in self.children(id) {
            match &self.node(c).kind {
                NodeKind::Text(t) => out.push_str(t),
                NodeKind::Element(_) => self.collect_text(c, out),
                _ => {}
            }
        }
    }

    /// All elements in document order, the root first.
    pub fn elements(&self) -> impl Iterator<Item = NodeId> + '_ {
        (0..self.nodes.len() as u32).map(NodeId).filter(|&id| matches!(self.node(id).kind, NodeKind::Element(_)))
    }

    /// The element whose unqualified `Id` attribute has this value, through an index of every Id built once per
    /// document (in one pass, which also counts duplicates). XMLDSig references in SMEV point at `Id`.
    pub fn element_with_id(&self, value: &str) -> IdMatch {
        let ids = self.ids.get_or_init(|| {
            let mut ids: HashMap<String, (NodeId, usize)> = HashMap::new();
            for e in self.elements() {
                if let Some(v) = self.attr(e, "Id") {
                    ids.entry(v.to_string()).or_insert((e, 0)).1 += 1;
                }
            }
            ids
        });
        match ids.get(value) {
            None => IdMatch::None,
            Some(&(e, 1)) => IdMatch::One(e),
            Some(&(_, count)) => IdMatch::Many(count),
        }
    }

    /// Every element whose unqualified `Id` attribute has this value, by a scan of the document (prefer
    /// [`Document::element_with_id`] for repeated lookups).
    pub fn elements_with_id<'s>(&'s self, value: &'s str) -> impl Iterator<Item = NodeId> + 's {
        self.elements().filter(move |&e| self.attr(e, "Id") == Some(value))
    }

    /// The namespace a prefix (`None` = default) is bound to at an element, looking up its ancestors.
    /// Returns `None` when the prefix is unbound or the default namespace is empty.
    pub fn lookup_prefix(&self, id: NodeId, prefix: Option<&str>) -> Option<&str> {
        if prefix == Some("xml") {
            return Some(XML_NS);
        }
        let mut cur = Some(id);
        while let Some(c) = cur {
            if let Some(d) = self.element(c).ns_decls.iter().find(|d| d.prefix == prefix) {
                return d.ns.map(|ns| self.ns_uri(ns));
            }
            cur = self.parent(c);
        }
        None
    }

    /// The position of a byte offset, for messages.
    pub fn position(&self, offset: usize) -> super::Position {
        super::Position::of_offset(self.src, offset)
    }

    /// A readable name for an element, `{namespace}local`, for reports.
    pub fn describe(&self, id: NodeId) -> String {
        let e = self.element(id);
        match e.ns {
            Some(ns) => format!("{{{}}}{}", self.ns_uri(ns), e.local),
            None => e.local.to_string(),
        }
    }

    /// The element's source text, made self-contained: every namespace the subtree needs that is declared on an
    /// ancestor is declared on the element's start tag. Needed means used by an element or attribute name, or as
    /// the prefix of a QName-looking attribute value (`xsi:type="p:T"`); unused ancestors' declarations are not
    /// copied. Canonical forms depend on namespaces by URI only, so the fragment canonicalizes (and its signatures
    /// verify) exactly as the element does in place; mock-smev relies on this when it copies a sender's signed data.
    pub fn self_contained_source(&self, id: NodeId) -> Cow<'a, str> {
        let e = self.element(id);
        let text = &self.src[e.span.clone()];
        let needed = self.prefixes_used_below(id);
        let mut inherited: Vec<(Option<&'a str>, Option<NsId>)> = Vec::new();
        let mut cur = self.parent(id);
        while let Some(c) = cur {
            for d in &self.element(c).ns_decls {
                let shadowed = e.ns_decls.iter().any(|own| own.prefix == d.prefix)
                    || inherited.iter().any(|(p, _)| *p == d.prefix);
                if !shadowed && needed.contains(&d.prefix) {
                    inherited.push((d.prefix, d.ns));
                }
            }
            cur = self.parent(c);
        }
        // An undeclared default namespace adds nothing to declare.
        inherited.retain(|(p, ns)| p.is_some() || ns.is_some());
        if inherited.is_empty() {
            return Cow::Borrowed(text);
        }
        let name_len = 1 + e.prefix.map_or(0, |p| p.len() + 1) + e.local.len();
        let mut out = String::with_capacity(text.len() + 64 * inherited.len());
        out.push_str(&text[..name_len]);
        for (prefix, ns) in inherited {
            let uri = ns.map_or("", |n| self.ns_uri(n));
            match prefix {
                Some(p) => {
                    out.push_str(" xmlns:");
                    out.push_str(p);
                }
                None => out.push_str(" xmlns"),
            }
            out.push_str("=\"");
            push_escaped(&mut out, uri, Escape::C14nAttribute);
            out.push('"');
        }
        out.push_str(&text[name_len..]);
        Cow::Owned(out)
    }

    /// Prefixes (`None` for the default namespace) that names in the subtree of `id` use without declaring them
    /// within the subtree, plus prefixes of QName-looking attribute values.
    fn prefixes_used_below(&self, id: NodeId) -> Vec<Option<&'a str>> {
        let mut used: Vec<Option<&'a str>> = Vec::new();
        let mut stack = vec![id];
        while let Some(n) = stack.pop() {
            let e = self.element(n);
            let mut add = |p: Option<&'a str>| {
                if !used.contains(&p) {
                    used.push(p);
                }
            };
            add(e.prefix);
            for a in &e.attrs {
                if a.prefix.is_some() {
                    add(a.prefix);
                }
                if let Some((p, local)) = a.value.split_once(':') {
                    if super::chars::is_ncname(p) && super::chars::is_ncname(local) {
                        // The value borrows from the attribute; find the same prefix among declared names so the
                        // result can borrow from the input.
                        if let Some(decl) = self.find_declared_prefix(n, p) {
                            add(Some(decl));
                        }
                    }
                }
            }
            stack.extend(self.child_elements(n));
        }
        used
    }

    /// The declared prefix string equal to `prefix`, in scope at `id`.
    fn find_declared_prefix(&self, id: NodeId, prefix: &str) -> Option<&'a str> {
        let mut cur = Some(id);
        while let Some(c) = cur {
            if let Some(d) = self.element(c).ns_decls.iter().find(|d| d.prefix == Some(prefix)) {
                return d.prefix;
            }
            cur = self.parent(c);
        }
        None
    }
}
