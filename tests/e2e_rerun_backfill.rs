//! `cronq rerun` and `cronq backfill` through the built binary, on both stores: a rerun
//! repeats a run's job with its args and env, linked to it and under the job's
//! overlap policy; a backfill queues one run per past instant that has none, and never
//! doubles an instant, run twice at once or beside a daemon that caught the same
//! instants up.

mod common;

use std::time::Duration;

use chrono::{DateTime, DurationRound, TimeDelta, Utc};
use common::both_stores::{Backend, Setup};
use common::daemon::eventually;
use common::texts;
use serde_json::Value;

const PATIENCE: Duration = Duration::from_secs(30);

const JOBS: &str = r#"jobs:
  greet:
    command: ["sh", "-c", "echo \"$* level=$LEVEL\"", "greet"]
    allow_args: true
    allow_env: [LEVEL]
  slow:
    command: "sleep 30"
    concurrency: forbid
  tick:
    schedule: "* * * * *"
    command: "sleep 0.3"
    concurrency: forbid
    catch_up: all
"#;

impl Setup {
    /// `cronq ARGS` that succeeds: its stdout.
    fn ok(&self, args: &[&str]) -> String {
        let output = self.cronq(args);
        assert_eq!(
            output.status.code(),
            Some(0),
            "{args:?}: {:?}",
            texts(&output)
        );
        texts(&output).0
    }

    fn json(&self, args: &[&str]) -> Value {
        serde_json::from_str(&self.ok(args)).unwrap()
    }

    fn history(&self, job: &str) -> Vec<Value> {
        self.json(&["history", "--job", job, "--json"])["runs"]
            .as_array()
            .unwrap()
            .clone()
    }

    async fn until_status(&self, id: &str, status: &str) -> Value {
        let mut seen = Value::Null;
        eventually(&format!("run {id} {status}"), PATIENCE, || {
            seen = self.json(&["show", id, "--json"]);
            let found = seen["status"] == status;
            async move { found }
        })
        .await;
        seen
    }

    /// `cronq backfill tick --from FROM --to TO --json ARGS`: the instants' states.
    fn backfill(&self, from: DateTime<Utc>, to: DateTime<Utc>, more: &[&str]) -> Vec<Value> {
        let (from, to) = (from.to_rfc3339(), to.to_rfc3339());
        let mut args = vec!["backfill", "tick", "--from", &from, "--to", &to, "--json"];
        args.extend(more);
        self.json(&args)["instants"].as_array().unwrap().clone()
    }
}

fn minute_floor(at: DateTime<Utc>) -> DateTime<Utc> {
    at.duration_trunc(TimeDelta::minutes(1)).unwrap()
}

fn count(instants: &[Value], state: &str) -> usize {
    instants.iter().filter(|i| i["state"] == state).count()
}

crate::both_stores! {
    rerun_repeats_the_args_and_env_and_names_the_run_it_repeats,
    rerun_of_a_running_forbid_job_is_refused_unless_forced,
    backfill_queues_each_past_instant_once_and_never_twice,
    backfill_beside_a_daemon_and_twice_at_once_doubles_nothing,
}

async fn rerun_repeats_the_args_and_env_and_names_the_run_it_repeats(backend: Backend) {
    let setup = Setup::new(backend);
    setup.scratch.write("crontab.yaml", JOBS);
    let mut daemon = setup.daemon_with_four_workers();
    let first = setup.ok(&["run", "greet", "--env", "LEVEL=3", "--", "hello", "world"]);
    let first = first.trim();
    setup.until_status(first, "succeeded").await;

    // A unique start of the id names the run, as for `show`.
    let output = setup.cronq(&["rerun", &first[..8], "--wait"]);
    let (stdout, stderr) = texts(&output);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    assert_eq!(stdout, "hello world level=3\n", "the same args and env");

    let runs = setup.history("greet");
    assert_eq!(runs.len(), 2, "{runs:#?}");
    let rerun = &runs[0];
    assert_eq!(rerun["trigger"], "rerun");
    assert_eq!(rerun["status"], "succeeded");
    let id = rerun["id"].as_str().unwrap();
    let shown = setup.json(&["show", id, "--json"]);
    assert_eq!(shown["rerun_of"], first);
    assert_eq!(shown["retry_of"], Value::Null, "a rerun is no retry");
    assert_eq!(shown["args"], serde_json::json!(["hello", "world"]));
    assert_eq!(shown["env"], serde_json::json!({"LEVEL": "3"}));
    let text = setup.ok(&["show", id]);
    assert!(
        text.lines()
            .any(|line| line.starts_with("rerun of:") && line.ends_with(first)),
        "{text}"
    );
    assert_eq!(daemon.stop(PATIENCE), Some(0), "{}", daemon.logs());
}

async fn rerun_of_a_running_forbid_job_is_refused_unless_forced(backend: Backend) {
    let setup = Setup::new(backend);
    setup.scratch.write("crontab.yaml", JOBS);
    let mut daemon = setup.daemon_with_four_workers();
    let first = setup.ok(&["run", "slow"]);
    let first = first.trim();
    setup.until_status(first, "running").await;

    let output = setup.cronq(&["rerun", first]);
    let (stdout, stderr) = texts(&output);
    assert_eq!(output.status.code(), Some(1), "{stdout}{stderr}");
    assert!(
        stderr.contains(&format!("skipped: job `slow` is running (run {first})")),
        "{stderr}"
    );
    assert_eq!(setup.history("slow").len(), 1, "nothing was queued");

    let forced = setup.ok(&["rerun", first, "--force"]);
    let forced = setup.until_status(forced.trim(), "running").await;
    assert_eq!(forced["trigger"], "rerun");
    assert_eq!(forced["forced"], true);
    for id in [first, forced["id"].as_str().unwrap()] {
        setup.ok(&["cancel", id]);
    }
    assert_eq!(daemon.stop(PATIENCE), Some(0), "{}", daemon.logs());
}

async fn backfill_queues_each_past_instant_once_and_never_twice(backend: Backend) {
    let setup = Setup::new(backend);
    setup.scratch.write("crontab.yaml", JOBS);
    let now = minute_floor(Utc::now());
    let (from, to) = (now - TimeDelta::minutes(10), now - TimeDelta::minutes(5));

    let dry = setup.backfill(from, to, &["--dry-run"]);
    assert_eq!((dry.len(), count(&dry, "free")), (6, 6), "{dry:#?}");
    assert!(setup.history("tick").is_empty(), "a dry run queues nothing");

    let first = setup.backfill(from, to, &[]);
    assert_eq!(count(&first, "queued"), 6, "{first:#?}");
    let again = setup.backfill(from, to, &[]);
    assert_eq!(count(&again, "had_run"), 6, "{again:#?}");
    for (queued, had) in first.iter().zip(&again) {
        assert_eq!(
            queued["run"], had["run"],
            "the same run, named by the claim"
        );
    }

    // The worker runs each instant once; `forbid` makes them wait for each other, never
    // skip or overlap.
    let mut daemon = setup.daemon_with_four_workers();
    eventually("the backfilled runs to end", PATIENCE, || {
        let runs = setup.history("tick");
        let ended = runs
            .iter()
            .filter(|r| r["trigger"] == "backfill" && r["finished_at"] != Value::Null)
            .count();
        async move { ended == 6 }
    })
    .await;
    assert_eq!(daemon.stop(PATIENCE), Some(0), "{}", daemon.logs());
    let mut backfilled: Vec<Value> = setup
        .history("tick")
        .into_iter()
        .filter(|run| run["trigger"] == "backfill")
        .collect();
    backfilled.reverse();
    let instants: Vec<DateTime<Utc>> = (0..6).map(|m| from + TimeDelta::minutes(m)).collect();
    let scheduled: Vec<DateTime<Utc>> = backfilled
        .iter()
        .map(|run| at(&run["scheduled_for"]))
        .collect();
    let mut sorted = scheduled.clone();
    sorted.sort();
    assert_eq!(sorted, instants, "one run per instant");
    for run in &backfilled {
        assert_eq!(run["status"], "succeeded", "{run:#?}");
    }
    let mut spans: Vec<(DateTime<Utc>, DateTime<Utc>)> = backfilled
        .iter()
        .map(|run| (at(&run["started_at"]), at(&run["finished_at"])))
        .collect();
    spans.sort();
    for pair in spans.windows(2) {
        assert!(
            pair[0].1 <= pair[1].0,
            "backfilled runs overlapped: {pair:?}"
        );
    }
}

async fn backfill_beside_a_daemon_and_twice_at_once_doubles_nothing(backend: Backend) {
    let setup = Setup::new(backend);
    setup.scratch.write("crontab.yaml", JOBS);
    let now = minute_floor(Utc::now());
    // The first backfill moves the job's last fire, so the daemon catches up every
    // instant after it (catch_up: all); the second backfill spans both.
    let early = setup.backfill(
        now - TimeDelta::minutes(8),
        now - TimeDelta::minutes(5),
        &[],
    );
    assert_eq!(count(&early, "queued"), 4, "{early:#?}");
    let mut daemon = setup.daemon_with_four_workers();
    eventually("the daemon to catch up", PATIENCE, || {
        let caught = setup
            .history("tick")
            .iter()
            .filter(|r| r["trigger"] == "catch_up" || r["trigger"] == "schedule")
            .count();
        async move { caught >= 4 }
    })
    .await;

    // Two backfills of the same range at once, beside the daemon.
    let (from, to) = (
        (now - TimeDelta::minutes(12)).to_rfc3339(),
        (now - TimeDelta::minutes(1)).to_rfc3339(),
    );
    let spawn = || {
        let mut command = setup.scratch.std_cronq();
        command
            .args(setup.store_args())
            .args(["backfill", "tick", "--from", &from, "--to", &to, "--json"])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap()
    };
    let (a, b) = (spawn(), spawn());
    let mut queued = 0;
    for child in [a, b] {
        let output = child.wait_with_output().unwrap();
        assert_eq!(output.status.code(), Some(0), "{:?}", texts(&output));
        let document: Value = serde_json::from_slice(&output.stdout).unwrap();
        let instants = document["instants"].as_array().unwrap();
        assert_eq!(instants.len(), 12);
        queued += count(instants, "queued");
    }
    assert_eq!(
        queued, 4,
        "only minutes 12 to 9 had no run, each queued once"
    );
    assert_eq!(daemon.stop(PATIENCE), Some(0), "{}", daemon.logs());

    let mut per_instant = std::collections::BTreeMap::new();
    for run in setup.history("tick") {
        let Value::String(_) = &run["scheduled_for"] else {
            continue;
        };
        *per_instant.entry(at(&run["scheduled_for"])).or_insert(0) += 1;
    }
    let doubled: Vec<_> = per_instant.iter().filter(|(_, n)| **n > 1).collect();
    assert!(doubled.is_empty(), "instants with two runs: {doubled:?}");
    for minute in 1..=12 {
        let instant = now - TimeDelta::minutes(minute);
        assert!(per_instant.contains_key(&instant), "no run at {instant}");
    }
}

fn at(value: &Value) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(value.as_str().unwrap())
        .unwrap()
        .to_utc()
}
