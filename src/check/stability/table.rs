//! The `stability` section of the human output: every drop with its
//! timings and the heartbeat summary.

use comfy_table::Cell;

use super::StabilityDetails;
use crate::report::table::{table, Style};

/// Renders the drops and heartbeat numbers of a soak.
pub fn render(d: &StabilityDetails, style: Style) -> String {
    let mut out = String::new();
    if !d.closes.is_empty() {
        let mut t = table(
            style,
            &["client", "code", "reason", "how", "after", "idle in/out", "pings", "since ping", "read as"],
        );
        for c in &d.closes {
            t.add_row(vec![
                Cell::new(c.client),
                Cell::new(c.code),
                Cell::new(&c.reason),
                Cell::new(c.how.label()),
                Cell::new(format!("{:.2} s", c.after_s)),
                Cell::new(format!("{:.2}/{:.2} s", c.idle_in_s, c.idle_out_s)),
                Cell::new(c.server_pings),
                Cell::new(c.since_ping_s.map(|s| format!("{s:.2} s")).unwrap_or_else(|| "-".into())),
                Cell::new(c.cause.label()),
            ]);
        }
        out.push_str(&format!("{t}\n"));
        if let Some(n) = d.closes_omitted {
            out.push_str(&format!("({n} more drops counted; the first and last 10 of each client are shown)\n"));
        }
        out.push('\n');
    }
    let pings = match d.server_pings.median_interval_s {
        Some(i) => format!("{} (every {i:.2} s)", d.server_pings.count),
        None => d.server_pings.count.to_string(),
    };
    let rtt = d.pong_rtt_ms.map(|p| format!("   pong rtt p50 {:.2} ms p99 {:.2} ms", p.p50, p.p99)).unwrap_or_default();
    out.push_str(&format!(
        "clients {}   survived {}   connections opened {}   drops {}   heartbeat {}   server pings {pings}{rtt}\n",
        d.clients,
        d.survived,
        d.connections,
        d.closes.len() as u64 + d.closes_omitted.unwrap_or(0),
        d.heartbeat
    ));
    if let Some(p) = &d.period {
        out.push_str(&format!("drop period: every {:.2} s with code {} ({} drops)\n", p.seconds, p.code, p.drops));
    }
    out.push('\n');
    out
}
