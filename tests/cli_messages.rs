//! Every refusal is one line in cronq's words: it names the flag or the file's
//! line:column and what was expected, and never passes on a library's phrasing (a
//! parser's offsets, chrono's or humantime's words, a Redis client's kind names or a
//! server's raw answer). Each bad value is fed to the real binary as a user would.

mod common;

use common::redis_server::RedisServer;
use common::{Scratch, texts};

/// Words that only a library says.
const LIBRARY_WORDS: &[&str] = &[
    "premature end of input",
    "input is out of range",
    "input contains invalid characters",
    "expected number at",
    "trailing input",
    "invalid digit found in string",
    "time unit needed",
    "unknown time unit",
    "supported units",
    "InvalidClientConfig",
    "AuthenticationFailed",
    "ResponseError",
    "Server(",
    "(os error",
    "from_str_multiple",
    "stream did not contain valid UTF-8",
    "For more information",
    "serde",
    "saphyr",
    "panicked",
];

/// `cronq ARGS`, with `CRONQ_STORE` set when given: its exit code and stderr.
fn refusal(scratch: &Scratch, store: Option<&str>, args: &[&str]) -> (Option<i32>, String) {
    let mut cronq = scratch.cronq();
    if let Some(url) = store {
        cronq.env("CRONQ_STORE", url);
    }
    let output = cronq.args(args).output().unwrap();
    (output.status.code(), texts(&output).1)
}

fn assert_plain(what: &str, code: Option<i32>, stderr: &str, names: &str) {
    assert!(
        matches!(code, Some(1..=3)),
        "{what}: exit {code:?}: {stderr}"
    );
    assert_eq!(stderr.lines().count(), 1, "{what}: one line: {stderr}");
    assert!(stderr.ends_with('\n'), "{what}: {stderr:?}");
    for words in LIBRARY_WORDS {
        assert!(!stderr.contains(words), "{what} says `{words}`: {stderr}");
    }
    assert!(stderr.contains(names), "{what} names `{names}`: {stderr}");
    let hints = [
        "expected",
        "such as",
        "give it",
        "refused",
        "unreachable",
        "out of range",
        "must",
        "is a directory",
        "name one",
        "see `cronq",
    ];
    assert!(
        hints.iter().any(|hint| stderr.contains(hint)),
        "{what} says what would do: {stderr}"
    );
}

#[test]
fn a_directory_or_a_missing_file_where_a_file_is_named_is_exit_2_in_cronqs_words() {
    let scratch = Scratch::new();
    scratch.write("crontab.yaml", "jobs:\n  a:\n    command: [\"true\"]\n");
    std::fs::create_dir_all(scratch.path().join("a-dir")).unwrap();
    let cases: &[(&[&str], &str)] = &[
        // The same sentence from a command that only reads the store and from the daemon.
        (
            &["history", "--store", "sqlite:a-dir"],
            "the store sqlite:a-dir is a directory; expected the path of a file, such as sqlite:a-dir/cronq.db",
        ),
        (
            &["daemon", "--store", "sqlite:a-dir"],
            "the store sqlite:a-dir is a directory; expected the path of a file, such as sqlite:a-dir/cronq.db",
        ),
        (
            &["check", "--schedule", "a-dir"],
            "the schedule file a-dir is a directory; expected a YAML file, such as a-dir/crontab.yaml",
        ),
        (
            &["status", "--settings", "a-dir"],
            "the settings file a-dir is a directory; expected a YAML file, such as a-dir/cronq.yaml",
        ),
        (
            &["status", "--settings", "missing.yaml"],
            "no settings file at missing.yaml (--settings, CRONQ_SETTINGS); name one that exists, or neither for the defaults",
        ),
    ];
    for (args, sentence) in cases {
        let (code, stderr) = refusal(&scratch, None, args);
        assert_eq!(
            (code, stderr.as_str()),
            (Some(2), format!("cronq: {sentence}\n").as_str()),
            "{args:?}"
        );
    }
}

#[test]
fn bad_flag_values_are_one_line_that_names_the_flag() {
    let scratch = Scratch::new();
    scratch.write("crontab.yaml", "jobs:\n  a:\n    command: [\"true\"]\n");
    std::fs::create_dir_all(scratch.path().join("a-dir")).unwrap();
    let cases: &[(&[&str], &str)] = &[
        (&["next", "@daily", "--after", "x"], "--after"),
        (
            &["next", "@daily", "--after", "2026-13-01T00:00:00Z"],
            "--after",
        ),
        (&["next", "@daily", "--after", "2026-03-08"], "--after"),
        (
            &["next", "@daily", "--after", "2026-03-08T01:30:00"],
            "--after",
        ),
        (&["next", "@daily", "--tz", "Mars/Olympus"], "Mars/Olympus"),
        (&["next", "@daily", "--count", "lots"], "--count"),
        (&["next", "@daily", "--count", "-1"], "-1"),
        (&["next", "61 * * * *"], "61"),
        (&["next", "*/0 * * * *"], "*/0"),
        (&["status", "--grace", "5"], "--grace"),
        (&["history", "--since", "3x"], "--since"),
        (&["history", "--since", "2"], "--since"),
        (&["history", "--limit", "many"], "--limit"),
        (&["history", "--status", "nope"], "nope"),
        (&["worker", "--concurrency", "x"], "--concurrency"),
        (&["daemon", "--lease", "soon"], "--lease"),
        (&["daemon", "--workers", "default=x"], "--workers"),
        (&["daemon", "--containment", "jail"], "--containment"),
        (&["run", "a", "--env", "NOEQUALS"], "--env"),
        (&["completions", "tcsh"], "tcsh"),
        (&["history", "--store", "foo://x"], "foo://x"),
        (&["history", "--store", "sqlite:a-dir"], "a-dir"),
        (
            &["history", "--store", "redis://127.0.0.1:99999/0"],
            "redis://127.0.0.1:99999/0",
        ),
        (
            &["history", "--store", "redis://127.0.0.1:1/abc"],
            "redis://127.0.0.1:1/abc",
        ),
        (&["no-such-command"], "no-such-command"),
        (&["check", "--lease", "5s"], "--lease"),
        (&["check", "--settings", "missing.yaml"], "missing.yaml"),
        (&["check", "--schedule", "a-dir"], "a-dir"),
    ];
    for (args, names) in cases {
        let (code, stderr) = refusal(&scratch, None, args);
        assert_plain(&format!("{args:?}"), code, &stderr, names);
    }
    // A password in the URL goes through CRONQ_STORE, as the README advises.
    let (code, stderr) = refusal(
        &scratch,
        Some("redis://:x@127.0.0.1:1/0/extra"),
        &["history"],
    );
    assert_plain(
        "a Redis URL with a path after the db",
        code,
        &stderr,
        "redis://:***@127.0.0.1:1/0/extra",
    );
    assert!(stderr.contains("expected redis://"), "{stderr}");
}

#[test]
fn bad_files_are_one_line_per_problem_at_its_position() {
    let scratch = Scratch::new();
    let cases: &[(&str, &[u8], &str)] = &[
        ("unclosed.yaml", b"jobs:\n  a: [\n", "unclosed.yaml:2:"),
        (
            "two.yaml",
            b"---\njobs: {}\n---\njobs: {}\n",
            "two.yaml:4:1:",
        ),
        (
            "binary.yaml",
            b"\xff\xfe\x00j",
            "cronq: cannot read the schedule file binary.yaml: it is not UTF-8 text",
        ),
        (
            "quote.yaml",
            b"jobs:\n  a:\n    command: \"x\n",
            "quote.yaml:3:",
        ),
        ("tab.yaml", b"jobs:\n\ta:\n", "tab.yaml:"),
        ("anchor.yaml", b"jobs: *nowhere\n", "anchor.yaml:1:"),
    ];
    for (name, text, names) in cases {
        std::fs::write(scratch.path().join(name), text).unwrap();
        let (code, stderr) = refusal(&scratch, None, &["check", "--schedule", name]);
        assert_eq!(code, Some(2), "{name}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "{name}: {stderr}");
        assert!(stderr.starts_with(names), "{name}: {stderr}");
        for words in LIBRARY_WORDS {
            assert!(!stderr.contains(words), "{name} says `{words}`: {stderr}");
        }
    }
    scratch.write("settings.yaml", "store: [\n");
    let (code, stderr) = refusal(&scratch, None, &["history", "--settings", "settings.yaml"]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.starts_with("settings.yaml:1:8: "), "{stderr}");
}

#[test]
fn a_redis_that_answers_with_an_error_is_told_in_one_line() {
    let server = RedisServer::start_with(&["--requirepass", "sekrit"]);
    let port = server.port();
    let scratch = Scratch::new();
    let cases = [
        (format!("redis://127.0.0.1:{port}/0"), "needs a password"),
        (
            format!("redis://:wrong@127.0.0.1:{port}/0"),
            "refused the user name or password",
        ),
        (
            format!("redis://bob:wrong@127.0.0.1:{port}/0"),
            "refused the user name or password",
        ),
        (format!("redis://127.0.0.1:{port}/99"), "needs a password"),
    ];
    for (url, says) in &cases {
        let (code, stderr) = refusal(&scratch, Some(url), &["history"]);
        assert_plain(url, code, &stderr, says);
        assert!(!stderr.contains("wrong"), "no password shown: {stderr}");
    }
    // With the password, a database the server does not have: its answer, in one line.
    let url = format!("redis://:sekrit@127.0.0.1:{port}/99999");
    let (code, stderr) = refusal(&scratch, Some(&url), &["history"]);
    assert_plain(&url, code, &stderr, "unreachable");
    assert!(!stderr.contains("sekrit"), "{stderr}");
}
