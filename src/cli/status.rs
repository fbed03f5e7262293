//! `cronq status`: what runs now and how long it still needs, what is queued and when it
//! should start, the workers, the next fires, and the watchdog's problems (`--check`),
//! among them a local schedule file that is not what the live daemons run.

use std::collections::{BTreeMap, BTreeSet, HashSet};

use chrono::{DateTime, TimeDelta, Utc};
use serde_json::{Value, json};

use super::args::{SettingsArgs, StatusArgs};
use super::runs::TimeLeftOf;
use super::{CliError, Loaded, output};
use crate::cron::Timing;
use crate::eta::{self, QueuedEta, TimeLeft, Waiting, WhyUnknown};
use crate::pause::Pauses;
use crate::schedule::{Job, Schedule, parse_zone};
use crate::settings::Settings;
use crate::store::{
    HistoryFilter, PauseScope, Paused, PublishedSchedule, QueuedRun, Run, RunStatus, Store,
    StoreError, WorkerInfo,
};

/// Jobs whose last runs all failed, this many of them, are `failing`.
const FAILING_RUNS: usize = 3;
/// The failed runs looked at to find the jobs that may be failing.
const RECENT_FAILURES: usize = 10_000;
/// Next fires listed.
const NEXT_FIRES: usize = 10;

pub fn run(
    args: &StatusArgs,
    settings_args: &SettingsArgs,
    env: &dyn Fn(&str) -> Option<String>,
) -> anyhow::Result<()> {
    // The local schedule when there is one; else what the daemons published.
    let settings = Settings::resolve(settings_args.overrides(), env)?;
    let local = match Loaded::of(settings.clone(), env) {
        Ok(loaded) => Some(loaded),
        Err(CliError::NoSchedule(_)) => None,
        Err(error) => return Err(error.into()),
    };
    let runtime = tokio::runtime::Runtime::new()?;
    let file = settings.schedule.0.display().to_string();
    let (report, source) = runtime.block_on(async {
        let store = settings.store.open_to_read(&settings.redis_prefix).await?;
        let published = store.published().await?;
        let timed = match (&local, &published) {
            (Some(loaded), _) => loaded
                .schedule
                .jobs
                .iter()
                .filter_map(Timed::from_job)
                .collect(),
            (None, Some(published)) => Timed::from_published(published),
            (None, None) => Vec::new(),
        };
        let mut report = gather(&*store, &timed, &settings, args.grace).await?;
        let local = local.as_ref().map(|loaded| &loaded.schedule);
        let source = ScheduleSource::of(&file, local, published.as_ref());
        report
            .problems
            .extend(compare_schedules(&file, local, published.as_ref(), &*store).await?);
        Ok::<_, anyhow::Error>((report, source))
    })?;
    if args.check {
        for problem in &report.problems {
            output::say!("{}", problem.text)?;
        }
        if !report.problems.is_empty() {
            return Err(CliError::Failed(format!("{} problem(s)", report.problems.len())).into());
        }
        return Ok(());
    }
    if args.json {
        output::json(&report.json())?;
    } else {
        if let Some(line) = source.line() {
            output::say!("{line}")?;
        }
        report.print(&settings.store.shown(), output::Zone::of(args.local, env)?)?;
    }
    Ok(())
}

/// Which schedule `status` shows, said in one line when it is not simply the local file.
enum ScheduleSource {
    /// The local file, the same as the published one, or with none published.
    File,
    /// No local file: the schedule the daemons published, with its hash.
    Published { file: String, hash: String },
    /// The local file, which is not the schedule the daemons published.
    Differs {
        file: String,
        hash: String,
        published: String,
    },
}

impl ScheduleSource {
    fn of(
        file: &str,
        local: Option<&Schedule>,
        published: Option<&PublishedSchedule>,
    ) -> ScheduleSource {
        match (local, published) {
            (None, Some(published)) => ScheduleSource::Published {
                file: file.to_string(),
                hash: published.hash.clone(),
            },
            (Some(local), Some(published)) if local.hash != published.hash => {
                ScheduleSource::Differs {
                    file: file.to_string(),
                    hash: local.hash.clone(),
                    published: published.hash.clone(),
                }
            }
            _ => ScheduleSource::File,
        }
    }

    fn line(&self) -> Option<String> {
        match self {
            ScheduleSource::File => None,
            ScheduleSource::Published { file, hash } => Some(format!(
                "no {file} here; showing the schedule published by the daemons (hash {hash})"
            )),
            ScheduleSource::Differs {
                file,
                hash,
                published,
            } => Some(format!(
                "{file} here (hash {hash}) differs from the schedule published by the daemons (hash {published}); showing {file}"
            )),
        }
    }
}

/// The local file against what the live daemons run: `mixed_schedules` when the
/// daemons' hashes differ from each other or from the file's, and `unknown_to_daemon`
/// for each job of the file that is not in the schedule the daemons published. Nothing
/// while no daemon is live: `stalled` says that.
async fn compare_schedules(
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

/// A job as far as its timing goes, from the local file or the published schedule.
struct Timed {
    name: String,
    next: Box<dyn Fn(DateTime<Utc>) -> Option<DateTime<Utc>>>,
}

impl Timed {
    fn from_job(job: &Job) -> Option<Timed> {
        let timing = &job.schedule.as_ref()?.timing;
        if *timing == Timing::Reboot {
            return None;
        }
        let job = job.clone();
        Some(Timed {
            name: job.name.clone(),
            next: Box::new(move |after| job.next_fire(after).map(|at| at.with_timezone(&Utc))),
        })
    }

    fn from_published(schedule: &PublishedSchedule) -> Vec<Timed> {
        schedule
            .jobs
            .iter()
            .filter_map(|job| {
                let timing: Timing = job.schedule.as_deref()?.parse().ok()?;
                let zone = parse_zone(&job.timezone).ok()?;
                let jitter = TimeDelta::milliseconds(i64::try_from(job.jitter_ms).ok()?);
                // As `Job::next_fire` shifts the schedule's instants by the offset.
                (timing != Timing::Reboot).then(|| Timed {
                    name: job.name.clone(),
                    next: Box::new(move |after| {
                        timing
                            .next_after(after - jitter, zone)
                            .map(|at| at.with_timezone(&Utc) + jitter)
                    }),
                })
            })
            .collect()
    }
}

struct Report {
    now: DateTime<Utc>,
    running: Vec<(Run, TimeLeft)>,
    queued: Vec<(Run, u64, QueuedEta)>,
    workers: Vec<(WorkerInfo, bool)>,
    next: Vec<(String, DateTime<Utc>)>,
    /// The pauses in force, the pause of every job first.
    paused: Vec<Paused>,
    problems: Vec<Problem>,
}

struct Problem {
    kind: &'static str,
    job: Option<String>,
    text: String,
}

async fn gather(
    store: &dyn Store,
    timed: &[Timed],
    settings: &Settings,
    grace: std::time::Duration,
) -> anyhow::Result<Report> {
    let now = Utc::now();
    let mut running = Vec::new();
    let mut left_of = TimeLeftOf::default();
    for run in store.running().await? {
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
    let queued = store.queued().await?;
    let estimates = estimate_queued(store, &queued, &running, &workers, &mut left_of, now).await?;
    let queued = queued
        .into_iter()
        .zip(estimates)
        .map(|(q, estimate)| (q.run, q.position, estimate))
        .collect();
    let mut next: Vec<(String, DateTime<Utc>)> = timed
        .iter()
        .filter_map(|t| Some((t.name.clone(), (t.next)(now)?)))
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
    Ok(Report {
        now,
        running,
        queued,
        workers,
        next,
        paused,
        problems,
    })
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
            let expected = (job.next)(*last)?;
            (expected + grace < now).then(|| {
                format!(
                    "stalled: job `{name}` expected a fire at {}, and none came",
                    output::instant(&expected)
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
async fn failing(store: &dyn Store, job: &str) -> anyhow::Result<Option<String>> {
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

impl Report {
    fn json(&self) -> Value {
        let running: Vec<Value> = self
            .running
            .iter()
            .map(|(run, left)| output::run_json(run, self.now, Some(*left)))
            .collect();
        let queued: Vec<Value> = self
            .queued
            .iter()
            .map(|(run, position, estimate)| {
                let mut value = output::run_json(run, self.now, None);
                value["position"] = json!(position);
                value["starts_in_s"] = json!(estimate.starts_in_s());
                // The time left until it is done, as for a running run.
                value["eta_s"] = json!(estimate.done_in_s());
                value["eta_unknown"] = json!(estimate.why_unknown().map(|why| match why {
                    WhyUnknown::NoWorker => "no_worker",
                    WhyUnknown::NoHistory => "no_history",
                }));
                value
            })
            .collect();
        let workers: Vec<Value> = self
            .workers
            .iter()
            .map(|(w, stale)| {
                json!({
                    "id": w.id, "host": w.host, "pid": w.pid, "queues": w.queues,
                    "concurrency": w.concurrency,
                    "last_seen": output::instant(&w.last_seen), "run": w.runs.first(),
                    "runs": w.runs, "stale": stale,
                })
            })
            .collect();
        let pauses = Pauses::new(self.paused.clone());
        let next: Vec<Value> = self
            .next
            .iter()
            .map(|(job, at)| {
                let paused = pauses.holding(job, *at).map(|(_, p)| pause_json(p));
                json!({"job": job, "at": output::instant(at), "paused": paused})
            })
            .collect();
        let paused: Vec<Value> = self
            .paused
            .iter()
            .map(|Paused { scope, pause }| {
                let job = match scope {
                    PauseScope::All => None,
                    PauseScope::Job(job) => Some(job),
                };
                json!({"job": job, "paused": pause_json(pause)})
            })
            .collect();
        let problems: Vec<Value> = self
            .problems
            .iter()
            .map(|p| json!({"kind": p.kind, "job": p.job, "message": p.text}))
            .collect();
        json!({"running": running, "queued": queued, "workers": workers, "next": next, "paused": paused, "problems": problems})
    }

    /// The sections, after a line naming the store they were read from (`store`, with
    /// no password), so that an empty one cannot pass for another store's.
    fn print(&self, store: &str, zone: output::Zone) -> anyhow::Result<()> {
        output::say!("store: {store}\n")?;
        output::say!("RUNNING")?;
        let rows: Vec<Vec<String>> = self
            .running
            .iter()
            .map(|(run, left)| {
                let left = match left {
                    TimeLeft::Seconds(s) => output::seconds(*s),
                    TimeLeft::Overdue => "overdue".into(),
                    TimeLeft::Unknown => "unknown".into(),
                };
                vec![
                    run.job.clone(),
                    run.id.clone(),
                    run.host.clone().unwrap_or_default(),
                    run.started_at
                        .as_ref()
                        .map(|at| zone.clock(at))
                        .unwrap_or_default(),
                    output::seconds(run.duration_s(self.now).unwrap_or_default()),
                    run.progress
                        .map(|p| format!("{p}%"))
                        .unwrap_or_else(|| "-".into()),
                    left,
                    run.message.clone().unwrap_or_default(),
                ]
            })
            .collect();
        section(
            &[
                "JOB", "RUN", "HOST", "STARTED", "ELAPSED", "PROGRESS", "LEFT", "MESSAGE",
            ],
            &rows,
        )?;

        output::say!("\nQUEUED")?;
        let rows: Vec<Vec<String>> = self
            .queued
            .iter()
            .map(|(run, position, estimate)| {
                // Why, once: under STARTS IN, or under DONE IN when only the end is unknown.
                let why = match estimate.why_unknown() {
                    Some(WhyUnknown::NoWorker) => "unknown (no worker)",
                    _ => "unknown (no history)",
                };
                let (starts_in, done_in) = match (estimate.starts_in_s(), estimate.done_in_s()) {
                    (Some(start), Some(done)) => (output::seconds(start), output::seconds(done)),
                    (Some(start), None) => (output::seconds(start), why.into()),
                    (None, _) => (why.into(), "unknown".into()),
                };
                vec![
                    run.queue.clone(),
                    position.to_string(),
                    run.job.clone(),
                    run.id.clone(),
                    zone.clock(&run.queued_at),
                    starts_in,
                    done_in,
                ]
            })
            .collect();
        section(
            &[
                "QUEUE",
                "POS",
                "JOB",
                "RUN",
                "QUEUED",
                "STARTS IN",
                "DONE IN",
            ],
            &rows,
        )?;

        output::say!("\nWORKERS")?;
        let rows: Vec<Vec<String>> = self
            .workers
            .iter()
            .map(|(w, stale)| {
                let seen =
                    output::seconds((self.now - w.last_seen).num_milliseconds() as f64 / 1000.0);
                vec![
                    w.host.clone(),
                    w.pid.to_string(),
                    w.queues.join(","),
                    if *stale {
                        format!("{seen} ago (stale)")
                    } else {
                        format!("{seen} ago")
                    },
                    if w.runs.is_empty() {
                        "-".into()
                    } else {
                        w.runs.join(",")
                    },
                ]
            })
            .collect();
        section(&["HOST", "PID", "QUEUES", "LAST SEEN", "RUNS"], &rows)?;

        output::say!("\nNEXT")?;
        let pauses = Pauses::new(self.paused.clone());
        let rows: Vec<Vec<String>> = self
            .next
            .iter()
            .map(|(job, at)| match pauses.holding(job, *at) {
                Some(_) => vec![zone.clock(at), format!("{job} (paused)")],
                None => vec![zone.clock(at), job.clone()],
            })
            .collect();
        section(&["AT", "JOB"], &rows)?;

        if !self.paused.is_empty() {
            output::say!("\nPAUSED")?;
            let rows: Vec<Vec<String>> = self
                .paused
                .iter()
                .map(|Paused { scope, pause }| {
                    vec![
                        match scope {
                            PauseScope::All => "(every job)".to_string(),
                            PauseScope::Job(job) => job.clone(),
                        },
                        pause.by.clone(),
                        zone.clock(&pause.since),
                        pause
                            .until
                            .as_ref()
                            .map_or_else(|| "resumed".to_string(), |at| zone.clock(at)),
                        pause.reason.clone().unwrap_or_default(),
                    ]
                })
                .collect();
            output::table(&["JOB", "BY", "SINCE", "UNTIL", "REASON"], &rows)?;
        }

        if !self.problems.is_empty() {
            output::say!("\nPROBLEMS")?;
            for problem in &self.problems {
                output::say!("{}", problem.text)?;
            }
        }
        Ok(())
    }
}

/// A pause in `--json`: `{"reason", "by", "since", "until"}`, `until` null until resumed.
fn pause_json(pause: &crate::store::Pause) -> Value {
    json!({
        "reason": pause.reason,
        "by": pause.by,
        "since": output::instant(&pause.since),
        "until": pause.until.as_ref().map(output::instant),
    })
}

fn section(header: &[&str], rows: &[Vec<String>]) -> anyhow::Result<()> {
    if rows.is_empty() {
        output::say!("(none)")
    } else {
        output::table(header, rows)
    }
}
