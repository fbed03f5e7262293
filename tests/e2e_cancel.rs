//! Cancel as a user meets it, on the built binary and both stores, with the default
//! 30 s lease (a worker renews it every 10 s, so a cancel that waited for the renewal
//! would take up to 10 s): `cronq cancel` returns once the run has ended, within about
//! a second plus the job's `kill_grace`, and says how it ended; a `concurrency:
//! replace` job's running run is gone within `kill_grace` + 1 s of the next fire. And,
//! with a worker played through the library, what `cancel` says when a run ends some
//! other way first or outlives the wait.

mod common;

use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::TimeDelta;
use common::both_stores::{Backend, Setup};
use common::daemon::{Process, eventually};
use common::texts;
use cronq::store::redis::RedisStore;
use cronq::store::sqlite::SqliteStore;
use cronq::store::{HistoryFilter, Lease, NewRun, Outcome, Run, RunStatus, Store, WorkerRef};

const PATIENCE: Duration = Duration::from_secs(15);

/// `obeys` ends on SIGTERM at once; `stubborn` ignores it (so does its `sleep`, which
/// inherits the ignored signal) and is killed after its 1 s grace.
const JOBS: &str = "\
jobs:
  obeys:
    command: \"echo started; exec sleep 60\"
    concurrency: allow
  stubborn:
    command: \"trap '' TERM; echo started; sleep 60\"
    kill_grace: 1s
    concurrency: allow
";

/// Fires every 3 s; each fire replaces the run before it, which ignores SIGTERM and so
/// is killed after its 1 s grace.
const REPLACE: &str = "\
jobs:
  replaced:
    schedule: \"@every 3s\"
    command: \"trap '' TERM; echo started; sleep 60\"
    kill_grace: 1s
    concurrency: replace
";

impl Setup {
    /// The same store as the commands, through the library.
    async fn store(&self) -> Arc<dyn Store> {
        match &self.redis {
            None => {
                let path = self.dir().join("state/cronq/cronq.db");
                Arc::new(SqliteStore::open(&path, 1 << 20).expect("the default store"))
            }
            Some((server, prefix)) => Arc::new(
                RedisStore::connect(&server.url(), prefix, 1 << 20)
                    .await
                    .expect("the test's Redis store"),
            ),
        }
    }

    /// `cronq daemon` on `schedule` with the default lease; running jobs get 1 s when it
    /// stops at the end of the test.
    fn daemon(&self, schedule: &str) -> Daemon {
        self.scratch.write("crontab.yaml", schedule);
        let mut args = self.store_args();
        args.extend(["--stop-grace".into(), "1s".into(), "daemon".into()]);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        Daemon(Process::start(self.dir(), "daemon", &args))
    }

    /// `cronq run JOB`, waited for until its job has written its first line; the run id.
    async fn started(&self, store: &dyn Store, job: &str) -> String {
        let output = self.cronq(&["run", job]);
        let (stdout, stderr) = texts(&output);
        assert!(output.status.success(), "{stderr}");
        let id = stdout.trim().to_string();
        eventually(&format!("{job} to start"), PATIENCE, || async {
            let output = store.output(&id, 0).await.expect("the output");
            output.bytes().starts_with(b"started")
        })
        .await;
        id
    }
}

/// A daemon stopped at the end of the test, so that no job outlives it.
struct Daemon(Process);

impl Drop for Daemon {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            self.0.stop(PATIENCE);
        }
    }
}

crate::both_stores! {
    cancel_returns_once_the_run_has_ended_and_says_how,
    cancel_waits_out_the_kill_grace_of_a_job_that_ignores_sigterm,
    a_replaced_run_is_gone_within_its_kill_grace_and_a_second,
}

async fn cancel_returns_once_the_run_has_ended_and_says_how(backend: Backend) {
    let setup = Setup::new(backend);
    let _daemon = setup.daemon(JOBS);
    let store = setup.store().await;
    let id = setup.started(&*store, "obeys").await;

    let asked = Instant::now();
    let output = setup.cronq(&["cancel", &id]);
    let took = asked.elapsed();
    let (stdout, stderr) = texts(&output);
    assert_eq!(output.status.code(), Some(0), "{stdout}{stderr}");
    let said = stdout.trim();
    assert!(
        said.starts_with(&format!("run {id} cancelled after ")) && said.ends_with("(signal 15)"),
        "{said}"
    );
    // The run has ended when cancel returns, not some time after.
    let run = store.run(&id).await.unwrap();
    assert_eq!((run.status, run.signal), (RunStatus::Cancelled, Some(15)));
    assert!(took < Duration::from_secs(3), "cancel took {took:?}");

    // --no-wait returns as soon as the cancel is asked, with the run still running.
    let id = setup.started(&*store, "obeys").await;
    let output = setup.cronq(&["cancel", "--no-wait", &id]);
    assert!(output.status.success(), "{}", texts(&output).1);
    assert_eq!(
        texts(&output).0,
        format!("asked the worker to stop run {id}\n")
    );
    eventually("the run to end cancelled", PATIENCE, || async {
        store.run(&id).await.unwrap().status == RunStatus::Cancelled
    })
    .await;
}

async fn cancel_waits_out_the_kill_grace_of_a_job_that_ignores_sigterm(backend: Backend) {
    let setup = Setup::new(backend);
    let _daemon = setup.daemon(JOBS);
    let store = setup.store().await;
    let id = setup.started(&*store, "stubborn").await;

    let asked = Instant::now();
    let output = setup.cronq(&["cancel", &id]);
    let took = asked.elapsed();
    let (stdout, stderr) = texts(&output);
    assert_eq!(output.status.code(), Some(0), "{stdout}{stderr}");
    assert!(stdout.trim().ends_with("(signal 9)"), "{stdout}");
    let run = store.run(&id).await.unwrap();
    assert_eq!((run.status, run.signal), (RunStatus::Cancelled, Some(9)));
    // Its 1 s grace, then the kill: cancel waited for both.
    assert!(
        took >= Duration::from_secs(1) && took < Duration::from_secs(4),
        "cancel took {took:?}"
    );
}

async fn a_replaced_run_is_gone_within_its_kill_grace_and_a_second(backend: Backend) {
    let setup = Setup::new(backend);
    let _daemon = setup.daemon(REPLACE);
    let store = setup.store().await;
    let runs = || async {
        let filter = HistoryFilter {
            job: Some("replaced".into()),
            ..HistoryFilter::default()
        };
        let mut runs = store.history(&filter).await.expect("history");
        runs.reverse();
        runs
    };
    eventually("a second fire", PATIENCE, || async {
        let runs = runs().await;
        runs.len() >= 2 && runs[0].status.is_finished()
    })
    .await;
    let runs: Vec<Run> = runs().await;
    let (replaced, next) = (&runs[0], &runs[1]);
    assert_eq!(replaced.status, RunStatus::Cancelled, "{replaced:#?}");
    assert_eq!(
        replaced.signal,
        Some(9),
        "killed after its grace: {replaced:#?}"
    );
    // The daemon asks the run to stop as it fires the next one.
    let gone_after = replaced.finished_at.unwrap() - next.queued_at;
    assert!(
        gone_after < TimeDelta::seconds(2),
        "the replaced run was gone {gone_after} after the next fire (kill_grace 1s)"
    );
    eventually("the next run to start", PATIENCE, || async {
        store.run(&next.id).await.unwrap().status == RunStatus::Running
    })
    .await;
}

/// Plays a worker through the library, so the test decides how the run ends.
async fn reserve(store: &dyn Store) -> (Run, Lease) {
    let worker = WorkerRef {
        id: "test-worker".into(),
        host: "test".into(),
    };
    let queues = ["default".to_string()];
    store
        .reserve(&queues, &worker, PATIENCE, Duration::ZERO)
        .await
        .unwrap()
        .expect("a run to reserve")
}

/// A run that ends another way before its worker acts on the cancel is reported as
/// such, with exit 1; one still running when the wait is over (its job's 1 s grace +
/// 5 s) too, saying so.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_says_when_the_cancel_did_not_end_the_run() {
    let setup = Setup::new(Backend::Sqlite);
    setup.scratch.write("crontab.yaml", JOBS);
    let store = setup.store().await;

    store
        .enqueue(NewRun::manual("stubborn", "default"))
        .await
        .unwrap();
    let (run, lease) = reserve(&*store).await;
    let cancel = std::process::Command::new(env!("CARGO_BIN_EXE_cronq"))
        .args(["cancel", &run.id])
        .current_dir(setup.dir())
        .env_remove("CRONQ_STORE")
        .env("XDG_STATE_HOME", setup.dir().join("state"))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("cronq starts");
    eventually("the cancel to be asked", PATIENCE, || async {
        store.run(&run.id).await.unwrap().cancel_requested
    })
    .await;
    let succeeded = Outcome {
        status: RunStatus::Succeeded,
        exit_code: Some(0),
        signal: None,
        reason: None,
    };
    store
        .finish(&lease, succeeded, Duration::ZERO)
        .await
        .unwrap();
    let output = cancel.wait_with_output().unwrap();
    let (stdout, stderr) = texts(&output);
    assert_eq!(output.status.code(), Some(1), "{stdout}{stderr}");
    assert_eq!(
        stderr,
        format!(
            "cronq: run {} ended succeeded before the cancel took effect\n",
            run.id
        )
    );

    store
        .enqueue(NewRun::manual("stubborn", "default"))
        .await
        .unwrap();
    let (run, _lease) = reserve(&*store).await;
    let asked = Instant::now();
    let output = setup.cronq(&["cancel", &run.id]);
    let took = asked.elapsed();
    let (stdout, stderr) = texts(&output);
    assert_eq!(output.status.code(), Some(1), "{stdout}{stderr}");
    assert!(
        stderr.contains(&format!("run {} is still running", run.id)),
        "{stderr}"
    );
    assert!(
        took >= Duration::from_secs(6) && took < Duration::from_secs(9),
        "waited {took:?} for a job with a 1 s grace"
    );
}
