//! `cronq history`: past and current runs, newest first, as a table or `{"runs": [...]}`.

use chrono::{DateTime, Utc};

use super::args::HistoryArgs;
use super::runs::exit;
use super::{CliError, output};
use crate::report;
use crate::settings::Settings;
use crate::store::{HistoryFilter, Run, RunStatus};

pub fn run(
    args: &HistoryArgs,
    settings: &Settings,
    env: &dyn Fn(&str) -> Option<String>,
) -> anyhow::Result<()> {
    let filter = filter(args, Utc::now())?;
    let zone = output::Zone::of(args.local, env)?;
    tokio::runtime::Runtime::new()?.block_on(async {
        let store = settings.store.open_to_read(&settings.redis_prefix).await?;
        let runs = store.history(&filter).await?;
        let now = Utc::now();
        if args.json {
            output::json(&report::history_json(store.as_ref(), &runs, now).await?)?;
            return Ok(());
        }
        // Which store was read, so that an empty history cannot pass for another's.
        output::say!("store: {}", settings.store.shown())?;
        if runs.is_empty() {
            output::note!("no runs");
        } else {
            let rows: Vec<Vec<String>> = runs.iter().map(|run| row(run, now, zone)).collect();
            output::table(
                &[
                    "RUN", "JOB", "STATUS", "TRIGGER", "STARTED", "DURATION", "EXIT", "ATTEMPT",
                    "HOST",
                ],
                &rows,
            )?;
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
    if args.limit == 0 {
        // The store reads a limit of 0 as none; a person asking for 0 runs means no list.
        return Err(CliError::Usage(
            "--limit 0 would list no runs; give 1 or more (the default is 20)".into(),
        ));
    }
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
fn row(run: &Run, now: DateTime<Utc>, zone: output::Zone) -> Vec<String> {
    vec![
        run.id.clone(),
        run.job.clone(),
        run.status.to_string(),
        run.trigger.as_str().to_string(),
        // `-` for a run that never started (queued, skipped, cancelled while queued).
        run.started_at
            .as_ref()
            .map_or_else(|| "-".into(), |at| zone.clock(at)),
        run.duration_s(now)
            .map_or_else(|| "-".into(), output::seconds),
        exit(run),
        format!("{}/{}", run.attempt, run.max_attempts),
        run.host.clone().unwrap_or_else(|| "-".into()),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `cronq history` with no flags.
    fn args() -> HistoryArgs {
        use clap::{Args, FromArgMatches};
        let command = HistoryArgs::augment_args(clap::Command::new("history"));
        HistoryArgs::from_arg_matches(&command.get_matches_from(["history"]))
            .expect("no flags parse")
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
