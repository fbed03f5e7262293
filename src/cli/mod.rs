//! The command line: one file per subcommand, thin glue over the layers below. Errors
//! become exit codes in one place, [`exit_code`].

pub mod args;
mod backfill;
mod cancel;
mod check;
mod check_host;
mod completions;
pub use completions::script as completion_script;
mod daemon;
mod history;
mod import;
mod logs;
mod next;
mod output;
mod pause;
mod progress;
mod run;
mod runs;
mod serve;
mod settings_args;
mod show;
mod signals;
mod status;
mod store_wait;
mod worker;

use std::path::Path;

use crate::schedule::{self, Diagnostic, Schedule};
use crate::settings::{self, Settings};
use crate::store::StoreError;

pub use args::Cli;
use args::Command;

/// An error that decides the exit code. Anything else is exit 1.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// Bad usage or input: exit 2.
    #[error("{0}")]
    Usage(String),
    /// No schedule file where the settings say: exit 2. Commands that can do with the
    /// schedule the daemons published try that first.
    #[error("{0}")]
    NoSchedule(String),
    /// A file that does not validate: exit 2, one line per problem.
    #[error("{}", render(.0))]
    Invalid(Vec<Diagnostic>),
    /// The thing asked about failed: exit 1.
    #[error("{0}")]
    Failed(String),
    /// The exit code of the job `run --wait` waited for, passed on as cronq's own; the
    /// reason was printed as it happened.
    #[error("the job exited with {0}")]
    Exit(u8),
    /// Stdout was closed under a listing (`cronq history | head`): the reader has what it
    /// wanted, so the command ends quietly with exit 0, as `cronq next` always did.
    #[error("stdout was closed")]
    ClosedPipe,
}

fn render(diagnostics: &[Diagnostic]) -> String {
    let lines: Vec<String> = diagnostics.iter().map(ToString::to_string).collect();
    lines.join("\n")
}

/// The documented exit code for an error: 1 failed, 2 usage or validation, 3 store
/// unreachable.
pub fn exit_code(error: &anyhow::Error) -> u8 {
    match error.downcast_ref::<CliError>() {
        Some(CliError::Usage(_) | CliError::NoSchedule(_) | CliError::Invalid(_)) => 2,
        Some(CliError::Failed(_)) => 1,
        Some(CliError::Exit(code)) => *code,
        Some(CliError::ClosedPipe) => 0,
        None if error.downcast_ref::<settings::SettingsError>().is_some() => 2,
        None => match error.downcast_ref::<StoreError>() {
            Some(StoreError::Unreachable { .. } | StoreError::NoStore { .. }) => 3,
            Some(StoreError::BadAddress(_)) => 2,
            _ => 1,
        },
    }
}

/// Prints an error on stderr: diagnostics one per line as `FILE:LINE:COL: message`,
/// anything else as one sentence after `cronq: `.
pub fn print_error(error: &anyhow::Error) {
    let diagnostics = match (error.downcast_ref(), error.downcast_ref()) {
        (Some(CliError::Invalid(diagnostics)), _) => diagnostics,
        (_, Some(settings::SettingsError::Invalid(diagnostics))) => diagnostics,
        (Some(CliError::Exit(_) | CliError::ClosedPipe), _) => return,
        _ => return output::note!("cronq: {}", plain_words(&error.to_string())),
    };
    output::note!("{}", render(diagnostics));
}

/// A message as one line in cronq's words: the OS's error numbers and the standard
/// library's phrasing dropped, line breaks (a server's multi-line answer) folded.
fn plain_words(message: &str) -> String {
    let mut text = message.replace("stream did not contain valid UTF-8", "it is not UTF-8 text");
    while let Some(at) = text.find(" (os error ") {
        match text[at..].find(')') {
            Some(end) => text.replace_range(at..at + end + 1, ""),
            None => break,
        }
    }
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Runs one command; output goes to stdout, problems to stderr.
pub fn run(cli: Cli) -> anyhow::Result<()> {
    if settings::password_in_args(std::env::args_os()) {
        tracing::warn!(
            "the store URL given with --store holds a password, which every user of this host \
             can read with `ps`; give it in CRONQ_STORE, or in the settings file with \
             `${{CRONQ_REDIS_PASSWORD}}` in its place"
        );
    }
    let env = |name: &str| std::env::var(name).ok();
    let settings_args = cli.settings_args();
    let cli = Cli {
        settings: settings_args,
        command: cli.command,
        from_env: Vec::new(),
    };
    match cli.command {
        Command::Import(args) => import::run(&args),
        Command::Next(args) => next::run(&args, &cli.settings, &env),
        Command::Check(args) => check::run(&args, &Loaded::read(&cli.settings, &env)?),
        Command::Daemon(args) => daemon::run(&args, Loaded::read(&cli.settings, &env)?),
        Command::Worker(args) => worker::run(&args, Loaded::read(&cli.settings, &env)?),
        Command::Serve(args) => serve::run(&args, &settings(&cli.settings, &env)?, &env),
        Command::Run(args) => run::run(&args, &cli.settings, &env),
        Command::Rerun(args) => run::rerun(&args, &cli.settings, &env),
        Command::Backfill(args) => backfill::run(&args, &cli.settings, &env),
        Command::Status(args) => status::run(&args, &cli.settings, &env),
        Command::History(args) => history::run(&args, &settings(&cli.settings, &env)?, &env),
        Command::Show(args) => show::run(&args, &settings(&cli.settings, &env)?, &env),
        Command::Logs(args) => logs::run(&args, &settings(&cli.settings, &env)?),
        Command::Cancel(args) => cancel::run(&args, &settings(&cli.settings, &env)?, &env),
        Command::Progress(args) => progress::run(&args, &env),
        Command::Pause(args) => pause::pause(&args, &cli.settings, &env),
        Command::Resume(args) => pause::resume(&args, &cli.settings, &env),
        Command::Completions(args) => completions::run(&args),
        Command::Complete(args) => completions::complete(&args, &cli.settings, &env),
    }
}

/// The settings in force, for the commands that need only the store.
fn settings(
    args: &args::SettingsArgs,
    env: &dyn Fn(&str) -> Option<String>,
) -> anyhow::Result<Settings> {
    Ok(Settings::resolve(args.overrides(), env)?)
}

/// The settings in force and the schedule they point at.
pub struct Loaded {
    pub settings: Settings,
    pub schedule: Schedule,
    /// The schedule file's name, as diagnostics print it.
    pub file: String,
    pub host_zone: chrono_tz::Tz,
}

impl Loaded {
    /// Resolves the settings and loads the schedule they point at.
    fn read(
        args: &args::SettingsArgs,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> anyhow::Result<Loaded> {
        Ok(Loaded::of(Settings::resolve(args.overrides(), env)?, env)?)
    }

    /// Loads the schedule that resolved settings point at. `NoSchedule` when its file is
    /// missing, which some commands get over with the schedule the daemons published.
    fn of(settings: Settings, env: &dyn Fn(&str) -> Option<String>) -> Result<Loaded, CliError> {
        let host_zone = settings::host_zone(env).map_err(CliError::Usage)?;
        let (path, source) = &settings.schedule;
        let text = read_schedule(path, source)?;
        let file = path.display().to_string();
        let schedule = schedule::load(&text, &file, host_zone).map_err(CliError::Invalid)?;
        Ok(Loaded {
            settings,
            schedule,
            file,
            host_zone,
        })
    }
}

fn read_schedule(path: &Path, source: &str) -> Result<String, CliError> {
    std::fs::read_to_string(path).map_err(|error| match error.kind() {
        std::io::ErrorKind::NotFound => CliError::NoSchedule(format!(
            "no schedule file: tried {} ({source}); name one with --schedule FILE, CRONQ_SCHEDULE or `schedule:` in config/cronq.yaml",
            path.display()
        )),
        _ => CliError::Usage(settings::unreadable_file(
            "schedule",
            path,
            &error,
            "crontab.yaml",
        )),
    })
}
