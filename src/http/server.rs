//! The listener and the routes. Without `api_tokens` the API answers only reads, so it
//! listens on a loopback address only: another is refused at start.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::routing::{get, post};
use tokio::net::TcpListener;

use super::error::ApiError;
use super::state::Api;
use super::{jobs, output, repeat, runs, status};
use crate::settings::ApiToken;

/// Listens on `addr`, once the loopback rule holds: the one sentence why not, else.
pub async fn bind(addr: SocketAddr, tokens: &[ApiToken]) -> Result<TcpListener, String> {
    for token in tokens {
        if let Err(why) = &token.token {
            return Err(format!("api token `{}`: {why}", token.name));
        }
    }
    if tokens.is_empty() && !addr.ip().is_loopback() {
        return Err(format!(
            "the HTTP API at {addr} would answer anyone who reaches it, and no api_tokens are configured; listen on a loopback address such as 127.0.0.1:{}, or give api_tokens in the settings",
            addr.port()
        ));
    }
    TcpListener::bind(addr)
        .await
        .map_err(|error| format!("cannot listen on {addr} for the HTTP API: {error}"))
}

/// Serves the API until `api.stop` is cancelled; requests under way finish first, and
/// the waits and streams among them end at once.
pub async fn serve(listener: TcpListener, api: Arc<Api>) -> std::io::Result<()> {
    let stop = api.stop.clone();
    if let Ok(addr) = listener.local_addr() {
        tracing::info!(%addr, tokens = api.settings.api_tokens.len(), "serving the HTTP API");
    }
    axum::serve(listener, router(api))
        .with_graceful_shutdown(stop.cancelled_owned())
        .await
}

fn router(api: Arc<Api>) -> Router {
    let dashboard = crate::web::pages(Arc::clone(&api));
    Router::new()
        .route("/healthz", get(status::healthz))
        .route("/readyz", get(status::readyz))
        .route("/api/v1/status", get(status::status))
        .route("/api/v1/jobs", get(jobs::list))
        .route("/api/v1/jobs/{job}", get(jobs::one))
        .route("/api/v1/jobs/{job}/runs", post(jobs::trigger))
        .route("/api/v1/jobs/{job}/backfill", post(repeat::backfill))
        .route("/api/v1/runs", get(runs::list))
        .route("/api/v1/runs/{id}", get(runs::one))
        .route("/api/v1/runs/{id}/cancel", post(runs::cancel))
        .route("/api/v1/runs/{id}/rerun", post(repeat::rerun))
        .route("/api/v1/runs/{id}/output", get(output::output))
        .fallback(|| async {
            ApiError::not_found("no such endpoint; see the README's HTTP API section")
        })
        .with_state(api)
        .merge(dashboard)
}
