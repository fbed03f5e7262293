//! The connections to Redis: a shared `ConnectionManager` (reconnects with backoff) for
//! every non-blocking command, and a small pool of dedicated connections for the
//! blocking reads: the reserve wait and a worker's wait for cancel requests. A blocking
//! command on the shared multiplexed connection would stall every other command on it,
//! and the default 500 ms response timeout would cut it short (DEPENDENCIES §2), so the
//! waiters get their own.

use std::sync::Mutex;
use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig, MultiplexedConnection};
use redis::{
    AsyncConnectionConfig, Client, Cmd, ErrorKind, FromRedisValue, RedisError, ServerErrorKind,
};
use redis::{ScriptInvocation, Value};

use crate::store::{Result, StoreError};

/// How long one wait for a wake-up blocks at most; reserve loops until its own wait is spent.
pub(super) const MAX_BLOCK: Duration = Duration::from_secs(1);

const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Generous for a script over many runs (prune, reap), short enough to notice a dead server.
const RESPONSE_TIMEOUT: Duration = Duration::from_secs(10);
/// Idle waiter connections kept for the next reserve.
const SPARE_WAITERS: usize = 16;

pub(super) struct Connection {
    /// The URL without its password, for messages.
    url: String,
    password: Option<String>,
    client: Client,
    manager: ConnectionManager,
    waiters: Mutex<Vec<MultiplexedConnection>>,
}

impl Connection {
    pub async fn open(url: &str) -> Result<Connection> {
        let redacted = redact(url);
        let client = Client::open(url)
            .map_err(|e| StoreError::Invalid(format!("invalid Redis URL {redacted}: {e}")))?;
        let password = client
            .get_connection_info()
            .redis_settings()
            .password()
            .filter(|p| !p.is_empty())
            .map(str::to_owned);
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(CONNECT_TIMEOUT))
            .set_response_timeout(Some(RESPONSE_TIMEOUT))
            .set_number_of_retries(3)
            .set_max_delay(Duration::from_secs(2));
        let manager = ConnectionManager::new_with_config(client.clone(), config)
            .await
            .map_err(|e| unreachable_error(&redacted, password.as_deref(), &e))?;
        let connection = Connection {
            url: redacted,
            password,
            client,
            manager,
            waiters: Mutex::new(Vec::new()),
        };
        // Connecting sends no command; a PING shows a server that refuses us (no password,
        // a wrong one) now rather than at the first real call.
        let mut manager = connection.manager.clone();
        let pong: redis::RedisResult<String> = redis::cmd("PING").query_async(&mut manager).await;
        match pong {
            Ok(_) => Ok(connection),
            Err(e) => Err(unreachable_error(
                &connection.url,
                connection.password.as_deref(),
                &e,
            )),
        }
    }

    /// The URL without its password.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The store error for a Redis error: connection trouble is `Unreachable`.
    pub fn error(&self, e: RedisError) -> StoreError {
        let unreachable = e.is_io_error()
            || e.is_connection_dropped()
            || matches!(
                e.kind(),
                ErrorKind::AuthenticationFailed
                    | ErrorKind::Parse
                    | ErrorKind::ClusterConnectionNotFound
                    | ErrorKind::Server(
                        ServerErrorKind::BusyLoading
                            | ServerErrorKind::ClusterDown
                            | ServerErrorKind::MasterDown
                    )
            )
            || matches!(e.code(), Some("NOAUTH" | "WRONGPASS"));
        if unreachable {
            unreachable_error(&self.url, self.password.as_deref(), &e)
        } else {
            StoreError::Failed(scrub(e.to_string(), self.password.as_deref()))
        }
    }

    /// Runs a script. A call whose connection dropped (most often before it was sent) is
    /// sent once more on the reconnected manager. Each script is safe to run twice: enqueue
    /// and fire find their own earlier effect and answer the same; an ack that already
    /// took effect is refused as `LeaseLost`, and the state stays what the first one made.
    pub async fn script(&self, invocation: &ScriptInvocation<'_>) -> Result<Value> {
        let mut manager = self.manager.clone();
        match invocation.invoke_async(&mut manager).await {
            Err(e) if e.is_connection_dropped() => invocation
                .invoke_async(&mut manager)
                .await
                .map_err(|e| self.error(e)),
            other => other.map_err(|e| self.error(e)),
        }
    }

    /// Runs one non-blocking command (or an atomic pipeline) on the shared manager.
    pub async fn query<T: FromRedisValue>(&self, cmd: &Cmd) -> Result<T> {
        let mut manager = self.manager.clone();
        match cmd.query_async(&mut manager).await {
            Err(e) if e.is_connection_dropped() => cmd
                .query_async(&mut manager)
                .await
                .map_err(|e| self.error(e)),
            other => other.map_err(|e| self.error(e)),
        }
    }

    /// Runs a read-only pipeline on the shared manager.
    pub async fn pipeline<T: FromRedisValue>(&self, pipe: &redis::Pipeline) -> Result<T> {
        let mut manager = self.manager.clone();
        match pipe.query_async(&mut manager).await {
            Err(e) if e.is_connection_dropped() => pipe
                .query_async(&mut manager)
                .await
                .map_err(|e| self.error(e)),
            other => other.map_err(|e| self.error(e)),
        }
    }

    /// Blocks up to `timeout` (at most [`MAX_BLOCK`]) for a token on one of the wake
    /// lists, on a dedicated connection. Returns whether one came.
    pub async fn wait_for_wake(&self, keys: &[String], timeout: Duration) -> Result<bool> {
        Ok(self.blocking_pop(keys, timeout).await?.is_some())
    }

    /// Blocks up to `timeout` (at most [`MAX_BLOCK`]) for an item of the list `key`, on a
    /// dedicated connection, and takes it.
    pub async fn wait_for_item(&self, key: &str, timeout: Duration) -> Result<Option<String>> {
        let popped = self.blocking_pop(&[key.to_owned()], timeout).await?;
        Ok(popped.map(|(_, item)| item))
    }

    /// `BLPOP` on a waiter connection: the list and the item taken, or `None` after the
    /// timeout.
    async fn blocking_pop(
        &self,
        keys: &[String],
        timeout: Duration,
    ) -> Result<Option<(String, String)>> {
        let spare = self.waiters.lock().unwrap_or_else(|e| e.into_inner()).pop();
        let mut connection = match spare {
            Some(connection) => connection,
            None => {
                // The response timeout covers the longest block plus a margin, so a server
                // that vanishes mid-wait is noticed instead of waited on forever.
                let config = AsyncConnectionConfig::new()
                    .set_connection_timeout(Some(CONNECT_TIMEOUT))
                    .set_response_timeout(Some(MAX_BLOCK + Duration::from_secs(2)));
                self.client
                    .get_multiplexed_async_connection_with_config(&config)
                    .await
                    .map_err(|e| self.error(e))?
            }
        };
        let seconds = timeout.min(MAX_BLOCK).as_secs_f64().max(0.001);
        let popped: Option<(String, String)> = redis::cmd("BLPOP")
            .arg(keys)
            .arg(format!("{seconds:.3}"))
            .query_async(&mut connection)
            .await
            .map_err(|e| self.error(e))?;
        // Only a connection that answered goes back: a failed one is dropped.
        let mut spares = self.waiters.lock().unwrap_or_else(|e| e.into_inner());
        if spares.len() < SPARE_WAITERS {
            spares.push(connection);
        }
        Ok(popped)
    }
}

fn unreachable_error(url: &str, password: Option<&str>, e: &RedisError) -> StoreError {
    StoreError::Unreachable {
        url: url.to_owned(),
        reason: scrub(e.to_string(), password),
    }
}

/// Removes the password from a message, in case the client library quoted it.
fn scrub(message: String, password: Option<&str>) -> String {
    match password {
        Some(password) if !password.is_empty() => message.replace(password, "***"),
        _ => message,
    }
}

/// The URL without its password: `redis://user:***@host:port/db`. A `password=` or
/// `pass=` query parameter is masked too.
pub fn redact(url: &str) -> String {
    let Some(scheme_end) = url.find("://").map(|i| i + 3) else {
        return url.to_owned();
    };
    let rest = &url[scheme_end..];
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let authority = &rest[..authority_end];
    let mut out = url[..scheme_end].to_owned();
    match authority.rfind('@') {
        Some(at) => {
            let userinfo = &authority[..at];
            match userinfo.find(':') {
                Some(colon) => {
                    out.push_str(&userinfo[..colon]);
                    out.push_str(":***");
                }
                None => out.push_str(userinfo),
            }
            out.push_str(&authority[at..]);
        }
        None => out.push_str(authority),
    }
    let tail = &rest[authority_end..];
    match tail.find('?') {
        Some(q) => {
            out.push_str(&tail[..=q]);
            let query: Vec<String> = tail[q + 1..]
                .split('&')
                .map(|pair| match pair.split_once('=') {
                    Some((key, _)) if key == "password" || key == "pass" => format!("{key}=***"),
                    _ => pair.to_owned(),
                })
                .collect();
            out.push_str(&query.join("&"));
        }
        None => out.push_str(tail),
    }
    out
}

#[cfg(test)]
mod tests {
    use super::redact;

    #[test]
    fn redact_hides_only_the_password() {
        assert_eq!(
            redact("redis://u:secret@h:6379/2"),
            "redis://u:***@h:6379/2"
        );
        assert_eq!(redact("rediss://:secret@h:6379"), "rediss://:***@h:6379");
        assert_eq!(redact("redis://h:6379/0"), "redis://h:6379/0");
        assert_eq!(redact("redis://user@h"), "redis://user@h");
        assert_eq!(redact("redis://u:p@ss@h/1"), "redis://u:***@h/1");
        assert_eq!(
            redact("redis+unix:///tmp/r.sock?db=1&pass=x"),
            "redis+unix:///tmp/r.sock?db=1&pass=***"
        );
    }
}
