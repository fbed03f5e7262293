//! Problems found in a file, each with its position: `FILE:LINE:COL: message`.

use std::collections::HashMap;
use std::fmt;

use super::node::{self, Key, Node, Position, Value};

/// Whether a problem refuses the file or only deserves a look.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Error,
    Warning,
}

/// One problem in a file.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Diagnostic {
    pub file: String,
    pub line: u64,
    pub column: u64,
    pub severity: Severity,
    pub message: String,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Diagnostic {
            file, line, column, ..
        } = self;
        match self.severity {
            Severity::Error => write!(f, "{file}:{line}:{column}: ")?,
            Severity::Warning => write!(f, "{file}:{line}:{column}: warning: ")?,
        }
        // Messages quote the file's text, which may hold a NUL, a carriage return or an
        // escape sequence.
        write!(f, "{}", Escaped(&self.message))
    }
}

/// Text from a file as a message shows it: control characters escaped (`\0`, `\r`,
/// `\u{1b}`), so that the message stays one plain line on a terminal.
pub struct Escaped<'a>(pub &'a str);

impl fmt::Display for Escaped<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for c in self.0.chars() {
            match c {
                '\0' => f.write_str("\\0")?,
                c if c.is_control() => write!(f, "{}", c.escape_default())?,
                c => write!(f, "{c}")?,
            }
        }
        Ok(())
    }
}

/// Collects the problems of one file while a loader walks it.
#[derive(Debug)]
pub struct Report {
    file: String,
    pub diagnostics: Vec<Diagnostic>,
}

impl Report {
    pub fn new(file: &str) -> Self {
        Report {
            file: file.to_string(),
            diagnostics: Vec::new(),
        }
    }

    pub fn error(&mut self, at: Position, message: impl Into<String>) {
        self.push(at, Severity::Error, message.into());
    }

    pub fn warning(&mut self, at: Position, message: impl Into<String>) {
        self.push(at, Severity::Warning, message.into());
    }

    fn push(&mut self, at: Position, severity: Severity, message: String) {
        self.diagnostics.push(Diagnostic {
            file: self.file.clone(),
            line: at.line,
            column: at.column,
            severity,
            message,
        });
    }

    pub fn has_errors(&self) -> bool {
        self.diagnostics
            .iter()
            .any(|d| d.severity == Severity::Error)
    }

    /// The file's YAML tree, or `None` with the syntax error reported.
    pub fn document(&mut self, text: &str) -> Option<Node> {
        node::parse(text)
            .map_err(|syntax| self.error(syntax.at, syntax.message))
            .ok()
    }

    /// Reads `node` with `read`; a wrong value is reported at its position and gives `None`.
    pub fn read<T>(
        &mut self,
        node: &Node,
        read: impl FnOnce(&Node) -> Result<T, String>,
    ) -> Option<T> {
        read(node)
            .map_err(|message| self.error(node.at, message))
            .ok()
    }

    /// The entries of a mapping, with duplicate and unknown keys reported and left out.
    /// `what` names the mapping in messages ("job `backup`").
    pub fn entries<'a>(
        &mut self,
        node: &'a Node,
        what: &str,
        known: &[&str],
    ) -> Vec<(&'a Key, &'a Node)> {
        let Value::Map(entries) = &node.value else {
            if node.value != Value::Null {
                let kind = node.value.kind();
                self.error(
                    node.at,
                    format!("{what} must be a mapping of keys, found {kind}"),
                );
            }
            return Vec::new();
        };
        let mut kept: Vec<(&Key, &Node)> = Vec::with_capacity(entries.len());
        // A schedule may hold 100,000 jobs: find duplicates by hash, not by scan.
        let mut first_at: HashMap<&str, u64> = HashMap::with_capacity(entries.len());
        for (key, value) in entries {
            let first = first_at.get(key.name.as_str()).copied();
            if self.admit(key, first, what, known) {
                first_at.insert(&key.name, key.at.line);
                kept.push((key, value));
            }
        }
        kept
    }

    /// Whether `key` of the mapping `what` is to be read: a duplicate (`first` is the
    /// line of the key's first appearance) or a key not in `known` (when `known` is
    /// not empty) is reported instead.
    pub fn admit(&mut self, key: &Key, first: Option<u64>, what: &str, known: &[&str]) -> bool {
        if let Some(line) = first {
            self.error(
                key.at,
                format!(
                    "duplicate key `{}` in {what} (first at line {line})",
                    key.name
                ),
            );
            false
        } else if !known.is_empty() && !known.contains(&key.name.as_str()) {
            let hint = match closest(&key.name, known.iter().copied()) {
                Some(near) => format!("did you mean `{near}`?"),
                None => format!("expected one of: {}", known.join(", ")),
            };
            self.error(
                key.at,
                format!("unknown key `{}` in {what}; {hint}", key.name),
            );
            false
        } else {
            true
        }
    }

    /// The problems found, or `Ok` with the warnings alone when none is an error.
    pub fn finish(mut self) -> Result<Vec<Diagnostic>, Vec<Diagnostic>> {
        self.diagnostics.sort_by_key(|d| (d.line, d.column));
        if self.has_errors() {
            Err(self.diagnostics)
        } else {
            Ok(self.diagnostics)
        }
    }
}

/// The candidate closest to `word` by edit distance, if it is close enough to be a typo.
pub fn closest<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let limit = (word.chars().count() / 3).max(1);
    candidates
        .into_iter()
        .map(|c| (edit_distance(&word.to_lowercase(), &c.to_lowercase()), c))
        .filter(|(distance, _)| *distance <= limit)
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, c)| c)
}

/// Levenshtein distance, in characters.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let substitution = diagonal + usize::from(ca != *cb);
            diagonal = row[j + 1];
            row[j + 1] = substitution.min(row[j] + 1).min(diagonal + 1);
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn closest_suggests_typos_only() {
        let keys = ["schedule", "retries", "timeout"];
        assert_eq!(closest("retrys", keys), Some("retries"));
        assert_eq!(closest("Schedule", keys), Some("schedule"));
        assert_eq!(closest("colour", keys), None);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
    }

    #[test]
    fn diagnostics_print_file_line_and_column() {
        let mut report = Report::new("crontab.yaml");
        report.error(
            Position {
                line: 3,
                column: 15,
            },
            "bad",
        );
        report.warning(Position { line: 4, column: 1 }, "odd");
        let printed: Vec<String> = report.diagnostics.iter().map(|d| d.to_string()).collect();
        assert_eq!(
            printed,
            ["crontab.yaml:3:15: bad", "crontab.yaml:4:1: warning: odd"]
        );
    }
}
