//! Containment: the set of processes of one run, found and killed whatever session or
//! process group they moved to, so that nothing a run started outlives it.
//!
//! Two ways, one per worker, chosen at its start by the `containment` setting: a cgroup
//! per run (`cgroup.rs`), which the kernel keeps whole, where the host gives a writable
//! cgroup2 with `cgroup.kill`; else the run's process tree tracked through the worker,
//! its child subreaper (`tree.rs`). Either way the worker reaps every orphan it becomes
//! the parent of (`reap.rs`). This module starts a run's leader inside its containment
//! and answers for its members; when to signal them is `kill.rs`'s.

mod cgroup;
mod procfs;
pub mod reap;
mod tree;

use std::fmt;

use nix::sys::signal::Signal;
use tokio::process::Child;

use self::cgroup::{Container, RunCgroup};
use self::reap::Leader;
use self::tree::Tree;
use super::spawn::{self, Launch};
use crate::settings::Containment;

/// How this worker contains its runs.
#[derive(Clone, Copy)]
pub enum Host {
    Cgroup(&'static Container),
    Subreaper,
}

impl Host {
    /// The containment `setting` asks for, as this host can give it, and for `auto`
    /// without a cgroup, why not. `cgroup` without one is an error, as a sentence.
    pub fn choose(setting: Containment) -> Result<(Host, Option<String>), String> {
        match (setting, cgroup::container()) {
            (Containment::Subreaper, _) => Ok((Host::Subreaper, None)),
            (_, Ok(container)) => Ok((Host::Cgroup(container), None)),
            (Containment::Auto, Err(why)) => Ok((Host::Subreaper, Some(why))),
            (Containment::Cgroup, Err(why)) => Err(format!(
                "containment `cgroup` needs a writable cgroup2 with cgroup.kill, and this \
                 host gives none: {why}"
            )),
        }
    }

    /// The cgroup path of the runs' cgroups, as `/proc/PID/cgroup` shows it.
    pub fn cgroup_path(&self) -> Option<String> {
        match self {
            Host::Cgroup(container) => Some(container.path().to_string()),
            Host::Subreaper => None,
        }
    }

    /// The processes of a run that has yet to start: `name` is its cgroup's
    /// (`run-<id>`), `run` its id. The error is the reason the run failed.
    pub fn members(&self, name: &str, run: &str) -> Result<Members, String> {
        let way = match self {
            Host::Cgroup(container) => {
                Way::Cgroup(container.run_cgroup(name).map_err(|error| {
                    format!(
                        "cannot create the run's cgroup in {}: {error}",
                        container.dir().display()
                    )
                })?)
            }
            Host::Subreaper => Way::Tree(Tree::new(run)),
        };
        Ok(Members { way, leader: None })
    }

    /// Removes what the worker made for its runs, once it has no run left.
    pub fn stopped(&self) {
        if let Host::Cgroup(container) = self {
            container.remove_if_empty();
        }
    }
}

impl fmt::Display for Host {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Host::Cgroup(container) => write!(f, "cgroup in {}", container.dir().display()),
            Host::Subreaper => f.write_str("subreaper"),
        }
    }
}

/// The processes of one run (or of one `on_failure`).
pub struct Members {
    way: Way,
    /// Registered from the leader's start until these members are dropped.
    leader: Option<Leader>,
}

enum Way {
    Cgroup(RunCgroup),
    Tree(Tree),
}

impl Members {
    /// Starts the leader of `launch` inside the containment.
    pub fn start(&mut self, launch: Launch<'_>) -> Result<Child, String> {
        let cgroup = match &self.way {
            Way::Cgroup(cgroup) => cgroup.join_fd(),
            Way::Tree(_) => None,
        };
        let launch = Launch { cgroup, ..launch };
        let (child, leader) = reap::start_leader(|| spawn::start(launch))?;
        let pid = child.id().expect("a child that was just started has a pid") as i32;
        self.leader = Some(leader);
        match &mut self.way {
            Way::Cgroup(cgroup) => cgroup.started(),
            Way::Tree(tree) => tree.started(pid),
        }
        Ok(child)
    }

    /// Keeps the record of the members while the run goes on; never returns.
    pub async fn track(&mut self) -> std::convert::Infallible {
        loop {
            match &mut self.way {
                Way::Tree(tree) => {
                    tokio::time::sleep(tree::POLL).await;
                    tree.walk();
                }
                // The kernel keeps the record.
                Way::Cgroup(_) => std::future::pending::<()>().await,
            }
        }
    }

    /// Sends `signal` to every member.
    pub fn signal(&mut self, signal: Signal) {
        match &mut self.way {
            Way::Cgroup(cgroup) => cgroup.signal(signal),
            Way::Tree(tree) => tree.signal(signal),
        }
    }

    /// Reaps the members that died as the worker's children, then whether none is left.
    /// Call after the leader was waited for.
    pub fn is_empty(&mut self) -> bool {
        match &mut self.way {
            Way::Cgroup(cgroup) => {
                let path = cgroup.path();
                reap::reap_members(|stat| {
                    procfs::cgroup(stat.pid).is_some_and(|p| reap::under(&p, path))
                });
                cgroup.is_empty()
            }
            Way::Tree(tree) => tree.is_empty(),
        }
    }

    /// Where the members are, for the log.
    pub fn describe(&self) -> String {
        match &self.way {
            Way::Cgroup(cgroup) => format!("cgroup {}", cgroup.path()),
            Way::Tree(_) => "tree".into(),
        }
    }
}
