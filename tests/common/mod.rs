//! What the end-to-end tests share: a scratch directory and the built binary run in it.

#![allow(dead_code)] // each test file uses its own part of this module

pub mod daemon;
pub mod redis_server;
use std::path::{Path, PathBuf};

use assert_cmd::Command;

/// A scratch directory that is the working directory of the commands run in it.
pub struct Scratch {
    pub dir: tempfile::TempDir,
}

impl Scratch {
    pub fn new() -> Self {
        Scratch {
            dir: tempfile::tempdir().expect("a temp dir"),
        }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Writes `text` to `name` inside the directory and returns its path.
    pub fn write(&self, name: &str, text: &str) -> PathBuf {
        let path = self.dir.path().join(name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).expect("create parent dirs");
        }
        std::fs::write(&path, text).expect("write a test file");
        path
    }

    /// `cronq` with this directory as its working directory and state dir, in UTC, and
    /// no `CRONQ_*` setting inherited from the environment of the test run.
    pub fn cronq(&self) -> Command {
        let mut command = Command::cargo_bin("cronq").expect("the cronq binary is built");
        for (name, _) in std::env::vars().filter(|(name, _)| name.starts_with("CRONQ_")) {
            command.env_remove(name);
        }
        command
            .current_dir(self.dir.path())
            .env("TZ", "UTC")
            .env("XDG_STATE_HOME", self.dir.path().join("state"))
            .env("NO_COLOR", "1");
        command
    }
}

/// stdout and stderr of a finished command, as text.
pub fn texts(output: &std::process::Output) -> (String, String) {
    (
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// Replaces each RFC 3339 instant in `text` by `[instant]`, for snapshots that must not
/// depend on the clock.
pub fn redact_instants(text: &str) -> String {
    text.split_inclusive(char::is_whitespace)
        .map(|piece| {
            let token = piece.trim_end();
            if chrono::DateTime::parse_from_rfc3339(token).is_ok() {
                piece.replacen(token, "[instant]", 1)
            } else {
                piece.to_string()
            }
        })
        .collect()
}
