//! The completion scripts in a real shell: `cronq completions bash`, sourced in bash,
//! completes job names from the schedule (or, without a file, the schedule the daemons
//! published) and recent run ids from the store, with the settings flags written on the
//! line; and the zsh and fish scripts carry the same hooks.

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

/// What bash offers for the words `line` (the last one being completed), as
/// `compgen` would show them: one candidate per line, sorted.
fn bash_offers(scratch: &Scratch, line: &[&str]) -> Vec<String> {
    let script = texts(
        &scratch
            .cronq()
            .args(["completions", "bash"])
            .output()
            .unwrap(),
    )
    .0;
    scratch.write("cronq.bash", &script);
    let words: Vec<String> = line.iter().map(|w| format!("'{w}'")).collect();
    let probe = format!(
        "source ./cronq.bash\n\
         COMP_WORDS=({words})\n\
         COMP_CWORD=$((${{#COMP_WORDS[@]}} - 1))\n\
         COMP_LINE=\"${{COMP_WORDS[*]}}\"; COMP_POINT=${{#COMP_LINE}}\n\
         spec=$(complete -p cronq)\n\
         func=${{spec#*-F }}; func=${{func%% *}}\n\
         \"$func\" cronq \"${{COMP_WORDS[COMP_CWORD]}}\" \"${{COMP_WORDS[COMP_CWORD-1]}}\"\n\
         printf '%s\\n' \"${{COMPREPLY[@]}}\"\n",
        words = words.join(" ")
    );
    let mut bash = Command::new("bash");
    bash.arg("--norc").arg("-c").arg(probe);
    let base = scratch.std_cronq();
    for (name, value) in base.get_envs() {
        match value {
            Some(value) => bash.env(name, value),
            None => bash.env_remove(name),
        };
    }
    let bin = std::path::Path::new(env!("CARGO_BIN_EXE_cronq"))
        .parent()
        .unwrap();
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap());
    let output = bash
        .env("PATH", path)
        .current_dir(scratch.path())
        .output()
        .unwrap();
    let (stdout, stderr) = texts(&output);
    assert!(output.status.success(), "{line:?}: {stderr}");
    let mut offers: Vec<String> = stdout
        .lines()
        .filter(|l| !l.is_empty())
        .map(str::to_string)
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
fn zsh_and_fish_scripts_ask_for_the_same_names() {
    let scratch = Scratch::new();
    for shell in ["zsh", "fish"] {
        let output = scratch
            .cronq()
            .args(["completions", shell])
            .output()
            .unwrap();
        let (script, _) = texts(&output);
        assert!(output.status.success());
        assert!(
            script.contains("complete jobs")
                || script.contains("__cronq_names jobs")
                || script.contains("complete $kind"),
            "{shell}: {script}"
        );
        assert!(script.contains("runs"), "{shell}");
    }
}
