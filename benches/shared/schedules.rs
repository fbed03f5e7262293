//! Schedules the benches load.

/// `jobs` jobs, each at one minute of January 1st: none due while a bench runs.
pub fn far_future_schedule(jobs: usize) -> String {
    let mut text = String::from("defaults:\n  timezone: UTC\njobs:\n");
    for i in 0..jobs {
        text.push_str(&format!(
            "  job-{i}:\n    schedule: \"{} {} 1 1 *\"\n    command: [\"/bin/true\"]\n",
            i % 60,
            (i / 60) % 24,
        ));
    }
    text
}
