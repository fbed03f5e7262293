//! `GET /api/v1/runs` (as `history --json`), `GET /api/v1/runs/{id}` (as `show --json`)
//! and `POST /api/v1/runs/{id}/cancel` (as `cancel`).

use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::time::Instant;

use super::auth::Caller;
use super::error::ApiError;
use super::state::Api;
use crate::manual;
use crate::report::{self, run_json};
use crate::schedule::DEFAULT_KILL_GRACE;
use crate::settings::Scope;
use crate::store::{Cancelled, HistoryFilter, Run, RunStatus, StoreError};

/// `history --limit`'s default.
const LIMIT: usize = 20;
/// Beyond the job's `kill_grace`, as `cancel` waits: the worker's look for cancel
/// requests, the kill, and recording the end.
const MARGIN: Duration = Duration::from_secs(5);

#[derive(Deserialize)]
pub struct ListQuery {
    job: Option<String>,
    status: Option<String>,
    /// A duration back from now (`2d`, `90m`) or an RFC 3339 instant.
    since: Option<String>,
    limit: Option<usize>,
}

pub async fn list(
    State(api): State<Arc<Api>>,
    caller: Caller,
    Query(query): Query<ListQuery>,
) -> Result<Json<Value>, ApiError> {
    caller.need(Scope::Read)?;
    let now = Utc::now();
    let filter = HistoryFilter {
        job: query.job,
        statuses: match &query.status {
            None => Vec::new(),
            Some(text) => vec![status(text)?],
        },
        since: query
            .since
            .as_deref()
            .map(|text| since(text, now))
            .transpose()?,
        limit: match query.limit {
            Some(0) => return Err(ApiError::bad_request("limit must be at least 1")),
            limit => limit.unwrap_or(LIMIT),
        },
    };
    let runs = api.store.history(&filter).await?;
    Ok(Json(report::history_json(&*api.store, &runs, now).await?))
}

pub async fn one(
    State(api): State<Arc<Api>>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    caller.need(Scope::Read)?;
    let run = find(&api, &id).await?;
    Ok(Json(
        report::show_json(&*api.store, &run, Utc::now()).await?,
    ))
}

#[derive(Deserialize)]
pub struct CancelQuery {
    wait: Option<bool>,
}

/// 200 with the run once it has ended (or left its queue), 202 when a running run was
/// asked to stop and `wait=false` or it still ran at the deadline, 409 when it had
/// already finished.
pub async fn cancel(
    State(api): State<Arc<Api>>,
    caller: Caller,
    Path(id): Path<String>,
    Query(query): Query<CancelQuery>,
) -> Result<Response, ApiError> {
    caller.need(Scope::Run)?;
    let id = id.trim().to_ascii_uppercase();
    let answer = |status: StatusCode, run: &Run| {
        (status, Json(run_json(run, Utc::now(), None))).into_response()
    };
    match api.store.cancel(&id).await {
        Ok(cancelled) => {
            tracing::info!(run = %id, by = %caller.by(), "cancel asked over the HTTP API");
            let run = api.store.run(&id).await?;
            if cancelled == Cancelled::Dequeued {
                return Ok(answer(StatusCode::OK, &run));
            }
            if query.wait == Some(false) {
                return Ok(answer(StatusCode::ACCEPTED, &run));
            }
            let kill_grace = api
                .local_schedule()
                .and_then(|local| local.job(&run.job).map(|job| job.kill_grace))
                .unwrap_or(DEFAULT_KILL_GRACE);
            let deadline = Instant::now() + kill_grace + MARGIN;
            let ended = tokio::select! {
                ended = manual::wait_for_end(&*api.store, &id, deadline) => ended?,
                () = api.stop.cancelled() => None,
            };
            match ended {
                Some(run) => Ok(answer(StatusCode::OK, &run)),
                None => Ok(answer(StatusCode::ACCEPTED, &api.store.run(&id).await?)),
            }
        }
        Err(StoreError::WrongStatus { status, .. }) => {
            let run = api.store.run(&id).await?;
            Err(
                ApiError::new(StatusCode::CONFLICT, format!("run {id} already {status}"))
                    .with(json!({ "run": run_json(&run, Utc::now(), None) })),
            )
        }
        Err(StoreError::NotFound(_)) => Err(unknown(&id)),
        Err(error) => Err(error.into()),
    }
}

/// The run of an id as typed: any case.
pub async fn find(api: &Api, typed: &str) -> Result<Run, ApiError> {
    let id = typed.trim().to_ascii_uppercase();
    match api.store.run(&id).await {
        Ok(run) => Ok(run),
        Err(StoreError::NotFound(_)) => Err(unknown(&id)),
        Err(error) => Err(error.into()),
    }
}

fn unknown(id: &str) -> ApiError {
    ApiError::not_found(format!(
        "no run {id} in the store; GET /api/v1/runs lists the runs it keeps"
    ))
}

fn status(text: &str) -> Result<RunStatus, ApiError> {
    RunStatus::parse(&text.to_ascii_lowercase()).ok_or_else(|| {
        let names: Vec<&str> = RunStatus::ALL.iter().map(|s| s.as_str()).collect();
        ApiError::bad_request(format!(
            "`{text}` is not a run status; expected one of {}",
            names.join(", ")
        ))
    })
}

fn since(text: &str, now: DateTime<Utc>) -> Result<DateTime<Utc>, ApiError> {
    if let Ok(at) = DateTime::parse_from_rfc3339(text) {
        return Ok(at.with_timezone(&Utc));
    }
    humantime::parse_duration(text)
        .ok()
        .and_then(|ago| chrono::Duration::from_std(ago).ok())
        .and_then(|ago| now.checked_sub_signed(ago))
        .ok_or_else(|| {
            ApiError::bad_request(format!(
                "since `{text}` is neither a duration such as 2d nor an RFC 3339 instant"
            ))
        })
}
