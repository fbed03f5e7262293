//! `cronq cancel`: take a queued run out of its queue, or ask the worker running one to
//! stop it. The store records `cancelled`; a worker kills the run's process group.

use super::CliError;
use super::args::CancelArgs;
use super::runs::{run_id, unknown};
use crate::settings::Settings;
use crate::store::{Cancelled, StoreError};

pub fn run(args: &CancelArgs, settings: &Settings) -> anyhow::Result<()> {
    let id = run_id(&args.run_id);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let store = settings.store.open(&settings.redis_prefix).await?;
        match store.cancel(&id).await {
            Ok(Cancelled::Dequeued) => println!("cancelled run {id} (it was queued)"),
            Ok(Cancelled::Requested) => println!("asked the worker to stop run {id}"),
            Err(StoreError::WrongStatus { status, .. }) => {
                return Err(CliError::Failed(format!("run {id} already {status}")).into());
            }
            Err(StoreError::NotFound(_)) => return Err(unknown(&id).into()),
            Err(error) => return Err(error.into()),
        }
        Ok(())
    })
}
