//! A real `redis-server` for the tests: one per test binary, on a free loopback port, in
//! a temp dir of its own, with no persistence. It must never outlive the test binary.
//!
//! How it is stopped, and why it cannot be left behind:
//! - Each test holds an `Arc<RedisServer>`; the static keeps only a `Weak`, so the server
//!   is stopped (and waited for) when the last test using it drops its `Arc`. A later test
//!   simply starts a new one.
//! - Statics are never dropped, and a test binary can also end by `abort` or `SIGKILL`.
//!   So the server is not our direct child: a tiny `sh` watchdog starts it and blocks
//!   reading its stdin, a pipe whose only write end this process holds (Rust opens it
//!   close-on-exec, so no other child inherits it). However this process ends, the kernel
//!   closes that end, the watchdog reads EOF and kills the server. Dropping the
//!   `RedisServer` closes the pipe the same way, then waits for the watchdog, which waits
//!   for the server.

// Test binaries share a server; the store benchmark (`benches/store.rs`) starts its own.
#![allow(dead_code)]

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

/// `$1...` are redis-server's arguments. fd 3 keeps the pipe from the test binary: a
/// background list gets /dev/null as its stdin in a non-interactive shell.
const WATCHDOG: &str = r#"
exec 3<&0
redis-server "$@" </dev/null 3<&- &
server=$!
{ read -r _ <&3; kill "$server" 2>/dev/null; } &
wait "$server"
"#;

const READY_WITHIN: Duration = Duration::from_secs(5);
const POLL_EVERY: Duration = Duration::from_millis(20);

static SHARED: Mutex<Weak<RedisServer>> = Mutex::new(Weak::new());
static NEXT_PREFIX: AtomicU64 = AtomicU64::new(1);

/// A running `redis-server`; stopped when dropped.
pub struct RedisServer {
    port: u16,
    watchdog: Child,
    /// Closing it stops the server (see the module doc).
    pipe: Option<ChildStdin>,
    dir: tempfile::TempDir,
}

impl RedisServer {
    /// The server this test binary shares, started if no test holds one now.
    pub fn shared() -> Arc<RedisServer> {
        let mut shared = SHARED
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(server) = shared.upgrade() {
            return server;
        }
        let server = Arc::new(RedisServer::start());
        *shared = Arc::downgrade(&server);
        server
    }

    /// `redis://127.0.0.1:PORT/0`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/0", self.port)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// A key prefix no other test of this binary uses, with a hash tag like cronq's own
    /// `{cronq}:`, so tests share the server without seeing each other's keys.
    pub fn unique_prefix(&self) -> String {
        format!(
            "{{cronq-test-{}}}:",
            NEXT_PREFIX.fetch_add(1, Ordering::Relaxed)
        )
    }

    /// A server of its own, for a caller that does not share one (a benchmark).
    pub fn start() -> RedisServer {
        RedisServer::start_with(&[])
    }

    /// A server of its own with more redis-server arguments, such as
    /// `["--requirepass", "…"]`.
    pub fn start_with(extra: &[&str]) -> RedisServer {
        ensure_installed();
        // The port is free when we look and could be taken before redis binds it: retry.
        let mut failures = Vec::new();
        for _ in 0..5 {
            match RedisServer::try_start(free_port(), extra) {
                Ok(server) => return server,
                Err(failure) if failure.contains("Address already in use") => {
                    failures.push(failure)
                }
                Err(failure) => panic!("redis-server did not start: {failure}"),
            }
        }
        panic!(
            "redis-server found no free port: {}",
            failures.join("\n---\n")
        );
    }

    fn try_start(port: u16, extra: &[&str]) -> Result<RedisServer, String> {
        let dir = tempfile::tempdir().expect("a temp dir for redis-server");
        let log = dir.path().join("redis.log");
        let mut watchdog = Command::new("sh")
            .args(["-c", WATCHDOG, "cronq-redis-watchdog"])
            .args(["--bind", "127.0.0.1", "--port", &port.to_string()])
            .args(["--save", "", "--appendonly", "no", "--daemonize", "no"])
            .arg("--dir")
            .arg(dir.path())
            .arg("--logfile")
            .arg(&log)
            .args(extra)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|error| format!("cannot run sh: {error}"))?;
        let pipe = watchdog.stdin.take();
        let mut server = RedisServer {
            port,
            watchdog,
            pipe,
            dir,
        };
        let deadline = Instant::now() + READY_WITHIN;
        loop {
            if answers_ping(port) {
                return Ok(server);
            }
            let exited = server.watchdog.try_wait().ok().flatten();
            if exited.is_some() || Instant::now() > deadline {
                let log = std::fs::read_to_string(&log).unwrap_or_default();
                let why = match exited {
                    Some(status) => format!("it exited ({status})"),
                    None => format!("it did not answer PING within {READY_WITHIN:?}"),
                };
                // Dropping `server` stops whatever is left of it.
                return Err(format!("port {port}: {why}; its log:\n{log}"));
            }
            std::thread::sleep(POLL_EVERY);
        }
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        // EOF on the watchdog's stdin makes it kill the server; it exits once the server
        // has, so after this wait nothing is left running.
        drop(self.pipe.take());
        let _ = self.watchdog.wait();
    }
}

fn ensure_installed() {
    match Command::new("redis-server")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
    {
        Ok(_) => {}
        Err(error) if error.kind() == ErrorKind::NotFound => panic!(
            "redis-server is not installed, and the Redis half of these tests needs a real one. \
             Install it (Debian/Ubuntu: `apt-get install -y redis-server`; macOS: \
             `brew install redis`) so that `redis-server` is on the PATH, then rerun the tests."
        ),
        Err(error) => panic!("cannot run redis-server --version: {error}"),
    }
}

fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
    listener.local_addr().expect("a bound address").port()
}

fn answers_ping(port: u16) -> bool {
    let address = SocketAddr::from(([127, 0, 0, 1], port));
    let Ok(mut stream) = TcpStream::connect_timeout(&address, Duration::from_millis(200)) else {
        return false;
    };
    let timeout = Some(Duration::from_millis(200));
    if stream.set_read_timeout(timeout).is_err() || stream.write_all(b"PING\r\n").is_err() {
        return false;
    }
    let mut reply = [0u8; 7];
    let mut read = 0;
    while read < reply.len() {
        match stream.read(&mut reply[read..]) {
            Ok(0) | Err(_) => break,
            Ok(n) => read += n,
        }
    }
    // A server that wants a password answers, too.
    reply[..read].starts_with(b"+PONG") || reply[..read].starts_with(b"-NOAUTH")
}
