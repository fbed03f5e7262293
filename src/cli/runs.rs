//! Runs as people name them and read them: the id they typed, and a running run's time
//! left, shared by the commands that show runs.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use nix::sys::signal::Signal;

use super::CliError;
use crate::eta::{self, TimeLeft};
use crate::store::{HistoryFilter, Run, RunStatus, Store, StoreError};

/// The shortest start of a run id that is taken for the id, as git takes a short hash.
pub const MIN_PREFIX: usize = 6;
/// Runs a prefix is checked against at most: more than this is "more than".
const CANDIDATES: usize = 100;
/// A ULID is this long.
const ID_LEN: usize = 26;

/// A run id as typed or pasted: ULIDs are upper case, so any case is the same id.
pub fn run_id(typed: &str) -> String {
    typed.trim().to_ascii_uppercase()
}

/// Whether `text` (upper case) could be the start of a ULID: Crockford's base32.
fn could_be_an_id(text: &str) -> bool {
    !text.is_empty()
        && text.len() <= ID_LEN
        && text
            .chars()
            .all(|c| c.is_ascii_digit() || (c.is_ascii_uppercase() && !"ILOU".contains(c)))
}

/// What a person may name a run by: its id or a unique start of it (6 or more
/// characters), and for `show` and `logs`, a job's name for its latest run.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Naming {
    IdOnly,
    IdOrJob,
}

/// The run a person named. An id, prefix or job with no run, a prefix shorter than
/// [`MIN_PREFIX`] and one shared by several runs are bad arguments (exit 2).
pub async fn find(store: &dyn Store, typed: &str, naming: Naming) -> anyhow::Result<Run> {
    let id = run_id(typed);
    if id.len() == ID_LEN {
        match store.run(&id).await {
            Ok(run) => return Ok(run),
            Err(StoreError::NotFound(_)) => {}
            Err(error) => return Err(error.into()),
        }
    } else if id.len() >= MIN_PREFIX && could_be_an_id(&id) {
        let mut found = store.run_ids_with_prefix(&id, CANDIDATES + 1).await?;
        match found.len() {
            0 => {}
            1 => match store.run(&found.remove(0)).await {
                Ok(run) => return Ok(run),
                // Pruned between the two reads: as if it had not been found.
                Err(StoreError::NotFound(_)) => {}
                Err(error) => return Err(error.into()),
            },
            n => return Err(ambiguous(&id, n).into()),
        }
    }
    let job = typed.trim();
    if naming == Naming::IdOrJob && !job.is_empty() {
        let latest = HistoryFilter {
            job: Some(job.to_string()),
            limit: 1,
            ..HistoryFilter::default()
        };
        if let Some(run) = store.history(&latest).await?.into_iter().next() {
            return Ok(run);
        }
    }
    if id.len() < MIN_PREFIX && could_be_an_id(&id) {
        return Err(too_short(typed.trim(), naming).into());
    }
    Err(unknown(typed, naming).into())
}

/// The error for a name the store knows no run by.
fn unknown(typed: &str, naming: Naming) -> CliError {
    let id = run_id(typed);
    let how = match naming {
        Naming::IdOnly => "by id or the start of one",
        Naming::IdOrJob => "by id, the start of one or a job's name",
    };
    let what = match id.len() {
        ID_LEN => format!("no run {id} in the store"),
        _ => format!("`{}` names no run in the store ({how})", typed.trim()),
    };
    CliError::Usage(format!("{what}; `cronq history` lists the runs it keeps"))
}

fn too_short(typed: &str, naming: Naming) -> CliError {
    let or_job = match naming {
        Naming::IdOnly => "",
        Naming::IdOrJob => " or a job's name",
    };
    CliError::Usage(format!(
        "`{typed}` is too short to name a run: give at least {MIN_PREFIX} characters of its id{or_job}"
    ))
}

fn ambiguous(prefix: &str, count: usize) -> CliError {
    let count = if count > CANDIDATES {
        format!("more than {CANDIDATES}")
    } else {
        count.to_string()
    };
    CliError::Usage(format!(
        "`{prefix}` is the start of {count} run ids; give more characters of the one you mean"
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
