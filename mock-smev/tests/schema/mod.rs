//! Validation against the official SMEV message-exchange schemas shipped in `xsd/smev/` (see `xsd/README.md`), with
//! xmllint. A missing xmllint skips the calling test with a message, or fails it when `EDUGATE_REQUIRE_ORACLES=1`.
#![allow(dead_code)]

use edugate::smev::Version;
use edugate::xml::{Document, NodeId};
use std::path::PathBuf;
use std::process::Command;

/// Finds xmllint on `PATH`; see the module's documentation for what happens when it is missing.
fn xmllint() -> Option<PathBuf> {
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths).map(|dir| dir.join("xmllint")).find(|candidate| candidate.is_file())
    });
    if found.is_none() {
        let required = std::env::var("EDUGATE_REQUIRE_ORACLES").is_ok_and(|v| v == "1");
        assert!(!required, "xmllint (Debian package libxml2-utils) is not installed, and EDUGATE_REQUIRE_ORACLES=1");
        eprintln!("SKIPPED: xmllint is not installed (Debian package libxml2-utils); install it to run this test");
    }
    found
}

/// The shipped schemas of `version`.
fn schema_dir(version: Version) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../xsd/smev").join(version.as_str()).canonicalize().unwrap()
}

/// Whether one self-contained element (a SOAP body's element or a fault detail) is valid against the types and
/// faults schemas of `version`: `Ok` or xmllint's complaint. `None` when xmllint is missing (and not required).
pub fn check(fragment: &str, version: Version) -> Option<Result<(), String>> {
    let xmllint = xmllint()?;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("element.xml");
    std::fs::write(&file, fragment.as_bytes()).unwrap();
    // The types schema does not import the faults schema: a wrapper imports both.
    let schemas = schema_dir(version);
    let schema = |kind: &str| schemas.join(format!("smev-message-exchange-{kind}-{}.xsd", version.as_str()));
    let wrapper = dir.path().join("wrapper.xsd");
    std::fs::write(
        &wrapper,
        format!(
            "<xs:schema xmlns:xs=\"http://www.w3.org/2001/XMLSchema\" targetNamespace=\"urn:edugate:test:wrapper\">\
             <xs:import namespace=\"{}\" schemaLocation=\"{}\"/><xs:import namespace=\"{}\" schemaLocation=\"{}\"/></xs:schema>",
            version.types_ns(),
            schema("types").display(),
            version.faults_ns(),
            schema("faults").display()
        ),
    )
    .unwrap();
    let out = Command::new(xmllint).arg("--noout").arg("--schema").arg(&wrapper).arg(&file).output().unwrap();
    Some(if out.status.success() { Ok(()) } else { Err(String::from_utf8_lossy(&out.stderr).into_owned()) })
}

/// Asserts that `node` of `doc`, made self-contained, is valid against the schemas of `version`.
pub fn assert_valid(doc: &Document<'_>, node: NodeId, version: Version) {
    let fragment = doc.self_contained_source(node);
    if let Some(Err(complaint)) = check(&fragment, version) {
        panic!("invalid against the {} schemas:\n{complaint}\n{fragment}", version.as_str());
    }
}
