//! `cronq serve`: the HTTP API alone, firing and running nothing, for a host that only
//! answers requests. `cronq daemon` serves the same beside its work when `http_addr` is
//! set; the listening, the loopback rule and the stop are here for both.

use std::sync::Arc;
use std::time::Duration;

use chrono_tz::Tz;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::args::ServeArgs;
use super::{CliError, signals, store_wait};
use crate::http::{self, Api};
use crate::settings::{self, Settings};
use crate::store::Store;

/// How long requests under way may take to finish once the process stops.
const DRAIN: Duration = Duration::from_secs(5);

pub fn run(
    args: &ServeArgs,
    settings: &Settings,
    env: &dyn Fn(&str) -> Option<String>,
) -> anyhow::Result<()> {
    let host_zone = settings::host_zone(env).map_err(CliError::Usage)?;
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(async move {
        let Some(listener) = listen(settings).await? else {
            return Err(CliError::Usage(
                "cronq serve needs an address: give --http ADDR, CRONQ_HTTP_ADDR or `http_addr:` in the settings".into(),
            )
            .into());
        };
        let (stop, _reload) = signals::listen()?;
        let Some(store) = store_wait::open(settings, args.exit_if_unreachable, &stop).await?
        else {
            return Ok(());
        };
        let api = spawn(listener, &store, settings, host_zone, &stop);
        stop.cancelled().await;
        stopped(api).await;
        Ok(())
    })
}

/// The listener for the settings' `http_addr`, if one is set; exit 2 when the address is
/// refused (no api_tokens and not loopback) or cannot be listened on.
pub async fn listen(settings: &Settings) -> Result<Option<TcpListener>, CliError> {
    let Some(addr) = settings.http_addr else {
        return Ok(None);
    };
    http::bind(addr, &settings.api_tokens)
        .await
        .map(Some)
        .map_err(CliError::Usage)
}

/// The listener for the settings' `metrics_addr`, if one is set; exit 2 when it is the
/// API's own address (which serves `/metrics` already) or cannot be listened on.
pub async fn listen_metrics(settings: &Settings) -> Result<Option<TcpListener>, CliError> {
    let Some(addr) = settings.metrics_addr else {
        return Ok(None);
    };
    if settings.http_addr == Some(addr) {
        return Err(CliError::Usage(format!(
            "metrics_addr {addr} is the HTTP API's address too, which serves /metrics already; give metrics_addr another port, or leave it unset"
        )));
    }
    TcpListener::bind(addr)
        .await
        .map(Some)
        .map_err(|error| CliError::Usage(format!("cannot listen on {addr} for /metrics: {error}")))
}

/// Serves `/metrics` alone on `listener` until `stop` is cancelled.
pub fn spawn_metrics(
    listener: TcpListener,
    store: &Arc<dyn Store>,
    settings: &Settings,
    host_zone: Tz,
    stop: &CancellationToken,
) -> JoinHandle<()> {
    let api = Api::new(Arc::clone(store), settings.clone(), host_zone, stop.clone());
    spawn_server(
        http::serve_metrics(listener, Arc::new(api)),
        "serving /metrics stopped",
    )
}

/// Serves the API on `listener` until `stop` is cancelled.
pub fn spawn(
    listener: TcpListener,
    store: &Arc<dyn Store>,
    settings: &Settings,
    host_zone: Tz,
    stop: &CancellationToken,
) -> JoinHandle<()> {
    let api = Api::new(Arc::clone(store), settings.clone(), host_zone, stop.clone());
    spawn_server(http::serve(listener, Arc::new(api)), "the HTTP API stopped")
}

/// Runs a server in a task of its own; its failure is logged, as `stopped`.
fn spawn_server(
    server: impl Future<Output = std::io::Result<()>> + Send + 'static,
    stopped: &'static str,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        if let Err(error) = server.await {
            tracing::error!(%error, "{stopped}");
        }
    })
}

/// Waits for the server to finish the requests under way, up to [`DRAIN`].
pub async fn stopped(server: JoinHandle<()>) {
    if tokio::time::timeout(DRAIN, server).await.is_err() {
        tracing::warn!("the HTTP API did not finish its requests within {DRAIN:?}");
    }
}
