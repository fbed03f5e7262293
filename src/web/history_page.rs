//! `/history`: every run, newest first, filtered by job, status, trigger and a time
//! range, a page at a time. The next page starts after the last run shown (a cursor,
//! `before=ID`), so page 1,000 costs what page 1 does over a million runs.

use std::sync::Arc;

use axum::extract::{Query, State};
use chrono::{DateTime, NaiveDateTime, Utc};
use maud::{Markup, html};
use serde::Deserialize;

use super::layout::{self, Nav, page};
use super::session::{Viewer, percent_encode};
use super::{Dashboard, PageError};
use crate::store::{HistoryFilter, HistoryPage, Run, RunStatus, Trigger};

/// Runs per page.
pub const PAGE_RUNS: usize = 50;

const TRIGGERS: [Trigger; 4] = [
    Trigger::Schedule,
    Trigger::Manual,
    Trigger::Retry,
    Trigger::CatchUp,
];

#[derive(Default, Deserialize)]
pub struct HistoryQuery {
    #[serde(default)]
    job: String,
    #[serde(default)]
    status: String,
    #[serde(default)]
    trigger: String,
    /// Queued at or after, UTC (`2026-12-04T08:00`) or RFC 3339.
    #[serde(default)]
    since: String,
    /// Queued before, likewise.
    #[serde(default)]
    until: String,
    /// The cursor: the last run of the page before.
    #[serde(default)]
    before: String,
}

impl HistoryQuery {
    /// The query string of these filters, without the cursor.
    fn filters(&self) -> String {
        [
            ("job", &self.job),
            ("status", &self.status),
            ("trigger", &self.trigger),
            ("since", &self.since),
            ("until", &self.until),
        ]
        .iter()
        .filter(|(_, v)| !v.is_empty())
        .map(|(k, v)| format!("{k}={}", percent_encode(v)))
        .collect::<Vec<_>>()
        .join("&")
    }
}

/// What the query asks of the store; the sentence why not, for a value it cannot read.
pub fn history_page_of(query: &HistoryQuery) -> Result<HistoryPage, String> {
    let status = match query.status.as_str() {
        "" => None,
        text => {
            Some(RunStatus::parse(text).ok_or_else(|| format!("`{text}` is not a run status"))?)
        }
    };
    let trigger = match query.trigger.as_str() {
        "" => None,
        text => Some(Trigger::parse(text).ok_or_else(|| format!("`{text}` is not a trigger"))?),
    };
    let instant = |name: &str, text: &str| -> Result<Option<DateTime<Utc>>, String> {
        if text.trim().is_empty() {
            return Ok(None);
        }
        if let Ok(at) = DateTime::parse_from_rfc3339(text.trim()) {
            return Ok(Some(at.with_timezone(&Utc)));
        }
        ["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S"]
            .iter()
            .find_map(|f| NaiveDateTime::parse_from_str(text.trim(), f).ok())
            .map(|naive| Some(naive.and_utc()))
            .ok_or_else(|| {
                format!("{name} `{text}` is not a date and time such as 2026-12-04T08:00")
            })
    };
    Ok(HistoryPage {
        filter: HistoryFilter {
            job: (!query.job.trim().is_empty()).then(|| query.job.trim().to_string()),
            statuses: status.into_iter().collect(),
            since: instant("since", &query.since)?,
            limit: PAGE_RUNS,
        },
        trigger,
        until: instant("until", &query.until)?,
        before: (!query.before.is_empty()).then(|| query.before.trim().to_ascii_uppercase()),
    })
}

pub async fn history(
    State(dashboard): State<Arc<Dashboard>>,
    viewer: Viewer,
    Query(query): Query<HistoryQuery>,
) -> Result<Markup, PageError> {
    let wanted = history_page_of(&query)
        .map_err(|text| PageError::new(axum::http::StatusCode::BAD_REQUEST, text))?;
    let runs = dashboard.api.store.history_page(&wanted).await?;
    Ok(page(
        "History",
        Nav::History,
        &viewer,
        render_history(&query, &runs, Utc::now()),
    ))
}

/// The page's body for one page of `runs`.
pub fn render_history(query: &HistoryQuery, runs: &[Run], now: DateTime<Utc>) -> Markup {
    let filters = query.filters();
    html! {
        h1 { "History" }
        form.filters method="get" action="/history" {
            label { "Job " input type="search" name="job" value=(query.job) placeholder="any"; }
            label { "Status "
                select name="status" {
                    option value="" { "any" }
                    @for s in RunStatus::ALL {
                        option value=(s.as_str()) selected[s.as_str() == query.status] { (s.as_str().replace('_', " ")) }
                    }
                }
            }
            label { "Trigger "
                select name="trigger" {
                    option value="" { "any" }
                    @for t in TRIGGERS {
                        option value=(t.as_str()) selected[t.as_str() == query.trigger] { (t.as_str().replace('_', " ")) }
                    }
                }
            }
            label { "From (UTC) " input type="datetime-local" name="since" value=(query.since); }
            label { "To (UTC) " input type="datetime-local" name="until" value=(query.until); }
            button type="submit" { "Filter" }
        }
        div id="history" data-live=[query.before.is_empty().then_some("")] {
            (runs_table(runs, now, true))
        }
        nav.pager aria-label="Pages of the history" {
            @if !query.before.is_empty() {
                a href={ "/history?" (filters) } { "← Newest" }
            }
            @if runs.len() == PAGE_RUNS {
                @if let Some(last) = runs.last() {
                    @let join = if filters.is_empty() { "" } else { "&" };
                    a rel="next" href={ "/history?" (filters) (join) "before=" (last.id) } { "Older →" }
                }
            }
        }
    }
}

/// Runs as a table, newest first; with the job's column when `with_job`.
pub fn runs_table(runs: &[Run], now: DateTime<Utc>, with_job: bool) -> Markup {
    html! {
        @if runs.is_empty() {
            p.muted { "No runs match." }
        } @else {
            table.runs {
                thead { tr {
                    th scope="col" { "Run" }
                    @if with_job { th scope="col" { "Job" } }
                    th scope="col" { "Status" }
                    th scope="col" { "Trigger" }
                    th scope="col" { "Queued" }
                    th scope="col" { "Duration" }
                    th scope="col" { "Exit" }
                } }
                tbody {
                    @for run in runs {
                        tr data-run=(run.id) {
                            td data-label="Run" { a href={ "/runs/" (run.id) } { code { (run.id[run.id.len().saturating_sub(8)..]) } } }
                            @if with_job { td data-label="Job" { a href={ "/jobs/" (percent_encode(&run.job)) } { (run.job) } } }
                            td data-label="Status" { (layout::status(run.status)) }
                            td data-label="Trigger" { (run.trigger.as_str().replace('_', " ")) }
                            td data-label="Queued" { (layout::time(&run.queued_at)) }
                            td data-label="Duration" {
                                @match run.duration_s(now) {
                                    Some(s) => (layout::duration(s)),
                                    None => span.muted { "–" },
                                }
                            }
                            td data-label="Exit" {
                                @match (run.exit_code, run.signal) {
                                    (Some(code), _) => (code),
                                    (None, Some(signal)) => { "signal " (signal) },
                                    _ => span.muted { "–" },
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}
