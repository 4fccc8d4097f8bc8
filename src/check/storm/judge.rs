//! Judging a storm: pure functions from its details (a fresh run's or a
//! merge of shards') to the findings, the diagnosis in plain words and
//! the reason it could not run, so a merged storm is judged exactly like
//! a single one.

use super::report::StormDetails;
use super::Disrupt;
use crate::check::Observation;
use crate::net::attempt::{FailureKind, Outcome};
use crate::report::Finding;

/// Findings, diagnosis and (for an unreachable target) the error.
/// `interrupted`: Ctrl-C cut the run short, so a wave that did not finish
/// is not the server's failure.
pub fn judge(d: &StormDetails, interrupted: bool) -> Observation {
    let mut obs = Observation::default();
    findings(d, interrupted, &mut obs);
    diagnosis(d, &mut obs);
    obs.error = unreachable(d);
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

fn findings(d: &StormDetails, interrupted: bool, obs: &mut Observation) {
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
    if let Some(back) = d.reconnected {
        let wanted = d.connected;
        let ok = back >= wanted && d.waves[1].gave_up == 0;
        if !ok && interrupted {
            obs.diagnosis.push(format!(
                "Interrupted during the reconnect wave: {back}/{wanted} clients were back; the rest were still waiting out their backoff."
            ));
        } else {
            obs.add(Finding::new("reconnect-wave", ok, reconnect_detail(d, ok, back, wanted)));
        }
    }
    if d.disrupt != Disrupt::Server {
        drops_finding(d, obs);
    }
    echo_finding(d, obs);
}

fn reconnect_detail(d: &StormDetails, ok: bool, back: u64, wanted: u64) -> String {
    let w1 = &d.waves[1];
    match d.recovery_s {
        Some(r) if ok => {
            format!("{back}/{wanted} clients back {r:.2} s after the disruption ({} attempts)", w1.attempts)
        }
        _ => format!("{back}/{wanted} clients back; {} gave up after {} attempts each", w1.gave_up, d.max_attempts),
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
    if d.reconnected.is_some() {
        let herd = if d.backoff.split_whitespace().next() == Some("none") {
            " With no backoff every refused client retried at once: that is the thundering herd."
        } else {
            ""
        };
        let peak = d.reconnect_peak_attempts_per_s.unwrap_or(0);
        obs.diagnosis
            .push(format!("Reconnect wave: {} attempts, peaking at {peak} attempts/s.{herd}", d.waves[1].attempts));
    }
    let reasons: Vec<&str> = d.rejections.keys().filter_map(|k| why(*k)).collect();
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

/// What a kind of failed attempt usually means.
fn why(k: Outcome) -> Option<&'static str> {
    Some(match k {
        Outcome::Http(503) => "503: the server was full (a max-clients cap or overload)",
        Outcome::Http(429) => "429: a rate limit refused connections",
        Outcome::Failed(FailureKind::Refused) => "refused: the listen backlog overflowed or the server was down",
        Outcome::Failed(FailureKind::Timeout) => "timeout: connects or upgrades took longer than --connect-timeout",
        Outcome::Failed(FailureKind::Reset) => "reset: the server (or a proxy) reset connections",
        Outcome::Failed(FailureKind::LocalLimit) => "local-limit: this machine ran out of open files or ports",
        Outcome::AppRefused => "app-refused: the application protocol refused after the upgrade (credentials?)",
        Outcome::Proxy(_) | Outcome::Failed(FailureKind::Proxy) => {
            "proxy: the proxy refused the tunnel, not the server (`wsprobe connect` through it says why)"
        }
        _ => return None,
    })
}
