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
        concurrency: 3,
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

fn daemon(id: &str, hash: &str) -> cronq::store::DaemonInfo {
    cronq::store::DaemonInfo {
        id: id.into(),
        host: format!("{id}.example"),
        pid: 7,
        schedule_hash: hash.into(),
        last_seen: DateTime::UNIX_EPOCH,
    }
}

pub async fn daemons_register_with_their_schedule_hash_and_expire(env: &Env) {
    let store = &*env.store;
    assert!(store.daemons().await.unwrap().is_empty());
    store
        .daemon_heartbeat(&daemon("d1", "aaaa"), LONG)
        .await
        .unwrap();
    store
        .daemon_heartbeat(&daemon("d2", "bbbb"), SHORT)
        .await
        .unwrap();
    let before = now_ms();
    store
        .daemon_heartbeat(&daemon("d1", "cccc"), LONG)
        .await
        .unwrap();
    let daemons = store.daemons().await.unwrap();
    let hashes: Vec<(&str, &str)> = daemons
        .iter()
        .map(|d| (d.id.as_str(), d.schedule_hash.as_str()))
        .collect();
    assert_eq!(
        hashes,
        [("d1", "cccc"), ("d2", "bbbb")],
        "a heartbeat replaces the hash"
    );
    assert!(daemons[0].last_seen >= before, "the store stamps last_seen");
    assert!(
        store.workers().await.unwrap().is_empty(),
        "daemons are not workers"
    );
    eventually("d2 to expire", || async {
        store.daemons().await.unwrap().iter().all(|d| d.id != "d2")
    })
    .await;
}

pub async fn the_published_schedule_is_replaced_whole(env: &Env) {
    use cronq::store::{PublishedJob, PublishedSchedule};
    let store = &*env.store;
    assert_eq!(
        store.published().await.unwrap(),
        None,
        "nothing published yet"
    );
    let job = |name: &str, schedule: Option<&str>| PublishedJob {
        name: name.into(),
        queue: "default".into(),
        schedule: schedule.map(str::to_string),
        timezone: "Europe/Berlin".into(),
        jitter_ms: if name == "a" { 90_500 } else { 0 },
        allow_args: name == "b",
        allow_env: match name {
            "b" => vec!["LEVEL".into(), "TARGET_DATE".into()],
            _ => Vec::new(),
        },
    };
    let first = PublishedSchedule {
        hash: "1111".into(),
        jobs: vec![job("a", Some("30 2 * * *")), job("b", None)],
    };
    assert_eq!(store.published_hash().await.unwrap(), None);
    store.publish((&first).into()).await.unwrap();
    assert_eq!(store.published().await.unwrap().as_ref(), Some(&first));
    assert_eq!(
        store.published_hash().await.unwrap().as_deref(),
        Some("1111"),
        "the hash is read without the jobs"
    );
    let second = PublishedSchedule {
        hash: "2222".into(),
        jobs: vec![job("c", Some("@daily"))],
    };
    store.publish((&second).into()).await.unwrap();
    assert_eq!(
        store.published().await.unwrap(),
        Some(second),
        "no job of the first one is left"
    );
    assert_eq!(
        store.published_hash().await.unwrap().as_deref(),
        Some("2222")
    );
}
