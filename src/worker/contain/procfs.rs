//! What `/proc` says about a process: its state, parent, group and start time, its
//! children, its environment and its cgroup. Read only; a process that is gone reads as
//! `None` or nothing.

use std::fs;

/// A process as `/proc/PID/stat` shows it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Stat {
    pub pid: i32,
    /// `R`, `S`, `D`, `T`, `Z` (a zombie: dead, not yet reaped) …
    pub state: char,
    pub ppid: i32,
    pub pgrp: i32,
    /// In clock ticks since boot: with the pid, names one process even when pids are
    /// reused.
    pub start: u64,
}

impl Stat {
    pub fn is_zombie(&self) -> bool {
        self.state == 'Z'
    }
}

/// The process `pid`, if it exists (a zombie does).
pub fn stat(pid: i32) -> Option<Stat> {
    parse_stat(pid, &fs::read_to_string(format!("/proc/{pid}/stat")).ok()?)
}

/// `PID (COMM) STATE PPID PGRP …`: COMM may hold spaces and parentheses, so the fields
/// are counted from the last `)`.
fn parse_stat(pid: i32, text: &str) -> Option<Stat> {
    let (_, rest) = text.rsplit_once(')')?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    Some(Stat {
        pid,
        state: fields.first()?.chars().next()?,
        ppid: fields.get(1)?.parse().ok()?,
        pgrp: fields.get(2)?.parse().ok()?,
        // Field 22 of stat(5), the 20th after COMM.
        start: fields.get(19)?.parse().ok()?,
    })
}

/// The children of every thread of `pid` (a child belongs to the thread that forked it,
/// or to the one an orphan was re-parented to).
pub fn children(pid: i32) -> Vec<i32> {
    let Ok(tasks) = fs::read_dir(format!("/proc/{pid}/task")) else {
        return Vec::new();
    };
    let mut children = Vec::new();
    for task in tasks.flatten() {
        if let Ok(text) = fs::read_to_string(task.path().join("children")) {
            children.extend(
                text.split_whitespace()
                    .filter_map(|p| p.parse::<i32>().ok()),
            );
        }
    }
    children
}

/// The children of this process.
pub fn own_children() -> Vec<i32> {
    children(std::process::id() as i32)
}

/// Whether the environment `pid` was started with holds `NAME=VALUE` exactly; `None`
/// when it cannot be read, or reads empty (as it does for a moment during an exec).
pub fn has_env(pid: i32, name: &str, value: &str) -> Option<bool> {
    let environ = fs::read(format!("/proc/{pid}/environ")).ok()?;
    if environ.is_empty() {
        return None;
    }
    let wanted = format!("{name}={value}");
    Some(
        environ
            .split(|&byte| byte == 0)
            .any(|entry| entry == wanted.as_bytes()),
    )
}

/// The cgroup2 path of `pid` (`/a/b`, as `/proc/PID/cgroup` shows it), also for a zombie.
pub fn cgroup(pid: i32) -> Option<String> {
    let text = fs::read_to_string(format!("/proc/{pid}/cgroup")).ok()?;
    own_cgroup_in(&text)
}

/// The `0::PATH` line of a `/proc/PID/cgroup`, without a ` (deleted)` suffix.
pub fn own_cgroup_in(text: &str) -> Option<String> {
    let path = text.lines().find_map(|line| line.strip_prefix("0::"))?;
    Some(path.trim_end_matches(" (deleted)").to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_fields_are_counted_from_the_last_parenthesis() {
        let text = "4242 (a) b (c)) S 17 4242 17 0 -1 4194560 98 0 0 0 0 0 0 0 20 0 1 0 \
                    123456 2211840 215 18446744073709551615";
        assert_eq!(
            parse_stat(4242, text),
            Some(Stat {
                pid: 4242,
                state: 'S',
                ppid: 17,
                pgrp: 4242,
                start: 123456
            })
        );
        assert_eq!(parse_stat(1, "1 (init"), None);
    }

    #[test]
    fn this_process_reads_as_itself() {
        let me = stat(std::process::id() as i32).expect("this process has a stat");
        assert_eq!(me.ppid, nix::unistd::getppid().as_raw());
        assert_ne!(me.state, 'Z');
        let mut child = std::process::Command::new("sleep")
            .arg("5")
            .env("CRONQ_RUN_ID", "01TEST")
            .spawn()
            .unwrap();
        let pid = child.id() as i32;
        // The exec may still be setting up the new environment when spawn returns.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(2);
        while has_env(pid, "CRONQ_RUN_ID", "01TEST") != Some(true) {
            assert!(std::time::Instant::now() < deadline, "never found the env");
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        assert_eq!(has_env(pid, "CRONQ_RUN_ID", "01TES"), Some(false));
        assert!(own_children().contains(&pid));
        child.kill().unwrap();
        child.wait().unwrap();
    }

    #[test]
    fn the_cgroup2_line_is_the_one_with_hierarchy_0() {
        let text = "4:memory:/m\n0::/cronq-1-2/run-x (deleted)\n";
        assert_eq!(own_cgroup_in(text).as_deref(), Some("/cronq-1-2/run-x"));
        assert_eq!(own_cgroup_in("4:memory:/m\n"), None);
    }
}
