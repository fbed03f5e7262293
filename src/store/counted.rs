//! A store that counts its failures: every call passes to the store it wraps, and
//! each one that fails because the store did not answer, refused or answered with
//! something unreadable is reported, by the name of the call, to `on_error` (the
//! process's `cronq_store_errors_total`). Refusals a caller expects (no such run, a
//! lease gone, a busy job) are answers, not failures, and are not counted.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::{
    Cancelled, Chunk, DaemonInfo, Finished, HealthChange, HistoryFilter, HistoryPage, KeyClaim,
    LastRuns, Lease, NewNotice, NewRun, Notice, Outcome, Output, Pause, PauseScope, Paused,
    PublishedJson, PublishedSchedule, QueuedRun, Result, Retention, Run, RunBrief, RunId, Store,
    StoreError, TargetFailure, WorkerInfo, WorkerRef,
};

/// [`Store`] with its failures reported to `on_error`.
pub struct Counted {
    inner: Arc<dyn Store>,
    on_error: fn(&'static str),
}

impl Counted {
    pub fn new(inner: Arc<dyn Store>, on_error: fn(&'static str)) -> Counted {
        Counted { inner, on_error }
    }

    fn counted<T>(&self, op: &'static str, result: Result<T>) -> Result<T> {
        if let Err(
            StoreError::Unreachable { .. } | StoreError::Failed(_) | StoreError::Corrupt(_),
        ) = &result
        {
            (self.on_error)(op);
        }
        result
    }
}

#[async_trait]
impl Store for Counted {
    async fn enqueue(&self, run: NewRun) -> Result<Run> {
        self.counted("enqueue", self.inner.enqueue(run).await)
    }

    async fn enqueue_if_idle(&self, run: NewRun) -> Result<Run> {
        self.counted("enqueue_if_idle", self.inner.enqueue_if_idle(run).await)
    }

    async fn fire(
        &self,
        run: NewRun,
        instant: DateTime<Utc>,
        skip: Option<String>,
    ) -> Result<Option<Run>> {
        self.counted("fire", self.inner.fire(run, instant, skip).await)
    }

    async fn fire_again(
        &self,
        run: NewRun,
        instant: DateTime<Utc>,
        pass: DateTime<Utc>,
        skip: Option<String>,
    ) -> Result<Option<Run>> {
        self.counted(
            "fire_again",
            self.inner.fire_again(run, instant, pass, skip).await,
        )
    }

    async fn last_fired(&self, job: &str) -> Result<Option<DateTime<Utc>>> {
        self.counted("last_fired", self.inner.last_fired(job).await)
    }

    async fn claims(&self, job: &str, instants: &[DateTime<Utc>]) -> Result<Vec<Option<RunId>>> {
        self.counted("claims", self.inner.claims(job, instants).await)
    }

    fn claims_kept(&self, keep_max_age: Duration) -> Duration {
        self.inner.claims_kept(keep_max_age)
    }

    async fn last_fires(&self) -> Result<HashMap<String, DateTime<Utc>>> {
        self.counted("last_fires", self.inner.last_fires().await)
    }

    async fn reserve(
        &self,
        queues: &[String],
        worker: &WorkerRef,
        lease_for: Duration,
        wait: Duration,
    ) -> Result<Option<(Run, Lease)>> {
        self.counted(
            "reserve",
            self.inner.reserve(queues, worker, lease_for, wait).await,
        )
    }

    async fn extend(&self, lease: &Lease, lease_for: Duration) -> Result<(Lease, bool)> {
        self.counted("extend", self.inner.extend(lease, lease_for).await)
    }

    async fn finish(
        &self,
        lease: &Lease,
        outcome: Outcome,
        retry_in: Duration,
    ) -> Result<Finished> {
        self.counted("finish", self.inner.finish(lease, outcome, retry_in).await)
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
        self.counted(
            "finish_and_reserve",
            self.inner
                .finish_and_reserve(lease, outcome, retry_in, queues, worker, lease_for)
                .await,
        )
    }

    async fn cancel(&self, id: &str) -> Result<Cancelled> {
        self.counted("cancel", self.inner.cancel(id).await)
    }

    async fn cancel_requests(&self, worker_id: &str, wait: Duration) -> Result<Vec<RunId>> {
        self.counted(
            "cancel_requests",
            self.inner.cancel_requests(worker_id, wait).await,
        )
    }

    async fn append_output(&self, lease: &Lease, chunks: &[Chunk]) -> Result<()> {
        self.counted(
            "append_output",
            self.inner.append_output(lease, chunks).await,
        )
    }

    async fn set_progress(&self, id: &str, percent: u8, message: Option<&str>) -> Result<()> {
        self.counted(
            "set_progress",
            self.inner.set_progress(id, percent, message).await,
        )
    }

    async fn run(&self, id: &str) -> Result<Run> {
        self.counted("run", self.inner.run(id).await)
    }

    async fn output(&self, id: &str, from: u64) -> Result<Output> {
        self.counted("output", self.inner.output(id, from).await)
    }

    async fn history(&self, filter: &HistoryFilter) -> Result<Vec<Run>> {
        self.counted("history", self.inner.history(filter).await)
    }

    async fn run_ids_with_prefix(&self, prefix: &str, limit: usize) -> Result<Vec<RunId>> {
        self.counted(
            "run_ids_with_prefix",
            self.inner.run_ids_with_prefix(prefix, limit).await,
        )
    }

    async fn running(&self) -> Result<Vec<Run>> {
        self.counted("running", self.inner.running().await)
    }

    async fn queued(&self) -> Result<Vec<QueuedRun>> {
        self.counted("queued", self.inner.queued().await)
    }

    async fn durations(&self, job: &str, count: usize) -> Result<Vec<f64>> {
        self.counted("durations", self.inner.durations(job, count).await)
    }

    async fn last_runs(&self, jobs: &[&str]) -> Result<HashMap<String, LastRuns>> {
        self.counted("last_runs", self.inner.last_runs(jobs).await)
    }

    async fn recent_runs(&self, jobs: &[String], count: usize) -> Result<Vec<Vec<RunBrief>>> {
        self.counted("recent_runs", self.inner.recent_runs(jobs, count).await)
    }

    async fn history_page(&self, page: &HistoryPage) -> Result<Vec<Run>> {
        self.counted("history_page", self.inner.history_page(page).await)
    }

    async fn record_health(
        &self,
        job: &str,
        run: Option<&str>,
        failed: bool,
        remind: Option<Duration>,
    ) -> Result<Option<HealthChange>> {
        let recorded = self.inner.record_health(job, run, failed, remind).await;
        self.counted("record_health", recorded)
    }

    async fn add_notice(&self, notice: &NewNotice) -> Result<bool> {
        self.counted("add_notice", self.inner.add_notice(notice).await)
    }

    async fn claim_notices(
        &self,
        owner: &str,
        lease: Duration,
        limit: usize,
    ) -> Result<Vec<Notice>> {
        let claimed = self.inner.claim_notices(owner, lease, limit).await;
        self.counted("claim_notices", claimed)
    }

    async fn notice_progress(
        &self,
        key: &str,
        owner: &str,
        sent: Option<u32>,
        done: bool,
        lease: Duration,
    ) -> Result<bool> {
        let moved = self
            .inner
            .notice_progress(key, owner, sent, done, lease)
            .await;
        self.counted("notice_progress", moved)
    }

    async fn record_target(&self, job: &str, target: &str, error: Option<&str>) -> Result<()> {
        let recorded = self.inner.record_target(job, target, error).await;
        self.counted("record_target", recorded)
    }

    async fn target_failures(&self) -> Result<Vec<TargetFailure>> {
        self.counted("target_failures", self.inner.target_failures().await)
    }

    async fn queue_lengths(&self) -> Result<Vec<(String, u64)>> {
        self.counted("queue_lengths", self.inner.queue_lengths().await)
    }

    async fn lock(&self, name: &str, owner: &str, ttl: Duration) -> Result<bool> {
        self.counted("lock", self.inner.lock(name, owner, ttl).await)
    }

    async fn renew_lock(&self, name: &str, owner: &str, ttl: Duration) -> Result<bool> {
        self.counted("renew_lock", self.inner.renew_lock(name, owner, ttl).await)
    }

    async fn unlock(&self, name: &str, owner: &str) -> Result<bool> {
        self.counted("unlock", self.inner.unlock(name, owner).await)
    }

    async fn heartbeat(&self, worker: &WorkerInfo, ttl: Duration) -> Result<()> {
        self.counted("heartbeat", self.inner.heartbeat(worker, ttl).await)
    }

    async fn workers(&self) -> Result<Vec<WorkerInfo>> {
        self.counted("workers", self.inner.workers().await)
    }

    async fn unregister(&self, worker_id: &str) -> Result<()> {
        self.counted("unregister", self.inner.unregister(worker_id).await)
    }

    async fn daemon_heartbeat(&self, daemon: &DaemonInfo, ttl: Duration) -> Result<()> {
        self.counted(
            "daemon_heartbeat",
            self.inner.daemon_heartbeat(daemon, ttl).await,
        )
    }

    async fn daemons(&self) -> Result<Vec<DaemonInfo>> {
        self.counted("daemons", self.inner.daemons().await)
    }

    async fn publish(&self, schedule: PublishedJson) -> Result<()> {
        self.counted("publish", self.inner.publish(schedule).await)
    }

    async fn published(&self) -> Result<Option<PublishedSchedule>> {
        self.counted("published", self.inner.published().await)
    }

    async fn published_hash(&self) -> Result<Option<String>> {
        self.counted("published_hash", self.inner.published_hash().await)
    }

    async fn claim_idempotency_key(&self, key: &str, hold: Duration) -> Result<KeyClaim> {
        self.counted(
            "claim_idempotency_key",
            self.inner.claim_idempotency_key(key, hold).await,
        )
    }

    async fn settle_idempotency_key(
        &self,
        key: &str,
        run: Option<&str>,
        keep: Duration,
    ) -> Result<()> {
        self.counted(
            "settle_idempotency_key",
            self.inner.settle_idempotency_key(key, run, keep).await,
        )
    }

    async fn dead_letters(&self) -> Result<u64> {
        self.counted("dead_letters", self.inner.dead_letters().await)
    }

    async fn reap(&self) -> Result<Vec<Run>> {
        self.counted("reap", self.inner.reap().await)
    }

    async fn prune(&self, jobs: &[(&str, Retention)]) -> Result<u64> {
        self.counted("prune", self.inner.prune(jobs).await)
    }

    async fn pause(&self, scope: &PauseScope, pause: &Pause) -> Result<()> {
        self.counted("pause", self.inner.pause(scope, pause).await)
    }

    async fn resume(&self, scope: &PauseScope) -> Result<Option<Pause>> {
        self.counted("resume", self.inner.resume(scope).await)
    }

    async fn pauses(&self) -> Result<Vec<Paused>> {
        self.counted("pauses", self.inner.pauses().await)
    }

    async fn pause_version(&self) -> Result<Option<String>> {
        self.counted("pause_version", self.inner.pause_version().await)
    }

    async fn pass_paused(
        &self,
        run: NewRun,
        instant: DateTime<Utc>,
        scope: &PauseScope,
        reason: String,
        record_limit: u32,
    ) -> Result<Option<Run>> {
        self.counted(
            "pass_paused",
            self.inner
                .pass_paused(run, instant, scope, reason, record_limit)
                .await,
        )
    }
}
