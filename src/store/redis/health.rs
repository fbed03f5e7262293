//! Job health in Redis: the hash `P health:JOB` (`failing`, `notified_at`, `last_run`),
//! read and changed by one script, so of any number of callers one gets each change;
//! the same script puts the change in the outbox.

use std::time::Duration;

use redis::Value;

use super::{RedisStore, duration_ms, now_ms};
use crate::store::{HealthChange, Result, StoreError};

impl RedisStore {
    pub(super) async fn record_job_health(
        &self,
        job: &str,
        run: Option<&str>,
        failed: bool,
        remind: Option<Duration>,
    ) -> Result<Option<HealthChange>> {
        let mut call = self.invocation(&self.scripts.record_health, now_ms());
        call.arg(job)
            .arg(run.unwrap_or_default())
            .arg(if failed { "1" } else { "0" })
            .arg(
                remind
                    .map(|r| duration_ms(r).to_string())
                    .unwrap_or_default(),
            );
        match self.connection.script(&call).await? {
            Value::BulkString(change) if change.is_empty() => Ok(None),
            Value::BulkString(change) => HealthChange::parse(&String::from_utf8_lossy(&change))
                .map(Some)
                .ok_or_else(|| unexpected(Value::BulkString(change))),
            other => Err(unexpected(other)),
        }
    }
}

pub(super) fn unexpected(reply: Value) -> StoreError {
    StoreError::Corrupt(format!("an unexpected reply to a health record: {reply:?}"))
}
