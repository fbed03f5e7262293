//! A store file written by an earlier release, opened by this one: upgrading the
//! package must keep the history. `tests/fixtures/store-0.1.0.db` was made by cronq
//! 0.1.0 (SQLite schema version 7) with `tests/fixtures/store-0.1.0.crontab.yaml`: a
//! `cronq worker --queue default`, then `cronq run greet --wait` and `cronq run fail
//! --wait`. When the schema changes, this test opens the old file through the
//! migration; keep the fixture, and add one from each new release beside it.

mod common;

use std::path::Path;

use common::Scratch;

/// The fixture copied into `scratch`, so the test never changes the kept file.
fn copy(scratch: &Scratch) -> String {
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let db = scratch.path().join("store.db");
    std::fs::copy(fixtures.join("store-0.1.0.db"), &db).unwrap();
    std::fs::copy(
        fixtures.join("store-0.1.0.crontab.yaml"),
        scratch.path().join("crontab.yaml"),
    )
    .unwrap();
    format!("sqlite:{}", db.display())
}

#[test]
fn the_runs_of_a_0_1_0_store_are_read_by_this_release() {
    let scratch = Scratch::new();
    let store = copy(&scratch);
    let output = scratch
        .cronq()
        .args(["history", "--json", "--store", &store])
        .output()
        .unwrap();
    assert!(output.status.success(), "{output:?}");
    let history: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let runs = history["runs"].as_array().unwrap();
    let summary: Vec<(&str, &str, i64)> = runs
        .iter()
        .map(|r| {
            (
                r["job"].as_str().unwrap(),
                r["status"].as_str().unwrap(),
                r["exit_code"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(summary, [("fail", "failed", 3), ("greet", "succeeded", 0)]);

    // And each run's output, as it was recorded.
    let greet = runs[1]["id"].as_str().unwrap();
    let shown = scratch
        .cronq()
        .args(["logs", greet, "--store", &store])
        .output()
        .unwrap();
    assert!(shown.status.success(), "{shown:?}");
    assert_eq!(String::from_utf8_lossy(&shown.stdout), "hello from 0.1.0\n");
}

#[test]
fn a_0_1_0_store_takes_new_runs_after_the_upgrade() {
    let scratch = Scratch::new();
    let store = copy(&scratch);
    let queued = scratch
        .cronq()
        .args(["run", "greet", "--json", "--store", &store])
        .args(["--schedule", "crontab.yaml"])
        .output()
        .unwrap();
    assert!(queued.status.success(), "{queued:?}");
    let id: serde_json::Value = serde_json::from_slice(&queued.stdout).unwrap();
    let listed = scratch
        .cronq()
        .args(["history", "--json", "--store", &store])
        .output()
        .unwrap();
    let history: serde_json::Value = serde_json::from_slice(&listed.stdout).unwrap();
    let runs = history["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 3, "the two old runs and the new one");
    assert_eq!(runs[0]["id"], id["id"]);
    assert_eq!(runs[0]["status"], "queued");
}
