//! Phoenix channels over the 2.0.0 serializer, as data: the socket lives
//! at `.../websocket?vsn=2.0.0`, messages are arrays
//! `[join_ref, ref, topic, event, payload]`. A channel is joined with an
//! `--init` message (`["1","1","room:lobby","phx_join",{}]`), answered by
//! `phx_reply` with status ok or error. The client sends
//! `[null,"<ref>","phoenix","heartbeat",{}]` every 30 s (each answered by a
//! `phx_reply`); the server closes a socket that stayed silent for 60 s.

use std::time::Duration;

use super::spec::{fixed, AppSpec, Beat, Expect, Refusal, Step, UrlRule};
use super::{DropFacts, Protocol};

/// How often the Phoenix JS client sends its heartbeat.
pub(super) const HEARTBEAT: Duration = Duration::from_secs(30);
/// How long Phoenix waits for anything from a client by default.
pub(super) const SERVER_TIMEOUT: Duration = Duration::from_secs(60);

/// The profile: ready at once, or on the join's `phx_reply` ok when an
/// `--init` message joins a channel.
pub(super) fn spec(init: &[String]) -> AppSpec {
    let mut spec = AppSpec::empty(Some(Protocol::Phoenix));
    spec.url = UrlRule::Phoenix;
    spec.steps.extend(init.iter().cloned().map(Step::Send));
    if init.iter().any(|m| m.contains("\"phx_join\"")) {
        spec.steps.push(Step::Expect(Expect {
            what: "the join's phx_reply with status ok".into(),
            pattern: fixed(r#""phx_reply"\s*,\s*\{\s*"status"\s*:\s*"ok""#),
            announce: None,
        }));
    }
    spec.refusals =
        vec![Refusal { pattern: fixed(r#""phx_reply"\s*,\s*\{\s*"status"\s*:\s*"error""#), message: reply_error }];
    spec.beat = Some(Beat {
        text: r#"[null,"{ref}","phoenix","heartbeat",{}]"#.into(),
        every: HEARTBEAT,
        ack: Some(fixed(r#"^\[\s*null\s*,\s*"\d+"\s*,\s*"phoenix"\s*,\s*"phx_reply""#)),
    });
    spec.explain = Some(explain);
    spec
}

/// `[..., "phx_reply", {"status":"error","response":{"reason":"unauthorized"}}]`.
fn reply_error(text: &str) -> String {
    let v: Option<serde_json::Value> = serde_json::from_str(text).ok();
    let topic = v.as_ref().and_then(|v| v.get(2)?.as_str().map(str::to_string)).unwrap_or_default();
    let reason = v
        .as_ref()
        .and_then(|v| v.get(4)?.get("response")?.get("reason")?.as_str().map(str::to_string))
        .unwrap_or_else(|| "no reason".into());
    format!("Phoenix phx_reply error \"{reason}\" for {topic}")
}

fn explain(f: &DropFacts) -> Option<String> {
    let code = f.close.describe();
    if let Some(refusal) = f.refusal {
        return Some(format!("Phoenix: the server answered {refusal}, then closed ({code})."));
    }
    if f.beats_sent == 0 && f.lifetime + Duration::from_secs(5) >= SERVER_TIMEOUT {
        return Some(format!(
            "Phoenix: the server closed the socket ({code}) {:.1} s after opening, with no heartbeat sent{}: Phoenix drops sockets that stay silent for 60 s; clients send [null,ref,\"phoenix\",\"heartbeat\",{{}}] every 30 s.",
            f.lifetime.as_secs_f64(),
            if f.beats_withheld { " (withheld by --no-pong)" } else { "" }
        ));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_join_waits_for_its_reply_and_errors_are_refusals() {
        let s = spec(&[r#"["1","1","room:lobby","phx_join",{}]"#.into()]);
        let Step::Expect(ready) = &s.steps[1] else { panic!("expect") };
        assert!(ready.pattern.is_match(r#"["1","1","room:lobby","phx_reply",{"status":"ok","response":{}}]"#));
        let err = r#"["1","1","room:lobby","phx_reply",{"status":"error","response":{"reason":"unauthorized"}}]"#;
        assert!(s.refusals[0].pattern.is_match(err));
        assert_eq!(reply_error(err), "Phoenix phx_reply error \"unauthorized\" for room:lobby");
        let beat = s.beat.unwrap();
        assert!(beat.ack.unwrap().is_match(r#"[null,"7","phoenix","phx_reply",{"status":"ok","response":{}}]"#));
    }
}
