//! Rails ActionCable (actioncable-v1-json), as data. The server greets
//! with `{"type":"welcome"}` and pings every 3 s with
//! `{"type":"ping","message":<unix time>}`, which nobody answers; its own
//! client calls a connection stale after 6 s without one. It refuses with
//! `{"type":"disconnect","reason":"unauthorized","reconnect":false}`, and
//! a channel subscription (sent with `--init`) with `reject_subscription`.

use std::time::Duration;

use super::spec::{fixed, AppSpec, Expect, Refusal, ServerBeat, Step};
use super::{DropFacts, Protocol};

/// The subprotocol.
pub(super) const SUBPROTOCOL: &str = "actioncable-v1-json";
/// Silence after which ActionCable's client calls a connection stale.
pub(super) const STALE_AFTER: Duration = Duration::from_secs(6);

/// The profile: ready on `welcome`, or on `confirm_subscription` when an
/// `--init` message subscribes to a channel.
pub(super) fn spec(init: &[String]) -> AppSpec {
    let mut spec = AppSpec::empty(Some(Protocol::Actioncable));
    spec.subprotocol = Some(SUBPROTOCOL);
    spec.steps.push(Step::Expect(Expect {
        what: "the ActionCable welcome".into(),
        pattern: fixed(r#""type"\s*:\s*"welcome""#),
        announce: None,
    }));
    spec.steps.extend(init.iter().cloned().map(Step::Send));
    if init.iter().any(|m| m.contains("\"subscribe\"")) {
        spec.steps.push(Step::Expect(Expect {
            what: "confirm_subscription".into(),
            pattern: fixed(r#""type"\s*:\s*"confirm_subscription""#),
            announce: None,
        }));
    }
    spec.refusals = vec![
        Refusal { pattern: fixed(r#""type"\s*:\s*"disconnect""#), message: disconnect },
        Refusal { pattern: fixed(r#""type"\s*:\s*"reject_subscription""#), message: rejected },
    ];
    spec.server_beat = Some(ServerBeat { pattern: fixed(r#""type"\s*:\s*"ping""#), stale_after: Some(STALE_AFTER) });
    spec.explain = Some(explain);
    spec
}

fn field(text: &str, key: &str) -> Option<String> {
    let v: serde_json::Value = serde_json::from_str(text).ok()?;
    match v.get(key)? {
        serde_json::Value::String(s) => Some(s.clone()),
        other => Some(other.to_string()),
    }
}

fn disconnect(text: &str) -> String {
    let reason = field(text, "reason").unwrap_or_else(|| "no reason".into());
    let again = field(text, "reconnect").map(|r| format!(", reconnect {r}")).unwrap_or_default();
    format!("ActionCable disconnect \"{reason}\"{again}")
}

fn rejected(text: &str) -> String {
    let id = field(text, "identifier").unwrap_or_default();
    format!("ActionCable reject_subscription for {}", super::shown(&id, 120))
}

fn explain(f: &DropFacts) -> Option<String> {
    if let Some(refusal) = f.refusal {
        return Some(format!("ActionCable: the server sent {refusal}, then closed ({}).", f.close.describe()));
    }
    let since = f.since_server_beat?;
    let stale = if since > STALE_AFTER { " (already stale by ActionCable's 6 s rule)" } else { "" };
    Some(format!(
        "ActionCable: the server closed the connection ({}) {:.1} s after its last ping{stale}.",
        f.close.describe(),
        since.as_secs_f64()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_subscription_makes_ready_wait_for_its_confirmation() {
        let plain = spec(&[]);
        assert_eq!(plain.steps.len(), 1);
        let sub = spec(&[r#"{"command":"subscribe","identifier":"{\"channel\":\"ChatChannel\"}"}"#.into()]);
        assert!(matches!(&sub.steps[2], Step::Expect(e) if e.what == "confirm_subscription"));
    }

    #[test]
    fn refusals_read_their_reason() {
        assert_eq!(
            disconnect(r#"{"type":"disconnect","reason":"unauthorized","reconnect":false}"#),
            "ActionCable disconnect \"unauthorized\", reconnect false"
        );
        assert!(rejected(r#"{"identifier":"{\"channel\":\"X\"}","type":"reject_subscription"}"#).contains("X"));
    }
}
