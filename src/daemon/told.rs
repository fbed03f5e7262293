//! What the daemon tells its supervisor, when one listens (systemd's `NOTIFY_SOCKET`):
//! ready, reloading, stopping, the watchdog, and a status line of the jobs, the next
//! fire and the runs running. Without a supervisor each call costs nothing.

use std::time::{Duration, Instant};

use super::{Firing, MAX_NAP};
use crate::systemd::Notifier;

/// How often the status line is looked at: it asks the store for the running runs.
const STATUS_EVERY: Duration = Duration::from_secs(1);

pub struct Told {
    notifier: Option<Notifier>,
    status_at: Option<Instant>,
}

impl Told {
    pub fn new(notifier: Option<Notifier>) -> Told {
        Told {
            notifier,
            status_at: None,
        }
    }

    /// The longest the timer loop may sleep: a watchdog at half its interval is fed
    /// from the loop, so a loop that hangs stops feeding it.
    pub fn nap(&self) -> Duration {
        let watchdog = self.notifier.as_ref().and_then(Notifier::watchdog_every);
        watchdog.map_or(MAX_NAP, |every| every.min(MAX_NAP))
    }

    pub fn ready(&self) {
        if let Some(notifier) = &self.notifier {
            notifier.ready();
        }
    }

    pub fn reloading(&self) {
        if let Some(notifier) = &self.notifier {
            notifier.reloading();
        }
    }

    pub fn stopping(&self) {
        if let Some(notifier) = &self.notifier {
            notifier.stopping();
        }
    }

    /// Feeds the watchdog, and at most once a second sends the status when it changed.
    pub async fn tell(&mut self, firing: &Firing) {
        let Some(notifier) = &self.notifier else {
            return;
        };
        notifier.watchdog();
        if self.status_at.is_some_and(|at| at.elapsed() < STATUS_EVERY) {
            return;
        }
        self.status_at = Some(Instant::now());
        notifier.status(&status_line(firing).await);
    }
}

/// `3 jobs; next: backup-db at 2026-12-04T02:30:00Z; 1 running`.
async fn status_line(firing: &Firing) -> String {
    let jobs = firing.schedule.jobs.len();
    let jobs = format!("{jobs} job{}", if jobs == 1 { "" } else { "s" });
    if let Some(since) = firing.outage {
        let since = since.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        return format!("{jobs}; waiting for the store since {since}");
    }
    let next = match firing.timer.next() {
        Some((at, index)) => format!(
            "next: {} at {}",
            firing.schedule.jobs[index].name,
            at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
        ),
        None => "nothing to fire".to_string(),
    };
    match firing.store.running().await {
        Ok(running) => format!("{jobs}; {next}; {} running", running.len()),
        Err(_) => format!("{jobs}; {next}"),
    }
}
