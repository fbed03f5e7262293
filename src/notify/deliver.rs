//! Sending one message to one target: a POST for webhooks and Slack, a program for
//! `command`, `sendmail -t` for email. Each try has a time limit; a target that fails
//! is tried again with a doubling pause for up to ten minutes, then logged once.

use std::process::Stdio;
use std::sync::OnceLock;
use std::time::Duration;

use tokio::io::AsyncWriteExt;
use tokio::time::{Instant, timeout};

use super::message::Message;
use crate::schedule::{Command, Target};
use crate::store::Run;

/// How long one try may take.
const TRY_LIMIT: Duration = Duration::from_secs(10);
/// The pause after the first failed try; it doubles after each...
const FIRST_PAUSE: Duration = Duration::from_secs(1);
/// ...up to this.
const MAX_PAUSE: Duration = Duration::from_secs(60);
/// No try starts this long after the first.
const GIVE_UP_AFTER: Duration = Duration::from_secs(10 * 60);

/// Sends `message` to `target`, trying again until it is taken or ten minutes passed;
/// `failed` hears of the first failed try. The error of the last try when none took it.
pub async fn deliver(
    target: &Target,
    message: &Message,
    failed: impl FnOnce(&str),
) -> Result<(), String> {
    let first = Instant::now();
    let mut pause = FIRST_PAUSE;
    let mut tries = 0;
    let mut failed = Some(failed);
    let name = target_name(target);
    loop {
        tries += 1;
        let sent = match timeout(TRY_LIMIT, send(target, message)).await {
            Ok(sent) => sent,
            Err(_) => Err(format!("no answer within {}s", TRY_LIMIT.as_secs())),
        };
        let error = match sent {
            Ok(()) => {
                tracing::info!(job = %message.job, event = message.event, target = %name, "notification sent");
                return Ok(());
            }
            Err(error) => error,
        };
        if let Some(failed) = failed.take() {
            failed(&error);
            tracing::info!(job = %message.job, event = message.event, target = %name, %error, "a notification was not taken; trying again");
        }
        if first.elapsed() + pause >= GIVE_UP_AFTER {
            tracing::warn!(
                job = %message.job,
                event = message.event,
                target = %name,
                tries,
                %error,
                "a notification was not delivered; tried for ten minutes",
            );
            return Err(error);
        }
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(MAX_PAUSE);
    }
}

/// A target as `status` and the log name it: its kind and host (the program of a
/// `command`, the domains of an `email`), never a URL's path, which may be a secret.
pub fn target_name(target: &Target) -> String {
    let host = |url: &str| match expand(url).map(|url| reqwest::Url::parse(&url)) {
        Ok(Ok(url)) => url.host_str().unwrap_or_default().to_string(),
        _ => "(an address that does not parse)".into(),
    };
    match target {
        Target::Webhook(url) => format!("webhook {}", host(url)),
        Target::Slack(url) => format!("slack {}", host(url)),
        Target::Command(Command::Argv(argv)) => format!("command {}", argv[0]),
        Target::Command(Command::Shell(_)) => "command /bin/sh".into(),
        Target::Email(to) => {
            let domains: Vec<&str> = to
                .split(',')
                .map(|one| one.trim().rsplit_once('@').map_or("localhost", |(_, d)| d))
                .collect();
            format!("email {}", domains.join(","))
        }
    }
}

async fn send(target: &Target, message: &Message) -> Result<(), String> {
    let now = chrono::Utc::now();
    match target {
        Target::Webhook(url) => post(&expand(url)?, &message.json(now)).await,
        Target::Slack(url) => post(&expand(url)?, &message.slack()).await,
        Target::Command(command) => {
            let body = message.json(now).to_string();
            run(command, body.into_bytes(), env(message)).await
        }
        Target::Email(to) => {
            let mail = message.mail(&expand(to)?);
            let sendmail = Command::Argv(vec!["sendmail".into(), "-t".into()]);
            run(&sendmail, mail.into_bytes(), Vec::new()).await
        }
    }
}

/// The one HTTP client of the process, with rustls (no OpenSSL).
pub(super) fn client() -> Result<&'static reqwest::Client, String> {
    static CLIENT: OnceLock<Result<reqwest::Client, String>> = OnceLock::new();
    CLIENT
        .get_or_init(|| {
            reqwest::Client::builder()
                .timeout(TRY_LIMIT)
                .user_agent(concat!("cronq/", env!("CARGO_PKG_VERSION")))
                .build()
                .map_err(|e| format!("cannot make an HTTP client: {e}"))
        })
        .as_ref()
        .map_err(Clone::clone)
}

async fn post(url: &str, body: &serde_json::Value) -> Result<(), String> {
    let response = client()?
        .post(url)
        .json(body)
        .send()
        .await
        .map_err(|e| format!("POST {}: {e}", redact(url)))?;
    let status = response.status();
    if status.is_success() {
        Ok(())
    } else {
        Err(format!("POST {} answered {status}", redact(url)))
    }
}

/// A URL as the log shows it: its path may be a secret (Slack's is), so only the host.
pub(super) fn redact(url: &str) -> String {
    match reqwest::Url::parse(url) {
        Ok(url) => format!("{}://{}/…", url.scheme(), url.host_str().unwrap_or("")),
        Err(_) => "a URL that does not parse".into(),
    }
}

/// The `CRONQ_*` variables a `command` target gets; the run's are empty without one.
fn env(message: &Message) -> Vec<(String, String)> {
    let run = message.run.as_ref();
    let text = |value: Option<i32>| value.map(|v| v.to_string()).unwrap_or_default();
    let of = |part: fn(&Run) -> String| run.map(part).unwrap_or_default();
    [
        ("CRONQ_EVENT", message.event.to_string()),
        ("CRONQ_REMINDER", message.reminder.to_string()),
        ("CRONQ_JOB", message.job.clone()),
        ("CRONQ_RUN_ID", of(|run| run.id.clone())),
        ("CRONQ_STATUS", of(|run| run.status.to_string())),
        ("CRONQ_EXIT_CODE", text(run.and_then(|run| run.exit_code))),
        ("CRONQ_SIGNAL", text(run.and_then(|run| run.signal))),
        ("CRONQ_ATTEMPT", of(|run| run.attempt.to_string())),
        (
            "CRONQ_REASON",
            of(|run| run.reason.clone().unwrap_or_default()),
        ),
        ("CRONQ_DETAIL", message.detail.clone().unwrap_or_default()),
        ("CRONQ_LINK", message.link.clone().unwrap_or_default()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect()
}

/// Runs `command` with `stdin` written to it: taken when it exits 0.
async fn run(command: &Command, stdin: Vec<u8>, env: Vec<(String, String)>) -> Result<(), String> {
    let mut process = match command {
        Command::Argv(argv) => {
            let mut process = tokio::process::Command::new(&argv[0]);
            process.args(&argv[1..]);
            process
        }
        Command::Shell(line) => {
            let mut process = tokio::process::Command::new("/bin/sh");
            process.arg("-c").arg(line);
            process
        }
    };
    process
        .envs(env)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let program = match command {
        Command::Argv(argv) => argv[0].clone(),
        Command::Shell(_) => "/bin/sh".into(),
    };
    // A worker in this process reaps orphans it finds dead: registered, this child's
    // status stays ours.
    let (mut child, _registered) = crate::worker::start_waited_child(|| {
        process
            .spawn()
            .map_err(|e| format!("cannot start {program}: {e}"))
    })?;
    if let Some(mut pipe) = child.stdin.take() {
        // A program that reads none of it is no failure: its exit status says.
        let _ = pipe.write_all(&stdin).await;
    }
    let output = child
        .wait_with_output()
        .await
        .map_err(|e| format!("cannot wait for {program}: {e}"))?;
    if output.status.success() {
        return Ok(());
    }
    let stderr = String::from_utf8_lossy(&output.stderr);
    Err(format!(
        "{program} ended with {}: {}",
        output.status,
        stderr.trim_end().chars().take(500).collect::<String>()
    ))
}

/// `${VAR}` in a target's address, read from this process's environment.
pub fn expand(text: &str) -> Result<String, String> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let end = after
            .find('}')
            .ok_or_else(|| format!("`{text}` opens ${{ without closing it"))?;
        let name = &after[..end];
        let value = std::env::var(name)
            .map_err(|_| format!("the variable {name} named by a notify target is not set"))?;
        out.push_str(&value);
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn variables_are_expanded_and_a_missing_one_is_named() {
        // PATH is set in every test environment.
        let path = std::env::var("PATH").unwrap();
        assert_eq!(expand("a${PATH}b").unwrap(), format!("a{path}b"));
        assert_eq!(expand("plain").unwrap(), "plain");
        let missing = expand("${CRONQ_SURELY_UNSET_VARIABLE}").unwrap_err();
        assert!(missing.contains("CRONQ_SURELY_UNSET_VARIABLE"), "{missing}");
        assert!(expand("${OPEN").is_err());
    }

    #[test]
    fn a_target_is_named_by_its_kind_and_host() {
        let slack = Target::Slack("https://hooks.slack.com/services/T0/B0/secret".into());
        assert_eq!(target_name(&slack), "slack hooks.slack.com");
        let mail = Target::Email("ops@example.com, root".into());
        assert_eq!(target_name(&mail), "email example.com,localhost");
    }

    #[test]
    fn a_logged_url_shows_its_host_only() {
        assert_eq!(
            redact("https://hooks.slack.com/services/T0/B0/secret"),
            "https://hooks.slack.com/…"
        );
    }
}
