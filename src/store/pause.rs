//! Pauses as the store keeps them: one per job, and one for every job at once (a
//! maintenance window), each with who made it, why, since when and until when.
//!
//! The store only keeps them; what a pause means for firing is the daemon's business
//! (`crate::pause` and `daemon/paused.rs`). A pause whose `until` has passed is over:
//! nobody has to remove it, and every read leaves it out.

use chrono::{DateTime, Utc};

/// The key a pause of every job is kept under. Never a job's name: a job's name is
/// letters, digits, `-`, `_` and `.` (`schedule/load.rs`).
pub const ALL_JOBS: &str = "*";

/// What a pause holds back: one job, or every job.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PauseScope {
    All,
    Job(String),
}

impl PauseScope {
    /// The key both backends keep the pause under.
    pub fn key(&self) -> &str {
        match self {
            PauseScope::All => ALL_JOBS,
            PauseScope::Job(name) => name,
        }
    }

    pub fn from_key(key: &str) -> PauseScope {
        match key {
            ALL_JOBS => PauseScope::All,
            name => PauseScope::Job(name.to_string()),
        }
    }
}

/// A pause: who made it, why, since when, and until when (none: until resumed).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pause {
    pub reason: Option<String>,
    /// Who paused: `cli:USER` from the command line.
    pub by: String,
    pub since: DateTime<Utc>,
    pub until: Option<DateTime<Utc>>,
}

impl Pause {
    /// Whether the pause still holds at `at`: it ends at its `until`.
    pub fn in_force(&self, at: DateTime<Utc>) -> bool {
        self.until.is_none_or(|until| at < until)
    }
}

/// A pause in force and what it holds back.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Paused {
    pub scope: PauseScope,
    pub pause: Pause,
}
