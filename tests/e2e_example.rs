//! The README's promise about the example schedule: on a fresh machine, every job of
//! `crontab.example.yaml` succeeds when run through the daemon, as root and as a user
//! who is neither root nor `nobody` (`daemon`, on every Debian host).

mod common;

use std::os::unix::fs::chown;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use nix::sys::signal::{Signal, kill};
use nix::unistd::{Pid, Uid, User};

const EXAMPLE: &str = include_str!("../crontab.example.yaml");
/// Every job of the example, the ones without a schedule included.
const JOBS: [&str; 6] = [
    "heartbeat",
    "disk-report",
    "nightly-cleanup",
    "monthly-summary",
    "warm-cache",
    "echo-args",
];

/// `cronq ARGS` in `dir`, as `user` when one is given (through `setpriv`, which keeps
/// the environment), with `dir/state` as the state dir.
fn cronq(dir: &Path, user: Option<&User>, args: &[&str]) -> Command {
    let binary = env!("CARGO_BIN_EXE_cronq");
    let mut command = match user {
        Some(user) => {
            let mut command = Command::new("setpriv");
            command
                .arg(format!("--reuid={}", user.uid))
                .arg(format!("--regid={}", user.gid))
                .args(["--clear-groups", "--", binary]);
            command
        }
        None => Command::new(binary),
    };
    for (name, _) in std::env::vars().filter(|(name, _)| name.starts_with("CRONQ_")) {
        command.env_remove(name);
    }
    command
        .args(args)
        .current_dir(dir)
        .env("XDG_STATE_HOME", dir.join("state"))
        .env("NO_COLOR", "1");
    command
}

/// Starts a daemon on the example in a fresh dir, runs each job by hand with `--wait`,
/// and asserts each exits 0.
fn every_job_succeeds(user: Option<&User>) {
    let scratch = common::Scratch::new();
    let dir = scratch.path();
    scratch.write("crontab.yaml", EXAMPLE);
    if let Some(user) = user {
        chown(dir, Some(user.uid.as_raw()), Some(user.gid.as_raw())).expect("chown");
        chown(dir.join("crontab.yaml"), Some(user.uid.as_raw()), None).expect("chown");
    }
    let log = std::fs::File::create(dir.join("daemon.log")).expect("a log file");
    let mut daemon: Child = cronq(dir, user, &["daemon"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("cronq daemon starts");
    let mut failures = Vec::new();
    for job in JOBS {
        let output = cronq(dir, user, &["run", job, "--wait"])
            .output()
            .expect("cronq run");
        if output.status.code() != Some(0) {
            failures.push(format!(
                "{job}: {:?}\n{}{}",
                output.status.code(),
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            ));
        }
    }
    kill(Pid::from_raw(daemon.id() as i32), Signal::SIGTERM).expect("the daemon is there");
    let stopped = wait_for_exit(&mut daemon, Duration::from_secs(15));
    let logs = std::fs::read_to_string(dir.join("daemon.log")).unwrap_or_default();
    assert!(failures.is_empty(), "{failures:#?}\n{logs}");
    assert_eq!(stopped, Some(0), "the daemon stops cleanly\n{logs}");
}

fn wait_for_exit(child: &mut Child, patience: Duration) -> Option<i32> {
    let deadline = std::time::Instant::now() + patience;
    while std::time::Instant::now() < deadline {
        if let Some(status) = child.try_wait().expect("wait") {
            return status.code();
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    None
}

#[test]
fn every_example_job_succeeds_as_this_user() {
    every_job_succeeds(None);
}

#[test]
fn every_example_job_succeeds_as_another_user() {
    if !Uid::effective().is_root() {
        eprintln!("skipped: needs root to run cronq as another user");
        return;
    }
    let Some(user) = User::from_name("daemon").expect("the user database") else {
        eprintln!("skipped: this host has no user `daemon`");
        return;
    };
    every_job_succeeds(Some(&user));
}
