//! The worker registry: heartbeats register and refresh a worker, silence forgets it,
//! and a clean stop removes it.

use std::time::Instant;

use chrono::{DateTime, Utc};
use cronq::store::{Store, WorkerInfo};

use crate::fixture::*;

fn info(id: &str, queues: &[&str], runs: &[&str]) -> WorkerInfo {
    WorkerInfo {
        id: id.into(),
        host: format!("{id}.example"),
        pid: 4242,
        queues: queues.iter().map(|q| q.to_string()).collect(),
        runs: runs.iter().map(|r| r.to_string()).collect(),
        // The store sets it; what the caller passes is ignored.
        last_seen: DateTime::UNIX_EPOCH,
    }
}

async fn registered(store: &dyn Store) -> Vec<WorkerInfo> {
    let mut workers = store.workers().await.expect("workers");
    workers.sort_by(|a, b| a.id.cmp(&b.id));
    workers
}

async fn registered_ids(store: &dyn Store) -> Vec<String> {
    registered(store).await.into_iter().map(|w| w.id).collect()
}

pub async fn heartbeat_registers_and_updates_a_worker(env: &Env) {
    let store = &*env.store;
    assert!(store.workers().await.unwrap().is_empty());
    let first = info("w1", &["a", "b"], &[]);
    let before = now_ms();
    store.heartbeat(&first, LONG).await.expect("heartbeat");
    let after = Utc::now();
    let workers = registered(store).await;
    assert_eq!(workers.len(), 1, "{workers:?}");
    let seen = workers[0].last_seen;
    assert_within("last_seen", seen, before, after);
    assert_eq!(
        workers[0],
        WorkerInfo {
            last_seen: seen,
            ..first
        },
        "as registered"
    );

    next_instant().await;
    let busy = info("w1", &["a"], &["01JRUN0000000000000000000A"]);
    store.heartbeat(&busy, LONG).await.unwrap();
    let workers = registered(store).await;
    assert_eq!(
        workers.len(),
        1,
        "a second heartbeat updates, not adds: {workers:?}"
    );
    assert!(
        workers[0].last_seen > seen,
        "last_seen moves with each heartbeat"
    );
    assert_eq!(
        workers[0],
        WorkerInfo {
            last_seen: workers[0].last_seen,
            ..busy
        }
    );

    store
        .heartbeat(&info("w2", &["c"], &[]), LONG)
        .await
        .unwrap();
    assert_eq!(registered_ids(store).await, ["w1", "w2"]);
}

pub async fn a_worker_is_forgotten_after_its_ttl(env: &Env) {
    let store = &*env.store;
    let beat = Instant::now();
    store
        .heartbeat(&info("quiet", &["a"], &[]), SHORT)
        .await
        .unwrap();
    store
        .heartbeat(&info("alive", &["a"], &[]), LONG)
        .await
        .unwrap();
    assert_eq!(registered_ids(store).await, ["alive", "quiet"]);
    eventually("the silent worker is forgotten", || async {
        registered_ids(store).await == ["alive"]
    })
    .await;
    let after = beat.elapsed();
    assert!(
        after >= SHORT * 3 / 4,
        "forgotten after {after:?}, the TTL being {SHORT:?}"
    );
}

pub async fn unregister_removes_a_worker(env: &Env) {
    let store = &*env.store;
    store
        .heartbeat(&info("w1", &["a"], &[]), LONG)
        .await
        .unwrap();
    store
        .heartbeat(&info("w2", &["a"], &[]), LONG)
        .await
        .unwrap();
    store.unregister("w1").await.expect("unregister");
    assert_eq!(registered_ids(store).await, ["w2"]);
    store
        .unregister("w1")
        .await
        .expect("a second unregister is harmless");
    store
        .unregister("never-seen")
        .await
        .expect("an unknown worker is harmless");
    assert_eq!(registered_ids(store).await, ["w2"]);
}
