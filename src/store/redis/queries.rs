//! The read-only side: runs, output, history, queues, durations and workers. Reads need
//! no script; several keys read together go in one pipeline (MULTI where they must agree).

use chrono::{DateTime, TimeDelta, Utc};
use redis::Value;

use super::record::{Record, reply};
use super::{RedisStore, now_ms, time};
use crate::store::{
    Chunk, DaemonInfo, HistoryFilter, Output, QueuedRun, Result, Run, RunId, RunStatus, StoreError,
    Stream, WorkerInfo,
};

/// Runs read per round trip when a history filter has to skip some.
const HISTORY_CHUNK: usize = 500;
/// History is kept by creation order, and `since` compares `queued_at`, stamped by each
/// caller's clock: the scan stops this far past `since`, to allow for clock skew.
const CLOCK_SKEW: TimeDelta = TimeDelta::minutes(1);

impl RedisStore {
    /// The records of these runs, in order, for a listing; pruned ones are left out, and
    /// so is a key that is not a hash (something else wrote it), with a warning: a
    /// listing goes on, and the reserve that reaches the run moves it aside, dead.
    async fn records(&self, ids: &[String]) -> Result<Vec<Record>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut pipe = redis::pipe();
        pipe.ignore_errors();
        for id in ids {
            pipe.cmd("HGETALL").arg(self.key(&format!("run:{id}")));
        }
        let values: Vec<redis::RedisResult<Value>> = self.connection.pipeline(&pipe).await?;
        let mut records = Vec::with_capacity(values.len());
        for (id, value) in ids.iter().zip(values) {
            match value {
                Ok(Value::Array(items)) if items.is_empty() => {}
                Ok(Value::Map(items)) if items.is_empty() => {}
                Ok(value) => records.push(Record::from_value(value)?),
                Err(error) if error.code() == Some("WRONGTYPE") => {
                    tracing::warn!(
                        run = %id,
                        "run {id} is left out: its key is not a hash (something else wrote it); the reserve that reaches it moves it aside, dead"
                    );
                }
                Err(error) => return Err(self.connection.error(error)),
            }
        }
        Ok(records)
    }

    pub(super) async fn runs(&self, ids: &[String]) -> Result<Vec<Run>> {
        self.records(ids).await?.iter().map(Record::run).collect()
    }

    /// One run, whatever its key holds: a key that is not a hash is an error here.
    pub(super) async fn fetch_run(&self, id: &str) -> Result<Option<Run>> {
        let value: Value = self
            .connection
            .query(redis::cmd("HGETALL").arg(self.key(&format!("run:{id}"))))
            .await?;
        match value {
            Value::Array(items) if items.is_empty() => Ok(None),
            Value::Map(items) if items.is_empty() => Ok(None),
            value => Record::from_value(value)?.run().map(Some),
        }
    }

    pub(super) async fn read_output(&self, id: &str, from: u64) -> Result<Output> {
        let mut call = self.invocation(&self.scripts.read_output, now_ms());
        call.arg(id).arg(from);
        let mut items = reply(self.connection.script(&call).await?, id)?.into_iter();
        let end = match items.next() {
            Some(Value::Int(total)) => total as u64,
            other => {
                return Err(StoreError::Corrupt(format!(
                    "run {id} has an output total of {other:?}"
                )));
            }
        };
        let pieces = match items.as_slice() {
            // Written before output kept its streams: which one is unknown.
            [Value::Nil, Value::BulkString(bytes)] => {
                vec![Chunk::new(Stream::Stdout, bytes.clone())]
            }
            _ => items
                .map(|item| match item {
                    Value::BulkString(tagged) => untag(id, tagged),
                    other => Err(StoreError::Corrupt(format!(
                        "run {id} has an output chunk of {other:?}"
                    ))),
                })
                .collect::<Result<Vec<_>>>()?,
        };
        let held: u64 = pieces.iter().map(|chunk| chunk.bytes.len() as u64).sum();
        Ok(Output::from_tail(
            pieces,
            end.saturating_sub(held),
            end,
            from,
        ))
    }

    /// A `ZRANGEBYLEX` of `ids`, after indexing there the runs recorded since the last
    /// look-up (`index_ids.lua`).
    pub(super) async fn ids_with_prefix(&self, prefix: &str, limit: usize) -> Result<Vec<RunId>> {
        self.index_ids().await?;
        self.connection
            .query(
                redis::cmd("ZRANGEBYLEX")
                    .arg(self.key("ids"))
                    .arg(format!("[{prefix}"))
                    .arg(format!("({prefix}\u{7f}"))
                    .arg("LIMIT")
                    .arg(0)
                    .arg(limit),
            )
            .await
    }

    /// Copies into `ids` every run id `history` holds beyond the last one indexed, a
    /// page per script.
    async fn index_ids(&self) -> Result<()> {
        const PAGE: u64 = 1000;
        loop {
            let mut call = self.invocation(&self.scripts.index_ids, now_ms());
            call.arg(PAGE);
            let copied = match self.connection.script(&call).await? {
                Value::Int(n) => n as u64,
                other => {
                    return Err(StoreError::Corrupt(format!(
                        "indexing run ids answered {other:?}"
                    )));
                }
            };
            if copied < PAGE {
                return Ok(());
            }
        }
    }

    pub(super) async fn scan_history(&self, filter: &HistoryFilter) -> Result<Vec<Run>> {
        let index = match &filter.job {
            Some(job) => self.key(&format!("history:{job}")),
            None => self.key("history"),
        };
        let limit = if filter.limit == 0 {
            usize::MAX
        } else {
            filter.limit
        };
        let filtered = !filter.statuses.is_empty() || filter.since.is_some();
        let chunk = if filtered {
            HISTORY_CHUNK
        } else {
            limit.min(HISTORY_CHUNK)
        };
        let stop_before = filter.since.map(|since| since - CLOCK_SKEW);
        let mut found = Vec::new();
        let mut offset = 0;
        loop {
            let ids: Vec<String> = self
                .connection
                .query(
                    redis::cmd("ZREVRANGE")
                        .arg(&index)
                        .arg(offset)
                        .arg(offset + chunk - 1),
                )
                .await?;
            for run in self.runs(&ids).await? {
                if stop_before.is_some_and(|stop| run.queued_at < stop) {
                    return Ok(found);
                }
                let wanted = filter.since.is_none_or(|since| run.queued_at >= since)
                    && (filter.statuses.is_empty() || filter.statuses.contains(&run.status));
                if wanted {
                    found.push(run);
                    if found.len() == limit {
                        return Ok(found);
                    }
                }
            }
            if ids.len() < chunk {
                return Ok(found);
            }
            offset += chunk;
        }
    }

    pub(super) async fn list_running(&self) -> Result<Vec<Run>> {
        let ids: Vec<String> = self
            .connection
            .query(
                redis::cmd("ZRANGE")
                    .arg(self.key("inflight"))
                    .arg(0)
                    .arg(-1),
            )
            .await?;
        let mut runs: Vec<Run> = self.runs(&ids).await?;
        runs.retain(|run| run.status == RunStatus::Running);
        runs.sort_by(|a, b| (a.started_at, &a.id).cmp(&(b.started_at, &b.id)));
        Ok(runs)
    }

    async fn queue_names(&self) -> Result<Vec<String>> {
        let mut names: Vec<String> = self
            .connection
            .query(redis::cmd("SMEMBERS").arg(self.key("queues")))
            .await?;
        names.sort();
        Ok(names)
    }

    /// Queue `queue`'s run ids in the order reserve takes them: ready runs (and delayed
    /// ones already due, which reserve moves in by seq), then the delayed ones by due time.
    async fn queue_order(&self, queue: &str) -> Result<Vec<Run>> {
        let mut pipe = redis::pipe();
        pipe.atomic()
            .cmd("ZRANGE")
            .arg(self.key(&format!("ready:{queue}")))
            .arg(0)
            .arg(-1)
            .cmd("ZRANGE")
            .arg(self.key(&format!("delayed:{queue}")))
            .arg(0)
            .arg(-1);
        let (ready, delayed): (Vec<String>, Vec<String>) = self.connection.pipeline(&pipe).await?;
        let ids: Vec<String> = ready.into_iter().chain(delayed).collect();
        let mut runs = Vec::with_capacity(ids.len());
        for record in self.records(&ids).await? {
            let seq: u64 = record.seq()?;
            let run = record.run()?;
            if run.status == RunStatus::Queued {
                runs.push((seq, run));
            }
        }
        let now = Utc::now();
        let due_at = |run: &Run| run.not_before.filter(|&at| at > now);
        runs.sort_by(|(seq_a, a), (seq_b, b)| (due_at(a), seq_a).cmp(&(due_at(b), seq_b)));
        Ok(runs.into_iter().map(|(_, run)| run).collect())
    }

    pub(super) async fn list_queued(&self) -> Result<Vec<QueuedRun>> {
        let mut queued = Vec::new();
        for queue in self.queue_names().await? {
            let runs = self.queue_order(&queue).await?;
            queued.extend(
                runs.into_iter()
                    .zip(1..)
                    .map(|(run, position)| QueuedRun { run, position }),
            );
        }
        Ok(queued)
    }

    pub(super) async fn count_queued(&self) -> Result<Vec<(String, u64)>> {
        let names = self.queue_names().await?;
        if names.is_empty() {
            return Ok(Vec::new());
        }
        let mut pipe = redis::pipe();
        for queue in &names {
            pipe.cmd("ZCARD").arg(self.key(&format!("ready:{queue}")));
            pipe.cmd("ZCARD").arg(self.key(&format!("delayed:{queue}")));
        }
        let counts: Vec<u64> = self.connection.pipeline(&pipe).await?;
        Ok(names
            .into_iter()
            .zip(counts.chunks(2).map(|c| c.iter().sum::<u64>()))
            .filter(|(_, count)| *count > 0)
            .collect())
    }

    pub(super) async fn last_durations(&self, job: &str, count: usize) -> Result<Vec<f64>> {
        if count == 0 {
            return Ok(Vec::new());
        }
        let key = self.key(&format!("done:ok:{job}"));
        let ids: Vec<String> = self
            .connection
            .query(redis::cmd("ZREVRANGE").arg(key).arg(0).arg(count - 1))
            .await?;
        let now = Utc::now();
        Ok(self
            .runs(&ids)
            .await?
            .iter()
            .filter_map(|run| run.duration_s(now))
            .collect())
    }

    pub(super) async fn list_workers(&self) -> Result<Vec<WorkerInfo>> {
        let mut workers: Vec<WorkerInfo> = self
            .registrations("workers")
            .await?
            .iter()
            .map(|json| parse_worker(json))
            .collect::<Result<_>>()?;
        workers.sort_by(|a, b| (&a.host, &a.id).cmp(&(&b.host, &b.id)));
        Ok(workers)
    }

    pub(super) async fn list_daemons(&self) -> Result<Vec<DaemonInfo>> {
        let mut daemons: Vec<DaemonInfo> = self
            .registrations("daemons")
            .await?
            .iter()
            .map(|json| parse_daemon(json))
            .collect::<Result<_>>()?;
        daemons.sort_by(|a, b| (&a.host, &a.id).cmp(&(&b.host, &b.id)));
        Ok(daemons)
    }

    /// The live entries of a registry (`workers` or `daemons`), as stored.
    async fn registrations(&self, registry: &str) -> Result<Vec<String>> {
        let ids: Vec<String> = self
            .connection
            .query(
                redis::cmd("ZRANGEBYSCORE")
                    .arg(self.key(&format!("{registry}:expiry")))
                    .arg(format!("({}", now_ms()))
                    .arg("+inf"),
            )
            .await?;
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let entries: Vec<Option<String>> = self
            .connection
            .query(redis::cmd("HMGET").arg(self.key(registry)).arg(&ids))
            .await?;
        Ok(entries.into_iter().flatten().collect())
    }
}

/// A daemon's registration as stored: JSON, `last_seen` in ms.
pub(super) fn daemon_json(daemon: &DaemonInfo, now_ms: i64) -> String {
    serde_json::json!({
        "id": daemon.id,
        "host": daemon.host,
        "pid": daemon.pid,
        "schedule_hash": daemon.schedule_hash,
        "last_seen": now_ms,
    })
    .to_string()
}

fn parse_daemon(json: &str) -> Result<DaemonInfo> {
    let corrupt = || {
        StoreError::Corrupt(format!(
            "a daemon registration that cronq did not write: {json}"
        ))
    };
    let value: serde_json::Value = serde_json::from_str(json).map_err(|_| corrupt())?;
    let text = |name: &str| value[name].as_str().map(str::to_owned).ok_or_else(corrupt);
    Ok(DaemonInfo {
        id: text("id")?,
        host: text("host")?,
        pid: value["pid"]
            .as_u64()
            .and_then(|p| u32::try_from(p).ok())
            .ok_or_else(corrupt)?,
        schedule_hash: text("schedule_hash")?,
        last_seen: time(value["last_seen"].as_i64().ok_or_else(corrupt)?)?,
    })
}

/// A worker's registration as stored: JSON, `last_seen` in ms.
pub(super) fn worker_json(worker: &WorkerInfo, now_ms: i64) -> String {
    serde_json::json!({
        "id": worker.id,
        "host": worker.host,
        "pid": worker.pid,
        "queues": worker.queues,
        "concurrency": worker.concurrency,
        "runs": worker.runs,
        "last_seen": now_ms,
    })
    .to_string()
}

fn parse_worker(json: &str) -> Result<WorkerInfo> {
    let corrupt = || {
        StoreError::Corrupt(format!(
            "a worker registration that cronq did not write: {json}"
        ))
    };
    let value: serde_json::Value = serde_json::from_str(json).map_err(|_| corrupt())?;
    let text = |name: &str| value[name].as_str().map(str::to_owned).ok_or_else(corrupt);
    let list = |name: &str| -> Result<Vec<String>> {
        value[name]
            .as_array()
            .ok_or_else(corrupt)?
            .iter()
            .map(|v| v.as_str().map(str::to_owned).ok_or_else(corrupt))
            .collect()
    };
    let last_seen: DateTime<Utc> = time(value["last_seen"].as_i64().ok_or_else(corrupt)?)?;
    Ok(WorkerInfo {
        id: text("id")?,
        host: text("host")?,
        pid: value["pid"]
            .as_u64()
            .and_then(|p| u32::try_from(p).ok())
            .ok_or_else(corrupt)?,
        queues: list("queues")?,
        // Registered by a cronq from before the field: assume the least.
        concurrency: match &value["concurrency"] {
            serde_json::Value::Null => 1,
            n => n
                .as_u64()
                .and_then(|n| u32::try_from(n).ok())
                .ok_or_else(corrupt)?,
        },
        runs: list("runs")?,
        last_seen,
    })
}

/// A chunk of `output:ID` as stored: its stream's fd as a digit, then its bytes.
fn untag(id: &str, mut tagged: Vec<u8>) -> Result<Chunk> {
    let stream = tagged
        .first()
        .and_then(|tag| Stream::from_fd(tag.wrapping_sub(b'0')))
        .ok_or_else(|| StoreError::Corrupt(format!("run {id} has output of no known stream")))?;
    tagged.remove(0);
    Ok(Chunk::new(stream, tagged))
}
