//! The status of the installation, as `cronq status` prints it and `GET /api/v1/status`
//! sends it: what runs now and how long it still needs, what is queued and when it
//! should start, the workers, the next fires, the pauses, and the watchdog's problems,
//! among them a local schedule file that is not what the live daemons run.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::sync::{Arc, Mutex, MutexGuard};

use chrono::{DateTime, TimeDelta, Utc};
use serde::Serialize;
use serde_json::{Value, json};

use super::pause::{pause_json, paused_json};
use super::run::{RunDoc, run_doc};
use super::{TimeLeftOf, instant};
use crate::cron::Timing;
use crate::eta::{self, QueuedEta, TimeLeft, Waiting, WhyUnknown};
use crate::pause::Pauses;
use crate::schedule::{Job, Schedule, parse_zone};
use crate::settings::Settings;
use crate::store::{
    HistoryFilter, Paused, PublishedJob, PublishedSchedule, QueuedRun, Run, RunStatus, Store,
    StoreError, TargetFailure, WorkerInfo,
};

/// Jobs whose last runs all failed, this many of them, are `failing`.
const FAILING_RUNS: usize = 3;
/// The failed runs looked at to find the jobs that may be failing.
const RECENT_FAILURES: usize = 10_000;
/// Next fires listed.
const NEXT_FIRES: usize = 10;

/// The next fire after an instant, of one job.
type NextFire = Box<dyn Fn(DateTime<Utc>) -> Option<DateTime<Utc>> + Send + Sync>;

/// A job as far as its timing goes, from the local file or the published schedule.
pub struct Timed {
    pub name: String,
    pub next: NextFire,
    /// Whether the fires are instants fixed by the schedule (a cron expression), so that
    /// an answer holds until it passes; an `every` counts from the instant asked.
    fixed: bool,
    /// The last answers of `next_fire` after now and after the job's last fire: the
    /// status asks the same each time until the instant passes or the job fires.
    after_now: Mutex<Option<Answer>>,
    after_last: Mutex<Option<Answer>>,
}

/// The next fire `Timed::next` gave after `asked`.
#[derive(Clone, Copy)]
struct Answer {
    asked: DateTime<Utc>,
    fire: Option<DateTime<Utc>>,
}

impl Timed {
    fn new(name: String, timing: Timing, zone: chrono_tz::Tz, jitter: TimeDelta) -> Timed {
        Timed {
            name,
            fixed: matches!(timing, Timing::Cron(_)),
            // As `Job::next_fire` shifts the schedule's instants by the offset, without
            // a copy of the whole job: a status of 10,000 jobs makes one of these each.
            next: Box::new(move |after| {
                timing
                    .next_after(after - jitter, zone)
                    .map(|at| at.with_timezone(&Utc) + jitter)
            }),
            after_now: Mutex::new(None),
            after_last: Mutex::new(None),
        }
    }

    /// The jobs whose fires `status` looks at: those of the local schedule file when
    /// there is one, else those the daemons published.
    pub fn of(local: Option<&Schedule>, published: Option<&PublishedSchedule>) -> Vec<Timed> {
        match (local, published) {
            (Some(local), _) => local.jobs.iter().filter_map(Timed::from_job).collect(),
            (None, Some(published)) => Timed::from_published(published),
            (None, None) => Vec::new(),
        }
    }

    pub fn from_job(job: &Job) -> Option<Timed> {
        let timing = job.schedule.as_ref()?.timing.clone();
        if timing == Timing::Reboot {
            return None;
        }
        let jitter = TimeDelta::from_std(job.jitter_offset()).ok()?;
        Some(Timed::new(job.name.clone(), timing, job.timezone, jitter))
    }

    pub fn from_published(schedule: &PublishedSchedule) -> Vec<Timed> {
        schedule
            .jobs
            .iter()
            .filter_map(Timed::from_published_job)
            .collect()
    }

    /// One job of the published schedule; `None` for one without instants.
    pub fn from_published_job(job: &PublishedJob) -> Option<Timed> {
        let timing: Timing = job.schedule.as_deref()?.parse().ok()?;
        let zone = parse_zone(&job.timezone).ok()?;
        let jitter = TimeDelta::milliseconds(i64::try_from(job.jitter_ms).ok()?);
        (timing != Timing::Reboot).then(|| Timed::new(job.name.clone(), timing, zone, jitter))
    }

    /// The next fire after `now`, as `next`, kept until it passes.
    pub fn next_fire(&self, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.kept(&self.after_now, now)
    }

    /// The fire expected after the job's last one, as `next`, kept until it fires again.
    fn expected_after(&self, last: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.kept(&self.after_last, last)
    }

    /// `next(after)`, or the answer kept in `slot` when it still holds: the fires are
    /// fixed instants, so the first one after `asked` is also the first one after any
    /// instant between `asked` and it.
    fn kept(&self, slot: &Mutex<Option<Answer>>, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
        if !self.fixed {
            return (self.next)(after);
        }
        let mut slot = slot.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(answer) = *slot
            && answer.asked <= after
            && answer.fire.is_none_or(|fire| after < fire)
        {
            return answer.fire;
        }
        let fire = (self.next)(after);
        *slot = Some(Answer { asked: after, fire });
        fire
    }
}

/// The `Timed` of the schedule last asked for, kept while its hash stays the same: they
/// and their next fires depend on nothing else.
#[derive(Default)]
pub struct KeptTimed(Mutex<Option<Built>>);

/// The `Timed` of one schedule: whether it is the local file's, and its hash.
type Built = (bool, String, Arc<Vec<Timed>>);

impl KeptTimed {
    /// As `Timed::of`, built again only when the schedule changed.
    pub fn of(
        &self,
        local: Option<&Schedule>,
        published: Option<&PublishedSchedule>,
    ) -> Arc<Vec<Timed>> {
        let key = match (local, published) {
            (Some(local), _) => (true, local.hash.as_str()),
            (None, Some(published)) => (false, published.hash.as_str()),
            (None, None) => return Arc::new(Vec::new()),
        };
        let mut kept = self.lock();
        if let Some((_, _, timed)) = kept
            .as_ref()
            .filter(|(is_local, hash, _)| (*is_local, hash.as_str()) == key)
        {
            return Arc::clone(timed);
        }
        let timed = Arc::new(Timed::of(local, published));
        *kept = Some((key.0, key.1.to_string(), Arc::clone(&timed)));
        timed
    }

    fn lock(&self) -> MutexGuard<'_, Option<Built>> {
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// What `gather` found, as of `now`.
pub struct Report {
    pub now: DateTime<Utc>,
    /// Each running run with its time left.
    pub running: Vec<(Run, TimeLeft)>,
    /// Each queued run with its place in its queue and when it should start and end.
    pub queued: Vec<(Run, u64, QueuedEta)>,
    /// Each worker, and whether it is stale (missed its heartbeats).
    pub workers: Vec<(WorkerInfo, bool)>,
    pub next: Vec<(String, DateTime<Utc>)>,
    /// The pauses in force, the pause of every job first.
    pub paused: Vec<Paused>,
    pub problems: Vec<Problem>,
    /// The notify targets whose last try failed; each is a `notify_target` problem too.
    pub target_failures: Vec<TargetFailure>,
}

/// One of the watchdog's problems: `stalled`, `failing`, `dead_letters`,
/// `notify_target`, `mixed_schedules`, `unknown_to_daemon`.
pub struct Problem {
    pub kind: &'static str,
    pub job: Option<String>,
    pub text: String,
}

/// Reads the status from the store; `timed` are the jobs whose fires the watchdog
/// expects, `grace` how late one may come before its job is stalled.
pub async fn gather(
    store: &dyn Store,
    timed: &[Timed],
    settings: &Settings,
    grace: std::time::Duration,
) -> Result<Report, StoreError> {
    let now = Utc::now();
    let mut running = Vec::new();
    let mut left_of = TimeLeftOf::default();
    let running_runs = store.running().await?;
    let queued = store.queued().await?;
    // Every job whose durations an estimate below needs, read at once.
    let jobs = running_runs.iter().map(|run| run.job.as_str());
    let jobs = jobs.chain(queued.iter().map(|q| q.run.job.as_str()));
    left_of.prefetch(store, jobs).await?;
    for run in running_runs {
        let left = left_of
            .run(store, &run, now)
            .await?
            .unwrap_or(TimeLeft::Unknown);
        running.push((run, left));
    }
    // A worker that missed three heartbeats is stale; the store forgets it later.
    let stale_after = TimeDelta::from_std(settings.lease).unwrap_or(TimeDelta::MAX);
    let workers: Vec<(WorkerInfo, bool)> = store
        .workers()
        .await?
        .into_iter()
        .map(|w| {
            let stale = now - w.last_seen > stale_after;
            (w, stale)
        })
        .collect();
    let estimates = estimate_queued(store, &queued, &running, &workers, &mut left_of, now).await?;
    let queued = queued
        .into_iter()
        .zip(estimates)
        .map(|(q, estimate)| (q.run, q.position, estimate))
        .collect();
    let mut next: Vec<(String, DateTime<Utc>)> = timed
        .iter()
        .filter_map(|t| Some((t.name.clone(), t.next_fire(now)?)))
        .collect();
    next.sort_by_key(|(_, at)| *at);
    next.truncate(NEXT_FIRES);

    let paused = store.pauses().await?;
    let pauses = Pauses::new(paused.clone());
    let mut problems = Vec::new();
    let daemons = store.daemons().await?;
    let last_fires = store.last_fires().await?;
    let grace = TimeDelta::from_std(grace).unwrap_or(TimeDelta::MAX);
    // A paused job fires nothing, as asked: it is not stalled.
    for job in timed
        .iter()
        .filter(|job| pauses.holding(&job.name, now).is_none())
    {
        if let Some(text) = stalled(
            job,
            last_fires.get(&job.name),
            daemons.is_empty(),
            now,
            grace,
        ) {
            problems.push(Problem {
                kind: "stalled",
                job: Some(job.name.clone()),
                text,
            });
        }
    }
    // Only a job with a recent failure can be failing: one query names the candidates,
    // so a schedule of many jobs costs no query per job.
    let recent = HistoryFilter {
        statuses: RunStatus::FAILURES.to_vec(),
        limit: RECENT_FAILURES,
        ..HistoryFilter::default()
    };
    let candidates: BTreeSet<String> = store
        .history(&recent)
        .await?
        .into_iter()
        .map(|run| run.job)
        .collect();
    for job in candidates {
        if let Some(text) = failing(store, &job).await? {
            problems.push(Problem {
                kind: "failing",
                job: Some(job),
                text,
            });
        }
    }
    let dead = store.dead_letters().await?;
    if dead > 0 {
        problems.push(Problem {
            kind: "dead_letters",
            job: None,
            text: format!(
                "dead letters: {dead} queued run(s) could not be read and were moved aside; see `cronq history --status dead`"
            ),
        });
    }
    // A target that does not take messages: the alerts themselves are not getting out.
    let target_failures = store.target_failures().await?;
    for failure in &target_failures {
        problems.push(Problem {
            kind: "notify_target",
            job: Some(failure.job.clone()),
            text: format!(
                "notify target failing: {} of job `{}` failed at {}: {}",
                failure.target,
                failure.job,
                instant(&failure.at),
                failure.error
            ),
        });
    }
    Ok(Report {
        now,
        running,
        queued,
        workers,
        next,
        paused,
        problems,
        target_failures,
    })
}

/// The local file against what the live daemons run: `mixed_schedules` when the
/// daemons' hashes differ from each other or from the file's, and `unknown_to_daemon`
/// for each job of the file that is not in the schedule the daemons published. Nothing
/// while no daemon is live: `stalled` says that.
pub async fn compare_schedules(
    file: &str,
    local: Option<&Schedule>,
    published: Option<&PublishedSchedule>,
    store: &dyn Store,
) -> Result<Vec<Problem>, StoreError> {
    let daemons = store.daemons().await?;
    if daemons.is_empty() {
        return Ok(Vec::new());
    }
    let mut by_hash: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for daemon in &daemons {
        by_hash
            .entry(daemon.schedule_hash.as_str())
            .or_default()
            .push(format!("{} ({})", daemon.host, daemon.pid));
    }
    let file_differs = local.is_some_and(|local| by_hash.keys().any(|hash| *hash != local.hash));
    let mut problems = Vec::new();
    if by_hash.len() > 1 || file_differs {
        let detail: Vec<String> = by_hash
            .iter()
            .map(|(hash, who)| format!("{hash} on {}", who.join(", ")))
            .collect();
        let text = match local {
            Some(local) => format!(
                "mixed schedules: {file} here is {}; live daemons run {}",
                local.hash,
                detail.join("; ")
            ),
            None => format!(
                "mixed schedules: live daemons run different files: {}",
                detail.join("; ")
            ),
        };
        problems.push(Problem {
            kind: "mixed_schedules",
            job: None,
            text,
        });
    }
    if let (Some(local), Some(published)) = (local, published)
        && local.hash != published.hash
    {
        let known: HashSet<&str> = published.jobs.iter().map(|job| job.name.as_str()).collect();
        for job in local
            .jobs
            .iter()
            .filter(|job| !known.contains(job.name.as_str()))
        {
            problems.push(Problem {
                kind: "unknown_to_daemon",
                job: Some(job.name.clone()),
                text: format!(
                    "unknown to daemon: job `{}` is in {file} but not in the schedule the live daemons run (hash {})",
                    job.name, published.hash
                ),
            });
        }
    }
    Ok(problems)
}

/// Each queued run's estimate (`eta::queue_eta`), queue by queue: the live workers that
/// list a queue serve it with their concurrency, and the runs they are running hold
/// those slots, whatever queue those runs came from.
async fn estimate_queued(
    store: &dyn Store,
    queued: &[QueuedRun],
    running: &[(Run, TimeLeft)],
    workers: &[(WorkerInfo, bool)],
    typical: &mut TimeLeftOf,
    now: DateTime<Utc>,
) -> Result<Vec<QueuedEta>, StoreError> {
    // Each queue's runs, in the order the store listed them: the order reserve takes them.
    let mut queues: Vec<(&str, Vec<usize>)> = Vec::new();
    for (index, q) in queued.iter().enumerate() {
        match queues.iter_mut().find(|(name, _)| *name == q.run.queue) {
            Some((_, indexes)) => indexes.push(index),
            None => queues.push((&q.run.queue, vec![index])),
        }
    }
    let mut estimates = vec![QueuedEta::Unknown(WhyUnknown::NoWorker); queued.len()];
    for (queue, indexes) in queues {
        let serving: Vec<&WorkerInfo> = workers
            .iter()
            .filter(|(w, stale)| !stale && w.queues.iter().any(|q| q == queue))
            .map(|(w, _)| w)
            .collect();
        let slots = serving.iter().map(|w| w.concurrency as usize).sum();
        let running_left: Vec<TimeLeft> = running
            .iter()
            .filter(|(run, _)| {
                let worker = run.worker.as_deref();
                serving.iter().any(|w| Some(w.id.as_str()) == worker)
            })
            .map(|(_, left)| *left)
            .collect();
        let mut waiting = Vec::with_capacity(indexes.len());
        for &index in &indexes {
            let run = &queued[index].run;
            let due_in = run.not_before.map_or(TimeDelta::zero(), |at| at - now);
            waiting.push(Waiting {
                typical_s: typical.typical_s(store, &run.job).await?,
                due_in_s: due_in.num_milliseconds() as f64 / 1000.0,
            });
        }
        for (index, estimate) in
            indexes
                .into_iter()
                .zip(eta::queue_eta(slots, &running_left, &waiting))
        {
            estimates[index] = estimate;
        }
    }
    Ok(estimates)
}

/// A job is stalled when an instant it expected passed more than `grace` ago and was
/// neither fired nor recorded as skipped: after its last fire, or at all when no daemon
/// is running.
fn stalled(
    job: &Timed,
    last_fire: Option<&DateTime<Utc>>,
    no_daemon: bool,
    now: DateTime<Utc>,
    grace: TimeDelta,
) -> Option<String> {
    let name = &job.name;
    match last_fire {
        Some(last) => {
            let expected = job.expected_after(*last)?;
            (expected + grace < now).then(|| {
                format!(
                    "stalled: job `{name}` expected a fire at {}, and none came",
                    instant(&expected)
                )
            })
        }
        None if no_daemon => Some(format!(
            "stalled: no daemon is running to fire job `{name}`"
        )),
        None => None,
    }
}

/// A job whose last runs all failed.
async fn failing(store: &dyn Store, job: &str) -> Result<Option<String>, StoreError> {
    let filter = HistoryFilter {
        job: Some(job.to_string()),
        limit: FAILING_RUNS,
        ..HistoryFilter::default()
    };
    let finished: Vec<Run> = store
        .history(&filter)
        .await?
        .into_iter()
        .filter(|run| run.status.is_finished() && run.status != RunStatus::Skipped)
        .collect();
    let all_failed = finished.len() == FAILING_RUNS
        && finished
            .iter()
            .all(|r| RunStatus::FAILURES.contains(&r.status));
    Ok(all_failed.then(|| format!("failing: the last {FAILING_RUNS} runs of job `{job}` failed")))
}

/// `status --json`, to serialize straight to bytes: no tree of values for 1,000 runs.
#[derive(Serialize)]
pub struct StatusDoc<'a> {
    running: Vec<RunDoc<'a>>,
    queued: Vec<QueuedDoc<'a>>,
    workers: Vec<Value>,
    next: Vec<Value>,
    paused: Vec<Value>,
    problems: Vec<Value>,
    notify_failures: Vec<Value>,
}

/// A queued run: the run object, its `eta_s` the time until it is done, and its place.
#[derive(Serialize)]
struct QueuedDoc<'a> {
    #[serde(flatten)]
    run: RunDoc<'a>,
    position: u64,
    starts_in_s: Option<f64>,
    eta_unknown: Option<&'static str>,
}

/// Bytes a run takes in the JSON, about: to size the buffer once.
const RUN_BYTES: usize = 512;

impl Report {
    /// `status --json`.
    pub fn json(&self) -> Value {
        serde_json::to_value(self.document()).expect("a status always serializes")
    }

    /// `status --json` as the API sends it, compact.
    pub fn json_bytes(&self) -> Vec<u8> {
        let runs = self.running.len() + self.queued.len();
        let mut bytes = Vec::with_capacity((runs + NEXT_FIRES) * RUN_BYTES);
        serde_json::to_writer(&mut bytes, &self.document()).expect("a status always serializes");
        bytes
    }

    fn document(&self) -> StatusDoc<'_> {
        let running = self
            .running
            .iter()
            .map(|(run, left)| run_doc(run, self.now, Some(*left)))
            .collect();
        let queued = self
            .queued
            .iter()
            .map(|(run, position, estimate)| {
                let mut run = run_doc(run, self.now, None);
                run.eta_s = estimate.done_in_s();
                QueuedDoc {
                    run,
                    position: *position,
                    starts_in_s: estimate.starts_in_s(),
                    eta_unknown: estimate.why_unknown().map(|why| match why {
                        WhyUnknown::NoWorker => "no_worker",
                        WhyUnknown::NoHistory => "no_history",
                    }),
                }
            })
            .collect();
        let workers = self
            .workers
            .iter()
            .map(|(w, stale)| {
                json!({
                    "id": w.id, "host": w.host, "pid": w.pid, "queues": w.queues,
                    "concurrency": w.concurrency,
                    "last_seen": instant(&w.last_seen), "run": w.runs.first(),
                    "runs": w.runs, "stale": stale,
                })
            })
            .collect();
        let pauses = Pauses::new(self.paused.clone());
        let next = self
            .next
            .iter()
            .map(|(job, at)| {
                let paused = pauses.holding(job, *at).map(|(_, p)| pause_json(p));
                json!({"job": job, "at": instant(at), "paused": paused})
            })
            .collect();
        let problems = self
            .problems
            .iter()
            .map(|p| json!({"kind": p.kind, "job": p.job, "message": p.text}))
            .collect();
        let notify_failures = self
            .target_failures
            .iter()
            .map(|f| json!({"job": f.job, "target": f.target, "at": instant(&f.at), "error": f.error}))
            .collect();
        StatusDoc {
            running,
            queued,
            workers,
            next,
            paused: paused_json(&self.paused),
            problems,
            notify_failures,
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::{TimeZone, Utc};

    use super::*;

    /// The kept answers are the ones `next` gives, as now moves across fires, back
    /// before an earlier question, and for an `every` that counts from the instant asked.
    #[test]
    fn kept_next_fires_are_next() {
        for schedule in ["*/7 * * * *", "30 2 * * *", "@every 90s"] {
            let text =
                format!("jobs:\n  j:\n    schedule: \"{schedule}\"\n    command: \"true\"\n");
            let local = crate::schedule::load(&text, "crontab.yaml", chrono_tz::UTC).unwrap();
            let timed = Timed::of(Some(&local), None);
            let start = Utc.with_ymd_and_hms(2026, 3, 28, 23, 0, 0).unwrap();
            let steps = (0..400).map(|i| start + TimeDelta::seconds(i * 37));
            let back = [start + TimeDelta::hours(5), start];
            for now in steps.chain(back) {
                assert_eq!(
                    timed[0].next_fire(now),
                    (timed[0].next)(now),
                    "{schedule} at {now}"
                );
                assert_eq!(timed[0].expected_after(now), (timed[0].next)(now));
            }
        }
    }

    /// The timings are built again when the schedule's hash changes, not before.
    #[test]
    fn kept_timed_follow_the_schedule_hash() {
        let one = "jobs:\n  a:\n    schedule: \"0 * * * *\"\n    command: \"true\"\n";
        let two = "jobs:\n  b:\n    schedule: \"0 * * * *\"\n    command: \"true\"\n";
        let one = crate::schedule::load(one, "crontab.yaml", chrono_tz::UTC).unwrap();
        let two = crate::schedule::load(two, "crontab.yaml", chrono_tz::UTC).unwrap();
        let kept = KeptTimed::default();
        let first = kept.of(Some(&one), None);
        assert!(Arc::ptr_eq(&first, &kept.of(Some(&one), None)));
        let second = kept.of(Some(&two), None);
        let names: Vec<&str> = second.iter().map(|t| t.name.as_str()).collect();
        assert_eq!(names, ["b"]);
    }
}
