//! The outbox in the embedded store: the `notices` table, each row claimed by one
//! sender at a time (`owner`, `until`), and `target_failures`. A sent notice stays as a
//! marker for [`NOTICE_KEEP`], so a change recorded again is still recorded once.

use std::time::Duration;

use rusqlite::{OptionalExtension, Transaction, params};

use super::SqliteStore;
use super::rows::{duration_ms, from_ms, ms};
use crate::store::{NOTICE_KEEP, NewNotice, Notice, Result, TargetFailure, parse_sent};

/// Adds `notice` unless its key is there; true when added.
pub(super) fn insert_notice(tx: &Transaction, notice: &NewNotice, now: i64) -> Result<bool> {
    let added = tx
        .prepare_cached(
            "INSERT OR IGNORE INTO notices (key, job, event, reminder, run_id, detail, created, until) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7)",
        )?
        .execute(params![
            notice.key,
            notice.job,
            notice.event,
            notice.reminder,
            notice.run,
            notice.detail,
            now
        ])?;
    Ok(added == 1)
}

impl SqliteStore {
    pub(super) async fn add_one_notice(&self, notice: &NewNotice) -> Result<bool> {
        let notice = notice.clone();
        self.write(move |tx, _| insert_notice(tx, &notice, ms(chrono::Utc::now())))
            .await
    }

    pub(super) async fn claim_some_notices(
        &self,
        owner: &str,
        lease: Duration,
        limit: usize,
    ) -> Result<Vec<Notice>> {
        // A read first: most looks find nothing due, and take no write lock for it.
        let now = ms(chrono::Utc::now());
        let due: bool = self
            .call(move |conn, _| {
                Ok(conn
                    .prepare_cached(
                        "SELECT 1 FROM notices WHERE done_at IS NULL AND until <= ?1 LIMIT 1",
                    )?
                    .query_row([now], |_| Ok(()))
                    .optional()?
                    .is_some())
            })
            .await?;
        if !due {
            return Ok(Vec::new());
        }
        let owner = owner.to_string();
        self.write(move |tx, _| {
            let now = ms(chrono::Utc::now());
            tx.prepare_cached("DELETE FROM notices WHERE done_at < ?1")?
                .execute([now - duration_ms(NOTICE_KEEP)])?;
            let claimed: Vec<Notice> = tx
                .prepare_cached(
                    "SELECT key, job, event, reminder, run_id, detail, created, sent FROM notices \
                     WHERE done_at IS NULL AND until <= ?1 ORDER BY until, key LIMIT ?2",
                )?
                .query_map(params![now, limit as i64], |row| {
                    Ok(Notice {
                        notice: NewNotice {
                            key: row.get(0)?,
                            job: row.get(1)?,
                            event: row.get(2)?,
                            reminder: row.get(3)?,
                            run: row.get(4)?,
                            detail: row.get(5)?,
                        },
                        created_at: from_ms(row.get(6)?)?,
                        sent: parse_sent(&row.get::<_, String>(7)?),
                    })
                })?
                .collect::<rusqlite::Result<_>>()?;
            let mut claim =
                tx.prepare_cached("UPDATE notices SET owner = ?1, until = ?2 WHERE key = ?3")?;
            for notice in &claimed {
                claim.execute(params![owner, now + duration_ms(lease), notice.notice.key])?;
            }
            Ok(claimed)
        })
        .await
    }

    pub(super) async fn notice_moved_on(
        &self,
        key: &str,
        owner: &str,
        sent: Option<u32>,
        done: bool,
        lease: Duration,
    ) -> Result<bool> {
        let (key, owner) = (key.to_string(), owner.to_string());
        self.write(move |tx, _| {
            let now = ms(chrono::Utc::now());
            let held: Option<String> = tx
                .prepare_cached(
                    "SELECT sent FROM notices WHERE key = ?1 AND owner = ?2 AND done_at IS NULL",
                )?
                .query_row(params![key, owner], |row| row.get(0))
                .optional()?;
            let Some(mut list) = held else {
                return Ok(false);
            };
            if let Some(target) = sent.filter(|t| !parse_sent(&list).contains(t)) {
                if !list.is_empty() {
                    list.push(',');
                }
                list.push_str(&target.to_string());
            }
            tx.prepare_cached(
                "UPDATE notices SET sent = ?1, until = ?2, done_at = ?3 WHERE key = ?4",
            )?
            .execute(params![
                list,
                now + duration_ms(lease),
                done.then_some(now),
                key
            ])?;
            Ok(true)
        })
        .await
    }

    pub(super) async fn set_target(
        &self,
        job: &str,
        target: &str,
        error: Option<&str>,
    ) -> Result<()> {
        let (job, target) = (job.to_string(), target.to_string());
        let error = error.map(str::to_string);
        self.write(move |tx, _| {
            match error {
                Some(error) => tx
                    .prepare_cached(
                        "INSERT OR REPLACE INTO target_failures (job, target, at, error) \
                         VALUES (?1, ?2, ?3, ?4)",
                    )?
                    .execute(params![job, target, ms(chrono::Utc::now()), error])?,
                None => tx
                    .prepare_cached("DELETE FROM target_failures WHERE job = ?1 AND target = ?2")?
                    .execute(params![job, target])?,
            };
            Ok(())
        })
        .await
    }

    pub(super) async fn read_target_failures(&self) -> Result<Vec<TargetFailure>> {
        self.call(|conn, _| {
            let failures = conn
                .prepare_cached(
                    "SELECT job, target, at, error FROM target_failures ORDER BY job, target",
                )?
                .query_map([], |row| {
                    Ok(TargetFailure {
                        job: row.get(0)?,
                        target: row.get(1)?,
                        at: from_ms(row.get(2)?)?,
                        error: row.get(3)?,
                    })
                })?
                .collect::<rusqlite::Result<_>>()?;
            Ok(failures)
        })
        .await
    }
}
