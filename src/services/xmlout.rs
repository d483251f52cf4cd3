//! A small writer for the business XML the services answer with.
#![forbid(unsafe_code)]

use crate::xml::escape::{push_escaped, Escape};

/// Builds an XML fragment with one namespace prefix, escaping text.
pub struct XmlOut {
    out: String,
    prefix: &'static str,
}

impl XmlOut {
    /// Starts the root element `prefix:root` declaring `namespace`, with extra attributes.
    pub fn new(prefix: &'static str, namespace: &str, root: &str, attrs: &[(&str, &str)]) -> XmlOut {
        let mut out = String::with_capacity(4096);
        out.push('<');
        out.push_str(prefix);
        out.push(':');
        out.push_str(root);
        out.push_str(" xmlns:");
        out.push_str(prefix);
        out.push_str("=\"");
        out.push_str(namespace);
        out.push('"');
        for (k, v) in attrs {
            out.push(' ');
            out.push_str(k);
            out.push_str("=\"");
            push_escaped(&mut out, v, Escape::Attribute);
            out.push('"');
        }
        out.push('>');
        XmlOut { out, prefix }
    }

    /// Opens a child element.
    pub fn open(&mut self, name: &str) {
        self.out.push('<');
        self.out.push_str(self.prefix);
        self.out.push(':');
        self.out.push_str(name);
        self.out.push('>');
    }

    /// Closes an element.
    pub fn close(&mut self, name: &str) {
        self.out.push_str("</");
        self.out.push_str(self.prefix);
        self.out.push(':');
        self.out.push_str(name);
        self.out.push('>');
    }

    /// A leaf element with text.
    pub fn leaf(&mut self, name: &str, text: &str) {
        self.open(name);
        push_escaped(&mut self.out, text, Escape::Text);
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
