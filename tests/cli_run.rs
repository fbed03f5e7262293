//! `cronq run`, `cronq cancel` and `cronq progress` driven as a user would, against a
//! real `cronq daemon`, with the store read back through the library: the id printed,
//! output streamed before the job ends (its stdout to stdout, its stderr to stderr), the job's exit code, retries followed, Ctrl-C,
//! cancel of queued and running runs, and progress reported from inside a job.

mod common;

use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::sync::Arc;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use common::daemon::{Process, eventually};
use common::redis_server::RedisServer;
use common::{Scratch, texts};
use cronq::store::redis::RedisStore;
use cronq::store::sqlite::SqliteStore;
use cronq::store::{
    Chunk, HistoryFilter, Outcome, Run, RunStatus, Store, Stream, Trigger, WorkerRef,
};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

const PATIENCE: Duration = Duration::from_secs(10);
const CRONQ: &str = env!("CARGO_BIN_EXE_cronq");

/// Jobs run only by hand: none has a `schedule:`.
const JOBS: &str = r#"
  hello:
    command: "echo hello"
  stream:
    command: "echo first; sleep 1.5; echo second"
  both:
    command: "echo out-1; echo err-1 >&2; sleep 1.5; echo out-2; echo err-2 >&2"
  three:
    command: "echo about to fail; exit 3"
  echo-args:
    command: ["echo"]
    allow_args: true
  no-args:
    command: ["echo"]
  greet:
    command: "echo \"hi $GREETING\""
    allow_env: [GREETING]
  sleeper:
    command: "sleep 30"
    concurrency: allow
  flaky:
    command: "false"
    retries: 2
"#;

/// A scratch directory with a schedule, the flags that name its store, and that store
/// opened through the library.
struct Setup {
    scratch: Scratch,
    /// `--store URL --redis-prefix P` for Redis; none for the default SQLite file.
    flags: Vec<String>,
    store: Arc<dyn Store>,
    _redis: Option<Arc<RedisServer>>,
}

impl Setup {
    fn sqlite() -> Setup {
        let scratch = Scratch::new();
        let store = SqliteStore::open(&db(scratch.path()), 1 << 20).expect("the default store");
        let setup = Setup {
            scratch,
            flags: Vec::new(),
            store: Arc::new(store),
            _redis: None,
        };
        setup.write_schedule("");
        setup
    }

    async fn redis() -> Setup {
        let server = RedisServer::shared();
        let prefix = server.unique_prefix();
        let store = RedisStore::connect(&server.url(), &prefix, 1 << 20)
            .await
            .expect("redis answers");
        let setup = Setup {
            scratch: Scratch::new(),
            flags: vec![
                "--store".into(),
                server.url(),
                "--redis-prefix".into(),
                prefix.clone(),
            ],
            store: Arc::new(store),
            _redis: Some(server),
        };
        setup.write_schedule("");
        setup
    }

    /// The common jobs, plus `more`.
    fn write_schedule(&self, more: &str) {
        self.scratch
            .write("crontab.yaml", &format!("jobs:{JOBS}{more}"));
    }

    /// A job that reports progress from inside, then sleeps. The worker passes it the
    /// store's address and Redis prefix.
    fn add_progress_job(&self) {
        self.write_schedule(&format!(
            "  reporter:\n    command: \"{CRONQ} progress 120 bad; echo code=$?; echo '12.5 from the shell' >&$CRONQ_PROGRESS_FD; sleep 1; PATH=/nowhere; $CRONQ_BIN progress 40% copying; /bin/sleep 30\"\n"
        ));
    }

    /// `cronq daemon` on this store, with the default lease; running jobs get 1 s to end
    /// when it stops.
    fn daemon(&self) -> Daemon {
        let mut args = vec!["--stop-grace", "1s"];
        args.extend(self.flags.iter().map(String::as_str));
        args.push("daemon");
        Daemon(Process::start(self.scratch.path(), "daemon", &args))
    }

    /// `cronq FLAGS ARGS` in the scratch directory, as `Scratch::cronq` sets it up.
    fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(CRONQ);
        for (name, _) in std::env::vars().filter(|(name, _)| name.starts_with("CRONQ_")) {
            command.env_remove(name);
        }
        command
            .current_dir(self.scratch.path())
            .env("TZ", "UTC")
            .env("XDG_STATE_HOME", self.scratch.path().join("state"))
            .env("NO_COLOR", "1")
            .args(&self.flags)
            .args(args)
            .stdin(Stdio::null());
        command
    }

    fn cronq(&self, args: &[&str]) -> Output {
        self.command(args).output().expect("cronq runs")
    }

    /// `cronq ARGS` left running, its stdout and stderr piped.
    fn spawn(&self, args: &[&str]) -> Child {
        self.command(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("cronq starts")
    }

    async fn runs(&self, job: &str) -> Vec<Run> {
        let filter = HistoryFilter {
            job: Some(job.into()),
            ..HistoryFilter::default()
        };
        self.store.history(&filter).await.expect("history")
    }

    async fn status(&self, id: &str) -> RunStatus {
        self.store.run(id).await.expect("the run").status
    }

    /// Waits for the only run of `job` to be running; its id.
    async fn running(&self, job: &str) -> String {
        eventually(&format!("{job} to run"), PATIENCE, || async {
            self.runs(job)
                .await
                .iter()
                .any(|run| run.status == RunStatus::Running)
        })
        .await;
        self.runs(job).await[0].id.clone()
    }
}

/// A daemon stopped with SIGTERM at the end of the test, so that no job outlives it.
struct Daemon(Process);

impl Drop for Daemon {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            self.0.stop(PATIENCE);
        }
    }
}

/// The id `cronq run` printed, alone on its line.
fn printed_id(output: &Output) -> String {
    let (stdout, stderr) = texts(output);
    assert!(output.status.success(), "{stdout}{stderr}");
    let id = stdout.trim().to_string();
    assert_eq!(id.len(), 26, "a ULID: {stdout:?}");
    id
}

/// The id `cronq run --wait` names on stderr: `cronq: run ID of JOB queued`.
fn waited_id(stderr: &str) -> String {
    let line = stderr
        .lines()
        .find(|line| line.ends_with("queued") && line.starts_with("cronq: run "))
        .unwrap_or_else(|| panic!("no queued line in {stderr}"));
    line["cronq: run ".len()..][..26].to_string()
}

/// Reads `pipe` line by line on a thread of its own, sending each line.
fn lines_of(pipe: impl Read + Send + 'static) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(pipe).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                return;
            }
        }
    });
    rx
}

/// Waits for `child` to exit, for up to `PATIENCE`; its exit code.
fn exit_code(child: &mut Child) -> Option<i32> {
    let deadline = Instant::now() + PATIENCE;
    loop {
        if let Some(status) = child.try_wait().expect("wait") {
            return status.code();
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("cronq did not exit within {PATIENCE:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn interrupt(child: &Child) {
    kill(Pid::from_raw(child.id() as i32), Signal::SIGINT).expect("the process is there");
}

#[tokio::test(flavor = "multi_thread")]
async fn run_prints_the_id_of_a_manual_run() {
    let setup = Setup::sqlite();
    let id = printed_id(&setup.cronq(&["run", "hello"]));
    let run = setup.store.run(&id).await.expect("the run is in the store");
    assert_eq!(
        (run.job.as_str(), run.trigger, run.status),
        ("hello", Trigger::Manual, RunStatus::Queued)
    );
    assert_eq!(run.scheduled_for, None);
    // Retries come from the local file: two, so three attempts.
    let flaky = printed_id(&setup.cronq(&["run", "flaky"]));
    assert_eq!(setup.store.run(&flaky).await.unwrap().max_attempts, 3);

    // Not `hello` again: its run is queued, and `forbid` (the default) refuses a second.
    let output = setup.cronq(&["run", "--json", "three"]);
    assert!(output.status.success(), "{:?}", texts(&output));
    let document: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let keys: Vec<&String> = document.as_object().unwrap().keys().collect();
    assert_eq!(keys, ["id"]);
    let id = document["id"].as_str().unwrap();
    assert_eq!(setup.store.run(id).await.unwrap().trigger, Trigger::Manual);
}

#[tokio::test(flavor = "multi_thread")]
async fn unknown_jobs_args_and_env_are_usage_errors() {
    let setup = Setup::sqlite();
    let output = setup.cronq(&["run", "helo"]);
    let (_, stderr) = texts(&output);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("no job `helo`"), "{stderr}");
    assert!(stderr.contains("did you mean `hello`?"), "{stderr}");

    let output = setup.cronq(&["run", "no-args", "--", "x"]);
    let (_, stderr) = texts(&output);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("allow_args: true"), "{stderr}");

    let output = setup.cronq(&["run", "greet", "--env", "GREETING"]);
    let (_, stderr) = texts(&output);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("NAME=VALUE"), "{stderr}");

    // Only the names the job allows, and never one that changes what runs.
    let output = setup.cronq(&["run", "greet", "--env", "LEVEL=debug"]);
    let (_, stderr) = texts(&output);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert_eq!(
        stderr,
        "cronq: job `greet` takes only GREETING from a run, not `LEVEL`; list the name in the \
         job's `allow_env` to pass it\n"
    );
    for forbidden in ["PATH=/tmp/evil", "LD_PRELOAD=/tmp/evil.so", "CRONQ_STORE=x"] {
        let output = setup.cronq(&["run", "greet", "--env", "GREETING=x", "--env", forbidden]);
        let (_, stderr) = texts(&output);
        assert_eq!(output.status.code(), Some(2), "{forbidden}: {stderr}");
        assert!(
            stderr.contains("cronq never takes it from a run") && stderr.lines().count() == 1,
            "{stderr}"
        );
    }
    let output = setup.cronq(&["run", "hello", "--env", "GREETING=x"]);
    let (_, stderr) = texts(&output);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("job `hello` takes no environment from a run"),
        "{stderr}"
    );

    assert!(
        setup.runs("no-args").await.is_empty()
            && setup.runs("greet").await.is_empty()
            && setup.runs("hello").await.is_empty(),
        "nothing was queued"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_job_only_the_published_schedule_names_runs_from_another_directory() {
    let setup = Setup::sqlite();
    let _daemon = setup.daemon();
    eventually("the schedule to be published", PATIENCE, || async {
        setup.store.published().await.unwrap().is_some()
    })
    .await;
    // No schedule file here: the job is known from the store alone.
    let elsewhere = Scratch::new();
    let url = format!(
        "sqlite:{}",
        setup.scratch.path().join("state/cronq/cronq.db").display()
    );
    let cronq = |args: &[&str]| {
        elsewhere
            .cronq()
            .args(["--store", &url])
            .args(args)
            .output()
            .unwrap()
    };
    let output = cronq(&["run", "--wait", "echo-args", "--", "a", "b c"]);
    let (stdout, stderr) = texts(&output);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    assert_eq!(stdout, "a b c\n");
    let run = setup.store.run(&waited_id(&stderr)).await.unwrap();
    assert_eq!((run.queue.as_str(), run.max_attempts), ("default", 1));

    // The published schedule says which variables a run may bring.
    let output = cronq(&["run", "greet", "--env", "PATH=/tmp/evil"]);
    assert_eq!(output.status.code(), Some(2), "{}", texts(&output).1);
    let output = cronq(&["run", "greet", "--env", "HOME=/tmp"]);
    let (_, stderr) = texts(&output);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("takes only GREETING"), "{stderr}");
    let output = cronq(&["run", "--wait", "greet", "--env", "GREETING=from afar"]);
    assert_eq!(texts(&output).0, "hi from afar\n");

    let output = cronq(&["run", "flakey"]);
    let (_, stderr) = texts(&output);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("the schedule the daemons published") && stderr.contains("`flaky`"),
        "{stderr}"
    );
}

async fn streams_output_while_the_job_runs(setup: Setup) {
    let _daemon = setup.daemon();
    let mut child = setup.spawn(&["run", "--wait", "stream"]);
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut first = String::new();
    stdout.read_line(&mut first).unwrap();
    assert_eq!(first, "first\n");
    let runs = setup.runs("stream").await;
    assert_eq!(
        runs[0].status,
        RunStatus::Running,
        "the first line came before the job ended"
    );
    let mut rest = String::new();
    stdout.read_to_string(&mut rest).unwrap();
    assert_eq!(rest, "second\n");
    assert_eq!(exit_code(&mut child), Some(0));
}

#[tokio::test(flavor = "multi_thread")]
async fn run_wait_streams_output_while_the_job_runs_sqlite() {
    streams_output_while_the_job_runs(Setup::sqlite()).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn run_wait_streams_output_while_the_job_runs_redis() {
    streams_output_while_the_job_runs(Setup::redis().await).await;
}

/// Waits up to `PATIENCE` for the next line of `lines` that is not cronq's own.
fn next_job_line(lines: &mpsc::Receiver<String>) -> String {
    loop {
        let line = lines
            .recv_timeout(PATIENCE)
            .expect("a line within the patience");
        if !line.starts_with("cronq: ") {
            return line;
        }
    }
}

async fn keeps_the_jobs_stdout_and_stderr_apart(setup: Setup) {
    let _daemon = setup.daemon();
    let mut child = setup.spawn(&["run", "--wait", "both"]);
    let stdout = lines_of(child.stdout.take().unwrap());
    let stderr = lines_of(child.stderr.take().unwrap());
    assert_eq!(next_job_line(&stdout), "out-1");
    assert_eq!(next_job_line(&stderr), "err-1");
    assert_eq!(
        setup.runs("both").await[0].status,
        RunStatus::Running,
        "both first lines came before the job ended"
    );
    assert_eq!(exit_code(&mut child), Some(0));
    // The pipes end with the process: what is left is the rest, whole.
    let rest: Vec<String> = stdout.iter().collect();
    assert_eq!(rest, ["out-2"], "stdout holds the job's stdout alone");
    let rest: Vec<String> = stderr.iter().collect();
    let job_lines: Vec<&String> = rest.iter().filter(|l| !l.starts_with("cronq: ")).collect();
    assert_eq!(job_lines, ["err-2"], "stderr: {rest:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn run_wait_keeps_the_jobs_stdout_and_stderr_apart_sqlite() {
    keeps_the_jobs_stdout_and_stderr_apart(Setup::sqlite()).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn run_wait_keeps_the_jobs_stdout_and_stderr_apart_redis() {
    keeps_the_jobs_stdout_and_stderr_apart(Setup::redis().await).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn run_wait_exits_with_the_jobs_code_and_passes_args_and_env() {
    let setup = Setup::sqlite();
    let _daemon = setup.daemon();
    let output = setup.cronq(&["run", "--wait", "three"]);
    let (stdout, stderr) = texts(&output);
    assert_eq!(output.status.code(), Some(3), "{stderr}");
    assert_eq!(stdout, "about to fail\n");
    assert!(stderr.contains("failed with exit code 3"), "{stderr}");

    let output = setup.cronq(&["run", "--wait", "echo-args", "--", "one", "two words"]);
    assert_eq!(texts(&output).0, "one two words\n");
    let output = setup.cronq(&["run", "--wait", "greet", "--env", "GREETING=there"]);
    assert_eq!(texts(&output).0, "hi there\n");

    // A finished run cannot be cancelled: exit 1, with its status.
    let output = setup.cronq(&["run", "--wait", "hello"]);
    let id = waited_id(&texts(&output).1);
    let output = setup.cronq(&["cancel", &id]);
    let (_, stderr) = texts(&output);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(&format!("run {id} already succeeded")),
        "{stderr}"
    );
}

/// A batch of one chunk on stdout, as a worker appends it.
fn stdout(text: &str) -> [Chunk; 1] {
    [Chunk::new(Stream::Stdout, text)]
}

/// Plays a worker through the library: the retry backoff of a real one is 10 s.
async fn reserve(store: &dyn Store, lease_for: Duration) -> (Run, cronq::store::Lease) {
    let worker = WorkerRef {
        id: "test-worker".into(),
        host: "test".into(),
    };
    let queues = ["default".to_string()];
    store
        .reserve(&queues, &worker, lease_for, PATIENCE)
        .await
        .unwrap()
        .expect("a run to reserve")
}

#[tokio::test(flavor = "multi_thread")]
async fn run_wait_follows_retries_after_a_failure_and_a_lost_run() {
    let setup = Setup::sqlite();
    let mut child = setup.spawn(&["run", "--wait", "flaky"]);
    let store = &*setup.store;
    let outcome = |status, exit_code| Outcome {
        status,
        exit_code,
        signal: None,
        reason: None,
    };

    let (first, lease) = reserve(store, PATIENCE).await;
    store.append_output(&lease, &stdout("one\n")).await.unwrap();
    let finished = store
        .finish(&lease, outcome(RunStatus::Failed, Some(1)), Duration::ZERO)
        .await
        .unwrap();
    assert!(finished.retry.is_some());

    let (second, lease) = reserve(store, Duration::from_millis(500)).await;
    assert_eq!(second.retry_of.as_deref(), Some(first.id.as_str()));
    store.append_output(&lease, &stdout("two\n")).await.unwrap();
    tokio::time::sleep(Duration::from_millis(600)).await;
    let lost = store.reap().await.unwrap();
    assert_eq!(lost.len(), 1);

    let (third, lease) = reserve(store, PATIENCE).await;
    assert_eq!(third.attempt, 3);
    store
        .append_output(&lease, &stdout("three\n"))
        .await
        .unwrap();
    store
        .finish(
            &lease,
            outcome(RunStatus::Succeeded, Some(0)),
            Duration::ZERO,
        )
        .await
        .unwrap();

    assert_eq!(exit_code(&mut child), Some(0));
    let mut stdout = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut stdout)
        .unwrap();
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    assert_eq!(stdout, "one\ntwo\nthree\n", "{stderr}");
    assert!(
        stderr.contains("failed with exit code 1; retrying (attempt 2)"),
        "{stderr}"
    );
    assert!(stderr.contains("lost"), "{stderr}");
    assert!(stderr.contains("retrying (attempt 3)"), "{stderr}");
}

#[tokio::test(flavor = "multi_thread")]
async fn run_wait_says_when_no_worker_serves_the_queue() {
    let setup = Setup::sqlite();
    let started = Instant::now();
    let mut child = setup.spawn(&["run", "--wait", "hello"]);
    let stderr = lines_of(child.stderr.take().unwrap());
    let said = loop {
        match stderr.recv_timeout(PATIENCE) {
            Ok(line) if line.contains("no worker") => break line,
            Ok(_) => continue,
            Err(error) => panic!("no word of a missing worker: {error}"),
        }
    };
    assert_eq!(said, "cronq: queued; no worker is serving queue default");
    assert!(started.elapsed() >= Duration::from_millis(2500));
    assert!(child.try_wait().unwrap().is_none(), "it keeps waiting");
    child.kill().unwrap();
    child.wait().unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn ctrl_c_detaches_or_with_cancel_on_interrupt_cancels() {
    let setup = Setup::sqlite();
    let _daemon = setup.daemon();
    let mut child = setup.spawn(&["run", "--wait", "sleeper"]);
    let id = setup.running("sleeper").await;
    interrupt(&child);
    assert_eq!(exit_code(&mut child), Some(130));
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    assert!(
        stderr.contains(&format!("`cronq logs {id} --follow`")),
        "{stderr}"
    );
    assert!(stderr.contains(&format!("`cronq cancel {id}`")), "{stderr}");
    assert_eq!(
        setup.status(&id).await,
        RunStatus::Running,
        "detached, not stopped"
    );
    assert!(setup.cronq(&["cancel", &id]).status.success());

    let mut child = setup.spawn(&["run", "--wait", "--cancel-on-interrupt", "sleeper"]);
    eventually("the second run to run", PATIENCE, || async {
        let runs = setup.runs("sleeper").await;
        runs.len() == 2 && runs[0].status == RunStatus::Running
    })
    .await;
    let second = setup.runs("sleeper").await[0].id.clone();
    interrupt(&child);
    assert_eq!(exit_code(&mut child), Some(130));
    // It waited for the end, and says how the run ended.
    assert_eq!(setup.status(&second).await, RunStatus::Cancelled);
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    assert!(
        stderr.contains(&format!("cronq: run {second} cancelled after ")),
        "{stderr}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn cancel_takes_a_queued_run_out_of_its_queue() {
    let setup = Setup::sqlite();
    let id = printed_id(&setup.cronq(&["run", "hello"]));
    let output = setup.cronq(&["cancel", &id.to_lowercase()]);
    let (stdout, stderr) = texts(&output);
    assert!(output.status.success(), "{stderr}");
    assert_eq!(stdout, format!("cancelled run {id} (it was queued)\n"));
    assert_eq!(setup.status(&id).await, RunStatus::Cancelled);
    assert!(setup.store.queued().await.unwrap().is_empty());

    let output = setup.cronq(&["cancel", &id]);
    assert_eq!(output.status.code(), Some(1));
    assert!(texts(&output).1.contains("already cancelled"));
    let output = setup.cronq(&["cancel", "01ARZ3NDEKTSV4RRFFQ69G5FAV"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        texts(&output)
            .1
            .contains("no run 01ARZ3NDEKTSV4RRFFQ69G5FAV")
    );
}

async fn cancel_stops_a_running_run(setup: Setup) {
    let _daemon = setup.daemon();
    let id = printed_id(&setup.cronq(&["run", "sleeper"]));
    setup.running("sleeper").await;
    let output = setup.cronq(&["cancel", &id.to_lowercase()]);
    let (stdout, stderr) = texts(&output);
    assert!(output.status.success(), "{stderr}");
    assert!(
        stdout.starts_with(&format!("run {id} cancelled after ")),
        "{stdout}"
    );
    assert_eq!(setup.status(&id).await, RunStatus::Cancelled);
}

#[tokio::test(flavor = "multi_thread")]
async fn cancel_stops_a_running_run_sqlite() {
    cancel_stops_a_running_run(Setup::sqlite()).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn cancel_stops_a_running_run_redis() {
    cancel_stops_a_running_run(Setup::redis().await).await;
}

async fn progress_is_reported_from_inside_the_job(setup: Setup) {
    setup.add_progress_job();
    let _daemon = setup.daemon();
    let id = printed_id(&setup.cronq(&["run", "reporter"]));
    // A shell writes to the pipe itself; the worker rounds 12.5 up.
    eventually("progress 13, from the shell", PATIENCE, || async {
        let run = setup.store.run(&id).await.unwrap();
        run.progress == Some(13) && run.message.as_deref() == Some("from the shell")
    })
    .await;
    // `$CRONQ_BIN progress` with no cronq on the job's PATH (nor anything else).
    eventually("progress 40, copying", PATIENCE, || async {
        let run = setup.store.run(&id).await.unwrap();
        run.progress == Some(40) && run.message.as_deref() == Some("copying")
    })
    .await;
    let run = setup.store.run(&id).await.unwrap();
    assert_eq!(run.status, RunStatus::Running);
    // The worker sends output in batches: it may come a little after the progress.
    let output = || async {
        let output = setup.store.output(&id, 0).await.unwrap();
        String::from_utf8_lossy(&output.bytes()).into_owned()
    };
    eventually("the output", PATIENCE, || async {
        output().await.contains("code=")
    })
    .await;
    let output = output().await;
    assert!(
        output.contains("progress `120` is not a number from 0 to 100, such as 40, 12.5 or 50%"),
        "{output}"
    );
    assert!(
        output.contains("code=2"),
        "progress 120 is exit 2: {output}"
    );
    assert!(setup.cronq(&["cancel", &id]).status.success());
    eventually("the run to end", PATIENCE, || async {
        setup.status(&id).await.is_finished()
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn progress_is_reported_from_inside_the_job_sqlite() {
    progress_is_reported_from_inside_the_job(Setup::sqlite()).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn progress_is_reported_from_inside_the_job_redis() {
    progress_is_reported_from_inside_the_job(Setup::redis().await).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn progress_outside_a_job_is_refused() {
    let setup = Setup::sqlite();
    let output = setup.cronq(&["progress", "50"]);
    let (_, stderr) = texts(&output);
    assert_eq!(output.status.code(), Some(2));
    assert_eq!(
        stderr,
        "cronq: cronq progress runs inside a job: CRONQ_PROGRESS_FD is not set\n"
    );

    // A store address is no way in any more: only the worker's pipe is.
    let store_url = format!("sqlite:{}", db(setup.scratch.path()).display());
    let output = setup
        .command(&["progress", "50", "halfway"])
        .env("CRONQ_STORE", &store_url)
        .env("CRONQ_RUN_ID", "01M8Y3HBS5A9XDNVFF52HCT4BD")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2), "{}", texts(&output).1);

    // A descriptor that is not open: exit 1, saying which.
    let output = setup
        .command(&["progress", "50"])
        .env("CRONQ_PROGRESS_FD", "987")
        .output()
        .unwrap();
    let (_, stderr) = texts(&output);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.starts_with("cronq: cannot report progress on descriptor 987 (CRONQ_PROGRESS_FD): "),
        "{stderr}"
    );
}

fn db(dir: &Path) -> std::path::PathBuf {
    dir.join("state/cronq/cronq.db")
}
