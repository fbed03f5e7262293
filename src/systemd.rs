//! What systemd asks of a service, spoken without libsystemd: the notify protocol of
//! sd_notify(3) (one datagram per state to `$NOTIFY_SOCKET`) and whether stderr is the
//! journal (`$JOURNAL_STREAM`), so log lines carry their priority.
//!
//! It never fails a caller: a datagram that cannot be sent is dropped, because the
//! daemon's work must not hang on its supervisor.

use std::io;
use std::os::fd::AsFd;
use std::os::linux::net::SocketAddrExt;
use std::os::unix::net::{SocketAddr, UnixDatagram};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The variables systemd gives a service for itself, which its jobs must not see: a
/// job that sent `READY=1` or `WATCHDOG=1` would speak for the daemon.
pub const SERVICE_VARS: [&str; 4] = [
    "NOTIFY_SOCKET",
    "WATCHDOG_USEC",
    "WATCHDOG_PID",
    "JOURNAL_STREAM",
];

/// The socket systemd listens on for this process's state.
pub struct Notifier {
    socket: UnixDatagram,
    to: SocketAddr,
    /// Half of `WATCHDOG_USEC`: how often `WATCHDOG=1` is sent.
    watchdog_every: Option<Duration>,
    sent: Mutex<Sent>,
}

/// What was sent last, so repeats are held back.
struct Sent {
    watchdog: Option<Instant>,
    status: Option<String>,
}

impl Notifier {
    /// The notifier systemd asked for, if it asked (`NOTIFY_SOCKET` set and usable).
    pub fn from_env() -> Option<Notifier> {
        Notifier::from_vars(|name| std::env::var(name).ok(), std::process::id())
    }

    /// [`Notifier::from_env`] over any source of variables, with this process's id.
    pub fn from_vars(var: impl Fn(&str) -> Option<String>, pid: u32) -> Option<Notifier> {
        let path = var("NOTIFY_SOCKET")?;
        let to = match path.strip_prefix('@') {
            // Linux's abstract namespace: `@name` is a name that starts with a NUL.
            Some(name) => SocketAddr::from_abstract_name(name.as_bytes()),
            None => SocketAddr::from_pathname(&path),
        };
        let to = to
            .inspect_err(|error| tracing::warn!(%error, path, "NOTIFY_SOCKET is unusable"))
            .ok()?;
        let socket = UnixDatagram::unbound().ok()?;
        // A supervisor that stops reading must not stall the timer loop.
        socket.set_nonblocking(true).ok()?;
        // WATCHDOG_PID names the process the watchdog is for; another's is not ours.
        let for_us = var("WATCHDOG_PID").is_none_or(|p| p.parse() == Ok(pid));
        let watchdog_every = var("WATCHDOG_USEC")
            .and_then(|usec| usec.parse::<u64>().ok())
            .filter(|usec| *usec > 0 && for_us)
            .map(|usec| Duration::from_micros(usec) / 2);
        Some(Notifier {
            socket,
            to,
            watchdog_every,
            sent: Mutex::new(Sent {
                watchdog: None,
                status: None,
            }),
        })
    }

    /// How often the daemon must wake to keep the watchdog fed, if there is one.
    pub fn watchdog_every(&self) -> Option<Duration> {
        self.watchdog_every
    }

    /// The schedule is loaded and the store answers.
    pub fn ready(&self) {
        self.send("READY=1");
    }

    /// A reload of the schedule has begun; [`Notifier::ready`] ends it.
    pub fn reloading(&self) {
        self.send("RELOADING=1");
    }

    /// The daemon is shutting down.
    pub fn stopping(&self) {
        self.send("STOPPING=1");
    }

    /// `WATCHDOG=1` when half the watchdog interval has passed since the last one.
    pub fn watchdog(&self) {
        let Some(every) = self.watchdog_every else {
            return;
        };
        let now = Instant::now();
        let mut sent = self
            .sent
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if sent
            .watchdog
            .is_none_or(|at| now.duration_since(at) >= every)
        {
            sent.watchdog = Some(now);
            drop(sent);
            self.send("WATCHDOG=1");
        }
    }

    /// `STATUS=text`, when it differs from the last one sent.
    pub fn status(&self, text: &str) {
        let mut sent = self
            .sent
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if sent.status.as_deref() != Some(text) {
            sent.status = Some(text.to_string());
            drop(sent);
            self.send(&format!("STATUS={text}"));
        }
    }

    fn send(&self, state: &str) {
        if let Err(error) = self.socket.send_to_addr(state.as_bytes(), &self.to) {
            tracing::debug!(%error, state, "cannot notify systemd");
        }
    }
}

/// True when stderr is the journal's stream that `JOURNAL_STREAM` names (its
/// `device:inode`), as sd-daemon(3) recommends checking: a service whose stderr was
/// redirected elsewhere keeps plain lines.
pub fn stderr_is_journal() -> bool {
    let Ok(stream) = std::env::var("JOURNAL_STREAM") else {
        return false;
    };
    stat_of_stderr().is_ok_and(|(dev, ino)| names(&stream, dev, ino))
}

/// Whether `JOURNAL_STREAM`'s `device:inode` is (`dev`, `ino`).
pub fn names(stream: &str, dev: u64, ino: u64) -> bool {
    let Some((d, i)) = stream.split_once(':') else {
        return false;
    };
    d.parse() == Ok(dev) && i.parse() == Ok(ino)
}

fn stat_of_stderr() -> io::Result<(u64, u64)> {
    let stat = nix::sys::stat::fstat(io::stderr().as_fd())?;
    Ok((stat.st_dev, stat.st_ino))
}

/// The syslog priority of a log level, as the journal reads a `<N>` prefix.
pub fn priority(level: tracing::Level) -> u8 {
    match level {
        tracing::Level::ERROR => 3,
        tracing::Level::WARN => 4,
        tracing::Level::INFO => 6,
        _ => 7,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let pairs: Vec<(String, String)> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |name| {
            pairs
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
        }
    }

    #[test]
    fn without_notify_socket_there_is_no_notifier() {
        assert!(Notifier::from_vars(vars(&[("WATCHDOG_USEC", "1000")]), 1).is_none());
    }

    #[test]
    fn the_watchdog_is_fed_at_half_its_interval_and_only_for_its_pid() {
        let ours = vars(&[
            ("NOTIFY_SOCKET", "@cronq-test"),
            ("WATCHDOG_USEC", "3000000"),
            ("WATCHDOG_PID", "42"),
        ]);
        let notifier = Notifier::from_vars(&ours, 42).unwrap();
        assert_eq!(notifier.watchdog_every(), Some(Duration::from_millis(1500)));
        let theirs = Notifier::from_vars(&ours, 43).unwrap();
        assert_eq!(theirs.watchdog_every(), None);
    }

    #[test]
    fn journal_stream_names_device_and_inode() {
        assert!(names("2049:1234", 2049, 1234));
        assert!(!names("2049:1234", 2049, 1235));
        assert!(!names("garbage", 2049, 1234));
    }

    #[test]
    fn priorities_are_syslogs() {
        assert_eq!(priority(tracing::Level::ERROR), 3);
        assert_eq!(priority(tracing::Level::WARN), 4);
        assert_eq!(priority(tracing::Level::INFO), 6);
        assert_eq!(priority(tracing::Level::DEBUG), 7);
    }
}
