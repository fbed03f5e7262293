//! `cronq --version`: the package's version, the commit the binary was built from, its
//! date, and `-dirty` when the sources compiled in differed from that commit.

mod common;

use std::process::Command;

use common::Scratch;

fn git(args: &[&str]) -> Option<String> {
    let output = Command::new("git")
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .ok()?;
    let text = String::from_utf8(output.stdout).ok()?.trim().to_string();
    (output.status.success() && !text.is_empty()).then_some(text)
}

#[test]
fn version_names_the_commit_its_date_and_whether_the_sources_were_changed() {
    let output = Scratch::new().cronq().arg("--version").output().unwrap();
    assert!(output.status.success());
    let printed = String::from_utf8(output.stdout).unwrap();
    let package = env!("CARGO_PKG_VERSION");
    let Some(hash) = git(&["rev-parse", "--short=7", "HEAD"]) else {
        // Built outside a repository: the version alone, still a working binary.
        assert_eq!(printed, format!("cronq {package}\n"));
        return;
    };
    let date = git(&["log", "-1", "--format=%cs", "HEAD"]).unwrap();
    let built_from = ["src", "build.rs", "Cargo.toml", "Cargo.lock"];
    let clean = Command::new("git")
        .args(["diff", "--quiet", "HEAD", "--"])
        .args(built_from)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .status()
        .unwrap()
        .success();
    let dirty = if clean { "" } else { "-dirty" };
    assert_eq!(printed, format!("cronq {package} ({hash}{dirty} {date})\n"));
}

#[test]
fn every_subcommand_prints_the_same_version() {
    let top = Scratch::new().cronq().arg("--version").output().unwrap();
    let sub = Scratch::new()
        .cronq()
        .args(["daemon", "--version"])
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8(sub.stdout)
            .unwrap()
            .replace("cronq-daemon", "cronq"),
        String::from_utf8(top.stdout).unwrap()
    );
}
