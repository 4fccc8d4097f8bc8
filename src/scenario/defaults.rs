//! What `wsprobe run` is told on its own command line for every check of
//! every file: `-H`, `--subprotocol`, `--origin`, `--insecure`,
//! `--protocol` (and `--target`). They are merged into each check's
//! command line before it is checked, so a CI job can pass credentials
//! from its secrets without editing the files. A check's own value wins:
//! its header of the same name, its own subprotocol list, origin or
//! protocol; `--insecure` only ever adds.

use std::ops::Range;

use crate::units::Header;

/// `run`'s options for every check, as plain data.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    /// `--target`: every scenario's target, replaced.
    pub target: Option<String>,
    /// `-H`: added to every check that has no header of the same name.
    pub headers: Vec<Header>,
    /// `--subprotocol`: for every check that asks for none of its own.
    pub subprotocols: Vec<String>,
    /// `--origin`: for every check without its own.
    pub origin: Option<String>,
    /// `--insecure`: for every check.
    pub insecure: bool,
    /// `--protocol` (its command-line name): for every check without its own.
    pub protocol: Option<String>,
}

impl Overrides {
    /// Only a target (selftest, tests).
    pub fn target(target: Option<&str>) -> Overrides {
        Overrides { target: target.map(str::to_string), ..Overrides::default() }
    }

    /// What `wsprobe run` was given for every check.
    pub fn from_run(args: &crate::cli::RunArgs) -> Overrides {
        let every = &args.every;
        Overrides {
            target: args.target.clone(),
            headers: every.headers.clone(),
            subprotocols: every.subprotocol.clone(),
            origin: every.origin.clone(),
            insecure: every.insecure,
            protocol: every
                .protocol
                .and_then(|p| clap::ValueEnum::to_possible_value(&p))
                .map(|v| v.get_name().to_string()),
        }
    }

    /// Adds what the check's own command line `args` does not set; the
    /// added arguments take `span` (the check table) for error lines.
    pub fn apply(&self, args: &mut Vec<String>, spans: &mut Vec<Range<usize>>, span: &Range<usize>) {
        let mut added = Vec::new();
        let own_headers: Vec<String> = values(args, &["--header", "-H"])
            .filter_map(|v| v.split_once(':').map(|(name, _)| name.trim().to_ascii_lowercase()))
            .collect();
        for h in self.headers.iter().filter(|h| !own_headers.contains(&h.name.to_ascii_lowercase())) {
            added.extend(["--header".to_string(), format!("{}: {}", h.name, h.value)]);
        }
        if values(args, &["--subprotocol"]).next().is_none() {
            for p in &self.subprotocols {
                added.extend(["--subprotocol".to_string(), p.clone()]);
            }
        }
        for (flag, value) in [("--origin", &self.origin), ("--protocol", &self.protocol)] {
            if let Some(value) = value.as_ref().filter(|_| values(args, &[flag]).next().is_none()) {
                added.extend([flag.to_string(), value.clone()]);
            }
        }
        if self.insecure && !args.iter().any(|a| a == "--insecure") {
            added.push("--insecure".into());
        }
        spans.extend(added.iter().map(|_| span.clone()));
        args.extend(added);
    }
}

/// The values given to any of `flags` in `args`: `--flag value`,
/// `--flag=value`, and `-Hvalue` for a short flag.
fn values<'a>(args: &'a [String], flags: &'a [&str]) -> impl Iterator<Item = &'a str> + 'a {
    args.iter().enumerate().filter_map(move |(i, arg)| {
        flags.iter().find_map(|flag| {
            if arg == flag {
                return args.get(i + 1).map(String::as_str);
            }
            let rest = arg.strip_prefix(flag)?;
            if flag.starts_with("--") {
                rest.strip_prefix('=')
            } else {
                Some(rest.strip_prefix('=').unwrap_or(rest))
            }
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn applied(overrides: &Overrides, own: &[&str]) -> Vec<String> {
        let mut args: Vec<String> = own.iter().map(|s| s.to_string()).collect();
        let mut spans = vec![0..0; args.len()];
        overrides.apply(&mut args, &mut spans, &(0..1));
        assert_eq!(spans.len(), args.len());
        args[own.len()..].to_vec()
    }

    #[test]
    fn a_checks_own_value_wins() {
        let o = Overrides {
            headers: vec!["Authorization: Bearer run".parse().unwrap(), "X-Team: ci".parse().unwrap()],
            subprotocols: vec!["chat".into()],
            origin: Some("https://run.example".into()),
            insecure: true,
            protocol: Some("socketio".into()),
            ..Overrides::default()
        };
        let own =
            ["single", "--header", "authorization: Bearer mine", "--origin=https://mine", "--protocol", "phoenix"];
        assert_eq!(applied(&o, &own), ["--header", "X-Team: ci", "--subprotocol", "chat", "--insecure"]);
        let own = ["single", "-HX-Team: mine", "--subprotocol", "v2", "--insecure"];
        assert_eq!(
            applied(&o, &own),
            ["--header", "Authorization: Bearer run", "--origin", "https://run.example", "--protocol", "socketio"]
        );
        assert!(applied(&Overrides::default(), &["connect"]).is_empty());
    }
}
