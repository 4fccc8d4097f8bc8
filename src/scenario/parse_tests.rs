//! Tests of scenario parsing: every error names the file, the line and the fix.

use super::*;

fn parse_str(text: &str) -> Result<Scenario, ScenarioError> {
    parse(Path::new("t.toml"), text, None)
}

#[test]
fn a_complete_scenario() {
    let s = parse_str("name = \"x\"\n[target.embedded]\nduplicate = \"replace\"\n[[check]]\ncommand = \"single\"\nhold = \"500ms\"\nexpect = { policy = \"replace-old\" }\n").unwrap();
    assert_eq!(s.checks.len(), 1);
    assert_eq!(s.checks[0].args[0], s.checks[0].command);
    assert_eq!(s.checks[0].args[1..], ["--server-duplicate", "replace", "--hold", "500ms"]);
    assert_eq!(s.checks[0].line, 4);
    assert_eq!(s.checks[0].expect.fields.len(), 1);
}

#[test]
fn unknown_top_level_key_names_the_line() {
    let e = parse_str("name = \"x\"\ntarget = { url = \"ws://h/\" }\ncolour = 1\n[[check]]\ncommand = \"single\"\n")
        .unwrap_err();
    assert_eq!((e.file.as_str(), e.line), ("t.toml", 3), "{e}");
    assert!(e.message.contains("colour"), "{e}");
}

#[test]
fn unknown_check_option_names_the_line_and_the_fix() {
    let e = parse_str("[target]\nurl = \"ws://h/\"\n[[check]]\ncommand = \"single\"\nhodl = \"1s\"\n").unwrap_err();
    assert_eq!(e.line, 5, "{e}");
    assert!(e.message.contains("--hodl") && e.message.contains("--hold"), "{e}");
}

#[test]
fn bad_value_names_the_line() {
    let e = parse_str(
        "[target]\nurl = \"ws://h/\"\n[[check]]\ncommand = \"storm\"\nclients = 5\nbackoff = \"sometimes\"\n",
    )
    .unwrap_err();
    assert_eq!(e.line, 6, "{e}");
    assert!(e.message.contains("exp:500ms..30s"), "{e}");
}

#[test]
fn unknown_command_and_bad_server_option() {
    let e = parse_str("[target]\nurl = \"ws://h/\"\n[[check]]\ncommand = \"flood\"\n").unwrap_err();
    assert!(e.line == 4 && e.message.contains("one of"), "{e}");
    let e = parse_str("[target.embedded]\npong_timeout = \"1s\"\n[[check]]\ncommand = \"single\"\n").unwrap_err();
    assert!(e.message.contains("--server-ping-interval"), "{e}");
}

/// Set variables are tested through the binary (tests/scenarios.rs), with
/// the child's own environment: setting one here would race other threads.
#[test]
fn environment_references_keep_literals_and_unset_ones_name_their_line() {
    let s = parse_str(
        "[target]\nurl = \"ws://${WSPROBE_PARSE_TEST_HOST:-127.0.0.1:9}/ws\"\n[[check]]\ncommand = \"connect\"\nsend = [\"$${literal}\", \"^a$\"]\n",
    )
    .unwrap();
    assert_eq!(s.checks[0].args[1..], ["ws://127.0.0.1:9/ws", "--send", "${literal}", "--send", "^a$"]);
    let e = parse_str("[target]\nurl = \"ws://h/\"\n[[check]]\ncommand = \"connect\"\n\nheader = [\"X: ${WSPROBE_PARSE_TEST_UNSET}\"]\n")
        .unwrap_err();
    assert_eq!((e.file.as_str(), e.line), ("t.toml", 6), "{e}");
    assert!(e.message.contains("${WSPROBE_PARSE_TEST_UNSET} is not set"), "{e}");
}

#[test]
fn run_options_apply_to_every_check_unless_it_has_its_own() {
    let overrides = Overrides {
        headers: vec!["X-Run: yes".parse().unwrap()],
        protocol: Some("socketio".into()),
        ..Overrides::default()
    };
    let text = "[target]\nurl = \"ws://h/\"\n[[check]]\ncommand = \"connect\"\n[[check]]\ncommand = \"connect\"\nprotocol = \"phoenix\"\nheader = [\"x-run: mine\"]\n";
    let s = parse_with(Path::new("t.toml"), text, &overrides).unwrap();
    assert_eq!(s.checks[0].args[1..], ["ws://h/", "--header", "X-Run: yes", "--protocol", "socketio"]);
    assert_eq!(s.checks[1].args[1..], ["ws://h/", "--header", "x-run: mine", "--protocol", "phoenix"]);
}
