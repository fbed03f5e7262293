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

use crate::store::unreadable::{Unreadable, expected};
use crate::store::{NewRun, OnBusy, Result, Run, RunLock, RunStatus, StoreError, Trigger};

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
    field("forced", run.forced.then(|| "1".to_owned()));
    field("by", run.by.clone());
    field("retry_of", run.rerun_of.clone());
    fields
}

/// The lock a store-side `concurrency: forbid` check guards, as a script argument: the
/// lock's name for a run whose lock is `OnBusy::Skip` and that is not forced, else ''.
pub(super) fn forbid_arg(run: &NewRun) -> &str {
    match &run.lock {
        Some(lock) if lock.on_busy == OnBusy::Skip && !run.forced => &lock.name,
        _ => "",
    }
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
        retry_of: run.rerun_of,
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
        forced: run.forced,
        by: run.by,
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

    /// The run, or `Corrupt` naming the first field that cannot be read.
    pub fn run(&self) -> Result<Run> {
        let (run, problems) = self.decode();
        match problems.first() {
            None => Ok(run),
            Some(problem) => Err(StoreError::Corrupt(format!("run {}: {problem}", run.id))),
        }
    }

    /// The run, and why each field that cannot be read cannot be; such a field holds
    /// its default in the run (see [`repair`]).
    pub fn decode(&self) -> (Run, Vec<Unreadable>) {
        let mut fields = Fields {
            record: self,
            problems: Vec::new(),
        };
        let lock_name = fields.optional("lock_name", expected::TEXT, |v| Some(v.to_owned()));
        let on_busy = fields.optional("lock_on_busy", expected::ON_BUSY, OnBusy::parse);
        let lock = match (lock_name, on_busy) {
            (Some(name), Some(on_busy)) => Some(RunLock { name, on_busy }),
            (None, None) => None,
            _ => {
                fields.problem("lock_on_busy", expected::ON_BUSY);
                None
            }
        };
        let text = |name: &str| self.get(name).map(str::to_owned);
        let run = Run {
            id: fields.required("id", expected::PRESENT, |v| Some(v.to_owned()), "?".into()),
            job: fields.required("job", expected::PRESENT, |v| Some(v.to_owned()), "?".into()),
            queue: fields.required(
                "queue",
                expected::PRESENT,
                |v| Some(v.to_owned()),
                "?".into(),
            ),
            status: fields.required(
                "status",
                expected::STATUS,
                RunStatus::parse,
                RunStatus::Failed,
            ),
            trigger: fields.required(
                "trigger",
                expected::TRIGGER,
                Trigger::parse,
                Trigger::Manual,
            ),
            scheduled_for: fields.optional("scheduled_for", expected::TIME, time),
            attempt: fields.required("attempt", expected::COUNT, number, 1),
            max_attempts: fields.required("max_attempts", expected::COUNT, number, 1),
            retry_of: text("retry_of"),
            host: text("host"),
            worker: text("worker"),
            exit_code: fields.optional("exit_code", expected::INTEGER, number),
            signal: fields.optional("signal", expected::INTEGER, number),
            queued_at: fields.required("queued_at", expected::TIME, time, Utc::now()),
            started_at: fields.optional("started_at", expected::TIME, time),
            finished_at: fields.optional("finished_at", expected::TIME, time),
            progress: fields.optional("progress", expected::PERCENT, |v| {
                number(v).filter(|p| *p <= 100)
            }),
            message: text("message"),
            reason: text("reason"),
            args: fields
                .optional("args", expected::ARGS, json)
                .unwrap_or_default(),
            env: fields
                .optional("env", expected::ENV, json)
                .unwrap_or_default(),
            not_before: fields.optional("not_before", expected::TIME, time),
            lock,
            cancel_requested: fields
                .optional("cancel_requested", expected::FLAG, flag)
                .unwrap_or(false),
            forced: fields
                .optional("forced", expected::FLAG, flag)
                .unwrap_or(false),
            by: text("by"),
        };
        (run, fields.problems)
    }

    /// When the lease a reserve just granted expires.
    pub fn lease_expires(&self) -> Result<DateTime<Utc>> {
        self.time("lease_expires")?
            .ok_or_else(|| self.corrupt("lease_expires"))
    }

    /// The run's creation order.
    pub fn seq(&self) -> Result<u64> {
        self.number("seq")?.ok_or_else(|| self.corrupt("seq"))
    }
}

/// Reads the fields of a record, noting each that cannot be read.
struct Fields<'a> {
    record: &'a Record,
    problems: Vec<Unreadable>,
}

impl Fields<'_> {
    fn problem(&mut self, name: &str, expected: &'static str) {
        self.problems.push(Unreadable::invalid(name, expected));
    }

    /// A field that may be absent: `None` then, or when it cannot be read.
    fn optional<T>(
        &mut self,
        name: &str,
        expected: &'static str,
        read: impl FnOnce(&str) -> Option<T>,
    ) -> Option<T> {
        let value = self.record.get(name)?;
        let read = read(value);
        if read.is_none() {
            self.problem(name, expected);
        }
        read
    }

    /// A field every run has: `default` when it is absent or cannot be read.
    fn required<T>(
        &mut self,
        name: &str,
        expected: &'static str,
        read: impl FnOnce(&str) -> Option<T>,
        default: T,
    ) -> T {
        match self.record.get(name) {
            Some(_) => self.optional(name, expected, read).unwrap_or(default),
            None => {
                self.problem(name, expected::PRESENT);
                default
            }
        }
    }
}

fn flag(value: &str) -> Option<bool> {
    match value {
        "0" => Some(false),
        "1" => Some(true),
        _ => None,
    }
}

fn number<T: std::str::FromStr>(value: &str) -> Option<T> {
    value.parse().ok()
}

fn time(value: &str) -> Option<DateTime<Utc>> {
    DateTime::from_timestamp_millis(number(value)?)
}

fn json<T: serde::de::DeserializeOwned>(value: &str) -> Option<T> {
    serde_json::from_str(value).ok()
}

/// The fields every run's hash holds, which a repair sets rather than deletes.
const REQUIRED: &[&str] = &[
    "id",
    "job",
    "queue",
    "status",
    "trigger",
    "attempt",
    "max_attempts",
    "queued_at",
];

/// How to make the fields that `problems` name readable in run `id`'s hash: the fields
/// to delete, and (field, value) pairs to set, from `run` as [`Record::decode`] read it,
/// with its defaults in their place.
pub(super) fn repair(id: &str, run: &Run, problems: &[Unreadable]) -> (Vec<String>, Vec<String>) {
    let (mut delete, mut set) = (Vec::new(), Vec::new());
    for field in problems.iter().flat_map(Unreadable::fields) {
        let value = match field {
            "id" => Some(id.to_owned()),
            "job" => Some(run.job.clone()),
            "queue" => Some(run.queue.clone()),
            "trigger" => Some(run.trigger.as_str().to_owned()),
            "attempt" => Some(run.attempt.to_string()),
            "max_attempts" => Some(run.max_attempts.to_string()),
            "queued_at" => Some(ms(run.queued_at).to_string()),
            // `status` is set by the step that records the run failed.
            _ => None,
        };
        match value {
            Some(value) => set.extend([field.to_owned(), value]),
            None if !REQUIRED.contains(&field) => delete.push(field.to_owned()),
            None => {}
        }
    }
    (delete, set)
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
