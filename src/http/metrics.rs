//! `GET /metrics`: the figures of `report::metrics` as OpenMetrics text. On the API's
//! address it is a read like any other (scope `read` when tokens are configured); on
//! `metrics_addr`, which serves nothing else, it needs no token, as a scrape port.

use std::sync::Arc;

use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::{TimeDelta, Utc};

use super::auth::Caller;
use super::error::ApiError;
use super::state::Api;
use crate::report::jobs::JobView;
use crate::report::metrics::gather;
use crate::settings::Scope;

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
    // The local schedule when there is one; else what the daemons published.
    let jobs = match api.local_schedule() {
        Some(local) => JobView::of_schedule(&local),
        None => api
            .published()
            .await?
            .map(|published| JobView::of_published(&published))
            .unwrap_or_default(),
    };
    let stale_after = TimeDelta::from_std(api.settings.lease).unwrap_or(TimeDelta::MAX);
    let registry = gather(&*api.store, &jobs, stale_after, Utc::now()).await?;
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
