//! `cronq rules`: Prometheus alerting rules for a schedule, over the families of
//! `/metrics`: a job that has not succeeded within its interval plus a grace, a job
//! failing several times in a row, a queue whose oldest run waits too long, and no live
//! daemon. Plain text out of the schedule; nothing here reads the store.
//!
//! Every process that serves `/metrics` gives the same cluster figures, so the rules
//! take the `max` of those across targets, and `sum` the per-process counters.

use std::fmt::Write;
use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::cron::Timing;
use crate::schedule::{Job, Schedule};

/// The instants looked at for a job's interval: its longest gap among them.
const INTERVAL_FIRES: usize = 64;
/// The shortest window a failure rule counts over: a few scrapes at any interval.
const MIN_WINDOW: Duration = Duration::from_secs(5 * 60);

/// The statuses that count as failures, as `history --failed` has them.
const FAILED: &str = "failed|timed_out|lost";

/// What the rules allow before they alert.
#[derive(Clone, Debug)]
pub struct RuleLimits {
    /// Beyond a job's interval, before it counts as not having succeeded.
    pub grace: Duration,
    /// Failures in a row (with no success among them) that make a job failing.
    pub failures: u32,
    /// How long the oldest due run of a queue may wait to be taken.
    pub queue_wait: Duration,
    /// What the failure rule of a job run only by hand counts over.
    pub manual_window: Duration,
    /// How long a condition holds before the alert fires (the rules' `for`).
    pub hold: Duration,
}

/// The rules file for `schedule`, whose intervals are measured from `now`.
pub fn alerting_rules(
    schedule: &Schedule,
    file: &str,
    limits: &RuleLimits,
    now: DateTime<Utc>,
) -> String {
    let mut out = String::new();
    // `for:` takes a Prometheus duration; whole seconds are one.
    let hold = &format!("{}s", limits.hold.as_secs());
    let _ = writeln!(
        out,
        "# Prometheus alerting rules for {file} (schedule hash {}), written by `cronq rules`.",
        schedule.hash
    );
    out.push_str(
        "# Write it again when the schedule changes: each job's limits come from its interval.\n",
    );
    out.push_str("groups:\n  - name: cronq\n    rules:\n");
    rule(
        &mut out,
        "CronqNoLiveDaemon",
        "absent(cronq_daemons)",
        Said {
            hold,
            severity: "critical",
            cronjob: None,
            summary: "No cronq daemon is live (or no cronq process is scraped): no job fires",
        },
    );
    let waited = format!(
        "Queue {{{{ $labels.queue }}}}: a due run has waited over {} to be taken",
        human(limits.queue_wait)
    );
    rule(
        &mut out,
        "CronqQueueWaiting",
        &format!(
            "max by (queue) (cronq_queue_oldest_seconds) > {}",
            limits.queue_wait.as_secs()
        ),
        Said {
            hold,
            severity: "warning",
            cronjob: None,
            summary: &waited,
        },
    );
    out.push_str("  - name: cronq-jobs\n    rules:\n");
    for job in &schedule.jobs {
        job_rules(&mut out, job, limits, now);
    }
    out
}

/// A job's rules: not succeeded within its interval and the grace (for a job with
/// instants), and failing.
fn job_rules(out: &mut String, job: &Job, limits: &RuleLimits, now: DateTime<Utc>) {
    let name = job.name.as_str();
    let selector = format!("cronjob={}", label_value(name));
    let interval = interval(job, now);
    if let Some(interval) = interval {
        let limit = interval + limits.grace;
        let summary = format!(
            "Job {name} has not succeeded for over {} (its interval {} plus {})",
            human(limit),
            human(interval),
            human(limits.grace)
        );
        rule(
            out,
            "CronqJobNotSucceeded",
            &format!(
                "time() - max by (cronjob) (cronq_last_success_timestamp_seconds{{{selector}}}) > {} \
                 unless on (cronjob) max by (cronjob) (cronq_job_paused{{{selector}}}) == 1",
                limit.as_secs()
            ),
            // The grace is the wait: nothing more to hold.
            Said {
                hold: "0s",
                severity: "warning",
                cronjob: Some(name),
                summary: &summary,
            },
        );
    }
    // N runs take N intervals; a job run by hand has none to go by.
    let window = match interval {
        Some(interval) => (interval * limits.failures + limits.grace).max(MIN_WINDOW),
        None => limits.manual_window,
    };
    let count = |status: &str| {
        format!(
            "sum by (cronjob) (increase(cronq_runs_total{{{selector},status=~\"{status}\"}}[{}s]))",
            window.as_secs()
        )
    };
    let summary = format!(
        "Job {name} failed {} times in a row (within {}, with no success)",
        limits.failures,
        human(window)
    );
    rule(
        out,
        "CronqJobFailing",
        &format!(
            "{} >= {} unless on (cronjob) {} > 0",
            count(FAILED),
            limits.failures,
            count("succeeded")
        ),
        Said {
            hold: "0s",
            severity: "warning",
            cronjob: Some(name),
            summary: &summary,
        },
    );
}

/// What an alert says beside its expression.
struct Said<'a> {
    hold: &'a str,
    severity: &'a str,
    /// The job a rule is about: a label too, so that no two rules are the same alert.
    cronjob: Option<&'a str>,
    summary: &'a str,
}

/// One rule, each string written as a double-quoted YAML scalar.
fn rule(out: &mut String, alert: &str, expr: &str, said: Said<'_>) {
    let _ = writeln!(out, "      - alert: {alert}");
    let _ = writeln!(out, "        expr: {}", quoted(expr));
    let _ = writeln!(out, "        for: {}", said.hold);
    let _ = writeln!(
        out,
        "        labels:\n          severity: {}",
        said.severity
    );
    if let Some(cronjob) = said.cronjob {
        let _ = writeln!(out, "          cronjob: {}", quoted(cronjob));
    }
    let summary = said.summary;
    let _ = writeln!(
        out,
        "        annotations:\n          summary: {}",
        quoted(summary)
    );
}

/// The longest gap between the job's next instants; `None` for a job run only by hand
/// or at `@reboot`, or one that fires once more at most.
fn interval(job: &Job, now: DateTime<Utc>) -> Option<Duration> {
    let timing = &job.schedule.as_ref()?.timing;
    if *timing == Timing::Reboot {
        return None;
    }
    let mut longest = None;
    let mut last = job.next_fire(now)?.with_timezone(&Utc);
    for _ in 0..INTERVAL_FIRES {
        let Some(next) = job.next_fire(last).map(|at| at.with_timezone(&Utc)) else {
            break;
        };
        let gap = (next - last).to_std().ok()?;
        longest = longest.max(Some(gap));
        last = next;
    }
    longest
}

/// A PromQL label value: double-quoted, with `\` and `"` escaped.
fn label_value(text: &str) -> String {
    format!("\"{}\"", text.replace('\\', "\\\\").replace('"', "\\\""))
}

/// A YAML double-quoted scalar (JSON's string syntax is one).
fn quoted(text: &str) -> String {
    serde_json::to_string(text).expect("a string serializes")
}

fn human(duration: Duration) -> String {
    humantime::format_duration(Duration::from_secs(duration.as_secs())).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn schedule(yaml: &str) -> Schedule {
        crate::schedule::load(yaml, "crontab.yaml", chrono_tz::UTC).expect("a valid schedule")
    }

    fn now() -> DateTime<Utc> {
        "2026-12-01T00:00:00Z".parse().unwrap()
    }

    #[test]
    fn a_jobs_interval_is_its_longest_gap() {
        let schedule = schedule(
            "jobs:\n  nightly: {schedule: \"30 2 * * *\", command: \"true\"}\n  monthly: {schedule: \"0 0 1 * *\", command: \"true\"}\n  every: {schedule: \"@every 90s\", command: \"true\"}\n  manual: {command: \"true\"}\n  boot: {schedule: \"@reboot\", command: \"true\"}\n",
        );
        let of = |name: &str| interval(schedule.job(name).unwrap(), now());
        assert_eq!(of("nightly"), Some(Duration::from_secs(86_400)));
        assert_eq!(of("monthly"), Some(Duration::from_secs(31 * 86_400)));
        assert_eq!(of("every"), Some(Duration::from_secs(90)));
        assert_eq!(of("manual"), None);
        assert_eq!(of("boot"), None);
    }

    #[test]
    fn label_values_and_strings_are_escaped() {
        assert_eq!(label_value(r#"a"b\c"#), r#""a\"b\\c""#);
        assert_eq!(quoted(r#"x{a="b"}"#), r#""x{a=\"b\"}""#);
    }
}
