//! The HTML page: head with the inline stylesheet, the header (command,
//! target, verdict badge, times), findings, error, diagnosis, warnings,
//! the charts the fields support, the tables, and the reports nested in a
//! suite (`files[].checks[].report`, `rows[].report`) as collapsible
//! sections. No script, no external URL; every report string is escaped.

use std::fmt::Write;

use serde_json::Value;

use crate::render::charts::{self, Chart};
use crate::render::escape::{clip, xml};
use crate::render::fields::{arr, fmt_num, num, text};
use crate::render::{style, tables};

/// At most this many nested reports get their own section.
const MAX_NESTED: usize = 30;
/// At most this many diagnosis or warning lines.
const MAX_LINES: usize = 100;

/// The whole page for `report`.
pub(crate) fn page(report: &Value) -> String {
    let command = text(report, "command").unwrap_or("report");
    let verdict = text(report, "verdict").unwrap_or("unknown");
    let mut s = String::with_capacity(64 * 1024);
    s.push_str("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">");
    s.push_str("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><meta name=\"color-scheme\" content=\"light dark\">");
    let _ = write!(
        s,
        "<title>wsprobe {}: {}</title><style>{}</style></head><body><main>",
        xml(&clip(command, 60)),
        xml(verdict),
        style::CSS
    );
    header(&mut s, report);
    body(&mut s, report, 0);
    s.push_str("<footer>Rendered by wsprobe from its JSON report: one self-contained file, no network, no script. Hover a mark for its value.</footer></main></body></html>\n");
    s
}

/// The verdict badge.
fn badge(verdict: &str) -> String {
    let class = match verdict {
        "pass" | "fail" | "error" => verdict,
        _ => "other",
    };
    format!(r#"<span class="badge {class}">{}</span>"#, xml(&clip(&verdict.to_uppercase(), 20)))
}

/// Command, verdict, target and the times the report carries.
fn header(s: &mut String, report: &Value) {
    let command = text(report, "command").unwrap_or("report");
    let _ = write!(
        s,
        "<header><h1>wsprobe {} {}</h1>",
        xml(&clip(command, 60)),
        badge(text(report, "verdict").unwrap_or("unknown"))
    );
    if let Some(t) = text(report, "target") {
        let _ = write!(s, r#"<p class="target">{}</p>"#, xml(&clip(t, 500)));
    }
    let meta = meta(report);
    if !meta.is_empty() {
        let _ = write!(s, r#"<p class="meta">{}</p>"#, xml(&meta.join(" · ")));
    }
    s.push_str("</header>");
}

/// The header's small print: times, version, shard, merge, interruption.
fn meta(report: &Value) -> Vec<String> {
    let mut out = Vec::new();
    let when = |k: &str| report.get(k).and_then(|v| v.as_str().map(str::to_string).or_else(|| v.as_f64().map(fmt_num)));
    if let Some(t) = when("started_at") {
        out.push(format!("started {}", clip(&t, 40)));
    }
    if let Some(t) = when("ended_at") {
        out.push(format!("ended {}", clip(&t, 40)));
    }
    if let Some(e) = num(report, "elapsed_s") {
        out.push(format!("{} s", fmt_num(e)));
    }
    if let Some(v) = text(report, "wsprobe_version") {
        out.push(format!("wsprobe {}", clip(v, 40)));
    }
    if let (Some(i), Some(n)) =
        (report.pointer("/shard/index").and_then(Value::as_u64), report.pointer("/shard/count").and_then(Value::as_u64))
    {
        out.push(format!("shard {i} of {n}"));
    }
    if let Some(m) = report.get("merged_from").and_then(Value::as_array) {
        out.push(format!("merged from {} shard reports", m.len()));
    }
    if report.get("interrupted").and_then(Value::as_bool) == Some(true) {
        out.push("interrupted (Ctrl-C): partial results".to_string());
    }
    out
}

/// Everything below the header; `depth` 0 is the page's own report.
fn body(s: &mut String, report: &Value, depth: usize) {
    let h = if depth == 0 { "h2" } else { "h3" };
    if !arr(report, "findings").is_empty() {
        let _ = write!(s, "<section{}><{h}>Findings</{h}>", id(depth, "findings"));
        tables::findings(s, report);
        s.push_str("</section>");
    }
    if let Some(e) = text(report, "error") {
        let _ = write!(s, r#"<section><{h}>Error</{h}><p class="errbox">{}</p></section>"#, xml(&clip(e, 2000)));
    }
    lines(s, report, "diagnosis", "Diagnosis", h);
    lines(s, report, "warnings", "Warnings", h);
    let charts = charts::all(report);
    if !charts.is_empty() {
        let _ = write!(s, "<section{}><{h}>Charts</{h}>", id(depth, "charts"));
        charts.iter().for_each(|c| figure(s, c, depth == 0));
        s.push_str("</section>");
    }
    let mut t = String::new();
    tables::percentiles(&mut t, report);
    tables::connections(&mut t, report);
    tables::figures(&mut t, report);
    tables::closes(&mut t, report);
    tables::messages(&mut t, report);
    if !t.is_empty() {
        let _ = write!(s, "<section{}><{h}>Figures</{h}>{t}</section>", id(depth, "figures"));
    }
    if depth == 0 {
        nested(s, report);
    }
}

/// An `id` attribute for the page's own sections (links like `#charts`).
fn id(depth: usize, name: &str) -> String {
    if depth == 0 {
        format!(r#" id="{name}""#)
    } else {
        String::new()
    }
}

/// A list section (`diagnosis`, `warnings`) when the field has lines.
fn lines(s: &mut String, report: &Value, key: &str, title: &str, h: &str) {
    let items: Vec<&str> = arr(report, key).iter().filter_map(Value::as_str).collect();
    if items.is_empty() {
        return;
    }
    let _ = write!(s, r#"<section class="{key}"><{h}>{title}</{h}><ul>"#);
    for line in items.iter().take(MAX_LINES) {
        let _ = write!(s, "<li>{}</li>", xml(&clip(line, 2000)));
    }
    s.push_str("</ul></section>");
    if items.len() > MAX_LINES {
        let _ = write!(s, r#"<p class="more">… and {} more lines.</p>"#, items.len() - MAX_LINES);
    }
}

/// One chart as a figure; on the page's own report it gets an id from its
/// title (`#connection-survival`).
fn figure(s: &mut String, chart: &Chart, with_id: bool) {
    let id = if with_id { format!(r#" id="{}""#, slug(&chart.title)) } else { String::new() };
    let _ = write!(s, "<figure{id}><h3>{}</h3><p class=\"caption\">{}</p>", xml(&chart.title), xml(&chart.caption));
    chart.svgs.iter().for_each(|svg| s.push_str(svg));
    s.push_str("</figure>");
}

/// `Connection survival` as `connection-survival`.
fn slug(title: &str) -> String {
    let words: Vec<String> =
        title.split(|c: char| !c.is_ascii_alphanumeric()).filter(|w| !w.is_empty()).map(str::to_lowercase).collect();
    words.join("-")
}

/// Reports nested in a suite, each as a collapsible section.
fn nested(s: &mut String, report: &Value) {
    let found = nested_reports(report);
    if found.is_empty() {
        return;
    }
    s.push_str("<section><h2>Reports of each check</h2>");
    for (label, ok, r) in found.iter().take(MAX_NESTED) {
        let verdict = text(r, "verdict").unwrap_or("unknown");
        let mark = match ok {
            Some(true) => r#"<span class="yes" title="as expected">✓</span> "#,
            Some(false) => r#"<span class="no" title="not as expected">✗</span> "#,
            None => "",
        };
        let (label, command) = (xml(&clip(label, 200)), xml(text(r, "command").unwrap_or("")));
        let _ = write!(
            s,
            r#"<details><summary>{mark}{label} <span class="mono">{command}</span> {}</summary>"#,
            small_badge(verdict)
        );
        body(s, r, 1);
        s.push_str("</details>");
    }
    if found.len() > MAX_NESTED {
        let _ = write!(s, r#"<p class="more">… and {} more reports.</p>"#, found.len() - MAX_NESTED);
    }
    s.push_str("</section>");
}

/// The verdict of a nested report, small (the check's own ✓/✗ leads).
fn small_badge(verdict: &str) -> String {
    badge(verdict).replacen("class=\"badge ", "class=\"badge small ", 1)
}

/// A nested report found in a suite: (label, the check's `ok`, report).
type Nested<'a> = (String, Option<bool>, &'a Value);

/// Each `report` object two levels down (`files[].checks[]`) or one (`rows[]`).
fn nested_reports(report: &Value) -> Vec<Nested<'_>> {
    let mut out = Vec::new();
    let ok = |v: &Value| v.get("ok").and_then(Value::as_bool);
    let label = |v: &Value| {
        ["name", "check", "behaviour", "file"].iter().find_map(|k| text(v, k)).unwrap_or("check").to_string()
    };
    for item in ["rows", "checks"].iter().flat_map(|k| arr(report, k)) {
        out.extend(item.get("report").filter(|r| r.get("command").is_some()).map(|r| (label(item), ok(item), r)));
    }
    for file in arr(report, "files") {
        for item in arr(file, "checks") {
            let name = format!("{}: {}", text(file, "file").unwrap_or(""), label(item));
            out.extend(item.get("report").filter(|r| r.get("command").is_some()).map(|r| (name.clone(), ok(item), r)));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn header_names_times_shards_merges_and_interruptions() {
        let r = json!({"started_at": "2025-12-01T12:00:00.000000Z", "elapsed_s": 3.5, "wsprobe_version": "0.2.0",
                        "shard": {"index": 1, "count": 4}, "merged_from": [{}, {}], "interrupted": true});
        let m = meta(&r).join(" · ");
        assert_eq!(
            m,
            "started 2025-12-01T12:00:00.000000Z · 3.5 s · wsprobe 0.2.0 · shard 1 of 4 · merged from 2 shard reports · interrupted (Ctrl-C): partial results"
        );
    }

    #[test]
    fn unknown_verdicts_get_a_neutral_badge() {
        assert!(badge("pass").contains("badge pass"));
        assert!(badge("<x>").contains("badge other") && badge("<x>").contains("&lt;X&gt;"));
    }

    #[test]
    fn nested_reports_are_found_in_files_and_rows() {
        let r = json!({"files": [{"file": "a.toml", "checks": [{"name": "c", "ok": false, "report": {"command": "single"}}]}],
                        "rows": [{"behaviour": "b", "ok": true, "report": {"command": "storm"}}, {"report": 5}]});
        let found: Vec<(String, Option<bool>)> = nested_reports(&r).into_iter().map(|(l, ok, _)| (l, ok)).collect();
        assert_eq!(found, [("b".to_string(), Some(true)), ("a.toml: c".to_string(), Some(false))]);
        assert_eq!(slug("Connection survival (%)"), "connection-survival");
    }
}
