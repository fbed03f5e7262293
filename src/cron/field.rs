//! The six fields of a cron expression: their ranges, their names, and bitset
//! arithmetic over the values they allow. No parsing and no time logic here.

use std::fmt;

/// Which field of an expression a value or an error belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FieldKind {
    Second,
    Minute,
    Hour,
    DayOfMonth,
    Month,
    DayOfWeek,
}

const MONTH_NAMES: [&str; 12] = [
    "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
];
const WEEKDAY_NAMES: [&str; 7] = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"];

impl FieldKind {
    /// The smallest and largest value the field accepts (day-of-week takes 7 for Sunday).
    pub fn bounds(self) -> (u32, u32) {
        match self {
            FieldKind::Second | FieldKind::Minute => (0, 59),
            FieldKind::Hour => (0, 23),
            FieldKind::DayOfMonth => (1, 31),
            FieldKind::Month => (1, 12),
            FieldKind::DayOfWeek => (0, 7),
        }
    }

    /// The range `*` stands for. Day-of-week stops at 6: 7 is only another name for Sunday.
    pub fn star_bounds(self) -> (u32, u32) {
        match self {
            FieldKind::DayOfWeek => (0, 6),
            other => other.bounds(),
        }
    }

    /// The value of a three-letter name (`jan`, `mon`), case-insensitive.
    pub fn value_of_name(self, name: &str) -> Option<u32> {
        let (names, first): (&[&str], u32) = match self {
            FieldKind::Month => (&MONTH_NAMES, 1),
            FieldKind::DayOfWeek => (&WEEKDAY_NAMES, 0),
            _ => return None,
        };
        let index = names.iter().position(|n| n.eq_ignore_ascii_case(name))?;
        Some(index as u32 + first)
    }
}

impl fmt::Display for FieldKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            FieldKind::Second => "second",
            FieldKind::Minute => "minute",
            FieldKind::Hour => "hour",
            FieldKind::DayOfMonth => "day-of-month",
            FieldKind::Month => "month",
            FieldKind::DayOfWeek => "day-of-week",
        })
    }
}

/// The lowest set bit at or above `from`, if any.
pub(crate) fn next_bit(set: u64, from: u32) -> Option<u32> {
    if from >= 64 {
        return None;
    }
    let rest = set >> from;
    (rest != 0).then(|| from + rest.trailing_zeros())
}

/// The bits `lo..=hi` taken every `step`.
pub(crate) fn bits(lo: u32, hi: u32, step: u32) -> u64 {
    (lo..=hi)
        .step_by(step as usize)
        .fold(0, |set, v| set | 1 << v)
}

/// Whether `value` is in `set`.
pub(crate) fn has(set: u64, value: u32) -> bool {
    value < 64 && set & (1 << value) != 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_bit_finds_the_first_set_bit_at_or_above() {
        let set = bits(5, 20, 5); // 5 10 15 20
        assert_eq!(next_bit(set, 0), Some(5));
        assert_eq!(next_bit(set, 5), Some(5));
        assert_eq!(next_bit(set, 6), Some(10));
        assert_eq!(next_bit(set, 21), None);
        assert_eq!(next_bit(set, 64), None);
        assert_eq!(next_bit(u64::MAX, 63), Some(63));
    }

    #[test]
    fn names_are_case_insensitive() {
        assert_eq!(FieldKind::Month.value_of_name("JAN"), Some(1));
        assert_eq!(FieldKind::Month.value_of_name("Dec"), Some(12));
        assert_eq!(FieldKind::DayOfWeek.value_of_name("sun"), Some(0));
        assert_eq!(FieldKind::DayOfWeek.value_of_name("SAT"), Some(6));
        assert_eq!(FieldKind::DayOfWeek.value_of_name("jan"), None);
        assert_eq!(FieldKind::Hour.value_of_name("mon"), None);
    }
}
