//! Loading a schedule of 100,000 jobs: time and memory, next to the YAML parser alone
//! on the same text (the baseline: what any loader on serde-saphyr must pay).
//!
//! Run with `cargo bench --bench schedule_load`. Figures vary with the machine; compare
//! the two lines of one run.

use std::process::Command;
use std::time::Instant;

const JOBS: usize = 100_000;

/// Set in the child process that makes one of the two measurements.
const CHILD: &str = "CRONQ_BENCH_LOAD_CHILD";

fn main() {
    let text = schedule_text(JOBS);
    match std::env::var(CHILD).as_deref() {
        Ok("yaml") => return yaml_alone(&text),
        Ok(_) => return cronq_load(&text),
        Err(_) => {}
    }
    println!(
        "schedule of {JOBS} jobs, {:.1} MB of YAML; each measured in a fresh process, so that neither reuses the other's freed memory",
        text.len() as f64 / 1e6
    );
    let exe = std::env::current_exe().expect("this benchmark's path");
    for which in ["yaml", "cronq"] {
        let output = Command::new(&exe)
            .env(CHILD, which)
            .output()
            .expect("the child runs");
        assert!(output.status.success(), "the {which} child failed");
        print!("{}", String::from_utf8_lossy(&output.stdout));
    }
}

fn yaml_alone(text: &str) {
    let (elapsed, rss_kb) = measure(|| {
        let mut budget = serde_saphyr::Budget::default();
        budget.max_nodes = 20_000_000;
        budget.max_events = 50_000_000;
        let mut options = serde_saphyr::Options::default();
        options.budget = Some(budget);
        let value: serde_json::Value =
            serde_saphyr::from_str_with_options(text, options).expect("valid YAML");
        value
    });
    println!(
        "  baseline  serde-saphyr to a generic value   {elapsed:>8.0} ms   +{:>6} KB RSS",
        rss_kb
    );
}

fn cronq_load(text: &str) {
    // As `cronq`'s own `main` does.
    cronq::memory::give_back_freed_memory();
    let (elapsed, rss_kb) = measure(|| {
        cronq::schedule::load(text, "bench.yaml", chrono_tz::Tz::UTC).expect("a valid schedule")
    });
    println!(
        "  cronq     schedule::load (validated jobs)    {elapsed:>8.0} ms   +{:>6} KB RSS",
        rss_kb
    );
}

/// Runs `work`, keeping its result alive while RSS is read: (milliseconds, RSS growth).
fn measure<T>(work: impl FnOnce() -> T) -> (f64, u64) {
    let before = rss_kb();
    let start = Instant::now();
    let result = work();
    let elapsed = start.elapsed().as_secs_f64() * 1e3;
    let grown = rss_kb().saturating_sub(before);
    drop(result);
    (elapsed, grown)
}

fn schedule_text(jobs: usize) -> String {
    let mut text = String::from("defaults:\n  timezone: UTC\njobs:\n");
    for i in 0..jobs {
        text.push_str(&format!(
            "  job-{i}:\n    schedule: \"{} {} * * {}\"\n    command: [\"/bin/true\", \"{i}\"]\n",
            i % 60,
            (i / 60) % 24,
            i % 7
        ));
    }
    text
}

fn rss_kb() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("Linux /proc");
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|kb| kb.parse().ok())
        .expect("VmRSS in /proc/self/status")
}
