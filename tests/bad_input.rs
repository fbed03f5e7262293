//! Bad input never panics: the cron parser, the schedule loader, the crontab importer
//! and the Redis run decoder on random text built from the pieces each one reads
//! (cron tokens, YAML lines, crontab lines, field/value pairs), each property with a
//! small case count so the suite stays quick. The fuzz targets in `fuzz/` try the same
//! properties for as long as one cares to run them; every input either found that broke
//! one is kept here as an example.

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use cronq::cron::Timing;
use cronq::schedule::import::{CrontabFormat, import_crontab};
use proptest::prelude::*;

/// Cases per property: enough to reach every token, few enough to stay under a second.
/// `PROPTEST_CASES=100000 cargo test --test bad_input` tries harder.
const CASES: u32 = 256;

fn config() -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|n| n.parse().ok());
    ProptestConfig {
        cases: cases.unwrap_or(CASES),
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

// ---- the properties, shared by the generated cases and the kept examples ------------------

/// The parser answers; an expression it accepts has strictly increasing fires, in a
/// zone with DST as in UTC.
fn parse_holds(text: &str) {
    let Ok(timing) = text.parse::<Timing>() else {
        return;
    };
    let after: DateTime<Utc> = "2026-03-07T06:59:30Z".parse().unwrap();
    for zone in [Tz::UTC, Tz::America__New_York, Tz::Australia__Lord_Howe] {
        let mut last = after;
        for at in timing.fires(after, zone).take(3) {
            let utc = at.with_timezone(&Utc);
            assert!(utc > last, "`{text}` in {zone}: {utc} after {last}");
            last = utc;
            if let Timing::Cron(expr) = &timing {
                let _ = expr.explain(&at);
            }
        }
    }
}

/// The loader answers; a refused file says why, at a position in it.
fn load_holds(text: &str) {
    if let Err(diagnostics) = cronq::schedule::load(text, "fuzz.yaml", Tz::UTC) {
        assert!(!diagnostics.is_empty(), "a refused file says why");
        for d in &diagnostics {
            assert!(d.line >= 1 && d.column >= 1, "{d}");
            assert!(!d.to_string().contains(['\0', '\r']), "{d:?}");
        }
    }
}

/// The importer answers in both formats, and what it writes loads with one job per
/// converted line.
fn import_holds(text: &str) {
    for format in [CrontabFormat::User, CrontabFormat::System] {
        let imported = import_crontab(text, format);
        match cronq::schedule::load(&imported.yaml, "imported.yaml", Tz::UTC) {
            Ok(schedule) => assert_eq!(
                schedule.jobs.len(),
                imported.schedules.len(),
                "{format:?} import of {text:?} wrote:\n{}",
                imported.yaml
            ),
            Err(diagnostics) => panic!(
                "{format:?} import of {text:?} wrote YAML that does not load:\n{}\n{diagnostics:?}",
                imported.yaml
            ),
        }
    }
}

/// The decoder answers: a run or an error, whatever the hash holds.
fn decode_holds(pairs: &[(Vec<u8>, Vec<u8>)]) {
    let pairs: Vec<(&[u8], &[u8])> = pairs
        .iter()
        .map(|(n, v)| (n.as_slice(), v.as_slice()))
        .collect();
    if let Ok(run) = cronq::store::redis::decode_run(&pairs) {
        let _ = run.duration_s(Utc::now());
    }
}

// ---- generators ---------------------------------------------------------------------------

/// Pieces of cron expressions, right and wrong.
fn cron_token() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => (0u64..70).prop_map(|n| n.to_string()),
        1 => any::<u64>().prop_map(|n| n.to_string()),
        6 => prop::sample::select(vec![
            "*", "/", "-", ",", " ", " ", "  ", "\t", "L", "W", "LW", "#", "?", "5L", "5#3",
            "jan", "DEC", "mon", "Sun", "@every", "@every ", "@daily", "@reboot", "@yearly",
            "@hourly", "90s", "1h30m", "0s", "ms", "1.5", "+", "\u{0}", "é", "99999999999999999999",
        ])
        .prop_map(str::to_owned),
        1 => "\\PC{0,3}",
    ]
}

fn cron_text() -> impl Strategy<Value = String> {
    prop::collection::vec(cron_token(), 0..24).prop_map(|tokens| tokens.concat())
}

/// A YAML line: indentation, a key (one cronq knows, or not) and a value of some kind.
fn yaml_line() -> impl Strategy<Value = String> {
    let indent = (0usize..4).prop_map(|n| "  ".repeat(n));
    let key = prop::sample::select(vec![
        "jobs",
        "defaults",
        "backup",
        "a-b",
        "schedule",
        "command",
        "timezone",
        "queue",
        "timeout",
        "kill_grace",
        "retries",
        "concurrency",
        "lock",
        "catch_up",
        "starting_deadline",
        "jitter",
        "env",
        "workdir",
        "user",
        "allow_args",
        "keep",
        "succeeded",
        "failed",
        "max_age",
        "on_failure",
        "description",
        "PATH",
        "- ",
        "? ",
        "\"q\"",
        "&a ",
        "*a",
        "x\u{0}",
    ]);
    let value = prop_oneof![
        prop::sample::select(vec![
            "",
            " \"30 2 * * *\"",
            " \"@every 90s\"",
            " \"0 0 30 2 *\"",
            " [/bin/echo, hi]",
            " [\"a\\0b\"]",
            " \"x\\0\"",
            " \"\\r\\e\"",
            " 5m",
            " 0s",
            " -1",
            " 99999999999999999999",
            " 1.5",
            " true",
            " null",
            " ~",
            " {}",
            " []",
            " {a: 1}",
            " [",
            " {",
            " |",
            " >-",
            " !!str 1",
            " &anchor x",
            " *anchor",
            " Europe/Berlin",
            " Mars/Olympus",
            " forbid",
            " cluster",
            " once",
            " 'it''s'",
            " \"\\u0000\"",
            " #c",
            " :",
            " - x",
        ])
        .prop_map(str::to_owned),
        "[ -~]{0,12}".prop_map(|s| format!(" {s}")),
    ];
    (indent, key, value).prop_map(|(indent, key, value)| format!("{indent}{key}:{value}"))
}

fn yaml_text() -> impl Strategy<Value = String> {
    let lines = prop::collection::vec(yaml_line(), 0..16);
    (any::<bool>(), lines).prop_map(|(head, lines)| {
        let head = if head { "jobs:\n" } else { "" };
        format!("{head}{}\n", lines.join("\n"))
    })
}

/// A crontab line: a comment, a variable, or a schedule and a command.
fn crontab_line() -> impl Strategy<Value = String> {
    let word = prop::sample::select(vec![
        "echo",
        "/usr/bin/backup",
        "root",
        "nobody",
        "--full",
        "%",
        "\\%",
        "%%",
        "a%b",
        "'",
        "\"",
        ";",
        "&&",
        "|",
        ">",
        "2>&1",
        "$HOME",
        "`x`",
        "\\",
        "-",
        "cd /srv",
        "é",
        "\u{0}",
        "#",
        "=",
        ":",
    ]);
    let command = prop::collection::vec(word, 0..6).prop_map(|w| w.join(" "));
    let variable = prop::sample::select(vec![
        "SHELL=/bin/bash",
        "SHELL=/bin/sh",
        "MAILTO=ops@example.com",
        "MAILTO=",
        "MAILTO=\"\"",
        "CRON_TZ=Europe/Berlin",
        "CRON_TZ=Nowhere/Land",
        "PATH=/usr/bin:/bin",
        "A = b",
        "X='quoted value'",
        "Y=\"a\\\"b\"",
        "=x",
        "Z=a\u{0}b",
    ])
    .prop_map(str::to_owned);
    let fields = prop::collection::vec(cron_token(), 1..6).prop_map(|t| t.join(" "));
    prop_oneof![
        1 => "#[ -~]{0,10}".prop_map(|s| s),
        2 => variable,
        6 => (any::<bool>(), fields, command).prop_map(|(dash, fields, command)| {
            format!("{}{fields} {command}", if dash { "-" } else { "" })
        }),
        1 => "[ -~\t]{0,20}",
    ]
}

fn crontab_text() -> impl Strategy<Value = String> {
    prop::collection::vec(crontab_line(), 0..8).prop_map(|lines| lines.join("\n"))
}

/// A hash field: one the decoder reads, or not, with a value that may be one it takes.
fn run_field() -> impl Strategy<Value = (Vec<u8>, Vec<u8>)> {
    let name = prop_oneof![
        8 => prop::sample::select(vec![
            "id", "job", "queue", "status", "trigger", "attempt", "max_attempts", "queued_at",
            "started_at", "finished_at", "scheduled_for", "not_before", "exit_code", "signal",
            "progress", "args", "env", "lock_name", "lock_on_busy", "cancel_requested",
            "retry_of", "host", "worker", "message", "reason", "seq", "token",
        ])
        .prop_map(|s| s.as_bytes().to_vec()),
        1 => prop::collection::vec(any::<u8>(), 0..8),
    ];
    let value = prop_oneof![
        3 => prop::sample::select(vec![
            "queued", "running", "succeeded", "failed", "timed_out", "lost", "skipped", "nope",
            "schedule", "manual", "retry", "catch_up", "skip", "wait", "1", "0", "-1", "",
            "1780000000000", "8640000000000000", "-8640000000000001", "9223372036854775807",
            "-9223372036854775808", "18446744073709551616", "4294967296", "255", "256", "1e3",
            "[]", "[\"a\"]", "[1]", "{}", "{\"K\":\"v\"}", "{\"K\":1}", "[", "null", "\"s\"",
        ])
        .prop_map(|s| s.as_bytes().to_vec()),
        1 => any::<i64>().prop_map(|n| n.to_string().into_bytes()),
        1 => prop::collection::vec(any::<u8>(), 0..12),
    ];
    (name, value)
}

/// A record that decodes: what the hash of a finished run holds.
fn whole_record() -> Vec<(Vec<u8>, Vec<u8>)> {
    [
        ("id", "01J0000000000000000000000"),
        ("job", "backup"),
        ("queue", "default"),
        ("status", "succeeded"),
        ("trigger", "schedule"),
        ("attempt", "1"),
        ("max_attempts", "3"),
        ("queued_at", "1780000000000"),
        ("started_at", "1780000001000"),
        ("finished_at", "1780000002000"),
    ]
    .iter()
    .map(|(n, v)| (n.as_bytes().to_vec(), v.as_bytes().to_vec()))
    .collect()
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn the_cron_parser_answers_any_cron_ish_text(text in cron_text()) {
        parse_holds(&text);
    }

    #[test]
    fn the_cron_parser_answers_any_text(text in "\\PC{0,40}") {
        parse_holds(&text);
    }

    #[test]
    fn the_schedule_loader_answers_any_yaml_ish_text(text in yaml_text()) {
        load_holds(&text);
    }

    #[test]
    fn the_crontab_importer_writes_yaml_that_loads(text in crontab_text()) {
        import_holds(&text);
    }

    #[test]
    fn the_run_decoder_answers_any_hash(pairs in prop::collection::vec(run_field(), 0..30)) {
        decode_holds(&pairs);
    }

    #[test]
    fn the_run_decoder_answers_a_whole_record_with_one_field_changed(
        field in run_field(),
        at in 0usize..10,
    ) {
        let mut pairs = whole_record();
        pairs[at] = field;
        decode_holds(&pairs);
    }
}

/// The hash a `run_decode` fuzz input stands for: one `field<TAB>value` per line.
fn pairs_of(bytes: &[u8]) -> Vec<(Vec<u8>, Vec<u8>)> {
    bytes
        .split(|&b| b == b'\n')
        .map(|line| match line.iter().position(|&b| b == b'\t') {
            Some(tab) => (line[..tab].to_vec(), line[tab + 1..].to_vec()),
            None => (line.to_vec(), Vec::new()),
        })
        .collect()
}

/// Every input that once broke a property, kept in `fuzz/regressions/TARGET/` (the
/// fuzzers' crash files as they wrote them, and the property tests' shrunk cases),
/// replayed through the same property.
#[test]
fn every_input_that_broke_a_property_holds_now() {
    let kept = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/regressions");
    let text_targets = [
        ("cron_parse", parse_holds as fn(&str)),
        ("schedule_load", load_holds),
        ("crontab_import", import_holds),
    ];
    let mut replayed = 0;
    for (target, holds) in text_targets {
        for bytes in kept_inputs(&kept.join(target)) {
            // The targets read only UTF-8, as the callers hand them text.
            if let Ok(text) = std::str::from_utf8(&bytes) {
                holds(text);
                replayed += 1;
            }
        }
    }
    for bytes in kept_inputs(&kept.join("run_decode")) {
        decode_holds(&pairs_of(&bytes));
        replayed += 1;
    }
    assert!(
        replayed >= 20,
        "only {replayed} kept inputs found in {}",
        kept.display()
    );
}

fn kept_inputs(dir: &std::path::Path) -> Vec<Vec<u8>> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    entries
        .map(|entry| std::fs::read(entry.unwrap().path()).unwrap())
        .collect()
}

#[test]
fn a_whole_record_decodes() {
    let pairs = whole_record();
    let pairs: Vec<(&[u8], &[u8])> = pairs.iter().map(|(n, v)| (&n[..], &v[..])).collect();
    let run = cronq::store::redis::decode_run(&pairs).unwrap();
    assert_eq!(
        (run.job.as_str(), run.duration_s(Utc::now())),
        ("backup", Some(1.0))
    );
}
