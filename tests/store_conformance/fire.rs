//! Fire: each (job, instant) is enqueued at most once, however many daemons fire it at
//! once, and the job's last-fired marker only moves forward.

use std::sync::Arc;

use chrono::{DateTime, TimeDelta, Utc};
use cronq::store::{HistoryFilter, NewRun, RunStatus, Trigger};
use tokio::sync::Barrier;
use tokio::task::JoinSet;

use crate::fixture::*;

fn instant(minute: i64) -> DateTime<Utc> {
    let base = DateTime::parse_from_rfc3339("2026-03-08T07:00:00Z").unwrap();
    base.with_timezone(&Utc) + TimeDelta::minutes(minute)
}

/// The run the daemon fires for `job` at `at`.
fn scheduled(job: &str, at: DateTime<Utc>) -> NewRun {
    NewRun {
        trigger: Trigger::Schedule,
        scheduled_for: Some(at),
        ..new_run(job, "a")
    }
}

fn of_job(job: &str) -> HistoryFilter {
    HistoryFilter {
        job: Some(job.into()),
        limit: 100,
        ..HistoryFilter::default()
    }
}

pub async fn fire_enqueues_once_per_job_and_instant(env: &Env) {
    let store = &*env.store;
    let at = instant(0);
    let fired = store
        .fire(scheduled("j", at), at, None)
        .await
        .expect("fire");
    let run = fired.expect("the first fire of an instant enqueues a run");
    assert_eq!(run.status, RunStatus::Queued);
    assert_eq!(run.trigger, Trigger::Schedule);
    assert_eq!(run.scheduled_for, Some(at));
    assert_eq!(run.attempt, 1);
    assert_eq!(store.run(&run.id).await.unwrap(), run, "the stored run");
    assert_eq!(store.queue_lengths().await.unwrap(), vec![("a".into(), 1)]);
    assert_eq!(store.last_fired("j").await.unwrap(), Some(at));

    let again = store.fire(scheduled("j", at), at, None).await.unwrap();
    assert_eq!(again, None, "a second fire of the same instant");
    assert_eq!(store.queue_lengths().await.unwrap(), vec![("a".into(), 1)]);

    // The claim outlives the run: once it has run, the instant is still taken.
    let (_, lease) = take(store, "a").await;
    finish_as(store, &lease, RunStatus::Succeeded).await;
    let later = store.fire(scheduled("j", at), at, None).await.unwrap();
    assert_eq!(later, None, "a fire of an instant whose run has finished");

    let next = store
        .fire(scheduled("j", instant(1)), instant(1), None)
        .await;
    assert!(next.unwrap().is_some(), "another instant of the same job");
    let other = store.fire(scheduled("k", at), at, None).await;
    assert!(other.unwrap().is_some(), "the same instant of another job");
    assert_eq!(store.history(&of_job("j")).await.unwrap().len(), 2);
    assert_eq!(store.last_fired("j").await.unwrap(), Some(instant(1)));
}

pub async fn last_fired_moves_only_forward(env: &Env) {
    let store = &*env.store;
    assert_eq!(store.last_fired("j").await.unwrap(), None, "never fired");
    let fire = |at: DateTime<Utc>| store.fire(scheduled("j", at), at, None);

    assert!(fire(instant(10)).await.unwrap().is_some());
    assert_eq!(store.last_fired("j").await.unwrap(), Some(instant(10)));
    let earlier = fire(instant(5)).await.unwrap();
    assert!(
        earlier.is_some(),
        "an earlier, unclaimed instant still fires"
    );
    assert_eq!(
        store.last_fired("j").await.unwrap(),
        Some(instant(10)),
        "firing an earlier instant does not move the marker back"
    );
    assert!(fire(instant(20)).await.unwrap().is_some());
    assert_eq!(store.last_fired("j").await.unwrap(), Some(instant(20)));
    assert_eq!(store.last_fired("k").await.unwrap(), None, "another job");
}

pub async fn last_fires_lists_every_job_at_its_latest(env: &Env) {
    let store = &*env.store;
    assert!(
        store.last_fires().await.unwrap().is_empty(),
        "nothing fired yet"
    );
    for (job, at) in [("a", 10), ("b", 5), ("a", 20), ("a", 15)] {
        store
            .fire(scheduled(job, instant(at)), instant(at), None)
            .await
            .unwrap();
    }
    let fires = store.last_fires().await.unwrap();
    assert_eq!(fires.len(), 2);
    assert_eq!(fires["a"], instant(20));
    assert_eq!(fires["b"], instant(5));
}

pub async fn fire_with_skip_records_a_skipped_run_and_claims_the_instant(env: &Env) {
    let store = &*env.store;
    let at = instant(0);
    let why = "the run of 06:59 is still running".to_string();
    let skipped = store
        .fire(scheduled("j", at), at, Some(why.clone()))
        .await
        .unwrap()
        .expect("the first fire of an instant records a run");
    assert_eq!(skipped.status, RunStatus::Skipped);
    assert_eq!(skipped.reason.as_deref(), Some(why.as_str()));
    assert_eq!(skipped.scheduled_for, Some(at));
    assert_eq!(
        store.run(&skipped.id).await.unwrap(),
        skipped,
        "the stored run"
    );
    assert!(
        store.queued().await.unwrap().is_empty(),
        "a skipped run is not queued"
    );
    assert!(store.queue_lengths().await.unwrap().is_empty());
    assert_eq!(reserve_now(store, &["a"]).await, None);
    assert_eq!(store.last_fired("j").await.unwrap(), Some(at));

    let again = store.fire(scheduled("j", at), at, None).await.unwrap();
    assert_eq!(again, None, "the skipped instant is claimed");
    let history = store.history(&of_job("j")).await.unwrap();
    assert_eq!(history, vec![skipped], "the history shows the skipped run");
}

/// 8 daemons, each on its own handle (its own SQLite connection, its own Redis
/// connections), fire the same instant at once, for 5 instants: one run per instant.
pub async fn eight_concurrent_fires_of_one_instant_enqueue_one_run(env: &Env) {
    let mut daemons = Vec::new();
    for _ in 0..8 {
        daemons.push(env.handle().await);
    }
    for minute in 0..5 {
        let at = instant(minute);
        let start = Arc::new(Barrier::new(daemons.len()));
        let mut fires = JoinSet::new();
        for daemon in &daemons {
            let (daemon, start) = (Arc::clone(daemon), Arc::clone(&start));
            fires.spawn(async move {
                start.wait().await;
                daemon
                    .fire(scheduled("j", at), at, None)
                    .await
                    .expect("fire")
            });
        }
        let mut runs = Vec::new();
        while let Some(fired) = fires.join_next().await {
            runs.extend(fired.unwrap());
        }
        assert_eq!(runs.len(), 1, "runs enqueued for instant {at}: {runs:?}");
    }
    let store = &*env.store;
    assert_eq!(store.queue_lengths().await.unwrap(), vec![("a".into(), 5)]);
    assert_eq!(store.history(&of_job("j")).await.unwrap().len(), 5);
    assert_eq!(store.last_fired("j").await.unwrap(), Some(instant(4)));
}

pub async fn a_second_pass_fires_each_instant_once_more_and_leaves_the_marker(env: &Env) {
    let store = &*env.store;
    // Fired through 07:05 on a clock that ran fast; the clock then went back.
    for minute in 0..=5 {
        let at = instant(minute);
        assert!(
            store
                .fire(scheduled("j", at), at, None)
                .await
                .unwrap()
                .is_some()
        );
    }
    let pass = instant(5);
    let at = instant(2);
    let again = store
        .fire_again(scheduled("j", at), at, pass, None)
        .await
        .unwrap()
        .expect("an instant the clock shows again fires in the second pass");
    assert_eq!(again.status, RunStatus::Queued);
    assert_eq!(again.scheduled_for, Some(at));
    let twice = store.fire_again(scheduled("j", at), at, pass, None).await;
    assert_eq!(twice.unwrap(), None, "the same pass of the same instant");
    assert_eq!(
        store.fire(scheduled("j", at), at, None).await.unwrap(),
        None,
        "the first pass is still claimed"
    );
    let skipped = store
        .fire_again(
            scheduled("j", instant(3)),
            instant(3),
            pass,
            Some("why".into()),
        )
        .await
        .unwrap()
        .expect("a second pass may be recorded skipped");
    assert_eq!(skipped.status, RunStatus::Skipped);
    // Another pass (a later step back, behind a later last fire) is its own claim,
    // and another job's second pass is its own too.
    let later = store
        .fire_again(scheduled("j", at), at, instant(9), None)
        .await;
    assert!(later.unwrap().is_some());
    let other = store.fire_again(scheduled("k", at), at, pass, None).await;
    assert!(other.unwrap().is_some());
    assert_eq!(
        store.last_fired("j").await.unwrap(),
        Some(pass),
        "the marker stays"
    );
    assert_eq!(store.history(&of_job("j")).await.unwrap().len(), 9);
}

pub async fn claims_name_the_run_each_fired_instant_became(env: &Env) {
    let store = &*env.store;
    assert_eq!(
        store.claims("j", &[]).await.unwrap(),
        Vec::<Option<String>>::new()
    );
    let fired = store
        .fire(scheduled("j", instant(1)), instant(1), None)
        .await
        .unwrap();
    let skipped = store
        .fire(
            scheduled("j", instant(3)),
            instant(3),
            Some("paused".into()),
        )
        .await
        .unwrap();
    // Another job's claim on the same instant is its own.
    store
        .fire(scheduled("k", instant(2)), instant(2), None)
        .await
        .unwrap();
    let asked = [instant(0), instant(1), instant(2), instant(3)];
    assert_eq!(
        store.claims("j", &asked).await.unwrap(),
        [
            None,
            Some(fired.unwrap().id),
            None,
            Some(skipped.unwrap().id)
        ],
        "in the order asked; a skipped instant is claimed too"
    );
    assert!(store.claims_kept(std::time::Duration::from_secs(3600)) > std::time::Duration::ZERO);
}
