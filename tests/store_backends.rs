//! What only one backend has: the SQLite file's mode and journal, and how each backend
//! reports a store it cannot reach (one sentence, no password, exit code 3).

use std::path::PathBuf;

use cronq::settings::StoreUrl;
use cronq::store::StoreError;

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
    // Back to version 1: the tables version 2 added are gone.
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute_batch("DROP TABLE daemons; DROP TABLE published; PRAGMA user_version = 1;")
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
    assert_eq!(version, 2);
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
