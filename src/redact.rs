//! Redaction of secrets for every output: token-like query parameters,
//! URL passwords, and the values of Authorization, Cookie and other secret
//! headers. Reports, tables, logs and error messages all pass through here,
//! so a secret typed on the command line never leaves wsprobe.
//!
//! Values with no telling name (a scenario's `${WS_TOKEN}` may land in any
//! header, URL or message) are registered once with [`register_secret`];
//! [`registered`] then blanks them out of any text, and every output path
//! (stdout, stderr, logs, `--out`, `--html`, `--junit`) passes through it.

use std::borrow::Cow;
use std::sync::RwLock;

/// What a redacted value is replaced with.
pub const MASK: &str = "***";

/// Registered values shorter than this are not masked: hiding every "on"
/// or "10" in a report would garble it and protects nothing.
const MIN_REGISTERED_LEN: usize = 4;

/// Most values kept; a scenario file has a handful.
const MAX_REGISTERED: usize = 1024;

/// The values registered so far, each with the forms it takes in JSON and
/// in HTML/XML, longest first (so a value that contains another is masked whole).
static REGISTERED: RwLock<Vec<String>> = RwLock::new(Vec::new());

const SECRET_WORDS: &[&str] =
    &["token", "secret", "passw", "jwt", "auth", "signature", "session", "apikey", "api_key", "api-key", "credential"];
const SECRET_EXACT: &[&str] = &["key", "sig", "code", "pass", "pwd", "access", "ticket"];
const SECRET_HEADERS: &[&str] = &["authorization", "proxy-authorization", "cookie", "set-cookie"];

/// True when a query parameter or header name looks like it carries a secret.
pub fn is_secret_name(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    SECRET_HEADERS.contains(&lower.as_str())
        || SECRET_EXACT.contains(&lower.as_str())
        || SECRET_WORDS.iter().any(|w| lower.contains(w))
}

/// Redacts a header value when its name marks it as secret; keeps an auth
/// scheme (`Bearer ***`) because it helps debugging and reveals nothing.
pub fn redact_header_value(name: &str, value: &str) -> String {
    if !is_secret_name(name) {
        return value.to_string();
    }
    match value.split_once(' ') {
        Some((scheme, _))
            if name.eq_ignore_ascii_case("authorization") || name.eq_ignore_ascii_case("proxy-authorization") =>
        {
            format!("{scheme} ***")
        }
        _ => "***".to_string(),
    }
}

/// Redacts secrets in a URL: the password of the user-info part and the
/// values of token-like query parameters. Works on templates too.
pub fn redact_url(url: &str) -> String {
    let (before_query, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let mut out = redact_userinfo(before_query);
    if let Some(query) = query {
        let (query, fragment) = match query.split_once('#') {
            Some((q, f)) => (q, Some(f)),
            None => (query, None),
        };
        out.push('?');
        let pairs: Vec<String> = query
            .split('&')
            .map(|pair| match pair.split_once('=') {
                Some((name, _)) if is_secret_name(name) => format!("{name}=***"),
                _ => pair.to_string(),
            })
            .collect();
        out.push_str(&pairs.join("&"));
        if let Some(fragment) = fragment {
            out.push('#');
            out.push_str(fragment);
        }
    }
    out
}

fn redact_userinfo(base: &str) -> String {
    let Some(scheme_end) = base.find("://") else {
        return base.to_string();
    };
    let rest = &base[scheme_end + 3..];
    let authority_end = rest.find('/').unwrap_or(rest.len());
    let authority = &rest[..authority_end];
    match authority.rsplit_once('@') {
        Some((userinfo, host)) => {
            let user = userinfo.split(':').next().unwrap_or("");
            format!("{}{user}:***@{host}{}", &base[..scheme_end + 3], &rest[authority_end..])
        }
        None => base.to_string(),
    }
}

/// A `Name: value` header as typed, with a secret value redacted; text
/// without a colon keeps only its first word (it may be a bare secret).
pub fn redact_header_arg(text: &str) -> String {
    match text.split_once(':') {
        Some((name, value)) => format!("{name}: {}", redact_header_value(name, value.trim())),
        None => format!("{}…", text.split_whitespace().next().unwrap_or("")),
    }
}

/// Registers a value (from the environment of a scenario file) to be masked
/// in every output from now on. Plain numbers and values shorter than four
/// characters are not registered: they are not secrets anyone could hide.
pub fn register_secret(value: &str) {
    let value = value.trim();
    if value.chars().count() < MIN_REGISTERED_LEN || value.parse::<f64>().is_ok() {
        return;
    }
    let json = serde_json::to_string(value).unwrap_or_default();
    let forms = [value.to_string(), json.trim_matches('"').to_string(), markup_escaped(value)];
    let Ok(mut known) = REGISTERED.write() else { return };
    for form in forms {
        if !known.contains(&form) && known.len() < MAX_REGISTERED {
            known.push(form);
        }
    }
    known.sort_by_key(|k| std::cmp::Reverse(k.len()));
}

/// `text` with every registered value masked; borrowed when none occurs.
pub fn registered(text: &str) -> Cow<'_, str> {
    let Ok(known) = REGISTERED.read() else { return Cow::Borrowed(text) };
    let mut out = Cow::Borrowed(text);
    for value in known.iter().filter(|v| text.contains(v.as_str())) {
        out = Cow::Owned(out.replace(value.as_str(), MASK));
    }
    out
}

/// How HTML and XML writers spell `value` (the five predefined entities).
fn markup_escaped(value: &str) -> String {
    value.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;").replace('\'', "&#39;")
}

/// stderr for the log subscriber, with registered values masked in each
/// record (the formatter writes one record per call).
#[derive(Debug, Clone, Copy, Default)]
pub struct RedactedStderr;

impl std::io::Write for RedactedStderr {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let text = String::from_utf8_lossy(buf);
        std::io::stderr().write_all(registered(&text).as_bytes())?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        std::io::stderr().flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registered_values_are_masked_in_any_text_and_escaping() {
        register_secret("tok-en\"Q<1>");
        register_secret("10000");
        register_secret("on");
        let json = serde_json::to_string("Bearer tok-en\"Q<1>").unwrap();
        assert_eq!(registered(&json), "\"Bearer ***\"");
        assert_eq!(registered("x tok-en\"Q<1> y"), "x *** y");
        assert_eq!(registered("tok-en&quot;Q&lt;1&gt;"), "***");
        assert_eq!(registered("clients 10000 on"), "clients 10000 on", "numbers and short words stay");
        assert!(matches!(registered("nothing here"), Cow::Borrowed(_)));
    }

    #[test]
    fn secrets_are_redacted() {
        assert_eq!(
            redact_url("wss://u:pw@h:1/ws?device=d1&token=abc&access_token=x#f"),
            "wss://u:***@h:1/ws?device=d1&token=***&access_token=***#f"
        );
        assert_eq!(redact_url("ws://h/ws?jwt=eyJ"), "ws://h/ws?jwt=***");
        assert_eq!(redact_url("ws://h/ws?device=dev-{client}"), "ws://h/ws?device=dev-{client}");
        assert_eq!(redact_header_value("Authorization", "Bearer abc"), "Bearer ***");
        assert_eq!(redact_header_value("Cookie", "sid=1"), "***");
        assert_eq!(redact_header_value("X-Device", "d1"), "d1");
        let err = "Authorization Bearer secret".parse::<crate::units::Header>().unwrap_err();
        assert!(!err.contains("secret"), "{err}");
        let err = "Authorization Bearer secret".parse::<crate::units::Header>().unwrap_err();
        assert!(!err.contains("secret"), "{err}");
    }
}
