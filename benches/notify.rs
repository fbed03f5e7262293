//! What notifications cost the store: `record_health` (one per run's last attempt, in
//! one atomic step with the outbox entry of its change) per second on both backends,
//! beside `enqueue` (also one atomic write) on the same store in the same run, with as
//! many concurrent callers; then the outbox drained by as many senders, each claiming
//! 16 at a time and marking each sent.
//!
//! Run with `cargo bench --bench notify`. `CRONQ_BENCH_RUNS` (default 20,000) sets the
//! calls per figure. Needs `redis-server`.

#[path = "../tests/common/redis_server.rs"]
mod redis_server;

use std::sync::Arc;
use std::time::Instant;

use cronq::store::redis::RedisStore;
use cronq::store::sqlite::SqliteStore;
use cronq::store::{DEFAULT_OUTPUT_TAIL_BYTES, NewRun, Store};

/// Concurrent callers, as several workers ending runs at once.
const CALLERS: usize = 8;
/// Jobs the runs are spread over.
const JOBS: usize = 100;

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let runs = std::env::var("CRONQ_BENCH_RUNS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(20_000);
    let dir = tempfile::tempdir().expect("a temp dir");
    let server = redis_server::RedisServer::start();
    println!("notify benchmark: {runs} calls per figure, {CALLERS} callers, {JOBS} jobs");
    println!();
    println!(
        "{:<8} {:>12} {:>17} {:>8} {:>12}",
        "backend", "enqueue/s", "record_health/s", "ratio", "sent/s"
    );
    let sqlite: Arc<dyn Store> = Arc::new(
        SqliteStore::open(&dir.path().join("bench.db"), DEFAULT_OUTPUT_TAIL_BYTES).expect("open"),
    );
    row("sqlite", sqlite, runs).await;
    let redis: Arc<dyn Store> = Arc::new(
        RedisStore::connect(&server.url(), "{bench}:", DEFAULT_OUTPUT_TAIL_BYTES)
            .await
            .expect("connect"),
    );
    row("redis", redis, runs).await;
}

async fn row(backend: &str, store: Arc<dyn Store>, runs: usize) {
    let enqueue = per_second(runs, {
        let store = Arc::clone(&store);
        move |i| {
            let store = Arc::clone(&store);
            async move {
                let job = format!("job-{}", i % JOBS);
                store
                    .enqueue(NewRun::manual(&job, "bench"))
                    .await
                    .expect("enqueue");
            }
        }
    })
    .await;
    let record = per_second(runs, {
        let store = Arc::clone(&store);
        move |i| {
            let store = Arc::clone(&store);
            async move {
                // Each job alternates failing and recovering: every call is a change.
                let job = format!("job-{}", i % JOBS);
                let failed = (i / JOBS).is_multiple_of(2);
                store
                    .record_health(&job, Some(&format!("run-{i}")), failed, None)
                    .await
                    .expect("record_health");
            }
        }
    })
    .await;
    let sent = drain(&store).await;
    println!(
        "{backend:<8} {enqueue:>12.0} {record:>17.0} {:>7.0}% {sent:>12.0}",
        record / enqueue * 100.0
    );
}

/// Claims and marks sent every notice in the outbox from [`CALLERS`] senders; notices
/// per second.
async fn drain(store: &Arc<dyn Store>) -> f64 {
    let lease = std::time::Duration::from_secs(60);
    let started = Instant::now();
    let senders: Vec<_> = (0..CALLERS)
        .map(|sender| {
            let store = Arc::clone(store);
            tokio::spawn(async move {
                let owner = format!("sender-{sender}");
                let mut sent = 0usize;
                loop {
                    let claimed = store.claim_notices(&owner, lease, 16).await.expect("claim");
                    if claimed.is_empty() {
                        return sent;
                    }
                    for notice in claimed {
                        let key = &notice.notice.key;
                        store
                            .notice_progress(key, &owner, None, true, lease)
                            .await
                            .expect("progress");
                        sent += 1;
                    }
                }
            })
        })
        .collect();
    let mut sent = 0;
    for sender in senders {
        sent += sender.await.expect("a sender");
    }
    sent as f64 / started.elapsed().as_secs_f64()
}

/// Calls `work(i)` for i in 0..count on [`CALLERS`] tasks; calls per second.
async fn per_second<F, Fut>(count: usize, work: F) -> f64
where
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = ()> + Send,
{
    let work = Arc::new(work);
    let started = Instant::now();
    let tasks: Vec<_> = (0..CALLERS)
        .map(|task| {
            let work = Arc::clone(&work);
            tokio::spawn(async move {
                // In order per job within a task, as one job's runs end one by one.
                for i in (task..count).step_by(CALLERS) {
                    work(i).await;
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.expect("a bench task");
    }
    count as f64 / started.elapsed().as_secs_f64()
}
