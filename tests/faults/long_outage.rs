//! Redis stopped for 30 seconds under a daemon firing every second and a worker with two
//! runs: one that runs through the whole outage, one that writes 1.2 MiB and exits
//! while the store is down. The daemon records the outage's instants `skipped` and
//! fires each instant at most once; the first run succeeds; the second run's end and
//! the last 1 MiB of what it wrote are stored once Redis answers again.

use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};

use crate::common::Scratch;
use crate::common::daemon::{Process, eventually};
use crate::common::redis_server::RedisServer;
use cronq::store::redis::RedisStore;
use cronq::store::{HistoryFilter, Run, RunStatus, Store, Trigger};

const PATIENCE: Duration = Duration::from_secs(20);
const OUTAGE: Duration = Duration::from_secs(30);
/// What `seq 1 200000` writes: 9 numbers of 2 bytes, 90 of 3, ... and 100001 of 7.
const SEQ_BYTES: u64 = 9 * 2 + 90 * 3 + 900 * 4 + 9_000 * 5 + 90_000 * 6 + 100_001 * 7;
const TAIL_BYTES: usize = 1 << 20;

async fn history(store: &dyn Store, job: &str) -> Vec<Run> {
    let filter = HistoryFilter {
        job: Some(job.into()),
        ..HistoryFilter::default()
    };
    store.history(&filter).await.expect("history")
}

async fn run_of(store: &dyn Store, id: &str) -> Run {
    store.run(id).await.expect("the run")
}

#[tokio::test(flavor = "multi_thread")]
async fn redis_stopped_for_30_seconds_under_a_firing_daemon_and_running_jobs() {
    let mut server = RedisServer::start_persistent();
    let (url, prefix) = (server.url(), server.unique_prefix());
    let scratch = Scratch::new();
    let dir = scratch.path().display().to_string();
    scratch.write(
        "crontab.yaml",
        &format!(
            "jobs:
  tick:
    schedule: \"* * * * * *\"
    command: [\"true\"]
    catch_up: none
  through:
    command: 'while [ ! -f {dir}/up ]; do sleep 0.1; done; echo after'
  writer:
    command: 'echo start; while [ ! -f {dir}/down ]; do sleep 0.1; done; seq 1 200000; echo end; touch {dir}/written; exit 3'
"
        ),
    );
    let store_args = ["--store", url.as_str(), "--redis-prefix", prefix.as_str()];
    let mut daemon = Process::start(
        scratch.path(),
        "daemon",
        &[&["daemon", "--no-workers"][..], &store_args].concat(),
    );
    // A lease longer than the outage: the runs are the worker's still when it ends.
    let mut worker = Process::start(
        scratch.path(),
        "worker",
        &[&["worker", "--lease", "90s"][..], &store_args].concat(),
    );
    let store = RedisStore::connect(&url, &prefix, 1 << 20).await.unwrap();
    let trigger = |job: &str| {
        let output = scratch
            .cronq()
            .args(["run", job])
            .args(store_args)
            .output()
            .unwrap();
        assert!(output.status.success(), "{output:?}");
        String::from_utf8(output.stdout).unwrap().trim().to_string()
    };
    let (through, writer) = (trigger("through"), trigger("writer"));
    eventually("both runs are running", PATIENCE, || async {
        run_of(&store, &through).await.status == RunStatus::Running
            && store.output(&writer, 0).await.is_ok_and(|o| o.end == 6)
    })
    .await;
    let started = Utc::now();
    eventually("the daemon fires", PATIENCE, || async {
        history(&store, "tick")
            .await
            .iter()
            .any(|run| run.scheduled_for.is_some_and(|at| at > started))
    })
    .await;

    let down_at = Utc::now();
    server.stop();
    scratch.write("down", "");
    let deadline = std::time::Instant::now() + OUTAGE;
    let written = scratch.path().join("written");
    while !written.exists() {
        assert!(
            std::time::Instant::now() < deadline,
            "the writer did not get its output out while the store was down:\n{}",
            worker
                .logs()
                .lines()
                .filter(|l| !l.contains("stream="))
                .collect::<Vec<_>>()
                .join("\n")
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(deadline.saturating_duration_since(std::time::Instant::now())).await;
    server.restart();
    let back_at = Utc::now();
    scratch.write("up", "");

    let store = RedisStore::connect(&url, &prefix, 1 << 20).await.unwrap();
    eventually("the writer's end is recorded", PATIENCE, || async {
        run_of(&store, &writer).await.status == RunStatus::Failed
    })
    .await;
    eventually("the run through the outage succeeds", PATIENCE, || async {
        run_of(&store, &through).await.status == RunStatus::Succeeded
    })
    .await;
    let ended = run_of(&store, &writer).await;
    assert_eq!(ended.exit_code, Some(3), "{ended:?}");
    assert_eq!(ended.attempt, 1, "the run was never lost: {ended:?}");
    let through_run = run_of(&store, &through).await;
    assert_eq!(through_run.attempt, 1, "{through_run:?}");

    // What it wrote while the store was down: the last 1 MiB of it, byte for byte.
    let output = store.output(&writer, 0).await.unwrap();
    // The worker held the last 1 MiB of what the job wrote during the outage (the
    // store keeps no more of a run); what it cut before that is not counted in `end`.
    let written = 6 + SEQ_BYTES + 4;
    let total = 6 + TAIL_BYTES as u64;
    assert!(written > total);
    assert_eq!(output.end, total, "the stored bytes");
    let bytes: Vec<u8> = output.chunks.iter().flat_map(|c| c.bytes.clone()).collect();
    assert_eq!(bytes.len(), TAIL_BYTES, "the tail kept is 1 MiB");
    assert_eq!(output.start, total - TAIL_BYTES as u64);
    let text = String::from_utf8(bytes).unwrap();
    assert!(
        text.ends_with("199999\n200000\nend\n"),
        "{}",
        &text[text.len() - 40..]
    );
    let numbers: Vec<u64> = text
        .lines()
        .skip(1) // cut mid-line
        .filter(|line| *line != "end")
        .map(|line| line.parse().unwrap())
        .collect();
    assert!(
        numbers.windows(2).all(|w| w[1] == w[0] + 1),
        "a line lost or reordered"
    );

    // Firing resumes, and every instant of the outage is accounted for, once.
    eventually("the daemon fires on time again", PATIENCE, || async {
        history(&store, "tick").await.iter().any(|run| {
            run.status != RunStatus::Skipped
                && run
                    .scheduled_for
                    .is_some_and(|at| at > back_at + TimeDelta::seconds(1))
        })
    })
    .await;
    daemon.stop(PATIENCE);
    worker.stop(PATIENCE);
    let ticks = history(&store, "tick").await;
    let mut instants = std::collections::BTreeSet::new();
    for run in &ticks {
        let at = run.scheduled_for.expect("an instant");
        assert!(instants.insert(at), "instant {at} fired twice");
    }
    let inside = |at: DateTime<Utc>| {
        at > down_at + TimeDelta::milliseconds(1500) && at < back_at - TimeDelta::seconds(1)
    };
    let outage: Vec<&Run> = ticks
        .iter()
        .filter(|run| run.scheduled_for.is_some_and(inside))
        .collect();
    assert!(
        outage.len() >= 27,
        "{} instants of the outage recorded",
        outage.len()
    );
    for run in &outage {
        assert_eq!(run.status, RunStatus::Skipped, "{run:?}");
        assert_eq!(run.trigger, Trigger::Schedule);
        assert!(
            run.reason
                .as_deref()
                .is_some_and(|why| why.contains("the store was unreachable")),
            "{run:?}"
        );
    }
    // Every second from the first fire on has its record.
    let (first, last) = (*instants.first().unwrap(), *instants.last().unwrap());
    let seconds = (last - first).num_seconds() + 1;
    assert_eq!(
        instants.len() as i64,
        seconds,
        "an instant missing from the history"
    );
    let logs = daemon.logs();
    assert_eq!(
        logs.matches("firing waits for the store").count(),
        1,
        "{logs}"
    );
}
