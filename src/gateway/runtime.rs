//! The gateway's runtime: opens everything from a validated configuration, then runs the provider loops, the
//! outbox workers, retention and the HTTP endpoint until shutdown, with a bounded grace period.
#![forbid(unsafe_code)]

use super::breaker::{BreakerPolicy, Breakers};
use super::jobs;
use super::provider::{poll_kind, KindActivity, PollerRole, ProvidedKind};
use super::worker::{drain, SMEV_DESTINATION};
use crate::config::Config;
use crate::crypto::{self, Certificate, EngineConfig, KeySource, PrivateKey};
use crate::dsig::Signer;
use crate::inbox::{Inbox, SledInbox};
use crate::outbox::{BackoffPolicy, Clock, Outbox, OutboxConfig, SledOutbox, StateDb, SystemClock};
use crate::school::{EmbeddedSchool, HttpSchool, SchoolError, SchoolSystem};
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
    /// Where delivered messages are verified: off the async threads, `provider.verify_concurrency` at once.
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
        let smev_cert = match &config.smev.smev_cert {
            Some(path) => Some(Certificate::load(path).map_err(crypto_err("smev.smev_cert"))?),
            None => None,
        };
        let state = StateDb::open(&config.store.path)?;
        let outbox: Arc<dyn Outbox> = Arc::new(SledOutbox::open(&state, outbox_config(&config))?);
        let inbox: Arc<dyn Inbox> = Arc::new(SledInbox::open(&state)?);
        let client = SmevClient::new(client_config(&config), signer)?;
        let (school, embedded) = open_school(&config)?;
        let mut gateway = Gateway::with_parts(config, client, outbox, inbox, Arc::new(SystemClock), smev_cert, school);
        gateway.embedded = embedded;
        Ok(gateway)
    }

    /// Assembles a gateway from parts (tests use in-memory stores).
    pub fn with_parts(
        config: Config,
        client: SmevClient,
        outbox: Arc<dyn Outbox>,
        inbox: Arc<dyn Inbox>,
        clock: Arc<dyn Clock>,
        smev_cert: Option<Certificate>,
        school: Arc<dyn SchoolSystem>,
    ) -> Gateway {
        let instance = format!("{}-{}", config.identity.mnemonic, std::process::id());
        let breakers = Breakers::new(BreakerPolicy::default());
        let metrics = crate::metrics::Metrics::new();
        // Every call to the school system is timed, whoever makes it (handlers, workers, status pushes), and so is
        // every signature the SMEV client makes.
        let school = metrics.instrument_school(school);
        let observed = metrics.clone();
        let client = client.with_sign_observer(Arc::new(move |_ok, took| observed.signed(took)));
        let paused = crate::ops::PauseSet::new();
        let audit = crate::ops::AuditLog::in_store(&config.store.path);
        let verify_pool = super::verify::VerifyPool::new(config.provider.verify_concurrency);
        let shared = Shared {
            config,
            client,
            outbox,
            inbox,
            clock,
            smev_cert,
            verify_pool,
            breakers,
            school,
            instance,
            metrics,
            paused,
            audit,
            work_ready: tokio::sync::Notify::new(),
        };
        Gateway { shared: Arc::new(shared), embedded: None }
    }

    /// The shared state, for the operators' API and tests.
    pub fn shared(&self) -> Arc<Shared> {
        self.shared.clone()
    }

    /// Runs until `shutdown` completes, then stops polling, lets work in flight finish within the configured grace
    /// period, and gives back what is left.
    pub async fn run(
        self,
        listener: TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let shared = self.shared;
        let (stop_tx, stop_rx) = watch::channel(false);
        let mut tasks = tokio::task::JoinSet::new();
        let permits = Arc::new(Semaphore::new(shared.config.provider.concurrency));
        for k in &shared.config.provider.kinds {
            let provided = ProvidedKind { kind: KindOfData::new(&k.namespace, &k.root), handler: k.handler.clone() };
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
        let app = super::http::router(shared.clone());
        let mut http_stop = stop_rx.clone();
        tasks.spawn(async move {
            let serve = axum::serve(listener, app).with_graceful_shutdown(async move {
                let _ = http_stop.changed().await;
            });
            if let Err(e) = serve.await {
                tracing::error!(error = %e, "HTTP endpoint failed");
            }
        });
        tracing::info!(instance = %shared.instance, kinds = shared.config.provider.kinds.len(), "gateway running");
        shutdown.await;
        tracing::info!("shutting down");
        let _ = stop_tx.send(true);
        let grace = Duration::from_secs(shared.config.http.shutdown_grace_secs) + Duration::from_secs(2);
        if tokio::time::timeout(grace, async { while tasks.join_next().await.is_some() {} }).await.is_err() {
            tracing::warn!("tasks did not stop within the grace period; abandoning them");
            tasks.abort_all();
        }
        tracing::info!(breaker = ?shared.breakers.state(SMEV_DESTINATION), "stopped");
        Ok(())
    }
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
