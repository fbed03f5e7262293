//! What a notification says: the JSON payload, Slack's text and the mail, built from
//! the notice, its run and its output alone. Plain code without I/O.

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use crate::report::run_json;
use crate::store::Run;

/// The lines of output a message carries: the last ones.
pub const TAIL_LINES: usize = 20;

/// One message: an event of a job, most about one run.
#[derive(Clone, Debug)]
pub struct Message {
    pub job: String,
    /// `failing`, `recovered`, `every_failure`, `stalled`, `overdue` or `skipped`.
    pub event: &'static str,
    /// A repeat of `failing` by `remind`.
    pub reminder: bool,
    /// The run it is about; `stalled` has none.
    pub run: Option<Run>,
    /// What the event says beyond the run: the instant a stall expected, how long an
    /// overdue run has taken, what was skipped.
    pub detail: Option<String>,
    /// The last [`TAIL_LINES`] lines of the run's output.
    pub output_tail: Vec<String>,
    /// The dashboard's page of the run, when `public_url` is set.
    pub link: Option<String>,
}

/// The dashboard's page of run `id` under `public_url`.
pub fn run_link(public_url: &str, id: &str) -> String {
    format!("{}/runs/{id}", public_url.trim_end_matches('/'))
}

impl Message {
    /// The webhook's body, also the command's stdin.
    pub fn json(&self, now: DateTime<Utc>) -> Value {
        let mut body = json!({
            "job": self.job,
            "event": self.event,
            "reminder": self.reminder,
            "run": self.run.as_ref().map(|run| run_json(run, now, None)),
            "output_tail": self.output_tail,
            "detail": self.detail,
        });
        if let Some(link) = &self.link {
            body["link"] = json!(link);
        }
        body
    }

    /// One line a person reads first: what happened to which job.
    pub fn headline(&self) -> String {
        let job = &self.job;
        let detail = self.detail.as_deref().unwrap_or_default();
        let Some(run) = &self.run else {
            return match self.event {
                "stalled" => format!("cronq: job {job} is stalled: {detail}"),
                event => format!("cronq: job {job}: {event}"),
            };
        };
        let how = match (run.exit_code, run.signal) {
            (Some(code), _) => format!(", exit code {code}"),
            (None, Some(signal)) => format!(", signal {signal}"),
            _ => String::new(),
        };
        let still = if self.reminder { "still " } else { "" };
        match self.event {
            "recovered" => format!("cronq: job {job} recovered (run {} succeeded)", run.id),
            "overdue" => format!("cronq: run {} of job {job} is overdue: {detail}", run.id),
            "skipped" => format!(
                "cronq: job {job} skipped an instant (run {}): {detail}",
                run.id
            ),
            _ => format!(
                "cronq: job {job} is {still}failing (run {} {}{how})",
                run.id, run.status
            ),
        }
    }

    /// The headline, the reason, the link and the output's tail, as text.
    pub fn text(&self) -> String {
        let mut text = self.headline();
        if let Some(reason) = self.run.as_ref().and_then(|run| run.reason.as_ref())
            && self.event != "skipped"
        {
            text.push_str(&format!("\n{reason}"));
        }
        if let Some(link) = &self.link {
            text.push_str(&format!("\n{link}"));
        }
        if !self.output_tail.is_empty() {
            text.push_str("\n\n");
            text.push_str(&self.output_tail.join("\n"));
        }
        text
    }

    /// Slack's incoming webhook body.
    pub fn slack(&self) -> Value {
        json!({ "text": self.text() })
    }

    /// A mail for `sendmail -t` to `to`.
    pub fn mail(&self, to: &str) -> String {
        // A header holds no line break: a job name or id could not add a header.
        let subject = self.headline().replace(['\r', '\n'], " ");
        format!(
            "To: {to}\nSubject: {subject}\nContent-Type: text/plain; charset=utf-8\n\n{}\n",
            self.text()
        )
    }
}

/// The last `TAIL_LINES` lines of `bytes`, without the final newline.
pub fn tail_lines(bytes: &[u8]) -> Vec<String> {
    let text = String::from_utf8_lossy(bytes);
    let lines: Vec<&str> = text.trim_end_matches('\n').split('\n').collect();
    if lines == [""] {
        return Vec::new();
    }
    let skip = lines.len().saturating_sub(TAIL_LINES);
    lines[skip..].iter().map(|line| line.to_string()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tail_is_the_last_twenty_lines() {
        let text: String = (1..=30).map(|n| format!("line {n}\n")).collect();
        let tail = tail_lines(text.as_bytes());
        assert_eq!(tail.len(), 20);
        assert_eq!(tail.first().unwrap(), "line 11");
        assert_eq!(tail.last().unwrap(), "line 30");
        assert!(tail_lines(b"").is_empty());
        assert_eq!(tail_lines(b"no newline"), ["no newline"]);
    }

    #[test]
    fn a_stall_has_no_run_and_a_link_is_in_the_text() {
        let stalled = Message {
            job: "tick".into(),
            event: "stalled",
            reminder: false,
            run: None,
            detail: Some("expected a fire at 2026-12-06T10:00:00Z, and none came".into()),
            output_tail: Vec::new(),
            link: None,
        };
        assert_eq!(
            stalled.headline(),
            "cronq: job tick is stalled: expected a fire at 2026-12-06T10:00:00Z, and none came"
        );
        let body = stalled.json(Utc::now());
        assert!(body["run"].is_null());
        assert!(body.get("link").is_none(), "no link without public_url");
        assert_eq!(
            run_link("https://cron.example/", "01J"),
            "https://cron.example/runs/01J"
        );
        let linked = Message {
            link: Some(run_link("https://cron.example", "01J")),
            ..stalled
        };
        assert!(linked.text().contains("\nhttps://cron.example/runs/01J"));
        assert_eq!(
            linked.json(Utc::now())["link"],
            "https://cron.example/runs/01J"
        );
    }
}
