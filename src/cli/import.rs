//! `cronq import`: a crontab to schedule YAML on stdout, problems on stderr.

use std::path::{Path, PathBuf};

use super::args::ImportArgs;
use super::{CliError, output};
use chrono::{DateTime, TimeDelta, Utc};
use chrono_tz::Tz;

use crate::cron::{Timing, lone_steps};
use crate::schedule::import::{CrontabFormat, JobLine, import_crontab, system_evidence};
use crate::settings;

/// Where Debian's cron keeps the crontabs of its users, one file per user.
const SPOOL: &str = "/var/spool/cron/crontabs";

pub fn run(args: &ImportArgs) -> anyhow::Result<()> {
    let path = &args.crontab;
    let text = std::fs::read_to_string(path)
        .map_err(|e| CliError::Usage(format!("cannot read the crontab {}: {e}", path.display())))?;
    let file = path.display();
    let real = std::fs::canonicalize(path).unwrap_or_else(|_| path.clone());
    let format = if args.system {
        CrontabFormat::System
    } else {
        refuse_system_crontab(path, &real, &text)?;
        CrontabFormat::User
    };
    let imported = import_crontab(&text, format);
    std::io::Write::write_all(&mut std::io::stdout().lock(), imported.yaml.as_bytes())
        .map_err(super::output::stdout_error)?;
    for note in &imported.notes {
        output::note!("{file}:{}: note: {}", note.line, note.message);
    }
    let host_zone =
        settings::host_zone(&|name| std::env::var(name).ok()).map_err(CliError::Usage)?;
    for job in &imported.schedules {
        for surprise in surprises(job, host_zone, Utc::now()) {
            output::note!("{file}:{}: note: {surprise}", job.line);
        }
    }
    for problem in &imported.problems {
        output::note!("{file}:{}: {}", problem.line, problem.message);
    }
    let converted = imported.schedules.len();
    match &imported.ignored {
        Some(reason) => output::note!(
            "{file}: warning: Debian cron ignores this whole file, because {reason}; none of its jobs ran under cron"
        ),
        None if converted > 0 => output::note!(
            "{file}: warning: cron still runs the {converted} imported job(s) until they are removed from {}",
            removal(path, &real, format)
        ),
        None => {}
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

/// A system crontab read as a user's would make every user column part of the
/// command: refuse it, with the flag that reads it right.
fn refuse_system_crontab(path: &Path, real: &Path, text: &str) -> Result<(), CliError> {
    let file = path.display();
    let hint = format!("import it with `cronq import --system {file}`");
    if real == Path::new("/etc/crontab") || real.starts_with("/etc/cron.d") {
        return Err(CliError::Usage(format!(
            "{file} is a system crontab, whose lines name a user before the command; {hint}"
        )));
    }
    let is_user = |name: &str| matches!(nix::unistd::User::from_name(name), Ok(Some(_)));
    if let Some((line, user)) = system_evidence(text, &is_user) {
        return Err(CliError::Usage(format!(
            "{file} is plainly a system crontab: on every job line the sixth field is a user of this host, then a command (line {line}: `{user}`); {hint}"
        )));
    }
    Ok(())
}

/// Where the imported lines are, and the command that removes them.
fn removal(path: &Path, real: &Path, format: CrontabFormat) -> String {
    let (given, shown) = (path.display(), real.display());
    match format {
        CrontabFormat::System if real == Path::new("/etc/crontab") => {
            "/etc/crontab: delete their lines with `sudoedit /etc/crontab`".into()
        }
        CrontabFormat::System if real.starts_with("/etc/cron.d") => {
            format!("{shown}: `sudo rm {shown}`, or delete their lines with `sudoedit {shown}`")
        }
        CrontabFormat::System => format!(
            "the system crontab {given} was copied from (/etc/crontab or a file in /etc/cron.d): delete their lines there with `sudoedit`"
        ),
        CrontabFormat::User => match spool_owner(real) {
            Some(user) => format!(
                "the crontab of {user}: delete their lines with `crontab -u {user} -e`, or remove the whole crontab with `crontab -u {user} -r`"
            ),
            None => format!(
                "the crontab {given} came from: delete their lines with `crontab -e`, or remove the whole crontab with `crontab -r`"
            ),
        },
    }
}

/// The user whose spool crontab `real` is.
fn spool_owner(real: &Path) -> Option<String> {
    let user = real.strip_prefix(SPOOL).ok()?;
    let user: PathBuf = user.components().collect();
    (user.components().count() == 1).then(|| user.display().to_string())
}

/// The fires of a year this crontab line will see.
const LOOK_AHEAD_DAYS: i64 = 366;
/// A job that fires more often than this is judged on this many fires.
const MOST_FIRES: usize = 50_000;

/// What may surprise about a converted line: a step that only ever matches its
/// first value, OR-ed day fields, and the first fire in the coming year that DST
/// moves, merges or repeats. The jobs fire in the host's zone, as under Debian.
fn surprises(job: &JobLine, zone: Tz, now: DateTime<Utc>) -> Vec<String> {
    let Ok(Timing::Cron(expr)) = job.schedule.parse::<Timing>() else {
        return Vec::new();
    };
    let mut found: Vec<String> = lone_steps(&job.schedule);
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
