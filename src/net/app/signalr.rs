//! ASP.NET Core SignalR over its JSON hub protocol, as data. Every record
//! ends with the 0x1E record separator. The client opens with
//! `{"protocol":"json","version":1}` and is in on `{}` (refused on
//! `{"error":"..."}`); both sides send `{"type":6}` pings (every 15 s by
//! default; the server drops a client silent for 30 s), and the server
//! ends a connection with a close message, `{"type":7,"error":"..."}`.

use std::time::Duration;

use super::spec::{fixed, AppSpec, Beat, Expect, Refusal, Reply, Step};
use super::{DropFacts, Protocol};

/// SignalR's record separator.
pub(super) const RS: char = '\u{1e}';
/// How often SignalR clients ping (KeepAliveInterval).
pub(super) const KEEP_ALIVE: Duration = Duration::from_secs(15);
/// How long a server waits for a client message (ClientTimeoutInterval).
pub(super) const CLIENT_TIMEOUT: Duration = Duration::from_secs(30);

/// The profile.
pub(super) fn spec() -> AppSpec {
    let mut spec = AppSpec::empty(Some(Protocol::Signalr));
    spec.steps = vec![
        Step::Send(format!(r#"{{"protocol":"json","version":1}}{RS}"#)),
        Step::Expect(Expect {
            what: "the hub handshake answer {}".into(),
            pattern: fixed(r"^\{\s*\}\x1e"),
            announce: None,
        }),
    ];
    let ping = format!(r#"{{"type":6}}{RS}"#);
    spec.replies = vec![Reply { pattern: fixed(r#"^\{\s*"type"\s*:\s*6\s*\}\x1e$"#), text: ping.clone() }];
    spec.refusals = vec![
        Refusal { pattern: fixed(r#"^\{\s*"error"\s*:"#), message: handshake_error },
        Refusal { pattern: fixed(r#""type"\s*:\s*7\s*[,}]"#), message: close_message },
    ];
    spec.beat = Some(Beat { text: ping, every: KEEP_ALIVE, ack: None });
    spec.explain = Some(explain);
    spec
}

fn error_of(text: &str) -> Option<String> {
    let first = text.split(RS).next()?;
    let v: serde_json::Value = serde_json::from_str(first).ok()?;
    v.get("error")?.as_str().map(str::to_string)
}

fn handshake_error(text: &str) -> String {
    format!("SignalR handshake error \"{}\"", error_of(text).unwrap_or_else(|| super::shown(text, 200)))
}

fn close_message(text: &str) -> String {
    match error_of(text) {
        Some(e) => format!("SignalR close message (type 7) with error \"{e}\""),
        None => "SignalR close message (type 7) without an error".into(),
    }
}

fn explain(f: &DropFacts) -> Option<String> {
    let code = f.close.describe();
    if let Some(refusal) = f.refusal {
        return Some(format!("SignalR: the server sent a {refusal}, then closed ({code})."));
    }
    if f.beats_withheld && f.lifetime + Duration::from_secs(3) >= CLIENT_TIMEOUT {
        return Some(format!(
            "SignalR: the server closed the connection ({code}) {:.1} s after opening while wsprobe withheld its {{\"type\":6}} pings: SignalR drops clients silent for ClientTimeoutInterval (30 s by default); clients ping every 15 s.",
            f.lifetime.as_secs_f64()
        ));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_end_with_the_separator() {
        let s = spec();
        assert!(matches!(&s.steps[0], Step::Send(t) if t.ends_with('\u{1e}')));
        let Step::Expect(ready) = &s.steps[1] else { panic!("expect") };
        assert!(ready.pattern.is_match("{}\u{1e}") && !ready.pattern.is_match("{\"error\":\"x\"}\u{1e}"));
        assert!(s.replies[0].pattern.is_match("{\"type\":6}\u{1e}"));
        assert!(s.refusals[1].pattern.is_match("{\"type\":7,\"error\":\"bye\"}\u{1e}"));
        assert_eq!(
            close_message("{\"type\":7,\"error\":\"bye\"}\u{1e}"),
            "SignalR close message (type 7) with error \"bye\""
        );
        assert_eq!(handshake_error("{\"error\":\"nope\"}\u{1e}"), "SignalR handshake error \"nope\"");
    }
}
