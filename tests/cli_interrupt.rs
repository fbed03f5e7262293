//! Ctrl-C under the commands that wait on a run (`run --wait`, `logs --follow`,
//! `cancel`): each stops waiting, says so, and exits 130 as a shell reports a command
//! that SIGINT ended, and leaves the run as it was. The run is played through the
//! library on the embedded store, so the test decides its state.

mod common;

use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use common::Scratch;
use cronq::store::sqlite::SqliteStore;
use cronq::store::{NewRun, RunStatus, Store, WorkerRef};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

const PATIENCE: Duration = Duration::from_secs(10);

fn setup() -> (Scratch, SqliteStore) {
    let scratch = Scratch::new();
    scratch.write(
        "crontab.yaml",
        "jobs:\n  slow:\n    command: [\"sleep\", \"60\"]\n    kill_grace: 30s\n",
    );
    let dir = scratch.path().join("state/cronq");
    std::fs::create_dir_all(&dir).unwrap();
    let store = SqliteStore::open(&dir.join("cronq.db"), 1 << 20).expect("the default store");
    (scratch, store)
}

/// Starts `cronq ARGS` and waits until it catches SIGINT (its `SigCgt` in /proc says
/// so), so that a Ctrl-C reaches cronq's handler and not the default action.
// The child is handed back and waited for by `interrupted`.
#[allow(clippy::zombie_processes)]
fn started(scratch: &Scratch, args: &[&str]) -> Child {
    let child = scratch
        .std_cronq()
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("cronq starts");
    let status = format!("/proc/{}/status", child.id());
    let deadline = Instant::now() + PATIENCE;
    loop {
        let text = std::fs::read_to_string(&status).unwrap_or_default();
        let caught = text
            .lines()
            .find_map(|line| line.strip_prefix("SigCgt:"))
            .and_then(|mask| u64::from_str_radix(mask.trim(), 16).ok());
        if caught.is_some_and(|mask| mask & (1 << (Signal::SIGINT as i32 - 1)) != 0) {
            return child;
        }
        assert!(
            Instant::now() < deadline,
            "`cronq {args:?}` never caught SIGINT"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Ctrl-C to `child`; its exit code and stderr.
fn interrupted(child: Child) -> (Option<i32>, String) {
    kill(Pid::from_raw(child.id() as i32), Signal::SIGINT).unwrap();
    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    (output.status.code(), stderr)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_wait_detaches_with_130_and_the_run_stays_queued() {
    let (scratch, store) = setup();
    let child = started(&scratch, &["run", "slow", "--wait"]);
    let (code, stderr) = interrupted(child);
    assert_eq!(code, Some(130), "{stderr}");
    assert!(stderr.contains("detached; run "), "{stderr}");
    let id = stderr
        .split("run ")
        .nth(1)
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap();
    assert_eq!(store.run(id).await.unwrap().status, RunStatus::Queued);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logs_follow_stops_with_130_and_the_run_goes_on() {
    let (scratch, store) = setup();
    let run = store
        .enqueue(NewRun::manual("slow", "default"))
        .await
        .unwrap();
    let child = started(&scratch, &["logs", &run.id, "--follow"]);
    let (code, stderr) = interrupted(child);
    assert_eq!(code, Some(130), "{stderr}");
    assert_eq!(
        stderr,
        format!("cronq: stopped following run {}; it goes on\n", run.id)
    );
    assert_eq!(store.run(&run.id).await.unwrap().status, RunStatus::Queued);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_stops_waiting_with_130_and_the_cancel_stands() {
    let (scratch, store) = setup();
    store
        .enqueue(NewRun::manual("slow", "default"))
        .await
        .unwrap();
    let worker = WorkerRef {
        id: "test-worker".into(),
        host: "test".into(),
    };
    let (run, _lease) = store
        .reserve(
            &["default".to_string()],
            &worker,
            PATIENCE * 6,
            Duration::ZERO,
        )
        .await
        .unwrap()
        .expect("a run to reserve");
    let child = started(&scratch, &["cancel", &run.id]);
    let (code, stderr) = interrupted(child);
    assert_eq!(code, Some(130), "{stderr}");
    assert_eq!(
        stderr,
        format!(
            "cronq: not waiting any longer; run {} is being stopped\n",
            run.id
        )
    );
    let now = store.run(&run.id).await.unwrap();
    assert_eq!(now.status, RunStatus::Running);
    assert!(now.cancel_requested, "the cancel was asked and stands");
}
