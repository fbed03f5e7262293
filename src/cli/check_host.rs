//! What `check` says about this host: a job whose `user`, `workdir` or program is
//! missing here, or whose `on_failure` or `email` notifications mail through a program
//! this host lacks. Only
//! warnings: the same schedule may be meant for other hosts, so the exit code stays 0.
//! Each points at the key that set the thing, in the job or in `defaults:`.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use crate::schedule::node::Position;
use crate::schedule::{Command, Diagnostic, Job, Schedule, diagnostic::Report};

/// Every warning about `schedule` on this host. `path` is the `PATH` a worker here
/// passes on to a job that sets none of its own.
pub fn warnings(schedule: &Schedule, file: &str, path: &str) -> Vec<Diagnostic> {
    let mut report = Report::new(file);
    for job in &schedule.jobs {
        for (at, message) in job_warnings(job, path) {
            report.warning(at, format!("job `{}`: {message}", job.name));
        }
    }
    let mut diagnostics = report.diagnostics;
    diagnostics.extend(missing_mailers(schedule, file, path));
    diagnostics.extend(missing_sendmail(schedule, file, path));
    diagnostics
}

/// One warning when jobs have `email` targets and this host has no `sendmail`, which
/// they are sent through.
fn missing_sendmail(schedule: &Schedule, file: &str, path: &str) -> Vec<Diagnostic> {
    let mailing = |job: &&Job| {
        job.notify
            .iter()
            .any(|target| matches!(target.to, crate::schedule::Target::Email(_)))
    };
    let jobs: Vec<&Job> = schedule.jobs.iter().filter(mailing).collect();
    let mut report = Report::new(file);
    if jobs.is_empty() || installed("sendmail", path) {
        return report.diagnostics;
    }
    let names: Vec<&str> = jobs.iter().take(3).map(|j| j.name.as_str()).collect();
    let more = match jobs.len() {
        n if n > 3 => format!(" and {} more", n - 3),
        _ => String::new(),
    };
    report.warning(
        jobs[0].at,
        format!(
            "`sendmail` is not on this host, so the email notifications of {} job(s) ({}{more}) reach no one; install an MTA (on Debian: exim4, postfix or msmtp-mta)",
            jobs.len(),
            names.join(", ")
        ),
    );
    report.diagnostics
}

/// Why a run of `job` would fail on this host, each with the key it comes from.
fn job_warnings(job: &Job, path: &str) -> Vec<(Position, String)> {
    let mut found = Vec::new();
    if let Some(user) = &job.user
        && let Ok(None) = nix::unistd::User::from_name(user)
    {
        found.push((
            job.keys_at.user,
            format!("there is no user `{user}` on this host, so its runs would fail here"),
        ));
    }
    let workdir = job.workdir.as_deref();
    let workdir_ok = match workdir.map(std::fs::metadata) {
        None => true,
        Some(Ok(meta)) if meta.is_dir() => true,
        Some(result) => {
            let dir = workdir.unwrap_or(Path::new("")).display();
            let why = match result {
                Ok(_) => "is not a directory",
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => "does not exist",
                // Unreadable to whoever runs `check`: the worker's user may see it.
                Err(_) => return found,
            };
            found.push((
                job.keys_at.workdir,
                format!("the workdir {dir} {why} on this host, so its runs would fail here"),
            ));
            false
        }
    };
    let Some(program) = first_program(&job.command) else {
        return found;
    };
    let search = job.env.get("PATH").map_or(path, String::as_str);
    let problem = match (program.contains('/'), workdir) {
        (true, _) if program.starts_with('/') => file_problem(Path::new(program)),
        // A relative path is taken from the workdir; without one, from the worker's.
        (true, Some(dir)) if workdir_ok => file_problem(&dir.join(program)),
        (true, _) => None,
        (false, _) => on_path(program, search).map(|problem| match problem {
            Problem::Missing => {
                format!("`{program}` is not found on the PATH the job gets ({search})")
            }
            Problem::NotExecutable(file) => format!("{} is not executable", file.display()),
        }),
    };
    if let Some(problem) = problem {
        found.push((
            job.keys_at.command,
            format!("the program {problem}, so its runs would fail here"),
        ));
    }
    found
}

enum Problem {
    Missing,
    NotExecutable(PathBuf),
}

/// What is wrong with running the file at `file`, as the end of "the program …".
fn file_problem(file: &Path) -> Option<String> {
    match std::fs::metadata(file) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            Some(format!("{} does not exist on this host", file.display()))
        }
        Err(_) => None,
        Ok(meta) if !executable(&meta) => Some(format!("{} is not executable", file.display())),
        Ok(_) => None,
    }
}

/// Looks `program` up in `path` as execvp does: the first executable file wins; when
/// there is none, a file of that name that is not executable is the reason.
fn on_path(program: &str, path: &str) -> Option<Problem> {
    let mut unusable = None;
    for dir in std::env::split_paths(path).filter(|d| !d.as_os_str().is_empty()) {
        let file = dir.join(program);
        match std::fs::metadata(&file) {
            Ok(meta) if executable(&meta) => return None,
            Ok(_) => {
                unusable.get_or_insert(file);
            }
            Err(_) => {}
        }
    }
    Some(unusable.map_or(Problem::Missing, Problem::NotExecutable))
}

fn executable(meta: &std::fs::Metadata) -> bool {
    meta.is_file() && meta.permissions().mode() & 0o111 != 0
}

/// Words that `/bin/sh` (or bash) runs itself, never looked up on the PATH.
const SHELL_WORDS: &[&str] = &[
    "!", "{", "}", "[", "[[", ".", ":", "alias", "bg", "break", "case", "cd", "command",
    "continue", "declare", "do", "done", "echo", "elif", "else", "eval", "exec", "exit", "export",
    "false", "fc", "fg", "fi", "for", "function", "getopts", "hash", "if", "jobs", "kill", "let",
    "local", "printf", "pwd", "read", "readonly", "return", "select", "set", "shift", "source",
    "test", "then", "time", "times", "trap", "true", "type", "typeset", "ulimit", "umask",
    "unalias", "unset", "until", "wait", "while",
];

/// The program a command starts: `command[0]` of an argv; in a shell line its first
/// word, unless the shell runs that word itself (a builtin, a keyword, `VAR=x`) or only
/// the shell can say what it is (quotes, `$`, globs, `~`).
pub fn first_program(command: &Command) -> Option<&str> {
    let text = match command {
        Command::Argv(argv) => return argv.first().map(String::as_str),
        Command::Shell(text) => text,
    };
    let word = text.split_whitespace().next()?;
    let word = &word[..word
        .find([';', '|', '&', '<', '>', '(', ')'])
        .unwrap_or(word.len())];
    let assignment = word.split_once('=').is_some_and(|(name, _)| {
        !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
    });
    let expanded = word.contains(['$', '`', '\'', '"', '\\', '*', '?', '~', '[', '{']);
    (!word.is_empty() && !assignment && !expanded && !SHELL_WORDS.contains(&word)).then_some(word)
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
            jobs[0].keys_at.on_failure,
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
    match program.contains('/') {
        true => std::fs::metadata(program).is_ok_and(|m| executable(&m)),
        false => on_path(program, path).is_none(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shell(text: &str) -> Option<String> {
        first_program(&Command::Shell(text.to_string())).map(str::to_string)
    }

    #[test]
    fn a_shell_line_names_its_first_program_unless_the_shell_runs_it() {
        assert_eq!(shell("backup --full | gzip").as_deref(), Some("backup"));
        assert_eq!(shell("df -h /;echo").as_deref(), Some("df"));
        assert_eq!(shell("/opt/x>out").as_deref(), Some("/opt/x"));
        for own in [
            "cd /srv && make",
            "if true; then x; fi",
            "[ -f x ] && y",
            "test -d /x",
            "exec foo",
            "VAR=x foo",
            "$HOME/bin/x",
            "\"quoted\" x",
            "~/bin/x",
            "(cd /x; y)",
            "{ a; }",
            "",
        ] {
            assert_eq!(shell(own), None, "{own}");
        }
    }
}
