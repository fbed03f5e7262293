//! What a run brings, against the worker: runs written straight into the SQLite file (an
//! unknown job, args or environment its job does not take, fields that do not decode, a
//! field over its bound) fail with their reason and start nothing; the environment a
//! job gets carries no store address, and its progress comes through its pipe.

use std::collections::BTreeMap;
use std::time::Duration;

use cronq::store::{RunStatus, new_run_id};

use super::harness::Worker;

/// A schedule whose job writes `$LEVEL` to `good.log`, found on the PATH (`sh`).
const TARGET: &str = r#"
jobs:
  target:
    command: [sh, -c, 'echo "$LEVEL" >> "{dir}/good.log"']
    allow_env: [LEVEL]
    concurrency: allow
"#;

/// Inserts a queued run of `target` with `columns` over those of a plain one, as the
/// SQLite backend lays a run out; its id.
fn craft(worker: &Worker, columns: &[(&str, rusqlite::types::Value)]) -> String {
    use rusqlite::types::Value;
    let id = new_run_id();
    let now = chrono::Utc::now().timestamp_millis();
    let mut all: Vec<(&str, Value)> = vec![
        ("id", Value::Text(id.clone())),
        ("job", Value::Text("target".into())),
        ("queue", Value::Text("default".into())),
        ("status", Value::Text("queued".into())),
        ("trigger_kind", Value::Text("manual".into())),
        ("attempt", Value::Integer(1)),
        ("max_attempts", Value::Integer(1)),
        ("queued_at", Value::Integer(now)),
        ("args", Value::Text("[]".into())),
        ("env", Value::Text("{}".into())),
    ];
    for (name, value) in columns {
        all.retain(|(column, _)| column != name);
        all.push((name, value.clone()));
    }
    let names: Vec<&str> = all.iter().map(|(name, _)| *name).collect();
    let marks: Vec<String> = (1..=all.len()).map(|i| format!("?{i}")).collect();
    let sql = format!(
        "INSERT INTO runs ({}) VALUES ({})",
        names.join(", "),
        marks.join(", ")
    );
    let db = rusqlite::Connection::open(worker.path("cronq.db")).unwrap();
    db.busy_timeout(Duration::from_secs(5)).unwrap();
    let values = all.into_iter().map(|(_, value)| value);
    db.execute(&sql, rusqlite::params_from_iter(values))
        .unwrap();
    id
}

fn text(value: &str) -> rusqlite::types::Value {
    rusqlite::types::Value::Text(value.into())
}

fn env(pairs: &[(&str, &str)]) -> rusqlite::types::Value {
    let map: BTreeMap<&str, &str> = pairs.iter().copied().collect();
    text(&serde_json::to_string(&map).unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_crafted_run_starts_nothing_but_the_schedules_command() {
    let mut worker = Worker::start(TARGET, 2, Duration::from_secs(5));
    let evil = worker.path("evil");
    std::fs::create_dir_all(&evil).unwrap();
    let evil_log = worker.path("evil.log");
    let evil_sh = evil.join("sh");
    std::fs::write(
        &evil_sh,
        format!("#!/bin/sh\necho sh >> {}\n", evil_log.display()),
    )
    .unwrap();
    std::fs::set_permissions(
        &evil_sh,
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    let evil_path = evil.display().to_string();
    let big = format!(r#"{{"LEVEL":"{}"}}"#, "x".repeat(2 << 20));
    let cases = [
        (
            craft(&worker, &[("job", text("ghost"))]),
            "job `ghost` is not in this worker's schedule".to_string(),
        ),
        (
            craft(&worker, &[("args", text(r#"["-x"]"#))]),
            "job `target` does not take arguments (allow_args is false)".into(),
        ),
        (
            craft(&worker, &[("env", env(&[("PATH", &evil_path)]))]),
            "the run sets `PATH`: PATH changes what is executed or loaded, and cronq never \
             takes it from a run"
                .into(),
        ),
        (
            craft(
                &worker,
                &[("env", env(&[("LEVEL", "x"), ("LD_PRELOAD", "/tmp/no.so")]))],
            ),
            "the run sets `LD_PRELOAD`: LD_* changes".into(),
        ),
        (
            craft(&worker, &[("env", env(&[("CRONQ_STORE", "redis://x")]))]),
            "the run sets `CRONQ_STORE`: CRONQ_* changes".into(),
        ),
        (
            craft(&worker, &[("env", env(&[("TARGET_DATE", "today")]))]),
            "job `target` takes only LEVEL from a run, not `TARGET_DATE`".into(),
        ),
        (
            craft(&worker, &[("env", text("not json"))]),
            "the run cannot be read: field `env`: expected a JSON object of strings".into(),
        ),
        (
            craft(&worker, &[("attempt", text("x"))]),
            "the run cannot be read: field `attempt`: expected a whole number".into(),
        ),
        (
            craft(&worker, &[("args", text("5")), ("env", text("[]"))]),
            "the run cannot be read: field `args`: expected a JSON array of strings; field \
             `env`: expected a JSON object of strings"
                .into(),
        ),
        (
            craft(&worker, &[("env", text(&big))]),
            format!(
                "the run cannot be read: field `env` holds {} bytes, more than the 1048576 a \
                 field may hold",
                big.len()
            ),
        ),
    ];
    let fine = craft(&worker, &[("env", env(&[("LEVEL", "fine")]))]);
    for (id, reason) in &cases {
        let run = worker.finished(id).await;
        assert_eq!(
            (run.status, run.exit_code, run.signal),
            (RunStatus::Failed, None, None),
            "{run:#?}"
        );
        let got = run.reason.clone().unwrap_or_default();
        assert!(got.starts_with(reason.as_str()), "reason {got:?}");
        assert_eq!(worker.output(id).await, "", "nothing ran for {reason}");
    }
    let fine = worker.finished(&fine).await;
    assert_eq!(fine.status, RunStatus::Succeeded, "{fine:#?}");
    assert_eq!(
        std::fs::read_to_string(worker.path("good.log")).unwrap(),
        "fine\n"
    );
    assert!(!evil_log.exists(), "the planted sh ran");
    // Every refused run reads back whole, in the history too.
    let history = worker.store.history(&Default::default()).await.unwrap();
    assert_eq!(history.len(), cases.len() + 1);
    worker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_job_gets_its_progress_pipe_and_no_store_address() {
    let yaml = r#"
jobs:
  report:
    command: >-
      env | grep '^CRONQ_' | cut -d= -f1 | sort | tr '\n' ' ';
      test "$CRONQ_BIN" -ef "{bin}" && echo bin-ok;
      echo "12.5 from sh" >&$CRONQ_PROGRESS_FD;
      setsid sh -c 'sleep 3; echo "90 too late" >&3' >/dev/null 2>&1 &
      sleep 0.3
    workdir: "{dir}"
"#
    .replace("{bin}", env!("CARGO_BIN_EXE_cronq"));
    let mut worker = Worker::start(&yaml, 1, Duration::from_secs(5));
    let queued = worker.enqueue("report", &[], &[]).await;
    let run = worker.finished(&queued.id).await;
    assert_eq!(run.status, RunStatus::Succeeded, "{run:#?}");
    assert_eq!(
        worker.output(&run.id).await,
        "CRONQ_ATTEMPT CRONQ_BIN CRONQ_JOB CRONQ_PROGRESS_FD CRONQ_RUN_ID bin-ok\n"
    );
    assert_eq!(
        (run.progress, run.message.as_deref()),
        (Some(13), Some("from sh"))
    );
    // The worker did not wait for the pipe's end, which the process left behind holds.
    let took = run.duration_s(chrono::Utc::now()).unwrap();
    assert!(took < 2.5, "the run took {took}s");
    worker.stop().await;
}
