//! The dashboard in a real headless Chromium against a real `cronq daemon --http` and
//! its SQLite store, filled by the CLI with runs of every status: a failing job, a
//! running job that reports progress, a paused job, a cancelled and a timed-out run, and
//! a job whose output holds `<script>` and ANSI colours. Each page is loaded as a user
//! loads it and its DOM asserted; "Run now" is clicked with a `run` token and the run
//! appears, and no such button is there for a `read` token or without tokens. Each page
//! is screenshotted at 1280×800 and 390×844 into `target/screenshots/`.
//!
//! Skipped, with one line saying so, only when no chromium is installed.

mod common;

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::Scratch;
use common::browser::{self, Browser, Scheme};
use common::daemon::Process;
use serde_json::Value;

const PATIENCE: Duration = Duration::from_secs(20);

fn schedule() -> String {
    let cronq = env!("CARGO_BIN_EXE_cronq");
    format!(
        r#"
jobs:
  nightly-backup:
    schedule: "30 2 * * *"
    timezone: Europe/Berlin
    command: ["true"]
  quick:
    command: ["sh", "-c", "echo done"]
    concurrency: allow
    allow_args: true
  failing:
    command: ["sh", "-c", "echo about to fail; echo disk full >&2; exit 3"]
    concurrency: allow
  noisy:
    command: |
      echo '<script>document.title="owned"</script><b>bold?</b>'; printf '\033[31mred alert\033[0m then plain\n'; echo 'to stderr' >&2
  copying:
    command: ["sh", "-c", "{cronq} progress 40 'copying files'; sleep 300"]
    kill_grace: 1s
  counter:
    command: ["sh", "-c", "for i in $(seq 1 40); do echo line $i; sleep 0.1; done"]
  slow:
    command: ["sleep", "30"]
    timeout: 1s
    kill_grace: 1s
  sleeper:
    command: ["sleep", "60"]
    kill_grace: 1s
  paused-job:
    schedule: "0 3 * * *"
    command: ["true"]
  dst-sundays:
    schedule: "30 2 * 3,10 0"
    timezone: Europe/Berlin
    command: ["true"]
  tick:
    queue: narrow
    command: ["true"]
    concurrency: allow
  hold:
    queue: narrow
    command: ["sh", "-c", "{cronq} progress 10 holding; sleep 300"]
    kill_grace: 1s
"#
    )
}

fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("a free port");
    listener.local_addr().expect("an address").port()
}

fn chromium() -> Option<PathBuf> {
    let found = browser::find();
    if found.is_none() {
        eprintln!("skipped: no chromium on PATH (.ci/run installs Debian's chromium)");
    }
    found
}

/// Runs `cronq ARGS` in the scratch dir; its stdout.
fn cronq(scratch: &Scratch, args: &[&str]) -> String {
    let output = scratch.cronq().args(args).output().expect("cronq runs");
    let (out, err) = common::texts(&output);
    assert!(output.status.success(), "cronq {args:?} failed: {err}");
    out
}

/// Queues a run of `job`; its id.
fn run(scratch: &Scratch, job: &str) -> String {
    cronq(scratch, &["run", job]).trim().to_string()
}

fn show(scratch: &Scratch, id: &str) -> Value {
    serde_json::from_str(&cronq(scratch, &["show", id, "--json"])).expect("show --json")
}

/// Waits until run `id` is in `status`.
fn wait_status(scratch: &Scratch, id: &str, status: &str) -> Value {
    let deadline = Instant::now() + PATIENCE;
    loop {
        let run = show(scratch, id);
        if run["status"] == status {
            return run;
        }
        assert!(
            Instant::now() < deadline,
            "run {id} never became {status}: {run}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn wait_http(base: &str) {
    let deadline = Instant::now() + PATIENCE;
    while std::net::TcpStream::connect(base.trim_start_matches("http://")).is_err() {
        assert!(
            Instant::now() < deadline,
            "the dashboard never listened at {base}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn screenshots_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/screenshots");
    std::fs::create_dir_all(&dir).expect("the screenshot folder");
    dir
}

/// The runs of every status the pages show, by name.
struct Filled {
    ok: String,
    failed: String,
    noisy: String,
    running: String,
    timed_out: String,
    cancelled: String,
    counter: String,
}

fn fill(scratch: &Scratch) -> Filled {
    cronq(
        scratch,
        &["pause", "paused-job", "--reason", "db migration"],
    );
    let ok = run(scratch, "quick");
    let noisy = run(scratch, "noisy");
    let mut failed = String::new();
    for _ in 0..3 {
        failed = run(scratch, "failing");
        wait_status(scratch, &failed, "failed");
    }
    let timed_out = run(scratch, "slow");
    let cancelled = run(scratch, "sleeper");
    wait_status(scratch, &cancelled, "running");
    cronq(scratch, &["cancel", &cancelled]);
    let running = run(scratch, "copying");
    wait_status(scratch, &ok, "succeeded");
    wait_status(scratch, &noisy, "succeeded");
    wait_status(scratch, &timed_out, "timed_out");
    wait_status(scratch, &cancelled, "cancelled");
    let deadline = Instant::now() + PATIENCE;
    while show(scratch, &running)["progress"] != 40 {
        assert!(
            Instant::now() < deadline,
            "the copying run never reported progress"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    Filled {
        ok,
        failed,
        noisy,
        running,
        timed_out,
        cancelled,
        counter: String::new(),
    }
}

/// The part of `dom` from the element that starts with `start` to its closing `end`.
fn part<'a>(dom: &'a str, start: &str, end: &str) -> &'a str {
    let from = dom
        .find(start)
        .unwrap_or_else(|| panic!("no {start} in:\n{dom}"));
    let rest = &dom[from..];
    &rest[..rest.find(end).map_or(rest.len(), |i| i + end.len())]
}

#[test]
fn every_page_shows_the_store_escaped_and_read_only_without_tokens() {
    let Some(chromium) = chromium() else { return };
    let scratch = Scratch::new();
    scratch.write("crontab.yaml", &schedule());
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let addr = format!("127.0.0.1:{port}");
    let daemon = Process::start(scratch.path(), "daemon", &["daemon", "--http", &addr]);
    wait_http(&base);
    let mut filled = fill(&scratch);
    let profile = tempfile::tempdir().expect("a profile");
    let dom = |path: &str| browser::dump_dom(&chromium, profile.path(), &format!("{base}{path}"));

    // Jobs: every job, the schedule in words and in cron, next fires, statuses with a
    // word as well as a colour, the paused badge, and no button without a token.
    let jobs = dom("/");
    for name in [
        "nightly-backup",
        "quick",
        "failing",
        "noisy",
        "copying",
        "slow",
        "sleeper",
        "paused-job",
    ] {
        assert!(
            jobs.contains(&format!("data-job=\"{name}\"")),
            "no row for {name}:\n{jobs}"
        );
    }
    let nightly = part(&jobs, "<tr data-job=\"nightly-backup\"", "</tr>");
    assert!(
        nightly.contains("at 02:30 every day, Europe/Berlin"),
        "{nightly}"
    );
    assert!(nightly.contains("<code>30 2 * * *</code>"), "{nightly}");
    assert!(
        nightly.contains("<time datetime=\"20"),
        "no next fire: {nightly}"
    );
    let failing = part(&jobs, "<tr data-job=\"failing\"", "</tr>");
    assert!(failing.contains("data-status=\"failed\""), "{failing}");
    assert!(
        failing.contains("✗</span> failed"),
        "a word and a shape: {failing}"
    );
    // The strip: its three failed runs as one group of shapes, counted in its title.
    assert!(
        failing.contains("title=\"3 failed\"><b class=\"st-failed\">✗✗✗</b></span>"),
        "{failing}"
    );
    assert!(
        failing.contains(">0%<"),
        "no run of it succeeded: {failing}"
    );
    let paused = part(&jobs, "<tr data-job=\"paused-job\"", "</tr>");
    assert!(
        paused.contains("paused") && paused.contains("db migration"),
        "{paused}"
    );
    let copying = part(&jobs, "<tr data-job=\"copying\"", "</tr>");
    assert!(copying.contains("data-status=\"running\""), "{copying}");
    for status in ["timed_out", "cancelled", "succeeded"] {
        assert!(
            jobs.contains(&format!("data-status=\"{status}\"")),
            "no {status} on the jobs page"
        );
    }
    assert!(
        !jobs.contains("Run now") && !jobs.contains("method=\"post\""),
        "read-only: no forms"
    );
    // The search box and the status filter narrow the list, without the script.
    let searched = dom("/?q=NOIS");
    assert!(searched.contains("data-job=\"noisy\"") && !searched.contains("data-job=\"quick\""));
    let only_failed = dom("/?status=failed&sort=name");
    assert!(only_failed.contains("data-job=\"failing\""));
    assert!(
        !only_failed.contains("data-job=\"quick\"")
            && !only_failed.contains("data-job=\"copying\"")
    );

    // A run: the job's output escaped byte for byte, ANSI drawn as colour, never shown.
    let noisy = dom(&format!("/runs/{}", filled.noisy));
    let output = part(&noisy, "<pre id=\"output\"", "</pre>");
    assert!(
        output.contains(
            "&lt;script&gt;document.title=\"owned\"&lt;/script&gt;&lt;b&gt;bold?&lt;/b&gt;"
        ),
        "{output}"
    );
    assert!(
        !noisy.contains("<script>document.title") && !noisy.contains("<b>bold?"),
        "{noisy}"
    );
    assert!(
        !noisy.contains("owned</title>"),
        "the job's script never ran"
    );
    assert!(
        !output.contains('\u{1b}') && !output.contains("[31m") && !output.contains("[0m"),
        "{output}"
    );
    assert!(
        output.contains("class=\"out stdout fg-red\">red alert</span>"),
        "{output}"
    );
    assert!(
        output.contains("class=\"out stderr \">to stderr\n</span>"),
        "{output}"
    );
    assert!(
        !noisy.contains(">Cancel<") && !noisy.contains(">Run again<"),
        "read-only"
    );
    // Every field of `show`.
    let shown = show(&scratch, &filled.noisy);
    for (name, _) in shown
        .as_object()
        .expect("an object")
        .iter()
        .filter(|(n, _)| *n != "output")
    {
        assert!(
            noisy.contains(&format!("data-field=\"{name}\"")),
            "no field {name}"
        );
    }

    // The page's event stream resumes after a dropped connection: with Last-Event-ID
    // (the offset the browser had) it sends the bytes after it, none twice.
    let (status, _, stream) = http(
        &addr,
        "GET",
        &format!("/runs/{}/events?from=0", filled.noisy),
        &[("last-event-id", "10")],
        "",
    );
    assert_eq!(status, 200, "{stream}");
    let first = stream
        .lines()
        .find_map(|line| line.strip_prefix("data: "))
        .expect("an output event");
    let first: Value = serde_json::from_str(first).expect("json");
    let all = shown["output"].as_str().expect("the output");
    assert!(
        all[10..].starts_with(first["text"].as_str().expect("text")),
        "{first} is not what follows byte 10 of {all:?}"
    );

    let running = dom(&format!("/runs/{}", filled.running));
    assert!(running.contains("data-status=\"running\""), "{running}");
    assert!(
        running.contains("<progress max=\"100\" value=\"40\""),
        "{running}"
    );
    assert!(running.contains("copying files"));
    assert!(!running.contains(">Cancel<"), "read-only: no Cancel");
    let failed = dom(&format!("/runs/{}", filled.failed));
    let failed_output = part(&failed, "<pre id=\"output\"", "</pre>");
    assert!(
        failed_output.contains("class=\"out stdout \">about to fail"),
        "{failed_output}"
    );
    assert!(
        failed_output.contains("class=\"out stderr \">disk full"),
        "{failed_output}"
    );
    assert!(
        failed.contains("data-field=\"exit_code\"><code>3</code>"),
        "{failed}"
    );

    // Now: the watchdog's problem with the failing job at the top, the running run with
    // its progress, the daemon and its schedule hash, the workers.
    let now = dom("/now");
    let problems = now
        .find("data-problem=\"failing\"")
        .expect("a failing problem");
    assert!(
        problems < now.find("<h2>Running</h2>").expect("running"),
        "problems come first"
    );
    assert!(now.contains(&format!("data-run=\"{}\"", filled.running)));
    assert!(now.contains("<progress max=\"100\" value=\"40\""), "{now}");
    assert!(now.contains("<h2>Daemons</h2>") && now.contains("Schedule hash"));
    let hash = cronq(&scratch, &["status", "--json"]);
    assert!(hash.contains("running"), "status answers");

    // History: every run newest first, and its filters.
    let history = dom("/history");
    for id in [
        &filled.ok,
        &filled.failed,
        &filled.noisy,
        &filled.timed_out,
        &filled.cancelled,
    ] {
        assert!(
            history.contains(&format!("data-run=\"{id}\"")),
            "{id} not in the history"
        );
    }
    let newest = history
        .find(&format!("data-run=\"{}\"", filled.running))
        .expect("the running run");
    let oldest = history
        .find(&format!("data-run=\"{}\"", filled.ok))
        .expect("the first run");
    assert!(newest < oldest, "newest first");
    let failures = dom("/history?status=failed");
    assert_eq!(
        failures.matches("data-status=\"failed\"").count(),
        3,
        "{failures}"
    );
    assert!(!failures.contains(&format!("data-run=\"{}\"", filled.ok)));
    let by_job = dom("/history?job=slow&trigger=manual");
    assert!(by_job.contains(&format!("data-run=\"{}\"", filled.timed_out)));
    assert!(!by_job.contains(&format!("data-run=\"{}\"", filled.noisy)));

    // A job: its YAML, ten next fires, the durations chart with failures marked.
    let job = dom("/jobs/nightly-backup");
    assert!(
        job.contains("schedule: \"30 2 * * *\"") && job.contains("timezone: Europe/Berlin"),
        "{job}"
    );
    let fires = part(&job, "<ol class=\"fires\"", "</ol>");
    assert_eq!(fires.matches("<li>").count(), 10, "{fires}");
    // Sundays of March and October at 02:30 in Berlin: ten fires from any day hold the
    // last Sunday of both months, whose 02:30 is skipped and repeated.
    let dst = dom("/jobs/dst-sundays");
    let fires = part(&dst, "<ol class=\"fires\"", "</ol>");
    assert_eq!(fires.matches("<li>").count(), 10, "{fires}");
    assert_eq!(
        fires.matches("02:30 does not exist on ").count(),
        1,
        "the spring gap: {fires}"
    );
    assert!(
        fires.contains("in Europe/Berlin (clocks go forward); runs at 03:00"),
        "{fires}"
    );
    assert_eq!(
        fires.matches("02:30 happens twice on ").count(),
        1,
        "the autumn fold: {fires}"
    );
    assert!(fires.contains("this is the first pass, and it runs on the first pass only"));
    let chart = dom("/jobs/failing");
    assert!(chart.contains("<svg class=\"chart\""), "{chart}");
    assert_eq!(chart.matches("class=\"fail-mark\"").count(), 3, "{chart}");

    // Following live: the page of a running run shows lines written after it loaded.
    filled.counter = run(&scratch, "counter");
    wait_status(&scratch, &filled.counter, "running");
    let mut browser = Browser::start(&chromium);
    let tab = browser.open(&format!("{base}/runs/{}", filled.counter));
    browser.wait_for(
        &tab,
        "the last line to arrive live",
        "!!document.getElementById('output') && document.getElementById('output').textContent.includes('line 40')",
        PATIENCE,
    );
    let text = browser
        .eval(&tab, "document.getElementById('output').textContent")
        .expect("the output");
    let text = text.as_str().expect("text");
    for i in 1..=40 {
        assert_eq!(
            text.matches(&format!("line {i}\n")).count(),
            1,
            "line {i} once: {text}"
        );
    }
    browser.wait_for(
        &tab,
        "the page to show the end",
        "!!document.querySelector('#run-head [data-status=\"succeeded\"]')",
        PATIENCE,
    );
    // Times are shown in the browser's zone, with the UTC instant on hover.
    let title = browser
        .eval(&tab, "document.querySelector('time').title")
        .expect("a time");
    assert!(
        title.as_str().expect("a title").ends_with(" UTC"),
        "{title}"
    );

    // Colour is never the only sign: every status says its word, every strip counts
    // its runs in words and draws each run as a shape.
    let jobs_tab = browser.open(&format!("{base}/"));
    browser.wait_for(
        &jobs_tab,
        "the jobs",
        "!!document.querySelector('tr[data-job=\"failing\"]')",
        PATIENCE,
    );
    let words = browser
        .eval(
            &jobs_tab,
            "[...document.querySelectorAll('[data-status]')].map(e => [e.dataset.status, e.textContent])",
        )
        .expect("the statuses");
    let words = words.as_array().expect("a list");
    assert!(words.len() >= 6, "{words:?}");
    for pair in words {
        let (status, text) = (
            pair[0].as_str().expect("a status"),
            pair[1].as_str().expect("text"),
        );
        assert!(
            text.contains(&status.replace('_', " ")),
            "{status} shown as {text:?}"
        );
    }
    let strips = browser
        .eval(
            &jobs_tab,
            "[...document.querySelectorAll('.strip')].filter(s => s.children.length > 0 &&              (!/^\\d+ [a-z ]+(, \\d+ [a-z ]+)*$/.test(s.title) ||              [...s.children].some(b => b.textContent.length === 0))).length",
        )
        .expect("the strips");
    assert_eq!(strips, Value::from(0), "a strip without words or shapes");
    // The search box narrows the rows as one types, before the form is sent.
    let visible = "[...document.querySelectorAll('tr[data-job]')].filter(r => !r.hidden).map(r => r.dataset.job)";
    browser
        .eval(
            &jobs_tab,
            "const box = document.querySelector('input[name=q]'); box.value = 'NOIS'; \
             box.dispatchEvent(new Event('input')); true",
        )
        .expect("typed");
    assert_eq!(
        browser.eval(&jobs_tab, visible).expect("the rows"),
        serde_json::json!(["noisy"])
    );
    browser
        .eval(
            &jobs_tab,
            "const again = document.querySelector('input[name=q]'); again.value = ''; \
             again.dispatchEvent(new Event('input')); true",
        )
        .expect("cleared");
    let all = browser.eval(&jobs_tab, visible).expect("the rows");
    assert_eq!(all.as_array().map(Vec::len), Some(12), "{all}");

    // Dark mode when the system asks for it.
    let background = "getComputedStyle(document.body).backgroundColor";
    let light = browser.eval(&jobs_tab, background).expect("a colour");
    assert_eq!(light, "rgb(255, 255, 255)");
    browser.prefer_dark(&jobs_tab);
    let dark = browser.eval(&jobs_tab, background).expect("a colour");
    let channels: Vec<u32> = dark
        .as_str()
        .expect("a colour")
        .trim_start_matches("rgb(")
        .trim_end_matches(')')
        .split(", ")
        .map(|c| c.parse().expect("a channel"))
        .collect();
    assert!(channels.iter().all(|c| *c < 60), "not dark: {dark}");

    // Live refresh patches the page in place: the row read, the selection in it and the
    // scroll position stay through a refresh that changed the page ("As of" moves).
    let now_tab = browser.open(&format!("{base}/now"));
    browser.resize(&now_tab, (390, 500));
    let row = format!(
        "document.querySelector('tr[data-run=\"{}\"]')",
        filled.running
    );
    browser.wait_for(&now_tab, "the running row", &format!("!!{row}"), PATIENCE);
    let refreshed = "(() => { const t = [...document.querySelectorAll('#now time')].pop(); \
        return Number(document.documentElement.dataset.refreshes || 0) > window.seen \
        && t.getAttribute('datetime') !== window.asOf; })()";
    let remember = "window.seen = Number(document.documentElement.dataset.refreshes || 0); \
        window.asOf = [...document.querySelectorAll('#now time')].pop().getAttribute('datetime'); true";
    browser
        .eval(
            &now_tab,
            &format!(
                "const row = {row}; row.kept = true; \
                 const range = document.createRange(); range.selectNodeContents(row.querySelector('a[href^=\"/jobs/\"]')); \
                 getSelection().removeAllRanges(); getSelection().addRange(range); \
                 window.scrollTo(0, 120); {remember}"
            ),
        )
        .expect("marked");
    let scrolled = browser.eval(&now_tab, "window.scrollY").expect("scrolled");
    assert_eq!(scrolled, Value::from(120), "the page scrolls at 390x500");
    browser.wait_for(
        &now_tab,
        "a refresh that changed the page",
        refreshed,
        PATIENCE,
    );
    let kept = browser
        .eval(
            &now_tab,
            &format!("[{row}.kept === true, getSelection().toString(), window.scrollY]"),
        )
        .expect("after");
    assert_eq!(
        kept,
        serde_json::json!([true, "copying", 120]),
        "the same node, selection and scroll"
    );
    // A focused control keeps the focus, and the page around it still refreshes.
    browser
        .eval(
            &now_tab,
            &format!(
                "window.focused = {row}.querySelector('a'); window.focused.focus(); {remember}"
            ),
        )
        .expect("focused");
    browser.wait_for(&now_tab, "a refresh around the focus", refreshed, PATIENCE);
    let focus = browser
        .eval(
            &now_tab,
            "document.activeElement === window.focused && window.focused.isConnected",
        )
        .expect("the focus");
    assert_eq!(focus, Value::Bool(true), "the focus stays");
    drop(browser);

    // Screenshots of every page at both sizes, for a reviewer.
    let shots = screenshots_dir();
    let pages = [
        ("jobs", "/".to_string()),
        ("job", "/jobs/failing".to_string()),
        ("now", "/now".to_string()),
        ("history", "/history".to_string()),
        ("run", format!("/runs/{}", filled.noisy)),
        ("run-failed", format!("/runs/{}", filled.failed)),
    ];
    let sizes = [
        ((1280, 800), "1280x800", Scheme::Light),
        ((390, 844), "390x844", Scheme::Light),
        ((1280, 800), "1280x800-dark", Scheme::Dark),
        ((390, 844), "390x844-dark", Scheme::Dark),
    ];
    for (name, path) in &pages {
        for (size, label, scheme) in sizes {
            let file = shots.join(format!("{name}-{label}.png"));
            browser::screenshot(
                &chromium,
                profile.path(),
                &format!("{base}{path}"),
                size,
                scheme,
                &file,
            );
        }
    }
    // The README's pictures come from here, when asked for.
    if std::env::var_os("CRONQ_DOCS_SCREENSHOTS").is_some() {
        let docs = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs");
        for name in ["jobs", "run", "now", "jobs-dark"] {
            let (page, label) = name
                .split_once('-')
                .map_or((name, "1280x800".to_string()), |(page, scheme)| {
                    (page, format!("1280x800-{scheme}"))
                });
            std::fs::copy(
                shots.join(format!("{page}-{label}.png")),
                docs.join(format!("dashboard-{name}.png")),
            )
            .expect("copy a screenshot to docs/");
        }
    }
    // The copying run would sleep on: it is cancelled before the daemon goes.
    let _ = scratch.cronq().args(["cancel", &filled.running]).output();
    wait_status(&scratch, &filled.running, "cancelled");
    drop(daemon);
}

const TOKENS: &str = r#"
api_tokens:
  - {name: viewer, scope: read, token: "${TOKEN_READ}"}
  - {name: deploy-bot, scope: run, token: "${TOKEN_RUN}"}
  - {name: ops, scope: admin, token: "${TOKEN_ADMIN}"}
"#;

/// A daemon serving the dashboard with `settings` (its tokens from the environment):
/// the scratch dir, the daemon, and its address.
fn daemon_with(settings: &str) -> (Scratch, Process, String) {
    let scratch = Scratch::new();
    scratch.write("crontab.yaml", &schedule());
    scratch.write("settings.yaml", settings);
    let addr = format!("127.0.0.1:{}", free_port());
    let daemon = Process::start_with_env(
        scratch.path(),
        "daemon",
        &["daemon", "--settings", "settings.yaml", "--http", &addr],
        &[
            ("TOKEN_READ", "read-0123456789"),
            ("TOKEN_RUN", "run-0123456789"),
            ("TOKEN_ADMIN", "admin-0123456789"),
        ],
    );
    wait_http(&format!("http://{addr}"));
    (scratch, daemon, addr)
}

/// Logs `tab` in with `token` through the login form, as a person types it.
fn log_in(browser: &mut Browser, tab: &common::browser::Tab, token: &str) {
    browser.wait_for(
        tab,
        "the login form",
        "!!document.querySelector('form[action=\"/login\"] input[name=token]')",
        PATIENCE,
    );
    browser
        .eval(
            tab,
            &format!(
                "document.querySelector('input[name=token]').value = '{token}'; \
                 document.querySelector('form[action=\"/login\"] button').click(); true"
            ),
        )
        .expect("the form submits");
}

#[test]
fn buttons_follow_the_token_and_forms_need_the_session_and_its_csrf_token() {
    let Some(chromium) = chromium() else { return };
    let (scratch, _daemon, addr) = daemon_with(TOKENS);
    let base = format!("http://{addr}");
    let mut browser = Browser::start(&chromium);

    // A read token: the pages, but no button that changes anything.
    let reader = browser.open(&format!("{base}/jobs/quick"));
    log_in(&mut browser, &reader, "read-0123456789");
    browser.wait_for(
        &reader,
        "the job page",
        "location.pathname === '/jobs/quick' && !!document.querySelector('h1')",
        PATIENCE,
    );
    let html = browser
        .eval(&reader, "document.body.innerHTML")
        .expect("the page");
    let html = html.as_str().expect("html");
    assert!(
        html.contains("viewer") && html.contains("Job quick"),
        "{html}"
    );
    assert!(
        !html.contains("Run now") && !html.contains("/run\""),
        "no button for read: {html}"
    );

    // A wrong token is refused with one sentence.
    let stranger = browser.open(&format!("{base}/"));
    log_in(&mut browser, &stranger, "not-a-token");
    browser.wait_for(
        &stranger,
        "the refusal",
        "document.body.innerText.includes('not one of the api_tokens')",
        PATIENCE,
    );

    // A run token: "Run now" is there; a click queues the run and shows it.
    let runner = browser.open(&format!("{base}/jobs/quick"));
    log_in(&mut browser, &runner, "run-0123456789");
    browser.wait_for(
        &runner,
        "the Run now button",
        "[...document.querySelectorAll('button')].some(b => b.textContent === 'Run now')",
        PATIENCE,
    );
    browser
        .eval(
            &runner,
            "document.querySelector('textarea[name=args]').value = 'from-the-browser'; \
             [...document.querySelectorAll('button')].find(b => b.textContent === 'Run now').click(); true",
        )
        .expect("click");
    browser.wait_for(
        &runner,
        "the run's page",
        "location.pathname.startsWith('/runs/')",
        PATIENCE,
    );
    let path = browser.eval(&runner, "location.pathname").expect("a path");
    let id = path
        .as_str()
        .expect("a path")
        .trim_start_matches("/runs/")
        .to_string();
    let run = wait_status(&scratch, &id, "succeeded");
    assert_eq!(run["job"], "quick");
    assert_eq!(run["by"], "web:deploy-bot");
    assert_eq!(run["args"], serde_json::json!(["from-the-browser"]));
    browser.wait_for(&runner, "the ended run with Run again", "document.body.innerText.includes('Run again') && !!document.querySelector('#run-head [data-status=\"succeeded\"]')", PATIENCE);
    let history = cronq(&scratch, &["history", "--job", "quick", "--json"]);
    assert!(history.contains(&id), "the run is in the history");

    // The session cookie: HttpOnly, SameSite=Strict; not readable by the page's script.
    let cookie = browser.eval(&runner, "document.cookie").expect("cookies");
    assert_eq!(
        cookie,
        Value::String(String::new()),
        "HttpOnly keeps it from scripts"
    );
    drop(browser);

    // Forms as a forger would post them: each is refused without the session's CSRF
    // token or from another site's page, and the cookie is Secure behind TLS.
    let (status, head, _) = http(
        &addr,
        "POST",
        "/login",
        &[("x-forwarded-proto", "https")],
        "token=run-0123456789&next=/",
    );
    assert_eq!(status, 303);
    let set = header(&head, "set-cookie").expect("a session cookie");
    assert!(
        set.contains("HttpOnly") && set.contains("SameSite=Strict") && set.contains("Secure"),
        "{set}"
    );
    let session = set.split(';').next().expect("name=value").to_string();
    let (_, _, page) = http(&addr, "GET", "/jobs/quick", &[("cookie", &session)], "");
    let csrf = page
        .split("name=\"csrf\" value=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("the form's CSRF token")
        .to_string();
    let origin = format!("http://{addr}");
    let refused = [
        (vec![("cookie", session.as_str())], String::new()),
        (vec![("cookie", session.as_str())], "csrf=0000".to_string()),
        (
            vec![
                ("cookie", session.as_str()),
                ("origin", "http://evil.example"),
            ],
            format!("csrf={csrf}"),
        ),
    ];
    for (headers, body) in &refused {
        let (status, _, text) = http(&addr, "POST", "/jobs/quick/run", headers, body);
        assert_eq!(status, 403, "{headers:?} {body}: {text}");
    }
    let (status, head, _) = http(
        &addr,
        "POST",
        "/jobs/quick/run",
        &[],
        &format!("csrf={csrf}"),
    );
    assert_eq!(status, 303, "no session: to the login");
    assert!(header(&head, "location").is_some_and(|l| l.starts_with("/login")));
    let before = cronq(&scratch, &["history", "--job", "quick", "--json"])
        .matches("\"id\"")
        .count();
    assert_eq!(before, 1, "no refused form queued a run");
    let (status, head, _) = http(
        &addr,
        "POST",
        "/jobs/quick/run",
        &[("cookie", &session), ("origin", &origin)],
        &format!("csrf={csrf}"),
    );
    assert_eq!(status, 303);
    assert!(
        header(&head, "location").is_some_and(|l| l.starts_with("/runs/")),
        "{head}"
    );
}

/// The tokens, and one worker slot for queue `narrow`, so its runs wait their turn.
const TOKENS_AND_A_NARROW_QUEUE: &str = r#"
api_tokens:
  - {name: viewer, scope: read, token: "${TOKEN_READ}"}
  - {name: deploy-bot, scope: run, token: "${TOKEN_RUN}"}
workers: {default: 2, narrow: 1}
"#;

/// Clicks the button whose text is `label`.
fn click(browser: &mut Browser, tab: &common::browser::Tab, label: &str) {
    browser
        .eval(
            tab,
            &format!(
                "[...document.querySelectorAll('button')].find(b => b.textContent === '{label}').click(); true"
            ),
        )
        .unwrap_or_else(|e| panic!("no {label} button to click: {e}"));
}

#[test]
fn queued_runs_wait_in_place_and_cancel_and_run_again_are_clicked() {
    let Some(chromium) = chromium() else { return };
    let (scratch, _daemon, addr) = daemon_with(TOKENS_AND_A_NARROW_QUEUE);
    let base = format!("http://{addr}");
    // One run of `tick` to go by, then `hold` takes the queue's one slot and two more
    // runs of `tick` wait behind it.
    let first = run(&scratch, "tick");
    wait_status(&scratch, &first, "succeeded");
    let hold = run(&scratch, "hold");
    let deadline = Instant::now() + PATIENCE;
    while show(&scratch, &hold)["progress"] != 10 {
        assert!(
            Instant::now() < deadline,
            "the hold run never reported progress"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let waiting = [run(&scratch, "tick"), run(&scratch, "tick")];
    for id in &waiting {
        assert_eq!(show(&scratch, id)["status"], "queued");
    }

    let mut browser = Browser::start(&chromium);
    // A read token: the pages, and neither Cancel nor Run again.
    let reader = browser.open(&format!("{base}/runs/{hold}"));
    log_in(&mut browser, &reader, "read-0123456789");
    browser.wait_for(
        &reader,
        "the running run",
        "!!document.querySelector('#run-head [data-status=\"running\"]')",
        PATIENCE,
    );
    let buttons = "[...document.querySelectorAll('main button')].map(b => b.textContent)";
    assert_eq!(
        browser.eval(&reader, buttons).expect("buttons"),
        serde_json::json!([])
    );

    // Now: the queued runs with their place in the queue and when they should start.
    let runner = browser.open(&format!("{base}/now"));
    log_in(&mut browser, &runner, "run-0123456789");
    let queued = |id: &str| format!("document.querySelector('table.queued tr[data-run=\"{id}\"]')");
    browser.wait_for(
        &runner,
        "the queued runs",
        &format!("!!{}", queued(&waiting[1])),
        PATIENCE,
    );
    for (place, id) in waiting.iter().enumerate() {
        let cells = browser
            .eval(
                &runner,
                &format!("[...{}.cells].map(c => c.textContent)", queued(id)),
            )
            .expect("the row");
        let cells: Vec<&str> = cells
            .as_array()
            .expect("cells")
            .iter()
            .map(|c| c.as_str().expect("text"))
            .collect();
        assert_eq!(cells[1], "tick", "{cells:?}");
        assert_eq!(cells[2], "narrow", "{cells:?}");
        assert_eq!(cells[3], format!("#{}", place + 1), "its place: {cells:?}");
        assert!(
            cells[4].starts_with("in about "),
            "an expected start: {cells:?}"
        );
    }

    // Cancel, reached by the keyboard and clicked, ends the running run.
    browser
        .eval(&runner, &format!("location.href = '/runs/{hold}'; true"))
        .expect("to the run");
    browser.wait_for(
        &runner,
        "the Cancel button",
        "[...document.querySelectorAll('button')].some(b => b.textContent === 'Cancel')",
        PATIENCE,
    );
    let mut reached = false;
    for _ in 0..30 {
        browser.press_tab(&runner);
        let focused = browser
            .eval(&runner, "document.activeElement.textContent")
            .expect("the focus");
        if focused == "Cancel" {
            reached = true;
            break;
        }
    }
    assert!(reached, "Tab never reached Cancel");
    click(&mut browser, &runner, "Cancel");
    wait_status(&scratch, &hold, "cancelled");
    browser.wait_for(
        &runner,
        "the page to show it cancelled",
        "!!document.querySelector('#run-head [data-status=\"cancelled\"]')",
        PATIENCE,
    );
    for id in &waiting {
        wait_status(&scratch, id, "succeeded");
    }

    // Run again, on an ended run: a new run, trigger rerun, linked to the old one.
    browser
        .eval(&runner, &format!("location.href = '/runs/{first}'; true"))
        .expect("to the run");
    browser.wait_for(
        &runner,
        "the Run again button",
        "[...document.querySelectorAll('button')].some(b => b.textContent === 'Run again')",
        PATIENCE,
    );
    click(&mut browser, &runner, "Run again");
    browser.wait_for(
        &runner,
        "the new run's page",
        &format!("location.pathname.startsWith('/runs/') && location.pathname !== '/runs/{first}'"),
        PATIENCE,
    );
    let path = browser.eval(&runner, "location.pathname").expect("a path");
    let again = path
        .as_str()
        .expect("a path")
        .trim_start_matches("/runs/")
        .to_string();
    let rerun = wait_status(&scratch, &again, "succeeded");
    assert_eq!(rerun["job"], "tick");
    assert_eq!(rerun["trigger"], "rerun");
    assert_eq!(rerun["rerun_of"], Value::String(first.clone()));
    assert_eq!(rerun["by"], "web:deploy-bot");
    browser.wait_for(&runner, "the link to the run it reruns", &format!("!!document.querySelector('[data-field=\"rerun_of\"]') && document.querySelector('[data-field=\"rerun_of\"]').textContent.includes('{first}')"), PATIENCE);
}

/// Logs in with `token` over plain HTTP; the session's cookie and the CSRF token of
/// the page at `path`.
fn session(addr: &str, token: &str, path: &str) -> (String, String) {
    let (status, head, _) = http(
        addr,
        "POST",
        "/login",
        &[],
        &format!("token={token}&next=/"),
    );
    assert_eq!(status, 303, "{head}");
    let set = header(&head, "set-cookie").expect("a session cookie");
    let cookie = set.split(';').next().expect("name=value").to_string();
    let (_, _, page) = http(addr, "GET", path, &[("cookie", &cookie)], "");
    let csrf = page
        .split("name=\"csrf\" value=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("a CSRF token")
        .to_string();
    (cookie, csrf)
}

#[test]
fn pause_and_resume_are_for_an_admin_token_only() {
    let (scratch, _daemon, addr) = daemon_with(TOKENS);
    let page = "/jobs/nightly-backup";
    // A run token sees Run now but no Pause…, and its pause post is refused.
    let (cookie, csrf) = session(&addr, "run-0123456789", page);
    let (_, _, html) = http(&addr, "GET", page, &[("cookie", &cookie)], "");
    assert!(
        html.contains("Run now") && !html.contains("Pause…"),
        "{html}"
    );
    let form = format!("csrf={csrf}&reason=nope");
    let (status, _, _) = http(
        &addr,
        "POST",
        &format!("{page}/pause"),
        &[("cookie", &cookie)],
        &form,
    );
    assert_eq!(status, 403);
    // An admin pauses with a reason and an end, sees it, and resumes.
    let (cookie, csrf) = session(&addr, "admin-0123456789", page);
    let (_, _, html) = http(&addr, "GET", page, &[("cookie", &cookie)], "");
    assert!(
        html.contains("Pause…") && !html.contains(">Resume<"),
        "{html}"
    );
    let form = format!("csrf={csrf}&reason=db+migration&until=2099-01-01T08%3A00");
    let (status, head, _) = http(
        &addr,
        "POST",
        &format!("{page}/pause"),
        &[("cookie", &cookie)],
        &form,
    );
    assert_eq!(status, 303, "{head}");
    let pauses = cronq(&scratch, &["status", "--json"]);
    assert!(
        pauses.contains("db migration") && pauses.contains("2099-01-01T08:00:00"),
        "{pauses}"
    );
    let (_, _, html) = http(&addr, "GET", page, &[("cookie", &cookie)], "");
    assert!(
        html.contains("db migration") && html.contains(">Resume<"),
        "{html}"
    );
    let (_, _, jobs) = http(&addr, "GET", "/?status=paused", &[("cookie", &cookie)], "");
    assert!(jobs.contains("data-job=\"nightly-backup\""), "{jobs}");
    let form = format!("csrf={csrf}");
    let (status, _, _) = http(
        &addr,
        "POST",
        &format!("{page}/resume"),
        &[("cookie", &cookie)],
        &form,
    );
    assert_eq!(status, 303);
    let (_, _, html) = http(&addr, "GET", page, &[("cookie", &cookie)], "");
    assert!(
        !html.contains("db migration") && html.contains("Pause…"),
        "{html}"
    );
    // A pause whose end has passed is refused with one sentence.
    let form = format!("csrf={csrf}&until=2001-01-01T00%3A00");
    let (status, _, text) = http(
        &addr,
        "POST",
        &format!("{page}/pause"),
        &[("cookie", &cookie)],
        &form,
    );
    assert_eq!(status, 400);
    assert!(text.contains("has passed already"), "{text}");
}

/// One HTTP/1.1 request over a plain socket: the status, the head, the body. Form
/// bodies are sent as a browser sends them.
fn http(
    addr: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> (u16, String, String) {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(addr).expect("connect");
    let mut request = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    if method == "POST" {
        request.push_str("Content-Type: application/x-www-form-urlencoded\r\n");
        request.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    request.push_str("\r\n");
    request.push_str(body);
    stream.write_all(request.as_bytes()).expect("send");
    let mut answer = String::new();
    stream.read_to_string(&mut answer).expect("read");
    let (head, body) = answer.split_once("\r\n\r\n").unwrap_or((&answer, ""));
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("a status");
    (status, head.to_string(), body.to_string())
}

fn header(head: &str, name: &str) -> Option<String> {
    head.lines()
        .filter_map(|line| line.split_once(':'))
        .find(|(key, _)| key.eq_ignore_ascii_case(name))
        .map(|(_, value)| value.trim().to_string())
}
