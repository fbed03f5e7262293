//! cronq's own words on stderr never decide how a command ends: with stderr closed
//! (`2>&-`) or full (`2>/dev/full`) every command exits as it would with a terminal
//! there, never 101 from a panic; with stdout full, a listing fails with exit 1 and
//! says so (where it can), and a closed stdout still ends quietly.

mod common;

use std::fs::File;
use std::process::{Command, Stdio};

use common::Scratch;

/// Commands that write to stderr on their way: warnings, notes, errors of each kind.
const COMMANDS: &[&[&str]] = &[
    &["check"],
    &["check", "--schedule", "bad.yaml"],
    &["check", "--schedule", "warned.yaml"],
    &["next", "61 * * * *"],
    &["next", "@reboot"],
    &["import", "crontab.txt"],
    &["import", "missing.txt"],
    &["history"],
    &["show", "01NOSUCHRUN"],
    &["logs", "01NOSUCHRUN"],
    &["cancel", "01NOSUCHRUN"],
    &["run", "no-such-job"],
    &["status", "--store", "redis://127.0.0.1:1/0"],
    &["progress", "40"],
    &["history", "--limit", "lots"],
    &["no-such-command"],
    &["completions", "bash"],
    &["--help"],
];

fn scratch() -> Scratch {
    let scratch = Scratch::new();
    scratch.write(
        "crontab.yaml",
        "jobs:\n  a:\n    schedule: \"@daily\"\n    command: [\"true\"]\n",
    );
    scratch.write(
        "bad.yaml",
        "jobs:\n  a:\n    schedule: \"61 * * * *\"\n    retrys: 1\n",
    );
    scratch.write(
        "warned.yaml",
        "jobs:\n  a:\n    command: [no-such-program-cronq]\n    workdir: /no/such/dir\n",
    );
    scratch.write(
        "crontab.txt",
        "# a note\nMAILTO=ops@example.com\n61 * * * * broken\n@daily ok\n",
    );
    scratch
}

/// `cronq ARGS` with stderr closed, run through `sh` so that fd 2 is really closed.
fn with_stderr_closed(scratch: &Scratch, args: &[&str]) -> Command {
    let mut sh = Command::new("sh");
    sh.arg("-c")
        .arg("exec \"$@\" 2>&-")
        .arg("sh")
        .arg(env!("CARGO_BIN_EXE_cronq"))
        .args(args);
    let base = scratch.std_cronq();
    for (name, value) in base.get_envs() {
        match value {
            Some(value) => sh.env(name, value),
            None => sh.env_remove(name),
        };
    }
    sh.current_dir(scratch.path()).stdout(Stdio::null());
    sh
}

fn full() -> File {
    File::options()
        .write(true)
        .open("/dev/full")
        .expect("/dev/full")
}

#[test]
fn a_closed_or_full_stderr_changes_no_exit_code() {
    let scratch = scratch();
    for args in COMMANDS {
        let normal = scratch.std_cronq().args(*args).output().unwrap();
        let expected = normal.status.code();
        assert!(
            expected.is_some_and(|code| code != 101),
            "{args:?} as it is: {normal:?}"
        );
        assert!(
            !normal.stderr.is_empty() || ["--help", "completions"].contains(&args[0]),
            "{args:?} writes to stderr, so this tries something: {normal:?}"
        );
        let full_stderr = scratch
            .std_cronq()
            .args(*args)
            .stdout(Stdio::null())
            .stderr(full())
            .status()
            .unwrap();
        assert_eq!(full_stderr.code(), expected, "{args:?} 2>/dev/full");
        let closed = with_stderr_closed(&scratch, args).status().unwrap();
        assert_eq!(closed.code(), expected, "{args:?} 2>&-");
    }
}

#[test]
fn a_full_stdout_is_a_failure_and_never_a_panic() {
    let scratch = scratch();
    for args in [
        &["check"][..],
        &["next", "0 0 * * *"],
        &["completions", "bash"],
        &["import", "crontab.txt"],
    ] {
        let output = scratch
            .std_cronq()
            .args(args)
            .stdout(full())
            .stderr(Stdio::piped())
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(
            output.status.code(),
            Some(1),
            "{args:?} >/dev/full: {stderr}"
        );
        assert!(
            stderr.contains("cannot write to stdout"),
            "{args:?}: {stderr}"
        );
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
    }
    // Help goes to stdout through clap, which drops a failed write.
    let help = scratch
        .std_cronq()
        .arg("--help")
        .stdout(full())
        .status()
        .unwrap();
    assert_eq!(help.code(), Some(0));
}

#[test]
fn a_closed_stdout_under_completions_ends_quietly() {
    let scratch = scratch();
    let mut sh = Command::new("sh");
    sh.arg("-c")
        .arg("\"$0\" completions bash | head -c 10 >/dev/null")
        .arg(env!("CARGO_BIN_EXE_cronq"))
        .current_dir(scratch.path());
    let output = sh.output().unwrap();
    assert!(output.status.success(), "{output:?}");
    assert!(
        output.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}
