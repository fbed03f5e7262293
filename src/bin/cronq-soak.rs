//! The soak: `cargo run --release --bin cronq-soak -- --minutes 5 [--store URL]`.
//!
//! Runs the real `cronq` binary (built beside this one) for a while: one daemon firing
//! 20 every-second jobs whose runs fail, time out or succeed at random, two workers of
//! which one is killed with SIGKILL every few seconds and started again. Then it stops
//! the daemon, lets a daemon that fires nothing reap what the kills left, and prints
//! what the history holds: instants expected, fired, duplicates (must be 0), misses
//! accounted for, runs in each final state, and the daemon's RSS at start and end.
//! Not run in CI: it takes minutes by design.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use chrono::{DateTime, TimeDelta, Utc};
use cronq::settings::StoreUrl;
use cronq::store::{HistoryFilter, RunStatus, Trigger};

const JOBS: usize = 20;
const LEASE: &str = "3s";

struct Options {
    minutes: f64,
    store: Option<String>,
}

fn options() -> Result<Options, String> {
    let mut options = Options {
        minutes: 5.0,
        store: None,
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || args.next().ok_or(format!("{arg} needs a value"));
        match arg.as_str() {
            "--minutes" => {
                let text = value()?;
                options.minutes = text
                    .parse()
                    .map_err(|_| format!("--minutes {text} is not a number"))?;
            }
            "--store" => options.store = Some(value()?),
            _ => {
                return Err(format!(
                    "unknown argument {arg}; expected --minutes N [--store URL]"
                ));
            }
        }
    }
    Ok(options)
}

/// Each job sleeps a random fraction of a second; one run in ten fails, one in twenty
/// overruns its 2 s timeout.
fn schedule() -> String {
    let mut text = String::from("jobs:\n");
    for job in 0..JOBS {
        text.push_str(&format!(
            "  soak-{job:02}:
    schedule: \"* * * * * *\"
    command: 'r=$(od -An -N1 -tu1 /dev/urandom); r=$((r % 20)); if [ $r -lt 2 ]; then exit 1; elif [ $r -lt 3 ]; then sleep 5; else sleep 0.$r; fi'
    timeout: 2s
    kill_grace: 1s
    retries: 1
    concurrency: allow
    catch_up: none
"
        ));
    }
    text
}

/// A small generator for the kills' timing: nothing here needs more.
struct XorShift(u64);

impl XorShift {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

struct Soak {
    cronq: PathBuf,
    dir: PathBuf,
    store_args: Vec<String>,
}

impl Soak {
    fn spawn(&self, name: &str, args: &[&str]) -> Child {
        let log = std::fs::File::create(self.dir.join(format!("{name}.log"))).expect("a log file");
        Command::new(&self.cronq)
            .args(args)
            .args(&self.store_args)
            .current_dir(&self.dir)
            .env("XDG_STATE_HOME", self.dir.join("state"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("cronq starts")
    }

    fn worker(&self, name: &str) -> Child {
        self.spawn(name, &["worker", "--concurrency", "16", "--lease", LEASE])
    }
}

/// The `cronq` binary beside this one, built first when run through cargo.
fn cronq_binary() -> Result<PathBuf, String> {
    let me = std::env::current_exe().map_err(|e| format!("cannot find this program: {e}"))?;
    let cronq = me.with_file_name("cronq");
    if let Ok(cargo) = std::env::var("CARGO") {
        let release = me.components().any(|c| c.as_os_str() == "release");
        let mut build = Command::new(cargo);
        build.args(["build", "--bin", "cronq"]);
        if release {
            build.arg("--release");
        }
        let status = build
            .status()
            .map_err(|e| format!("cannot run cargo: {e}"))?;
        if !status.success() {
            return Err("cargo could not build cronq".into());
        }
    }
    if !cronq.exists() {
        return Err(format!("no cronq at {}; build it first", cronq.display()));
    }
    Ok(cronq)
}

fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn stop(child: &mut Child) {
    let pid = nix::unistd::Pid::from_raw(child.id() as i32);
    let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
    let _ = child.wait();
}

#[tokio::main]
async fn main() -> ExitCode {
    match soak().await {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(error) => {
            eprintln!("cronq-soak: {error}");
            ExitCode::from(2)
        }
    }
}

async fn soak() -> Result<bool, String> {
    let options = options()?;
    let cronq = cronq_binary()?;
    let dir = std::env::temp_dir().join(format!("cronq-soak-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    std::fs::write(dir.join("crontab.yaml"), schedule()).map_err(|e| e.to_string())?;
    std::fs::write(dir.join("reaper.yaml"), "jobs: {}\n").map_err(|e| e.to_string())?;
    let url = options
        .store
        .clone()
        .unwrap_or_else(|| format!("sqlite:{}", dir.join("soak.db").display()));
    let prefix = format!("{{cronq-soak-{}}}:", std::process::id());
    let store_args = vec![
        "--store".into(),
        url.clone(),
        "--redis-prefix".into(),
        prefix.clone(),
    ];
    // Reached before anything starts, so a store that cannot be used leaves nothing
    // running.
    let store = StoreUrl::parse(&url)?
        .open(&prefix)
        .await
        .map_err(|e| e.to_string())?;
    store.queue_lengths().await.map_err(|e| e.to_string())?;
    let soak = Soak {
        cronq,
        dir: dir.clone(),
        store_args,
    };
    println!(
        "soak: {JOBS} every-second jobs for {} min on {url}, logs in {}",
        options.minutes,
        dir.display()
    );

    let started = Utc::now();
    let mut daemon = soak.spawn("daemon", &["daemon", "--no-workers", "--lease", LEASE]);
    let mut workers = [soak.worker("worker-0"), soak.worker("worker-1")];
    tokio::time::sleep(Duration::from_secs(5)).await;
    let rss_start = rss_kib(daemon.id());

    let run_for = Duration::from_secs_f64(options.minutes * 60.0);
    let begun = Instant::now();
    let mut random = XorShift(started.timestamp_nanos_opt().unwrap_or(1) as u64 | 1);
    let mut kills = 0;
    while begun.elapsed() < run_for {
        let pause = Duration::from_millis(3_000 + random.below(7_000));
        tokio::time::sleep(pause.min(run_for.saturating_sub(begun.elapsed()))).await;
        if begun.elapsed() >= run_for {
            break;
        }
        let index = random.below(2) as usize;
        let _ = workers[index].kill();
        let _ = workers[index].wait();
        kills += 1;
        workers[index] = soak.worker(&format!("worker-{index}"));
    }
    let rss_end = rss_kib(daemon.id());
    stop(&mut daemon);
    let stopped = Utc::now();

    // What the kills left: the reaper of a daemon that fires nothing, and the workers.
    let mut reaper = soak.spawn(
        "reaper",
        &[
            "daemon",
            "--no-workers",
            "--schedule",
            "reaper.yaml",
            "--lease",
            LEASE,
        ],
    );
    let deadline = Instant::now() + Duration::from_secs(60);
    let runs = loop {
        let runs = store.history(&HistoryFilter::default()).await;
        let open = runs.as_ref().map_or(true, |runs| {
            runs.iter()
                .any(|r| matches!(r.status, RunStatus::Queued | RunStatus::Running))
        });
        if !open || Instant::now() > deadline {
            break runs;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    stop(&mut reaper);
    for worker in &mut workers {
        stop(worker);
    }
    let runs = runs.map_err(|e| format!("cannot read the history: {e}"))?;
    Ok(report(
        &runs,
        started,
        stopped,
        kills,
        (rss_start, rss_end),
        &dir,
    ))
}

/// Prints the figures; false when an instant fired twice or went unaccounted for.
fn report(
    runs: &[cronq::store::Run],
    started: DateTime<Utc>,
    stopped: DateTime<Utc>,
    kills: usize,
    rss: (Option<u64>, Option<u64>),
    dir: &Path,
) -> bool {
    let mut per_instant = HashMap::<(&str, DateTime<Utc>), (usize, usize)>::new();
    let mut statuses = BTreeMap::<String, usize>::new();
    for run in runs {
        *statuses.entry(run.status.to_string()).or_default() += 1;
        if run.trigger == Trigger::Retry {
            continue;
        }
        let Some(at) = run.scheduled_for else {
            continue;
        };
        let entry = per_instant.entry((run.job.as_str(), at)).or_default();
        if run.status == RunStatus::Skipped {
            entry.1 += 1;
        } else {
            entry.0 += 1;
        }
    }
    // Every second from the first whole one after the daemon's start to the last one
    // before its stop, for each job.
    let first = DateTime::from_timestamp(started.timestamp() + 2, 0).expect("a time");
    let last = DateTime::from_timestamp(stopped.timestamp() - 1, 0).expect("a time");
    let (mut expected, mut fired, mut duplicates, mut accounted, mut unaccounted) = (0, 0, 0, 0, 0);
    for job in 0..JOBS {
        let name = format!("soak-{job:02}");
        let mut at = first;
        while at <= last {
            expected += 1;
            match per_instant
                .get(&(name.as_str(), at))
                .copied()
                .unwrap_or_default()
            {
                (0, 0) => unaccounted += 1,
                (0, _) => accounted += 1,
                (n, skipped) => {
                    fired += 1;
                    duplicates += n - 1 + skipped;
                }
            }
            at += TimeDelta::seconds(1);
        }
    }
    let open = statuses.get("queued").copied().unwrap_or(0)
        + statuses.get("running").copied().unwrap_or(0);
    println!("instants expected:      {expected}");
    println!("fired:                  {fired}");
    println!("duplicates:             {duplicates}");
    println!("misses accounted for:   {accounted} (recorded skipped, with a reason)");
    println!("misses unaccounted for: {unaccounted}");
    println!("worker kills (SIGKILL): {kills}");
    println!("runs by final state:    {statuses:?}");
    println!("runs not final:         {open}");
    let kib = |v: Option<u64>| v.map_or("?".into(), |v| format!("{v} KiB"));
    println!(
        "daemon RSS:             start {}, end {}",
        kib(rss.0),
        kib(rss.1)
    );
    let ok = duplicates == 0 && unaccounted == 0 && open == 0;
    println!("{}", if ok { "soak: ok" } else { "soak: FAILED" });
    if ok {
        let _ = std::fs::remove_dir_all(dir);
    }
    ok
}
