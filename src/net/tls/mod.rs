//! TLS client settings for wss://: which roots are trusted (the system's,
//! `SSL_CERT_FILE`/`SSL_CERT_DIR`, `--cacert`), the client certificate
//! (`--cert`/`--key`), and with `--insecure` a verifier that accepts any
//! certificate (self-signed test servers) while still checking the
//! handshake signatures. [`info`] reads what a session negotiated and the
//! server's certificate; [`explain`] turns TLS failures into words.

pub mod explain;
pub mod info;
mod roots;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{ring, verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, SignatureScheme};

/// The TLS options a user can give, as validated paths (files are read
/// when the endpoint is built, so a bad file is an error before any
/// connection).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TlsOptions {
    /// Skip certificate checks (`--insecure`).
    pub insecure: bool,
    /// Extra trusted roots, PEM (`--cacert`).
    pub cacert: Option<PathBuf>,
    /// Client certificate chain, PEM (`--cert`).
    pub cert: Option<PathBuf>,
    /// The client certificate's private key, PEM (`--key`).
    pub key: Option<PathBuf>,
}

/// Builds the TLS client configuration from the options: every file
/// problem is a sentence naming the flag and the file.
pub fn client_config(opts: &TlsOptions) -> Result<Arc<ClientConfig>, String> {
    let provider = Arc::new(ring::default_provider());
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS setup failed: {e}"))?;
    let builder = if opts.insecure {
        builder.dangerous().with_custom_certificate_verifier(Arc::new(AcceptAnyCertificate(provider)))
    } else {
        builder.with_root_certificates(roots::root_store(opts.cacert.as_deref())?)
    };
    let mut config = match (&opts.cert, &opts.key) {
        (Some(cert), Some(key)) => {
            let (chain, key_der) = client_identity(cert, key)?;
            builder.with_client_auth_cert(chain, key_der).map_err(|e| {
                format!("--cert {} and --key {} do not make a client identity: {e}", cert.display(), key.display())
            })?
        }
        (None, None) => builder.with_no_client_auth(),
        _ => return Err("--cert and --key go together: give both (PEM files)".into()),
    };
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// Reads a PEM certificate chain and its private key.
fn client_identity(cert: &Path, key: &Path) -> Result<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>), String> {
    let chain = pem_certificates(cert, "--cert")?;
    let key_der = PrivateKeyDer::from_pem_file(key).map_err(|e| {
        format!(
            "--key {}: no private key read ({}); write it as PEM (PRIVATE KEY, RSA PRIVATE KEY or EC PRIVATE KEY)",
            key.display(),
            pem_error(&e)
        )
    })?;
    Ok((chain, key_der))
}

/// Every certificate in a PEM file; none is an error naming the flag.
pub(crate) fn pem_certificates(path: &Path, flag: &str) -> Result<Vec<CertificateDer<'static>>, String> {
    let shown = path.display();
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(path)
        .map_err(|e| format!("{flag} {shown}: {}", pem_error(&e)))?
        .collect::<Result<_, _>>()
        .map_err(|e| format!("{flag} {shown}: {}", pem_error(&e)))?;
    if certs.is_empty() {
        return Err(format!("{flag} {shown} holds no certificate: write it as PEM (-----BEGIN CERTIFICATE-----)"));
    }
    Ok(certs)
}

fn pem_error(e: &rustls::pki_types::pem::Error) -> String {
    use rustls::pki_types::pem::Error as E;
    match e {
        E::Io(io) => format!("cannot read it: {io}"),
        E::NoItemsFound => "no PEM item of the right kind in it".into(),
        other => format!("not valid PEM: {other:?}"),
    }
}

/// The name a server's certificate must carry: the URL's host (also sent
/// as SNI; an IP address is checked against the certificate's IP names
/// and, as TLS says, not sent as SNI).
pub fn server_name(host: &str) -> Result<ServerName<'static>, String> {
    ServerName::try_from(host.to_string()).map_err(|e| format!("'{host}' is not a valid TLS server name: {e}"))
}

/// Accepts any server certificate; used only with `--insecure`.
#[derive(Debug)]
struct AcceptAnyCertificate(Arc<CryptoProvider>);

impl ServerCertVerifier for AcceptAnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn half_a_client_identity_is_refused() {
        let opts = TlsOptions { cert: Some("c.pem".into()), ..TlsOptions::default() };
        assert!(client_config(&opts).unwrap_err().contains("go together"));
    }

    #[test]
    fn unreadable_files_name_the_flag_and_the_file() {
        let opts = TlsOptions { cacert: Some("/nonexistent/ca.pem".into()), ..TlsOptions::default() };
        let err = client_config(&opts).unwrap_err();
        assert!(err.starts_with("--cacert /nonexistent/ca.pem: cannot read it"), "{err}");
        let dir = tempfile::tempdir().unwrap();
        let empty = dir.path().join("empty.pem");
        std::fs::write(&empty, "not pem\n").unwrap();
        let err = pem_certificates(&empty, "--cacert").unwrap_err();
        assert!(err.contains("holds no certificate"), "{err}");
        let opts = TlsOptions { cert: Some(empty.clone()), key: Some(empty), ..TlsOptions::default() };
        assert!(client_config(&opts).unwrap_err().contains("--cert"), "the chain is read first");
    }

    #[test]
    fn insecure_needs_no_roots() {
        let opts = TlsOptions { insecure: true, cacert: Some("/nonexistent".into()), ..TlsOptions::default() };
        assert!(client_config(&opts).is_ok());
    }
}
