//! Charts drawn on the server as inline SVG: no script, no remote library, readable under
//! the dashboard's Content-Security-Policy and without JavaScript. Each chart has labelled
//! axes with units and a table with the same figures beside it.

use chrono::{DateTime, Utc};
use maud::{Markup, html};

use super::tr;
use crate::figures::{Point, RuleSeries};
use crate::lang::Lang;

/// The drawing's own units; the SVG scales to the width it is given.
const WIDTH: f64 = 720.0;
const HEIGHT: f64 = 220.0;
/// Room for the axis labels.
const LEFT: f64 = 56.0;
const RIGHT: f64 = 12.0;
const TOP: f64 = 12.0;
const BOTTOM: f64 = 44.0;
/// Time labels along the bottom, at most.
const TIME_LABELS: usize = 6;
/// Line colours for rule series, told apart by colour-blind readers too (Okabe–Ito).
const PALETTE: [&str; 6] = ["#0072b2", "#d55e00", "#009e73", "#cc79a7", "#e69f00", "#56b4e9"];

fn plot_width() -> f64 {
    WIDTH - LEFT - RIGHT
}

fn plot_height() -> f64 {
    HEIGHT - TOP - BOTTOM
}

/// A round step for `ticks` ticks up to at least `max`: 1, 2 or 5 times a power of ten.
fn nice_step(max: f64, ticks: f64) -> f64 {
    let raw = (max / ticks).max(1.0);
    let power = 10f64.powf(raw.log10().floor());
    [1.0, 2.0, 5.0, 10.0].into_iter().map(|m| m * power).find(|step| *step >= raw).unwrap_or(10.0 * power)
}

/// How a bucket's start is written under the axis: the hour for a day, the date otherwise.
fn time_label(at: DateTime<Utc>, bucket_seconds: i64) -> String {
    if bucket_seconds <= 3_600 {
        at.format("%H:%M").to_string()
    } else if bucket_seconds < 86_400 {
        at.format("%m-%d %H:%M").to_string()
    } else {
        at.format("%m-%d").to_string()
    }
}

/// The unit of a count per bucket, as the y axis says it.
fn per_bucket(lang: Lang, bucket_seconds: i64) -> &'static str {
    match bucket_seconds {
        s if s <= 3_600 => tr(lang, "mentions per hour", "每小时提及数"),
        s if s < 86_400 => tr(lang, "mentions per 6 hours", "每 6 小时提及数"),
        _ => tr(lang, "mentions per day", "每日提及数"),
    }
}

/// The x position of bucket `index` of `len` (its middle).
fn x_of(index: usize, len: usize) -> f64 {
    LEFT + plot_width() * (index as f64 + 0.5) / len.max(1) as f64
}

/// The time axis: a baseline and about [`TIME_LABELS`] bucket starts under it.
fn time_axis(lang: Lang, points: &[Point], bucket_seconds: i64) -> Markup {
    let every = points.len().div_ceil(TIME_LABELS).max(1);
    let base = TOP + plot_height();
    html! {
        line x1=(LEFT) y1=(base) x2=(WIDTH - RIGHT) y2=(base) stroke="#555" {}
        @for (index, point) in points.iter().enumerate().filter(|(i, _)| i % every == 0) {
            text x=(x_of(index, points.len())) y=(base + 16.0) text-anchor="middle" font-size="11" {
                (time_label(point.start, bucket_seconds))
            }
        }
        text x=(LEFT + plot_width() / 2.0) y=(HEIGHT - 6.0) text-anchor="middle" font-size="12" {
            (tr(lang, "time (UTC)", "时间（UTC）"))
        }
    }
}

/// A y axis from `low` to `high` with ticks every `step`, and its label written upwards.
fn value_axis(label: &str, low: f64, high: f64, step: f64, decimals: usize) -> Markup {
    let ticks: Vec<f64> =
        (0..).map(|i| low + step * f64::from(i)).take_while(|value| *value <= high + step / 1000.0).take(12).collect();
    html! {
        line x1=(LEFT) y1=(TOP) x2=(LEFT) y2=(TOP + plot_height()) stroke="#555" {}
        @for value in &ticks {
            @let y = y_of(*value, low, high);
            line x1=(LEFT - 4.0) y1=(y) x2=(WIDTH - RIGHT) y2=(y) stroke="#e4e4e4" {}
            text x=(LEFT - 6.0) y=(y + 4.0) text-anchor="end" font-size="11" { (format!("{value:.decimals$}")) }
        }
        text x="12" y=(TOP + plot_height() / 2.0) text-anchor="middle" font-size="12"
            transform={ "rotate(-90 12 " (TOP + plot_height() / 2.0) ")" } { (label) }
    }
}

fn y_of(value: f64, low: f64, high: f64) -> f64 {
    let span = (high - low).max(f64::EPSILON);
    TOP + plot_height() * (1.0 - (value - low) / span)
}

/// The outer `svg` element: scales to its box, read out by its `label`.
fn frame(label: &str, class: &str, body: Markup) -> Markup {
    html! {
        svg class={ "chart " (class) } viewBox={ "0 0 " (WIDTH) " " (HEIGHT) } role="img" aria-label=(label)
            xmlns="http://www.w3.org/2000/svg" preserveAspectRatio="xMidYMid meet" {
            title { (label) }
            (body)
        }
    }
}

/// Mentions per bucket as bars.
pub fn volume(lang: Lang, points: &[Point], bucket_seconds: i64) -> Markup {
    let max = points.iter().map(|p| p.mentions).max().unwrap_or(0) as f64;
    let step = nice_step(max, 4.0);
    let high = (max / step).ceil().max(1.0) * step;
    let slot = plot_width() / points.len().max(1) as f64;
    let label = tr(lang, "Mention volume over time", "提及量随时间变化");
    frame(
        label,
        "volume",
        html! {
            (value_axis(per_bucket(lang, bucket_seconds), 0.0, high, step, 0))
            @for (index, point) in points.iter().enumerate().filter(|(_, p)| p.mentions > 0) {
                @let top = y_of(point.mentions as f64, 0.0, high);
                rect.bar x=(x_of(index, points.len()) - slot * 0.4) y=(top) width=(slot * 0.8)
                    height=(TOP + plot_height() - top) fill="#0072b2" {
                    title { (time_label(point.start, bucket_seconds)) ": " (point.mentions) }
                }
            }
            (time_axis(lang, points, bucket_seconds))
        },
    )
}

/// A polyline through the buckets that have a value, broken where one has none.
fn line_path(values: impl Iterator<Item = Option<f64>>, len: usize, low: f64, high: f64) -> String {
    let mut path = String::new();
    let mut pen_down = false;
    for (index, value) in values.enumerate() {
        match value {
            Some(value) => {
                let command = if pen_down { 'L' } else { 'M' };
                path.push_str(&format!("{command}{:.1},{:.1} ", x_of(index, len), y_of(value, low, high)));
                pen_down = true;
            }
            None => pen_down = false,
        }
    }
    path
}

/// Mean sentiment per bucket, from −1 to +1, with the neutral line drawn.
pub fn sentiment(lang: Lang, points: &[Point], bucket_seconds: i64) -> Markup {
    let label = tr(lang, "Mean sentiment over time", "平均情感随时间变化");
    let path = line_path(points.iter().map(|p| p.sentiment), points.len(), -1.0, 1.0);
    frame(
        label,
        "sentiment",
        html! {
            (value_axis(tr(lang, "mean sentiment (−1 … +1)", "平均情感（−1 … +1）"), -1.0, 1.0, 0.5, 1))
            line x1=(LEFT) y1=(y_of(0.0, -1.0, 1.0)) x2=(WIDTH - RIGHT) y2=(y_of(0.0, -1.0, 1.0)) stroke="#999"
                stroke-dasharray="4 3" {}
            path d=(path) fill="none" stroke="#d55e00" stroke-width="2" {}
            @for (index, point) in points.iter().enumerate() {
                @if let Some(value) = point.sentiment {
                    circle cx=(x_of(index, points.len())) cy=(y_of(value, -1.0, 1.0)) r="2.5" fill="#d55e00" {
                        title { (time_label(point.start, bucket_seconds)) ": " (format!("{value:+.2}")) }
                    }
                }
            }
            (time_axis(lang, points, bucket_seconds))
        },
    )
}

/// Each rule's matches per bucket as a line of its own colour, with a legend under the chart.
pub fn rules(lang: Lang, rules: &[RuleSeries], bucket_seconds: i64) -> Markup {
    let Some(first) = rules.first() else { return html! {} };
    let max = rules.iter().flat_map(|r| r.series.iter().map(|p| p.mentions)).max().unwrap_or(0) as f64;
    let step = nice_step(max, 4.0);
    let high = (max / step).ceil().max(1.0) * step;
    let label = tr(lang, "Matches per rule over time", "各规则命中随时间变化");
    html! {
        (frame(label, "rules", html! {
            (value_axis(per_bucket(lang, bucket_seconds), 0.0, high, step, 0))
            @for (rule, colour) in rules.iter().zip(PALETTE) {
                path d=(line_path(rule.series.iter().map(|p| Some(p.mentions as f64)), rule.series.len(), 0.0, high))
                    fill="none" stroke=(colour) stroke-width="2" { title { (rule.rule) } }
            }
            (time_axis(lang, &first.series, bucket_seconds))
        }))
        ul.legend {
            @for (rule, colour) in rules.iter().zip(PALETTE) {
                li { span.swatch style={ "background:" (colour) } {} " " (rule.rule) " (" (rule.mentions) ")" }
            }
        }
    }
}

/// The figures of a series as a table, for screen readers and for copying.
pub fn series_table(lang: Lang, points: &[Point], bucket_seconds: i64) -> Markup {
    html! {
        details {
            summary { (tr(lang, "Figures as a table", "以表格查看数据")) }
            div.scroll {
                table {
                    tr {
                        th { (tr(lang, "From (UTC)", "起始（UTC）")) }
                        th { (per_bucket(lang, bucket_seconds)) }
                        th { (tr(lang, "Mean sentiment", "平均情感")) }
                    }
                    @for point in points {
                        tr {
                            td { (point.start.format("%Y-%m-%d %H:%M")) }
                            td { (point.mentions) }
                            td { @match point.sentiment { Some(s) => (format!("{s:+.2}")), None => "–" } }
                        }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn point(hour: u32, mentions: i64, sentiment: Option<f64>) -> Point {
        let start = DateTime::parse_from_rfc3339(&format!("2026-03-02T{hour:02}:00:00Z")).expect("time").to_utc();
        Point { start, mentions, sentiment }
    }

    #[test]
    fn steps_are_round() {
        assert_eq!(nice_step(0.0, 4.0), 1.0);
        assert_eq!(nice_step(7.0, 4.0), 2.0);
        assert_eq!(nice_step(37.0, 4.0), 10.0);
        assert_eq!(nice_step(1800.0, 4.0), 500.0);
    }

    #[test]
    fn the_volume_chart_has_one_bar_per_busy_bucket_and_labelled_axes() {
        let points = [point(9, 3, Some(-0.2)), point(10, 0, None), point(11, 12, Some(-0.8))];
        let svg = volume(Lang::En, &points, 3_600).into_string();
        assert_eq!(svg.matches("<rect").count(), 2, "{svg}");
        assert!(svg.contains("mentions per hour") && svg.contains("time (UTC)"), "{svg}");
        assert!(svg.contains(">11:00: 12<"), "a bar names its bucket and count: {svg}");
        let chinese = volume(Lang::Zh, &points, 3_600).into_string();
        assert!(chinese.contains("每小时提及数") && !chinese.contains("mentions per hour"), "{chinese}");
    }

    #[test]
    fn the_sentiment_line_breaks_where_a_bucket_read_nothing() {
        let points = [point(9, 3, Some(-0.5)), point(10, 0, None), point(11, 2, Some(0.5)), point(12, 1, Some(0.0))];
        let path = line_path(points.iter().map(|p| p.sentiment), points.len(), -1.0, 1.0);
        assert_eq!(path.matches('M').count(), 2, "{path}");
        assert_eq!(path.matches('L').count(), 1, "{path}");
    }
}
