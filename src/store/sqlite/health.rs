//! Job health in the embedded store: one row per job in `job_health`, read and written
//! in one write transaction, so of two processes recording at once one sees the other's.

use std::time::Duration;

use rusqlite::{OptionalExtension, params};

use super::SqliteStore;
use super::rows::ms;
use crate::store::{Health, HealthChange, Result};

impl SqliteStore {
    pub(super) async fn record_job_health(
        &self,
        job: &str,
        run: &str,
        failed: bool,
        remind: Option<Duration>,
    ) -> Result<Option<HealthChange>> {
        let (job, run) = (job.to_string(), run.to_string());
        self.write(move |tx, _| {
            let health = tx
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
                .optional()?
                .unwrap_or_default();
            let (change, next) = health.after(&run, failed, remind, ms(chrono::Utc::now()));
            tx.prepare_cached(
                "INSERT OR REPLACE INTO job_health (job, failing, notified_at, last_run) \
                 VALUES (?1, ?2, ?3, ?4)",
            )?
            .execute(params![job, next.failing, next.notified_at_ms, run])?;
            Ok(change)
        })
        .await
    }
}
