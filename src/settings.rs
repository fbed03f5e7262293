//! Where things are: the schedule file, the store, the state dir, the queues this host
//! works, the log format and the metrics address.
//!
//! Each key is a flag, a `CRONQ_*` variable and a key of the settings file
//! (`config/cronq.yaml`), in that order of precedence, then a default. `${VAR}` in the
//! file is read from the environment, so secrets stay out of git. Only this module
//! and `main.rs` read the process environment for settings.

mod api_tokens;

pub use api_tokens::{ApiToken, Scope, Secret};

use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use chrono_tz::Tz;

use crate::store::redis::{self, RedisStore};
use crate::store::sqlite::SqliteStore;
use crate::store::{DEFAULT_OUTPUT_TAIL_BYTES, Store, StoreError};

use crate::schedule::diagnostic::Report;
use crate::schedule::node::{Node, Value};
use crate::schedule::{Diagnostic, parse_zone};

/// The settings file read when none is named.
pub const DEFAULT_SETTINGS_FILE: &str = "config/cronq.yaml";
/// The lease on a run when none is set.
pub const DEFAULT_LEASE: Duration = Duration::from_secs(30);
/// The shortest lease: renewals come every third of it, over the network for Redis.
pub const MIN_LEASE: Duration = Duration::from_secs(1);
/// What running jobs get to finish after SIGTERM when nothing else is set.
pub const DEFAULT_STOP_GRACE: Duration = Duration::from_secs(30);
/// The schedule file read when none is named.
pub const DEFAULT_SCHEDULE_FILE: &str = "crontab.yaml";

/// Settings given as flags or `CRONQ_*` variables: which settings file to read, and a
/// layer that goes over it.
#[derive(Clone, Debug, Default)]
pub struct Overrides {
    pub settings: Option<PathBuf>,
    pub layer: Layer,
}

/// The settings one source gives (the flags and variables, or the file); `None` where
/// it gives none.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Layer {
    pub schedule: Option<PathBuf>,
    pub store: Option<String>,
    pub redis_prefix: Option<String>,
    pub state_dir: Option<PathBuf>,
    pub workers: Option<Vec<QueueWorkers>>,
    pub log_format: Option<LogFormat>,
    pub metrics_addr: Option<SocketAddr>,
    pub http_addr: Option<SocketAddr>,
    pub public_url: Option<String>,
    /// Only the settings file gives them.
    pub api_tokens: Option<Vec<ApiToken>>,
    pub lease: Option<Duration>,
    pub stop_grace: Option<Duration>,
    pub containment: Option<Containment>,
}

/// The settings in force, every layer applied.
#[derive(Clone, Debug)]
pub struct Settings {
    /// The schedule file, and which layer named it (for "paths tried" messages).
    pub schedule: (PathBuf, &'static str),
    pub store: StoreUrl,
    /// Every Redis key starts with it; its `{…}` hash tag keeps them on one Cluster slot.
    pub redis_prefix: String,
    pub state_dir: PathBuf,
    /// Queues this host works, in priority order; `None`: every queue of the schedule.
    pub workers: Option<Vec<QueueWorkers>>,
    pub log_format: LogFormat,
    pub metrics_addr: Option<SocketAddr>,
    /// Where the HTTP API listens (`cronq daemon`, `cronq serve`); `None`: nowhere.
    pub http_addr: Option<SocketAddr>,
    /// The dashboard's address as users reach it (`https://cron.example.com`): a
    /// notification links to a run's page under it.
    pub public_url: Option<String>,
    /// Who may call the HTTP API; none: it is read-only and listens on loopback only.
    pub api_tokens: Vec<ApiToken>,
    /// Workers hold each run under a lease this long, renewed about three times per
    /// lease; a run whose lease runs out is `lost`.
    pub lease: Duration,
    /// How long running jobs may take to finish after SIGTERM before they are killed.
    pub stop_grace: Duration,
    /// How a worker keeps every process of a run together, so that none outlives it.
    pub containment: Containment,
    /// The settings file that was read, if any.
    pub file: Option<PathBuf>,
}

/// A queue and how many runs of it this host executes at once.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QueueWorkers {
    pub queue: String,
    pub workers: u32,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

/// How a worker finds and kills every process a run started, whatever session or
/// process group it moved to.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Containment {
    /// A cgroup per run when the host gives a writable cgroup2 with `cgroup.kill`, else
    /// `subreaper`.
    #[default]
    Auto,
    /// A cgroup per run, killed with `cgroup.kill`; a worker refuses to start without one.
    Cgroup,
    /// Each run's process tree tracked through the worker, its child subreaper.
    Subreaper,
}

impl fmt::Display for Containment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Containment::Auto => "auto",
            Containment::Cgroup => "cgroup",
            Containment::Subreaper => "subreaper",
        })
    }
}

/// Where the store is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StoreUrl {
    /// The embedded SQLite file.
    Sqlite(PathBuf),
    /// A Redis server: `redis://[user:pass@]host:port/db` or `rediss://` for TLS; or the
    /// primary a set of sentinels names, `redis+sentinel://[user:pass@]h1:26379,h2/MASTER[/DB]`.
    Redis(String),
}

/// A settings problem that is not tied to a position in the file.
#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error("{}", match source.kind() {
        std::io::ErrorKind::NotFound => format!(
            "no settings file at {} (--settings, CRONQ_SETTINGS); name one that exists, or neither for the defaults",
            path.display()
        ),
        _ => unreadable_file("settings", path, source, "cronq.yaml"),
    })]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n"))]
    Invalid(Vec<Diagnostic>),
    #[error("{0}")]
    Value(String),
}

impl Settings {
    /// Applies flags and variables over the settings file over the defaults.
    /// `env` reads the process environment (a parameter so tests can pass their own).
    pub fn resolve(
        overrides: Overrides,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Settings, SettingsError> {
        let top = overrides.layer;
        let (file, path) = match &overrides.settings {
            Some(path) => (read_file(path, env)?, Some(path.clone())),
            None if Path::new(DEFAULT_SETTINGS_FILE).is_file() => {
                let path = PathBuf::from(DEFAULT_SETTINGS_FILE);
                (read_file(&path, env)?, Some(path))
            }
            None => (Layer::default(), None),
        };
        let schedule = match (top.schedule, file.schedule) {
            (Some(path), _) => (path, "--schedule or CRONQ_SCHEDULE"),
            (None, Some(path)) => (path, "`schedule:` in the settings"),
            (None, None) => (PathBuf::from(DEFAULT_SCHEDULE_FILE), "the default"),
        };
        let state_dir = match top.state_dir.or(file.state_dir) {
            Some(dir) => dir,
            None => default_state_dir(env)?,
        };
        let store = match top.store.or(file.store) {
            Some(url) => StoreUrl::parse(&url).map_err(SettingsError::Value)?,
            None => StoreUrl::Sqlite(state_dir.join("cronq.db")),
        };
        Ok(Settings {
            schedule,
            store,
            state_dir,
            workers: top.workers.or(file.workers),
            log_format: top.log_format.or(file.log_format).unwrap_or_default(),
            metrics_addr: top.metrics_addr.or(file.metrics_addr),
            http_addr: top.http_addr.or(file.http_addr),
            public_url: match top.public_url {
                Some(url) => Some(check_public_url(&url).map_err(|e| {
                    SettingsError::Value(format!("--public-url (CRONQ_PUBLIC_URL): {e}"))
                })?),
                None => file.public_url,
            },
            api_tokens: top.api_tokens.or(file.api_tokens).unwrap_or_default(),
            lease: match top.lease.or(file.lease) {
                Some(lease) if lease < MIN_LEASE => {
                    return Err(SettingsError::Value(format!(
                        "lease {} is too short: a worker renews it three times per lease; give at least 1s",
                        humantime::format_duration(lease)
                    )));
                }
                lease => lease.unwrap_or(DEFAULT_LEASE),
            },
            stop_grace: top
                .stop_grace
                .or(file.stop_grace)
                .unwrap_or(DEFAULT_STOP_GRACE),
            containment: top.containment.or(file.containment).unwrap_or_default(),
            redis_prefix: match top.redis_prefix.or(file.redis_prefix) {
                Some(prefix) => check_redis_prefix(&prefix).map_err(SettingsError::Value)?,
                None => redis::DEFAULT_PREFIX.to_string(),
            },
            file: path,
        })
    }

    /// Whether a worker of this host serves `queue`.
    pub fn serves(&self, queue: &str) -> bool {
        self.workers
            .as_ref()
            .is_none_or(|workers| workers.iter().any(|w| w.queue == queue))
    }
}

/// Why the `what` file at `path` (one a user named) cannot be read, in a user's words:
/// a directory names the file it may have meant (`example` in it).
pub fn unreadable_file(what: &str, path: &Path, error: &std::io::Error, example: &str) -> String {
    let shown = path.display();
    match error.kind() {
        std::io::ErrorKind::IsADirectory => format!(
            "the {what} file {shown} is a directory; expected a YAML file, such as {}",
            path.join(example).display()
        ),
        std::io::ErrorKind::PermissionDenied => format!(
            "cannot read the {what} file {shown}: permission denied; it must be readable by this user"
        ),
        _ => format!("cannot read the {what} file {shown}: {error}"),
    }
}

fn read_file(path: &Path, env: &dyn Fn(&str) -> Option<String>) -> Result<Layer, SettingsError> {
    let text = std::fs::read_to_string(path).map_err(|source| SettingsError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    parse(&text, &path.display().to_string(), env).map_err(SettingsError::Invalid)
}

/// `--state-dir` unset: `$XDG_STATE_HOME/cronq`, `/var/lib/cronq` for root, else
/// `~/.local/state/cronq`.
fn default_state_dir(env: &dyn Fn(&str) -> Option<String>) -> Result<PathBuf, SettingsError> {
    if let Some(dir) = env("XDG_STATE_HOME").filter(|d| !d.is_empty()) {
        return Ok(PathBuf::from(dir).join("cronq"));
    }
    if nix::unistd::geteuid().is_root() {
        return Ok(PathBuf::from("/var/lib/cronq"));
    }
    match env("HOME").filter(|h| !h.is_empty()) {
        Some(home) => Ok(PathBuf::from(home).join(".local/state/cronq")),
        None => Err(SettingsError::Value(
            "cannot choose a state dir: neither XDG_STATE_HOME nor HOME is set; pass --state-dir DIR or set CRONQ_STATE_DIR".into(),
        )),
    }
}

/// Parses a settings file. `env` answers `${VAR}`.
pub fn parse(
    text: &str,
    file: &str,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Layer, Vec<Diagnostic>> {
    const KEYS: &[&str] = &[
        "schedule",
        "store",
        "redis_prefix",
        "state_dir",
        "workers",
        "log_format",
        "metrics_addr",
        "http_addr",
        "public_url",
        "api_tokens",
        "lease",
        "stop_grace",
        "containment",
    ];
    let mut report = Report::new(file);
    let Some(document) = report.document(text) else {
        return Err(report.diagnostics);
    };
    let mut settings = Layer::default();
    for (key, value) in report.entries(&document, "the settings", KEYS) {
        if key.name == "api_tokens" {
            // Read as written: a token must come from `${VAR}` or a file, never the text.
            let expand = |text: &str| expand(text, env);
            settings.api_tokens = Some(api_tokens::read(&mut report, value, &expand));
            continue;
        }
        let Some(value) = report.read(value, |n| expand_vars(n, env)) else {
            continue;
        };
        match key.name.as_str() {
            "schedule" => {
                settings.schedule = report.read(&value, |n| n.string().map(PathBuf::from))
            }
            "store" => {
                settings.store = report.read(&value, |n| {
                    n.string()
                        .and_then(|url| StoreUrl::parse(&url).map(|_| url))
                })
            }
            "redis_prefix" => {
                settings.redis_prefix =
                    report.read(&value, |n| n.string().and_then(|p| check_redis_prefix(&p)))
            }
            "state_dir" => {
                settings.state_dir = report.read(&value, |n| n.string().map(PathBuf::from))
            }
            "workers" => settings.workers = Some(read_workers(&mut report, &value)),
            "log_format" => {
                settings.log_format = report.read(&value, |n| {
                    n.choice(&[("text", LogFormat::Text), ("json", LogFormat::Json)])
                })
            }
            "metrics_addr" => {
                settings.metrics_addr =
                    report.read(&value, |n| n.string().and_then(|a| parse_addr(&a)))
            }
            "http_addr" => {
                settings.http_addr =
                    report.read(&value, |n| n.string().and_then(|a| parse_addr(&a)))
            }
            "public_url" => {
                settings.public_url =
                    report.read(&value, |n| n.string().and_then(|u| check_public_url(&u)))
            }
            "lease" => settings.lease = report.read(&value, positive_duration),
            "containment" => {
                settings.containment = report.read(&value, |n| {
                    n.choice(&[
                        ("auto", Containment::Auto),
                        ("cgroup", Containment::Cgroup),
                        ("subreaper", Containment::Subreaper),
                    ])
                })
            }
            _ => settings.stop_grace = report.read(&value, Node::duration),
        }
    }
    report.finish().map(|_| settings)
}

/// The dashboard's address: an http(s) URL, kept without a trailing slash.
fn check_public_url(url: &str) -> Result<String, String> {
    let url = url.trim().trim_end_matches('/');
    if (url.starts_with("https://") || url.starts_with("http://"))
        && !url.contains(char::is_whitespace)
    {
        return Ok(url.to_string());
    }
    Err(format!(
        "public_url expects the dashboard's http:// or https:// address, such as https://cron.example.com; found `{url}`"
    ))
}

/// A prefix needs a `{hash tag}` so that cronq's multi-key scripts run on Redis Cluster.
fn check_redis_prefix(prefix: &str) -> Result<String, String> {
    let tagged = prefix
        .split_once('{')
        .is_some_and(|(_, rest)| rest.find('}').is_some_and(|end| end > 0));
    if !tagged {
        return Err(format!(
            "redis_prefix `{prefix}` needs a hash tag such as `{{cronq}}:`, so that every key lands on one Redis Cluster slot"
        ));
    }
    Ok(prefix.to_string())
}

/// `workers: {default: 4, reports: 1}`: queues in priority order, with their counts.
fn read_workers(report: &mut Report, node: &Node) -> Vec<QueueWorkers> {
    let mut workers = Vec::new();
    for (key, value) in report.entries(node, "`workers`", &[]) {
        if let Some(count) = report.read(value, positive_count) {
            workers.push(QueueWorkers {
                queue: key.name.clone(),
                workers: count,
            });
        }
    }
    workers
}

fn positive_duration(node: &Node) -> Result<Duration, String> {
    match node.duration()? {
        duration if duration.is_zero() => Err("the duration must be longer than zero".into()),
        duration => Ok(duration),
    }
}

fn positive_count(node: &Node) -> Result<u32, String> {
    match node.count()? {
        0 => Err("expected at least 1 worker; leave the queue out to serve it nowhere".into()),
        n => Ok(n),
    }
}

/// Replaces `${VAR}` in every string of `node` from the environment; `$$` is a `$`.
fn expand_vars(node: &Node, env: &dyn Fn(&str) -> Option<String>) -> Result<Node, String> {
    let value = match &node.value {
        Value::Str(text) => Value::Str(expand(text, env)?),
        Value::Seq(items) => Value::Seq(
            items
                .iter()
                .map(|n| expand_vars(n, env))
                .collect::<Result<_, _>>()?,
        ),
        Value::Map(entries) => Value::Map(
            entries
                .iter()
                .map(|(k, n)| Ok((k.clone(), expand_vars(n, env)?)))
                .collect::<Result<_, String>>()?,
        ),
        other => other.clone(),
    };
    Ok(Node { at: node.at, value })
}

fn expand(text: &str, env: &dyn Fn(&str) -> Option<String>) -> Result<String, String> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(dollar) = rest.find('$') {
        out.push_str(&rest[..dollar]);
        rest = &rest[dollar..];
        if let Some(after) = rest.strip_prefix("$$") {
            out.push('$');
            rest = after;
        } else if let Some(after) = rest.strip_prefix("${") {
            let end = after
                .find('}')
                .ok_or_else(|| format!("`${{` without a closing `}}` in `{text}`"))?;
            let name = &after[..end];
            let value = env(name).ok_or_else(|| {
                format!("environment variable {name} is not set (used as ${{{name}}})")
            })?;
            out.push_str(&value);
            rest = &after[end + 1..];
        } else {
            out.push('$');
            rest = &rest[1..];
        }
    }
    out.push_str(rest);
    Ok(out)
}

fn parse_addr(text: &str) -> Result<SocketAddr, String> {
    text.parse()
        .map_err(|_| format!("`{text}` is not an address; expected IP:PORT such as 127.0.0.1:9184"))
}

impl StoreUrl {
    /// Opens the store this URL names; Redis keys start with `redis_prefix`.
    pub async fn open(&self, redis_prefix: &str) -> Result<Arc<dyn Store>, StoreError> {
        Ok(match self {
            StoreUrl::Sqlite(path) => Arc::new(SqliteStore::open(path, DEFAULT_OUTPUT_TAIL_BYTES)?),
            StoreUrl::Redis(url) => {
                Arc::new(RedisStore::connect(url, redis_prefix, DEFAULT_OUTPUT_TAIL_BYTES).await?)
            }
        })
    }

    /// Opens the store for a command that only reads it: a SQLite file that is not
    /// there is `NoStore` (nothing is created), and one this user may only read is
    /// opened read-only. Redis opens as for any command.
    pub async fn open_to_read(&self, redis_prefix: &str) -> Result<Arc<dyn Store>, StoreError> {
        match self {
            StoreUrl::Sqlite(path) => Ok(Arc::new(SqliteStore::open_to_read(
                path,
                DEFAULT_OUTPUT_TAIL_BYTES,
            )?)),
            StoreUrl::Redis(_) => self.open(redis_prefix).await,
        }
    }

    /// The URL as listings name the store they read: a SQLite path made absolute, a
    /// Redis password as `***`.
    pub fn shown(&self) -> String {
        match self {
            StoreUrl::Sqlite(path) => format!(
                "sqlite:{}",
                std::path::absolute(path)
                    .unwrap_or_else(|_| path.clone())
                    .display()
            ),
            StoreUrl::Redis(url) => redact(url),
        }
    }

    /// `sqlite:PATH` or a plain path, `redis://…`, `rediss://…` or `redis+sentinel://…`.
    pub fn parse(url: &str) -> Result<StoreUrl, String> {
        if url.starts_with("redis://") || url.starts_with("rediss://") {
            return Ok(StoreUrl::Redis(url.to_string()));
        }
        if url.starts_with("redis+sentinel://") {
            return match redis::SentinelUrl::parse(url) {
                Ok(_) => Ok(StoreUrl::Redis(url.to_string())),
                Err(error) => Err(format!("invalid store URL {}: {error}", redact(url))),
            };
        }
        if url.starts_with("rediss+sentinel://") {
            return Err(format!(
                "`{}`: cronq does not reach Sentinel over TLS yet; use redis+sentinel://",
                redact(url)
            ));
        }
        let path = url.strip_prefix("sqlite:").unwrap_or(url);
        if path.is_empty() || (url.contains("://") && !url.starts_with("sqlite:")) {
            return Err(format!(
                "`{}` is not a store cronq knows; expected sqlite:PATH, a file path, redis://host:port/db, rediss://… or redis+sentinel://host:26379,…/MASTER_NAME",
                redact(url)
            ));
        }
        Ok(StoreUrl::Sqlite(PathBuf::from(path)))
    }
}

impl fmt::Display for StoreUrl {
    /// The URL with any password replaced by `***`, fit for logs and error messages.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StoreUrl::Sqlite(path) => write!(f, "sqlite:{}", path.display()),
            StoreUrl::Redis(url) => f.write_str(&redact(url)),
        }
    }
}

/// `redis://user:secret@host` → `redis://user:***@host`, as the Redis backend words it
/// (a `password=` or `sentinel_password=` in the query is masked too).
fn redact(url: &str) -> String {
    redis::redact(url)
}

/// Whether `args` (the process's own) give `--store` a URL with a password: any user
/// of the host reads it in `ps`, where the environment and the settings file are not
/// shown.
pub fn password_in_args(args: impl IntoIterator<Item = std::ffi::OsString>) -> bool {
    let mut args = args
        .into_iter()
        .map(|arg| arg.to_string_lossy().into_owned());
    let holds_password = |url: &str| redact(url) != url;
    while let Some(arg) = args.next() {
        if arg == "--" {
            return false;
        }
        let url = match arg.strip_prefix("--store") {
            Some("") => args.next(),
            Some(rest) => rest.strip_prefix('=').map(str::to_owned),
            None => None,
        };
        if url.is_some_and(|url| holds_password(&url)) {
            return true;
        }
    }
    false
}

/// Parses `default=4,reports=1`, the form of `--workers` and `CRONQ_WORKERS`.
pub fn parse_workers(text: &str) -> Result<Vec<QueueWorkers>, String> {
    text.split(',')
        .map(|pair| {
            let (queue, count) = pair
                .split_once('=')
                .ok_or_else(|| format!("`{pair}`: expected QUEUE=COUNT, such as default=4"))?;
            let workers = count
                .trim()
                .parse()
                .ok()
                .filter(|n| *n > 0)
                .ok_or_else(|| {
                    format!("`{pair}`: the count must be a whole number of at least 1")
                })?;
            Ok(QueueWorkers {
                queue: queue.trim().to_string(),
                workers,
            })
        })
        .collect()
}

/// The host's time zone: `TZ`, else `/etc/localtime`, else `/etc/timezone`, else UTC.
pub fn host_zone(env: &dyn Fn(&str) -> Option<String>) -> Result<Tz, String> {
    if let Some(tz) = env("TZ").filter(|tz| !tz.is_empty()) {
        // glibc forms: `Europe/Berlin`, `:Europe/Berlin`, `:/usr/share/zoneinfo/Europe/Berlin`.
        let name = tz.trim_start_matches(':');
        let name = name.rsplit_once("zoneinfo/").map_or(name, |(_, zone)| zone);
        return parse_zone(name).map_err(|e| format!("TZ={tz}: {e}"));
    }
    let linked = std::fs::read_link("/etc/localtime")
        .ok()
        .and_then(|target| {
            let target = target.to_string_lossy().into_owned();
            let (_, zone) = target.rsplit_once("zoneinfo/")?;
            zone.parse().ok()
        });
    let named = || {
        let text = std::fs::read_to_string("/etc/timezone").ok()?;
        text.trim().parse().ok()
    };
    Ok(linked.or_else(named).unwrap_or(Tz::UTC))
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn env_of(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let vars: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |name| vars.get(name).cloned()
    }

    #[test]
    fn a_settings_file_with_every_key() {
        let text = "\
schedule: deploy/crontab.yaml
store: redis://cronq:${REDIS_PASSWORD}@redis.internal:6379/0
state_dir: /srv/cronq
workers:
  critical: 2
  default: 4
log_format: json
metrics_addr: 127.0.0.1:9184
containment: subreaper
";
        let file = parse(text, "cronq.yaml", &env_of(&[("REDIS_PASSWORD", "s3cret")])).unwrap();
        assert_eq!(
            file.store.as_deref(),
            Some("redis://cronq:s3cret@redis.internal:6379/0")
        );
        assert_eq!(file.schedule, Some(PathBuf::from("deploy/crontab.yaml")));
        let workers = file.workers.unwrap();
        assert_eq!(
            workers[0],
            QueueWorkers {
                queue: "critical".into(),
                workers: 2
            }
        );
        assert_eq!(workers[1].queue, "default");
        assert_eq!(file.log_format, Some(LogFormat::Json));
        assert_eq!(file.metrics_addr, Some("127.0.0.1:9184".parse().unwrap()));
        assert_eq!(file.containment, Some(Containment::Subreaper));
    }

    #[test]
    fn a_missing_variable_and_unknown_keys_are_located_errors() {
        let text = "store: redis://:${REDIS_PASSWORD}@host/0\nworkerz: 3\nlog_format: xml\nworkers: {default: 0}\ncontainment: jail\n";
        let errors: Vec<String> = parse(text, "cronq.yaml", &env_of(&[]))
            .unwrap_err()
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(
            errors,
            [
                "cronq.yaml:1:8: environment variable REDIS_PASSWORD is not set (used as ${REDIS_PASSWORD})",
                "cronq.yaml:2:1: unknown key `workerz` in the settings; did you mean `workers`?",
                "cronq.yaml:3:13: `xml` is not one of text, json",
                "cronq.yaml:4:20: expected at least 1 worker; leave the queue out to serve it nowhere",
                "cronq.yaml:5:14: `jail` is not one of auto, cgroup, subreaper",
            ]
        );
    }

    #[test]
    fn public_url_is_an_http_address_without_its_trailing_slash() {
        let file = parse(
            "public_url: https://cron.example.com/\n",
            "c.yaml",
            &env_of(&[]),
        );
        assert_eq!(
            file.unwrap().public_url.as_deref(),
            Some("https://cron.example.com")
        );
        let errors = parse("public_url: cron.example.com\n", "c.yaml", &env_of(&[])).unwrap_err();
        assert_eq!(
            errors[0].to_string(),
            "c.yaml:1:13: public_url expects the dashboard's http:// or https:// address, such as https://cron.example.com; found `cron.example.com`"
        );
        let flag = Overrides {
            layer: Layer {
                public_url: Some("ftp://x".into()),
                ..Layer::default()
            },
            ..Overrides::default()
        };
        let refused = Settings::resolve(flag, &env_of(&[("HOME", "/h")])).unwrap_err();
        assert!(
            refused
                .to_string()
                .starts_with("--public-url (CRONQ_PUBLIC_URL): public_url expects"),
            "{refused}"
        );
    }

    #[test]
    fn dollar_dollar_is_a_literal_dollar() {
        let env = env_of(&[("A", "x")]);
        assert_eq!(expand("p$$w${A}$", &env).unwrap(), "p$wx$");
    }

    #[test]
    fn flags_beat_the_file_and_defaults_fill_the_rest() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cronq.yaml");
        std::fs::write(
            &path,
            "store: sqlite:/from/file.db\nstate_dir: /from/file\nlog_format: json\n",
        )
        .unwrap();
        let overrides = Overrides {
            settings: Some(path.clone()),
            layer: Layer {
                store: Some("redis://127.0.0.1:6379/0".into()),
                ..Layer::default()
            },
        };
        let settings = Settings::resolve(overrides, &env_of(&[])).unwrap();
        assert_eq!(
            settings.store,
            StoreUrl::Redis("redis://127.0.0.1:6379/0".into())
        );
        assert_eq!(settings.state_dir, PathBuf::from("/from/file"));
        assert_eq!(settings.log_format, LogFormat::Json);
        assert_eq!(settings.containment, Containment::Auto, "the default");
        assert_eq!(settings.schedule.0, PathBuf::from("crontab.yaml"));
        assert!(
            settings.serves("anything"),
            "no workers set: every queue is served"
        );

        let bare = Overrides {
            settings: Some(dir.path().join("missing.yaml")),
            layer: Layer::default(),
        };
        assert!(matches!(
            Settings::resolve(bare, &env_of(&[])),
            Err(SettingsError::Read { .. })
        ));
    }

    #[test]
    fn the_embedded_store_defaults_into_the_state_dir() {
        let overrides = Overrides::default();
        let settings =
            Settings::resolve(overrides, &env_of(&[("XDG_STATE_HOME", "/x/state")])).unwrap();
        assert_eq!(settings.state_dir, PathBuf::from("/x/state/cronq"));
        assert_eq!(
            settings.store,
            StoreUrl::Sqlite(PathBuf::from("/x/state/cronq/cronq.db"))
        );
    }

    #[test]
    fn a_password_on_the_command_line_is_found() {
        let args = |list: &[&str]| {
            list.iter()
                .map(std::ffi::OsString::from)
                .collect::<Vec<_>>()
        };
        for with in [
            &["cronq", "--store", "redis://:s3cret@h:6379/0", "daemon"][..],
            &["cronq", "daemon", "--store=redis://u:s3cret@h/0"],
            &["cronq", "status", "--store", "redis://h/0?password=s3cret"],
        ] {
            assert!(password_in_args(args(with)), "{with:?}");
        }
        for without in [
            &["cronq", "--store", "redis://h:6379/0", "daemon"][..],
            &["cronq", "--store", "sqlite:/tmp/a:b@c"],
            &["cronq", "--storex", "redis://:s3cret@h"],
            &["cronq", "run", "job", "--", "--store", "redis://:s3cret@h"],
            &["cronq", "--store"],
        ] {
            assert!(!password_in_args(args(without)), "{without:?}");
        }
    }

    #[test]
    fn store_urls_parse_and_print_without_their_password() {
        assert_eq!(
            StoreUrl::parse("sqlite:/a/b.db"),
            Ok(StoreUrl::Sqlite("/a/b.db".into()))
        );
        assert_eq!(
            StoreUrl::parse("./c.db"),
            Ok(StoreUrl::Sqlite("./c.db".into()))
        );
        let redis = StoreUrl::parse("rediss://app:hunter2@cache:6380/1").unwrap();
        assert_eq!(redis.to_string(), "rediss://app:***@cache:6380/1");
        // As listings name the store they read: no password, and an absolute path.
        assert_eq!(redis.shown(), "rediss://app:***@cache:6380/1");
        let relative = StoreUrl::parse("sqlite:state/cronq.db").unwrap().shown();
        let cwd = std::env::current_dir().unwrap();
        assert_eq!(
            relative,
            format!("sqlite:{}", cwd.join("state/cronq.db").display())
        );
        assert_eq!(
            StoreUrl::parse("redis://cache/0").unwrap().to_string(),
            "redis://cache/0"
        );
        let sentinel = StoreUrl::parse(
            "redis+sentinel://:pw1@s1:26379,s2:26379/orders/2?sentinel_password=pw2",
        )
        .unwrap();
        assert_eq!(
            sentinel.to_string(),
            "redis+sentinel://:***@s1:26379,s2:26379/orders/2?sentinel_password=***"
        );
        let error = StoreUrl::parse("redis+sentinel://:pw1@s1:26379").unwrap_err();
        assert!(
            error.contains("names no master") && !error.contains("pw1"),
            "{error}"
        );
        let error = StoreUrl::parse("rediss+sentinel://:pw1@s1/m").unwrap_err();
        assert!(
            error.contains("not reach Sentinel over TLS") && !error.contains("pw1"),
            "{error}"
        );
        let error = StoreUrl::parse("postgres://u:pw@db/x").unwrap_err();
        assert!(
            error.contains("postgres://u:***@db/x") && !error.contains("pw"),
            "{error}"
        );
    }

    #[test]
    fn a_redis_prefix_needs_a_hash_tag() {
        assert_eq!(check_redis_prefix("{app1}:").unwrap(), "{app1}:");
        assert!(
            check_redis_prefix("app1:")
                .unwrap_err()
                .contains("hash tag")
        );
        assert!(check_redis_prefix("{}:").is_err());
        let settings = Settings::resolve(Overrides::default(), &env_of(&[("HOME", "/h")])).unwrap();
        assert_eq!(settings.redis_prefix, "{cronq}:");
    }

    #[test]
    fn workers_flag_form() {
        let workers = parse_workers("default=4, reports=1").unwrap();
        assert_eq!(workers.len(), 2);
        assert_eq!(
            workers[1],
            QueueWorkers {
                queue: "reports".into(),
                workers: 1
            }
        );
        assert!(
            parse_workers("default")
                .unwrap_err()
                .contains("QUEUE=COUNT")
        );
        assert!(parse_workers("default=0").is_err());
    }

    #[test]
    fn the_host_zone_comes_from_tz_first() {
        let zone = |tz: &str| host_zone(&env_of(&[("TZ", tz)]));
        assert_eq!(zone("Europe/Berlin"), Ok(chrono_tz::Europe::Berlin));
        assert_eq!(zone(":America/New_York"), Ok(chrono_tz::America::New_York));
        assert_eq!(
            zone(":/usr/share/zoneinfo/Asia/Tokyo"),
            Ok(chrono_tz::Asia::Tokyo)
        );
        assert!(
            zone("Mars/Olympus")
                .unwrap_err()
                .starts_with("TZ=Mars/Olympus: unknown time zone")
        );
    }
}
