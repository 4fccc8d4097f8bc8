//! Judging a storm: pure functions from its details (a fresh run's or a
//! merge of shards') to the findings, the diagnosis in plain words and
//! the reason it could not run, so a merged storm is judged exactly like
//! a single one.

use super::report::{StormDetails, StormPart};
use super::Disrupt;
use crate::check::Observation;
use crate::clock::{parse_rfc3339, seconds_between};
use crate::net::attempt::{FailureKind, Outcome, Phase};
use crate::report::Finding;

/// Findings, diagnosis and (for an unreachable target) the error.
/// `interrupted`: Ctrl-C cut the run short, so a wave that did not finish
/// is not the server's failure.
pub fn judge(d: &StormDetails, interrupted: bool) -> Observation {
    let mut obs = Observation::default();
    let not_judged = findings(d, interrupted, &mut obs);
    diagnosis(d, &mut obs);
    // A reconnect wave with nobody to reconnect proves nothing: when no
    // other finding failed, the run is inconclusive, never a pass.
    let failed = obs.findings.iter().any(|f| !f.ok);
    obs.error = unreachable(d).or(not_judged.filter(|_| !failed && !interrupted));
    obs
}

/// The target never answered at all (every first-wave attempt refused or
/// unresolvable): that is wsprobe not able to do its job, not a result.
fn unreachable(d: &StormDetails) -> Option<String> {
    let w0 = &d.waves[0];
    // A proxy that refused every tunnel kept wsprobe from the server too.
    let silent = |k: &Outcome| {
        matches!(
            k,
            Outcome::Failed(FailureKind::Refused | FailureKind::Dns | FailureKind::Unreachable | FailureKind::Proxy)
                | Outcome::Proxy(_)
        )
    };
    let all_silent = w0.attempts > 0 && w0.accepted == 0 && d.rejections.keys().all(silent);
    all_silent.then(|| {
        format!(
            "the target is unreachable: all {} first-wave attempts failed ({})",
            w0.attempts,
            crate::report::counts(&d.rejections)
        )
    })
}

/// The findings; returns why the reconnect wave could not be judged, if so.
fn findings(d: &StormDetails, interrupted: bool, obs: &mut Observation) -> Option<String> {
    let first_ok = d.connected == u64::from(d.clients);
    let mut detail = format!("{}/{} clients connected", d.connected, d.clients);
    if let Some(rate) = d.connections_per_s {
        detail.push_str(&format!(" ({rate:.0}/s)"));
    }
    if !first_ok && !d.rejections.is_empty() {
        detail.push_str(&format!("; failed attempts: {}", crate::report::counts(&d.rejections)));
    }
    // Ctrl-C before a wave finished is not the server's failure: the wave
    // gets no finding, and the verdict step calls the run interrupted.
    if first_ok || !interrupted || d.reconnected.is_some() {
        obs.add(Finding::new("first-wave", first_ok, detail));
    }
    let not_judged = d.reconnected.and_then(|back| reconnect_finding(d, interrupted, back, obs));
    if d.disrupt != Disrupt::Server {
        drops_finding(d, obs);
    }
    echo_finding(d, obs);
    not_judged
}

/// The reconnect wave's finding, or why there is none.
fn reconnect_finding(d: &StormDetails, interrupted: bool, back: u64, obs: &mut Observation) -> Option<String> {
    let dropped: u64 = d.drops.values().sum();
    let waited = d.interruption.filter(|i| i.during == StormPart::ReconnectWave);
    let reason = if d.connected == 0 {
        Some("no client connected in the first wave, so none could be disrupted and reconnect".to_string())
    } else if d.disrupt == Disrupt::Server && dropped == 0 {
        Some(match waited {
            Some(i) => format!("the server had dropped none of the clients when Ctrl-C came, {:.1} s into the wait", i.after_s),
            None => "the server never dropped the clients: none was closed while wsprobe waited (--wave-timeout); restart or stop the server during the storm, or use --disrupt abrupt".to_string(),
        })
    } else {
        None
    };
    if let Some(why) = reason {
        obs.diagnosis.push(format!("Reconnect wave not judged: {why}."));
        return Some(why);
    }
    // --disrupt server: only the clients the server dropped had to come back.
    let wanted = if d.disrupt == Disrupt::Server { d.connected.min(dropped) } else { d.connected };
    let ok = back >= wanted && d.waves[1].gave_up == 0;
    if !ok && interrupted {
        let after = waited.map(|i| format!(" after {:.1} s", i.after_s)).unwrap_or_default();
        obs.diagnosis.push(format!(
            "The reconnect wave was interrupted{after}: {back}/{wanted} clients were back; the rest were still waiting out their backoff."
        ));
    } else {
        obs.add(Finding::new("reconnect-wave", ok, reconnect_detail(d, ok, back, wanted)));
    }
    None
}

fn reconnect_detail(d: &StormDetails, ok: bool, back: u64, wanted: u64) -> String {
    let w1 = &d.waves[1];
    let of = if d.disrupt == Disrupt::Server && wanted < d.connected {
        format!(" (the server dropped {wanted} of {})", d.connected)
    } else {
        String::new()
    };
    match d.recovery_s {
        Some(r) if ok => {
            format!("{back}/{wanted} clients back {r:.2} s after the disruption ({} attempts){of}", w1.attempts)
        }
        _ if ok => format!("{back}/{wanted} clients back ({} attempts){of}", w1.attempts),
        _ => format!("{back}/{wanted} clients back; {} gave up after {} attempts each{of}", w1.gave_up, d.max_attempts),
    }
}

/// With `--message`, the echoes: none at all is a failure of its own.
fn echo_finding(d: &StormDetails, obs: &mut Observation) {
    let (sent, got) = (d.messages.sent, d.messages.received);
    if sent == 0 {
        return;
    }
    let detail = if got == 0 {
        format!("no echo came back for any of the {sent} messages sent: the server does not echo, or it drops them")
    } else {
        format!("{got}/{sent} messages echoed")
    };
    obs.add(Finding::new("echo", got > 0, detail));
}

fn drops_finding(d: &StormDetails, obs: &mut Observation) {
    let unexpected: u64 = d.drops.values().sum();
    let ok = unexpected == 0;
    let detail = if ok {
        "no connection was dropped by the server".to_string()
    } else {
        format!("the server dropped {unexpected} connections on its own (codes {:?})", d.drops)
    };
    obs.add(Finding::new("server-drops", ok, detail));
}

fn diagnosis(d: &StormDetails, obs: &mut Observation) {
    if let Some(p) = d.handshake_ms {
        obs.diagnosis.push(format!(
            "First wave: {} connections, handshake p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms.",
            d.connected, p.p50, p.p99, p.max
        ));
    }
    if let Some(i) = d.interruption.filter(|i| i.during == StormPart::FirstWave) {
        obs.diagnosis.push(format!(
            "Interrupted after {:.1} s of the first wave: {}/{} clients had connected; the rest had not settled yet.",
            i.after_s, d.connected, d.clients
        ));
    }
    if d.reconnected.is_some() && d.waves[1].attempts > 0 {
        obs.diagnosis.push(reconnect_words(d));
    }
    obs.diagnosis.extend(super::backlog::diagnosis(d));
    let reasons: Vec<String> = d.rejections.keys().filter_map(|k| why(d, *k)).collect();
    if !reasons.is_empty() {
        obs.diagnosis.push(format!(
            "Failed attempts: {}. {}",
            crate::report::counts(&d.rejections),
            reasons.join("; ")
        ));
    }
    if let Some(message) = &d.app_refusal {
        obs.diagnosis
            .push(format!("The application protocol refused connections after the upgrade; the first: {message}."));
    }
}

/// The reconnect wave in words, from what was measured: over a wave
/// shorter than a second, a per-second peak would be a rate nobody saw.
fn reconnect_words(d: &StormDetails) -> String {
    let retried = d.waves[1].attempts > d.waves[1].accepted;
    let herd = if retried && d.backoff.split_whitespace().next() == Some("none") {
        " With no backoff every refused client retried at once: that is the thundering herd."
    } else {
        ""
    };
    let attempts = d.waves[1].attempts;
    let at = |t: &Option<String>| t.as_deref().and_then(parse_rfc3339);
    let span = at(&d.times.reconnect_first_attempt_at)
        .zip(at(&d.times.reconnect_last_attempt_at))
        .map(|(a, b)| seconds_between(a, b).max(0.0));
    match (span, d.reconnect_peak_attempts_per_s) {
        (Some(s), Some(peak)) if s >= 1.0 => {
            format!("Reconnect wave: {attempts} attempts over {s:.1} s, peaking at {peak} attempts/s.{herd}")
        }
        (Some(s), _) => format!(
            "Reconnect wave: {attempts} attempts within {}.{herd}",
            crate::units::format_duration(std::time::Duration::from_secs_f64(s))
        ),
        (None, _) => format!("Reconnect wave: {attempts} attempts.{herd}"),
    }
}

/// What a kind of failed attempt usually means; timeouts by the phase
/// they cut short.
fn why(d: &StormDetails, k: Outcome) -> Option<String> {
    Some(match k {
        Outcome::Http(503) => "503: the server was full (a max-clients cap or overload)".into(),
        Outcome::Http(429) => "429: a rate limit refused connections".into(),
        Outcome::Failed(FailureKind::Refused) => "refused: the listen backlog overflowed or the server was down".into(),
        Outcome::Failed(FailureKind::Timeout) if !d.timeouts.is_empty() => timeout_words(d),
        Outcome::Failed(FailureKind::Timeout) => {
            "timeout: connects or upgrades took longer than --connect-timeout".into()
        }
        Outcome::Failed(FailureKind::Reset) => "reset: the server (or a proxy) reset connections".into(),
        Outcome::Failed(FailureKind::LocalLimit) => "local-limit: this machine ran out of open files or ports".into(),
        Outcome::AppRefused => "app-refused: the application protocol refused after the upgrade (credentials?)".into(),
        Outcome::Proxy(_) | Outcome::Failed(FailureKind::Proxy) => {
            "proxy: the proxy refused the tunnel, not the server (`wsprobe connect` through it says why)".into()
        }
        _ => return None,
    })
}

/// The timeouts by phase, each with what it usually means.
fn timeout_words(d: &StormDetails) -> String {
    let parts: Vec<String> = d
        .timeouts
        .iter()
        .map(|(phase, n)| {
            let meaning = match phase {
                Phase::Dns => "in DNS (the resolver did not answer)",
                Phase::Tcp => "in TCP connect (no SYN-ACK in time: a full listen backlog dropping SYNs, or a firewall)",
                Phase::Proxy => "in the proxy's tunnel (the proxy did not answer CONNECT or SOCKS5 in time)",
                Phase::Tls => "in the TLS handshake (TCP connected, TLS did not finish)",
                Phase::Upgrade => "in the upgrade (TCP connected, no HTTP answer in time: a queue in front of the application, such as a proxy's maxconn, or an overloaded server)",
                Phase::App => "in the application handshake (upgraded, the application never said ready)",
            };
            format!("{n} {meaning}")
        })
        .collect();
    format!("timeout (--connect-timeout): {}", parts.join(", "))
}
