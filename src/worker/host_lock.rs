//! `lock: host`: one file lock per job in the state dir, `<state_dir>/locks/<job>.lock`,
//! held for as long as the job's child lives, even if the worker dies.
//!
//! flock(2) locks belong to the open file description, and std opens files `O_CLOEXEC`.
//! The worker opens the file and takes the lock with `try_lock`; `spawn.rs` then clears
//! FD_CLOEXEC on that one descriptor in the child only, between fork and exec (what
//! `flock(1)` does), so that the child holds the same description. The lock is free once
//! every copy is closed: the worker's when the run ends, the child's when it and whatever
//! it left holding the descriptor are gone. A worker killed with -9 closes only its own
//! copy, and the job keeps the lock. See DEPENDENCIES §3.

use std::fs::{DirBuilder, File, OpenOptions, TryLockError};
use std::io;
use std::os::fd::{AsFd, BorrowedFd};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

/// A job's host lock, held by this process until dropped.
#[derive(Debug)]
pub struct HostLock {
    file: File,
}

impl HostLock {
    /// The lock file of `job`: `<state_dir>/locks/<job>.lock`. Job names are plain
    /// (letters, digits, `-`, `_`, `.`, not starting with `.`), so they name a file.
    pub fn path(state_dir: &Path, job: &str) -> PathBuf {
        state_dir.join("locks").join(format!("{job}.lock"))
    }

    /// Takes the lock of `job` if it is free: `None` when someone holds it (another run
    /// of this worker, another worker of the host, or a job whose worker died). Creates
    /// the `locks` dir (mode 0700) and the file (0600) when they are missing.
    pub fn try_take(state_dir: &Path, job: &str) -> io::Result<Option<HostLock>> {
        let path = HostLock::path(state_dir, job);
        if let Some(dir) = path.parent() {
            DirBuilder::new().recursive(true).mode(0o700).create(dir)?;
        }
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .open(&path)?;
        match file.try_lock() {
            Ok(()) => Ok(Some(HostLock { file })),
            Err(TryLockError::WouldBlock) => Ok(None),
            Err(TryLockError::Error(error)) => Err(error),
        }
    }
}

impl AsFd for HostLock {
    /// The locked descriptor, for the child to inherit.
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.file.as_fd()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn a_held_lock_is_busy_until_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let first = HostLock::try_take(dir.path(), "j").unwrap().expect("free");
        assert!(HostLock::try_take(dir.path(), "j").unwrap().is_none());
        assert!(
            HostLock::try_take(dir.path(), "other").unwrap().is_some(),
            "one lock per job"
        );
        drop(first);
        assert!(HostLock::try_take(dir.path(), "j").unwrap().is_some());
        let locks = dir.path().join("locks");
        assert_eq!(
            std::fs::metadata(&locks).unwrap().permissions().mode() & 0o777,
            0o700
        );
        assert!(locks.join("j.lock").is_file());
    }
}
