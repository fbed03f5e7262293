//! The outbox: a notice recorded once per key, claimed by one sender at a time under a
//! lease, taken over once the lease expired (the first sender can then no longer move
//! it), the targets that took it kept across claims, never claimed again once sent;
//! health changes written into it in the same step; and each target's last failure.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use cronq::store::{HealthChange, NewNotice};
use tokio::sync::Barrier;
use tokio::task::JoinSet;

use crate::fixture::*;

fn notice(key: &str) -> NewNotice {
    NewNotice {
        key: key.into(),
        job: "j".into(),
        event: "stalled".into(),
        reminder: false,
        run: None,
        detail: Some("expected a fire at 10:00, and none came".into()),
    }
}

const LEASE: Duration = Duration::from_secs(30);

pub async fn a_notice_is_recorded_once_and_claimed_by_one(env: &Env) {
    let store = &*env.store;
    let other = env.handle().await;
    assert!(store.add_notice(&notice("stalled:j:1")).await.unwrap());
    assert!(
        !other.add_notice(&notice("stalled:j:1")).await.unwrap(),
        "the same change, seen by another daemon"
    );
    let claimed = other.claim_notices("b", LEASE, 10).await.unwrap();
    assert_eq!(claimed.len(), 1);
    assert_eq!(claimed[0].notice, notice("stalled:j:1"));
    assert!(claimed[0].sent.is_empty());
    assert!(
        store
            .claim_notices("a", LEASE, 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        other
            .claim_notices("b", LEASE, 10)
            .await
            .unwrap()
            .is_empty(),
        "claimed already"
    );
}

pub async fn an_expired_claim_is_taken_over_with_the_targets_that_took_it(env: &Env) {
    let store = &*env.store;
    let other = env.handle().await;
    store.add_notice(&notice("k")).await.unwrap();
    assert_eq!(store.claim_notices("a", SHORT, 10).await.unwrap().len(), 1);
    assert!(
        store
            .notice_progress("k", "a", Some(2), false, SHORT)
            .await
            .unwrap()
    );
    assert!(
        other
            .claim_notices("b", LEASE, 10)
            .await
            .unwrap()
            .is_empty(),
        "renewed"
    );
    // Sender `a` dies: its claim expires and `b` takes the notice, target 2 done.
    let taken = eventually_claimed(&*other, "b").await;
    assert_eq!(taken[0].sent, [2]);
    assert!(
        !store
            .notice_progress("k", "a", Some(0), true, SHORT)
            .await
            .unwrap(),
        "a claim taken over is no longer a's"
    );
    assert!(
        other
            .notice_progress("k", "b", Some(0), false, LEASE)
            .await
            .unwrap()
    );
    assert!(
        other
            .notice_progress("k", "b", None, true, LEASE)
            .await
            .unwrap()
    );
    assert!(
        !other
            .notice_progress("k", "b", None, false, LEASE)
            .await
            .unwrap(),
        "sent"
    );
    tokio::time::sleep(SHORT + Duration::from_millis(50)).await;
    assert!(
        store
            .claim_notices("a", LEASE, 10)
            .await
            .unwrap()
            .is_empty(),
        "never again"
    );
    assert!(
        !store.add_notice(&notice("k")).await.unwrap(),
        "a sent one is remembered"
    );
}

async fn eventually_claimed(
    store: &dyn cronq::store::Store,
    owner: &str,
) -> Vec<cronq::store::Notice> {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let claimed = store.claim_notices(owner, LEASE, 10).await.unwrap();
        if !claimed.is_empty() {
            return claimed;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the claim never expired"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

pub async fn a_health_change_and_a_timer_reminder_go_into_the_outbox(env: &Env) {
    let store = &*env.store;
    assert_eq!(
        store
            .record_health("j", None, false, Some(SHORT))
            .await
            .unwrap(),
        None,
        "a job never recorded has nothing to remind of"
    );
    assert_eq!(
        store
            .record_health("j", Some("r1"), true, Some(SHORT))
            .await
            .unwrap(),
        Some(HealthChange::Failing)
    );
    let claimed = store.claim_notices("a", LEASE, 10).await.unwrap();
    assert_eq!(claimed.len(), 1);
    let failing = &claimed[0].notice;
    assert_eq!(failing.key, "health:j:failing:r1");
    assert_eq!(
        (failing.event.as_str(), failing.reminder),
        ("failing", false)
    );
    assert_eq!(failing.run.as_deref(), Some("r1"));
    assert_eq!(
        store
            .record_health("j", None, false, Some(SHORT))
            .await
            .unwrap(),
        None,
        "too soon"
    );
    tokio::time::sleep(SHORT + Duration::from_millis(50)).await;
    assert_eq!(
        store
            .record_health("j", None, false, Some(SHORT))
            .await
            .unwrap(),
        Some(HealthChange::Reminder),
        "the timer reminds with no new run"
    );
    let claimed = store.claim_notices("a", LEASE, 10).await.unwrap();
    assert_eq!(claimed.len(), 1);
    let reminder = &claimed[0].notice;
    assert!(
        reminder.key.starts_with("health:j:reminder:@"),
        "{}",
        reminder.key
    );
    assert_eq!(
        (reminder.event.as_str(), reminder.reminder),
        ("failing", true)
    );
    assert_eq!(reminder.run.as_deref(), Some("r1"), "about the last run");
    assert_eq!(
        store
            .record_health("j", Some("r2"), false, Some(SHORT))
            .await
            .unwrap(),
        Some(HealthChange::Recovered),
        "the look left the job failing"
    );
    tokio::time::sleep(SHORT + Duration::from_millis(50)).await;
    assert_eq!(
        store
            .record_health("j", None, false, Some(SHORT))
            .await
            .unwrap(),
        None,
        "a healthy job is not reminded of"
    );
}

pub async fn of_eight_senders_claiming_at_once_each_notice_goes_to_one(env: &Env) {
    for n in 0..24 {
        env.store
            .add_notice(&notice(&format!("n{n}")))
            .await
            .unwrap();
    }
    let mut handles = Vec::new();
    for _ in 0..8 {
        handles.push(env.handle().await);
    }
    let start = Arc::new(Barrier::new(handles.len()));
    let mut claims = JoinSet::new();
    for (index, handle) in handles.into_iter().enumerate() {
        let start = Arc::clone(&start);
        claims.spawn(async move {
            start.wait().await;
            let owner = format!("s{index}");
            handle.claim_notices(&owner, LEASE, 16).await.unwrap()
        });
    }
    let mut keys = Vec::new();
    while let Some(claimed) = claims.join_next().await {
        keys.extend(claimed.unwrap().into_iter().map(|n| n.notice.key));
    }
    let distinct: HashSet<&String> = keys.iter().collect();
    assert_eq!(keys.len(), 24, "{keys:?}");
    assert_eq!(distinct.len(), 24, "none claimed twice: {keys:?}");
}

pub async fn a_targets_failure_is_kept_until_it_takes_a_message(env: &Env) {
    let store = &*env.store;
    let other = env.handle().await;
    assert!(store.target_failures().await.unwrap().is_empty());
    store
        .record_target("j", "webhook a.example", Some("answered 500"))
        .await
        .unwrap();
    store
        .record_target("j", "slack hooks.slack.com", Some("timed out"))
        .await
        .unwrap();
    other
        .record_target("j", "webhook a.example", Some("answered 502"))
        .await
        .unwrap();
    let failures = other.target_failures().await.unwrap();
    let shown: Vec<(&str, &str, &str)> = failures
        .iter()
        .map(|f| (f.job.as_str(), f.target.as_str(), f.error.as_str()))
        .collect();
    assert_eq!(
        shown,
        [
            ("j", "slack hooks.slack.com", "timed out"),
            ("j", "webhook a.example", "answered 502"),
        ]
    );
    assert!((chrono::Utc::now() - failures[0].at).num_seconds().abs() < 60);
    store
        .record_target("j", "webhook a.example", None)
        .await
        .unwrap();
    store
        .record_target("j", "never failed", None)
        .await
        .unwrap();
    let left: Vec<String> = store
        .target_failures()
        .await
        .unwrap()
        .into_iter()
        .map(|f| f.target)
        .collect();
    assert_eq!(left, ["slack hooks.slack.com"]);
}
