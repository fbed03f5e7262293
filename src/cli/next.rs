//! `cronq next`: the coming fire instants of an expression or a job.

use chrono::{DateTime, Utc};
use chrono_tz::Tz;

use super::args::NextArgs;
use super::{CliError, Loaded, output};
use crate::cron::Timing;
use crate::schedule::{Schedule, diagnostic::closest, parse_zone};
use crate::settings;

pub fn run(
    args: &NextArgs,
    load: impl FnOnce() -> anyhow::Result<Loaded>,
    env: &dyn Fn(&str) -> Option<String>,
) -> anyhow::Result<()> {
    let after = match &args.after {
        Some(text) => parse_after(text)?,
        None => Utc::now(),
    };
    let fires = match (&args.expr, &args.job) {
        (Some(expr), _) => expression_fires(expr, args.tz.as_deref(), after, args.count, env)?,
        (None, Some(name)) => {
            let loaded = load()?;
            job_fires(&loaded.schedule, &loaded.file, name, after, args.count)?
        }
        (None, None) => unreachable!("clap requires EXPR or --job"),
    };
    let lines: Vec<String> = fires.iter().map(output::instant).collect();
    if args.json {
        output::json(&serde_json::json!({ "fires": lines }));
    } else {
        for line in lines {
            println!("{line}");
        }
    }
    Ok(())
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
) -> Result<Vec<DateTime<Tz>>, CliError> {
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
    Ok(fires)
}

fn job_fires(
    schedule: &Schedule,
    file: &str,
    name: &str,
    mut after: DateTime<Utc>,
    count: usize,
) -> Result<Vec<DateTime<Tz>>, CliError> {
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
    Ok(fires)
}
