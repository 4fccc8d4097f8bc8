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
        let detail = match (&a.retry_after, a.close_code, a.failed_in) {
            (Some(r), _, _) => format!("Retry-After: {r}"),
            (None, Some(code), _) => format!("closed with {code} within --settle"),
            (None, None, Some(phase)) if a.queued() => format!("TCP accepted, no answer ({})", phase.label()),
            (None, None, Some(phase)) => format!("in the {} phase", phase.label()),
            _ => String::new(),
        };
        let why = match a.purpose {
            Purpose::Scheduled => "",
            Purpose::WindowProbe => "window probe",
            Purpose::ReuseProbe => "slot reuse probe",
            Purpose::RefillProbe => "refill probe",
            Purpose::ModelProbe => "model probe",
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
    let model = match &i.model {
        Some(m) => {
            format!(
                "model {} ({}), explains {} of {} answered attempts\n",
                m.kind.label(),
                m.summary,
                m.explained,
                m.answered
            )
        }
        None => String::new(),
    };
    format!(
        "{t}\n\nmode {}   rate {}   accepted {}   rejected {}\nburst {}   window {}   limit {}   max concurrent {}   slots reused {}\n{model}\n",
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
