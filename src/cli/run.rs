//! `cronq run`: queue a run of a job by hand and print its id; with `--wait`, follow it
//! and its retries to the end, streaming the output (the job's stdout to stdout, its
//! stderr to stderr), and exit with the job's code.
//!
//! Thin glue: the job is looked up (`manual`) in the schedule the daemons published,
//! else in the local file; the run is queued under the job's `concurrency` as a fire is
//! (`replace` stops the running run, `forbid` refuses while one runs or waits, `--force`
//! aside) and then only read back from the store. Nothing here
//! executes the job: a worker runs the command of its own copy of the schedule.

use std::collections::BTreeMap;
use std::io::{IsTerminal, Write};
use std::time::Duration;

use tokio::time::Instant;

use super::args::{Follow, RerunArgs, RunArgs, SettingsArgs};
use super::runs::{self, Naming};
use super::{CliError, Loaded, output};
use crate::eta::{self, TimeLeft};
use crate::manual;
use crate::schedule::{Concurrency, Schedule};
use crate::settings::Settings;
use crate::store::{
    Cancelled, Chunk, NewRun, PublishedSchedule, Run, RunStatus, Store, StoreError, Stream,
};

/// How often `--wait` reads the run and its output.
const POLL: Duration = Duration::from_millis(100);
/// How long a run may stay queued before `--wait` looks for a worker serving its queue.
const NO_WORKER_AFTER: Duration = Duration::from_secs(3);
/// How often it looks again, until it has said so once.
const WORKER_CHECK_EVERY: Duration = Duration::from_secs(1);
/// The exit code of a command stopped by Ctrl-C, as shells report it.
const INTERRUPTED: i32 = super::signals::INTERRUPTED as i32;
/// The progress line is cut to this many characters, so that `\r` redraws it in place.
const PROGRESS_WIDTH: usize = 79;

pub fn run(
    args: &RunArgs,
    settings: &SettingsArgs,
    env: &dyn Fn(&str) -> Option<String>,
) -> anyhow::Result<()> {
    let settings = Settings::resolve(settings.overrides(), env)?;
    let ask = Ask::Job {
        job: &args.job,
        args: args.args.clone(),
        env: parse_env(&args.env)?,
    };
    queue_and_follow(&settings, env, ask, &args.follow)
}

/// `cronq rerun RUN_ID`: a new run of the run's job with its args and env.
pub fn rerun(
    args: &RerunArgs,
    settings: &SettingsArgs,
    env: &dyn Fn(&str) -> Option<String>,
) -> anyhow::Result<()> {
    let settings = Settings::resolve(settings.overrides(), env)?;
    queue_and_follow(&settings, env, Ask::Rerun(&args.run), &args.follow)
}

/// What a run by hand repeats or brings.
enum Ask<'a> {
    /// `cronq run JOB [--env K=V]... [-- ARGS]`.
    Job {
        job: &'a str,
        args: Vec<String>,
        env: BTreeMap<String, String>,
    },
    /// `cronq rerun RUN_ID`: the run as it was named.
    Rerun(&'a str),
}

/// The run to queue for `ask` and the job's `concurrency`, the job looked up in the
/// published schedule and the local file (`manual`).
async fn new_run(
    store: &dyn Store,
    ask: Ask<'_>,
    settings: &Settings,
    env: &dyn Fn(&str) -> Option<String>,
) -> anyhow::Result<(NewRun, Option<Concurrency>)> {
    let made = match ask {
        Ask::Job {
            job,
            args,
            env: run_env,
        } => {
            let (published, local) = schedules(store, job, settings, env).await?;
            let request = manual::Request {
                job,
                args,
                env: run_env,
                by: manual::cli_user(),
            };
            manual::new_run(request, published.as_ref(), local.as_ref(), settings)
        }
        Ask::Rerun(typed) => {
            let old = runs::find(store, typed, Naming::IdOnly).await?;
            let (published, local) = schedules(store, &old.job, settings, env).await?;
            let by = manual::cli_user();
            manual::rerun(&old, by, published.as_ref(), local.as_ref(), settings)
        }
    };
    made.map_err(|refusal| CliError::Usage(refusal.to_string()).into())
}

/// Queues the run `ask` makes under the job's `concurrency`, then prints its id, or
/// with `wait` follows it and leaves with the job's exit code.
fn queue_and_follow(
    settings: &Settings,
    env: &dyn Fn(&str) -> Option<String>,
    ask: Ask<'_>,
    how: &Follow,
) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Runtime::new()?;
    let code = runtime.block_on(async {
        let store = settings.store.open(&settings.redis_prefix).await?;
        let (new_run, concurrency) = new_run(&*store, ask, settings, env).await?;
        super::pause::note_manual_run(&*store, &new_run.job).await?;
        let queued = manual::queue_by_policy(&*store, new_run, concurrency, how.force).await?;
        for id in &queued.replaced {
            output::note!("cronq: asked run {id} to stop (concurrency: replace)");
        }
        let run = match queued.run {
            Ok(run) => run,
            Err(busy) => {
                // The words the history records for a fire skipped this way.
                output::note!("skipped: {busy}");
                return Ok(1);
            }
        };
        if !how.wait {
            print_id(&run.id, how.json)?;
            return Ok(0);
        }
        // stdout carries the job's stdout alone, so the id goes to stderr.
        output::note!("cronq: run {} of {} queued", run.id, run.job);
        let patience = |job: &str| super::cancel::patience(settings, env, job);
        let on_interrupt = how.cancel_on_interrupt.then_some(&patience as &Patience);
        follow(&*store, run, on_interrupt).await
    });
    // Let go of the store before exiting; a blocking query is never left behind.
    runtime.shutdown_timeout(Duration::from_secs(1));
    leave(code?)
}

/// The job's exit code as cronq's own.
fn leave(code: i32) -> anyhow::Result<()> {
    // Exit codes are 8 bits; a code that would wrap to 0 still means failure.
    match code & 0xff {
        _ if code == 0 => Ok(()),
        0 => Err(CliError::Exit(1).into()),
        low => Err(CliError::Exit(low as u8).into()),
    }
}

fn print_id(id: &str, json: bool) -> anyhow::Result<()> {
    if json {
        output::json(&serde_json::json!({ "id": id }))
    } else {
        output::say!("{id}")
    }
}

/// `--env K=V`, each one.
fn parse_env(pairs: &[String]) -> Result<BTreeMap<String, String>, CliError> {
    pairs
        .iter()
        .map(|pair| match pair.split_once('=') {
            Some((name, value)) if !name.is_empty() && !name.contains('\0') => {
                Ok((name.to_string(), value.to_string()))
            }
            _ => Err(CliError::Usage(format!(
                "--env `{pair}`: expected NAME=VALUE, such as --env LEVEL=debug"
            ))),
        })
        .collect()
}

/// The published schedule and the local file, for looking `job` up. A local file that
/// does not load is passed over, with a warning, when the published schedule has the
/// job.
async fn schedules(
    store: &dyn Store,
    job: &str,
    settings: &Settings,
    env: &dyn Fn(&str) -> Option<String>,
) -> anyhow::Result<(Option<PublishedSchedule>, Option<Schedule>)> {
    let published = store.published().await?;
    let published_job = published
        .as_ref()
        .and_then(|schedule| schedule.jobs.iter().find(|j| j.name == job));
    let local = match local_schedule(settings, env) {
        Ok(local) => local,
        Err(error) if published_job.is_some() => {
            output::note!("cronq: warning: {error}; using the schedule the daemons published");
            None
        }
        Err(error) => return Err(error.into()),
    };
    Ok((published, local))
}

/// The local schedule file, loaded as every command loads it; `None` when there is no
/// such file.
pub(super) fn local_schedule(
    settings: &Settings,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Option<Schedule>, CliError> {
    match Loaded::of(settings.clone(), env) {
        Ok(loaded) => Ok(Some(loaded.schedule)),
        Err(CliError::NoSchedule(_)) => Ok(None),
        Err(error) => Err(error),
    }
}

/// Exit 2: says where the job was looked for, and the closest name known.
pub(super) fn unknown_job(
    name: &str,
    published: Option<&PublishedSchedule>,
    local: Option<&Schedule>,
    settings: &Settings,
) -> CliError {
    CliError::Usage(manual::unknown_job(name, published, local, settings).to_string())
}

/// How long a cancelled run of a job may take to end (`cancel::patience`).
type Patience<'a> = dyn Fn(&str) -> Duration + 'a;

/// Follows the run, then each retry of it, to the end: the exit code to leave with.
/// Ctrl-C detaches, or with `cancel_on_interrupt` cancels the run and waits for its end.
async fn follow(
    store: &dyn Store,
    first: Run,
    cancel_on_interrupt: Option<&Patience<'_>>,
) -> anyhow::Result<i32> {
    let mut screen = Screen::new();
    let interrupt = tokio::signal::ctrl_c();
    tokio::pin!(interrupt);
    let mut current = first;
    loop {
        let finished = tokio::select! {
            finished = watch(store, &current, &mut screen) => finished?,
            signal = &mut interrupt => {
                signal?;
                return interrupted(store, &current, cancel_on_interrupt, &mut screen).await;
            }
        };
        match manual::next_attempt(store, &finished).await? {
            Some(retry) => {
                let wait = retry
                    .not_before
                    .map(|at| (at - chrono::Utc::now()).num_milliseconds() as f64 / 1000.0)
                    .filter(|secs| *secs >= 1.0)
                    .map_or(String::new(), |secs| {
                        format!(", in {}", output::seconds(secs))
                    });
                screen.say(&format!(
                    "run {} {}; retrying (attempt {}) as run {}{wait}",
                    finished.id,
                    ending(&finished),
                    retry.attempt,
                    retry.id,
                ));
                current = retry;
            }
            None => return end(&finished, &mut screen),
        }
    }
}

/// Streams one run's output until the run is finished; the run as it finished.
async fn watch(store: &dyn Store, run: &Run, screen: &mut Screen) -> anyhow::Result<Run> {
    let since = Instant::now();
    let mut from = 0;
    let mut worker_checked: Option<Instant> = None;
    let mut said_no_worker = false;
    let mut durations: Option<Vec<f64>> = None;
    loop {
        // The run first: once it reads finished, the output read after it is complete,
        // since a worker stores the last of it before it records the end.
        let now = store.run(&run.id).await?;
        let output = store.output(&run.id, from).await?;
        if output.start > from {
            screen.say(&format!(
                "[{} bytes of output no longer kept]",
                output.start - from
            ));
        }
        for chunk in &output.chunks {
            screen.write(chunk);
        }
        from = output.end.max(from);
        if now.status.is_finished() {
            screen.clear();
            return Ok(now);
        }
        if now.status == RunStatus::Queued
            && !said_no_worker
            && since.elapsed() >= NO_WORKER_AFTER
            && worker_checked.is_none_or(|at| at.elapsed() >= WORKER_CHECK_EVERY)
        {
            worker_checked = Some(Instant::now());
            if !served(store, &now.queue).await? {
                screen.say(&format!("queued; no worker is serving queue {}", now.queue));
                said_no_worker = true;
            }
        }
        if screen.terminal && now.status == RunStatus::Running && now.progress.is_some() {
            if durations.is_none() {
                durations = Some(store.durations(&now.job, eta::HISTORY_RUNS).await?);
            }
            screen.progress(&progress_line(&now, durations.as_deref().unwrap_or(&[])));
        }
        tokio::time::sleep(POLL).await;
    }
}

/// Whether a live worker takes runs from `queue`.
async fn served(store: &dyn Store, queue: &str) -> Result<bool, StoreError> {
    let workers = store.workers().await?;
    Ok(workers
        .iter()
        .any(|worker| worker.queues.iter().any(|q| q == queue)))
}

/// The exit code for a run that ended for good: the job's own, else 1 with the status
/// and reason on stderr.
fn end(run: &Run, screen: &mut Screen) -> anyhow::Result<i32> {
    match (run.status, run.exit_code) {
        (RunStatus::Succeeded, _) => Ok(0),
        (RunStatus::Failed, Some(code)) if code != 0 => {
            screen.say(&format!("run {} {}", run.id, ending(run)));
            Ok(code)
        }
        _ => Err(CliError::Failed(format!("run {} {}", run.id, ending(run))).into()),
    }
}

/// How a run ended, in words: `failed with exit code 3`, `timed_out: …`.
fn ending(run: &Run) -> String {
    let mut words = run.status.to_string();
    if let Some(code) = run.exit_code {
        words.push_str(&format!(" with exit code {code}"));
    } else if let Some(signal) = run.signal {
        words.push_str(&format!(", killed by signal {signal}"));
    }
    if let Some(reason) = &run.reason {
        words.push_str(&format!(": {reason}"));
    }
    words
}

/// Ctrl-C: detach, saying how to follow or cancel the run; or cancel it and wait, up
/// to its `patience`, for it to end, as `cronq cancel` does. A second Ctrl-C stops the
/// wait.
async fn interrupted(
    store: &dyn Store,
    run: &Run,
    cancel: Option<&Patience<'_>>,
    screen: &mut Screen,
) -> anyhow::Result<i32> {
    let id = &run.id;
    let Some(patience) = cancel else {
        screen.say(&format!(
            "detached; run {id} goes on. Follow it with `cronq logs {id} --follow`, or stop it with `cronq cancel {id}`"
        ));
        return Ok(INTERRUPTED);
    };
    match store.cancel(id).await {
        Ok(Cancelled::Dequeued) => screen.say(&format!("cancelled run {id} (it was queued)")),
        Ok(Cancelled::Requested) => {
            let asked = Instant::now();
            screen.say(&format!("asked the worker to stop run {id}"));
            let deadline = asked + patience(&run.job);
            tokio::select! {
                ended = super::cancel::wait_for_end(store, id, deadline) => match ended? {
                    Some(run) => screen.say(&super::cancel::how_it_ended(&run, asked.elapsed())),
                    None => screen.say(&super::cancel::still_running(id, asked.elapsed()).to_string()),
                },
                _ = tokio::signal::ctrl_c() => {
                    screen.say(&format!("not waiting any longer; run {id} is being stopped"));
                }
            }
        }
        Err(StoreError::WrongStatus { status, .. }) => {
            screen.say(&format!("run {id} already {status}"))
        }
        Err(error) => return Err(error.into()),
    }
    Ok(INTERRUPTED)
}

/// `  40% copying, 45s left`.
fn progress_line(run: &Run, durations: &[f64]) -> String {
    let elapsed = run.duration_s(chrono::Utc::now()).unwrap_or(0.0);
    let mut line = match run.progress {
        Some(percent) => format!("{percent:>3}%"),
        None => "   ?".to_string(),
    };
    if let Some(message) = run.message.as_deref().filter(|m| !m.is_empty()) {
        line.push(' ');
        line.push_str(message);
    }
    match eta::time_left(elapsed, run.progress, durations) {
        TimeLeft::Seconds(secs) => line.push_str(&format!(", {} left", output::seconds(secs))),
        TimeLeft::Overdue => line.push_str(", overdue"),
        TimeLeft::Unknown => {}
    }
    line.chars().take(PROGRESS_WIDTH).collect()
}

/// stdout for the job's stdout; stderr for the job's stderr, cronq's words and, on a
/// terminal, a progress line redrawn in place.
struct Screen {
    /// stderr is a terminal: the progress line is drawn.
    terminal: bool,
    /// The progress line on screen now.
    shown: Option<String>,
    /// The job's output so far, on either stream, ends with a newline (or there is
    /// none): a progress line drawn now would not cut into a line of it.
    at_line_start: bool,
    /// stdout was closed (`| head`): the job's stdout is dropped, the run still followed.
    closed: bool,
}

impl Screen {
    fn new() -> Screen {
        Screen {
            terminal: std::io::stderr().is_terminal(),
            shown: None,
            at_line_start: true,
            closed: false,
        }
    }

    /// A chunk of the job's output, on the stream it came from, flushed at once so that
    /// the two interleave as the job wrote them.
    fn write(&mut self, chunk: &Chunk) {
        let bytes = &chunk.bytes;
        if bytes.is_empty() || (self.closed && chunk.stream == Stream::Stdout) {
            return;
        }
        self.clear();
        match chunk.stream {
            Stream::Stdout => {
                let mut out = std::io::stdout().lock();
                self.closed = out.write_all(bytes).and_then(|()| out.flush()).is_err();
            }
            Stream::Stderr => {
                // stderr is where cronq would report a failure to write: none is.
                let mut err = std::io::stderr().lock();
                let _ = err.write_all(bytes).and_then(|()| err.flush());
            }
        }
        self.at_line_start = bytes.ends_with(b"\n");
    }

    /// A line of cronq's own on stderr, under the job's output.
    fn say(&mut self, text: &str) {
        self.clear();
        if !self.at_line_start {
            output::note!("");
            self.at_line_start = true;
        }
        output::note!("cronq: {text}");
    }

    fn progress(&mut self, line: &str) {
        if !self.terminal || !self.at_line_start || self.shown.as_deref() == Some(line) {
            return;
        }
        output::note_part!("\r\x1b[K{line}");
        let _ = std::io::stderr().flush();
        self.shown = Some(line.to_string());
    }

    fn clear(&mut self) {
        if self.shown.take().is_some() {
            output::note_part!("\r\x1b[K");
            let _ = std::io::stderr().flush();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_pairs_split_at_the_first_equals_sign() {
        let env = parse_env(&["A=1".into(), "B=x=y".into(), "C=".into()]).unwrap();
        assert_eq!(env["B"], "x=y");
        assert_eq!(env["C"], "");
        assert!(parse_env(&["NOVALUE".into()]).is_err());
        assert!(parse_env(&["=v".into()]).is_err());
    }
}
