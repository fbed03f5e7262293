//! `cronq status` on the built binary, against both stores: a running job's progress
//! and time left, a queued run's estimate, the workers, the next fires, and the watchdog
//! behind `--check`. Both stores share the snapshot, since they must print the same.

mod common;

use std::time::Duration;

use common::both_stores::{Backend, Setup};
use common::daemon::{Process, eventually};
use common::{redact_table, texts};

const PATIENCE: Duration = Duration::from_secs(20);

impl Setup {
    /// `cronq STORE ARGS` left running, e.g. `daemon` or `worker`, once it has made the
    /// store: until then `status` says there is none (exit 3), as it should.
    fn start(&self, name: &str, args: &[&str]) -> Process {
        let store_args = self.store_args();
        let mut all: Vec<&str> = store_args.iter().map(String::as_str).collect();
        all.extend(args);
        let process = Process::start(self.scratch.path(), name, &all);
        let deadline = std::time::Instant::now() + PATIENCE;
        while self.cronq(&["status", "--json"]).status.code() == Some(3) {
            assert!(std::time::Instant::now() < deadline, "{name} made no store");
            std::thread::sleep(Duration::from_millis(20));
        }
        process
    }

    fn status_json(&self) -> serde_json::Value {
        let output = self.cronq(&["status", "--json"]);
        assert_eq!(output.status.code(), Some(0), "{}", texts(&output).1);
        serde_json::from_slice(&output.stdout).unwrap()
    }
}

crate::both_stores! {
    a_running_job_shows_its_progress_and_time_left,
    queued_runs_show_when_they_should_start_and_end,
    check_exits_1_when_no_daemon_fires_the_schedule,
    check_is_quiet_and_0_while_the_daemon_fires,
    a_job_whose_last_runs_failed_is_failing,
    the_human_output_has_every_section,
    listings_end_quietly_on_a_closed_pipe,
    a_schedule_file_the_daemons_do_not_run_is_a_problem,
}

async fn a_running_job_shows_its_progress_and_time_left(backend: Backend) {
    let setup = Setup::new(backend);
    let cronq = env!("CARGO_BIN_EXE_cronq");
    setup.scratch.write(
        "crontab.yaml",
        &format!(
            "jobs:\n  copy:\n    schedule: \"@reboot\"\n    command: \"{cronq} progress 40 copying && sleep 4\"\n  later:\n    schedule: \"0 0 1 1 *\"\n    command: [\"true\"]\n"
        ),
    );
    let mut daemon = setup.start("daemon", &["daemon"]);
    let mut seen = serde_json::Value::Null;
    eventually("progress in status", PATIENCE, || {
        seen = setup.status_json();
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
    // The daemon's own worker for the queue: 4 runs at once unless the settings say.
    assert_eq!(worker["concurrency"], 4);
    assert_eq!(worker["run"], run["id"]);
    assert_eq!(seen["next"][0]["job"], "later");
    assert_eq!(seen["problems"], serde_json::json!([]));
    daemon.stop(PATIENCE);
}

async fn queued_runs_show_when_they_should_start_and_end(backend: Backend) {
    let setup = Setup::new(backend);
    // Run by hand only; it sleeps as long as it is told. `allow`: several runs may be
    // queued at once, and the worker's one slot runs them in turn.
    setup.scratch.write(
        "crontab.yaml",
        "jobs:\n  nap:\n    command: [\"sleep\"]\n    allow_args: true\n    concurrency: allow\n",
    );
    // Stopped at the end: the long run gets a second, then is killed with it.
    let mut worker = setup.start(
        "worker",
        &["--stop-grace", "1s", "worker", "--concurrency", "1"],
    );
    // A history: three short successful runs, one after the other.
    for _ in 0..3 {
        let output = setup.cronq(&["run", "nap", "--wait", "--", "0.3"]);
        assert_eq!(output.status.code(), Some(0), "{:?}", texts(&output));
    }
    // A long run, then three more queued behind it.
    for seconds in ["30", "0.3", "0.3", "0.3"] {
        let output = setup.cronq(&["run", "nap", "--", seconds]);
        assert_eq!(output.status.code(), Some(0), "{:?}", texts(&output));
    }
    let mut seen = serde_json::Value::Null;
    eventually("the long run running, three queued", PATIENCE, || {
        seen = setup.status_json();
        let found = seen["running"].as_array().is_some_and(|r| r.len() == 1)
            && seen["queued"].as_array().is_some_and(|q| q.len() == 3);
        async move { found }
    })
    .await;
    assert_eq!(seen["workers"][0]["concurrency"], 1);
    let queued = seen["queued"].as_array().unwrap();
    let (starts, ends): (Vec<f64>, Vec<f64>) = queued
        .iter()
        .map(|run| {
            assert_eq!(run["eta_unknown"], serde_json::Value::Null, "{run}");
            let starts_in = run["starts_in_s"].as_f64().expect("a start estimate");
            let eta = run["eta_s"].as_f64().expect("an end estimate");
            (starts_in, eta)
        })
        .unzip();
    assert!(
        starts[0] < starts[1] && starts[1] < starts[2],
        "each run waits for the ones ahead of it: {starts:?}"
    );
    // One slot: each run starts when the one ahead of it is done, and takes the job's
    // typical time (about 0.3 s, more on a busy machine).
    for i in 0..2 {
        assert!(
            (starts[i + 1] - ends[i]).abs() < 0.01,
            "{starts:?} {ends:?}"
        );
    }
    assert!(ends[2] > starts[2], "{starts:?} {ends:?}");
    worker.stop(PATIENCE);
}

async fn check_exits_1_when_no_daemon_fires_the_schedule(backend: Backend) {
    let setup = Setup::new(backend);
    setup.scratch.write("crontab.yaml", "jobs:\n  tick:\n    schedule: \"* * * * *\"\n    command: [\"true\"]\n  manual:\n    command: [\"true\"]\n");
    // A store that exists (status never makes one), in which nothing fires `tick`.
    let output = setup.cronq(&["run", "manual"]);
    assert_eq!(output.status.code(), Some(0), "{:?}", texts(&output));
    let output = setup.cronq(&["status", "--check"]);
    let (stdout, _) = texts(&output);
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(stdout, "stalled: no daemon is running to fire job `tick`\n");
}

async fn check_is_quiet_and_0_while_the_daemon_fires(backend: Backend) {
    let setup = Setup::new(backend);
    setup.scratch.write(
        "crontab.yaml",
        "jobs:\n  tick:\n    schedule: \"* * * * * *\"\n    command: [\"true\"]\n",
    );
    let mut daemon = setup.start("daemon", &["daemon"]);
    // Quiet once the daemon runs: it registers and fires every second.
    eventually("a quiet check", PATIENCE * 2, || async {
        let output = setup.cronq(&["status", "--check"]);
        output.status.code() == Some(0) && output.stdout.is_empty()
    })
    .await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let output = setup.cronq(&["status", "--check"]);
    assert_eq!(output.status.code(), Some(0), "{:?}", texts(&output));
    assert_eq!(texts(&output).0, "");
    daemon.stop(PATIENCE);
}

async fn a_job_whose_last_runs_failed_is_failing(backend: Backend) {
    let setup = Setup::new(backend);
    setup.scratch.write(
        "crontab.yaml",
        "jobs:\n  broken:\n    schedule: \"* * * * * *\"\n    command: [\"false\"]\n",
    );
    let mut daemon = setup.start("daemon", &["daemon"]);
    eventually("three failures", PATIENCE, || async {
        let json = setup.status_json();
        json["problems"]
            .as_array()
            .is_some_and(|p| p.iter().any(|p| p["kind"] == "failing"))
    })
    .await;
    daemon.stop(PATIENCE);
    let output = setup.cronq(&["status", "--check"]);
    assert!(
        texts(&output)
            .0
            .contains("failing: the last 3 runs of job `broken` failed"),
        "{:?}",
        texts(&output)
    );
}

async fn the_human_output_has_every_section(backend: Backend) {
    let setup = Setup::new(backend);
    setup.scratch.write(
        "crontab.yaml",
        "jobs:\n  yearly:\n    schedule: \"0 0 1 1 *\"\n    command: [\"true\"]\n",
    );
    // A run by hand, queued with no worker to take it.
    let output = setup.cronq(&["run", "yearly"]);
    assert_eq!(output.status.code(), Some(0), "{:?}", texts(&output));
    let output = setup.cronq(&["status"]);
    let (stdout, stderr) = texts(&output);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    // First the store it read, then each section, a table of its own.
    let (store_line, stdout) = stdout.split_once("\n\n").unwrap();
    assert_eq!(store_line, format!("store: {}", setup.store_shown()));
    let redacted: Vec<String> = stdout.split("\n\n").map(redact_table).collect();
    insta::assert_snapshot!("the_human_output_has_every_section", redacted.join("\n"));
}

async fn listings_end_quietly_on_a_closed_pipe(backend: Backend) {
    let setup = Setup::new(backend);
    setup.scratch.write(
        "crontab.yaml",
        "jobs:\n  yearly:\n    schedule: \"0 0 1 1 *\"\n    command: [\"true\"]\n",
    );
    let output = setup.cronq(&["run", "yearly"]);
    assert_eq!(output.status.code(), Some(0), "{:?}", texts(&output));
    let id = String::from_utf8_lossy(&output.stdout).trim().to_string();
    for args in [
        vec!["status"],
        vec!["status", "--json"],
        vec!["history"],
        vec!["show", id.as_str()],
    ] {
        let mut command = setup.scratch.std_cronq();
        command.args(setup.store_args()).args(&args);
        let (code, stderr) = common::with_closed_stdout(command);
        // `cronq status | head -3`: head has its lines, cronq has nothing to say.
        assert_eq!(code, Some(0), "cronq {args:?}: {stderr}");
        assert!(!stderr.contains("panicked"), "cronq {args:?}: {stderr}");
        assert_eq!(stderr, "", "cronq {args:?}");
    }
}

/// The hash cronq gives a schedule file: what a daemon registers for the file it runs.
fn hash_of(text: &str) -> String {
    cronq::schedule::load(text, "x.yaml", chrono_tz::UTC)
        .expect("a valid schedule")
        .hash
}

async fn a_schedule_file_the_daemons_do_not_run_is_a_problem(backend: Backend) {
    let setup = Setup::new(backend);
    let a = "jobs:\n  tick:\n    schedule: \"* * * * * *\"\n    command: [\"true\"]\n";
    let b = format!("{a}  extra:\n    command: [\"true\"]\n");
    setup.scratch.write("a.yaml", a);
    setup.scratch.write("b.yaml", &b);
    let (hash_a, hash_b) = (hash_of(a), hash_of(&b));
    let mut daemon = setup.start("daemon", &["--schedule", "a.yaml", "daemon"]);
    // The daemon's own file: no problem once it registers and fires.
    eventually("a quiet check of a.yaml", PATIENCE * 2, || async {
        let output = setup.cronq(&["--schedule", "a.yaml", "status", "--check"]);
        output.status.code() == Some(0) && output.stdout.is_empty()
    })
    .await;
    let output = setup.cronq(&["--schedule", "a.yaml", "status"]);
    let (stdout, _) = texts(&output);
    assert!(
        stdout.starts_with("store: "),
        "no note for the same file:\n{stdout}"
    );

    let output = setup.cronq(&["--schedule", "b.yaml", "status", "--check"]);
    let (stdout, stderr) = texts(&output);
    assert_eq!(output.status.code(), Some(1), "{stdout}{stderr}");
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 2, "{stdout}");
    let pid = daemon.pid();
    assert_eq!(
        lines[0],
        format!(
            "mixed schedules: b.yaml here is {hash_b}; live daemons run {hash_a} on {} ({pid})",
            common::host()
        )
    );
    assert_eq!(
        lines[1],
        format!(
            "unknown to daemon: job `extra` is in b.yaml but not in the schedule the live daemons run (hash {hash_a})"
        )
    );
    let output = setup.cronq(&["--schedule", "b.yaml", "status", "--json"]);
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let kinds: Vec<(&str, &serde_json::Value)> = json["problems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p["kind"].as_str().unwrap(), &p["job"]))
        .collect();
    assert_eq!(
        kinds,
        [
            ("mixed_schedules", &serde_json::Value::Null),
            ("unknown_to_daemon", &serde_json::json!("extra"))
        ]
    );
    let output = setup.cronq(&["--schedule", "b.yaml", "status"]);
    let first = texts(&output)
        .0
        .lines()
        .next()
        .unwrap_or_default()
        .to_string();
    assert_eq!(
        first,
        format!(
            "b.yaml here (hash {hash_b}) differs from the schedule published by the daemons (hash {hash_a}); showing b.yaml"
        )
    );
    // No crontab.yaml in this directory: the published schedule, said so.
    let output = setup.cronq(&["status"]);
    let (stdout, stderr) = texts(&output);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    assert_eq!(
        stdout.lines().next(),
        Some(
            format!(
                "no crontab.yaml here; showing the schedule published by the daemons (hash {hash_a})"
            )
            .as_str()
        ),
        "{stdout}"
    );
    let output = setup.cronq(&["status", "--check"]);
    assert_eq!(output.status.code(), Some(0), "{:?}", texts(&output));
    daemon.stop(PATIENCE);
}
