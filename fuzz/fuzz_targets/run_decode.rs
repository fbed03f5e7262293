//! The Redis run decoder on any hash: a run or a typed error, never a panic; and a run
//! it decodes has a duration whatever its times.
//!
//! The input is the hash as text, one `field<TAB>value` per line, so a seed that is a
//! real record is readable and the fuzzer mutates field names and values alike.
#![no_main]

use chrono::{DateTime, Utc};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let pairs: Vec<(&[u8], &[u8])> = data
        .split(|&b| b == b'\n')
        .map(|line| match line.iter().position(|&b| b == b'\t') {
            Some(tab) => (&line[..tab], &line[tab + 1..]),
            None => (line, &[][..]),
        })
        .collect();
    if let Ok(run) = cronq::store::redis::decode_run(&pairs) {
        let now = DateTime::<Utc>::from_timestamp_millis(1_780_000_000_000).expect("in range");
        let _ = run.duration_s(now);
    }
});
