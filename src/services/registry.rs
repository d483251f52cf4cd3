//! The registry of kinds of data: which service answers content of which namespace and root element, in which
//! version. Built from the configuration before anything is opened; one service may be registered under several
//! namespaces and versions at once (the EPGU concentrator runs three versions side by side), and a region may map its
//! portal's own namespace to a service.
#![forbid(unsafe_code)]

use super::{
    echo::EchoService, enrollment::EnrollmentService, kindergarten::KindergartenService, progress::ProgressService,
    KindService,
};
use crate::smev::KindOfData;
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
}

impl std::fmt::Debug for Registration {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registration")
            .field("kind", &self.kind)
            .field("version", &self.version)
            .field("service", &self.service.name())
            .finish()
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
            registry.entries.push(Registration { kind, version, service: service.clone() });
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

#[cfg(test)]
mod tests {
    use super::*;

    fn entry<'a>(service: &'a str, namespace: &'a str, root: &'a str) -> Entry<'a> {
        Entry { service, namespace, root, version: None }
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
}
