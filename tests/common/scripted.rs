//! A WebSocket server that plays a script, for protocols with no server
//! that installs here (ActionCable, Phoenix, SignalR): each connection runs
//! the same steps (send, wait for a match, close), with standing rules
//! (answer a match, send on a timer) from the step that adds them on. The
//! messages come from each protocol's own documents; every wait is
//! bounded, and everything the server received is kept for assertions.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use regex::Regex;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::handshake::server::{Request, Response};
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::Message;
use tokio_util::sync::CancellationToken;

/// Longest a script waits for an expected message.
const EXPECT_WAIT: Duration = Duration::from_secs(5);

/// One step of a script.
#[derive(Debug, Clone)]
pub enum Act {
    /// Send this text.
    Send(String),
    /// Wait for a message matching this regex.
    Expect(&'static str),
    /// From now on, answer every message matching the regex with the text.
    Reply(&'static str, String),
    /// From now on, send the text at this interval.
    Every(Duration, String),
    /// Wait this long.
    Sleep(Duration),
    /// Close with this code and reason; the script ends.
    Close(u16, &'static str),
}

/// A scripted server on a free loopback port, until dropped.
pub struct Scripted {
    /// Where it listens.
    pub addr: SocketAddr,
    /// Every text message it received, in order.
    pub received: Arc<Mutex<Vec<String>>>,
    stop: CancellationToken,
    thread: Option<JoinHandle<()>>,
}

impl Scripted {
    /// Starts the server; `subprotocol` is accepted when the client asks for it.
    pub fn start(subprotocol: Option<&'static str>, script: Vec<Act>) -> Scripted {
        let (tx, rx) = std::sync::mpsc::channel();
        let stop = CancellationToken::new();
        let received = Arc::new(Mutex::new(Vec::new()));
        let (token, log) = (stop.clone(), received.clone());
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
                tx.send(listener.local_addr().expect("addr")).expect("send addr");
                loop {
                    tokio::select! {
                        _ = token.cancelled() => return,
                        accepted = listener.accept() => {
                            let Ok((tcp, _)) = accepted else { continue };
                            let (script, log, token) = (script.clone(), log.clone(), token.clone());
                            tokio::spawn(async move {
                                tokio::select! {
                                    _ = serve(tcp, subprotocol, script, log) => {}
                                    _ = token.cancelled() => {}
                                }
                            });
                        }
                    }
                }
            });
        });
        let addr = rx.recv().expect("scripted server started");
        Scripted { addr, received, stop, thread: Some(thread) }
    }

    /// `ws://ADDR` + `path`.
    pub fn url(&self, path: &str) -> String {
        format!("ws://{}{path}", self.addr)
    }

    /// The messages received so far.
    pub fn received(&self) -> Vec<String> {
        self.received.lock().map(|l| l.clone()).unwrap_or_default()
    }
}

impl Drop for Scripted {
    fn drop(&mut self) {
        self.stop.cancel();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

type Ws = tokio_tungstenite::WebSocketStream<TcpStream>;

struct Conn {
    ws: Ws,
    replies: Vec<(Regex, String)>,
    timers: Vec<(tokio::time::Interval, String)>,
    log: Arc<Mutex<Vec<String>>>,
}

// tungstenite's callback type returns its (large) error response by value.
#[allow(clippy::result_large_err)]
async fn serve(tcp: TcpStream, subprotocol: Option<&'static str>, script: Vec<Act>, log: Arc<Mutex<Vec<String>>>) {
    let pick = move |req: &Request, mut resp: Response| {
        let asked = req.headers().get("sec-websocket-protocol").and_then(|v| v.to_str().ok()).unwrap_or("");
        if let Some(p) = subprotocol.filter(|p| asked.split(',').any(|a| a.trim() == *p)) {
            resp.headers_mut().insert("sec-websocket-protocol", HeaderValue::from_static(p));
        }
        Ok(resp)
    };
    let Ok(ws) = tokio_tungstenite::accept_hdr_async(tcp, pick).await else { return };
    let mut conn = Conn { ws, replies: Vec::new(), timers: Vec::new(), log };
    for act in script {
        if !conn.act(act).await {
            return;
        }
    }
    while conn.next(None).await.is_some() {}
}

impl Conn {
    /// Runs one step; false when the connection is over.
    async fn act(&mut self, act: Act) -> bool {
        match act {
            Act::Send(text) => self.ws.send(Message::text(text)).await.is_ok(),
            Act::Reply(pattern, text) => {
                self.replies.push((Regex::new(pattern).expect("test regex"), text));
                true
            }
            Act::Every(every, text) => {
                self.timers.push((tokio::time::interval_at(tokio::time::Instant::now() + every, every), text));
                true
            }
            Act::Sleep(d) => {
                let until = tokio::time::Instant::now() + d;
                while tokio::time::Instant::now() < until {
                    if self.next(Some(until)).await.is_none() {
                        return false;
                    }
                }
                true
            }
            Act::Expect(pattern) => {
                let re = Regex::new(pattern).expect("test regex");
                let until = tokio::time::Instant::now() + EXPECT_WAIT;
                loop {
                    match self.next(Some(until)).await {
                        Some(Some(text)) if re.is_match(&text) => return true,
                        Some(_) if tokio::time::Instant::now() < until => continue,
                        _ => return false,
                    }
                }
            }
            Act::Close(code, reason) => {
                let frame = CloseFrame { code: CloseCode::from(code), reason: reason.into() };
                let _ = tokio::time::timeout(Duration::from_secs(1), self.ws.close(Some(frame))).await;
                let _ = tokio::time::timeout(Duration::from_secs(1), async { while self.ws.next().await.is_some() {} })
                    .await;
                false
            }
        }
    }

    /// Waits for one thing (a message, a timer, `until`): `None` when the
    /// connection ended, `Some(Some(text))` for a text message.
    async fn next(&mut self, until: Option<tokio::time::Instant>) -> Option<Option<String>> {
        let deadline = until.unwrap_or_else(|| tokio::time::Instant::now() + Duration::from_secs(3600));
        let timers = &mut self.timers;
        let tick = async move {
            if timers.is_empty() {
                return std::future::pending::<String>().await;
            }
            let ticks = timers.iter_mut().map(|(t, text)| {
                Box::pin(async move {
                    t.tick().await;
                    text.clone()
                })
            });
            futures_util::future::select_all(ticks).await.0
        };
        tokio::select! {
            _ = tokio::time::sleep_until(deadline) => Some(None),
            text = tick => {
                self.ws.send(Message::text(text)).await.ok().map(|_| None)
            }
            item = self.ws.next() => match item {
                Some(Ok(Message::Text(text))) => {
                    let text = text.to_string();
                    if let Ok(mut log) = self.log.lock() {
                        log.push(text.clone());
                    }
                    let answer = self.replies.iter().find(|(re, _)| re.is_match(&text)).map(|(_, a)| a.clone());
                    if let Some(answer) = answer {
                        self.ws.send(Message::text(answer.replace("$REF", &reference(&text)))).await.ok()?;
                    }
                    Some(Some(text))
                }
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => None,
                Some(Ok(_)) => Some(None),
            },
        }
    }
}

/// The second element of a Phoenix array message (its ref), for answers
/// that echo it (`$REF` in a reply).
fn reference(text: &str) -> String {
    serde_json::from_str::<serde_json::Value>(text)
        .ok()
        .and_then(|v| v.get(1)?.as_str().map(str::to_string))
        .unwrap_or_default()
}
