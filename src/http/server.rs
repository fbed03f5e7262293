//! The listener and the routes. Without `api_tokens` the API answers only reads, so it
//! listens on a loopback address only: another is refused at start.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::http::Method;
use axum::routing::{MethodRouter, get, post};
use tokio::net::TcpListener;

use super::error::ApiError;
use super::state::Api;
use super::{jobs, openapi, output, pause, repeat, runs, status};
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

/// Every endpoint: its method, its path and its handler. The router is built from this
/// table, and the OpenAPI document is checked against it (`openapi`'s tests), so a
/// route cannot be served without being documented.
fn table() -> Vec<(Method, &'static str, MethodRouter<Arc<Api>>)> {
    vec![
        (Method::GET, "/healthz", get(status::healthz)),
        (Method::GET, "/readyz", get(status::readyz)),
        (Method::GET, "/api/v1/openapi.json", get(openapi::document)),
        (Method::GET, "/api/v1/status", get(status::status)),
        (Method::GET, "/api/v1/jobs", get(jobs::list)),
        (Method::GET, "/api/v1/jobs/{job}", get(jobs::one)),
        (Method::POST, "/api/v1/jobs/{job}/runs", post(jobs::trigger)),
        (
            Method::POST,
            "/api/v1/jobs/{job}/backfill",
            post(repeat::backfill),
        ),
        (
            Method::POST,
            "/api/v1/jobs/{job}/pause",
            post(pause::pause_job),
        ),
        (
            Method::POST,
            "/api/v1/jobs/{job}/resume",
            post(pause::resume_job),
        ),
        (Method::POST, "/api/v1/pause", post(pause::pause_all)),
        (Method::POST, "/api/v1/resume", post(pause::resume_all)),
        (Method::GET, "/api/v1/runs", get(runs::list)),
        (Method::GET, "/api/v1/runs/{id}", get(runs::one)),
        (Method::POST, "/api/v1/runs/{id}/cancel", post(runs::cancel)),
        (Method::POST, "/api/v1/runs/{id}/rerun", post(repeat::rerun)),
        (Method::GET, "/api/v1/runs/{id}/output", get(output::output)),
    ]
}

/// The method and path of every endpoint served.
pub fn endpoints() -> Vec<(Method, &'static str)> {
    table()
        .into_iter()
        .map(|(method, path, _)| (method, path))
        .collect()
}

fn router(api: Arc<Api>) -> Router {
    table()
        .into_iter()
        .fold(Router::new(), |router, (_, path, handler)| {
            router.route(path, handler)
        })
        .fallback(|| async {
            ApiError::not_found("no such endpoint; see the README's HTTP API section")
        })
        .with_state(api)
}
