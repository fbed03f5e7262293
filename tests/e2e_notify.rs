//! Notifications through the built binary, on both stores, with a real HTTP server on
//! loopback standing in for the webhook and Slack, a `command` target, and `sendmail`
//! replaced by a script on PATH that keeps each mail it gets. Two daemons share the
//! store and the schedule: each change of a job's health is told once, a target that
//! fails is tried again, reminders repeat `failing`, and the recovery is told once.

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::both_stores::{Backend, Setup};
use common::daemon::{Process, eventually};
use common::http_sink::HttpSink;
use serde_json::Value;

const PATIENCE: Duration = Duration::from_secs(40);

/// `sendmail -t` that keeps each mail as a file of its own in `mail/`.
const SENDMAIL: &str = "#!/bin/sh\n\
    [ \"$1\" = -t ] || { echo \"expected -t, got $*\" >&2; exit 64; }\n\
    dir=\"$(dirname \"$0\")/../mail\"\n\
    mkdir -p \"$dir\"\n\
    cat > \"$dir/$(date +%s%N).$$\"\n";

/// A `command` target that keeps its stdin and `CRONQ_EVENT` for each call.
const PAGE: &str = "#!/bin/sh\n\
    dir=\"$(dirname \"$0\")/../pages\"\n\
    mkdir -p \"$dir\"\n\
    f=\"$dir/$(date +%s%N).$$\"\n\
    { echo \"$CRONQ_EVENT $CRONQ_JOB $CRONQ_STATUS $1\"; cat; } > \"$f\"\n";

impl Setup {
    fn install_script(&self, name: &str, text: &str) {
        let path = self.scratch.write(&format!("bin/{name}"), text);
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
    }

    fn daemon(&self, name: &str, hook: &str) -> Process {
        let store_args = self.store_args();
        let mut args: Vec<&str> = vec!["--workers", "default=2", "--stop-grace", "1s"];
        args.extend(store_args.iter().map(String::as_str));
        args.push("daemon");
        let path = format!(
            "{}:{}",
            self.dir().join("bin").display(),
            std::env::var("PATH").unwrap()
        );
        let env = [("PATH", path.as_str()), ("OPS_WEBHOOK", hook)];
        let daemon = Process::start_with_env(self.dir(), name, &args, &env);
        let deadline = Instant::now() + PATIENCE;
        while !daemon.logs().contains("daemon started") {
            assert!(Instant::now() < deadline, "{}", daemon.logs());
            std::thread::sleep(Duration::from_millis(20));
        }
        daemon
    }
}

/// The files a script kept in `dir`, oldest first.
fn kept(dir: &Path) -> Vec<String> {
    let mut names: Vec<_> = match std::fs::read_dir(dir) {
        Ok(entries) => entries.map(|e| e.unwrap().path()).collect(),
        Err(_) => return Vec::new(),
    };
    names.sort();
    names
        .into_iter()
        .map(|path| std::fs::read_to_string(path).unwrap())
        .collect()
}

fn events(bodies: &[Value]) -> Vec<String> {
    bodies
        .iter()
        .map(|body| body["event"].as_str().unwrap().to_string())
        .collect()
}

/// A job that fails its first three runs, each with 25 lines of output, then succeeds;
/// every second, on two daemons at once.
async fn one_failing_and_one_recovered_across_two_daemons(backend: Backend) {
    let setup = Setup::new(backend);
    let sink = HttpSink::start();
    setup.install_script("sendmail", SENDMAIL);
    setup.install_script("page", PAGE);
    // The first failing message to this target is refused once: it must come again.
    sink.fail_first("/refusing", 1);
    let counter = setup.dir().join("count");
    let schedule = format!(
        r#"defaults:
  notify:
    - webhook: ${{OPS_WEBHOOK}}
      on: [failing, recovered]
    - slack: {slack}
      on: [failing, recovered]
    - webhook: {refusing}
      on: [failing]
    - command: [page, --team, db]
      on: [failing]
    - email: ops@example.com
      on: [every_failure]
jobs:
  flaky:
    schedule: "@every 1s"
    command: ["sh", "-c", "n=$(cat {counter} 2>/dev/null || echo 0); n=$((n+1)); echo $n > {counter}; for i in $(seq 1 25); do echo \"run $n line $i\"; done; [ $n -gt 3 ]"]
  quiet:
    schedule: "@every 1s"
    command: ["true"]
"#,
        slack = sink.url("/slack"),
        refusing = sink.url("/refusing"),
        counter = counter.display(),
    );
    setup.scratch.write("crontab.yaml", &schedule);
    let mut first = setup.daemon("daemon-a", &sink.url("/hook"));
    let mut second = setup.daemon("daemon-b", &sink.url("/hook"));

    eventually("the recovered message", PATIENCE, || {
        let done = events(&sink.json_bodies("/hook")).contains(&"recovered".to_string());
        async move { done }
    })
    .await;
    eventually("the refused message again", PATIENCE, || {
        let done = sink.json_bodies("/refusing").len() == 1;
        async move { done }
    })
    .await;
    // Time for a duplicate, had either daemon sent one: the job succeeds every second.
    tokio::time::sleep(Duration::from_secs(3)).await;
    first.stop(Duration::from_secs(10));
    second.stop(Duration::from_secs(10));
    let logs = format!("{}\n{}", first.logs(), second.logs());

    let hook = sink.json_bodies("/hook");
    assert_eq!(events(&hook), ["failing", "recovered"], "{logs}");
    let (failing, recovered) = (&hook[0], &hook[1]);
    assert_eq!(failing["job"], "flaky");
    assert_eq!(failing["reminder"], false);
    assert_eq!(failing["run"]["status"], "failed");
    assert_eq!(failing["run"]["exit_code"], 1);
    assert_eq!(failing["run"]["job"], "flaky");
    let tail: Vec<&str> = failing["output_tail"]
        .as_array()
        .unwrap()
        .iter()
        .map(|line| line.as_str().unwrap())
        .collect();
    let expected: Vec<String> = (6..=25).map(|i| format!("run 1 line {i}")).collect();
    assert_eq!(tail, expected, "the last 20 lines of the first failed run");
    assert_eq!(recovered["run"]["status"], "succeeded");
    assert_eq!(recovered["output_tail"][19], "run 4 line 25");
    // The run object is the one `show --json` prints.
    let id = failing["run"]["id"].as_str().unwrap();
    let shown: Value =
        serde_json::from_slice(&setup.cronq(&["show", id, "--json"]).stdout).unwrap();
    assert_eq!(shown["status"], failing["run"]["status"]);
    assert_eq!(shown["finished_at"], failing["run"]["finished_at"]);

    let slack = sink.json_bodies("/slack");
    assert_eq!(slack.len(), 2, "{slack:?}");
    let text = slack[0]["text"].as_str().unwrap();
    assert!(
        text.starts_with("cronq: job flaky is failing (run "),
        "{text}"
    );
    assert!(text.contains("failed, exit code 1)"), "{text}");
    assert!(text.ends_with("run 1 line 25"), "{text}");
    assert_eq!(
        slack[0].as_object().unwrap().len(),
        1,
        "Slack takes `text` alone"
    );
    assert!(
        slack[1]["text"]
            .as_str()
            .unwrap()
            .contains("job flaky recovered")
    );

    let refusing = sink.requests("/refusing");
    assert_eq!(
        refusing.iter().map(|r| r.status).collect::<Vec<_>>(),
        [500, 200],
        "refused once, then taken"
    );
    assert!(refusing[1].at - refusing[0].at >= Duration::from_millis(900));

    let pages = kept(&setup.dir().join("pages"));
    assert_eq!(pages.len(), 1, "{pages:?}\n{logs}");
    let (env_line, stdin) = pages[0].split_once('\n').unwrap();
    assert_eq!(env_line, "failing flaky failed --team");
    let body: Value = serde_json::from_str(stdin).unwrap();
    assert_eq!(body["event"], "failing");
    assert_eq!(body["run"]["id"], failing["run"]["id"]);

    let mails = kept(&setup.dir().join("mail"));
    assert_eq!(mails.len(), 3, "one per failed run: {mails:#?}");
    let mut told_runs = Vec::new();
    for mail in &mails {
        assert!(
            mail.starts_with("To: ops@example.com\nSubject: cronq: job flaky is failing (run "),
            "{mail}"
        );
        told_runs.extend((1..=3).filter(|n| mail.contains(&format!("run {n} line 25\n"))));
    }
    told_runs.sort();
    assert_eq!(
        told_runs,
        [1, 2, 3],
        "each failed run told once: {mails:#?}"
    );
    // Both daemons ran the job: the rule held across them, not by one doing it all.
    let history: Value =
        serde_json::from_slice(&setup.cronq(&["history", "--job", "flaky", "--json"]).stdout)
            .unwrap();
    let pids: std::collections::HashSet<String> = history["runs"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|run| run["worker"].as_str())
        .map(|worker| worker.split(':').nth(1).unwrap_or_default().to_string())
        .collect();
    assert_eq!(pids.len(), 2, "runs by both daemons: {pids:?}");
    // The job that never failed was never told of.
    assert!(hook.iter().all(|body| body["job"] == "flaky"));
}

/// A job that always fails, with `remind: 2s`: one `failing`, then reminders no closer
/// than two seconds apart.
async fn reminders_repeat_failing_while_it_lasts(backend: Backend) {
    let setup = Setup::new(backend);
    let sink = HttpSink::start();
    let schedule = format!(
        r#"jobs:
  broken:
    schedule: "@every 1s"
    command: ["sh", "-c", "echo broken; exit 3"]
    remind: 2s
    notify:
      - webhook: {hook}
"#,
        hook = sink.url("/hook"),
    );
    setup.scratch.write("crontab.yaml", &schedule);
    let mut daemon = setup.daemon("daemon", "unused");
    eventually("two reminders", PATIENCE, || {
        let done = sink.json_bodies("/hook").len() >= 3;
        async move { done }
    })
    .await;
    daemon.stop(Duration::from_secs(10));
    let requests = sink.requests("/hook");
    let bodies = sink.json_bodies("/hook");
    assert_eq!(bodies[0]["reminder"], false, "{bodies:?}");
    assert!(
        bodies[1..]
            .iter()
            .all(|body| body["reminder"] == true && body["event"] == "failing")
    );
    assert!(bodies.iter().all(|body| body["run"]["exit_code"] == 3));
    for pair in requests.windows(2) {
        let apart = pair[1].at - pair[0].at;
        assert!(
            apart >= Duration::from_millis(1800),
            "reminders {apart:?} apart"
        );
    }
    let ids: std::collections::HashSet<&str> = bodies
        .iter()
        .map(|b| b["run"]["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), bodies.len(), "each message is of another run");
}

/// `ping:`: `URL/start` as each run starts, then `URL` for a success and `URL/fail` for
/// a failure, each end with the last lines of the run's output as its body.
async fn pings_mark_each_start_and_end(backend: Backend) {
    let setup = Setup::new(backend);
    let sink = HttpSink::start();
    let counter = setup.dir().join("count");
    let schedule = format!(
        r#"jobs:
  pinged:
    schedule: "@every 1s"
    command: ["sh", "-c", "n=$(cat {counter} 2>/dev/null || echo 0); n=$((n+1)); echo $n > {counter}; echo \"run $n\"; [ $n -eq 1 ]"]
    ping: {url}
"#,
        counter = counter.display(),
        url = sink.url("/ping/abc/"),
    );
    setup.scratch.write("crontab.yaml", &schedule);
    let mut daemon = setup.daemon("daemon", "unused");
    eventually("two runs pinged", PATIENCE, || {
        let done = !sink.requests("/ping/abc/fail").is_empty();
        async move { done }
    })
    .await;
    daemon.stop(Duration::from_secs(10));
    let mut all: Vec<_> = ["/ping/abc/start", "/ping/abc", "/ping/abc/fail"]
        .iter()
        .flat_map(|path| sink.requests(path))
        .collect();
    all.sort_by_key(|request| request.at);
    let paths: Vec<&str> = all.iter().map(|r| r.path.as_str()).take(4).collect();
    assert_eq!(
        paths,
        [
            "/ping/abc/start",
            "/ping/abc",
            "/ping/abc/start",
            "/ping/abc/fail"
        ],
        "{all:#?}"
    );
    assert!(all.iter().all(|r| r.method == "POST"));
    assert_eq!(all[0].body, "");
    assert_eq!(all[1].body, "run 1");
    assert_eq!(all[3].body, "run 2");
}

/// A run whose worker is killed is made `lost` by the daemon's reaper: that is
/// `failing`, and its ping's end is `URL/fail`.
async fn a_lost_run_is_failing_and_pings_fail(backend: Backend) {
    let setup = Setup::new(backend);
    let sink = HttpSink::start();
    let schedule = format!(
        r#"jobs:
  held:
    command: ["sh", "-c", "echo holding; exec sleep 30"]
    ping: {ping}
    notify:
      - webhook: {hook}
        on: [failing]
"#,
        ping = sink.url("/ping"),
        hook = sink.url("/hook"),
    );
    setup.scratch.write("crontab.yaml", &schedule);
    let store_args = setup.store_args();
    let mut daemon_args = vec!["daemon", "--no-workers", "--lease", "1s"];
    daemon_args.extend(store_args.iter().map(String::as_str));
    let mut daemon = Process::start(setup.dir(), "daemon", &daemon_args);
    let mut worker_args = vec!["worker", "--concurrency", "1", "--lease", "1s"];
    worker_args.extend(store_args.iter().map(String::as_str));
    let mut worker = Process::start(setup.dir(), "worker", &worker_args);
    let queued = setup.cronq(&["run", "held"]);
    assert_eq!(
        queued.status.code(),
        Some(0),
        "{:?}",
        common::texts(&queued)
    );
    let id = String::from_utf8(queued.stdout).unwrap().trim().to_string();
    eventually("the start ping", PATIENCE, || {
        let done = sink.requests("/ping/start").len() == 1;
        async move { done }
    })
    .await;
    // The output is in the store before the worker dies.
    eventually("the run's output stored", PATIENCE, || {
        let shown = setup.cronq(&["show", &id, "--json"]);
        let stored = serde_json::from_slice::<Value>(&shown.stdout).is_ok_and(|run| {
            run["output"]
                .as_str()
                .unwrap_or_default()
                .contains("holding")
        });
        async move { stored }
    })
    .await;
    worker.kill();
    eventually("the failing message", PATIENCE, || {
        let done = !sink.json_bodies("/hook").is_empty() && !sink.requests("/ping/fail").is_empty();
        async move { done }
    })
    .await;
    daemon.stop(Duration::from_secs(10));
    let hook = sink.json_bodies("/hook");
    assert_eq!(hook.len(), 1, "{hook:?}");
    assert_eq!(hook[0]["event"], "failing");
    assert_eq!(hook[0]["run"]["id"], id.as_str());
    assert_eq!(hook[0]["run"]["status"], "lost");
    assert_eq!(hook[0]["output_tail"], serde_json::json!(["holding"]));
    assert_eq!(sink.requests("/ping/fail")[0].body, "holding");
    assert!(
        sink.requests("/ping").is_empty(),
        "a lost run is no success"
    );
}

both_stores!(
    one_failing_and_one_recovered_across_two_daemons,
    reminders_repeat_failing_while_it_lasts,
    pings_mark_each_start_and_end,
    a_lost_run_is_failing_and_pings_fail,
);
