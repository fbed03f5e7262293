//! The read-only side: last fires, history, queues, durations, the registries and the
//! published schedule. Each read is one call off the runtime thread (`calls.rs`).

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use rusqlite::{OptionalExtension, params};

use super::SqliteStore;
use super::rows::{RUN_COLUMNS, from_ms, json_column, ms, opt_from_ms, query_runs};
use crate::store::{
    DaemonInfo, HistoryFilter, PublishedSchedule, QueuedRun, Result, Run, RunId, StoreError,
    WorkerInfo,
};

impl SqliteStore {
    pub(super) async fn read_last_fired(&self, job: &str) -> Result<Option<DateTime<Utc>>> {
        let job = job.to_string();
        self.call(move |conn, _| {
            let instant: Option<i64> = conn
                .query_row(
                    "SELECT instant FROM last_fired WHERE job = ?1",
                    [job],
                    |row| row.get(0),
                )
                .optional()?;
            Ok(opt_from_ms(instant)?)
        })
        .await
    }

    pub(super) async fn read_claims(
        &self,
        job: &str,
        instants: &[DateTime<Utc>],
    ) -> Result<Vec<Option<RunId>>> {
        let job = job.to_string();
        let instants: Vec<i64> = instants.iter().map(|at| at.timestamp_millis()).collect();
        self.call(move |conn, _| {
            let mut statement =
                conn.prepare_cached("SELECT run_id FROM fires WHERE job = ?1 AND instant = ?2")?;
            let claims = instants
                .iter()
                .map(|at| {
                    statement
                        .query_row(params![job, at], |row| row.get(0))
                        .optional()
                })
                .collect::<rusqlite::Result<_>>()?;
            Ok(claims)
        })
        .await
    }

    pub(super) async fn read_last_fires(&self) -> Result<HashMap<String, DateTime<Utc>>> {
        self.call(|conn, _| {
            let mut statement = conn.prepare_cached("SELECT job, instant FROM last_fired")?;
            let fires = statement
                .query_map([], |row| Ok((row.get(0)?, from_ms(row.get(1)?)?)))?
                .collect::<rusqlite::Result<_>>()?;
            Ok(fires)
        })
        .await
    }

    /// A range of the unique index on `id`: from `prefix` to `prefix` followed by a
    /// byte above every character of an id.
    pub(super) async fn ids_with_prefix(&self, prefix: &str, limit: usize) -> Result<Vec<RunId>> {
        let (from, to) = (prefix.to_string(), format!("{prefix}\u{7f}"));
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.call(move |conn, _| {
            let ids = conn
                .prepare_cached(
                    "SELECT id FROM runs WHERE id >= ?1 AND id < ?2 ORDER BY id LIMIT ?3",
                )?
                .query_map(params![from, to, limit], |row| row.get(0))?
                .collect::<rusqlite::Result<_>>()?;
            Ok(ids)
        })
        .await
    }

    pub(super) async fn scan_history(&self, filter: &HistoryFilter) -> Result<Vec<Run>> {
        let filter = filter.clone();
        self.call(move |conn, _| {
            let mut sql = format!("SELECT {RUN_COLUMNS} FROM runs WHERE 1 = 1");
            let mut values: Vec<rusqlite::types::Value> = Vec::new();
            if let Some(job) = &filter.job {
                values.push(job.clone().into());
                sql.push_str(&format!(" AND job = ?{}", values.len()));
            }
            if !filter.statuses.is_empty() {
                let mut marks = Vec::new();
                for status in &filter.statuses {
                    values.push(status.as_str().to_string().into());
                    marks.push(format!("?{}", values.len()));
                }
                sql.push_str(&format!(" AND status IN ({})", marks.join(", ")));
            }
            if let Some(since) = filter.since {
                values.push(ms(since).into());
                sql.push_str(&format!(" AND queued_at >= ?{}", values.len()));
            }
            // A limit of 0 means none, which SQLite spells LIMIT -1.
            let limit = match filter.limit {
                0 => -1,
                limit => i64::try_from(limit).unwrap_or(i64::MAX),
            };
            values.push(limit.into());
            sql.push_str(&format!(" ORDER BY seq DESC LIMIT ?{}", values.len()));
            query_runs(conn, &sql, rusqlite::params_from_iter(values))
        })
        .await
    }

    pub(super) async fn list_running(&self) -> Result<Vec<Run>> {
        self.call(|conn, _| {
            let sql = format!(
                "SELECT {RUN_COLUMNS} FROM runs WHERE status = 'running' ORDER BY started_at, seq"
            );
            query_runs(conn, &sql, [])
        })
        .await
    }

    pub(super) async fn list_queued(&self) -> Result<Vec<QueuedRun>> {
        self.call(|conn, _| {
            let sql = format!(
                "SELECT {RUN_COLUMNS} FROM runs WHERE status = 'queued' \
                 ORDER BY queue, coalesce(not_before, 0) > ?1, \
                 CASE WHEN coalesce(not_before, 0) > ?1 THEN not_before END, seq"
            );
            let mut position = 0;
            let mut queue = String::new();
            let queued = query_runs(conn, &sql, [ms(Utc::now())])?
                .into_iter()
                .map(|run| {
                    if run.queue != queue {
                        queue.clone_from(&run.queue);
                        position = 0;
                    }
                    position += 1;
                    QueuedRun { run, position }
                })
                .collect();
            Ok(queued)
        })
        .await
    }

    pub(super) async fn last_durations(&self, job: &str, count: usize) -> Result<Vec<f64>> {
        let job = job.to_string();
        self.call(move |conn, _| {
            let mut statement = conn.prepare_cached(
                "SELECT finished_at - started_at FROM runs \
                 WHERE job = ?1 AND status = 'succeeded' ORDER BY seq DESC LIMIT ?2",
            )?;
            let durations = statement
                .query_map(params![job, count as i64], |row| row.get::<_, i64>(0))?
                .map(|ms| ms.map(|ms| ms as f64 / 1000.0))
                .collect::<rusqlite::Result<_>>()?;
            Ok(durations)
        })
        .await
    }

    pub(super) async fn count_queued(&self) -> Result<Vec<(String, u64)>> {
        self.call(|conn, _| {
            let mut statement = conn.prepare_cached(
                "SELECT queue, count(*) FROM runs WHERE status = 'queued' GROUP BY queue ORDER BY queue",
            )?;
            let lengths = statement
                .query_map([], |row| Ok((row.get(0)?, row.get::<_, i64>(1)? as u64)))?
                .collect::<rusqlite::Result<_>>()?;
            Ok(lengths)
        })
        .await
    }

    pub(super) async fn list_workers(&self) -> Result<Vec<WorkerInfo>> {
        self.call(|conn, _| {
            let mut statement = conn.prepare_cached(
                "SELECT id, host, pid, queues, runs, last_seen, concurrency FROM workers \
                 WHERE expires_at > ?1 ORDER BY host, id",
            )?;
            let workers = statement
                .query_map([ms(Utc::now())], |row| {
                    Ok(WorkerInfo {
                        id: row.get(0)?,
                        host: row.get(1)?,
                        pid: row.get(2)?,
                        queues: json_column(row, 3)?,
                        concurrency: row.get(6)?,
                        runs: json_column(row, 4)?,
                        last_seen: from_ms(row.get(5)?)?,
                    })
                })?
                .collect::<rusqlite::Result<_>>()?;
            Ok(workers)
        })
        .await
    }

    pub(super) async fn list_daemons(&self) -> Result<Vec<DaemonInfo>> {
        self.call(|conn, _| {
            let mut statement = conn.prepare_cached(
                "SELECT id, host, pid, schedule_hash, last_seen FROM daemons \
                 WHERE expires_at > ?1 ORDER BY host, id",
            )?;
            let daemons = statement
                .query_map([ms(Utc::now())], |row| {
                    Ok(DaemonInfo {
                        id: row.get(0)?,
                        host: row.get(1)?,
                        pid: row.get(2)?,
                        schedule_hash: row.get(3)?,
                        last_seen: from_ms(row.get(4)?)?,
                    })
                })?
                .collect::<rusqlite::Result<_>>()?;
            Ok(daemons)
        })
        .await
    }

    pub(super) async fn read_published(&self) -> Result<Option<PublishedSchedule>> {
        self.call(|conn, _| {
            let json: Option<String> = conn
                .query_row(
                    "SELECT value FROM published WHERE name = 'schedule'",
                    [],
                    |row| row.get(0),
                )
                .optional()?;
            json.map(|json| {
                serde_json::from_str(&json)
                    .map_err(|e| StoreError::Corrupt(format!("the published schedule: {e}")))
            })
            .transpose()
        })
        .await
    }

    pub(super) async fn read_published_hash(&self) -> Result<Option<String>> {
        let head: Option<String> = self
            .read_in_place(|conn| {
                conn.prepare_cached(
                    "SELECT substr(value, 1, ?1) FROM published WHERE name = 'schedule'",
                )?
                .query_row([crate::store::PublishedJson::HEAD_BYTES as i64], |row| {
                    row.get(0)
                })
                .optional()
            })
            .await?;
        Ok(head.and_then(|head| crate::store::PublishedJson::hash_in(&head)))
    }
}
