//! Ending a run's processes: SIGTERM, then SIGKILL after the grace, to every member of
//! its containment (`contain/`), wherever it moved; then waiting until none is left.
//!
//! The leader (the child tokio started) is always waited for through tokio; only after
//! that are the other members reaped, by pid, so that tokio never finds its own child
//! taken.

use std::io;
use std::process::ExitStatus;
use std::time::Duration;

use nix::sys::signal::Signal;
use tokio::process::Child;
use tokio::time::{Instant, sleep, sleep_until};

use super::contain::Members;
use super::spawn::Launch;

/// How often the members are checked while they die.
const POLL: Duration = Duration::from_millis(10);
/// How long SIGKILLed members may take to die and be reaped before the worker gives up
/// on them (a member whose parent is not the worker cannot be reaped by it).
const KILL_PATIENCE: Duration = Duration::from_secs(5);

/// A run's processes, and when they were told to terminate.
pub struct Group {
    members: Members,
    grace: Duration,
    termed_at: Option<Instant>,
    killed: bool,
}

impl Group {
    /// The processes of `members`, which get `grace` between SIGTERM and SIGKILL.
    pub fn new(members: Members, grace: Duration) -> Group {
        Group {
            members,
            grace,
            termed_at: None,
            killed: false,
        }
    }

    /// Starts the leader of `launch` inside the group's containment.
    pub fn start(&mut self, launch: Launch<'_>) -> Result<Child, String> {
        self.members.start(launch)
    }

    /// Keeps the record of the members while the leader runs; never returns.
    pub async fn track(&mut self) -> std::convert::Infallible {
        self.members.track().await
    }

    /// Sends SIGTERM to every member, once.
    pub fn terminate(&mut self) {
        if self.termed_at.is_none() {
            self.members.signal(Signal::SIGTERM);
            self.termed_at = Some(Instant::now());
        }
    }

    /// SIGTERM to the members, SIGKILL once the grace is over, and the leader's status.
    pub async fn stop_leader(&mut self, leader: &mut Child) -> io::Result<ExitStatus> {
        self.terminate();
        let kill_at = self.kill_at();
        tokio::select! {
            status = leader.wait() => return status,
            _ = sleep_until(kill_at) => {}
            never = self.members.track() => match never {},
        }
        self.kill();
        leader.wait().await
    }

    /// After the leader has been waited for: ends what is left of the members (SIGTERM,
    /// then SIGKILL after the grace) and reaps them, so that none survives the run and
    /// the output pipes reach their end.
    pub async fn end(&mut self) {
        if self.reap_until_empty(Instant::now()).await {
            return;
        }
        self.terminate();
        if self.reap_until_empty(self.kill_at()).await {
            return;
        }
        self.kill();
        if !self.reap_until_empty(Instant::now() + KILL_PATIENCE).await {
            tracing::warn!(
                members = %self.members.describe(),
                "processes of a killed job are still there"
            );
        }
    }

    fn kill_at(&self) -> Instant {
        self.termed_at.unwrap_or_else(Instant::now) + self.grace
    }

    fn kill(&mut self) {
        self.members.signal(Signal::SIGKILL);
        self.killed = true;
    }

    /// Reaps the dead members until none is left (true) or `deadline` (false). Once
    /// they were killed, a member found since (forked before the kill reached its
    /// parent) is killed too.
    async fn reap_until_empty(&mut self, deadline: Instant) -> bool {
        loop {
            if self.members.is_empty() {
                return true;
            }
            if Instant::now() >= deadline {
                return false;
            }
            if self.killed {
                self.members.signal(Signal::SIGKILL);
            }
            sleep(POLL.min(deadline - Instant::now())).await;
        }
    }
}
