//! A `cronq daemon --http 127.0.0.1:PORT` on a free port with a schedule for the API's
//! tests, the tokens of each scope, and a client for it, beside the CLI on the same
//! store to compare with.

use std::net::TcpListener;
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::Value;

use super::both_stores::{Backend, Setup};
use super::daemon::{Process, eventually};

/// How long the API may take to be ready.
const READY: Duration = Duration::from_secs(15);

pub const SCHEDULE: &str = r#"
jobs:
  three:
    command: ["sh", "-c", "echo to stdout; sleep 0.2; echo to stderr >&2; exit 3"]
  counter:
    command: ["sh", "-c", "for i in $(seq 1 25); do echo line $i; sleep 0.1; done"]
  sleeper:
    command: ["sleep", "30"]
    kill_grace: 2s
  echo:
    command: ["echo"]
    allow_args: true
    allow_env: [LEVEL]
    # Runs by hand queue under the job's concurrency: forbid, the default, would refuse
    # a second run while the first still waits.
    concurrency: allow
  held:
    command: ["sleep", "30"]
    concurrency: forbid
    kill_grace: 1s
  hourly:
    schedule: "0 * * * *"
    command: ["true"]
"#;

pub const TOKENS: &str = r#"
api_tokens:
  - {name: viewer, scope: read, token: "${TOKEN_READ}"}
  - {name: deploy-bot, scope: run, token: "${TOKEN_RUN}"}
  - {name: ops, scope: admin, token_file: admin.token}
"#;

pub const READ: &str = "read-0123456789";
pub const RUN: &str = "run-0123456789";
pub const ADMIN: &str = "admin-0123456789";

/// A daemon serving the API, and a client for it.
pub struct Api {
    pub setup: Setup,
    pub daemon: Process,
    pub base: String,
    pub client: reqwest::Client,
}

pub fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("a free port");
    listener.local_addr().expect("an address").port()
}

impl Api {
    /// A daemon on the schedule above, with the three tokens when `tokens`.
    pub async fn start(backend: Backend, tokens: bool) -> Api {
        Api::start_on(backend, tokens, SCHEDULE).await
    }

    /// A daemon on `schedule`, with the three tokens when `tokens`.
    pub async fn start_on(backend: Backend, tokens: bool, schedule: &str) -> Api {
        let setup = Setup::new(backend);
        setup.scratch.write("crontab.yaml", schedule);
        let mut args = setup.store_args();
        if tokens {
            setup.scratch.write("config/cronq.yaml", TOKENS);
            setup.scratch.write("admin.token", &format!("{ADMIN}\n"));
        }
        let port = free_port();
        let addr = format!("127.0.0.1:{port}");
        args.extend(["daemon".into(), "--http".into(), addr.clone()]);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let env = [("TOKEN_READ", READ), ("TOKEN_RUN", RUN)];
        let daemon = Process::start_with_env(setup.dir(), "daemon", &args, &env);
        let api = Api {
            setup,
            daemon,
            base: format!("http://{addr}"),
            client: reqwest::Client::new(),
        };
        eventually("the API to be ready", READY, || async {
            api.client
                .get(api.url("/readyz"))
                .send()
                .await
                .is_ok_and(|r| r.status() == StatusCode::OK)
        })
        .await;
        api
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> (StatusCode, Value) {
        let mut request = self.client.get(self.url(path));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        answer(request.send().await.expect("the API answers")).await
    }

    pub async fn post(&self, path: &str, token: Option<&str>, body: Value) -> (StatusCode, Value) {
        let mut request = self.client.post(self.url(path)).json(&body);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        answer(request.send().await.expect("the API answers")).await
    }

    /// `cronq ARGS` against the same store; stdout, stderr and the exit code.
    pub fn cronq(&self, args: &[&str]) -> (String, String, Option<i32>) {
        let mut all = self.setup.store_args();
        all.extend(args.iter().map(ToString::to_string));
        let output = self
            .setup
            .scratch
            .std_cronq()
            .args(&all)
            .output()
            .expect("cronq runs");
        let (out, err) = super::texts(&output);
        (out, err, output.status.code())
    }

    pub fn cli_json(&self, args: &[&str]) -> Value {
        let (out, err, code) = self.cronq(args);
        assert_eq!(code, Some(0), "cronq {args:?}: {err}");
        serde_json::from_str(&out).expect("one JSON document")
    }

    pub async fn run_status(&self, id: &str) -> String {
        let (_, run) = self.get(&format!("/api/v1/runs/{id}"), Some(READ)).await;
        run["status"].as_str().unwrap_or_default().to_string()
    }
}

pub async fn answer(response: reqwest::Response) -> (StatusCode, Value) {
    let status = response.status();
    let text = response.text().await.expect("a body");
    let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
    (status, body)
}
