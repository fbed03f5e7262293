//! Fire instants of a [`Timing`] in a time zone, by Debian cron's rules.
//!
//! The search walks civil dates with the bitsets (month, then day, hour, minute,
//! second), so it never steps minute by minute, then resolves the local time in the
//! zone: a fixed-time job fires once per nominal time (after a gap, on a fold's first
//! pass), a wildcard job at every real instant whose local time matches.

use chrono::offset::LocalResult;
use chrono::{
    DateTime, Datelike, NaiveDate, NaiveDateTime, Offset, TimeDelta, TimeZone, Timelike, Utc,
};
use chrono_tz::{GapInfo, Tz};

use super::field::{bits, has, next_bit};
use super::{CronExpr, Timing};

/// The Gregorian calendar repeats every 400 years: a day that matches nowhere in that
/// span matches never.
const SEARCH_YEARS: i32 = 400;

impl Timing {
    /// The first fire strictly after `after`, or `None` if there is none (`@reboot`).
    /// `@every` counts from `after`: anchoring it to the last fire is the caller's job.
    pub fn next_after(&self, after: DateTime<Utc>, zone: Tz) -> Option<DateTime<Tz>> {
        match self {
            Timing::Cron(expr) => expr.next_after(after, zone),
            Timing::Every(interval) => {
                let interval = TimeDelta::from_std(*interval).ok()?;
                Some(after.checked_add_signed(interval)?.with_timezone(&zone))
            }
            Timing::Reboot => None,
        }
    }

    /// The fires strictly after `after`, strictly increasing.
    pub fn fires(&self, after: DateTime<Utc>, zone: Tz) -> Fires<'_> {
        Fires {
            timing: self,
            zone,
            after,
        }
    }
}

/// Iterator over fire instants; see [`Timing::fires`].
pub struct Fires<'a> {
    timing: &'a Timing,
    zone: Tz,
    after: DateTime<Utc>,
}

impl Iterator for Fires<'_> {
    type Item = DateTime<Tz>;

    fn next(&mut self) -> Option<Self::Item> {
        let at = self.timing.next_after(self.after, self.zone)?;
        self.after = at.with_timezone(&Utc);
        Some(at)
    }
}

impl CronExpr {
    /// The first fire strictly after `after` in `zone`.
    pub fn next_after(&self, after: DateTime<Utc>, zone: Tz) -> Option<DateTime<Tz>> {
        if self.is_wildcard() {
            self.next_wildcard(after, zone)
        } else {
            self.next_fixed(after, zone)
        }
    }

    /// Whether a local wall-clock time matches every field.
    pub fn matches(&self, local: NaiveDateTime) -> bool {
        has(self.seconds, local.second())
            && has(self.minutes, local.minute())
            && has(self.hours, local.hour())
            && has(self.months, local.month())
            && has(self.day_mask(local.year(), local.month()), local.day())
    }

    /// Fixed-time: each nominal local time fires once, at its instant, on the first pass
    /// of a fold, or at the first instant after a gap. Nominal times that land on the
    /// same instant (`15,45 2 * * *` in a gap) fire once.
    fn next_fixed(&self, after: DateTime<Utc>, zone: Tz) -> Option<DateTime<Tz>> {
        let mut local = after.with_timezone(&zone).naive_local();
        loop {
            local = self.next_local(local)?;
            let at = match zone.from_local_datetime(&local) {
                LocalResult::Single(at) => at,
                LocalResult::Ambiguous(first_pass, _) => first_pass,
                LocalResult::None => GapInfo::new(&local, &zone)?.end?,
            };
            // In a fold's second pass, the first-pass instants of later local times
            // are already behind us.
            if at > after {
                return Some(at);
            }
        }
    }

    /// Wildcard: every real instant whose local time matches, in real-time order:
    /// both passes of a fold, nothing in a gap.
    fn next_wildcard(&self, after: DateTime<Utc>, zone: Tz) -> Option<DateTime<Tz>> {
        let local = after.with_timezone(&zone).naive_local();
        let mut candidate = local;
        let (at, on_first_pass) = loop {
            candidate = self.next_local(candidate)?;
            match zone.from_local_datetime(&candidate) {
                LocalResult::Single(at) => break (at, false),
                LocalResult::Ambiguous(first, _) if first > after => break (first, true),
                LocalResult::Ambiguous(_, second) => break (second, false),
                LocalResult::None => continue,
            }
        };
        // A first-pass instant comes before every second-pass one; otherwise the second
        // pass may replay a local time at or before ours, which the walk above skipped.
        if on_first_pass {
            return Some(at);
        }
        Some(self.replayed_in_fold(after, local, zone).unwrap_or(at))
    }

    /// When `after` (local time `local`) is on a fold's first pass: the earliest
    /// second-pass instant, among local times up to `local`, that matches.
    fn replayed_in_fold(
        &self,
        after: DateTime<Utc>,
        local: NaiveDateTime,
        zone: Tz,
    ) -> Option<DateTime<Tz>> {
        let LocalResult::Ambiguous(first, second) = zone.from_local_datetime(&local) else {
            return None;
        };
        if first != after {
            return None;
        }
        let fold_s =
            first.offset().fix().local_minus_utc() - second.offset().fix().local_minus_utc();
        // Second-pass instants after `after` have local times after `local - fold`.
        let mut candidate = local - TimeDelta::seconds(fold_s.into());
        loop {
            candidate = self.next_local(candidate)?;
            if candidate > local {
                return None;
            }
            if let LocalResult::Ambiguous(_, second_pass) = zone.from_local_datetime(&candidate) {
                return Some(second_pass);
            }
        }
    }

    /// The first local time strictly after `after` (whole seconds) that matches.
    pub(crate) fn next_local(&self, after: NaiveDateTime) -> Option<NaiveDateTime> {
        let start = after.with_nanosecond(0)? + TimeDelta::seconds(1);
        let (mut year, mut month, mut day) = (start.year(), start.month(), start.day());
        let (mut hour, mut minute, mut second) = (start.hour(), start.minute(), start.second());
        let last_year = year + SEARCH_YEARS;
        let mut days = DayMasks::default();
        while year <= last_year {
            // Each step either accepts the current value or moves to the next candidate
            // and resets the smaller units, as an odometer does.
            let Some(m) = next_bit(self.months, month) else {
                (year, month, day, hour, minute, second) = (year + 1, 1, 1, 0, 0, 0);
                continue;
            };
            if m != month {
                (month, day, hour, minute, second) = (m, 1, 0, 0, 0);
            }
            let Some(d) = next_bit(days.get(self, year, month), day) else {
                (month, day, hour, minute, second) = (month + 1, 1, 0, 0, 0);
                continue;
            };
            if d != day {
                (day, hour, minute, second) = (d, 0, 0, 0);
            }
            let Some(h) = next_bit(self.hours, hour) else {
                (day, hour, minute, second) = (day + 1, 0, 0, 0);
                continue;
            };
            if h != hour {
                (hour, minute, second) = (h, 0, 0);
            }
            let Some(mi) = next_bit(self.minutes, minute) else {
                (hour, minute, second) = (hour + 1, 0, 0);
                continue;
            };
            if mi != minute {
                (minute, second) = (mi, 0);
            }
            let Some(s) = next_bit(self.seconds, second) else {
                (minute, second) = (minute + 1, 0);
                continue;
            };
            return NaiveDate::from_ymd_opt(year, month, day)?.and_hms_opt(hour, minute, s);
        }
        None
    }

    /// The days of one month that match, as bits 1..=31.
    pub(super) fn day_mask(&self, year: i32, month: u32) -> u64 {
        let len = days_in_month(year, month);
        let Some(first) = NaiveDate::from_ymd_opt(year, month, 1) else {
            return 0;
        };
        let weekday_of = |day: u32| (first.weekday().num_days_from_sunday() + day - 1) % 7;

        let mut by_month_day = self.days & bits(1, len, 1);
        if self.last_day {
            by_month_day |= 1 << len;
        }
        if self.last_workday {
            let last_workday = match weekday_of(len) {
                0 => len - 2, // Sunday: back to Friday
                6 => len - 1, // Saturday: back to Friday
                _ => len,
            };
            by_month_day |= 1 << last_workday;
        }

        let mut by_weekday = 0;
        for day in 1..=len {
            let weekday = weekday_of(day);
            let nth = (day - 1) / 7; // 0 for days 1-7, the first such weekday
            let plain = has(self.weekdays, weekday);
            let nth_of_month = self.nth_weekdays & (1 << (weekday * 5 + nth)) != 0;
            let last_of_month = self.last_weekdays & (1 << weekday) != 0 && day + 7 > len;
            if plain || nth_of_month || last_of_month {
                by_weekday |= 1 << day;
            }
        }

        if self.days_are_ored() {
            by_month_day | by_weekday
        } else {
            by_month_day & by_weekday
        }
    }
}

/// The day mask of the month being walked, computed once per month.
#[derive(Default)]
struct DayMasks {
    month: Option<(i32, u32)>,
    mask: u64,
}

impl DayMasks {
    fn get(&mut self, expr: &CronExpr, year: i32, month: u32) -> u64 {
        if self.month != Some((year, month)) {
            self.mask = if (1..=12).contains(&month) {
                expr.day_mask(year, month)
            } else {
                0
            };
            self.month = Some((year, month));
        }
        self.mask
    }
}

fn days_in_month(year: i32, month: u32) -> u32 {
    match month {
        2 if year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}
