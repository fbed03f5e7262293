//! Tells this process's waiting reserves that some process committed to the store, so
//! that they look again instead of polling: every commit of any process on the host
//! appends to the store's `-wal` file, and inotify reports that write.
//!
//! A hint, never the only way a run is found: a reserve also wakes when its wait ends and
//! when the earliest delayed run of its queues is due, so a lost event (no inotify, a
//! watch that failed) makes a run later, never lost. Started on the first wait, so the
//! short-lived CLI never pays for it.

use std::ffi::OsString;
use std::path::Path;
use std::sync::{Arc, OnceLock, Weak};

use nix::sys::inotify::{AddWatchFlags, InitFlags, Inotify};
use tokio::sync::Notify;

/// Raised on each commit to one store file, by any process of the host.
#[derive(Default)]
pub(super) struct Commits {
    /// Set once the watch is started (`None` where it cannot be).
    raised: OnceLock<Option<Arc<Notify>>>,
}

impl Commits {
    /// The notification of commits to `path`, started by the first caller; `None` when
    /// the host cannot watch the file, and then the waits poll as before.
    pub(super) fn watch(&self, path: &Path) -> Option<Arc<Notify>> {
        self.raised
            .get_or_init(|| match start(path) {
                Ok(raised) => Some(raised),
                Err(error) => {
                    tracing::debug!(%error, store = %path.display(), "commits are not watched");
                    None
                }
            })
            .clone()
    }
}

/// Watches the directory of `path` (the `-wal` file may not exist yet, and SQLite may
/// delete and create it again) for writes to `path`'s `-wal`, from a thread of its own
/// that sleeps in `read` between events: no runtime, no timer.
fn start(path: &Path) -> std::io::Result<Arc<Notify>> {
    let dir = match path.parent().filter(|d| !d.as_os_str().is_empty()) {
        Some(dir) => dir,
        None => Path::new("."),
    };
    let mut wal = path
        .file_name()
        .ok_or_else(|| std::io::Error::other("the store has no file name"))?
        .to_os_string();
    wal.push("-wal");
    let inotify = Inotify::init(InitFlags::IN_CLOEXEC)?;
    inotify.add_watch(
        dir,
        AddWatchFlags::IN_MODIFY | AddWatchFlags::IN_CREATE | AddWatchFlags::IN_ONLYDIR,
    )?;
    let raised = Arc::new(Notify::new());
    let weak = Arc::downgrade(&raised);
    std::thread::Builder::new()
        .name("cronq-commits".into())
        .spawn(move || relay(&inotify, &wal, &weak))?;
    Ok(raised)
}

/// Raises `raised` for each batch of events that names `wal`, until the store is gone
/// (seen at the next event: the directory's removal is one) or the watch fails.
fn relay(inotify: &Inotify, wal: &OsString, raised: &Weak<Notify>) {
    loop {
        let events = match inotify.read_events() {
            Ok(events) => events,
            Err(nix::errno::Errno::EINTR) => continue,
            Err(error) => {
                tracing::debug!(%error, "the store's commits are no longer watched");
                return;
            }
        };
        let Some(raised) = raised.upgrade() else {
            return;
        };
        if events.iter().any(|e| e.name.as_ref() == Some(wal)) {
            raised.notify_waiters();
        }
        if events
            .iter()
            .any(|e| e.mask.contains(AddWatchFlags::IN_IGNORED))
        {
            // The directory is gone, and the watch with it.
            return;
        }
    }
}
