//! A worker waiting on the embedded store does not poll it: it hears of a run that
//! another process queued, and of a delayed run that falls due, at once, and an idle
//! worker process sleeps.

mod common;

use std::time::{Duration, Instant};

use chrono::Utc;
use cronq::store::sqlite::SqliteStore;
use cronq::store::{DEFAULT_OUTPUT_TAIL_BYTES, NewRun, Store, WorkerRef};

fn worker() -> WorkerRef {
    WorkerRef {
        id: "w".into(),
        host: "h".into(),
    }
}

/// Far longer than any wake-up takes, even on a loaded machine: a reserve that returns
/// well before it was woken, not timed out.
const LONG_WAIT: Duration = Duration::from_secs(60);
/// What "at once" is allowed to take under load.
const PROMPT: Duration = Duration::from_secs(20);

#[tokio::test(flavor = "multi_thread")]
async fn a_waiting_reserve_wakes_for_a_run_queued_through_another_connection() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cronq.db");
    let waiting = SqliteStore::open(&path, DEFAULT_OUTPUT_TAIL_BYTES).unwrap();
    // Another handle is another connection, with nothing shared in memory: as another
    // process (`cronq run`) would be.
    let other = SqliteStore::open(&path, DEFAULT_OUTPUT_TAIL_BYTES).unwrap();
    let queues = ["default".to_string()];
    let started = Instant::now();
    let reserve = tokio::spawn(async move {
        waiting
            .reserve(&queues, &worker(), Duration::from_secs(60), LONG_WAIT)
            .await
    });
    // Queued once the reserve waits (it found nothing), and again later in case the
    // first landed before it.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let queued = other.enqueue(NewRun::manual("j", "default")).await.unwrap();
    let taken = reserve.await.unwrap().unwrap().expect("the run queued");
    assert_eq!(taken.0.id, queued.id);
    assert!(
        started.elapsed() < PROMPT,
        "the reserve waited {:?} for a run queued elsewhere",
        started.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_waiting_reserve_takes_a_delayed_run_when_it_falls_due() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cronq.db");
    let store = SqliteStore::open(&path, DEFAULT_OUTPUT_TAIL_BYTES).unwrap();
    let delay = Duration::from_millis(1500);
    let due = Utc::now() + delay;
    let mut run = NewRun::manual("j", "default");
    run.not_before = Some(due);
    store.enqueue(run).await.unwrap();
    let queues = ["default".to_string()];
    let started = Instant::now();
    let taken = store
        .reserve(&queues, &worker(), Duration::from_secs(60), LONG_WAIT)
        .await
        .unwrap()
        .expect("the delayed run");
    assert!(Utc::now() >= due, "taken before it was due");
    assert!(
        started.elapsed() < delay + PROMPT,
        "the delayed run was taken {:?} after it was due",
        started.elapsed() - delay
    );
    assert_eq!(taken.0.job, "j");
}

/// The voluntary context switches of every thread of `pid`: each one a wake-up.
fn wake_ups(pid: u32) -> u64 {
    let tasks = std::fs::read_dir(format!("/proc/{pid}/task")).unwrap();
    tasks
        .flatten()
        .filter_map(|task| std::fs::read_to_string(task.path().join("status")).ok())
        .flat_map(|status| {
            status
                .lines()
                .filter_map(|line| line.strip_prefix("voluntary_ctxt_switches:"))
                .filter_map(|n| n.trim().parse::<u64>().ok())
                .collect::<Vec<_>>()
        })
        .sum()
}

#[test]
fn an_idle_worker_on_the_embedded_store_sleeps() {
    let scratch = common::Scratch::new();
    scratch.write(
        "crontab.yaml",
        "jobs:\n  j:\n    command: [\"/bin/true\"]\n",
    );
    let mut worker = scratch
        .std_cronq()
        .args(["worker", "--containment", "subreaper"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Registered: it is waiting for runs.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let status = scratch.cronq().args(["status", "--json"]).output().unwrap();
        let text = String::from_utf8_lossy(&status.stdout);
        if text.contains("\"pid\"") {
            break;
        }
        assert!(Instant::now() < deadline, "the worker never registered");
        std::thread::sleep(Duration::from_millis(100));
    }
    let pid = worker.id();
    let (before, since) = (wake_ups(pid), Instant::now());
    std::thread::sleep(Duration::from_secs(4));
    let per_s = (wake_ups(pid) - before) as f64 / since.elapsed().as_secs_f64();
    // Still working: a run queued now is done.
    let run = scratch
        .cronq()
        .args(["run", "j", "--wait"])
        .timeout(Duration::from_secs(60))
        .output()
        .unwrap();
    worker.kill().unwrap();
    let _ = worker.wait();
    assert!(run.status.success(), "{run:?}");
    // Polling the store every 50 ms was over 20 a second.
    assert!(per_s < 8.0, "an idle worker woke {per_s:.1} times a second");
}
