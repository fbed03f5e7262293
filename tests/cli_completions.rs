//! The completion scripts in real shells: `cronq completions bash|zsh|fish`, loaded in
//! the shell itself, complete job names from the schedule (or, without a file, the
//! schedule the daemons published) and recent run ids from the store, with the settings
//! flags written on the line.

mod common;

use std::process::Command;

use common::{Scratch, texts};
use cronq::store::sqlite::SqliteStore;
use cronq::store::{PublishedJob, PublishedJson, Store};

const SCHEDULE: &str = "\
jobs:
  backup-db:
    command: [\"true\"]
  backup-files:
    command: [\"true\"]
  rotate-logs:
    command: [\"true\"]
";

/// The shells whose completion scripts are tried for real.
#[derive(Clone, Copy, Debug)]
enum Shell {
    Bash,
    Zsh,
    Fish,
}

const SHELLS: [Shell; 3] = [Shell::Bash, Shell::Zsh, Shell::Fish];

impl Shell {
    fn name(self) -> &'static str {
        match self {
            Shell::Bash => "bash",
            Shell::Zsh => "zsh",
            Shell::Fish => "fish",
        }
    }

    /// Whether the shell is on this host; `.ci/run` installs all three.
    fn present(self) -> bool {
        let found = Command::new(self.name())
            .arg("-c")
            .arg("true")
            .output()
            .is_ok_and(|output| output.status.success());
        if !found {
            eprintln!("skipped for {}: it is not installed", self.name());
        }
        found
    }
}

/// What bash offers for the words `line` (the last one being completed).
fn bash_offers(scratch: &Scratch, line: &[&str]) -> Vec<String> {
    offers(Shell::Bash, scratch, line)
}

/// What `shell` offers for the words `line` (the last one being completed), with
/// `cronq completions SHELL` loaded as a user loads it: one candidate per line, sorted.
/// Bash calls the completion function as readline would; zsh is driven under a
/// pseudo-terminal and given a Tab (`tests/fixtures/zsh_capture.zsh`); fish answers
/// `complete -C`.
fn offers(shell: Shell, scratch: &Scratch, line: &[&str]) -> Vec<String> {
    let script = texts(
        &scratch
            .cronq()
            .args(["completions", shell.name()])
            .output()
            .unwrap(),
    )
    .0;
    let file = format!("cronq.{}", shell.name());
    scratch.write(&file, &script);
    let mut command = Command::new(shell.name());
    match shell {
        Shell::Bash => {
            let words: Vec<String> = line.iter().map(|w| format!("'{w}'")).collect();
            let probe = format!(
                "source ./{file}\n\
                 COMP_WORDS=({words})\n\
                 COMP_CWORD=$((${{#COMP_WORDS[@]}} - 1))\n\
                 COMP_LINE=\"${{COMP_WORDS[*]}}\"; COMP_POINT=${{#COMP_LINE}}\n\
                 spec=$(complete -p cronq)\n\
                 func=${{spec#*-F }}; func=${{func%% *}}\n\
                 \"$func\" cronq \"${{COMP_WORDS[COMP_CWORD]}}\" \"${{COMP_WORDS[COMP_CWORD-1]}}\"\n\
                 printf '%s\\n' \"${{COMPREPLY[@]}}\"\n",
                words = words.join(" ")
            );
            command.arg("--norc").arg("-c").arg(probe);
        }
        Shell::Zsh => {
            let capture = concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/tests/fixtures/zsh_capture.zsh"
            );
            command
                .arg("-f")
                .arg(capture)
                .arg(&file)
                .arg(line.join(" "));
        }
        Shell::Fish => {
            let probe = format!("source ./{file}; complete -C \"$argv[1]\"");
            command
                .arg("--no-config")
                .arg("-c")
                .arg(probe)
                .arg(line.join(" "));
        }
    }
    let base = scratch.std_cronq();
    for (name, value) in base.get_envs() {
        match value {
            Some(value) => command.env(name, value),
            None => command.env_remove(name),
        };
    }
    let bin = std::path::Path::new(env!("CARGO_BIN_EXE_cronq"))
        .parent()
        .unwrap();
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap());
    let output = command
        .env("PATH", path)
        .current_dir(scratch.path())
        .output()
        .unwrap();
    let (stdout, stderr) = texts(&output);
    assert!(output.status.success(), "{shell:?} {line:?}: {stderr}");
    // fish gives each candidate a description after a tab.
    let mut offers: Vec<String> = stdout
        .lines()
        .map(|l| l.split('\t').next().unwrap_or_default().to_string())
        .filter(|l| !l.is_empty())
        .collect();
    offers.sort();
    offers
}

#[test]
fn bash_completes_job_names_from_the_schedule() {
    let scratch = Scratch::new();
    scratch.write("crontab.yaml", SCHEDULE);
    assert_eq!(
        bash_offers(&scratch, &["cronq", "run", "back"]),
        ["backup-db", "backup-files"]
    );
    assert_eq!(
        bash_offers(&scratch, &["cronq", "run", "--wait", "ro"]),
        ["rotate-logs"]
    );
    assert_eq!(
        bash_offers(&scratch, &["cronq", "next", "--job", "r"]),
        ["rotate-logs"]
    );
    assert_eq!(
        bash_offers(&scratch, &["cronq", "history", "--job", "backup-d"]),
        ["backup-db"]
    );
    // Past the job, the flags of `run`; and subcommands as before.
    let flags = bash_offers(&scratch, &["cronq", "run", "backup-db", "--w"]);
    assert_eq!(flags, ["--wait"]);
    assert_eq!(bash_offers(&scratch, &["cronq", "hist"]), ["history"]);
    // The schedule named on the line is the one read.
    scratch.write(
        "other.yaml",
        "jobs:\n  elsewhere:\n    command: [\"true\"]\n",
    );
    let offers = bash_offers(&scratch, &["cronq", "run", "--schedule", "other.yaml", ""]);
    assert_eq!(offers, ["elsewhere"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bash_completes_recent_run_ids_and_the_published_jobs() {
    let scratch = Scratch::new();
    scratch.write("crontab.yaml", SCHEDULE);
    let output = scratch
        .cronq()
        .args(["run", "rotate-logs"])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", texts(&output).1);
    let id = texts(&output).0.trim().to_string();
    assert_eq!(
        bash_offers(&scratch, &["cronq", "cancel", ""]),
        vec![id.clone()]
    );
    assert_eq!(
        bash_offers(&scratch, &["cronq", "logs", "--follow", &id[..6]]),
        vec![id.clone()]
    );
    let show = bash_offers(&scratch, &["cronq", "show", ""]);
    assert!(
        show.contains(&id) && show.contains(&"backup-db".to_string()),
        "{show:?}"
    );

    // No schedule file here: the names come from the schedule the daemons published.
    std::fs::remove_file(scratch.path().join("crontab.yaml")).unwrap();
    let store = SqliteStore::open(&scratch.path().join("state/cronq/cronq.db"), 1 << 20).unwrap();
    let job = PublishedJob {
        name: "published-only",
        queue: "default",
        schedule: None,
        timezone: "UTC",
        jitter_ms: 0,
        allow_args: false,
        allow_env: Vec::new(),
    };
    store
        .publish(PublishedJson::new("0123456789abcdef", [job]))
        .await
        .unwrap();
    assert_eq!(
        bash_offers(&scratch, &["cronq", "run", "pub"]),
        ["published-only"]
    );
}

#[test]
fn nothing_to_offer_is_no_error_and_creates_no_store() {
    let scratch = Scratch::new();
    assert!(bash_offers(&scratch, &["cronq", "run", ""]).is_empty());
    assert!(bash_offers(&scratch, &["cronq", "cancel", ""]).is_empty());
    assert!(
        !scratch.path().join("state").exists(),
        "a completion opened no store"
    );
}

#[test]
fn every_shell_completes_job_names_run_ids_and_subcommands() {
    let scratch = Scratch::new();
    scratch.write("crontab.yaml", SCHEDULE);
    let output = scratch
        .cronq()
        .args(["run", "rotate-logs"])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", texts(&output).1);
    let id = texts(&output).0.trim().to_string();
    scratch.write(
        "other.yaml",
        "jobs:\n  elsewhere:\n    command: [\"true\"]\n",
    );
    for shell in SHELLS.into_iter().filter(|shell| shell.present()) {
        let offers = |line: &[&str]| offers(shell, &scratch, line);
        assert_eq!(
            offers(&["cronq", "run", "back"]),
            ["backup-db", "backup-files"],
            "{shell:?}"
        );
        assert_eq!(
            offers(&["cronq", "history", "--job", "rot"]),
            ["rotate-logs"],
            "{shell:?}"
        );
        assert_eq!(
            offers(&["cronq", "cancel", &id[..8]]),
            [id.as_str()],
            "{shell:?}"
        );
        let show = offers(&["cronq", "show", ""]);
        assert!(
            show.contains(&id) && show.contains(&"backup-db".to_string()),
            "{shell:?}: {show:?}"
        );
        assert_eq!(
            offers(&["cronq", "run", "--schedule", "other.yaml", "el"]),
            ["elsewhere"],
            "{shell:?}"
        );
        assert_eq!(
            offers(&["cronq", "rerun", &id[..8]]),
            [id.as_str()],
            "{shell:?}"
        );
        assert_eq!(
            offers(&["cronq", "backfill", "rot"]),
            ["rotate-logs"],
            "{shell:?}"
        );
        assert_eq!(offers(&["cronq", "hist"]), ["history"], "{shell:?}");
    }
}
