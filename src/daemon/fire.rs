//! Firing one instant of one job: the run it becomes, and the store's atomic `fire`;
//! and the overlap policy that a fire and `cronq run` share (`concurrency: replace`
//! asks the running run to stop; `forbid` is checked by the store, in the same step
//! that queues).

use std::sync::Arc;

use chrono::{DateTime, Utc};

use crate::observed::{SkipReason, observed};
use crate::schedule::{Concurrency, Job, Lock};
use crate::store::{NewRun, OnBusy, RunId, RunLock, RunStatus, Store, StoreError, Trigger};

/// The run a job's instant becomes. Its command is not in it: a worker looks the job up
/// in its own copy of the schedule, so nothing read from a queue is executed as code.
pub fn new_run(job: &Job, trigger: Trigger, scheduled_for: Option<DateTime<Utc>>) -> NewRun {
    NewRun {
        job: job.name.clone(),
        queue: job.queue.clone(),
        trigger,
        scheduled_for,
        max_attempts: job.retries.saturating_add(1),
        args: Vec::new(),
        env: Default::default(),
        not_before: None,
        lock: run_lock(job),
        by: None,
        forced: false,
        rerun_of: None,
    }
}

/// The store lock that carries the job's overlap policy across hosts (`lock: cluster`).
/// None for `lock: host`: the worker takes a file lock in its state dir before it
/// starts the child (see `worker/host_lock.rs`), and skips or waits there.
fn run_lock(job: &Job) -> Option<RunLock> {
    if job.lock == Lock::Host {
        return None;
    }
    let on_busy = match job.concurrency {
        Concurrency::Allow => return None,
        Concurrency::Forbid => OnBusy::Skip,
        Concurrency::Queue | Concurrency::Replace => OnBusy::Wait,
    };
    Some(RunLock {
        name: job.name.clone(),
        on_busy,
    })
}

/// Fires `job` at `instant` through the store, which claims the instant once across
/// every daemon (once per `pass` for an instant that came round again after the clock
/// was stepped back); with `skip`, records it `skipped` instead. Logs the fire and its
/// lateness. `Ok(false)` when another daemon (or an earlier wake-up) claimed it first.
pub async fn fire(
    store: &Arc<dyn Store>,
    job: &Job,
    instant: DateTime<Utc>,
    pass: Option<DateTime<Utc>>,
    trigger: Trigger,
    skip: Option<&str>,
) -> Result<bool, StoreError> {
    if job.concurrency == Concurrency::Replace && skip.is_none() {
        replace_running(&**store, &job.name).await?;
    }
    let run = new_run(job, trigger, Some(instant));
    let skip_reason = skip.map(str::to_string);
    let fired = match pass {
        None => store.fire(run, instant, skip_reason).await?,
        Some(pass) => store.fire_again(run, instant, pass, skip_reason).await?,
    };
    let lateness_ms = (Utc::now() - instant).num_milliseconds();
    if let Some(run) = &fired {
        let observed = observed();
        observed.fired(lateness_ms as f64 / 1000.0);
        if run.status == RunStatus::Skipped {
            // Asked to skip: an instant missed; else the store's `forbid` found it busy.
            let why = if skip.is_some() {
                SkipReason::missed
            } else {
                crate::notify::skipped(store, job, run, None);
                SkipReason::overlap
            };
            observed.skipped(run, why);
        }
    }
    match &fired {
        // The store may have recorded it skipped though it was not asked to: `forbid`
        // found another run of the job running or queued. The log says what the history
        // says.
        Some(run) if run.status == RunStatus::Skipped => tracing::info!(
            job = %job.name, run = %run.id, instant = %instant.to_rfc3339(),
            trigger = trigger.as_str(), lateness_ms,
            reason = run.reason.as_deref().or(skip).unwrap_or("skipped"), "skipped"
        ),
        Some(run) => tracing::info!(
            job = %job.name, run = %run.id, instant = %instant.to_rfc3339(),
            trigger = trigger.as_str(), lateness_ms, "fired"
        ),
        None => tracing::debug!(
            job = %job.name, instant = %instant.to_rfc3339(), "already fired by another daemon"
        ),
    }
    Ok(fired.is_some())
}

/// `concurrency: replace`: asks the job's running runs to stop before the new one
/// queues behind their lock; a scheduled fire and `cronq run` alike. Returns the runs
/// asked.
pub async fn replace_running(store: &dyn Store, job: &str) -> Result<Vec<RunId>, StoreError> {
    let mut asked = Vec::new();
    for run in store
        .running()
        .await?
        .into_iter()
        .filter(|run| run.job == job)
    {
        match store.cancel(&run.id).await {
            Ok(_) => {
                tracing::info!(job, run = %run.id, "replacing the running run");
                asked.push(run.id);
            }
            Err(StoreError::WrongStatus { .. } | StoreError::NotFound(_)) => {}
            Err(error) => return Err(error),
        }
    }
    Ok(asked)
}
