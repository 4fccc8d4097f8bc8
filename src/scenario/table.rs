//! The human output of `run`: one row per check with what was expected
//! and what was seen.

use comfy_table::Cell;

use super::run::RunDetails;
use crate::report::table::{table, Style};

pub(crate) fn mark(ok: bool) -> &'static str {
    if ok {
        "✓"
    } else {
        "✗"
    }
}

/// Renders `run`: a table per scenario file.
pub(crate) fn render_run(d: &RunDetails, style: Style) -> String {
    let mut out = String::new();
    for file in &d.files {
        let mut t = table(style, &["", "check", "command", "expected", "observed", "time"]);
        for c in &file.checks {
            let observed = if c.ok { c.observed.clone() } else { c.failures.join("; ") };
            t.add_row(vec![
                Cell::new(mark(c.ok)),
                Cell::new(format!("{} (line {})", c.name, c.line)),
                Cell::new(&c.command),
                Cell::new(&c.expected),
                Cell::new(observed),
                Cell::new(format!("{:.1}s", c.elapsed_s)),
            ]);
        }
        out.push_str(&format!("{} — {}\n{t}\n\n", file.file, file.name));
    }
    out.push_str(&format!("{} files, {} checks, {} as expected\n\n", d.files.len(), d.checks, d.passed));
    out
}
