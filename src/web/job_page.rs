//! `/jobs/NAME`: the job's YAML as the local file holds it, its next ten fires with
//! what DST does to them (the notes of `next --explain`), a chart of its durations, its
//! runs filtered by status, and the forms "Run now", "Pause…" and "Resume".

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use chrono::{DateTime, TimeDelta, Utc};
use chrono_tz::Tz;
use maud::{Markup, html};
use serde::Deserialize;

use super::chart;
use super::history_page::runs_table;
use super::jobs_page::strip;
use super::layout::{self, Nav, page};
use super::schedule_words::describe;
use super::session::{Viewer, percent_encode};
use super::{Dashboard, PageError};
use crate::cron::Timing;
use crate::http::jobs::jobs as job_list;
use crate::pause::Pauses;
use crate::report::status::Timed;
use crate::settings::Scope;
use crate::store::{HistoryFilter, PublishedJob, RunBrief, RunStatus};

/// Fires listed.
const NEXT_FIRES: usize = 10;
/// Runs the chart draws, at most.
const CHART_RUNS: usize = 200;
/// Runs the table lists; the history page has the rest.
const TABLE_RUNS: usize = 50;

#[derive(Default, Deserialize)]
pub struct JobQuery {
    #[serde(default)]
    status: String,
}

pub async fn job(
    State(dashboard): State<Arc<Dashboard>>,
    viewer: Viewer,
    Path(name): Path<String>,
    Query(query): Query<JobQuery>,
) -> Result<Markup, PageError> {
    let api = &dashboard.api;
    let now = Utc::now();
    let views = job_list(api)
        .await
        .map_err(|e| PageError::new(e.status, e.message))?;
    let Some(view) = views.into_iter().find(|v| v.job.name == name) else {
        return Err(PageError::not_found(format!(
            "no job `{name}` in the schedule"
        )));
    };
    let published = view.job;
    let local = api.local_schedule();
    let local_job = local.as_deref().and_then(|s| s.job(&name)).cloned();
    let file_text = std::fs::read_to_string(&api.settings.schedule.0).ok();
    let yaml = match (&local_job, &file_text) {
        (Some(job), Some(text)) => Some(job_yaml(text, job.at.line)),
        _ => None,
    };
    let fires = next_fires(&published, now);
    let status = RunStatus::parse(&query.status);
    let chart_runs = api
        .store
        .history(&HistoryFilter {
            job: Some(name.clone()),
            limit: CHART_RUNS,
            ..HistoryFilter::default()
        })
        .await?;
    let table_runs = api
        .store
        .history(&HistoryFilter {
            job: Some(name.clone()),
            statuses: status.into_iter().collect(),
            limit: TABLE_RUNS,
            ..HistoryFilter::default()
        })
        .await?;
    let pauses = Pauses::new(api.store.pauses().await?);
    let paused = pauses
        .holding(&name, now)
        .map(|(scope, pause)| (scope, pause.clone()));
    let briefs: Vec<RunBrief> = chart_runs
        .iter()
        .take(super::jobs_page::STRIP_RUNS)
        .map(RunBrief::from)
        .collect();
    let path = format!("/jobs/{}", percent_encode(&name));
    let body = html! {
        h1 { "Job " (name) }
        div id="job-head" data-live {
            p.lead {
                @match &published.schedule {
                    Some(text) => { (describe(text, &published.timezone)) " · " code { (text) } }
                    None => span.muted { "runs only when triggered by hand" },
                }
                " · queue " strong { (published.queue) }
            }
            @if let Some((scope, pause)) = &paused {
                p.badge.paused role="status" {
                    span aria-hidden="true" { "‖" } " paused"
                    @if let Some(reason) = &pause.reason { ": " (reason) }
                    " (by " (pause.by) ", since " (layout::time(&pause.since)) ")"
                    @if let Some(until) = &pause.until { ", until " (layout::time(until)) }
                    @if *scope == crate::store::PauseScope::All { " — every job is paused" }
                }
            }
            p { "Last runs: " (strip(&briefs)) }
        }
        (controls(&viewer, &published, &path, paused.is_some()))
        h2 { "Next fires" }
        @if fires.is_empty() {
            p.muted { "No fires: the job runs only when triggered." }
        } @else {
            ol.fires {
                @for (at, note) in &fires {
                    li { (layout::time(&at.with_timezone(&Utc))) " " span.muted { "(" (at.format("%Y-%m-%d %H:%M:%S %Z")) ")" }
                        @if let Some(note) = note { br; span.note { (note) } }
                    }
                }
            }
        }
        h2 { "Durations" }
        (chart::durations(&chart_runs, now))
        h2 id="runs" { "Runs" }
        form.filters method="get" action=(path) {
            label { "Status "
                select name="status" {
                    option value="" { "any" }
                    @for s in RunStatus::ALL {
                        option value=(s.as_str()) selected[Some(s) == status] { (s.as_str().replace('_', " ")) }
                    }
                }
            }
            button type="submit" { "Filter" }
            " " a href={ "/history?job=" (percent_encode(&name)) } { "All of its history" }
        }
        div id="job-runs" data-live { (runs_table(&table_runs, now, false)) }
        h2 { "Definition" }
        @match &yaml {
            Some(text) => pre.yaml tabindex="0" { code { (text) } },
            None => {
                p.muted { "The schedule file is not on this host; the daemons published:" }
                pre.yaml { code { (published_yaml(&published)) } }
            }
        }
    };
    Ok(page(&format!("Job {name}"), Nav::Jobs, &viewer, body))
}

fn controls(viewer: &Viewer, job: &PublishedJob, path: &str, paused: bool) -> Markup {
    html! {
        div.actions {
            @if viewer.may(Scope::Run) {
                form.run-now method="post" action={ (path) "/run" } {
                    input type="hidden" name="csrf" value=(viewer.csrf());
                    @if job.allow_args {
                        label { "Arguments, one per line" textarea name="args" rows="2" {} }
                    }
                    @if !job.allow_env.is_empty() {
                        label { "Environment, NAME=value per line (" (job.allow_env.join(", ")) ")"
                            textarea name="env" rows="2" placeholder={ (job.allow_env[0]) "=…" } {} }
                    }
                    button type="submit" { "Run now" }
                }
            }
            @if viewer.may(Scope::Admin) {
                @if paused {
                    form method="post" action={ (path) "/resume" } {
                        input type="hidden" name="csrf" value=(viewer.csrf());
                        button type="submit" { "Resume" }
                    }
                } @else {
                    details.pause {
                        summary { "Pause…" }
                        form method="post" action={ (path) "/pause" } {
                            input type="hidden" name="csrf" value=(viewer.csrf());
                            label { "Reason " input type="text" name="reason" maxlength="200"; }
                            label { "Until (UTC, empty: until resumed) " input type="datetime-local" name="until"; }
                            button type="submit" { "Pause" }
                        }
                    }
                }
            }
        }
    }
}

/// The next fires after `now`, each in the job's zone with what DST does to it (the
/// notes of `next --explain`). From the published job, so a host without the schedule
/// file explains them too.
fn next_fires(published: &PublishedJob, now: DateTime<Utc>) -> Vec<(DateTime<Tz>, Option<String>)> {
    let zone: Tz = published.timezone.parse().unwrap_or(Tz::UTC);
    let Some(timed) = Timed::from_published_job(published) else {
        return Vec::new();
    };
    let expr = match published.schedule.as_deref().map(str::parse::<Timing>) {
        Some(Ok(Timing::Cron(expr))) => Some(expr),
        _ => None,
    };
    // Fires are shifted by the job's jitter offset; the note is about the nominal time.
    let jitter =
        i64::try_from(published.jitter_ms).map_or(TimeDelta::zero(), TimeDelta::milliseconds);
    let mut fires = Vec::with_capacity(NEXT_FIRES);
    let mut after = now;
    while fires.len() < NEXT_FIRES {
        let Some(at) = (timed.next)(after).filter(|at| *at > after) else {
            break;
        };
        after = at;
        let local_at = at.with_timezone(&zone);
        let note = expr
            .as_ref()
            .and_then(|expr| expr.explain(&(local_at - jitter)));
        fires.push((local_at, note));
    }
    fires
}

/// The job's lines of the schedule file: from its name to the next line indented no
/// deeper (`line` is 1-based).
fn job_yaml(text: &str, line: u64) -> String {
    let lines: Vec<&str> = text.lines().collect();
    let start = usize::try_from(line.saturating_sub(1))
        .unwrap_or(0)
        .min(lines.len());
    let Some(first) = lines.get(start) else {
        return String::new();
    };
    let indent = first.len() - first.trim_start().len();
    let mut end = start + 1;
    while end < lines.len() {
        let l = lines[end];
        if !l.trim().is_empty() && l.len() - l.trim_start().len() <= indent {
            break;
        }
        end += 1;
    }
    while end > start + 1 && lines[end - 1].trim().is_empty() {
        end -= 1;
    }
    let block: Vec<&str> = lines[start..end]
        .iter()
        .map(|l| l.get(indent..).unwrap_or(l.trim_start()))
        .collect();
    block.join("\n")
}

/// What the daemons published of a job, written as YAML.
fn published_yaml(job: &PublishedJob) -> String {
    let mut text = format!("{}:\n", job.name);
    if let Some(schedule) = &job.schedule {
        text.push_str(&format!("  schedule: \"{schedule}\"\n"));
    }
    text.push_str(&format!(
        "  timezone: {}\n  queue: {}\n",
        job.timezone, job.queue
    ));
    if job.allow_args {
        text.push_str("  allow_args: true\n");
    }
    if !job.allow_env.is_empty() {
        text.push_str(&format!("  allow_env: [{}]\n", job.allow_env.join(", ")));
    }
    text
}

#[cfg(test)]
mod tests {
    use chrono::{DateTime, Utc};

    use super::{job_yaml, next_fires};
    use crate::store::PublishedJob;

    fn job(schedule: &str, zone: &str) -> PublishedJob {
        PublishedJob {
            name: "j".into(),
            queue: "default".into(),
            schedule: Some(schedule.into()),
            timezone: zone.into(),
            jitter_ms: 0,
            allow_args: false,
            allow_env: Vec::new(),
        }
    }

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text)
            .unwrap()
            .with_timezone(&Utc)
    }

    #[test]
    fn the_next_fires_say_what_dst_does_to_them() {
        // Sundays of March and October at 02:30 in Berlin: ten fires from any day hold
        // the last Sunday of both months, when the clocks go forward and back.
        let fires = next_fires(
            &job("30 2 * 3,10 0", "Europe/Berlin"),
            at("2026-12-06T12:00:00Z"),
        );
        assert_eq!(fires.len(), 10);
        let notes: Vec<(String, &str)> = fires
            .iter()
            .filter_map(|(at, note)| Some((at.to_rfc3339(), note.as_deref()?)))
            .collect();
        assert_eq!(
            notes,
            [
                (
                    "2027-03-28T03:00:00+02:00".to_string(),
                    "02:30 does not exist on 2027-03-28 in Europe/Berlin (clocks go forward); runs at 03:00"
                ),
                (
                    "2027-10-31T02:30:00+02:00".to_string(),
                    "02:30 happens twice on 2027-10-31 in Europe/Berlin (clocks go back); this is the first pass, and it runs on the first pass only"
                ),
            ]
        );
        let plain = next_fires(
            &job("0 12 * * *", "Europe/Berlin"),
            at("2026-12-06T12:00:00Z"),
        );
        assert!(plain.iter().all(|(_, note)| note.is_none()));
        assert!(next_fires(&job("@reboot", "UTC"), at("2026-12-06T12:00:00Z")).is_empty());
    }

    #[test]
    fn a_jobs_block_is_cut_from_the_file() {
        let text = "jobs:\n  a:\n    command: [x]\n\n    queue: q\n  b:\n    command: [y]\n";
        assert_eq!(job_yaml(text, 2), "a:\n  command: [x]\n\n  queue: q");
        assert_eq!(job_yaml(text, 6), "b:\n  command: [y]");
    }
}
