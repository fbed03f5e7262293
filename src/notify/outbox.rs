//! Sending the outbox: every daemon claims the notices that are due, a few at a time,
//! and sends each to the targets of its job that asked for its event and have not
//! taken it yet, marking each target that does, then the notice. The claim is a lease
//! renewed while the sending goes on, so a daemon that dies leaves it to expire, and the
//! next claim (another daemon's, or this one's after a restart) sends what is left.
//!
//! What can repeat: a target that took a message whose answer was lost (the process
//! died, or the answer did not come within the try's time limit) gets it again.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use tokio::sync::{Notify, watch};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use super::deliver::{deliver, target_name};
use super::message::{Message, run_link, tail_lines};
use super::watchdog::Interest;
use crate::schedule::{NotifyEvent, Schedule};
use crate::store::{Notice, Store};

/// How often the outbox is looked at when nothing wakes the sender earlier.
const LOOK_EVERY: Duration = Duration::from_secs(1);
/// Notices claimed per look...
const CLAIM_LIMIT: usize = 16;
/// ...while fewer than this many are being sent (to a target that is down, each is for
/// ten minutes): the rest wait in the store, for this daemon or another.
const IN_FLIGHT_LIMIT: usize = 256;

/// What the sender needs besides the store and the schedule.
#[derive(Clone, Debug)]
pub struct Sender {
    /// Who claims: unique to this process.
    pub owner: String,
    /// How long a claim holds without a renewal.
    pub lease: Duration,
    /// The dashboard's address, for the link to a run's page.
    pub public_url: Option<String>,
}

/// Wakes the senders of this process: a notice was just added.
pub fn wake() {
    woken().notify_one();
}

fn woken() -> &'static Notify {
    static WOKEN: OnceLock<Notify> = OnceLock::new();
    WOKEN.get_or_init(Notify::new)
}

/// Sends the outbox until `stop`; the sends under way are dropped then, and their
/// claims expire for the next sender.
pub async fn send(
    store: Arc<dyn Store>,
    mut schedule: watch::Receiver<Arc<Schedule>>,
    sender: Sender,
    stop: CancellationToken,
) {
    let mut sending = JoinSet::new();
    let mut warned = None::<std::time::Instant>;
    let mut interest = Interest::of(&schedule.borrow_and_update().clone());
    loop {
        while sending.try_join_next().is_some() {}
        interest.update(&schedule.borrow_and_update().clone());
        // A schedule without targets has nothing to send: no store call for it.
        let claimed = match interest.any && sending.len() < IN_FLIGHT_LIMIT {
            true => {
                store
                    .claim_notices(&sender.owner, sender.lease, CLAIM_LIMIT)
                    .await
            }
            false => Ok(Vec::new()),
        };
        match claimed {
            Ok(notices) => {
                for notice in notices {
                    let current = schedule.borrow().clone();
                    let (store, sender) = (store.clone(), sender.clone());
                    sending.spawn(async move { send_one(store, &current, &sender, notice).await });
                }
            }
            Err(error) if warned.is_none_or(|at| at.elapsed() >= Duration::from_secs(60)) => {
                warned = Some(std::time::Instant::now());
                tracing::warn!(%error, "cannot read the notifications to send");
            }
            Err(_) => {}
        }
        // Without targets, nothing is sent: no wake-up until the schedule changes.
        let idle = !interest.any;
        tokio::select! {
            () = stop.cancelled() => break,
            // The sender gone: the daemon is done.
            changed = schedule.changed(), if idle => if changed.is_err() { break },
            () = woken().notified(), if !idle => {}
            () = tokio::time::sleep(LOOK_EVERY), if !idle => {}
        }
    }
    sending.shutdown().await;
}

/// Sends one claimed notice to each target still due, renewing the claim meanwhile.
async fn send_one(store: Arc<dyn Store>, schedule: &Schedule, sender: &Sender, notice: Notice) {
    let key = notice.notice.key.clone();
    let event = NotifyEvent::parse(&notice.notice.event);
    // A job removed or a target that no longer asks since the notice was recorded: the
    // schedule in force decides.
    let targets: Vec<(u32, crate::schedule::Target)> =
        match (schedule.job(&notice.notice.job), event) {
            (Some(job), Some(event)) => job
                .notify
                .iter()
                .enumerate()
                .filter(|(_, target)| target.on.contains(&event))
                .map(|(n, target)| (n as u32, target.to.clone()))
                .filter(|(n, _)| !notice.sent.contains(n))
                .collect(),
            _ => Vec::new(),
        };
    if !targets.is_empty() {
        let message = message(&*store, sender, &notice, event).await;
        let renewing = renew(store.clone(), key.clone(), sender.clone());
        let mut sends = JoinSet::new();
        for (n, target) in targets {
            let (store, message) = (store.clone(), message.clone());
            sends.spawn(async move {
                let name = target_name(&target);
                let job = message.job.clone();
                let failed = |error: &str| {
                    let (store, job, name) = (store.clone(), job.clone(), name.clone());
                    let error = error.to_string();
                    tokio::spawn(async move {
                        let _ = store.record_target(&job, &name, Some(&error)).await;
                    });
                };
                let sent = deliver(&target, &message, failed).await;
                if sent.is_ok() {
                    let _ = store.record_target(&job, &name, None).await;
                }
                (n, sent.is_ok())
            });
        }
        tokio::pin!(renewing);
        loop {
            tokio::select! {
                // The claim went to another sender: it sends what is left.
                () = &mut renewing => return,
                joined = sends.join_next() => match joined {
                    Some(Ok((n, true))) => {
                        let _ = store.notice_progress(&key, &sender.owner, Some(n), false, sender.lease).await;
                    }
                    Some(_) => {}
                    None => break,
                },
            }
        }
    }
    // Sent, or given up on after ten minutes of tries (`status` shows the target).
    if let Err(error) = store
        .notice_progress(&key, &sender.owner, None, true, sender.lease)
        .await
    {
        tracing::warn!(%error, notice = %key, "cannot mark a notification sent; it may be sent again");
    }
}

/// Renews the claim on `key` three times per lease; returns once it is lost.
async fn renew(store: Arc<dyn Store>, key: String, sender: Sender) {
    loop {
        tokio::time::sleep(sender.lease / 3).await;
        match store
            .notice_progress(&key, &sender.owner, None, false, sender.lease)
            .await
        {
            Ok(true) => {}
            Ok(false) => {
                tracing::info!(notice = %key, "the claim on a notification was lost; another sender has it");
                return;
            }
            // The store did not answer: the claim may still hold; try again.
            Err(_) => {}
        }
    }
}

/// The message of `notice`, with its run and its output's tail when it names one.
async fn message(
    store: &dyn Store,
    sender: &Sender,
    notice: &Notice,
    event: Option<NotifyEvent>,
) -> Message {
    let about = &notice.notice;
    let run = match &about.run {
        Some(id) => store.run(id).await.ok(),
        None => None,
    };
    let output_tail = match &run {
        Some(run) => match store.output(&run.id, 0).await {
            Ok(output) => tail_lines(&output.bytes()),
            Err(_) => Vec::new(),
        },
        None => Vec::new(),
    };
    let link = match (&sender.public_url, &run) {
        (Some(url), Some(run)) => Some(run_link(url, &run.id)),
        _ => None,
    };
    Message {
        job: about.job.clone(),
        event: event.map_or("failing", NotifyEvent::as_str),
        reminder: about.reminder,
        run,
        detail: about.detail.clone(),
        output_tail,
        link,
    }
}
