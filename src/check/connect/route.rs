//! `connect`'s view of the way to the server: each redirect followed as a
//! step, then DNS, TCP, the proxy's tunnel and TLS with what each found
//! (the proxy's answer, the TLS version, cipher, ALPN and certificate),
//! a warning for a certificate that expires soon, and what to do about a
//! redirect that was not followed.

use std::time::Duration;

use serde::Serialize;

use super::{ConnectDetails, Step};
use crate::net::attempt::{Route, Timings};
use crate::net::tls::info::TlsInfo;
use crate::report::Observation;
use crate::units::millis;

/// A redirect followed, in `connect`'s JSON.
#[derive(Debug, Clone, Serialize)]
pub struct Redirect {
    /// The URL that answered (redacted).
    pub from: String,
    /// 301, 302, 307 or 308.
    pub status: u16,
    /// The URL it sent wsprobe to (redacted).
    pub to: String,
    /// That hop's connection, from DNS to the redirect, ms.
    pub ms: f64,
}

/// The redirect steps, then the phases of the last connection up to TLS.
pub fn steps(t: &Timings, route: &Route, tls: Option<&TlsInfo>, details: &mut ConnectDetails) {
    for hop in &route.redirects {
        let detail = format!("HTTP {} {} from {} → {} (followed)", hop.status, hop.reason, hop.from, hop.to);
        details.steps.push(Step { phase: "redirect".into(), ok: true, ms: Some(millis(hop.took)), detail });
        details.redirects.push(Redirect {
            from: hop.from.clone(),
            status: hop.status,
            to: hop.to.clone(),
            ms: millis(hop.took),
        });
    }
    let mut push = |phase: &str, d: Option<Duration>, detail: String| {
        if let Some(d) = d {
            details.steps.push(Step { phase: phase.into(), ok: true, ms: Some(millis(d)), detail });
        }
    };
    push("dns", t.dns, "resolved".into());
    push("tcp", t.tcp, "connected".into());
    let proxy = route.proxy.clone().unwrap_or_else(|| "tunnel open".into());
    push("proxy", t.proxy, proxy);
    let tls_detail = tls.map(handshake_line).unwrap_or_else(|| "handshake done".into());
    push("tls", t.tls, tls_detail);
}

/// `TLS 1.3, TLS13_AES_256_GCM_SHA384, ALPN http/1.1; certificate CN=...`.
fn handshake_line(info: &TlsInfo) -> String {
    match &info.certificate {
        Some(cert) => format!("{}; certificate {}", info.summary(), cert.subject),
        None => info.summary(),
    }
}

/// A warning when the server's certificate expires within two weeks.
pub fn expiry_warning(tls: Option<&TlsInfo>, obs: &mut Observation) {
    let Some(cert) = tls.and_then(|t| t.certificate.as_ref()).filter(|c| c.expires_soon()) else {
        return;
    };
    obs.warnings.push(format!(
        "the server's certificate ({}) expires on {}, in {:.1} days: renew it before clients start failing",
        cert.subject, cert.not_after, cert.expires_in_days
    ));
}

/// What a redirect that was not followed means.
pub fn redirect_diagnosis(status: u16, location: &str) -> String {
    format!(
        "{status}: the server redirects the upgrade to {location}; add --follow-redirects to follow it (at most 5 hops), or connect there directly"
    )
}
