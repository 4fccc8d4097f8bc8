//! Test certificates made in the test with rcgen: a CA, server
//! certificates it signs (right or wrong names, expired, expiring soon),
//! the CA itself as a server's certificate, and client certificates from
//! that CA or from a stranger CA. Everything is PEM in a temporary folder.
#![allow(dead_code)]

use std::path::PathBuf;

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair,
    KeyUsagePurpose,
};
use time::{Duration, OffsetDateTime};

/// A certificate and its key, as PEM files.
#[derive(Debug, Clone)]
pub struct Pem {
    pub cert: PathBuf,
    pub key: PathBuf,
}

/// A test CA in its own folder.
pub struct TestCa {
    pub dir: tempfile::TempDir,
    /// The CA certificate alone (what `--cacert` takes).
    pub ca: Pem,
    issuer: CertifiedIssuer<'static, KeyPair>,
    name: String,
}

/// How long a server certificate is valid.
#[derive(Debug, Clone, Copy)]
pub enum Validity {
    /// From yesterday to a year from now.
    Good,
    /// Ended ten days ago.
    Expired,
    /// Ends in five days.
    ExpiresSoon,
}

impl TestCa {
    /// A fresh CA named `name`.
    pub fn new(name: &str) -> TestCa {
        let dir = tempfile::tempdir().expect("temp dir");
        let key = KeyPair::generate().expect("CA key");
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.distinguished_name.push(DnType::CommonName, name);
        params.key_usages =
            vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign, KeyUsagePurpose::DigitalSignature];
        let (key_pem, key_path) = (key.serialize_pem(), dir.path().join("ca.key"));
        let issuer = CertifiedIssuer::self_signed(params, key).expect("CA certificate");
        let cert = dir.path().join("ca.pem");
        std::fs::write(&cert, issuer.pem()).expect("write CA");
        std::fs::write(&key_path, key_pem).expect("write CA key");
        TestCa { ca: Pem { cert, key: key_path }, dir, issuer, name: name.to_string() }
    }

    /// A server certificate for `names` (DNS names or IP addresses).
    pub fn server(&self, file: &str, names: &[&str], validity: Validity) -> Pem {
        let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
        let mut params = CertificateParams::new(names.clone()).expect("server params");
        params.distinguished_name.push(DnType::CommonName, names.first().cloned().unwrap_or_default());
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        let now = OffsetDateTime::now_utc();
        let (from, to) = match validity {
            Validity::Good => (now - Duration::days(1), now + Duration::days(365)),
            Validity::Expired => (now - Duration::days(40), now - Duration::days(10)),
            Validity::ExpiresSoon => (now - Duration::days(1), now + Duration::days(5)),
        };
        (params.not_before, params.not_after) = (from, to);
        self.sign(file, params)
    }

    /// A client certificate (clientAuth) with this common name.
    pub fn client(&self, file: &str, common_name: &str) -> Pem {
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("client params");
        params.distinguished_name.push(DnType::CommonName, common_name);
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        self.sign(file, params)
    }

    fn sign(&self, file: &str, params: CertificateParams) -> Pem {
        let key = KeyPair::generate().expect("key");
        let cert = params.signed_by(&key, &self.issuer).expect("sign");
        let (cert_path, key_path) =
            (self.dir.path().join(format!("{file}.pem")), self.dir.path().join(format!("{file}.key")));
        std::fs::write(&cert_path, cert.pem()).expect("write cert");
        std::fs::write(&key_path, key.serialize_pem()).expect("write key");
        Pem { cert: cert_path, key: key_path }
    }

    /// The CA's common name.
    pub fn name(&self) -> &str {
        &self.name
    }
}

/// A path as a `&str` for command lines.
pub fn arg(path: &std::path::Path) -> &str {
    path.to_str().expect("temp paths are UTF-8")
}
