//! What the package installs, checked as the tools that read it would: the systemd
//! units by `systemd-analyze verify`, the supervisord programs by a real supervisord
//! that starts the daemon and the workers and stops them, the man pages by groff, the
//! completion scripts against `cronq completions`, and the packaged settings and
//! schedule by `cronq check`. A tool that is missing skips its part, saying so.

mod common;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use clap::CommandFactory;
use common::Scratch;

const CRONQ: &str = env!("CARGO_BIN_EXE_cronq");
const ROOT: &str = env!("CARGO_MANIFEST_DIR");

fn file(path: &str) -> String {
    std::fs::read_to_string(Path::new(ROOT).join(path))
        .unwrap_or_else(|error| panic!("{path}: {error}"))
}

fn has(tool: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// `key=value` lines of a unit or ini file by section; a key given twice keeps both.
fn sections(text: &str, comment: char) -> HashMap<String, Vec<(String, String)>> {
    let mut sections: HashMap<String, Vec<(String, String)>> = HashMap::new();
    let mut current = String::new();
    for line in text.lines().map(str::trim) {
        if line.is_empty() || line.starts_with(comment) || line.starts_with('#') {
            continue;
        }
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            current = name.to_string();
            continue;
        }
        let (key, value) = line.split_once('=').expect("key=value");
        sections
            .entry(current.clone())
            .or_default()
            .push((key.trim().to_string(), value.trim().to_string()));
    }
    sections
}

fn value<'a>(section: &'a [(String, String)], key: &str) -> &'a str {
    section
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
        .unwrap_or_else(|| panic!("no {key}= in {section:?}"))
}

fn seconds(text: &str) -> u64 {
    humantime::parse_duration(text)
        .unwrap_or_else(|_| Duration::from_secs(text.parse().expect("seconds")))
        .as_secs()
}

/// How long a worker may take to stop: stop_grace, then the longest default
/// kill_grace.
fn longest_stop_s() -> u64 {
    cronq::settings::DEFAULT_STOP_GRACE.as_secs() + 10
}

const UNITS: [&str; 2] = ["cronq.service", "cronq-worker@.service"];

#[test]
fn units_say_what_the_service_needs() {
    for name in UNITS {
        let unit = sections(&file(&format!("config/systemd/{name}")), ';');
        let service = &unit["Service"];
        let exec = value(service, "ExecStart");
        assert!(exec.starts_with("/usr/bin/cronq "), "{name}: {exec}");
        assert_eq!(value(service, "Restart"), "on-failure", "{name}");
        assert_eq!(value(service, "StateDirectory"), "cronq", "{name}");
        assert_eq!(value(service, "User"), "cronq", "{name}: a dedicated user");
        // cronq makes a cgroup per run below its own, and stops its runs itself.
        assert_eq!(value(service, "Delegate"), "yes", "{name}");
        assert_eq!(value(service, "KillMode"), "mixed", "{name}");
        let stop = seconds(value(service, "TimeoutStopSec"));
        assert!(stop > longest_stop_s(), "{name}: TimeoutStopSec={stop}");
        // It would make the cgroup read-only that containment writes.
        assert!(
            !service
                .iter()
                .any(|(k, v)| k == "ProtectControlGroups" && v == "yes")
        );
        assert_eq!(value(&unit["Install"], "WantedBy"), "multi-user.target");
    }
    let daemon = sections(&file("config/systemd/cronq.service"), ';');
    let service = &daemon["Service"];
    assert_eq!(value(service, "Type"), "notify");
    assert_eq!(value(service, "NotifyAccess"), "main");
    assert_eq!(value(service, "ExecReload"), "/bin/kill -HUP $MAINPID");
    assert!(
        seconds(value(service, "WatchdogSec")) >= 2,
        "fed every second at most"
    );
    let worker = sections(&file("config/systemd/cronq-worker@.service"), ';');
    let exec = value(&worker["Service"], "ExecStart");
    assert!(exec.starts_with("/usr/bin/cronq worker "), "{exec}");
    assert!(exec.ends_with(" --queue %i"), "{exec}");
}

#[test]
fn units_pass_systemd_analyze_verify() {
    if !has("systemd-analyze") {
        eprintln!("skipped: systemd-analyze is not installed");
        return;
    }
    let scratch = Scratch::new();
    for name in UNITS {
        // verify checks that ExecStart's program exists: the binary just built.
        let unit = file(&format!("config/systemd/{name}")).replace("/usr/bin/cronq", CRONQ);
        scratch.write(name, &unit);
    }
    scratch.write("cronq-worker@default.service", &{
        let unit = file("config/systemd/cronq-worker@.service");
        unit.replace("/usr/bin/cronq", CRONQ)
    });
    for name in ["cronq.service", "cronq-worker@default.service"] {
        // The man pages are checked below, from the generated set.
        let output = Command::new("systemd-analyze")
            .args(["verify", "--man=no"])
            .arg(scratch.path().join(name))
            .output()
            .unwrap();
        assert!(output.status.success(), "{name}: {}", text(&output));
        assert_eq!(
            text(&output).trim(),
            "",
            "{name}: every line is a complaint"
        );
    }
}

#[test]
fn the_packaged_settings_and_schedule_validate() {
    let output = Command::new(CRONQ)
        .args(["check", "--settings", "config/deb/cronq.yaml"])
        .args(["--schedule", "config/deb/crontab.yaml"])
        .current_dir(ROOT)
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", text(&output));
    // And the file the units name is the one the package installs there.
    let toml = file("Cargo.toml");
    for unit in UNITS {
        let exec = file(&format!("config/systemd/{unit}"));
        assert!(exec.contains("--settings /etc/cronq/cronq.yaml"));
        assert!(exec.contains("--schedule /etc/cronq/crontab.yaml"));
    }
    assert!(toml.contains(r#"["config/deb/cronq.yaml", "etc/cronq/cronq.yaml", "644"]"#));
    assert!(toml.contains(r#"["config/deb/crontab.yaml", "etc/cronq/crontab.yaml", "644"]"#));
}

/// The man pages and completions as the package gets them.
fn assets() -> (Scratch, PathBuf) {
    let scratch = Scratch::new();
    let dir = scratch.path().join("assets");
    let output = Command::new(env!("CARGO_BIN_EXE_cronq-assets"))
        .arg(&dir)
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", text(&output));
    (scratch, dir)
}

fn subcommands() -> Vec<String> {
    cronq::cli::Cli::command()
        .get_subcommands()
        .filter(|s| !s.is_hide_set())
        .map(|s| s.get_name().to_string())
        .collect()
}

#[test]
fn there_is_a_man_page_for_cronq_and_each_subcommand_and_the_schedule() {
    let (_scratch, dir) = assets();
    let top = std::fs::read_to_string(dir.join("man/man1/cronq.1")).unwrap();
    for sub in subcommands() {
        let page = dir.join(format!("man/man1/cronq-{sub}.1"));
        let roff =
            std::fs::read_to_string(&page).unwrap_or_else(|_| panic!("no page for `cronq {sub}`"));
        assert!(roff.starts_with(".ie"), "{sub}: a roff page");
        assert!(
            roff.contains(&format!("cronq\\-{sub}")),
            "{sub}: names itself"
        );
        assert!(
            top.contains(&format!("cronq\\-{sub}(1)")),
            "cronq(1) names {sub}"
        );
    }
    // Each unit's Documentation= names a page the package has.
    for unit in UNITS {
        let unit = file(&format!("config/systemd/{unit}"));
        let docs = unit
            .lines()
            .find_map(|l| l.strip_prefix("Documentation="))
            .unwrap();
        for man in docs.split_whitespace() {
            let (name, section) = man
                .strip_prefix("man:")
                .and_then(|m| m.strip_suffix(')'))
                .and_then(|m| m.split_once('('))
                .unwrap();
            let page = dir.join(format!("man/man{section}/{name}.{section}"));
            assert!(page.is_file(), "{man} is not among the pages");
        }
    }
}

#[test]
fn man_pages_render_without_a_warning() {
    if !has("groff") {
        eprintln!("skipped: groff is not installed");
        return;
    }
    let (_scratch, dir) = assets();
    let mut pages = Vec::new();
    for section in ["man1", "man5"] {
        for entry in std::fs::read_dir(dir.join("man").join(section)).unwrap() {
            pages.push(entry.unwrap().path());
        }
    }
    assert!(pages.len() > subcommands().len(), "{pages:?}");
    for page in pages {
        let output = Command::new("groff")
            // -k: UTF-8 input through preconv, as man(1) reads a page.
            .args(["-k", "-man", "-Tutf8", "-ww", "-z"])
            .arg(&page)
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "{}: {}",
            page.display(),
            text(&output)
        );
        assert_eq!(text(&output), "", "{}: groff warns", page.display());
    }
}

#[test]
fn the_schedule_page_describes_every_key_of_the_readme() {
    let readme = file("README.md");
    let section = readme
        .split("## The schedule (`crontab.yaml`)")
        .nth(1)
        .and_then(|s| s.split("\n## ").next())
        .unwrap();
    let keys: Vec<&str> = section
        .lines()
        .filter_map(|l| l.strip_prefix("| `"))
        .filter_map(|l| l.split('`').next())
        .collect();
    assert!(keys.len() >= 20, "the README's table of keys: {keys:?}");
    let page = file("docs/man/cronq.yaml.5");
    for key in keys {
        assert!(
            page.contains(&format!(".TP\n.B {key}\n")),
            "cronq.yaml(5) does not describe `{key}`"
        );
    }
}

#[test]
fn packaged_completions_are_what_cronq_completions_prints() {
    let (_scratch, dir) = assets();
    for (shell, file) in [
        ("bash", "cronq.bash"),
        ("zsh", "_cronq"),
        ("fish", "cronq.fish"),
    ] {
        let printed = Command::new(CRONQ)
            .args(["completions", shell])
            .output()
            .unwrap();
        assert!(printed.status.success());
        let packaged = std::fs::read(dir.join("completions").join(file)).unwrap();
        assert!(packaged.len() > 1000, "{file}");
        assert_eq!(packaged, printed.stdout, "{file}");
    }
}

#[test]
fn supervisord_programs_say_what_the_service_needs() {
    let conf = sections(&file("config/supervisord/cronq.conf"), ';');
    let daemon = &conf["program:cronq"];
    assert!(value(daemon, "command").starts_with("/usr/bin/cronq daemon --no-workers "));
    let worker = &conf["program:cronq-worker"];
    assert!(value(worker, "command").starts_with("/usr/bin/cronq worker "));
    assert!(value(worker, "numprocs").parse::<u32>().unwrap() >= 2);
    assert_eq!(
        value(worker, "process_name"),
        "%(program_name)s_%(process_num)02d"
    );
    for program in [daemon, worker] {
        assert_eq!(value(program, "stopsignal"), "TERM");
        assert_ne!(value(program, "autorestart"), "false");
        let wait = value(program, "stopwaitsecs").parse::<u64>().unwrap();
        assert!(wait > longest_stop_s(), "stopwaitsecs={wait}");
        assert_eq!(value(program, "user"), "cronq");
    }
}

/// Runs `supervisorctl` against the supervisord of `conf`.
fn supervisorctl(conf: &Path, args: &[&str]) -> String {
    let output = Command::new("supervisorctl")
        .arg("-c")
        .arg(conf)
        .args(args)
        .output()
        .unwrap();
    text(&output)
}

#[test]
fn supervisord_starts_the_daemon_and_workers_that_run_a_job_and_stops_them() {
    if !has("supervisord") || !has("supervisorctl") {
        eprintln!("skipped: supervisor is not installed (Debian package `supervisor`)");
        return;
    }
    let scratch = Scratch::new();
    let dir = scratch.path();
    scratch.write(
        "crontab.yaml",
        "jobs:\n  tick:\n    schedule: \"* * * * * *\"\n    command: \"date >> ticks.txt\"\n",
    );
    scratch.write(
        "cronq.yaml",
        &format!(
            "store: sqlite:{0}/cronq.db\nstate_dir: {0}\n",
            dir.display()
        ),
    );
    // The packaged programs, with this build's binary, this directory's files, and no
    // user to switch to (the test may not run as root).
    let programs = file("config/supervisord/cronq.conf")
        .replace("/usr/bin/cronq", CRONQ)
        .replace("/etc/cronq", &dir.display().to_string())
        .replace("/var/lib/cronq", &dir.display().to_string())
        .replace("user=cronq\n", "");
    let socket = dir.join("supervisor.sock");
    let conf = scratch.write(
        "supervisord.conf",
        &format!(
            "[supervisord]\nnodaemon=true\nlogfile={d}/supervisord.log\npidfile={d}/supervisord.pid\n\
             childlogdir={d}\n\n[unix_http_server]\nfile={s}\n\n[supervisorctl]\nserverurl=unix://{s}\n\n\
             [rpcinterface:supervisor]\nsupervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface\n\n{programs}",
            d = dir.display(),
            s = socket.display(),
        ),
    );
    let mut supervisord = Command::new("supervisord")
        .arg("-c")
        .arg(&conf)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("supervisord starts");
    let all_in = |state: &str| {
        let status = supervisorctl(&conf, &["status"]);
        let lines: Vec<&str> = status.lines().collect();
        let done = lines.len() == 3 && lines.iter().all(|l| l.contains(state));
        (done, status)
    };
    let wait_for = |what: &str, check: &dyn Fn() -> (bool, String)| {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let (done, seen) = check();
            if done {
                return seen;
            }
            assert!(Instant::now() < deadline, "no {what}: {seen}");
            std::thread::sleep(Duration::from_millis(100));
        }
    };
    let status = wait_for("daemon and two workers running", &|| all_in("RUNNING"));
    for name in [
        "cronq ",
        "cronq-worker:cronq-worker_00",
        "cronq-worker:cronq-worker_01",
    ] {
        assert!(status.contains(name), "{name} in {status}");
    }
    // The daemon fires, a worker runs: the job's output arrives.
    let ticks = dir.join("ticks.txt");
    wait_for("a run of the job", &|| (ticks.is_file(), String::new()));

    let stopped = supervisorctl(&conf, &["stop", "all"]);
    let status = wait_for("all stopped", &|| all_in("STOPPED"));
    assert!(!stopped.contains("ERROR"), "{stopped}\n{status}");
    // supervisord saw each exit: none was killed after stopwaitsecs.
    let log = std::fs::read_to_string(dir.join("supervisord.log")).unwrap();
    assert!(!log.contains("SIGKILL"), "{log}");
    assert_eq!(log.matches("stopped: ").count(), 3, "{log}");
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(supervisord.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    supervisord.wait().unwrap();
}
