//! What a running run reports: its progress and message, and its output, each byte with
//! the stream it came from, of which only a bounded tail is kept.

use std::fmt::Debug;

use cronq::store::{Chunk, Output, RunStatus, StoreError, Stream};

use crate::fixture::*;

#[track_caller]
fn assert_wrong_status<T: Debug>(what: &str, got: Result<T, StoreError>, is: RunStatus) {
    match got {
        Err(StoreError::WrongStatus { status, .. }) => assert_eq!(status, is, "{what}"),
        other => panic!("{what}: expected WrongStatus ({is}), got {other:?}"),
    }
}

fn output(start: u64, chunks: &[Chunk], end: u64) -> Output {
    Output {
        start,
        chunks: chunks.to_vec(),
        end,
    }
}

fn out(bytes: &[u8]) -> Chunk {
    Chunk::new(Stream::Stdout, bytes)
}

fn err(bytes: &[u8]) -> Chunk {
    Chunk::new(Stream::Stderr, bytes)
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
    assert_eq!(store.output(&run.id, 0).await.unwrap(), output(0, &[], 0));
    store
        .append_output(&lease, &[out(b"hello ")])
        .await
        .expect("append");
    store
        .append_output(&lease, &[out(b"world\n")])
        .await
        .expect("append");
    assert_eq!(
        store.output(&run.id, 0).await.unwrap(),
        output(0, &[out(b"hello world\n")], 12),
        "two appends to one stream read as one chunk"
    );
    assert_eq!(
        store.output(&run.id, 6).await.unwrap(),
        output(6, &[out(b"world\n")], 12)
    );
    assert_eq!(
        store.output(&run.id, 12).await.unwrap(),
        output(12, &[], 12)
    );

    // Output is bytes, not text.
    store
        .append_output(&lease, &[out(&[0xff, 0x00, 0xfe, b'\r'])])
        .await
        .unwrap();
    let all = store.output(&run.id, 0).await.unwrap();
    assert_eq!(all, output(0, &[out(b"hello world\n\xff\x00\xfe\r")], 16));
    finish_as(store, &lease, RunStatus::Succeeded).await;
    assert_eq!(
        store.output(&run.id, 0).await.unwrap(),
        all,
        "kept after the run"
    );
}

pub async fn chunks_of_both_streams_come_back_tagged_and_in_order(env: &Env) {
    let store = &*env.store;
    store.enqueue(new_run("j", "a")).await.unwrap();
    let (run, lease) = take(store, "a").await;
    store
        .append_output(&lease, &[out(b"o1\n"), err(b"e1\n"), out(b"o2\n")])
        .await
        .expect("a batch of both streams");
    store
        .append_output(&lease, &[out(b"o3\n"), err(b""), err(b"e2\n")])
        .await
        .expect("a batch with an empty chunk");
    store
        .append_output(&lease, &[])
        .await
        .expect("an empty batch");
    let expected = output(
        0,
        &[out(b"o1\n"), err(b"e1\n"), out(b"o2\no3\n"), err(b"e2\n")],
        15,
    );
    assert_eq!(store.output(&run.id, 0).await.unwrap(), expected);
    assert_eq!(expected.bytes(), b"o1\ne1\no2\no3\ne2\n");

    finish_as(store, &lease, RunStatus::Succeeded).await;
    assert_eq!(
        store.output(&run.id, 0).await.unwrap(),
        expected,
        "kept after the run"
    );
}

pub async fn output_is_read_from_an_offset_inside_a_chunk(env: &Env) {
    let store = &*env.store;
    store.enqueue(new_run("j", "a")).await.unwrap();
    let (run, lease) = take(store, "a").await;
    store
        .append_output(&lease, &[out(b"abcdef"), err(b"ghijkl")])
        .await
        .unwrap();
    store.append_output(&lease, &[out(b"mn")]).await.unwrap();
    let from = |offset| store.output(&run.id, offset);
    assert_eq!(
        from(3).await.unwrap(),
        output(3, &[out(b"def"), err(b"ghijkl"), out(b"mn")], 14)
    );
    assert_eq!(
        from(6).await.unwrap(),
        output(6, &[err(b"ghijkl"), out(b"mn")], 14),
        "from a chunk's first byte"
    );
    assert_eq!(
        from(9).await.unwrap(),
        output(9, &[err(b"jkl"), out(b"mn")], 14)
    );
    assert_eq!(from(13).await.unwrap(), output(13, &[out(b"n")], 14));
    assert_eq!(from(14).await.unwrap(), output(14, &[], 14));
    assert_eq!(
        from(20).await.unwrap(),
        output(14, &[], 14),
        "from past the end"
    );
}

pub async fn an_append_after_finish_is_refused_and_changes_nothing(env: &Env) {
    let store = &*env.store;
    store.enqueue(new_run("j", "a")).await.unwrap();
    let (run, lease) = take(store, "a").await;
    store
        .append_output(&lease, &[out(b"kept\n"), err(b"warned\n")])
        .await
        .unwrap();
    let before = store.output(&run.id, 0).await.unwrap();
    finish_as(store, &lease, RunStatus::Succeeded).await;
    let got = store
        .append_output(&lease, &[out(b"late\n"), err(b"late\n")])
        .await;
    assert!(
        matches!(&got, Err(StoreError::LeaseLost(id)) if *id == run.id),
        "an append with a stale lease: {got:?}"
    );
    assert_eq!(store.output(&run.id, 0).await.unwrap(), before);
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
    store
        .append_output(&lease, &[out(b"0123456789")])
        .await
        .unwrap();
    assert_eq!(
        store.output(&run.id, 0).await.unwrap(),
        output(0, &[out(b"0123456789")], 10)
    );
    store
        .append_output(&lease, &[out(b"abcdefghij")])
        .await
        .unwrap();

    let tail = output(4, &[out(b"456789abcdefghij")], 20);
    assert_eq!(store.output(&run.id, 0).await.unwrap(), tail, "from 0");
    assert_eq!(
        store.output(&run.id, 2).await.unwrap(),
        tail,
        "from before the tail"
    );
    assert_eq!(
        store.output(&run.id, 10).await.unwrap(),
        output(10, &[out(b"abcdefghij")], 20)
    );

    let big = [[b'x'; 24], [b'y'; 24]].concat();
    store.append_output(&lease, &[out(&big)]).await.unwrap();
    let got = store.output(&run.id, 0).await.unwrap();
    assert_eq!(
        got,
        output(52, &[out(&[b'y'; 16])], 68),
        "a chunk larger than the tail"
    );
}

/// Tail 16 again, with both streams: whole chunks go from the front and the first one
/// kept is cut, so that exactly the last 16 bytes stay, each with its stream.
pub async fn the_tail_is_cut_across_chunks_and_stays_exact(env: &Env) {
    let small = env.fresh_with_tail(16).await;
    let store = &*small.store;
    store.enqueue(new_run("j", "a")).await.unwrap();
    let (run, lease) = take(store, "a").await;
    // Offsets: 0123456789 on stdout, then abcdef (10-15) on stderr.
    store
        .append_output(&lease, &[out(b"0123456789"), err(b"abcdef")])
        .await
        .unwrap();
    assert_eq!(
        store.output(&run.id, 0).await.unwrap(),
        output(0, &[out(b"0123456789"), err(b"abcdef")], 16),
        "exactly the tail's size: nothing dropped"
    );
    // ghij (16-19) on stdout: 0123 go, the stdout chunk is cut.
    store.append_output(&lease, &[out(b"ghij")]).await.unwrap();
    assert_eq!(
        store.output(&run.id, 0).await.unwrap(),
        output(4, &[out(b"456789"), err(b"abcdef"), out(b"ghij")], 20)
    );
    // klmnopqrst (20-29) on stderr: the first chunk goes whole, the stderr one is cut.
    store
        .append_output(&lease, &[err(b"klmnopqrst")])
        .await
        .unwrap();
    let tail = output(14, &[err(b"ef"), out(b"ghij"), err(b"klmnopqrst")], 30);
    assert_eq!(store.output(&run.id, 0).await.unwrap(), tail);
    assert_eq!(
        store.output(&run.id, 10).await.unwrap(),
        tail,
        "from before the tail"
    );
    assert_eq!(
        store.output(&run.id, 15).await.unwrap(),
        output(15, &[err(b"f"), out(b"ghij"), err(b"klmnopqrst")], 30),
        "from inside the chunk that was cut"
    );
    assert_eq!(
        store.output(&run.id, 18).await.unwrap(),
        output(18, &[out(b"ij"), err(b"klmnopqrst")], 30)
    );

    // A batch larger than the tail keeps only its own last 16 bytes.
    store
        .append_output(
            &lease,
            &[out(&[b'x'; 20]), err(&[b'y'; 10]), out(&[b'z'; 10])],
        )
        .await
        .unwrap();
    assert_eq!(
        store.output(&run.id, 0).await.unwrap(),
        output(54, &[err(&[b'y'; 6]), out(&[b'z'; 10])], 70)
    );
    finish_as(store, &lease, RunStatus::Succeeded).await;
}
