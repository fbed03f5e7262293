//! `cronq import`: a crontab to schedule YAML on stdout, problems on stderr.

use super::CliError;
use super::args::ImportArgs;
use chrono::{DateTime, TimeDelta, Utc};
use chrono_tz::Tz;

use crate::cron::Timing;
use crate::schedule::import::{CrontabFormat, JobLine, import_crontab};
use crate::settings;

pub fn run(args: &ImportArgs) -> anyhow::Result<()> {
    let path = &args.crontab;
    let text = std::fs::read_to_string(path)
        .map_err(|e| CliError::Usage(format!("cannot read the crontab {}: {e}", path.display())))?;
    let format = if args.system {
        CrontabFormat::System
    } else {
        CrontabFormat::User
    };
    let imported = import_crontab(&text, format);
    print!("{}", imported.yaml);
    let file = path.display();
    for note in &imported.notes {
        eprintln!("{file}:{}: note: {}", note.line, note.message);
    }
    let host_zone =
        settings::host_zone(&|name| std::env::var(name).ok()).map_err(CliError::Usage)?;
    for job in &imported.schedules {
        for surprise in surprises(job, host_zone, Utc::now()) {
            eprintln!("{file}:{}: note: {surprise}", job.line);
        }
    }
    for problem in &imported.problems {
        eprintln!("{file}:{}: {}", problem.line, problem.message);
    }
    if !imported.problems.is_empty() {
        return Err(CliError::Usage(format!(
            "{} line(s) of {file} could not be converted; the YAML above leaves them out",
            imported.problems.len()
        ))
        .into());
    }
    Ok(())
}

/// The fires of a year this crontab line will see.
const LOOK_AHEAD_DAYS: i64 = 366;
/// A job that fires more often than this is judged on this many fires.
const MOST_FIRES: usize = 50_000;

/// What may surprise about a converted line: OR-ed day fields, and the first fire in
/// the coming year that DST moves, merges or repeats.
fn surprises(job: &JobLine, host_zone: Tz, now: DateTime<Utc>) -> Vec<String> {
    let Ok(Timing::Cron(expr)) = job.schedule.parse::<Timing>() else {
        return Vec::new();
    };
    let zone = job
        .zone
        .as_deref()
        .and_then(|z| z.parse().ok())
        .unwrap_or(host_zone);
    let mut found = Vec::new();
    if expr.days_are_ored() {
        found.push(format!(
            "`{}`: day-of-month and day-of-week are both restricted, so a day that matches either one fires",
            job.schedule
        ));
    }
    let until = now + TimeDelta::days(LOOK_AHEAD_DAYS);
    let timing = Timing::Cron(expr.clone());
    let dst = timing
        .fires(now, zone)
        .take(MOST_FIRES)
        .take_while(|at| *at <= until)
        .find_map(|at| expr.explain(&at));
    if let Some(note) = dst {
        found.push(format!("`{}`: {note}", job.schedule));
    }
    found
}
