//! The Redis backend: every key under one prefix with a hash tag (default `{cronq}:`),
//! so the multi-key Lua scripts also run on Redis Cluster; every change that touches
//! several keys is one script (`scripts/*.lua`), never a read-modify-write from here.
//!
//! Key layout, `P` being the prefix:
//!
//! | key | type | holds |
//! |---|---|---|
//! | `P` `seq` | string | a counter: each run's creation order (`seq`) |
//! | `P` `run:ID` | hash | one run (see `record.rs`) |
//! | `P` `output:ID` | list | the tail of a run's output in chunks, in the order written: each its stream's fd as a digit (`1` stdout, `2` stderr), then its bytes |
//! | `P` `out:ID` | string | the tail of a run's output before streams were kept apart: read as stdout, never written |
//! | `P` `ready:Q` | zset | queue Q's ready runs, by seq: reserve takes the lowest |
//! | `P` `delayed:Q` | zset | queue Q's runs not ready yet, by `not_before` ms |
//! | `P` `wake:Q` | list | a few tokens that wake the reservers blocked on queue Q |
//! | `P` `queues` | set | every queue name ever used |
//! | `P` `inflight` | zset | running runs, by lease expiry ms: what reap looks at |
//! | `P` `cancels:WORKER` | list | ids of the worker's runs whose cancel was requested, for its listener to take (expires 10 min after the last) |
//! | `P` `history` | zset | every run, by seq |
//! | `P` `history:JOB` | zset | the job's runs, by seq |
//! | `P` `ids` | zset | every run, each scored 0 so that it is ordered by id: short ids are found by `ZRANGEBYLEX`; built from `history` by the first lookup that finds it short (a store from before it) |
//! | `P` `done:ok:JOB` | zset | the job's succeeded runs, by seq |
//! | `P` `done:other:JOB` | zset | the job's other finished runs, by seq |
//! | `P` `claim:JOB:INSTANT_MS` | string | the run that fired that instant (expires after 8 days) |
//! | `P` `fired` | hash | job → last instant fired, ms |
//! | `P` `lock:NAME` | string | the lock's owner, with its TTL |
//! | `P` `workers` | hash | worker id → its registration (JSON) |
//! | `P` `workers:expiry` | zset | worker id, by the ms its registration runs out |
//! | `P` `daemons`, `P` `daemons:expiry` | hash, zset | the same for daemons, with their schedule's hash |
//! | `P` `schedule` | string | the schedule the daemons published (JSON) |
//! | `P` `dead` | zset | the dead letters: runs whose key was not a hash, by the ms they were moved aside |
//! | `P` `dead:ID` | any | what such a run's key held, moved aside |
//! | `P` `pauses` | hash | job (or `*` for every job) → its pause (JSON) |
//! | `P` `pauses:recorded` | hash | job (or `*`) → the instants its pause recorded `skipped` |
//! | `P` `pauses:version` | string | a ULID set anew by every pause and resume |
//!
//! The store must not know the daemon, the workers or the CLI; it only keeps their state.

mod connection;
mod fire;
mod health;
mod last_runs;
mod lost_fires;
mod notices;
mod pages;
mod pauses;
mod queries;
mod record;
mod reserved;
mod scripts;
mod sentinel;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use redis::{Script, ScriptInvocation, Value};

use self::connection::{Connection, MAX_BLOCK};
use self::lost_fires::{FireMarks, LostFires};
use self::record::{ms, new_run_fields, reply};
use self::reserved::{Reserved, reserved};
use self::scripts::Scripts;
use super::{
    Cancelled, Chunk, DaemonInfo, Finished, HistoryFilter, KeyClaim, LastRuns, Lease, NewRun,
    Outcome, Output, Pause, PauseScope, Paused, PublishedJson, PublishedSchedule, QueuedRun,
    Result, Retention, Run, RunId, RunStatus, Store, StoreError, WorkerInfo, WorkerRef, check,
    new_run_id, new_token,
};

pub use self::connection::redact;
pub use self::sentinel::SentinelUrl;

/// A run decoded from its hash's field/value pairs, as HGETALL returns them. Public so
/// the fuzz targets and property tests can feed the decoder junk without a server.
#[doc(hidden)]
pub fn decode_run(pairs: &[(&[u8], &[u8])]) -> Result<Run> {
    let bulk = |bytes: &[u8]| Value::BulkString(bytes.to_vec());
    let items = pairs.iter().flat_map(|(n, v)| [bulk(n), bulk(v)]).collect();
    record::run(Value::Array(items))
}

/// The key prefix when none is configured; the braces are the Cluster hash tag.
pub const DEFAULT_PREFIX: &str = "{cronq}:";

/// How long a fire claim outlives its firing. The job's last-fired marker keeps catch-up
/// from going back further, so an older claim is never needed.
const CLAIM_TTL: Duration = Duration::from_secs(8 * 24 * 3600);
/// Runs a reap or prune script handles at a time, so one script never blocks Redis long.
const BATCH: usize = 100;
/// Jobs a prune script looks at per call: a job with nothing to prune costs a few reads.
const PRUNE_JOBS: usize = 200;
const LOST_REASON: &str = "lease expired: its worker stopped heartbeating";
/// How long a worker's list of cancel requests outlives the last request, for a worker
/// that died and so never takes from it.
const CANCEL_REQUESTS_TTL: Duration = Duration::from_secs(10 * 60);

/// A store in one Redis server (or a replicated primary). The keys are laid out for
/// Cluster, but this client connects to a single node.
pub struct RedisStore {
    connection: Connection,
    /// What this process fired, to notice fires the store lost (`lost_fires.rs`).
    fire_marks: FireMarks,
    scripts: Scripts,
    prefix: String,
    output_tail_bytes: usize,
}

impl RedisStore {
    /// Connects to `redis://[user:pass@]host:port/db` (or `rediss://` for TLS). Every key
    /// goes under `prefix`; each run keeps the last `output_tail_bytes` of its output.
    pub async fn connect(url: &str, prefix: &str, output_tail_bytes: usize) -> Result<RedisStore> {
        if prefix.is_empty() {
            return Err(StoreError::Invalid(
                "the Redis key prefix is empty".to_owned(),
            ));
        }
        Ok(RedisStore {
            connection: Connection::open(url).await?,
            fire_marks: FireMarks::default(),
            scripts: Scripts::new(),
            prefix: prefix.to_owned(),
            output_tail_bytes,
        })
    }

    fn key(&self, rest: &str) -> String {
        format!("{}{rest}", self.prefix)
    }

    /// A script call with its two fixed parameters: the prefix and the clock (ms).
    fn invocation<'a>(&self, script: &'a Script, now_ms: i64) -> ScriptInvocation<'a> {
        let mut invocation = script.prepare_invoke();
        invocation.key(&self.prefix).arg(now_ms);
        invocation
    }

    /// Records and queues `run`; with `forbid_check`, only when its forbid lock (if it has
    /// one) is neither held nor waited for by a queued run: `Busy` otherwise.
    async fn enqueue_checked(&self, run: NewRun, forbid_check: bool) -> Result<Run> {
        check::payload(&run)?;
        let (id, now) = (new_run_id(), now_ms());
        let mut call = self.invocation(&self.scripts.enqueue, now);
        call.arg(&id)
            .arg(&run.job)
            .arg(&run.queue)
            .arg(not_before_arg(&run))
            .arg(if forbid_check {
                record::forbid_arg(&run)
            } else {
                ""
            });
        call.arg(new_run_fields(&run, RunStatus::Queued, now));
        let mut items = reply(self.connection.script(&call).await?, &id)?.into_iter();
        match items.next().unwrap_or(Value::Nil) {
            Value::Nil if items.len() == 2 => {
                let mut text = items.map(|v| record::text(&v).unwrap_or_default());
                let holder = text.next().unwrap_or_default();
                let status = text.next().and_then(|s| RunStatus::parse(&s));
                Err(StoreError::Busy {
                    job: run.job,
                    holder,
                    status: status.unwrap_or(RunStatus::Running),
                })
            }
            Value::Nil => record::described_run(id, run, RunStatus::Queued, now),
            replayed => record::run(replayed),
        }
    }

    /// One reserve attempt: the run and its lease, or the earliest delayed run's instant.
    /// A run it cannot hand out is recorded failed, and the attempt goes on.
    async fn try_reserve(
        &self,
        queues: &[String],
        worker: &WorkerRef,
        lease_ms: i64,
    ) -> Result<std::result::Result<(Run, Lease), Option<i64>>> {
        loop {
            let (now, token) = (now_ms(), new_token());
            let mut call = self.invocation(&self.scripts.reserve, now);
            call.arg(now + lease_ms)
                .arg(lease_ms)
                .arg(&token)
                .arg(&worker.id)
                .arg(&worker.host);
            call.arg(queues);
            match reserved(self.connection.script(&call).await?, &token)? {
                Reserved::Run(run, lease) => return Ok(Ok((run, lease))),
                Reserved::None(earliest) => return Ok(Err(earliest)),
                Reserved::Unreadable { id, run, problems } => {
                    self.reject(&id, &token, run.as_ref(), &problems, worker)
                        .await?;
                }
            }
        }
    }
}

/// The log line for fires the store lost: the runs of those instants are gone from the
/// history (some may have run) and are not fired again by this process.
fn warn_lost(job: &str, lost: &LostFires) {
    let instant = |ms: i64| {
        time(ms)
            .map(|t| t.to_rfc3339())
            .unwrap_or_else(|_| ms.to_string())
    };
    let after = lost.after_ms.map(instant);
    let through = instant(lost.through_ms);
    let since = match &after {
        Some(after) => format!("after {after}"),
        None => "at all".to_owned(),
    };
    tracing::warn!(
        job,
        lost_after = after.as_deref().unwrap_or("none"),
        lost_through = %through,
        "the store lost fires of job `{job}`: it has none {since} though this daemon fired it through {through}; \
         a Redis failover dropped writes not yet replicated (or Redis restarted without persistence), \
         so the runs of those instants are gone from the history (a `skipped` record at the last one names them) and are not fired again"
    );
}

fn now_ms() -> i64 {
    ms(Utc::now())
}

/// A duration in whole milliseconds, at least 1 (Redis refuses a TTL of 0).
fn duration_ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX / 4).max(1)
}

fn time(ms: i64) -> Result<DateTime<Utc>> {
    DateTime::from_timestamp_millis(ms)
        .ok_or_else(|| StoreError::Corrupt(format!("a time of {ms} ms")))
}

/// A run's `not_before` as a script argument: ms, or empty for none (an absent `Option`
/// would write no argument at all and shift the rest).
fn not_before_arg(run: &NewRun) -> String {
    run.not_before
        .map(|t| ms(t).to_string())
        .unwrap_or_default()
}

/// The run in a reply item, or `None` for a nil.
/// Puts the arguments of a finish on `call` (after the prefix and the clock): the run,
/// its token, its status, the id and start of its retry. Returns the outcome's fields
/// (name, value, ...), which go last.
fn finish_args(
    call: &mut ScriptInvocation<'_>,
    lease: &Lease,
    outcome: &Outcome,
    now: i64,
    retry_in: Duration,
) -> Vec<String> {
    let retry_at = now.saturating_add(i64::try_from(retry_in.as_millis()).unwrap_or(i64::MAX / 4));
    call.arg(&lease.run)
        .arg(&lease.token)
        .arg(outcome.status.as_str())
        .arg(new_run_id())
        .arg(retry_at);
    let optional = [
        ("exit_code", outcome.exit_code.map(|c| c.to_string())),
        ("signal", outcome.signal.map(|s| s.to_string())),
        ("reason", outcome.reason.clone()),
    ];
    optional
        .into_iter()
        .filter_map(|(name, value)| Some([name.to_owned(), value?]))
        .flatten()
        .collect()
}

fn optional_run(value: Value) -> Result<Option<Run>> {
    match value {
        Value::Nil => Ok(None),
        value => record::run(value).map(Some),
    }
}

#[async_trait]
impl Store for RedisStore {
    async fn enqueue(&self, run: NewRun) -> Result<Run> {
        self.enqueue_checked(run, false).await
    }

    async fn enqueue_if_idle(&self, run: NewRun) -> Result<Run> {
        self.enqueue_checked(run, true).await
    }

    async fn fire(
        &self,
        run: NewRun,
        instant: DateTime<Utc>,
        skip: Option<String>,
    ) -> Result<Option<Run>> {
        self.claim_fire(run, instant, None, skip).await
    }

    async fn fire_again(
        &self,
        run: NewRun,
        instant: DateTime<Utc>,
        pass: DateTime<Utc>,
        skip: Option<String>,
    ) -> Result<Option<Run>> {
        self.claim_fire(run, instant, Some(pass), skip).await
    }

    async fn last_fired(&self, job: &str) -> Result<Option<DateTime<Utc>>> {
        let at: Option<i64> = self
            .connection
            .query(redis::cmd("HGET").arg(self.key("fired")).arg(job))
            .await?;
        at.map(time).transpose()
    }

    async fn claims(&self, job: &str, instants: &[DateTime<Utc>]) -> Result<Vec<Option<RunId>>> {
        if instants.is_empty() {
            return Ok(Vec::new());
        }
        // The keys `fire.lua` claims: claim:JOB:INSTANT_MS, each holding the run's id.
        let mut get = redis::cmd("MGET");
        for at in instants {
            get.arg(self.key(&format!("claim:{job}:{}", at.timestamp_millis())));
        }
        self.connection.query(&get).await
    }

    fn claims_kept(&self, _keep_max_age: Duration) -> Duration {
        CLAIM_TTL
    }

    async fn last_fires(&self) -> Result<HashMap<String, DateTime<Utc>>> {
        let fired: HashMap<String, i64> = self
            .connection
            .query(redis::cmd("HGETALL").arg(self.key("fired")))
            .await?;
        fired
            .into_iter()
            .map(|(job, at)| Ok((job, time(at)?)))
            .collect()
    }

    async fn reserve(
        &self,
        queues: &[String],
        worker: &WorkerRef,
        lease_for: Duration,
        wait: Duration,
    ) -> Result<Option<(Run, Lease)>> {
        check::queues(queues)?;
        let deadline = Instant::now().checked_add(wait);
        let wake_keys: Vec<String> = queues
            .iter()
            .map(|q| self.key(&format!("wake:{q}")))
            .collect();
        loop {
            let earliest = match self
                .try_reserve(queues, worker, duration_ms(lease_for))
                .await?
            {
                Ok(taken) => return Ok(Some(taken)),
                Err(earliest) => earliest,
            };
            let remaining = match deadline {
                Some(deadline) => deadline.saturating_duration_since(Instant::now()),
                None => MAX_BLOCK,
            };
            if remaining.is_zero() {
                return Ok(None);
            }
            // Block until woken, the earliest delayed run is due, or the wait is spent.
            let mut block = remaining.min(MAX_BLOCK);
            if let Some(at) = earliest {
                let due_in = u64::try_from(at - now_ms()).unwrap_or(0).max(1);
                block = block.min(Duration::from_millis(due_in));
            }
            self.connection.wait_for_wake(&wake_keys, block).await?;
        }
    }

    async fn extend(&self, lease: &Lease, lease_for: Duration) -> Result<(Lease, bool)> {
        let (now, lease_ms) = (now_ms(), duration_ms(lease_for));
        let expires = now + lease_ms;
        let mut call = self.invocation(&self.scripts.extend, now);
        call.arg(&lease.run)
            .arg(&lease.token)
            .arg(expires)
            .arg(lease_ms);
        let items = reply(self.connection.script(&call).await?, &lease.run)?;
        let cancel = items.first().and_then(record::text).as_deref() == Some("1");
        let renewed = Lease {
            run: lease.run.clone(),
            token: lease.token.clone(),
            expires_at: time(expires)?,
        };
        Ok((renewed, cancel))
    }

    async fn finish(
        &self,
        lease: &Lease,
        outcome: Outcome,
        retry_in: Duration,
    ) -> Result<Finished> {
        check::outcome(&outcome)?;
        let now = now_ms();
        let mut call = self.invocation(&self.scripts.finish, now);
        let fields = finish_args(&mut call, lease, &outcome, now, retry_in);
        call.arg(fields);
        let mut items = reply(self.connection.script(&call).await?, &lease.run)?.into_iter();
        let run = record::run(items.next().unwrap_or(Value::Nil))?;
        let retry = optional_run(items.next().unwrap_or(Value::Nil))?;
        Ok(Finished { run, retry })
    }

    async fn finish_and_reserve(
        &self,
        lease: &Lease,
        outcome: Outcome,
        retry_in: Duration,
        queues: &[String],
        worker: &WorkerRef,
        lease_for: Duration,
    ) -> Result<(Finished, Option<(Run, Lease)>)> {
        check::outcome(&outcome)?;
        check::queues(queues)?;
        let (now, lease_ms, token) = (now_ms(), duration_ms(lease_for), new_token());
        let mut call = self.invocation(&self.scripts.finish_and_reserve, now);
        let fields = finish_args(&mut call, lease, &outcome, now, retry_in);
        call.arg(now + lease_ms)
            .arg(lease_ms)
            .arg(&token)
            .arg(&worker.id)
            .arg(&worker.host)
            .arg(fields.len())
            .arg(fields)
            .arg(queues);
        let mut items = reply(self.connection.script(&call).await?, &lease.run)?.into_iter();
        let run = record::run(items.next().unwrap_or(Value::Nil))?;
        let retry = optional_run(items.next().unwrap_or(Value::Nil))?;
        let next = match reserved(items.next().unwrap_or(Value::Nil), &token)? {
            Reserved::Run(run, lease) => Some((run, lease)),
            Reserved::None(_) => None,
            Reserved::Unreadable { id, run, problems } => {
                // The finish is recorded; the worker's next reserve goes on from here.
                self.reject(&id, &token, run.as_ref(), &problems, worker)
                    .await?;
                None
            }
        };
        Ok((Finished { run, retry }, next))
    }

    async fn cancel(&self, id: &str) -> Result<Cancelled> {
        let mut call = self.invocation(&self.scripts.cancel, now_ms());
        call.arg(id).arg(duration_ms(CANCEL_REQUESTS_TTL));
        let items = reply(self.connection.script(&call).await?, id)?;
        match items.first().and_then(record::text).as_deref() {
            Some("dequeued") => Ok(Cancelled::Dequeued),
            Some("requested") => Ok(Cancelled::Requested),
            other => Err(StoreError::Corrupt(format!(
                "an unexpected cancel reply: {other:?}"
            ))),
        }
    }

    async fn cancel_requests(&self, worker_id: &str, wait: Duration) -> Result<Vec<RunId>> {
        let requests = self.key(&format!("cancels:{worker_id}"));
        let deadline = Instant::now().checked_add(wait);
        // The first request is waited for by a blocking pop, so that a listening worker
        // costs one command a second; the script then takes the rest and keeps those
        // still to be acted on.
        let first = loop {
            let remaining = match deadline {
                Some(deadline) => deadline.saturating_duration_since(Instant::now()),
                None => MAX_BLOCK,
            };
            if remaining.is_zero() {
                break None;
            }
            if let Some(id) = self.connection.wait_for_item(&requests, remaining).await? {
                break Some(id);
            }
        };
        if first.is_none() && !wait.is_zero() {
            return Ok(Vec::new());
        }
        let mut call = self.invocation(&self.scripts.cancel_requests, now_ms());
        call.arg(worker_id).arg(first.unwrap_or_default());
        match self.connection.script(&call).await? {
            Value::Array(items) => items
                .iter()
                .map(|item| {
                    record::text(item).ok_or_else(|| {
                        StoreError::Corrupt(format!("an unexpected cancel request: {item:?}"))
                    })
                })
                .collect(),
            other => Err(StoreError::Corrupt(format!(
                "an unexpected cancel requests reply: {other:?}"
            ))),
        }
    }

    async fn append_output(&self, lease: &Lease, chunks: &[Chunk]) -> Result<()> {
        let mut call = self.invocation(&self.scripts.append_output, now_ms());
        call.arg(&lease.run)
            .arg(&lease.token)
            .arg(self.output_tail_bytes);
        for chunk in chunks.iter().filter(|chunk| !chunk.bytes.is_empty()) {
            let mut tagged = Vec::with_capacity(1 + chunk.bytes.len());
            tagged.push(b'0' + chunk.stream.fd());
            tagged.extend_from_slice(&chunk.bytes);
            call.arg(tagged);
        }
        reply(self.connection.script(&call).await?, &lease.run).map(drop)
    }

    async fn set_progress(&self, id: &str, percent: u8, message: Option<&str>) -> Result<()> {
        check::percent(percent)?;
        let mut call = self.invocation(&self.scripts.set_progress, now_ms());
        call.arg(id)
            .arg(percent)
            .arg(if message.is_some() { "1" } else { "0" });
        call.arg(message.unwrap_or_default());
        reply(self.connection.script(&call).await?, id).map(drop)
    }

    async fn run(&self, id: &str) -> Result<Run> {
        self.fetch_run(id)
            .await?
            .ok_or_else(|| StoreError::NotFound(id.to_owned()))
    }

    async fn output(&self, id: &str, from: u64) -> Result<Output> {
        self.read_output(id, from).await
    }

    async fn history(&self, filter: &HistoryFilter) -> Result<Vec<Run>> {
        self.scan_history(filter).await
    }

    async fn history_page(&self, page: &crate::store::HistoryPage) -> Result<Vec<Run>> {
        self.page_of_history(page).await
    }

    async fn recent_runs(
        &self,
        jobs: &[String],
        count: usize,
    ) -> Result<Vec<Vec<crate::store::RunBrief>>> {
        self.last_runs_of(jobs, count).await
    }

    async fn run_ids_with_prefix(&self, prefix: &str, limit: usize) -> Result<Vec<RunId>> {
        self.ids_with_prefix(prefix, limit).await
    }

    async fn running(&self) -> Result<Vec<Run>> {
        self.list_running().await
    }

    async fn queued(&self) -> Result<Vec<QueuedRun>> {
        self.list_queued().await
    }

    async fn durations(&self, job: &str, count: usize) -> Result<Vec<f64>> {
        self.last_durations(job, count).await
    }

    async fn last_runs(&self, jobs: &[&str]) -> Result<HashMap<String, LastRuns>> {
        self.read_last_runs(jobs).await
    }

    async fn queue_lengths(&self) -> Result<Vec<(String, u64)>> {
        self.count_queued().await
    }

    async fn lock(&self, name: &str, owner: &str, ttl: Duration) -> Result<bool> {
        let mut call = self.invocation(&self.scripts.lock, now_ms());
        call.arg(name).arg(owner).arg(duration_ms(ttl));
        Ok(matches!(
            self.connection.script(&call).await?,
            Value::Int(1)
        ))
    }

    async fn renew_lock(&self, name: &str, owner: &str, ttl: Duration) -> Result<bool> {
        let mut call = self.invocation(&self.scripts.renew_lock, now_ms());
        call.arg(name).arg(owner).arg(duration_ms(ttl));
        Ok(matches!(
            self.connection.script(&call).await?,
            Value::Int(1)
        ))
    }

    async fn unlock(&self, name: &str, owner: &str) -> Result<bool> {
        let mut call = self.invocation(&self.scripts.unlock, now_ms());
        call.arg(name).arg(owner);
        Ok(matches!(
            self.connection.script(&call).await?,
            Value::Int(1)
        ))
    }

    async fn heartbeat(&self, worker: &WorkerInfo, ttl: Duration) -> Result<()> {
        let now = now_ms();
        let registration = queries::worker_json(worker, now);
        let mut call = self.invocation(&self.scripts.heartbeat, now);
        call.arg(&worker.id)
            .arg(registration)
            .arg(now.saturating_add(duration_ms(ttl)))
            .arg("workers");
        self.connection.script(&call).await.map(drop)
    }

    async fn daemon_heartbeat(&self, daemon: &DaemonInfo, ttl: Duration) -> Result<()> {
        let now = now_ms();
        let mut call = self.invocation(&self.scripts.heartbeat, now);
        call.arg(&daemon.id)
            .arg(queries::daemon_json(daemon, now))
            .arg(now.saturating_add(duration_ms(ttl)))
            .arg("daemons");
        self.connection.script(&call).await.map(drop)
    }

    async fn daemons(&self) -> Result<Vec<DaemonInfo>> {
        self.list_daemons().await
    }

    async fn publish(&self, schedule: PublishedJson) -> Result<()> {
        let json = schedule.into_string();
        self.connection
            .query::<()>(redis::cmd("SET").arg(self.key("schedule")).arg(json))
            .await
    }

    async fn published(&self) -> Result<Option<PublishedSchedule>> {
        let json: Option<String> = self
            .connection
            .query(redis::cmd("GET").arg(self.key("schedule")))
            .await?;
        json.map(|json| {
            serde_json::from_str(&json)
                .map_err(|e| StoreError::Corrupt(format!("the published schedule: {e}")))
        })
        .transpose()
    }

    async fn dead_letters(&self) -> Result<u64> {
        self.connection
            .query(redis::cmd("ZCARD").arg(self.key("dead")))
            .await
    }

    async fn claim_idempotency_key(&self, key: &str, hold: Duration) -> Result<KeyClaim> {
        let mut call = self.invocation(&self.scripts.claim_key, now_ms());
        call.arg(key).arg(duration_ms(hold));
        match self.connection.script(&call).await? {
            Value::BulkString(held) if held.is_empty() => Ok(KeyClaim::Claimed),
            Value::BulkString(held) if held == b"-" => Ok(KeyClaim::Pending),
            Value::BulkString(held) => {
                Ok(KeyClaim::Done(String::from_utf8_lossy(&held).into_owned()))
            }
            other => Err(StoreError::Corrupt(format!(
                "an unexpected reply to an idempotency key claim: {other:?}"
            ))),
        }
    }

    async fn settle_idempotency_key(
        &self,
        key: &str,
        run: Option<&str>,
        keep: Duration,
    ) -> Result<()> {
        let key = self.key(&format!("idempotency:{key}"));
        let cmd = match run {
            Some(run) => {
                let mut cmd = redis::cmd("SET");
                cmd.arg(&key).arg(run).arg("PX").arg(duration_ms(keep));
                cmd
            }
            None => {
                let mut cmd = redis::cmd("DEL");
                cmd.arg(&key);
                cmd
            }
        };
        let _: Value = self.connection.query(&cmd).await?;
        Ok(())
    }

    async fn published_hash(&self) -> Result<Option<String>> {
        let head: String = self
            .connection
            .query(
                redis::cmd("GETRANGE")
                    .arg(self.key("schedule"))
                    .arg(0)
                    .arg(PublishedJson::HEAD_BYTES - 1),
            )
            .await?;
        Ok(PublishedJson::hash_in(&head))
    }

    async fn workers(&self) -> Result<Vec<WorkerInfo>> {
        self.list_workers().await
    }

    async fn unregister(&self, worker_id: &str) -> Result<()> {
        let mut call = self.invocation(&self.scripts.unregister, now_ms());
        call.arg(worker_id);
        self.connection.script(&call).await.map(drop)
    }

    async fn reap(&self) -> Result<Vec<Run>> {
        let mut lost = Vec::new();
        loop {
            let mut call = self.invocation(&self.scripts.reap, now_ms());
            call.arg(LOST_REASON)
                .arg((0..BATCH).map(|_| new_run_id()).collect::<Vec<_>>());
            let value = self.connection.script(&call).await?;
            let Value::Array(items) = value else {
                return Err(StoreError::Corrupt(format!(
                    "an unexpected reap reply: {value:?}"
                )));
            };
            let mut items = items.into_iter();
            let taken = match items.next() {
                Some(Value::Int(n)) => usize::try_from(n).unwrap_or(0),
                _ => 0,
            };
            if let Some(Value::Array(runs)) = items.next() {
                for run in runs {
                    lost.push(record::run(run)?);
                }
            }
            if taken < BATCH {
                return Ok(lost);
            }
        }
    }

    async fn prune(&self, jobs: &[(&str, Retention)]) -> Result<u64> {
        let (mut deleted, mut rest) = (0, jobs);
        while !rest.is_empty() {
            let now = now_ms();
            let mut call = self.invocation(&self.scripts.prune, now);
            call.arg(BATCH);
            for (job, keep) in rest.iter().take(PRUNE_JOBS) {
                let max_age = i64::try_from(keep.max_age.as_millis()).unwrap_or(i64::MAX / 4);
                call.arg(job)
                    .arg(keep.succeeded)
                    .arg(keep.failed)
                    .arg(now.saturating_sub(max_age));
            }
            let (count, done) = match self.connection.script(&call).await? {
                Value::Array(items) if items.len() == 2 => match (&items[0], &items[1]) {
                    (Value::Int(count), Value::Int(done)) => (*count as u64, *done as usize),
                    _ => {
                        return Err(StoreError::Corrupt(format!(
                            "an unexpected prune reply: {items:?}"
                        )));
                    }
                },
                other => {
                    return Err(StoreError::Corrupt(format!(
                        "an unexpected prune reply: {other:?}"
                    )));
                }
            };
            deleted += count;
            rest = &rest[done.min(rest.len())..];
        }
        Ok(deleted)
    }

    async fn pause(&self, scope: &PauseScope, pause: &Pause) -> Result<()> {
        self.put_pause(scope, pause).await
    }

    async fn resume(&self, scope: &PauseScope) -> Result<Option<Pause>> {
        self.end_pause(scope).await
    }

    async fn pauses(&self) -> Result<Vec<Paused>> {
        self.list_pauses().await
    }

    async fn pause_version(&self) -> Result<Option<String>> {
        self.read_pause_version().await
    }

    async fn pass_paused(
        &self,
        run: NewRun,
        instant: DateTime<Utc>,
        scope: &PauseScope,
        reason: String,
        record_limit: u32,
    ) -> Result<Option<Run>> {
        self.pass_paused_instant(run, instant, scope, reason, record_limit)
            .await
    }

    async fn record_health(
        &self,
        job: &str,
        run: Option<&str>,
        failed: bool,
        remind: Option<Duration>,
    ) -> Result<Option<crate::store::HealthChange>> {
        self.record_job_health(job, run, failed, remind).await
    }

    async fn add_notice(&self, notice: &crate::store::NewNotice) -> Result<bool> {
        self.add_one_notice(notice).await
    }

    async fn claim_notices(
        &self,
        owner: &str,
        lease: Duration,
        limit: usize,
    ) -> Result<Vec<crate::store::Notice>> {
        self.claim_some_notices(owner, lease, limit).await
    }

    async fn notice_progress(
        &self,
        key: &str,
        owner: &str,
        sent: Option<u32>,
        done: bool,
        lease: Duration,
    ) -> Result<bool> {
        self.notice_moved_on(key, owner, sent, done, lease).await
    }

    async fn record_target(&self, job: &str, target: &str, error: Option<&str>) -> Result<()> {
        self.set_target(job, target, error).await
    }

    async fn target_failures(&self) -> Result<Vec<crate::store::TargetFailure>> {
        self.read_target_failures().await
    }
}

impl std::fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "RedisStore({} {})", self.connection.url(), self.prefix)
    }
}
