//! Backfill: one run for each instant of a job's schedule in a past range, as
//! `cronq backfill` queues them. Each instant is claimed as a fire claims it
//! ([`Store::fire`]), so an instant that already has a run, fired, caught up or
//! backfilled before, by this process or a daemon beside it, is left alone.
//!
//! The runs of a job whose `concurrency` keeps runs apart (`forbid`, `queue`,
//! `replace`) wait for each other's lock rather than skip or cancel one another: a
//! backfill means every instant runs once.

use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};

use crate::daemon::fire;
use crate::schedule::Job;
use crate::store::{OnBusy, RunId, RunStatus, Store, StoreError, Trigger};

/// Why a range is refused; each is one sentence for the user.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Refusal(String);

/// What the caller calls the range's ends and its limit, for the refusals.
pub struct Names {
    pub from: &'static str,
    pub to: &'static str,
    pub max: &'static str,
}

impl Names {
    pub const FLAGS: Names = Names {
        from: "--from",
        to: "--to",
        max: "--max",
    };
    pub const FIELDS: Names = Names {
        from: "`from`",
        to: "`to`",
        max: "`max`",
    };
}

/// The instants of `job`'s schedule from `from` to `to`, both included, in order. A
/// range that ends after `now`, starts before what the store still knows (`known_for`
/// back: an instant older than its claims may have run without a trace), or holds more
/// than `max` instants is refused.
pub fn instants(
    job: &Job,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    now: DateTime<Utc>,
    known_for: Duration,
    max: usize,
    names: &Names,
) -> Result<Vec<DateTime<Utc>>, Refusal> {
    let name = &job.name;
    let Names {
        from: from_is,
        to: to_is,
        max: max_is,
    } = names;
    if job.schedule.is_none() {
        return Err(Refusal(format!(
            "job `{name}` has no schedule, so no instants to backfill; `cronq run {name}` runs it once"
        )));
    }
    if to < from {
        return Err(Refusal(format!(
            "{to_is} {} is before {from_is} {}; give the range's first instant in {from_is}",
            to.to_rfc3339(),
            from.to_rfc3339()
        )));
    }
    if to > now {
        return Err(Refusal(format!(
            "{to_is} {} is in the future; the daemon fires what is to come, so give a past instant",
            to.to_rfc3339()
        )));
    }
    let known_since = now - TimeDelta::from_std(known_for).unwrap_or(TimeDelta::MAX);
    if from < known_since {
        return Err(Refusal(format!(
            "{from_is} {} is older than the store keeps track of what fired ({}), so a run there could be doubled; give a later {from_is}",
            from.to_rfc3339(),
            humantime::format_duration(known_for)
        )));
    }
    let mut found = Vec::new();
    // `next_fire` looks strictly after its argument: a nanosecond back takes `from`.
    let mut after = from - TimeDelta::nanoseconds(1);
    while let Some(next) = job.next_fire(after) {
        let next = next.to_utc();
        if next > to {
            break;
        }
        if found.len() == max {
            return Err(Refusal(format!(
                "the range holds more than {max_is} {max} instants of `{name}`; narrow it, or raise {max_is}"
            )));
        }
        found.push(next);
        after = next;
    }
    Ok(found)
}

/// What became of one instant.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Instant {
    /// This backfill queued a run for it.
    Queued(RunId),
    /// It had a run already: the one its claim names, with its status while the store
    /// still keeps it.
    Had(RunId, Option<RunStatus>),
    /// No run yet (`--dry-run`: this is what a backfill would queue).
    Free,
}

/// Queues a run for each of `instants` that has none, in order, recorded `by` the
/// caller; or with `dry_run`, only says which have one.
pub async fn backfill(
    store: &dyn Store,
    job: &Job,
    instants: &[DateTime<Utc>],
    by: &str,
    dry_run: bool,
) -> Result<Vec<(DateTime<Utc>, Instant)>, StoreError> {
    let claims = store.claims(&job.name, instants).await?;
    let mut done = Vec::with_capacity(instants.len());
    for (&at, claim) in instants.iter().zip(claims) {
        let became = match claim {
            Some(id) => had(store, id).await?,
            None if dry_run => Instant::Free,
            None => {
                let mut run = fire::new_run(job, Trigger::Backfill, Some(at));
                if let Some(lock) = &mut run.lock {
                    lock.on_busy = OnBusy::Wait;
                }
                run.by = Some(by.to_string());
                match store.fire(run, at, None).await? {
                    Some(run) => Instant::Queued(run.id),
                    // Claimed since the read above: by a daemon firing it, or another
                    // backfill. Its run is the one the claim names.
                    None => match store.claims(&job.name, &[at]).await?.pop().flatten() {
                        Some(id) => had(store, id).await?,
                        None => Instant::Free,
                    },
                }
            }
        };
        done.push((at, became));
    }
    Ok(done)
}

/// What a backfill did, as `cronq backfill --json` prints it and the API answers:
/// `{"job", "dry_run", "instants": [{"instant", "state", "run", "status"}]}`.
pub fn json(job: &str, dry_run: bool, done: &[(DateTime<Utc>, Instant)]) -> serde_json::Value {
    let instants: Vec<serde_json::Value> = done
        .iter()
        .map(|(at, became)| {
            let (state, run, status) = match became {
                Instant::Queued(id) => ("queued", Some(id), Some("queued".to_string())),
                Instant::Had(id, status) => ("had_run", Some(id), status.map(|s| s.to_string())),
                Instant::Free => ("free", None, None),
            };
            serde_json::json!({
                "instant": at.to_rfc3339(),
                "state": state,
                "run": run,
                "status": status,
            })
        })
        .collect();
    serde_json::json!({ "job": job, "dry_run": dry_run, "instants": instants })
}

async fn had(store: &dyn Store, id: RunId) -> Result<Instant, StoreError> {
    let status = match store.run(&id).await {
        Ok(run) => Some(run.status),
        Err(StoreError::NotFound(_)) => None,
        Err(error) => return Err(error),
    };
    Ok(Instant::Had(id, status))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schedule::load;

    fn job(yaml_job: &str) -> Job {
        let yaml = format!("jobs:\n  j:\n    command: [\"true\"]\n{yaml_job}");
        let schedule = load(&yaml, "crontab.yaml", chrono_tz::UTC).unwrap();
        schedule.jobs.into_iter().next().unwrap()
    }

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text).unwrap().to_utc()
    }

    const DAY: Duration = Duration::from_secs(24 * 3600);

    #[test]
    fn the_range_includes_both_ends_in_the_jobs_zone() {
        let job = job("    schedule: \"0 2 * * *\"\n    timezone: Europe/Berlin\n");
        let now = at("2026-12-04T12:00:00Z");
        let found = instants(
            &job,
            at("2026-12-01T01:00:00Z"),
            at("2026-12-03T01:00:00Z"),
            now,
            30 * DAY,
            100,
            &Names::FLAGS,
        )
        .unwrap();
        assert_eq!(
            found,
            [
                at("2026-12-01T01:00:00Z"),
                at("2026-12-02T01:00:00Z"),
                at("2026-12-03T01:00:00Z")
            ]
        );
    }

    #[test]
    fn a_range_in_the_future_too_old_too_long_or_backwards_is_refused() {
        let job = job("    schedule: \"* * * * *\"\n");
        let now = at("2026-12-04T12:00:00Z");
        let refused = |from: &str, to: &str, max: usize| {
            instants(&job, at(from), at(to), now, DAY, max, &Names::FLAGS)
                .unwrap_err()
                .to_string()
        };
        let future = refused("2026-12-04T11:00:00Z", "2026-12-04T13:00:00Z", 1000);
        assert!(future.contains("is in the future"), "{future}");
        let old = refused("2026-12-01T00:00:00Z", "2026-12-01T01:00:00Z", 1000);
        assert!(old.contains("older than the store keeps track"), "{old}");
        let long = refused("2026-12-04T10:00:00Z", "2026-12-04T11:00:00Z", 60);
        assert!(long.contains("more than --max 60"), "{long}");
        let backwards = refused("2026-12-04T11:00:00Z", "2026-12-04T10:00:00Z", 1000);
        assert!(backwards.contains("is before --from"), "{backwards}");
        // Exactly `max` is taken: 10:00 to 10:59 is 60 instants.
        let full = instants(
            &job,
            at("2026-12-04T10:00:00Z"),
            at("2026-12-04T10:59:00Z"),
            now,
            DAY,
            60,
            &Names::FLAGS,
        );
        assert_eq!(full.unwrap().len(), 60);
    }

    #[test]
    fn a_job_without_a_schedule_has_nothing_to_backfill() {
        let job = job("");
        let now = at("2026-12-04T12:00:00Z");
        let refused = instants(
            &job,
            now - TimeDelta::hours(1),
            now,
            now,
            DAY,
            10,
            &Names::FLAGS,
        )
        .unwrap_err();
        assert!(refused.to_string().contains("has no schedule"), "{refused}");
    }
}
