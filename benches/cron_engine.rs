//! The cron engine's cost, with `croner` 4 measured in the same run as a baseline:
//! parsing 100,000 distinct expressions (time and resident memory), next-fire
//! throughput in UTC and America/New_York, and searches that walk years ahead.
//!
//! Run with `cargo bench --bench cron_engine`. A plain program, not a harness: each
//! figure is measured once, on expressions built up front, and printed as a table.

use std::collections::HashSet;
use std::hint::black_box;
use std::str::FromStr;
use std::time::{Duration, Instant};

use chrono::{DateTime, TimeDelta, Utc};
use chrono_tz::Tz;
use cronq::cron::Timing;

const JOBS: usize = 100_000;

/// Expression `i`: minute and hour from `i`, day, month and weekday fields from a small
/// menu, and the minute written as a value, a range or a step. Every one is distinct and
/// in the syntax both engines read (no `5/15`).
fn expression(i: usize) -> String {
    const DAYS: [&str; 7] = ["*", "1-15", "1,15", "L", "10-20/2", "*/3", "28"];
    const WEEKDAYS: [&str; 10] = [
        "*", "1-5", "0,6", "mon-fri", "5#3", "1L", "2-4/2", "SUN", "*/2", "3",
    ];
    const MONTHS: [&str; 4] = ["*", "1-6", "jan,jul", "*/2"];
    let (minute, hour, menu) = (i % 60, (i / 60) % 24, i / 1440);
    let minute = match (i / 7) % 3 {
        0 => minute.to_string(),
        1 => format!("{minute}-59/15"),
        _ => format!("{minute},{}", (minute + 30) % 60),
    };
    format!(
        "{minute} {hour} {} {} {}",
        DAYS[menu % 7],
        MONTHS[(i / 3) % 4],
        WEEKDAYS[(menu / 7) % 10]
    )
}

/// Resident memory in kB, from /proc/self/status.
fn rss_kb() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// The instant job `i` asks from: spread over 2026, the same for both engines.
fn after(i: usize) -> DateTime<Utc> {
    let start = DateTime::parse_from_rfc3339("2026-01-01T00:00:00Z")
        .expect("a valid instant")
        .with_timezone(&Utc);
    start + TimeDelta::seconds((i as i64 * 7919) % 31_536_000)
}

struct Row {
    what: String,
    cronq: String,
    croner: String,
}

fn per_s(count: usize, elapsed: Duration) -> String {
    format!("{:.0}/s", count as f64 / elapsed.as_secs_f64())
}

fn per_call(elapsed: Duration, calls: usize) -> String {
    let ns = elapsed.as_nanos() as f64 / calls as f64;
    if ns >= 1_000_000.0 {
        format!("{:.2} ms", ns / 1e6)
    } else if ns >= 1_000.0 {
        format!("{:.2} µs", ns / 1e3)
    } else {
        format!("{ns:.0} ns")
    }
}

/// Calls `f` until about `budget` has passed (at least once); the time per call.
fn time_per_call(budget: Duration, mut f: impl FnMut()) -> (Duration, usize) {
    let start = Instant::now();
    let mut calls = 0;
    while calls == 0 || start.elapsed() < budget {
        f();
        calls += 1;
    }
    (start.elapsed(), calls)
}

fn main() {
    let texts: Vec<String> = (0..JOBS).map(expression).collect();
    let distinct: HashSet<&str> = texts.iter().map(String::as_str).collect();
    assert_eq!(distinct.len(), JOBS, "the expressions are distinct");
    let new_york: Tz = "America/New_York".parse().expect("a valid zone");
    let mut rows = Vec::new();

    // (a) Parse, keeping every result, as the daemon keeps its schedule.
    let rss_before = rss_kb();
    let start = Instant::now();
    let ours: Vec<Timing> = texts
        .iter()
        .map(|t| t.parse().unwrap_or_else(|e| panic!("`{t}`: {e}")))
        .collect();
    let our_parse = start.elapsed();
    let our_rss = rss_kb().saturating_sub(rss_before);

    let rss_before = rss_kb();
    let start = Instant::now();
    let theirs: Vec<croner::Cron> = texts
        .iter()
        .map(|t| croner::Cron::from_str(t).unwrap_or_else(|e| panic!("croner `{t}`: {e}")))
        .collect();
    let their_parse = start.elapsed();
    let their_rss = rss_kb().saturating_sub(rss_before);

    rows.push(Row {
        what: format!("parse {JOBS} distinct expressions"),
        cronq: format!("{:.1} ms", our_parse.as_secs_f64() * 1e3),
        croner: format!("{:.1} ms", their_parse.as_secs_f64() * 1e3),
    });
    rows.push(Row {
        what: "  per expression".into(),
        cronq: per_call(our_parse, JOBS),
        croner: per_call(their_parse, JOBS),
    });
    rows.push(Row {
        what: format!("  resident memory (VmRSS delta), {JOBS} kept"),
        cronq: format!("{:.1} MB", our_rss as f64 / 1024.0),
        croner: format!("{:.1} MB", their_rss as f64 / 1024.0),
    });
    rows.push(Row {
        what: "  size_of the parsed value (Timing / Cron)".into(),
        cronq: format!("{} B", std::mem::size_of::<Timing>()),
        croner: format!("{} B + heap", std::mem::size_of::<croner::Cron>()),
    });
    rows.push(Row {
        what: "  size_of CronExpr".into(),
        cronq: format!("{} B", std::mem::size_of::<cronq::cron::CronExpr>()),
        croner: String::new(),
    });

    // (b) Next fire of every job, each from its own instant, over a few passes.
    const PASSES: usize = 3;
    let calls = PASSES * JOBS;
    let start = Instant::now();
    for pass in 0..PASSES {
        for (i, timing) in ours.iter().enumerate() {
            black_box(timing.next_after(after(i + pass * JOBS), chrono_tz::UTC));
        }
    }
    let our_utc = start.elapsed();
    let start = Instant::now();
    for pass in 0..PASSES {
        for (i, cron) in theirs.iter().enumerate() {
            black_box(
                cron.find_next_occurrence(&after(i + pass * JOBS), false)
                    .ok(),
            );
        }
    }
    let their_utc = start.elapsed();
    rows.push(Row {
        what: "next fire, UTC: calls per second".into(),
        cronq: per_s(calls, our_utc),
        croner: per_s(calls, their_utc),
    });
    rows.push(Row {
        what: "  per call".into(),
        cronq: per_call(our_utc, calls),
        croner: per_call(their_utc, calls),
    });

    let start = Instant::now();
    for pass in 0..PASSES {
        for (i, timing) in ours.iter().enumerate() {
            black_box(timing.next_after(after(i + pass * JOBS), new_york));
        }
    }
    let our_ny = start.elapsed();
    let start = Instant::now();
    for pass in 0..PASSES {
        for (i, cron) in theirs.iter().enumerate() {
            let at = after(i + pass * JOBS).with_timezone(&new_york);
            black_box(cron.find_next_occurrence(&at, false).ok());
        }
    }
    let their_ny = start.elapsed();
    rows.push(Row {
        what: "next fire, America/New_York: calls per second".into(),
        cronq: per_s(calls, our_ny),
        croner: per_s(calls, their_ny),
    });
    rows.push(Row {
        what: "  per call".into(),
        cronq: per_call(our_ny, calls),
        croner: per_call(their_ny, calls),
    });

    // (c) Searches that walk far ahead, from 2026-01-01.
    let from = after(0);
    for (text, note) in [
        ("0 0 29 2 1", "29 Feb or a Monday of Feb (OR)"),
        ("0 0 29 2 *", "29 Feb: 2028"),
        ("0 0 * 2 1#5", "5th Monday of Feb: 2044"),
        ("0 0 30 2 *", "30 Feb: never"),
    ] {
        let ours = Timing::from_str(text);
        let their = croner::Cron::from_str(text);
        let cronq = match &ours {
            Ok(timing) => {
                let (elapsed, calls) = time_per_call(Duration::from_millis(300), || {
                    black_box(timing.next_after(black_box(from), chrono_tz::UTC));
                });
                per_call(elapsed, calls)
            }
            Err(_) => "refused at parse".into(),
        };
        let croner = match &their {
            Ok(cron) => {
                let (elapsed, calls) = time_per_call(Duration::from_millis(300), || {
                    black_box(cron.find_next_occurrence(&black_box(from), false).ok());
                });
                per_call(elapsed, calls)
            }
            Err(_) => "refused at parse".into(),
        };
        rows.push(Row {
            what: format!("next fire of `{text}` ({note})"),
            cronq,
            croner,
        });
    }

    let width = rows
        .iter()
        .map(|r| r.what.chars().count())
        .max()
        .unwrap_or(0);
    println!(
        "\ncron engine, {JOBS} jobs, e.g. `{}` and `{}`\n\n{:<width$}  {:>16}  {:>16}",
        texts[0],
        texts[JOBS - 1],
        "figure",
        "cronq",
        "croner 4"
    );
    println!("{}", "-".repeat(width + 36));
    for row in &rows {
        println!(
            "{:<width$}  {:>16}  {:>16}",
            row.what, row.cronq, row.croner
        );
    }
    black_box((ours, theirs));
}
