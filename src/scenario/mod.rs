//! Scenario files: a target (a URL, or the embedded server with options)
//! and a list of checks, each a client command with its options and what
//! it must show. For CI smoke tests: `wsprobe run scenarios/`.
//!
//! ```toml
//! name = "Chat hub"
//! [target.embedded]            # or: [target] url = "wss://chat.example.com/ws?user=u-{client}"
//! duplicate = "replace"
//! [[check]]
//! command = "single"
//! hold = "500ms"
//! expect_verdict = "pass"
//! expect = { policy = "replace-old", "first.close_code" = 4000 }
//! ```
//!
//! The top level is typed (unknown keys are refused). A check's options
//! are the command's own flags (`max_attempts` is `--max-attempts`) and are
//! checked by the same definitions as the command line when the file is
//! loaded, so a file and a command line mean the same thing. Every error
//! names the file and line. String values may read the environment,
//! `${NAME}` or `${NAME:-default}` (see [`mod@env`]); what they read is masked
//! in every output.

pub mod defaults;
pub mod env;
pub mod expect;
pub mod junit;
pub mod run;
pub(crate) mod table;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use clap::Parser;
use serde::Deserialize;
use toml::Spanned;

use crate::cli::Cli;
use crate::exit::Verdict;
pub use defaults::Overrides;
use expect::{Expect, Matcher};

/// A scenario file that cannot be used, with where and why.
#[derive(Debug, thiserror::Error)]
#[error("{file}:{line}: {message}")]
pub struct ScenarioError {
    /// The file.
    pub file: String,
    /// 1-based line.
    pub line: usize,
    /// What is wrong and what to write instead.
    pub message: String,
}

/// A loaded, checked scenario file.
#[derive(Debug, Clone)]
pub struct Scenario {
    /// Where it came from.
    pub path: PathBuf,
    /// Its name.
    pub name: String,
    /// Its checks.
    pub checks: Vec<CheckSpec>,
}

/// One check of a scenario.
#[derive(Debug, Clone)]
pub struct CheckSpec {
    /// Its name (defaults to the command).
    pub name: String,
    /// The client command.
    pub command: String,
    /// The command's flags, target included, as a command line.
    pub args: Vec<String>,
    /// What it must show.
    pub expect: Expect,
    /// Line of the `[[check]]` table.
    pub line: usize,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    name: Option<Spanned<String>>,
    #[allow(dead_code)]
    description: Option<String>,
    target: RawTarget,
    #[serde(default)]
    check: Vec<Spanned<BTreeMap<String, Spanned<toml::Value>>>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTarget {
    url: Option<Spanned<String>>,
    embedded: Option<BTreeMap<String, Spanned<toml::Value>>>,
}

/// The commands a check may name: every check of the registry.
const COMMANDS: &[&str] = crate::check::NAMES;

/// Parses a check's command line (`single --hold 1s ...`) with the real
/// command-line definitions and builds its plan.
pub fn plan_check(args: &[String]) -> anyhow::Result<Box<dyn crate::check::Planned>> {
    let argv = std::iter::once("wsprobe".to_string()).chain(args.iter().cloned()).chain(["--quiet".to_string()]);
    match Cli::try_parse_from(argv)?.command {
        crate::cli::Command::Check(check) => Ok(check.plan()?),
        other => anyhow::bail!("`wsprobe {}` is not a client check", other.name()),
    }
}

/// Finds the scenario files under the given files or folders (`*.toml`, sorted).
pub fn collect(paths: &[PathBuf]) -> Result<Vec<PathBuf>, ScenarioError> {
    let mut files = Vec::new();
    for path in paths {
        if path.is_dir() {
            let entries = std::fs::read_dir(path).map_err(|e| io_error(path, &e))?;
            let mut found: Vec<PathBuf> = entries
                .filter_map(|e| e.ok())
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|x| x == "toml"))
                .collect();
            found.sort();
            if found.is_empty() {
                return Err(ScenarioError {
                    file: path.display().to_string(),
                    line: 0,
                    message: "no *.toml scenario files in this folder".into(),
                });
            }
            files.extend(found);
        } else {
            files.push(path.clone());
        }
    }
    Ok(files)
}

fn io_error(path: &Path, e: &std::io::Error) -> ScenarioError {
    ScenarioError { file: path.display().to_string(), line: 0, message: format!("cannot read it: {e}") }
}

/// Loads and checks one scenario file with `run`'s options for every check.
pub fn load(path: &Path, overrides: &Overrides) -> Result<Scenario, ScenarioError> {
    let text = std::fs::read_to_string(path).map_err(|e| io_error(path, &e))?;
    parse_with(path, &text, overrides)
}

/// Parses scenario text (`path` names it in errors); `target` overrides its target.
pub fn parse(path: &Path, text: &str, target: Option<&str>) -> Result<Scenario, ScenarioError> {
    parse_with(path, text, &Overrides::target(target))
}

/// Parses scenario text with `run`'s options for every check.
pub fn parse_with(path: &Path, text: &str, overrides: &Overrides) -> Result<Scenario, ScenarioError> {
    let file = path.display().to_string();
    let at = |span: std::ops::Range<usize>, message: String| ScenarioError {
        file: file.clone(),
        line: line_of(text, span.start),
        message,
    };
    let mut raw: RawFile = toml::from_str(text).map_err(|e| at(e.span().unwrap_or(0..0), first_line(e.message())))?;
    expand_env(&mut raw).map_err(|(span, m)| at(span, m))?;
    let target_args = target_args(&raw.target, overrides.target.as_deref()).map_err(|(span, m)| at(span, m))?;
    if raw.check.is_empty() {
        return Err(at(
            0..0,
            format!(
                "no checks: add at least one [[check]] table with command = \"single\" (one of {})",
                COMMANDS.join(", ")
            ),
        ));
    }
    let mut checks = Vec::new();
    for table in &raw.check {
        let check = check_spec(table, &target_args, overrides).map_err(|(span, m)| at(span, m))?;
        checks.push(CheckSpec { line: line_of(text, table.span().start), ..check });
    }
    let name = raw.name.map(Spanned::into_inner);
    let name = name.unwrap_or_else(|| path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default());
    Ok(Scenario { path: path.to_path_buf(), name, checks })
}

/// Expands `${NAME}` in every string value (the value's line in errors) and
/// registers what came from the environment as a secret.
fn expand_env(raw: &mut RawFile) -> Result<(), Located> {
    let expand_str = |s: &mut Spanned<String>| -> Result<(), Located> {
        let span = s.span();
        let expanded = env::expand(s.get_ref()).map_err(|e| (span, e.to_string()))?;
        expanded.from_env.iter().for_each(|v| crate::redact::register_secret(v));
        *s.get_mut() = expanded.text;
        Ok(())
    };
    let expand_value = |v: &mut Spanned<toml::Value>| -> Result<(), Located> {
        let span = v.span();
        let from_env = env::expand_value(v.get_mut()).map_err(|e| (span, e.to_string()))?;
        from_env.iter().for_each(|v| crate::redact::register_secret(v));
        Ok(())
    };
    if let Some(name) = &mut raw.name {
        expand_str(name)?;
    }
    if let Some(url) = &mut raw.target.url {
        expand_str(url)?;
    }
    raw.target.embedded.iter_mut().flat_map(|m| m.values_mut()).try_for_each(expand_value)?;
    raw.check.iter_mut().flat_map(|t| t.get_mut().values_mut()).try_for_each(expand_value)
}

fn line_of(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())].matches('\n').count() + 1
}

fn first_line(message: &str) -> String {
    message.lines().next().unwrap_or(message).trim().to_string()
}

type Located = (std::ops::Range<usize>, String);

/// The command-line part for the target: the URL, or `--server-*` flags.
fn target_args(
    target: &RawTarget,
    override_url: Option<&str>,
) -> Result<Vec<(String, std::ops::Range<usize>)>, Located> {
    if let Some(url) = override_url {
        return Ok(vec![(url.to_string(), 0..0)]);
    }
    match (&target.url, &target.embedded) {
        (Some(url), None) => Ok(vec![(url.get_ref().clone(), url.span())]),
        (None, Some(options)) => {
            let mut args = Vec::new();
            for (key, value) in options {
                for arg in flag_args(&format!("server-{}", key.replace('_', "-")), value.get_ref())
                    .map_err(|m| (value.span(), m))?
                {
                    args.push((arg, value.span()));
                }
            }
            Ok(args)
        }
        (None, None) => Ok(Vec::new()),
        (Some(url), Some(_)) => Err((url.span(), "target has both url and embedded: keep one".into())),
    }
}

/// A TOML value as command-line arguments for `--flag`.
fn flag_args(flag: &str, value: &toml::Value) -> Result<Vec<String>, String> {
    Ok(match value {
        toml::Value::Boolean(true) => vec![format!("--{flag}")],
        toml::Value::Boolean(false) => Vec::new(),
        toml::Value::String(s) => vec![format!("--{flag}"), s.clone()],
        toml::Value::Integer(i) => vec![format!("--{flag}"), i.to_string()],
        toml::Value::Float(f) => vec![format!("--{flag}"), f.to_string()],
        toml::Value::Array(items) => {
            let mut out = Vec::new();
            for item in items {
                out.extend(flag_args(flag, item)?);
            }
            out
        }
        other => return Err(format!("{flag} = {other}: write a string, a number, true/false or a list")),
    })
}

/// Keys of a `[[check]]` table that are not the command's flags.
const RESERVED: &[&str] = &["command", "name", "expect_verdict", "expect", "args"];

fn check_spec(
    table: &Spanned<BTreeMap<String, Spanned<toml::Value>>>,
    target: &[(String, std::ops::Range<usize>)],
    overrides: &Overrides,
) -> Result<CheckSpec, Located> {
    let get = |name: &str| table.get_ref().get(name);
    let command = get("command").ok_or_else(|| {
        (table.span(), format!("this check has no command: add command = \"single\" (one of {})", COMMANDS.join(", ")))
    })?;
    let command_name = command.get_ref().as_str().filter(|c| COMMANDS.contains(c)).ok_or_else(|| {
        (command.span(), format!("unknown command {}: write one of {}", command.get_ref(), COMMANDS.join(", ")))
    })?;
    let name =
        get("name").and_then(|v| v.get_ref().as_str().map(str::to_string)).unwrap_or_else(|| command_name.to_string());
    let verdict = get("expect_verdict").map(expect_verdict).transpose()?.unwrap_or(Verdict::Pass);
    let fields = get("expect").map(expect_fields).transpose()?.unwrap_or_default();
    let (mut args, mut spans) = check_args(command_name, table, target)?;
    overrides.apply(&mut args, &mut spans, &table.span());
    validate(&args, &spans, table.span())?;
    Ok(CheckSpec { name, command: command_name.to_string(), args, expect: Expect { verdict, fields }, line: 0 })
}

fn expect_verdict(v: &Spanned<toml::Value>) -> Result<Verdict, Located> {
    match v.get_ref().as_str() {
        Some("pass") => Ok(Verdict::Pass),
        Some("fail") => Ok(Verdict::Fail),
        Some("error") => Ok(Verdict::Error),
        _ => Err((v.span(), format!("expect_verdict = {}: write \"pass\", \"fail\" or \"error\"", v.get_ref()))),
    }
}

/// The check's command line: the command, the target, each option as its
/// flag, then `args` (raw flags, for a flag whose name is a reserved key,
/// such as `single --expect`: `args = ["--expect", "single"]`).
fn check_args(
    command: &str,
    table: &Spanned<BTreeMap<String, Spanned<toml::Value>>>,
    target: &[(String, std::ops::Range<usize>)],
) -> Result<(Vec<String>, Vec<std::ops::Range<usize>>), Located> {
    let mut args = vec![command.to_string()];
    let mut spans = vec![table.span()];
    for (arg, span) in target {
        args.push(arg.clone());
        spans.push(span.clone());
    }
    for (key, value) in table.get_ref().iter().filter(|(k, _)| !RESERVED.contains(&k.as_str())) {
        for arg in flag_args(&key.replace('_', "-"), value.get_ref()).map_err(|m| (value.span(), m))? {
            args.push(arg);
            spans.push(value.span());
        }
    }
    if let Some(raw) = table.get_ref().get("args") {
        let list = raw.get_ref().as_array().filter(|items| items.iter().all(toml::Value::is_str));
        let list = list.ok_or_else(|| {
            (raw.span(), "args must be a list of strings, such as [\"--expect\", \"single\"]".to_string())
        })?;
        for item in list.iter().filter_map(toml::Value::as_str) {
            args.push(item.to_string());
            spans.push(raw.span());
        }
    }
    Ok((args, spans))
}

fn expect_fields(v: &Spanned<toml::Value>) -> Result<Vec<(String, Matcher)>, Located> {
    let table = v.get_ref().as_table().ok_or_else(|| {
        (v.span(), "expect must be a table of field = value, such as expect = { policy = \"reject-new\" }".to_string())
    })?;
    table
        .iter()
        .map(|(path, value)| {
            Matcher::deserialize(value.clone())
                .map(|m| (path.clone(), m))
                .map_err(|e| (v.span(), format!("expect.{path}: {e}; write a value or {{ min = 1, max = 2 }}")))
        })
        .collect()
}

/// Parses the arguments with the real command-line definitions and builds
/// the plan, so a bad option fails at load time with its line.
fn validate(args: &[String], spans: &[std::ops::Range<usize>], table: std::ops::Range<usize>) -> Result<(), Located> {
    let cli = Cli::try_parse_from(std::iter::once("wsprobe".to_string()).chain(args.iter().cloned())).map_err(|e| {
        let message = crate::report::json::one_line(&e.to_string());
        let span = args
            .iter()
            .zip(spans)
            .find(|(a, _)| a.starts_with("--") && message.contains(a.as_str()))
            .map(|(_, s)| s.clone())
            .unwrap_or(table.clone());
        (span, format!("{message} (options are the command's flags with _ for -, see `wsprobe {} --help`)", args[0]))
    })?;
    match &cli.command {
        crate::cli::Command::Check(check) => check.plan().map(|_| ()).map_err(|e| (table, e.to_string())),
        other => {
            Err((table, format!("`{}` is not a client check: write one of {}", other.name(), COMMANDS.join(", "))))
        }
    }
}

#[cfg(test)]
#[path = "parse_tests.rs"]
mod tests;
