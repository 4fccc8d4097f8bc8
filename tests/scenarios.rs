//! Scenario files and `run`, and `selftest`: the shipped scenarios pass
//! with no server of your own, JUnit XML is well formed, bad files stop
//! with file:line, and selftest catches a broken classification.

mod common;

use common::{wsprobe, TestServer};
use wsprobe::exit::Verdict;
use wsprobe::scenario::expect::Matcher;
use wsprobe::server::config::ServerConfig;

#[test]
fn shipped_scenarios_pass_and_write_junit() {
    let dir = tempfile::tempdir().unwrap();
    let junit = dir.path().join("out.xml");
    let out = wsprobe().args(["run", "scenarios/", "--junit"]).arg(&junit).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stdout));
    let xml = std::fs::read_to_string(&junit).unwrap();
    let doc = roxmltree::Document::parse(&xml).expect("well-formed JUnit XML");
    let cases: Vec<_> = doc.descendants().filter(|n| n.has_tag_name("testcase")).collect();
    let files = std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/scenarios"))
        .unwrap()
        .filter(|e| e.as_ref().is_ok_and(|e| e.path().extension().is_some_and(|x| x == "toml")))
        .count();
    assert!(cases.len() >= files, "{} test cases for {files} files", cases.len());
    assert!(cases.iter().all(|c| !c.children().any(|k| k.has_tag_name("failure"))));
    let suites = doc.descendants().filter(|n| n.has_tag_name("testsuite")).count();
    assert_eq!(suites, files, "one suite per scenario file");
}

#[test]
fn run_json_is_one_object_with_every_check() {
    let out = wsprobe().args(["run", "scenarios/heartbeat.toml", "--json"]).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stdout));
    let json = common::json_stdout(&out);
    assert_eq!(json["command"], "run");
    assert_eq!(json["checks"], 2);
    assert_eq!(json["files"][0]["checks"][1]["report"]["closes"][0]["code"], 1006);
}

#[test]
fn a_scenario_can_target_a_real_server() {
    let server = TestServer::start(ServerConfig::default());
    let out = wsprobe().args(["run", "scenarios/device-router.toml", "--target", &server.url()]).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stdout));
    assert!(server.health().accepted_total >= 3, "the checks ran against the given server");
}

fn bad_scenario(text: &str) -> (i32, String) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.toml");
    std::fs::write(&path, text).unwrap();
    let out = wsprobe().arg("run").arg(&path).output().unwrap();
    (out.status.code().unwrap(), String::from_utf8_lossy(&out.stderr).into_owned())
}

#[test]
fn unknown_key_stops_with_file_and_line() {
    let (code, err) =
        bad_scenario("[target]\nurl = \"ws://127.0.0.1:1/\"\n\n[[check]]\ncommand = \"single\"\nhodl = \"1s\"\n");
    assert_eq!(code, 2);
    assert!(err.starts_with("wsprobe: error: ") && err.contains("bad.toml:6:"), "{err}");
    assert!(err.contains("--hold"), "suggests the right name: {err}");
}

#[test]
fn wrong_value_stops_with_file_and_line() {
    let (code, err) = bad_scenario("[target.embedded]\nduplicate = \"sometimes\"\n[[check]]\ncommand = \"single\"\n");
    assert_eq!(code, 2);
    assert!(err.contains("bad.toml:2:") && err.contains("reject"), "{err}");
    let (code, err) = bad_scenario("nmae = \"typo\"\n[target]\nurl = \"ws://h/\"\n[[check]]\ncommand = \"single\"\n");
    assert_eq!(code, 2);
    assert!(err.contains("bad.toml:1:") && err.contains("nmae"), "{err}");
}

#[test]
fn selftest_passes_every_row() {
    let cli = <wsprobe::cli::Cli as clap::Parser>::try_parse_from(["wsprobe", "selftest"]).unwrap();
    let report = wsprobe::report(&cli).unwrap();
    assert_eq!(report.verdict, Verdict::Pass, "{:?}", report.findings.iter().filter(|f| !f.ok).collect::<Vec<_>>());
    assert!(report.findings.len() >= 20);
}

#[test]
fn selftest_fails_when_a_classification_is_wrong() {
    let mut scenarios = wsprobe::selftest::scenarios().expect("built-in selftest files parse");
    for scenario in &mut scenarios {
        scenario.checks.retain(|c| c.command == "single" || c.command == "ratelimit");
        for check in &mut scenario.checks {
            for (_, matcher) in &mut check.expect.fields {
                *matcher = Matcher::Exact(toml::Value::String("something else".into()));
            }
        }
    }
    let rows: usize = scenarios.iter().map(|s| s.checks.len()).sum();
    assert!(rows >= 5, "{rows} rows");
    let rt = common::runtime();
    let report = rt.block_on(wsprobe::selftest::run_suite(scenarios, &tokio_util::sync::CancellationToken::new()));
    assert_eq!(report.verdict, Verdict::Fail);
    assert_eq!(report.findings.len(), rows);
    assert!(report.findings.iter().all(|f| !f.ok), "every row with a wrong expectation fails");
}

#[test]
fn every_check_has_selftest_rows() {
    let scenarios = wsprobe::selftest::scenarios().expect("built-in selftest files parse");
    for name in wsprobe::check::NAMES {
        let rows = scenarios.iter().flat_map(|s| &s.checks).filter(|c| c.command == *name).count();
        assert!(rows >= 1, "{name} has no selftest row");
    }
}
