//! What a wss:// session negotiated (version, cipher suite, ALPN) and who
//! the server said it is: its certificate's subject, issuer, names and
//! validity, read with x509-parser. `connect` shows it; a storm, which
//! keeps no per-connection details, never parses a certificate.

use std::net::IpAddr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::Serialize;
use x509_parser::extensions::GeneralName;
use x509_parser::prelude::{FromDer, X509Certificate};

/// A certificate expiring sooner than this gets a warning.
pub const EXPIRY_WARNING: Duration = Duration::from_secs(14 * 86_400);

/// The negotiated TLS session.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct TlsInfo {
    /// `TLS 1.3` or `TLS 1.2`.
    pub version: String,
    /// The IANA name, such as `TLS13_AES_256_GCM_SHA384`.
    pub cipher_suite: String,
    /// The ALPN protocol the server picked (null when it picked none).
    pub alpn: Option<String>,
    /// The server's own (end-entity) certificate, when it could be read.
    pub certificate: Option<CertInfo>,
}

/// The fields of a certificate a user checks.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct CertInfo {
    /// Subject, as `CN=..., O=...`.
    pub subject: String,
    /// Issuer, the same way.
    pub issuer: String,
    /// subjectAltName entries: DNS names and IP addresses (others prefixed
    /// with their kind, `URI:...`).
    pub sans: Vec<String>,
    /// Start of validity, RFC 3339 UTC.
    pub not_before: String,
    /// End of validity, RFC 3339 UTC.
    pub not_after: String,
    /// Days from now until `not_after` (negative once expired).
    pub expires_in_days: f64,
}

impl TlsInfo {
    /// Reads a finished client session.
    pub fn of(conn: &rustls::ClientConnection) -> TlsInfo {
        let version = match conn.protocol_version() {
            Some(rustls::ProtocolVersion::TLSv1_3) => "TLS 1.3".to_string(),
            Some(rustls::ProtocolVersion::TLSv1_2) => "TLS 1.2".to_string(),
            Some(other) => format!("{other:?}"),
            None => String::new(),
        };
        let cipher_suite = conn
            .negotiated_cipher_suite()
            .map(|s| s.suite().as_str().map(str::to_string).unwrap_or_else(|| format!("{:?}", s.suite())))
            .unwrap_or_default();
        let alpn = conn.alpn_protocol().map(|p| String::from_utf8_lossy(p).into_owned());
        let certificate = conn.peer_certificates().and_then(|chain| chain.first()).and_then(|c| CertInfo::parse(c));
        TlsInfo { version, cipher_suite, alpn, certificate }
    }

    /// One line: `TLS 1.3, TLS13_AES_256_GCM_SHA384, ALPN http/1.1`.
    pub fn summary(&self) -> String {
        let alpn = self.alpn.as_deref().map(|a| format!("ALPN {a}")).unwrap_or_else(|| "no ALPN".into());
        format!("{}, {}, {alpn}", self.version, self.cipher_suite)
    }
}

impl CertInfo {
    /// Parses a DER certificate; `None` when it is not one x509-parser reads.
    pub fn parse(der: &[u8]) -> Option<CertInfo> {
        let (_, cert) = X509Certificate::from_der(der).ok()?;
        let validity = cert.validity();
        let (start, end) = (validity.not_before.timestamp(), validity.not_after.timestamp());
        let now = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64);
        Some(CertInfo {
            subject: cert.subject().to_string(),
            issuer: cert.issuer().to_string(),
            sans: sans(&cert),
            not_before: rfc3339(start),
            not_after: rfc3339(end),
            expires_in_days: ((end - now) as f64 / 86_400.0 * 10.0).round() / 10.0,
        })
    }

    /// True when it expires within [`EXPIRY_WARNING`] (or has expired).
    pub fn expires_soon(&self) -> bool {
        self.expires_in_days < EXPIRY_WARNING.as_secs_f64() / 86_400.0
    }
}

fn sans(cert: &X509Certificate<'_>) -> Vec<String> {
    let Ok(Some(ext)) = cert.subject_alternative_name() else {
        return Vec::new();
    };
    ext.value
        .general_names
        .iter()
        .map(|name| match name {
            GeneralName::DNSName(dns) => dns.to_string(),
            GeneralName::IPAddress(bytes) => ip_name(bytes),
            GeneralName::URI(uri) => format!("URI:{uri}"),
            GeneralName::RFC822Name(mail) => format!("email:{mail}"),
            other => format!("{other:?}"),
        })
        .collect()
}

fn ip_name(bytes: &[u8]) -> String {
    match bytes.len() {
        4 => IpAddr::from(<[u8; 4]>::try_from(bytes).unwrap_or_default()).to_string(),
        16 => IpAddr::from(<[u8; 16]>::try_from(bytes).unwrap_or_default()).to_string(),
        _ => format!("IP:{bytes:02x?}"),
    }
}

/// Seconds since the epoch as RFC 3339 UTC (`2026-03-01T12:00:00Z`).
pub fn rfc3339(unix_secs: i64) -> String {
    let at = match u64::try_from(unix_secs) {
        Ok(s) => UNIX_EPOCH + Duration::from_secs(s),
        Err(_) => UNIX_EPOCH,
    };
    humantime::format_rfc3339_seconds(at).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_rfc3339_utc() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(1_767_225_600), "2026-01-01T00:00:00Z");
    }

    #[test]
    fn ip_names_read_as_addresses() {
        assert_eq!(ip_name(&[127, 0, 0, 1]), "127.0.0.1");
        assert_eq!(ip_name(&[0; 15].iter().chain(&[1]).copied().collect::<Vec<u8>>()), "::1");
    }

    #[test]
    fn garbage_is_no_certificate() {
        assert!(CertInfo::parse(b"not a certificate").is_none());
    }
}
