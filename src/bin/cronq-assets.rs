//! `cronq-assets DIR`: what the package installs beside the binary, written into DIR:
//! the man pages, made from the clap definitions (`cronq(1)` and one
//! `cronq-SUBCOMMAND(1)` for each subcommand) plus the schedule format's
//! `cronq.yaml(5)` from `docs/man/`, and the completion scripts for bash, zsh and fish
//! as `cronq completions` prints them. Run by `config/deb/build-deb` before `cargo deb`;
//! not part of the package.

use std::path::Path;
use std::process::ExitCode;

use clap::CommandFactory;
use clap_complete::Shell;
use cronq::cli::{Cli, completion_script};

/// The schedule format's page, written by hand from the README's tables.
const SCHEDULE_PAGE: &str = include_str!("../../docs/man/cronq.yaml.5");

fn main() -> ExitCode {
    let Some(dir) = std::env::args_os().nth(1) else {
        eprintln!("cronq-assets: usage: cronq-assets DIR");
        return ExitCode::from(2);
    };
    match write_all(Path::new(&dir)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("cronq-assets: {error}");
            ExitCode::from(1)
        }
    }
}

fn write_all(dir: &Path) -> std::io::Result<()> {
    let man1 = dir.join("man/man1");
    let man5 = dir.join("man/man5");
    let completions = dir.join("completions");
    for made in [&man1, &man5, &completions] {
        std::fs::create_dir_all(made)?;
    }
    let mut cli = Cli::command();
    cli.build();
    std::fs::write(man1.join("cronq.1"), page(&cli)?)?;
    let pages = cli
        .get_subcommands()
        .filter(|s| !s.is_hide_set() && s.get_name() != "help");
    for sub in pages {
        // clap names commands with static strings; this program ends right after.
        let name: &'static str = format!("cronq-{}", sub.get_name()).leak();
        // The page's name is `cronq-run`; its synopsis says `cronq run`.
        let named = sub
            .clone()
            .name(name)
            .bin_name(format!("cronq {}", sub.get_name()));
        std::fs::write(man1.join(format!("{name}.1")), page(&named)?)?;
    }
    std::fs::write(man5.join("cronq.yaml.5"), SCHEDULE_PAGE)?;
    let scripts = [
        (Shell::Bash, "cronq.bash"),
        (Shell::Zsh, "_cronq"),
        (Shell::Fish, "cronq.fish"),
    ];
    for (shell, file) in scripts {
        std::fs::write(completions.join(file), completion_script(shell))?;
    }
    Ok(())
}

fn page(command: &clap::Command) -> std::io::Result<Vec<u8>> {
    let mut out = Vec::new();
    clap_mangen::Man::new(command.clone()).render(&mut out)?;
    Ok(out)
}
