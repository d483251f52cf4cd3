//! The `edugate` command line. Errors get their context here and nowhere else.
mod ops_cli;

use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand};
use edugate::crypto::{self, Certificate, EngineConfig, KeySource, PrivateKey};
use edugate::dsig::{self, KeySelection, Placement, Signer, TransformVariant, Validity, VerifyLimits, VerifyOptions};
use edugate::smev;
use edugate::xml::{self, C14nOptions, IdMatch, Limits};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

/// edugate: a gateway between SMEV 3 and regional school information systems.
#[derive(Parser)]
#[command(version, about)]
struct Cli {
    /// OpenSSL engine that provides GOST (production sites name their vendor's engine here).
    #[arg(long, global = true, env = "EDUGATE_ENGINE", default_value = "gost")]
    engine: String,
    /// Load the engine from this shared object (through OpenSSL's dynamic engine) instead of by id.
    #[arg(long, global = true, env = "EDUGATE_ENGINE_PATH")]
    engine_path: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// XML signature tools: canonicalization, the SMEV transform, signing and verification.
    Dsig {
        #[command(flatten)]
        input: InputArgs,
        #[command(subcommand)]
        command: DsigCommand,
    },
    /// SMEV 3 message exchange tools.
    #[command(subcommand)]
    Smev(SmevCommand),
    /// Play the portal against a running mock-smev and gateway: a progress lookup, an unlinked SNILS, an
    /// enrollment application and a status change; exits non-zero unless all four happened.
    Demo {
        /// mock-smev's address.
        #[arg(long, default_value = "http://127.0.0.1:7575")]
        mock: String,
        /// The school data file the gateway uses (the demo records an enrollment in it).
        #[arg(long)]
        data: PathBuf,
    },
    /// The outbox, for operators: list, show, retry and purge items (through a running gateway's API with
    /// `--url` and `--token`, or on a stopped gateway's `--store`).
    Queue {
        #[command(flatten)]
        target: ops_cli::TargetArgs,
        #[command(subcommand)]
        command: ops_cli::QueueCommand,
    },
    /// Every step a message (by SMEV MessageID) or an application (by orderId) took: inbox, outbox items, their
    /// attempts and errors, operators' actions.
    Trace {
        /// An SMEV MessageID or an orderId.
        id: String,
        /// Show personal data unmasked (needs an admin token; recorded in the audit log).
        #[arg(long)]
        pii: bool,
        #[command(flatten)]
        target: ops_cli::TargetArgs,
    },
    /// Run the gateway: poll SMEV, answer requests, drain the outbox, until SIGINT or SIGTERM.
    Run {
        /// The configuration file (TOML); `EDUGATE__SECTION__KEY` variables override it.
        #[arg(long, env = "EDUGATE_CONFIG")]
        config: Option<PathBuf>,
    },
}

#[derive(Subcommand)]
enum SmevCommand {
    /// Write one signed envelope of each request operation (SendRequest, GetRequest, SendResponse, GetResponse,
    /// Ack, GetStatus), built by the client code and signed with the given (by default the dev) key.
    Sample {
        /// Directory to write `<Operation>Request.xml` files into (created if missing).
        #[arg(long)]
        out: PathBuf,
        /// Schema version: 1.3 or 1.2.
        #[arg(long, default_value = "1.3")]
        version: String,
        /// Signing key (PEM PKCS#8); the test-only dev gateway key by default.
        #[arg(long, default_value = concat!(env!("CARGO_MANIFEST_DIR"), "/certs-dev/gateway.key"))]
        key: PathBuf,
        /// Signing certificate; the test-only dev gateway certificate by default.
        #[arg(long, default_value = concat!(env!("CARGO_MANIFEST_DIR"), "/certs-dev/gateway.crt"))]
        cert: PathBuf,
    },
}

/// How the dsig tools read their input.
#[derive(clap::Args)]
struct InputArgs {
    /// Largest input accepted, in bytes: a larger file, pipe or stdin is refused after reading one byte more.
    #[arg(long, global = true, env = "EDUGATE_DSIG_MAX_BYTES", default_value_t = Limits::default().max_document_bytes)]
    max_bytes: usize,
}

#[derive(Subcommand)]
enum DsigCommand {
    /// Print the SMEV transform of the exclusive c14n of FILE's document element.
    Transform {
        /// The XML document (a file, a FIFO, or `-` for stdin).
        file: PathBuf,
    },
    /// Print the exclusive c14n of FILE's document element, or of the element with the given Id.
    C14n {
        /// The XML document (a file, a FIFO, or `-` for stdin).
        file: PathBuf,
        /// Canonicalize the element whose `Id` attribute has this value.
        #[arg(long)]
        id: Option<String>,
        /// InclusiveNamespaces PrefixList, space-separated (`#default` for the default namespace).
        #[arg(long, default_value = "")]
        inclusive: String,
    },
    /// Verify every ds:Signature in FILE: one line per signature, `OK <Id> <signed element>` or
    /// `FAIL <Id> <reason>`. Exits 0 only when at least one signature was found and all passed.
    Verify {
        /// The XML document (a file, a FIFO, or `-` for stdin).
        file: PathBuf,
        /// Check the references' digests only, not the signature values.
        #[arg(long)]
        digest_only: bool,
        /// Also require the signer's certificate to be valid now (by default an expired certificate is only noted,
        /// so that archived messages can be checked).
        #[arg(long)]
        check_validity: bool,
        /// Require the signer's certificate to be this one (PEM or DER) instead of trusting KeyInfo.
        #[arg(long)]
        trusted: Option<PathBuf>,
        /// Most ds:Signature elements accepted in the document.
        #[arg(long, default_value_t = VerifyLimits::default().max_signatures)]
        max_signatures: usize,
        /// Most ds:Reference elements accepted in one signature.
        #[arg(long, default_value_t = VerifyLimits::default().max_references)]
        max_references: usize,
    },
    /// Sign the element with the given Id and write the signed document to stdout.
    Sign {
        /// The Id of the element to sign.
        #[arg(long)]
        id: String,
        /// The private key (PEM PKCS#8), or `engine:KEY_ID` for a key held inside the engine.
        #[arg(long)]
        key: String,
        /// The signer's certificate (PEM or DER).
        #[arg(long)]
        cert: PathBuf,
        /// Put the signature inside the element, with the enveloped-signature transform, instead of into the
        /// CallerInformationSystemSignature that follows it.
        #[arg(long)]
        enveloped: bool,
        /// The XML document (a file, a FIFO, or `-` for stdin).
        file: PathBuf,
    },
}

fn main() {
    if let Err(e) = run(Cli::parse()) {
        if is_broken_pipe(&e) {
            // The reader went away (`edugate dsig c14n big.xml | head -c1`): end quietly, with the status a process
            // killed by SIGPIPE has.
            std::process::exit(141);
        }
        eprintln!("edugate: {e:#}");
        std::process::exit(2);
    }
}

/// Whether an error comes from writing to a closed pipe.
fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|cause| {
        cause.downcast_ref::<std::io::Error>().is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

fn run(cli: Cli) -> Result<()> {
    let engine = EngineConfig { engine_id: cli.engine.clone(), dynamic_path: cli.engine_path.clone() };
    match cli.command {
        Command::Dsig { input, command } => dsig(command, &input, &engine),
        Command::Smev(cmd) => smev_command(cmd, &engine),
        Command::Run { config } => run_gateway(config.as_deref()),
        Command::Queue { target, command } => ops_cli::queue(target, command),
        Command::Trace { id, pii, target } => ops_cli::trace(target, &id, pii),
        Command::Demo { mock, data } => {
            crypto::init_engine(&engine)?;
            Ok(edugate::demo::run(&mock, &data)?)
        }
    }
}

/// Reads a file, a FIFO or stdin (`-`) of at most `limit` bytes: it reads one byte more than the limit and refuses
/// then, so an endless input (`/dev/zero`) costs at most the limit in memory and is refused at once.
fn read(path: &Path, limit: usize) -> Result<Vec<u8>> {
    let name = path.display();
    let mut bytes = Vec::new();
    if path.as_os_str() == "-" {
        read_bounded(std::io::stdin().lock(), limit, &mut bytes).context("reading stdin")?;
    } else {
        let file = std::fs::File::open(path).with_context(|| format!("reading {name}"))?;
        let meta = file.metadata().with_context(|| format!("reading {name}"))?;
        if meta.is_file() && meta.len() > limit as u64 {
            bail!("{name}: {} bytes, over the limit of {limit} bytes (--max-bytes)", meta.len());
        }
        read_bounded(file, limit, &mut bytes).with_context(|| format!("reading {name}"))?;
    }
    if bytes.len() > limit {
        bail!("{name}: more than the limit of {limit} bytes (--max-bytes)");
    }
    Ok(bytes)
}

fn read_bounded(input: impl Read, limit: usize, into: &mut Vec<u8>) -> std::io::Result<usize> {
    input.take(limit as u64 + 1).read_to_end(into)
}

/// Parses what [`read`] returned, under the same size limit.
fn parse<'a>(bytes: &'a [u8], file: &Path, max_bytes: usize) -> Result<xml::Document<'a>> {
    let limits = Limits { max_document_bytes: max_bytes, ..Limits::default() };
    xml::parse_bytes(bytes, &limits).with_context(|| file.display().to_string())
}

fn dsig(cmd: DsigCommand, input: &InputArgs, engine: &EngineConfig) -> Result<()> {
    let stdout = std::io::stdout();
    let max = input.max_bytes;
    match cmd {
        DsigCommand::Transform { file } => {
            let bytes = read(&file, max)?;
            let doc = parse(&bytes, &file, max)?;
            let out =
                xml::smev_transform(&doc, doc.root(), &C14nOptions::default(), std::io::BufWriter::new(stdout.lock()))?;
            out.into_inner().map_err(|e| e.into_error())?.flush()?;
        }
        DsigCommand::C14n { file, id, inclusive } => {
            let bytes = read(&file, max)?;
            let doc = parse(&bytes, &file, max)?;
            let apex = match id {
                None => doc.root(),
                Some(id) => match doc.element_with_id(&id) {
                    IdMatch::One(one) => one,
                    IdMatch::None => bail!("no element with Id '{id}'"),
                    IdMatch::Many(count) => bail!("Id '{id}' is on {count} elements"),
                },
            };
            let options = C14nOptions {
                inclusive_prefixes: inclusive.split_whitespace().map(String::from).collect(),
                exclude: None,
            };
            let mut out = stdout.lock();
            out.write_all(&xml::exc_c14n(&doc, apex, &options))?;
            out.flush()?;
        }
        DsigCommand::Verify { file, digest_only, check_validity, trusted, max_signatures, max_references } => {
            crypto::init_engine(engine)?;
            let bytes = read(&file, max)?;
            let doc = parse(&bytes, &file, max)?;
            let keys = match trusted {
                Some(path) => KeySelection::Trusted(vec![Certificate::load(&path)?]),
                None => KeySelection::KeyInfo,
            };
            let validity = if check_validity { Validity::Now } else { Validity::Skip };
            let limits = VerifyLimits { max_signatures, max_references, ..VerifyLimits::default() };
            let options = VerifyOptions { keys, validity, digest_only, limits };
            let mut out = stdout.lock();
            let reports = match dsig::verify_document(&doc, &options) {
                Ok(reports) => reports,
                Err(e) => {
                    writeln!(out, "FAIL - {e}")?;
                    out.flush()?;
                    std::process::exit(1);
                }
            };
            let mut all_ok = true;
            for report in reports {
                let ids =
                    if report.reference_ids.is_empty() { "-".to_string() } else { report.reference_ids.join(",") };
                match report.outcome {
                    Ok(verified) => {
                        let elements: Vec<String> =
                            verified.references.iter().map(|r| doc.describe(r.element)).collect();
                        writeln!(out, "OK {ids} {}", elements.join(","))?;
                        for r in verified.references.iter().filter(|r| r.variant == TransformVariant::CrKept) {
                            eprintln!(
                                "note: reference '#{}': digest matches with carriage returns kept as &#xD; in the \
                                 SMEV transform, not the method guide's rule",
                                r.id
                            );
                        }
                        if let Some(cert) = verified.certificate.filter(|_| !check_validity) {
                            if let Err(e) = cert.check_validity_now() {
                                eprintln!("note: signature {ids}: {e} (pass --check-validity to fail on this)");
                            }
                        }
                    }
                    Err(e) => {
                        all_ok = false;
                        writeln!(out, "FAIL {ids} {e}")?;
                    }
                }
            }
            out.flush()?;
            if !all_ok {
                std::process::exit(1);
            }
        }
        DsigCommand::Sign { id, key, cert, enveloped, file } => {
            crypto::init_engine(engine)?;
            let source = match key.strip_prefix("engine:") {
                Some(key_id) => KeySource::Engine { key_id: key_id.to_string() },
                None => KeySource::PemFile(PathBuf::from(&key)),
            };
            let signer = Signer::new(PrivateKey::load(&source)?, Certificate::load(&cert)?)?;
            let bytes = read(&file, max)?;
            let text = std::str::from_utf8(&bytes).with_context(|| format!("{} is not UTF-8", file.display()))?;
            let text = text.strip_prefix('\u{FEFF}').unwrap_or(text);
            let placement = if enveloped { Placement::Enveloped } else { Placement::CallerSignature };
            let signed = signer.sign(text, &id, placement).with_context(|| file.display().to_string())?;
            let mut out = stdout.lock();
            out.write_all(signed.as_bytes())?;
            out.flush()?;
        }
    }
    Ok(())
}

fn smev_command(cmd: SmevCommand, engine: &EngineConfig) -> Result<()> {
    match cmd {
        SmevCommand::Sample { out, version, key, cert } => {
            crypto::init_engine(engine)?;
            let version = match version.as_str() {
                "1.3" => smev::Version::V1_3,
                "1.2" => smev::Version::V1_2,
                other => bail!("unknown SMEV version '{other}' (use 1.3 or 1.2)"),
            };
            let key = PrivateKey::load(&KeySource::PemFile(key))?;
            let signer = Signer::new(key, Certificate::load(&cert)?)?;
            std::fs::create_dir_all(&out).with_context(|| format!("creating {}", out.display()))?;
            for (name, xml) in smev::sample::envelopes(version, &signer)? {
                let path = out.join(format!("{name}.xml"));
                std::fs::write(&path, xml).with_context(|| format!("writing {}", path.display()))?;
                println!("{}", path.display());
            }
        }
    }
    Ok(())
}

fn run_gateway(config: Option<&std::path::Path>) -> Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    // Everything is validated and opened before a socket is bound.
    let config = edugate::config::Config::from_env(config)?;
    let listen = config.http.listen.clone();
    let runtime = gateway_runtime(&config.runtime)?;
    // The operators' API and dashboard plug into the gateway's port from above: the gateway knows nothing of them.
    let gateway = edugate::ops::api::attach(edugate::gateway::Gateway::open(config)?);
    runtime.block_on(async move {
        let listener =
            tokio::net::TcpListener::bind(&listen).await.with_context(|| format!("binding http.listen {listen}"))?;
        let shutdown = edugate::serve::shutdown_signal().context("watching SIGINT and SIGTERM")?;
        println!("edugate listening on http://{}", listener.local_addr()?);
        gateway.run(listener, shutdown).await?;
        Ok(())
    })
}

/// The gateway's multi-threaded runtime, with `runtime.worker_threads` async threads (0: tokio's default).
fn gateway_runtime(config: &edugate::config::RuntimeConfig) -> Result<tokio::runtime::Runtime> {
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    if config.worker_threads > 0 {
        builder.worker_threads(config.worker_threads);
    }
    builder.enable_all().build().context("starting the async runtime")
}
