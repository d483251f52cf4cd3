//! Plain-text tables and listings for the command line (`--json` prints the API's shapes instead).
#![forbid(unsafe_code)]

use super::audit::AuditEntry;
use super::view::{ItemDetail, ItemView, TraceView};

/// Lays out rows under a header, each column as wide as its widest cell.
pub fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            if let Some(width) = widths.get_mut(i) {
                *width = (*width).max(cell.chars().count());
            }
        }
    }
    let mut out = String::new();
    let header: Vec<String> = header.iter().map(|h| h.to_string()).collect();
    for row in std::iter::once(&header).chain(rows) {
        let cells: Vec<String> = row
            .iter()
            .enumerate()
            .map(|(i, cell)| {
                let pad = widths.get(i).copied().unwrap_or(0).saturating_sub(cell.chars().count());
                format!("{cell}{}", " ".repeat(pad))
            })
            .collect();
        out.push_str(cells.join("  ").trim_end());
        out.push('\n');
    }
    out
}

/// `text` cut to `max` characters, with an ellipsis when cut.
fn short(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        text.to_owned()
    } else {
        let mut cut: String = text.chars().take(max.saturating_sub(1)).collect();
        cut.push('…');
        cut
    }
}

/// Outbox items, one a line.
pub fn items(items: &[ItemView]) -> String {
    let rows: Vec<Vec<String>> = items
        .iter()
        .map(|item| {
            vec![
                item.id.to_string(),
                item.queue.clone(),
                item.state.clone(),
                item.attempts.to_string(),
                item.next_attempt_at.clone().or_else(|| item.finished_at.clone()).unwrap_or_default(),
                short(&item.key, 52),
                short(item.last_error.as_deref().unwrap_or(""), 60),
            ]
        })
        .collect();
    let mut out = table(&["ID", "QUEUE", "STATE", "ATTEMPTS", "NEXT/FINISHED", "KEY", "LAST ERROR"], &rows);
    out.push_str(&format!("{} item(s)\n", items.len()));
    out
}

/// One item with its payload.
pub fn detail(detail: &ItemDetail) -> String {
    let item = &detail.item;
    let mut out = String::new();
    let fields = [
        ("id", Some(item.id.to_string())),
        ("queue", Some(item.queue.clone())),
        ("key", Some(item.key.clone())),
        ("state", Some(item.state.clone())),
        ("attempts", Some(item.attempts.to_string())),
        ("created", Some(item.created_at.clone())),
        ("next attempt", item.next_attempt_at.clone()),
        ("finished", item.finished_at.clone()),
        ("dead cause", item.dead_cause.clone()),
        ("lease owner", item.lease_owner.clone()),
        ("last error", item.last_error.clone()),
    ];
    for (name, value) in fields {
        if let Some(value) = value {
            out.push_str(&format!("{name:<13} {value}\n"));
        }
    }
    out.push_str(&format!("payload{}:\n", if detail.masked { " (personal data masked)" } else { "" }));
    match &detail.payload {
        serde_json::Value::Object(fields) => {
            for (name, value) in fields {
                match value {
                    serde_json::Value::String(text) => out.push_str(&format!("  {name}: {text}\n")),
                    other => out.push_str(&format!("  {name}: {other}\n")),
                }
            }
        }
        other => out.push_str(&format!("  {other}\n")),
    }
    out
}

/// A trace as a timeline, then its items.
pub fn trace(trace: &TraceView) -> String {
    let mut out = String::new();
    if trace.matched_by.is_empty() {
        out.push_str(&format!("nothing known about {}\n", trace.query));
        return out;
    }
    out.push_str(&format!("{} (matched by {})\n\n", trace.query, trace.matched_by.join(", ")));
    let rows: Vec<Vec<String>> =
        trace.steps.iter().map(|step| vec![step.at.clone(), step.what.clone(), step.detail.clone()]).collect();
    out.push_str(&table(&["AT", "STEP", "DETAIL"], &rows));
    let all: Vec<ItemView> =
        trace.messages.iter().flat_map(|m| m.items.iter().cloned()).chain(trace.other_items.iter().cloned()).collect();
    if !all.is_empty() {
        out.push('\n');
        out.push_str(&items(&all));
    }
    out
}

/// Audit entries, one a line.
pub fn audit(entries: &[AuditEntry]) -> String {
    let rows: Vec<Vec<String>> = entries
        .iter()
        .map(|e| {
            vec![
                e.at.clone(),
                e.actor.clone(),
                e.role.clone(),
                e.action.clone(),
                e.target.clone(),
                e.detail.clone().unwrap_or_default(),
            ]
        })
        .collect();
    table(&["AT", "WHO", "ROLE", "ACTION", "TARGET", "DETAIL"], &rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_line_up() {
        let text = table(&["ID", "QUEUE"], &[vec!["1".into(), "ack".into()], vec!["100".into(), "call-school".into()]]);
        assert_eq!(text, "ID   QUEUE\n1    ack\n100  call-school\n");
        assert_eq!(short("abcdef", 4), "abc…");
    }
}
