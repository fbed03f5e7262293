//! The connections to Redis: a shared `ConnectionManager` (reconnects with backoff) for
//! every non-blocking command, and a small pool of dedicated connections for the
//! blocking reads: the reserve wait and a worker's wait for cancel requests. A blocking
//! command on the shared multiplexed connection would stall every other command on it,
//! and the default 500 ms response timeout would cut it short (DEPENDENCIES §2), so the
//! waiters get their own.
//!
//! Behind Sentinel (`redis+sentinel://`) the primary can move. Both kinds of connection
//! belong to one [`Primary`]; when a call fails the way a failover makes calls fail
//! (`READONLY`, a refused or dropped connection, a timeout), the sentinels are asked again,
//! for up to [`FAILOVER_WAIT`], and once they name another server every call goes to a
//! new `Primary` there, the failed one first. A task also asks them every second, so that
//! a process whose connection to the old primary stays up (it lives on as a replica)
//! moves too. A Redis Cluster is refused at connect: cronq talks to one primary.

use std::sync::{Arc, Mutex, RwLock, Weak};
use std::time::{Duration, Instant};

use redis::aio::{ConnectionManager, ConnectionManagerConfig, MultiplexedConnection};
use redis::{
    AsyncConnectionConfig, Client, Cmd, ErrorKind, FromRedisValue, RedisError, RedisResult,
    ServerErrorKind,
};
use redis::{ScriptInvocation, Value};
use tokio::task::AbortHandle;

use super::sentinel::{self, SentinelUrl, Sentinels};
use crate::store::{Result, StoreError};

/// How long one wait for a wake-up blocks at most; reserve loops until its own wait is spent.
pub(super) const MAX_BLOCK: Duration = Duration::from_secs(1);

const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Behind Sentinel a primary that does not answer is likely gone: give up on it sooner
/// and ask the sentinels.
const SENTINEL_CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
/// Generous for a script over many runs (prune, reap), short enough to notice a dead server.
const RESPONSE_TIMEOUT: Duration = Duration::from_secs(10);
/// Idle waiter connections kept for the next reserve.
const SPARE_WAITERS: usize = 16;
/// How often a process asks the sentinels whether the primary moved.
const WATCH_EVERY: Duration = Duration::from_secs(1);
/// At most one full lookup per this, however many calls fail at once.
const LOOKUP_GAP: Duration = Duration::from_millis(200);
/// How long a call that failed the way a failover makes calls fail waits for the
/// sentinels to name a new primary, asking every [`LOOKUP_GAP`], before it fails. A
/// caller that retries at once (the daemon's fire) is thus waiting in a call when the new
/// primary comes, and goes on at once rather than after a backoff.
const FAILOVER_WAIT: Duration = Duration::from_secs(5);
/// A lookup asks up to every sentinel and connects to the primary it names.
const LOOKUP_TIMEOUT: Duration = Duration::from_secs(3);

pub(super) struct Connection {
    shared: Arc<Shared>,
    /// The task that asks the sentinels every second; stopped with the connection.
    watch: Option<AbortHandle>,
}

struct Shared {
    /// The URL without its password, for messages.
    url: String,
    /// Every password in the URL, scrubbed from messages.
    secrets: Vec<String>,
    primary: RwLock<Arc<Primary>>,
    /// Behind Sentinel: how to find the primary again.
    follow: Option<Follow>,
}

/// The server every call goes to now, with both kinds of connection to it.
struct Primary {
    /// Counts the primaries this process followed, so that callers failing at once
    /// move once.
    generation: u64,
    /// `host:port`, as the sentinels name it (empty for a plain URL).
    address: String,
    client: Client,
    manager: ConnectionManager,
    waiters: Mutex<Vec<MultiplexedConnection>>,
}

struct Follow {
    /// Lookups wait for each other, so a failover is followed once.
    sentinels: tokio::sync::Mutex<Lookup>,
}

struct Lookup {
    sentinels: Sentinels,
    /// When the last full lookup ran, and whether it named the primary in use.
    last: Option<(Instant, bool)>,
}

/// What the sentinels say about the primary after a call on it failed.
enum Found {
    /// Another server (or the caller's primary was already replaced): call that one.
    Moved(Arc<Primary>),
    /// The same server, and it answers as a primary: the failure was not a failover.
    Same,
    /// No primary that answers yet: a failover is under way, or every sentinel is down.
    NotYet,
}

impl Connection {
    pub async fn open(url: &str) -> Result<Connection> {
        let redacted = redact(url);
        if url.starts_with(sentinel::SCHEME) {
            return Connection::open_sentinel(url, redacted).await;
        }
        let client = Client::open(url)
            .map_err(|e| {
                StoreError::Invalid(format!(
                    "invalid Redis URL {redacted}: {}; expected redis://[user:password@]host:port/db, such as redis://127.0.0.1:6379/0",
                    redis_words(&e).to_lowercase()
                ))
            })?;
        let secrets: Vec<String> = client
            .get_connection_info()
            .redis_settings()
            .password()
            .filter(|p| !p.is_empty())
            .map(str::to_owned)
            .into_iter()
            .collect();
        let primary = Primary::open(client, 0, String::new(), CONNECT_TIMEOUT, 3)
            .await
            .map_err(|e| unreachable_error(&redacted, &secrets, &e))?;
        refuse_cluster(&primary, &redacted, &secrets).await?;
        Ok(Connection {
            shared: Arc::new(Shared {
                url: redacted,
                secrets,
                primary: RwLock::new(Arc::new(primary)),
                follow: None,
            }),
            watch: None,
        })
    }

    async fn open_sentinel(url: &str, redacted: String) -> Result<Connection> {
        let parsed = SentinelUrl::parse(url)
            .map_err(|e| StoreError::Invalid(format!("invalid store URL {redacted}: {e}")))?;
        let secrets = parsed.secrets();
        let mut sentinels = Sentinels::new(parsed)
            .map_err(|e| StoreError::Invalid(format!("invalid store URL {redacted}: {e}")))?;
        let unreachable = |e: RedisError| unreachable_error(&redacted, &secrets, &e);
        // Started during a failover, a process waits for it as a failed call would.
        let deadline = Instant::now() + FAILOVER_WAIT;
        let client = loop {
            let error = match tokio::time::timeout(LOOKUP_TIMEOUT, sentinels.primary()).await {
                Ok(Ok(client)) => break client,
                Ok(Err(error)) => unreachable(error),
                Err(_) => StoreError::Unreachable {
                    url: redacted.clone(),
                    reason: format!(
                        "no sentinel named the primary of `{}` within {LOOKUP_TIMEOUT:?}",
                        sentinels.master()
                    ),
                },
            };
            if Instant::now() >= deadline {
                return Err(error);
            }
            tokio::time::sleep(LOOKUP_GAP).await;
        };
        let address = client.get_connection_info().addr().to_string();
        let primary = Primary::open(client, 0, address, SENTINEL_CONNECT_TIMEOUT, 1)
            .await
            .map_err(unreachable)?;
        refuse_cluster(&primary, &redacted, &secrets).await?;
        let shared = Arc::new(Shared {
            url: redacted,
            secrets,
            primary: RwLock::new(Arc::new(primary)),
            follow: Some(Follow {
                sentinels: tokio::sync::Mutex::new(Lookup {
                    sentinels,
                    last: None,
                }),
            }),
        });
        let watch = tokio::spawn(watch(Arc::downgrade(&shared))).abort_handle();
        Ok(Connection {
            shared,
            watch: Some(watch),
        })
    }

    /// The URL without its password.
    pub fn url(&self) -> &str {
        &self.shared.url
    }

    /// The store error for a Redis error: connection trouble is `Unreachable`.
    pub fn error(&self, e: RedisError) -> StoreError {
        self.shared.error(e)
    }

    /// Runs a script. A call that failed the way a lost connection or a failover makes
    /// calls fail is sent once more: on the new primary if the sentinels name one, else
    /// (a dropped connection) on the reconnected manager.
    ///
    /// Why sending it again cannot double its effect: a script is atomic, so it either
    /// ran on the old primary or not at all; refused with `READONLY`, it did not run. If
    /// it ran and was replicated, the second one finds its effect: enqueue and fire find
    /// their own run by its id (fire's claim of the (job, instant) holds that id) and
    /// answer the same; an ack that already took effect is refused as `LeaseLost`, and
    /// the state stays what the first one made. If it ran but was not replicated, the
    /// new primary never saw it, and the second one is the only one.
    pub async fn script(&self, invocation: &ScriptInvocation<'_>) -> Result<Value> {
        self.shared
            .call(|mut manager| async move { invocation.invoke_async(&mut manager).await })
            .await
    }

    /// Runs one non-blocking read on the shared manager; sent again as a script is.
    pub async fn query<T: FromRedisValue>(&self, cmd: &Cmd) -> Result<T> {
        self.shared
            .call(|mut manager| async move { cmd.query_async(&mut manager).await })
            .await
    }

    /// Runs a read-only pipeline on the shared manager; sent again as a script is.
    pub async fn pipeline<T: FromRedisValue>(&self, pipe: &redis::Pipeline) -> Result<T> {
        self.shared
            .call(|mut manager| async move { pipe.query_async(&mut manager).await })
            .await
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
    /// timeout. Behind Sentinel, a wait that fails because the primary moved returns
    /// `None` once the new one is found: the caller waits again, on the new primary.
    async fn blocking_pop(
        &self,
        keys: &[String],
        timeout: Duration,
    ) -> Result<Option<(String, String)>> {
        let primary = self.shared.primary();
        match primary.blocking_pop(keys, timeout).await {
            Ok(popped) => Ok(popped),
            Err(e) if self.shared.follow.is_some() && looks_like_failover(&e) => {
                match self.shared.wait_for_failover(&primary).await {
                    Some(_) => Ok(None),
                    None => Err(self.error(e)),
                }
            }
            Err(e) => Err(self.error(e)),
        }
    }
}

impl Drop for Connection {
    fn drop(&mut self) {
        if let Some(watch) = &self.watch {
            watch.abort();
        }
    }
}

impl Shared {
    fn primary(&self) -> Arc<Primary> {
        Arc::clone(&self.primary.read().unwrap_or_else(|e| e.into_inner()))
    }

    fn error(&self, e: RedisError) -> StoreError {
        let unreachable = e.is_io_error()
            || e.is_connection_dropped()
            || matches!(
                e.kind(),
                ErrorKind::AuthenticationFailed
                    | ErrorKind::Parse
                    | ErrorKind::ClusterConnectionNotFound
                    | ErrorKind::MasterNameNotFoundBySentinel
                    | ErrorKind::NoValidReplicasFoundBySentinel
                    | ErrorKind::Server(
                        ServerErrorKind::BusyLoading
                            | ServerErrorKind::ClusterDown
                            | ServerErrorKind::MasterDown
                            | ServerErrorKind::ReadOnly
                    )
            )
            || matches!(e.code(), Some("NOAUTH" | "WRONGPASS"));
        if e.is_cluster_error()
            && !matches!(e.kind(), ErrorKind::Server(ServerErrorKind::ClusterDown))
        {
            return StoreError::Invalid(cluster_refusal(&self.url));
        }
        if unreachable {
            unreachable_error(&self.url, &self.secrets, &e)
        } else {
            StoreError::Failed(scrub(e.to_string(), &self.secrets))
        }
    }

    /// Runs `op` on the primary's manager, and once more where [`Shared::retry_on`] says.
    async fn call<T, F, Fut>(&self, op: F) -> Result<T>
    where
        F: Fn(ConnectionManager) -> Fut,
        Fut: Future<Output = RedisResult<T>>,
    {
        let primary = self.primary();
        let error = match op(primary.manager.clone()).await {
            Ok(value) => return Ok(value),
            Err(error) => error,
        };
        match self.retry_on(&primary, &error).await {
            Some(next) => op(next.manager.clone()).await.map_err(|e| self.error(e)),
            None => Err(self.error(error)),
        }
    }

    /// Where a call that failed with `error` on `primary` is sent again, if anywhere:
    /// the new primary after a failover; the same one, reconnected, when its connection
    /// dropped (most often before the call was sent) and it is still the primary.
    async fn retry_on(&self, primary: &Arc<Primary>, error: &RedisError) -> Option<Arc<Primary>> {
        if self.follow.is_some()
            && looks_like_failover(error)
            && let Some(next) = self.wait_for_failover(primary).await
        {
            return Some(next);
        }
        error.is_connection_dropped().then(|| Arc::clone(primary))
    }

    /// After a call on `primary` failed, waits up to [`FAILOVER_WAIT`] for the sentinels
    /// to name another primary; `None` when they name `primary` still or no one in time.
    async fn wait_for_failover(&self, primary: &Primary) -> Option<Arc<Primary>> {
        let deadline = Instant::now() + FAILOVER_WAIT;
        loop {
            match self.follow_failover(primary.generation).await {
                Found::Moved(next) => return Some(next),
                Found::Same => return None,
                Found::NotYet if Instant::now() >= deadline => return None,
                Found::NotYet => tokio::time::sleep(LOOKUP_GAP).await,
            }
        }
    }

    /// Asks the sentinels for the primary after a call on primary number `seen` failed,
    /// and moves every call to it if it is another server.
    async fn follow_failover(&self, seen: u64) -> Found {
        let Some(follow) = self.follow.as_ref() else {
            return Found::Same;
        };
        let mut lookup = follow.sentinels.lock().await;
        let current = self.primary();
        if current.generation != seen {
            return Found::Moved(current);
        }
        // Calls that fail together share one lookup's answer.
        match lookup.last {
            Some((at, true)) if at.elapsed() < LOOKUP_GAP => return Found::Same,
            Some((at, false)) if at.elapsed() < LOOKUP_GAP => return Found::NotYet,
            _ => {}
        }
        let found = self.look_up(&mut lookup.sentinels, &current).await;
        lookup.last = Some((Instant::now(), matches!(found, Found::Same)));
        found
    }

    /// One full lookup; connects to the primary it finds if that is not `current`.
    async fn look_up(&self, sentinels: &mut Sentinels, current: &Primary) -> Found {
        let master = sentinels.master().to_owned();
        let client = match tokio::time::timeout(LOOKUP_TIMEOUT, sentinels.primary()).await {
            Ok(Ok(client)) => client,
            Ok(Err(error)) => {
                tracing::debug!(master, error = %scrub(error.to_string(), &self.secrets), "the sentinels name no primary that answers");
                return Found::NotYet;
            }
            Err(_) => return Found::NotYet,
        };
        let address = client.get_connection_info().addr().to_string();
        if address == current.address {
            return Found::Same;
        }
        let opened = Primary::open(
            client,
            current.generation + 1,
            address.clone(),
            SENTINEL_CONNECT_TIMEOUT,
            1,
        );
        let primary = match tokio::time::timeout(LOOKUP_TIMEOUT, opened).await {
            Ok(Ok(primary)) => Arc::new(primary),
            Ok(Err(error)) => {
                tracing::debug!(master, address, error = %scrub(error.to_string(), &self.secrets), "cannot connect to the new primary yet");
                return Found::NotYet;
            }
            Err(_) => return Found::NotYet,
        };
        *self.primary.write().unwrap_or_else(|e| e.into_inner()) = Arc::clone(&primary);
        tracing::warn!(
            master,
            from = current.address,
            to = address,
            "the Redis primary moved (a Sentinel failover); following it"
        );
        Found::Moved(primary)
    }
}

/// Every [`WATCH_EVERY`], asks a sentinel which server is the primary and follows it
/// if it is not the one in use. Ends when the connection is dropped.
async fn watch(shared: Weak<Shared>) {
    loop {
        tokio::time::sleep(WATCH_EVERY).await;
        let Some(shared) = shared.upgrade() else {
            return;
        };
        let Some(follow) = &shared.follow else {
            return;
        };
        let current = shared.primary();
        let named = {
            let mut lookup = follow.sentinels.lock().await;
            lookup.sentinels.named_primary().await
        };
        match named {
            Ok(Some(address)) if address != current.address => {
                shared.follow_failover(current.generation).await;
            }
            Ok(_) => {}
            Err(error) => {
                tracing::debug!(error = %scrub(error.to_string(), &shared.secrets), "no sentinel answered")
            }
        }
    }
}

impl Primary {
    /// Connects to `client`'s server; `retries` reconnects with backoff before a call
    /// fails. Sends a `PING`: connecting sends no command, and a server that refuses us
    /// (no password, a wrong one) should say so now rather than at the first real call.
    async fn open(
        client: Client,
        generation: u64,
        address: String,
        connect_timeout: Duration,
        retries: usize,
    ) -> RedisResult<Primary> {
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(connect_timeout))
            .set_response_timeout(Some(RESPONSE_TIMEOUT))
            .set_number_of_retries(retries)
            .set_max_delay(Duration::from_secs(2));
        let mut manager = ConnectionManager::new_with_config(client.clone(), config).await?;
        let _: String = redis::cmd("PING").query_async(&mut manager).await?;
        Ok(Primary {
            generation,
            address,
            client,
            manager,
            waiters: Mutex::new(Vec::new()),
        })
    }

    async fn blocking_pop(
        &self,
        keys: &[String],
        timeout: Duration,
    ) -> RedisResult<Option<(String, String)>> {
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
                    .await?
            }
        };
        let seconds = timeout.min(MAX_BLOCK).as_secs_f64().max(0.001);
        let popped: Option<(String, String)> = redis::cmd("BLPOP")
            .arg(keys)
            .arg(format!("{seconds:.3}"))
            .query_async(&mut connection)
            .await?;
        // Only a connection that answered goes back: a failed one is dropped.
        let mut spares = self.waiters.lock().unwrap_or_else(|e| e.into_inner());
        if spares.len() < SPARE_WAITERS {
            spares.push(connection);
        }
        Ok(popped)
    }
}

/// An error a failover makes: the server is gone or does not answer, or it is a
/// replica now.
fn looks_like_failover(e: &RedisError) -> bool {
    e.is_io_error()
        || e.is_connection_dropped()
        || matches!(
            e.kind(),
            ErrorKind::Server(
                ServerErrorKind::ReadOnly
                    | ServerErrorKind::MasterDown
                    | ServerErrorKind::BusyLoading
            )
        )
}

/// cronq's multi-key scripts need every key on one server, and it follows one primary:
/// a Redis Cluster is refused at connect. `INFO` may be denied to an ACL user; then a
/// Cluster shows itself later, by a `MOVED` reply (see [`Shared::error`]).
async fn refuse_cluster(primary: &Primary, url: &str, secrets: &[String]) -> Result<()> {
    let mut manager = primary.manager.clone();
    let info: RedisResult<String> = redis::cmd("INFO")
        .arg("cluster")
        .query_async(&mut manager)
        .await;
    match info {
        Ok(info) if info.lines().any(|line| line.trim() == "cluster_enabled:1") => {
            Err(StoreError::Invalid(cluster_refusal(url)))
        }
        Ok(_) => Ok(()),
        Err(e) if matches!(e.kind(), ErrorKind::Server(ServerErrorKind::NoPerm)) => Ok(()),
        Err(e) => Err(unreachable_error(url, secrets, &e)),
    }
}

fn cluster_refusal(url: &str) -> String {
    format!(
        "the Redis server at {url} is part of a Redis Cluster, which cronq does not support; run a primary with replicas under Sentinel and give the store as redis+sentinel://host:26379,…/MASTER_NAME"
    )
}

fn unreachable_error(url: &str, secrets: &[String], e: &RedisError) -> StoreError {
    StoreError::Unreachable {
        url: url.to_owned(),
        reason: scrub(redis_words(e), secrets),
    }
}

/// A Redis client error in cronq's words, on one line: without the library's kind
/// names (`- InvalidClientConfig`), with what to do for the errors a user can fix.
pub fn redis_words(e: &RedisError) -> String {
    let detail = e.detail().unwrap_or_default();
    if e.kind() == redis::ErrorKind::AuthenticationFailed || e.code() == Some("WRONGPASS") {
        return "the server refused the user name or password".into();
    }
    if e.code() == Some("NOAUTH") || detail.starts_with("Authentication required") {
        return "the server needs a password; give it in the URL (redis://:PASSWORD@host:port/db), best through CRONQ_STORE".into();
    }
    let mut text = e.to_string();
    for kind in [
        format!(" - {:?}", e.kind()),
        format!("\"{}\": ", e.code().unwrap_or("-")),
    ] {
        text = text.replace(&kind, ": ");
    }
    let text = text.trim_start_matches(": ").replace(": : ", ": ");
    let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
    text.trim_end_matches(':').to_string()
}

/// Removes the passwords from a message, in case the client library quoted one.
fn scrub(message: String, secrets: &[String]) -> String {
    secrets
        .iter()
        .filter(|secret| !secret.is_empty())
        .fold(message, |message, secret| {
            message.replace(secret.as_str(), "***")
        })
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
                    Some((key, _)) if matches!(key, "password" | "pass" | "sentinel_password") => {
                        format!("{key}=***")
                    }
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
