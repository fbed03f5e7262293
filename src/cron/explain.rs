//! Why a fire instant is not simply the expression's local time: what DST did to it,
//! and the day-field rule that let it fire. Words for `cronq next --explain` and
//! `cronq import`.

use chrono::offset::LocalResult;
use chrono::{DateTime, NaiveDateTime, TimeDelta, TimeZone};
use chrono_tz::{GapInfo, Tz};

use super::CronExpr;

/// The longest a DST shift moves local time; a gap is never longer.
const LONGEST_SHIFT: TimeDelta = TimeDelta::hours(3);

impl CronExpr {
    /// What DST did to the fire at `at` (an instant from this expression's fires in its
    /// zone): nominal times that fell in a gap and run at its end, or a local time that
    /// happens twice. `None` for an ordinary instant.
    pub fn explain(&self, at: &DateTime<Tz>) -> Option<String> {
        let zone = at.timezone();
        let local = at.naive_local();
        let day = local.format("%Y-%m-%d");
        if let LocalResult::Ambiguous(first, _) = zone.from_local_datetime(&local) {
            let time = local.format("%H:%M");
            let passes = if self.is_wildcard() {
                "it runs on both passes"
            } else {
                "it runs on the first pass only"
            };
            let pass = if first == *at { "first" } else { "second" };
            return Some(format!(
                "{time} happens twice on {day} in {zone} (clocks go back); this is the {pass} pass, and {passes}"
            ));
        }
        let skipped = self.nominal_times_in_gap_before(at);
        if skipped.is_empty() {
            return None;
        }
        let times: Vec<String> = skipped
            .iter()
            .map(|t| t.format("%H:%M").to_string())
            .collect();
        let (verb, times) = match times.as_slice() {
            [one] => ("does", one.clone()),
            [rest @ .., last] => ("do", format!("{} and {last}", rest.join(", "))),
            [] => unreachable!("checked above"),
        };
        Some(format!(
            "{times} {verb} not exist on {day} in {zone} (clocks go forward); runs at {}",
            local.format("%H:%M")
        ))
    }

    /// For a fixed-time fire at the end of a gap: the nominal times inside the gap that
    /// it stands for. Wildcard jobs skip the gap, so they stand for none.
    fn nominal_times_in_gap_before(&self, at: &DateTime<Tz>) -> Vec<NaiveDateTime> {
        if self.is_wildcard() {
            return Vec::new();
        }
        let (zone, local) = (at.timezone(), at.naive_local());
        let mut found = Vec::new();
        let mut candidate = local - LONGEST_SHIFT;
        while let Some(next) = self.next_local(candidate).filter(|n| *n < local) {
            let ends_here = GapInfo::new(&next, &zone).and_then(|gap| gap.end) == Some(*at);
            if ends_here {
                found.push(next);
            }
            candidate = next;
        }
        found
    }
}

#[cfg(test)]
mod tests {
    use chrono::{DateTime, Utc};

    use crate::cron::Timing;

    fn explained(expr: &str, zone: &str, after: &str, count: usize) -> Vec<Option<String>> {
        let Ok(Timing::Cron(cron)) = expr.parse::<Timing>() else {
            panic!("{expr}")
        };
        let zone: chrono_tz::Tz = zone.parse().unwrap();
        let after = DateTime::parse_from_rfc3339(after)
            .unwrap()
            .with_timezone(&Utc);
        Timing::Cron(cron.clone())
            .fires(after, zone)
            .take(count)
            .map(|at| cron.explain(&at))
            .collect()
    }

    #[test]
    fn a_fixed_time_in_the_gap_is_explained() {
        let notes = explained(
            "30 2 * * *",
            "America/New_York",
            "2026-03-07T12:00:00-05:00",
            2,
        );
        assert_eq!(
            notes,
            [
                Some("02:30 does not exist on 2026-03-08 in America/New_York (clocks go forward); runs at 03:00".into()),
                None
            ]
        );
        let notes = explained(
            "15,45 1-3 * * *",
            "America/New_York",
            "2026-03-08T01:50:00-05:00",
            3,
        );
        assert_eq!(
            notes,
            [
                Some("02:15 and 02:45 do not exist on 2026-03-08 in America/New_York (clocks go forward); runs at 03:00".into()),
                None,
                None
            ],
            "03:15 and 03:45 are their own times"
        );
    }

    #[test]
    fn the_repeated_hour_is_explained_by_class() {
        let fixed = explained(
            "30 1 * * *",
            "America/New_York",
            "2026-10-31T12:00:00-04:00",
            1,
        );
        assert_eq!(
            fixed[0].as_deref(),
            Some(
                "01:30 happens twice on 2026-11-01 in America/New_York (clocks go back); this is the first pass, and it runs on the first pass only"
            )
        );
        let wildcard = explained(
            "0 * * * *",
            "America/New_York",
            "2026-11-01T00:30:00-04:00",
            2,
        );
        assert!(
            wildcard[0]
                .as_deref()
                .unwrap()
                .contains("first pass, and it runs on both passes")
        );
        assert!(wildcard[1].as_deref().unwrap().contains("second pass"));
    }

    #[test]
    fn ordinary_instants_and_wildcards_in_the_gap_need_no_words() {
        assert_eq!(
            explained("0 12 * * *", "Europe/Berlin", "2026-03-28T00:00:00Z", 3),
            [None, None, None]
        );
        // The wildcard simply has no 02:00 on the gap day: its 03:00 is ordinary.
        assert_eq!(
            explained(
                "0 * * * *",
                "America/New_York",
                "2026-03-08T01:30:00-05:00",
                1
            ),
            [None]
        );
    }
}
