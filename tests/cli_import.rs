//! `cronq import` on the built binary: its YAML passes `check`, and each job fires at
//! the instants of the crontab line it came from.

mod common;

use common::{Scratch, texts};

const CRONTAB: &str = "\
# Nightly backup
30 2 * * * /usr/local/bin/backup --full
CRON_TZ=America/New_York
15,45 1-3 * * 1-5 cd /srv/app && ./report.sh
0 12 1 * MON /usr/bin/monthly
*/10 * * * * /usr/local/bin/backup --incremental
@hourly date +\\%H >> /tmp/hours
";

/// Runs `cronq next` and returns its lines.
fn next(scratch: &Scratch, args: &[&str]) -> Vec<String> {
    let output = scratch
        .cronq()
        .arg("next")
        .args(args)
        .args(["--after", "2026-03-06T00:00:00Z", "-n", "12"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", texts(&output).1);
    texts(&output).0.lines().map(str::to_string).collect()
}

#[test]
fn imported_jobs_pass_check_and_fire_as_their_crontab_lines() {
    let scratch = Scratch::new();
    scratch.write("crontab.txt", CRONTAB);
    let output = scratch
        .cronq()
        .args(["import", "crontab.txt"])
        .output()
        .unwrap();
    let (yaml, stderr) = texts(&output);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    scratch.write("crontab.yaml", &yaml);

    let output = scratch.cronq().args(["check", "--json"]).output().unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", texts(&output).1);
    let doc: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let names: Vec<&str> = doc["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|j| j["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        ["backup", "report-sh", "monthly", "backup-2", "date"]
    );

    // Debian schedules by the host's zone alone (TZ=UTC in these tests): CRON_TZ
    // reaches the commands, not the schedule.
    for (job, expr, zone) in [
        ("backup", "30 2 * * *", "UTC"),
        ("report-sh", "15,45 1-3 * * 1-5", "UTC"),
        ("monthly", "0 12 1 * MON", "UTC"),
        ("backup-2", "*/10 * * * *", "UTC"),
        ("date", "@hourly", "UTC"),
    ] {
        assert_eq!(
            next(&scratch, &["--job", job]),
            next(&scratch, &[expr, "--tz", zone]),
            "job {job}"
        );
    }
}

#[test]
fn the_system_format_keeps_the_user_and_a_bad_line_is_reported_with_its_number() {
    let scratch = Scratch::new();
    scratch.write(
        "crontab",
        "SHELL=/bin/sh\n17 * * * * root cd / && run-parts --report /etc/cron.hourly\n61 * * * * root broken\n",
    );
    let output = scratch
        .cronq()
        .args(["import", "--system", "crontab"])
        .output()
        .unwrap();
    let (yaml, stderr) = texts(&output);
    assert_eq!(output.status.code(), Some(2));
    assert!(yaml.contains("    user: \"root\"\n"), "{yaml}");
    assert!(yaml.contains("cron-hourly:\n"), "{yaml}");
    assert!(
        stderr.contains("crontab:3: Debian cron refuses this line, so it never ran: minute field `61`: 61 is out of range 0-59"),
        "{stderr}"
    );
    assert!(
        stderr.contains("1 line(s) of crontab could not be converted"),
        "{stderr}"
    );
}

#[test]
fn a_missing_crontab_is_exit_2() {
    let scratch = Scratch::new();
    let output = scratch
        .cronq()
        .args(["import", "nope.txt"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(
        texts(&output)
            .1
            .starts_with("cronq: cannot read the crontab nope.txt:")
    );
}

#[test]
fn import_warns_where_dst_or_or_ed_days_will_surprise() {
    let scratch = Scratch::new();
    scratch.write(
        "crontab.txt",
        "30 2 * * * /usr/bin/backup\n0 12 1 * MON /usr/bin/report\n0 12 * * * /usr/bin/noon\n",
    );
    let output = scratch
        .cronq()
        .env("TZ", "America/New_York")
        .args(["import", "crontab.txt"])
        .output()
        .unwrap();
    let (_, stderr) = texts(&output);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    assert!(
        stderr.contains("crontab.txt:1: note: `30 2 * * *`: 02:30 does not exist on ")
            && stderr.contains("in America/New_York (clocks go forward); runs at 03:00"),
        "{stderr}"
    );
    assert!(
        stderr.contains(
            "crontab.txt:2: note: `0 12 1 * MON`: day-of-month and day-of-week are both restricted"
        ),
        "{stderr}"
    );
    assert!(
        !stderr.contains("crontab.txt:3:"),
        "noon is never moved: {stderr}"
    );
}

/// Runs `cronq import ARGS…` in `scratch`: exit code, stdout, stderr.
fn import(scratch: &Scratch, args: &[&str]) -> (Option<i32>, String, String) {
    let output = scratch.cronq().arg("import").args(args).output().unwrap();
    let (stdout, stderr) = texts(&output);
    (output.status.code(), stdout, stderr)
}

#[test]
fn a_line_debian_refuses_is_reported_left_out_and_exit_2() {
    let scratch = Scratch::new();
    let crontab = "\
@daily /usr/bin/first
0/5 * * * * /usr/bin/quartz-step
* * * * * * /usr/bin/seconds
0 0 ? * * /usr/bin/question
0 0 L * * /usr/bin/last-day
0 0 * * 5L /usr/bin/last-friday
NAME=\"x\"junk
@hourly /usr/bin/last
";
    scratch.write("crontab.txt", crontab);
    let (code, yaml, stderr) = import(&scratch, &["crontab.txt"]);
    assert_eq!(code, Some(2), "{stderr}");
    for (line, what) in [
        (2, "minute field `0/5`"),
        (3, "the command starts with `*`"),
        (4, "day-of-month field `?`"),
        (5, "day-of-month field `L`"),
        (6, "day-of-week field `5L`"),
        (7, "minute field `NAME=\"x\"junk`"),
    ] {
        let message =
            format!("crontab.txt:{line}: Debian cron refuses this line, so it never ran: {what}");
        assert!(stderr.contains(&message), "{message}\n{stderr}");
    }
    assert!(stderr.contains("6 line(s) of crontab.txt could not be converted"));
    assert!(
        stderr.contains("crontab.txt: warning: Debian cron ignores this whole file, because it refuses line 2; none of its jobs ran under cron"),
        "{stderr}"
    );
    // The rest converts and checks.
    scratch.write("crontab.yaml", &yaml);
    let output = scratch.cronq().args(["check", "--json"]).output().unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", texts(&output).1);
    let doc: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let names: Vec<&str> = doc["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|j| j["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["first", "last"]);
}

#[test]
fn what_debian_skips_converts_to_what_it_ran_with_a_note() {
    let scratch = Scratch::new();
    scratch.write("crontab.txt", "0 9 * * 1#2 /usr/bin/weekly\n");
    let (code, yaml, stderr) = import(&scratch, &["crontab.txt"]);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(yaml.contains("schedule: \"0 9 * * 1\""), "{yaml}");
    assert!(
        stderr.contains("crontab.txt:1: note: Debian cron reads the day-of-week field `1#2` as `1`: it skips `#2`"),
        "{stderr}"
    );
    scratch.write("crontab.yaml", &yaml);
    assert_eq!(
        next(&scratch, &["--job", "weekly"]),
        next(&scratch, &["0 9 * * MON", "--tz", "UTC"])
    );
}

#[test]
fn steps_longer_than_the_range_import_fire_as_debian_and_check_says_what_they_mean() {
    let scratch = Scratch::new();
    scratch.write(
        "crontab.txt",
        "*/60 * * * * /usr/bin/a\n0 */24 * * * /usr/bin/b\n0 0 */31 * * /usr/bin/c\n",
    );
    let (code, yaml, stderr) = import(&scratch, &["crontab.txt"]);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(
        stderr
            .contains("crontab.txt:1: note: `*/60` in the minute field only ever matches minute 0"),
        "{stderr}"
    );
    scratch.write("crontab.yaml", &yaml);
    for (job, same) in [("a", "0 * * * *"), ("b", "0 0 * * *"), ("c", "0 0 1 * *")] {
        assert_eq!(
            next(&scratch, &["--job", job]),
            next(&scratch, &[same, "--tz", "UTC"]),
            "{job}"
        );
    }
    // The schedule itself takes them too, and check warns.
    let output = scratch.cronq().arg("check").output().unwrap();
    let (_, stderr) = texts(&output);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    for warning in [
        "warning: job `a`: `*/60` in the minute field only ever matches minute 0",
        "warning: job `b`: `*/24` in the hour field only ever matches hour 0",
        "warning: job `c`: `*/31` in the day-of-month field only ever matches day 1",
    ] {
        assert!(stderr.contains(warning), "{warning}\n{stderr}");
    }
    assert_eq!(
        next(&scratch, &["*/60 * * * *", "--tz", "UTC"]),
        next(&scratch, &["0 * * * *", "--tz", "UTC"])
    );
}

/// The bytes a job's command writes, run through /bin/sh as the worker would.
fn run_command(yaml: &str, job: &str) -> Vec<u8> {
    let doc: serde_json::Value = serde_saphyr::from_str(yaml).unwrap();
    let command = doc["jobs"][job]["command"].as_str().unwrap();
    let output = std::process::Command::new("/bin/sh")
        .args(["-c", command])
        .output()
        .unwrap();
    assert!(output.status.success(), "{command}");
    output.stdout
}

#[test]
fn percent_and_backslashes_give_the_input_and_command_debian_gives() {
    let scratch = Scratch::new();
    scratch.write(
        "crontab.txt",
        "@daily od -c%\n@daily cat %a%\n@daily echo 'x\\\\y' > /dev/null; cat %\\\\%b\n",
    );
    let (code, yaml, stderr) = import(&scratch, &["crontab.txt"]);
    assert_eq!(code, Some(0), "{stderr}");
    // A trailing `%` gives no input at all: `od -c` of nothing prints only the offset.
    assert_eq!(run_command(&yaml, "od"), b"0000000\n");
    assert_eq!(run_command(&yaml, "cat"), b"a\n");
    // `\\` in the command is `\`; in the input only `\%` loses its backslash.
    assert!(yaml.contains(r#"echo 'x\\y'"#), "{yaml}");
    assert_eq!(run_command(&yaml, "echo"), b"\\%b\n");
}

#[test]
fn a_file_without_a_final_newline_is_ignored_whole_by_debian_and_import_says_so() {
    let scratch = Scratch::new();
    scratch.write("crontab.txt", "@daily /usr/bin/a\n@daily /usr/bin/b");
    let (code, yaml, stderr) = import(&scratch, &["crontab.txt"]);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(yaml.contains("  b:\n"), "{yaml}");
    assert!(
        stderr.contains("crontab.txt: warning: Debian cron ignores this whole file, because its last line, 2, has no newline at its end; none of its jobs ran under cron"),
        "{stderr}"
    );
    assert!(!stderr.contains("cron still runs"), "{stderr}");
}

#[test]
fn import_warns_that_cron_still_runs_the_jobs_and_says_how_to_remove_them() {
    let scratch = Scratch::new();
    scratch.write("crontab.txt", "@daily /usr/bin/a\n@hourly /usr/bin/b\n");
    let (code, _, stderr) = import(&scratch, &["crontab.txt"]);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(
        stderr.contains("crontab.txt: warning: cron still runs the 2 imported job(s) until they are removed from the crontab crontab.txt came from: "),
        "{stderr}"
    );
    assert!(
        stderr.contains(
            "delete their lines with `crontab -e`, or remove the whole crontab with `crontab -r`"
        ),
        "{stderr}"
    );
    scratch.write("system.txt", "@daily root /usr/bin/a\n");
    let (code, _, stderr) = import(&scratch, &["--system", "system.txt"]);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(
        stderr.contains("system.txt: warning: cron still runs the 1 imported job(s) until they are removed from the system crontab system.txt was copied from (/etc/crontab or a file in /etc/cron.d): delete their lines there with `sudoedit`"),
        "{stderr}"
    );
}

#[test]
fn a_system_crontab_without_system_is_refused_with_a_hint() {
    let scratch = Scratch::new();
    // `root` is a user of every host these tests run on.
    scratch.write(
        "system.txt",
        "SHELL=/bin/sh\n17 * * * * root cd / && run-parts --report /etc/cron.hourly\n@reboot root /usr/bin/warm\n",
    );
    let (code, yaml, stderr) = import(&scratch, &["system.txt"]);
    assert_eq!(code, Some(2), "{stderr}");
    assert_eq!(yaml, "", "nothing converted");
    assert!(
        stderr.contains("cronq: system.txt is plainly a system crontab: on every job line the sixth field is a user of this host, then a command (line 2: `root`); import it with `cronq import --system system.txt`"),
        "{stderr}"
    );
    let (code, yaml, stderr) = import(&scratch, &["--system", "system.txt"]);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(yaml.contains("cron-hourly:\n"), "{yaml}");
    // A user crontab whose sixth word is a command, not a user, is read as one.
    scratch.write("user.txt", "17 * * * * /usr/bin/hourly --quiet\n");
    assert_eq!(import(&scratch, &["user.txt"]).0, Some(0));
    // The path alone says so for /etc/cron.d.
    if std::path::Path::new("/etc/cron.d").is_dir() {
        let entry = std::fs::read_dir("/etc/cron.d").unwrap().flatten().next();
        if let Some(entry) = entry {
            let path = entry.path().display().to_string();
            let (code, _, stderr) = import(&scratch, &[&path]);
            assert_eq!(code, Some(2), "{stderr}");
            assert!(stderr.contains("is a system crontab, whose lines name a user before the command; import it with `cronq import --system"), "{stderr}");
        }
    }
}

#[test]
fn the_stock_debian_etc_crontab_gives_the_cron_directories_as_names() {
    let scratch = Scratch::new();
    let stock = include_str!("fixtures/debian-12-etc-crontab");
    scratch.write("crontab", stock);
    let (code, yaml, stderr) = import(&scratch, &["--system", "crontab"]);
    assert_eq!(code, Some(0), "{stderr}");
    scratch.write("crontab.yaml", &yaml);
    let output = scratch.cronq().args(["check", "--json"]).output().unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", texts(&output).1);
    let doc: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let names: Vec<&str> = doc["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|j| j["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        ["cron-hourly", "cron-daily", "cron-weekly", "cron-monthly"]
    );
    assert!(!yaml.contains("description"), "{yaml}");
    assert_eq!(
        next(&scratch, &["--job", "cron-weekly"]),
        next(&scratch, &["47 6 * * 7", "--tz", "UTC"])
    );
}

#[test]
fn one_mailto_is_one_email_notify_in_defaults_and_check_warns_without_sendmail() {
    let scratch = Scratch::new();
    scratch.write(
        "crontab.txt",
        "MAILTO=ops@example.com\n@daily /usr/bin/a\n@hourly /usr/bin/b\n",
    );
    let (code, yaml, stderr) = import(&scratch, &["crontab.txt"]);
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(yaml.matches("notify:").count(), 1, "{yaml}");
    assert!(
        yaml.contains(
            "\ndefaults:\n  notify:\n    - email: \"ops@example.com\"\n      on: [failing]\n"
        ),
        "{yaml}"
    );
    assert!(!yaml.contains("on_failure"), "{yaml}");
    scratch.write("crontab.yaml", &yaml);

    // No `sendmail` on the PATH: check warns once, naming the jobs.
    let empty = scratch.path().join("empty-bin");
    std::fs::create_dir_all(&empty).unwrap();
    let output = scratch
        .cronq()
        .arg("check")
        .env("PATH", &empty)
        .output()
        .unwrap();
    let (_, stderr) = texts(&output);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    let warning = "warning: `sendmail` is not on this host, so the email notifications of 2 job(s) (a, b) reach no one";
    assert_eq!(stderr.matches(warning).count(), 1, "{stderr}");

    // With a `sendmail` there, no warning.
    let bin = scratch.path().join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let sendmail = bin.join("sendmail");
    std::fs::write(&sendmail, "#!/bin/sh\nexit 0\n").unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&sendmail, std::fs::Permissions::from_mode(0o755)).unwrap();
    let output = scratch
        .cronq()
        .arg("check")
        .env("PATH", &bin)
        .output()
        .unwrap();
    let (_, stderr) = texts(&output);
    assert!(!stderr.contains("is not on this host"), "{stderr}");
}
