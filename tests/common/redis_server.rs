//! A real `redis-server` for the tests: one per test binary, on a free loopback port, in
//! a temp dir of its own, with no persistence (a test that stops and restarts one starts
//! its own, persistent or not). It must never outlive the test binary.
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
    /// The extra arguments it was started with, to start it again the same way.
    extra: Vec<String>,
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

    /// A server of its own that keeps its data across [`RedisServer::restart`] (an
    /// append-only file in its dir, written at each change).
    pub fn start_persistent() -> RedisServer {
        RedisServer::start_with(&["--appendonly", "yes", "--appendfsync", "always"])
    }

    /// Stops the server, as an outage would; its port and dir stay for
    /// [`RedisServer::restart`].
    pub fn stop(&mut self) {
        drop(self.pipe.take());
        let _ = self.watchdog.wait();
    }

    /// Starts a stopped server again on the same port and in the same dir: with its
    /// data when it was started persistent, empty otherwise.
    pub fn restart(&mut self) {
        assert!(self.pipe.is_none(), "restart a server that was stopped");
        let owned = self.extra.clone();
        let extra: Vec<&str> = owned.iter().map(String::as_str).collect();
        let deadline = Instant::now() + READY_WITHIN;
        loop {
            let (watchdog, log) = spawn(self.port, self.dir.path(), &extra).expect("sh runs");
            self.watchdog = watchdog;
            self.pipe = self.watchdog.stdin.take();
            if ready(self.port, &mut self.watchdog, &log).is_ok() {
                return;
            }
            // The old socket may linger a moment: try again.
            self.stop();
            assert!(
                Instant::now() < deadline,
                "redis-server did not start again"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Runs one command with `redis-cli` against the server; its reply as text.
    pub fn cli(&self, args: &[&str]) -> String {
        let output = Command::new("redis-cli")
            .args(["-p", &self.port.to_string()])
            .args(args)
            .output()
            .expect("redis-cli runs (it comes with redis-server)");
        String::from_utf8_lossy(&output.stdout).trim().to_string()
    }

    fn try_start(port: u16, extra: &[&str]) -> Result<RedisServer, String> {
        let dir = tempfile::tempdir().expect("a temp dir for redis-server");
        let (watchdog, log) = spawn(port, dir.path(), extra)?;
        let mut server = RedisServer {
            port,
            watchdog,
            pipe: None,
            dir,
            extra: extra.iter().map(|arg| arg.to_string()).collect(),
        };
        server.pipe = server.watchdog.stdin.take();
        // Dropping `server` on an error stops whatever is left of it.
        ready(port, &mut server.watchdog, &log)?;
        Ok(server)
    }
}

/// Starts redis-server under its watchdog on `port` in `dir`; the watchdog and the log.
fn spawn(
    port: u16,
    dir: &std::path::Path,
    extra: &[&str],
) -> Result<(Child, std::path::PathBuf), String> {
    let log = dir.join("redis.log");
    let watchdog = Command::new("sh")
        .args(["-c", WATCHDOG, "cronq-redis-watchdog"])
        .args(["--bind", "127.0.0.1", "--port", &port.to_string()])
        .args(["--save", "", "--appendonly", "no", "--daemonize", "no"])
        .arg("--dir")
        .arg(dir)
        .arg("--logfile")
        .arg(&log)
        .args(extra)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(|error| format!("cannot run sh: {error}"))?;
    Ok((watchdog, log))
}

/// Waits until the server on `port` answers PING; an error with its log if it exits or
/// does not answer in time.
fn ready(port: u16, watchdog: &mut Child, log: &std::path::Path) -> Result<(), String> {
    let deadline = Instant::now() + READY_WITHIN;
    loop {
        if answers_ping(port) {
            return Ok(());
        }
        let exited = watchdog.try_wait().ok().flatten();
        if exited.is_some() || Instant::now() > deadline {
            let log = std::fs::read_to_string(log).unwrap_or_default();
            let why = match exited {
                Some(status) => format!("it exited ({status})"),
                None => format!("it did not answer PING within {READY_WITHIN:?}"),
            };
            return Err(format!("port {port}: {why}; its log:\n{log}"));
        }
        std::thread::sleep(POLL_EVERY);
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

/// `redis-server ARGS` (a config file, `--sentinel`, …) under the same watchdog as a
/// [`RedisServer`], for a caller that writes its own configuration: the Sentinel group,
/// a Cluster node. Stopped when dropped.
pub struct Watched {
    watchdog: Child,
    /// Closing it stops the server.
    pipe: Option<ChildStdin>,
}

impl Watched {
    /// Starts `redis-server ARGS`, its stdout discarded.
    pub fn spawn<S: AsRef<std::ffi::OsStr>>(args: &[S]) -> Result<Watched, String> {
        ensure_installed();
        let mut watchdog = Command::new("sh")
            .args(["-c", WATCHDOG, "cronq-redis-watchdog"])
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|error| format!("cannot run sh: {error}"))?;
        let pipe = watchdog.stdin.take();
        Ok(Watched { watchdog, pipe })
    }

    /// Whether the server has exited (its watchdog exits with it).
    pub fn exited(&mut self) -> Option<std::process::ExitStatus> {
        self.watchdog.try_wait().ok().flatten()
    }
}

impl Drop for Watched {
    fn drop(&mut self) {
        // As for a `RedisServer`: EOF on its stdin makes the watchdog kill the server.
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

pub fn free_port() -> u16 {
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
