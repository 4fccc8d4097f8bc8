//! `--publish-http`: publishing with an HTTP/1.1 POST, for apps whose
//! messages come from a REST handler or a broker rather than a connected
//! client. One request per message on its own connection (`Connection:
//! close`), so a slow or stuck endpoint costs one bounded wait, never the
//! run; only the status line is read.

use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use url::Url;

use crate::net::http::read_head;
use crate::units::{expand, ClientId, Header};

/// Where and how messages are POSTed.
#[derive(Debug, Clone)]
pub struct HttpPublisher {
    /// The URL template ({to}, {nonce}, {client} expand).
    pub url: String,
    /// Extra headers (the run's -H headers).
    pub headers: Vec<Header>,
    /// TLS settings for https.
    pub tls: Option<Arc<rustls::ClientConfig>>,
    /// Time one whole request may take.
    pub timeout: Duration,
}

/// Checks a `--publish-http` template: http(s) and a host.
pub fn check_url(template: &str) -> Result<(), String> {
    let sample = template.replace("{to}", "0").replace("{nonce}", "n");
    let url = Url::parse(&expand(&sample, ClientId::new(0))).map_err(|e| format!("invalid URL: {e}"))?;
    match (url.scheme(), url.host_str()) {
        ("http" | "https", Some(_)) => Ok(()),
        (scheme, _) => Err(format!("needs an http:// or https:// URL with a host, not {scheme}://")),
    }
}

impl HttpPublisher {
    /// POSTs `body` to `url`; the HTTP status, or why there was none.
    pub async fn post(&self, url: &str, body: &str) -> Result<u16, String> {
        let url = Url::parse(url).map_err(|e| format!("invalid URL {url}: {e}"))?;
        match tokio::time::timeout(self.timeout, self.exchange(&url, body)).await {
            Ok(result) => result,
            Err(_) => Err(format!("no answer within {}", crate::units::format_duration(self.timeout))),
        }
    }

    async fn exchange(&self, url: &Url, body: &str) -> Result<u16, String> {
        let (host, port) = crate::net::endpoint::host_port(url);
        let tcp = TcpStream::connect((host.as_str(), port)).await.map_err(|e| format!("cannot connect: {e}"))?;
        let request = self.request(url, body);
        match (&self.tls, url.scheme()) {
            (Some(tls), "https") => {
                let name = ServerName::try_from(host.clone()).map_err(|e| format!("bad TLS name {host}: {e}"))?;
                let stream = tokio_rustls::TlsConnector::from(tls.clone())
                    .connect(name, tcp)
                    .await
                    .map_err(|e| format!("TLS handshake failed: {e}"))?;
                send(stream, &request).await
            }
            _ => send(tcp, &request).await,
        }
    }

    fn request(&self, url: &Url, body: &str) -> String {
        let mut target = url.path().to_string();
        if let Some(q) = url.query() {
            target.push('?');
            target.push_str(q);
        }
        let host = match url.port() {
            Some(p) => format!("{}:{p}", url.host_str().unwrap_or_default()),
            None => url.host_str().unwrap_or_default().to_string(),
        };
        let kind = if body.trim_start().starts_with(['{', '[']) { "application/json" } else { "text/plain" };
        let mut head = format!(
            "POST {target} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: wsprobe/{}\r\nContent-Type: {kind}\r\nContent-Length: {}\r\nConnection: close\r\n",
            env!("CARGO_PKG_VERSION"),
            body.len()
        );
        for h in &self.headers {
            head.push_str(&format!("{}: {}\r\n", h.name, h.value));
        }
        head + "\r\n" + body
    }
}

async fn send<S: AsyncRead + AsyncWrite + Unpin>(mut stream: S, request: &str) -> Result<u16, String> {
    stream.write_all(request.as_bytes()).await.map_err(|e| format!("cannot send the request: {e}"))?;
    let mut buf = Vec::with_capacity(512);
    let len = read_head(&mut stream, &mut buf).await.map_err(|e| format!("no HTTP answer: {e}"))?;
    let mut headers = [httparse::EMPTY_HEADER; 64];
    let mut response = httparse::Response::new(&mut headers);
    match response.parse(&buf[..len]) {
        Ok(_) => response.code.ok_or_else(|| "an HTTP answer without a status".to_string()),
        Err(e) => Err(format!("a malformed HTTP answer: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn publish_urls_must_be_http() {
        assert!(check_url("http://127.0.0.1:8000/publish/{to}").is_ok());
        assert!(check_url("https://api.example.com/send?n={nonce}").is_ok());
        assert!(check_url("ws://127.0.0.1/").unwrap_err().contains("http://"));
        assert!(check_url("not a url").is_err());
    }
}
