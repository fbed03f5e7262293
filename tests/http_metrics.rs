//! `/metrics` end to end, on both stores: a real `cronq daemon --http` on a free port,
//! known runs made through the CLI (successes, a failure, skips of a busy job, a paused
//! job, runs waiting on a queue no worker serves), then a scrape parsed with a
//! Prometheus text parser and its values checked against what was done. Also: the
//! per-process families of a worker on `--metrics-addr` beside the cluster's figures
//! every process gives, and the API's token rule on `/metrics`.

mod common;

use std::net::TcpListener;
use std::time::Duration;

use chrono::{DateTime, Utc};
use common::both_stores::{Backend, Setup};
use common::daemon::Process;
use common::redis_server::RedisServer;
use prometheus_parse::{Sample, Scrape, Value};
use reqwest::StatusCode;

const PATIENCE: Duration = Duration::from_secs(20);

const SCHEDULE: &str = r#"
jobs:
  ok:
    command: ["true"]
  bad:
    command: ["sh", "-c", "exit 3"]
  slow:
    schedule: "* * * * * *"
    command: ["sleep", "30"]
    concurrency: forbid
    kill_grace: 1s
  held:
    schedule: "* * * * * *"
    command: ["true"]
  waiting:
    command: ["true"]
    queue: nobody
    concurrency: allow
  hostlocked:
    command: ["sleep", "30"]
    lock: host
    concurrency: forbid
    kill_grace: 1s
"#;

fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("a free port");
    listener.local_addr().expect("an address").port()
}

/// One scrape, parsed.
struct Scraped {
    text: String,
    samples: Vec<Sample>,
}

impl Scraped {
    fn parse(text: String) -> Scraped {
        assert!(
            text.ends_with("# EOF\n"),
            "OpenMetrics ends with # EOF: {text}"
        );
        let lines = text.lines().map(|line| Ok(line.to_string()));
        let samples = Scrape::parse(lines).expect("the text parses").samples;
        Scraped { text, samples }
    }

    /// The samples of `metric` whose labels include `labels`.
    fn series(&self, metric: &str, labels: &[(&str, &str)]) -> Vec<&Sample> {
        self.samples
            .iter()
            .filter(|s| s.metric == metric)
            .filter(|s| labels.iter().all(|(k, v)| s.labels.get(k) == Some(*v)))
            .collect()
    }

    /// The value of the one sample of `metric` with `labels`; `None` when there is none.
    fn value(&self, metric: &str, labels: &[(&str, &str)]) -> Option<f64> {
        let found = self.series(metric, labels);
        assert!(found.len() <= 1, "one {metric} {labels:?}: {}", self.text);
        found.first().map(|sample| match &sample.value {
            Value::Counter(v) | Value::Gauge(v) | Value::Untyped(v) => *v,
            other => panic!("{metric} is a number, not {other:?}"),
        })
    }

    fn must(&self, metric: &str, labels: &[(&str, &str)]) -> f64 {
        self.value(metric, labels)
            .unwrap_or_else(|| panic!("{metric} {labels:?} is served:\n{}", self.text))
    }

    /// `# TYPE NAME KIND` as the text declares it.
    fn declares(&self, name: &str, kind: &str) -> bool {
        self.text.contains(&format!("# TYPE {name} {kind}\n"))
    }
}

/// A process serving the API or `/metrics` on a free port, on the test's store.
struct Served {
    /// Killed when the test ends.
    _process: Process,
    base: String,
}

impl Served {
    fn start(setup: &Setup, name: &str, command: &[&str], env: &[(&str, &str)]) -> Served {
        let port = free_port();
        let addr = format!("127.0.0.1:{port}");
        let mut args = setup.store_args();
        args.extend(command.iter().map(ToString::to_string));
        let flag = if command[0] == "worker" {
            "--metrics-addr"
        } else {
            "--http"
        };
        args.extend([flag.to_string(), addr.clone()]);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        Served {
            _process: Process::start_with_env(setup.dir(), name, &args, env),
            base: format!("http://{addr}"),
        }
    }

    async fn get(&self, path: &str, token: Option<&str>) -> Option<reqwest::Response> {
        let mut request = reqwest::Client::new().get(format!("{}{path}", self.base));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        request.send().await.ok()
    }

    /// `/metrics`, once the process answers.
    async fn scrape(&self) -> Scraped {
        let text = until("/metrics to answer", || async move {
            let response = self.get("/metrics", None).await?;
            if response.status() != StatusCode::OK {
                return None;
            }
            let kind = response.headers()["content-type"]
                .to_str()
                .unwrap()
                .to_string();
            assert!(kind.starts_with("application/openmetrics-text"), "{kind}");
            response.text().await.ok()
        })
        .await;
        Scraped::parse(text)
    }
}

/// What `attempt` gives once it gives something, tried every 20 ms for up to
/// [`PATIENCE`].
async fn until<T, F, Fut>(what: &str, mut attempt: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = std::time::Instant::now() + PATIENCE;
    loop {
        if let Some(found) = attempt().await {
            return found;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// `cronq ARGS` on the test's store; its exit code.
fn cronq(setup: &Setup, args: &[&str]) -> Option<i32> {
    let output = setup.cronq(args);
    let (out, err) = common::texts(&output);
    println!("cronq {args:?}: {out}{err}");
    output.status.code()
}

/// The `finished_at` of the job's newest run, from `history --json`, which gives it to
/// the second: a metric's Unix time (to the millisecond) is compared with its floor.
fn last_finished(setup: &Setup, job: &str) -> f64 {
    last_finished_of(setup, job, &[])
}

/// [`last_finished`] among the runs `history` picks with `filter`.
fn last_finished_of(setup: &Setup, job: &str, filter: &[&str]) -> f64 {
    let mut args = vec!["history", "--job", job, "--limit", "1", "--json"];
    args.extend(filter);
    let output = setup.cronq(&args);
    let history: serde_json::Value = serde_json::from_slice(&output.stdout).expect("JSON");
    let at = history["runs"][0]["finished_at"]
        .as_str()
        .expect("finished");
    let at: DateTime<Utc> = at.parse().expect("RFC 3339");
    at.timestamp_millis() as f64 / 1000.0
}

async fn a_scrape_counts_the_runs_that_were_made(backend: Backend) {
    let setup = Setup::new(backend);
    setup.scratch.write("crontab.yaml", SCHEDULE);
    assert_eq!(
        cronq(&setup, &["pause", "held", "--reason", "test"]),
        Some(0)
    );
    let daemon = Served::start(
        &setup,
        "daemon",
        &["daemon", "--workers", "default=4", "--stop-grace", "1s"],
        &[],
    );
    for _ in 0..3 {
        assert_eq!(cronq(&setup, &["run", "ok", "--wait"]), Some(0));
    }
    assert_eq!(cronq(&setup, &["run", "bad", "--wait"]), Some(3));
    for _ in 0..2 {
        assert_eq!(cronq(&setup, &["run", "waiting"]), Some(0));
    }
    // The second finds the first holding the host lock: its worker skips it.
    for _ in 0..2 {
        assert_eq!(cronq(&setup, &["run", "hostlocked"]), Some(0));
    }
    // `slow` runs for 30 s: its next instants are skipped, and `held` is paused.
    let served = &daemon;
    let m = until("skips of slow, held and hostlocked", || async move {
        let scrape = served.scrape().await;
        let skipped = |job, reason| {
            scrape
                .value(
                    "cronq_skipped_total",
                    &[("cronjob", job), ("reason", reason)],
                )
                .unwrap_or(0.0)
        };
        let done = skipped("slow", "overlap") >= 1.0
            && skipped("held", "paused") >= 1.0
            && skipped("hostlocked", "host_lock") >= 1.0;
        done.then_some(scrape)
    })
    .await;
    let now = Utc::now().timestamp_millis() as f64 / 1000.0;

    // What this process's workers ran, by job, status and trigger.
    let runs = "cronq_runs_total";
    assert!(m.declares("cronq_runs", "counter"), "{}", m.text);
    let manual = |job, status| [("cronjob", job), ("status", status), ("trigger", "manual")];
    assert_eq!(m.must(runs, &manual("ok", "succeeded")), 3.0);
    assert_eq!(m.must(runs, &manual("bad", "failed")), 1.0);
    assert_eq!(m.value(runs, &manual("bad", "succeeded")), None);
    assert_eq!(m.value(runs, &[("cronjob", "waiting")]), None, "never ran");
    assert!(m.must(runs, &[("cronjob", "held"), ("status", "skipped")]) >= 1.0);
    assert!(m.declares("cronq_run_duration_seconds", "histogram"));
    assert_eq!(
        m.must("cronq_run_duration_seconds_count", &[("cronjob", "ok")]),
        3.0
    );
    assert!(m.declares("cronq_fire_lateness_seconds", "histogram"));
    assert!(m.must("cronq_fire_lateness_seconds_count", &[]) >= 2.0);

    // The cluster's figures, from the store.
    let job = |name| [("cronjob", name)];
    assert_eq!(
        m.must("cronq_last_success_timestamp_seconds", &job("ok"))
            .floor(),
        last_finished(&setup, "ok")
    );
    assert_eq!(
        m.value("cronq_last_success_timestamp_seconds", &job("bad")),
        None
    );
    assert_eq!(
        m.must(
            "cronq_last_run_timestamp_seconds",
            &[("cronjob", "bad"), ("status", "failed")]
        )
        .floor(),
        last_finished(&setup, "bad")
    );
    assert_eq!(
        m.series("cronq_last_run_timestamp_seconds", &job("bad"))
            .len(),
        1,
        "one series per job: its last run"
    );
    let next = m.must("cronq_next_fire_timestamp_seconds", &job("slow"));
    assert!(next > now - 1.0 && next < now + 3.0, "{next} vs {now}");
    assert_eq!(
        m.value("cronq_next_fire_timestamp_seconds", &job("ok")),
        None
    );
    assert_eq!(m.must("cronq_job_paused", &job("held")), 1.0);
    assert_eq!(m.must("cronq_job_paused", &job("ok")), 0.0);

    let queue = |name| [("queue", name)];
    assert_eq!(m.must("cronq_queue_length", &queue("nobody")), 2.0);
    assert!(m.must("cronq_queue_oldest_seconds", &queue("nobody")) > 0.0);
    assert_eq!(m.must("cronq_workers", &queue("nobody")), 0.0);
    assert_eq!(m.must("cronq_workers", &queue("default")), 1.0);
    assert_eq!(
        m.must("cronq_running", &queue("default")),
        2.0,
        "slow and hostlocked"
    );
    assert_eq!(
        m.must(
            "cronq_skipped_total",
            &[("cronjob", "hostlocked"), ("reason", "host_lock")]
        ),
        1.0
    );
    assert_eq!(m.must("cronq_running", &queue("nobody")), 0.0);
    let daemons = m.series("cronq_daemons", &[]);
    assert_eq!(daemons.len(), 1, "{}", m.text);
    let hash = daemons[0].labels.get("schedule_hash").expect("a hash");
    assert_eq!(hash.len(), 16, "{hash}");
    assert_eq!(m.must("cronq_daemons", &[("schedule_hash", hash)]), 1.0);
    assert!(
        !m.samples.iter().any(|s| s.labels.get("job").is_some()),
        "the label is cronjob, never job"
    );

    // `cronq resume` shows at the next scrape; the counters only grow.
    assert_eq!(cronq(&setup, &["resume", "held"]), Some(0));
    let again = daemon.scrape().await;
    assert_eq!(again.must("cronq_job_paused", &job("held")), 0.0);
    assert_eq!(again.must(runs, &manual("ok", "succeeded")), 3.0);
    drop(daemon);
}

/// A worker on `--metrics-addr` counts the runs it ran; the daemon without workers
/// counts none of them, and both give the same figures from the store.
async fn counts_are_per_process_and_figures_are_the_clusters(backend: Backend) {
    let setup = Setup::new(backend);
    setup.scratch.write("crontab.yaml", SCHEDULE);
    let daemon = Served::start(&setup, "daemon", &["daemon", "--no-workers"], &[]);
    let worker = Served::start(
        &setup,
        "worker",
        &["worker", "--queue", "default", "--stop-grace", "1s"],
        &[],
    );
    worker.scrape().await;
    assert_eq!(cronq(&setup, &["run", "ok", "--wait"]), Some(0));
    let (at_worker, at_daemon) = (worker.scrape().await, daemon.scrape().await);
    let ok = [("cronjob", "ok"), ("status", "succeeded")];
    assert_eq!(at_worker.must("cronq_runs_total", &ok), 1.0);
    assert_eq!(at_daemon.value("cronq_runs_total", &ok), None);
    let last = last_finished(&setup, "ok");
    for m in [&at_worker, &at_daemon] {
        assert_eq!(
            m.must("cronq_last_success_timestamp_seconds", &[("cronjob", "ok")])
                .floor(),
            last
        );
        assert_eq!(m.must("cronq_workers", &[("queue", "default")]), 1.0);
        assert_eq!(m.series("cronq_daemons", &[]).len(), 1);
    }
    // The metrics address serves nothing else.
    let other = worker.get("/api/v1/status", None).await.expect("an answer");
    assert_eq!(other.status(), StatusCode::NOT_FOUND);
}

/// A run whose worker is killed is found lost by the daemon's reaper, which counts it.
async fn the_reaper_counts_a_lost_run(backend: Backend) {
    let setup = Setup::new(backend);
    // `long` alone: nothing else is fired for the worker to take.
    setup.scratch.write(
        "crontab.yaml",
        "jobs:\n  long:\n    command: [\"sleep\", \"30\"]\n    kill_grace: 1s\n",
    );
    let lease = ["--lease", "1s"];
    let daemon = Served::start(
        &setup,
        "daemon",
        &["daemon", "--no-workers", lease[0], lease[1]],
        &[],
    );
    let mut args = setup.store_args();
    args.extend(["worker", "--queue", "default", lease[0], lease[1]].map(String::from));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let mut worker = Process::start(setup.dir(), "worker", &args);
    daemon.scrape().await;
    assert_eq!(cronq(&setup, &["run", "long"]), Some(0));
    let served = &daemon;
    until("long to run", || async move {
        let m = served.scrape().await;
        (m.value("cronq_running", &[("queue", "default")]) == Some(1.0)).then_some(())
    })
    .await;
    worker.kill();
    // The store's figures are read before the process's counts in one scrape: a reap
    // between them shows in the counts first; wait for both.
    let m = until("long to be lost", || async move {
        let m = served.scrape().await;
        let counted = m
            .value("cronq_lost_total", &[("cronjob", "long")])
            .is_some();
        let recorded = m
            .value(
                "cronq_last_run_timestamp_seconds",
                &[("cronjob", "long"), ("status", "lost")],
            )
            .is_some();
        (counted && recorded).then_some(m)
    })
    .await;
    assert_eq!(m.must("cronq_lost_total", &[("cronjob", "long")]), 1.0);
    let lost = [
        ("cronjob", "long"),
        ("status", "lost"),
        ("trigger", "manual"),
    ];
    assert_eq!(m.must("cronq_runs_total", &lost), 1.0);
    assert_eq!(
        m.must(
            "cronq_last_run_timestamp_seconds",
            &[("cronjob", "long"), ("status", "lost")]
        )
        .floor(),
        last_finished_of(&setup, "long", &["--status", "lost"])
    );
}

/// Instants that passed while no daemon ran, and that `catch_up: none` does not run,
/// are recorded skipped by the daemon that starts next, and counted as missed there.
async fn a_restarted_daemon_counts_the_instants_it_missed(backend: Backend) {
    let setup = Setup::new(backend);
    setup.scratch.write(
        "crontab.yaml",
        "jobs:\n  tick:\n    schedule: \"* * * * * *\"\n    command: [\"true\"]\n    catch_up: none\n",
    );
    let first = Served::start(&setup, "first", &["daemon"], &[]);
    let served = &first;
    until("a fire", || async move {
        let m = served.scrape().await;
        m.value(
            "cronq_last_success_timestamp_seconds",
            &[("cronjob", "tick")],
        )
    })
    .await;
    drop(first);
    std::thread::sleep(Duration::from_secs(3));
    let second = Served::start(&setup, "second", &["daemon"], &[]);
    let m = second.scrape().await;
    let missed = [("cronjob", "tick"), ("reason", "missed")];
    assert!(m.must("cronq_skipped_total", &missed) >= 2.0, "{}", m.text);
}

crate::both_stores!(
    a_restarted_daemon_counts_the_instants_it_missed,
    a_scrape_counts_the_runs_that_were_made,
    counts_are_per_process_and_figures_are_the_clusters,
    the_reaper_counts_a_lost_run,
);

/// While the store does not answer, `/metrics` still serves the process's own
/// families, its failed store calls among them; the store's figures come back with it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn store_failures_are_counted_and_served_while_the_store_is_down() {
    let server = RedisServer::start_persistent();
    let prefix = server.unique_prefix();
    let mut setup = Setup {
        scratch: common::Scratch::new(),
        redis: Some((std::sync::Arc::new(server), prefix)),
    };
    setup.scratch.write("crontab.yaml", SCHEDULE);
    let daemon = Served::start(&setup, "daemon", &["daemon", "--no-workers"], &[]);
    let up = daemon.scrape().await;
    assert_eq!(up.must("cronq_queue_length", &[("queue", "default")]), 0.0);
    assert!(
        up.series("cronq_store_errors_total", &[]).is_empty(),
        "{}",
        up.text
    );

    let server = setup.redis.as_mut().expect("redis");
    std::sync::Arc::get_mut(&mut server.0)
        .expect("the one owner")
        .stop();
    let served = &daemon;
    let down = until("store errors to be counted", || async move {
        let m = served.scrape().await;
        let errors: f64 = m
            .series("cronq_store_errors_total", &[])
            .iter()
            .map(|s| match s.value {
                Value::Counter(v) | Value::Untyped(v) => v,
                _ => 0.0,
            })
            .sum();
        (errors >= 1.0).then_some(m)
    })
    .await;
    assert!(
        down.series("cronq_queue_length", &[]).is_empty(),
        "{}",
        down.text
    );
    assert!(
        down.declares("cronq_store_errors", "counter"),
        "{}",
        down.text
    );

    let server = setup.redis.as_mut().expect("redis");
    std::sync::Arc::get_mut(&mut server.0)
        .expect("the one owner")
        .restart();
    until("the store's figures again", || async move {
        let m = served.scrape().await;
        m.value("cronq_queue_length", &[("queue", "default")])
            .map(|_| ())
    })
    .await;
}

/// On the API's address `/metrics` is a read: with tokens configured it needs one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_on_the_api_need_a_token_when_tokens_are_configured() {
    let setup = Setup::new(Backend::Sqlite);
    setup.scratch.write("crontab.yaml", SCHEDULE);
    setup.scratch.write(
        "config/cronq.yaml",
        "api_tokens:\n  - {name: prometheus, scope: read, token: \"${TOKEN_READ}\"}\n",
    );
    let token = "read-0123456789";
    let api = Served::start(&setup, "serve", &["serve"], &[("TOKEN_READ", token)]);
    let served = &api;
    let refused = until("the API to answer", || async move {
        served.get("/metrics", None).await
    })
    .await;
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
    let body: serde_json::Value = refused.json().await.expect("a JSON error");
    assert!(
        body["error"].as_str().is_some_and(|e| e.contains("token")),
        "{body}"
    );
    let served = api.get("/metrics", Some(token)).await.expect("an answer");
    assert_eq!(served.status(), StatusCode::OK);
    let m = Scraped::parse(served.text().await.expect("a body"));
    // `cronq serve` fires and runs nothing: the store's figures, no counts of its own.
    assert_eq!(m.must("cronq_job_paused", &[("cronjob", "ok")]), 0.0);
    assert!(m.series("cronq_runs_total", &[]).is_empty(), "{}", m.text);
    assert!(
        m.series("cronq_daemons", &[]).is_empty(),
        "no daemon: {}",
        m.text
    );
}

/// `metrics_addr` on the API's own address is refused at start, in one sentence.
#[test]
fn metrics_on_the_api_address_twice_is_refused() {
    let setup = Setup::new(Backend::Sqlite);
    setup.scratch.write("crontab.yaml", SCHEDULE);
    let addr = format!("127.0.0.1:{}", free_port());
    let output = setup.cronq(&["daemon", "--http", &addr, "--metrics-addr", &addr]);
    let (_, err) = common::texts(&output);
    assert_eq!(output.status.code(), Some(2), "{err}");
    assert!(
        err.contains(&format!(
            "metrics_addr {addr} is the HTTP API's address too"
        )),
        "{err}"
    );
    // One sentence; a daemon may log before it (a dead worker's cgroup cleared).
    let said: Vec<&str> = err.lines().filter(|l| l.starts_with("cronq: ")).collect();
    assert_eq!(said.len(), 1, "{err}");
    assert!(said[0].contains("give metrics_addr another port"), "{err}");
}
