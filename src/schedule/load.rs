//! Schedule text to [`Schedule`], reporting every problem of the file in one pass.
//!
//! Takes the text and the file's name; reads nothing from disk. The host's time zone
//! comes in as an argument for jobs that name none.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::PathBuf;
use std::sync::Arc;

use chrono_tz::Tz;

use super::diagnostic::{Diagnostic, Report, closest};
use super::job::{
    CatchUp, Command, Concurrency, DEFAULT_KEEP, DEFAULT_KILL_GRACE, DEFAULT_QUEUE,
    DEFAULT_STARTING_DEADLINE, Job, JobSchedule, JobSettings, Keep, KeysAt, Lock, Schedule, Stderr,
};
use super::node::{self, Key, Node, Piece, Position, Value};
use super::notify::{self, NotifyTarget};
use super::run_env;
use crate::cron::Timing;

/// Every key of a job. The first three make a job what it is; `defaults:` may set the rest.
const JOB_KEYS: &[&str] = &[
    "schedule",
    "command",
    "description",
    "timezone",
    "queue",
    "timeout",
    "kill_grace",
    "retries",
    "concurrency",
    "lock",
    "catch_up",
    "starting_deadline",
    "jitter",
    "env",
    "workdir",
    "user",
    "allow_args",
    "allow_env",
    "keep",
    "on_failure",
    "stderr",
    "notify",
    "remind",
    "ping",
];
const DEFAULT_KEYS: &[&str] = JOB_KEYS.split_at(3).1;

const TOP_KEYS: &[&str] = &["defaults", "jobs"];

/// Parses a schedule file. `file` is the name diagnostics print.
pub fn load(text: &str, file: &str, host_zone: Tz) -> Result<Schedule, Vec<Diagnostic>> {
    let mut loader = Loader::new(file, host_zone, None);
    let whole = node::parse_streaming(text, "jobs", &mut |piece| loader.take(piece));
    if let Some(defaults) = loader.late_defaults.take() {
        // `defaults:` came below jobs that were built without it: read the file again,
        // knowing them. Only files written in that order pay for a second pass.
        loader = Loader::new(file, host_zone, Some(&defaults));
        let again = node::parse_streaming(text, "jobs", &mut |piece| loader.take(piece));
        // The same text: a syntax error (reported below) stops this pass where it
        // stopped the first.
        debug_assert!(
            matches!((&whole, &again), (Ok(None), Ok(None)) | (Err(_), Err(_))),
            "the second pass reads what the first read"
        );
    }
    match whole {
        Ok(None) => {}
        Ok(Some(not_a_mapping)) => {
            loader
                .report
                .entries(&not_a_mapping, "the schedule", TOP_KEYS);
            loader.first_key_at = Some(not_a_mapping.at);
        }
        Err(syntax) => {
            loader.report.error(syntax.at, syntax.message);
            return Err(loader.report.diagnostics);
        }
    }
    loader.finish(text)
}

/// Reads a schedule piece by piece, building each job as soon as it is read, so that
/// what stays in memory is the jobs alone.
struct Loader {
    report: Report,
    host_zone: Tz,
    defaults: Spec,
    /// `defaults:` was read before the run, by an earlier pass: its entry is skipped.
    preset: bool,
    /// The `defaults:` node when it came below jobs that were built without it.
    late_defaults: Option<Node>,
    /// Where the document starts, for a problem with the file as a whole.
    first_key_at: Option<Position>,
    /// The top-level keys read so far, and their lines.
    top_keys: Vec<(String, u64)>,
    /// Job names read so far and their lines: duplicates are found by hash, not by scan.
    names: HashMap<String, u64>,
    jobs: Vec<Job>,
    shared: Shared,
}

/// One copy of each distinct schedule and set of settings, for the jobs to share.
#[derive(Default)]
struct Shared {
    schedules: HashMap<String, Arc<JobSchedule>>,
    settings: HashSet<Arc<JobSettings>>,
}

impl Shared {
    fn schedule(&mut self, schedule: JobSchedule) -> Arc<JobSchedule> {
        if let Some(same) = self.schedules.get(&schedule.text) {
            return Arc::clone(same);
        }
        let shared = Arc::new(schedule);
        self.schedules
            .insert(shared.text.clone(), Arc::clone(&shared));
        shared
    }

    fn settings(&mut self, settings: JobSettings) -> Arc<JobSettings> {
        if let Some(same) = self.settings.get(&settings) {
            return Arc::clone(same);
        }
        let shared = Arc::new(settings);
        self.settings.insert(Arc::clone(&shared));
        shared
    }
}

impl Loader {
    fn new(file: &str, host_zone: Tz, preset: Option<&Node>) -> Loader {
        let mut report = Report::new(file);
        let defaults = preset
            .map(|node| read_spec(&mut report, node, "`defaults`", DEFAULT_KEYS))
            .unwrap_or_default();
        Loader {
            report,
            host_zone,
            defaults,
            preset: preset.is_some(),
            late_defaults: None,
            first_key_at: None,
            top_keys: Vec::new(),
            names: HashMap::new(),
            jobs: Vec::new(),
            shared: Shared::default(),
        }
    }

    fn take(&mut self, piece: Piece) {
        match piece {
            Piece::Top(key, value) => self.top(key, value),
            Piece::Entry(name, value) => self.job(name, value),
        }
    }

    fn top(&mut self, key: Key, value: Node) {
        self.first_key_at.get_or_insert(key.at);
        let first = self.top_keys.iter().find(|(name, _)| *name == key.name);
        if !self
            .report
            .admit(&key, first.map(|(_, line)| *line), "the schedule", TOP_KEYS)
        {
            return;
        }
        self.top_keys.push((key.name.clone(), key.at.line));
        match key.name.as_str() {
            "defaults" if self.preset => {}
            "defaults" if !self.names.is_empty() => self.late_defaults = Some(value),
            "defaults" => {
                self.defaults = read_spec(&mut self.report, &value, "`defaults`", DEFAULT_KEYS);
            }
            // A mapping was handed out entry by entry; anything else is reported here.
            _ => drop(self.report.entries(&value, "`jobs`", &[])),
        }
    }

    fn job(&mut self, name: Key, value: Node) {
        let first = self.names.get(&name.name).copied();
        if !self.report.admit(&name, first, "`jobs`", &[]) {
            return;
        }
        self.names.insert(name.name.clone(), name.at.line);
        let what = format!("job `{}`", name.name);
        if let Err(message) = check_job_name(&name.name) {
            self.report.error(name.at, message);
        }
        let spec = read_spec(&mut self.report, &value, &what, JOB_KEYS);
        let Some(command) = spec.command.clone() else {
            let missing = match &value.value {
                Value::Map(entries) => !entries.iter().any(|(k, _)| k.name == "command"),
                Value::Null => true,
                _ => false, // already reported as not a mapping
            };
            if missing {
                self.report.error(
                    name.at,
                    format!("{what} has no `command`; every job needs one"),
                );
            }
            return;
        };
        let job = self.defaults.clone().overlaid_by(spec).into_job(
            name.name,
            name.at,
            command,
            self.host_zone,
            &mut self.shared,
        );
        self.jobs.push(job);
    }

    fn finish(mut self, text: &str) -> Result<Schedule, Vec<Diagnostic>> {
        if !self.top_keys.iter().any(|(name, _)| name == "jobs") {
            let at = self.first_key_at.unwrap_or(Position { line: 1, column: 1 });
            self.report.error(
                at,
                "the schedule has no `jobs:` mapping; expected `jobs:` with one entry per job",
            );
        }
        self.report.finish()?;
        // The vector grew by doubling; 100,000 jobs should not carry room for 131,072.
        self.jobs.shrink_to_fit();
        Ok(Schedule {
            jobs: self.jobs,
            hash: format!("{:016x}", super::job::fnv1a(text.as_bytes())),
        })
    }
}

/// Job names appear in commands, lock files and store keys: keep them plain.
fn check_job_name(name: &str) -> Result<(), String> {
    let plain = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.');
    if name.is_empty() || !name.chars().all(plain) || name.starts_with(['-', '.']) {
        return Err(format!(
            "job name `{name}` must be letters, digits, `-`, `_` and `.`, not starting with `-` or `.`"
        ));
    }
    Ok(())
}

/// The keys of one job, or of `defaults:`, as far as they were given.
#[derive(Clone, Default)]
struct Spec {
    schedule: Option<JobSchedule>,
    command: Option<Command>,
    description: Option<String>,
    timezone: Option<Tz>,
    queue: Option<String>,
    timeout: Option<std::time::Duration>,
    kill_grace: Option<std::time::Duration>,
    retries: Option<u32>,
    concurrency: Option<Concurrency>,
    lock: Option<Lock>,
    catch_up: Option<CatchUp>,
    starting_deadline: Option<std::time::Duration>,
    jitter: Option<std::time::Duration>,
    env: BTreeMap<String, String>,
    workdir: Option<PathBuf>,
    user: Option<String>,
    allow_args: Option<bool>,
    allow_env: Option<Vec<String>>,
    keep: KeepSpec,
    on_failure: Option<Command>,
    stderr: Option<Stderr>,
    notify: Option<Vec<NotifyTarget>>,
    remind: Option<std::time::Duration>,
    ping: Option<String>,
    keys_at: KeysAtSpec,
}

/// Where the keys of [`KeysAt`] were written, as far as they were.
#[derive(Clone, Copy, Default)]
struct KeysAtSpec {
    command: Option<Position>,
    workdir: Option<Position>,
    user: Option<Position>,
    on_failure: Option<Position>,
}

#[derive(Clone, Copy, Default)]
struct KeepSpec {
    succeeded: Option<u32>,
    failed: Option<u32>,
    max_age: Option<std::time::Duration>,
}

fn read_spec(report: &mut Report, node: &Node, what: &str, known: &[&str]) -> Spec {
    let mut spec = Spec::default();
    for (key, value) in report.entries(node, what, known) {
        spec.keys_at.note(&key.name, key.at);
        match key.name.as_str() {
            "schedule" => spec.schedule = report.read(value, read_schedule),
            "command" => spec.command = report.read(value, |n| read_command(n, "command")),
            "description" => spec.description = report.read(value, Node::string),
            "timezone" => spec.timezone = report.read(value, read_zone),
            "queue" => spec.queue = report.read(value, read_queue),
            "timeout" => spec.timeout = report.read(value, positive_duration),
            "kill_grace" => spec.kill_grace = report.read(value, Node::duration),
            "retries" => spec.retries = report.read(value, Node::count),
            "concurrency" => {
                spec.concurrency = report.read(value, |n| n.choice(Concurrency::CHOICES))
            }
            "lock" => spec.lock = report.read(value, |n| n.choice(Lock::CHOICES)),
            "catch_up" => spec.catch_up = report.read(value, |n| n.choice(CatchUp::CHOICES)),
            "starting_deadline" => spec.starting_deadline = report.read(value, Node::duration),
            "jitter" => spec.jitter = report.read(value, Node::duration),
            "env" => spec.env = read_env(report, value, what),
            "workdir" => spec.workdir = report.read(value, read_workdir),
            "user" => spec.user = report.read(value, read_user),
            "allow_args" => spec.allow_args = report.read(value, Node::boolean),
            "allow_env" => spec.allow_env = read_allow_env(report, value),
            "keep" => spec.keep = read_keep(report, value, what),
            "on_failure" => spec.on_failure = report.read(value, |n| read_command(n, "on_failure")),
            "stderr" => spec.stderr = report.read(value, |n| n.choice(Stderr::CHOICES)),
            "notify" => spec.notify = notify::read_notify(report, value, what),
            "remind" => spec.remind = report.read(value, positive_duration),
            "ping" => spec.ping = report.read(value, |n| notify::url(n, "ping")),
            other => unreachable!("`{other}` passed the known-key filter without a reader"),
        }
    }
    spec
}

fn read_schedule(node: &Node) -> Result<JobSchedule, String> {
    let text = node.string()?;
    let timing: Timing = text
        .parse()
        .map_err(|e| format!("invalid schedule `{text}`: {e}"))?;
    Ok(JobSchedule { text, timing })
}

pub(super) fn read_command(node: &Node, key: &str) -> Result<Command, String> {
    match &node.value {
        Value::Str(line) if line.trim().is_empty() => Err("the command is empty".into()),
        Value::Str(line) if line.contains('\0') => Err(format!(
            "`{key}` holds a NUL character (`\\0`), which a command line cannot carry"
        )),
        Value::Str(line) => Ok(Command::Shell(line.clone())),
        Value::Seq(items) => {
            let argv = items
                .iter()
                .map(Node::scalar_text)
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| format!("each argument of the command must be a string: {e}"))?;
            if let Some(n) = argv.iter().position(|arg| arg.contains('\0')) {
                return Err(format!(
                    "argument {} of `{key}` holds a NUL character (`\\0`), which a program's argument cannot carry",
                    n + 1
                ));
            }
            match argv.first() {
                None => Err("the command is empty".into()),
                Some(program) if program.is_empty() => Err("the command's program is empty".into()),
                Some(_) => Ok(Command::Argv(argv)),
            }
        }
        other => Err(format!(
            "expected a command: a list of arguments, or a string for /bin/sh -c; found {}",
            other.kind()
        )),
    }
}

fn read_zone(node: &Node) -> Result<Tz, String> {
    parse_zone(&node.string()?)
}

/// An IANA zone name, with a suggestion when it looks like a typo.
pub fn parse_zone(name: &str) -> Result<Tz, String> {
    name.parse().map_err(|_| {
        let hint = closest(name, chrono_tz::TZ_VARIANTS.iter().map(|tz| tz.name()))
            .map(|near| format!(" (did you mean {near}?)"))
            .unwrap_or_default();
        format!(
            "unknown time zone `{name}`{hint}; expected an IANA name such as Europe/Berlin or UTC"
        )
    })
}

fn read_queue(node: &Node) -> Result<String, String> {
    let queue = non_empty(node)?;
    let plain = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.');
    if !queue.chars().all(plain) {
        return Err(format!(
            "queue name `{queue}` must be letters, digits, `-`, `_` and `.`"
        ));
    }
    Ok(queue)
}

fn positive_duration(node: &Node) -> Result<std::time::Duration, String> {
    let duration = node.duration()?;
    if duration.is_zero() {
        return Err("the duration must be longer than zero".into());
    }
    Ok(duration)
}

/// A directory to run in. A path is a C string to the kernel: it cannot hold a NUL, and
/// one there would pass `check` only to fail every run.
fn read_workdir(node: &Node) -> Result<PathBuf, String> {
    let path = non_empty(node)?;
    if path.contains('\0') {
        return Err("`workdir` holds a NUL character (`\\0`), which a path cannot carry".into());
    }
    Ok(PathBuf::from(path))
}

/// A user name to run as: no user name holds a control character.
fn read_user(node: &Node) -> Result<String, String> {
    let user = non_empty(node)?;
    if let Some(c) = user.chars().find(|c| c.is_control()) {
        return Err(format!(
            "`user` holds the control character {}, which no user name has",
            c.escape_default()
        ));
    }
    Ok(user)
}

fn non_empty(node: &Node) -> Result<String, String> {
    let text = node.string()?;
    if text.trim().is_empty() {
        return Err("expected a value, found an empty string".into());
    }
    Ok(text)
}

fn read_env(report: &mut Report, node: &Node, what: &str) -> BTreeMap<String, String> {
    let mut env = BTreeMap::new();
    for (key, value) in report.entries(node, &format!("the `env` of {what}"), &[]) {
        if key.name.is_empty() || key.name.contains('=') || key.name.contains('\0') {
            report.error(
                key.at,
                format!("`{}` is not a valid environment variable name", key.name),
            );
        } else if let Some(text) = report.read(value, |n| env_value(n, &key.name)) {
            env.insert(key.name.clone(), text);
        }
    }
    env
}

/// `allow_env: [LEVEL, TARGET_DATE]`: each a plain name that changes nothing of what
/// is executed (see `run_env.rs`), each reported at its own position.
fn read_allow_env(report: &mut Report, node: &Node) -> Option<Vec<String>> {
    let Value::Seq(items) = &node.value else {
        report.error(
            node.at,
            format!(
                "expected a list of variable names, such as [LEVEL, TARGET_DATE]; found {}",
                node.value.kind()
            ),
        );
        return None;
    };
    let mut names: Vec<String> = Vec::with_capacity(items.len());
    for item in items {
        let name = report.read(item, |item| {
            let name = item.string()?;
            run_env::check_allowed_name(&name)?;
            Ok(name)
        });
        if let Some(name) = name.filter(|name| !names.contains(name)) {
            names.push(name);
        }
    }
    Some(names)
}

/// An environment variable's value: a C string to the kernel, so never with a NUL.
fn env_value(node: &Node, name: &str) -> Result<String, String> {
    let text = node.scalar_text()?;
    if text.contains('\0') {
        return Err(format!(
            "the value of `{name}` in `env` holds a NUL character (`\\0`), which an environment variable cannot carry"
        ));
    }
    Ok(text)
}

fn read_keep(report: &mut Report, node: &Node, what: &str) -> KeepSpec {
    let mut keep = KeepSpec::default();
    let known = ["succeeded", "failed", "max_age"];
    for (key, value) in report.entries(node, &format!("the `keep` of {what}"), &known) {
        match key.name.as_str() {
            "succeeded" => keep.succeeded = report.read(value, Node::count),
            "failed" => keep.failed = report.read(value, Node::count),
            _ => keep.max_age = report.read(value, positive_duration),
        }
    }
    keep
}

impl KeysAtSpec {
    /// Notes where `key` was written, if it is one of [`KeysAt`]'s.
    fn note(&mut self, key: &str, at: Position) {
        let slot = match key {
            "command" => &mut self.command,
            "workdir" => &mut self.workdir,
            "user" => &mut self.user,
            "on_failure" => &mut self.on_failure,
            _ => return,
        };
        *slot = Some(at);
    }
}

impl Spec {
    /// These settings with `job`'s on top: a job's own key wins; `env` merges by name.
    fn overlaid_by(self, job: Spec) -> Spec {
        let mut env = self.env;
        env.extend(job.env);
        Spec {
            schedule: job.schedule.or(self.schedule),
            command: job.command.or(self.command),
            description: job.description.or(self.description),
            timezone: job.timezone.or(self.timezone),
            queue: job.queue.or(self.queue),
            timeout: job.timeout.or(self.timeout),
            kill_grace: job.kill_grace.or(self.kill_grace),
            retries: job.retries.or(self.retries),
            concurrency: job.concurrency.or(self.concurrency),
            lock: job.lock.or(self.lock),
            catch_up: job.catch_up.or(self.catch_up),
            starting_deadline: job.starting_deadline.or(self.starting_deadline),
            jitter: job.jitter.or(self.jitter),
            env,
            workdir: job.workdir.or(self.workdir),
            user: job.user.or(self.user),
            allow_args: job.allow_args.or(self.allow_args),
            allow_env: job.allow_env.or(self.allow_env),
            keep: KeepSpec {
                succeeded: job.keep.succeeded.or(self.keep.succeeded),
                failed: job.keep.failed.or(self.keep.failed),
                max_age: job.keep.max_age.or(self.keep.max_age),
            },
            on_failure: job.on_failure.or(self.on_failure),
            stderr: job.stderr.or(self.stderr),
            notify: job.notify.or(self.notify),
            remind: job.remind.or(self.remind),
            ping: job.ping.or(self.ping),
            keys_at: KeysAtSpec {
                command: job.keys_at.command.or(self.keys_at.command),
                workdir: job.keys_at.workdir.or(self.keys_at.workdir),
                user: job.keys_at.user.or(self.keys_at.user),
                on_failure: job.keys_at.on_failure.or(self.keys_at.on_failure),
            },
        }
    }

    /// The job with cronq's defaults for whatever neither it nor `defaults:` set.
    fn into_job(
        self,
        name: String,
        at: Position,
        command: Command,
        host_zone: Tz,
        shared: &mut Shared,
    ) -> Job {
        let keys_at = KeysAt {
            command: self.keys_at.command.unwrap_or(at),
            workdir: self.keys_at.workdir.unwrap_or(at),
            user: self.keys_at.user.unwrap_or(at),
            on_failure: self.keys_at.on_failure.unwrap_or(at),
        };
        let settings = JobSettings {
            timezone: self.timezone.unwrap_or(host_zone),
            queue: self.queue.unwrap_or_else(|| DEFAULT_QUEUE.to_string()),
            timeout: self.timeout,
            kill_grace: self.kill_grace.unwrap_or(DEFAULT_KILL_GRACE),
            retries: self.retries.unwrap_or(0),
            concurrency: self.concurrency.unwrap_or(Concurrency::Forbid),
            lock: self.lock.unwrap_or(Lock::Cluster),
            catch_up: self.catch_up.unwrap_or(CatchUp::Once),
            starting_deadline: self.starting_deadline.unwrap_or(DEFAULT_STARTING_DEADLINE),
            jitter: self.jitter.unwrap_or_default(),
            env: self.env,
            workdir: self.workdir,
            user: self.user,
            allow_args: self.allow_args.unwrap_or(false),
            allow_env: self.allow_env.unwrap_or_default(),
            keep: Keep {
                succeeded: self.keep.succeeded.unwrap_or(DEFAULT_KEEP.succeeded),
                failed: self.keep.failed.unwrap_or(DEFAULT_KEEP.failed),
                max_age: self.keep.max_age.unwrap_or(DEFAULT_KEEP.max_age),
            },
            on_failure: self.on_failure,
            stderr: self.stderr.unwrap_or(Stderr::Separate),
            notify: self.notify.unwrap_or_default(),
            remind: self.remind,
        };
        Job {
            name,
            at,
            keys_at,
            schedule: self.schedule.map(|schedule| shared.schedule(schedule)),
            command,
            description: self.description,
            ping: self.ping,
            settings: shared.settings(settings),
        }
    }
}
