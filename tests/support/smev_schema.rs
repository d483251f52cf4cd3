//! Validation of SMEV message-exchange elements against the official schemas shipped in `xsd/smev/` (see
//! `xsd/README.md`), with xmllint. Shared by edugate's codec tests and mock-smev's fault and delivery tests, which
//! include this file by path. A missing xmllint skips the calling test with a message, or fails it when
//! `EDUGATE_REQUIRE_ORACLES=1`.
#![allow(dead_code)]

use edugate::smev::Version;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The shipped schemas of `version`: `xsd/smev/<version>` of the workspace, found from the crate under test
/// (edugate at the workspace's root, or mock-smev inside it).
pub fn schema_dir(version: Version) -> PathBuf {
    let crate_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let root = crate_dir.ancestors().find(|dir| dir.join("xsd/smev").is_dir()).expect("xsd/smev in the workspace");
    root.join("xsd/smev").join(version.as_str()).canonicalize().unwrap()
}

/// Whether one self-contained element (a SOAP body's element or a fault detail) is valid against the types and
/// faults schemas of `version`: `Ok` or xmllint's complaint. `None` when xmllint is missing (and not required).
pub fn check(fragment: &str, version: Version) -> Option<Result<(), String>> {
    let xmllint = super::oracle::oracle("xmllint", "libxml2-utils")?;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("element.xml");
    std::fs::write(&file, fragment.as_bytes()).unwrap();
    // The types schema does not import the faults schema, which fault details and `xsi:type="f:InvalidContent"`
    // need: validate against a wrapper that imports both.
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
