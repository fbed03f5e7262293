//! `concurrency: forbid` in the store, in the same atomic step that would queue the run:
//! `enqueue_if_idle` refuses a run while another run of its lock is running or queued,
//! `fire` records it skipped while one is running; a forced run goes by, and runs
//! without the lock another run holds.

use std::sync::Arc;

use chrono::{TimeDelta, Utc};
use cronq::store::{NewRun, OnBusy, RunLock, RunStatus, Store, StoreError, Trigger};
use tokio::sync::Barrier;
use tokio::task::JoinSet;

use crate::fixture::*;

fn forbid(job: &str) -> NewRun {
    NewRun {
        lock: Some(RunLock {
            name: job.into(),
            on_busy: OnBusy::Skip,
        }),
        ..new_run(job, "a")
    }
}

/// The holder and status of a `Busy`, or a panic naming what came instead.
fn busy_of(result: Result<cronq::store::Run, StoreError>) -> (String, RunStatus) {
    match result {
        Err(StoreError::Busy { holder, status, .. }) => (holder, status),
        other => panic!("expected Busy, got {other:?}"),
    }
}

pub async fn a_forbid_run_is_refused_while_one_is_queued_or_running(env: &Env) {
    let store = &*env.store;
    let first = store.enqueue_if_idle(forbid("slow")).await.unwrap();
    let refused = store.enqueue_if_idle(forbid("slow")).await;
    let (holder, status) = busy_of(refused);
    assert_eq!(
        (holder.as_str(), status),
        (first.id.as_str(), RunStatus::Queued)
    );

    let (running, lease) = take(store, "a").await;
    assert_eq!(running.id, first.id);
    let error = store.enqueue_if_idle(forbid("slow")).await.unwrap_err();
    assert_eq!(
        error.to_string(),
        format!("job `slow` is running (run {})", first.id),
        "the words `cronq run` prints after `skipped: `"
    );
    assert_eq!(
        store.history(&Default::default()).await.unwrap().len(),
        1,
        "a refused run is not recorded"
    );
    assert!(store.queued().await.unwrap().is_empty());

    let other = store.enqueue_if_idle(forbid("other")).await;
    assert!(other.is_ok(), "another job's lock is free: {other:?}");
    let allow = store.enqueue_if_idle(new_run("slow", "a")).await;
    assert!(
        allow.is_ok(),
        "a run without a forbid lock is queued: {allow:?}"
    );

    finish_as(store, &lease, RunStatus::Succeeded).await;
    // Out of the way: the other two runs.
    while let Some((_, lease)) = reserve_now(store, &["a"]).await {
        finish_as(store, &lease, RunStatus::Succeeded).await;
    }
    let again = store.enqueue_if_idle(forbid("slow")).await;
    assert!(again.is_ok(), "once the run ended: {again:?}");
}

pub async fn a_cancelled_queued_run_no_longer_holds_a_forbid_run_back(env: &Env) {
    let store = &*env.store;
    let first = store.enqueue_if_idle(forbid("slow")).await.unwrap();
    store.cancel(&first.id).await.unwrap();
    let second = store.enqueue_if_idle(forbid("slow")).await;
    assert!(second.is_ok(), "{second:?}");
}

pub async fn of_forbid_runs_queued_at_once_exactly_one_is_queued(env: &Env) {
    let handles: Vec<Arc<dyn Store>> = {
        let mut handles = Vec::new();
        for _ in 0..8 {
            handles.push(env.handle().await);
        }
        handles
    };
    let start = Arc::new(Barrier::new(handles.len()));
    let mut attempts = JoinSet::new();
    for handle in handles {
        let start = Arc::clone(&start);
        attempts.spawn(async move {
            start.wait().await;
            handle.enqueue_if_idle(forbid("slow")).await
        });
    }
    let (mut queued, mut busy) = (0, 0);
    while let Some(result) = attempts.join_next().await {
        match result.unwrap() {
            Ok(_) => queued += 1,
            Err(StoreError::Busy { .. }) => busy += 1,
            Err(error) => panic!("{error}"),
        }
    }
    assert_eq!((queued, busy), (1, 7));
    assert_eq!(env.store.queued().await.unwrap().len(), 1);
}

pub async fn a_forced_run_goes_by_and_runs_without_the_held_lock(env: &Env) {
    let store = &*env.store;
    store.enqueue_if_idle(forbid("slow")).await.unwrap();
    let (holder, _lease) = take(store, "a").await;
    let forced = store
        .enqueue_if_idle(NewRun {
            forced: true,
            ..forbid("slow")
        })
        .await
        .expect("a forced run is queued");
    assert!(forced.forced);
    let (running, forced_lease) = take(store, "a").await;
    assert_eq!(running.id, forced.id, "reserved though the lock is held");
    assert!(running.forced, "the run says it was forced");
    assert!(store.run(&forced.id).await.unwrap().forced);
    let (still, _) = busy_of(store.enqueue_if_idle(forbid("slow")).await);
    assert_eq!(still, holder.id, "the first run keeps the lock");
    let finished = finish_as(store, &forced_lease, RunStatus::Succeeded).await;
    assert!(finished.run.forced);
}

pub async fn a_forbid_fire_while_a_run_is_running_is_recorded_skipped(env: &Env) {
    let store = &*env.store;
    let at = |s: i64| Utc::now() + TimeDelta::seconds(s);
    let scheduled = |instant| NewRun {
        trigger: Trigger::Schedule,
        scheduled_for: Some(instant),
        ..forbid("tick")
    };
    let (one, two, three) = (at(1), at(2), at(3));
    let first = store
        .fire(scheduled(one), one, None)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(first.status, RunStatus::Queued);
    // A queued run does not hold a fire back: a worker may be on its way (or none runs
    // yet, and the fires wait for one); the reserve decides, by the lock.
    let behind = store
        .fire(scheduled(two), two, None)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(behind.status, RunStatus::Queued);
    let (running, _lease) = take(store, "a").await;
    assert_eq!(running.id, first.id);
    let fired = store
        .fire(scheduled(three), three, None)
        .await
        .unwrap()
        .unwrap();
    let reason = format!("skipped: job `tick` is running (run {})", first.id);
    assert_eq!(
        (fired.status, fired.reason.as_deref()),
        (RunStatus::Skipped, Some(reason.as_str()))
    );
    let recorded = store.run(&fired.id).await.unwrap();
    assert_eq!(recorded.status, RunStatus::Skipped, "as the store answered");
    assert_eq!(recorded.reason.as_deref(), Some(reason.as_str()));
    assert!(recorded.finished_at.is_some());
    assert_eq!(
        store
            .last_fired("tick")
            .await
            .unwrap()
            .map(|t| t.timestamp_millis()),
        Some(three.timestamp_millis()),
        "a skipped fire is a fire: the marker moved"
    );
    let queued = store.queued().await.unwrap();
    assert_eq!(
        queued.iter().map(|q| q.run.id.as_str()).collect::<Vec<_>>(),
        [behind.id.as_str()],
        "the skipped fire was never queued"
    );
    assert_eq!(reserve_now(store, &["a"]).await, None);
    assert_eq!(
        store.run(&behind.id).await.unwrap().status,
        RunStatus::Skipped,
        "the fire queued behind is skipped by its reserve"
    );
}
