//! `cronq check`: validate the schedule; list each job with its next fire.

use chrono::Utc;
use serde_json::json;

use super::args::CheckArgs;
use super::{Loaded, output};
use crate::cron::{Timing, lone_steps};
use crate::schedule::{Diagnostic, Job, Schedule, diagnostic::Report};
use crate::settings::Settings;

pub fn run(args: &CheckArgs, loaded: &Loaded) -> anyhow::Result<()> {
    let Loaded {
        settings,
        schedule,
        file,
        ..
    } = loaded;
    let mut warnings = unserved_queues(settings, schedule, file);
    warnings.extend(lone_step_warnings(schedule, file));
    let path = std::env::var("PATH").unwrap_or_default();
    warnings.extend(super::check_host::warnings(schedule, file, &path));
    warnings.sort_by_key(|d| (d.line, d.column));
    let now = Utc::now();
    let next = |job: &Job| match job.schedule.as_ref().map(|s| &s.timing) {
        None => None,
        Some(Timing::Reboot) => None,
        Some(_) => job.next_fire(now).map(|at| output::instant(&at)),
    };
    if args.json {
        let jobs: Vec<_> = schedule
            .jobs
            .iter()
            .map(|job| {
                json!({
                    "name": job.name,
                    "schedule": job.schedule.as_ref().map(|s| &s.text),
                    "timezone": job.timezone.name(),
                    "queue": job.queue,
                    "next": next(job),
                })
            })
            .collect();
        output::json(&json!({ "file": file, "jobs": jobs, "warnings": warnings }))?;
        return Ok(());
    }
    for warning in &warnings {
        output::note!("{warning}");
    }
    let rows: Vec<Vec<String>> = schedule
        .jobs
        .iter()
        .map(|job| {
            let (schedule, next) = match job.schedule.as_ref() {
                None => ("-".to_string(), "by hand only".to_string()),
                Some(s) => (s.text.clone(), next(job).unwrap_or_else(|| when(&s.timing))),
            };
            vec![
                job.name.clone(),
                schedule,
                job.timezone.name().to_string(),
                job.queue.clone(),
                next,
            ]
        })
        .collect();
    output::table(&["JOB", "SCHEDULE", "ZONE", "QUEUE", "NEXT"], &rows)?;
    output::note!("{file}: {} jobs, no errors", schedule.jobs.len());
    Ok(())
}

/// The NEXT column for a schedule without instants of its own.
fn when(timing: &Timing) -> String {
    match timing {
        Timing::Reboot => "at daemon start".into(),
        Timing::Every(interval) => format!("every {}", humantime::format_duration(*interval)),
        Timing::Cron(_) => "never".into(),
    }
}

/// A job on a queue that no worker of the settings serves would wait forever.
fn unserved_queues(settings: &Settings, schedule: &Schedule, file: &str) -> Vec<Diagnostic> {
    let Some(workers) = &settings.workers else {
        return Vec::new();
    };
    let served: Vec<&str> = workers.iter().map(|w| w.queue.as_str()).collect();
    let mut report = Report::new(file);
    for job in schedule
        .jobs
        .iter()
        .filter(|job| !settings.serves(&job.queue))
    {
        report.warning(
            job.at,
            format!(
                "job `{}` is on queue `{}`, which no worker in the settings serves (they serve: {}); its runs will wait",
                job.name,
                job.queue,
                served.join(", ")
            ),
        );
    }
    report.diagnostics
}

/// A step longer than its range is accepted, as Debian does, but it only ever matches
/// its first value: `*/90` is minute 0, not every ninety minutes.
fn lone_step_warnings(schedule: &Schedule, file: &str) -> Vec<Diagnostic> {
    let mut report = Report::new(file);
    for job in &schedule.jobs {
        let Some(text) = job.schedule.as_ref().map(|s| &s.text) else {
            continue;
        };
        for step in lone_steps(text) {
            report.warning(job.at, format!("job `{}`: {step}", job.name));
        }
    }
    report.diagnostics
}
