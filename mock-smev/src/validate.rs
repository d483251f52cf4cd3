//! Validation of business content against a kind of data's XSD, as SMEV does it: in process, with libxml2
//! (`edugate::schema`), each configured schema compiled once when the emulator starts. A request's content is
//! validated against its kind's schema; a response's content against the schema registered for its namespace, if
//! any (the provider's answer lives in the namespace of the request it answers). Either failure is SMEV's
//! `InvalidContent` fault, with libxml2's first errors.
#![forbid(unsafe_code)]

use crate::config::KindConfig;
use edugate::schema::{Schema, ValidateError};
use edugate::smev::fault::ValidationError;
use std::path::PathBuf;
use std::sync::Arc;

/// A configured schema that cannot be compiled: names the configuration key.
#[derive(Debug, thiserror::Error)]
#[error("{key}: {source}")]
pub struct SchemaStartError {
    /// The key (`kinds[3].xsd`).
    pub key: String,
    /// Why.
    pub source: edugate::schema::SchemaError,
}

/// The compiled schemas of the registered kinds, in the configuration's order.
pub struct Schemas {
    /// Per kind: its namespace and root, and its schema (one compiled schema is shared by the kinds naming one file).
    kinds: Vec<(String, String, Option<Arc<Schema>>)>,
}

impl Schemas {
    /// Compiles every kind's schema, each file once.
    pub fn compile(kinds: &[KindConfig]) -> Result<Schemas, SchemaStartError> {
        let mut compiled: Vec<(PathBuf, Arc<Schema>)> = Vec::new();
        let mut out = Vec::with_capacity(kinds.len());
        for (i, kind) in kinds.iter().enumerate() {
            let schema = match &kind.xsd {
                None => None,
                Some(path) => match compiled.iter().find(|(p, _)| p == path) {
                    Some((_, schema)) => Some(schema.clone()),
                    None => {
                        let schema = Schema::from_file(path)
                            .map_err(|source| SchemaStartError { key: format!("kinds[{i}].xsd"), source })?;
                        let schema = Arc::new(schema);
                        compiled.push((path.clone(), schema.clone()));
                        Some(schema)
                    }
                },
            };
            out.push((kind.namespace.clone(), kind.root.clone(), schema));
        }
        Ok(Schemas { kinds: out })
    }

    /// The schema of a kind of data (namespace and root element).
    pub fn of_kind(&self, namespace: &str, root: &str) -> Option<&Schema> {
        self.kinds.iter().find(|(n, r, _)| n == namespace && r == root).and_then(|(_, _, s)| s.as_deref())
    }

    /// The first schema registered for a namespace, whatever the root: what a response in it is validated against.
    pub fn of_namespace(&self, namespace: &str) -> Option<&Schema> {
        self.kinds.iter().filter(|(n, _, _)| n == namespace).find_map(|(_, _, s)| s.as_deref())
    }
}

/// Validates `content` against `schema`: `Ok(Ok(()))` when valid, `Ok(Err(errors))` when not, `Err` when the
/// validator could not run.
pub fn validate(schema: &Schema, content: &str) -> Result<Result<(), Vec<ValidationError>>, String> {
    match schema.validate(content.as_bytes()) {
        Ok(()) => Ok(Ok(())),
        Err(ValidateError::Invalid(invalid)) => Ok(Err(errors(&invalid))),
        Err(ValidateError::Schema(e)) => Err(e.to_string()),
    }
}

/// libxml2's issues as the faults schema's validation errors, the line as position (`-1` when unknown); issues
/// beyond the kept ones are summed up in one more.
fn errors(invalid: &edugate::schema::Invalid) -> Vec<ValidationError> {
    let mut out: Vec<ValidationError> = invalid
        .issues
        .kept
        .iter()
        .map(|i| ValidationError { message: i.message.clone(), position: i.line.map_or(-1, i64::from) })
        .collect();
    if invalid.issues.more > 0 {
        out.push(ValidationError { message: format!("and {} more errors", invalid.issues.more), position: -1 });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_schema_that_does_not_compile_names_its_key() {
        let dir = tempfile::tempdir().unwrap();
        let broken = dir.path().join("broken.xsd");
        let xsd = "<xs:schema xmlns:xs=\"http://www.w3.org/2001/XMLSchema\"><xs:element name=\"A\" type=\"Nope\"/></xs:schema>";
        std::fs::write(&broken, xsd).unwrap();
        let mut kinds = crate::config::Config::default().kinds;
        kinds[1].xsd = Some(broken);
        let Err(e) = Schemas::compile(&kinds) else { panic!("a broken schema compiled") };
        assert_eq!(e.key, "kinds[1].xsd");
        assert!(e.to_string().contains("broken.xsd"), "{e}");
    }

    #[test]
    fn kinds_naming_one_file_share_its_schema_and_responses_find_it_by_namespace() {
        let kinds = crate::config::Config::default().kinds;
        let schemas = Schemas::compile(&kinds).unwrap();
        let ns = "http://epgu.gosuslugi.ru/concentrator/kindergarten/3.2.1";
        assert_eq!(schemas.of_kind(ns, "FormData").map(Schema::name), Some("kindergarten-3.2.1.xsd"));
        assert_eq!(schemas.of_namespace(ns).map(Schema::name), Some("kindergarten-3.2.1.xsd"));
        assert!(schemas.of_kind(ns, "FormDataResponse").is_none(), "no kind of that root");
        assert!(schemas.of_kind("urn://edugate/echo/1.0.0", "Echo").is_none());
        let answer = format!("<FormDataResponse xmlns=\"{ns}\"><cancelResponse><orderId>1</orderId><result>CANCELLED</result></cancelResponse></FormDataResponse>");
        assert_eq!(validate(schemas.of_namespace(ns).unwrap(), &answer).unwrap(), Ok(()));
        let wrong = format!("<FormDataResponse xmlns=\"{ns}\"><cancelResponse><result>MAYBE</result></cancelResponse></FormDataResponse>");
        let errors = validate(schemas.of_namespace(ns).unwrap(), &wrong).unwrap().unwrap_err();
        assert!(errors[0].position >= 1 && errors[0].message.contains("result"), "{errors:?}");
    }
}
