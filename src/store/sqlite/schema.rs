//! The database's tables and their migrations, by `PRAGMA user_version`.

use rusqlite::{Connection, TransactionBehavior};

use crate::store::{Result, StoreError};

pub(super) const SCHEMA_VERSION: i64 = 2;

/// Version 1. The partial index `runs_ready` lets a reserve read the head of one queue
/// without sorting the queue.
pub(super) const SCHEMA: &str = "
CREATE TABLE runs (
    seq              INTEGER PRIMARY KEY AUTOINCREMENT,
    id               TEXT NOT NULL UNIQUE,
    job              TEXT NOT NULL,
    queue            TEXT NOT NULL,
    status           TEXT NOT NULL,
    trigger_kind     TEXT NOT NULL,
    scheduled_for    INTEGER,
    attempt          INTEGER NOT NULL,
    max_attempts     INTEGER NOT NULL,
    retry_of         TEXT,
    host             TEXT,
    worker           TEXT,
    exit_code        INTEGER,
    signal           INTEGER,
    queued_at        INTEGER NOT NULL,
    started_at       INTEGER,
    finished_at      INTEGER,
    progress         INTEGER,
    message          TEXT,
    reason           TEXT,
    args             TEXT NOT NULL,
    env              TEXT NOT NULL,
    not_before       INTEGER,
    lock_name        TEXT,
    lock_on_busy     TEXT,
    cancel_requested INTEGER NOT NULL DEFAULT 0,
    lease_token      TEXT,
    lease_until      INTEGER
);
CREATE INDEX runs_ready ON runs (queue, seq) WHERE status = 'queued';
CREATE INDEX runs_leased ON runs (lease_until) WHERE status = 'running';
CREATE INDEX runs_job ON runs (job, seq);
CREATE INDEX runs_status ON runs (status, seq);
CREATE TABLE outputs (
    run_id TEXT PRIMARY KEY,
    tail   BLOB NOT NULL,
    total  INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE fires (
    job     TEXT NOT NULL,
    instant INTEGER NOT NULL,
    run_id  TEXT NOT NULL,
    PRIMARY KEY (job, instant)
) WITHOUT ROWID;
CREATE TABLE last_fired (
    job     TEXT PRIMARY KEY,
    instant INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE locks (
    name       TEXT PRIMARY KEY,
    owner      TEXT NOT NULL,
    expires_at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE workers (
    id         TEXT PRIMARY KEY,
    host       TEXT NOT NULL,
    pid        INTEGER NOT NULL,
    queues     TEXT NOT NULL,
    runs       TEXT NOT NULL,
    last_seen  INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
) WITHOUT ROWID;
";

/// Version 2: the daemon registry, and the schedule the daemons publish.
const VERSION_2: &str = "
CREATE TABLE daemons (
    id            TEXT PRIMARY KEY,
    host          TEXT NOT NULL,
    pid           INTEGER NOT NULL,
    schedule_hash TEXT NOT NULL,
    last_seen     INTEGER NOT NULL,
    expires_at    INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE published (
    name  TEXT PRIMARY KEY,
    value TEXT NOT NULL
) WITHOUT ROWID;
";

/// A database newer than this cronq is refused rather than misread.
pub(super) fn refuse_newer(version: i64) -> Result<()> {
    if version > SCHEMA_VERSION {
        return Err(StoreError::Corrupt(format!(
            "the database has schema version {version}, newer than this cronq knows ({SCHEMA_VERSION}); upgrade cronq"
        )));
    }
    Ok(())
}

/// Applies the missing versions; returns the version the file had.
pub(super) fn upgrade(conn: &mut Connection) -> rusqlite::Result<i64> {
    // Most opens find the schema current: a read then, never the write lock, so that a
    // loop of `cronq status` cannot starve the daemon's writes.
    let version: i64 = conn.query_row("PRAGMA user_version", [], |row| row.get(0))?;
    if version >= SCHEMA_VERSION {
        return Ok(version);
    }
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let version: i64 = tx.query_row("PRAGMA user_version", [], |row| row.get(0))?;
    match version {
        0 => {
            tx.execute_batch(SCHEMA)?;
            tx.execute_batch(VERSION_2)?;
        }
        1 => tx.execute_batch(VERSION_2)?,
        _ => return Ok(version),
    }
    tx.execute_batch(&format!("PRAGMA user_version = {SCHEMA_VERSION}"))?;
    tx.commit()?;
    Ok(version)
}
