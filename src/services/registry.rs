//! The registry of kinds of data: which service answers content of which namespace and root element, in which
//! version. Built from the configuration before anything is opened; one service may be registered under several
//! namespaces and versions at once (the EPGU concentrator runs three versions side by side), and a region may map its
//! portal's own namespace to a service.
//!
//! A registration may carry the XSD its content must satisfy: the file an entry names, or else the schema shipped
//! for its namespace (the EPGU concentrator's, [`crate::schema::shipped`]). Each is compiled when the registry is
//! built, and [`Registration::read`] validates a delivered request's content against it before the service reads
//! it: invalid content is answered with `RequestRejected` naming the first errors.
#![forbid(unsafe_code)]

use super::{
    echo::EchoService, enrollment::EnrollmentService, kindergarten::KindergartenService, progress::ProgressService,
    KindService,
};
use super::{Decided, ReadRequest};
use crate::schema::{Schema, ValidateError};
use crate::smev::{KindOfData, RejectCode, Rejection, ResponseBody};
use crate::xml::{Document, NodeId};
use std::path::Path;
use std::sync::Arc;

/// The services the gateway has, by name.
pub fn builtin() -> Vec<Arc<dyn KindService>> {
    vec![Arc::new(EchoService), Arc::new(ProgressService), Arc::new(EnrollmentService), Arc::new(KindergartenService)]
}

/// Whether `name` is a service the gateway has.
pub fn is_known(name: &str) -> bool {
    builtin().iter().any(|s| s.name() == name)
}

/// The names of the services the gateway has, for error messages.
pub fn known_names() -> Vec<&'static str> {
    builtin().iter().map(|s| s.name()).collect()
}

/// One kind of data the gateway serves: the content's namespace and root element, its format version, and the
/// service that answers it.
#[derive(Clone)]
pub struct Registration {
    /// The kind of data as SMEV selects it (the content root's namespace and local name).
    pub kind: KindOfData,
    /// The format's version, for operators.
    pub version: String,
    /// The service.
    pub service: Arc<dyn KindService>,
    /// The compiled XSD the content must satisfy before the service reads it; none: the service alone judges it.
    pub schema: Option<Arc<Schema>>,
}

impl std::fmt::Debug for Registration {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registration")
            .field("kind", &self.kind)
            .field("version", &self.version)
            .field("service", &self.service.name())
            .field("schema", &self.schema.as_ref().map(|s| s.name()))
            .finish()
    }
}

/// The most characters of `RejectionReasonDescription` (the SMEV schemas' `string-4000`).
pub const MAX_REJECTION_CHARS: usize = 4000;

impl Registration {
    /// Reads a delivered request's content (the element `content` of `doc`): validated against the kind's schema
    /// first, when it has one, then read by the service. Content the schema refuses is read into a refusal.
    pub fn read(&self, doc: &Document<'_>, content: NodeId) -> Box<dyn ReadRequest> {
        match self.check(doc, content) {
            Ok(()) => self.service.read_in(doc, content, &self.version),
            Err(refusal) => Box::new(Decided(ResponseBody::Rejected(vec![refusal]))),
        }
    }

    /// Validates the content against the kind's schema, if it has one; the reason of the refusal when it fails.
    pub fn check(&self, doc: &Document<'_>, content: NodeId) -> Result<(), Rejection> {
        match &self.schema {
            Some(schema) => schema.validate_element(doc, content).map_err(|e| self.refusal(&e)),
            None => Ok(()),
        }
    }

    /// Why content that did not pass its schema is refused: `FAILURE` with the first errors.
    fn refusal(&self, e: &ValidateError) -> Rejection {
        let description = match e {
            ValidateError::Invalid(invalid) => {
                // libxml2 quotes offending values, which may be personal data: logs get them masked.
                let masked = crate::school::mask::mask_text(&invalid.issues.to_string());
                tracing::warn!(kind = %self.kind, schema = %invalid.schema, issues = invalid.issues.total(), first = %masked, "schema-invalid content refused");
                invalid.to_string()
            }
            ValidateError::Schema(broken) => {
                tracing::error!(kind = %self.kind, error = %broken, "content could not be validated; refused");
                format!("the content could not be validated: {broken}")
            }
        };
        let description = match description.char_indices().nth(MAX_REJECTION_CHARS - 1) {
            Some((at, _)) => format!("{}…", &description[..at]),
            None => description,
        };
        Rejection { code: RejectCode::Failure, description }
    }
}

/// Why a registry cannot be built. Each names the entry.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RegistryError {
    /// No service has this name.
    #[error("entry {index}: unknown service '{name}' (known: {known})")]
    UnknownService {
        /// The entry's position.
        index: usize,
        /// The name asked for.
        name: String,
        /// The names there are.
        known: String,
    },
    /// Two entries claim the same namespace and root element.
    #[error("entry {index}: {kind} is registered twice")]
    Duplicate {
        /// The second entry's position.
        index: usize,
        /// The kind claimed twice.
        kind: String,
    },
    /// The entry's schema (its `xsd` file, or the one shipped for its namespace) cannot be compiled.
    #[error("entry {index}: {message}")]
    Schema {
        /// The entry's position.
        index: usize,
        /// Why, naming the schema.
        message: String,
    },
}

/// The kinds of data served, in the configuration's order.
#[derive(Debug, Clone, Default)]
pub struct Registry {
    /// Every registration.
    entries: Vec<Registration>,
}

/// What an entry of the configuration asks for: a service, under a namespace and root element, in a version.
#[derive(Debug, Clone, Copy)]
pub struct Entry<'a> {
    /// The service's name.
    pub service: &'a str,
    /// The content root's namespace.
    pub namespace: &'a str,
    /// The content root's local name.
    pub root: &'a str,
    /// The version, when the configuration names one; otherwise that of the service's format with this namespace,
    /// or empty.
    pub version: Option<&'a str>,
    /// The XSD file the content must satisfy; by default the schema shipped for the namespace, if any.
    pub xsd: Option<&'a Path>,
}

impl Registry {
    /// Builds the registry from the configuration's entries, in order.
    pub fn build<'a>(entries: impl IntoIterator<Item = Entry<'a>>) -> Result<Registry, RegistryError> {
        let services = builtin();
        let mut registry = Registry::default();
        for (index, entry) in entries.into_iter().enumerate() {
            let Some(service) = services.iter().find(|s| s.name() == entry.service) else {
                return Err(RegistryError::UnknownService {
                    index,
                    name: entry.service.to_string(),
                    known: known_names().join(", "),
                });
            };
            let kind = KindOfData::new(entry.namespace, entry.root);
            if registry.find(&kind).is_some() {
                return Err(RegistryError::Duplicate { index, kind: kind.to_string() });
            }
            let version = entry.version.map(str::to_string).unwrap_or_else(|| {
                let served = service.serves().iter().find(|s| s.namespace == entry.namespace && s.root == entry.root);
                served.map(|s| s.version.to_string()).unwrap_or_default()
            });
            let schema = schema_of(&entry).map_err(|e| RegistryError::Schema { index, message: e.to_string() })?;
            registry.entries.push(Registration { kind, version, service: service.clone(), schema });
        }
        Ok(registry)
    }

    /// Every registration, in the configuration's order.
    pub fn entries(&self) -> &[Registration] {
        &self.entries
    }

    /// The registration of a kind of data.
    pub fn find(&self, kind: &KindOfData) -> Option<&Registration> {
        self.entries.iter().find(|r| &r.kind == kind)
    }

    /// A registered service by name (deferred work names the service that deferred it).
    pub fn service(&self, name: &str) -> Option<&Arc<dyn KindService>> {
        self.entries.iter().map(|r| &r.service).find(|s| s.name() == name)
    }

    /// The registered services that push status changes to the portal, each once.
    pub fn pushers(&self) -> Vec<Arc<dyn KindService>> {
        let mut out: Vec<Arc<dyn KindService>> = Vec::new();
        for r in &self.entries {
            if !out.iter().any(|s| s.name() == r.service.name()) && r.service.pushes_statuses() {
                out.push(r.service.clone());
            }
        }
        out
    }
}

/// The compiled schema of an entry: its own file, else the one shipped for its namespace, else none.
fn schema_of(entry: &Entry<'_>) -> Result<Option<Arc<Schema>>, crate::schema::SchemaError> {
    if let Some(path) = entry.xsd {
        return Schema::from_file(path).map(|s| Some(Arc::new(s)));
    }
    match crate::schema::shipped::for_namespace(entry.namespace) {
        Some(shipped) => shipped.compiled().map(Some),
        None => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry<'a>(service: &'a str, namespace: &'a str, root: &'a str) -> Entry<'a> {
        Entry { service, namespace, root, version: None, xsd: None }
    }

    #[test]
    fn one_service_serves_several_namespaces_and_versions() {
        let registry = Registry::build([
            entry("progress", "urn://edugate/progress/1.0.0", "ProgressRequest"),
            Entry { version: Some("2.0"), ..entry("progress", "urn://region/diary/2.0", "Diary") },
        ])
        .unwrap();
        let mine = registry.find(&KindOfData::new("urn://region/diary/2.0", "Diary")).unwrap();
        assert_eq!((mine.service.name(), mine.version.as_str()), ("progress", "2.0"));
        let default = registry.find(&KindOfData::new("urn://edugate/progress/1.0.0", "ProgressRequest")).unwrap();
        assert_eq!(default.version, "1.0.0", "the version of the service's own format");
        assert!(registry.find(&KindOfData::new("urn://other", "ProgressRequest")).is_none());
    }

    #[test]
    fn unknown_services_and_duplicates_are_refused_by_entry() {
        let unknown = Registry::build([entry("grades", "urn://x", "X")]).unwrap_err();
        assert!(unknown.to_string().contains("unknown service 'grades'"), "{unknown}");
        let twice = Registry::build([entry("echo", "urn://x", "X"), entry("progress", "urn://x", "X")]).unwrap_err();
        assert_eq!(twice, RegistryError::Duplicate { index: 1, kind: KindOfData::new("urn://x", "X").to_string() });
    }

    const KG_321: &str = "http://epgu.gosuslugi.ru/concentrator/kindergarten/3.2.1";

    #[test]
    fn a_concentrator_namespace_gets_its_shipped_schema_unless_a_file_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let own = dir.path().join("own.xsd");
        std::fs::write(
            &own,
            format!("<xs:schema xmlns:xs=\"http://www.w3.org/2001/XMLSchema\" targetNamespace=\"{KG_321}\"><xs:element name=\"FormData\"/></xs:schema>"),
        )
        .unwrap();
        let registry = Registry::build([
            entry("echo", KG_321, "FormData"),
            entry("echo", "urn://x", "X"),
            Entry { xsd: Some(&own), ..entry("echo", "urn://y", "Y") },
        ])
        .unwrap();
        let schema = |ns: &str, root: &str| {
            registry.find(&KindOfData::new(ns, root)).unwrap().schema.as_ref().map(|s| s.name().to_string())
        };
        assert_eq!(schema(KG_321, "FormData").as_deref(), Some("epgu/kindergarten-3.2.1.xsd"));
        assert_eq!(schema("urn://x", "X"), None);
        assert_eq!(schema("urn://y", "Y").as_deref(), Some("own.xsd"));
        let broken = dir.path().join("broken.xsd");
        std::fs::write(&broken, "<xs:schema xmlns:xs=\"http://www.w3.org/2001/XMLSchema\"><xs:element name=\"A\" type=\"Nope\"/></xs:schema>").unwrap();
        let refused = Registry::build([
            entry("echo", "urn://x", "X"),
            Entry { xsd: Some(&broken), ..entry("echo", "urn://y", "Y") },
        ]);
        match refused.unwrap_err() {
            RegistryError::Schema { index: 1, message } => assert!(message.contains("broken.xsd"), "{message}"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn content_the_schema_refuses_is_answered_with_a_bounded_failure() {
        let registry = Registry::build([entry("echo", KG_321, "FormData")]).unwrap();
        let registration = &registry.entries()[0];
        let check = |xml: &str| {
            let doc = crate::xml::parse(xml, &crate::xml::Limits::default()).unwrap();
            registration.check(&doc, doc.root())
        };
        let valid = format!("<FormData xmlns=\"{KG_321}\" oktmo=\"1\"><GetApplicationRequest><orderId>1</orderId></GetApplicationRequest></FormData>");
        check(&valid).unwrap();
        let wrong: String = (0..200).map(|i| format!("<Wrong{i}/>")).collect();
        let refused = check(&format!("<FormData xmlns=\"{KG_321}\" oktmo=\"1\">{wrong}</FormData>")).unwrap_err();
        assert_eq!(refused.code, RejectCode::Failure);
        assert!(refused.description.contains("Wrong0"), "{}", refused.description);
        assert!(refused.description.contains("kindergarten-3.2.1.xsd"), "{}", refused.description);
        assert!(refused.description.chars().count() <= MAX_REJECTION_CHARS);
    }
}
