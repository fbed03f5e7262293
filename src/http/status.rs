//! `GET /api/v1/status`, as `status --json`, and the probes: `/healthz` (the process
//! answers) and `/readyz` (so does the store). The probes need no token: they say
//! nothing about the jobs.

use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::extract::{Query, State};
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use serde::Deserialize;
use serde_json::{Value, json};

use super::auth::Caller;
use super::error::ApiError;
use super::state::Api;
use crate::report::status::{compare_schedules, gather};
use crate::settings::Scope;

/// How long `/readyz` waits for the store before it calls it not ready.
const READY_WITHIN: Duration = Duration::from_secs(2);
/// `status --grace`'s default.
const GRACE: Duration = Duration::from_secs(60);

pub async fn healthz() -> Json<Value> {
    Json(json!({ "ok": true }))
}

pub async fn readyz(State(api): State<Arc<Api>>) -> Result<Json<Value>, ApiError> {
    match tokio::time::timeout(READY_WITHIN, api.store.published_hash()).await {
        Ok(Ok(_)) => Ok(Json(json!({ "ok": true }))),
        Ok(Err(error)) => Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            error.to_string(),
        )),
        Err(_) => Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            format!(
                "the store at {} did not answer within {}s",
                api.settings.store,
                READY_WITHIN.as_secs()
            ),
        )),
    }
}

#[derive(Deserialize)]
pub struct StatusQuery {
    /// As `status --grace`: `60s`, `5m`.
    grace: Option<String>,
}

pub async fn status(
    State(api): State<Arc<Api>>,
    caller: Caller,
    Query(query): Query<StatusQuery>,
) -> Result<impl IntoResponse + use<>, ApiError> {
    caller.need(Scope::Read)?;
    let grace = match &query.grace {
        None => GRACE,
        Some(text) => humantime::parse_duration(text).map_err(|_| {
            ApiError::bad_request(format!(
                "grace `{text}` is not a duration such as 60s or 5m"
            ))
        })?,
    };
    let local = api.local_schedule();
    // The published schedule says nothing the local file does not when their hashes
    // agree: then only its hash is read, not the whole of it (megabytes for 10,000 jobs).
    let published = match &local {
        Some(local) if api.store.published_hash().await?.as_ref() == Some(&local.hash) => None,
        _ => api.published_shared().await?,
    };
    let timed = api.timed(local.as_deref(), published.as_deref());
    let mut report = gather(&*api.store, &timed, &api.settings, grace).await?;
    let file = api.settings.schedule.0.display().to_string();
    report.problems.extend(
        compare_schedules(&file, local.as_deref(), published.as_deref(), &*api.store).await?,
    );
    // Straight to bytes: a tree of values for 1,000 runs costs as much as the writing.
    Ok((
        [(header::CONTENT_TYPE, "application/json")],
        report.json_bytes(),
    ))
}
