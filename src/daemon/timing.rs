//! When a job fires next, as the daemon sees it: the schedule's instants plus the
//! job's jitter, `@every` anchored to the job's last fire, and the missed instants
//! after downtime with what to do about each. Plain code: `now` is an argument.
//!
//! Downtime is whatever kept the daemon from firing an instant on time: no daemon ran
//! ([`Gap::NoDaemon`]), the store failed ([`Gap::StoreDown`]), or the daemon was not
//! looking (a suspend, a stopped process, a forward clock jump: [`Gap::Late`]). Each is
//! planned by [`missed`], so no kind of downtime turns into a backlog fired back to back.

use std::time::Duration;

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
pub const STORE_DOWN: &str = "missed: the store was unreachable or failed";
pub const STORE_DOWN_PAST_DEADLINE: &str =
    "missed: the store was unreachable or failed, and it is past starting_deadline";
pub const STORE_DOWN_ONCE_RAN_LATEST: &str =
    "missed: the store was unreachable or failed; catch_up: once ran only the latest";
pub const LATE: &str = "missed: the daemon was suspended or the clock jumped";
pub const LATE_PAST_DEADLINE: &str =
    "missed: the daemon was suspended or the clock jumped, and it is past starting_deadline";
pub const LATE_ONCE_RAN_LATEST: &str =
    "missed: the daemon was suspended or the clock jumped; catch_up: once ran only the latest";

/// How late an instant may be fired and still count as on time: a loaded host wakes the
/// daemon late by a fraction of a second, a suspend or a clock jump by more.
pub const ON_TIME: Duration = Duration::from_secs(2);

/// What kept the daemon from firing instants on time; the reasons of the skipped ones.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Gap {
    /// No daemon ran (the daemon's start finds them).
    NoDaemon,
    /// The store was unreachable or refused the fire (a full disk).
    StoreDown,
    /// The daemon was not looking: suspended, stopped, or the clock jumped forward.
    Late,
}

impl Gap {
    /// The reason of an instant `catch_up: none` does not run.
    pub fn not_run(self) -> &'static str {
        match self {
            Gap::NoDaemon => NO_DAEMON,
            Gap::StoreDown => STORE_DOWN,
            Gap::Late => LATE,
        }
    }

    fn past_deadline(self) -> &'static str {
        match self {
            Gap::NoDaemon => PAST_DEADLINE,
            Gap::StoreDown => STORE_DOWN_PAST_DEADLINE,
            Gap::Late => LATE_PAST_DEADLINE,
        }
    }

    fn once_ran_latest(self) -> &'static str {
        match self {
            Gap::NoDaemon => ONCE_RAN_LATEST,
            Gap::StoreDown => STORE_DOWN_ONCE_RAN_LATEST,
            Gap::Late => LATE_ONCE_RAN_LATEST,
        }
    }
}

/// Whether `instant`, due and taken from the timer at `now`, was missed rather than
/// fired on time: later than [`ON_TIME`], or than the job's `starting_deadline` when that
/// is shorter. A missed instant goes through [`missed`] with every later one up to
/// `now`, so one wake-up never fires more than `catch_up` allows.
pub fn is_missed(job: &Job, instant: DateTime<Utc>, now: DateTime<Utc>) -> bool {
    let late = (now - instant).to_std().unwrap_or_default();
    late > ON_TIME.min(job.starting_deadline)
}

/// Where a job's plan resumes at `now`: after the later of `now` and the last instant
/// this daemon fired for it. A wall clock stepped back (NTP correcting a clock that ran
/// fast) brings instants back that were fired already; each was claimed in the store,
/// on every daemon's behalf, and is never fired a second time, whether the job is
/// wildcard or fixed-time: the job fires again at its first instant after the last one.
pub fn resume_after(last_fired: Option<DateTime<Utc>>, now: DateTime<Utc>) -> DateTime<Utc> {
    last_fired.map_or(now, |last| last.max(now))
}

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

/// The plan once the store answers again at `now` for a job whose instants from
/// `first_unfired` on could not be fired: as after a daemon's start, from the store's
/// last fire of the job when that is later (the fire was recorded though its answer was
/// lost, or another daemon reached the store meanwhile), with the outage's reasons.
pub fn after_outage(
    job: &Job,
    first_unfired: DateTime<Utc>,
    store_last: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
    anchor: DateTime<Utc>,
) -> Vec<(DateTime<Utc>, Missed)> {
    let before = first_unfired - TimeDelta::milliseconds(1);
    let from = store_last.map_or(before, |last| last.max(before));
    missed(job, from, now, anchor, Gap::StoreDown)
}

/// The instants after `last` up to `now` that were not fired for `gap`, with what to do
/// about each under the job's `catch_up` and `starting_deadline`, oldest first. At most
/// [`MAX_MISSED`] are returned before the deadline window and within it.
pub fn missed(
    job: &Job,
    last: DateTime<Utc>,
    now: DateTime<Utc>,
    anchor: DateTime<Utc>,
    gap: Gap,
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
                plan.push((next, Missed::Skip(gap.past_deadline())));
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
            CatchUp::None => Missed::Skip(gap.not_run()),
            CatchUp::All => Missed::CatchUp,
            CatchUp::Once if Some(instant) == newest => Missed::CatchUp,
            CatchUp::Once => Missed::Skip(gap.once_ran_latest()),
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
        let plan = missed(job, last, now, last, Gap::NoDaemon);
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
        let plan = missed(all.job("j").unwrap(), last, now, last, Gap::NoDaemon);
        assert_eq!(
            plan,
            [
                (at("2026-01-01T00:05:00Z"), Missed::CatchUp),
                (at("2026-01-01T00:10:00Z"), Missed::CatchUp)
            ]
        );
        let none = schedule("    schedule: \"*/5 * * * *\"\n    catch_up: none\n");
        let plan = missed(none.job("j").unwrap(), last, now, last, Gap::NoDaemon);
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
        let plan = missed(job, last, now, last, Gap::NoDaemon);
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
            Gap::NoDaemon,
        );
        assert!(plan.is_empty());
    }

    fn counts(plan: &[(DateTime<Utc>, Missed)]) -> (usize, Vec<&'static str>) {
        let fired = plan.iter().filter(|(_, w)| *w == Missed::CatchUp).count();
        let reasons = plan
            .iter()
            .filter_map(|(_, w)| match w {
                Missed::Skip(reason) => Some(*reason),
                Missed::CatchUp => None,
            })
            .collect();
        (fired, reasons)
    }

    #[test]
    fn an_outage_follows_catch_up_instead_of_firing_a_backlog() {
        // An every-second job whose store failed from 00:00:01 to 00:00:05.4.
        let (first, now) = (at("2026-01-01T00:00:01Z"), at("2026-01-01T00:00:05.400Z"));
        let last = Some(at("2026-01-01T00:00:00Z"));
        for (catch_up, fired, skipped) in [("none", 0, 5), ("once", 1, 4), ("all", 5, 0)] {
            let s = schedule(&format!(
                "    schedule: \"* * * * * *\"\n    catch_up: {catch_up}\n"
            ));
            let plan = after_outage(s.job("j").unwrap(), first, last, now, first);
            let (got, reasons) = counts(&plan);
            assert_eq!(
                (got, reasons.len()),
                (fired, skipped),
                "catch_up: {catch_up}"
            );
            assert!(
                reasons
                    .iter()
                    .all(|r| r.contains("the store was unreachable")),
                "{reasons:?}"
            );
        }
    }

    #[test]
    fn an_outage_resumes_after_what_the_store_recorded() {
        let s = schedule("    schedule: \"* * * * * *\"\n    catch_up: all\n");
        let job = s.job("j").unwrap();
        let first = at("2026-01-01T00:00:01Z");
        let now = at("2026-01-01T00:00:04Z");
        // The fire of 00:00:01 was recorded though its answer was lost, and another
        // daemon fired 00:00:02: only 00:00:03 and 00:00:04 are left.
        let plan = after_outage(job, first, Some(at("2026-01-01T00:00:02Z")), now, first);
        let instants: Vec<_> = plan.iter().map(|(at, _)| *at).collect();
        assert_eq!(
            instants,
            [at("2026-01-01T00:00:03Z"), at("2026-01-01T00:00:04Z")]
        );
        // A store that knows no fire of the job: from the first unfired instant on.
        let plan = after_outage(job, first, None, now, first);
        assert_eq!(plan.first().map(|(at, _)| *at), Some(first));
        assert_eq!(plan.len(), 4);
    }

    #[test]
    fn a_suspend_or_a_forward_jump_is_missed_past_two_seconds_or_the_deadline() {
        let s = schedule("    schedule: \"* * * * * *\"\n    catch_up: none\n");
        let job = s.job("j").unwrap();
        let instant = at("2026-01-01T00:00:00Z");
        assert!(!is_missed(job, instant, at("2026-01-01T00:00:01.900Z")));
        assert!(is_missed(job, instant, at("2026-01-01T00:00:02.100Z")));
        let short = schedule("    schedule: \"* * * * * *\"\n    starting_deadline: 1s\n");
        assert!(is_missed(
            short.job("j").unwrap(),
            instant,
            at("2026-01-01T00:00:01.500Z")
        ));
        // After a 30 s suspend, catch_up: none fires nothing and records each instant.
        let now = at("2026-01-01T00:00:30.200Z");
        let plan = missed(
            job,
            instant - TimeDelta::milliseconds(1),
            now,
            instant,
            Gap::Late,
        );
        let (fired, reasons) = counts(&plan);
        assert_eq!((fired, reasons.len()), (0, 31));
        assert!(reasons.iter().all(|r| *r == LATE));
    }

    #[test]
    fn a_clock_stepped_back_never_fires_an_instant_twice() {
        // The clock ran 10 minutes fast; the daemon fired 12:00, then NTP stepped the
        // clock back to 11:50:30.
        let last = at("2026-01-01T12:00:00Z");
        let now = at("2026-01-01T11:50:30Z");
        let wildcard = schedule("    schedule: \"* * * * *\"\n");
        let fixed = schedule("    schedule: \"55 11 * * *\"\n");
        let from = resume_after(Some(last), now);
        assert_eq!(from, last);
        let next = next_instant(wildcard.job("j").unwrap(), from, last);
        assert_eq!(next, Some(at("2026-01-01T12:01:00Z")));
        // 11:55 was fired before the step (on the fast clock): not again today.
        let next = next_instant(fixed.job("j").unwrap(), from, last);
        assert_eq!(next, Some(at("2026-01-02T11:55:00Z")));
        // Forward of the last fire, the plan goes by the clock.
        assert_eq!(resume_after(Some(now), last), last);
        assert_eq!(resume_after(None, now), now);
    }
}
