//! The HTTP API's pause and resume, its OpenAPI document and the README's Python
//! example, end to end on both stores against a real `cronq daemon --http`: the scopes
//! a pause needs, its bad bodies, every job's pause; every operation the document
//! describes answering on the real server; and the example run for real with python3
//! and requests.

mod common;

use common::api::{ADMIN, Api, READ, RUN, answer};
use common::both_stores::Backend;
use reqwest::StatusCode;
use serde_json::{Value, json};

both_stores!(
    pause_and_resume_need_an_admin_token,
    every_documented_operation_answers,
    the_readme_python_example_waits_for_the_exit_code,
);

/// Pause and resume over HTTP: admin scope only (401 without a token, 403 for read and
/// run), 400 naming the field of a bad body, 404 for an unknown job; the answer is the
/// job with the pause now in force, recorded as the token's, and the CLI sees the same
/// pause. Every job's pause holds a job whose own pause is resumed.
async fn pause_and_resume_need_an_admin_token(backend: Backend) {
    let api = Api::start(backend, true).await;
    let pause = "/api/v1/jobs/three/pause";
    let body = json!({"reason": "db migration", "until": "2099-01-01T00:00:00Z"});
    let (status, refused) = api.post(pause, None, body.clone()).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{refused}");
    for (token, name) in [(READ, "viewer"), (RUN, "deploy-bot")] {
        let (status, refused) = api.post(pause, Some(token), body.clone()).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{refused}");
        assert!(
            refused["error"].as_str().is_some_and(
                |e| e.contains(&format!("`{name}`")) && e.contains("needs scope admin")
            ),
            "{refused}"
        );
        let resume = api
            .post("/api/v1/jobs/three/resume", Some(token), json!({}))
            .await;
        assert_eq!(resume.0, StatusCode::FORBIDDEN);
        assert_eq!(
            api.post("/api/v1/pause", Some(token), json!({})).await.0,
            StatusCode::FORBIDDEN
        );
    }
    let (_, job) = api.get("/api/v1/jobs/three", Some(READ)).await;
    assert_eq!(job["paused"], Value::Null, "nothing paused: {job}");
    assert_eq!(api.cli_json(&["status", "--json"])["paused"], json!([]));

    let (status, job) = api.post(pause, Some(ADMIN), body).await;
    assert_eq!(status, StatusCode::OK, "{job}");
    assert_eq!(job["name"], "three");
    let paused = &job["paused"];
    assert_eq!(paused["reason"], "db migration", "{job}");
    assert_eq!(paused["by"], "token:ops");
    assert_eq!(paused["until"], "2099-01-01T00:00:00+00:00");
    assert_eq!(paused["scope"], "job");
    assert!(paused["since"].is_string(), "{job}");
    assert!(
        job["next_fires"].is_array(),
        "the whole job, as GET answers it: {job}"
    );
    assert_eq!(api.get("/api/v1/jobs/three", Some(READ)).await.1, job);
    let listed = api.cli_json(&["status", "--json"])["paused"].clone();
    assert_eq!(listed[0]["job"], "three", "{listed}");
    assert_eq!(
        listed[0]["paused"]["by"], "token:ops",
        "the CLI sees it: {listed}"
    );
    assert_eq!(
        api.get("/api/v1/status", Some(READ)).await.1["paused"],
        listed
    );
    let (text, _, _) = api.cronq(&["status"]);
    assert!(
        text.contains("token:ops") && text.contains("db migration"),
        "{text}"
    );

    // Bad bodies: one sentence naming the field; nothing changes.
    for (bad, field) in [
        (
            json!({"until": "tomorrow"}),
            "`until` `tomorrow` is not an instant",
        ),
        (json!({"until": "2001-01-01T00:00:00Z"}), "in the past"),
        (json!({"reason": 3}), "`reason` must be a string"),
        (
            json!({"untill": "2099-01-01T00:00:00Z"}),
            "no field `untill`",
        ),
        (json!({"for": "soon"}), "`for` `soon` is not a duration"),
        (
            json!({"for": "1h", "until": "2099-01-01T00:00:00Z"}),
            "give only one",
        ),
        (json!(["db migration"]), "must be a JSON object"),
    ] {
        let (status, refused) = api.post(pause, Some(ADMIN), bad.clone()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}: {refused}");
        let error = refused["error"].as_str().unwrap_or_default();
        assert!(error.contains(field), "{bad}: {error}");
    }
    let not_json = api
        .client
        .post(api.url(pause))
        .bearer_auth(ADMIN)
        .body("reason=db")
        .send()
        .await
        .unwrap();
    assert_eq!(not_json.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        api.get("/api/v1/jobs/three", Some(READ)).await.1["paused"]["reason"],
        "db migration"
    );

    let (status, refused) = api
        .post("/api/v1/jobs/thre/pause", Some(ADMIN), json!({}))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{refused}");
    assert!(
        refused["error"]
            .as_str()
            .is_some_and(|e| e.contains("did you mean `three`")),
        "{refused}"
    );
    let (status, _) = api
        .post("/api/v1/jobs/thre/resume", Some(ADMIN), json!({}))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // Every job: a pause with no body at all, and `for`.
    let everything = api
        .client
        .post(api.url("/api/v1/pause"))
        .bearer_auth(ADMIN)
        .send()
        .await
        .unwrap();
    let (status, all) = answer(everything).await;
    assert_eq!(status, StatusCode::OK, "{all}");
    let in_force = all["paused"].as_array().expect("the pauses in force");
    assert_eq!(in_force.len(), 2, "{all}");
    assert!(
        in_force
            .iter()
            .any(|p| p["job"].is_null() && p["paused"]["reason"].is_null()),
        "{all}"
    );
    let (_, echo) = api.get("/api/v1/jobs/echo", Some(READ)).await;
    assert_eq!(echo["paused"]["scope"], "all", "{echo}");
    let (status, job) = api
        .post("/api/v1/jobs/three/resume", Some(ADMIN), json!({}))
        .await;
    assert_eq!(status, StatusCode::OK, "{job}");
    assert_eq!(
        job["paused"]["scope"], "all",
        "still held by the pause of every job: {job}"
    );
    let (status, all) = api
        .post(
            "/api/v1/pause",
            Some(ADMIN),
            json!({"for": "2h", "reason": "maintenance"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{all}");
    assert_eq!(
        all["paused"][0]["paused"]["reason"], "maintenance",
        "it replaces the first: {all}"
    );
    assert!(all["paused"][0]["paused"]["until"].is_string(), "{all}");
    let (status, none) = api.post("/api/v1/resume", Some(ADMIN), json!({})).await;
    assert_eq!((status, none), (StatusCode::OK, json!({"paused": []})));
    let (_, job) = api.get("/api/v1/jobs/three", Some(READ)).await;
    assert_eq!(job["paused"], Value::Null, "{job}");
    assert_eq!(api.cli_json(&["status", "--json"])["paused"], json!([]));
}

/// The OpenAPI document is served without a token, and every operation it describes
/// answers, on a real job and a real run, with something other than 404 or 405.
async fn every_documented_operation_answers(backend: Backend) {
    let api = Api::start(backend, true).await;
    let (status, document) = api.get("/api/v1/openapi.json", None).await;
    assert_eq!(status, StatusCode::OK, "{document}");
    assert!(
        document["openapi"]
            .as_str()
            .is_some_and(|v| v.starts_with("3."))
    );
    let (_, run) = api
        .post("/api/v1/jobs/echo/runs?wait=true", Some(RUN), json!({}))
        .await;
    let id = run["id"].as_str().expect("a run").to_string();
    let paths = document["paths"].as_object().expect("paths");
    assert!(paths.len() >= 15, "{paths:?}");
    for (path, item) in paths {
        let concrete = path.replace("{job}", "echo").replace("{id}", &id);
        for method in item.as_object().expect("a path item").keys() {
            let request = match method.as_str() {
                "get" => api.client.get(api.url(&concrete)),
                "post" => api.client.post(api.url(&concrete)).json(&json!({})),
                other => panic!("{other} {path}: the API has only GET and POST"),
            };
            let response = request.bearer_auth(ADMIN).send().await.expect("an answer");
            let status = response.status();
            let body = response.text().await.unwrap_or_default();
            assert!(
                ![StatusCode::NOT_FOUND, StatusCode::METHOD_NOT_ALLOWED].contains(&status),
                "{method} {concrete}: {status} {body}"
            );
        }
    }
    // And what it does not describe is not served.
    assert_eq!(
        api.client
            .delete(api.url("/api/v1/jobs/echo"))
            .bearer_auth(ADMIN)
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::METHOD_NOT_ALLOWED
    );
}

/// The job the README's Python example triggers: it takes arguments and exits 3.
const REPORT: &str = r#"
jobs:
  report:
    command: ["sh", "-c", "echo month $2; exit 3", "report"]
    allow_args: true
"#;

/// The README's Python example, as written there, run with python3 and requests: it
/// prints the run's id, status and exit code and exits with the code; run again with the
/// same Idempotency-Key it answers the same run and queues nothing.
async fn the_readme_python_example_waits_for_the_exit_code(backend: Backend) {
    let has_requests = std::process::Command::new("python3")
        .args(["-c", "import requests"])
        .output()
        .is_ok_and(|output| output.status.success());
    if !has_requests {
        eprintln!(
            "skipped: python3 with the requests package is not installed (.ci/run installs python3-requests)"
        );
        return;
    }
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md"))
        .expect("the README");
    let after = readme
        .split_once("From Python, trigger a run")
        .expect("the README's Python example")
        .1;
    let code = after
        .split_once("```python\n")
        .and_then(|(_, rest)| rest.split_once("```\n"))
        .expect("a python block")
        .0;
    let api = Api::start_on(backend, true, REPORT).await;
    let python = || {
        std::process::Command::new("python3")
            .args(["-c", code])
            .env("CRONQ_API", &api.base)
            .env("CRONQ_TOKEN_DEPLOY", RUN)
            .output()
            .expect("python3 runs")
    };
    let first = python();
    let (out, err) = common::texts(&first);
    assert_eq!(
        first.status.code(),
        Some(3),
        "the job's exit code: {out}{err}"
    );
    let words: Vec<&str> = out.split_whitespace().collect();
    assert_eq!(words.len(), 3, "{out}");
    assert_eq!(&words[1..], ["failed", "3"], "{out}");
    let shown = api.cli_json(&["show", words[0], "--json"]);
    assert_eq!(shown["by"], "token:deploy-bot", "{shown}");
    assert_eq!(shown["args"], json!(["--month", "11"]));
    assert_eq!(shown["output"], "month 11\n");

    let again = python();
    let (out_again, err) = common::texts(&again);
    assert_eq!(again.status.code(), Some(3), "{err}");
    assert_eq!(out_again, out, "the same run, not another");
    let runs = api.cli_json(&["history", "--json"]);
    assert_eq!(runs["runs"].as_array().map(Vec::len), Some(1), "{runs}");
}
