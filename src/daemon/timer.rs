//! The timer: every job's next fire in a heap, so a wake-up costs the jobs due now and
//! never a scan of them all (as mini-redis keeps its key expiries).

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use chrono::{DateTime, Utc};

/// Jobs by the index they have in the schedule, ordered by their next fire.
#[derive(Default)]
pub struct Timer {
    heap: BinaryHeap<Reverse<(DateTime<Utc>, usize)>>,
}

impl Timer {
    pub fn set(&mut self, at: DateTime<Utc>, job: usize) {
        self.heap.push(Reverse((at, job)));
    }

    /// The earliest fire, if any job has one.
    pub fn next_at(&self) -> Option<DateTime<Utc>> {
        self.heap.peek().map(|Reverse((at, _))| *at)
    }

    /// The earliest fire and the job it is for.
    pub fn next(&self) -> Option<(DateTime<Utc>, usize)> {
        self.heap.peek().map(|Reverse(next)| *next)
    }

    /// Takes the earliest fire if it is due at `now`.
    pub fn pop_due(&mut self, now: DateTime<Utc>) -> Option<(DateTime<Utc>, usize)> {
        match self.heap.peek() {
            Some(Reverse((at, _))) if *at <= now => self.heap.pop().map(|Reverse(due)| due),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pops_only_what_is_due_in_order() {
        let at = |s: i64| DateTime::from_timestamp(s, 0).unwrap();
        let mut timer = Timer::default();
        timer.set(at(30), 2);
        timer.set(at(10), 0);
        timer.set(at(20), 1);
        assert_eq!(timer.next_at(), Some(at(10)));
        assert_eq!(timer.pop_due(at(5)), None);
        assert_eq!(timer.pop_due(at(20)), Some((at(10), 0)));
        assert_eq!(timer.pop_due(at(20)), Some((at(20), 1)));
        assert_eq!(timer.pop_due(at(20)), None);
        assert_eq!(timer.next_at(), Some(at(30)));
    }
}
