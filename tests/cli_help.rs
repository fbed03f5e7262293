//! Help and completions: every subcommand explains itself, and shells can complete them.

mod common;

use common::{Scratch, texts};

const COMMANDS: [&str; 13] = [
    "daemon",
    "worker",
    "run",
    "status",
    "history",
    "show",
    "logs",
    "cancel",
    "progress",
    "check",
    "next",
    "import",
    "completions",
];

#[test]
fn every_subcommand_has_help() {
    let scratch = Scratch::new();
    let output = scratch.cronq().arg("--help").output().unwrap();
    let (top, _) = texts(&output);
    assert!(
        top.contains("Exit codes: 0 ok, 1 the thing asked about failed, 2 usage"),
        "{top}"
    );
    for command in COMMANDS {
        assert!(
            top.contains(&format!("\n  {command} ")),
            "`{command}` is listed: {top}"
        );
        let output = scratch.cronq().args([command, "--help"]).output().unwrap();
        assert_eq!(output.status.code(), Some(0), "{command} --help");
        assert!(
            texts(&output)
                .0
                .contains(&format!("Usage: cronq {command}")),
            "{command}"
        );
    }
}

#[test]
fn completions_cover_the_subcommands() {
    let output = Scratch::new()
        .cronq()
        .args(["completions", "bash"])
        .output()
        .unwrap();
    let (script, _) = texts(&output);
    assert_eq!(output.status.code(), Some(0));
    assert!(script.contains("_cronq()"), "{script}");
    assert!(
        script.contains("history") && script.contains("--follow"),
        "subcommands and their flags"
    );
}

#[test]
fn a_bad_flag_is_exit_2() {
    let output = Scratch::new()
        .cronq()
        .args(["history", "--limit", "lots"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(texts(&output).1.contains("--limit"));
}

#[test]
fn no_help_promises_metrics_that_are_not_served() {
    let scratch = Scratch::new();
    for command in std::iter::once("--help").chain(COMMANDS) {
        let mut cronq = scratch.cronq();
        if command != "--help" {
            cronq.arg(command);
        }
        let (help, _) = texts(&cronq.arg("--help").output().unwrap());
        assert!(!help.contains("Serve Prometheus"), "{command}: {help}");
        if help.contains("--metrics-addr") {
            assert!(help.contains("nothing is served yet"), "{command}: {help}");
        }
    }
}
