//! `cronq daemon` with `--containment cgroup` and `--containment subreaper`, driven as a
//! user would: a job starts one process of each kind that escapes a process group, and
//! none may be alive one `kill_grace` after a timeout, a `cronq cancel` or the daemon's
//! SIGTERM; jobs that leave orphans every second leave no zombie of the daemon behind.

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::Scratch;
use common::daemon::{Process, eventually};
use cronq::store::sqlite::SqliteStore;
use cronq::store::{Run, RunStatus, Store};

const PATIENCE: Duration = Duration::from_secs(10);
/// The job's `kill_grace`.
const KILL_GRACE: Duration = Duration::from_millis(500);

/// Each kind of escaping process, by its pid file.
const ESCAPES: &[&str] = &[
    "double_fork",
    "nohup",
    "setsid",
    "setsid_double_fork",
    "setpgid",
    "ignores_term",
    "closed_stdio",
];

/// A double fork that also leaves the group and drops its environment: only `cgroup`
/// is sure to catch it (see the README).
const ENV_CLEARED: &str = "env_cleared";

/// The schedule: `escape`, run by hand, starts each kind, with `env_cleared` when
/// `env_cleared` is set, then says `started` and sleeps, under `timeout`.
fn schedule(timeout: &str, env_cleared: bool) -> String {
    let env_cleared = if env_cleared {
        "( env -i setsid sleep 318 & echo $! > env_cleared.pid )"
    } else {
        ""
    };
    format!(
        r#"
jobs:
  escape:
    command: |
      ( sleep 311 & echo $! > double_fork.pid )
      nohup sleep 312 >/dev/null 2>&1 &
      echo $! > nohup.pid
      setsid sleep 313 &
      echo $! > setsid.pid
      ( setsid sleep 314 & echo $! > setsid_double_fork.pid )
      python3 -c 'import os, time; os.fork() or (os.setpgid(0, 0), open("p.tmp", "w").write(str(os.getpid())), os.rename("p.tmp", "setpgid.pid"), time.sleep(315))'
      sh -c 'trap "" TERM; echo $$ > ignores_term.pid; exec sleep 316' &
      sleep 317 </dev/null >/dev/null 2>&1 &
      echo $! > closed_stdio.pid
      {env_cleared}
      while [ $(ls *.pid | wc -l) -lt {count} ]; do sleep 0.01; done
      echo started
      sleep 300
    timeout: {timeout}
    kill_grace: 500ms
"#,
        count = ESCAPES.len() + usize::from(!env_cleared.is_empty()),
    )
}

#[derive(Clone, Copy, Debug)]
enum End {
    Timeout,
    Cancel,
    DaemonStop,
}

fn sqlite(path: &Path) -> SqliteStore {
    SqliteStore::open(path, 1 << 20).expect("the daemon's store")
}

async fn run_of(store: &dyn Store, id: &str) -> Run {
    store.run(id).await.expect("the run is in the store")
}

fn pid_in(dir: &Path, kind: &str) -> Option<i32> {
    std::fs::read_to_string(dir.join(format!("{kind}.pid")))
        .ok()?
        .trim()
        .parse()
        .ok()
}

fn exists(pid: i32) -> bool {
    Path::new(&format!("/proc/{pid}/stat")).exists()
}

async fn nothing_outlives_a_run(containment: &str, end: End) {
    let scratch = Scratch::new();
    let timeout = match end {
        End::Timeout => "3s",
        End::Cancel | End::DaemonStop => "1h",
    };
    let env_cleared = containment == "cgroup";
    scratch.write("crontab.yaml", &schedule(timeout, env_cleared));
    let db = scratch.path().join("cronq.db");
    let store_url = format!("sqlite:{}", db.display());
    let mut daemon = Process::start(
        scratch.path(),
        "daemon",
        &[
            "daemon",
            "--schedule",
            "crontab.yaml",
            "--store",
            &store_url,
            "--containment",
            containment,
            "--lease",
            "3s",
            "--stop-grace",
            "500ms",
        ],
    );
    let queued = scratch
        .cronq()
        .args(["run", "escape", "--store", &store_url])
        .output()
        .unwrap();
    assert!(queued.status.success(), "{queued:?}");
    let id = String::from_utf8(queued.stdout).unwrap().trim().to_string();
    let store = sqlite(&db);

    let mut kinds = ESCAPES.to_vec();
    if env_cleared {
        kinds.push(ENV_CLEARED);
    }
    eventually("the job to start every kind", PATIENCE, || async {
        store
            .output(&id, 0)
            .await
            .is_ok_and(|o| !o.bytes().is_empty())
    })
    .await;
    let pids: Vec<(&str, i32)> = kinds
        .iter()
        .map(|kind| (*kind, pid_in(scratch.path(), kind).expect("a pid file")))
        .collect();
    for (kind, pid) in &pids {
        assert!(exists(*pid), "the {kind} process {pid} never ran");
    }

    let expected = match end {
        End::Timeout => RunStatus::TimedOut,
        End::Cancel => {
            let cancel = scratch
                .cronq()
                .args(["cancel", &id, "--store", &store_url])
                .output()
                .unwrap();
            assert!(cancel.status.success(), "{cancel:?}");
            RunStatus::Cancelled
        }
        End::DaemonStop => {
            assert_eq!(daemon.stop(PATIENCE), Some(0), "{}", daemon.logs());
            RunStatus::Cancelled
        }
    };
    eventually("the run to end", PATIENCE, || async {
        run_of(&store, &id).await.status.is_finished()
    })
    .await;
    let run = run_of(&store, &id).await;
    assert_eq!(run.status, expected, "{run:#?}\n{}", daemon.logs());
    let deadline = Instant::now() + KILL_GRACE + Duration::from_millis(300);
    loop {
        let alive: Vec<&(&str, i32)> = pids.iter().filter(|(_, pid)| exists(*pid)).collect();
        if alive.is_empty() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "alive (or unreaped) one kill_grace after the run's end ({end:?}, {containment}): \
             {alive:?}\n{}",
            daemon.logs()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let logs = daemon.logs();
    let said = match containment {
        "cgroup" => "containment=cgroup in ",
        _ => "containment=subreaper",
    };
    assert!(
        logs.contains(said),
        "the worker says how it contains runs:\n{logs}"
    );
    if !matches!(end, End::DaemonStop) {
        daemon.stop(PATIENCE);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn cgroup_a_timeout_leaves_nothing_running() {
    nothing_outlives_a_run("cgroup", End::Timeout).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn cgroup_a_cancel_leaves_nothing_running() {
    nothing_outlives_a_run("cgroup", End::Cancel).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn cgroup_a_daemon_stop_leaves_nothing_running() {
    nothing_outlives_a_run("cgroup", End::DaemonStop).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn subreaper_a_timeout_leaves_nothing_running() {
    nothing_outlives_a_run("subreaper", End::Timeout).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn subreaper_a_cancel_leaves_nothing_running() {
    nothing_outlives_a_run("subreaper", End::Cancel).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn subreaper_a_daemon_stop_leaves_nothing_running() {
    nothing_outlives_a_run("subreaper", End::DaemonStop).await;
}

/// The zombies whose parent is `pid`.
fn zombies_of(pid: i32) -> Vec<i32> {
    let parent = pid.to_string();
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|entry| {
            let pid: i32 = entry.file_name().to_str()?.parse().ok()?;
            let stat = std::fs::read_to_string(entry.path().join("stat")).ok()?;
            let (_, rest) = stat.rsplit_once(')')?;
            let fields: Vec<&str> = rest.split_whitespace().collect();
            (fields.first() == Some(&"Z") && fields.get(1) == Some(&parent.as_str())).then_some(pid)
        })
        .collect()
}

/// Two jobs fire every second for 5 s, each leaving five orphans that die on their own
/// while it runs on, and one that outlives it: the daemon, whose workers inherit them
/// all, has no zombie left, nor more than a few at any time.
async fn no_zombie_after_a_soak(containment: &str) {
    let scratch = Scratch::new();
    let job = |name: &str| {
        format!(
            "  {name}:\n    schedule: \"* * * * * *\"\n    concurrency: allow\n    command: \"for i in 1 2 3 4 5; do ( setsid sleep 0.05 & ); done; ( setsid sleep 300 & ); sleep 0.9\"\n"
        )
    };
    scratch.write(
        "crontab.yaml",
        &format!("jobs:\n{}{}", job("orphans-a"), job("orphans-b")),
    );
    let db = scratch.path().join("cronq.db");
    let store_url = format!("sqlite:{}", db.display());
    let mut daemon = Process::start(
        scratch.path(),
        "daemon",
        &[
            "daemon",
            "--schedule",
            "crontab.yaml",
            "--store",
            &store_url,
            "--containment",
            containment,
        ],
    );
    let store = sqlite(&db);
    let mut most = 0;
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(5) {
        most = most.max(zombies_of(daemon.pid()).len());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let finished = |runs: Vec<Run>| {
        runs.iter()
            .filter(|r| r.status == RunStatus::Succeeded)
            .count()
    };
    let filter = cronq::store::HistoryFilter::default();
    let succeeded = finished(store.history(&filter).await.unwrap());
    assert!(
        succeeded >= 6,
        "the jobs ran: {succeeded} runs\n{}",
        daemon.logs()
    );
    // A few at once while the reaper's second look (100 ms) is pending, more on a busy
    // machine; without the reaping every orphan stays a zombie, twelve a second here.
    assert!(
        most <= 8,
        "{most} zombies of the daemon at once ({containment})"
    );
    eventually(
        "no zombie of the daemon",
        Duration::from_secs(2),
        || async { zombies_of(daemon.pid()).is_empty() },
    )
    .await;
    assert_eq!(daemon.stop(PATIENCE), Some(0));
}

#[tokio::test(flavor = "multi_thread")]
async fn cgroup_jobs_that_leave_orphans_leave_no_zombie() {
    no_zombie_after_a_soak("cgroup").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn subreaper_jobs_that_leave_orphans_leave_no_zombie() {
    no_zombie_after_a_soak("subreaper").await;
}

/// `--containment cgroup` where the worker cannot write its cgroup (a user that is not
/// root, in a cgroup root owns): the daemon and `cronq worker` refuse to start, in one
/// sentence, rather than run jobs uncontained. Needs root, to start cronq as `nobody`.
#[test]
fn cgroup_is_refused_where_the_host_gives_none() {
    if !nix::unistd::geteuid().is_root() {
        eprintln!("skipped: needs root to run cronq as nobody");
        return;
    }
    let scratch = Scratch::new();
    let dir = scratch.path();
    std::fs::set_permissions(dir, std::os::unix::fs::PermissionsExt::from_mode(0o777)).unwrap();
    scratch.write("crontab.yaml", "jobs:\n  hello:\n    command: [echo, hi]\n");
    let yaml = dir.join("crontab.yaml");
    let store = format!("sqlite:{}", dir.join("cronq.db").display());
    let state = dir.join("state");
    for command in ["daemon", "worker"] {
        let output = std::process::Command::new("runuser")
            .args(["-u", "nobody", "--", env!("CARGO_BIN_EXE_cronq"), command])
            .arg("--schedule")
            .arg(&yaml)
            .args(["--store", &store, "--containment", "cgroup", "--state-dir"])
            .arg(&state)
            .output()
            .expect("runuser runs");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{command}: {stderr}");
        assert!(
            stderr.starts_with("cronq: containment `cgroup` needs a writable cgroup2")
                && stderr.lines().count() == 1,
            "{command}: {stderr}"
        );
    }
}
