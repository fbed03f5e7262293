//! What a running run reports: its progress and message, and its output, of which only a
//! bounded tail is kept.

use std::fmt::Debug;

use cronq::store::{Output, RunStatus, StoreError};

use crate::fixture::*;

#[track_caller]
fn assert_wrong_status<T: Debug>(what: &str, got: Result<T, StoreError>, is: RunStatus) {
    match got {
        Err(StoreError::WrongStatus { status, .. }) => assert_eq!(status, is, "{what}"),
        other => panic!("{what}: expected WrongStatus ({is}), got {other:?}"),
    }
}

fn output(start: u64, bytes: &[u8], end: u64) -> Output {
    Output {
        start,
        bytes: bytes.to_vec(),
        end,
    }
}

pub async fn progress_is_recorded_while_running(env: &Env) {
    let store = &*env.store;
    let waiting = store.enqueue(new_run("j", "later")).await.unwrap();
    let got = store.set_progress(&waiting.id, 10, None).await;
    assert_wrong_status("progress of a queued run", got, RunStatus::Queued);

    store.enqueue(new_run("j", "a")).await.unwrap();
    let (run, lease) = take(store, "a").await;
    store
        .set_progress(&run.id, 0, None)
        .await
        .expect("0 is a progress");
    store
        .set_progress(&run.id, 40, Some("copying"))
        .await
        .unwrap();
    let stored = store.run(&run.id).await.unwrap();
    assert_eq!(stored.progress, Some(40));
    assert_eq!(stored.message.as_deref(), Some("copying"));

    let got = store.set_progress(&run.id, 101, Some("too far")).await;
    assert!(
        matches!(got, Err(StoreError::Invalid(_))),
        "progress 101: {got:?}"
    );
    let stored = store.run(&run.id).await.unwrap();
    assert_eq!(
        stored.progress,
        Some(40),
        "an invalid progress changes nothing"
    );
    assert_eq!(stored.message.as_deref(), Some("copying"));

    store
        .set_progress(&run.id, 100, Some("done"))
        .await
        .unwrap();
    finish_as(store, &lease, RunStatus::Succeeded).await;
    let got = store.set_progress(&run.id, 50, None).await;
    assert_wrong_status("progress of a finished run", got, RunStatus::Succeeded);
    let stored = store.run(&run.id).await.unwrap();
    assert_eq!(
        stored.progress,
        Some(100),
        "the last progress stays on the record"
    );
    assert_eq!(stored.message.as_deref(), Some("done"));
}

pub async fn output_is_appended_and_read_from_an_offset(env: &Env) {
    let store = &*env.store;
    let queued = store.enqueue(new_run("j", "later")).await.unwrap();
    assert_eq!(
        store.output(&queued.id, 0).await.unwrap(),
        Output::default()
    );

    store.enqueue(new_run("j", "a")).await.unwrap();
    let (run, lease) = take(store, "a").await;
    assert_eq!(store.output(&run.id, 0).await.unwrap(), output(0, b"", 0));
    store
        .append_output(&lease, b"hello ")
        .await
        .expect("append");
    store
        .append_output(&lease, b"world\n")
        .await
        .expect("append");
    assert_eq!(
        store.output(&run.id, 0).await.unwrap(),
        output(0, b"hello world\n", 12)
    );
    assert_eq!(
        store.output(&run.id, 6).await.unwrap(),
        output(6, b"world\n", 12)
    );
    assert_eq!(
        store.output(&run.id, 12).await.unwrap(),
        output(12, b"", 12)
    );

    // Output is bytes, not text.
    store
        .append_output(&lease, &[0xff, 0x00, 0xfe, b'\r'])
        .await
        .unwrap();
    let all = store.output(&run.id, 0).await.unwrap();
    assert_eq!(all, output(0, b"hello world\n\xff\x00\xfe\r", 16));
    finish_as(store, &lease, RunStatus::Succeeded).await;
    assert_eq!(
        store.output(&run.id, 0).await.unwrap(),
        all,
        "kept after the run"
    );
}

/// A store that keeps 16 bytes: the tail is the last 16 bytes written, `start` says where
/// they begin and `end` how much was written.
pub async fn output_keeps_only_the_tail(env: &Env) {
    env.store.enqueue(new_run("j", "a")).await.unwrap();
    let small = env.fresh_with_tail(16).await;
    let store = &*small.store;
    assert!(
        store.queued().await.unwrap().is_empty(),
        "a fresh store is empty"
    );
    store.enqueue(new_run("j", "a")).await.unwrap();
    let (run, lease) = take(store, "a").await;
    store.append_output(&lease, b"0123456789").await.unwrap();
    assert_eq!(
        store.output(&run.id, 0).await.unwrap(),
        output(0, b"0123456789", 10)
    );
    store.append_output(&lease, b"abcdefghij").await.unwrap();

    let tail = output(4, b"456789abcdefghij", 20);
    assert_eq!(store.output(&run.id, 0).await.unwrap(), tail, "from 0");
    assert_eq!(
        store.output(&run.id, 2).await.unwrap(),
        tail,
        "from before the tail"
    );
    assert_eq!(
        store.output(&run.id, 10).await.unwrap(),
        output(10, b"abcdefghij", 20)
    );

    let big = [[b'x'; 24], [b'y'; 24]].concat();
    store.append_output(&lease, &big).await.unwrap();
    let got = store.output(&run.id, 0).await.unwrap();
    assert_eq!(
        got,
        output(52, &[b'y'; 16], 68),
        "a chunk larger than the tail"
    );
}
