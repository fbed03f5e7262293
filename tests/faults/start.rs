//! Starting without the store, and the schedule the daemons publish coming back after
//! Redis lost it.

use std::time::{Duration, Instant};

use crate::common::daemon::{Process, eventually};
use crate::common::redis_server::RedisServer;
use crate::common::{Scratch, texts};
use cronq::store::redis::RedisStore;
use cronq::store::{HistoryFilter, RunStatus, Store};

const PATIENCE: Duration = Duration::from_secs(15);

#[tokio::test(flavor = "multi_thread")]
async fn a_daemon_and_a_worker_started_without_the_store_wait_for_it() {
    let mut server = RedisServer::start();
    let url = server.url();
    let prefix = server.unique_prefix();
    server.stop();
    let scratch = Scratch::new();
    scratch.write(
        "crontab.yaml",
        "jobs:\n  tick:\n    schedule: \"* * * * * *\"\n    command: [\"true\"]\n",
    );
    let store_args = ["--store", url.as_str(), "--redis-prefix", prefix.as_str()];
    let daemon_args = [&["daemon", "--no-workers"][..], &store_args].concat();
    let worker_args = [&["worker"][..], &store_args].concat();
    let mut daemon = Process::start(scratch.path(), "daemon", &daemon_args);
    let mut worker = Process::start(scratch.path(), "worker", &worker_args);
    for process in [&daemon, &worker] {
        eventually("a line saying it waits", PATIENCE, || async {
            process.logs().contains("; waiting for it")
        })
        .await;
    }
    // Long enough for several attempts: still one line each, and both still there.
    tokio::time::sleep(Duration::from_secs(3)).await;
    for process in [&daemon, &worker] {
        let logs = process.logs();
        assert_eq!(logs.matches("waiting for it").count(), 1, "{logs}");
        assert!(logs.contains("is unreachable"), "{logs}");
    }

    server.restart();
    let store = RedisStore::connect(&url, &prefix, 1 << 20).await.unwrap();
    eventually("a run fired and run", PATIENCE, || async {
        let filter = HistoryFilter {
            statuses: vec![RunStatus::Succeeded],
            ..HistoryFilter::default()
        };
        !store.history(&filter).await.unwrap().is_empty()
    })
    .await;
    for process in [&daemon, &worker] {
        let logs = process.logs();
        assert_eq!(logs.matches("the store answers again").count(), 1, "{logs}");
    }
    assert_eq!(daemon.stop(PATIENCE), Some(0));
    assert_eq!(worker.stop(PATIENCE), Some(0));
}

#[test]
fn exit_if_unreachable_exits_3_at_once() {
    let mut server = RedisServer::start();
    let url = server.url();
    server.stop();
    let scratch = Scratch::new();
    scratch.write(
        "crontab.yaml",
        "jobs:\n  tick:\n    schedule: \"* * * * *\"\n    command: [\"true\"]\n",
    );
    for command in ["daemon", "worker"] {
        let started = Instant::now();
        let output = scratch
            .cronq()
            .args([command, "--exit-if-unreachable", "--store", &url])
            .timeout(PATIENCE)
            .output()
            .unwrap();
        let (_, stderr) = texts(&output);
        assert_eq!(output.status.code(), Some(3), "{command}: {stderr}");
        assert!(stderr.contains("is unreachable"), "{stderr}");
        assert!(started.elapsed() < Duration::from_secs(10));
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_schedule_is_published_again_after_redis_restarts_empty() {
    let mut server = RedisServer::start();
    let url = server.url();
    let prefix = server.unique_prefix();
    let with_file = Scratch::new();
    with_file.write(
        "crontab.yaml",
        "jobs:\n  hourly:\n    schedule: \"0 * * * *\"\n    jitter: 30m\n    command: [\"true\"]\n",
    );
    let without_file = Scratch::new();
    let store_args = ["--store", url.as_str(), "--redis-prefix", prefix.as_str()];
    let mut daemon = Process::start(
        with_file.path(),
        "daemon",
        &[&["daemon", "--no-workers"][..], &store_args].concat(),
    );
    let after = "--after=2026-06-01T00:00:00Z";
    let next = |scratch: &Scratch| {
        let output = scratch
            .cronq()
            .args(["next", "--job", "hourly", "-n", "3", after])
            .args(store_args)
            .output()
            .unwrap();
        output.status.success().then(|| texts(&output).0)
    };
    let local = next(&with_file).expect("next --job from the file");
    eventually("the schedule published", PATIENCE, || async {
        next(&without_file).is_some()
    })
    .await;
    assert_eq!(
        next(&without_file).as_deref(),
        Some(local.as_str()),
        "a host without the file gives the daemon's instants, jitter included"
    );

    server.stop();
    server.restart();
    let restarted = Instant::now();
    assert_eq!(next(&without_file), None, "the restarted Redis is empty");
    // One publication interval (10 s), and the time to reconnect.
    eventually(
        "the schedule published again",
        Duration::from_secs(14),
        || async { next(&without_file).is_some() },
    )
    .await;
    eprintln!(
        "published again {:?} after the restart",
        restarted.elapsed()
    );
    assert_eq!(next(&without_file).as_deref(), Some(local.as_str()));
    assert!(daemon.logs().contains("published again"));
    daemon.stop(PATIENCE);
}
