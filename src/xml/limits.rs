//! Hard limits on untrusted XML input.
#![forbid(unsafe_code)]

/// Bounds applied while parsing, so that hostile input costs bounded time and memory.
///
/// Every limit is checked before the work it guards is done: the size before parsing starts, the depth before a
/// child is pushed, the attribute count while a start tag is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest accepted document, in bytes. SMEV messages with inline attachments stay well under the default.
    pub max_document_bytes: usize,
    /// Deepest accepted element nesting. SMEV envelopes nest a few dozen levels at most.
    pub max_depth: usize,
    /// Most attributes (namespace declarations included) on one element.
    pub max_attributes: usize,
    /// Longest element or attribute name, prefix included.
    pub max_name_bytes: usize,
    /// Most nodes (elements, text, comments, processing instructions) in one document.
    pub max_nodes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_document_bytes: 32 * 1024 * 1024,
            max_depth: 256,
            max_attributes: 256,
            max_name_bytes: 512,
            max_nodes: 4_000_000,
        }
    }
}
