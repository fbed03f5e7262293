//! Cancel: a queued run leaves its queue, a running one is flagged for its worker, a
//! finished one is refused; and ids that name no run.

use std::fmt::Debug;
use std::time::Duration;

use chrono::TimeDelta;
use cronq::store::{Cancelled, NewRun, OnBusy, Outcome, RunLock, RunStatus, StoreError};

use crate::fixture::*;

#[track_caller]
fn assert_wrong_status<T: Debug>(what: &str, got: Result<T, StoreError>, id: &str, is: RunStatus) {
    match got {
        Err(StoreError::WrongStatus { id: named, status }) => {
            assert_eq!((named.as_str(), status), (id, is), "{what}")
        }
        other => panic!("{what}: expected WrongStatus({id} is {is}), got {other:?}"),
    }
}

#[track_caller]
fn assert_not_found<T: Debug>(what: &str, got: Result<T, StoreError>, id: &str) {
    match got {
        Err(StoreError::NotFound(named)) => assert_eq!(named, id, "{what}"),
        other => panic!("{what}: expected NotFound({id}), got {other:?}"),
    }
}

pub async fn cancel_of_a_queued_run_dequeues_it(env: &Env) {
    let store = &*env.store;
    let doomed = store.enqueue(new_run("j", "a")).await.unwrap();
    let kept = store.enqueue(new_run("j", "a")).await.unwrap();
    assert_eq!(store.cancel(&doomed.id).await.unwrap(), Cancelled::Dequeued);

    let cancelled = store.run(&doomed.id).await.unwrap();
    assert_eq!(cancelled.status, RunStatus::Cancelled);
    assert_eq!(cancelled.started_at, None);
    let queued = store.queued().await.unwrap();
    assert_eq!(queued.len(), 1, "only the other run is queued: {queued:?}");
    assert_eq!(
        (queued[0].run.id.as_str(), queued[0].position),
        (kept.id.as_str(), 1)
    );
    assert_eq!(store.queue_lengths().await.unwrap(), vec![("a".into(), 1)]);
    assert_eq!(take(store, "a").await.0.id, kept.id);
    assert_eq!(
        reserve_now(store, &["a"]).await,
        None,
        "the cancelled run is gone"
    );
    let again = store.cancel(&doomed.id).await;
    assert_wrong_status("a second cancel", again, &doomed.id, RunStatus::Cancelled);

    // A delayed run (a retry waiting for its time) leaves its queue too.
    let due = now_ms() + TimeDelta::milliseconds(150);
    let delayed = NewRun {
        not_before: Some(due),
        ..new_run("j", "a")
    };
    let delayed = store.enqueue(delayed).await.unwrap();
    assert_eq!(
        store.cancel(&delayed.id).await.unwrap(),
        Cancelled::Dequeued
    );
    wait_past(due).await;
    assert_eq!(
        reserve_now(store, &["a"]).await,
        None,
        "a cancelled delayed run came back"
    );
    assert_eq!(
        store.run(&delayed.id).await.unwrap().status,
        RunStatus::Cancelled
    );
}

pub async fn cancel_of_a_running_run_asks_its_worker(env: &Env) {
    let store = &*env.store;
    let asked = NewRun {
        max_attempts: 3,
        ..new_run("j", "a")
    };
    store.enqueue(asked).await.unwrap();
    let (run, lease) = take(store, "a").await;
    let (lease, asked_before) = store.extend(&lease, LONG).await.unwrap();
    assert!(!asked_before, "no cancel asked yet");

    assert_eq!(store.cancel(&run.id).await.unwrap(), Cancelled::Requested);
    let flagged = store.run(&run.id).await.unwrap();
    assert_eq!(
        flagged.status,
        RunStatus::Running,
        "the worker ends it, not cancel"
    );
    assert!(flagged.cancel_requested);
    let (lease, asked) = store.extend(&lease, LONG).await.unwrap();
    assert!(asked, "the worker's next extend reports the cancel");

    let stopped = Outcome {
        status: RunStatus::Cancelled,
        exit_code: None,
        signal: Some(15),
        reason: Some("cancelled".into()),
    };
    let done = store.finish(&lease, stopped, Duration::ZERO).await.unwrap();
    assert_eq!(done.run.status, RunStatus::Cancelled);
    assert_eq!(done.retry, None, "a cancelled run is not retried");
    assert!(store.queued().await.unwrap().is_empty());
}

/// A run that waits for its cluster lock is queued: cancel takes it out of its queue, and
/// the lock coming free does not bring it back.
pub async fn cancel_of_a_run_waiting_for_its_lock_dequeues_it(env: &Env) {
    let store = &*env.store;
    assert!(store.lock("sync", "elsewhere", LONG).await.unwrap());
    let waiting = NewRun {
        lock: Some(RunLock {
            name: "sync".into(),
            on_busy: OnBusy::Wait,
        }),
        ..new_run("j", "a")
    };
    let waiting = store.enqueue(waiting).await.unwrap();
    assert_eq!(reserve_now(store, &["a"]).await, None, "the lock is busy");
    assert_eq!(
        store.cancel(&waiting.id).await.unwrap(),
        Cancelled::Dequeued
    );
    assert!(store.unlock("sync", "elsewhere").await.unwrap());
    assert_eq!(
        reserve_now(store, &["a"]).await,
        None,
        "the cancelled run came back"
    );
    assert_eq!(
        store.run(&waiting.id).await.unwrap().status,
        RunStatus::Cancelled
    );
    assert!(store.queue_lengths().await.unwrap().is_empty());
}

pub async fn cancel_of_a_finished_run_is_wrong_status(env: &Env) {
    let store = &*env.store;
    let succeeded = finished_run(store, "j", RunStatus::Succeeded).await;
    let got = store.cancel(&succeeded.id).await;
    assert_wrong_status(
        "cancel a succeeded run",
        got,
        &succeeded.id,
        RunStatus::Succeeded,
    );
    let failed = finished_run(store, "j", RunStatus::Failed).await;
    let got = store.cancel(&failed.id).await;
    assert_wrong_status("cancel a failed run", got, &failed.id, RunStatus::Failed);

    let instant = now_ms();
    let skip = Some("the previous run is still running".to_string());
    let skipped = store
        .fire(new_run("j", "a"), instant, skip)
        .await
        .unwrap()
        .expect("a first fire");
    let got = store.cancel(&skipped.id).await;
    assert_wrong_status("cancel a skipped run", got, &skipped.id, RunStatus::Skipped);
    assert_eq!(
        store.run(&succeeded.id).await.unwrap(),
        succeeded,
        "unchanged"
    );
}

/// Reading of the docs: `run` says `NotFound` for an unknown id; `cancel`, `set_progress`
/// and `output` name no error for it, and `NotFound` is the one that fits.
pub async fn unknown_ids_are_not_found(env: &Env) {
    let store = &*env.store;
    store.enqueue(new_run("j", "a")).await.unwrap();
    let unknown = cronq::store::new_run_id();
    assert_not_found("run", store.run(&unknown).await, &unknown);
    assert_not_found("cancel", store.cancel(&unknown).await, &unknown);
    let progress = store.set_progress(&unknown, 10, None).await;
    assert_not_found("set_progress", progress, &unknown);
    assert_not_found("output", store.output(&unknown, 0).await, &unknown);
    assert_not_found("run of an empty id", store.run("").await, "");
}
