//! Ending a child's process group: SIGTERM, then SIGKILL after the grace, and reaping
//! the members that were re-parented to the worker (a child subreaper).
//!
//! The group's leader (the child tokio started) is always waited for through tokio;
//! only after that are the other members reaped here, with `waitpid(-pgid)`, so that
//! tokio never finds its own child taken. No SIGCHLD handler, no wait for any pid.

use std::io;
use std::process::ExitStatus;
use std::time::Duration;

use nix::errno::Errno;
use nix::sys::signal::{Signal, killpg};
use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
use nix::unistd::Pid;
use tokio::process::Child;
use tokio::time::{Instant, sleep, sleep_until};

/// How often the group is checked while its members die.
const POLL: Duration = Duration::from_millis(10);
/// How long SIGKILLed members may take to die and be reaped before the worker gives up
/// on them (a member whose parent is not the worker cannot be reaped by it).
const KILL_PATIENCE: Duration = Duration::from_secs(5);

/// A child's process group, and when it was told to terminate.
pub struct Group {
    pgid: Pid,
    grace: Duration,
    termed_at: Option<Instant>,
}

impl Group {
    /// The group led by `pid`, which gets `grace` between SIGTERM and SIGKILL.
    pub fn new(pid: u32, grace: Duration) -> Group {
        Group {
            pgid: Pid::from_raw(pid as i32),
            grace,
            termed_at: None,
        }
    }

    /// Sends SIGTERM to the whole group, once.
    pub fn terminate(&mut self) {
        if self.termed_at.is_none() {
            self.signal(Signal::SIGTERM);
            self.termed_at = Some(Instant::now());
        }
    }

    /// SIGTERM to the group, SIGKILL once the grace is over, and the leader's status.
    pub async fn stop_leader(&mut self, leader: &mut Child) -> io::Result<ExitStatus> {
        self.terminate();
        tokio::select! {
            status = leader.wait() => return status,
            _ = sleep_until(self.kill_at()) => {}
        }
        self.signal(Signal::SIGKILL);
        leader.wait().await
    }

    /// After the leader has been waited for: ends what is left of the group (SIGTERM,
    /// then SIGKILL after the grace) and reaps it, so that no member survives the run
    /// and the output pipes reach their end.
    pub async fn end(&mut self) {
        if self.reap_until_empty(Instant::now()).await {
            return;
        }
        self.terminate();
        if self.reap_until_empty(self.kill_at()).await {
            return;
        }
        self.signal(Signal::SIGKILL);
        if !self.reap_until_empty(Instant::now() + KILL_PATIENCE).await {
            tracing::warn!(
                pgid = self.pgid.as_raw(),
                "members of a killed job's process group are still there"
            );
        }
    }

    fn kill_at(&self) -> Instant {
        self.termed_at.unwrap_or_else(Instant::now) + self.grace
    }

    /// Reaps the group's dead members until none is left (true) or `deadline` (false).
    async fn reap_until_empty(&self, deadline: Instant) -> bool {
        loop {
            self.reap();
            if self.is_empty() {
                return true;
            }
            if Instant::now() >= deadline {
                return false;
            }
            sleep(POLL.min(deadline - Instant::now())).await;
        }
    }

    /// Reaps every member of the group that has exited, without blocking.
    fn reap(&self) {
        let any_member = Pid::from_raw(-self.pgid.as_raw());
        loop {
            match waitpid(any_member, Some(WaitPidFlag::WNOHANG)) {
                Ok(WaitStatus::StillAlive) | Err(Errno::ECHILD) => return,
                Ok(_) | Err(Errno::EINTR) => continue,
                Err(error) => {
                    tracing::debug!(pgid = self.pgid.as_raw(), %error, "cannot reap the group");
                    return;
                }
            }
        }
    }

    /// No process, not even a zombie, is left in the group.
    fn is_empty(&self) -> bool {
        killpg(self.pgid, None) == Err(Errno::ESRCH)
    }

    fn signal(&self, signal: Signal) {
        match killpg(self.pgid, signal) {
            Ok(()) | Err(Errno::ESRCH) => {}
            Err(error) => {
                tracing::warn!(
                    pgid = self.pgid.as_raw(),
                    %signal,
                    %error,
                    "cannot signal the job's process group",
                )
            }
        }
    }
}
