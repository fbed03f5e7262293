//! Loading a schedule of 100,000 jobs: time and memory, next to the YAML parser alone
//! on the same text (the baseline: what any loader on serde-saphyr must pay).
//!
//! Run with `cargo bench --bench schedule_load`. Figures vary with the machine; compare
//! the two lines of one run.

use std::time::Instant;

const JOBS: usize = 100_000;

fn main() {
    let text = schedule_text(JOBS);
    println!(
        "schedule of {JOBS} jobs, {:.1} MB of YAML",
        text.len() as f64 / 1e6
    );

    let (elapsed, rss_kb) = measure(|| {
        let mut budget = serde_saphyr::Budget::default();
        budget.max_nodes = 20_000_000;
        budget.max_events = 50_000_000;
        let mut options = serde_saphyr::Options::default();
        options.budget = Some(budget);
        let value: serde_json::Value =
            serde_saphyr::from_str_with_options(&text, options).expect("valid YAML");
        value
    });
    println!(
        "  baseline  serde-saphyr to a generic value   {elapsed:>8.0} ms   +{:>6} KB RSS",
        rss_kb
    );

    let (elapsed, rss_kb) = measure(|| {
        cronq::schedule::load(&text, "bench.yaml", chrono_tz::Tz::UTC).expect("a valid schedule")
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
