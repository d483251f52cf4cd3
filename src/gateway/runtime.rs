//! The gateway's runtime: opens everything from a validated configuration, then runs the intake of each kind of
//! data, the outbox's workers, the status pushes, the responses loop, retention and the HTTP endpoint until
//! shutdown, with a bounded grace period. Each task is handed its own context ([`Intake`], [`Workers`],
//! [`StatusPush`], [`Responses`]) holding what it uses and nothing else.
#![forbid(unsafe_code)]

use super::breaker::{BreakerPolicy, Breakers};
use super::handles::Handles;
use super::intake::{Arrivals, Intake, PollPacing, PollerRole};
use super::jobs;
use super::pause::PauseSet;
use super::reply::Replies;
use super::responses::Responses;
use super::shutdown::{self, Shutdown};
use super::status_push::{adopt_legacy_cursor, status_cursor, StatusPush};
use super::workers::{Workers, SMEV_DESTINATION};
use crate::config::{Config, SenderTrustConfig};
use crate::cpu::CpuPool;
use crate::crypto::{self, Certificate, EngineConfig, KeySource, PrivateKey};
use crate::dsig::Signer;
use crate::metrics::Metrics;
use crate::outbox::{BackoffPolicy, Clock, OutboxConfig, StateDb, SystemClock};
use crate::school::{EmbeddedSchool, HttpSchool, SchoolError, SchoolSystem};
use crate::serve::{serve, ServeLimits, ServeStats};
use crate::smev::client::{ClientConfig, SmevClient, TlsConfig};
use crate::smev::delivered::{DeliveryCheck, SenderTrust};
use crate::store::MessageStore;
use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::{Notify, Semaphore};

/// Why a running gateway stopped by itself.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The state directory failed to make a write durable; nothing later could be kept, so the gateway stopped
    /// taking work. Its supervisor should restart it: the restart recovers the last durable state.
    #[error("store.path: the state directory cannot keep work any more: {0}")]
    StoreFailed(String),
}

/// What the gateway trusts: SMEV's certificate for `SMEVSignature`, and per kind of data the senders whose
/// signature over the data is accepted. Loaded from the configuration before anything else is opened.
pub struct Trust {
    /// SMEV's signing certificate.
    pub smev_cert: Option<Certificate>,
    /// Per provided kind, in the order of `provider.kinds`.
    pub kinds: Vec<Arc<SenderTrust>>,
    /// For responses to the gateway's requests (`consumer.sender_trust`, and SMEV itself).
    pub responses: Arc<SenderTrust>,
}

/// Loads a configured sender trust.
fn sender_trust(config: &SenderTrustConfig) -> Result<SenderTrust, crypto::CryptoError> {
    SenderTrust::load(config.ca.as_deref(), &config.certs)
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
            let trust = sender_trust(&kind.sender_trust).map_err(crypto_err("provider.kinds.sender_trust"))?;
            kinds.push(Arc::new(trust));
        }
        let mut responses = sender_trust(&config.consumer.sender_trust).map_err(crypto_err("consumer.sender_trust"))?;
        // SMEV itself sends the responses that report a request it refused after queueing (AsyncProcessingStatus).
        if let Some(smev) = &smev_cert {
            responses = responses.and_registered(smev.clone());
        }
        Ok(Trust { smev_cert, kinds, responses: Arc::new(responses) })
    }

    /// What a delivery is checked against, trusting `senders` for its data.
    fn check(&self, senders: Arc<SenderTrust>, config: &Config) -> Arc<DeliveryCheck> {
        let limits = config.provider.verify_limits();
        Arc::new(DeliveryCheck { smev_cert: self.smev_cert.clone(), senders, limits })
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
    /// The state directory's stores.
    #[error("store.path: {0}")]
    Stores(#[from] crate::store::StoreError),
    /// The school system.
    #[error("school: {0}")]
    School(SchoolError),
    /// The kinds of data cannot be registered.
    #[error("provider.kinds: {0}")]
    Registry(String),
}

type OpenedSchool = (Arc<dyn SchoolSystem>, Option<Arc<EmbeddedSchool>>);

/// Opens the configured school system.
fn open_school(config: &Config) -> Result<OpenedSchool, StartError> {
    let school = &config.school;
    if school.kind == "http" {
        let timeout = Duration::from_millis(school.timeout_ms);
        let http = HttpSchool::new(&school.url, &school.token, timeout).map_err(StartError::School)?;
        let http = if school.kindergartens { http } else { http.without_kindergartens() };
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

/// A gateway ready to run.
pub struct Gateway {
    /// The configuration in force (the runtime reads its sizes and intervals when it starts the tasks).
    config: Config,
    /// The SMEV client, signing as the gateway.
    client: SmevClient,
    /// The outbox and the inbox.
    store: Arc<dyn MessageStore>,
    /// What deliveries are checked against.
    trust: Trust,
    /// The school system.
    school: Arc<dyn SchoolSystem>,
    /// The embedded school system, when that is the one in use, for reloading its data file.
    embedded: Option<Arc<EmbeddedSchool>>,
    /// Where CPU work proportional to a message runs.
    cpu: CpuPool,
    /// Wakes the outbox's workers.
    work_ready: Arc<Notify>,
    /// What the layers above may hold.
    handles: Handles,
    /// Routes of the layers above, merged into the HTTP endpoint.
    routes: axum::Router,
    /// This process's name in lease owners.
    instance: String,
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
        let store: Arc<dyn MessageStore> = Arc::new(crate::store::SledStore::open(&state, outbox_config(&config))?);
        let client = SmevClient::new(client_config(&config), signer)?;
        let (school, embedded) = open_school(&config)?;
        let mut gateway = Gateway::with_parts(config, client, store, Arc::new(SystemClock), trust, school)?;
        gateway.embedded = embedded;
        gateway.handles.store_health.watch(state);
        Ok(gateway)
    }

    /// Assembles a gateway from parts (tests use in-memory stores).
    pub fn with_parts(
        config: Config,
        client: SmevClient,
        store: Arc<dyn MessageStore>,
        clock: Arc<dyn Clock>,
        trust: Trust,
        school: Arc<dyn SchoolSystem>,
    ) -> Result<Gateway, StartError> {
        let registry = config.provider.registry().map_err(|e| StartError::Registry(e.to_string()))?;
        let instance = format!("{}-{}", config.identity.mnemonic, std::process::id());
        let metrics = Metrics::new();
        metrics.set_development(config.is_development());
        // Every call to the school system is timed, whoever makes it (services, workers, status pushes), and so is
        // every signature the SMEV client makes.
        let school = metrics.instrument_school(school);
        let observed = metrics.clone();
        // One CPU pool for every heavy step of a message: the client signs envelopes, parses SMEV's answers and
        // checks deliveries in it, so together they never take more than the configured width.
        let cpu = CpuPool::new(config.provider.verify_concurrency);
        let client =
            client.with_sign_observer(Arc::new(move |_ok, took| observed.signed(took))).with_cpu_pool(cpu.clone());
        let handles = Handles {
            outbox: store.outbox().clone(),
            inbox: store.inbox().clone(),
            clock,
            paused: PauseSet::new(),
            metrics,
            breakers: Arc::new(Breakers::new(BreakerPolicy::default())),
            registry,
            school_name: school.name().to_owned(),
            store_health: Arc::default(),
            http_connections: Arc::new(ServeStats::default()),
        };
        Ok(Gateway {
            config,
            client,
            store,
            trust,
            school,
            embedded: None,
            cpu,
            work_ready: Arc::new(Notify::new()),
            handles,
            routes: axum::Router::new(),
            instance,
        })
    }

    /// What the layers above may hold of this gateway.
    pub fn handles(&self) -> Handles {
        self.handles.clone()
    }

    /// The configuration in force.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Merges the routes of a layer above (the operators' API) into the HTTP endpoint.
    pub fn with_routes(mut self, routes: axum::Router) -> Gateway {
        self.routes = self.routes.merge(routes);
        self
    }

    /// Where answers and acknowledgements go.
    fn replies(&self) -> Replies {
        Replies {
            store: self.store.clone(),
            clock: self.handles.clock.clone(),
            version: self.client.version(),
            work_ready: self.work_ready.clone(),
        }
    }

    fn pacing(&self) -> PollPacing {
        PollPacing { idle: Duration::from_millis(self.config.smev.poll_interval_ms) }
    }

    fn lease_for(&self) -> Duration {
        Duration::from_secs(self.config.retry.lease_secs)
    }

    /// The intake of each registered kind of data, sharing `permits`.
    fn intakes(&self, permits: &Arc<Semaphore>) -> Vec<Intake> {
        let registrations = self.handles.registry.entries().iter();
        registrations
            .enumerate()
            .map(|(i, registration)| Intake {
                client: self.client.clone(),
                registration: registration.clone(),
                check: self.trust.check(self.trust.kinds.get(i).cloned().unwrap_or_default(), &self.config),
                replies: self.replies(),
                school: self.school.clone(),
                metrics: self.handles.metrics.clone(),
                paused: self.handles.paused.clone(),
                permits: permits.clone(),
                pacing: self.pacing(),
                lease_for: self.lease_for(),
                instance: self.instance.clone(),
            })
            .collect()
    }

    fn workers(&self) -> Workers {
        let concurrency = self.config.provider.concurrency;
        Workers {
            client: self.client.clone(),
            store: self.store.clone(),
            replies: self.replies(),
            registry: self.handles.registry.clone(),
            school: self.school.clone(),
            breakers: self.handles.breakers.clone(),
            metrics: self.handles.metrics.clone(),
            cpu: self.cpu.clone(),
            smev_permits: Arc::new(Semaphore::new(concurrency)),
            school_permits: Arc::new(Semaphore::new(concurrency)),
            instance: self.instance.clone(),
            lease_for: self.lease_for(),
            grace: Duration::from_secs(self.config.http.shutdown_grace_secs),
        }
    }

    /// One status push per service that pushes, each with its own cursor.
    fn status_pushes(&self) -> Vec<StatusPush> {
        if self.config.school.status_poll_secs == 0 {
            return Vec::new();
        }
        let push = |service: Arc<dyn crate::services::KindService>| StatusPush {
            replies: self.replies(),
            school: self.school.clone(),
            cursor: status_cursor(&self.config.store.path, service.name()),
            service,
            every: Duration::from_secs(self.config.school.status_poll_secs.max(1)),
        };
        let pushers = self.handles.registry.pushers();
        if let Some(first) = pushers.first() {
            match adopt_legacy_cursor(&self.config.store.path, first.name()) {
                Ok(true) => tracing::info!(service = first.name(), "the status cursor of earlier versions taken over"),
                Ok(false) => {}
                Err(e) => tracing::warn!(error = %e, "the status cursor of earlier versions could not be taken over"),
            }
        }
        pushers.into_iter().map(push).collect()
    }

    fn responses(&self) -> Responses {
        Responses {
            client: self.client.clone(),
            check: self.trust.check(self.trust.responses.clone(), &self.config),
            replies: self.replies(),
            metrics: self.handles.metrics.clone(),
            pacing: self.pacing(),
            instance: self.instance.clone(),
            lease_for: self.lease_for(),
        }
    }

    /// Runs until `shutdown` completes or the state directory fails, then stops polling, lets work in flight (the
    /// requests being answered and the outbox's items) finish within the configured grace period, and gives back
    /// what is left. The HTTP endpoint stops last, so that probes see `/readyz` fail while the rest winds down;
    /// after a store failure it stays for the whole grace period, saying why, and `run` returns
    /// [`RunError::StoreFailed`] so that the process exits non-zero.
    pub async fn run(
        self,
        listener: TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), RunError> {
        let (trigger, stopping) = shutdown::channel();
        let mut tasks = tokio::task::JoinSet::new();
        if self.config.is_development() {
            tracing::warn!(
                "DEVELOPMENT PROFILE: unset keys, certificates and trust anchors are the public test material of \
                 certs-dev/, whose private keys anyone has; never run this configuration against a real SMEV"
            );
        }
        let concurrency = self.config.provider.concurrency;
        let permits = Arc::new(Semaphore::new(concurrency));
        for intake in self.intakes(&permits) {
            let arrivals = Arrivals::default();
            for n in 0..self.config.provider.pollers {
                let role = if n == 0 { PollerRole::Scout } else { PollerRole::Helper };
                tasks.spawn(intake.clone().poll(role, arrivals.clone(), stopping.clone()));
            }
        }
        let workers = self.workers();
        for queue in jobs::DRAINED {
            tasks.spawn(workers.clone().drain(queue, stopping.clone()));
        }
        tasks.spawn(retention(self.handles.clone(), self.config.store.retention_days, stopping.clone()));
        for push in self.status_pushes() {
            tasks.spawn(push.run(stopping.clone()));
        }
        tasks.spawn(self.responses().run(stopping.clone()));
        if let Some(embedded) = self.embedded.clone() {
            tasks.spawn(reload_school(embedded, self.config.school.reload_secs, stopping.clone()));
        }
        let limits = serve_limits(&self.config.http);
        let app = super::http::router(self.handles.clone(), self.routes.clone(), self.config.http.max_body_bytes);
        let (http_stop, http) = serve_http(app, limits, self.handles.http_connections.clone(), listener);
        let kinds = self.handles.registry.entries().len();
        tracing::info!(instance = %self.instance, kinds, "gateway running");
        let failure = tokio::select! {
            () = shutdown => None,
            reason = self.handles.store_health.failed() => Some(reason),
        };
        match &failure {
            None => tracing::info!("shutting down"),
            Some(reason) => tracing::error!(%reason, "the state directory cannot keep work any more: stopping"),
        }
        trigger.fire();
        let grace = Duration::from_secs(self.config.http.shutdown_grace_secs);
        let began = tokio::time::Instant::now();
        let bound = grace + Duration::from_secs(2);
        // Every request being answered holds a permit: taking them all back waits for those requests.
        let requests = permits.acquire_many(concurrency as u32);
        let drained = async {
            while tasks.join_next().await.is_some() {}
            drop(requests.await);
        };
        if tokio::time::timeout(bound, drained).await.is_err() {
            tracing::warn!("work in flight did not finish within the grace period; abandoning it");
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
        tracing::info!(breaker = ?self.handles.breakers.state(SMEV_DESTINATION), "stopped");
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
    app: axum::Router,
    limits: ServeLimits,
    stats: Arc<ServeStats>,
    listener: TcpListener,
) -> (tokio::sync::oneshot::Sender<()>, tokio::task::JoinHandle<std::io::Result<()>>) {
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
async fn reload_school(school: Arc<EmbeddedSchool>, every_secs: u64, mut shutdown: Shutdown) {
    let every = Duration::from_secs(every_secs.max(1));
    loop {
        if shutdown.sleep(every).await {
            return;
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
async fn retention(handles: Handles, retention_days: u64, mut shutdown: Shutdown) {
    let keep = Duration::from_secs(retention_days * 24 * 3600);
    loop {
        let before = handles.clock.now() - keep;
        match handles.outbox.prune(before).await {
            Ok(n) if n > 0 => tracing::info!(pruned = n, "outbox retention"),
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "outbox retention failed"),
        }
        if let Err(e) = handles.inbox.prune(before).await {
            tracing::warn!(error = %e, "inbox retention failed");
        }
        if shutdown.sleep(Duration::from_secs(3600)).await {
            return;
        }
    }
}
