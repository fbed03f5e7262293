//! Cancel latency on both stores: a worker (lease 30 s, so renewals come every 10 s and
//! play no part) runs a job that exits on SIGTERM at once; another store handle, as
//! `cronq cancel` in another process would, cancels it, 100 times. Each latency is from
//! the `cancel` call to the run's `finished_at` as the worker recorded it, p50 and p99,
//! beside the store's round trip for one `run` read from the same handle.
//!
//! Then the store load the worker's cancel listener adds: the worker idle, with one run
//! and with eight, 10 s each; on Redis the commands/s from `INFO commandstats`, on SQLite
//! the CPU of this process, where the store's calls run.
//!
//! Run with `cargo bench --bench cancel` (about 90 s). `CRONQ_BENCH_CANCELS` (100),
//! `CRONQ_BENCH_IDLE_S` (10); `CRONQ_BENCH_REDIS=0` skips Redis.

#[path = "../tests/common/redis_server.rs"]
mod redis_server;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use chrono_tz::Tz;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use cronq::schedule::Schedule;
use cronq::store::redis::RedisStore;
use cronq::store::sqlite::SqliteStore;
use cronq::store::{DEFAULT_OUTPUT_TAIL_BYTES, NewRun, RunStatus, Store, StoreError};
use cronq::worker::{self, WorkerConfig};

const SCHEDULE: &str = "jobs:
  obeys:
    command: \"exec sleep 600\"
    concurrency: allow
";
const LEASE: Duration = Duration::from_secs(30);
const CONCURRENCY: usize = 8;
const PATIENCE: Duration = Duration::from_secs(30);

#[derive(Clone, Copy, PartialEq, Eq)]
enum Backend {
    Sqlite,
    Redis,
}

fn main() {
    let cancels = env_count("CRONQ_BENCH_CANCELS", 100);
    let idle = Duration::from_secs(env_count("CRONQ_BENCH_IDLE_S", 10) as u64);
    let redis = std::env::var("CRONQ_BENCH_REDIS").map_or(true, |v| v != "0");
    let runtime = tokio::runtime::Runtime::new().expect("a tokio runtime");
    let dir = tempfile::tempdir().expect("a temp dir");
    let server = redis.then(redis_server::RedisServer::start);
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!("cronq cancel benchmark: {cores} cores, {cancels} cancels per store, lease 30 s");
    let mut backends = vec![(
        Backend::Sqlite,
        format!("sqlite:{}", dir.path().join("cronq.db").display()),
    )];
    if let Some(server) = &server {
        backends.push((Backend::Redis, server.url()));
    }
    for (backend, url) in &backends {
        runtime.block_on(bench(*backend, url, dir.path(), cancels, idle));
    }
}

async fn open(backend: Backend, url: &str) -> Arc<dyn Store> {
    match backend {
        Backend::Sqlite => {
            let path = url.strip_prefix("sqlite:").expect("a sqlite: URL");
            Arc::new(SqliteStore::open(Path::new(path), DEFAULT_OUTPUT_TAIL_BYTES).expect("open"))
        }
        Backend::Redis => Arc::new(
            RedisStore::connect(url, "{cronq-bench}:", DEFAULT_OUTPUT_TAIL_BYTES)
                .await
                .expect("connect to Redis"),
        ),
    }
}

async fn bench(backend: Backend, url: &str, dir: &Path, cancels: usize, idle: Duration) {
    let name = match backend {
        Backend::Sqlite => "SQLite",
        Backend::Redis => "Redis",
    };
    let schedule: Schedule = cronq::schedule::load(SCHEDULE, "bench.yaml", Tz::UTC).expect("valid");
    let worker_store = open(backend, url).await;
    // The canceller and the reader are another handle: another connection, as the
    // `cronq cancel` process would have.
    let cli = open(backend, url).await;
    let (_publish, copies) = watch::channel(Arc::new(schedule));
    let stop = CancellationToken::new();
    let config = WorkerConfig {
        id: format!("bench:{}:{name}", std::process::id()),
        host: "bench".into(),
        queues: vec!["default".into()],
        concurrency: CONCURRENCY,
        lease: LEASE,
        stop_grace: Duration::from_secs(5),
        cronq_bin: env!("CARGO_BIN_EXE_cronq").into(),
        state_dir: dir.join("state"),
        containment: cronq::settings::Containment::Auto,
    };
    let task = tokio::spawn(worker::run(worker_store, copies, config, stop.clone()));

    let mut latencies = Vec::with_capacity(cancels);
    let mut seed = Utc::now().timestamp_subsec_nanos() as u64 | 1;
    for _ in 0..cancels {
        let id = running_run(&*cli).await;
        // A random phase, so that the cancels do not fall in step with a poll.
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        tokio::time::sleep(Duration::from_millis(seed % 250)).await;
        let asked = Utc::now();
        cli.cancel(&id).await.expect("cancel");
        let run = finished(&*cli, &id).await;
        assert_eq!(run.status, RunStatus::Cancelled, "{run:?}");
        let took = run.finished_at.expect("finished") - asked;
        latencies.push(took.num_milliseconds() as f64);
    }
    let id = running_run(&*cli).await;
    let mut reads = Vec::new();
    for _ in 0..200 {
        let start = Instant::now();
        cli.run(&id).await.expect("read");
        reads.push(start.elapsed().as_secs_f64() * 1e3);
    }
    cli.cancel(&id).await.expect("cancel");
    finished(&*cli, &id).await;
    latencies.sort_by(f64::total_cmp);
    reads.sort_by(f64::total_cmp);
    println!(
        "{name}: cancel → run recorded cancelled, p50 {:.0} ms, p99 {:.0} ms, max {:.0} ms (one `run` read: p50 {:.2} ms)",
        percentile(&latencies, 0.5),
        percentile(&latencies, 0.99),
        latencies.last().copied().unwrap_or(f64::NAN),
        percentile(&reads, 0.5),
    );

    // The load while the worker idles, then runs one run, then eight.
    let mut held = Vec::new();
    for runs in [0, 1, CONCURRENCY] {
        while held.len() < runs {
            held.push(running_run(&*cli).await);
        }
        // Let the listener settle and the registry heartbeat of the start go by.
        tokio::time::sleep(Duration::from_secs(2)).await;
        let load = measure(backend, url, idle).await;
        println!("{name}: worker with {runs} running run(s): {load}");
    }
    for id in &held {
        cli.cancel(id).await.expect("cancel");
    }
    stop.cancel();
    task.await.expect("the worker task").expect("the worker");
}

/// Queues a run and waits until the worker runs it; its id.
async fn running_run(store: &dyn Store) -> String {
    let run = store
        .enqueue(NewRun::manual("obeys", "default"))
        .await
        .expect("enqueue");
    let deadline = Instant::now() + PATIENCE;
    loop {
        let now = store.run(&run.id).await.expect("the run");
        if now.status == RunStatus::Running {
            return run.id;
        }
        assert!(Instant::now() < deadline, "the run never started: {now:?}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

async fn finished(store: &dyn Store, id: &str) -> cronq::store::Run {
    let deadline = Instant::now() + PATIENCE;
    loop {
        match store.run(id).await {
            Ok(run) if run.status.is_finished() => return run,
            Ok(_) => {}
            Err(StoreError::NotFound(_)) => panic!("run {id} is gone"),
            Err(error) => panic!("read run {id}: {error}"),
        }
        assert!(Instant::now() < deadline, "run {id} never ended");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// What the store did over `period`: Redis commands/s by command, or this process's CPU.
async fn measure(backend: Backend, url: &str, period: Duration) -> String {
    match backend {
        Backend::Redis => {
            let client = redis::Client::open(url).expect("a Redis URL");
            let mut connection = client
                .get_multiplexed_async_connection()
                .await
                .expect("connect");
            let before = commandstats(&mut connection).await;
            tokio::time::sleep(period).await;
            let after = commandstats(&mut connection).await;
            let seconds = period.as_secs_f64();
            let mut total = 0.0;
            let mut each = Vec::new();
            for (command, calls) in &after {
                // The two INFO calls of the measurement itself are not the worker's.
                let delta = calls - before.get(command).copied().unwrap_or(0);
                let delta = if command == "info" {
                    delta.saturating_sub(1)
                } else {
                    delta
                };
                if delta > 0 {
                    total += delta as f64 / seconds;
                    each.push(format!("{command} {:.1}/s", delta as f64 / seconds));
                }
            }
            format!("{total:.1} commands/s ({})", each.join(", "))
        }
        Backend::Sqlite => {
            let (cpu, wall) = (cpu_time(), Instant::now());
            tokio::time::sleep(period).await;
            let used = cpu_time() - cpu;
            format!(
                "{:.2}% of a core for the whole process",
                100.0 * used.as_secs_f64() / wall.elapsed().as_secs_f64()
            )
        }
    }
}

async fn commandstats(connection: &mut redis::aio::MultiplexedConnection) -> BTreeMap<String, u64> {
    let info: String = redis::cmd("INFO")
        .arg("commandstats")
        .query_async(connection)
        .await
        .expect("INFO commandstats");
    info.lines()
        .filter_map(|line| line.strip_prefix("cmdstat_"))
        .filter_map(|line| {
            let (command, stats) = line.split_once(':')?;
            let calls = stats.split(',').find_map(|s| s.strip_prefix("calls="))?;
            Some((command.to_string(), calls.parse().ok()?))
        })
        .collect()
}

/// Nearest rank.
fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = (p * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// User plus system CPU time of this process, every thread.
fn cpu_time() -> Duration {
    let stat = std::fs::read_to_string("/proc/self/stat").expect("Linux /proc");
    // After `pid (comm)`: fields 14 and 15 are utime and stime, in clock ticks.
    let fields: Vec<u64> = stat
        .rsplit_once(')')
        .expect("a stat line")
        .1
        .split_whitespace()
        .map(|field| field.parse().unwrap_or(0))
        .collect();
    let ticks = Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|out| String::from_utf8(out.stdout).ok())
        .and_then(|text| text.trim().parse().ok())
        .unwrap_or(100u64);
    Duration::from_secs_f64((fields[11] + fields[12]) as f64 / ticks as f64)
}

fn env_count(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}
