//! The command line, as clap structs. Each setting is also a `CRONQ_*` variable.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

use crate::settings::{self, Containment, Layer, LogFormat, Overrides, QueueWorkers};

/// A crontab that lives in git: a daemon fires jobs into queues, workers run them,
/// and every run is recorded.
#[derive(Debug, Parser)]
#[command(
    name = "cronq",
    version,
    propagate_version = true,
    max_term_width = 100
)]
#[command(
    after_help = "Exit codes: 0 ok, 1 the thing asked about failed, 2 usage or validation error, 3 store unreachable."
)]
pub struct Cli {
    #[command(flatten)]
    pub settings: SettingsArgs,
    #[command(subcommand)]
    pub command: Command,
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
    /// Run a job now; with --wait, stream its output and exit with its code
    #[command(
        long_about = "Run a job now: queue a run of it and print the run's id.\n\nWith --wait, stream its output as it is produced and exit with the job's exit code, or 1 when it has none (timed out, lost, cancelled). Ctrl-C detaches and says how to follow or cancel the run; with --cancel-on-interrupt it cancels the run instead, waits for it to end as `cronq cancel` does, and exits 130."
    )]
    Run(RunArgs),
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
    Completions(CompletionsArgs),
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// The job to run
    #[arg(value_name = "JOB")]
    pub job: String,
    /// Stream the output and exit with the job's exit code
    #[arg(long)]
    pub wait: bool,
    /// Add to the job's environment; repeat it
    #[arg(long = "env", value_name = "K=V")]
    pub env: Vec<String>,
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
    /// Arguments appended to the job's command (the job needs `allow_args: true`)
    #[arg(last = true, value_name = "ARGS")]
    pub args: Vec<String>,
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
    #[arg(long, value_name = "N", default_value_t = 20)]
    pub limit: usize,
    /// Print times in the host's time zone (TZ, else /etc/localtime) instead of UTC; --json stays UTC
    #[arg(long)]
    pub local: bool,
    /// Print one JSON document: {"runs": [...]}
    #[arg(long)]
    pub json: bool,
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
}

#[derive(Debug, Args)]
pub struct LogsArgs {
    #[arg(value_name = "RUN_ID")]
    pub run_id: String,
    /// Keep printing as the run writes, until it ends
    #[arg(long, short = 'f')]
    pub follow: bool,
}

#[derive(Debug, Args)]
pub struct CancelArgs {
    #[arg(value_name = "RUN_ID")]
    pub run_id: String,
    /// Return once the cancel is asked, without waiting for a running run to end
    #[arg(long)]
    pub no_wait: bool,
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
}

#[derive(Debug, Args)]
pub struct CompletionsArgs {
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
}

#[derive(Debug, Args)]
pub struct WorkerArgs {
    /// A queue to take runs from; repeat it, in priority order [default: the settings' workers, else every queue of the schedule]
    #[arg(long = "queue", value_name = "QUEUE")]
    pub queues: Vec<String>,
    /// Runs executed at once [default: 4]
    #[arg(long, value_name = "N")]
    pub concurrency: Option<usize>,
    /// Exit 3 when the store is unreachable at start, instead of waiting for it
    #[arg(long, env = "CRONQ_EXIT_IF_UNREACHABLE")]
    pub exit_if_unreachable: bool,
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Print one JSON document instead of a table
    #[arg(long)]
    pub json: bool,
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
    #[arg(long, short = 'n', value_name = "N", default_value_t = 5)]
    pub count: usize,
    /// Print one JSON document: {"fires": [...]}
    #[arg(long)]
    pub json: bool,
    /// Say after each instant what DST did to it, and when the day fields are OR-ed
    #[arg(long)]
    pub explain: bool,
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

/// The settings every command takes: flag, then `CRONQ_*` variable, then the settings
/// file, then the default.
#[derive(Debug, Args)]
#[command(next_help_heading = "Settings")]
pub struct SettingsArgs {
    /// The settings file [default: config/cronq.yaml when it exists]
    #[arg(
        long,
        env = "CRONQ_SETTINGS",
        value_name = "FILE",
        global = true,
        hide_env_values = true
    )]
    pub settings: Option<PathBuf>,
    /// The schedule file [default: `schedule:` in the settings, else ./crontab.yaml]
    #[arg(
        long,
        env = "CRONQ_SCHEDULE",
        value_name = "FILE",
        global = true,
        hide_env_values = true
    )]
    pub schedule: Option<PathBuf>,
    /// The store: sqlite:PATH, redis://[user:pass@]host:port/db or rediss://… [default: sqlite:STATE_DIR/cronq.db]
    #[arg(
        long,
        env = "CRONQ_STORE",
        value_name = "URL",
        global = true,
        hide_env_values = true
    )]
    pub store: Option<String>,
    /// Prefix of every Redis key, with a hash tag for Redis Cluster [default: {cronq}:]
    #[arg(
        long,
        env = "CRONQ_REDIS_PREFIX",
        value_name = "PREFIX",
        global = true,
        hide_env_values = true
    )]
    pub redis_prefix: Option<String>,
    /// Lock files and the embedded store [default: $XDG_STATE_HOME/cronq, /var/lib/cronq for root, ~/.local/state/cronq]
    #[arg(
        long,
        env = "CRONQ_STATE_DIR",
        value_name = "DIR",
        global = true,
        hide_env_values = true
    )]
    pub state_dir: Option<PathBuf>,
    /// Queues this host works and their concurrent runs, in priority order [default: every queue of the schedule, 4 each]
    #[arg(long, env = "CRONQ_WORKERS", value_name = "QUEUE=N,…", value_parser = parse_workers, global = true, hide_env_values = true)]
    pub workers: Option<WorkerList>,
    /// Log format
    #[arg(
        long,
        env = "CRONQ_LOG_FORMAT",
        value_name = "FORMAT",
        global = true,
        hide_env_values = true
    )]
    pub log_format: Option<LogFormat>,
    /// The lease on each run; a run whose worker stops renewing it is lost after this [default: 30s]
    #[arg(long, env = "CRONQ_LEASE", value_name = "DURATION", value_parser = parse_duration, global = true, hide_env_values = true)]
    pub lease: Option<Duration>,
    /// What running jobs get to finish after SIGTERM before they are killed [default: 30s]
    #[arg(long, env = "CRONQ_STOP_GRACE", value_name = "DURATION", value_parser = parse_duration, global = true, hide_env_values = true)]
    pub stop_grace: Option<Duration>,
    /// How every process of a run is found and killed: a cgroup per run, or its tree tracked through the worker [default: auto, a cgroup where the host gives one]
    #[arg(
        long,
        env = "CRONQ_CONTAINMENT",
        value_name = "HOW",
        global = true,
        hide_env_values = true
    )]
    pub containment: Option<Containment>,
    /// Reserved for Prometheus metrics; nothing is served yet, so this is accepted and ignored
    #[arg(
        long,
        env = "CRONQ_METRICS_ADDR",
        value_name = "ADDR",
        global = true,
        hide_env_values = true
    )]
    pub metrics_addr: Option<SocketAddr>,
}

/// The value of `--workers`, one argument holding every queue.
#[derive(Clone, Debug)]
pub struct WorkerList(pub Vec<QueueWorkers>);

fn parse_duration(text: &str) -> Result<Duration, String> {
    humantime::parse_duration(text)
        .map_err(|e| format!("{e}; expected a duration such as 30s or 2m"))
}

fn parse_workers(text: &str) -> Result<WorkerList, String> {
    settings::parse_workers(text).map(WorkerList)
}

impl SettingsArgs {
    pub fn overrides(&self) -> Overrides {
        Overrides {
            settings: self.settings.clone(),
            layer: Layer {
                schedule: self.schedule.clone(),
                store: self.store.clone(),
                redis_prefix: self.redis_prefix.clone(),
                state_dir: self.state_dir.clone(),
                workers: self.workers.clone().map(|list| list.0),
                log_format: self.log_format,
                metrics_addr: self.metrics_addr,
                lease: self.lease,
                stop_grace: self.stop_grace,
                containment: self.containment,
            },
        }
    }
}
