//! The `--json` renderer: exactly one JSON object, the serialized
//! [`Report`], so machines can rely on stdout holding nothing else.

use super::Report;

/// Renders the report as one pretty JSON object followed by a newline.
pub fn render(report: &Report) -> String {
    let mut text = serde_json::to_string_pretty(report).unwrap_or_else(|e| {
        format!("{{\"command\":{:?},\"verdict\":\"error\",\"error\":\"cannot serialize report: {e}\"}}", report.command)
    });
    text.push('\n');
    text
}

/// The one JSON object printed when a command cannot run at all.
pub fn render_error(command: &str, message: &str) -> String {
    render(&Report::error(command, "", message))
}

/// Reports a command-line error: clap's message on stderr (exit 2), or, when
/// `--json` was asked for, one JSON object on stdout so machines still get
/// their object. Help and version go to stdout with exit 0.
pub fn argument_error(err: clap::Error) -> std::process::ExitCode {
    use clap::error::ErrorKind;
    let wants_json = std::env::args().any(|a| a == "--json");
    let is_info = matches!(
        err.kind(),
        ErrorKind::DisplayHelp | ErrorKind::DisplayVersion | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
    );
    if wants_json && !is_info {
        let command = std::env::args().nth(1).unwrap_or_default();
        let message = err.kind().as_str().map(str::to_string).unwrap_or_else(|| first_line(&err.to_string()));
        let detail = first_line(&err.to_string());
        print!("{}", render_error(&command, if detail.is_empty() { &message } else { &detail }));
        return crate::exit::Exit::Error.into();
    }
    let _ = err.print();
    if is_info {
        std::process::ExitCode::SUCCESS
    } else {
        crate::exit::Exit::Error.into()
    }
}

fn first_line(text: &str) -> String {
    text.lines().next().unwrap_or("").trim_start_matches("error: ").to_string()
}
