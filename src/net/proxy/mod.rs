//! Proxies between wsprobe and the server: which one a connection uses
//! (`--proxy`, `--no-proxy`, or the environment read as curl reads it, see
//! [`env`]), and the tunnel through it ([`tunnel`]: HTTP CONNECT with
//! Basic credentials, SOCKS5 with local or proxy-side name resolution).
//! Credentials never leave this module unredacted: a proxy shows itself
//! as `http://user:***@host:port`.

pub mod env;
pub mod tunnel;

use std::fmt;

use url::Url;

pub use env::NoProxy;

/// How the tunnel is opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProxyKind {
    /// `http://`: HTTP CONNECT.
    Http,
    /// `socks5://`: SOCKS5, wsprobe resolves the server's name.
    Socks5,
    /// `socks5h://`: SOCKS5, the proxy resolves the server's name.
    Socks5h,
}

/// A parsed proxy URL. Its `Debug` and `Display` show it redacted.
#[derive(Clone, PartialEq)]
pub struct ProxyUrl {
    /// How the tunnel is opened.
    pub kind: ProxyKind,
    /// The proxy's host (no IPv6 brackets).
    pub host: String,
    /// The proxy's port (curl's default 1080 when the URL has none).
    pub port: u16,
    /// User and password from the URL, percent-decoded.
    credentials: Option<(String, String)>,
    shown: String,
}

/// curl's port for a proxy URL without one, whatever its scheme.
pub const DEFAULT_PROXY_PORT: u16 = 1080;

impl ProxyUrl {
    /// Parses `http://[user:pass@]host[:port]`, `socks5://...`,
    /// `socks5h://...`; no scheme means `http://`, as in curl.
    pub fn parse(text: &str) -> Result<ProxyUrl, String> {
        let shown = crate::redact::redact_url(text.trim());
        let with_scheme =
            if text.contains("://") { text.trim().to_string() } else { format!("http://{}", text.trim()) };
        let url = Url::parse(&with_scheme).map_err(|e| format!("'{shown}' is not a proxy URL: {e}"))?;
        let kind = match url.scheme() {
            "http" => ProxyKind::Http,
            "socks5" => ProxyKind::Socks5,
            "socks5h" => ProxyKind::Socks5h,
            "https" => {
                return Err(format!(
                "'{shown}': TLS to the proxy itself (https://) is not supported; use http://, socks5:// or socks5h://"
            ))
            }
            other => {
                return Err(format!("'{shown}': unknown proxy scheme '{other}'; use http://, socks5:// or socks5h://"))
            }
        };
        let host = match url.host() {
            Some(url::Host::Ipv6(ip)) => ip.to_string(),
            Some(h) => h.to_string(),
            None => return Err(format!("'{shown}' names no proxy host")),
        };
        let credentials =
            (!url.username().is_empty()).then(|| (decode(url.username()), decode(url.password().unwrap_or(""))));
        let port = url.port().unwrap_or(DEFAULT_PROXY_PORT);
        let mut shown = format!("{}://", url.scheme());
        if let Some((user, _)) = &credentials {
            shown.push_str(&format!("{user}:***@"));
        }
        shown.push_str(&format!("{}:{port}", url.host_str().unwrap_or_default()));
        Ok(ProxyUrl { kind, host, port, credentials, shown })
    }

    /// User and password, for the tunnel only.
    pub(crate) fn credentials(&self) -> Option<(&str, &str)> {
        self.credentials.as_ref().map(|(u, p)| (u.as_str(), p.as_str()))
    }

    /// True when the URL carried credentials.
    pub fn has_credentials(&self) -> bool {
        self.credentials.is_some()
    }
}

fn decode(part: &str) -> String {
    percent_encoding::percent_decode_str(part).decode_utf8_lossy().into_owned()
}

impl fmt::Display for ProxyUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.shown)
    }
}

impl fmt::Debug for ProxyUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ProxyUrl({})", self.shown)
    }
}

/// A proxy and where its setting came from (`--proxy`, `https_proxy`...).
#[derive(Debug, Clone, PartialEq)]
pub struct Sourced {
    /// The proxy.
    pub url: ProxyUrl,
    /// The flag or environment variable that named it.
    pub from: &'static str,
}

/// Which proxy each connection uses: one for ws://, one for wss://, and
/// the hosts that bypass both.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ProxySettings {
    /// For ws:// URLs.
    pub ws: Option<Sourced>,
    /// For wss:// URLs.
    pub wss: Option<Sourced>,
    /// Hosts reached directly.
    pub no_proxy: NoProxy,
    /// Things about the settings a user should know (a variable curl
    /// ignores, so wsprobe does too).
    pub notes: Vec<String>,
}

impl ProxySettings {
    /// `--proxy URL`: every connection through it, except `NO_PROXY` hosts
    /// (curl applies `NO_PROXY` to `-x` as well).
    pub fn fixed(url: ProxyUrl, no_proxy: NoProxy) -> ProxySettings {
        let sourced = Sourced { url, from: "--proxy" };
        ProxySettings { ws: Some(sourced.clone()), wss: Some(sourced), no_proxy, notes: Vec::new() }
    }

    /// The proxy for a connection to `host` (`tls`: wss://), if any.
    pub fn for_dest(&self, tls: bool, host: &str) -> Option<&Sourced> {
        let proxy = if tls { self.wss.as_ref() } else { self.ws.as_ref() }?;
        (!self.no_proxy.matches(host)).then_some(proxy)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proxy_urls_parse_as_curl_reads_them() {
        let p = ProxyUrl::parse("127.0.0.1:3128").unwrap();
        assert_eq!((p.kind, p.host.as_str(), p.port), (ProxyKind::Http, "127.0.0.1", 3128));
        let p = ProxyUrl::parse("socks5h://proxy.test").unwrap();
        assert_eq!((p.kind, p.port), (ProxyKind::Socks5h, DEFAULT_PROXY_PORT));
        let p = ProxyUrl::parse("http://us%40er:p%3Ass@[::1]:8080").unwrap();
        assert_eq!(p.credentials(), Some(("us@er", "p:ss")));
        assert_eq!((p.host.as_str(), p.to_string()), ("::1", "http://us@er:***@[::1]:8080".to_string()));
        assert!(!format!("{p:?}").contains("p:ss") && !format!("{p:?}").contains("p%3Ass"));
        assert!(ProxyUrl::parse("https://p:1").unwrap_err().contains("not supported"));
        assert!(ProxyUrl::parse("ftp://p:1").unwrap_err().contains("unknown proxy scheme"));
        let err = ProxyUrl::parse("http://u:secret@").unwrap_err();
        assert!(!err.contains("secret"), "{err}");
    }

    #[test]
    fn no_proxy_hosts_go_direct() {
        let p = ProxyUrl::parse("http://127.0.0.1:3128").unwrap();
        let s = ProxySettings::fixed(p, NoProxy::parse("example.com"));
        assert!(s.for_dest(true, "api.example.com").is_none());
        assert_eq!(s.for_dest(false, "127.0.0.1").map(|p| p.from), Some("--proxy"));
    }
}
