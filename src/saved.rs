//! Saved reports: reading the JSON that `--json`, `--out` or a shard wrote
//! back in, from files or from stdin (several objects one after another,
//! as `kubectl logs` of several pods gives them). An unreadable or
//! truncated input is refused naming the file and the position of the JSON
//! error, so a broken CI artifact is found at once.

use std::io::Read;
use std::path::{Path, PathBuf};

use anyhow::Context;
use serde_json::Value;

/// One report read back, with where it came from.
#[derive(Debug, Clone)]
pub struct Saved {
    /// The file (`-` for stdin), and the object's number when it held several.
    pub source: String,
    /// The report.
    pub report: Value,
}

/// Reads every report in `paths` (`-` is stdin, read once).
pub fn read(paths: &[PathBuf]) -> anyhow::Result<Vec<Saved>> {
    let mut out = Vec::new();
    for path in paths {
        let (name, text) = if path == Path::new("-") {
            let mut text = String::new();
            std::io::stdin().read_to_string(&mut text).context("cannot read reports from stdin")?;
            ("-".to_string(), text)
        } else {
            let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
            (path.display().to_string(), text)
        };
        out.extend(parse(&name, &text)?);
    }
    Ok(out)
}

/// Parses one input: a single report, or several concatenated.
pub fn parse(name: &str, text: &str) -> anyhow::Result<Vec<Saved>> {
    let mut reports = Vec::new();
    for (i, item) in serde_json::Deserializer::from_str(text).into_iter::<Value>().enumerate() {
        let value = item.map_err(|e| {
            anyhow::anyhow!(
                "{name}:{}:{}: not a wsprobe JSON report: {e} (write it with --json or --out)",
                e.line(),
                e.column()
            )
        })?;
        if !value.get("command").is_some_and(Value::is_string) || !value.get("verdict").is_some_and(Value::is_string) {
            anyhow::bail!("{name}: object {} is not a wsprobe report (no command and verdict)", i + 1);
        }
        reports.push(Saved { source: name.to_string(), report: value });
    }
    if reports.is_empty() {
        anyhow::bail!("{name}: no report in it (empty input)");
    }
    if reports.len() > 1 {
        for (i, r) in reports.iter_mut().enumerate() {
            r.source = format!("{name}#{}", i + 1);
        }
    }
    Ok(reports)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn concatenated_reports_are_split() {
        let one = r#"{"command":"storm","verdict":"pass"}"#;
        let all = parse("-", &format!("{one}\n{one}")).unwrap();
        assert_eq!(all.len(), 2);
        assert_eq!(all[1].source, "-#2");
    }

    #[test]
    fn a_truncated_file_names_the_position() {
        let e = parse("r.json", "{\"command\":\"storm\",\n\"verdict\":").unwrap_err().to_string();
        assert!(e.starts_with("r.json:2:"), "{e}");
        let e = parse("r.json", "{\"x\":1}").unwrap_err().to_string();
        assert!(e.contains("not a wsprobe report"), "{e}");
        assert!(parse("r.json", "  ").unwrap_err().to_string().contains("no report"));
    }
}
