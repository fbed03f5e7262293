//! The HTTP API: the same runs, jobs and status as the CLI's `--json`, for
//! applications and monitoring that cannot run `cronq`. Served by `cronq daemon` when
//! `http_addr` is set and by `cronq serve`.
//!
//! A face of its own beside `cli/`: both call the layers below (`report`, `manual`,
//! `store`) and only serialize what those return; neither calls into the other. One
//! small file per resource (`jobs`, `runs`, `output`, `status`, `pause`, `repeat`:
//! rerun and backfill), the bearer-token check (`auth`), the JSON errors (`error`), the
//! OpenAPI document (`openapi`) and the listener with its routes (`server`).

mod auth;
mod error;
mod jobs;
mod openapi;
mod output;
mod pause;
mod repeat;
mod runs;
mod server;
mod state;
mod status;

pub use server::{bind, endpoints, serve};
pub use state::Api;
