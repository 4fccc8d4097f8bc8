//! Raw client connections for tests that drive the server frame by frame.

use std::time::Duration;

use futures_util::StreamExt;
use tokio_tungstenite::tungstenite::Message;
use wsprobe::net::connect::{open, Attempt, ClientWs};
use wsprobe::units::ClientId;

/// One connection attempt as client `client` (its `{client}` index).
pub async fn connect(url: &str, client: u32) -> Attempt {
    open(&super::endpoint(url), ClientId::new(client)).await
}

/// An open connection, or a panic naming what happened instead.
pub async fn connected(url: &str, client: u32) -> ClientWs {
    match connect(url, client).await {
        Attempt::Open(o) => o.ws,
        other => panic!("expected an open connection, got {}", other.outcome()),
    }
}

/// Reads until a text message arrives (pings are answered along the way).
pub async fn next_text(ws: &mut ClientWs) -> String {
    loop {
        match tokio::time::timeout(Duration::from_secs(5), ws.next()).await.expect("a message within 5s") {
            Some(Ok(Message::Text(t))) => return t.to_string(),
            Some(Ok(_)) => continue,
            other => panic!("connection ended: {other:?}"),
        }
    }
}
