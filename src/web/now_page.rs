//! `/now`: what `cronq status` shows, for a browser. The watchdog's problems at the
//! top, in red; running runs with progress bars and time left; queued runs with their
//! place and expected start; the workers with their queues and concurrency; the daemons
//! with the hash of the schedule each one runs.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use chrono::{TimeDelta, Utc};
use maud::{Markup, html};

use super::layout::{self, Nav, page};
use super::session::{Viewer, percent_encode};
use super::{Dashboard, PageError};
use crate::eta::{QueuedEta, TimeLeft, WhyUnknown};
use crate::report::status::{Report, compare_schedules, gather};

/// How late a fire may come before its job is stalled, as `status`'s default.
const GRACE: Duration = Duration::from_secs(60);

pub async fn now(
    State(dashboard): State<Arc<Dashboard>>,
    viewer: Viewer,
) -> Result<Markup, PageError> {
    let api = &dashboard.api;
    let local = api.local_schedule();
    let published = api.published_shared().await?;
    let timed = api.timed(local.as_deref(), published.as_deref());
    let mut report = gather(&*api.store, &timed, &api.settings, GRACE).await?;
    let file = api.settings.schedule.0.display().to_string();
    report.problems.extend(
        compare_schedules(&file, local.as_deref(), published.as_deref(), &*api.store).await?,
    );
    let daemons = api.store.daemons().await?;
    let now = Utc::now();
    let body = html! {
        h1 { "Now" }
        div id="now" data-live {
            @if !report.problems.is_empty() {
                section.problems aria-label="Problems" role="alert" {
                    h2 { span aria-hidden="true" { "⚠" } " Problems" }
                    ul { @for problem in &report.problems {
                        li data-problem=(problem.kind) { (problem.text) }
                    } }
                }
            }
            (running(&report))
            (queued(&report))
            h2 { "Workers" }
            @if report.workers.is_empty() {
                p.muted { "No worker is registered." }
            } @else {
                table { thead { tr { th scope="col" { "Worker" } th scope="col" { "Host" } th scope="col" { "Queues" } th scope="col" { "Concurrency" } th scope="col" { "Running" } th scope="col" { "Last seen" } } }
                    tbody { @for (worker, stale) in &report.workers {
                        tr {
                            td data-label="Worker" { code { (worker.id) } @if *stale { " " span.badge.st-lost { "? stale" } } }
                            td data-label="Host" { (worker.host) " (pid " (worker.pid) ")" }
                            td data-label="Queues" { (worker.queues.join(", ")) }
                            td data-label="Concurrency" { (worker.concurrency) }
                            td data-label="Running" { (worker.runs.len()) }
                            td data-label="Last seen" { (layout::time(&worker.last_seen)) }
                        }
                    } }
                }
            }
            h2 { "Daemons" }
            @if daemons.is_empty() {
                p.muted { "No daemon is running." }
            } @else {
                table { thead { tr { th scope="col" { "Daemon" } th scope="col" { "Host" } th scope="col" { "Schedule hash" } th scope="col" { "Last seen" } } }
                    tbody { @for daemon in &daemons {
                        tr {
                            td data-label="Daemon" { code { (daemon.id) } }
                            td data-label="Host" { (daemon.host) " (pid " (daemon.pid) ")" }
                            td data-label="Schedule hash" { code { (daemon.schedule_hash) } }
                            td data-label="Last seen" { (layout::time(&daemon.last_seen)) }
                        }
                    } }
                }
            }
            @if !report.next.is_empty() {
                h2 { "Next fires" }
                ul { @for (job, at) in &report.next {
                    li { a href={ "/jobs/" (percent_encode(job)) } { (job) } " " (layout::time(at)) }
                } }
            }
            p.muted { "As of " (layout::time(&now)) }
        }
    };
    Ok(page("Now", Nav::Now, &viewer, body))
}

fn running(report: &Report) -> Markup {
    html! {
        h2 { "Running" }
        @if report.running.is_empty() {
            p.muted { "Nothing runs." }
        } @else {
            table.running { thead { tr { th scope="col" { "Run" } th scope="col" { "Job" } th scope="col" { "Progress" } th scope="col" { "Time left" } th scope="col" { "Started" } th scope="col" { "Worker" } } }
                tbody { @for (run, left) in &report.running {
                    tr data-run=(run.id) {
                        td data-label="Run" { a href={ "/runs/" (run.id) } { code { (run.id[run.id.len().saturating_sub(8)..]) } } }
                        td data-label="Job" { a href={ "/jobs/" (percent_encode(&run.job)) } { (run.job) } }
                        td data-label="Progress" {
                            @match run.progress {
                                Some(p) => {
                                    progress max="100" value=(p) aria-label={ (run.job) " progress" } { (p) "%" }
                                    " " span.pct { (p) "%" }
                                    @if let Some(message) = &run.message { " " span.muted { (message) } }
                                }
                                None => span.muted { "not reported" },
                            }
                        }
                        td data-label="Time left" {
                            @match left {
                                TimeLeft::Seconds(s) => { "about " (layout::duration(*s)) }
                                TimeLeft::Overdue => span.badge.st-timed_out { "◔ overdue" },
                                TimeLeft::Unknown => span.muted { "unknown" },
                            }
                        }
                        td data-label="Started" { (layout::maybe_time(run.started_at.as_ref())) }
                        td data-label="Worker" { (run.worker.as_deref().unwrap_or("–")) }
                    }
                } }
            }
        }
    }
}

fn queued(report: &Report) -> Markup {
    html! {
        h2 { "Queued" }
        @if report.queued.is_empty() {
            p.muted { "Nothing waits." }
        } @else {
            table.queued { thead { tr { th scope="col" { "Run" } th scope="col" { "Job" } th scope="col" { "Queue" } th scope="col" { "Place" } th scope="col" { "Expected start" } } }
                tbody { @for (run, place, estimate) in &report.queued {
                    tr data-run=(run.id) {
                        td data-label="Run" { a href={ "/runs/" (run.id) } { code { (run.id[run.id.len().saturating_sub(8)..]) } } }
                        td data-label="Job" { a href={ "/jobs/" (percent_encode(&run.job)) } { (run.job) } }
                        td data-label="Queue" { (run.queue) }
                        td data-label="Place" { "#" (place) }
                        td data-label="Expected start" {
                            @match estimate {
                                QueuedEta::Seconds { starts_in_s, .. } => {
                                    @let at = report.now + TimeDelta::milliseconds((starts_in_s * 1000.0) as i64);
                                    "in about " (layout::duration(*starts_in_s)) " (" (layout::time(&at)) ")"
                                }
                                QueuedEta::Unknown(WhyUnknown::NoWorker) => span.muted { "no worker takes this queue" },
                                QueuedEta::Unknown(WhyUnknown::NoHistory) => span.muted { "unknown" },
                            }
                        }
                    }
                } }
            }
        }
    }
}
