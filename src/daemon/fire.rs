//! Firing one instant of one job: the run it becomes, and the store's atomic `fire`.

use std::sync::Arc;

use chrono::{DateTime, Utc};

use crate::schedule::{Concurrency, Job, Lock};
use crate::store::{NewRun, OnBusy, RunLock, Store, StoreError, Trigger};

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
        replace_running(store, job).await?;
    }
    let run = new_run(job, trigger, Some(instant));
    let skip_reason = skip.map(str::to_string);
    let fired = match pass {
        None => store.fire(run, instant, skip_reason).await?,
        Some(pass) => store.fire_again(run, instant, pass, skip_reason).await?,
    };
    let lateness_ms = (Utc::now() - instant).num_milliseconds();
    match (&fired, skip) {
        (Some(run), None) => tracing::info!(
            job = %job.name, run = %run.id, instant = %instant.to_rfc3339(),
            trigger = trigger.as_str(), lateness_ms, "fired"
        ),
        (Some(run), Some(reason)) => tracing::info!(
            job = %job.name, run = %run.id, instant = %instant.to_rfc3339(), reason, "skipped"
        ),
        (None, _) => tracing::debug!(
            job = %job.name, instant = %instant.to_rfc3339(), "already fired by another daemon"
        ),
    }
    Ok(fired.is_some())
}

/// `concurrency: replace`: asks the job's running runs to stop before the new one
/// queues behind their lock.
async fn replace_running(store: &Arc<dyn Store>, job: &Job) -> Result<(), StoreError> {
    for run in store
        .running()
        .await?
        .iter()
        .filter(|run| run.job == job.name)
    {
        match store.cancel(&run.id).await {
            Ok(_) => tracing::info!(job = %job.name, run = %run.id, "replacing the running run"),
            Err(StoreError::WrongStatus { .. } | StoreError::NotFound(_)) => {}
            Err(error) => return Err(error),
        }
    }
    Ok(())
}
