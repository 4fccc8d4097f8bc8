//! The HTML and Markdown renderers against real reports (fixtures written
//! by the binary) and synthesized ones (a per-second timeline, 10,000-point
//! reports, hostile strings): self-contained pages, well-formed SVG, the
//! charts each kind of report supports, escaping, bounded size, and
//! Markdown snapshots.

use std::path::{Path, PathBuf};

use base64::Engine;
use hdrhistogram::serialization::{Serializer, V2Serializer};
use serde_json::{json, Value};
use wsprobe::render;

fn fixture_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/reports")
}

fn fixture(name: &str) -> Value {
    let text = std::fs::read_to_string(fixture_dir().join(name)).expect("fixture exists");
    serde_json::from_str(&text).expect("fixture is JSON")
}

fn all_fixtures() -> Vec<(String, Value)> {
    let mut names: Vec<String> = std::fs::read_dir(fixture_dir())
        .expect("fixture dir")
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.ends_with(".json"))
        .collect();
    names.sort();
    assert!(names.len() >= 10, "fixtures missing: {names:?}");
    let mut out: Vec<(String, Value)> = names.into_iter().map(|n| (n.clone(), fixture(&n))).collect();
    out.push(("synth:timeline".into(), timeline_report(90, 2000)));
    out.push(("synth:huge".into(), huge_report(10_000)));
    out
}

/// A histogram of `values` (µs) as reports carry it.
fn encode(values: impl IntoIterator<Item = u64>) -> String {
    let mut h = hdrhistogram::Histogram::<u64>::new_with_bounds(1, 3_600_000_000, 3).expect("bounds");
    values.into_iter().for_each(|v| h.saturating_record(v));
    let mut buf = Vec::new();
    V2Serializer::new().serialize(&h, &mut buf).expect("serializes");
    base64::engine::general_purpose::STANDARD.encode(buf)
}

/// A storm-like report with a per-second timeline of `secs` seconds: a
/// first wave, a server restart a third of the way in (every connection
/// dropped with 1006), a reconnect storm that the server partly refuses
/// with 503 and some timeouts, then token-TTL closes at two thirds.
fn timeline_report(secs: u64, clients: u64) -> Value {
    let mut rng = fastrand::Rng::with_seed(42);
    let (restart, ttl) = (secs / 3, 2 * secs / 3);
    let (mut open, mut waiting) = (0u64, clients);
    let mut timeline = Vec::new();
    for t in 0..secs {
        let mut closes = json!({});
        if t == restart {
            closes = json!({"1006 (no close frame)": open});
            waiting += open;
            open = 0;
        } else if t == ttl {
            let n = (clients / 20).min(open);
            closes = json!({"4001 \"token expired\"": n});
            (waiting, open) = (waiting + n, open - n);
        }
        let storm = t >= restart && t < restart + 12;
        let attempts = if t < 4 { (clients / 4).min(waiting) } else { waiting };
        let cap = if storm { clients / 6 + rng.u64(0..clients / 10 + 1) } else { attempts };
        let accepted = attempts.min(cap);
        let rejected = attempts - accepted;
        let (r503, timeout) = (rejected * 4 / 5, rejected - rejected * 4 / 5);
        let (base, tail) = if storm { (30_000, 900_000) } else { (1_500, 12_000) };
        let lat =
            (0..accepted).map(|_| base + rng.u64(0..base) + if rng.u8(0..100) == 0 { rng.u64(0..tail) } else { 0 });
        let handshake = if accepted > 0 { json!(encode(lat)) } else { Value::Null };
        (open, waiting) = (open + accepted, waiting - accepted);
        timeline.push(json!({"at": 1_764_590_400 + t, "attempts": attempts, "accepted": accepted,
            "rejected": {"http-503": r503, "timeout": timeout}, "open": open, "closes": closes, "handshake": handshake}));
    }
    json!({"command": "storm", "target": "ws://example.test/ws?device=dev-{client}", "verdict": "fail",
        "findings": [{"check": "reconnect-wave", "ok": false, "detail": "recovered after 11 s; 503 and timeouts"}],
        "diagnosis": ["The server restarted; clients came back over 11 s."], "clients": clients,
        "elapsed_s": secs as f64, "timeline": timeline, "started_at": "2025-12-01T12:00:00.000000Z"})
}

/// A report with `n` of everything that grows: timeline seconds, close
/// records, fan-out clients and rate-limit attempts.
fn huge_report(n: u64) -> Value {
    let mut r = timeline_report(n, n);
    let closes: Vec<Value> = (0..n)
        .map(|i| {
            json!({"client": i, "code": 1006, "reason": "", "abnormal": true, "after_s": 60.0 + (i % 7) as f64,
                         "at_s": 60.0 + (i % 7) as f64, "idle_in_s": 60.0, "idle_out_s": 60.0})
        })
        .collect();
    let per_client: Vec<Value> = (0..n)
        .map(|i| json!({"client": i, "expected": 10, "delivered": 10 - i % 3, "missing": i % 3, "duplicates": 0, "cross_talk": 0}))
        .collect();
    let attempts: Vec<Value> =
        (0..n).map(|i| json!({"n": i + 1, "at_s": i as f64 * 0.01, "outcome": if i % 5 == 0 { "http-429" } else { "accepted" }})).collect();
    let groups = json!([(0..n / 2).collect::<Vec<u64>>(), (n / 2..n).collect::<Vec<u64>>()]);
    let extra = json!({"closes": closes, "per_client": per_client, "attempts": attempts, "groups": groups,
        "connections": n, "duration_s": 120.0, "inferred": {"burst": 4, "window_s": 1.0},
        "findings": (0..n).map(|i| json!({"check": format!("check {i}"), "ok": i % 500 != 7, "detail": "x"})).collect::<Vec<_>>()});
    for (k, v) in extra.as_object().expect("object") {
        r[k] = v.clone();
    }
    r
}

/// The `<svg>…</svg>` blocks of a page.
fn svg_blocks(html: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut rest = html;
    while let Some(start) = rest.find("<svg") {
        let end = rest[start..].find("</svg>").expect("every <svg> is closed") + start + "</svg>".len();
        out.push(&rest[start..end]);
        rest = &rest[end..];
    }
    out
}

#[test]
fn pages_are_self_contained() {
    for (name, report) in all_fixtures() {
        let html = render::html(&report);
        assert!(html.starts_with("<!DOCTYPE html>"), "{name}");
        for banned in ["http://", "https://", "src=", "<link", "<script", "url(", "@import", "<iframe"] {
            assert!(!html.to_lowercase().contains(banned), "{name}: page contains {banned}");
        }
        assert!(html.contains("prefers-color-scheme:dark"), "{name}: no dark scheme");
    }
}

#[test]
fn every_svg_block_parses_as_xml() {
    let mut total = 0;
    for (name, report) in all_fixtures() {
        for svg in svg_blocks(&render::html(&report)) {
            if let Err(e) = roxmltree::Document::parse(svg) {
                panic!("{name}: {e}\n{}", &svg[..svg.len().min(2000)]);
            }
            total += 1;
        }
    }
    assert!(total >= 25, "only {total} charts in all fixtures");
}

/// The chart titles (figure headings) of a page.
fn titles(html: &str) -> Vec<String> {
    html.split("<figure")
        .skip(1)
        .filter_map(|s| s.split_once("<h3>")?.1.split_once("</h3>"))
        .map(|(title, _)| title.to_string())
        .collect()
}

#[test]
fn each_kind_of_report_gets_the_charts_its_fields_support() {
    let cases: Vec<(&str, Value, &[&str])> = vec![
        (
            "storm",
            fixture("storm.json"),
            &["Connection attempts per second", "Handshake latency spectrum", "TCP connect latency spectrum"],
        ),
        (
            "storm+messages",
            fixture("storm-messages.json"),
            &[
                "Connection attempts per second",
                "Handshake latency spectrum",
                "Round trip latency spectrum",
                "TCP connect latency spectrum",
            ],
        ),
        (
            "timeline",
            timeline_report(90, 2000),
            &[
                "Open connections and attempts per second",
                "Handshake latency per second",
                "Closes over time",
                "Handshake latency spectrum",
            ],
        ),
        ("stability", fixture("stability-drop.json"), &["Closes over time", "Connection survival"]),
        ("ratelimit", fixture("ratelimit-churn.json"), &["Connection attempts by outcome"]),
        ("ratelimit hold", fixture("ratelimit-hold.json"), &["Connection attempts by outcome"]),
        ("fanout", fixture("fanout-groups.json"), &["Message delivery per client", "Delivery latency spectrum"]),
        ("connect", fixture("connect.json"), &["Connection phases"]),
        ("single", fixture("single.json"), &[]),
        ("error", fixture("single-error.json"), &[]),
    ];
    for (kind, report, expected) in cases {
        let html = render::html(&report);
        assert_eq!(titles(&html), *expected, "{kind}");
    }
}

#[test]
fn charts_carry_what_makes_them_readable() {
    let html = render::html(&fixture("ratelimit-churn.json"));
    assert!(html.contains("inferred window 1.1 s (burst 3, limit 3/1.1s)"), "window band");
    let html = render::html(&fixture("ratelimit-hold.json"));
    assert!(
        html.contains("a probe, not on the schedule")
            && html.contains("[reuse-probe]")
            && html.contains("concurrent cap 5")
    );
    let html = render::html(&fixture("fanout-groups.json"));
    assert!(html.contains("group 1") && html.contains("group 2") && html.contains("duplicates"));
    let html = render::html(&fixture("stability-drop.json"));
    assert!(html.contains("cliff: 100% closed at 1 s"), "the drop-after cliff is named");
    let html = render::html(&fixture("storm.json"));
    assert!(html.contains("99.99%") && html.contains("reconnect wave") && html.contains("latency (ms)"));
    let html = render::html(&timeline_report(90, 2000));
    assert!(
        html.contains("2000 clients") && html.contains("http-503") && html.contains("t = 0 at 2025-12-01T12:00:00 UTC")
    );
}

#[test]
fn single_and_suites_get_tables_and_sections() {
    let html = render::html(&fixture("single-race.json"));
    assert!(html.contains("race.second") && html.contains("409") && html.contains("reconnect_after_close"));
    let html = render::html(&fixture("run.json"));
    assert!(html.contains("Reports of each check") && html.matches("<details>").count() >= 10);
    let html = render::html(&fixture("single-error.json"));
    assert!(html.contains(r#"class="badge error""#) && html.contains("nothing is listening there"));
    assert!(!html.contains("<h2>Figures</h2>"), "no empty section");
}

fn hostile(mut report: Value) -> Value {
    let evil = "</script><b>x</b><img src=x onerror=alert(1)> | pipe\nnew \"line\" 'q' & \u{1b}[31m";
    report["target"] = json!(format!("ws://h/{evil}"));
    report["findings"][0]["detail"] = json!(evil);
    report["findings"][0]["check"] = json!(evil);
    report["diagnosis"] = json!([evil]);
    report["warnings"] = json!([evil]);
    report["closes"][0]["reason"] = json!(evil);
    report["closes"][1]["reason"] = json!(evil);
    report
}

#[test]
fn hostile_strings_are_escaped_in_html() {
    let html = render::html(&hostile(fixture("stability-drop.json")));
    for bad in ["</script><b>", "<b>x", "<img", "onerror=alert(1)>", "\u{1b}"] {
        assert!(!html.contains(bad), "unescaped {bad:?}");
    }
    assert!(html.contains("&lt;/script&gt;&lt;b&gt;x&lt;/b&gt;"));
    for svg in svg_blocks(&html) {
        roxmltree::Document::parse(svg).expect("still well-formed");
    }
    assert!(titles(&html).iter().any(|t| t == "Closes over time"));
}

#[test]
fn hostile_strings_are_escaped_in_markdown() {
    let md = render::markdown(&hostile(fixture("stability-drop.json")));
    assert!(!md.contains("<b>") && !md.contains("<img") && !md.contains("\u{1b}"), "{md}");
    let row = md.lines().find(|l| l.starts_with("| ✗")).expect("finding row");
    assert_eq!(row.matches(" | ").count(), 2, "a value split the row: {row}");
    assert!(row.contains("\\| pipe<br>new"));
}

#[test]
fn huge_reports_stay_small() {
    let report = huge_report(10_000);
    let input = serde_json::to_string(&report).expect("json").len();
    let html = render::html(&report);
    assert!(html.len() < 300_000, "page of {} bytes from {input} bytes of JSON", html.len());
    assert!(html.contains("9980 passed of 10000") && html.contains("… and 9680 more (of 9980)"), "findings are capped");
    assert!(render::markdown(&report).len() < 60_000);
}

#[test]
fn absent_and_malformed_fields_are_skipped() {
    let junk = json!({"command": 5, "verdict": null, "findings": "x", "timeline": [{"at": "x"}, 3, {"at": 1, "rejected": 5}],
        "closes": [1, null, {"after_s": "x"}], "histograms": {"a": 5, "b": "SElTVA=="}, "histogram": "%%%",
        "per_client": [{}, {"client": "x"}], "attempts": [{"at_s": "x"}, {"outcome": 1}], "steps": [{"phase": 1}],
        "attempts_per_s": ["x", null], "groups": [5, [null]], "handshake_ms": {"p50": "x"}});
    for report in [junk, json!({}), json!(null), json!([1, 2]), json!("text")] {
        let html = render::html(&report);
        assert!(titles(&html).is_empty(), "{report}: {:?}", titles(&html));
        assert!(html.ends_with("</html>\n"));
        assert!(render::markdown(&report).starts_with("## "));
    }
}

#[test]
fn markdown_snapshots() {
    for name in ["storm-capped.json", "stability-ttl.json", "ratelimit-churn.json", "fanout-groups.json"] {
        let md = render::markdown(&fixture(name));
        insta::assert_snapshot!(format!("render_markdown_{}", name.trim_end_matches(".json")), md);
    }
}

/// Writes every fixture's page (and those of the `*.json` files in
/// `$WSPROBE_RENDER_IN`, if set) to `$WSPROBE_RENDER_OUT` (default
/// `target/render-pages`) to look at: `cargo test --test render -- --ignored`.
#[test]
#[ignore = "writes files for people to look at"]
fn write_pages() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let out = std::env::var("WSPROBE_RENDER_OUT").map_or_else(|_| root.join("target/render-pages"), PathBuf::from);
    std::fs::create_dir_all(&out).expect("output dir");
    let mut reports = all_fixtures();
    if let Ok(dir) = std::env::var("WSPROBE_RENDER_IN") {
        for entry in std::fs::read_dir(dir).expect("input dir").filter_map(Result::ok) {
            let (path, name) = (entry.path(), entry.file_name().to_string_lossy().to_string());
            if let Some(v) = name.ends_with(".json").then(|| std::fs::read_to_string(&path).ok()).flatten() {
                reports.push((format!("in:{name}"), serde_json::from_str(&v).expect("input is JSON")));
            }
        }
    }
    for (name, report) in reports {
        let stem = name.trim_end_matches(".json").replace(':', "-");
        std::fs::write(out.join(format!("{stem}.html")), render::html(&report)).expect("write html");
        std::fs::write(out.join(format!("{stem}.md")), render::markdown(&report)).expect("write md");
    }
}

/// The bars of a chart, as the HTML parser sees them: each `<rect>` of the
/// `<svg>` labelled `chart` carries a `<title>` read-out "t0–t1: N series".
fn bar_readouts(html: &str, chart: &str) -> Vec<(f64, f64, String)> {
    let page = scraper::Html::parse_document(html);
    let svg = scraper::Selector::parse(&format!(r#"svg[aria-label="{chart}"]"#)).expect("selector");
    let bar = scraper::Selector::parse("rect > title").expect("selector");
    let svg = page.select(&svg).next().unwrap_or_else(|| panic!("no chart {chart:?}"));
    svg.select(&bar)
        .filter_map(|t| {
            let text = t.text().collect::<String>();
            let (span, rest) = text.split_once(": ")?;
            let (from, _) = span.split_once('–')?;
            let (n, series) = rest.split_once(' ')?;
            Some((from.parse().ok()?, n.parse().ok()?, series.to_string()))
        })
        .collect()
}

/// The plotted points are the JSON's: every second's accepted attempts and
/// 503 refusals in the timeline is one bar segment with that value, read
/// back from the HTML with an HTML parser.
#[test]
fn plotted_bars_equal_the_timeline() {
    let report = timeline_report(40, 600);
    let html = render::html(&report);
    let bars = bar_readouts(&html, "Attempts per second");
    let timeline = report["timeline"].as_array().unwrap();
    let mut checked = 0;
    for (t, second) in timeline.iter().enumerate() {
        for (series, json) in [("accepted", &second["accepted"]), ("http-503", &second["rejected"]["http-503"])] {
            let want = json.as_f64().unwrap();
            let got: Vec<f64> = bars.iter().filter(|b| b.0 == t as f64 && b.2 == series).map(|b| b.1).collect();
            if want > 0.0 {
                assert_eq!(got, [want], "second {t}, {series}");
                checked += 1;
            } else {
                assert!(got.is_empty(), "second {t}: no {series} bar for 0");
            }
        }
    }
    let drawn = bars.iter().filter(|b| b.2 == "accepted" || b.2 == "http-503").count();
    assert_eq!(drawn, checked, "no bar that the timeline does not have");
    assert!(checked >= 10, "{checked} bars checked");
}
