//! The gateway's runtime: opens everything from a validated configuration, then runs the provider loops, the
//! outbox workers, retention and the HTTP endpoint until shutdown, with a bounded grace period.
#![forbid(unsafe_code)]

use super::breaker::{BreakerPolicy, Breakers};
use super::jobs;
use super::provider::{poll_kind, KindActivity, PollerRole, ProvidedKind};
use super::verify::SenderTrust;
use super::worker::{drain, SMEV_DESTINATION};
use crate::config::Config;
use crate::crypto::{self, Certificate, EngineConfig, KeySource, PrivateKey};
use crate::dsig::Signer;
use crate::inbox::{Inbox, SledInbox};
use crate::outbox::{BackoffPolicy, Clock, Outbox, OutboxConfig, SledOutbox, StateDb, SystemClock};
use crate::school::{EmbeddedSchool, HttpSchool, SchoolError, SchoolSystem};
use crate::serve::{serve, ServeLimits, ServeStats};
use crate::smev::client::{ClientConfig, SmevClient, TlsConfig};
use crate::smev::KindOfData;
use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::{watch, Semaphore};

/// What every task of the gateway shares.
pub struct Shared {
    /// The configuration in force.
    pub config: Config,
    /// The SMEV client, signing as the gateway.
    pub client: SmevClient,
    /// Durable work.
    pub outbox: Arc<dyn Outbox>,
    /// Received requests.
    pub inbox: Arc<dyn Inbox>,
    /// Time, for the outbox and the inbox.
    pub clock: Arc<dyn Clock>,
    /// SMEV's certificate, which `SMEVSignature` must verify with.
    pub smev_cert: Option<Certificate>,
    /// Whose signatures over the data of each provided kind (in the order of `provider.kinds`) and of responses
    /// are trusted.
    pub senders: Senders,
    /// Where delivered messages are verified, and the client signs and parses: off the async threads,
    /// `provider.verify_concurrency` at once.
    pub verify_pool: super::verify::VerifyPool,
    /// Circuit breakers per destination.
    pub breakers: Breakers,
    /// The school system the services ask.
    pub school: Arc<dyn SchoolSystem>,
    /// This process's name in lease owners.
    pub instance: String,
    /// Wakes the outbox workers when work is enqueued.
    pub work_ready: tokio::sync::Notify,
    /// Counters and histograms for `/metrics` and the operators' summary.
    pub metrics: crate::metrics::Metrics,
    /// Kinds of data whose polling an operator paused.
    pub paused: crate::ops::PauseSet,
    /// Who did what through the operators' API.
    pub audit: crate::ops::AuditLog,
    /// Whether the state directory still keeps work: `/readyz` reports it, and the runtime stops when it fails.
    pub store: StoreHealth,
    /// What the HTTP port's accept loop has done: connections open, the most at once, closed as idle.
    pub http_connections: Arc<ServeStats>,
}

/// Whether the gateway's state directory still makes writes durable. A failed flush is sticky (see
/// [`crate::outbox`]): every later write of the outbox and the inbox fails, so a gateway that went on would take
/// requests from SMEV it can neither answer nor keep. Stores other than the state directory (the memory twins of
/// tests) never fail.
#[derive(Debug, Default)]
pub struct StoreHealth {
    /// The state directory watched, once set.
    state: std::sync::OnceLock<StateDb>,
}

impl StoreHealth {
    /// Watches `state` (the directory the outbox and the inbox write to); a second call is ignored.
    pub fn watch(&self, state: StateDb) {
        let _ = self.state.set(state);
    }

    /// The state directory watched, if any (tests inject a flush failure through it).
    pub fn state(&self) -> Option<&StateDb> {
        self.state.get()
    }

    /// Why the store can no longer keep work, once it cannot.
    pub fn failure(&self) -> Option<String> {
        self.state.get().and_then(StateDb::failure)
    }

    /// Completes when the store fails, with the reason; never, for a store that cannot fail.
    async fn failed(&self) -> String {
        match self.state.get() {
            Some(state) => state.failed().await,
            None => std::future::pending().await,
        }
    }
}

/// Why a running gateway stopped by itself.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The state directory failed to make a write durable; nothing later could be kept, so the gateway stopped
    /// taking work. Its supervisor should restart it: the restart recovers the last durable state.
    #[error("store.path: the state directory cannot keep work any more: {0}")]
    StoreFailed(String),
}

impl Shared {
    /// The current time.
    pub fn clock_now(&self) -> std::time::SystemTime {
        self.clock.now()
    }

    /// Enqueues work and wakes the workers, which would otherwise notice it only at their next idle poll.
    pub async fn enqueue(
        &self,
        queue: &str,
        key: &str,
        payload: &[u8],
        now: std::time::SystemTime,
    ) -> Result<crate::outbox::ItemId, crate::outbox::OutboxError> {
        let id = self.outbox.enqueue(queue, key, payload, now).await?;
        self.work_ready.notify_waiters();
        Ok(id)
    }
}

/// What the gateway trusts: SMEV's certificate for `SMEVSignature`, and per kind of data the senders whose
/// signature over the data is accepted. Loaded from the configuration before anything else is opened.
pub struct Trust {
    /// SMEV's signing certificate.
    pub smev_cert: Option<Certificate>,
    /// The senders trusted per kind and for responses.
    pub senders: Senders,
}

/// The trusted senders, per provided kind and for responses to the gateway's own requests.
#[derive(Debug, Default)]
pub struct Senders {
    /// Per provided kind, in the order of `provider.kinds`.
    pub kinds: Vec<Arc<SenderTrust>>,
    /// For responses to the gateway's requests (`consumer.sender_trust`).
    pub responses: Arc<SenderTrust>,
}

impl Trust {
    /// Loads SMEV's certificate and every sender trust the configuration names.
    pub fn load(config: &Config) -> Result<Trust, StartError> {
        let smev_cert = match &config.smev.smev_cert {
            Some(path) => Some(Certificate::load(path).map_err(crypto_err("smev.smev_cert"))?),
            None => None,
        };
        let mut kinds = Vec::with_capacity(config.provider.kinds.len());
        for kind in &config.provider.kinds {
            let trust = SenderTrust::load(&kind.sender_trust).map_err(crypto_err("provider.kinds.sender_trust"))?;
            kinds.push(Arc::new(trust));
        }
        let mut responses =
            SenderTrust::load(&config.consumer.sender_trust).map_err(crypto_err("consumer.sender_trust"))?;
        // SMEV itself sends the responses that report a request it refused after queueing (AsyncProcessingStatus).
        if let Some(smev) = &smev_cert {
            responses = responses.and_registered(smev.clone());
        }
        Ok(Trust { smev_cert, senders: Senders { kinds, responses: Arc::new(responses) } })
    }
}

/// Why the gateway could not start. Each names what was being opened.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The GOST engine, a key or a certificate.
    #[error("{what}: {source}")]
    Crypto {
        /// Which configuration key.
        what: &'static str,
        /// Why.
        source: crypto::CryptoError,
    },
    /// The key and certificate do not belong together.
    #[error("identity: {0}")]
    Identity(#[from] crate::dsig::DsigError),
    /// The SMEV client.
    #[error("smev: {0}")]
    Client(#[from] crate::smev::client::ClientError),
    /// The state directory (outbox and inbox).
    #[error("store.path: {0}")]
    Store(#[from] crate::outbox::OpenError),
    /// The school system.
    #[error("school: {0}")]
    School(SchoolError),
}

/// A gateway ready to run.
pub struct Gateway {
    shared: Arc<Shared>,
    /// The embedded school system, when that is the one in use, for reloading its data file.
    embedded: Option<Arc<EmbeddedSchool>>,
}

type OpenedSchool = (Arc<dyn SchoolSystem>, Option<Arc<EmbeddedSchool>>);

/// Opens the configured school system.
fn open_school(config: &Config) -> Result<OpenedSchool, StartError> {
    let school = &config.school;
    if school.kind == "http" {
        let timeout = Duration::from_millis(school.timeout_ms);
        let http = HttpSchool::new(&school.url, &school.token, timeout).map_err(StartError::School)?;
        return Ok((Arc::new(http), None));
    }
    let journal = school.journal.clone().unwrap_or_else(|| config.store.path.join("school-journal.jsonl"));
    if let Some(dir) = journal.parent() {
        std::fs::create_dir_all(dir)
            .map_err(|e| StartError::School(SchoolError::Data(format!("{}: {e}", dir.display()))))?;
    }
    let embedded = Arc::new(EmbeddedSchool::open(&school.data, &journal).map_err(StartError::School)?);
    Ok((embedded.clone(), Some(embedded)))
}

fn crypto_err(what: &'static str) -> impl FnOnce(crypto::CryptoError) -> StartError {
    move |source| StartError::Crypto { what, source }
}

/// The retry policy of the outbox from the configuration: SMEV sends retry for as long as `max_age` allows.
fn outbox_config(config: &Config) -> OutboxConfig {
    let policy = BackoffPolicy {
        base: Duration::from_millis(config.retry.base_ms),
        cap: Duration::from_millis(config.retry.cap_ms),
        max_attempts: Some(config.retry.max_attempts),
        max_age: Some(Duration::from_secs(config.retry.max_age_secs)),
    };
    OutboxConfig { default_policy: policy, queue_policies: Default::default(), jitter_seed: None }
}

impl Gateway {
    /// Opens the engine, the identity, the SMEV client and the state directory. Nothing listens yet.
    pub fn open(config: Config) -> Result<Gateway, StartError> {
        let engine = EngineConfig {
            engine_id: config.identity.engine.clone(),
            dynamic_path: config.identity.engine_path.clone(),
        };
        crypto::init_engine(&engine).map_err(crypto_err("identity.engine"))?;
        let source = match config.identity.key.strip_prefix("engine:") {
            Some(id) => KeySource::Engine { key_id: id.to_string() },
            None => KeySource::PemFile(PathBuf::from(&config.identity.key)),
        };
        let key = PrivateKey::load(&source).map_err(crypto_err("identity.key"))?;
        let cert = Certificate::load(&config.identity.cert).map_err(crypto_err("identity.cert"))?;
        let signer = Arc::new(Signer::new(key, cert)?);
        let trust = Trust::load(&config)?;
        let state = StateDb::open(&config.store.path)?;
        let outbox: Arc<dyn Outbox> = Arc::new(SledOutbox::open(&state, outbox_config(&config))?);
        let inbox: Arc<dyn Inbox> = Arc::new(SledInbox::open(&state)?);
        let client = SmevClient::new(client_config(&config), signer)?;
        let (school, embedded) = open_school(&config)?;
        let mut gateway = Gateway::with_parts(config, client, outbox, inbox, Arc::new(SystemClock), trust, school);
        gateway.embedded = embedded;
        gateway.shared.store.watch(state);
        Ok(gateway)
    }

    /// Assembles a gateway from parts (tests use in-memory stores).
    pub fn with_parts(
        config: Config,
        client: SmevClient,
        outbox: Arc<dyn Outbox>,
        inbox: Arc<dyn Inbox>,
        clock: Arc<dyn Clock>,
        trust: Trust,
        school: Arc<dyn SchoolSystem>,
    ) -> Gateway {
        let instance = format!("{}-{}", config.identity.mnemonic, std::process::id());
        let breakers = Breakers::new(BreakerPolicy::default());
        let metrics = crate::metrics::Metrics::new();
        metrics.set_development(config.is_development());
        // Every call to the school system is timed, whoever makes it (handlers, workers, status pushes), and so is
        // every signature the SMEV client makes.
        let school = metrics.instrument_school(school);
        let observed = metrics.clone();
        // One CPU pool for every heavy step of a message: the client signs envelopes and parses SMEV's answers in
        // the same pool that verifies deliveries, so together they never take more than the configured width.
        let verify_pool = super::verify::VerifyPool::new(config.provider.verify_concurrency);
        let client = client
            .with_sign_observer(Arc::new(move |_ok, took| observed.signed(took)))
            .with_cpu_pool(verify_pool.clone());
        let paused = crate::ops::PauseSet::new();
        let audit = crate::ops::AuditLog::in_store(&config.store.path);
        let shared = Shared {
            config,
            client,
            outbox,
            inbox,
            clock,
            smev_cert: trust.smev_cert,
            senders: trust.senders,
            verify_pool,
            breakers,
            school,
            instance,
            metrics,
            paused,
            audit,
            work_ready: tokio::sync::Notify::new(),
            store: StoreHealth::default(),
            http_connections: Arc::new(ServeStats::default()),
        };
        Gateway { shared: Arc::new(shared), embedded: None }
    }

    /// The shared state, for the operators' API and tests.
    pub fn shared(&self) -> Arc<Shared> {
        self.shared.clone()
    }

    /// Runs until `shutdown` completes or the state directory fails, then stops polling, lets work in flight finish
    /// within the configured grace period, and gives back what is left. The HTTP endpoint stops last, so that
    /// probes see `/readyz` fail while the rest winds down; after a store failure it stays for the whole grace
    /// period, saying why, and `run` returns [`RunError::StoreFailed`] so that the process exits non-zero.
    pub async fn run(
        self,
        listener: TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), RunError> {
        let shared = self.shared;
        let (stop_tx, stop_rx) = watch::channel(false);
        let mut tasks = tokio::task::JoinSet::new();
        if shared.config.is_development() {
            tracing::warn!(
                "DEVELOPMENT PROFILE: unset keys, certificates and trust anchors are the public test material of \
                 certs-dev/, whose private keys anyone has; never run this configuration against a real SMEV"
            );
        }
        let permits = Arc::new(Semaphore::new(shared.config.provider.concurrency));
        for (i, k) in shared.config.provider.kinds.iter().enumerate() {
            let senders = shared.senders.kinds.get(i).cloned().unwrap_or_default();
            let kind = KindOfData::new(&k.namespace, &k.root);
            let provided = ProvidedKind { kind, handler: k.handler.clone(), senders };
            let activity = KindActivity::new();
            for n in 0..shared.config.provider.pollers {
                let role = if n == 0 { PollerRole::Scout } else { PollerRole::Helper };
                let poller = (role, activity.clone());
                tasks.spawn(poll_kind(shared.clone(), provided.clone(), poller, permits.clone(), stop_rx.clone()));
            }
        }
        for queue in [jobs::SEND_QUEUE, jobs::ACK_QUEUE, jobs::SCHOOL_QUEUE] {
            tasks.spawn(drain(shared.clone(), queue, stop_rx.clone()));
        }
        tasks.spawn(retention(shared.clone(), stop_rx.clone()));
        if shared.config.school.status_poll_secs > 0 {
            tasks.spawn(super::consumer::push_statuses(shared.clone(), stop_rx.clone()));
        }
        tasks.spawn(super::consumer::take_responses(shared.clone(), stop_rx.clone()));
        if let Some(embedded) = self.embedded.clone() {
            tasks.spawn(reload_school(embedded, shared.config.school.reload_secs, stop_rx.clone()));
        }
        let (http_stop, http) = serve_http(shared.clone(), listener);
        tracing::info!(instance = %shared.instance, kinds = shared.config.provider.kinds.len(), "gateway running");
        let failure = tokio::select! {
            () = shutdown => None,
            reason = shared.store.failed() => Some(reason),
        };
        match &failure {
            None => tracing::info!("shutting down"),
            Some(reason) => tracing::error!(%reason, "the state directory cannot keep work any more: stopping"),
        }
        let _ = stop_tx.send(true);
        let grace = Duration::from_secs(shared.config.http.shutdown_grace_secs);
        let began = tokio::time::Instant::now();
        let bound = grace + Duration::from_secs(2);
        if tokio::time::timeout(bound, async { while tasks.join_next().await.is_some() {} }).await.is_err() {
            tracing::warn!("tasks did not stop within the grace period; abandoning them");
            tasks.abort_all();
        }
        if failure.is_some() {
            // Probes and operators read the reason on /readyz until the supervisor sees the process exit.
            tokio::time::sleep_until(began + grace).await;
        }
        let _ = http_stop.send(());
        match http.await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::error!(error = %e, "HTTP endpoint failed"),
            Err(e) => tracing::error!(error = %e, "HTTP endpoint failed"),
        }
        tracing::info!(breaker = ?shared.breakers.state(SMEV_DESTINATION), "stopped");
        match failure {
            None => Ok(()),
            Some(reason) => Err(RunError::StoreFailed(reason)),
        }
    }
}

/// The bounds of the gateway's HTTP port, from `[http]`.
fn serve_limits(http: &crate::config::HttpConfig) -> ServeLimits {
    ServeLimits {
        header_read_timeout: Duration::from_millis(http.header_read_timeout_ms),
        idle_timeout: Duration::from_millis(http.idle_timeout_ms),
        max_connections: http.max_connections,
        // Probes, scrapes and operators' calls are short; the grace for the gateway's own work is spent before.
        grace: HTTP_GRACE,
        half_close: false,
    }
}

/// How long the HTTP endpoint's own shutdown lets calls in progress finish.
const HTTP_GRACE: Duration = Duration::from_secs(1);

/// Starts the HTTP endpoint on `listener`; it serves until the returned sender fires (or is dropped).
fn serve_http(
    shared: Arc<Shared>,
    listener: TcpListener,
) -> (tokio::sync::oneshot::Sender<()>, tokio::task::JoinHandle<std::io::Result<()>>) {
    let limits = serve_limits(&shared.config.http);
    let stats = shared.http_connections.clone();
    let app = super::http::router(shared);
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let make_service = move || hyper_util::service::TowerToHyperService::new(app.clone());
    let handle = tokio::spawn(serve(listener, limits, stats, make_service, async move {
        let _ = stop_rx.await;
    }));
    (stop_tx, handle)
}

/// The SMEV client's settings from the configuration.
pub fn client_config(config: &Config) -> ClientConfig {
    ClientConfig {
        endpoint: config.smev.endpoint.clone(),
        version: config.smev_version(),
        connect_timeout: Duration::from_millis(config.smev.connect_timeout_ms),
        read_timeout: Duration::from_millis(config.smev.read_timeout_ms),
        max_response_bytes: config.smev.max_response_bytes,
        tls: TlsConfig {
            ca_cert: config.smev.ca_cert.clone(),
            client_cert: config.smev.client_cert.clone(),
            client_key: config.smev.client_key.clone(),
        },
    }
}

/// Re-reads the embedded school's data file when it changes; a bad file keeps the data in force.
async fn reload_school(school: Arc<EmbeddedSchool>, every_secs: u64, mut stop: watch::Receiver<bool>) {
    let every = Duration::from_secs(every_secs.max(1));
    loop {
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = stop.changed() => return,
        }
        let reloading = school.clone();
        let reloaded = tokio::task::spawn_blocking(move || reloading.reload_if_changed()).await;
        let Ok(reloaded) = reloaded else { continue };
        match reloaded {
            Ok(Some(summary)) => tracing::info!(?summary, "school data reloaded"),
            Ok(None) => {}
            Err(e) => tracing::warn!(error = %e, "school data not reloaded; the previous data stays in force"),
        }
    }
}

/// Prunes finished work and old inbox entries once an hour, so that the store's size stays bounded.
async fn retention(shared: Arc<Shared>, mut stop: watch::Receiver<bool>) {
    let keep = Duration::from_secs(shared.config.store.retention_days * 24 * 3600);
    loop {
        let before = shared.clock.now() - keep;
        match shared.outbox.prune(before).await {
            Ok(n) if n > 0 => tracing::info!(pruned = n, "outbox retention"),
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "outbox retention failed"),
        }
        if let Err(e) = shared.inbox.prune(before).await {
            tracing::warn!(error = %e, "inbox retention failed");
        }
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_secs(3600)) => {}
            _ = stop.changed() => return,
        }
    }
}
