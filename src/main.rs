//! The wsprobe binary: parse, run, print, exit. Everything else is in the library.

use std::io::Write;
use std::process::ExitCode;

use clap::Parser;
use wsprobe::cli::Cli;
use wsprobe::exit::Exit;

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => return wsprobe::report::json::argument_error(e),
    };
    let json = cli.command.output().is_some_and(|o| o.json);
    let command = cli.command.name();
    match wsprobe::run(cli) {
        Ok(out) => {
            let _ = std::io::stdout().write_all(out.stdout.as_bytes());
            let _ = std::io::stderr().write_all(out.stderr.as_bytes());
            out.exit.into()
        }
        Err(err) if json => {
            print!(
                "{}",
                wsprobe::redact::registered(&wsprobe::report::json::render_error(command, &format!("{err:#}")))
            );
            Exit::Error.into()
        }
        Err(err) => {
            eprintln!("wsprobe: error: {}", wsprobe::redact::registered(&format!("{err:#}")));
            Exit::Error.into()
        }
    }
}
