//! A worker's cancel requests, found by one short poll per worker: every 200 ms it asks
//! SQLite whether anything was committed since its last look (`PRAGMA data_version`,
//! which reads shared memory and no page), and only then queries the worker's running
//! runs. A cancel made through this handle ends the wait at once: the data version
//! counts only the commits of other connections, so this handle counts its own.
//!
//! What was reported is remembered per worker, so each request is reported once.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use rusqlite::Connection;
use tokio::sync::Notify;
use tokio::time::Instant;

use super::{Inner, SqliteStore};
use crate::store::{Result, RunId};

/// How often a waiting call looks for a commit by another process.
const POLL: Duration = Duration::from_millis(200);

/// What this handle knows of the cancels requested.
#[derive(Default)]
pub(super) struct CancelRequests {
    /// Cancels of running runs made through this handle, counted once committed.
    made_here: AtomicU64,
    /// Raised with each of them.
    made: Notify,
    /// Per worker: what its last look saw.
    looks: Mutex<HashMap<String, Look>>,
}

/// One worker's last look at its runs.
#[derive(Default)]
struct Look {
    /// The data version and the count of cancels made here at that look: while both
    /// stay the same, nothing new can have been requested.
    at: Option<(i64, u64)>,
    /// The runs with a cancel requested then, all of them reported.
    reported: HashSet<RunId>,
}

impl CancelRequests {
    /// Counts a committed cancel of a running run made through this handle, and wakes
    /// the calls waiting for one.
    pub(super) fn made(&self) {
        self.made_here.fetch_add(1, Ordering::SeqCst);
        self.made.notify_waiters();
    }

    /// Forgets a worker that went.
    pub(super) fn forget(&self, worker_id: &str) {
        self.looks().remove(worker_id);
    }

    fn looks(&self) -> MutexGuard<'_, HashMap<String, Look>> {
        self.looks.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl SqliteStore {
    pub(super) async fn wait_for_cancel_requests(
        &self,
        worker_id: &str,
        wait: Duration,
    ) -> Result<Vec<RunId>> {
        let deadline = Instant::now() + wait;
        loop {
            // Registered before the look, so a cancel made during it is not missed.
            let made_here = self.inner.cancels.made.notified();
            let worker = worker_id.to_string();
            let found = self
                .call(move |conn, inner| look(conn, inner, &worker))
                .await?;
            let now = Instant::now();
            if !found.is_empty() || now >= deadline {
                return Ok(found);
            }
            let _ = tokio::time::timeout(POLL.min(deadline - now), made_here).await;
        }
    }
}

/// The worker's runs with a cancel requested that no earlier look reported; no query
/// when nothing was committed since the last look.
fn look(conn: &Connection, inner: &Inner, worker: &str) -> Result<Vec<RunId>> {
    let cancels = &inner.cancels;
    // The count first: every cancel it counts is committed, so the query sees them.
    let made_here = cancels.made_here.load(Ordering::SeqCst);
    let version: i64 = conn.query_row("PRAGMA data_version", [], |row| row.get(0))?;
    let at = Some((version, made_here));
    if cancels
        .looks()
        .get(worker)
        .is_some_and(|look| look.at == at)
    {
        return Ok(Vec::new());
    }
    let requested: HashSet<RunId> = conn
        .prepare_cached(
            "SELECT id FROM runs \
             WHERE status = 'running' AND worker = ?1 AND cancel_requested = 1",
        )?
        .query_map([worker], |row| row.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    let mut looks = cancels.looks();
    let look = looks.entry(worker.to_string()).or_default();
    let new = requested.difference(&look.reported).cloned().collect();
    // The runs that ended drop out, so the set stays as small as the running runs.
    look.reported = requested;
    look.at = at;
    Ok(new)
}
