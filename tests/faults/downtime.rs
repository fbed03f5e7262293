//! An outage of the store, a full disk and a suspended daemon under an every-second job:
//! the instants missed meanwhile follow `catch_up`, and the skipped ones say why.

use std::path::Path;
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use nix::sys::signal::Signal;

use crate::common::Scratch;
use crate::common::daemon::{Process, eventually};
use crate::common::redis_server::RedisServer;
use cronq::store::redis::RedisStore;
use cronq::store::sqlite::SqliteStore;
use cronq::store::{HistoryFilter, Run, RunStatus, Store, Trigger};

const PATIENCE: Duration = Duration::from_secs(15);

pub fn tick_schedule(catch_up: &str) -> String {
    format!(
        "jobs:\n  tick:\n    schedule: \"* * * * * *\"\n    command: [\"true\"]\n    catch_up: {catch_up}\n"
    )
}

async fn runs(store: &dyn Store) -> Vec<Run> {
    let filter = HistoryFilter {
        job: Some("tick".into()),
        ..HistoryFilter::default()
    };
    let mut runs = store.history(&filter).await.expect("history");
    runs.reverse();
    runs
}

/// A fire of the schedule for an instant after `after`: the daemon fires on time again.
async fn fired_after(store: &dyn Store, after: DateTime<Utc>) -> bool {
    runs(store).await.iter().any(|run| {
        run.trigger == Trigger::Schedule
            && run.status != RunStatus::Skipped
            && run.scheduled_for.is_some_and(|at| at > after)
    })
}

/// What the history of `tick` holds for the instants of a gap from `from` to `to`.
struct Gap {
    /// Fired as the schedule's own: the backlog this must never be.
    on_schedule: usize,
    caught_up: usize,
    /// Skipped with a reason that contains the expected words.
    skipped: usize,
    /// Everything, for the message of a failed assertion.
    seen: Vec<String>,
}

fn gap(runs: &[Run], from: DateTime<Utc>, to: DateTime<Utc>, reason: &str) -> Gap {
    let mut seen_instants = std::collections::BTreeSet::new();
    for run in runs {
        let at = run.scheduled_for.expect("a fired run has its instant");
        assert!(seen_instants.insert(at), "instant {at} fired twice");
    }
    let inside: Vec<&Run> = runs
        .iter()
        .filter(|run| run.scheduled_for.is_some_and(|at| at > from && at < to))
        .collect();
    let on_schedule = inside
        .iter()
        .filter(|r| r.trigger == Trigger::Schedule && r.status != RunStatus::Skipped)
        .count();
    Gap {
        on_schedule,
        caught_up: runs
            .iter()
            .filter(|r| r.trigger == Trigger::CatchUp)
            .count(),
        skipped: inside
            .iter()
            .filter(|r| r.status == RunStatus::Skipped)
            .filter(|r| r.reason.as_deref().is_some_and(|why| why.contains(reason)))
            .count(),
        seen: runs
            .iter()
            .map(|r| {
                format!(
                    "{} {} {} {}",
                    r.scheduled_for.unwrap().format("%H:%M:%S%.3f"),
                    r.trigger.as_str(),
                    r.status,
                    r.reason.as_deref().unwrap_or("")
                )
            })
            .collect(),
    }
}

/// Checks a gap of about `seconds` against `catch_up`: nothing fired as a backlog; `none`
/// fires none and records each, `once` fires one, `all` fires each.
fn assert_follows_catch_up(catch_up: &str, gap: &Gap, seconds: usize) {
    let seen = gap.seen.join("\n");
    assert_eq!(
        gap.on_schedule, 0,
        "catch_up: {catch_up}: a backlog:\n{seen}"
    );
    match catch_up {
        "none" => {
            assert_eq!(gap.caught_up, 0, "catch_up: none:\n{seen}");
            assert!(gap.skipped >= seconds - 1, "catch_up: none:\n{seen}");
        }
        "once" => {
            assert_eq!(gap.caught_up, 1, "catch_up: once:\n{seen}");
            assert!(gap.skipped >= seconds - 2, "catch_up: once:\n{seen}");
        }
        _ => {
            assert!(
                gap.caught_up >= seconds - 1 && gap.caught_up <= seconds + 3,
                "catch_up: all:\n{seen}"
            );
            assert_eq!(gap.skipped, 0, "catch_up: all:\n{seen}");
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_redis_outage_follows_catch_up_instead_of_firing_a_backlog() {
    let mut server = RedisServer::start_persistent();
    let url = server.url();
    let modes = ["none", "once", "all"];
    let mut daemons = Vec::new();
    for catch_up in modes {
        let scratch = Scratch::new();
        scratch.write("crontab.yaml", &tick_schedule(catch_up));
        let prefix = server.unique_prefix();
        let args = [
            "daemon",
            "--no-workers",
            "--store",
            &url,
            "--redis-prefix",
            &prefix,
        ];
        let daemon = Process::start(scratch.path(), "daemon", &args);
        let store = RedisStore::connect(&url, &prefix, 1 << 20).await.unwrap();
        daemons.push((catch_up, scratch, prefix, daemon, store));
    }
    let started = Utc::now();
    for (_, _, _, daemon, store) in &daemons {
        eventually("the daemons fire", PATIENCE, || fired_after(store, started)).await;
        assert!(daemon.logs().contains("fired"));
    }

    let down_at = Utc::now();
    server.stop();
    tokio::time::sleep(Duration::from_secs(5)).await;
    server.restart();
    let back_at = Utc::now();

    for (catch_up, _, prefix, daemon, _) in &mut daemons {
        // The store was restarted: a new connection, as a user's next command makes.
        let store = RedisStore::connect(&url, prefix, 1 << 20).await.unwrap();
        eventually("the daemon fires again", PATIENCE, || {
            fired_after(&store, back_at + TimeDelta::seconds(1))
        })
        .await;
        let logs = daemon.logs();
        assert_eq!(
            logs.matches("firing waits for the store").count(),
            1,
            "one line when the outage starts:\n{logs}"
        );
        assert_eq!(
            logs.matches("the store answers again").count(),
            1,
            "one line when it ends:\n{logs}"
        );
        let history = runs(&store).await;
        let gap = gap(
            &history,
            down_at + TimeDelta::milliseconds(1500),
            back_at,
            "the store was unreachable",
        );
        assert_follows_catch_up(catch_up, &gap, 4);
        daemon.stop(PATIENCE);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_suspended_daemon_follows_catch_up_when_it_resumes() {
    let scratch = Scratch::new();
    scratch.write("crontab.yaml", &tick_schedule("none"));
    let mut daemon = Process::start(scratch.path(), "daemon", &["daemon", "--no-workers"]);
    let store = sqlite_store(&scratch.path().join("state/cronq/cronq.db")).await;
    let started = Utc::now();
    eventually("the daemon fires", PATIENCE, || {
        fired_after(&store, started)
    })
    .await;

    let stopped_at = Utc::now();
    daemon.signal(Signal::SIGSTOP);
    tokio::time::sleep(Duration::from_secs(5)).await;
    daemon.signal(Signal::SIGCONT);
    let resumed_at = Utc::now();
    eventually("the daemon fires again", PATIENCE, || {
        fired_after(&store, resumed_at + TimeDelta::seconds(1))
    })
    .await;
    daemon.stop(PATIENCE);
    let history = runs(&store).await;
    let gap = gap(
        &history,
        stopped_at + TimeDelta::milliseconds(1500),
        resumed_at,
        "suspended or the clock jumped",
    );
    assert_follows_catch_up("none", &gap, 4);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_full_disk_under_sqlite_follows_catch_up_when_space_comes_back() {
    let scratch = Scratch::new();
    let disk = scratch.path().join("disk");
    std::fs::create_dir_all(&disk).unwrap();
    let mounted = std::process::Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=4m", "tmpfs"])
        .arg(&disk)
        .output();
    match mounted {
        Ok(out) if out.status.success() => {}
        Ok(out) => {
            eprintln!(
                "skipped: cannot mount a tmpfs to fill ({}); this test needs root",
                String::from_utf8_lossy(&out.stderr).trim()
            );
            return;
        }
        Err(error) => {
            eprintln!("skipped: cannot run mount: {error}");
            return;
        }
    }
    let _unmount = Unmount(disk.clone());
    scratch.write("crontab.yaml", &tick_schedule("once"));
    let db = disk.join("cronq.db");
    let url = format!("sqlite:{}", db.display());
    let mut daemon = Process::start(
        scratch.path(),
        "daemon",
        &["daemon", "--no-workers", "--store", &url],
    );
    let store = sqlite_store(&db).await;
    let started = Utc::now();
    eventually("the daemon fires", PATIENCE, || {
        fired_after(&store, started)
    })
    .await;

    let full_at = Utc::now();
    fill(&disk.join("filler"));
    eventually("the daemon sees the disk full", PATIENCE, || async {
        daemon.logs().contains("firing waits for the store")
    })
    .await;
    tokio::time::sleep(Duration::from_secs(4)).await;
    std::fs::remove_file(disk.join("filler")).unwrap();
    let freed_at = Utc::now();
    eventually("the daemon fires again", PATIENCE, || {
        fired_after(&store, freed_at + TimeDelta::seconds(1))
    })
    .await;
    daemon.stop(PATIENCE);
    let history = runs(&store).await;
    let gap = gap(
        &history,
        full_at + TimeDelta::milliseconds(1500),
        freed_at,
        "the store was unreachable or failed",
    );
    assert_follows_catch_up("once", &gap, 3);
}

async fn sqlite_store(path: &Path) -> SqliteStore {
    let deadline = std::time::Instant::now() + PATIENCE;
    loop {
        if path.exists()
            && let Ok(store) = SqliteStore::open(path, 1 << 20)
        {
            return store;
        }
        assert!(std::time::Instant::now() < deadline, "no store at {path:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Writes zeros to `path` until the disk is full.
fn fill(path: &Path) {
    use std::io::Write;
    let mut file = std::fs::File::create(path).unwrap();
    let block = vec![0u8; 64 * 1024];
    while file.write_all(&block).is_ok() {}
    let _ = file.sync_all();
}

/// Unmounts the tmpfs when the test ends, however it ends.
struct Unmount(std::path::PathBuf);

impl Drop for Unmount {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg("-l")
            .arg(&self.0)
            .status();
    }
}
