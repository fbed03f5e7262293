//! The embedded store: one SQLite file in WAL mode that the daemon, the workers and the
//! CLI of one host share.
//!
//! Each write is one `BEGIN IMMEDIATE` transaction, so it takes the write lock up front
//! and never deadlocks on a lock upgrade; `busy_timeout` makes a second process wait its
//! turn, off the runtime thread (`calls.rs`). A reserve that finds nothing waits without
//! polling: it wakes at once for an enqueue of its own process, for a commit of any
//! process on the host (`commits.rs`), and when the earliest delayed run of its queues is
//! due. A worker's cancel requests are found the same way, by one short poll per
//! worker (`cancel_requests.rs`).

mod calls;
mod cancel_requests;
mod commits;
mod file_mode;
mod fire;
mod group_commit;
mod health;
mod last_runs;
mod notices;
mod output;
mod pages;
mod pauses;
mod queries;
mod read_only;
mod reject;
mod rows;
mod schema;
mod transitions;

use std::collections::HashMap;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicI32;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension, Transaction, params};
use tokio::sync::Notify;

use cancel_requests::CancelRequests;
use rows::{duration_ms, from_ms, insert_run, load_run, ms};
use transitions::{busy, check_lease, end_run, finish_held, next_due, take_lock, try_reserve};

use super::{
    Cancelled, Chunk, DaemonInfo, Finished, HistoryFilter, KeyClaim, LastRuns, Lease, NewRun,
    Outcome, Output, Pause, PauseScope, Paused, PublishedJson, PublishedSchedule, QueuedRun,
    Result, Retention, Run, RunId, RunStatus, Store, StoreError, WorkerInfo, WorkerRef, check,
};

/// The longest a waiting reserve sleeps before it looks again, where commits cannot be
/// watched.
const POLL: Duration = Duration::from_millis(50);

/// Whether this process's last connection to a file checkpoints the WAL into it and
/// deletes the WAL and the shared memory as it closes (SQLite's default).
static CHECKPOINT_ON_CLOSE: std::sync::atomic::AtomicBool =
    std::sync::atomic::AtomicBool::new(true);

/// For a process that opens the store for one command: its connections leave the WAL
/// as it is when they close. Else each such command, when no daemon holds the file
/// open, checkpoints, truncates and deletes the WAL: four fsyncs. The WAL is
/// checkpointed by the writes once it is long (`calls.rs`), and by the next daemon,
/// worker or server to close the file. As with `synchronous = NORMAL` while a daemon
/// runs, an OS crash or power loss may lose the last commits, never the file.
pub fn leave_wal_on_close() {
    CHECKPOINT_ON_CLOSE.store(false, std::sync::atomic::Ordering::Relaxed);
}

/// The embedded SQLite store.
#[derive(Clone)]
pub struct SqliteStore {
    inner: Arc<Inner>,
}

struct Inner {
    path: PathBuf,
    conn: Mutex<Connection>,
    /// One call at a time: the connection serves one anyway, and waiting here, without
    /// holding a thread, rather than on the mutex keeps threads from piling up. Writes
    /// only try it, and queue (`queued`) when it is taken.
    turn: tokio::sync::Semaphore,
    output_tail_bytes: usize,
    /// Wakes this process's waiting reserves when it enqueues.
    enqueued: Notify,
    /// Wakes them when any process commits.
    commits: commits::Commits,
    /// The pages in the WAL after the last commit (`calls.rs` checkpoints it).
    wal_pages: Arc<AtomicI32>,
    /// Writes waiting for the connection, made together by whoever holds it.
    queued: Mutex<Vec<group_commit::Job>>,
    /// Raised each time the connection is let go.
    released: Notify,
    /// The cancels requested through this handle, and what each worker was told.
    cancels: CancelRequests,
}

impl SqliteStore {
    /// Opens the file, creating it (mode 0600, its directory 0700) and its schema if
    /// needed; an existing file, WAL or shared memory with a looser mode is made 0600.
    /// Output beyond `output_tail_bytes` per run is dropped from the front.
    pub fn open(path: &Path, output_tail_bytes: usize) -> Result<SqliteStore> {
        let unreachable = |reason: String| StoreError::Unreachable {
            url: format!("sqlite:{}", path.display()),
            reason,
        };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(dir)
                .map_err(|e| unreachable(format!("cannot create {}: {e}", dir.display())))?;
        }
        if path.is_dir() {
            return Err(a_directory(path));
        }
        // Created here, not by SQLite, so that it never exists with a looser mode.
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .mode(0o600)
            .open(path)
            .map_err(|e| unreachable(e.to_string()))?;
        file_mode::tighten(path);
        let mut conn = Connection::open(path).map_err(|e| unreachable(e.to_string()))?;
        // Two processes that open a new file at once race to set it up, and SQLite
        // answers "database is locked" to the loser at once in some of those steps,
        // without waiting out the busy timeout: the loser tries again.
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        let found = loop {
            match configure(&mut conn) {
                Ok(version) => break version,
                Err(error) if is_busy(&error) && std::time::Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(20));
                }
                Err(error) => return Err(unreachable(error.to_string())),
            }
        };
        schema::refuse_newer(found)?;
        SqliteStore::of(path, conn, output_tail_bytes)
    }

    /// The store on an open and configured connection.
    fn of(path: &Path, mut conn: Connection, output_tail_bytes: usize) -> Result<SqliteStore> {
        // Room for every statement a daemon with its workers prepares, so that none of
        // the hot ones is prepared again after an eviction.
        conn.set_prepared_statement_cache_capacity(64);
        let wal_pages = calls::watch_wal(&mut conn).map_err(|e| StoreError::Unreachable {
            url: format!("sqlite:{}", path.display()),
            reason: e.to_string(),
        })?;
        Ok(SqliteStore {
            inner: Arc::new(Inner {
                path: path.to_path_buf(),
                conn: Mutex::new(conn),
                turn: tokio::sync::Semaphore::new(1),
                output_tail_bytes,
                enqueued: Notify::new(),
                commits: commits::Commits::default(),
                wal_pages,
                queued: Mutex::new(Vec::new()),
                released: Notify::new(),
                cancels: CancelRequests::default(),
            }),
        })
    }
}

#[async_trait]
impl Store for SqliteStore {
    async fn enqueue(&self, run: NewRun) -> Result<Run> {
        check::payload(&run)?;
        let run = self
            .write(move |tx, _| insert_run(tx, &run, RunStatus::Queued, 1, None, None))
            .await?;
        self.inner.enqueued.notify_waiters();
        Ok(run)
    }

    async fn enqueue_if_idle(&self, run: NewRun) -> Result<Run> {
        check::payload(&run)?;
        let run = self
            .write(move |tx, _| match busy(tx, &run, true)? {
                Some(busy) => Err(busy),
                None => insert_run(tx, &run, RunStatus::Queued, 1, None, None),
            })
            .await?;
        self.inner.enqueued.notify_waiters();
        Ok(run)
    }

    async fn fire(
        &self,
        run: NewRun,
        instant: DateTime<Utc>,
        skip: Option<String>,
    ) -> Result<Option<Run>> {
        self.claim_fire(run, instant, None, skip).await
    }

    async fn fire_again(
        &self,
        run: NewRun,
        instant: DateTime<Utc>,
        pass: DateTime<Utc>,
        skip: Option<String>,
    ) -> Result<Option<Run>> {
        self.claim_fire(run, instant, Some(pass), skip).await
    }

    async fn last_fired(&self, job: &str) -> Result<Option<DateTime<Utc>>> {
        self.read_last_fired(job).await
    }

    async fn last_fires(&self) -> Result<HashMap<String, DateTime<Utc>>> {
        self.read_last_fires().await
    }

    async fn claims(&self, job: &str, instants: &[DateTime<Utc>]) -> Result<Vec<Option<RunId>>> {
        self.read_claims(job, instants).await
    }

    fn claims_kept(&self, keep_max_age: Duration) -> Duration {
        // Pruned with the job's runs (`prune_job`).
        keep_max_age
    }

    async fn reserve(
        &self,
        queues: &[String],
        worker: &WorkerRef,
        lease_for: Duration,
        wait: Duration,
    ) -> Result<Option<(Run, Lease)>> {
        check::queues(queues)?;
        let deadline = tokio::time::Instant::now() + wait;
        let commits = match wait.is_zero() {
            true => None,
            false => self.inner.commits.watch(&self.inner.path),
        };
        loop {
            // Registered before the attempt, so an enqueue or a commit during it is not
            // missed.
            let enqueued = self.inner.enqueued.notified();
            let committed = commits.as_deref().map(Notify::notified);
            let (queues, worker) = (queues.to_vec(), worker.clone());
            let (taken, due) = self
                .write(
                    move |tx, _| match try_reserve(tx, &queues, &worker, lease_for)? {
                        Some(taken) => Ok((Some(taken), None)),
                        None => Ok((None, next_due(tx, &queues)?)),
                    },
                )
                .await?;
            let now = tokio::time::Instant::now();
            if taken.is_some() || now >= deadline {
                return Ok(taken);
            }
            let mut nap = deadline - now;
            if let Some(due) = due {
                let due_in = (due - Utc::now()).to_std().unwrap_or_default();
                nap = nap.min(due_in.max(Duration::from_millis(1)));
            }
            if committed.is_none() {
                nap = nap.min(POLL);
            }
            let committed = async {
                match committed {
                    Some(committed) => committed.await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                () = enqueued => {}
                () = committed => {}
                () = tokio::time::sleep(nap) => {}
            }
            // Spent: the caller's next reserve looks at once, so this one need not.
            if tokio::time::Instant::now() >= deadline {
                return Ok(None);
            }
        }
    }

    async fn extend(&self, lease: &Lease, lease_for: Duration) -> Result<(Lease, bool)> {
        let lease = lease.clone();
        self.write(move |tx, _| {
            check_lease(tx, &lease)?;
            let until = ms(Utc::now()) + duration_ms(lease_for);
            tx.execute(
                "UPDATE runs SET lease_until = ?2 WHERE id = ?1",
                params![lease.run, until],
            )?;
            tx.execute(
                "UPDATE locks SET expires_at = ?2 WHERE owner = ?1 AND name = \
                 (SELECT lock_name FROM runs WHERE id = ?1)",
                params![lease.run, until],
            )?;
            let cancel: bool = tx.query_row(
                "SELECT cancel_requested FROM runs WHERE id = ?1",
                [&lease.run],
                |row| row.get(0),
            )?;
            let renewed = Lease {
                expires_at: from_ms(until)?,
                ..lease
            };
            Ok((renewed, cancel))
        })
        .await
    }

    async fn finish(
        &self,
        lease: &Lease,
        outcome: Outcome,
        retry_in: Duration,
    ) -> Result<Finished> {
        check::outcome(&outcome)?;
        let lease = lease.clone();
        let finished = self
            .write(move |tx, _| finish_held(tx, &lease, &outcome, retry_in))
            .await?;
        if finished.retry.is_some() {
            self.inner.enqueued.notify_waiters();
        }
        Ok(finished)
    }

    async fn finish_and_reserve(
        &self,
        lease: &Lease,
        outcome: Outcome,
        retry_in: Duration,
        queues: &[String],
        worker: &WorkerRef,
        lease_for: Duration,
    ) -> Result<(Finished, Option<(Run, Lease)>)> {
        check::outcome(&outcome)?;
        check::queues(queues)?;
        let (lease, queues, worker) = (lease.clone(), queues.to_vec(), worker.clone());
        let (finished, next) = self
            .write(move |tx, _| {
                let finished = finish_held(tx, &lease, &outcome, retry_in)?;
                Ok((finished, try_reserve(tx, &queues, &worker, lease_for)?))
            })
            .await?;
        if finished.retry.is_some() {
            self.inner.enqueued.notify_waiters();
        }
        Ok((finished, next))
    }

    async fn cancel(&self, id: &str) -> Result<Cancelled> {
        let id = id.to_string();
        let cancelled = self
            .write(move |tx, _| {
                let run = load_run(tx, &id)?;
                match run.status {
                    RunStatus::Queued => {
                        tx.execute(
                            "UPDATE runs SET status = 'cancelled', finished_at = ?2, \
                         reason = 'cancelled while queued' WHERE id = ?1",
                            params![id, ms(Utc::now())],
                        )?;
                        Ok(Cancelled::Dequeued)
                    }
                    RunStatus::Running => {
                        tx.execute("UPDATE runs SET cancel_requested = 1 WHERE id = ?1", [&id])?;
                        Ok(Cancelled::Requested)
                    }
                    status => Err(StoreError::WrongStatus { id, status }),
                }
            })
            .await?;
        if cancelled == Cancelled::Requested {
            self.inner.cancels.made();
        }
        Ok(cancelled)
    }

    async fn cancel_requests(&self, worker_id: &str, wait: Duration) -> Result<Vec<RunId>> {
        self.wait_for_cancel_requests(worker_id, wait).await
    }

    async fn append_output(&self, lease: &Lease, chunks: &[Chunk]) -> Result<()> {
        let (lease, chunks) = (lease.clone(), chunks.to_vec());
        self.write(move |tx, inner| {
            check_lease(tx, &lease)?;
            output::append(tx, &lease.run, &chunks, inner.output_tail_bytes)
        })
        .await
    }

    async fn set_progress(&self, id: &str, percent: u8, message: Option<&str>) -> Result<()> {
        check::percent(percent)?;
        let (id, message) = (id.to_string(), message.map(str::to_string));
        self.write(move |tx, _| {
            let run = load_run(tx, &id)?;
            if run.status != RunStatus::Running {
                return Err(StoreError::WrongStatus {
                    id,
                    status: run.status,
                });
            }
            tx.execute(
                "UPDATE runs SET progress = ?2, message = ?3 WHERE id = ?1",
                params![id, percent, message],
            )?;
            Ok(())
        })
        .await
    }

    async fn run(&self, id: &str) -> Result<Run> {
        let id = id.to_string();
        self.call(move |conn, _| load_run(conn, &id)).await
    }

    async fn output(&self, id: &str, from: u64) -> Result<Output> {
        let id = id.to_string();
        self.call(move |conn, _| {
            // One read transaction: the total and the chunks from one snapshot.
            let tx = conn.transaction()?;
            load_run(&tx, &id)?;
            let output = output::read(&tx, &id, from)?;
            tx.commit()?;
            Ok(output)
        })
        .await
    }

    async fn history(&self, filter: &HistoryFilter) -> Result<Vec<Run>> {
        self.scan_history(filter).await
    }

    async fn history_page(&self, page: &crate::store::HistoryPage) -> Result<Vec<Run>> {
        self.page_of_history(page).await
    }

    async fn recent_runs(
        &self,
        jobs: &[String],
        count: usize,
    ) -> Result<Vec<Vec<crate::store::RunBrief>>> {
        self.last_runs_of(jobs, count).await
    }

    async fn run_ids_with_prefix(&self, prefix: &str, limit: usize) -> Result<Vec<RunId>> {
        self.ids_with_prefix(prefix, limit).await
    }

    async fn running(&self) -> Result<Vec<Run>> {
        self.list_running().await
    }

    async fn queued(&self) -> Result<Vec<QueuedRun>> {
        self.list_queued().await
    }

    async fn durations(&self, job: &str, count: usize) -> Result<Vec<f64>> {
        self.last_durations(job, count).await
    }

    async fn last_runs(&self, jobs: &[&str]) -> Result<HashMap<String, LastRuns>> {
        self.read_last_runs(jobs).await
    }

    async fn queue_lengths(&self) -> Result<Vec<(String, u64)>> {
        self.count_queued().await
    }

    async fn lock(&self, name: &str, owner: &str, ttl: Duration) -> Result<bool> {
        let (name, owner) = (name.to_string(), owner.to_string());
        self.write(move |tx, _| {
            let expires_at = ms(Utc::now()) + duration_ms(ttl);
            Ok(take_lock(tx, &name, &owner, expires_at)?.is_none())
        })
        .await
    }

    async fn renew_lock(&self, name: &str, owner: &str, ttl: Duration) -> Result<bool> {
        let (name, owner) = (name.to_string(), owner.to_string());
        self.write(move |tx, _| {
            let expires_at = ms(Utc::now()) + duration_ms(ttl);
            let renewed = tx.execute(
                "UPDATE locks SET expires_at = ?3 \
                 WHERE name = ?1 AND owner = ?2 AND expires_at > ?4",
                params![name, owner, expires_at, ms(Utc::now())],
            )?;
            Ok(renewed == 1)
        })
        .await
    }

    async fn unlock(&self, name: &str, owner: &str) -> Result<bool> {
        let (name, owner) = (name.to_string(), owner.to_string());
        self.write(move |tx, _| {
            // An expired lock is no longer held: releasing it is a no-op, like Redis's
            // expired key.
            let released = tx.execute(
                "DELETE FROM locks WHERE name = ?1 AND owner = ?2 AND expires_at > ?3",
                params![name, owner, ms(Utc::now())],
            )?;
            Ok(released == 1)
        })
        .await
    }

    async fn heartbeat(&self, worker: &WorkerInfo, ttl: Duration) -> Result<()> {
        let worker = worker.clone();
        self.write(move |tx, _| {
            let now = ms(Utc::now());
            tx.prepare_cached(
                "INSERT OR REPLACE INTO workers \
                 (id, host, pid, queues, runs, last_seen, expires_at, concurrency) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            )?
            .execute(params![
                worker.id,
                worker.host,
                worker.pid,
                serde_json::to_string(&worker.queues).expect("strings serialize"),
                serde_json::to_string(&worker.runs).expect("strings serialize"),
                now,
                now + duration_ms(ttl),
                worker.concurrency,
            ])?;
            Ok(())
        })
        .await
    }

    async fn workers(&self) -> Result<Vec<WorkerInfo>> {
        self.list_workers().await
    }

    async fn unregister(&self, worker_id: &str) -> Result<()> {
        let id = worker_id.to_string();
        self.write(move |tx, _| {
            tx.execute("DELETE FROM workers WHERE id = ?1", [id])?;
            Ok(())
        })
        .await?;
        self.inner.cancels.forget(worker_id);
        Ok(())
    }

    async fn daemon_heartbeat(&self, daemon: &DaemonInfo, ttl: Duration) -> Result<()> {
        let daemon = daemon.clone();
        self.write(move |tx, _| {
            let now = ms(Utc::now());
            tx.execute("DELETE FROM daemons WHERE expires_at <= ?1", [now])?;
            tx.prepare_cached(
                "INSERT OR REPLACE INTO daemons (id, host, pid, schedule_hash, last_seen, expires_at) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )?
            .execute(params![
                daemon.id,
                daemon.host,
                daemon.pid,
                daemon.schedule_hash,
                now,
                now + duration_ms(ttl)
            ])?;
            Ok(())
        })
        .await
    }

    async fn daemons(&self) -> Result<Vec<DaemonInfo>> {
        self.list_daemons().await
    }

    async fn publish(&self, schedule: PublishedJson) -> Result<()> {
        let json = schedule.into_string();
        // Off the runtime thread: 100,000 jobs make megabytes of JSON to write.
        self.write_off_thread(move |tx, _| {
            tx.execute(
                "INSERT OR REPLACE INTO published (name, value) VALUES ('schedule', ?1)",
                [json],
            )?;
            Ok(())
        })
        .await
    }

    async fn published(&self) -> Result<Option<PublishedSchedule>> {
        self.read_published().await
    }

    async fn claim_idempotency_key(&self, key: &str, hold: Duration) -> Result<KeyClaim> {
        let key = key.to_string();
        self.write(move |tx, _| {
            let now = ms(Utc::now());
            tx.execute(
                "DELETE FROM idempotency_keys WHERE key = ?1 AND expires_at <= ?2",
                params![key, now],
            )?;
            let held: Option<String> = tx
                .query_row(
                    "SELECT run_id FROM idempotency_keys WHERE key = ?1",
                    params![key],
                    |row| row.get(0),
                )
                .optional()?;
            Ok(match held {
                Some(run) if run.is_empty() => KeyClaim::Pending,
                Some(run) => KeyClaim::Done(run),
                None => {
                    tx.execute(
                        "INSERT INTO idempotency_keys (key, run_id, expires_at) VALUES (?1, '', ?2)",
                        params![key, now + duration_ms(hold)],
                    )?;
                    KeyClaim::Claimed
                }
            })
        })
        .await
    }

    async fn settle_idempotency_key(
        &self,
        key: &str,
        run: Option<&str>,
        keep: Duration,
    ) -> Result<()> {
        let (key, run) = (key.to_string(), run.map(str::to_string));
        self.write(move |tx, _| {
            match run {
                Some(run) => tx.execute(
                    "UPDATE idempotency_keys SET run_id = ?2, expires_at = ?3 WHERE key = ?1",
                    params![key, run, ms(Utc::now()) + duration_ms(keep)],
                )?,
                None => tx.execute(
                    "DELETE FROM idempotency_keys WHERE key = ?1 AND run_id = ''",
                    params![key],
                )?,
            };
            // Lapsed keys go with each settle, so the table holds a day of them at most.
            tx.execute(
                "DELETE FROM idempotency_keys WHERE expires_at <= ?1",
                params![ms(Utc::now())],
            )?;
            Ok(())
        })
        .await
    }

    async fn dead_letters(&self) -> Result<u64> {
        self.call(|conn, _| {
            let count: i64 = conn.query_row(
                "SELECT count(*) FROM runs WHERE status = 'dead'",
                [],
                |row| row.get(0),
            )?;
            Ok(count.max(0) as u64)
        })
        .await
    }

    async fn published_hash(&self) -> Result<Option<String>> {
        self.read_published_hash().await
    }

    async fn reap(&self) -> Result<Vec<Run>> {
        let reaped = self
            .write_off_thread(|tx, _| {
                let expired: Vec<String> = tx
                    .prepare_cached(
                        "SELECT id FROM runs WHERE status = 'running' AND lease_until < ?1",
                    )?
                    .query_map([ms(Utc::now())], |row| row.get(0))?
                    .collect::<rusqlite::Result<_>>()?;
                let lost = Outcome {
                    status: RunStatus::Lost,
                    exit_code: None,
                    signal: None,
                    reason: Some("lease expired: its worker stopped heartbeating".into()),
                };
                expired
                    .iter()
                    .map(|id| end_run(tx, id, &lost, Some(Duration::ZERO)))
                    .collect::<Result<Vec<Finished>>>()
            })
            .await?;
        if reaped.iter().any(|f| f.retry.is_some()) {
            self.inner.enqueued.notify_waiters();
        }
        Ok(reaped.into_iter().map(|f| f.run).collect())
    }

    async fn prune(&self, jobs: &[(&str, Retention)]) -> Result<u64> {
        let jobs: Vec<(String, Retention)> = jobs
            .iter()
            .map(|(job, keep)| (job.to_string(), *keep))
            .collect();
        self.write_off_thread(move |tx, _| {
            let now = ms(Utc::now());
            jobs.iter()
                .map(|(job, keep)| prune_job(tx, job, keep, now))
                .sum()
        })
        .await
    }

    async fn pause(&self, scope: &PauseScope, pause: &Pause) -> Result<()> {
        self.put_pause(scope, pause).await
    }

    async fn resume(&self, scope: &PauseScope) -> Result<Option<Pause>> {
        self.end_pause(scope).await
    }

    async fn pauses(&self) -> Result<Vec<Paused>> {
        self.list_pauses().await
    }

    async fn pause_version(&self) -> Result<Option<String>> {
        self.read_pause_version().await
    }

    async fn pass_paused(
        &self,
        run: NewRun,
        instant: DateTime<Utc>,
        scope: &PauseScope,
        reason: String,
        record_limit: u32,
    ) -> Result<Option<Run>> {
        self.pass_paused_instant(run, instant, scope, reason, record_limit)
            .await
    }

    async fn record_health(
        &self,
        job: &str,
        run: Option<&str>,
        failed: bool,
        remind: Option<Duration>,
    ) -> Result<Option<crate::store::HealthChange>> {
        self.record_job_health(job, run, failed, remind).await
    }

    async fn add_notice(&self, notice: &crate::store::NewNotice) -> Result<bool> {
        self.add_one_notice(notice).await
    }

    async fn claim_notices(
        &self,
        owner: &str,
        lease: Duration,
        limit: usize,
    ) -> Result<Vec<crate::store::Notice>> {
        self.claim_some_notices(owner, lease, limit).await
    }

    async fn notice_progress(
        &self,
        key: &str,
        owner: &str,
        sent: Option<u32>,
        done: bool,
        lease: Duration,
    ) -> Result<bool> {
        self.notice_moved_on(key, owner, sent, done, lease).await
    }

    async fn record_target(&self, job: &str, target: &str, error: Option<&str>) -> Result<()> {
        self.set_target(job, target, error).await
    }

    async fn target_failures(&self) -> Result<Vec<crate::store::TargetFailure>> {
        self.read_target_failures().await
    }
}

/// Deletes one job's finished runs beyond `keep`, and its fire claims as old.
fn prune_job(tx: &Transaction, job: &str, keep: &Retention, now: i64) -> Result<u64> {
    let oldest_kept = now - duration_ms(keep.max_age);
    // Finished runs past their kind's count (newest first), or older than max_age.
    let doomed = "SELECT id FROM ( \
            SELECT id, status, queued_at, row_number() OVER ( \
                PARTITION BY status = 'succeeded' ORDER BY seq DESC) AS newer \
            FROM runs WHERE job = ?1 AND status NOT IN ('queued', 'running')) \
        WHERE queued_at < ?2 \
           OR (status = 'succeeded' AND newer > ?3) \
           OR (status != 'succeeded' AND newer > ?4)";
    let ids: Vec<String> = tx
        .prepare_cached(doomed)?
        .query_map(
            params![job, oldest_kept, keep.succeeded, keep.failed],
            |row| row.get(0),
        )?
        .collect::<rusqlite::Result<_>>()?;
    for id in &ids {
        output::delete(tx, id)?;
        tx.execute("DELETE FROM runs WHERE id = ?1", [id])?;
    }
    tx.prepare_cached("DELETE FROM fires WHERE job = ?1 AND instant < ?2")?
        .execute(params![job, oldest_kept])?;
    // Second-pass claims, `JOB@PASS_MS`: the names between `JOB@` and `JOBA`.
    tx.prepare_cached(
        "DELETE FROM fires WHERE job > ?1 || '@' AND job < ?1 || 'A' AND instant < ?2",
    )?
    .execute(params![job, oldest_kept])?;
    Ok(ids.len() as u64)
}

/// The connection's settings and the schema, each step safe to run again; the schema
/// version the file had.
fn configure(conn: &mut Connection) -> rusqlite::Result<i64> {
    conn.busy_timeout(calls::BUSY_TIMEOUT)?;
    // A stable plan per statement: without it SQLite prepares the reserve query again on
    // every call, because its bound values could pick another plan.
    conn.set_db_config(
        rusqlite::config::DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG,
        true,
    )?;
    conn.set_db_config(
        rusqlite::config::DbConfig::SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE,
        !CHECKPOINT_ON_CLOSE.load(std::sync::atomic::Ordering::Relaxed),
    )?;
    conn.execute_batch(
        "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON;",
    )?;
    schema::upgrade(conn)
}

fn is_busy(error: &rusqlite::Error) -> bool {
    matches!(
        error.sqlite_error_code(),
        Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked)
    )
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SqliteStore({})", self.inner.path.display())
    }
}

/// A directory given as the store: what was meant is most likely a file in it.
fn a_directory(path: &Path) -> StoreError {
    StoreError::BadAddress(format!(
        "the store sqlite:{} is a directory; expected the path of a file, such as sqlite:{}",
        path.display(),
        path.join("cronq.db").display()
    ))
}
