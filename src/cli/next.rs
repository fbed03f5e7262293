//! `cronq next`: the coming fire instants of an expression or a job.

use std::io::{BufWriter, Write};

use chrono::{DateTime, TimeDelta, Utc};
use chrono_tz::Tz;

use super::args::{NextArgs, SettingsArgs};
use super::{CliError, Loaded, output};
use crate::cron::{CronExpr, Timing};
use crate::schedule::{Job, Schedule, diagnostic::closest, parse_zone};
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
    if let Some(name) = &args.job {
        super::pause::note_next(&Settings::resolve(settings_args.overrides(), env)?, name);
    }
    let written = match args.json {
        true => write_json(&fires, args.explain),
        false => write_lines(&fires, args.explain),
    };
    match written {
        // `cronq next … | head -1`: the reader has all it wanted.
        Err(error) if error.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        Err(error) => Err(output::stdout_error(error)),
        Ok(()) => Ok(()),
    }
}

const ORED: &str = "day-of-month and day-of-week are both restricted, so a day that matches either one fires (Vixie cron); start one of them with `*` to require both";

/// One instant per line as it is found, so `--count 10000000` starts printing at once
/// and holds no list of them.
fn write_lines(fires: &Fires, explain: bool) -> std::io::Result<()> {
    let mut out = BufWriter::new(std::io::stdout().lock());
    if explain && fires.days_are_ored() {
        writeln!(out, "# {ORED}")?;
    }
    for at in fires.instants() {
        let line = output::instant(&at);
        match fires.note(&at).filter(|_| explain) {
            Some(note) => writeln!(out, "{line}  # {note}")?,
            None => writeln!(out, "{line}")?,
        }
    }
    out.flush()
}

/// The `--json` document, `{"fires": […]}` (with `--explain`, also `"notes"` and
/// `"days_ored"`), laid out as `output::json` lays it out, but written as the fires are
/// found: the notes walk the fires a second time rather than keep them.
fn write_json(fires: &Fires, explain: bool) -> std::io::Result<()> {
    let mut out = BufWriter::new(std::io::stdout().lock());
    write!(out, "{{\n  \"fires\": ")?;
    json_list(
        &mut out,
        fires.instants().map(|at| output::instant(&at).into()),
    )?;
    if explain {
        write!(out, ",\n  \"notes\": ")?;
        json_list(&mut out, fires.instants().map(|at| fires.note(&at).into()))?;
        write!(out, ",\n  \"days_ored\": {}", fires.days_are_ored())?;
    }
    writeln!(out, "\n}}")?;
    out.flush()
}

/// A JSON list as the second level of a pretty document.
fn json_list(
    out: &mut impl Write,
    items: impl Iterator<Item = serde_json::Value>,
) -> std::io::Result<()> {
    let mut items = items.peekable();
    if items.peek().is_none() {
        return write!(out, "[]");
    }
    write!(out, "[")?;
    for (i, item) in items.enumerate() {
        let comma = if i == 0 { "" } else { "," };
        write!(out, "{comma}\n    {item}")?;
    }
    write!(out, "\n  ]")
}

/// Where the instants to print come from; they are found one at a time, never listed.
enum Source {
    /// An expression, or a published job's schedule, in a zone, shifted by a jitter.
    Timing(Timing, Tz, TimeDelta),
    /// A job of the schedule file, jitter included.
    Job(Box<Job>),
    /// A job without instants of its own.
    Nothing,
}

/// The instants to print, and what explains them: the expression, and the job's jitter
/// to take off before asking it.
struct Fires {
    source: Source,
    after: DateTime<Utc>,
    count: usize,
    explain: Option<(CronExpr, TimeDelta)>,
}

impl Fires {
    fn of(source: Source, after: DateTime<Utc>, count: usize) -> Fires {
        let (timing, jitter) = match &source {
            Source::Timing(timing, _, jitter) => (Some(timing), *jitter),
            Source::Job(job) => (
                job.schedule.as_ref().map(|s| &s.timing),
                TimeDelta::from_std(job.jitter_offset()).unwrap_or_default(),
            ),
            Source::Nothing => (None, TimeDelta::zero()),
        };
        let explain = match timing {
            Some(Timing::Cron(expr)) => Some((expr.clone(), jitter)),
            _ => None,
        };
        Fires {
            source,
            after,
            count,
            explain,
        }
    }

    /// The first `count` fires after `after`, computed as they are taken.
    fn instants(&self) -> impl Iterator<Item = DateTime<Tz>> + '_ {
        let mut after = self.after;
        std::iter::from_fn(move || {
            let at = match &self.source {
                Source::Timing(timing, zone, jitter) => timing
                    .next_after(after - *jitter, *zone)
                    .map(|at| at + *jitter),
                Source::Job(job) => job.next_fire(after),
                Source::Nothing => None,
            }?;
            after = at.with_timezone(&Utc);
            Some(at)
        })
        .take(self.count)
    }

    /// What DST did to the fire at `at`, if anything.
    fn note(&self, at: &DateTime<Tz>) -> Option<String> {
        let (expr, jitter) = self.explain.as_ref()?;
        expr.explain(&(*at - *jitter))
    }

    fn days_are_ored(&self) -> bool {
        self.explain
            .as_ref()
            .is_some_and(|(expr, _)| expr.days_are_ored())
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
        let store = settings.store.open_to_read(&settings.redis_prefix).await?;
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
        if count == 0 {
            return Ok(Fires::of(Source::Nothing, after, count));
        }
        output::note!(
            "job `{name}` has no schedule: it runs only when triggered, with `cronq run {name}`"
        );
        return Ok(Fires::of(Source::Nothing, after, count));
    };
    let timing: Timing = text
        .parse()
        .map_err(|e| CliError::Failed(format!("the published schedule of `{name}`: {e}")))?;
    let zone = parse_zone(&job.timezone).map_err(CliError::Failed)?;
    // Shifted by the job's jitter offset, as `Job::next_fire` does.
    let jitter = i64::try_from(job.jitter_ms).map_or(TimeDelta::zero(), TimeDelta::milliseconds);
    Ok(Fires::of(
        Source::Timing(timing, zone, jitter),
        after,
        count,
    ))
}

fn parse_after(text: &str) -> Result<DateTime<Utc>, CliError> {
    DateTime::parse_from_rfc3339(text)
        .map(|at| at.with_timezone(&Utc))
        .map_err(|_| {
            CliError::Usage(format!(
                "--after `{text}` is not an RFC 3339 instant; expected a date, a time and an offset, such as 2026-03-08T01:30:00-05:00 or 2026-03-08T06:30:00Z"
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
    if timing == Timing::Reboot && count > 0 {
        output::note!("`@reboot` has no instants: it fires once each time the daemon starts");
    }
    // `-n 0` asks for nothing, so it is never told the expression never fires.
    if count > 0 && timing != Timing::Reboot && timing.next_after(after, zone).is_none() {
        return Err(CliError::Failed(format!(
            "`{expr}` never fires: no date matches all its fields"
        )));
    }
    Ok(Fires::of(
        Source::Timing(timing, zone, TimeDelta::zero()),
        after,
        count,
    ))
}

fn job_fires(
    schedule: &Schedule,
    file: &str,
    name: &str,
    after: DateTime<Utc>,
    count: usize,
) -> Result<Fires, CliError> {
    let Some(job) = schedule.job(name) else {
        let hint = closest(name, schedule.jobs.iter().map(|j| j.name.as_str()))
            .map(|near| format!("; did you mean `{near}`?"))
            .unwrap_or_default();
        return Err(CliError::Usage(format!("no job `{name}` in {file}{hint}")));
    };
    match job.schedule.as_ref().map(|s| &s.timing) {
        // `-n 0` asks for no instant: nothing to say about why there are none.
        _ if count == 0 => {}
        None => output::note!(
            "job `{name}` has no schedule: it runs only when triggered, with `cronq run {name}`"
        ),
        Some(Timing::Reboot) => {
            output::note!("job `{name}` is `@reboot`: it fires once each time the daemon starts")
        }
        Some(_) => {}
    }
    Ok(Fires::of(Source::Job(Box::new(job.clone())), after, count))
}
