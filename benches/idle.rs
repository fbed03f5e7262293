//! An idle `cronq daemon`, the real binary with its built-in workers: 100,000 jobs none
//! of which is due soon, on the embedded SQLite store and on Redis, each watched for 30 s
//! once it settled. Prints its wake-ups a second (the voluntary and involuntary context
//! switches of all its threads, from `/proc/PID/task/*/status`) and its CPU, with each
//! thread's share, beside a `sleep` process watched the same way (the floor: none).
//!
//! Run with `cargo bench --bench idle` (about 2 minutes). `CRONQ_BENCH_JOBS` (100,000),
//! `CRONQ_BENCH_IDLE_S` (30), `CRONQ_BENCH_REDIS=0` skips Redis;
//! `CRONQ_BENCH_BASELINE_BINARY` names another build of cronq (an older commit) watched
//! the same way, in the same run. Target: at most 2 wake-ups a second and under 0.1% of
//! a core, on both stores.

#[path = "../tests/common/redis_server.rs"]
mod redis_server;
#[path = "shared/schedules.rs"]
mod schedules;

use std::collections::BTreeMap;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Clock ticks a second of `/proc/PID/stat`'s CPU times: Linux's USER_HZ.
const TICKS_PER_S: f64 = 100.0;
/// How long a daemon may take to load and publish its schedule before it is idle.
const SETTLE_LIMIT: Duration = Duration::from_secs(300);

fn main() {
    let jobs = env_count("CRONQ_BENCH_JOBS", 100_000);
    let idle = Duration::from_secs(env_count("CRONQ_BENCH_IDLE_S", 30) as u64);
    let redis = env_count("CRONQ_BENCH_REDIS", 1) != 0;
    let dir = tempfile::tempdir().expect("a temp dir");
    let schedule = dir.path().join("crontab.yaml");
    std::fs::write(&schedule, schedules::far_future_schedule(jobs)).expect("write the schedule");
    println!("idle daemon, {jobs} jobs none due soon, built-in workers on, {idle:?} each");

    let mut sleeper = Command::new("sleep")
        .arg("1000")
        .spawn()
        .expect("sleep starts");
    let floor = watch(sleeper.id(), idle.min(Duration::from_secs(5)));
    let _ = sleeper.kill();
    let _ = sleeper.wait();
    floor.print("`sleep` (baseline)");

    let server = redis.then(redis_server::RedisServer::start);
    let mut stores = vec![("sqlite", None)];
    if let Some(server) = &server {
        stores.push(("redis", Some(server.url())));
    }
    let mut binaries = vec![(
        "cronq",
        std::path::PathBuf::from(env!("CARGO_BIN_EXE_cronq")),
    )];
    if let Ok(baseline) = std::env::var("CRONQ_BENCH_BASELINE_BINARY") {
        binaries.push(("baseline", baseline.into()));
    }
    for (name, url) in stores {
        for (which, binary) in &binaries {
            let state = dir.path().join(format!("{which}-{name}"));
            let mut command = Command::new(binary);
            command
                .arg("daemon")
                .arg("--schedule")
                .arg(&schedule)
                .arg("--state-dir")
                .arg(&state)
                .env_remove("CRONQ_STORE")
                .stdout(Stdio::null())
                .stderr(Stdio::null());
            if let Some(url) = &url {
                // Each its own keys, so that the two never share a queue.
                command
                    .arg("--store")
                    .arg(url)
                    .arg("--redis-prefix")
                    .arg(format!("{{bench-{which}}}:"));
            }
            let daemon = Daemon(command.spawn().expect("cronq daemon starts"));
            let settled = settle(daemon.0.id());
            let watched = watch(daemon.0.id(), idle);
            watched.print(&format!(
                "{which} daemon, {name} (settled after {settled:.1?})"
            ));
        }
    }
}

/// Stops the daemon when the bench ends or fails.
struct Daemon(Child);

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// What a process did over a while.
struct Watched {
    over: Duration,
    cpu_ticks: u64,
    /// Wake-ups of each thread, by name.
    threads: BTreeMap<String, u64>,
}

impl Watched {
    fn print(&self, what: &str) {
        let s = self.over.as_secs_f64();
        let total: u64 = self.threads.values().sum();
        let mut threads: Vec<_> = self.threads.iter().collect();
        threads.sort_by(|a, b| b.1.cmp(a.1));
        let parts: Vec<String> = threads
            .iter()
            .filter(|(_, n)| **n > 0)
            .map(|(name, n)| format!("{name} {:.2}", **n as f64 / s))
            .collect();
        println!(
            "{what:<48} {:.2} wake-ups/s, CPU {:.3}% of a core  [{}]",
            total as f64 / s,
            self.cpu_ticks as f64 / TICKS_PER_S / s * 100.0,
            parts.join(", ")
        );
    }
}

/// Waits until `pid` used under 1% of a core over 2 s (its start-up over), and says how
/// long that took.
fn settle(pid: u32) -> Duration {
    let started = Instant::now();
    loop {
        let before = cpu_ticks(pid);
        std::thread::sleep(Duration::from_secs(2));
        if cpu_ticks(pid) - before < 2 {
            return started.elapsed();
        }
        assert!(started.elapsed() < SETTLE_LIMIT, "the daemon never settled");
    }
}

fn watch(pid: u32, over: Duration) -> Watched {
    let (before, cpu) = (switches(pid), cpu_ticks(pid));
    std::thread::sleep(over);
    let after = switches(pid);
    let mut threads = BTreeMap::new();
    for (tid, (name, n)) in &after {
        let was = before.get(tid).map_or(0, |(_, n)| *n);
        *threads.entry(name.clone()).or_insert(0) += n - was.min(*n);
    }
    Watched {
        over,
        cpu_ticks: cpu_ticks(pid) - cpu,
        threads,
    }
}

/// Each thread's name and context switches (voluntary and not), by thread id.
fn switches(pid: u32) -> BTreeMap<u32, (String, u64)> {
    let mut threads = BTreeMap::new();
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return threads;
    };
    for task in tasks.flatten() {
        let Some(tid) = task.file_name().to_str().and_then(|t| t.parse().ok()) else {
            continue;
        };
        let Ok(status) = std::fs::read_to_string(task.path().join("status")) else {
            continue;
        };
        let name = std::fs::read_to_string(task.path().join("comm")).unwrap_or_default();
        let count = status
            .lines()
            .filter(|line| line.contains("ctxt_switches:"))
            .filter_map(|line| line.split(':').nth(1)?.trim().parse::<u64>().ok())
            .sum();
        threads.insert(tid, (name.trim().to_string(), count));
    }
    threads
}

/// User and system CPU of `pid`, in clock ticks.
fn cpu_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("the process lives");
    // The fields after the command name, which is in parentheses and may hold spaces.
    let fields: Vec<&str> = stat[stat.rfind(')').unwrap() + 2..].split(' ').collect();
    fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap()
}

fn env_count(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|n| n.replace(['_', ','], "").parse().ok())
        .unwrap_or(default)
}
