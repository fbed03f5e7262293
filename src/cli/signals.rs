//! Signals for the long-running commands: SIGTERM and SIGINT stop, SIGHUP reloads.
//! The commands that wait on a run (`run --wait`, `logs --follow`, `cancel`) stop
//! waiting on Ctrl-C and exit [`INTERRUPTED`], leaving the run as it is.

use std::sync::Arc;

use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

/// The exit code after Ctrl-C, as a shell reports a command that SIGINT ended.
pub const INTERRUPTED: u8 = 130;

/// Ctrl-C from now on: SIGINT no longer ends the process, the future ends instead.
pub fn interrupt() -> std::io::Result<impl Future<Output = ()>> {
    let mut int = signal(SignalKind::interrupt())?;
    Ok(async move {
        int.recv().await;
    })
}

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
