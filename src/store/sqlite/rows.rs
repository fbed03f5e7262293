//! Runs as rows: the column list, the conversions, and the reads and inserts every
//! operation shares.

use std::time::Duration;

use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension, Row, Transaction, params};

use crate::store::{
    NewRun, OnBusy, Result, Run, RunLock, RunStatus, StoreError, Trigger, new_run_id,
};

/// The columns of a run, in the order [`run_from_row`] reads them.
pub(super) const RUN_COLUMNS: &str = "id, job, queue, status, trigger_kind, scheduled_for, attempt, \
    max_attempts, retry_of, host, worker, exit_code, signal, queued_at, started_at, \
    finished_at, progress, message, reason, args, env, not_before, lock_name, lock_on_busy, \
    cancel_requested";

impl From<rusqlite::Error> for StoreError {
    fn from(error: rusqlite::Error) -> Self {
        StoreError::Failed(error.to_string())
    }
}

pub(super) fn ms(at: DateTime<Utc>) -> i64 {
    at.timestamp_millis()
}

pub(super) fn from_ms(ms: i64) -> rusqlite::Result<DateTime<Utc>> {
    DateTime::from_timestamp_millis(ms).ok_or(rusqlite::Error::IntegralValueOutOfRange(0, ms))
}

pub(super) fn opt_from_ms(ms: Option<i64>) -> rusqlite::Result<Option<DateTime<Utc>>> {
    ms.map(from_ms).transpose()
}

pub(super) fn duration_ms(duration: Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}

/// A text column read back into one of our enums.
pub(super) fn parsed<T>(
    row: &Row,
    index: usize,
    parse: fn(&str) -> Option<T>,
) -> rusqlite::Result<T> {
    let text: String = row.get(index)?;
    parse(&text).ok_or_else(|| {
        rusqlite::Error::FromSqlConversionFailure(
            index,
            rusqlite::types::Type::Text,
            format!("unknown value `{text}`").into(),
        )
    })
}

pub(super) fn json_column<T: serde::de::DeserializeOwned>(
    row: &Row,
    index: usize,
) -> rusqlite::Result<T> {
    let text: String = row.get(index)?;
    serde_json::from_str(&text).map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(index, rusqlite::types::Type::Text, e.into())
    })
}

pub(super) fn run_from_row(row: &Row) -> rusqlite::Result<Run> {
    let lock_name: Option<String> = row.get(22)?;
    let on_busy: Option<String> = row.get(23)?;
    let lock = match (lock_name, on_busy.as_deref().and_then(OnBusy::parse)) {
        (Some(name), Some(on_busy)) => Some(RunLock { name, on_busy }),
        _ => None,
    };
    Ok(Run {
        id: row.get(0)?,
        job: row.get(1)?,
        queue: row.get(2)?,
        status: parsed(row, 3, RunStatus::parse)?,
        trigger: parsed(row, 4, Trigger::parse)?,
        scheduled_for: opt_from_ms(row.get(5)?)?,
        attempt: row.get(6)?,
        max_attempts: row.get(7)?,
        retry_of: row.get(8)?,
        host: row.get(9)?,
        worker: row.get(10)?,
        exit_code: row.get(11)?,
        signal: row.get(12)?,
        queued_at: from_ms(row.get(13)?)?,
        started_at: opt_from_ms(row.get(14)?)?,
        finished_at: opt_from_ms(row.get(15)?)?,
        progress: row.get(16)?,
        message: row.get(17)?,
        reason: row.get(18)?,
        args: json_column(row, 19)?,
        env: json_column(row, 20)?,
        not_before: opt_from_ms(row.get(21)?)?,
        lock,
        cancel_requested: row.get(24)?,
    })
}

pub(super) fn load_run(tx: &Connection, id: &str) -> Result<Run> {
    tx.query_row(
        &format!("SELECT {RUN_COLUMNS} FROM runs WHERE id = ?1"),
        [id],
        run_from_row,
    )
    .optional()?
    .ok_or_else(|| StoreError::NotFound(id.to_string()))
}

pub(super) fn query_runs(
    conn: &Connection,
    sql: &str,
    params: impl rusqlite::Params,
) -> Result<Vec<Run>> {
    let mut statement = conn.prepare_cached(sql)?;
    let runs = statement
        .query_map(params, run_from_row)?
        .collect::<rusqlite::Result<_>>()?;
    Ok(runs)
}

/// Inserts a run in `status`; a finished one (skipped) gets its finish time and reason.
pub(super) fn insert_run(
    tx: &Transaction,
    run: &NewRun,
    status: RunStatus,
    attempt: u32,
    retry_of: Option<&str>,
    reason: Option<&str>,
) -> Result<Run> {
    let id = new_run_id();
    let now = ms(Utc::now());
    let finished_at = status.is_finished().then_some(now);
    let lock_name = run.lock.as_ref().map(|l| l.name.as_str());
    let on_busy = run.lock.as_ref().map(|l| l.on_busy.as_str());
    let inserted = tx
        .prepare_cached(&format!(
            "INSERT INTO runs (id, job, queue, status, trigger_kind, scheduled_for, attempt, \
         max_attempts, retry_of, queued_at, finished_at, reason, args, env, not_before, \
         lock_name, lock_on_busy) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17) \
         RETURNING {RUN_COLUMNS}"
        ))?
        .query_row(
            params![
                id,
                run.job,
                run.queue,
                status.as_str(),
                run.trigger.as_str(),
                run.scheduled_for.map(ms),
                attempt,
                run.max_attempts,
                retry_of,
                now,
                finished_at,
                reason,
                serde_json::to_string(&run.args).expect("strings serialize"),
                serde_json::to_string(&run.env).expect("strings serialize"),
                run.not_before.map(ms),
                lock_name,
                on_busy,
            ],
            run_from_row,
        )?;
    Ok(inserted)
}
