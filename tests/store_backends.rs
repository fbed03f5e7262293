//! What only one backend has: the SQLite file's mode, journal and schema upgrades, the
//! output Redis kept before it kept streams apart, and how each backend reports a store
//! it cannot reach (one sentence, no password, exit code 3).

mod common;

use std::path::PathBuf;
use std::time::Duration;

use common::redis_server::RedisServer;
use cronq::settings::StoreUrl;
use cronq::store::redis::RedisStore;
use cronq::store::sqlite::SqliteStore;
use cronq::store::{
    Chunk, Lease, NewRun, Outcome, Output, Retention, Run, RunStatus, Store, StoreError, Stream,
    WorkerRef,
};

/// A loopback port nothing listens on.
fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unreachable_redis_is_named_without_its_password() {
    let url = format!("redis://app:hunter2@127.0.0.1:{}/0", closed_port());
    let error = match StoreUrl::parse(&url).unwrap().open("{cronq}:").await {
        Err(error) => error,
        Ok(_) => panic!("nothing listens on {url}"),
    };
    let message = error.to_string();
    assert!(matches!(error, StoreError::Unreachable { .. }), "{error:?}");
    assert!(
        message.starts_with("the store at redis://app:***@127.0.0.1:"),
        "{message}"
    );
    assert!(!message.contains("hunter2"), "{message}");
    assert_eq!(message.lines().count(), 1, "{message}");
    assert_eq!(cronq::cli::exit_code(&anyhow::Error::new(error)), 3);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unusable_sqlite_path_is_unreachable() {
    let path = PathBuf::from("/proc/cronq-cannot-write-here/cronq.db");
    let error = match StoreUrl::Sqlite(path).open("{cronq}:").await {
        Err(error) => error,
        Ok(_) => panic!("/proc is not writable"),
    };
    assert!(matches!(error, StoreError::Unreachable { .. }), "{error:?}");
    assert!(error.to_string().starts_with("the store at sqlite:/proc/cronq-cannot-write-here/cronq.db is unreachable: cannot create"), "{error}");
    assert_eq!(cronq::cli::exit_code(&anyhow::Error::new(error)), 3);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_sqlite_file_is_private_and_in_wal_mode() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state/cronq.db");
    let store = StoreUrl::Sqlite(path.clone())
        .open("{cronq}:")
        .await
        .unwrap();
    drop(store);
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&path), 0o600);
    assert_eq!(mode(&dir.path().join("state")), 0o700);
    let header = std::fs::read(&path).unwrap();
    // Bytes 18 and 19 of the header are the write and read versions: 2 means WAL.
    assert_eq!((header[18], header[19]), (2, 2));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_version_1_database_is_migrated() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cronq.db");
    drop(
        StoreUrl::Sqlite(path.clone())
            .open("{cronq}:")
            .await
            .unwrap(),
    );
    // Back to version 1: the tables version 2 added are gone, and output is kept as
    // version 1 kept it.
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute_batch(&format!(
        "DROP TABLE daemons; DROP TABLE published; {VERSION_2_OUTPUTS} {VERSION_3_WORKERS} \
         {VERSION_4_RUNS} {VERSION_6_REQUESTS} PRAGMA user_version = 1;"
    ))
    .unwrap();
    drop(conn);
    let store = StoreUrl::Sqlite(path.clone())
        .open("{cronq}:")
        .await
        .unwrap();
    assert_eq!(
        store.published().await.unwrap(),
        None,
        "version 2's tables exist again"
    );
    let conn = rusqlite::Connection::open(&path).unwrap();
    let version: i64 = conn
        .query_row("PRAGMA user_version", [], |row| row.get(0))
        .unwrap();
    assert_eq!(version, 9);
}

/// Output as versions 1 and 2 kept it, in place of version 3's tables.
const VERSION_2_OUTPUTS: &str = "
    DROP TABLE output_chunks;
    DROP TABLE output_totals;
    CREATE TABLE outputs (
        run_id TEXT PRIMARY KEY,
        tail   BLOB NOT NULL,
        total  INTEGER NOT NULL
    ) WITHOUT ROWID;
";

/// Workers as versions 1 to 3 kept them, without their concurrency.
const VERSION_3_WORKERS: &str = "ALTER TABLE workers DROP COLUMN concurrency;";
/// Version 7's changes undone: who asked for a run, and the Idempotency-Keys; and
/// version 8's, each job's health.
const VERSION_6_REQUESTS: &str = "ALTER TABLE runs DROP COLUMN requested_by; \
    DROP TABLE idempotency_keys; DROP TABLE job_health; DROP TABLE notices; \
    DROP TABLE target_failures;";

/// The tables version 9 added: the outbox of notifications and the targets' failures.
const VERSION_8_OUTBOX: &str = "DROP TABLE notices; DROP TABLE target_failures;";

/// Runs as versions 1 to 4 kept them, without `forced` and its index of queued runs;
/// and no pauses, which version 6 added.
const VERSION_4_RUNS: &str = "DROP INDEX runs_queued_lock; ALTER TABLE runs DROP COLUMN forced; \
    DROP TABLE pauses; DROP TABLE pause_version;";

/// A manual run of job `j`, queued and then reserved as a worker would.
async fn reserved_run(store: &dyn Store) -> (Run, Lease) {
    store.enqueue(NewRun::manual("j", "default")).await.unwrap();
    let worker = WorkerRef {
        id: "w".into(),
        host: "h".into(),
    };
    let queues = ["default".to_string()];
    let lease_for = Duration::from_secs(60);
    store
        .reserve(&queues, &worker, lease_for, Duration::ZERO)
        .await
        .unwrap()
        .expect("the run just queued")
}

#[tokio::test(flavor = "multi_thread")]
async fn a_version_2_database_is_migrated_keeping_its_output_as_stdout() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cronq.db");
    let store = SqliteStore::open(&path, 1024).unwrap();
    let (run, lease) = reserved_run(&store).await;
    drop(store);
    // Back to version 2: one tail per run, its stream unknown; 15 of 25 bytes dropped.
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute_batch(&format!(
        "{VERSION_2_OUTPUTS} {VERSION_3_WORKERS} {VERSION_4_RUNS} {VERSION_6_REQUESTS} \
         PRAGMA user_version = 2;"
    ))
    .unwrap();
    conn.execute(
        "INSERT INTO outputs (run_id, tail, total) VALUES (?1, ?2, 25)",
        rusqlite::params![run.id, b"kept tail\n".to_vec()],
    )
    .unwrap();
    drop(conn);

    let store = SqliteStore::open(&path, 1024).unwrap();
    let kept = Chunk::new(Stream::Stdout, "kept tail\n");
    assert_eq!(
        store.output(&run.id, 0).await.unwrap(),
        Output {
            start: 15,
            chunks: vec![kept.clone()],
            end: 25,
        }
    );
    // The run goes on writing after what was kept.
    let more = Chunk::new(Stream::Stderr, "more");
    store
        .append_output(&lease, std::slice::from_ref(&more))
        .await
        .unwrap();
    assert_eq!(
        store.output(&run.id, 20).await.unwrap(),
        Output {
            start: 20,
            chunks: vec![Chunk::new(Stream::Stdout, "tail\n"), more],
            end: 29,
        }
    );
    let conn = rusqlite::Connection::open(&path).unwrap();
    let version: i64 = conn
        .query_row("PRAGMA user_version", [], |row| row.get(0))
        .unwrap();
    assert_eq!(version, 9);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_version_3_database_is_migrated_counting_its_workers_as_running_one_run() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cronq.db");
    drop(SqliteStore::open(&path, 1024).unwrap());
    // Back to version 3, with a worker registered as version 3 registered it.
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute_batch(&format!(
        "{VERSION_3_WORKERS} {VERSION_4_RUNS} {VERSION_6_REQUESTS} PRAGMA user_version = 3; \
         INSERT INTO workers (id, host, pid, queues, runs, last_seen, expires_at) \
         VALUES ('w', 'h', 1, '[\"default\"]', '[]', 0, 9223372036854775807);"
    ))
    .unwrap();
    drop(conn);
    let store = SqliteStore::open(&path, 1024).unwrap();
    let workers = store.workers().await.unwrap();
    assert_eq!(workers.len(), 1, "{workers:?}");
    assert_eq!(workers[0].concurrency, 1);
    // Version 6's pauses are there too.
    let pause = cronq::store::Pause {
        reason: None,
        by: "cli:ops".into(),
        since: chrono::DateTime::from_timestamp_millis(1_000).unwrap(),
        until: None,
    };
    let scope = cronq::store::PauseScope::All;
    store.pause(&scope, &pause).await.unwrap();
    assert_eq!(store.pauses().await.unwrap().len(), 1);
    assert!(store.pause_version().await.unwrap().is_some());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_database_newer_than_cronq_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cronq.db");
    drop(SqliteStore::open(&path, 1024).unwrap());
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute_batch("PRAGMA user_version = 10;").unwrap();
    drop(conn);
    let error = SqliteStore::open(&path, 1024).unwrap_err();
    assert!(matches!(error, StoreError::Corrupt(_)), "{error:?}");
    assert!(error.to_string().contains("schema version 10"), "{error}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_version_4_database_is_migrated_with_its_runs_not_forced() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cronq.db");
    let store = SqliteStore::open(&path, 1024).unwrap();
    let (running, _) = reserved_run(&store).await;
    drop(store);
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute_batch(&format!(
        "{VERSION_4_RUNS} {VERSION_6_REQUESTS} PRAGMA user_version = 4;"
    ))
    .unwrap();
    drop(conn);
    let store = SqliteStore::open(&path, 1024).unwrap();
    let run = store.run(&running.id).await.unwrap();
    assert!(!run.forced, "{run:?}");
    // The index a forbid run is checked with is there again: a second run is refused.
    let forbid = NewRun {
        lock: Some(cronq::store::RunLock {
            name: "k".into(),
            on_busy: cronq::store::OnBusy::Skip,
        }),
        ..NewRun::manual("k", "default")
    };
    store.enqueue_if_idle(forbid.clone()).await.unwrap();
    let refused = store.enqueue_if_idle(forbid).await.unwrap_err();
    assert!(matches!(refused, StoreError::Busy { .. }), "{refused:?}");
    let conn = rusqlite::Connection::open(&path).unwrap();
    let indexed: i64 = conn
        .query_row(
            "SELECT count(*) FROM sqlite_master WHERE name = 'runs_queued_lock'",
            [],
            |row| row.get(0),
        )
        .unwrap();
    assert_eq!(indexed, 1);
}

#[tokio::test]
async fn a_version_6_database_is_migrated_its_runs_asked_by_no_one() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cronq.db");
    let store = SqliteStore::open(&path, 1024).unwrap();
    let old = store.enqueue(NewRun::manual("j", "default")).await.unwrap();
    drop(store);
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute_batch(&format!("{VERSION_6_REQUESTS} PRAGMA user_version = 6;"))
        .unwrap();
    drop(conn);
    let store = SqliteStore::open(&path, 1024).unwrap();
    assert_eq!(store.run(&old.id).await.unwrap().by, None);
    let claim = store
        .claim_idempotency_key("j/k", std::time::Duration::from_secs(60))
        .await
        .unwrap();
    assert_eq!(claim, cronq::store::KeyClaim::Claimed);
}

#[tokio::test(flavor = "multi_thread")]
async fn redis_output_from_before_streams_reads_as_stdout_and_is_pruned() {
    let server = RedisServer::shared();
    let prefix = server.unique_prefix();
    let store = RedisStore::connect(&server.url(), &prefix, 1024)
        .await
        .unwrap();
    let client = redis::Client::open(server.url()).unwrap();
    let mut redis = client.get_multiplexed_async_connection().await.unwrap();
    // As cronq wrote it before: one string, the tail, and the total in the run's hash.
    let (old, old_lease) = reserved_run(&store).await;
    redis::pipe()
        .cmd("SET")
        .arg(format!("{prefix}out:{}", old.id))
        .arg("kept tail\n")
        .cmd("HSET")
        .arg(format!("{prefix}run:{}", old.id))
        .arg("out_total")
        .arg(25)
        .query_async::<()>(&mut redis)
        .await
        .unwrap();
    assert_eq!(
        store.output(&old.id, 0).await.unwrap(),
        Output {
            start: 15,
            chunks: vec![Chunk::new(Stream::Stdout, "kept tail\n")],
            end: 25,
        }
    );
    let (new, new_lease) = reserved_run(&store).await;
    let chunks = [Chunk::new(Stream::Stderr, "new\n")];
    store.append_output(&new_lease, &chunks).await.unwrap();

    let done = Outcome {
        status: RunStatus::Succeeded,
        exit_code: Some(0),
        signal: None,
        reason: None,
    };
    for lease in [&old_lease, &new_lease] {
        store
            .finish(lease, done.clone(), Duration::ZERO)
            .await
            .unwrap();
    }
    let none = Retention {
        succeeded: 0,
        failed: 0,
        max_age: Duration::from_secs(3600),
    };
    assert_eq!(store.prune(&[("j", none)]).await.unwrap(), 2);
    for id in [&old.id, &new.id] {
        let left: Vec<String> = redis::cmd("KEYS")
            .arg(format!("{prefix}*{id}*"))
            .query_async(&mut redis)
            .await
            .unwrap();
        assert!(left.is_empty(), "keys of a pruned run: {left:?}");
    }
}

#[test]
fn processes_that_open_a_new_file_at_once_all_get_in() {
    // Each round, eight connections race to create and set up one new file; SQLite
    // answers some of those steps "database is locked" at once, without waiting.
    for round in 0..20 {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(format!("race-{round}.db"));
        let opened: Vec<_> = (0..8)
            .map(|_| {
                let path = path.clone();
                std::thread::spawn(move || {
                    cronq::store::sqlite::SqliteStore::open(&path, 1024).map(drop)
                })
            })
            .collect();
        for handle in opened {
            let result = handle.join().unwrap();
            assert!(result.is_ok(), "round {round}: {result:?}");
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_store_file_readable_by_others_is_made_0600_with_one_warning_each() {
    use std::os::unix::fs::PermissionsExt;
    let scratch = common::Scratch::new();
    // No job for the daemon, whose workers would open the store again later; one for
    // `run`, in a file of its own.
    scratch.write("crontab.yaml", "jobs: {}\n");
    scratch.write("run.yaml", "jobs:\n  hello:\n    command: [\"true\"]\n");
    // A running daemon holds the store open, so its WAL and shared memory stay there.
    // Without workers, and once it has started, it opens the store no more.
    let mut daemon =
        common::daemon::Process::start(scratch.path(), "daemon", &["daemon", "--no-workers"]);
    common::daemon::eventually("the daemon started", Duration::from_secs(10), || async {
        daemon.logs().contains("daemon started")
    })
    .await;
    let db = scratch.path().join("state/cronq/cronq.db");
    let wal = scratch.path().join("state/cronq/cronq.db-wal");
    let shm = scratch.path().join("state/cronq/cronq.db-shm");
    common::daemon::eventually("the store and its WAL", Duration::from_secs(10), || async {
        wal.exists() && shm.exists()
    })
    .await;
    // As a copy, a restore or an older cronq leaves them.
    for file in [&db, &wal, &shm] {
        std::fs::set_permissions(file, std::fs::Permissions::from_mode(0o644)).unwrap();
    }
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    // A command that only reads opens the store read-only and changes nothing, its
    // modes included (another user may have been let in on purpose).
    let output = scratch.cronq().arg("history").output().unwrap();
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        common::texts(&output).1
    );
    for file in [&db, &wal, &shm] {
        assert_eq!(mode(file), 0o644, "{}", file.display());
    }
    // A command that writes makes them private.
    let run_hello = || {
        let args = ["run", "hello", "--schedule", "run.yaml"];
        scratch.cronq().args(args).output().unwrap()
    };

    let output = run_hello();
    let (_, stderr) = common::texts(&output);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    for file in [&db, &wal, &shm] {
        assert_eq!(mode(file), 0o600, "{}", file.display());
        let warned: Vec<&str> = stderr
            .lines()
            .filter(|line| line.ends_with(&format!("file={}", file.display())))
            .collect();
        assert_eq!(warned.len(), 1, "{stderr}");
        assert!(
            warned[0].contains("the store file had mode 0644, readable by others; it is now 0600"),
            "{stderr}"
        );
    }

    let again = run_hello();
    let (_, stderr) = common::texts(&again);
    assert!(
        !stderr.contains("WARN"),
        "a private file is not warned about: {stderr}"
    );
    assert_eq!(
        daemon.stop(Duration::from_secs(10)),
        Some(0),
        "{}",
        daemon.logs()
    );
}

/// A one-node Redis Cluster that owns every slot, as a team's cluster would answer.
fn start_cluster_node(dir: &std::path::Path) -> (u16, common::redis_server::Watched) {
    let port = common::redis_server::free_port();
    let port_text = port.to_string();
    let nodes = dir.join("nodes.conf");
    let args: Vec<&std::ffi::OsStr> = vec![
        "--bind".as_ref(),
        "127.0.0.1".as_ref(),
        "--port".as_ref(),
        port_text.as_ref(),
        "--cluster-enabled".as_ref(),
        "yes".as_ref(),
        "--cluster-config-file".as_ref(),
        nodes.as_os_str(),
        "--dir".as_ref(),
        dir.as_os_str(),
        "--save".as_ref(),
        "".as_ref(),
        "--appendonly".as_ref(),
        "no".as_ref(),
    ];
    let node = common::redis_server::Watched::spawn(&args).expect("redis-server starts");
    let client = redis::Client::open(format!("redis://127.0.0.1:{port}/")).unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let mut connection = loop {
        if let Ok(connection) = client.get_connection_with_timeout(Duration::from_millis(200)) {
            break connection;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the cluster node did not start"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    let _: () = redis::cmd("CLUSTER")
        .arg(&["ADDSLOTSRANGE", "0", "16383"])
        .query(&mut connection)
        .expect("the node takes every slot");
    loop {
        let info: String = redis::cmd("CLUSTER")
            .arg("INFO")
            .query(&mut connection)
            .unwrap();
        if info.contains("cluster_state:ok") {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the cluster is not ok: {info}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    (port, node)
}

#[test]
fn a_redis_cluster_is_refused_in_one_sentence_that_names_sentinel() {
    let scratch = common::Scratch::new();
    let (port, _node) = start_cluster_node(scratch.path());
    let url = format!("redis://127.0.0.1:{port}/0");
    let output = scratch
        .cronq()
        .args(["history", "--store", &url])
        .output()
        .expect("cronq runs");
    let (stdout, stderr) = common::texts(&output);
    assert_eq!(output.status.code(), Some(1), "{stdout}{stderr}");
    assert_eq!(
        stderr,
        format!(
            "cronq: the Redis server at {url} is part of a Redis Cluster, which cronq does not support; \
             run a primary with replicas under Sentinel and give the store as \
             redis+sentinel://host:26379,…/MASTER_NAME\n"
        )
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn sentinels_that_do_not_answer_make_the_store_unreachable_without_a_password() {
    let url = format!(
        "redis+sentinel://:hunter2@127.0.0.1:{},127.0.0.1:{}/orders/0?sentinel_password=hunter3",
        closed_port(),
        closed_port()
    );
    let started = std::time::Instant::now();
    let error = match StoreUrl::parse(&url).unwrap().open("{cronq}:").await {
        Err(error) => error,
        Ok(_) => panic!("nothing listens on {url}"),
    };
    let message = error.to_string();
    assert!(matches!(error, StoreError::Unreachable { .. }), "{error:?}");
    assert!(
        message.starts_with("the store at redis+sentinel://:***@127.0.0.1:"),
        "{message}"
    );
    assert!(message.contains("sentinel_password=***"), "{message}");
    assert!(!message.contains("hunter"), "{message}");
    assert_eq!(message.lines().count(), 1, "{message}");
    // It waited for a failover to end, as long as a failed call would, and no longer.
    assert!(
        started.elapsed() < Duration::from_secs(8),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(cronq::cli::exit_code(&anyhow::Error::new(error)), 3);
}

/// The `ids` index is built from the history at a lookup by prefix, not by each enqueue:
/// a store written before the index existed (no `ids`, no mark of what it holds) is
/// indexed whole at the first lookup, and runs recorded since at the next; every run is
/// found.
#[tokio::test(flavor = "multi_thread")]
async fn redis_builds_the_id_index_of_an_older_store_at_the_first_lookup() {
    let server = RedisServer::shared();
    let prefix = server.unique_prefix();
    let store = RedisStore::connect(&server.url(), &prefix, 1 << 20)
        .await
        .unwrap();
    let mut made = Vec::new();
    for _ in 0..3 {
        let run = NewRun::manual("old", "q");
        made.push(store.enqueue(run).await.unwrap().id);
    }
    let index = format!("{prefix}ids");
    server.cli(&["DEL", &index, &format!("{prefix}ids:seq")]);
    made.sort();
    for id in &made {
        assert_eq!(
            store.run_ids_with_prefix(id, 10).await.unwrap(),
            std::slice::from_ref(id)
        );
    }
    assert_eq!(server.cli(&["ZCARD", &index]), "3");
    // Recorded after that lookup: indexed at the next one.
    for _ in 0..2 {
        let run = NewRun::manual("new", "q");
        made.push(store.enqueue(run).await.unwrap().id);
    }
    for id in &made {
        assert_eq!(
            store.run_ids_with_prefix(id, 10).await.unwrap(),
            std::slice::from_ref(id)
        );
    }
    assert_eq!(server.cli(&["ZCARD", &index]), "5");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_version_7_database_is_migrated_with_every_job_healthy() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cronq.db");
    drop(SqliteStore::open(&path, 1024).unwrap());
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute_batch(&format!(
        "DROP TABLE job_health; {VERSION_8_OUTBOX} PRAGMA user_version = 7;"
    ))
    .unwrap();
    drop(conn);
    let store = SqliteStore::open(&path, 1024).unwrap();
    let change = store
        .record_health("j", Some("r1"), true, None)
        .await
        .unwrap();
    assert_eq!(change, Some(cronq::store::HealthChange::Failing));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_version_8_database_is_migrated_with_an_empty_outbox_and_its_health_kept() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cronq.db");
    let store = SqliteStore::open(&path, 1024).unwrap();
    store
        .record_health("j", Some("r1"), true, None)
        .await
        .unwrap();
    drop(store);
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute_batch(&format!("{VERSION_8_OUTBOX} PRAGMA user_version = 8;"))
        .unwrap();
    drop(conn);
    let store = SqliteStore::open(&path, 1024).unwrap();
    assert_eq!(
        store
            .record_health("j", Some("r2"), false, None)
            .await
            .unwrap(),
        Some(cronq::store::HealthChange::Recovered),
        "the job was failing before the upgrade"
    );
    let claimed = store
        .claim_notices("a", std::time::Duration::from_secs(30), 10)
        .await
        .unwrap();
    let keys: Vec<&str> = claimed.iter().map(|n| n.notice.key.as_str()).collect();
    assert_eq!(keys, ["health:j:recovered:r2"]);
    assert!(store.target_failures().await.unwrap().is_empty());
}
