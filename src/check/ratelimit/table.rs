//! The `ratelimit` section of the human output: the timeline of attempts
//! and the inferred limit.

use comfy_table::Cell;

use super::infer::Purpose;
use super::RatelimitDetails;
use crate::report::table::{table, Style};

/// Renders the attempt timeline and the inference.
pub fn render(d: &RatelimitDetails, style: Style) -> String {
    let mut t = table(style, &["#", "at", "outcome", "detail", "why"]);
    for a in &d.attempts {
        let detail = match (&a.retry_after, a.close_code) {
            (Some(r), _) => format!("Retry-After: {r}"),
            (None, Some(code)) => format!("closed with {code} within --settle"),
            _ => String::new(),
        };
        let why = match a.purpose {
            Purpose::Scheduled => "",
            Purpose::WindowProbe => "window probe",
            Purpose::ReuseProbe => "slot reuse probe",
        };
        t.add_row(vec![
            Cell::new(a.n),
            Cell::new(format!("{:.3} s", a.at_s)),
            Cell::new(a.outcome),
            Cell::new(detail),
            Cell::new(why),
        ]);
    }
    let i = &d.inferred;
    let show = |v: Option<String>| v.unwrap_or_else(|| "-".into());
    format!(
        "{t}\n\nmode {}   rate {}   accepted {}   rejected {}\nburst {}   window {}   limit {}   max concurrent {}   slots reused {}\n\n",
        d.mode,
        d.rate,
        d.accepted,
        d.rejected,
        show(i.burst.map(|b| b.to_string())),
        show(i.window_s.map(|w| format!("{w:.2} s"))),
        show(i.limit.clone()),
        show(i.max_concurrent.map(|m| m.to_string())),
        show(i.slots_reused.map(|b| b.to_string())),
    )
}
