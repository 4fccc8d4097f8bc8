//! GraphQL over WebSocket (the graphql-transport-ws subprotocol of the
//! graphql-ws library), as data. The client asks for the subprotocol,
//! sends `{"type":"connection_init","payload":...}` and is in on
//! `{"type":"connection_ack"}`; either side may `ping`, the other answers
//! `pong`. The server refuses by closing with a 44xx code: 4403 when its
//! `onConnect` says no, 4408 when `connection_init` did not come in time
//! (3 s by default), 4406 without the subprotocol.

use super::spec::{fixed, AppSpec, Expect, Reply, Step};
use super::{DropFacts, Protocol};

/// The subprotocol.
pub(super) const SUBPROTOCOL: &str = "graphql-transport-ws";

/// The profile.
pub(super) fn spec(auth: Option<&str>) -> AppSpec {
    let mut spec = AppSpec::empty(Some(Protocol::GraphqlWs));
    spec.subprotocol = Some(SUBPROTOCOL);
    let init = match auth {
        Some(payload) => format!(r#"{{"type":"connection_init","payload":{payload}}}"#),
        None => r#"{"type":"connection_init"}"#.to_string(),
    };
    spec.steps = vec![
        Step::Send(init),
        Step::Expect(Expect {
            what: "connection_ack".into(),
            pattern: fixed(r#""type"\s*:\s*"connection_ack""#),
            announce: None,
        }),
    ];
    spec.replies =
        vec![Reply { pattern: fixed(r#"^\s*\{\s*"type"\s*:\s*"ping"\s*[,}]"#), text: r#"{"type":"pong"}"#.into() }];
    spec.explain = Some(explain);
    spec
}

/// The protocol's names for its close codes.
pub(super) fn close_name(code: u16) -> Option<&'static str> {
    Some(match code {
        4400 => "the server could not parse a message (Bad request)",
        4401 => "a subscribe came before connection_ack (Unauthorized)",
        4403 => "the server's onConnect refused connection_init (Forbidden)",
        4406 => "the client did not ask for the graphql-transport-ws subprotocol",
        4408 => "no connection_init within the server's connectionInitWaitTimeout (3 s by default)",
        4409 => "an operation id was reused (Subscriber already exists)",
        4429 => "connection_init was sent twice (Too many initialisation requests)",
        4499 => "the client gave up on the socket (Terminated)",
        4500 => "the server failed (Internal server error)",
        4504 => "no connection_ack in time (Connection acknowledgement timeout)",
        _ => return None,
    })
}

fn explain(f: &DropFacts) -> Option<String> {
    let name = close_name(f.close.code)?;
    Some(format!(
        "graphql-ws closed the connection with {} after {:.1} s: {name}.",
        f.close.describe(),
        f.lifetime.as_secs_f64()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn init_carries_the_auth_payload_and_ping_is_answered() {
        let s = spec(Some(r#"{"token":"reject"}"#));
        assert!(
            matches!(&s.steps[0], Step::Send(t) if t == r#"{"type":"connection_init","payload":{"token":"reject"}}"#)
        );
        assert!(matches!(&spec(None).steps[0], Step::Send(t) if t == r#"{"type":"connection_init"}"#));
        assert!(s.replies[0].pattern.is_match(r#"{"type":"ping"}"#));
        assert!(s.replies[0].pattern.is_match(r#"{"type":"ping","payload":{}}"#));
        assert!(!s.replies[0].pattern.is_match(r#"{"type":"pong"}"#));
        assert_eq!(s.subprotocol, Some("graphql-transport-ws"));
    }

    #[test]
    fn the_close_codes_have_names() {
        for code in [4400, 4401, 4403, 4406, 4408, 4409, 4429, 4499, 4500, 4504] {
            assert!(close_name(code).is_some(), "{code}");
        }
        assert!(close_name(4000).is_none());
    }
}
