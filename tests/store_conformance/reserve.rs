//! Enqueue and reserve: what a queued run looks like, which run a worker gets, when, and
//! how long a reserve waits.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use chrono::{TimeDelta, Utc};
use cronq::store::{NewRun, OnBusy, RunLock, RunStatus, Store, StoreError, Trigger};
use tokio::task::JoinSet;

use crate::fixture::*;

pub async fn enqueue_records_a_queued_first_attempt(env: &Env) {
    let store = &*env.store;
    let instant = now_ms() - TimeDelta::minutes(1);
    let asked = NewRun {
        trigger: Trigger::Schedule,
        scheduled_for: Some(instant),
        max_attempts: 3,
        args: vec![
            "--full".into(),
            "two words".into(),
            "café ✓ \"quoted\"".into(),
        ],
        env: BTreeMap::from([
            ("MODE".into(), "nightly".into()),
            ("MULTI".into(), "line one\nline two".into()),
        ]),
        lock: Some(RunLock {
            name: "backup".into(),
            on_busy: OnBusy::Wait,
        }),
        ..new_run("backup", "default")
    };
    let before = now_ms();
    let run = store.enqueue(asked.clone()).await.expect("enqueue");
    let after = Utc::now();

    assert_eq!(run.id.len(), 26, "a run id is a ULID: {}", run.id);
    assert_eq!(run.status, RunStatus::Queued);
    assert_eq!(run.attempt, 1);
    assert_eq!(run.max_attempts, 3);
    assert_eq!(run.job, "backup");
    assert_eq!(run.queue, "default");
    assert_eq!(run.trigger, Trigger::Schedule);
    assert_eq!(run.scheduled_for, Some(instant));
    assert_eq!(run.args, asked.args);
    assert_eq!(run.env, asked.env);
    assert_eq!(run.lock, asked.lock);
    assert_eq!(run.retry_of, None);
    assert_eq!((run.host.as_deref(), run.worker.as_deref()), (None, None));
    assert_eq!((run.started_at, run.finished_at), (None, None));
    assert_eq!(
        (run.exit_code, run.signal, run.progress),
        (None, None, None)
    );
    assert!(!run.cancel_requested);
    assert_within("queued_at", run.queued_at, before, after);
    assert_eq!(
        store.run(&run.id).await.expect("run"),
        run,
        "the stored run"
    );

    let other = store.enqueue(new_run("backup", "default")).await.unwrap();
    assert_ne!(other.id, run.id, "each run gets its own id");
}

pub async fn reserve_marks_the_run_running_under_a_lease(env: &Env) {
    let store = &*env.store;
    let queued = store.enqueue(new_run("report", "a")).await.unwrap();
    let me = worker("w7");
    let before = now_ms();
    let (run, lease) = store
        .reserve(&queues(&["a"]), &me, LONG, Duration::ZERO)
        .await
        .expect("reserve")
        .expect("the queued run");
    let after = Utc::now();

    assert_eq!(run.id, queued.id);
    assert_eq!(run.status, RunStatus::Running);
    assert_eq!(run.attempt, 1);
    assert_eq!(run.worker.as_deref(), Some("w7"));
    assert_eq!(run.host.as_deref(), Some("w7.example"));
    let started = run.started_at.expect("started_at is set");
    assert_within("started_at", started, before, after);
    assert_eq!(run.queued_at, queued.queued_at);
    assert_eq!(lease.run, run.id);
    assert!(!lease.token.is_empty());
    let lease_for = TimeDelta::from_std(LONG).unwrap();
    assert_within(
        "lease expiry",
        lease.expires_at,
        before + lease_for,
        after + lease_for,
    );
    assert_eq!(store.run(&run.id).await.unwrap(), run, "the stored run");
    assert_eq!(
        reserve_now(store, &["a"]).await,
        None,
        "a run is reserved once"
    );
}

pub async fn reserve_is_fifo(env: &Env) {
    let store = &*env.store;
    let mut enqueued = Vec::new();
    for _ in 0..5 {
        enqueued.push(store.enqueue(new_run("j", "a")).await.unwrap().id);
    }
    let mut reserved = Vec::new();
    while let Some((run, _)) = reserve_now(store, &["a"]).await {
        reserved.push(run.id);
    }
    assert_eq!(reserved, enqueued, "reserve takes the oldest run first");
}

pub async fn reserve_follows_the_order_of_the_queues_given(env: &Env) {
    let store = &*env.store;
    let low1 = store.enqueue(new_run("j", "low")).await.unwrap().id;
    let high1 = store.enqueue(new_run("j", "high")).await.unwrap().id;
    let low2 = store.enqueue(new_run("j", "low")).await.unwrap().id;
    let high2 = store.enqueue(new_run("j", "high")).await.unwrap().id;
    let other = store.enqueue(new_run("j", "other")).await.unwrap().id;

    let first = reserve_now(store, &["high", "low"]).await.unwrap().0.id;
    let second = reserve_now(store, &["low", "high"]).await.unwrap().0.id;
    let third = reserve_now(store, &["high", "low"]).await.unwrap().0.id;
    let fourth = reserve_now(store, &["high", "low"]).await.unwrap().0.id;
    assert_eq!(
        [first, second, third, fourth],
        [high1, low1, high2, low2],
        "the first queue in the list that has a run gives it"
    );
    assert_eq!(reserve_now(store, &["high", "low"]).await, None);
    assert_eq!(store.run(&other).await.unwrap().status, RunStatus::Queued);
}

pub async fn a_run_is_not_reserved_before_its_not_before(env: &Env) {
    let store = &*env.store;
    let due = now_ms() + TimeDelta::milliseconds(300);
    let delayed = NewRun {
        not_before: Some(due),
        ..new_run("j", "a")
    };
    let delayed = store.enqueue(delayed).await.unwrap();
    assert_eq!(delayed.not_before, Some(due));
    let ready = store.enqueue(new_run("j", "a")).await.unwrap();

    let past = NewRun {
        not_before: Some(now_ms() - TimeDelta::seconds(5)),
        ..new_run("j", "a")
    };
    let past = store.enqueue(past).await.unwrap();

    let (first, _) = reserve_now(store, &["a"]).await.expect("the ready run");
    assert_eq!(first.id, ready.id, "a run not yet due is passed over");
    let (second, _) = reserve_now(store, &["a"])
        .await
        .expect("the run due already");
    assert_eq!(second.id, past.id, "a not_before in the past is ready");
    assert_eq!(
        reserve_now(store, &["a"]).await,
        None,
        "nothing else is due yet"
    );

    let got = eventually_some("the delayed run is reserved once due", || {
        reserve_now(store, &["a"])
    })
    .await;
    assert!(Utc::now() >= due, "reserved before its not_before");
    assert_eq!(got.0.id, delayed.id);
}

/// Reading of the docs: "waits up to `wait` for one" counts a delayed run that comes due
/// during the wait, as a worker would otherwise start a retry up to a whole wait late.
pub async fn a_delayed_run_that_comes_due_ends_a_wait(env: &Env) {
    let store = &*env.store;
    let due = now_ms() + TimeDelta::milliseconds(300);
    let delayed = NewRun {
        not_before: Some(due),
        ..new_run("j", "a")
    };
    let delayed = store.enqueue(delayed).await.unwrap();
    let started = Instant::now();
    let got = store
        .reserve(&queues(&["a"]), &worker("w1"), LONG, Duration::from_secs(4))
        .await
        .expect("reserve");
    let waited = started.elapsed();
    assert_eq!(got.map(|(run, _)| run.id), Some(delayed.id.clone()));
    assert!(Utc::now() >= due, "reserved before its not_before");
    assert!(
        waited < Duration::from_secs(2),
        "the run came due after 300 ms, but the reserve returned after {waited:?}"
    );
}

pub async fn reserve_without_a_wait_returns_at_once(env: &Env) {
    let started = Instant::now();
    let got = env
        .store
        .reserve(&queues(&["a", "b"]), &worker("w1"), LONG, Duration::ZERO)
        .await
        .expect("reserve");
    assert_eq!(got, None);
    let took = started.elapsed();
    assert!(
        took < Duration::from_millis(500),
        "a zero wait must not block (nor mean \"forever\"): took {took:?}"
    );
}

pub async fn reserve_on_an_empty_queue_returns_none_after_the_wait(env: &Env) {
    let wait = Duration::from_millis(300);
    let started = Instant::now();
    let got = env
        .store
        .reserve(&queues(&["a"]), &worker("w1"), LONG, wait)
        .await
        .expect("reserve");
    let took = started.elapsed();
    assert_eq!(got, None);
    assert!(
        took >= Duration::from_millis(250) && took < Duration::from_secs(2),
        "reserve with a wait of {wait:?} on an empty queue returned after {took:?}"
    );
}

pub async fn a_run_enqueued_during_a_wait_wakes_it(env: &Env) {
    wakes_a_waiting_reserve(env, Arc::clone(&env.store), "a").await;
}

pub async fn a_run_enqueued_by_another_handle_wakes_a_wait(env: &Env) {
    wakes_a_waiting_reserve(env, env.handle().await, "a").await;
}

pub async fn a_run_enqueued_on_any_queue_of_a_wait_wakes_it(env: &Env) {
    wakes_a_waiting_reserve(env, env.handle().await, "c").await;
}

/// A reserve waiting 5 s on queues a, b and c, all empty, and a run enqueued on `queue`
/// through `producer` 200 ms in: the reserve returns that run well before its wait ends.
async fn wakes_a_waiting_reserve(env: &Env, producer: Arc<dyn Store>, queue: &str) {
    let consumer = Arc::clone(&env.store);
    let started = Instant::now();
    let waiting = tokio::spawn(async move {
        let got = consumer
            .reserve(
                &queues(&["a", "b", "c"]),
                &worker("w1"),
                LONG,
                Duration::from_secs(5),
            )
            .await
            .expect("reserve");
        (got, started.elapsed())
    });
    tokio::time::sleep(Duration::from_millis(200)).await;
    let enqueued = producer.enqueue(new_run("j", queue)).await.unwrap();
    let (got, took) = waiting.await.unwrap();
    assert_eq!(got.map(|(run, _)| run.id), Some(enqueued.id));
    assert!(
        took < Duration::from_secs(1),
        "enqueued on {queue} 200 ms into a 5 s wait, the run was reserved after {took:?}"
    );
}

pub async fn reserve_from_no_queue_is_invalid(env: &Env) {
    env.store.enqueue(new_run("j", "a")).await.unwrap();
    let got = env
        .store
        .reserve(&[], &worker("w1"), LONG, Duration::ZERO)
        .await;
    assert!(
        matches!(got, Err(StoreError::Invalid(_))),
        "reserve from an empty queue list: {got:?}"
    );
}

/// 8 workers, each on its own handle, reserve and finish while 200 runs are enqueued:
/// every run is delivered exactly once.
pub async fn eight_workers_get_each_run_exactly_once(env: &Env) {
    const RUNS: usize = 200;
    let delivered = Arc::new(AtomicUsize::new(0));
    let mut workers = JoinSet::new();
    for n in 0..8 {
        let store = env.handle().await;
        let delivered = Arc::clone(&delivered);
        workers.spawn(async move {
            let me = worker(&format!("w{n}"));
            let mut mine = Vec::new();
            let deadline = Instant::now() + Duration::from_secs(30);
            while delivered.load(Ordering::SeqCst) < RUNS && Instant::now() < deadline {
                let wait = Duration::from_millis(100);
                let got = store.reserve(&queues(&["a"]), &me, LONG, wait).await;
                if let Some((run, lease)) = got.expect("reserve") {
                    finish_as(&*store, &lease, RunStatus::Succeeded).await;
                    mine.push(run.id);
                    delivered.fetch_add(1, Ordering::SeqCst);
                }
            }
            mine
        });
    }
    let producer = env.handle().await;
    let mut enqueued = HashSet::new();
    for _ in 0..RUNS {
        enqueued.insert(producer.enqueue(new_run("j", "a")).await.unwrap().id);
    }
    let mut seen = Vec::new();
    while let Some(mine) = workers.join_next().await {
        seen.extend(mine.expect("a worker task"));
    }
    let unique: HashSet<_> = seen.iter().cloned().collect();
    assert_eq!(seen.len(), unique.len(), "a run was delivered twice");
    let lost: Vec<_> = enqueued.difference(&unique).collect();
    assert!(lost.is_empty(), "{} runs were never delivered", lost.len());
    assert_eq!(unique, enqueued);
    assert!(env.store.queue_lengths().await.unwrap().is_empty());
}
