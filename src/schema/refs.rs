//! The check that a schema file loads nothing from the network: libxml2 follows `schemaLocation` of `xs:include`,
//! `xs:import` and `xs:redefine` wherever it points, HTTP included, so every such reference is read here first, and
//! one that is not a local file is refused.
#![forbid(unsafe_code)]

use crate::schema::error::SchemaError;
use std::path::{Path, PathBuf};

/// The XML Schema namespace.
const XSD_NS: &str = "http://www.w3.org/2001/XMLSchema";

/// Most schema files one schema may pull in (itself included): a bound on the walk, far above real schemas.
const MAX_FILES: usize = 64;

/// Checks that `path` and every schema it includes, imports or redefines, transitively, is a local file.
pub fn check_local(path: &Path) -> Result<(), SchemaError> {
    let mut seen: Vec<PathBuf> = Vec::new();
    let mut todo = vec![path.to_path_buf()];
    while let Some(file) = todo.pop() {
        if seen.contains(&file) || seen.len() >= MAX_FILES {
            continue;
        }
        for location in references(&file)? {
            if is_remote(&location) {
                return Err(SchemaError::Remote { schema: file.display().to_string(), location });
            }
            let next = file.parent().unwrap_or(Path::new(".")).join(&location);
            // A missing file is libxml2's to report when it compiles.
            if next.is_file() {
                todo.push(next);
            }
        }
        seen.push(file);
    }
    Ok(())
}

/// The `schemaLocation` of every `xs:include`, `xs:import`, `xs:redefine` and `xs:override` in one file.
fn references(file: &Path) -> Result<Vec<String>, SchemaError> {
    let bytes = std::fs::read(file).map_err(|source| SchemaError::Read { path: file.to_path_buf(), source })?;
    let limits = crate::xml::Limits { max_document_bytes: bytes.len().max(1), ..crate::xml::Limits::default() };
    let doc = crate::xml::parse_bytes(&bytes, &limits)
        .map_err(|e| SchemaError::Malformed { schema: file.display().to_string(), reason: e.to_string() })?;
    let pulls = ["include", "import", "redefine", "override"];
    let out = doc
        .elements()
        .filter(|&e| doc.element_ns(e) == XSD_NS && pulls.contains(&doc.element(e).local))
        .filter_map(|e| doc.attr(e, "schemaLocation").map(str::to_string))
        .collect();
    Ok(out)
}

/// Whether a location names something other than a local file: a URL with a scheme (`http:`, `file:`, ...; one
/// letter followed by `:` is a Windows drive, local) or a network path (`//host/...`).
fn is_remote(location: &str) -> bool {
    let location = location.trim();
    if location.starts_with("//") || location.starts_with("\\\\") {
        return true;
    }
    match location.split_once(':') {
        Some((scheme, _)) => {
            scheme.len() > 1
                && scheme.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
                && !scheme.contains('/')
        }
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_remote_and_paths_local() {
        for remote in ["http://example.org/a.xsd", "https://x/y.xsd", "file:///etc/a.xsd", "ftp://h/a", "//h/a.xsd"] {
            assert!(is_remote(remote), "{remote}");
        }
        for local in ["a.xsd", "../common/b.xsd", "/opt/xsd/c.xsd", "C:\\xsd\\d.xsd", "dir/e:f.xsd"] {
            assert!(!is_remote(local), "{local}");
        }
    }

    #[test]
    fn a_remote_include_anywhere_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let schema = |body: &str| format!("<xs:schema xmlns:xs=\"{XSD_NS}\">{body}</xs:schema>");
        std::fs::write(dir.path().join("inner.xsd"), schema("<xs:import schemaLocation=\"http://h/x.xsd\"/>")).unwrap();
        std::fs::write(dir.path().join("outer.xsd"), schema("<xs:include schemaLocation=\"inner.xsd\"/>")).unwrap();
        std::fs::write(dir.path().join("clean.xsd"), schema("<xs:element name=\"a\"/>")).unwrap();
        match check_local(&dir.path().join("outer.xsd")) {
            Err(SchemaError::Remote { location, schema }) => {
                assert_eq!(location, "http://h/x.xsd");
                assert!(schema.ends_with("inner.xsd"), "{schema}");
            }
            other => panic!("{other:?}"),
        }
        check_local(&dir.path().join("clean.xsd")).unwrap();
    }
}
