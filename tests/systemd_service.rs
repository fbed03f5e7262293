//! `cronq daemon` under systemd, with this test in systemd's place: it binds the
//! `NOTIFY_SOCKET` datagram socket and reads what the real binary tells it (ready,
//! status, watchdog, reload, stopping), and it hands the daemon a stderr named by
//! `JOURNAL_STREAM` to see each log line carry its priority.

mod common;

use std::os::linux::net::SocketAddrExt;
use std::os::unix::fs::MetadataExt;
use std::os::unix::net::{SocketAddr, UnixDatagram};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::Scratch;
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

const PATIENCE: Duration = Duration::from_secs(10);

/// A job every second that writes its environment where the test can read it.
const SCHEDULE: &str = r#"
jobs:
  tick:
    schedule: "* * * * * *"
    command: "env > env.txt"
"#;

/// `cronq daemon` in `dir` with these variables, its stderr into `stderr`.
fn daemon(dir: &Path, env: &[(&str, String)], args: &[&str], stderr: Stdio) -> Child {
    let mut command = Command::new(env!("CARGO_BIN_EXE_cronq"));
    for (var, _) in std::env::vars().filter(|(var, _)| var.starts_with("CRONQ_")) {
        command.env_remove(var);
    }
    for var in [
        "NOTIFY_SOCKET",
        "WATCHDOG_USEC",
        "WATCHDOG_PID",
        "JOURNAL_STREAM",
    ] {
        command.env_remove(var);
    }
    command
        .arg("daemon")
        .args(["--schedule", "crontab.yaml"])
        .args(args)
        .current_dir(dir)
        .env("TZ", "UTC")
        .env("XDG_STATE_HOME", dir.join("state"))
        .env("RUST_LOG", "info")
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(stderr)
        .spawn()
        .expect("cronq daemon starts")
}

fn signal(child: &Child, signal: Signal) {
    kill(Pid::from_raw(child.id() as i32), signal).expect("the daemon is there");
}

fn wait_exit(child: &mut Child) -> Option<i32> {
    let deadline = Instant::now() + PATIENCE;
    loop {
        if let Some(status) = child.try_wait().expect("wait") {
            return status.code();
        }
        assert!(Instant::now() < deadline, "the daemon did not stop");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The datagrams systemd would read, in order.
struct Listener {
    socket: UnixDatagram,
    got: Vec<String>,
}

impl Listener {
    fn bound(socket: UnixDatagram) -> Listener {
        socket
            .set_read_timeout(Some(Duration::from_millis(100)))
            .expect("a read timeout");
        Listener {
            socket,
            got: Vec::new(),
        }
    }

    /// Reads until a datagram satisfies `want`, for up to PATIENCE; that datagram.
    fn until(&mut self, what: &str, want: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + PATIENCE;
        let mut buffer = [0u8; 4096];
        while Instant::now() < deadline {
            if let Ok(n) = self.socket.recv(&mut buffer) {
                let text = String::from_utf8_lossy(&buffer[..n]).into_owned();
                self.got.push(text.clone());
                if want(&text) {
                    return text;
                }
            }
        }
        panic!("no {what} within {PATIENCE:?}; got {:?}", self.got);
    }

    /// Every datagram read in the last `window`, after reading for that long.
    fn during(&mut self, window: Duration) -> Vec<String> {
        let from = self.got.len();
        let deadline = Instant::now() + window;
        let mut buffer = [0u8; 4096];
        while Instant::now() < deadline {
            if let Ok(n) = self.socket.recv(&mut buffer) {
                self.got
                    .push(String::from_utf8_lossy(&buffer[..n]).into_owned());
            }
        }
        self.got[from..].to_vec()
    }
}

#[test]
fn the_daemon_tells_systemd_ready_status_watchdog_reload_and_stopping() {
    let scratch = Scratch::new();
    scratch.write("crontab.yaml", SCHEDULE);
    let path = scratch.path().join("notify.sock");
    let mut systemd = Listener::bound(UnixDatagram::bind(&path).expect("bind"));
    let env = [
        ("NOTIFY_SOCKET", path.display().to_string()),
        // Fed every 200 ms: half the interval.
        ("WATCHDOG_USEC", "400000".to_string()),
    ];
    let mut child = daemon(scratch.path(), &env, &[], Stdio::null());

    let first = systemd.until("a first datagram", |_| true);
    assert_eq!(
        first, "READY=1",
        "READY comes first, once the store answered"
    );
    // The store is there to answer by then: its file exists.
    assert!(scratch.path().join("state/cronq/cronq.db").is_file());
    let status = systemd.until("a status line", |d| d.starts_with("STATUS="));
    assert!(
        status.starts_with("STATUS=1 job; next: tick at "),
        "the status names the jobs and the next fire: {status}"
    );
    assert!(
        status.ends_with(" running"),
        "and the runs running: {status}"
    );

    let second = systemd.during(Duration::from_millis(1500));
    let pings = second.iter().filter(|d| *d == "WATCHDOG=1").count();
    assert!(
        (4..=10).contains(&pings),
        "WATCHDOG=1 about every 200 ms over 1.5 s, got {pings}: {second:?}"
    );
    let statuses = second.iter().filter(|d| d.starts_with("STATUS=")).count();
    assert!(
        statuses <= 3,
        "a status line at most once a second: {second:?}"
    );

    // The job ran, without the variables that are the daemon's alone.
    let env_txt = scratch.path().join("env.txt");
    let deadline = Instant::now() + PATIENCE;
    while !env_txt.is_file() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    let job_env = std::fs::read_to_string(&env_txt).expect("the job ran");
    assert!(job_env.contains("PATH="), "the job's env: {job_env}");
    for var in ["NOTIFY_SOCKET", "WATCHDOG_USEC"] {
        assert!(
            !job_env.contains(var),
            "a job must not see {var}: {job_env}"
        );
    }

    signal(&child, Signal::SIGHUP);
    systemd.until("RELOADING=1 after SIGHUP", |d| d == "RELOADING=1");
    let after = systemd.until("READY=1 after the reload", |d| {
        d == "READY=1" || d == "RELOADING=1"
    });
    assert_eq!(after, "READY=1", "the reload ends with READY=1");

    signal(&child, Signal::SIGTERM);
    systemd.until("STOPPING=1 on SIGTERM", |d| d == "STOPPING=1");
    assert_eq!(wait_exit(&mut child), Some(0));
    let readies = systemd.got.iter().filter(|d| *d == "READY=1").count();
    assert_eq!(readies, 2, "one at the start, one after the reload");
}

#[test]
fn an_abstract_notify_socket_is_reached_and_no_watchdog_is_fed_unasked() {
    let scratch = Scratch::new();
    scratch.write("crontab.yaml", SCHEDULE);
    let name = format!("cronq-test-{}", std::process::id());
    let address = SocketAddr::from_abstract_name(name.as_bytes()).expect("an abstract name");
    let socket = UnixDatagram::bind_addr(&address).expect("bind");
    let mut systemd = Listener::bound(socket);
    let env = [("NOTIFY_SOCKET", format!("@{name}"))];
    let mut child = daemon(scratch.path(), &env, &[], Stdio::null());
    assert_eq!(systemd.until("READY=1", |_| true), "READY=1");
    let second = systemd.during(Duration::from_millis(1200));
    assert!(
        !second.iter().any(|d| d == "WATCHDOG=1"),
        "no WATCHDOG_USEC, no watchdog: {second:?}"
    );
    signal(&child, Signal::SIGTERM);
    systemd.until("STOPPING=1", |d| d == "STOPPING=1");
    assert_eq!(wait_exit(&mut child), Some(0));
}

/// Starts the daemon with its stderr into `log`, `JOURNAL_STREAM` set to `stream` (or
/// to the file's own device:inode when `None`), lets it log its start and one refused
/// reload, and returns the lines it wrote.
fn journal_lines(stream: Option<&str>, args: &[&str]) -> Vec<String> {
    let scratch = Scratch::new();
    scratch.write("crontab.yaml", SCHEDULE);
    let log = scratch.path().join("stderr.log");
    let file = std::fs::File::create(&log).expect("a log file");
    let meta = file.metadata().expect("its metadata");
    let stream = stream.map_or_else(|| format!("{}:{}", meta.dev(), meta.ino()), String::from);
    let env = [("JOURNAL_STREAM", stream)];
    let mut child = daemon(scratch.path(), &env, args, Stdio::from(file));
    let read = || std::fs::read_to_string(&log).unwrap_or_default();
    let deadline = Instant::now() + PATIENCE;
    while !read().contains("daemon started") {
        assert!(
            Instant::now() < deadline,
            "the daemon did not start:\n{}",
            read()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    // A schedule that does not validate: its reload is refused, logged as errors.
    scratch.write(
        "crontab.yaml",
        "jobs:\n  broken:\n    schedule: \"61 * * * *\"\n",
    );
    signal(&child, Signal::SIGHUP);
    while !read().contains("the running one stays") {
        assert!(Instant::now() < deadline, "no refused reload:\n{}", read());
        std::thread::sleep(Duration::from_millis(20));
    }
    signal(&child, Signal::SIGTERM);
    assert_eq!(wait_exit(&mut child), Some(0));
    read().lines().map(String::from).collect()
}

#[test]
fn log_lines_to_the_journal_start_with_their_priority() {
    let lines = journal_lines(None, &[]);
    let started = lines.iter().find(|l| l.contains("daemon started")).unwrap();
    assert!(started.starts_with("<6>"), "info is <6>: {started}");
    let refused = lines
        .iter()
        .find(|l| l.contains("does not validate"))
        .unwrap();
    assert!(refused.starts_with("<3>"), "an error is <3>: {refused}");
    for line in &lines {
        let priority = line.get(..3).unwrap_or_default();
        assert!(
            ["<3>", "<4>", "<6>", "<7>"].contains(&priority),
            "every line has a priority: {line}"
        );
        // The journal stamps each line itself.
        assert!(!line[3..].starts_with("20"), "no time of our own: {line}");
    }
}

#[test]
fn a_journal_stream_that_is_not_stderr_leaves_lines_plain() {
    // A service whose stderr was sent elsewhere inherits a JOURNAL_STREAM that is not it.
    let lines = journal_lines(Some("1:1"), &[]);
    let started = lines.iter().find(|l| l.contains("daemon started")).unwrap();
    assert!(!started.starts_with('<'), "no prefix: {started}");
    assert!(started.starts_with("20"), "the usual time first: {started}");
}

#[test]
fn json_logs_stay_json_under_the_journal() {
    let lines = journal_lines(None, &["--log-format", "json"]);
    assert!(!lines.is_empty());
    for line in &lines {
        let parsed: serde_json::Value = serde_json::from_str(line)
            .unwrap_or_else(|error| panic!("not one JSON object ({error}): {line}"));
        assert!(parsed.get("level").is_some(), "{line}");
    }
    assert!(lines.iter().any(|l| l.contains("\"ERROR\"")));
}
