//! The outbox in Redis: each notice a hash `P notice:KEY`, the ones not yet sent in the
//! sorted set `P notices` scored with when they may be claimed; a sent one stays as a
//! marker until it expires ([`NOTICE_KEEP`]). Each target's last failure is a field of
//! the hash `P target_failures` (`JOB` newline `TARGET` → `{at_ms, error}` as JSON).

use std::time::Duration;

use redis::Value;
use serde::{Deserialize, Serialize};

use super::health::unexpected;
use super::record::text;
use super::{RedisStore, duration_ms, now_ms, time};
use crate::store::{NOTICE_KEEP, NewNotice, Notice, Result, StoreError, TargetFailure, parse_sent};

#[derive(Serialize, Deserialize)]
struct Failure {
    at_ms: i64,
    error: String,
}

fn some(text: String) -> Option<String> {
    (!text.is_empty()).then_some(text)
}

impl RedisStore {
    pub(super) async fn add_one_notice(&self, notice: &NewNotice) -> Result<bool> {
        let mut call = self.invocation(&self.scripts.add_notice, now_ms());
        call.arg(&notice.key)
            .arg(&notice.job)
            .arg(&notice.event)
            .arg(if notice.reminder { "1" } else { "0" })
            .arg(notice.run.as_deref().unwrap_or_default())
            .arg(notice.detail.as_deref().unwrap_or_default());
        match self.connection.script(&call).await? {
            Value::Int(added) => Ok(added == 1),
            other => Err(unexpected(other)),
        }
    }

    pub(super) async fn claim_some_notices(
        &self,
        owner: &str,
        lease: Duration,
        limit: usize,
    ) -> Result<Vec<Notice>> {
        let mut call = self.invocation(&self.scripts.claim_notices, now_ms());
        call.arg(owner).arg(duration_ms(lease)).arg(limit);
        let Value::Array(items) = self.connection.script(&call).await? else {
            return Err(StoreError::Corrupt(
                "an unexpected reply to a claim of notices".into(),
            ));
        };
        items.into_iter().map(decode).collect()
    }

    pub(super) async fn notice_moved_on(
        &self,
        key: &str,
        owner: &str,
        sent: Option<u32>,
        done: bool,
        lease: Duration,
    ) -> Result<bool> {
        let mut call = self.invocation(&self.scripts.notice_progress, now_ms());
        call.arg(key)
            .arg(owner)
            .arg(sent.map(|t| t.to_string()).unwrap_or_default())
            .arg(if done { "1" } else { "0" })
            .arg(duration_ms(lease))
            .arg(duration_ms(NOTICE_KEEP));
        match self.connection.script(&call).await? {
            Value::Int(moved) => Ok(moved == 1),
            other => Err(unexpected(other)),
        }
    }

    pub(super) async fn set_target(
        &self,
        job: &str,
        target: &str,
        error: Option<&str>,
    ) -> Result<()> {
        let key = self.key("target_failures");
        let field = format!("{job}\n{target}");
        let cmd = match error {
            Some(error) => {
                let failure = Failure {
                    at_ms: now_ms(),
                    error: error.to_string(),
                };
                let json = serde_json::to_string(&failure)
                    .map_err(|e| StoreError::Invalid(format!("a target failure: {e}")))?;
                let mut cmd = redis::cmd("HSET");
                cmd.arg(&key).arg(&field).arg(json);
                cmd
            }
            None => {
                let mut cmd = redis::cmd("HDEL");
                cmd.arg(&key).arg(&field);
                cmd
            }
        };
        let _: i64 = self.connection.query(&cmd).await?;
        Ok(())
    }

    pub(super) async fn read_target_failures(&self) -> Result<Vec<TargetFailure>> {
        let mut cmd = redis::cmd("HGETALL");
        cmd.arg(self.key("target_failures"));
        let fields: Vec<(String, String)> = self.connection.query(&cmd).await?;
        let mut failures = Vec::with_capacity(fields.len());
        for (field, json) in fields {
            let Some((job, target)) = field.split_once('\n') else {
                continue;
            };
            let failure: Failure = serde_json::from_str(&json)
                .map_err(|e| StoreError::Corrupt(format!("the failure of a target: {e}")))?;
            failures.push(TargetFailure {
                job: job.to_string(),
                target: target.to_string(),
                at: time(failure.at_ms)?,
                error: failure.error,
            });
        }
        failures.sort_by(|a, b| (&a.job, &a.target).cmp(&(&b.job, &b.target)));
        Ok(failures)
    }
}

fn decode(item: Value) -> Result<Notice> {
    let corrupt = || StoreError::Corrupt("a notice that cannot be read".into());
    let Value::Array(fields) = item else {
        return Err(corrupt());
    };
    let mut fields = fields.iter().map(|v| text(v).unwrap_or_default());
    let mut next = || fields.next().ok_or_else(corrupt);
    let key = next()?;
    let job = next()?;
    let event = next()?;
    let reminder = next()? == "1";
    let run = some(next()?);
    let detail = some(next()?);
    let created_at = time(next()?.parse().map_err(|_| corrupt())?)?;
    let sent = parse_sent(&next()?);
    Ok(Notice {
        notice: NewNotice {
            key,
            job,
            event,
            reminder,
            run,
            detail,
        },
        created_at,
        sent,
    })
}
