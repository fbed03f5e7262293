//! `cronq import`: a Vixie/Debian crontab's text to a `crontab.yaml` with the same jobs.
//!
//! Owns the crontab line syntax (comments, `NAME=value`, 5 fields or a macro, the
//! system format's user column, Debian's leading `-`, Vixie's `%`) and how each piece
//! maps onto cronq's job keys. It must not read files, print or validate the whole
//! schedule: the caller reads the crontab and `cronq check` loads the result. A line
//! that cannot be converted is reported and left out; the other lines still convert.

use std::collections::HashSet;
use std::fmt;
use std::str::FromStr;

use super::diagnostic::Escaped;
use crate::cron::Timing;

/// Which crontab syntax the text is in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CrontabFormat {
    /// A user's crontab (`crontab -e`): the command follows the 5 fields or the macro.
    User,
    /// `/etc/crontab` and `/etc/cron.d/*`: a user column comes before the command.
    System,
}

/// The result of an import: the YAML and what the user should read before using it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Imported {
    /// A complete `crontab.yaml`, jobs in input order.
    pub yaml: String,
    /// Lines left out because they could not be converted.
    pub problems: Vec<LineProblem>,
    /// Lines converted, but whose behaviour under cronq differs from cron's.
    pub notes: Vec<LineProblem>,
    /// Each converted job's line, schedule and `CRON_TZ` zone (`None`: the host's), for
    /// a caller that explains what DST and the day fields will do to them.
    pub schedules: Vec<JobLine>,
}

/// Where a converted job came from, and when it fires.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JobLine {
    pub line: usize,
    pub schedule: String,
    pub zone: Option<String>,
}

/// A message about one line of the crontab.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LineProblem {
    /// 1-based.
    pub line: usize,
    pub message: String,
}

impl fmt::Display for LineProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.line, self.message)
    }
}

/// The macros a crontab line accepts (cronq's own `@every` is not one of them).
const MACROS: &str = "@reboot @yearly @annually @monthly @weekly @daily @midnight @hourly";

/// The note on a line whose command has a `%`.
const STDIN_NOTE: &str = "the text after `%` is the job's standard input, fed with printf as cron did; if the `%` was meant literally (as in `date +%F`), write it as `\\%` and import again";

/// Longest job name derived from a command, in characters.
const NAME_MAX: usize = 40;

/// Converts a crontab's text to a `crontab.yaml`.
///
/// Each job line becomes a job named after its program (`backup`, `backup-2`, …) with
/// `schedule` as written; the comment block directly above it becomes `description`,
/// the system format's user column `user`. Variables reach the jobs below them, as in
/// cron: `CRON_TZ` sets `timezone`; every other variable except `MAILTO` goes into
/// `env`, and a `SHELL` other than `/bin/sh` also makes the command `[SHELL, "-c", …]`.
/// `MAILTO=addr` becomes an `on_failure` command that mails a one-line notice (cron
/// mailed any output; cronq keeps output in its history); an empty `MAILTO` gives none.
///
/// Vixie's `%`: an unescaped `%` ends the command, and the text after it becomes the
/// job's standard input, each further unescaped `%` a newline and a newline at the end;
/// `\%` is a literal `%` (a backslash before any other character is kept, and that
/// character is taken as is). cronq has no such rule, so the job becomes a `/bin/sh`
/// command that feeds the same bytes with printf: `0 9 * * * mail root%hi%bye` becomes
/// `printf '%s\n' 'hi' 'bye' | mail root`. A command that is a list (it holds `;`, `&`
/// or `|`) is put in a subshell, `printf … | (a && b)`, so that, as under cron, the
/// whole list reads the text.
pub fn import_crontab(text: &str, format: CrontabFormat) -> Imported {
    let mut import = Import::default();
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    for (index, raw) in text.lines().enumerate() {
        import.line(index + 1, raw.trim(), format);
    }
    let header = "# Imported from a crontab by cronq import; check it with: cronq check\n";
    let jobs = import.jobs.concat();
    Imported {
        yaml: if jobs.is_empty() {
            format!("{header}jobs: {{}}\n")
        } else {
            format!("{header}jobs:\n{jobs}")
        },
        problems: import.problems,
        notes: import.notes,
        schedules: import.schedules,
    }
}

/// The zone that `CRON_TZ` set for the lines below it.
#[derive(Default)]
enum Zone {
    /// Unset or empty: the host's zone, cronq's default too.
    #[default]
    Host,
    Named(String),
    /// Not a zone cronq knows; the number is the `CRON_TZ` line.
    Bad(usize),
}

/// A pass over the lines: what the lines above set, and the output so far.
#[derive(Default)]
struct Import {
    /// Variables set so far (cron passes them to the jobs below), in order of first set.
    env: Vec<(String, String)>,
    zone: Zone,
    shell: Option<String>,
    on_failure: Option<String>,
    /// The comment block directly above the current line.
    comments: Vec<String>,
    names: HashSet<String>,
    /// Each job's YAML entry, in input order.
    jobs: Vec<String>,
    schedules: Vec<JobLine>,
    problems: Vec<LineProblem>,
    notes: Vec<LineProblem>,
}

impl Import {
    fn line(&mut self, line: usize, text: &str, format: CrontabFormat) {
        if text.is_empty() {
            self.comments.clear();
        } else if let Some(comment) = text.strip_prefix('#') {
            let comment = comment.trim_start_matches('#').trim();
            if !comment.is_empty() {
                self.comments.push(comment.to_string());
            }
        } else if text.contains('\0') {
            // It would reach a command, an environment variable or a user name, none of
            // which can carry it: `cronq check` would refuse the job.
            self.comments.clear();
            self.problem(line, text, "it holds a NUL character (`\\0`)");
        } else if let Some((name, value)) = env_assignment(text) {
            self.comments.clear();
            self.set_variable(line, text, name, value);
        } else {
            let description = std::mem::take(&mut self.comments).join(" ");
            match self.job(line, text, format, &description) {
                Ok(entry) => self.jobs.push(entry),
                Err(reason) => self.problem(line, text, &reason),
            }
        }
    }

    fn problem(&mut self, line: usize, text: &str, reason: &str) {
        let message = format!("cannot convert `{}`: {reason}", Escaped(text));
        self.problems.push(LineProblem { line, message });
    }

    fn set_variable(&mut self, line: usize, text: &str, name: &str, value: &str) {
        match name {
            "CRON_TZ" if value.is_empty() => self.zone = Zone::Host,
            "CRON_TZ" => match chrono_tz::Tz::from_str(value) {
                Ok(zone) => self.zone = Zone::Named(zone.name().to_string()),
                Err(_) => {
                    self.zone = Zone::Bad(line);
                    let reason = format!(
                        "`{value}` is not an IANA time zone such as Europe/Berlin; the jobs below it are left out until the next CRON_TZ"
                    );
                    self.problem(line, text, &reason);
                }
            },
            // An empty MAILTO means no mail, which is cronq's default.
            "MAILTO" if value.is_empty() => self.on_failure = None,
            "MAILTO" => {
                self.on_failure = Some(mail_on_failure(value));
                let message = format!(
                    "cron mailed every output of the jobs below to {value}; cronq keeps their output in `cronq history` and mails only when a run fails (on_failure)"
                );
                self.notes.push(LineProblem { line, message });
            }
            _ => {
                if name == "SHELL" {
                    self.shell = Some(value).filter(|s| !s.is_empty()).map(str::to_string);
                }
                match self.env.iter_mut().find(|(n, _)| n == name) {
                    Some((_, old)) => *old = value.to_string(),
                    None => self.env.push((name.to_string(), value.to_string())),
                }
            }
        }
    }

    /// The job's YAML entry under `jobs:`.
    fn job(
        &mut self,
        line: usize,
        text: &str,
        format: CrontabFormat,
        description: &str,
    ) -> Result<String, String> {
        let (schedule, user, command) = split_job_line(text, format)?;
        if let Zone::Bad(at) = self.zone {
            return Err(format!(
                "the CRON_TZ on line {at} is not a time zone cronq knows"
            ));
        }
        let (command, stdin) = split_percent(command);
        let command = command.trim_end();
        if command.is_empty() {
            return Err("the command before the `%` is empty".into());
        }
        let name = self.unique_name(&slug(program(command)));
        let shell_command = match stdin {
            None => command.to_string(),
            Some(stdin) => {
                self.notes.push(LineProblem {
                    line,
                    message: STDIN_NOTE.into(),
                });
                feed_stdin(command, &stdin)
            }
        };
        self.schedules.push(JobLine {
            line,
            schedule: schedule.clone(),
            zone: match &self.zone {
                Zone::Named(zone) => Some(zone.clone()),
                _ => None,
            },
        });
        Ok(self.entry(&name, description, &schedule, user, &shell_command))
    }

    /// The YAML entry under `jobs:` of a job whose line has passed every check.
    fn entry(
        &self,
        name: &str,
        description: &str,
        schedule: &str,
        user: Option<&str>,
        command: &str,
    ) -> String {
        let mut entry = format!("  {}:\n", key(name));
        let mut field = |key: &str, value: String| entry.push_str(&format!("    {key}: {value}\n"));
        if !description.is_empty() {
            field("description", quoted(description));
        }
        field("schedule", quoted(schedule));
        if let Zone::Named(zone) = &self.zone {
            field("timezone", quoted(zone));
        }
        if let Some(user) = user {
            field("user", quoted(user));
        }
        field(
            "command",
            match &self.shell {
                // cron runs `$SHELL -c command`; a string command runs under /bin/sh.
                Some(shell) if shell != "/bin/sh" => {
                    format!("[{}, \"-c\", {}]", quoted(shell), quoted(command))
                }
                _ => quoted(command),
            },
        );
        if let Some(on_failure) = &self.on_failure {
            field("on_failure", quoted(on_failure));
        }
        if !self.env.is_empty() {
            entry.push_str("    env:\n");
            for (name, value) in &self.env {
                entry.push_str(&format!("      {}: {}\n", key(name), quoted(value)));
            }
        }
        entry
    }

    /// `base`, else `base-2`, `base-3`, … in order of appearance.
    fn unique_name(&mut self, base: &str) -> String {
        let mut name = base.to_string();
        let mut n = 1;
        while !self.names.insert(name.clone()) {
            n += 1;
            name = format!("{base}-{n}");
        }
        name
    }
}

/// A job line's schedule (fields joined by one space), user column and command.
fn split_job_line(
    text: &str,
    format: CrontabFormat,
) -> Result<(String, Option<&str>, &str), String> {
    // Debian: a leading `-` only turns off syslogging of the run.
    let body = text.strip_prefix('-').unwrap_or(text).trim_start();
    let (schedule, rest) = if body.starts_with('@') {
        let ([word], rest) = take_words::<1>(body);
        if !MACROS.split(' ').any(|m| m == word) {
            return Err(format!(
                "unknown macro `{word}`; a crontab accepts {MACROS}"
            ));
        }
        (word.to_string(), rest)
    } else {
        let (fields, rest) = take_words::<5>(body);
        if fields.contains(&"") {
            return Err("expected 5 time fields (minute hour day-of-month month day-of-week) or a macro such as @daily, then the command".into());
        }
        (fields.join(" "), rest)
    };
    schedule.parse::<Timing>().map_err(|e| e.to_string())?;
    let (user, command) = match format {
        CrontabFormat::User => (None, rest),
        CrontabFormat::System => match take_words::<1>(rest) {
            ([""], _) => {
                return Err("a system crontab line needs a user column after the schedule".into());
            }
            ([user], _) if user.contains(char::is_control) => {
                return Err(format!(
                    "the user `{}` holds a control character, which no user name has",
                    Escaped(user)
                ));
            }
            ([user], rest) => (Some(user), rest),
        },
    };
    if command.is_empty() {
        return Err("there is no command after the schedule".into());
    }
    Ok((schedule, user, command))
}

/// Cron's `NAME=value`, `NAME = "value"`, `NAME='value'`: spaces around `=` and
/// matching quotes (which keep blanks) are optional. A job line never matches, because
/// the text before its first `=` holds the blanks between the fields.
fn env_assignment(text: &str) -> Option<(&str, &str)> {
    let (name, value) = text.split_once('=')?;
    let name = name.trim();
    if name.is_empty() || name.contains(char::is_whitespace) {
        return None;
    }
    Some((unquote(name), unquote(value.trim())))
}

fn unquote(text: &str) -> &str {
    for quote in ['"', '\''] {
        if let Some(inner) = text.strip_prefix(quote).and_then(|t| t.strip_suffix(quote)) {
            return inner;
        }
    }
    text
}

/// The first `N` blank-separated words and the rest, trimmed at its start; missing
/// words are empty.
fn take_words<const N: usize>(text: &str) -> ([&str; N], &str) {
    let mut words = [""; N];
    let mut rest = text.trim_start();
    for word in &mut words {
        let end = rest.find(char::is_whitespace).unwrap_or(rest.len());
        *word = &rest[..end];
        rest = rest[end..].trim_start();
    }
    (words, rest)
}

/// Vixie's `%` rule (see [`import_crontab`]): the command and, if it had a `%`, the
/// lines of its standard input.
fn split_percent(command: &str) -> (String, Option<Vec<String>>) {
    let mut parts = vec![String::new()];
    let mut chars = command.chars();
    while let Some(c) = chars.next() {
        let part = parts.last_mut().expect("parts starts with one element");
        match c {
            '\\' => match chars.next() {
                Some('%') => part.push('%'),
                Some(next) => part.extend(['\\', next]),
                None => part.push('\\'),
            },
            '%' => parts.push(String::new()),
            _ => part.push(c),
        }
    }
    let command = parts.remove(0);
    (command, Some(parts).filter(|p| !p.is_empty()))
}

/// `printf '%s\n' 'line one' 'line two' | command`, in a subshell if it is a list.
fn feed_stdin(command: &str, lines: &[String]) -> String {
    let quoted: Vec<String> = lines.iter().map(|l| sh_quote(l)).collect();
    let target = if !command.contains([';', '&', '|']) {
        command.to_string()
    } else if command.contains('#') {
        // A `#` comment would swallow the `)` on the same line.
        format!("({command}\n)")
    } else {
        format!("({command})")
    };
    format!("printf '%s\\n' {} | {target}", quoted.join(" "))
}

/// Single-quotes `text` for /bin/sh.
fn sh_quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', r"'\''"))
}

/// The `on_failure` command that stands in for cron's mail to `MAILTO`.
fn mail_on_failure(mailto: &str) -> String {
    let to: Vec<String> = mailto
        .split(|c: char| c == ',' || c.is_whitespace())
        .filter(|a| !a.is_empty())
        .map(sh_quote)
        .collect();
    format!(
        "echo \"cronq: job $CRONQ_JOB run $CRONQ_RUN_ID ended $CRONQ_STATUS; see: cronq show $CRONQ_RUN_ID\" | mail -s \"cronq: $CRONQ_JOB $CRONQ_STATUS\" {}",
        to.join(" ")
    )
}

/// The word of a shell command that names the program: past `VAR=value` words, and
/// past `cd DIR &&` or `cd DIR;`.
fn program(command: &str) -> &str {
    let mut rest = command;
    loop {
        rest = rest.trim_start_matches(|c: char| c.is_whitespace() || c == '(' || c == '{');
        let end = rest.find([' ', '\t', ';', '&', '|']).unwrap_or(rest.len());
        let word = &rest[..end];
        let after = &rest[end..];
        if is_assignment(word) {
            rest = after;
        } else if let (true, Some(at)) = (word == "cd", after.find([';', '&'])) {
            rest = after[at..].trim_start_matches([';', '&']);
        } else {
            return word.rsplit('/').next().unwrap_or(word);
        }
    }
}

fn is_assignment(word: &str) -> bool {
    word.split_once('=').is_some_and(|(name, _)| {
        name.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
    })
}

/// A job name from a program name: lower case, `[a-z0-9-]`, at most [`NAME_MAX`] long.
fn slug(program: &str) -> String {
    let mut name = String::new();
    for c in program.chars().flat_map(char::to_lowercase) {
        if c.is_ascii_lowercase() || c.is_ascii_digit() {
            name.push(c);
        } else if !name.ends_with('-') {
            name.push('-');
        }
    }
    name.truncate(NAME_MAX);
    let name = name.trim_matches('-');
    (if name.is_empty() { "job" } else { name }).to_string()
}

/// A YAML double-quoted scalar. JSON's escapes are YAML's; the characters YAML forbids
/// in a stream but JSON leaves alone (DEL, C1 controls) are escaped as well.
fn quoted(text: &str) -> String {
    let json = serde_json::to_string(text).expect("a string always serializes to JSON");
    json.chars()
        .map(|c| match c {
            '\u{7f}'..='\u{84}' | '\u{86}'..='\u{9f}' | '\u{fffe}' | '\u{ffff}' => {
                format!("\\u{:04X}", c as u32)
            }
            _ => c.to_string(),
        })
        .collect()
}

/// A mapping key, plain when no YAML reader could take it for anything but a string.
fn key(text: &str) -> String {
    const WORDS: &[&str] = &["y", "n", "yes", "no", "on", "off", "true", "false", "null"];
    let plain = text.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        && !WORDS.contains(&text.to_ascii_lowercase().as_str());
    if plain {
        text.to_string()
    } else {
        quoted(text)
    }
}

#[cfg(test)]
mod tests;
