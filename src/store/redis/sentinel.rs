//! Finding the primary through Redis Sentinel: the `redis+sentinel://` store URL, the
//! full question (which server is the primary now, checked with `ROLE` on that server:
//! the redis crate's `Sentinel`), and the cheap one a process asks every second to
//! notice a failover it has not felt through an error (`SENTINEL
//! get-master-addr-by-name`).
//!
//! It holds no connection to the data: `connection.rs` connects to the primary found here
//! and decides when to ask again.

use std::time::Duration;

use redis::aio::MultiplexedConnection;
use redis::sentinel::{Sentinel, SentinelNodeConnectionInfo};
use redis::{
    AsyncConnectionConfig, Client, ConnectionAddr, ConnectionInfo, IntoConnectionInfo,
    RedisConnectionInfo, RedisResult,
};

/// The scheme of a store behind Sentinel.
pub const SCHEME: &str = "redis+sentinel://";
/// Sentinel's own port, for a host written without one.
const DEFAULT_PORT: u16 = 26379;
/// The cheap question's connection: a sentinel that does not answer within this is
/// passed over for the next one.
const ASK_TIMEOUT: Duration = Duration::from_millis(500);

/// `redis+sentinel://[user:pass@]host1:26379,host2:26379/MASTER_NAME[/DB]` with an
/// optional `?sentinel_user=U&sentinel_password=P` for sentinels that require a password.
/// The user and password before the `@` are the data servers' (primary and replicas).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SentinelUrl {
    pub sentinels: Vec<(String, u16)>,
    pub master: String,
    pub db: i64,
    pub username: Option<String>,
    pub password: Option<String>,
    pub sentinel_username: Option<String>,
    pub sentinel_password: Option<String>,
}

impl SentinelUrl {
    /// Parses the URL; the error is a sentence that says what form was expected.
    pub fn parse(url: &str) -> Result<SentinelUrl, String> {
        let expected =
            "expected redis+sentinel://[user:pass@]host1:26379,host2:26379/MASTER_NAME[/DB]";
        let Some(rest) = url.strip_prefix(SCHEME) else {
            return Err(format!(
                "a Sentinel store URL starts with {SCHEME}; {expected}"
            ));
        };
        let (rest, query) = match rest.split_once('?') {
            Some((rest, query)) => (rest, Some(query)),
            None => (rest, None),
        };
        let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
        let (userinfo, hosts) = match authority.rfind('@') {
            Some(at) => (Some(&authority[..at]), &authority[at + 1..]),
            None => (None, authority),
        };
        let (username, password) = match userinfo {
            None => (None, None),
            Some(info) => {
                let (user, pass) = info.split_once(':').unwrap_or((info, ""));
                (non_empty(decode(user)?), non_empty(decode(pass)?))
            }
        };
        let sentinels = hosts
            .split(',')
            .map(|host| {
                parse_host(host)
                    .ok_or_else(|| format!("`{host}` is not a sentinel's host:port; {expected}"))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let mut segments = path.split('/');
        let master = decode(segments.next().unwrap_or_default())?;
        if master.is_empty() {
            return Err(format!(
                "the Sentinel store URL names no master; {expected}"
            ));
        }
        let db = match segments.next() {
            None | Some("") => 0,
            Some(db) => db
                .parse::<i64>()
                .ok()
                .filter(|db| *db >= 0)
                .ok_or_else(|| format!("`{db}` is not a database number; {expected}"))?,
        };
        if let Some(extra) = segments.find(|s| !s.is_empty()) {
            return Err(format!("`/{extra}` after the database number; {expected}"));
        }
        let mut parsed = SentinelUrl {
            sentinels,
            master,
            db,
            username,
            password,
            sentinel_username: None,
            sentinel_password: None,
        };
        for pair in query
            .unwrap_or_default()
            .split('&')
            .filter(|p| !p.is_empty())
        {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            match key {
                "sentinel_user" | "sentinel_username" => {
                    parsed.sentinel_username = non_empty(decode(value)?)
                }
                "sentinel_password" => parsed.sentinel_password = non_empty(decode(value)?),
                _ => {
                    return Err(format!(
                        "unknown parameter `{key}` in the Sentinel store URL; expected sentinel_user or sentinel_password"
                    ));
                }
            }
        }
        Ok(parsed)
    }

    /// The passwords in the URL, to keep out of every message.
    pub fn secrets(&self) -> Vec<String> {
        [&self.password, &self.sentinel_password]
            .into_iter()
            .flatten()
            .cloned()
            .collect()
    }

    fn sentinel_info(&self, host: &str, port: u16) -> ConnectionInfo {
        let mut redis = RedisConnectionInfo::default();
        if let Some(user) = &self.sentinel_username {
            redis = redis.set_username(user);
        }
        if let Some(password) = &self.sentinel_password {
            redis = redis.set_password(password);
        }
        // A `ConnectionAddr` always converts; the `expect` states that.
        ConnectionAddr::Tcp(host.to_owned(), port)
            .into_connection_info()
            .expect("a TCP address is a connection info")
            .set_redis_settings(redis)
    }

    /// How to reach the primary once a sentinel named it: the data servers' database,
    /// user and password.
    fn primary_info(&self) -> SentinelNodeConnectionInfo {
        let mut redis = RedisConnectionInfo::default().set_db(self.db);
        if let Some(user) = &self.username {
            redis = redis.set_username(user);
        }
        if let Some(password) = &self.password {
            redis = redis.set_password(password);
        }
        SentinelNodeConnectionInfo::default().set_redis_connection_info(redis)
    }
}

/// The sentinels of one master, asked in turn.
pub struct Sentinels {
    url: SentinelUrl,
    lookup: Sentinel,
    /// The connection the cheap question goes on, and the sentinel it is to.
    watch: Option<(usize, MultiplexedConnection)>,
    next: usize,
}

impl Sentinels {
    pub fn new(url: SentinelUrl) -> RedisResult<Sentinels> {
        let infos = url
            .sentinels
            .iter()
            .map(|(host, port)| url.sentinel_info(host, *port))
            .collect();
        Ok(Sentinels {
            lookup: Sentinel::build(infos)?,
            url,
            watch: None,
            next: 0,
        })
    }

    /// The master's name, for messages.
    pub fn master(&self) -> &str {
        &self.url.master
    }

    /// A client for the server the sentinels name as the primary, once that server
    /// itself answered `ROLE` as a primary. A master the sentinels see down is passed
    /// over, so during a failover this fails until the new primary is promoted.
    pub async fn primary(&mut self) -> RedisResult<Client> {
        let info = self.url.primary_info();
        self.lookup
            .async_master_for(&self.url.master, Some(&info))
            .await
    }

    /// `host:port` of the primary as the next sentinel that answers names it, without
    /// connecting to the primary: cheap enough to ask every second.
    pub async fn named_primary(&mut self) -> RedisResult<Option<String>> {
        let mut last_error = None;
        for _ in 0..self.url.sentinels.len() {
            let (index, mut connection) = match self.watch.take() {
                Some(watch) => watch,
                None => {
                    let index = self.next % self.url.sentinels.len();
                    self.next = index + 1;
                    let (host, port) = &self.url.sentinels[index];
                    let config = AsyncConnectionConfig::new()
                        .set_connection_timeout(Some(ASK_TIMEOUT))
                        .set_response_timeout(Some(ASK_TIMEOUT));
                    let client = Client::open(self.url.sentinel_info(host, *port))?;
                    match client
                        .get_multiplexed_async_connection_with_config(&config)
                        .await
                    {
                        Ok(connection) => (index, connection),
                        Err(error) => {
                            last_error = Some(error);
                            continue;
                        }
                    }
                }
            };
            let named: RedisResult<Option<(String, u16)>> = redis::cmd("SENTINEL")
                .arg("get-master-addr-by-name")
                .arg(&self.url.master)
                .query_async(&mut connection)
                .await;
            match named {
                Ok(named) => {
                    self.watch = Some((index, connection));
                    return Ok(named.map(|(host, port)| format!("{host}:{port}")));
                }
                // The connection is dropped and the next sentinel asked.
                Err(error) => last_error = Some(error),
            }
        }
        Err(last_error.unwrap_or_else(|| {
            redis::RedisError::from((redis::ErrorKind::EmptySentinelList, "no sentinel"))
        }))
    }
}

/// `host`, `host:port`, `[v6]` or `[v6]:port`.
fn parse_host(text: &str) -> Option<(String, u16)> {
    let (host, port) = match text.strip_prefix('[') {
        Some(v6) => {
            let (host, rest) = v6.split_once(']')?;
            match rest {
                "" => (host, None),
                _ => (host, Some(rest.strip_prefix(':')?)),
            }
        }
        None => match text.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (text, None),
        },
    };
    if host.is_empty() || host.contains([':', '@', '/']) && !text.starts_with('[') {
        return None;
    }
    let port = match port {
        None => DEFAULT_PORT,
        Some(port) => port.parse().ok().filter(|p| *p != 0)?,
    };
    Some((host.to_owned(), port))
}

fn non_empty(text: String) -> Option<String> {
    (!text.is_empty()).then_some(text)
}

/// Undoes `%XX` escapes, as the redis crate does for the user and password of a
/// `redis://` URL, so that a password may hold `@`, `/` or `,`.
fn decode(text: &str) -> Result<String, String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let byte = text
                .get(i + 1..i + 3)
                .and_then(|hex| u8::from_str_radix(hex, 16).ok())
                .ok_or_else(|| {
                    "a `%` in the Sentinel store URL is not followed by two hex digits".to_owned()
                })?;
            out.push(byte);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| "the Sentinel store URL decodes to invalid UTF-8".to_owned())
}

#[cfg(test)]
mod tests {
    use super::SentinelUrl;

    #[test]
    fn a_sentinel_url_names_the_sentinels_the_master_and_the_credentials() {
        let url = SentinelUrl::parse(
            "redis+sentinel://app:p%40ss@10.0.0.1:26379,s2,[::1]:26380/orders/3?sentinel_password=s3",
        )
        .unwrap();
        assert_eq!(
            url.sentinels,
            vec![
                ("10.0.0.1".to_owned(), 26379),
                ("s2".to_owned(), 26379),
                ("::1".to_owned(), 26380)
            ]
        );
        assert_eq!(url.master, "orders");
        assert_eq!(url.db, 3);
        assert_eq!(url.username.as_deref(), Some("app"));
        assert_eq!(url.password.as_deref(), Some("p@ss"));
        assert_eq!(url.sentinel_password.as_deref(), Some("s3"));
        assert_eq!(url.secrets(), vec!["p@ss".to_owned(), "s3".to_owned()]);

        let bare = SentinelUrl::parse("redis+sentinel://h:1/m").unwrap();
        assert_eq!((bare.db, bare.username, bare.password), (0, None, None));
        let password_only = SentinelUrl::parse("redis+sentinel://:pw@h/m/").unwrap();
        assert_eq!(password_only.username, None);
        assert_eq!(password_only.password.as_deref(), Some("pw"));
    }

    #[test]
    fn a_sentinel_url_without_a_master_or_with_a_bad_part_is_refused() {
        for (url, says) in [
            ("redis+sentinel://h:26379", "names no master"),
            ("redis+sentinel://h:26379/", "names no master"),
            (
                "redis+sentinel://h:x/m",
                "`h:x` is not a sentinel's host:port",
            ),
            (
                "redis+sentinel://h:1,,h:2/m",
                "`` is not a sentinel's host:port",
            ),
            ("redis+sentinel://h:0/m", "`h:0` is not"),
            ("redis+sentinel://h/m/db", "`db` is not a database number"),
            ("redis+sentinel://h/m/1/2", "`/2` after the database number"),
            (
                "redis+sentinel://h/m?password=x",
                "unknown parameter `password`",
            ),
            ("redis+sentinel://u:%zz@h/m", "two hex digits"),
        ] {
            let error = SentinelUrl::parse(url).unwrap_err();
            assert!(error.contains(says), "{url}: {error}");
        }
    }
}
