//! The binary as users and CI meet it: exit codes 0/1/2, one JSON object on
//! stdout with --json (even for errors), clear one-line errors, help,
//! completions and the man page.

mod common;

use common::{json_stdout, wsprobe};
use predicates::prelude::*;

#[test]
fn single_passes_with_exit_0() {
    wsprobe()
        .args(["single", "--hold", "300ms", "--settle", "200ms"])
        .assert()
        .code(0)
        .stdout(predicate::str::contains("reject-new"))
        .stdout(predicate::str::contains("PASS"));
}

#[test]
fn failed_expectation_exits_1() {
    wsprobe()
        .args(["single", "--server-duplicate", "allow", "--expect", "single", "--hold", "300ms", "--settle", "200ms"])
        .assert()
        .code(1)
        .stdout(predicate::str::contains("FAIL"));
}

#[test]
fn json_output_is_exactly_one_object() {
    let out = wsprobe().args(["single", "--json", "--hold", "300ms", "--settle", "200ms"]).output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    let json = json_stdout(&out);
    assert_eq!(json["command"], "single");
    assert_eq!(json["second"]["http_status"], 409);
}

#[test]
fn unreachable_exits_2_with_one_line() {
    let out = wsprobe().args(["connect", "ws://127.0.0.1:1/"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty());
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.starts_with("wsprobe: error: connection refused"), "{err}");
}

#[test]
fn unreachable_with_json_is_still_one_object() {
    let out = wsprobe().args(["connect", "ws://127.0.0.1:1/", "--json"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let json = json_stdout(&out);
    assert_eq!(json["verdict"], "error");
    assert!(json["error"].as_str().unwrap().contains("refused"));
}

#[test]
fn bad_arguments_exit_2_naming_the_flag() {
    wsprobe()
        .args(["single", "--hold", "soon"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("--hold").and(predicate::str::contains("500ms")));
    wsprobe().args(["single", "http://example.com/"]).assert().code(2).stderr(predicate::str::contains("use ws://"));
    wsprobe()
        .args(["single", "--server-pong-timeout", "1s"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("--server-ping-interval"));
}

#[test]
fn bad_arguments_with_json_print_one_error_object() {
    let out = wsprobe().args(["single", "--json", "--hold", "soon"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let json = json_stdout(&out);
    assert_eq!(json["verdict"], "error");
    assert!(json["error"].as_str().unwrap().contains("--hold"));
}

#[test]
fn quiet_prints_only_the_verdict() {
    let out = wsprobe().args(["single", "-q", "--hold", "300ms", "--settle", "200ms"]).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(text.trim(), text.trim().lines().next().unwrap().trim(), "{text}");
    assert!(text.contains("PASS"));
}

#[test]
fn completions_and_man_page() {
    wsprobe().args(["completions", "bash"]).assert().code(0).stdout(predicate::str::contains("wsprobe"));
    wsprobe().args(["completions", "zsh"]).assert().code(0).stdout(predicate::str::contains("#compdef wsprobe"));
    wsprobe().args(["completions", "fish"]).assert().code(0).stdout(predicate::str::contains("complete -c wsprobe"));
    wsprobe().arg("man").assert().code(0).stdout(predicate::str::contains(".TH wsprobe"));
}

/// The command names in the help's `Commands:` section, in order.
fn help_commands(help: &str) -> Vec<String> {
    let section = help.split_once("\nCommands:\n").map(|(_, rest)| rest).expect("a Commands: section");
    section
        .lines()
        .take_while(|l| !l.trim().is_empty())
        .filter(|l| l.starts_with("  ") && !l[2..].starts_with(' '))
        .filter_map(|l| l.split_whitespace().next())
        .map(str::to_string)
        .collect()
}

#[test]
fn help_lists_every_command() {
    let out = wsprobe().arg("--help").output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    let listed = help_commands(&String::from_utf8_lossy(&out.stdout));
    let mut expected: Vec<String> = wsprobe::check::NAMES.iter().map(|n| n.to_string()).collect();
    expected.extend(["serve", "selftest", "run", "merge", "report", "completions", "man", "help"].map(String::from));
    assert_eq!(listed, expected, "the checks in registry order, then the other commands");
    for cmd in listed.iter().filter(|c| *c != "help") {
        wsprobe().args([cmd.as_str(), "--help"]).assert().code(0).stdout(predicate::str::contains("Usage: wsprobe"));
    }
}

/// Bad input of every kind: exit 2 and a first line that names the flag
/// (or the value) and says what to write instead.
#[test]
fn bad_input_names_the_flag_and_the_fix() {
    let cases: &[(&[&str], &[&str])] = &[
        (&["connect", "ws//no-scheme"], &["invalid URL", "ws://host:port/path"]),
        (&["connect", "ftp://host/"], &["unknown scheme", "ws://"]),
        (&["connect", "wss://"], &["invalid URL"]),
        (&["ratelimit", "--rate", "fast"], &["--rate", "3/10s"]),
        (&["storm", "--backoff", "linear"], &["--backoff", "exp:500ms..30s"]),
        (&["storm", "--jitter", "some"], &["--jitter", "full"]),
        (&["stability", "--duration", "forever"], &["--duration", "500ms"]),
        (&["storm", "--ramp", "1s", "--connect-rate", "10/s"], &["--ramp", "--connect-rate"]),
        (&["storm", "--clients", "0"], &["--clients"]),
        (&["stability", "--find-idle-timeout", "--ping-interval", "1s"], &["--find-idle-timeout", "--ping-interval"]),
        (&["ratelimit", "--expect-max", "5"], &["--expect-max", "--mode hold"]),
        (&["serve", "--pong-timeout", "1s"], &["--pong-timeout", "--ping-interval"]),
        (&["serve", "--identity", "cookie:x"], &["query:NAME"]),
        (&["single", "-H", "no colon here"], &["Name: value"]),
    ];
    for (args, words) in cases {
        let out = wsprobe().args(*args).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        let first = err.lines().next().unwrap_or("");
        for w in *words {
            assert!(first.contains(w), "{args:?}: first line {first:?} should name {w:?}");
        }
    }
}

/// `--help` split into its sections: heading → the long flags listed under it.
fn help_sections(help: &str) -> Vec<(String, Vec<String>)> {
    let mut sections: Vec<(String, Vec<String>)> = Vec::new();
    for line in help.lines() {
        if !line.starts_with(' ') && line.ends_with(':') {
            sections.push((line.trim_end_matches(':').to_string(), Vec::new()));
        } else if let (Some(section), Some(flag)) = (sections.last_mut(), flag_of(line)) {
            section.1.push(flag);
        }
    }
    sections
}

/// The long flag an option line of `--help` starts with (`  -H, --header <HEADER>`).
fn flag_of(line: &str) -> Option<String> {
    let t = line.trim_start();
    let t = t.strip_prefix("-").filter(|_| line.starts_with("  ") && line.len() - t.len() <= 6)?;
    let long = t.split_once("--").map(|(_, rest)| rest).or_else(|| t.strip_prefix('-'))?;
    Some(long.split([' ', ',', '.']).next().unwrap_or_default().to_string())
}

/// Every registry command's own options (what it declares beyond the
/// shared client options) are listed under "Options", which comes before
/// the embedded server's section; that section lists only `--server-*`.
#[test]
fn each_commands_own_options_have_their_own_section_above_the_embedded_server() {
    use clap::{Args, CommandFactory};
    let shared: Vec<String> = wsprobe::args::ClientArgs::augment_args(clap::Command::new("shared"))
        .get_arguments()
        .filter_map(|a| a.get_long().map(str::to_string))
        .collect();
    let cli = wsprobe::cli::Cli::command();
    for name in wsprobe::check::NAMES {
        let own: Vec<String> = cli
            .find_subcommand(name)
            .unwrap()
            .get_arguments()
            .filter_map(|a| a.get_long().map(str::to_string))
            .filter(|l| !shared.contains(l) && l != "help" && l != "version")
            .collect();
        assert!(!own.is_empty(), "{name} declares options of its own");
        let out = wsprobe().args([name, "--help"]).output().unwrap();
        let sections = help_sections(&String::from_utf8_lossy(&out.stdout));
        let titles: Vec<&str> = sections.iter().map(|(t, _)| t.as_str()).collect();
        let position = |title: &str| titles.iter().position(|t| *t == title);
        let embedded = position("Embedded server (when no URL is given)").expect("an embedded-server section");
        let options = position("Options").expect("an Options section");
        assert!(options < embedded, "{name}: {titles:?}");
        for flag in &own {
            let under: Vec<&str> =
                sections.iter().filter(|(_, flags)| flags.contains(flag)).map(|(t, _)| t.as_str()).collect();
            assert_eq!(under, ["Options"], "{name} --{flag} is listed under {under:?}");
        }
        let shared_in_options: Vec<&String> = sections[options].1.iter().filter(|f| shared.contains(f)).collect();
        assert!(shared_in_options.is_empty(), "{name}: shared options under Options: {shared_in_options:?}");
        let stray: Vec<&String> = sections[embedded].1.iter().filter(|f| !f.starts_with("server-")).collect();
        assert!(stray.is_empty(), "{name}: not the embedded server's: {stray:?}");
        let connection = position("Connection").expect("a Connection section");
        assert!(sections[connection].1.contains(&"header".to_string()), "{name}: -H is a connection option");
    }
}
