//! The .deb as an operator gets it: unpacked with `dpkg -x` into a throwaway root, its
//! `cronq --version` run from there, each file the package promises looked for, and
//! its control data read with `dpkg-deb`. The package is built by
//! `config/deb/build-deb` (a release build and cargo-deb: minutes), so this test
//! reads the one named by `CRONQ_DEB`, as `.ci/run` sets it, and skips without.

use std::path::{Path, PathBuf};
use std::process::Command;

fn deb() -> Option<PathBuf> {
    let Some(path) = std::env::var_os("CRONQ_DEB") else {
        eprintln!("skipped: CRONQ_DEB names no .deb (config/deb/build-deb makes one)");
        return None;
    };
    Some(PathBuf::from(path))
}

fn run(command: &mut Command) -> String {
    let output = command.output().expect("the tool runs");
    assert!(output.status.success(), "{command:?}: {output:?}");
    String::from_utf8(output.stdout).unwrap()
}

/// The package unpacked into a fresh directory.
fn unpacked(deb: &Path) -> tempfile::TempDir {
    let root = tempfile::tempdir().unwrap();
    run(Command::new("dpkg").arg("-x").arg(deb).arg(root.path()));
    root
}

#[test]
fn the_unpacked_binary_says_its_version() {
    let Some(deb) = deb() else { return };
    let root = unpacked(&deb);
    let printed = run(Command::new(root.path().join("usr/bin/cronq")).arg("--version"));
    let version = env!("CARGO_PKG_VERSION");
    assert!(
        printed.starts_with(&format!("cronq {version} ("))
            || printed == format!("cronq {version}\n"),
        "{printed}"
    );
}

#[test]
fn the_package_holds_every_file_it_promises() {
    let Some(deb) = deb() else { return };
    let root = unpacked(&deb);
    let mut promised: Vec<String> = [
        "usr/bin/cronq",
        "usr/lib/systemd/system/cronq.service",
        "usr/lib/systemd/system/cronq-worker@.service",
        "etc/cronq/cronq.yaml",
        "etc/cronq/crontab.yaml",
        "usr/lib/sysusers.d/cronq.conf",
        "usr/share/doc/cronq/crontab.example.yaml",
        "usr/share/doc/cronq/cronq.example.yaml",
        "usr/share/doc/cronq/supervisord/cronq.conf",
        "usr/share/man/man1/cronq.1.gz",
        "usr/share/man/man5/cronq.yaml.5.gz",
        "usr/share/bash-completion/completions/cronq",
        "usr/share/zsh/vendor-completions/_cronq",
        "usr/share/fish/vendor_completions.d/cronq.fish",
    ]
    .map(String::from)
    .to_vec();
    for sub in [
        "daemon", "worker", "run", "status", "history", "show", "logs", "cancel",
    ] {
        promised.push(format!("usr/share/man/man1/cronq-{sub}.1.gz"));
    }
    for path in &promised {
        let file = root.path().join(path);
        assert!(file.is_file(), "{path} is not in the package");
        assert!(file.metadata().unwrap().len() > 0, "{path} is empty");
    }
    // The man pages are gzipped roff, which man(1) reads.
    let page = run(Command::new("gzip")
        .args(["-dc"])
        .arg(root.path().join("usr/share/man/man1/cronq-run.1.gz")));
    assert!(page.contains(".TH cronq-run 1"), "{page}");
    // The binary is stripped: its debug info went to cronq-dbgsym.
    if let Ok(output) = Command::new("readelf")
        .args(["-S", "-W"])
        .arg(root.path().join("usr/bin/cronq"))
        .output()
    {
        let sections = String::from_utf8_lossy(&output.stdout);
        assert!(
            !sections.contains(".debug_line"),
            "not stripped:\n{sections}"
        );
        assert!(!sections.contains(".symtab"), "not stripped:\n{sections}");
    }
}

#[test]
fn the_control_data_installs_the_units_without_enabling_them() {
    let Some(deb) = deb() else { return };
    let fields = run(Command::new("dpkg-deb").arg("-f").arg(&deb));
    assert!(fields.contains("Package: cronq\n"), "{fields}");
    assert!(fields.contains(&format!("Version: {}", env!("CARGO_PKG_VERSION"))));
    let control = tempfile::tempdir().unwrap();
    run(Command::new("dpkg-deb")
        .arg("-e")
        .arg(&deb)
        .arg(control.path()));
    let conffiles = std::fs::read_to_string(control.path().join("conffiles")).unwrap();
    assert!(conffiles.contains("/etc/cronq/cronq.yaml"), "{conffiles}");
    assert!(conffiles.contains("/etc/cronq/crontab.yaml"), "{conffiles}");
    let postinst = std::fs::read_to_string(control.path().join("postinst")).unwrap();
    assert!(
        postinst.contains("systemd-sysusers"),
        "the user cronq: {postinst}"
    );
    // An upgrade restarts the daemon if it runs; an install enables and starts nothing
    // (`enable` only where it was enabled before).
    assert!(
        postinst.contains("deb-systemd-invoke try-restart cronq.service"),
        "{postinst}"
    );
    assert!(!postinst.contains("deb-systemd-invoke start"), "{postinst}");
    assert!(postinst.contains("was-enabled cronq.service"), "{postinst}");
    let prerm = std::fs::read_to_string(control.path().join("prerm")).unwrap();
    assert!(
        prerm.contains(r#""$1" = remove"#),
        "stopped on removal only: {prerm}"
    );
}
