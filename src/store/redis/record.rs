//! How a run is written in Redis, and how script replies are read back.
//!
//! A run is one hash, every value a string: times as integer milliseconds since the
//! epoch, `args` and `env` as JSON, absent optional fields simply missing. Besides the
//! fields of [`Run`], the hash holds `seq` (creation order), `token` and `lease_expires`
//! (the lease), `out_total` (bytes of output written), `out_kept` (bytes of it the tail
//! holds) and `retry_id` (the next attempt).

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use redis::Value;

use crate::store::{Lease, NewRun, OnBusy, Result, Run, RunLock, RunStatus, StoreError, Trigger};

/// Milliseconds since the epoch, the unit of every time in the store.
pub(super) fn ms(t: DateTime<Utc>) -> i64 {
    t.timestamp_millis()
}

/// The hash fields of a new run, flat (name, value, ...), as `status`, attempt 1. Fields
/// at their default (no args, no env, no cancel asked) are left out.
pub(super) fn new_run_fields(run: &NewRun, status: RunStatus, now_ms: i64) -> Vec<String> {
    let mut fields = Vec::with_capacity(24);
    let mut field = |name: &str, value: Option<String>| {
        if let Some(value) = value {
            fields.push(name.to_owned());
            fields.push(value);
        }
    };
    field("job", Some(run.job.clone()));
    field("queue", Some(run.queue.clone()));
    field("status", Some(status.as_str().to_owned()));
    field("trigger", Some(run.trigger.as_str().to_owned()));
    field("attempt", Some("1".to_owned()));
    field("max_attempts", Some(run.max_attempts.to_string()));
    field("queued_at", Some(now_ms.to_string()));
    let args = (!run.args.is_empty()).then(|| serde_json::to_string(&run.args));
    field("args", args.transpose().unwrap_or_default());
    let env = (!run.env.is_empty()).then(|| serde_json::to_string(&run.env));
    field("env", env.transpose().unwrap_or_default());
    field(
        "scheduled_for",
        run.scheduled_for.map(|t| ms(t).to_string()),
    );
    field("not_before", run.not_before.map(|t| ms(t).to_string()));
    field("lock_name", run.lock.as_ref().map(|l| l.name.clone()));
    field(
        "lock_on_busy",
        run.lock.as_ref().map(|l| l.on_busy.as_str().to_owned()),
    );
    fields
}

/// The run that `new_run_fields` records, as the caller can tell without reading it back.
pub(super) fn described_run(
    id: String,
    run: NewRun,
    status: RunStatus,
    now_ms: i64,
) -> Result<Run> {
    let at = |ms: i64| {
        DateTime::from_timestamp_millis(ms)
            .ok_or_else(|| StoreError::Invalid(format!("a time of {ms} ms")))
    };
    let truncate = |t: Option<DateTime<Utc>>| t.map(|t| at(ms(t))).transpose();
    let now = at(now_ms)?;
    Ok(Run {
        id,
        status,
        trigger: run.trigger,
        scheduled_for: truncate(run.scheduled_for)?,
        attempt: 1,
        max_attempts: run.max_attempts,
        retry_of: None,
        host: None,
        worker: None,
        exit_code: None,
        signal: None,
        queued_at: now,
        started_at: None,
        finished_at: status.is_finished().then_some(now),
        progress: None,
        message: None,
        reason: None,
        not_before: truncate(run.not_before)?,
        job: run.job,
        queue: run.queue,
        args: run.args,
        env: run.env,
        lock: run.lock,
        cancel_requested: false,
    })
}

/// A run's hash as read back.
pub(super) struct Record(HashMap<String, String>);

impl Record {
    pub fn from_value(value: Value) -> Result<Record> {
        let Value::Array(items) = value else {
            return Err(StoreError::Corrupt(format!(
                "a run record that is not a hash: {value:?}"
            )));
        };
        let mut map = HashMap::with_capacity(items.len() / 2);
        let mut items = items.into_iter();
        while let (Some(name), Some(value)) = (items.next(), items.next()) {
            if let (Some(name), Some(value)) = (text(&name), text(&value)) {
                map.insert(name, value);
            }
        }
        if map.is_empty() {
            return Err(StoreError::Corrupt("an empty run record".to_owned()));
        }
        Ok(Record(map))
    }

    fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str)
    }

    fn required(&self, name: &str) -> Result<&str> {
        self.get(name).ok_or_else(|| self.corrupt(name))
    }

    fn corrupt(&self, name: &str) -> StoreError {
        let id = self.get("id").unwrap_or("?");
        StoreError::Corrupt(format!("run {id} has no valid `{name}`"))
    }

    fn number<T: std::str::FromStr>(&self, name: &str) -> Result<Option<T>> {
        self.get(name)
            .map(|v| v.parse().map_err(|_| self.corrupt(name)))
            .transpose()
    }

    fn time(&self, name: &str) -> Result<Option<DateTime<Utc>>> {
        match self.number::<i64>(name)? {
            Some(ms) => DateTime::from_timestamp_millis(ms)
                .map(Some)
                .ok_or_else(|| self.corrupt(name)),
            None => Ok(None),
        }
    }

    fn json<T: serde::de::DeserializeOwned + Default>(&self, name: &str) -> Result<T> {
        match self.get(name) {
            Some(v) => serde_json::from_str(v).map_err(|_| self.corrupt(name)),
            None => Ok(T::default()),
        }
    }

    pub fn run(&self) -> Result<Run> {
        let status =
            RunStatus::parse(self.required("status")?).ok_or_else(|| self.corrupt("status"))?;
        let trigger =
            Trigger::parse(self.required("trigger")?).ok_or_else(|| self.corrupt("trigger"))?;
        let lock = match self.get("lock_name") {
            Some(name) => Some(RunLock {
                name: name.to_owned(),
                on_busy: self
                    .get("lock_on_busy")
                    .and_then(OnBusy::parse)
                    .ok_or_else(|| self.corrupt("lock_on_busy"))?,
            }),
            None => None,
        };
        let text = |name: &str| self.get(name).map(str::to_owned);
        Ok(Run {
            id: self.required("id")?.to_owned(),
            job: self.required("job")?.to_owned(),
            queue: self.required("queue")?.to_owned(),
            status,
            trigger,
            scheduled_for: self.time("scheduled_for")?,
            attempt: self
                .number("attempt")?
                .ok_or_else(|| self.corrupt("attempt"))?,
            max_attempts: self
                .number("max_attempts")?
                .ok_or_else(|| self.corrupt("max_attempts"))?,
            retry_of: text("retry_of"),
            host: text("host"),
            worker: text("worker"),
            exit_code: self.number("exit_code")?,
            signal: self.number("signal")?,
            queued_at: self
                .time("queued_at")?
                .ok_or_else(|| self.corrupt("queued_at"))?,
            started_at: self.time("started_at")?,
            finished_at: self.time("finished_at")?,
            progress: self.number("progress")?,
            message: text("message"),
            reason: text("reason"),
            args: self.json("args")?,
            env: self.json("env")?,
            not_before: self.time("not_before")?,
            lock,
            cancel_requested: self.get("cancel_requested") == Some("1"),
        })
    }

    /// The lease a reserve just granted.
    pub fn lease(&self) -> Result<Lease> {
        Ok(Lease {
            run: self.required("id")?.to_owned(),
            token: self.required("token")?.to_owned(),
            expires_at: self
                .time("lease_expires")?
                .ok_or_else(|| self.corrupt("lease_expires"))?,
        })
    }

    /// The run's creation order.
    pub fn seq(&self) -> Result<u64> {
        self.number("seq")?.ok_or_else(|| self.corrupt("seq"))
    }
}

/// A run from a script's or HGETALL's reply.
pub(super) fn run(value: Value) -> Result<Run> {
    Record::from_value(value)?.run()
}

/// The text of a string-like reply value.
pub(super) fn text(value: &Value) -> Option<String> {
    match value {
        Value::BulkString(bytes) => Some(String::from_utf8_lossy(bytes).into_owned()),
        Value::SimpleString(s) => Some(s.clone()),
        Value::Int(n) => Some(n.to_string()),
        Value::Okay => Some("OK".to_owned()),
        _ => None,
    }
}

/// The items of a script's `{'ok', ...}` reply, after the `ok`; `{'err', code, detail}`
/// becomes the typed error for run `id`.
pub(super) fn reply(value: Value, id: &str) -> Result<Vec<Value>> {
    let Value::Array(mut items) = value else {
        return Err(StoreError::Corrupt(format!(
            "an unexpected script reply: {value:?}"
        )));
    };
    let head = items.first().and_then(text);
    match head.as_deref() {
        Some("ok") => Ok(items.split_off(1)),
        Some("err") => {
            let code = items.get(1).and_then(text).unwrap_or_default();
            let detail = items.get(2).and_then(text).unwrap_or_default();
            Err(match code.as_str() {
                "lease_lost" => StoreError::LeaseLost(id.to_owned()),
                "not_found" => StoreError::NotFound(id.to_owned()),
                "wrong_status" => match RunStatus::parse(&detail) {
                    Some(status) => StoreError::WrongStatus {
                        id: id.to_owned(),
                        status,
                    },
                    None => StoreError::Corrupt(format!("run {id} has the status `{detail}`")),
                },
                _ => StoreError::Failed(format!("a script failed: {code} {detail}")),
            })
        }
        _ => Err(StoreError::Corrupt(format!(
            "an unexpected script reply: {items:?}"
        ))),
    }
}
