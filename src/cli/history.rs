//! `cronq history`: past and current runs, newest first, as a table or `{"runs": [...]}`.
//! Also the pieces `show` and `logs` share with it: opening the store on a runtime, a
//! run looked up by the id a person typed, and a run's time left.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use nix::sys::signal::Signal;

use super::args::HistoryArgs;
use super::{CliError, output};
use crate::eta::{self, TimeLeft};
use crate::settings::Settings;
use crate::store::{HistoryFilter, Run, RunStatus, Store, StoreError};

pub fn run(args: &HistoryArgs, settings: &Settings) -> anyhow::Result<()> {
    let filter = filter(args, Utc::now())?;
    tokio::runtime::Runtime::new()?.block_on(async {
        let store = open(settings).await?;
        let runs = store.history(&filter).await?;
        let now = Utc::now();
        if args.json {
            let mut past = HashMap::new();
            let mut documents = Vec::with_capacity(runs.len());
            for run in &runs {
                let left = time_left_cached(store.as_ref(), run, now, &mut past).await?;
                documents.push(output::run_json(run, now, left));
            }
            output::json(&serde_json::json!({ "runs": documents }));
        } else if runs.is_empty() {
            eprintln!("no runs");
        } else {
            let rows: Vec<Vec<String>> = runs.iter().map(|run| row(run, now)).collect();
            output::table(
                &[
                    "RUN", "JOB", "STATUS", "TRIGGER", "STARTED", "DURATION", "EXIT", "ATTEMPT",
                    "HOST",
                ],
                &rows,
            );
        }
        Ok(())
    })
}

/// The store query the flags ask for; `now` anchors `--since`.
fn filter(args: &HistoryArgs, now: DateTime<Utc>) -> Result<HistoryFilter, CliError> {
    let statuses = match (&args.status, args.failed) {
        (Some(text), _) => vec![parse_status(text)?],
        (None, true) => RunStatus::FAILURES.to_vec(),
        (None, false) => Vec::new(),
    };
    let since = match args.since {
        None => None,
        Some(ago) => Some(
            chrono::Duration::from_std(ago)
                .ok()
                .and_then(|ago| now.checked_sub_signed(ago))
                .ok_or_else(|| CliError::Usage(format!("--since {ago:?} reaches too far back")))?,
        ),
    };
    Ok(HistoryFilter {
        job: args.job.clone(),
        statuses,
        since,
        limit: args.limit,
    })
}

fn parse_status(text: &str) -> Result<RunStatus, CliError> {
    RunStatus::parse(&text.to_ascii_lowercase()).ok_or_else(|| {
        let names: Vec<&str> = RunStatus::ALL.iter().map(|s| s.as_str()).collect();
        CliError::Usage(format!(
            "`{text}` is not a run status; expected one of {}",
            names.join(", ")
        ))
    })
}

/// One line of the table.
fn row(run: &Run, now: DateTime<Utc>) -> Vec<String> {
    let started = run.started_at.unwrap_or(run.queued_at);
    vec![
        run.id.clone(),
        run.job.clone(),
        run.status.to_string(),
        run.trigger.as_str().to_string(),
        output::clock(&started),
        run.duration_s(now)
            .map_or_else(|| "-".into(), output::seconds),
        exit(run),
        format!("{}/{}", run.attempt, run.max_attempts),
        run.host.clone().unwrap_or_else(|| "-".into()),
    ]
}

/// The exit code, else the signal that ended the job by name (`SIGTERM`), else `-`.
pub(super) fn exit(run: &Run) -> String {
    match (run.exit_code, run.signal) {
        (Some(code), _) => code.to_string(),
        (None, Some(number)) => Signal::try_from(number)
            .map_or_else(|_| format!("signal {number}"), |s| s.as_str().to_string()),
        (None, None) => "-".into(),
    }
}

/// The store the settings name, opened on the caller's runtime.
pub(super) async fn open(settings: &Settings) -> Result<Arc<dyn Store>, StoreError> {
    settings.store.open(&settings.redis_prefix).await
}

/// The run with the id a person typed: ULIDs are uppercase, so any case is accepted. An
/// id with no run is a bad argument (exit 2).
pub(super) async fn find(store: &dyn Store, typed: &str) -> anyhow::Result<Run> {
    let id = typed.trim().to_ascii_uppercase();
    match store.run(&id).await {
        Ok(run) => Ok(run),
        Err(StoreError::NotFound(_)) => Err(CliError::Usage(format!(
            "no run {id} in the store; `cronq history` lists the runs it keeps"
        ))
        .into()),
        Err(error) => Err(error.into()),
    }
}

/// A running run's time left (DESIGN §5); `None` for any other run.
pub(super) async fn time_left(
    store: &dyn Store,
    run: &Run,
    now: DateTime<Utc>,
) -> Result<Option<TimeLeft>, StoreError> {
    time_left_cached(store, run, now, &mut HashMap::new()).await
}

/// [`time_left`], reading each job's past durations once however many of its runs run.
async fn time_left_cached(
    store: &dyn Store,
    run: &Run,
    now: DateTime<Utc>,
    past: &mut HashMap<String, Vec<f64>>,
) -> Result<Option<TimeLeft>, StoreError> {
    if run.status != RunStatus::Running {
        return Ok(None);
    }
    let elapsed_s = run.duration_s(now).unwrap_or(0.0);
    // Progress alone decides it when the job reports some: no need for the durations.
    if run.progress.is_some_and(|p| p > 0) {
        return Ok(Some(eta::time_left(elapsed_s, run.progress, &[])));
    }
    if !past.contains_key(&run.job) {
        let durations = store.durations(&run.job, eta::HISTORY_RUNS).await?;
        past.insert(run.job.clone(), durations);
    }
    Ok(Some(eta::time_left(
        elapsed_s,
        run.progress,
        &past[&run.job],
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args() -> HistoryArgs {
        HistoryArgs {
            job: None,
            status: None,
            failed: false,
            since: None,
            limit: 20,
            json: false,
        }
    }

    #[test]
    fn failed_means_the_failure_statuses() {
        let filter = filter(
            &HistoryArgs {
                failed: true,
                ..args()
            },
            Utc::now(),
        )
        .unwrap();
        assert_eq!(filter.statuses, RunStatus::FAILURES.to_vec());
    }

    #[test]
    fn since_counts_back_from_now() {
        let now = Utc::now();
        let filter = filter(
            &HistoryArgs {
                since: Some(std::time::Duration::from_secs(2 * 86_400)),
                ..args()
            },
            now,
        )
        .unwrap();
        assert_eq!(filter.since, Some(now - chrono::Duration::days(2)));
    }

    #[test]
    fn an_unknown_status_names_the_accepted_ones() {
        let error = parse_status("broken").unwrap_err().to_string();
        assert!(error.contains("`broken`"), "{error}");
        assert!(
            error.contains("queued, running, succeeded, failed, timed_out"),
            "{error}"
        );
        assert_eq!(parse_status("Failed").unwrap(), RunStatus::Failed);
    }
}
