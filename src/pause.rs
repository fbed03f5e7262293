//! Pausing and resuming jobs: what `cronq pause` and `cronq resume` do (and what an HTTP
//! API calls), and the view of the pauses in force that the daemon, `status`, `next`
//! and `run` go by.
//!
//! A pause lives in the store, so a deploy or a reload of the schedule does not undo
//! it, and every daemon on the store honours it. A paused job fires nothing: the daemon
//! passes its instants (`daemon/paused.rs`), recording them `skipped` with
//! [`skip_reason`]. Runs already queued or running, and their retries, go on; a manual
//! run still runs. Nothing here prints or knows the command line: errors are typed,
//! and the caller words them.

use std::collections::HashMap;
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};

use crate::store::{Pause, PauseScope, Paused, Store, StoreError};

/// Why a pause's end was refused.
#[derive(Debug, PartialEq, Eq)]
pub enum UntilError {
    /// Both an instant and a duration were given.
    Both,
    /// The instant has passed already.
    Past(DateTime<Utc>),
    /// A duration of zero, or too long to add to now.
    Duration(Duration),
}

/// When a pause asked for at `now` ends: at `until`, after `for_`, or never (`None`,
/// until resumed). At most one of them; the end must be after `now`.
pub fn ends_at(
    until: Option<DateTime<Utc>>,
    for_: Option<Duration>,
    now: DateTime<Utc>,
) -> Result<Option<DateTime<Utc>>, UntilError> {
    match (until, for_) {
        (Some(_), Some(_)) => Err(UntilError::Both),
        (Some(at), None) if at <= now => Err(UntilError::Past(at)),
        (Some(at), None) => Ok(Some(at)),
        (None, Some(span)) => TimeDelta::from_std(span)
            .ok()
            .filter(|span| *span > TimeDelta::zero())
            .and_then(|span| now.checked_add_signed(span))
            .map(Some)
            .ok_or(UntilError::Duration(span)),
        (None, None) => Ok(None),
    }
}

/// The reason a paused instant is recorded `skipped` with: `paused: TEXT (by NAME)`, or
/// `paused (by NAME)` for a pause given no reason.
pub fn skip_reason(pause: &Pause) -> String {
    match &pause.reason {
        Some(text) => format!("paused: {text} (by {})", pause.by),
        None => format!("paused (by {})", pause.by),
    }
}

/// The pauses in force, as one snapshot: the pause of every job, and each job's own.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Pauses {
    all: Option<Pause>,
    jobs: HashMap<String, Pause>,
}

impl Pauses {
    pub fn new(pauses: Vec<Paused>) -> Pauses {
        let mut view = Pauses::default();
        for Paused { scope, pause } in pauses {
            match scope {
                PauseScope::All => view.all = Some(pause),
                PauseScope::Job(job) => {
                    view.jobs.insert(job, pause);
                }
            }
        }
        view
    }

    /// Reads the pauses in force from the store.
    pub async fn read(store: &dyn Store) -> Result<Pauses, StoreError> {
        Ok(Pauses::new(store.pauses().await?))
    }

    /// The pause that holds `job` back at `at`, if one does: the job's own, else the
    /// pause of every job. A pause whose `until` has come holds nothing.
    pub fn holding(&self, job: &str, at: DateTime<Utc>) -> Option<(PauseScope, &Pause)> {
        if let Some(pause) = self.jobs.get(job).filter(|p| p.in_force(at)) {
            return Some((PauseScope::Job(job.to_string()), pause));
        }
        let all = self.all.as_ref().filter(|p| p.in_force(at))?;
        Some((PauseScope::All, all))
    }

    /// The pause of every job, if it holds at `at`.
    pub fn all(&self, at: DateTime<Utc>) -> Option<&Pause> {
        self.all.as_ref().filter(|p| p.in_force(at))
    }

    /// What is paused, for a log line: `every job` first, then the jobs by name.
    pub fn names(&self) -> Vec<String> {
        let mut jobs: Vec<String> = self.jobs.keys().cloned().collect();
        jobs.sort();
        if self.all.is_some() {
            jobs.insert(0, "every job".to_string());
        }
        jobs
    }

    pub fn is_empty(&self) -> bool {
        self.all.is_none() && self.jobs.is_empty()
    }
}

/// Pauses `scope` with `pause`; the pause it replaced, if one was in force.
pub async fn pause(
    store: &dyn Store,
    scope: &PauseScope,
    pause: &Pause,
) -> Result<Option<Pause>, StoreError> {
    let before = store
        .pauses()
        .await?
        .into_iter()
        .find(|paused| paused.scope == *scope)
        .map(|paused| paused.pause);
    store.pause(scope, pause).await?;
    Ok(before)
}

/// What a resume did.
#[derive(Debug, PartialEq, Eq)]
pub struct Resumed {
    /// The pause it ended; `None` when there was none in force.
    pub ended: Option<Pause>,
    /// What still holds back: for one job, the pause of every job; for every job, the
    /// jobs paused on their own, which `resume --all` leaves paused.
    pub still: Vec<Paused>,
}

/// Ends the pause of `scope`, and says what pauses still hold back what it covered.
pub async fn resume(store: &dyn Store, scope: &PauseScope) -> Result<Resumed, StoreError> {
    let ended = store.resume(scope).await?;
    let rest = store.pauses().await?;
    let still = match scope {
        PauseScope::All => rest,
        PauseScope::Job(_) => rest
            .into_iter()
            .filter(|paused| paused.scope == PauseScope::All)
            .collect(),
    };
    Ok(Resumed { ended, still })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text).unwrap().to_utc()
    }

    fn pause(reason: Option<&str>, until: Option<&str>) -> Pause {
        Pause {
            reason: reason.map(str::to_string),
            by: "cli:ops".into(),
            since: at("2026-01-01T00:00:00Z"),
            until: until.map(at),
        }
    }

    #[test]
    fn a_pause_ends_at_one_instant_after_now_or_never() {
        let now = at("2026-01-01T00:00:00Z");
        let hour = Duration::from_secs(3600);
        assert_eq!(ends_at(None, None, now), Ok(None));
        assert_eq!(
            ends_at(None, Some(hour), now),
            Ok(Some(at("2026-01-01T01:00:00Z")))
        );
        let later = at("2026-12-24T08:00:00Z");
        assert_eq!(ends_at(Some(later), None, now), Ok(Some(later)));
        assert_eq!(ends_at(Some(later), Some(hour), now), Err(UntilError::Both));
        assert_eq!(ends_at(Some(now), None, now), Err(UntilError::Past(now)));
        assert_eq!(
            ends_at(None, Some(Duration::ZERO), now),
            Err(UntilError::Duration(Duration::ZERO))
        );
        let forever = Duration::from_secs(u64::MAX);
        assert_eq!(
            ends_at(None, Some(forever), now),
            Err(UntilError::Duration(forever))
        );
    }

    #[test]
    fn the_skip_reason_names_the_text_and_who_paused() {
        assert_eq!(
            skip_reason(&pause(Some("db migration"), None)),
            "paused: db migration (by cli:ops)"
        );
        assert_eq!(skip_reason(&pause(None, None)), "paused (by cli:ops)");
    }

    #[test]
    fn a_jobs_own_pause_comes_first_and_an_ended_one_holds_nothing() {
        let now = at("2026-06-01T00:00:00Z");
        let own = pause(Some("own"), Some("2026-07-01T00:00:00Z"));
        let all = pause(Some("maintenance"), None);
        let ended = pause(Some("ended"), Some("2026-05-01T00:00:00Z"));
        let view = Pauses::new(vec![
            Paused {
                scope: PauseScope::All,
                pause: all.clone(),
            },
            Paused {
                scope: PauseScope::Job("a".into()),
                pause: own.clone(),
            },
            Paused {
                scope: PauseScope::Job("b".into()),
                pause: ended,
            },
        ]);
        assert_eq!(
            view.holding("a", now),
            Some((PauseScope::Job("a".into()), &own))
        );
        assert_eq!(view.holding("b", now), Some((PauseScope::All, &all)));
        assert_eq!(view.holding("c", now), Some((PauseScope::All, &all)));
        // Once the job's own pause ends, the pause of every job still holds it.
        let july = at("2026-07-01T00:00:00Z");
        assert_eq!(view.holding("a", july), Some((PauseScope::All, &all)));
        let only_own = Pauses::new(vec![Paused {
            scope: PauseScope::Job("a".into()),
            pause: own,
        }]);
        assert_eq!(only_own.holding("a", july), None, "its until has come");
        assert_eq!(only_own.holding("c", now), None);
    }
}
