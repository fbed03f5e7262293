//! Parse errors: every way DESIGN §5 says an expression is refused, with its variant and a
//! message that names the field and the reason.

use crate::cron::{FieldKind, ParseError, Problem, Timing};

fn parse(expr: &str) -> Timing {
    expr.parse().unwrap_or_else(|e| panic!("`{expr}`: {e}"))
}

fn error(expr: &str) -> ParseError {
    match expr.parse::<Timing>() {
        Ok(timing) => panic!("`{expr}` parsed as {timing:?}, expected an error"),
        Err(e) => e,
    }
}

/// The field error of `expr`, after checking that its message names the field.
fn field_error(expr: &str) -> (FieldKind, String, Problem) {
    let e = error(expr);
    let message = e.to_string();
    let ParseError::Field {
        field,
        text,
        problem,
    } = e
    else {
        panic!("`{expr}`: expected a field error, got {e:?}");
    };
    assert!(
        message.starts_with(&format!("{field} field `{text}`: ")),
        "`{expr}`: the message `{message}` does not name the field"
    );
    (field, text, problem)
}

#[test]
fn a_reversed_range_is_refused() {
    assert_eq!(
        field_error("5-1 * * * *"),
        (
            FieldKind::Minute,
            "5-1".into(),
            Problem::Reversed { lo: 5, hi: 1 }
        )
    );
    assert_eq!(
        field_error("0 0 * * FRI-MON"),
        (
            FieldKind::DayOfWeek,
            "FRI-MON".into(),
            Problem::Reversed { lo: 5, hi: 1 }
        )
    );
    assert_eq!(
        field_error("0 0 1 dec-jan *"),
        (
            FieldKind::Month,
            "dec-jan".into(),
            Problem::Reversed { lo: 12, hi: 1 }
        )
    );
}

#[test]
fn a_double_step_is_refused() {
    assert_eq!(
        field_error("*/5/2 * * * *"),
        (FieldKind::Minute, "*/5/2".into(), Problem::DoubleStep)
    );
    assert_eq!(
        field_error("0 1-10/2/3 * * *"),
        (FieldKind::Hour, "1-10/2/3".into(), Problem::DoubleStep)
    );
}

#[test]
fn a_number_that_is_not_whole_is_refused() {
    assert_eq!(
        field_error("1.5 * * * *"),
        (
            FieldKind::Minute,
            "1.5".into(),
            Problem::NotANumber("1.5".into())
        )
    );
    assert_eq!(
        field_error("0 -1 * * *"),
        (FieldKind::Hour, "-1".into(), Problem::EmptyValue)
    );
    assert_eq!(
        field_error("0 0 1x * *"),
        (
            FieldKind::DayOfMonth,
            "1x".into(),
            Problem::NotANumber("1x".into())
        )
    );
    assert_eq!(
        field_error("*/x * * * *"),
        (
            FieldKind::Minute,
            "*/x".into(),
            Problem::NotANumber("x".into())
        )
    );
}

#[test]
fn an_nth_weekday_past_the_fifth_is_refused() {
    assert_eq!(
        field_error("0 0 * * 5#6"),
        (
            FieldKind::DayOfWeek,
            "5#6".into(),
            Problem::NthOutOfRange(6)
        )
    );
    assert_eq!(
        field_error("0 0 * * 5#0"),
        (
            FieldKind::DayOfWeek,
            "5#0".into(),
            Problem::NthOutOfRange(0)
        )
    );
    assert_eq!(
        field_error("0 0 * * 8#1").2,
        Problem::OutOfRange {
            value: "8".into(),
            lo: 0,
            hi: 7
        }
    );
    assert_eq!(field_error("0 0 * * 5#").2, Problem::EmptyValue);
}

#[test]
fn a_value_out_of_range_is_refused_in_every_field() {
    let out = |value: &str, lo, hi| Problem::OutOfRange {
        value: value.into(),
        lo,
        hi,
    };
    assert_eq!(
        field_error("61 * * * *"),
        (FieldKind::Minute, "61".into(), out("61", 0, 59))
    );
    assert_eq!(
        field_error("60 * * * * *"),
        (FieldKind::Second, "60".into(), out("60", 0, 59))
    );
    assert_eq!(
        field_error("0 24 * * *"),
        (FieldKind::Hour, "24".into(), out("24", 0, 23))
    );
    assert_eq!(
        field_error("0 0 0 * *"),
        (FieldKind::DayOfMonth, "0".into(), out("0", 1, 31))
    );
    assert_eq!(
        field_error("0 0 32 * *"),
        (FieldKind::DayOfMonth, "32".into(), out("32", 1, 31))
    );
    assert_eq!(
        field_error("0 0 * 13 *"),
        (FieldKind::Month, "13".into(), out("13", 1, 12))
    );
    assert_eq!(
        field_error("0 0 * 0 *"),
        (FieldKind::Month, "0".into(), out("0", 1, 12))
    );
    assert_eq!(
        field_error("0 0 * * 8"),
        (FieldKind::DayOfWeek, "8".into(), out("8", 0, 7))
    );
    // The bad end of a range, and a number too long for any integer.
    assert_eq!(
        field_error("0 20-25 * * *"),
        (FieldKind::Hour, "20-25".into(), out("25", 0, 23))
    );
    assert_eq!(
        field_error("99999999999999999999 * * * *").2,
        out("99999999999999999999", 0, 59)
    );
}

#[test]
fn an_empty_value_is_refused() {
    for (expr, field, text) in [
        ("1,,2 * * * *", FieldKind::Minute, "1,,2"),
        ("1- * * * *", FieldKind::Minute, "1-"),
        ("0 ,1 * * *", FieldKind::Hour, ",1"),
        ("0 1, * * *", FieldKind::Hour, "1,"),
        ("0 0 */ * *", FieldKind::DayOfMonth, "*/"),
        ("0 0 * -3 *", FieldKind::Month, "-3"),
    ] {
        assert_eq!(
            field_error(expr),
            (field, text.into(), Problem::EmptyValue),
            "{expr}"
        );
    }
}

#[test]
fn a_zero_step_is_refused() {
    assert_eq!(
        field_error("*/0 * * * *"),
        (FieldKind::Minute, "*/0".into(), Problem::ZeroStep)
    );
    assert_eq!(
        field_error("0 0 1-10/0 * *"),
        (FieldKind::DayOfMonth, "1-10/0".into(), Problem::ZeroStep)
    );
}

#[test]
fn a_wrong_field_count_is_refused() {
    assert_eq!(error("* * * *"), ParseError::FieldCount(4));
    assert_eq!(error("* * * * * * *"), ParseError::FieldCount(7));
    assert_eq!(error("*"), ParseError::FieldCount(1));
    assert_eq!(error(""), ParseError::Empty);
    assert_eq!(error(" \t "), ParseError::Empty);
    let message = error("* * * *").to_string();
    assert!(
        message.contains("5 fields") && message.contains("found 4"),
        "{message}"
    );
    assert!(error("").to_string().contains("empty"));
}

#[test]
fn a_date_that_never_occurs_is_refused() {
    for (expr, days, months) in [
        ("0 0 30 2 *", "30", "2"),
        ("0 0 31 4,6 *", "31", "4,6"),
        ("0 0 31 apr,jun,sep,nov *", "31", "apr,jun,sep,nov"),
        ("0 0 30-31 feb *", "30-31", "feb"),
        // AND-ed through a day-of-week that starts with `*`.
        ("0 0 30 2 */2", "30", "2"),
        ("0 0 0 30 2 *", "30", "2"),
    ] {
        let e = error(expr);
        assert_eq!(
            e,
            ParseError::NeverFires {
                days: days.into(),
                months: months.into()
            },
            "{expr}"
        );
        let message = e.to_string();
        assert!(
            message.contains("day-of-month") && message.contains("never"),
            "{message}"
        );
    }
    // 29 Feb exists in leap years; 31 exists in one of the months; OR-ed with a weekday
    // the day-of-week can always fire.
    parse("0 0 29 2 *");
    parse("0 0 31 4,5 *");
    parse("0 0 30 2 1");
}

#[test]
fn and_ed_day_fields_that_never_meet_are_refused() {
    // A day-of-month starting with `*` ANDs the two fields; these never agree:
    // days 1 and 21 are never a fifth or a last weekday; the last working day is never
    // on a weekend.
    for (expr, days, weekdays, months) in [
        ("0 0 */20 * 1#5", "*/20", "1#5", "*"),
        ("0 0 */20 * 5L", "*/20", "5L", "*"),
        ("0 0 LW * */6", "LW", "*/6", "*"),
        ("0 0 */30 2 MON#5", "*/30", "MON#5", "2"),
    ] {
        let e = error(expr);
        assert_eq!(
            e,
            ParseError::DaysNeverMeet {
                days: days.into(),
                weekdays: weekdays.into(),
                months: months.into()
            },
            "{expr}"
        );
        let message = e.to_string();
        assert!(
            message.contains("day-of-month") && message.contains("day-of-week"),
            "{message}"
        );
    }
    // Rare but possible: 29 Feb on a Monday (2044); the last day on a Sunday; the 31st
    // as a fifth Friday.
    parse("0 0 * 2 1#5");
    parse("0 0 L * */7");
    parse("0 0 */30 * 5#5");
    parse("0 0 LW * 1-5");
}

#[test]
fn an_unknown_name_is_refused() {
    assert_eq!(
        field_error("0 0 * foo *"),
        (
            FieldKind::Month,
            "foo".into(),
            Problem::UnknownName {
                name: "foo".into(),
                expected: "jan-dec or 1-12"
            }
        )
    );
    assert_eq!(
        field_error("0 0 * * mon-funday"),
        (
            FieldKind::DayOfWeek,
            "mon-funday".into(),
            Problem::UnknownName {
                name: "funday".into(),
                expected: "sun-sat or 0-7"
            }
        )
    );
    // A weekday is no month, and full names are not abbreviations.
    assert!(matches!(
        field_error("0 0 * mon *").2,
        Problem::UnknownName { .. }
    ));
    assert!(matches!(
        field_error("0 0 * january *").2,
        Problem::UnknownName { .. }
    ));
    // Names only belong to month and day-of-week.
    assert_eq!(
        field_error("0 jan * * *"),
        (
            FieldKind::Hour,
            "jan".into(),
            Problem::NotANumber("jan".into())
        )
    );
}

#[test]
fn an_extra_outside_its_field_is_refused() {
    for (expr, field, text, item) in [
        ("L * * * *", FieldKind::Minute, "L", "L"),
        ("0 LW * * *", FieldKind::Hour, "LW", "LW"),
        ("0 0 * L *", FieldKind::Month, "L", "L"),
        ("0 0 * * L", FieldKind::DayOfWeek, "L", "L"),
        ("0 0 * * LW", FieldKind::DayOfWeek, "LW", "LW"),
        ("0 0 5L * *", FieldKind::DayOfMonth, "5L", "5L"),
        ("0 0 1#2 * *", FieldKind::DayOfMonth, "1#2", "1#2"),
        ("5#3 * * * *", FieldKind::Minute, "5#3", "5#3"),
        ("0 0 * 1,5L *", FieldKind::Month, "1,5L", "5L"),
        ("L 0 0 * * *", FieldKind::Second, "L", "L"),
    ] {
        assert_eq!(
            field_error(expr),
            (field, text.into(), Problem::MisplacedExtra(item.into())),
            "{expr}"
        );
    }
    // A month name that ends in L is a month, not an extra.
    parse("0 0 1 jul,apr *");
}

#[test]
fn an_unknown_macro_is_refused() {
    for (text, name) in [
        ("@fortnightly", "@fortnightly"),
        ("@", "@"),
        ("@DAILY", "@DAILY"),
        ("@daily 5", "@daily 5"),
        ("@every90s", "@every90s"),
    ] {
        let e = error(text);
        assert_eq!(e, ParseError::UnknownMacro(name.into()), "{text}");
        let message = e.to_string();
        assert!(
            message.contains(name) && message.contains("@daily"),
            "{message}"
        );
    }
}

#[test]
fn a_bad_interval_is_refused() {
    for (text, interval) in [
        ("@every", ""),
        ("@every 0s", "0s"),
        ("@every soon", "soon"),
        ("@every 90", "90"),
    ] {
        let e = error(text);
        let ParseError::Every { text: got, reason } = &e else {
            panic!("`{text}`: expected an @every error, got {e:?}");
        };
        assert_eq!(got, interval, "{text}");
        assert!(!reason.is_empty());
        assert!(e.to_string().starts_with("`@every"), "{e}");
    }
}

#[test]
fn every_message_names_its_field() {
    for (expr, field) in [
        ("61 * * * * *", "second"),
        ("61 * * * *", "minute"),
        ("0 24 * * *", "hour"),
        ("0 0 32 * *", "day-of-month"),
        ("0 0 * 13 *", "month"),
        ("0 0 * * 8", "day-of-week"),
    ] {
        let message = error(expr).to_string();
        assert!(
            message.starts_with(&format!("{field} field")),
            "`{expr}`: {message}"
        );
    }
    assert_eq!(
        error("5-1 * * * *").to_string(),
        "minute field `5-1`: the range 5-1 runs backwards; write the smaller value first"
    );
}
