//! Containment by cgroup2: one cgroup per run, below a cgroup of the worker's process,
//! `<the worker's cgroup>/cronq-<pid>-<start>/run-<run id>`.
//!
//! The cgroup2 mount is read from `/proc/self/mountinfo` (hybrid hosts mount it at
//! `/sys/fs/cgroup/unified`), the worker's cgroup from `/proc/self/cgroup`. No
//! controller is enabled anywhere: `cgroup.kill` needs none, and a cgroup without
//! controllers may have children beside its own processes, as a systemd service's has.
//! A run's child joins its cgroup before exec (`spawn.rs`), so whatever it starts is
//! born inside; SIGTERM goes to every process listed in it, SIGKILL through
//! `cgroup.kill`, which no fork escapes. What a worker killed with -9 leaves behind
//! (its `cronq-<pid>-<start>`) is killed and removed by the next worker to start.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::fd::{AsFd, BorrowedFd};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::{AccessFlags, Pid, access};

use super::procfs;

/// How long a stale cgroup's processes may take to die after `cgroup.kill`.
const STALE_PATIENCE: Duration = Duration::from_secs(2);

/// This process's cgroup for its runs' cgroups.
#[derive(Debug)]
pub struct Container {
    /// Its directory in the cgroup2 mount.
    dir: PathBuf,
    /// Its path as `/proc/PID/cgroup` shows it.
    path: String,
}

/// The process's container, found and created once (or why there is none).
pub fn container() -> Result<&'static Container, String> {
    static CONTAINER: OnceLock<Result<Container, String>> = OnceLock::new();
    CONTAINER
        .get_or_init(Container::create)
        .as_ref()
        .map_err(Clone::clone)
}

impl Container {
    /// Creates `cronq-<pid>-<start>` in the worker's cgroup, once it is known to give
    /// what containment needs, and removes the stale ones beside it.
    fn create() -> Result<Container, String> {
        let mountinfo = fs::read_to_string("/proc/self/mountinfo")
            .map_err(|error| format!("cannot read /proc/self/mountinfo: {error}"))?;
        let own = fs::read_to_string("/proc/self/cgroup")
            .ok()
            .and_then(|text| procfs::own_cgroup_in(&text))
            .ok_or("this process is in no cgroup2 (no `0::` line in /proc/self/cgroup)")?;
        let (mount, root) = cgroup2_mount(&mountinfo, &own).ok_or("no cgroup2 is mounted")?;
        let own_rel = own.strip_prefix(root.trim_end_matches('/')).unwrap_or(&own);
        let parent = mount.join(own_rel.trim_start_matches('/'));
        let procs = parent.join("cgroup.procs");
        if access(&procs, AccessFlags::W_OK).is_err() {
            return Err(format!(
                "{} is not writable, so a run's child cannot be moved below it",
                procs.display()
            ));
        }
        let me = procfs::stat(std::process::id() as i32).ok_or("cannot read /proc/self/stat")?;
        let name = format!("cronq-{}-{}", me.pid, me.start);
        let dir = parent.join(&name);
        match fs::create_dir(&dir) {
            Ok(()) => {}
            Err(error) if error.kind() == io::ErrorKind::AlreadyExists => {}
            Err(error) => {
                return Err(format!(
                    "cannot create a cgroup in {}: {error}",
                    parent.display()
                ));
            }
        }
        if !dir.join("cgroup.kill").exists() {
            let _ = fs::remove_dir(&dir);
            return Err("the kernel has no cgroup.kill (it came with Linux 5.14)".into());
        }
        remove_stale(&parent, &name);
        let path = format!("{}/{name}", own.trim_end_matches('/'));
        Ok(Container { dir, path })
    }

    /// Its directory, for the log.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Its path as `/proc/PID/cgroup` shows it.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// A new cgroup for one run's processes, named after `name` (`run-<id>`).
    pub fn run_cgroup(&self, name: &str) -> io::Result<RunCgroup> {
        let name: String = name
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        for n in 1.. {
            let leaf = if n == 1 {
                name.clone()
            } else {
                format!("{name}.{n}")
            };
            let dir = self.dir.join(&leaf);
            match fs::create_dir(&dir) {
                Ok(()) => {
                    let procs = OpenOptions::new()
                        .write(true)
                        .open(dir.join("cgroup.procs"))?;
                    return Ok(RunCgroup {
                        path: format!("{}/{leaf}", self.path),
                        dir,
                        procs: Some(procs),
                    });
                }
                Err(error) if error.kind() == io::ErrorKind::AlreadyExists => continue,
                // Removed by a worker of this process that stopped: made again.
                Err(error) if error.kind() == io::ErrorKind::NotFound && n < 3 => {
                    fs::create_dir(&self.dir).or_else(|e| match e.kind() {
                        io::ErrorKind::AlreadyExists => Ok(()),
                        _ => Err(e),
                    })?;
                }
                Err(error) => return Err(error),
            }
        }
        unreachable!("the loop returns")
    }

    /// Removes the container if no run cgroup is left in it (a worker of this process
    /// that still runs keeps it; the next run makes it again if it was removed).
    pub fn remove_if_empty(&self) {
        let _ = fs::remove_dir(&self.dir);
    }
}

/// The mount point and root of the cgroup2 mount that holds `own`, from mountinfo:
/// `ID PARENT MAJ:MIN ROOT MOUNT OPTIONS [OPTIONAL…] - FSTYPE SOURCE SUPER`.
fn cgroup2_mount(mountinfo: &str, own: &str) -> Option<(PathBuf, String)> {
    mountinfo.lines().find_map(|line| {
        let (left, right) = line.split_once(" - ")?;
        if right.split_whitespace().next()? != "cgroup2" {
            return None;
        }
        let fields: Vec<&str> = left.split_whitespace().collect();
        let root = unescape(fields.get(3)?);
        let mount = unescape(fields.get(4)?);
        let inside = root == "/" || super::reap::under(own, root.trim_end_matches('/'));
        inside.then(|| (PathBuf::from(mount), root))
    })
}

/// mountinfo writes a space, tab, newline and backslash as `\040`, `\011`, `\012`, `\134`.
fn unescape(field: &str) -> String {
    let mut out = String::with_capacity(field.len());
    let mut rest = field;
    while let Some(at) = rest.find('\\') {
        out.push_str(&rest[..at]);
        let code = rest
            .get(at + 1..at + 4)
            .and_then(|d| u8::from_str_radix(d, 8).ok());
        match code {
            Some(byte) => {
                out.push(byte as char);
                rest = &rest[at + 4..];
            }
            None => {
                out.push('\\');
                rest = &rest[at + 1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// Kills and removes each `cronq-<pid>-<start>` beside `ours` whose process is gone: a
/// worker killed with -9 left it, with whatever its runs still had running.
fn remove_stale(parent: &Path, ours: &str) {
    let Ok(entries) = fs::read_dir(parent) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if name == ours || !entry.path().is_dir() {
            continue;
        }
        let Some((pid, start)) = name
            .strip_prefix("cronq-")
            .and_then(|rest| rest.split_once('-'))
            .and_then(|(pid, start)| Some((pid.parse::<i32>().ok()?, start.parse::<u64>().ok()?)))
        else {
            continue;
        };
        if procfs::stat(pid).is_some_and(|owner| owner.start == start) {
            continue;
        }
        let dir = entry.path();
        let left = processes(&dir).len();
        kill_tree(&dir);
        let deadline = Instant::now() + STALE_PATIENCE;
        while populated(&dir) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        remove_tree(&dir);
        if left > 0 {
            tracing::warn!(
                cgroup = %dir.display(),
                processes = left,
                "killed what the runs of a worker that died (pid {pid}) left running"
            );
        }
    }
}

/// The processes of one run, in their cgroup.
pub struct RunCgroup {
    dir: PathBuf,
    /// As `/proc/PID/cgroup` shows it.
    path: String,
    /// Its `cgroup.procs`, open until the leader has joined through it.
    procs: Option<File>,
}

impl RunCgroup {
    /// The descriptor the leader writes `0` to, to join the cgroup before exec.
    pub fn join_fd(&self) -> Option<BorrowedFd<'_>> {
        self.procs.as_ref().map(AsFd::as_fd)
    }

    /// The leader has started (and joined): the descriptor is no longer needed.
    pub fn started(&mut self) {
        self.procs = None;
    }

    /// Its path as `/proc/PID/cgroup` shows it.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// SIGTERM to every process in the cgroup; SIGKILL to all at once, through
    /// `cgroup.kill`, which also stops any fork from landing inside meanwhile.
    pub fn signal(&self, signal: Signal) {
        if signal == Signal::SIGKILL {
            if let Err(error) = write_kill(&self.dir) {
                tracing::warn!(cgroup = %self.dir.display(), %error, "cannot kill the run's cgroup");
            }
            return;
        }
        for pid in processes(&self.dir) {
            let _ = kill(Pid::from_raw(pid), signal);
        }
    }

    /// No live process is left in the cgroup (a dead one waiting to be reaped is not).
    pub fn is_empty(&self) -> bool {
        !populated(&self.dir)
    }
}

impl Drop for RunCgroup {
    /// The cgroup goes with the run. One still populated (the worker's task was dropped
    /// without the run's end) stays, for the next worker's start to kill and remove.
    fn drop(&mut self) {
        if !populated(&self.dir) {
            remove_tree(&self.dir);
        }
    }
}

/// The pids in `dir` and in the cgroups below it.
fn processes(dir: &Path) -> Vec<i32> {
    let mut pids: Vec<i32> = fs::read_to_string(dir.join("cgroup.procs"))
        .unwrap_or_default()
        .split_whitespace()
        .filter_map(|pid| pid.parse().ok())
        .collect();
    for sub in subdirs(dir) {
        pids.extend(processes(&sub));
    }
    pids
}

/// `populated 1` in `cgroup.events`: a live process is in the cgroup or below it.
fn populated(dir: &Path) -> bool {
    fs::read_to_string(dir.join("cgroup.events"))
        .map(|events| events.lines().any(|line| line == "populated 1"))
        .unwrap_or(false)
}

fn write_kill(dir: &Path) -> io::Result<()> {
    OpenOptions::new()
        .write(true)
        .open(dir.join("cgroup.kill"))?
        .write_all(b"1")
}

fn kill_tree(dir: &Path) {
    // A cgroup gone meanwhile was removed by its own worker: nothing is left to kill.
    if let Err(error) = write_kill(dir)
        && error.kind() != io::ErrorKind::NotFound
    {
        tracing::warn!(cgroup = %dir.display(), %error, "cannot kill a stale cgroup");
    }
}

/// Removes `dir` and the cgroups a job may have made below it, deepest first.
fn remove_tree(dir: &Path) {
    for sub in subdirs(dir) {
        remove_tree(&sub);
    }
    if let Err(error) = fs::remove_dir(dir)
        && error.kind() != io::ErrorKind::NotFound
    {
        tracing::debug!(cgroup = %dir.display(), %error, "cannot remove a run's cgroup");
    }
}

fn subdirs(dir: &Path) -> Vec<PathBuf> {
    fs::read_dir(dir)
        .map(|entries| {
            entries
                .flatten()
                .filter(|entry| entry.file_type().is_ok_and(|t| t.is_dir()))
                .map(|entry| entry.path())
                .collect()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cgroup2_mount_is_found_in_mountinfo_wherever_it_is() {
        let hybrid = "\
30 24 0:26 / /sys/fs/cgroup ro,nosuid - tmpfs tmpfs ro,mode=755
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime shared:9 - cgroup2 cgroup2 rw
42 30 0:39 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory
";
        assert_eq!(
            cgroup2_mount(hybrid, "/"),
            Some((PathBuf::from("/sys/fs/cgroup/unified"), "/".into()))
        );
        let spaced = "41 31 0:38 /pod /mnt/cg\\0402 rw - cgroup2 none rw\n";
        assert_eq!(
            cgroup2_mount(spaced, "/pod/app"),
            Some((PathBuf::from("/mnt/cg 2"), "/pod".into()))
        );
        assert_eq!(cgroup2_mount(spaced, "/other"), None);
        assert_eq!(
            cgroup2_mount("42 30 0:39 / /x rw - cgroup cgroup rw\n", "/"),
            None
        );
    }
}
