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

/// A bar redrawn from shared statistics every 200 ms until finished; a
/// hidden bar (progress off) starts no task at all.
pub struct LiveProgress {
    bar: ProgressBar,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl LiveProgress {
    /// Starts redrawing `bar` with `update`; must run inside a runtime.
    pub fn start<S, F>(bar: ProgressBar, stats: std::sync::Arc<std::sync::Mutex<S>>, update: F) -> LiveProgress
    where
        S: Send + 'static,
        F: Fn(&S, &ProgressBar) + Send + 'static,
    {
        if bar.is_hidden() {
            return LiveProgress { bar, task: None };
        }
        let shown = bar.clone();
        let task = tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_millis(200)).await;
                let Ok(s) = stats.lock() else { return };
                update(&s, &shown);
            }
        });
        LiveProgress { bar, task: Some(task) }
    }

    /// Stops redrawing and clears the line.
    pub fn finish(self) {
        if let Some(t) = self.task {
            t.abort();
        }
        self.bar.finish_and_clear();
    }
}
