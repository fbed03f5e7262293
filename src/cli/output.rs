//! Printing: aligned tables for people, one JSON document for scripts. Every write to
//! stdout returns its error: a closed pipe (`cronq status | head -3`) ends the command
//! quietly through [`CliError::ClosedPipe`](super::CliError::ClosedPipe), never a panic.
//! Every write to stderr goes through [`note!`], which cannot fail the command.

use std::borrow::Cow;
use std::io::Write;

pub use crate::report::instant;

/// The widest a cell that other cells are aligned after may be, in characters; a longer
/// one (a generated expression, a long command) is cut with `…` so that one cell cannot
/// push every other row off the screen. The last column is printed whole, and `--json`
/// always has the whole text.
const CELL_MAX: usize = 100;

/// `println!` that returns a closed stdout as an error instead of panicking.
macro_rules! say {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        writeln!(std::io::stdout().lock(), $($arg)*).map_err($crate::cli::output::stdout_error)
    }};
}
pub(crate) use say;

/// `eprintln!` that never panics: cronq's own words on stderr (a warning, a note, an
/// error) are dropped when stderr cannot take them (`2>/dev/full`, a closed pipe), since
/// the command's outcome does not depend on them; its exit code still tells.
macro_rules! note {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr().lock(), $($arg)*);
    }};
}
pub(crate) use note;

/// `eprint!` without the newline, for a line redrawn in place; it never panics either.
macro_rules! note_part {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let mut stderr = std::io::stderr().lock();
        let _ = write!(stderr, $($arg)*).and_then(|()| stderr.flush());
    }};
}
pub(crate) use note_part;

/// A failed write to stdout: a closed pipe is the reader having read enough, anything
/// else a real failure.
pub fn stdout_error(error: std::io::Error) -> anyhow::Error {
    match error.kind() {
        std::io::ErrorKind::BrokenPipe => super::CliError::ClosedPipe.into(),
        _ => anyhow::anyhow!("cannot write to stdout: {error}"),
    }
}

/// Prints rows under a header, each column as wide as its widest cell.
pub fn table(header: &[&str], rows: &[Vec<String>]) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    for line in table_lines(header, rows) {
        writeln!(out, "{line}").map_err(stdout_error)?;
    }
    Ok(())
}

/// The lines of [`table`].
fn table_lines(header: &[&str], rows: &[Vec<String>]) -> Vec<String> {
    let header: Vec<String> = header.iter().map(ToString::to_string).collect();
    let cells: Vec<Vec<Cow<str>>> = std::iter::once(&header)
        .chain(rows)
        .map(|row| {
            let last = row.len().saturating_sub(1);
            row.iter()
                .enumerate()
                .map(|(i, cell)| match i == last {
                    true => Cow::Borrowed(cell.as_str()),
                    false => elided(cell),
                })
                .collect()
        })
        .collect();
    let mut widths: Vec<usize> = Vec::new();
    for row in &cells {
        for (i, cell) in row.iter().enumerate() {
            let width = cell.chars().count();
            match widths.get_mut(i) {
                Some(widest) => *widest = (*widest).max(width),
                None => widths.push(width),
            }
        }
    }
    let mut lines = Vec::with_capacity(cells.len());
    for row in &cells {
        let mut line = String::new();
        for (i, (cell, width)) in row.iter().zip(&widths).enumerate() {
            line.push_str(cell);
            if i + 1 < row.len() {
                // Padded by hand: `format!`'s width is a u16 and panics past 65,535.
                let pad = width - cell.chars().count() + 2;
                line.extend(std::iter::repeat_n(' ', pad));
            }
        }
        line.truncate(line.trim_end().len());
        lines.push(line);
    }
    lines
}

/// A cell that other cells are aligned after, cut to [`CELL_MAX`] characters with `…`.
fn elided(cell: &str) -> Cow<'_, str> {
    match cell.char_indices().nth(CELL_MAX - 1) {
        Some((cut, _)) if cell.chars().count() > CELL_MAX => {
            Cow::Owned(format!("{}…", &cell[..cut]))
        }
        _ => Cow::Borrowed(cell),
    }
}

/// Prints one JSON document, pretty, on stdout.
pub fn json(value: &serde_json::Value) -> anyhow::Result<()> {
    let text = serde_json::to_string_pretty(value).expect("a serde_json::Value always serializes");
    writeln!(std::io::stdout().lock(), "{text}").map_err(stdout_error)
}

/// An instant in a table: UTC, to the second.
pub fn clock(at: &chrono::DateTime<chrono::Utc>) -> String {
    at.format("%Y-%m-%d %H:%M:%SZ").to_string()
}

/// The zone a listing prints its times in: UTC, or with `--local` the host's (`TZ`, else
/// /etc/localtime). `--json` is always UTC, the same for every reader.
#[derive(Clone, Copy, Debug)]
pub enum Zone {
    Utc,
    Local(chrono_tz::Tz),
}

impl Zone {
    /// The host's zone when `local`, else UTC.
    pub fn of(local: bool, env: &dyn Fn(&str) -> Option<String>) -> Result<Zone, super::CliError> {
        if !local {
            return Ok(Zone::Utc);
        }
        crate::settings::host_zone(env)
            .map(Zone::Local)
            .map_err(super::CliError::Usage)
    }

    /// As [`clock`] prints it in UTC; in the host's zone with its offset,
    /// `2026-03-08 03:00:00-04:00`.
    pub fn clock(self, at: &chrono::DateTime<chrono::Utc>) -> String {
        match self {
            Zone::Utc => clock(at),
            Zone::Local(zone) => at
                .with_timezone(&zone)
                .format("%Y-%m-%d %H:%M:%S%:z")
                .to_string(),
        }
    }

    /// As [`instant`] prints it, in this zone.
    pub fn instant(self, at: &chrono::DateTime<chrono::Utc>) -> String {
        match self {
            Zone::Utc => instant(at),
            Zone::Local(zone) => instant(&at.with_timezone(&zone)),
        }
    }
}

/// A duration in a table: `0.4s`, `12s`, `3m 05s`, `2h 03m`.
pub fn seconds(secs: f64) -> String {
    if !secs.is_finite() || secs < 0.0 {
        return "-".into();
    }
    if secs < 10.0 {
        return format!("{secs:.1}s");
    }
    let whole = secs.round() as u64;
    match whole {
        0..60 => format!("{whole}s"),
        60..3600 => format!("{}m {:02}s", whole / 60, whole % 60),
        _ => format!("{}h {:02}m", whole / 3600, whole % 3600 / 60),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_times_carry_the_zones_offset_and_utc_stays_as_it_was() {
        let at = chrono::DateTime::parse_from_rfc3339("2026-03-08T07:00:00Z")
            .unwrap()
            .with_timezone(&chrono::Utc);
        let new_york = Zone::Local(chrono_tz::America::New_York);
        assert_eq!(Zone::Utc.clock(&at), "2026-03-08 07:00:00Z");
        assert_eq!(new_york.clock(&at), "2026-03-08 03:00:00-04:00");
        assert_eq!(Zone::Utc.instant(&at), "2026-03-08T07:00:00+00:00");
        assert_eq!(new_york.instant(&at), "2026-03-08T03:00:00-04:00");
    }

    #[test]
    fn durations_read_at_a_glance() {
        assert_eq!(seconds(0.42), "0.4s");
        assert_eq!(seconds(12.4), "12s");
        assert_eq!(seconds(185.0), "3m 05s");
        assert_eq!(seconds(7380.0), "2h 03m");
        assert_eq!(seconds(-1.0), "-");
    }

    fn row(cells: &[&str]) -> Vec<String> {
        cells.iter().map(ToString::to_string).collect()
    }

    #[test]
    fn columns_align_on_the_widest_cell() {
        let lines = table_lines(
            &["JOB", "NEXT"],
            &[row(&["backup-db", "soon"]), row(&["a", "b"])],
        );
        assert_eq!(
            lines,
            ["JOB        NEXT", "backup-db  soon", "a          b"]
        );
    }

    #[test]
    fn a_cell_wider_than_a_format_width_is_cut_and_the_last_column_kept_whole() {
        // 70,000 characters: past the 65,535 that `format!`'s width takes.
        let long = "0,".repeat(35_000);
        let lines = table_lines(
            &["SCHEDULE", "NEXT"],
            &[row(&[&long, &long]), row(&["x", "y"])],
        );
        let head: String = long.chars().take(CELL_MAX - 1).collect();
        assert_eq!(lines[1], format!("{head}…  {long}"));
        assert_eq!(lines[2], format!("x{}y", " ".repeat(CELL_MAX + 1)));
        assert_eq!(lines[0].chars().count(), CELL_MAX + 2 + "NEXT".len());
    }

    #[test]
    fn a_cell_of_exactly_the_limit_is_not_cut() {
        let full = "é".repeat(CELL_MAX);
        let lines = table_lines(&["A", "B"], &[row(&[&full, "z"])]);
        assert_eq!(lines[1], format!("{full}  z"));
    }
}
