//! Job health: one `failing` when a healthy job's run fails, reminders once `remind`
//! has passed, one `recovered` at the first success after; kept per job, seen through
//! every handle, and each change claimed by one caller however many record at once.

use std::sync::Arc;
use std::time::Duration;

use cronq::store::HealthChange;
use tokio::sync::Barrier;
use tokio::task::JoinSet;

use crate::fixture::*;

pub async fn a_failing_job_is_told_once_and_its_recovery_once(env: &Env) {
    let store = &*env.store;
    let other = env.handle().await;
    assert_eq!(
        store
            .record_health("j", Some("r1"), false, None)
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        store
            .record_health("j", Some("r2"), true, None)
            .await
            .unwrap(),
        Some(HealthChange::Failing)
    );
    // Another process sees the job failing already.
    assert_eq!(
        other
            .record_health("j", Some("r3"), true, None)
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        other
            .record_health("j", Some("r4"), false, None)
            .await
            .unwrap(),
        Some(HealthChange::Recovered)
    );
    assert_eq!(
        store
            .record_health("j", Some("r5"), false, None)
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        store
            .record_health("j", Some("r6"), true, None)
            .await
            .unwrap(),
        Some(HealthChange::Failing),
        "a job that broke again is failing again"
    );
}

pub async fn each_job_has_a_health_of_its_own(env: &Env) {
    let store = &*env.store;
    assert_eq!(
        store
            .record_health("a", Some("r1"), true, None)
            .await
            .unwrap(),
        Some(HealthChange::Failing)
    );
    assert_eq!(
        store
            .record_health("b", Some("r2"), true, None)
            .await
            .unwrap(),
        Some(HealthChange::Failing)
    );
    assert_eq!(
        store
            .record_health("b", Some("r3"), false, None)
            .await
            .unwrap(),
        Some(HealthChange::Recovered)
    );
    assert_eq!(
        store
            .record_health("a", Some("r4"), true, None)
            .await
            .unwrap(),
        None
    );
}

pub async fn a_run_recorded_twice_is_counted_once(env: &Env) {
    let store = &*env.store;
    assert_eq!(
        store
            .record_health("j", Some("r1"), true, None)
            .await
            .unwrap(),
        Some(HealthChange::Failing)
    );
    assert_eq!(
        store
            .record_health("j", Some("r1"), true, None)
            .await
            .unwrap(),
        None
    );
    // The same run cannot be a success as well: the second record changes nothing.
    assert_eq!(
        store
            .record_health("j", Some("r1"), false, None)
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        store
            .record_health("j", Some("r2"), false, None)
            .await
            .unwrap(),
        Some(HealthChange::Recovered)
    );
}

pub async fn a_reminder_comes_once_remind_has_passed(env: &Env) {
    let store = &*env.store;
    let remind = Some(SHORT);
    assert_eq!(
        store
            .record_health("j", Some("r1"), true, remind)
            .await
            .unwrap(),
        Some(HealthChange::Failing)
    );
    assert_eq!(
        store
            .record_health("j", Some("r2"), true, remind)
            .await
            .unwrap(),
        None,
        "too soon for a reminder"
    );
    tokio::time::sleep(SHORT + Duration::from_millis(50)).await;
    assert_eq!(
        store
            .record_health("j", Some("r3"), true, remind)
            .await
            .unwrap(),
        Some(HealthChange::Reminder)
    );
    assert_eq!(
        store
            .record_health("j", Some("r4"), true, remind)
            .await
            .unwrap(),
        None,
        "the reminder restarts the wait"
    );
}

/// Eight processes record the ends of different runs of one job at once, each failed
/// run beside a success: every change is claimed by exactly one of them.
pub async fn of_concurrent_recorders_each_change_goes_to_one(env: &Env) {
    let mut handles = Vec::new();
    for _ in 0..8 {
        handles.push(env.handle().await);
    }
    for round in 0..10 {
        let start = Arc::new(Barrier::new(handles.len()));
        let mut records = JoinSet::new();
        for (index, handle) in handles.iter().enumerate() {
            let (handle, start) = (Arc::clone(handle), Arc::clone(&start));
            // Each round all fail: one of them makes the job failing.
            let run = format!("fail-{round}-{index}");
            records.spawn(async move {
                start.wait().await;
                handle
                    .record_health("j", Some(&run), true, None)
                    .await
                    .unwrap()
            });
        }
        let failing = changes(records).await;
        assert_eq!(failing, vec![HealthChange::Failing], "round {round}");
        let start = Arc::new(Barrier::new(handles.len()));
        let mut records = JoinSet::new();
        for (index, handle) in handles.iter().enumerate() {
            let (handle, start) = (Arc::clone(handle), Arc::clone(&start));
            let run = format!("ok-{round}-{index}");
            records.spawn(async move {
                start.wait().await;
                handle
                    .record_health("j", Some(&run), false, None)
                    .await
                    .unwrap()
            });
        }
        let recovered = changes(records).await;
        assert_eq!(recovered, vec![HealthChange::Recovered], "round {round}");
    }
}

async fn changes(mut records: JoinSet<Option<HealthChange>>) -> Vec<HealthChange> {
    let mut changes = Vec::new();
    while let Some(change) = records.join_next().await {
        changes.extend(change.unwrap());
    }
    changes
}
