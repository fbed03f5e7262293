//! `POST /api/v1/jobs/{job}/pause` and `/resume`, and `POST /api/v1/pause` and
//! `/api/v1/resume` for every job at once, as `cronq pause` and `cronq resume` (and
//! their `--all`) do: the same functions of `crate::pause`, with `by: "token:NAME"`.
//! Admin scope. A job's endpoints answer with the job as `GET /api/v1/jobs/{job}` does,
//! its `paused` field the pause that now holds it; every job's, with the pauses in force
//! as `status --json` lists them.

use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use chrono::{DateTime, Utc};
use serde_json::{Map, Value, json};

use super::auth::Caller;
use super::error::ApiError;
use super::jobs;
use super::state::Api;
use crate::manual;
use crate::pause::{self, UntilError};
use crate::report::instant;
use crate::report::jobs::JobView;
use crate::report::pause::paused_json;
use crate::settings::Scope;
use crate::store::{Pause, PauseScope};

/// What a pause's body may hold; every field is optional.
const FIELDS: &str = r#"{"reason": "text", "until": "RFC 3339" | null, "for": "2h" | null}"#;

pub async fn pause_job(
    State(api): State<Arc<Api>>,
    caller: Caller,
    Path(name): Path<String>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    caller.need(Scope::Admin)?;
    let wanted = wanted(&body, &caller, Utc::now())?;
    let job = known(&api, &name).await?;
    let scope = PauseScope::Job(name);
    pause::pause(&*api.store, &scope, &wanted).await?;
    tracing::info!(job = %job.job.name, by = %wanted.by, "job paused over the HTTP API");
    Ok(Json(jobs::detail(&api, &job).await?))
}

pub async fn resume_job(
    State(api): State<Arc<Api>>,
    caller: Caller,
    Path(name): Path<String>,
) -> Result<Json<Value>, ApiError> {
    caller.need(Scope::Admin)?;
    let scope = PauseScope::Job(name.clone());
    let resumed = pause::resume(&*api.store, &scope).await?;
    if resumed.ended.is_some() {
        tracing::info!(job = %name, by = %caller.by(), "job resumed over the HTTP API");
    }
    // A job paused and since removed from the schedule can still be resumed; it has no
    // JSON of its own to answer with then.
    match jobs::find(&api, &name).await? {
        Some(job) => Ok(Json(jobs::detail(&api, &job).await?)),
        None if resumed.ended.is_some() => Ok(Json(json!({"name": name, "paused": null}))),
        None => Err(unknown(&api, &name).await),
    }
}

pub async fn pause_all(
    State(api): State<Arc<Api>>,
    caller: Caller,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    caller.need(Scope::Admin)?;
    let wanted = wanted(&body, &caller, Utc::now())?;
    pause::pause(&*api.store, &PauseScope::All, &wanted).await?;
    tracing::info!(by = %wanted.by, "every job paused over the HTTP API");
    in_force(&api).await
}

pub async fn resume_all(
    State(api): State<Arc<Api>>,
    caller: Caller,
) -> Result<Json<Value>, ApiError> {
    caller.need(Scope::Admin)?;
    let resumed = pause::resume(&*api.store, &PauseScope::All).await?;
    if resumed.ended.is_some() {
        tracing::info!(by = %caller.by(), "every job resumed over the HTTP API");
    }
    // What stays are the jobs paused on their own, as `resume --all` leaves them.
    in_force(&api).await
}

/// `{"paused": [...]}`: the pauses in force, as `status --json` lists them.
async fn in_force(api: &Api) -> Result<Json<Value>, ApiError> {
    let pauses = api.store.pauses().await?;
    Ok(Json(json!({ "paused": paused_json(&pauses) })))
}

async fn known(api: &Api, name: &str) -> Result<JobView, ApiError> {
    match jobs::find(api, name).await? {
        Some(job) => Ok(job),
        None => Err(unknown(api, name).await),
    }
}

/// 404, in the words `cronq pause` uses for a job it does not know.
async fn unknown(api: &Api, name: &str) -> ApiError {
    let published = api.published_shared().await.ok().flatten();
    let local = api.local_schedule();
    let refusal = manual::unknown_job(name, published.as_deref(), local.as_deref(), &api.settings);
    ApiError::not_found(refusal.to_string())
}

/// The pause a body asks for at `now`, by the caller; 400 naming the field at fault.
fn wanted(body: &[u8], caller: &Caller, now: DateTime<Utc>) -> Result<Pause, ApiError> {
    let fields = fields(body)?;
    let text = |name: &str| -> Result<Option<String>, ApiError> {
        match fields.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(text)) => Ok(Some(text.clone())),
            Some(other) => Err(ApiError::bad_request(format!(
                "`{name}` must be a string or null, not {other}"
            ))),
        }
    };
    let reason = text("reason")?.filter(|text| !text.trim().is_empty());
    let until = text("until")?.map(|text| parse_until(&text)).transpose()?;
    let for_ = text("for")?.map(|text| parse_for(&text)).transpose()?;
    let until = pause::ends_at(until, for_, now).map_err(until_error)?;
    Ok(Pause {
        reason,
        by: caller.by(),
        since: now,
        until,
    })
}

/// The body's fields: an empty body is no field; anything but an object of the known
/// fields is refused.
fn fields(body: &[u8]) -> Result<Map<String, Value>, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Map::new());
    }
    let value: Value = serde_json::from_slice(body).map_err(|error| {
        ApiError::bad_request(format!("the body is not JSON ({error}); expected {FIELDS}"))
    })?;
    let Value::Object(fields) = value else {
        return Err(ApiError::bad_request(format!(
            "the body must be a JSON object such as {FIELDS}"
        )));
    };
    if let Some(name) = fields
        .keys()
        .find(|name| !["reason", "until", "for"].contains(&name.as_str()))
    {
        return Err(ApiError::bad_request(format!(
            "the body has no field `{name}`; expected {FIELDS}"
        )));
    }
    Ok(fields)
}

fn parse_until(text: &str) -> Result<DateTime<Utc>, ApiError> {
    DateTime::parse_from_rfc3339(text)
        .map(|at| at.to_utc())
        .map_err(|_| {
            ApiError::bad_request(format!(
                "`until` `{text}` is not an instant; expected RFC 3339, such as 2026-12-24T08:00:00Z"
            ))
        })
}

fn parse_for(text: &str) -> Result<Duration, ApiError> {
    humantime::parse_duration(text).map_err(|_| {
        ApiError::bad_request(format!(
            "`for` `{text}` is not a duration such as 2h or 30m"
        ))
    })
}

fn until_error(error: UntilError) -> ApiError {
    ApiError::bad_request(match error {
        UntilError::Both => {
            "`until` and `for` both say when the pause ends; give only one of them".to_string()
        }
        UntilError::Past(at) => format!(
            "`until` {} is in the past; give a later instant, or `for`",
            instant(&at)
        ),
        UntilError::Duration(span) => format!(
            "`for` {} cannot end a pause; give a duration above zero, such as 2h",
            humantime::format_duration(span)
        ),
    })
}
