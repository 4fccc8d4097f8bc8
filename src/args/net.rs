//! The network options every client command shares, as typed: trust and
//! client certificates for wss://, the proxy, and redirects.

use std::path::PathBuf;

use clap::Args;

/// TLS, proxy and redirect options.
#[derive(Debug, Clone, Default, Args)]
pub struct NetArgs {
    /// Also trust the CA certificates in FILE (PEM) for wss://, on top of
    /// the system's roots (or those of SSL_CERT_FILE / SSL_CERT_DIR).
    #[arg(long, value_name = "FILE")]
    pub cacert: Option<PathBuf>,
    /// Client certificate (PEM, the chain leaf first) for servers that ask
    /// for one; needs --key.
    #[arg(long, value_name = "FILE", requires = "key")]
    pub cert: Option<PathBuf>,
    /// The client certificate's private key (PEM: PKCS#8, RSA or EC).
    #[arg(long, value_name = "FILE", requires = "cert")]
    pub key: Option<PathBuf>,
    /// Connect through this proxy instead of the environment's:
    /// http://[user:password@]host:port (CONNECT), socks5:// (wsprobe
    /// resolves names) or socks5h:// (the proxy does). NO_PROXY still
    /// applies, as in curl. Without it, ws:// reads ws_proxy or http_proxy,
    /// wss:// wss_proxy or HTTPS_PROXY, both then ALL_PROXY (upper or lower
    /// case; curl never reads HTTP_PROXY in upper case, nor does wsprobe).
    #[arg(long, value_name = "URL", conflicts_with = "no_proxy")]
    pub proxy: Option<String>,
    /// Connect directly, ignoring the proxy environment variables.
    #[arg(long)]
    pub no_proxy: bool,
    /// Follow 301/302/307/308 answers to the upgrade, at most 5 (from wss://
    /// to ws:// only with --insecure). Without it they are reported with
    /// their Location.
    #[arg(long)]
    pub follow_redirects: bool,
}
