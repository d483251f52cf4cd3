//! Typed errors for XML input, each with the place in the document where it was found.
#![forbid(unsafe_code)]

use std::fmt;

/// A place in an input document, so that an operator or integrator can find the offending byte.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Position {
    /// One-based line number.
    pub line: usize,
    /// One-based column, counted in characters.
    pub column: usize,
    /// Zero-based byte offset into the input.
    pub offset: usize,
}

impl Position {
    /// Computes line and column of a byte offset. Used only on error paths, so a linear scan is fine.
    pub fn of_offset(src: &str, offset: usize) -> Position {
        let mut offset = offset.min(src.len());
        while !src.is_char_boundary(offset) {
            offset -= 1;
        }
        let before = &src[..offset];
        let line = before.bytes().filter(|&b| b == b'\n').count() + 1;
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        let column = before[line_start..].chars().count() + 1;
        Position { line, column, offset }
    }
}

impl fmt::Display for Position {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}, column {}", self.line, self.column)
    }
}

/// Why an XML input was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum XmlErrorKind {
    /// Any DOCTYPE is refused: no DTD means no entity expansion, so no entity bombs and no external entities.
    #[error("DOCTYPE is not allowed (DTDs and entity declarations are refused)")]
    DoctypeForbidden,
    /// The input is larger than the configured limit; it was refused before parsing.
    #[error("document is {size} bytes, over the limit of {limit} bytes")]
    DocumentTooLarge {
        /// The input's size.
        size: usize,
        /// The limit it is over.
        limit: usize,
    },
    /// Elements nest deeper than the configured limit.
    #[error("elements nest deeper than the limit of {limit}")]
    TooDeep {
        /// The limit that was passed.
        limit: usize,
    },
    /// One element carries more attributes (namespace declarations included) than allowed.
    #[error("element has more than {limit} attributes")]
    TooManyAttributes {
        /// The limit that was passed.
        limit: usize,
    },
    /// An element or attribute name is longer than allowed.
    #[error("name is longer than {limit} bytes")]
    NameTooLong {
        /// The limit that was passed.
        limit: usize,
    },
    /// The document has more nodes than allowed.
    #[error("document has more than {limit} nodes")]
    TooManyNodes {
        /// The limit that was passed.
        limit: usize,
    },
    /// The input is not UTF-8 (or declares another encoding).
    #[error("input is not UTF-8: {0}")]
    Encoding(String),
    /// A reference to an entity other than the five predefined ones.
    #[error("unknown entity reference '&{0};'")]
    UnknownEntity(String),
    /// A character reference or literal character that XML 1.0 does not allow.
    #[error("character not allowed in XML: {0}")]
    InvalidChar(String),
    /// A prefix used without a namespace declaration in scope.
    #[error("namespace prefix '{0}' is not declared")]
    UnboundPrefix(String),
    /// A namespace declaration XML forbids (binding `xmlns`, rebinding `xml`, an empty prefixed URI).
    #[error("invalid namespace declaration: {0}")]
    InvalidNamespaceDeclaration(String),
    /// The same attribute appears twice on one element (by name or by namespace and local name).
    #[error("duplicate attribute '{0}'")]
    DuplicateAttribute(String),
    /// A name that is not an XML name.
    #[error("invalid name '{0}'")]
    InvalidName(String),
    /// The document has no element, more than one top-level element, or text outside the document element.
    #[error("{0}")]
    Structure(String),
    /// Any other well-formedness error reported by the tokenizer.
    #[error("malformed XML: {0}")]
    Malformed(String),
}

/// An XML input error: what is wrong and where.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{kind} at {position}")]
pub struct XmlError {
    /// What is wrong.
    pub kind: XmlErrorKind,
    /// Where it was found.
    pub position: Position,
}

impl XmlError {
    /// Builds an error at a byte offset of `src`.
    pub fn at(src: &str, offset: usize, kind: XmlErrorKind) -> XmlError {
        XmlError { kind, position: Position::of_offset(src, offset) }
    }
}
