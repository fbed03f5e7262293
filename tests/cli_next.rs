//! `cronq next` on the built binary: instants, zones, errors and exit codes.

mod common;

use common::{Scratch, texts};

fn next(args: &[&str]) -> (i32, String, String) {
    let output = Scratch::new()
        .cronq()
        .arg("next")
        .args(args)
        .output()
        .unwrap();
    let (stdout, stderr) = texts(&output);
    (output.status.code().unwrap(), stdout, stderr)
}

#[test]
fn prints_instants_with_the_zones_real_offset() {
    let (code, stdout, _) = next(&[
        "15,45 1-3 * * *",
        "--tz",
        "America/New_York",
        "--after",
        "2026-03-08T00:00:00-05:00",
        "--count",
        "5",
    ]);
    assert_eq!(code, 0);
    assert_eq!(
        stdout,
        "2026-03-08T01:15:00-05:00\n2026-03-08T01:45:00-05:00\n2026-03-08T03:00:00-04:00\n\
         2026-03-08T03:15:00-04:00\n2026-03-08T03:45:00-04:00\n"
    );
}

#[test]
fn utc_is_plus_zero_never_z_and_five_by_default() {
    let (code, stdout, _) = next(&[
        "0 12 * * *",
        "--tz",
        "UTC",
        "--after",
        "2026-01-01T00:00:00Z",
    ]);
    assert_eq!(code, 0);
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 5);
    assert_eq!(lines[0], "2026-01-01T12:00:00+00:00");
    assert_eq!(lines[4], "2026-01-05T12:00:00+00:00");
}

#[test]
fn the_zone_defaults_to_the_hosts() {
    let output = Scratch::new()
        .cronq()
        .env("TZ", "Australia/Lord_Howe")
        .args([
            "next",
            "0 3 * * *",
            "--after",
            "2026-10-04T00:00:00+10:30",
            "-n",
            "1",
        ])
        .output()
        .unwrap();
    assert_eq!(texts(&output).0, "2026-10-04T03:00:00+11:00\n");
}

#[test]
fn after_is_exclusive_and_accepts_any_offset() {
    let (_, stdout, _) = next(&[
        "0 * * * *",
        "--tz",
        "UTC",
        "--after",
        "2026-01-01T01:00:00+00:00",
        "-n",
        "1",
    ]);
    assert_eq!(stdout, "2026-01-01T02:00:00+00:00\n");
    let (_, stdout, _) = next(&[
        "0 * * * *",
        "--tz",
        "UTC",
        "--after",
        "2026-01-01T03:00:00+02:00",
        "-n",
        "1",
    ]);
    assert_eq!(stdout, "2026-01-01T02:00:00+00:00\n");
}

#[test]
fn every_counts_from_after_and_reboot_has_no_instants() {
    let (code, stdout, _) = next(&[
        "@every 90s",
        "--tz",
        "UTC",
        "--after",
        "2026-01-01T00:00:00Z",
        "-n",
        "3",
    ]);
    assert_eq!(code, 0);
    assert_eq!(
        stdout,
        "2026-01-01T00:01:30+00:00\n2026-01-01T00:03:00+00:00\n2026-01-01T00:04:30+00:00\n"
    );
    let (code, stdout, stderr) = next(&["@reboot"]);
    assert_eq!((code, stdout.as_str()), (0, ""));
    assert!(
        stderr.contains("fires once each time the daemon starts"),
        "{stderr}"
    );
}

#[test]
fn bad_input_is_one_sentence_and_exit_2() {
    for (args, expected) in [
        (
            vec!["61 * * * *"],
            "minute field `61`: 61 is out of range 0-59",
        ),
        (
            vec!["0 0 30 2 *"],
            "day-of-month `30` never occurs in month `2`",
        ),
        (vec!["*/5/2 * * * *"], "only one `/` step is allowed"),
        (
            vec!["0 0 * * *", "--tz", "Europe/Berln"],
            "--tz: unknown time zone `Europe/Berln` (did you mean Europe/Berlin?)",
        ),
        (
            vec!["0 0 * * *", "--after", "tomorrow"],
            "--after `tomorrow` is not an RFC 3339 instant",
        ),
    ] {
        let (code, stdout, stderr) = next(&args);
        assert_eq!(code, 2, "{args:?}: {stderr}");
        assert!(stdout.is_empty());
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
        assert!(stderr.contains(expected), "{args:?}: {stderr}");
    }
}

#[test]
fn json_lists_the_fires() {
    let (code, stdout, _) = next(&[
        "@daily",
        "--tz",
        "UTC",
        "--after",
        "2026-01-01T00:00:00Z",
        "-n",
        "2",
        "--json",
    ]);
    assert_eq!(code, 0);
    let doc: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(
        doc["fires"],
        serde_json::json!(["2026-01-02T00:00:00+00:00", "2026-01-03T00:00:00+00:00"])
    );
}

#[test]
fn a_job_uses_its_zone_from_the_schedule() {
    let scratch = Scratch::new();
    scratch.write(
        "crontab.yaml",
        "jobs:\n  backup:\n    schedule: \"30 2 * * *\"\n    timezone: America/New_York\n    command: [\"true\"]\n  manual:\n    command: [\"true\"]\n",
    );
    let output = scratch
        .cronq()
        .args([
            "next",
            "--job",
            "backup",
            "--after",
            "2026-03-07T12:00:00-05:00",
            "-n",
            "2",
        ])
        .output()
        .unwrap();
    assert_eq!(
        texts(&output).0,
        "2026-03-08T03:00:00-04:00\n2026-03-09T02:30:00-04:00\n"
    );

    let output = scratch
        .cronq()
        .args(["next", "--job", "manual"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0));
    assert!(texts(&output).1.contains("runs only when triggered"));

    let output = scratch
        .cronq()
        .args(["next", "--job", "backpu"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(
        texts(&output)
            .1
            .contains("no job `backpu` in crontab.yaml; did you mean `backup`?")
    );
}

#[test]
fn explain_says_what_dst_did_and_when_days_are_ored() {
    let (code, stdout, _) = next(&[
        "30 2 * * *",
        "--tz",
        "America/New_York",
        "--after",
        "2026-03-07T12:00:00-05:00",
        "-n",
        "2",
        "--explain",
    ]);
    assert_eq!(code, 0);
    assert_eq!(
        stdout,
        "2026-03-08T03:00:00-04:00  # 02:30 does not exist on 2026-03-08 in America/New_York (clocks go forward); runs at 03:00\n\
         2026-03-09T02:30:00-04:00\n"
    );
    let (_, stdout, _) = next(&[
        "0 12 1 * MON",
        "--tz",
        "UTC",
        "--after",
        "2026-01-01T00:00:00Z",
        "-n",
        "1",
        "--explain",
    ]);
    assert!(stdout.starts_with("# day-of-month and day-of-week are both restricted, so a day that matches either one fires"), "{stdout}");
    let (_, stdout, _) = next(&["0 12 */2 * MON", "--tz", "UTC", "-n", "1", "--explain"]);
    assert!(
        !stdout.starts_with('#'),
        "a day field that starts with `*` makes them AND-ed: {stdout}"
    );
}

#[test]
fn a_closed_pipe_ends_the_listing_quietly_with_exit_0() {
    let scratch = Scratch::new();
    let mut command = scratch.std_cronq();
    command.args(["next", "* * * * *", "-n", "1000"]);
    let (code, stderr) = common::with_closed_stdout(command);
    assert_eq!(code, Some(0), "stderr: {stderr}");
    assert_eq!(stderr, "", "a closed pipe is not worth a word");
}
