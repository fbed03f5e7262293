//! Build-time facts for `cronq --version`: the git commit, its date, and whether the
//! tree had changes, read here so the binary never needs git at run time. Without git
//! or a repository (a build from the published crate or a tarball) the version is the
//! package's alone.

use std::path::{Path, PathBuf};
use std::process::Command;

fn main() {
    let package = env!("CARGO_PKG_VERSION");
    let version = match commit() {
        Some(commit) => format!("{package} ({commit})"),
        None => package.to_string(),
    };
    println!("cargo:rustc-env=CRONQ_VERSION={version}");
}

/// What the binary is compiled from: a change there makes the build `-dirty`. (A
/// change to the tests or the docs does not, and does not rebuild the crate.)
const BUILT_FROM: [&str; 4] = ["src", "build.rs", "Cargo.toml", "Cargo.lock"];

/// `3f2a1c9 2026-12-03`, or `3f2a1c9-dirty 2026-12-03` when what the binary is built
/// from differs from the commit; `None` without git or outside a repository.
fn commit() -> Option<String> {
    // The unpacked crate of `cargo package` sits inside the checkout: its commit is
    // not this tree's.
    let top = PathBuf::from(git(&["rev-parse", "--show-toplevel"])?);
    let here = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR")?);
    if top.canonicalize().ok()? != here.canonicalize().ok()? {
        return None;
    }
    let git_dir = PathBuf::from(git(&["rev-parse", "--absolute-git-dir"])?);
    rerun_on_new_commit(&git_dir);
    let hash = git(&["rev-parse", "--short=7", "HEAD"])?;
    let date = git(&["log", "-1", "--format=%cs", "HEAD"])?;
    let clean = Command::new("git")
        .args(["diff", "--quiet", "HEAD", "--"])
        .args(BUILT_FROM)
        .status()
        .ok()?
        .success();
    let dirty = if clean { "" } else { "-dirty" };
    Some(format!("{hash}{dirty} {date}"))
}

/// Reruns this script when HEAD moves (a commit, a checkout), when the index changes
/// (`git add`, a commit) and when a source file changes, which may make the build dirty.
fn rerun_on_new_commit(git_dir: &Path) {
    println!("cargo:rerun-if-changed={}", git_dir.join("HEAD").display());
    println!("cargo:rerun-if-changed={}", git_dir.join("index").display());
    if let Some(head) = git(&["symbolic-ref", "-q", "HEAD"]) {
        // A worktree keeps its branches in the repository's common directory.
        let common = git(&["rev-parse", "--path-format=absolute", "--git-common-dir"])
            .map_or_else(|| git_dir.to_path_buf(), PathBuf::from);
        // A path that does not exist would rerun this script on every build.
        let refs = [common.join(head), common.join("packed-refs")];
        for path in refs.iter().filter(|path| path.exists()) {
            println!("cargo:rerun-if-changed={}", path.display());
        }
    }
    for built in BUILT_FROM {
        println!("cargo:rerun-if-changed={built}");
    }
}

/// One line of git's output, or `None` when git is missing or fails.
fn git(args: &[&str]) -> Option<String> {
    let output = Command::new("git").args(args).output().ok()?;
    if !output.status.success() {
        return None;
    }
    let text = String::from_utf8(output.stdout).ok()?;
    Some(text.trim().to_string()).filter(|t| !t.is_empty())
}
