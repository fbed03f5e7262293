//! The `cronq` binary: parse the arguments, set up logging, run the command, and turn
//! an error into its documented exit code.

use std::io::IsTerminal;
use std::process::ExitCode;

use clap::Parser;
use cronq::cli::{self, Cli};
use cronq::settings::LogFormat;
use tracing_subscriber::EnvFilter;

fn main() -> ExitCode {
    cronq::memory::give_back_freed_memory();
    let cli = Cli::parse();
    init_logging(cli.settings.log_format.unwrap_or_default());
    match cli::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            cli::print_error(&error);
            ExitCode::from(cli::exit_code(&error))
        }
    }
}

/// Logs go to stderr; `RUST_LOG` filters them (default: info).
fn init_logging(format: LogFormat) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    // Colours only for a person at a terminal.
    let ansi = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    let logs = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(ansi)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => logs.init(),
        LogFormat::Json => logs.json().init(),
    }
}
