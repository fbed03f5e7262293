//! The steps that move a run between statuses inside one transaction: take it under a
//! lease, check the lease, end it (with its retry), and the cluster lock they share.

use std::time::Duration;

use chrono::{DateTime, Utc};
use rusqlite::types::Value;
use rusqlite::{Connection, OptionalExtension, Transaction, params};

use super::reject::{ROW_BYTES, oversized, reject};
use super::rows::{RUN_COLUMNS, decode_run, duration_ms, from_ms, insert_run, ms, run_from_row};
use crate::store::unreadable::{MAX_FIELD_BYTES, MAX_PAYLOAD_BYTES};
use crate::store::{
    Finished, Lease, NewRun, OnBusy, Outcome, Result, Run, RunLock, RunStatus, StoreError, Trigger,
    WorkerRef, new_token,
};

/// Checks that `lease` is the current, unexpired lease of a running run.
pub(super) fn check_lease(tx: &Connection, lease: &Lease) -> Result<()> {
    let held: Option<(String, Option<String>, Option<i64>)> = tx
        .prepare_cached("SELECT status, lease_token, lease_until FROM runs WHERE id = ?1")?
        .query_row([&lease.run], |row| {
            Ok((row.get(0)?, row.get(1)?, row.get(2)?))
        })
        .optional()?;
    let now = ms(Utc::now());
    match held {
        // An expired lease is gone even before a reaper notices: the run may be reaped
        // and retried at any moment, so its holder must not act on it.
        Some((status, Some(token), Some(until)))
            if status == "running" && token == lease.token && until >= now =>
        {
            Ok(())
        }
        Some(_) => Err(StoreError::LeaseLost(lease.run.clone())),
        None => Err(StoreError::NotFound(lease.run.clone())),
    }
}

/// Ends a run the caller holds the lease of with its outcome; a failure or timeout is
/// retried after `retry_in` when attempts remain.
pub(super) fn finish_held(
    tx: &Transaction,
    lease: &Lease,
    outcome: &Outcome,
    retry_in: Duration,
) -> Result<Finished> {
    check_lease(tx, lease)?;
    let retry =
        matches!(outcome.status, RunStatus::Failed | RunStatus::TimedOut).then_some(retry_in);
    end_run(tx, &lease.run, outcome, retry)
}

/// Ends a running run, releases its lock, and queues its next attempt when `retry_in`
/// is given and attempts remain.
pub(super) fn end_run(
    tx: &Transaction,
    id: &str,
    outcome: &Outcome,
    retry_in: Option<Duration>,
) -> Result<Finished> {
    let now = Utc::now();
    let run = tx
        .prepare_cached(&format!(
            "UPDATE runs SET status = ?2, exit_code = ?3, signal = ?4, reason = ?5, \
             finished_at = ?6, lease_token = NULL, lease_until = NULL WHERE id = ?1 \
             RETURNING {RUN_COLUMNS}"
        ))?
        .query_row(
            params![
                id,
                outcome.status.as_str(),
                outcome.exit_code,
                outcome.signal,
                outcome.reason,
                ms(now)
            ],
            run_from_row,
        )?;
    if let Some(lock) = &run.lock {
        tx.execute(
            "DELETE FROM locks WHERE name = ?1 AND owner = ?2",
            params![lock.name, id],
        )?;
    }
    let retry = match retry_in {
        Some(delay) if run.attempt < run.max_attempts => {
            let next = NewRun {
                job: run.job.clone(),
                queue: run.queue.clone(),
                trigger: Trigger::Retry,
                scheduled_for: run.scheduled_for,
                max_attempts: run.max_attempts,
                args: run.args.clone(),
                env: run.env.clone(),
                not_before: Some(now + chrono::Duration::milliseconds(duration_ms(delay))),
                lock: run.lock.clone(),
                by: run.by.clone(),
                forced: run.forced,
                rerun_of: None,
            };
            Some(insert_run(
                tx,
                &next,
                RunStatus::Queued,
                run.attempt + 1,
                Some(id),
                None,
            )?)
        }
        _ => None,
    };
    Ok(Finished { run, retry })
}

/// One reserve attempt, in its own transaction: the first ready run of the first queue
/// that has one, with its cluster lock taken. A run that cannot be handed out (too
/// large, or not readable) is recorded failed on the way (`reject.rs`).
pub(super) fn try_reserve(
    tx: &Transaction,
    queues: &[String],
    worker: &WorkerRef,
    lease_for: Duration,
) -> Result<Option<(Run, Lease)>> {
    let now = ms(Utc::now());
    for queue in queues {
        let mut after_seq = 0;
        // The head alone is nearly always enough; runs waiting for their lock are passed
        // over a growing batch at a time.
        let mut batch_size = 1;
        loop {
            // Read as values: a row written by hand may hold anything. A `not_before`
            // that is no time is due, so that its run is read (and refused) too.
            let batch: Vec<(i64, i64, Value, Value, Value, bool)> = tx
                .prepare_cached(&format!(
                    "SELECT seq, {ROW_BYTES}, id, lock_name, lock_on_busy, forced = 1 FROM runs \
                     WHERE status = 'queued' AND queue = ?1 AND seq > ?2 \
                     AND (not_before IS NULL OR not_before <= ?3 \
                          OR typeof(not_before) != 'integer') \
                     ORDER BY seq LIMIT ?4"
                ))?
                .query_map(params![queue, after_seq, now, batch_size], |row| {
                    Ok((
                        row.get(0)?,
                        row.get(1)?,
                        row.get(2)?,
                        row.get(3)?,
                        row.get(4)?,
                        row.get(5).unwrap_or(false),
                    ))
                })?
                .collect::<rusqlite::Result<_>>()?;
            let Some(last) = batch.last() else { break };
            after_seq = last.0;
            batch_size = (batch_size * 8).min(64);
            for (seq, bytes, id, lock_name, on_busy, forced) in batch {
                if bytes as u64 > MAX_FIELD_BYTES.min(MAX_PAYLOAD_BYTES)
                    && let Some(problem) = oversized(tx, seq)?
                {
                    reject(tx, seq, vec![problem], queue, worker)?;
                    continue;
                }
                let (Value::Text(id), Some(lock)) = (id, lock_of(lock_name, on_busy)) else {
                    reject(tx, seq, Vec::new(), queue, worker)?;
                    continue;
                };
                let lease_until = now + duration_ms(lease_for);
                let holder = match &lock {
                    Some(lock) => take_lock(tx, &lock.name, &id, lease_until)?,
                    None => None,
                };
                // A forced run goes without the lock another run holds.
                if let Some(holder) = holder.filter(|_| !forced) {
                    if lock.as_ref().map(|l| l.on_busy) == Some(OnBusy::Skip) {
                        let name = lock.map(|l| l.name).unwrap_or_default();
                        let reason = format!("skipped: lock `{name}` is held by run {holder}");
                        tx.execute(
                            "UPDATE runs SET status = 'skipped', finished_at = ?2, reason = ?3 \
                             WHERE id = ?1",
                            params![id, now, reason],
                        )?;
                    }
                    continue;
                }
                let token = new_token();
                let (run, problems) = tx
                    .prepare_cached(&format!(
                        "UPDATE runs SET status = 'running', host = ?2, worker = ?3, \
                         started_at = ?4, lease_token = ?5, lease_until = ?6 WHERE seq = ?1 \
                         RETURNING {RUN_COLUMNS}"
                    ))?
                    .query_row(
                        params![seq, worker.host, worker.id, now, token, lease_until],
                        decode_run,
                    )?;
                if !problems.is_empty() {
                    if let Some(lock) = &lock {
                        tx.execute(
                            "DELETE FROM locks WHERE name = ?1 AND owner = ?2",
                            params![lock.name, id],
                        )?;
                    }
                    reject(tx, seq, Vec::new(), queue, worker)?;
                    continue;
                }
                let lease = Lease {
                    run: id,
                    token,
                    expires_at: from_ms(lease_until)?,
                };
                return Ok(Some((run, lease)));
            }
        }
    }
    Ok(None)
}

/// When the earliest run of `queues` that waits for its `not_before` (a retry's delay)
/// is due, if one does: a reserve that found nothing looks again then.
pub(super) fn next_due(tx: &Connection, queues: &[String]) -> Result<Option<DateTime<Utc>>> {
    let now = ms(Utc::now());
    let mut earliest: Option<i64> = None;
    for queue in queues {
        let due: Option<i64> = tx
            .prepare_cached(
                "SELECT min(not_before) FROM runs WHERE status = 'queued' AND queue = ?1 \
                 AND typeof(not_before) = 'integer' AND not_before > ?2",
            )?
            .query_row(params![queue, now], |row| row.get(0))?;
        earliest = match (earliest, due) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
    }
    Ok(earliest.map(from_ms).transpose()?)
}

/// `concurrency: forbid`: why `run` may not be queued now, as `StoreError::Busy`: the
/// run holding its lock (running), else, `with_queued`, the first run queued with that
/// lock. `None` for a run with no `OnBusy::Skip` lock, a forced run, or a lock with no
/// other run.
pub(super) fn busy(tx: &Connection, run: &NewRun, with_queued: bool) -> Result<Option<StoreError>> {
    let Some(lock) = &run.lock else {
        return Ok(None);
    };
    if lock.on_busy != OnBusy::Skip || run.forced {
        return Ok(None);
    }
    let busy = |holder: String, status: RunStatus| StoreError::Busy {
        job: run.job.clone(),
        holder,
        status,
    };
    let holder: Option<String> = tx
        .prepare_cached("SELECT owner FROM locks WHERE name = ?1 AND expires_at > ?2")?
        .query_row(params![lock.name, ms(Utc::now())], |row| row.get(0))
        .optional()?;
    if let Some(holder) = holder {
        return Ok(Some(busy(holder, RunStatus::Running)));
    }
    if !with_queued {
        return Ok(None);
    }
    let queued: Option<String> = tx
        .prepare_cached(
            "SELECT id FROM runs WHERE status = 'queued' AND lock_name = ?1 \
             AND lock_on_busy = 'skip' ORDER BY seq LIMIT 1",
        )?
        .query_row([&lock.name], |row| row.get(0))
        .optional()?;
    Ok(queued.map(|id| busy(id, RunStatus::Queued)))
}

/// The cluster lock of a row's `lock_name` and `lock_on_busy`: `Some(None)` for none,
/// `None` when they do not make one.
fn lock_of(name: Value, on_busy: Value) -> Option<Option<RunLock>> {
    match (name, on_busy) {
        (Value::Null, Value::Null) => Some(None),
        (Value::Text(name), Value::Text(on_busy)) => {
            let on_busy = OnBusy::parse(&on_busy)?;
            Some(Some(RunLock { name, on_busy }))
        }
        _ => None,
    }
}

/// Takes the lock for `owner` if it is free, expired or already `owner`'s; otherwise
/// returns the current holder.
pub(super) fn take_lock(
    tx: &Connection,
    name: &str,
    owner: &str,
    expires_at: i64,
) -> Result<Option<String>> {
    let now = ms(Utc::now());
    let taken = tx
        .prepare_cached(
            "INSERT INTO locks (name, owner, expires_at) VALUES (?1, ?2, ?3) \
             ON CONFLICT (name) DO UPDATE SET owner = excluded.owner, expires_at = excluded.expires_at \
             WHERE locks.expires_at <= ?4 OR locks.owner = excluded.owner",
        )?
        .execute(params![name, owner, expires_at, now])?;
    if taken == 1 {
        return Ok(None);
    }
    let holder = tx.query_row("SELECT owner FROM locks WHERE name = ?1", [name], |row| {
        row.get(0)
    })?;
    Ok(Some(holder))
}
