//! One run's life, from its reservation to its end in the store: the job looked up in
//! the worker's schedule, the child started, its lease kept, its output captured, and
//! whichever comes first of its exit, its timeout, a cancel, the worker's stop or the
//! loss of its lease; then its group ended, its outcome recorded, and `on_failure` and the job's notifications.
//! A job with `lock: host` takes its file lock before its child starts, and may be
//! skipped or wait for it there.

use std::io;
use std::os::fd::AsFd;
use std::process::{ExitStatus, Stdio};
use std::sync::Arc;
use std::time::Duration;

use tokio::process::Child;
use tokio::sync::watch;
use tokio::time::{Instant, sleep, sleep_until, timeout};
use tokio_util::either::Either;
use tokio_util::sync::CancellationToken;

use super::Shared;
use super::finish::{self, NextRun};
use super::host_lock::HostLock;
use super::kill::Group;
use super::on_failure;
use super::output::{self, Source};
use super::progress;
use super::spawn::{Inherit, Launch};
use crate::schedule::{Concurrency, Job, Lock, Schedule, Stderr, run_env};
use crate::store::{Lease, Outcome, Run, RunStatus, Store, StoreError, Trigger};

/// How long the output pipes may stay open once the job's group is gone.
const OUTPUT_PATIENCE: Duration = Duration::from_secs(2);
/// How often a run waiting for its job's host lock tries it again.
const HOST_LOCK_POLL: Duration = Duration::from_millis(100);

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
/// at the run's start; `(cancel, kill)` are the run's cancel (fired by the worker's
/// cancel listener, or by the lease renewal) and the worker's stop, after the stop
/// grace. Returns the next run, when the step that recorded the end took one from `next`.
pub(super) async fn execute(
    shared: &Shared,
    schedule: &Schedule,
    run: Run,
    lease: Lease,
    (cancel, kill): (&CancellationToken, &CancellationToken),
    next: &NextRun<'_>,
) -> Option<(Run, Lease)> {
    let reserved = Instant::now();
    let (lease_tx, lease_rx) = watch::channel(lease);
    let lost = CancellationToken::new();
    let keeper = keep_lease(
        shared.store.clone(),
        lease_tx,
        shared.config.lease,
        cancel.clone(),
        lost.clone(),
    );
    let job = schedule.job(&run.job);
    // `ping:`'s start, sent once the child started: the end's ping goes after it.
    let mut start_ping = None;
    let work = async {
        let Some(job) = job else {
            let reason = format!("job `{}` is not in this worker's schedule", run.job);
            return Ended::Outcome(finish::failed(reason));
        };
        if let Some(reason) = refusal(job, &run) {
            return Ended::Outcome(finish::failed(reason));
        }
        let signals = Signals {
            cancel,
            lost: &lost,
            kill,
        };
        live(
            shared,
            job,
            &run,
            lease_rx.clone(),
            signals,
            &mut start_ping,
        )
        .await
    };
    // The lease is kept beside the run, in its task; it stops with the run, before the
    // end is recorded: an extend after it would only fail.
    let ended = tokio::select! {
        ended = work => ended,
        never = keeper => match never {},
    };
    let outcome = match ended {
        Ended::Outcome(outcome) => outcome,
        Ended::LeaseLost => {
            tracing::warn!(
                run = %run.id,
                job = %run.job,
                "the run's lease was lost (reaped, it may run elsewhere): its process group \
                 is killed and its end is not recorded"
            );
            return None;
        }
    };
    log_end(&run, &outcome, reserved.elapsed());
    let lease = lease_rx.borrow().clone();
    let retry_in = finish::retry_in(&run);
    // A failure that may start `on_failure` takes no next run: that run's lease would run
    // down, unkept, while `on_failure` runs.
    let may_run_on_failure = matches!(outcome.status, RunStatus::Failed | RunStatus::TimedOut)
        && job.is_some_and(|job| job.on_failure.is_some());
    let next = (!may_run_on_failure).then_some(next);
    let (finished, next) =
        finish::record(&*shared.store, &lease, outcome.clone(), retry_in, next).await?;
    if let Some(url) = job.and_then(|job| job.ping.as_ref())
        && finished.run.status != RunStatus::Skipped
    {
        let store = shared.store.clone();
        crate::notify::ping::ended(store, url, start_ping.take(), &finished.run);
    }
    if finished.retry.is_none()
        && let Some(job) = job
    {
        crate::notify::run_ended(shared.store.clone(), job, &finished.run);
    }
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
        on_failure::run(command, job, &run, &outcome, &shared.contain, kill).await;
    }
    next
}

/// Why the worker starts nothing for `run` of `job`: the run brings more than its job
/// takes. Nothing read from the queue may change what is executed.
fn refusal(job: &Job, run: &Run) -> Option<String> {
    if !run.args.is_empty() && !job.allow_args {
        return Some(format!(
            "job `{}` does not take arguments (allow_args is false)",
            run.job
        ));
    }
    let names = run.env.keys().map(String::as_str);
    run_env::check_run_env(&job.name, &job.allow_env, names).err()
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
    start_ping: &mut Option<tokio::task::JoinHandle<()>>,
) -> Ended {
    let config = &shared.config;
    // The worker's copy of the lock; the child gets one of its own (see `host_lock.rs`).
    let host_lock = match take_host_lock(shared, job, run, &signals).await {
        Ok(lock) => lock,
        Err(ended) => return ended,
    };
    let (progress_pipe, progress_write) = match progress::open() {
        Ok(pipe) => pipe,
        Err(error) => {
            let reason = format!("cannot make the run's progress pipe: {error}");
            return Ended::Outcome(finish::failed(reason));
        }
    };
    // No store address and no password: the job reports progress through the pipe.
    let cronq_env = [
        ("CRONQ_RUN_ID", run.id.clone()),
        ("CRONQ_JOB", run.job.clone()),
        ("CRONQ_ATTEMPT", run.attempt.to_string()),
        ("CRONQ_PROGRESS_FD", progress::PROGRESS_FD.to_string()),
        ("CRONQ_BIN", config.cronq_bin.display().to_string()),
    ];
    // Every name was checked against the job's `allow_env` (see `refusal`).
    let env = run.env.iter().map(|(k, v)| (k.clone(), v.clone()));
    let mut inherit = vec![Inherit {
        fd: progress_write.as_fd(),
        at: Some(progress::PROGRESS_FD),
    }];
    if let Some(lock) = &host_lock {
        inherit.push(Inherit {
            fd: lock.as_fd(),
            at: None,
        });
    }
    // `stderr: stdout`: one pipe for both, read in the exact order written.
    let (stdout, stderr, merged) = match job.stderr {
        Stderr::Separate => (Stdio::piped(), Stdio::piped(), None),
        Stderr::Stdout => match output::merged_pipe() {
            Ok((stdout, stderr, read)) => (stdout, stderr, Some(read)),
            Err(error) => {
                let reason = format!("cannot make the job's output pipe: {error}");
                return Ended::Outcome(finish::failed(reason));
            }
        },
    };
    let launch = Launch {
        job,
        command: &job.command,
        args: &run.args,
        env: env
            .chain(cronq_env.map(|(k, v)| (k.to_string(), v)))
            .collect(),
        stdout,
        stderr,
        inherit,
        cgroup: None,
    };
    let mut group = match shared.contain.members(&format!("run-{}", run.id), &run.id) {
        Ok(members) => Group::new(members, job.kill_grace),
        Err(reason) => return Ended::Outcome(finish::failed(reason)),
    };
    let started = group.start(launch);
    // The job has its copy of the write end; the pipe ends when the job's copies do.
    drop(progress_write);
    let mut child = match started {
        Ok(child) => child,
        Err(reason) => return Ended::Outcome(finish::failed(reason)),
    };
    let started = Instant::now();
    let pid = child.id().expect("a child that was just started has a pid");
    tracing::info!(run = %run.id, job = %run.job, attempt = run.attempt, pid, "run started");
    if let Some(url) = &job.ping {
        *start_ping = Some(crate::notify::ping::started(url, run));
    }

    let (stdout, stderr) = match merged {
        None => (
            Either::Left(child.stdout.take().expect("the launch pipes stdout")),
            Either::Left(child.stderr.take().expect("the launch pipes stderr")),
        ),
        Some(pipe) => (Either::Right(pipe), Either::Right(tokio::io::empty())),
    };
    let source = Source {
        run: run.id.clone(),
        job: run.job.clone(),
    };
    let (output_read, capture) =
        output::capture(shared.store.clone(), lease, source, stdout, stderr);
    let ended = CancellationToken::new();
    let progress = progress::record(&*shared.store, &run.id, progress_pipe, &ended);
    let watch = async {
        let stopped = watch_child(&mut child, &mut group, job, started, &signals).await;
        // The run has ended: the worker's copy of the host lock goes. What is left of the
        // job holding the child's copy (nothing, unless it left its group) keeps the lock.
        drop(host_lock);
        ended.cancel();
        output_read.after(OUTPUT_PATIENCE);
        stopped
    };
    // In the run's own task: one task per run, whatever its output.
    let ((status, stop), (), ()) = tokio::join!(watch, capture, progress);

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

/// Waits for the child's exit, or ends it on its timeout, a cancel, the worker's stop or
/// the loss of its lease; then ends what is left of its processes. Returns its exit
/// status and what ended it.
async fn watch_child(
    child: &mut Child,
    group: &mut Group,
    job: &Job,
    started: Instant,
    signals: &Signals<'_>,
) -> (io::Result<ExitStatus>, Stop) {
    let timeout_at = job.timeout.map(|limit| started + limit);
    let stop = tokio::select! {
        status = child.wait() => Ok(status),
        _ = sleep_until(timeout_at.unwrap_or(started)), if timeout_at.is_some() => {
            Err(Stop::TimedOut(job.timeout.unwrap_or_default()))
        }
        _ = signals.cancel.cancelled() => Err(Stop::Cancelled("cancelled")),
        _ = signals.kill.cancelled() => Err(Stop::Cancelled("the worker stopped")),
        _ = signals.lost.cancelled() => Err(Stop::LeaseLost),
        never = group.track() => match never {},
    };
    let stopped = match stop {
        Ok(status) => (status, Stop::Exited),
        Err(stop) => (group.stop_leader(child).await, stop),
    };
    group.end().await;
    stopped
}

/// The job's host lock, taken before its child starts, when it has `lock: host` and a
/// policy other than `allow` (`None` otherwise). When another run holds it, `forbid`
/// records this run `skipped` (a forced run runs without the lock instead, and a
/// backfill's run waits); `queue` and
/// `replace` (whose running run the daemon or `cronq run` has already asked to stop)
/// wait for it, while the lease is kept, until a cancel, the worker's stop or the loss
/// of the lease ends the wait.
async fn take_host_lock(
    shared: &Shared,
    job: &Job,
    run: &Run,
    signals: &Signals<'_>,
) -> Result<Option<HostLock>, Ended> {
    if job.lock != Lock::Host || job.concurrency == Concurrency::Allow {
        return Ok(None);
    }
    let state_dir = &shared.config.state_dir;
    let mut waiting = false;
    loop {
        match HostLock::try_take(state_dir, &job.name) {
            Ok(Some(lock)) => {
                if waiting {
                    tracing::info!(run = %run.id, job = %run.job, "took the host lock");
                }
                return Ok(Some(lock));
            }
            // `cronq run --force` starts it anyway, without the lock.
            Ok(None) if run.forced => return Ok(None),
            // A backfill's runs wait for each other: every instant of it is to run.
            Ok(None)
                if job.concurrency == Concurrency::Forbid && run.trigger != Trigger::Backfill =>
            {
                let reason = format!(
                    "skipped: job `{}` is still running on this host (lock: host)",
                    job.name
                );
                return Err(Ended::Outcome(finish::without_process(
                    RunStatus::Skipped,
                    reason,
                )));
            }
            Ok(None) => {}
            Err(error) => {
                let path = HostLock::path(state_dir, &job.name);
                return Err(Ended::Outcome(finish::failed(format!(
                    "cannot take the host lock {}: {error}",
                    path.display()
                ))));
            }
        }
        if !waiting {
            tracing::info!(
                run = %run.id,
                job = %run.job,
                "waiting for the host lock: the job is still running on this host"
            );
            waiting = true;
        }
        let stopped = |reason: &str| {
            Err(Ended::Outcome(finish::without_process(
                RunStatus::Cancelled,
                reason.to_string(),
            )))
        };
        tokio::select! {
            _ = sleep(HOST_LOCK_POLL) => {}
            _ = signals.cancel.cancelled() => return stopped("cancelled"),
            _ = signals.kill.cancelled() => return stopped("the worker stopped"),
            _ = signals.lost.cancelled() => return Err(Ended::LeaseLost),
        }
    }
}

/// Extends the lease about every third of it until the run ends (the caller drops it);
/// a cancel request fires `cancel` (the worker's cancel listener is faster: this is its
/// backstop); a lost lease fires `lost`, and nothing more is tried.
async fn keep_lease(
    store: Arc<dyn Store>,
    lease: watch::Sender<Lease>,
    lease_for: Duration,
    cancel: CancellationToken,
    lost: CancellationToken,
) -> std::convert::Infallible {
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
                return std::future::pending().await;
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
