//! Locks: one owner at a time, renewed and released only by it, taken over once expired;
//! and the cluster lock a run takes with its reserve and gives up when it ends.

use std::sync::Arc;
use std::time::Instant;

use cronq::store::{NewRun, OnBusy, RunLock, RunStatus, Store};
use tokio::sync::Barrier;
use tokio::task::JoinSet;

use crate::fixture::*;

/// Whether nobody holds `name`: a probe owner takes it and gives it back.
async fn is_free(store: &dyn Store, name: &str) -> bool {
    let taken = store.lock(name, "probe", LONG).await.expect("lock");
    if taken {
        assert!(store.unlock(name, "probe").await.expect("unlock"));
    }
    taken
}

fn locked(job: &str, name: &str, on_busy: OnBusy) -> NewRun {
    NewRun {
        lock: Some(RunLock {
            name: name.into(),
            on_busy,
        }),
        ..new_run(job, "a")
    }
}

pub async fn a_lock_has_one_owner(env: &Env) {
    let store = &*env.store;
    assert!(store.lock("L", "alice", LONG).await.unwrap(), "a free lock");
    assert!(!store.lock("L", "bob", LONG).await.unwrap(), "a held lock");
    assert!(
        store.lock("L", "alice", LONG).await.unwrap(),
        "its owner again"
    );
    assert!(store.lock("M", "bob", LONG).await.unwrap(), "another lock");

    assert!(
        !store.renew_lock("L", "bob", LONG).await.unwrap(),
        "renew by another"
    );
    assert!(
        store.renew_lock("L", "alice", LONG).await.unwrap(),
        "renew by the owner"
    );
    assert!(
        !store.unlock("L", "bob").await.unwrap(),
        "release by another"
    );
    assert!(
        !store.lock("L", "bob", LONG).await.unwrap(),
        "still alice's"
    );
    assert!(
        store.unlock("L", "alice").await.unwrap(),
        "release by the owner"
    );
    assert!(
        !store.unlock("L", "alice").await.unwrap(),
        "release of a free lock"
    );
    assert!(
        !store.renew_lock("L", "alice", LONG).await.unwrap(),
        "renew of a free lock"
    );
    assert!(store.lock("L", "bob", LONG).await.unwrap(), "free again");

    assert!(
        !store.renew_lock("N", "alice", LONG).await.unwrap(),
        "never taken"
    );
    assert!(!store.unlock("N", "alice").await.unwrap(), "never taken");
}

pub async fn an_expired_lock_can_be_taken_over(env: &Env) {
    let store = &*env.store;
    let taken = Instant::now();
    assert!(store.lock("L", "alice", SHORT).await.unwrap());
    assert!(
        !store.lock("L", "bob", LONG).await.unwrap(),
        "before the TTL"
    );
    eventually("bob takes the expired lock", || async {
        store.lock("L", "bob", LONG).await.unwrap()
    })
    .await;
    let after = taken.elapsed();
    assert!(
        after >= SHORT * 3 / 4,
        "taken over after {after:?}, the TTL being {SHORT:?}"
    );

    assert!(
        !store.renew_lock("L", "alice", LONG).await.unwrap(),
        "alice lost it"
    );
    assert!(
        !store.unlock("L", "alice").await.unwrap(),
        "alice cannot release it"
    );
    assert!(
        !store.lock("L", "alice", LONG).await.unwrap(),
        "bob holds it"
    );
    assert!(store.renew_lock("L", "bob", LONG).await.unwrap());
}

/// Reading of the docs: a lock is held until its TTL ends (`lock` takes an expired lock as
/// free), so once expired its former owner can neither renew nor release it, even before
/// anyone else has taken it.
pub async fn an_expired_lock_is_no_longer_held(env: &Env) {
    let store = &*env.store;
    assert!(store.lock("L", "alice", SHORT).await.unwrap());
    assert!(store.lock("M", "alice", SHORT).await.unwrap());
    wait_past(now_ms() + chrono::TimeDelta::from_std(SHORT).unwrap()).await;
    let renewed = store.renew_lock("L", "alice", LONG).await.unwrap();
    assert!(!renewed, "alice renewed a lock that had expired");
    let released = store.unlock("M", "alice").await.unwrap();
    assert!(!released, "alice released a lock that had expired");
    assert!(
        store.lock("L", "bob", LONG).await.unwrap(),
        "the expired lock is free"
    );
}

/// 8 owners on their own handles try one free lock at once, for 5 locks: one wins each.
pub async fn concurrent_lock_attempts_have_one_winner(env: &Env) {
    let mut handles = Vec::new();
    for _ in 0..8 {
        handles.push(env.handle().await);
    }
    for round in 0..5 {
        let name = format!("L{round}");
        let start = Arc::new(Barrier::new(handles.len()));
        let mut attempts = JoinSet::new();
        for (n, handle) in handles.iter().enumerate() {
            let (handle, start, name) = (Arc::clone(handle), Arc::clone(&start), name.clone());
            attempts.spawn(async move {
                start.wait().await;
                handle
                    .lock(&name, &format!("owner-{n}"), LONG)
                    .await
                    .expect("lock")
            });
        }
        let mut winners = 0;
        while let Some(won) = attempts.join_next().await {
            winners += usize::from(won.unwrap());
        }
        assert_eq!(winners, 1, "owners that got lock {name}");
    }
}

pub async fn a_run_whose_cluster_lock_is_busy_is_skipped(env: &Env) {
    let store = &*env.store;
    assert!(store.lock("backup", "a-run-elsewhere", LONG).await.unwrap());
    let blocked = store
        .enqueue(locked("backup", "backup", OnBusy::Skip))
        .await
        .unwrap();
    let free = store.enqueue(new_run("report", "a")).await.unwrap();

    let (got, _) = take(store, "a").await;
    assert_eq!(
        got.id, free.id,
        "the busy run is passed over for the next one"
    );
    let skipped = store.run(&blocked.id).await.unwrap();
    assert_eq!(skipped.status, RunStatus::Skipped);
    assert!(skipped.reason.is_some(), "a skipped run says why");
    assert_eq!(skipped.started_at, None);
    assert!(
        store.queued().await.unwrap().is_empty(),
        "the skipped run left the queue"
    );
    assert!(
        store
            .renew_lock("backup", "a-run-elsewhere", LONG)
            .await
            .unwrap(),
        "the holder keeps its lock"
    );
}

pub async fn a_run_whose_cluster_lock_is_busy_waits(env: &Env) {
    let store = &*env.store;
    assert!(store.lock("backup", "a-run-elsewhere", LONG).await.unwrap());
    let waiting = store
        .enqueue(locked("backup", "backup", OnBusy::Wait))
        .await
        .unwrap();
    let free = store.enqueue(new_run("report", "a")).await.unwrap();

    let (got, _) = take(store, "a").await;
    assert_eq!(got.id, free.id, "the waiting run lets the next one by");
    assert_eq!(
        reserve_now(store, &["a"]).await,
        None,
        "the lock is still busy"
    );
    assert_eq!(
        store.run(&waiting.id).await.unwrap().status,
        RunStatus::Queued
    );
    let queued = store.queued().await.unwrap();
    assert_eq!(queued.len(), 1, "{queued:?}");
    assert_eq!(
        (queued[0].run.id.as_str(), queued[0].position),
        (waiting.id.as_str(), 1)
    );

    assert!(store.unlock("backup", "a-run-elsewhere").await.unwrap());
    let (got, lease) = take(store, "a").await;
    assert_eq!(got.id, waiting.id, "reserved once the lock is free");
    assert!(
        !is_free(store, "backup").await,
        "the run holds the lock now"
    );
    finish_as(store, &lease, RunStatus::Succeeded).await;
    assert!(
        is_free(store, "backup").await,
        "finishing the run released the lock"
    );
}

pub async fn a_reserved_run_holds_its_cluster_lock_until_it_ends(env: &Env) {
    let store = &*env.store;
    let first = store
        .enqueue(locked("sync", "sync", OnBusy::Skip))
        .await
        .unwrap();
    let second = store
        .enqueue(locked("sync", "sync", OnBusy::Skip))
        .await
        .unwrap();
    let (got, lease) = take(store, "a").await;
    assert_eq!(got.id, first.id);
    assert!(
        !is_free(store, "sync").await,
        "the running run holds its lock"
    );
    assert_eq!(
        reserve_now(store, &["a"]).await,
        None,
        "`forbid`: the second is skipped"
    );
    assert_eq!(
        store.run(&second.id).await.unwrap().status,
        RunStatus::Skipped
    );
    finish_as(store, &lease, RunStatus::Failed).await;
    assert!(
        is_free(store, "sync").await,
        "a failed run released its lock"
    );

    let third = store
        .enqueue(locked("sync", "sync", OnBusy::Wait))
        .await
        .unwrap();
    let fourth = store
        .enqueue(locked("sync", "sync", OnBusy::Wait))
        .await
        .unwrap();
    let (got, lease) = take(store, "a").await;
    assert_eq!(got.id, third.id);
    assert_eq!(
        reserve_now(store, &["a"]).await,
        None,
        "`queue`: the fourth waits"
    );
    assert_eq!(
        store.run(&fourth.id).await.unwrap().status,
        RunStatus::Queued
    );
    finish_as(store, &lease, RunStatus::Succeeded).await;
    let (got, lease) = take(store, "a").await;
    assert_eq!(
        got.id, fourth.id,
        "the waiting run goes once the first has ended"
    );
    finish_as(store, &lease, RunStatus::Succeeded).await;
    assert!(is_free(store, "sync").await);
}

/// Reading of the docs: extend renews "the run's cluster lock with it", so the lock lasts
/// as long as the extended lease, past the first lease's end.
pub async fn extend_renews_the_cluster_lock(env: &Env) {
    let store = &*env.store;
    store
        .enqueue(locked("sync", "sync", OnBusy::Skip))
        .await
        .unwrap();
    let (_, lease) = take_for(store, "a", SHORT).await;
    let (extended, _) = store.extend(&lease, LONG).await.unwrap();
    wait_past(lease.expires_at + chrono::TimeDelta::milliseconds(100)).await;
    assert!(
        !store.lock("sync", "intruder", LONG).await.unwrap(),
        "the lock outlived the extended lease"
    );
    finish_as(store, &extended, RunStatus::Succeeded).await;
    assert!(is_free(store, "sync").await);
}

pub async fn reap_releases_the_cluster_lock(env: &Env) {
    let store = &*env.store;
    let asked = NewRun {
        max_attempts: 2,
        ..locked("sync", "sync", OnBusy::Skip)
    };
    store.enqueue(asked.clone()).await.unwrap();
    let (run, lease) = take_for(store, "a", SHORT).await;
    wait_past(lease.expires_at).await;
    reap_until(store, &run.id).await;
    assert!(is_free(store, "sync").await, "the lost run's lock is free");
    let (retry, _) = take(store, "a").await;
    assert_eq!(retry.retry_of.as_deref(), Some(run.id.as_str()));
    assert_eq!(retry.lock, asked.lock, "the retry needs the same lock");
    assert!(!is_free(store, "sync").await, "the retry holds it");
}
