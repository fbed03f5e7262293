//! The crontab importer on any text, in both formats: never a panic, and the YAML it
//! writes loads as a schedule with one job per converted line.
#![no_main]

use chrono_tz::Tz;
use cronq::schedule::import::{CrontabFormat, import_crontab};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    for format in [CrontabFormat::User, CrontabFormat::System] {
        let imported = import_crontab(text, format);
        match cronq::schedule::load(&imported.yaml, "imported.yaml", Tz::UTC) {
            Ok(schedule) => assert_eq!(
                schedule.jobs.len(),
                imported.schedules.len(),
                "{format:?} import of {text:?} wrote:\n{}",
                imported.yaml
            ),
            Err(diagnostics) => panic!(
                "{format:?} import of {text:?} wrote YAML that does not load:\n{}\n{diagnostics:?}",
                imported.yaml
            ),
        }
    }
});
