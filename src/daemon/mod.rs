//! The daemon: fires each job into its queue at its instants, catches up after
//! downtime, reaps runs whose worker died, prunes history, reloads the schedule, and
//! hosts the built-in workers.
//!
//! It talks only to the store; several daemons may share one and each instant still
//! fires once, because the store's `fire` claims it atomically.

pub mod fire;
pub mod paused;
mod timer;
pub mod timing;
mod told;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use tokio::sync::{Notify, watch};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::cron::Timing;
use crate::schedule::{self, Schedule};
use crate::store::{
    DaemonInfo, PublishedJob, PublishedJson, Retention, Store, StoreError, Trigger,
};
use crate::systemd::Notifier;
use crate::worker::{self, WorkerConfig};
use paused::PauseWatch;
use timer::Timer;
use timing::{Gap, Missed, after_outage, missed, next_instant, on_wake, pass_of, resume};
use told::Told;

/// The longest the timer sleeps without looking at the wall clock: a clock jump or a
/// suspend is noticed within it, and waking this often costs nothing measurable.
const MAX_NAP: Duration = Duration::from_secs(1);
/// How far ahead of an instant the timer's sleep ends. Tokio's timer wakes up to a
/// millisecond late (its wheel ticks in whole milliseconds) and the pauses are looked at
/// before a fire: both happen in this lead, and the rest is slept to the microsecond.
const WAKE_EARLY: Duration = Duration::from_millis(2);
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
    /// The dashboard's address: notifications link to a run's page under it.
    pub public_url: Option<String>,
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
    tasks.spawn(reap(
        Arc::clone(&store),
        copies.clone(),
        config.lease,
        stop.clone(),
    ));
    tasks.spawn(prune(Arc::clone(&store), copies.clone(), stop.clone()));
    let sender = crate::notify::sender(&config.host, config.lease, config.public_url.clone());
    tasks.spawn(crate::notify::run(
        Arc::clone(&store),
        copies.clone(),
        sender,
        stop.clone(),
    ));
    tasks.spawn(announce(
        Arc::clone(&store),
        copies.clone(),
        config.host.clone(),
        stop.clone(),
    ));

    let initial = copies.borrow().clone();
    let notifier = Notifier::from_env();
    let fired = Firing::start(Arc::clone(&store), initial).await;
    let result = match fired {
        Ok(firing) => {
            let told = Told::new(notifier);
            firing.run(&config, publish, &stop, &reload, told).await
        }
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
    /// The pauses in force: a paused job's instants are passed, not fired.
    pauses: PauseWatch,
    /// While the store fails: since when. Nothing is fired then, and the jobs that come
    /// due wait in `stalled` until it answers.
    outage: Option<DateTime<Utc>>,
    /// Each job whose instants could not be fired because the store failed, with the
    /// first of them. The timer holds no instant of theirs: once the store answers, each
    /// is planned as after a daemon's start ([`after_outage`]), never as a backlog.
    stalled: HashMap<String, DateTime<Utc>>,
    /// Each wildcard job whose last fire the wall clock was stepped back behind, with
    /// that fire: its instants up to it are fired a second time, in this pass.
    passes: HashMap<String, DateTime<Utc>>,
    /// When a step back of the clock was last logged, so a clock that keeps stepping
    /// cannot flood the log.
    stepped_warned: Option<std::time::Instant>,
}

impl Firing {
    /// Catches up what was missed while no daemon ran, fires `@reboot` jobs, and sets
    /// every job's next instant.
    async fn start(store: Arc<dyn Store>, schedule: Arc<Schedule>) -> Result<Firing, StoreError> {
        Firing::start_at(store, schedule, truncate_ms(Utc::now())).await
    }

    /// [`Firing::start`] with the wall clock at `started`.
    async fn start_at(
        store: Arc<dyn Store>,
        schedule: Arc<Schedule>,
        started: DateTime<Utc>,
    ) -> Result<Firing, StoreError> {
        let last_fires = store.last_fires().await?;
        let pauses = PauseWatch::start(&*store).await?;
        let mut firing = Firing {
            pauses,
            store,
            schedule: Arc::clone(&schedule),
            timer: Timer::default(),
            anchors: last_fires.clone(),
            started,
            handled_through: started,
            outage: None,
            stalled: HashMap::new(),
            passes: HashMap::new(),
            stepped_warned: None,
        };
        for job in &schedule.jobs {
            match job.schedule.as_ref().map(|s| &s.timing) {
                Some(Timing::Reboot) => match firing.pauses.holding(&job.name, started) {
                    Some((scope, pause)) => {
                        paused::pass(&firing.store, job, started, &scope, &pause).await?;
                    }
                    None => {
                        fire::fire(&firing.store, job, started, None, Trigger::Schedule, None)
                            .await?;
                    }
                },
                Some(_) => {
                    if let Some(last) = last_fires.get(&job.name) {
                        let anchor = firing.anchor(&job.name);
                        for (instant, what) in missed(job, *last, started, anchor, Gap::NoDaemon) {
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
        mut told: Told,
    ) -> Result<(), StoreError> {
        let mut file = FileStamp::of(&config.schedule_path);
        let mut next_file_check = tokio::time::Instant::now() + FILE_CHECK;
        told.ready();
        loop {
            told.tell(&self).await;
            let due = self.timer.next_at();
            let nap = due
                .map(|at| (at - Utc::now()).to_std().unwrap_or_default())
                .map(|left| left.saturating_sub(WAKE_EARLY))
                .unwrap_or(MAX_NAP)
                .min(told.nap());
            let mut reread = false;
            let mut signalled = false;
            tokio::select! {
                () = stop.cancelled() => break,
                () = reload.notified() => (reread, signalled) = (true, true),
                () = tokio::time::sleep(nap) => {}
            }
            if tokio::time::Instant::now() >= next_file_check {
                next_file_check = tokio::time::Instant::now() + FILE_CHECK;
                let now = FileStamp::of(&config.schedule_path);
                reread |= now != file;
                file = now;
            }
            if signalled {
                told.reloading();
            }
            if reread && let Some(schedule) = load_schedule(config) {
                self.replace(Arc::new(schedule));
                publish.send_replace(Arc::clone(&self.schedule));
            }
            if signalled {
                told.ready();
            }
            // On a wake-up made anyway, before the instants due are fired; during an
            // outage, once the store answers again (`recover`).
            if self.outage.is_none() {
                self.pauses.look(&*self.store, false).await;
            }
            if let Some(at) = due {
                sleep_to(at);
            }
            self.fire_due(truncate_ms(Utc::now())).await;
        }
        told.stopping();
        tracing::info!("daemon stopping");
        Ok(())
    }

    /// Fires every job whose instant has come. An instant later than on time (a
    /// suspend, a stopped process, a forward clock jump) goes through the catch-up rules
    /// with the job's later ones up to now. A fire that fails because the store failed
    /// starts an outage: the job waits in `stalled`, and so does each one due meanwhile,
    /// until the store answers again ([`Firing::recover`]).
    async fn fire_due(&mut self, now: DateTime<Utc>) {
        if now < self.handled_through && self.outage.is_none() {
            self.stepped_back(now).await;
        }
        if self.outage.is_some() && !self.recover(now).await {
            self.stall_due(now);
            return;
        }
        let schedule = Arc::clone(&self.schedule);
        while let Some((instant, index)) = self.timer.pop_due(now) {
            let job = &schedule.jobs[index];
            if self.outage.is_some() {
                self.stall(job, instant);
                continue;
            }
            let plan = on_wake(job, instant, now, self.anchor(&job.name));
            let late = plan.is_some();
            let outcome = match plan {
                Some(plan) => self.handle_all(job, plan).await,
                None => match self.pauses.holding(&job.name, instant) {
                    Some((scope, pause)) => {
                        paused::pass(&self.store, job, instant, &scope, &pause).await
                    }
                    None => {
                        let pass = self.pass(job, instant);
                        fire::fire(&self.store, job, instant, pass, Trigger::Schedule, None)
                            .await
                            .map(|_| ())
                    }
                },
            };
            match outcome {
                Ok(()) => {
                    let last = if late { now } else { instant };
                    self.fired(job, last.max(instant));
                    if let Some(next) = next_instant(job, last, self.anchor(&job.name)) {
                        self.timer.set(next, index);
                    }
                }
                Err(error) => {
                    self.stall(job, instant);
                    self.store_failed(now, &error);
                }
            }
        }
        if self.outage.is_none() {
            self.handled_through = now;
        }
    }

    /// The store failed: one log line for the outage, however long it lasts.
    fn store_failed(&mut self, now: DateTime<Utc>, error: &StoreError) {
        if self.outage.is_none() {
            self.outage = Some(now);
            tracing::warn!("{error}; firing waits for the store");
        }
    }

    fn stall(&mut self, job: &schedule::Job, instant: DateTime<Utc>) {
        self.stalled.entry(job.name.clone()).or_insert(instant);
    }

    /// Moves every job due at `now` from the timer to `stalled`, without a store call.
    fn stall_due(&mut self, now: DateTime<Utc>) {
        let schedule = Arc::clone(&self.schedule);
        while let Some((instant, index)) = self.timer.pop_due(now) {
            self.stall(&schedule.jobs[index], instant);
        }
    }

    /// Tries the store again during an outage. When it answers, each stalled job is
    /// planned from its last fire in the store to `now` under its `catch_up` and
    /// `starting_deadline`, the instants it does not run recorded `skipped` with the
    /// outage's reason, and the job goes back on the timer. True once every stalled job
    /// is handled; a job whose plan fails stays stalled, and is planned again from what
    /// the store recorded of it, so no instant is fired twice.
    async fn recover(&mut self, now: DateTime<Utc>) -> bool {
        let Ok(last_fires) = self.store.last_fires().await else {
            return false;
        };
        // A pause made during the outage holds before its instants are planned.
        self.pauses.look(&*self.store, true).await;
        let schedule = Arc::clone(&self.schedule);
        for (index, job) in schedule.jobs.iter().enumerate() {
            let Some(first) = self.stalled.get(&job.name).copied() else {
                continue;
            };
            let store_last = last_fires.get(&job.name).copied();
            let plan = after_outage(job, first, store_last, now, self.anchor(&job.name));
            if self.handle_all(job, plan).await.is_err() {
                return false;
            }
            self.stalled.remove(&job.name);
            let after = self.resume(job, now);
            if let Some(next) = next_instant(job, after, self.anchor(&job.name)) {
                self.timer.set(next, index);
            }
        }
        if let Some(since) = self.outage.take() {
            let seconds = (now - since).num_milliseconds() as f64 / 1000.0;
            tracing::info!(
                outage_s = seconds,
                "the store answers again; the instants missed meanwhile follow catch_up"
            );
        }
        // Jobs of a schedule reloaded meanwhile may be stalled no more.
        self.stalled.clear();
        true
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

    /// Fires, records or passes one missed instant. A job paused now runs nothing: a
    /// missed instant from before the pause keeps its reason, and any other, or one
    /// that `catch_up` would run, is passed under the pause.
    async fn handle_missed(
        &mut self,
        job: &schedule::Job,
        instant: DateTime<Utc>,
        what: Missed,
    ) -> Result<(), StoreError> {
        let pass = self.pass(job, instant);
        let held = self.pauses.holding(&job.name, Utc::now());
        match (held, what) {
            (Some((_, pause)), Missed::Skip(reason)) if instant < pause.since => {
                let skip = Some(reason);
                fire::fire(&self.store, job, instant, pass, Trigger::Schedule, skip).await?
            }
            (Some((scope, pause)), _) => {
                paused::pass(&self.store, job, instant, &scope, &pause).await?;
                true
            }
            (None, Missed::CatchUp) => {
                fire::fire(&self.store, job, instant, pass, Trigger::CatchUp, None).await?
            }
            (None, Missed::Skip(reason)) => {
                let skip = Some(reason);
                fire::fire(&self.store, job, instant, pass, Trigger::Schedule, skip).await?
            }
        };
        self.fired(job, instant);
        Ok(())
    }

    /// The pass `instant` of `job` is fired in: a second one while the wall clock is
    /// behind the job's last fire, after a step back.
    fn pass(&self, job: &schedule::Job, instant: DateTime<Utc>) -> Option<DateTime<Utc>> {
        pass_of(self.passes.get(&job.name).copied(), instant)
    }

    /// Notes that `job` was handled through `instant`; past its second pass, the job
    /// is back to first passes.
    fn fired(&mut self, job: &schedule::Job, instant: DateTime<Utc>) {
        self.anchors.insert(job.name.clone(), instant);
        if self
            .passes
            .get(&job.name)
            .is_some_and(|pass| instant > *pass)
        {
            self.passes.remove(&job.name);
        }
    }

    /// The wall clock went back behind the last moment handled (NTP stepping a clock
    /// that ran fast, `date -s`): each wildcard job whose last fire is now ahead of the
    /// clock fires by it again, its returning instants in a second pass named by that
    /// last fire as the store holds it, so every daemon on the store claims the same
    /// (job, instant, pass); fixed-time jobs wait for their first instant after their
    /// last fire (see [`timing::resume`]).
    async fn stepped_back(&mut self, now: DateTime<Utc>) {
        let back_s = (self.handled_through - now).num_milliseconds() as f64 / 1000.0;
        let markers = match self.store.last_fires().await {
            Ok(markers) => markers,
            // This daemon's own last fires: the store takes the same ones unless
            // another daemon fired later, and then that one's claims stand.
            Err(_) => self.anchors.clone(),
        };
        let schedule = Arc::clone(&self.schedule);
        for job in schedule
            .jobs
            .iter()
            .filter(|job| timing::fires_by_wall_clock(job))
        {
            if let Some(last) = markers.get(&job.name).copied().filter(|last| *last > now) {
                let pass = self.passes.entry(job.name.clone()).or_insert(last);
                *pass = (*pass).max(last);
            }
        }
        if self
            .stepped_warned
            .is_none_or(|at| at.elapsed() >= WARN_EVERY)
        {
            self.stepped_warned = Some(std::time::Instant::now());
            tracing::warn!(
                back_s,
                "the wall clock was stepped back: wildcard jobs fire by it again, each instant that comes round again once more; fixed-time jobs are not re-run"
            );
        }
        self.timer = Timer::default();
        self.handled_through = now;
        self.set_timer(now);
    }

    /// Where `job`'s plan resumes at `after`, noting the second pass it enters when the
    /// clock is behind its last fire (see [`timing::resume`]).
    fn resume(&mut self, job: &schedule::Job, after: DateTime<Utc>) -> DateTime<Utc> {
        let last = self
            .passes
            .get(&job.name)
            .or_else(|| self.anchors.get(&job.name))
            .copied();
        let from = resume(job, last, after);
        if let Some(pass) = from.pass {
            self.passes.insert(job.name.clone(), pass);
        }
        from.after
    }

    /// Takes a new schedule: removed jobs stop, changed ones start over from the last
    /// handled moment, so no instant between is lost. Running jobs are not waited for.
    fn replace(&mut self, schedule: Arc<Schedule>) {
        tracing::info!(jobs = schedule.jobs.len(), "schedule reloaded");
        self.schedule = schedule;
        self.timer = Timer::default();
        self.set_timer(self.handled_through);
    }

    /// Sets each job's next instant after `after`, or, for a fixed-time job, after its
    /// last fire when that is later (a clock stepped back), so no instant is fired twice
    /// in one pass. A stalled job is left to [`Firing::recover`].
    fn set_timer(&mut self, after: DateTime<Utc>) {
        let schedule = Arc::clone(&self.schedule);
        self.stalled.retain(|name, _| schedule.job(name).is_some());
        for (index, job) in schedule.jobs.iter().enumerate() {
            if self.stalled.contains_key(&job.name) {
                continue;
            }
            let from = self.resume(job, after);
            if let Some(next) = next_instant(job, from, self.anchor(&job.name)) {
                self.timer.set(next, index);
            }
        }
    }

    fn anchor(&self, job: &str) -> DateTime<Utc> {
        self.anchors.get(job).copied().unwrap_or(self.started)
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

/// Turns runs whose worker stopped heartbeating into `lost`, twice per lease, and runs
/// the job's `on_failure` for each that was its last attempt: the store gives each
/// expired run to one reaper, so the command runs once across daemons.
async fn reap(
    store: Arc<dyn Store>,
    schedule: watch::Receiver<Arc<Schedule>>,
    lease: Duration,
    stop: CancellationToken,
) -> Result<(), StoreError> {
    let every = (lease / 2).clamp(Duration::from_millis(100), Duration::from_secs(15));
    let mut warned = None::<std::time::Instant>;
    let mut on_failure = JoinSet::new();
    loop {
        tokio::select! {
            () = stop.cancelled() => break,
            () = tokio::time::sleep(every) => {}
        }
        while on_failure.try_join_next().is_some() {}
        match store.reap().await {
            Ok(lost) => {
                let current = schedule.borrow().clone();
                for run in lost {
                    crate::observed::observed().lost(&run);
                    tracing::warn!(job = %run.job, run = %run.id, attempt = run.attempt, "run lost: its worker stopped heartbeating");
                    let last = run.attempt >= run.max_attempts;
                    if let Some(url) = current.job(&run.job).and_then(|job| job.ping.as_ref()) {
                        crate::notify::ping::ended(store.clone(), url, None, &run);
                    }
                    if let Some(job) = current.job(&run.job).filter(|_| last) {
                        crate::notify::run_ended(store.clone(), job, &run);
                    }
                    if let Some(job) = current
                        .job(&run.job)
                        .filter(|job| last && job.on_failure.is_some())
                    {
                        let (job, stop) = (job.clone(), stop.clone());
                        on_failure.spawn(async move { worker::on_lost(&job, &run, &stop).await });
                    }
                }
            }
            Err(error) if warned.is_none_or(|at| at.elapsed() >= WARN_EVERY) => {
                warned = Some(std::time::Instant::now());
                tracing::warn!(%error, "cannot reap");
            }
            Err(_) => {}
        }
    }
    // Each is killed by `stop`; wait for it to be.
    while on_failure.join_next().await.is_some() {}
    Ok(())
}

/// Publishes the schedule whenever it changes, so that commands on any host can name its
/// jobs, and registers this daemon with the schedule's hash. Each interval it reads the
/// published hash (a few bytes) and puts the schedule back when it is missing (a Redis
/// restarted without persistence, a `FLUSHDB`, a failover to a replica without it) or
/// is one no live daemon runs. Daemons that run different schedules on one store (a
/// half-finished deploy, two apps sharing a prefix) are logged, once a minute.
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
            let me = DaemonInfo {
                id: id.clone(),
                host: host.clone(),
                pid: std::process::id(),
                schedule_hash: current.hash.clone(),
                last_seen: Utc::now(),
            };
            store.daemon_heartbeat(&me, ANNOUNCE_EVERY * 3).await?;
            let daemons = store.daemons().await?;
            let stored = store.published_hash().await?;
            if should_publish(
                published.as_deref(),
                stored.as_deref(),
                &current.hash,
                &daemons,
            ) {
                if published.as_deref() == Some(current.hash.as_str()) {
                    tracing::info!(
                        stored = stored.as_deref().unwrap_or("none"),
                        "the published schedule was missing or stale: published again"
                    );
                }
                store.publish(summary(&current)).await?;
                published = Some(current.hash.clone());
            }
            Ok::<_, StoreError>(daemons)
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

/// Whether a daemon that runs `mine` publishes it now: when it has not yet (its start, a
/// reload), or when what the store holds is missing or a schedule no live daemon runs.
/// A peer's schedule on a half-finished deploy is left as it is, so two daemons never
/// take turns overwriting each other.
fn should_publish(
    published: Option<&str>,
    stored: Option<&str>,
    mine: &str,
    daemons: &[DaemonInfo],
) -> bool {
    match stored {
        _ if published != Some(mine) => true,
        None => true,
        Some(stored) => stored != mine && !daemons.iter().any(|d| d.schedule_hash == stored),
    }
}

/// Sleeps the last stretch to `at` when it is within [`WAKE_EARLY`]: a thread sleep,
/// precise to the microsecond, holding one runtime thread for at most that long.
fn sleep_to(at: DateTime<Utc>) {
    let left = (at - Utc::now()).to_std().unwrap_or_default();
    if left <= WAKE_EARLY {
        std::thread::sleep(left);
    }
}

/// What the store keeps of a schedule: names, queues and timing, never commands.
fn summary(schedule: &Schedule) -> PublishedJson {
    let jobs = schedule.jobs.iter().map(|job| PublishedJob {
        name: job.name.as_str(),
        queue: job.queue.as_str(),
        schedule: job.schedule.as_ref().map(|s| s.text.as_str()),
        timezone: job.timezone.name(),
        jitter_ms: u64::try_from(job.jitter_offset().as_millis()).unwrap_or(u64::MAX),
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
mod clock_tests;

#[cfg(test)]
mod tests {
    #[test]
    fn the_schedule_is_put_back_when_missing_or_stale_but_never_over_a_peers() {
        let daemon = |hash: &str| super::DaemonInfo {
            id: format!("h:{hash}"),
            host: "h".into(),
            pid: 1,
            schedule_hash: hash.into(),
            last_seen: chrono::Utc::now(),
        };
        let live = [daemon("mine"), daemon("peer")];
        let publish = |published, stored| super::should_publish(published, stored, "mine", &live);
        assert!(
            publish(None, Some("mine")),
            "a daemon publishes at its start"
        );
        assert!(publish(Some("old"), Some("old")), "and after a reload");
        assert!(!publish(Some("mine"), Some("mine")), "nothing changed");
        assert!(publish(Some("mine"), None), "the store lost it");
        assert!(
            publish(Some("mine"), Some("gone")),
            "no live daemon runs it"
        );
        assert!(!publish(Some("mine"), Some("peer")), "a peer's, mid-deploy");
    }

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
            public_url: None,
        };
        let stop = tokio_util::sync::CancellationToken::new();
        let future = super::run(store, schedule, config, stop, Default::default());
        send(&future);
    }
}
