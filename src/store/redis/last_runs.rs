//! Every job's last run and last success for `/metrics`: the newest entries of each
//! job's finished indexes (`done:ok:JOB`, `done:other:JOB`) in pipelines of many jobs,
//! then three fields of the runs they name in one more; a job whose newest other runs
//! were all skipped (a paused job) is looked up in its history.

use std::collections::HashMap;

use chrono::{DateTime, Utc};

use super::{RedisStore, time};
use crate::store::{HistoryFilter, LastRuns, Result, RunStatus};

/// Jobs asked about per pipeline.
const JOBS_PER_PIPELINE: usize = 500;
/// The newest other finished runs looked at per job for one that ran, not skipped.
const OTHERS: isize = 8;

/// How a run ended, and when (its queued time for one that never started).
struct Ended {
    status: RunStatus,
    at: DateTime<Utc>,
}

/// The newest entries of a job's success index and of its other finished index: id
/// and seq, newest first.
type Newest = (Vec<(String, f64)>, Vec<(String, f64)>);

impl RedisStore {
    pub(super) async fn read_last_runs(&self, jobs: &[&str]) -> Result<HashMap<String, LastRuns>> {
        let mut last = HashMap::new();
        for chunk in jobs.chunks(JOBS_PER_PIPELINE) {
            // The newest of each index first; deeper only for a job whose newest other
            // run was skipped, which most jobs' is not.
            let (mut newest, mut runs) = self.newest(chunk, 1).await?;
            let deeper: Vec<(usize, &str)> = chunk
                .iter()
                .enumerate()
                .filter(|(i, _)| {
                    newest[*i]
                        .1
                        .first()
                        .and_then(|(id, _)| runs.get(id))
                        .is_some_and(|run| run.status == RunStatus::Skipped)
                })
                .map(|(i, job)| (i, *job))
                .collect();
            if !deeper.is_empty() {
                let names: Vec<&str> = deeper.iter().map(|(_, job)| *job).collect();
                let (found, more) = self.newest(&names, OTHERS).await?;
                runs.extend(more);
                for ((i, _), found) in deeper.iter().zip(found) {
                    newest[*i] = found;
                }
            }
            for (job, (ok, others)) in chunk.iter().zip(&newest) {
                let found = self.last_of(job, ok, others, &runs).await?;
                if found != LastRuns::default() {
                    last.insert(job.to_string(), found);
                }
            }
        }
        Ok(last)
    }

    /// For each of `jobs`, its newest success and its `others` newest other finished
    /// runs, and the runs they name, by id: two pipelines.
    async fn newest(
        &self,
        jobs: &[&str],
        others: isize,
    ) -> Result<(Vec<Newest>, HashMap<String, Ended>)> {
        let mut pipe = redis::pipe();
        for job in jobs {
            pipe.cmd("ZREVRANGE")
                .arg(self.key(&format!("done:ok:{job}")))
                .arg(0)
                .arg(0)
                .arg("WITHSCORES");
            pipe.cmd("ZREVRANGE")
                .arg(self.key(&format!("done:other:{job}")))
                .arg(0)
                .arg(others - 1)
                .arg("WITHSCORES");
        }
        let replies: Vec<Vec<(String, f64)>> = self.connection.pipeline(&pipe).await?;
        let ids: Vec<&String> = replies.iter().flatten().map(|(id, _)| id).collect();
        // Three fields of each run, not the whole hash: a scrape reads thousands.
        let mut pipe = redis::pipe();
        for id in &ids {
            pipe.cmd("HMGET")
                .arg(self.key(&format!("run:{id}")))
                .arg("status")
                .arg("finished_at")
                .arg("queued_at");
        }
        // An empty pipeline is an error to the client: no run, nothing to ask.
        let fields: Vec<(Option<String>, Option<i64>, Option<i64>)> = match ids.is_empty() {
            true => Vec::new(),
            false => self.connection.pipeline(&pipe).await?,
        };
        let mut runs = HashMap::with_capacity(ids.len());
        for (id, (status, finished_at, queued_at)) in ids.into_iter().zip(fields) {
            // A run pruned meanwhile has none of them.
            let Some(status) = status.as_deref().and_then(RunStatus::parse) else {
                continue;
            };
            let Some(at) = finished_at.or(queued_at) else {
                continue;
            };
            runs.insert(
                id.clone(),
                Ended {
                    status,
                    at: time(at)?,
                },
            );
        }
        let mut replies = replies.into_iter();
        let mut newest = Vec::with_capacity(jobs.len());
        while let (Some(ok), Some(other)) = (replies.next(), replies.next()) {
            newest.push((ok, other));
        }
        Ok((newest, runs))
    }

    /// One job's, from the newest success `ok` and other finished runs `others` (id and
    /// seq, newest first).
    async fn last_of(
        &self,
        job: &str,
        ok: &[(String, f64)],
        others: &[(String, f64)],
        runs: &HashMap<String, Ended>,
    ) -> Result<LastRuns> {
        let success = ok.first().and_then(|(id, seq)| Some((runs.get(id)?, *seq)));
        let other = others
            .iter()
            .filter_map(|(id, seq)| Some((runs.get(id)?, *seq)))
            .find(|(run, _)| RunStatus::RAN.contains(&run.status));
        let newer = match (success, other) {
            (Some(ok), Some(other)) => Some(if other.1 > ok.1 { other } else { ok }),
            (ok, other) => ok.or(other),
        };
        let mut run = newer.map(|(run, _)| (run.status, run.at));
        // The newest others were all skipped (a paused job), and newer than its last
        // success: an older one may have run after that success.
        let hidden = other.is_none()
            && others.len() == OTHERS as usize
            && success.is_none_or(|(_, ok_seq)| others[others.len() - 1].1 > ok_seq);
        if hidden {
            let filter = HistoryFilter {
                job: Some(job.to_string()),
                statuses: RunStatus::RAN.to_vec(),
                since: None,
                limit: 1,
            };
            let found = self.scan_history(&filter).await?;
            run = found
                .first()
                .map(|run| (run.status, run.finished_at.unwrap_or(run.queued_at)));
        }
        Ok(LastRuns {
            run,
            success: success.map(|(run, _)| run.at),
        })
    }
}
