//! Debian's reading of one crontab line, after cron 3.0pl1 as Debian 12 patches it:
//! `env.c` `load_env` (is it a variable?), `entry.c` `load_entry` (the time fields,
//! the user column, the command; what it refuses) and `do_command.c` (`%` and `\`).
//!
//! Only Debian's dialect lives here: no seconds, no `L`, `W`, `#`, `?`, no `5/15`, no
//! `@every`, no leading `-`. What Debian skips without a word (the rest of a field
//! after what it can read: `*/5/2` is `*/5`, `1#2` is `1`) is kept as a note, so the
//! caller can say what cron really ran.

use crate::cron::{FieldKind, VixieFields};

use super::CrontabFormat;

/// `load_env` reads at most this many bytes of a line (`MAX_ENVSTR - 2`).
const VARIABLE_LINE_MAX: usize = 998;
/// A command of this many bytes or more is "command too long" (`MAX_COMMAND - 1`).
const COMMAND_MAX: usize = 999;
/// `get_number` gives up on a word this long (`MAX_TEMPSTR`).
const WORD_MAX: usize = 1000;

/// The macros Debian knows, without their `@`.
pub(super) const MACROS: [&str; 8] = [
    "reboot", "yearly", "annually", "monthly", "weekly", "daily", "midnight", "hourly",
];

const MONTH_NAMES: [&str; 12] = [
    "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
];
const WEEKDAY_NAMES: [&str; 7] = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"];

/// Whether cron skips the line: blank, or a comment (`#` after blanks).
pub(super) fn is_blank_or_comment(line: &str) -> bool {
    let rest = line.trim_start_matches([' ', '\t']);
    rest.is_empty() || rest.starts_with('#')
}

/// `load_env`: the line as `NAME=value`, or `None` when cron takes it for a job line.
/// Blanks around `=` are allowed; a value in matching quotes keeps its blanks; an
/// unquoted value runs to the end of the line, trailing blanks cut; anything but
/// blanks after a closing quote makes it no variable (`NAME="x"junk`), and so does an
/// empty unquoted value (`NAME=`).
pub(super) fn variable(line: &str) -> Option<(String, String)> {
    #[derive(Clone, Copy, PartialEq)]
    enum State {
        NameStart,
        Name,
        Eq1,
        Eq2,
        ValueStart,
        Value,
        Fini,
    }
    let line = line.trim_start_matches([' ', '\t']);
    let bytes = &line.as_bytes()[..line.len().min(VARIABLE_LINE_MAX)];
    let (mut name, mut value) = (Vec::new(), Vec::new());
    let mut state = State::NameStart;
    let mut quote = None;
    let mut at = 0;
    while at < bytes.len() {
        let c = bytes[at];
        match state {
            State::NameStart | State::ValueStart => {
                if c == b'\'' || c == b'"' {
                    quote = Some(c);
                    at += 1;
                }
                // The next round reads on in the name or value (C's fall-through).
                state = match state {
                    State::NameStart => State::Name,
                    _ => State::Value,
                };
            }
            State::Name | State::Value => {
                let in_name = state == State::Name;
                match quote {
                    Some(q) if c == q => {
                        state = if in_name { State::Eq1 } else { State::Fini };
                        at += 1;
                    }
                    Some(_) if in_name && c == b'=' => return None,
                    None if in_name && is_space(c) => {
                        state = State::Eq1;
                        at += 1;
                    }
                    // Eq1 reads the `=` again.
                    None if in_name && c == b'=' => state = State::Eq1,
                    _ => {
                        if in_name { &mut name } else { &mut value }.push(c);
                        at += 1;
                    }
                }
            }
            State::Eq1 => {
                if c == b'=' {
                    state = State::Eq2;
                    quote = None;
                } else if !is_space(c) {
                    return None;
                }
                at += 1;
            }
            State::Eq2 | State::Fini => {
                if is_space(c) {
                    at += 1;
                } else if state == State::Eq2 {
                    state = State::ValueStart;
                } else {
                    return None;
                }
            }
        }
    }
    let unquoted_value = state == State::Value && quote.is_none();
    if state != State::Fini && !unquoted_value {
        return None;
    }
    // `strdtb` cuts trailing blanks, inside quotes too; then a value still in matching
    // quotes loses them (`A="'x'"` is `x`).
    while value.last().is_some_and(|c| is_space(*c)) {
        value.pop();
    }
    let quoted = value.len() >= 2 && matches!(value[0], b'\'' | b'"');
    if quoted && value.last() == Some(&value[0]) {
        value.pop();
        value.remove(0);
    }
    if name.len() + 1 + value.len() > VARIABLE_LINE_MAX {
        return None;
    }
    let text = |bytes: Vec<u8>| String::from_utf8_lossy(&bytes).into_owned();
    Some((text(name), text(value)))
}

/// C's `isspace` in the C locale.
fn is_space(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c)
}

/// A job line as Debian reads it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Entry {
    pub when: When,
    /// The system format's user column.
    pub user: Option<String>,
    /// Everything after the schedule (and the user), as cron hands it to `do_command`.
    pub command: String,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum When {
    /// `@daily` and the like, with the `@`.
    Macro(String),
    Fields(Box<Fields>),
}

/// The five time fields: what they mean, and each one's text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Fields {
    pub meaning: VixieFields,
    /// Each field as written.
    pub written: [String; 5],
    /// Each field as far as cron read it; the rest (`/2` of `*/5/2`) it skipped.
    pub read: [String; 5],
}

const KINDS: [FieldKind; 5] = [
    FieldKind::Minute,
    FieldKind::Hour,
    FieldKind::DayOfMonth,
    FieldKind::Month,
    FieldKind::DayOfWeek,
];

/// `load_entry` on one line (without its newline): the job, or why cron refuses it.
pub(super) fn entry(line: &str, format: CrontabFormat) -> Result<Entry, String> {
    let line = line.trim_start_matches([' ', '\t']);
    let mut cursor = Cursor {
        bytes: line.as_bytes(),
        at: 0,
    };
    let when = if cursor.peek() == b'@' {
        cursor.bump();
        let start = cursor.at;
        while !matches!(cursor.peek(), b' ' | b'\t' | b'\n') {
            cursor.bump();
        }
        let word = &line[start..cursor.at];
        if !MACROS.contains(&word) {
            let known: Vec<String> = MACROS.iter().map(|m| format!("@{m}")).collect();
            return Err(format!(
                "`@{word}` is not a macro it knows; it knows {} (in lower case)",
                known.join(" ")
            ));
        }
        cursor.skip_blanks();
        When::Macro(format!("@{word}"))
    } else {
        When::Fields(Box::new(fields(line, &mut cursor)?))
    };
    let user = match format {
        CrontabFormat::System => {
            let start = cursor.at;
            while !matches!(cursor.peek(), b' ' | b'\t' | b'\n') {
                cursor.bump();
            }
            let user = &line[start..cursor.at];
            if user.is_empty() {
                return Err("a system crontab line needs a user column after the time fields, then the command".into());
            }
            if cursor.at == line.len() {
                return Err(format!(
                    "there is no command after the user column `{user}`"
                ));
            }
            // The blank after the user is eaten; any further ones start the command.
            cursor.bump();
            Some(user.to_string())
        }
        CrontabFormat::User => {
            if cursor.peek() == b'*' {
                return Err("the command starts with `*`: this looks like a sixth time field (seconds, a cronq extension), but Debian cron reads five and refuses a command that starts with `*`".into());
            }
            None
        }
    };
    let command = &line[cursor.at.min(line.len())..];
    if command.len() >= COMMAND_MAX {
        return Err(format!(
            "the command is {} bytes long; Debian cron refuses a command of {COMMAND_MAX} bytes or more",
            command.len()
        ));
    }
    Ok(Entry {
        when,
        user,
        command: command.to_string(),
    })
}

/// The five time fields, each a `get_list`; the cursor ends on the first character
/// after them and the blanks that follow.
fn fields(line: &str, cursor: &mut Cursor) -> Result<Fields, String> {
    let mut bits = [0u64; 5];
    let mut written: [String; 5] = Default::default();
    let mut read: [String; 5] = Default::default();
    let mut stars = [false; 5];
    for (index, kind) in KINDS.into_iter().enumerate() {
        let start = cursor.at;
        stars[index] = cursor.peek() == b'*';
        let list = list(kind, cursor);
        let read_to = cursor.at;
        cursor.skip_nonblanks();
        let end = cursor.at;
        cursor.skip_blanks();
        let text = &line[start..end];
        match list {
            Ok(set) => bits[index] = set,
            Err(why) => return Err(field_refusal(kind, text, why)),
        }
        written[index] = text.to_string();
        read[index] = line[start..read_to].to_string();
    }
    // Sundays are both 0 and 7.
    let mut weekdays = bits[4];
    if weekdays & 0b1000_0001 != 0 {
        weekdays |= 0b1000_0001;
    }
    Ok(Fields {
        meaning: VixieFields {
            minutes: bits[0],
            hours: bits[1],
            days: bits[2],
            months: bits[3],
            weekdays: weekdays & 0x7f,
            minute_star: stars[0],
            hour_star: stars[1],
            dom_star: stars[2],
            dow_star: stars[4],
        },
        written,
        read,
    })
}

/// Why a field was refused, in the words of its text.
fn field_refusal(kind: FieldKind, text: &str, why: Bad) -> String {
    let (lo, hi) = bounds(kind);
    let reason = match why {
        Bad::Nothing(b'?') => {
            "`?` is Quartz's \"no value\", which Debian cron does not have; write `*`".into()
        }
        Bad::Nothing(b'\n' | b' ' | b'\t') => {
            "a value is missing (the line may have fewer than five time fields, or a stray `,`, `-` or `/`)".into()
        }
        Bad::Nothing(b'\r') => {
            "the line ends in a carriage return (a DOS line ending) where a value should be".into()
        }
        Bad::Nothing(c) if c.is_ascii() => {
            format!("a value is expected where `{}` stands", c as char)
        }
        Bad::Nothing(_) => "a value is expected where a character it cannot read stands".into(),
        Bad::Word(word) => {
            let upper = word.to_ascii_uppercase();
            if upper == "L" || upper == "LW" || upper.ends_with('L') || upper.ends_with('W') {
                format!(
                    "`{word}` is Quartz syntax (last day, last weekday, nearest weekday), which Debian cron does not have"
                )
            } else {
                format!(
                    "`{word}` is neither a number nor {}",
                    match kind {
                        FieldKind::Month => "a month name such as jan",
                        FieldKind::DayOfWeek => "a weekday name such as mon",
                        _ => "anything else this field takes",
                    }
                )
            }
        }
        Bad::StepWithoutRange(item) => {
            let step = item.split_once('/').map_or("", |(_, s)| s);
            format!(
                "`{item}` is a step after a single value (Quartz's start/step); Debian cron takes a step only after a range or `*`, as in `*/{step}` or `{}-{hi}/{step}`",
                item.split('/').next().unwrap_or(""),
            )
        }
        Bad::OutOfRange(value) => format!("{value} is out of range {lo}-{hi}"),
        Bad::ZeroStep => "a step must be at least 1".into(),
        Bad::TooLong => "a word is too long".into(),
    };
    format!("{kind} field `{text}`: {reason}")
}

/// The bounds `load_entry` checks, day-of-week taking 7 for Sunday.
fn bounds(kind: FieldKind) -> (i64, i64) {
    let (lo, hi) = kind.bounds();
    (lo.into(), hi.into())
}

enum Bad {
    /// No letter or digit where a value must be; the character found.
    Nothing(u8),
    /// Letters and digits that are neither a number nor a name.
    Word(String),
    StepWithoutRange(String),
    OutOfRange(i64),
    ZeroStep,
    TooLong,
}

/// `get_list`: ranges separated by `,`, as bits by value.
fn list(kind: FieldKind, cursor: &mut Cursor) -> Result<u64, Bad> {
    let mut set = 0;
    loop {
        range(kind, cursor, &mut set)?;
        if cursor.peek() != b',' {
            return Ok(set);
        }
        cursor.bump();
    }
}

/// `get_range`: `*`, `N`, `N-M`, each but `N` with an optional `/step`.
fn range(kind: FieldKind, cursor: &mut Cursor, set: &mut u64) -> Result<(), Bad> {
    let (lo, hi) = bounds(kind);
    let item_start = cursor.at;
    let (first, last) = if cursor.peek() == b'*' {
        cursor.bump();
        (lo, hi)
    } else {
        let first = number(kind, cursor, true)?;
        if cursor.peek() != b'-' {
            if cursor.peek() == b'/' {
                let mut end = cursor.at + 1;
                while end < cursor.bytes.len() && cursor.bytes[end].is_ascii_alphanumeric() {
                    end += 1;
                }
                let item = String::from_utf8_lossy(&cursor.bytes[item_start..end]).into_owned();
                return Err(Bad::StepWithoutRange(item));
            }
            if !(lo..=hi).contains(&first) {
                return Err(Bad::OutOfRange(first));
            }
            *set |= 1 << first;
            return Ok(());
        }
        cursor.bump();
        (first, number(kind, cursor, true)?)
    };
    let step = if cursor.peek() == b'/' {
        cursor.bump();
        let step = number(kind, cursor, false)?;
        if step <= 0 {
            return Err(Bad::ZeroStep);
        }
        step
    } else {
        1
    };
    for value in [first, last] {
        if !(lo..=hi).contains(&value) {
            return Err(Bad::OutOfRange(value));
        }
    }
    // A range that runs backwards (`5-1`) sets nothing, and is no error.
    let mut value = first;
    while value <= last {
        *set |= 1 << value;
        value += step;
    }
    Ok(())
}

/// `get_number`: letters and digits, a name of the field (when `names`) or a
/// number as glibc's `atoi` reads it (a 64-bit `strtol` cut to an `int`).
fn number(kind: FieldKind, cursor: &mut Cursor, names: bool) -> Result<i64, Bad> {
    let start = cursor.at;
    while cursor.peek().is_ascii_alphanumeric() {
        if cursor.at - start + 1 >= WORD_MAX {
            return Err(Bad::TooLong);
        }
        cursor.bump();
    }
    let word = std::str::from_utf8(&cursor.bytes[start..cursor.at]).unwrap_or("");
    if word.is_empty() {
        return Err(Bad::Nothing(cursor.peek()));
    }
    let table: &[&str] = match (names, kind) {
        (true, FieldKind::Month) => &MONTH_NAMES,
        (true, FieldKind::DayOfWeek) => &WEEKDAY_NAMES,
        _ => &[],
    };
    if let Some(index) = table.iter().position(|n| n.eq_ignore_ascii_case(word)) {
        let first = if kind == FieldKind::Month { 1 } else { 0 };
        return Ok(index as i64 + first);
    }
    if word.bytes().all(|b| b.is_ascii_digit()) {
        let long = word.bytes().fold(0i64, |n, d| {
            n.saturating_mul(10).saturating_add(i64::from(d - b'0'))
        });
        return Ok(i64::from(long as i32));
    }
    Err(Bad::Word(word.to_string()))
}

/// A position in a line; past its end reads as the newline cron would find there.
struct Cursor<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl Cursor<'_> {
    fn peek(&self) -> u8 {
        self.bytes.get(self.at).copied().unwrap_or(b'\n')
    }

    fn bump(&mut self) {
        self.at = (self.at + 1).min(self.bytes.len() + 1);
    }

    fn skip_blanks(&mut self) {
        while matches!(self.peek(), b' ' | b'\t') {
            self.bump();
        }
    }

    fn skip_nonblanks(&mut self) {
        while !matches!(self.peek(), b' ' | b'\t' | b'\n') {
            self.bump();
        }
    }
}

/// `do_command`'s reading of the command: the text the shell runs and, after the
/// first `%` not escaped by `\`, the exact bytes of the job's standard input.
///
/// In the command, `\%` is `%` and `\\` is `\`; a `\` before anything else stays.
/// In the input, each further unescaped `%` is a newline, `\%` is `%`, every other
/// `\` stays, and a newline ends the input unless it already ends in one. A `%` with
/// nothing after it gives no input at all.
pub(super) fn split_percent(command: &str) -> (String, Option<String>) {
    let mut run = String::new();
    let mut escaped = false;
    let mut input = None;
    for (at, c) in command.char_indices() {
        if escaped {
            if c == '%' || c == '\\' {
                run.pop();
            }
            run.push(c);
            escaped = false;
        } else if c == '%' {
            input = Some(&command[at + 1..]);
            break;
        } else {
            escaped = c == '\\';
            run.push(c);
        }
    }
    let input = input.map(|raw| {
        let mut data = String::new();
        let (mut escaped, mut needs_newline) = (false, false);
        for c in raw.chars() {
            let c = match (escaped, c) {
                (true, '%') => '%',
                (true, c) => {
                    data.push('\\');
                    c
                }
                (false, '%') => '\n',
                (false, c) => c,
            };
            escaped = c == '\\';
            if !escaped {
                data.push(c);
                needs_newline = c != '\n';
            }
        }
        if escaped {
            data.push('\\');
        }
        if needs_newline {
            data.push('\n');
        }
        data
    });
    (run, input)
}
