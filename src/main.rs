//! The `edugate` command line. Errors get their context here and nowhere else.
use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand};
use edugate::xml::{self, C14nOptions, Limits};
use std::io::Write;
use std::path::PathBuf;

/// edugate: a gateway between SMEV 3 and regional school information systems.
#[derive(Parser)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// XML signature tools: canonicalization, the SMEV transform, signing and verification.
    #[command(subcommand)]
    Dsig(DsigCommand),
}

#[derive(Subcommand)]
enum DsigCommand {
    /// Print the SMEV transform of the exclusive c14n of FILE's document element.
    Transform {
        /// The XML document.
        file: PathBuf,
    },
    /// Print the exclusive c14n of FILE's document element, or of the element with the given Id.
    C14n {
        /// The XML document.
        file: PathBuf,
        /// Canonicalize the element whose `Id` attribute has this value.
        #[arg(long)]
        id: Option<String>,
        /// InclusiveNamespaces PrefixList, space-separated (`#default` for the default namespace).
        #[arg(long, default_value = "")]
        inclusive: String,
    },
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Dsig(cmd) => dsig(cmd),
    }
}

fn read(path: &PathBuf) -> Result<Vec<u8>> {
    let limits = Limits::default();
    let meta = std::fs::metadata(path).with_context(|| format!("reading {}", path.display()))?;
    if meta.len() > limits.max_document_bytes as u64 {
        bail!("{}: {} bytes, over the limit of {} bytes", path.display(), meta.len(), limits.max_document_bytes);
    }
    std::fs::read(path).with_context(|| format!("reading {}", path.display()))
}

fn dsig(cmd: DsigCommand) -> Result<()> {
    let stdout = std::io::stdout();
    match cmd {
        DsigCommand::Transform { file } => {
            let bytes = read(&file)?;
            let doc = xml::parse_bytes(&bytes, &Limits::default()).with_context(|| file.display().to_string())?;
            let out = xml::smev_transform(&doc, doc.root(), &C14nOptions::default(), std::io::BufWriter::new(stdout.lock()))?;
            out.into_inner().map_err(|e| e.into_error())?.flush()?;
        }
        DsigCommand::C14n { file, id, inclusive } => {
            let bytes = read(&file)?;
            let doc = xml::parse_bytes(&bytes, &Limits::default()).with_context(|| file.display().to_string())?;
            let apex = match id {
                None => doc.root(),
                Some(id) => {
                    let found: Vec<_> = doc.elements_with_id(&id).collect();
                    match found.as_slice() {
                        [one] => *one,
                        [] => bail!("no element with Id '{id}'"),
                        _ => bail!("Id '{id}' is on {} elements", found.len()),
                    }
                }
            };
            let options = C14nOptions { inclusive_prefixes: inclusive.split_whitespace().map(String::from).collect() };
            stdout.lock().write_all(&xml::exc_c14n(&doc, apex, &options))?;
        }
    }
    Ok(())
}
