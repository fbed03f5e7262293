//! A run as every face shows it: the JSON object of DESIGN §6, its instants, and a
//! running run's time left. The CLI prints these documents and the HTTP API sends them,
//! so both say the same about a run.

use std::collections::{BTreeSet, HashMap};

use chrono::{DateTime, Utc};
use futures_util::StreamExt;
use futures_util::stream::FuturesUnordered;
use serde::Serialize;
use serde_json::{Value, json};

use crate::eta::{self, TimeLeft};
use crate::store::{Output, Run, RunId, RunStatus, Store, StoreError, Trigger};

/// An instant as cronq prints it: RFC 3339, whole seconds, the zone's offset at that
/// instant (`+00:00` for UTC, never `Z`).
pub fn instant<Tz: chrono::TimeZone>(at: &chrono::DateTime<Tz>) -> String
where
    Tz::Offset: std::fmt::Display,
{
    at.to_rfc3339_opts(chrono::SecondsFormat::Secs, false)
}

/// A run as every `--json` document shows it (DESIGN §6): the same object everywhere,
/// so scripts can rely on its fields, plus `"by"` (`cli:USER`, `token:NAME`) for a run
/// asked for by hand and `"forced": true` for a run started by `cronq run --force`.
/// `time_left` is given for running runs.
pub fn run_json(run: &Run, now: DateTime<Utc>, time_left: Option<TimeLeft>) -> Value {
    serde_json::to_value(run_doc(run, now, time_left)).expect("a run always serializes")
}

/// The run object of `run_json`, to serialize straight to bytes: the fields in the
/// same order.
#[derive(Serialize)]
pub struct RunDoc<'a> {
    id: &'a RunId,
    job: &'a str,
    queue: &'a str,
    status: RunStatus,
    trigger: &'a Trigger,
    scheduled_for: Option<String>,
    attempt: u32,
    host: Option<&'a str>,
    worker: Option<&'a str>,
    exit_code: Option<i32>,
    signal: Option<i32>,
    queued_at: String,
    started_at: Option<String>,
    finished_at: Option<String>,
    duration_s: Option<f64>,
    progress: Option<u8>,
    message: Option<&'a str>,
    /// For a queued run, the time until it is done (`status`).
    pub eta_s: Option<f64>,
    overdue: bool,
    reason: Option<&'a str>,
    // Only a run asked for by hand has it, so a fired run keeps the fields of DESIGN §6.
    #[serde(skip_serializing_if = "Option::is_none")]
    by: Option<&'a str>,
    // Only a run started by `cronq run --force` has it, likewise.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    forced: bool,
}

/// `run_json`'s object, borrowing the run.
pub fn run_doc(run: &Run, now: DateTime<Utc>, time_left: Option<TimeLeft>) -> RunDoc<'_> {
    let (eta_s, overdue) = match time_left {
        Some(TimeLeft::Seconds(secs)) => (Some(secs), false),
        Some(TimeLeft::Overdue) => (None, true),
        Some(TimeLeft::Unknown) | None => (None, false),
    };
    RunDoc {
        id: &run.id,
        job: &run.job,
        queue: &run.queue,
        status: run.status,
        trigger: &run.trigger,
        scheduled_for: run.scheduled_for.as_ref().map(instant),
        attempt: run.attempt,
        host: run.host.as_deref(),
        worker: run.worker.as_deref(),
        exit_code: run.exit_code,
        signal: run.signal,
        queued_at: instant(&run.queued_at),
        started_at: run.started_at.as_ref().map(instant),
        finished_at: run.finished_at.as_ref().map(instant),
        duration_s: run.duration_s(now),
        progress: run.progress,
        message: run.message.as_deref(),
        eta_s,
        overdue,
        reason: run.reason.as_deref(),
        by: run.by.as_deref(),
        forced: run.forced,
    }
}

/// `{"runs": [run, …]}` as `history --json` prints it, each running run with its time
/// left.
pub async fn history_json(
    store: &dyn Store,
    runs: &[Run],
    now: DateTime<Utc>,
) -> Result<Value, StoreError> {
    let mut left_of = TimeLeftOf::default();
    let mut documents = Vec::with_capacity(runs.len());
    for run in runs {
        let left = left_of.run(store, run, now).await?;
        documents.push(run_json(run, now, left));
    }
    Ok(json!({ "runs": documents }))
}

/// One run as `show --json` prints it: the run object plus `"output"`, the tail the
/// store keeps as text, and every other field `show` prints.
pub async fn show_json(
    store: &dyn Store,
    run: &Run,
    now: DateTime<Utc>,
) -> Result<Value, StoreError> {
    let tail = store.output(&run.id, 0).await?;
    let left = TimeLeftOf::default().run(store, run, now).await?;
    let mut document = run_json(run, now, left);
    document["output"] = String::from_utf8_lossy(&tail.bytes()).into_owned().into();
    for (name, value) in details(run, &tail) {
        document[name] = value;
    }
    Ok(document)
}

/// What the text prints beyond the run object of DESIGN §6 and `"output"`, under the
/// same names as the store's: the attempts, the retry or rerun it follows, the start it waits
/// for, its arguments, environment and lock, a pending cancel, and how much of the output
/// the tail still holds.
fn details(run: &Run, tail: &Output) -> Vec<(&'static str, Value)> {
    let lock = run
        .lock
        .as_ref()
        .map(|lock| json!({ "name": lock.name, "on_busy": lock.on_busy.as_str() }));
    vec![
        ("max_attempts", run.max_attempts.into()),
        ("retry_of", run.retry_of().into()),
        ("rerun_of", run.rerun_of().into()),
        ("not_before", run.not_before.as_ref().map(instant).into()),
        ("args", run.args.clone().into()),
        ("env", json!(run.env)),
        ("lock", lock.into()),
        ("cancel_requested", run.cancel_requested.into()),
        ("output_bytes", tail.end.into()),
        ("output_dropped_bytes", tail.start.min(tail.end).into()),
    ]
}

/// How many jobs' durations [`TimeLeftOf::prefetch`] reads at once.
const PARALLEL_READS: usize = 32;

/// Running runs' time left and jobs' typical durations (DESIGN §5), reading each job's
/// past durations once however many of its runs are shown.
#[derive(Default)]
pub struct TimeLeftOf {
    past: HashMap<String, Vec<f64>>,
}

impl TimeLeftOf {
    /// `None` for a run that is not running.
    pub async fn run(
        &mut self,
        store: &dyn Store,
        run: &Run,
        now: DateTime<Utc>,
    ) -> Result<Option<TimeLeft>, StoreError> {
        if run.status != RunStatus::Running {
            return Ok(None);
        }
        let elapsed_s = run.duration_s(now).unwrap_or(0.0);
        // Progress alone decides it when the job reports some: no durations needed.
        if run.progress.is_some_and(|p| p > 0) {
            return Ok(Some(eta::time_left(elapsed_s, run.progress, &[])));
        }
        let past = self.past(store, &run.job).await?;
        Ok(Some(eta::time_left(elapsed_s, run.progress, past)))
    }

    /// The median of the job's last successful durations; `None` without one.
    pub async fn typical_s(
        &mut self,
        store: &dyn Store,
        job: &str,
    ) -> Result<Option<f64>, StoreError> {
        Ok(eta::median(self.past(store, job).await?))
    }

    /// Reads the past durations of each of `jobs` not read yet, [`PARALLEL_READS`] at a
    /// time: a status of a thousand queued runs of as many jobs needs a thousand reads,
    /// which one after another took most of its time.
    pub async fn prefetch<'a>(
        &mut self,
        store: &dyn Store,
        jobs: impl IntoIterator<Item = &'a str>,
    ) -> Result<(), StoreError> {
        let mut missing = jobs
            .into_iter()
            .filter(|job| !self.past.contains_key(*job))
            .collect::<BTreeSet<&str>>()
            .into_iter();
        let mut reads = FuturesUnordered::new();
        loop {
            while reads.len() < PARALLEL_READS {
                let Some(job) = missing.next() else { break };
                reads.push(durations(store, job));
            }
            let Some((job, durations)) = reads.next().await else {
                return Ok(());
            };
            self.past.insert(job.to_string(), durations?);
        }
    }

    async fn past(&mut self, store: &dyn Store, job: &str) -> Result<&[f64], StoreError> {
        if !self.past.contains_key(job) {
            let durations = store.durations(job, eta::HISTORY_RUNS).await?;
            self.past.insert(job.to_string(), durations);
        }
        Ok(&self.past[job])
    }
}

/// The job's last successful durations, with its name.
async fn durations<'a>(
    store: &'a dyn Store,
    job: &'a str,
) -> (&'a str, Result<Vec<f64>, StoreError>) {
    (job, store.durations(job, eta::HISTORY_RUNS).await)
}
