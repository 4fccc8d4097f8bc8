//! Judging a fan-out run: pure functions from the delivery figures to the
//! findings and a diagnosis in plain words. A payload is never printed:
//! cross-talk is counted and located, not shown.

use super::args::Mode;
use super::details::FanoutDetails;
use crate::check::Observation;
use crate::report::Finding;

/// Fewer clients than this may all land on one worker of a multi-worker
/// server under a connect burst, so a pass says less than it seems.
const FEW_CLIENTS: u32 = 50;

/// Findings and diagnosis for a finished run.
pub fn judge(d: &FanoutDetails, expect_ratio: Option<f64>, obs: &mut Observation) {
    connections(d, obs);
    delivery(d, expect_ratio, obs);
    obs.add(Finding::new(
        "duplicates",
        d.duplicates == 0,
        if d.duplicates == 0 { "no message arrived twice".into() } else { format!("{} extra copies", d.duplicates) },
    ));
    obs.add(Finding::new("cross-talk", d.cross_talk == 0, cross_talk_words(d)));
    if d.publish_failures > 0 {
        obs.add(Finding::new("publish", false, format!("{} publishes failed", d.publish_failures)));
    }
    diagnose(d, obs);
}

fn connections(d: &FanoutDetails, obs: &mut Observation) {
    let refused = crate::report::counts(&d.connect_failures);
    let detail = match (d.connected == d.clients, d.drops.len()) {
        (true, 0) => format!("{}/{} clients connected and stayed open", d.connected, d.clients),
        (true, n) => format!("{}/{} connected; {n} dropped during the run", d.connected, d.clients),
        (false, n) => format!("{}/{} connected ({refused}); {n} dropped during the run", d.connected, d.clients),
    };
    obs.add(Finding::new("connections", d.connected == d.clients && d.drops.is_empty(), detail));
}

fn delivery(d: &FanoutDetails, expect_ratio: Option<f64>, obs: &mut Observation) {
    let ratio = d.delivery_ratio.unwrap_or(0.0);
    let ok = match expect_ratio {
        Some(min) => ratio >= min,
        None => d.missing == 0,
    };
    let mut detail = format!("{}/{} expected deliveries ({:.2}%)", d.delivered, d.expected, ratio * 100.0);
    if let Some(p) = &d.latency_ms {
        detail.push_str(&format!(", latency p50 {:.2} ms p99 {:.2} ms", p.p50, p.p99));
    }
    if let Some(min) = expect_ratio {
        detail.push_str(&format!("; --expect-ratio {min}"));
    }
    obs.add(Finding::new("delivery", ok && d.expected > 0, detail));
}

fn cross_talk_words(d: &FanoutDetails) -> String {
    if d.cross_talk == 0 {
        return "no message reached a client it was not meant for".into();
    }
    let at = d.per_client.iter().filter(|c| c.cross_talk > 0).count();
    format!("{} receipts by {at} clients a message was not meant for (payloads not shown)", d.cross_talk)
}

fn diagnose(d: &FanoutDetails, obs: &mut Observation) {
    if let Some(line) = partition_words(d) {
        obs.diagnosis.push(line);
    } else if d.missing > 0 {
        let worst: Vec<String> = worst_clients(d).into_iter().map(|c| c.to_string()).collect();
        obs.diagnosis.push(format!(
            "{} of {} expected deliveries never arrived (most missing at clients {}): the server drops messages, or registers connections late (raise --settle) or lost them.",
            d.missing, d.expected, worst.join(", ")
        ));
    }
    if d.duplicates > 0 {
        obs.diagnosis.push(duplicate_words(d));
    }
    if d.cross_talk > 0 {
        obs.diagnosis.push(spam_words(d));
    }
    if d.delivered == 0 && d.expected > 0 && d.other_messages > 0 {
        obs.diagnosis.push(format!("{} messages came back, none with a nonce: the server may wrap or re-encode the payload; check that --publish puts {{nonce}} where the server passes it on.", d.other_messages));
    }
    if d.echoes > 0 {
        obs.diagnosis.push(format!("Publishers got {} copies of their own messages back: the server sends to the sender too (fine if the app expects it; otherwise exclude the sender).", d.echoes));
    }
    if d.inversions > 0 {
        obs.diagnosis.push(format!("{} receipts arrived out of order: a later message of a publisher before an earlier one. Clients that need order must not assume it here.", d.inversions));
    }
    let clean = d.missing == 0 && d.duplicates == 0 && d.cross_talk == 0;
    if d.mode == Mode::Broadcast && clean && d.expected > 0 && d.connected < FEW_CLIENTS {
        obs.diagnosis.push(format!("All {} clients heard every broadcast. Behind several workers sharing one port, a burst of connects can land on a single worker: run with more clients (--clients 100) before concluding the registry is shared.", d.connected));
    }
}

fn partition_words(d: &FanoutDetails) -> Option<String> {
    let groups = d.groups.as_ref()?;
    let sizes: Vec<String> = groups.iter().map(|g| g.len().to_string()).collect();
    let k = groups.len();
    if groups.iter().all(|g| g.len() == 1) {
        return Some("Each client heard only its own messages: the server echoes a publish back to its sender instead of passing it on (or every connection has a registry of its own). Check the message type --publish sends.".into());
    }
    Some(if d.clean_partition {
        format!("{k} workers (or pods) each keep their own connection registry: a broadcast reaches only the publisher's group (groups of {}). Share one pub/sub (for example Redis) between them.", sizes.join(", "))
    } else {
        format!("Broadcasts reached only part of the audience: the clients fall into {k} groups by whom they hear (sizes {}), and deliveries are also lost inside groups. Several registries plus message loss; see per_client.", sizes.join(", "))
    })
}

fn duplicate_words(d: &FanoutDetails) -> String {
    let copies = (d.delivered + d.duplicates) as f64 / d.delivered.max(1) as f64;
    let every = d.per_client.iter().filter(|c| c.delivered > 0).all(|c| c.duplicates >= c.delivered);
    if copies >= 1.9 && every {
        format!("Every message arrived about ×{copies:.0}: the server delivers each message {copies:.0} times (a handler or subscription registered twice, or one connection listed twice in the registry).")
    } else {
        format!(
            "{} duplicate deliveries: some messages arrived more than once (retries without de-duplication?).",
            d.duplicates
        )
    }
}

fn spam_words(d: &FanoutDetails) -> String {
    let receivers = d.per_client.iter().filter(|c| c.cross_talk > 0).count();
    let others = d.connected.saturating_sub(2).max(1);
    let everyone = d.mode == Mode::Unicast && d.cross_talk >= d.expected * u64::from(others);
    if everyone {
        format!("Every message addressed to one client also reached all the others ({receivers} clients, {} receipts): the router sends to everyone (message spam) instead of routing by identity.", d.cross_talk)
    } else {
        format!("Messages reached {receivers} clients they were not meant for ({} receipts): routing by identity leaks; look for a shared channel or a broadcast fallback.", d.cross_talk)
    }
}

fn worst_clients(d: &FanoutDetails) -> Vec<u32> {
    let mut by_missing: Vec<_> = d.per_client.iter().filter(|c| c.missing > 0).collect();
    by_missing.sort_by_key(|c| std::cmp::Reverse(c.missing));
    by_missing.iter().take(5).map(|c| c.client).collect()
}
