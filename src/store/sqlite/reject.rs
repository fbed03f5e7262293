//! Queued runs a reserve cannot hand out: one too large to read, or one whose columns
//! do not decode (written by hand). Inside the reserve's transaction the run is
//! recorded failed with the reason (`store/unreadable.rs`), each column named gets a
//! readable value, and the reserve goes on to the next run, rather than failing each
//! time with the run at the head of its queue.

use chrono::Utc;
use rusqlite::types::Value;
use rusqlite::{Transaction, params_from_iter};

use super::rows::{RUN_COLUMNS, decode_run, ms};
use crate::store::unreadable::{self, Unreadable};
use crate::store::{Result, WorkerRef, new_run_id};

/// The columns of a run, each with the field of [`crate::store::Run`] it holds.
const FIELDS: [(&str, &str); 26] = [
    ("id", "id"),
    ("job", "job"),
    ("queue", "queue"),
    ("status", "status"),
    ("trigger_kind", "trigger"),
    ("scheduled_for", "scheduled_for"),
    ("attempt", "attempt"),
    ("max_attempts", "max_attempts"),
    ("retry_of", "retry_of"),
    ("host", "host"),
    ("worker", "worker"),
    ("exit_code", "exit_code"),
    ("signal", "signal"),
    ("queued_at", "queued_at"),
    ("started_at", "started_at"),
    ("finished_at", "finished_at"),
    ("progress", "progress"),
    ("message", "message"),
    ("reason", "reason"),
    ("args", "args"),
    ("env", "env"),
    ("not_before", "not_before"),
    ("lock_name", "lock_name"),
    ("lock_on_busy", "lock_on_busy"),
    ("cancel_requested", "cancel_requested"),
    ("forced", "forced"),
];

/// The bytes a run's row holds in all its columns, measured without reading them (the
/// length of a value is in its record header): SQL for the reserve's query.
pub(super) const ROW_BYTES: &str = "coalesce(octet_length(id), 0) + coalesce(octet_length(job), 0) \
    + coalesce(octet_length(queue), 0) + coalesce(octet_length(status), 0) \
    + coalesce(octet_length(trigger_kind), 0) + coalesce(octet_length(scheduled_for), 0) \
    + coalesce(octet_length(attempt), 0) + coalesce(octet_length(max_attempts), 0) \
    + coalesce(octet_length(retry_of), 0) + coalesce(octet_length(host), 0) \
    + coalesce(octet_length(worker), 0) + coalesce(octet_length(exit_code), 0) \
    + coalesce(octet_length(signal), 0) + coalesce(octet_length(queued_at), 0) \
    + coalesce(octet_length(started_at), 0) + coalesce(octet_length(finished_at), 0) \
    + coalesce(octet_length(progress), 0) + coalesce(octet_length(message), 0) \
    + coalesce(octet_length(reason), 0) + coalesce(octet_length(args), 0) \
    + coalesce(octet_length(env), 0) + coalesce(octet_length(not_before), 0) \
    + coalesce(octet_length(lock_name), 0) + coalesce(octet_length(lock_on_busy), 0) \
    + coalesce(octet_length(cancel_requested), 0) + coalesce(octet_length(forced), 0)";

/// What makes run `seq` too large to read, measured column by column: the first
/// column over its bound, else `args` and `env` together over theirs.
pub(super) fn oversized(tx: &Transaction, seq: i64) -> Result<Option<Unreadable>> {
    let lengths: Vec<String> = FIELDS
        .iter()
        .map(|(column, _)| format!("coalesce(octet_length({column}), 0)"))
        .collect();
    let sql = format!("SELECT {} FROM runs WHERE seq = ?1", lengths.join(", "));
    let sizes: Vec<u64> = tx.query_row(&sql, [seq], |row| {
        (0..FIELDS.len())
            .map(|i| row.get::<_, i64>(i).map(|n| n.max(0) as u64))
            .collect()
    })?;
    let fields = FIELDS.iter().map(|(_, field)| *field);
    Ok(Unreadable::of_sizes(fields.zip(sizes)))
}

/// Records run `seq` failed because of `found` (from a size check; empty after a
/// decode that failed) and whatever else its row does not decode, reserved by
/// `worker`, with each column named made readable. Not retried: it would be as
/// unreadable. Its cluster lock, if it took one, the caller releases.
pub(super) fn reject(
    tx: &Transaction,
    seq: i64,
    found: Vec<Unreadable>,
    queue: &str,
    worker: &WorkerRef,
) -> Result<()> {
    let mut problems = found;
    // A column too large is emptied first, so that the decode below reads it small.
    repair(tx, seq, &problems, queue)?;
    let sql = format!("SELECT {RUN_COLUMNS} FROM runs WHERE seq = ?1");
    let (_, more) = tx.query_row(&sql, [seq], decode_run)?;
    repair(tx, seq, &more, queue)?;
    problems.extend(more);
    let reason = unreadable::reason(&problems);
    tracing::warn!(worker = %worker.id, %reason, "a queued run cannot be read: it is recorded failed");
    let now = ms(Utc::now());
    tx.execute(
        "UPDATE runs SET status = 'failed', reason = ?2, host = ?3, worker = ?4, \
         started_at = ?5, finished_at = ?5, lease_token = NULL, lease_until = NULL \
         WHERE seq = ?1",
        rusqlite::params![seq, reason, worker.host, worker.id, now],
    )?;
    Ok(())
}

/// Gives each column that `problems` name a readable value: the default of a column
/// every run has, NULL for the others.
fn repair(tx: &Transaction, seq: i64, problems: &[Unreadable], queue: &str) -> Result<()> {
    let mut sets = Vec::new();
    let mut values = vec![Value::Integer(seq)];
    for field in problems.iter().flat_map(Unreadable::fields) {
        // Only the names of the schema reach the SQL.
        let Some((column, _)) = FIELDS.iter().find(|(_, f)| *f == field) else {
            continue;
        };
        let value = match *column {
            "id" => Value::Text(new_run_id()),
            "job" => Value::Text("?".into()),
            "queue" => Value::Text(queue.into()),
            "trigger_kind" => Value::Text("manual".into()),
            "attempt" | "max_attempts" => Value::Integer(1),
            "queued_at" => Value::Integer(ms(Utc::now())),
            "args" => Value::Text("[]".into()),
            "env" => Value::Text("{}".into()),
            "cancel_requested" | "forced" => Value::Integer(0),
            // `status` is set by `reject` itself.
            "status" => continue,
            _ => Value::Null,
        };
        values.push(value);
        sets.push(format!("{column} = ?{}", values.len()));
    }
    if sets.is_empty() {
        return Ok(());
    }
    let sql = format!("UPDATE runs SET {} WHERE seq = ?1", sets.join(", "));
    tx.execute(&sql, params_from_iter(values))?;
    Ok(())
}
