//! Queries: the history and its filters, running and queued runs, durations for the ETA
//! and the queue lengths.

use std::time::Duration;

use chrono::Utc;
use cronq::store::{HistoryFilter, NewRun, Run, RunStatus, Store};

use crate::fixture::*;

fn filter(job: Option<&str>, statuses: &[RunStatus], limit: usize) -> HistoryFilter {
    HistoryFilter {
        job: job.map(str::to_string),
        statuses: statuses.to_vec(),
        since: None,
        limit,
    }
}

async fn history_ids(store: &dyn Store, filter: &HistoryFilter) -> Vec<String> {
    ids(&store.history(filter).await.expect("history"))
}

/// Enqueues a run of `job` on `queue` and reserves it.
async fn started(store: &dyn Store, job: &str, queue: &str, lease_for: Duration) -> Run {
    store.enqueue(new_run(job, queue)).await.unwrap();
    take_for(store, queue, lease_for).await.0
}

pub async fn history_is_newest_first(env: &Env) {
    let store = &*env.store;
    let mut made = Vec::new();
    made.push(finished_run(store, "j", RunStatus::Succeeded).await.id);
    next_instant().await;
    made.push(finished_run(store, "j", RunStatus::Failed).await.id);
    next_instant().await;
    made.push(started(store, "j", "q", LONG).await.id);
    next_instant().await;
    made.push(store.enqueue(new_run("j", "b")).await.unwrap().id);
    made.reverse();
    assert_eq!(history_ids(store, &filter(None, &[], 10)).await, made);
    // Reading of the docs: like `statuses` ("empty for all"), a `limit` of 0 sets no
    // limit, so `HistoryFilter::default()` is the whole history.
    let everything = history_ids(store, &HistoryFilter::default()).await;
    assert_eq!(everything, made, "limit 0");
}

pub async fn history_filters_by_job_status_since_and_limit(env: &Env) {
    let store = &*env.store;
    let a1 = finished_run(store, "a", RunStatus::Succeeded).await;
    next_instant().await;
    let a2 = finished_run(store, "a", RunStatus::Failed).await;
    next_instant().await;
    let a3 = finished_run(store, "a", RunStatus::TimedOut).await;
    next_instant().await;
    let a4 = finished_run(store, "a", RunStatus::Cancelled).await;
    next_instant().await;
    let a5 = started(store, "a", "q", SHORT).await;
    next_instant().await;
    let a6 = store.enqueue(new_run("a", "b")).await.unwrap();
    next_instant().await;
    let b1 = finished_run(store, "b", RunStatus::Failed).await;
    next_instant().await;
    let b2 = finished_run(store, "b", RunStatus::Succeeded).await;
    reap_until(store, &a5.id).await;
    let id = |run: &Run| run.id.clone();

    let of_a = filter(Some("a"), &[], 100);
    let all_of_a: Vec<_> = [&a6, &a5, &a4, &a3, &a2, &a1].map(id).into();
    assert_eq!(history_ids(store, &of_a).await, all_of_a, "job a");
    let failures_of_a = filter(Some("a"), &RunStatus::FAILURES, 100);
    let expected: Vec<_> = [&a5, &a3, &a2].map(id).into();
    assert_eq!(
        history_ids(store, &failures_of_a).await,
        expected,
        "--failed, job a"
    );
    let failures = filter(None, &RunStatus::FAILURES, 100);
    let expected: Vec<_> = [&b1, &a5, &a3, &a2].map(id).into();
    assert_eq!(history_ids(store, &failures).await, expected, "--failed");
    let successes = filter(None, &[RunStatus::Succeeded], 100);
    assert_eq!(
        history_ids(store, &successes).await,
        [&b2, &a1].map(id),
        "succeeded"
    );
    let lost = filter(None, &[RunStatus::Lost], 100);
    assert_eq!(history_ids(store, &lost).await, [&a5].map(id), "lost");

    let since_a3 = HistoryFilter {
        since: Some(a3.queued_at),
        ..of_a.clone()
    };
    let expected: Vec<_> = [&a6, &a5, &a4, &a3].map(id).into();
    assert_eq!(
        history_ids(store, &since_a3).await,
        expected,
        "since a3, inclusive"
    );
    let newest_two = filter(Some("a"), &[], 2);
    assert_eq!(
        history_ids(store, &newest_two).await,
        [&a6, &a5].map(id),
        "limit 2"
    );
    let everything = HistoryFilter {
        limit: 1,
        ..HistoryFilter {
            since: Some(a3.queued_at),
            ..failures_of_a
        }
    };
    assert_eq!(
        history_ids(store, &everything).await,
        [&a5].map(id),
        "all filters"
    );
    let none = filter(Some("nope"), &[], 100);
    assert!(history_ids(store, &none).await.is_empty(), "an unknown job");
}

pub async fn running_lists_running_runs_oldest_start_first(env: &Env) {
    let store = &*env.store;
    assert!(store.running().await.unwrap().is_empty());
    let queued_first = store.enqueue(new_run("j", "b")).await.unwrap();
    next_instant().await;
    let started_first = started(store, "j", "a", LONG).await;
    next_instant().await;
    let (started_second, _) = take(store, "b").await;
    assert_eq!(started_second.id, queued_first.id);
    next_instant().await;
    finished_run(store, "j", RunStatus::Succeeded).await;
    store.enqueue(new_run("j", "d")).await.unwrap();

    let running = store.running().await.unwrap();
    assert_eq!(
        ids(&running),
        vec![started_first.id, started_second.id],
        "by start"
    );
    assert!(running.iter().all(|run| run.status == RunStatus::Running));
}

pub async fn queued_lists_each_queue_with_positions(env: &Env) {
    let store = &*env.store;
    assert!(store.queued().await.unwrap().is_empty());
    let mut a = Vec::new();
    let mut b = Vec::new();
    for _ in 0..3 {
        a.push(store.enqueue(new_run("j", "a")).await.unwrap().id);
        b.push(store.enqueue(new_run("k", "b")).await.unwrap().id);
    }
    let (taken, _) = take(store, "a").await;
    assert_eq!(taken.id, a.remove(0));

    let queued = store.queued().await.unwrap();
    assert_eq!(queued.len(), 5, "{queued:?}");
    assert!(queued.iter().all(|q| q.run.status == RunStatus::Queued));
    for (queue, expected) in [("a", a), ("b", b)] {
        let of_queue: Vec<_> = queued.iter().filter(|q| q.run.queue == queue).collect();
        let got: Vec<_> = of_queue
            .iter()
            .map(|q| (q.run.id.clone(), q.position))
            .collect();
        let want: Vec<_> = expected.into_iter().zip(1..).collect();
        assert_eq!(
            got, want,
            "queue {queue}, in reserve order with positions from 1"
        );
    }
}

/// "Each queue in the order reserve takes them": a run that is not due yet comes after
/// the ready runs that reserve will take before it, though it was queued first.
pub async fn queued_puts_runs_not_yet_due_after_ready_ones(env: &Env) {
    let store = &*env.store;
    let later = NewRun {
        not_before: Some(now_ms() + chrono::TimeDelta::seconds(60)),
        ..new_run("j", "a")
    };
    let later = store.enqueue(later).await.unwrap();
    let ready = store.enqueue(new_run("j", "a")).await.unwrap();
    let queued = store.queued().await.unwrap();
    let got: Vec<_> = queued
        .iter()
        .map(|q| (q.run.id.clone(), q.position))
        .collect();
    assert_eq!(got, vec![(ready.id.clone(), 1), (later.id.clone(), 2)]);
    assert_eq!(
        take(store, "a").await.0.id,
        ready.id,
        "the order reserve takes them"
    );
}

pub async fn durations_are_successes_newest_first(env: &Env) {
    let store = &*env.store;
    let mut runs = Vec::new();
    for (status, ms) in [
        (RunStatus::Succeeded, 30),
        (RunStatus::Failed, 10),
        (RunStatus::Succeeded, 80),
        (RunStatus::Succeeded, 15),
    ] {
        store.enqueue(new_run("j", "a")).await.unwrap();
        let (_, lease) = take(store, "a").await;
        // The sleep is the run's work: it gives each run a duration of its own.
        tokio::time::sleep(Duration::from_millis(ms)).await;
        runs.push(finish_as(store, &lease, status).await.run);
    }
    finished_run(store, "k", RunStatus::Succeeded).await;
    let took = |n: usize| runs[n].duration_s(Utc::now()).expect("a finished run");
    assert!(took(2) >= 0.075, "the third run took {}", took(2));

    assert_durations(&store.durations("j", 2).await.unwrap(), &[took(3), took(2)]);
    let all = store.durations("j", 10).await.unwrap();
    assert_durations(&all, &[took(3), took(2), took(0)]);
    assert_eq!(store.durations("k", 10).await.unwrap().len(), 1);
    assert!(store.durations("nope", 10).await.unwrap().is_empty());
}

pub async fn queue_lengths_count_queued_runs(env: &Env) {
    let store = &*env.store;
    assert!(
        store.queue_lengths().await.unwrap().is_empty(),
        "no queue yet"
    );
    for queue in ["a", "b", "a", "a"] {
        store.enqueue(new_run("j", queue)).await.unwrap();
    }
    let mut got = store.queue_lengths().await.unwrap();
    got.sort();
    assert_eq!(got, vec![("a".into(), 3), ("b".into(), 1)]);
    take(store, "a").await;
    take(store, "b").await;
    let got = store.queue_lengths().await.unwrap();
    assert_eq!(
        got,
        vec![("a".into(), 2)],
        "a queue left empty is not listed"
    );
}

pub async fn runs_are_found_by_the_start_of_their_id(env: &Env) {
    let store = &*env.store;
    // One finished (before the queued ones, which it would take), five queued.
    let mut made = vec![finished_run(store, "p", RunStatus::Succeeded).await.id];
    for _ in 0..5 {
        made.push(store.enqueue(new_run("p", "q")).await.unwrap().id);
    }
    made.sort();
    for id in &made {
        // The whole id, and a prefix as short as the one people type.
        assert_eq!(
            store.run_ids_with_prefix(id, 10).await.unwrap(),
            std::slice::from_ref(id)
        );
        let found = store.run_ids_with_prefix(&id[..6], 100).await.unwrap();
        assert!(found.contains(id), "{id}: {found:?}");
        assert!(found.iter().all(|f| f.starts_with(&id[..6])), "{found:?}");
    }
    // Made within a second: they share the start of their time.
    let (first, last) = (&made[0], &made[made.len() - 1]);
    let common = first
        .chars()
        .zip(last.chars())
        .take_while(|(a, b)| a == b)
        .count();
    assert!(common >= 6, "{made:?}");
    let shared = &first[..common];
    let found = store.run_ids_with_prefix(shared, 100).await.unwrap();
    assert_eq!(found, made, "in id order");
    // At most `limit`, the first ones in id order.
    assert_eq!(
        store.run_ids_with_prefix(shared, 2).await.unwrap(),
        made[..2]
    );
    // Upper case ids: a prefix in lower case or of another time is none of them.
    let lower = made[0][..8].to_lowercase();
    assert!(
        store
            .run_ids_with_prefix(&lower, 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        store
            .run_ids_with_prefix("7ZZZZZZZ", 10)
            .await
            .unwrap()
            .is_empty()
    );
    // Not a pattern: characters Redis or SQL would read specially match themselves.
    for odd in ["*", "%", "[", "(", "-", "+"] {
        assert!(
            store.run_ids_with_prefix(odd, 10).await.unwrap().is_empty(),
            "{odd}"
        );
    }
}

pub async fn a_pruned_run_is_no_longer_found_by_its_prefix(env: &Env) {
    let store = &*env.store;
    let old = finished_run(store, "p", RunStatus::Succeeded).await;
    next_instant().await;
    let kept = finished_run(store, "p", RunStatus::Succeeded).await;
    let keep = cronq::store::Retention {
        succeeded: 1,
        failed: 1,
        max_age: Duration::from_secs(86_400),
    };
    assert_eq!(store.prune(&[("p", keep)]).await.unwrap(), 1);
    assert!(
        store
            .run_ids_with_prefix(&old.id, 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        store.run_ids_with_prefix(&kept.id, 10).await.unwrap(),
        std::slice::from_ref(&kept.id)
    );
}

pub async fn last_runs_are_each_jobs_newest_run_that_ran_and_success(env: &Env) {
    let store = &*env.store;
    let ended = |run: &Run| run.finished_at.expect("finished");
    let a_ok = finished_run(store, "a", RunStatus::Succeeded).await;
    next_instant().await;
    let a_failed = finished_run(store, "a", RunStatus::Failed).await;
    next_instant().await;
    let b_failed = finished_run(store, "b", RunStatus::Failed).await;
    next_instant().await;
    let b_ok = finished_run(store, "b", RunStatus::Succeeded).await;
    // c: a timeout, then more skipped instants than a quick look takes in: skips never
    // ran, so its last run is still the timeout.
    let c_timed_out = finished_run(store, "c", RunStatus::TimedOut).await;
    for i in 0..12 {
        next_instant().await;
        let at = Utc::now() - chrono::TimeDelta::seconds(100 - i);
        let skipped = store
            .fire(new_run("c", "q"), at, Some("paused".into()))
            .await
            .unwrap()
            .expect("recorded");
        assert_eq!(skipped.status, RunStatus::Skipped);
    }
    // d: a run cancelled while queued; e: a lost run.
    let d = store.enqueue(new_run("d", "q-d")).await.unwrap();
    store.cancel(&d.id).await.unwrap();
    let d = store.run(&d.id).await.unwrap();
    let e = started(store, "e", "q-e", SHORT).await;
    reap_until(store, &e.id).await;
    let e = store.run(&e.id).await.unwrap();
    // f: only queued and running; g: never ran; h: ran, but is not asked about.
    store.enqueue(new_run("f", "q-f")).await.unwrap();
    finished_run(store, "h", RunStatus::Succeeded).await;

    let last = store
        .last_runs(&["a", "b", "c", "d", "e", "f", "g"])
        .await
        .expect("last runs");
    let of = |job: &str| last.get(job).cloned().unwrap_or_default();
    assert_eq!(of("a").run, Some((RunStatus::Failed, ended(&a_failed))));
    assert_eq!(of("a").success, Some(ended(&a_ok)));
    assert_eq!(of("b").run, Some((RunStatus::Succeeded, ended(&b_ok))));
    assert_eq!(of("b").success, Some(ended(&b_ok)));
    assert!(ended(&b_failed) <= ended(&b_ok));
    assert_eq!(
        of("c").run,
        Some((RunStatus::TimedOut, ended(&c_timed_out)))
    );
    assert_eq!(of("c").success, None);
    assert_eq!(of("d").run, Some((RunStatus::Cancelled, ended(&d))));
    assert_eq!(of("e").run, Some((RunStatus::Lost, ended(&e))));
    for job in ["f", "g", "h"] {
        assert!(!last.contains_key(job), "{job}: {last:?}");
    }
    // Only jobs with nothing finished, and none at all.
    let none = store.last_runs(&["f", "g"]).await.expect("last runs");
    assert!(none.is_empty(), "{none:?}");
    assert!(store.last_runs(&[]).await.expect("last runs").is_empty());
}
