//! The daemon: fires each job into its queue at its instants, catches up after
//! downtime, reaps runs whose worker died, prunes history, reloads the schedule, and
//! hosts the built-in workers.
//!
//! It talks only to the store; several daemons may share one and each instant still
//! fires once, because the store's `fire` claims it atomically.

pub mod fire;
mod timer;
pub mod timing;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use chrono::{DateTime, TimeDelta, Utc};
use chrono_tz::Tz;
use tokio::sync::{Notify, watch};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::cron::Timing;
use crate::schedule::{self, Schedule};
use crate::store::{
    DaemonInfo, PublishedJob, PublishedJson, Retention, Store, StoreError, Trigger,
};
use crate::worker::{self, WorkerConfig};
use timer::Timer;
use timing::{Missed, missed, next_instant};

/// The longest the timer sleeps without looking at the wall clock: a clock jump or a
/// suspend is noticed within it, and waking this often costs nothing measurable.
const MAX_NAP: Duration = Duration::from_secs(1);
/// How often the schedule file is checked for a change.
const FILE_CHECK: Duration = Duration::from_secs(2);
/// How often each job's history is pruned to its `keep`.
const PRUNE_EVERY: Duration = Duration::from_secs(10 * 60);
/// Jobs pruned per store call: one SQLite transaction stays a few milliseconds long.
const PRUNE_JOBS: usize = 500;
/// How often the daemon renews its registration and compares schedules with its peers.
const ANNOUNCE_EVERY: Duration = Duration::from_secs(10);
/// The shortest gap between two warnings of the same kind.
const WARN_EVERY: Duration = Duration::from_secs(60);

/// What a daemon needs besides its store and its schedule.
#[derive(Clone, Debug)]
pub struct DaemonConfig {
    /// The schedule file, reloaded on SIGHUP and when it changes.
    pub schedule_path: PathBuf,
    /// The zone of jobs that name none.
    pub host_zone: Tz,
    /// The built-in workers; none with `--no-workers`.
    pub workers: Vec<WorkerConfig>,
    /// The lease workers hold runs under: the reaper looks twice per lease.
    pub lease: Duration,
    /// This host's name, for the daemon registry.
    pub host: String,
}

/// Runs the daemon until `stop` is cancelled; `reload` asks it to re-read the schedule.
pub async fn run(
    store: Arc<dyn Store>,
    schedule: Schedule,
    config: DaemonConfig,
    stop: CancellationToken,
    reload: Arc<Notify>,
) -> Result<(), StoreError> {
    let (publish, copies) = watch::channel(Arc::new(schedule));
    let mut tasks = JoinSet::new();
    for worker in config.workers.clone() {
        tasks.spawn(worker::run(
            Arc::clone(&store),
            copies.clone(),
            worker,
            stop.clone(),
        ));
    }
    tasks.spawn(reap(Arc::clone(&store), config.lease, stop.clone()));
    tasks.spawn(prune(Arc::clone(&store), copies.clone(), stop.clone()));
    tasks.spawn(announce(
        Arc::clone(&store),
        copies.clone(),
        config.host.clone(),
        stop.clone(),
    ));

    let initial = copies.borrow().clone();
    let fired = Firing::start(Arc::clone(&store), initial).await;
    let result = match fired {
        Ok(firing) => firing.run(&config, publish, &stop, &reload).await,
        Err(error) => Err(error),
    };
    stop.cancel();
    while let Some(joined) = tasks.join_next().await {
        match joined {
            Ok(Ok(())) => {}
            Ok(Err(error)) => tracing::error!(%error, "a daemon task failed"),
            Err(error) => tracing::error!(%error, "a daemon task panicked"),
        }
    }
    result
}

/// The firing side of the daemon: the schedule in force and each job's next instant.
struct Firing {
    store: Arc<dyn Store>,
    schedule: Arc<Schedule>,
    timer: Timer,
    /// What `@every` counts from: each job's last fire, else the daemon's start.
    anchors: HashMap<String, DateTime<Utc>>,
    started: DateTime<Utc>,
    /// Every instant up to here has been handled; a reload plans from here.
    handled_through: DateTime<Utc>,
    warned: Option<std::time::Instant>,
}

impl Firing {
    /// Catches up what was missed while no daemon ran, fires `@reboot` jobs, and sets
    /// every job's next instant.
    async fn start(store: Arc<dyn Store>, schedule: Arc<Schedule>) -> Result<Firing, StoreError> {
        let started = truncate_ms(Utc::now());
        let last_fires = store.last_fires().await?;
        let mut firing = Firing {
            store,
            schedule: Arc::clone(&schedule),
            timer: Timer::default(),
            anchors: last_fires.clone(),
            started,
            handled_through: started,
            warned: None,
        };
        for job in &schedule.jobs {
            match job.schedule.as_ref().map(|s| &s.timing) {
                Some(Timing::Reboot) => {
                    fire::fire(&firing.store, job, started, Trigger::Schedule, None).await?;
                }
                Some(_) => {
                    if let Some(last) = last_fires.get(&job.name) {
                        let anchor = firing.anchor(&job.name);
                        for (instant, what) in missed(job, *last, started, anchor) {
                            firing.handle_missed(job, instant, what).await?;
                        }
                    }
                }
                None => {}
            }
        }
        firing.set_timer(started);
        tracing::info!(jobs = schedule.jobs.len(), "daemon started");
        Ok(firing)
    }

    async fn run(
        mut self,
        config: &DaemonConfig,
        publish: watch::Sender<Arc<Schedule>>,
        stop: &CancellationToken,
        reload: &Notify,
    ) -> Result<(), StoreError> {
        let mut file = FileStamp::of(&config.schedule_path);
        let mut next_file_check = tokio::time::Instant::now() + FILE_CHECK;
        loop {
            let nap = self
                .timer
                .next_at()
                .map(|at| (at - Utc::now()).to_std().unwrap_or_default())
                .unwrap_or(MAX_NAP)
                .min(MAX_NAP);
            let mut reread = false;
            tokio::select! {
                () = stop.cancelled() => break,
                () = reload.notified() => reread = true,
                () = tokio::time::sleep(nap) => {}
            }
            if tokio::time::Instant::now() >= next_file_check {
                next_file_check = tokio::time::Instant::now() + FILE_CHECK;
                let now = FileStamp::of(&config.schedule_path);
                reread |= now != file;
                file = now;
            }
            if reread && let Some(schedule) = load_schedule(config) {
                self.replace(Arc::new(schedule));
                publish.send_replace(Arc::clone(&self.schedule));
            }
            self.fire_due().await;
        }
        tracing::info!("daemon stopping");
        Ok(())
    }

    /// Fires every job whose instant has come. A fire that fails stays due and is
    /// tried again at the next wake-up; one due longer than its `starting_deadline`
    /// (a suspend, a clock jump) goes through the catch-up rules instead.
    async fn fire_due(&mut self) {
        let now = Utc::now();
        let schedule = Arc::clone(&self.schedule);
        let mut retry = Vec::new();
        while let Some((instant, index)) = self.timer.pop_due(now) {
            let job = &schedule.jobs[index];
            let late = (now - instant).to_std().unwrap_or_default() > job.starting_deadline;
            let outcome = if late {
                let anchor = self.anchor(&job.name);
                let plan = missed(job, instant - TimeDelta::milliseconds(1), now, anchor);
                self.handle_all(job, plan).await
            } else {
                fire::fire(&self.store, job, instant, Trigger::Schedule, None)
                    .await
                    .map(|_| ())
            };
            match outcome {
                Ok(()) => {
                    let last = if late { now } else { instant };
                    self.anchors.insert(job.name.clone(), last);
                    if let Some(next) = next_instant(job, last, self.anchor(&job.name)) {
                        self.timer.set(next, index);
                    }
                }
                Err(error) => {
                    self.warn(&format!("cannot fire job `{}`: {error}", job.name));
                    retry.push((instant, index));
                }
            }
        }
        let stuck = !retry.is_empty();
        for (instant, index) in retry {
            self.timer.set(instant, index);
        }
        if !stuck {
            self.handled_through = now;
        }
    }

    async fn handle_all(
        &mut self,
        job: &schedule::Job,
        plan: Vec<(DateTime<Utc>, Missed)>,
    ) -> Result<(), StoreError> {
        for (instant, what) in plan {
            self.handle_missed(job, instant, what).await?;
        }
        Ok(())
    }

    async fn handle_missed(
        &mut self,
        job: &schedule::Job,
        instant: DateTime<Utc>,
        what: Missed,
    ) -> Result<(), StoreError> {
        match what {
            Missed::CatchUp => {
                fire::fire(&self.store, job, instant, Trigger::CatchUp, None).await?
            }
            Missed::Skip(reason) => {
                fire::fire(&self.store, job, instant, Trigger::Schedule, Some(reason)).await?
            }
        };
        self.anchors.insert(job.name.clone(), instant);
        Ok(())
    }

    /// Takes a new schedule: removed jobs stop, changed ones start over from the last
    /// handled moment, so no instant between is lost. Running jobs are not waited for.
    fn replace(&mut self, schedule: Arc<Schedule>) {
        tracing::info!(jobs = schedule.jobs.len(), "schedule reloaded");
        self.schedule = schedule;
        self.timer = Timer::default();
        self.set_timer(self.handled_through);
    }

    fn set_timer(&mut self, after: DateTime<Utc>) {
        let schedule = Arc::clone(&self.schedule);
        for (index, job) in schedule.jobs.iter().enumerate() {
            if let Some(next) = next_instant(job, after, self.anchor(&job.name)) {
                self.timer.set(next, index);
            }
        }
    }

    fn anchor(&self, job: &str) -> DateTime<Utc> {
        self.anchors.get(job).copied().unwrap_or(self.started)
    }

    /// Logs a warning at most once per [`WARN_EVERY`], so a store outage or a clock
    /// jump cannot flood the log.
    fn warn(&mut self, message: &str) {
        let now = std::time::Instant::now();
        if self.warned.is_none_or(|last| now - last >= WARN_EVERY) {
            self.warned = Some(now);
            tracing::warn!("{message}");
        }
    }
}

/// Re-reads the schedule file; a file that does not validate is refused with its
/// errors, and the running schedule stays.
fn load_schedule(config: &DaemonConfig) -> Option<Schedule> {
    let path = &config.schedule_path;
    let file = path.display().to_string();
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(error) => {
            tracing::error!(%error, file, "cannot read the schedule; the running one stays");
            return None;
        }
    };
    match schedule::load(&text, &file, config.host_zone) {
        Ok(schedule) => Some(schedule),
        Err(diagnostics) => {
            for diagnostic in diagnostics {
                tracing::error!("{diagnostic}");
            }
            tracing::error!(
                file,
                "the schedule does not validate; the running one stays"
            );
            None
        }
    }
}

/// What tells a file changed: its modification time and size.
#[derive(PartialEq, Eq)]
struct FileStamp(Option<(SystemTime, u64)>);

impl FileStamp {
    fn of(path: &std::path::Path) -> FileStamp {
        let meta = std::fs::metadata(path).ok();
        FileStamp(meta.and_then(|m| Some((m.modified().ok()?, m.len()))))
    }
}

/// Turns runs whose worker stopped heartbeating into `lost`, twice per lease.
async fn reap(
    store: Arc<dyn Store>,
    lease: Duration,
    stop: CancellationToken,
) -> Result<(), StoreError> {
    let every = (lease / 2).clamp(Duration::from_millis(100), Duration::from_secs(15));
    let mut warned = None::<std::time::Instant>;
    loop {
        tokio::select! {
            () = stop.cancelled() => return Ok(()),
            () = tokio::time::sleep(every) => {}
        }
        match store.reap().await {
            Ok(lost) => {
                for run in lost {
                    tracing::warn!(job = %run.job, run = %run.id, attempt = run.attempt, "run lost: its worker stopped heartbeating");
                }
            }
            Err(error) if warned.is_none_or(|at| at.elapsed() >= WARN_EVERY) => {
                warned = Some(std::time::Instant::now());
                tracing::warn!(%error, "cannot reap");
            }
            Err(_) => {}
        }
    }
}

/// Publishes the schedule whenever it changes, so that commands on any host can name its
/// jobs, and registers this daemon with the schedule's hash. Daemons that run different
/// schedules on one store (a half-finished deploy, two apps sharing a prefix) are
/// logged, once a minute.
async fn announce(
    store: Arc<dyn Store>,
    mut schedule: watch::Receiver<Arc<Schedule>>,
    host: String,
    stop: CancellationToken,
) -> Result<(), StoreError> {
    let id = format!("{host}:{}", std::process::id());
    let mut published = None::<String>;
    let mut warned = None::<std::time::Instant>;
    loop {
        let current = schedule.borrow_and_update().clone();
        let announced = async {
            if published.as_ref() != Some(&current.hash) {
                store.publish(summary(&current)).await?;
                published = Some(current.hash.clone());
            }
            let me = DaemonInfo {
                id: id.clone(),
                host: host.clone(),
                pid: std::process::id(),
                schedule_hash: current.hash.clone(),
                last_seen: Utc::now(),
            };
            store.daemon_heartbeat(&me, ANNOUNCE_EVERY * 3).await?;
            store.daemons().await
        };
        match announced.await {
            Ok(daemons) if daemons.iter().any(|d| d.schedule_hash != current.hash) => {
                if warned.is_none_or(|at| at.elapsed() >= WARN_EVERY) {
                    warned = Some(std::time::Instant::now());
                    let peers: Vec<String> = daemons
                        .iter()
                        .map(|d| format!("{} ({}): {}", d.host, d.pid, d.schedule_hash))
                        .collect();
                    tracing::warn!(
                        mine = %current.hash, daemons = %peers.join(", "),
                        "live daemons run different schedules"
                    );
                }
            }
            Ok(_) => {}
            Err(error) => tracing::warn!(%error, "cannot publish the schedule"),
        }
        tokio::select! {
            () = stop.cancelled() => break,
            _ = schedule.changed() => {}
            () = tokio::time::sleep(ANNOUNCE_EVERY) => {}
        }
    }
    // A registration that runs out now: peers stop counting this daemon at once.
    let gone = DaemonInfo {
        id,
        host,
        pid: std::process::id(),
        schedule_hash: published.unwrap_or_default(),
        last_seen: Utc::now(),
    };
    store.daemon_heartbeat(&gone, Duration::ZERO).await
}

/// What the store keeps of a schedule: names, queues and timing, never commands.
fn summary(schedule: &Schedule) -> PublishedJson {
    let jobs = schedule.jobs.iter().map(|job| PublishedJob {
        name: job.name.as_str(),
        queue: job.queue.as_str(),
        schedule: job.schedule.as_ref().map(|s| s.text.as_str()),
        timezone: job.timezone.name(),
        allow_args: job.allow_args,
        allow_env: job.allow_env.iter().map(String::as_str).collect(),
    });
    PublishedJson::new(&schedule.hash, jobs)
}

/// Keeps each job's history to its `keep`.
async fn prune(
    store: Arc<dyn Store>,
    schedule: watch::Receiver<Arc<Schedule>>,
    stop: CancellationToken,
) -> Result<(), StoreError> {
    loop {
        let current = schedule.borrow().clone();
        for jobs in current.jobs.chunks(PRUNE_JOBS) {
            let retentions: Vec<(&str, Retention)> = jobs
                .iter()
                .map(|job| {
                    let keep = Retention {
                        succeeded: job.keep.succeeded,
                        failed: job.keep.failed,
                        max_age: job.keep.max_age,
                    };
                    (job.name.as_str(), keep)
                })
                .collect();
            match store.prune(&retentions).await {
                Ok(0) => {}
                Ok(pruned) => tracing::debug!(pruned, "history pruned"),
                Err(error) => tracing::warn!(%error, "cannot prune the history"),
            }
            if stop.is_cancelled() {
                return Ok(());
            }
        }
        tokio::select! {
            () = stop.cancelled() => return Ok(()),
            () = tokio::time::sleep(PRUNE_EVERY) => {}
        }
    }
}

fn truncate_ms(at: DateTime<Utc>) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(at.timestamp_millis()).unwrap_or(at)
}

#[cfg(test)]
mod tests {
    /// The daemon can run on any tokio worker thread.
    #[test]
    fn the_daemon_future_is_send() {
        fn send<T: Send>(_: &T) {}
        let dir = tempfile::tempdir().unwrap();
        let store: std::sync::Arc<dyn crate::store::Store> = std::sync::Arc::new(
            crate::store::sqlite::SqliteStore::open(&dir.path().join("send-check.db"), 16).unwrap(),
        );
        let schedule = crate::schedule::load("jobs: {}\n", "t.yaml", chrono_tz::Tz::UTC).unwrap();
        let config = super::DaemonConfig {
            schedule_path: "t.yaml".into(),
            host_zone: chrono_tz::Tz::UTC,
            workers: Vec::new(),
            lease: std::time::Duration::from_secs(30),
            host: "h".into(),
        };
        let stop = tokio_util::sync::CancellationToken::new();
        let future = super::run(store, schedule, config, stop, Default::default());
        send(&future);
    }
}
