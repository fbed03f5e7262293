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

// ---- Other zones ---------------------------------------------------------------------
//
// Transitions in 2026 (zdump -v):
// - Europe/London: 03-29 01:00 GMT → 02:00 BST (01:00-01:59 missing);
//   10-25 02:00 BST → 01:00 GMT (01:00-01:59 twice).
// - Europe/Berlin: 03-29 02:00 CET → 03:00 CEST; 10-25 03:00 CEST → 02:00 CET.
// - Australia/Sydney (southern: the gap in October, the fold in April):
//   10-04 02:00 +10 → 03:00 +11; 04-05 03:00 +11 → 02:00 +10 (02:00-02:59 twice).
// - Australia/Lord_Howe, a 30-minute shift: 10-04 02:00 +10:30 → 02:30 +11
//   (02:00-02:29 missing); 04-05 02:00 +11 → 01:30 +10:30 (01:30-01:59 twice).

const LONDON: &str = "Europe/London";
const BERLIN: &str = "Europe/Berlin";
const SYDNEY: &str = "Australia/Sydney";
const LORD_HOWE: &str = "Australia/Lord_Howe";

#[test]
fn london_fixed_time() {
    // In the gap: once, at 02:00 BST, the first instant after it.
    assert_eq!(
        fires("30 1 * * *", LONDON, "2026-03-28T12:00:00+00:00", 2),
        ["2026-03-29T02:00:00+01:00", "2026-03-30T01:30:00+01:00"]
    );
    // 01:00 (in the gap) and 02:00 land on the same instant: once.
    assert_eq!(
        fires("0 1,2 * * *", LONDON, "2026-03-29T00:00:00+00:00", 3),
        [
            "2026-03-29T02:00:00+01:00",
            "2026-03-30T01:00:00+01:00",
            "2026-03-30T02:00:00+01:00"
        ]
    );
    // In the repeated hour: the first pass only.
    assert_eq!(
        fires("30 1 * * *", LONDON, "2026-10-24T12:00:00+01:00", 2),
        ["2026-10-25T01:30:00+01:00", "2026-10-26T01:30:00+00:00"]
    );
    // Asked after the first pass's fire, from either pass: the next day.
    for after in ["2026-10-25T01:45:00+01:00", "2026-10-25T01:10:00+00:00"] {
        assert_eq!(
            fires("30 1 * * *", LONDON, after, 1),
            ["2026-10-26T01:30:00+00:00"],
            "after {after}"
        );
    }
}

#[test]
fn london_wildcard() {
    assert_eq!(
        fires("0,30 * * * *", LONDON, "2026-03-28T23:45:00+00:00", 4),
        [
            "2026-03-29T00:00:00+00:00",
            "2026-03-29T00:30:00+00:00",
            "2026-03-29T02:00:00+01:00",
            "2026-03-29T02:30:00+01:00"
        ]
    );
    // Hour 1 does not exist on 03-29: nothing that day.
    assert_eq!(
        fires("*/20 1 * * *", LONDON, "2026-03-29T00:00:00+00:00", 2),
        ["2026-03-30T01:00:00+01:00", "2026-03-30T01:20:00+01:00"]
    );
    // Hour 1 happens twice on 10-25: both passes, in real-time order.
    assert_eq!(
        fires("*/20 1 * * *", LONDON, "2026-10-25T00:50:00+01:00", 7),
        [
            "2026-10-25T01:00:00+01:00",
            "2026-10-25T01:20:00+01:00",
            "2026-10-25T01:40:00+01:00",
            "2026-10-25T01:00:00+00:00",
            "2026-10-25T01:20:00+00:00",
            "2026-10-25T01:40:00+00:00",
            "2026-10-26T01:00:00+00:00"
        ]
    );
    // From inside the first pass, the rest of it, then the whole second pass.
    assert_eq!(
        fires("*/20 1 * * *", LONDON, "2026-10-25T01:30:00+01:00", 5),
        [
            "2026-10-25T01:40:00+01:00",
            "2026-10-25T01:00:00+00:00",
            "2026-10-25T01:20:00+00:00",
            "2026-10-25T01:40:00+00:00",
            "2026-10-26T01:00:00+00:00"
        ]
    );
    // From inside the second pass, only the rest of it.
    assert_eq!(
        fires("*/20 1 * * *", LONDON, "2026-10-25T01:30:00+00:00", 2),
        ["2026-10-25T01:40:00+00:00", "2026-10-26T01:00:00+00:00"]
    );
}

#[test]
fn berlin_fixed_time() {
    assert_eq!(
        fires("30 2 * * *", BERLIN, "2026-03-28T12:00:00+01:00", 2),
        ["2026-03-29T03:00:00+02:00", "2026-03-30T02:30:00+02:00"]
    );
    // Seconds do not make a job wildcard: the three nominal times in the gap fire once.
    assert_eq!(
        fires("*/20 30 2 * * *", BERLIN, "2026-03-29T00:00:00+01:00", 3),
        [
            "2026-03-29T03:00:00+02:00",
            "2026-03-30T02:30:00+02:00",
            "2026-03-30T02:30:20+02:00"
        ]
    );
    assert_eq!(
        fires("0,30 2 * * *", BERLIN, "2026-10-24T12:00:00+02:00", 3),
        [
            "2026-10-25T02:00:00+02:00",
            "2026-10-25T02:30:00+02:00",
            "2026-10-26T02:00:00+01:00"
        ]
    );
}

#[test]
fn berlin_wildcard() {
    assert_eq!(
        fires("0 * * * *", BERLIN, "2026-03-29T00:30:00+01:00", 3),
        [
            "2026-03-29T01:00:00+01:00",
            "2026-03-29T03:00:00+02:00",
            "2026-03-29T04:00:00+02:00"
        ]
    );
    assert_eq!(
        fires("0 * * * *", BERLIN, "2026-10-25T01:30:00+02:00", 3),
        [
            "2026-10-25T02:00:00+02:00",
            "2026-10-25T02:00:00+01:00",
            "2026-10-25T03:00:00+01:00"
        ]
    );
    assert_eq!(
        fires("* 2 * * *", BERLIN, "2026-03-29T01:58:00+01:00", 2),
        ["2026-03-30T02:00:00+02:00", "2026-03-30T02:01:00+02:00"]
    );
    assert_eq!(
        fires("* 2 * * *", BERLIN, "2026-10-25T02:58:00+02:00", 3),
        [
            "2026-10-25T02:59:00+02:00",
            "2026-10-25T02:00:00+01:00",
            "2026-10-25T02:01:00+01:00"
        ]
    );
    // Every minute of hour 2, twice: 120 fires on 10-25, then 10-26.
    let day = fires("* 2 * * *", BERLIN, "2026-10-25T00:00:00+02:00", 121);
    assert_eq!(day[59], "2026-10-25T02:59:00+02:00");
    assert_eq!(day[60], "2026-10-25T02:00:00+01:00");
    assert_eq!(day[119], "2026-10-25T02:59:00+01:00");
    assert_eq!(day[120], "2026-10-26T02:00:00+01:00");
}

#[test]
fn sydney_fixed_time() {
    // October: the gap.
    assert_eq!(
        fires("30 2 * * *", SYDNEY, "2026-10-03T12:00:00+10:00", 2),
        ["2026-10-04T03:00:00+11:00", "2026-10-05T02:30:00+11:00"]
    );
    assert_eq!(
        fires("45 1,2 * * *", SYDNEY, "2026-10-04T00:00:00+10:00", 4),
        [
            "2026-10-04T01:45:00+10:00",
            "2026-10-04T03:00:00+11:00",
            "2026-10-05T01:45:00+11:00",
            "2026-10-05T02:45:00+11:00"
        ]
    );
    // April: the repeated hour, first pass only.
    assert_eq!(
        fires("30 2 * * *", SYDNEY, "2026-04-04T12:00:00+11:00", 2),
        ["2026-04-05T02:30:00+11:00", "2026-04-06T02:30:00+10:00"]
    );
    for after in ["2026-04-05T02:45:00+11:00", "2026-04-05T02:15:00+10:00"] {
        assert_eq!(
            fires("30 2 * * *", SYDNEY, after, 1),
            ["2026-04-06T02:30:00+10:00"],
            "after {after}"
        );
    }
}

#[test]
fn sydney_wildcard() {
    assert_eq!(
        fires("*/30 * * * *", SYDNEY, "2026-10-04T01:00:00+10:00", 3),
        [
            "2026-10-04T01:30:00+10:00",
            "2026-10-04T03:00:00+11:00",
            "2026-10-04T03:30:00+11:00"
        ]
    );
    assert_eq!(
        fires("*/30 2 * * *", SYDNEY, "2026-10-03T12:00:00+10:00", 1),
        ["2026-10-05T02:00:00+11:00"]
    );
    assert_eq!(
        fires("*/30 2 * * *", SYDNEY, "2026-04-05T01:59:00+11:00", 5),
        [
            "2026-04-05T02:00:00+11:00",
            "2026-04-05T02:30:00+11:00",
            "2026-04-05T02:00:00+10:00",
            "2026-04-05T02:30:00+10:00",
            "2026-04-06T02:00:00+10:00"
        ]
    );
}

#[test]
fn lord_howe_fixed_time() {
    // October: 02:00-02:29 are missing; a time in them fires at 02:30 +11.
    assert_eq!(
        fires("15 2 * * *", LORD_HOWE, "2026-10-03T12:00:00+10:30", 2),
        ["2026-10-04T02:30:00+11:00", "2026-10-05T02:15:00+11:00"]
    );
    // 02:00, 02:15 (both in the gap) and 02:30 are one instant: once.
    assert_eq!(
        fires(
            "0,15,30,45 2 * * *",
            LORD_HOWE,
            "2026-10-04T01:50:00+10:30",
            3
        ),
        [
            "2026-10-04T02:30:00+11:00",
            "2026-10-04T02:45:00+11:00",
            "2026-10-05T02:00:00+11:00"
        ]
    );
    // April: 01:30-01:59 happen twice; the first pass only.
    assert_eq!(
        fires("45 1 * * *", LORD_HOWE, "2026-04-04T12:00:00+11:00", 2),
        ["2026-04-05T01:45:00+11:00", "2026-04-06T01:45:00+10:30"]
    );
    assert_eq!(
        fires("45 1 * * *", LORD_HOWE, "2026-04-05T01:35:00+10:30", 1),
        ["2026-04-06T01:45:00+10:30"]
    );
    // 01:15 and 02:00 are outside the half-hour fold: one instant each.
    assert_eq!(
        fires("15 1 * * *", LORD_HOWE, "2026-04-04T12:00:00+11:00", 2),
        ["2026-04-05T01:15:00+11:00", "2026-04-06T01:15:00+10:30"]
    );
    assert_eq!(
        fires("0 2 * * *", LORD_HOWE, "2026-04-05T00:00:00+11:00", 1),
        ["2026-04-05T02:00:00+10:30"]
    );
}

#[test]
fn lord_howe_wildcard() {
    assert_eq!(
        fires("*/15 * * * *", LORD_HOWE, "2026-10-04T01:40:00+10:30", 3),
        [
            "2026-10-04T01:45:00+10:30",
            "2026-10-04T02:30:00+11:00",
            "2026-10-04T02:45:00+11:00"
        ]
    );
    assert_eq!(
        fires("*/15 1 * * *", LORD_HOWE, "2026-04-05T01:20:00+11:00", 5),
        [
            "2026-04-05T01:30:00+11:00",
            "2026-04-05T01:45:00+11:00",
            "2026-04-05T01:30:00+10:30",
            "2026-04-05T01:45:00+10:30",
            "2026-04-06T01:00:00+10:30"
        ]
    );
    // From inside the first pass: its rest, then the second pass.
    assert_eq!(
        fires("*/15 * * * *", LORD_HOWE, "2026-04-05T01:40:00+11:00", 4),
        [
            "2026-04-05T01:45:00+11:00",
            "2026-04-05T01:30:00+10:30",
            "2026-04-05T01:45:00+10:30",
            "2026-04-05T02:00:00+10:30"
        ]
    );
    // From the end of the first pass, past its last match: straight to the second.
    assert_eq!(
        fires("*/15 * * * *", LORD_HOWE, "2026-04-05T01:50:00+11:00", 3),
        [
            "2026-04-05T01:30:00+10:30",
            "2026-04-05T01:45:00+10:30",
            "2026-04-05T02:00:00+10:30"
        ]
    );
}

/// The number of fires from local midnight of `date` up to the next local midnight.
fn fires_in_local_day(expr: &str, zone: &str, date: &str) -> usize {
    use chrono::{NaiveDate, TimeZone, Utc};
    let tz: chrono_tz::Tz = zone.parse().expect("a test zone is valid");
    let midnight = |d: NaiveDate| {
        tz.from_local_datetime(&d.and_hms_opt(0, 0, 0).expect("midnight exists"))
            .single()
            .expect("midnight is unambiguous in the test zones")
            .with_timezone(&Utc)
    };
    let day: NaiveDate = date.parse().expect("a test date is valid");
    let (start, end) = (midnight(day), midnight(day.succ_opt().expect("a next day")));
    let timing: crate::cron::Timing = expr.parse().expect("a valid test expression");
    timing
        .fires(start - chrono::TimeDelta::seconds(1), tz)
        .take_while(|at| at.with_timezone(&Utc) < end)
        .count()
}

#[test]
fn a_day_holds_one_wildcard_fire_per_real_minute_and_one_fixed_fire_per_nominal_minute() {
    // `* * * * *` is wildcard; `0-59 0-23 * * *` matches the same minutes but is fixed.
    for (zone, fold_day, gap_day, shift_min) in [
        (LONDON, "2026-10-25", "2026-03-29", 60),
        (BERLIN, "2026-10-25", "2026-03-29", 60),
        (SYDNEY, "2026-04-05", "2026-10-04", 60),
        (LORD_HOWE, "2026-04-05", "2026-10-04", 30),
        (NY, "2026-11-01", "2026-03-08", 60),
    ] {
        let long = 1440 + shift_min;
        let short = 1440 - shift_min;
        assert_eq!(
            fires_in_local_day("* * * * *", zone, fold_day),
            long,
            "{zone}"
        );
        assert_eq!(
            fires_in_local_day("* * * * *", zone, gap_day),
            short,
            "{zone}"
        );
        // Fixed: each nominal minute once; those in the gap merge into the first minute
        // after it, which is nominal too.
        assert_eq!(
            fires_in_local_day("0-59 0-23 * * *", zone, fold_day),
            1440,
            "{zone}"
        );
        assert_eq!(
            fires_in_local_day("0-59 0-23 * * *", zone, gap_day),
            short,
            "{zone}"
        );
    }
}

#[test]
fn a_whole_missing_day_is_one_gap() {
    // Pacific/Apia skipped 2011-12-30: 12-29 23:59:59 -10 was followed by 12-31 00:00 +14.
    const APIA: &str = "Pacific/Apia";
    assert_eq!(
        fires("0 12 * * *", APIA, "2011-12-29T00:00:00-10:00", 3),
        [
            "2011-12-29T12:00:00-10:00",
            "2011-12-31T00:00:00+14:00",
            "2011-12-31T12:00:00+14:00"
        ]
    );
    assert_eq!(
        fires("0 */6 * * *", APIA, "2011-12-29T17:00:00-10:00", 3),
        [
            "2011-12-29T18:00:00-10:00",
            "2011-12-31T00:00:00+14:00",
            "2011-12-31T06:00:00+14:00"
        ]
    );
    // A date that did not happen there fires once, at the end of the gap.
    assert_eq!(
        fires("0 9 30 12 *", APIA, "2011-06-01T00:00:00-11:00", 2),
        ["2011-12-31T00:00:00+14:00", "2012-12-30T09:00:00+14:00"]
    );
}

#[test]
fn the_second_pass_is_found_from_a_fraction_of_a_second_into_the_first() {
    assert_eq!(
        fires("*/15 * * * *", LORD_HOWE, "2026-04-05T01:45:00.5+11:00", 2),
        ["2026-04-05T01:30:00+10:30", "2026-04-05T01:45:00+10:30"]
    );
    // From the last instant of the first pass, the second pass starts over.
    assert_eq!(
        fires("*/30 * * * *", NY, "2026-11-01T01:59:59.999-04:00", 2),
        ["2026-11-01T01:00:00-05:00", "2026-11-01T01:30:00-05:00"]
    );
    // From the first instant of the second pass.
    assert_eq!(
        fires("*/30 * * * *", NY, "2026-11-01T01:00:00-05:00", 2),
        ["2026-11-01T01:30:00-05:00", "2026-11-01T02:00:00-05:00"]
    );
}
