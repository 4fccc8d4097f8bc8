//! The Markdown summary (for `$GITHUB_STEP_SUMMARY`): a heading with the
//! command and verdict, the target and times, the findings table, error,
//! diagnosis and warnings, the latency percentiles in ms and the figures.
//! Every report string goes through [`escape::markdown`].

use std::fmt::Write;

use serde_json::Value;

use crate::render::escape::{self, clip};
use crate::render::fields::{self, arr, fmt_num, num, text};

/// At most this many findings rows.
const MAX_FINDINGS: usize = 300;
/// At most this many diagnosis or warning bullets.
const MAX_LINES: usize = 50;

/// An escaped, clipped value.
fn md(s: &str) -> String {
    escape::markdown(&clip(s, 600))
}

/// The whole summary.
pub(crate) fn render(report: &Value) -> String {
    let mut s = String::with_capacity(4096);
    heading(&mut s, report);
    findings(&mut s, report);
    if let Some(e) = text(report, "error") {
        let _ = writeln!(s, "**Error:** {}\n", md(e));
    }
    bullets(&mut s, report, "diagnosis", "Diagnosis", "");
    bullets(&mut s, report, "warnings", "Warnings", "⚠️ ");
    percentiles(&mut s, report);
    figures(&mut s, report);
    s
}

/// `## ✅ wsprobe storm: pass`, then target and times.
fn heading(s: &mut String, report: &Value) {
    let verdict = text(report, "verdict").unwrap_or("unknown");
    let icon = match verdict {
        "pass" => "✅",
        "fail" => "❌",
        _ => "⚠️",
    };
    let command = md(text(report, "command").unwrap_or("report"));
    let _ = writeln!(s, "## {icon} wsprobe {command}: {}\n", md(verdict));
    let mut facts = Vec::new();
    if let Some(t) = text(report, "target") {
        facts.push(format!("**Target:** {}", md(t)));
    }
    if let Some(t) = text(report, "started_at") {
        facts.push(format!("**Started:** {}", md(t)));
    }
    if let Some(e) = num(report, "elapsed_s") {
        facts.push(format!("**Elapsed:** {} s", fmt_num(e)));
    }
    if let Some(m) = report.get("merged_from").and_then(Value::as_array) {
        facts.push(format!("**Merged from:** {} shard reports", m.len()));
    }
    if report.get("interrupted").and_then(Value::as_bool) == Some(true) {
        facts.push("**Interrupted:** partial results".to_string());
    }
    if !facts.is_empty() {
        let _ = writeln!(s, "{}\n", facts.join("<br>\n"));
    }
}

/// The findings as a table.
fn findings(s: &mut String, report: &Value) {
    let all = arr(report, "findings");
    if all.is_empty() {
        return;
    }
    s.push_str("| | Check | Detail |\n|:-:|---|---|\n");
    for f in all.iter().take(MAX_FINDINGS) {
        let mark = if f.get("ok").and_then(Value::as_bool) == Some(true) { "✓" } else { "✗" };
        let _ = writeln!(
            s,
            "| {mark} | {} | {} |",
            md(text(f, "check").unwrap_or("")),
            md(text(f, "detail").unwrap_or(""))
        );
    }
    if all.len() > MAX_FINDINGS {
        let _ = writeln!(s, "\n… and {} more findings.", all.len() - MAX_FINDINGS);
    }
    s.push('\n');
}

/// A bullet list of a string array field.
fn bullets(s: &mut String, report: &Value, key: &str, title: &str, prefix: &str) {
    let items: Vec<&str> = arr(report, key).iter().filter_map(Value::as_str).collect();
    if items.is_empty() {
        return;
    }
    let _ = writeln!(s, "**{title}**\n");
    for line in items.iter().take(MAX_LINES) {
        let _ = writeln!(s, "- {prefix}{}", md(line));
    }
    if items.len() > MAX_LINES {
        let _ = writeln!(s, "- … and {} more", items.len() - MAX_LINES);
    }
    s.push('\n');
}

/// The latency percentile objects as one table in ms.
fn percentiles(s: &mut String, report: &Value) {
    let rows = fields::percentile_fields(report);
    if rows.is_empty() {
        return;
    }
    let _ = writeln!(
        s,
        "### Latency (ms)\n\n| | {} | samples |\n|---|{}--:|",
        fields::PCT_NAMES.join(" | "),
        "--:|".repeat(5)
    );
    for (name, p) in rows {
        let cells: Vec<String> = p.values.iter().map(|v| v.map_or("—".to_string(), fmt_num)).collect();
        let count = p.count.map_or("—".to_string(), fmt_num);
        let _ = writeln!(s, "| {} | {} | {count} |", md(name.strip_suffix("_ms").unwrap_or(&name)), cells.join(" | "));
    }
    s.push('\n');
}

/// The scalar figures as a table.
fn figures(s: &mut String, report: &Value) {
    let rows = fields::figures(report);
    if rows.is_empty() {
        return;
    }
    s.push_str("### Figures\n\n| Figure | Value |\n|---|---|\n");
    for (k, v) in rows {
        let _ = writeln!(s, "| {} | {} |", md(&k), md(&v));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn heading_names_command_and_verdict() {
        let out = render(&json!({"command": "storm", "verdict": "fail", "target": "ws://x"}));
        assert!(out.starts_with("## ❌ wsprobe storm: fail\n"), "{out}");
    }

    #[test]
    fn cells_cannot_break_the_table() {
        let out = render(&json!({"findings": [{"check": "a|b", "ok": false, "detail": "line1\nline2 | x"}]}));
        let row = out.lines().find(|l| l.starts_with("| ✗")).expect("a row");
        assert_eq!(row, "| ✗ | a\\|b | line1<br>line2 \\| x |");
    }

    #[test]
    fn percentiles_table_has_one_column_per_percentile() {
        let out = render(&json!({"handshake_ms": {"p50": 1.5, "p90": 2, "p99": 3, "p999": 4, "max": 5, "count": 10}}));
        assert!(out.contains("| handshake | 1.5 | 2 | 3 | 4 | 5 | 10 |"), "{out}");
        assert!(out.contains("|---|--:|--:|--:|--:|--:|--:|"), "{out}");
    }
}
