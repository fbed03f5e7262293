//! The store file holds every job's output and arguments: only its owner may read it.
//! cronq creates it 0600, but a file made by an older cronq, copied in, or restored from
//! a backup may be looser; opening it tightens it, and its WAL and shared-memory files
//! with it, and says so once per file.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

/// The mode of the store's files.
const PRIVATE: u32 = 0o600;

/// Tightens the database at `path`, its `-wal` and its `-shm` to 0600 where any of them
/// lets its group or others in. A file cronq cannot change (owned by another user) is
/// warned about and left as it is: the store still opens, as it did before.
pub(super) fn tighten(path: &Path) {
    for file in [
        path.to_path_buf(),
        beside(path, "-wal"),
        beside(path, "-shm"),
    ] {
        let Ok(meta) = std::fs::metadata(&file) else {
            continue; // not there: SQLite makes it with the database's mode
        };
        let mode = meta.permissions().mode() & 0o7777;
        if mode & 0o077 == 0 {
            continue;
        }
        match std::fs::set_permissions(&file, std::fs::Permissions::from_mode(PRIVATE)) {
            Ok(()) => tracing::warn!(
                file = %file.display(),
                "the store file had mode {mode:04o}, readable by others; it is now 0600",
            ),
            Err(error) => tracing::warn!(
                file = %file.display(),
                %error,
                "the store file has mode {mode:04o}, readable by others, and cannot be made 0600",
            ),
        }
    }
}

/// `cronq.db-wal` for `cronq.db`.
fn beside(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}
