//! `cronq status` on the built binary: a running job's progress and time left, the
//! workers, the next fires, and the watchdog behind `--check`.

mod common;

use std::time::Duration;

use common::daemon::{Process, eventually};
use common::{Scratch, texts};

const PATIENCE: Duration = Duration::from_secs(20);

fn status_json(scratch: &Scratch) -> serde_json::Value {
    let output = scratch.cronq().args(["status", "--json"]).output().unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", texts(&output).1);
    serde_json::from_slice(&output.stdout).unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_running_job_shows_its_progress_and_time_left() {
    let scratch = Scratch::new();
    let cronq = env!("CARGO_BIN_EXE_cronq");
    scratch.write(
        "crontab.yaml",
        &format!(
            "jobs:\n  copy:\n    schedule: \"@reboot\"\n    command: \"{cronq} progress 40 copying && sleep 4\"\n  later:\n    schedule: \"0 0 1 1 *\"\n    command: [\"true\"]\n"
        ),
    );
    let mut daemon = Process::start(scratch.path(), "daemon", &["daemon"]);
    let mut seen = serde_json::Value::Null;
    eventually("progress in status", PATIENCE, || {
        seen = status_json(&scratch);
        // The progress, and the worker's registration listing the run (heartbeats are
        // at most a second apart).
        let found = seen["running"]
            .as_array()
            .is_some_and(|r| r.iter().any(|run| run["progress"] == 40))
            && !seen["workers"][0]["run"].is_null();
        async move { found }
    })
    .await;
    let run = seen["running"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["job"] == "copy")
        .unwrap()
        .clone();
    assert_eq!(run["message"], "copying");
    assert_eq!(run["status"], "running");
    // elapsed × (100 − 40) / 40: a second or so in, a second and a half or so left.
    let eta = run["eta_s"]
        .as_f64()
        .expect("a time left from the progress");
    let elapsed = run["duration_s"].as_f64().unwrap();
    assert!(
        (eta - elapsed * 1.5).abs() < 0.5,
        "eta {eta} for elapsed {elapsed}"
    );
    assert_eq!(run["overdue"], false);
    let worker = &seen["workers"][0];
    assert_eq!(worker["queues"], serde_json::json!(["default"]));
    assert_eq!(worker["run"], run["id"]);
    assert_eq!(seen["next"][0]["job"], "later");
    assert_eq!(seen["problems"], serde_json::json!([]));
    daemon.stop(PATIENCE);
}

#[test]
fn check_exits_1_when_no_daemon_fires_the_schedule() {
    let scratch = Scratch::new();
    scratch.write("crontab.yaml", "jobs:\n  tick:\n    schedule: \"* * * * *\"\n    command: [\"true\"]\n  manual:\n    command: [\"true\"]\n");
    let output = scratch
        .cronq()
        .args(["status", "--check"])
        .output()
        .unwrap();
    let (stdout, _) = texts(&output);
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(stdout, "stalled: no daemon is running to fire job `tick`\n");
}

#[tokio::test(flavor = "multi_thread")]
async fn check_is_quiet_and_0_while_the_daemon_fires() {
    let scratch = Scratch::new();
    scratch.write(
        "crontab.yaml",
        "jobs:\n  tick:\n    schedule: \"* * * * * *\"\n    command: [\"true\"]\n",
    );
    let mut daemon = Process::start(scratch.path(), "daemon", &["daemon"]);
    // Quiet once the daemon runs: it registers and fires every second.
    eventually("a quiet check", PATIENCE * 2, || async {
        let output = scratch
            .cronq()
            .args(["status", "--check"])
            .output()
            .unwrap();
        output.status.code() == Some(0) && output.stdout.is_empty()
    })
    .await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let output = scratch
        .cronq()
        .args(["status", "--check"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{:?}", texts(&output));
    assert_eq!(texts(&output).0, "");
    daemon.stop(PATIENCE);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_job_whose_last_runs_failed_is_failing() {
    let scratch = Scratch::new();
    scratch.write(
        "crontab.yaml",
        "jobs:\n  broken:\n    schedule: \"* * * * * *\"\n    command: [\"false\"]\n",
    );
    let mut daemon = Process::start(scratch.path(), "daemon", &["daemon"]);
    eventually("three failures", PATIENCE, || async {
        let json = status_json(&scratch);
        json["problems"]
            .as_array()
            .is_some_and(|p| p.iter().any(|p| p["kind"] == "failing"))
    })
    .await;
    daemon.stop(PATIENCE);
    let output = scratch
        .cronq()
        .args(["status", "--check"])
        .output()
        .unwrap();
    assert!(
        texts(&output)
            .0
            .contains("failing: the last 3 runs of job `broken` failed"),
        "{:?}",
        texts(&output)
    );
}

#[test]
fn the_human_output_has_every_section() {
    let scratch = Scratch::new();
    scratch.write(
        "crontab.yaml",
        "jobs:\n  yearly:\n    schedule: \"0 0 1 1 *\"\n    command: [\"true\"]\n",
    );
    let output = scratch.cronq().arg("status").output().unwrap();
    let (stdout, _) = texts(&output);
    let redacted: String = stdout
        .lines()
        .map(|line| match line.split_once("Z  ") {
            Some((_, job)) if line.starts_with("20") => format!("[time]  {job}\n"),
            _ => format!("{line}\n"),
        })
        .collect();
    insta::assert_snapshot!(redacted);
}
