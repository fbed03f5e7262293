//! Nothing a run started outlives it, under both containments (`cgroup`, `subreaper`):
//! a job starts one process of each kind that escapes a process group (a double fork,
//! `nohup`, `setsid`, a fork that calls `setpgid`, one that ignores SIGTERM, one with
//! its stdio closed), and none may be alive one `kill_grace` after a timeout, a cancel
//! or the worker's stop. And the worker reaps the orphans it inherits: a job that leaves
//! one dead orphan after another leaves no zombie behind.

// In `worker/` so that cargo does not take it for a test binary.
#[allow(dead_code)]
#[path = "worker/harness.rs"]
mod harness;

use std::path::Path;
use std::time::{Duration, Instant};

use cronq::settings::Containment;
use cronq::store::{Cancelled, RunStatus};
use harness::{Worker, process_exists, read_pid};

/// The job's `kill_grace`.
const KILL_GRACE: Duration = Duration::from_millis(500);

/// Each kind of escaping process, by its pid file, as the job below starts it.
const ESCAPES: &[&str] = &[
    // `( cmd & )`: its parent, the subshell, exits at once; it goes to the worker.
    "double_fork",
    "nohup",
    // setsid(1) in a child that is no group leader: a new session and group, no fork.
    "setsid",
    "setsid_double_fork",
    // A Python fork that moves to a group of its own, its parent gone at once.
    "setpgid",
    "ignores_term",
    "closed_stdio",
];

/// Also escapes the environment that `subreaper` may claim an orphan by: the one kind
/// only `cgroup` is sure to catch (see the README).
const ENV_CLEARED: &str = "env_cleared";

/// A job that starts every kind in `kinds`, each writing its pid, then says `started`
/// and sleeps, under `timeout`.
fn escaping_job(kinds: &[&str], timeout: &str) -> String {
    let starts = r#"
      ( sleep 301 & echo $! > double_fork.pid )
      nohup sleep 302 >/dev/null 2>&1 &
      echo $! > nohup.pid
      setsid sleep 303 &
      echo $! > setsid.pid
      ( setsid sleep 304 & echo $! > setsid_double_fork.pid )
      python3 -c 'import os, time; os.fork() or (os.setpgid(0, 0), open("p.tmp", "w").write(str(os.getpid())), os.rename("p.tmp", "setpgid.pid"), time.sleep(305))'
      sh -c 'trap "" TERM; echo $$ > ignores_term.pid; exec sleep 306' &
      sleep 307 </dev/null >/dev/null 2>&1 &
      echo $! > closed_stdio.pid
      ( env -i setsid sleep 308 & echo $! > env_cleared.pid )
"#;
    let kept: Vec<&str> = starts
        .lines()
        .filter(|line| {
            // Each line starts one kind; `nohup`'s and `closed_stdio`'s pid line follows it.
            let started = [
                ("sleep 301", "double_fork"),
                ("nohup", "nohup"),
                ("setsid sleep 303", "setsid"),
                ("setsid sleep 304", "setsid_double_fork"),
                ("python3", "setpgid"),
                ("trap", "ignores_term"),
                ("sleep 307", "closed_stdio"),
                ("sleep 308", ENV_CLEARED),
            ];
            match started.iter().find(|(marker, _)| line.contains(marker)) {
                Some((_, kind)) => kinds.contains(kind),
                None => match line.trim() {
                    "echo $! > nohup.pid" => kinds.contains(&"nohup"),
                    "echo $! > setsid.pid" => kinds.contains(&"setsid"),
                    "echo $! > closed_stdio.pid" => kinds.contains(&"closed_stdio"),
                    _ => true,
                },
            }
        })
        .collect();
    let pid_files: Vec<String> = kinds.iter().map(|kind| format!("{kind}.pid")).collect();
    format!(
        r#"
jobs:
  escape:
    command: |
{}
      for f in {}; do while [ ! -s "$f" ]; do sleep 0.01; done; done
      echo started
      sleep 300
    workdir: "{{dir}}"
    timeout: {timeout}
    kill_grace: 500ms
"#,
        kept.join("\n"),
        pid_files.join(" ")
    )
}

/// How a test ends the run.
#[derive(Clone, Copy, Debug)]
enum End {
    Timeout,
    Cancel,
    WorkerStop,
}

/// Starts the escaping job under `containment`, ends it as `end` says, and asserts that
/// each of `kinds` was alive before the end and is gone one `kill_grace` (and a little)
/// after it.
async fn nothing_outlives_the_run(containment: Containment, end: End, kinds: &[&str]) {
    let timeout = match end {
        End::Timeout => "3s",
        End::Cancel | End::WorkerStop => "1h",
    };
    let yaml = escaping_job(kinds, timeout);
    let mut worker = Worker::start_contained(&yaml, 1, Duration::from_millis(300), containment);
    let queued = worker.enqueue("escape", &[], &[]).await;
    worker.wait_output(&queued.id).await;
    let pids: Vec<(&str, i32)> = kinds
        .iter()
        .map(|kind| (*kind, read_pid(&worker.path(&format!("{kind}.pid")))))
        .collect();
    for (kind, pid) in &pids {
        assert!(process_exists(*pid), "the {kind} process {pid} never ran");
    }

    let expected = match end {
        End::Timeout => RunStatus::TimedOut,
        End::Cancel => {
            let cancelled = worker.store.cancel(&queued.id).await.unwrap();
            assert_eq!(cancelled, Cancelled::Requested);
            RunStatus::Cancelled
        }
        End::WorkerStop => {
            worker.stop().await;
            RunStatus::Cancelled
        }
    };
    let run = worker.finished(&queued.id).await;
    assert_eq!(run.status, expected, "{run:#?}");
    let deadline = Instant::now() + KILL_GRACE + Duration::from_millis(300);
    loop {
        let alive: Vec<&(&str, i32)> = pids
            .iter()
            .filter(|(_, pid)| process_exists(*pid))
            .collect();
        if alive.is_empty() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "alive (or unreaped) one kill_grace after the run's end ({end:?}, {containment}): \
             {alive:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    if !matches!(end, End::WorkerStop) {
        worker.stop().await;
    }
}

fn with_env_cleared() -> Vec<&'static str> {
    ESCAPES.iter().copied().chain([ENV_CLEARED]).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn cgroup_kills_every_escape_on_a_timeout() {
    nothing_outlives_the_run(Containment::Cgroup, End::Timeout, &with_env_cleared()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn cgroup_kills_every_escape_on_a_cancel() {
    nothing_outlives_the_run(Containment::Cgroup, End::Cancel, &with_env_cleared()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn cgroup_kills_every_escape_on_the_workers_stop() {
    nothing_outlives_the_run(Containment::Cgroup, End::WorkerStop, &with_env_cleared()).await;
}

// `subreaper` without ENV_CLEARED: a double fork whose process also drops `CRONQ_RUN_ID`
// and leaves the group is found only if a walk of the tree saw it in the instant before
// its parent exited, so it may escape; the README says so.

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn subreaper_kills_every_escape_on_a_timeout() {
    nothing_outlives_the_run(Containment::Subreaper, End::Timeout, ESCAPES).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn subreaper_kills_every_escape_on_a_cancel() {
    nothing_outlives_the_run(Containment::Subreaper, End::Cancel, ESCAPES).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn subreaper_kills_every_escape_on_the_workers_stop() {
    nothing_outlives_the_run(Containment::Subreaper, End::WorkerStop, ESCAPES).await;
}

/// This process's zombie children named `name`: dead, not reaped.
fn zombies_named(name: &str) -> usize {
    let me = std::process::id().to_string();
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|entry| std::fs::read_to_string(entry.path().join("stat")).ok())
        .filter(|stat| {
            let Some((head, rest)) = stat.rsplit_once(')') else {
                return false;
            };
            let fields: Vec<&str> = rest.split_whitespace().collect();
            head.ends_with(&format!("({name}"))
                && fields.first() == Some(&"Z")
                && fields.get(1) == Some(&me.as_str())
        })
        .count()
}

/// A job that, for about two seconds, leaves an orphan every 50 ms that dies 20 ms
/// later while the job runs on, and a last one that outlives the job. Counted by the
/// name of a link to `sleep`, so that no other test's processes count.
async fn orphans_are_reaped(containment: Containment) {
    let dir = tempfile::tempdir().unwrap();
    let sleep = which("sleep");
    // One name per test: the tests of this file share a process.
    let name = &format!("orphan-{containment}");
    std::os::unix::fs::symlink(&sleep, dir.path().join(name)).unwrap();
    let yaml = format!(
        r#"
jobs:
  soak:
    command: |
      for i in $(seq 40); do ( setsid {orphan} 0.02 & ); sleep 0.05; done
      ( {orphan} 300 & )
      echo done
"#,
        orphan = dir.path().join(name).display()
    );
    let mut worker = Worker::start_contained(&yaml, 2, Duration::from_secs(5), containment);
    let runs = [
        worker.enqueue("soak", &[], &[]).await,
        worker.enqueue("soak", &[], &[]).await,
    ];
    let mut most = 0;
    let started = Instant::now();
    while started.elapsed() < Duration::from_millis(1500) {
        most = most.max(zombies_named(name));
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    for run in &runs {
        let run = worker.finished(&run.id).await;
        assert_eq!(run.status, RunStatus::Succeeded, "{run:#?}");
    }
    // 2 runs × 40 orphans: without the reaping, most of them would be zombies by now.
    assert!(
        most <= 4,
        "{most} zombies at once while the runs went on ({containment})"
    );
    let deadline = Instant::now() + Duration::from_secs(2);
    while zombies_named(name) > 0 {
        assert!(
            Instant::now() < deadline,
            "{} zombies left after the runs ({containment})",
            zombies_named(name)
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    worker.stop().await;
}

fn which(program: &str) -> std::path::PathBuf {
    std::env::var("PATH")
        .unwrap()
        .split(':')
        .map(|dir| Path::new(dir).join(program))
        .find(|path| path.is_file())
        .expect("the program is on PATH")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn cgroup_leaves_no_zombie_of_the_orphans_it_inherits() {
    orphans_are_reaped(Containment::Cgroup).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn subreaper_leaves_no_zombie_of_the_orphans_it_inherits() {
    orphans_are_reaped(Containment::Subreaper).await;
}
