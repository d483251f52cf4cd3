//! `edugate queue list|show|retry|purge|audit` and `edugate trace`: the operators' commands, against a running
//! gateway's API (`--url`, `--token`) or a stopped gateway's state directory (`--store`). Tables by default,
//! `--json` for scripts; bulk retries and purges show a progress bar.
#![forbid(unsafe_code)]

use anyhow::{bail, Context, Result};
use clap::{Args, Subcommand};
use edugate::ops::client::Target;
use edugate::ops::view::ItemView;
use edugate::ops::{table, Actor, ItemQuery};
use edugate::outbox::StateFilter;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::{BufRead, IsTerminal, Write};
use std::path::PathBuf;

/// Where the commands act, and how they print.
#[derive(Args, Debug)]
pub struct TargetArgs {
    /// A running gateway's address (`http://127.0.0.1:8080`); needs a token.
    #[arg(long, global = true, env = "EDUGATE_OPS_URL")]
    url: Option<String>,
    /// The bearer token for the gateway's operators' API.
    #[arg(long, global = true, env = "EDUGATE_OPS_TOKEN", hide_env_values = true)]
    token: Option<String>,
    /// A stopped gateway's state directory (`store.path`), opened directly.
    #[arg(long, global = true, conflicts_with = "url")]
    store: Option<PathBuf>,
    /// Print the API's JSON instead of tables.
    #[arg(long, global = true)]
    json: bool,
}

/// `edugate queue ...`.
#[derive(Subcommand, Debug)]
pub enum QueueCommand {
    /// List outbox items (by default the 100 first; dead letters with `--state dead`).
    List {
        /// Only this queue (`send-to-smev`, `ack`, `call-school`).
        #[arg(long)]
        queue: Option<String>,
        /// Only this state (`pending`, `leased`, `completed`, `dead`).
        #[arg(long)]
        state: Option<String>,
        /// Only keys containing this (an SMEV MessageID, for instance).
        #[arg(long)]
        key: Option<String>,
        /// Only ids above this (paging).
        #[arg(long)]
        after: Option<u64>,
        /// At most this many (at most 1000).
        #[arg(long, default_value_t = 100)]
        limit: usize,
    },
    /// Show one item with its payload (personal data masked unless `--pii`, which needs an admin token).
    Show {
        /// The item's id.
        id: u64,
        /// Show personal data unmasked (recorded in the audit log).
        #[arg(long)]
        pii: bool,
    },
    /// Move a dead letter (or every dead letter) back to pending.
    Retry {
        /// The item's id.
        #[arg(required_unless_present = "all_dead", conflicts_with = "all_dead")]
        id: Option<u64>,
        /// Every dead letter (of `--queue`, if given).
        #[arg(long)]
        all_dead: bool,
        /// With `--all-dead`: only this queue.
        #[arg(long, requires = "all_dead")]
        queue: Option<String>,
    },
    /// Delete a dead letter (or every dead letter) for good.
    Purge {
        /// The item's id.
        #[arg(required_unless_present = "all_dead", conflicts_with = "all_dead")]
        id: Option<u64>,
        /// Every dead letter (of `--queue`, if given).
        #[arg(long)]
        all_dead: bool,
        /// With `--all-dead`: only this queue.
        #[arg(long, requires = "all_dead")]
        queue: Option<String>,
        /// Confirm: purging cannot be undone (without it, a terminal asks).
        #[arg(long)]
        yes: bool,
    },
    /// Who retried, purged, paused or unmasked what, newest first.
    Audit {
        /// At most this many entries.
        #[arg(long, default_value_t = 50)]
        limit: usize,
    },
}

/// Opens the target the options name.
fn target(args: &TargetArgs) -> Result<Target> {
    match (&args.url, &args.store) {
        (Some(url), None) => {
            let token = args.token.as_deref().context("--token (or EDUGATE_OPS_TOKEN) is needed with --url")?;
            Ok(Target::remote(url, token)?)
        }
        (None, Some(dir)) => {
            let user = std::env::var("USER").or_else(|_| std::env::var("LOGNAME")).unwrap_or_else(|_| "unknown".into());
            Ok(Target::store(dir, Actor { name: format!("cli:{user}"), role: "local".into() })?)
        }
        _ => bail!("say where: --url URL --token TOKEN for a running gateway, or --store DIR for a stopped one"),
    }
}

/// Prints `value` as JSON, or the table `text` makes.
fn print<T: serde::Serialize>(json: bool, value: &T, text: impl FnOnce(&T) -> String) -> Result<()> {
    let out = if json { serde_json::to_string_pretty(value)? + "\n" } else { text(value) };
    std::io::stdout().lock().write_all(out.as_bytes())?;
    Ok(())
}

/// Runs `edugate queue ...`.
pub fn queue(args: TargetArgs, command: QueueCommand) -> Result<()> {
    let runtime = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    runtime.block_on(async move {
        let target = target(&args)?;
        match command {
            QueueCommand::List { queue, state, key, after, limit } => {
                let state = match state.as_deref() {
                    None => None,
                    Some(name) => Some(
                        StateFilter::parse(name)
                            .with_context(|| format!("--state {name}: use pending, leased, completed or dead"))?,
                    ),
                };
                let items = target.list(&ItemQuery { queue, state, key, after, limit }, false).await?;
                print(args.json, &items, |items| table::items(items))
            }
            QueueCommand::Show { id, pii } => {
                let detail = target.show(id, pii).await?;
                print(args.json, &detail, table::detail)
            }
            QueueCommand::Retry { id: Some(id), .. } => {
                let done = target.retry(id).await?;
                print(args.json, &done, |done| format!("item {} is pending again\n", done.id))
            }
            QueueCommand::Purge { id: Some(id), yes, .. } => {
                if !yes && !confirmed(&format!("Purge item {id} for good? Type its id to confirm: "), &id.to_string())?
                {
                    bail!("not purged: confirm with --yes");
                }
                let done = target.purge(id).await?;
                print(args.json, &done, |done| format!("item {} purged\n", done.id))
            }
            QueueCommand::Retry { queue, .. } => bulk(&target, args.json, queue.as_deref(), Bulk::Retry).await,
            QueueCommand::Purge { queue, yes, .. } => {
                if !yes && !confirmed("Purge every dead letter for good? Type 'purge' to confirm: ", "purge")? {
                    bail!("not purged: confirm with --yes");
                }
                bulk(&target, args.json, queue.as_deref(), Bulk::Purge).await
            }
            QueueCommand::Audit { limit } => {
                let entries = target.audit(limit).await?;
                print(args.json, &entries, |entries| table::audit(entries))
            }
        }
    })
}

/// Runs `edugate trace ID`.
pub fn trace(args: TargetArgs, id: &str, pii: bool) -> Result<()> {
    let runtime = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    runtime.block_on(async move {
        let target = target(&args)?;
        let trace = target.trace(id, pii).await?;
        print(args.json, &trace, table::trace)
    })
}

/// Asks on a terminal; without one, the answer is no.
fn confirmed(question: &str, expected: &str) -> Result<bool> {
    if !std::io::stdin().is_terminal() {
        return Ok(false);
    }
    eprint!("{question}");
    std::io::stderr().flush()?;
    let mut answer = String::new();
    std::io::stdin().lock().read_line(&mut answer)?;
    Ok(answer.trim() == expected)
}

/// What a bulk command does to each dead letter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Bulk {
    /// Back to pending.
    Retry,
    /// Deleted.
    Purge,
}

/// Retries or purges every dead letter (of `queue`), one at a time, with a progress bar on a terminal.
async fn bulk(target: &Target, json: bool, queue: Option<&str>, action: Bulk) -> Result<()> {
    let mut dead: Vec<ItemView> = target.all_dead(queue).await?;
    if action == Bulk::Retry {
        // Unreadable deliveries are kept for inspection, never sent again: a bulk retry passes over them.
        dead.retain(|item| item.queue != edugate::gateway::jobs::UNREADABLE_QUEUE);
    }
    let bar = ProgressBar::new(dead.len() as u64);
    if json || !std::io::stderr().is_terminal() {
        bar.set_draw_target(ProgressDrawTarget::hidden());
    }
    let verb = if action == Bulk::Retry { "retrying" } else { "purging" };
    bar.set_style(
        ProgressStyle::with_template("{msg} [{bar:40}] {pos}/{len} ({eta} left)")
            .context("progress bar template")?
            .progress_chars("=> "),
    );
    bar.set_message(verb);
    let mut done = Vec::new();
    let mut failed = Vec::new();
    for item in &dead {
        let result = match action {
            Bulk::Retry => target.retry(item.id).await,
            Bulk::Purge => target.purge(item.id).await,
        };
        match result {
            Ok(_) => done.push(item.id),
            Err(error) => failed.push(serde_json::json!({ "id": item.id, "error": error.to_string() })),
        }
        bar.inc(1);
    }
    bar.finish_and_clear();
    let report = serde_json::json!({ "action": verb, "done": done, "failed": failed });
    print(json, &report, |_| {
        let mut text = format!("{} of {} dead letter(s): {} done", verb, dead.len(), done.len());
        if !failed.is_empty() {
            text.push_str(&format!(", {} failed:", failed.len()));
            for failure in &failed {
                text.push_str(&format!("\n  item {}: {}", failure["id"], failure["error"].as_str().unwrap_or("")));
            }
        }
        text + "\n"
    })?;
    if !failed.is_empty() {
        std::process::exit(1);
    }
    Ok(())
}
