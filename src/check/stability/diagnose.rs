//! Plain-words explanations of what a soak saw: who closed, when, after how
//! much silence, and what that pattern usually means (an idle timeout, a
//! pong deadline, a token TTL, a proxy limit). Pure functions of the
//! statistics, so each pattern is unit-tested.

use std::time::Duration;

use super::cause::{self, near, Cause};
use super::closes::{CloseRecord, Period, StabilityStats};
use crate::event::{code_name, EndHow};
use crate::units::format_duration;

/// What the soak did, as far as the diagnosis needs it.
#[derive(Debug, Clone, Copy)]
pub struct Setup {
    /// Connections held.
    pub clients: u32,
    /// How long.
    pub duration: Duration,
    /// Our protocol ping interval.
    pub ping_interval: Option<Duration>,
    /// Application heartbeat interval.
    pub app_ping_interval: Option<Duration>,
    /// Pongs withheld.
    pub no_pong: bool,
    /// The application protocol that keeps connections alive, by name.
    pub app_heartbeat: Option<&'static str>,
}

/// Explains the soak in a few sentences.
pub fn diagnose(setup: &Setup, stats: &StabilityStats) -> Vec<String> {
    let mut out = Vec::new();
    out.push(heartbeat_line(setup, stats));
    if stats.closes.is_empty() {
        out.push(format!("All {} connections stayed open for {}.", setup.clients, format_duration(setup.duration)));
        return out;
    }
    if let Some(p) = stats.period() {
        out.push(period_line(setup, &p, stats));
    }
    for (first, count) in stats.closes.kinds() {
        let times = if count > 1 { format!(" ({count} times)") } else { String::new() };
        out.push(format!("{}{times}", explain(setup, stats, first)));
    }
    out
}

fn heartbeat_line(setup: &Setup, stats: &StabilityStats) -> String {
    let server = match stats.median_ping_interval_s() {
        Some(i) => format!("The server pinged every {i:.1} s (median; {} pings)", stats.server_pings),
        None if stats.server_pings == 1 => "The server sent 1 ping".to_string(),
        None if stats.server_pings > 0 => format!("The server sent {} pings", stats.server_pings),
        None if setup.app_heartbeat.is_some() => "The server sent no WebSocket ping frames".to_string(),
        None => "The server sent no pings".to_string(),
    };
    let ours = match (setup.no_pong, setup.ping_interval, setup.app_ping_interval) {
        (true, _, _) if setup.app_heartbeat.is_some() => {
            format!(
                "; wsprobe withheld every pong and every {} heartbeat answer",
                setup.app_heartbeat.unwrap_or_default()
            )
        }
        (true, _, _) => "; wsprobe withheld every pong".to_string(),
        (_, Some(p), _) => match stats.pong_rtt.percentiles() {
            Some(rtt) => format!(
                "; our pings every {} came back in {:.2} ms (p50), {:.2} ms (p99)",
                format_duration(p),
                rtt.p50,
                rtt.p99
            ),
            None => format!("; none of our pings every {} came back", format_duration(p)),
        },
        (_, None, Some(a)) => format!(
            "; our application heartbeat every {} got {} replies to {} sent",
            format_duration(a),
            stats.messages_in,
            stats.app_sent
        ),
        _ => match setup.app_heartbeat {
            Some(name) => format!("; wsprobe kept up the {name} heartbeat"),
            None if stats.server_pings > 0 => "; wsprobe answered every ping and sent nothing else".to_string(),
            None => "; wsprobe stayed silent".to_string(),
        },
    };
    format!("{server}{ours}.")
}

fn period_line(setup: &Setup, p: &Period, stats: &StabilityStats) -> String {
    let first = stats.closes.first_with_code(p.code);
    let reason = first.map(|c| c.reason.as_str()).unwrap_or("");
    let interval = stats.median_ping_interval_s();
    let read = first.map(|c| cause::classify(setup, interval, c)).unwrap_or_default();
    let every = interval.map(|i| format!(" every {i:.1} s")).unwrap_or_default();
    let what = match read {
        Cause::TokenTtl => {
            "a token or session TTL: refresh the token before it expires, or reconnect on this code at once".to_string()
        }
        Cause::PongDeadline => "the server's pong deadline, as wsprobe withheld pongs on every connection".to_string(),
        Cause::PingsAnswered => format!("the server pinged{every} and wsprobe answered, yet it dropped every connection at the same age: a maximum connection age, or an idle timeout that only data messages reset (send one more often, e.g. --app-ping, to tell them apart)"),
        _ if p.code == 1006 && stats.server_pings == 0 => {
            "an idle timeout in the server or a proxy: send pings more often than that".to_string()
        }
        _ if p.code == 1006 => "a maximum connection age (a proxy or load balancer limit) or a scheduled drop".to_string(),
        _ => "the server ends connections on a schedule".to_string(),
    };
    let label = if reason.is_empty() { format!("code {}", p.code) } else { format!("code {} \"{reason}\"", p.code) };
    format!("A drop every {:.1} s ({label}), {} times: {what}.", p.seconds, p.drops)
}

fn explain(setup: &Setup, stats: &StabilityStats, c: &CloseRecord) -> String {
    let interval = stats.median_ping_interval_s();
    match cause::classify(setup, interval, c) {
        Cause::PongDeadline => return cause::pong_deadline(c, interval),
        Cause::PingsAnswered => return cause::pings_answered(c),
        _ => {}
    }
    match c.how {
        EndHow::Eof | EndHow::Reset => abnormal(c),
        EndHow::ProtocolError => format!(
            "The server broke the protocol after {:.1} s and wsprobe failed the connection with {}: {}.",
            c.after_s, c.code, c.detail
        ),
        EndHow::Stalled => format!(
            "After {:.1} s {}: the server (or a proxy) stopped reading this connection; a server must keep reading, or close slow clients explicitly.",
            c.after_s, c.detail
        ),
        EndHow::CloseFrame | EndHow::Ours => clean(c),
    }
}

fn abnormal(c: &CloseRecord) -> String {
    let tcp = if c.how == EndHow::Reset { "TCP reset" } else { "TCP closed" };
    let opening = format!("Dropped with 1006 ({tcp} without a close frame) {:.1} s after opening", c.after_s);
    if c.server_pings == 0 && near(c.idle_in_s, c.after_s) {
        let silent_out = if near(c.idle_out_s, c.after_s) { " and wsprobe sent nothing" } else { "" };
        let tell_apart = if silent_out.is_empty() {
            ""
        } else {
            " (or a fixed connection lifetime: run again with --ping-interval to tell the two apart)"
        };
        return format!(
            "{opening}, {:.1} s after the last inbound frame, no server pings seen{silent_out}: an idle or read timeout of about {:.1} s in the server or a proxy{tell_apart}; send pings (or any message) more often than that.",
            c.idle_in_s, c.idle_in_s
        );
    }
    format!(
        "{opening}, {:.1} s after the last inbound and {:.1} s after the last outbound frame: a timeout of about {:.1} s in the server or a proxy, or a broken network path.",
        c.idle_in_s,
        c.idle_out_s,
        c.idle_in_s.min(c.idle_out_s)
    )
}

fn clean(c: &CloseRecord) -> String {
    let reason = if c.reason.is_empty() { String::new() } else { format!(" \"{}\"", c.reason) };
    let meaning = match c.code {
        1000 => "the server ended the connection normally",
        1001 => "the server is going away: a restart, a deploy or a shutdown",
        1008 => "a policy violation: the server rejected something the client did",
        1011 => "the server hit an internal error",
        1012 => "the service is restarting",
        1013 => "the server asks to try again later (overload)",
        4000..=4999 => "an application-defined close",
        _ => code_name(c.code),
    };
    format!("Closed by the server with {}{reason} after {:.1} s: {meaning}.", c.code, c.after_s)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{CloseInfo, Event, EventKind};
    use crate::stats::Fold;
    use std::time::Instant;

    fn setup() -> Setup {
        Setup {
            clients: 1,
            duration: Duration::from_secs(120),
            ping_interval: None,
            app_ping_interval: None,
            no_pong: false,
            app_heartbeat: None,
        }
    }

    fn drop_event(close: CloseInfo, after: f64, idle_in: f64, idle_out: f64, withheld: u64) -> Event {
        let s = Duration::from_secs_f64;
        Event {
            client: 0,
            at: Instant::now(),
            kind: EventKind::Closed {
                close,
                after: s(after),
                idle_in: s(idle_in),
                idle_out: s(idle_out),
                pongs_withheld: withheld,
            },
        }
    }

    #[test]
    fn silent_drop_reads_as_an_idle_timeout() {
        let mut stats = StabilityStats::new(Instant::now());
        stats.apply(&drop_event(CloseInfo::abnormal(EndHow::Eof, ""), 60.0, 60.0, 60.0, 0));
        let text = diagnose(&setup(), &stats).join(" ");
        assert!(text.contains("60.0 s after the last inbound frame, no server pings seen"), "{text}");
        assert!(text.contains("idle or read timeout of about 60.0 s"), "{text}");
    }

    #[test]
    fn withheld_pongs_read_as_a_pong_deadline() {
        let mut stats = StabilityStats::new(Instant::now());
        stats.apply(&Event { client: 0, at: Instant::now(), kind: EventKind::ServerPing });
        stats.apply(&drop_event(CloseInfo::abnormal(EndHow::Eof, ""), 1.5, 0.5, 1.5, 3));
        let text = diagnose(&Setup { no_pong: true, ..setup() }, &stats).join(" ");
        assert!(text.contains("pong deadline of about 1.5 s"), "{text}");
    }

    #[test]
    fn repeated_4001_reads_as_a_token_ttl() {
        let mut stats = StabilityStats::new(Instant::now());
        for _ in 0..4 {
            stats.apply(&drop_event(CloseInfo::frame(4001, "token expired"), 30.0, 5.0, 5.0, 0));
        }
        let text = diagnose(&setup(), &stats).join(" ");
        assert!(
            text.contains("A drop every 30.0 s (code 4001 \"token expired\"), 4 times: a token or session TTL"),
            "{text}"
        );
    }

    #[test]
    fn no_drops_says_so() {
        let stats = StabilityStats::new(Instant::now());
        let text = diagnose(&setup(), &stats).join(" ");
        assert!(text.contains("All 1 connections stayed open for 2m") && text.contains("no pings"), "{text}");
    }
}
