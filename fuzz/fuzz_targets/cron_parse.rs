//! The cron parser on any text: it returns an expression or an error, never panics; and
//! an expression it accepts yields fire instants that are strictly increasing, in a
//! plain zone and in zones with DST (New York's one hour, Lord Howe's half hour).
#![no_main]

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use cronq::cron::Timing;
use libfuzzer_sys::fuzz_target;

/// Fires asked of each zone: enough to cross a DST change for the frequent ones.
const FIRES: usize = 4;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(timing) = text.parse::<Timing>() else {
        return;
    };
    // A day before New York springs forward (2026-03-08).
    let after = DateTime::parse_from_rfc3339("2026-03-07T06:59:30Z")
        .expect("a valid instant")
        .with_timezone(&Utc);
    for zone in [Tz::UTC, Tz::America__New_York, Tz::Australia__Lord_Howe] {
        let mut last = after;
        for at in timing.fires(after, zone).take(FIRES) {
            let utc = at.with_timezone(&Utc);
            assert!(utc > last, "`{text}` in {zone}: {utc} after {last}");
            last = utc;
            if let Timing::Cron(expr) = &timing {
                let _ = expr.explain(&at);
            }
        }
    }
});
