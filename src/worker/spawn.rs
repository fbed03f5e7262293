//! Starting a child: the command line from the job and the run's ad-hoc args, its
//! environment, workdir and user, in a process group of its own (and in its run's cgroup
//! when it has one), with the descriptors it inherits (the job's host lock, its progress
//! pipe). Nothing here waits for or signals the child.
//!
//! The child's environment is the worker's, without the worker's own `CRONQ_*`
//! variables (an operator's `CRONQ_STORE` holds the store's password) and systemd's
//! for the service (`NOTIFY_SOCKET` …: a job must not speak for the daemon), then the
//! job's `env`, then what the caller adds.

use std::ffi::OsString;
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, IntoRawFd, OwnedFd, RawFd};
use std::path::Path;
use std::process::Stdio;
use std::sync::OnceLock;

use nix::fcntl::{FcntlArg, FdFlag, fcntl};
use nix::unistd::{Uid, User, dup2_raw};
use tokio::process::{Child, Command as Process};

use crate::schedule::{Command, Job};

/// What a child is started from: the job's settings and the run's additions.
pub struct Launch<'a> {
    pub job: &'a Job,
    pub command: &'a Command,
    /// Appended to the command (the run's ad-hoc args).
    pub args: &'a [String],
    /// Set after the job's env; `CRONQ_*` variables go here too, last, so they win.
    pub env: Vec<(String, String)>,
    pub stdout: Stdio,
    pub stderr: Stdio,
    /// Descriptors the child inherits: the job's host lock (`host_lock.rs`), its
    /// progress pipe (`progress.rs`).
    pub inherit: Vec<Inherit<'a>>,
    /// The `cgroup.procs` of the run's cgroup: the child writes `0` to it before exec,
    /// so that it and all it starts are in the run's cgroup from their first instruction
    /// (`contain/`). Set by the containment, `None` in a `Launch` made elsewhere.
    pub cgroup: Option<BorrowedFd<'a>>,
}

/// A descriptor the child inherits, open until the spawn.
pub struct Inherit<'a> {
    pub fd: BorrowedFd<'a>,
    /// Its number in the child; `None` keeps the worker's number.
    pub at: Option<RawFd>,
}

/// The program and its arguments: an argv as it is, a string through `/bin/sh -c`,
/// each with `args` appended (shell-quoted for a string).
pub fn command_line(command: &Command, args: &[String]) -> Result<Vec<String>, String> {
    match command {
        Command::Argv(argv) if argv.is_empty() => Err("the job's command is empty".into()),
        Command::Argv(argv) => Ok(argv.iter().chain(args).cloned().collect()),
        Command::Shell(script) => {
            let mut script = script.clone();
            for arg in args {
                script.push(' ');
                script.push_str(&shell_quote(arg));
            }
            Ok(vec!["/bin/sh".into(), "-c".into(), script])
        }
    }
}

/// `arg` as one word of `/bin/sh`: as it is when it is plainly safe, else in single
/// quotes, with each `'` written as `'\''`.
pub fn shell_quote(arg: &str) -> String {
    let plain = |c: char| c.is_ascii_alphanumeric() || "_@%+=:,./-".contains(c);
    if !arg.is_empty() && arg.chars().all(plain) {
        arg.to_string()
    } else {
        format!("'{}'", arg.replace('\'', r"'\''"))
    }
}

/// Starts the child in a process group of its own (its pgid is its pid), with stdin
/// null. The error is the reason the run failed, as a user reads it.
pub fn start(launch: Launch<'_>) -> Result<Child, String> {
    let job = launch.job;
    let argv = command_line(launch.command, launch.args)?;
    let mut process = Process::new(&argv[0]);
    process
        .args(&argv[1..])
        .stdin(Stdio::null())
        .stdout(launch.stdout)
        .stderr(launch.stderr)
        .process_group(0)
        // The group is killed and reaped by `kill.rs`; dropping a handle kills nothing.
        .kill_on_drop(false);
    if let Some(workdir) = &job.workdir {
        // Checked here because a failed chdir in the child reads like a missing program.
        if !workdir.is_dir() {
            return Err(format!(
                "the workdir {} is not a directory",
                workdir.display()
            ));
        }
        process.current_dir(workdir);
    }
    if let Some(name) = &job.user
        && let Some(user) = switch_to(name)?
    {
        process
            .uid(user.uid.as_raw())
            .gid(user.gid.as_raw())
            .env("HOME", &user.dir)
            .env("USER", &user.name)
            .env("LOGNAME", &user.name);
    }
    for name in worker_cronq_vars() {
        process.env_remove(name);
    }
    for name in crate::systemd::SERVICE_VARS {
        process.env_remove(name);
    }
    process.envs(&job.env).envs(launch.env);
    let (moves, _copies) = plan(&launch.inherit)
        .map_err(|error| format!("cannot pass a descriptor to the job: {error}"))?;
    let cgroup = launch.cgroup.map(|fd| fd.as_raw_fd());
    if !moves.is_empty() || cgroup.is_some() {
        before_exec(&mut process, moves, cgroup);
    }
    // `launch.inherit` and `launch.cgroup` borrow their descriptors, and `_copies` owns
    // any copy, until here: they are open at the fork.
    process.spawn().map_err(|error| {
        format!(
            "cannot start {}: {error}",
            describe(&argv[0], job.workdir.as_deref())
        )
    })
}

/// The worker's own `CRONQ_*` variables, which no child gets. Read once: the worker
/// never changes its environment.
fn worker_cronq_vars() -> &'static [OsString] {
    static NAMES: OnceLock<Vec<OsString>> = OnceLock::new();
    NAMES.get_or_init(|| {
        std::env::vars_os()
            .map(|(name, _)| name)
            .filter(|name| name.as_encoded_bytes().starts_with(b"CRONQ_"))
            .collect()
    })
}

/// (a descriptor's number in the worker, its number in the child), for each one the
/// child inherits.
type Moves = Vec<(RawFd, RawFd)>;

/// Each descriptor to inherit as (its number in the worker, its number in the child).
/// One kept at its own number that another is to be moved onto is copied first (the
/// copy owned by the second list until the spawn): the move would close it.
fn plan(inherit: &[Inherit<'_>]) -> io::Result<(Moves, Vec<OwnedFd>)> {
    let targets: Vec<RawFd> = inherit.iter().filter_map(|i| i.at).collect();
    let mut copies = Vec::new();
    let mut moves = Vec::with_capacity(inherit.len());
    for entry in inherit {
        let fd = entry.fd.as_raw_fd();
        match entry.at {
            Some(at) => moves.push((fd, at)),
            None if targets.contains(&fd) => {
                // The copy takes a free number, and `fd` itself is not free.
                let copy = entry.fd.try_clone_to_owned()?;
                moves.push((copy.as_raw_fd(), copy.as_raw_fd()));
                copies.push(copy);
            }
            None => moves.push((fd, fd)),
        }
    }
    // Those kept at their number first: a move onto a number is then the last word.
    moves.sort_by_key(|(from, to)| from != to);
    Ok((moves, copies))
}

/// What the child does between fork and exec. It joins its run's cgroup by writing `0`
/// to the `cgroup.procs` open as `cgroup`, before it can fork anything that would escape
/// (the permission is checked against the worker's credentials, which opened the file,
/// though a job's `user` is already in force here). Then it inherits each (descriptor,
/// number) of `moves`: kept at its number, FD_CLOEXEC is cleared; moved, it is
/// duplicated onto the number, which dup2(2) leaves without FD_CLOEXEC. Both happen in
/// the child only, so that no other child the worker starts meanwhile gets the
/// descriptor, as it would if the flag were cleared in the worker. The one `unsafe` of
/// the crate.
#[allow(unsafe_code)]
fn before_exec(process: &mut Process, moves: Moves, cgroup: Option<RawFd>) {
    // SAFETY: `pre_exec` is unsafe because its closure runs in the forked child, where
    // only async-signal-safe calls are sound. This one makes write(2), fcntl(2) and
    // dup2(2) calls, all async-signal-safe; it allocates nothing (the list was built
    // before the fork, the bytes written are a static, an `Errno` becomes an `io::Error`
    // without the heap, and `into_raw_fd` only forgets the duplicate) and takes no
    // lock. `borrow_raw` is sound because each descriptor is open in the child: `start`
    // is given them as `BorrowedFd`s (or owns a copy) that outlive the spawn, and fork
    // copies the descriptor table. The cgroup is joined first, so a move onto the
    // number of its descriptor comes too late to matter; a move's target is otherwise a
    // number the child wants, and whatever it held in the worker is the worker's own
    // (`plan` copied away any descriptor to inherit from it).
    unsafe {
        process.pre_exec(move || {
            if let Some(fd) = cgroup {
                nix::unistd::write(BorrowedFd::borrow_raw(fd), b"0")?;
            }
            for &(from, to) in &moves {
                let fd = BorrowedFd::borrow_raw(from);
                if from == to {
                    fcntl(fd, FcntlArg::F_SETFD(FdFlag::empty()))?;
                } else {
                    // Kept open for the exec: the child's descriptor at `to`.
                    let _ = dup2_raw(fd, to)?.into_raw_fd();
                }
            }
            Ok(())
        });
    }
}

/// The user to switch to, `None` when the worker already runs as that user.
///
/// Only the uid and gid change: when root sets a uid, std drops the worker's
/// supplementary groups (setgroups with none), and the user's own supplementary groups
/// are not given (that would need `setgroups` in a `pre_exec`).
fn switch_to(name: &str) -> Result<Option<User>, String> {
    let user = User::from_name(name)
        .map_err(|error| format!("cannot look up the user `{name}`: {error}"))?
        .ok_or_else(|| format!("there is no user `{name}` on this host"))?;
    let me = Uid::effective();
    if user.uid == me {
        Ok(None)
    } else if me.is_root() {
        Ok(Some(user))
    } else {
        Err(format!(
            "the job runs as the user `{name}`, but this worker is not root (uid {me}) \
             and cannot switch users"
        ))
    }
}

/// The program as a user would look for it: a relative path is taken from the workdir.
fn describe(program: &str, workdir: Option<&Path>) -> String {
    match workdir {
        Some(dir) if program.contains('/') && !program.starts_with('/') => {
            format!("`{program}` (in {})", dir.display())
        }
        _ => format!("`{program}`"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn an_argv_gets_the_args_appended_as_they_are() {
        let command = Command::Argv(words(&["echo", "a b"]));
        assert_eq!(
            command_line(&command, &words(&["$x", "'q'"])).unwrap(),
            words(&["echo", "a b", "$x", "'q'"])
        );
    }

    #[test]
    fn a_string_gets_the_args_appended_as_quoted_words() {
        let command = Command::Shell("echo hi".into());
        let line = command_line(
            &command,
            &words(&["plain-1.txt", "a b", "it's", "", "$(rm -rf /)"]),
        )
        .unwrap();
        assert_eq!(
            line,
            words(&[
                "/bin/sh",
                "-c",
                r"echo hi plain-1.txt 'a b' 'it'\''s' '' '$(rm -rf /)'"
            ])
        );
    }

    #[test]
    fn quoted_words_reach_the_program_unchanged() {
        let args = words(&["a b", "it's", "", "$HOME", "*", "\\n", "x\"y"]);
        let line = command_line(&Command::Shell("printf '[%s]'".into()), &args).unwrap();
        let output = std::process::Command::new(&line[0])
            .args(&line[1..])
            .output()
            .unwrap();
        assert_eq!(
            String::from_utf8(output.stdout).unwrap(),
            "[a b][it's][][$HOME][*][\\n][x\"y]"
        );
    }

    #[test]
    fn an_empty_argv_is_refused() {
        assert!(command_line(&Command::Argv(vec![]), &[]).is_err());
    }
}
