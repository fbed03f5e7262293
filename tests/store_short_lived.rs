//! A short-lived command on the embedded store, with no daemon holding the file open,
//! leaves the WAL in place rather than checkpointing and deleting it as it closes, and
//! what it wrote is there for the next process.

mod common;

#[test]
fn runs_queued_by_short_lived_commands_are_kept_in_the_wal_and_read_by_the_next() {
    let scratch = common::Scratch::new();
    scratch.write(
        "crontab.yaml",
        "jobs:\n  j:\n    command: [\"/bin/true\"]\n    concurrency: allow\n",
    );
    let mut ids = Vec::new();
    for _ in 0..3 {
        let run = scratch.cronq().args(["run", "j"]).output().unwrap();
        assert!(run.status.success(), "{run:?}");
        ids.push(String::from_utf8(run.stdout).unwrap().trim().to_string());
    }
    let db = scratch.path().join("state/cronq/cronq.db");
    let wal = db.with_file_name("cronq.db-wal");
    // Closing no longer checkpoints (fsyncs) and deletes the WAL each time.
    assert!(
        wal.metadata().is_ok_and(|m| m.len() > 0),
        "no WAL beside {}",
        db.display()
    );
    let history = scratch
        .cronq()
        .args(["history", "--job", "j", "--json"])
        .output()
        .unwrap();
    assert!(history.status.success(), "{history:?}");
    let json: serde_json::Value = serde_json::from_slice(&history.stdout).unwrap();
    let listed: Vec<&str> = json["runs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|run| run["id"].as_str().unwrap())
        .collect();
    for id in &ids {
        assert!(
            listed.contains(&id.as_str()),
            "{id} missing from {listed:?}"
        );
    }
}
