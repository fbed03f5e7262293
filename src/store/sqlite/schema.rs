//! The database's tables and their migrations, by `PRAGMA user_version`.

use rusqlite::{Connection, TransactionBehavior};

use crate::store::{Result, StoreError};

pub(super) const SCHEMA_VERSION: i64 = 9;

/// Version 1; a new file gets it, then each later version in turn. The partial index
/// `runs_ready` lets a reserve read the head of one queue without sorting the queue.
const VERSION_1: &str = "
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

/// Version 3: output kept as chunks tagged with their stream, so that stdout and stderr
/// stay apart, and the bytes each run wrote in all in `output_totals`. A chunk's `start`
/// is the offset of its first byte in all the run wrote; `stream` is its file
/// descriptor, 1 or 2. The tail kept so far becomes one stdout chunk: which stream it
/// came from is unknown.
const VERSION_3: &str = "
CREATE TABLE output_chunks (
    run_id TEXT NOT NULL,
    start  INTEGER NOT NULL,
    stream INTEGER NOT NULL,
    bytes  BLOB NOT NULL,
    PRIMARY KEY (run_id, start)
) WITHOUT ROWID;
INSERT INTO output_chunks (run_id, start, stream, bytes)
    SELECT run_id, total - length(tail), 1, tail FROM outputs WHERE length(tail) > 0;
CREATE TABLE output_totals (
    run_id TEXT PRIMARY KEY,
    total  INTEGER NOT NULL
) WITHOUT ROWID;
INSERT INTO output_totals (run_id, total) SELECT run_id, total FROM outputs;
DROP TABLE outputs;
";

/// Version 4: each worker's concurrency, for the estimate of a queued run. A worker
/// that registered before it counts as running one run at a time.
const VERSION_4: &str = "
ALTER TABLE workers ADD COLUMN concurrency INTEGER NOT NULL DEFAULT 1;
";

/// Version 5: whether a run was forced past `concurrency: forbid` (`cronq run --force`),
/// and an index of the queued runs by lock, which a forbid fire or run looks at.
const VERSION_5: &str = "
ALTER TABLE runs ADD COLUMN forced INTEGER NOT NULL DEFAULT 0;
CREATE INDEX runs_queued_lock ON runs (lock_name, seq) WHERE status = 'queued';
";

/// Version 6: pauses, one per job and one for every job (`job` = `*`), with how many of
/// the instants each held back were recorded; and the value that changes with each
/// pause and resume, for daemons to poll.
const VERSION_6: &str = "
CREATE TABLE pauses (
    job       TEXT PRIMARY KEY,
    reason    TEXT,
    paused_by TEXT NOT NULL,
    since     INTEGER NOT NULL,
    until     INTEGER,
    recorded  INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;
CREATE TABLE pause_version (
    one     INTEGER PRIMARY KEY CHECK (one = 1),
    version TEXT NOT NULL
);
";

/// Version 7: who asked for a run by hand (`cli:USER`, `token:NAME`), and the
/// Idempotency-Keys of the HTTP API, each naming the run its first request queued (an
/// empty `run_id` while that request is under way).
const VERSION_7: &str = "
ALTER TABLE runs ADD COLUMN requested_by TEXT;
CREATE TABLE idempotency_keys (
    key        TEXT PRIMARY KEY,
    run_id     TEXT NOT NULL,
    expires_at INTEGER NOT NULL
) WITHOUT ROWID;
";

/// Version 8: each job's health for notifications: whether it is failing, when its
/// last message was claimed, and the run recorded last.
const VERSION_8: &str = "
CREATE TABLE job_health (
    job         TEXT PRIMARY KEY,
    failing     INTEGER NOT NULL,
    notified_at INTEGER NOT NULL,
    last_run    TEXT NOT NULL
) WITHOUT ROWID;
";

/// Version 9: the outbox of notifications (each change to tell, its claim by a sender,
/// the targets that took it, when it was sent), and each target's last failure.
const VERSION_9: &str = "
CREATE TABLE notices (
    key      TEXT PRIMARY KEY,
    job      TEXT NOT NULL,
    event    TEXT NOT NULL,
    reminder INTEGER NOT NULL,
    run_id   TEXT,
    detail   TEXT,
    created  INTEGER NOT NULL,
    sent     TEXT NOT NULL DEFAULT '',
    owner    TEXT,
    until    INTEGER NOT NULL DEFAULT 0,
    done_at  INTEGER
) WITHOUT ROWID;
CREATE INDEX notices_due ON notices (until) WHERE done_at IS NULL;
CREATE INDEX notices_done ON notices (done_at) WHERE done_at IS NOT NULL;
CREATE TABLE target_failures (
    job    TEXT NOT NULL,
    target TEXT NOT NULL,
    at     INTEGER NOT NULL,
    error  TEXT NOT NULL,
    PRIMARY KEY (job, target)
) WITHOUT ROWID;
";

/// Each version's changes; a file at version N gets the ones after the Nth.
const VERSIONS: [&str; SCHEMA_VERSION as usize] = [
    VERSION_1, VERSION_2, VERSION_3, VERSION_4, VERSION_5, VERSION_6, VERSION_7, VERSION_8,
    VERSION_9,
];

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
    // Another process may have upgraded the file since the read above.
    let missing = usize::try_from(version).map_or(&[][..], |v| VERSIONS.get(v..).unwrap_or(&[]));
    if missing.is_empty() {
        return Ok(version);
    }
    for changes in missing {
        tx.execute_batch(changes)?;
    }
    tx.execute_batch(&format!("PRAGMA user_version = {SCHEMA_VERSION}"))?;
    tx.commit()?;
    Ok(version)
}
