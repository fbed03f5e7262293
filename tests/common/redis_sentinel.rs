//! A replicated Redis under Sentinel for the failover tests: a primary, a replica and
//! three sentinels (`redis-server FILE --sentinel`), each on a free loopback port, in a
//! temp dir of their own, stopped when the group is dropped (each under the same
//! watchdog as [`RedisServer`](super::redis_server::RedisServer)).
//!
//! Passwords everywhere, as a real deployment has them: the data servers' default user
//! (`DATA_PASSWORD`, which cronq's URL carries), the sentinels' own (`SENTINEL_PASSWORD`,
//! the URL's `sentinel_password=`), and a user of its own for replication, so that a
//! test can cut the replica off the primary (disable that user, drop its link) without
//! touching cronq's connections or the sentinels'.
//!
//! Sentinel settings that keep a failover short: the primary is down after 1 s without
//! an answer, and a failover that stalls is given up after 3 s.

use std::path::Path;
use std::time::{Duration, Instant};

use super::redis_server::{Watched, free_port};

pub const MASTER: &str = "cronq-primary";
pub const DATA_PASSWORD: &str = "data-secret";
pub const SENTINEL_PASSWORD: &str = "sentinel-secret";
const REPLICATION_USER: &str = "replication";
const REPLICATION_PASSWORD: &str = "replication-secret";
const DOWN_AFTER_MS: u64 = 1000;
const FAILOVER_TIMEOUT_MS: u64 = 3000;
const READY_WITHIN: Duration = Duration::from_secs(20);
const POLL_EVERY: Duration = Duration::from_millis(20);

/// One `redis-server` of the group.
pub struct Node {
    pub port: u16,
    process: Watched,
}

/// The primary, the replica and the sentinels, with the dir that holds their files.
pub struct SentinelGroup {
    pub primary: Node,
    pub replica: Node,
    pub sentinels: Vec<Node>,
    dir: tempfile::TempDir,
}

impl SentinelGroup {
    /// Starts the group and waits until the replica is in sync and every sentinel knows
    /// the replica and the two other sentinels: only then would a failover succeed.
    pub fn start() -> SentinelGroup {
        let dir = tempfile::tempdir().expect("a temp dir for the Sentinel group");
        let primary = start_data(dir.path(), "primary", None);
        let replica = start_data(dir.path(), "replica", Some(primary.port));
        let sentinels = (1..=3)
            .map(|n| start_sentinel(dir.path(), n, primary.port))
            .collect();
        let group = SentinelGroup {
            primary,
            replica,
            sentinels,
            dir,
        };
        group.wait_until("the replica is in sync", || {
            info(group.replica.port, DATA_PASSWORD, "replication")
                .is_some_and(|info| info.contains("master_link_status:up"))
        });
        group.wait_until(
            "every sentinel sees the replica and the other sentinels",
            || {
                group.sentinels.iter().all(|sentinel| {
                    let master = sentinel_master(sentinel.port);
                    master.get("num-slaves").is_some_and(|n| n == "1")
                        && master.get("num-other-sentinels").is_some_and(|n| n == "2")
                })
            },
        );
        group
    }

    /// `redis+sentinel://:PASSWORD@127.0.0.1:P1,…/MASTER/0?sentinel_password=…`.
    pub fn url(&self) -> String {
        let hosts: Vec<String> = self
            .sentinels
            .iter()
            .map(|sentinel| format!("127.0.0.1:{}", sentinel.port))
            .collect();
        format!(
            "redis+sentinel://:{DATA_PASSWORD}@{}/{MASTER}/0?sentinel_password={SENTINEL_PASSWORD}",
            hosts.join(",")
        )
    }

    /// `redis://:PASSWORD@127.0.0.1:PORT/0`: one data server, straight.
    pub fn data_url(port: u16) -> String {
        format!("redis://:{DATA_PASSWORD}@127.0.0.1:{port}/0")
    }

    /// The port of the primary as the first sentinel that answers names it.
    pub fn named_primary(&self) -> Option<u16> {
        self.sentinels.iter().find_map(|sentinel| {
            let mut connection = connect(sentinel.port, SENTINEL_PASSWORD)?;
            let named: Option<(String, u16)> = redis::cmd("SENTINEL")
                .arg("get-master-addr-by-name")
                .arg(MASTER)
                .query(&mut connection)
                .ok()?;
            named.map(|(_, port)| port)
        })
    }

    /// Stops the primary's replication to the replica: the replication user is disabled
    /// and its link dropped, so the replica cannot reconnect. The primary goes on taking
    /// writes that the replica never gets, as it would with a slow or broken link.
    pub fn cut_replication(&self) {
        let mut primary = connect(self.primary.port, DATA_PASSWORD).expect("the primary answers");
        let _: () = redis::cmd("ACL")
            .arg(&["SETUSER", REPLICATION_USER, "off"])
            .query(&mut primary)
            .expect("ACL SETUSER");
        let _: i64 = redis::cmd("CLIENT")
            .arg(&["KILL", "USER", REPLICATION_USER])
            .query(&mut primary)
            .expect("CLIENT KILL USER");
        self.wait_until("the replica has lost its link", || {
            info(self.replica.port, DATA_PASSWORD, "replication")
                .is_some_and(|info| info.contains("master_link_status:down"))
        });
    }

    /// `SENTINEL FAILOVER`: the replica is promoted and the old primary, still up, made
    /// its replica; waits until the sentinels name the new primary.
    pub fn fail_over(&self) {
        let mut sentinel =
            connect(self.sentinels[0].port, SENTINEL_PASSWORD).expect("a sentinel answers");
        let _: () = redis::cmd("SENTINEL")
            .arg("FAILOVER")
            .arg(MASTER)
            .query(&mut sentinel)
            .expect("SENTINEL FAILOVER");
        self.wait_until("the sentinels name the replica", || {
            self.named_primary() == Some(self.replica.port)
        });
    }

    /// The `CLIENT LIST` lines of the ordinary clients of a data server, but for the
    /// connection that asks.
    pub fn clients(port: u16) -> Vec<String> {
        let Some(mut connection) = connect(port, DATA_PASSWORD) else {
            return Vec::new();
        };
        let own: i64 = redis::cmd("CLIENT")
            .arg("ID")
            .query(&mut connection)
            .unwrap_or(-1);
        let list: String = redis::cmd("CLIENT")
            .arg(&["LIST", "TYPE", "normal"])
            .query(&mut connection)
            .unwrap_or_default();
        list.lines()
            .filter(|line| !line.starts_with(&format!("id={own} ")))
            .map(str::to_owned)
            .collect()
    }

    /// Kills the primary with SIGKILL, as a crash of its host would.
    pub fn kill_primary(&mut self) {
        let server = info(self.primary.port, DATA_PASSWORD, "server").expect("the primary answers");
        let pid: i32 = field(&server, "process_id")
            .and_then(|pid| pid.parse().ok())
            .expect("INFO server has the process id");
        nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(pid),
            nix::sys::signal::Signal::SIGKILL,
        )
        .expect("the primary is there to kill");
        let deadline = Instant::now() + READY_WITHIN;
        while self.primary.process.exited().is_none() {
            assert!(Instant::now() < deadline, "the killed primary did not exit");
            std::thread::sleep(POLL_EVERY);
        }
    }

    /// The lines of every sentinel's log, for a failing test's message.
    pub fn sentinel_logs(&self) -> String {
        (1..=3)
            .map(|n| {
                let log = self.dir.path().join(format!("sentinel{n}.log"));
                format!(
                    "--- sentinel {n}\n{}",
                    std::fs::read_to_string(log).unwrap_or_default()
                )
            })
            .collect()
    }

    fn wait_until(&self, what: &str, mut check: impl FnMut() -> bool) {
        let deadline = Instant::now() + READY_WITHIN;
        while !check() {
            assert!(
                Instant::now() < deadline,
                "timed out waiting until {what}:\n{}",
                self.sentinel_logs()
            );
            std::thread::sleep(POLL_EVERY);
        }
    }
}

/// A data server: the primary, or with `replica_of` a replica of it. Both carry the
/// replication user, so either could be a primary.
fn start_data(dir: &Path, name: &str, replica_of: Option<u16>) -> Node {
    let mut conf = format!(
        "save \"\"\nappendonly no\nrequirepass {DATA_PASSWORD}\n\
         user {REPLICATION_USER} on >{REPLICATION_PASSWORD} +psync +replconf +ping\n\
         masteruser {REPLICATION_USER}\nmasterauth {REPLICATION_PASSWORD}\n"
    );
    if let Some(port) = replica_of {
        conf.push_str(&format!("replicaof 127.0.0.1 {port}\n"));
    }
    let node = start_node(dir, name, &conf, false);
    let deadline = Instant::now() + READY_WITHIN;
    while connect(node.port, DATA_PASSWORD).is_none() {
        assert!(
            Instant::now() < deadline,
            "redis-server {name} did not start"
        );
        std::thread::sleep(POLL_EVERY);
    }
    node
}

fn start_sentinel(dir: &Path, n: usize, primary: u16) -> Node {
    let conf = format!(
        "sentinel monitor {MASTER} 127.0.0.1 {primary} 2\n\
         sentinel down-after-milliseconds {MASTER} {DOWN_AFTER_MS}\n\
         sentinel failover-timeout {MASTER} {FAILOVER_TIMEOUT_MS}\n\
         sentinel auth-pass {MASTER} {DATA_PASSWORD}\n\
         requirepass {SENTINEL_PASSWORD}\nsentinel sentinel-pass {SENTINEL_PASSWORD}\n"
    );
    let node = start_node(dir, &format!("sentinel{n}"), &conf, true);
    let deadline = Instant::now() + READY_WITHIN;
    while connect(node.port, SENTINEL_PASSWORD).is_none() {
        assert!(Instant::now() < deadline, "sentinel {n} did not start");
        std::thread::sleep(POLL_EVERY);
    }
    node
}

/// Writes `NAME.conf` (a sentinel rewrites its own) and starts it on a free port.
fn start_node(dir: &Path, name: &str, body: &str, sentinel: bool) -> Node {
    let port = free_port();
    let own_dir = dir.join(name);
    std::fs::create_dir_all(&own_dir).expect("a dir for the node");
    let conf = dir.join(format!("{name}.conf"));
    let text = format!(
        "bind 127.0.0.1\nport {port}\ndir {}\nlogfile {}\n{body}",
        own_dir.display(),
        dir.join(format!("{name}.log")).display()
    );
    std::fs::write(&conf, text).expect("write the node's config");
    let mut args = vec![conf.into_os_string()];
    if sentinel {
        args.push("--sentinel".into());
    }
    let process = Watched::spawn(&args).expect("redis-server starts");
    Node { port, process }
}

fn connect(port: u16, password: &str) -> Option<redis::Connection> {
    let info = format!("redis://:{password}@127.0.0.1:{port}/");
    let client = redis::Client::open(info).ok()?;
    let mut connection = client
        .get_connection_with_timeout(Duration::from_millis(500))
        .ok()?;
    connection
        .set_read_timeout(Some(Duration::from_millis(500)))
        .ok()?;
    let _: String = redis::cmd("PING").query(&mut connection).ok()?;
    Some(connection)
}

fn info(port: u16, password: &str, section: &str) -> Option<String> {
    let mut connection = connect(port, password)?;
    redis::cmd("INFO").arg(section).query(&mut connection).ok()
}

fn field<'a>(info: &'a str, name: &str) -> Option<&'a str> {
    info.lines()
        .find_map(|line| line.trim().strip_prefix(name)?.strip_prefix(':'))
}

fn sentinel_master(port: u16) -> std::collections::HashMap<String, String> {
    connect(port, SENTINEL_PASSWORD)
        .and_then(|mut connection| {
            redis::cmd("SENTINEL")
                .arg("master")
                .arg(MASTER)
                .query(&mut connection)
                .ok()
        })
        .unwrap_or_default()
}
