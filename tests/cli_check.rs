//! `cronq check` on the built binary: the example passes, a broken file lists every
//! problem at its position, and the schedule is found where the settings say.

mod common;

use common::{Scratch, redact_instants, texts};

const EXAMPLE: &str = include_str!("../crontab.example.yaml");

#[test]
fn the_example_schedule_passes_and_lists_every_job() {
    let scratch = Scratch::new();
    scratch.write("crontab.yaml", EXAMPLE);
    let output = scratch.cronq().arg("check").output().unwrap();
    let (stdout, stderr) = texts(&output);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    insta::assert_snapshot!(redact_instants(&stdout));
    assert_eq!(stderr, "crontab.yaml: 6 jobs, no errors\n");
}

#[test]
fn json_names_each_jobs_fields() {
    let scratch = Scratch::new();
    let file = scratch.write("deploy/schedule.yaml", EXAMPLE);
    let output = scratch
        .cronq()
        .arg("check")
        .arg("--schedule")
        .arg(&file)
        .arg("--json")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0));
    let doc: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let jobs = doc["jobs"].as_array().unwrap();
    assert_eq!(jobs.len(), 6);
    let heartbeat = &jobs[0];
    let keys: Vec<&str> = heartbeat
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(keys, ["name", "schedule", "timezone", "queue", "next"]);
    assert_eq!(heartbeat["schedule"], "*/10 * * * * *");
    assert!(chrono::DateTime::parse_from_rfc3339(heartbeat["next"].as_str().unwrap()).is_ok());
    assert_eq!(
        jobs[5]["schedule"],
        serde_json::Value::Null,
        "a job without schedule"
    );
    assert_eq!(jobs[5]["next"], serde_json::Value::Null);
    assert_eq!(doc["warnings"], serde_json::json!([]));
}

#[test]
fn every_error_is_printed_as_file_line_column_in_one_pass() {
    let scratch = Scratch::new();
    scratch.write(
        "crontab.yaml",
        "\
jobs:
  backup:
    schedule: \"5-1 * * * *\"
    command: []
  backup:
    command: x
  report:
    timezone: Mars/Olympus
    command: [report]
    jitter: soon
    retrys: 1
",
    );
    let output = scratch.cronq().arg("check").output().unwrap();
    let (stdout, stderr) = texts(&output);
    assert_eq!(output.status.code(), Some(2));
    assert_eq!(stdout, "");
    assert_eq!(
        stderr,
        "\
crontab.yaml:3:15: invalid schedule `5-1 * * * *`: minute field `5-1`: the range 5-1 runs backwards; write the smaller value first
crontab.yaml:4:14: the command is empty
crontab.yaml:5:3: duplicate key `backup` in `jobs` (first at line 2)
crontab.yaml:8:15: unknown time zone `Mars/Olympus`; expected an IANA name such as Europe/Berlin or UTC
crontab.yaml:10:13: `soon` is not a duration (expected number at 0); expected a duration such as 90s, 5m, 2h or 30d
crontab.yaml:11:5: unknown key `retrys` in job `report`; did you mean `retries`?
"
    );
}

#[test]
fn a_yaml_syntax_error_is_located_and_exit_2() {
    let scratch = Scratch::new();
    scratch.write("crontab.yaml", "jobs:\n  a:\n\tcommand: x\n");
    let output = scratch.cronq().arg("check").output().unwrap();
    let (_, stderr) = texts(&output);
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr.starts_with("crontab.yaml:3:"), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
}

#[test]
fn a_missing_schedule_names_the_path_tried() {
    let scratch = Scratch::new();
    let output = scratch.cronq().arg("check").output().unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(
        texts(&output)
            .1
            .contains("no schedule file: tried crontab.yaml (the default)")
    );

    let output = scratch
        .cronq()
        .arg("check")
        .env("CRONQ_SCHEDULE", "ops/cron.yaml")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(
        texts(&output)
            .1
            .contains("tried ops/cron.yaml (--schedule or CRONQ_SCHEDULE)")
    );
}

#[test]
fn the_schedule_is_found_by_flag_then_env_then_settings_then_default() {
    let scratch = Scratch::new();
    let job = |name: &str| format!("jobs:\n  {name}:\n    command: [\"true\"]\n");
    scratch.write("crontab.yaml", &job("from-default"));
    scratch.write("by-settings.yaml", &job("from-settings"));
    scratch.write("by-env.yaml", &job("from-env"));
    scratch.write("by-flag.yaml", &job("from-flag"));
    let first_job = |command: &mut assert_cmd::Command| {
        let output = command.args(["check", "--json"]).output().unwrap();
        let doc: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
        doc["jobs"][0]["name"].as_str().unwrap().to_string()
    };
    assert_eq!(first_job(&mut scratch.cronq()), "from-default");
    scratch.write("config/cronq.yaml", "schedule: by-settings.yaml\n");
    assert_eq!(first_job(&mut scratch.cronq()), "from-settings");
    assert_eq!(
        first_job(scratch.cronq().env("CRONQ_SCHEDULE", "by-env.yaml")),
        "from-env"
    );
    assert_eq!(
        first_job(
            scratch
                .cronq()
                .env("CRONQ_SCHEDULE", "by-env.yaml")
                .args(["--schedule", "by-flag.yaml"])
        ),
        "from-flag"
    );
}

#[test]
fn a_queue_no_worker_serves_is_a_warning_not_an_error() {
    let scratch = Scratch::new();
    scratch.write("crontab.yaml", EXAMPLE);
    scratch.write("config/cronq.yaml", "workers:\n  default: 2\n");
    let output = scratch.cronq().arg("check").output().unwrap();
    let (_, stderr) = texts(&output);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    assert!(
        stderr.contains(
            "crontab.yaml:42:3: warning: job `monthly-summary` is on queue `reports`, which no worker in the settings serves (they serve: default)"
        ),
        "{stderr}"
    );
    let output = scratch
        .cronq()
        .args(["check", "--workers", "default=1,reports=1"])
        .output()
        .unwrap();
    assert!(
        !texts(&output).1.contains("warning"),
        "the flag beats the settings file"
    );
}

#[test]
fn a_settings_error_is_located_and_exit_2() {
    let scratch = Scratch::new();
    scratch.write("crontab.yaml", EXAMPLE);
    scratch.write(
        "config/cronq.yaml",
        "store: \"redis://:${CRONQ_TEST_UNSET_PASSWORD}@cache/0\"\nworkers: 4\n",
    );
    let output = scratch.cronq().arg("check").output().unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert_eq!(
        texts(&output).1,
        "config/cronq.yaml:1:8: environment variable CRONQ_TEST_UNSET_PASSWORD is not set (used as ${CRONQ_TEST_UNSET_PASSWORD})\n\
         config/cronq.yaml:2:10: `workers` must be a mapping of keys, found a number\n"
    );
}

#[test]
fn a_valid_expression_of_70_kb_is_listed_cut_not_a_panic() {
    // 70,007 characters: past the 65,535 a format width holds, the panic this guards.
    let expr = format!("{} * * * *", vec!["0"; 35_000].join(","));
    let scratch = Scratch::new();
    scratch.write(
        "crontab.yaml",
        &format!("jobs:\n  long:\n    schedule: \"{expr}\"\n    command: [\"true\"]\n"),
    );
    let output = scratch.cronq().arg("check").output().unwrap();
    let (stdout, stderr) = texts(&output);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    let row = stdout.lines().nth(1).expect("a row for the job");
    assert!(row.starts_with("long  0,0,0,"), "{row}");
    assert!(row.contains("…  UTC"), "the cell is cut: {row}");
    assert!(row.len() < 300, "{} bytes", row.len());

    let output = scratch.cronq().args(["check", "--json"]).output().unwrap();
    assert_eq!(output.status.code(), Some(0));
    let doc: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(
        doc["jobs"][0]["schedule"],
        expr.as_str(),
        "--json keeps it whole"
    );
}

#[test]
fn a_nul_inside_a_yaml_string_is_an_error_at_its_position() {
    // Valid YAML (`\0` is an escape), but a command that can never start.
    let scratch = Scratch::new();
    scratch.write(
        "crontab.yaml",
        "jobs:\n  backup:\n    schedule: \"@daily\"\n    command: [\"/usr/bin/backup\", \"--to=/srv\\0x\"]\n    env: {PGHOST: \"db\\0\"}\n",
    );
    let output = scratch.cronq().arg("check").output().unwrap();
    let (stdout, stderr) = texts(&output);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert_eq!(stdout, "");
    assert_eq!(
        stderr,
        "crontab.yaml:4:14: argument 2 of `command` holds a NUL character (`\\0`), which a program's argument cannot carry\n\
         crontab.yaml:5:19: the value of `PGHOST` in `env` holds a NUL character (`\\0`), which an environment variable cannot carry\n"
    );
}

/// A job that cannot run on this host: each problem is a warning at the key that set
/// it, the file is still valid (exit 0), and what the shell runs itself is left alone.
#[test]
fn what_this_host_lacks_is_a_warning_at_its_key() {
    use std::os::unix::fs::PermissionsExt;
    let scratch = Scratch::new();
    let bin = scratch.path().join("job-bin");
    std::fs::create_dir_all(&bin).unwrap();
    let tool = scratch.write("job-bin/only-in-job-path", "#!/bin/sh\n");
    std::fs::set_permissions(&tool, std::fs::Permissions::from_mode(0o755)).unwrap();
    let plain = scratch.write("plain-file", "not a program\n");
    std::fs::set_permissions(&plain, std::fs::Permissions::from_mode(0o644)).unwrap();
    let (bin, plain) = (bin.display(), plain.display());
    scratch.write(
        "crontab.yaml",
        &format!(
            "\
defaults:
  user: no-such-user-cronq
jobs:
  a:
    command: [backupp, --full]
    workdir: /no/such/dir
  b:
    command: \"{plain} --now\"
    workdir: {plain}
  c:
    command: [only-in-job-path]
    env: {{PATH: \"{bin}\"}}
    user: root
  d:
    command: \"cd /tmp && ./x; if true; then y; fi\"
    user: root
  e:
    command: \"VAR=1 test -d / && exec missing-too\"
    user: root
  f:
    command: only-in-job-path --flag
    user: root
"
        ),
    );
    let output = scratch.cronq().arg("check").output().unwrap();
    let (stdout, stderr) = texts(&output);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    assert!(
        stdout.starts_with("JOB "),
        "the table still prints: {stdout}"
    );
    let path = std::env::var("PATH").unwrap();
    let expected = [
        "crontab.yaml:2:3: warning: job `a`: there is no user `no-such-user-cronq` on this host, so its runs would fail here".to_string(),
        "crontab.yaml:2:3: warning: job `b`: there is no user `no-such-user-cronq` on this host, so its runs would fail here".to_string(),
        format!("crontab.yaml:5:5: warning: job `a`: the program `backupp` is not found on the PATH the job gets ({path}), so its runs would fail here"),
        "crontab.yaml:6:5: warning: job `a`: the workdir /no/such/dir does not exist on this host, so its runs would fail here".to_string(),
        format!("crontab.yaml:8:5: warning: job `b`: the program {plain} is not executable, so its runs would fail here"),
        format!("crontab.yaml:9:5: warning: job `b`: the workdir {plain} is not a directory on this host, so its runs would fail here"),
        format!("crontab.yaml:21:5: warning: job `f`: the program `only-in-job-path` is not found on the PATH the job gets ({path}), so its runs would fail here"),
        "crontab.yaml: 6 jobs, no errors".to_string(),
    ];
    assert_eq!(stderr.lines().collect::<Vec<_>>(), expected, "{stderr}");

    // --json carries the same warnings, with their positions.
    let output = scratch.cronq().args(["check", "--json"]).output().unwrap();
    assert_eq!(output.status.code(), Some(0));
    let doc: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let warnings = doc["warnings"].as_array().unwrap();
    assert_eq!(warnings.len(), 7, "{warnings:?}");
    assert_eq!(
        (&warnings[3]["line"], &warnings[3]["column"]),
        (&6.into(), &5.into())
    );
}
