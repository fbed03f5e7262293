//! One run's life, from its reservation to its end in the store: the job looked up in
//! the worker's schedule, the child started, its lease kept, its output captured, and
//! whichever comes first of its exit, its timeout, a cancel, the worker's stop or the
//! loss of its lease; then its group ended, its outcome recorded, and `on_failure`.

use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::AsyncRead;
use tokio::sync::watch;
use tokio::time::{Instant, sleep_until, timeout};
use tokio_util::sync::CancellationToken;

use super::Shared;
use super::finish;
use super::kill::Group;
use super::on_failure;
use super::output::{Capture, Source};
use super::spawn::{self, Launch};
use crate::schedule::{Job, Schedule};
use crate::store::{Lease, Outcome, Run, RunStatus, Store, StoreError};

/// How long the output pipes may stay open once the job's group is gone.
const OUTPUT_PATIENCE: Duration = Duration::from_secs(2);

/// How a run's supervision ended.
enum Ended {
    /// With an outcome to record.
    Outcome(Outcome),
    /// The lease is gone: the run was reaped and may run elsewhere; nothing is recorded.
    LeaseLost,
}

/// What ended the child, besides its own exit.
enum Stop {
    Exited,
    TimedOut(Duration),
    Cancelled(&'static str),
    LeaseLost,
}

/// Executes one reserved run to its end in the store. `schedule` is the worker's copy
/// at the run's start; `kill` is the worker's stop, after the stop grace.
pub(super) async fn execute(
    shared: &Shared,
    schedule: &Schedule,
    run: Run,
    lease: Lease,
    kill: &CancellationToken,
) {
    let reserved = Instant::now();
    let (lease_tx, lease_rx) = watch::channel(lease);
    let cancel = CancellationToken::new();
    let lost = CancellationToken::new();
    let keeper = tokio::spawn(keep_lease(
        shared.store.clone(),
        lease_tx,
        shared.config.lease,
        cancel.clone(),
        lost.clone(),
    ));
    let job = schedule.job(&run.job);
    let ended = match job {
        None => Ended::Outcome(finish::failed(format!(
            "job `{}` is not in this worker's schedule",
            run.job
        ))),
        Some(job) if !run.args.is_empty() && !job.allow_args => {
            Ended::Outcome(finish::failed(format!(
                "job `{}` does not take arguments (allow_args is false)",
                run.job
            )))
        }
        Some(job) => {
            let signals = Signals {
                cancel: &cancel,
                lost: &lost,
                kill,
            };
            live(shared, job, &run, lease_rx.clone(), signals).await
        }
    };
    // Stopped before the end is recorded: an extend after it would only fail.
    keeper.abort();
    let _ = keeper.await;
    let outcome = match ended {
        Ended::Outcome(outcome) => outcome,
        Ended::LeaseLost => {
            tracing::warn!(
                run = %run.id,
                job = %run.job,
                "the run's lease was lost (reaped, it may run elsewhere): its process group \
                 is killed and its end is not recorded"
            );
            return;
        }
    };
    log_end(&run, &outcome, reserved.elapsed());
    let lease = lease_rx.borrow().clone();
    let retry_in = finish::retry_in(&run);
    let Some(finished) = finish::record(&*shared.store, &lease, outcome.clone(), retry_in).await
    else {
        return;
    };
    if let Some(retry) = &finished.retry {
        tracing::info!(
            run = %run.id,
            job = %run.job,
            retry = %retry.id,
            attempt = retry.attempt,
            retry_in_s = retry_in.as_secs_f64(),
            "run retried",
        );
    } else if matches!(outcome.status, RunStatus::Failed | RunStatus::TimedOut)
        && let Some(job) = job
        && let Some(command) = &job.on_failure
    {
        on_failure::run(command, job, &run, &outcome, &shared.config.store_url, kill).await;
    }
}

/// The tokens that may end a run early.
struct Signals<'a> {
    /// A cancel was requested (`cronq cancel`).
    cancel: &'a CancellationToken,
    /// The lease is gone.
    lost: &'a CancellationToken,
    /// The worker stopped and the stop grace is over.
    kill: &'a CancellationToken,
}

/// Starts the child and watches it to its end, its group's end and its output's end.
async fn live(
    shared: &Shared,
    job: &Job,
    run: &Run,
    lease: watch::Receiver<Lease>,
    signals: Signals<'_>,
) -> Ended {
    let config = &shared.config;
    let cronq_env = [
        ("CRONQ_RUN_ID", run.id.clone()),
        ("CRONQ_JOB", run.job.clone()),
        ("CRONQ_ATTEMPT", run.attempt.to_string()),
        ("CRONQ_STORE", config.store_url.clone()),
    ];
    let env = run.env.iter().map(|(k, v)| (k.clone(), v.clone()));
    let launch = Launch {
        job,
        command: &job.command,
        args: &run.args,
        env: env
            .chain(cronq_env.map(|(k, v)| (k.to_string(), v)))
            .collect(),
        stdout: Stdio::piped(),
        stderr: Stdio::piped(),
    };
    let mut child = match spawn::start(launch) {
        Ok(child) => child,
        Err(reason) => return Ended::Outcome(finish::failed(reason)),
    };
    let started = Instant::now();
    let pid = child.id().expect("a child that was just started has a pid");
    tracing::info!(run = %run.id, job = %run.job, attempt = run.attempt, pid, "run started");

    let mut pipes: Vec<(&'static str, Box<dyn AsyncRead + Send + Unpin>)> = Vec::new();
    if let Some(stdout) = child.stdout.take() {
        pipes.push(("stdout", Box::new(stdout)));
    }
    if let Some(stderr) = child.stderr.take() {
        pipes.push(("stderr", Box::new(stderr)));
    }
    let source = Source {
        run: run.id.as_str().into(),
        job: run.job.as_str().into(),
    };
    let capture = Capture::start(shared.store.clone(), lease, source, pipes);

    let mut group = Group::new(pid, job.kill_grace);
    let timeout_at = job.timeout.map(|limit| started + limit);
    let stop = tokio::select! {
        status = child.wait() => Ok(status),
        _ = sleep_until(timeout_at.unwrap_or(started)), if timeout_at.is_some() => {
            Err(Stop::TimedOut(job.timeout.unwrap_or_default()))
        }
        _ = signals.cancel.cancelled() => Err(Stop::Cancelled("cancelled")),
        _ = signals.kill.cancelled() => Err(Stop::Cancelled("the worker stopped")),
        _ = signals.lost.cancelled() => Err(Stop::LeaseLost),
    };
    let (status, stop) = match stop {
        Ok(status) => (status, Stop::Exited),
        Err(stop) => (group.stop_leader(&mut child).await, stop),
    };
    group.end().await;
    capture.finish(OUTPUT_PATIENCE).await;

    match stop {
        Stop::Exited => Ended::Outcome(finish::exited(&status)),
        Stop::TimedOut(limit) => {
            let reason = format!("timed out after {}", humantime::format_duration(limit));
            Ended::Outcome(finish::ended(RunStatus::TimedOut, &status, Some(reason)))
        }
        Stop::Cancelled(reason) => Ended::Outcome(finish::ended(
            RunStatus::Cancelled,
            &status,
            Some(reason.to_string()),
        )),
        Stop::LeaseLost => Ended::LeaseLost,
    }
}

/// Extends the lease about every third of it until aborted; a cancel request fires
/// `cancel`, a lost lease fires `lost` and ends it.
async fn keep_lease(
    store: Arc<dyn Store>,
    lease: watch::Sender<Lease>,
    lease_for: Duration,
    cancel: CancellationToken,
    lost: CancellationToken,
) {
    let every = lease_for / 3;
    loop {
        tokio::time::sleep(every).await;
        let current = lease.borrow().clone();
        match timeout(every, store.extend(&current, lease_for)).await {
            Ok(Ok((renewed, cancel_requested))) => {
                lease.send_replace(renewed);
                if cancel_requested {
                    cancel.cancel();
                }
            }
            Ok(Err(StoreError::LeaseLost(_) | StoreError::NotFound(_))) => {
                lost.cancel();
                return;
            }
            Ok(Err(error)) => {
                tracing::warn!(run = %current.run, %error, "cannot extend the run's lease");
            }
            Err(_) => {
                tracing::warn!(
                    run = %current.run,
                    "the store took too long to extend the run's lease",
                );
            }
        }
    }
}

/// The one log line of a run's end.
fn log_end(run: &Run, outcome: &Outcome, duration: Duration) {
    tracing::info!(
        run = %run.id,
        job = %run.job,
        attempt = run.attempt,
        status = %outcome.status,
        exit_code = outcome.exit_code,
        signal = outcome.signal,
        reason = outcome.reason.as_deref(),
        duration_s = (duration.as_millis() as f64) / 1000.0,
        "run finished"
    );
}
