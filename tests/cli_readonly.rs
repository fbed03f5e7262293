//! The commands that only read the store (`status`, `history`, `show`, `logs`,
//! `next --job`) on the built binary: a store that is not there is exit 3 in one sentence
//! naming where they looked, and they create nothing; an existing store another user owns
//! and lets them read is read, closed or while its daemon writes.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use common::daemon::{Process, eventually};
use common::{Scratch, texts};

const PATIENCE: Duration = Duration::from_secs(15);

/// A run id of the right form that no store holds.
const SOME_ID: &str = "01ARZ3NDEKTSV4RRFFQ69G5FAV";

/// Every read-only command, as a user types it.
fn read_only_commands() -> Vec<Vec<&'static str>> {
    vec![
        vec!["status"],
        vec!["status", "--json"],
        vec!["history"],
        vec!["history", "--json"],
        vec!["show", SOME_ID],
        vec!["logs", SOME_ID],
        vec!["logs", "--follow", SOME_ID],
        // No schedule file here: `next --job` asks the store for the published one.
        vec!["next", "--job", "backup"],
    ]
}

/// Every file and directory under `dir`, for "nothing was created".
fn tree(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(dir) = todo.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                todo.push(path.clone());
            }
            found.push(path);
        }
    }
    found.sort();
    found
}

fn no_store_sentence(path: &Path) -> String {
    format!(
        "cronq: no store at sqlite:{}; is the daemon using another (--store, CRONQ_STORE)?\n",
        path.display()
    )
}

#[test]
fn a_missing_store_is_exit_3_in_one_sentence_and_nothing_is_created() {
    let scratch = Scratch::new();
    let before = tree(scratch.path());
    // The default place (XDG_STATE_HOME), a mistyped --store with missing directories,
    // and a relative path, which the sentence names absolute.
    let default = scratch.path().join("state/cronq/cronq.db");
    let cases: Vec<(Vec<String>, PathBuf)> = vec![
        (vec![], default),
        (
            vec!["--store".into(), "sqlite:/nonexistent/a/b/cronq.db".into()],
            PathBuf::from("/nonexistent/a/b/cronq.db"),
        ),
        (
            vec!["--store".into(), "typo/cronq.db".into()],
            scratch.path().join("typo/cronq.db"),
        ),
    ];
    for (store, path) in &cases {
        for command in read_only_commands() {
            let output = scratch.cronq().args(&command).args(store).output().unwrap();
            let (stdout, stderr) = texts(&output);
            assert_eq!(
                output.status.code(),
                Some(3),
                "{command:?} {store:?}: {stderr}"
            );
            assert_eq!(stdout, "", "{command:?} {store:?}");
            assert_eq!(stderr, no_store_sentence(path), "{command:?} {store:?}");
        }
    }
    // CRONQ_STORE, as the daemon's unit file would set it.
    let output = scratch
        .cronq()
        .arg("history")
        .env("CRONQ_STORE", "/nonexistent/env/cronq.db")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(3));
    assert_eq!(
        texts(&output).1,
        no_store_sentence(Path::new("/nonexistent/env/cronq.db"))
    );
    assert_eq!(
        tree(scratch.path()),
        before,
        "a read-only command created files"
    );
    assert!(!Path::new("/nonexistent").exists());
}

#[test]
fn commands_that_write_still_create_the_store() {
    let scratch = Scratch::new();
    scratch.write("crontab.yaml", "jobs:\n  hello:\n    command: [\"true\"]\n");
    let output = scratch.cronq().args(["run", "hello"]).output().unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", texts(&output).1);
    let store = scratch.path().join("state/cronq/cronq.db");
    assert!(store.is_file(), "`run` made no store");
    // And a read-only command now reads it.
    let output = scratch
        .cronq()
        .args(["history", "--json"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", texts(&output).1);
    let document: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(document["runs"][0]["job"], "hello");
}

/// `cronq ARGS` run as user `nobody`, in `scratch`, on the store at `store`.
fn as_nobody(scratch: &Scratch, store: &Path, args: &[&str]) -> std::process::Output {
    let mut command = std::process::Command::new("setpriv");
    command
        .args(["--reuid", "nobody", "--regid", "nogroup", "--clear-groups"])
        .arg(env!("CARGO_BIN_EXE_cronq"))
        .args(args)
        .arg("--store")
        .arg(store);
    for (name, _) in std::env::vars().filter(|(name, _)| name.starts_with("CRONQ_")) {
        command.env_remove(name);
    }
    command
        .current_dir(scratch.path())
        .env("TZ", "UTC")
        .env("HOME", "/nonexistent")
        .env_remove("XDG_STATE_HOME")
        .output()
        .expect("setpriv runs")
}

/// Lets every user into the scratch directory and the store's, and read the store's
/// files that exist (root's store, made readable by its owner).
fn open_to_all(scratch: &Scratch, store: &Path) {
    let mode = |path: &Path, mode: u32| {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
    };
    let mut dir = store.parent().unwrap();
    while dir.starts_with(scratch.path()) {
        mode(dir, 0o755);
        dir = dir.parent().unwrap();
    }
    for suffix in ["", "-wal", "-shm"] {
        let file = PathBuf::from(format!("{}{suffix}", store.display()));
        if file.exists() {
            mode(&file, 0o644);
        }
    }
}

/// The ids of `history --json`'s runs.
fn ids(output: &std::process::Output) -> Vec<String> {
    assert_eq!(output.status.code(), Some(0), "{}", texts(output).1);
    let document: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    document["runs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|run| run["id"].as_str().unwrap().to_string())
        .collect()
}

fn root_history(scratch: &Scratch, store: &Path) -> Vec<String> {
    let output = scratch
        .cronq()
        .args(["history", "--json", "--limit", "1000", "--store"])
        .arg(store)
        .output()
        .unwrap();
    ids(&output)
}

#[tokio::test]
async fn another_user_reads_a_store_it_may_not_write_closed_and_while_the_daemon_writes() {
    let scratch = Scratch::new();
    scratch.write(
        "crontab.yaml",
        "jobs:\n  tick:\n    schedule: \"*/1 * * * * *\"\n    command: \"echo tick\"\n",
    );
    let store = scratch.path().join("state/cronq/cronq.db");
    let mut daemon = Process::start(scratch.path(), "daemon", &["daemon"]);
    eventually("three runs", PATIENCE, || async {
        store.exists() && root_history(&scratch, &store).len() >= 3
    })
    .await;

    // While the daemon writes, its -wal and -shm are there: read-only, and what is in
    // the WAL alone (the runs since the last checkpoint) is read too.
    open_to_all(&scratch, &store);
    for _ in 0..3 {
        let seen_by_root = root_history(&scratch, &store);
        let output = as_nobody(&scratch, &store, &["history", "--json", "--limit", "1000"]);
        let seen = ids(&output);
        for id in &seen_by_root {
            assert!(seen.contains(id), "nobody does not see run {id}: {seen:?}");
        }
        let output = as_nobody(&scratch, &store, &["status"]);
        assert_eq!(output.status.code(), Some(0), "{}", texts(&output).1);
        let output = as_nobody(&scratch, &store, &["show", &seen[0]]);
        assert_eq!(output.status.code(), Some(0), "{}", texts(&output).1);
        assert!(texts(&output).0.contains("tick"), "{}", texts(&output).0);
        tokio::time::sleep(Duration::from_millis(700)).await;
    }
    assert_eq!(daemon.stop(PATIENCE), Some(0), "{}", daemon.logs());

    // Closed: no -wal or -shm, and a directory nobody may not write, so SQLite cannot
    // make them; the file holds every commit.
    let dir = store.parent().unwrap();
    assert!(!dir.join("cronq.db-wal").exists() && !dir.join("cronq.db-shm").exists());
    open_to_all(&scratch, &store);
    let before = tree(scratch.path());
    let output = as_nobody(&scratch, &store, &["history", "--json", "--limit", "1000"]);
    assert_eq!(tree(scratch.path()), before, "the reader created files");
    let seen = ids(&output);
    assert_eq!(seen, root_history(&scratch, &store));
    assert!(seen.len() >= 3, "{seen:?}");
}

#[test]
fn a_store_the_user_may_not_read_is_exit_3_naming_it() {
    let scratch = Scratch::new();
    scratch.write("crontab.yaml", "jobs:\n  hello:\n    command: [\"true\"]\n");
    let output = scratch.cronq().args(["run", "hello"]).output().unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", texts(&output).1);
    let store = scratch.path().join("state/cronq/cronq.db");
    // The directories open, the file 0600 as cronq makes it.
    let mut dir = store.parent().unwrap();
    while dir.starts_with(scratch.path()) {
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755)).unwrap();
        dir = dir.parent().unwrap();
    }
    let output = as_nobody(&scratch, &store, &["history"]);
    let (stdout, stderr) = texts(&output);
    assert_eq!(output.status.code(), Some(3), "{stderr}");
    assert_eq!(stdout, "");
    assert!(
        stderr.starts_with(&format!(
            "cronq: the store at sqlite:{} is",
            store.display()
        )),
        "{stderr}"
    );
    assert!(!stderr.contains("no store at"), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
}
