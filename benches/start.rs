//! Start time: `cronq --version` spawned and waited for, beside `/bin/true` in the same
//! run, which is the floor any program on this machine pays (fork, exec, exit). Prints
//! the mean, p50 and p95 of each, and the size of the binary measured.
//!
//! Run with `cargo bench --bench start` (a few seconds). `CRONQ_BENCH_STARTS` (300).
//! The packaged binary is stripped; point `CRONQ_BENCH_BINARY` at it to measure that.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn main() {
    let starts: usize = std::env::var("CRONQ_BENCH_STARTS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(300);
    let cronq =
        std::env::var("CRONQ_BENCH_BINARY").unwrap_or_else(|_| env!("CARGO_BIN_EXE_cronq").into());
    let size = std::fs::metadata(&cronq).map(|m| m.len()).unwrap_or(0);
    println!("binary: {cronq} ({:.1} MB)", size as f64 / 1e6);
    // Warm the page cache for both, as a second start finds it.
    measure("/bin/true", &[], 10);
    measure(&cronq, &["--version"], 10);
    let baseline = measure("/bin/true", &[], starts);
    let version = measure(&cronq, &["--version"], starts);
    report("/bin/true", &baseline);
    report("cronq --version", &version);
    println!(
        "cronq --version costs {:.2} ms more than /bin/true (p50)",
        ms(version[version.len() / 2]) - ms(baseline[baseline.len() / 2])
    );
}

/// Each start's time from spawn to exit, sorted.
fn measure(program: &str, args: &[&str], starts: usize) -> Vec<Duration> {
    let mut times: Vec<Duration> = (0..starts)
        .map(|_| {
            let started = Instant::now();
            let status = Command::new(program)
                .args(args)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .expect("the program starts");
            assert!(status.success(), "{program} failed");
            started.elapsed()
        })
        .collect();
    times.sort();
    times
}

fn ms(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}

fn report(what: &str, times: &[Duration]) {
    let mean = times.iter().sum::<Duration>() / times.len() as u32;
    let p95 = times[times.len() * 95 / 100];
    println!(
        "{what:<16} mean {:.2} ms  p50 {:.2} ms  p95 {:.2} ms  ({} starts)",
        ms(mean),
        ms(times[times.len() / 2]),
        ms(p95),
        times.len()
    );
}
