//! Text to [`Timing`]: Vixie syntax, the macros, and the Quartz-style extras, with
//! an error that names the field and the reason wherever Debian would be sloppy.

use std::time::Duration;

use super::field::{FieldKind, bits, has};
use super::{CronExpr, Timing};

/// Why an expression was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    #[error(
        "the expression is empty; expected 5 fields (minute hour day-of-month month day-of-week), 6 with seconds first, or a macro such as @daily"
    )]
    Empty,
    #[error(
        "expected 5 fields (minute hour day-of-month month day-of-week) or 6 with seconds first, found {0}"
    )]
    FieldCount(usize),
    #[error("{field} field `{text}`: {problem}")]
    Field {
        field: FieldKind,
        text: String,
        problem: Problem,
    },
    #[error(
        "unknown macro `{0}`; expected @yearly, @annually, @monthly, @weekly, @daily, @midnight, @hourly, @every <duration> or @reboot"
    )]
    UnknownMacro(String),
    #[error("`@every {text}`: {reason}")]
    Every { text: String, reason: String },
    #[error("day-of-month `{days}` never occurs in month `{months}`, so the job would never fire")]
    NeverFires { days: String, months: String },
    #[error(
        "day-of-month `{days}` and day-of-week `{weekdays}` never fall on the same day in month `{months}` (a day field that starts with `*` makes them AND-ed), so the job would never fire"
    )]
    DaysNeverMeet {
        days: String,
        weekdays: String,
        months: String,
    },
}

/// What is wrong inside one field.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Problem {
    #[error("a value is empty (check for a stray `,`, `-` or `/`)")]
    EmptyValue,
    #[error("`{0}` is not a whole number")]
    NotANumber(String),
    #[error("`{name}` is not a name this field knows; expected {expected}")]
    UnknownName {
        name: String,
        expected: &'static str,
    },
    #[error("{value} is out of range {lo}-{hi}")]
    OutOfRange { value: String, lo: u32, hi: u32 },
    #[error("the range {lo}-{hi} runs backwards; write the smaller value first")]
    Reversed { lo: u32, hi: u32 },
    #[error("a step must be at least 1")]
    ZeroStep,
    #[error("only one `/` step is allowed")]
    DoubleStep,
    #[error("#{0} is out of range: a weekday occurs 1 to 5 times in a month")]
    NthOutOfRange(u32),
    #[error("`{0}` is only allowed in the day-of-month (L, LW) and day-of-week (5L, 5#3) fields")]
    MisplacedExtra(String),
}

/// Parses a `schedule:` value.
pub(super) fn parse(text: &str) -> Result<Timing, ParseError> {
    let text = text.trim();
    if let Some(name) = text.strip_prefix('@') {
        return parse_macro(name);
    }
    let fields: Vec<&str> = text.split_ascii_whitespace().collect();
    match fields.as_slice() {
        [] => Err(ParseError::Empty),
        [m, h, dom, mon, dow] => cron(["0", m, h, dom, mon, dow]).map(Timing::Cron),
        [s, m, h, dom, mon, dow] => cron([s, m, h, dom, mon, dow]).map(Timing::Cron),
        other => Err(ParseError::FieldCount(other.len())),
    }
}

fn parse_macro(name: &str) -> Result<Timing, ParseError> {
    let five = match name {
        "yearly" | "annually" => "0 0 1 1 *",
        "monthly" => "0 0 1 * *",
        "weekly" => "0 0 * * 0",
        "daily" | "midnight" => "0 0 * * *",
        "hourly" => "0 * * * *",
        "reboot" => return Ok(Timing::Reboot),
        _ => match name.strip_prefix("every") {
            Some(rest) if rest.starts_with(char::is_whitespace) || rest.is_empty() => {
                return parse_every(rest.trim()).map(Timing::Every);
            }
            _ => return Err(ParseError::UnknownMacro(format!("@{name}"))),
        },
    };
    parse(five)
}

fn parse_every(text: &str) -> Result<Duration, ParseError> {
    let error = |reason: String| ParseError::Every {
        text: text.to_string(),
        reason,
    };
    if text.is_empty() {
        return Err(error("expected a duration such as 90s, 5m or 1h30m".into()));
    }
    let interval = humantime::parse_duration(text)
        .map_err(|e| error(format!("{e}; expected a duration such as 90s, 5m or 1h30m")))?;
    if interval.is_zero() {
        return Err(error("the interval must be longer than zero".into()));
    }
    Ok(interval)
}

/// One field's allowed values, with the day extras only the day fields may carry.
#[derive(Default)]
struct FieldSet {
    values: u64,
    last_day: bool,
    last_workday: bool,
    last_weekdays: u8,
    nth_weekdays: u64,
}

fn cron([s, m, h, dom, mon, dow]: [&str; 6]) -> Result<CronExpr, ParseError> {
    let plain = |kind, text| field(kind, text).map(|set| set.values);
    let days = field(FieldKind::DayOfMonth, dom)?;
    let weekdays = field(FieldKind::DayOfWeek, dow)?;
    let expr = CronExpr {
        seconds: plain(FieldKind::Second, s)?,
        minutes: plain(FieldKind::Minute, m)?,
        hours: plain(FieldKind::Hour, h)?,
        days: days.values,
        months: plain(FieldKind::Month, mon)?,
        weekdays: weekdays.values,
        last_weekdays: weekdays.last_weekdays,
        nth_weekdays: weekdays.nth_weekdays,
        last_day: days.last_day,
        last_workday: days.last_workday,
        dom_star: dom.starts_with('*'),
        dow_star: dow.starts_with('*'),
        minute_star: m.starts_with('*'),
        hour_star: h.starts_with('*'),
    };
    if !expr.some_day_exists() {
        return Err(ParseError::NeverFires {
            days: dom.to_string(),
            months: mon.to_string(),
        });
    }
    if !expr.days_ever_meet() {
        return Err(ParseError::DaysNeverMeet {
            days: dom.to_string(),
            weekdays: dow.to_string(),
            months: mon.to_string(),
        });
    }
    Ok(expr)
}

impl CronExpr {
    /// Whether day-of-month can match in some chosen month. Only AND-ed day fields can
    /// fail this (`0 0 30 2 *`); an OR with a weekday always has a day to fire on.
    fn some_day_exists(&self) -> bool {
        if self.days_are_ored() || self.dom_star || self.last_day || self.last_workday {
            return true;
        }
        // The longest each month can be: February counts its leap day.
        const LONGEST: [u32; 13] = [0, 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
        (1..=12).any(|m| has(self.months, m) && self.days & bits(1, LONGEST[m as usize], 1) != 0)
    }

    /// Whether AND-ed day fields ever agree on a day. `LW` and the weekday extras can
    /// rule out every day the other field allows: `*/20` (1, 21) with `1#5` (29-31),
    /// `LW` with `*/6` (weekends).
    fn days_ever_meet(&self) -> bool {
        let plain = self.last_weekdays == 0 && self.nth_weekdays == 0 && !self.last_workday;
        // A date that exists falls on every weekday in some year.
        if self.days_are_ored() || plain {
            return true;
        }
        // 2001-2028 holds every pair (leap year or not, weekday of 1 January), so every
        // way a month can fall.
        (2001..=2028).any(|year| {
            (1..=12).any(|month| has(self.months, month) && self.day_mask(year, month) != 0)
        })
    }
}

fn field(kind: FieldKind, text: &str) -> Result<FieldSet, ParseError> {
    let mut set = FieldSet::default();
    for item in text.split(',') {
        item_into(kind, item, &mut set).map_err(|problem| ParseError::Field {
            field: kind,
            text: text.to_string(),
            problem,
        })?;
    }
    if kind == FieldKind::DayOfWeek && has(set.values, 7) {
        // 7 is Sunday too.
        set.values = (set.values & !(1 << 7)) | 1;
    }
    Ok(set)
}

fn item_into(kind: FieldKind, item: &str, set: &mut FieldSet) -> Result<(), Problem> {
    if item.is_empty() {
        return Err(Problem::EmptyValue);
    }
    if day_extra(kind, item, set)? {
        return Ok(());
    }
    let (_, hi_bound) = kind.bounds();
    let (base, step) = match item.split_once('/') {
        None => (item, None),
        Some((_, step)) if step.contains('/') => return Err(Problem::DoubleStep),
        Some((base, step)) => (base, Some((step, number(step)?))),
    };
    let (lo, hi) = if base == "*" {
        kind.star_bounds()
    } else if let Some((lo, hi)) = base.split_once('-') {
        let (lo, hi) = (value(kind, lo)?, value(kind, hi)?);
        if lo > hi {
            return Err(Problem::Reversed { lo, hi });
        }
        (lo, hi)
    } else {
        let start = value(kind, base)?;
        // `5/15` means `5-59/15`, as in Quartz; a lone value without a step is itself.
        (start, if step.is_some() { hi_bound } else { start })
    };
    let step = match step {
        None => 1,
        Some((_, 0)) => return Err(Problem::ZeroStep),
        // As in Debian, a step longer than the range takes its first value alone
        // (`*/60` is minute 0); `check` says so, see [`lone_steps`].
        Some((_, step)) => step,
    };
    set.values |= bits(lo, hi, step);
    Ok(())
}

/// The stepped items of an expression whose step is longer than their range, so that
/// they only ever match their first value, each as a sentence: "`*/60` in the minute
/// field only ever matches minute 0". Empty for a macro or an expression that does
/// not parse.
pub(super) fn lone_steps(text: &str) -> Vec<String> {
    let fields: Vec<&str> = text.split_ascii_whitespace().collect();
    let kinds: &[FieldKind] = match fields.len() {
        5 => &FIELD_KINDS[1..],
        6 => &FIELD_KINDS,
        _ => return Vec::new(),
    };
    let mut found = Vec::new();
    for (&kind, field) in kinds.iter().zip(&fields) {
        for item in field.split(',') {
            let Some((base, step)) = item.split_once('/') else {
                continue;
            };
            let Ok(step) = number(step) else { continue };
            let (lo, hi) = if base == "*" {
                kind.star_bounds()
            } else if let Some((lo, hi)) = base.split_once('-') {
                match (value(kind, lo), value(kind, hi)) {
                    (Ok(lo), Ok(hi)) => (lo, hi),
                    _ => continue,
                }
            } else {
                match value(kind, base) {
                    Ok(lo) => (lo, kind.bounds().1),
                    Err(_) => continue,
                }
            };
            if step > 0 && lo <= hi && step > hi - lo {
                let unit = match kind {
                    FieldKind::DayOfMonth => "day".to_string(),
                    FieldKind::DayOfWeek => "weekday".to_string(),
                    other => other.to_string(),
                };
                found.push(format!(
                    "`{item}` in the {kind} field only ever matches {unit} {lo}: its step {step} is longer than the range"
                ));
            }
        }
    }
    found
}

const FIELD_KINDS: [FieldKind; 6] = [
    FieldKind::Second,
    FieldKind::Minute,
    FieldKind::Hour,
    FieldKind::DayOfMonth,
    FieldKind::Month,
    FieldKind::DayOfWeek,
];

/// `L` and `LW` in day-of-month, `nL` and `n#k` in day-of-week. False for a plain item.
fn day_extra(kind: FieldKind, item: &str, set: &mut FieldSet) -> Result<bool, Problem> {
    let upper = item.to_ascii_uppercase();
    // `5L` or `friL`; a month name such as `jul` also ends in L but is no weekday.
    let last_of = upper.strip_suffix('L').filter(|day| {
        !day.is_empty()
            && (day.bytes().all(|b| b.is_ascii_digit())
                || FieldKind::DayOfWeek.value_of_name(day).is_some())
    });
    match (kind, upper.as_str()) {
        (FieldKind::DayOfMonth, "L") => set.last_day = true,
        (FieldKind::DayOfMonth, "LW") => set.last_workday = true,
        (FieldKind::DayOfWeek, _) if upper.contains('#') => {
            let (day, nth) = item.split_once('#').expect("checked for `#` above");
            let day = value(kind, day)? % 7;
            let nth = number(nth)?;
            if !(1..=5).contains(&nth) {
                return Err(Problem::NthOutOfRange(nth));
            }
            set.nth_weekdays |= 1 << (day * 5 + nth - 1);
        }
        (FieldKind::DayOfWeek, _) if last_of.is_some() => {
            let day = value(kind, &item[..item.len() - 1])? % 7;
            set.last_weekdays |= 1 << day;
        }
        (_, "L" | "LW") => return Err(Problem::MisplacedExtra(item.to_string())),
        _ if upper.contains('#') || last_of.is_some() => {
            return Err(Problem::MisplacedExtra(item.to_string()));
        }
        _ => return Ok(false),
    }
    Ok(true)
}

fn value(kind: FieldKind, text: &str) -> Result<u32, Problem> {
    if text.is_empty() {
        return Err(Problem::EmptyValue);
    }
    let expected = match kind {
        FieldKind::Month => Some("jan-dec or 1-12"),
        FieldKind::DayOfWeek => Some("sun-sat or 0-7"),
        _ => None,
    };
    if let Some(expected) = expected.filter(|_| text.bytes().all(|b| b.is_ascii_alphabetic())) {
        return kind
            .value_of_name(text)
            .ok_or_else(|| Problem::UnknownName {
                name: text.to_string(),
                expected,
            });
    }
    let value = number(text)?;
    let (lo, hi) = kind.bounds();
    if !(lo..=hi).contains(&value) {
        return Err(Problem::OutOfRange {
            value: text.to_string(),
            lo,
            hi,
        });
    }
    Ok(value)
}

fn number(text: &str) -> Result<u32, Problem> {
    if text.is_empty() {
        return Err(Problem::EmptyValue);
    }
    if !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(Problem::NotANumber(text.to_string()));
    }
    // Longer than any field allows: report it as out of range rather than overflow.
    Ok(text.parse().unwrap_or(u32::MAX))
}
