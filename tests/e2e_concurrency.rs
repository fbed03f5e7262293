//! One overlap policy for every run, driven through the built binary on both stores:
//! `cronq run` of a `replace` job stops the running run and reports the new one's
//! result; of a `forbid` job that is running or queued it is refused with exit 1 and
//! nothing queued (even when several are started at once), unless `--force`; and the
//! daemon's log says `skipped` for exactly the instants the history records skipped.

mod common;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use common::both_stores::{Backend, Setup};
use common::daemon::eventually;
use common::texts;
use serde_json::Value;

const PATIENCE: Duration = Duration::from_secs(20);

const JOBS: &str = r#"jobs:
  swap:
    command: "sleep ${NAP:-30}; echo done-$NAP; exit 4"
    concurrency: replace
    allow_env: [NAP]
  slow:
    command: "sleep 30"
    concurrency: forbid
  solo:
    command: "sleep 2"
  many:
    command: "sleep 30"
    concurrency: allow
"#;

impl Setup {
    fn json(&self, args: &[&str]) -> Value {
        let output = self.cronq(args);
        assert_eq!(
            output.status.code(),
            Some(0),
            "{args:?}: {:?}",
            texts(&output)
        );
        serde_json::from_slice(&output.stdout).unwrap()
    }

    fn show(&self, id: &str) -> Value {
        self.json(&["show", id, "--json"])
    }

    fn history(&self, job: &str) -> Vec<Value> {
        self.json(&["history", "--job", job, "--json"])["runs"]
            .as_array()
            .unwrap()
            .clone()
    }

    /// `cronq run ARGS` that queues: the id it printed.
    fn run(&self, args: &[&str]) -> String {
        let mut all = vec!["run"];
        all.extend(args);
        let output = self.cronq(&all);
        assert_eq!(
            output.status.code(),
            Some(0),
            "{all:?}: {:?}",
            texts(&output)
        );
        texts(&output).0.trim().to_string()
    }

    async fn until_status(&self, id: &str, status: &str) -> Value {
        let mut seen = Value::Null;
        eventually(&format!("run {id} {status}"), PATIENCE, || {
            seen = self.show(id);
            let found = seen["status"] == status;
            async move { found }
        })
        .await;
        seen
    }
}

crate::both_stores! {
    run_of_a_replace_job_stops_the_running_run_and_reports_the_new_one,
    run_of_a_running_forbid_job_is_refused_unless_forced,
    forbid_runs_started_at_once_queue_exactly_one,
    allow_runs_overlap_as_before,
    the_daemon_logs_skipped_for_the_instants_the_history_records_skipped,
}

async fn run_of_a_replace_job_stops_the_running_run_and_reports_the_new_one(backend: Backend) {
    let setup = Setup::new(backend);
    setup.scratch.write("crontab.yaml", JOBS);
    let mut daemon = setup.daemon_with_four_workers();
    let first = setup.run(&["swap"]);
    setup.until_status(&first, "running").await;

    let asked = Instant::now();
    let mut command = setup.scratch.std_cronq();
    command
        .args(setup.store_args())
        .args(["run", "swap", "--env", "NAP=1", "--wait"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let child = command.spawn().unwrap();
    setup.until_status(&first, "cancelled").await;
    let cancelled = asked.elapsed();
    eprintln!("replace: the old run ended {cancelled:?} after `cronq run` started");
    let output = child.wait_with_output().unwrap();
    let took = asked.elapsed();
    let (stdout, stderr) = texts(&output);
    assert_eq!(
        output.status.code(),
        Some(4),
        "the new run's exit code: {stderr}"
    );
    assert_eq!(
        stdout, "done-1\n",
        "the new run's output, not the old one's"
    );
    assert!(
        stderr.contains(&format!("asked run {first} to stop (concurrency: replace)")),
        "{stderr}"
    );
    // The process starting and the cancel (under a second; 35-250 ms here when the
    // machine is not loaded) before the new run's second of sleep: far less than the
    // old run's 30 s, with room for a machine busy with other tests.
    assert!(
        cancelled < Duration::from_secs(10),
        "the old run took {cancelled:?} to end"
    );
    assert!(
        took < Duration::from_secs(15),
        "the new run waited behind the old one: {took:?}"
    );
    let runs = setup.history("swap");
    assert_eq!(runs.len(), 2, "{runs:?}");
    let new = &runs[0];
    assert_eq!(
        (new["status"].as_str(), new["exit_code"].as_i64()),
        (Some("failed"), Some(4))
    );
    let old = setup.show(&first);
    assert!(
        instant(&old["finished_at"]) <= instant(&new["started_at"]),
        "the new run started before the old one ended: {old} {new}"
    );
    daemon.stop(PATIENCE);
}

async fn run_of_a_running_forbid_job_is_refused_unless_forced(backend: Backend) {
    let setup = Setup::new(backend);
    setup.scratch.write("crontab.yaml", JOBS);
    let mut daemon = setup.daemon_with_four_workers();
    let first = setup.run(&["slow"]);
    setup.until_status(&first, "running").await;

    for wait in [false, true] {
        let args: &[&str] = if wait {
            &["run", "slow", "--wait"]
        } else {
            &["run", "slow"]
        };
        let output = setup.cronq(args);
        let (stdout, stderr) = texts(&output);
        assert_eq!(output.status.code(), Some(1), "{args:?}: {stderr}");
        assert_eq!(
            stderr,
            format!("skipped: job `slow` is running (run {first})\n")
        );
        assert_eq!(stdout, "", "no id: nothing was queued");
    }
    let runs = setup.history("slow");
    assert_eq!(runs.len(), 1, "a refused run is not queued: {runs:?}");
    assert_eq!(
        setup.json(&["status", "--json"])["queued"],
        Value::Array(vec![])
    );

    let forced = setup.run(&["slow", "--force"]);
    let shown = setup.until_status(&forced, "running").await;
    assert_eq!(shown["forced"], true, "{shown}");
    assert_eq!(
        setup.show(&first)["status"],
        "running",
        "the forced run runs alongside"
    );
    assert!(setup.show(&first).get("forced").is_none());
    let text = texts(&setup.cronq(&["show", &forced])).0;
    assert!(
        text.contains("forced:") && text.contains("--force"),
        "`show` says it was forced:\n{text}"
    );
    let again = setup.cronq(&["run", "slow"]);
    assert_eq!(again.status.code(), Some(1), "{:?}", texts(&again));
    assert!(
        texts(&again)
            .1
            .starts_with("skipped: job `slow` is running (run "),
        "{:?}",
        texts(&again)
    );
    daemon.stop(PATIENCE);
}

/// The default policy is `forbid`: `solo` has none written.
async fn forbid_runs_started_at_once_queue_exactly_one(backend: Backend) {
    let setup = Setup::new(backend);
    setup.scratch.write("crontab.yaml", JOBS);
    let mut daemon = setup.daemon_with_four_workers();
    // Each `cronq run` is a process of its own, all let go at once.
    let children: Vec<std::process::Child> = (0..6)
        .map(|_| {
            let mut command = setup.scratch.std_cronq();
            command
                .args(setup.store_args())
                .args(["run", "solo"])
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped());
            command.spawn().unwrap()
        })
        .collect();
    let outputs: Vec<std::process::Output> = children
        .into_iter()
        .map(|child| child.wait_with_output().unwrap())
        .collect();
    let queued: Vec<String> = outputs
        .iter()
        .filter(|o| o.status.code() == Some(0))
        .map(|o| texts(o).0.trim().to_string())
        .collect();
    assert_eq!(queued.len(), 1, "{outputs:?}");
    let winner = &queued[0];
    let mut refusals = BTreeMap::new();
    for output in outputs.iter().filter(|o| o.status.code() != Some(0)) {
        assert_eq!(output.status.code(), Some(1), "{:?}", texts(output));
        *refusals.entry(texts(output).1).or_insert(0) += 1;
    }
    for message in refusals.keys() {
        let queued = format!("skipped: job `solo` is queued (run {winner})\n");
        let running = format!("skipped: job `solo` is running (run {winner})\n");
        assert!(*message == queued || *message == running, "{message:?}");
    }
    let ended = setup.until_status(winner, "succeeded").await;
    assert_eq!(ended["id"], winner.as_str());
    let runs = setup.history("solo");
    assert_eq!(runs.len(), 1, "exactly one run: {runs:?}");
    daemon.stop(PATIENCE);
}

async fn allow_runs_overlap_as_before(backend: Backend) {
    let setup = Setup::new(backend);
    setup.scratch.write("crontab.yaml", JOBS);
    let mut daemon = setup.daemon_with_four_workers();
    let first = setup.run(&["many"]);
    setup.until_status(&first, "running").await;
    let second = setup.run(&["many"]);
    setup.until_status(&second, "running").await;
    assert_eq!(setup.show(&first)["status"], "running");
    daemon.stop(PATIENCE);
}

async fn the_daemon_logs_skipped_for_the_instants_the_history_records_skipped(backend: Backend) {
    let setup = Setup::new(backend);
    setup.scratch.write(
        "crontab.yaml",
        "jobs:\n  tick:\n    schedule: \"* * * * * *\"\n    command: \"sleep 3\"\n    concurrency: forbid\n",
    );
    let mut daemon = setup.daemon_with_four_workers();
    eventually("a run of tick and skipped fires after it", PATIENCE, || {
        let runs = setup.history("tick");
        let done = runs.iter().any(|r| r["status"] == "succeeded")
            && runs.iter().filter(|r| r["status"] == "skipped").count() >= 4;
        async move { done }
    })
    .await;
    daemon.stop(PATIENCE);
    let logs = daemon.logs();
    let mut logged: BTreeMap<String, (&str, String)> = BTreeMap::new();
    for line in logs.lines().filter(|l| l.contains("job=tick")) {
        let word = if line.contains(" fired ") || line.contains(": fired") {
            "fired"
        } else if line.contains(": skipped") {
            "skipped"
        } else {
            continue;
        };
        let run = field(line, "run").unwrap_or_else(|| panic!("no run= in {line}"));
        assert!(
            logged
                .insert(run.clone(), (word, line.to_string()))
                .is_none(),
            "run {run} logged twice:\n{logs}"
        );
    }
    let runs = setup.history("tick");
    let (mut fired, mut skipped) = (0, 0);
    for run in &runs {
        let id = run["id"].as_str().unwrap();
        let Some((word, line)) = logged.remove(id) else {
            panic!(
                "run {id} ({}) is not in the daemon's log:\n{logs}",
                run["status"]
            );
        };
        if run["status"] == "skipped" {
            skipped += 1;
            assert_eq!(word, "skipped", "{run}\n{line}");
            let reason = run["reason"].as_str().unwrap();
            assert!(
                reason.starts_with("skipped: job `tick` is running (run "),
                "{reason}"
            );
            for name in ["instant", "trigger", "lateness_ms", "reason"] {
                assert!(field(&line, name).is_some(), "no {name}= in {line}");
            }
        } else {
            fired += 1;
            assert_eq!(word, "fired", "{run}\n{line}");
        }
    }
    assert!(
        logged.is_empty(),
        "logged runs the history lacks: {logged:?}"
    );
    assert!(
        fired >= 1 && skipped >= 4,
        "fired {fired}, skipped {skipped}"
    );
}

/// `name=value` in a log line: the value up to the next space, or the quoted text.
fn field(line: &str, name: &str) -> Option<String> {
    let start = line.find(&format!(" {name}="))? + name.len() + 2;
    let rest = &line[start..];
    let value = match rest.strip_prefix('"') {
        Some(quoted) => &quoted[..quoted.find('"')?],
        None => rest.split(' ').next()?,
    };
    Some(value.to_string())
}

fn instant(value: &Value) -> chrono::DateTime<chrono::FixedOffset> {
    chrono::DateTime::parse_from_rfc3339(value.as_str().unwrap()).unwrap()
}
