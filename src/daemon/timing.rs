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

/// Where a job's plan resumes at `now` after the wall clock was stepped back behind
/// its last fire, and the pass its instants up to that fire are fired in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Resume {
    /// The plan resumes at the job's first instant strictly after this one.
    pub after: DateTime<Utc>,
    /// For a wildcard job whose last fire is ahead of the clock: that last fire. Each
    /// instant up to it comes round a second time and is fired in this pass, claimed in
    /// the store as (job, instant, pass), so that it fires once more and only once.
    pub pass: Option<DateTime<Utc>>,
}

/// Where a job's plan resumes at `now`, given the last instant fired for it (the
/// store's marker, the same for every daemon). A wall clock stepped back (NTP correcting
/// a clock that ran fast, an operator's `date -s`) brings instants back that were fired
/// already. As in Vixie cron (cron.c: "wildcard jobs run as usual for time changes
/// backward"), a *wildcard* job keeps firing by the wall clock, each returning instant
/// in a second pass; a *fixed-time* job (and `@every`, counted from its last fire) is
/// not re-run: it fires again at its first instant after its last fire. Vixie re-runs
/// fixed-time jobs after a step back of 3 h or more, taking it for a new time; cronq
/// never does, whatever the size of the step.
pub fn resume(job: &Job, last_fired: Option<DateTime<Utc>>, now: DateTime<Utc>) -> Resume {
    match last_fired {
        Some(last) if last > now && fires_by_wall_clock(job) => Resume {
            after: now,
            pass: Some(last),
        },
        Some(last) => Resume {
            after: last.max(now),
            pass: None,
        },
        None => Resume {
            after: now,
            pass: None,
        },
    }
}

/// Where a job's plan resumes at `now`: after the later of `now` and the last instant
/// this daemon fired for it, the rule of a fixed-time job after a step back.
pub fn resume_after(last_fired: Option<DateTime<Utc>>, now: DateTime<Utc>) -> DateTime<Utc> {
    last_fired.map_or(now, |last| last.max(now))
}

/// The pass `instant` is fired in: `pass` while the instant is not past it (it came
/// round again), none once the clock has caught up with the job's last fire.
pub fn pass_of(pass: Option<DateTime<Utc>>, instant: DateTime<Utc>) -> Option<DateTime<Utc>> {
    pass.filter(|last| instant <= *last)
}

/// Debian's wildcard class (a minute or hour field starting with `*`): such a job fires
/// by the wall clock, through DST and through a clock stepped back.
pub fn fires_by_wall_clock(job: &Job) -> bool {
    matches!(
        job.schedule.as_ref().map(|s| &s.timing),
        Some(Timing::Cron(expr)) if expr.is_wildcard()
    )
}

/// What one wake-up does with `instant`, due and taken from the timer at `now`: `None`
/// fires it on time; else it was missed, and the plan covers it and every later instant
/// up to `now` under the job's `catch_up`, so a suspend or a forward clock jump never
/// fires more than `catch_up` allows in one go.
pub fn on_wake(
    job: &Job,
    instant: DateTime<Utc>,
    now: DateTime<Utc>,
    anchor: DateTime<Utc>,
) -> Option<Vec<(DateTime<Utc>, Missed)>> {
    is_missed(job, instant, now).then(|| {
        let from = instant - TimeDelta::milliseconds(1);
        missed(job, from, now, anchor, Gap::Late)
    })
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
    fn a_clock_stepped_back_refires_wildcards_in_a_second_pass_but_not_fixed_times() {
        // The clock ran 10 minutes fast; the daemon fired 12:00, then NTP stepped the
        // clock back to 11:50:30.
        let last = at("2026-01-01T12:00:00Z");
        let now = at("2026-01-01T11:50:30Z");
        for text in ["* * * * *", "*/5 * * * *", "30 * * * * *", "0 */2 * * *"] {
            let s = schedule(&format!("    schedule: \"{text}\"\n"));
            let job = s.job("j").unwrap();
            let from = resume(job, Some(last), now);
            assert_eq!(from.after, now, "{text}: a wildcard goes by the wall clock");
            assert_eq!(from.pass, Some(last), "{text}");
        }
        let wildcard = schedule("    schedule: \"* * * * *\"\n");
        let job = wildcard.job("j").unwrap();
        let from = resume(job, Some(last), now);
        // Every minute from 11:51 to 12:00 comes round again, in the pass of 12:00;
        // 12:01 is a first pass again.
        let mut instants = Vec::new();
        let mut after = from.after;
        while let Some(next) =
            next_instant(job, after, last).filter(|n| *n <= last + TimeDelta::minutes(1))
        {
            instants.push((next, pass_of(from.pass, next)));
            after = next;
        }
        assert_eq!(instants.len(), 11);
        assert_eq!(instants[0], (at("2026-01-01T11:51:00Z"), Some(last)));
        assert_eq!(instants[9], (last, Some(last)));
        assert_eq!(instants[10], (at("2026-01-01T12:01:00Z"), None));

        // 11:55 was fired before the step (on the fast clock): not again today.
        let fixed = schedule("    schedule: \"55 11 * * *\"\n");
        let job = fixed.job("j").unwrap();
        let from = resume(job, Some(last), now);
        assert_eq!(
            from,
            Resume {
                after: last,
                pass: None
            }
        );
        assert_eq!(
            next_instant(job, from.after, last),
            Some(at("2026-01-02T11:55:00Z"))
        );
        // Nor is a fixed-time job re-run after a step of a day (Vixie would, past 3 h).
        let far = resume(job, Some(last), at("2025-12-31T11:00:00Z"));
        assert_eq!(
            far,
            Resume {
                after: last,
                pass: None
            }
        );
        // `@every` counts from its last fire: it waits for the clock too.
        let every = schedule("    schedule: \"@every 30s\"\n");
        assert_eq!(resume(every.job("j").unwrap(), Some(last), now).pass, None);
    }

    #[test]
    fn a_clock_ahead_of_the_last_fire_is_no_second_pass() {
        let wildcard = schedule("    schedule: \"* * * * *\"\n");
        let job = wildcard.job("j").unwrap();
        let (last, now) = (at("2026-01-01T11:00:00Z"), at("2026-01-01T11:30:00Z"));
        assert_eq!(
            resume(job, Some(last), now),
            Resume {
                after: now,
                pass: None
            }
        );
        assert_eq!(
            resume(job, None, now),
            Resume {
                after: now,
                pass: None
            }
        );
        assert_eq!(
            resume(job, Some(now), now),
            Resume {
                after: now,
                pass: None
            }
        );
        assert_eq!(resume_after(Some(now), last), now);
        assert_eq!(pass_of(Some(last), now), None);
        assert_eq!(pass_of(None, last), None);
    }

    #[test]
    fn one_wake_up_fires_no_more_than_catch_up_allows() {
        let start = at("2026-01-01T00:00:00Z");
        // Suspends and forward jumps from a second past on time to ten days.
        let jumps_s = [2, 3, 59, 61, 600, 3_599, 3_601, 86_400, 864_000];
        for catch_up in ["none", "once", "all"] {
            for deadline in ["5s", "10m", "1h"] {
                let s = schedule(&format!(
                    "    schedule: \"* * * * * *\"\n    catch_up: {catch_up}\n    starting_deadline: {deadline}\n"
                ));
                let job = s.job("j").unwrap();
                for jump in jumps_s {
                    let now = start + TimeDelta::seconds(jump) + TimeDelta::milliseconds(300);
                    let plan = on_wake(job, start, now, start).expect("missed");
                    let fired = plan.iter().filter(|(_, w)| *w == Missed::CatchUp).count();
                    // Whole seconds in (now - deadline, now], the wake-up being 300 ms past one.
                    let within = (job.starting_deadline.as_secs() as usize).min(jump as usize + 1);
                    let allowed = match catch_up {
                        "none" => 0,
                        "once" => 1,
                        _ => within.min(MAX_MISSED),
                    };
                    assert_eq!(
                        fired, allowed,
                        "catch_up: {catch_up}, deadline {deadline}, jump {jump} s"
                    );
                    assert!(
                        plan.len() <= 2 * MAX_MISSED,
                        "{jump} s: {} planned",
                        plan.len()
                    );
                    assert!(plan.iter().all(|(i, _)| *i <= now && *i >= start));
                    let mut instants: Vec<_> = plan.iter().map(|(i, _)| *i).collect();
                    instants.dedup();
                    assert_eq!(instants.len(), plan.len(), "an instant planned twice");
                }
                // On time: fired as it is, nothing else.
                assert_eq!(
                    on_wake(job, start, start + TimeDelta::milliseconds(900), start),
                    None
                );
            }
        }
    }
}
