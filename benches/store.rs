//! Store throughput on both backends, next to `redis-benchmark` on the same server in
//! the same run: enqueue/s, reserve+ack/s, and the history query `job = J, limit 50`
//! over a large history.
//!
//! Run with `cargo bench --bench store`. `CRONQ_BENCH_RUNS` (default 20,000) sets the
//! runs per throughput figure, `CRONQ_BENCH_HISTORY` (default 1,000,000) the history
//! size. Needs `redis-server`, `redis-benchmark` and `redis-cli` (Debian: redis-server,
//! redis-tools). For Redis it also prints the server's own time per call
//! (`usec_per_call` of `INFO commandstats`): the enqueue script's against `LPUSH`'s.

#[path = "../tests/common/redis_server.rs"]
mod redis_server;

use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use cronq::store::redis::RedisStore;
use cronq::store::sqlite::SqliteStore;
use cronq::store::{
    DEFAULT_OUTPUT_TAIL_BYTES, HistoryFilter, NewRun, Outcome, RunStatus, Store, WorkerRef,
};

/// Concurrent clients for enqueue, as `redis-benchmark -c 50`.
const CLIENTS: usize = 50;
/// Concurrent workers for reserve+ack.
const WORKERS: usize = 8;
/// Jobs the history is spread over.
const HISTORY_JOBS: usize = 1_000;

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let runs = env_count("CRONQ_BENCH_RUNS", 20_000);
    let history = env_count("CRONQ_BENCH_HISTORY", 1_000_000);
    let dir = tempfile::tempdir().expect("a temp dir");
    let server = redis_server::RedisServer::start();
    let redis_url = server.url();

    println!("store benchmark: {runs} runs per throughput figure, history of {history} runs");
    println!();
    println!(
        "{:<8} {:>12} {:>15} {:>26}",
        "backend", "enqueue/s", "reserve+ack/s", "history job=J limit 50"
    );

    let sqlite_path = dir.path().join("bench.db");
    let sqlite: Arc<dyn Store> =
        Arc::new(SqliteStore::open(&sqlite_path, DEFAULT_OUTPUT_TAIL_BYTES).expect("open"));
    let sqlite_figures = figures(sqlite, runs, 1, None).await;
    let sqlite_history = {
        let path = dir.path().join("history.db");
        let fill: Arc<dyn Store> =
            Arc::new(SqliteStore::open(&path, DEFAULT_OUTPUT_TAIL_BYTES).expect("open"));
        fill_history(fill, history, 1).await;
        // A fresh handle, as a `cronq history` process would open.
        let fresh = SqliteStore::open(&path, DEFAULT_OUTPUT_TAIL_BYTES).expect("open");
        history_query(&fresh).await
    };
    print_row(
        "sqlite",
        (sqlite_figures.0, sqlite_figures.1),
        sqlite_history,
    );

    let redis: Arc<dyn Store> = Arc::new(connect(&redis_url, "{bench}:").await);
    let redis_figures = figures(redis, runs, WORKERS, Some(&server)).await;
    let redis_history = {
        let fill: Arc<dyn Store> = Arc::new(connect(&redis_url, "{history}:").await);
        fill_history(fill, history, CLIENTS).await;
        history_query(&connect(&redis_url, "{history}:").await).await
    };
    print_row("redis", (redis_figures.0, redis_figures.1), redis_history);

    reset_commandstats(&server);
    let lpush = redis_benchmark_lpush(server.port());
    let lpush_usec = usec_per_call(&server, "lpush");
    println!();
    println!("redis-benchmark -t lpush -c {CLIENTS} (no pipelining), same server: {lpush:.0}/s");
    println!(
        "cronq redis enqueue / redis-benchmark lpush: {:.0}% (target >= 80%)",
        redis_figures.0 / lpush * 100.0
    );
    println!(
        "Redis server time per call (INFO commandstats usec_per_call): enqueue script {:.2} us, LPUSH {lpush_usec:.2} us",
        redis_figures.2.unwrap_or(f64::NAN)
    );
}

async fn connect(url: &str, prefix: &str) -> RedisStore {
    RedisStore::connect(url, prefix, DEFAULT_OUTPUT_TAIL_BYTES)
        .await
        .expect("connect to redis")
}

fn print_row(backend: &str, (enqueue, reserve_ack): (f64, f64), history: Duration) {
    println!(
        "{backend:<8} {enqueue:>12.0} {reserve_ack:>15.0} {:>23.2} ms",
        history.as_secs_f64() * 1e3
    );
}

/// (enqueue/s from `CLIENTS` tasks, reserve+ack/s from `workers` tasks, and with the
/// Redis server behind the store, its `usec_per_call` of the enqueue script).
async fn figures(
    store: Arc<dyn Store>,
    runs: usize,
    workers: usize,
    redis: Option<&redis_server::RedisServer>,
) -> (f64, f64, Option<f64>) {
    if let Some(server) = redis {
        reset_commandstats(server);
    }
    let start = Instant::now();
    let enqueuer = Arc::clone(&store);
    spread(runs, CLIENTS, move |_| {
        let store = Arc::clone(&enqueuer);
        async move {
            store
                .enqueue(new_run("bench", "bench"))
                .await
                .expect("enqueue");
        }
    })
    .await;
    let enqueue = runs as f64 / start.elapsed().as_secs_f64();
    // Only the enqueue script ran since the reset: its `EVALSHA`s.
    let script_usec = redis.map(|server| usec_per_call(server, "evalsha"));

    let start = Instant::now();
    spread(runs, workers, move |task| {
        let store = Arc::clone(&store);
        async move {
            let worker = WorkerRef {
                id: format!("bench-{task}"),
                host: "bench".into(),
            };
            let queues = ["bench".to_string()];
            let (_, lease) = store
                .reserve(&queues, &worker, Duration::from_secs(60), Duration::ZERO)
                .await
                .expect("reserve")
                .expect("a queued run");
            let done = Outcome {
                status: RunStatus::Succeeded,
                exit_code: Some(0),
                signal: None,
                reason: None,
            };
            store
                .finish(&lease, done, Duration::ZERO)
                .await
                .expect("ack");
        }
    })
    .await;
    (
        enqueue,
        runs as f64 / start.elapsed().as_secs_f64(),
        script_usec,
    )
}

/// Fills the history with `runs` runs spread over `HISTORY_JOBS` jobs.
async fn fill_history(store: Arc<dyn Store>, runs: usize, clients: usize) {
    let start = Instant::now();
    spread(runs, clients, move |i| {
        let store = Arc::clone(&store);
        async move {
            let job = format!("job-{}", i % HISTORY_JOBS);
            store
                .enqueue(new_run(&job, "history"))
                .await
                .expect("enqueue");
        }
    })
    .await;
    eprintln!(
        "  (filled {runs} runs in {:.1} s)",
        start.elapsed().as_secs_f64()
    );
}

/// The median of 21 `history --job J --limit 50` queries.
async fn history_query(store: &dyn Store) -> Duration {
    let mut times: Vec<Duration> = Vec::new();
    for i in 0..21 {
        let filter = HistoryFilter {
            job: Some(format!("job-{}", (i * 37) % HISTORY_JOBS)),
            limit: 50,
            ..HistoryFilter::default()
        };
        let start = Instant::now();
        let runs = store.history(&filter).await.expect("history");
        times.push(start.elapsed());
        assert!(!runs.is_empty());
    }
    times.sort();
    times[times.len() / 2]
}

/// Runs `work(i)` for i in 0..count on `tasks` concurrent tasks.
async fn spread<F, Fut>(count: usize, tasks: usize, work: F)
where
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = ()> + Send,
{
    let work = Arc::new(work);
    let handles: Vec<_> = (0..tasks)
        .map(|task| {
            let work = Arc::clone(&work);
            tokio::spawn(async move {
                for i in (task..count).step_by(tasks) {
                    work(i).await;
                }
            })
        })
        .collect();
    for handle in handles {
        handle.await.expect("a bench task");
    }
}

fn new_run(job: &str, queue: &str) -> NewRun {
    NewRun::manual(job, queue)
}

/// `redis-benchmark -t lpush` requests per second against the server on `port`.
fn redis_benchmark_lpush(port: u16) -> f64 {
    let output = Command::new("redis-benchmark")
        .args([
            "-h",
            "127.0.0.1",
            "-p",
            &port.to_string(),
            "-t",
            "lpush",
            "-n",
            "200000",
        ])
        .args(["-c", &CLIENTS.to_string(), "-q"])
        .output()
        .expect("redis-benchmark runs (Debian: apt-get install -y redis-tools)");
    let text = String::from_utf8_lossy(&output.stdout);
    // `LPUSH: 64102.56 requests per second, p50=0.391 msec`; progress lines end in \r.
    text.split(['\r', '\n'])
        .filter_map(|line| line.strip_prefix("LPUSH: "))
        .filter_map(|rest| rest.split_whitespace().next()?.parse().ok())
        .next_back()
        .unwrap_or_else(|| panic!("no LPUSH figure in redis-benchmark's output: {text}"))
}

fn reset_commandstats(server: &redis_server::RedisServer) {
    server.cli(&["CONFIG", "RESETSTAT"]);
}

/// The server's `usec_per_call` of `command` since the last reset, from
/// `cmdstat_evalsha:calls=20000,usec=...,usec_per_call=24.05,...`.
fn usec_per_call(server: &redis_server::RedisServer, command: &str) -> f64 {
    let text = server.cli(&["INFO", "commandstats"]);
    text.lines()
        .filter_map(|line| line.trim().strip_prefix(&format!("cmdstat_{command}:")))
        .flat_map(|fields| fields.split(','))
        .filter_map(|field| field.strip_prefix("usec_per_call="))
        .find_map(|value| value.parse().ok())
        .unwrap_or_else(|| panic!("no cmdstat_{command} in INFO commandstats: {text}"))
}

fn env_count(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}
