//! What a notification says: the JSON payload, Slack's text and the mail, built from
//! the run and its output alone. Plain code without I/O.

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use crate::report::run_json;
use crate::store::Run;

/// The lines of output a message carries: the last ones.
pub const TAIL_LINES: usize = 20;

/// One message: an event of one run of a job.
#[derive(Clone, Debug)]
pub struct Message {
    pub job: String,
    /// `failing`, `recovered` or `every_failure`.
    pub event: &'static str,
    /// A repeat of `failing` by `remind`.
    pub reminder: bool,
    pub run: Run,
    /// The last [`TAIL_LINES`] lines of the run's output.
    pub output_tail: Vec<String>,
}

impl Message {
    /// The webhook's body, also the command's stdin.
    pub fn json(&self, now: DateTime<Utc>) -> Value {
        json!({
            "job": self.job,
            "event": self.event,
            "reminder": self.reminder,
            "run": run_json(&self.run, now, None),
            "output_tail": self.output_tail,
        })
    }

    /// One line a person reads first: what happened to which job.
    pub fn headline(&self) -> String {
        let run = &self.run;
        let how = match (run.exit_code, run.signal) {
            (Some(code), _) => format!(", exit code {code}"),
            (None, Some(signal)) => format!(", signal {signal}"),
            _ => String::new(),
        };
        let still = if self.reminder { "still " } else { "" };
        match self.event {
            "recovered" => format!(
                "cronq: job {} recovered (run {} succeeded)",
                self.job, run.id
            ),
            _ => format!(
                "cronq: job {} is {still}failing (run {} {}{how})",
                self.job, run.id, run.status
            ),
        }
    }

    /// The headline, the reason and the output's tail, as text.
    pub fn text(&self) -> String {
        let mut text = self.headline();
        if let Some(reason) = &self.run.reason {
            text.push_str(&format!("\n{reason}"));
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
}
