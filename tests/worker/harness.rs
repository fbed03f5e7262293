//! What the worker tests share: a store in a temp dir with a worker running on it, the
//! runs they enqueue, and waits that poll with a deadline.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use cronq::schedule::Schedule;
use cronq::settings::Containment;
use cronq::store::sqlite::SqliteStore;
use cronq::store::{DEFAULT_OUTPUT_TAIL_BYTES, NewRun, Run, Store, StoreError, Trigger};
use cronq::worker::{self, WorkerConfig};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

pub const PATIENCE: Duration = Duration::from_secs(5);
pub const POLL_EVERY: Duration = Duration::from_millis(20);
pub const WORKER_ID: &str = "test-host:1:default";

/// A store in a temp dir and a worker running on it until [`Worker::stop`].
pub struct Worker {
    pub dir: tempfile::TempDir,
    pub store: Arc<dyn Store>,
    stop: CancellationToken,
    task: Option<JoinHandle<Result<(), StoreError>>>,
}

/// The schedule, with `{dir}` replaced by the test's temp dir.
pub fn schedule(yaml: &str, dir: &Path) -> Schedule {
    let yaml = yaml.replace("{dir}", &dir.display().to_string());
    cronq::schedule::load(&yaml, "test.yaml", chrono_tz::Tz::UTC)
        .unwrap_or_else(|errors| panic!("the test schedule is valid: {errors:?}"))
}

/// The worker of the queue `default`, with a 900 ms lease and its state dir in `dir`.
pub fn config(concurrency: usize, stop_grace: Duration, dir: &Path) -> WorkerConfig {
    WorkerConfig {
        id: WORKER_ID.into(),
        host: "test-host".into(),
        queues: vec!["default".into()],
        concurrency,
        lease: Duration::from_millis(900),
        stop_grace,
        cronq_bin: env!("CARGO_BIN_EXE_cronq").into(),
        state_dir: dir.join("state"),
        containment: Containment::Auto,
    }
}

impl Worker {
    /// A worker of the queue `default` with `concurrency` slots and `stop_grace`.
    pub fn start(yaml: &str, concurrency: usize, stop_grace: Duration) -> Worker {
        Worker::start_contained(yaml, concurrency, stop_grace, Containment::Auto)
    }

    /// [`Worker::start`] with the runs contained as `containment` says.
    pub fn start_contained(
        yaml: &str,
        concurrency: usize,
        stop_grace: Duration,
        containment: Containment,
    ) -> Worker {
        Worker::start_with(yaml, |dir| WorkerConfig {
            containment,
            ..config(concurrency, stop_grace, dir)
        })
    }

    /// A worker with the configuration `config` makes for the test's temp dir.
    pub fn start_with(yaml: &str, config: impl FnOnce(&Path) -> WorkerConfig) -> Worker {
        let _ = tracing_subscriber::fmt()
            .with_test_writer()
            .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
            .try_init();
        let dir = tempfile::tempdir().expect("a temp dir");
        let store: Arc<dyn Store> = Arc::new(
            SqliteStore::open(&dir.path().join("cronq.db"), DEFAULT_OUTPUT_TAIL_BYTES)
                .expect("the store opens"),
        );
        let (_, schedule) = watch::channel(Arc::new(schedule(yaml, dir.path())));
        let config = config(dir.path());
        let stop = CancellationToken::new();
        let task = tokio::spawn(worker::run(store.clone(), schedule, config, stop.clone()));
        Worker {
            dir,
            store,
            stop,
            task: Some(task),
        }
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// The file of `job`'s host lock in the worker's state dir.
    pub fn lock_file(&self, job: &str) -> PathBuf {
        self.dir
            .path()
            .join("state")
            .join("locks")
            .join(format!("{job}.lock"))
    }

    pub async fn enqueue(&self, job: &str, args: &[&str], env: &[(&str, &str)]) -> Run {
        let run = NewRun {
            args: args.iter().map(|a| a.to_string()).collect(),
            env: env
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            ..new_run(job)
        };
        self.store.enqueue(run).await.expect("enqueue")
    }

    /// Enqueues with the job's attempts: 1 + its `retries`.
    pub async fn enqueue_attempts(&self, job: &str, max_attempts: u32) -> Run {
        let run = NewRun {
            max_attempts,
            ..new_run(job)
        };
        self.store.enqueue(run).await.expect("enqueue")
    }

    /// The run once `done` holds for it.
    pub async fn wait_for(&self, id: &str, what: &str, done: impl Fn(&Run) -> bool) -> Run {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let run = self.store.run(id).await.expect("the run exists");
            if done(&run) {
                return run;
            }
            assert!(Instant::now() < deadline, "run never {what}: {run:#?}");
            tokio::time::sleep(POLL_EVERY).await;
        }
    }

    pub async fn finished(&self, id: &str) -> Run {
        self.wait_for(id, "finished", |run| run.status.is_finished())
            .await
    }

    pub async fn output(&self, id: &str) -> String {
        let output = self.store.output(id, 0).await.expect("the output");
        String::from_utf8(output.bytes()).expect("utf-8 output")
    }

    /// Waits until the run has written some output.
    pub async fn wait_output(&self, id: &str) {
        let deadline = Instant::now() + PATIENCE;
        while self.output(id).await.is_empty() {
            assert!(Instant::now() < deadline, "the run never wrote anything");
            tokio::time::sleep(POLL_EVERY).await;
        }
    }

    /// Waits until the worker's registry entry lists `count` runs.
    pub async fn wait_registered_runs(&self, count: usize) {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let workers = self.store.workers().await.unwrap();
            if workers
                .iter()
                .any(|w| w.id == WORKER_ID && w.runs.len() == count)
            {
                return;
            }
            assert!(Instant::now() < deadline, "never {count} runs: {workers:?}");
            tokio::time::sleep(POLL_EVERY).await;
        }
    }

    /// Gives the run a new lease token behind the worker's back, as if it had been
    /// reaped and reserved again elsewhere. SQLite's own schema: the Store trait has no
    /// way to take a lease away.
    pub fn steal_lease(&self, id: &str) {
        let db = rusqlite::Connection::open(self.path("cronq.db")).unwrap();
        db.busy_timeout(Duration::from_secs(5)).unwrap();
        let sql = "UPDATE runs SET lease_token = 'another' WHERE id = ?1";
        assert_eq!(db.execute(sql, [id]).unwrap(), 1);
    }

    /// Ends the worker's task without a drain, as near as a test can come to a
    /// `kill -9` of the worker: its runs' tasks are dropped, nothing more is recorded,
    /// and their children are left running.
    pub async fn abort(&mut self) {
        let task = self.task.take().expect("stopped once");
        task.abort();
        let ended = task.await;
        assert!(
            ended.as_ref().is_err_and(|error| error.is_cancelled()),
            "{ended:?}"
        );
    }

    /// Stops the worker and waits for its drain to end.
    pub async fn stop(&mut self) {
        self.stop.cancel();
        let task = self.task.take().expect("stopped once");
        tokio::time::timeout(Duration::from_secs(20), task)
            .await
            .expect("the worker stops")
            .expect("the worker does not panic")
            .expect("the worker stops cleanly");
    }
}

/// A manual run of `job`, one attempt.
pub fn new_run(job: &str) -> NewRun {
    NewRun {
        job: job.into(),
        queue: "default".into(),
        trigger: Trigger::Manual,
        scheduled_for: None,
        max_attempts: 1,
        args: vec![],
        env: BTreeMap::new(),
        not_before: None,
        lock: None,
        by: None,
        forced: false,
        rerun_of: None,
    }
}

/// Waits for `condition` with a deadline.
pub async fn eventually(what: &str, condition: impl Fn() -> bool) {
    let deadline = Instant::now() + PATIENCE;
    while !condition() {
        assert!(Instant::now() < deadline, "never happened: {what}");
        tokio::time::sleep(POLL_EVERY).await;
    }
}

/// The process `pid` exists (a zombie counts: it must have been reaped).
pub fn process_exists(pid: i32) -> bool {
    Path::new(&format!("/proc/{pid}/stat")).exists()
}

/// Whether another holder could take the flock of `path` at once. flock(2) locks belong
/// to an open file description, so a description of this process's own, opened here,
/// contends as another process would. (Not `flock -n` in a child: the in-process worker
/// reaps every child of the test process as a subreaper, and may take its status first.)
pub fn flock_is_free(path: &Path) -> bool {
    let file = std::fs::File::open(path).expect("the lock file exists");
    match file.try_lock() {
        Ok(()) => true,
        Err(std::fs::TryLockError::WouldBlock) => false,
        Err(std::fs::TryLockError::Error(error)) => panic!("flock {}: {error}", path.display()),
    }
}

/// Whether this process has a descriptor open on `path`.
pub fn this_process_has_open(path: &Path) -> bool {
    let path = path.canonicalize().expect("the file exists");
    std::fs::read_dir("/proc/self/fd")
        .expect("/proc/self/fd")
        .filter_map(|entry| std::fs::read_link(entry.ok()?.path()).ok())
        .any(|target| target == path)
}

pub fn read_pid(path: &Path) -> i32 {
    std::fs::read_to_string(path)
        .expect("the pid file")
        .trim()
        .parse()
        .expect("a pid")
}
