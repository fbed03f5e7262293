//! `cronq daemon` and `cronq worker` driven as a user would, with the store read back
//! through the library to see what ran: fires on time and once, catch-up, reload,
//! graceful stop, overlap, and a worker killed with -9.

mod common;

use std::collections::BTreeSet;
use std::path::Path;
use std::time::Duration;

use chrono::{DateTime, Utc};
use common::Scratch;
use common::daemon::{Process, eventually};
use common::redis_server::RedisServer;
use cronq::store::redis::RedisStore;
use cronq::store::sqlite::SqliteStore;
use cronq::store::{HistoryFilter, Run, RunStatus, Store, Trigger};
use nix::sys::signal::Signal;

const PATIENCE: Duration = Duration::from_secs(10);

/// The embedded store the daemon in `dir` uses by default.
fn sqlite(dir: &Path) -> SqliteStore {
    SqliteStore::open(&dir.join("state/cronq/cronq.db"), 1 << 20).expect("the daemon's store")
}

async fn history(store: &dyn Store, job: &str) -> Vec<Run> {
    let filter = HistoryFilter {
        job: Some(job.into()),
        ..HistoryFilter::default()
    };
    let mut runs = store.history(&filter).await.expect("history");
    runs.reverse();
    runs
}

/// Whole seconds of the scheduled instants of `runs` that came from the schedule.
fn fired_seconds(runs: &[Run]) -> Vec<i64> {
    runs.iter()
        .filter(|run| run.trigger == Trigger::Schedule)
        .filter_map(|run| run.scheduled_for.map(|at| at.timestamp()))
        .collect()
}

fn assert_each_second_once(seconds: &[i64]) {
    let distinct: BTreeSet<i64> = seconds.iter().copied().collect();
    assert_eq!(
        distinct.len(),
        seconds.len(),
        "an instant fired twice: {seconds:?}"
    );
    let (first, last) = (distinct.first().unwrap(), distinct.last().unwrap());
    assert_eq!(
        (last - first + 1) as usize,
        distinct.len(),
        "an instant was skipped: {seconds:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_six_field_job_fires_every_second_once_and_on_time() {
    let scratch = Scratch::new();
    scratch.write(
        "crontab.yaml",
        "jobs:\n  tick:\n    schedule: \"* * * * * *\"\n    command: [\"true\"]\n",
    );
    let mut daemon = Process::start(scratch.path(), "daemon", &["daemon"]);
    let store = sqlite(scratch.path());
    eventually("five fires", PATIENCE, || async {
        history(&store, "tick").await.len() >= 5
    })
    .await;
    assert_eq!(daemon.stop(PATIENCE), Some(0), "{}", daemon.logs());

    let runs = history(&store, "tick").await;
    assert_each_second_once(&fired_seconds(&runs));
    for run in &runs {
        let lateness = run.queued_at - run.scheduled_for.unwrap();
        assert!(
            lateness.num_milliseconds() < 500,
            "fired {lateness} late: {run:?}"
        );
    }
    let succeeded = runs
        .iter()
        .filter(|run| run.status == RunStatus::Succeeded)
        .count();
    assert!(succeeded >= 4, "the built-in workers ran them: {runs:#?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn two_daemons_on_one_redis_fire_each_instant_once() {
    let server = RedisServer::shared();
    let prefix = server.unique_prefix();
    let scratch = Scratch::new();
    scratch.write(
        "crontab.yaml",
        "jobs:\n  tick:\n    schedule: \"* * * * * *\"\n    command: [\"true\"]\n",
    );
    let url = server.url();
    let args = ["daemon", "--store", &url, "--redis-prefix", &prefix];
    let mut first = Process::start(scratch.path(), "first", &args);
    let mut second = Process::start(scratch.path(), "second", &args);
    let store = RedisStore::connect(&url, &prefix, 1 << 20).await.unwrap();
    eventually("six fires", PATIENCE, || async {
        history(&store, "tick").await.len() >= 6
    })
    .await;
    first.stop(PATIENCE);
    second.stop(PATIENCE);

    let runs = history(&store, "tick").await;
    assert_each_second_once(&fired_seconds(&runs));
    let logs = first.logs() + &second.logs();
    assert!(logs.matches("fired").count() >= runs.len(), "{logs}");
}

#[tokio::test(flavor = "multi_thread")]
async fn sigterm_lets_a_running_job_finish() {
    let scratch = Scratch::new();
    scratch.write(
        "crontab.yaml",
        "jobs:\n  slow:\n    schedule: \"@reboot\"\n    command: \"sleep 1; echo finished\"\n",
    );
    let mut daemon = Process::start(scratch.path(), "daemon", &["daemon"]);
    let store = sqlite(scratch.path());
    eventually("the job to start", PATIENCE, || async {
        history(&store, "slow")
            .await
            .iter()
            .any(|run| run.status == RunStatus::Running)
    })
    .await;
    assert_eq!(daemon.stop(PATIENCE), Some(0));

    let runs = history(&store, "slow").await;
    assert_eq!(runs.len(), 1, "{runs:#?}");
    assert_eq!(runs[0].status, RunStatus::Succeeded, "{}", daemon.logs());
    let output = store.output(&runs[0].id, 0).await.unwrap();
    assert_eq!(output.bytes(), b"finished\n");
}

#[tokio::test(flavor = "multi_thread")]
async fn catch_up_once_fires_one_missed_run_and_records_the_others() {
    let scratch = Scratch::new();
    scratch.write(
        "crontab.yaml",
        "jobs:\n  tick:\n    schedule: \"* * * * * *\"\n    catch_up: once\n    command: [\"true\"]\n",
    );
    let store = sqlite(scratch.path());
    let mut daemon = Process::start(scratch.path(), "first", &["daemon"]);
    eventually("a fire", PATIENCE, || async {
        !history(&store, "tick").await.is_empty()
    })
    .await;
    daemon.stop(PATIENCE);
    let stopped_at = Utc::now();
    tokio::time::sleep(Duration::from_millis(3200)).await;

    let mut daemon = Process::start(scratch.path(), "second", &["daemon"]);
    eventually("the catch-up run", PATIENCE, || async {
        history(&store, "tick")
            .await
            .iter()
            .any(|run| run.trigger == Trigger::CatchUp)
    })
    .await;
    daemon.stop(PATIENCE);

    let runs = history(&store, "tick").await;
    let missed: Vec<&Run> = runs
        .iter()
        .filter(|run| {
            run.scheduled_for
                .is_some_and(|at| at > stopped_at && at < stopped_at + chrono::Duration::seconds(3))
        })
        .collect();
    let catch_up: Vec<_> = runs
        .iter()
        .filter(|run| run.trigger == Trigger::CatchUp)
        .collect();
    assert_eq!(catch_up.len(), 1, "{runs:#?}");
    let skipped: Vec<_> = missed
        .iter()
        .filter(|run| run.status == RunStatus::Skipped)
        .collect();
    assert!(
        skipped.len() >= 2,
        "the other missed instants are recorded: {runs:#?}"
    );
    assert!(skipped.iter().all(|run| {
        run.reason
            .as_deref()
            .unwrap_or("")
            .starts_with("missed: no daemon was running")
    }));
    let all: Vec<i64> = runs
        .iter()
        .filter_map(|run| run.scheduled_for.map(|at| at.timestamp()))
        .collect();
    assert_each_second_once(&all);
}

#[tokio::test(flavor = "multi_thread")]
async fn sighup_picks_up_a_new_job_and_refuses_a_broken_file() {
    let scratch = Scratch::new();
    let one = "jobs:\n  a:\n    schedule: \"* * * * * *\"\n    command: [\"true\"]\n";
    scratch.write("crontab.yaml", one);
    let daemon = Process::start(scratch.path(), "daemon", &["daemon"]);
    let store = sqlite(scratch.path());
    eventually("job a", PATIENCE, || async {
        !history(&store, "a").await.is_empty()
    })
    .await;

    scratch.write(
        "crontab.yaml",
        &format!("{one}  b:\n    schedule: \"* * * * * *\"\n    command: [\"true\"]\n"),
    );
    daemon.signal(Signal::SIGHUP);
    eventually("job b after SIGHUP", PATIENCE, || async {
        !history(&store, "b").await.is_empty()
    })
    .await;

    scratch.write(
        "crontab.yaml",
        "jobs:\n  a:\n    schedule: \"61 * * * *\"\n    command: [\"true\"]\n",
    );
    daemon.signal(Signal::SIGHUP);
    eventually("the refusal in the log", PATIENCE, || async {
        daemon
            .logs()
            .contains("crontab.yaml:3:15: invalid schedule `61 * * * *`")
    })
    .await;
    let before = history(&store, "b").await.len();
    eventually("job b still firing", PATIENCE, || async {
        history(&store, "b").await.len() >= before + 2
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn forbid_skips_an_overlapping_run_and_records_it() {
    let scratch = Scratch::new();
    scratch.write(
        "crontab.yaml",
        "jobs:\n  slow:\n    schedule: \"* * * * * *\"\n    concurrency: forbid\n    command: \"sleep 2.5\"\n",
    );
    let mut daemon = Process::start(scratch.path(), "daemon", &["daemon"]);
    let store = sqlite(scratch.path());
    eventually("a skipped run", PATIENCE, || async {
        history(&store, "slow")
            .await
            .iter()
            .any(|run| run.status == RunStatus::Skipped)
    })
    .await;
    daemon.stop(PATIENCE);
    let runs = history(&store, "slow").await;
    let skipped = runs
        .iter()
        .find(|run| run.status == RunStatus::Skipped)
        .unwrap();
    assert!(
        skipped
            .reason
            .as_deref()
            .unwrap()
            .starts_with("skipped: job `slow` is running (run "),
        "{skipped:?}"
    );
    // No two runs of the job ever ran at the same time.
    let mut spans: Vec<(DateTime<Utc>, DateTime<Utc>)> = runs
        .iter()
        .filter_map(|run| Some((run.started_at?, run.finished_at.unwrap_or_else(Utc::now))))
        .collect();
    spans.sort();
    for pair in spans.windows(2) {
        assert!(pair[0].1 <= pair[1].0, "overlapping runs: {pair:?}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_worker_killed_mid_run_loses_the_run_and_its_retry_succeeds() {
    let scratch = Scratch::new();
    // The first attempt leaves a marker and hangs; the retry finds it and succeeds.
    scratch.write(
        "crontab.yaml",
        "jobs:\n  flaky:\n    schedule: \"@reboot\"\n    retries: 1\n    command: \"test -f marker && exit 0; touch marker; exec sleep 29.7\"\n",
    );
    let lease = ["--lease", "1s"];
    let mut daemon = Process::start(
        scratch.path(),
        "daemon",
        &[&["daemon", "--no-workers"][..], &lease].concat(),
    );
    let mut worker = Process::start(
        scratch.path(),
        "worker-1",
        &[&["worker"][..], &lease].concat(),
    );
    let store = sqlite(scratch.path());
    // Its marker, not its status: a run is `running` before its shell has begun.
    eventually(
        "the first attempt to leave its marker",
        PATIENCE,
        || async { scratch.path().join("marker").exists() },
    )
    .await;
    worker.kill();
    let _ = std::process::Command::new("pkill")
        .args(["-f", "^sleep 29.7$"])
        .status();

    let mut worker = Process::start(
        scratch.path(),
        "worker-2",
        &[&["worker"][..], &lease].concat(),
    );
    eventually("the retry to succeed", PATIENCE, || async {
        history(&store, "flaky")
            .await
            .iter()
            .any(|run| run.status == RunStatus::Succeeded)
    })
    .await;
    worker.stop(PATIENCE);
    daemon.stop(PATIENCE);

    let runs = history(&store, "flaky").await;
    assert_eq!(runs.len(), 2, "{runs:#?}");
    assert_eq!(runs[0].status, RunStatus::Lost);
    assert_eq!(
        (runs[1].trigger, runs[1].attempt, runs[1].status),
        (Trigger::Retry, 2, RunStatus::Succeeded)
    );
    assert_eq!(runs[1].retry_of.as_deref(), Some(runs[0].id.as_str()));
}

#[tokio::test(flavor = "multi_thread")]
async fn daemons_with_different_schedules_on_one_store_say_so() {
    let server = RedisServer::shared();
    let prefix = server.unique_prefix();
    let url = server.url();
    let scratch = Scratch::new();
    scratch.write("old.yaml", "jobs:\n  a:\n    command: [\"true\"]\n");
    scratch.write(
        "new.yaml",
        "jobs:\n  a:\n    command: [\"true\"]\n  b:\n    command: [\"true\"]\n",
    );
    let store_args = ["--store", &url, "--redis-prefix", &prefix];
    let old = Process::start(
        scratch.path(),
        "old",
        &[&["daemon", "--schedule", "old.yaml"][..], &store_args].concat(),
    );
    let store = RedisStore::connect(&url, &prefix, 1 << 20).await.unwrap();
    eventually("the old schedule published", PATIENCE, || async {
        store
            .published()
            .await
            .unwrap()
            .is_some_and(|s| s.jobs.len() == 1)
    })
    .await;
    let new = Process::start(
        scratch.path(),
        "new",
        &[&["daemon", "--schedule", "new.yaml"][..], &store_args].concat(),
    );
    // The old daemon sees the new one at its next announcement, up to 10 s away.
    eventually("the warning in both logs", PATIENCE * 2, || async {
        [&old, &new]
            .iter()
            .all(|p| p.logs().contains("live daemons run different schedules"))
    })
    .await;
    let published = store.published().await.unwrap().unwrap();
    let names: Vec<&str> = published.jobs.iter().map(|j| j.name.as_str()).collect();
    assert_eq!(names, ["a", "b"], "the newest publication wins");
    assert_eq!(store.daemons().await.unwrap().len(), 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn next_job_reads_the_published_schedule_on_a_host_without_the_file() {
    let scratch = Scratch::new();
    scratch.write(
        "crontab.yaml",
        "jobs:\n  nightly:\n    schedule: \"30 2 * * *\"\n    timezone: America/New_York\n    command: [\"true\"]\n",
    );
    let mut daemon = Process::start(scratch.path(), "daemon", &["daemon"]);
    let store = sqlite(scratch.path());
    eventually("the schedule published", PATIENCE, || async {
        store.published().await.unwrap().is_some()
    })
    .await;
    daemon.stop(PATIENCE);

    // Another directory, no schedule file, the same store.
    let elsewhere = Scratch::new();
    let db = scratch.path().join("state/cronq/cronq.db");
    let output = elsewhere
        .cronq()
        .args([
            "next",
            "--job",
            "nightly",
            "--after",
            "2026-03-07T12:00:00-05:00",
            "-n",
            "2",
            "--store",
        ])
        .arg(&db)
        .output()
        .unwrap();
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&output.stdout),
        "2026-03-08T03:00:00-04:00\n2026-03-09T02:30:00-04:00\n"
    );
    let output = elsewhere
        .cronq()
        .args(["next", "--job", "nigthly", "--store"])
        .arg(&db)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("did you mean `nightly`?"));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_jobs_carriage_return_and_nul_show_escaped_in_the_text_log() {
    let scratch = Scratch::new();
    scratch.write(
        "crontab.yaml",
        "jobs:\n  progress:\n    schedule: \"@reboot\"\n    command: ['printf', '50%%\\r100%%\\000 done\\tok\\n']\n",
    );
    let mut daemon = Process::start(scratch.path(), "daemon", &["daemon"]);
    let store = sqlite(scratch.path());
    eventually("the job to finish", PATIENCE, || async {
        history(&store, "progress")
            .await
            .iter()
            .any(|run| run.status.is_finished())
    })
    .await;
    assert_eq!(daemon.stop(PATIENCE), Some(0));

    let logs = daemon.logs();
    let line = logs
        .lines()
        .find(|line| line.contains("done"))
        .unwrap_or_else(|| panic!("no log line of the job's output:\n{logs}"));
    assert!(line.contains(": 50%\\r100%\\0 done\tok run="), "{line:?}");
    assert!(line.contains("job=progress"), "{line:?}");
    let raw: Vec<char> = logs
        .chars()
        .filter(|c| c.is_control() && *c != '\n' && *c != '\t')
        .collect();
    assert_eq!(
        raw,
        Vec::<char>::new(),
        "the text log holds raw control characters"
    );
    // The store keeps what the job wrote, byte for byte.
    let runs = history(&store, "progress").await;
    let output = store.output(&runs[0].id, 0).await.unwrap();
    assert_eq!(output.bytes(), b"50%\r100%\0 done\tok\n");
}

/// `cronq daemon 2>&1 | tee log` with `tee` gone: the daemon keeps firing, drops the log
/// lines it cannot write, and on SIGTERM still drains and exits 0 with no run left
/// `running`.
#[test]
fn a_daemon_whose_log_reader_went_away_keeps_firing_and_stops_cleanly() {
    let scratch = Scratch::new();
    scratch.write(
        "crontab.yaml",
        "jobs:\n  tick:\n    schedule: \"@every 1s\"\n    command: [\"true\"]\n",
    );
    let mut daemon = scratch
        .std_cronq()
        .arg("daemon")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("the daemon starts");
    drop(daemon.stderr.take());
    let succeeded = || {
        let output = scratch
            .cronq()
            .args(["history", "--json"])
            .output()
            .unwrap();
        let doc: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap_or_default();
        doc["runs"].as_array().map_or(0, |runs| {
            runs.iter().filter(|r| r["status"] == "succeeded").count()
        })
    };
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while succeeded() < 3 {
        assert!(
            std::time::Instant::now() < deadline,
            "the daemon stopped firing once its log reader went away: {:?}",
            daemon.try_wait()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let pid = nix::unistd::Pid::from_raw(daemon.id() as i32);
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).unwrap();
    let status = daemon.wait().unwrap();
    assert_eq!(status.code(), Some(0), "the daemon did not stop cleanly");
    let output = scratch
        .cronq()
        .args(["history", "--json"])
        .output()
        .unwrap();
    let doc: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let running = doc["runs"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["status"] == "running")
        .count();
    assert_eq!(running, 0, "a run was left running");
}
