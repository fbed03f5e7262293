//! The end of a run: its outcome from the child's exit status, the backoff before its
//! next attempt, and recording it in the store.

use std::io;
use std::os::unix::process::ExitStatusExt;
use std::process::ExitStatus;
use std::time::Duration;

use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::observed::{SkipReason, observed};
use crate::schedule::fnv1a;
use crate::store::{Finished, Lease, Outcome, Run, RunStatus, Store, StoreError, WorkerRef};

/// The delay before the second attempt; it doubles with each attempt after that...
const FIRST_RETRY: Duration = Duration::from_secs(10);
/// ...up to this.
const MAX_RETRY: Duration = Duration::from_secs(10 * 60);
/// How long to wait between tries of a `finish` the store did not take.
const FINISH_PAUSE: Duration = Duration::from_secs(1);

/// The outcome of a child that exited on its own: 0 succeeded, anything else failed,
/// with the exit code or the signal that killed it.
pub fn exited(status: &io::Result<ExitStatus>) -> Outcome {
    let mut outcome = ended(RunStatus::Failed, status, None);
    if outcome.exit_code == Some(0) {
        outcome.status = RunStatus::Succeeded;
    }
    outcome
}

/// An outcome with `status` and `reason`, and the exit code or signal of the child.
pub fn ended(status: RunStatus, exit: &io::Result<ExitStatus>, reason: Option<String>) -> Outcome {
    match exit {
        Ok(exit) => Outcome {
            status,
            exit_code: exit.code(),
            signal: exit.signal(),
            reason,
        },
        Err(error) => Outcome {
            status,
            exit_code: None,
            signal: None,
            reason: reason.or_else(|| Some(format!("cannot wait for the job: {error}"))),
        },
    }
}

/// An outcome for a run that failed before or without a process.
pub fn failed(reason: String) -> Outcome {
    without_process(RunStatus::Failed, reason)
}

/// An outcome with `status` and `reason` for a run whose child was never started.
pub fn without_process(status: RunStatus, reason: String) -> Outcome {
    Outcome {
        status,
        exit_code: None,
        signal: None,
        reason: Some(reason),
    }
}

/// The delay before the run's next attempt: 10 s × 2^(attempt − 1), at most 10 min, plus
/// up to 20% derived from the run's id, so that runs failing together do not all come
/// back at the same instant.
pub fn retry_in(run: &Run) -> Duration {
    let doublings = run.attempt.saturating_sub(1).min(16);
    let base = (FIRST_RETRY * 2u32.pow(doublings)).min(MAX_RETRY);
    let jitter_permille = fnv1a(run.id.as_bytes()) % 1000;
    base + base.mul_f64(0.2 * jitter_permille as f64 / 1000.0)
}

/// Where a run's slot takes its next run from, in the store step that records the end
/// of its last one (`Store::finish_and_reserve`): one step per run instead of two.
pub struct NextRun<'a> {
    pub queues: &'a [String],
    pub worker: &'a WorkerRef,
    pub lease_for: Duration,
    /// A stopping worker takes no new run.
    pub stop: &'a CancellationToken,
}

/// Records the outcome, and takes the next run with it when `next` is given and the
/// worker is not stopping. A store that fails is tried again while the lease lasts;
/// `None` when the outcome could not be recorded (the lease is gone: the run may run
/// again).
pub async fn record(
    store: &dyn Store,
    lease: &Lease,
    outcome: Outcome,
    retry_in: Duration,
    next: Option<&NextRun<'_>>,
) -> Option<(Finished, Option<(Run, Lease)>)> {
    let expires_in = (lease.expires_at - chrono::Utc::now())
        .to_std()
        .unwrap_or_default();
    let deadline = Instant::now() + expires_in;
    loop {
        let recorded = match next.filter(|next| !next.stop.is_cancelled()) {
            Some(next) => {
                store
                    .finish_and_reserve(
                        lease,
                        outcome.clone(),
                        retry_in,
                        next.queues,
                        next.worker,
                        next.lease_for,
                    )
                    .await
            }
            None => store
                .finish(lease, outcome.clone(), retry_in)
                .await
                .map(|finished| (finished, None)),
        };
        match recorded {
            Ok(recorded) => {
                let run = &recorded.0.run;
                match run.status {
                    // The one skip a worker records: its host lock was busy.
                    RunStatus::Skipped => observed().skipped(run, SkipReason::host_lock),
                    _ => observed().run_finished(run),
                }
                return Some(recorded);
            }
            Err(error @ (StoreError::Unreachable { .. } | StoreError::Failed(_)))
                if Instant::now() + FINISH_PAUSE < deadline =>
            {
                tracing::warn!(
                    run = %lease.run,
                    %error,
                    "cannot record the run's end; trying again",
                );
                tokio::time::sleep(FINISH_PAUSE).await;
            }
            Err(error) => {
                tracing::warn!(
                    run = %lease.run,
                    status = %outcome.status,
                    %error,
                    "the run's end is not recorded: once its lease expires it becomes lost"
                );
                return None;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(id: &str, attempt: u32) -> Run {
        Run {
            id: id.into(),
            job: "j".into(),
            queue: "default".into(),
            status: RunStatus::Running,
            trigger: crate::store::Trigger::Manual,
            scheduled_for: None,
            attempt,
            max_attempts: 5,
            retry_of: None,
            host: None,
            worker: None,
            exit_code: None,
            signal: None,
            queued_at: chrono::Utc::now(),
            started_at: None,
            finished_at: None,
            progress: None,
            message: None,
            reason: None,
            args: vec![],
            env: Default::default(),
            not_before: None,
            lock: None,
            cancel_requested: false,
            by: None,
            forced: false,
        }
    }

    #[test]
    fn the_backoff_doubles_from_10s_up_to_10min_with_up_to_20_percent_more() {
        for (attempt, base) in [(1, 10), (2, 20), (3, 40), (6, 320), (7, 600), (40, 600)] {
            for id in ["01A", "01B", "01C", "01KZZZ"] {
                let delay = retry_in(&run(id, attempt));
                let base = Duration::from_secs(base);
                assert!(
                    delay >= base && delay <= base.mul_f64(1.2),
                    "attempt {attempt}: {delay:?}"
                );
            }
        }
    }

    #[test]
    fn the_jitter_is_fixed_by_the_run_id() {
        assert_eq!(retry_in(&run("01ABC", 2)), retry_in(&run("01ABC", 2)));
        assert_ne!(retry_in(&run("01ABC", 2)), retry_in(&run("01ABD", 2)));
    }

    #[test]
    fn exit_codes_and_signals_become_outcomes() {
        let status = |raw: i32| Ok(ExitStatus::from_raw(raw));
        let ok = exited(&status(0));
        assert_eq!(
            (ok.status, ok.exit_code, ok.signal),
            (RunStatus::Succeeded, Some(0), None)
        );
        let failed = exited(&status(3 << 8));
        assert_eq!(
            (failed.status, failed.exit_code, failed.signal),
            (RunStatus::Failed, Some(3), None)
        );
        let killed = exited(&status(9));
        assert_eq!(
            (killed.status, killed.exit_code, killed.signal),
            (RunStatus::Failed, None, Some(9))
        );
    }
}
