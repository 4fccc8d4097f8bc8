//! Redirects on the upgrade (301, 302, 307, 308): where a `Location`
//! points (relative to the URL that answered; `http://` read as `ws://`
//! and `https://` as `wss://`, since servers redirect with HTTP URLs), and
//! the rules `--follow-redirects` keeps: at most [`MAX_REDIRECTS`] hops,
//! and never from wss:// down to ws:// unless `--insecure` says so.

use std::time::Instant;

use url::Url;

use crate::net::attempt::{FailureKind, Hop, Opened, Phase, Rejection, Timings};
use crate::net::connect::{Opening, StepError};
use crate::net::endpoint::Dest;
use crate::redact::redact_url;

/// Redirects followed at most, as browsers and curl's default allow far
/// more; five is plenty for a WebSocket endpoint and stops a loop fast.
pub const MAX_REDIRECTS: usize = 5;

/// True for the statuses that redirect an upgrade request.
pub fn is_redirect(status: u16) -> bool {
    matches!(status, 301 | 302 | 307 | 308)
}

/// The URL a `Location` sends the client to, from the URL that answered.
pub fn next_url(current: &Url, location: &str) -> Result<Url, String> {
    let shown = redact_url(location);
    let mut next = current.join(location.trim()).map_err(|e| format!("its Location '{shown}' is not a URL: {e}"))?;
    let scheme = match next.scheme() {
        "ws" | "http" => "ws",
        "wss" | "https" => "wss",
        other => return Err(format!("its Location '{shown}' is a {other}:// URL, not a WebSocket one")),
    };
    if next.scheme() != scheme && next.set_scheme(scheme).is_err() {
        return Err(format!("its Location '{shown}' cannot be read as a {scheme}:// URL"));
    }
    next.set_fragment(None);
    Ok(next)
}

/// Refuses a redirect from wss:// to ws:// (it would drop TLS and send the
/// request, credentials included, in the clear) unless `insecure`.
pub fn check_downgrade(current: &Url, next: &Url, insecure: bool) -> Result<(), String> {
    if current.scheme() == "wss" && next.scheme() == "ws" && !insecure {
        return Err(format!(
            "the server redirects from wss:// to {}: following would drop TLS, so wsprobe refuses; add --insecure to follow it anyway",
            redact_url(next.as_str())
        ));
    }
    Ok(())
}

impl Opening<'_> {
    /// Follows the redirect answer `first` and those after it, each hop a
    /// new connection (DNS, TCP, proxy, TLS, upgrade) recorded in the
    /// route, until an answer that is not a redirect.
    pub(crate) async fn follow(&mut self, first: Rejection) -> Result<Result<Opened, Rejection>, StepError> {
        let bad = |why: String| (Phase::Upgrade, FailureKind::Protocol, why);
        let mut current = self.endpoint.url_for(self.client).map_err(|e| bad(e.to_string()))?;
        let mut answer = first;
        let mut hop_started = self.started;
        loop {
            let Some(location) = answer.location.clone().filter(|_| is_redirect(answer.status)) else {
                return Ok(Err(answer));
            };
            let shown = redact_url(current.as_str());
            let next = next_url(&current, &location)
                .map_err(|why| bad(format!("{shown} answered {} {}, but {why}", answer.status, answer.reason)))?;
            check_downgrade(&current, &next, self.endpoint.tls_options.insecure).map_err(bad)?;
            if self.route.redirects.len() == MAX_REDIRECTS {
                return Err(bad(format!(
                    "more than {MAX_REDIRECTS} redirects (the last from {shown} to {}): a redirect loop?",
                    redact_url(next.as_str())
                )));
            }
            self.route.redirects.push(Hop {
                from: shown,
                status: answer.status,
                reason: answer.reason.clone(),
                to: redact_url(next.as_str()),
                took: hop_started.elapsed(),
            });
            hop_started = Instant::now();
            self.timings = Timings::default();
            let dest = Dest::from_url(&next);
            match self.connect_once(&dest, false).await? {
                Err(rejection) => answer = rejection,
                opened => return Ok(opened),
            }
            current = next;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(s: &str) -> Url {
        Url::parse(s).unwrap()
    }

    #[test]
    fn locations_resolve_against_the_answering_url() {
        let here = url("wss://a.test/ws?x=1");
        assert_eq!(next_url(&here, "/v2/ws").unwrap().as_str(), "wss://a.test/v2/ws");
        assert_eq!(next_url(&here, "https://b.test/ws#f").unwrap().as_str(), "wss://b.test/ws");
        assert_eq!(next_url(&url("ws://a.test/"), "http://b.test:8080/ws").unwrap().as_str(), "ws://b.test:8080/ws");
        assert!(next_url(&here, "ftp://c.test/").unwrap_err().contains("not a WebSocket one"));
        let err = next_url(&here, "gopher://c.test/?token=abc").unwrap_err();
        assert!(!err.contains("abc"), "{err}");
    }

    #[test]
    fn tls_is_never_dropped_silently() {
        let (secure, plain) = (url("wss://a.test/"), url("ws://a.test/?token=t"));
        let err = check_downgrade(&secure, &plain, false).unwrap_err();
        assert!(err.contains("--insecure") && !err.contains("token=t"), "{err}");
        assert!(check_downgrade(&secure, &plain, true).is_ok());
        assert!(check_downgrade(&plain, &secure, false).is_ok());
        assert!(is_redirect(308) && !is_redirect(303) && !is_redirect(304));
    }
}
