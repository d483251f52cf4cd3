//! `mock-smev`: the SMEV 3 emulator as a program. It loads and checks the configuration before binding, prints
//! `mock-smev listening on http://ADDR` once it accepts connections (scripts wait for that line), and serves until
//! SIGINT or SIGTERM, then drains calls in progress.
#![forbid(unsafe_code)]

use anyhow::Context as _;
use clap::Parser;
use mock_smev::config::Config;
use mock_smev::server::{self, AppState, ServerOptions};
use mock_smev::soap::Emulator;
use std::io::Write as _;
use std::path::PathBuf;
use std::time::Duration;

/// The command line.
#[derive(Debug, Parser)]
#[command(
    name = "mock-smev",
    version,
    about = "An SMEV 3 emulator: SOAP endpoints, fault injection and a JSON control API"
)]
struct Args {
    /// The TOML configuration; every setting has a default that works with the repository's certs-dev/.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// The address to listen on, overriding the configuration's `listen` (port 0 picks a free port).
    #[arg(long, value_name = "ADDR")]
    listen: Option<String>,
    /// Keep messages in this sled directory, overriding `storage.sled_path`, so they survive a restart.
    #[arg(long, value_name = "DIR")]
    sled: Option<PathBuf>,
    /// Seconds a client may take to send a request's headers and then its body.
    #[arg(long, value_name = "SECS", default_value_t = 30)]
    read_timeout: u64,
    /// Seconds shutdown waits for calls in progress.
    #[arg(long, value_name = "SECS", default_value_t = 5)]
    grace: u64,
    /// Seed of the dice behind probability fault rules.
    #[arg(long, default_value_t = 0x5EED)]
    seed: u64,
}

fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let args = Args::parse();
    let mut config = match &args.config {
        Some(path) => Config::load(path).with_context(|| format!("configuration {}", path.display()))?,
        None => Config::default(),
    };
    if let Some(listen) = args.listen {
        config.listen = listen;
    }
    if let Some(sled) = args.sled {
        config.storage.sled_path = Some(sled);
    }
    config.validate().context("configuration")?;
    let dev = config.dev_material();
    if !dev.is_empty() {
        tracing::warn!(
            files = dev.len(),
            "DEVELOPMENT MATERIAL IN USE: keys and certificates from certs-dev/, whose private keys are public; \
             this emulator is for tests and demos only"
        );
    }
    let listen = config.listen.clone();
    let emulator = Emulator::open(config).context("starting the emulator")?;
    let options = ServerOptions {
        read_timeout: Duration::from_secs(args.read_timeout.max(1)),
        grace: Duration::from_secs(args.grace),
        seed: args.seed,
    };
    let state = AppState::new(emulator, options);
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().context("starting tokio")?;
    runtime.block_on(async move {
        let listener =
            tokio::net::TcpListener::bind(&listen).await.with_context(|| format!("listening on {listen}"))?;
        let address = listener.local_addr().context("reading the listening address")?;
        let shutdown = edugate::serve::shutdown_signal().context("watching SIGINT and SIGTERM")?;
        let mut stdout = std::io::stdout().lock();
        writeln!(stdout, "mock-smev listening on http://{address}").and_then(|()| stdout.flush())?;
        drop(stdout);
        server::run(listener, state, shutdown).await.context("serving")?;
        tracing::info!("stopped");
        Ok(())
    })
}
