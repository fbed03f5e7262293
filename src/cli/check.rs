//! `cronq check`: validate the schedule; list each job with its next fire.

use chrono::Utc;
use serde_json::json;

use super::args::CheckArgs;
use super::{Loaded, output};
use crate::cron::{Timing, lone_steps};
use crate::schedule::{Command, Diagnostic, Job, Schedule, diagnostic::Report};
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
    warnings.extend(missing_mailers(schedule, file, &path));
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
        eprintln!("{warning}");
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
    eprintln!("{file}: {} jobs, no errors", schedule.jobs.len());
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

/// The programs that send mail: an `on_failure` that runs one where none is
/// installed (as `cronq import` writes for a `MAILTO`) tells no one.
const MAILERS: &[&str] = &["mail", "mailx", "sendmail"];

/// One warning per mail program that `on_failure` commands run and this host lacks.
fn missing_mailers(schedule: &Schedule, file: &str, path: &str) -> Vec<Diagnostic> {
    let mut missing: Vec<(String, Vec<&Job>)> = Vec::new();
    for job in &schedule.jobs {
        let Some(on_failure) = &job.on_failure else {
            continue;
        };
        let search = job.env.get("PATH").map_or(path, String::as_str);
        for program in programs(on_failure) {
            let base = program.rsplit('/').next().unwrap_or(program);
            if !MAILERS.contains(&base) || installed(program, search) {
                continue;
            }
            match missing.iter_mut().find(|(p, _)| p == program) {
                Some((_, jobs)) => jobs.push(job),
                None => missing.push((program.to_string(), vec![job])),
            }
        }
    }
    let mut report = Report::new(file);
    for (program, jobs) in missing {
        let names: Vec<&str> = jobs.iter().take(3).map(|j| j.name.as_str()).collect();
        let more = match jobs.len() {
            n if n > 3 => format!(" and {} more", n - 3),
            _ => String::new(),
        };
        report.warning(
            jobs[0].at,
            format!(
                "`{program}` is not on this host, so the on_failure of {} job(s) ({}{more}) cannot mail anyone; install it (on Debian: mailutils, bsd-mailx or an MTA) or change on_failure",
                jobs.len(),
                names.join(", ")
            ),
        );
    }
    report.diagnostics
}

/// The programs a command runs: its argv's first word, or in a shell line the first
/// word of each command of a pipeline or list (past `VAR=value` settings).
fn programs(command: &Command) -> Vec<&str> {
    match command {
        Command::Argv(argv) => {
            let mut found: Vec<&str> = argv.first().map(String::as_str).into_iter().collect();
            if let Some(at) = argv.iter().position(|a| a == "-c") {
                found.extend(
                    argv.get(at + 1)
                        .map_or(Vec::new(), |text| shell_programs(text)),
                );
            }
            found
        }
        Command::Shell(text) => shell_programs(text),
    }
}

fn shell_programs(text: &str) -> Vec<&str> {
    text.split(['|', ';', '&', '(', ')', '{', '}', '\n'])
        .filter_map(|part| {
            part.split_whitespace()
                .find(|w| !w.contains('=') || w.starts_with(['-', '/']))
        })
        .collect()
}

/// Whether `program` (a path, or a name looked up in `path`) is an executable file.
fn installed(program: &str, path: &str) -> bool {
    use std::os::unix::fs::PermissionsExt;
    let executable = |file: &std::path::Path| {
        file.metadata()
            .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    };
    if program.contains('/') {
        return executable(std::path::Path::new(program));
    }
    std::env::split_paths(path).any(|dir| executable(&dir.join(program)))
}
