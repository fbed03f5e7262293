//! `cronq import`: a crontab's text, read exactly as Debian's cron reads it, to a
//! `crontab.yaml` whose jobs fire at the same instants and run the same commands.
//!
//! Debian's reading of a line (what is a variable, what it refuses, `%` and `\`)
//! lives in [`debian`]; names from commands in [`name`]; which comments describe a
//! job in [`comment`]. This module maps the result onto cronq's job keys. It must not
//! read files, print or validate the whole schedule: the caller reads the crontab and
//! `cronq check` loads the result. A line that cannot be converted is reported and
//! left out; the other lines still convert.

mod comment;
mod debian;
mod name;

use std::collections::HashSet;
use std::fmt;

use super::diagnostic::Escaped;
use crate::cron::{CronExpr, FieldKind, Timing};

/// Which crontab syntax the text is in.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum CrontabFormat {
    /// A user's crontab (`crontab -e`): the command follows the 5 fields or the macro.
    #[default]
    User,
    /// `/etc/crontab` and `/etc/cron.d/*`: a user column comes before the command.
    System,
}

/// The result of an import: the YAML and what the user should read before using it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Imported {
    /// A complete `crontab.yaml`, jobs in input order.
    pub yaml: String,
    /// Lines left out because they could not be converted: Debian refused them, or
    /// they never fire.
    pub problems: Vec<LineProblem>,
    /// Lines converted (or, having nothing to run, left out), whose reading deserves a
    /// look: what Debian skipped, what cronq does differently.
    pub notes: Vec<LineProblem>,
    /// Why Debian's cron ignores the whole file, when it does: then none of its jobs
    /// ran under cron.
    pub ignored: Option<String>,
    /// Each converted job's line and schedule, for a caller that explains what DST
    /// and the day fields will do to them.
    pub schedules: Vec<JobLine>,
}

/// Where a converted job came from, and when it fires.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JobLine {
    pub line: usize,
    pub schedule: String,
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

/// The start of the message of a line Debian refuses.
pub const REFUSED: &str = "Debian cron refuses this line, so it never ran";

/// Debian stops reading a crontab after a job or variable on this line or later
/// (`MAX_TAB_LINES` plus its header and count slack).
const LINE_LIMIT: usize = 10_004;

/// The note on a line whose command has a `%`.
const STDIN_NOTE: &str = "the text after `%` is the job's standard input, fed with printf as cron did; if the `%` was meant literally (as in `date +%F`), write it as `\\%` and import again";

/// Converts a crontab's text to a `crontab.yaml`, reading it as Debian's cron does.
///
/// Each job line becomes a job named after the first meaningful word of its command
/// (`backup`, `backup-2`, …; see [`name`]) with `schedule` as written, or as Debian
/// read it where that differs (`*/5/2` is `*/5`); the comment block directly above it
/// becomes `description`, the system format's user column `user`. Variables reach the
/// jobs below them, as in cron: every variable except `MAILTO` goes into `env` (Debian
/// schedules by the host's zone alone, so `CRON_TZ` is only a variable, as under
/// Debian), and a `SHELL` other than `/bin/sh` also makes the command
/// `[SHELL, "-c", …]`. `MAILTO=addr` becomes a `notify` email target on `failing`
/// (cron mailed any output; cronq keeps output in its history and mails once when the
/// job starts failing): one under `defaults:` when every job has the same, else on each
/// job that has one.
///
/// Vixie's `%` (see [`debian::split_percent`]): the command ends at the first `%` not
/// escaped by `\`, and the rest becomes the job's standard input. cronq has no such
/// rule, so the job becomes a `/bin/sh` command that feeds the same bytes with printf:
/// `0 9 * * * mail root%hi%bye` becomes `printf '%s\n' 'hi' 'bye' | mail root`. A
/// command that is a list (it holds `;`, `&` or `|`) is put in a subshell,
/// `printf … | (a && b)`, so that, as under cron, the whole list reads the text.
pub fn import_crontab(text: &str, format: CrontabFormat) -> Imported {
    let mut import = Import {
        format,
        ..Import::default()
    };
    let mut text = text;
    if let Some(rest) = text.strip_prefix('\u{feff}') {
        import.ignore_whole(
            "it starts with a byte-order mark, which Debian cron reads as part of line 1 and refuses"
                .into(),
        );
        text = rest;
    }
    let mut lines: Vec<&str> = text.split('\n').collect();
    // The piece after the last newline: empty, or a last line without one.
    let last = lines.pop().filter(|l| !l.is_empty());
    for (index, raw) in lines.iter().enumerate() {
        import.line(index + 1, raw, true);
    }
    if let Some(raw) = last {
        import.line(lines.len() + 1, raw, false);
    }
    import.finish()
}

/// Why the user format is plainly wrong for `text`: every job line's sixth word (the
/// second after a macro) is a user of this host, `is_user`, with a command after it.
/// The first such line and user, for the message.
pub fn system_evidence(text: &str, is_user: &dyn Fn(&str) -> bool) -> Option<(usize, String)> {
    let mut first = None;
    for (index, line) in text.lines().enumerate() {
        if debian::is_blank_or_comment(line) || debian::variable(line).is_some() {
            continue;
        }
        let words: Vec<&str> = line.split_whitespace().collect();
        let at = if line.trim_start().starts_with('@') {
            1
        } else {
            5
        };
        match words.get(at) {
            Some(user) if words.len() > at + 1 && is_user(user) => {
                first.get_or_insert((index + 1, user.to_string()));
            }
            _ => return None,
        }
    }
    first
}

/// A pass over the lines: what the lines above set, and the output so far.
#[derive(Default)]
struct Import {
    format: CrontabFormat,
    /// Variables set so far (cron passes them to the jobs below), in order of first set.
    env: Vec<(String, String)>,
    shell: Option<String>,
    mailto: Option<String>,
    /// The describing comments directly above the current line.
    comments: Vec<String>,
    names: HashSet<String>,
    jobs: Vec<Job>,
    schedules: Vec<JobLine>,
    problems: Vec<LineProblem>,
    notes: Vec<LineProblem>,
    ignored: Option<String>,
    /// Lines whose command ended in a carriage return.
    carriage_returns: Vec<usize>,
}

/// A converted job, before it is written out.
struct Job {
    name: String,
    description: String,
    schedule: String,
    user: Option<String>,
    command: String,
    shell: Option<String>,
    /// The addresses of the `MAILTO` above it, for an `email` target on `failing`.
    mailto: Option<String>,
    env: Vec<(String, String)>,
}

impl Import {
    /// One line, without its newline; `complete` is false for a last line without one.
    fn line(&mut self, line: usize, text: &str, complete: bool) {
        if debian::is_blank_or_comment(text) {
            let comment = text.trim_start_matches([' ', '\t']);
            match comment.strip_prefix('#') {
                None => self.comments.clear(),
                Some(comment) => {
                    let comment = comment.trim_start_matches('#').trim();
                    if !comment.is_empty() && comment::describes(comment, self.format) {
                        self.comments.push(comment.to_string());
                    }
                }
            }
            return;
        }
        if !complete {
            self.ignore_whole(format!("its last line, {line}, has no newline at its end"));
        }
        if line >= LINE_LIMIT {
            self.ignore_whole(format!(
                "it reads no job or variable past line {}",
                LINE_LIMIT - 1
            ));
        }
        if text.contains('\0') {
            // It would reach a command, an environment variable or a user name, none of
            // which can carry it: `cronq check` would refuse the job.
            self.comments.clear();
            let message = format!(
                "cannot convert `{}`: it holds a NUL character (`\\0`)",
                Escaped(text.trim())
            );
            self.problems.push(LineProblem { line, message });
            return;
        }
        if let Some((name, value)) = debian::variable(text) {
            self.comments.clear();
            self.set_variable(line, &name, value);
            return;
        }
        let description = std::mem::take(&mut self.comments).join(" ");
        match debian::entry(text, self.format) {
            Ok(entry) => {
                if let Err(reason) = self.job(line, entry, description) {
                    let message = format!("cannot convert `{}`: {reason}", Escaped(text.trim()));
                    self.problems.push(LineProblem { line, message });
                }
            }
            Err(reason) => {
                let reason = if text.trim().is_empty() {
                    "the line is blank but for a carriage return (a DOS line ending), which Debian cron reads as a minute field it cannot read".to_string()
                } else {
                    reason
                };
                self.ignore_whole(format!("it refuses line {line}"));
                let message = format!("{REFUSED}: {reason}");
                self.problems.push(LineProblem { line, message });
            }
        }
    }

    /// The first reason Debian ignores the file wins, as Debian stops at it.
    fn ignore_whole(&mut self, reason: String) {
        self.ignored.get_or_insert(reason);
    }

    fn note(&mut self, line: usize, message: String) {
        self.notes.push(LineProblem { line, message });
    }

    fn set_variable(&mut self, line: usize, name: &str, value: String) {
        match name {
            // An empty MAILTO means no mail, which is cronq's default.
            "MAILTO" if value.is_empty() => self.mailto = None,
            "MAILTO" => {
                self.note(line, format!(
                    "cron mailed every output of the jobs below to {value}; cronq keeps their output in `cronq history` and mails once when a job starts failing (notify: email on failing)"
                ));
                self.mailto = Some(value);
            }
            "" => self.note(
                line,
                "a variable without a name: Debian cron accepts it, and cronq leaves it out".into(),
            ),
            _ => {
                if name == "CRON_TZ" {
                    self.note(line, format!(
                        "Debian cron schedules by the host's time zone alone: CRON_TZ only reaches the commands as a variable, and the jobs below fire in the host's zone, as they did under cron; to fire them in {value}, give them `timezone: \"{value}\"`"
                    ));
                }
                if name == "SHELL" {
                    self.shell = Some(value.clone()).filter(|s| !s.is_empty());
                }
                match self.env.iter_mut().find(|(n, _)| n == name) {
                    Some((_, old)) => *old = value,
                    None => self.env.push((name.to_string(), value)),
                }
            }
        }
    }

    /// Converts a line Debian accepts; the reason when cronq cannot.
    fn job(
        &mut self,
        line: usize,
        entry: debian::Entry,
        description: String,
    ) -> Result<(), String> {
        let schedule = match &entry.when {
            debian::When::Macro(word) => word.clone(),
            debian::When::Fields(fields) => {
                let (schedule, notes) = schedule_of(fields)?;
                for note in notes {
                    self.note(line, note);
                }
                schedule
            }
        };
        if let Some(user) = entry.user.as_ref().filter(|u| u.contains(char::is_control)) {
            return Err(format!(
                "the user `{}` holds a control character, which no user name has",
                Escaped(user)
            ));
        }
        let mut command = entry.command.as_str();
        if let Some(cut) = command.strip_suffix('\r') {
            self.carriage_returns.push(line);
            command = cut;
        }
        let (command, stdin) = debian::split_percent(command);
        let command = command.trim_end();
        if command.trim().is_empty() {
            self.note(
                line,
                "the line has no command, so Debian cron ran nothing for it; it is left out".into(),
            );
            return Ok(());
        }
        let first = command.split_whitespace().next();
        if let Some(word) =
            first.filter(|w| self.format == CrontabFormat::User && looks_like_field(w))
        {
            self.note(line, format!(
                "the command starts with `{word}`, which looks like a sixth time field: Debian cron reads five and runs `{word} …` as the command, and so does this job"
            ));
        }
        let shell_command = match stdin {
            None => command.to_string(),
            Some(stdin) => {
                self.note(line, STDIN_NOTE.into());
                feed_stdin(command, &stdin)
            }
        };
        let name = self.unique_name(&name::job_name(command));
        self.schedules.push(JobLine {
            line,
            schedule: schedule.clone(),
        });
        self.jobs.push(Job {
            name,
            description,
            schedule,
            user: entry.user,
            command: shell_command,
            shell: self.shell.clone(),
            mailto: self.mailto.as_deref().map(mail_addresses),
            env: self.env.clone(),
        });
        Ok(())
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

    fn finish(mut self) -> Imported {
        if let Some((&first, rest)) = self.carriage_returns.split_first() {
            let others = match rest.len() {
                0 => String::new(),
                n => format!(" (and {n} more lines)"),
            };
            self.note(first, format!(
                "the line{others} ends in a carriage return (a DOS line ending), which Debian cron passes to the shell as the command's last character; the converted command leaves it out"
            ));
            self.notes.sort_by_key(|n| n.line);
        }
        let header = "# Imported from a crontab by cronq import; check it with: cronq check\n";
        // One MAILTO over the whole file is one `notify` in `defaults`.
        let shared = match self.jobs.split_first() {
            Some((first, rest)) if rest.iter().all(|j| j.mailto == first.mailto) => {
                first.mailto.clone()
            }
            _ => None,
        };
        let mut yaml = header.to_string();
        if let Some(mailto) = &shared {
            yaml.push_str(&format!("defaults:\n{}", mail_notify(mailto, "  ")));
        }
        if self.jobs.is_empty() {
            yaml.push_str("jobs: {}\n");
        } else {
            yaml.push_str("jobs:\n");
            for job in &self.jobs {
                yaml.push_str(&entry(job, shared.is_some()));
            }
        }
        Imported {
            yaml,
            problems: self.problems,
            notes: self.notes,
            ignored: self.ignored,
            schedules: self.schedules,
        }
    }
}

/// The YAML entry under `jobs:` of a converted job; `shared_mailto` when `defaults:`
/// holds its `notify`.
fn entry(job: &Job, shared_mailto: bool) -> String {
    let mut entry = format!("  {}:\n", key(&job.name));
    let mut field = |key: &str, value: String| entry.push_str(&format!("    {key}: {value}\n"));
    if !job.description.is_empty() {
        field("description", quoted(&job.description));
    }
    field("schedule", quoted(&job.schedule));
    if let Some(user) = &job.user {
        field("user", quoted(user));
    }
    field(
        "command",
        match &job.shell {
            // cron runs `$SHELL -c command`; a string command runs under /bin/sh.
            Some(shell) if shell != "/bin/sh" => {
                format!("[{}, \"-c\", {}]", quoted(shell), quoted(&job.command))
            }
            _ => quoted(&job.command),
        },
    );
    if let Some(mailto) = job.mailto.as_ref().filter(|_| !shared_mailto) {
        entry.push_str(&mail_notify(mailto, "    "));
    }
    if !job.env.is_empty() {
        entry.push_str("    env:\n");
        for (name, value) in &job.env {
            entry.push_str(&format!("      {}: {}\n", key(name), quoted(value)));
        }
    }
    entry
}

/// The `schedule:` for Debian's reading of the five fields: as written when cronq
/// reads that text the same way, else what Debian read. With a note for each field
/// Debian read otherwise than written, and an error when the line never fires.
fn schedule_of(fields: &debian::Fields) -> Result<(String, Vec<String>), String> {
    const KINDS: [FieldKind; 5] = [
        FieldKind::Minute,
        FieldKind::Hour,
        FieldKind::DayOfMonth,
        FieldKind::Month,
        FieldKind::DayOfWeek,
    ];
    let mut notes = Vec::new();
    for ((kind, written), read) in KINDS.iter().zip(&fields.written).zip(&fields.read) {
        if written != read {
            let skipped = &written[read.len()..];
            notes.push(format!(
                "Debian cron reads the {kind} field `{written}` as `{read}`: it skips `{skipped}`, the rest of a field after what it can read; the job keeps what cron ran"
            ));
        }
    }
    let meaning = CronExpr::from(fields.meaning);
    let never = |e: crate::cron::ParseError| {
        format!("Debian cron accepts this line but never runs it: {e}")
    };
    let written = fields.read.join(" ");
    match written.parse::<Timing>() {
        Ok(Timing::Cron(expr)) if expr == meaning => return Ok((written, notes)),
        Err(e @ crate::cron::ParseError::NeverFires { .. }) => return Err(never(e)),
        _ => {}
    }
    // Written in values: a range that runs backwards (`5-1`) is no value at all.
    let f = fields.meaning;
    let or_ed = !f.dom_star && !f.dow_star;
    let days = match (f.days, f.weekdays) {
        (0, weekdays) if or_ed && weekdays != 0 => "*".to_string(),
        (days, _) => values(days, 1, 31),
    };
    let weekdays = match (f.days, f.weekdays) {
        (days, 0) if or_ed && days != 0 => "*".to_string(),
        (_, weekdays) => values(weekdays, 0, 6),
    };
    let star = |text: &String, star: bool, set: u64, lo, hi| {
        if star {
            text.clone()
        } else {
            values(set, lo, hi)
        }
    };
    let read = &fields.read;
    let parts = [
        star(&read[0], f.minute_star, f.minutes, 0, 59),
        star(&read[1], f.hour_star, f.hours, 0, 23),
        if f.dom_star { read[2].clone() } else { days },
        star(&read[3], read[3].starts_with('*'), f.months, 1, 12),
        if f.dow_star {
            read[4].clone()
        } else {
            weekdays
        },
    ];
    if let Some((kind, text)) = KINDS
        .iter()
        .zip(read)
        .zip(&parts)
        .find_map(|((k, t), p)| (p.is_empty()).then_some((k, t)))
    {
        return Err(format!(
            "Debian cron accepts this line but never runs it: the {kind} field `{text}` holds no value (a range that runs backwards is empty)"
        ));
    }
    let rendered = parts.join(" ");
    match rendered.parse::<Timing>() {
        Ok(Timing::Cron(_)) => {
            notes.push(format!(
                "Debian cron reads `{written}` as `{rendered}` (a range that runs backwards, such as `5-1`, is empty to it)"
            ));
            Ok((rendered, notes))
        }
        Err(e @ crate::cron::ParseError::NeverFires { .. }) => Err(never(e)),
        Err(e) => Err(e.to_string()),
        Ok(_) => Err(format!("`{rendered}` is no cron expression")),
    }
}

/// The values set in `set` between `lo` and `hi`, as a cron list with ranges: `1-5,7`.
fn values(set: u64, lo: u32, hi: u32) -> String {
    let mut items = Vec::new();
    let mut value = lo;
    while value <= hi {
        if set & (1 << value) == 0 {
            value += 1;
            continue;
        }
        let start = value;
        while value < hi && set & (1 << (value + 1)) != 0 {
            value += 1;
        }
        items.push(if start == value {
            start.to_string()
        } else {
            format!("{start}-{value}")
        });
        value += 1;
    }
    items.join(",")
}

/// A word that could be a time field: digits, `*`, `,`, `-`, `/`, or a day or month name.
fn looks_like_field(word: &str) -> bool {
    const NAMES: &str =
        "sun mon tue wed thu fri sat jan feb mar apr may jun jul aug sep oct nov dec";
    let numeric = word.contains(|c: char| c.is_ascii_digit() || c == '*')
        && word
            .chars()
            .all(|c| c.is_ascii_digit() || "*,-/".contains(c));
    numeric || NAMES.split(' ').any(|n| n.eq_ignore_ascii_case(word))
}

/// `printf '%s\n' 'line one' 'line two' | command`, in a subshell if it is a list;
/// `printf '%s' '…'` for input that does not end in a newline; the command alone for
/// no input, as cron gave it none.
fn feed_stdin(command: &str, input: &str) -> String {
    if input.is_empty() {
        return command.to_string();
    }
    let target = if !command.contains([';', '&', '|']) {
        command.to_string()
    } else if command.contains('#') {
        // A `#` comment would swallow the `)` on the same line.
        format!("({command}\n)")
    } else {
        format!("({command})")
    };
    match input.strip_suffix('\n') {
        Some(lines) => {
            let quoted: Vec<String> = lines.split('\n').map(sh_quote).collect();
            format!("printf '%s\\n' {} | {target}", quoted.join(" "))
        }
        None => format!("printf '%s' {} | {target}", sh_quote(input)),
    }
}

/// Single-quotes `text` for /bin/sh.
fn sh_quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', r"'\''"))
}

/// `MAILTO`'s addresses as an `email` target takes them: `a@x.org, b@x.org`. cron
/// splits on commas and blanks alike.
fn mail_addresses(mailto: &str) -> String {
    let to: Vec<&str> = mailto
        .split(|c: char| c == ',' || c.is_whitespace())
        .filter(|a| !a.is_empty())
        .collect();
    to.join(", ")
}

/// The `notify` key that stands in for cron's mail to `MAILTO`: one mail when the job
/// starts failing, indented by `indent`.
fn mail_notify(addresses: &str, indent: &str) -> String {
    format!(
        "{indent}notify:\n{indent}  - email: {}\n{indent}    on: [failing]\n",
        quoted(addresses)
    )
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
