//! Firing: the claim of one (job, instant), or of its second pass after the clock was
//! stepped back, with the run it records, in one transaction.

use chrono::{DateTime, Utc};
use rusqlite::params;

use super::SqliteStore;
use super::rows::{insert_run, ms};
use super::transitions::busy;
use crate::store::{NewRun, Result, Run, RunStatus};

impl SqliteStore {
    /// Claims (job, instant), or (job, instant, pass) for an instant that came round again
    /// after the clock was stepped back, records the run and queues it (or records it
    /// skipped), in one transaction. A second pass is claimed under `JOB@PASS_MS` in the
    /// same table: no job name holds `@`, so it never meets a first pass.
    pub(super) async fn claim_fire(
        &self,
        run: NewRun,
        instant: DateTime<Utc>,
        pass: Option<DateTime<Utc>>,
        skip: Option<String>,
    ) -> Result<Option<Run>> {
        let claim = match pass {
            None => run.job.clone(),
            Some(pass) => second_pass_claim(&run.job, pass),
        };
        let fired = self
            .write(move |tx, _| {
                // The write lock is held from BEGIN IMMEDIATE: no other process can
                // claim between this check and the insert.
                let claimed: bool = tx
                    .prepare_cached("SELECT 1 FROM fires WHERE job = ?1 AND instant = ?2")?
                    .exists(params![claim, ms(instant)])?;
                if claimed {
                    return Ok(None);
                }
                // A forbid job is skipped while another run holds its lock (is running).
                let skip = match skip {
                    Some(reason) => Some(reason),
                    None => busy(tx, &run, false)?.map(|busy| format!("skipped: {busy}")),
                };
                let status = if skip.is_some() {
                    RunStatus::Skipped
                } else {
                    RunStatus::Queued
                };
                let recorded = insert_run(tx, &run, status, 1, None, skip.as_deref())?;
                tx.prepare_cached("INSERT INTO fires (job, instant, run_id) VALUES (?1, ?2, ?3)")?
                    .execute(params![claim, ms(instant), recorded.id])?;
                // A second pass is behind the marker by definition: it stays.
                if pass.is_none() {
                    tx.prepare_cached(
                        "INSERT INTO last_fired (job, instant) VALUES (?1, ?2) \
                         ON CONFLICT (job) DO UPDATE SET instant = max(instant, excluded.instant)",
                    )?
                    .execute(params![run.job, ms(instant)])?;
                }
                Ok(Some(recorded))
            })
            .await?;
        if fired
            .as_ref()
            .is_some_and(|run| run.status == RunStatus::Queued)
        {
            self.inner.enqueued.notify_waiters();
        }
        Ok(fired)
    }
}

/// The name a second pass of `job`'s instants is claimed under.
fn second_pass_claim(job: &str, pass: DateTime<Utc>) -> String {
    format!("{job}@{}", ms(pass))
}
