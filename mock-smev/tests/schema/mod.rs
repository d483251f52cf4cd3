//! Validation against the official SMEV message-exchange schemas shipped in `xsd/smev/` (see `xsd/README.md`), with
//! xmllint: the workspace's shared checker (`tests/support/smev_schema.rs`), and an assertion over a parsed node.
#![allow(dead_code)]

#[path = "../../../tests/support/oracle.rs"]
mod oracle;
#[path = "../../../tests/support/smev_schema.rs"]
mod smev_schema;

use edugate::smev::Version;
use edugate::xml::{Document, NodeId};
pub use smev_schema::check;

/// Asserts that `node` of `doc`, made self-contained, is valid against the schemas of `version`.
pub fn assert_valid(doc: &Document<'_>, node: NodeId, version: Version) {
    let fragment = doc.self_contained_source(node);
    if let Some(Err(complaint)) = check(&fragment, version) {
        panic!("invalid against the {} schemas:\n{complaint}\n{fragment}", version.as_str());
    }
}
