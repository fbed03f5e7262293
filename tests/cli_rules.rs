//! `cronq rules`: the alerting rules it prints load in Prometheus's own checker
//! (`promtool check rules`), and under `promtool test rules` each alert fires on the
//! series that should set it off and stays quiet on those that should not. Skipped,
//! with the reason, where promtool is not installed (Debian's `prometheus` package).

mod common;

use std::process::Command;

use common::{Scratch, texts};

const SCHEDULE: &str = r#"
jobs:
  nightly:
    schedule: "30 2 * * *"
    command: ["true"]
  quick:
    schedule: "*/10 * * * * *"
    command: ["true"]
  by-hand:
    command: ["true"]
  at-boot:
    schedule: "@reboot"
    command: ["true"]
"#;

/// The rules for [`SCHEDULE`] with `args`, written to `rules.yml`.
fn rules(scratch: &Scratch, args: &[&str]) -> String {
    scratch.write("crontab.yaml", SCHEDULE);
    let output = scratch.cronq().arg("rules").args(args).output().unwrap();
    let (out, err) = texts(&output);
    assert_eq!(output.status.code(), Some(0), "{err}");
    scratch.write("rules.yml", &out);
    out
}

/// promtool, or why the test is skipped.
fn promtool() -> Option<Command> {
    match Command::new("promtool").arg("--version").output() {
        Ok(output) if output.status.success() => Some(Command::new("promtool")),
        _ => {
            println!("skipped: promtool is not installed (apt-get install prometheus)");
            None
        }
    }
}

#[test]
fn each_job_gets_limits_from_its_own_interval() {
    let scratch = Scratch::new();
    let text = rules(&scratch, &["--grace", "10m", "--failures", "4"]);
    // A day plus 10 minutes; 10 seconds plus 10 minutes.
    assert!(
        text.contains(r#"cronq_last_success_timestamp_seconds{cronjob=\"nightly\"}) > 87000 "#),
        "{text}"
    );
    assert!(
        text.contains(r#"cronq_last_success_timestamp_seconds{cronjob=\"quick\"}) > 610 "#),
        "{text}"
    );
    // Four runs of a daily job take four days; one run by hand has no interval.
    assert!(text.contains(r#"[346200s])) >= 4 "#), "{text}");
    assert!(text.contains(r#"{cronjob=\"by-hand\",status=~\"failed|timed_out|lost\"}[86400s]"#));
    for job in ["by-hand", "at-boot"] {
        assert!(
            !text.contains(&format!(
                r#"cronq_last_success_timestamp_seconds{{cronjob=\"{job}\"}}"#
            )),
            "{job} has no interval to miss: {text}"
        );
    }
    assert!(text.contains("absent(cronq_daemons)"));
    assert!(text.contains("max by (queue) (cronq_queue_oldest_seconds) > 600"));
}

#[test]
fn bad_flags_and_a_bad_schedule_are_exit_2() {
    let scratch = Scratch::new();
    scratch.write("crontab.yaml", SCHEDULE);
    for (flag, value) in [
        ("--failures", "0"),
        ("--grace", "lots"),
        ("--queue-wait", "soon"),
        ("--failures", "three"),
    ] {
        let output = scratch
            .cronq()
            .args(["rules", flag, value])
            .output()
            .unwrap();
        let (_, err) = texts(&output);
        assert_eq!(output.status.code(), Some(2), "{flag} {value}: {err}");
        assert!(err.contains(flag), "{err}");
    }
    scratch.write(
        "crontab.yaml",
        "jobs:\n  x:\n    schedule: \"61 * * * *\"\n    command: [\"true\"]\n",
    );
    let output = scratch.cronq().arg("rules").output().unwrap();
    let (out, err) = texts(&output);
    assert_eq!(output.status.code(), Some(2), "{err}");
    assert!(err.starts_with("crontab.yaml:3:15: "), "{err}");
    assert!(
        out.is_empty(),
        "no rules for a schedule that does not load: {out}"
    );
}

#[test]
fn promtool_loads_the_rules() {
    let Some(mut promtool) = promtool() else {
        return;
    };
    let scratch = Scratch::new();
    rules(&scratch, &[]);
    let output = promtool
        .args(["check", "rules", "rules.yml"])
        .current_dir(scratch.path())
        .output()
        .unwrap();
    let (out, err) = texts(&output);
    assert!(output.status.success(), "{out}{err}");
    // Two cluster rules; nightly and quick two each; by-hand and at-boot one each.
    assert!(out.contains("SUCCESS: 8 rules found"), "{out}");
}

/// Series that should set each alert off, and those that should not, through
/// Prometheus's own rule evaluation.
const RULE_TESTS: &str = r#"
rule_files: [rules.yml]
evaluation_interval: 1m
tests:
  # nightly's last success at 0: the limit is a day and 5 minutes (86700 s).
  - interval: 1m
    input_series:
      - series: 'cronq_last_success_timestamp_seconds{cronjob="nightly",instance="a"}'
        values: '0x1500'
      - series: 'cronq_last_success_timestamp_seconds{cronjob="nightly",instance="b"}'
        values: '0x1500'
      - series: 'cronq_job_paused{cronjob="nightly",instance="a"}'
        values: '0x1500'
    alert_rule_test:
      - eval_time: 1444m
        alertname: CronqJobNotSucceeded
        exp_alerts: []
      - eval_time: 1446m
        alertname: CronqJobNotSucceeded
        exp_alerts:
          - exp_labels: {severity: warning, cronjob: nightly}
            exp_annotations:
              summary: "Job nightly has not succeeded for over 1day 5m (its interval 1day plus 5m)"
  # The same, paused: no alert.
  - interval: 1m
    input_series:
      - series: 'cronq_last_success_timestamp_seconds{cronjob="nightly",instance="a"}'
        values: '0x1500'
      - series: 'cronq_job_paused{cronjob="nightly",instance="a"}'
        values: '1x1500'
    alert_rule_test:
      - eval_time: 1450m
        alertname: CronqJobNotSucceeded
        exp_alerts: []
  # quick fails once a minute, on two workers' counters; then succeeds once.
  - interval: 1m
    input_series:
      - series: 'cronq_runs_total{cronjob="quick",status="failed",trigger="schedule",instance="a"}'
        values: '0 1 1 2 2 2 2 2 2 2'
      - series: 'cronq_runs_total{cronjob="quick",status="failed",trigger="schedule",instance="b"}'
        values: '0 0 0 0 1 1 1 1 1 1'
      - series: 'cronq_runs_total{cronjob="quick",status="succeeded",trigger="schedule",instance="a"}'
        values: '0 0 0 0 0 0 1 1 1 1'
    alert_rule_test:
      - eval_time: 3m
        alertname: CronqJobFailing
        exp_alerts: []
      - eval_time: 5m
        alertname: CronqJobFailing
        exp_alerts:
          - exp_labels: {severity: warning, cronjob: quick}
            exp_annotations:
              summary: "Job quick failed 3 times in a row (within 5m 30s, with no success)"
      - eval_time: 7m
        alertname: CronqJobFailing
        exp_alerts: []
  # No daemon at all, then a queue whose oldest run waits 700 s.
  - interval: 1m
    input_series:
      - series: 'cronq_queue_oldest_seconds{queue="reports",instance="a"}'
        values: '0 700x10'
    alert_rule_test:
      - eval_time: 1m
        alertname: CronqNoLiveDaemon
        exp_alerts: []
      - eval_time: 3m
        alertname: CronqNoLiveDaemon
        exp_alerts:
          - exp_labels: {severity: critical}
            exp_annotations:
              summary: "No cronq daemon is live (or no cronq process is scraped): no job fires"
      - eval_time: 2m
        alertname: CronqQueueWaiting
        exp_alerts: []
      - eval_time: 4m
        alertname: CronqQueueWaiting
        exp_alerts:
          - exp_labels: {severity: warning, queue: reports}
            exp_annotations:
              summary: "Queue reports: a due run has waited over 10m to be taken"
  # A live daemon: no alert.
  - interval: 1m
    input_series:
      - series: 'cronq_daemons{schedule_hash="0123456789abcdef",instance="a"}'
        values: '1x10'
    alert_rule_test:
      - eval_time: 5m
        alertname: CronqNoLiveDaemon
        exp_alerts: []
"#;

#[test]
fn each_alert_fires_when_it_should_and_only_then() {
    let Some(mut promtool) = promtool() else {
        return;
    };
    let scratch = Scratch::new();
    rules(&scratch, &[]);
    scratch.write("rules_test.yml", RULE_TESTS);
    let output = promtool
        .args(["test", "rules", "rules_test.yml"])
        .current_dir(scratch.path())
        .output()
        .unwrap();
    let (out, err) = texts(&output);
    assert!(output.status.success(), "{out}{err}");
}
