//! Cancel requests as a worker listens for them: a cancel made by any process ends the
//! listener's wait promptly, each request is reported once and to the run's own worker,
//! and a run that is queued or has ended is never reported.

use std::sync::Arc;
use std::time::{Duration, Instant};

use cronq::store::{Cancelled, Lease, Run, RunStatus, Store};

use crate::fixture::*;

/// Far longer than a request may take to arrive: a wait that ends early was woken.
const WAIT: Duration = Duration::from_secs(8);
/// How long a cancel may take to reach a listener in these tests; the budget is 1 s at
/// the 99th percentile (the benchmark measures it), so this is generous.
const PROMPT: Duration = Duration::from_secs(2);

/// Reserves the next run of queue `a` for worker `id`.
async fn take_on(store: &dyn Store, id: &str) -> (Run, Lease) {
    store
        .reserve(&queues(&["a"]), &worker(id), LONG, Duration::ZERO)
        .await
        .expect("reserve")
        .expect("a ready run")
}

/// A listener of worker `id` waiting [`WAIT`], started now on its own task.
fn listen(store: &Arc<dyn Store>, id: &str) -> tokio::task::JoinHandle<(Vec<String>, Duration)> {
    let (store, id) = (Arc::clone(store), id.to_string());
    tokio::spawn(async move {
        let started = Instant::now();
        let asked = store.cancel_requests(&id, WAIT).await.expect("listen");
        (asked, started.elapsed())
    })
}

/// A cancel through another handle (another process, for SQLite) reaches the waiting
/// listener of the run's worker long before its wait is over, and only once.
pub async fn a_cancel_from_another_process_ends_the_listeners_wait(env: &Env) {
    let store = &env.store;
    store.enqueue(new_run("j", "a")).await.unwrap();
    let (run, _lease) = take_on(&**store, "w1").await;
    let listener = listen(store, "w1");
    // Let the listener settle into its wait: a cancel must wake it, not precede it.
    tokio::time::sleep(Duration::from_millis(300)).await;

    let other = env.handle().await;
    let asked_at = Instant::now();
    assert_eq!(other.cancel(&run.id).await.unwrap(), Cancelled::Requested);
    let (asked, _) = listener.await.unwrap();
    let took = asked_at.elapsed();
    assert_eq!(asked, vec![run.id.clone()]);
    assert!(
        took < PROMPT,
        "the request took {took:?} to reach the listener"
    );

    let started = Instant::now();
    let again = store
        .cancel_requests("w1", Duration::from_millis(400))
        .await
        .unwrap();
    assert!(again.is_empty(), "reported twice: {again:?}");
    assert!(
        started.elapsed() >= Duration::from_millis(350),
        "a wait with nothing to report returns when it is spent"
    );
}

/// A cancel through the listener's own handle (the daemon's `replace` shares the
/// workers' store) wakes it too.
pub async fn a_cancel_through_the_same_handle_ends_the_listeners_wait(env: &Env) {
    let store = &env.store;
    store.enqueue(new_run("j", "a")).await.unwrap();
    let (run, _lease) = take_on(&**store, "w1").await;
    let listener = listen(store, "w1");
    tokio::time::sleep(Duration::from_millis(300)).await;
    let asked_at = Instant::now();
    assert_eq!(store.cancel(&run.id).await.unwrap(), Cancelled::Requested);
    let (asked, _) = listener.await.unwrap();
    assert_eq!(asked, vec![run.id]);
    assert!(asked_at.elapsed() < PROMPT, "took {:?}", asked_at.elapsed());
}

/// A request made before anyone listened is reported to the first look, even one that
/// does not wait.
pub async fn a_cancel_made_before_the_listener_looks_is_reported(env: &Env) {
    let store = &*env.store;
    store.enqueue(new_run("j", "a")).await.unwrap();
    store.enqueue(new_run("j", "a")).await.unwrap();
    let (first, _l1) = take_on(store, "w1").await;
    let (second, _l2) = take_on(store, "w1").await;
    store.cancel(&first.id).await.unwrap();
    store.cancel(&second.id).await.unwrap();
    let mut asked = store.cancel_requests("w1", Duration::ZERO).await.unwrap();
    asked.sort();
    let mut both = vec![first.id, second.id];
    both.sort();
    assert_eq!(asked, both);
    let again = store.cancel_requests("w1", Duration::ZERO).await.unwrap();
    assert!(again.is_empty(), "reported twice: {again:?}");
}

/// Each worker hears of its own runs only; a queued run's cancel and a run that ended
/// before its worker looked are reported to nobody.
pub async fn cancel_requests_go_to_the_runs_own_worker_only(env: &Env) {
    let store = &*env.store;
    for _ in 0..3 {
        store.enqueue(new_run("j", "a")).await.unwrap();
    }
    let (on_w1, _l1) = take_on(store, "w1").await;
    let (on_w2, _l2) = take_on(store, "w2").await;
    let (ended, ended_lease) = take_on(store, "w2").await;
    let queued = store.enqueue(new_run("j", "a")).await.unwrap();

    store.cancel(&on_w2.id).await.unwrap();
    store.cancel(&ended.id).await.unwrap();
    finish_as(store, &ended_lease, RunStatus::Succeeded).await;
    assert_eq!(store.cancel(&queued.id).await.unwrap(), Cancelled::Dequeued);

    let short = Duration::from_millis(300);
    let for_w1 = store.cancel_requests("w1", short).await.unwrap();
    assert!(for_w1.is_empty(), "w1 was told of {for_w1:?}");
    let for_w2 = store.cancel_requests("w2", short).await.unwrap();
    assert_eq!(for_w2, vec![on_w2.id], "only w2's run that still runs");
    let nobody = store.cancel_requests("w3", Duration::ZERO).await.unwrap();
    assert!(nobody.is_empty(), "w3 was told of {nobody:?}");

    store.cancel(&on_w1.id).await.unwrap();
    let for_w1 = store.cancel_requests("w1", short).await.unwrap();
    assert_eq!(for_w1, vec![on_w1.id]);
}
