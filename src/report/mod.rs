//! What the faces of cronq report, computed once below them: the run object of
//! DESIGN §6 and a running run's time left (`run`), and the status of the whole
//! installation with the watchdog's problems and queue positions (`status`), and a
//! job with its next fires, its pause and how its runs went (`jobs`), and a pause
//! (`pause`).
//!
//! The CLI prints these and the HTTP API serializes them; neither computes them itself,
//! and nothing here prints, parses arguments or knows of HTTP.

pub mod jobs;
pub mod pause;
mod run;
pub mod status;

pub use run::{TimeLeftOf, history_json, instant, run_json, show_json};
