//! The HTTP API against what it fronts, each figure beside a baseline measured in the
//! same run, on a real `cronq serve` (or `cronq daemon`) process and a real client:
//!
//! - trigger (`POST /api/v1/jobs/bench/runs`) from one keep-alive client, one request at
//!   a time, against the store's own enqueue awaited one at a time in this process
//!   (target: at least 60 %);
//! - trigger from 50 concurrent keep-alive clients, on each store, against
//!   `redis-benchmark -t lpush -c 50` on the same Redis (target: at least 50 %);
//! - `GET /api/v1/status` from a daemon with 10,000 jobs, 100 running and 1,000 queued:
//!   p50 and p99
//!   (target: p99 under 50 ms), the runs of 1,100 jobs (one each) and of 10, beside
//!   `GET /healthz` (the HTTP floor) and the same report computed in this process (the
//!   work below the face);
//! - the RSS the API adds to an idle daemon: `cronq daemon` idle without `--http`, and
//!   with it after 200 requests (target: under 5 MB).
//!
//! The triggers are sent by a small HTTP/1.1 client of a few socket calls a request
//! (`Trigger`), so that the load leaves the cores to the server; the status requests by
//! `reqwest`.
//!
//! Run with `cargo bench --bench http` (about a minute). `CRONQ_BENCH_TRIGGERS` (5,000)
//! sets the triggers per figure, `CRONQ_BENCH_STATUS` (200) the status requests;
//! `CRONQ_BENCH_ONLY=status` runs only the status figures. Needs
//! `redis-server` and `redis-benchmark` (Debian: redis-server, redis-tools).

#[path = "../tests/common/redis_server.rs"]
mod redis_server;

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono_tz::Tz;
use cronq::report::status::{Timed, compare_schedules, gather};
use cronq::schedule;
use cronq::settings::{Layer, Overrides, Settings};
use cronq::store::redis::RedisStore;
use cronq::store::sqlite::SqliteStore;
use cronq::store::{DEFAULT_OUTPUT_TAIL_BYTES, NewRun, Store, WorkerRef};

/// Concurrent clients, as `redis-benchmark -c 50`.
const CLIENTS: usize = 50;
/// The token the bench sends; scope admin.
const TOKEN: &str = "bench-token-0123456789";
/// Jobs, running runs and queued runs behind the status figure.
const STATUS_JOBS: usize = 10_000;
const RUNNING: usize = 100;
const QUEUED: usize = 1_000;

#[derive(Clone, Copy, PartialEq)]
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

/// A scratch directory with a schedule, the settings (the token) and a store.
struct Place {
    dir: PathBuf,
    store_url: String,
    prefix: String,
}

impl Place {
    fn new(root: &Path, name: &str, backend: Backend, redis_url: &str, schedule: &str) -> Place {
        let dir = root.join(name);
        std::fs::create_dir_all(dir.join("config")).expect("a scratch directory");
        std::fs::write(dir.join("crontab.yaml"), schedule).expect("the schedule");
        std::fs::write(
            dir.join("config/cronq.yaml"),
            "api_tokens:\n  - {name: bench, scope: admin, token: \"${CRONQ_BENCH_TOKEN}\"}\n",
        )
        .expect("the settings");
        let store_url = match backend {
            Backend::Sqlite => format!("sqlite:{}", dir.join("cronq.db").display()),
            Backend::Redis => redis_url.to_string(),
        };
        Place {
            dir,
            store_url,
            prefix: format!("{{{name}}}:"),
        }
    }

    async fn store(&self) -> Arc<dyn Store> {
        match self.store_url.strip_prefix("sqlite:") {
            Some(path) => Arc::new(
                SqliteStore::open(Path::new(path), DEFAULT_OUTPUT_TAIL_BYTES).expect("sqlite"),
            ),
            None => Arc::new(
                RedisStore::connect(&self.store_url, &self.prefix, DEFAULT_OUTPUT_TAIL_BYTES)
                    .await
                    .expect("redis"),
            ),
        }
    }

    /// `cronq ARGS` in this directory on this store, with `--http` on a free port: the
    /// process and the API's base URL, once `/readyz` answers.
    async fn start(&self, command: &[&str], client: &reqwest::Client) -> (Server, String) {
        let addr = format!("127.0.0.1:{}", free_port());
        let child = Command::new(env!("CARGO_BIN_EXE_cronq"))
            .current_dir(&self.dir)
            .args(["--store", &self.store_url, "--redis-prefix", &self.prefix])
            .args(command)
            .args(["--http", &addr])
            .env("CRONQ_BENCH_TOKEN", TOKEN)
            .env("CRONQ_STATE_DIR", self.dir.join("state"))
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("cronq starts");
        let server = Server(child);
        let base = format!("http://{addr}");
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let ready = client.get(format!("{base}/readyz")).send().await;
            if ready.is_ok_and(|r| r.status().is_success()) {
                break;
            }
            assert!(Instant::now() < deadline, "cronq {command:?} did not start");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        (server, base)
    }
}

/// A cronq process, stopped (SIGTERM, then waited for) when dropped.
struct Server(Child);

impl Server {
    fn rss_kb(&self) -> u64 {
        rss_kb(self.0.id())
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let pid = nix::unistd::Pid::from_raw(self.0.id() as i32);
        let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
        let _ = self.0.wait();
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let triggers = env_count("CRONQ_BENCH_TRIGGERS", 5_000);
    let status_requests = env_count("CRONQ_BENCH_STATUS", 200);
    let root = tempfile::tempdir().expect("a temp dir");
    let redis = redis_server::RedisServer::start();
    let redis_url = redis.url();
    let client = reqwest::Client::new();

    println!(
        "HTTP API benchmark: {triggers} triggers per figure, {status_requests} status requests"
    );
    println!();
    let only_status = std::env::var("CRONQ_BENCH_ONLY").is_ok_and(|only| only == "status");
    if !only_status {
        triggers_figures(triggers, &redis_url, redis.port(), root.path(), &client).await;
    }
    status_table(root.path(), &redis_url, status_requests, &client).await;
    if !only_status {
        rss_figure(root.path(), &redis_url, &client).await;
    }
}

/// The trigger figures, one client and many, on each store.
async fn triggers_figures(
    triggers: usize,
    redis_url: &str,
    redis_port: u16,
    root: &Path,
    client: &reqwest::Client,
) {
    println!(
        "trigger, one keep-alive client, one request at a time (target: >= 60% of the store's own enqueue)"
    );
    println!(
        "{:<8} {:>14} {:>16} {:>8} {:>12}",
        "backend", "HTTP trigger/s", "store enqueue/s", "ratio", "HTTP p50"
    );
    let mut concurrent = Vec::new();
    for backend in [Backend::Sqlite, Backend::Redis] {
        let name = backend.name();
        let base_place = Place::new(root, &format!("{name}-base"), backend, redis_url, BENCH);
        let store = base_place.store().await;
        let enqueue = one_at_a_time(triggers, || {
            let store = Arc::clone(&store);
            async move {
                store
                    .enqueue(NewRun::manual("bench", "default"))
                    .await
                    .expect("enqueue");
            }
        })
        .await;
        let place = Place::new(root, &format!("{name}-one"), backend, redis_url, BENCH);
        let (_server, base) = place.start(&["serve"], client).await;
        let connection = tokio::sync::Mutex::new(Trigger::connect(&base, "bench").await);
        let http = one_at_a_time(triggers, || async {
            connection.lock().await.send().await;
        })
        .await;
        println!(
            "{name:<8} {:>14.0} {:>16.0} {:>7.0}% {:>9.2} ms",
            http.rate,
            enqueue.rate,
            http.rate / enqueue.rate * 100.0,
            http.p50_ms
        );

        let place = Place::new(root, &format!("{name}-many"), backend, redis_url, BENCH);
        let (_server, base) = place.start(&["serve"], client).await;
        concurrent.push((name, from_clients(triggers, &base).await));
    }

    let lpush = redis_benchmark_lpush(redis_port);
    println!();
    println!(
        "trigger, {CLIENTS} concurrent keep-alive clients (target: >= 50% of redis-benchmark lpush)"
    );
    println!("redis-benchmark -t lpush -c {CLIENTS}, same Redis: {lpush:.0}/s");
    for (name, rate) in concurrent {
        println!(
            "{name:<8} {rate:>10.0}/s  {:>5.1}% of lpush",
            rate / lpush * 100.0
        );
    }
}

/// The status figures on each store, the runs spread over many jobs and over few.
async fn status_table(
    root: &Path,
    redis_url: &str,
    status_requests: usize,
    client: &reqwest::Client,
) {
    println!();
    println!(
        "GET /api/v1/status with {STATUS_JOBS} jobs, {RUNNING} running, {QUEUED} queued (target: p99 < 50 ms)"
    );
    println!(
        "{:<8} {:>9} {:>13} {:>13} {:>16} {:>16}",
        "backend", "run jobs", "status p50", "status p99", "healthz p99", "in-process p50"
    );
    for backend in [Backend::Sqlite, Backend::Redis] {
        for spread in [RUNNING + QUEUED, 10] {
            status_figures(root, backend, redis_url, status_requests, spread, client).await;
        }
    }
}

/// The RSS the API adds to an idle daemon.
async fn rss_figure(root: &Path, redis_url: &str, client: &reqwest::Client) {
    println!();
    println!("RSS the API adds to an idle daemon (target: < 5 MB)");
    let place = Place::new(root, "rss", Backend::Sqlite, redis_url, BENCH);
    let without = idle_daemon_rss(&place, false, client).await;
    let with = idle_daemon_rss(&place, true, client).await;
    println!(
        "cronq daemon idle: {:.1} MB without --http, {:.1} MB with it after 200 requests: +{:.1} MB",
        without as f64 / 1024.0,
        with as f64 / 1024.0,
        (with as f64 - without as f64) / 1024.0
    );
}

/// The schedule of the trigger figures: one job that may run many times at once.
const BENCH: &str = "jobs:\n  bench:\n    command: \"true\"\n    concurrency: allow\n";

/// A rate and the median time of one step.
struct Paced {
    rate: f64,
    p50_ms: f64,
}

/// `count` steps awaited one after another.
async fn one_at_a_time<F, Fut>(count: usize, mut step: F) -> Paced
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let mut times = Vec::with_capacity(count);
    let start = Instant::now();
    for _ in 0..count {
        let begun = Instant::now();
        step().await;
        times.push(begun.elapsed());
    }
    let rate = count as f64 / start.elapsed().as_secs_f64();
    times.sort();
    Paced {
        rate,
        p50_ms: ms(times[times.len() / 2]),
    }
}

/// A keep-alive HTTP/1.1 connection that sends one trigger at a time: a few writes and
/// reads of a socket, so that the load the bench makes leaves the cores to the server
/// (`reqwest` cost about as much CPU a request as the server's own work).
struct Trigger {
    stream: tokio::io::BufReader<tokio::net::TcpStream>,
    request: Vec<u8>,
    body: Vec<u8>,
}

impl Trigger {
    async fn connect(base: &str, job: &str) -> Trigger {
        let addr = base.strip_prefix("http://").expect("an http:// base");
        let stream = tokio::net::TcpStream::connect(addr)
            .await
            .expect("the API accepts");
        stream.set_nodelay(true).expect("TCP_NODELAY");
        let request = format!(
            "POST /api/v1/jobs/{job}/runs HTTP/1.1\r\nhost: {addr}\r\nauthorization: Bearer {TOKEN}\r\ncontent-length: 0\r\n\r\n"
        );
        Trigger {
            stream: tokio::io::BufReader::new(stream),
            request: request.into_bytes(),
            body: Vec::new(),
        }
    }

    /// Sends the trigger and reads its answer, which must be 201 Created.
    async fn send(&mut self) {
        use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt};
        self.stream
            .get_mut()
            .write_all(&self.request)
            .await
            .expect("the request is sent");
        let mut line = String::new();
        self.stream
            .read_line(&mut line)
            .await
            .expect("a status line");
        assert!(
            line.starts_with("HTTP/1.1 201"),
            "the trigger answered {line:?}"
        );
        let mut length = 0;
        loop {
            line.clear();
            self.stream.read_line(&mut line).await.expect("a header");
            let header = line.trim_end();
            if header.is_empty() {
                break;
            }
            if let Some((name, value)) = header.split_once(':')
                && name.eq_ignore_ascii_case("content-length")
            {
                length = value.trim().parse().expect("a content-length");
            }
        }
        self.body.resize(length, 0);
        self.stream
            .read_exact(&mut self.body)
            .await
            .expect("the run");
    }
}

/// Triggers per second from `CLIENTS` tasks, each with a keep-alive connection of its
/// own, `count` in all.
async fn from_clients(count: usize, base: &str) -> f64 {
    let mut connections = Vec::with_capacity(CLIENTS);
    for _ in 0..CLIENTS {
        connections.push(Trigger::connect(base, "bench").await);
    }
    let start = Instant::now();
    let tasks: Vec<_> = connections
        .into_iter()
        .enumerate()
        .map(|(task, mut connection)| {
            tokio::spawn(async move {
                for _ in (task..count).step_by(CLIENTS) {
                    connection.send().await;
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.expect("a client");
    }
    count as f64 / start.elapsed().as_secs_f64()
}

/// The status figure on one backend: the store filled, `cronq serve` on the schedule.
async fn status_figures(
    root: &Path,
    backend: Backend,
    redis_url: &str,
    requests: usize,
    spread: usize,
    client: &reqwest::Client,
) {
    let mut text = String::from("jobs:\n");
    for i in 0..STATUS_JOBS {
        text.push_str(&format!(
            "  job-{i}:\n    schedule: \"{} {} * * *\"\n    command: \"true\"\n",
            i % 60,
            (i / 60) % 24
        ));
    }
    let name = format!("status-{}-{spread}", backend.name());
    let place = Place::new(root, &name, backend, redis_url, &text);
    let store = place.store().await;
    for i in 0..RUNNING + QUEUED {
        store
            .enqueue(NewRun::manual(&format!("job-{}", i % spread), "default"))
            .await
            .expect("enqueue");
    }
    let worker = WorkerRef {
        id: "bench-worker".into(),
        host: "bench".into(),
    };
    for _ in 0..RUNNING {
        store
            .reserve(
                &["default".to_string()],
                &worker,
                Duration::from_secs(3600),
                Duration::ZERO,
            )
            .await
            .expect("reserve")
            .expect("a queued run");
    }
    // The API on a daemon that fires the schedule (no workers), as deployed: without a
    // live daemon every one of the 10,000 jobs would be reported stalled.
    let (_server, base) = place.start(&["daemon", "--no-workers"], client).await;
    let published_by = Instant::now() + Duration::from_secs(30);
    while store.published().await.expect("published").is_none() {
        assert!(
            Instant::now() < published_by,
            "the daemon publishes its schedule"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let get = |path: &str| {
        let url = format!("{base}{path}");
        async move {
            let response = client
                .get(&url)
                .bearer_auth(TOKEN)
                .send()
                .await
                .expect("the API answers");
            assert!(
                response.status().is_success(),
                "{url}: {}",
                response.status()
            );
            let body = response.bytes().await.expect("a body");
            body.len()
        }
    };
    let size = get("/api/v1/status").await;
    let mut status = Vec::with_capacity(requests);
    for _ in 0..requests {
        let begun = Instant::now();
        get("/api/v1/status").await;
        status.push(begun.elapsed());
    }
    let mut healthz = Vec::with_capacity(requests);
    for _ in 0..requests {
        let begun = Instant::now();
        get("/healthz").await;
        healthz.push(begun.elapsed());
    }

    // The same report in this process: the store's reads and the API's JSON bytes, no HTTP.
    let settings = Settings::resolve(
        Overrides {
            settings: None,
            layer: Layer {
                schedule: Some(place.dir.join("crontab.yaml")),
                store: Some(place.store_url.clone()),
                redis_prefix: Some(place.prefix.clone()),
                state_dir: Some(place.dir.join("state")),
                ..Layer::default()
            },
        },
        &|_| None,
    )
    .expect("the settings");
    let local = schedule::load(&text, "crontab.yaml", Tz::UTC).expect("the schedule loads");
    let timed: Vec<Timed> = local.jobs.iter().filter_map(Timed::from_job).collect();
    let mut in_process = Vec::new();
    for _ in 0..requests.min(50) {
        let begun = Instant::now();
        let mut report = gather(&*store, &timed, &settings, Duration::from_secs(60))
            .await
            .expect("the report");
        let published = store.published().await.expect("published");
        report.problems.extend(
            compare_schedules("crontab.yaml", Some(&local), published.as_ref(), &*store)
                .await
                .expect("compare"),
        );
        let json = report.json_bytes();
        assert!(!json.is_empty());
        in_process.push(begun.elapsed());
    }
    let (p50, p99) = percentiles(&mut status);
    let (_, healthz_p99) = percentiles(&mut healthz);
    let (in_process_p50, _) = percentiles(&mut in_process);
    println!(
        "{:<8} {spread:>9} {p50:>10.2} ms {p99:>10.2} ms {healthz_p99:>13.2} ms {in_process_p50:>13.2} ms   ({} kB a response)",
        backend.name(),
        size / 1024
    );
}

/// The RSS of `cronq daemon --no-workers` on a one-job schedule, idle for 2 s; with
/// `http`, serving the API and asked 200 requests of every kind first.
async fn idle_daemon_rss(place: &Place, http: bool, client: &reqwest::Client) -> u64 {
    let server = match http {
        false => start_without_http(place),
        true => {
            let (server, base) = place.start(&["daemon", "--no-workers"], client).await;
            for i in 0..200 {
                let path = match i % 4 {
                    0 => "/api/v1/status",
                    1 => "/api/v1/jobs",
                    2 => "/api/v1/runs?limit=50",
                    _ => "/api/v1/jobs/bench",
                };
                let response = client
                    .get(format!("{base}{path}"))
                    .bearer_auth(TOKEN)
                    .send()
                    .await
                    .expect("the API answers");
                response.bytes().await.expect("a body");
            }
            server
        }
    };
    tokio::time::sleep(Duration::from_secs(3)).await;
    server.rss_kb()
}

/// `cronq daemon --no-workers` without the API.
fn start_without_http(place: &Place) -> Server {
    let child = Command::new(env!("CARGO_BIN_EXE_cronq"))
        .current_dir(&place.dir)
        .args(["--store", &place.store_url, "--redis-prefix", &place.prefix])
        .args(["daemon", "--no-workers"])
        .env("CRONQ_BENCH_TOKEN", TOKEN)
        .env("CRONQ_STATE_DIR", place.dir.join("state"))
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("cronq starts");
    Server(child)
}

fn percentiles(times: &mut [Duration]) -> (f64, f64) {
    times.sort();
    let at = |q: f64| ms(times[((times.len() as f64 * q) as usize).min(times.len() - 1)]);
    (at(0.50), at(0.99))
}

fn ms(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1e3
}

fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("a free port");
    listener.local_addr().expect("an address").port()
}

fn rss_kb(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("Linux /proc");
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|kb| kb.parse().ok())
        .expect("VmRSS in /proc/PID/status")
}

/// `redis-benchmark -t lpush -c 50` requests per second against the server on `port`.
fn redis_benchmark_lpush(port: u16) -> f64 {
    let output = Command::new("redis-benchmark")
        .args(["-h", "127.0.0.1", "-p", &port.to_string(), "-t", "lpush"])
        .args(["-n", "200000", "-c", &CLIENTS.to_string(), "-q"])
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

fn env_count(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}
