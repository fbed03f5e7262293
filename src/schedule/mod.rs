//! The schedule file: what runs when. Plain code without I/O: loaders take the
//! file's text and name.

pub mod diagnostic;
pub mod import;
mod job;
mod load;
pub mod node;
mod notify;
pub mod run_env;

pub use diagnostic::{Diagnostic, Severity};
pub use job::{
    CatchUp, Command, Concurrency, DEFAULT_KILL_GRACE, Job, JobSchedule, JobSettings, Keep, KeysAt,
    Lock, Schedule, Stderr, fnv1a,
};
pub use load::{load, parse_zone};
pub use notify::{NotifyEvent, NotifyTarget, Target};

#[cfg(test)]
mod tests;
