//! The proxy environment, read as curl reads it (lib/url.c, lib/noproxy.c):
//! - ws:// uses `ws_proxy`, `WS_PROXY`, then `http_proxy` — lower case
//!   only: curl never reads `HTTP_PROXY`, which a CGI request can set
//!   through a `Proxy:` header (httpoxy);
//! - wss:// uses `wss_proxy`, `WSS_PROXY`, `https_proxy`, `HTTPS_PROXY`;
//! - both fall back to `all_proxy`, then `ALL_PROXY`;
//! - `no_proxy` (or `NO_PROXY`): `*` for every host, else names and
//!   addresses separated by commas or spaces; a name matches itself and
//!   its subdomains (a leading dot changes nothing), an address matches
//!   itself, `addr/bits` a CIDR range. Without it, loopback goes through
//!   the proxy like any host.
//!
//! Empty variables count as unset. Reading goes through a lookup function,
//! so tests never touch the process environment.

use std::net::IpAddr;

use super::{ProxySettings, ProxyUrl, Sourced};

/// The hosts that bypass the proxy.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct NoProxy {
    all: bool,
    names: Vec<String>,
    ranges: Vec<(IpAddr, u8)>,
}

impl NoProxy {
    /// Parses a `NO_PROXY` value.
    pub fn parse(text: &str) -> NoProxy {
        let mut rules = NoProxy::default();
        if text.trim() == "*" {
            rules.all = true;
            return rules;
        }
        for token in text.split([',', ' ', '\t']).map(str::trim).filter(|t| !t.is_empty()) {
            let bare = token.trim_start_matches('[').trim_end_matches(']');
            let (addr, bits) = match bare.split_once('/') {
                Some((a, b)) => (a, b.parse::<u8>().ok()),
                None => (bare, None),
            };
            match addr.parse::<IpAddr>() {
                Ok(ip) => rules.ranges.push((ip, bits.unwrap_or(if ip.is_ipv4() { 32 } else { 128 }))),
                Err(_) => rules.names.push(token.trim_start_matches('.').trim_end_matches('.').to_ascii_lowercase()),
            }
        }
        rules
    }

    /// True when `host` (a name, or an address without brackets) goes direct.
    pub fn matches(&self, host: &str) -> bool {
        if self.all {
            return true;
        }
        let host = host.trim_start_matches('[').trim_end_matches(']');
        if let Ok(ip) = host.parse::<IpAddr>() {
            return self.ranges.iter().any(|(net, bits)| in_range(ip, *net, *bits));
        }
        let host = host.trim_end_matches('.').to_ascii_lowercase();
        self.names.iter().any(|n| !n.is_empty() && (host == *n || host.ends_with(&format!(".{n}"))))
    }
}

fn in_range(ip: IpAddr, net: IpAddr, bits: u8) -> bool {
    match (ip, net) {
        (IpAddr::V4(a), IpAddr::V4(b)) => prefix_eq(&a.octets(), &b.octets(), bits.min(32)),
        (IpAddr::V6(a), IpAddr::V6(b)) => prefix_eq(&a.octets(), &b.octets(), bits.min(128)),
        _ => false,
    }
}

fn prefix_eq(a: &[u8], b: &[u8], bits: u8) -> bool {
    let (whole, rest) = (usize::from(bits / 8), bits % 8);
    if a[..whole] != b[..whole] {
        return false;
    }
    rest == 0 || (a[whole] ^ b[whole]) >> (8 - rest) == 0
}

/// The first set variable of `names`, with its name.
fn first<'a>(lookup: &dyn Fn(&str) -> Option<String>, names: &[&'a str]) -> Option<(&'a str, String)> {
    names.iter().find_map(|n| lookup(n).filter(|v| !v.trim().is_empty()).map(|v| (*n, v)))
}

impl ProxySettings {
    /// Reads the proxy variables through `lookup` (`std::env::var`). A
    /// variable that is set but not a proxy URL is an error naming it.
    pub fn from_env(lookup: &dyn Fn(&str) -> Option<String>) -> Result<ProxySettings, String> {
        let pick = |names: &[&'static str]| -> Result<Option<Sourced>, String> {
            match first(lookup, names) {
                Some((from, value)) => {
                    let url = ProxyUrl::parse(&value).map_err(|e| format!("{from}: {e}"))?;
                    Ok(Some(Sourced { url, from }))
                }
                None => Ok(None),
            }
        };
        let ws = pick(&["ws_proxy", "WS_PROXY", "http_proxy", "all_proxy", "ALL_PROXY"])?;
        let wss = pick(&["wss_proxy", "WSS_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"])?;
        let mut notes = Vec::new();
        if first(lookup, &["HTTP_PROXY"]).is_some() && first(lookup, &["http_proxy"]).is_none() {
            notes.push(
                "HTTP_PROXY is set but not read (as curl never reads it, httpoxy): ws:// uses http_proxy (lower case), ws_proxy or ALL_PROXY; wss:// uses HTTPS_PROXY"
                    .to_string(),
            );
        }
        Ok(ProxySettings { ws, wss, no_proxy: no_proxy_from(lookup), notes })
    }
}

/// `no_proxy`, or `NO_PROXY`, parsed (empty when neither is set).
pub fn no_proxy_from(lookup: &dyn Fn(&str) -> Option<String>) -> NoProxy {
    first(lookup, &["no_proxy", "NO_PROXY"]).map(|(_, v)| NoProxy::parse(&v)).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |name| pairs.iter().find(|(k, _)| *k == name).map(|(_, v)| v.to_string())
    }

    #[test]
    fn variables_are_chosen_per_scheme_as_curl_does() {
        let s = ProxySettings::from_env(&env(&[("HTTPS_PROXY", "http://p:1"), ("http_proxy", "http://q:2")])).unwrap();
        assert_eq!(s.wss.as_ref().map(|p| p.from), Some("HTTPS_PROXY"));
        assert_eq!(s.ws.as_ref().map(|p| p.from), Some("http_proxy"));
        let s = ProxySettings::from_env(&env(&[("HTTP_PROXY", "http://p:1")])).unwrap();
        assert!(s.ws.is_none(), "upper-case HTTP_PROXY is never read");
        assert_eq!(s.notes.len(), 1);
        let s = ProxySettings::from_env(&env(&[("https_proxy", "http://a:1"), ("HTTPS_PROXY", "http://b:2")])).unwrap();
        assert_eq!(s.wss.map(|p| p.url.host), Some("a".into()), "lower case first");
        let s = ProxySettings::from_env(&env(&[("ALL_PROXY", "socks5h://s:9"), ("http_proxy", "")])).unwrap();
        assert_eq!((s.ws.map(|p| p.from), s.wss.map(|p| p.from)), (Some("ALL_PROXY"), Some("ALL_PROXY")));
        let err = ProxySettings::from_env(&env(&[("https_proxy", "ftp://x:secret@h")])).unwrap_err();
        assert!(err.starts_with("https_proxy:") && !err.contains("secret"), "{err}");
    }

    #[test]
    fn no_proxy_rules_match_as_curl_does() {
        let n = NoProxy::parse("example.com, .internal.test 10.0.0.0/8,::1,192.168.1.5");
        assert!(n.matches("example.com") && n.matches("WWW.Example.com.") && !n.matches("notexample.com"));
        assert!(n.matches("internal.test") && n.matches("a.internal.test"));
        assert!(n.matches("10.20.30.40") && !n.matches("11.0.0.1"));
        assert!(n.matches("[::1]") && n.matches("192.168.1.5") && !n.matches("192.168.1.6"));
        assert!(!n.matches("127.0.0.1"), "loopback is not special");
        assert!(NoProxy::parse("*").matches("anything") && !NoProxy::parse("*.x").matches("y"));
        assert!(NoProxy::parse("127.0.0.0/8").matches("127.9.9.9"));
        let lookup = env(&[("NO_PROXY", "localhost")]);
        assert!(no_proxy_from(&lookup).matches("localhost"));
    }
}
