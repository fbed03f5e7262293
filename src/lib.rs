//! cronq: a crontab that lives in git.

pub mod backfill;
pub mod cli;
pub mod cron;
pub mod daemon;
pub mod eta;
pub mod http;
pub mod manual;
pub mod memory;
pub mod notify;
pub mod observed;
pub mod pause;
pub mod report;
pub mod schedule;
pub mod settings;
pub mod store;
pub mod systemd;
pub mod web;
pub mod worker;
