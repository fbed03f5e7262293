//! The reads of pages that show many runs at once: a page of the history after a
//! cursor, found through the index by creation order (`seq`), and the last runs of many
//! jobs in one call.

use super::SqliteStore;
use super::rows::{RUN_COLUMNS, from_ms, ms, opt_from_ms, query_runs};
use crate::store::{HistoryPage, Result, Run, RunBrief, RunStatus, StoreError};

impl SqliteStore {
    pub(super) async fn page_of_history(&self, page: &HistoryPage) -> Result<Vec<Run>> {
        let page = page.clone();
        self.call(move |conn, _| {
            let filter = &page.filter;
            let mut sql = format!("SELECT {RUN_COLUMNS} FROM runs WHERE 1 = 1");
            let mut values: Vec<rusqlite::types::Value> = Vec::new();
            let mark = |value: rusqlite::types::Value, values: &mut Vec<_>| {
                values.push(value);
                format!("?{}", values.len())
            };
            if let Some(job) = &filter.job {
                sql.push_str(&format!(
                    " AND job = {}",
                    mark(job.clone().into(), &mut values)
                ));
            }
            if !filter.statuses.is_empty() {
                let marks: Vec<String> = filter
                    .statuses
                    .iter()
                    .map(|s| mark(s.as_str().to_string().into(), &mut values))
                    .collect();
                sql.push_str(&format!(" AND status IN ({})", marks.join(", ")));
            }
            if let Some(trigger) = page.trigger {
                let m = mark(trigger.as_str().to_string().into(), &mut values);
                sql.push_str(&format!(" AND trigger_kind = {m}"));
            }
            if let Some(since) = filter.since {
                sql.push_str(&format!(
                    " AND queued_at >= {}",
                    mark(ms(since).into(), &mut values)
                ));
            }
            if let Some(until) = page.until {
                sql.push_str(&format!(
                    " AND queued_at < {}",
                    mark(ms(until).into(), &mut values)
                ));
            }
            if let Some(before) = &page.before {
                // A cursor whose run was pruned matches no row: the page is empty, and the
                // caller starts again from the newest.
                let m = mark(before.clone().into(), &mut values);
                sql.push_str(&format!(" AND seq < (SELECT seq FROM runs WHERE id = {m})"));
            }
            let limit = match filter.limit {
                0 => -1,
                limit => i64::try_from(limit).unwrap_or(i64::MAX),
            };
            let m = mark(limit.into(), &mut values);
            sql.push_str(&format!(" ORDER BY seq DESC LIMIT {m}"));
            query_runs(conn, &sql, rusqlite::params_from_iter(values))
        })
        .await
    }

    /// Five columns a run, not all of them: a strip of 20 runs for each of 10,000 jobs
    /// reads 200,000 rows, and decoding whole runs was most of the page's time.
    pub(super) async fn last_runs_of(
        &self,
        jobs: &[String],
        count: usize,
    ) -> Result<Vec<Vec<RunBrief>>> {
        if jobs.is_empty() {
            return Ok(Vec::new());
        }
        let names = serde_json::Value::from(jobs.to_vec()).to_string();
        // Each job's runs from its `count`-th newest on: the index by (job, seq) finds
        // the bound and then the range. No count: an offset past any job's runs, so the
        // bound is 0 and every run is read.
        let offset = match count {
            0 => i64::MAX,
            count => i64::try_from(count - 1).unwrap_or(i64::MAX),
        };
        let wanted = jobs.len();
        self.call(move |conn, _| {
            // One statement for every job (not one a job): 10,000 jobs' strips.
            let mut statement = conn.prepare_cached(
                "SELECT j.key, r.seq, r.id, r.status, r.queued_at, r.started_at, r.finished_at \
                 FROM json_each(?1) j JOIN runs r ON r.job = j.value AND r.seq >= coalesce( \
                   (SELECT seq FROM runs WHERE job = j.value ORDER BY seq DESC LIMIT 1 OFFSET ?2), 0)",
            )?;
            let mut all: Vec<Vec<(i64, RunBrief)>> = (0..wanted).map(|_| Vec::new()).collect();
            let mut rows = statement.query(rusqlite::params![names, offset])?;
            while let Some(row) = rows.next()? {
                let index = usize::try_from(row.get::<_, i64>(0)?).unwrap_or(usize::MAX);
                let id: String = row.get(2)?;
                let status = row.get_ref(3)?.as_str().unwrap_or_default();
                let status = RunStatus::parse(status).ok_or_else(|| {
                    StoreError::Corrupt(format!(
                        "run {id} has status `{status}`, which is none"
                    ))
                })?;
                let brief = RunBrief {
                    id,
                    status,
                    queued_at: from_ms(row.get(4)?)?,
                    started_at: opt_from_ms(row.get(5)?)?,
                    finished_at: opt_from_ms(row.get(6)?)?,
                };
                if let Some(runs) = all.get_mut(index) {
                    runs.push((row.get(1)?, brief));
                }
            }
            // Newest first, whatever order the join gave.
            Ok(all
                .into_iter()
                .map(|mut runs| {
                    runs.sort_by_key(|(seq, _)| std::cmp::Reverse(*seq));
                    runs.into_iter().map(|(_, brief)| brief).collect()
                })
                .collect())
        })
        .await
    }
}
