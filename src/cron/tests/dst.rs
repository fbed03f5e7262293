//! DST: the worked examples of DESIGN §5 first, then other zones.

use super::fires;

const NY: &str = "America/New_York";

#[test]
fn fixed_time_in_the_gap_fires_once_right_after_it() {
    assert_eq!(
        fires("30 2 * * *", NY, "2026-03-07T12:00:00-05:00", 3),
        [
            "2026-03-08T03:00:00-04:00",
            "2026-03-09T02:30:00-04:00",
            "2026-03-10T02:30:00-04:00"
        ]
    );
}

#[test]
fn fixed_times_merged_by_the_gap_fire_once() {
    assert_eq!(
        fires("15,45 1-3 * * *", NY, "2026-03-08T00:00:00-05:00", 5),
        [
            "2026-03-08T01:15:00-05:00",
            "2026-03-08T01:45:00-05:00",
            "2026-03-08T03:00:00-04:00",
            "2026-03-08T03:15:00-04:00",
            "2026-03-08T03:45:00-04:00"
        ]
    );
}

#[test]
fn fixed_time_in_the_repeated_hour_fires_on_the_first_pass_only() {
    assert_eq!(
        fires("30 1 * * *", NY, "2026-10-31T12:00:00-04:00", 2),
        ["2026-11-01T01:30:00-04:00", "2026-11-02T01:30:00-05:00"]
    );
    assert_eq!(
        fires("30 1 * * *", NY, "2026-11-01T01:40:00-05:00", 1),
        ["2026-11-02T01:30:00-05:00"]
    );
}

#[test]
fn hourly_wildcard_skips_the_gap_and_fires_on_both_passes() {
    assert_eq!(
        fires("0 * * * *", NY, "2026-03-08T00:30:00-05:00", 3),
        [
            "2026-03-08T01:00:00-05:00",
            "2026-03-08T03:00:00-04:00",
            "2026-03-08T04:00:00-04:00"
        ]
    );
    assert_eq!(
        fires("0 * * * *", NY, "2026-11-01T00:30:00-04:00", 3),
        [
            "2026-11-01T01:00:00-04:00",
            "2026-11-01T01:00:00-05:00",
            "2026-11-01T02:00:00-05:00"
        ]
    );
}

#[test]
fn wildcard_in_the_fold_runs_in_real_time_order() {
    assert_eq!(
        fires("*/30 1-3 * * *", NY, "2026-11-01T00:59:00-04:00", 6),
        [
            "2026-11-01T01:00:00-04:00",
            "2026-11-01T01:30:00-04:00",
            "2026-11-01T01:00:00-05:00",
            "2026-11-01T01:30:00-05:00",
            "2026-11-01T02:00:00-05:00",
            "2026-11-01T02:30:00-05:00"
        ]
    );
    // Asked from inside the first pass, the second pass still comes.
    assert_eq!(
        fires("*/30 1-3 * * *", NY, "2026-11-01T01:40:00-04:00", 2),
        ["2026-11-01T01:00:00-05:00", "2026-11-01T01:30:00-05:00"]
    );
}

#[test]
fn every_two_hours_wildcard_skips_the_gap() {
    assert_eq!(
        fires("0 */2 * * *", NY, "2026-03-07T23:00:00-05:00", 2),
        ["2026-03-08T00:00:00-05:00", "2026-03-08T04:00:00-04:00"]
    );
}
