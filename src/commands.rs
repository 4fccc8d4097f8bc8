//! Dispatch: builds the runtime, turns each command's arguments into a plan,
//! runs it under the Ctrl-C token and renders the report. Also the
//! non-check commands: `serve`, `completions`, `man`.

use std::io::{IsTerminal, Write};

use anyhow::Context;
use clap::CommandFactory;
use tokio_util::sync::CancellationToken;

use crate::cli::{Cli, Command, OutputArgs, ServeArgs};
use crate::exit::{Exit, Verdict};
use crate::plan;
use crate::report::{json, table, Report};

/// What the process should print and return.
#[derive(Debug, Clone)]
pub struct Output {
    /// Text for stdout.
    pub stdout: String,
    /// Text for stderr.
    pub stderr: String,
    /// The exit code.
    pub exit: Exit,
}

/// Runs a parsed command line to completion. What it prints has every
/// registered secret (a scenario's `${VAR}` values) masked.
pub fn run(cli: Cli) -> anyhow::Result<Output> {
    let out = dispatch(cli)?;
    let mask = |text: String| crate::redact::registered(&text).into_owned();
    Ok(Output { stdout: mask(out.stdout), stderr: mask(out.stderr), exit: out.exit })
}

fn dispatch(cli: Cli) -> anyhow::Result<Output> {
    init_logging(cli.command.output().map(|o| o.verbose).unwrap_or(0).max(serve_verbosity(&cli.command)));
    // Before the runtime starts its threads: see reserve_descriptor_table.
    crate::net::limits::reserve_descriptor_table(crate::net::limits::raise_open_files());
    match &cli.command {
        Command::Completions(args) => Ok(text_output(completions(args.shell))),
        Command::Man => Ok(text_output(man_page()?)),
        Command::Serve(args) => runtime()?.block_on(serve(args)),
        Command::Report(args) => view(args),
        command => {
            let output = command.output().cloned().unwrap_or_default();
            let report = report(&cli)?;
            if let Some(path) = &output.out {
                crate::report::json::write(path, &report)?;
            }
            if let Some(path) = &output.html {
                let json = serde_json::to_value(&report).context("cannot serialize the report")?;
                crate::report::write_atomically(path, &crate::render::html(&json))?;
            }
            Ok(render(&report, &output))
        }
    }
}

/// Runs a client command (or selftest, run) and returns its report.
pub fn report(cli: &Cli) -> anyhow::Result<Report> {
    runtime()?.block_on(async {
        let stop = crate::shutdown::on_ctrl_c();
        execute(&cli.command, &stop).await
    })
}

/// Runs a client command on the current runtime until done or `stop`.
pub async fn execute(command: &Command, stop: &CancellationToken) -> anyhow::Result<Report> {
    match command {
        Command::Selftest(args) => Ok(crate::selftest::run(args.filter.as_deref(), stop).await),
        Command::Run(args) => crate::scenario::run::run(args, stop).await,
        Command::Merge(args) => crate::merge::merge(&crate::saved::read(&args.files)?),
        Command::Check(check) => crate::check::run_planned(check.plan()?.as_ref(), stop).await,
        other => anyhow::bail!("`wsprobe {}` does not produce a report", other.name()),
    }
}

/// Renders a report per the output options.
pub fn render(report: &Report, output: &OutputArgs) -> Output {
    let exit = report.verdict.exit();
    if output.json {
        return Output { stdout: json::render(report), stderr: String::new(), exit };
    }
    // A run that could not start gets one line; an interrupted one keeps
    // its partial tables.
    if report.verdict == Verdict::Error && !report.interrupted {
        let message = report.error.as_deref().unwrap_or("wsprobe could not complete the run");
        let message = crate::report::safe::line(message);
        return Output { stdout: String::new(), stderr: format!("wsprobe: error: {message}\n"), exit };
    }
    let style = table::Style { width: terminal_width(), quiet: output.quiet };
    Output { stdout: table::render(report, style), stderr: String::new(), exit }
}

fn terminal_width() -> u16 {
    if std::io::stdout().is_terminal() {
        if let Some((w, _)) = terminal_size() {
            return w.clamp(60, 160);
        }
    }
    100
}

fn terminal_size() -> Option<(u16, u16)> {
    let term = console_size();
    term.filter(|(w, _)| *w > 0)
}

fn console_size() -> Option<(u16, u16)> {
    // SAFETY: TIOCGWINSZ fills a winsize struct we own; failure is reported
    // by the return value and leaves the struct zeroed.
    let mut ws: libc::winsize = unsafe { std::mem::zeroed() };
    let rc = unsafe { libc::ioctl(libc::STDOUT_FILENO, libc::TIOCGWINSZ, &mut ws) };
    (rc == 0).then_some((ws.ws_col, ws.ws_row))
}

/// `wsprobe report`: saved reports as HTML or Markdown. Exits 0 when it
/// rendered, whatever the report's verdict.
fn view(args: &crate::cli::ReportArgs) -> anyhow::Result<Output> {
    let mut saved = crate::saved::read(&args.files)?;
    let report = if saved.len() > 1 {
        let merged = crate::merge::merge(&saved).context("several reports are rendered as one merged report")?;
        serde_json::to_value(&merged).context("cannot serialize the merged report")?
    } else {
        saved.remove(0).report
    };
    let text = if args.markdown { crate::render::markdown(&report) } else { crate::render::html(&report) };
    match &args.output {
        Some(path) => {
            crate::report::write_atomically(path, &text)?;
            Ok(text_output(String::new()))
        }
        None => Ok(text_output(text)),
    }
}

fn text_output(stdout: String) -> Output {
    Output { stdout, stderr: String::new(), exit: Exit::Pass }
}

/// The runtime: one worker per core; `WSPROBE_THREADS=N` overrides it for
/// benchmarks (a client and a server sharing two cores).
fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2);
    let env = |name: &str| std::env::var(name).ok().and_then(|v| v.parse::<u32>().ok()).filter(|&n| n > 0);
    let workers = env("WSPROBE_THREADS").map(|n| n as usize).unwrap_or(cores);
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

fn serve_verbosity(command: &Command) -> u8 {
    match command {
        Command::Serve(a) => a.verbose,
        _ => 0,
    }
}

fn init_logging(verbose: u8) {
    let default = match verbose {
        0 => "warn",
        1 => "wsprobe=info",
        2 => "wsprobe=debug",
        _ => "wsprobe=trace,tungstenite=debug",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    // Colour only for a terminal: a log file or a pipe gets plain text.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(|| crate::redact::RedactedStderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_target(false)
        .try_init();
}

async fn serve(args: &ServeArgs) -> anyhow::Result<Output> {
    let cfg = plan::server_config_from_serve(&args.behaviour)?;
    let listener = crate::server::bind(args.addr, cfg.backlog).with_context(|| {
        format!("cannot listen on {}: is another server using that port? choose another with --addr (port 0 picks a free one)", args.addr)
    })?;
    let addr = listener.local_addr().context("cannot read the bound address")?;
    let mut banner = format!(
        "wsprobe serve: listening on ws://{addr}/ (health: http://{addr}/health)\n  behaviour: {}\n",
        cfg.summary()
    );
    if !addr.ip().is_loopback() {
        banner.push_str("  note: listening beyond loopback, as --addr asked\n");
    }
    banner.push_str("  Ctrl-C or SIGTERM closes every connection with 1001 and exits\n");
    // Ctrl-C is ours before the banner says it is.
    let stop = crate::shutdown::on_ctrl_c();
    let mut stdout = std::io::stdout();
    let _ = stdout.write_all(banner.as_bytes());
    let _ = stdout.flush();
    // The accept loop runs on a worker, not on this (blocking) thread: a
    // connection task spawned from a worker starts on that same worker,
    // without a cross-thread wake-up per accepted connection.
    let server = tokio::spawn(crate::server::run(listener, cfg, stop));
    server.await.context("the server task failed")?;
    Ok(text_output("wsprobe serve: stopped\n".into()))
}

fn completions(shell: clap_complete::Shell) -> String {
    let mut buf = Vec::new();
    clap_complete::generate(shell, &mut Cli::command(), "wsprobe", &mut buf);
    String::from_utf8_lossy(&buf).into_owned()
}

fn man_page() -> anyhow::Result<String> {
    let mut buf = Vec::new();
    clap_mangen::Man::new(Cli::command()).render(&mut buf).context("cannot render the man page")?;
    Ok(String::from_utf8_lossy(&buf).into_owned())
}
