//! wsprobe: diagnose and load-test WebSocket servers from the outside.
//!
//! It finds the connection bugs real-time apps keep shipping: one identity
//! holding many connections, 1006 drops from misunderstood heartbeats, rate
//! limits and client caps that misfire or leak, and reconnect storms. Every
//! client command runs against a URL or, without one, against the embedded
//! reference server, which can behave correctly or reproduce each bug.
//!
//! # Layout
//!
//! Data flows one way: args → plan → runner → events → stats/verdict →
//! report → renderer.
//!
//! - [`cli`]: clap structs, exactly what the user typed.
//! - [`units`]: durations, rates, backoff, headers, templates; [`redact`]: secrets out of every output.
//! - [`plan`]: validated plans and the [`plan::Target`]; [`target`] resolves
//!   it (starting the embedded server on `127.0.0.1:0` when needed).
//! - [`exit`]: exit codes and the errors callers match on.
//! - [`shutdown`]: the Ctrl-C cancellation tree.
//! - [`net`]: DNS/TCP/TLS/upgrade timed apart ([`net::connect`]), open
//!   connections and how they end ([`net::session`]), our own limits.
//! - [`event`]: what clients report, and [`event::CloseInfo`].
//! - [`check`]: one module per client command; each returns a [`report::Report`].
//! - [`report`]: the report and its pure renderers (table, JSON, progress).
//! - [`server`]: the reference server: `run(listener, config, shutdown)`.

#![warn(missing_docs)]

pub mod check;
pub mod cli;
pub mod event;
pub mod exit;
pub mod net;
pub mod plan;
pub mod redact;
pub mod render;
pub mod report;
pub mod scenario;
pub mod selftest;
pub mod server;
pub mod shutdown;
pub mod stats;
pub mod target;
pub mod units;

mod commands;

pub use commands::{execute, report, run, Output};
