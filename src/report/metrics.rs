//! The figures of `/metrics`: what the store says of the whole installation, read at
//! each scrape (so any process's `/metrics` gives the cluster's view), beside the
//! families this process counted itself (`observed`). Built as a registry the HTTP
//! face encodes; nothing here knows of HTTP.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::AtomicU64;

use chrono::{DateTime, TimeDelta, Utc};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::{Registry, Unit};

use super::jobs::JobView;
use crate::observed::observed;
use crate::pause::Pauses;
use crate::store::{Store, StoreError};

type Seconds = Gauge<f64, AtomicU64>;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct JobLabel {
    cronjob: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct JobStatus {
    cronjob: String,
    status: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct QueueLabel {
    queue: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct HashLabel {
    schedule_hash: String,
}

/// The registry of one scrape: this process's own families, and the cluster's figures
/// for `jobs` (the local schedule, or the one the daemons published) when `cluster`
/// read them. The process's own are served either way: when the store does not
/// answer, its failures are what a scrape should show.
pub fn registry(cluster: Option<Registry>) -> Registry {
    let mut registry = cluster.unwrap_or_default();
    observed().register(&mut registry);
    registry
}

/// The cluster's figures for `jobs`, read from `store` as of `now`. A worker is live
/// until `stale_after` past its last heartbeat.
pub async fn cluster(
    store: &dyn Store,
    jobs: &[JobView],
    stale_after: TimeDelta,
    now: DateTime<Utc>,
) -> Result<Registry, StoreError> {
    let mut registry = Registry::default();
    job_figures(store, jobs, now, &mut registry).await?;
    queue_figures(store, jobs, stale_after, now, &mut registry).await?;
    let daemons = Family::<HashLabel, Gauge>::default();
    for daemon in store.daemons().await? {
        daemons
            .get_or_create(&HashLabel {
                schedule_hash: daemon.schedule_hash,
            })
            .inc();
    }
    registry.register(
        "cronq_daemons",
        "Live daemons, by the hash of the schedule they run",
        daemons,
    );
    Ok(registry)
}

/// Each job's last run, last success, next fire and pause.
async fn job_figures(
    store: &dyn Store,
    jobs: &[JobView],
    now: DateTime<Utc>,
    registry: &mut Registry,
) -> Result<(), StoreError> {
    let names: Vec<&str> = jobs.iter().map(|view| view.job.name.as_str()).collect();
    let last = store.last_runs(&names).await?;
    let pauses = Pauses::new(store.pauses().await?);
    let last_success = Family::<JobLabel, Seconds>::default();
    let last_run = Family::<JobStatus, Seconds>::default();
    let next_fire = Family::<JobLabel, Seconds>::default();
    let paused = Family::<JobLabel, Gauge>::default();
    for view in jobs {
        let cronjob = view.job.name.clone();
        let label = JobLabel {
            cronjob: cronjob.clone(),
        };
        if let Some(last) = last.get(cronjob.as_str()) {
            if let Some(at) = last.success {
                last_success.get_or_create(&label).set(seconds(at));
            }
            if let Some((status, at)) = last.run {
                let status = status.as_str().to_string();
                last_run
                    .get_or_create(&JobStatus {
                        cronjob: cronjob.clone(),
                        status,
                    })
                    .set(seconds(at));
            }
        }
        if let Some(at) = view.next_fire(now) {
            next_fire.get_or_create(&label).set(seconds(at));
        }
        let held = pauses.holding(&cronjob, now).is_some();
        paused.get_or_create(&label).set(i64::from(held));
    }
    registry.register_with_unit(
        "cronq_last_success_timestamp",
        "When the job's last successful run ended, as a Unix time",
        Unit::Seconds,
        last_success,
    );
    registry.register_with_unit(
        "cronq_last_run_timestamp",
        "When the job's last run ended, as a Unix time, with how it ended",
        Unit::Seconds,
        last_run,
    );
    registry.register_with_unit(
        "cronq_next_fire_timestamp",
        "The job's next scheduled instant, as a Unix time",
        Unit::Seconds,
        next_fire,
    );
    registry.register(
        "cronq_job_paused",
        "1 while the job is paused (on its own or with every job), else 0",
        paused,
    );
    Ok(())
}

/// Each queue's queued, waiting, running runs and live workers: every queue the jobs
/// name or a run or worker uses, those with nothing at 0.
async fn queue_figures(
    store: &dyn Store,
    jobs: &[JobView],
    stale_after: TimeDelta,
    now: DateTime<Utc>,
    registry: &mut Registry,
) -> Result<(), StoreError> {
    let mut queues: BTreeSet<String> = jobs.iter().map(|view| view.job.queue.clone()).collect();
    // Per queue: queued runs, and the longest a ready one has waited.
    let mut queued: BTreeMap<String, (i64, f64)> = BTreeMap::new();
    for q in store.queued().await? {
        let run = q.run;
        let entry = queued.entry(run.queue.clone()).or_default();
        entry.0 += 1;
        // A delayed retry waits on purpose: it waits from when it became due.
        let due = run
            .not_before
            .map_or(run.queued_at, |at| at.max(run.queued_at));
        if due <= now {
            entry.1 = entry.1.max(seconds_between(due, now));
        }
    }
    let mut running: BTreeMap<String, i64> = BTreeMap::new();
    for run in store.running().await? {
        *running.entry(run.queue).or_default() += 1;
    }
    let mut workers: BTreeMap<String, i64> = BTreeMap::new();
    for worker in store.workers().await? {
        let live = now - worker.last_seen <= stale_after;
        for queue in worker.queues {
            *workers.entry(queue).or_default() += i64::from(live);
        }
    }
    queues.extend(queued.keys().cloned());
    queues.extend(running.keys().cloned());
    queues.extend(workers.keys().cloned());

    let length = Family::<QueueLabel, Gauge>::default();
    let oldest = Family::<QueueLabel, Seconds>::default();
    let running_now = Family::<QueueLabel, Gauge>::default();
    let serving = Family::<QueueLabel, Gauge>::default();
    for queue in queues {
        let (count, waited) = queued.get(&queue).copied().unwrap_or_default();
        let label = QueueLabel { queue };
        length.get_or_create(&label).set(count);
        oldest.get_or_create(&label).set(waited);
        running_now
            .get_or_create(&label)
            .set(running.get(&label.queue).copied().unwrap_or(0));
        serving
            .get_or_create(&label)
            .set(workers.get(&label.queue).copied().unwrap_or(0));
    }
    registry.register(
        "cronq_queue_length",
        "Runs queued, due or not yet due (a delayed retry)",
        length,
    );
    registry.register_with_unit(
        "cronq_queue_oldest",
        "How long the queue's oldest due run has waited to be taken; 0 when none waits",
        Unit::Seconds,
        oldest,
    );
    registry.register(
        "cronq_running",
        "Runs running, by the queue they came from",
        running_now,
    );
    registry.register(
        "cronq_workers",
        "Live worker processes that take runs from the queue (a daemon's built-in workers count one per queue)",
        serving,
    );
    Ok(())
}

/// An instant as a Unix time in seconds, to the millisecond.
fn seconds(at: DateTime<Utc>) -> f64 {
    at.timestamp_millis() as f64 / 1000.0
}

fn seconds_between(from: DateTime<Utc>, to: DateTime<Utc>) -> f64 {
    (to - from).num_milliseconds().max(0) as f64 / 1000.0
}
