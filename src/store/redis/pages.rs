//! The reads of pages that show many runs at once: a page of the history after a
//! cursor, found by the cursor run's place in the index by creation order (its seq
//! score), and the last runs of many jobs in two pipelined round trips.

use super::RedisStore;
use crate::store::{HistoryPage, Result, Run, RunBrief};

/// Runs read per round trip while a page is filled.
const CHUNK: usize = 500;

impl RedisStore {
    pub(super) async fn page_of_history(&self, page: &HistoryPage) -> Result<Vec<Run>> {
        let filter = &page.filter;
        let index = match &filter.job {
            Some(job) => self.key(&format!("history:{job}")),
            None => self.key("history"),
        };
        let max = match &page.before {
            None => "+inf".to_string(),
            Some(id) => {
                let score: Option<f64> = self
                    .connection
                    .query(redis::cmd("ZSCORE").arg(&index).arg(id))
                    .await?;
                match score {
                    Some(score) => format!("({score}"),
                    // A cursor whose run was pruned: the page is empty, as in SQLite.
                    None => return Ok(Vec::new()),
                }
            }
        };
        let limit = if filter.limit == 0 {
            usize::MAX
        } else {
            filter.limit
        };
        let mut found = Vec::new();
        let mut offset = 0;
        loop {
            let ids: Vec<String> = self
                .connection
                .query(
                    redis::cmd("ZREVRANGEBYSCORE")
                        .arg(&index)
                        .arg(&max)
                        .arg("-inf")
                        .arg("LIMIT")
                        .arg(offset)
                        .arg(CHUNK),
                )
                .await?;
            for run in self.runs(&ids).await? {
                let wanted = filter.since.is_none_or(|since| run.queued_at >= since)
                    && (filter.statuses.is_empty() || filter.statuses.contains(&run.status))
                    && page.admits(&run);
                if wanted {
                    found.push(run);
                    if found.len() == limit {
                        return Ok(found);
                    }
                }
            }
            if ids.len() < CHUNK {
                return Ok(found);
            }
            offset += CHUNK;
        }
    }

    pub(super) async fn last_runs_of(
        &self,
        jobs: &[String],
        count: usize,
    ) -> Result<Vec<Vec<RunBrief>>> {
        if jobs.is_empty() {
            return Ok(Vec::new());
        }
        let stop = if count == 0 { -1 } else { count as i64 - 1 };
        let mut pipe = redis::pipe();
        for job in jobs {
            pipe.cmd("ZREVRANGE")
                .arg(self.key(&format!("history:{job}")))
                .arg(0)
                .arg(stop);
        }
        let per_job: Vec<Vec<String>> = self.connection.pipeline(&pipe).await?;
        let all: Vec<String> = per_job.iter().flatten().cloned().collect();
        let mut runs: std::collections::HashMap<String, Run> = self
            .runs(&all)
            .await?
            .into_iter()
            .map(|run| (run.id.clone(), run))
            .collect();
        Ok(per_job
            .into_iter()
            .map(|ids| {
                ids.iter()
                    .filter_map(|id| runs.remove(id))
                    .map(|run| RunBrief::from(&run))
                    .collect()
            })
            .collect())
    }
}
