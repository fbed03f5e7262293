//! When the watchdog's events are due: a stall, an overdue run, a skip worth telling.
//! Plain code without I/O; each rule takes `now`. The key each returns names the
//! change, so every daemon that sees it records the same notice and one is sent.

use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};

use crate::report::instant;
use crate::schedule::Job;

/// A stall's grace is the job's interval, no shorter than this...
const MIN_STALL_GRACE: TimeDelta = TimeDelta::seconds(5);
/// ...and no longer than this (`status`'s default grace).
const MAX_STALL_GRACE: TimeDelta = TimeDelta::seconds(60);
/// A run is overdue past this many times its job's median duration...
const OVERDUE_TIMES_MEDIAN: f64 = 2.0;
/// ...or at this share of its `timeout`.
const OVERDUE_SHARE_OF_TIMEOUT: f64 = 0.9;
/// Of the skips of one job for overlap, one message per this long.
pub const SKIPPED_EVERY: TimeDelta = TimeDelta::hours(1);

/// A notice's key and detail.
pub type Due = (String, String);

/// `job` is stalled when the instant it expected after `last_fire` passed more than its
/// grace ago: the interval to the instant after, from 5 s to 60 s. Keyed by that
/// instant, so one stall is told once however long it lasts.
pub fn stalled(job: &Job, last_fire: DateTime<Utc>, now: DateTime<Utc>) -> Option<Due> {
    let expected = job.next_fire(last_fire)?.with_timezone(&Utc);
    let after = job.next_fire(expected).map(|at| at.with_timezone(&Utc));
    let interval = after.map_or(MAX_STALL_GRACE, |after| after - expected);
    let grace = interval.clamp(MIN_STALL_GRACE, MAX_STALL_GRACE);
    (expected + grace < now).then(|| {
        (
            format!("stalled:{}:{}", job.name, expected.timestamp_millis()),
            format!("expected a fire at {}, and none came", instant(&expected)),
        )
    })
}

/// Run `run_id` is overdue once it has run `elapsed` past twice `median_s` (its job's
/// median success) or 90 % of `timeout`. Keyed by the run: once per run.
pub fn overdue(
    run_id: &str,
    elapsed: Duration,
    median_s: Option<f64>,
    timeout: Option<Duration>,
) -> Option<Due> {
    let elapsed_s = elapsed.as_secs_f64();
    let detail = match (median_s, timeout) {
        (_, Some(timeout)) if elapsed_s >= OVERDUE_SHARE_OF_TIMEOUT * timeout.as_secs_f64() => {
            format!(
                "running for {}, near its timeout of {}",
                seconds(elapsed_s),
                seconds(timeout.as_secs_f64())
            )
        }
        (Some(median), _) if median > 0.0 && elapsed_s > OVERDUE_TIMES_MEDIAN * median => format!(
            "running for {}, over twice its median of {}",
            seconds(elapsed_s),
            seconds(median)
        ),
        _ => return None,
    };
    Some((format!("overdue:{run_id}"), detail))
}

/// The key of a skip of `job`: one per pause (`pause_since`, when a pause skipped it),
/// else one per hour of skips for overlap, counted from the epoch.
pub fn skipped_key(
    job: &str,
    instant: DateTime<Utc>,
    pause_since: Option<DateTime<Utc>>,
) -> String {
    match pause_since {
        Some(since) => format!("skipped:{job}:pause:{}", since.timestamp_millis()),
        None => {
            let every = SKIPPED_EVERY.num_milliseconds();
            format!(
                "skipped:{job}:busy:{}",
                instant.timestamp_millis().div_euclid(every)
            )
        }
    }
}

fn seconds(s: f64) -> String {
    let rounded = Duration::from_secs(s.round().max(0.0) as u64);
    humantime::format_duration(rounded).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(schedule: &str) -> Job {
        let text = format!("jobs:\n  tick:\n    schedule: \"{schedule}\"\n    command: x\n");
        let schedule = crate::schedule::load(&text, "t.yaml", chrono_tz::Tz::UTC).unwrap();
        schedule.jobs[0].clone()
    }

    fn at(text: &str) -> DateTime<Utc> {
        text.parse().unwrap()
    }

    #[test]
    fn a_stall_waits_one_interval_within_bounds_and_is_keyed_by_its_instant() {
        let minutely = job("* * * * *");
        let last = at("2026-12-06T10:00:00Z");
        assert_eq!(stalled(&minutely, last, at("2026-12-06T10:01:59Z")), None);
        let (key, detail) = stalled(&minutely, last, at("2026-12-06T10:02:01Z")).unwrap();
        assert_eq!(
            key,
            format!(
                "stalled:tick:{}",
                at("2026-12-06T10:01:00Z").timestamp_millis()
            )
        );
        assert!(
            detail.contains("expected a fire at 2026-12-06T10:01:00"),
            "{detail}"
        );
        let (later, _) = stalled(&minutely, last, at("2026-12-06T11:00:00Z")).unwrap();
        assert_eq!(later, key, "the same stall, however long it lasts");
        // A daily job waits a minute at most; an every-second job five seconds.
        let daily = job("0 3 * * *");
        assert!(
            stalled(
                &daily,
                at("2026-12-06T03:00:00Z"),
                at("2026-12-07T03:01:01Z")
            )
            .is_some()
        );
        let secondly = job("@every 1s");
        assert_eq!(stalled(&secondly, last, last + TimeDelta::seconds(5)), None);
        assert!(stalled(&secondly, last, last + TimeDelta::seconds(7)).is_some());
    }

    #[test]
    fn overdue_is_twice_the_median_or_near_the_timeout() {
        let s = Duration::from_secs;
        assert_eq!(overdue("r", s(19), Some(10.0), None), None);
        let (key, detail) = overdue("r", s(21), Some(10.0), None).unwrap();
        assert_eq!(key, "overdue:r");
        assert_eq!(detail, "running for 21s, over twice its median of 10s");
        assert_eq!(overdue("r", s(8), None, Some(s(10))), None);
        let (_, detail) = overdue("r", s(9), None, Some(s(10))).unwrap();
        assert_eq!(detail, "running for 9s, near its timeout of 10s");
        assert_eq!(
            overdue("r", s(3600), None, None),
            None,
            "no history, no timeout"
        );
    }

    #[test]
    fn skips_are_keyed_per_pause_or_per_hour() {
        let a = skipped_key("j", at("2026-12-06T10:01:00Z"), None);
        assert_eq!(a, skipped_key("j", at("2026-12-06T10:59:00Z"), None));
        assert_ne!(a, skipped_key("j", at("2026-12-06T11:00:00Z"), None));
        let since = Some(at("2026-12-01T00:00:00Z"));
        assert_eq!(
            skipped_key("j", at("2026-12-06T10:01:00Z"), since),
            skipped_key("j", at("2026-12-09T10:01:00Z"), since),
        );
    }
}
