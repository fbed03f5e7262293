//! Notifications: when a run's end changes its job's health (`failing`, a reminder,
//! `recovered`) or is a failure (`every_failure`), the job's `notify` targets that asked
//! for the event hear of it. The store decides the change and hands it to one caller,
//! so one message goes out per change however many daemons and workers there are.
//!
//! Everything here runs in tasks of its own: nothing waits for a target, so firing and
//! running go on while one is slow or down.

mod deliver;
mod message;
pub mod ping;

use std::sync::Arc;

pub use deliver::expand;
pub use message::{Message, TAIL_LINES, tail_lines};

use crate::schedule::{Job, NotifyEvent};
use crate::store::{HealthChange, Run, RunStatus, Store};

/// Hears of `run`'s end (its last attempt) and sends what the job's targets asked for,
/// in a task: this returns at once.
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
        let change = match store
            .record_health(&job.name, &run.id, failed, job.remind)
            .await
        {
            Ok(change) => change,
            Err(error) => {
                tracing::warn!(job = %job.name, run = %run.id, %error, "cannot record the job's health: no notification for this run");
                None
            }
        };
        let mut events = Vec::new();
        match change {
            Some(HealthChange::Failing) => events.push((NotifyEvent::Failing, false)),
            Some(HealthChange::Reminder) => events.push((NotifyEvent::Failing, true)),
            Some(HealthChange::Recovered) => events.push((NotifyEvent::Recovered, false)),
            None => {}
        }
        if failed {
            events.push((NotifyEvent::EveryFailure, false));
        }
        let wanted = |event| job.notify.iter().any(|t| t.on.contains(&event));
        events.retain(|(event, _)| wanted(*event));
        if events.is_empty() {
            return;
        }
        let output_tail = match store.output(&run.id, 0).await {
            Ok(output) => tail_lines(&output.bytes()),
            Err(_) => Vec::new(),
        };
        for (event, reminder) in events {
            let message = Message {
                job: job.name.clone(),
                event: event.as_str(),
                reminder,
                run: run.clone(),
                output_tail: output_tail.clone(),
            };
            for target in job.notify.iter().filter(|t| t.on.contains(&event)) {
                let (to, message) = (target.to.clone(), message.clone());
                tokio::spawn(async move { deliver::deliver(&to, &message).await });
            }
        }
    });
}
