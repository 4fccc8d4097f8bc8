//! Socket.IO 5 over Engine.IO 4, as data. The server opens with
//! `0{"sid":...,"pingInterval":25000,"pingTimeout":20000,"maxPayload":...}`;
//! the client connects the default namespace with `40` (or `40` + auth
//! JSON) and is in on `40{"sid":...}`, refused on `44{"message":...}`
//! (connect_error). The server pings with `2` every pingInterval and drops
//! a client whose `3` does not come within pingTimeout; the client never
//! sends `2` itself. How the server then ends the connection depends on
//! the stack (python-socketio: close 1000; Node socket.io: a close frame
//! without a code, 1005), so drops are explained by what happened, not by
//! the code.

use std::time::Duration;

use super::spec::{fixed, AppSpec, Expect, Refusal, Reply, Step, UrlRule};
use super::{Announced, DropFacts, Protocol};
use crate::units::format_duration;

/// The profile.
pub(super) fn spec(auth: Option<&str>) -> AppSpec {
    let mut spec = AppSpec::empty(Some(Protocol::Socketio));
    spec.url = UrlRule::SocketIo;
    spec.steps = vec![
        Step::Expect(Expect {
            what: "the Engine.IO open packet 0{...}".into(),
            pattern: fixed(r"^0\{"),
            announce: Some(announced),
        }),
        Step::Send(format!("40{}", auth.unwrap_or_default())),
        Step::Expect(Expect {
            what: "the Socket.IO connect answer 40{...}".into(),
            pattern: fixed(r"^40(\{|$)"),
            announce: None,
        }),
    ];
    spec.replies = vec![Reply { pattern: fixed("^2$"), text: "3".into() }];
    spec.refusals = vec![Refusal { pattern: fixed(r"^44"), message: connect_error }];
    spec.explain = Some(explain);
    spec
}

/// Reads pingInterval, pingTimeout and maxPayload from the open packet.
pub(super) fn announced(text: &str) -> Option<Announced> {
    let json: serde_json::Value = serde_json::from_str(text.strip_prefix('0')?).ok()?;
    let ms = |key: &str| json.get(key).and_then(serde_json::Value::as_f64).map(|v| v / 1000.0);
    Some(Announced {
        ping_interval_s: ms("pingInterval"),
        ping_timeout_s: ms("pingTimeout"),
        max_payload: json.get("maxPayload").and_then(serde_json::Value::as_u64),
    })
}

/// `44{"message":"unauthorized"}` → `connect_error "unauthorized"`.
fn connect_error(text: &str) -> String {
    let message = text
        .strip_prefix("44")
        .and_then(|rest| serde_json::from_str::<serde_json::Value>(rest).ok())
        .and_then(|v| v.get("message").and_then(|m| m.as_str().map(str::to_string)));
    match message {
        Some(m) => format!("Socket.IO connect_error \"{m}\" (44)"),
        None => format!("Socket.IO connect_error {}", super::shown(text, 200)),
    }
}

fn explain(f: &DropFacts) -> Option<String> {
    let code = f.close.describe();
    if let Some(refusal) = f.refusal {
        return Some(format!("Socket.IO: the server refused the session ({refusal}), then closed it ({code})."));
    }
    let cadence = cadence(f.announced.as_ref());
    match (f.last_beat_answered, f.since_server_beat) {
        (Some(false), Some(since)) => Some(format!(
            "Socket.IO: the server closed the session {:.1} s after a ping that was not answered ({cadence}): clients must answer `2` with `3`. The close itself was {code}, as this stack sends it.",
            since.as_secs_f64()
        )),
        (Some(true), Some(since)) => Some(format!(
            "Socket.IO: the server closed the session ({code}) {:.1} s after its last ping, which wsprobe answered with `3` ({cadence}): not the Engine.IO heartbeat; look at the server's logs, a proxy or a restart.",
            since.as_secs_f64()
        )),
        _ => Some(format!(
            "Socket.IO: the server closed the session ({code}) {:.1} s after opening, before any `2` ping ({cadence}).",
            f.lifetime.as_secs_f64()
        )),
    }
}

fn cadence(announced: Option<&Announced>) -> String {
    let show = |d: Option<Duration>| d.map(format_duration).unwrap_or_else(|| "?".into());
    match announced {
        Some(a) => format!("pingTimeout {}; pings every {}", show(a.ping_timeout()), show(a.ping_interval())),
        None => "no open packet seen".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_open_packet_announces_the_heartbeat() {
        let a = announced(r#"0{"sid":"x","upgrades":[],"pingInterval":1000,"pingTimeout":1500,"maxPayload":1000000}"#)
            .unwrap();
        assert_eq!((a.ping_interval_s, a.ping_timeout_s, a.max_payload), (Some(1.0), Some(1.5), Some(1000000)));
        assert_eq!(a.describe(), "pingInterval 1s, pingTimeout 1.5s, maxPayload 1000000");
        assert!(announced("0garbage").is_none());
    }

    #[test]
    fn connect_error_names_the_message() {
        assert_eq!(connect_error(r#"44{"message":"unauthorized"}"#), "Socket.IO connect_error \"unauthorized\" (44)");
        assert!(connect_error("44oops").contains("44oops"));
    }

    #[test]
    fn the_handshake_waits_for_the_open_packet_then_connects() {
        let s = spec(Some(r#"{"token":"t"}"#));
        assert!(matches!(&s.steps[1], Step::Send(t) if t == r#"40{"token":"t"}"#));
        let Step::Expect(ready) = &s.steps[2] else { panic!("expect") };
        assert!(ready.pattern.is_match(r#"40{"sid":"a"}"#) && ready.pattern.is_match("40"));
        assert!(!ready.pattern.is_match("44{}") && !ready.pattern.is_match("400"));
        assert!(s.replies[0].pattern.is_match("2") && !s.replies[0].pattern.is_match("2probe"));
    }
}
