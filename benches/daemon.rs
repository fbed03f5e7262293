//! The daemon and the worker at scale, on the embedded SQLite store and on Redis, each
//! figure next to its target (DESIGN §8):
//!
//! - 100,000 scheduled jobs, none due, each backend in a fresh process of its own: the
//!   time from `schedule::load` to the daemon's start and to the end of its first prune
//!   pass, its RSS, and its CPU and wake-ups over 10 s of idling;
//! - 10,000 jobs due at the same second, a few rounds, no built-in workers: from each
//!   run's `queued_at - scheduled_for`, the first fire, p99 of the first 100, p50/p99/max
//!   and the rate, and from the probe (below) the same at µs precision;
//! - a job every second with the built-in worker: the instant → the run's process, beside
//!   a loop of `clock_nanosleep` and spawn (`child.rs`);
//! - a worker draining 5,000 `/bin/true` runs, next to a baseline measured in the same
//!   run: `std::process::Command` spawning `/bin/true` as many times from one thread and
//!   from 8 (the worker's concurrency), with the CPU per run of this process and of its
//!   children, and for Redis that of redis-server, which shares the machine.
//!
//! Run with `cargo bench --bench daemon` (about 75 s). Sizes: `CRONQ_BENCH_JOBS`
//! (100,000), `CRONQ_BENCH_IDLE_S` (10), `CRONQ_BENCH_FIRE_JOBS` (10,000),
//! `CRONQ_BENCH_FIRE_ROUNDS` (3), `CRONQ_BENCH_FIRE_GAP_S` (3: between rounds),
//! `CRONQ_BENCH_LEAD_S` (2: how far ahead, at least, the first round is),
//! `CRONQ_BENCH_DRAIN` (5,000), `CRONQ_BENCH_CHILD_FIRES` (60).
//! `CRONQ_BENCH_ONLY=scale,fire,child,drain` picks sections;
//! `CRONQ_BENCH_REDIS=0` skips Redis, which needs `redis-server`.
//!
//! As in `cronq daemon`: the runtime is `Runtime::new()` (a worker thread per core) and
//! the logs are formatted at info, but into a sink rather than stderr. Each store is
//! wrapped in a probe that counts and times every call, so that a figure comes with
//! where its time went.

#[path = "../tests/common/redis_server.rs"]
mod redis_server;
#[path = "shared/schedules.rs"]
mod schedules;

#[path = "daemon/child.rs"]
mod child;

use std::collections::BTreeMap;
use std::fmt::Debug;
use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use chrono::{DateTime, TimeDelta, Timelike, Utc};
use chrono_tz::Tz;
use tokio::sync::{Notify, watch};
use tokio_util::sync::CancellationToken;
use tracing_subscriber::filter::LevelFilter;
use tracing_subscriber::prelude::*;

use cronq::daemon::fire::new_run;
use cronq::daemon::{self, DaemonConfig};
use cronq::store::redis::RedisStore;
use cronq::store::sqlite::SqliteStore;
use cronq::store::{
    Cancelled, Chunk, DEFAULT_OUTPUT_TAIL_BYTES, DaemonInfo, Finished, HistoryFilter, Lease,
    NewRun, Outcome, Output, Pause, PauseScope, Paused, PublishedJson, PublishedSchedule,
    QueuedRun, Result as StoreResult, Retention, Run, RunId, RunStatus, Store, Trigger, WorkerInfo,
    WorkerRef,
};
use cronq::worker::{self, WorkerConfig};

/// The lease the daemon's reaper and the worker use: cronq's default.
const LEASE: Duration = Duration::from_secs(30);
/// How long the bench waits for any one step before it gives up.
const PATIENCE: Duration = Duration::from_secs(300);

/// Set in the child process that measures one backend at scale: its name.
const SCALE_CHILD: &str = "CRONQ_BENCH_SCALE_CHILD";
/// The Redis server's URL, for that child.
const REDIS_URL: &str = "CRONQ_BENCH_REDIS_URL";

/// What to measure, and how much.
struct Sizes {
    jobs: usize,
    idle: Duration,
    fire_jobs: usize,
    rounds: usize,
    gap_s: usize,
    lead: Duration,
    drain_runs: usize,
    child_fires: usize,
    redis: bool,
    only: Vec<String>,
}

impl Sizes {
    fn from_env() -> Sizes {
        Sizes {
            jobs: env_count("CRONQ_BENCH_JOBS", 100_000),
            idle: Duration::from_secs(env_count("CRONQ_BENCH_IDLE_S", 10) as u64),
            fire_jobs: env_count("CRONQ_BENCH_FIRE_JOBS", 10_000),
            rounds: env_count("CRONQ_BENCH_FIRE_ROUNDS", 3).clamp(1, 10),
            gap_s: env_count("CRONQ_BENCH_FIRE_GAP_S", 3).clamp(1, 5),
            lead: Duration::from_secs(env_count("CRONQ_BENCH_LEAD_S", 2) as u64),
            drain_runs: env_count("CRONQ_BENCH_DRAIN", 5_000),
            child_fires: env_count("CRONQ_BENCH_CHILD_FIRES", 60).max(1),
            redis: env_count("CRONQ_BENCH_REDIS", 1) != 0,
            only: std::env::var("CRONQ_BENCH_ONLY")
                .unwrap_or_else(|_| "scale,fire,child,drain".into())
                .split(',')
                .map(str::to_string)
                .collect(),
        }
    }

    fn runs(&self, section: &str) -> bool {
        self.only.iter().any(|s| s == section)
    }
}

fn main() {
    // As `cronq`'s own `main` does.
    cronq::memory::give_back_freed_memory();
    let sizes = Sizes::from_env();
    if let Ok(backend) = std::env::var(SCALE_CHILD) {
        scale_child(&backend, &sizes);
        return;
    }
    let marks = install_logging();
    let runtime = tokio::runtime::Runtime::new().expect("a tokio runtime");
    let dir = tempfile::tempdir().expect("a temp dir");
    let server = sizes.redis.then(redis_server::RedisServer::start);
    let mut backends = vec![Backend::Sqlite];
    if server.is_some() {
        backends.push(Backend::Redis);
    }
    let stores = Stores {
        dir: dir.path().to_path_buf(),
        redis_url: server.as_ref().map(|s| s.url()),
    };
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!(
        "cronq daemon benchmark: {cores} cores; the runtime of `cronq daemon`, its logs formatted at info into a sink"
    );
    if sizes.runs("scale") {
        scale_section(&sizes, &stores, &backends);
    }
    if sizes.runs("fire") {
        fire_section(&sizes, &stores, &backends, &runtime, &marks);
    }
    if sizes.runs("child") {
        child::section(&sizes, &stores, &backends, &runtime);
    }
    if sizes.runs("drain") {
        drain_section(&sizes, &stores, &backends, &runtime);
    }
    drop(runtime);
}

// ---------------------------------------------------------------------------------------
// 100,000 scheduled jobs

/// Each backend in a fresh process of its own, so that its RSS is the daemon's alone.
fn scale_section(sizes: &Sizes, stores: &Stores, backends: &[Backend]) {
    println!();
    println!(
        "{} scheduled jobs, none due (`M H 1 1 *`), each backend in a fresh process; target: load < 2 s, RSS < 100 MB, idle CPU ~ 0",
        sizes.jobs
    );
    println!(
        "{:<8} {:>9} {:>15} {:>14} {:>11} {:>12} {:>10} {:>16} {:>11}",
        "backend",
        "load",
        "load+start",
        "+ prune pass",
        "RSS loaded",
        "RSS started",
        "RSS idle",
        "idle CPU (core)",
        "wake-ups/s"
    );
    let exe = std::env::current_exe().expect("this benchmark's path");
    let mut notes = Vec::new();
    for backend in backends {
        let mut child = Command::new(&exe);
        child.env(SCALE_CHILD, backend.name());
        if let Some(url) = &stores.redis_url {
            child.env(REDIS_URL, url);
        }
        let output = child.output().expect("the scale child runs");
        let text = String::from_utf8_lossy(&output.stdout);
        assert!(
            output.status.success(),
            "the scale child failed: {text}{}",
            String::from_utf8_lossy(&output.stderr)
        );
        let mut lines = text.lines();
        println!("{}", lines.next().unwrap_or_default());
        notes.extend(lines.map(str::to_string));
    }
    for note in notes {
        println!("{note}");
    }
}

/// In the child: one backend at scale, printed as a row and its notes.
fn scale_child(backend: &str, sizes: &Sizes) {
    let backend = match backend {
        "redis" => Backend::Redis,
        _ => Backend::Sqlite,
    };
    let marks = install_logging();
    let runtime = tokio::runtime::Runtime::new().expect("a tokio runtime");
    let dir = tempfile::tempdir().expect("a temp dir");
    let stores = Stores {
        dir: dir.path().to_path_buf(),
        redis_url: std::env::var(REDIS_URL).ok(),
    };
    let figures = runtime.block_on(at_scale(&stores, backend, sizes.jobs, sizes.idle, &marks));
    figures.print(backend, sizes.idle);
    println!("{}", figures.notes(backend));
}

struct AtScale {
    load: Duration,
    started: Duration,
    idle_at: Duration,
    rss_before_kb: u64,
    rss_loaded_kb: u64,
    rss_started_kb: u64,
    rss_idle_kb: u64,
    cpu_start: Duration,
    idle_cpu: f64,
    wakes_per_s: f64,
    start_calls: BTreeMap<&'static str, Tally>,
    idle_calls: BTreeMap<&'static str, Tally>,
}

impl AtScale {
    fn print(&self, backend: Backend, idle: Duration) {
        println!(
            "{:<8} {:>6.0} ms {:>12.0} ms {:>11.0} ms {:>8.1} MB {:>9.1} MB {:>7.1} MB {:>10.2}% {:>3}s {:>11.1}",
            backend.name(),
            ms(self.load),
            ms(self.started),
            ms(self.idle_at),
            mb(self.rss_loaded_kb),
            mb(self.rss_started_kb),
            mb(self.rss_idle_kb),
            self.idle_cpu,
            idle.as_secs(),
            self.wakes_per_s,
        );
    }

    fn notes(&self, backend: Backend) -> String {
        format!(
            "  {}: RSS before load {:.1} MB; CPU from load to idle {:.2} s; store calls to idle: {}; while idle: {}",
            backend.name(),
            mb(self.rss_before_kb),
            self.cpu_start.as_secs_f64(),
            describe(&self.start_calls),
            describe(&self.idle_calls),
        )
    }
}

/// Loads `jobs` jobs none of which is due, starts the daemon, waits until it is idle
/// (its first prune pass over every job done), then watches it idle for `idle`.
async fn at_scale(
    stores: &Stores,
    backend: Backend,
    jobs: usize,
    idle: Duration,
    marks: &Marks,
) -> AtScale {
    let text = schedules::far_future_schedule(jobs);
    let rss_before_kb = rss_kb();
    let cpu_before = cpu_time().0;
    let seen = marks.started();
    let start = Instant::now();
    let schedule = cronq::schedule::load(&text, "bench.yaml", Tz::UTC).expect("a valid schedule");
    let load = start.elapsed();
    drop(text);
    let rss_loaded_kb = rss_kb();
    let (store, probe) = stores.open("scale", backend).await;
    let stop = CancellationToken::new();
    let daemon = tokio::spawn(daemon::run(
        store,
        schedule,
        daemon_config(),
        stop.clone(),
        Arc::new(Notify::new()),
    ));
    wait_until("the daemon's start", || marks.started() > seen).await;
    let started = marks.last_start().expect("a start") - start;
    let rss_started_kb = rss_kb();
    wait_until("the first prune pass", || {
        probe.pruned_jobs.load(Ordering::Relaxed) >= jobs as u64
    })
    .await;
    let idle_at = probe.tally("prune").last.map_or(started, |at| at - start);
    let rss_idle_kb = rss_kb();
    let cpu_start = cpu_time().0 - cpu_before;
    let start_calls = probe.tallies();

    let (cpu, switches) = (cpu_time().0, context_switches());
    tokio::time::sleep(idle).await;
    let idle_cpu = (cpu_time().0 - cpu).as_secs_f64() / idle.as_secs_f64() * 100.0;
    let wakes_per_s = switches_since(&switches) as f64 / idle.as_secs_f64();
    let idle_calls = since(&probe.tallies(), &start_calls);

    stop.cancel();
    daemon.await.expect("the daemon task").expect("the daemon");
    AtScale {
        load,
        started,
        idle_at,
        rss_before_kb,
        rss_loaded_kb,
        rss_started_kb,
        rss_idle_kb,
        cpu_start,
        idle_cpu,
        wakes_per_s,
        start_calls,
        idle_calls,
    }
}

// ---------------------------------------------------------------------------------------
// Fire lateness

fn fire_section(
    sizes: &Sizes,
    stores: &Stores,
    backends: &[Backend],
    runtime: &tokio::runtime::Runtime,
    marks: &Marks,
) {
    println!();
    println!(
        "fire lateness, {} jobs due at the same second, {} rounds {} s apart, no built-in workers; target: first fire p99 < 5 ms",
        sizes.fire_jobs, sizes.rounds, sizes.gap_s
    );
    println!(
        "{:<8} {:>5} {:>17} {:>17} {:>8} {:>8} {:>8} {:>9} {:>9}",
        "backend",
        "round",
        "first fire",
        "p99 of first 100",
        "p50",
        "p99",
        "max",
        "fires/s",
        "in store"
    );
    let mut notes = Vec::new();
    let mut firsts = Vec::new();
    for &backend in backends {
        let rounds = runtime.block_on(fire_rounds(stores, backend, sizes, marks));
        for (number, round) in rounds.iter().enumerate() {
            round.print(backend, number + 1);
            notes.push(round.notes(backend, number + 1));
            firsts.extend(round.returned().first().copied());
        }
    }
    println!(
        "  (queued_at - scheduled_for as the store keeps it, to the ms; in brackets the same at µs precision, when the fire call returned)"
    );
    println!(
        "  first fire, the worst of {} rounds: {:.2} ms (target < 5 ms)",
        firsts.len(),
        firsts.iter().copied().fold(f64::NAN, f64::max)
    );
    for note in notes {
        println!("{note}");
    }
}

/// One fire, as the probe saw it.
#[derive(Clone, Copy)]
struct Fired {
    instant: DateTime<Utc>,
    called: DateTime<Utc>,
    returned: DateTime<Utc>,
}

struct FireRound {
    /// queued_at - scheduled_for of each run, in queue order (ms; the store keeps ms).
    stored: Vec<f64>,
    /// The probe's view of each fire, in the order they returned.
    fires: Vec<Fired>,
    /// Whether the daemon was idle (its first prune pass done) before the first round.
    idle_before: Option<Duration>,
    calls: BTreeMap<&'static str, Tally>,
}

impl FireRound {
    /// The probe's lateness of each fire, at µs precision, in the order they returned.
    fn returned(&self) -> Vec<f64> {
        self.fires
            .iter()
            .map(|f| lateness_ms(f.returned, f.instant))
            .collect()
    }

    /// The part of the round spent inside `Store::fire`.
    fn in_store(&self) -> f64 {
        let (Some(first), Some(last)) = (self.fires.first(), self.fires.last()) else {
            return f64::NAN;
        };
        let busy: f64 = self
            .fires
            .iter()
            .map(|f| lateness_ms(f.returned, f.called))
            .sum();
        busy / lateness_ms(last.returned, first.called)
    }

    fn print(&self, backend: Backend, number: usize) {
        let sorted = sorted(&self.stored);
        let first100 = sorted_head(&self.stored, 100);
        let returned = self.returned();
        println!(
            "{:<8} {:>5} {:>4.0} ms ({:>5.2}) {:>4.0} ms ({:>5.1}) {:>5.0} ms {:>5.0} ms {:>5.0} ms {:>9.0} {:>8.0}%",
            backend.name(),
            number,
            self.stored.first().copied().unwrap_or(f64::NAN),
            returned.first().copied().unwrap_or(f64::NAN),
            percentile(&first100, 0.99),
            percentile(&sorted_head(&returned, 100), 0.99),
            percentile(&sorted, 0.50),
            percentile(&sorted, 0.99),
            sorted.last().copied().unwrap_or(f64::NAN),
            rate(&self.stored),
            self.in_store() * 100.0,
        );
    }

    fn notes(&self, backend: Backend, number: usize) -> String {
        let returned = self.returned();
        let tenth = (returned.len() / 10).max(2);
        let first = self
            .fires
            .first()
            .map_or(f64::NAN, |f| lateness_ms(f.called, f.instant));
        let idle = match (number, self.idle_before) {
            (1, Some(ahead)) => format!(
                "; idle (first prune pass done) {:.0} ms before the instant; store calls: {}",
                ms(ahead),
                describe(&self.calls)
            ),
            (1, None) => "; the first prune pass was NOT done before the instant".into(),
            _ => String::new(),
        };
        let calls: Vec<f64> = self
            .fires
            .iter()
            .map(|f| lateness_ms(f.returned, f.called))
            .collect();
        let (slowest, at) = calls
            .iter()
            .enumerate()
            .map(|(i, &took)| (took, i + 1))
            .fold((0.0, 0), |a, b| if b.0 > a.0 { b } else { a });
        let over_1ms = calls.iter().filter(|&&took| took > 1.0).count();
        format!(
            "  {} round {number}: the first fire call began {first:.2} ms after the instant and took {:.2} ms; fires/s over the first and last tenth: {:.0}, {:.0}; fire calls over 1 ms: {over_1ms}, the slowest {slowest:.1} ms (fire #{at}){idle}",
            backend.name(),
            calls.first().copied().unwrap_or(f64::NAN),
            rate(&returned[..tenth]),
            rate(&returned[returned.len() - tenth..]),
        )
    }
}

/// Starts a daemon with `fire_jobs` jobs due at `rounds` seconds `gap_s` apart, the
/// first at least `lead` ahead; waits for the rounds, and reads the runs back.
async fn fire_rounds(
    stores: &Stores,
    backend: Backend,
    sizes: &Sizes,
    marks: &Marks,
) -> Vec<FireRound> {
    let jobs = sizes.fire_jobs;
    let ahead = Utc::now() + TimeDelta::from_std(sizes.lead).expect("a lead");
    let first = DateTime::from_timestamp(ahead.timestamp() + 1, 0).expect("an instant");
    let instants: Vec<DateTime<Utc>> = (0..sizes.rounds)
        .map(|k| first + TimeDelta::seconds((k * sizes.gap_s) as i64))
        .collect();
    let seconds: Vec<String> = instants.iter().map(|i| i.second().to_string()).collect();
    let text = same_seconds_schedule(jobs, &seconds.join(","));
    let schedule = cronq::schedule::load(&text, "bench.yaml", Tz::UTC).expect("a valid schedule");
    let (store, probe) = stores.open("fire", backend).await;
    let stop = CancellationToken::new();
    let seen = marks.started();
    let daemon = tokio::spawn(daemon::run(
        Arc::clone(&store),
        schedule,
        daemon_config(),
        stop.clone(),
        Arc::new(Notify::new()),
    ));
    wait_until("the daemon's start", || marks.started() > seen).await;
    wait_until("the first prune pass", || {
        probe.pruned_jobs.load(Ordering::Relaxed) >= jobs as u64
    })
    .await;
    let idle_before = (first - Utc::now()).to_std().ok();
    wait_until("the fire rounds", || {
        probe.fires.lock().expect("fires").len() >= jobs * instants.len()
    })
    .await;
    stop.cancel();
    daemon.await.expect("the daemon task").expect("the daemon");
    let calls = probe.tallies();

    let filter = HistoryFilter {
        limit: 0,
        ..HistoryFilter::default()
    };
    let runs = store.history(&filter).await.expect("history");
    let mut fires = probe.fires.lock().expect("fires").clone();
    fires.sort_by_key(|f| f.returned);
    instants
        .iter()
        .map(|&instant| {
            let mut round: Vec<&Run> = runs
                .iter()
                .filter(|run| run.scheduled_for == Some(instant))
                .collect();
            assert_eq!(round.len(), jobs, "one run per job at {instant}");
            round.sort_by(|a, b| (a.queued_at, &a.id).cmp(&(b.queued_at, &b.id)));
            FireRound {
                stored: round
                    .iter()
                    .map(|run| lateness_ms(run.queued_at, instant))
                    .collect(),
                fires: fires
                    .iter()
                    .filter(|f| f.instant == instant)
                    .copied()
                    .collect(),
                idle_before,
                calls: calls.clone(),
            }
        })
        .collect()
}

fn same_seconds_schedule(jobs: usize, seconds: &str) -> String {
    let mut text = String::from("defaults:\n  timezone: UTC\njobs:\n");
    for i in 0..jobs {
        text.push_str(&format!(
            "  job-{i}:\n    schedule: \"{seconds} * * * * *\"\n    command: [\"/bin/true\"]\n"
        ));
    }
    text
}

fn lateness_ms(at: DateTime<Utc>, instant: DateTime<Utc>) -> f64 {
    (at - instant).num_microseconds().unwrap_or(i64::MAX) as f64 / 1e3
}

/// Per second, from the first to the last of `times` (ms, in order).
fn rate(times: &[f64]) -> f64 {
    match (times.first(), times.last()) {
        (Some(first), Some(last)) if last > first => {
            (times.len() - 1) as f64 / ((last - first) / 1e3)
        }
        _ => f64::NAN,
    }
}

// ---------------------------------------------------------------------------------------
// Drain

const DRAIN_SCHEDULE: &str = "jobs:
  true:
    command: [\"/bin/true\"]
    concurrency: allow
";

fn drain_section(
    sizes: &Sizes,
    stores: &Stores,
    backends: &[Backend],
    runtime: &tokio::runtime::Runtime,
) {
    let runs = sizes.drain_runs;
    println!();
    println!(
        "drain of {runs} `/bin/true` runs on one host; target: >= 80% of the machine's fork+exec rate"
    );
    println!(
        "{:<52} {:>7} {:>11} {:>11} {:>17} {:>18}",
        "", "runs/s", "of machine", "of 1 thread", "CPU/run, process", "CPU/run, children"
    );
    let sequential = spawn_loop(runs, 1);
    let parallel = spawn_loop(runs, 8);
    let machine = sequential.rate.max(parallel.rate);
    let row = |what: &str, measured: &Measured| {
        println!(
            "{what:<52} {:>7.0} {:>10.0}% {:>10.0}% {:>14.0} µs {:>15.0} µs",
            measured.rate,
            measured.rate / machine * 100.0,
            measured.rate / sequential.rate * 100.0,
            measured.cpu.0.as_secs_f64() * 1e6 / runs as f64,
            measured.cpu.1.as_secs_f64() * 1e6 / runs as f64,
        );
    };
    row(
        "baseline  std::process::Command /bin/true, 1 thread",
        &sequential,
    );
    row(
        "baseline  std::process::Command /bin/true, 8 threads",
        &parallel,
    );
    let mut drains = vec![(Backend::Sqlite, 8), (Backend::Sqlite, 16)];
    if backends.contains(&Backend::Redis) {
        drains.extend([(Backend::Redis, 8), (Backend::Redis, 16)]);
    }
    let mut notes = Vec::new();
    for (backend, concurrency) in drains {
        let drained = runtime.block_on(drain(stores, backend, runs, concurrency));
        let what = format!(
            "cronq     worker::run on {}, concurrency {concurrency}",
            backend.name()
        );
        row(&what, &drained.measured);
        notes.push(drained.notes(backend, concurrency));
    }
    println!(
        "  the machine's rate is the faster baseline: the worker runs 8 children at once, so it is held to 8 spawning threads; target >= 80% of it"
    );
    for note in notes {
        println!("{note}");
    }
}

/// A rate, and the CPU it took: this process's, and its children's.
struct Measured {
    rate: f64,
    cpu: (Duration, Duration),
}

struct Drained {
    measured: Measured,
    enqueue_rate: f64,
    succeeded: usize,
    /// started_at to finished_at, on average (ms; the store keeps ms).
    held: f64,
    runs: usize,
    calls: BTreeMap<&'static str, Tally>,
    /// The CPU redis-server took during the drain (Redis only): it shares the machine.
    server_cpu: Option<Duration>,
}

impl Drained {
    fn notes(&self, backend: Backend, concurrency: usize) -> String {
        let per_run = |name: &str| {
            self.calls
                .get(name)
                .map_or(0.0, |t| t.busy.as_secs_f64() * 1e6 / self.runs as f64)
        };
        let notes = format!(
            "  {} c={concurrency}: {} of {} succeeded; a run took {:.2} ms from started_at to finished_at on average; enqueued beforehand at {:.0}/s; time in the store per run (waits for its turn included): reserve {:.0} µs, finish {:.0} µs, finish_and_reserve {:.0} µs; store calls: {}",
            backend.name(),
            self.succeeded,
            self.runs,
            self.held,
            self.enqueue_rate,
            per_run("reserve"),
            per_run("finish"),
            per_run("finish_and_reserve"),
            describe(&self.calls),
        );
        match self.server_cpu {
            Some(cpu) => format!(
                "{notes}; redis-server CPU per run {:.0} µs",
                cpu.as_secs_f64() * 1e6 / self.runs as f64
            ),
            None => notes,
        }
    }
}

/// `std::process::Command` running `/bin/true` `runs` times from `threads` threads.
fn spawn_loop(runs: usize, threads: usize) -> Measured {
    let cpu = cpu_time();
    let start = Instant::now();
    std::thread::scope(|scope| {
        for thread in 0..threads {
            scope.spawn(move || {
                for _ in (thread..runs).step_by(threads) {
                    let status = Command::new("/bin/true").status().expect("/bin/true");
                    assert!(status.success());
                }
            });
        }
    });
    let rate = runs as f64 / start.elapsed().as_secs_f64();
    let after = cpu_time();
    Measured {
        rate,
        cpu: (after.0 - cpu.0, after.1 - cpu.1),
    }
}

/// Queues `runs` runs of `/bin/true`, then has one worker with `concurrency` execute
/// them: runs/s from the worker's start to the last run's end in the store.
async fn drain(stores: &Stores, backend: Backend, runs: usize, concurrency: usize) -> Drained {
    let schedule = cronq::schedule::load(DRAIN_SCHEDULE, "bench.yaml", Tz::UTC).expect("valid");
    let job = schedule.jobs[0].clone();
    let (store, probe) = stores.open(&format!("drain-{concurrency}"), backend).await;
    let start = Instant::now();
    for _ in 0..runs {
        store
            .enqueue(new_run(&job, Trigger::Manual, None))
            .await
            .expect("enqueue");
    }
    let enqueue_rate = runs as f64 / start.elapsed().as_secs_f64();
    let before = probe.tallies();

    let (_publish, copies) = watch::channel(Arc::new(schedule));
    let stop = CancellationToken::new();
    let config = WorkerConfig {
        id: format!("bench:{}:{concurrency}", std::process::id()),
        host: "bench".into(),
        queues: vec![job.queue.clone()],
        concurrency,
        lease: LEASE,
        stop_grace: Duration::from_secs(10),
        cronq_bin: env!("CARGO_BIN_EXE_cronq").into(),
        state_dir: stores.dir.join("state"),
        containment: cronq::settings::Containment::Auto,
    };
    let server_cpu = stores.server_cpu(backend).await;
    let cpu = cpu_time();
    let start = Instant::now();
    let worker = tokio::spawn(worker::run(
        Arc::clone(&store),
        copies,
        config,
        stop.clone(),
    ));
    wait_until("the drain", || probe.finished().calls >= runs as u64).await;
    let end = probe.finished().last.expect("a finish");
    let after = cpu_time();
    let server_cpu = match (server_cpu, stores.server_cpu(backend).await) {
        (Some(before), Some(after)) => Some(after.saturating_sub(before)),
        _ => None,
    };
    let calls = since(&probe.tallies(), &before);
    stop.cancel();
    worker.await.expect("the worker task").expect("the worker");

    let filter = HistoryFilter {
        statuses: vec![RunStatus::Succeeded],
        limit: 0,
        ..HistoryFilter::default()
    };
    let finished = store.history(&filter).await.expect("history");
    let held: Vec<f64> = finished
        .iter()
        .filter_map(|run| Some(lateness_ms(run.finished_at?, run.started_at?)))
        .collect();
    Drained {
        succeeded: finished.len(),
        held: held.iter().sum::<f64>() / held.len().max(1) as f64,
        measured: Measured {
            rate: runs as f64 / (end - start).as_secs_f64(),
            cpu: (after.0 - cpu.0, after.1 - cpu.1),
        },
        enqueue_rate,
        runs,
        calls,
        server_cpu,
    }
}

// ---------------------------------------------------------------------------------------
// Stores

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Backend {
    Sqlite,
    Redis,
}

impl Backend {
    fn name(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Redis => "redis",
        }
    }
}

struct Stores {
    dir: PathBuf,
    redis_url: Option<String>,
}

impl Stores {
    /// A fresh store named `name`, wrapped in a probe.
    async fn open(&self, name: &str, backend: Backend) -> (Arc<dyn Store>, Arc<Probe>) {
        let inner: Arc<dyn Store> = match backend {
            Backend::Sqlite => {
                let path = self.dir.join(format!("{name}.db"));
                Arc::new(SqliteStore::open(&path, DEFAULT_OUTPUT_TAIL_BYTES).expect("open"))
            }
            Backend::Redis => {
                let url = self.redis_url.as_deref().expect("a Redis server");
                let prefix = format!("{{{name}}}:");
                Arc::new(
                    RedisStore::connect(url, &prefix, DEFAULT_OUTPUT_TAIL_BYTES)
                        .await
                        .expect("connect to Redis"),
                )
            }
        };
        let probe = Arc::new(Probe::new(inner));
        (Arc::clone(&probe) as Arc<dyn Store>, probe)
    }

    /// The CPU redis-server has used so far (user plus system, from `INFO cpu`); `None`
    /// for SQLite.
    async fn server_cpu(&self, backend: Backend) -> Option<Duration> {
        if backend != Backend::Redis {
            return None;
        }
        let client = redis::Client::open(self.redis_url.as_deref()?).ok()?;
        let mut connection = client.get_multiplexed_async_connection().await.ok()?;
        let info: String = redis::cmd("INFO")
            .arg("cpu")
            .query_async(&mut connection)
            .await
            .ok()?;
        let seconds = info
            .lines()
            .filter_map(|line| line.split_once(':'))
            .filter(|(name, _)| *name == "used_cpu_sys" || *name == "used_cpu_user")
            .filter_map(|(_, value)| value.trim().parse::<f64>().ok())
            .sum::<f64>();
        Some(Duration::from_secs_f64(seconds))
    }
}

fn daemon_config() -> DaemonConfig {
    DaemonConfig {
        // Never written: the daemon checks it and finds nothing to reload.
        schedule_path: PathBuf::from("/nonexistent/cronq-bench.yaml"),
        host_zone: Tz::UTC,
        workers: Vec::new(),
        lease: LEASE,
        host: "bench".into(),
        public_url: None,
    }
}

/// Calls to one store method: how many, the time spent in them, and when the last ended.
#[derive(Clone, Copy, Debug, Default)]
struct Tally {
    calls: u64,
    busy: Duration,
    last: Option<Instant>,
}

/// A store that counts and times the calls it passes on.
struct Probe {
    inner: Arc<dyn Store>,
    tallies: Mutex<BTreeMap<&'static str, Tally>>,
    /// Jobs passed to `prune`: a pass is done when it reaches the schedule's count.
    pruned_jobs: AtomicU64,
    /// Each fire that recorded a run.
    fires: Mutex<Vec<Fired>>,
    /// Each run a reserve returned: its instant, and when the call returned.
    reserved: Mutex<Vec<Reserved>>,
}

/// A run a reserve returned: the instant it was fired for, and when the call returned.
type Reserved = (Option<DateTime<Utc>>, DateTime<Utc>);

impl Probe {
    fn new(inner: Arc<dyn Store>) -> Probe {
        Probe {
            inner,
            tallies: Mutex::new(BTreeMap::new()),
            pruned_jobs: AtomicU64::new(0),
            fires: Mutex::new(Vec::new()),
            reserved: Mutex::new(Vec::new()),
        }
    }

    /// Notes the run a reserve returned, if any.
    fn note_reserved(&self, taken: Option<&(Run, Lease)>) {
        if let Some((run, _)) = taken {
            let at = Utc::now();
            let mut reserved = self.reserved.lock().expect("reserves");
            reserved.push((run.scheduled_for, at));
        }
    }

    async fn timed<T>(&self, name: &'static str, call: impl Future<Output = T>) -> T {
        let start = Instant::now();
        let answer = call.await;
        let end = Instant::now();
        let mut tallies = self.tallies.lock().expect("tallies");
        let tally = tallies.entry(name).or_default();
        tally.calls += 1;
        tally.busy += end - start;
        tally.last = Some(end);
        answer
    }

    fn tally(&self, name: &str) -> Tally {
        let tallies = self.tallies.lock().expect("tallies");
        tallies.get(name).copied().unwrap_or_default()
    }

    /// The runs whose end was recorded: by `finish`, or by `finish_and_reserve`, which
    /// also takes the next run.
    fn finished(&self) -> Tally {
        let (alone, chained) = (self.tally("finish"), self.tally("finish_and_reserve"));
        Tally {
            calls: alone.calls + chained.calls,
            busy: alone.busy + chained.busy,
            last: alone.last.max(chained.last),
        }
    }

    fn tallies(&self) -> BTreeMap<&'static str, Tally> {
        self.tallies.lock().expect("tallies").clone()
    }
}

#[async_trait]
impl Store for Probe {
    async fn enqueue(&self, run: NewRun) -> StoreResult<Run> {
        self.timed("enqueue", self.inner.enqueue(run)).await
    }

    async fn enqueue_if_idle(&self, run: NewRun) -> StoreResult<Run> {
        self.timed("enqueue_if_idle", self.inner.enqueue_if_idle(run))
            .await
    }

    async fn fire(
        &self,
        run: NewRun,
        instant: DateTime<Utc>,
        skip: Option<String>,
    ) -> StoreResult<Option<Run>> {
        let called = Utc::now();
        let fired = self
            .timed("fire", self.inner.fire(run, instant, skip))
            .await;
        if let Ok(Some(_)) = &fired {
            let returned = Utc::now();
            let fired = Fired {
                instant,
                called,
                returned,
            };
            self.fires.lock().expect("fires").push(fired);
        }
        fired
    }

    async fn fire_again(
        &self,
        run: NewRun,
        instant: DateTime<Utc>,
        pass: DateTime<Utc>,
        skip: Option<String>,
    ) -> StoreResult<Option<Run>> {
        self.timed(
            "fire_again",
            self.inner.fire_again(run, instant, pass, skip),
        )
        .await
    }

    async fn last_fired(&self, job: &str) -> StoreResult<Option<DateTime<Utc>>> {
        self.timed("last_fired", self.inner.last_fired(job)).await
    }

    async fn claims(
        &self,
        job: &str,
        instants: &[DateTime<Utc>],
    ) -> StoreResult<Vec<Option<String>>> {
        self.timed("claims", self.inner.claims(job, instants)).await
    }

    fn claims_kept(&self, keep_max_age: Duration) -> Duration {
        self.inner.claims_kept(keep_max_age)
    }

    async fn last_fires(&self) -> StoreResult<std::collections::HashMap<String, DateTime<Utc>>> {
        self.timed("last_fires", self.inner.last_fires()).await
    }

    async fn reserve(
        &self,
        queues: &[String],
        worker: &WorkerRef,
        lease_for: Duration,
        wait: Duration,
    ) -> StoreResult<Option<(Run, Lease)>> {
        let call = self.inner.reserve(queues, worker, lease_for, wait);
        let reserved = self.timed("reserve", call).await;
        if let Ok(taken) = &reserved {
            self.note_reserved(taken.as_ref());
        }
        reserved
    }

    async fn extend(&self, lease: &Lease, lease_for: Duration) -> StoreResult<(Lease, bool)> {
        self.timed("extend", self.inner.extend(lease, lease_for))
            .await
    }

    async fn finish(
        &self,
        lease: &Lease,
        outcome: Outcome,
        retry_in: Duration,
    ) -> StoreResult<Finished> {
        let call = self.inner.finish(lease, outcome, retry_in);
        self.timed("finish", call).await
    }

    async fn finish_and_reserve(
        &self,
        lease: &Lease,
        outcome: Outcome,
        retry_in: Duration,
        queues: &[String],
        worker: &WorkerRef,
        lease_for: Duration,
    ) -> StoreResult<(Finished, Option<(Run, Lease)>)> {
        let call = self
            .inner
            .finish_and_reserve(lease, outcome, retry_in, queues, worker, lease_for);
        let answer = self.timed("finish_and_reserve", call).await;
        if let Ok((_, taken)) = &answer {
            self.note_reserved(taken.as_ref());
        }
        answer
    }

    async fn cancel(&self, id: &str) -> StoreResult<Cancelled> {
        self.timed("cancel", self.inner.cancel(id)).await
    }

    async fn cancel_requests(&self, worker_id: &str, wait: Duration) -> StoreResult<Vec<RunId>> {
        let call = self.inner.cancel_requests(worker_id, wait);
        self.timed("cancel_requests", call).await
    }

    async fn append_output(&self, lease: &Lease, chunks: &[Chunk]) -> StoreResult<()> {
        let call = self.inner.append_output(lease, chunks);
        self.timed("append_output", call).await
    }

    async fn set_progress(&self, id: &str, percent: u8, message: Option<&str>) -> StoreResult<()> {
        let call = self.inner.set_progress(id, percent, message);
        self.timed("set_progress", call).await
    }

    async fn run(&self, id: &str) -> StoreResult<Run> {
        self.timed("run", self.inner.run(id)).await
    }

    async fn output(&self, id: &str, from: u64) -> StoreResult<Output> {
        self.timed("output", self.inner.output(id, from)).await
    }

    async fn history(&self, filter: &HistoryFilter) -> StoreResult<Vec<Run>> {
        self.timed("history", self.inner.history(filter)).await
    }

    async fn run_ids_with_prefix(&self, prefix: &str, limit: usize) -> StoreResult<Vec<String>> {
        self.inner.run_ids_with_prefix(prefix, limit).await
    }

    async fn running(&self) -> StoreResult<Vec<Run>> {
        self.timed("running", self.inner.running()).await
    }

    async fn queued(&self) -> StoreResult<Vec<QueuedRun>> {
        self.timed("queued", self.inner.queued()).await
    }

    async fn durations(&self, job: &str, count: usize) -> StoreResult<Vec<f64>> {
        self.timed("durations", self.inner.durations(job, count))
            .await
    }

    async fn last_runs(
        &self,
        jobs: &[&str],
    ) -> StoreResult<std::collections::HashMap<String, cronq::store::LastRuns>> {
        self.timed("last_runs", self.inner.last_runs(jobs)).await
    }

    async fn queue_lengths(&self) -> StoreResult<Vec<(String, u64)>> {
        self.timed("queue_lengths", self.inner.queue_lengths())
            .await
    }

    async fn lock(&self, name: &str, owner: &str, ttl: Duration) -> StoreResult<bool> {
        self.timed("lock", self.inner.lock(name, owner, ttl)).await
    }

    async fn renew_lock(&self, name: &str, owner: &str, ttl: Duration) -> StoreResult<bool> {
        let call = self.inner.renew_lock(name, owner, ttl);
        self.timed("renew_lock", call).await
    }

    async fn unlock(&self, name: &str, owner: &str) -> StoreResult<bool> {
        self.timed("unlock", self.inner.unlock(name, owner)).await
    }

    async fn heartbeat(&self, worker: &WorkerInfo, ttl: Duration) -> StoreResult<()> {
        self.timed("heartbeat", self.inner.heartbeat(worker, ttl))
            .await
    }

    async fn workers(&self) -> StoreResult<Vec<WorkerInfo>> {
        self.timed("workers", self.inner.workers()).await
    }

    async fn unregister(&self, worker_id: &str) -> StoreResult<()> {
        self.timed("unregister", self.inner.unregister(worker_id))
            .await
    }

    async fn daemon_heartbeat(&self, daemon: &DaemonInfo, ttl: Duration) -> StoreResult<()> {
        let call = self.inner.daemon_heartbeat(daemon, ttl);
        self.timed("daemon_heartbeat", call).await
    }

    async fn daemons(&self) -> StoreResult<Vec<DaemonInfo>> {
        self.timed("daemons", self.inner.daemons()).await
    }

    async fn publish(&self, schedule: PublishedJson) -> StoreResult<()> {
        self.timed("publish", self.inner.publish(schedule)).await
    }

    async fn published(&self) -> StoreResult<Option<PublishedSchedule>> {
        self.timed("published", self.inner.published()).await
    }

    async fn published_hash(&self) -> StoreResult<Option<String>> {
        self.timed("published_hash", self.inner.published_hash())
            .await
    }

    async fn claim_idempotency_key(
        &self,
        key: &str,
        hold: Duration,
    ) -> StoreResult<cronq::store::KeyClaim> {
        self.inner.claim_idempotency_key(key, hold).await
    }

    async fn settle_idempotency_key(
        &self,
        key: &str,
        run: Option<&str>,
        keep: Duration,
    ) -> StoreResult<()> {
        self.inner.settle_idempotency_key(key, run, keep).await
    }

    async fn dead_letters(&self) -> StoreResult<u64> {
        self.timed("dead_letters", self.inner.dead_letters()).await
    }

    async fn reap(&self) -> StoreResult<Vec<Run>> {
        self.timed("reap", self.inner.reap()).await
    }

    async fn prune(&self, jobs: &[(&str, Retention)]) -> StoreResult<u64> {
        let pruned = self.timed("prune", self.inner.prune(jobs)).await;
        self.pruned_jobs
            .fetch_add(jobs.len() as u64, Ordering::Relaxed);
        pruned
    }

    async fn pause(&self, scope: &PauseScope, pause: &Pause) -> StoreResult<()> {
        self.timed("pause", self.inner.pause(scope, pause)).await
    }

    async fn resume(&self, scope: &PauseScope) -> StoreResult<Option<Pause>> {
        self.timed("resume", self.inner.resume(scope)).await
    }

    async fn pauses(&self) -> StoreResult<Vec<Paused>> {
        self.timed("pauses", self.inner.pauses()).await
    }

    async fn pause_version(&self) -> StoreResult<Option<String>> {
        self.timed("pause_version", self.inner.pause_version())
            .await
    }

    async fn pass_paused(
        &self,
        run: NewRun,
        instant: DateTime<Utc>,
        scope: &PauseScope,
        reason: String,
        record_limit: u32,
    ) -> StoreResult<Option<Run>> {
        let call = self
            .inner
            .pass_paused(run, instant, scope, reason, record_limit);
        self.timed("pass_paused", call).await
    }

    async fn record_health(
        &self,
        job: &str,
        run: Option<&str>,
        failed: bool,
        remind: Option<Duration>,
    ) -> StoreResult<Option<cronq::store::HealthChange>> {
        let call = self.inner.record_health(job, run, failed, remind);
        self.timed("record_health", call).await
    }

    async fn add_notice(&self, notice: &cronq::store::NewNotice) -> StoreResult<bool> {
        self.timed("add_notice", self.inner.add_notice(notice))
            .await
    }

    async fn claim_notices(
        &self,
        owner: &str,
        lease: Duration,
        limit: usize,
    ) -> StoreResult<Vec<cronq::store::Notice>> {
        let call = self.inner.claim_notices(owner, lease, limit);
        self.timed("claim_notices", call).await
    }

    async fn notice_progress(
        &self,
        key: &str,
        owner: &str,
        sent: Option<u32>,
        done: bool,
        lease: Duration,
    ) -> StoreResult<bool> {
        let call = self.inner.notice_progress(key, owner, sent, done, lease);
        self.timed("notice_progress", call).await
    }

    async fn record_target(&self, job: &str, target: &str, error: Option<&str>) -> StoreResult<()> {
        let call = self.inner.record_target(job, target, error);
        self.timed("record_target", call).await
    }

    async fn target_failures(&self) -> StoreResult<Vec<cronq::store::TargetFailure>> {
        self.timed("target_failures", self.inner.target_failures())
            .await
    }
}

/// The calls made since `before`.
fn since(
    now: &BTreeMap<&'static str, Tally>,
    before: &BTreeMap<&'static str, Tally>,
) -> BTreeMap<&'static str, Tally> {
    now.iter()
        .map(|(&name, tally)| {
            let old = before.get(name).copied().unwrap_or_default();
            let diff = Tally {
                calls: tally.calls - old.calls,
                busy: tally.busy.saturating_sub(old.busy),
                last: tally.last,
            };
            (name, diff)
        })
        .filter(|(_, tally)| tally.calls > 0)
        .collect()
}

/// `prune 100000 × (2.91 s)`, by time spent, most first.
fn describe(calls: &BTreeMap<&'static str, Tally>) -> String {
    let mut calls: Vec<_> = calls.iter().filter(|(_, t)| t.calls > 0).collect();
    if calls.is_empty() {
        return "none".into();
    }
    calls.sort_by_key(|(_, tally)| std::cmp::Reverse(tally.busy));
    calls
        .iter()
        .map(|(name, t)| format!("{name} {}× {:.1} ms", t.calls, ms(t.busy)))
        .collect::<Vec<_>>()
        .join(", ")
}

// ---------------------------------------------------------------------------------------
// Logging, and the daemon's start seen in it

/// When the daemon logged `daemon started`.
#[derive(Default)]
struct Marks {
    starts: Mutex<Vec<Instant>>,
}

impl Marks {
    fn started(&self) -> usize {
        self.starts.lock().expect("marks").len()
    }

    fn last_start(&self) -> Option<Instant> {
        self.starts.lock().expect("marks").last().copied()
    }
}

struct MarkLayer(Arc<Marks>);

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for MarkLayer {
    fn on_event(&self, event: &tracing::Event<'_>, _: tracing_subscriber::layer::Context<'_, S>) {
        if event.metadata().target() != "cronq::daemon" {
            return;
        }
        let mut message = Message::default();
        event.record(&mut message);
        if message.0 == "daemon started" {
            let now = Instant::now();
            self.0.starts.lock().expect("marks").push(now);
        }
    }
}

#[derive(Default)]
struct Message(String);

impl tracing::field::Visit for Message {
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn Debug) {
        if field.name() == "message" {
            self.0 = format!("{value:?}");
        }
    }
}

/// Logs at info, formatted as `cronq daemon` does, into a sink; and the marks.
fn install_logging() -> Arc<Marks> {
    let marks = Arc::new(Marks::default());
    tracing_subscriber::registry()
        .with(
            tracing_subscriber::fmt::layer()
                .with_ansi(false)
                .with_writer(std::io::sink)
                .with_filter(LevelFilter::INFO),
        )
        .with(MarkLayer(Arc::clone(&marks)).with_filter(LevelFilter::INFO))
        .init();
    marks
}

// ---------------------------------------------------------------------------------------
// Measuring

/// Polls `done` every 2 ms; panics after [`PATIENCE`].
async fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + PATIENCE;
    while !done() {
        assert!(Instant::now() < deadline, "{what} took over {PATIENCE:?}");
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

fn sorted(values: &[f64]) -> Vec<f64> {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    sorted
}

fn sorted_head(values: &[f64], count: usize) -> Vec<f64> {
    sorted(&values[..count.min(values.len())])
}

/// Nearest rank.
fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = (p * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn ms(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1e3
}

fn rss_kb() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("Linux /proc");
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|kb| kb.parse().ok())
        .expect("VmRSS in /proc/self/status")
}

/// User plus system CPU time of this process (every thread), and of its children that
/// were waited for.
fn cpu_time() -> (Duration, Duration) {
    let stat = std::fs::read_to_string("/proc/self/stat").expect("Linux /proc");
    // After `pid (comm)`: field 3 is the state; 14 and 15 utime and stime; 16 and 17
    // cutime and cstime.
    let fields: Vec<u64> = stat
        .rsplit_once(')')
        .expect("a stat line")
        .1
        .split_whitespace()
        .map(|field| field.parse().unwrap_or(0))
        .collect();
    let ticks = |n: u64| Duration::from_secs_f64(n as f64 / clock_ticks() as f64);
    (
        ticks(fields[11] + fields[12]),
        ticks(fields[13] + fields[14]),
    )
}

fn clock_ticks() -> u64 {
    static TICKS: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
    *TICKS.get_or_init(|| {
        Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|out| String::from_utf8(out.stdout).ok())
            .and_then(|text| text.trim().parse().ok())
            .unwrap_or(100)
    })
}

/// Each live thread's context switches (voluntary ones are wake-ups), by thread id.
fn context_switches() -> BTreeMap<String, u64> {
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return BTreeMap::new();
    };
    tasks
        .flatten()
        .filter_map(|task| {
            let status = std::fs::read_to_string(task.path().join("status")).ok()?;
            let switches = status
                .lines()
                .filter(|line| line.contains("ctxt_switches:"))
                .filter_map(|line| line.split_whitespace().nth(1)?.parse::<u64>().ok())
                .sum();
            Some((task.file_name().to_string_lossy().into_owned(), switches))
        })
        .collect()
}

/// The context switches since `before` of the threads that lived then and live now.
fn switches_since(before: &BTreeMap<String, u64>) -> u64 {
    context_switches()
        .iter()
        .filter_map(|(thread, now)| Some(now.saturating_sub(*before.get(thread)?)))
        .sum()
}

fn mb(kb: u64) -> f64 {
    kb as f64 / 1024.0
}

fn env_count(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}
