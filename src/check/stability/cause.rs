//! What each drop is read as, from what happened rather than from its close
//! code: real stacks end a missed pong with 1011 (Python `websockets`:
//! "keepalive ping timeout"), an empty close frame (1005, gorilla's chat
//! example), 1000 or no close frame at all (1006, a Go read deadline), so
//! a pong deadline is recognised by its timing: wsprobe withheld pongs and
//! the close came before the server's next ping was due. The words for the
//! heartbeat causes live here too; `diagnose` strings them together.

use serde::{Deserialize, Serialize};

use super::closes::CloseRecord;
use super::diagnose::Setup;
use crate::event::{code_name, EndHow};

/// What a drop is read as.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Cause {
    /// wsprobe withheld pongs and the server closed before its next ping
    /// was due: it enforces a pong deadline (any close code).
    PongDeadline,
    /// No server pings, dropped without a close frame after the silence:
    /// an idle or read timeout (or a fixed lifetime).
    IdleTimeout,
    /// The server pinged, wsprobe answered every ping, and the connection
    /// was dropped anyway: not a heartbeat failure (an idle timeout that
    /// only data messages reset, a maximum age, a proxy limit).
    PingsAnswered,
    /// A token or session expired (4001, or the reason says so).
    TokenTtl,
    /// The server closed with a code that tells its own story.
    ServerClose,
    /// The server broke the protocol.
    ProtocolError,
    /// The server stopped reading.
    Stalled,
    /// Nothing above fits.
    #[default]
    Other,
}

impl Cause {
    /// How tables show it.
    pub fn label(self) -> &'static str {
        match self {
            Cause::PongDeadline => "pong deadline",
            Cause::IdleTimeout => "idle timeout",
            Cause::PingsAnswered => "pings answered",
            Cause::TokenTtl => "token ttl",
            Cause::ServerClose => "server close",
            Cause::ProtocolError => "protocol error",
            Cause::Stalled => "stalled",
            Cause::Other => "-",
        }
    }
}

/// Words in a close reason that name a heartbeat or an idle deadline; a
/// reason with none of them names another cause in the stack's own words.
const KEEPALIVE_WORDS: [&str; 9] =
    ["ping", "pong", "keepalive", "keep-alive", "heartbeat", "timeout", "timed out", "idle", "alive"];

/// Words in a close reason that name an expired credential.
const TOKEN_WORDS: [&str; 4] = ["token", "expire", "auth", "session"];

/// Reads one drop. `interval` is the median server ping interval.
pub fn classify(setup: &Setup, interval: Option<f64>, c: &CloseRecord) -> Cause {
    match c.how {
        EndHow::ProtocolError => return Cause::ProtocolError,
        EndHow::Stalled => return Cause::Stalled,
        EndHow::Ours => return Cause::Other,
        EndHow::CloseFrame | EndHow::Eof | EndHow::Reset => {}
    }
    if is_pong_deadline(setup, interval, c) {
        return Cause::PongDeadline;
    }
    let reason = c.reason.to_lowercase();
    if c.code == 4001 || TOKEN_WORDS.iter().any(|w| reason.contains(w)) {
        return Cause::TokenTtl;
    }
    if c.server_pings > 0 && !withheld(setup, c) && (reason.is_empty() || names_keepalive(&reason)) {
        return Cause::PingsAnswered;
    }
    if c.abnormal && c.server_pings == 0 && near(c.idle_in_s, c.after_s) {
        return Cause::IdleTimeout;
    }
    if c.abnormal {
        Cause::Other
    } else {
        Cause::ServerClose
    }
}

/// True when wsprobe left this connection's pings unanswered.
fn withheld(setup: &Setup, c: &CloseRecord) -> bool {
    c.pongs_withheld > 0 || (setup.no_pong && c.server_pings > 0)
}

fn names_keepalive(reason: &str) -> bool {
    KEEPALIVE_WORDS.iter().any(|w| reason.contains(w))
}

/// Two times that agree within 10% (at least 0.3 s).
pub fn near(a: f64, b: f64) -> bool {
    (a - b).abs() <= (0.1 * b).max(0.3)
}

/// Pongs withheld, at least one ping unanswered, and the close came before
/// the next ping was due (the interval, or with a single ping the time it
/// came after opening, as servers ping first one interval in); a reason in
/// other words than a heartbeat's vetoes it.
fn is_pong_deadline(setup: &Setup, interval: Option<f64>, c: &CloseRecord) -> bool {
    let Some(since) = c.since_ping_s else { return false };
    if !withheld(setup, c) {
        return false;
    }
    let reason = c.reason.to_lowercase();
    if !reason.is_empty() && !names_keepalive(&reason) {
        return false;
    }
    let gap = match interval {
        Some(i) if c.server_pings >= 2 => i,
        _ => (c.after_s - since).max(0.0),
    };
    since <= 1.5 * gap + 0.3
}

/// The close in a few words: `1006 (no close frame)`, `1005 (no status
/// code)`, `4001 "token expired"`.
pub fn short(c: &CloseRecord) -> String {
    match (c.abnormal, c.reason.is_empty()) {
        (true, _) if c.code == 1006 => "1006 (no close frame)".to_string(),
        (_, true) => format!("{} ({})", c.code, code_name(c.code)),
        (_, false) => format!("{} \"{}\"", c.code, c.reason),
    }
}

/// How the connection ended, as the start of a sentence.
pub fn ending(c: &CloseRecord) -> String {
    match (c.how, c.code, c.reason.is_empty()) {
        (EndHow::Eof, ..) => "Dropped with 1006 (TCP closed without a close frame)".to_string(),
        (EndHow::Reset, ..) => "Dropped with 1006 (TCP reset without a close frame)".to_string(),
        (_, 1005, _) => "Closed with an empty close frame (1005, no status code)".to_string(),
        (_, code, true) => format!("Closed with {code} ({})", code_name(code)),
        (_, code, false) => format!("Closed with {code} \"{}\"", c.reason),
    }
}

/// What the close code would have suggested, when that is not what it means here.
fn code_aside(c: &CloseRecord) -> &'static str {
    match c.code {
        1011 => "; 1011 (internal error) stands here for the missed pong, not a crash",
        1000 => "; 1000 (normal closure) hides the missed pong here",
        1005 => "; Go servers often end a connection whose read deadline passed with an empty close frame",
        _ => "",
    }
}

/// The sentence for a pong deadline.
pub fn pong_deadline(c: &CloseRecord, interval: Option<f64>) -> String {
    let since = c.since_ping_s.unwrap_or(c.after_s);
    let withheld = c.pongs_withheld.max(1);
    let deadline = if withheld >= 2 {
        let every = interval.map(|i| format!(" (the server pinged every {i:.1} s)")).unwrap_or_default();
        format!(" of about {:.1} s counted from the last pong or the opening{every}", c.idle_out_s)
    } else {
        format!(": the server gave up {since:.1} s after its ping went unanswered")
    };
    let words = if c.reason.is_empty() { String::new() } else { format!(" In its own words: \"{}\".", c.reason) };
    format!(
        "{} {:.1} s after opening and {since:.1} s after the server's last ping, while wsprobe withheld {} (--no-pong): a pong deadline{deadline}{}.{words} Clients must answer every ping promptly.",
        ending(c),
        c.after_s,
        count(withheld, "pong"),
        code_aside(c)
    )
}

/// `1 pong`, `3 pongs`.
fn count(n: u64, what: &str) -> String {
    if n == 1 {
        format!("1 {what}")
    } else {
        format!("{n} {what}s")
    }
}

/// The sentence for a drop although every ping was answered.
pub fn pings_answered(c: &CloseRecord) -> String {
    let pings = match c.server_pings {
        1 => "although wsprobe answered the server's ping".to_string(),
        n => format!("although wsprobe answered each of the server's {n} pings"),
    };
    let silent = near(c.idle_data_in_s, c.after_s) && near(c.idle_data_out_s, c.after_s);
    let timing = if silent {
        format!("{:.1} s after opening, {pings} and no data message went either way", c.after_s)
    } else {
        format!(
            "{:.1} s after opening and {:.1} s after the last data message (in {:.1} s, out {:.1} s), {pings}",
            c.after_s,
            c.idle_data_in_s.min(c.idle_data_out_s),
            c.idle_data_in_s,
            c.idle_data_out_s
        )
    };
    let idle = c.idle_data_in_s.min(c.idle_data_out_s);
    let proxy = if c.abnormal { "; look also for a proxy or load balancer limit, a crash or a restart" } else { "" };
    format!(
        "{} {timing}: not a heartbeat timeout. An idle timeout of about {idle:.1} s that only data messages reset (pings do not count, as with a Go read deadline set per message), or a maximum connection age{proxy}; send a data message more often than that (--app-ping) to tell the two apart.",
        ending(c)
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn setup(no_pong: bool) -> Setup {
        Setup {
            clients: 1,
            duration: Duration::from_secs(10),
            ping_interval: None,
            app_ping_interval: None,
            no_pong,
            app_heartbeat: None,
        }
    }

    fn record(code: u16, reason: &str, how: EndHow, after: f64, since_ping: Option<f64>, pings: u32) -> CloseRecord {
        CloseRecord {
            client: 0,
            code,
            reason: reason.into(),
            abnormal: matches!(how, EndHow::Eof | EndHow::Reset),
            how,
            detail: String::new(),
            after_s: after,
            idle_in_s: since_ping.unwrap_or(after),
            idle_out_s: after,
            at_s: after,
            server_pings: pings,
            pongs_withheld: 0,
            since_ping_s: since_ping,
            idle_data_in_s: after,
            idle_data_out_s: after,
            cause: Cause::Other,
        }
    }

    #[test]
    fn a_pong_deadline_is_read_from_the_timing_whatever_the_code() {
        // Python websockets (1011), gorilla's chat example (1005), a Go read
        // deadline (1006), a server that says 1000: all one pong deadline.
        let cases = [
            record(1011, "keepalive ping timeout", EndHow::CloseFrame, 2.0, Some(1.0), 1),
            record(1005, "", EndHow::CloseFrame, 3.0, Some(0.0), 3),
            record(1006, "", EndHow::Eof, 3.0, Some(0.02), 3),
            record(1000, "", EndHow::CloseFrame, 60.0, Some(6.0), 1),
        ];
        for c in &cases {
            assert_eq!(classify(&setup(true), Some(1.0), c), Cause::PongDeadline, "{c:?}");
            assert_eq!(classify(&setup(false), Some(1.0), c), Cause::PingsAnswered, "answered: {c:?}");
        }
        let text = pong_deadline(&cases[0], None);
        assert!(
            text.contains("In its own words: \"keepalive ping timeout\"") && text.contains("not a crash"),
            "{text}"
        );
        assert!(text.contains("1.0 s after the server's last ping"), "{text}");
    }

    #[test]
    fn a_close_long_after_the_last_ping_or_in_other_words_is_not_a_pong_deadline() {
        let late = record(1000, "", EndHow::CloseFrame, 30.0, Some(29.0), 1);
        assert_ne!(classify(&setup(true), None, &late), Cause::PongDeadline);
        let ttl = record(4001, "token expired", EndHow::CloseFrame, 2.0, Some(0.5), 2);
        assert_eq!(classify(&setup(true), Some(1.0), &ttl), Cause::TokenTtl);
        let no_pings = record(1006, "", EndHow::Eof, 5.0, None, 0);
        assert_eq!(classify(&setup(true), None, &no_pings), Cause::IdleTimeout);
    }

    #[test]
    fn answered_pings_and_a_drop_read_as_not_a_heartbeat_timeout() {
        let c = record(1005, "", EndHow::CloseFrame, 3.0, Some(0.0), 3);
        let text = pings_answered(&c);
        assert!(text.contains("not a heartbeat timeout") && text.contains("no data message went either way"), "{text}");
        assert!(text.starts_with("Closed with an empty close frame (1005"), "{text}");
    }
}
