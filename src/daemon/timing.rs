//! When a job fires next, as the daemon sees it: the schedule's instants plus the
//! job's jitter, `@every` anchored to the job's last fire, and the missed instants
//! after downtime with what to do about each. Plain code: `now` is an argument.

use chrono::{DateTime, TimeDelta, Utc};

use crate::cron::Timing;
use crate::schedule::{CatchUp, Job};

/// Missed instants recorded or fired at most, so a long outage never wedges a job
/// (Kubernetes stops a CronJob for good after 100 missed runs).
pub const MAX_MISSED: usize = 100;

/// What to do with an instant the daemon missed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Missed {
    /// Fire it now, as a catch-up run.
    CatchUp,
    /// Record it `skipped`, with this reason.
    Skip(&'static str),
}

pub const NO_DAEMON: &str = "missed: no daemon was running";
pub const PAST_DEADLINE: &str = "missed: no daemon was running, and it is past starting_deadline";
pub const ONCE_RAN_LATEST: &str =
    "missed: no daemon was running; catch_up: once ran only the latest";

/// The job's first instant strictly after `after`, jitter included. `@every` counts
/// whole intervals from `anchor` (the job's last fire, else the daemon's start), so a
/// restart neither fires it at once nor drifts; `@reboot` and manual jobs have none.
pub fn next_instant(
    job: &Job,
    after: DateTime<Utc>,
    anchor: DateTime<Utc>,
) -> Option<DateTime<Utc>> {
    match &job.schedule.as_ref()?.timing {
        Timing::Cron(_) => job.next_fire(after).map(|at| at.with_timezone(&Utc)),
        Timing::Every(interval) => {
            let step = TimeDelta::from_std(*interval)
                .ok()?
                .num_milliseconds()
                .max(1);
            let elapsed = (after - anchor).num_milliseconds();
            let steps = if elapsed < 0 { 0 } else { elapsed / step + 1 };
            Some(anchor + TimeDelta::milliseconds(steps * step))
        }
        Timing::Reboot => None,
    }
}

/// The instants after `last` up to `now` that no daemon fired, with what to do about
/// each under the job's `catch_up` and `starting_deadline`, oldest first. At most
/// [`MAX_MISSED`] are returned before the deadline window and within it.
pub fn missed(
    job: &Job,
    last: DateTime<Utc>,
    now: DateTime<Utc>,
    anchor: DateTime<Utc>,
) -> Vec<(DateTime<Utc>, Missed)> {
    let deadline = TimeDelta::from_std(job.starting_deadline).unwrap_or(TimeDelta::MAX);
    let window_start = now
        .checked_sub_signed(deadline)
        .unwrap_or(DateTime::<Utc>::MIN_UTC);
    let mut plan = Vec::new();

    // Too old to start: recorded, the oldest first, up to the cap.
    let mut at = last;
    while plan.len() < MAX_MISSED {
        match next_instant(job, at, anchor) {
            Some(next) if next < window_start && next <= now => {
                plan.push((next, Missed::Skip(PAST_DEADLINE)));
                at = next;
            }
            _ => break,
        }
    }

    // Within the deadline: the newest ones, up to the cap.
    let mut recent = std::collections::VecDeque::new();
    let mut at = last.max(window_start - TimeDelta::milliseconds(1));
    while let Some(next) = next_instant(job, at, anchor).filter(|next| *next <= now) {
        if recent.len() == MAX_MISSED {
            recent.pop_front();
        }
        recent.push_back(next);
        at = next;
    }
    let newest = recent.back().copied();
    for instant in recent {
        let what = match job.catch_up {
            CatchUp::None => Missed::Skip(NO_DAEMON),
            CatchUp::All => Missed::CatchUp,
            CatchUp::Once if Some(instant) == newest => Missed::CatchUp,
            CatchUp::Once => Missed::Skip(ONCE_RAN_LATEST),
        };
        plan.push((instant, what));
    }
    plan
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schedule::{Schedule, load};

    fn schedule(job: &str) -> Schedule {
        let text = format!("jobs:\n  j:\n    command: x\n    timezone: UTC\n{job}");
        load(&text, "t.yaml", chrono_tz::Tz::UTC).unwrap()
    }

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text)
            .unwrap()
            .with_timezone(&Utc)
    }

    #[test]
    fn every_counts_whole_intervals_from_its_anchor() {
        let s = schedule("    schedule: \"@every 90s\"\n");
        let job = s.job("j").unwrap();
        let anchor = at("2026-01-01T00:00:00Z");
        assert_eq!(
            next_instant(job, anchor, anchor),
            Some(at("2026-01-01T00:01:30Z"))
        );
        // A restart at 00:04:00 neither fires at once nor drifts: 00:04:30.
        assert_eq!(
            next_instant(job, at("2026-01-01T00:04:00Z"), anchor),
            Some(at("2026-01-01T00:04:30Z"))
        );
        assert_eq!(
            next_instant(job, at("2026-01-01T00:04:30Z"), anchor),
            Some(at("2026-01-01T00:06:00Z"))
        );
    }

    #[test]
    fn reboot_and_manual_jobs_have_no_instants() {
        let now = at("2026-01-01T00:00:00Z");
        let reboot = schedule("    schedule: \"@reboot\"\n");
        assert_eq!(next_instant(reboot.job("j").unwrap(), now, now), None);
        let manual = schedule("");
        assert_eq!(next_instant(manual.job("j").unwrap(), now, now), None);
    }

    #[test]
    fn catch_up_once_fires_the_latest_and_records_the_rest() {
        let s = schedule(
            "    schedule: \"*/5 * * * *\"\n    catch_up: once\n    starting_deadline: 12m\n",
        );
        let job = s.job("j").unwrap();
        let (last, now) = (at("2026-01-01T00:00:00Z"), at("2026-01-01T00:21:00Z"));
        let plan = missed(job, last, now, last);
        assert_eq!(
            plan,
            [
                (at("2026-01-01T00:05:00Z"), Missed::Skip(PAST_DEADLINE)),
                (at("2026-01-01T00:10:00Z"), Missed::Skip(ONCE_RAN_LATEST)),
                (at("2026-01-01T00:15:00Z"), Missed::Skip(ONCE_RAN_LATEST)),
                (at("2026-01-01T00:20:00Z"), Missed::CatchUp),
            ]
        );
    }

    #[test]
    fn catch_up_all_and_none() {
        let all = schedule("    schedule: \"*/5 * * * *\"\n    catch_up: all\n");
        let (last, now) = (at("2026-01-01T00:00:00Z"), at("2026-01-01T00:11:00Z"));
        let plan = missed(all.job("j").unwrap(), last, now, last);
        assert_eq!(
            plan,
            [
                (at("2026-01-01T00:05:00Z"), Missed::CatchUp),
                (at("2026-01-01T00:10:00Z"), Missed::CatchUp)
            ]
        );
        let none = schedule("    schedule: \"*/5 * * * *\"\n    catch_up: none\n");
        let plan = missed(none.job("j").unwrap(), last, now, last);
        assert!(
            plan.iter()
                .all(|(_, what)| *what == Missed::Skip(NO_DAEMON)),
            "{plan:?}"
        );
        assert_eq!(plan.len(), 2);
    }

    #[test]
    fn a_long_outage_is_capped_and_never_wedges() {
        let s = schedule(
            "    schedule: \"* * * * * *\"\n    catch_up: all\n    starting_deadline: 1h\n",
        );
        let job = s.job("j").unwrap();
        let (last, now) = (at("2026-01-01T00:00:00Z"), at("2026-01-31T00:00:00Z"));
        let plan = missed(job, last, now, last);
        let fired: Vec<_> = plan
            .iter()
            .filter(|(_, what)| *what == Missed::CatchUp)
            .collect();
        assert_eq!(fired.len(), MAX_MISSED);
        assert_eq!(
            fired.last().unwrap().0,
            now,
            "the newest instants are the ones caught up"
        );
        assert_eq!(plan.len(), 2 * MAX_MISSED);
    }

    #[test]
    fn nothing_missed_when_the_last_fire_is_recent() {
        let s = schedule("    schedule: \"0 * * * *\"\n");
        let plan = missed(
            s.job("j").unwrap(),
            at("2026-01-01T01:00:00Z"),
            at("2026-01-01T01:30:00Z"),
            at("2026-01-01T00:00:00Z"),
        );
        assert!(plan.is_empty());
    }
}
