//! Every job's last run and last success in two grouped queries, for `/metrics`.

use std::collections::{HashMap, HashSet};

use super::SqliteStore;
use super::rows::from_ms;
use crate::store::{LastRuns, Result, RunStatus};

impl SqliteStore {
    pub(super) async fn read_last_runs(&self, jobs: &[&str]) -> Result<HashMap<String, LastRuns>> {
        let wanted: HashSet<String> = jobs.iter().map(|job| job.to_string()).collect();
        self.call(move |conn, _| {
            let mut last: HashMap<String, LastRuns> = HashMap::new();
            // SQLite takes the bare columns of a query with a single max() from the row
            // that holds the max: each job's newest run of those statuses.
            let mut newest = conn.prepare_cached(
                "SELECT job, status, coalesce(finished_at, queued_at), max(seq) FROM runs \
                 WHERE status IN ('succeeded', 'failed', 'timed_out', 'cancelled', 'lost') \
                 GROUP BY job",
            )?;
            let rows = newest.query_map([], |row| {
                Ok((
                    row.get::<_, String>(0)?,
                    row.get::<_, String>(1)?,
                    from_ms(row.get(2)?)?,
                ))
            })?;
            for row in rows {
                let (job, status, ended) = row?;
                let Some(status) = RunStatus::parse(&status) else {
                    continue;
                };
                if wanted.contains(&job) {
                    last.entry(job).or_default().run = Some((status, ended));
                }
            }
            let mut succeeded = conn.prepare_cached(
                "SELECT job, coalesce(finished_at, queued_at), max(seq) FROM runs \
                 WHERE status = 'succeeded' GROUP BY job",
            )?;
            let rows = succeeded.query_map([], |row| {
                Ok((row.get::<_, String>(0)?, from_ms(row.get(1)?)?))
            })?;
            for row in rows {
                let (job, ended) = row?;
                if wanted.contains(&job) {
                    last.entry(job).or_default().success = Some(ended);
                }
            }
            Ok(last)
        })
        .await
    }
}
