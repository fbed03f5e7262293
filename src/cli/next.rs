//! `cronq next`: the coming fire instants of an expression or a job.

use chrono::{DateTime, TimeDelta, Utc};
use chrono_tz::Tz;

use super::args::{NextArgs, SettingsArgs};
use super::{CliError, Loaded, output};
use crate::cron::{CronExpr, Timing};
use crate::schedule::{Schedule, diagnostic::closest, parse_zone};
use crate::settings::{self, Settings};

pub fn run(
    args: &NextArgs,
    settings_args: &SettingsArgs,
    env: &dyn Fn(&str) -> Option<String>,
) -> anyhow::Result<()> {
    let after = match &args.after {
        Some(text) => parse_after(text)?,
        None => Utc::now(),
    };
    let fires = match (&args.expr, &args.job) {
        (Some(expr), _) => expression_fires(expr, args.tz.as_deref(), after, args.count, env)?,
        (None, Some(name)) => match Loaded::read(settings_args, env) {
            Ok(loaded) => job_fires(&loaded.schedule, &loaded.file, name, after, args.count)?,
            Err(error) => match error.downcast::<CliError>() {
                // No file here: the schedule the daemons published names the job.
                Ok(CliError::NoSchedule(missing)) => {
                    let settings = Settings::resolve(settings_args.overrides(), env)?;
                    published_job_fires(&settings, name, after, args.count, missing)?
                }
                Ok(other) => return Err(other.into()),
                Err(other) => return Err(other),
            },
        },
        (None, None) => unreachable!("clap requires EXPR or --job"),
    };
    let lines: Vec<String> = fires.instants.iter().map(output::instant).collect();
    let (ored, notes) = match (&fires.explain, args.explain) {
        (Some((expr, jitter)), true) => (
            expr.days_are_ored(),
            fires
                .instants
                .iter()
                .map(|at| expr.explain(&(*at - *jitter)))
                .collect(),
        ),
        _ => (false, vec![None; lines.len()]),
    };
    if args.json {
        let mut doc = serde_json::json!({ "fires": lines });
        if args.explain {
            doc["notes"] = serde_json::json!(notes);
            doc["days_ored"] = serde_json::json!(ored);
        }
        output::json(&doc);
        return Ok(());
    }
    if ored {
        println!("# {ORED}");
    }
    for (line, note) in lines.iter().zip(&notes) {
        match note {
            Some(note) => println!("{line}  # {note}"),
            None => println!("{line}"),
        }
    }
    Ok(())
}

const ORED: &str = "day-of-month and day-of-week are both restricted, so a day that matches either one fires (Vixie cron); start one of them with `*` to require both";

/// The instants to print, and what explains them: the expression, and the job's jitter
/// to take off before asking it.
struct Fires {
    instants: Vec<DateTime<Tz>>,
    explain: Option<(CronExpr, TimeDelta)>,
}

impl Fires {
    fn of(instants: Vec<DateTime<Tz>>, timing: Option<&Timing>, jitter: TimeDelta) -> Fires {
        let explain = match timing {
            Some(Timing::Cron(expr)) => Some((expr.clone(), jitter)),
            _ => None,
        };
        Fires { instants, explain }
    }
}

/// A job's fires from the schedule in the store, for a host without the file, with the
/// job's jitter offset as the daemons published it.
fn published_job_fires(
    settings: &Settings,
    name: &str,
    after: DateTime<Utc>,
    count: usize,
    missing: String,
) -> anyhow::Result<Fires> {
    let runtime = tokio::runtime::Runtime::new()?;
    let published = runtime.block_on(async {
        let store = settings.store.open(&settings.redis_prefix).await?;
        anyhow::Ok(store.published().await?)
    })?;
    let Some(published) = published else {
        return Err(CliError::NoSchedule(format!(
            "{missing}; no daemon has published one to the store either"
        ))
        .into());
    };
    let Some(job) = published.jobs.iter().find(|job| job.name == name) else {
        let hint = closest(name, published.jobs.iter().map(|j| j.name.as_str()))
            .map(|near| format!("; did you mean `{near}`?"))
            .unwrap_or_default();
        return Err(CliError::Usage(format!(
            "no job `{name}` in the schedule the daemons published{hint}"
        ))
        .into());
    };
    let Some(text) = &job.schedule else {
        eprintln!(
            "job `{name}` has no schedule: it runs only when triggered, with `cronq run {name}`"
        );
        return Ok(Fires::of(Vec::new(), None, TimeDelta::zero()));
    };
    let timing: Timing = text
        .parse()
        .map_err(|e| CliError::Failed(format!("the published schedule of `{name}`: {e}")))?;
    let zone = parse_zone(&job.timezone).map_err(CliError::Failed)?;
    // Shifted by the job's jitter offset, as `Job::next_fire` does.
    let jitter = i64::try_from(job.jitter_ms).map_or(TimeDelta::zero(), TimeDelta::milliseconds);
    let fires = timing
        .fires(after - jitter, zone)
        .take(count)
        .map(|at| at + jitter)
        .collect();
    Ok(Fires::of(fires, Some(&timing), jitter))
}

fn parse_after(text: &str) -> Result<DateTime<Utc>, CliError> {
    DateTime::parse_from_rfc3339(text)
        .map(|at| at.with_timezone(&Utc))
        .map_err(|e| {
            CliError::Usage(format!(
                "--after `{text}` is not an RFC 3339 instant such as 2026-03-08T01:30:00-05:00 ({e})"
            ))
        })
}

fn expression_fires(
    expr: &str,
    tz: Option<&str>,
    after: DateTime<Utc>,
    count: usize,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Fires, CliError> {
    let timing: Timing = expr
        .parse()
        .map_err(|e| CliError::Usage(format!("invalid expression `{expr}`: {e}")))?;
    let zone = match tz {
        Some(name) => parse_zone(name).map_err(|e| CliError::Usage(format!("--tz: {e}")))?,
        None => settings::host_zone(env).map_err(CliError::Usage)?,
    };
    if timing == Timing::Reboot {
        eprintln!("`@reboot` has no instants: it fires once each time the daemon starts");
    }
    let fires: Vec<_> = timing.fires(after, zone).take(count).collect();
    if fires.is_empty() && timing != Timing::Reboot {
        return Err(CliError::Failed(format!(
            "`{expr}` never fires: no date matches all its fields"
        )));
    }
    Ok(Fires::of(fires, Some(&timing), TimeDelta::zero()))
}

fn job_fires(
    schedule: &Schedule,
    file: &str,
    name: &str,
    mut after: DateTime<Utc>,
    count: usize,
) -> Result<Fires, CliError> {
    let Some(job) = schedule.job(name) else {
        let hint = closest(name, schedule.jobs.iter().map(|j| j.name.as_str()))
            .map(|near| format!("; did you mean `{near}`?"))
            .unwrap_or_default();
        return Err(CliError::Usage(format!("no job `{name}` in {file}{hint}")));
    };
    match job.schedule.as_ref().map(|s| &s.timing) {
        None => eprintln!(
            "job `{name}` has no schedule: it runs only when triggered, with `cronq run {name}`"
        ),
        Some(Timing::Reboot) => {
            eprintln!("job `{name}` is `@reboot`: it fires once each time the daemon starts")
        }
        Some(_) => {}
    }
    let mut fires = Vec::with_capacity(count);
    while fires.len() < count {
        let Some(at) = job.next_fire(after) else {
            break;
        };
        after = at.with_timezone(&Utc);
        fires.push(at);
    }
    let jitter = TimeDelta::from_std(job.jitter_offset()).unwrap_or_default();
    Ok(Fires::of(
        fires,
        job.schedule.as_ref().map(|s| &s.timing),
        jitter,
    ))
}
