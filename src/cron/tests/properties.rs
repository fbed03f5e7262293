//! Properties over random expressions: fires are strictly increasing and each one is
//! explained by the rules; around DST changes the engine agrees with a brute-force
//! oracle; a whole year in UTC agrees minute by minute with predicates written out by
//! hand; and in UTC the engine agrees with the `croner` crate where both follow Vixie.

use std::collections::BTreeSet;
use std::str::FromStr;
use std::sync::OnceLock;

use chrono::{
    DateTime, Datelike, DurationRound, NaiveDate, NaiveDateTime, Offset, TimeDelta, Timelike, Utc,
};
use chrono_tz::Tz;
use proptest::prelude::*;

use crate::cron::{CronExpr, ParseError, Timing};

// ---- generators --------------------------------------------------------------------------

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Second,
    Minute,
    Hour,
    DayOfMonth,
    Month,
    DayOfWeek,
}

impl Kind {
    fn bounds(self) -> (u32, u32) {
        match self {
            Kind::Second | Kind::Minute => (0, 59),
            Kind::Hour => (0, 23),
            Kind::DayOfMonth => (1, 31),
            Kind::Month => (1, 12),
            Kind::DayOfWeek => (0, 7),
        }
    }
}

/// Which items a field may hold.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Dialect {
    /// Everything cronq accepts.
    Cronq,
    /// What croner 4 reads as Vixie does: no `5/15`, and a day field is a bare `*` or has
    /// no `*` at all (croner ORs `*/2` in a day field where Vixie ANDs).
    Vixie,
}

const MONTHS: [&str; 12] = [
    "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
];
const WEEKDAYS: [&str; 7] = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"];

/// A value as a number, or as a name in some letter case when the field has names.
fn render(kind: Kind, value: u32, style: u8) -> String {
    let name = match kind {
        Kind::Month if style & 1 == 1 => MONTHS[value as usize - 1],
        Kind::DayOfWeek if style & 1 == 1 && value < 7 => WEEKDAYS[value as usize],
        _ => return value.to_string(),
    };
    match (style >> 1) % 3 {
        0 => name.to_string(),
        1 => name.to_ascii_uppercase(),
        _ => name[..1].to_ascii_uppercase() + &name[1..],
    }
}

/// One item of a field: `*`, `*/s`, `a`, `a-b`, `a-b/s`, `a/s`, or a day extra.
fn item(kind: Kind, dialect: Dialect) -> impl Strategy<Value = String> {
    let (lo, hi) = kind.bounds();
    (
        0u8..12,
        lo..=hi,
        lo..=hi,
        1..=hi - lo,
        any::<u8>(),
        1u32..=5,
    )
        .prop_map(move |(shape, a, b, step, style, nth)| {
            let (a, b) = (a.min(b), a.max(b));
            let star_allowed =
                dialect == Dialect::Cronq || !matches!(kind, Kind::DayOfMonth | Kind::DayOfWeek);
            let value = |v| render(kind, v, style);
            // croner reads `-SUN` as `-7`, so `sun-sun` is every day there; write 0.
            let end = |v| match dialect {
                Dialect::Vixie if v == 0 => "0".to_string(),
                _ => value(v),
            };
            match shape {
                // croner takes a lone `*` only as the whole field, not as a list item.
                0 if dialect == Dialect::Cronq => "*".to_string(),
                1 if star_allowed => format!("*/{step}"),
                2 | 3 => value(a),
                4 | 5 => format!("{}-{}", value(a), end(b)),
                6 | 7 => format!("{}-{}/{step}", value(a), end(b)),
                8 if dialect == Dialect::Cronq => format!("{}/{step}", value(a)),
                9 if kind == Kind::DayOfMonth => "L".to_string(),
                10 if kind == Kind::DayOfMonth && dialect == Dialect::Cronq => "LW".to_string(),
                9 | 10 if kind == Kind::DayOfWeek => format!("{}L", value(a)),
                11 if kind == Kind::DayOfWeek => format!("{}#{nth}", value(a)),
                _ => value(b),
            }
        })
}

/// A field: a bare `*` (with probability `star_weight`/4), or a list of one to three items.
fn field(kind: Kind, dialect: Dialect, star_weight: u32) -> impl Strategy<Value = String> {
    prop_oneof![
        star_weight => Just("*".to_string()),
        4 - star_weight.min(3) => prop::collection::vec(item(kind, dialect), 1..=3)
            .prop_map(|items| items.join(",")),
    ]
}

/// An hour field that often names the small hours, where the DST changes are.
fn small_hours() -> impl Strategy<Value = String> {
    prop_oneof![
        field(Kind::Hour, Dialect::Cronq, 1),
        (0u32..=4, 0u32..=4).prop_map(|(a, b)| if a == b {
            a.to_string()
        } else {
            format!("{}-{}", a.min(b), a.max(b))
        }),
        (0u32..=4, 0u32..=4).prop_map(|(a, b)| format!("{a},{b},23")),
    ]
}

/// A 5- or 6-field expression.
fn expression(dialect: Dialect) -> impl Strategy<Value = String> {
    (
        prop::option::weighted(0.25, field(Kind::Second, dialect, 1)),
        field(Kind::Minute, dialect, 1),
        field(Kind::Hour, dialect, 1),
        field(Kind::DayOfMonth, dialect, 2),
        field(Kind::Month, dialect, 2),
        field(Kind::DayOfWeek, dialect, 2),
    )
        .prop_map(|(s, m, h, dom, mon, dow)| {
            let five = format!("{m} {h} {dom} {mon} {dow}");
            match s {
                Some(s) => format!("{s} {five}"),
                None => five,
            }
        })
}

/// A 5-field expression likely to fire near a DST change.
fn expression_near_changes() -> impl Strategy<Value = String> {
    (
        field(Kind::Minute, Dialect::Cronq, 1),
        small_hours(),
        field(Kind::DayOfMonth, Dialect::Cronq, 3),
        field(Kind::Month, Dialect::Cronq, 3),
        field(Kind::DayOfWeek, Dialect::Cronq, 3),
    )
        .prop_map(|(m, h, dom, mon, dow)| format!("{m} {h} {dom} {mon} {dow}"))
}

/// Zones with whole-hour, half-hour and 45-minute offsets and shifts, a DST change at
/// midnight (Santiago, Havana), a northern and a southern hemisphere, and Casablanca's
/// Ramadan change that goes back in spring.
const ZONES: [&str; 12] = [
    "UTC",
    "America/New_York",
    "Europe/London",
    "Europe/Berlin",
    "Australia/Sydney",
    "Australia/Lord_Howe",
    "America/Santiago",
    "America/Havana",
    "Pacific/Chatham",
    "Africa/Casablanca",
    "America/St_Johns",
    "Asia/Kathmandu",
];

fn zone(index: usize) -> Tz {
    ZONES[index].parse().expect("the test zones are valid")
}

/// The instants of 2026 and 2027 where a zone's offset changes, found by scanning.
fn transitions(index: usize) -> &'static [DateTime<Utc>] {
    static ALL: OnceLock<Vec<Vec<DateTime<Utc>>>> = OnceLock::new();
    &ALL.get_or_init(|| {
        (0..ZONES.len())
            .map(|i| {
                let tz = zone(i);
                let offset = |t: DateTime<Utc>| offset_s(t, tz);
                let mut found = Vec::new();
                let mut t = utc(2026, 1, 1, 0, 0);
                let end = utc(2028, 1, 1, 0, 0);
                while t < end {
                    let next = t + TimeDelta::hours(1);
                    if offset(t) != offset(next) {
                        // Every change is on a whole minute.
                        let mut m = t;
                        while offset(m) == offset(t) {
                            m += TimeDelta::minutes(1);
                        }
                        found.push(m);
                    }
                    t = next;
                }
                found
            })
            .collect()
    })[index]
}

fn offset_s(t: DateTime<Utc>, tz: Tz) -> i32 {
    t.with_timezone(&tz).offset().fix().local_minus_utc()
}

fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> DateTime<Utc> {
    NaiveDate::from_ymd_opt(y, mo, d)
        .and_then(|d| d.and_hms_opt(h, mi, 0))
        .expect("a valid test time")
        .and_utc()
}

fn instant(seconds: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(seconds, 0).expect("a test instant is in range")
}

/// The parsed expression, `None` if it is refused as never firing; any other error is a
/// bug in the generator or the parser.
fn cron(text: &str) -> Option<CronExpr> {
    match text.parse::<Timing>() {
        Ok(Timing::Cron(expr)) => Some(expr),
        Ok(other) => panic!("`{text}` parsed as {other:?}"),
        Err(ParseError::NeverFires { .. } | ParseError::DaysNeverMeet { .. }) => None,
        Err(e) => panic!("`{text}` was refused: {e}"),
    }
}

/// Whether a fixed-time job's fire at `at` is the first instant after a gap in which one
/// of its nominal times fell.
fn is_first_instant_after_a_matching_gap(expr: &CronExpr, at: DateTime<Tz>) -> bool {
    let before = (at - TimeDelta::seconds(1)).naive_local();
    let at_local = at.naive_local();
    at_local > before + TimeDelta::seconds(1)
        && expr
            .next_local(before)
            .is_some_and(|nominal| nominal < at_local)
}

/// `cases` random cases; a failure is reported with its minimal input, to be kept as an
/// example test, rather than saved to a regressions file.
fn config(cases: u32) -> ProptestConfig {
    ProptestConfig {
        cases,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

// ---- properties ----------------------------------------------------------------------------

proptest! {
    #![proptest_config(config(400))]

    /// An accepted expression fires. Fires are strictly increasing and after `after`; each
    /// matches its local time, or is a fixed-time job's first instant after a gap that
    /// swallowed a match. Asked again from anywhere between two fires, the engine answers
    /// the later one.
    #[test]
    fn fires_increase_and_each_one_is_explained(
        text in expression(Dialect::Cronq),
        zone_index in 0..ZONES.len(),
        near_change in any::<bool>(),
        seconds in 946_684_800i64..2_208_988_800, // 2000 to 2040
        nearby in -86_400i64..86_400,
    ) {
        let Some(expr) = cron(&text) else { return Ok(()) };
        let tz = zone(zone_index);
        let changes = transitions(zone_index);
        let after = if near_change && !changes.is_empty() {
            changes[seconds as usize % changes.len()] + TimeDelta::seconds(nearby)
        } else {
            instant(seconds)
        };
        let fires: Vec<DateTime<Tz>> = Timing::Cron(expr.clone()).fires(after, tz).take(25).collect();
        // An expression that is accepted fires: it never silently does nothing.
        prop_assert!(!fires.is_empty(), "`{}` in {}: no fire after {}", text, tz, after);
        let mut previous = after;
        for (i, at) in fires.iter().enumerate() {
            let at_utc = at.with_timezone(&Utc);
            prop_assert!(at_utc > previous, "`{text}` in {tz}: fire {i} {at} is not after {previous}");
            let explained = expr.matches(at.naive_local())
                || (!expr.is_wildcard() && is_first_instant_after_a_matching_gap(&expr, *at));
            prop_assert!(explained, "`{text}` in {tz}: fire {i} {at} matches nothing");
            // Restarting anywhere in [previous, at) finds `at` again.
            if i > 0 {
                for restart in [previous, previous + (at_utc - previous) / 2, at_utc - TimeDelta::seconds(1)] {
                    prop_assert_eq!(
                        expr.next_after(restart, tz).map(|t| t.with_timezone(&Utc)),
                        Some(at_utc),
                        "`{}` in {}: asked after {}", text, tz, restart
                    );
                }
            }
            previous = at_utc;
        }
    }
}

proptest! {
    #![proptest_config(config(256))]

    /// Near a zone's offset change, the fires over 36 hours are exactly those of the rules,
    /// computed by brute force: a wildcard job at every real minute whose local time
    /// matches; a fixed-time job at, for each matching local time L, the first instant
    /// whose local time is L or later (which is L's instant, its first pass in a fold, or
    /// the end of the gap that swallowed it), each instant once.
    #[test]
    fn near_a_dst_change_the_fires_are_those_of_the_rules(
        text in expression_near_changes(),
        zone_index in 1..ZONES.len(),
        pick in any::<usize>(),
        // From 30 hours before the change to 6 hours after.
        shift_s in -108_000i64..21_600,
        fraction_s in prop_oneof![Just(0i64), 0i64..60],
    ) {
        let Some(expr) = cron(&text) else { return Ok(()) };
        let tz = zone(zone_index);
        let changes = transitions(zone_index);
        let after = match changes {
            [] => utc(2026, 3, 1, 0, 0) + TimeDelta::seconds(shift_s),
            _ => changes[pick % changes.len()] + TimeDelta::seconds(shift_s + fraction_s),
        };
        let end = after + TimeDelta::hours(36);
        let expected = by_the_rules(&expr, tz, after, end, TimeDelta::minutes(1));
        let got: Vec<DateTime<Utc>> = Timing::Cron(expr.clone())
            .fires(after, tz)
            .map(|t| t.with_timezone(&Utc))
            .take_while(|t| *t <= end)
            .collect();
        prop_assert_eq!(
            show(&got, tz), show(&expected, tz),
            "`{}` ({}) in {} after {}", text,
            if expr.is_wildcard() { "wildcard" } else { "fixed" }, tz, after.with_timezone(&tz)
        );
    }
}

proptest! {
    #![proptest_config(config(64))]

    /// The same with a seconds field, second by second over four hours around a change.
    #[test]
    fn near_a_dst_change_the_fires_with_seconds_are_those_of_the_rules(
        seconds in field(Kind::Second, Dialect::Cronq, 1),
        five in expression_near_changes(),
        zone_index in 1..ZONES.len(),
        pick in any::<usize>(),
        shift_s in -10_800i64..3_600,
    ) {
        let text = format!("{seconds} {five}");
        let Some(expr) = cron(&text) else { return Ok(()) };
        let tz = zone(zone_index);
        let changes = transitions(zone_index);
        let after = match changes {
            [] => utc(2026, 3, 1, 0, 0) + TimeDelta::seconds(shift_s),
            _ => changes[pick % changes.len()] + TimeDelta::seconds(shift_s),
        };
        let end = after + TimeDelta::hours(4);
        let expected = by_the_rules(&expr, tz, after, end, TimeDelta::seconds(1));
        let got: Vec<DateTime<Utc>> = Timing::Cron(expr.clone())
            .fires(after, tz)
            .map(|t| t.with_timezone(&Utc))
            .take_while(|t| *t <= end)
            .collect();
        prop_assert_eq!(
            show(&got, tz), show(&expected, tz),
            "`{}` ({}) in {} after {}", text,
            if expr.is_wildcard() { "wildcard" } else { "fixed" }, tz, after.with_timezone(&tz)
        );
    }
}

/// The fires in `(after, end]` by brute force over every `step` (a minute for 5 fields,
/// a second for 6).
fn by_the_rules(
    expr: &CronExpr,
    tz: Tz,
    after: DateTime<Utc>,
    end: DateTime<Utc>,
    step: TimeDelta,
) -> Vec<DateTime<Utc>> {
    let trunc = |t: DateTime<Utc>| t.duration_trunc(step).expect("a whole step");
    // Every real step of the window (and an hour either side, for the fixed rule), with
    // the offsets and changes seen in it.
    let first = trunc(after) - TimeDelta::hours(1);
    let mut offsets = BTreeSet::new();
    let mut changes = Vec::new();
    let mut wildcard = Vec::new();
    let mut t = first;
    while t <= end + TimeDelta::hours(1) {
        offsets.insert(offset_s(t, tz));
        if offset_s(t - step, tz) != offset_s(t, tz) {
            changes.push(t);
        }
        if t > after && t <= end && expr.matches(t.with_timezone(&tz).naive_local()) {
            wildcard.push(t);
        }
        t += step;
    }
    if expr.is_wildcard() {
        return wildcard;
    }
    let local = |t: DateTime<Utc>| t.with_timezone(&tz).naive_local();
    // The first instant whose local time is `nominal` or later: it is either an instant
    // whose local time is exactly `nominal` (under one of the offsets) or a change.
    let first_at_or_after = |nominal: NaiveDateTime| {
        offsets
            .iter()
            .map(|&off| nominal.and_utc() - TimeDelta::seconds(off.into()))
            .chain(changes.iter().copied())
            .filter(|&t| local(t) >= nominal)
            .min()
            .expect("some candidate is late enough")
    };
    let mut fixed = BTreeSet::new();
    let mut nominal = local(trunc(after));
    while nominal <= local(end) + TimeDelta::hours(2) {
        if expr.matches(nominal) {
            let at = first_at_or_after(nominal);
            if at > after && at <= end {
                fixed.insert(at);
            }
        }
        nominal += step;
    }
    fixed.into_iter().collect()
}

fn show(instants: &[DateTime<Utc>], tz: Tz) -> Vec<String> {
    instants
        .iter()
        .map(|t| t.with_timezone(&tz).to_rfc3339())
        .collect()
}

proptest! {
    #![proptest_config(config(300))]

    /// In UTC, where croner reads an expression as Vixie does, the next 20 fires agree.
    #[test]
    fn in_utc_the_engine_agrees_with_croner(
        text in expression(Dialect::Vixie),
        seconds in 946_684_800i64..2_208_988_800,
    ) {
        let Some(expr) = cron(&text) else { return Ok(()) };
        let after = instant(seconds);
        let theirs = croner::Cron::from_str(&text)
            .unwrap_or_else(|e| panic!("croner refused `{text}`: {e}"));
        let expected: Vec<DateTime<Utc>> = theirs.iter_after(after).take(20).collect();
        let got: Vec<DateTime<Utc>> = Timing::Cron(expr)
            .fires(after, chrono_tz::UTC)
            .take(20)
            .map(|t| t.with_timezone(&Utc))
            .collect();
        prop_assert_eq!(got, expected, "`{}` after {}", text, after);
    }
}

// ---- a whole year, minute by minute -----------------------------------------------------

fn days_in_month(day: NaiveDate) -> u32 {
    let first_of_next = if day.month() == 12 {
        NaiveDate::from_ymd_opt(day.year() + 1, 1, 1)
    } else {
        NaiveDate::from_ymd_opt(day.year(), day.month() + 1, 1)
    };
    first_of_next
        .and_then(|d| d.pred_opt())
        .expect("a valid date")
        .day()
}

/// The month's last Monday-to-Friday day, by walking back from its last day.
fn last_workday(day: NaiveDate) -> u32 {
    let mut last = day
        .with_day(days_in_month(day))
        .expect("the last day exists");
    while last.weekday().num_days_from_monday() >= 5 {
        last = last.pred_opt().expect("a previous day");
    }
    last.day()
}

#[test]
fn every_minute_of_2027_in_utc_fires_exactly_when_it_matches() {
    type Rule = fn(NaiveDateTime) -> bool;
    let cases: [(&str, Rule); 10] = [
        ("*/7 1-5 * * *", |t| {
            t.minute() % 7 == 0 && (1..=5).contains(&t.hour())
        }),
        // Vixie AND: `*/2` starts with a star.
        ("0 12 */2 * 0,6", |t| {
            (t.hour(), t.minute()) == (12, 0)
                && t.day() % 2 == 1
                && matches!(t.weekday().num_days_from_sunday(), 0 | 6)
        }),
        // Vixie OR: both day fields restricted.
        ("30 8 1,15 * MON", |t| {
            (t.hour(), t.minute()) == (8, 30)
                && (matches!(t.day(), 1 | 15) || t.weekday().num_days_from_sunday() == 1)
        }),
        ("15 10 LW * *", |t| {
            (t.hour(), t.minute()) == (10, 15) && t.day() == last_workday(t.date())
        }),
        ("0 9 * * 5#3,1L", |t| {
            let wd = t.weekday().num_days_from_sunday();
            (t.hour(), t.minute()) == (9, 0)
                && ((wd == 5 && (t.day() - 1) / 7 == 2)
                    || (wd == 1 && t.day() + 7 > days_in_month(t.date())))
        }),
        ("*/15 9-17 * 1-6,oct mon-fri", |t| {
            t.minute() % 15 == 0
                && (9..=17).contains(&t.hour())
                && (t.month() <= 6 || t.month() == 10)
                && (1..=5).contains(&t.weekday().num_days_from_sunday())
        }),
        ("0 0 L 2 *", |t| {
            (t.hour(), t.minute(), t.month(), t.day()) == (0, 0, 2, 28)
        }),
        // None in 2027.
        ("0 0 29 2 *", |_| false),
        ("5/20 */6 1-7 * 7", |t| {
            t.minute() % 20 == 5
                && t.hour() % 6 == 0
                && (t.day() <= 7 || t.weekday().num_days_from_sunday() == 0)
        }),
        ("0 0 * * *", |t| (t.hour(), t.minute()) == (0, 0)),
    ];
    let start = utc(2027, 1, 1, 0, 0);
    let end = utc(2028, 1, 1, 0, 0);
    for (text, rule) in cases {
        let timing: Timing = text.parse().expect("a valid test expression");
        let Timing::Cron(expr) = &timing else {
            panic!("`{text}` is a cron expression")
        };
        let mut expected = Vec::new();
        let mut t = start;
        while t < end {
            let naive = t.naive_utc();
            let by_rule = rule(naive);
            assert_eq!(expr.matches(naive), by_rule, "`{text}`: matches({naive})");
            if by_rule {
                expected.push(t);
            }
            t += TimeDelta::minutes(1);
        }
        let got: Vec<DateTime<Utc>> = timing
            .fires(start - TimeDelta::seconds(1), chrono_tz::UTC)
            .map(|t| t.with_timezone(&Utc))
            .take_while(|t| *t < end)
            .collect();
        assert_eq!(got.len(), expected.len(), "`{text}`: the number of fires");
        assert_eq!(got, expected, "`{text}`");
    }
}
