//! What the end-to-end tests share: a scratch directory and the built binary run in it.

#![allow(dead_code)] // each test file uses its own part of this module

pub mod api;
pub mod both_stores;
pub mod browser;
pub mod daemon;
pub mod http_sink;
pub mod redis_sentinel;
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
        Command::from_std(self.std_cronq())
    }

    /// [`Scratch::cronq`] as a `std::process::Command`, for pipes assert_cmd lacks.
    pub fn std_cronq(&self) -> std::process::Command {
        let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_cronq"));
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

/// The host name the daemon's workers record.
pub fn host() -> String {
    nix::unistd::gethostname()
        .ok()
        .and_then(|name| name.into_string().ok())
        .unwrap_or_else(|| "localhost".into())
}

/// A table with each id, host, clock time and duration replaced by a placeholder, and
/// realigned, so a snapshot shows the columns as a user sees them.
pub fn redact_table(text: &str) -> String {
    let host = host();
    let rows: Vec<Vec<String>> = text
        .lines()
        .map(|line| {
            line.split("  ")
                .map(str::trim)
                .filter(|cell| !cell.is_empty())
                .map(|cell| match cell {
                    _ if is_ulid(cell) => "[id]".to_string(),
                    _ if is_clock(cell) => "[time]".to_string(),
                    _ if is_duration(cell) => "[duration]".to_string(),
                    _ if cell == host => "[host]".to_string(),
                    _ => cell.to_string(),
                })
                .collect()
        })
        .collect();
    let mut widths = Vec::new();
    for row in &rows {
        widths.resize(widths.len().max(row.len()), 0);
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    for row in rows {
        let line: Vec<String> = row
            .iter()
            .zip(&widths)
            .map(|(cell, width)| format!("{cell:<width$}"))
            .collect();
        out.push_str(line.join("  ").trim_end());
        out.push('\n');
    }
    out
}

/// 26 characters of Crockford's base32, as a ULID is written.
fn is_ulid(text: &str) -> bool {
    text.len() == 26
        && text
            .chars()
            .all(|c| c.is_ascii_digit() || (c.is_ascii_uppercase() && !"ILOU".contains(c)))
}

/// `2026-01-01 12:00:00Z`, as `output::clock` writes an instant.
fn is_clock(text: &str) -> bool {
    chrono::NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%SZ").is_ok()
}

/// `0.4s`, `12s`, `3m 05s` or `2h 03m`, as `output::seconds` writes a duration.
fn is_duration(text: &str) -> bool {
    let number = |part: &str, unit: char| {
        part.strip_suffix(unit)
            .is_some_and(|n| !n.is_empty() && n.chars().all(|c| c.is_ascii_digit() || c == '.'))
    };
    match text.split_once(' ') {
        None => number(text, 's'),
        Some((big, small)) => {
            (number(big, 'm') && number(small, 's')) || (number(big, 'h') && number(small, 'm'))
        }
    }
}

/// Runs `command` with its stdout a pipe whose reader is closed before the command
/// writes, as `cronq … | head -1` leaves it once `head` has its line; returns the exit
/// code and stderr.
pub fn with_closed_stdout(mut command: std::process::Command) -> (Option<i32>, String) {
    let mut child = command
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("cronq starts");
    drop(child.stdout.take());
    let output = child.wait_with_output().expect("cronq ends");
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}
