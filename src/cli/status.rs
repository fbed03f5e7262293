//! `cronq status`: what runs now and how long it still needs, what is queued and when it
//! should start, the workers, the next fires, and the watchdog's problems (`--check`),
//! among them a local schedule file that is not what the live daemons run.
//! The report itself is `report::status`; this prints it.

use super::args::{SettingsArgs, StatusArgs};
use super::{CliError, Loaded, output};
use crate::eta::{TimeLeft, WhyUnknown};
use crate::pause::Pauses;
use crate::report::status::{Report, Timed, compare_schedules, gather};
use crate::schedule::Schedule;
use crate::settings::Settings;
use crate::store::{PauseScope, Paused, PublishedSchedule};

pub fn run(
    args: &StatusArgs,
    settings_args: &SettingsArgs,
    env: &dyn Fn(&str) -> Option<String>,
) -> anyhow::Result<()> {
    // The local schedule when there is one; else what the daemons published.
    let settings = Settings::resolve(settings_args.overrides(), env)?;
    let local = match Loaded::of(settings.clone(), env) {
        Ok(loaded) => Some(loaded),
        Err(CliError::NoSchedule(_)) => None,
        Err(error) => return Err(error.into()),
    };
    let runtime = tokio::runtime::Runtime::new()?;
    let file = settings.schedule.0.display().to_string();
    let (report, source) = runtime.block_on(async {
        let store = settings.store.open_to_read(&settings.redis_prefix).await?;
        let published = store.published().await?;
        let local = local.as_ref().map(|loaded| &loaded.schedule);
        let timed = Timed::of(local, published.as_ref());
        let mut report = gather(&*store, &timed, &settings, args.grace).await?;
        let source = ScheduleSource::of(&file, local, published.as_ref());
        report
            .problems
            .extend(compare_schedules(&file, local, published.as_ref(), &*store).await?);
        Ok::<_, anyhow::Error>((report, source))
    })?;
    if args.check {
        for problem in &report.problems {
            output::say!("{}", problem.text)?;
        }
        if !report.problems.is_empty() {
            return Err(CliError::Failed(format!("{} problem(s)", report.problems.len())).into());
        }
        return Ok(());
    }
    if args.json {
        output::json(&report.json())?;
    } else {
        if let Some(line) = source.line() {
            output::say!("{line}")?;
        }
        print(
            &report,
            &settings.store.shown(),
            output::Zone::of(args.local, env)?,
        )?;
    }
    Ok(())
}

/// Which schedule `status` shows, said in one line when it is not simply the local file.
enum ScheduleSource {
    /// The local file, the same as the published one, or with none published.
    File,
    /// No local file: the schedule the daemons published, with its hash.
    Published { file: String, hash: String },
    /// The local file, which is not the schedule the daemons published.
    Differs {
        file: String,
        hash: String,
        published: String,
    },
}

impl ScheduleSource {
    fn of(
        file: &str,
        local: Option<&Schedule>,
        published: Option<&PublishedSchedule>,
    ) -> ScheduleSource {
        match (local, published) {
            (None, Some(published)) => ScheduleSource::Published {
                file: file.to_string(),
                hash: published.hash.clone(),
            },
            (Some(local), Some(published)) if local.hash != published.hash => {
                ScheduleSource::Differs {
                    file: file.to_string(),
                    hash: local.hash.clone(),
                    published: published.hash.clone(),
                }
            }
            _ => ScheduleSource::File,
        }
    }

    fn line(&self) -> Option<String> {
        match self {
            ScheduleSource::File => None,
            ScheduleSource::Published { file, hash } => Some(format!(
                "no {file} here; showing the schedule published by the daemons (hash {hash})"
            )),
            ScheduleSource::Differs {
                file,
                hash,
                published,
            } => Some(format!(
                "{file} here (hash {hash}) differs from the schedule published by the daemons (hash {published}); showing {file}"
            )),
        }
    }
}

/// The report as tables, for people, after a line naming the store they were read from
/// (`store`, with no password), so that an empty one cannot pass for another store's.
fn print(report: &Report, store: &str, zone: output::Zone) -> anyhow::Result<()> {
    output::say!("store: {store}\n")?;
    output::say!("RUNNING")?;
    let rows: Vec<Vec<String>> = report
        .running
        .iter()
        .map(|(run, left)| {
            let left = match left {
                TimeLeft::Seconds(s) => output::seconds(*s),
                TimeLeft::Overdue => "overdue".into(),
                TimeLeft::Unknown => "unknown".into(),
            };
            vec![
                run.job.clone(),
                run.id.clone(),
                run.host.clone().unwrap_or_default(),
                run.started_at
                    .as_ref()
                    .map(|at| zone.clock(at))
                    .unwrap_or_default(),
                output::seconds(run.duration_s(report.now).unwrap_or_default()),
                run.progress
                    .map(|p| format!("{p}%"))
                    .unwrap_or_else(|| "-".into()),
                left,
                run.message.clone().unwrap_or_default(),
            ]
        })
        .collect();
    section(
        &[
            "JOB", "RUN", "HOST", "STARTED", "ELAPSED", "PROGRESS", "LEFT", "MESSAGE",
        ],
        &rows,
    )?;

    output::say!("\nQUEUED")?;
    let rows: Vec<Vec<String>> = report
        .queued
        .iter()
        .map(|(run, position, estimate)| {
            // Why, once: under STARTS IN, or under DONE IN when only the end is unknown.
            let why = match estimate.why_unknown() {
                Some(WhyUnknown::NoWorker) => "unknown (no worker)",
                _ => "unknown (no history)",
            };
            let (starts_in, done_in) = match (estimate.starts_in_s(), estimate.done_in_s()) {
                (Some(start), Some(done)) => (output::seconds(start), output::seconds(done)),
                (Some(start), None) => (output::seconds(start), why.into()),
                (None, _) => (why.into(), "unknown".into()),
            };
            vec![
                run.queue.clone(),
                position.to_string(),
                run.job.clone(),
                run.id.clone(),
                zone.clock(&run.queued_at),
                starts_in,
                done_in,
            ]
        })
        .collect();
    section(
        &[
            "QUEUE",
            "POS",
            "JOB",
            "RUN",
            "QUEUED",
            "STARTS IN",
            "DONE IN",
        ],
        &rows,
    )?;

    output::say!("\nWORKERS")?;
    let rows: Vec<Vec<String>> = report
        .workers
        .iter()
        .map(|(w, stale)| {
            let seen =
                output::seconds((report.now - w.last_seen).num_milliseconds() as f64 / 1000.0);
            vec![
                w.host.clone(),
                w.pid.to_string(),
                w.queues.join(","),
                if *stale {
                    format!("{seen} ago (stale)")
                } else {
                    format!("{seen} ago")
                },
                if w.runs.is_empty() {
                    "-".into()
                } else {
                    w.runs.join(",")
                },
            ]
        })
        .collect();
    section(&["HOST", "PID", "QUEUES", "LAST SEEN", "RUNS"], &rows)?;

    output::say!("\nNEXT")?;
    let pauses = Pauses::new(report.paused.clone());
    let rows: Vec<Vec<String>> = report
        .next
        .iter()
        .map(|(job, at)| match pauses.holding(job, *at) {
            Some(_) => vec![zone.clock(at), format!("{job} (paused)")],
            None => vec![zone.clock(at), job.clone()],
        })
        .collect();
    section(&["AT", "JOB"], &rows)?;

    if !report.paused.is_empty() {
        output::say!("\nPAUSED")?;
        let rows: Vec<Vec<String>> = report
            .paused
            .iter()
            .map(|Paused { scope, pause }| {
                vec![
                    match scope {
                        PauseScope::All => "(every job)".to_string(),
                        PauseScope::Job(job) => job.clone(),
                    },
                    pause.by.clone(),
                    zone.clock(&pause.since),
                    pause
                        .until
                        .as_ref()
                        .map_or_else(|| "resumed".to_string(), |at| zone.clock(at)),
                    pause.reason.clone().unwrap_or_default(),
                ]
            })
            .collect();
        output::table(&["JOB", "BY", "SINCE", "UNTIL", "REASON"], &rows)?;
    }

    if !report.problems.is_empty() {
        output::say!("\nPROBLEMS")?;
        for problem in &report.problems {
            output::say!("{}", problem.text)?;
        }
    }
    Ok(())
}

fn section(header: &[&str], rows: &[Vec<String>]) -> anyhow::Result<()> {
    if rows.is_empty() {
        output::say!("(none)")
    } else {
        output::table(header, rows)
    }
}
