//! The schedule loader on any text: a schedule or diagnostics, never a panic; every
//! diagnostic points inside the file (line and column from 1).
#![no_main]

use chrono_tz::Tz;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Err(diagnostics) = cronq::schedule::load(text, "fuzz.yaml", Tz::UTC) {
        assert!(!diagnostics.is_empty(), "a refused file says why");
        for d in &diagnostics {
            let shown = d.to_string();
            assert!(shown.starts_with("fuzz.yaml:"), "{shown}");
        }
    }
});
