//! Reaping the worker's children that nobody else waits for: the orphans of runs, which
//! are re-parented to the worker (a child subreaper) when their parents die.
//!
//! The leaders (each run's child and each `on_failure`) are tokio's: tokio waits for
//! them by pid, and a `waitpid(-1)` here would steal their statuses. So they are
//! registered, under one lock that also covers their spawn (a leader that dies at once
//! is registered before anyone can see it dead), and every other dead child is reaped by
//! pid: at once when it is known to belong to a run (its cgroup is in the worker's, or a
//! run's tree saw it), else once it has stayed dead from one scan to the next, so that a
//! child some other code of the process waits for itself is left to that code.

use std::collections::BTreeSet;
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use nix::sys::wait::{WaitPidFlag, waitpid};
use nix::unistd::Pid;
use tokio::process::Child;
use tokio::signal::unix::{SignalKind, signal};
use tokio_util::sync::CancellationToken;

use super::procfs::{self, Stat};

/// The leaders alive now, by pid. Process-wide: several workers may share a process,
/// and each one's scan must spare the others' leaders.
static LEADERS: Mutex<BTreeSet<i32>> = Mutex::new(BTreeSet::new());

/// The slow timer of the scan, for a SIGCHLD that was missed: each SIGCHLD brings a
/// scan, and coalesced ones one scan that finds them all, so this only bounds a rare
/// miss, without waking an idle worker every second.
const SCAN_EVERY: Duration = Duration::from_secs(10);
/// The next scan, while a dead child waits for its second look.
const RESCAN_AFTER: Duration = Duration::from_millis(100);

fn leaders() -> MutexGuard<'static, BTreeSet<i32>> {
    // A panic while the set was held leaves it as it was: still a set of pids.
    LEADERS
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// A leader's registration: while it lives, no scan reaps its pid.
pub struct Leader {
    pid: i32,
}

impl Drop for Leader {
    fn drop(&mut self) {
        leaders().remove(&self.pid);
    }
}

/// Starts a leader with `start` and registers it, both under the lock of the scans.
pub fn start_leader(
    start: impl FnOnce() -> Result<Child, String>,
) -> Result<(Child, Leader), String> {
    let mut leaders = leaders();
    let child = start()?;
    let pid = child.id().expect("a child that was just started has a pid") as i32;
    leaders.insert(pid);
    Ok((child, Leader { pid }))
}

/// Whether `pid` is a leader.
pub fn is_leader(pid: i32) -> bool {
    leaders().contains(&pid)
}

/// Reaps the worker's dead children that are no leader and that `belongs` says are a
/// run's processes; the rest are left. Returns how many were reaped.
pub fn reap_members(belongs: impl Fn(&Stat) -> bool) -> usize {
    let leaders = leaders();
    let mut reaped = 0;
    for stat in dead_children(&leaders) {
        if belongs(&stat) && reap(stat.pid) {
            reaped += 1;
        }
    }
    reaped
}

/// The worker's dead children that are no leader.
fn dead_children(leaders: &BTreeSet<i32>) -> Vec<Stat> {
    procfs::own_children()
        .into_iter()
        .filter(|pid| !leaders.contains(pid))
        .filter_map(procfs::stat)
        .filter(Stat::is_zombie)
        .collect()
}

/// Reaps `pid`, which must be a dead child of this process.
fn reap(pid: i32) -> bool {
    waitpid(Pid::from_raw(pid), Some(WaitPidFlag::WNOHANG)).is_ok()
}

/// Reaps orphans on each SIGCHLD and every [`SCAN_EVERY`], until `stop`. `contained`
/// is the cgroup path of the worker's run cgroups (`/…/cronq-PID-START`), if it has any:
/// a dead child in it is a run's, and is reaped at once.
pub async fn keep_reaping(contained: Option<String>, stop: CancellationToken) {
    let mut sigchld = match signal(SignalKind::child()) {
        Ok(sigchld) => Some(sigchld),
        Err(error) => {
            tracing::warn!(%error, "cannot watch SIGCHLD: orphans are reaped every 10 seconds");
            None
        }
    };
    let in_container = |stat: &Stat| {
        contained
            .as_deref()
            .is_some_and(|prefix| procfs::cgroup(stat.pid).is_some_and(|path| under(&path, prefix)))
    };
    // Dead at the last scan: (pid, start).
    let mut seen_dead = BTreeSet::new();
    loop {
        let waiting = {
            let leaders = leaders();
            let mut still_dead = BTreeSet::new();
            for stat in dead_children(&leaders) {
                let key = (stat.pid, stat.start);
                if !(in_container(&stat) || seen_dead.contains(&key)) || !reap(stat.pid) {
                    still_dead.insert(key);
                }
            }
            seen_dead = still_dead;
            !seen_dead.is_empty()
        };
        let pause = if waiting { RESCAN_AFTER } else { SCAN_EVERY };
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tokio::time::sleep(pause) => {}
            Some(()) = async {
                match sigchld.as_mut() {
                    Some(sigchld) => sigchld.recv().await,
                    None => std::future::pending().await,
                }
            } => {}
        }
    }
}

/// Whether the cgroup `path` is `prefix` or below it.
pub fn under(path: &str, prefix: &str) -> bool {
    path.strip_prefix(prefix)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cgroup_is_under_itself_and_its_ancestors_only() {
        assert!(under("/a/cronq-1-2/run-x", "/a/cronq-1-2"));
        assert!(under("/a/cronq-1-2", "/a/cronq-1-2"));
        assert!(!under("/a/cronq-1-23/run-x", "/a/cronq-1-2"));
        assert!(!under("/a", "/a/cronq-1-2"));
    }
}
