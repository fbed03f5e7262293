//! `cronq backfill JOB --from T1 --to T2`: a run for each past instant of the job in
//! the range that has none (`crate::backfill`), one line per instant saying what
//! became of it. Thin glue: the job comes from the local schedule file, whose
//! schedule, zone and jitter give the instants the daemon claims.

use chrono::Utc;

use super::args::{BackfillArgs, SettingsArgs};
use super::{CliError, Loaded, output};
use crate::backfill::{self, Instant, Names};
use crate::manual;
use crate::settings::Settings;

pub fn run(
    args: &BackfillArgs,
    settings: &SettingsArgs,
    env: &dyn Fn(&str) -> Option<String>,
) -> anyhow::Result<()> {
    let settings = Settings::resolve(settings.overrides(), env)?;
    let loaded = Loaded::of(settings.clone(), env)?;
    let Some(job) = loaded.schedule.job(&args.job) else {
        let refusal = manual::unknown_job(&args.job, None, Some(&loaded.schedule), &settings);
        return Err(CliError::Usage(refusal.to_string()).into());
    };
    tokio::runtime::Runtime::new()?.block_on(async {
        let store = settings.store.open(&settings.redis_prefix).await?;
        let known_for = store.claims_kept(job.keep.max_age);
        let instants = backfill::instants(
            job,
            args.from,
            args.to,
            Utc::now(),
            known_for,
            args.max,
            &Names::FLAGS,
        )
        .map_err(|refusal| CliError::Usage(refusal.to_string()))?;
        if !args.dry_run {
            super::pause::note_manual_run(&*store, &job.name).await?;
        }
        let by = manual::cli_user();
        let done = backfill::backfill(&*store, job, &instants, &by, args.dry_run).await?;
        if args.json {
            return output::json(&backfill::json(&job.name, args.dry_run, &done));
        }
        for (at, became) in &done {
            let line = match became {
                Instant::Queued(id) => format!("queued {id}"),
                Instant::Had(id, Some(status)) => format!("already has run {id} ({status})"),
                Instant::Had(id, None) => format!("already ran as {id} (no longer kept)"),
                Instant::Free => "no run yet: a backfill queues one".to_string(),
            };
            output::say!("{}  {line}", output::instant(at))?;
        }
        let queued = done
            .iter()
            .filter(|(_, became)| matches!(became, Instant::Queued(_)))
            .count();
        let had = done
            .iter()
            .filter(|(_, became)| matches!(became, Instant::Had(..)))
            .count();
        match (args.dry_run, done.len()) {
            (_, 0) => output::note!("cronq: `{}` has no instant in the range", job.name),
            (true, n) => output::note!(
                "cronq: dry run: of {n} instants, {had} already have a run, {} would be queued",
                n - had
            ),
            (false, n) => {
                output::note!("cronq: of {n} instants, {had} already had a run, {queued} queued")
            }
        }
        Ok(())
    })
}
