//! Pauses in the embedded store: the `pauses` table (a job's name, or `*` for every
//! job) and the one-row `pause_version`, which every pause and resume sets to a fresh
//! ULID in the same transaction, so a daemon that reads the same value knows it has
//! them all.

use chrono::{DateTime, Utc};
use rusqlite::{OptionalExtension, Transaction, params};

use super::SqliteStore;
use super::rows::{from_ms, insert_run, ms, opt_from_ms};
use crate::store::{NewRun, Pause, PauseScope, Paused, Result, Run, RunStatus};

impl SqliteStore {
    pub(super) async fn put_pause(&self, scope: &PauseScope, pause: &Pause) -> Result<()> {
        let (key, pause) = (scope.key().to_string(), pause.clone());
        self.write(move |tx, _| {
            tx.prepare_cached(
                "INSERT OR REPLACE INTO pauses (job, reason, paused_by, since, until, recorded) \
                 VALUES (?1, ?2, ?3, ?4, ?5, 0)",
            )?
            .execute(params![
                key,
                pause.reason,
                pause.by,
                ms(pause.since),
                pause.until.map(ms)
            ])?;
            new_version(tx)
        })
        .await
    }

    pub(super) async fn end_pause(&self, scope: &PauseScope) -> Result<Option<Pause>> {
        let key = scope.key().to_string();
        self.write(move |tx, _| {
            let ended = tx
                .prepare_cached(
                    "DELETE FROM pauses WHERE job = ?1 \
                     RETURNING reason, paused_by, since, until",
                )?
                .query_row([key], pause_from_row)
                .optional()?;
            if ended.is_some() {
                new_version(tx)?;
            }
            Ok(ended.filter(|pause| pause.in_force(Utc::now())))
        })
        .await
    }

    pub(super) async fn list_pauses(&self) -> Result<Vec<Paused>> {
        self.call(|conn, _| {
            let mut statement = conn.prepare_cached(
                "SELECT reason, paused_by, since, until, job FROM pauses \
                 WHERE until IS NULL OR until > ?1 ORDER BY job != '*', job",
            )?;
            let pauses = statement
                .query_map([ms(Utc::now())], |row| {
                    let scope = PauseScope::from_key(&row.get::<_, String>(4)?);
                    Ok(Paused {
                        scope,
                        pause: pause_from_row(row)?,
                    })
                })?
                .collect::<rusqlite::Result<_>>()?;
            Ok(pauses)
        })
        .await
    }

    pub(super) async fn read_pause_version(&self) -> Result<Option<String>> {
        self.call(|conn, _| {
            let version = conn
                .prepare_cached("SELECT version FROM pause_version")?
                .query_row([], |row| row.get(0))
                .optional()?;
            Ok(version)
        })
        .await
    }

    pub(super) async fn pass_paused_instant(
        &self,
        run: NewRun,
        instant: DateTime<Utc>,
        scope: &PauseScope,
        reason: String,
        record_limit: u32,
    ) -> Result<Option<Run>> {
        let key = scope.key().to_string();
        self.write(move |tx, _| {
            let recorded: Option<i64> = tx
                .prepare_cached("SELECT recorded FROM pauses WHERE job = ?1")?
                .query_row([&key], |row| row.get(0))
                .optional()?;
            // A pause gone since the daemon read it was just resumed: the instant is
            // recorded, so that none passes without a trace.
            let record = recorded.is_none_or(|count| count < i64::from(record_limit));
            let mut passed = None;
            if record && !claimed(tx, &run.job, instant)? {
                let skipped = insert_run(tx, &run, RunStatus::Skipped, 1, None, Some(&reason))?;
                tx.prepare_cached("INSERT INTO fires (job, instant, run_id) VALUES (?1, ?2, ?3)")?
                    .execute(params![run.job, ms(instant), skipped.id])?;
                tx.prepare_cached("UPDATE pauses SET recorded = recorded + 1 WHERE job = ?1")?
                    .execute([&key])?;
                passed = Some(skipped);
            }
            tx.prepare_cached(
                "INSERT INTO last_fired (job, instant) VALUES (?1, ?2) \
                 ON CONFLICT (job) DO UPDATE SET instant = max(instant, excluded.instant)",
            )?
            .execute(params![run.job, ms(instant)])?;
            Ok(passed)
        })
        .await
    }
}

fn claimed(tx: &Transaction, job: &str, instant: DateTime<Utc>) -> Result<bool> {
    Ok(tx
        .prepare_cached("SELECT 1 FROM fires WHERE job = ?1 AND instant = ?2")?
        .exists(params![job, ms(instant)])?)
}

/// A fresh value for daemons to notice: a ULID never repeats, where a counter would
/// start over with a file made anew.
fn new_version(tx: &Transaction) -> Result<()> {
    tx.prepare_cached("INSERT OR REPLACE INTO pause_version (one, version) VALUES (1, ?1)")?
        .execute([ulid::Ulid::generate().to_string()])?;
    Ok(())
}

/// A pause from the columns `reason, paused_by, since, until`, in that order.
fn pause_from_row(row: &rusqlite::Row) -> rusqlite::Result<Pause> {
    Ok(Pause {
        reason: row.get(0)?,
        by: row.get(1)?,
        since: from_ms(row.get(2)?)?,
        until: opt_from_ms(row.get(3)?)?,
    })
}
