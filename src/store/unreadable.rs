//! A stored run that cannot be read, and the bounds on what one may hold.
//!
//! Whoever can write to the store can write a run by hand, with any fields at all. A
//! backend that takes such a run at reserve does not fail the reserve (the run would
//! stay at the head of its queue) and does not leave it to expire (`lost`, and retried
//! as it is): it records the run `failed` with one of these reasons, puts a readable
//! value in each field named, and goes on to the next run. Both backends word it the
//! same, from here.
//!
//! The bounds keep one run from making a worker hold a field of any size: a backend
//! measures the fields before it reads them.

use std::fmt;

/// The most bytes a field of a run may hold.
pub const MAX_FIELD_BYTES: u64 = 1 << 20;
/// The most bytes a run's `args` and `env` may hold together.
pub const MAX_PAYLOAD_BYTES: u64 = 1 << 20;

/// What a field of a run is expected to hold, as a reason names it.
pub mod expected {
    pub const TEXT: &str = "expected text";
    pub const ARGS: &str = "expected a JSON array of strings";
    pub const ENV: &str = "expected a JSON object of strings";
    pub const COUNT: &str = "expected a whole number from 0 to 4294967295";
    pub const INTEGER: &str = "expected a whole number";
    pub const PERCENT: &str = "expected a whole number from 0 to 100";
    pub const TIME: &str = "expected a time in milliseconds since 1970";
    pub const STATUS: &str =
        "expected one of queued, running, succeeded, failed, timed_out, cancelled, lost, skipped";
    pub const TRIGGER: &str = "expected one of schedule, manual, retry, catch_up, rerun, backfill";
    pub const ON_BUSY: &str = "expected skip or wait, with a `lock_name`";
    pub const FLAG: &str = "expected 0 or 1";
    pub const PRESENT: &str = "missing";
}

/// Why one field of a stored run cannot be read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Unreadable {
    /// The field, as [`crate::store::Run`] names it.
    pub field: String,
    pub problem: Problem,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Problem {
    /// It does not hold what it should: `expected …`.
    Invalid(&'static str),
    /// It holds more than [`MAX_FIELD_BYTES`].
    TooLarge { bytes: u64 },
    /// `args` and `env` together hold more than [`MAX_PAYLOAD_BYTES`]; `field` is `args`.
    PayloadTooLarge { bytes: u64 },
}

impl Unreadable {
    pub fn invalid(field: &str, expected: &'static str) -> Unreadable {
        Unreadable {
            field: field.to_owned(),
            problem: Problem::Invalid(expected),
        }
    }

    /// What the sizes of a run's fields break, if anything: the first field over
    /// [`MAX_FIELD_BYTES`], else `args` and `env` together over [`MAX_PAYLOAD_BYTES`].
    pub fn of_sizes<'a>(sizes: impl IntoIterator<Item = (&'a str, u64)>) -> Option<Unreadable> {
        let mut payload = 0;
        for (field, bytes) in sizes {
            if bytes > MAX_FIELD_BYTES {
                return Some(Unreadable {
                    field: field.to_owned(),
                    problem: Problem::TooLarge { bytes },
                });
            }
            if matches!(field, "args" | "env") {
                payload += bytes;
            }
        }
        (payload > MAX_PAYLOAD_BYTES).then(|| Unreadable {
            field: "args".to_owned(),
            problem: Problem::PayloadTooLarge { bytes: payload },
        })
    }

    /// The fields a backend must overwrite with a readable value: the one named, `env`
    /// with `args` when they were too large together, and `lock_name` with a
    /// `lock_on_busy` that cannot be read (the lock is one of both or neither).
    pub fn fields(&self) -> Vec<&str> {
        match (&self.problem, self.field.as_str()) {
            (Problem::PayloadTooLarge { .. }, _) => vec!["args", "env"],
            (_, "lock_on_busy") => vec!["lock_name", "lock_on_busy"],
            (_, field) => vec![field],
        }
    }
}

impl fmt::Display for Unreadable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The name may come from a run written by hand: one line, and short.
        let field: String = self
            .field
            .chars()
            .take(64)
            .flat_map(char::escape_debug)
            .collect();
        match self.problem {
            Problem::Invalid(expected) => {
                write!(f, "the run cannot be read: field `{field}`: {expected}")
            }
            Problem::TooLarge { bytes } => write!(
                f,
                "the run cannot be read: field `{field}` holds {bytes} bytes, more than the \
                 {MAX_FIELD_BYTES} a field may hold"
            ),
            Problem::PayloadTooLarge { bytes } => write!(
                f,
                "the run cannot be read: fields `args` and `env` hold {bytes} bytes together, \
                 more than the {MAX_PAYLOAD_BYTES} they may hold"
            ),
        }
    }
}

/// The reason a run is recorded with: every problem found, one after the other.
pub fn reason(problems: &[Unreadable]) -> String {
    let mut reason = problems
        .first()
        .map(ToString::to_string)
        .unwrap_or_default();
    for more in problems.iter().skip(1).take(4) {
        let text = more.to_string();
        let rest = text
            .strip_prefix("the run cannot be read: ")
            .unwrap_or(&text);
        reason.push_str("; ");
        reason.push_str(rest);
    }
    if problems.len() > 5 {
        reason.push_str(&format!("; and {} more", problems.len() - 5));
    }
    reason
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_problem_names_its_field() {
        assert_eq!(
            Unreadable::invalid("env", expected::ENV).to_string(),
            "the run cannot be read: field `env`: expected a JSON object of strings"
        );
        let big = Unreadable::of_sizes([("job", 3), ("env", 200 << 20)]).unwrap();
        assert_eq!(
            big.to_string(),
            "the run cannot be read: field `env` holds 209715200 bytes, more than the 1048576 \
             a field may hold"
        );
        assert_eq!(big.fields(), ["env"]);
        let both = Unreadable::of_sizes([("args", 600_000), ("env", 600_000)]).unwrap();
        assert_eq!(
            both.to_string(),
            "the run cannot be read: fields `args` and `env` hold 1200000 bytes together, more \
             than the 1048576 they may hold"
        );
        assert_eq!(both.fields(), ["args", "env"]);
        assert_eq!(Unreadable::of_sizes([("args", 1 << 20), ("job", 9)]), None);
        assert_eq!(
            Unreadable::invalid("a\nb", expected::TEXT).to_string(),
            r"the run cannot be read: field `a\nb`: expected text"
        );
    }

    #[test]
    fn a_reason_lists_every_problem() {
        let problems = [
            Unreadable::invalid("env", expected::ENV),
            Unreadable::invalid("attempt", expected::COUNT),
        ];
        assert_eq!(
            reason(&problems),
            "the run cannot be read: field `env`: expected a JSON object of strings; field \
             `attempt`: expected a whole number from 0 to 4294967295"
        );
    }
}
