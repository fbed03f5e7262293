//! The edges of the listings on the built binary, against both stores: a run that never
//! started, times in the host's zone with `--local`, `show --json` against the text,
//! `history --limit 0` and `next -n 0`.

mod common;

use common::both_stores::{Backend, Setup};
use common::{Scratch, texts};

/// A job with arguments, environment and retries, and no schedule: its runs stay queued
/// while no worker runs.
const QUEUED: &str = "\
jobs:
  report:
    command: [\"echo\"]
    allow_args: true
    allow_env: [LEVEL]
    retries: 2
";

impl Setup {
    /// `cronq STORE ARGS` in this setup's directory, with `TZ` set as given.
    fn cronq_in(&self, tz: &str, args: &[&str]) -> (i32, String, String) {
        let output = self
            .scratch
            .cronq()
            .env("TZ", tz)
            .args(self.store_args())
            .args(args)
            .output()
            .unwrap();
        let (stdout, stderr) = texts(&output);
        (output.status.code().unwrap(), stdout, stderr)
    }

    /// A run of `report` queued with `--env LEVEL=3 -- --full "a b"`; its id.
    fn queued_run(&self) -> String {
        self.scratch.write("crontab.yaml", QUEUED);
        let (code, stdout, stderr) = self.cronq_in(
            "UTC",
            &["run", "report", "--env", "LEVEL=3", "--", "--full", "a b"],
        );
        assert_eq!(code, 0, "{stderr}");
        stdout.trim().to_string()
    }
}

crate::both_stores! {
    a_run_that_never_started_shows_a_dash_for_started,
    local_prints_times_in_the_hosts_zone_and_json_stays_utc,
    show_json_holds_every_field_show_prints,
}

/// The cells of the table row that starts with `id`, split on runs of two spaces.
fn row_of<'a>(table: &'a str, id: &str) -> Vec<&'a str> {
    let line = table
        .lines()
        .find(|line| line.starts_with(id))
        .unwrap_or_else(|| panic!("no row for {id} in:\n{table}"));
    line.split("  ")
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .collect()
}

async fn a_run_that_never_started_shows_a_dash_for_started(backend: Backend) {
    let setup = Setup::new(backend);
    let id = setup.queued_run();
    let (code, stdout, stderr) = setup.cronq_in("UTC", &["history"]);
    assert_eq!(code, 0, "{stderr}");
    let cells = row_of(&stdout, &id);
    assert_eq!(cells[2], "queued", "{stdout}");
    // Not its queue time passed off as a start.
    assert_eq!(cells[4], "-", "{stdout}");
    let (_, stdout, _) = setup.cronq_in("UTC", &["show", &id]);
    assert!(stdout.contains("\nstarted at:       -\n"), "{stdout}");
}

async fn local_prints_times_in_the_hosts_zone_and_json_stays_utc(backend: Backend) {
    let setup = Setup::new(backend);
    let id = setup.queued_run();
    let zone = "America/New_York";
    let document: serde_json::Value = {
        let (code, stdout, stderr) = setup.cronq_in(zone, &["show", &id, "--json", "--local"]);
        assert_eq!(code, 0, "{stderr}");
        serde_json::from_str(&stdout).unwrap()
    };
    let queued_at = document["queued_at"].as_str().unwrap().to_string();
    assert!(queued_at.ends_with("+00:00"), "--json is UTC: {queued_at}");
    let at = chrono::DateTime::parse_from_rfc3339(&queued_at).unwrap();
    let local = at.with_timezone(&chrono_tz::America::New_York);
    let offset = local.format("%:z").to_string();
    assert!(offset == "-05:00" || offset == "-04:00", "{offset}");

    // show: every instant with the zone's offset; without --local, UTC as before.
    let (_, stdout, _) = setup.cronq_in(zone, &["show", &id, "--local"]);
    let line = format!(
        "queued at:        {}\n",
        local.to_rfc3339_opts(chrono::SecondsFormat::Secs, false)
    );
    assert!(stdout.contains(&line), "{line:?} in:\n{stdout}");
    let (_, stdout, _) = setup.cronq_in(zone, &["show", &id]);
    assert!(
        stdout.contains(&format!("queued at:        {queued_at}\n")),
        "{stdout}"
    );

    // status: the queued run's QUEUED column, and the same zone as show.
    let clock = |at: chrono::DateTime<chrono_tz::Tz>| at.format("%Y-%m-%d %H:%M:%S%:z").to_string();
    let (code, stdout, stderr) = setup.cronq_in(zone, &["status", "--local"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stdout.contains(&clock(local)),
        "{} in:\n{stdout}",
        clock(local)
    );
    let (_, stdout, _) = setup.cronq_in(zone, &["status"]);
    assert!(
        stdout.contains(&at.format("%Y-%m-%d %H:%M:%SZ").to_string()),
        "{stdout}"
    );

    // history: STARTED of a run that started, in the zone; a queued one stays `-`.
    let (code, stdout, stderr) = setup.cronq_in(zone, &["history", "--local"]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(row_of(&stdout, &id)[4], "-");
    let (code, stdout, _) = setup.cronq_in(zone, &["history", "--json", "--local"]);
    assert_eq!(code, 0);
    assert!(
        stdout.contains(&format!("\"queued_at\": \"{queued_at}\"")),
        "{stdout}"
    );
    // A zone cronq does not know is refused in one sentence, as everywhere.
    let (code, _, stderr) = setup.cronq_in("Mars/Olympus", &["history", "--local"]);
    assert_eq!(code, 2, "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
}

async fn show_json_holds_every_field_show_prints(backend: Backend) {
    let setup = Setup::new(backend);
    let id = setup.queued_run();
    let (code, text, stderr) = setup.cronq_in("UTC", &["show", &id]);
    assert_eq!(code, 0, "{stderr}");
    let (code, json, stderr) = setup.cronq_in("UTC", &["show", &id, "--json"]);
    assert_eq!(code, 0, "{stderr}");
    let json: serde_json::Value = serde_json::from_str(&json).unwrap();
    let fields: Vec<(&str, &str)> = text
        .lines()
        .take_while(|line| !line.starts_with("output:"))
        .map(|line| {
            let (name, value) = line.split_once(':').unwrap();
            (name, value.trim())
        })
        .collect();
    // Each line of the text, and where the JSON holds it.
    let null_or = |value: &serde_json::Value| match value {
        serde_json::Value::Null => "-".to_string(),
        serde_json::Value::String(text) => text.clone(),
        other => other.to_string(),
    };
    for (name, value) in &fields {
        let expected = match *name {
            "id" | "job" | "queue" | "status" | "trigger" | "host" | "worker" | "message"
            | "reason" | "retry of" | "queued at" | "not before" | "started at" | "finished at"
            | "scheduled for" => null_or(&json[name.replace(' ', "_")]),
            "attempt" => format!("{}/{}", json["attempt"], json["max_attempts"]),
            "exit" => null_or(&json["exit_code"]),
            "duration" => match json["duration_s"] {
                serde_json::Value::Null => "-".into(),
                _ => value.to_string(),
            },
            "progress" => null_or(&json["progress"]),
            "args" => {
                assert_eq!(json["args"], serde_json::json!(["--full", "a b"]));
                r#"--full "a b""#.into()
            }
            "env" => {
                assert_eq!(json["env"], serde_json::json!({ "LEVEL": "3" }));
                "LEVEL=3".into()
            }
            "lock" => format!(
                "{} (when busy: {})",
                json["lock"]["name"].as_str().unwrap(),
                json["lock"]["on_busy"].as_str().unwrap()
            ),
            "cancel requested" => match json["cancel_requested"].as_bool().unwrap() {
                true => "yes".into(),
                false => "no".into(),
            },
            // The store is named in the text only; --json is the run.
            "store" => continue,
            other => panic!("show prints `{other}`, which this test does not know"),
        };
        assert_eq!(*value, expected, "{name}");
    }
    assert_eq!(json["max_attempts"], 3);
    assert_eq!(json["output"], "");
    assert_eq!(json["output_bytes"], 0);
    assert_eq!(json["output_dropped_bytes"], 0);
    assert!(json.get("store").is_none(), "{json}");
}

#[test]
fn history_limit_0_is_refused_naming_the_flag() {
    let output = Scratch::new()
        .cronq()
        .args(["history", "--limit", "0"])
        .output()
        .unwrap();
    let (stdout, stderr) = texts(&output);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert_eq!(stdout, "");
    assert_eq!(
        stderr,
        "cronq: --limit 0 would list no runs; give 1 or more (the default is 20)\n"
    );
}

#[test]
fn next_count_0_prints_nothing_and_exits_0() {
    let scratch = Scratch::new();
    scratch.write(
        "crontab.yaml",
        "jobs:\n  yearly:\n    schedule: \"0 0 1 1 *\"\n    command: [\"true\"]\n  by-hand:\n    command: [\"true\"]\n  boot:\n    schedule: \"@reboot\"\n    command: [\"true\"]\n",
    );
    for args in [
        // No instant asked for: no word on why a job or expression has none.
        vec!["next", "--job", "by-hand", "-n", "0"],
        vec!["next", "--job", "boot", "-n", "0"],
        vec!["next", "@reboot", "-n", "0"],
        vec!["next", "* * * * *", "-n", "0"],
        vec!["next", "--job", "yearly", "--count", "0"],
    ] {
        let output = scratch.cronq().args(&args).output().unwrap();
        assert_eq!(texts(&output), (String::new(), String::new()), "{args:?}");
        assert_eq!(output.status.code(), Some(0), "{args:?}");
    }
    let output = scratch
        .cronq()
        .args(["next", "* * * * *", "-n", "0", "--json"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0));
    assert_eq!(texts(&output).0, "{\n  \"fires\": []\n}\n");
}
