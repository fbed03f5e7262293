//! A job's durations as an inline SVG drawn on the server: one bar per retained run,
//! oldest left, its height the run's duration, failures marked with a cross as well as
//! a colour. Plain code: runs in, markup out.

use chrono::{DateTime, Utc};
use maud::{Markup, html};

use crate::store::{Run, RunStatus};

const WIDTH: f64 = 600.0;
const HEIGHT: f64 = 120.0;

/// The chart of `runs` (newest first, as the store gives them).
pub fn durations(runs: &[Run], now: DateTime<Utc>) -> Markup {
    let bars: Vec<(&Run, f64)> = runs
        .iter()
        .rev()
        .filter(|r| r.status.is_finished() && r.status != RunStatus::Skipped)
        .filter_map(|r| Some((r, r.duration_s(now)?)))
        .collect();
    if bars.is_empty() {
        return html! { p.muted { "No finished runs to chart yet." } };
    }
    let longest = bars
        .iter()
        .map(|(_, s)| *s)
        .fold(0.0_f64, f64::max)
        .max(0.001);
    let step = WIDTH / bars.len() as f64;
    // Bars no wider than a finger's width, however few runs there are.
    let width = (step * 0.8).clamp(1.0, 24.0);
    let failures = bars
        .iter()
        .filter(|(r, _)| r.status != RunStatus::Succeeded)
        .count();
    html! {
        svg.chart viewBox={ "0 0 " (WIDTH) " " (HEIGHT + 14.0) } role="img"
            aria-label={ "Durations of the last " (bars.len()) " runs, longest " (super::layout::duration(longest)) ", " (failures) " failed" } {
            line x1="0" y1=(HEIGHT) x2=(WIDTH) y2=(HEIGHT) class="axis" {}
            @for (i, (run, seconds)) in bars.iter().enumerate() {
                @let h = (seconds / longest * (HEIGHT - 4.0)).max(1.0);
                @let x = i as f64 * step;
                @let failed = run.status != RunStatus::Succeeded;
                rect x=(format!("{x:.1}")) y=(format!("{:.1}", HEIGHT - h)) width=(format!("{width:.1}")) height=(format!("{h:.1}"))
                    class={ "bar st-" (run.status.as_str()) } data-status=(run.status.as_str()) {
                    title { (run.status.as_str()) ", " (super::layout::duration(*seconds)) ", " (run.queued_at.format("%Y-%m-%d %H:%M UTC")) }
                }
                @if failed {
                    text x=(format!("{:.1}", x + width / 2.0)) y=(HEIGHT + 12.0) class="fail-mark" text-anchor="middle" { "✗" }
                }
            }
        }
    }
}
