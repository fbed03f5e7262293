//! A job's health as the store keeps it, for notifications: whether its last run that
//! counted failed, when its last message was claimed, and which run was recorded last.
//!
//! The store only keeps the state and hands each change of it to one caller; what a
//! change means (which targets hear of it) is `crate::notify`'s business.

use std::time::Duration;

use super::NewNotice;

/// The message a run's end calls for, claimed by the caller that recorded it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HealthChange {
    /// A run failed, timed out or was lost while the job was healthy.
    Failing,
    /// The job is still failing and its `remind` has passed since the last message.
    Reminder,
    /// The first success after the job was failing.
    Recovered,
}

/// A job's health before a run's end is recorded.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Health {
    pub failing: bool,
    /// When the last message was claimed, in ms since the epoch.
    pub notified_at_ms: i64,
    /// The run recorded last: recording it again changes nothing.
    pub last_run: Option<String>,
}

impl HealthChange {
    pub fn as_str(self) -> &'static str {
        match self {
            HealthChange::Failing => "failing",
            HealthChange::Reminder => "reminder",
            HealthChange::Recovered => "recovered",
        }
    }

    /// The outbox entry of this change of `job`, about `run` (a timer's reminder names
    /// none and is about `last_run`); `health.lua` writes the same.
    pub fn notice(
        self,
        job: &str,
        run: Option<&str>,
        last_run: Option<&str>,
        now_ms: i64,
    ) -> NewNotice {
        let key = match run {
            Some(run) => format!("health:{job}:{}:{run}", self.as_str()),
            None => format!("health:{job}:{}:@{now_ms}", self.as_str()),
        };
        let event = match self {
            HealthChange::Recovered => "recovered",
            HealthChange::Failing | HealthChange::Reminder => "failing",
        };
        NewNotice {
            key,
            job: job.to_string(),
            event: event.to_string(),
            reminder: self == HealthChange::Reminder,
            run: run.or(last_run).map(str::to_string),
            detail: None,
        }
    }

    pub fn parse(text: &str) -> Option<HealthChange> {
        [
            HealthChange::Failing,
            HealthChange::Reminder,
            HealthChange::Recovered,
        ]
        .into_iter()
        .find(|change| change.as_str() == text)
    }
}

impl Health {
    /// The change that run `run`'s end makes at `now_ms`, and the health after it; with
    /// no run (the timer's look), only a reminder that is due. The SQLite backend runs
    /// this inside its transaction; `health.lua` is the same rule.
    pub fn after(
        &self,
        run: Option<&str>,
        failed: bool,
        remind: Option<Duration>,
        now_ms: i64,
    ) -> (Option<HealthChange>, Health) {
        let remind_due = remind.is_some_and(|remind| {
            now_ms.saturating_sub(self.notified_at_ms) >= remind.as_millis() as i64
        });
        let Some(run) = run else {
            if !(self.failing && remind_due) {
                return (None, self.clone());
            }
            let next = Health {
                notified_at_ms: now_ms,
                ..self.clone()
            };
            return (Some(HealthChange::Reminder), next);
        };
        if self.last_run.as_deref() == Some(run) {
            return (None, self.clone());
        }
        let change = match (failed, self.failing) {
            (true, false) => Some(HealthChange::Failing),
            (true, true) if remind_due => Some(HealthChange::Reminder),
            (false, true) => Some(HealthChange::Recovered),
            _ => None,
        };
        let notified_at_ms = match change {
            Some(HealthChange::Failing | HealthChange::Reminder) => now_ms,
            _ => self.notified_at_ms,
        };
        let next = Health {
            failing: failed,
            notified_at_ms,
            last_run: Some(run.to_string()),
        };
        (change, next)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOUR: Duration = Duration::from_secs(3600);

    #[test]
    fn one_failing_then_reminders_then_one_recovered() {
        let healthy = Health::default();
        let (change, failing) = healthy.after(Some("a"), true, Some(HOUR), 1_000);
        assert_eq!(change, Some(HealthChange::Failing));
        let (change, still) = failing.after(Some("b"), true, Some(HOUR), 2_000);
        assert_eq!(change, None, "within the hour no reminder");
        let (change, reminded) = still.after(Some("c"), true, Some(HOUR), 1_000 + 3_600_000);
        assert_eq!(change, Some(HealthChange::Reminder));
        assert_eq!(reminded.notified_at_ms, 1_000 + 3_600_000);
        let (change, recovered) = reminded.after(Some("d"), false, Some(HOUR), 4_000_000);
        assert_eq!(change, Some(HealthChange::Recovered));
        let (change, _) = recovered.after(Some("e"), false, Some(HOUR), 5_000_000);
        assert_eq!(change, None, "a success while healthy says nothing");
    }

    #[test]
    fn without_remind_a_failing_job_says_nothing_more() {
        let (_, failing) = Health::default().after(Some("a"), true, None, 0);
        let (change, _) = failing.after(Some("b"), true, None, i64::MAX / 2);
        assert_eq!(change, None);
    }

    #[test]
    fn the_timer_reminds_a_failing_job_once_remind_has_passed() {
        let (_, failing) = Health::default().after(Some("a"), true, Some(HOUR), 0);
        assert_eq!(failing.after(None, false, Some(HOUR), 1_000).0, None);
        let (change, reminded) = failing.after(None, false, Some(HOUR), 3_600_000);
        assert_eq!(change, Some(HealthChange::Reminder));
        assert!(reminded.failing, "a look changes no health");
        assert_eq!(reminded.last_run.as_deref(), Some("a"));
        assert_eq!(reminded.after(None, false, Some(HOUR), 3_600_001).0, None);
        let (_, healthy) = Health::default().after(Some("b"), false, Some(HOUR), 0);
        assert_eq!(healthy.after(None, false, Some(HOUR), i64::MAX / 2).0, None);
        let notice = HealthChange::Reminder.notice("j", None, Some("a"), 7);
        assert_eq!(notice.key, "health:j:reminder:@7");
        assert_eq!((notice.event.as_str(), notice.reminder), ("failing", true));
        assert_eq!(notice.run.as_deref(), Some("a"));
    }

    #[test]
    fn the_same_run_recorded_twice_changes_nothing() {
        let (_, failing) = Health::default().after(Some("a"), true, None, 0);
        let (change, again) = failing.after(Some("a"), false, None, 10);
        assert_eq!((change, again), (None, failing));
    }
}
