//! Runs as people name them and read them: the id they typed, and a running run's time
//! left, shared by the commands that show runs.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use nix::sys::signal::Signal;

use super::CliError;
use crate::eta::{self, TimeLeft};
use crate::store::{Run, RunStatus, Store, StoreError};

/// A run id as typed or pasted: ULIDs are upper case, so any case is the same id.
pub fn run_id(typed: &str) -> String {
    typed.trim().to_ascii_uppercase()
}

/// The run with the id a person typed. An id with no run is a bad argument (exit 2).
pub async fn find(store: &dyn Store, typed: &str) -> anyhow::Result<Run> {
    let id = run_id(typed);
    match store.run(&id).await {
        Ok(run) => Ok(run),
        Err(StoreError::NotFound(_)) => Err(unknown(&id).into()),
        Err(error) => Err(error.into()),
    }
}

/// The error for an id the store does not know.
pub fn unknown(id: &str) -> CliError {
    CliError::Usage(format!(
        "no run {id} in the store; `cronq history` lists the runs it keeps"
    ))
}

/// The exit code, else the signal that ended the job by name (`SIGTERM`), else `-`.
pub fn exit(run: &Run) -> String {
    match (run.exit_code, run.signal) {
        (Some(code), _) => code.to_string(),
        (None, Some(number)) => Signal::try_from(number)
            .map_or_else(|_| format!("signal {number}"), |s| s.as_str().to_string()),
        (None, None) => "-".into(),
    }
}

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

    async fn past(&mut self, store: &dyn Store, job: &str) -> Result<&[f64], StoreError> {
        if !self.past.contains_key(job) {
            let durations = store.durations(job, eta::HISTORY_RUNS).await?;
            self.past.insert(job.to_string(), durations);
        }
        Ok(&self.past[job])
    }
}
