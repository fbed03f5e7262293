//! End-to-end tests that run once per store: a scratch directory, the flags that point
//! the binary at the store, and [`both_stores!`](crate::both_stores) to instantiate them.

use std::path::Path;
use std::sync::Arc;

use super::Scratch;
use super::daemon::Process;
use super::redis_server::RedisServer;

#[derive(Clone, Copy, Debug)]
pub enum Backend {
    Sqlite,
    Redis,
}

/// A scratch directory and the store its commands use. Each test file adds the
/// commands it needs in an `impl Setup` of its own.
pub struct Setup {
    pub scratch: Scratch,
    /// The server and this test's key prefix, for the Redis backend.
    pub redis: Option<(Arc<RedisServer>, String)>,
}

impl Setup {
    pub fn new(backend: Backend) -> Setup {
        let redis = match backend {
            Backend::Sqlite => None,
            Backend::Redis => {
                let server = RedisServer::shared();
                let prefix = server.unique_prefix();
                Some((server, prefix))
            }
        };
        Setup {
            scratch: Scratch::new(),
            redis,
        }
    }

    pub fn dir(&self) -> &Path {
        self.scratch.path()
    }

    /// The store as listings name it: the default SQLite file's absolute path, or the
    /// Redis URL.
    pub fn store_shown(&self) -> String {
        match &self.redis {
            None => format!(
                "sqlite:{}",
                self.dir().join("state/cronq/cronq.db").display()
            ),
            Some((server, _)) => server.url(),
        }
    }

    /// `cronq STORE ARGS`: the store first, since `run` takes what follows `--` as the
    /// job's arguments.
    pub fn cronq(&self, args: &[&str]) -> std::process::Output {
        self.scratch
            .cronq()
            .args(self.store_args())
            .args(args)
            .output()
            .expect("cronq runs")
    }

    /// `cronq daemon` on this store with four built-in workers, so that runs can
    /// overlap, once it says it has started (the listings read the store and never
    /// make it).
    pub fn daemon_with_four_workers(&self) -> Process {
        let store_args = self.store_args();
        let mut args: Vec<&str> = vec!["--workers", "default=4", "--stop-grace", "1s"];
        args.extend(store_args.iter().map(String::as_str));
        args.push("daemon");
        let daemon = Process::start(self.dir(), "daemon", &args);
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        while !daemon.logs().contains("daemon started") {
            assert!(std::time::Instant::now() < deadline, "{}", daemon.logs());
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        daemon
    }

    /// `--store URL --redis-prefix P` for Redis; nothing for the default SQLite file.
    pub fn store_args(&self) -> Vec<String> {
        match &self.redis {
            None => Vec::new(),
            Some((server, prefix)) => vec![
                "--store".into(),
                server.url(),
                "--redis-prefix".into(),
                prefix.clone(),
            ],
        }
    }
}

/// Instantiates each test, an async function of the [`Backend`], for both stores: in
/// modules `sqlite` and `redis`.
#[macro_export]
macro_rules! both_stores {
    ($($test:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $test() {
                    super::$test($crate::common::both_stores::Backend::Sqlite).await;
                }
            )*
        }
        mod redis {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $test() {
                    super::$test($crate::common::both_stores::Backend::Redis).await;
                }
            )*
        }
    };
}
