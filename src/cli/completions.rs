//! `cronq completions SHELL`: a completion script on stdout.

use std::io::Write;

use clap::CommandFactory;

use super::args::{Cli, CompletionsArgs};
use super::output::stdout_error;

pub fn run(args: &CompletionsArgs) -> anyhow::Result<()> {
    // Written whole into memory first: clap_complete panics on a failed write, and a
    // closed stdout (`cronq completions bash | head`) must end quietly instead.
    let mut script = Vec::new();
    clap_complete::generate(args.shell, &mut Cli::command(), "cronq", &mut script);
    let mut stdout = std::io::stdout().lock();
    stdout
        .write_all(&script)
        .and_then(|()| stdout.flush())
        .map_err(stdout_error)
}
