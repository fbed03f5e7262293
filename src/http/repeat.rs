//! `POST /api/v1/runs/{id}/rerun` and `POST /api/v1/jobs/{job}/backfill`: a run again,
//! and the past instants of a job that have no run, as `cronq rerun` and `cronq
//! backfill` queue them.

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::Value;

use super::auth::Caller;
use super::error::ApiError;
use super::jobs::{TriggerQuery, queue_made, respond};
use super::state::Api;
use crate::backfill::{self, Names};
use crate::manual;
use crate::settings::Scope;
use crate::store::StoreError;

/// The range a backfill takes when `max` is not given, as the CLI's `--max`.
const MAX_INSTANTS: usize = 1000;

pub async fn rerun(
    State(api): State<Arc<Api>>,
    caller: Caller,
    Path(id): Path<String>,
    Query(query): Query<TriggerQuery>,
) -> Result<Response, ApiError> {
    caller.need(Scope::Run)?;
    let wait = query.wait()?;
    let old = match api.store.run(&id.to_ascii_uppercase()).await {
        Err(StoreError::NotFound(_)) => {
            return Err(ApiError::not_found(format!("no run {id} in the store")));
        }
        found => found?,
    };
    let published = api.published_shared().await?;
    let local = api.local_schedule();
    let made = manual::rerun(
        &old,
        caller.by(),
        published.as_deref(),
        local.as_deref(),
        &api.settings,
    );
    let run = queue_made(&api, &old.job, made, query.force).await?;
    tracing::info!(run = %run.id, job = %run.job, rerun_of = %old.id, by = %caller.by(), "rerun queued over the HTTP API");
    respond(&api, run, wait, StatusCode::CREATED, false).await
}

/// The body of a backfill.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct BackfillBody {
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    #[serde(default)]
    dry_run: bool,
    max: Option<usize>,
}

pub async fn backfill(
    State(api): State<Arc<Api>>,
    caller: Caller,
    Path(name): Path<String>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    caller.need(Scope::Run)?;
    let body: BackfillBody = serde_json::from_slice(&body).map_err(|error| {
        ApiError::bad_request(format!(
            "the body must be {{\"from\": RFC3339, \"to\": RFC3339, \"dry_run\": false, \"max\": {MAX_INSTANTS}}}: {error}"
        ))
    })?;
    // The instants the daemon claims come from the schedule, zone and jitter of the
    // job as the local file has it.
    let local = api.local_schedule();
    let Some(job) = local.as_deref().and_then(|schedule| schedule.job(&name)) else {
        return Err(ApiError::not_found(format!(
            "no job `{name}` in the schedule file {} (a backfill reads the job from it)",
            api.settings.schedule.0.display()
        )));
    };
    let known_for = api.store.claims_kept(job.keep.max_age);
    let max = body.max.unwrap_or(MAX_INSTANTS);
    let instants = backfill::instants(
        job,
        body.from,
        body.to,
        Utc::now(),
        known_for,
        max,
        &Names::FIELDS,
    )
    .map_err(|refusal| ApiError::bad_request(refusal.to_string()))?;
    let by = caller.by();
    let done = backfill::backfill(&*api.store, job, &instants, &by, body.dry_run).await?;
    if !body.dry_run {
        tracing::info!(job = %name, instants = done.len(), by = %by, "backfill over the HTTP API");
    }
    Ok(Json(backfill::json(&job.name, body.dry_run, &done)))
}
