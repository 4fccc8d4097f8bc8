//! The `--json` contract of SPEC.md, held to its shape ripgrep-style: each
//! case runs the real binary against the embedded reference server (scaled
//! down), and stdout must be exactly one JSON object that deserializes into
//! the test-side structs of `common::contract` (every field spelled out and
//! typed, unknown fields refused). A field added, renamed or removed by the
//! tool fails here until the contract is updated on purpose.
//!
//! The cases come from one table; `every_command_has_a_contract_case`
//! checks that it covers every check in the registry
//! (`wsprobe::check::NAMES`) and every other command that takes `--json`,
//! so a new check without a contract fails the suite.

mod common;

use clap::CommandFactory;
use common::contract::{self, Contract, Verdict};
use common::wsprobe;

/// One run of the binary whose `--json` output the contract covers.
struct Case {
    /// The test's name.
    name: &'static str,
    /// The arguments (`--json` is added when missing).
    args: &'static [&'static str],
}

/// Runs a case: exit code as given, stdout exactly one object meeting
/// contract `T`, and a contract strict enough that a missing or extra key
/// in that very output would fail it.
fn run_case<T: Contract>(args: &[&str], exit: i32) -> T {
    let mut args = args.to_vec();
    if !args.contains(&"--json") {
        args.push("--json");
    }
    let out = wsprobe().args(&args).output().expect("wsprobe runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(exit), "wsprobe {args:?}\nstdout:\n{stdout}\nstderr:\n{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    let report: T = contract::parse(&stdout);
    if args[0] != "merge" {
        assert_eq!(contract::Common::command(&report), args[0], "`command` names the command run");
    }
    let json: serde_json::Value = serde_json::from_str(&stdout).expect("JSON");
    let loose = contract::mutations_fail::<T>(&json);
    assert!(loose.is_empty(), "the contract accepted this output changed so: {loose:#?}");
    report
}

/// The cases: a test each, and a table the coverage test reads.
macro_rules! cases {
    ($( $(#[$doc:meta])* $name:ident: $ty:ty = [$($arg:expr),* $(,)?] => exit $exit:expr, |$r:ident| $body:block )*) => {
        const CASES: &[Case] = &[ $( Case { name: stringify!($name), args: &[$($arg),*] }, )* ];
        $(
            $(#[$doc])*
            #[test]
            fn $name() {
                let $r: $ty = run_case(&[$($arg),*], $exit);
                $body
            }
        )*
    };
}

cases! {
    /// `connect`: every phase, a message each way, the close.
    connect_succeeds: contract::ConnectReport = ["connect", "--send", "hello", "--listen", "200ms"] => exit 0, |r| {
        assert_eq!(r.http_status, Some(101));
        assert!(r.messages.len() >= 2, "a message out and its echo: {:?}", r.messages);
        assert!(r.close.is_some());
    }

    /// `connect --deflate` against `--server-deflate`: the agreed
    /// parameters, what was inflated, and binary messages in base64 with
    /// their length.
    connect_deflate_binary: contract::ConnectReport = [
        "connect", "--deflate", "--server-deflate", "--send", "hello", "--send-binary", "de ad be ef", "--listen", "200ms",
    ] => exit 0, |r| {
        let d = r.deflate.expect("deflate, offered");
        assert_eq!(d.offered, "permessage-deflate; client_max_window_bits");
        let p = d.negotiated.expect("negotiated");
        assert!(!p.server_no_context_takeover && !p.client_no_context_takeover);
        assert_eq!((p.server_max_window_bits, p.client_max_window_bits), (None, None));
        assert_eq!((d.inflated.messages, d.inflated.inflated_bytes), (2, 9), "both echoes came compressed");
        let binary: Vec<_> = r.messages.iter().filter(|m| m.kind == contract::TrafficKind::Binary).collect();
        assert_eq!(binary.len(), 2, "{:?}", r.messages);
        assert!(binary.iter().all(|m| m.data == "3q2+7w==" && m.bytes == Some(4)), "{binary:?}");
    }

    /// `connect` to a port where nothing listens: exit 2, one object with
    /// the reason; the target is shown redacted.
    connect_unreachable: contract::ConnectReport = ["connect", "ws://127.0.0.1:1/ws?access_token=abc"] => exit 2, |r| {
        assert_eq!(r.verdict, Verdict::Error);
        assert_eq!(r.target, "ws://127.0.0.1:1/ws?access_token=***");
        assert_eq!(r.http_status, None);
        assert!(r.error.as_deref().is_some_and(|e| e.contains("refused")), "{:?}", r.error);
    }

    /// The application handshake as its own step, and the `app` object.
    connect_app_ready: contract::ConnectReport = [
        "connect", "--server-require-init", "^hello$", "--init", "hello", "--ready", "^hello$", "--listen", "100ms",
    ] => exit 0, |r| {
        assert!(r.steps.iter().any(|s| s.phase == contract::StepPhase::App && s.ok), "{:?}", r.steps);
        let app = r.app.expect("app");
        assert_eq!((app.protocol, app.refusal.is_none()), (None, true));
        assert_eq!(app.exchange.len(), 2, "{:?}", app.exchange);
    }

    /// An application refusal after a successful upgrade.
    connect_app_refused: contract::ConnectReport = [
        "connect", "--server-require-init", "^hello$", "--init", "nope", "--ready", "^hello$",
    ] => exit 1, |r| {
        assert_eq!(r.http_status, Some(101));
        assert!(r.app.as_ref().and_then(|a| a.refusal.as_ref()).is_some(), "{:?}", r.app);
        assert_eq!(r.close.as_ref().map(|c| c.code), Some(4400));
    }

    single_policy: contract::SingleReport = ["single", "--hold", "200ms", "--settle", "100ms", "--distinct", "2"] => exit 0, |r| {
        assert_eq!(r.policy, contract::Policy::RejectNew);
        assert_eq!(r.second.http_status, Some(409));
        assert!(r.race.is_none(), "race only with --race");
    }

    single_race: contract::SingleReport = ["single", "--race", "--hold", "200ms", "--settle", "100ms", "--distinct", "2"] => exit 0, |r| {
        assert!(r.race.is_some(), "--race adds its own object");
    }

    /// A soak with client pings: pong round trips.
    stability_ping_frames: contract::StabilityReport = ["stability", "--duration", "800ms", "--ping-interval", "200ms"] => exit 0, |r| {
        assert_eq!(r.heartbeat, contract::Heartbeat::PingFrames);
        assert!(r.pong_rtt_ms.is_some());
    }

    /// A soak with an application heartbeat.
    stability_app_ping: contract::StabilityReport = [
        "stability", "--duration", "800ms", "--app-ping", r#"{"type":"ping"}"#, "--app-ping-interval", "200ms",
    ] => exit 0, |r| {
        assert!(r.app_ping.is_some());
    }

    /// A soak held by the generic application heartbeat: the `app` object.
    stability_app_protocol: contract::StabilityReport = [
        "stability", "--duration", "800ms", "--server-app-ping", "2", "--server-app-ping-interval", "200ms",
        "--server-app-pong", "^3$", "--reply", "^2$=3",
    ] => exit 0, |r| {
        assert_eq!(r.heartbeat, contract::Heartbeat::Protocol);
        let app = r.app.expect("app");
        assert!(app.replies >= 2 && app.server_heartbeats.count >= 2, "{app:?}");
    }

    /// A soak the server cuts short: a close record.
    stability_drop: contract::StabilityReport = [
        "stability", "--duration", "1s", "--server-drop-after", "200ms", "--server-ping-interval", "100ms",
    ] => exit 1, |r| {
        assert_eq!(r.closes.len(), 1, "{:?}", r.closes);
        assert_eq!(r.closes[0].code, 1006);
    }

    /// A missed pong closed with 1011 and a reason: read as a pong deadline,
    /// timed against the last ping.
    stability_pong_deadline: contract::StabilityReport = [
        "stability", "--duration", "1500ms", "--no-pong", "--server-ping-interval", "200ms",
        "--server-pong-timeout", "500ms", "--server-pong-timeout-close", "1011:keepalive ping timeout",
    ] => exit 1, |r| {
        let close = &r.closes[0];
        assert_eq!((close.code, close.cause), (1011, contract::Cause::PongDeadline), "{close:?}");
        assert!(close.since_ping_s.is_some_and(|s| s < 0.45), "{close:?}");
    }

    /// `--find-idle-timeout` has its own details: `idle_timeout` only.
    stability_find_idle_timeout: contract::IdleReport = [
        "stability", "--find-idle-timeout", "--max", "2s", "--server-idle-timeout", "300ms",
    ] => exit 0, |r| {
        assert!(r.idle_timeout.idle_timeout_s.is_some());
        assert!(!r.idle_timeout.probes.is_empty());
    }

    /// The search finding nothing up to `--max`: a null timeout.
    stability_find_no_idle_timeout: contract::IdleReport = ["stability", "--find-idle-timeout", "--max", "300ms"] => exit 0, |r| {
        assert_eq!(r.idle_timeout.method, contract::IdleMethod::NoneUpToMax);
    }

    ratelimit_churn: contract::RatelimitReport = [
        "ratelimit", "--server-rate-limit", "2/1s", "--attempts", "4", "--rate", "20/s",
    ] => exit 0, |r| {
        assert_eq!(r.mode, contract::RatelimitMode::Churn);
        assert!(r.attempts.iter().any(|a| a.http_status == Some(429)), "a rejection to classify: {:?}", r.attempts);
    }

    ratelimit_hold: contract::RatelimitReport = [
        "ratelimit", "--mode", "hold", "--server-max-clients", "3", "--attempts", "5", "--rate", "50/s",
    ] => exit 0, |r| {
        assert_eq!(r.mode, contract::RatelimitMode::Hold);
        assert_eq!(r.inferred.max_concurrent, Some(3));
    }

    /// A token bucket: the fitted model, every fit, and its goodness.
    ratelimit_bucket: contract::RatelimitReport = [
        "ratelimit", "--server-rate-limit", "2/1s", "--server-rate-limit-model", "bucket", "--attempts", "6", "--rate", "20/s",
    ] => exit 0, |r| {
        let model = r.inferred.model.as_ref().expect("a model");
        assert_eq!((model.kind, model.burst), (contract::ModelKind::Bucket, 2), "{model:?}");
        assert!(r.inferred.fits.len() == 3, "{:?}", r.inferred.fits);
    }

    /// A full server that queues: the cap's signal is `queued`, the
    /// attempts left waiting failed in the upgrade.
    ratelimit_queued: contract::RatelimitReport = [
        "ratelimit", "--mode", "hold", "--server-max-clients", "2", "--server-max-clients-mode", "queue",
        "--attempts", "3", "--rate", "50/s", "--connect-timeout", "500ms", "--max-wait", "1s",
    ] => exit 0, |r| {
        assert_eq!(r.inferred.signal.as_ref().map(|s| s.0.as_str()), Some("queued"));
        assert!(r.attempts.iter().any(|a| a.failed_in == Some(contract::Phase::Upgrade)), "{:?}", r.attempts);
    }

    /// A partitioned broadcast: two registries, so groups are present.
    fanout_partitioned: contract::FanoutReport = [
        "fanout", "--server-workers", "2", "--clients", "6", "--wait", "200ms", "--settle", "100ms",
    ] => exit 1, |r| {
        assert_eq!(r.groups.as_ref().map(Vec::len), Some(2));
        assert_eq!(r.clean_partition, Some(true));
    }

    /// Unicast routing through the reference server: everything arrives.
    fanout_unicast: contract::FanoutReport = [
        "fanout", "--mode", "unicast", "--clients", "4", "--wait", "200ms", "--settle", "100ms",
    ] => exit 0, |r| {
        assert_eq!((r.missing, r.cross_talk, r.groups.is_none()), (0, 0, true));
        assert!(r.latency_ms.is_some());
    }

    /// A storm with echo round trips, so every latency object is filled.
    storm_with_messages: contract::StormReport = [
        "storm", "--clients", "5", "--hold", "200ms", "--message", "hi", "--message-interval", "50ms",
    ] => exit 0, |r| {
        assert!(r.round_trip_ms.is_some() && r.reconnect_handshake_ms.is_some());
        assert_eq!(r.connected, 5);
    }

    /// `merge` of two storm shards: a storm report with `merged_from`
    /// (and no `shard`), its counts the shards' sums.
    merge_storm_shards: contract::StormReport = [
        "merge", "tests/fixtures/shards/storm-0.json", "tests/fixtures/shards/storm-1.json",
    ] => exit 0, |r| {
        assert_eq!(r.command, "storm", "a merged report keeps the shards' command");
        assert_eq!((r.clients, r.connected), (6, 6));
        assert_eq!(r.merged_from.as_ref().map(Vec::len), Some(2));
    }

    /// `merge` of one shard of two: the merged verdict is an error that names the missing shard.
    merge_with_a_missing_shard: contract::StormReport = ["merge", "tests/fixtures/shards/storm-1.json"] => exit 2, |r| {
        assert!(r.error.as_deref().is_some_and(|e| e.contains("shard 0 of 2 missing")), "{:?}", r.error);
    }

    /// `merge` of reports of different plans: refused, exit 2, one error object naming the files.
    merge_refuses_different_commands: contract::ErrorReport = [
        "merge", "tests/fixtures/shards/storm-0.json", "tests/fixtures/shards/stability-1.json",
    ] => exit 2, |r| {
        let e = r.error.as_deref().unwrap_or_default();
        assert!(e.contains("storm-0.json") && e.contains("stability-1.json"), "{e}");
    }

    /// A storm through an application handshake: `app_ready_ms` is filled.
    storm_app_ready: contract::StormReport = [
        "storm", "--clients", "5", "--hold", "100ms", "--server-require-init", "^hello$", "--init", "hello",
        "--ready", "^hello$",
    ] => exit 0, |r| {
        assert_eq!(r.app_ready_ms.as_ref().map(|p| p.count), Some(10));
    }

    /// A storm the application refuses: `closed-<code>` rejections.
    storm_app_refused: contract::StormReport = [
        "storm", "--clients", "3", "--hold", "100ms", "--disrupt", "none", "--max-attempts", "1",
        "--server-require-init", "^hello$", "--init", "nope", "--ready", "^hello$",
    ] => exit 1, |r| {
        assert_eq!(r.rejections.get(&contract::Outcome("closed-4400".into())), Some(&3));
    }

    /// `run`: every file and check, each check with its own full report
    /// (held to its own command's contract).
    run_scenario: contract::RunReport = ["run", "scenarios/heartbeat.toml"] => exit 0, |r| {
        assert!(r.checks >= 1);
    }

    selftest_filtered: contract::SelftestReport = ["selftest", "--filter", "echo"] => exit 0, |r| {
        assert!(!r.rows.is_empty());
    }

    /// A bad flag value with `--json`: exit 2 and one error object.
    error_object_for_a_bad_flag: contract::ErrorReport = ["single", "--json", "--hold", "soon"] => exit 2, |r| {
        assert!(r.error.as_deref().is_some_and(|e| e.contains("--hold")), "{:?}", r.error);
    }

    /// A command that fails before running (an unreadable scenario file).
    error_object_for_a_missing_file: contract::ErrorReport = ["run", "no/such/scenario.toml"] => exit 2, |r| {
        assert!(r.error.as_deref().is_some_and(|e| e.contains("no/such/scenario.toml")), "{:?}", r.error);
    }
}

/// Commands that print a report: every registered check, and every other
/// subcommand that takes `--json` (read from the clap definition, so a new
/// command is seen without editing this list).
fn json_commands() -> Vec<String> {
    let cli = wsprobe::cli::Cli::command();
    let mut names: Vec<String> = wsprobe::check::NAMES.iter().map(|n| n.to_string()).collect();
    for sub in cli.get_subcommands() {
        let name = sub.get_name().to_string();
        if sub.get_arguments().any(|a| a.get_long() == Some("json")) && !names.contains(&name) {
            names.push(name);
        }
    }
    names
}

#[test]
fn every_command_has_a_contract_case() {
    let commands = json_commands();
    assert!(commands.iter().any(|c| c == "run") && commands.iter().any(|c| c == "selftest"), "{commands:?}");
    for name in &commands {
        let cases: Vec<&str> = CASES.iter().filter(|c| c.args[0] == name.as_str()).map(|c| c.name).collect();
        assert!(!cases.is_empty(), "`{name}` has no --json contract case: add one to tests/json_contract.rs");
    }
    for case in CASES {
        assert!(commands.iter().any(|c| c == case.args[0]), "{}: unknown command {}", case.name, case.args[0]);
    }
}

/// The mechanism itself: an unknown key, a missing key and a wrong type
/// are each refused, and a command without a contract is named.
#[test]
fn the_contract_refuses_what_it_does_not_spell_out() {
    let good = serde_json::json!({
        "command": "single", "target": "", "verdict": "error", "findings": [], "diagnosis": [],
        "error": "bad", "elapsed_s": 0.0
    });
    assert!(contract::parse_value::<contract::ErrorReport>(&good).is_ok());
    let mut extra = good.clone();
    extra["surprise"] = serde_json::json!(1);
    assert!(contract::parse_value::<contract::ErrorReport>(&extra).is_err(), "unknown field");
    let mut missing = good.clone();
    missing.as_object_mut().unwrap().remove("elapsed_s");
    assert!(contract::parse_value::<contract::ErrorReport>(&missing).is_err(), "missing field");
    let mut null_error = good.clone();
    null_error["error"] = serde_json::Value::Null;
    assert!(contract::parse_value::<contract::ErrorReport>(&null_error).is_err(), "omittable, never null");
    let mut wrong = good.clone();
    wrong["verdict"] = serde_json::json!("maybe");
    assert!(contract::parse_value::<contract::ErrorReport>(&wrong).is_err(), "closed set of verdicts");
    let mut unknown = good;
    unknown["command"] = serde_json::json!("teleport");
    unknown["delivered"] = serde_json::json!(1);
    let err = contract::check_value(&unknown).unwrap_err();
    assert!(err.contains("no contract for command `teleport`"), "{err}");
}
