//! The HTML tables of a report page: findings (✓/✗), figures (the scalar
//! fields), latency percentiles, connections (objects with an `outcome`),
//! close records, messages and response headers. Every cell is escaped and
//! every table has a row cap that says how many rows were left out.

use std::fmt::Write;

use serde_json::Value;

use crate::render::charts::closes_cause;
use crate::render::escape::{clip, xml};
use crate::render::fields::{self, arr, fmt_num, num, text, PCT_NAMES};

/// At most this many findings.
const MAX_FINDINGS: usize = 300;
/// At most this many close records, messages or headers.
const MAX_ROWS: usize = 20;
/// A cell shows at most this many characters.
const MAX_CELL: usize = 600;

/// An escaped, clipped cell text.
fn cell(s: &str) -> String {
    xml(&clip(s, MAX_CELL))
}

/// "… and N more" when rows were left out.
fn more(s: &mut String, shown: usize, total: usize) {
    if total > shown {
        let _ = write!(s, r#"<p class="more">… and {} more (of {total}).</p>"#, total - shown);
    }
}

/// A small heading over a table.
fn heading(s: &mut String, title: &str) {
    let _ = write!(s, r#"<h4 class="tt">{}</h4>"#, xml(title));
}

/// A table with `head` columns (a leading `#` marks a numeric column) and rows of cells (already escaped).
fn table(s: &mut String, head: &[&str], rows: &[Vec<String>]) {
    let class = if head.len() == 2 { r#" class="kv""# } else { "" };
    let _ = write!(s, "<table{class}><thead><tr>");
    for h in head {
        match h.strip_prefix('#') {
            Some(h) => {
                let _ = write!(s, r#"<th class="num">{}</th>"#, xml(h));
            }
            None => {
                let _ = write!(s, "<th>{}</th>", xml(h));
            }
        }
    }
    s.push_str("</tr></thead><tbody>");
    for row in rows {
        s.push_str("<tr>");
        for (h, c) in head.iter().zip(row) {
            let class = if h.starts_with('#') { r#" class="num""# } else { "" };
            let _ = write!(s, "<td{class}>{c}</td>");
        }
        s.push_str("</tr>");
    }
    s.push_str("</tbody></table>");
}

/// Above this many findings, the passed ones fold into a collapsed section.
const FOLD_FINDINGS: usize = 30;

/// The findings as a ✓/✗ table; with many, the failed ones first and the
/// passed ones folded away.
pub(crate) fn findings(s: &mut String, report: &Value) {
    let all = arr(report, "findings");
    let ok = |f: &&Value| f.get("ok").and_then(Value::as_bool) == Some(true);
    if all.len() <= FOLD_FINDINGS {
        findings_table(s, all.iter().collect(), all.len());
        return;
    }
    let (passed, failed): (Vec<&Value>, Vec<&Value>) = all.iter().partition(ok);
    if !failed.is_empty() {
        findings_table(s, failed.clone(), failed.len());
    }
    let _ = write!(s, "<details><summary>{} passed of {}</summary>", passed.len(), all.len());
    findings_table(s, passed.clone(), passed.len());
    s.push_str("</details>");
}

/// One findings table of at most [`MAX_FINDINGS`] rows.
fn findings_table(s: &mut String, rows: Vec<&Value>, total: usize) {
    if rows.is_empty() {
        return;
    }
    s.push_str("<table class=\"findings\"><thead><tr><th></th><th>check</th><th>detail</th></tr></thead><tbody>");
    for f in rows.iter().take(MAX_FINDINGS) {
        let ok = f.get("ok").and_then(Value::as_bool).unwrap_or(false);
        let (mark, class, word) = if ok { ("✓", "yes", "passed") } else { ("✗", "no", "failed") };
        let _ = write!(
            s,
            r#"<tr><td class="mark {class}" title="{word}">{mark}</td><td>{}</td><td>{}</td></tr>"#,
            cell(text(f, "check").unwrap_or("")),
            cell(text(f, "detail").unwrap_or(""))
        );
    }
    s.push_str("</tbody></table>");
    more(s, MAX_FINDINGS.min(rows.len()), total);
}

/// The scalar figures as a two-column table.
pub(crate) fn figures(s: &mut String, report: &Value) {
    let rows: Vec<Vec<String>> = fields::figures(report).iter().map(|(k, v)| vec![cell(k), cell(v)]).collect();
    if !rows.is_empty() {
        heading(s, "Values");
        table(s, &["figure", "value"], &rows);
    }
}

/// The percentile objects as one table in ms.
pub(crate) fn percentiles(s: &mut String, report: &Value) {
    let rows: Vec<Vec<String>> = fields::percentile_fields(report)
        .iter()
        .map(|(k, p)| {
            let mut row = vec![cell(k.strip_suffix("_ms").unwrap_or(k))];
            row.extend(p.values.iter().map(|v| v.map_or("—".to_string(), fmt_num)));
            row.push(p.count.map_or("—".to_string(), fmt_num));
            row
        })
        .collect();
    if !rows.is_empty() {
        let mut head = vec!["latency (ms)"];
        head.extend(PCT_NAMES.iter().map(|n| match *n {
            "p50" => "#p50",
            "p90" => "#p90",
            "p99" => "#p99",
            "p99.9" => "#p99.9",
            _ => "#max",
        }));
        head.push("#samples");
        heading(s, "Latency percentiles");
        table(s, &head, &rows);
    }
}

/// Objects with an `outcome` (one level deep too: `race.first`) as a table.
pub(crate) fn connections(s: &mut String, report: &Value) {
    let Some(map) = report.as_object() else { return };
    let (mut rows, mut nested) = (Vec::new(), Vec::new());
    for (k, v) in map {
        if v.get("outcome").is_some() {
            rows.push(connection_row(k, v));
        } else if let Some(inner) = v.as_object() {
            nested.extend(
                inner
                    .iter()
                    .filter(|(_, v2)| v2.get("outcome").is_some())
                    .map(|(k2, v2)| connection_row(&format!("{k}.{k2}"), v2)),
            );
        }
    }
    rows.append(&mut nested);
    if !rows.is_empty() {
        rows.truncate(MAX_ROWS);
        heading(s, "Connections");
        table(s, &["connection", "outcome", "#HTTP status", "#close code", "detail"], &rows);
    }
}

/// One row of the connections table.
fn connection_row(name: &str, v: &Value) -> Vec<String> {
    let opt = |k: &str| num(v, k).map_or("—".to_string(), fmt_num);
    vec![
        cell(name),
        cell(text(v, "outcome").unwrap_or("")),
        opt("http_status"),
        opt("close_code"),
        cell(text(v, "detail").unwrap_or("")),
    ]
}

/// The first close records.
pub(crate) fn closes(s: &mut String, report: &Value) {
    let all = arr(report, "closes");
    let secs = |c: &Value, k: &str| num(c, k).map_or("—".to_string(), fmt_num);
    let rows: Vec<Vec<String>> = all
        .iter()
        .take(MAX_ROWS)
        .map(|c| {
            let detail = text(c, "detail").or(text(c, "how")).unwrap_or("");
            let client = secs(c, "client");
            vec![
                client,
                cell(&closes_cause(c)),
                secs(c, "at_s"),
                secs(c, "after_s"),
                secs(c, "idle_in_s"),
                secs(c, "idle_out_s"),
                cell(detail),
            ]
        })
        .collect();
    if !rows.is_empty() {
        heading(s, "Close records");
        table(s, &["#client", "close", "#at (s)", "#after open (s)", "#idle in (s)", "#idle out (s)", "how"], &rows);
        more(s, MAX_ROWS, all.len());
    }
}

/// Messages of a `connect` (direction, kind, data) and the response headers.
pub(crate) fn messages(s: &mut String, report: &Value) {
    let all = arr(report, "messages");
    let rows: Vec<Vec<String>> = all
        .iter()
        .take(MAX_ROWS)
        .map(|m| {
            let at = num(m, "at_ms").map_or("—".to_string(), fmt_num);
            let mut data = format!("<code>{}</code>", cell(text(m, "data").unwrap_or("")));
            if let Some(bytes) = num(m, "bytes") {
                data = format!("{bytes} bytes, base64 {data}");
            }
            vec![at, cell(text(m, "direction").unwrap_or("")), cell(text(m, "kind").unwrap_or("")), data]
        })
        .collect();
    if !rows.is_empty() {
        heading(s, "Messages");
        table(s, &["#at (ms)", "direction", "kind", "data"], &rows);
        more(s, MAX_ROWS, all.len());
    }
    let headers = arr(report, "response_headers");
    let rows: Vec<Vec<String>> = headers
        .iter()
        .take(MAX_ROWS * 2)
        .filter_map(|h| Some(vec![cell(h.get(0)?.as_str()?), format!("<code>{}</code>", cell(h.get(1)?.as_str()?))]))
        .collect();
    if !rows.is_empty() {
        heading(s, "Response headers");
        table(s, &["name", "value"], &rows);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn findings_mark_pass_and_fail_and_escape_details() {
        let mut s = String::new();
        findings(
            &mut s,
            &json!({"findings": [{"check": "a", "ok": true, "detail": "<b>"}, {"check": "b", "ok": false, "detail": ""}]}),
        );
        assert!(s.contains("✓") && s.contains("✗") && s.contains("&lt;b&gt;") && !s.contains("<b>"));
    }

    #[test]
    fn many_findings_put_the_failed_ones_first() {
        let all: Vec<Value> =
            (0..100).map(|i| json!({"check": format!("c{i}"), "ok": i != 57, "detail": ""})).collect();
        let mut s = String::new();
        findings(&mut s, &json!({"findings": all}));
        let failed = s.find("c57").expect("failed row");
        let details = s.find("<details>").expect("passed ones folded");
        assert!(failed < details && s.contains("99 passed of 100"), "{s}");
    }

    #[test]
    fn long_tables_are_capped_and_say_so() {
        let closes: Vec<Value> = (0..50).map(|i| json!({"client": i, "code": 1006, "after_s": 1.0})).collect();
        let mut s = String::new();
        super::closes(&mut s, &json!({"closes": closes}));
        assert_eq!(s.matches("<tr>").count(), MAX_ROWS + 1);
        assert!(s.contains("… and 30 more (of 50)"));
    }

    #[test]
    fn connections_include_nested_outcomes() {
        let mut s = String::new();
        connections(
            &mut s,
            &json!({"first": {"outcome": "open"}, "a": {"b": {"outcome": "x"}}, "race": {"second": {"outcome": "rejected", "http_status": 409}}}),
        );
        assert!(s.contains("race.second") && s.contains("409"));
        let (first, nested) = (s.find(">first<").expect("first"), s.find(">a.b<").expect("a.b"));
        assert!(first < nested, "top-level connections first: {s}");
    }
}
