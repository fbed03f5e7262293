//! `cronq serve` end to end, on both stores: the API alone, answering from the local
//! schedule file and the store while firing and running nothing, its logs in the format
//! `--log-format` (or the settings file's `log_format:`) asks for, and a clean stop on
//! SIGTERM.

mod common;

use std::time::Duration;

use common::api::free_port;
use common::both_stores::{Backend, Setup};
use common::daemon::{Process, eventually};
use serde_json::Value;

const PATIENCE: Duration = Duration::from_secs(15);

const SCHEDULE: &str =
    "jobs:\n  tick:\n    schedule: \"* * * * * *\"\n    command: \"echo tick\"\n";

both_stores!(serve_answers_fires_nothing_and_logs_json,);

async fn serve_answers_fires_nothing_and_logs_json(backend: Backend) {
    let setup = Setup::new(backend);
    setup.scratch.write("crontab.yaml", SCHEDULE);
    let addr = format!("127.0.0.1:{}", free_port());
    let mut args = setup.store_args();
    args.extend(["serve".into(), "--log-format".into(), "json".into()]);
    args.extend(["--http".into(), addr.clone()]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let mut serve = Process::start(setup.dir(), "serve", &args);
    let client = reqwest::Client::new();
    let base = format!("http://{addr}");
    eventually("serve to be ready", PATIENCE, || async {
        client
            .get(format!("{base}/readyz"))
            .send()
            .await
            .is_ok_and(|r| r.status().is_success())
    })
    .await;
    let jobs: Value = client
        .get(format!("{base}/api/v1/jobs"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        jobs["jobs"][0]["name"], "tick",
        "from the local file: {jobs}"
    );

    // An every-second job, and nothing fires it: serve runs no timer and no worker.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let runs: Value = client
        .get(format!("{base}/api/v1/runs"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(runs["runs"], serde_json::json!([]), "{runs}");

    assert_eq!(serve.stop(PATIENCE), Some(0), "{}", serve.logs());
    let logs = serve.logs();
    assert!(logs.contains("serving the HTTP API"), "{logs}");
    for line in logs.lines() {
        let event: Value =
            serde_json::from_str(line).unwrap_or_else(|_| panic!("every log line is JSON: {line}"));
        assert!(event["level"].is_string(), "{line}");
    }

    // `log_format:` in the settings file does the same, without the flag.
    setup
        .scratch
        .write("config/cronq.yaml", "log_format: json\n");
    let mut args = setup.store_args();
    args.extend(["serve".into(), "--http".into(), addr.clone()]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let mut serve = Process::start(setup.dir(), "serve-again", &args);
    eventually("serve to log", PATIENCE, || async {
        serve.logs().contains("serving the HTTP API")
    })
    .await;
    assert_eq!(serve.stop(PATIENCE), Some(0), "{}", serve.logs());
    for line in serve.logs().lines() {
        assert!(
            serde_json::from_str::<Value>(line).is_ok(),
            "JSON as the settings say: {line}"
        );
    }

    let bad = setup.cronq(&["serve", "--log-format", "xml", "--http", &addr]);
    assert_eq!(bad.status.code(), Some(2));
    let (_, err) = common::texts(&bad);
    assert!(err.contains("--log-format"), "{err}");
}
