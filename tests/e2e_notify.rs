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
        self.daemon_with(name, &[("OPS_WEBHOOK", hook)], None)
    }

    /// A daemon with two built-in workers, these variables and this lease (which is the
    /// outbox's claim too), once it has started.
    fn daemon_with(&self, name: &str, env: &[(&str, &str)], lease: Option<&str>) -> Process {
        let store_args = self.store_args();
        let mut args: Vec<&str> = vec!["--workers", "default=2", "--stop-grace", "1s"];
        if let Some(lease) = lease {
            args.extend(["--lease", lease]);
        }
        args.extend(store_args.iter().map(String::as_str));
        args.push("daemon");
        let path = format!(
            "{}:{}",
            self.dir().join("bin").display(),
            std::env::var("PATH").unwrap()
        );
        let mut env = env.to_vec();
        env.push(("PATH", path.as_str()));
        let daemon = Process::start_with_env(self.dir(), name, &args, &env);
        let deadline = Instant::now() + PATIENCE;
        while !daemon.logs().contains("daemon started") {
            assert!(Instant::now() < deadline, "{}", daemon.logs());
            std::thread::sleep(Duration::from_millis(20));
        }
        daemon
    }

    /// `cronq run JOB`: the run's id.
    fn run(&self, job: &str) -> String {
        let queued = self.cronq(&["run", job]);
        assert_eq!(
            queued.status.code(),
            Some(0),
            "{:?}",
            common::texts(&queued)
        );
        String::from_utf8(queued.stdout).unwrap().trim().to_string()
    }

    fn status_json(&self) -> Value {
        serde_json::from_slice(&self.cronq(&["status", "--json"]).stdout).unwrap()
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

/// Waits for a message at `path`, gives a duplicate `settle` to come, had one been
/// sent, stops `daemons` and returns the messages at `path`.
async fn after_a_message(
    sink: &HttpSink,
    path: &str,
    settle: Duration,
    daemons: &mut [&mut Process],
) -> Vec<Value> {
    eventually(&format!("a message at {path}"), PATIENCE, || {
        let done = !sink.json_bodies(path).is_empty();
        async move { done }
    })
    .await;
    tokio::time::sleep(settle).await;
    for daemon in daemons {
        daemon.stop(Duration::from_secs(10));
    }
    sink.json_bodies(path)
}

/// The runs `cronq history ARGS --json` lists.
fn history(setup: &Setup, args: &[&str]) -> Vec<Value> {
    let mut args = [&["history", "--json"], args].concat();
    args.push("--limit");
    args.push("1000");
    let listed = setup.cronq(&args);
    serde_json::from_slice::<Value>(&listed.stdout).map_or(Vec::new(), |h| {
        h["runs"].as_array().cloned().unwrap_or_default()
    })
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
    // A reminder names the job's last run: the one that just failed, or, from the
    // timer between two runs, the one before.
    let ids: std::collections::HashSet<&str> = bodies
        .iter()
        .map(|b| b["run"]["id"].as_str().unwrap())
        .collect();
    assert!(ids.len() >= 2, "the reminders follow the runs: {bodies:?}");
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

/// A job that failed once and never runs again, `remind: 2s`: the daemons' timer
/// repeats `failing` while it lasts, about that one run, once per two seconds across
/// two daemons; then a success ends it with one `recovered`, and the reminders stop.
async fn reminders_come_on_a_timer_with_no_runs(backend: Backend) {
    let setup = Setup::new(backend);
    let sink = HttpSink::start();
    let flag = setup.dir().join("fixed");
    let schedule = format!(
        r#"jobs:
  once:
    command: ["sh", "-c", "test -e {flag}"]
    remind: 2s
    notify:
      - webhook: {hook}
"#,
        flag = flag.display(),
        hook = sink.url("/hook"),
    );
    setup.scratch.write("crontab.yaml", &schedule);
    let mut first = setup.daemon("daemon-a", "unused");
    let mut second = setup.daemon("daemon-b", "unused");
    let id = setup.run("once");
    eventually("three reminders", PATIENCE, || {
        let done = sink.json_bodies("/hook").len() >= 4;
        async move { done }
    })
    .await;
    std::fs::write(&flag, "").unwrap();
    let fixed = setup.run("once");
    eventually("the recovery", PATIENCE, || {
        let done = events(&sink.json_bodies("/hook")).contains(&"recovered".to_string());
        async move { done }
    })
    .await;
    // Time for a reminder, had the recovery not ended them.
    tokio::time::sleep(Duration::from_secs(4)).await;
    first.stop(Duration::from_secs(10));
    second.stop(Duration::from_secs(10));
    let logs = format!("{}\n{}", first.logs(), second.logs());
    let bodies = sink.json_bodies("/hook");
    let requests = sink.requests("/hook");
    let (recovered, failing) = bodies.split_last().unwrap();
    assert_eq!(recovered["event"], "recovered", "{bodies:?}");
    assert_eq!(recovered["run"]["id"], fixed.as_str());
    assert_eq!(failing[0]["reminder"], false);
    for body in failing {
        assert_eq!(body["event"], "failing", "{bodies:?}");
        assert_eq!(body["run"]["id"], id.as_str(), "about the one failed run");
    }
    assert!(failing[1..].iter().all(|body| body["reminder"] == true));
    // Two daemons, one timer's worth: never two reminders within the two seconds (as
    // recorded; the sending of one may be a few hundred ms late under load).
    let reminders = &requests[1..failing.len()];
    for pair in reminders.windows(2) {
        let apart = pair[1].at - pair[0].at;
        assert!(
            apart >= Duration::from_millis(1500),
            "reminders {apart:?} apart\n{logs}"
        );
    }
}

/// The watchdog on two daemons: a job whose fires the store refuses (a trigger that
/// aborts its inserts in SQLite; a key of its history clobbered with a string in Redis)
/// misses its instants: one `stalled`, however long the stall lasts.
async fn a_stall_is_told_once_across_two_daemons(backend: Backend) {
    let setup = Setup::new(backend);
    let sink = HttpSink::start();
    let schedule = format!(
        r#"jobs:
  tick:
    schedule: "@every 1s"
    command: ["true"]
    notify:
      - webhook: {hook}
        on: [stalled]
"#,
        hook = sink.url("/hook"),
    );
    setup.scratch.write("crontab.yaml", &schedule);
    let mut first = setup.daemon("daemon-a", "unused");
    let mut second = setup.daemon("daemon-b", "unused");
    eventually("a fire of tick", PATIENCE, || {
        let fired = !history(&setup, &["--job", "tick"]).is_empty();
        async move { fired }
    })
    .await;
    break_fires_of(&setup, "tick");
    // The stall goes on: more instants pass, and nothing more is said.
    let settle = Duration::from_secs(8);
    let bodies = after_a_message(&sink, "/hook", settle, &mut [&mut first, &mut second]).await;
    let logs = format!("{}\n{}", first.logs(), second.logs());
    assert_eq!(events(&bodies), ["stalled"], "{bodies:?}\n{logs}");
    assert_eq!(bodies[0]["job"], "tick");
    assert!(bodies[0]["run"].is_null());
    let detail = bodies[0]["detail"].as_str().unwrap();
    assert!(detail.starts_with("expected a fire at "), "{detail}");
    assert!(detail.ends_with(", and none came"), "{detail}");
}

/// Makes the store refuse every fire of `job` from now on, as a broken store would.
fn break_fires_of(setup: &Setup, job: &str) {
    let done = match &setup.redis {
        None => {
            let db = setup.dir().join("state/cronq/cronq.db");
            let trigger = format!(
                "CREATE TRIGGER broken BEFORE INSERT ON runs WHEN NEW.job = '{job}' \
                 BEGIN SELECT RAISE(ABORT, 'disk full'); END;"
            );
            std::process::Command::new("sqlite3")
                .args(["-cmd", ".timeout 10000"])
                .arg(&db)
                .arg(trigger)
                .output()
                .unwrap()
        }
        Some((server, prefix)) => std::process::Command::new("redis-cli")
            .args([
                "-u",
                &server.url(),
                "SET",
                &format!("{prefix}history:{job}"),
                "x",
            ])
            .output()
            .unwrap(),
    };
    assert!(done.status.success(), "{:?}", common::texts(&done));
}

/// A run near its `timeout` (which it outlives by its `kill_grace`, deaf to SIGTERM) is
/// `overdue` once, with a link to its page under
/// `public_url` (CRONQ_PUBLIC_URL), in the JSON and in Slack's text.
async fn an_overdue_run_is_told_once_with_its_link(backend: Backend) {
    let setup = Setup::new(backend);
    let sink = HttpSink::start();
    let schedule = format!(
        r#"jobs:
  slow:
    command: ["sh", "-c", "trap '' TERM; echo started; sleep 30"]
    timeout: 12s
    kill_grace: 3s
    notify:
      - webhook: {hook}
        on: [overdue]
      - slack: {slack}
        on: [overdue]
"#,
        hook = sink.url("/hook"),
        slack = sink.url("/slack"),
    );
    setup.scratch.write("crontab.yaml", &schedule);
    let env = [("CRONQ_PUBLIC_URL", "https://cron.example.com/")];
    let mut first = setup.daemon_with("daemon-a", &env, None);
    let mut second = setup.daemon_with("daemon-b", &env, None);
    let id = setup.run("slow");
    eventually("the run timed out", PATIENCE, || {
        let shown = setup.cronq(&["show", &id, "--json"]);
        let done = serde_json::from_slice::<Value>(&shown.stdout)
            .is_ok_and(|run| run["status"] == "timed_out");
        async move { done }
    })
    .await;
    let settle = Duration::from_secs(2);
    let slack = after_a_message(&sink, "/slack", settle, &mut [&mut first, &mut second]).await;
    let bodies = sink.json_bodies("/hook");
    assert_eq!(events(&bodies), ["overdue"], "{bodies:?}");
    let body = &bodies[0];
    assert_eq!(body["run"]["id"], id.as_str());
    assert_eq!(body["run"]["status"], "running", "told while it runs");
    let link = format!("https://cron.example.com/runs/{id}");
    assert_eq!(body["link"], link.as_str());
    let detail = body["detail"].as_str().unwrap();
    assert!(detail.ends_with("near its timeout of 12s"), "{detail}");
    assert_eq!(slack.len(), 1, "{slack:?}");
    let text = slack[0]["text"].as_str().unwrap();
    assert!(
        text.starts_with(&format!(
            "cronq: run {id} of job slow is overdue: running for "
        )),
        "{text}"
    );
    assert!(text.contains(&format!("\n{link}")), "{text}");
}

/// `concurrency: forbid` skips the instants that come while a run goes on: the first
/// skip is told, the others of the hour are not.
async fn skips_for_overlap_are_told_once_an_hour(backend: Backend) {
    let setup = Setup::new(backend);
    let sink = HttpSink::start();
    let schedule = format!(
        r#"jobs:
  long:
    schedule: "@every 1s"
    concurrency: forbid
    command: ["sleep", "30"]
    notify:
      - webhook: {hook}
        on: [skipped]
"#,
        hook = sink.url("/hook"),
    );
    setup.scratch.write("crontab.yaml", &schedule);
    let mut first = setup.daemon("daemon-a", "unused");
    let mut second = setup.daemon("daemon-b", "unused");
    eventually("three skipped instants", PATIENCE, || {
        let done = history(&setup, &["--job", "long", "--status", "skipped"]).len() >= 3;
        async move { done }
    })
    .await;
    let settle = Duration::from_secs(2);
    let bodies = after_a_message(&sink, "/hook", settle, &mut [&mut first, &mut second]).await;
    // One per clock hour: two only when the test ran across the turn of an hour.
    let hour = |body: &Value| body["run"]["scheduled_for"].as_str().unwrap()[..13].to_string();
    let hours: std::collections::HashSet<String> = bodies.iter().map(hour).collect();
    assert_eq!(hours.len(), bodies.len(), "{bodies:?}");
    assert!(
        bodies.len() <= 2 && bodies.iter().all(|b| b["event"] == "skipped"),
        "{bodies:?}"
    );
    assert_eq!(bodies[0]["run"]["status"], "skipped");
    assert_eq!(bodies[0]["detail"], bodies[0]["run"]["reason"]);
}

/// A daemon killed with `kill -9` while it sends (to a target that takes the connection
/// and never answers) leaves its claim to expire: another daemon, whose target works,
/// sends the message, once.
async fn a_message_whose_sender_was_killed_is_sent_once_by_another(backend: Backend) {
    let setup = Setup::new(backend);
    let sink = HttpSink::start();
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let silent_url = format!("http://{}/hook", silent.local_addr().unwrap());
    let taken = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counted = taken.clone();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in silent.incoming().flatten() {
            counted.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            held.push(stream);
        }
    });
    let schedule = r#"jobs:
  broken:
    command: ["false"]
    notify:
      - webhook: ${OPS_WEBHOOK}
        on: [failing]
"#;
    setup.scratch.write("crontab.yaml", schedule);
    let mut doomed = setup.daemon_with("daemon-a", &[("OPS_WEBHOOK", &silent_url)], Some("2s"));
    let id = setup.run("broken");
    eventually("a try at the silent target", PATIENCE, || {
        let done = taken.load(std::sync::atomic::Ordering::SeqCst) > 0;
        async move { done }
    })
    .await;
    doomed.kill();
    let hook = sink.url("/hook");
    let mut heir = setup.daemon_with("daemon-b", &[("OPS_WEBHOOK", &hook)], Some("2s"));
    let settle = Duration::from_secs(4);
    let bodies = after_a_message(&sink, "/hook", settle, &mut [&mut heir]).await;
    assert_eq!(events(&bodies), ["failing"], "{bodies:?}\n{}", heir.logs());
    assert_eq!(bodies[0]["run"]["id"], id.as_str());
    assert!(
        !heir.logs().contains("notification was not taken"),
        "{}",
        heir.logs()
    );
}

/// A target that refuses is shown in `status` (text and `--json`) by its kind and host,
/// never its path, until it takes the message.
async fn a_failing_target_is_shown_in_status_until_it_takes_a_message(backend: Backend) {
    let setup = Setup::new(backend);
    let sink = HttpSink::start();
    sink.fail_first("/secret-path", 3);
    let schedule = format!(
        r#"jobs:
  broken:
    command: ["false"]
    notify:
      - webhook: {hook}
        on: [failing]
"#,
        hook = sink.url("/secret-path"),
    );
    setup.scratch.write("crontab.yaml", &schedule);
    let mut daemon = setup.daemon("daemon", "unused");
    setup.run("broken");
    eventually("the target's failure in status", PATIENCE, || {
        let shown = !setup.status_json()["notify_failures"]
            .as_array()
            .unwrap()
            .is_empty();
        async move { shown }
    })
    .await;
    let status = setup.status_json();
    let failure = &status["notify_failures"][0];
    assert_eq!(failure["job"], "broken");
    assert_eq!(failure["target"], "webhook 127.0.0.1");
    assert!(
        failure["error"].as_str().unwrap().contains("500"),
        "{failure}"
    );
    let text = String::from_utf8(setup.cronq(&["status"]).stdout).unwrap();
    assert!(
        text.contains("notify target failing: webhook 127.0.0.1 of job `broken`"),
        "{text}"
    );
    assert!(!text.contains("secret-path"), "{text}");
    let check = setup.cronq(&["status", "--check"]);
    assert_eq!(check.status.code(), Some(1), "a problem for --check");
    eventually(
        "the message taken and the failure cleared",
        PATIENCE,
        || {
            let cleared = setup.status_json()["notify_failures"]
                .as_array()
                .unwrap()
                .is_empty();
            let taken = !sink.json_bodies("/secret-path").is_empty();
            async move { cleared && taken }
        },
    )
    .await;
    daemon.stop(Duration::from_secs(10));
}

both_stores!(
    one_failing_and_one_recovered_across_two_daemons,
    reminders_repeat_failing_while_it_lasts,
    pings_mark_each_start_and_end,
    a_lost_run_is_failing_and_pings_fail,
    reminders_come_on_a_timer_with_no_runs,
    a_stall_is_told_once_across_two_daemons,
    an_overdue_run_is_told_once_with_its_link,
    skips_for_overlap_are_told_once_an_hour,
    a_message_whose_sender_was_killed_is_sent_once_by_another,
    a_failing_target_is_shown_in_status_until_it_takes_a_message,
);
