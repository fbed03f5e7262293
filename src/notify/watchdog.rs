//! The watchdog's events, looked for by every daemon each second: a job `stalled` (an
//! instant passed without a fire), a run `overdue`, and a `failing` job's reminder once
//! its `remind` has passed, with or without runs. Each becomes a notice under a key that
//! names the change, so of all the daemons that see it one records it; the outbox sends
//! it. Only the jobs whose targets ask for an event cost a store call for it.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use tokio::sync::watch;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::outbox::wake;
use super::rules::{self, Due};
use crate::eta::{HISTORY_RUNS, median};
use crate::pause::Pauses;
use crate::schedule::{Job, NotifyEvent, Schedule};
use crate::store::{NewNotice, RunId, Store, StoreError};

/// How often the watchdog looks.
const LOOK_EVERY: Duration = Duration::from_secs(1);
/// How often it looks for stalls: every job's last fire is read then, and a stall's
/// grace is 5 s at least.
const STALL_LOOK_EVERY: Duration = Duration::from_secs(5);
/// A job's median duration is read again after this long.
const MEDIAN_FOR: Duration = Duration::from_secs(60);
/// A job with `remind` is looked at every quarter of it, within these bounds.
const REMIND_LOOK: (Duration, Duration) = (Duration::from_millis(500), Duration::from_secs(60));

/// What one daemon's watchdog remembers between looks, to spare the store.
#[derive(Default)]
struct Seen {
    /// Keys recorded already (by this daemon or another): not written again.
    added: HashSet<String>,
    medians: HashMap<String, (Instant, Option<f64>)>,
    next_remind: HashMap<String, Instant>,
    next_stall_look: Option<Instant>,
}

/// The jobs of one schedule that ask for the watchdog's events, found once per
/// schedule: a look costs nothing for the jobs that ask for none.
pub(super) struct Interest {
    schedule: Arc<Schedule>,
    reminding: Vec<usize>,
    stalling: Vec<usize>,
    overdue: HashMap<String, usize>,
    /// Whether any job has a target at all: else the outbox is not looked at.
    pub any: bool,
}

impl Interest {
    pub(super) fn of(schedule: &Arc<Schedule>) -> Interest {
        let asking = |event| {
            let jobs = schedule.jobs.iter().enumerate();
            jobs.filter(move |(_, job)| wants(job, event))
                .map(|(n, _)| n)
        };
        Interest {
            schedule: schedule.clone(),
            reminding: asking(NotifyEvent::Failing)
                .filter(|n| schedule.jobs[*n].remind.is_some())
                .collect(),
            stalling: asking(NotifyEvent::Stalled).collect(),
            overdue: asking(NotifyEvent::Overdue)
                .map(|n| (schedule.jobs[n].name.clone(), n))
                .collect(),
            any: schedule.jobs.iter().any(|job| !job.notify.is_empty()),
        }
    }

    /// This one, or the interest of `schedule` when that is another.
    pub(super) fn update(&mut self, schedule: &Arc<Schedule>) {
        if !Arc::ptr_eq(&self.schedule, schedule) {
            *self = Interest::of(schedule);
        }
    }
}

/// Looks each second until `stop`.
pub async fn watch(
    store: Arc<dyn Store>,
    mut schedule: watch::Receiver<Arc<Schedule>>,
    stop: CancellationToken,
) {
    let mut seen = Seen::default();
    let mut warned = None::<std::time::Instant>;
    let mut interest = Interest::of(&schedule.borrow_and_update().clone());
    loop {
        // A schedule without targets has nothing to look for: sleep until it changes.
        let idle = !interest.any;
        tokio::select! {
            () = stop.cancelled() => break,
            // The sender gone: the daemon is done.
            changed = schedule.changed(), if idle => if changed.is_err() { break },
            () = tokio::time::sleep(LOOK_EVERY), if !idle => {}
        }
        interest.update(&schedule.borrow_and_update().clone());
        if let Err(error) = look(&*store, &interest, &mut seen).await
            && warned.is_none_or(|at| at.elapsed() >= Duration::from_secs(60))
        {
            warned = Some(std::time::Instant::now());
            tracing::warn!(%error, "the watchdog cannot read the store; no stalled, overdue or reminder message meanwhile");
        }
    }
}

fn wants(job: &Job, event: NotifyEvent) -> bool {
    job.notify.iter().any(|target| target.on.contains(&event))
}

async fn look(store: &dyn Store, interest: &Interest, seen: &mut Seen) -> Result<(), StoreError> {
    let jobs = &interest.schedule.jobs;
    remind(store, interest, seen).await?;
    let now = Utc::now();
    let stall_look_due = seen.next_stall_look.is_none_or(|at| at <= Instant::now());
    if !interest.stalling.is_empty() && stall_look_due {
        seen.next_stall_look = Some(Instant::now() + STALL_LOOK_EVERY);
        let last_fires = store.last_fires().await?;
        let pauses = Pauses::new(store.pauses().await?);
        for job in interest.stalling.iter().map(|n| &jobs[*n]) {
            // A paused job fires nothing, as asked: it is not stalled.
            let Some(last) = last_fires.get(&job.name) else {
                continue;
            };
            if pauses.holding(&job.name, now).is_some() {
                continue;
            }
            if let Some(due) = rules::stalled(job, *last, now) {
                record(store, seen, job, "stalled", None, due).await?;
            }
        }
    }
    if !interest.overdue.is_empty() {
        for run in store.running().await? {
            let (Some(n), Some(started)) = (interest.overdue.get(&run.job), run.started_at) else {
                continue;
            };
            let job = &jobs[*n];
            let elapsed = (Utc::now() - started).to_std().unwrap_or_default();
            let median_s = median_of(store, seen, &job.name).await?;
            if let Some(due) = rules::overdue(&run.id, elapsed, median_s, job.timeout) {
                record(store, seen, job, "overdue", Some(run.id.clone()), due).await?;
            }
        }
    }
    Ok(())
}

/// The timer's reminders: each failing job with `remind` is reminded of once it has
/// passed since its last message, whether or not it still runs.
async fn remind(store: &dyn Store, interest: &Interest, seen: &mut Seen) -> Result<(), StoreError> {
    for job in interest
        .reminding
        .iter()
        .map(|n| &interest.schedule.jobs[*n])
    {
        let Some(remind) = job.remind else {
            continue;
        };
        let now = Instant::now();
        if seen.next_remind.get(&job.name).is_some_and(|at| *at > now) {
            continue;
        }
        let every = (remind / 4).clamp(REMIND_LOOK.0, REMIND_LOOK.1);
        seen.next_remind.insert(job.name.clone(), now + every);
        if store
            .record_health(&job.name, None, false, Some(remind))
            .await?
            .is_some()
        {
            wake();
        }
    }
    Ok(())
}

async fn median_of(
    store: &dyn Store,
    seen: &mut Seen,
    job: &str,
) -> Result<Option<f64>, StoreError> {
    if let Some((at, median_s)) = seen.medians.get(job)
        && at.elapsed() < MEDIAN_FOR
    {
        return Ok(*median_s);
    }
    let median_s = median(&store.durations(job, HISTORY_RUNS).await?);
    seen.medians
        .insert(job.to_string(), (Instant::now(), median_s));
    Ok(median_s)
}

async fn record(
    store: &dyn Store,
    seen: &mut Seen,
    job: &Job,
    event: &str,
    run: Option<RunId>,
    (key, detail): Due,
) -> Result<(), StoreError> {
    if seen.added.contains(&key) {
        return Ok(());
    }
    let notice = NewNotice {
        key: key.clone(),
        job: job.name.clone(),
        event: event.to_string(),
        reminder: false,
        run,
        detail: Some(detail),
    };
    if store.add_notice(&notice).await? {
        tracing::info!(job = %job.name, event, "watchdog: {}", notice.detail.as_deref().unwrap_or_default());
        wake();
    }
    // Bounded: a daemon that runs for months keeps the keys of today's changes.
    if seen.added.len() >= 10_000 {
        seen.added.clear();
    }
    seen.added.insert(key);
    Ok(())
}
