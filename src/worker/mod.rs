//! The worker: takes runs from its queues and executes each as a child process of its
//! own copy of the schedule, with a lease, a timeout, output capture and retries.
//!
//! This file is the reserve loop, the slots, the registry heartbeat and the drain on
//! stop. A slot that the loop filled keeps itself filled while runs are ready: the store
//! step that records a run's end also takes the next run (`finish.rs`). One run's life
//! is in `supervise.rs`; starting the child in `spawn.rs`; the file lock of
//! `lock: host` in `host_lock.rs`; its output in `output.rs`; the set of its processes,
//! wherever they moved, in `contain/`, and the signals to them in `kill.rs`; its outcome,
//! retry and `on_failure` in `finish.rs` and `on_failure.rs`; the listener that brings
//! cancel requests to the runs in `cancels.rs`. The worker knows the [`Store`] trait,
//! never a backend, and it never executes anything read from the queue: a run names a
//! job, and the command comes from the worker's own schedule.

mod cancels;
mod contain;
mod finish;
mod host_lock;
mod kill;
mod on_failure;
mod output;
mod progress;
mod spawn;
mod supervise;

use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use chrono::Utc;
use tokio::sync::{OwnedSemaphorePermit, Semaphore, watch};
use tokio::task::JoinSet;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use self::cancels::Running;
use self::contain::Host;
/// Starts a child that other code of the process waits for itself (a notification's
/// command, `sendmail`): registered so that the orphan reaper of the workers hosted in
/// this process leaves its exit status to that code, while the guard lives.
pub use self::contain::reap::{Leader as WaitedChild, start_leader as start_waited_child};
use self::finish::NextRun;
pub use self::progress::{LINE_MAX as PROGRESS_LINE_MAX, parse_percent};
use crate::schedule::Schedule;
use crate::settings::Containment;
use crate::store::{Lease, Run, Store, StoreError, WorkerInfo, WorkerRef};

/// Who a worker is and what it takes.
#[derive(Clone, Debug)]
pub struct WorkerConfig {
    /// Unique among live workers, e.g. `host:pid:default`.
    pub id: String,
    pub host: String,
    /// Queues to take runs from, in priority order.
    pub queues: Vec<String>,
    /// Runs executed at once.
    pub concurrency: usize,
    /// The lease on each run; renewed about three times per lease.
    pub lease: Duration,
    /// How long running jobs may take to finish after a stop, before they are killed.
    pub stop_grace: Duration,
    /// This executable, given to each job as `CRONQ_BIN`, so that `$CRONQ_BIN progress`
    /// works without cronq on the job's PATH.
    pub cronq_bin: PathBuf,
    /// The state dir: the file locks of `lock: host` are in its `locks/`.
    pub state_dir: PathBuf,
    /// How each run's processes are kept together, so that none outlives the run.
    pub containment: Containment,
}

/// Whether this host can contain runs as `setting` asks: the error is the sentence a
/// worker refuses to start with (`containment: cgroup` on a host without a usable
/// cgroup2).
pub fn check_containment(setting: Containment) -> Result<(), String> {
    Host::choose(setting).map(drop)
}

/// How long one reserve call waits for a run: short, so that a stop is seen promptly.
const RESERVE_WAIT: Duration = Duration::from_secs(1);
/// The longest pause between reserve attempts while the store fails.
const MAX_BACKOFF: Duration = Duration::from_secs(5);
/// The shortest lease: it is renewed every third of it.
const MIN_LEASE: Duration = Duration::from_millis(300);
/// At most one warning per this long about the same failing store call.
const WARN_EVERY: Duration = Duration::from_secs(30);

/// What every run of one worker shares.
struct Shared {
    store: Arc<dyn Store>,
    config: WorkerConfig,
    /// Who reserves, as written onto each run.
    worker: WorkerRef,
    /// How each run's processes are contained.
    contain: Host,
    /// The runs executing now, for the registry and the cancel listener.
    runs: Mutex<Running>,
    /// Raised when `runs` changes, so the registry shows a run as it starts and ends.
    runs_changed: tokio::sync::Notify,
    /// Raised when a run starts, so the cancel listener wakes from idle.
    run_started: tokio::sync::Notify,
}

/// Runs the job's `on_failure` for `run`, which the daemon's reaper made `lost` on its
/// last attempt. The store hands each expired run to one reaper only, so the command
/// runs once however many daemons reap. Contained as a worker's subreaper contains runs
/// (a cgroup is a worker's own); killed when `stop` comes.
pub async fn on_lost(job: &crate::schedule::Job, run: &Run, stop: &CancellationToken) {
    let Some(command) = &job.on_failure else {
        return;
    };
    let contain = match Host::choose(Containment::Subreaper) {
        Ok((contain, _)) => contain,
        Err(reason) => {
            tracing::warn!(job = %job.name, run = %run.id, %reason, "on_failure did not start");
            return;
        }
    };
    become_subreaper();
    let outcome = crate::store::Outcome {
        status: crate::store::RunStatus::Lost,
        exit_code: None,
        signal: None,
        reason: run.reason.clone(),
    };
    on_failure::run(command, job, run, &outcome, &contain, stop).await;
}

/// Runs the worker until `stop` is cancelled, then drains: no new runs, running ones
/// get `stop_grace` to finish before they are killed. `schedule` is the worker's own
/// copy; each run uses the version current when it starts.
pub async fn run(
    store: Arc<dyn Store>,
    schedule: watch::Receiver<Arc<Schedule>>,
    config: WorkerConfig,
    stop: CancellationToken,
) -> Result<(), StoreError> {
    if config.queues.is_empty() {
        return Err(StoreError::Invalid(
            "a worker needs at least one queue".into(),
        ));
    }
    if config.lease < MIN_LEASE {
        return Err(StoreError::Invalid(format!(
            "a worker's lease must be at least {}ms",
            MIN_LEASE.as_millis()
        )));
    }
    if config.concurrency == 0 {
        return Err(StoreError::Invalid(
            "a worker's concurrency must be at least 1".into(),
        ));
    }
    let (contain, no_cgroup) = Host::choose(config.containment).map_err(StoreError::Invalid)?;
    become_subreaper();
    let worker = WorkerRef {
        id: config.id.clone(),
        host: config.host.clone(),
    };
    let shared = Arc::new(Shared {
        store,
        config,
        worker,
        contain,
        runs: Mutex::new(Running::default()),
        runs_changed: tokio::sync::Notify::new(),
        run_started: tokio::sync::Notify::new(),
    });
    let config = &shared.config;
    tracing::info!(
        worker = %config.id,
        queues = %config.queues.join(","),
        concurrency = config.concurrency,
        containment = %contain,
        no_cgroup = no_cgroup.as_deref(),
        "worker started"
    );
    let reaper_stop = CancellationToken::new();
    let reaper = tokio::spawn(contain::reap::keep_reaping(
        contain.cgroup_path(),
        reaper_stop.clone(),
    ));

    let registry_stop = CancellationToken::new();
    let registry = tokio::spawn(keep_registered(shared.clone(), registry_stop.clone()));
    // Stopped with the registry, after the drain: a run may be cancelled while it drains.
    let listener = tokio::spawn(cancels::listen(shared.clone(), registry_stop.clone()));
    // Cancelled `stop_grace` after the stop: the runs still going are killed.
    let kill = CancellationToken::new();
    let mut runs = JoinSet::new();
    let outcome = reserve_loop(&shared, &schedule, &stop, &kill, &mut runs).await;

    drain(&mut runs, &kill, config.stop_grace).await;
    reaper_stop.cancel();
    let _ = reaper.await;
    contain.stopped();
    registry_stop.cancel();
    // Bounded: a store that hangs must not hold up the stop.
    let _ = tokio::time::timeout(config.lease, registry).await;
    let _ = tokio::time::timeout(config.lease, listener).await;
    if let Err(error) = shared.store.unregister(&config.id).await {
        tracing::warn!(worker = %config.id, %error, "could not unregister the worker");
    }
    tracing::info!(worker = %config.id, "worker stopped");
    outcome
}

/// Reserves runs while a slot is free, until `stop`. An error that retrying cannot
/// fix (a store that refuses the queue list) ends the loop with that error.
async fn reserve_loop(
    shared: &Arc<Shared>,
    schedule: &watch::Receiver<Arc<Schedule>>,
    stop: &CancellationToken,
    kill: &CancellationToken,
    runs: &mut JoinSet<()>,
) -> Result<(), StoreError> {
    let config = &shared.config;
    let slots = Arc::new(Semaphore::new(config.concurrency));
    let mut backoff = Backoff::new();
    let mut warning = Throttle::new(WARN_EVERY);
    loop {
        while let Some(done) = runs.try_join_next() {
            log_panic(done);
        }
        let slot = tokio::select! {
            _ = stop.cancelled() => return Ok(()),
            slot = slots.clone().acquire_owned() => {
                slot.expect("the slot semaphore is never closed")
            }
        };
        if stop.is_cancelled() {
            return Ok(());
        }
        // Not raced against `stop`: a reserve dropped halfway may have taken a run that
        // nobody would then execute. It returns within RESERVE_WAIT.
        let reserved = shared
            .store
            .reserve(&config.queues, &shared.worker, config.lease, RESERVE_WAIT)
            .await;
        match reserved {
            Ok(Some(reserved)) => {
                backoff.reset();
                let slot = Slot {
                    shared: shared.clone(),
                    schedule: schedule.clone(),
                    kill: kill.clone(),
                    stop: stop.clone(),
                    _permit: slot,
                };
                runs.spawn(slot.execute(reserved));
            }
            Ok(None) => backoff.reset(),
            Err(error @ StoreError::Invalid(_)) => return Err(error),
            Err(error) => {
                let pause = backoff.next();
                if warning.ready() {
                    tracing::warn!(
                        worker = %config.id,
                        %error,
                        retry_in_ms = pause.as_millis() as u64,
                        "cannot reserve a run",
                    );
                }
                tokio::select! {
                    _ = stop.cancelled() => return Ok(()),
                    _ = tokio::time::sleep(pause) => {}
                }
            }
        }
    }
}

/// One of the worker's `concurrency` slots, taken by a reserved run.
struct Slot {
    shared: Arc<Shared>,
    schedule: watch::Receiver<Arc<Schedule>>,
    kill: CancellationToken,
    stop: CancellationToken,
    _permit: OwnedSemaphorePermit,
}

impl Slot {
    /// Executes the reserved run, then each run that the end of the one before took in
    /// the same store step; the slot is free again once a run's end took none.
    async fn execute(self, reserved: (Run, Lease)) {
        let shared = &self.shared;
        let next = NextRun {
            queues: &shared.config.queues,
            worker: &shared.worker,
            lease_for: shared.config.lease,
            stop: &self.stop,
        };
        let mut reserved = Some(reserved);
        while let Some((run, lease)) = reserved.take() {
            let id = run.id.clone();
            let cancel = shared.track(|runs| runs.start(&id));
            shared.run_started.notify_one();
            // Each run uses the schedule current when it starts.
            let job_schedule = self.schedule.borrow().clone();
            let signals = (&cancel, &self.kill);
            reserved = supervise::execute(shared, &job_schedule, run, lease, signals, &next).await;
            shared.track(|runs| runs.end(&id));
        }
    }
}

impl Shared {
    /// Changes the set of runs executing now, and tells the registry.
    fn track<T>(&self, change: impl FnOnce(&mut Running) -> T) -> T {
        let changed = change(&mut self.running());
        self.runs_changed.notify_one();
        changed
    }

    fn running(&self) -> MutexGuard<'_, Running> {
        self.runs.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Waits for the running runs, up to `grace`; then tells the rest to die and waits for
/// them to be killed and recorded.
async fn drain(runs: &mut JoinSet<()>, kill: &CancellationToken, grace: Duration) {
    if !runs.is_empty() {
        tracing::info!(
            running = runs.len(),
            grace_s = grace.as_secs_f64(),
            "draining the running runs"
        );
    }
    let deadline = Instant::now() + grace;
    loop {
        tokio::select! {
            done = runs.join_next() => match done {
                Some(done) => log_panic(done),
                None => return,
            },
            _ = tokio::time::sleep_until(deadline), if !kill.is_cancelled() => {
                tracing::warn!(
                    running = runs.len(),
                    "the stop grace is over: killing the runs left",
                );
                kill.cancel();
            }
        }
    }
}

fn log_panic(done: Result<(), tokio::task::JoinError>) {
    if let Err(error) = done {
        tracing::error!(%error, "a run's task failed");
    }
}

/// Heartbeats the worker into the store's registry about every lease/3, and whenever a
/// run starts or ends, with the runs it executes, until `stop`.
async fn keep_registered(shared: Arc<Shared>, stop: CancellationToken) {
    let config = &shared.config;
    let every = config.lease / 3;
    let mut warning = Throttle::new(WARN_EVERY);
    loop {
        let info = WorkerInfo {
            id: config.id.clone(),
            host: config.host.clone(),
            pid: std::process::id(),
            queues: config.queues.clone(),
            concurrency: u32::try_from(config.concurrency).unwrap_or(u32::MAX),
            runs: shared.running().ids(),
            last_seen: Utc::now(),
        };
        // Not raced against `stop`: a heartbeat dropped halfway could still land after
        // the unregister, and list a stopped worker until its TTL.
        if let Err(error) = shared.store.heartbeat(&info, config.lease * 3).await
            && warning.ready()
        {
            tracing::warn!(worker = %config.id, %error, "cannot register the worker");
        }
        // At most one heartbeat per second however busy the worker is: the registry
        // stays fresh without a store write per run.
        let pause = every.min(Duration::from_secs(1));
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tokio::time::sleep(pause) => {}
        }
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tokio::time::sleep(every.saturating_sub(pause)) => {}
            _ = shared.runs_changed.notified() => {}
        }
    }
}

/// Makes this process the reaper of its orphaned descendants, so that the orphans of a
/// run are re-parented to the worker, which finds (`contain/tree.rs`) and reaps them
/// (`contain/reap.rs`), rather than to an init that may reap them late or never.
fn become_subreaper() {
    #[cfg(target_os = "linux")]
    if let Err(error) = nix::sys::prctl::set_child_subreaper(true) {
        tracing::warn!(
            %error,
            "cannot become a child subreaper: grandchildren of killed jobs go to init",
        );
    }
}

/// Pauses that double from 250 ms up to [`MAX_BACKOFF`].
struct Backoff {
    next: Duration,
}

impl Backoff {
    const FIRST: Duration = Duration::from_millis(250);

    fn new() -> Backoff {
        Backoff { next: Self::FIRST }
    }

    fn next(&mut self) -> Duration {
        let pause = self.next;
        self.next = (self.next * 2).min(MAX_BACKOFF);
        pause
    }

    fn reset(&mut self) {
        self.next = Self::FIRST;
    }
}

/// Lets a repeated warning through at most once per period.
struct Throttle {
    every: Duration,
    last: Option<std::time::Instant>,
}

impl Throttle {
    fn new(every: Duration) -> Throttle {
        Throttle { every, last: None }
    }

    fn ready(&mut self) -> bool {
        self.ready_at(std::time::Instant::now())
    }

    fn ready_at(&mut self, now: std::time::Instant) -> bool {
        let ready = self.last.is_none_or(|last| now - last >= self.every);
        if ready {
            self.last = Some(now);
        }
        ready
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_its_cap_and_resets() {
        let mut backoff = Backoff::new();
        let pauses: Vec<u64> = (0..7).map(|_| backoff.next().as_millis() as u64).collect();
        assert_eq!(pauses, [250, 500, 1000, 2000, 4000, 5000, 5000]);
        backoff.reset();
        assert_eq!(backoff.next(), Duration::from_millis(250));
    }

    #[test]
    fn throttle_lets_one_warning_through_per_period() {
        let start = std::time::Instant::now();
        let mut throttle = Throttle::new(Duration::from_secs(30));
        assert!(throttle.ready_at(start));
        assert!(!throttle.ready_at(start));
        assert!(!throttle.ready_at(start + Duration::from_secs(29)));
        assert!(throttle.ready_at(start + Duration::from_secs(30)));
        assert!(!throttle.ready_at(start + Duration::from_secs(31)));
    }
}
