//! Noticing fires the store has forgotten. Redis replicates asynchronously: a fire the
//! old primary took but had not passed on before a failover is gone from the new one
//! (its claim, its run, the move of the job's last-fired marker), and so is everything
//! a restart without persistence drops. Nothing in the store can tell; only the process
//! that fired knows. So each process remembers the last instant it fired per job, and
//! the fire script answers with the marker it found: a marker behind that instant means
//! fires were lost, and the process says so in its log instead of letting them vanish.

use std::collections::HashMap;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::Mutex;

/// Fires the store no longer has: after `after_ms` (none: not one fire is left) up to
/// and including `through_ms`, the last one this process made.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct LostFires {
    pub after_ms: Option<i64>,
    pub through_ms: i64,
}

/// The last instant this process fired, per job.
#[derive(Default)]
pub(super) struct FireMarks {
    /// By a hash of the job's name: 16 bytes a job, whatever its name. Two names that
    /// collide could at worst warn of a loss that did not happen.
    last_ms: Mutex<HashMap<u64, i64>>,
}

impl FireMarks {
    /// Notes that this process fired `job` at `instant_ms`, when the job's marker in the
    /// store stood at `marker_ms`; returns the fires that marker shows lost.
    pub fn fired(&self, job: &str, instant_ms: i64, marker_ms: Option<i64>) -> Option<LostFires> {
        let mut hasher = DefaultHasher::new();
        job.hash(&mut hasher);
        let key = hasher.finish();
        let mut marks = self.last_ms.lock().unwrap_or_else(|e| e.into_inner());
        let Some(last) = marks.get_mut(&key) else {
            marks.insert(key, instant_ms);
            return None;
        };
        // The script only ever moves a marker forward, and this process moved it to
        // `last`: a marker behind it lost that move.
        let lost = (marker_ms < Some(*last)).then_some(LostFires {
            after_ms: marker_ms,
            through_ms: *last,
        });
        *last = (*last).max(instant_ms);
        lost
    }
}

#[cfg(test)]
mod tests {
    use super::{FireMarks, LostFires};

    #[test]
    fn a_marker_behind_the_last_fire_of_this_process_shows_the_fires_lost() {
        let marks = FireMarks::default();
        assert_eq!(
            marks.fired("tick", 1_000, None),
            None,
            "the first fire of a job"
        );
        assert_eq!(marks.fired("tick", 2_000, Some(1_000)), None);
        // Another daemon fired 3000 meanwhile: the marker is ahead, nothing is lost.
        assert_eq!(marks.fired("tick", 4_000, Some(3_000)), None);
        // 2000-4000 were lost with the primary that took them; the marker is back at 1000.
        assert_eq!(
            marks.fired("tick", 5_000, Some(1_000)),
            Some(LostFires {
                after_ms: Some(1_000),
                through_ms: 4_000
            })
        );
        assert_eq!(
            marks.fired("tick", 6_000, Some(5_000)),
            None,
            "reported once"
        );
        assert_eq!(
            marks.fired("tick", 7_000, None),
            Some(LostFires {
                after_ms: None,
                through_ms: 6_000
            }),
            "a store that lost every fire of the job"
        );
        assert_eq!(marks.fired("other", 1_000, None), None, "jobs are apart");
    }
}
