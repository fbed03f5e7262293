//! Dead-man's-switch pings, healthchecks.io's protocol: `URL/start` when a run starts,
//! `URL` when it succeeds, `URL/fail` when it ends any other way (failed, timed out,
//! cancelled, lost), the end's body the last lines of its output. Each attempt is a
//! run of its own and pings as one. Sent in tasks: a slow monitor holds nothing up.

use std::time::Duration;

use tokio::task::JoinHandle;

use super::deliver::{client, expand, redact};
use super::message::tail_lines;
use crate::store::{Run, RunStatus, Store};

/// How many times one ping is tried...
const TRIES: u32 = 3;
/// ...with this pause after the first failure, doubled after the second.
const FIRST_PAUSE: Duration = Duration::from_secs(1);

/// Sends `URL/start` for `run`; the handle lets the end's ping go after it.
pub fn started(url: &str, run: &Run) -> JoinHandle<()> {
    let (url, run_id) = (url.to_string(), run.id.clone());
    tokio::spawn(async move { ping(&url, "/start", String::new(), &run_id).await })
}

/// Sends the end of `run` (`URL` or `URL/fail`) once `start` (if any) was sent, with
/// the run's output tail as the body.
pub fn ended(
    store: std::sync::Arc<dyn Store>,
    url: &str,
    start: Option<JoinHandle<()>>,
    run: &Run,
) {
    let suffix = if run.status == RunStatus::Succeeded {
        ""
    } else {
        "/fail"
    };
    let (url, run_id) = (url.to_string(), run.id.clone());
    tokio::spawn(async move {
        if let Some(start) = start {
            let _ = start.await;
        }
        let body = match store.output(&run_id, 0).await {
            Ok(output) => tail_lines(&output.bytes()).join("\n"),
            Err(_) => String::new(),
        };
        ping(&url, suffix, body, &run_id).await;
    });
}

async fn ping(url: &str, suffix: &str, body: String, run_id: &str) {
    let url = match expand(url) {
        Ok(url) => format!("{}{suffix}", url.trim_end_matches('/')),
        Err(error) => {
            tracing::warn!(run = %run_id, %error, "ping not sent");
            return;
        }
    };
    let mut pause = FIRST_PAUSE;
    for tries in 1..=TRIES {
        let sent = match client() {
            Ok(client) => client.post(&url).body(body.clone()).send().await,
            Err(error) => {
                tracing::warn!(run = %run_id, %error, "ping not sent");
                return;
            }
        };
        let error = match sent {
            Ok(response) if response.status().is_success() => return,
            Ok(response) => format!("answered {}", response.status()),
            Err(error) => error.to_string(),
        };
        if tries == TRIES {
            tracing::warn!(run = %run_id, url = %redact(&url), %error, tries, "ping not delivered");
            return;
        }
        tokio::time::sleep(pause).await;
        pause *= 2;
    }
}
