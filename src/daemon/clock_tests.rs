//! The firing side through a wall clock stepped back, on a real store: each wake-up is
//! given its `now`, so the step is exact and nothing sleeps.

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{DateTime, TimeDelta, Utc};

use super::Firing;
use crate::schedule::{Schedule, load};
use crate::store::sqlite::SqliteStore;
use crate::store::{HistoryFilter, RunStatus, Store};

fn at(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text)
        .unwrap()
        .with_timezone(&Utc)
}

fn schedule() -> Arc<Schedule> {
    let text = "jobs:\n  wild:\n    command: x\n    timezone: UTC\n    schedule: \"* * * * *\"\n    catch_up: none\n  fixed:\n    command: x\n    timezone: UTC\n    schedule: \"55 11 * * *\"\n    catch_up: none\n";
    Arc::new(load(text, "t.yaml", chrono_tz::Tz::UTC).unwrap())
}

/// How many runs the store holds of `job` per scheduled instant, and their statuses.
async fn fires(store: &dyn Store, job: &str) -> BTreeMap<DateTime<Utc>, Vec<RunStatus>> {
    let filter = HistoryFilter {
        job: Some(job.into()),
        ..HistoryFilter::default()
    };
    let mut by_instant = BTreeMap::<_, Vec<_>>::new();
    for run in store.history(&filter).await.unwrap() {
        by_instant
            .entry(run.scheduled_for.expect("a fire"))
            .or_default()
            .push(run.status);
    }
    by_instant
}

/// Wakes every daemon at each minute from `from` through `to`, 100 ms past it.
async fn minutes(daemons: &mut [Firing], from: &str, to: &str) {
    let (mut now, to) = (at(from), at(to));
    while now <= to {
        for daemon in daemons.iter_mut() {
            daemon.fire_due(now + TimeDelta::milliseconds(100)).await;
        }
        now += TimeDelta::minutes(1);
    }
}

#[tokio::test]
async fn a_wildcard_fires_through_a_step_back_once_more_per_instant_a_fixed_time_not() {
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn Store> =
        Arc::new(SqliteStore::open(&dir.path().join("clock.db"), 16).unwrap());
    let start = |at_| Firing::start_at(Arc::clone(&store), schedule(), at_);
    // Two daemons on one store; the clock runs 10 minutes fast up to 12:00.
    let mut daemons = vec![
        start(at("2026-01-01T11:54:30Z")).await.unwrap(),
        start(at("2026-01-01T11:54:30Z")).await.unwrap(),
    ];
    minutes(&mut daemons, "2026-01-01T11:55:00Z", "2026-01-01T12:00:00Z").await;
    // NTP steps it back to 11:50:30; the daemons go on by it.
    for daemon in daemons.iter_mut() {
        daemon.fire_due(at("2026-01-01T11:50:30Z")).await;
    }
    minutes(&mut daemons, "2026-01-01T11:51:00Z", "2026-01-01T11:56:00Z").await;
    // One daemon restarts halfway through the second pass.
    daemons[1] = start(at("2026-01-01T11:56:30Z")).await.unwrap();
    minutes(&mut daemons, "2026-01-01T11:57:00Z", "2026-01-01T12:03:00Z").await;

    let wild = fires(&*store, "wild").await;
    let minute = |m: i64| at("2026-01-01T11:00:00Z") + TimeDelta::minutes(m);
    let expected: BTreeMap<_, usize> = (51..=63)
        .map(|m| (minute(m), if (55..=60).contains(&m) { 2 } else { 1 }))
        .collect();
    let got: BTreeMap<_, usize> = wild.iter().map(|(at, runs)| (*at, runs.len())).collect();
    assert_eq!(
        got, expected,
        "11:55-12:00 twice (a pass each), the rest once"
    );
    assert!(
        wild.values().flatten().all(|s| *s == RunStatus::Queued),
        "nothing skipped: {wild:?}"
    );
    let fixed = fires(&*store, "fixed").await;
    assert_eq!(fixed.len(), 1, "a fixed-time job is not re-run: {fixed:?}");
    assert_eq!(fixed[&minute(55)].len(), 1);
    // The marker is the first pass's: a daemon starting now resumes after 12:03.
    let marker = store.last_fired("wild").await.unwrap();
    assert_eq!(marker, Some(minute(63)));
}

#[tokio::test]
async fn a_second_step_back_within_the_pass_fires_nothing_a_third_time() {
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn Store> =
        Arc::new(SqliteStore::open(&dir.path().join("clock.db"), 16).unwrap());
    let mut daemons = vec![
        Firing::start_at(Arc::clone(&store), schedule(), at("2026-01-01T11:57:30Z"))
            .await
            .unwrap(),
    ];
    minutes(&mut daemons, "2026-01-01T11:58:00Z", "2026-01-01T12:00:00Z").await;
    daemons[0].fire_due(at("2026-01-01T11:57:30Z")).await;
    minutes(&mut daemons, "2026-01-01T11:58:00Z", "2026-01-01T11:59:00Z").await;
    daemons[0].fire_due(at("2026-01-01T11:58:30Z")).await;
    minutes(&mut daemons, "2026-01-01T11:59:00Z", "2026-01-01T12:01:00Z").await;
    let got: Vec<(DateTime<Utc>, usize)> = fires(&*store, "wild")
        .await
        .into_iter()
        .map(|(at, runs)| (at, runs.len()))
        .collect();
    assert_eq!(
        got,
        [
            (at("2026-01-01T11:58:00Z"), 2),
            (at("2026-01-01T11:59:00Z"), 2),
            (at("2026-01-01T12:00:00Z"), 2),
            (at("2026-01-01T12:01:00Z"), 1),
        ],
        "each instant at most once per pass"
    );
}
