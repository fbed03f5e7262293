//! How a store call reaches the one connection: one call at a time, and either in place
//! on the calling thread or off it. A write that finds the connection taken is queued,
//! and made by the holder with the others queued (`group_commit.rs`).
//!
//! Small writes run in place when they get the write lock at once: they take tens of
//! microseconds, less than handing the thread's other tasks to another thread
//! (`block_in_place`), which with a few runs in flight cost the worker about twice the
//! write itself. Everything that may wait runs off the runtime thread: writes whose
//! lock another process holds (they wait out the busy timeout), reads and writes of many
//! rows (history, prune, reap), and the WAL checkpoint, which fsyncs.

use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::{Arc, MutexGuard};
use std::time::Duration;

use rusqlite::{Connection, Transaction, TransactionBehavior};
use tokio::sync::SemaphorePermit;

use super::group_commit::{self, Job};
use super::{Inner, SqliteStore, is_busy};
use crate::store::{Result, StoreError};

/// How long a write waits for another process's write lock, off the runtime thread.
pub(super) const BUSY_TIMEOUT: Duration = Duration::from_secs(5);
/// The most writes made in one transaction: a batch made in place holds the runtime
/// thread for a millisecond at most.
const BATCH_WRITES: usize = 16;
/// The WAL is checkpointed once it holds this many pages: SQLite's own default.
const CHECKPOINT_PAGES: i32 = 1000;

/// Replaces SQLite's automatic checkpoint, which would run inside a commit and so on the
/// runtime thread for a write in place, with a count of the WAL's pages: a write that
/// finds it over [`CHECKPOINT_PAGES`] checkpoints off the thread.
pub(super) fn watch_wal(conn: &mut Connection) -> rusqlite::Result<Arc<AtomicI32>> {
    let pages = Arc::new(AtomicI32::new(0));
    let counted = Arc::clone(&pages);
    conn.wal_hook(Some(move |_: &mut rusqlite::hooks::Wal, wal_pages| {
        counted.store(wal_pages, Ordering::Relaxed);
        Ok(())
    }))?;
    Ok(pages)
}

impl SqliteStore {
    /// Runs `work` with the connection, off the runtime thread.
    pub(super) async fn call<T: Send + 'static>(
        &self,
        work: impl FnOnce(&mut Connection, &Inner) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let held = self.hold().await;
        let answer = off_thread(&self.inner, work).await;
        write_queued(held).await;
        answer
    }

    /// Runs `work` in a `BEGIN IMMEDIATE` transaction, with the writes queued meanwhile
    /// (`group_commit.rs`): in place when the write lock is free at once, else off the
    /// runtime thread, waiting for the lock. For writes of a few rows found by an index.
    pub(super) async fn write<T: Send + 'static>(
        &self,
        work: impl FnOnce(&Transaction, &Inner) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let inner = &self.inner;
        let (job, answer) = Job::new(work);
        queue(inner).push(job);
        let mut answer = std::pin::pin!(answer.get());
        // Whoever holds the connection makes the queued writes before letting it go: a
        // write that finds it taken waits for its answer, or for the holder to let go
        // without making it (it gave up halfway, or queued it just too late).
        loop {
            let released = inner.released.notified();
            if let Ok(turn) = inner.turn.try_acquire() {
                write_queued(Held::new(inner, turn)).await;
            }
            tokio::select! {
                biased;
                answer = &mut answer => return answer,
                () = released => {}
            }
        }
    }

    /// Runs `work` in one `BEGIN IMMEDIATE` transaction off the runtime thread: for
    /// writes that may touch many rows.
    pub(super) async fn write_off_thread<T: Send + 'static>(
        &self,
        work: impl FnOnce(&Transaction, &Inner) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let held = self.hold().await;
        let (job, answer) = Job::new(work);
        write_off_thread(&self.inner, vec![job]).await;
        write_queued(held).await;
        answer.get().await
    }

    /// Runs `work`, a read of a row by its key, on the calling thread, as a small write
    /// is made in place: a WAL reader waits for no writer, and where it would wait (the
    /// rare lock of another process's WAL recovery) it is run off the thread instead.
    /// What a request of the HTTP API reads each time saves handing the thread's other
    /// tasks to another thread.
    pub(super) async fn read_in_place<T: Send + 'static>(
        &self,
        work: impl Fn(&Connection) -> rusqlite::Result<T> + Send + 'static,
    ) -> Result<T> {
        let held = self.hold().await;
        let answer = {
            let conn = lock(&self.inner);
            match conn.busy_timeout(Duration::ZERO) {
                Ok(()) => {
                    let answer = work(&conn);
                    conn.busy_timeout(BUSY_TIMEOUT).map(|()| answer)
                }
                Err(error) => Err(error),
            }
        };
        let answer = match answer {
            Ok(Err(error)) if is_busy(&error) => {
                off_thread(&self.inner, move |conn, _| Ok(work(conn)?)).await
            }
            Ok(answer) => answer.map_err(StoreError::from),
            Err(error) => Err(error.into()),
        };
        write_queued(held).await;
        answer
    }

    /// The connection, once the calls before this one are done with it.
    async fn hold(&self) -> Held<'_> {
        let turn = self
            .inner
            .turn
            .acquire()
            .await
            .expect("the turn semaphore is never closed");
        Held::new(&self.inner, turn)
    }
}

/// The connection, held until dropped; letting it go wakes the queued writes' callers.
struct Held<'a> {
    inner: &'a Arc<Inner>,
    turn: Option<SemaphorePermit<'a>>,
}

impl<'a> Held<'a> {
    fn new(inner: &'a Arc<Inner>, turn: SemaphorePermit<'a>) -> Held<'a> {
        Held {
            inner,
            turn: Some(turn),
        }
    }
}

impl Drop for Held<'_> {
    fn drop(&mut self) {
        drop(self.turn.take());
        self.inner.released.notify_waiters();
    }
}

/// Makes the queued writes, a batch per transaction, until none is left; then lets the
/// connection go.
async fn write_queued(mut held: Held<'_>) {
    let inner = held.inner;
    loop {
        let jobs: Vec<Job> = {
            let mut queued = queue(inner);
            let batch = queued.len().min(BATCH_WRITES);
            queued.drain(..batch).collect()
        };
        if jobs.is_empty() {
            drop(held);
            // A write queued just as the connection went, by a caller that found it
            // taken, is made now if nobody else took the connection meanwhile.
            if queue(inner).is_empty() {
                return;
            }
            match inner.turn.try_acquire() {
                Ok(turn) => held = Held::new(inner, turn),
                Err(_) => return,
            }
            continue;
        }
        if let Err(jobs) = write_in_place(inner, jobs) {
            write_off_thread(inner, jobs).await;
        }
        checkpoint_if_due(inner).await;
        // A long queue (a burst of fires) is made a batch at a time, letting the other
        // tasks of this thread run in between.
        if !queue(inner).is_empty() {
            tokio::task::yield_now().await;
        }
    }
}

fn queue(inner: &Inner) -> MutexGuard<'_, Vec<Job>> {
    inner
        .queued
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The writes in one transaction on this thread; back, untouched, when another
/// connection holds the write lock.
fn write_in_place(inner: &Inner, jobs: Vec<Job>) -> std::result::Result<(), Vec<Job>> {
    let conn = lock(inner);
    let failed = |jobs: Vec<Job>, error: rusqlite::Error| {
        fail(jobs, error);
        Ok(())
    };
    // No waiting in place: a busy lock sends the writes off the thread, where they wait.
    if let Err(error) = conn.busy_timeout(Duration::ZERO) {
        return failed(jobs, error);
    }
    // Unchecked only in that it takes `&Connection`, so that the timeout can be put
    // back at once: the guard held here already rules out a nested transaction.
    let begun = Transaction::new_unchecked(&conn, TransactionBehavior::Immediate);
    if let Err(error) = conn.busy_timeout(BUSY_TIMEOUT) {
        return failed(jobs, error);
    }
    match begun {
        Ok(tx) => {
            group_commit::run(tx, inner, jobs);
            Ok(())
        }
        Err(error) if is_busy(&error) => Err(jobs),
        Err(error) => failed(jobs, error),
    }
}

/// The writes in one transaction off the runtime thread, waiting for the write lock.
async fn write_off_thread(inner: &Arc<Inner>, jobs: Vec<Job>) {
    let _ = off_thread(inner, move |conn, inner| {
        match conn.transaction_with_behavior(TransactionBehavior::Immediate) {
            Ok(tx) => group_commit::run(tx, inner, jobs),
            Err(error) => fail(jobs, error),
        }
        Ok(())
    })
    .await;
}

/// Answers the callers of writes whose transaction could not begin.
fn fail(jobs: Vec<Job>, error: rusqlite::Error) {
    let why = error.to_string();
    for job in jobs {
        job.refuse(&why);
    }
}

/// Runs `work` with the connection where blocking is allowed: `block_in_place` on a
/// multi-thread runtime, the blocking pool on a current-thread one.
async fn off_thread<T: Send + 'static>(
    inner: &Arc<Inner>,
    work: impl FnOnce(&mut Connection, &Inner) -> Result<T> + Send + 'static,
) -> Result<T> {
    let inner = Arc::clone(inner);
    let run = move || work(&mut lock(&inner), &inner);
    if tokio::runtime::Handle::current().runtime_flavor()
        == tokio::runtime::RuntimeFlavor::MultiThread
    {
        tokio::task::block_in_place(run)
    } else {
        tokio::task::spawn_blocking(run)
            .await
            .map_err(|e| StoreError::Failed(format!("a store task failed: {e}")))?
    }
}

/// Checkpoints, off the runtime thread, when the WAL has grown past its limit. The
/// caller holds the connection: writes queue meanwhile, and are then made together. (A
/// checkpoint beside the writes, on a connection of its own, never catches up with them,
/// so the WAL would never start over.)
async fn checkpoint_if_due(inner: &Arc<Inner>) {
    if inner.wal_pages.load(Ordering::Relaxed) >= CHECKPOINT_PAGES {
        let _ = off_thread(inner, |conn, inner| {
            checkpoint(conn, inner);
            Ok(())
        })
        .await;
    }
}

/// A passive checkpoint, as SQLite's automatic one: it copies what no reader still
/// needs and waits for nobody. A failure is left as SQLite leaves it: the next commit
/// over the limit tries again.
fn checkpoint(conn: &Connection, inner: &Inner) {
    let _ = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()));
    inner.wal_pages.store(0, Ordering::Relaxed);
}

fn lock(inner: &Inner) -> std::sync::MutexGuard<'_, Connection> {
    inner
        .conn
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}
