//! What every conformance test starts from: a fresh, empty store of one backend, a way to
//! open more handles on it (other processes, other connections), and the small builders
//! and waits the tests share.

use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, TimeDelta, Utc};
use cronq::store::redis::RedisStore;
use cronq::store::sqlite::SqliteStore;
use cronq::store::{
    DEFAULT_OUTPUT_TAIL_BYTES, Finished, Lease, NewRun, Outcome, Run, RunStatus, Store, WorkerRef,
};

use crate::common::redis_server::RedisServer;

/// How long a condition may take before a test gives up on it.
pub const PATIENCE: Duration = Duration::from_secs(5);
const POLL_EVERY: Duration = Duration::from_millis(20);

/// A lease long enough that it never expires during a test.
pub const LONG: Duration = Duration::from_secs(30);
/// A lease or TTL that a test waits out.
pub const SHORT: Duration = Duration::from_millis(200);

/// One fresh store, empty and seen by no other test.
pub struct Env {
    pub store: Arc<dyn Store>,
    backend: Backend,
}

enum Backend {
    Sqlite {
        dir: Arc<tempfile::TempDir>,
        path: PathBuf,
        tail: usize,
    },
    Redis {
        server: Arc<RedisServer>,
        prefix: String,
        tail: usize,
    },
}

impl Env {
    /// A new SQLite file in a temp dir.
    pub async fn sqlite() -> Env {
        let dir = Arc::new(tempfile::tempdir().expect("a temp dir"));
        Env::sqlite_in(dir, "cronq.db", DEFAULT_OUTPUT_TAIL_BYTES)
    }

    fn sqlite_in(dir: Arc<tempfile::TempDir>, name: &str, tail: usize) -> Env {
        let path = dir.path().join(name);
        let backend = Backend::Sqlite { dir, path, tail };
        let store = backend.open_sqlite();
        Env { store, backend }
    }

    /// A new key prefix on the redis-server this test binary shares.
    pub async fn redis() -> Env {
        let server = RedisServer::shared();
        let prefix = server.unique_prefix();
        Env::redis_on(server, prefix, DEFAULT_OUTPUT_TAIL_BYTES).await
    }

    async fn redis_on(server: Arc<RedisServer>, prefix: String, tail: usize) -> Env {
        let backend = Backend::Redis {
            server,
            prefix,
            tail,
        };
        let store = backend.open().await;
        Env { store, backend }
    }

    /// Another handle on the same store, as another process would open it: for SQLite a
    /// new connection to the same file, for Redis new connections to the same keys.
    pub async fn handle(&self) -> Arc<dyn Store> {
        self.backend.open().await
    }

    /// A separate, empty store of the same backend that keeps `tail` bytes of output.
    pub async fn fresh_with_tail(&self, tail: usize) -> Env {
        match &self.backend {
            Backend::Sqlite { dir, .. } => {
                Env::sqlite_in(Arc::clone(dir), &format!("tail-{tail}.db"), tail)
            }
            Backend::Redis { server, .. } => {
                let prefix = server.unique_prefix();
                Env::redis_on(Arc::clone(server), prefix, tail).await
            }
        }
    }
}

impl Backend {
    async fn open(&self) -> Arc<dyn Store> {
        match self {
            Backend::Sqlite { .. } => self.open_sqlite(),
            Backend::Redis {
                server,
                prefix,
                tail,
            } => Arc::new(
                RedisStore::connect(&server.url(), prefix, *tail)
                    .await
                    .unwrap_or_else(|error| panic!("connect to {}: {error}", server.url())),
            ),
        }
    }

    fn open_sqlite(&self) -> Arc<dyn Store> {
        let Backend::Sqlite { path, tail, .. } = self else {
            unreachable!("open_sqlite is only called on a SQLite backend");
        };
        Arc::new(
            SqliteStore::open(path, *tail)
                .unwrap_or_else(|error| panic!("open {}: {error}", path.display())),
        )
    }
}

/// A manual run of `job` on `queue`: one attempt, no arguments, no lock.
pub fn new_run(job: &str, queue: &str) -> NewRun {
    NewRun::manual(job, queue)
}

pub fn queues(names: &[&str]) -> Vec<String> {
    names.iter().map(|name| name.to_string()).collect()
}

pub fn worker(id: &str) -> WorkerRef {
    WorkerRef {
        id: id.to_string(),
        host: format!("{id}.example"),
    }
}

/// Reserves without waiting, with a lease that outlasts the test.
pub async fn reserve_now(store: &dyn Store, from: &[&str]) -> Option<(Run, Lease)> {
    store
        .reserve(&queues(from), &worker("w1"), LONG, Duration::ZERO)
        .await
        .expect("reserve")
}

/// Reserves the next run of `queue`, which must have one ready.
pub async fn take(store: &dyn Store, queue: &str) -> (Run, Lease) {
    reserve_now(store, &[queue])
        .await
        .unwrap_or_else(|| panic!("queue {queue} should have a ready run"))
}

/// Reserves the next run of `queue` with a lease of `lease_for`.
pub async fn take_for(store: &dyn Store, queue: &str, lease_for: Duration) -> (Run, Lease) {
    store
        .reserve(&queues(&[queue]), &worker("w1"), lease_for, Duration::ZERO)
        .await
        .expect("reserve")
        .unwrap_or_else(|| panic!("queue {queue} should have a ready run"))
}

pub fn outcome(status: RunStatus, exit_code: Option<i32>) -> Outcome {
    Outcome {
        status,
        exit_code,
        signal: None,
        reason: None,
    }
}

/// Finishes a held run with `status` (exit 0 for a success, 1 otherwise), retrying at once.
pub async fn finish_as(store: &dyn Store, lease: &Lease, status: RunStatus) -> Finished {
    let code = if status == RunStatus::Succeeded { 0 } else { 1 };
    store
        .finish(lease, outcome(status, Some(code)), Duration::ZERO)
        .await
        .expect("finish")
}

/// Enqueues a run of `job` on queue `q` and ends it with `status`: the history a test needs.
pub async fn finished_run(store: &dyn Store, job: &str, status: RunStatus) -> Run {
    store.enqueue(new_run(job, "q")).await.expect("enqueue");
    let (_, lease) = take(store, "q").await;
    finish_as(store, &lease, status).await.run
}

/// Now, cut to the millisecond the store keeps.
pub fn now_ms() -> DateTime<Utc> {
    DateTime::from_timestamp_millis(Utc::now().timestamp_millis()).expect("now is in range")
}

/// Asserts `lo <= t <= hi` give or take the store's millisecond rounding.
#[track_caller]
pub fn assert_within(what: &str, t: DateTime<Utc>, lo: DateTime<Utc>, hi: DateTime<Utc>) {
    let slack = TimeDelta::milliseconds(1);
    assert!(
        lo - slack <= t && t <= hi + slack,
        "{what} is {t}, expected between {lo} and {hi}"
    );
}

/// Asserts two lists of durations in seconds are equal to the millisecond.
#[track_caller]
pub fn assert_durations(actual: &[f64], expected: &[f64]) {
    let close = actual.len() == expected.len()
        && actual
            .iter()
            .zip(expected)
            .all(|(a, e)| (a - e).abs() < 0.0015);
    assert!(close, "durations {actual:?}, expected {expected:?}");
}

/// Sleeps past the millisecond, so that the next record gets a later instant than the last.
pub async fn next_instant() {
    tokio::time::sleep(Duration::from_millis(3)).await;
}

/// Waits until `check` holds, polling every 20 ms for up to [`PATIENCE`].
pub async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = Instant::now() + PATIENCE;
    while !check().await {
        assert!(Instant::now() < deadline, "{what}: not within {PATIENCE:?}");
        tokio::time::sleep(POLL_EVERY).await;
    }
}

/// Calls `attempt` every 20 ms, for up to [`PATIENCE`], until it gives something.
pub async fn eventually_some<T, F, Fut>(what: &str, mut attempt: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = Instant::now() + PATIENCE;
    loop {
        if let Some(found) = attempt().await {
            return found;
        }
        assert!(Instant::now() < deadline, "{what}: not within {PATIENCE:?}");
        tokio::time::sleep(POLL_EVERY).await;
    }
}

/// Reaps every 20 ms, for up to [`PATIENCE`], until run `id` is among the runs made lost;
/// returns all the runs reaped meanwhile.
pub async fn reap_until(store: &dyn Store, id: &str) -> Vec<Run> {
    let deadline = Instant::now() + PATIENCE;
    let mut reaped = Vec::new();
    loop {
        reaped.extend(store.reap().await.expect("reap"));
        if reaped.iter().any(|run| run.id == id) {
            return reaped;
        }
        assert!(
            Instant::now() < deadline,
            "run {id} was not reaped within {PATIENCE:?}"
        );
        tokio::time::sleep(POLL_EVERY).await;
    }
}

/// Waits until the wall clock has passed `instant`, as a lease or TTL expiry is judged.
pub async fn wait_past(instant: DateTime<Utc>) {
    let left = (instant - Utc::now()).to_std().unwrap_or_default();
    tokio::time::sleep(left + Duration::from_millis(20)).await;
}

/// The ids of some runs, in order.
pub fn ids(runs: &[Run]) -> Vec<String> {
    runs.iter().map(|run| run.id.clone()).collect()
}
