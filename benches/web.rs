//! The dashboard's server render times, over a real `cronq serve --http` on loopback
//! and a SQLite store of `CRONQ_BENCH_HISTORY` runs (default 1,000,000) spread over
//! `CRONQ_BENCH_JOBS` jobs (default 10,000), each beside a baseline from the same run:
//! the jobs page, every job on it (target < 300 ms), beside `GET /api/v1/jobs` and
//! `/healthz`, and its size; the history
//! page, first and deep after a cursor (target < 100 ms), beside the store's own
//! `history --limit 50` query on a fresh handle.
//!
//! Run with `cargo bench --bench web`.

use std::fmt::Write as _;
use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use cronq::store::sqlite::SqliteStore;
use cronq::store::{DEFAULT_OUTPUT_TAIL_BYTES, HistoryFilter, NewRun, Store};

/// Requests per figure; the median is printed.
const ROUNDS: usize = 15;
/// Concurrent clients while filling.
const CLIENTS: usize = 8;

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let jobs = env_count("CRONQ_BENCH_JOBS", 10_000);
    let history = env_count("CRONQ_BENCH_HISTORY", 1_000_000);
    let dir = tempfile::tempdir().expect("a temp dir");
    let mut schedule = String::from("jobs:\n");
    for i in 0..jobs {
        let _ = writeln!(
            schedule,
            "  job-{i}:\n    schedule: \"{} {} * * *\"\n    command: [\"true\"]",
            i % 60,
            (i / 60) % 24
        );
    }
    std::fs::write(dir.path().join("crontab.yaml"), schedule).expect("the schedule");
    let db = dir.path().join("bench.db");
    let store: Arc<dyn Store> =
        Arc::new(SqliteStore::open(&db, DEFAULT_OUTPUT_TAIL_BYTES).expect("open"));
    let start = Instant::now();
    spread(history, CLIENTS, jobs, Arc::clone(&store)).await;
    eprintln!(
        "  (filled {history} runs in {:.1} s)",
        start.elapsed().as_secs_f64()
    );

    let port = free_port();
    let mut server = Server(
        Command::new(env!("CARGO_BIN_EXE_cronq"))
            .args(["serve", "--http", &format!("127.0.0.1:{port}")])
            .args(["--schedule", "crontab.yaml"])
            .args(["--store", &format!("sqlite:{}", db.display())])
            .current_dir(dir.path())
            .env("TZ", "UTC")
            .env("XDG_STATE_HOME", dir.path().join("state"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("cronq serve starts"),
    );
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    while client.get(format!("{base}/healthz")).send().await.is_err() {
        assert!(Instant::now() < deadline, "cronq serve never answered");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // A page deep in the history: the cursor of the run 90% of the way down.
    let deep: String = rusqlite::Connection::open(&db)
        .expect("open")
        .query_row(
            "SELECT id FROM runs ORDER BY seq LIMIT 1 OFFSET ?1",
            [(history / 10) as i64],
            |row| row.get(0),
        )
        .expect("a deep run");
    let fresh = SqliteStore::open(&db, DEFAULT_OUTPUT_TAIL_BYTES).expect("open");
    let store_query = median(ROUNDS, || async {
        let filter = HistoryFilter {
            limit: 50,
            ..HistoryFilter::default()
        };
        fresh.history(&filter).await.expect("history");
    })
    .await;

    let names: Vec<String> = (0..jobs).map(|i| format!("job-{i}")).collect();
    let strips = median(5, || async {
        fresh.recent_runs(&names, 20).await.expect("recent runs");
    })
    .await;

    println!("web benchmark: {jobs} jobs, {history} runs, SQLite, median of {ROUNDS} requests");
    println!();
    println!("{:<44} {:>10}", "request", "ms");
    let get = |path: String| {
        let client = client.clone();
        let url = format!("{base}{path}");
        move || {
            let client = client.clone();
            let url = url.clone();
            async move {
                let answer = client.get(&url).send().await.expect("GET");
                assert!(answer.status().is_success(), "{url}: {}", answer.status());
                answer.bytes().await.expect("body");
            }
        }
    };
    let rows = [
        (
            "GET /healthz (baseline: HTTP alone)",
            "/healthz".to_string(),
        ),
        (
            "GET /api/v1/jobs (baseline: the jobs as JSON)",
            "/api/v1/jobs".to_string(),
        ),
        ("GET / (every job's row, target < 300)", "/".to_string()),
        (
            "GET /?sort=status (sorted by last status)",
            "/?sort=status".to_string(),
        ),
        (
            "GET /?status=failed (no row matches)",
            "/?status=failed".to_string(),
        ),
        (
            "GET /history (first page, target < 100)",
            "/history".to_string(),
        ),
        (
            "GET /history?before=… (90% deep, < 100)",
            format!("/history?before={deep}"),
        ),
        (
            "GET /history?status=failed (none match)",
            "/history?status=failed&job=job-1".to_string(),
        ),
    ];
    let page = client.get(format!("{base}/")).send().await.expect("GET /");
    let page = page.bytes().await.expect("the jobs page");
    println!(
        "{:<44} {:>10.1}",
        "size of the jobs page (MB, not ms)",
        page.len() as f64 / 1e6
    );
    let pid = server.0.id();
    for (label, path) in rows {
        let cpu_before = cpu_ms(pid);
        let took = median(ROUNDS, get(path)).await;
        // The server's own CPU a request, which the machine's other load moves less
        // than the wall time.
        let cpu = (cpu_ms(pid) - cpu_before) / ROUNDS as f64;
        println!(
            "{label:<44} {:>10.1}   (server CPU {cpu:.0} ms a request)",
            took.as_secs_f64() * 1e3
        );
    }
    println!(
        "{:<44} {:>10.1}",
        "store history --limit 50 (baseline, in-process)",
        store_query.as_secs_f64() * 1e3
    );
    println!(
        "{:<44} {:>10.1}",
        "store last 20 runs of every job (in-process)",
        strips.as_secs_f64() * 1e3
    );
    server.0.kill().ok();
}

/// Stops the server however the bench ends.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

async fn median<F, Fut>(rounds: usize, mut work: F) -> Duration
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let mut times = Vec::with_capacity(rounds);
    for _ in 0..rounds {
        let start = Instant::now();
        work().await;
        times.push(start.elapsed());
    }
    times.sort();
    times[times.len() / 2]
}

/// Enqueues `count` runs over `jobs` jobs from `clients` tasks.
async fn spread(count: usize, clients: usize, jobs: usize, store: Arc<dyn Store>) {
    let handles: Vec<_> = (0..clients)
        .map(|task| {
            let store = Arc::clone(&store);
            tokio::spawn(async move {
                for i in (task..count).step_by(clients) {
                    let run = NewRun::manual(&format!("job-{}", i % jobs), "default");
                    store.enqueue(run).await.expect("enqueue");
                }
            })
        })
        .collect();
    for handle in handles {
        handle.await.expect("a fill task");
    }
}

/// The user and system CPU process `pid` used so far, from /proc (in ticks of 10 ms,
/// the USER_HZ of Linux's /proc).
fn cpu_ms(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("the server's stat");
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .expect("a stat line")
        .1
        .split_whitespace()
        .collect();
    let ticks: f64 =
        fields[11].parse::<f64>().expect("utime") + fields[12].parse::<f64>().expect("stime");
    ticks * 10.0
}

fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("a free port");
    listener.local_addr().expect("an address").port()
}

fn env_count(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}
