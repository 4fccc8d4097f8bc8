//! `connect`'s view of permessage-deflate: what was offered, what the
//! server agreed to (or that it declined), and what was inflated.

use serde::Serialize;

use super::ConnectDetails;
use crate::net::connect::ClientWs;
use crate::net::deflate::{DeflateParams, OFFER};
use crate::net::inflate::InflateStats;
use crate::plan::ClientPlan;

/// permessage-deflate in `connect`'s JSON (present when it was offered).
#[derive(Debug, Clone, Serialize)]
pub struct DeflateReport {
    /// The offer sent (`Sec-WebSocket-Extensions`).
    pub offered: String,
    /// The parameters the server agreed to; null when it declined.
    pub negotiated: Option<DeflateParams>,
    /// Compressed messages received and their sizes.
    pub inflated: InflateStats,
}

/// The report's start, when the client offered deflate: the offer (ours
/// or the user's own header) and the server's answer.
pub fn offered(plan: &ClientPlan, negotiated: Option<DeflateParams>) -> Option<DeflateReport> {
    let header = plan.headers.iter().find(|h| {
        h.name.eq_ignore_ascii_case("sec-websocket-extensions")
            && h.value.to_ascii_lowercase().contains("permessage-deflate")
    });
    let offered = match header {
        Some(h) => h.value.clone(),
        None if plan.deflate => OFFER.to_string(),
        None => return None,
    };
    Some(DeflateReport { offered, negotiated, inflated: InflateStats::default() })
}

/// Fills in what the connection inflated.
pub fn inflated(ws: &ClientWs, details: &mut ConnectDetails) {
    if let (Some(report), Some(stats)) = (details.deflate.as_mut(), ws.get_ref().inflate_stats()) {
        report.inflated = stats;
    }
}

/// The table's line: `Deflate: server window 2^15 (32 KiB), context kept; ...`.
pub fn line(report: &DeflateReport) -> String {
    let Some(params) = &report.negotiated else {
        return "Deflate: offered; the server declined it (messages arrive uncompressed)\n".into();
    };
    let s = report.inflated;
    let plural = if s.messages == 1 { "" } else { "s" };
    format!(
        "Deflate: {}\n         inflated {} message{plural}: {} bytes on the wire → {} bytes\n",
        params.describe(),
        s.messages,
        s.compressed_bytes,
        s.inflated_bytes
    )
}
