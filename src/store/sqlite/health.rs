//! Job health in the embedded store: one row per job in `job_health`, read and written
//! in one write transaction, so of two processes recording at once one sees the other's.
//! The change it makes goes into the outbox in the same transaction.

use std::time::Duration;

use rusqlite::{OptionalExtension, params};

use super::SqliteStore;
use super::notices::insert_notice;
use super::rows::ms;
use crate::store::{Health, HealthChange, Result};

impl SqliteStore {
    pub(super) async fn record_job_health(
        &self,
        job: &str,
        run: Option<&str>,
        failed: bool,
        remind: Option<Duration>,
    ) -> Result<Option<HealthChange>> {
        let (job, run) = (job.to_string(), run.map(str::to_string));
        self.write(move |tx, _| {
            let found = tx
                .prepare_cached(
                    "SELECT failing, notified_at, last_run FROM job_health WHERE job = ?1",
                )?
                .query_row([&job], |row| {
                    Ok(Health {
                        failing: row.get(0)?,
                        notified_at_ms: row.get(1)?,
                        last_run: row.get(2)?,
                    })
                })
                .optional()?;
            // A timer's look at a job never recorded has nothing to remind of.
            if run.is_none() && found.is_none() {
                return Ok(None);
            }
            let health = found.unwrap_or_default();
            let now = ms(chrono::Utc::now());
            let (change, next) = health.after(run.as_deref(), failed, remind, now);
            if change.is_none() && run.is_none() {
                return Ok(None);
            }
            tx.prepare_cached(
                "INSERT OR REPLACE INTO job_health (job, failing, notified_at, last_run) \
                 VALUES (?1, ?2, ?3, ?4)",
            )?
            .execute(params![
                job,
                next.failing,
                next.notified_at_ms,
                next.last_run.unwrap_or_default()
            ])?;
            if let Some(change) = change {
                let notice = change.notice(&job, run.as_deref(), health.last_run.as_deref(), now);
                insert_notice(tx, &notice, now)?;
            }
            Ok(change)
        })
        .await
    }
}
