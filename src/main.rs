//! The `cronq` binary: parse the arguments, set up logging, run the command, and turn
//! an error into its documented exit code.

use std::io::{IsTerminal, Write};
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};

use cronq::cli::args::Command;
use cronq::cli::{self, Cli};
use cronq::settings::{LogFormat, Settings};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{self, FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;

fn main() -> ExitCode {
    cronq::memory::give_back_freed_memory();
    let cli = Cli::from_command_line().unwrap_or_else(|error| usage_error(error));
    // Only `daemon`, `worker` and `serve` take `--log-format`; the rest read CRONQ_LOG_FORMAT.
    let log_format = cli
        .settings_args()
        .log_format
        .or_else(|| {
            let value = std::env::var("CRONQ_LOG_FORMAT").ok()?;
            clap::ValueEnum::from_str(&value, true).ok()
        })
        .or_else(|| {
            // Else `log_format:` of the settings file. Settings it cannot read are left to
            // the command, which says why in its own words.
            let env = |name: &str| std::env::var(name).ok();
            let settings = Settings::resolve(cli.settings_args().overrides(), &env).ok()?;
            Some(settings.log_format)
        });
    init_logging(log_format.unwrap_or_default());
    // The long-lived processes leave the embedded store's file whole when they stop; a
    // short command need not (`leave_wal_on_close`).
    if !matches!(
        cli.command,
        Command::Daemon(_) | Command::Worker(_) | Command::Serve(_)
    ) {
        cronq::store::sqlite::leave_wal_on_close();
    }
    match cli::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            cli::print_error(&error);
            ExitCode::from(cli::exit_code(&error))
        }
    }
}

/// A command line clap refused: help and version as clap prints them, anything else as
/// one line in the form of every other cronq error, with the tip clap gives and where
/// to read more; exit 2.
fn usage_error(error: clap::Error) -> ! {
    use clap::error::ErrorKind;
    if matches!(
        error.kind(),
        ErrorKind::DisplayHelp
            | ErrorKind::DisplayVersion
            | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
    ) {
        error.exit();
    }
    let text = error.render().to_string();
    let mut lines = text.lines().take_while(|l| !l.starts_with("Usage:"));
    let first = lines.next().unwrap_or("invalid arguments");
    let mut message = first.strip_prefix("error: ").unwrap_or(first).to_string();
    let said = |l: &&str| !l.is_empty() && !l.starts_with("For more information");
    for line in lines.map(str::trim).filter(said) {
        match line.strip_prefix("tip: ") {
            Some(tip) => message.push_str(&format!(" ({tip})")),
            None => message.push_str(&format!(" {line}")),
        }
    }
    // The subcommand whose help to read: the first argument that names one.
    let names: Vec<String> = <Cli as clap::CommandFactory>::command()
        .get_subcommands()
        .map(|c| c.get_name().to_string())
        .collect();
    let help = match std::env::args().skip(1).find(|a| names.contains(a)) {
        Some(command) => format!("cronq {command} --help"),
        None => "cronq --help".to_string(),
    };
    let mut stderr = std::io::stderr().lock();
    let _ = writeln!(stderr, "cronq: {message}; see `{help}`");
    std::process::exit(2);
}

/// Logs go to stderr; `RUST_LOG` filters them (default: info). Text lines written to
/// the journal start with their priority, `<3>` for an error, and leave the time to it.
fn init_logging(format: LogFormat) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    // Colours only for a person at a terminal.
    let ansi = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    let logs = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(ansi)
        .with_writer(|| LogLines);
    match format {
        LogFormat::Text if cronq::systemd::stderr_is_journal() => logs
            .event_format(Prioritised(fmt::format().without_time()))
            .init(),
        LogFormat::Text => logs.init(),
        LogFormat::Json => logs.json().init(),
    }
}

/// A log line with its syslog priority in front, as the journal reads it.
struct Prioritised<F>(F);

impl<S, N, F> FormatEvent<S, N> for Prioritised<F>
where
    S: tracing::Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
    F: FormatEvent<S, N>,
{
    fn format_event(
        &self,
        context: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &tracing::Event<'_>,
    ) -> std::fmt::Result {
        let priority = cronq::systemd::priority(*event.metadata().level());
        write!(writer, "<{priority}>")?;
        self.0.format_event(context, writer, event)
    }
}

/// Log lines written to stderr but lost: the reader of the pipe went away
/// (`cronq daemon 2>&1 | tee log` with `tee` restarting).
static DROPPED_LINES: AtomicU64 = AtomicU64::new(0);

/// Stderr for logs. A line that cannot be written is dropped and counted, never a panic,
/// so a daemon whose log reader went away keeps firing; once writing works again, one
/// line says how many were lost.
struct LogLines;

impl Write for LogLines {
    fn write(&mut self, line: &[u8]) -> std::io::Result<usize> {
        let mut stderr = std::io::stderr().lock();
        let dropped = DROPPED_LINES.load(Ordering::Relaxed);
        if dropped > 0 {
            let note = format!("cronq: dropped {dropped} log lines that could not be written\n");
            if stderr.write_all(note.as_bytes()).is_ok() {
                DROPPED_LINES.fetch_sub(dropped, Ordering::Relaxed);
            }
        }
        if stderr.write_all(line).is_err() {
            DROPPED_LINES.fetch_add(1, Ordering::Relaxed);
        }
        Ok(line.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
