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
//! Data flows one way: args → plan → runner → events → stats → observation
//! → verdict → report → renderer. Nothing downstream imports upstream.
//!
//! - [`check`]: the growing axis. One folder per check (`check/<name>/`)
//!   owns its clap arguments, its validated plan, its runner and client
//!   tasks, its collector, the pure functions that judge what it saw, its
//!   JSON details and their table, and its selftest rows. The registry at
//!   the bottom of `check/mod.rs` is the only list of checks: the
//!   subcommands, dispatch, scenario command names and the tests' lists
//!   all derive from it. A check returns an [`check::Observation`], never a
//!   verdict.
//! - [`cli`]: the parser: the registry's checks plus the other commands;
//!   [`args`]: the arguments every check shares, as typed; [`plan`]: the validated [`plan::ClientPlan`]
//!   every check's plan embeds; [`target`] resolves it (starting the
//!   embedded server on `127.0.0.1:0` when there is no URL).
//! - [`net`]: the fixed axis under every check: DNS, TCP, the proxy's
//!   tunnel ([`net::proxy`]: `--proxy` or the environment as curl reads
//!   it), TLS ([`net::tls`]: roots, client certificates, the session and
//!   certificate shown, failures in words) and the upgrade timed apart
//!   ([`net::connect`], redirects followed by [`net::redirect`]), then the application
//!   protocol as one more layer ([`net::app`]: `--protocol` profiles as data
//!   over `--init`/`--ready`/`--reply`, its own "app ready" phase and
//!   refusals, heartbeats answered inside [`net::connect::ClientWs`], and
//!   protocols noticed when nobody named one), typed attempt outcomes
//!   ([`net::attempt::Outcome`]), open connections and how they end
//!   ([`net::session`]: every write under a deadline), the frames on the
//!   wire in ([`net::wire`]: read sizes, fragments, the close as sent,
//!   compressed messages inflated by [`net::inflate`] within the message
//!   limit) and out ([`net::nopong`]: pongs coalesced, a bounded queue),
//!   permessage-deflate's negotiation on both sides ([`net::deflate`]),
//!   what a refusal's status and body advise ([`net::refusal`]), our own
//!   limits.
//! - [`event`]: what client tasks report; [`stats`]: generic folding of
//!   events, latency histograms, self-watch; [`metrics`]: the same events
//!   as live Prometheus/OpenMetrics metrics, served over HTTP while a soak
//!   runs (`--metrics-addr`).
//! - [`mod@report`]: the [`report::Report`] (command-specific fields are a boxed
//!   [`report::Details`], so this module names no check) and its pure
//!   renderers (table, JSON, progress; server text made safe for a
//!   terminal in [`report::safe`]), and the one verdict step for checks,
//!   suites and merges alike ([`report::verdict`]).
//! - [`render`]: HTML (inline SVG charts) and Markdown, pure functions of a
//!   report's JSON, so saved, merged and fresh reports render alike;
//!   [`saved`]: reading saved reports back.
//! - [`shard`]: one command as N shards (`--shard I/N`, `--shards N`,
//!   `--start-at`): which clients are whose, the shared start, the plan
//!   hash; [`clock`]: absolute times (µs, RFC 3339) that line up across
//!   machines; [`merge`]: `wsprobe merge`, which checks shard reports
//!   belong together, aligns their timelines and hands them to the
//!   check's own merge hook ([`check::mergeable`], one `merge.rs` next to
//!   each mergeable check), judged like a single run.
//! - [`scenario`]: scenario files (`${VAR}` from the environment, `run`'s
//!   options for every check merged in), `run` and its JUnit XML;
//!   [`selftest`] runs the checks' built-in scenario files through the same runner.
//! - [`server`]: the reference server: `run(listener, config, shutdown)`.
//! - [`units`]: durations, rates, backoff, headers, templates; [`redact`]:
//!   secrets out of every output (by name, and values registered from the
//!   environment); [`exit`]: exit codes; [`shutdown`]: the cancellation
//!   tree that Ctrl-C and SIGTERM cancel.

#![warn(missing_docs)]

pub mod args;
pub mod check;
pub mod cli;
pub mod clock;
pub mod event;
pub mod exit;
pub mod merge;
pub mod metrics;
pub mod net;
pub mod plan;
pub mod redact;
pub mod render;
pub mod report;
pub mod saved;
pub mod scenario;
pub mod selftest;
pub mod server;
pub mod shard;
pub mod shutdown;
pub mod stats;
pub mod target;
pub mod units;

mod commands;

pub use commands::{execute, report, run, Output};
