//! Live progress on stderr with indicatif, shown only when stdout is a
//! terminal and neither `--quiet` nor `--json` was given, so piped and
//! machine output stay clean. Progress is just another consumer of what
//! the collector sees; it never decides anything.

use std::io::IsTerminal;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// Whether to draw progress for this run.
pub fn wanted(json: bool, quiet: bool) -> bool {
    !json && !quiet && std::io::stdout().is_terminal() && std::io::stderr().is_terminal()
}

/// A spinner with a message, or a hidden bar when progress is not wanted.
pub fn spinner(show: bool, message: &str) -> ProgressBar {
    if !show {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr_with_hz(10));
    bar.set_style(
        ProgressStyle::with_template("{spinner:.cyan} [{elapsed_precise}] {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
    );
    bar.set_message(message.to_string());
    bar.enable_steady_tick(Duration::from_millis(100));
    bar
}

/// A bar of `len` steps, or a hidden one when progress is not wanted.
pub fn bar(show: bool, len: u64, message: &str) -> ProgressBar {
    if !show {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::with_draw_target(Some(len), ProgressDrawTarget::stderr_with_hz(10));
    let style =
        ProgressStyle::with_template("{spinner:.cyan} [{elapsed_precise}] [{bar:30.cyan/blue}] {pos}/{len} {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> ");
    bar.set_style(style);
    bar.set_message(message.to_string());
    bar.enable_steady_tick(Duration::from_millis(100));
    bar
}
