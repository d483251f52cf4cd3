//! XML: bounded parsing into a borrowed tree, exclusive canonicalization and the SMEV transform.
//!
//! Everything here is synchronous and does no I/O beyond the `Write` it is handed.
#![forbid(unsafe_code)]

pub mod c14n;
pub mod chars;
mod dom;
mod error;
pub mod escape;
mod limits;
mod parse;
mod scope;
pub mod transform;

pub use c14n::{canonicalize, exc_c14n, C14nOptions, C14nWriter, CanonError, CanonicalSink};
pub use dom::{Attribute, Document, Element, IdMatch, Node, NodeId, NodeKind, NsDecl, NsId, XML_NS};
pub use error::{Position, XmlError, XmlErrorKind};
pub use limits::Limits;
pub use parse::{parse, parse_bytes};
pub use transform::{smev_transform, SmevTransform, TransformVariant};
