//! `cronq completions SHELL`: a completion script on stdout.

use clap::CommandFactory;

use super::args::{Cli, CompletionsArgs};

pub fn run(args: &CompletionsArgs) -> anyhow::Result<()> {
    clap_complete::generate(
        args.shell,
        &mut Cli::command(),
        "cronq",
        &mut std::io::stdout(),
    );
    Ok(())
}
