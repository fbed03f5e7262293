//! `cronq worker`: take runs from queues and execute them; also the daemon's built-in
//! workers, which are configured the same way. With `metrics_addr`, it serves
//! `/metrics` too.

use std::sync::Arc;

use tokio::sync::watch;

use super::args::WorkerArgs;
use super::{CliError, Loaded, serve, signals, store_wait};
use crate::schedule::Schedule;
use crate::settings::{QueueWorkers, Settings};
use crate::worker::{self, WorkerConfig};

/// Concurrent runs per queue when nothing says otherwise.
const DEFAULT_CONCURRENCY: usize = 4;

pub fn run(args: &WorkerArgs, loaded: Loaded) -> anyhow::Result<()> {
    let Loaded {
        settings,
        schedule,
        host_zone,
        ..
    } = loaded;
    let queues = if args.queues.is_empty() {
        served(&settings, &schedule)
            .into_iter()
            .map(|q| q.queue)
            .collect()
    } else {
        args.queues.clone()
    };
    let concurrency = args.concurrency.unwrap_or(DEFAULT_CONCURRENCY).max(1);
    worker::check_containment(settings.containment).map_err(CliError::Usage)?;
    let config = worker_config(&settings, queues, concurrency, "worker");
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(async move {
        let metrics = serve::listen_metrics(&settings).await?;
        let (stop, _reload) = signals::listen()?;
        let Some(store) = store_wait::open(&settings, args.exit_if_unreachable, &stop).await?
        else {
            return Ok(());
        };
        let metrics = metrics
            .map(|listener| serve::spawn_metrics(listener, &store, &settings, host_zone, &stop));
        let (_keep, copies) = watch::channel(Arc::new(schedule));
        tracing::info!(worker = %config.id, queues = ?config.queues, concurrency, "cronq worker");
        let worked = worker::run(store, copies, config, stop.clone()).await;
        stop.cancel();
        if let Some(metrics) = metrics {
            serve::stopped(metrics).await;
        }
        worked?;
        Ok(())
    })
}

/// The daemon's workers: one per queue of the settings' `workers:`, else one per queue
/// of the schedule with 4 concurrent runs.
pub fn built_in(settings: &Settings, schedule: &Schedule) -> Vec<WorkerConfig> {
    served(settings, schedule)
        .into_iter()
        .map(|q| {
            let id = format!("daemon:{}", q.queue);
            worker_config(settings, vec![q.queue], q.workers as usize, &id)
        })
        .collect()
}

/// The settings' `workers:`, or every queue of the schedule, in the order jobs name them.
fn served(settings: &Settings, schedule: &Schedule) -> Vec<QueueWorkers> {
    if let Some(workers) = &settings.workers {
        return workers.clone();
    }
    let mut queues: Vec<QueueWorkers> = Vec::new();
    for job in &schedule.jobs {
        if !queues.iter().any(|q| q.queue == job.queue) {
            queues.push(QueueWorkers {
                queue: job.queue.clone(),
                workers: DEFAULT_CONCURRENCY as u32,
            });
        }
    }
    queues
}

fn worker_config(
    settings: &Settings,
    queues: Vec<String>,
    concurrency: usize,
    name: &str,
) -> WorkerConfig {
    let host = hostname();
    WorkerConfig {
        id: format!("{host}:{}:{name}", std::process::id()),
        host,
        queues,
        concurrency,
        lease: settings.lease,
        stop_grace: settings.stop_grace,
        containment: settings.containment,
        // The path the kernel started this process from, else `cronq` on the PATH.
        cronq_bin: std::env::current_exe().unwrap_or_else(|_| "cronq".into()),
        state_dir: settings.state_dir.clone(),
    }
}

pub fn hostname() -> String {
    nix::unistd::gethostname()
        .ok()
        .and_then(|name| name.into_string().ok())
        .unwrap_or_else(|| "localhost".into())
}
