//! The metrics endpoint: a tiny HTTP/1.1 responder on tokio that answers
//! `GET /metrics` (and `HEAD`) with the metrics, in the OpenMetrics text
//! format when the scraper's `Accept` asks for it (as Prometheus does) and
//! in the Prometheus text format otherwise. One request per connection;
//! the request head is bounded ([`MAX_HEAD`]) and must arrive within
//! [`REQUEST_TIMEOUT`]; at most [`MAX_SCRAPES`] connections are served at
//! once (more are closed at once), so a stuck or hostile client cannot
//! hold the soak's resources.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::Metrics;
use crate::net::http::{header, read_head, HeadError, MAX_HEAD};

/// Time a scraper gets to send its request head.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);
/// Time a scraper gets to take the answer.
pub const WRITE_TIMEOUT: Duration = Duration::from_secs(5);
/// Connections served at once.
pub const MAX_SCRAPES: usize = 8;
/// Time the endpoint waits for answers in flight when it stops.
const STOP_WAIT: Duration = Duration::from_secs(1);

/// The OpenMetrics text format's content type.
const OPENMETRICS: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// A running metrics endpoint.
#[derive(Debug)]
pub struct Endpoint {
    /// Where it listens.
    pub addr: SocketAddr,
    stop: CancellationToken,
    task: tokio::task::JoinHandle<()>,
}

impl Endpoint {
    /// Binds `addr` and serves `metrics` until [`Endpoint::stop`] (or
    /// `parent`, Ctrl-C) stops it.
    pub async fn start(
        addr: SocketAddr,
        metrics: Arc<Metrics>,
        parent: &CancellationToken,
    ) -> std::io::Result<Endpoint> {
        let listener = TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let stop = parent.child_token();
        let task = tokio::spawn(serve(listener, metrics, stop.clone()));
        Ok(Endpoint { addr, stop, task })
    }

    /// Stops serving and waits (bounded) for answers in flight.
    pub async fn stop(self) {
        self.stop.cancel();
        let _ = self.task.await;
    }
}

async fn serve(listener: TcpListener, metrics: Arc<Metrics>, stop: CancellationToken) {
    let permits = Arc::new(Semaphore::new(MAX_SCRAPES));
    let tracker = TaskTracker::new();
    loop {
        tokio::select! {
            _ = stop.cancelled() => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    // Past the bound the connection is dropped at once.
                    if let Ok(permit) = permits.clone().try_acquire_owned() {
                        let metrics = metrics.clone();
                        tracker.spawn(async move {
                            answer(stream, &metrics).await;
                            drop(permit);
                        });
                    }
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(20)).await,
            },
        }
    }
    tracker.close();
    let _ = tokio::time::timeout(STOP_WAIT, tracker.wait()).await;
}

async fn answer(mut stream: TcpStream, metrics: &Metrics) {
    let mut buf = Vec::with_capacity(512);
    let response = match tokio::time::timeout(REQUEST_TIMEOUT, read_head(&mut stream, &mut buf)).await {
        Ok(Ok(n)) => respond(&buf[..n], metrics),
        Ok(Err(HeadError::TooLarge)) => {
            plain(431, "Request Header Fields Too Large", &format!("the request head is over {MAX_HEAD} bytes\n"))
        }
        Ok(Err(_)) => return,
        Err(_) => plain(408, "Request Timeout", "the request did not arrive in time\n"),
    };
    let _ = tokio::time::timeout(WRITE_TIMEOUT, async {
        let _ = stream.write_all(response.as_bytes()).await;
        let _ = stream.shutdown().await;
    })
    .await;
}

/// The answer to one request head.
fn respond(head: &[u8], metrics: &Metrics) -> String {
    let mut headers = [httparse::EMPTY_HEADER; 64];
    let mut req = httparse::Request::new(&mut headers);
    if !matches!(req.parse(head), Ok(httparse::Status::Complete(_))) {
        return plain(400, "Bad Request", "malformed HTTP request\n");
    }
    let method = req.method.unwrap_or_default();
    let path = req.path.unwrap_or("/").split('?').next().unwrap_or("/");
    if method != "GET" && method != "HEAD" {
        return response(
            405,
            "Method Not Allowed",
            "text/plain; charset=utf-8",
            "use GET /metrics\n",
            "Allow: GET, HEAD\r\n",
        );
    }
    let body_and_type = match path {
        "/metrics" => {
            let openmetrics = header(req.headers, "accept").is_some_and(|a| a.contains("application/openmetrics-text"));
            let kind =
                if openmetrics { OPENMETRICS } else { prometheus_client::encoding::prometheus_text::CONTENT_TYPE };
            (metrics.encode(openmetrics), kind)
        }
        "/" => ("wsprobe metrics: GET /metrics\n".to_string(), "text/plain; charset=utf-8"),
        _ => return plain(404, "Not Found", "wsprobe serves its metrics at /metrics\n"),
    };
    let (body, kind) = body_and_type;
    let mut out = response(200, "OK", kind, &body, "");
    if method == "HEAD" {
        out.truncate(out.len() - body.len());
    }
    out
}

fn plain(status: u16, reason: &str, body: &str) -> String {
    response(status, reason, "text/plain; charset=utf-8", body, "")
}

fn response(status: u16, reason: &str, content_type: &str, body: &str, extra: &str) -> String {
    format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n{extra}\r\n{body}",
        body.len()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_get_the_metrics_in_the_format_asked_for() {
        let m = Metrics::new();
        let om = respond(
            b"GET /metrics HTTP/1.1\r\nHost: x\r\nAccept: application/openmetrics-text;version=1.0.0\r\n\r\n",
            &m,
        );
        assert!(
            om.starts_with("HTTP/1.1 200 OK\r\nContent-Type: application/openmetrics-text") && om.ends_with("# EOF\n"),
            "{om}"
        );
        let prom = respond(b"GET /metrics?x=1 HTTP/1.1\r\n\r\n", &m);
        assert!(prom.contains("text/plain; version=0.0.4") && prom.contains("wsprobe_open_connections 0"), "{prom}");
        let head = respond(b"HEAD /metrics HTTP/1.1\r\n\r\n", &m);
        assert!(head.ends_with("\r\n\r\n") && head.contains("Content-Length: "), "{head}");
        assert!(respond(b"GET /nope HTTP/1.1\r\n\r\n", &m).starts_with("HTTP/1.1 404"));
        assert!(respond(b"POST /metrics HTTP/1.1\r\n\r\n", &m).starts_with("HTTP/1.1 405"));
        assert!(respond(b"\x00\x01garbage\r\n\r\n", &m).starts_with("HTTP/1.1 400"));
    }
}
