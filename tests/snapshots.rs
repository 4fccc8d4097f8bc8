//! Snapshots of the pure renderers (human tables, quiet output, JUnit XML)
//! on synthetic reports, so a change to what users read is a reviewed diff.

use std::collections::BTreeMap;

use wsprobe::check::connect::{ConnectDetails, DeflateReport, Step, Traffic};
use wsprobe::check::ratelimit::infer::{AttemptRecord, Purpose, Signal};
use wsprobe::check::ratelimit::model::{Fit, ModelKind};
use wsprobe::check::ratelimit::{Inferred, RatelimitDetails, RatelimitMode};
use wsprobe::check::single::{ConnOutcome, ConnState, Distinct, Policy, SingleDetails};
use wsprobe::check::stability::{CloseRecord, Period};
use wsprobe::check::stability::{Heartbeat, ServerPings, StabilityDetails, StabilityHistograms};
use wsprobe::check::Observation;
use wsprobe::event::{CloseInfo, EndHow};
use wsprobe::exit::Verdict;
use wsprobe::net::deflate::DeflateParams;
use wsprobe::net::inflate::InflateStats;
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
        since_ping_s: Some(0.5),
        idle_data_in_s: 1.0,
        idle_data_out_s: 1.0,
        cause: wsprobe::check::stability::cause::Cause::TokenTtl,
    };
    let details = StabilityDetails {
        clients: 1,
        duration_s: 3.0,
        held_s: 3.0,
        survived: 0,
        connections: 3,
        heartbeat: Heartbeat::PingFrames,
        closes: vec![close.clone(), CloseRecord { at_s: 2.0, ..close }],
        closes_omitted: None,
        drop_kinds: Vec::new(),
        server_pings: ServerPings { count: 4, median_interval_s: Some(0.5) },
        pong_rtt_ms: None,
        app_ping: None,
        period: Some(Period { seconds: 1.0, code: 4001, drops: 2 }),
        failed_attempts: Default::default(),
        ping_interval_s: Some(0.5),
        app_ping_interval_s: None,
        histograms: StabilityHistograms { ping_intervals: String::new(), pong_rtt: String::new() },
        app: None,
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

fn step(phase: &str, ok: bool, ms: Option<f64>, detail: &str) -> Step {
    Step { phase: phase.into(), ok, ms, detail: detail.into() }
}

fn headers(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs.iter().map(|(n, v)| (n.to_string(), v.to_string())).collect()
}

#[test]
fn connect_table() {
    let details = ConnectDetails {
        steps: vec![
            step("dns", true, Some(0.01), "resolved"),
            step("tcp", true, Some(0.21), "connected 127.0.0.1:50000 → 127.0.0.1:9001"),
            step("upgrade", true, Some(0.35), "HTTP/1.1 101 Switching Protocols"),
            step("close", true, Some(0.3), "sent 1000, the server answered 1000"),
        ],
        http_status: Some(101),
        response_headers: headers(&[
            ("Upgrade", "websocket"),
            ("Connection", "Upgrade"),
            ("Sec-WebSocket-Accept", "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="),
        ]),
        subprotocol: Some("chat.v1".into()),
        messages: vec![
            Traffic { at_ms: 0.1, direction: "out", kind: "text", data: "hello".into(), bytes: None },
            Traffic { at_ms: 0.6, direction: "in", kind: "text", data: "hello".into(), bytes: None },
            Traffic { at_ms: 0.7, direction: "out", kind: "binary", data: "3q2+7w==".into(), bytes: Some(4) },
            Traffic { at_ms: 0.9, direction: "in", kind: "binary", data: "3q2+7w==".into(), bytes: Some(4) },
            Traffic { at_ms: 250.0, direction: "in", kind: "ping", data: "0 bytes (answered)".into(), bytes: None },
        ],
        extensions: Some("permessage-deflate; server_no_context_takeover".into()),
        deflate: Some(DeflateReport {
            offered: "permessage-deflate; client_max_window_bits".into(),
            negotiated: Some(DeflateParams { server_no_context_takeover: true, ..DeflateParams::default() }),
            inflated: InflateStats { messages: 2, compressed_bytes: 13, inflated_bytes: 9 },
        }),
        close: Some(CloseInfo::ours(1000, "wsprobe done")),
        ..ConnectDetails::default()
    };
    let r = report(
        "connect",
        details,
        vec![
            Finding::new("upgrade", true, "upgraded in 0.6 ms"),
            Finding::new("close", true, "sent 1000, the server answered 1000"),
        ],
        vec![],
    );
    assert_eq!(r.verdict, Verdict::Pass);
    insta::assert_snapshot!(render(&r, Style::default()));
}

/// wss through a proxy: the proxy's step, the TLS session and the
/// server's certificate, with the warning for one that expires soon.
#[test]
fn connect_tls_proxy_table() {
    use wsprobe::net::tls::info::{CertInfo, TlsInfo};
    let details = ConnectDetails {
        steps: vec![
            step("dns", true, Some(0.01), "resolved"),
            step("tcp", true, Some(0.2), "connected 127.0.0.1:50000 → 127.0.0.1:3128"),
            step("proxy", true, Some(0.9), "http://user:***@127.0.0.1:3128 (from HTTPS_PROXY): CONNECT localhost:8443: HTTP/1.1 200 Connection established"),
            step("tls", true, Some(2.1), "TLS 1.3, TLS13_AES_256_GCM_SHA384, ALPN http/1.1; certificate CN=localhost"),
            step("upgrade", true, Some(0.5), "HTTP/1.1 101 Switching Protocols"),
        ],
        http_status: Some(101),
        tls: Some(TlsInfo {
            version: "TLS 1.3".into(),
            cipher_suite: "TLS13_AES_256_GCM_SHA384".into(),
            alpn: Some("http/1.1".into()),
            certificate: Some(CertInfo {
                subject: "CN=localhost".into(),
                issuer: "CN=wsprobe test CA".into(),
                sans: vec!["localhost".into(), "127.0.0.1".into()],
                not_before: "2026-01-01T00:00:00Z".into(),
                not_after: "2026-01-06T00:00:00Z".into(),
                expires_in_days: 5.0,
            }),
        }),
        ..ConnectDetails::default()
    };
    let warning = "the server's certificate (CN=localhost) expires on 2026-01-06T00:00:00Z, in 5.0 days: renew it before clients start failing";
    let mut r = report("connect", details, vec![Finding::new("upgrade", true, "upgraded in 3.7 ms")], vec![]);
    r.warnings.push(warning.into());
    insta::assert_snapshot!(render(&r, Style::default()));
}

#[test]
fn connect_refused_table() {
    let details = ConnectDetails {
        steps: vec![
            step("dns", true, Some(0.01), "resolved"),
            step("tcp", true, Some(0.2), "connected"),
            step("upgrade", false, Some(0.4), "HTTP 409 Conflict: identity 'dev-0' is already connected"),
        ],
        http_status: Some(409),
        response_headers: headers(&[
            ("Content-Type", "text/plain; charset=utf-8"),
            ("Content-Length", "37"),
            ("Connection", "close"),
        ]),
        body: Some("identity 'dev-0' is already connected".into()),
        ..ConnectDetails::default()
    };
    let r = report(
        "connect",
        details,
        vec![Finding::new(
            "upgrade",
            false,
            "the server refused the upgrade: HTTP 409 Conflict: identity 'dev-0' is already connected",
        )],
        vec!["409: this identity is already connected and the server refuses a second connection."],
    );
    assert_eq!(r.verdict, Verdict::Fail);
    insta::assert_snapshot!(render(&r, Style::default()));
}

fn attempt(n: u32, at_s: f64, outcome: &str, purpose: Purpose) -> AttemptRecord {
    let http_status = outcome.strip_prefix("http-").and_then(|s| s.parse().ok());
    AttemptRecord {
        n,
        at_s,
        outcome: outcome.parse().expect("an outcome word"),
        http_status,
        retry_after: http_status.filter(|s| *s == 429).map(|_| "2".into()),
        close_code: outcome.strip_prefix("closed-").and_then(|s| s.parse().ok()),
        failed_in: None,
        purpose,
        hint: None,
    }
}

fn outcomes(attempts: &[AttemptRecord]) -> BTreeMap<wsprobe::net::attempt::Outcome, u32> {
    let mut out = BTreeMap::new();
    for a in attempts {
        *out.entry(a.outcome).or_insert(0) += 1;
    }
    out
}

fn window_fit() -> Fit {
    Fit {
        kind: ModelKind::Window,
        burst: 3,
        window_s: Some(2.0),
        refill_per_s: None,
        explained: 6,
        answered: 6,
        fit: 1.0,
        summary: "3 per 2 s".into(),
    }
}

#[test]
fn ratelimit_churn_table() {
    let attempts = vec![
        attempt(1, 0.001, "accepted", Purpose::Scheduled),
        attempt(2, 0.05, "accepted", Purpose::Scheduled),
        attempt(3, 0.1, "accepted", Purpose::Scheduled),
        attempt(4, 0.15, "http-429", Purpose::Scheduled),
        attempt(5, 0.2, "closed-1008", Purpose::Scheduled),
        attempt(6, 2.001, "accepted", Purpose::WindowProbe),
    ];
    let details = RatelimitDetails {
        mode: RatelimitMode::Churn,
        rate: "20/s".into(),
        accepted: 4,
        rejected: 2,
        outcomes: outcomes(&attempts),
        attempts,
        inferred: Inferred {
            burst: Some(3),
            window_s: Some(2.0),
            limit: Some("3/2s".into()),
            signal: Some(Signal::Outcome(wsprobe::net::attempt::Outcome::Http(429))),
            retry_after: Some("2".into()),
            model: Some(window_fit()),
            fits: vec![window_fit()],
            ..Inferred::default()
        },
    };
    let r = report(
        "ratelimit",
        details,
        vec![Finding::new("rate-limit", true, "3 accepted, then http-429 (Retry-After: 2) for 2.0 s: about 3/2s")],
        vec!["A per-IP rate limit of about 3 connections per 2 s, signalled with HTTP 429 and Retry-After."],
    );
    insta::assert_snapshot!(render(&r, Style::default()));
}

#[test]
fn ratelimit_hold_table() {
    let attempts = vec![
        attempt(1, 0.001, "accepted", Purpose::Scheduled),
        attempt(2, 0.02, "accepted", Purpose::Scheduled),
        attempt(3, 0.04, "http-503", Purpose::Scheduled),
        attempt(4, 0.6, "http-503", Purpose::ReuseProbe),
    ];
    let details = RatelimitDetails {
        mode: RatelimitMode::Hold,
        rate: "50/s".into(),
        accepted: 2,
        rejected: 2,
        outcomes: outcomes(&attempts),
        attempts,
        inferred: Inferred {
            burst: Some(2),
            max_concurrent: Some(2),
            slots_reused: Some(false),
            signal: Some(Signal::Outcome(wsprobe::net::attempt::Outcome::Http(503))),
            ..Inferred::default()
        },
    };
    let r = report(
        "ratelimit",
        details,
        vec![
            Finding::new("max-concurrent", true, "2 connections at once, then http-503"),
            Finding::new("slot-reuse", false, "a closed connection's slot never came back"),
        ],
        vec!["The server counts slots it never frees: after 2 connections ever, it refuses everyone."],
    );
    assert_eq!(r.verdict, Verdict::Fail);
    insta::assert_snapshot!(render(&r, Style::default()));
}

// `storm` has no snapshot built by hand yet: `StormDetails` cannot be
// constructed outside the crate, because the types of its `messages` and
// `histograms` fields live in the private `check::storm::report` module
// (src/check/storm/mod.rs re-exports only `StormDetails`).

fn pct(p50: f64, p99: f64, max: f64, count: u64) -> wsprobe::stats::latency::Percentiles {
    wsprobe::stats::latency::Percentiles { p50, p90: (p50 + p99) / 2.0, p99, p999: max, max, count }
}

#[test]
fn storm_table() {
    use wsprobe::check::storm::{Disrupt, Histograms, Messages, StormDetails, StormTimes, WaveCounts};
    use wsprobe::net::attempt::{FailureKind, Outcome, Phase};
    use wsprobe::stats::latency::Bucket;
    use wsprobe::stats::listen_queue::ListenQueue;
    let details = StormDetails {
        mode: "websocket".into(),
        clients: 300,
        connected: 200,
        reconnected: Some(200),
        gave_up: 100,
        attempts: 750,
        connections_per_s: Some(4100.0),
        steady_connections_per_s: None,
        peak_attempts_per_s: 420,
        reconnect_peak_attempts_per_s: Some(250),
        attempts_per_s: vec![420, 250, 80],
        recovery_s: Some(1.25),
        peak_concurrent: 200,
        handshake_ms: Some(pct(2.5, 9.8, 12.1, 200)),
        reconnect_handshake_ms: Some(pct(0.4, 1.9, 2.2, 200)),
        tcp_connect_ms: Some(pct(0.3, 1.1, 1.6, 750)),
        proxy_connect_ms: None,
        round_trip_ms: None,
        app_ready_ms: None,
        tls_ms: None,
        upgrade_ms: Some(pct(1.9, 8.2, 10.3, 400)),
        timeouts: BTreeMap::from([(Phase::Upgrade, 40)]),
        listen_queue: Some(ListenQueue { overflows: 35, drops: 35 }),
        interruption: None,
        messages: Messages { sent: 0, received: 0, per_s: None },
        rejections: BTreeMap::from([(Outcome::Http(503), 510), (Outcome::Failed(FailureKind::Timeout), 40)]),
        app_refusal: None,
        drops: BTreeMap::new(),
        histogram: String::new(),
        histograms: Histograms {
            handshake: String::new(),
            reconnect_handshake: String::new(),
            tcp_connect: String::new(),
            round_trip: String::new(),
            app_ready: String::new(),
            proxy_connect: String::new(),
            tls: String::new(),
            upgrade: String::new(),
        },
        handshake_buckets: vec![
            Bucket { le_ms: 2.0, count: 60 },
            Bucket { le_ms: 4.0, count: 120 },
            Bucket { le_ms: 16.0, count: 20 },
        ],
        disrupt: Disrupt::Abrupt,
        backoff: "exp:50ms..1s (jitter full)".into(),
        max_attempts: 10,
        waves: [
            WaveCounts { attempts: 300, accepted: 200, gave_up: 100 },
            WaveCounts { attempts: 450, accepted: 200, gave_up: 0 },
        ],
        times: StormTimes::default(),
    };
    let r = report(
        "storm",
        details,
        vec![
            Finding::new("first-wave", false, "200/300 clients connected; 100 gave up (http-503 ×510, timeout ×40)"),
            Finding::new("reconnect-wave", true, "200/200 clients back 1.25 s after the disruption"),
        ],
        vec!["Failed attempts: http-503 ×510, timeout ×40. 503: the server was full (a max-clients cap or overload)"],
    );
    insta::assert_snapshot!(render(&r, Style::default()));
}

#[test]
fn fanout_partition_table() {
    use wsprobe::check::fanout::{ClientDelivery, FanoutDetails};
    let client = |c: u32| ClientDelivery { client: c, expected: 4, delivered: 2, missing: 2, ..Default::default() };
    use wsprobe::check::fanout::{Audience, FanoutHistograms, Mode};
    let details = FanoutDetails {
        mode: Mode::Broadcast,
        audience: Audience::All,
        clients: 4,
        all_clients: 4,
        connected: 4,
        messages: 4,
        published: 4,
        publish_failures: 0,
        skipped_rounds: 0,
        expected: 16,
        delivered: 8,
        missing: 8,
        duplicates: 0,
        cross_talk: 0,
        echoes: 0,
        delivery_ratio: Some(0.5),
        delivery_window_s: Some(0.0004),
        deliveries_per_s: Some(20000.0),
        latency_ms: Some(pct(0.3, 0.5, 0.5, 8)),
        spread_ms: None,
        histogram: String::new(),
        histograms: FanoutHistograms { latency: String::new(), spread: String::new() },
        inversions: 0,
        other_messages: 0,
        groups: Some(vec![vec![0, 2], vec![1, 3]]),
        clean_partition: true,
        per_client: (0..4).map(client).collect(),
        drops: Vec::new(),
        connect_failures: BTreeMap::new(),
        expect_ratio: None,
        unconnected: Vec::new(),
        unpublished_rounds: Vec::new(),
        heard: None,
        round_spans: None,
        delivery_times: None,
    };
    let r = report(
        "fanout",
        details,
        vec![Finding::new("delivery", false, "8/16 expected deliveries (50.00%)")],
        vec!["2 workers (or pods) each keep their own connection registry: a broadcast reaches only the publisher's group (groups of 2, 2). Share one pub/sub (for example Redis) between them."],
    );
    insta::assert_snapshot!(render(&r, Style::default()));
}
