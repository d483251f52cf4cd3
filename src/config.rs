//! The gateway's configuration: one TOML file plus environment overrides, typed and validated before any socket
//! is bound or any store opened. Every error names the key it is about.
//!
//! An environment variable `EDUGATE__SECTION__KEY=value` overrides `key` in `[section]` (double underscores separate
//! the path, so keys keep their single underscores); the value is read as a TOML value when it parses as one
//! (`30`, `true`, `["a"]`) and as a string otherwise.
#![forbid(unsafe_code)]

use crate::services::registry::{Entry, Registry, RegistryError};
use serde::Deserialize;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Where the repository's test-only dev certificates are. Their private keys are public: they are filled in as
/// defaults only under the development profile ([`Profile::Development`]), never otherwise.
pub fn certs_dev() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("certs-dev")
}

/// Which defaults apply to keys, certificates and trust anchors left unset. It exists so that test material, whose
/// private keys are public, can never be picked up by a production gateway by omission.
#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Profile {
    /// The default: every key, certificate and trust anchor must be configured; nothing defaults to `certs-dev/`.
    #[default]
    Production,
    /// Chosen explicitly (`profile = "development"` or `EDUGATE__PROFILE=development`) for the demo and tests:
    /// unset keys, certificates and trust anchors default to the public test material in `certs-dev/`, and the
    /// gateway says so loudly on every start.
    Development,
}

/// How the gateway reaches SMEV.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct SmevConfig {
    /// The message-exchange endpoint URL.
    pub endpoint: String,
    /// Schema version: "1.3" or "1.2".
    pub version: String,
    /// Connect timeout, milliseconds.
    pub connect_timeout_ms: u64,
    /// Whole-call timeout, milliseconds.
    pub read_timeout_ms: u64,
    /// Largest response accepted, bytes.
    pub max_response_bytes: usize,
    /// A CA certificate (PEM) to trust for the endpoint.
    pub ca_cert: Option<PathBuf>,
    /// Client certificate (PEM) for mutual TLS.
    pub client_cert: Option<PathBuf>,
    /// Client key (PEM) for mutual TLS.
    pub client_key: Option<PathBuf>,
    /// SMEV's signing certificate: `SMEVSignature` on every delivered message must verify with it. Required;
    /// under the development profile it defaults to `certs-dev/mock-smev.crt`.
    pub smev_cert: Option<PathBuf>,
    /// Pause between polls of an empty queue, milliseconds.
    pub poll_interval_ms: u64,
}

impl Default for SmevConfig {
    fn default() -> Self {
        SmevConfig {
            endpoint: "http://127.0.0.1:7575/smev/1.3".into(),
            version: "1.3".into(),
            connect_timeout_ms: 5_000,
            read_timeout_ms: 60_000,
            max_response_bytes: 32 * 1024 * 1024,
            ca_cert: None,
            client_cert: None,
            client_key: None,
            smev_cert: None,
            poll_interval_ms: 1_000,
        }
    }
}

/// Who the gateway is in SMEV: its key, certificate and the engine that holds GOST.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct IdentityConfig {
    /// The information system's mnemonic.
    pub mnemonic: String,
    /// The private key: a PEM file path, or `engine:KEY_ID` for a key held inside the engine. Required (empty
    /// means unset); under the development profile it defaults to `certs-dev/gateway.key`.
    pub key: String,
    /// The signing certificate (PEM or DER). Required (empty means unset); under the development profile it
    /// defaults to `certs-dev/gateway.crt`.
    pub cert: PathBuf,
    /// The OpenSSL engine id that provides GOST.
    pub engine: String,
    /// Load the engine from this shared object instead of by id.
    pub engine_path: Option<PathBuf>,
}

impl Default for IdentityConfig {
    fn default() -> Self {
        IdentityConfig {
            mnemonic: "EDUGATE".into(),
            key: String::new(),
            cert: PathBuf::new(),
            engine: "gost".into(),
            engine_path: None,
        }
    }
}

/// Where the gateway keeps its state.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct StoreConfig {
    /// The sled directory of the outbox and inbox.
    pub path: PathBuf,
    /// Days finished work and answered requests are kept (for idempotency and inspection) before pruning.
    pub retention_days: u64,
}

impl Default for StoreConfig {
    fn default() -> Self {
        StoreConfig { path: PathBuf::from("var/edugate"), retention_days: 14 }
    }
}

/// Retry policy of the outbox.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct RetryConfig {
    /// First backoff, milliseconds; doubled per attempt, with full jitter.
    pub base_ms: u64,
    /// Largest backoff, milliseconds.
    pub cap_ms: u64,
    /// Attempts before an item is dead-lettered.
    pub max_attempts: u32,
    /// Age, seconds, after which an item is dead-lettered whatever its attempts.
    pub max_age_secs: u64,
    /// How long a worker holds an item before it is given to another, seconds.
    pub lease_secs: u64,
}

impl Default for RetryConfig {
    fn default() -> Self {
        RetryConfig { base_ms: 500, cap_ms: 300_000, max_attempts: 50, max_age_secs: 7 * 24 * 3600, lease_secs: 60 }
    }
}

/// A kind of data the gateway provides, and which service answers it.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct KindConfig {
    /// Namespace URI of the request content's root element.
    pub namespace: String,
    /// Local name of the request content's root element.
    pub root: String,
    /// The service that answers this kind of data (`echo`, `progress`, `enrollment`; see
    /// [`crate::services::registry`]). One service may be named by several entries, under other namespaces or
    /// versions. (`handler` is the earlier name of this key, still read.)
    #[serde(alias = "handler")]
    pub service: String,
    /// The format's version, for operators; by default that of the service's own format under this namespace.
    #[serde(default)]
    pub version: Option<String>,
    /// Whose signature over the request's data (`CallerInformationSystemSignature`) is trusted for this kind.
    /// Required; under the development profile it defaults to the dev portal's certificate.
    #[serde(default)]
    pub sender_trust: SenderTrustConfig,
    /// The XSD a request's content must satisfy before the service reads it (content that does not is answered
    /// with `RequestRejected`). By default the schema shipped for the namespace (the EPGU concentrator's), if any;
    /// compiled at start-up, so a schema that does not compile stops the gateway naming this key.
    #[serde(default)]
    pub xsd: Option<PathBuf>,
}

/// Which senders' certificates are trusted for a kind of data. A request whose sender's certificate is neither one
/// of `certs` nor issued under `ca` is refused with `ACCESS_DENIED`: SMEV's own signature says only that the
/// message came through SMEV, not that its sender may ask for this kind of data.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct SenderTrustConfig {
    /// A PEM bundle of trust anchors (root or intermediate CA certificates): a sender's certificate that chains to
    /// one of them, and is valid now, is trusted.
    pub ca: Option<PathBuf>,
    /// The registered signing certificates (PEM or DER files) of the portals allowed to send this kind: a sender
    /// whose certificate is exactly one of them is trusted.
    pub certs: Vec<PathBuf>,
}

impl SenderTrustConfig {
    /// Whether nothing is configured (which no kind may keep outside the development profile).
    pub fn is_empty(&self) -> bool {
        self.ca.is_none() && self.certs.is_empty()
    }
}

/// The provider side: which kinds of data to poll for and how hard.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct ProviderConfig {
    /// Kinds of data to poll for.
    pub kinds: Vec<KindConfig>,
    /// Requests processed at once.
    pub concurrency: usize,
    /// GetRequest calls in flight at once per kind of data: one poller takes one request per SMEV round trip, so
    /// under load several keep the gateway fed. Each idles on its own when the queue is empty.
    pub pollers: usize,
    /// Signature verifications of delivered messages run at once, on blocking threads (CPU work: by default the
    /// number of cores); the SMEV client's signing and answer parsing share the same bound.
    pub verify_concurrency: usize,
    /// Most `ds:Signature` elements a delivered message may hold (SMEV's, the sender's and a personal one make
    /// three); one over it is refused before any is verified, so verification work stays bounded by the input.
    pub max_signatures: usize,
    /// Most references one signature may hold (SMEV uses one); each costs a digest of what it covers.
    pub max_references: usize,
}

impl ProviderConfig {
    /// The registry of kinds of data these entries ask for.
    pub fn registry(&self) -> Result<Registry, RegistryError> {
        Registry::build(self.kinds.iter().map(|k| Entry {
            service: &k.service,
            namespace: &k.namespace,
            root: &k.root,
            version: k.version.as_deref(),
            xsd: k.xsd.as_deref(),
        }))
    }

    /// The verification limits these settings ask for.
    pub fn verify_limits(&self) -> crate::dsig::VerifyLimits {
        crate::dsig::VerifyLimits {
            max_signatures: self.max_signatures,
            max_references: self.max_references,
            ..crate::dsig::VerifyLimits::default()
        }
    }
}

impl Default for ProviderConfig {
    fn default() -> Self {
        let kind = |namespace: &str, root: &str, service: &str| KindConfig {
            namespace: namespace.into(),
            root: root.into(),
            service: service.into(),
            version: None,
            sender_trust: SenderTrustConfig::default(),
            xsd: None,
        };
        ProviderConfig {
            kinds: vec![
                kind("urn://edugate/echo/1.0.0", "Echo", "echo"),
                kind("urn://edugate/progress/1.0.0", "ProgressRequest", "progress"),
                kind("urn://edugate/school-enrollment/1.0.0", "FormData", "enrollment"),
                kind("urn://edugate/school-enrollment/1.1.0", "FormData", "enrollment"),
                kind("http://epgu.gosuslugi.ru/concentrator/kindergarten/4.0.1", "FormData", "kindergarten"),
                kind("http://epgu.gosuslugi.ru/concentrator/kindergarten/3.2.1", "FormData", "kindergarten"),
                kind("http://epgu.gosuslugi.ru/concentrator/kindergarten/3.1.1", "FormData", "kindergarten"),
            ],
            concurrency: 8,
            pollers: 4,
            verify_concurrency: crate::cpu::default_concurrency(),
            max_signatures: crate::dsig::VerifyLimits::default().max_signatures,
            max_references: crate::dsig::VerifyLimits::default().max_references,
        }
    }
}

/// Which school system the services ask.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct SchoolConfig {
    /// `embedded` (a data file loaded at start-up and reloaded when it changes) or `http` (a school system's REST
    /// API, docs/school-api.yaml).
    pub kind: String,
    /// The embedded data file.
    pub data: PathBuf,
    /// The embedded system's journal of submitted applications and status changes; beside the gateway's state when
    /// empty.
    pub journal: Option<PathBuf>,
    /// Seconds between checks of the data file for changes (embedded).
    pub reload_secs: u64,
    /// The REST API's base URL (http).
    pub url: String,
    /// The bearer token (http).
    pub token: String,
    /// Per-call timeout, milliseconds (http).
    pub timeout_ms: u64,
    /// Seconds between polls of the school system for application status changes to push to the portal; 0 turns
    /// the pushes off.
    pub status_poll_secs: u64,
    /// Whether the school system behind the REST API also runs the region's kindergarten queue (its
    /// `/kindergarten/…` endpoints, http). When it does not, the kindergarten service answers every request with 150
    /// "not provided through this regional system" instead of asking endpoints that are not there.
    pub kindergartens: bool,
}

impl Default for SchoolConfig {
    fn default() -> Self {
        SchoolConfig {
            kind: "embedded".into(),
            data: Path::new(env!("CARGO_MANIFEST_DIR")).join("data/school-demo.json"),
            journal: None,
            reload_secs: 2,
            url: String::new(),
            token: String::new(),
            timeout_ms: 5_000,
            status_poll_secs: 2,
            kindergartens: true,
        }
    }
}

/// The gateway's own HTTP endpoint (health; operators' API later).
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct HttpConfig {
    /// Address to listen on.
    pub listen: String,
    /// Seconds to let work in flight finish at shutdown before leases are released.
    pub shutdown_grace_secs: u64,
    /// Milliseconds a client may take to send a request's headers (a slow client holds a connection no longer).
    pub header_read_timeout_ms: u64,
    /// Milliseconds a connection may stay open with nothing sent either way before it is closed.
    pub idle_timeout_ms: u64,
    /// Connections served at once; more wait in the kernel's backlog, so idle clients cannot take the file
    /// descriptors the state directory needs.
    pub max_connections: usize,
    /// Largest request body accepted, in bytes (the operators' API takes small JSON only); larger gets 413.
    pub max_body_bytes: usize,
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            listen: "127.0.0.1:8080".into(),
            shutdown_grace_secs: 10,
            header_read_timeout_ms: 10_000,
            idle_timeout_ms: 60_000,
            max_connections: 256,
            max_body_bytes: 256 * 1024,
        }
    }
}

impl HttpConfig {
    /// The most connections `http.max_connections` may allow: each costs a file descriptor.
    pub const MAX_CONNECTIONS: usize = 16_384;

    /// Checks the HTTP section's values; the error names the key.
    fn validate(&self) -> Result<(), ConfigError> {
        let invalid = |key: &str, message: String| Err(ConfigError::Invalid { key: key.to_string(), message });
        if self.listen.parse::<std::net::SocketAddr>().is_err() {
            return invalid("http.listen", format!("'{}' is not an address:port", self.listen));
        }
        if self.header_read_timeout_ms == 0 {
            return invalid("http.header_read_timeout_ms", "must be at least 1".into());
        }
        if self.idle_timeout_ms == 0 {
            return invalid("http.idle_timeout_ms", "must be at least 1".into());
        }
        if self.max_connections == 0 || self.max_connections > Self::MAX_CONNECTIONS {
            return invalid("http.max_connections", format!("must be between 1 and {}", Self::MAX_CONNECTIONS));
        }
        if self.max_body_bytes == 0 {
            return invalid("http.max_body_bytes", "must be at least 1".into());
        }
        Ok(())
    }
}

/// The gateway process's async runtime.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct RuntimeConfig {
    /// Async worker threads (network I/O and scheduling only: CPU work on a message runs on blocking threads);
    /// 0, the default, lets tokio choose (one per core). A small number bounds the threads a gateway takes on a
    /// shared machine, and lets tests prove that no message stalls the async threads.
    pub worker_threads: usize,
}

impl RuntimeConfig {
    /// The most worker threads `runtime.worker_threads` may ask for: each is an OS thread with its own stack.
    pub const MAX_WORKER_THREADS: usize = 1024;
}

/// What an operator's token may do: each role may do everything the one before it may.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[serde(rename_all = "lowercase")]
pub enum OpsRole {
    /// Reads the operators' API, with personal data masked.
    Viewer,
    /// Also retries and purges dead letters and pauses and resumes kinds of data.
    Operator,
    /// Also sees personal data unmasked, when it asks (`?pii=true`).
    Admin,
}

impl OpsRole {
    /// The role's name in the configuration and the audit log.
    pub fn as_str(self) -> &'static str {
        match self {
            OpsRole::Viewer => "viewer",
            OpsRole::Operator => "operator",
            OpsRole::Admin => "admin",
        }
    }
}

/// One bearer token of the operators' API, and whose it is.
#[derive(Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct OpsToken {
    /// Who holds it: the name the audit log records.
    pub name: String,
    /// The secret, sent as `Authorization: Bearer <token>`; at least 16 characters.
    pub token: String,
    /// What it may do.
    pub role: OpsRole,
}

impl std::fmt::Debug for OpsToken {
    /// Never prints the secret: configurations are logged.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpsToken").field("name", &self.name).field("token", &"***").field("role", &self.role).finish()
    }
}

/// The consumer side: the answers to the gateway's own requests (application status pushes to the portal).
#[derive(Debug, Clone, Deserialize, PartialEq, Eq, Default)]
#[serde(deny_unknown_fields, default)]
pub struct ConsumerConfig {
    /// Whose signature over a response's data is trusted. Required; under the development profile it defaults to
    /// the dev portal's certificate.
    pub sender_trust: SenderTrustConfig,
}

/// The operators' API (`/ops/api/`) and dashboard.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq, Default)]
#[serde(deny_unknown_fields, default)]
pub struct OpsConfig {
    /// The tokens that may call the API; with none, every call is refused.
    pub tokens: Vec<OpsToken>,
}

/// The shortest token accepted.
pub const MIN_TOKEN_LEN: usize = 16;

/// The whole configuration.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq, Default)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Which defaults apply to unset keys, certificates and trust anchors (production: none).
    pub profile: Profile,
    /// SMEV.
    pub smev: SmevConfig,
    /// Who the gateway is.
    pub identity: IdentityConfig,
    /// State directory.
    pub store: StoreConfig,
    /// Retries.
    pub retry: RetryConfig,
    /// Provider side.
    pub provider: ProviderConfig,
    /// Consumer side.
    pub consumer: ConsumerConfig,
    /// HTTP endpoint.
    pub http: HttpConfig,
    /// The school system.
    pub school: SchoolConfig,
    /// The operators' API.
    pub ops: OpsConfig,
    /// The async runtime.
    pub runtime: RuntimeConfig,
}

/// Why a configuration was refused.
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
    /// The file or an override is not valid TOML for the configuration (the message names the key).
    #[error("{origin}: {message}")]
    Parse {
        /// The file, or `environment`.
        origin: String,
        /// The parser's message.
        message: String,
    },
    /// A key, certificate or trust anchor is not configured, and no default applies outside the development
    /// profile.
    #[error("{key}: not configured (no key, certificate or trust anchor defaults to test material; set it, or choose profile = \"development\" for the public dev material in certs-dev/)")]
    Missing {
        /// The key, as `section.key`.
        key: String,
    },
    /// A value is not acceptable.
    #[error("{key}: {message}")]
    Invalid {
        /// The key, as `section.key`.
        key: String,
        /// Why.
        message: String,
    },
}

/// The prefix of override variables.
pub const ENV_PREFIX: &str = "EDUGATE__";

impl Config {
    /// Reads `path` (or only defaults when `None`), applies overrides from `vars`, and validates.
    pub fn load(path: Option<&Path>, vars: impl IntoIterator<Item = (String, String)>) -> Result<Config, ConfigError> {
        let (origin, text) = match path {
            Some(p) => {
                let text = std::fs::read_to_string(p).map_err(|source| ConfigError::Read { path: p.into(), source })?;
                (p.display().to_string(), text)
            }
            None => ("defaults".to_string(), String::new()),
        };
        let mut value: toml::Table =
            toml::from_str(&text).map_err(|e| ConfigError::Parse { origin: origin.clone(), message: e.to_string() })?;
        apply_overrides(&mut value, vars)?;
        let mut config: Config = toml::Value::Table(value)
            .try_into()
            .map_err(|e: toml::de::Error| ConfigError::Parse { origin, message: e.to_string() })?;
        config.apply_profile();
        config.validate()?;
        Ok(config)
    }

    /// Whether the development profile, and with it the public test material, is in use.
    pub fn is_development(&self) -> bool {
        self.profile == Profile::Development
    }

    /// Under the development profile, fills every unset key, certificate and trust anchor with the public test
    /// material in `certs-dev/`; under any other profile, changes nothing.
    pub fn apply_profile(&mut self) {
        if !self.is_development() {
            return;
        }
        let dev = certs_dev();
        if self.identity.key.is_empty() {
            self.identity.key = dev.join("gateway.key").display().to_string();
        }
        if self.identity.cert.as_os_str().is_empty() {
            self.identity.cert = dev.join("gateway.crt");
        }
        if self.smev.smev_cert.is_none() {
            self.smev.smev_cert = Some(dev.join("mock-smev.crt"));
        }
        let trusts = self.provider.kinds.iter_mut().map(|k| &mut k.sender_trust);
        for trust in trusts.chain([&mut self.consumer.sender_trust]) {
            if trust.is_empty() {
                trust.certs = vec![dev.join("portal.crt")];
            }
        }
    }

    /// Refuses a configuration in which a key, certificate or trust anchor is unset: nothing defaults to test
    /// material outside the development profile, and a gateway without them must not start.
    pub fn require_material(&self) -> Result<(), ConfigError> {
        let missing = |key: &str| Err(ConfigError::Missing { key: key.to_string() });
        if self.identity.key.is_empty() {
            return missing("identity.key");
        }
        if self.identity.cert.as_os_str().is_empty() {
            return missing("identity.cert");
        }
        if self.smev.smev_cert.is_none() {
            return missing("smev.smev_cert");
        }
        for (i, kind) in self.provider.kinds.iter().enumerate() {
            if kind.sender_trust.is_empty() {
                return missing(&format!("provider.kinds[{i}].sender_trust"));
            }
        }
        if self.consumer.sender_trust.is_empty() {
            return missing("consumer.sender_trust");
        }
        Ok(())
    }

    /// Reads the configuration with the process's environment.
    pub fn from_env(path: Option<&Path>) -> Result<Config, ConfigError> {
        Config::load(path, std::env::vars())
    }

    /// The SMEV schema version.
    pub fn smev_version(&self) -> crate::smev::Version {
        if self.smev.version == "1.2" {
            crate::smev::Version::V1_2
        } else {
            crate::smev::Version::V1_3
        }
    }

    /// Checks values and files, and that no key, certificate or trust anchor is left unset.
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.require_material()?;
        let invalid = |key: &str, message: String| Err(ConfigError::Invalid { key: key.to_string(), message });
        let url_ok = self.smev.endpoint.starts_with("http://") || self.smev.endpoint.starts_with("https://");
        if !url_ok {
            return invalid("smev.endpoint", format!("'{}' is not an http(s) URL", self.smev.endpoint));
        }
        if !matches!(self.smev.version.as_str(), "1.2" | "1.3") {
            return invalid("smev.version", format!("'{}' is not 1.2 or 1.3", self.smev.version));
        }
        if self.smev.read_timeout_ms == 0 || self.smev.connect_timeout_ms == 0 {
            return invalid("smev.read_timeout_ms", "timeouts must be positive".into());
        }
        let files = [
            ("smev.ca_cert", self.smev.ca_cert.as_ref()),
            ("smev.client_cert", self.smev.client_cert.as_ref()),
            ("smev.client_key", self.smev.client_key.as_ref()),
            ("smev.smev_cert", self.smev.smev_cert.as_ref()),
            ("identity.cert", Some(&self.identity.cert)),
        ];
        for (key, path) in files {
            if let Some(path) = path {
                if !path.is_file() {
                    return invalid(key, format!("{} is not a file", path.display()));
                }
            }
        }
        if !self.identity.key.starts_with("engine:") && !Path::new(&self.identity.key).is_file() {
            return invalid("identity.key", format!("{} is not a file (or engine:KEY_ID)", self.identity.key));
        }
        if self.identity.mnemonic.is_empty() {
            return invalid("identity.mnemonic", "must not be empty".into());
        }
        if self.provider.concurrency == 0 {
            return invalid("provider.concurrency", "must be at least 1".into());
        }
        if !(1..=1024).contains(&self.provider.verify_concurrency) {
            return invalid("provider.verify_concurrency", "must be between 1 and 1024".into());
        }
        if !(1..=64).contains(&self.provider.max_signatures) {
            return invalid("provider.max_signatures", "must be between 1 and 64".into());
        }
        if !(1..=64).contains(&self.provider.max_references) {
            return invalid("provider.max_references", "must be between 1 and 64".into());
        }
        if self.provider.pollers == 0 || self.provider.pollers > self.provider.concurrency {
            return invalid("provider.pollers", "must be between 1 and provider.concurrency".into());
        }
        if let Err(e) = self.provider.registry() {
            let (index, what) = match &e {
                RegistryError::UnknownService { index, .. } => (*index, "service"),
                RegistryError::Duplicate { index, .. } => (*index, "root"),
                RegistryError::Schema { index, .. } => (*index, "xsd"),
            };
            return invalid(&format!("provider.kinds[{index}].{what}"), e.to_string());
        }
        for (i, k) in self.provider.kinds.iter().enumerate() {
            k.sender_trust.validate(&format!("provider.kinds[{i}].sender_trust"))?;
        }
        self.consumer.sender_trust.validate("consumer.sender_trust")?;
        if self.retry.max_attempts == 0 || self.retry.base_ms == 0 || self.retry.cap_ms < self.retry.base_ms {
            return invalid("retry", "max_attempts >= 1 and 0 < base_ms <= cap_ms".into());
        }
        if self.retry.lease_secs == 0 {
            return invalid("retry.lease_secs", "must be at least 1".into());
        }
        match self.school.kind.as_str() {
            "embedded" if !self.school.data.is_file() => {
                return invalid("school.data", format!("{} is not a file", self.school.data.display()))
            }
            "embedded" => {}
            "http" if !(self.school.url.starts_with("http://") || self.school.url.starts_with("https://")) => {
                return invalid("school.url", format!("'{}' is not an http(s) URL", self.school.url))
            }
            "http" if self.school.token.is_empty() => return invalid("school.token", "must not be empty".into()),
            "http" => {}
            other => return invalid("school.kind", format!("'{other}' is not embedded or http")),
        }
        for (i, token) in self.ops.tokens.iter().enumerate() {
            if token.name.trim().is_empty() {
                return invalid(&format!("ops.tokens[{i}].name"), "must not be empty".into());
            }
            if token.token.chars().count() < MIN_TOKEN_LEN {
                return invalid(
                    &format!("ops.tokens[{i}].token"),
                    format!("must be at least {MIN_TOKEN_LEN} characters"),
                );
            }
            let earlier = &self.ops.tokens[..i];
            if earlier.iter().any(|other| other.name == token.name) {
                return invalid(&format!("ops.tokens[{i}].name"), format!("'{}' is given twice", token.name));
            }
            if earlier.iter().any(|other| other.token == token.token) {
                return invalid(&format!("ops.tokens[{i}].token"), "the same token is given twice".into());
            }
        }
        if self.runtime.worker_threads > RuntimeConfig::MAX_WORKER_THREADS {
            let most = RuntimeConfig::MAX_WORKER_THREADS;
            return invalid("runtime.worker_threads", format!("must be at most {most} (0: one per core)"));
        }
        self.http.validate()
    }

    /// Connect timeout.
    pub fn connect_timeout(&self) -> Duration {
        Duration::from_millis(self.smev.connect_timeout_ms)
    }
}

impl SenderTrustConfig {
    /// Checks that every configured file exists; `key` names this table in errors.
    fn validate(&self, key: &str) -> Result<(), ConfigError> {
        let not_file = |sub: String, path: &Path| ConfigError::Invalid {
            key: format!("{key}.{sub}"),
            message: format!("{} is not a file", path.display()),
        };
        if let Some(ca) = &self.ca {
            if !ca.is_file() {
                return Err(not_file("ca".into(), ca));
            }
        }
        for (j, cert) in self.certs.iter().enumerate() {
            if !cert.is_file() {
                return Err(not_file(format!("certs[{j}]"), cert));
            }
        }
        Ok(())
    }
}

/// Applies `EDUGATE__SECTION__KEY=value` overrides to a parsed table.
fn apply_overrides(
    table: &mut toml::Table,
    vars: impl IntoIterator<Item = (String, String)>,
) -> Result<(), ConfigError> {
    for (name, raw) in vars {
        let Some(path) = name.strip_prefix(ENV_PREFIX) else { continue };
        let keys: Vec<String> = path.split("__").map(|k| k.to_ascii_lowercase()).collect();
        if keys.iter().any(|k| k.is_empty()) {
            return Err(ConfigError::Parse { origin: "environment".into(), message: format!("{name}: empty key") });
        }
        let value = parse_override(&raw);
        let mut current = &mut *table;
        for key in &keys[..keys.len() - 1] {
            let entry = current.entry(key.clone()).or_insert_with(|| toml::Value::Table(toml::Table::new()));
            current = match entry {
                toml::Value::Table(t) => t,
                _ => {
                    return Err(ConfigError::Parse {
                        origin: "environment".into(),
                        message: format!("{name}: '{key}' is not a section"),
                    })
                }
            };
        }
        current.insert(keys[keys.len() - 1].clone(), value);
    }
    Ok(())
}

/// An override value: a TOML value when it parses as one, else a string.
fn parse_override(raw: &str) -> toml::Value {
    let doc = format!("v = {raw}");
    match toml::from_str::<toml::Table>(&doc) {
        Ok(mut t) => t.remove("v").unwrap_or_else(|| toml::Value::String(raw.to_string())),
        Err(_) => toml::Value::String(raw.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Loads `text` under the development profile.
    fn load(text: &str, vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        load_as(&format!("profile = \"development\"\n{text}"), vars)
    }

    /// Loads `text` as it is, without choosing a profile.
    fn load_as(text: &str, vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("edugate.toml");
        std::fs::write(&path, text).unwrap();
        Config::load(Some(&path), vars.iter().map(|(k, v)| (k.to_string(), v.to_string())))
    }

    #[test]
    fn runtime_worker_threads_default_to_tokio_and_refuse_a_thread_storm() {
        assert_eq!(load("", &[]).unwrap().runtime.worker_threads, 0, "0: tokio's default");
        let two = load("", &[("EDUGATE__RUNTIME__WORKER_THREADS", "2")]).unwrap();
        assert_eq!(two.runtime.worker_threads, 2);
        let storm = load("[runtime]\nworker_threads = 1000000\n", &[]).unwrap_err().to_string();
        assert!(storm.contains("runtime.worker_threads") && storm.contains("at most 1024"), "{storm}");
        assert!(load("[runtime]\nworker_threads = -1\n", &[]).is_err(), "a negative count is refused");
    }

    #[test]
    fn development_defaults_are_valid() {
        let c = Config::load(None, [("EDUGATE__PROFILE".to_string(), "development".to_string())]).unwrap();
        assert!(c.is_development());
        assert!(c.identity.cert.starts_with(certs_dev()));
        assert!(c.provider.kinds.iter().all(|k| k.sender_trust.certs == vec![certs_dev().join("portal.crt")]));
    }

    /// Regression: the gateway's key, its certificate, SMEV's certificate and the senders' trust all defaulted to
    /// the public keys of certs-dev/, so a gateway configured by omission trusted test material.
    #[test]
    fn dev_material_is_refused_without_the_development_profile() {
        match Config::load(None, Vec::new()) {
            Err(ConfigError::Missing { key }) => assert_eq!(key, "identity.key"),
            other => panic!("{other:?}"),
        }
        let dev = certs_dev();
        let key = format!("identity.key = {:?}\n", dev.join("gateway.key").display().to_string());
        let cert = format!("cert = {:?}\n", dev.join("gateway.crt").display().to_string());
        let smev = format!("[smev]\nsmev_cert = {:?}\n", dev.join("mock-smev.crt").display().to_string());
        let steps = [
            (String::new(), "identity.key"),
            (format!("[identity]\nkey = {:?}\n", dev.join("gateway.key").display().to_string()), "identity.cert"),
            (format!("[identity]\n{}{cert}", key.trim_start_matches("identity.")), "smev.smev_cert"),
            (
                format!("[identity]\n{}{cert}{smev}", key.trim_start_matches("identity.")),
                "provider.kinds[0].sender_trust",
            ),
        ];
        for (text, expected) in steps {
            match load_as(&text, &[]) {
                Err(e @ ConfigError::Missing { .. }) => {
                    assert!(matches!(&e, ConfigError::Missing { key } if key == expected), "{text}: {e}");
                    assert!(e.to_string().starts_with(expected), "{e}");
                }
                other => panic!("{text}: {other:?}"),
            }
        }
        // An explicit production profile is the same as none.
        match load_as("profile = \"production\"", &[]) {
            Err(ConfigError::Missing { key }) => assert_eq!(key, "identity.key"),
            other => panic!("{other:?}"),
        }
        match load_as("profile = \"dev\"", &[]) {
            Err(e @ ConfigError::Parse { .. }) => {
                assert!(e.to_string().contains("profile") || e.to_string().contains("dev"), "{e}")
            }
            other => panic!("{other:?}"),
        }
    }

    /// Everything configured explicitly: valid without a profile, and nothing taken from certs-dev/ by default.
    #[test]
    fn a_complete_production_configuration_loads() {
        let dev = certs_dev();
        let path = |name: &str| format!("{:?}", dev.join(name).display().to_string());
        let text = format!(
            "[identity]\nkey = {}\ncert = {}\n[smev]\nsmev_cert = {}\n\
             [[provider.kinds]]\nnamespace = \"urn:x\"\nroot = \"X\"\nhandler = \"echo\"\n\
             [provider.kinds.sender_trust]\nca = {}\n[consumer.sender_trust]\ncerts = [{}]\n",
            path("gateway.key"),
            path("gateway.crt"),
            path("mock-smev.crt"),
            path("ca.crt"),
            path("portal.crt"),
        );
        let c = load_as(&text, &[]).unwrap();
        assert!(!c.is_development());
        assert_eq!(c.provider.kinds[0].sender_trust.ca, Some(dev.join("ca.crt")));
        assert!(c.provider.kinds[0].sender_trust.certs.is_empty());
    }

    #[test]
    fn environment_overrides_file() {
        let c = load(
            "[smev]\nread_timeout_ms = 1000\n",
            &[("EDUGATE__SMEV__READ_TIMEOUT_MS", "2500"), ("EDUGATE__IDENTITY__MNEMONIC", "SCHOOL42"), ("OTHER", "x")],
        )
        .unwrap();
        assert_eq!(c.smev.read_timeout_ms, 2500);
        assert_eq!(c.identity.mnemonic, "SCHOOL42");
    }

    /// Each bad value is refused with the key named.
    #[test]
    fn errors_name_the_key() {
        // (file text, environment overrides, key the error must name)
        type Case<'a> = (&'a str, &'a [(&'a str, &'a str)], &'a str);
        let cases: &[Case<'_>] = &[
            ("[smev]\nendpoint = \"ftp://x\"", &[], "smev.endpoint"),
            ("[smev]\nversion = \"2.0\"", &[], "smev.version"),
            ("[identity]\ncert = \"/nonexistent\"", &[], "identity.cert"),
            ("", &[("EDUGATE__PROVIDER__CONCURRENCY", "0")], "provider.concurrency"),
            ("", &[("EDUGATE__PROVIDER__MAX_SIGNATURES", "0")], "provider.max_signatures"),
            ("", &[("EDUGATE__PROVIDER__VERIFY_CONCURRENCY", "100000")], "provider.verify_concurrency"),
            ("", &[("EDUGATE__PROVIDER__MAX_REFERENCES", "1000")], "provider.max_references"),
            (
                "[[provider.kinds]]\nnamespace = \"urn:x\"\nroot = \"X\"\nhandler = \"nope\"",
                &[],
                "provider.kinds[0].service",
            ),
            (
                "[[provider.kinds]]\nnamespace = \"urn:x\"\nroot = \"X\"\nservice = \"echo\"\n\
                 [[provider.kinds]]\nnamespace = \"urn:x\"\nroot = \"X\"\nservice = \"progress\"",
                &[],
                "provider.kinds[1].root",
            ),
            (
                "[[provider.kinds]]\nnamespace = \"urn:x\"\nroot = \"X\"\nservice = \"echo\"\n\
                 [[provider.kinds]]\nnamespace = \"urn:y\"\nroot = \"Y\"\nservice = \"echo\"\n\
                 [[provider.kinds]]\nnamespace = \"urn:z\"\nroot = \"Z\"\nservice = \"echo\"\nxsd = \"/nonexistent.xsd\"",
                &[],
                "provider.kinds[2].xsd",
            ),
            ("[http]\nlisten = \"everywhere\"", &[], "http.listen"),
            ("[[ops.tokens]]\nname = \"duty\"\ntoken = \"short\"\nrole = \"viewer\"", &[], "ops.tokens[0].token"),
            (
                "[[provider.kinds]]\nnamespace = \"urn:x\"\nroot = \"X\"\nhandler = \"echo\"\n\
                 [provider.kinds.sender_trust]\ncerts = [\"/nonexistent.crt\"]",
                &[],
                "provider.kinds[0].sender_trust.certs[0]",
            ),
        ];
        for (text, vars, key) in cases {
            match load(text, vars) {
                Err(ConfigError::Invalid { key: k, .. }) => assert_eq!(&k, key, "{text}"),
                other => panic!("{text}: {other:?}"),
            }
        }
        for (text, vars, needle) in [
            ("[smev]\ncolour = 1", &[][..], "colour"),
            ("[smev]\nread_timeout_ms = \"soon\"", &[][..], "read_timeout_ms"),
            ("", &[("EDUGATE__SMEV__POLL_INTERVAL_MS", "often")][..], "poll_interval_ms"),
        ] {
            match load(text, vars) {
                Err(e @ ConfigError::Parse { .. }) => assert!(e.to_string().contains(needle), "{e}"),
                other => panic!("{text}: {other:?}"),
            }
        }
    }

    /// The HTTP server's limits: zero, or more connections than descriptors can be had for, is refused by name.
    #[test]
    fn http_limits_name_their_key() {
        for key in ["header_read_timeout_ms", "idle_timeout_ms", "max_connections", "max_body_bytes"] {
            match load(&format!("[http]\n{key} = 0"), &[]) {
                Err(ConfigError::Invalid { key: k, .. }) => assert_eq!(k, format!("http.{key}")),
                other => panic!("{key}: {other:?}"),
            }
        }
        match load("", &[("EDUGATE__HTTP__MAX_CONNECTIONS", "1000000")]) {
            Err(ConfigError::Invalid { key, .. }) => assert_eq!(key, "http.max_connections"),
            other => panic!("{other:?}"),
        }
        let c = load("[http]\nmax_connections = 16\nidle_timeout_ms = 250", &[]).unwrap();
        assert_eq!((c.http.max_connections, c.http.idle_timeout_ms), (16, 250));
    }
}
