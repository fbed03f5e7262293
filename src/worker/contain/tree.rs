//! Containment without a cgroup: a run's process tree, tracked through `/proc` while it
//! runs, so that what it started is still known once it left the group, the session or
//! its parent.
//!
//! Every [`POLL`] the tree is walked from the leader and from each process already seen
//! (`/proc/PID/task/*/children`), each recorded with its start time, so that a reused
//! pid is never taken for a member. An orphan is re-parented to the worker (its child
//! subreaper); one never seen in the walk is still the run's when it kept the leader's
//! process group or the run's `CRONQ_RUN_ID` in its environment. What this cannot
//! catch: a process that left the tree between two walks (a fast double fork) and also
//! changed its group and dropped its environment; one that moved under another
//! subreaper.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use nix::errno::Errno;
use nix::sys::signal::{Signal, kill, killpg};
use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
use nix::unistd::Pid;

use super::procfs::{self, Stat};
use super::reap;

/// How often a running run's tree is walked.
pub const POLL: Duration = Duration::from_millis(50);

/// The processes of one run, as far as they were seen.
pub struct Tree {
    /// The run's id, as its processes have it in `CRONQ_RUN_ID`.
    run: String,
    /// The leader's pid, also its process group's id, once started.
    leader: Option<i32>,
    /// Every process seen in the run: pid → start time.
    seen: BTreeMap<i32, u64>,
    /// The worker's children looked at and found to be another run's: (pid, start).
    others: BTreeSet<(i32, u64)>,
}

impl Tree {
    pub fn new(run: &str) -> Tree {
        Tree {
            run: run.to_string(),
            leader: None,
            seen: BTreeMap::new(),
            others: BTreeSet::new(),
        }
    }

    /// The leader `pid` has started.
    pub fn started(&mut self, pid: i32) {
        self.leader = Some(pid);
        // The leader is a member too: it may move to another group of its session.
        if let Some(stat) = procfs::stat(pid) {
            self.seen.insert(pid, stat.start);
        }
        self.walk();
    }

    /// Records every process of the run that can be seen now.
    pub fn walk(&mut self) {
        let Some(leader) = self.leader else {
            return;
        };
        // Members that are gone are forgotten: their pids may be reused. A dead one not
        // yet reaped stays, to be reaped.
        self.seen
            .retain(|&pid, &mut start| procfs::stat(pid).is_some_and(|stat| stat.start == start));
        self.claim_orphans(leader);
        let mut frontier: Vec<i32> = self.seen.keys().copied().collect();
        let mut walked = BTreeSet::new();
        while let Some(pid) = frontier.pop() {
            if !walked.insert(pid) {
                continue;
            }
            for child in procfs::children(pid) {
                if let Some(stat) = procfs::stat(child)
                    && self.seen.insert(child, stat.start) != Some(stat.start)
                {
                    frontier.push(child);
                }
            }
        }
    }

    /// The worker's children that are the run's without having been seen in it: still
    /// in the leader's group, or with the run's id in their environment.
    fn claim_orphans(&mut self, leader: i32) {
        let children = procfs::own_children();
        self.others.retain(|(pid, _)| children.contains(pid));
        for pid in children {
            if pid == leader || reap::is_leader(pid) {
                continue;
            }
            let Some(stat) = procfs::stat(pid) else {
                continue;
            };
            let key = (pid, stat.start);
            if self.seen.get(&pid) == Some(&stat.start) || self.others.contains(&key) {
                continue;
            }
            if stat.pgrp == leader {
                self.seen.insert(pid, stat.start);
                continue;
            }
            // A zombie's environment reads empty, as does one in the middle of an exec:
            // looked at again at the next walk.
            match procfs::has_env(pid, "CRONQ_RUN_ID", &self.run) {
                Some(true) => {
                    self.seen.insert(pid, stat.start);
                }
                Some(false) => {
                    self.others.insert(key);
                }
                None => {}
            }
        }
    }

    /// The members seen that still live (not dead, not a reused pid).
    fn alive(&self) -> Vec<i32> {
        self.seen
            .iter()
            .filter(|&(&pid, &start)| {
                procfs::stat(pid).is_some_and(|stat| stat.start == start && !stat.is_zombie())
            })
            .map(|(&pid, _)| pid)
            .collect()
    }

    /// Sends `signal` to the leader's group and to every live member, after a walk.
    pub fn signal(&mut self, signal: Signal) {
        self.walk();
        if let Some(leader) = self.leader {
            match killpg(Pid::from_raw(leader), signal) {
                Ok(()) | Err(Errno::ESRCH) => {}
                Err(error) => {
                    tracing::warn!(pgid = leader, %signal, %error, "cannot signal the job's process group");
                }
            }
        }
        for pid in self.alive() {
            let _ = kill(Pid::from_raw(pid), signal);
        }
    }

    /// Reaps the dead members that are the worker's children; then whether no member is
    /// left, not even a dead one in the leader's group. Call after the leader was waited.
    pub fn is_empty(&mut self) -> bool {
        self.walk();
        let Some(leader) = self.leader else {
            return true;
        };
        let seen = &self.seen;
        reap::reap_members(|stat: &Stat| {
            stat.pgrp == leader || seen.get(&stat.pid) == Some(&stat.start)
        });
        reap_group(leader);
        self.alive().is_empty() && killpg(Pid::from_raw(leader), None) == Err(Errno::ESRCH)
    }
}

/// Reaps the dead members of the group `pgid` that are the worker's children, without
/// blocking (the leader is tokio's and was waited for before).
fn reap_group(pgid: i32) {
    loop {
        match waitpid(Pid::from_raw(-pgid), Some(WaitPidFlag::WNOHANG)) {
            Ok(WaitStatus::StillAlive) | Err(Errno::ECHILD) => return,
            Ok(_) | Err(Errno::EINTR) => continue,
            Err(error) => {
                tracing::debug!(pgid, %error, "cannot reap the group");
                return;
            }
        }
    }
}
