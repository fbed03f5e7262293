//! The command line, as clap structs. Each setting is also a `CRONQ_*` variable.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

pub use super::settings_args::{Apply, SettingsArgs, WorkerList};
use super::settings_args::{
    HostSettings, Http, Lease, Located, Logging, ScheduleFile, SettingsFile, StoreOnly, Workers,
};

/// A crontab that lives in git: a daemon fires jobs into queues, workers run them,
/// and every run is recorded.
#[derive(Debug, Parser)]
#[command(
    name = "cronq",
    version = env!("CRONQ_VERSION"),
    propagate_version = true,
    max_term_width = 100
)]
#[command(
    after_help = "Exit codes: 0 ok, 1 the thing asked about failed, 2 usage or validation error, 3 store unreachable."
)]
pub struct Cli {
    /// Settings flags written before the subcommand, as earlier versions took them; the
    /// subcommand's own flags win.
    #[command(flatten)]
    pub settings: SettingsArgs,
    #[command(subcommand)]
    pub command: Command,
    /// The subcommand's settings that came from their `CRONQ_*` variable, not a flag:
    /// a flag before the subcommand wins over those.
    #[arg(skip)]
    pub from_env: Vec<String>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Fire the schedule's jobs into their queues, and run them with built-in workers
    #[command(
        long_about = "Fire the schedule's jobs into their queues at their instants, and run them with built-in workers: one process is a whole single-host install.\n\nThe workers serve the queues of `workers:` in the settings, or with no settings every queue of the schedule, 4 runs at once each. Instants missed while no daemon ran follow each job's catch_up. SIGHUP or a change to the schedule file reloads it; a file that does not validate is refused and the running schedule stays. SIGTERM stops firing and lets running jobs finish within --stop-grace."
    )]
    Daemon(DaemonArgs),
    /// Take runs from queues and execute them
    #[command(
        long_about = "Take runs from queues and execute them as child processes, with the command of the job in this host's copy of the schedule.\n\nSIGTERM stops taking runs and lets running ones finish within --stop-grace, then kills them."
    )]
    Worker(WorkerArgs),
    /// Serve the HTTP API alone, firing and running nothing
    #[command(
        long_about = "Serve the HTTP API on --http ADDR (CRONQ_HTTP_ADDR, `http_addr:`), firing and running nothing, for a host that only answers requests; `cronq daemon` serves the same beside its work when an address is set.\n\nWithout api_tokens in the settings the API is read-only and listens on a loopback address only. SIGTERM stops it once the requests under way have finished."
    )]
    Serve(ServeArgs),
    /// Run a job now; with --wait, stream its output and exit with its code
    #[command(
        long_about = "Run a job now: queue a run of it and print the run's id.\n\nWith --wait, stream its output as it is produced and exit with the job's exit code, or 1 when it has none (timed out, lost, cancelled). Ctrl-C detaches and says how to follow or cancel the run; with --cancel-on-interrupt it cancels the run instead, waits for it to end as `cronq cancel` does, and exits 130."
    )]
    Run(RunArgs),
    /// Run an earlier run's job again, with the same args and env
    #[command(
        long_about = "Queue a new run of an earlier run's job, with the same args and env, and print its id: trigger `rerun`, linked to the earlier run (`show` names it). The args and env are checked against the job as the schedule has it now, and the job's concurrency applies as to `cronq run`.\n\nWith --wait, stream its output and exit with the job's exit code, as `cronq run --wait` does."
    )]
    Rerun(RerunArgs),
    /// Queue a run for each past instant of a job in a time range that has none
    #[command(
        long_about = "Queue one run for each instant of a job's schedule from --from to --to (both included), as trigger `backfill` with that instant as its scheduled_for, and skip each instant that already has a run: an instant is claimed as a fire claims it, so a backfill run twice, or beside a live daemon, never doubles a run.\n\nThe runs wait for each other when the job's concurrency is forbid, replace or queue (they never overlap, nor cancel one another), and run side by side under allow. --to may not be in the future, and --from not older than the job's keep.max_age, past which the store no longer knows what ran. --dry-run prints each instant and whether it already ran, and queues nothing."
    )]
    Backfill(BackfillArgs),
    /// What runs now, with time left; what is queued; the workers; the next fires
    Status(StatusArgs),
    /// Past and current runs, newest first
    History(HistoryArgs),
    /// Everything about one run, with the tail of its output
    Show(ShowArgs),
    /// The output of a run; --follow keeps printing until it ends
    Logs(LogsArgs),
    /// Cancel a queued run, or stop a running one and wait for it to end
    #[command(
        long_about = "Cancel a queued run: it leaves its queue, recorded cancelled.\n\nA running run is stopped by its worker (SIGTERM to its process group, SIGKILL after the job's kill_grace). cancel waits until it has ended, up to the job's kill_grace plus 5 s, and says how it ended: exit 0 when it ended cancelled, 1 when it ended otherwise first or still runs at the deadline. --no-wait returns once the cancel is asked."
    )]
    Cancel(CancelArgs),
    /// From inside a job: report its progress (0-100) and a message
    Progress(ProgressArgs),
    /// Pause a job, or every job, until resumed or for a while
    #[command(
        long_about = "Pause a job, or every job with --all (a maintenance window): it fires nothing until resumed, or until --until / for --for. The pause is kept in the store, so a deploy, a reload or a restart does not undo it, and every daemon on the store honours it within about a second.\n\nThe instants it holds back are recorded skipped, `paused: REASON (by cli:USER)`, the first 100 of each pause. Runs already queued or running go on; `cronq run` still runs the job."
    )]
    Pause(PauseArgs),
    /// Resume a paused job, or end a pause of every job
    #[command(
        long_about = "Resume a paused job: it fires again from its next instant; the instants of the pause are not caught up.\n\n--all ends the pause of every job; jobs paused on their own stay paused, and are named."
    )]
    Resume(ResumeArgs),
    /// Validate the schedule and list each job with its next fire
    #[command(
        long_about = "Validate the schedule and list each job: name, schedule, zone, queue and next fire.\n\nEvery problem is printed as FILE:LINE:COL: message, all of them in one pass; the exit code is then 2."
    )]
    Check(CheckArgs),
    /// Print Prometheus alerting rules for the schedule
    #[command(
        long_about = "Print Prometheus alerting rules (a rules file, YAML) for the schedule, over the families cronq serves at /metrics: a job that has not succeeded within its interval plus --grace, a job whose last --failures runs failed, a queue whose oldest due run has waited over --queue-wait, and no live daemon.\n\nEach job's interval is the longest gap between its next instants, so write the file again when the schedule changes. Name it in Prometheus's rule_files."
    )]
    Rules(RulesArgs),
    /// Print the next fire instants of a cron expression or of a job
    #[command(
        long_about = "Print the next fire instants of a cron expression or of a job of the schedule, one RFC 3339 instant per line, with the zone's offset at that instant.\n\nDST follows Debian's cron: a fixed-time job in a spring-forward gap fires once right after the gap, and once on the first pass of a repeated hour; a job whose minute or hour starts with `*` fires at every real matching instant."
    )]
    Next(NextArgs),
    /// Convert a crontab into schedule YAML on stdout
    #[command(
        long_about = "Convert a crontab into schedule YAML on stdout.\n\nComments above a line become its description; CRON_TZ becomes the timezone; other variables go into env; MAILTO becomes an on_failure mail; `%` in a command becomes its standard input. A line that cannot be converted is reported on stderr with its line number, and the exit code is then 2."
    )]
    Import(ImportArgs),
    /// Print a shell completion script: bash, zsh, fish, elvish or powershell
    #[command(
        long_about = "Print a shell completion script: bash, zsh, fish, elvish or powershell.\n\nThe bash, zsh and fish scripts also complete job names (run, backfill, next --job, history --job, show, logs) from the schedule file, else the schedule the daemons published, and recent run ids (show, logs, cancel, rerun) from the store, with the settings flags on the line being completed."
    )]
    Completions(CompletionsArgs),
    /// What the completion scripts ask: job names or recent run ids, one per line
    #[command(hide = true)]
    Complete(CompleteArgs),
}

#[derive(Debug, Args)]
pub struct CompleteArgs {
    /// What to list
    #[arg(value_name = "WHAT")]
    pub what: CompleteWhat,
    #[command(flatten)]
    pub located: Located,
}

/// What `cronq complete` lists.
#[derive(Clone, Copy, Debug, clap::ValueEnum)]
pub enum CompleteWhat {
    /// The jobs of the schedule
    Jobs,
    /// The ids of recent runs, newest first
    Runs,
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// The job to run
    #[arg(value_name = "JOB")]
    pub job: String,
    /// Add to the job's environment; repeat it
    #[arg(long = "env", value_name = "K=V")]
    pub env: Vec<String>,
    #[command(flatten)]
    pub follow: Follow,
    /// Arguments appended to the job's command (the job needs `allow_args: true`)
    #[arg(last = true, value_name = "ARGS")]
    pub args: Vec<String>,
    #[command(flatten)]
    pub located: Located,
}

#[derive(Debug, Args)]
pub struct RerunArgs {
    /// The run to repeat: its id, or a unique start of it (6 or more characters)
    #[arg(value_name = "RUN_ID")]
    pub run: String,
    #[command(flatten)]
    pub follow: Follow,
    #[command(flatten)]
    pub located: Located,
}

/// How `run` and `rerun` queue a run and follow it.
#[derive(Debug, Args)]
pub struct Follow {
    /// Stream the output and exit with the job's exit code
    #[arg(long)]
    pub wait: bool,
    /// With --wait: Ctrl-C cancels the run instead of detaching
    #[arg(long, requires = "wait")]
    pub cancel_on_interrupt: bool,
    /// Start it even if `concurrency: forbid` would skip it (another run is running or
    /// queued); the run is recorded as forced
    #[arg(long)]
    pub force: bool,
    /// Print {"id": …} instead of the id alone
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct BackfillArgs {
    /// The job to backfill
    #[arg(value_name = "JOB")]
    pub job: String,
    /// The first instant of the range: RFC 3339, such as 2026-12-01T00:00:00Z
    #[arg(long, value_name = "TIME", value_parser = parse_instant)]
    pub from: chrono::DateTime<chrono::Utc>,
    /// The last instant of the range, included; not in the future
    #[arg(long, value_name = "TIME", value_parser = parse_instant)]
    pub to: chrono::DateTime<chrono::Utc>,
    /// Print each instant and whether it already has a run; queue nothing
    #[arg(long)]
    pub dry_run: bool,
    /// Refuse a range with more instants than this
    #[arg(long, value_name = "N", default_value_t = 1000, value_parser = parse_count)]
    pub max: usize,
    /// Print one JSON document
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub located: Located,
}

#[derive(Debug, Args)]
pub struct StatusArgs {
    /// Print only the problems (stalled or failing jobs, a schedule file the daemons do not
    /// run); exit 1 when there is one
    #[arg(long)]
    pub check: bool,
    /// How long past an expected instant a job with no fire counts as stalled
    #[arg(long, value_name = "DURATION", default_value = "60s", value_parser = parse_duration)]
    pub grace: Duration,
    /// Print times in the host's time zone (TZ, else /etc/localtime) instead of UTC; --json stays UTC
    #[arg(long)]
    pub local: bool,
    /// Print one JSON document
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub located: Located,
    #[command(flatten)]
    pub lease: Lease,
}

#[derive(Debug, Args)]
pub struct HistoryArgs {
    /// Only this job's runs
    #[arg(long, value_name = "JOB")]
    pub job: Option<String>,
    /// Only runs in this status: queued, running, succeeded, failed, timed_out, cancelled, lost, skipped
    #[arg(long, value_name = "STATUS")]
    pub status: Option<String>,
    /// Only runs that failed, timed out or were lost
    #[arg(long, conflicts_with = "status")]
    pub failed: bool,
    /// Only runs queued within this long, e.g. 2d or 90m
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub since: Option<Duration>,
    /// At most this many runs
    #[arg(long, value_name = "N", default_value_t = 20, value_parser = parse_count)]
    pub limit: usize,
    /// Print times in the host's time zone (TZ, else /etc/localtime) instead of UTC; --json stays UTC
    #[arg(long)]
    pub local: bool,
    /// Print one JSON document: {"runs": [...]}
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub located: StoreOnly,
}

#[derive(Debug, Args)]
pub struct ShowArgs {
    /// The run's id, as `run` and `history` print it
    #[arg(value_name = "RUN_ID")]
    pub run_id: String,
    /// Print times in the host's time zone (TZ, else /etc/localtime) instead of UTC; --json stays UTC
    #[arg(long)]
    pub local: bool,
    /// Print one JSON document: the run, with "output"
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub located: StoreOnly,
}

#[derive(Debug, Args)]
pub struct LogsArgs {
    /// The run's id, as `run` and `history` print it; a unique end of it will do
    #[arg(value_name = "RUN_ID")]
    pub run_id: String,
    /// Keep printing as the run writes, until it ends
    #[arg(long, short = 'f')]
    pub follow: bool,
    #[command(flatten)]
    pub located: StoreOnly,
}

#[derive(Debug, Args)]
pub struct CancelArgs {
    /// The run's id, as `run` and `history` print it; a unique end of it will do
    #[arg(value_name = "RUN_ID")]
    pub run_id: String,
    /// Return once the cancel is asked, without waiting for a running run to end
    #[arg(long)]
    pub no_wait: bool,
    #[command(flatten)]
    pub located: Located,
}

#[derive(Debug, Args)]
pub struct ProgressArgs {
    /// How far the job is, 0 to 100: 40, 12.5 or 50% (rounded)
    #[arg(value_name = "PERCENT", allow_hyphen_values = true)]
    pub percent: String,
    /// What it is doing now
    #[arg(value_name = "MESSAGE")]
    pub message: Option<String>,
}

#[derive(Debug, Args)]
#[command(group = clap::ArgGroup::new("what").required(true).args(["job", "all"]))]
pub struct PauseArgs {
    /// The job to pause
    #[arg(value_name = "JOB")]
    pub job: Option<String>,
    /// Pause every job, those a later deploy adds too
    #[arg(long, conflicts_with = "job")]
    pub all: bool,
    /// Why, shown by status and in each skipped record
    #[arg(long, value_name = "TEXT")]
    pub reason: Option<String>,
    /// Resume by itself at this instant, e.g. 2026-12-24T08:00:00Z
    #[arg(long, value_name = "RFC3339")]
    pub until: Option<String>,
    /// Resume by itself after this long, e.g. 2h
    #[arg(long = "for", value_name = "DURATION", value_parser = parse_duration)]
    pub for_: Option<Duration>,
    #[command(flatten)]
    pub located: Located,
}

#[derive(Debug, Args)]
#[command(group = clap::ArgGroup::new("what").required(true).args(["job", "all"]))]
pub struct ResumeArgs {
    /// The job to resume
    #[arg(value_name = "JOB")]
    pub job: Option<String>,
    /// End the pause of every job
    #[arg(long, conflicts_with = "job")]
    pub all: bool,
    #[command(flatten)]
    pub located: Located,
}

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell to complete for
    #[arg(value_name = "SHELL")]
    pub shell: clap_complete::Shell,
}

#[derive(Debug, Args)]
pub struct DaemonArgs {
    /// Only fire; leave running the jobs to `cronq worker` processes
    #[arg(long)]
    pub no_workers: bool,
    /// Exit 3 when the store is unreachable at start, instead of waiting for it
    #[arg(long, env = "CRONQ_EXIT_IF_UNREACHABLE")]
    pub exit_if_unreachable: bool,
    #[command(flatten)]
    pub host: HostSettings,
    #[command(flatten)]
    pub http: Http,
}

#[derive(Debug, Args)]
pub struct WorkerArgs {
    /// A queue to take runs from; repeat it, in priority order [default: the settings' workers, else every queue of the schedule]
    #[arg(long = "queue", value_name = "QUEUE")]
    pub queues: Vec<String>,
    /// Runs executed at once [default: 4]
    #[arg(long, value_name = "N", value_parser = parse_count)]
    pub concurrency: Option<usize>,
    /// Exit 3 when the store is unreachable at start, instead of waiting for it
    #[arg(long, env = "CRONQ_EXIT_IF_UNREACHABLE")]
    pub exit_if_unreachable: bool,
    #[command(flatten)]
    pub host: HostSettings,
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Exit 3 when the store is unreachable at start, instead of waiting for it
    #[arg(long, env = "CRONQ_EXIT_IF_UNREACHABLE")]
    pub exit_if_unreachable: bool,
    #[command(flatten)]
    pub located: Located,
    #[command(flatten)]
    pub lease: Lease,
    #[command(flatten)]
    pub http: Http,
    #[command(flatten)]
    pub logging: Logging,
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Print one JSON document instead of a table
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub file: SettingsFile,
    #[command(flatten)]
    pub schedule: ScheduleFile,
    #[command(flatten)]
    pub workers: Workers,
}

#[derive(Debug, Args)]
pub struct RulesArgs {
    /// How long past its interval a job may go without a success before it alerts
    #[arg(long, value_name = "DURATION", default_value = "5m", value_parser = parse_duration)]
    pub grace: Duration,
    /// Failures in a row, with no success among them, that make a job alert
    #[arg(long, value_name = "N", default_value_t = 3, value_parser = parse_failures)]
    pub failures: u32,
    /// How long a queue's oldest due run may wait to be taken before it alerts
    #[arg(long, value_name = "DURATION", default_value = "10m", value_parser = parse_duration)]
    pub queue_wait: Duration,
    /// What the failure rule of a job without a schedule (run only by hand) counts over
    #[arg(long, value_name = "DURATION", default_value = "1d", value_parser = parse_duration)]
    pub manual_window: Duration,
    /// How long the daemon and queue conditions hold before their alert fires
    #[arg(long = "for", value_name = "DURATION", default_value = "2m", value_parser = parse_duration)]
    pub hold: Duration,
    #[command(flatten)]
    pub file: SettingsFile,
    #[command(flatten)]
    pub schedule: ScheduleFile,
}

#[derive(Debug, Args)]
#[command(group = clap::ArgGroup::new("what").required(true).args(["expr", "job"]))]
pub struct NextArgs {
    /// A cron expression: 5 fields, 6 with seconds first, @daily and friends, @every 90s
    #[arg(value_name = "EXPR", allow_hyphen_values = true)]
    pub expr: Option<String>,
    /// A job of the schedule instead of an expression
    #[arg(long, value_name = "NAME")]
    pub job: Option<String>,
    /// The IANA time zone [default: the host's: TZ, else /etc/localtime, else UTC]
    #[arg(long, value_name = "ZONE", conflicts_with = "job")]
    pub tz: Option<String>,
    /// List instants strictly after this one [default: now]
    #[arg(long, value_name = "RFC3339")]
    pub after: Option<String>,
    /// How many instants to print
    #[arg(long, short = 'n', value_name = "N", default_value_t = 5, value_parser = parse_count)]
    pub count: usize,
    /// Print one JSON document: {"fires": [...]}
    #[arg(long)]
    pub json: bool,
    /// Say after each instant what DST did to it, and when the day fields are OR-ed
    #[arg(long)]
    pub explain: bool,
    #[command(flatten)]
    pub located: Located,
}

#[derive(Debug, Args)]
pub struct ImportArgs {
    /// The crontab to convert (`crontab -l > crontab.txt`, or /etc/crontab)
    #[arg(value_name = "CRONTAB")]
    pub crontab: PathBuf,
    /// The system format of /etc/crontab and /etc/cron.d: a user column before the command
    #[arg(long)]
    pub system: bool,
}

pub(super) fn parse_duration(text: &str) -> Result<Duration, String> {
    // humantime's own words list its units and its spellings; a user needs an example.
    humantime::parse_duration(text)
        .map_err(|_| "expected a number and a unit, such as 30s, 5m, 2h or 2d".to_string())
}

/// `rules --failures`: a whole number, 1 or more.
fn parse_failures(text: &str) -> Result<u32, String> {
    match text.parse() {
        Ok(0) | Err(_) => Err("expected a whole number of 1 or more, such as 3".to_string()),
        Ok(n) => Ok(n),
    }
}

/// An instant given on the command line: RFC 3339, with its offset.
fn parse_instant(text: &str) -> Result<chrono::DateTime<chrono::Utc>, String> {
    chrono::DateTime::parse_from_rfc3339(text)
        .map(|at| at.to_utc())
        .map_err(|_| {
            "expected an RFC 3339 instant (a date, a time and an offset), such as 2026-12-01T00:00:00Z"
                .to_string()
        })
}

/// A count given on the command line: a whole number, 0 or more.
fn parse_count(text: &str) -> Result<usize, String> {
    text.parse()
        .map_err(|_| "expected a whole number, such as 5".to_string())
}

impl Cli {
    /// Parses the process's arguments, noting which settings came from a variable.
    pub fn from_command_line() -> Result<Cli, clap::Error> {
        use clap::{CommandFactory, FromArgMatches};
        let matches = Cli::command().try_get_matches()?;
        let mut cli = Cli::from_arg_matches(&matches)?;
        if let Some((_, sub)) = matches.subcommand() {
            cli.from_env = sub
                .ids()
                .filter(|id| {
                    sub.value_source(id.as_str()) == Some(clap::parser::ValueSource::EnvVariable)
                })
                .map(|id| id.to_string())
                .collect();
        }
        Ok(cli)
    }

    /// The settings flags in force: flag > variable, and of two flags, the one after
    /// the subcommand.
    pub fn settings_args(&self) -> SettingsArgs {
        let mut given = SettingsArgs::default();
        self.command.apply(&mut given);
        let early = &self.settings;
        let from_env = |id: &str| self.from_env.iter().any(|e| e == id);
        macro_rules! pick {
            ($($field:ident),*) => {
                SettingsArgs {
                    $($field: match early.$field.is_some() && from_env(stringify!($field)) {
                        true => early.$field.clone(),
                        false => given.$field.clone().or_else(|| early.$field.clone()),
                    },)*
                }
            };
        }
        pick!(
            settings,
            schedule,
            store,
            redis_prefix,
            state_dir,
            workers,
            log_format,
            lease,
            stop_grace,
            containment,
            metrics_addr,
            http,
            public_url
        )
    }
}

impl Apply for Command {
    fn apply(&self, to: &mut SettingsArgs) {
        match self {
            Command::Daemon(args) => {
                args.host.apply(to);
                args.http.apply(to);
            }
            Command::Worker(args) => args.host.apply(to),
            Command::Serve(args) => {
                args.located.apply(to);
                args.lease.apply(to);
                args.http.apply(to);
                args.logging.apply(to);
            }
            Command::Run(args) => args.located.apply(to),
            Command::Rerun(args) => args.located.apply(to),
            Command::Backfill(args) => args.located.apply(to),
            Command::Status(args) => {
                args.located.apply(to);
                args.lease.apply(to);
            }
            Command::History(args) => args.located.apply(to),
            Command::Show(args) => args.located.apply(to),
            Command::Logs(args) => args.located.apply(to),
            Command::Cancel(args) => args.located.apply(to),
            Command::Pause(args) => args.located.apply(to),
            Command::Resume(args) => args.located.apply(to),
            Command::Check(args) => {
                args.file.apply(to);
                args.schedule.apply(to);
                args.workers.apply(to);
            }
            Command::Rules(args) => {
                args.file.apply(to);
                args.schedule.apply(to);
            }
            Command::Next(args) => args.located.apply(to),
            Command::Complete(args) => args.located.apply(to),
            Command::Progress(_) | Command::Import(_) | Command::Completions(_) => {}
        }
    }
}
