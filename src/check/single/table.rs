//! The `single` section of the human output: what happened to A and B, the
//! policy, the reconnect and the distinct identities.

use comfy_table::Cell;

use super::{ConnOutcome, SingleDetails};
use crate::report::table::{table, Style};

fn row(name: &str, c: &ConnOutcome) -> Vec<Cell> {
    let dash = || "-".to_string();
    vec![
        Cell::new(name),
        Cell::new(c.outcome),
        Cell::new(c.http_status.map(|s| s.to_string()).unwrap_or_else(dash)),
        Cell::new(c.close_code.map(|s| s.to_string()).unwrap_or_else(dash)),
        Cell::new(&c.detail),
    ]
}

/// Renders the connections and the policy of a `single` run.
pub fn render(d: &SingleDetails, style: Style) -> String {
    let mut t = table(style, &["connection", "outcome", "http", "close", "detail"]);
    t.add_row(row("A (identity X)", &d.first));
    t.add_row(row("B (identity X)", &d.second));
    if let Some(race) = &d.race {
        t.add_row(row("race 1", &race.first));
        t.add_row(row("race 2", &race.second));
    }
    let reconnect = d.reconnect_after_close.unwrap_or("not tried");
    format!(
        "{t}\n\nPolicy: {}   Reconnect after close: {reconnect}   Distinct identities: {}/{}\n\n",
        d.policy.label(),
        d.distinct.accepted,
        d.distinct.tried
    )
}
