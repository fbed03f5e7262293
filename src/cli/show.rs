//! `cronq show`: every field of one run, then the tail of its output as the store keeps
//! it, stdout and stderr interleaved as written. `--json` is the run object of DESIGN §6
//! plus `"output"`, the same bytes as text.

use std::io::Write;

use chrono::{DateTime, Utc};

use super::args::ShowArgs;
use super::output;
use super::runs::{Naming, exit, find};
use crate::eta::TimeLeft;
use crate::report::{self, TimeLeftOf};
use crate::settings::Settings;
use crate::store::{Output, Run};

pub fn run(
    args: &ShowArgs,
    settings: &Settings,
    env: &dyn Fn(&str) -> Option<String>,
) -> anyhow::Result<()> {
    let zone = output::Zone::of(args.local, env)?;
    tokio::runtime::Runtime::new()?.block_on(async {
        let store = settings.store.open_to_read(&settings.redis_prefix).await?;
        let run = find(store.as_ref(), &args.run_id, Naming::IdOrJob).await?;
        let now = Utc::now();
        if args.json {
            output::json(&report::show_json(store.as_ref(), &run, now).await?)?;
        } else {
            let tail = store.output(&run.id, 0).await?;
            let left = TimeLeftOf::default().run(store.as_ref(), &run, now).await?;
            print(&run, &tail, now, left, zone, &settings.store.shown())?;
        }
        Ok(())
    })
}

/// The fields one per line, names aligned, then the output as raw bytes.
fn print(
    run: &Run,
    tail: &Output,
    now: DateTime<Utc>,
    left: Option<TimeLeft>,
    zone: output::Zone,
    store: &str,
) -> anyhow::Result<()> {
    let mut fields = fields(run, now, left, zone);
    // Which store the run was read from, as `status` and `history` say it.
    fields.push(("store", store.to_string()));
    let width = fields.iter().map(|(name, _)| name.len()).max().unwrap_or(0) + 1;
    let mut text = String::new();
    for (name, value) in &fields {
        text.push_str(&format!("{:<width$} {value}\n", format!("{name}:")));
    }
    text.push_str(&output_heading(tail));
    text.push('\n');
    let bytes = tail.bytes();
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())
        .and_then(|()| {
            out.write_all(&bytes)?;
            if bytes.last().is_some_and(|b| *b != b'\n') {
                out.write_all(b"\n")?;
            }
            out.flush()
        })
        .map_err(output::stdout_error)
}

/// `output:`, and what it lacks: nothing written yet, or the bytes the tail dropped.
fn output_heading(tail: &Output) -> String {
    match (tail.end, tail.start) {
        (0, _) => "output: (none)".into(),
        (_, 0) => "output:".into(),
        (end, dropped) => format!(
            "output: (the last {} of {end} bytes; the first {dropped} are no longer kept)",
            end - dropped
        ),
    }
}

/// Every field of the run, as `(name, value)`; `-` for one it does not have.
fn fields(
    run: &Run,
    now: DateTime<Utc>,
    left: Option<TimeLeft>,
    zone: output::Zone,
) -> Vec<(&'static str, String)> {
    let dash = || "-".to_string();
    let at = |at: &Option<DateTime<Utc>>| at.as_ref().map_or_else(dash, |at| zone.instant(at));
    let text = |value: &Option<String>| value.clone().unwrap_or_else(dash);
    let mut fields = vec![
        ("id", run.id.clone()),
        ("job", run.job.clone()),
        ("queue", run.queue.clone()),
        ("status", run.status.to_string()),
        ("trigger", run.trigger.as_str().to_string()),
    ];
    if let Some(by) = &run.by {
        // Who asked for a run by hand; a fired run has no such line.
        fields.push(("by", by.clone()));
    }
    if run.forced {
        fields.push((
            "forced",
            "yes: `cronq run --force` started it past `concurrency: forbid`".into(),
        ));
    }
    if let Some(rerun_of) = run.rerun_of() {
        // `cronq rerun`: the run it repeats.
        fields.push(("rerun of", rerun_of.to_string()));
    }
    fields.extend([
        ("scheduled for", at(&run.scheduled_for)),
        ("attempt", format!("{}/{}", run.attempt, run.max_attempts)),
        ("retry of", run.retry_of().unwrap_or("-").to_string()),
        ("host", text(&run.host)),
        ("worker", text(&run.worker)),
        ("exit", exit(run)),
        ("queued at", zone.instant(&run.queued_at)),
        ("not before", at(&run.not_before)),
        ("started at", at(&run.started_at)),
        ("finished at", at(&run.finished_at)),
        (
            "duration",
            run.duration_s(now).map_or_else(dash, output::seconds),
        ),
        (
            "progress",
            run.progress.map_or_else(dash, |p| format!("{p}%")),
        ),
        ("message", text(&run.message)),
    ]);
    if let Some(left) = left {
        let left = match left {
            TimeLeft::Seconds(secs) => output::seconds(secs),
            TimeLeft::Overdue => "overdue".into(),
            TimeLeft::Unknown => "unknown".into(),
        };
        fields.push(("time left", left));
    }
    let lock = run.lock.as_ref().map_or_else(dash, |lock| {
        format!("{} (when busy: {})", lock.name, lock.on_busy.as_str())
    });
    let env: Vec<String> = run.env.iter().map(|(k, v)| format!("{k}={v}")).collect();
    fields.extend([
        ("reason", text(&run.reason)),
        ("args", words(&run.args)),
        ("env", words(&env)),
        ("lock", lock),
        (
            "cancel requested",
            if run.cancel_requested { "yes" } else { "no" }.into(),
        ),
    ]);
    fields
}

/// Words separated by spaces, each quoted when it would not read as one word.
fn words(words: &[String]) -> String {
    if words.is_empty() {
        return "-".into();
    }
    let quoted: Vec<String> = words
        .iter()
        .map(|word| {
            if word.is_empty() || word.contains(|c: char| c.is_whitespace() || c == '"') {
                format!("{word:?}")
            } else {
                word.clone()
            }
        })
        .collect();
    quoted.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_heading_says_what_the_tail_lacks() {
        let tail = |start, end| Output {
            start,
            chunks: Vec::new(),
            end,
        };
        assert_eq!(output_heading(&tail(0, 0)), "output: (none)");
        assert_eq!(output_heading(&tail(0, 12)), "output:");
        assert_eq!(
            output_heading(&tail(100, 1124)),
            "output: (the last 1024 of 1124 bytes; the first 100 are no longer kept)"
        );
    }

    #[test]
    fn words_are_quoted_only_when_needed() {
        let list = |items: &[&str]| items.iter().map(ToString::to_string).collect::<Vec<_>>();
        assert_eq!(words(&[]), "-");
        assert_eq!(words(&list(&["--full", "a b", ""])), r#"--full "a b" """#);
    }
}
