//! A job as the faces show it: the fields of `check --json` (name, schedule, zone,
//! queue, next fire) and the pause that holds it, and for one job also its next fires, its last run and how its
//! retained history went.

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use super::pause::holding_json;
use super::status::Timed;
use super::{instant, run_json};
use crate::pause::Pauses;
use crate::schedule::Schedule;
use crate::store::{HistoryFilter, PublishedJob, PublishedSchedule, RunStatus, Store, StoreError};

/// Next fires listed for one job.
const NEXT_FIRES: usize = 5;

/// A job of the published schedule, or of the local file in the same form.
pub struct JobView {
    pub job: PublishedJob,
    timed: Option<Timed>,
}

impl JobView {
    pub fn of_published(schedule: &PublishedSchedule) -> Vec<JobView> {
        schedule.jobs.iter().cloned().map(JobView::new).collect()
    }

    /// The local file's jobs, as a daemon would publish them.
    pub fn of_schedule(schedule: &Schedule) -> Vec<JobView> {
        schedule
            .jobs
            .iter()
            .map(|job| {
                JobView::new(PublishedJob {
                    name: job.name.clone(),
                    queue: job.queue.clone(),
                    schedule: job.schedule.as_ref().map(|s| s.text.clone()),
                    timezone: job.timezone.name().to_string(),
                    jitter_ms: u64::try_from(job.jitter_offset().as_millis()).unwrap_or(u64::MAX),
                    allow_args: job.allow_args,
                    allow_env: job.allow_env.clone(),
                })
            })
            .collect()
    }

    fn new(job: PublishedJob) -> JobView {
        let timed = Timed::from_published_job(&job);
        JobView { job, timed }
    }

    /// Up to `count` instants after `now`.
    fn next_fires(&self, now: DateTime<Utc>, count: usize) -> Vec<DateTime<Utc>> {
        let Some(timed) = &self.timed else {
            return Vec::new();
        };
        let mut fires = Vec::with_capacity(count);
        let mut after = now;
        while fires.len() < count {
            match (timed.next)(after) {
                Some(at) if at > after => {
                    fires.push(at);
                    after = at;
                }
                _ => break,
            }
        }
        fires
    }

    /// The job as a listing shows it: `check --json`'s fields, what a run may bring, and
    /// the pause that holds it at `now` (null when none does).
    pub fn json(&self, now: DateTime<Utc>, pauses: &Pauses) -> Value {
        let job = &self.job;
        json!({
            "name": job.name,
            "schedule": job.schedule,
            "timezone": job.timezone,
            "queue": job.queue,
            "next": self.next_fires(now, 1).first().map(instant),
            "allow_args": job.allow_args,
            "allow_env": job.allow_env,
            "paused": holding_json(pauses.holding(&job.name, now)),
        })
    }

    /// The job with its next fires, its last run, and the succeeded and failed
    /// (failed, timed out, lost) runs among those the store retains.
    pub async fn detail_json(
        &self,
        store: &dyn Store,
        now: DateTime<Utc>,
        pauses: &Pauses,
    ) -> Result<Value, StoreError> {
        let name = &self.job.name;
        let of_job = |statuses: Vec<RunStatus>, limit: usize| HistoryFilter {
            job: Some(name.clone()),
            statuses,
            since: None,
            limit,
        };
        let last = store.history(&of_job(Vec::new(), 1)).await?;
        let succeeded = store
            .history(&of_job(vec![RunStatus::Succeeded], 0))
            .await?
            .len();
        let failed = store
            .history(&of_job(RunStatus::FAILURES.to_vec(), 0))
            .await?
            .len();
        let mut value = self.json(now, pauses);
        let fires: Vec<String> = self
            .next_fires(now, NEXT_FIRES)
            .iter()
            .map(instant)
            .collect();
        value["next_fires"] = fires.into();
        value["last_run"] = last
            .first()
            .map_or(Value::Null, |run| run_json(run, now, None));
        value["succeeded"] = succeeded.into();
        value["failed"] = failed.into();
        Ok(value)
    }
}
