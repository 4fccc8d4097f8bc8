//! Snapshots of the pure renderers (human tables, quiet output, JUnit XML)
//! on synthetic reports, so a change to what users read is a reviewed diff.

use wsprobe::check::single::{ConnOutcome, ConnState, Distinct, Policy, SingleDetails};
use wsprobe::check::stability::{CloseRecord, Period};
use wsprobe::check::stability::{Heartbeat, ServerPings, StabilityDetails};
use wsprobe::check::Observation;
use wsprobe::event::EndHow;
use wsprobe::exit::Verdict;
use wsprobe::report::table::{render, Style};
use wsprobe::report::{Details, Finding, Report};
use wsprobe::scenario::run::{CheckResult, FileResult, RunDetails};

fn report(command: &str, details: impl Details + 'static, findings: Vec<Finding>, diagnosis: Vec<&str>) -> Report {
    let obs = Observation {
        findings,
        diagnosis: diagnosis.into_iter().map(str::to_string).collect(),
        ..Observation::default()
    }
    .with_details(details);
    let mut r = Report::judge(command, "ws://127.0.0.1:9001/ws?device=dev-{client}&token=***", obs, false);
    r.elapsed_s = 2.5;
    r
}

fn single() -> Report {
    let open = ConnOutcome { outcome: ConnState::Open, http_status: None, close_code: None, detail: "accepted".into() };
    let refused = ConnOutcome {
        outcome: ConnState::Rejected,
        http_status: Some(409),
        close_code: None,
        detail: "refused at the handshake: HTTP 409 Conflict".into(),
    };
    let details = SingleDetails {
        policy: Policy::RejectNew,
        first: open,
        second: refused,
        reconnect_after_close: Some("rejected"),
        distinct: Distinct { tried: 5, accepted: 5 },
        race: None,
    };
    report(
        "single",
        details,
        vec![
            Finding::new("policy", true, "reject-new"),
            Finding::new("reconnect-after-close", false, "after a clean close, the same identity was refused"),
        ],
        vec!["The server allows one connection per identity."],
    )
}

#[test]
fn single_table() {
    insta::assert_snapshot!(render(&single(), Style::default()));
}

#[test]
fn quiet_output() {
    insta::assert_snapshot!(render(&single(), Style { width: 100, quiet: true }));
}

#[test]
fn stability_table() {
    let close = CloseRecord {
        client: 0,
        code: 4001,
        reason: "token expired".into(),
        abnormal: false,
        how: EndHow::CloseFrame,
        detail: String::new(),
        after_s: 1.0,
        idle_in_s: 1.0,
        idle_out_s: 0.2,
        at_s: 1.0,
        server_pings: 2,
        pongs_withheld: 0,
    };
    let details = StabilityDetails {
        clients: 1,
        duration_s: 3.0,
        survived: 0,
        connections: 3,
        heartbeat: Heartbeat::PingFrames,
        closes: vec![close.clone(), CloseRecord { at_s: 2.0, ..close }],
        server_pings: ServerPings { count: 4, median_interval_s: Some(0.5) },
        pong_rtt_ms: None,
        app_ping: None,
        period: Some(Period { seconds: 1.0, code: 4001, drops: 2 }),
        failed_attempts: Default::default(),
    };
    let r =
        report("stability", details, vec![Finding::new("survival", false, "2 drop(s)")], vec!["A drop every 1.0 s."]);
    assert_eq!(r.verdict, Verdict::Fail);
    insta::assert_snapshot!(render(&r, Style::default()));
}

fn run_details() -> RunDetails {
    let ok = CheckResult {
        name: "duplicates are refused".into(),
        command: "single".into(),
        line: 9,
        ok: true,
        expected: "pass, policy=reject-new".into(),
        observed: "pass, policy=reject-new".into(),
        failures: vec![],
        elapsed_s: 1.2,
        report: serde_json::json!({}),
    };
    let failed = CheckResult {
        name: "slots come back".into(),
        command: "ratelimit".into(),
        line: 17,
        ok: false,
        failures: vec!["inferred.slots_reused is false, expected true".into()],
        ..ok.clone()
    };
    RunDetails::new(vec![FileResult {
        file: "scenarios/gw.toml".into(),
        name: "Gateway".into(),
        checks: vec![ok, failed],
    }])
}

#[test]
fn run_table() {
    let r = report(
        "run",
        run_details(),
        vec![Finding::new("gw.toml:9", true, ""), Finding::new("gw.toml:17", false, "")],
        vec![],
    );
    insta::assert_snapshot!(render(&r, Style::default()));
}

#[test]
fn junit_xml() {
    insta::assert_snapshot!(wsprobe::scenario::junit::render(&run_details()).unwrap());
}
