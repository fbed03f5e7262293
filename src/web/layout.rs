//! The frame every page shares (head, navigation, the one stylesheet and script) and
//! the small pieces pages are made of: an instant as `<time>`, a duration in human
//! form, a status as a word with a shape and a colour.

use chrono::{DateTime, Datelike, Timelike, Utc};
use maud::{DOCTYPE, Markup, html};

use super::session::Viewer;
use crate::store::RunStatus;

/// Which item of the navigation a page is.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Nav {
    Jobs,
    Now,
    History,
    None,
}

/// A whole page: `title`, the navigation with `current` marked, and `body`.
pub fn page(title: &str, current: Nav, viewer: &Viewer, body: Markup) -> Markup {
    let item = |nav: Nav, href: &str, label: &str| {
        html! {
            @if nav == current {
                a href=(href) aria-current="page" { (label) }
            } @else {
                a href=(href) { (label) }
            }
        }
    };
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                meta name="color-scheme" content="light dark";
                title { (title) " · cronq" }
                link rel="stylesheet" href="/assets/dashboard.css";
                script src="/assets/dashboard.js" defer {}
            }
            body {
                header.top {
                    a.brand href="/" { "cronq" }
                    nav aria-label="Pages" {
                        (item(Nav::Jobs, "/", "Jobs"))
                        (item(Nav::Now, "/now", "Now"))
                        (item(Nav::History, "/history", "History"))
                    }
                    div.who {
                        @match &viewer.caller.name {
                            Some(name) => {
                                span { "token " strong { (name) } " (" (viewer.caller.scope) ")" }
                                form method="post" action="/logout" {
                                    input type="hidden" name="csrf" value=(viewer.csrf());
                                    button type="submit" { "Log out" }
                                }
                            }
                            None => span.muted { "read-only" },
                        }
                    }
                }
                main id="main" { (body) }
            }
        }
    }
}

/// An instant: UTC in the page, the browser's zone once the script runs, UTC on hover.
pub fn time(at: &DateTime<Utc>) -> Markup {
    // Written by hand, not by `format`: the jobs page writes 10,000 of these.
    let (date, clock) = (at.date_naive(), at.time());
    let (y, mo, d) = (date.year(), date.month(), date.day());
    let (h, mi, s) = (clock.hour(), clock.minute(), clock.second());
    let utc = format!("{y:04}-{mo:02}-{d:02} {h:02}:{mi:02}:{s:02} UTC");
    html! {
        time datetime=(format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}Z")) title=(utc) { (utc) }
    }
}

/// An optional instant, `–` without one.
pub fn maybe_time(at: Option<&DateTime<Utc>>) -> Markup {
    match at {
        Some(at) => time(at),
        None => html! { span.muted { "–" } },
    }
}

/// Seconds as a person says them: `850 ms`, `12.5 s`, `3 m 05 s`, `2 h 10 m`, `3 d 4 h`.
pub fn duration(seconds: f64) -> String {
    if !seconds.is_finite() || seconds < 0.0 {
        return "–".into();
    }
    if seconds < 1.0 {
        return format!("{} ms", (seconds * 1000.0).round() as u64);
    }
    if seconds < 60.0 {
        return format!("{seconds:.1} s");
    }
    let whole = seconds.round() as u64;
    let (d, h, m, s) = (
        whole / 86_400,
        whole / 3600 % 24,
        whole / 60 % 60,
        whole % 60,
    );
    match (d, h) {
        (0, 0) => format!("{m} m {s:02} s"),
        (0, h) => format!("{h} h {m:02} m"),
        (d, h) => format!("{d} d {h} h"),
    }
}

/// A status's shape, so colour is never the only sign of it.
pub fn shape(status: RunStatus) -> &'static str {
    match status {
        RunStatus::Succeeded => "✓",
        RunStatus::Failed => "✗",
        RunStatus::TimedOut => "◔",
        RunStatus::Cancelled => "⊘",
        RunStatus::Lost => "?",
        RunStatus::Skipped => "↷",
        RunStatus::Queued => "◷",
        RunStatus::Running => "▶",
        RunStatus::Dead => "☠",
    }
}

/// A status as a badge: shape and word, coloured by class `st-STATUS`.
pub fn status(status: RunStatus) -> Markup {
    html! {
        span class={ "badge st-" (status.as_str()) } data-status=(status.as_str()) {
            span aria-hidden="true" { (shape(status)) } " " (status.as_str().replace('_', " "))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{duration, time};

    #[test]
    fn an_instant_is_utc_in_the_page_and_on_hover() {
        let at = chrono::DateTime::parse_from_rfc3339("2026-12-06T09:05:03.7+01:00").unwrap();
        assert_eq!(
            time(&at.with_timezone(&chrono::Utc)).into_string(),
            "<time datetime=\"2026-12-06T08:05:03Z\" title=\"2026-12-06 08:05:03 UTC\">2026-12-06 08:05:03 UTC</time>"
        );
    }

    #[test]
    fn durations_read_as_a_person_says_them() {
        assert_eq!(duration(0.25), "250 ms");
        assert_eq!(duration(12.46), "12.5 s");
        assert_eq!(duration(185.0), "3 m 05 s");
        assert_eq!(duration(7800.0), "2 h 10 m");
        assert_eq!(duration(273_600.0), "3 d 4 h");
        assert_eq!(duration(-1.0), "–");
    }
}
