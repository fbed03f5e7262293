//! `kill -9` of daemons and workers in turn, on both stores at once: two daemons and two
//! workers under an every-second job, one process killed at a time and started again,
//! several rounds. Afterwards every instant has fired at most once, every instant
//! from the first to the last is in the history (fired, or skipped with its reason),
//! every run is in a final state once the reaper has looked, and the SQLite file
//! passes `PRAGMA integrity_check`.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::common::Scratch;
use crate::common::daemon::{Process, eventually};
use crate::common::redis_server::RedisServer;
use cronq::store::redis::RedisStore;
use cronq::store::sqlite::SqliteStore;
use cronq::store::{HistoryFilter, Run, RunStatus, Store, Trigger};

const PATIENCE: Duration = Duration::from_secs(20);
const ROUNDS: usize = 3;
/// Short leases, so the reaper takes a killed worker's runs within seconds.
const LEASE: &str = "2s";

const SCHEDULE: &str = "jobs:
  tick:
    schedule: \"* * * * * *\"
    command: [\"sleep\", \"1.5\"]
    catch_up: none
    retries: 1
    concurrency: allow
";

/// The four processes, each startable again under its name.
struct Cluster<'a> {
    dir: &'a Path,
    store_args: Vec<String>,
    processes: Vec<(&'static str, Process)>,
}

impl<'a> Cluster<'a> {
    fn start(dir: &'a Path, store_args: Vec<String>) -> Cluster<'a> {
        let mut cluster = Cluster {
            dir,
            store_args,
            processes: Vec::new(),
        };
        for name in ["daemon-a", "daemon-b", "worker-a", "worker-b"] {
            let process = cluster.spawn(name);
            cluster.processes.push((name, process));
        }
        cluster
    }

    fn spawn(&self, name: &str) -> Process {
        let mut args: Vec<&str> = if name.starts_with("daemon") {
            vec!["daemon", "--no-workers"]
        } else {
            vec!["worker", "--concurrency", "4"]
        };
        args.extend(["--lease", LEASE]);
        args.extend(self.store_args.iter().map(String::as_str));
        Process::start(self.dir, name, &args)
    }

    /// `kill -9` of process `index`, a pause, and a new one in its place.
    async fn kill_and_restart(&mut self, index: usize, down: Duration) {
        let name = self.processes[index].0;
        self.processes[index].1.kill();
        tokio::time::sleep(down).await;
        self.processes[index].1 = self.spawn(name);
    }

    fn stop(&mut self, prefix: &str) {
        for (name, process) in &mut self.processes {
            if name.starts_with(prefix) {
                process.stop(PATIENCE);
            }
        }
    }
}

async fn ticks(store: &dyn Store) -> Vec<Run> {
    let filter = HistoryFilter {
        job: Some("tick".into()),
        ..HistoryFilter::default()
    };
    store.history(&filter).await.expect("history")
}

/// Rounds of kills against one store, then the checks; the history for the caller.
async fn kill_in_turn(dir: &Path, store_args: Vec<String>, store: &dyn Store) -> Vec<Run> {
    // A daemon that fires nothing: only its reaper works.
    std::fs::write(dir.join("reaper.yaml"), "jobs: {}\n").unwrap();
    let mut cluster = Cluster::start(dir, store_args);
    let started = Utc::now();
    eventually("the daemons fire", PATIENCE, || async {
        ticks(store)
            .await
            .iter()
            .any(|run| run.status == RunStatus::Succeeded)
    })
    .await;
    for _ in 0..ROUNDS {
        for index in 0..4 {
            // Each process is killed while it is busy: a second for it to start and take
            // part, then the kill, and a second and a half down.
            tokio::time::sleep(Duration::from_millis(1000)).await;
            cluster
                .kill_and_restart(index, Duration::from_millis(1500))
                .await;
        }
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    cluster.stop("daemon");
    let stopped = Utc::now();
    // The workers drain what was fired; the reaper of one daemon started again takes
    // what the killed workers held, and its retry runs.
    let mut args = vec![
        "daemon",
        "--no-workers",
        "--schedule",
        "reaper.yaml",
        "--lease",
        LEASE,
    ];
    args.extend(cluster.store_args.iter().map(String::as_str));
    let reaper = Process::start(dir, "reaper", &args);
    eventually("every run is in a final state", PATIENCE, || async {
        ticks(store)
            .await
            .iter()
            .all(|run| !matches!(run.status, RunStatus::Queued | RunStatus::Running))
    })
    .await;
    let mut reaper = reaper;
    reaper.stop(PATIENCE);
    cluster.stop("worker");

    let runs = ticks(store).await;
    let logs: String = cluster
        .processes
        .iter()
        .map(|(name, p)| format!("--- {name}\n{}", p.logs()))
        .collect();
    check(&runs, started, stopped, &logs);
    runs
}

/// At most one fire per instant, no instant unaccounted for, every run final.
fn check(runs: &[Run], started: DateTime<Utc>, stopped: DateTime<Utc>, logs: &str) {
    let mut fires = BTreeMap::<DateTime<Utc>, Vec<&Run>>::new();
    for run in runs.iter().filter(|run| run.trigger != Trigger::Retry) {
        let at = run.scheduled_for.expect("a fire has its instant");
        fires.entry(at).or_default().push(run);
    }
    let twice: Vec<_> = fires.iter().filter(|(_, runs)| runs.len() > 1).collect();
    assert!(twice.is_empty(), "instants fired twice: {twice:?}");
    // From the first fire to the daemons' stop, every second is in the history: with
    // one daemon down at a time, the other fires it; a restarted one skips none.
    let first = *fires.keys().next().unwrap();
    assert!(first >= started - chrono::TimeDelta::seconds(1));
    let mut at = first;
    let mut missing = Vec::new();
    while at < stopped - chrono::TimeDelta::seconds(2) {
        if !fires.contains_key(&at) {
            missing.push(at);
        }
        at += chrono::TimeDelta::seconds(1);
    }
    assert!(
        missing.is_empty(),
        "instants not in the history: {missing:?}\n{logs}"
    );
    for run in runs {
        assert!(
            !matches!(run.status, RunStatus::Queued | RunStatus::Running),
            "{run:?}"
        );
        if run.status == RunStatus::Skipped {
            assert!(run.reason.is_some(), "a skip without its reason: {run:?}");
        }
    }
    // Each run lost with an attempt left is retried once; a retry is of a lost run.
    let lost = runs.iter().filter(|r| r.status == RunStatus::Lost);
    let retriable = lost.filter(|r| r.attempt < r.max_attempts).count();
    let retries = runs.iter().filter(|r| r.trigger == Trigger::Retry).count();
    assert_eq!(retries, retriable, "retries of lost runs");
}

async fn on_sqlite() -> Vec<Run> {
    let scratch = Scratch::new();
    scratch.write("crontab.yaml", SCHEDULE);
    let db = scratch.path().join("state/cronq/cronq.db");
    let url = format!("sqlite:{}", db.display());
    std::fs::create_dir_all(db.parent().unwrap()).unwrap();
    let store = SqliteStore::open(&db, 1 << 20).unwrap();
    let runs = kill_in_turn(scratch.path(), vec!["--store".into(), url], &store).await;
    let conn = rusqlite::Connection::open(&db).unwrap();
    let integrity: String = conn
        .query_row("PRAGMA integrity_check", [], |row| row.get(0))
        .unwrap();
    assert_eq!(integrity, "ok");
    runs
}

async fn on_redis() -> Vec<Run> {
    let server = RedisServer::shared();
    let (url, prefix) = (server.url(), server.unique_prefix());
    let scratch = Scratch::new();
    scratch.write("crontab.yaml", SCHEDULE);
    let store = RedisStore::connect(&url, &prefix, 1 << 20).await.unwrap();
    let args = vec!["--store".into(), url, "--redis-prefix".into(), prefix];
    kill_in_turn(scratch.path(), args, &store).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn kill_9_of_daemons_and_workers_in_turn_on_both_stores() {
    let (sqlite, redis) = tokio::join!(on_sqlite(), on_redis());
    for (store, runs) in [("sqlite", &sqlite), ("redis", &redis)] {
        let lost = runs.iter().filter(|r| r.status == RunStatus::Lost).count();
        let succeeded = runs
            .iter()
            .filter(|r| r.status == RunStatus::Succeeded)
            .count();
        eprintln!(
            "{store}: {} runs, {succeeded} succeeded, {lost} lost",
            runs.len()
        );
        assert!(succeeded > 20, "{store}: {succeeded} succeeded");
        assert!(lost > 0, "{store}: no kill of a worker hit a running run");
    }
}
