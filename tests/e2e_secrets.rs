//! The store's password stays out of everything cronq shows: a Redis with
//! `requirepass`, a daemon given the password on the command line (warned about once,
//! since `ps` shows it) and one given it in `CRONQ_STORE` (which its jobs must not
//! inherit), a job and an `on_failure` that print their whole environment; then the
//! job's output, `logs`, `show`, `history`, `status`, the daemons' logs and the errors
//! of store calls that fail are searched for the password. None may hold it.

mod common;

use std::path::Path;
use std::time::Duration;

use common::daemon::{Process, eventually};
use common::redis_server::RedisServer;
use common::{Scratch, texts};

const SECRET: &str = "pw-8f3kq9-not-for-logs";
const PATIENCE: Duration = Duration::from_secs(15);
const WARNING: &str = "the store URL given with --store holds a password";

/// `cronq ARGS` in the scratch dir with `CRONQ_STORE` set: stdout and stderr, and the
/// exit code.
fn cronq(scratch: &Scratch, store: &str, args: &[&str]) -> (String, String, Option<i32>) {
    let output = scratch
        .cronq()
        .env("CRONQ_STORE", store)
        .env("CRONQ_REDIS_PREFIX", "{secrets}:")
        .args(args)
        .output()
        .unwrap();
    let (stdout, stderr) = texts(&output);
    (stdout, stderr, output.status.code())
}

fn assert_clean(what: &str, text: &str) {
    assert!(!text.contains(SECRET), "{what} shows the password:\n{text}");
}

/// Runs `leaky` to its end under the daemon; its id and what `run --wait` printed.
fn run_leaky(scratch: &Scratch, store: &str) -> (String, String) {
    let (stdout, stderr, code) = cronq(scratch, store, &["run", "--wait", "leaky"]);
    assert_eq!(code, Some(3), "{stderr}");
    let id = stderr
        .lines()
        .find_map(|line| line.strip_prefix("cronq: run "))
        .and_then(|rest| rest.split_whitespace().next())
        .expect("the run's id")
        .to_string();
    (id, format!("{stdout}\n{stderr}"))
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread")]
async fn no_job_log_listing_or_error_shows_the_store_password() {
    let server = RedisServer::start_with(&["--requirepass", SECRET]);
    let store = format!("redis://:{SECRET}@127.0.0.1:{}/0", server.port());
    let scratch = Scratch::new();
    let dir = scratch.path();
    scratch.write(
        "crontab.yaml",
        &format!(
            "jobs:\n  leaky:\n    command: \"env; exit 3\"\n    on_failure: \"env > {0}/on_failure.env; env; exit 1\"\n",
            dir.display()
        ),
    );

    // The password on the command line: one warning, and nothing else shows it.
    let prefix = ["--redis-prefix", "{secrets}:"];
    let mut args = vec!["--store", &store];
    args.extend(prefix);
    args.extend(["--stop-grace", "1s", "daemon"]);
    let mut daemon = Process::start(dir, "daemon-flag", &args);
    eventually("the daemon's workers to register", PATIENCE, || {
        let (stdout, _, code) = cronq(&scratch, &store, &["status", "--json"]);
        let status: serde_json::Value = serde_json::from_str(&stdout).unwrap_or_default();
        let workers = status["workers"].as_array().map_or(0, Vec::len);
        async move { code == Some(0) && workers > 0 }
    })
    .await;
    let (first, printed) = run_leaky(&scratch, &store);
    assert!(
        printed.contains("CRONQ_RUN_ID="),
        "the job printed its env: {printed}"
    );
    assert!(printed.contains("CRONQ_PROGRESS_FD=3"), "{printed}");
    assert!(!printed.contains("CRONQ_STORE"), "{printed}");
    assert_clean("the job's output", &printed);
    let on_failure = dir.join("on_failure.env");
    eventually("on_failure to write its env", PATIENCE, || {
        let done = on_failure.exists();
        async move { done }
    })
    .await;
    daemon.stop(PATIENCE);
    let logs = daemon.logs();
    assert_eq!(logs.matches(WARNING).count(), 1, "{logs}");
    assert!(
        logs.contains("on_failure failed"),
        "its output is logged: {logs}"
    );
    assert_clean("the daemon's log (--store)", &logs);
    let env = read(&on_failure);
    assert!(env.contains("CRONQ_STATUS=failed"), "{env}");
    assert!(!env.contains("CRONQ_STORE"), "{env}");
    assert_clean("on_failure's environment", &env);

    // The password in CRONQ_STORE, exported for the daemon: no warning, and its jobs do
    // not inherit it.
    std::fs::remove_file(&on_failure).unwrap();
    let args = ["--stop-grace", "1s", "daemon"];
    let env = [
        ("CRONQ_STORE", store.as_str()),
        ("CRONQ_REDIS_PREFIX", "{secrets}:"),
    ];
    let mut daemon = Process::start_with_env(dir, "daemon-env", &args, &env);
    let (second, printed) = run_leaky(&scratch, &store);
    assert!(!printed.contains("CRONQ_STORE"), "{printed}");
    assert!(!printed.contains("CRONQ_REDIS_PREFIX"), "{printed}");
    assert_clean("the job's output", &printed);
    eventually("on_failure to write its env", PATIENCE, || {
        let done = on_failure.exists();
        async move { done }
    })
    .await;
    daemon.stop(PATIENCE);
    let logs = daemon.logs();
    assert!(!logs.contains(WARNING), "{logs}");
    assert_clean("the daemon's log (CRONQ_STORE)", &logs);
    assert_clean("on_failure's environment", &read(&on_failure));

    // Every listing of those runs.
    for id in [&first, &second] {
        for args in [
            &["logs", id.as_str()][..],
            &["show", id],
            &["show", id, "--json"],
        ] {
            let (stdout, stderr, code) = cronq(&scratch, &store, args);
            assert_eq!(code, Some(0), "{args:?}: {stderr}");
            assert!(
                stdout.contains("CRONQ_RUN_ID="),
                "{args:?} shows the output: {stdout}"
            );
            assert_clean(&format!("{args:?}"), &format!("{stdout}{stderr}"));
        }
    }
    for args in [
        &["history"][..],
        &["history", "--json"],
        &["history", "--failed"],
        &["status"],
        &["status", "--json"],
    ] {
        let (stdout, stderr, code) = cronq(&scratch, &store, args);
        assert_eq!(code, Some(0), "{args:?}: {stderr}");
        assert_clean(&format!("{args:?}"), &format!("{stdout}{stderr}"));
    }

    // Store calls that fail: a wrong password, a server that is gone, a job that is not
    // there (its message names the store), and the password on the command line.
    let wrong = format!("redis://:{SECRET}-wrong@127.0.0.1:{}/0", server.port());
    let (_, stderr, code) = cronq(&scratch, &wrong, &["status"]);
    assert_eq!(code, Some(3), "{stderr}");
    assert!(stderr.contains(":***@127.0.0.1"), "{stderr}");
    assert_clean("a refused password", &stderr);
    let output = scratch
        .cronq()
        .args([
            "--store",
            &store,
            "--redis-prefix",
            "{secrets}:",
            "run",
            "nope",
        ])
        .output()
        .unwrap();
    let (_, stderr) = texts(&output);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert_eq!(stderr.matches(WARNING).count(), 1, "{stderr}");
    assert_clean("an unknown job", &stderr);
    drop(server);
    let (_, stderr, code) = cronq(&scratch, &store, &["history"]);
    assert_eq!(code, Some(3), "{stderr}");
    assert_clean("an unreachable store", &stderr);
}
