//! The outbox of notifications: each change a target should hear of (a job fails,
//! recovers, stalls, a run is overdue, instants are skipped) is recorded once under a
//! key that names the change, then claimed for a while by one sender, which marks each
//! target it reached and finally the whole notice as sent. A sender that dies leaves
//! its claim to expire, and another sender (or the same after a restart) takes it.
//!
//! The store keeps the notices and the claims; what a notice says and where it goes is
//! `crate::notify`'s business.

use chrono::{DateTime, Utc};

use super::RunId;

/// How long a sent notice stays as a marker, so the same change is not recorded again.
pub const NOTICE_KEEP: std::time::Duration = std::time::Duration::from_secs(7 * 24 * 3600);

/// A change to tell, as recorded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewNotice {
    /// Names the change: a second notice with the same key is not recorded.
    pub key: String,
    pub job: String,
    /// `failing`, `recovered`, `every_failure`, `stalled`, `overdue` or `skipped`.
    pub event: String,
    /// A repeat of `failing` by `remind`.
    pub reminder: bool,
    /// The run it is about, if any (`stalled` has none).
    pub run: Option<RunId>,
    /// What the event says beyond the run (the expected instant of a stall...).
    pub detail: Option<String>,
}

/// A notice claimed for sending.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Notice {
    pub notice: NewNotice,
    pub created_at: DateTime<Utc>,
    /// The targets (by their place in the job's `notify`) that took it already.
    pub sent: Vec<u32>,
}

/// The last failure of one target of one job: shown by `status` until it takes a message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TargetFailure {
    pub job: String,
    /// The target's kind and host only (`webhook hooks.example.com`): never a URL's path,
    /// which may be a secret.
    pub target: String,
    pub at: DateTime<Utc>,
    pub error: String,
}

/// The targets a notice's `sent` field lists, written `1,3`.
pub fn parse_sent(text: &str) -> Vec<u32> {
    text.split(',').filter_map(|n| n.parse().ok()).collect()
}
