//! Firing: the claim of one (job, instant), or of its second pass after the clock was
//! stepped back, with the run it records, through `fire.lua`.

use chrono::{DateTime, Utc};
use redis::Value;

use super::record::{self, ms, new_run_fields, reply};
use super::{CLAIM_TTL, RedisStore, duration_ms, not_before_arg, now_ms, warn_lost};
use crate::store::{NewRun, Result, Run, RunStatus, new_run_id};

impl RedisStore {
    /// Fires (job, instant), or its second pass after the clock was stepped back behind
    /// `pass`, through `fire.lua`.
    pub(super) async fn claim_fire(
        &self,
        run: NewRun,
        instant: DateTime<Utc>,
        pass: Option<DateTime<Utc>>,
        skip: Option<String>,
    ) -> Result<Option<Run>> {
        let (id, now) = (new_run_id(), now_ms());
        let status = if skip.is_some() {
            RunStatus::Skipped
        } else {
            RunStatus::Queued
        };
        let mut fields = new_run_fields(&run, status, now);
        if let Some(reason) = &skip {
            fields.extend([
                "reason".to_owned(),
                reason.clone(),
                "finished_at".to_owned(),
                now.to_string(),
            ]);
        }
        let mut call = self.invocation(&self.scripts.fire, now);
        call.arg(&id)
            .arg(&run.job)
            .arg(ms(instant))
            .arg(duration_ms(CLAIM_TTL));
        call.arg(&run.queue)
            .arg(not_before_arg(&run))
            .arg(if skip.is_some() { "1" } else { "0" })
            .arg(pass.map_or(String::new(), |pass| ms(pass).to_string()));
        call.arg(fields);
        let mut items = reply(self.connection.script(&call).await?, &id)?.into_iter();
        match items.next().unwrap_or(Value::Nil) {
            Value::Nil => Ok(None),
            Value::Array(replayed) => record::run(Value::Array(replayed)).map(Some),
            _ => {
                let marker = items.next().and_then(|v| record::text(&v)?.parse().ok());
                // A second pass is behind the marker by definition, and says nothing of
                // fires the store lost.
                let lost = pass
                    .is_none()
                    .then(|| self.fire_marks.fired(&run.job, ms(instant), marker))
                    .flatten();
                if let Some(lost) = lost {
                    warn_lost(&run.job, &lost);
                }
                let mut fired = record::described_run(id, run, status, now)?;
                fired.reason = skip;
                Ok(Some(fired))
            }
        }
    }
}
