//! TLS failures in words: what rustls (or the server, in an alert or an
//! nginx error page) said, turned into what went wrong and what to do.
//! Nothing a user reads comes from `Debug` except an alert name we have
//! no sentence for.

use std::io;
use std::time::{SystemTime, UNIX_EPOCH};

use rustls::{AlertDescription, CertificateError};

use super::info::rfc3339;
use super::TlsOptions;
use crate::event::FailureKind;

/// What the words may point at: the host, and the options the user gave.
#[derive(Debug, Clone, Copy)]
pub struct Context<'a> {
    /// The URL's host (the name the certificate must carry).
    pub host: &'a str,
    /// The TLS options in force.
    pub opts: &'a TlsOptions,
}

/// A failed TLS handshake (or a TLS error on the first read after it), as
/// a kind and a sentence.
pub fn handshake_error(e: &io::Error, cx: Context<'_>) -> (FailureKind, String) {
    if let Some(tls) = e.get_ref().and_then(|inner| inner.downcast_ref::<rustls::Error>()) {
        return (FailureKind::Tls, rustls_error(tls, cx));
    }
    match e.kind() {
        io::ErrorKind::UnexpectedEof => (
            FailureKind::Tls,
            format!(
                "{} closed the connection in answer to the TLS ClientHello, without a TLS alert: this port probably does not speak TLS (a plain ws:// server?): try ws://",
                cx.host
            ),
        ),
        _ => (FailureKind::from_io(e), format!("TLS handshake with {} failed: {e}", cx.host)),
    }
}

/// The handshake did not finish within the connect timeout.
pub fn timed_out(host: &str) -> String {
    format!(
        "{host} did not answer the TLS ClientHello within the connect timeout: a plain ws:// server waits silently for an HTTP request, so if this port is not TLS use ws://"
    )
}

/// A TLS error from rustls.
pub fn rustls_error(e: &rustls::Error, cx: Context<'_>) -> String {
    match e {
        rustls::Error::InvalidCertificate(cert) => certificate_error(cert, cx),
        rustls::Error::AlertReceived(alert) => alert_received(*alert, cx),
        rustls::Error::InvalidMessage(_) => format!(
            "{} answered the TLS ClientHello with something that is not TLS: this port speaks plain TCP (a ws:// server?), not TLS: use ws://, not wss://",
            cx.host
        ),
        other => format!("TLS handshake with {} failed: {other}", cx.host),
    }
}

fn certificate_error(e: &CertificateError, cx: Context<'_>) -> String {
    let host = cx.host;
    let skip = "or --insecure to skip the check";
    match e {
        CertificateError::UnknownIssuer => {
            let trusted = match &cx.opts.cacert {
                Some(ca) => format!("neither the CA in --cacert {} nor a system root", ca.display()),
                None => "no root wsprobe trusts".into(),
            };
            format!("the certificate of {host} has an unknown issuer: {trusted} signed it; pass its CA with --cacert FILE (PEM; SSL_CERT_FILE works too), {skip}")
        }
        CertificateError::NotValidForNameContext { presented, .. } => {
            let names: Vec<String> = presented.iter().map(|n| presented_name(n)).collect();
            let names = if names.is_empty() { "no name at all".into() } else { names.join(", ") };
            format!("the certificate is not valid for the name {host}: it names {names}; connect with one of those names, or fix the certificate's subjectAltName")
        }
        CertificateError::NotValidForName => {
            format!("the certificate is not valid for the name {host}; connect with a name it lists, or fix its subjectAltName")
        }
        CertificateError::ExpiredContext { not_after, .. } => {
            let at = not_after.as_secs() as i64;
            format!("the certificate of {host} expired on {} ({}): renew it, {skip}", rfc3339(at), ago(at))
        }
        CertificateError::Expired => format!("the certificate of {host} has expired: renew it, {skip}"),
        CertificateError::NotValidYetContext { not_before, .. } => format!(
            "the certificate of {host} is not valid before {}: check this machine's clock, or the certificate's dates",
            rfc3339(not_before.as_secs() as i64)
        ),
        CertificateError::Other(other) if is_ca_used_as_end_entity(other) => format!(
            "{host} presented a CA certificate (basicConstraints CA:TRUE) as its own: a CA signs server certificates but cannot be one; configure the server with a leaf certificate issued by that CA"
        ),
        CertificateError::Revoked => format!("the certificate of {host} has been revoked"),
        CertificateError::InvalidPurpose | CertificateError::InvalidPurposeContext { .. } => {
            format!("the certificate of {host} is not for TLS servers (its extended key usage lacks serverAuth)")
        }
        other => format!("the certificate of {host} was refused: {other}"),
    }
}

/// A name webpki lists as `DnsName("a.test")` or `IpAddress(127.0.0.1)`, as the name alone.
fn presented_name(debug: &str) -> String {
    let inner = ["DnsName(", "IpAddress(", "UniformResourceIdentifier("]
        .iter()
        .find_map(|p| debug.strip_prefix(p).and_then(|rest| rest.strip_suffix(')')));
    inner.map(|n| n.trim_matches('"').to_string()).unwrap_or_else(|| debug.to_string())
}

fn is_ca_used_as_end_entity(e: &rustls::OtherError) -> bool {
    matches!(e.0.downcast_ref::<webpki::Error>(), Some(webpki::Error::CaUsedAsEndEntity))
}

fn alert_received(alert: AlertDescription, cx: Context<'_>) -> String {
    let host = cx.host;
    let with_cert = cx.opts.cert.is_some();
    match alert {
        AlertDescription::CertificateRequired => {
            format!("{host} requires a client certificate: pass --cert FILE --key FILE (PEM)")
        }
        AlertDescription::BadCertificate
        | AlertDescription::UnknownCA
        | AlertDescription::CertificateUnknown
        | AlertDescription::CertificateExpired
        | AlertDescription::UnsupportedCertificate
        | AlertDescription::AccessDenied
            if with_cert =>
        {
            format!("{host} refused wsprobe's client certificate (TLS alert {}): is it issued by the CA the server trusts for clients, and still valid?", alert_name(alert))
        }
        AlertDescription::HandshakeFailure => format!(
            "{host} ended the handshake (TLS alert handshake_failure): no TLS version or cipher suite in common, or it wants a client certificate{}",
            if with_cert { "" } else { " (--cert FILE --key FILE)" }
        ),
        AlertDescription::ProtocolVersion => {
            format!("{host} speaks no TLS version wsprobe does (TLS 1.2 and 1.3): an old server?")
        }
        AlertDescription::UnrecognisedName => {
            format!("{host} does not serve the name '{host}' (TLS alert unrecognized_name, for the SNI wsprobe sent)")
        }
        other => format!("{host} ended the handshake with TLS alert {}", alert_name(other)),
    }
}

fn alert_name(alert: AlertDescription) -> String {
    alert.as_str().map(str::to_string).unwrap_or_else(|| format!("{alert:?}"))
}

fn ago(unix_secs: i64) -> String {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64);
    let days = (now - unix_secs) as f64 / 86_400.0;
    if days >= 1.0 {
        format!("{days:.0} days ago")
    } else {
        format!("{:.0} hours ago", (days * 24.0).max(0.0))
    }
}

/// A refusal of the upgrade that is really about TLS, as nginx words it
/// on its error pages: a plain request to its TLS port, a missing or a
/// refused client certificate.
pub fn tls_refusal(status: u16, body: &str, host: &str) -> Option<String> {
    if status != 400 {
        return None;
    }
    if body.contains("plain HTTP request was sent to HTTPS port") {
        return Some(format!(
            "{host} speaks TLS on this port (it answered \"The plain HTTP request was sent to HTTPS port\"): use wss://"
        ));
    }
    if body.contains("No required SSL certificate was sent") {
        return Some(format!(
            "{host} requires a client certificate (it answered \"No required SSL certificate was sent\"): pass --cert FILE --key FILE (PEM)"
        ));
    }
    if body.contains("The SSL certificate error") {
        return Some(format!(
            "{host} refused wsprobe's client certificate (it answered \"The SSL certificate error\"): is it issued by the CA the server trusts for clients, and still valid?"
        ));
    }
    None
}

/// The first bytes of an answer to a plain HTTP request that are a TLS
/// record (an alert, or a handshake): the port speaks TLS.
pub fn looks_like_tls(first: &[u8]) -> bool {
    matches!(first, [0x15 | 0x16, 0x03, 0x00..=0x04, ..])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cx(opts: &TlsOptions) -> Context<'_> {
        Context { host: "localhost", opts }
    }

    #[test]
    fn certificate_errors_read_as_sentences() {
        let opts = TlsOptions::default();
        let name = CertificateError::NotValidForNameContext {
            expected: rustls::pki_types::ServerName::try_from("localhost").unwrap(),
            presented: vec!["DnsName(\"a.test\")".into()],
        };
        assert!(certificate_error(&name, cx(&opts)).contains("it names a.test; connect"));
        assert_eq!(presented_name("IpAddress(127.0.0.1)"), "127.0.0.1");
        let expired = CertificateError::ExpiredContext {
            time: rustls::pki_types::UnixTime::since_unix_epoch(std::time::Duration::from_secs(1_767_225_600)),
            not_after: rustls::pki_types::UnixTime::since_unix_epoch(std::time::Duration::from_secs(1_767_139_200)),
        };
        assert!(certificate_error(&expired, cx(&opts)).contains("expired on 2025-12-31T00:00:00Z"));
        let ca = CertificateError::Other(rustls::OtherError(std::sync::Arc::new(webpki::Error::CaUsedAsEndEntity)));
        assert!(certificate_error(&ca, cx(&opts)).contains("presented a CA certificate"));
        assert!(certificate_error(&CertificateError::UnknownIssuer, cx(&opts)).contains("--cacert FILE"));
    }

    #[test]
    fn alerts_point_at_the_client_certificate() {
        let none = TlsOptions::default();
        assert!(alert_received(AlertDescription::CertificateRequired, cx(&none)).contains("--cert FILE --key FILE"));
        let with = TlsOptions { cert: Some("c".into()), key: Some("k".into()), ..TlsOptions::default() };
        assert!(alert_received(AlertDescription::UnknownCA, cx(&with)).contains("refused wsprobe's client certificate"));
    }

    #[test]
    fn nginx_error_pages_and_tls_records_are_recognised() {
        assert!(tls_refusal(400, "<h1>The plain HTTP request was sent to HTTPS port</h1>", "h")
            .unwrap()
            .contains("wss://"));
        assert!(tls_refusal(400, "No required SSL certificate was sent", "h").unwrap().contains("--cert"));
        assert!(tls_refusal(404, "No required SSL certificate was sent", "h").is_none());
        assert!(looks_like_tls(&[0x15, 0x03, 0x03, 0x00, 0x02]) && !looks_like_tls(b"HTTP/1.1 400"));
    }
}
