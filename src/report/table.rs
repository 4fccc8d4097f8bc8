//! The human renderer: a header, the command's own tables, the findings,
//! a plain-words diagnosis and the verdict. A pure function of a
//! [`Report`] and a width, so snapshot tests pin it down.

use comfy_table::presets::UTF8_FULL_CONDENSED;
use comfy_table::{Cell, ContentArrangement, Table};

use super::{safe, Report};
use crate::exit::Verdict;

/// Rendering choices that do not come from the report.
#[derive(Debug, Clone, Copy)]
pub struct Style {
    /// Total width available.
    pub width: u16,
    /// Only the verdict and failed findings.
    pub quiet: bool,
}

impl Default for Style {
    fn default() -> Self {
        Style { width: 100, quiet: false }
    }
}

/// A table with wsprobe's look.
pub fn table(style: Style, header: &[&str]) -> Table {
    let mut t = Table::new();
    t.load_preset(UTF8_FULL_CONDENSED).set_content_arrangement(ContentArrangement::Dynamic).set_width(style.width);
    if !header.is_empty() {
        t.set_header(header.iter().map(Cell::new));
    }
    t
}

/// Renders a report for people.
pub fn render(report: &Report, style: Style) -> String {
    if style.quiet {
        return render_quiet(report);
    }
    let mut out = format!("wsprobe {}  {}\n\n", report.command, report.target);
    if let Some(details) = &report.details {
        out.push_str(&details.table(style));
    }
    if !report.details.as_ref().is_some_and(|d| d.shows_findings()) {
        out.push_str(&findings(report, style));
    }
    out.push_str(&diagnosis(report));
    out.push_str(&verdict_line(report));
    // Server text may sit anywhere in the tables: no control character
    // of theirs reaches the terminal.
    super::safe::page(&out).into_owned()
}

fn render_quiet(report: &Report) -> String {
    let mut out = verdict_line(report);
    for f in report.findings.iter().filter(|f| !f.ok) {
        out.push_str(&format!("  ✗ {}: {}\n", f.check, safe::line(&f.detail)));
    }
    super::safe::page(&out).into_owned()
}

fn findings(report: &Report, style: Style) -> String {
    if report.findings.is_empty() {
        return String::new();
    }
    let mut t = table(style, &["", "check", "result"]);
    for f in &report.findings {
        t.add_row(vec![
            Cell::new(if f.ok { "✓" } else { "✗" }),
            Cell::new(&f.check),
            Cell::new(safe::clip(&f.detail, 2000)),
        ]);
    }
    format!("{t}\n")
}

fn diagnosis(report: &Report) -> String {
    let mut out = String::new();
    if !report.diagnosis.is_empty() {
        out.push_str("\nDiagnosis:\n");
        for line in &report.diagnosis {
            out.push_str(&format!("  • {}\n", safe::line(line)));
        }
    }
    if !report.warnings.is_empty() {
        out.push_str("\nWarnings about this measurement:\n");
        for line in &report.warnings {
            out.push_str(&format!("  ! {}\n", safe::line(line)));
        }
    }
    out
}

/// The last line: verdict, failures and time.
pub fn verdict_line(report: &Report) -> String {
    let failed = report.findings.iter().filter(|f| !f.ok).count();
    let total = report.findings.len();
    let interrupted = if report.interrupted { " (interrupted: partial results)" } else { "" };
    match report.verdict {
        Verdict::Pass => format!("\nPASS  {total}/{total} checks passed in {:.1}s{interrupted}\n", report.elapsed_s),
        Verdict::Fail => {
            format!("\nFAIL  {failed} of {total} checks failed in {:.1}s{interrupted}\n", report.elapsed_s)
        }
        Verdict::Error => {
            format!(
                "\nERROR  {}\n",
                safe::line(report.error.as_deref().unwrap_or("wsprobe could not complete the run"))
            )
        }
    }
}
