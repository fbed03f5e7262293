//! `/`: every job with its schedule in words and in cron, its next fire, its last
//! status, a strip of its last runs, how often they succeeded and how long they took,
//! and whether it is paused. Every job on one page, sorted and filtered by name, queue
//! and status from a GET form, so it works without the script. A page holds 10,000
//! rows, so each is lean: one batched store read for every strip, labels for phones
//! from the stylesheet rather than on each cell, runs of one status drawn as one
//! element.

use std::sync::Arc;

use axum::extract::{Query, State};
use chrono::{DateTime, Utc};
use maud::{Markup, html};
use serde::Deserialize;

use super::layout::{self, Nav, maybe_time, page};
use super::schedule_words::describe;
use super::session::{Viewer, percent_encode};
use super::{Dashboard, PageError};
use crate::eta;
use crate::http::jobs::jobs as job_list;
use crate::pause::Pauses;
use crate::store::{PublishedJob, RunBrief, RunStatus};

/// Runs in each job's strip, and those its rate and median are taken over.
pub const STRIP_RUNS: usize = 20;

#[derive(Default, Deserialize)]
pub struct JobsQuery {
    /// Part of a job's name, any case.
    #[serde(default)]
    q: String,
    #[serde(default)]
    queue: String,
    /// A last status, `paused`, or `never` (no runs kept).
    #[serde(default)]
    status: String,
    /// `name`, `queue`, `status` or `next`.
    #[serde(default)]
    sort: String,
}

/// One row of the page.
pub struct JobRow {
    pub job: PublishedJob,
    pub next: Option<DateTime<Utc>>,
    /// Newest first.
    pub runs: Vec<RunBrief>,
    /// Why it is paused, when it is.
    pub paused: Option<String>,
}

impl JobRow {
    fn last(&self) -> Option<RunStatus> {
        self.runs.first().map(|run| run.status)
    }

    /// Succeeded runs among the finished ones of the strip, in percent.
    fn success_percent(&self) -> Option<u32> {
        let finished: Vec<&RunBrief> = self
            .runs
            .iter()
            .filter(|r| r.status.is_finished() && r.status != RunStatus::Skipped)
            .collect();
        let ok = finished
            .iter()
            .filter(|r| r.status == RunStatus::Succeeded)
            .count();
        (!finished.is_empty()).then(|| (ok * 100 / finished.len()) as u32)
    }

    /// The median duration of the strip's succeeded runs.
    fn median_s(&self, now: DateTime<Utc>) -> Option<f64> {
        let durations: Vec<f64> = self
            .runs
            .iter()
            .filter(|r| r.status == RunStatus::Succeeded)
            .filter_map(|r| r.duration_s(now))
            .collect();
        eta::median(&durations)
    }

    fn status_word(&self) -> &'static str {
        match (&self.paused, self.last()) {
            (Some(_), _) => "paused",
            (None, Some(status)) => status.as_str(),
            (None, None) => "never",
        }
    }
}

pub async fn jobs(
    State(dashboard): State<Arc<Dashboard>>,
    viewer: Viewer,
    Query(query): Query<JobsQuery>,
) -> Result<Markup, PageError> {
    let api = &dashboard.api;
    let now = Utc::now();
    let (views, pauses) = tokio::join!(job_list(api), api.store.pauses());
    let views = views.map_err(|e| PageError::new(e.status, e.message))?;
    let pauses = Pauses::new(pauses?);
    let total = views.len();
    let mut queues: Vec<String> = views.iter().map(|v| v.job.queue.clone()).collect();
    queues.sort();
    queues.dedup();
    // The name and queue filters need no store; the strips are read in one call for
    // the jobs they keep, and the status filter and sort go by those.
    let needle = query.q.trim().to_lowercase();
    let views: Vec<_> = views
        .into_iter()
        .filter(|v| needle.is_empty() || v.job.name.to_lowercase().contains(&needle))
        .filter(|v| query.queue.is_empty() || v.job.queue == query.queue)
        .collect();
    let names: Vec<String> = views.iter().map(|v| v.job.name.clone()).collect();
    let strips = api.store.recent_runs(&names, STRIP_RUNS).await?;
    let rows: Vec<JobRow> = views
        .into_iter()
        .zip(strips)
        .map(|(view, runs)| {
            // The schedule as job_list parsed it, not parsed again.
            let next = view.next_fire(now);
            let paused = pauses.holding(&view.job.name, now).map(|(_, pause)| {
                pause
                    .reason
                    .clone()
                    .unwrap_or_else(|| format!("by {}", pause.by))
            });
            JobRow {
                job: view.job,
                next,
                runs,
                paused,
            }
        })
        .collect();
    let rows = select(rows, &query);
    let shown = Shown { total, queues };
    Ok(page(
        "Jobs",
        Nav::Jobs,
        &viewer,
        render_jobs(&rows, &shown, &query, now),
    ))
}

/// How the rows shown stand among all jobs.
pub struct Shown {
    pub total: usize,
    pub queues: Vec<String>,
}

/// The rows `query` keeps (name and queue were filtered before the store was read),
/// in its order.
fn select(mut rows: Vec<JobRow>, query: &JobsQuery) -> Vec<JobRow> {
    if !query.status.is_empty() {
        rows.retain(|row| row.status_word() == query.status);
    }
    match query.sort.as_str() {
        "queue" => {
            rows.sort_by(|a, b| (&a.job.queue, &a.job.name).cmp(&(&b.job.queue, &b.job.name)))
        }
        "status" => {
            rows.sort_by(|a, b| (a.status_word(), &a.job.name).cmp(&(b.status_word(), &b.job.name)))
        }
        "next" => rows.sort_by(|a, b| {
            (a.next.is_none(), a.next, &a.job.name).cmp(&(b.next.is_none(), b.next, &b.job.name))
        }),
        _ => rows.sort_by(|a, b| a.job.name.cmp(&b.job.name)),
    }
    rows
}

/// The statuses the filter offers: a last run's, and the two a job has without one.
const STATUSES: [&str; 10] = [
    "succeeded",
    "failed",
    "timed_out",
    "running",
    "queued",
    "cancelled",
    "lost",
    "skipped",
    "paused",
    "never",
];

/// The page's body: `rows`, the jobs `query` selects.
pub fn render_jobs(
    rows: &[JobRow],
    shown: &Shown,
    query: &JobsQuery,
    now: DateTime<Utc>,
) -> Markup {
    html! {
        h1 { "Jobs" }
        form.filters method="get" action="/" role="search" {
            label { "Search " input type="search" name="q" value=(query.q) placeholder="job name" data-filter="jobs"; }
            label { "Queue "
                select name="queue" {
                    option value="" { "any" }
                    @for queue in &shown.queues {
                        option value=(queue) selected[*queue == query.queue] { (queue) }
                    }
                }
            }
            label { "Status "
                select name="status" {
                    option value="" { "any" }
                    @for status in STATUSES {
                        option value=(status) selected[status == query.status] { (status.replace('_', " ")) }
                    }
                }
            }
            label { "Sort by "
                select name="sort" {
                    @for (value, label) in [("name", "name"), ("queue", "queue"), ("status", "status"), ("next", "next fire")] {
                        option value=(value) selected[value == query.sort] { (label) }
                    }
                }
            }
            button type="submit" { "Filter" }
        }
        div id="jobs" data-live {
            p.muted { (rows.len()) " of " (shown.total) " jobs" }
            table.jobs {
                thead { tr {
                    th scope="col" { "Job" }
                    th scope="col" { "Schedule" }
                    th scope="col" { "Queue" }
                    th scope="col" { "Next fire" }
                    th scope="col" { "Last" }
                    th scope="col" { "Last " (STRIP_RUNS) " runs" }
                    th scope="col" { "Success" }
                    th scope="col" { "Median" }
                } }
                tbody {
                    @for row in rows { (job_row(row, now)) }
                }
            }
        }
    }
}

/// One job's row. The stylesheet labels its cells on a phone, by their place.
fn job_row(row: &JobRow, now: DateTime<Utc>) -> Markup {
    let job = &row.job;
    html! {
        tr data-job=(job.name) {
            th scope="row" {
                a href={ "/jobs/" (percent_encode(&job.name)) } { (job.name) }
                @if let Some(why) = &row.paused {
                    " " span.badge.paused title=(why) { span aria-hidden="true" { "‖" } " paused" }
                }
            }
            td {
                @match &job.schedule {
                    Some(text) => {
                        span.words { (describe(text, &job.timezone)) }
                        br;
                        code { (text) }
                    }
                    None => span.muted { "by hand only" },
                }
            }
            td { (job.queue) }
            td { (maybe_time(row.next.as_ref())) }
            td {
                @match row.last() {
                    Some(status) => (layout::status(status)),
                    None => span.muted { "no runs" },
                }
            }
            td { (strip_compact(&row.runs)) }
            td {
                @match row.success_percent() {
                    Some(p) => { (p) "%" }
                    None => span.muted { "–" },
                }
            }
            td {
                @match row.median_s(now) {
                    Some(s) => (layout::duration(s)),
                    None => span.muted { "–" },
                }
            }
        }
    }
}

/// The last runs, oldest left, as shapes coloured by status; runs of one status in a
/// row share one element, and the title counts them in words. No links: a page holds
/// 10,000 of these, and the job's page has the linked strip.
pub fn strip_compact(runs: &[RunBrief]) -> Markup {
    let mut groups: Vec<(RunStatus, String)> = Vec::new();
    for run in runs.iter().rev() {
        match groups.last_mut() {
            Some((status, shapes)) if *status == run.status => {
                shapes.push_str(layout::shape(run.status))
            }
            _ => groups.push((run.status, layout::shape(run.status).to_string())),
        }
    }
    html! {
        span.strip title=(strip_words(runs)) {
            @for (status, shapes) in &groups {
                b class={ "st-" (status.as_str()) } { (shapes) }
            }
        }
    }
}

/// `3 failed, 17 succeeded`: the strip's runs counted by status, most first.
fn strip_words(runs: &[RunBrief]) -> String {
    let mut counts: Vec<(RunStatus, usize)> = Vec::new();
    for run in runs {
        match counts.iter_mut().find(|(status, _)| *status == run.status) {
            Some((_, count)) => *count += 1,
            None => counts.push((run.status, 1)),
        }
    }
    counts.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.as_str().cmp(b.0.as_str())));
    let words: Vec<String> = counts
        .iter()
        .map(|(status, count)| format!("{count} {}", status.as_str().replace('_', " ")))
        .collect();
    match words.is_empty() {
        true => "no runs kept".into(),
        false => words.join(", "),
    }
}

/// The last runs, oldest left: one small link per run, coloured and shaped by status,
/// its status word in the title.
pub fn strip(runs: &[RunBrief]) -> Markup {
    html! {
        span.strip {
            @for run in runs.iter().rev() {
                a class={ "cell st-" (run.status.as_str()) } href={ "/runs/" (run.id) } title=(run.status.as_str()) {
                    (layout::shape(run.status))
                }
            }
        }
    }
}
