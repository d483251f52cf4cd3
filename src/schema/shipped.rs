//! The schemas shipped in the binary: the EPGU concentrator's kinds of data (`xsd/epgu/`, verbatim), embedded so
//! that the gateway validates them with no file at run time. A kind registered under one of these namespaces is
//! validated against its schema unless the configuration names another.
#![forbid(unsafe_code)]

use crate::schema::error::SchemaError;
use crate::schema::validator::Schema;
use std::sync::{Arc, Mutex};

/// A schema embedded in the binary.
#[derive(Debug)]
pub struct Shipped {
    /// Its file name under `xsd/`, which names it in verdicts.
    pub name: &'static str,
    /// Its target namespace: content in this namespace is validated against it.
    pub namespace: &'static str,
    /// The schema's bytes, as shipped.
    pub xsd: &'static [u8],
}

/// Every shipped schema.
pub static SHIPPED: &[Shipped] = &[
    Shipped {
        name: "epgu/kindergarten-3.1.1.xsd",
        namespace: "http://epgu.gosuslugi.ru/concentrator/kindergarten/3.1.1",
        xsd: include_bytes!("../../xsd/epgu/kindergarten-3.1.1.xsd"),
    },
    Shipped {
        name: "epgu/kindergarten-3.2.1.xsd",
        namespace: "http://epgu.gosuslugi.ru/concentrator/kindergarten/3.2.1",
        xsd: include_bytes!("../../xsd/epgu/kindergarten-3.2.1.xsd"),
    },
    Shipped {
        name: "epgu/kindergarten-4.0.1.xsd",
        namespace: "http://epgu.gosuslugi.ru/concentrator/kindergarten/4.0.1",
        xsd: include_bytes!("../../xsd/epgu/kindergarten-4.0.1.xsd"),
    },
    Shipped {
        name: "epgu/kindergarten-order-1.0.0.xsd",
        namespace: "http://epgu.gosuslugi.ru/concentrator/kindergarten-order/1.0.0",
        xsd: include_bytes!("../../xsd/epgu/kindergarten-order-1.0.0.xsd"),
    },
    Shipped {
        name: "epgu/kindergarten-order-1.0.1.xsd",
        namespace: "http://epgu.gosuslugi.ru/concentrator/kindergarten-order/1.0.1",
        xsd: include_bytes!("../../xsd/epgu/kindergarten-order-1.0.1.xsd"),
    },
];

/// The shipped schema of a namespace, if there is one.
pub fn for_namespace(namespace: &str) -> Option<&'static Shipped> {
    SHIPPED.iter().find(|s| s.namespace == namespace)
}

/// Shipped schemas compiled so far in this process: each is compiled once, however many registries (the
/// configuration's check, the gateway, several gateways in one test process) use it.
static COMPILED: Mutex<Vec<(&'static str, Arc<Schema>)>> = Mutex::new(Vec::new());

impl Shipped {
    /// The compiled schema, compiled on first use and shared after that.
    pub fn compiled(&'static self) -> Result<Arc<Schema>, SchemaError> {
        let mut compiled = COMPILED.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((_, schema)) = compiled.iter().find(|(name, _)| *name == self.name) {
            return Ok(schema.clone());
        }
        let schema = Arc::new(Schema::from_bytes(self.name, self.xsd)?);
        compiled.push((self.name, schema.clone()));
        Ok(schema)
    }
}
