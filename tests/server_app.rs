//! The reference server's application-level protocol over real loopback
//! sockets: `--app-ping` on its interval, the 4002 "app pong timeout" (or
//! an abrupt drop with an explicit `--drop-mode abrupt`), answers that keep
//! a connection alive, and `--require-init` (4408 on silence, 4400 on a
//! wrong first message). Durations are scaled down, bounds are tolerant.

mod common;

use std::time::{Duration, Instant};

use clap::Parser;
use common::{endpoint, runtime, TestServer};
use futures_util::{SinkExt, StreamExt};
use rstest::rstest;
use tokio_tungstenite::tungstenite::Message;
use wsprobe::cli::{Cli, Command};
use wsprobe::event::{CloseInfo, EndHow};
use wsprobe::net::connect::{open, Attempt, ClientWs};
use wsprobe::net::session::{interpret, Read};
use wsprobe::server::config::{DropMode, ServerConfig};
use wsprobe::units::ClientId;

async fn connected(url: &str) -> ClientWs {
    match open(&endpoint(url), ClientId::new(0)).await {
        Attempt::Open(o) => o.ws,
        other => panic!("expected an open connection, got {}", other.outcome()),
    }
}

/// Reads until the connection ends, answering each `2` with `3` when
/// `answer` is set; returns how it ended, when, and the texts seen.
async fn until_end(ws: &mut ClientWs, answer: bool, within: Duration) -> Option<(CloseInfo, Duration, Vec<String>)> {
    let t = Instant::now();
    let mut texts = Vec::new();
    loop {
        let left = within.checked_sub(t.elapsed())?;
        let item = tokio::time::timeout(left, ws.next()).await.ok()?;
        match interpret(item) {
            Read::Ended(close) => return Some((close, t.elapsed(), texts)),
            Read::Frame(Message::Text(text)) => {
                if answer && text.as_str() == "2" {
                    ws.send(Message::text("3")).await.ok()?;
                }
                texts.push(text.to_string());
            }
            Read::Frame(_) => {}
        }
    }
}

fn heartbeat(mode: DropMode) -> ServerConfig {
    ServerConfig {
        app_ping: Some("2".into()),
        app_ping_interval: Duration::from_millis(100),
        app_pong: Some("^3$".into()),
        app_pong_timeout: Some(Duration::from_millis(200)),
        app_pong_mode: mode,
        ..Default::default()
    }
}

#[rstest]
#[case::closes_with_4002(DropMode::Close, 4002, "app pong timeout", EndHow::CloseFrame)]
#[case::drops_tcp_when_asked(DropMode::Abrupt, 1006, "", EndHow::Eof)]
fn an_unanswered_app_ping_ends_the_connection(
    #[case] mode: DropMode,
    #[case] code: u16,
    #[case] reason: &str,
    #[case] how: EndHow,
) {
    let server = TestServer::start(heartbeat(mode));
    runtime().block_on(async {
        let mut ws = connected(&server.url()).await;
        let (close, after, texts) = until_end(&mut ws, false, Duration::from_secs(5)).await.expect("ends within 5s");
        assert_eq!((close.code, close.how), (code, how), "{close:?}");
        if !reason.is_empty() {
            assert_eq!(close.reason, reason);
        }
        // First ping at 100 ms, its answer due by 300 ms.
        assert!(after >= Duration::from_millis(250) && after < Duration::from_secs(3), "{after:?}");
        assert!(texts.iter().all(|t| t == "2") && !texts.is_empty(), "{texts:?}");
    });
}

#[test]
fn answered_app_pings_keep_the_connection() {
    let server = TestServer::start(heartbeat(DropMode::Close));
    runtime().block_on(async {
        let mut ws = connected(&server.url()).await;
        let outcome = until_end(&mut ws, true, Duration::from_millis(1000)).await;
        assert!(outcome.is_none(), "still open after 1 s of answered pings: {outcome:?}");
        assert_eq!(server.health().open_connections, 1);
    });
}

#[test]
fn app_pings_arrive_on_their_interval_and_need_no_answer_without_app_pong() {
    let cfg = ServerConfig {
        app_ping: Some(r#"{"type":"ping"}"#.into()),
        app_ping_interval: Duration::from_millis(100),
        ..Default::default()
    };
    let server = TestServer::start(cfg);
    runtime().block_on(async {
        let mut ws = connected(&server.url()).await;
        let t = Instant::now();
        let mut pings = 0;
        while t.elapsed() < Duration::from_millis(550) {
            match tokio::time::timeout(Duration::from_millis(100), ws.next()).await {
                Ok(Some(Ok(Message::Text(text)))) => {
                    assert_eq!(text.as_str(), r#"{"type":"ping"}"#);
                    pings += 1;
                }
                Ok(Some(Ok(_))) | Err(_) => {}
                Ok(other) => panic!("the connection ended: {other:?}"),
            }
        }
        assert!((3..=6).contains(&pings), "{pings} app pings in 550ms at 100ms");
    });
}

fn init(timeout_ms: u64) -> ServerConfig {
    ServerConfig {
        require_init: Some(r#""type":"connection_init""#.into()),
        init_timeout: Duration::from_millis(timeout_ms),
        ..Default::default()
    }
}

#[rstest]
#[case::silence_is_4408(None, 4408, "connection initialisation timeout")]
#[case::a_wrong_first_message_is_4400(Some(r#"{"type":"subscribe"}"#), 4400, "expected connection initialisation")]
fn require_init_refuses_what_is_not_an_init(#[case] first: Option<&str>, #[case] code: u16, #[case] reason: &str) {
    let server = TestServer::start(init(300));
    runtime().block_on(async {
        let mut ws = connected(&server.url()).await;
        if let Some(text) = first {
            ws.send(Message::text(text)).await.unwrap();
        }
        let (close, after, texts) = until_end(&mut ws, false, Duration::from_secs(5)).await.expect("ends within 5s");
        assert_eq!((close.code, close.reason.as_str(), close.how), (code, reason, EndHow::CloseFrame));
        assert!(texts.is_empty(), "nothing was echoed: {texts:?}");
        match first {
            None => assert!(after >= Duration::from_millis(250) && after < Duration::from_secs(3), "{after:?}"),
            Some(_) => assert!(after < Duration::from_millis(250), "refused at once: {after:?}"),
        }
    });
}

#[test]
fn a_matching_init_opens_the_session() {
    let server = TestServer::start(init(200));
    runtime().block_on(async {
        let mut ws = connected(&server.url()).await;
        let init = r#"{"type":"connection_init","payload":{}}"#;
        ws.send(Message::text(init)).await.unwrap();
        ws.send(Message::text("after")).await.unwrap();
        let outcome = until_end(&mut ws, false, Duration::from_millis(600)).await;
        assert!(outcome.is_none(), "open past the init timeout: {outcome:?}");
    });
}

fn serve_config(args: &[&str]) -> Result<ServerConfig, String> {
    let cli = Cli::try_parse_from(["wsprobe", "serve"].iter().chain(args)).map_err(|e| e.to_string())?;
    let Command::Serve(serve) = cli.command else { unreachable!("serve parses as serve") };
    wsprobe::plan::server_config_from_serve(&serve.behaviour).map_err(|e| e.to_string())
}

#[test]
fn drop_mode_decides_the_app_pong_timeout_only_when_given() {
    let app = ["--app-ping", "2", "--app-pong", "^3$"];
    let cfg = serve_config(&app).unwrap();
    assert_eq!((cfg.drop_mode, cfg.app_pong_mode), (DropMode::Abrupt, DropMode::Close));
    let cfg = serve_config(&[&app[..], &["--drop-mode", "abrupt"][..]].concat()).unwrap();
    assert_eq!(cfg.app_pong_mode, DropMode::Abrupt);
    let cfg = serve_config(&[&app[..], &["--drop-mode", "close"][..]].concat()).unwrap();
    assert_eq!((cfg.drop_mode, cfg.app_pong_mode), (DropMode::Close, DropMode::Close));
}

#[test]
fn invalid_regexes_are_refused_naming_the_flag() {
    let err = serve_config(&["--require-init", "init("]).unwrap_err();
    assert!(err.contains("--require-init 'init('") && err.contains("regex"), "{err}");
    let cli = Cli::try_parse_from(["wsprobe", "single", "--server-app-ping", "2", "--server-app-pong", "[3"]).unwrap();
    let wsprobe::cli::Command::Check(check) = &cli.command else { panic!("single is a check") };
    let err = check.plan().unwrap_err().to_string();
    assert!(err.contains("--server-app-pong '[3'"), "{err}");
}
