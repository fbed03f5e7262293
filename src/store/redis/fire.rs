//! Firing: the claim of one (job, instant), or of its second pass after the clock was
//! stepped back, with the run it records, through `fire.lua`; and the record of fires
//! the store lost.

use chrono::{DateTime, Utc};
use redis::{ScriptInvocation, Value};

use super::lost_fires::LostFires;
use super::record::{self, ms, new_run_fields, reply};
use super::{CLAIM_TTL, RedisStore, duration_ms, not_before_arg, now_ms, time, warn_lost};
use crate::store::{NewRun, Result, Run, RunStatus, Trigger, new_run_id};

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
        let call = self.fire_call(&id, now, &run, instant, pass, skip.as_deref());
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
                    self.record_lost(&run, &lost).await;
                }
                let busy = items.next().and_then(|v| record::text(&v));
                let status = if busy.is_some() {
                    RunStatus::Skipped
                } else {
                    status
                };
                let mut fired = record::described_run(id, run, status, now)?;
                fired.reason = skip.or(busy);
                Ok(Some(fired))
            }
        }
    }

    /// The call of `fire.lua` for one fire.
    fn fire_call(
        &self,
        id: &str,
        now: i64,
        run: &NewRun,
        instant: DateTime<Utc>,
        pass: Option<DateTime<Utc>>,
        skip: Option<&str>,
    ) -> ScriptInvocation<'_> {
        let status = if skip.is_some() {
            RunStatus::Skipped
        } else {
            RunStatus::Queued
        };
        let mut fields = new_run_fields(run, status, now);
        if let Some(reason) = skip {
            fields.extend([
                "reason".to_owned(),
                reason.to_owned(),
                "finished_at".to_owned(),
                now.to_string(),
            ]);
        }
        let mut call = self.invocation(&self.scripts.fire, now);
        call.arg(id)
            .arg(&run.job)
            .arg(ms(instant))
            .arg(duration_ms(CLAIM_TTL));
        call.arg(&run.queue)
            .arg(not_before_arg(run))
            .arg(if skip.is_some() { "1" } else { "0" })
            .arg(pass.map_or(String::new(), |pass| ms(pass).to_string()))
            .arg(record::forbid_arg(run));
        call.arg(fields);
        call
    }

    /// Puts fires the store lost in the history: one `skipped` run at the last of them,
    /// whose reason names the range and the failover, so `history` shows the gap rather
    /// than hiding it. Their claims went with them, so this claims that instant again;
    /// the instants before it are only named (this store does not know the schedule).
    async fn record_lost(&self, run: &NewRun, lost: &LostFires) {
        let Ok(through) = time(lost.through_ms) else {
            return;
        };
        let after = lost
            .after_ms
            .and_then(|ms| time(ms).ok())
            .map_or("none left".to_owned(), |at| {
                format!("after {}", at.to_rfc3339())
            });
        let reason = format!(
            "lost: this daemon's fires of the job through {} ({after} remain in the store) were lost with writes Redis had not replicated, in a failover or a restart without persistence; they may have run",
            through.to_rfc3339()
        );
        let record = NewRun {
            trigger: Trigger::Schedule,
            scheduled_for: Some(through),
            not_before: None,
            ..run.clone()
        };
        let (id, now) = (new_run_id(), now_ms());
        let call = self.fire_call(&id, now, &record, through, None, Some(&reason));
        if let Err(error) = self.connection.script(&call).await {
            tracing::warn!(job = %run.job, %error, "cannot record the lost fires in the history");
        }
    }
}
