//! `cronq cancel`: take a queued run out of its queue, or ask the worker running one to
//! stop it and wait until it has ended, then say how it ended. The store records
//! `cancelled`; a worker kills the run's process group. `run --cancel-on-interrupt`
//! waits the same way, with the helpers here.

use std::time::Duration;

use tokio::time::Instant;

use super::args::CancelArgs;
use super::runs::{Naming, find};
use super::{CliError, Loaded, output, signals};
pub use crate::manual::wait_for_end;
use crate::schedule::DEFAULT_KILL_GRACE;
use crate::settings::Settings;
use crate::store::{Cancelled, Run, RunStatus, StoreError};

/// Beyond the job's `kill_grace`: the worker's look for cancel requests (a second at
/// most), the kill, and recording the end.
const MARGIN: Duration = Duration::from_secs(5);

pub fn run(
    args: &CancelArgs,
    settings: &Settings,
    env: &dyn Fn(&str) -> Option<String>,
) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let store = settings.store.open(&settings.redis_prefix).await?;
        let id = find(store.as_ref(), &args.run_id, Naming::IdOnly).await?.id;
        match store.cancel(&id).await {
            Ok(Cancelled::Dequeued) => output::say!("cancelled run {id} (it was queued)")?,
            Ok(Cancelled::Requested) if args.no_wait => {
                output::say!("asked the worker to stop run {id}")?
            }
            Ok(Cancelled::Requested) => {
                let asked = Instant::now();
                let job = store.run(&id).await?.job;
                let patience = patience(settings, env, &job);
                let interrupt = signals::interrupt()?;
                let ended = tokio::select! {
                    ended = wait_for_end(&*store, &id, asked + patience) => ended?,
                    () = interrupt => {
                        output::note!("cronq: not waiting any longer; run {id} is being stopped");
                        return Err(CliError::Exit(signals::INTERRUPTED).into());
                    }
                };
                match ended {
                    Some(run) if run.status == RunStatus::Cancelled => {
                        output::say!("{}", how_it_ended(&run, asked.elapsed()))?;
                    }
                    Some(run) => {
                        return Err(CliError::Failed(how_it_ended(&run, asked.elapsed())).into());
                    }
                    None => return Err(still_running(&id, asked.elapsed()).into()),
                }
            }
            Err(StoreError::WrongStatus { status, .. }) => {
                return Err(CliError::Failed(format!("run {id} already {status}")).into());
            }
            Err(StoreError::NotFound(_)) => {
                return Err(CliError::Usage(format!(
                    "no run {id} in the store; `cronq history` lists the runs it keeps"
                ))
                .into());
            }
            Err(error) => return Err(error.into()),
        }
        Ok(())
    })
}

/// How long a cancelled run of `job` may take to end: its `kill_grace` in the local
/// schedule (the default when the file or the job is not there) plus a margin.
pub fn patience(settings: &Settings, env: &dyn Fn(&str) -> Option<String>, job: &str) -> Duration {
    let kill_grace = Loaded::of(settings.clone(), env)
        .ok()
        .and_then(|loaded| loaded.schedule.job(job).map(|job| job.kill_grace))
        .unwrap_or(DEFAULT_KILL_GRACE);
    kill_grace + MARGIN
}

/// `run ID cancelled after 0.4s (signal 15)`, or, for a run that ended otherwise,
/// `run ID ended succeeded before the cancel took effect`.
pub fn how_it_ended(run: &Run, after: Duration) -> String {
    let id = &run.id;
    if run.status != RunStatus::Cancelled {
        return format!(
            "run {id} ended {} before the cancel took effect",
            run.status
        );
    }
    let how = match (run.signal, run.exit_code) {
        (Some(signal), _) => format!(" (signal {signal})"),
        (None, Some(code)) => format!(" (exit code {code})"),
        (None, None) => String::new(),
    };
    let after = output::seconds(after.as_secs_f64());
    format!("run {id} cancelled after {after}{how}")
}

/// The error for a run still running when the wait is over.
pub fn still_running(id: &str, after: Duration) -> CliError {
    CliError::Failed(format!(
        "run {id} is still running {} after the cancel; its worker may be down or still stopping it (`cronq show {id}`)",
        output::seconds(after.as_secs_f64())
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{NewRun, Trigger};

    fn run(status: RunStatus, signal: Option<i32>, exit_code: Option<i32>) -> Run {
        let new = NewRun::manual("j", "default");
        Run {
            id: "01J".into(),
            job: new.job,
            queue: new.queue,
            status,
            trigger: Trigger::Manual,
            scheduled_for: None,
            attempt: 1,
            max_attempts: 1,
            retry_of: None,
            host: None,
            worker: None,
            exit_code,
            signal,
            queued_at: chrono::Utc::now(),
            started_at: None,
            finished_at: None,
            progress: None,
            message: None,
            reason: None,
            args: Vec::new(),
            env: Default::default(),
            not_before: None,
            lock: None,
            cancel_requested: true,
            by: None,
            forced: false,
        }
    }

    #[test]
    fn the_end_says_how_long_it_took_and_how_the_job_went() {
        let after = Duration::from_millis(420);
        let by_signal = run(RunStatus::Cancelled, Some(15), None);
        assert_eq!(
            how_it_ended(&by_signal, after),
            "run 01J cancelled after 0.4s (signal 15)"
        );
        let by_exit = run(RunStatus::Cancelled, None, Some(0));
        assert_eq!(
            how_it_ended(&by_exit, after),
            "run 01J cancelled after 0.4s (exit code 0)"
        );
        let first = run(RunStatus::Succeeded, None, Some(0));
        assert_eq!(
            how_it_ended(&first, after),
            "run 01J ended succeeded before the cancel took effect"
        );
    }
}
