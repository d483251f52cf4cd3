//! A small writer for the business XML the services answer with.
#![forbid(unsafe_code)]

use crate::xml::escape::{escape, push_escaped, Escape};

/// Builds an XML fragment with one namespace prefix (or the default namespace, when the prefix is empty), escaping
/// text.
pub struct XmlOut {
    out: String,
    prefix: &'static str,
}

impl XmlOut {
    /// Starts the root element `prefix:root` declaring `namespace`, with extra attributes. An empty `prefix`
    /// declares `namespace` as the default namespace and writes every element without a prefix.
    pub fn new(prefix: &'static str, namespace: &str, root: &str, attrs: &[(&str, &str)]) -> XmlOut {
        let mut xml = XmlOut { out: String::with_capacity(4096), prefix };
        xml.start_tag(root);
        xml.out.push_str(" xmlns");
        if !prefix.is_empty() {
            xml.out.push(':');
            xml.out.push_str(prefix);
        }
        xml.out.push_str("=\"");
        xml.out.push_str(namespace);
        xml.out.push('"');
        xml.attrs(attrs);
        xml.out.push('>');
        xml
    }

    fn start_tag(&mut self, name: &str) {
        self.out.push('<');
        self.name(name);
    }

    fn name(&mut self, name: &str) {
        if !self.prefix.is_empty() {
            self.out.push_str(self.prefix);
            self.out.push(':');
        }
        self.out.push_str(name);
    }

    fn attrs(&mut self, attrs: &[(&str, &str)]) {
        for (k, v) in attrs {
            self.out.push(' ');
            self.out.push_str(k);
            self.out.push_str("=\"");
            if v.contains(['\t', '\n', '\r']) {
                // A parser replaces these with spaces in an attribute value; written as references they survive.
                let escaped = escape(v, Escape::Attribute);
                self.out.push_str(&escaped.replace('\t', "&#9;").replace('\n', "&#10;").replace('\r', "&#13;"));
            } else {
                push_escaped(&mut self.out, v, Escape::Attribute);
            }
            self.out.push('"');
        }
    }

    fn text(&mut self, text: &str) {
        if text.contains('\r') {
            // A parser turns a carriage return into a line feed; written as a reference it survives.
            self.out.push_str(&escape(text, Escape::Text).replace('\r', "&#13;"));
        } else {
            push_escaped(&mut self.out, text, Escape::Text);
        }
    }

    /// Opens a child element.
    pub fn open(&mut self, name: &str) {
        self.start_tag(name);
        self.out.push('>');
    }

    /// Closes an element.
    pub fn close(&mut self, name: &str) {
        self.out.push_str("</");
        self.name(name);
        self.out.push('>');
    }

    /// A leaf element with unqualified attributes and text.
    pub fn leaf_with_attrs(&mut self, name: &str, attrs: &[(&str, &str)], text: &str) {
        self.start_tag(name);
        self.attrs(attrs);
        self.out.push('>');
        self.text(text);
        self.close(name);
    }

    /// A leaf element with text.
    pub fn leaf(&mut self, name: &str, text: &str) {
        self.open(name);
        self.text(text);
        self.close(name);
    }

    /// A leaf element with unqualified attributes and text.
    pub fn leaf_with(&mut self, name: &str, attrs: &[(&str, &str)], text: &str) {
        self.out.push('<');
        self.out.push_str(self.prefix);
        self.out.push(':');
        self.out.push_str(name);
        for (k, v) in attrs {
            self.out.push(' ');
            self.out.push_str(k);
            self.out.push_str("=\"");
            push_escaped(&mut self.out, v, Escape::Attribute);
            self.out.push('"');
        }
        self.out.push('>');
        push_escaped(&mut self.out, text, Escape::Text);
        self.close(name);
    }

    /// A leaf when there is a value.
    pub fn opt_leaf(&mut self, name: &str, text: Option<&str>) {
        if let Some(text) = text {
            self.leaf(name, text);
        }
    }

    /// Closes the root and returns the text.
    pub fn finish(mut self, root: &str) -> String {
        self.close(root);
        self.out
    }
}
