//! `GET /metrics` of `cronq serve` with 10,000 jobs, on both stores, next to `GET
//! /healthz` from the same client on the same server in the same run: what a scrape
//! costs beyond an HTTP round trip.
//!
//! The store holds, for every job, one succeeded and one failed run (20,000 finished:
//! more than the newest 10,000 a scrape reads at once, so half the jobs are looked up
//! one by one), and 100 running and 1,000 queued runs.
//!
//! Run with `cargo bench --bench metrics`. `CRONQ_BENCH_JOBS` (default 10,000) sets the
//! jobs. Needs `redis-server`.

#[path = "../tests/common/redis_server.rs"]
mod redis_server;

use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use cronq::store::redis::RedisStore;
use cronq::store::sqlite::SqliteStore;
use cronq::store::{DEFAULT_OUTPUT_TAIL_BYTES, NewRun, Outcome, RunStatus, Store, WorkerRef};

const RUNNING: usize = 100;
const QUEUED: usize = 1_000;
const SCRAPES: usize = 30;
const PROBES: usize = 300;

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let jobs = std::env::var("CRONQ_BENCH_JOBS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000);
    let dir = tempfile::tempdir().expect("a temp dir");
    let schedule = dir.path().join("crontab.yaml");
    let mut yaml = String::from("jobs:\n");
    for i in 0..jobs {
        yaml.push_str(&format!(
            "  job-{i}: {{schedule: \"{} * * * *\", command: [\"true\"]}}\n",
            i % 60
        ));
    }
    std::fs::write(&schedule, yaml).expect("the schedule");
    let server = redis_server::RedisServer::start();

    println!(
        "/metrics of `cronq serve`, {jobs} jobs, {} finished, {RUNNING} running, {QUEUED} queued runs",
        2 * jobs
    );
    println!();
    println!(
        "{:<8} {:>16} {:>16} {:>10} {:>18}",
        "backend", "/metrics p50", "/metrics p99", "bytes", "/healthz p50"
    );
    let sqlite_path = dir.path().join("bench.db");
    let sqlite: Arc<dyn Store> =
        Arc::new(SqliteStore::open(&sqlite_path, DEFAULT_OUTPUT_TAIL_BYTES).expect("open"));
    fill(&*sqlite, jobs).await;
    let store_url = format!("sqlite:{}", sqlite_path.display());
    figures("sqlite", &[&store_url], &schedule, dir.path()).await;

    let redis: Arc<dyn Store> = Arc::new(
        RedisStore::connect(&server.url(), "{metrics}:", DEFAULT_OUTPUT_TAIL_BYTES)
            .await
            .expect("connect to redis"),
    );
    fill(&*redis, jobs).await;
    let redis_url = server.url();
    let args = [redis_url.as_str(), "--redis-prefix", "{metrics}:"];
    figures("redis", &args, &schedule, dir.path()).await;
}

/// Two finished runs per job, then the running and the queued ones.
async fn fill(store: &dyn Store, jobs: usize) {
    let start = Instant::now();
    let worker = WorkerRef {
        id: "bench".into(),
        host: "bench".into(),
    };
    let queues = ["default".to_string()];
    let lease = Duration::from_secs(3600);
    for round in 0..2 {
        for i in 0..jobs {
            store
                .enqueue(NewRun::manual(&format!("job-{i}"), "default"))
                .await
                .expect("enqueue");
            let (_, held) = store
                .reserve(&queues, &worker, lease, Duration::ZERO)
                .await
                .expect("reserve")
                .expect("a run");
            let (status, exit_code) = match round {
                0 => (RunStatus::Succeeded, 0),
                _ => (RunStatus::Failed, 1),
            };
            let outcome = Outcome {
                status,
                exit_code: Some(exit_code),
                signal: None,
                reason: None,
            };
            store
                .finish(&held, outcome, Duration::ZERO)
                .await
                .expect("finish");
        }
    }
    for i in 0..RUNNING + QUEUED {
        store
            .enqueue(NewRun::manual(&format!("job-{}", i % jobs), "default"))
            .await
            .expect("enqueue");
    }
    for _ in 0..RUNNING {
        store
            .reserve(&queues, &worker, lease, Duration::ZERO)
            .await
            .expect("reserve")
            .expect("a run");
    }
    eprintln!("  (filled in {:.1} s)", start.elapsed().as_secs_f64());
}

/// Starts `cronq serve` on the store, times the scrapes and the probes, prints a row.
async fn figures(backend: &str, store: &[&str], schedule: &std::path::Path, dir: &std::path::Path) {
    let port = redis_server::free_port();
    let mut serve = Serve(
        Command::new(env!("CARGO_BIN_EXE_cronq"))
            .arg("serve")
            .arg("--store")
            .args(store)
            .arg("--schedule")
            .arg(schedule)
            .args(["--http", &format!("127.0.0.1:{port}")])
            .current_dir(dir)
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .spawn()
            .expect("cronq serve starts"),
    );
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    while client.get(format!("{base}/readyz")).send().await.is_err() {
        assert!(Instant::now() < deadline, "cronq serve did not answer");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let get = |path: &'static str| {
        let (client, url) = (client.clone(), format!("{base}{path}"));
        async move {
            let start = Instant::now();
            let response = client.get(url).send().await.expect("an answer");
            assert!(
                response.status().is_success(),
                "{path}: {}",
                response.status()
            );
            let bytes = response.bytes().await.expect("a body").len();
            (start.elapsed(), bytes)
        }
    };
    // The first scrape loads and caches the schedule file.
    let (_, bytes) = get("/metrics").await;
    let mut scrapes = Vec::with_capacity(SCRAPES);
    for _ in 0..SCRAPES {
        scrapes.push(get("/metrics").await.0);
    }
    let mut probes = Vec::with_capacity(PROBES);
    for _ in 0..PROBES {
        probes.push(get("/healthz").await.0);
    }
    println!(
        "{backend:<8} {:>13.1} ms {:>13.1} ms {bytes:>10} {:>15.3} ms",
        ms(percentile(&mut scrapes, 50)),
        ms(percentile(&mut scrapes, 99)),
        ms(percentile(&mut probes, 50)),
    );
    serve.0.kill().expect("kill");
    let _ = serve.0.wait();
}

/// `cronq serve`, killed if the bench panics.
struct Serve(Child);

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn percentile(times: &mut [Duration], p: usize) -> Duration {
    times.sort();
    times[(times.len() * p / 100).min(times.len() - 1)]
}

fn ms(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1e3
}
