//! The dashboard: server-side HTML pages for people, beside the HTTP API on the same
//! address and with the same tokens. Jobs (`/`), a job (`/jobs/NAME`), what runs now
//! (`/now`), the history (`/history`) and a run (`/runs/ID`), a login that turns a
//! token into a session, and the forms that run, cancel, pause and resume.
//!
//! A face like `http/` and `cli/`: pages read what `report`, `manual`, `pause` and the
//! store give and only draw it. One file per page, the shared frame (`layout`), who is
//! looking (`session`), the forms (`actions`), and the pure pieces that turn output,
//! schedules and durations into something to show (`ansi`, `schedule_words`, `chart`).
//! Everything a page shows goes through maud, which escapes every byte of it.

mod actions;
mod ansi;
mod assets;
mod chart;
mod history_page;
mod job_page;
mod jobs_page;
mod layout;
mod login;
mod now_page;
mod run_page;
mod schedule_words;
mod session;

use std::sync::Arc;

use axum::Router;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use maud::html;

use crate::http::Api;
use crate::store::StoreError;
use session::Sessions;

/// What the pages share: the API's state and the sessions of those logged in.
pub struct Dashboard {
    pub api: Arc<Api>,
    sessions: Sessions,
}

/// The dashboard's routes, to merge into the API's router.
pub fn pages(api: Arc<Api>) -> Router {
    let dashboard = Arc::new(Dashboard {
        api,
        sessions: Sessions::default(),
    });
    Router::new()
        .route("/", get(jobs_page::jobs))
        .route("/jobs/{job}", get(job_page::job))
        .route("/jobs/{job}/run", post(actions::run_now))
        .route("/jobs/{job}/pause", post(actions::pause))
        .route("/jobs/{job}/resume", post(actions::resume))
        .route("/now", get(now_page::now))
        .route("/history", get(history_page::history))
        .route("/runs/{id}", get(run_page::run))
        .route("/runs/{id}/events", get(run_page::events))
        .route("/runs/{id}/cancel", post(actions::cancel))
        .route("/runs/{id}/again", post(actions::run_again))
        .route("/login", get(login::form).post(login::login))
        .route("/logout", post(login::logout))
        .route("/assets/dashboard.css", get(assets::css))
        .route("/assets/dashboard.js", get(assets::js))
        .with_state(dashboard)
}

/// A page that could not be drawn: its status and one sentence.
pub struct PageError {
    status: StatusCode,
    message: String,
}

impl PageError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> PageError {
        PageError {
            status,
            message: message.into(),
        }
    }

    pub fn not_found(message: impl Into<String>) -> PageError {
        PageError::new(StatusCode::NOT_FOUND, message)
    }
}

impl From<StoreError> for PageError {
    fn from(error: StoreError) -> PageError {
        let status = match &error {
            StoreError::Unreachable { .. } => StatusCode::SERVICE_UNAVAILABLE,
            StoreError::NotFound(_) => StatusCode::NOT_FOUND,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        };
        PageError::new(status, error.to_string())
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        let body = html! {
            (maud::DOCTYPE)
            html lang="en" {
                head {
                    meta charset="utf-8";
                    meta name="viewport" content="width=device-width, initial-scale=1";
                    title { "cronq: " (self.status.as_u16()) }
                    link rel="stylesheet" href="/assets/dashboard.css";
                }
                body {
                    main id="main" {
                        h1 { (self.status.canonical_reason().unwrap_or("Error")) }
                        p.problem role="alert" { (self.message) }
                        p { a href="/" { "Back to the jobs" } }
                    }
                }
            }
        };
        (self.status, body).into_response()
    }
}
