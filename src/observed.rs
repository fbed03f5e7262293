//! What this process counts as it works, for `/metrics`: the runs its workers ended and
//! how long they took, the instants its daemon fired and how late, the skips and the
//! lost runs it recorded, and the store calls that failed. One set per process,
//! created at first use; the daemon, the workers and the store wrapper add to it, and
//! `report::metrics` registers it beside the figures it reads from the store.
//!
//! These are counted where they happen, never read back from the history: retention
//! deletes runs, and a counter computed from what is left would go down. Each family is
//! therefore this process's since it started; Prometheus sums them across processes.

use std::sync::LazyLock;

use prometheus_client::encoding::{EncodeLabelSet, EncodeLabelValue};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::{Registry, Unit};

use crate::store::Run;

/// Run durations, seconds: 0.1 s to about 28 h.
const DURATION_BUCKETS: [f64; 14] = [
    0.1, 0.5, 1.0, 5.0, 15.0, 30.0, 60.0, 300.0, 900.0, 1800.0, 3600.0, 7200.0, 21600.0, 86400.0,
];
/// Fire lateness, seconds: 1 ms (the budget's p99 is 5 ms) to 1 min.
const LATENESS_BUCKETS: [f64; 12] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0, 60.0,
];

/// Why an instant or a run was skipped, as the `reason` label says it: a handful of
/// values, never the reason's free text (which names runs and people).
#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq, EncodeLabelValue)]
#[allow(non_camel_case_types)]
pub enum SkipReason {
    /// The job was paused.
    paused,
    /// `concurrency: forbid` found another run of the job running or queued.
    overlap,
    /// `lock: host` found the job still running on this host.
    host_lock,
    /// An instant missed while no daemon ran, not caught up (`catch_up`, the deadline).
    missed,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RunLabels {
    cronjob: String,
    status: String,
    trigger: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct JobLabel {
    cronjob: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct SkipLabels {
    cronjob: String,
    reason: SkipReason,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OpLabel {
    op: &'static str,
}

fn duration_histogram() -> Histogram {
    Histogram::new(DURATION_BUCKETS)
}

/// The families this process counts.
pub struct Observed {
    runs: Family<RunLabels, Counter>,
    durations: Family<JobLabel, Histogram, fn() -> Histogram>,
    lateness: Histogram,
    skipped: Family<SkipLabels, Counter>,
    lost: Family<JobLabel, Counter>,
    store_errors: Family<OpLabel, Counter>,
}

static OBSERVED: LazyLock<Observed> = LazyLock::new(|| Observed {
    runs: Family::default(),
    durations: Family::new_with_constructor(duration_histogram),
    lateness: Histogram::new(LATENESS_BUCKETS),
    skipped: Family::default(),
    lost: Family::default(),
    store_errors: Family::default(),
});

/// This process's families.
pub fn observed() -> &'static Observed {
    &OBSERVED
}

impl Observed {
    /// A run this process recorded the end of: a worker's run, a skip, a lost run.
    pub fn run_ended(&self, run: &Run) {
        self.runs
            .get_or_create(&RunLabels {
                cronjob: run.job.clone(),
                status: run.status.as_str().to_string(),
                trigger: run.trigger.as_str().to_string(),
            })
            .inc();
    }

    /// A run this process's worker ran to its end, with how long it took.
    pub fn run_finished(&self, run: &Run) {
        self.run_ended(run);
        if let (Some(start), Some(end)) = (run.started_at, run.finished_at) {
            let seconds = (end - start).num_milliseconds().max(0) as f64 / 1000.0;
            self.durations
                .get_or_create(&JobLabel {
                    cronjob: run.job.clone(),
                })
                .observe(seconds);
        }
    }

    /// An instant this process's daemon fired (or recorded), `lateness_s` after it.
    pub fn fired(&self, lateness_s: f64) {
        self.lateness.observe(lateness_s.max(0.0));
    }

    /// A run this process recorded `skipped`.
    pub fn skipped(&self, run: &Run, reason: SkipReason) {
        self.run_ended(run);
        self.skipped
            .get_or_create(&SkipLabels {
                cronjob: run.job.clone(),
                reason,
            })
            .inc();
    }

    /// A run this process's reaper found lost.
    pub fn lost(&self, run: &Run) {
        self.run_ended(run);
        self.lost
            .get_or_create(&JobLabel {
                cronjob: run.job.clone(),
            })
            .inc();
    }

    /// A store call of this process that failed: the store did not answer, or refused.
    pub fn store_error(&self, op: &'static str) {
        self.store_errors.get_or_create(&OpLabel { op }).inc();
    }

    /// Adds the families to `registry`; they stay this process's, shared, not copied.
    pub fn register(&self, registry: &mut Registry) {
        registry.register(
            "cronq_runs",
            "Runs this process recorded the end of (its workers' runs, its skips, its reaper's lost runs), by job, status and trigger",
            self.runs.clone(),
        );
        registry.register_with_unit(
            "cronq_run_duration",
            "How long the runs this process's workers ran took, by job",
            Unit::Seconds,
            self.durations.clone(),
        );
        registry.register_with_unit(
            "cronq_fire_lateness",
            "How late after its instant this process's daemon fired each run",
            Unit::Seconds,
            self.lateness.clone(),
        );
        registry.register(
            "cronq_skipped",
            "Runs this process recorded skipped, by job and reason (paused, overlap, host_lock, missed)",
            self.skipped.clone(),
        );
        registry.register(
            "cronq_lost",
            "Runs this process's reaper found lost (their worker stopped renewing the lease), by job",
            self.lost.clone(),
        );
        registry.register(
            "cronq_store_errors",
            "Store calls of this process that failed (unreachable, refused or corrupt), by operation",
            self.store_errors.clone(),
        );
    }
}
