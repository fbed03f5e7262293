//! `GET /api/v1/jobs`, `GET /api/v1/jobs/{job}` and `POST /api/v1/jobs/{job}/runs`:
//! the jobs of the published schedule (else of the local file), and a run of one by
//! hand, as `cronq run` queues it.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::time::Instant;

use super::auth::Caller;
use super::error::ApiError;
use super::state::Api;
use crate::manual::{self, Refusal, Request};
use crate::pause::Pauses;
use crate::report::jobs::JobView;
use crate::report::run_json;
use crate::schedule::Concurrency;
use crate::settings::Scope;
use crate::store::{KeyClaim, NewRun, Run, StoreError};

/// How long `?wait=true` holds a request when no `timeout` is given.
const WAIT: Duration = Duration::from_secs(30);
/// The longest `timeout` taken.
const MAX_WAIT: Duration = Duration::from_secs(3600);
/// How long a run an Idempotency-Key made is remembered.
const KEY_KEPT: Duration = Duration::from_secs(24 * 3600);
/// How long a key is held by a request under way, beyond its wait.
const KEY_HELD: Duration = Duration::from_secs(60);
/// The longest Idempotency-Key taken, in bytes.
const KEY_MAX: usize = 255;

/// The jobs, from the published schedule, else from the local file.
pub(crate) async fn jobs(api: &Api) -> Result<Vec<JobView>, ApiError> {
    if let Some(published) = api.published_shared().await? {
        return Ok(JobView::of_published(&published));
    }
    Ok(api
        .local_schedule()
        .map(|local| JobView::of_schedule(&local))
        .unwrap_or_default())
}

/// The job named `name`: from the published schedule, else from the local file.
pub(super) async fn find(api: &Api, name: &str) -> Result<Option<JobView>, ApiError> {
    let published = api.published_shared().await?;
    let in_published = published.as_deref().and_then(|published| {
        JobView::of_published(published)
            .into_iter()
            .find(|view| view.job.name == name)
    });
    if in_published.is_some() {
        return Ok(in_published);
    }
    Ok(api.local_schedule().and_then(|local| {
        JobView::of_schedule(&local)
            .into_iter()
            .find(|view| view.job.name == name)
    }))
}

/// One job as `GET /api/v1/jobs/{job}` answers it, with the pauses in force now.
pub(super) async fn detail(api: &Api, job: &JobView) -> Result<Value, ApiError> {
    let pauses = Pauses::read(&*api.store).await?;
    Ok(job.detail_json(&*api.store, Utc::now(), &pauses).await?)
}

pub async fn list(State(api): State<Arc<Api>>, caller: Caller) -> Result<Json<Value>, ApiError> {
    caller.need(Scope::Read)?;
    let now = Utc::now();
    let pauses = Pauses::read(&*api.store).await?;
    let jobs: Vec<Value> = jobs(&api)
        .await?
        .iter()
        .map(|job| job.json(now, &pauses))
        .collect();
    Ok(Json(json!({ "jobs": jobs })))
}

pub async fn one(
    State(api): State<Arc<Api>>,
    caller: Caller,
    Path(name): Path<String>,
) -> Result<Json<Value>, ApiError> {
    caller.need(Scope::Read)?;
    let job = find(&api, &name)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no job `{name}` in the schedule")))?;
    Ok(Json(detail(&api, &job).await?))
}

/// The body of a trigger: both optional.
#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct TriggerBody {
    #[serde(default)]
    args: Vec<String>,
    #[serde(default)]
    env: BTreeMap<String, String>,
}

#[derive(Deserialize)]
pub struct TriggerQuery {
    #[serde(default)]
    pub(super) wait: bool,
    /// With `wait`: `30s`, `5m`.
    pub(super) timeout: Option<String>,
    /// Queue the run even while `concurrency: forbid` would refuse it, as `run --force`.
    #[serde(default)]
    pub(super) force: bool,
}

impl TriggerQuery {
    /// How long to hold the request for the run's end: `None` without `wait`.
    pub(super) fn wait(&self) -> Result<Option<Duration>, ApiError> {
        match (&self.timeout, self.wait) {
            (_, false) => Ok(None),
            (None, true) => Ok(Some(WAIT)),
            (Some(text), true) => parse_wait(text).map(Some),
        }
    }
}

pub async fn trigger(
    State(api): State<Arc<Api>>,
    caller: Caller,
    Path(name): Path<String>,
    Query(query): Query<TriggerQuery>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    caller.need(Scope::Run)?;
    let body: TriggerBody = match body.is_empty() {
        true => TriggerBody::default(),
        false => serde_json::from_slice(&body).map_err(|error| {
            ApiError::bad_request(format!(
                "the body must be {{\"args\": [\"…\"], \"env\": {{\"NAME\": \"value\"}}}}: {error}"
            ))
        })?,
    };
    let wait = query.wait()?;
    let key = idempotency_key(&headers, &name)?;
    let hold = KEY_HELD + wait.unwrap_or_default();
    if let Some(key) = &key {
        match api.store.claim_idempotency_key(key, hold).await? {
            KeyClaim::Claimed => {}
            KeyClaim::Pending => {
                return Err(ApiError::new(
                    StatusCode::CONFLICT,
                    "a request with this Idempotency-Key is still under way; retry it once that one has answered",
                ));
            }
            KeyClaim::Done(id) => {
                let run = api.store.run(&id).await?;
                return respond(&api, run, wait, StatusCode::OK, true).await;
            }
        }
    }
    let queued = queue(&api, &caller, &name, body, query.force).await;
    if let Some(key) = &key {
        let made = queued.as_ref().ok().map(|run| run.id.as_str());
        api.store
            .settle_idempotency_key(key, made, KEY_KEPT)
            .await?;
    }
    let run = queued?;
    tracing::info!(run = %run.id, job = %run.job, by = %caller.by(), "run queued over the HTTP API");
    respond(&api, run, wait, StatusCode::CREATED, false).await
}

/// Looks the job up and queues its run under the job's `concurrency`, as `cronq run`
/// does: 409 with the run that holds the job when `forbid` refuses it.
async fn queue(
    api: &Api,
    caller: &Caller,
    name: &str,
    body: TriggerBody,
    force: bool,
) -> Result<Run, ApiError> {
    let published = api.published_shared().await?;
    let local = api.local_schedule();
    let request = Request {
        job: name,
        args: body.args,
        env: body.env,
        by: caller.by(),
    };
    let made = manual::new_run(
        request,
        published.as_deref(),
        local.as_deref(),
        &api.settings,
    );
    queue_made(api, name, made, force).await
}

/// Queues a run `manual` made (or answers why it did not) under the job's
/// `concurrency`: 404 for an unknown job, 400 for refused args or env, 409 with the run
/// that holds the job when `forbid` refuses it.
pub(super) async fn queue_made(
    api: &Api,
    name: &str,
    made: Result<(NewRun, Option<Concurrency>), Refusal>,
    force: bool,
) -> Result<Run, ApiError> {
    let (new_run, concurrency) = made.map_err(|refusal| match refusal {
        Refusal::UnknownJob(text) => ApiError::not_found(text),
        Refusal::NotAllowed(text) => ApiError::bad_request(text),
    })?;
    let queued = manual::queue_by_policy(&*api.store, new_run, concurrency, force).await?;
    for id in &queued.replaced {
        tracing::info!(job = %name, run = %id, "asked the running run to stop (concurrency: replace)");
    }
    match queued.run {
        Ok(run) => Ok(run),
        Err(busy @ StoreError::Busy { .. }) => {
            let StoreError::Busy { holder, .. } = &busy else {
                unreachable!("matched as Busy")
            };
            let holding = api.store.run(holder).await?;
            Err(
                ApiError::new(StatusCode::CONFLICT, format!("skipped: {busy}"))
                    .with(json!({ "run": run_json(&holding, Utc::now(), None) })),
            )
        }
        Err(error) => Err(error.into()),
    }
}

/// The run, after following it to its end when asked to wait: `status` when it ended
/// (or no wait was asked), 202 when the wait ran out first.
pub(super) async fn respond(
    api: &Api,
    run: Run,
    wait: Option<Duration>,
    status: StatusCode,
    replayed: bool,
) -> Result<Response, ApiError> {
    let (run, status) = match wait {
        None => (run, status),
        Some(wait) => {
            let run = manual::follow(&*api.store, run, Instant::now() + wait, &api.stop).await?;
            let status = if run.status.is_finished() {
                status
            } else {
                StatusCode::ACCEPTED
            };
            (run, status)
        }
    };
    let mut response = (status, Json(run_json(&run, Utc::now(), None))).into_response();
    if replayed {
        response
            .headers_mut()
            .insert("idempotent-replayed", HeaderValue::from_static("true"));
    }
    Ok(response)
}

fn parse_wait(text: &str) -> Result<Duration, ApiError> {
    match humantime::parse_duration(text) {
        Ok(wait) if wait <= MAX_WAIT => Ok(wait),
        Ok(_) => Err(ApiError::bad_request(format!(
            "timeout `{text}` is longer than the hour a request may wait"
        ))),
        Err(_) => Err(ApiError::bad_request(format!(
            "timeout `{text}` is not a duration such as 30s or 5m"
        ))),
    }
}

/// The Idempotency-Key header, kept per job: the same key for another job is another.
fn idempotency_key(headers: &HeaderMap, job: &str) -> Result<Option<String>, ApiError> {
    let Some(value) = headers.get("idempotency-key") else {
        return Ok(None);
    };
    match value.to_str() {
        Ok(key) if !key.is_empty() && key.len() <= KEY_MAX => Ok(Some(format!("{job}/{key}"))),
        _ => Err(ApiError::bad_request(format!(
            "the Idempotency-Key must be 1 to {KEY_MAX} characters of visible ASCII"
        ))),
    }
}
