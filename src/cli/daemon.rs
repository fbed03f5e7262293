//! `cronq daemon`: fire the schedule and, unless told not to, run the jobs too; with
//! `http_addr`, serve the HTTP API beside them, and with `metrics_addr`, `/metrics`.

use super::args::DaemonArgs;
use super::{CliError, Loaded, serve, signals, store_wait, worker};
use crate::daemon::{self, DaemonConfig};

pub fn run(args: &DaemonArgs, loaded: Loaded) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(async move {
        let Loaded {
            settings,
            schedule,
            host_zone,
            ..
        } = loaded;
        if !args.no_workers {
            crate::worker::check_containment(settings.containment).map_err(CliError::Usage)?;
        }
        // Listening comes first, so that an address refused ends the start at once.
        let listener = serve::listen(&settings).await?;
        let metrics = serve::listen_metrics(&settings).await?;
        let (stop, reload) = signals::listen()?;
        let Some(store) = store_wait::open(&settings, args.exit_if_unreachable, &stop).await?
        else {
            return Ok(());
        };
        let api = listener.map(|listener| {
            serve::spawn(listener, &store, &settings, host_zone, &stop)
        });
        let metrics = metrics.map(|listener| {
            serve::spawn_metrics(listener, &store, &settings, host_zone, &stop)
        });
        let workers = if args.no_workers {
            Vec::new()
        } else {
            worker::built_in(&settings, &schedule)
        };
        let config = DaemonConfig {
            schedule_path: settings.schedule.0.clone(),
            host_zone,
            workers,
            lease: settings.lease,
            host: worker::hostname(),
            public_url: settings.public_url.clone(),
        };
        tracing::info!(store = %settings.store, schedule = %config.schedule_path.display(), "cronq daemon");
        let fired = daemon::run(store, schedule, config, stop.clone(), reload).await;
        stop.cancel();
        for server in api.into_iter().chain(metrics) {
            serve::stopped(server).await;
        }
        fired?;
        Ok(())
    })
}
