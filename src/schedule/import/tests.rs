//! Tests of the crontab import: the mapping of each crontab feature, and YAML that reads back.

use super::*;
use serde_json::{Value, json};

const CRONTAB: &str = r#"# m h dom mon dow command
SHELL=/bin/bash
PATH=/usr/local/bin:/usr/bin:/bin
MAILTO=ops@example.com
CRON_TZ=Europe/Berlin

# Nightly database backup,
# before the 03:00 report.
30 2 * * * /usr/local/bin/backup --full

0 8 * * mon  mail -s "Weekly report" team@example.com%Hello team,%it's 100\% done.
MAILTO=""
@reboot /usr/local/bin/backup --check
-@daily cd /srv/app && php artisan cache:clear
61 * * * * broken
"#;

/// Imports `text`; gives `jobs:` as the loader's YAML parser reads it, and the names
/// in file order.
fn import(text: &str, format: CrontabFormat) -> (Value, Vec<String>, Imported) {
    let out = import_crontab(text, format);
    let doc: Value = serde_saphyr::from_str(&out.yaml).expect("the import is valid YAML");
    let names = out
        .yaml
        .lines()
        .filter(|l| l.starts_with("  ") && !l.starts_with("   "));
    let names = names
        .map(|l| l.trim().trim_end_matches(':').to_string())
        .collect();
    (doc["jobs"].clone(), names, out)
}

fn messages(problems: &[LineProblem]) -> Vec<String> {
    problems.iter().map(ToString::to_string).collect()
}

#[test]
fn a_user_crontab_converts_to_this_exact_yaml() {
    let (jobs, names, out) = import(CRONTAB, CrontabFormat::User);
    let tz = "    timezone: \"Europe/Berlin\"\n";
    let env = "    env:\n      SHELL: \"/bin/bash\"\n      PATH: \"/usr/local/bin:/usr/bin:/bin\"";
    let mail = r#"    on_failure: "echo \"cronq: job $CRONQ_JOB run $CRONQ_RUN_ID ended $CRONQ_STATUS; see: cronq show $CRONQ_RUN_ID\" | mail -s \"cronq: $CRONQ_JOB $CRONQ_STATUS\" 'ops@example.com'""#;
    let expected = format!(
        r#"# Imported from a crontab by cronq import; check it with: cronq check
jobs:
  backup:
    description: "Nightly database backup, before the 03:00 report."
    schedule: "30 2 * * *"
{tz}    command: ["/bin/bash", "-c", "/usr/local/bin/backup --full"]
{mail}
{env}
  mail:
    schedule: "0 8 * * mon"
{tz}    command: ["/bin/bash", "-c", "printf '%s\\n' 'Hello team,' 'it'\\''s 100% done.' | mail -s \"Weekly report\" team@example.com"]
{mail}
{env}
  backup-2:
    schedule: "@reboot"
{tz}    command: ["/bin/bash", "-c", "/usr/local/bin/backup --check"]
{env}
  php:
    schedule: "@daily"
{tz}    command: ["/bin/bash", "-c", "cd /srv/app && php artisan cache:clear"]
{env}
"#
    );
    assert_eq!(out.yaml, expected);
    let broken =
        "line 15: cannot convert `61 * * * * broken`: minute field `61`: 61 is out of range 0-59";
    assert_eq!(messages(&out.problems), [broken]);
    let notes = messages(&out.notes);
    assert!(notes[0].starts_with("line 4: cron mailed every output of the jobs below"));
    assert_eq!(notes[1..], [format!("line 11: {STDIN_NOTE}")]);

    // What the loader reads back.
    assert_eq!(names, ["backup", "mail", "backup-2", "php"]);
    let on_failure = jobs["backup"]["on_failure"].clone();
    assert!(
        on_failure
            .as_str()
            .unwrap()
            .starts_with("echo \"cronq: job $CRONQ_JOB run")
    );
    let backup = json!({
            "description": "Nightly database backup, before the 03:00 report.",
            "schedule": "30 2 * * *", "timezone": "Europe/Berlin",
            "command": ["/bin/bash", "-c", "/usr/local/bin/backup --full"],
            "env": {"SHELL": "/bin/bash", "PATH": "/usr/local/bin:/usr/bin:/bin"},
            "on_failure": on_failure});
    assert_eq!(jobs["backup"], backup);
    let stdin = r#"printf '%s\n' 'Hello team,' 'it'\''s 100% done.' | mail -s "Weekly report" team@example.com"#;
    assert_eq!(jobs["mail"]["command"][2], stdin);
    assert_eq!(jobs["backup-2"]["on_failure"], Value::Null, "MAILTO=\"\"");
}

#[test]
fn a_system_crontab_has_a_user_column() {
    let text = "SHELL=/bin/sh\nPATH=/usr/bin:/bin\n\n# Example:\n\n\
            17 *\t* * *\troot\tcd / && run-parts --report /etc/cron.hourly\n\
            25 6 * * * root test -x /usr/sbin/anacron || run-parts /etc/cron.daily\n\
            @reboot  www-data  /srv/app/bin/Warm_Cache.sh\n30 2 * * * root\n";
    let (jobs, names, out) = import(text, CrontabFormat::System);
    assert_eq!(names, ["run-parts", "test", "warm-cache-sh"]);
    // No description: a blank line parts the comment from the job.
    let hourly = json!({"schedule": "17 * * * *", "user": "root",
            "command": "cd / && run-parts --report /etc/cron.hourly",
            "env": {"SHELL": "/bin/sh", "PATH": "/usr/bin:/bin"}});
    assert_eq!(jobs["run-parts"], hourly);
    assert_eq!(jobs["warm-cache-sh"]["user"], "www-data");
    let problem =
        "line 9: cannot convert `30 2 * * * root`: there is no command after the schedule";
    assert_eq!(messages(&out.problems), [problem]);
    let no_user = import_crontab("0 * * * *", CrontabFormat::System).problems;
    let no_user = &no_user[0].message;
    assert!(no_user.ends_with("needs a user column after the schedule"));
}

#[test]
fn percent_feeds_standard_input_with_printf() {
    let command = |line: &str| {
        let (jobs, names, _) = import(line, CrontabFormat::User);
        jobs[&names[0]]["command"].as_str().unwrap().to_string()
    };
    assert_eq!(command("* * * * * date +\\%F"), "date +%F");
    assert_eq!(command("* * * * * cat%"), "printf '%s\\n' '' | cat");
    let lines = r"printf '%s\n' ' a ' ' b%c' | wc -l";
    assert_eq!(command("* * * * * wc -l % a % b\\%c"), lines);
    let list = r"printf '%s\n' 'b' 'a' | (cd /tmp && sort > out)";
    assert_eq!(command("* * * * * cd /tmp && sort > out%b%a"), list);
    let comment = "printf '%s\\n' 'x' | (a; b # c\n)";
    assert_eq!(command("* * * * * a; b # c%x"), comment);
    assert_eq!(command(r"* * * * * a\nb"), r"a\nb", "a backslash stays");
}

#[test]
fn names_come_from_the_program_and_are_unique() {
    let text = "@hourly backup\n@hourly /opt/bin/backup --db\n@hourly backup-2\n\
            @hourly LANG=C TZ=UTC /usr/bin/Report.PY\n@hourly cd /srv; ./Sync\n\
            @hourly cd /srv && 'backup'\n@hourly \"\"\n\
            @hourly ./a-long-name-that-goes-on-and-on-and-on-and-on\n";
    let names = import(text, CrontabFormat::User).1;
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
    assert_eq!(names[6..], ["job", long]);
}

#[test]
fn variables_reach_only_the_jobs_below_them() {
    let text = "@daily first\nA = \"two words \"\nB='x=1'\nCRON_TZ=America/New_York\n\
            @daily second\nA=again\nCRON_TZ=\nMAILTO=a@x.org, b@x.org\nMAILTO=\"it's\"\n\
            @daily third\n";
    let (jobs, _, out) = import(text, CrontabFormat::User);
    assert_eq!(
        jobs["first"],
        json!({"schedule": "@daily", "command": "first"})
    );
    let second = json!({"schedule": "@daily", "timezone": "America/New_York",
            "command": "second", "env": {"A": "two words ", "B": "x=1"}});
    assert_eq!(jobs["second"], second);
    assert_eq!(jobs["third"]["env"], json!({"A": "again", "B": "x=1"}));
    assert_eq!(jobs["third"]["timezone"], Value::Null);
    let on_failure = jobs["third"]["on_failure"].as_str().unwrap();
    assert!(on_failure.ends_with(r" 'it'\''s'"));
    assert_eq!(out.notes.len(), 2, "one note per MAILTO line");
    let two = mail_on_failure("a@x.org, b@x.org");
    assert!(two.ends_with(" 'a@x.org' 'b@x.org'"));
}

#[test]
fn a_line_that_cannot_convert_is_reported_and_left_out() {
    let text = "* * * echo\n@every 5m echo\n0 0 30 2 * echo\n0 0 * * * %stdin\n\
            CRON_TZ=Mars/Olympus\n@daily under-bad-zone\nCRON_TZ=UTC\n@daily ok\n";
    let (jobs, _, out) = import(text, CrontabFormat::User);
    let lines: Vec<usize> = out.problems.iter().map(|p| p.line).collect();
    assert_eq!(lines, [1, 2, 3, 4, 5, 6]);
    let problems = messages(&out.problems);
    assert!(problems[1].contains("unknown macro `@every`"));
    assert!(problems[2].contains("never fire"));
    assert!(problems[5].ends_with("CRON_TZ on line 5 is not a time zone cronq knows"));
    let ok = json!({"ok": {"schedule": "@daily", "timezone": "UTC", "command": "ok"}});
    assert_eq!(jobs, ok);
}

#[test]
fn an_empty_crontab_has_no_jobs() {
    let (jobs, _, out) = import("# nothing\n\nMAILTO=\"\"\n", CrontabFormat::User);
    assert!(out.yaml.ends_with("\njobs: {}\n"));
    assert_eq!(jobs, json!({}));
    assert!(out.problems.is_empty() && out.notes.is_empty());
}

#[test]
fn odd_strings_stay_yaml_strings() {
    let text = "no=\u{7f}\n# 'quoted' ## \"desc\": yes\n\
            0 0 * * * echo \"a: b\" #c \\\\ \t*\n@daily 123\n@daily true\n";
    let (jobs, names, _) = import(text, CrontabFormat::User);
    assert_eq!(names, ["echo", "\"123\"", "\"true\""]);
    let echo = json!({"description": "'quoted' ## \"desc\": yes", "schedule": "0 0 * * *",
            "command": "echo \"a: b\" #c \\\\ \t*", "env": {"no": "\u{7f}"}});
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
