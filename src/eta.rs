//! Time left for a running run: from its progress when it reports one, else from the
//! job's past successful durations; and when a queued run starts and ends, from the
//! queue ahead of it. Plain arithmetic; the caller passes the figures.

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

/// A queued run as its queue's estimate sees it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Waiting {
    /// Its job's typical duration (the median of its past successful ones), if any.
    pub typical_s: Option<f64>,
    /// Until it is due (a retry waiting out its backoff); 0 when it is ready.
    pub due_in_s: f64,
}

/// What `status` says of when a queued run starts and ends.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum QueuedEta {
    /// About this many seconds until it starts, and until it is done: `None` when its
    /// own job has no successful run to go by.
    Seconds {
        starts_in_s: f64,
        done_in_s: Option<f64>,
    },
    /// Nothing to go by, and why.
    Unknown(WhyUnknown),
}

impl QueuedEta {
    /// Seconds until it starts, if known.
    pub fn starts_in_s(&self) -> Option<f64> {
        match self {
            QueuedEta::Seconds { starts_in_s, .. } => Some(*starts_in_s),
            QueuedEta::Unknown(_) => None,
        }
    }

    /// Seconds until it is done, if known.
    pub fn done_in_s(&self) -> Option<f64> {
        match self {
            QueuedEta::Seconds { done_in_s, .. } => *done_in_s,
            QueuedEta::Unknown(_) => None,
        }
    }

    /// Why its end is unknown; `None` when it is known.
    pub fn why_unknown(&self) -> Option<WhyUnknown> {
        match self {
            QueuedEta::Seconds {
                done_in_s: Some(_), ..
            } => None,
            QueuedEta::Seconds {
                done_in_s: None, ..
            } => Some(WhyUnknown::NoHistory),
            QueuedEta::Unknown(why) => Some(*why),
        }
    }
}

/// Why a queued run's estimate is unknown.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WhyUnknown {
    /// No live worker takes runs from its queue: it will not start until one does.
    NoWorker,
    /// A run ahead of it (running or queued) has no progress and no successful run to
    /// go by.
    NoHistory,
}

/// The estimate of each run of one queue, given in queue order. The queue's workers run
/// `slots` runs at once (the sum of their concurrency). Each running run holds a slot
/// for its time left (none once overdue: it ends any moment); then each queued run, in
/// order, takes the slot that frees first, not before it is due, for its job's typical
/// duration. Runs of other queues that the same workers may take first are not counted.
pub fn queue_eta(slots: usize, running_left: &[TimeLeft], queued: &[Waiting]) -> Vec<QueuedEta> {
    let unknown = |why| vec![QueuedEta::Unknown(why); queued.len()];
    if slots == 0 {
        return unknown(WhyUnknown::NoWorker);
    }
    // Seconds from now until each slot is free.
    let mut free_in_s = vec![0.0; slots];
    for left in running_left {
        let left_s = match left {
            TimeLeft::Seconds(secs) => secs.max(0.0),
            TimeLeft::Overdue => 0.0,
            TimeLeft::Unknown => return unknown(WhyUnknown::NoHistory),
        };
        // More running runs than slots (a worker's concurrency just lowered): they
        // queue for a slot like the rest.
        *soonest(&mut free_in_s) += left_s;
    }
    let mut estimates = Vec::with_capacity(queued.len());
    for run in queued {
        let slot = soonest(&mut free_in_s);
        let starts_in_s = slot.max(run.due_in_s.max(0.0));
        estimates.push(QueuedEta::Seconds {
            starts_in_s,
            done_in_s: run.typical_s.map(|typical| starts_in_s + typical),
        });
        match run.typical_s {
            Some(typical) => *slot = starts_in_s + typical,
            // Every run after it waits on a slot that frees at an unknown time.
            None => break,
        }
    }
    estimates.resize(queued.len(), QueuedEta::Unknown(WhyUnknown::NoHistory));
    estimates
}

/// The slot that frees first.
fn soonest(free_in_s: &mut [f64]) -> &mut f64 {
    free_in_s
        .iter_mut()
        .min_by(|a, b| a.total_cmp(b))
        .expect("a queue's estimate has at least one slot")
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

    fn ready(typical_s: f64) -> Waiting {
        Waiting {
            typical_s: Some(typical_s),
            due_in_s: 0.0,
        }
    }

    fn known(starts_in_s: f64, done_in_s: f64) -> QueuedEta {
        QueuedEta::Seconds {
            starts_in_s,
            done_in_s: Some(done_in_s),
        }
    }

    #[test]
    fn a_queued_run_waits_for_the_runs_ahead_then_takes_its_typical_time() {
        let queued = [ready(10.0), ready(20.0), ready(5.0)];
        assert_eq!(
            queue_eta(1, &[], &queued),
            [known(0.0, 10.0), known(10.0, 30.0), known(30.0, 35.0)]
        );
    }

    #[test]
    fn the_running_runs_time_left_is_counted() {
        let running = [TimeLeft::Seconds(7.0)];
        assert_eq!(
            queue_eta(1, &running, &[ready(10.0), ready(10.0)]),
            [known(7.0, 17.0), known(17.0, 27.0)]
        );
        // An overdue run ends any moment: it holds its slot no longer.
        assert_eq!(
            queue_eta(1, &[TimeLeft::Overdue], &[ready(10.0)]),
            [known(0.0, 10.0)]
        );
    }

    #[test]
    fn concurrency_2_halves_the_wait() {
        let running = [TimeLeft::Seconds(10.0), TimeLeft::Seconds(10.0)];
        let queued = [ready(10.0); 5];
        let one = queue_eta(1, &running, &queued);
        let two = queue_eta(2, &running, &queued);
        let starts = |estimates: &[QueuedEta]| -> Vec<f64> {
            estimates
                .iter()
                .map(|e| match e {
                    QueuedEta::Seconds { starts_in_s, .. } => *starts_in_s,
                    QueuedEta::Unknown(why) => panic!("unknown: {why:?}"),
                })
                .collect()
        };
        assert_eq!(starts(&one), [20.0, 30.0, 40.0, 50.0, 60.0]);
        assert_eq!(starts(&two), [10.0, 10.0, 20.0, 20.0, 30.0]);
        // The last run's wait: 60 s with one slot, 30 s with two.
        assert_eq!(starts(&two)[4] * 2.0, starts(&one)[4]);
    }

    #[test]
    fn a_run_not_yet_due_starts_no_earlier_than_due() {
        let retry = Waiting {
            typical_s: Some(10.0),
            due_in_s: 60.0,
        };
        assert_eq!(
            queue_eta(1, &[TimeLeft::Seconds(5.0)], &[ready(10.0), retry]),
            [known(5.0, 15.0), known(60.0, 70.0)]
        );
    }

    #[test]
    fn no_history_ahead_makes_the_rest_of_the_queue_unknown() {
        let new_job = Waiting {
            typical_s: None,
            due_in_s: 0.0,
        };
        let no_history = QueuedEta::Unknown(WhyUnknown::NoHistory);
        // Its own start is known, not its end, nor anything behind it.
        assert_eq!(
            queue_eta(1, &[], &[ready(10.0), new_job, ready(10.0)]),
            [
                known(0.0, 10.0),
                QueuedEta::Seconds {
                    starts_in_s: 10.0,
                    done_in_s: None
                },
                no_history,
            ]
        );
        // A running run with no progress and no history: nothing is known.
        assert_eq!(
            queue_eta(2, &[TimeLeft::Unknown], &[ready(10.0), ready(10.0)]),
            [no_history, no_history]
        );
    }

    #[test]
    fn no_worker_is_unknown_and_says_so() {
        assert_eq!(
            queue_eta(0, &[], &[ready(10.0), ready(5.0)]),
            [QueuedEta::Unknown(WhyUnknown::NoWorker); 2]
        );
    }
}
