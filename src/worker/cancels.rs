//! How a cancel reaches a run within a second: the worker keeps each running run's
//! cancel token by its id, and one task per worker, whatever the number of its runs,
//! waits on [`Store::cancel_requests`] and fires the tokens of the runs it names. With
//! no run to cancel the task asks the store nothing. The lease renewal's cancel flag
//! stays as a backstop (`supervise.rs`).
//!
//! [`Store::cancel_requests`]: crate::store::Store::cancel_requests

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;

use super::{Backoff, Shared, Throttle, WARN_EVERY};
use crate::store::RunId;

/// How long one call to the store waits for a request: the listener looks at the stop
/// and at its runs between calls.
const LISTEN_WAIT: Duration = Duration::from_secs(1);
/// How long a request for a run that has not started here yet is kept: the run was
/// reserved but its slot had not registered it when the request came.
const EARLY_KEEP: Duration = Duration::from_secs(30);

/// The runs executing now, each with the token that cancels it.
#[derive(Default)]
pub(super) struct Running {
    tokens: BTreeMap<RunId, CancellationToken>,
    /// Requests that came before their run was registered, with when they came.
    early: Vec<(RunId, Instant)>,
}

impl Running {
    /// Registers a run as it starts: its cancel token, fired already when a request for
    /// it came early.
    pub fn start(&mut self, id: &RunId) -> CancellationToken {
        let token = CancellationToken::new();
        if let Some(at) = self.early.iter().position(|(early, _)| early == id) {
            self.early.swap_remove(at);
            token.cancel();
        }
        self.tokens.insert(id.clone(), token.clone());
        token
    }

    pub fn end(&mut self, id: &RunId) {
        self.tokens.remove(id);
    }

    /// Fires the run's token; a request for a run not registered is kept a while, in
    /// case it is about to start. Whether the run is running here.
    fn cancel(&mut self, id: &RunId, now: Instant) -> bool {
        if let Some(token) = self.tokens.get(id) {
            token.cancel();
            return true;
        }
        self.early
            .retain(|(_, at)| now.duration_since(*at) < EARLY_KEEP);
        self.early.push((id.clone(), now));
        false
    }

    pub fn is_empty(&self) -> bool {
        self.tokens.is_empty()
    }

    pub fn ids(&self) -> Vec<RunId> {
        self.tokens.keys().cloned().collect()
    }
}

/// Listens for the cancel requests of the worker's runs until `stop`, firing each run's
/// token. A store that fails is asked again after a pause that doubles, never in a loop.
pub(super) async fn listen(shared: Arc<Shared>, stop: CancellationToken) {
    let worker = &shared.config.id;
    let mut backoff = Backoff::new();
    let mut warning = Throttle::new(WARN_EVERY);
    loop {
        if shared.running().is_empty() {
            // Idle: nothing to cancel, so no store load until a run starts.
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = shared.run_started.notified() => {}
            }
            continue;
        }
        // Raced against the stop: a request taken and dropped here is of a worker that
        // is going, and its lease renewal still reports it.
        let asked = tokio::select! {
            _ = stop.cancelled() => return,
            asked = shared.store.cancel_requests(worker, LISTEN_WAIT) => asked,
        };
        match asked {
            Ok(ids) => {
                backoff.reset();
                let now = Instant::now();
                for id in ids {
                    if shared.running().cancel(&id, now) {
                        tracing::info!(run = %id, worker = %worker, "cancel requested");
                    }
                }
            }
            Err(error) => {
                let pause = backoff.next();
                if warning.ready() {
                    tracing::warn!(
                        worker = %worker,
                        %error,
                        retry_in_ms = pause.as_millis() as u64,
                        "cannot listen for cancel requests",
                    );
                }
                tokio::select! {
                    _ = stop.cancelled() => return,
                    _ = tokio::time::sleep(pause) => {}
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_fires_the_token_of_a_running_run() {
        let mut running = Running::default();
        let id = "R1".to_string();
        let token = running.start(&id);
        assert!(!token.is_cancelled());
        assert!(running.cancel(&id, Instant::now()));
        assert!(token.is_cancelled());
        running.end(&id);
        assert!(running.is_empty());
    }

    #[test]
    fn a_request_that_comes_before_its_run_starts_is_kept_for_it() {
        let mut running = Running::default();
        let id = "R1".to_string();
        assert!(!running.cancel(&id, Instant::now()));
        assert!(running.start(&id).is_cancelled(), "the early request");
        running.end(&id);
        assert!(!running.start(&id).is_cancelled(), "used once");
    }

    #[test]
    fn early_requests_are_forgotten_after_a_while() {
        let mut running = Running::default();
        let start = Instant::now();
        assert!(!running.cancel(&"OLD".to_string(), start));
        assert!(!running.cancel(&"NEW".to_string(), start + EARLY_KEEP));
        assert_eq!(running.early.len(), 1, "{:?}", running.early);
        assert!(!running.start(&"OLD".to_string()).is_cancelled());
    }
}
