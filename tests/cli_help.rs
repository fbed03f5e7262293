//! Help and completions: every subcommand explains itself, and shells can complete them.

mod common;

use common::{Scratch, texts};

const COMMANDS: [&str; 16] = [
    "daemon",
    "worker",
    "run",
    "status",
    "history",
    "show",
    "logs",
    "cancel",
    "pause",
    "resume",
    "progress",
    "check",
    "rules",
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
fn the_metrics_address_says_what_it_serves() {
    let scratch = Scratch::new();
    for command in std::iter::once("--help").chain(COMMANDS) {
        let mut cronq = scratch.cronq();
        if command != "--help" {
            cronq.arg(command);
        }
        let (help, _) = texts(&cronq.arg("--help").output().unwrap());
        assert!(!help.contains("nothing is served yet"), "{command}: {help}");
        if help.contains("--metrics-addr") {
            assert!(
                help.contains("Serve Prometheus metrics at /metrics here, without a token"),
                "{command}: {help}"
            );
        }
    }
}

/// The subcommands `cronq --help` lists (not `help` itself).
fn listed_commands(scratch: &Scratch) -> Vec<String> {
    let (top, _) = texts(&scratch.cronq().arg("--help").output().unwrap());
    let commands = top.split("Commands:\n").nth(1).expect("a Commands section");
    commands
        .lines()
        .take_while(|line| line.starts_with("  "))
        .filter_map(|line| line.split_whitespace().next())
        .filter(|name| *name != "help")
        .map(str::to_string)
        .collect()
}

/// Each argument of a help text (`--flag <V>`, `<ARG>`, `[ARG]`) and its description:
/// the text after it on its line and on the lines below, up to the next argument.
fn entries(help: &str) -> Vec<(String, String)> {
    let mut found: Vec<(String, String)> = Vec::new();
    for line in help.lines() {
        let indent = line.len() - line.trim_start().len();
        let text = line.trim();
        let starts = (2..=6).contains(&indent) && text.starts_with(['-', '<', '[']);
        if starts {
            // The name is up to two spaces; what follows is its help.
            let (name, rest) = text.split_once("  ").unwrap_or((text, ""));
            found.push((name.to_string(), rest.trim().to_string()));
        } else if let Some((_, description)) = found.last_mut()
            && indent > 6
        {
            description.push_str(text);
        }
    }
    found
}

#[test]
fn every_argument_of_every_subcommand_says_what_it_is() {
    let scratch = Scratch::new();
    let commands = listed_commands(&scratch);
    assert!(commands.len() >= 13, "{commands:?}");
    for command in &commands {
        for flag in ["--help", "-h"] {
            let output = scratch.cronq().args([command, flag]).output().unwrap();
            let (help, _) = texts(&output);
            let entries = entries(&help);
            assert!(entries.len() >= 2, "{command} {flag}: {help}");
            for (name, description) in &entries {
                assert!(
                    !description.is_empty(),
                    "`{name}` of `cronq {command} {flag}` has no description:\n{help}"
                );
            }
        }
    }
}

#[test]
fn a_subcommand_lists_only_the_settings_it_uses() {
    const WORKER_ONLY: [&str; 5] = [
        "--lease",
        "--stop-grace",
        "--containment",
        "--log-format",
        "--metrics-addr",
    ];
    const STORE: [&str; 3] = ["--store", "--redis-prefix", "--state-dir"];
    let scratch = Scratch::new();
    let help = |command: &str| {
        let output = scratch.cronq().args([command, "--help"]).output().unwrap();
        let names: Vec<String> = entries(&texts(&output).0)
            .into_iter()
            .map(|(name, _)| name.split([' ', ',']).next().unwrap().to_string())
            .collect();
        names
    };
    let absent = |command: &str, flags: &[&str]| {
        let names = help(command);
        for flag in flags {
            assert!(
                !names.iter().any(|n| n == flag),
                "`cronq {command} --help` lists {flag}: {names:?}"
            );
        }
        names
    };
    let rules = absent("rules", &WORKER_ONLY);
    absent("rules", &STORE);
    absent("rules", &["--workers"]);
    assert!(rules.iter().any(|n| n == "--schedule"), "{rules:?}");
    for command in ["completions", "import", "progress"] {
        absent(command, &WORKER_ONLY);
        absent(command, &STORE);
        absent(command, &["--settings", "--schedule", "--workers"]);
    }
    let check = absent("check", &WORKER_ONLY);
    absent("check", &STORE);
    assert!(check.iter().any(|n| n == "--workers"), "unserved queues");
    for command in ["next", "run", "cancel", "history", "show", "logs"] {
        let names = absent(command, &WORKER_ONLY);
        absent(command, &["--workers"]);
        assert!(names.iter().any(|n| n == "--store"), "{command}: {names:?}");
    }
    let status = absent("status", &["--workers", "--stop-grace", "--containment"]);
    assert!(status.iter().any(|n| n == "--lease"), "stale workers");
    for command in ["daemon", "worker"] {
        let names = help(command);
        for flag in WORKER_ONLY.iter().chain(&STORE).chain(&["--workers"]) {
            assert!(names.iter().any(|n| n == flag), "{command}: {flag}");
        }
    }
}

#[test]
fn settings_flags_work_after_the_subcommand_and_before_it() {
    let scratch = Scratch::new();
    scratch.write(
        "other.yaml",
        "jobs:\n  elsewhere:\n    command: [\"true\"]\n",
    );
    for args in [
        &["check", "--schedule", "other.yaml"][..],
        &["--schedule", "other.yaml", "check"],
        &[
            "--schedule",
            "missing.yaml",
            "check",
            "--schedule",
            "other.yaml",
        ],
    ] {
        let output = scratch.cronq().args(args).output().unwrap();
        let (stdout, stderr) = texts(&output);
        assert_eq!(output.status.code(), Some(0), "{args:?}: {stderr}");
        assert!(stdout.contains("elsewhere"), "{args:?}: {stdout}");
    }
    // A flag a subcommand does not take is refused after it, naming the flag.
    let output = scratch
        .cronq()
        .args(["check", "--lease", "5s"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(texts(&output).1.contains("--lease"));
}

/// Splits a shell line into words, with '…' and "…" quoting, up to a comment, a pipe or
/// a redirection.
fn words(line: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut word: Option<String> = None;
    let mut quote = None;
    for c in line.chars() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), c) => word.get_or_insert_default().push(c),
            (None, '"' | '\'') => {
                quote = Some(c);
                word.get_or_insert_default();
            }
            (None, c) if c.is_whitespace() => words.extend(word.take()),
            (None, '#' | '|' | '>') if word.is_none() => break,
            (None, c) => word.get_or_insert_default().push(c),
        }
    }
    words.extend(word);
    words
}

#[test]
fn the_readmes_examples_still_parse() {
    use clap::Parser;
    let readme = include_str!("../README.md");
    let mut in_code = false;
    let mut lines: Vec<&str> = Vec::new();
    for line in readme.lines() {
        if line.starts_with("```") {
            in_code = !in_code;
            continue;
        }
        let line = line.trim_start();
        let line = line.strip_prefix("./target/release/").unwrap_or(line);
        if in_code && line.starts_with("cronq ") {
            lines.push(line);
        }
    }
    assert!(lines.len() >= 8, "{lines:?}");
    lines.extend([
        "cronq history --status dead",
        "cronq progress 40 copying",
        "cronq next \"* * * * * *\" --count 10000000",
        "cronq daemon --store redis://127.0.0.1:6379/0 --workers default=2",
        "cronq --store sqlite:x.db history --job backup",
        "cronq run backup --store sqlite:x.db --wait --env LEVEL=1 -- --full",
    ]);
    for line in lines {
        let argv = words(line);
        if let Err(error) = cronq::cli::Cli::try_parse_from(&argv) {
            panic!("`{line}` does not parse: {error}");
        }
    }
}

#[test]
fn a_flag_after_the_subcommand_wins_over_one_before_it() {
    use clap::Parser;
    let cli = cronq::cli::Cli::try_parse_from([
        "cronq",
        "--store",
        "sqlite:before.db",
        "--lease",
        "9s",
        "status",
        "--store",
        "sqlite:after.db",
    ])
    .unwrap();
    let settings = cli.settings_args();
    assert_eq!(settings.store.as_deref(), Some("sqlite:after.db"));
    assert_eq!(settings.lease, Some(std::time::Duration::from_secs(9)));
}
