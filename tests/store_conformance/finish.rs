//! Finish: how a run ends, and when its next attempt is queued.

use std::time::Duration;

use chrono::{TimeDelta, Utc};
use cronq::store::{
    HistoryFilter, NewRun, OnBusy, Outcome, RunLock, RunStatus, StoreError, Trigger,
};

use crate::fixture::*;

pub async fn finish_records_a_success(env: &Env) {
    let store = &*env.store;
    store.enqueue(new_run("j", "a")).await.unwrap();
    let (run, lease) = take(store, "a").await;
    let before = now_ms();
    let done = store
        .finish(&lease, outcome(RunStatus::Succeeded, Some(0)), LONG)
        .await
        .expect("finish");
    let after = Utc::now();

    assert_eq!(done.retry, None, "a success is not retried");
    let ended = done.run;
    assert_eq!(ended.id, run.id);
    assert_eq!(ended.status, RunStatus::Succeeded);
    assert_eq!(ended.exit_code, Some(0));
    assert_eq!(ended.signal, None);
    assert_eq!(ended.started_at, run.started_at);
    assert_eq!(ended.worker, run.worker);
    let finished_at = ended.finished_at.expect("finished_at is set");
    assert_within("finished_at", finished_at, before, after);
    let duration = ended.duration_s(Utc::now()).expect("a duration");
    assert!(duration >= 0.0, "duration {duration}");
    assert_eq!(store.run(&run.id).await.unwrap(), ended, "the stored run");
    assert!(store.running().await.unwrap().is_empty());
    assert_durations(&store.durations("j", 10).await.unwrap(), &[duration]);
}

pub async fn a_failure_with_attempts_left_queues_a_delayed_retry(env: &Env) {
    let store = &*env.store;
    let asked = NewRun {
        trigger: Trigger::Schedule,
        scheduled_for: Some(now_ms() - TimeDelta::minutes(1)),
        max_attempts: 3,
        args: vec!["x".into()],
        env: [("K".to_string(), "v".to_string())].into(),
        lock: Some(RunLock {
            name: "j".into(),
            on_busy: OnBusy::Wait,
        }),
        ..new_run("j", "a")
    };
    store.enqueue(asked.clone()).await.unwrap();
    let (run, lease) = take(store, "a").await;
    let retry_in = Duration::from_millis(300);
    let before = now_ms();
    let done = store
        .finish(&lease, outcome(RunStatus::Failed, Some(2)), retry_in)
        .await
        .expect("finish");
    let after = Utc::now();

    assert_eq!(done.run.status, RunStatus::Failed);
    assert_eq!(done.run.exit_code, Some(2));
    let retry = done.retry.expect("a retry, 2 attempts being left");
    assert_ne!(retry.id, run.id, "a retry is a run of its own");
    assert_eq!(retry.status, RunStatus::Queued);
    assert_eq!(retry.trigger, Trigger::Retry);
    assert_eq!(retry.attempt, 2);
    assert_eq!(retry.max_attempts, 3);
    assert_eq!(retry.retry_of.as_deref(), Some(run.id.as_str()));
    assert_eq!((retry.job.as_str(), retry.queue.as_str()), ("j", "a"));
    // What the next attempt runs, and for which instant, is the first attempt's.
    assert_eq!(retry.args, asked.args);
    assert_eq!(retry.env, asked.env);
    assert_eq!(retry.lock, asked.lock);
    assert_eq!(retry.scheduled_for, asked.scheduled_for);
    assert_eq!((retry.started_at, retry.worker.as_deref()), (None, None));
    let delay = TimeDelta::from_std(retry_in).unwrap();
    let not_before = retry.not_before.expect("a delayed retry has a not_before");
    assert_within("not_before", not_before, before + delay, after + delay);
    assert_eq!(
        store.run(&retry.id).await.unwrap(),
        retry,
        "the stored retry"
    );
    assert_eq!(
        store.run(&run.id).await.unwrap(),
        done.run,
        "the stored run"
    );

    assert_eq!(
        reserve_now(store, &["a"]).await,
        None,
        "the retry is not due yet"
    );
    let got = eventually_some("the retry is reserved once due", || {
        reserve_now(store, &["a"])
    })
    .await;
    let (second, _) = got;
    assert_eq!(second.id, retry.id);
    assert_eq!(second.attempt, 2);
    assert!(Utc::now() >= not_before);
}

pub async fn a_timeout_with_attempts_left_queues_a_retry(env: &Env) {
    let store = &*env.store;
    let asked = NewRun {
        max_attempts: 2,
        ..new_run("j", "a")
    };
    store.enqueue(asked).await.unwrap();
    let (run, lease) = take(store, "a").await;
    let timed_out = Outcome {
        status: RunStatus::TimedOut,
        exit_code: None,
        signal: Some(9),
        reason: Some("timeout 1s".into()),
    };
    let done = store
        .finish(&lease, timed_out, Duration::ZERO)
        .await
        .unwrap();
    assert_eq!(done.run.status, RunStatus::TimedOut);
    let retry = done
        .retry
        .expect("a timeout with an attempt left is retried");
    assert_eq!(retry.retry_of.as_deref(), Some(run.id.as_str()));
    assert_eq!((retry.attempt, retry.trigger), (2, Trigger::Retry));
    let (next, _) = take(store, "a").await;
    assert_eq!(next.id, retry.id, "a retry after 0 s is ready at once");
}

pub async fn the_last_failed_attempt_is_not_retried(env: &Env) {
    let store = &*env.store;
    let asked = NewRun {
        max_attempts: 2,
        ..new_run("j", "a")
    };
    store.enqueue(asked).await.unwrap();
    let (_, lease) = take(store, "a").await;
    let first = finish_as(store, &lease, RunStatus::Failed).await;
    let retry = first.retry.expect("attempt 1 of 2 is retried");
    let (second, lease) = take(store, "a").await;
    assert_eq!(second.id, retry.id);

    let last = finish_as(store, &lease, RunStatus::Failed).await;
    assert_eq!(last.retry, None, "attempt 2 of 2 is the last");
    assert_eq!(last.run.status, RunStatus::Failed);
    assert_eq!(last.run.attempt, 2);
    assert_eq!(
        store.run(&second.id).await.unwrap().status,
        RunStatus::Failed
    );
    assert!(
        store.queued().await.unwrap().is_empty(),
        "nothing is queued"
    );
    assert!(store.queue_lengths().await.unwrap().is_empty());
}

pub async fn cancelled_and_timed_out_outcomes_are_recorded(env: &Env) {
    let store = &*env.store;
    let asked = NewRun {
        max_attempts: 3,
        ..new_run("j", "a")
    };
    store.enqueue(asked).await.unwrap();
    let (run, lease) = take(store, "a").await;
    let cancelled = Outcome {
        status: RunStatus::Cancelled,
        exit_code: None,
        signal: Some(15),
        reason: Some("cancelled by alice".into()),
    };
    let done = store
        .finish(&lease, cancelled, Duration::ZERO)
        .await
        .unwrap();
    assert_eq!(done.retry, None, "a cancelled run is not retried");
    let stored = store.run(&run.id).await.unwrap();
    assert_eq!(stored.status, RunStatus::Cancelled);
    assert_eq!(stored.signal, Some(15));
    assert_eq!(stored.exit_code, None);
    assert_eq!(stored.reason.as_deref(), Some("cancelled by alice"));
    assert!(stored.finished_at.is_some());

    store.enqueue(new_run("j", "a")).await.unwrap();
    let (run, lease) = take(store, "a").await;
    let timed_out = Outcome {
        status: RunStatus::TimedOut,
        exit_code: None,
        signal: Some(9),
        reason: Some("timeout 30s".into()),
    };
    let done = store
        .finish(&lease, timed_out, Duration::ZERO)
        .await
        .unwrap();
    assert_eq!(done.retry, None, "the only attempt is the last");
    let stored = store.run(&run.id).await.unwrap();
    assert_eq!(stored.status, RunStatus::TimedOut);
    assert_eq!((stored.exit_code, stored.signal), (None, Some(9)));
    assert_eq!(stored.reason.as_deref(), Some("timeout 30s"));
    assert!(store.queued().await.unwrap().is_empty());
}

/// A worker that does not start a run it reserved (its job's host lock is busy under
/// `concurrency: forbid`) finishes it `skipped` with the reason; with attempts left and
/// a zero `retry_in`, still no retry is queued: a skipped run is never retried.
pub async fn a_skipped_outcome_is_recorded_and_never_retried(env: &Env) {
    let store = &*env.store;
    let asked = NewRun {
        max_attempts: 3,
        ..new_run("j", "a")
    };
    store.enqueue(asked).await.unwrap();
    let (run, lease) = take(store, "a").await;
    let reason = "skipped: job `j` is still running on this host (lock: host)";
    let skipped = Outcome {
        status: RunStatus::Skipped,
        exit_code: None,
        signal: None,
        reason: Some(reason.into()),
    };
    let done = store
        .finish(&lease, skipped, Duration::ZERO)
        .await
        .expect("finish as skipped");
    assert_eq!(done.retry, None, "a skipped run is not retried");
    let stored = store.run(&run.id).await.unwrap();
    assert_eq!(stored, done.run, "the stored run");
    assert_eq!(stored.status, RunStatus::Skipped);
    assert_eq!((stored.exit_code, stored.signal), (None, None));
    assert_eq!(stored.reason.as_deref(), Some(reason));
    assert!(stored.finished_at.is_some());
    assert!(store.running().await.unwrap().is_empty());
    assert!(
        store.queued().await.unwrap().is_empty(),
        "nothing is queued"
    );
    let filter = HistoryFilter {
        statuses: vec![RunStatus::Skipped],
        ..HistoryFilter::default()
    };
    let history = store.history(&filter).await.unwrap();
    assert_eq!(
        history.iter().map(|r| r.id.as_str()).collect::<Vec<_>>(),
        [run.id.as_str()],
        "history lists it as skipped"
    );
}

/// Reading of the docs: `Outcome::status` is one of Succeeded, Failed, TimedOut,
/// Cancelled or Skipped; anything else is an argument out of its range, `Invalid`, and
/// changes nothing.
pub async fn an_outcome_that_is_not_an_end_is_invalid(env: &Env) {
    let store = &*env.store;
    store.enqueue(new_run("j", "a")).await.unwrap();
    let (run, lease) = take(store, "a").await;
    for status in [RunStatus::Queued, RunStatus::Running, RunStatus::Lost] {
        let got = store
            .finish(&lease, outcome(status, None), Duration::ZERO)
            .await;
        assert!(
            matches!(got, Err(StoreError::Invalid(_))),
            "finish as {status}: {got:?}"
        );
    }
    assert_eq!(
        store.run(&run.id).await.unwrap(),
        run,
        "the run is unchanged"
    );
    finish_as(store, &lease, RunStatus::Succeeded).await;
}

/// A worker that acks twice (say, it retried after a timeout) gets `LeaseLost` the second
/// time, and the run keeps its first outcome and has one retry, not two.
pub async fn a_second_finish_is_refused(env: &Env) {
    let store = &*env.store;
    let asked = NewRun {
        max_attempts: 3,
        ..new_run("j", "a")
    };
    store.enqueue(asked).await.unwrap();
    let (run, lease) = take(store, "a").await;
    let first = finish_as(store, &lease, RunStatus::Failed).await;
    let again = store
        .finish(
            &lease,
            outcome(RunStatus::Succeeded, Some(0)),
            Duration::ZERO,
        )
        .await;
    assert!(
        matches!(&again, Err(StoreError::LeaseLost(id)) if *id == run.id),
        "a second finish: {again:?}"
    );
    let extended = store.extend(&lease, LONG).await;
    assert!(
        matches!(&extended, Err(StoreError::LeaseLost(id)) if *id == run.id),
        "extend after finish: {extended:?}"
    );
    assert_eq!(
        store.run(&run.id).await.unwrap(),
        first.run,
        "the first outcome stays"
    );
    let queued = store.queued().await.unwrap();
    assert_eq!(queued.len(), 1, "one retry: {queued:?}");
}

/// The same finish sent again (a worker retrying an ack whose reply it did not get) is
/// refused like any other ack without a lease, per the docs ("`LeaseLost` if the lease is
/// not held"), and changes nothing: no second retry.
pub async fn a_replayed_finish_is_refused(env: &Env) {
    let store = &*env.store;
    let asked = NewRun {
        max_attempts: 3,
        ..new_run("j", "a")
    };
    store.enqueue(asked).await.unwrap();
    let (run, lease) = take(store, "a").await;
    let failed = outcome(RunStatus::Failed, Some(1));
    let first = store.finish(&lease, failed.clone(), LONG).await.unwrap();
    let again = store.finish(&lease, failed, LONG).await;
    assert!(
        matches!(&again, Err(StoreError::LeaseLost(id)) if *id == run.id),
        "the same finish again: {again:?}"
    );
    assert_eq!(
        store.run(&run.id).await.unwrap(),
        first.run,
        "the first outcome stays"
    );
    assert_eq!(store.queued().await.unwrap().len(), 1, "one retry");
}
