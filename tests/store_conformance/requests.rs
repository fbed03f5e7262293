//! What the HTTP API keeps in the store: who asked for a run by hand, and the
//! Idempotency-Keys that make a retried request find the run it already queued.

use std::time::Duration;

use cronq::store::{KeyClaim, RunStatus};

use crate::fixture::{Env, SHORT, finish_as, new_run, take};

const DAY: Duration = Duration::from_secs(86_400);

pub async fn who_asked_is_kept_on_the_run_and_its_retry(env: &Env) {
    let store = &*env.store;
    let mut run = new_run("report", "default");
    run.by = Some("token:deploy-bot".into());
    run.max_attempts = 2;
    let queued = store.enqueue(run).await.unwrap();
    assert_eq!(queued.by.as_deref(), Some("token:deploy-bot"));
    assert_eq!(
        store.run(&queued.id).await.unwrap().by.as_deref(),
        Some("token:deploy-bot")
    );
    let (_, lease) = take(store, "default").await;
    let finished = finish_as(store, &lease, RunStatus::Failed).await;
    let retry = finished.retry.expect("a second attempt");
    let retry = store.run(&retry.id).await.unwrap();
    assert_eq!(retry.by.as_deref(), Some("token:deploy-bot"));
    let fired = store.enqueue(new_run("report", "default")).await.unwrap();
    assert_eq!(store.run(&fired.id).await.unwrap().by, None);
}

pub async fn a_key_is_claimed_once_and_then_names_its_run(env: &Env) {
    let store = &*env.store;
    let other = env.handle().await;
    assert_eq!(
        store.claim_idempotency_key("job/k1", DAY).await.unwrap(),
        KeyClaim::Claimed
    );
    // Another process asking meanwhile is told the first request is under way.
    assert_eq!(
        other.claim_idempotency_key("job/k1", DAY).await.unwrap(),
        KeyClaim::Pending
    );
    store
        .settle_idempotency_key("job/k1", Some("01RUN"), DAY)
        .await
        .unwrap();
    assert_eq!(
        other.claim_idempotency_key("job/k1", DAY).await.unwrap(),
        KeyClaim::Done("01RUN".into())
    );
    // Another key is its own.
    assert_eq!(
        store.claim_idempotency_key("job/k2", DAY).await.unwrap(),
        KeyClaim::Claimed
    );
}

pub async fn a_key_let_go_or_lapsed_may_be_claimed_again(env: &Env) {
    let store = &*env.store;
    assert_eq!(
        store.claim_idempotency_key("k", DAY).await.unwrap(),
        KeyClaim::Claimed
    );
    store.settle_idempotency_key("k", None, DAY).await.unwrap();
    assert_eq!(
        store.claim_idempotency_key("k", SHORT).await.unwrap(),
        KeyClaim::Claimed
    );
    // A claim whose request died lapses after its hold.
    tokio::time::sleep(SHORT * 2).await;
    assert_eq!(
        store.claim_idempotency_key("k", DAY).await.unwrap(),
        KeyClaim::Claimed
    );
    // And so does a settled key after its keep.
    store
        .settle_idempotency_key("k", Some("01RUN"), SHORT)
        .await
        .unwrap();
    assert_eq!(
        store.claim_idempotency_key("k", DAY).await.unwrap(),
        KeyClaim::Done("01RUN".into())
    );
    tokio::time::sleep(SHORT * 2).await;
    assert_eq!(
        store.claim_idempotency_key("k", DAY).await.unwrap(),
        KeyClaim::Claimed
    );
}
