//! Renderers of a wsprobe JSON report for people: one self-contained HTML
//! page with charts ([`html`]) and a Markdown summary for CI job summaries
//! ([`markdown`]). Both are pure functions of the report's JSON (the exact
//! `--json` output, a merged shard report or an older file), so they know
//! no check by name: each chart and table is chosen by the fields present,
//! and an absent or malformed field only means that part is skipped.
//!
//! # Layout
//!
//! - [`html`](fn@html): `html.rs` (page), `tables.rs`, `style.rs` (CSS,
//!   light and dark), `charts/` (one file per chart family).
//! - [`markdown`](fn@markdown): `markdown.rs`.
//! - Shared: `fields.rs` (defensive JSON access, figures, number format),
//!   `escape.rs` (HTML/XML and Markdown escaping), `hdr.rs` (HdrHistogram
//!   V2 base64 decoding, percentiles, spectra), `series.rs` (downsampling,
//!   binning), `svg/` (scales, ticks and the chart drawer).
//!
//! # Why a hand-written SVG kit
//!
//! `plotters` (SVG backend) was tried: it writes colours as fixed
//! attributes (no dark mode without rewriting them), pixel-rounded marks,
//! one element per grid line, an `xmlns` URL in every chart, and has no
//! `<title>` read-outs or nines axis. The kit in `svg/` is a few hundred
//! tested lines that emit CSS classes, so one SVG reads in both schemes.

mod charts;
mod escape;
mod fields;
mod hdr;
mod html;
mod markdown;
mod series;
mod style;
mod svg;
mod tables;

use serde_json::Value;

/// The report as one self-contained HTML page: verdict, findings,
/// diagnosis and warnings at the top, then the charts its fields support,
/// then tables. Inline SVG and CSS only (no script, no external URL);
/// light and dark colour schemes; every report string escaped; bounded in
/// size however many clients, seconds or attempts the report holds.
pub fn html(report: &Value) -> String {
    html::page(report)
}

/// The report as Markdown for `$GITHUB_STEP_SUMMARY`: a heading with the
/// command and verdict, the findings table, diagnosis and warnings as
/// bullets, the figures and the latency percentiles (ms) as tables. Pipes,
/// newlines and markup in values are escaped.
pub fn markdown(report: &Value) -> String {
    markdown::render(report)
}
