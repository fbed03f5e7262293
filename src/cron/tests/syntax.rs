//! Syntax: every element of DESIGN §5 with a few of its instants, in UTC, worked out by
//! hand from the calendar. The errors are in `errors.rs`.
//!
//! Calendar used below: 2026-01-01 is a Thursday, 2026-02-01 and 2026-03-01 Sundays,
//! 2026-04-01 a Wednesday, 2026-05-31 a Sunday, 2028-02-29 a Tuesday.

use std::time::Duration;

use chrono::{DateTime, NaiveDate, Utc};

use super::fires;
use crate::cron::Timing;

const UTC: &str = "UTC";

fn parse(expr: &str) -> Timing {
    expr.parse().unwrap_or_else(|e| panic!("`{expr}`: {e}"))
}

fn utc(rfc3339: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(rfc3339)
        .expect("a test instant is valid")
        .with_timezone(&Utc)
}

// ---- the five fields ----------------------------------------------------------------

#[test]
fn a_single_value_a_range_a_list_and_a_step() {
    assert_eq!(
        fires("7 * * * *", UTC, "2026-01-01T00:00:00Z", 2),
        ["2026-01-01T00:07:00+00:00", "2026-01-01T01:07:00+00:00"]
    );
    assert_eq!(
        fires("58-59 * * * *", UTC, "2026-01-01T00:00:00Z", 3),
        [
            "2026-01-01T00:58:00+00:00",
            "2026-01-01T00:59:00+00:00",
            "2026-01-01T01:58:00+00:00"
        ]
    );
    assert_eq!(
        fires("0 1,13 * * *", UTC, "2026-01-01T00:00:00Z", 3),
        [
            "2026-01-01T01:00:00+00:00",
            "2026-01-01T13:00:00+00:00",
            "2026-01-02T01:00:00+00:00"
        ]
    );
    assert_eq!(
        fires("*/20 * * * *", UTC, "2026-01-01T00:00:00Z", 4),
        [
            "2026-01-01T00:20:00+00:00",
            "2026-01-01T00:40:00+00:00",
            "2026-01-01T01:00:00+00:00",
            "2026-01-01T01:20:00+00:00"
        ]
    );
    assert_eq!(
        fires("10-30/10 22 * * *", UTC, "2026-01-01T00:00:00Z", 4),
        [
            "2026-01-01T22:10:00+00:00",
            "2026-01-01T22:20:00+00:00",
            "2026-01-01T22:30:00+00:00",
            "2026-01-02T22:10:00+00:00"
        ]
    );
    // A list mixing every kind of item.
    assert_eq!(
        fires("1,5-6,50-59/4 0 * * *", UTC, "2026-01-01T00:00:00Z", 6),
        [
            "2026-01-01T00:01:00+00:00",
            "2026-01-01T00:05:00+00:00",
            "2026-01-01T00:06:00+00:00",
            "2026-01-01T00:50:00+00:00",
            "2026-01-01T00:54:00+00:00",
            "2026-01-01T00:58:00+00:00"
        ]
    );
}

#[test]
fn a_value_with_a_step_runs_to_the_end_of_the_field() {
    // `5/15` is `5-59/15`.
    assert_eq!(parse("5/15 * * * *"), parse("5-59/15 * * * *"));
    assert_eq!(
        fires("5/15 * * * *", UTC, "2026-01-01T00:00:00Z", 5),
        [
            "2026-01-01T00:05:00+00:00",
            "2026-01-01T00:20:00+00:00",
            "2026-01-01T00:35:00+00:00",
            "2026-01-01T00:50:00+00:00",
            "2026-01-01T01:05:00+00:00"
        ]
    );
    assert_eq!(parse("0 20/2 * * *"), parse("0 20,22 * * *"));
    assert_eq!(parse("0 0 25/3 * *"), parse("0 0 25,28,31 * *"));
    assert_eq!(parse("0 0 1 10/2 *"), parse("0 0 1 10,12 *"));
}

#[test]
fn a_step_longer_than_the_range_takes_its_first_value_as_debian_does() {
    // `*/60` is minute 0, `*/24` hour 0, `*/31` day 1: each keeps its star, so the
    // DST class and the day AND stay those of the text.
    assert_eq!(
        fires("*/60 * * * *", UTC, "2026-01-01T00:00:00Z", 3),
        fires("0 * * * *", UTC, "2026-01-01T00:00:00Z", 3)
    );
    assert_eq!(
        fires("0 */24 * * *", UTC, "2026-01-01T00:00:00Z", 3),
        fires("0 0 * * *", UTC, "2026-01-01T00:00:00Z", 3)
    );
    assert_eq!(
        fires("0 0 */31 * *", UTC, "2026-01-15T00:00:00Z", 3),
        [
            "2026-02-01T00:00:00+00:00",
            "2026-03-01T00:00:00+00:00",
            "2026-04-01T00:00:00+00:00"
        ]
    );
    let Timing::Cron(every_60) = parse("*/60 * * * *") else {
        unreachable!()
    };
    assert!(every_60.is_wildcard(), "`*/60` starts with a star");
    assert_eq!(parse("10-20/15 * * * *"), parse("10 * * * *"));
    assert_eq!(
        crate::cron::lone_steps("*/60 */24 */31 */12 */7"),
        [
            "`*/60` in the minute field only ever matches minute 0: its step 60 is longer than the range",
            "`*/24` in the hour field only ever matches hour 0: its step 24 is longer than the range",
            "`*/31` in the day-of-month field only ever matches day 1: its step 31 is longer than the range",
            "`*/12` in the month field only ever matches month 1: its step 12 is longer than the range",
            "`*/7` in the day-of-week field only ever matches weekday 0: its step 7 is longer than the range",
        ]
    );
    let none: [&str; 0] = [];
    assert_eq!(crate::cron::lone_steps("*/59 */23 1-31/30 */11 */6"), none);
    assert_eq!(crate::cron::lone_steps("@hourly"), none);
    assert_eq!(
        crate::cron::lone_steps("*/90 0 * * * *"),
        [
            "`*/90` in the second field only ever matches second 0: its step 90 is longer than the range"
        ]
    );
}

#[test]
fn a_star_is_the_whole_range() {
    // Only the Vixie flags tell a star from the same range written out.
    assert_eq!(
        fires("0 0 * * *", UTC, "2026-01-01T00:00:00Z", 400),
        fires("0 0 1-31 * *", UTC, "2026-01-01T00:00:00Z", 400)
    );
    assert_eq!(parse("0 0 1 * *"), parse("0 0 1 1-12 *"));
    assert_eq!(
        fires("* * * * *", UTC, "2026-01-01T00:00:00Z", 200),
        fires("0-59 0-23 * * *", UTC, "2026-01-01T00:00:00Z", 200)
    );
    assert_eq!(
        fires("* * * * *", UTC, "2026-12-31T23:58:30Z", 3),
        [
            "2026-12-31T23:59:00+00:00",
            "2027-01-01T00:00:00+00:00",
            "2027-01-01T00:01:00+00:00"
        ]
    );
}

#[test]
fn month_names_are_case_insensitive() {
    assert_eq!(parse("0 0 1 jan,JUL *"), parse("0 0 1 1,7 *"));
    assert_eq!(parse("0 0 1 Mar-mAY *"), parse("0 0 1 3-5 *"));
    assert_eq!(parse("0 0 1 feb-dec/5 *"), parse("0 0 1 2,7,12 *"));
    assert_eq!(
        fires("0 0 1 jan,JUL *", UTC, "2026-01-01T00:00:00Z", 3),
        [
            "2026-07-01T00:00:00+00:00",
            "2027-01-01T00:00:00+00:00",
            "2027-07-01T00:00:00+00:00"
        ]
    );
}

#[test]
fn weekday_names_are_case_insensitive() {
    assert_eq!(parse("0 9 * * MON-FRI"), parse("0 9 * * 1-5"));
    assert_eq!(parse("0 9 * * sun,Sat"), parse("0 9 * * 0,6"));
    assert_eq!(parse("0 9 * * sUn"), parse("0 9 * * 7"));
    // Fri 2 Jan, then the working week of 5-9 Jan.
    assert_eq!(
        fires("0 9 * * MON-FRI", UTC, "2026-01-02T10:00:00Z", 6),
        [
            "2026-01-05T09:00:00+00:00",
            "2026-01-06T09:00:00+00:00",
            "2026-01-07T09:00:00+00:00",
            "2026-01-08T09:00:00+00:00",
            "2026-01-09T09:00:00+00:00",
            "2026-01-12T09:00:00+00:00"
        ]
    );
}

#[test]
fn seven_is_sunday() {
    assert_eq!(parse("0 0 * * 7"), parse("0 0 * * 0"));
    assert_eq!(parse("0 0 * * 5-7"), parse("0 0 * * 0,5,6"));
    assert_eq!(
        fires("0 0 * * 7", UTC, "2026-01-01T00:00:00Z", 3),
        [
            "2026-01-04T00:00:00+00:00",
            "2026-01-11T00:00:00+00:00",
            "2026-01-18T00:00:00+00:00"
        ]
    );
}

// ---- day-of-month and day-of-week: OR and AND ------------------------------------------

#[test]
fn both_day_fields_restricted_are_ored() {
    let timing = parse("0 12 1 * MON");
    let Timing::Cron(expr) = &timing else {
        panic!("a cron expression")
    };
    assert!(expr.days_are_ored());
    // The 1st (Thu 1 Jan, Sun 1 Feb) or a Monday.
    assert_eq!(
        fires("0 12 1 * MON", UTC, "2026-01-01T00:00:00Z", 7),
        [
            "2026-01-01T12:00:00+00:00",
            "2026-01-05T12:00:00+00:00",
            "2026-01-12T12:00:00+00:00",
            "2026-01-19T12:00:00+00:00",
            "2026-01-26T12:00:00+00:00",
            "2026-02-01T12:00:00+00:00",
            "2026-02-02T12:00:00+00:00"
        ]
    );
}

#[test]
fn the_first_seven_days_or_mondays_is_an_or_not_the_first_monday() {
    // A classic trap: `1-7 * 1` is every day 1-7 plus every Monday.
    assert_eq!(
        fires("0 0 1-7 * 1", UTC, "2025-12-31T12:00:00Z", 10),
        [
            "2026-01-01T00:00:00+00:00",
            "2026-01-02T00:00:00+00:00",
            "2026-01-03T00:00:00+00:00",
            "2026-01-04T00:00:00+00:00",
            "2026-01-05T00:00:00+00:00",
            "2026-01-06T00:00:00+00:00",
            "2026-01-07T00:00:00+00:00",
            "2026-01-12T00:00:00+00:00",
            "2026-01-19T00:00:00+00:00",
            "2026-01-26T00:00:00+00:00"
        ]
    );
}

#[test]
fn a_day_field_starting_with_a_star_makes_an_and() {
    let Timing::Cron(expr) = parse("0 12 */2 * 0,6") else {
        panic!("a cron expression")
    };
    assert!(!expr.days_are_ored());
    // Odd days that are a Saturday (3 10 17 24 31) or a Sunday (4 11 18 25) in January.
    assert_eq!(
        fires("0 12 */2 * 0,6", UTC, "2026-01-01T00:00:00Z", 6),
        [
            "2026-01-03T12:00:00+00:00",
            "2026-01-11T12:00:00+00:00",
            "2026-01-17T12:00:00+00:00",
            "2026-01-25T12:00:00+00:00",
            "2026-01-31T12:00:00+00:00",
            // February starts on a Sunday.
            "2026-02-01T12:00:00+00:00"
        ]
    );
    // The star in day-of-week: `*/2` is Sun Tue Thu Sat, AND-ed with the 13th.
    // 13 Jan is a Tue; then Fri Fri Mon Wed, 13 Jun a Sat, Mon, 13 Aug a Thu.
    assert_eq!(
        fires("0 0 13 * */2", UTC, "2026-01-01T00:00:00Z", 3),
        [
            "2026-01-13T00:00:00+00:00",
            "2026-06-13T00:00:00+00:00",
            "2026-08-13T00:00:00+00:00"
        ]
    );
    // The same weekdays written without the star: an OR, so the 13th or any of them.
    // Thu 1 Jan, Sat 3, Sun 4, Tue 6, ..., Tue 13 either way.
    assert_eq!(
        fires("0 0 13 * 0-6/2", UTC, "2025-12-31T12:00:00Z", 5),
        [
            "2026-01-01T00:00:00+00:00",
            "2026-01-03T00:00:00+00:00",
            "2026-01-04T00:00:00+00:00",
            "2026-01-06T00:00:00+00:00",
            "2026-01-08T00:00:00+00:00"
        ]
    );
    assert_eq!(
        fires("0 0 13 * 0-6/2", UTC, "2026-02-10T00:00:00Z", 3),
        [
            "2026-02-12T00:00:00+00:00", // Thu
            "2026-02-13T00:00:00+00:00", // Fri, the 13th
            "2026-02-14T00:00:00+00:00"  // Sat
        ]
    );
}

#[test]
fn a_bare_star_in_either_day_field_leaves_the_other_alone() {
    let Timing::Cron(expr) = parse("0 0 * * 1") else {
        panic!("a cron expression")
    };
    assert!(!expr.days_are_ored());
    assert_eq!(
        fires("0 0 15 * *", UTC, "2026-01-01T00:00:00Z", 2),
        ["2026-01-15T00:00:00+00:00", "2026-02-15T00:00:00+00:00"]
    );
}

// ---- the Quartz-style extras ----------------------------------------------------------------

#[test]
fn l_is_the_last_day_of_the_month() {
    assert_eq!(
        fires("0 0 L * *", UTC, "2026-01-15T00:00:00Z", 4),
        [
            "2026-01-31T00:00:00+00:00",
            "2026-02-28T00:00:00+00:00",
            "2026-03-31T00:00:00+00:00",
            "2026-04-30T00:00:00+00:00"
        ]
    );
    assert_eq!(
        fires("0 0 L 2 *", UTC, "2027-03-01T00:00:00Z", 1),
        ["2028-02-29T00:00:00+00:00"]
    );
    assert_eq!(parse("0 0 l * *"), parse("0 0 L * *"));
    // In a list with plain days.
    assert_eq!(
        fires("0 0 1,L 2 *", UTC, "2026-01-15T00:00:00Z", 3),
        [
            "2026-02-01T00:00:00+00:00",
            "2026-02-28T00:00:00+00:00",
            "2027-02-01T00:00:00+00:00"
        ]
    );
}

#[test]
fn lw_is_the_last_working_day_of_the_month() {
    // 31 Jan is a Sat (so Fri 30), 28 Feb a Sat (Fri 27), 31 Mar a Tue, 30 Apr a Thu,
    // 31 May a Sun (Fri 29).
    assert_eq!(
        fires("0 0 LW * *", UTC, "2026-01-01T00:00:00Z", 5),
        [
            "2026-01-30T00:00:00+00:00",
            "2026-02-27T00:00:00+00:00",
            "2026-03-31T00:00:00+00:00",
            "2026-04-30T00:00:00+00:00",
            "2026-05-29T00:00:00+00:00"
        ]
    );
    assert_eq!(parse("0 0 lw * *"), parse("0 0 LW * *"));
}

#[test]
fn n_l_is_the_last_such_weekday_of_the_month() {
    assert_eq!(
        fires("0 0 * * 5L", UTC, "2026-01-01T00:00:00Z", 4),
        [
            "2026-01-30T00:00:00+00:00",
            "2026-02-27T00:00:00+00:00",
            "2026-03-27T00:00:00+00:00",
            "2026-04-24T00:00:00+00:00"
        ]
    );
    assert_eq!(parse("0 0 * * friL"), parse("0 0 * * 5L"));
    assert_eq!(parse("0 0 * * 5l"), parse("0 0 * * 5L"));
    // 7L and 0L are both the last Sunday: 25 Jan, 22 Feb.
    assert_eq!(parse("0 0 * * 7L"), parse("0 0 * * 0L"));
    assert_eq!(
        fires("0 0 * * 7L", UTC, "2026-01-01T00:00:00Z", 2),
        ["2026-01-25T00:00:00+00:00", "2026-02-22T00:00:00+00:00"]
    );
}

#[test]
fn n_hash_k_is_the_kth_such_weekday_of_the_month() {
    let third_friday = [
        "2026-01-16T00:00:00+00:00",
        "2026-02-20T00:00:00+00:00",
        "2026-03-20T00:00:00+00:00",
        "2026-04-17T00:00:00+00:00",
    ];
    assert_eq!(
        fires("0 0 * * 5#3", UTC, "2026-01-01T00:00:00Z", 4),
        third_friday
    );
    assert_eq!(
        fires("0 0 * * fri#3", UTC, "2026-01-01T00:00:00Z", 4),
        third_friday
    );
    assert_eq!(
        fires("0 0 * * FRI#3", UTC, "2026-01-01T00:00:00Z", 4),
        third_friday
    );
    // The fifth Thursday: 29 Jan; none in Feb (4 Thursdays); none in March (Sun 1, Thu
    // 5 12 19 26); 30 Apr.
    assert_eq!(
        fires("0 0 * * 4#5", UTC, "2026-01-01T00:00:00Z", 2),
        ["2026-01-29T00:00:00+00:00", "2026-04-30T00:00:00+00:00"]
    );
    // The first Sunday written as 7#1: 4 Jan, 1 Feb.
    assert_eq!(
        fires("0 0 * * 7#1", UTC, "2026-01-01T00:00:00Z", 2),
        ["2026-01-04T00:00:00+00:00", "2026-02-01T00:00:00+00:00"]
    );
    // A list: the first Monday and the last Friday.
    assert_eq!(
        fires("0 0 * * 1#1,5L", UTC, "2026-01-01T00:00:00Z", 3),
        [
            "2026-01-05T00:00:00+00:00",
            "2026-01-30T00:00:00+00:00",
            "2026-02-02T00:00:00+00:00"
        ]
    );
}

#[test]
fn extras_in_day_of_week_are_ored_with_a_restricted_day_of_month() {
    // The 1st or the third Friday.
    assert_eq!(
        fires("0 0 1 * 5#3", UTC, "2026-01-01T00:00:00Z", 3),
        [
            "2026-01-16T00:00:00+00:00",
            "2026-02-01T00:00:00+00:00",
            "2026-02-20T00:00:00+00:00"
        ]
    );
}

// ---- six fields ------------------------------------------------------------------------

#[test]
fn six_fields_put_the_seconds_first() {
    assert_eq!(
        fires("*/15 * * * * *", UTC, "2026-01-01T00:00:00Z", 5),
        [
            "2026-01-01T00:00:15+00:00",
            "2026-01-01T00:00:30+00:00",
            "2026-01-01T00:00:45+00:00",
            "2026-01-01T00:01:00+00:00",
            "2026-01-01T00:01:15+00:00"
        ]
    );
    assert_eq!(
        fires("30 0 12 * * *", UTC, "2026-01-01T00:00:00Z", 2),
        ["2026-01-01T12:00:30+00:00", "2026-01-02T12:00:30+00:00"]
    );
    // Five fields mean second 0.
    assert_eq!(parse("0 0 12 * * *"), parse("0 12 * * *"));
    // The first fire is strictly after `after`, even when `after` has a fraction.
    assert_eq!(
        fires("* * * * * *", UTC, "2026-01-01T00:00:00.500Z", 2),
        ["2026-01-01T00:00:01+00:00", "2026-01-01T00:00:02+00:00"]
    );
    assert_eq!(
        fires("0 * * * *", UTC, "2026-01-01T00:00:00Z", 1),
        ["2026-01-01T01:00:00+00:00"]
    );
}

#[test]
fn the_dst_class_follows_the_minute_and_hour_fields() {
    let wildcard = |expr: &str| match parse(expr) {
        Timing::Cron(expr) => expr.is_wildcard(),
        other => panic!("{other:?}"),
    };
    assert!(wildcard("* 3 * * *"));
    assert!(wildcard("0 * * * *"));
    assert!(wildcard("*/5 3 * * *"));
    assert!(wildcard("0 */2 * * *"));
    assert!(!wildcard("0 3 * * *"));
    assert!(!wildcard("0-59 0-23 * * *"));
    assert!(!wildcard("15,45 1-3 * * *"));
    assert!(!wildcard("0 3 * * *"));
    // Seconds and the day fields do not count.
    assert!(!wildcard("* 0 3 * * *"));
    assert!(!wildcard("0 3 * * */2"));
    assert!(wildcard("0 * 3 * * *"));
}

// ---- macros ------------------------------------------------------------------------------

#[test]
fn every_macro_expands_to_its_expression() {
    for (name, expr) in [
        ("@yearly", "0 0 1 1 *"),
        ("@annually", "0 0 1 1 *"),
        ("@monthly", "0 0 1 * *"),
        ("@weekly", "0 0 * * 0"),
        ("@daily", "0 0 * * *"),
        ("@midnight", "0 0 * * *"),
        ("@hourly", "0 * * * *"),
    ] {
        assert_eq!(parse(name), parse(expr), "{name}");
    }
}

#[test]
fn every_macro_fires_when_its_name_says() {
    // 2026-03-01 is a Sunday.
    let after = "2026-03-01T00:00:00Z";
    let first = |name: &str| fires(name, UTC, after, 2);
    let yearly = ["2027-01-01T00:00:00+00:00", "2028-01-01T00:00:00+00:00"];
    assert_eq!(first("@yearly"), yearly);
    assert_eq!(first("@annually"), yearly);
    assert_eq!(
        first("@monthly"),
        ["2026-04-01T00:00:00+00:00", "2026-05-01T00:00:00+00:00"]
    );
    assert_eq!(
        first("@weekly"),
        ["2026-03-08T00:00:00+00:00", "2026-03-15T00:00:00+00:00"]
    );
    let daily = ["2026-03-02T00:00:00+00:00", "2026-03-03T00:00:00+00:00"];
    assert_eq!(first("@daily"), daily);
    assert_eq!(first("@midnight"), daily);
    assert_eq!(
        first("@hourly"),
        ["2026-03-01T01:00:00+00:00", "2026-03-01T02:00:00+00:00"]
    );
    // Surrounding blanks are fine.
    assert_eq!(parse("  @daily \n"), parse("@daily"));
}

#[test]
fn every_counts_its_interval_from_after() {
    assert_eq!(parse("@every 90s"), Timing::Every(Duration::from_secs(90)));
    assert_eq!(
        parse("@every 1h30m"),
        Timing::Every(Duration::from_secs(5400))
    );
    assert_eq!(
        fires("@every 90s", UTC, "2026-01-01T00:00:10Z", 3),
        [
            "2026-01-01T00:01:40+00:00",
            "2026-01-01T00:03:10+00:00",
            "2026-01-01T00:04:40+00:00"
        ]
    );
    // Not aligned to the clock: an `after` with a fraction keeps it.
    let after = utc("2026-01-01T00:00:00.250Z");
    let next = parse("@every 90s").next_after(after, chrono_tz::UTC);
    assert_eq!(
        next.map(|t| t.with_timezone(&Utc)),
        Some(utc("2026-01-01T00:01:30.250Z"))
    );
    // An interval is real time: the zone and its DST do not move it.
    assert_eq!(
        fires(
            "@every 1h",
            "America/New_York",
            "2026-03-08T01:30:00-05:00",
            2
        ),
        ["2026-03-08T03:30:00-04:00", "2026-03-08T04:30:00-04:00"]
    );
}

#[test]
fn reboot_has_no_instants() {
    let reboot = parse("@reboot");
    assert_eq!(reboot, Timing::Reboot);
    let after = utc("2026-01-01T00:00:00Z");
    assert_eq!(reboot.next_after(after, chrono_tz::UTC), None);
    assert_eq!(reboot.fires(after, chrono_tz::UTC).count(), 0);
}

#[test]
fn a_date_that_occurs_rarely_is_found() {
    // 29 Feb: leap years only.
    assert_eq!(
        fires("0 0 29 2 *", UTC, "2026-01-01T00:00:00Z", 2),
        ["2028-02-29T00:00:00+00:00", "2032-02-29T00:00:00+00:00"]
    );
    // Both day fields restricted: 29 Feb OR any Monday of February, so Mon 2 Feb 2026.
    assert_eq!(
        fires("0 0 29 2 1", UTC, "2026-01-01T00:00:00Z", 1),
        ["2026-02-02T00:00:00+00:00"]
    );
    // The fifth Monday of February is 29 Feb on a Monday: next in 2044.
    assert_eq!(
        fires("0 0 * 2 1#5", UTC, "2026-01-01T00:00:00Z", 1),
        ["2044-02-29T00:00:00+00:00"]
    );
    // 2100 is not a leap year; 2096 and 2104 are.
    assert_eq!(
        fires("0 0 29 2 *", UTC, "2096-03-01T00:00:00Z", 1),
        ["2104-02-29T00:00:00+00:00"]
    );
}

#[test]
fn matches_checks_every_field_on_local_time() {
    let Timing::Cron(expr) = parse("30 12 */2 * 0,6") else {
        panic!("a cron expression")
    };
    let at = |y, m, d, h, mi, s| {
        NaiveDate::from_ymd_opt(y, m, d)
            .and_then(|d| d.and_hms_opt(h, mi, s))
            .expect("a valid test time")
    };
    assert!(expr.matches(at(2026, 1, 3, 12, 30, 0)));
    assert!(!expr.matches(at(2026, 1, 3, 12, 30, 1)));
    assert!(!expr.matches(at(2026, 1, 4, 12, 30, 0))); // Sunday, but even
    assert!(!expr.matches(at(2026, 1, 5, 12, 30, 0))); // odd, but Monday
    assert!(!expr.matches(at(2026, 1, 3, 13, 30, 0)));
}
