//! What every request reads: the store, the settings, and the local schedule file,
//! loaded again only when it changes.

use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use chrono_tz::Tz;
use tokio_util::sync::CancellationToken;

use crate::schedule::{self, Schedule};
use crate::settings::Settings;
use crate::store::{PublishedSchedule, Store, StoreError};

/// The API's shared state.
pub struct Api {
    pub store: Arc<dyn Store>,
    pub settings: Settings,
    pub host_zone: Tz,
    /// Cancelled when the process stops: long waits and streams end then.
    pub stop: CancellationToken,
    local: Mutex<Option<Loaded>>,
}

/// The local schedule as last loaded, and the file's mtime and length then.
struct Loaded {
    stamp: (SystemTime, u64),
    schedule: Arc<Schedule>,
}

impl Api {
    pub fn new(
        store: Arc<dyn Store>,
        settings: Settings,
        host_zone: Tz,
        stop: CancellationToken,
    ) -> Api {
        Api {
            store,
            settings,
            host_zone,
            stop,
            local: Mutex::new(None),
        }
    }

    /// The local schedule file; `None` when there is none or it does not load (then
    /// with a warning in the log), as a request can do with the published schedule.
    pub fn local_schedule(&self) -> Option<Arc<Schedule>> {
        let path = &self.settings.schedule.0;
        let meta = std::fs::metadata(path).ok()?;
        let stamp = (meta.modified().ok()?, meta.len());
        let mut cached = self
            .local
            .lock()
            .expect("no request panics holding the schedule");
        if let Some(loaded) = cached.as_ref().filter(|l| l.stamp == stamp) {
            return Some(Arc::clone(&loaded.schedule));
        }
        let file = path.display().to_string();
        let text = std::fs::read_to_string(path).ok()?;
        match schedule::load(&text, &file, self.host_zone) {
            Ok(schedule) => {
                let schedule = Arc::new(schedule);
                *cached = Some(Loaded {
                    stamp,
                    schedule: Arc::clone(&schedule),
                });
                Some(schedule)
            }
            Err(diagnostics) => {
                let first = diagnostics
                    .first()
                    .map(ToString::to_string)
                    .unwrap_or_default();
                tracing::warn!(%first, "the schedule file does not load; using the published schedule");
                None
            }
        }
    }

    /// The schedule the daemons published, if any.
    pub async fn published(&self) -> Result<Option<PublishedSchedule>, StoreError> {
        self.store.published().await
    }
}
