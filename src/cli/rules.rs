//! `cronq rules`: print Prometheus alerting rules for the schedule.

use std::io::Write;

use chrono::Utc;

use super::args::RulesArgs;
use super::{Loaded, output};
use crate::report::rules::{RuleLimits, alerting_rules};

pub fn run(args: &RulesArgs, loaded: &Loaded) -> anyhow::Result<()> {
    let limits = RuleLimits {
        grace: args.grace,
        failures: args.failures,
        queue_wait: args.queue_wait,
        manual_window: args.manual_window,
        hold: args.hold,
    };
    let rules = alerting_rules(&loaded.schedule, &loaded.file, &limits, Utc::now());
    let mut out = std::io::stdout().lock();
    out.write_all(rules.as_bytes())
        .and_then(|()| out.flush())
        .map_err(output::stdout_error)
}
