//! `cronq history`, `show` and `logs` on the built binary, against both stores: a short
//! `cronq daemon` runs `@reboot` jobs, the store is read back through the library until
//! they finish, and then the commands are run as a user would. Tables and fields are
//! pinned by snapshots with ids, hosts and times redacted; both stores share each
//! snapshot, since they must print the same.

mod common;

use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use common::both_stores::{Backend, Setup};
use common::daemon::{Process, eventually};
use common::{Scratch, redact_instants, redact_table, texts};
use cronq::store::redis::RedisStore;
use cronq::store::sqlite::SqliteStore;
use cronq::store::{HistoryFilter, Run, RunStatus, Store};
use tokio::io::{AsyncBufReadExt, BufReader};

const PATIENCE: Duration = Duration::from_secs(10);

/// One job that succeeds with output on stdout, one that fails with output on stderr.
const FINISHING: &str = "\
jobs:
  hello:
    schedule: \"@reboot\"
    command: \"echo hello\"
  oops:
    schedule: \"@reboot\"
    command: \"echo oops >&2; exit 3\"
";

/// A job that writes to stdout and stderr, waits, and writes to both again.
const SLOW: &str = "\
jobs:
  slow:
    schedule: \"@reboot\"
    command: \"echo one; echo err-one >&2; sleep 1; echo two; echo err-two >&2\"
";

/// The fields of a run in every `--json` document, in order (DESIGN §6).
const RUN_FIELDS: [&str; 20] = [
    "id",
    "job",
    "queue",
    "status",
    "trigger",
    "scheduled_for",
    "attempt",
    "host",
    "worker",
    "exit_code",
    "signal",
    "queued_at",
    "started_at",
    "finished_at",
    "duration_s",
    "progress",
    "message",
    "eta_s",
    "overdue",
    "reason",
];

/// What `show --json` adds to the run object: its output and the rest `show` prints.
const SHOW_FIELDS: [&str; 11] = [
    "output",
    "max_attempts",
    "retry_of",
    "rerun_of",
    "not_before",
    "args",
    "env",
    "lock",
    "cancel_requested",
    "output_bytes",
    "output_dropped_bytes",
];

impl Setup {
    /// `cronq ARGS` on this setup's store; its exit code, stdout and stderr.
    fn cronq_texts(&self, args: &[&str]) -> (i32, String, String) {
        let output = self.cronq(args);
        let (stdout, stderr) = texts(&output);
        (output.status.code().unwrap(), stdout, stderr)
    }

    /// `cronq ARGS --json`, parsed, after checking it exited 0.
    fn json(&self, args: &[&str]) -> serde_json::Value {
        let mut args = args.to_vec();
        args.push("--json");
        let (code, stdout, stderr) = self.cronq_texts(&args);
        assert_eq!(code, 0, "{args:?}: {stderr}");
        serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{args:?}: {e}: {stdout}"))
    }

    /// The same store as the commands, through the library.
    async fn store(&self) -> Arc<dyn Store> {
        match &self.redis {
            None => {
                let path = self.dir().join("state/cronq/cronq.db");
                Arc::new(SqliteStore::open(&path, 1 << 20).expect("the daemon's store"))
            }
            Some((server, prefix)) => Arc::new(
                RedisStore::connect(&server.url(), prefix, 1 << 20)
                    .await
                    .expect("the test's Redis store"),
            ),
        }
    }

    /// Starts `cronq daemon` on `schedule`, on this setup's store.
    fn daemon(&self, schedule: &str) -> Process {
        self.scratch.write("crontab.yaml", schedule);
        let mut args = vec!["daemon".to_string()];
        args.extend(self.store_args());
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        Process::start(self.dir(), "daemon", &args)
    }

    /// Runs the `FINISHING` jobs to their end and stops the daemon; the runs, newest first.
    async fn finished_runs(&self) -> Vec<Run> {
        let mut daemon = self.daemon(FINISHING);
        let store = self.store().await;
        eventually("both jobs to finish", PATIENCE, || async {
            let runs = all_runs(store.as_ref()).await;
            runs.len() == 2 && runs.iter().all(|run| run.status.is_finished())
        })
        .await;
        assert_eq!(daemon.stop(PATIENCE), Some(0), "{}", daemon.logs());
        all_runs(store.as_ref()).await
    }
}

async fn all_runs(store: &dyn Store) -> Vec<Run> {
    store
        .history(&HistoryFilter::default())
        .await
        .expect("history")
}

/// The one run of `job` among `runs`.
fn of<'a>(runs: &'a [Run], job: &str) -> &'a Run {
    let mut found = runs.iter().filter(|run| run.job == job);
    let run = found.next().unwrap_or_else(|| panic!("no run of {job}"));
    assert!(found.next().is_none(), "more than one run of {job}");
    run
}

crate::both_stores! {
    history_lists_the_runs_newest_first_and_filters_them,
    show_and_logs_print_a_runs_fields_and_exact_output,
    logs_follow_prints_output_as_it_comes_and_ends_with_the_run,
    an_unknown_run_id_is_exit_2_in_one_sentence,
    an_empty_history_says_no_runs,
    a_run_is_named_by_the_start_of_its_id_or_by_its_job,
    show_prints_stdout_and_stderr_in_the_order_written,
}

async fn history_lists_the_runs_newest_first_and_filters_them(backend: Backend) {
    let setup = Setup::new(backend);
    let runs = setup.finished_runs().await;
    let (hello, oops) = (of(&runs, "hello"), of(&runs, "oops"));

    let (code, stdout, stderr) = setup.cronq_texts(&["history"]);
    assert_eq!((code, stderr.as_str()), (0, ""));
    // The first line names the store read, the table follows.
    let (store_line, stdout) = stdout.split_once('\n').unwrap();
    assert_eq!(store_line, format!("store: {}", setup.store_shown()));
    let stdout = stdout.to_string();
    insta::assert_snapshot!("history_table", redact_table(&stdout));
    let ids: Vec<&str> = stdout.lines().skip(1).map(first_word).collect();
    let newest_first: Vec<&str> = runs.iter().map(|run| run.id.as_str()).collect();
    assert_eq!(ids, newest_first);

    let document = setup.json(&["history"]);
    let listed = document["runs"].as_array().expect("\"runs\" is a list");
    let listed_ids: Vec<&str> = listed
        .iter()
        .map(|run| run["id"].as_str().unwrap())
        .collect();
    assert_eq!(listed_ids, newest_first);
    for run in listed {
        assert_eq!(field_names(run), RUN_FIELDS);
    }
    let failed = &listed[listed_ids.iter().position(|id| *id == oops.id).unwrap()];
    assert_eq!(failed["status"], "failed");
    assert_eq!(failed["exit_code"], 3);
    assert_eq!(failed["trigger"], "schedule");
    assert_eq!(failed["attempt"], 1);
    assert!(failed["duration_s"].is_f64(), "{failed}");

    // --failed: only the failed run, with its exit code.
    let (code, stdout, _) = setup.cronq_texts(&["history", "--failed"]);
    assert_eq!(code, 0);
    let rows: Vec<&str> = stdout.lines().skip(2).collect();
    assert_eq!(rows.len(), 1, "{stdout}");
    assert_eq!(first_word(rows[0]), oops.id);
    let cells: Vec<&str> = rows[0].split("  ").filter(|c| !c.is_empty()).collect();
    assert_eq!(cells[2].trim(), "failed", "{stdout}");
    assert_eq!(cells[6].trim(), "3", "{stdout}");
    assert_eq!(ids_of(&setup.json(&["history", "--failed"])), [&oops.id]);

    assert_eq!(
        ids_of(&setup.json(&["history", "--job", "hello"])),
        [&hello.id]
    );
    assert_eq!(
        ids_of(&setup.json(&["history", "--status", "succeeded"])),
        [&hello.id]
    );
    assert_eq!(
        ids_of(&setup.json(&["history", "--limit", "1"])),
        [&runs[0].id]
    );
    assert_eq!(ids_of(&setup.json(&["history", "--since", "1h"])).len(), 2);
    // The runs were queued before the daemon stopped, well over 10 ms ago.
    assert!(ids_of(&setup.json(&["history", "--since", "10ms"])).is_empty());
    let (code, stdout, stderr) = setup.cronq_texts(&["history", "--job", "nothing-of-that-name"]);
    assert_eq!(
        (code, stdout, stderr.as_str()),
        (0, format!("store: {}\n", setup.store_shown()), "no runs\n")
    );
}

async fn show_and_logs_print_a_runs_fields_and_exact_output(backend: Backend) {
    let setup = Setup::new(backend);
    let runs = setup.finished_runs().await;
    let (hello, oops) = (of(&runs, "hello"), of(&runs, "oops"));

    // Ids are ULIDs, uppercase; any case is accepted.
    let (code, stdout, stderr) = setup.cronq_texts(&["show", &oops.id.to_lowercase()]);
    assert_eq!((code, stderr.as_str()), (0, ""));
    insta::assert_snapshot!("show_failed_run", redact_fields(&stdout));
    assert!(
        stdout.contains(&format!("id:               {}\n", oops.id)),
        "{stdout}"
    );
    assert!(stdout.ends_with("output:\noops\n"), "{stdout}");

    let document = setup.json(&["show", &oops.id]);
    let mut expected = RUN_FIELDS.to_vec();
    expected.extend(SHOW_FIELDS);
    assert_eq!(field_names(&document), expected);
    assert_eq!(document["id"], oops.id.as_str());
    assert_eq!(document["exit_code"], 3);
    assert_eq!(document["output"], "oops\n");

    // Like `docker logs`: what the job wrote to stderr comes out on stderr.
    for (run, stdout, stderr) in [(hello, "hello\n", ""), (oops, "", "oops\n")] {
        let output = setup
            .scratch
            .cronq()
            .args(["logs", &run.id])
            .args(setup.store_args())
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(0), "{}", texts(&output).1);
        assert_eq!(
            texts(&output),
            (stdout.into(), stderr.into()),
            "{}",
            run.job
        );
    }
}

async fn logs_follow_prints_output_as_it_comes_and_ends_with_the_run(backend: Backend) {
    let setup = Setup::new(backend);
    let mut daemon = setup.daemon(SLOW);
    let store = setup.store().await;
    eventually("the slow job to be fired", PATIENCE, || async {
        !all_runs(store.as_ref()).await.is_empty()
    })
    .await;
    let id = all_runs(store.as_ref()).await.remove(0).id;

    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_cronq"));
    for (name, _) in std::env::vars().filter(|(name, _)| name.starts_with("CRONQ_")) {
        command.env_remove(name);
    }
    command
        .args(["logs", "--follow", &id])
        .args(setup.store_args())
        .current_dir(setup.dir())
        .env("TZ", "UTC")
        .env("XDG_STATE_HOME", setup.dir().join("state"))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut follow = tokio::process::Command::from(command)
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(follow.stdout.take().unwrap()).lines();

    let mut errors = BufReader::new(follow.stderr.take().unwrap()).lines();

    let first = tokio::time::timeout(PATIENCE, lines.next_line()).await;
    assert_eq!(first.unwrap().unwrap().as_deref(), Some("one"));
    let first = tokio::time::timeout(PATIENCE, errors.next_line()).await;
    assert_eq!(first.unwrap().unwrap().as_deref(), Some("err-one"));
    // The job sleeps a second after them: it must still run when they arrive.
    let run = store.run(&id).await.unwrap();
    assert_eq!(
        run.status,
        RunStatus::Running,
        "\"one\" and \"err-one\" came only after the job ended"
    );

    let second = tokio::time::timeout(PATIENCE, lines.next_line()).await;
    assert_eq!(second.unwrap().unwrap().as_deref(), Some("two"));
    let rest = tokio::time::timeout(PATIENCE, lines.next_line()).await;
    assert_eq!(
        rest.unwrap().unwrap(),
        None,
        "nothing after the job's output"
    );
    let second = tokio::time::timeout(PATIENCE, errors.next_line()).await;
    assert_eq!(second.unwrap().unwrap().as_deref(), Some("err-two"));
    let rest = tokio::time::timeout(PATIENCE, errors.next_line()).await;
    assert_eq!(
        rest.unwrap().unwrap(),
        None,
        "stdout's lines are not on stderr"
    );
    let status = tokio::time::timeout(PATIENCE, follow.wait()).await;
    assert_eq!(status.unwrap().unwrap().code(), Some(0));
    // It exits because the run finished, not before.
    assert_eq!(store.run(&id).await.unwrap().status, RunStatus::Succeeded);
    assert_eq!(daemon.stop(PATIENCE), Some(0), "{}", daemon.logs());
}

async fn an_unknown_run_id_is_exit_2_in_one_sentence(backend: Backend) {
    let setup = Setup::new(backend);
    setup.store().await;
    let missing = "01ARZ3NDEKTSV4RRFFQ69G5FAV";
    for command in ["show", "logs"] {
        let (code, stdout, stderr) = setup.cronq_texts(&[command, missing]);
        assert_eq!((code, stdout.as_str()), (2, ""), "{command}: {stderr}");
        assert_eq!(
            stderr,
            format!(
                "cronq: no run {missing} in the store; `cronq history` lists the runs it keeps\n"
            ),
            "{command}"
        );
    }
}

async fn an_empty_history_says_no_runs(backend: Backend) {
    let setup = Setup::new(backend);
    setup.store().await;
    // Which store is empty, so that another one's emptiness cannot pass for it.
    let (code, stdout, stderr) = setup.cronq_texts(&["history"]);
    assert_eq!(
        (code, stdout, stderr.as_str()),
        (0, format!("store: {}\n", setup.store_shown()), "no runs\n")
    );
    assert_eq!(setup.json(&["history"]), serde_json::json!({ "runs": [] }));
}

#[test]
fn an_unreachable_store_is_exit_3_naming_the_url_without_its_password() {
    let scratch = Scratch::new();
    let url = "redis://cronq:hunter2@127.0.0.1:1/0";
    for args in [
        vec!["history"],
        vec!["show", "01ARZ3NDEKTSV4RRFFQ69G5FAV"],
        vec!["logs", "--follow", "01ARZ3NDEKTSV4RRFFQ69G5FAV"],
    ] {
        let output = scratch
            .cronq()
            .args(&args)
            // Not --store, which `ps` would show (cronq warns about it).
            .env("CRONQ_STORE", url)
            .output()
            .unwrap();
        let (stdout, stderr) = texts(&output);
        assert_eq!(output.status.code(), Some(3), "{args:?}: {stderr}");
        assert_eq!(stdout, "");
        assert!(
            stderr
                .starts_with("cronq: the store at redis://cronq:***@127.0.0.1:1/0 is unreachable"),
            "{args:?}: {stderr}"
        );
        assert!(!stderr.contains("hunter2"), "{stderr}");
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
    }
}

#[test]
fn an_unknown_status_is_exit_2_naming_the_accepted_ones() {
    let output = Scratch::new()
        .cronq()
        .args(["history", "--status", "broken"])
        .output()
        .unwrap();
    let (stdout, stderr) = texts(&output);
    assert_eq!(output.status.code(), Some(2));
    assert_eq!(stdout, "");
    assert_eq!(
        stderr,
        "cronq: `broken` is not a run status; expected one of queued, running, succeeded, \
         failed, timed_out, cancelled, lost, skipped, dead\n"
    );
}

fn first_word(line: &str) -> &str {
    line.split_whitespace().next().unwrap_or_default()
}

fn field_names(run: &serde_json::Value) -> Vec<&str> {
    let object = run.as_object().expect("a run is an object");
    object.keys().map(String::as_str).collect()
}

fn ids_of(document: &serde_json::Value) -> Vec<&str> {
    let runs = document["runs"].as_array().expect("\"runs\" is a list");
    runs.iter().map(|run| run["id"].as_str().unwrap()).collect()
}

/// `show`'s `name: value` lines with the values that change from run to run replaced:
/// instants, the id, the host, the worker and the duration.
fn redact_fields(text: &str) -> String {
    let redacted: String = text
        .split_inclusive('\n')
        .map(|line| {
            let Some((name, value)) = line.split_once(": ") else {
                return line.to_string();
            };
            let placeholder = match name {
                "id" => "[id]",
                "host" => "[host]",
                "worker" => "[worker]",
                "duration" => "[duration]",
                "store" => "[store]",
                _ => return line.to_string(),
            };
            let padding = value.len() - value.trim_start().len();
            format!("{name}: {}{placeholder}\n", &value[..padding])
        })
        .collect();
    redact_instants(&redacted)
}

async fn a_run_is_named_by_the_start_of_its_id_or_by_its_job(backend: Backend) {
    let setup = Setup::new(backend);
    let runs = setup.finished_runs().await;
    let (hello, oops) = (of(&runs, "hello"), of(&runs, "oops"));
    let id_of = |stdout: &str| {
        let line = stdout.lines().next().unwrap_or_default();
        line.trim_start_matches("id:").trim().to_string()
    };

    // Six characters and more, any case, as git takes a short hash; as long as they are
    // the start of one id only.
    let common = hello
        .id
        .chars()
        .zip(oops.id.chars())
        .take_while(|(a, b)| a == b)
        .count();
    let unique = &hello.id[..(common + 1).max(6)];
    for typed in [
        unique.to_string(),
        unique.to_lowercase(),
        hello.id[..20].into(),
    ] {
        let (code, stdout, stderr) = setup.cronq_texts(&["show", &typed]);
        assert_eq!((code, stderr.as_str()), (0, ""), "{typed}");
        assert_eq!(id_of(&stdout), hello.id, "{typed}");
    }
    let (code, stdout, _) = setup.cronq_texts(&["logs", &oops.id[..(common + 1).max(6)]]);
    assert_eq!(
        (code, stdout.as_str()),
        (0, ""),
        "oops writes to stderr only"
    );

    // A job's name is its latest run, for show and logs.
    let (code, stdout, stderr) = setup.cronq_texts(&["show", "oops"]);
    assert_eq!((code, stderr.as_str()), (0, ""));
    assert_eq!(id_of(&stdout), oops.id);
    let (code, stdout, stderr) = setup.cronq_texts(&["logs", "hello"]);
    assert_eq!((code, stdout.as_str(), stderr.as_str()), (0, "hello\n", ""));
    let document = setup.json(&["show", "hello"]);
    assert_eq!(document["id"], hello.id.as_str());

    // The start of both ids is ambiguous: exit 2, saying how many.
    if common >= 6 {
        let shared = &hello.id[..common];
        for command in ["show", "logs", "cancel"] {
            let (code, stdout, stderr) = setup.cronq_texts(&[command, shared]);
            assert_eq!((code, stdout.as_str()), (2, ""), "{command}: {stderr}");
            assert_eq!(
                stderr,
                format!(
                    "cronq: `{shared}` is the start of 2 run ids; give more characters of the one you mean\n"
                ),
                "{command}"
            );
        }
    }
    // Fewer than 6 characters name no run, however few runs there are.
    for command in ["show", "logs", "cancel"] {
        let (code, stdout, stderr) = setup.cronq_texts(&[command, &hello.id[..5]]);
        assert_eq!((code, stdout.as_str()), (2, ""), "{command}: {stderr}");
        assert!(
            stderr.starts_with(&format!(
                "cronq: `{}` is too short to name a run: give at least 6 characters of its id",
                &hello.id[..5]
            )),
            "{command}: {stderr}"
        );
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
    }
    // cancel takes the short id too (this run has ended); a job's name is not a run
    // to cancel.
    let (code, stdout, stderr) = setup.cronq_texts(&["cancel", unique]);
    assert_eq!((code, stdout.as_str()), (1, ""), "{stderr}");
    assert_eq!(
        stderr,
        format!("cronq: run {} already succeeded\n", hello.id)
    );
    let (code, _, stderr) = setup.cronq_texts(&["cancel", "hello"]);
    assert_eq!(code, 2, "{stderr}");
    assert_eq!(
        stderr,
        "cronq: `hello` names no run in the store (by id or the start of one); \
         `cronq history` lists the runs it keeps\n"
    );
    // Neither an id's start nor a job with runs.
    let (code, _, stderr) = setup.cronq_texts(&["show", "nightly-backup"]);
    assert_eq!(code, 2, "{stderr}");
    assert_eq!(
        stderr,
        "cronq: `nightly-backup` names no run in the store (by id, the start of one or a \
         job's name); `cronq history` lists the runs it keeps\n"
    );
}

/// Writes to stdout and stderr in turn, a pause between each.
const TURNS: &str = "\
jobs:
  turns:
    schedule: \"@reboot\"
    command: \"echo out-1; sleep 0.2; echo err-1 >&2; sleep 0.2; echo out-2; sleep 0.2; echo err-2 >&2\"
";

async fn show_prints_stdout_and_stderr_in_the_order_written(backend: Backend) {
    let setup = Setup::new(backend);
    let mut daemon = setup.daemon(TURNS);
    let store = setup.store().await;
    eventually("the job to finish", PATIENCE, || async {
        let runs = all_runs(store.as_ref()).await;
        runs.len() == 1 && runs[0].status.is_finished()
    })
    .await;
    assert_eq!(daemon.stop(PATIENCE), Some(0), "{}", daemon.logs());
    let (code, stdout, stderr) = setup.cronq_texts(&["show", "turns"]);
    assert_eq!((code, stderr.as_str()), (0, ""));
    let written = "out-1\nerr-1\nout-2\nerr-2\n";
    assert!(stdout.ends_with(&format!("output:\n{written}")), "{stdout}");
    assert_eq!(setup.json(&["show", "turns"])["output"], written);
}
