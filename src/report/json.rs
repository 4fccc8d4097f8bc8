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
    let args: Vec<String> = std::env::args().collect();
    let text = scrub_secrets(&err.render().to_string(), &args);
    if wants_json && !is_info {
        let command = args.iter().skip(1).find(|a| !a.starts_with('-')).cloned().unwrap_or_default();
        print!("{}", render_error(&command, &one_line(&text)));
        return crate::exit::Exit::Error.into();
    }
    if is_info {
        print!("{text}");
    } else {
        let command = args.get(1).filter(|a| !a.starts_with('-')).map(|c| format!(" {c}")).unwrap_or_default();
        eprint!("wsprobe: error: {}\n\nFor more information, try 'wsprobe{command} --help'.\n", one_line(&text));
    }
    if is_info {
        std::process::ExitCode::SUCCESS
    } else {
        crate::exit::Exit::Error.into()
    }
}

/// A clap error as one line: the error, plus its tip or possible values.
pub fn one_line(text: &str) -> String {
    let mut lines = text.lines().map(str::trim).filter(|l| !l.is_empty());
    let mut out = lines.next().unwrap_or("").trim_start_matches("error: ").to_string();
    for extra in lines.filter(|l| l.starts_with("tip:") || l.starts_with("[possible values")) {
        out.push_str("; ");
        out.push_str(extra.trim_start_matches("tip: "));
    }
    out
}

/// Writes the JSON report to `path` atomically.
pub fn write(path: &std::path::Path, report: &Report) -> anyhow::Result<()> {
    super::write_atomically(path, &render(report))
}

/// Replaces header values and URL secrets typed on the command line with
/// their redacted forms in a message (clap quotes the values it refuses).
pub fn scrub_secrets(message: &str, args: &[String]) -> String {
    let mut text = message.to_string();
    for (i, arg) in args.iter().enumerate() {
        let after_header_flag = i > 0 && matches!(args[i - 1].as_str(), "-H" | "--header");
        let shown = if after_header_flag {
            crate::redact::redact_header_arg(arg)
        } else if arg.contains("://") {
            crate::units::redact_url(arg)
        } else {
            continue;
        };
        if shown != *arg {
            text = text.replace(arg.as_str(), &shown);
        }
    }
    text
}
