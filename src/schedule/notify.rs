//! The `notify:` key of a job (or of `defaults:`): who hears of what, read with the
//! position of every value. A target's address may hold `${VAR}`, read from the
//! environment of the process that sends, so secrets stay out of the file.

use super::diagnostic::Report;
use super::job::Command;
use super::node::{Node, Value};

/// One entry of `notify:`: where a message goes and for which events.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct NotifyTarget {
    pub to: Target,
    /// Never empty.
    pub on: Vec<NotifyEvent>,
}

/// Where a message goes.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Target {
    /// A JSON POST to this URL.
    Webhook(String),
    /// A Slack-compatible incoming webhook: `{"text": ...}`.
    Slack(String),
    /// A program run with the JSON on its stdin and `CRONQ_*` in its environment.
    Command(Command),
    /// A mail through the host's `sendmail -t`.
    Email(String),
}

/// What a target may ask to hear of.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum NotifyEvent {
    /// A run failed, timed out or was lost while the job was healthy; repeated by
    /// `remind` while the job stays failing.
    Failing,
    /// The first success after `failing`.
    Recovered,
    /// Every last attempt that failed, timed out or was lost, as cron's MAILTO did.
    EveryFailure,
    /// The watchdog: an instant the job expected passed without a fire; once per stall.
    Stalled,
    /// A run past twice its job's median duration, or at 90 % of its `timeout`; once
    /// per run.
    Overdue,
    /// `concurrency: forbid` or a pause skipped an instant; coalesced (see the README).
    Skipped,
}

impl NotifyEvent {
    pub const CHOICES: &[(&str, NotifyEvent)] = &[
        ("failing", NotifyEvent::Failing),
        ("recovered", NotifyEvent::Recovered),
        ("every_failure", NotifyEvent::EveryFailure),
        ("stalled", NotifyEvent::Stalled),
        ("overdue", NotifyEvent::Overdue),
        ("skipped", NotifyEvent::Skipped),
    ];

    /// The event named `word`, as a notice of the outbox names it.
    pub fn parse(word: &str) -> Option<NotifyEvent> {
        Self::CHOICES
            .iter()
            .find(|(name, _)| *name == word)
            .map(|(_, event)| *event)
    }

    pub fn as_str(self) -> &'static str {
        Self::CHOICES
            .iter()
            .find(|(_, event)| *event == self)
            .map_or("failing", |(word, _)| word)
    }
}

/// The events a target hears of when it names none.
const DEFAULT_EVENTS: [NotifyEvent; 2] = [NotifyEvent::Failing, NotifyEvent::Recovered];
const TARGET_KEYS: &[&str] = &["webhook", "slack", "command", "email", "on"];

/// `notify: [{webhook: URL, on: [failing]}, ...]`; every problem reported at its place.
pub fn read_notify(report: &mut Report, node: &Node, what: &str) -> Option<Vec<NotifyTarget>> {
    let Value::Seq(items) = &node.value else {
        report.error(
            node.at,
            format!(
                "`notify` expects a list of targets, such as [{{webhook: URL, on: [failing]}}]; found {}",
                node.value.kind()
            ),
        );
        return None;
    };
    let mut targets = Vec::with_capacity(items.len());
    let mut ok = true;
    for item in items {
        match read_target(report, item, what) {
            Some(target) => targets.push(target),
            None => ok = false,
        }
    }
    ok.then_some(targets)
}

fn read_target(report: &mut Report, node: &Node, what: &str) -> Option<NotifyTarget> {
    if !matches!(node.value, Value::Map(_)) {
        report.error(
            node.at,
            format!(
                "a target of `notify` is a mapping with one of webhook, slack, command or email; found {}",
                node.value.kind()
            ),
        );
        return None;
    }
    let entries = report.entries(node, &format!("a `notify` target of {what}"), TARGET_KEYS);
    let mut to = None;
    let mut on = Some(DEFAULT_EVENTS.to_vec());
    let mut kinds = 0;
    for (key, value) in entries {
        let read = match key.name.as_str() {
            "on" => {
                on = read_events(report, value);
                continue;
            }
            "webhook" => report
                .read(value, |n| url(n, "webhook"))
                .map(Target::Webhook),
            "slack" => report.read(value, |n| url(n, "slack")).map(Target::Slack),
            "email" => report.read(value, address).map(Target::Email),
            _ => report
                .read(value, |n| super::load::read_command(n, "command"))
                .map(Target::Command),
        };
        kinds += 1;
        if kinds > 1 {
            report.error(
                key.at,
                "a `notify` target has one of webhook, slack, command or email; make another entry for this one",
            );
            return None;
        }
        to = Some(read?);
    }
    if kinds == 0 {
        report.error(
            node.at,
            "a `notify` target needs one of webhook, slack, command or email",
        );
    }
    Some(NotifyTarget { to: to?, on: on? })
}

fn read_events(report: &mut Report, node: &Node) -> Option<Vec<NotifyEvent>> {
    let Value::Seq(items) = &node.value else {
        report.error(
            node.at,
            format!(
                "`on` expects a list of events, such as [failing, recovered]; found {}",
                node.value.kind()
            ),
        );
        return None;
    };
    if items.is_empty() {
        report.error(
            node.at,
            "`on` names no event; expected failing, recovered, every_failure, stalled, overdue or skipped",
        );
        return None;
    }
    let mut events = Vec::with_capacity(items.len());
    let mut ok = true;
    for item in items {
        let event = report.read(item, |item| item.choice(NotifyEvent::CHOICES));
        match event {
            Some(event) if !events.contains(&event) => events.push(event),
            Some(_) => {}
            None => ok = false,
        }
    }
    ok.then_some(events)
}

/// An http(s) URL, or text with `${VAR}` that becomes one where it is sent.
pub(super) fn url(node: &Node, key: &str) -> Result<String, String> {
    let text = node.string()?;
    let text = text.trim();
    if text.contains("${") || text.starts_with("https://") || text.starts_with("http://") {
        return Ok(text.to_string());
    }
    Err(format!(
        "`{key}` expects an http:// or https:// URL, or ${{VAR}} to read one from the environment; found `{text}`"
    ))
}

/// A mail address, or several separated by commas: `ops@example.com`, or a local user
/// such as `root`, as cron's MAILTO took them; or `${VAR}`.
fn address(node: &Node) -> Result<String, String> {
    let text = node.string()?;
    let text = text.trim();
    let plausible = |one: &str| {
        let one = one.trim();
        !one.is_empty()
            && !one.starts_with('@')
            && !one.ends_with('@')
            && !one.contains(|c: char| c.is_whitespace() || c.is_control())
    };
    if text.contains("${") || (!text.is_empty() && text.split(',').all(plausible)) {
        return Ok(text.to_string());
    }
    Err(format!(
        "`email` expects mail addresses such as ops@example.com, separated by commas, or ${{VAR}}; found `{text}`"
    ))
}
