//! Time left for a running run: from its progress when it reports one, else from the
//! job's past successful durations. Plain arithmetic; the caller passes the figures.

/// What `status` says of a run's remaining time.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum TimeLeft {
    /// About this many seconds.
    Seconds(f64),
    /// It has run longer than the job usually takes.
    Overdue,
    /// No progress reported and no successful run to compare with.
    Unknown,
}

/// How many past successful durations the estimate looks at.
pub const HISTORY_RUNS: usize = 20;

/// `elapsed × (100 − p) / p` with progress `p`; else the median of `past_s` (the job's
/// last successful durations) minus `elapsed`, or overdue past it; else unknown.
pub fn time_left(elapsed_s: f64, progress: Option<u8>, past_s: &[f64]) -> TimeLeft {
    if let Some(percent) = progress.filter(|p| *p > 0) {
        let percent = f64::from(percent.min(100));
        return TimeLeft::Seconds(elapsed_s * (100.0 - percent) / percent);
    }
    match median(past_s) {
        Some(typical) if elapsed_s > typical => TimeLeft::Overdue,
        Some(typical) => TimeLeft::Seconds(typical - elapsed_s),
        None => TimeLeft::Unknown,
    }
}

/// The median of the durations, the middle two averaged.
pub fn median(durations_s: &[f64]) -> Option<f64> {
    let mut sorted: Vec<f64> = durations_s
        .iter()
        .copied()
        .filter(|d| d.is_finite())
        .collect();
    if sorted.is_empty() {
        return None;
    }
    sorted.sort_by(f64::total_cmp);
    let middle = sorted.len() / 2;
    Some(if sorted.len().is_multiple_of(2) {
        (sorted[middle - 1] + sorted[middle]) / 2.0
    } else {
        sorted[middle]
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn progress_extrapolates_the_elapsed_time() {
        assert_eq!(time_left(30.0, Some(40), &[]), TimeLeft::Seconds(45.0));
        assert_eq!(time_left(30.0, Some(100), &[500.0]), TimeLeft::Seconds(0.0));
        // Progress wins over history.
        assert_eq!(
            time_left(10.0, Some(50), &[1000.0]),
            TimeLeft::Seconds(10.0)
        );
    }

    #[test]
    fn without_progress_the_median_of_past_runs_counts() {
        assert_eq!(
            time_left(10.0, None, &[30.0, 50.0, 40.0]),
            TimeLeft::Seconds(30.0)
        );
        assert_eq!(
            time_left(10.0, Some(0), &[20.0, 40.0]),
            TimeLeft::Seconds(20.0)
        );
        assert_eq!(
            time_left(41.0, None, &[30.0, 50.0, 40.0]),
            TimeLeft::Overdue
        );
    }

    #[test]
    fn nothing_to_go_by_is_unknown() {
        assert_eq!(time_left(10.0, None, &[]), TimeLeft::Unknown);
        assert_eq!(median(&[]), None);
        assert_eq!(median(&[3.0]), Some(3.0));
        assert_eq!(median(&[4.0, 1.0, 3.0, 2.0]), Some(2.5));
    }
}
