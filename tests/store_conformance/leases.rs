//! Leases: extending one, acks that no longer hold one, and reaping runs whose lease
//! expired, exactly once, without losing a run.

use std::collections::HashSet;
use std::fmt::Debug;
use std::sync::Arc;
use std::time::Duration;

use chrono::{TimeDelta, Utc};
use cronq::store::{Chunk, Lease, NewRun, Output, RunStatus, Store, StoreError, Stream, Trigger};
use tokio::sync::Barrier;
use tokio::task::JoinSet;

use crate::fixture::*;

#[track_caller]
fn assert_lease_lost<T: Debug>(what: &str, got: Result<T, StoreError>, id: &str) {
    match got {
        Err(StoreError::LeaseLost(lost)) => assert_eq!(lost, id, "{what}: the run named"),
        other => panic!("{what}: expected LeaseLost({id}), got {other:?}"),
    }
}

/// Every ack a worker can make with `lease` is refused as `LeaseLost`.
async fn assert_every_ack_refused(store: &dyn Store, lease: &Lease, why: &str) {
    let id = &lease.run;
    let success = outcome(RunStatus::Succeeded, Some(0));
    let got = store.finish(lease, success, Duration::ZERO).await;
    assert_lease_lost(&format!("finish {why}"), got, id);
    let got = store.extend(lease, LONG).await;
    assert_lease_lost(&format!("extend {why}"), got, id);
    let late = [
        Chunk::new(Stream::Stdout, "late output\n"),
        Chunk::new(Stream::Stderr, "late warning\n"),
    ];
    let got = store.append_output(lease, &late).await;
    assert_lease_lost(&format!("append_output {why}"), got, id);
}

pub async fn extend_pushes_back_the_expiry(env: &Env) {
    let store = &*env.store;
    store.enqueue(new_run("j", "a")).await.unwrap();
    let (run, lease) = take_for(store, "a", SHORT).await;
    let before = now_ms();
    let (extended, cancel) = store.extend(&lease, LONG).await.expect("extend");
    let after = Utc::now();
    assert!(!cancel, "no cancel was asked for");
    assert_eq!(extended.run, run.id);
    let lease_for = TimeDelta::from_std(LONG).unwrap();
    let expiry = extended.expires_at;
    assert_within(
        "extended expiry",
        expiry,
        before + lease_for,
        after + lease_for,
    );

    wait_past(lease.expires_at).await;
    let reaped = store.reap().await.unwrap();
    assert!(
        reaped.is_empty(),
        "an extended lease was reaped: {reaped:?}"
    );
    assert_eq!(store.run(&run.id).await.unwrap().status, RunStatus::Running);
    let done = finish_as(store, &extended, RunStatus::Succeeded).await;
    assert_eq!(done.run.status, RunStatus::Succeeded);
}

pub async fn an_ack_with_a_made_up_token_is_refused(env: &Env) {
    let store = &*env.store;
    let asked = NewRun {
        max_attempts: 2,
        ..new_run("j", "a")
    };
    store.enqueue(asked.clone()).await.unwrap();
    store.enqueue(asked).await.unwrap();
    let (run, lease) = take(store, "a").await;
    let (_, other_lease) = take(store, "a").await;

    let made_up = Lease {
        token: "not-the-token".into(),
        ..lease.clone()
    };
    assert_every_ack_refused(store, &made_up, "with a made-up token").await;
    let borrowed = Lease {
        token: other_lease.token.clone(),
        ..lease.clone()
    };
    assert_every_ack_refused(store, &borrowed, "with another run's token").await;

    assert_eq!(
        store.run(&run.id).await.unwrap(),
        run,
        "the run is unchanged"
    );
    let output = store.output(&run.id, 0).await.unwrap();
    assert_eq!(output, Output::default(), "no output was appended");
    assert!(
        store.queued().await.unwrap().is_empty(),
        "no retry was queued"
    );
    finish_as(store, &lease, RunStatus::Succeeded).await;
}

pub async fn an_ack_after_the_run_was_reaped_and_retried_is_refused(env: &Env) {
    let store = &*env.store;
    let asked = NewRun {
        max_attempts: 2,
        ..new_run("j", "a")
    };
    store.enqueue(asked).await.unwrap();
    let (first, stale) = take_for(store, "a", SHORT).await;
    wait_past(stale.expires_at).await;
    reap_until(store, &first.id).await;
    let (second, lease) = take(store, "a").await;
    assert_eq!(second.retry_of.as_deref(), Some(first.id.as_str()));

    assert_every_ack_refused(store, &stale, "after the run was reaped").await;
    let lost = store.run(&first.id).await.unwrap();
    assert_eq!(
        lost.status,
        RunStatus::Lost,
        "the stale ack changed the run"
    );
    assert_eq!(lost.exit_code, None);
    assert!(store.output(&first.id, 0).await.unwrap().chunks.is_empty());
    assert_eq!(
        store.run(&second.id).await.unwrap(),
        second,
        "the retry is unchanged"
    );
    assert_eq!(store.reap().await.unwrap(), Vec::new(), "no second reap");
    finish_as(store, &lease, RunStatus::Succeeded).await;
}

/// Reading of the docs: `LeaseLost` is "the caller's lease on the run expired, or the run
/// was reaped", so an expired lease is refused even before a reaper has run.
pub async fn an_ack_after_the_lease_expired_is_refused(env: &Env) {
    let store = &*env.store;
    store.enqueue(new_run("j", "a")).await.unwrap();
    let (run, lease) = take_for(store, "a", SHORT).await;
    wait_past(lease.expires_at).await;
    assert_every_ack_refused(store, &lease, "after the lease expired").await;
    let stored = store.run(&run.id).await.unwrap();
    assert_ne!(
        stored.status,
        RunStatus::Succeeded,
        "the late finish was recorded"
    );
    reap_until(store, &run.id).await;
    assert_eq!(store.run(&run.id).await.unwrap().status, RunStatus::Lost);
}

/// 5 runs whose leases expire, and 4 reapers on their own handles at once: each run is
/// made lost by exactly one of them, and its next attempt is queued once, ready at once.
pub async fn an_expired_lease_is_reaped_exactly_once(env: &Env) {
    let store = &*env.store;
    let asked = NewRun {
        max_attempts: 2,
        ..new_run("j", "a")
    };
    let mut held = HashSet::new();
    let mut last_expiry = Utc::now();
    for _ in 0..5 {
        store.enqueue(asked.clone()).await.unwrap();
        let (run, lease) = take_for(store, "a", SHORT).await;
        held.insert(run.id);
        last_expiry = lease.expires_at;
    }
    let early = store.reap().await.unwrap();
    assert!(
        early.is_empty(),
        "reaped before the lease expired: {early:?}"
    );

    wait_past(last_expiry).await;
    let start = Arc::new(Barrier::new(4));
    let mut reapers = JoinSet::new();
    for _ in 0..4 {
        let (reaper, start) = (env.handle().await, Arc::clone(&start));
        reapers.spawn(async move {
            start.wait().await;
            reaper.reap().await.expect("reap")
        });
    }
    let mut reaped = Vec::new();
    while let Some(runs) = reapers.join_next().await {
        reaped.extend(runs.unwrap());
    }
    let mut reaped_ids = ids(&reaped);
    reaped_ids.sort();
    let mut expected: Vec<_> = held.iter().cloned().collect();
    expected.sort();
    assert_eq!(
        reaped_ids, expected,
        "each expired run is reaped exactly once"
    );
    for run in &reaped {
        assert_eq!(run.status, RunStatus::Lost);
        assert_eq!(store.run(&run.id).await.unwrap().status, RunStatus::Lost);
    }
    assert!(store.running().await.unwrap().is_empty());
    assert_eq!(
        store.reap().await.unwrap(),
        Vec::new(),
        "nothing left to reap"
    );

    let retries = store.queued().await.unwrap();
    let mut retried: Vec<_> = retries
        .iter()
        .map(|queued| queued.run.retry_of.clone().expect("a retry names its run"))
        .collect();
    retried.sort();
    assert_eq!(retried, expected, "one next attempt per lost run");
    for queued in &retries {
        assert_eq!(
            (queued.run.trigger, queued.run.attempt),
            (Trigger::Retry, 2)
        );
    }
    for _ in 0..5 {
        let (run, _) = take(store, "a").await;
        assert_eq!(run.attempt, 2, "a lost run's next attempt is ready at once");
    }
}

pub async fn an_expired_last_attempt_is_lost_without_retry(env: &Env) {
    let store = &*env.store;
    store.enqueue(new_run("j", "a")).await.unwrap();
    let (run, lease) = take_for(store, "a", SHORT).await;
    wait_past(lease.expires_at).await;
    let reaped = reap_until(store, &run.id).await;
    assert_eq!(ids(&reaped), vec![run.id.clone()]);
    assert_eq!(reaped[0].status, RunStatus::Lost);
    assert_eq!(store.run(&run.id).await.unwrap().status, RunStatus::Lost);
    assert!(
        store.queued().await.unwrap().is_empty(),
        "no attempt is left"
    );
    assert!(store.queue_lengths().await.unwrap().is_empty());
}

/// A worker reserves through its own handle and vanishes (the handle and its connections
/// are dropped) before it acks: a reaper on a new handle makes the run lost, and its next
/// attempt can be reserved.
pub async fn a_dropped_connection_between_reserve_and_ack_loses_no_run(env: &Env) {
    let asked = NewRun {
        max_attempts: 2,
        ..new_run("j", "a")
    };
    let queued = env.store.enqueue(asked).await.unwrap();
    let vanishing = env.handle().await;
    let (run, lease) = take_for(&*vanishing, "a", SHORT).await;
    assert_eq!(run.id, queued.id);
    drop(vanishing);

    let survivor = env.handle().await;
    let store = &*survivor;
    wait_past(lease.expires_at).await;
    reap_until(store, &run.id).await;
    assert_eq!(store.run(&run.id).await.unwrap().status, RunStatus::Lost);
    let (retry, lease) = take(store, "a").await;
    assert_eq!(retry.retry_of.as_deref(), Some(run.id.as_str()));
    assert_eq!(retry.attempt, 2);
    let done = finish_as(store, &lease, RunStatus::Succeeded).await;
    assert_eq!(done.run.status, RunStatus::Succeeded);
}
