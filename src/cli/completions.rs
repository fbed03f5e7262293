//! `cronq completions SHELL`: a completion script on stdout. For bash, zsh and fish it
//! also completes job names and recent run ids, by asking the hidden `cronq complete
//! jobs|runs`, which answers from the schedule file (else the published schedule) and
//! the store, quickly or with nothing.

use std::io::Write;
use std::time::Duration;

use clap::CommandFactory;
use clap_complete::Shell;

use super::args::{Cli, CompleteArgs, CompleteWhat, CompletionsArgs, SettingsArgs};
use super::output::stdout_error;
use super::{Loaded, settings};
use crate::settings::StoreUrl;
use crate::store::HistoryFilter;

/// How many recent run ids are offered.
const RECENT_RUNS: usize = 30;
/// A completion that waits longer than this for the store offers nothing.
const STORE_PATIENCE: Duration = Duration::from_secs(2);

pub fn run(args: &CompletionsArgs) -> anyhow::Result<()> {
    let script = script(args.shell);
    let mut stdout = std::io::stdout().lock();
    stdout
        .write_all(&script)
        .and_then(|()| stdout.flush())
        .map_err(stdout_error)
}

/// The completion script for `shell`, as `cronq completions SHELL` prints it and the
/// package installs it. Made whole in memory: clap_complete panics on a failed write,
/// and a closed stdout (`cronq completions bash | head`) must end quietly instead.
pub fn script(shell: Shell) -> Vec<u8> {
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut Cli::command(), "cronq", &mut script);
    script.extend_from_slice(dynamic(shell).as_bytes());
    script
}

/// The part of the script that completes names from `cronq complete`.
fn dynamic(shell: Shell) -> &'static str {
    match shell {
        Shell::Bash => include_str!("completions/cronq.bash"),
        Shell::Zsh => include_str!("completions/cronq.zsh"),
        Shell::Fish => include_str!("completions/cronq.fish"),
        _ => "",
    }
}

/// `cronq complete jobs|runs`: one name or id per line, nothing when there is none to
/// be had (no schedule, a store that does not answer).
pub fn complete(
    args: &CompleteArgs,
    settings_args: &SettingsArgs,
    env: &dyn Fn(&str) -> Option<String>,
) -> anyhow::Result<()> {
    let names = match args.what {
        CompleteWhat::Jobs => job_names(settings_args, env),
        CompleteWhat::Runs => run_ids(settings_args, env),
    };
    let mut stdout = std::io::stdout().lock();
    for name in names.unwrap_or_default() {
        writeln!(stdout, "{name}").map_err(stdout_error)?;
    }
    Ok(())
}

fn job_names(
    args: &SettingsArgs,
    env: &dyn Fn(&str) -> Option<String>,
) -> anyhow::Result<Vec<String>> {
    let resolved = settings(args, env)?;
    if let Ok(loaded) = Loaded::of(resolved.clone(), env) {
        return Ok(loaded.schedule.jobs.into_iter().map(|j| j.name).collect());
    }
    from_store(&resolved, |store| async move {
        let published = store.published().await?;
        Ok(published.map_or(Vec::new(), |p| p.jobs.into_iter().map(|j| j.name).collect()))
    })
}

fn run_ids(
    args: &SettingsArgs,
    env: &dyn Fn(&str) -> Option<String>,
) -> anyhow::Result<Vec<String>> {
    let resolved = settings(args, env)?;
    from_store(&resolved, |store| async move {
        let filter = HistoryFilter {
            job: None,
            statuses: Vec::new(),
            since: None,
            limit: RECENT_RUNS,
        };
        Ok(store
            .history(&filter)
            .await?
            .into_iter()
            .map(|r| r.id)
            .collect())
    })
}

/// Asks the store, within [`STORE_PATIENCE`]. An embedded store whose file does not
/// exist is not created by a completion: it has nothing to offer.
fn from_store<F, Fut>(settings: &crate::settings::Settings, ask: F) -> anyhow::Result<Vec<String>>
where
    F: FnOnce(std::sync::Arc<dyn crate::store::Store>) -> Fut,
    Fut: Future<Output = anyhow::Result<Vec<String>>>,
{
    if let StoreUrl::Sqlite(path) = &settings.store
        && !path.is_file()
    {
        return Ok(Vec::new());
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let asked = async {
            let store = settings.store.open(&settings.redis_prefix).await?;
            ask(store).await
        };
        tokio::time::timeout(STORE_PATIENCE, asked)
            .await
            .unwrap_or_else(|_| Ok(Vec::new()))
    })
}
