//! A schedule in words beside its cron text: `30 2 * * *` in Europe/Berlin reads
//! "at 02:30 every day, Europe/Berlin". Common shapes get a sentence; any other
//! expression is read field by field, so every schedule gets words.

const DAYS: [&str; 7] = [
    "Sunday",
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
];
const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];

/// The schedule `text` (as written in the file) in words, with its zone.
pub fn describe(text: &str, zone: &str) -> String {
    let text = text.trim();
    if text == "@reboot" {
        return "once when the daemon starts".into();
    }
    if let Some(every) = text.strip_prefix("@every") {
        return format!("every {}", every.trim());
    }
    let expanded = match text {
        "@yearly" | "@annually" => "0 0 1 1 *",
        "@monthly" => "0 0 1 * *",
        "@weekly" => "0 0 * * 0",
        "@daily" | "@midnight" => "0 0 * * *",
        "@hourly" => "0 * * * *",
        other => other,
    };
    let fields: Vec<&str> = expanded.split_whitespace().collect();
    let words = match fields.as_slice() {
        [minute, hour, dom, month, dow] => five(None, minute, hour, dom, month, dow),
        [second, minute, hour, dom, month, dow] => {
            five(Some(second), minute, hour, dom, month, dow)
        }
        _ => format!("on `{text}`"),
    };
    format!("{words}, {zone}")
}

fn five(
    second: Option<&str>,
    minute: &str,
    hour: &str,
    dom: &str,
    month: &str,
    dow: &str,
) -> String {
    let number = |f: &str| f.parse::<u32>().ok();
    let time = match (second, number(minute), number(hour)) {
        (None | Some("0"), Some(m), Some(h)) => format!("at {h:02}:{m:02}"),
        (Some(s), Some(m), Some(h)) if number(s).is_some() => {
            format!("at {h:02}:{m:02}:{:02}", number(s).unwrap_or(0))
        }
        _ => clock(second, minute, hour),
    };
    let days = match (dom, dow) {
        ("*" | "?", "*" | "?") => "every day".to_string(),
        ("*" | "?", dow) => format!("on {}", list(dow, &DAYS, 0)),
        (dom, "*" | "?") => format!("on day {dom} of the month"),
        (dom, dow) => format!("on day {dom} of the month or on {}", list(dow, &DAYS, 0)),
    };
    let months = match month {
        "*" => String::new(),
        month => format!(" in {}", list(month, &MONTHS, 1)),
    };
    format!("{time} {days}{months}")
}

/// The time fields when they are not one time of day.
fn clock(second: Option<&str>, minute: &str, hour: &str) -> String {
    let mut parts = Vec::new();
    let seconds = second.filter(|s| *s != "0");
    if let Some(second) = seconds {
        parts.push(unit(second, "second"));
    }
    // "every 5 seconds" says every minute already.
    if !(minute == "*" && seconds.is_some_and(|s| s.starts_with('*'))) {
        parts.push(unit(minute, "minute"));
    }
    if hour != "*" {
        parts.push(format!("during hour {}", hour));
    }
    parts.join(", ")
}

/// `*` → "every minute", `*/15` → "every 15 minutes", `5` → "at minute 5".
fn unit(field: &str, name: &str) -> String {
    match field {
        "*" => format!("every {name}"),
        f => match f.strip_prefix("*/") {
            Some(step) => format!("every {step} {name}s"),
            None => format!("at {name} {f}"),
        },
    }
}

/// A day-of-week or month field with its numbers as names where they are plain
/// numbers: `1-5` → "Monday-Friday", `1,3` → "Monday, Wednesday".
fn list(field: &str, names: &[&str], first: usize) -> String {
    let name = |part: &str| -> String {
        match part.parse::<usize>() {
            Ok(n) if n >= first && n - first <= names.len() => {
                names[(n - first) % names.len()].to_string()
            }
            _ => part.to_string(),
        }
    };
    field
        .split(',')
        .map(|item| match item.split_once('-') {
            Some((a, b)) if !b.contains('/') => format!("{}-{}", name(a), name(b)),
            _ => name(item),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::describe;

    #[test]
    fn common_schedules_read_as_sentences() {
        assert_eq!(
            describe("30 2 * * *", "Europe/Berlin"),
            "at 02:30 every day, Europe/Berlin"
        );
        assert_eq!(describe("@daily", "UTC"), "at 00:00 every day, UTC");
        assert_eq!(
            describe("0 9 * * 1-5", "UTC"),
            "at 09:00 on Monday-Friday, UTC"
        );
        assert_eq!(
            describe("0 0 1 * *", "UTC"),
            "at 00:00 on day 1 of the month, UTC"
        );
        assert_eq!(
            describe("*/15 * * * *", "UTC"),
            "every 15 minutes every day, UTC"
        );
        assert_eq!(describe("@every 90s", "UTC"), "every 90s");
        assert_eq!(
            describe("0 0 1 1 *", "UTC"),
            "at 00:00 on day 1 of the month in January, UTC"
        );
        assert_eq!(describe("@reboot", "UTC"), "once when the daemon starts");
    }

    #[test]
    fn other_shapes_are_read_field_by_field() {
        assert_eq!(
            describe("5 */2 * * 0,6", "UTC"),
            "at minute 5, during hour */2 on Sunday, Saturday, UTC"
        );
        assert_eq!(
            describe("*/5 * * * * *", "UTC"),
            "every 5 seconds every day, UTC"
        );
    }
}
