//! Shards and merge, end to end against one reference server: three
//! shards of one storm run in-process at once, merged; the merged counts
//! equal the shards' sums and the server's own count, and the merged
//! percentiles equal those of the shards' histograms pooled here by
//! decoding them. Identities are global, a token TTL seen by every shard
//! reads as one period, and bad input is refused (exit 2).

mod common;

use std::time::{Duration, SystemTime};

use common::shards::{merged, shards, u};
use common::{run_json, wsprobe_output, TestServer};
use hdrhistogram::Histogram;
use serde_json::Value;
use wsprobe::server::config::ServerConfig;

/// The shards' histograms decoded and pooled by hand: every recorded value
/// with its count, into one fresh histogram of the same settings.
fn pooled(parts: &[Value], key: &str) -> Histogram<u64> {
    let mut pool = Histogram::<u64>::new_with_bounds(1, 3_600_000_000, 3).expect("histogram");
    for p in parts {
        let text = p.pointer(key).and_then(Value::as_str).expect("histogram text");
        let bytes = base64::Engine::decode(&base64::engine::general_purpose::STANDARD, text).expect("base64");
        let h: Histogram<u64> =
            hdrhistogram::serialization::Deserializer::new().deserialize(&mut bytes.as_slice()).expect("V2");
        for v in h.iter_recorded() {
            pool.record_n(v.value_iterated_to(), v.count_at_value()).expect("record");
        }
    }
    pool
}

fn ms(us: u64) -> f64 {
    (us as f64 / 1000.0 * 1000.0).round() / 1000.0
}

/// The server refuses a second connection of one identity (409), so shards
/// whose identities collided would show it; the reconnect backoff leaves
/// the server time to see each abruptly dropped connection go first.
#[test]
fn three_storm_shards_merge_to_the_sums_and_the_pooled_percentiles() {
    let server = TestServer::start(ServerConfig::default());
    let url = server.url();
    let parts = shards(3, &["storm", &url, "--clients", "30", "--hold", "300ms", "--backoff", "fixed:200ms"]);
    let m = merged(&parts);
    let sum = |key: &str| parts.iter().map(|p| u(p, key)).sum::<u64>();
    assert_eq!(m["command"], "storm");
    assert_eq!((u(&m, "/clients"), u(&m, "/connected")), (30, 30));
    assert_eq!(u(&m, "/connected"), sum("/connected"));
    assert_eq!(u(&m, "/attempts"), sum("/attempts"));
    let accepted = u(&m, "/waves/0/accepted") + u(&m, "/waves/1/accepted");
    assert_eq!(server.health().accepted_total, accepted, "the server's own count");
    for (key, pct) in
        [("/histograms/handshake", "/handshake_ms"), ("/histograms/reconnect_handshake", "/reconnect_handshake_ms")]
    {
        let pool = pooled(&parts, key);
        let p = &m[pct.trim_start_matches('/')];
        assert_eq!(u(&m, &format!("{pct}/count")), pool.len(), "{key}: the sum of the shards' counts");
        for (name, q) in [("p50", 0.5), ("p90", 0.9), ("p99", 0.99), ("p999", 0.999)] {
            assert_eq!(p[name].as_f64(), Some(ms(pool.value_at_quantile(q))), "{key} {name}");
        }
        assert_eq!(p["max"].as_f64(), Some(ms(pool.max())), "{key} max");
    }
    let timeline_attempts: u64 = m["timeline"].as_array().expect("timeline").iter().map(|s| u(s, "/attempts")).sum();
    assert_eq!(timeline_attempts, u(&m, "/attempts"), "the aligned timelines add up to the attempts");
    assert_eq!(m["verdict"], "pass", "{:#}", m["findings"]);
    let one = run_json(&["storm", &url, "--clients", "30", "--hold", "300ms", "--backoff", "fixed:200ms"]);
    assert_eq!((u(&one, "/connected"), u(&one, "/attempts")), (u(&m, "/connected"), u(&m, "/attempts")));
}

#[test]
fn identities_are_global_and_a_ttl_seen_by_every_shard_is_one_period() {
    let cfg = ServerConfig { token_ttl: Some(Duration::from_millis(400)), ..ServerConfig::default() };
    let server = TestServer::start(cfg);
    let url = server.url();
    let parts = shards(3, &["stability", &url, "--clients", "9", "--duration", "1100ms", "--reconnect"]);
    let clients: std::collections::BTreeSet<u64> =
        parts[1]["closes"].as_array().expect("closes").iter().map(|c| u(c, "/client")).collect();
    assert_eq!(clients.into_iter().collect::<Vec<_>>(), [1, 4, 7], "shard 1/3 holds clients 1, 4, 7");
    let m = merged(&parts);
    let drops: usize = parts.iter().map(|p| p["closes"].as_array().map_or(0, Vec::len)).sum();
    assert_eq!(m["closes"].as_array().map(Vec::len), Some(drops));
    assert_eq!((u(&m, "/period/code"), u(&m, "/period/drops")), (4001, drops as u64), "{:#}", m["period"]);
    let diagnosis = m["diagnosis"].to_string();
    assert!(diagnosis.contains("A drop every 0.4 s") && diagnosis.contains("token or session TTL"), "{diagnosis}");
}

/// Writes reports to files and runs `wsprobe merge` on them.
fn merge_files(parts: &[&Value], extra: &[&str]) -> std::process::Output {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut args: Vec<String> = vec!["merge".into()];
    for (i, p) in parts.iter().enumerate() {
        let path = dir.path().join(format!("shard-{i}.json"));
        std::fs::write(&path, p.to_string()).expect("write");
        args.push(path.display().to_string());
    }
    args.extend(extra.iter().map(|s| s.to_string()));
    wsprobe_output(&args.iter().map(String::as_str).collect::<Vec<_>>())
}

#[test]
fn different_plans_duplicates_and_missing_shards_are_exit_2() {
    let server = TestServer::start(ServerConfig::default());
    let url = server.url();
    let a = shards(2, &["storm", &url, "--clients", "4", "--hold", "100ms"]);
    let b = shards(2, &["storm", &url, "--clients", "4", "--hold", "200ms"]);
    let out = merge_files(&[&a[0], &b[1]], &[]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("different plan") && err.contains("shard-0.json") && err.contains("shard-1.json"), "{err}");
    let out = merge_files(&[&a[0], &a[0]], &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("appears twice"));
    let out = merge_files(&[&a[1]], &["--json"]);
    assert_eq!(out.status.code(), Some(2));
    let json = common::json_stdout(&out);
    assert_eq!(json["verdict"], "error");
    assert!(json["error"].as_str().is_some_and(|e| e.contains("shard 0 of 2 missing")), "{json:#}");
    let out = merge_files(&[&a[0], &a[1]], &[]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
}

#[test]
fn a_late_shard_skips_the_arrivals_already_past_and_says_how_late() {
    let at = wsprobe::clock::rfc3339(SystemTime::now() - Duration::from_secs(2));
    let r = run_json(&[
        "storm",
        "--clients",
        "10",
        "--ramp",
        "4s",
        "--hold",
        "100ms",
        "--disrupt",
        "none",
        "--start-at",
        &at,
    ]);
    assert_eq!(u(&r, "/start/skipped"), 3, "arrivals at 0, 0.4 and 0.8 s were more than 1 s past: {:#}", r["start"]);
    assert!(r["start"]["late_s"].as_f64().is_some_and(|l| (2.0..3.0).contains(&l)), "{:#}", r["start"]);
    assert_eq!(u(&r, "/connected"), 7);
}

#[test]
fn merge_reads_concatenated_reports_and_report_merges_on_the_fly() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/shards");
    let text: String = ["storm-0.json", "storm-1.json"]
        .iter()
        .map(|f| std::fs::read_to_string(dir.join(f)).expect("fixture"))
        .collect();
    let out = common::wsprobe().args(["merge", "-", "--json"]).write_stdin(text).output().expect("runs");
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let json = common::json_stdout(&out);
    assert_eq!(json["merged_from"][1]["source"], "-#2");
    let files = [dir.join("storm-0.json"), dir.join("storm-1.json")];
    let out = common::wsprobe().arg("report").args(&files).arg("--markdown").output().expect("runs");
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stdout).contains("Merged from:** 2 shard reports"));
}

#[test]
fn fanout_shards_merge_to_every_delivery_and_the_groups_of_one_machine() {
    let server = TestServer::start(ServerConfig::default());
    let url = server.url();
    let args = [
        "fanout",
        url.as_str(),
        "--clients",
        "9",
        "--publish",
        r#"{"type":"broadcast","data":"{nonce}"}"#,
        "--settle",
        "1s",
        "--wait",
        "500ms",
    ];
    let parts = shards(3, &args);
    assert!(parts.iter().all(|p| u(p, "/clients") == 3 && u(p, "/all_clients") == 9), "{:#}", parts[0]);
    let m = merged(&parts);
    assert_eq!((u(&m, "/clients"), u(&m, "/connected"), u(&m, "/published")), (9, 9, 9));
    assert_eq!((u(&m, "/expected"), u(&m, "/delivered"), u(&m, "/missing")), (81, 81, 0), "{:#}", m["findings"]);
    assert_eq!(u(&m, "/latency_ms/count"), 81, "every receipt timed across shards, by its nonce's stamp");
    assert_eq!(m["verdict"], "pass", "{:#}", m["findings"]);
    let unicast = [
        &args[..2],
        &[
            "--clients",
            "6",
            "--mode",
            "unicast",
            "--publish",
            r#"{"type":"send","to":"dev-{to}","data":"{nonce}"}"#,
            "--settle",
            "1s",
            "--wait",
            "500ms",
        ],
    ]
    .concat();
    let m = merged(&shards(2, &unicast));
    assert_eq!((u(&m, "/expected"), u(&m, "/delivered"), u(&m, "/cross_talk")), (30, 30, 0), "{:#}", m["findings"]);
}

#[test]
fn fanout_shards_of_a_two_worker_server_fall_into_its_two_groups() {
    let workers = TestServer::start(ServerConfig { workers: 2, ..ServerConfig::default() });
    let url = workers.url();
    let args = [
        "fanout",
        url.as_str(),
        "--clients",
        "8",
        "--publish",
        r#"{"type":"broadcast","data":"{nonce}"}"#,
        "--settle",
        "1s",
        "--wait",
        "500ms",
    ];
    let m = merged(&shards(2, &args));
    let groups = m["groups"].as_array().expect("groups across shards");
    assert_eq!(groups.len(), 2, "{:#}", m["groups"]);
    assert_eq!(m["clean_partition"], true);
    assert_eq!((u(&m, "/expected"), u(&m, "/missing")), (64, 32), "each client hears its own worker's half");
    assert!(m["diagnosis"].to_string().contains("2 workers (or pods)"), "{:#}", m["diagnosis"]);
}

#[test]
fn the_shard_index_comes_from_the_job_completion_index() {
    let server = TestServer::start(ServerConfig::default());
    let url = server.url();
    let args =
        ["storm", url.as_str(), "--clients", "6", "--hold", "100ms", "--disrupt", "none", "--shards", "3", "--json"];
    let out = common::wsprobe().args(args).env("JOB_COMPLETION_INDEX", "2").output().expect("runs");
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let json = common::json_stdout(&out);
    assert_eq!((u(&json, "/shard/index"), u(&json, "/shard/count"), u(&json, "/clients")), (2, 3, 2));
    let out = common::wsprobe().args(args).env_remove("JOB_COMPLETION_INDEX").output().expect("runs");
    assert_eq!(out.status.code(), Some(2));
    let json = common::json_stdout(&out);
    assert!(json["error"].as_str().is_some_and(|e| e.contains("JOB_COMPLETION_INDEX")), "{json:#}");
}
