//! A queue entry that cannot be read never blocks its queue, and a lost run runs
//! `on_failure` once.

use std::time::Duration;

use crate::common::daemon::{Process, eventually};
use crate::common::redis_server::RedisServer;
use crate::common::{Scratch, texts};
use cronq::store::redis::RedisStore;
use cronq::store::sqlite::SqliteStore;
use cronq::store::{RunStatus, Store};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

const PATIENCE: Duration = Duration::from_secs(15);

fn printed_id(output: &std::process::Output) -> String {
    let (stdout, stderr) = texts(output);
    assert!(output.status.success(), "{stderr}");
    stdout.trim().to_string()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_run_key_of_the_wrong_type_is_dead_lettered_and_the_queue_goes_on() {
    let server = RedisServer::shared();
    let url = server.url();
    let prefix = server.unique_prefix();
    let scratch = Scratch::new();
    scratch.write(
        "crontab.yaml",
        "jobs:\n  hello:\n    command: [\"true\"]\n    concurrency: allow\n",
    );
    let cronq = |args: &[&str]| {
        scratch
            .cronq()
            .args(args)
            .args(["--store", &url, "--redis-prefix", &prefix])
            .output()
            .unwrap()
    };
    let bad = printed_id(&cronq(&["run", "hello"]));
    let listed = printed_id(&cronq(&["run", "hello"]));
    // Something else wrote the run's key: a string and a list where a hash belongs.
    assert_eq!(
        server.cli(&["SET", &format!("{prefix}run:{bad}"), "junk"]),
        "OK"
    );
    let key = format!("{prefix}run:{listed}");
    server.cli(&["DEL", &key]);
    server.cli(&["RPUSH", &key, "a", "b"]);
    let good = printed_id(&cronq(&["run", "hello"]));

    // While they sit in the queue, status lists the rest instead of failing with
    // WRONGTYPE, and history too.
    let output = cronq(&["status", "--json"]);
    let (stdout, stderr) = texts(&output);
    assert!(
        output.status.success(),
        "status fails on a bad entry: {stderr}"
    );
    let status: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    let queued: Vec<&str> = status["queued"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    assert_eq!(queued, [good.as_str()], "{stdout}");
    assert_eq!(status["queued"][0]["position"], 1);
    assert!(
        stderr.contains(&bad) && stderr.contains("not a hash"),
        "{stderr}"
    );
    let output = cronq(&["status"]);
    assert!(output.status.success(), "{}", texts(&output).1);
    assert!(texts(&output).0.contains(&good));
    let output = cronq(&["history", "--json"]);
    assert!(output.status.success(), "{}", texts(&output).1);
    // One run by its id still says what is wrong with it.
    let output = cronq(&["show", &bad]);
    assert!(!output.status.success());

    let store = RedisStore::connect(&url, &prefix, 1 << 20).await.unwrap();
    let mut worker = Process::start(
        scratch.path(),
        "worker",
        &["worker", "--store", &url, "--redis-prefix", &prefix],
    );
    eventually("the good run succeeds", PATIENCE, || async {
        store
            .run(&good)
            .await
            .is_ok_and(|run| run.status == RunStatus::Succeeded)
    })
    .await;
    worker.stop(PATIENCE);

    let output = cronq(&["history", "--status", "dead", "--json"]);
    let (stdout, stderr) = texts(&output);
    assert!(output.status.success(), "{stderr}");
    let history: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    let dead = history["runs"].as_array().unwrap();
    let ids: Vec<&str> = dead.iter().map(|r| r["id"].as_str().unwrap()).collect();
    assert_eq!(ids.len(), 2, "{stdout}");
    assert!(ids.contains(&bad.as_str()) && ids.contains(&listed.as_str()));
    for run in dead {
        let reason = run["reason"].as_str().unwrap();
        assert!(
            reason.contains("not a hash") && reason.contains("moved aside"),
            "{reason}"
        );
        assert_eq!(run["queue"], "default");
    }
    assert_eq!(server.cli(&["GET", &format!("{prefix}dead:{bad}")]), "junk");

    let output = cronq(&["status"]);
    let (stdout, _) = texts(&output);
    assert!(stdout.contains("dead letters: 2"), "{stdout}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_run_lost_on_its_last_attempt_runs_on_failure_once_across_daemons() {
    let scratch = Scratch::new();
    let notified = scratch.path().join("notified");
    scratch.write(
        "crontab.yaml",
        &format!(
            "jobs:\n  slow:\n    command: [\"sh\", \"-c\", \"echo $$ > job.pid; exec sleep 30\"]\n    \
             on_failure: [\"sh\", \"-c\", \"echo $CRONQ_STATUS $CRONQ_RUN_ID >> {}\"]\n",
            notified.display()
        ),
    );
    let lease = ["--lease", "1s"];
    let daemon_args = [&["daemon", "--no-workers"][..], &lease].concat();
    let mut first = Process::start(scratch.path(), "first", &daemon_args);
    let mut second = Process::start(scratch.path(), "second", &daemon_args);
    let mut worker = Process::start(
        scratch.path(),
        "worker",
        &[&["worker"][..], &lease].concat(),
    );
    let id = printed_id(&scratch.cronq().args(["run", "slow"]).output().unwrap());
    let store = SqliteStore::open(&scratch.path().join("state/cronq/cronq.db"), 1 << 20).unwrap();
    eventually("the run starts", PATIENCE, || async {
        scratch.path().join("job.pid").exists()
    })
    .await;
    worker.kill();
    eventually("the run is lost", PATIENCE, || async {
        store
            .run(&id)
            .await
            .is_ok_and(|run| run.status == RunStatus::Lost)
    })
    .await;
    eventually("on_failure ran", PATIENCE, || async { notified.exists() }).await;
    // Both daemons reap twice a second: time enough for a second one to show.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let lines = std::fs::read_to_string(&notified).unwrap();
    assert_eq!(lines, format!("lost {id}\n"), "once, for the lost run");
    first.stop(PATIENCE);
    second.stop(PATIENCE);
    if let Some(pid) = std::fs::read_to_string(scratch.path().join("job.pid"))
        .ok()
        .and_then(|pid| pid.trim().parse().ok())
    {
        let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
    }
}
