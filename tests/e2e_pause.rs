//! Pausing jobs as an operator meets it, on the built binary and both stores, with the
//! real daemon and its built-in workers: a paused every-second job runs nothing and its
//! instants are recorded `skipped` with the pause's reason; the pause outlives a daemon
//! restart and a schedule reload; `--for` ends by itself; `resume` fires again without
//! catching up; `pause --all` holds every job, and `resume --all` leaves a job's own
//! pause be; the watchdog does not call a paused job stalled; a paused job still runs
//! by hand; the instants one pause records are bounded; and a pause and a resume over
//! the HTTP API hold the same way, with the token's name.

mod common;

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use common::both_stores::{Backend, Setup};
use common::daemon::{Process, eventually};
use common::texts;
use cronq::store::redis::RedisStore;
use cronq::store::sqlite::SqliteStore;
use cronq::store::{HistoryFilter, Run, RunStatus, Store, Trigger};

const PATIENCE: Duration = Duration::from_secs(15);
/// How long the daemon may take to see a pause or a resume: about a second, and the
/// next instant of an every-second job.
const NOTICE: TimeDelta = TimeDelta::milliseconds(1500);

/// The admin token of [`Setup::daemon_with_api`].
const ADMIN: &str = "admin-0123456789";

const JOBS: &str = "\
jobs:
  tick:
    schedule: \"* * * * * *\"
    command: \"echo tick\"
    concurrency: allow
  tock:
    schedule: \"* * * * * *\"
    command: \"echo tock\"
    concurrency: allow
";

impl Setup {
    /// `cronq ARGS`, which must succeed: its stdout.
    fn ok(&self, args: &[&str]) -> String {
        let output = self.cronq(args);
        let (stdout, stderr) = texts(&output);
        assert!(output.status.success(), "cronq {args:?}: {stderr}");
        stdout
    }

    async fn store(&self) -> Arc<dyn Store> {
        match &self.redis {
            None => {
                let path = self.dir().join("state/cronq/cronq.db");
                Arc::new(SqliteStore::open(&path, 1 << 20).expect("the default store"))
            }
            Some((server, prefix)) => Arc::new(
                RedisStore::connect(&server.url(), prefix, 1 << 20)
                    .await
                    .expect("the test's Redis store"),
            ),
        }
    }

    /// `cronq daemon --http ADDR` with its built-in workers on `schedule`, and the admin
    /// token `ops` ([`ADMIN`]) in the settings.
    fn daemon_with_api(&self, schedule: &str, name: &str, addr: &str) -> Daemon {
        self.scratch.write("crontab.yaml", schedule);
        self.scratch.write(
            "config/cronq.yaml",
            "api_tokens:\n  - {name: ops, scope: admin, token: \"${TOKEN_ADMIN}\"}\n",
        );
        let mut args = self.store_args();
        args.extend(["--stop-grace".into(), "1s".into(), "daemon".into()]);
        args.extend(["--http".into(), addr.into()]);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let env = [("TOKEN_ADMIN", ADMIN)];
        Daemon(Some(Process::start_with_env(self.dir(), name, &args, &env)))
    }

    /// `cronq daemon` with its built-in workers on `schedule`.
    fn daemon(&self, schedule: &str, name: &str) -> Daemon {
        self.scratch.write("crontab.yaml", schedule);
        let mut args = self.store_args();
        args.extend(["--stop-grace".into(), "1s".into(), "daemon".into()]);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        Daemon(Some(Process::start(self.dir(), name, &args)))
    }
}

/// A daemon stopped by the test or at its end, so that no job outlives it.
struct Daemon(Option<Process>);

impl Daemon {
    fn stop(&mut self) {
        if let Some(mut process) = self.0.take() {
            process.stop(PATIENCE);
        }
    }

    fn process(&self) -> &Process {
        self.0.as_ref().expect("a daemon not stopped yet")
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            self.stop();
        }
    }
}

/// `cli:USER`, as `cronq pause` names who paused.
fn me() -> String {
    let user = nix::unistd::User::from_uid(nix::unistd::geteuid())
        .unwrap()
        .expect("the test runs as a user with a name");
    format!("cli:{}", user.name)
}

async fn runs_of(store: &dyn Store, job: &str) -> Vec<Run> {
    let filter = HistoryFilter {
        job: Some(job.into()),
        ..HistoryFilter::default()
    };
    store.history(&filter).await.expect("the history")
}

/// The job's runs scheduled for `from` or later.
async fn scheduled_since(store: &dyn Store, job: &str, from: DateTime<Utc>) -> Vec<Run> {
    let mut runs: Vec<Run> = runs_of(store, job)
        .await
        .into_iter()
        .filter(|run| run.scheduled_for.is_some_and(|at| at >= from))
        .collect();
    runs.sort_by_key(|run| run.scheduled_for);
    runs
}

/// Waits until `job` has a run that succeeded, scheduled for `from` or later.
async fn ran_since(store: &dyn Store, job: &str, from: DateTime<Utc>) {
    eventually(
        &format!("a run of {job} after {from}"),
        PATIENCE,
        || async {
            scheduled_since(store, job, from)
                .await
                .iter()
                .any(|run| run.status == RunStatus::Succeeded)
        },
    )
    .await;
}

/// Asserts that every run of `job` scheduled in `[from, to)` was skipped with `reason`,
/// and that there was at least `at_least` of them.
#[track_caller]
fn all_skipped(
    runs: &[Run],
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    reason: &str,
    at_least: usize,
) {
    let within: Vec<&Run> = runs
        .iter()
        .filter(|run| run.scheduled_for.is_some_and(|at| at >= from && at < to))
        .collect();
    for run in &within {
        assert_eq!(
            (run.status, run.reason.as_deref()),
            (RunStatus::Skipped, Some(reason)),
            "a run of a paused job: {run:?}"
        );
    }
    assert!(
        within.len() >= at_least,
        "{} skipped records in [{from}, {to}), expected {at_least} or more: {within:?}",
        within.len()
    );
}

async fn sleep_until(at: DateTime<Utc>) {
    if let Ok(wait) = (at - Utc::now()).to_std() {
        tokio::time::sleep(wait).await;
    }
}

crate::both_stores! {
    a_paused_job_fires_nothing_until_resumed,
    a_pause_outlives_a_daemon_restart_and_a_schedule_reload,
    a_pause_for_two_seconds_ends_by_itself,
    pause_all_holds_every_job_and_the_watchdog_calls_none_stalled,
    a_pause_records_a_bounded_number_of_instants,
    pause_refuses_an_unknown_job_and_an_end_it_cannot_keep,
    a_pause_over_http_holds_through_a_reload_and_a_restart,
}

async fn a_paused_job_fires_nothing_until_resumed(backend: Backend) {
    let setup = Setup::new(backend);
    let _daemon = setup.daemon(JOBS, "daemon");
    let store = setup.store().await;
    ran_since(&*store, "tick", Utc::now()).await;

    let said = setup.ok(&["pause", "tick", "--reason", "db migration"]);
    let paused_at = Utc::now();
    assert!(
        said.starts_with(&format!("job `tick` is paused (db migration, by {}", me())),
        "{said}"
    );
    let quiet_from = paused_at + NOTICE;
    sleep_until(quiet_from + TimeDelta::seconds(3)).await;
    let reason = format!("paused: db migration (by {})", me());
    let runs = runs_of(&*store, "tick").await;
    all_skipped(&runs, quiet_from, Utc::now(), &reason, 2);
    ran_since(&*store, "tock", quiet_from).await;

    // status names the pause, in text and JSON; next --job says it; the watchdog is quiet.
    let status = setup.ok(&["status"]);
    assert!(status.contains("PAUSED"), "{status}");
    let line = status
        .lines()
        .find(|line| line.starts_with("tick "))
        .expect("a line for tick under PAUSED");
    assert!(
        line.contains(&me()) && line.ends_with("db migration"),
        "{line}"
    );
    let json: serde_json::Value = serde_json::from_str(&setup.ok(&["status", "--json"])).unwrap();
    let listed = &json["paused"][0];
    assert_eq!(listed["job"], "tick", "{json}");
    assert_eq!(listed["paused"]["reason"], "db migration");
    assert_eq!(listed["paused"]["by"], me().as_str());
    assert!(listed["paused"]["since"].is_string());
    assert_eq!(listed["paused"]["until"], serde_json::Value::Null);
    assert_eq!(
        json["paused"].as_array().unwrap().len(),
        1,
        "tock is not paused"
    );
    let next = setup.cronq(&["next", "--job", "tick", "-n", "2"]);
    let (instants, note) = texts(&next);
    assert!(next.status.success());
    assert_eq!(
        instants.lines().count(),
        2,
        "still the instants: {instants}"
    );
    assert!(
        note.contains("job `tick` is paused (db migration"),
        "{note}"
    );
    let check = setup.cronq(&["status", "--check", "--grace", "1s"]);
    assert!(check.status.success(), "{}", texts(&check).0);

    // A run by hand still runs, and says why.
    let by_hand = setup.cronq(&["run", "tick", "--wait"]);
    let (out, err) = texts(&by_hand);
    assert!(by_hand.status.success(), "{err}");
    assert_eq!(out, "tick\n");
    assert!(
        err.contains("job `tick` is paused (db migration")
            && err.contains("running it anyway because it was asked by hand"),
        "{err}"
    );

    let said = setup.ok(&["resume", "tick"]);
    let resumed_at = Utc::now();
    assert!(said.starts_with("job `tick` is resumed"), "{said}");
    ran_since(&*store, "tick", resumed_at).await;
    let runs = runs_of(&*store, "tick").await;
    assert!(
        runs.iter().all(|run| run.trigger != Trigger::CatchUp),
        "the paused instants are not caught up: {runs:?}"
    );
    all_skipped(
        &runs,
        quiet_from,
        resumed_at - TimeDelta::seconds(1),
        &reason,
        2,
    );
}

async fn a_pause_outlives_a_daemon_restart_and_a_schedule_reload(backend: Backend) {
    let setup = Setup::new(backend);
    let store = setup.store().await;
    let mut first = setup.daemon(JOBS, "first");
    ran_since(&*store, "tick", Utc::now()).await;
    setup.ok(&["pause", "tick", "--reason", "broken"]);
    let quiet_from = Utc::now() + NOTICE;
    let reason = format!("paused: broken (by {})", me());

    // The daemon stops for a while: its missed instants would be caught up (catch_up:
    // once) if the job were not paused.
    first.stop();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let second = setup.daemon(JOBS, "second");
    let restarted = Utc::now();
    ran_since(&*store, "tock", restarted).await;
    sleep_until(restarted + TimeDelta::seconds(2)).await;
    all_skipped(
        &runs_of(&*store, "tick").await,
        quiet_from,
        Utc::now(),
        &reason,
        2,
    );

    // A reload, as a deploy makes one: tick's command changes, a job is added.
    let changed = JOBS.replace("echo tick", "echo tick v2")
        + "  added:\n    schedule: \"* * * * * *\"\n    command: \"echo added\"\n";
    setup.scratch.write("crontab.yaml", &changed);
    second.process().signal(nix::sys::signal::Signal::SIGHUP);
    eventually("the reload", PATIENCE, || async {
        second.process().logs().contains("schedule reloaded")
    })
    .await;
    let reloaded = Utc::now();
    ran_since(&*store, "added", reloaded).await;
    sleep_until(reloaded + TimeDelta::seconds(2)).await;
    let runs = runs_of(&*store, "tick").await;
    all_skipped(&runs, quiet_from, Utc::now(), &reason, 5);
    let listed = setup.ok(&["status"]);
    assert!(listed.contains("broken"), "{listed}");
}

async fn a_pause_for_two_seconds_ends_by_itself(backend: Backend) {
    let setup = Setup::new(backend);
    let _daemon = setup.daemon(JOBS, "daemon");
    let store = setup.store().await;
    ran_since(&*store, "tick", Utc::now()).await;
    let said = setup.ok(&["pause", "tick", "--for", "2s"]);
    assert!(said.contains(", until "), "{said}");
    // To the millisecond, as the store keeps it (`status` prints whole seconds).
    let pauses = store.pauses().await.unwrap();
    let pause = &pauses.first().expect("the pause, listed").pause;
    let ends = pause.until.expect("an end");
    assert_eq!(ends - pause.since, TimeDelta::seconds(2));
    // Nobody resumes it: it fires again after its two seconds.
    ran_since(&*store, "tick", ends).await;
    let runs = runs_of(&*store, "tick").await;
    // The instant in its last second comes a second after it was made: seen paused.
    let reason = format!("paused (by {})", me());
    all_skipped(&runs, ends - TimeDelta::seconds(1), ends, &reason, 1);
    let json: serde_json::Value = serde_json::from_str(&setup.ok(&["status", "--json"])).unwrap();
    assert_eq!(
        json["paused"],
        serde_json::json!([]),
        "an ended pause is not listed"
    );
    let first_after = scheduled_since(&*store, "tick", ends)
        .await
        .into_iter()
        .find(|run| run.status == RunStatus::Succeeded)
        .and_then(|run| run.scheduled_for)
        .unwrap();
    assert!(
        first_after <= ends + TimeDelta::seconds(2),
        "fired again at {first_after}, the pause ended at {ends}"
    );
}

async fn pause_all_holds_every_job_and_the_watchdog_calls_none_stalled(backend: Backend) {
    let setup = Setup::new(backend);
    let store = setup.store().await;
    let mut daemon = setup.daemon(JOBS, "daemon");
    ran_since(&*store, "tick", Utc::now()).await;
    setup.ok(&["pause", "tock", "--reason", "its own"]);
    let said = setup.ok(&["pause", "--all", "--reason", "maintenance"]);
    assert!(
        said.starts_with("every job is paused (maintenance"),
        "{said}"
    );
    let quiet_from = Utc::now() + NOTICE;
    sleep_until(quiet_from + TimeDelta::seconds(2)).await;
    let all = format!("paused: maintenance (by {})", me());
    let own = format!("paused: its own (by {})", me());
    all_skipped(
        &runs_of(&*store, "tick").await,
        quiet_from,
        Utc::now(),
        &all,
        2,
    );
    all_skipped(
        &runs_of(&*store, "tock").await,
        quiet_from,
        Utc::now(),
        &own,
        2,
    );
    let json: serde_json::Value = serde_json::from_str(&setup.ok(&["status", "--json"])).unwrap();
    assert_eq!(
        json["paused"][0]["job"],
        serde_json::Value::Null,
        "every job: {json}"
    );
    assert_eq!(json["paused"][0]["paused"]["reason"], "maintenance");
    assert_eq!(json["paused"][1]["job"], "tock");

    // With no daemon at all, a paused job is not stalled: it fires nothing, as asked.
    daemon.stop();
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let check = setup.cronq(&["status", "--check", "--grace", "1s"]);
    assert!(check.status.success(), "{}", texts(&check).0);

    let listed = setup.ok(&["status"]);
    assert!(
        listed
            .lines()
            .any(|line| line.starts_with("(every job)") && line.ends_with("maintenance")),
        "{listed}"
    );
    let still = setup.cronq(&["resume", "tick"]);
    assert_eq!(
        still.status.code(),
        Some(1),
        "tick is held by the pause of every job"
    );
    let (out, err) = texts(&still);
    assert_eq!(out, "");
    assert!(
        err.contains("job `tick` is still paused, as every job is (maintenance"),
        "{err}"
    );

    let said = setup.ok(&["resume", "--all"]);
    assert!(said.starts_with("every job is resumed"), "{said}");
    assert!(
        said.contains("job `tock` stays paused (its own"),
        "resume --all leaves a job's own pause: {said}"
    );
    let check = setup.cronq(&["status", "--check", "--grace", "1s"]);
    let (problems, _) = texts(&check);
    assert_eq!(check.status.code(), Some(1), "{problems}");
    assert!(problems.contains("`tick`"), "tick is stalled: {problems}");
    assert!(
        !problems.contains("`tock`"),
        "tock is still paused: {problems}"
    );
    let resume_tock = setup.cronq(&["resume", "tock"]);
    assert!(resume_tock.status.success());

    // The daemon back: tick fires again, tock too.
    let _daemon = setup.daemon(JOBS, "again");
    let back = Utc::now();
    ran_since(&*store, "tick", back).await;
    ran_since(&*store, "tock", back).await;
}

/// An every-20-ms job paused for 4 s passes about 200 instants: 100 are recorded.
async fn a_pause_records_a_bounded_number_of_instants(backend: Backend) {
    const FAST: &str = "jobs:\n  fast:\n    schedule: \"@every 20ms\"\n    command: \"true\"\n";
    let setup = Setup::new(backend);
    let store = setup.store().await;
    setup.scratch.write("crontab.yaml", FAST);
    // Paused before the daemon starts: nothing of it runs at all.
    setup.ok(&["pause", "fast", "--reason", "too fast"]);
    let _daemon = setup.daemon(FAST, "daemon");
    tokio::time::sleep(Duration::from_secs(4)).await;
    let runs = runs_of(&*store, "fast").await;
    assert_eq!(runs.len(), 100, "records of one pause");
    assert!(runs.iter().all(|run| run.status == RunStatus::Skipped));
    // Its marker still moves: resumed, it fires from now, without a backlog.
    let last = store.last_fired("fast").await.unwrap().expect("a marker");
    assert!(
        Utc::now() - last < TimeDelta::seconds(1),
        "the marker is at {last}"
    );
    setup.ok(&["resume", "fast"]);
    let resumed = Utc::now();
    ran_since(&*store, "fast", resumed).await;
    assert!(
        runs_of(&*store, "fast")
            .await
            .iter()
            .all(|run| run.trigger != Trigger::CatchUp),
        "nothing caught up"
    );
}

async fn pause_refuses_an_unknown_job_and_an_end_it_cannot_keep(backend: Backend) {
    let setup = Setup::new(backend);
    setup.scratch.write("crontab.yaml", JOBS);
    let run = setup.cronq(&["run", "tickk"]);
    let pause = setup.cronq(&["pause", "tickk"]);
    assert_eq!(pause.status.code(), Some(2));
    assert_eq!(
        texts(&pause).1,
        texts(&run).1,
        "pause says what run says of an unknown job"
    );
    assert!(texts(&pause).1.contains("did you mean `tick`?"));
    let resume = setup.cronq(&["resume", "tickk"]);
    assert_eq!(resume.status.code(), Some(2));

    for (args, flag) in [
        (
            vec!["pause", "tick", "--until", "2020-01-01T00:00:00Z"],
            "--until",
        ),
        (
            vec![
                "pause",
                "tick",
                "--until",
                "2099-01-01T00:00:00Z",
                "--for",
                "2h",
            ],
            "--for",
        ),
        (vec!["pause", "tick", "--until", "tomorrow"], "--until"),
    ] {
        let refused = setup.cronq(&args);
        let (_, err) = texts(&refused);
        assert_eq!(refused.status.code(), Some(2), "{args:?}: {err}");
        assert_eq!(err.lines().count(), 1, "one sentence: {err}");
        assert!(err.contains(flag), "{args:?}: {err}");
    }
    let json: serde_json::Value = serde_json::from_str(&setup.ok(&["status", "--json"])).unwrap();
    assert_eq!(json["paused"], serde_json::json!([]), "nothing was paused");
}

fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
    listener.local_addr().expect("an address").port()
}

/// POSTs `path` with the admin token: the JSON answered, once it is 200.
async fn admin_post(
    client: &reqwest::Client,
    base: &str,
    path: &str,
    body: serde_json::Value,
) -> serde_json::Value {
    let response = client
        .post(format!("{base}{path}"))
        .bearer_auth(ADMIN)
        .json(&body)
        .send()
        .await
        .expect("the API answers");
    let status = response.status();
    let text = response.text().await.expect("a body");
    assert_eq!(status, reqwest::StatusCode::OK, "POST {path}: {text}");
    serde_json::from_str(&text).expect("JSON")
}

async fn api_ready(client: &reqwest::Client, base: &str) {
    eventually("the API to be ready", PATIENCE, || async {
        client
            .get(format!("{base}/readyz"))
            .send()
            .await
            .is_ok_and(|r| r.status().is_success())
    })
    .await;
}

/// A job paused over the HTTP API fires nothing; its instants are `skipped` with the
/// token's name, through a reload of the schedule and a restart of the daemon, until
/// it is resumed over HTTP, and then it fires again without catching up.
async fn a_pause_over_http_holds_through_a_reload_and_a_restart(backend: Backend) {
    let setup = Setup::new(backend);
    let store = setup.store().await;
    let addr = format!("127.0.0.1:{}", free_port());
    let base = format!("http://{addr}");
    let client = reqwest::Client::new();
    let mut first = setup.daemon_with_api(JOBS, "first", &addr);
    api_ready(&client, &base).await;
    ran_since(&*store, "tick", Utc::now()).await;

    let job = admin_post(
        &client,
        &base,
        "/api/v1/jobs/tick/pause",
        serde_json::json!({"reason": "deploy"}),
    )
    .await;
    assert_eq!(job["paused"]["by"], "token:ops", "{job}");
    let quiet_from = Utc::now() + NOTICE;
    let reason = "paused: deploy (by token:ops)";
    sleep_until(quiet_from + TimeDelta::seconds(2)).await;
    all_skipped(
        &runs_of(&*store, "tick").await,
        quiet_from,
        Utc::now(),
        reason,
        2,
    );
    ran_since(&*store, "tock", quiet_from).await;

    // A reload, as a deploy makes one: tick's command changes, a job is added.
    let changed = JOBS.replace("echo tick", "echo tick v2")
        + "  added:\n    schedule: \"* * * * * *\"\n    command: \"echo added\"\n";
    setup.scratch.write("crontab.yaml", &changed);
    first.process().signal(nix::sys::signal::Signal::SIGHUP);
    eventually("the reload", PATIENCE, || async {
        first.process().logs().contains("schedule reloaded")
    })
    .await;
    let reloaded = Utc::now();
    ran_since(&*store, "added", reloaded).await;
    sleep_until(reloaded + TimeDelta::seconds(2)).await;
    all_skipped(
        &runs_of(&*store, "tick").await,
        quiet_from,
        Utc::now(),
        reason,
        4,
    );

    // A restart, on the same address.
    first.stop();
    let _second = setup.daemon_with_api(&changed, "second", &addr);
    api_ready(&client, &base).await;
    let restarted = Utc::now();
    ran_since(&*store, "tock", restarted).await;
    sleep_until(restarted + TimeDelta::seconds(2)).await;
    all_skipped(
        &runs_of(&*store, "tick").await,
        quiet_from,
        Utc::now(),
        reason,
        6,
    );

    let job = admin_post(
        &client,
        &base,
        "/api/v1/jobs/tick/resume",
        serde_json::json!({}),
    )
    .await;
    assert_eq!(job["paused"], serde_json::Value::Null, "{job}");
    let resumed_at = Utc::now();
    ran_since(&*store, "tick", resumed_at).await;
    let runs = runs_of(&*store, "tick").await;
    assert!(
        runs.iter().all(|run| run.trigger != Trigger::CatchUp),
        "the paused instants are not caught up: {runs:?}"
    );
    let ran: Vec<&Run> = runs
        .iter()
        .filter(|run| run.status == RunStatus::Succeeded)
        .filter(|run| run.scheduled_for.is_some_and(|at| at >= resumed_at))
        .collect();
    assert!(!ran.is_empty(), "tick fires again: {runs:?}");
}
