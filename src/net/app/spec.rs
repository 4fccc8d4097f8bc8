//! [`AppSpec`]: what the application layer does on every connection, as
//! data. Built once per run from the options (a profile's rules, then the
//! user's own `--init`, `--ready` and `--reply`), checked before anything
//! touches the network: a bad regex or a malformed `--reply` is refused
//! with the flag's name.

use std::time::Duration;

use regex::Regex;

use super::{Announced, DropFacts, Protocol};

/// The application options as the user gave them (already parsed).
#[derive(Debug, Clone, Default)]
pub struct AppOptions {
    /// A named profile.
    pub protocol: Option<Protocol>,
    /// `--auth` JSON for the profile's handshake.
    pub auth: Option<String>,
    /// `--init` messages.
    pub init: Vec<String>,
    /// `--ready` regex.
    pub ready: Option<String>,
    /// `--reply` rules, `REGEX=TEXT`.
    pub replies: Vec<String>,
    /// `--ready-timeout`.
    pub ready_timeout: Duration,
}

/// One step of the application handshake.
#[derive(Debug, Clone)]
pub enum Step {
    /// Send this text.
    Send(String),
    /// Wait for a matching message.
    Expect(Expect),
}

/// A message the handshake waits for.
#[derive(Debug, Clone)]
pub struct Expect {
    /// What it is, for messages (`the Engine.IO open packet 0{...}`).
    pub what: String,
    /// What matches it.
    pub pattern: Regex,
    /// Reads heartbeat settings out of it.
    pub announce: Option<fn(&str) -> Option<Announced>>,
}

/// A message to answer whenever it arrives (a heartbeat).
#[derive(Debug, Clone)]
pub struct Reply {
    /// What matches it.
    pub pattern: Regex,
    /// The answer.
    pub text: String,
}

/// A message that means the server refused us.
#[derive(Debug, Clone)]
pub struct Refusal {
    /// What matches it.
    pub pattern: Regex,
    /// The server's message in it, in words.
    pub message: fn(&str) -> String,
}

/// A heartbeat the server sends and nobody answers (ActionCable's ping).
#[derive(Debug, Clone)]
pub struct ServerBeat {
    /// What matches it.
    pub pattern: Regex,
    /// Silence after which a client calls the connection stale.
    pub stale_after: Option<Duration>,
}

/// A heartbeat the client sends on its own schedule.
#[derive(Debug, Clone)]
pub struct Beat {
    /// The message; `{ref}` expands to a counter.
    pub text: String,
    /// How often.
    pub every: Duration,
    /// The server's answer, if it answers (timed as a round trip).
    pub ack: Option<Regex>,
}

/// How a profile changes the URL path and query.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UrlRule {
    /// As given.
    Keep,
    /// `/socket.io/` when the path is empty or `/`; `EIO=4&transport=websocket`.
    SocketIo,
    /// `.../websocket` and `vsn=2.0.0`.
    Phoenix,
}

/// Everything the application layer does, for every connection of a run.
#[derive(Debug, Clone)]
pub struct AppSpec {
    /// The profile, when one was named.
    pub protocol: Option<Protocol>,
    /// The handshake, in order.
    pub steps: Vec<Step>,
    /// Messages answered for the connection's whole life.
    pub replies: Vec<Reply>,
    /// Messages that mean a refusal.
    pub refusals: Vec<Refusal>,
    /// The server's own unanswered heartbeat.
    pub server_beat: Option<ServerBeat>,
    /// Our heartbeat.
    pub beat: Option<Beat>,
    /// Time the handshake gets after the upgrade.
    pub ready_timeout: Duration,
    /// Subprotocol the profile needs.
    pub subprotocol: Option<&'static str>,
    /// How the profile changes the URL.
    pub url: UrlRule,
    /// The profile's explanation of a drop.
    pub explain: Option<fn(&DropFacts) -> Option<String>>,
}

impl AppSpec {
    /// An empty spec for `protocol`.
    pub(super) fn empty(protocol: Option<Protocol>) -> AppSpec {
        AppSpec {
            protocol,
            steps: Vec::new(),
            replies: Vec::new(),
            refusals: Vec::new(),
            server_beat: None,
            beat: None,
            ready_timeout: Duration::from_secs(10),
            subprotocol: None,
            url: UrlRule::Keep,
            explain: None,
        }
    }

    /// Builds the spec; `None` when no application option was given.
    /// Errors name the flag.
    pub fn build(opts: &AppOptions) -> Result<Option<AppSpec>, String> {
        if opts.protocol.is_none() && opts.init.is_empty() && opts.ready.is_none() && opts.replies.is_empty() {
            if opts.auth.is_some() {
                return Err("--auth goes with --protocol socketio or graphql-ws".into());
            }
            return Ok(None);
        }
        if opts.ready_timeout.is_zero() {
            return Err("--ready-timeout must be above zero".into());
        }
        let auth = opts.auth.as_deref().map(compact_json).transpose()?;
        let mut spec = match opts.protocol {
            Some(p) => profile(p, auth.as_deref(), &opts.init)?,
            None => {
                let mut s = AppSpec::empty(None);
                s.steps.extend(opts.init.iter().cloned().map(Step::Send));
                s
            }
        };
        if let Some(ready) = &opts.ready {
            let what = format!("a message matching --ready '{ready}'");
            spec.steps.push(Step::Expect(Expect { what, pattern: regex("--ready", ready)?, announce: None }));
        }
        for rule in &opts.replies {
            spec.replies.push(parse_reply(rule)?);
        }
        spec.ready_timeout = opts.ready_timeout;
        Ok(Some(spec))
    }

    /// True when the layer keeps a connection alive on its own (answers
    /// or sends heartbeats).
    pub fn has_heartbeat(&self) -> bool {
        !self.replies.is_empty() || self.beat.is_some() || self.server_beat.is_some()
    }

    /// The URL template with the profile's path and query.
    pub fn rewrite_url(&self, template: &str) -> String {
        rewrite_url(self.url, template)
    }
}

fn profile(p: Protocol, auth: Option<&str>, init: &[String]) -> Result<AppSpec, String> {
    if auth.is_some() && !matches!(p, Protocol::Socketio | Protocol::GraphqlWs) {
        return Err(format!(
            "--auth goes with --protocol socketio or graphql-ws; {} takes credentials in a header (-H) or the URL",
            p.title()
        ));
    }
    let mut spec = match p {
        Protocol::Socketio => super::socketio::spec(auth),
        Protocol::GraphqlWs => super::graphql_ws::spec(auth),
        Protocol::Actioncable => super::actioncable::spec(init),
        Protocol::Phoenix => super::phoenix::spec(init),
        Protocol::Signalr => super::signalr::spec(),
    };
    if !matches!(p, Protocol::Actioncable | Protocol::Phoenix) {
        spec.steps.extend(init.iter().cloned().map(Step::Send));
    }
    Ok(spec)
}

/// A pattern of a profile (written by us, so it compiles).
pub(super) fn fixed(pattern: &str) -> Regex {
    Regex::new(pattern).unwrap_or_else(|_| Regex::new(r"[^\s\S]").expect("the empty class compiles"))
}

/// Compiles a user's regex; the error names the flag.
pub fn regex(flag: &str, pattern: &str) -> Result<Regex, String> {
    Regex::new(pattern).map_err(|e| format!("{flag} '{pattern}' is not a valid regex: {}", first_line(&e.to_string())))
}

fn first_line(text: &str) -> String {
    text.lines().rfind(|l| !l.trim().is_empty()).unwrap_or(text).trim().to_string()
}

/// `REGEX=TEXT`, split at the first `=` (`\x3d` is an `=` in the regex).
pub fn parse_reply(rule: &str) -> Result<Reply, String> {
    let Some((pattern, text)) = rule.split_once('=') else {
        return Err(format!("--reply '{rule}' has no '=': write REGEX=TEXT, such as --reply '^2$=3'"));
    };
    if pattern.is_empty() {
        return Err(format!("--reply '{rule}' has an empty regex: write REGEX=TEXT, such as --reply '^2$=3'"));
    }
    if text.is_empty() {
        return Err(format!("--reply '{rule}' has an empty answer: write REGEX=TEXT, such as --reply '^2$=3'"));
    }
    Ok(Reply { pattern: regex("--reply", pattern)?, text: text.to_string() })
}

fn compact_json(text: &str) -> Result<String, String> {
    let value: serde_json::Value = serde_json::from_str(text)
        .map_err(|e| format!("--auth is not JSON ({e}): write it like '{{\"token\":\"...\"}}'"))?;
    Ok(value.to_string())
}

/// Applies a URL rule to a template, as text (so `{client}` survives).
fn rewrite_url(rule: UrlRule, template: &str) -> String {
    let Some(scheme_end) = template.find("://").map(|i| i + 3) else { return template.to_string() };
    let rest = &template[scheme_end..];
    let path_start = scheme_end + rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = template.split_at(path_start);
    let (tail, fragment) = tail.split_at(tail.find('#').unwrap_or(tail.len()));
    let (path, query) = match tail.split_once('?') {
        Some((p, q)) => (p.to_string(), q.to_string()),
        None => (tail.to_string(), String::new()),
    };
    let (path, extra): (String, &[(&str, &str)]) = match rule {
        UrlRule::Keep => return template.to_string(),
        UrlRule::SocketIo => {
            let path = if path.is_empty() || path == "/" { "/socket.io/".to_string() } else { path };
            (path, &[("EIO", "4"), ("transport", "websocket")])
        }
        UrlRule::Phoenix => {
            let trimmed = path.trim_end_matches('/');
            let path =
                if trimmed.ends_with("/websocket") { trimmed.to_string() } else { format!("{trimmed}/websocket") };
            (path, &[("vsn", "2.0.0")])
        }
    };
    let mut query = query;
    for (key, value) in extra {
        if !query.split('&').any(|kv| kv.split('=').next() == Some(key)) {
            if !query.is_empty() {
                query.push('&');
            }
            query.push_str(&format!("{key}={value}"));
        }
    }
    format!("{authority}{path}?{query}{fragment}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts() -> AppOptions {
        AppOptions { ready_timeout: Duration::from_secs(1), ..Default::default() }
    }

    #[test]
    fn replies_split_at_the_first_equals_sign() {
        let r = parse_reply("^2$=3").unwrap();
        assert!(r.pattern.is_match("2") && r.text == "3");
        let r = parse_reply(r#"^a\x3db$={"x"="y"}"#).unwrap();
        assert!(r.pattern.is_match("a=b"), "\\x3d is an = in the regex");
        assert_eq!(r.text, r#"{"x"="y"}"#);
        for bad in ["no-equals", "=3", "^2$="] {
            assert!(parse_reply(bad).unwrap_err().contains("--reply"), "{bad}");
        }
        assert!(parse_reply("(=3").unwrap_err().contains("--reply '(' is not a valid regex"));
    }

    #[test]
    fn nothing_given_is_no_layer_and_bad_values_name_their_flag() {
        assert!(AppSpec::build(&opts()).unwrap().is_none());
        let e = AppSpec::build(&AppOptions { ready: Some("(".into()), ..opts() }).unwrap_err();
        assert!(e.starts_with("--ready '(' is not a valid regex"), "{e}");
        let e = AppSpec::build(&AppOptions { auth: Some("{".into()), protocol: Some(Protocol::Socketio), ..opts() });
        assert!(e.unwrap_err().starts_with("--auth is not JSON"));
        let e = AppSpec::build(&AppOptions { auth: Some("{}".into()), protocol: Some(Protocol::Phoenix), ..opts() });
        assert!(e.unwrap_err().contains("--auth goes with"));
        let e = AppSpec::build(&AppOptions { auth: Some("{}".into()), ..opts() }).unwrap_err();
        assert!(e.contains("--auth goes with"), "{e}");
    }

    #[test]
    fn the_generic_mechanism_sends_then_waits() {
        let o = AppOptions { init: vec!["hello".into()], ready: Some("^hello$".into()), ..opts() };
        let spec = AppSpec::build(&o).unwrap().unwrap();
        assert!(matches!(&spec.steps[0], Step::Send(t) if t == "hello"));
        assert!(matches!(&spec.steps[1], Step::Expect(e) if e.pattern.is_match("hello")));
        assert!(!spec.has_heartbeat());
    }

    #[test]
    fn urls_get_the_profiles_path_and_query() {
        let io = |u: &str| rewrite_url(UrlRule::SocketIo, u);
        assert_eq!(io("ws://h:1"), "ws://h:1/socket.io/?EIO=4&transport=websocket");
        assert_eq!(io("ws://h:1/?t={client}"), "ws://h:1/socket.io/?t={client}&EIO=4&transport=websocket");
        assert_eq!(io("ws://h/custom/?EIO=4"), "ws://h/custom/?EIO=4&transport=websocket");
        let px = |u: &str| rewrite_url(UrlRule::Phoenix, u);
        assert_eq!(px("ws://h/socket"), "ws://h/socket/websocket?vsn=2.0.0");
        assert_eq!(px("ws://h/socket/websocket?token=x"), "ws://h/socket/websocket?token=x&vsn=2.0.0");
        assert_eq!(rewrite_url(UrlRule::Keep, "ws://h/x"), "ws://h/x");
    }
}
