//! Opening the file for a command that only reads it (`status`, `history`, `show`,
//! `logs`, `next --job`): a file that is not there is [`StoreError::NoStore`], never
//! created with its directories, and an existing one is opened `SQLITE_OPEN_READ_ONLY`,
//! so a user who may read it but not write it (the daemon's store, made readable by its
//! owner) reads it too.
//!
//! WAL needs care. A reader opens the `-shm` read-only when it may not write it, which
//! SQLite supports; while the daemon runs, that and a readable `-wal` are enough. With
//! neither file there (no writer has the store open) and a directory it may not write,
//! SQLite cannot create them: the file alone then holds every commit, and it is read
//! as `immutable`.

use std::path::{Path, PathBuf};

use rusqlite::{Connection, ErrorCode, OpenFlags};

use super::{SqliteStore, calls, schema};
use crate::store::{Result, StoreError};

impl SqliteStore {
    /// Opens an existing store without writing to it; `NoStore` when there is no file
    /// at `path`. A file of an older schema is opened as [`SqliteStore::open`] does, to
    /// upgrade it, since this cronq cannot read it as it is.
    pub fn open_to_read(path: &Path, output_tail_bytes: usize) -> Result<SqliteStore> {
        let url = format!("sqlite:{}", absolute(path).display());
        let unreachable = |reason: String| StoreError::Unreachable {
            url: url.clone(),
            reason,
        };
        match std::fs::metadata(path) {
            Ok(meta) if meta.is_dir() => return Err(super::a_directory(path)),
            Ok(_) => {}
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                return Err(StoreError::NoStore { url });
            }
            Err(error) => return Err(unreachable(error.to_string())),
        }
        let version = match open_and_read_version(path, false) {
            Err(error) if cannot_make_wal_files(&error) && no_wal_files(path) => {
                open_and_read_version(path, true)
            }
            opened => opened,
        };
        let (conn, version) = version.map_err(|error| unreachable(error.to_string()))?;
        schema::refuse_newer(version)?;
        if version < schema::SCHEMA_VERSION {
            drop(conn);
            return SqliteStore::open(path, output_tail_bytes);
        }
        SqliteStore::of(path, conn, output_tail_bytes)
    }
}

/// A read-only connection (immutable: no WAL, no locks) and the file's schema version,
/// read at once so that a file SQLite cannot use fails here.
fn open_and_read_version(path: &Path, immutable: bool) -> rusqlite::Result<(Connection, i64)> {
    let flags = OpenFlags::SQLITE_OPEN_READ_ONLY
        | OpenFlags::SQLITE_OPEN_NO_MUTEX
        | OpenFlags::SQLITE_OPEN_URI;
    let conn = if immutable {
        Connection::open_with_flags(format!("file:{}?immutable=1", uri_path(path)), flags)?
    } else {
        Connection::open_with_flags(format!("file:{}", uri_path(path)), flags)?
    };
    conn.busy_timeout(calls::BUSY_TIMEOUT)?;
    let version = conn.query_row("PRAGMA user_version", [], |row| row.get(0))?;
    Ok((conn, version))
}

/// Whether SQLite failed for want of the `-wal` or `-shm` it could not create.
fn cannot_make_wal_files(error: &rusqlite::Error) -> bool {
    matches!(
        error.sqlite_error_code(),
        Some(ErrorCode::CannotOpen | ErrorCode::ReadOnly)
    )
}

/// Neither `-wal` nor `-shm` beside the file: no writer has it open, and every commit
/// is in the file itself.
fn no_wal_files(path: &Path) -> bool {
    ["-wal", "-shm"].iter().all(|suffix| {
        let mut name = path.as_os_str().to_owned();
        name.push(suffix);
        !Path::new(&name).exists()
    })
}

/// The path as an absolute one, without touching the file system, for messages.
pub(super) fn absolute(path: &Path) -> PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf())
}

/// The path in a `file:` URI: `%`, `?`, `#` and every byte outside printable ASCII
/// escaped, as SQLite's URI parser reads them back.
fn uri_path(path: &Path) -> String {
    let mut text = String::new();
    for &byte in path.as_os_str().as_encoded_bytes() {
        match byte {
            b'%' | b'?' | b'#' => text.push_str(&format!("%{byte:02X}")),
            b' '..=b'~' => text.push(char::from(byte)),
            _ => text.push_str(&format!("%{byte:02X}")),
        }
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uri_paths_escape_what_sqlite_would_read_as_a_query() {
        assert_eq!(
            uri_path(Path::new("/a b/c?d#e%f/é")),
            "/a b/c%3Fd%23e%25f/%C3%A9"
        );
    }
}
