//! Signals for the long-running commands: SIGTERM and SIGINT stop, SIGHUP reloads.

use std::sync::Arc;

use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

/// A token cancelled by SIGTERM or SIGINT, and a notice raised by SIGHUP.
pub fn listen() -> std::io::Result<(CancellationToken, Arc<Notify>)> {
    let (stop, reload) = (CancellationToken::new(), Arc::new(Notify::new()));
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    let mut hup = signal(SignalKind::hangup())?;
    let (stopping, reloading) = (stop.clone(), Arc::clone(&reload));
    tokio::spawn(async move {
        loop {
            tokio::select! {
                _ = term.recv() => stopping.cancel(),
                _ = int.recv() => stopping.cancel(),
                _ = hup.recv() => reloading.notify_one(),
            }
        }
    });
    Ok((stop, reload))
}
