//! The HTTP API end to end, on both stores: a real `cronq daemon --http 127.0.0.1:PORT`
//! on a free port, a real HTTP client, and the CLI beside it to compare with. Each
//! endpoint's status codes and JSON, `wait=true` returning the job's exit code, an
//! output stream resumed after a dropped connection, the Idempotency-Key, the scopes of
//! the tokens, and the loopback rule. Pause and resume, the OpenAPI document and the
//! README's Python example: `http_pause.rs`.

mod common;

use std::time::Duration;

use common::api::{ADMIN, Api, READ, RUN, SCHEDULE, TOKENS, answer, free_port};
use common::both_stores::{Backend, Setup};
use common::daemon::eventually;
use reqwest::StatusCode;
use serde_json::{Value, json};

const PATIENCE: Duration = Duration::from_secs(15);

/// Without tokens: every read answers as the CLI's `--json` does, every write is refused.
async fn reads_answer_as_the_cli_and_writes_are_refused_without_tokens(backend: Backend) {
    let api = Api::start(backend, false).await;
    let (status, body) = api.get("/healthz", None).await;
    assert_eq!((status, body), (StatusCode::OK, json!({"ok": true})));

    let (out, err, code) = api.cronq(&["run", "three", "--wait"]);
    assert_eq!(code, Some(3), "{out}{err}");
    let history = api.cli_json(&["history", "--json"]);
    let id = history["runs"][0]["id"]
        .as_str()
        .expect("a run")
        .to_string();

    let (status, runs) = api.get("/api/v1/runs", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(runs, history, "GET /runs is history --json");
    let (status, run) = api.get(&format!("/api/v1/runs/{id}"), None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        run,
        api.cli_json(&["show", &id, "--json"]),
        "GET /runs/ID is show --json"
    );
    assert_eq!(run["output"], "to stdout\nto stderr\n");
    assert!(
        run["by"].as_str().is_some_and(|by| by.starts_with("cli:")),
        "{run}"
    );
    // Lower case is the same id, as the CLI takes it.
    let (status, _) = api
        .get(&format!("/api/v1/runs/{}", id.to_lowercase()), None)
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = api
        .get("/api/v1/runs/01NOSUCHRUN0000000000000000", None)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(
        body["error"].as_str().is_some_and(|e| e.contains("no run")),
        "{body}"
    );

    let (status, filtered) = api
        .get(
            "/api/v1/runs?job=three&status=failed&since=1h&limit=5",
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(filtered["runs"].as_array().map(Vec::len), Some(1));
    let (status, none) = api.get("/api/v1/runs?job=echo", None).await;
    assert_eq!((status, none), (StatusCode::OK, json!({"runs": []})));
    let (status, body) = api.get("/api/v1/runs?status=broken", None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        body["error"]
            .as_str()
            .is_some_and(|e| e.contains("`broken` is not a run status"))
    );

    let (status, jobs) = api.get("/api/v1/jobs", None).await;
    assert_eq!(status, StatusCode::OK);
    let names: Vec<&str> = jobs["jobs"]
        .as_array()
        .expect("jobs")
        .iter()
        .filter_map(|job| job["name"].as_str())
        .collect();
    assert_eq!(
        names,
        ["three", "counter", "sleeper", "echo", "held", "hourly"]
    );
    let (status, job) = api.get("/api/v1/jobs/three", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(job["queue"], "default");
    assert_eq!(job["failed"], 1);
    assert_eq!(job["succeeded"], 0);
    assert_eq!(job["last_run"]["id"], id.as_str());
    assert_eq!(job["last_run"]["exit_code"], 3);
    let (status, _) = api.get("/api/v1/jobs/nope", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    let (status, report) = api.get("/api/v1/status", None).await;
    assert_eq!(status, StatusCode::OK);
    for key in ["running", "queued", "workers", "next", "problems"] {
        assert!(report.get(key).is_some(), "status lacks {key}: {report}");
    }
    assert_eq!(report["workers"].as_array().map(Vec::len), Some(1));

    let text = api
        .client
        .get(api.url(&format!("/api/v1/runs/{id}/output?stream=stderr")))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(text, "to stderr\n");

    // Writes need a token, and there is none to give.
    let (status, body) = api.post("/api/v1/jobs/three/runs", None, json!({})).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(
        body["error"]
            .as_str()
            .is_some_and(|e| e.contains("read-only")),
        "{body}"
    );
    let (status, _) = api
        .post(&format!("/api/v1/runs/{id}/cancel"), None, json!({}))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    for pause in ["/api/v1/jobs/three/pause", "/api/v1/pause"] {
        let (status, body) = api.post(pause, None, json!({"reason": "x"})).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{pause}: {body}");
    }
    assert_eq!(api.cli_json(&["status", "--json"])["paused"], json!([]));
    assert_eq!(
        api.cli_json(&["history", "--json"])["runs"]
            .as_array()
            .map(Vec::len),
        Some(1)
    );
    let (status, _) = api.get("/api/v1/nothing", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

/// Tokens: 401 without a valid one, 403 when its scope is short; a run token triggers
/// and waits, and the run records the token's name.
async fn tokens_of_each_scope_and_wait_returns_the_exit_code(backend: Backend) {
    let api = Api::start(backend, true).await;
    for token in [None, Some("wrong-token"), Some(&READ[..READ.len() - 1])] {
        let (status, body) = api.get("/api/v1/jobs", token).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{token:?}");
        assert!(body["error"].is_string());
    }
    // The probes say nothing about the jobs, and need no token.
    assert_eq!(api.get("/readyz", None).await.0, StatusCode::OK);
    for token in [READ, RUN, ADMIN] {
        assert_eq!(api.get("/api/v1/jobs", Some(token)).await.0, StatusCode::OK);
    }
    let (status, body) = api
        .post("/api/v1/jobs/three/runs", Some(READ), json!({}))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(
        body["error"]
            .as_str()
            .is_some_and(|e| e.contains("`viewer` has scope read")),
        "{body}"
    );
    assert_eq!(
        api.cli_json(&["history", "--json"]),
        json!({"runs": []}),
        "nothing queued"
    );

    let (status, run) = api
        .post(
            "/api/v1/jobs/three/runs?wait=true&timeout=20s",
            Some(RUN),
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{run}");
    assert_eq!(run["status"], "failed");
    assert_eq!(run["exit_code"], 3);
    assert_eq!(run["trigger"], "manual");
    assert_eq!(run["by"], "token:deploy-bot");
    let id = run["id"].as_str().unwrap();
    let shown = api.cli_json(&["show", id, "--json"]);
    assert_eq!(shown["by"], "token:deploy-bot");
    let (text, _, _) = api.cronq(&["show", id]);
    assert!(text.contains("token:deploy-bot"), "{text}");

    // Without wait: 201 and the run queued; args and env as the job allows.
    let body = json!({"args": ["a b"], "env": {"LEVEL": "debug"}});
    let (status, run) = api.post("/api/v1/jobs/echo/runs", Some(ADMIN), body).await;
    assert_eq!(status, StatusCode::CREATED, "{run}");
    assert_eq!(run["by"], "token:ops");
    let shown = api.cli_json(&["show", run["id"].as_str().unwrap(), "--json"]);
    assert_eq!(shown["args"], json!(["a b"]));
    assert_eq!(shown["env"], json!({"LEVEL": "debug"}));

    // Refused arguments and variables, in the CLI's own words.
    let (_, cli_error, code) = api.cronq(&["run", "three", "--", "x"]);
    assert_eq!(code, Some(2));
    let (status, body) = api
        .post("/api/v1/jobs/three/runs", Some(RUN), json!({"args": ["x"]}))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        format!("cronq: {}\n", body["error"].as_str().unwrap()),
        cli_error
    );
    let body = json!({"env": {"PATH": "/tmp"}});
    let (status, _) = api.post("/api/v1/jobs/echo/runs", Some(RUN), body).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _) = api
        .post("/api/v1/jobs/echo/runs", Some(RUN), json!({"argz": []}))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, body) = api
        .post("/api/v1/jobs/thre/runs", Some(RUN), json!({}))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(
        body["error"]
            .as_str()
            .is_some_and(|e| e.contains("did you mean `three`")),
        "{body}"
    );

    // Cancel: a run token stops a running run and answers once it has ended.
    let (_, run) = api
        .post("/api/v1/jobs/sleeper/runs", Some(RUN), json!({}))
        .await;
    let id = run["id"].as_str().unwrap().to_string();
    eventually("the sleeper to run", PATIENCE, || async {
        api.run_status(&id).await == "running"
    })
    .await;
    let cancel = format!("/api/v1/runs/{id}/cancel");
    assert_eq!(
        api.post(&cancel, Some(READ), json!({})).await.0,
        StatusCode::FORBIDDEN
    );
    let (status, run) = api.post(&cancel, Some(RUN), json!({})).await;
    assert_eq!(status, StatusCode::OK, "{run}");
    assert_eq!(run["status"], "cancelled");
    let (status, body) = api.post(&cancel, Some(RUN), json!({})).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(body["run"]["status"], "cancelled");
    assert!(!api.daemon.logs().contains(RUN), "a token is never logged");
}

/// The same Idempotency-Key twice makes one run; another key makes another.
async fn an_idempotency_key_makes_one_run(backend: Backend) {
    let api = Api::start(backend, true).await;
    let post = |key: &'static str| {
        api.client
            .post(api.url("/api/v1/jobs/echo/runs"))
            .bearer_auth(RUN)
            .header("Idempotency-Key", key)
            .json(&json!({"args": ["once"]}))
            .send()
    };
    let first = post("order-17").await.unwrap();
    assert_eq!(first.status(), StatusCode::CREATED);
    let (_, first) = answer(first).await;
    let again = post("order-17").await.unwrap();
    assert_eq!(again.status(), StatusCode::OK);
    assert_eq!(again.headers()["idempotent-replayed"], "true");
    let (_, again) = answer(again).await;
    assert_eq!(again["id"], first["id"]);
    let runs = api.cli_json(&["history", "--job", "echo", "--json"]);
    assert_eq!(runs["runs"].as_array().map(Vec::len), Some(1), "{runs}");
    let other = post("order-18").await.unwrap();
    assert_eq!(other.status(), StatusCode::CREATED);
    let runs = api.cli_json(&["history", "--job", "echo", "--json"]);
    assert_eq!(runs["runs"].as_array().map(Vec::len), Some(2));
}

/// One event of a Server-Sent Events stream.
#[derive(Debug, Default)]
struct Event {
    kind: String,
    id: Option<u64>,
    data: String,
}

/// Reads events from an SSE response until `enough` holds for the events so far.
async fn read_events(
    response: &mut reqwest::Response,
    events: &mut Vec<Event>,
    enough: impl Fn(&[Event]) -> bool,
) {
    let mut buffer = String::new();
    while !enough(events) {
        let chunk = tokio::time::timeout(PATIENCE, response.chunk())
            .await
            .expect("an event in time")
            .expect("the stream reads");
        let Some(chunk) = chunk else { return };
        buffer.push_str(std::str::from_utf8(&chunk).expect("UTF-8 events"));
        while let Some(end) = buffer.find("\n\n") {
            let block: String = buffer.drain(..end + 2).collect();
            let mut event = Event::default();
            for line in block.lines() {
                if let Some(kind) = line.strip_prefix("event: ") {
                    event.kind = kind.into();
                } else if let Some(id) = line.strip_prefix("id: ") {
                    event.id = id.parse().ok();
                } else if let Some(data) = line.strip_prefix("data: ") {
                    event.data.push_str(data);
                }
            }
            if !event.kind.is_empty() {
                events.push(event);
            }
        }
    }
}

fn text_of(events: &[Event]) -> String {
    events
        .iter()
        .filter(|e| e.kind == "output")
        .map(|e| {
            let data: Value = serde_json::from_str(&e.data).expect("JSON data");
            data["text"].as_str().unwrap().to_string()
        })
        .collect()
}

/// A stream dropped mid-run and resumed with Last-Event-ID loses and repeats nothing.
async fn output_resumes_after_a_dropped_connection(backend: Backend) {
    let api = Api::start(backend, true).await;
    let (_, run) = api
        .post("/api/v1/jobs/counter/runs", Some(RUN), json!({}))
        .await;
    let id = run["id"].as_str().unwrap().to_string();
    let output = api.url(&format!("/api/v1/runs/{id}/output"));
    let open = |last: Option<u64>| {
        let mut request = api
            .client
            .get(&output)
            .bearer_auth(READ)
            .header("Accept", "text/event-stream");
        if let Some(last) = last {
            request = request.header("Last-Event-ID", last.to_string());
        }
        request.send()
    };
    let mut first = Vec::new();
    let mut response = open(None).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    read_events(&mut response, &mut first, |events| {
        text_of(events).contains("line 5\n")
    })
    .await;
    drop(response);
    let before = text_of(&first);
    assert!(
        !before.contains("line 25\n"),
        "the stream was dropped mid-run: {before}"
    );
    let last = first.iter().rev().find_map(|e| e.id).expect("an event id");
    assert_eq!(
        last,
        before.len() as u64,
        "each id is the offset after its bytes"
    );

    let mut rest = Vec::new();
    let mut response = open(Some(last)).await.unwrap();
    read_events(&mut response, &mut rest, |events| {
        events.iter().any(|e| e.kind == "end")
    })
    .await;
    let end = rest.last().expect("the end event");
    assert_eq!(end.kind, "end");
    let run: Value = serde_json::from_str(&end.data).unwrap();
    assert_eq!(run["status"], "succeeded");
    let whole = format!("{before}{}", text_of(&rest));
    let expected: String = (1..=25).map(|i| format!("line {i}\n")).collect();
    assert_eq!(whole, expected, "no byte lost or repeated");
    let (logs, _, code) = api.cronq(&["logs", &id]);
    assert_eq!(code, Some(0));
    assert_eq!(whole, logs);

    // Plain text, the whole tail, and a stream that starts after a finished run's end.
    let plain = api
        .client
        .get(&output)
        .bearer_auth(READ)
        .send()
        .await
        .unwrap();
    assert_eq!(plain.text().await.unwrap(), logs);
    let mut after = Vec::new();
    let mut response = open(Some(logs.len() as u64)).await.unwrap();
    read_events(&mut response, &mut after, |events| {
        events.iter().any(|e| e.kind == "end")
    })
    .await;
    assert_eq!(text_of(&after), "");
}

/// Without a token the API listens on loopback only; a literal token is refused.
async fn a_non_loopback_address_without_tokens_is_refused(backend: Backend) {
    let setup = Setup::new(backend);
    setup.scratch.write("crontab.yaml", SCHEDULE);
    let addr = format!("0.0.0.0:{}", free_port());
    let mut args = setup.store_args();
    args.extend(["daemon".into(), "--http".into(), addr.clone()]);
    let output = setup.scratch.std_cronq().args(&args).output().unwrap();
    let (_, err) = common::texts(&output);
    assert_eq!(output.status.code(), Some(2), "{err}");
    assert!(
        err.contains(&addr) && err.contains("no api_tokens"),
        "{err}"
    );
    assert_eq!(err.lines().count(), 1, "one sentence: {err}");

    setup.scratch.write(
        "config/cronq.yaml",
        "api_tokens:\n  - {name: x, scope: run, token: \"hunter2-in-git\"}\n",
    );
    let output = setup.scratch.std_cronq().args(&args).output().unwrap();
    let (_, err) = common::texts(&output);
    assert_eq!(output.status.code(), Some(2), "{err}");
    assert!(err.contains("never written in the settings file"), "{err}");
    assert!(
        !err.contains("hunter2"),
        "the refusal does not repeat the token: {err}"
    );

    // A token whose variable is not set stops the API from starting, and nothing else.
    setup.scratch.write("config/cronq.yaml", TOKENS);
    let output = setup.scratch.std_cronq().args(&args).output().unwrap();
    let (_, err) = common::texts(&output);
    assert_eq!(output.status.code(), Some(2), "{err}");
    assert!(
        err.contains("api token `viewer`: environment variable TOKEN_READ is not set"),
        "{err}"
    );
    let mut history = setup.store_args();
    history.extend(["history".into(), "--json".into()]);
    let output = setup.scratch.std_cronq().args(&history).output().unwrap();
    let (_, err) = common::texts(&output);
    assert!(!err.contains("TOKEN_READ"), "history needs no token: {err}");
}

/// `concurrency: forbid` holds over HTTP as for `cronq run`: while a run of the job
/// runs, another is refused with 409 naming the run that holds the job, and nothing is
/// queued; `force=true` queues it anyway, recorded as forced.
async fn a_forbid_job_that_runs_refuses_another_run_with_409(backend: Backend) {
    let api = Api::start(backend, true).await;
    let path = "/api/v1/jobs/held/runs";
    let (status, first) = api.post(path, Some(RUN), json!({})).await;
    assert_eq!(status, StatusCode::CREATED, "{first}");
    let id = first["id"].as_str().expect("an id").to_string();
    eventually("the first run to be running", PATIENCE, || async {
        api.run_status(&id).await == "running"
    })
    .await;

    let (status, refused) = api.post(path, Some(RUN), json!({})).await;
    assert_eq!(status, StatusCode::CONFLICT, "{refused}");
    assert_eq!(refused["run"]["id"], id.as_str(), "{refused}");
    assert_eq!(refused["run"]["status"], "running", "{refused}");
    assert_eq!(
        refused["error"],
        format!("skipped: job `held` is running (run {id})")
    );
    let runs = api.cli_json(&["history", "--job", "held", "--json"]);
    assert_eq!(
        runs["runs"].as_array().map(Vec::len),
        Some(1),
        "a refused run is not queued: {runs}"
    );
    let (_, err, code) = api.cronq(&["run", "held"]);
    assert_eq!(code, Some(1), "the CLI refuses it the same: {err}");
    assert_eq!(err, format!("skipped: job `held` is running (run {id})\n"));

    let (status, forced) = api
        .post(&format!("{path}?force=true"), Some(RUN), json!({}))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{forced}");
    assert_eq!(forced["forced"], true, "{forced}");
    assert_eq!(forced["by"], "token:deploy-bot", "{forced}");
    for run in [&id, forced["id"].as_str().expect("an id")] {
        api.cronq(&["cancel", run]);
    }
}

/// `POST /api/v1/runs/{id}/rerun` repeats a run's args and env, linked to it, and
/// `POST /api/v1/jobs/{job}/backfill` queues each past instant once, as the CLI does;
/// both need a `run` token.
async fn rerun_and_backfill_answer_as_the_cli(backend: Backend) {
    let api = Api::start(backend, true).await;
    let body = json!({"args": ["again"], "env": {"LEVEL": "2"}});
    let (status, first) = api
        .post("/api/v1/jobs/echo/runs?wait=true", Some(RUN), body)
        .await;
    assert_eq!(status, StatusCode::CREATED, "{first}");
    let id = first["id"].as_str().expect("an id");

    let path = format!("/api/v1/runs/{id}/rerun");
    let (status, refused) = api.post(&path, Some(READ), json!({})).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{refused}");
    let (status, rerun) = api
        .post(&format!("{path}?wait=true"), Some(RUN), json!({}))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{rerun}");
    assert_eq!(
        (&rerun["trigger"], &rerun["exit_code"], &rerun["by"]),
        (&json!("rerun"), &json!(0), &json!("token:deploy-bot"))
    );
    let shown = api.cli_json(&["show", rerun["id"].as_str().unwrap(), "--json"]);
    assert_eq!(shown["rerun_of"], id, "{shown}");
    assert_eq!(shown["output"], "again\n", "the same args");
    assert_eq!(shown["env"], json!({"LEVEL": "2"}), "the same env");
    let (status, missing) = api
        .post(
            "/api/v1/runs/01M0000000000000000000000Z/rerun",
            Some(RUN),
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{missing}");

    let now = chrono::Utc::now();
    let range = json!({
        "from": (now - chrono::TimeDelta::hours(3)).to_rfc3339(),
        "to": (now - chrono::TimeDelta::seconds(1)).to_rfc3339(),
    });
    let path = "/api/v1/jobs/hourly/backfill";
    let (status, refused) = api.post(path, Some(READ), range.clone()).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{refused}");
    let mut dry = range.clone();
    dry["dry_run"] = json!(true);
    let (status, planned) = api.post(path, Some(RUN), dry).await;
    assert_eq!(status, StatusCode::OK, "{planned}");
    let states = |answer: &Value| -> Vec<String> {
        answer["instants"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["state"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(states(&planned), ["free", "free", "free"], "{planned}");
    let (status, done) = api.post(path, Some(RUN), range.clone()).await;
    assert_eq!(status, StatusCode::OK, "{done}");
    assert_eq!(states(&done), ["queued", "queued", "queued"], "{done}");
    // The CLI sees the same claims: nothing left to queue.
    let (from, to) = (
        range["from"].as_str().unwrap(),
        range["to"].as_str().unwrap(),
    );
    let again = api.cli_json(&["backfill", "hourly", "--from", from, "--to", to, "--json"]);
    assert_eq!(states(&again), ["had_run", "had_run", "had_run"], "{again}");

    let future =
        json!({"from": now.to_rfc3339(), "to": (now + chrono::TimeDelta::hours(2)).to_rfc3339()});
    let (status, refused) = api.post(path, Some(RUN), future).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{refused}");
    assert!(
        refused["error"].as_str().unwrap().starts_with("`to` "),
        "names the field: {refused}"
    );
    let (status, refused) = api
        .post(path, Some(RUN), json!({"from": "yesterday"}))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{refused}");
}

/// The jobs the API lists follow the schedule the daemon publishes: after a change to
/// the file, the daemon's new schedule, not the one the API read before.
async fn the_jobs_follow_a_new_published_schedule(backend: Backend) {
    let first = "jobs:\n  before:\n    command: [\"true\"]\n";
    let api = Api::start_on(backend, false, first).await;
    let names = || async {
        let (status, listed) = api.get("/api/v1/jobs", None).await;
        assert_eq!(status, StatusCode::OK, "{listed}");
        let jobs = listed["jobs"].as_array().cloned().unwrap_or_default();
        jobs.iter()
            .filter_map(|job| job["name"].as_str().map(str::to_string))
            .collect::<Vec<_>>()
    };
    eventually("the first schedule to be listed", PATIENCE, || async {
        names().await == ["before"]
    })
    .await;
    api.setup
        .scratch
        .write("crontab.yaml", "jobs:\n  after:\n    command: [\"true\"]\n");
    eventually("the new schedule to be listed", PATIENCE, || async {
        names().await == ["after"]
    })
    .await;
}

both_stores!(
    the_jobs_follow_a_new_published_schedule,
    rerun_and_backfill_answer_as_the_cli,
    a_forbid_job_that_runs_refuses_another_run_with_409,
    reads_answer_as_the_cli_and_writes_are_refused_without_tokens,
    tokens_of_each_scope_and_wait_returns_the_exit_code,
    an_idempotency_key_makes_one_run,
    output_resumes_after_a_dropped_connection,
    a_non_loopback_address_without_tokens_is_refused,
);
