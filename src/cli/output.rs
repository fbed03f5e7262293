//! Printing: aligned tables for people, one JSON document for scripts.

use std::io::Write;

/// Prints rows under a header, each column as wide as its widest cell.
pub fn table(header: &[&str], rows: &[Vec<String>]) {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let mut out = std::io::stdout().lock();
    let header: Vec<String> = header.iter().map(ToString::to_string).collect();
    for row in std::iter::once(&header).chain(rows) {
        let mut line = String::new();
        for (i, (cell, width)) in row.iter().zip(&widths).enumerate() {
            if i + 1 == row.len() {
                line.push_str(cell);
            } else {
                line.push_str(&format!("{cell:<width$}  "));
            }
        }
        // A closed pipe (`cronq check | head`) is not an error worth a panic.
        if writeln!(out, "{}", line.trim_end()).is_err() {
            return;
        }
    }
}

/// Prints one JSON document, pretty, on stdout.
pub fn json(value: &serde_json::Value) {
    let text = serde_json::to_string_pretty(value).expect("a serde_json::Value always serializes");
    let _ = writeln!(std::io::stdout().lock(), "{text}");
}

/// An instant as cronq prints it: RFC 3339, whole seconds, the zone's offset at that
/// instant (`+00:00` for UTC, never `Z`).
pub fn instant<Tz: chrono::TimeZone>(at: &chrono::DateTime<Tz>) -> String
where
    Tz::Offset: std::fmt::Display,
{
    at.to_rfc3339_opts(chrono::SecondsFormat::Secs, false)
}
