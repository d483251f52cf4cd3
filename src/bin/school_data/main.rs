//! `edugate-school-data`: the developer tool that writes data files for the embedded school system, the shipped
//! `data/school-demo.json` among them (`make school-data`). Not part of the library: the gateway only reads such
//! files (`edugate::school::format`), and the generator's tables of names, subjects and topics have no place in it.
#![forbid(unsafe_code)]

// Shared with the tests (`#[path]`), which use the parts the tool does not.
#[allow(dead_code)]
mod fixtures;
#[allow(dead_code)]
mod generate;

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use time::Date;

/// Writes data files for the embedded school system.
#[derive(Parser)]
#[command(name = "edugate-school-data", version)]
struct Cli {
    /// What to write.
    #[command(subcommand)]
    command: Command,
}

/// The tool's commands.
#[derive(Subcommand)]
enum Command {
    /// The shipped demo data: its fixed seed, sizes and term (byte for byte what the repository holds).
    Demo {
        /// Where to write it.
        #[arg(default_value = fixtures::DEMO_DATA_PATH)]
        out: PathBuf,
    },
    /// Data of any size: the fixtures' records plus generated schools, pupils and a term of marks.
    Generate {
        /// The seed; the same arguments always give the same file.
        #[arg(long)]
        seed: u64,
        /// How many schools (at least one).
        #[arg(long)]
        schools: usize,
        /// About how many pupils in each school.
        #[arg(long)]
        pupils_per_school: usize,
        /// The term's first day, YYYY-MM-DD.
        #[arg(long, value_parser = parse_date)]
        from: Date,
        /// The term's last day, YYYY-MM-DD.
        #[arg(long, value_parser = parse_date)]
        to: Date,
        /// Where to write it.
        out: PathBuf,
    },
}

/// Reads `YYYY-MM-DD`.
fn parse_date(text: &str) -> Result<Date, time::error::Parse> {
    Date::parse(text, time::macros::format_description!("[year]-[month]-[day]"))
}

fn main() -> Result<()> {
    match Cli::parse().command {
        Command::Demo { out } => {
            generate::generate_demo_to(&out).with_context(|| format!("writing {}", out.display()))?;
            println!("wrote the demo data to {}", out.display());
        }
        Command::Generate { seed, schools, pupils_per_school, from, to, out } => {
            anyhow::ensure!(schools >= 1, "--schools must be at least 1");
            anyhow::ensure!(from <= to, "--from must not be after --to");
            generate::generate_to(&out, seed, schools, pupils_per_school, from, to)
                .with_context(|| format!("writing {}", out.display()))?;
            println!("wrote {}", out.display());
        }
    }
    Ok(())
}
