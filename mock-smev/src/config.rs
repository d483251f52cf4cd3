//! mock-smev's configuration: registered information systems, kinds of data, its own signing key, limits and
//! storage. One TOML file; every default works with the test-only certificates in `certs-dev/`.
#![forbid(unsafe_code)]

use serde::Deserialize;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Where the repository's `certs-dev/` is, for defaults that work out of the box.
pub fn certs_dev() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../certs-dev")
}

/// A registered information system: who may call, identified by its certificate.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct SystemConfig {
    /// The system's mnemonic, as SMEV writes it in `MessageMetadata`.
    pub mnemonic: String,
    /// Its name for people.
    #[serde(default)]
    pub name: String,
    /// Its signing certificate (PEM or DER): a call signed with it comes from this system.
    pub cert: PathBuf,
    /// Its private key, only for systems mock-smev acts as (the portal).
    #[serde(default)]
    pub key: Option<PathBuf>,
}

/// A kind of data ("вид сведений") and who provides it.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct KindConfig {
    /// Namespace URI of the content's root element.
    pub namespace: String,
    /// Local name of the content's root element.
    pub root: String,
    /// Mnemonic of the providing system: requests of this kind go to its queue.
    pub provider: String,
    /// XSD the request content must satisfy, and the content of every response in the same namespace (validated in
    /// process with libxml2, compiled at start-up); none means no validation.
    #[serde(default)]
    pub xsd: Option<PathBuf>,
}

/// Where messages are kept.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq, Default)]
#[serde(deny_unknown_fields)]
pub struct StorageConfig {
    /// A sled directory; in memory when absent.
    #[serde(default)]
    pub sled_path: Option<PathBuf>,
}

/// The queue engine's limits, in configuration units.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct LimitsConfig {
    /// Seconds a delivered, unacknowledged message stays hidden before it is delivered again.
    pub visibility_timeout_secs: u64,
    /// Unacknowledged messages a queue may hold before `DestinationOverflow`.
    pub destination_max_pending: usize,
    /// Sends per sender per minute before `QuoteLimitExceeded`.
    pub quota_per_minute: u32,
    /// Age in seconds after which a version-1 MessageID is refused as `StaleMessageId`.
    pub stale_message_id_secs: u64,
    /// Largest accepted SOAP body, in bytes; a larger one gets a SOAP fault.
    pub max_body_bytes: usize,
    /// Largest certificate a caller may sign with, in bytes of DER; a larger one is refused before it is decoded
    /// (real certificates are 1 to 3 KB).
    pub max_certificate_bytes: usize,
}

impl Default for LimitsConfig {
    fn default() -> Self {
        LimitsConfig {
            visibility_timeout_secs: 30,
            destination_max_pending: 10_000,
            quota_per_minute: 6_000,
            stale_message_id_secs: 2 * 24 * 3600,
            max_body_bytes: 16 * 1024 * 1024,
            max_certificate_bytes: 16 * 1024,
        }
    }
}

impl LimitsConfig {
    /// The engine's limits.
    pub fn queue_limits(&self) -> crate::Limits {
        crate::Limits {
            visibility_timeout: Duration::from_secs(self.visibility_timeout_secs),
            destination_max_pending: self.destination_max_pending,
            quota_per_minute: self.quota_per_minute,
        }
    }
}

/// How the HTTP server bounds its clients and its work. Connections over the limit wait in the kernel's backlog;
/// parsing (the costly part of a call: a 16 MB body takes hundreds of megabytes as a tree) is bounded in calls and
/// in bytes, so that several large bodies at once are parsed in turn rather than all in memory together.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct ServerConfig {
    /// Milliseconds a client may take to send a request's headers (the `--read-timeout` flag caps it too).
    pub header_read_timeout_ms: u64,
    /// Milliseconds a connection may stay open with nothing sent either way before it is closed.
    pub idle_timeout_ms: u64,
    /// Connections served at once.
    pub max_connections: usize,
    /// SOAP calls parsed and verified at once; 0 means twice the number of cores.
    pub max_concurrent_parses: usize,
    /// Bytes of SOAP bodies parsed and verified at once; 0 means `limits.max_body_bytes`: one body of the largest
    /// size at a time, many small ones together. A body larger than this waits until it can be parsed alone.
    pub max_parse_bytes: usize,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            header_read_timeout_ms: 10_000,
            idle_timeout_ms: 60_000,
            max_connections: 256,
            max_concurrent_parses: 0,
            max_parse_bytes: 0,
        }
    }
}

impl ServerConfig {
    /// The most connections `server.max_connections` may allow: each costs a file descriptor.
    pub const MAX_CONNECTIONS: usize = 16_384;

    /// SOAP calls parsed at once, with the default applied.
    pub fn parses(&self) -> usize {
        match self.max_concurrent_parses {
            0 => 2 * std::thread::available_parallelism().map_or(1, |n| n.get()),
            n => n,
        }
    }

    /// Bytes of bodies parsed at once, with the default applied.
    pub fn parse_bytes(&self, limits: &LimitsConfig) -> usize {
        match self.max_parse_bytes {
            0 => limits.max_body_bytes,
            n => n,
        }
    }

    fn validate(&self) -> Result<(), ConfigError> {
        let invalid = |key: &str, message: &str| Err(ConfigError::Invalid { key: key.into(), message: message.into() });
        if self.header_read_timeout_ms == 0 {
            return invalid("server.header_read_timeout_ms", "must be at least 1");
        }
        if self.idle_timeout_ms == 0 {
            return invalid("server.idle_timeout_ms", "must be at least 1");
        }
        if self.max_connections == 0 || self.max_connections > Self::MAX_CONNECTIONS {
            return invalid("server.max_connections", "must be between 1 and 16384");
        }
        if self.max_concurrent_parses > 1024 {
            return invalid("server.max_concurrent_parses", "must be at most 1024 (0: twice the cores)");
        }
        Ok(())
    }
}

/// The whole configuration.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Address to listen on.
    #[serde(default = "default_listen")]
    pub listen: String,
    /// mock-smev's own signing key (PEM PKCS#8), for `SMEVSignature`.
    #[serde(default = "default_key")]
    pub key: PathBuf,
    /// mock-smev's certificate.
    #[serde(default = "default_cert")]
    pub cert: PathBuf,
    /// The OpenSSL engine that provides GOST.
    #[serde(default = "default_engine")]
    pub engine: String,
    /// Whether every call must carry a valid `CallerInformationSystemSignature`, as the real SMEV requires.
    #[serde(default = "yes")]
    pub require_signatures: bool,
    /// Whether a caller's certificate must be within its validity period.
    #[serde(default = "yes")]
    pub check_certificate_validity: bool,
    /// The mnemonic of the registered system mock-smev acts as on the control API's portal calls.
    #[serde(default = "default_portal")]
    pub portal: String,
    /// Registered information systems.
    #[serde(default = "default_systems")]
    pub systems: Vec<SystemConfig>,
    /// Registered kinds of data.
    #[serde(default = "default_kinds")]
    pub kinds: Vec<KindConfig>,
    /// Storage.
    #[serde(default)]
    pub storage: StorageConfig,
    /// Limits.
    #[serde(default)]
    pub limits: LimitsConfig,
    /// The HTTP server's bounds.
    #[serde(default)]
    pub server: ServerConfig,
}

fn yes() -> bool {
    true
}
fn default_listen() -> String {
    "127.0.0.1:7575".into()
}
fn default_key() -> PathBuf {
    certs_dev().join("mock-smev.key")
}
fn default_cert() -> PathBuf {
    certs_dev().join("mock-smev.crt")
}
fn default_engine() -> String {
    "gost".into()
}
fn default_portal() -> String {
    "EPGU".into()
}

fn default_systems() -> Vec<SystemConfig> {
    let dev = certs_dev();
    vec![
        SystemConfig {
            mnemonic: "EPGU".into(),
            name: "Портал государственных услуг (тестовый)".into(),
            cert: dev.join("portal.crt"),
            key: Some(dev.join("portal.key")),
        },
        SystemConfig {
            mnemonic: "EDUGATE".into(),
            name: "edugate (тестовый)".into(),
            cert: dev.join("gateway.crt"),
            key: None,
        },
        SystemConfig {
            mnemonic: "EDUGATE512".into(),
            name: "edugate, ГОСТ 2012-512 (тестовый)".into(),
            cert: dev.join("gateway-512.crt"),
            key: None,
        },
    ]
}

fn default_kinds() -> Vec<KindConfig> {
    let xsd = Path::new(env!("CARGO_MANIFEST_DIR")).join("../xsd");
    let kind = |namespace: &str, root: &str, provider: &str, schema: Option<&str>| KindConfig {
        namespace: namespace.into(),
        root: root.into(),
        provider: provider.into(),
        xsd: schema.map(|s| xsd.join(s)),
    };
    vec![
        kind("urn://edugate/progress/1.0.0", "ProgressRequest", "EDUGATE", Some("progress-1.0.0.xsd")),
        kind("urn://edugate/school-enrollment/1.0.0", "FormData", "EDUGATE", Some("school-enrollment-1.0.0.xsd")),
        kind("urn://edugate/school-enrollment/1.1.0", "FormData", "EDUGATE", Some("school-enrollment-1.1.0.xsd")),
        // Status pushes travel from the region to the portal.
        kind(
            "urn://edugate/school-enrollment/1.0.0",
            "OrderStatusRequest",
            "EPGU",
            Some("school-enrollment-1.0.0.xsd"),
        ),
        kind("urn://edugate/echo/1.0.0", "Echo", "EDUGATE", None),
        // The EPGU concentrator's kindergarten kinds, with the published schemas: the portal asks the region
        // (`FormData`), and the region reports applications filed elsewhere to the portal (`OrderRequest`).
        kind(&concentrator("kindergarten/3.1.1"), "FormData", "EDUGATE", Some("epgu/kindergarten-3.1.1.xsd")),
        kind(&concentrator("kindergarten/3.2.1"), "FormData", "EDUGATE", Some("epgu/kindergarten-3.2.1.xsd")),
        kind(&concentrator("kindergarten/4.0.1"), "FormData", "EDUGATE", Some("epgu/kindergarten-4.0.1.xsd")),
        kind(
            &concentrator("kindergarten-order/1.0.0"),
            "OrderRequest",
            "EPGU",
            Some("epgu/kindergarten-order-1.0.0.xsd"),
        ),
        kind(
            &concentrator("kindergarten-order/1.0.1"),
            "OrderRequest",
            "EPGU",
            Some("epgu/kindergarten-order-1.0.1.xsd"),
        ),
    ]
}

/// A namespace of the EPGU concentrator, from its kind and version (`kindergarten/3.2.1`).
fn concentrator(kind_and_version: &str) -> String {
    format!("http://epgu.gosuslugi.ru/concentrator/{kind_and_version}")
}

impl Config {
    /// The files this configuration takes from the repository's `certs-dev/`, whose private keys are public: an
    /// emulator may run on them, but it says so (see `main.rs`), so that nobody mistakes it for a real contour.
    pub fn dev_material(&self) -> Vec<PathBuf> {
        let dev = std::fs::canonicalize(certs_dev()).unwrap_or_else(|_| certs_dev());
        let in_dev = |path: &Path| std::fs::canonicalize(path).is_ok_and(|p| p.starts_with(&dev));
        let systems = self.systems.iter().flat_map(|s| std::iter::once(&s.cert).chain(s.key.as_ref()));
        [&self.key, &self.cert].into_iter().chain(systems).filter(|p| in_dev(p)).cloned().collect()
    }
}

impl Default for Config {
    fn default() -> Self {
        toml::from_str("").expect("the empty configuration takes every default")
    }
}

/// Why a configuration was refused: always names the key.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("reading {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The TOML is invalid or has unknown keys.
    #[error("{path}: {message}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// The parser's message, which names the key and line.
        message: String,
    },
    /// A value is invalid.
    #[error("{key}: {message}")]
    Invalid {
        /// The offending key.
        key: String,
        /// Why.
        message: String,
    },
}

impl Config {
    /// Reads and validates a configuration file.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read { path: path.into(), source })?;
        let config: Config =
            toml::from_str(&text).map_err(|e| ConfigError::Parse { path: path.into(), message: e.to_string() })?;
        config.validate()?;
        Ok(config)
    }

    /// Checks cross-references and files before anything starts.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let invalid = |key: String, message: String| Err(ConfigError::Invalid { key, message });
        if self.listen.parse::<std::net::SocketAddr>().is_err() {
            return invalid("listen".into(), format!("'{}' is not an address:port", self.listen));
        }
        for (key, path) in [("key", &self.key), ("cert", &self.cert)] {
            if !path.is_file() {
                return invalid(key.into(), format!("{} is not a file", path.display()));
            }
        }
        for (i, s) in self.systems.iter().enumerate() {
            if s.mnemonic.is_empty() {
                return invalid(format!("systems[{i}].mnemonic"), "must not be empty".into());
            }
            if !s.cert.is_file() {
                return invalid(format!("systems[{i}].cert"), format!("{} is not a file", s.cert.display()));
            }
            if self.systems[..i].iter().any(|o| o.mnemonic == s.mnemonic) {
                return invalid(format!("systems[{i}].mnemonic"), format!("'{}' is registered twice", s.mnemonic));
            }
        }
        for (i, k) in self.kinds.iter().enumerate() {
            if !self.systems.iter().any(|s| s.mnemonic == k.provider) {
                return invalid(format!("kinds[{i}].provider"), format!("'{}' is not a registered system", k.provider));
            }
            if let Some(xsd) = &k.xsd {
                if !xsd.is_file() {
                    return invalid(format!("kinds[{i}].xsd"), format!("{} is not a file", xsd.display()));
                }
            }
        }
        match self.systems.iter().find(|s| s.mnemonic == self.portal) {
            Some(s) if s.key.is_some() => {}
            Some(_) => return invalid("portal".into(), format!("system '{}' has no key to sign with", self.portal)),
            None => return invalid("portal".into(), format!("'{}' is not a registered system", self.portal)),
        }
        if self.limits.visibility_timeout_secs == 0 {
            return invalid("limits.visibility_timeout_secs".into(), "must be at least 1".into());
        }
        if self.limits.max_body_bytes == 0 {
            return invalid("limits.max_body_bytes".into(), "must be at least 1".into());
        }
        if self.limits.max_certificate_bytes == 0 {
            return invalid("limits.max_certificate_bytes".into(), "must be at least 1".into());
        }
        self.server.validate()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid() {
        Config::default().validate().unwrap();
    }

    /// The defaults run on certs-dev/, which main.rs announces; material elsewhere is not reported.
    #[test]
    fn dev_material_is_reported() {
        let mut config = Config::default();
        assert_eq!(config.dev_material().len(), 2 + 3 + 1, "key, cert, three systems' certs and the portal's key");
        let dir = tempfile::tempdir().unwrap();
        let own = dir.path().join("own.crt");
        std::fs::copy(certs_dev().join("mock-smev.crt"), &own).unwrap();
        config.cert = own;
        assert!(!config.dev_material().contains(&config.cert));
    }

    #[test]
    fn errors_name_the_key() {
        let cases = [
            ("listen = \"nowhere\"", "listen"),
            ("portal = \"NOBODY\"", "portal"),
            ("[[kinds]]\nnamespace = \"urn:x\"\nroot = \"X\"\nprovider = \"NOBODY\"", "kinds[0].provider"),
            ("[limits]\nvisibility_timeout_secs = 0", "limits.visibility_timeout_secs"),
            ("[limits]\nmax_body_bytes = 0", "limits.max_body_bytes"),
            ("[limits]\nmax_certificate_bytes = 0", "limits.max_certificate_bytes"),
            ("[server]\nheader_read_timeout_ms = 0", "server.header_read_timeout_ms"),
            ("[server]\nidle_timeout_ms = 0", "server.idle_timeout_ms"),
            ("[server]\nmax_connections = 0", "server.max_connections"),
            ("[server]\nmax_connections = 100000", "server.max_connections"),
            ("[server]\nmax_concurrent_parses = 5000", "server.max_concurrent_parses"),
        ];
        for (text, key) in cases {
            let config: Config = toml::from_str(text).unwrap();
            match config.validate() {
                Err(ConfigError::Invalid { key: k, .. }) => assert_eq!(k, key, "{text}"),
                other => panic!("{text}: {other:?}"),
            }
        }
        let unknown = toml::from_str::<Config>("colour = \"red\"").unwrap_err().to_string();
        assert!(unknown.contains("colour"), "{unknown}");
    }
}
