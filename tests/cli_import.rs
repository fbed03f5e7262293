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

    // The host zone (TZ=UTC in these tests) until CRON_TZ, New York after it.
    for (job, expr, zone) in [
        ("backup", "30 2 * * *", "UTC"),
        ("report-sh", "15,45 1-3 * * 1-5", "America/New_York"),
        ("monthly", "0 12 1 * MON", "America/New_York"),
        ("backup-2", "*/10 * * * *", "America/New_York"),
        ("date", "@hourly", "America/New_York"),
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
    assert!(yaml.contains("run-parts:\n"), "{yaml}");
    assert!(
        stderr.contains("crontab:3: cannot convert `61 * * * * root broken`: minute field `61`: 61 is out of range 0-59"),
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
        "CRON_TZ=America/New_York\n30 2 * * * /usr/bin/backup\n0 12 1 * MON /usr/bin/report\n0 12 * * * /usr/bin/noon\n",
    );
    let output = scratch
        .cronq()
        .args(["import", "crontab.txt"])
        .output()
        .unwrap();
    let (_, stderr) = texts(&output);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    assert!(
        stderr.contains("crontab.txt:2: note: `30 2 * * *`: 02:30 does not exist on ")
            && stderr.contains("in America/New_York (clocks go forward); runs at 03:00"),
        "{stderr}"
    );
    assert!(
        stderr.contains(
            "crontab.txt:3: note: `0 12 1 * MON`: day-of-month and day-of-week are both restricted"
        ),
        "{stderr}"
    );
    assert!(
        !stderr.contains("crontab.txt:4:"),
        "noon is never moved: {stderr}"
    );
}
