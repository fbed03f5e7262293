//! cronq: a crontab that lives in git.

pub mod cron;
pub mod schedule;
