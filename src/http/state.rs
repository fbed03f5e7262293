//! What every request reads: the store, the settings, the local schedule file, loaded
//! again only when it changes, and the published schedule, read whole again only when
//! its hash changes.

use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use chrono_tz::Tz;
use tokio_util::sync::CancellationToken;

use crate::report::status::{KeptTimed, Timed};
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
    /// The published schedule as last read whole.
    published: Mutex<Option<Arc<PublishedSchedule>>>,
    /// The jobs' timings of the schedule last reported on.
    timed: KeptTimed,
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
            published: Mutex::new(None),
            timed: KeptTimed::default(),
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
        Ok(self.published_shared().await?.map(Arc::unwrap_or_clone))
    }

    /// The schedule the daemons published, if any, shared: each request reads its hash
    /// (the first bytes), and the whole of it (megabytes for 10,000 jobs, and their
    /// parsing) only when that differs from the copy kept.
    pub async fn published_shared(&self) -> Result<Option<Arc<PublishedSchedule>>, StoreError> {
        let Some(hash) = self.store.published_hash().await? else {
            return Ok(None);
        };
        if let Some(kept) = self
            .kept_published()
            .as_ref()
            .filter(|kept| kept.hash == hash)
        {
            return Ok(Some(Arc::clone(kept)));
        }
        let Some(read) = self.store.published().await? else {
            return Ok(None);
        };
        // Kept by its own hash: another publish may have come between the two reads.
        let read = Arc::new(read);
        *self.kept_published() = Some(Arc::clone(&read));
        Ok(Some(read))
    }

    /// The jobs whose fires a report looks at (`Timed::of`), kept per schedule hash.
    pub fn timed(
        &self,
        local: Option<&Schedule>,
        published: Option<&PublishedSchedule>,
    ) -> Arc<Vec<Timed>> {
        self.timed.of(local, published)
    }

    fn kept_published(&self) -> std::sync::MutexGuard<'_, Option<Arc<PublishedSchedule>>> {
        self.published
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}
