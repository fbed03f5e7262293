//! Runs as rows: the column list, the conversions, and the reads and inserts every
//! operation shares.

use std::time::Duration;

use chrono::{DateTime, Utc};
use rusqlite::types::ValueRef;
use rusqlite::{Connection, OptionalExtension, Row, Transaction, params};

use crate::store::unreadable::{Unreadable, expected};
use crate::store::{
    NewRun, OnBusy, Result, Run, RunLock, RunStatus, StoreError, Trigger, new_run_id,
};

/// The columns of a run, in the order [`run_from_row`] reads them.
pub(super) const RUN_COLUMNS: &str = "id, job, queue, status, trigger_kind, scheduled_for, attempt, \
    max_attempts, retry_of, host, worker, exit_code, signal, queued_at, started_at, \
    finished_at, progress, message, reason, args, env, not_before, lock_name, lock_on_busy, \
    cancel_requested, forced, requested_by";

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

pub(super) fn json_column<T: serde::de::DeserializeOwned>(
    row: &Row,
    index: usize,
) -> rusqlite::Result<T> {
    let text: String = row.get(index)?;
    serde_json::from_str(&text).map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(index, rusqlite::types::Type::Text, e.into())
    })
}

/// A run read from its row, or an error naming the first column that cannot be read.
pub(super) fn run_from_row(row: &Row) -> rusqlite::Result<Run> {
    let (run, problems) = decode_run(row)?;
    match problems.first() {
        None => Ok(run),
        Some(problem) => Err(rusqlite::Error::FromSqlConversionFailure(
            0,
            rusqlite::types::Type::Text,
            format!("run {}: {problem}", run.id).into(),
        )),
    }
}

/// The run of a row of [`RUN_COLUMNS`], and why each field that cannot be read cannot
/// be; such a field holds its default in the run. Only a row that is not there fails.
pub(super) fn decode_run(row: &Row) -> rusqlite::Result<(Run, Vec<Unreadable>)> {
    let mut columns = Columns {
        row,
        problems: Vec::new(),
    };
    let lock_name = columns.optional(22, "lock_name", expected::TEXT, text)?;
    let on_busy = columns.optional(23, "lock_on_busy", expected::ON_BUSY, |v| {
        OnBusy::parse(&text(v)?)
    })?;
    let lock = match (lock_name, on_busy) {
        (Some(name), Some(on_busy)) => Some(RunLock { name, on_busy }),
        (None, None) => None,
        _ => {
            columns.problem("lock_on_busy", expected::ON_BUSY);
            None
        }
    };
    let run = Run {
        id: columns.required(0, "id", expected::TEXT, text, "?".into())?,
        job: columns.required(1, "job", expected::TEXT, text, "?".into())?,
        queue: columns.required(2, "queue", expected::TEXT, text, "?".into())?,
        status: columns.required(
            3,
            "status",
            expected::STATUS,
            |v| RunStatus::parse(&text(v)?),
            RunStatus::Failed,
        )?,
        trigger: columns.required(
            4,
            "trigger",
            expected::TRIGGER,
            |v| Trigger::parse(&text(v)?),
            Trigger::Manual,
        )?,
        scheduled_for: columns.optional(5, "scheduled_for", expected::TIME, time)?,
        attempt: columns.required(6, "attempt", expected::COUNT, integer, 1)?,
        max_attempts: columns.required(7, "max_attempts", expected::COUNT, integer, 1)?,
        retry_of: columns.optional(8, "retry_of", expected::TEXT, text)?,
        host: columns.optional(9, "host", expected::TEXT, text)?,
        worker: columns.optional(10, "worker", expected::TEXT, text)?,
        exit_code: columns.optional(11, "exit_code", expected::INTEGER, integer)?,
        signal: columns.optional(12, "signal", expected::INTEGER, integer)?,
        queued_at: columns.required(13, "queued_at", expected::TIME, time, Utc::now())?,
        started_at: columns.optional(14, "started_at", expected::TIME, time)?,
        finished_at: columns.optional(15, "finished_at", expected::TIME, time)?,
        progress: columns.optional(16, "progress", expected::PERCENT, |v| {
            integer(v).filter(|p: &u8| *p <= 100)
        })?,
        message: columns.optional(17, "message", expected::TEXT, text)?,
        reason: columns.optional(18, "reason", expected::TEXT, text)?,
        args: columns.required(19, "args", expected::ARGS, json, Vec::new())?,
        env: columns.required(20, "env", expected::ENV, json, Default::default())?,
        not_before: columns.optional(21, "not_before", expected::TIME, time)?,
        lock,
        cancel_requested: columns.required(24, "cancel_requested", expected::FLAG, flag, false)?,
        forced: columns.required(25, "forced", expected::FLAG, flag, false)?,
        by: columns.optional(26, "requested_by", expected::TEXT, text)?,
    };
    Ok((run, columns.problems))
}

/// Reads the columns of a row, noting each that cannot be read.
struct Columns<'a, 'r> {
    row: &'a Row<'r>,
    problems: Vec<Unreadable>,
}

impl Columns<'_, '_> {
    fn problem(&mut self, field: &str, expected: &'static str) {
        self.problems.push(Unreadable::invalid(field, expected));
    }

    /// A column that may be NULL: `None` then, or when it cannot be read.
    fn optional<T>(
        &mut self,
        index: usize,
        field: &str,
        expected: &'static str,
        read: impl FnOnce(ValueRef<'_>) -> Option<T>,
    ) -> rusqlite::Result<Option<T>> {
        let value = self.row.get_ref(index)?;
        if value == ValueRef::Null {
            return Ok(None);
        }
        let read = read(value);
        if read.is_none() {
            self.problem(field, expected);
        }
        Ok(read)
    }

    /// A column every run has: `default` when it is NULL or cannot be read.
    fn required<T>(
        &mut self,
        index: usize,
        field: &str,
        expected: &'static str,
        read: impl FnOnce(ValueRef<'_>) -> Option<T>,
        default: T,
    ) -> rusqlite::Result<T> {
        if self.row.get_ref(index)? == ValueRef::Null {
            self.problem(field, expected::PRESENT);
            return Ok(default);
        }
        Ok(self
            .optional(index, field, expected, read)?
            .unwrap_or(default))
    }
}

/// Text, as a text column holds it (a number stored there is its digits).
fn text(value: ValueRef<'_>) -> Option<String> {
    match value {
        ValueRef::Text(bytes) => String::from_utf8(bytes.to_vec()).ok(),
        ValueRef::Integer(n) => Some(n.to_string()),
        ValueRef::Real(x) => Some(x.to_string()),
        ValueRef::Null | ValueRef::Blob(_) => None,
    }
}

/// A flag column: 0 or 1.
fn flag(value: ValueRef<'_>) -> Option<bool> {
    match value {
        ValueRef::Integer(0) => Some(false),
        ValueRef::Integer(1) => Some(true),
        _ => None,
    }
}

fn integer<T: TryFrom<i64>>(value: ValueRef<'_>) -> Option<T> {
    match value {
        ValueRef::Integer(n) => T::try_from(n).ok(),
        _ => None,
    }
}

fn time(value: ValueRef<'_>) -> Option<DateTime<Utc>> {
    DateTime::from_timestamp_millis(integer(value)?)
}

fn json<T: serde::de::DeserializeOwned>(value: ValueRef<'_>) -> Option<T> {
    match value {
        ValueRef::Text(bytes) => serde_json::from_slice(bytes).ok(),
        _ => None,
    }
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
         lock_name, lock_on_busy, forced, requested_by) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, \
         ?18, ?19) \
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
                retry_of.or(run.rerun_of.as_deref()),
                now,
                finished_at,
                reason,
                serde_json::to_string(&run.args).expect("strings serialize"),
                serde_json::to_string(&run.env).expect("strings serialize"),
                run.not_before.map(ms),
                lock_name,
                on_busy,
                run.forced,
                run.by,
            ],
            run_from_row,
        )?;
    Ok(inserted)
}
