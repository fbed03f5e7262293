//! The settings flags, in groups, so that each subcommand carries only those it uses
//! and its `--help` lists only those: `next` takes no `--lease`, `history` no
//! `--containment`. Each flag is also a `CRONQ_*` variable, read by the commands that
//! carry the flag. [`SettingsArgs`] is every setting at once: what the commands get,
//! and, hidden, the flags written before the subcommand (`cronq --store URL status`),
//! which a flag after it overrides.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::Args;

use super::args::parse_duration;
use crate::settings::{self, Containment, Layer, LogFormat, Overrides, QueueWorkers};

/// `--settings`: every command that reads the settings file.
#[derive(Debug, Args)]
#[command(next_help_heading = "Settings")]
pub struct SettingsFile {
    /// The settings file [default: config/cronq.yaml when it exists]
    #[arg(
        long,
        env = "CRONQ_SETTINGS",
        value_name = "FILE",
        hide_env_values = true
    )]
    pub settings: Option<PathBuf>,
}

/// `--schedule`: the commands that read the schedule file.
#[derive(Debug, Args)]
#[command(next_help_heading = "Settings")]
pub struct ScheduleFile {
    /// The schedule file [default: `schedule:` in the settings, else ./crontab.yaml]
    #[arg(
        long,
        env = "CRONQ_SCHEDULE",
        value_name = "FILE",
        hide_env_values = true
    )]
    pub schedule: Option<PathBuf>,
}

/// Where the store is: the commands that read or write it.
#[derive(Debug, Args)]
#[command(next_help_heading = "Settings")]
pub struct StoreLocation {
    /// The store: sqlite:PATH, redis://[user:pass@]host:port/db or rediss://… [default: sqlite:STATE_DIR/cronq.db]
    #[arg(long, env = "CRONQ_STORE", value_name = "URL", hide_env_values = true)]
    pub store: Option<String>,
    /// Prefix of every Redis key, with a hash tag for Redis Cluster [default: {cronq}:]
    #[arg(
        long,
        env = "CRONQ_REDIS_PREFIX",
        value_name = "PREFIX",
        hide_env_values = true
    )]
    pub redis_prefix: Option<String>,
    /// Lock files and the embedded store [default: $XDG_STATE_HOME/cronq, /var/lib/cronq for root, ~/.local/state/cronq]
    #[arg(
        long,
        env = "CRONQ_STATE_DIR",
        value_name = "DIR",
        hide_env_values = true
    )]
    pub state_dir: Option<PathBuf>,
}

/// `--workers`: the processes that run workers, and `check`, which warns about a queue
/// no worker serves.
#[derive(Debug, Args)]
#[command(next_help_heading = "Settings")]
pub struct Workers {
    /// Queues this host works and their concurrent runs, in priority order [default: every queue of the schedule, 4 each]
    #[arg(long, env = "CRONQ_WORKERS", value_name = "QUEUE=N,…", value_parser = parse_workers, hide_env_values = true)]
    pub workers: Option<WorkerList>,
}

/// `--lease`: the workers, and `status`, which marks a worker stale after it.
#[derive(Debug, Args)]
#[command(next_help_heading = "Settings")]
pub struct Lease {
    /// The lease on each run; a run whose worker stops renewing it is lost after this [default: 30s]
    #[arg(long, env = "CRONQ_LEASE", value_name = "DURATION", value_parser = parse_duration, hide_env_values = true)]
    pub lease: Option<Duration>,
}

/// How a worker runs and stops jobs, and what a long-running process logs.
#[derive(Debug, Args)]
#[command(next_help_heading = "Settings")]
pub struct Running {
    /// What running jobs get to finish after SIGTERM before they are killed [default: 30s]
    #[arg(long, env = "CRONQ_STOP_GRACE", value_name = "DURATION", value_parser = parse_duration, hide_env_values = true)]
    pub stop_grace: Option<Duration>,
    /// How every process of a run is found and killed: a cgroup per run, or its tree tracked through the worker [default: auto, a cgroup where the host gives one]
    #[arg(
        long,
        env = "CRONQ_CONTAINMENT",
        value_name = "HOW",
        hide_env_values = true
    )]
    pub containment: Option<Containment>,
    /// Log format
    #[arg(
        long,
        env = "CRONQ_LOG_FORMAT",
        value_name = "FORMAT",
        hide_env_values = true
    )]
    pub log_format: Option<LogFormat>,
    /// Serve Prometheus metrics at /metrics here, without a token (daemon and worker); the HTTP API serves them too [default: off]
    #[arg(
        long,
        env = "CRONQ_METRICS_ADDR",
        value_name = "ADDR",
        hide_env_values = true
    )]
    pub metrics_addr: Option<SocketAddr>,
}

/// `--http`: the processes that serve the HTTP API, `daemon` and `serve`.
#[derive(Debug, Args)]
#[command(next_help_heading = "Settings")]
pub struct Http {
    /// Serve the HTTP API here; without api_tokens only a loopback address [default: off]
    #[arg(
        long,
        env = "CRONQ_HTTP_ADDR",
        value_name = "ADDR",
        hide_env_values = true
    )]
    pub http: Option<SocketAddr>,
    /// The dashboard's address as users reach it: notifications link to a run's page under it [default: no link]
    #[arg(
        long,
        env = "CRONQ_PUBLIC_URL",
        value_name = "URL",
        hide_env_values = true
    )]
    pub public_url: Option<String>,
}

/// `--log-format` alone: `serve`, a long-running process that runs no jobs.
#[derive(Debug, Args)]
#[command(next_help_heading = "Settings")]
pub struct Logging {
    /// Log format
    #[arg(
        long,
        env = "CRONQ_LOG_FORMAT",
        value_name = "FORMAT",
        hide_env_values = true
    )]
    pub log_format: Option<LogFormat>,
}

/// The settings of the commands that read the schedule and the store.
#[derive(Debug, Args)]
pub struct Located {
    #[command(flatten)]
    pub file: SettingsFile,
    #[command(flatten)]
    pub schedule: ScheduleFile,
    #[command(flatten)]
    pub store: StoreLocation,
}

/// The settings of the commands that read only the store.
#[derive(Debug, Args)]
pub struct StoreOnly {
    #[command(flatten)]
    pub file: SettingsFile,
    #[command(flatten)]
    pub store: StoreLocation,
}

/// Every setting: `daemon` and `worker`.
#[derive(Debug, Args)]
pub struct HostSettings {
    #[command(flatten)]
    pub located: Located,
    #[command(flatten)]
    pub workers: Workers,
    #[command(flatten)]
    pub lease: Lease,
    #[command(flatten)]
    pub running: Running,
}

/// A group of settings flags, written into the settings a command runs with.
pub trait Apply {
    /// Sets in `to` each setting this group was given.
    fn apply(&self, to: &mut SettingsArgs);
}

/// `to = from` when `from` was given.
fn set<T: Clone>(to: &mut Option<T>, from: &Option<T>) {
    if from.is_some() {
        to.clone_from(from);
    }
}

impl Apply for SettingsFile {
    fn apply(&self, to: &mut SettingsArgs) {
        set(&mut to.settings, &self.settings);
    }
}

impl Apply for ScheduleFile {
    fn apply(&self, to: &mut SettingsArgs) {
        set(&mut to.schedule, &self.schedule);
    }
}

impl Apply for StoreLocation {
    fn apply(&self, to: &mut SettingsArgs) {
        set(&mut to.store, &self.store);
        set(&mut to.redis_prefix, &self.redis_prefix);
        set(&mut to.state_dir, &self.state_dir);
    }
}

impl Apply for Workers {
    fn apply(&self, to: &mut SettingsArgs) {
        set(&mut to.workers, &self.workers);
    }
}

impl Apply for Lease {
    fn apply(&self, to: &mut SettingsArgs) {
        set(&mut to.lease, &self.lease);
    }
}

impl Apply for Running {
    fn apply(&self, to: &mut SettingsArgs) {
        set(&mut to.stop_grace, &self.stop_grace);
        set(&mut to.containment, &self.containment);
        set(&mut to.log_format, &self.log_format);
        set(&mut to.metrics_addr, &self.metrics_addr);
    }
}

impl Apply for Http {
    fn apply(&self, to: &mut SettingsArgs) {
        set(&mut to.http, &self.http);
        set(&mut to.public_url, &self.public_url);
    }
}

impl Apply for Logging {
    fn apply(&self, to: &mut SettingsArgs) {
        set(&mut to.log_format, &self.log_format);
    }
}

impl Apply for Located {
    fn apply(&self, to: &mut SettingsArgs) {
        self.file.apply(to);
        self.schedule.apply(to);
        self.store.apply(to);
    }
}

impl Apply for StoreOnly {
    fn apply(&self, to: &mut SettingsArgs) {
        self.file.apply(to);
        self.store.apply(to);
    }
}

impl Apply for HostSettings {
    fn apply(&self, to: &mut SettingsArgs) {
        self.located.apply(to);
        self.workers.apply(to);
        self.lease.apply(to);
        self.running.apply(to);
    }
}

/// Every setting, each as given or `None`. As flags before the subcommand they are
/// hidden and read no variable: the subcommand's own flags say what it uses, and read
/// the variables.
#[derive(Clone, Debug, Default, Args)]
pub struct SettingsArgs {
    #[arg(long, value_name = "FILE", hide = true)]
    pub settings: Option<PathBuf>,
    #[arg(long, value_name = "FILE", hide = true)]
    pub schedule: Option<PathBuf>,
    #[arg(long, value_name = "URL", hide = true)]
    pub store: Option<String>,
    #[arg(long, value_name = "PREFIX", hide = true)]
    pub redis_prefix: Option<String>,
    #[arg(long, value_name = "DIR", hide = true)]
    pub state_dir: Option<PathBuf>,
    #[arg(long, value_name = "QUEUE=N,…", value_parser = parse_workers, hide = true)]
    pub workers: Option<WorkerList>,
    #[arg(long, value_name = "FORMAT", hide = true)]
    pub log_format: Option<LogFormat>,
    #[arg(long, value_name = "DURATION", value_parser = parse_duration, hide = true)]
    pub lease: Option<Duration>,
    #[arg(long, value_name = "DURATION", value_parser = parse_duration, hide = true)]
    pub stop_grace: Option<Duration>,
    #[arg(long, value_name = "HOW", hide = true)]
    pub containment: Option<Containment>,
    #[arg(long, value_name = "ADDR", hide = true)]
    pub metrics_addr: Option<SocketAddr>,
    #[arg(long, value_name = "ADDR", hide = true)]
    pub http: Option<SocketAddr>,
    #[arg(long, value_name = "URL", hide = true)]
    pub public_url: Option<String>,
}

/// The value of `--workers`, one argument holding every queue.
#[derive(Clone, Debug)]
pub struct WorkerList(pub Vec<QueueWorkers>);

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
                http_addr: self.http,
                public_url: self.public_url.clone(),
                api_tokens: None,
                lease: self.lease,
                stop_grace: self.stop_grace,
                containment: self.containment,
            },
        }
    }
}
