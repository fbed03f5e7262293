//! `/`: every job with its schedule in words and in cron, its next fire, its last
//! status, a strip of its last runs, how often they succeeded and how long they took,
//! and whether it is paused. Sorted and filtered by name, queue and status from a GET
//! form, so it works without the script.

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
use crate::report::status::Timed;
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
    /// Which page of `PAGE_JOBS` jobs, from 1.
    page: Option<usize>,
}

/// Jobs a page shows; filters and sorting span every job.
pub const PAGE_JOBS: usize = 500;

/// One row of the page.
pub struct JobRow {
    pub job: PublishedJob,
    pub next: Option<DateTime<Utc>>,
    /// The last run's status, read for every job when the filter or sort needs it.
    pub last: Option<RunStatus>,
    /// Newest first; read for the jobs of the page shown only.
    pub runs: Vec<RunBrief>,
    /// Why it is paused, when it is.
    pub paused: Option<String>,
}

impl JobRow {
    fn last(&self) -> Option<RunStatus> {
        self.runs.first().map(|run| run.status).or(self.last)
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
    let views = job_list(api)
        .await
        .map_err(|e| PageError::new(e.status, e.message))?;
    let pauses = Pauses::new(api.store.pauses().await?);
    let mut rows: Vec<JobRow> = views
        .into_iter()
        .map(|view| {
            let next = Timed::from_published_job(&view.job).and_then(|t| (t.next)(now));
            let paused = pauses.holding(&view.job.name, now).map(|(_, pause)| {
                pause
                    .reason
                    .clone()
                    .unwrap_or_else(|| format!("by {}", pause.by))
            });
            JobRow {
                job: view.job,
                next,
                last: None,
                runs: Vec::new(),
                paused,
            }
        })
        .collect();
    // Every job's last status only when the filter or the sort asks for it; the strips
    // only for the page shown: one row per job, then 20 per job of the page.
    if !query.status.is_empty() || query.sort == "status" {
        let names: Vec<String> = rows.iter().map(|r| r.job.name.clone()).collect();
        let lasts = api.store.recent_runs(&names, 1).await?;
        for (row, last) in rows.iter_mut().zip(lasts) {
            row.last = last.first().map(|run| run.status);
        }
    }
    let total = rows.len();
    let queues = queues_of(&rows);
    let mut rows = select(rows, &query);
    let matching = rows.len();
    let page_no = query.page.unwrap_or(1).max(1);
    rows = rows
        .into_iter()
        .skip((page_no - 1) * PAGE_JOBS)
        .take(PAGE_JOBS)
        .collect();
    let names: Vec<String> = rows.iter().map(|r| r.job.name.clone()).collect();
    for (row, runs) in rows
        .iter_mut()
        .zip(api.store.recent_runs(&names, STRIP_RUNS).await?)
    {
        row.runs = runs;
    }
    let shown = Shown {
        total,
        matching,
        page: page_no,
        queues,
    };
    Ok(page(
        "Jobs",
        Nav::Jobs,
        &viewer,
        render_jobs(&rows, &shown, &query, now),
    ))
}

/// How the rows of a page stand among all jobs.
pub struct Shown {
    pub total: usize,
    pub matching: usize,
    /// From 1.
    pub page: usize,
    pub queues: Vec<String>,
}

fn queues_of(rows: &[JobRow]) -> Vec<String> {
    let mut queues: Vec<String> = rows.iter().map(|r| r.job.queue.clone()).collect();
    queues.sort();
    queues.dedup();
    queues
}

/// The rows `query` keeps, in its order.
fn select(mut rows: Vec<JobRow>, query: &JobsQuery) -> Vec<JobRow> {
    let needle = query.q.trim().to_lowercase();
    rows.retain(|row| {
        (needle.is_empty() || row.job.name.to_lowercase().contains(&needle))
            && (query.queue.is_empty() || row.job.queue == query.queue)
            && (query.status.is_empty() || row.status_word() == query.status)
    });
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

/// The page's body: `rows`, one page of the jobs `query` selects.
pub fn render_jobs(
    rows: &[JobRow],
    shown: &Shown,
    query: &JobsQuery,
    now: DateTime<Utc>,
) -> Markup {
    let queues = &shown.queues;
    let pages = shown.matching.div_ceil(PAGE_JOBS).max(1);
    let link = |page: usize| {
        let mut url = format!(
            "/?q={}&queue={}&status={}&sort={}",
            percent_encode(&query.q),
            percent_encode(&query.queue),
            percent_encode(&query.status),
            percent_encode(&query.sort)
        );
        if page > 1 {
            url.push_str(&format!("&page={page}"));
        }
        url
    };
    let statuses = [
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
    html! {
        h1 { "Jobs" }
        form.filters method="get" action="/" role="search" {
            label { "Search " input type="search" name="q" value=(query.q) placeholder="job name"; }
            label { "Queue "
                select name="queue" {
                    option value="" { "any" }
                    @for queue in queues {
                        option value=(queue) selected[*queue == query.queue] { (queue) }
                    }
                }
            }
            label { "Status "
                select name="status" {
                    option value="" { "any" }
                    @for status in statuses {
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
            p.muted {
                (shown.matching) " of " (shown.total) " jobs"
                @if pages > 1 { ", page " (shown.page) " of " (pages) }
            }
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
        @if pages > 1 {
            nav.pager aria-label="Pages of jobs" {
                @if shown.page > 1 { a rel="prev" href=(link(shown.page - 1)) { "← Previous" } }
                @if shown.page < pages { a rel="next" href=(link(shown.page + 1)) { "Next →" } }
            }
        }
    }
}

fn job_row(row: &JobRow, now: DateTime<Utc>) -> Markup {
    let job = &row.job;
    html! {
        tr data-job=(job.name) {
            th scope="row" data-label="Job" {
                a href={ "/jobs/" (percent_encode(&job.name)) } { (job.name) }
                @if let Some(why) = &row.paused {
                    " " span.badge.paused title=(why) { span aria-hidden="true" { "‖" } " paused" }
                }
            }
            td data-label="Schedule" {
                @match &job.schedule {
                    Some(text) => {
                        span.words { (describe(text, &job.timezone)) }
                        br;
                        code { (text) }
                    }
                    None => span.muted { "by hand only" },
                }
            }
            td data-label="Queue" { (job.queue) }
            td data-label="Next fire" class="next" { (maybe_time(row.next.as_ref())) }
            td data-label="Last" {
                @match row.last() {
                    Some(status) => (layout::status(status)),
                    None => span.muted { "no runs" },
                }
            }
            td data-label="Runs" { (strip(&row.runs)) }
            td data-label="Success" {
                @match row.success_percent() {
                    Some(p) => { (p) "%" }
                    None => span.muted { "–" },
                }
            }
            td data-label="Median" {
                @match row.median_s(now) {
                    Some(s) => (layout::duration(s)),
                    None => span.muted { "–" },
                }
            }
        }
    }
}

/// The last runs, oldest left: one small link per run, coloured and shaped by status,
/// its status word in the title. Lean on purpose: a page holds 10,000 of them.
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
