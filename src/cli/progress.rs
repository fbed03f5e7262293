//! `cronq progress`: from inside a job, record how far its run is. The worker gives the
//! job `CRONQ_RUN_ID` and `CRONQ_STORE`; nothing else of the settings is read.

use super::CliError;
use super::args::ProgressArgs;
use crate::settings::StoreUrl;
use crate::store::{StoreError, redis};

pub fn run(args: &ProgressArgs, env: &dyn Fn(&str) -> Option<String>) -> anyhow::Result<()> {
    let id = env("CRONQ_RUN_ID")
        .filter(|id| !id.is_empty())
        .ok_or_else(|| {
            CliError::Usage("cronq progress runs inside a job: CRONQ_RUN_ID is not set".into())
        })?;
    let percent = parse_percent(&args.percent)?;
    let url = env("CRONQ_STORE")
        .filter(|url| !url.is_empty())
        .ok_or_else(|| {
            CliError::Usage(
                "cronq progress runs inside a job: CRONQ_RUN_ID is set but CRONQ_STORE is not"
                    .into(),
            )
        })?;
    let store_url = StoreUrl::parse(&url).map_err(CliError::Usage)?;
    let prefix = env("CRONQ_REDIS_PREFIX")
        .filter(|prefix| !prefix.is_empty())
        .unwrap_or_else(|| redis::DEFAULT_PREFIX.to_string());
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let store = store_url.open(&prefix).await?;
        match store
            .set_progress(&id, percent, args.message.as_deref())
            .await
        {
            Ok(()) => Ok(()),
            Err(StoreError::WrongStatus { status, .. }) => Err(CliError::Failed(format!(
                "run {id} is {status}: progress is recorded only while it runs"
            ))
            .into()),
            Err(StoreError::NotFound(_)) => Err(CliError::Failed(format!(
                "no run {id} in the store at {store_url} (CRONQ_RUN_ID, CRONQ_STORE)"
            ))
            .into()),
            Err(error) => Err(error.into()),
        }
    })
}

/// A whole number from 0 to 100.
fn parse_percent(text: &str) -> Result<u8, CliError> {
    text.trim()
        .parse::<u8>()
        .ok()
        .filter(|percent| *percent <= 100)
        .ok_or_else(|| {
            CliError::Usage(format!(
                "progress `{text}` is not a whole number from 0 to 100"
            ))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_percent_is_a_whole_number_up_to_100() {
        assert_eq!(parse_percent("0").unwrap(), 0);
        assert_eq!(parse_percent("100").unwrap(), 100);
        for bad in ["101", "120", "-1", "40.5", "forty", ""] {
            assert!(parse_percent(bad).is_err(), "{bad}");
        }
    }
}
