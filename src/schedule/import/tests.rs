//! Tests of the crontab import: Debian's reading of each line, the mapping onto
//! cronq's keys, and YAML that reads back.

use super::*;
use serde_json::{Value, json};

const CRONTAB: &str = r#"# m h dom mon dow command
SHELL=/bin/bash
PATH=/usr/local/bin:/usr/bin:/bin
MAILTO=ops@example.com

# Nightly database backup,
# before the 03:00 report.
30 2 * * * /usr/local/bin/backup --full

0 8 * * mon  mail -s "Weekly report" team@example.com%Hello team,%it's 100\% done.
MAILTO=""
@reboot /usr/local/bin/backup --check
@daily cd /srv/app && php artisan cache:clear
61 * * * * broken
"#;

/// The stock `/etc/crontab` of Debian 12, verbatim.
const DEBIAN_12_ETC_CRONTAB: &str = include_str!("../../../tests/fixtures/debian-12-etc-crontab");

/// Imports `text`; gives `jobs:` as the loader's YAML parser reads it, and the names
/// in file order.
fn import(text: &str, format: CrontabFormat) -> (Value, Vec<String>, Imported) {
    let out = import_crontab(text, format);
    let doc: Value = serde_saphyr::from_str(&out.yaml).expect("the import is valid YAML");
    let names = out
        .yaml
        .lines()
        .skip_while(|l| *l != "jobs:")
        .filter(|l| l.starts_with("  ") && !l.starts_with("   "));
    let names = names
        .map(|l| l.trim().trim_end_matches(':').to_string())
        .collect();
    (doc["jobs"].clone(), names, out)
}

fn user(text: &str) -> (Value, Vec<String>, Imported) {
    import(text, CrontabFormat::User)
}

fn messages(problems: &[LineProblem]) -> Vec<String> {
    problems.iter().map(ToString::to_string).collect()
}

/// The one job's schedule, with the notes on the line.
fn schedule(line: &str) -> (String, Vec<String>) {
    let (jobs, names, out) = user(&format!("{line}\n"));
    assert!(out.problems.is_empty(), "{line}: {:?}", out.problems);
    let schedule = jobs[&names[0]]["schedule"].as_str().unwrap().to_string();
    (schedule, messages(&out.notes))
}

/// The one job's command.
fn command(line: &str) -> String {
    let (jobs, names, out) = user(&format!("{line}\n"));
    assert!(out.problems.is_empty(), "{line}: {:?}", out.problems);
    jobs[&names[0]]["command"].as_str().unwrap().to_string()
}

#[test]
fn a_user_crontab_converts_to_this_exact_yaml() {
    let (jobs, names, out) = user(CRONTAB);
    let env = "    env:\n      SHELL: \"/bin/bash\"\n      PATH: \"/usr/local/bin:/usr/bin:/bin\"";
    let mail = "    notify:\n      - email: \"ops@example.com\"\n        on: [failing]";
    let expected = format!(
        r#"# Imported from a crontab by cronq import; check it with: cronq check
jobs:
  backup:
    description: "Nightly database backup, before the 03:00 report."
    schedule: "30 2 * * *"
    command: ["/bin/bash", "-c", "/usr/local/bin/backup --full"]
{mail}
{env}
  mail:
    schedule: "0 8 * * mon"
    command: ["/bin/bash", "-c", "printf '%s\\n' 'Hello team,' 'it'\\''s 100% done.' | mail -s \"Weekly report\" team@example.com"]
{mail}
{env}
  backup-2:
    schedule: "@reboot"
    command: ["/bin/bash", "-c", "/usr/local/bin/backup --check"]
{env}
  php:
    schedule: "@daily"
    command: ["/bin/bash", "-c", "cd /srv/app && php artisan cache:clear"]
{env}
"#
    );
    assert_eq!(out.yaml, expected);
    let broken = format!("line 14: {REFUSED}: minute field `61`: 61 is out of range 0-59");
    assert_eq!(messages(&out.problems), [broken]);
    assert_eq!(out.ignored.as_deref(), Some("it refuses line 14"));
    let notes = messages(&out.notes);
    assert!(notes[0].starts_with("line 4: cron mailed every output of the jobs below"));
    assert_eq!(notes[1..], [format!("line 10: {STDIN_NOTE}")]);

    // What the loader reads back.
    assert_eq!(names, ["backup", "mail", "backup-2", "php"]);
    let backup = json!({
            "description": "Nightly database backup, before the 03:00 report.",
            "schedule": "30 2 * * *",
            "command": ["/bin/bash", "-c", "/usr/local/bin/backup --full"],
            "env": {"SHELL": "/bin/bash", "PATH": "/usr/local/bin:/usr/bin:/bin"},
            "notify": [{"email": "ops@example.com", "on": ["failing"]}]});
    assert_eq!(jobs["backup"], backup);
    assert_eq!(jobs["backup-2"]["notify"], Value::Null, "MAILTO=\"\"");
}

#[test]
fn debian_refuses_what_it_cannot_read_and_the_rest_still_converts() {
    for (line, reason) in [
        (
            "0/5 * * * * a",
            "minute field `0/5`: `0/5` is a step after a single value",
        ),
        (
            "5/15 * * * * a",
            "a step only after a range or `*`, as in `*/15` or `5-59/15`",
        ),
        ("* * * * * * a", "the command starts with `*`"),
        ("0 * * * * * a", "the command starts with `*`"),
        (
            "0 0 ? * * a",
            "day-of-month field `?`: `?` is Quartz's \"no value\"",
        ),
        (
            "0 0 L * * a",
            "day-of-month field `L`: `L` is Quartz syntax",
        ),
        (
            "0 0 * * 5L a",
            "day-of-week field `5L`: `5L` is Quartz syntax",
        ),
        ("0 0 LW * * a", "`LW` is Quartz syntax"),
        (
            "0 0 * * monday a",
            "`monday` is neither a number nor a weekday name",
        ),
        (
            "0 0 * foo * a",
            "`foo` is neither a number nor a month name",
        ),
        (
            "-@daily a",
            "minute field `-@daily`: a value is expected where `-` stands",
        ),
        ("-0 0 * * * a", "minute field `-0`"),
        ("@every 5m a", "`@every` is not a macro it knows"),
        ("@DAILY a", "`@DAILY` is not a macro it knows"),
        ("*/0 * * * * a", "a step must be at least 1"),
        ("0 24 * * * a", "hour field `24`: 24 is out of range 0-23"),
        (
            "0 0 * * 8 a",
            "day-of-week field `8`: 8 is out of range 0-7",
        ),
        ("5-64/30 * * * * a", "64 is out of range 0-59"),
        ("0 0 * * a", "day-of-week field `a`"),
        ("0 0 * *", "day-of-week field ``: a value is missing"),
        ("1, * * * * a", "a value is missing"),
        (r#"NAME="x"junk"#, "minute field `NAME=\"x\"junk`"),
        ("MAILTO=", "minute field `MAILTO=`"),
        ("NAME='open", "minute field `NAME='open`"),
    ] {
        let text = format!("@daily first\n{line}\n@daily last\n");
        let (jobs, names, out) = user(&text);
        let problems = messages(&out.problems);
        assert_eq!(problems.len(), 1, "{line}: {problems:?}");
        let prefix = format!("line 2: {REFUSED}: ");
        assert!(problems[0].starts_with(&prefix), "{line}: {}", problems[0]);
        assert!(problems[0].contains(reason), "{line}: {}", problems[0]);
        assert_eq!(names, ["first", "last"], "{line}");
        assert_eq!(jobs["last"]["schedule"], "@daily");
        assert_eq!(out.ignored.as_deref(), Some("it refuses line 2"), "{line}");
    }
    // A command of 999 bytes is "command too long"; 998 is not.
    let long = format!("@daily {}", "x".repeat(999));
    let refused = &user(&long).2.problems[0].message;
    assert!(refused.ends_with("Debian cron refuses a command of 999 bytes or more"));
    assert!(
        user(&format!("@daily {}\n", "x".repeat(998)))
            .2
            .problems
            .is_empty()
    );
}

#[test]
fn debian_skips_the_rest_of_a_field_and_the_job_keeps_what_cron_ran() {
    let (schedule_, notes) = schedule("*/5/2 * * * * a");
    assert_eq!(schedule_, "*/5 * * * *");
    assert_eq!(
        notes,
        [
            "line 1: Debian cron reads the minute field `*/5/2` as `*/5`: it skips `/2`, the rest of a field after what it can read; the job keeps what cron ran"
        ]
    );
    // Quartz's `#` is no Debian syntax: `1#2` is every Monday to Debian.
    let (schedule_, notes) = schedule("0 9 * * 1#2 a");
    assert_eq!(schedule_, "0 9 * * 1");
    assert!(
        notes[0].contains("`1#2` as `1`: it skips `#2`"),
        "{notes:?}"
    );
    assert_eq!(schedule("1.5 * * * * a").0, "1 * * * *");
    assert_eq!(schedule("*5 * * * * a").0, "* * * * *");
    assert_eq!(schedule("0 0 1-5.x * * a").0, "0 0 1-5 * *");
}

#[test]
fn steps_longer_than_the_range_are_read_as_debian_does() {
    for line in [
        "*/60 * * * *",
        "0 */24 * * *",
        "0 0 */31 * *",
        "0 0 1 */12 *",
    ] {
        let (written, notes) = schedule(&format!("{line} a"));
        assert_eq!(written, line);
        assert!(notes.is_empty(), "{notes:?}");
    }
}

#[test]
fn a_range_that_runs_backwards_is_empty_to_debian() {
    // Day-of-month holds nothing, so the OR leaves Mondays alone.
    let (written, notes) = schedule("0 0 5-1 * 1 a");
    assert_eq!(written, "0 0 * * 1");
    assert!(
        notes[0].contains("reads `0 0 5-1 * 1` as `0 0 * * 1`"),
        "{notes:?}"
    );
    assert_eq!(schedule("0 0 1,9-2 * * a").0, "0 0 1 * *");
    assert_eq!(schedule("0 0 * * mon-fri,sat-sun a").0, "0 0 * * 1-5");
    for never in ["5-1 * * * * a", "0 0 30 2 * a", "0 0 31 4,6 * a"] {
        let out = user(&format!("{never}\n")).2;
        let problem = &out.problems[0].message;
        assert!(
            problem.contains("Debian cron accepts this line but never runs it"),
            "{never}: {problem}"
        );
        assert_eq!(out.ignored, None, "Debian accepts the file");
    }
}

#[test]
fn names_sevens_and_macros_mean_what_they_mean_to_debian() {
    assert_eq!(
        schedule("0 0 * JAN,jul Sun-Tue a").0,
        "0 0 * JAN,jul Sun-Tue"
    );
    assert_eq!(schedule("0 0 * * 7 a").0, "0 0 * * 7");
    assert_eq!(schedule("0 0 * * 5-7 a").0, "0 0 * * 5-7");
    assert_eq!(schedule("00 004 * * * a").0, "00 004 * * *");
    for (line, expected) in [("@yearly a", "@yearly"), ("@annually a", "@annually")] {
        assert_eq!(schedule(line).0, expected);
    }
    // glibc's atoi cuts 4294967296 to 0: Debian runs it at minute 0.
    assert_eq!(schedule("4294967296 0 * * * a").0, "0 0 * * *");
}

#[test]
fn percent_and_backslashes_are_read_as_debian_does() {
    assert_eq!(command(r"* * * * * date +\%F"), "date +%F");
    // A trailing `%` gives no input at all.
    assert_eq!(command("* * * * * cat%"), "cat");
    // `%a%`: `a` and one newline.
    assert_eq!(command("* * * * * cat %a%"), "printf '%s\\n' 'a' | cat");
    assert_eq!(command("* * * * * cat %a"), "printf '%s\\n' 'a' | cat");
    assert_eq!(command("* * * * * cat %%"), "printf '%s\\n' '' | cat");
    assert_eq!(command("* * * * * cat %a%%"), "printf '%s\\n' 'a' '' | cat");
    // `\\` in the command is `\`; a backslash before anything else stays.
    assert_eq!(command(r"* * * * * echo a\\b"), r"echo a\b");
    assert_eq!(command(r"* * * * * a\nb"), r"a\nb");
    assert_eq!(
        command(r"* * * * * echo a\\%b"),
        "printf '%s\\n' 'b' | echo a\\"
    );
    // In the input, only `\%` loses its backslash.
    assert_eq!(
        command(r"* * * * * cat %\\x\%y"),
        r"printf '%s\n' '\\x%y' | cat"
    );
    // A lone backslash after a newline leaves the input without a final newline.
    assert_eq!(
        command(r"* * * * * cat %%\"),
        r"printf '%s' '
\' | cat"
    );
    let lines = r"printf '%s\n' ' a ' ' b%c' | wc -l";
    assert_eq!(command(r"* * * * * wc -l % a % b\%c"), lines);
    let list = r"printf '%s\n' 'b' 'a' | (cd /tmp && sort > out)";
    assert_eq!(command("* * * * * cd /tmp && sort > out%b%a"), list);
    let comment = "printf '%s\\n' 'x' | (a; b # c\n)";
    assert_eq!(command("* * * * * a; b # c%x"), comment);
    // Trailing blanks are part of the input.
    assert_eq!(command("* * * * * cat %a  "), "printf '%s\\n' 'a  ' | cat");
}

#[test]
fn a_line_with_nothing_to_run_is_left_out_with_a_note() {
    let (jobs, _, out) = user("0 0 * * *\n@daily\n0 0 * * * %input\n@hourly ok\n");
    assert_eq!(
        jobs,
        json!({"ok": {"schedule": "@hourly", "command": "ok"}})
    );
    assert!(out.problems.is_empty(), "{:?}", out.problems);
    let lines: Vec<usize> = out.notes.iter().map(|n| n.line).collect();
    assert_eq!(lines, [1, 2, 3]);
    assert!(out.notes[0].message.contains("ran nothing for it"));
}

#[test]
fn a_file_debian_ignores_whole_says_why() {
    let no_newline = user("@daily a\n@daily b").2;
    assert_eq!(
        no_newline.ignored.as_deref(),
        Some("its last line, 2, has no newline at its end")
    );
    assert!(no_newline.problems.is_empty(), "the line itself converts");
    // A comment or blanks at the end need no newline.
    assert_eq!(user("@daily a\n# end").2.ignored, None);
    assert_eq!(user("@daily a\n  \t").2.ignored, None);
    assert_eq!(user("@daily a\n").2.ignored, None);
    // The first reason wins, as Debian stops there.
    let both = user("@daily a\n0/5 * * * * b\n@daily c").2;
    assert_eq!(both.ignored.as_deref(), Some("it refuses line 2"));
    let bom = user("\u{feff}@daily a\n").2;
    assert!(bom.ignored.unwrap().contains("byte-order mark"));
    // Debian reads no job past line 10,003.
    let long = format!("{}@daily a\n", "#\n".repeat(10_003));
    assert_eq!(
        user(&long).2.ignored.as_deref(),
        Some("it reads no job or variable past line 10003")
    );
    let fits = format!("{}@daily a\n", "#\n".repeat(10_002));
    assert_eq!(user(&fits).2.ignored, None);
}

#[test]
fn dos_line_endings_are_noted_and_a_blank_one_is_refused() {
    let (jobs, _, out) = user("A=1\r\n@daily a\r\n@daily b\r\n");
    assert_eq!(jobs["a"]["command"], "a");
    assert_eq!(jobs["a"]["env"], json!({"A": "1"}));
    let notes = messages(&out.notes);
    assert!(notes[0].starts_with("line 2: the line (and 1 more lines) ends in a carriage return"));
    let blank = user("@daily a\r\n\r\n").2;
    assert!(
        blank.problems[0]
            .message
            .contains("blank but for a carriage return")
    );
    assert_eq!(blank.ignored.as_deref(), Some("it refuses line 2"));
}

#[test]
fn variables_are_read_as_load_env_does_and_reach_the_jobs_below() {
    let text = "@daily first\nA = \"two words \"\nB='x=1'\nC=\"'q'\"\nD=  spaced value  \n\
            \"E F\"=1\nCRON_TZ=America/New_York\n@daily second\nA=again\n\
            MAILTO=a@x.org, b@x.org\nMAILTO=\"it's\"\n@daily third\n";
    let (jobs, _, out) = user(text);
    assert!(out.problems.is_empty(), "{:?}", out.problems);
    assert_eq!(
        jobs["first"],
        json!({"schedule": "@daily", "command": "first"})
    );
    // Debian schedules by the host's zone: CRON_TZ is a variable like any other.
    let second = json!({"schedule": "@daily", "command": "second",
            "env": {"A": "two words", "B": "x=1", "C": "q", "D": "spaced value",
                    "E F": "1", "CRON_TZ": "America/New_York"}});
    assert_eq!(jobs["second"], second);
    assert_eq!(jobs["third"]["env"]["A"], "again");
    assert_eq!(jobs["third"]["timezone"], Value::Null);
    let tz = &out.notes[0];
    assert_eq!(tz.line, 7);
    assert!(
        tz.message
            .contains("CRON_TZ only reaches the commands as a variable")
    );
    assert!(tz.message.contains("`timezone: \"America/New_York\"`"));
    assert_eq!(jobs["third"]["notify"][0]["email"], "it's");
    assert_eq!(
        out.notes.len(),
        3,
        "the CRON_TZ and one note per MAILTO line"
    );
    assert_eq!(mail_addresses("a@x.org, b@x.org"), "a@x.org, b@x.org");
    assert_eq!(mail_addresses("a@x.org b@x.org,c"), "a@x.org, b@x.org, c");
}

#[test]
fn one_mailto_for_the_whole_file_is_one_notify_in_defaults() {
    let (jobs, _, out) = user("MAILTO=ops@example.com\n@daily a\n@hourly b\n");
    assert_eq!(out.yaml.matches("notify").count(), 1, "{}", out.yaml);
    let doc: Value = serde_saphyr::from_str(&out.yaml).unwrap();
    assert_eq!(
        doc["defaults"]["notify"],
        json!([{"email": "ops@example.com", "on": ["failing"]}])
    );
    assert_eq!(jobs["a"]["notify"], Value::Null);
    // A job outside the MAILTO keeps it off the defaults.
    let (jobs, _, out) = user("@daily a\nMAILTO=ops@example.com\n@hourly b\n");
    assert!(!out.yaml.contains("defaults:"));
    assert_eq!(jobs["a"]["notify"], Value::Null);
    assert_eq!(jobs["b"]["notify"][0]["on"], json!(["failing"]));
    // What the import writes, the schedule loader takes.
    let schedule = crate::schedule::load(&out.yaml, "crontab.yaml", chrono_tz::UTC).unwrap();
    let b = schedule.job("b").unwrap();
    assert_eq!(
        b.notify,
        [crate::schedule::NotifyTarget {
            to: crate::schedule::Target::Email("ops@example.com".into()),
            on: vec![crate::schedule::NotifyEvent::Failing],
        }]
    );
}

#[test]
fn the_stock_debian_etc_crontab_converts_with_names_from_its_directories() {
    let (jobs, names, out) = import(DEBIAN_12_ETC_CRONTAB, CrontabFormat::System);
    assert_eq!(
        names,
        ["cron-hourly", "cron-daily", "cron-weekly", "cron-monthly"]
    );
    assert!(out.problems.is_empty() && out.ignored.is_none(), "{out:?}");
    let env = json!({"SHELL": "/bin/sh",
            "PATH": "/usr/local/sbin:/usr/local/bin:/sbin:/bin:/usr/sbin:/usr/bin"});
    // The example block above the first job is no description of it.
    assert_eq!(
        jobs["cron-hourly"],
        json!({"schedule": "17 * * * *", "user": "root",
               "command": "cd / && run-parts --report /etc/cron.hourly", "env": env})
    );
    assert_eq!(jobs["cron-weekly"]["schedule"], "47 6 * * 7");
    assert_eq!(jobs["cron-monthly"]["schedule"], "52 6 1 * *");
    assert_eq!(
        jobs["cron-daily"]["command"],
        "test -x /usr/sbin/anacron || { cd / && run-parts --report /etc/cron.daily; }"
    );
}

#[test]
fn stock_headers_and_commented_out_jobs_are_no_description() {
    let text = "# Edit this file to introduce tasks to be run by cron.\n# \n\
            # For example, you can run a backup of all your user accounts\n\
            # at 5 a.m every week with:\n# 0 5 * * 1 tar -zcf /var/backups/home.tgz /home/\n\
            # \n# m h  dom mon dow   command\n@daily first\n\
            # Rotate the logs\n#30 2 * * * /usr/bin/old-rotate\n# MAILTO=me@x.org\n@daily second\n\
            # DO NOT EDIT THIS FILE - edit the master and reinstall.\n\
            # (/tmp/crontab.XXXXF installed on Mon Jan  5 10:00:00 2026)\n\
            # (Cron version -- $Id: crontab.c,v 2.13 1994/01/17 03:20:37 vixie Exp $)\n@daily third\n";
    let (jobs, _, _) = user(text);
    assert_eq!(jobs["first"]["description"], Value::Null);
    assert_eq!(jobs["second"]["description"], "Rotate the logs");
    assert_eq!(jobs["third"]["description"], Value::Null);
}

#[test]
fn a_system_crontab_has_a_user_column() {
    let text = "SHELL=/bin/sh\n@reboot  www-data  /srv/app/bin/Warm_Cache.sh\n30 2 * * * root\n\
            0 * * * *\n";
    let (jobs, names, out) = import(text, CrontabFormat::System);
    assert_eq!(names, ["warm-cache-sh"]);
    assert_eq!(jobs["warm-cache-sh"]["user"], "www-data");
    let problems = messages(&out.problems);
    assert_eq!(
        problems,
        [
            format!("line 3: {REFUSED}: there is no command after the user column `root`"),
            format!(
                "line 4: {REFUSED}: a system crontab line needs a user column after the time fields, then the command"
            ),
        ]
    );
    // The blank after the user is the separator; any further ones start the command.
    let (jobs, _, _) = import("@daily root  two  spaces\n", CrontabFormat::System);
    assert_eq!(jobs["two"]["command"], " two  spaces");
}

#[test]
fn a_sixth_field_in_a_user_crontab_is_part_of_the_command_with_a_note() {
    let (jobs, _, out) = user("0 0 12 * * MON /usr/bin/report\n");
    assert_eq!(jobs["mon"]["schedule"], "0 0 12 * *");
    assert_eq!(jobs["mon"]["command"], "MON /usr/bin/report");
    assert!(
        out.notes[0]
            .message
            .contains("`MON`, which looks like a sixth time field")
    );
}

#[test]
fn a_system_crontab_read_as_a_users_is_plain_to_see() {
    let users = |name: &str| ["root", "www-data", "mail"].contains(&name);
    let system = "SHELL=/bin/sh\n# c\n17 * * * * root cd / && run-parts /etc/cron.hourly\n\
            @reboot www-data /srv/warm\n";
    assert_eq!(system_evidence(system, &users), Some((3, "root".into())));
    // One line whose sixth word happens to be a user (`mail`) is no evidence.
    let mixed = "0 8 * * * mail -s hi me@x.org\n0 9 * * * /usr/bin/report\n";
    assert_eq!(system_evidence(mixed, &users), None);
    assert_eq!(
        system_evidence("17 * * * * root\n", &users),
        None,
        "no command"
    );
    assert_eq!(system_evidence("# nothing\n", &users), None);
}

#[test]
fn names_come_from_the_meaningful_word_and_are_unique() {
    let text = "@hourly backup\n@hourly /opt/bin/backup --db\n@hourly backup-2\n\
            @hourly LANG=C TZ=UTC /usr/bin/Report.PY\n@hourly cd /srv; ./Sync\n\
            @hourly cd /srv && 'backup'\n@hourly \"\"\n\
            @hourly ./a-long-name-that-goes-on-and-on-and-on-and-on\n\
            @hourly sh -c 'exec /srv/bin/queue-worker --once'\n\
            @hourly sudo -u app /srv/bin/queue-worker\n";
    let names = user(text).1;
    let long = "a-long-name-that-goes-on-and-on-and-on-a";
    let unique = [
        "backup",
        "backup-2",
        "backup-2-2",
        "report-py",
        "sync",
        "backup-3",
    ];
    assert_eq!(names[..6], unique);
    assert_eq!(names[6..], ["job", long, "queue-worker", "queue-worker-2"]);
}

#[test]
fn an_empty_crontab_has_no_jobs() {
    let (jobs, _, out) = user("# nothing\n\nMAILTO=\"\"\n");
    assert!(out.yaml.ends_with("\njobs: {}\n"));
    assert_eq!(jobs, json!({}));
    assert!(out.problems.is_empty() && out.notes.is_empty());
}

#[test]
fn odd_strings_stay_yaml_strings() {
    let text = "no=\u{7f}\n# 'quoted' ## \"desc\": yes\n\
            0 0 * * * echo \"a: b\" #c \\\\ \t*\n@daily 123\n@daily true\n";
    let (jobs, names, _) = user(text);
    assert_eq!(names, ["echo", "\"123\"", "\"true\""]);
    let echo = json!({"description": "'quoted' ## \"desc\": yes", "schedule": "0 0 * * *",
            "command": "echo \"a: b\" #c \\ \t*", "env": {"no": "\u{7f}"}});
    assert_eq!(jobs["echo"], echo);
    assert_eq!(jobs["123"]["command"], "123");
    assert_eq!(jobs["true"]["command"], "true");
}

#[test]
fn a_line_with_a_nul_is_left_out_and_quoted_escaped() {
    // Found by the property tests: the NUL reached the command, and `cronq check`
    // refuses a command holding one, so the import's YAML did not load.
    let text = "A=x\0y\n@daily echo \0 %% > $HOME\n@hourly date\n";
    let out = import_crontab(text, CrontabFormat::User);
    assert_eq!(
        messages(&out.problems),
        [
            "line 1: cannot convert `A=x\\0y`: it holds a NUL character (`\\0`)",
            "line 2: cannot convert `@daily echo \\0 %% > $HOME`: it holds a NUL character (`\\0`)",
        ]
    );
    assert_eq!(out.schedules.len(), 1);
    let loaded = crate::schedule::load(&out.yaml, "imported.yaml", chrono_tz::Tz::UTC).unwrap();
    assert_eq!(loaded.jobs.len(), 1);
    assert!(loaded.jobs[0].env.is_empty(), "{:?}", loaded.jobs[0].env);
}

#[test]
fn a_system_line_whose_user_holds_a_control_character_is_left_out() {
    let out = import_crontab("@daily ro\u{1}ot true\n", CrontabFormat::System);
    assert_eq!(
        messages(&out.problems),
        [
            "line 1: cannot convert `@daily ro\\u{1}ot true`: the user `ro\\u{1}ot` holds a control character, which no user name has"
        ]
    );
}
