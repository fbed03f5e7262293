//! A queued run is data, never code: runs written straight into the store, as someone
//! with access to it could write them (an unknown job, args its job does not take, an
//! environment that would change what runs, fields that do not decode, a 200 MB field),
//! are refused by a real `cronq daemon` on both stores. Each ends `failed` with a reason
//! that says why, the queue goes on, and nothing but the schedule's command ever runs:
//! a planted `sh` on a crafted `PATH` and a planted `LD_PRELOAD` library would each
//! leave a mark.

mod common;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use common::both_stores::{Backend, Setup};
use common::daemon::{Process, eventually};
use common::texts;
use cronq::store::redis::RedisStore;
use cronq::store::sqlite::SqliteStore;
use cronq::store::{Run, RunStatus, Store, new_run_id};

const PATIENCE: Duration = Duration::from_secs(20);

crate::both_stores! {
    crafted_runs_are_refused_and_only_the_schedules_command_runs,
}

/// A value of a crafted field.
#[derive(Clone)]
enum Field {
    Text(String),
    Int(i64),
}

fn text(value: &str) -> Field {
    Field::Text(value.to_string())
}

/// A crafted run: what it tries, its fields, and the start of the reason it must fail with.
type Case<'a> = (&'a str, Vec<(&'a str, Field)>, String);

/// What is planted for a run that would get past the checks: an `sh`, `echo` and
/// `touch` that write to `evil.log`, and (with a C compiler) a library whose
/// constructor does.
struct Planted {
    bin: PathBuf,
    library: Option<PathBuf>,
    log: PathBuf,
}

fn plant(dir: &Path) -> Planted {
    let bin = dir.join("evil");
    std::fs::create_dir_all(&bin).unwrap();
    let log = dir.join("evil.log");
    for program in ["sh", "echo", "touch"] {
        let path = bin.join(program);
        std::fs::write(
            &path,
            format!("#!/bin/sh\necho {program} >> {}\n", log.display()),
        )
        .unwrap();
        let mode = std::os::unix::fs::PermissionsExt::from_mode(0o755);
        std::fs::set_permissions(&path, mode).unwrap();
    }
    let source = dir.join("evil.c");
    std::fs::write(
        &source,
        format!(
            "#include <stdio.h>\n__attribute__((constructor)) static void evil(void) {{\n  \
             FILE *f = fopen(\"{}\", \"a\");\n  if (f) {{ fputs(\"preload\\n\", f); fclose(f); }}\n}}\n",
            log.display()
        ),
    )
    .unwrap();
    let library = dir.join("evil.so");
    let built = std::process::Command::new("cc")
        .args(["-shared", "-fPIC", "-o"])
        .arg(&library)
        .arg(&source)
        .status();
    let library = match built {
        Ok(status) if status.success() => Some(library),
        _ => {
            eprintln!("no C compiler: the LD_PRELOAD library is not planted");
            None
        }
    };
    // The plants work: run as code, each one writes its mark.
    if let Some(library) = &library {
        let status = std::process::Command::new("/bin/true")
            .env("LD_PRELOAD", library)
            .status()
            .unwrap();
        assert!(status.success());
        assert!(log.exists(), "the planted library writes its mark");
        std::fs::remove_file(&log).unwrap();
    }
    Planted { bin, library, log }
}

/// The store of the test, opened through the library, and how to write runs into it
/// behind its back.
struct Crafter {
    store: Arc<dyn Store>,
    sqlite: Option<PathBuf>,
    redis: Option<(::redis::aio::MultiplexedConnection, String)>,
}

impl Crafter {
    async fn new(setup: &Setup) -> Crafter {
        match &setup.redis {
            None => {
                let path = setup.dir().join("state/cronq/cronq.db");
                let store = SqliteStore::open(&path, 1 << 20).expect("the default store");
                Crafter {
                    store: Arc::new(store),
                    sqlite: Some(path),
                    redis: None,
                }
            }
            Some((server, prefix)) => {
                let store = RedisStore::connect(&server.url(), prefix, 1 << 20)
                    .await
                    .unwrap();
                let client = ::redis::Client::open(server.url()).unwrap();
                // Writing 200 MB takes longer than the default response timeout.
                let config = ::redis::AsyncConnectionConfig::new()
                    .set_response_timeout(Some(Duration::from_secs(60)));
                let connection = client
                    .get_multiplexed_async_connection_with_config(&config)
                    .await
                    .unwrap();
                Crafter {
                    store: Arc::new(store),
                    sqlite: None,
                    redis: Some((connection, prefix.clone())),
                }
            }
        }
    }

    /// Writes a queued run of `target` on queue `default`, with `fields` over those of a
    /// plain one, as the backend lays a run out; its id.
    async fn craft(&mut self, fields: &[(&str, Field)]) -> String {
        let id = new_run_id();
        let now = chrono::Utc::now().timestamp_millis();
        let mut all: Vec<(&str, Field)> = vec![
            ("id", text(&id)),
            ("job", text("target")),
            ("queue", text("default")),
            ("status", text("queued")),
            ("trigger", text("manual")),
            ("attempt", Field::Int(1)),
            ("max_attempts", Field::Int(1)),
            ("queued_at", Field::Int(now)),
            ("args", text("[]")),
            ("env", text("{}")),
        ];
        for (name, value) in fields {
            all.retain(|(field, _)| field != name);
            all.push((name, value.clone()));
        }
        if let Some(path) = &self.sqlite {
            let db = rusqlite::Connection::open(path).unwrap();
            db.busy_timeout(Duration::from_secs(5)).unwrap();
            let columns: Vec<&str> = all
                .iter()
                .map(|(name, _)| {
                    if *name == "trigger" {
                        "trigger_kind"
                    } else {
                        name
                    }
                })
                .collect();
            let marks: Vec<String> = (1..=all.len()).map(|i| format!("?{i}")).collect();
            let sql = format!(
                "INSERT INTO runs ({}) VALUES ({})",
                columns.join(", "),
                marks.join(", ")
            );
            let values = all.iter().map(|(_, value)| match value {
                Field::Text(text) => rusqlite::types::Value::Text(text.clone()),
                Field::Int(n) => rusqlite::types::Value::Integer(*n),
            });
            db.execute(&sql, rusqlite::params_from_iter(values))
                .unwrap();
        }
        if let Some((redis, prefix)) = &mut self.redis {
            let seq: i64 = ::redis::cmd("INCR")
                .arg(format!("{prefix}seq"))
                .query_async(redis)
                .await
                .unwrap();
            let mut hset = ::redis::cmd("HSET");
            hset.arg(format!("{prefix}run:{id}")).arg("seq").arg(seq);
            for (name, value) in &all {
                match value {
                    Field::Text(text) => hset.arg(name).arg(text),
                    Field::Int(n) => hset.arg(name).arg(n),
                };
            }
            let job = all.iter().find_map(|(name, value)| match (name, value) {
                (&"job", Field::Text(job)) => Some(job.clone()),
                _ => None,
            });
            ::redis::pipe()
                .add_command(hset)
                .cmd("ZADD")
                .arg(format!("{prefix}history"))
                .arg(seq)
                .arg(&id)
                .cmd("ZADD")
                .arg(format!("{prefix}history:{}", job.unwrap_or_default()))
                .arg(seq)
                .arg(&id)
                .cmd("ZADD")
                .arg(format!("{prefix}ready:default"))
                .arg(seq)
                .arg(&id)
                .cmd("SADD")
                .arg(format!("{prefix}queues"))
                .arg("default")
                .cmd("LPUSH")
                .arg(format!("{prefix}wake:default"))
                .arg("1")
                .query_async::<()>(redis)
                .await
                .unwrap();
        }
        id
    }
}

/// The most memory the process `pid` has held, in MiB (`VmHWM`).
fn peak_rss_mib(pid: i32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status.lines().find(|l| l.starts_with("VmHWM:")).unwrap();
    let kib: u64 = line.split_whitespace().nth(1).unwrap().parse().unwrap();
    kib / 1024
}

async fn crafted_runs_are_refused_and_only_the_schedules_command_runs(backend: Backend) {
    let setup = Setup::new(backend);
    let dir = setup.dir().to_path_buf();
    let planted = plant(&dir);
    let good = dir.join("good.log");
    setup.scratch.write(
        "crontab.yaml",
        &format!(
            "jobs:\n  target:\n    command: [sh, -c, 'echo \"$LEVEL\" >> {}']\n    allow_env: [LEVEL]\n    concurrency: allow\n",
            good.display()
        ),
    );
    let mut crafter = Crafter::new(&setup).await;
    let env = |pairs: &[(&str, &str)]| {
        let map: serde_json::Map<String, serde_json::Value> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), serde_json::Value::from(*v)))
            .collect();
        Field::Text(serde_json::Value::Object(map).to_string())
    };
    let evil_path = planted.bin.display().to_string();
    let evil_sh = planted.bin.join("sh").display().to_string();
    let mut cases: Vec<Case> = vec![
        (
            "an unknown job",
            vec![("job", text("ghost"))],
            "job `ghost` is not in this worker's schedule".into(),
        ),
        (
            "args where allow_args is false",
            vec![("args", text(r#"["--version"]"#))],
            "job `target` does not take arguments (allow_args is false)".into(),
        ),
        (
            "PATH",
            vec![("env", env(&[("PATH", &evil_path)]))],
            "the run sets `PATH`: PATH changes what is executed or loaded".into(),
        ),
        (
            "BASH_ENV beside an allowed name",
            vec![("env", env(&[("LEVEL", "x"), ("BASH_ENV", &evil_sh)]))],
            "the run sets `BASH_ENV`".into(),
        ),
        (
            "a name the job does not allow",
            vec![("env", env(&[("HOME", "/tmp")]))],
            "job `target` takes only LEVEL from a run, not `HOME`".into(),
        ),
        (
            "env that is not JSON",
            vec![("env", text("not json"))],
            "the run cannot be read: field `env`: expected a JSON object of strings".into(),
        ),
        (
            "an attempt that is no number",
            vec![("attempt", text("x"))],
            "the run cannot be read: field `attempt`: expected a whole number".into(),
        ),
        (
            "args that are a JSON number",
            vec![("args", text("5"))],
            "the run cannot be read: field `args`: expected a JSON array of strings".into(),
        ),
    ];
    if let Some(library) = &planted.library {
        let library = library.display().to_string();
        cases.push((
            "LD_PRELOAD",
            vec![("env", env(&[("LEVEL", "x"), ("LD_PRELOAD", &library)]))],
            "the run sets `LD_PRELOAD`: LD_* changes what is executed or loaded".into(),
        ));
    }
    let huge = format!(r#"{{"LEVEL":"{}"}}"#, "x".repeat(200 << 20));
    let huge_len = huge.len();
    cases.push((
        "a 200 MB field",
        vec![("env", Field::Text(huge))],
        format!(
            "the run cannot be read: field `env` holds {huge_len} bytes, more than the 1048576 a field may hold"
        ),
    ));
    let mut refused = Vec::new();
    for (what, fields, reason) in cases {
        refused.push((what, crafter.craft(&fields).await, reason));
    }
    // A crafted run that asks only what its job allows runs; so does one by hand.
    let allowed = crafter
        .craft(&[("env", env(&[("LEVEL", "crafted")]))])
        .await;
    let by_hand = setup
        .scratch
        .cronq()
        .args(setup.store_args())
        .args(["run", "target", "--env", "LEVEL=by-hand"])
        .output()
        .unwrap();
    assert!(by_hand.status.success(), "{}", texts(&by_hand).1);
    let by_hand = texts(&by_hand).0.trim().to_string();

    let mut args = setup.store_args();
    args.extend(["--lease".into(), "2s".into(), "daemon".into()]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let daemon = Process::start(&dir, "daemon", &args);
    let store = crafter.store.clone();
    let all: Vec<String> = refused
        .iter()
        .map(|(_, id, _)| id.clone())
        .chain([allowed.clone(), by_hand.clone()])
        .collect();
    eventually("every run to finish", PATIENCE, || {
        let (store, all) = (store.clone(), all.clone());
        async move {
            for id in &all {
                match store.run(id).await {
                    Ok(run) if run.status.is_finished() => {}
                    _ => return false,
                }
            }
            true
        }
    })
    .await;

    for (what, id, reason) in &refused {
        let run: Run = store.run(id).await.unwrap();
        assert_eq!(
            (run.status, run.exit_code, run.signal),
            (RunStatus::Failed, None, None),
            "{what}: {run:#?}\n{}",
            daemon.logs()
        );
        let got = run.reason.clone().unwrap_or_default();
        assert!(got.starts_with(reason.as_str()), "{what}: reason {got:?}");
        assert!(
            run.started_at.is_some() && run.worker.is_some(),
            "{what}: {run:#?}"
        );
    }
    for id in [&allowed, &by_hand] {
        let run = store.run(id).await.unwrap();
        assert_eq!(run.status, RunStatus::Succeeded, "{run:#?}");
    }
    let mut ran: Vec<String> = std::fs::read_to_string(&good)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect();
    ran.sort();
    assert_eq!(ran, ["by-hand", "crafted"], "the schedule's command, twice");
    assert!(
        !planted.log.exists(),
        "a planted program ran: {}",
        std::fs::read_to_string(&planted.log).unwrap_or_default()
    );
    let peak = peak_rss_mib(daemon.pid());
    eprintln!("the daemon's peak RSS: {peak} MiB");
    assert!(
        peak < 100,
        "the daemon held the 200 MB field: peak RSS {peak} MiB"
    );

    // Every run reads back now, the refused ones with readable fields.
    let cronq = |args: &[&str]| {
        setup
            .scratch
            .cronq()
            .args(setup.store_args())
            .args(args)
            .output()
            .unwrap()
    };
    let history = cronq(&["history", "--json", "--limit", "100"]);
    let (stdout, stderr) = texts(&history);
    assert!(history.status.success(), "{stderr}");
    let document: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    let listed: Vec<&str> = document["runs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|run| run["id"].as_str().unwrap())
        .collect();
    for id in &all {
        assert!(listed.contains(&id.as_str()), "{id} in {listed:?}");
    }
    let junk = &refused
        .iter()
        .find(|(what, ..)| *what == "env that is not JSON")
        .unwrap()
        .1;
    let show = cronq(&["show", junk]);
    let (stdout, stderr) = texts(&show);
    assert!(show.status.success(), "{stderr}");
    assert!(stdout.contains("field `env`"), "{stdout}");
    let status = cronq(&["status", "--json"]);
    assert!(status.status.success(), "{}", texts(&status).1);
    assert!(
        daemon
            .logs()
            .contains("a queued run cannot be read: it is recorded failed"),
        "{}",
        daemon.logs()
    );
}
