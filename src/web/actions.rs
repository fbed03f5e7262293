//! The forms that change something: run a job now, run a run again, cancel a run,
//! pause and resume a job. Each needs a session whose token's scope allows it, this
//! session's CSRF token, and a post from a page of this host (`session`). They do what
//! the CLI and the API do, through `manual` and `pause`, and answer with a redirect to
//! the page that shows the result.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::Form;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use chrono::{DateTime, NaiveDateTime, Utc};
use serde::Deserialize;

use super::session::{Viewer, percent_encode};
use super::{Dashboard, PageError};
use crate::manual::{self, Refusal, Request};
use crate::pause;
use crate::schedule::{Concurrency, Schedule};
use crate::settings::Scope;
use crate::settings::Settings;
use crate::store::{NewRun, Pause, PauseScope, PublishedSchedule, StoreError};

/// A run made from a form, with its job's concurrency policy, or why not.
type Made = Result<(NewRun, Option<Concurrency>), Refusal>;

#[derive(Deserialize)]
pub struct RunForm {
    #[serde(default)]
    csrf: String,
    /// One argument per line, for a job with `allow_args`.
    #[serde(default)]
    args: String,
    /// `NAME=value` per line, each name in the job's `allow_env`.
    #[serde(default)]
    env: String,
}

#[derive(Deserialize)]
pub struct PlainForm {
    #[serde(default)]
    csrf: String,
}

#[derive(Deserialize)]
pub struct PauseForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    reason: String,
    /// From `<input type="datetime-local">`, in UTC; empty for until resumed.
    #[serde(default)]
    until: String,
}

fn by(viewer: &Viewer) -> String {
    format!("web:{}", viewer.caller.name.as_deref().unwrap_or("-"))
}

fn refused(text: impl Into<String>) -> Response {
    PageError::new(StatusCode::BAD_REQUEST, text).into_response()
}

pub async fn run_now(
    State(dashboard): State<Arc<Dashboard>>,
    viewer: Viewer,
    Path(job): Path<String>,
    headers: HeaderMap,
    Form(form): Form<RunForm>,
) -> Response {
    if let Err(refusal) = viewer.check_post(Scope::Run, &form.csrf, &headers) {
        return refusal.into_response();
    }
    let args: Vec<String> = form
        .args
        .lines()
        .map(str::trim_end)
        .filter(|line| !line.is_empty())
        .map(str::to_string)
        .collect();
    let mut env = BTreeMap::new();
    for line in form.env.lines().map(str::trim).filter(|l| !l.is_empty()) {
        let Some((name, value)) = line.split_once('=') else {
            return refused(format!("`{line}` is not NAME=value"));
        };
        env.insert(name.trim().to_string(), value.to_string());
    }
    let request = Request {
        job: &job,
        args,
        env,
        by: by(&viewer),
    };
    queue(&dashboard, &viewer, |published, local, settings| {
        manual::new_run(request, published, local, settings)
    })
    .await
}

pub async fn run_again(
    State(dashboard): State<Arc<Dashboard>>,
    viewer: Viewer,
    Path(id): Path<String>,
    headers: HeaderMap,
    Form(form): Form<PlainForm>,
) -> Response {
    if let Err(refusal) = viewer.check_post(Scope::Run, &form.csrf, &headers) {
        return refusal.into_response();
    }
    let old = match dashboard.api.store.run(&id).await {
        Ok(run) => run,
        Err(error) => return PageError::from(error).into_response(),
    };
    // As `cronq rerun`: the same args and env, trigger `rerun`, linked to the old run.
    let by = by(&viewer);
    queue(&dashboard, &viewer, |published, local, settings| {
        manual::rerun(&old, by, published, local, settings)
    })
    .await
}

/// Queues the run `make` makes from the schedule (published, and the local file),
/// by its job's concurrency policy, and shows it; or why not.
async fn queue(
    dashboard: &Dashboard,
    viewer: &Viewer,
    make: impl FnOnce(Option<&PublishedSchedule>, Option<&Schedule>, &Settings) -> Made,
) -> Response {
    let api = &dashboard.api;
    let published = match api.published().await {
        Ok(published) => published,
        Err(error) => return PageError::from(error).into_response(),
    };
    let local = api.local_schedule();
    let made = make(published.as_ref(), local.as_deref(), &api.settings);
    let (new_run, concurrency) = match made {
        Ok(made) => made,
        Err(Refusal::UnknownJob(text)) => return PageError::not_found(text).into_response(),
        Err(Refusal::NotAllowed(text)) => return refused(text),
    };
    match manual::queue_by_policy(&*api.store, new_run, concurrency, false).await {
        Ok(queued) => match queued.run {
            Ok(run) => {
                tracing::info!(run = %run.id, job = %run.job, by = %by(viewer), "run queued from the dashboard");
                Redirect::to(&format!("/runs/{}", run.id)).into_response()
            }
            Err(busy @ StoreError::Busy { .. }) => {
                PageError::new(StatusCode::CONFLICT, format!("skipped: {busy}")).into_response()
            }
            Err(error) => PageError::from(error).into_response(),
        },
        Err(error) => PageError::from(error).into_response(),
    }
}

pub async fn cancel(
    State(dashboard): State<Arc<Dashboard>>,
    viewer: Viewer,
    Path(id): Path<String>,
    headers: HeaderMap,
    Form(form): Form<PlainForm>,
) -> Response {
    if let Err(refusal) = viewer.check_post(Scope::Run, &form.csrf, &headers) {
        return refusal.into_response();
    }
    match dashboard.api.store.cancel(&id).await {
        Ok(_) => {
            tracing::info!(run = %id, by = %by(&viewer), "cancel asked from the dashboard");
            Redirect::to(&format!("/runs/{id}")).into_response()
        }
        Err(StoreError::WrongStatus { status, .. }) => {
            PageError::new(StatusCode::CONFLICT, format!("run {id} already {status}"))
                .into_response()
        }
        Err(error) => PageError::from(error).into_response(),
    }
}

pub async fn pause(
    State(dashboard): State<Arc<Dashboard>>,
    viewer: Viewer,
    Path(job): Path<String>,
    headers: HeaderMap,
    Form(form): Form<PauseForm>,
) -> Response {
    if let Err(refusal) = viewer.check_post(Scope::Admin, &form.csrf, &headers) {
        return refusal.into_response();
    }
    let now = Utc::now();
    let until = match form.until.trim() {
        "" => None,
        text => match parse_until(text) {
            Some(at) => Some(at),
            None => {
                return refused(format!(
                    "until `{text}` is not a date and time such as 2026-12-24T08:00"
                ));
            }
        },
    };
    let ends = match pause::ends_at(until, None, now) {
        Ok(ends) => ends,
        Err(pause::UntilError::Past(at)) => {
            return refused(format!(
                "until {} has passed already",
                at.format("%Y-%m-%d %H:%M UTC")
            ));
        }
        Err(other) => return refused(format!("the pause's end is not usable: {other:?}")),
    };
    let reason = form.reason.trim();
    let given = Pause {
        reason: (!reason.is_empty()).then(|| reason.to_string()),
        by: by(&viewer),
        since: now,
        until: ends,
    };
    let scope = PauseScope::Job(job.clone());
    match pause::pause(&*dashboard.api.store, &scope, &given).await {
        Ok(_) => {
            tracing::info!(%job, by = %by(&viewer), "paused from the dashboard");
            Redirect::to(&format!("/jobs/{}", percent_encode(&job))).into_response()
        }
        Err(error) => PageError::from(error).into_response(),
    }
}

pub async fn resume(
    State(dashboard): State<Arc<Dashboard>>,
    viewer: Viewer,
    Path(job): Path<String>,
    headers: HeaderMap,
    Form(form): Form<PlainForm>,
) -> Response {
    if let Err(refusal) = viewer.check_post(Scope::Admin, &form.csrf, &headers) {
        return refusal.into_response();
    }
    let scope = PauseScope::Job(job.clone());
    match pause::resume(&*dashboard.api.store, &scope).await {
        Ok(_) => {
            tracing::info!(%job, by = %by(&viewer), "resumed from the dashboard");
            Redirect::to(&format!("/jobs/{}", percent_encode(&job))).into_response()
        }
        Err(error) => PageError::from(error).into_response(),
    }
}

/// `2026-12-24T08:00` (a datetime-local input, taken as UTC) or an RFC 3339 instant.
fn parse_until(text: &str) -> Option<DateTime<Utc>> {
    if let Ok(at) = DateTime::parse_from_rfc3339(text) {
        return Some(at.with_timezone(&Utc));
    }
    ["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M"]
        .iter()
        .find_map(|format| NaiveDateTime::parse_from_str(text, format).ok())
        .map(|naive| naive.and_utc())
}
