//! `cronq pause` and `cronq resume`, and the notes other commands print about a paused
//! job. Thin glue over `crate::pause`: read the flags, name who pauses (`cli:USER`),
//! check that the job exists as `run` does, print what was done.

use std::time::Duration;

use chrono::{DateTime, Utc};

use super::args::{PauseArgs, ResumeArgs, SettingsArgs};
use super::{CliError, output, run};
use crate::pause::{self, Pauses, UntilError};
use crate::settings::Settings;
use crate::store::{Pause, PauseScope, Paused, Store};

/// How long `next` waits for the store to say whether a job is paused: it lists the
/// instants without the store too.
const NOTE_PATIENCE: Duration = Duration::from_secs(2);

pub fn pause(
    args: &PauseArgs,
    settings: &SettingsArgs,
    env: &dyn Fn(&str) -> Option<String>,
) -> anyhow::Result<()> {
    let settings = Settings::resolve(settings.overrides(), env)?;
    let now = Utc::now();
    let until = args.until.as_deref().map(parse_until).transpose()?;
    let until = pause::ends_at(until, args.for_, now).map_err(until_error)?;
    let wanted = Pause {
        reason: args.reason.clone().filter(|text| !text.trim().is_empty()),
        by: who(),
        since: now,
        until,
    };
    tokio::runtime::Runtime::new()?.block_on(async {
        let store = settings.store.open(&settings.redis_prefix).await?;
        let scope = match &args.job {
            Some(job) => {
                known_job(&*store, job, &settings, env).await?;
                PauseScope::Job(job.clone())
            }
            None => PauseScope::All,
        };
        let replaced = pause::pause(&*store, &scope, &wanted).await?;
        output::say!("{} is paused ({})", what(&scope), describe(&wanted))?;
        if let Some(before) = replaced {
            output::say!("it replaces the pause before it ({})", describe(&before))?;
        }
        Ok(())
    })
}

pub fn resume(
    args: &ResumeArgs,
    settings: &SettingsArgs,
    env: &dyn Fn(&str) -> Option<String>,
) -> anyhow::Result<()> {
    let settings = Settings::resolve(settings.overrides(), env)?;
    tokio::runtime::Runtime::new()?.block_on(async {
        let store = settings.store.open(&settings.redis_prefix).await?;
        let scope = match &args.job {
            Some(job) => PauseScope::Job(job.clone()),
            None => PauseScope::All,
        };
        let resumed = pause::resume(&*store, &scope).await?;
        match (&scope, &resumed.ended) {
            (PauseScope::Job(job), None) => {
                // A job that is not paused must at least exist; one paused and since
                // removed from the schedule can still be resumed.
                known_job(&*store, job, &settings, env).await?;
                if resumed.still.is_empty() {
                    output::say!("job `{job}` was not paused")?;
                }
            }
            (PauseScope::Job(job), Some(_)) => {
                output::say!("job `{job}` is resumed: it fires again from its next instant")?
            }
            (PauseScope::All, None) => output::say!("every job was not paused")?,
            (PauseScope::All, Some(_)) => output::say!(
                "every job is resumed: each fires again from its next instant"
            )?,
        }
        match scope {
            PauseScope::All => {
                for Paused { scope, pause } in &resumed.still {
                    if let PauseScope::Job(job) = scope {
                        output::say!(
                            "job `{job}` stays paused ({}); `cronq resume {job}` resumes it",
                            describe(pause)
                        )?;
                    }
                }
                Ok(())
            }
            PauseScope::Job(job) => match resumed.still.first() {
                Some(all) => Err(CliError::Failed(format!(
                    "job `{job}` is still paused, as every job is ({}); `cronq resume --all` ends that",
                    describe(&all.pause)
                ))
                .into()),
                None => Ok(()),
            },
        }
    })
}

/// On stderr, when `job` is paused: `run` still runs it, and says so.
pub(super) async fn note_manual_run(store: &dyn Store, job: &str) -> anyhow::Result<()> {
    let pauses = Pauses::read(store).await?;
    if let Some(text) = paused_text(&pauses, job) {
        output::note!("cronq: {text}; running it anyway because it was asked by hand");
    }
    Ok(())
}

/// On stderr, when `job` is paused: `next` still lists its instants. Quietly nothing
/// when the store cannot tell within [`NOTE_PATIENCE`], or there is no store (which
/// `next`, a command that only reads, never creates).
pub(super) fn note_next(settings: &Settings, job: &str) {
    let Ok(runtime) = tokio::runtime::Runtime::new() else {
        return;
    };
    let pauses = runtime.block_on(async {
        let read = async {
            let store = settings.store.open_to_read(&settings.redis_prefix).await;
            Pauses::read(&*store.ok()?).await.ok()
        };
        tokio::time::timeout(NOTE_PATIENCE, read)
            .await
            .ok()
            .flatten()
    });
    runtime.shutdown_timeout(Duration::from_millis(100));
    if let Some(text) = pauses.and_then(|pauses| paused_text(&pauses, job)) {
        output::note!(
            "cronq: {text}; while it is, the daemon passes these instants without running them"
        );
    }
}

/// `job `x` is paused (…)`, or `None` when it is not.
fn paused_text(pauses: &Pauses, job: &str) -> Option<String> {
    let (scope, pause) = pauses.holding(job, Utc::now())?;
    Some(match scope {
        PauseScope::All => format!(
            "job `{job}` is paused, as every job is ({})",
            describe(pause)
        ),
        PauseScope::Job(_) => format!("job `{job}` is paused ({})", describe(pause)),
    })
}

/// `db migration, by cli:ops since 2026-…, until 2026-…`.
pub(super) fn describe(pause: &Pause) -> String {
    let mut text = match &pause.reason {
        Some(reason) => format!("{reason}, by {}", pause.by),
        None => format!("by {}", pause.by),
    };
    text.push_str(&format!(" since {}", output::instant(&pause.since)));
    match pause.until {
        Some(until) => text.push_str(&format!(", until {}", output::instant(&until))),
        None => text.push_str(", until resumed"),
    }
    text
}

fn what(scope: &PauseScope) -> String {
    match scope {
        PauseScope::All => "every job".to_string(),
        PauseScope::Job(job) => format!("job `{job}`"),
    }
}

/// Exit 2 for a job neither the published schedule nor the local file has, in the
/// words `run` uses.
async fn known_job(
    store: &dyn Store,
    job: &str,
    settings: &Settings,
    env: &dyn Fn(&str) -> Option<String>,
) -> anyhow::Result<()> {
    let published = store.published().await?;
    if published
        .as_ref()
        .is_some_and(|schedule| schedule.jobs.iter().any(|j| j.name == job))
    {
        return Ok(());
    }
    let local = run::local_schedule(settings, env)?;
    if local
        .as_ref()
        .is_some_and(|schedule| schedule.job(job).is_some())
    {
        return Ok(());
    }
    Err(run::unknown_job(job, published.as_ref(), local.as_ref(), settings).into())
}

fn parse_until(text: &str) -> Result<DateTime<Utc>, CliError> {
    DateTime::parse_from_rfc3339(text)
        .map(|at| at.to_utc())
        .map_err(|_| {
            CliError::Usage(format!(
                "--until `{text}` is not an instant; expected RFC 3339, such as 2026-12-24T08:00:00Z"
            ))
        })
}

fn until_error(error: UntilError) -> CliError {
    CliError::Usage(match error {
        UntilError::Both => {
            "--until and --for both say when the pause ends; give only one of them".to_string()
        }
        UntilError::Past(at) => format!(
            "--until {} is in the past; give a later instant, or --for DURATION",
            output::instant(&at)
        ),
        UntilError::Duration(span) => format!(
            "--for {} cannot end a pause; give a duration above zero, such as 2h",
            humantime::format_duration(span)
        ),
    })
}

/// `cli:USER`, the effective user's name (its uid when it has none).
fn who() -> String {
    let uid = nix::unistd::geteuid();
    match nix::unistd::User::from_uid(uid) {
        Ok(Some(user)) => format!("cli:{}", user.name),
        _ => format!("cli:{uid}"),
    }
}
