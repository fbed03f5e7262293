//! A run by hand, as `cronq run` and `POST /api/v1/jobs/{job}/runs` queue it (and
//! `cronq rerun`, the same for an earlier run's job, args and env): the job
//! looked up in the schedule the daemons published, else in the local file, its
//! arguments and environment checked against `allow_args` and `allow_env`, who asked
//! recorded on the run, and the run queued under the job's `concurrency` as a fire is
//! (`replace` stops the running run, `forbid` refuses while one runs or waits, `force`
//! aside). Nothing here executes the job: a worker runs the command of its own copy of
//! the schedule.

use std::collections::BTreeMap;
use std::time::Duration;

use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::daemon::fire;
use crate::schedule::{Concurrency, Schedule, diagnostic, run_env};
use crate::settings::Settings;
use crate::store::{
    HistoryFilter, NewRun, PublishedSchedule, Run, RunId, RunStatus, Store, StoreError, Trigger,
};

/// How often a wait reads the run.
const POLL: Duration = Duration::from_millis(50);

/// What was asked for.
pub struct Request<'a> {
    pub job: &'a str,
    /// Appended to the job's command; the job needs `allow_args`.
    pub args: Vec<String>,
    /// Added to the job's environment; each name must be in its `allow_env`.
    pub env: BTreeMap<String, String>,
    /// Who asked: `cli:USER` or `token:NAME`.
    pub by: String,
}

/// Why a run is not queued; each holds the one sentence to show.
#[derive(Debug, thiserror::Error)]
pub enum Refusal {
    /// Neither the published schedule nor the local file has the job.
    #[error("{0}")]
    UnknownJob(String),
    /// Arguments or variables the job does not take.
    #[error("{0}")]
    NotAllowed(String),
}

/// The run to queue for `request`, from the published schedule or the local file, and
/// the job's `concurrency` when the local file has the job.
///
/// The published schedule names the job's queue, whether it takes arguments and which
/// variables (`allow_env`); `env` is refused unless the job allows every name. Its
/// retries, concurrency and cluster lock are only in the file: when the local file has
/// the job they come from there, otherwise the run gets one attempt and no lock.
pub fn new_run(
    request: Request<'_>,
    published: Option<&PublishedSchedule>,
    local: Option<&Schedule>,
    settings: &Settings,
) -> Result<(NewRun, Option<Concurrency>), Refusal> {
    let name = request.job;
    let published_job =
        published.and_then(|schedule| schedule.jobs.iter().find(|job| job.name == name));
    let local_job = local.and_then(|schedule| schedule.job(name));
    let (mut run, allow_args, allow_env) = match (published_job, local_job) {
        (published, Some(job)) => {
            let mut run = fire::new_run(job, Trigger::Manual, None);
            if let Some(published) = published {
                // The daemons' workers serve the queues of what they published.
                run.queue = published.queue.clone();
            }
            match published {
                Some(p) => (run, p.allow_args, &p.allow_env),
                None => (run, job.allow_args, &job.allow_env),
            }
        }
        (Some(published), None) => {
            let run = NewRun::manual(&published.name, &published.queue);
            (run, published.allow_args, &published.allow_env)
        }
        (None, None) => return Err(unknown_job(name, published, local, settings)),
    };
    if !request.args.is_empty() && !allow_args {
        return Err(Refusal::NotAllowed(format!(
            "job `{name}` takes no arguments; give it `allow_args: true` in the schedule to pass some"
        )));
    }
    run_env::check_run_env(name, allow_env, request.env.keys().map(String::as_str))
        .map_err(Refusal::NotAllowed)?;
    run.args = request.args;
    run.env = request.env;
    run.by = Some(request.by);
    Ok((run, local_job.map(|job| job.concurrency)))
}

/// The run that reruns `old`: the same job with the same args and env, checked
/// against the job as the schedule has it now (`allow_args`, `allow_env`), as trigger
/// `rerun`, linked to `old`.
pub fn rerun(
    old: &Run,
    by: String,
    published: Option<&PublishedSchedule>,
    local: Option<&Schedule>,
    settings: &Settings,
) -> Result<(NewRun, Option<Concurrency>), Refusal> {
    let request = Request {
        job: &old.job,
        args: old.args.clone(),
        env: old.env.clone(),
        by,
    };
    let (mut run, concurrency) = new_run(request, published, local, settings)?;
    run.trigger = Trigger::Rerun;
    run.rerun_of = Some(old.id.clone());
    Ok((run, concurrency))
}

/// A run queued by [`queue_by_policy`], or why it was not.
pub struct Queued {
    /// The run queued, or `StoreError::Busy` naming the run that holds the job when
    /// `concurrency: forbid` refused it; nothing was queued then.
    pub run: Result<Run, StoreError>,
    /// The running runs asked to stop first (`concurrency: replace`).
    pub replaced: Vec<RunId>,
}

/// Queues the run as the job's `concurrency` asks, as a fire would be: `replace` first
/// asks its running run to stop (the new one waits for the lock, then runs); `forbid`
/// is refused, with nothing queued, while another run of the job is running or queued
/// (the store checks and queues in one step), unless `force`.
pub async fn queue_by_policy(
    store: &dyn Store,
    mut run: NewRun,
    concurrency: Option<Concurrency>,
    force: bool,
) -> Result<Queued, StoreError> {
    let mut replaced = Vec::new();
    match concurrency {
        Some(Concurrency::Replace) => replaced = fire::replace_running(store, &run.job).await?,
        Some(Concurrency::Forbid) => run.forced = force,
        _ => {}
    }
    match store.enqueue_if_idle(run).await {
        Ok(run) => Ok(Queued {
            run: Ok(run),
            replaced,
        }),
        Err(busy @ StoreError::Busy { .. }) => Ok(Queued {
            run: Err(busy),
            replaced,
        }),
        Err(error) => Err(error),
    }
}

/// Says where the job was looked for, and the closest name known.
pub fn unknown_job(
    name: &str,
    published: Option<&PublishedSchedule>,
    local: Option<&Schedule>,
    settings: &Settings,
) -> Refusal {
    let (path, source) = &settings.schedule;
    if published.is_none() && local.is_none() {
        return Refusal::UnknownJob(format!(
            "no job `{name}`: no daemon has published a schedule to {}, and there is no schedule file at {} ({source}); name one with --schedule FILE",
            settings.store,
            path.display()
        ));
    }
    let mut names: Vec<&str> = Vec::new();
    let mut looked = Vec::new();
    if let Some(published) = published {
        names.extend(published.jobs.iter().map(|job| job.name.as_str()));
        looked.push("the schedule the daemons published".to_string());
    }
    let file = path.display();
    match local {
        Some(local) => {
            names.extend(local.jobs.iter().map(|job| job.name.as_str()));
            looked.push(file.to_string());
        }
        None => looked.push(format!("{file}, which does not exist")),
    }
    let hint = match diagnostic::closest(name, names.iter().copied()) {
        Some(close) => format!("; did you mean `{close}`?"),
        None => String::new(),
    };
    Refusal::UnknownJob(format!(
        "no job `{name}` in {}{hint}",
        looked.join(" or in ")
    ))
}

/// `cli:USER`: the user who ran `cronq run`, by name where the host knows it.
pub fn cli_user() -> String {
    let uid = nix::unistd::getuid();
    let name = nix::unistd::User::from_uid(uid)
        .ok()
        .flatten()
        .map_or_else(|| uid.to_string(), |user| user.name);
    format!("cli:{name}")
}

/// Reads the run until it has ended, or `deadline` passed: `None` then.
pub async fn wait_for_end(
    store: &dyn Store,
    id: &str,
    deadline: Instant,
) -> Result<Option<Run>, StoreError> {
    loop {
        let run = store.run(id).await?;
        if run.status.is_finished() {
            return Ok(Some(run));
        }
        if Instant::now() >= deadline {
            return Ok(None);
        }
        tokio::time::sleep(POLL).await;
    }
}

/// Follows a run and each retry of it until the last attempt has ended, `deadline`
/// passed or `stop` is cancelled: the run as it is then, finished or not.
pub async fn follow(
    store: &dyn Store,
    first: Run,
    deadline: Instant,
    stop: &CancellationToken,
) -> Result<Run, StoreError> {
    let mut current = first;
    loop {
        let ended = tokio::select! {
            ended = wait_for_end(store, &current.id, deadline) => ended?,
            () = stop.cancelled() => None,
        };
        let Some(ended) = ended else {
            return store.run(&current.id).await;
        };
        match next_attempt(store, &ended).await? {
            Some(retry) => current = retry,
            None => return Ok(ended),
        }
    }
}

/// The retry the store queued for a run that failed with attempts left.
pub async fn next_attempt(store: &dyn Store, run: &Run) -> Result<Option<Run>, StoreError> {
    let retried = matches!(
        run.status,
        RunStatus::Failed | RunStatus::TimedOut | RunStatus::Lost
    );
    if !retried || run.attempt >= run.max_attempts {
        return Ok(None);
    }
    // The store queues the retry in the same step that ends the run.
    let filter = HistoryFilter {
        job: Some(run.job.clone()),
        statuses: Vec::new(),
        since: Some(run.queued_at),
        limit: 0,
    };
    let runs = store.history(&filter).await?;
    Ok(runs
        .into_iter()
        .find(|retry| retry.retry_of() == Some(run.id.as_str())))
}
