//! The cron engine: parse an expression, then find its fire instants in a time zone
//! with Debian cron's rules for day matching and DST.
//!
//! Plain synchronous code without I/O or a clock: callers pass `after`. Nothing here
//! knows about jobs, queues or stores.

mod explain;
mod field;
mod next;
mod parse;

use std::time::Duration;

pub use field::FieldKind;
pub use next::Fires;
pub use parse::{ParseError, Problem};

/// When a job fires, as its `schedule:` says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Timing {
    /// A 5- or 6-field expression, or a macro such as `@daily` that expands to one.
    Cron(CronExpr),
    /// `@every 90s`: a fixed interval, anchored by the caller to the last fire.
    Every(Duration),
    /// `@reboot`: once when the daemon starts; it has no instants of its own.
    Reboot,
}

/// A parsed cron expression: one bitset per field plus the Vixie flags.
///
/// 64 bytes, so 100,000 jobs fit in a few megabytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CronExpr {
    seconds: u64,
    minutes: u64,
    hours: u64,
    /// Bits 1..=31.
    days: u64,
    /// Bits 1..=12.
    months: u64,
    /// Bits 0..=6, Sunday = 0.
    weekdays: u64,
    /// `5L`: the last Friday of the month; bit per weekday.
    last_weekdays: u8,
    /// `5#3`: the third Friday; bit `weekday * 5 + (k - 1)`.
    nth_weekdays: u64,
    /// `L` in day-of-month: the month's last day.
    last_day: bool,
    /// `LW` in day-of-month: the month's last Monday-to-Friday day.
    last_workday: bool,
    /// Vixie: a day field that *starts with* `*` turns the OR of the two day fields into AND.
    dom_star: bool,
    dow_star: bool,
    /// Vixie: a minute or hour field that starts with `*` makes the job "wildcard" for DST.
    minute_star: bool,
    hour_star: bool,
}

impl CronExpr {
    /// Debian's DST class: wildcard jobs fire at every real matching instant; fixed-time
    /// jobs fire once per nominal local time, after a gap or on the first pass of a fold.
    pub fn is_wildcard(&self) -> bool {
        self.minute_star || self.hour_star
    }

    /// Whether both day fields are restricted, so a day matching either one fires.
    pub fn days_are_ored(&self) -> bool {
        !self.dom_star && !self.dow_star
    }
}

/// A 5-field expression as Vixie cron holds it once parsed: one bitset per field and
/// which fields started with `*`. The crontab import builds one from Debian's reading
/// of a line, to check that the `schedule:` it writes fires at the same instants.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct VixieFields {
    pub minutes: u64,
    pub hours: u64,
    /// Bits 1..=31.
    pub days: u64,
    /// Bits 1..=12.
    pub months: u64,
    /// Bits 0..=6, Sunday = 0 (7 already folded onto 0).
    pub weekdays: u64,
    pub minute_star: bool,
    pub hour_star: bool,
    pub dom_star: bool,
    pub dow_star: bool,
}

impl From<VixieFields> for CronExpr {
    fn from(f: VixieFields) -> CronExpr {
        CronExpr {
            seconds: 1,
            minutes: f.minutes,
            hours: f.hours,
            days: f.days,
            months: f.months,
            weekdays: f.weekdays,
            last_weekdays: 0,
            nth_weekdays: 0,
            last_day: false,
            last_workday: false,
            dom_star: f.dom_star,
            dow_star: f.dow_star,
            minute_star: f.minute_star,
            hour_star: f.hour_star,
        }
    }
}

/// The stepped items of `text` whose step is longer than their range, so that they
/// only ever match their first value (`*/60` in the minute field: minute 0), each
/// as a sentence for a warning. Debian accepts them, and so does cronq.
pub fn lone_steps(text: &str) -> Vec<String> {
    parse::lone_steps(text)
}

impl std::str::FromStr for Timing {
    type Err = ParseError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        parse::parse(text)
    }
}

#[cfg(test)]
mod tests;
