//! Tests of the cron engine: syntax, errors, DST, and properties.

mod dst;
mod errors;
mod properties;
mod syntax;

use chrono::{DateTime, SecondsFormat, Utc};
use chrono_tz::Tz;

use super::Timing;

/// The first `count` fires of `expr` in `zone` after the RFC 3339 instant `after`,
/// formatted as `cronq next` prints them.
pub(super) fn fires(expr: &str, zone: &str, after: &str, count: usize) -> Vec<String> {
    let timing: Timing = expr.parse().unwrap_or_else(|e| panic!("`{expr}`: {e}"));
    let zone: Tz = zone.parse().expect("a test zone is valid");
    let after: DateTime<Utc> = DateTime::parse_from_rfc3339(after)
        .expect("a test instant is valid")
        .with_timezone(&Utc);
    timing
        .fires(after, zone)
        .take(count)
        .map(|t| t.to_rfc3339_opts(SecondsFormat::Secs, false))
        .collect()
}
