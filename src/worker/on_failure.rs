//! A job's `on_failure` command, run once its last attempt has failed, timed out or
//! been lost, with the run's details in its environment. It may take at most a minute; its
//! result and the start of its output go to the worker's log.

use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::time::timeout;
use tokio_util::sync::CancellationToken;

use super::contain::Host;
use super::kill::Group;
use super::spawn::Launch;
use crate::schedule::{Command, Job};
use crate::store::{Outcome, Run};

/// How long `on_failure` may run before its group is killed.
const LIMIT: Duration = Duration::from_secs(60);
/// The bytes of its output kept for the log.
const OUTPUT_HEAD: usize = 4096;

/// Runs `command` for the run that ended with `outcome`, unless `kill` (the worker's
/// stop) comes first.
pub async fn run(
    command: &Command,
    job: &Job,
    run: &Run,
    outcome: &Outcome,
    contain: &Host,
    kill: &CancellationToken,
) {
    let text = |value: Option<i32>| value.map(|v| v.to_string()).unwrap_or_default();
    let env = [
        ("CRONQ_JOB", job.name.clone()),
        ("CRONQ_RUN_ID", run.id.clone()),
        ("CRONQ_STATUS", outcome.status.to_string()),
        ("CRONQ_EXIT_CODE", text(outcome.exit_code)),
        ("CRONQ_SIGNAL", text(outcome.signal)),
        ("CRONQ_ATTEMPT", run.attempt.to_string()),
        ("CRONQ_REASON", outcome.reason.clone().unwrap_or_default()),
    ];
    let launch = Launch {
        job,
        command,
        args: &[],
        env: env.into_iter().map(|(k, v)| (k.to_string(), v)).collect(),
        stdout: Stdio::piped(),
        stderr: Stdio::piped(),
        // It runs after the job's end, without its host lock, and reports no progress.
        inherit: Vec::new(),
        cgroup: None,
    };
    let started = contain
        .members(&format!("on-failure-{}", run.id), &run.id)
        .map(|members| Group::new(members, job.kill_grace))
        .and_then(|mut group| Ok((group.start(launch)?, group)));
    let (mut child, mut group) = match started {
        Ok(started) => started,
        Err(reason) => {
            tracing::warn!(job = %job.name, run = %run.id, %reason, "on_failure did not start");
            return;
        }
    };
    let stdout = tokio::spawn(head(child.stdout.take()));
    let stderr = tokio::spawn(head(child.stderr.take()));
    let mut why_killed = None;
    let status = tokio::select! {
        status = timeout(LIMIT, child.wait()) => status.ok(),
        _ = kill.cancelled() => {
            why_killed = Some("the worker stopped");
            None
        }
        never = group.track() => match never {},
    };
    let status = match status {
        Some(status) => status,
        None => {
            let why = why_killed.unwrap_or("it ran for more than 60s");
            tracing::warn!(job = %job.name, run = %run.id, "on_failure is killed: {why}");
            group.stop_leader(&mut child).await
        }
    };
    group.end().await;
    let mut output = Vec::new();
    for reader in [stdout, stderr] {
        let abort = reader.abort_handle();
        match timeout(Duration::from_secs(1), reader).await {
            Ok(Ok(bytes)) => output.extend(bytes),
            // Held open by a process that left the group.
            _ => abort.abort(),
        }
    }
    let output = String::from_utf8_lossy(&output);
    match status {
        Ok(status) if status.success() => {
            tracing::info!(job = %job.name, run = %run.id, "on_failure done");
        }
        Ok(status) => {
            tracing::warn!(
                job = %job.name,
                run = %run.id,
                %status,
                output = %output.trim_end(),
                "on_failure failed",
            );
        }
        Err(error) => {
            tracing::warn!(job = %job.name, run = %run.id, %error, "cannot wait for on_failure");
        }
    }
}

/// Reads a pipe to its end, keeping its first [`OUTPUT_HEAD`] bytes.
async fn head(pipe: Option<impl AsyncRead + Unpin>) -> Vec<u8> {
    let Some(mut pipe) = pipe else {
        return Vec::new();
    };
    let mut kept = Vec::new();
    let mut buffer = [0; 4096];
    while let Ok(n) = pipe.read(&mut buffer).await {
        if n == 0 {
            break;
        }
        let room = OUTPUT_HEAD.saturating_sub(kept.len());
        kept.extend_from_slice(&buffer[..n.min(room)]);
    }
    kept
}
