//! Finish and reserve in one step: a worker's slot records the end of its run and takes
//! its next one, exactly as a finish followed by a reserve without a wait would.

use std::time::Duration;

use chrono::{TimeDelta, Utc};
use cronq::store::{Finished, Lease, NewRun, OnBusy, Run, RunLock, RunStatus, Store, StoreError};

use crate::fixture::*;

/// Worker `worker_id` of queue `a` ends its run with `status` (exit code 0 for a
/// success, 1 otherwise) and takes the next run in the same step.
async fn end_and_take(
    store: &dyn Store,
    lease: &Lease,
    status: RunStatus,
    worker_id: &str,
) -> Result<(Finished, Option<(Run, Lease)>), StoreError> {
    let code = if status == RunStatus::Succeeded { 0 } else { 1 };
    store
        .finish_and_reserve(
            lease,
            outcome(status, Some(code)),
            LONG,
            &queues(&["a"]),
            &worker(worker_id),
            LONG,
        )
        .await
}

pub async fn finish_and_reserve_records_the_end_and_takes_the_next_run(env: &Env) {
    let store = &*env.store;
    store.enqueue(new_run("j", "a")).await.unwrap();
    let second = store.enqueue(new_run("k", "a")).await.unwrap();
    let (first, lease) = take(store, "a").await;
    let before = now_ms();
    let (finished, next) = store
        .finish_and_reserve(
            &lease,
            outcome(RunStatus::Succeeded, Some(0)),
            LONG,
            &queues(&["b", "a"]),
            &worker("w2"),
            LONG,
        )
        .await
        .expect("finish_and_reserve");
    let after = Utc::now();

    assert_eq!(finished.run.id, first.id);
    assert_eq!(finished.run.status, RunStatus::Succeeded);
    assert_eq!(finished.retry, None);
    assert_eq!(store.run(&first.id).await.unwrap(), finished.run);
    let (run, next_lease) = next.expect("the next ready run");
    assert_eq!(run.id, second.id);
    assert_eq!(run.status, RunStatus::Running);
    assert_eq!(run.worker.as_deref(), Some("w2"));
    assert_eq!(run.host.as_deref(), Some("w2.example"));
    assert_within(
        "started_at",
        run.started_at.expect("started"),
        before,
        after,
    );
    assert_eq!(next_lease.run, second.id);
    assert_ne!(next_lease.token, lease.token, "a lease of its own");
    let lease_for = TimeDelta::from_std(LONG).unwrap();
    assert_within(
        "the lease's expiry",
        next_lease.expires_at,
        before + lease_for,
        after + lease_for,
    );
    assert_eq!(store.run(&second.id).await.unwrap(), run);
    // The lease is a real one: it extends and finishes like any other.
    let (renewed, _) = store.extend(&next_lease, LONG).await.expect("extend");
    finish_as(store, &renewed, RunStatus::Succeeded).await;
    assert!(store.running().await.unwrap().is_empty());
}

pub async fn finish_and_reserve_takes_none_when_nothing_is_ready(env: &Env) {
    let store = &*env.store;
    store.enqueue(new_run("j", "a")).await.unwrap();
    let later = NewRun {
        not_before: Some(Utc::now() + TimeDelta::minutes(10)),
        ..new_run("k", "a")
    };
    store.enqueue(later).await.unwrap();
    let (first, lease) = take(store, "a").await;
    let (finished, next) = end_and_take(store, &lease, RunStatus::Succeeded, "w1")
        .await
        .expect("finish_and_reserve");
    assert_eq!(finished.run.id, first.id);
    assert_eq!(finished.run.status, RunStatus::Succeeded);
    assert_eq!(next, None, "the only other run is not due");
    assert_eq!(store.queue_lengths().await.unwrap(), [("a".to_string(), 1)]);
}

pub async fn a_refused_finish_and_reserve_changes_nothing(env: &Env) {
    let store = &*env.store;
    store.enqueue(new_run("j", "a")).await.unwrap();
    let waiting = store.enqueue(new_run("k", "a")).await.unwrap();
    let (first, lease) = take(store, "a").await;
    let ended = finish_as(store, &lease, RunStatus::Succeeded).await;
    let again = store
        .finish_and_reserve(
            &lease,
            outcome(RunStatus::Failed, Some(1)),
            Duration::ZERO,
            &queues(&["a"]),
            &worker("w1"),
            LONG,
        )
        .await;
    assert!(
        matches!(&again, Err(StoreError::LeaseLost(id)) if *id == first.id),
        "a second end: {again:?}"
    );
    assert_eq!(store.run(&first.id).await.unwrap(), ended.run);
    assert_eq!(
        store.run(&waiting.id).await.unwrap().status,
        RunStatus::Queued,
        "nothing is reserved when the finish is refused"
    );
    let invalid = store
        .finish_and_reserve(
            &lease,
            outcome(RunStatus::Succeeded, Some(0)),
            LONG,
            &[],
            &worker("w1"),
            LONG,
        )
        .await;
    assert!(
        matches!(invalid, Err(StoreError::Invalid(_))),
        "{invalid:?}"
    );
}

pub async fn finish_and_reserve_queues_the_retry_and_passes_the_lock_on(env: &Env) {
    let store = &*env.store;
    let locked = NewRun {
        max_attempts: 2,
        lock: Some(RunLock {
            name: "sync".into(),
            on_busy: OnBusy::Wait,
        }),
        ..new_run("sync", "a")
    };
    store.enqueue(locked.clone()).await.unwrap();
    let second = store.enqueue(locked).await.unwrap();
    let (first, lease) = take(store, "a").await;
    assert_eq!(
        reserve_now(store, &["a"]).await,
        None,
        "the second waits for the lock"
    );
    let (finished, next) = end_and_take(store, &lease, RunStatus::Failed, "w1")
        .await
        .expect("finish_and_reserve");
    assert_eq!(finished.run.status, RunStatus::Failed);
    let retry = finished.retry.expect("a retry, one attempt being left");
    assert_eq!(retry.retry_of.as_deref(), Some(first.id.as_str()));
    let (run, next_lease) = next.expect("the waiting run, its lock now free");
    assert_eq!(run.id, second.id, "not the retry, which is not due yet");
    assert!(
        !store.lock("sync", "probe", LONG).await.unwrap(),
        "the next run holds the lock it took in the same step"
    );
    finish_as(store, &next_lease, RunStatus::Succeeded).await;
    assert!(store.lock("sync", "probe", LONG).await.unwrap());
    assert_eq!(
        store.run(&retry.id).await.unwrap().status,
        RunStatus::Queued
    );
}

pub async fn concurrent_ends_stand_apart_when_one_is_refused(env: &Env) {
    let store = env.store.clone();
    let mut held = Vec::new();
    for _ in 0..8 {
        store.enqueue(new_run("j", "a")).await.unwrap();
        held.push(take(&*store, "a").await);
    }
    for _ in 0..4 {
        store.enqueue(new_run("k", "a")).await.unwrap();
    }
    let mut ends = tokio::task::JoinSet::new();
    for (i, (run, lease)) in held.iter().cloned().enumerate() {
        let store = store.clone();
        ends.spawn(async move {
            let lease = match i {
                // A stale holder: its end must change nothing, and nothing else.
                3 => cronq::store::Lease {
                    token: "made-up".into(),
                    ..lease
                },
                _ => lease,
            };
            let ended = if i % 2 == 0 {
                end_and_take(&*store, &lease, RunStatus::Succeeded, "w2")
                    .await
                    .map(|(finished, next)| (finished.run.id, next.map(|(run, _)| run.id)))
            } else {
                store
                    .finish(&lease, outcome(RunStatus::Succeeded, Some(0)), LONG)
                    .await
                    .map(|finished| (finished.run.id, None))
            };
            (run.id, ended)
        });
    }
    let mut next = Vec::new();
    while let Some(joined) = ends.join_next().await {
        let (id, ended) = joined.expect("the task");
        if id == held[3].0.id {
            assert!(
                matches!(&ended, Err(StoreError::LeaseLost(lost)) if *lost == id),
                "{ended:?}"
            );
            continue;
        }
        let (finished, taken) = ended.expect("an end with its lease");
        assert_eq!(finished, id);
        next.extend(taken);
    }
    assert_eq!(
        next.len(),
        4,
        "each even slot took one of the 4 queued runs"
    );
    next.sort();
    next.dedup();
    assert_eq!(next.len(), 4, "no run taken twice");
    let stale = store.run(&held[3].0.id).await.unwrap();
    assert_eq!(
        stale.status,
        RunStatus::Running,
        "the refused end changed nothing"
    );
    for (i, (run, _)) in held.iter().enumerate().filter(|(i, _)| *i != 3) {
        let ended = store.run(&run.id).await.unwrap();
        assert_eq!(ended.status, RunStatus::Succeeded, "run {i}");
    }
}
