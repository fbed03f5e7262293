//! Retention: prune keeps a job's newest successes and newest other finished runs, drops
//! what is older than the maximum age, and never touches unfinished runs or other jobs.

use std::collections::BTreeSet;
use std::time::Duration;

use chrono::TimeDelta;
use cronq::store::{HistoryFilter, NewRun, Retention, RunStatus, Store, StoreError, Trigger};

use crate::fixture::*;

async fn ids_of(store: &dyn Store, job: &str) -> BTreeSet<String> {
    let filter = HistoryFilter {
        job: Some(job.into()),
        limit: 1000,
        ..HistoryFilter::default()
    };
    store
        .history(&filter)
        .await
        .unwrap()
        .into_iter()
        .map(|run| run.id)
        .collect()
}

#[track_caller]
fn assert_pruned<T: std::fmt::Debug>(got: Result<T, StoreError>, id: &str) {
    assert!(
        matches!(&got, Err(StoreError::NotFound(named)) if named == id),
        "run {id} should be pruned: {got:?}"
    );
}

pub async fn prune_keeps_the_newest_of_each_kind(env: &Env) {
    let store = &*env.store;
    let mut made = Vec::new();
    for status in [RunStatus::Succeeded, RunStatus::Failed] {
        made.push(finished_run(store, "j", status).await.id);
        next_instant().await;
    }
    let at = now_ms() - TimeDelta::minutes(1);
    let scheduled = NewRun {
        trigger: Trigger::Schedule,
        scheduled_for: Some(at),
        ..new_run("j", "a")
    };
    let skip = Some("overlap".to_string());
    made.push(store.fire(scheduled, at, skip).await.unwrap().unwrap().id);
    next_instant().await;
    for status in [
        RunStatus::Succeeded,
        RunStatus::TimedOut,
        RunStatus::Succeeded,
        RunStatus::Succeeded,
        RunStatus::Cancelled,
    ] {
        made.push(finished_run(store, "j", status).await.id);
        next_instant().await;
    }
    // made: s1 f1 skipped s2 t1 s3 s4 c1, oldest first.
    store.enqueue(new_run("j", "running")).await.unwrap();
    let running = take(store, "running").await.0.id;
    let queued = store.enqueue(new_run("j", "later")).await.unwrap().id;
    for _ in 0..3 {
        finished_run(store, "k", RunStatus::Succeeded).await;
    }

    let keep = Retention {
        succeeded: 2,
        failed: 1,
        max_age: Duration::from_secs(3600),
    };
    assert_eq!(store.prune(&[("j", keep)]).await.expect("prune"), 5);
    let kept: BTreeSet<_> = [&made[5], &made[6], &made[7], &running, &queued]
        .into_iter()
        .cloned()
        .collect();
    assert_eq!(
        ids_of(store, "j").await,
        kept,
        "s3 s4 c1, the running and the queued run"
    );
    for gone in &made[..5] {
        assert_pruned(store.run(gone).await, gone);
        assert_pruned(store.output(gone, 0).await, gone);
    }
    assert_eq!(
        ids_of(store, "k").await.len(),
        3,
        "another job is untouched"
    );
    assert_eq!(
        store.prune(&[("j", keep)]).await.unwrap(),
        0,
        "nothing more to prune"
    );
}

pub async fn prune_deletes_runs_older_than_max_age(env: &Env) {
    let store = &*env.store;
    let old_success = finished_run(store, "j", RunStatus::Succeeded).await.id;
    let old_failure = finished_run(store, "j", RunStatus::Failed).await.id;
    store.enqueue(new_run("j", "running")).await.unwrap();
    let running = take(store, "running").await.0.id;
    let queued = store.enqueue(new_run("j", "later")).await.unwrap().id;
    let old_other = finished_run(store, "k", RunStatus::Succeeded).await.id;

    let max_age = Duration::from_millis(200);
    wait_past(now_ms() + TimeDelta::from_std(max_age).unwrap()).await;
    let recent = finished_run(store, "j", RunStatus::Succeeded).await.id;

    let keep = Retention {
        succeeded: 10,
        failed: 10,
        max_age,
    };
    assert_eq!(store.prune(&[("j", keep)]).await.expect("prune"), 2);
    let kept: BTreeSet<_> = [recent, running, queued].into_iter().collect();
    assert_eq!(
        ids_of(store, "j").await,
        kept,
        "the recent, running and queued runs"
    );
    assert_pruned(store.run(&old_success).await, &old_success);
    assert_pruned(store.run(&old_failure).await, &old_failure);
    assert!(
        store.run(&old_other).await.is_ok(),
        "another job is untouched"
    );
}

pub async fn one_prune_serves_many_jobs_past_a_script_batch(env: &Env) {
    let store = &*env.store;
    // 3 jobs of 70 successes: 210 runs, more than one Redis script call deletes.
    for job in ["a", "b", "c"] {
        for _ in 0..70 {
            finished_run(store, job, RunStatus::Succeeded).await;
        }
    }
    let keep = |succeeded| Retention {
        succeeded,
        failed: 10,
        max_age: Duration::from_secs(3600),
    };
    let jobs = [
        ("a", keep(5)),
        ("b", keep(70)),
        ("c", keep(0)),
        ("none", keep(0)),
    ];
    assert_eq!(store.prune(&jobs).await.expect("prune"), 65 + 70);
    let counts = [
        ids_of(store, "a").await.len(),
        ids_of(store, "b").await.len(),
        ids_of(store, "c").await.len(),
    ];
    assert_eq!(counts, [5, 70, 0], "each job kept to its own retention");
    assert_eq!(
        store.prune(&jobs).await.unwrap(),
        0,
        "nothing more to prune"
    );
}
