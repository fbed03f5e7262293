//! Notifications: when a run's end changes its job's health (`failing`, a reminder,
//! `recovered`) or is a failure (`every_failure`), when the watchdog sees a job
//! `stalled` or a run `overdue`, and when an instant is `skipped`, the job's `notify`
//! targets that asked for the event hear of it. Each change is recorded once in the
//! store's outbox under a key that names it, however many daemons and workers see it,
//! and the outbox's sender claims and sends it (`outbox.rs`).
//!
//! Everything here runs in tasks of its own: nothing waits for a target, so firing and
//! running go on while one is slow or down.

mod deliver;
mod message;
mod outbox;
pub mod ping;
mod rules;
mod watchdog;

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

pub use deliver::{expand, target_name};
pub use message::{Message, TAIL_LINES, run_link, tail_lines};
pub use outbox::Sender;

use crate::schedule::{Job, NotifyEvent, Schedule};
use crate::store::{NewNotice, Run, RunStatus, Store};

/// A daemon's part: the watchdog and the outbox's sender, until `stop`.
pub async fn run(
    store: Arc<dyn Store>,
    schedule: watch::Receiver<Arc<Schedule>>,
    sender: Sender,
    stop: CancellationToken,
) -> Result<(), crate::store::StoreError> {
    let watching = watchdog::watch(store.clone(), schedule.clone(), stop.clone());
    tokio::join!(watching, outbox::send(store, schedule, sender, stop));
    Ok(())
}

/// The sender of this process: unique, with the lease of its claims.
pub fn sender(host: &str, lease: Duration, public_url: Option<String>) -> Sender {
    Sender {
        owner: format!(
            "{host}:{}:{}",
            std::process::id(),
            crate::store::new_token()
        ),
        lease,
        public_url,
    }
}

fn wants(job: &Job, event: NotifyEvent) -> bool {
    job.notify.iter().any(|target| target.on.contains(&event))
}

/// Hears of `run`'s end (its last attempt) and records what the job's targets asked
/// for in the outbox, in a task: this returns at once.
pub fn run_ended(store: Arc<dyn Store>, job: &Job, run: &Run) {
    if job.notify.is_empty() {
        return;
    }
    let failed = match run.status {
        RunStatus::Failed | RunStatus::TimedOut | RunStatus::Lost => true,
        RunStatus::Succeeded => false,
        // Cancelled and skipped runs say nothing of the job's health.
        _ => return,
    };
    let (job, run) = (job.clone(), run.clone());
    tokio::spawn(async move {
        if failed && wants(&job, NotifyEvent::EveryFailure) {
            let notice = NewNotice {
                key: format!("every_failure:{}", run.id),
                job: job.name.clone(),
                event: NotifyEvent::EveryFailure.as_str().into(),
                reminder: false,
                run: Some(run.id.clone()),
                detail: None,
            };
            if let Err(error) = store.add_notice(&notice).await {
                tracing::warn!(job = %job.name, run = %run.id, %error, "cannot record a notification of this run");
            }
        }
        if let Err(error) = store
            .record_health(&job.name, Some(&run.id), failed, job.remind)
            .await
        {
            tracing::warn!(job = %job.name, run = %run.id, %error, "cannot record the job's health: no notification for this run");
        }
        outbox::wake();
    });
}

/// Hears of `run`, an instant of `job` skipped for overlap or, with `pause_since`, by
/// the pause that began then; records one notice per pause, or per hour of overlaps.
pub fn skipped(store: &Arc<dyn Store>, job: &Job, run: &Run, pause_since: Option<DateTime<Utc>>) {
    if !wants(job, NotifyEvent::Skipped) {
        return;
    }
    let instant = run.scheduled_for.unwrap_or(run.queued_at);
    let notice = NewNotice {
        key: rules::skipped_key(&job.name, instant, pause_since),
        job: job.name.clone(),
        event: NotifyEvent::Skipped.as_str().into(),
        reminder: false,
        run: Some(run.id.clone()),
        detail: Some(match &run.reason {
            Some(reason) => reason.clone(),
            None => "skipped".into(),
        }),
    };
    let store = store.clone();
    tokio::spawn(async move {
        match store.add_notice(&notice).await {
            Ok(true) => outbox::wake(),
            Ok(false) => {}
            Err(error) => {
                tracing::warn!(job = %notice.job, %error, "cannot record a notification of a skip");
            }
        }
    });
}
