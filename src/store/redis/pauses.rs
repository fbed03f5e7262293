//! Pauses in Redis: the hash `P pauses` (a job's name, or `*` for every job, → the
//! pause as JSON), the count of instants each recorded in `P pauses:recorded`, and
//! `P pauses:version`, which each pause and resume sets to a fresh ULID in the same
//! script. A version that is gone (a Redis restarted empty) reads as `None`, unlike any
//! value it had, so a daemon reads the pauses again then too.

use chrono::{DateTime, Utc};
use redis::Value;
use serde::{Deserialize, Serialize};

use super::record::{self, ms, new_run_fields, reply};
use super::{CLAIM_TTL, RedisStore, duration_ms, new_run_id, now_ms, time};
use crate::store::{NewRun, Pause, PauseScope, Paused, Result, Run, RunStatus, StoreError};

/// A pause as the hash keeps it, its instants in ms.
#[derive(Serialize, Deserialize)]
struct Stored {
    reason: Option<String>,
    by: String,
    since_ms: i64,
    until_ms: Option<i64>,
}

impl Stored {
    fn of(pause: &Pause) -> Stored {
        Stored {
            reason: pause.reason.clone(),
            by: pause.by.clone(),
            since_ms: ms(pause.since),
            until_ms: pause.until.map(ms),
        }
    }

    fn decode(key: &str, json: &str) -> Result<Pause> {
        let stored: Stored = serde_json::from_str(json)
            .map_err(|e| StoreError::Corrupt(format!("the pause of `{key}`: {e}")))?;
        Ok(Pause {
            reason: stored.reason,
            by: stored.by,
            since: time(stored.since_ms)?,
            until: stored.until_ms.map(time).transpose()?,
        })
    }
}

impl RedisStore {
    pub(super) async fn put_pause(&self, scope: &PauseScope, pause: &Pause) -> Result<()> {
        let json = serde_json::to_string(&Stored::of(pause))
            .map_err(|e| StoreError::Invalid(format!("a pause that cannot be written: {e}")))?;
        let mut call = self.invocation(&self.scripts.pause, now_ms());
        call.arg(scope.key()).arg(json).arg(new_version());
        reply(self.connection.script(&call).await?, scope.key()).map(drop)
    }

    pub(super) async fn end_pause(&self, scope: &PauseScope) -> Result<Option<Pause>> {
        let mut call = self.invocation(&self.scripts.resume, now_ms());
        call.arg(scope.key()).arg(new_version());
        let items = reply(self.connection.script(&call).await?, scope.key())?;
        let Some(json) = items.first().and_then(record::text) else {
            return Ok(None);
        };
        let pause = Stored::decode(scope.key(), &json)?;
        Ok(pause.in_force(Utc::now()).then_some(pause))
    }

    pub(super) async fn list_pauses(&self) -> Result<Vec<Paused>> {
        let all: Vec<(String, String)> = self
            .connection
            .query(redis::cmd("HGETALL").arg(self.key("pauses")))
            .await?;
        let now = Utc::now();
        let mut pauses = Vec::with_capacity(all.len());
        for (key, json) in all {
            let pause = Stored::decode(&key, &json)?;
            if pause.in_force(now) {
                pauses.push(Paused {
                    scope: PauseScope::from_key(&key),
                    pause,
                });
            }
        }
        // As SQLite lists them: the pause of every job first, then by job.
        pauses.sort_by(|a, b| a.scope.cmp(&b.scope));
        Ok(pauses)
    }

    pub(super) async fn read_pause_version(&self) -> Result<Option<String>> {
        self.connection
            .query(redis::cmd("GET").arg(self.key("pauses:version")))
            .await
    }

    pub(super) async fn pass_paused_instant(
        &self,
        run: NewRun,
        instant: DateTime<Utc>,
        scope: &PauseScope,
        reason: String,
        record_limit: u32,
    ) -> Result<Option<Run>> {
        let (id, now) = (new_run_id(), now_ms());
        let mut fields = new_run_fields(&run, RunStatus::Skipped, now);
        fields.extend([
            "reason".to_owned(),
            reason.clone(),
            "finished_at".to_owned(),
            now.to_string(),
        ]);
        let mut call = self.invocation(&self.scripts.pass_paused, now);
        call.arg(&id)
            .arg(&run.job)
            .arg(ms(instant))
            .arg(duration_ms(CLAIM_TTL))
            .arg(scope.key())
            .arg(record_limit)
            .arg(fields);
        let mut items = reply(self.connection.script(&call).await?, &id)?.into_iter();
        match items.next().unwrap_or(Value::Nil) {
            Value::Nil => Ok(None),
            Value::Array(replayed) => record::run(Value::Array(replayed)).map(Some),
            _ => {
                let mut recorded = record::described_run(id, run, RunStatus::Skipped, now)?;
                recorded.reason = Some(reason);
                Ok(Some(recorded))
            }
        }
    }
}

fn new_version() -> String {
    ulid::Ulid::generate().to_string()
}
