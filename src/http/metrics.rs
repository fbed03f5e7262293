//! `GET /metrics`: the figures of `report::metrics` as OpenMetrics text. On the API's
//! address it is a read like any other (scope `read` when tokens are configured); on
//! `metrics_addr`, which serves nothing else, it needs no token, as a scrape port.
//! When the store does not answer, a scrape still gets this process's own families.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::{TimeDelta, Utc};
use prometheus_client::registry::Registry;

use super::auth::Caller;
use super::error::ApiError;
use super::state::Api;
use crate::report::jobs::JobView;
use crate::report::metrics::{cluster, registry};
use crate::settings::Scope;
use crate::store::StoreError;

/// How long a scrape waits for the store's figures before it answers without them,
/// within Prometheus's default scrape timeout of 10 s.
const STORE_WITHIN: Duration = Duration::from_secs(5);

/// What Prometheus asks for first and OpenMetrics text is.
const OPENMETRICS: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// `/metrics` on the API's address.
pub async fn metrics(State(api): State<Arc<Api>>, caller: Caller) -> Result<Response, ApiError> {
    caller.need(Scope::Read)?;
    scrape(&api).await
}

/// `/metrics` on `metrics_addr`.
pub async fn open_metrics(State(api): State<Arc<Api>>) -> Result<Response, ApiError> {
    scrape(&api).await
}

async fn scrape(api: &Api) -> Result<Response, ApiError> {
    let cluster = match tokio::time::timeout(STORE_WITHIN, cluster_figures(api)).await {
        Ok(Ok(cluster)) => Some(cluster),
        Ok(Err(error)) => {
            tracing::warn!(%error, "/metrics without the store's figures");
            None
        }
        Err(_) => {
            tracing::warn!(store = %api.settings.store, "/metrics without the store's figures: it did not answer within {}s", STORE_WITHIN.as_secs());
            None
        }
    };
    let registry = registry(cluster);
    let mut text = String::new();
    prometheus_client::encoding::text::encode(&mut text, &registry).map_err(|_| {
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "the metrics could not be written as text",
        )
    })?;
    let mut response = text.into_response();
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(OPENMETRICS));
    Ok(response)
}

/// The store's figures for the local schedule's jobs, else the published schedule's.
async fn cluster_figures(api: &Api) -> Result<Registry, StoreError> {
    let jobs = match api.local_schedule() {
        Some(local) => JobView::of_schedule(&local),
        None => api
            .published()
            .await?
            .map(|published| JobView::of_published(&published))
            .unwrap_or_default(),
    };
    let stale_after = TimeDelta::from_std(api.settings.lease).unwrap_or(TimeDelta::MAX);
    cluster(&*api.store, &jobs, stale_after, Utc::now()).await
}
