//! The store: queues, runs (the history), fire claims, locks and the worker registry,
//! behind one trait with two backends, the embedded SQLite file and Redis.
//!
//! Every process talks only to the store, so every method here is one atomic step in
//! both backends, and a state change whose precondition fails (an ack by a worker whose
//! lease is gone, a cancel of a finished run) is a typed [`StoreError`], never a silent
//! overwrite. The store knows nothing of the CLI, the daemon or the schedule file; the
//! tests in `tests/store_conformance.rs` hold both backends to the same behaviour.
//!
//! Time: the store stamps `queued_at`, `started_at`, `finished_at` and lease expiries
//! with the clock of the process that calls it. Instants are kept to the millisecond.

mod counted;
mod health;
mod notice;
mod output;
mod pause;
pub mod redis;
pub mod sqlite;
pub mod unreadable;

pub use counted::Counted;
pub use health::{Health, HealthChange};
pub use notice::{NOTICE_KEEP, NewNotice, Notice, TargetFailure, parse_sent};
pub use output::{Chunk, Output, Stream};
pub(crate) use output::{cut_front, push_merged};
pub use pause::{ALL_JOBS, Pause, PauseScope, Paused};

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::Serialize;

/// A run's id: a ULID, so ids sort by creation time.
pub type RunId = String;

/// The bytes of output kept per run when a backend is not told otherwise: the tail.
pub const DEFAULT_OUTPUT_TAIL_BYTES: usize = 1 << 20;

/// Where a run is in its life: queued → running → one of the finished statuses;
/// `skipped` is recorded when a run is not started at all, instead of queued or by the
/// worker that reserved it; `dead` when what its queue held could not be read at all
/// (a dead letter, moved aside so the queue goes on).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    Queued,
    Running,
    Succeeded,
    Failed,
    TimedOut,
    Cancelled,
    Lost,
    Skipped,
    Dead,
}

/// Why a run exists.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Trigger {
    /// The daemon fired it at a scheduled instant.
    Schedule,
    /// Someone ran `cronq run`.
    Manual,
    /// The next attempt of a failed or lost run.
    Retry,
    /// The daemon fired an instant it had missed.
    CatchUp,
    /// `cronq rerun`: a new run of an ended one, with its args and env.
    Rerun,
    /// `cronq backfill`: an instant of the past, claimed as a fire is.
    Backfill,
}

/// What a run's cluster lock does when another run holds it at reserve time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OnBusy {
    /// Record this run `skipped` (`concurrency: forbid`).
    Skip,
    /// Leave this run queued until the lock is free (`concurrency: queue`).
    Wait,
}

/// A store lock that a run must hold while it runs (`lock: cluster`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RunLock {
    pub name: String,
    pub on_busy: OnBusy,
}

/// A run as its creator describes it; the store adds the id, status and times.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewRun {
    pub job: String,
    pub queue: String,
    pub trigger: Trigger,
    /// The instant the daemon fired it for; `None` for a manual run.
    pub scheduled_for: Option<DateTime<Utc>>,
    /// 1 + the job's `retries`.
    pub max_attempts: u32,
    /// Ad-hoc arguments appended to the job's command (`cronq run JOB -- ARGS`).
    pub args: Vec<String>,
    /// Ad-hoc environment (`cronq run JOB --env K=V`).
    pub env: BTreeMap<String, String>,
    /// Not to be reserved before this instant (a delayed retry).
    pub not_before: Option<DateTime<Utc>>,
    pub lock: Option<RunLock>,
    /// Who asked for a run by hand: `cli:USER` or `token:NAME`; `None` for a fire.
    pub by: Option<String>,
    /// `cronq run --force`: started though `concurrency: forbid` would have skipped it.
    /// Its reserve takes the cluster lock when it is free and runs without it when not.
    pub forced: bool,
    /// The run this one reruns (`Trigger::Rerun`); recorded as its `retry_of`.
    pub rerun_of: Option<RunId>,
}

impl NewRun {
    /// A run of `job` by hand: due now, one attempt, no arguments, environment or lock.
    pub fn manual(job: &str, queue: &str) -> NewRun {
        NewRun {
            job: job.to_string(),
            queue: queue.to_string(),
            trigger: Trigger::Manual,
            scheduled_for: None,
            max_attempts: 1,
            args: Vec::new(),
            env: BTreeMap::new(),
            not_before: None,
            lock: None,
            by: None,
            forced: false,
            rerun_of: None,
        }
    }
}

/// One run: the unit of the queue and of the history.
#[derive(Clone, Debug, PartialEq)]
pub struct Run {
    pub id: RunId,
    pub job: String,
    pub queue: String,
    pub status: RunStatus,
    pub trigger: Trigger,
    pub scheduled_for: Option<DateTime<Utc>>,
    /// 1 for the first attempt; each retry is a run of its own with the next number.
    pub attempt: u32,
    pub max_attempts: u32,
    /// The run this one repeats: the attempt it retries (`Trigger::Retry`), or the run
    /// it reruns (`Trigger::Rerun`). See [`Run::rerun_of`].
    pub retry_of: Option<RunId>,
    pub host: Option<String>,
    pub worker: Option<String>,
    pub exit_code: Option<i32>,
    pub signal: Option<i32>,
    pub queued_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    /// 0-100, as the job last reported it.
    pub progress: Option<u8>,
    pub message: Option<String>,
    /// Why it was skipped, lost, cancelled or failed without an exit code.
    pub reason: Option<String>,
    pub args: Vec<String>,
    pub env: BTreeMap<String, String>,
    pub not_before: Option<DateTime<Utc>>,
    pub lock: Option<RunLock>,
    /// `cronq cancel` asked the worker running it to stop it.
    pub cancel_requested: bool,
    /// Who asked for it by hand: `cli:USER` or `token:NAME`.
    pub by: Option<String>,
    /// Started by `cronq run --force` past its job's `concurrency: forbid`.
    pub forced: bool,
}

/// The right to work on a run until `expires_at`; only its holder may extend or end it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Lease {
    pub run: RunId,
    /// Changes with every reserve, so a stale holder is told apart from the current one.
    pub token: String,
    pub expires_at: DateTime<Utc>,
}

/// Who reserves: written onto the run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WorkerRef {
    pub id: String,
    pub host: String,
}

/// How a running run ended, as its worker reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outcome {
    /// One of `Succeeded`, `Failed`, `TimedOut`, `Cancelled`, or `Skipped` for a run its
    /// worker did not start (its job's host lock was busy); anything else is `Invalid`.
    pub status: RunStatus,
    pub exit_code: Option<i32>,
    pub signal: Option<i32>,
    pub reason: Option<String>,
}

/// What [`Store::finish`] did.
#[derive(Clone, Debug, PartialEq)]
pub struct Finished {
    /// The run, now finished.
    pub run: Run,
    /// Its next attempt, queued, when the outcome was a failure and attempts remain.
    pub retry: Option<Run>,
}

/// What [`Store::cancel`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cancelled {
    /// It was queued: now out of its queue and recorded `cancelled`.
    Dequeued,
    /// It is running: its worker is asked to stop it and will record `cancelled`.
    Requested,
}

/// What [`Store::claim_idempotency_key`] found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KeyClaim {
    /// No live claim held the key: it is this caller's now.
    Claimed,
    /// Another request holds it and has not settled it yet.
    Pending,
    /// The key names the run its first request queued.
    Done(RunId),
}

/// A queued run and its place in its queue (1 = next).
#[derive(Clone, Debug, PartialEq)]
pub struct QueuedRun {
    pub run: Run,
    pub position: u64,
}

/// Which finished and unfinished runs `history` returns, newest first.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HistoryFilter {
    pub job: Option<String>,
    /// Any of these; empty for all.
    pub statuses: Vec<RunStatus>,
    /// Queued at or after this instant.
    pub since: Option<DateTime<Utc>>,
    /// At most this many; 0 for no limit.
    pub limit: usize,
}

/// A job's last run and last success, as [`Store::last_runs`] finds them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LastRuns {
    /// How its last run that ran ended, and when.
    pub run: Option<(RunStatus, DateTime<Utc>)>,
    /// When its last successful run ended.
    pub success: Option<DateTime<Utc>>,
}

impl RunStatus {
    /// The statuses of a run that ran, or was meant to and was lost: a job's last run
    /// is the newest of these; a skipped instant never ran.
    pub const RAN: [RunStatus; 5] = [
        RunStatus::Succeeded,
        RunStatus::Failed,
        RunStatus::TimedOut,
        RunStatus::Cancelled,
        RunStatus::Lost,
    ];
}

/// A run as a strip of many runs shows it: enough to colour it, link to it and time it,
/// read for far less than a whole [`Run`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RunBrief {
    pub id: RunId,
    pub status: RunStatus,
    pub queued_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
}

impl RunBrief {
    /// As [`Run::duration_s`].
    pub fn duration_s(&self, now: DateTime<Utc>) -> Option<f64> {
        let start = self.started_at?;
        let end = self.finished_at.unwrap_or(now);
        Some((end - start).num_milliseconds() as f64 / 1000.0)
    }
}

impl From<&Run> for RunBrief {
    fn from(run: &Run) -> RunBrief {
        RunBrief {
            id: run.id.clone(),
            status: run.status,
            queued_at: run.queued_at,
            started_at: run.started_at,
            finished_at: run.finished_at,
        }
    }
}

/// One page of the history: the runs `filter` matches (its `limit` is the page's
/// size), of one trigger and queued before an instant when asked, and older than the
/// run `before`, the last one of the page before.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HistoryPage {
    pub filter: HistoryFilter,
    pub trigger: Option<Trigger>,
    /// Queued before this instant.
    pub until: Option<DateTime<Utc>>,
    /// The cursor: runs older than this one.
    pub before: Option<RunId>,
}

impl HistoryPage {
    /// Whether `run` belongs on the page, as far as `trigger` and `until` go.
    pub fn admits(&self, run: &Run) -> bool {
        self.trigger.is_none_or(|t| t == run.trigger)
            && self.until.is_none_or(|u| run.queued_at < u)
    }
}

/// A worker process as the registry knows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WorkerInfo {
    pub id: String,
    pub host: String,
    pub pid: u32,
    pub queues: Vec<String>,
    /// How many runs it executes at once, from all its queues.
    pub concurrency: u32,
    /// The runs it is executing now.
    pub runs: Vec<RunId>,
    /// Set by the store at each heartbeat.
    pub last_seen: DateTime<Utc>,
}

/// A daemon as the registry knows it: where it runs, and which schedule.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DaemonInfo {
    pub id: String,
    pub host: String,
    pub pid: u32,
    /// The hash of the schedule file it runs.
    pub schedule_hash: String,
    /// Set by the store at each heartbeat.
    pub last_seen: DateTime<Utc>,
}

/// The schedule as the daemons publish it, so that commands on any host that reaches
/// the store can name its jobs without a copy of the file. Never executed: a worker
/// runs only the commands of its own copy.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct PublishedSchedule {
    pub hash: String,
    pub jobs: Vec<PublishedJob>,
}

/// One job of a [`PublishedSchedule`]: owned as read back, borrowed from the daemon's
/// schedule (`PublishedJob<&str>`) as published.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct PublishedJob<S = String> {
    pub name: S,
    pub queue: S,
    /// As written in the file; `None` for a job run only by hand.
    pub schedule: Option<S>,
    pub timezone: S,
    /// The job's fixed offset (its `jitter_offset`) in milliseconds, added to each
    /// instant of its schedule; 0 in a schedule published by a cronq that sent none.
    #[serde(default)]
    pub jitter_ms: u64,
    pub allow_args: bool,
    /// The variables a run may bring (`allow_env`); empty in a schedule published by a
    /// cronq that knew no `allow_env`, which took none.
    #[serde(default)]
    pub allow_env: Vec<S>,
}

impl PublishedJob {
    pub fn as_borrowed(&self) -> PublishedJob<&str> {
        PublishedJob {
            name: &self.name,
            queue: &self.queue,
            schedule: self.schedule.as_deref(),
            timezone: &self.timezone,
            jitter_ms: self.jitter_ms,
            allow_args: self.allow_args,
            allow_env: self.allow_env.iter().map(String::as_str).collect(),
        }
    }
}

/// A schedule ready to publish: the JSON of a [`PublishedSchedule`], which both stores
/// keep as it is. Written job by job from borrowed fields, so that publishing 100,000
/// jobs makes no copy of each one's fields, whose freed memory would stay in the daemon.
#[derive(Clone, Debug)]
pub struct PublishedJson(String);

impl PublishedJson {
    pub fn new<'a>(
        hash: &str,
        jobs: impl IntoIterator<Item = PublishedJob<&'a str>>,
    ) -> PublishedJson {
        let mut json = b"{\"hash\":".to_vec();
        serde_json::to_writer(&mut json, hash).expect("a string serializes");
        json.extend_from_slice(b",\"jobs\":[");
        for (i, job) in jobs.into_iter().enumerate() {
            if i > 0 {
                json.push(b',');
            }
            serde_json::to_writer(&mut json, &job).expect("a job serializes");
        }
        json.extend_from_slice(b"]}");
        PublishedJson(String::from_utf8(json).expect("serde_json writes UTF-8"))
    }

    pub fn into_string(self) -> String {
        self.0
    }

    /// The bytes of a published schedule that hold its hash, which is written first.
    pub const HEAD_BYTES: usize = 256;

    /// The hash from the first bytes of a published schedule; `None` for no schedule, or
    /// one that does not start as cronq writes it.
    pub fn hash_in(head: &str) -> Option<String> {
        let rest = head.strip_prefix("{\"hash\":\"")?;
        let end = rest.find('"')?;
        Some(rest[..end].to_string())
    }
}

impl From<&PublishedSchedule> for PublishedJson {
    fn from(schedule: &PublishedSchedule) -> PublishedJson {
        PublishedJson::new(
            &schedule.hash,
            schedule.jobs.iter().map(PublishedJob::as_borrowed),
        )
    }
}

/// How much history of one job to keep.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Retention {
    pub succeeded: u32,
    /// Runs that did not succeed: failed, timed out, cancelled, lost and skipped.
    pub failed: u32,
    pub max_age: Duration,
}

/// Why a store operation did not happen.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The store cannot be reached; `url` carries no password.
    #[error("the store at {url} is unreachable: {reason}")]
    Unreachable { url: String, reason: String },
    /// A command that only reads found no store at `url` (an absolute `sqlite:` path),
    /// and created none.
    #[error("no store at {url}; is the daemon using another (--store, CRONQ_STORE)?")]
    NoStore { url: String },
    #[error("no run {0}")]
    NotFound(RunId),
    /// The caller's lease on the run expired (reaped yet or not), the run was taken
    /// again, or it has already been finished.
    #[error("the lease on run {0} is gone: the run was reaped or is held by another worker")]
    LeaseLost(RunId),
    /// The run is not in a status the operation needs.
    #[error("run {id} is {status}")]
    WrongStatus { id: RunId, status: RunStatus },
    /// The store's address names what cannot be a store (a directory): the flag or
    /// setting is wrong, exit 2.
    #[error("{0}")]
    BadAddress(String),
    /// An argument out of its range (a progress of 120, an empty queue list).
    #[error("{0}")]
    Invalid(String),
    /// The store refused an operation for a reason of its own (a full disk, a timeout).
    #[error("the store failed: {0}")]
    Failed(String),
    /// The store answered with something cronq did not write.
    #[error("the store is corrupt or from another version: {0}")]
    Corrupt(String),
    /// `concurrency: forbid` (`cronq run`): another run of the job is running (it holds
    /// the job's lock) or queued, so this one is not queued.
    #[error("job `{job}` is {status} (run {holder})")]
    Busy {
        job: String,
        holder: RunId,
        status: RunStatus,
    },
}

pub type Result<T> = std::result::Result<T, StoreError>;

/// The operations every backend provides, each one atomic.
#[async_trait]
pub trait Store: Send + Sync {
    /// Records a new run and puts it at the end of its queue: `queued`, attempt 1.
    async fn enqueue(&self, run: NewRun) -> Result<Run>;

    /// [`Store::enqueue`] for a run whose lock is `OnBusy::Skip` (`concurrency:
    /// forbid`): `Busy` when another run with that lock holds it (is running) or is
    /// queued, and then nothing is recorded; the check and the enqueue are one atomic
    /// step, so of two at once only one is queued. A run without such a lock, or
    /// `forced`, is queued as `enqueue` queues it.
    async fn enqueue_if_idle(&self, run: NewRun) -> Result<Run>;

    /// Fires a job at a scheduled instant, at most once per (job, instant) however many
    /// processes share the store: claims the instant, records the run and queues it (or,
    /// with `skip`, records it `skipped` with that reason), and moves the job's
    /// last-fired marker to `instant` if that is later, all in one atomic step. `None`
    /// when the instant was already claimed, by this process or another. A run whose
    /// lock is `OnBusy::Skip` is recorded `skipped` in the same step when another run
    /// holds that lock (is running), with `skipped: ` and the words of
    /// [`StoreError::Busy`] as its reason, as its reserve would record it. A run queued
    /// with the lock does not count here: the fire is queued behind it, and its reserve
    /// skips it if that run holds the lock by then.
    async fn fire(
        &self,
        run: NewRun,
        instant: DateTime<Utc>,
        skip: Option<String>,
    ) -> Result<Option<Run>>;

    /// Fires a job at an instant the wall clock shows a second time, once it was stepped
    /// back behind `pass`, the job's last fire then: as [`Store::fire`], claimed once per
    /// (job, instant, pass) rather than per (job, instant), and leaving the job's
    /// last-fired marker where it is. `None` when this pass of the instant was claimed.
    async fn fire_again(
        &self,
        run: NewRun,
        instant: DateTime<Utc>,
        pass: DateTime<Utc>,
        skip: Option<String>,
    ) -> Result<Option<Run>>;

    /// The latest instant fired for `job`, for catch-up after downtime.
    async fn last_fired(&self, job: &str) -> Result<Option<DateTime<Utc>>>;

    /// For each of `instants`, the run its first-pass claim names (the run that fire,
    /// or backfill, recorded for it), or `None` for an instant no one claimed, or whose
    /// claim is older than [`Store::claims_kept`].
    async fn claims(&self, job: &str, instants: &[DateTime<Utc>]) -> Result<Vec<Option<RunId>>>;

    /// How long a claim on an instant is kept, for a job whose history is kept for
    /// `keep_max_age`: an instant older than this may have run without a trace.
    fn claims_kept(&self, keep_max_age: Duration) -> Duration;

    /// Every job's last-fired instant, for a daemon that starts with many jobs.
    async fn last_fires(&self) -> Result<HashMap<String, DateTime<Utc>>>;

    /// Takes the oldest ready run (its `not_before` passed) of the first queue in
    /// `queues` that has one, marks it `running` on `worker` and leases it for
    /// `lease_for`; waits up to `wait` for one, waking promptly when one is queued.
    ///
    /// A run with a cluster lock takes the lock (owner: the run's id) in the same step.
    /// When another owner holds it, the run is recorded `skipped` (`OnBusy::Skip`) or
    /// stays queued (`OnBusy::Wait`), and the next run is considered; a `forced` run is
    /// taken without the lock.
    async fn reserve(
        &self,
        queues: &[String],
        worker: &WorkerRef,
        lease_for: Duration,
        wait: Duration,
    ) -> Result<Option<(Run, Lease)>>;

    /// Extends a lease the caller holds, and the run's cluster lock with it. Returns the
    /// new lease and whether a cancel was requested. `LeaseLost` if it is not held.
    async fn extend(&self, lease: &Lease, lease_for: Duration) -> Result<(Lease, bool)>;

    /// Ends a run the caller holds the lease of, with its outcome, and releases its
    /// cluster lock. A failure or timeout with attempts left also queues the next
    /// attempt (`Trigger::Retry`, `retry_of` this run) to start after `retry_in`; the
    /// last failed attempt stays `failed`, the dead letter. Any other outcome, `skipped`
    /// included, is never retried. `LeaseLost` if the lease is not held; nothing changes
    /// then.
    async fn finish(&self, lease: &Lease, outcome: Outcome, retry_in: Duration)
    -> Result<Finished>;

    /// [`Store::finish`], then [`Store::reserve`] without a wait, as one atomic step:
    /// a worker whose run ended takes its next run at once, at the cost of one store
    /// step instead of two. The next run is `None` when no run is ready. When the
    /// finish is refused, nothing changes and nothing is reserved.
    async fn finish_and_reserve(
        &self,
        lease: &Lease,
        outcome: Outcome,
        retry_in: Duration,
        queues: &[String],
        worker: &WorkerRef,
        lease_for: Duration,
    ) -> Result<(Finished, Option<(Run, Lease)>)>;

    /// Cancels a run: a queued one leaves its queue and is recorded `cancelled`; for a
    /// running one a cancel is requested, which [`Store::cancel_requests`] reports to its
    /// worker within a second (and its next [`Store::extend`] reports too). `WrongStatus`
    /// for a run that has finished.
    async fn cancel(&self, id: &str) -> Result<Cancelled>;

    /// The runs running on worker `worker_id` whose cancel was requested and not yet
    /// reported; waits up to `wait` for one. A request made meanwhile, by any process,
    /// ends the wait within a quarter of a second. A run that ended since its request is
    /// not reported. One caller per worker listens for all the worker's runs, so the cost
    /// to the store is per worker, never per run: each request is reported to one call.
    async fn cancel_requests(&self, worker_id: &str, wait: Duration) -> Result<Vec<RunId>>;

    /// Appends a batch of chunks, in the order written, to the output of a run the caller
    /// holds; only the last bytes, up to the backend's tail size, are kept (the first
    /// chunk kept may be cut). All of the batch or none of it: `LeaseLost` changes nothing.
    async fn append_output(&self, lease: &Lease, chunks: &[Chunk]) -> Result<()>;

    /// Records a running run's progress (0-100) and message. `WrongStatus` unless running.
    async fn set_progress(&self, id: &str, percent: u8, message: Option<&str>) -> Result<()>;

    /// One run. `NotFound` if there is none (or it was pruned).
    async fn run(&self, id: &str) -> Result<Run>;

    /// A run's output from offset `from` on, as far as the tail still holds it, each
    /// byte with its stream.
    async fn output(&self, id: &str, from: u64) -> Result<Output>;

    /// Runs matching `filter`, newest first.
    async fn history(&self, filter: &HistoryFilter) -> Result<Vec<Run>>;

    /// The last `count` runs of each of `jobs`, newest first, in the order of `jobs`:
    /// what a page of many jobs shows. A backend may answer it in one round trip.
    async fn recent_runs(&self, jobs: &[String], count: usize) -> Result<Vec<Vec<RunBrief>>> {
        let mut all = Vec::with_capacity(jobs.len());
        for job in jobs {
            let filter = HistoryFilter {
                job: Some(job.clone()),
                limit: count,
                ..HistoryFilter::default()
            };
            all.push(
                self.history(&filter)
                    .await?
                    .iter()
                    .map(RunBrief::from)
                    .collect(),
            );
        }
        Ok(all)
    }

    /// One page of the history, newest first. A page after a cursor costs what the
    /// first one does: the backends seek to the cursor through their index by creation
    /// order, never skip an offset. This default, for stores kept in memory, reads the
    /// whole history.
    async fn history_page(&self, page: &HistoryPage) -> Result<Vec<Run>> {
        let all = self
            .history(&HistoryFilter {
                limit: 0,
                ..page.filter.clone()
            })
            .await?;
        let start = match &page.before {
            Some(id) => all
                .iter()
                .position(|r| r.id == *id)
                .map_or(all.len(), |i| i + 1),
            None => 0,
        };
        let limit = if page.filter.limit == 0 {
            usize::MAX
        } else {
            page.filter.limit
        };
        Ok(all
            .into_iter()
            .skip(start)
            .filter(|run| page.admits(run))
            .take(limit)
            .collect())
    }

    /// The ids of the runs whose id starts with `prefix` (ids are upper case), in id
    /// order, at most `limit` of them: how a person's short id is found. Found through
    /// an index ordered by id, never by reading every run.
    async fn run_ids_with_prefix(&self, prefix: &str, limit: usize) -> Result<Vec<RunId>>;

    /// The running runs, oldest start first.
    async fn running(&self) -> Result<Vec<Run>>;

    /// The queued runs of every queue: each queue's ready runs in the order reserve takes
    /// them, then its runs not yet due, soonest first.
    async fn queued(&self) -> Result<Vec<QueuedRun>>;

    /// The durations in seconds of the job's last `count` successful runs, newest first.
    async fn durations(&self, job: &str, count: usize) -> Result<Vec<f64>>;

    /// Each queue that holds queued runs, with how many.
    async fn queue_lengths(&self) -> Result<Vec<(String, u64)>>;

    /// For each of `jobs` that has one among the runs retained: its last run that ran
    /// (succeeded, failed, timed out, cancelled or lost; not skipped) and its last
    /// success, by creation order, with when each ended. What `/metrics` shows of every
    /// job at once, in a few store steps rather than a query per job.
    async fn last_runs(&self, jobs: &[&str]) -> Result<HashMap<String, LastRuns>>;

    /// Takes the lock `name` for `owner` until `ttl` from now: true if it was free,
    /// expired, or already `owner`'s (then it is renewed).
    async fn lock(&self, name: &str, owner: &str, ttl: Duration) -> Result<bool>;

    /// Renews a lock only if `owner` still holds it: false once it has expired.
    async fn renew_lock(&self, name: &str, owner: &str, ttl: Duration) -> Result<bool>;

    /// Releases a lock only if `owner` holds it and it has not expired: false otherwise.
    async fn unlock(&self, name: &str, owner: &str) -> Result<bool>;

    /// Registers or refreshes a worker; it is forgotten `ttl` after its last heartbeat.
    async fn heartbeat(&self, worker: &WorkerInfo, ttl: Duration) -> Result<()>;

    /// The registered workers.
    async fn workers(&self) -> Result<Vec<WorkerInfo>>;

    /// Removes a worker from the registry (a clean stop).
    async fn unregister(&self, worker_id: &str) -> Result<()>;

    /// Registers or refreshes a daemon; it is forgotten `ttl` after its last heartbeat.
    async fn daemon_heartbeat(&self, daemon: &DaemonInfo, ttl: Duration) -> Result<()>;

    /// The live daemons.
    async fn daemons(&self) -> Result<Vec<DaemonInfo>>;

    /// Replaces the published schedule.
    async fn publish(&self, schedule: PublishedJson) -> Result<()>;

    /// The schedule last published, if any daemon has published one.
    async fn published(&self) -> Result<Option<PublishedSchedule>>;

    /// The hash of the schedule last published, read from the first bytes alone: what a
    /// daemon checks each interval, to put its schedule back when it is missing (a Redis
    /// restarted empty, a `FLUSHDB`, a failover to a replica without it) or another.
    async fn published_hash(&self) -> Result<Option<String>>;

    /// Claims an Idempotency-Key (an HTTP request's, retried) for `hold`, unless a live
    /// claim or a settled run holds it; one atomic step, so of two requests at once only
    /// one claims it. A claim not settled within `hold` lapses, so a request whose
    /// process died does not keep the key.
    async fn claim_idempotency_key(&self, key: &str, hold: Duration) -> Result<KeyClaim>;

    /// Settles a key the caller claimed: `Some(run)` makes it name that run for `keep`;
    /// `None` lets it go (nothing was queued), so a retry may try again.
    async fn settle_idempotency_key(
        &self,
        key: &str,
        run: Option<&str>,
        keep: Duration,
    ) -> Result<()>;

    /// How many dead letters there are: runs recorded `dead`.
    async fn dead_letters(&self) -> Result<u64>;

    /// Turns each running run whose lease expired into `lost`, releases its cluster
    /// lock, and queues its next attempt at once if attempts remain. Each expired run
    /// is reaped exactly once, however many reapers run. Returns the runs made lost.
    async fn reap(&self) -> Result<Vec<Run>>;

    /// Deletes each job's finished runs beyond its retention: the newest `succeeded`
    /// successes and `failed` others are kept, and none older than `max_age`. Returns
    /// how many went. One call serves many jobs, as a daemon prunes them all at once.
    async fn prune(&self, jobs: &[(&str, Retention)]) -> Result<u64>;

    /// Pauses one job or every job, replacing a pause of the same scope (and its count
    /// of recorded instants), and changes the [`Store::pause_version`].
    async fn pause(&self, scope: &PauseScope, pause: &Pause) -> Result<()>;

    /// Ends the pause of `scope` and changes the [`Store::pause_version`]: the pause it
    /// ended, or `None` when none was in force (one whose `until` passed goes too).
    async fn resume(&self, scope: &PauseScope) -> Result<Option<Pause>>;

    /// The pauses in force now, the pause of every job first, then by job; one whose
    /// `until` passed is left out.
    async fn pauses(&self) -> Result<Vec<Paused>>;

    /// A value that changes with every pause and resume (`None` before the first): what
    /// a daemon reads each second, a few bytes, to know when to read the pauses again.
    async fn pause_version(&self) -> Result<Option<String>>;

    /// Passes an instant of a job held by the pause of `scope` instead of firing it:
    /// moves the job's last-fired marker to `instant` if that is later, as a fire
    /// does, so that neither catch-up nor the watchdog takes it for missed. While the
    /// pause has recorded fewer than `record_limit` instants (or is gone: it was just
    /// resumed), the instant is also claimed and recorded `skipped` with `reason`, as
    /// [`Store::fire`] with a skip does, and counted on the pause; past the limit it
    /// passes without a record. All in one atomic step. The run recorded, or `None`
    /// (past the limit, or the instant was claimed already).
    async fn pass_paused(
        &self,
        run: NewRun,
        instant: DateTime<Utc>,
        scope: &PauseScope,
        reason: String,
        record_limit: u32,
    ) -> Result<Option<Run>>;

    /// Records how run `run` of `job` ended for the job's health (`failed`: it failed,
    /// timed out or was lost; else it succeeded) and claims the message that calls for,
    /// in one atomic step: `Failing` when the job was healthy, `Recovered` at its first
    /// success after, `Reminder` while it keeps failing once `remind` has passed since
    /// the last message; `None` otherwise, and for a run recorded already. However many
    /// processes record runs of one job at once, each change goes to one of them. With
    /// `run` `None` (the timer's look), nothing is recorded but a `Reminder` when one is
    /// due. In the same step, the change is added to the outbox ([`Store::add_notice`])
    /// under the key `health:JOB:CHANGE:RUN` (a timer's reminder: `...:reminder:@MS`),
    /// about the run given, else the job's last recorded run.
    async fn record_health(
        &self,
        job: &str,
        run: Option<&str>,
        failed: bool,
        remind: Option<Duration>,
    ) -> Result<Option<HealthChange>>;

    /// Adds `notice` to the outbox, unclaimed, unless a notice with its key was added in
    /// the last [`NOTICE_KEEP`]: so the first of any number of callers records a change.
    /// True when this call added it.
    async fn add_notice(&self, notice: &NewNotice) -> Result<bool>;

    /// Claims for `owner` up to `limit` notices not yet sent whose claim is free or
    /// expired, earliest due first (a new one is due when added, one whose claim
    /// expired at the expiry), until now + `lease`: each goes to one caller at a time.
    async fn claim_notices(
        &self,
        owner: &str,
        lease: Duration,
        limit: usize,
    ) -> Result<Vec<Notice>>;

    /// Renews `owner`'s claim on notice `key` for `lease`, noting target `sent` as having
    /// taken it; with `done`, the notice is sent and is never claimed again. False (and
    /// nothing changed) when the claim is no longer `owner`'s or the notice is sent.
    async fn notice_progress(
        &self,
        key: &str,
        owner: &str,
        sent: Option<u32>,
        done: bool,
        lease: Duration,
    ) -> Result<bool>;

    /// Records that `target` of `job` failed with `error` (the newest failure replaces
    /// the one before), or with `None` that it took a message, which clears its failure.
    async fn record_target(&self, job: &str, target: &str, error: Option<&str>) -> Result<()>;

    /// The targets whose last try failed, by job and target.
    async fn target_failures(&self) -> Result<Vec<TargetFailure>>;
}

impl RunStatus {
    pub const ALL: [RunStatus; 9] = [
        RunStatus::Queued,
        RunStatus::Running,
        RunStatus::Succeeded,
        RunStatus::Failed,
        RunStatus::TimedOut,
        RunStatus::Cancelled,
        RunStatus::Lost,
        RunStatus::Skipped,
        RunStatus::Dead,
    ];

    /// The statuses `history --failed` means.
    pub const FAILURES: [RunStatus; 3] = [RunStatus::Failed, RunStatus::TimedOut, RunStatus::Lost];

    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Queued => "queued",
            RunStatus::Running => "running",
            RunStatus::Succeeded => "succeeded",
            RunStatus::Failed => "failed",
            RunStatus::TimedOut => "timed_out",
            RunStatus::Cancelled => "cancelled",
            RunStatus::Lost => "lost",
            RunStatus::Skipped => "skipped",
            RunStatus::Dead => "dead",
        }
    }

    pub fn parse(text: &str) -> Option<RunStatus> {
        RunStatus::ALL.into_iter().find(|s| s.as_str() == text)
    }

    /// No further change will happen to a run in this status.
    pub fn is_finished(self) -> bool {
        !matches!(self, RunStatus::Queued | RunStatus::Running)
    }
}

impl fmt::Display for RunStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Trigger {
    pub fn as_str(self) -> &'static str {
        match self {
            Trigger::Schedule => "schedule",
            Trigger::Manual => "manual",
            Trigger::Retry => "retry",
            Trigger::CatchUp => "catch_up",
            Trigger::Rerun => "rerun",
            Trigger::Backfill => "backfill",
        }
    }

    pub fn parse(text: &str) -> Option<Trigger> {
        [
            Trigger::Schedule,
            Trigger::Manual,
            Trigger::Retry,
            Trigger::CatchUp,
            Trigger::Rerun,
            Trigger::Backfill,
        ]
        .into_iter()
        .find(|t| t.as_str() == text)
    }
}

impl OnBusy {
    pub fn as_str(self) -> &'static str {
        match self {
            OnBusy::Skip => "skip",
            OnBusy::Wait => "wait",
        }
    }

    pub fn parse(text: &str) -> Option<OnBusy> {
        [OnBusy::Skip, OnBusy::Wait]
            .into_iter()
            .find(|o| o.as_str() == text)
    }
}

impl Run {
    /// The run this one reruns, for a `Trigger::Rerun` run.
    pub fn rerun_of(&self) -> Option<&str> {
        (self.trigger == Trigger::Rerun)
            .then_some(self.retry_of.as_deref())
            .flatten()
    }

    /// The attempt this one retries, for a `Trigger::Retry` run.
    pub fn retry_of(&self) -> Option<&str> {
        (self.trigger == Trigger::Retry)
            .then_some(self.retry_of.as_deref())
            .flatten()
    }

    /// From start to finish, or to now while it runs.
    pub fn duration_s(&self, now: DateTime<Utc>) -> Option<f64> {
        let start = self.started_at?;
        let end = self.finished_at.unwrap_or(now);
        Some((end - start).num_milliseconds() as f64 / 1000.0)
    }
}

/// The argument checks every backend makes before it touches its data, so that both
/// refuse the same calls with the same words.
pub(crate) mod check {
    use super::unreadable::MAX_PAYLOAD_BYTES;
    use super::{NewRun, Outcome, Result, RunStatus, StoreError};

    /// A run's `args` and `env` hold at most [`MAX_PAYLOAD_BYTES`] together, as JSON:
    /// a reserve refuses a run that holds more (`unreadable.rs`).
    pub fn payload(run: &NewRun) -> Result<()> {
        let raw: usize = run.args.iter().map(String::len).sum::<usize>()
            + run
                .env
                .iter()
                .map(|(k, v)| k.len() + v.len())
                .sum::<usize>();
        // JSON writes a byte as at most 6 (`\u001f`), plus quotes and separators.
        if (6 * raw + 8 * (run.args.len() + run.env.len()) + 4) as u64 <= MAX_PAYLOAD_BYTES {
            return Ok(());
        }
        let bytes = (json_len(&run.args) + json_len(&run.env)) as u64;
        if bytes > MAX_PAYLOAD_BYTES {
            return Err(StoreError::Invalid(format!(
                "a run's args and env may hold {MAX_PAYLOAD_BYTES} bytes together, as JSON; these hold {bytes}"
            )));
        }
        Ok(())
    }

    /// The bytes of `value` written as JSON.
    fn json_len<T: serde::Serialize>(value: &T) -> usize {
        serde_json::to_vec(value).map_or(usize::MAX / 4, |json| json.len())
    }

    pub fn queues(queues: &[String]) -> Result<()> {
        if queues.is_empty() {
            return Err(StoreError::Invalid(
                "reserve needs at least one queue".into(),
            ));
        }
        Ok(())
    }

    pub fn outcome(outcome: &Outcome) -> Result<()> {
        use RunStatus::{Cancelled, Failed, Skipped, Succeeded, TimedOut};
        if !matches!(
            outcome.status,
            Succeeded | Failed | TimedOut | Cancelled | Skipped
        ) {
            return Err(StoreError::Invalid(format!(
                "a run cannot finish as {}: succeeded, failed, timed_out, cancelled or skipped",
                outcome.status
            )));
        }
        Ok(())
    }

    pub fn percent(percent: u8) -> Result<()> {
        if percent > 100 {
            return Err(StoreError::Invalid(format!(
                "progress {percent} is out of range 0-100"
            )));
        }
        Ok(())
    }
}

/// A fresh run id: a ULID, time-sortable.
pub fn new_run_id() -> RunId {
    ulid::Ulid::generate().to_string()
}

/// A fresh lease token.
pub fn new_token() -> String {
    ulid::Ulid::generate().to_string()
}
