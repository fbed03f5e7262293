//! Paused jobs as the daemon sees them: a copy of the pauses in force, looked at anew
//! when the store's pause version changes, and the passing of a paused job's instants.
//!
//! The daemon looks at the version (a few bytes) on a wake-up it makes anyway, at most
//! once per [`LOOK_EVERY`]: it wakes at least once a second ([`super::MAX_NAP`]), so a
//! pause or a resume made by any process is seen within about a second, at the cost of
//! one small read a second, and no wake-up of its own.
//!
//! A paused job's instant is passed, not fired: the job's last-fired marker moves, so
//! that neither catch-up nor the watchdog takes it for missed, and it is recorded
//! `skipped` with `paused: TEXT (by NAME)`, up to [`RECORDED_PER_PAUSE`] of them per
//! pause (counted in the store, across daemons and restarts); the rest pass without a
//! record, so that an every-second job paused for a week writes 100 records, not
//! 604,800.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};

use super::WARN_EVERY;
use super::fire::new_run;
use super::timing::MAX_MISSED;
use crate::observed::{SkipReason, observed};
use crate::pause::{Pauses, skip_reason};
use crate::schedule::Job;
use crate::store::{Pause, PauseScope, Store, StoreError, Trigger};

/// The instants of one pause recorded `skipped` at most: as many as the daemon records
/// of the instants it missed (`timing::MAX_MISSED`).
pub const RECORDED_PER_PAUSE: u32 = MAX_MISSED as u32;

/// The least time between two looks at the pause version.
pub const LOOK_EVERY: Duration = Duration::from_millis(900);

/// The pauses in force, as of the last look.
pub struct PauseWatch {
    pauses: Pauses,
    /// The store's pause version when `pauses` were read.
    version: Option<String>,
    looked: tokio::time::Instant,
    warned: Option<std::time::Instant>,
}

impl PauseWatch {
    /// Reads the pauses at the daemon's start.
    pub async fn start(store: &dyn Store) -> Result<PauseWatch, StoreError> {
        // The version first: a change made between the two reads shows at the next look.
        let version = store.pause_version().await?;
        let pauses = Pauses::read(store).await?;
        if !pauses.is_empty() {
            log_pauses(&pauses);
        }
        Ok(PauseWatch {
            pauses,
            version,
            looked: tokio::time::Instant::now(),
            warned: None,
        })
    }

    /// Looks at the pause version if [`LOOK_EVERY`] has passed since the last look (at
    /// once with `now_anyway`), and reads the pauses again when it changed. A store that
    /// fails leaves the last pauses read in force, with a warning once a minute.
    pub async fn look(&mut self, store: &dyn Store, now_anyway: bool) {
        if !now_anyway && self.looked.elapsed() < LOOK_EVERY {
            return;
        }
        self.looked = tokio::time::Instant::now();
        let read = async {
            let version = store.pause_version().await?;
            if version == self.version {
                return Ok(None);
            }
            Ok::<_, StoreError>(Some((version, Pauses::read(store).await?)))
        };
        match read.await {
            Ok(None) => {}
            Ok(Some((version, pauses))) => {
                log_pauses(&pauses);
                self.pauses = pauses;
                self.version = version;
            }
            Err(error) if self.warned.is_none_or(|at| at.elapsed() >= WARN_EVERY) => {
                self.warned = Some(std::time::Instant::now());
                tracing::warn!(%error, "cannot read the pauses; the ones last read stay in force");
            }
            Err(_) => {}
        }
    }

    /// The pause that holds `job` back at `at`, if any.
    pub fn holding(&self, job: &str, at: DateTime<Utc>) -> Option<(PauseScope, Pause)> {
        self.pauses
            .holding(job, at)
            .map(|(scope, pause)| (scope, pause.clone()))
    }
}

fn log_pauses(pauses: &Pauses) {
    let names = pauses.names();
    let paused = if names.is_empty() {
        "none".to_string()
    } else {
        names.join(", ")
    };
    tracing::info!(%paused, "pauses read");
}

/// Passes `job`'s `instant` under the pause of `scope` instead of firing it
/// ([`Store::pass_paused`]). Logs the instants it records; the rest, past the bound,
/// only at debug level, so that a paused every-second job does not fill the log.
pub async fn pass(
    store: &Arc<dyn Store>,
    job: &Job,
    instant: DateTime<Utc>,
    scope: &PauseScope,
    pause: &Pause,
) -> Result<(), StoreError> {
    let run = new_run(job, Trigger::Schedule, Some(instant));
    let reason = skip_reason(pause);
    match store
        .pass_paused(run, instant, scope, reason.clone(), RECORDED_PER_PAUSE)
        .await?
    {
        Some(run) => {
            observed().skipped(&run, SkipReason::paused);
            crate::notify::skipped(store, job, &run, Some(pause.since));
            tracing::info!(
                job = %job.name, run = %run.id, instant = %instant.to_rfc3339(), reason, "skipped"
            );
        }
        None => tracing::debug!(
            job = %job.name, instant = %instant.to_rfc3339(), reason, "passed while paused"
        ),
    }
    Ok(())
}
