//! cronq while its store fails, driven as a user would: the real binary against a real
//! `redis-server` that the test stops and restarts, or a SQLite file on a tmpfs that
//! fills up. An outage, a suspend or a full disk is downtime that follows `catch_up`,
//! never a backlog fired back to back; daemons and workers wait for a store that is
//! down at their start; the published schedule comes back after Redis loses it; a
//! queue entry that cannot be read never blocks its queue; a lost run runs
//! `on_failure` once.

mod common;
mod faults {
    pub mod downtime;
    pub mod kills;
    pub mod long_outage;
    pub mod queue;
    pub mod start;
}
