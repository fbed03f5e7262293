//! `/runs/ID`: every field `show` prints, the output with stdout and stderr told apart
//! and ANSI colours drawn (never shown as escapes), followed live while the run goes on
//! (`/runs/ID/events`, the API's event stream, resumed by `Last-Event-ID` after a
//! dropped connection), and "Cancel" while it runs or waits, "Run again" once it ended.

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use maud::{Markup, html};
use serde::Deserialize;
use serde_json::Value;

use super::ansi::{self, Style};
use super::layout::{self, Nav, page};
use super::session::Viewer;
use super::{Dashboard, PageError};
use crate::http::output::{OutputQuery, output};
use crate::report::show_json;
use crate::settings::Scope;
use crate::store::{Output, RunStatus, Stream};

pub async fn run(
    State(dashboard): State<Arc<Dashboard>>,
    viewer: Viewer,
    Path(id): Path<String>,
) -> Result<Markup, PageError> {
    let store = &*dashboard.api.store;
    let id = id.trim().to_ascii_uppercase();
    let run = store.run(&id).await.map_err(|error| match error {
        crate::store::StoreError::NotFound(_) => PageError::not_found(format!(
            "no run {id} in the store; the history lists the runs it keeps"
        )),
        other => other.into(),
    })?;
    let now = Utc::now();
    let document = show_json(store, &run, now).await?;
    let tail = store.output(&run.id, 0).await?;
    let finished = run.status.is_finished();
    let body = html! {
        h1 {
            "Run " code { (run.id) } " of "
            a href={ "/jobs/" (super::session::percent_encode(&run.job)) } { (run.job) }
        }
        div id="run-head" data-live {
            p.lead { (layout::status(run.status))
                @if let Some(p) = run.progress.filter(|_| run.status == RunStatus::Running) {
                    " " progress max="100" value=(p) aria-label="progress" { (p) "%" } " " (p) "%"
                    @if let Some(message) = &run.message { " " span.muted { (message) } }
                }
            }
            div.actions {
                @if viewer.may(Scope::Run) {
                    @if !finished {
                        form method="post" action={ "/runs/" (run.id) "/cancel" } {
                            input type="hidden" name="csrf" value=(viewer.csrf());
                            button.danger type="submit" { "Cancel" }
                        }
                    } @else {
                        form method="post" action={ "/runs/" (run.id) "/again" } {
                            input type="hidden" name="csrf" value=(viewer.csrf());
                            button type="submit" { "Run again" }
                        }
                    }
                }
            }
        }
        h2 { "Output" }
        p.legend { span.out.stdout { "stdout" } " " span.out.stderr { "stderr" } }
        (output_block(&run.id, &tail, finished))
        h2 { "Details" }
        div id="run-fields" data-live { (fields(&document)) }
    };
    Ok(page(&format!("Run {}", run.id), Nav::None, &viewer, body))
}

/// Every field of `show --json` but the output, in its order.
fn fields(document: &Value) -> Markup {
    let Value::Object(map) = document else {
        return html! {};
    };
    html! {
        dl.fields {
            @for (name, value) in map.iter().filter(|(name, _)| *name != "output") {
                dt { (name.replace('_', " ")) }
                dd data-field=(name) { (field(name, value)) }
            }
        }
    }
}

fn field(name: &str, value: &Value) -> Markup {
    match value {
        Value::Null => html! { span.muted { "–" } },
        Value::String(text) if name == "status" => match RunStatus::parse(text) {
            Some(status) => layout::status(status),
            None => html! { (text) },
        },
        Value::String(text) => match DateTime::parse_from_rfc3339(text) {
            Ok(at) if name.ends_with("_at") || name == "scheduled_for" || name == "not_before" => {
                layout::time(&at.with_timezone(&Utc))
            }
            _ => html! { (text) },
        },
        Value::Number(n) if name.ends_with("_s") => match n.as_f64() {
            Some(s) => html! { span title={ (s) " s" } { (layout::duration(s)) } },
            None => html! { (n.to_string()) },
        },
        Value::Array(items) if items.is_empty() => html! { span.muted { "none" } },
        Value::Object(map) if map.is_empty() => html! { span.muted { "none" } },
        other => html! { code { (other.to_string()) } },
    }
}

/// The output kept so far: one span per piece, its stream and ANSI colour as classes.
fn output_block(id: &str, tail: &Output, finished: bool) -> Markup {
    // Each stream keeps its own colour from one chunk to its next.
    let mut styles = [Style::default(), Style::default()];
    let mut spans = Vec::new();
    for chunk in &tail.chunks {
        let slot = usize::from(chunk.stream == Stream::Stderr);
        let (pieces, end) = ansi::pieces(&String::from_utf8_lossy(&chunk.bytes), styles[slot]);
        styles[slot] = end;
        spans.extend(
            pieces
                .into_iter()
                .map(|(style, text)| (chunk.stream, style, text)),
        );
    }
    html! {
        @if tail.start > 0 {
            p.muted { "The first " (tail.start) " bytes are no longer kept." }
        }
        pre id="output" class="output" tabindex="0" aria-label="output"
            data-run=(id) data-from=(tail.end) data-follow=(if finished { "no" } else { "yes" }) {
            @for (stream, style, text) in &spans {
                span class={ "out " (stream.as_str()) " " (style.classes()) } { (text) }
            }
        }
        @if tail.chunks.is_empty() && finished {
            p.muted id="no-output" { "No output." }
        }
    }
}

#[derive(Deserialize)]
pub struct EventsQuery {
    /// The offset to start from when the browser has no `Last-Event-ID` yet.
    from: Option<u64>,
}

/// The API's output stream, for a viewer of the dashboard: its session stands for the
/// token a script would send.
pub async fn events(
    State(dashboard): State<Arc<Dashboard>>,
    viewer: Viewer,
    Path(id): Path<String>,
    Query(query): Query<OutputQuery>,
    Query(from): Query<EventsQuery>,
    mut headers: HeaderMap,
) -> Response {
    if !headers.contains_key("last-event-id")
        && let Some(from) = from.from
    {
        headers.insert("last-event-id", HeaderValue::from(from));
    }
    headers.insert("accept", HeaderValue::from_static("text/event-stream"));
    let api = Arc::clone(&dashboard.api);
    output(State(api), viewer.caller, Path(id), Query(query), headers)
        .await
        .into_response()
}
