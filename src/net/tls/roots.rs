//! The roots a wss:// server certificate is checked against, as OpenSSL
//! and curl choose them:
//! - `SSL_CERT_FILE` and/or `SSL_CERT_DIR` set: the certificates there,
//!   instead of the system's (a broken path is an error, not a silent
//!   fallback);
//! - otherwise the system's store (rustls-native-certs), or the bundled
//!   Mozilla roots (webpki-roots) on a machine that has none, such as a
//!   scratch container;
//! - then `--cacert FILE` adds its certificates to whichever of those.

use std::path::Path;

use rustls::RootCertStore;

/// The trusted roots, with `cacert`'s certificates added.
pub(super) fn root_store(cacert: Option<&Path>) -> Result<RootCertStore, String> {
    let mut roots = base_roots()?;
    if let Some(path) = cacert {
        for cert in super::pem_certificates(path, "--cacert")? {
            roots.add(cert).map_err(|e| {
                format!("--cacert {}: a certificate in it cannot be a trust anchor: {e}", path.display())
            })?;
        }
    }
    Ok(roots)
}

/// The roots before `--cacert`.
fn base_roots() -> Result<RootCertStore, String> {
    let from_env = ["SSL_CERT_FILE", "SSL_CERT_DIR"]
        .iter()
        .filter_map(|name| std::env::var_os(name).filter(|v| !v.is_empty()).map(|v| (name, v)))
        .map(|(name, v)| format!("{name}={}", v.to_string_lossy()))
        .collect::<Vec<_>>();
    let loaded = rustls_native_certs::load_native_certs();
    if !from_env.is_empty() {
        if let Some(e) = loaded.errors.first() {
            return Err(format!("{}: {e}; fix or unset it", from_env.join(" ")));
        }
        let mut roots = RootCertStore::empty();
        let (added, _) = roots.add_parsable_certificates(loaded.certs);
        if added == 0 {
            return Err(format!("{}: no usable CA certificate (PEM) there; fix or unset it", from_env.join(" ")));
        }
        return Ok(roots);
    }
    let mut roots = RootCertStore::empty();
    roots.add_parsable_certificates(loaded.certs);
    if roots.is_empty() {
        roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    }
    Ok(roots)
}
