//! The worker against a real SQLite store: runs are enqueued as `cronq run` would, a
//! worker executes them from its own schedule, and each test asserts what a user would
//! see in the store (status, exit code or signal, reason, output, retries), plus the
//! processes a job leaves behind. Waits poll with a deadline; leases are short (900 ms,
//! renewed every 300 ms) so that a cancel is seen quickly.

// In `worker/` so that cargo does not take it for a test binary.
#[path = "worker/harness.rs"]
mod harness;
#[path = "worker/payloads.rs"]
mod payloads;

use std::sync::Arc;
use std::time::{Duration, Instant};

use cronq::store::sqlite::SqliteStore;
use cronq::store::{Cancelled, HistoryFilter, RunStatus, Store, StoreError, Stream, Trigger};
use cronq::worker::{self, WorkerConfig};
use harness::{
    WORKER_ID, Worker, eventually, flock_is_free, process_exists, read_pid, this_process_has_open,
};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_argv_command_succeeds_with_its_output_and_args() {
    let yaml = "jobs:\n  hello:\n    command: [echo, hello]\n    allow_args: true\n";
    let mut worker = Worker::start(yaml, 1, Duration::from_secs(5));
    let queued = worker
        .enqueue("hello", &["brave world", "$HOME"], &[])
        .await;
    let run = worker.finished(&queued.id).await;
    assert_eq!(run.status, RunStatus::Succeeded, "{run:#?}");
    assert_eq!(
        (run.exit_code, run.signal, run.reason.as_deref()),
        (Some(0), None, None)
    );
    assert_eq!(
        (run.worker.as_deref(), run.host.as_deref()),
        (Some(WORKER_ID), Some("test-host"))
    );
    let duration = run
        .duration_s(chrono::Utc::now())
        .expect("started and finished");
    assert!((0.0..5.0).contains(&duration), "duration {duration}");
    assert_eq!(worker.output(&run.id).await, "hello brave world $HOME\n");
    worker.stop().await;
    let workers = worker.store.workers().await.unwrap();
    assert!(
        workers.iter().all(|w| w.id != WORKER_ID),
        "unregistered on stop: {workers:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_string_command_runs_in_sh_with_its_env_workdir_and_quoted_args() {
    let yaml = r#"
jobs:
  shell:
    command: "pwd; echo $CRONQ_JOB $CRONQ_ATTEMPT $FOO $BAR; printf '[%s]'"
    workdir: "{dir}"
    env: {FOO: from-job, BAR: from-job}
    allow_args: true
    allow_env: [BAR]
"#;
    let mut worker = Worker::start(yaml, 1, Duration::from_secs(5));
    let queued = worker
        .enqueue(
            "shell",
            &["a b", "it's", "$(echo no)"],
            &[("BAR", "from-run")],
        )
        .await;
    let run = worker.finished(&queued.id).await;
    assert_eq!(
        (run.status, run.exit_code),
        (RunStatus::Succeeded, Some(0)),
        "{run:#?}"
    );
    let dir = worker.dir.path().canonicalize().unwrap();
    assert_eq!(
        worker.output(&run.id).await,
        format!(
            "{}\nshell 1 from-job from-run\n[a b][it's][$(echo no)]",
            dir.display()
        )
    );
    worker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_failure_is_retried_after_a_backoff_and_on_failure_waits_for_the_last_attempt() {
    let yaml = r#"
jobs:
  flaky:
    command: "echo trying; exit 3"
    retries: 1
    workdir: "{dir}"
    on_failure: "echo $CRONQ_STATUS > on_failure.txt"
"#;
    let mut worker = Worker::start(yaml, 1, Duration::from_secs(5));
    let queued = worker.enqueue_attempts("flaky", 2).await;
    let run = worker.finished(&queued.id).await;
    assert_eq!(
        (run.status, run.exit_code, run.signal),
        (RunStatus::Failed, Some(3), None),
        "{run:#?}"
    );
    assert_eq!(worker.output(&run.id).await, "trying\n");
    let filter = HistoryFilter {
        job: Some("flaky".into()),
        statuses: vec![RunStatus::Queued],
        ..HistoryFilter::default()
    };
    let retries = worker.store.history(&filter).await.unwrap();
    let [retry] = retries.as_slice() else {
        panic!("one retry is queued: {retries:#?}");
    };
    assert_eq!((retry.attempt, retry.trigger), (2, Trigger::Retry));
    assert_eq!(retry.retry_of.as_deref(), Some(run.id.as_str()));
    let delay =
        (retry.not_before.expect("a delayed retry") - run.finished_at.unwrap()).as_seconds_f64();
    assert!(
        (9.9..=12.1).contains(&delay),
        "10 s backoff plus up to 20%: {delay}"
    );
    // The drain waits for the run's task, on_failure included: after it, no file means
    // on_failure did not run for an attempt that is retried.
    worker.stop().await;
    assert!(
        !worker.path("on_failure.txt").exists(),
        "on_failure ran before the last attempt"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_job_killed_by_a_signal_fails_with_the_signal() {
    let yaml = "jobs:\n  doomed:\n    command: 'echo before; kill -KILL $$'\n";
    let mut worker = Worker::start(yaml, 1, Duration::from_secs(5));
    let queued = worker.enqueue("doomed", &[], &[]).await;
    let run = worker.finished(&queued.id).await;
    assert_eq!(
        (run.status, run.exit_code, run.signal),
        (RunStatus::Failed, None, Some(9)),
        "{run:#?}"
    );
    assert_eq!(worker.output(&run.id).await, "before\n");
    worker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_timeout_kills_the_job_and_its_grandchild() {
    let yaml = r#"
jobs:
  slow:
    command: "sleep 300 & echo $! > child.pid; echo started; wait"
    workdir: "{dir}"
    timeout: 1s
    kill_grace: 2s
"#;
    let mut worker = Worker::start(yaml, 1, Duration::from_secs(5));
    let queued = worker.enqueue("slow", &[], &[]).await;
    let pid_file = worker.path("child.pid");
    eventually("the grandchild's pid is written", || pid_file.exists()).await;
    let run = worker.finished(&queued.id).await;
    assert_eq!(run.status, RunStatus::TimedOut, "{run:#?}");
    assert_eq!(run.reason.as_deref(), Some("timed out after 1s"));
    assert_eq!(run.signal, Some(15), "sh dies of the SIGTERM: {run:#?}");
    assert_eq!(worker.output(&run.id).await, "started\n");
    let grandchild = read_pid(&pid_file);
    assert!(
        !process_exists(grandchild),
        "the grandchild {grandchild} is alive or a zombie"
    );
    worker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_job_that_ignores_sigterm_is_killed_after_the_grace() {
    let yaml = r#"
jobs:
  stubborn:
    command: "trap '' TERM; sleep 300 & echo $! > child.pid; wait"
    workdir: "{dir}"
    timeout: 1s
    kill_grace: 500ms
"#;
    let mut worker = Worker::start(yaml, 1, Duration::from_secs(5));
    let queued = worker.enqueue("stubborn", &[], &[]).await;
    let pid_file = worker.path("child.pid");
    eventually("the grandchild's pid is written", || pid_file.exists()).await;
    let run = worker.finished(&queued.id).await;
    assert_eq!(
        (run.status, run.signal),
        (RunStatus::TimedOut, Some(9)),
        "{run:#?}"
    );
    let duration = run.duration_s(chrono::Utc::now()).unwrap();
    assert!(
        duration >= 1.5,
        "SIGKILL came only after the grace: {duration}"
    );
    let grandchild = read_pid(&pid_file);
    assert!(
        !process_exists(grandchild),
        "the grandchild {grandchild} is alive or a zombie"
    );
    worker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_cancel_kills_a_running_job() {
    let yaml = "jobs:\n  long:\n    command: 'echo started; exec sleep 30'\n";
    let mut worker = Worker::start(yaml, 1, Duration::from_secs(5));
    let queued = worker.enqueue("long", &[], &[]).await;
    worker.wait_output(&queued.id).await;
    assert_eq!(
        worker.store.cancel(&queued.id).await.unwrap(),
        Cancelled::Requested
    );
    let run = worker.finished(&queued.id).await;
    assert_eq!(run.status, RunStatus::Cancelled, "{run:#?}");
    assert_eq!(
        (run.reason.as_deref(), run.signal),
        (Some("cancelled"), Some(15))
    );
    assert!(run.duration_s(chrono::Utc::now()).unwrap() < 5.0);
    worker.stop().await;
}

/// The cancel comes through the worker's listener, not its lease renewal: with a 30 s
/// lease, renewed every 10 s, each job still ends within a second of its cancel, the
/// first while the listener was idle until the runs started, the second while it
/// listened for both; and a cancel of one run leaves the other running.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_cancel_ends_the_job_within_a_second_whatever_the_lease() {
    let yaml =
        "jobs:\n  long:\n    command: 'echo started; exec sleep 30'\n    concurrency: allow\n";
    let mut worker = Worker::start_with(yaml, |dir| WorkerConfig {
        lease: Duration::from_secs(30),
        ..harness::config(2, Duration::from_secs(5), dir)
    });
    let first = worker.enqueue("long", &[], &[]).await;
    let second = worker.enqueue("long", &[], &[]).await;
    worker.wait_output(&first.id).await;
    worker.wait_output(&second.id).await;
    for (run, other) in [(&first, Some(&second)), (&second, None)] {
        let asked = chrono::Utc::now();
        assert_eq!(
            worker.store.cancel(&run.id).await.unwrap(),
            Cancelled::Requested
        );
        let ended = worker.finished(&run.id).await;
        assert_eq!(
            (ended.status, ended.signal),
            (RunStatus::Cancelled, Some(15)),
            "{ended:#?}"
        );
        let took = ended.finished_at.unwrap() - asked;
        assert!(
            took < chrono::TimeDelta::seconds(1),
            "the cancel took {took} to end the job"
        );
        if let Some(other) = other {
            let other = worker.store.run(&other.id).await.unwrap();
            assert_eq!(
                other.status,
                RunStatus::Running,
                "only the cancelled run ends"
            );
        }
    }
    worker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_run_the_worker_cannot_start_fails_with_the_reason() {
    let yaml = r#"
jobs:
  known: {command: [echo, hi]}
  missing-program: {command: [/nonexistent/program]}
  no-args: {command: [echo]}
"#;
    let mut worker = Worker::start(yaml, 1, Duration::from_secs(5));
    let cases = [
        (
            "ghost",
            vec![],
            "job `ghost` is not in this worker's schedule",
        ),
        (
            "missing-program",
            vec![],
            "cannot start `/nonexistent/program`: No such file",
        ),
        (
            "no-args",
            vec!["x"],
            "job `no-args` does not take arguments (allow_args is false)",
        ),
    ];
    for (job, args, reason) in cases {
        let queued = worker.enqueue(job, &args, &[]).await;
        let run = worker.finished(&queued.id).await;
        assert_eq!(
            (run.status, run.exit_code, run.signal),
            (RunStatus::Failed, None, None),
            "{run:#?}"
        );
        let got = run.reason.unwrap_or_default();
        assert!(got.starts_with(reason), "{job}: reason {got:?}");
    }
    worker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn on_failure_runs_after_the_last_attempt_with_the_runs_details() {
    let yaml = r#"
jobs:
  broken:
    command: "exit 4"
    workdir: "{dir}"
    on_failure: >-
      echo $CRONQ_JOB $CRONQ_STATUS $CRONQ_EXIT_CODE $CRONQ_ATTEMPT $CRONQ_RUN_ID > failure.tmp
      && mv failure.tmp failure.txt
"#;
    let mut worker = Worker::start(yaml, 1, Duration::from_secs(5));
    let queued = worker.enqueue("broken", &[], &[]).await;
    let run = worker.finished(&queued.id).await;
    assert_eq!((run.status, run.exit_code), (RunStatus::Failed, Some(4)));
    let report = worker.path("failure.txt");
    eventually("on_failure writes its file", || report.exists()).await;
    assert_eq!(
        std::fs::read_to_string(&report).unwrap(),
        format!("broken failed 4 1 {}\n", run.id)
    );
    worker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_stop_lets_a_short_job_finish() {
    let yaml = "jobs:\n  short:\n    command: 'sleep 1; echo done'\n";
    let mut worker = Worker::start(yaml, 1, Duration::from_secs(5));
    let queued = worker.enqueue("short", &[], &[]).await;
    worker
        .wait_for(&queued.id, "running", |run| {
            run.status == RunStatus::Running
        })
        .await;
    worker.stop().await;
    let run = worker.store.run(&queued.id).await.unwrap();
    assert_eq!(
        (run.status, run.exit_code),
        (RunStatus::Succeeded, Some(0)),
        "{run:#?}"
    );
    assert_eq!(worker.output(&run.id).await, "done\n");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_stop_takes_no_next_run_when_the_running_one_ends() {
    let yaml = "jobs:\n  short:\n    command: 'sleep 0.5'\n    concurrency: allow\n";
    let mut worker = Worker::start(yaml, 1, Duration::from_secs(5));
    let first = worker.enqueue("short", &[], &[]).await;
    let second = worker.enqueue("short", &[], &[]).await;
    worker
        .wait_for(&first.id, "running", |run| run.status == RunStatus::Running)
        .await;
    worker.stop().await;
    let first = worker.store.run(&first.id).await.unwrap();
    assert_eq!(first.status, RunStatus::Succeeded, "{first:#?}");
    let second = worker.store.run(&second.id).await.unwrap();
    assert_eq!(second.status, RunStatus::Queued, "{second:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_slot_runs_the_queued_runs_one_after_another() {
    let yaml = "jobs:\n  quick:\n    command: [\"true\"]\n    concurrency: allow\n";
    let mut worker = Worker::start(yaml, 1, Duration::from_secs(5));
    let mut queued = Vec::new();
    for _ in 0..5 {
        queued.push(worker.enqueue("quick", &[], &[]).await);
    }
    for run in &queued {
        worker
            .wait_for(&run.id, "succeeded", |run| {
                run.status == RunStatus::Succeeded
            })
            .await;
    }
    let mut runs = Vec::new();
    for run in &queued {
        runs.push(worker.store.run(&run.id).await.unwrap());
    }
    for pair in runs.windows(2) {
        assert!(
            pair[0].finished_at <= pair[1].started_at,
            "one at a time, in order: {pair:#?}"
        );
    }
    worker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_stop_kills_a_job_that_outlasts_the_grace() {
    let yaml = "jobs:\n  endless:\n    command: [sleep, '30']\n";
    let mut worker = Worker::start(yaml, 1, Duration::from_millis(300));
    let queued = worker.enqueue("endless", &[], &[]).await;
    worker
        .wait_for(&queued.id, "running", |run| {
            run.status == RunStatus::Running
        })
        .await;
    let stopping = Instant::now();
    worker.stop().await;
    assert!(
        stopping.elapsed() < Duration::from_secs(3),
        "took {:?}",
        stopping.elapsed()
    );
    let run = worker.store.run(&queued.id).await.unwrap();
    assert_eq!(run.status, RunStatus::Cancelled, "{run:#?}");
    assert_eq!(
        (run.reason.as_deref(), run.signal),
        (Some("the worker stopped"), Some(15))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrency_2_runs_two_jobs_at_once() {
    let yaml = "jobs:\n  pair:\n    command: 'sleep 1'\n";
    let mut worker = Worker::start(yaml, 2, Duration::from_secs(5));
    let first = worker.enqueue("pair", &[], &[]).await;
    let second = worker.enqueue("pair", &[], &[]).await;
    // The registry shows both runs while they run.
    worker.wait_registered_runs(2).await;
    let (first, second) = (
        worker.finished(&first.id).await,
        worker.finished(&second.id).await,
    );
    for run in [&first, &second] {
        assert_eq!(run.status, RunStatus::Succeeded, "{run:#?}");
    }
    let last_start = first.started_at.max(second.started_at).unwrap();
    let first_end = first.finished_at.min(second.finished_at).unwrap();
    assert!(
        last_start < first_end,
        "both started before either finished: {first:#?} {second:#?}"
    );
    worker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_job_runs_as_its_user() {
    let yaml = "jobs:\n  as-nobody:\n    command: 'id -u; echo $HOME'\n    user: nobody\n";
    let mut worker = Worker::start(yaml, 1, Duration::from_secs(5));
    let queued = worker.enqueue("as-nobody", &[], &[]).await;
    let run = worker.finished(&queued.id).await;
    let nobody = nix::unistd::User::from_name("nobody")
        .unwrap()
        .expect("a user nobody");
    if nix::unistd::Uid::effective().is_root() {
        assert_eq!(run.status, RunStatus::Succeeded, "{run:#?}");
        let expected = format!("{}\n{}\n", nobody.uid, nobody.dir.display());
        assert_eq!(worker.output(&run.id).await, expected);
    } else {
        assert_eq!(run.status, RunStatus::Failed, "{run:#?}");
        assert!(run.reason.unwrap().contains("is not root"));
    }
    worker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_worker_refuses_a_configuration_it_cannot_work_with() {
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&dir.path().join("db"), 1024).unwrap());
    let (_keep, schedule) = watch::channel(Arc::new(harness::schedule("jobs: {}", dir.path())));
    let config = harness::config(1, Duration::from_secs(1), dir.path());
    let broken = [
        WorkerConfig {
            queues: vec![],
            ..config.clone()
        },
        WorkerConfig {
            concurrency: 0,
            ..config.clone()
        },
        WorkerConfig {
            lease: Duration::ZERO,
            ..config.clone()
        },
    ];
    for config in broken {
        let refused = worker::run(
            store.clone(),
            schedule.clone(),
            config,
            CancellationToken::new(),
        )
        .await;
        assert!(
            matches!(refused, Err(StoreError::Invalid(_))),
            "{refused:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_lost_lease_kills_the_job_and_records_nothing() {
    let yaml =
        "jobs:\n  taken:\n    command: 'echo $$ > job.pid; exec sleep 30'\n    workdir: '{dir}'\n";
    let mut worker = Worker::start(yaml, 1, Duration::from_secs(5));
    let queued = worker.enqueue("taken", &[], &[]).await;
    let pid_file = worker.path("job.pid");
    eventually("the job's pid is written", || pid_file.exists()).await;
    let pid = read_pid(&pid_file);
    worker.steal_lease(&queued.id);
    eventually("the job is killed", || !process_exists(pid)).await;
    worker.stop().await;
    let run = worker.store.run(&queued.id).await.unwrap();
    assert_eq!(
        run.status,
        RunStatus::Running,
        "left to its new holder: {run:#?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn forbid_with_a_host_lock_skips_a_run_while_the_job_runs() {
    let yaml = r#"
jobs:
  single:
    command: 'echo started; exec sleep ${SLEEP:-30}'
    lock: host
    concurrency: forbid
    retries: 2
    allow_env: [SLEEP]
"#;
    let mut worker = Worker::start(yaml, 2, Duration::from_secs(5));
    let first = worker.enqueue_attempts("single", 3).await;
    // The lock is taken before the child starts: once it writes, it holds it.
    worker.wait_output(&first.id).await;
    let second = worker.enqueue_attempts("single", 3).await;
    let skipped = worker.finished(&second.id).await;
    assert_eq!(
        (skipped.status, skipped.exit_code, skipped.signal),
        (RunStatus::Skipped, None, None),
        "{skipped:#?}"
    );
    assert_eq!(
        skipped.reason.as_deref(),
        Some("skipped: job `single` is still running on this host (lock: host)")
    );
    assert!(
        worker.store.queued().await.unwrap().is_empty(),
        "a skipped run is not retried"
    );
    let lock_file = worker.lock_file("single");
    let locks = lock_file.parent().unwrap();
    let mode = std::os::unix::fs::PermissionsExt::mode(&locks.metadata().unwrap().permissions());
    assert_eq!(mode & 0o777, 0o700, "{}", locks.display());

    worker.store.cancel(&first.id).await.unwrap();
    let cancelled = worker.finished(&first.id).await;
    assert_eq!(cancelled.status, RunStatus::Cancelled, "{cancelled:#?}");
    // The run's end released the lock: the next run starts.
    let third = worker.enqueue("single", &[], &[("SLEEP", "0")]).await;
    let third = worker.finished(&third.id).await;
    assert_eq!(third.status, RunStatus::Succeeded, "{third:#?}");
    worker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn queue_with_a_host_lock_waits_for_the_running_run() {
    let yaml = r#"
jobs:
  serial:
    command: 'echo start >> log; sleep 0.5; echo end >> log'
    workdir: "{dir}"
    lock: host
    concurrency: queue
"#;
    let mut worker = Worker::start(yaml, 2, Duration::from_secs(5));
    let first = worker.enqueue("serial", &[], &[]).await;
    let second = worker.enqueue("serial", &[], &[]).await;
    let (first, second) = (
        worker.finished(&first.id).await,
        worker.finished(&second.id).await,
    );
    for run in [&first, &second] {
        assert_eq!(run.status, RunStatus::Succeeded, "{run:#?}");
    }
    let last_reserved = first.started_at.max(second.started_at).unwrap();
    let first_end = first.finished_at.min(second.finished_at).unwrap();
    assert!(
        last_reserved < first_end,
        "both were taken before either ended, so one waited: {first:#?} {second:#?}"
    );
    assert_eq!(
        std::fs::read_to_string(worker.path("log")).unwrap(),
        "start\nend\nstart\nend\n",
        "one after the other"
    );
    worker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_host_lock_is_held_by_the_job_after_its_worker_is_gone() {
    let yaml = r#"
jobs:
  held:
    command: 'echo $$ > job.pid; exec sleep 30'
    workdir: "{dir}"
    lock: host
    concurrency: forbid
"#;
    let mut worker = Worker::start(yaml, 1, Duration::from_secs(5));
    let lock_file = worker.lock_file("held");
    worker.enqueue("held", &[], &[]).await;
    let pid_file = worker.path("job.pid");
    eventually("the job's pid is written", || pid_file.exists()).await;
    let pid = read_pid(&pid_file);

    worker.abort().await;
    // The run's task is dropped with the worker: the worker's copy of the lock is closed,
    // and only the job's inherited copy is left.
    eventually("the worker closes its copy of the lock", || {
        !this_process_has_open(&lock_file)
    })
    .await;
    assert!(process_exists(pid), "the job outlives its worker");
    assert!(
        !flock_is_free(&lock_file),
        "the job holds the lock without its worker"
    );

    nix::sys::signal::killpg(
        nix::unistd::Pid::from_raw(pid),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    eventually("the lock is free once the job is gone", || {
        flock_is_free(&lock_file)
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn output_keeps_the_order_of_both_streams() {
    // The pauses let each write arrive before the next is made.
    let yaml = r#"
jobs:
  both:
    command: "echo a; sleep 0.1; echo b >&2; sleep 0.1; echo c; echo d; sleep 0.1; echo e >&2"
"#;
    let mut worker = Worker::start(yaml, 1, Duration::from_secs(5));
    let queued = worker.enqueue("both", &[], &[]).await;
    let run = worker.finished(&queued.id).await;
    assert_eq!(run.status, RunStatus::Succeeded, "{run:#?}");
    let output = worker.store.output(&run.id, 0).await.unwrap();
    let pieces: Vec<(Stream, String)> = output
        .chunks
        .iter()
        .map(|chunk| (chunk.stream, String::from_utf8_lossy(&chunk.bytes).into()))
        .collect();
    assert_eq!(
        pieces,
        [
            (Stream::Stdout, "a\n".into()),
            (Stream::Stderr, "b\n".into()),
            (Stream::Stdout, "c\nd\n".into()),
            (Stream::Stderr, "e\n".into()),
        ]
    );
    worker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn stderr_into_stdout_keeps_the_exact_order_of_writes_made_without_a_pause() {
    // 500 writes to each stream in turn, microseconds apart: two pipes would hand them
    // over stream by stream; one pipe keeps the order they were made in.
    let yaml = r#"
jobs:
  tight:
    command: "i=0; while [ $i -lt 500 ]; do echo out$i; echo err$i >&2; i=$((i+1)); done"
    stderr: stdout
"#;
    let mut worker = Worker::start(yaml, 1, Duration::from_secs(5));
    let queued = worker.enqueue("tight", &[], &[]).await;
    let run = worker.finished(&queued.id).await;
    assert_eq!(run.status, RunStatus::Succeeded, "{run:#?}");
    let output = worker.store.output(&run.id, 0).await.unwrap();
    assert!(
        output
            .chunks
            .iter()
            .all(|chunk| chunk.stream == Stream::Stdout),
        "one stream, recorded as stdout"
    );
    let written: String = (0..500).map(|i| format!("out{i}\nerr{i}\n")).collect();
    assert_eq!(worker.output(&run.id).await, written);
    worker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_process_that_left_the_group_is_killed_at_the_runs_end_and_the_output_is_kept() {
    // `setsid` takes the sleep out of the job's group and session, with the job's pipes;
    // the job waits for its pid, written once it has left. It dies with the run, so the
    // pipes reach their end at once, with nothing lost.
    let yaml = r#"
jobs:
  leaky:
    command: |
      echo before
      setsid sh -c 'echo $$ > orphan.pid; exec sleep 30' &
      while [ ! -s orphan.pid ]; do sleep 0.01; done
      echo after >&2
    workdir: "{dir}"
    kill_grace: 1s
"#;
    let mut worker = Worker::start(yaml, 1, Duration::from_secs(5));
    let queued = worker.enqueue("leaky", &[], &[]).await;
    let run = worker.finished(&queued.id).await;
    assert_eq!(run.status, RunStatus::Succeeded, "{run:#?}");
    let duration = run.duration_s(chrono::Utc::now()).unwrap();
    assert!(duration < 1.5, "no wait for the pipes: {duration}");
    assert_eq!(worker.output(&run.id).await, "before\nafter\n");
    let orphan = read_pid(&worker.path("orphan.pid"));
    assert!(
        !process_exists(orphan),
        "the orphan {orphan} outlived the run"
    );
    worker.stop().await;
}
