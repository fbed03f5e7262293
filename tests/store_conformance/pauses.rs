//! Pauses: kept per job and for every job, listed while in force, ended by resume or by
//! their `until`; a version that changes with each; and the passing of a paused job's
//! instants, recorded up to a bound per pause, however many daemons pass them at once.

use std::sync::Arc;

use chrono::{DateTime, TimeDelta, Utc};
use cronq::store::{HistoryFilter, NewRun, Pause, PauseScope, Paused, RunStatus, Store, Trigger};
use tokio::sync::Barrier;
use tokio::task::JoinSet;

use crate::fixture::*;

fn instant(second: i64) -> DateTime<Utc> {
    let base = DateTime::parse_from_rfc3339("2026-03-08T07:00:00Z").unwrap();
    base.with_timezone(&Utc) + TimeDelta::seconds(second)
}

fn pause(reason: Option<&str>, until: Option<DateTime<Utc>>) -> Pause {
    Pause {
        reason: reason.map(str::to_string),
        by: "cli:ops".into(),
        since: now_ms(),
        until,
    }
}

fn job(name: &str) -> PauseScope {
    PauseScope::Job(name.into())
}

fn scheduled(job: &str, at: DateTime<Utc>) -> NewRun {
    NewRun {
        trigger: Trigger::Schedule,
        scheduled_for: Some(at),
        ..new_run(job, "a")
    }
}

async fn runs_of(store: &dyn Store, job: &str) -> Vec<cronq::store::Run> {
    let filter = HistoryFilter {
        job: Some(job.into()),
        ..HistoryFilter::default()
    };
    store.history(&filter).await.unwrap()
}

pub async fn a_pause_is_kept_listed_and_ended_by_resume(env: &Env) {
    let store = &*env.store;
    assert!(
        store.pauses().await.unwrap().is_empty(),
        "nothing paused yet"
    );
    let in_an_hour = now_ms() + TimeDelta::hours(1);
    let own = pause(Some("db migration"), Some(in_an_hour));
    let all = pause(None, None);
    store.pause(&job("backup"), &own).await.unwrap();
    store.pause(&PauseScope::All, &all).await.unwrap();
    store.pause(&job("alpha"), &own).await.unwrap();
    // Read through another handle, as `status` in another process would.
    let other = env.handle().await;
    let listed = other.pauses().await.unwrap();
    let expected = vec![
        Paused {
            scope: PauseScope::All,
            pause: all.clone(),
        },
        Paused {
            scope: job("alpha"),
            pause: own.clone(),
        },
        Paused {
            scope: job("backup"),
            pause: own.clone(),
        },
    ];
    assert_eq!(listed, expected, "every job's pause first, then by job");

    let ended = other.resume(&job("backup")).await.unwrap();
    assert_eq!(ended, Some(own.clone()), "resume says which pause it ended");
    assert_eq!(other.resume(&job("backup")).await.unwrap(), None, "again");
    assert_eq!(store.resume(&PauseScope::All).await.unwrap(), Some(all));
    assert_eq!(
        store.pauses().await.unwrap(),
        vec![Paused {
            scope: job("alpha"),
            pause: own
        }],
        "the other job's pause stays"
    );
}

pub async fn a_second_pause_replaces_the_first(env: &Env) {
    let store = &*env.store;
    store
        .pause(&job("j"), &pause(Some("first"), None))
        .await
        .unwrap();
    let second = pause(Some("second"), Some(now_ms() + TimeDelta::minutes(5)));
    store.pause(&job("j"), &second).await.unwrap();
    let listed = store.pauses().await.unwrap();
    assert_eq!(
        listed,
        vec![Paused {
            scope: job("j"),
            pause: second
        }]
    );
}

pub async fn a_pause_whose_until_passed_is_over(env: &Env) {
    let store = &*env.store;
    let ended = pause(Some("short"), Some(now_ms() + TimeDelta::milliseconds(300)));
    store.pause(&job("j"), &ended).await.unwrap();
    assert_eq!(store.pauses().await.unwrap().len(), 1, "in force at first");
    eventually("the pause to end by itself", || async {
        store.pauses().await.unwrap().is_empty()
    })
    .await;
    assert_eq!(
        store.resume(&job("j")).await.unwrap(),
        None,
        "resuming a pause that ended by itself ends nothing"
    );
}

pub async fn the_pause_version_changes_with_every_pause_and_resume(env: &Env) {
    let store = &*env.store;
    let other = env.handle().await;
    assert_eq!(store.pause_version().await.unwrap(), None, "never paused");
    store.pause(&job("j"), &pause(None, None)).await.unwrap();
    let first = other.pause_version().await.unwrap();
    assert!(first.is_some(), "a pause sets a version");
    assert_eq!(other.pause_version().await.unwrap(), first, "stable");
    store
        .pause(&job("j"), &pause(Some("again"), None))
        .await
        .unwrap();
    let second = other.pause_version().await.unwrap();
    assert_ne!(second, first, "a pause replaced");
    store.resume(&job("j")).await.unwrap();
    let third = other.pause_version().await.unwrap();
    assert!(third != second && third != first, "a resume: {third:?}");
    store.resume(&job("j")).await.unwrap();
    assert_eq!(
        other.pause_version().await.unwrap(),
        third,
        "a resume of nothing paused changes nothing"
    );
}

pub async fn a_paused_instant_is_recorded_skipped_up_to_the_limit(env: &Env) {
    let store = &*env.store;
    store
        .pause(&job("j"), &pause(Some("maintenance"), None))
        .await
        .unwrap();
    let reason = "paused: maintenance (by cli:ops)".to_string();
    let mut recorded = Vec::new();
    for second in 0..5 {
        let at = instant(second);
        let passed = store
            .pass_paused(scheduled("j", at), at, &job("j"), reason.clone(), 3)
            .await
            .unwrap();
        recorded.extend(passed);
        assert_eq!(
            store.last_fired("j").await.unwrap(),
            Some(at),
            "each passed instant moves the marker, recorded or not"
        );
    }
    assert_eq!(recorded.len(), 3, "the first three only: {recorded:?}");
    for (second, run) in recorded.iter().enumerate() {
        assert_eq!(run.status, RunStatus::Skipped);
        assert_eq!(run.reason.as_deref(), Some(reason.as_str()));
        assert_eq!(run.scheduled_for, Some(instant(second as i64)));
        assert_eq!(&store.run(&run.id).await.unwrap(), run, "as stored");
    }
    assert_eq!(
        runs_of(store, "j").await.len(),
        3,
        "the history holds three"
    );
    assert!(store.queued().await.unwrap().is_empty(), "nothing queued");
    let again = store.fire(scheduled("j", instant(0)), instant(0), None);
    assert_eq!(again.await.unwrap(), None, "a recorded instant is claimed");

    // A new pause starts its count over.
    store
        .pause(&job("j"), &pause(Some("again"), None))
        .await
        .unwrap();
    let at = instant(10);
    let passed = store
        .pass_paused(scheduled("j", at), at, &job("j"), "paused: again".into(), 3)
        .await
        .unwrap();
    assert!(passed.is_some(), "recorded under the new pause");
}

pub async fn a_paused_instant_already_fired_is_not_recorded_again(env: &Env) {
    let store = &*env.store;
    store
        .pause(&PauseScope::All, &pause(None, None))
        .await
        .unwrap();
    let at = instant(0);
    assert!(
        store
            .fire(scheduled("j", at), at, None)
            .await
            .unwrap()
            .is_some()
    );
    let passed = store
        .pass_paused(
            scheduled("j", at),
            at,
            &PauseScope::All,
            "paused".into(),
            100,
        )
        .await
        .unwrap();
    assert_eq!(passed, None, "another daemon fired it before the pause");
    assert_eq!(runs_of(store, "j").await.len(), 1);
    // An instant earlier than the marker is recorded, and leaves the marker be.
    let later = instant(30);
    store
        .pass_paused(
            scheduled("j", later),
            later,
            &PauseScope::All,
            "paused".into(),
            100,
        )
        .await
        .unwrap();
    let earlier = instant(20);
    let passed = store
        .pass_paused(
            scheduled("j", earlier),
            earlier,
            &PauseScope::All,
            "paused".into(),
            100,
        )
        .await
        .unwrap();
    assert!(passed.is_some());
    assert_eq!(store.last_fired("j").await.unwrap(), Some(later));
}

pub async fn a_paused_instant_whose_pause_is_gone_is_still_recorded(env: &Env) {
    let store = &*env.store;
    // The daemon read the pause; it was resumed before the instant was passed.
    let at = instant(0);
    let passed = store
        .pass_paused(scheduled("j", at), at, &job("j"), "paused".into(), 0)
        .await
        .unwrap();
    let run = passed.expect("recorded, so that no instant passes without a trace");
    assert_eq!(run.status, RunStatus::Skipped);
    assert_eq!(store.last_fired("j").await.unwrap(), Some(at));
}

/// 8 daemons, each on its own handle, pass 20 instants of a job at once under a limit
/// of 5: exactly 5 are recorded, and the marker ends at the last.
pub async fn eight_daemons_passing_at_once_record_no_more_than_the_limit(env: &Env) {
    env.store
        .pause(&job("j"), &pause(None, None))
        .await
        .unwrap();
    let mut daemons = Vec::new();
    for _ in 0..8 {
        daemons.push(env.handle().await);
    }
    let start = Arc::new(Barrier::new(daemons.len()));
    let mut passes = JoinSet::new();
    for (index, daemon) in daemons.iter().enumerate() {
        let (daemon, start) = (Arc::clone(daemon), Arc::clone(&start));
        passes.spawn(async move {
            start.wait().await;
            let mut recorded = 0;
            // Each instant by two daemons, as two daemons that both see the pause.
            for second in (0..20).filter(|s| s % 4 == index as i64 % 4) {
                let at = instant(second);
                let passed = daemon
                    .pass_paused(scheduled("j", at), at, &job("j"), "paused".into(), 5)
                    .await
                    .expect("pass_paused");
                recorded += usize::from(passed.is_some());
            }
            recorded
        });
    }
    let mut recorded = 0;
    while let Some(count) = passes.join_next().await {
        recorded += count.unwrap();
    }
    assert_eq!(recorded, 5, "records made by all daemons together");
    let runs = runs_of(&*env.store, "j").await;
    assert_eq!(runs.len(), 5, "{runs:?}");
    let mut instants: Vec<_> = runs.iter().map(|r| r.scheduled_for).collect();
    instants.dedup();
    assert_eq!(instants.len(), 5, "no instant recorded twice: {instants:?}");
    assert_eq!(env.store.last_fired("j").await.unwrap(), Some(instant(19)));
}
