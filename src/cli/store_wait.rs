//! Opening the store for the long-running commands: `daemon` and `worker` started while
//! the store is down wait for it, with backoff and one log line per change, rather than
//! exit; `--exit-if-unreachable` keeps exit 3 for supervisors that restart them.

use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::settings::Settings;
use crate::store::{Counted, Store, StoreError};

/// The first pause between two attempts; it doubles up to [`MAX_PAUSE`].
const FIRST_PAUSE: Duration = Duration::from_millis(250);
const MAX_PAUSE: Duration = Duration::from_secs(4);

/// The store of the settings, once it answers; `None` when `stop` comes first. With
/// `exit_if_unreachable`, an unreachable store is the error at once.
pub async fn open(
    settings: &Settings,
    exit_if_unreachable: bool,
    stop: &CancellationToken,
) -> Result<Option<Arc<dyn Store>>, StoreError> {
    let mut pause = FIRST_PAUSE;
    let mut waited = false;
    loop {
        match settings.store.open(&settings.redis_prefix).await {
            Ok(store) => {
                if waited {
                    tracing::info!(store = %settings.store, "the store answers again");
                }
                // Its failures count in this process's `cronq_store_errors_total`.
                let on_error = |op| crate::observed::observed().store_error(op);
                return Ok(Some(Arc::new(Counted::new(store, on_error))));
            }
            Err(error @ StoreError::Unreachable { .. }) if !exit_if_unreachable => {
                if !waited {
                    waited = true;
                    tracing::warn!("{error}; waiting for it");
                }
            }
            Err(error) => return Err(error),
        }
        tokio::select! {
            () = stop.cancelled() => return Ok(None),
            () = tokio::time::sleep(pause) => {}
        }
        pause = (pause * 2).min(MAX_PAUSE);
    }
}
