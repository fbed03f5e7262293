//! The schedule's model: jobs and their settings, with cronq's defaults.

use std::collections::BTreeMap;
use std::ops::Deref;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use chrono_tz::Tz;

use super::node::Position;
use super::notify::NotifyTarget;
use crate::cron::Timing;

/// A whole schedule file, its jobs in file order.
#[derive(Clone, Debug)]
pub struct Schedule {
    pub jobs: Vec<Job>,
    /// FNV-1a of the file's text, as 16 hex digits: tells daemons that run different
    /// versions of the file apart.
    pub hash: String,
}

impl Schedule {
    pub fn job(&self, name: &str) -> Option<&Job> {
        self.jobs.iter().find(|job| job.name == name)
    }
}

/// One entry of `jobs:`: a command and when it runs.
///
/// What jobs usually write alike (their zone, queue and every setting from `defaults:`)
/// sits in [`JobSettings`], one copy shared by all the jobs that have the same, and reads
/// as the job's own fields: `job.queue`. So do schedules written alike: 100,000 jobs
/// take a few tens of megabytes.
#[derive(Clone, Debug)]
pub struct Job {
    pub name: String,
    /// Where the job's name stands in the file, for warnings about the job as a whole.
    pub at: Position,
    /// Where the keys that `check` looks at on this host were written.
    pub keys_at: KeysAt,
    /// `None`: the job runs only when triggered by hand.
    pub schedule: Option<Arc<JobSchedule>>,
    pub command: Command,
    pub description: Option<String>,
    /// A dead-man's-switch URL (healthchecks.io's protocol) each run pings.
    pub ping: Option<String>,
    /// The rest of the job's settings, shared with the jobs that have the same.
    pub settings: Arc<JobSettings>,
}

/// A job's settings that many jobs share: those `defaults:` may give, less the
/// description and the ping URL, which are each job's own.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct JobSettings {
    pub timezone: Tz,
    pub queue: String,
    pub timeout: Option<Duration>,
    /// Between SIGTERM and SIGKILL when the timeout strikes or the run is cancelled.
    pub kill_grace: Duration,
    pub retries: u32,
    pub concurrency: Concurrency,
    pub lock: Lock,
    pub catch_up: CatchUp,
    /// How late a missed instant may still start under `catch_up`.
    pub starting_deadline: Duration,
    /// The window of the fixed per-job offset; zero for none.
    pub jitter: Duration,
    pub env: BTreeMap<String, String>,
    pub workdir: Option<PathBuf>,
    pub user: Option<String>,
    pub allow_args: bool,
    /// The variables a run may bring (`cronq run JOB --env K=V`); none by default.
    pub allow_env: Vec<String>,
    pub keep: Keep,
    pub on_failure: Option<Command>,
    pub stderr: Stderr,
    /// Who hears of failures and recoveries; empty for no one.
    pub notify: Vec<NotifyTarget>,
    /// How often `failing` is repeated while the job stays failing; `None`: never.
    pub remind: Option<Duration>,
}

/// A job's shared settings read as its own fields.
impl Deref for Job {
    type Target = JobSettings;

    fn deref(&self) -> &JobSettings {
        &self.settings
    }
}

impl Job {
    /// The job's fixed offset within `jitter`: derived from its name, so the same on
    /// every host and after every restart.
    /// Whole seconds, unless the window is shorter than a second.
    pub fn jitter_offset(&self) -> Duration {
        let hash = fnv1a(self.name.as_bytes());
        match (self.jitter.as_secs(), self.jitter.as_millis() as u64) {
            (0, 0) => Duration::ZERO,
            (0, window_ms) => Duration::from_millis(hash % window_ms),
            (window_s, _) => Duration::from_secs(hash % window_s),
        }
    }

    /// The first fire strictly after `after`, jitter included; `None` for a job
    /// without instants (no schedule, or `@reboot`).
    pub fn next_fire(&self, after: DateTime<Utc>) -> Option<DateTime<Tz>> {
        let timing = &self.schedule.as_ref()?.timing;
        let offset = TimeDelta::from_std(self.jitter_offset()).ok()?;
        Some(timing.next_after(after - offset, self.timezone)? + offset)
    }
}

/// FNV-1a, 64 bits: a hash whose value is fixed by its definition, unlike std's
/// `DefaultHasher`, which may change between Rust releases.
pub fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
        (hash ^ u64::from(*byte)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// Where a job's `command`, `workdir`, `user` and `on_failure` keys stand: in the job,
/// or in `defaults:` when it gave them; the job's name when neither did.
#[derive(Clone, Copy, Debug)]
pub struct KeysAt {
    pub command: Position,
    pub workdir: Position,
    pub user: Position,
    pub on_failure: Position,
}

/// A `schedule:` value: the text as written and what it means.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JobSchedule {
    pub text: String,
    pub timing: Timing,
}

/// What a run executes.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Command {
    /// An argv, executed directly: no shell, no quoting surprises.
    Argv(Vec<String>),
    /// A string, run by `/bin/sh -c`.
    Shell(String),
}

/// What happens when a run is due while another run of the job is still running.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Concurrency {
    /// Skip the new run and record it as `skipped`.
    Forbid,
    /// Run both.
    Allow,
    /// Cancel the running one, then start the new one.
    Replace,
    /// Start the new one when the running one ends.
    Queue,
}

/// Where the overlap lock lives.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Lock {
    /// A file lock in the state dir: one host.
    Host,
    /// A lock in the store: every host that shares it.
    Cluster,
}

/// Where a run's stderr goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Stderr {
    /// A pipe of its own: the store keeps which stream each byte came from, but writes
    /// to both streams microseconds apart may be stored stream by stream.
    Separate,
    /// Into the stdout pipe, as cron's mail had it: one stream, in the exact order
    /// written, all of it recorded as stdout.
    Stdout,
}

/// What the daemon does with instants it missed while it was down.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CatchUp {
    None,
    Once,
    All,
}

/// How much history of a job to keep.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Keep {
    pub succeeded: u32,
    pub failed: u32,
    pub max_age: Duration,
}

pub const DEFAULT_QUEUE: &str = "default";
pub const DEFAULT_KILL_GRACE: Duration = Duration::from_secs(10);
pub const DEFAULT_STARTING_DEADLINE: Duration = Duration::from_secs(10 * 60);
pub const DEFAULT_KEEP: Keep = Keep {
    succeeded: 100,
    failed: 500,
    max_age: Duration::from_secs(30 * 24 * 3600),
};

impl Concurrency {
    pub const CHOICES: &[(&str, Concurrency)] = &[
        ("forbid", Concurrency::Forbid),
        ("allow", Concurrency::Allow),
        ("replace", Concurrency::Replace),
        ("queue", Concurrency::Queue),
    ];
}

impl Lock {
    pub const CHOICES: &[(&str, Lock)] = &[("host", Lock::Host), ("cluster", Lock::Cluster)];
}

impl Stderr {
    pub const CHOICES: &[(&str, Stderr)] =
        &[("separate", Stderr::Separate), ("stdout", Stderr::Stdout)];
}

impl CatchUp {
    pub const CHOICES: &[(&str, CatchUp)] = &[
        ("none", CatchUp::None),
        ("once", CatchUp::Once),
        ("all", CatchUp::All),
    ];
}
