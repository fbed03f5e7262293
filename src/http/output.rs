//! `GET /api/v1/runs/{id}/output`: the tail of a run's output as plain text, or, with
//! `Accept: text/event-stream`, Server-Sent Events of its output until the run ends.
//!
//! Each `output` event carries `{"stream": "stdout"|"stderr", "text": "…"}` and its `id`
//! is the offset of the byte after it in all the run wrote, so a client that reconnects
//! with `Last-Event-ID` gets exactly the bytes after those it had. A multi-byte
//! character is never cut between two events while the run is running. A final `end`
//! event carries the run; a `dropped` event says which bytes the store's tail no longer
//! held.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, header};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use futures_util::StreamExt as _;
use futures_util::stream;
use serde::Deserialize;
use serde_json::json;

use super::auth::Caller;
use super::error::ApiError;
use super::runs::find;
use super::state::Api;
use crate::report::run_json;
use crate::settings::Scope;
use crate::store::{Output, Stream};

/// How often a stream asks the store for more; workers send output at about this pace.
const POLL: Duration = Duration::from_millis(200);

#[derive(Deserialize)]
pub struct OutputQuery {
    /// `stdout` or `stderr`; both, interleaved as written, without it.
    stream: Option<String>,
}

pub async fn output(
    State(api): State<Arc<Api>>,
    caller: Caller,
    Path(id): Path<String>,
    Query(query): Query<OutputQuery>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    caller.need(Scope::Read)?;
    let only = match query.stream.as_deref() {
        None => None,
        Some("stdout") => Some(Stream::Stdout),
        Some("stderr") => Some(Stream::Stderr),
        Some(other) => {
            return Err(ApiError::bad_request(format!(
                "stream `{other}` is neither stdout nor stderr"
            )));
        }
    };
    let run = find(&api, &id).await?;
    let events = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|accept| accept.contains("text/event-stream"));
    if !events {
        let tail = api.store.output(&run.id, 0).await?;
        let bytes: Vec<u8> = chunks(&tail, 0)
            .filter(|(stream, _, _)| only.is_none_or(|s| s == *stream))
            .flat_map(|(_, _, bytes)| bytes.iter().copied())
            .collect();
        return Ok(([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], bytes).into_response());
    }
    let from = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .map(|text| {
            text.trim().parse::<u64>().map_err(|_| {
                ApiError::bad_request(format!("Last-Event-ID `{text}` is not a byte offset"))
            })
        })
        .transpose()?
        .unwrap_or(0);
    let follow = Follow {
        api,
        id: run.id,
        only,
        from,
        done: false,
    };
    let events = stream::unfold(follow, |mut follow| async move {
        let events = follow.next().await?;
        Some((
            stream::iter(events.into_iter().map(Ok::<Event, Infallible>)),
            follow,
        ))
    })
    .flatten();
    // A keep-alive comment, so that proxies do not close a quiet stream.
    Ok(Sse::new(events)
        .keep_alive(KeepAlive::default())
        .into_response())
}

/// One stream's place in a run's output.
struct Follow {
    api: Arc<Api>,
    id: String,
    only: Option<Stream>,
    /// The offset of the next byte to send.
    from: u64,
    done: bool,
}

impl Follow {
    /// The next events: output as it comes, then `end`; `None` once the stream is over
    /// (the run ended, the process stops, or the store failed, said in an `error` event).
    async fn next(&mut self) -> Option<Vec<Event>> {
        if self.done {
            return None;
        }
        loop {
            match self.read().await {
                Ok(events) if !events.is_empty() => return Some(events),
                Ok(_) => {}
                Err(message) => {
                    self.done = true;
                    return Some(vec![Event::default().event("error").data(message)]);
                }
            }
            tokio::select! {
                () = tokio::time::sleep(POLL) => {}
                () = self.api.stop.cancelled() => return None,
            }
        }
    }

    async fn read(&mut self) -> Result<Vec<Event>, String> {
        let store = &*self.api.store;
        // The run first: once it reads finished, the output read after it is complete.
        let run = store.run(&self.id).await.map_err(|e| e.to_string())?;
        let output = store
            .output(&self.id, self.from)
            .await
            .map_err(|e| e.to_string())?;
        let finished = run.status.is_finished();
        let mut events = Vec::new();
        if output.start > self.from {
            let dropped = json!({ "from": self.from, "to": output.start });
            events.push(Event::default().event("dropped").data(dropped.to_string()));
            self.from = output.start;
        }
        let pieces: Vec<_> = chunks(&output, self.from).collect();
        let last = pieces.len().saturating_sub(1);
        for (i, (stream, start, bytes)) in pieces.into_iter().enumerate() {
            // While the run goes on, a character cut at the end waits for its rest.
            let keep = if i == last && !finished {
                whole_chars(bytes)
            } else {
                bytes.len()
            };
            let bytes = &bytes[..keep];
            if bytes.is_empty() {
                continue;
            }
            self.from = start + bytes.len() as u64;
            if self.only.is_some_and(|only| only != stream) {
                continue;
            }
            let data = json!({
                "stream": stream_name(stream),
                "text": String::from_utf8_lossy(bytes),
            });
            events.push(
                Event::default()
                    .event("output")
                    .id(self.from.to_string())
                    .data(data.to_string()),
            );
        }
        if finished {
            self.done = true;
            let run = run_json(&run, Utc::now(), None);
            events.push(
                Event::default()
                    .event("end")
                    .id(self.from.to_string())
                    .data(run.to_string()),
            );
        }
        Ok(events)
    }
}

/// Each chunk of `output` at or after offset `from`: its stream, its offset, its bytes.
fn chunks(output: &Output, from: u64) -> impl Iterator<Item = (Stream, u64, &[u8])> {
    let mut at = output.start;
    output.chunks.iter().filter_map(move |chunk| {
        let start = at;
        at += chunk.bytes.len() as u64;
        let skip = usize::try_from(from.saturating_sub(start)).unwrap_or(usize::MAX);
        (skip < chunk.bytes.len())
            .then(|| (chunk.stream, start + skip as u64, &chunk.bytes[skip..]))
    })
}

fn stream_name(stream: Stream) -> &'static str {
    match stream {
        Stream::Stdout => "stdout",
        Stream::Stderr => "stderr",
    }
}

/// The length of `bytes` without a UTF-8 character cut off at its end.
fn whole_chars(bytes: &[u8]) -> usize {
    for back in 1..=bytes.len().min(3) {
        let byte = bytes[bytes.len() - back];
        if byte & 0xC0 == 0x80 {
            continue; // a continuation byte: look further back for the lead
        }
        let needs = match byte {
            0xF0.. => 4,
            0xE0.. => 3,
            0xC0.. => 2,
            _ => 1,
        };
        return if needs > back {
            bytes.len() - back
        } else {
            bytes.len()
        };
    }
    bytes.len()
}

#[cfg(test)]
mod tests {
    use super::whole_chars;

    #[test]
    fn a_character_cut_at_the_end_is_left_for_later() {
        let text = "añ€😀".as_bytes();
        assert_eq!(whole_chars(text), text.len());
        assert_eq!(whole_chars(&text[..2]), 1); // half of ñ
        assert_eq!(whole_chars(&text[..5]), 3); // two thirds of €
        assert_eq!(whole_chars(&text[..8]), 6); // two of 😀's four
        assert_eq!(whole_chars(b"plain\n"), 6);
        assert_eq!(whole_chars(b""), 0);
    }
}
