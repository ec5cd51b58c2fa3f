//! A brand's figures over a period, from the store's lean mention rows: volume and mean
//! sentiment over time (all, and per rule), by source and language, the period's largest
//! stories and what is rising against its baseline. The overview page and API show them;
//! the daily and weekly report is written from them.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::{DateTime, DurationRound, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use crate::incident::Incident;
use crate::store::OverviewRow;

/// The periods figures are read over: share of voice, rule quality, the mention page, the
/// overview and the report.
const PERIODS: &[(&str, i64)] = &[("24h", 1), ("7d", 7), ("30d", 30)];

/// A period that is not one of [`PERIODS`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("period {0:?} is not 24h, 7d or 30d")]
pub struct UnknownPeriod(pub String);

/// The start of `period` (`24h`, `7d` or `30d`) ending at `to`.
pub fn period_start(period: &str, to: DateTime<Utc>) -> Result<DateTime<Utc>, UnknownPeriod> {
    let days = PERIODS.iter().find(|(name, _)| *name == period).map(|(_, days)| *days);
    let days = days.ok_or_else(|| UnknownPeriod(period.to_owned()))?;
    Ok(to - chrono::Duration::days(days))
}

/// Most mentions one overview counts; past it, the oldest are left out and `truncated` says so.
pub const OVERVIEW_MENTIONS: i64 = 200_000;
/// Stories the overview lists.
const OVERVIEW_STORIES: usize = 10;
/// Rules drawn as their own series; the rest are only in the total.
const OVERVIEW_RULE_SERIES: usize = 6;
/// Open incidents listed on top.
pub const OVERVIEW_INCIDENTS: i64 = 20;
/// A rule, source or language is rising when its last window holds at least this many
/// mentions ...
const RISING_AT_LEAST: i64 = 3;
/// ... and this many times its usual count per window over the rest of the period.
const RISING_FACTOR: f64 = 3.0;

/// The width of one chart bar for a period: an hour for a day, six for a week, a day for a month.
pub fn bucket_of(period: &str) -> chrono::Duration {
    match period {
        "7d" => chrono::Duration::hours(6),
        "30d" => chrono::Duration::days(1),
        _ => chrono::Duration::hours(1),
    }
}

/// Mention volume and mean sentiment over a period, split by rule, source and language,
/// with the period's largest stories and what is rising now.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Overview {
    /// `24h`, `7d` or `30d`.
    pub period: String,
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    /// The width of each point of the series, in seconds.
    pub bucket_seconds: i64,
    /// The window "rising" compares, in seconds: the spike detector's.
    pub window_seconds: i64,
    /// Mentions in the period.
    pub mentions: i64,
    /// Their mean sentiment in [-1, 1]; `null` when none was read.
    pub sentiment: Option<f64>,
    /// Every mention, per bucket, oldest first.
    pub series: Vec<Point>,
    /// The rules with the most matches, each with its own series (same buckets).
    pub rules: Vec<RuleSeries>,
    /// Mentions per source (feed), most first.
    pub sources: Vec<Slice>,
    /// Mentions per language, most first (`und` when none was read).
    pub languages: Vec<Slice>,
    /// The largest near-duplicate stories, most copies first.
    pub stories: Vec<StoryLine>,
    /// Rules, sources and languages whose last window is well above their usual count.
    pub rising: Vec<Rising>,
    /// Incidents open or acknowledged, newest first.
    pub incidents: Vec<Incident>,
    /// More mentions than one overview counts were in the period: the oldest were left out.
    pub truncated: bool,
}

/// One bucket of a series.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Point {
    pub start: DateTime<Utc>,
    pub mentions: i64,
    /// Mean sentiment of the bucket's mentions; `null` when none was read.
    pub sentiment: Option<f64>,
}

/// One rule's matches over the period.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RuleSeries {
    pub rule: String,
    pub mentions: i64,
    pub series: Vec<Point>,
}

/// One source's or language's share of the period.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Slice {
    pub key: String,
    pub mentions: i64,
    pub sentiment: Option<f64>,
}

/// A near-duplicate cluster of mentions in the period.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct StoryLine {
    /// The story's id (its first mention's).
    pub story: i64,
    /// The title of its earliest mention in the period.
    pub headline: String,
    /// Its mentions in the period.
    pub copies: i64,
    /// The sources it was seen in.
    pub sources: Vec<String>,
    pub first_seen: DateTime<Utc>,
    pub last_seen: DateTime<Utc>,
    pub sentiment: Option<f64>,
    /// The rules its mentions matched.
    pub rules: Vec<String>,
}

/// Something rising now against its baseline.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Rising {
    /// `rule`, `source` or `language`.
    pub kind: String,
    pub key: String,
    /// Mentions in the last window.
    pub recent: i64,
    /// Its mean count per window over the rest of the period.
    pub usual: f64,
}

/// Sums of sentiment over the mentions that had one.
#[derive(Default, Clone, Copy)]
struct Mean {
    sum: f64,
    read: u32,
}

impl Mean {
    fn add(&mut self, value: Option<f64>) {
        if let Some(value) = value.filter(|v| v.is_finite()) {
            self.sum += value;
            self.read += 1;
        }
    }

    fn get(self) -> Option<f64> {
        (self.read > 0).then(|| self.sum / f64::from(self.read))
    }
}

/// Counts per bucket, and their sentiment.
struct Buckets {
    first: DateTime<Utc>,
    width: chrono::Duration,
    counts: Vec<(i64, Mean)>,
}

impl Buckets {
    /// Buckets on whole multiples of `width` (UTC) covering `from..to`.
    fn new(from: DateTime<Utc>, to: DateTime<Utc>, width: chrono::Duration) -> Buckets {
        let first = from.duration_trunc(width).unwrap_or(from);
        let span = (to - first).num_seconds().max(1).unsigned_abs();
        let len = usize::try_from(span.div_ceil(width.num_seconds().max(1).unsigned_abs())).unwrap_or(1);
        Buckets { first, width, counts: vec![(0, Mean::default()); len] }
    }

    fn add(&mut self, at: DateTime<Utc>, sentiment: Option<f64>) {
        let index = (at - self.first).num_seconds() / self.width.num_seconds().max(1);
        if let Some(slot) = usize::try_from(index).ok().and_then(|i| self.counts.get_mut(i)) {
            slot.0 += 1;
            slot.1.add(sentiment);
        }
    }

    fn points(&self) -> Vec<Point> {
        let mut start = self.first;
        self.counts
            .iter()
            .map(|(mentions, mean)| {
                let point = Point { start, mentions: *mentions, sentiment: mean.get() };
                start += self.width;
                point
            })
            .collect()
    }
}

/// One story as the rows are counted.
struct StoryCount {
    headline: String,
    copies: i64,
    sources: BTreeSet<String>,
    first_seen: DateTime<Utc>,
    last_seen: DateTime<Utc>,
    sentiment: Mean,
    rules: BTreeSet<String>,
}

/// Counts in the last window and before it, per key.
#[derive(Default)]
struct Trend {
    recent: i64,
    before: i64,
}

/// The overview's figures from the period's mentions (`rows`, in any order), with
/// buckets `width` wide and "rising" judged over the last `window` before `to`.
pub fn summarize(
    rows: &[OverviewRow],
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    width: chrono::Duration,
    window: chrono::Duration,
) -> Overview {
    let mut all = Buckets::new(from, to, width);
    let mut per_rule: BTreeMap<&str, Buckets> = BTreeMap::new();
    let mut sources: HashMap<&str, (i64, Mean)> = HashMap::new();
    let mut languages: HashMap<&str, (i64, Mean)> = HashMap::new();
    let mut stories: HashMap<i64, StoryCount> = HashMap::new();
    let mut trends: BTreeMap<(&str, &str), Trend> = BTreeMap::new();
    let mut mean = Mean::default();
    let recent_since = to - window;
    for row in rows {
        mean.add(row.sentiment);
        all.add(row.at, row.sentiment);
        let lang = row.lang.as_deref().unwrap_or("und");
        for (table, key) in [(&mut sources, row.feed.as_str()), (&mut languages, lang)] {
            let slot = table.entry(key).or_default();
            slot.0 += 1;
            slot.1.add(row.sentiment);
        }
        for rule in &row.rules {
            per_rule.entry(rule).or_insert_with(|| Buckets::new(from, to, width)).add(row.at, row.sentiment);
        }
        let keys = row
            .rules
            .iter()
            .map(|rule| ("rule", rule.as_str()))
            .chain([("source", row.feed.as_str()), ("language", lang)]);
        for key in keys {
            let trend = trends.entry(key).or_default();
            if row.at >= recent_since {
                trend.recent += 1;
            } else {
                trend.before += 1;
            }
        }
        let story = stories.entry(row.story).or_insert_with(|| StoryCount {
            headline: row.title.clone(),
            copies: 0,
            sources: BTreeSet::new(),
            first_seen: row.at,
            last_seen: row.at,
            sentiment: Mean::default(),
            rules: BTreeSet::new(),
        });
        story.copies += 1;
        story.sources.insert(row.feed.clone());
        if row.at < story.first_seen {
            story.first_seen = row.at;
            story.headline.clone_from(&row.title);
        }
        story.last_seen = story.last_seen.max(row.at);
        story.sentiment.add(row.sentiment);
        story.rules.extend(row.rules.iter().cloned());
    }
    let mut rules: Vec<RuleSeries> = per_rule
        .into_iter()
        .map(|(rule, buckets)| RuleSeries {
            rule: rule.to_owned(),
            mentions: buckets.counts.iter().map(|(count, _)| count).sum(),
            series: buckets.points(),
        })
        .collect();
    rules.sort_by(|a, b| b.mentions.cmp(&a.mentions).then_with(|| a.rule.cmp(&b.rule)));
    rules.truncate(OVERVIEW_RULE_SERIES);
    let mut stories: Vec<StoryLine> = stories
        .into_iter()
        .map(|(story, count)| StoryLine {
            story,
            headline: count.headline,
            copies: count.copies,
            sources: count.sources.into_iter().collect(),
            first_seen: count.first_seen,
            last_seen: count.last_seen,
            sentiment: count.sentiment.get(),
            rules: count.rules.into_iter().collect(),
        })
        .collect();
    stories.sort_by(|a, b| b.copies.cmp(&a.copies).then_with(|| b.last_seen.cmp(&a.last_seen)));
    stories.truncate(OVERVIEW_STORIES);
    // The windows before the last one: how often the period held a window like it.
    let windows_before = ((recent_since - from).num_seconds() as f64 / window.num_seconds().max(1) as f64).max(1.0);
    let mut rising: Vec<Rising> = trends
        .into_iter()
        .map(|((kind, key), trend)| Rising {
            kind: kind.to_owned(),
            key: key.to_owned(),
            recent: trend.recent,
            usual: trend.before as f64 / windows_before,
        })
        .filter(|rise| rise.recent >= RISING_AT_LEAST && rise.recent as f64 >= RISING_FACTOR * rise.usual)
        .collect();
    rising.sort_by(|a, b| (b.recent as f64 - b.usual).total_cmp(&(a.recent as f64 - a.usual)));
    Overview {
        period: String::new(),
        from,
        to,
        bucket_seconds: width.num_seconds(),
        window_seconds: window.num_seconds(),
        mentions: i64::try_from(rows.len()).unwrap_or(i64::MAX),
        sentiment: mean.get(),
        series: all.points(),
        rules,
        sources: slices(sources),
        languages: slices(languages),
        stories,
        rising,
        incidents: Vec::new(),
        truncated: false,
    }
}

/// Slices most mentions first, then by name.
fn slices(table: HashMap<&str, (i64, Mean)>) -> Vec<Slice> {
    let mut slices: Vec<Slice> = table
        .into_iter()
        .map(|(key, (mentions, mean))| Slice { key: key.to_owned(), mentions, sentiment: mean.get() })
        .collect();
    slices.sort_by(|a, b| b.mentions.cmp(&a.mentions).then_with(|| a.key.cmp(&b.key)));
    slices
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text).expect("time").with_timezone(&Utc)
    }

    fn row(time: &str, feed: &str, lang: &str, sentiment: f64, story: i64, title: &str, rules: &[&str]) -> OverviewRow {
        OverviewRow {
            at: at(time),
            feed: feed.to_owned(),
            lang: Some(lang.to_owned()),
            sentiment: Some(sentiment),
            story,
            title: title.to_owned(),
            rules: rules.iter().map(|rule| (*rule).to_owned()).collect(),
        }
    }

    #[test]
    fn a_day_is_counted_per_hour_source_language_story_and_rule() {
        let rows = vec![
            row("2026-03-02T09:10:00Z", "news", "en", -0.5, 1, "Recall announced", &["recall"]),
            row("2026-03-02T09:40:00Z", "weibo", "zh", -0.7, 1, "召回", &["recall"]),
            row("2026-03-02T09:50:00Z", "news", "en", 0.5, 3, "New store opens", &[]),
            row("2026-03-02T11:05:00Z", "news", "en", -0.9, 1, "Recall widens", &["recall"]),
        ];
        let from = at("2026-03-01T12:00:00Z");
        let to = at("2026-03-02T12:00:00Z");
        let overview = summarize(&rows, from, to, chrono::Duration::hours(1), chrono::Duration::hours(1));
        assert_eq!(overview.mentions, 4);
        assert_eq!(overview.series.len(), 24);
        let nine = overview.series.iter().find(|p| p.start == at("2026-03-02T09:00:00Z")).expect("09:00");
        assert_eq!(nine.mentions, 3);
        assert!((nine.sentiment.expect("read") - (-0.7 / 3.0)).abs() < 1e-9);
        assert_eq!(overview.series.iter().map(|p| p.mentions).sum::<i64>(), 4);
        assert_eq!(overview.sources[0], Slice { key: "news".into(), mentions: 3, sentiment: Some(-0.3) });
        assert_eq!(
            overview.languages.iter().map(|s| (s.key.as_str(), s.mentions)).collect::<Vec<_>>(),
            [("en", 3), ("zh", 1)]
        );
        assert_eq!(overview.rules.len(), 1);
        assert_eq!(overview.rules[0].mentions, 3);
        let story = &overview.stories[0];
        assert_eq!((story.story, story.copies, story.headline.as_str()), (1, 3, "Recall announced"));
        assert_eq!(story.sources, ["news", "weibo"]);
        assert_eq!((story.first_seen, story.last_seen), (at("2026-03-02T09:10:00Z"), at("2026-03-02T11:05:00Z")));
    }

    #[test]
    fn rising_needs_a_busy_last_window_well_above_its_usual() {
        let mut rows: Vec<OverviewRow> = (0..4)
            .map(|i| row(&format!("2026-03-02T11:{:02}:00Z", 10 + i), "forum", "en", -0.5, 10 + i, "t", &["refund"]))
            .collect();
        // The news source is busy all day: four in its last hour is its usual.
        for hour in 0..24 {
            for minute in [5, 20, 35, 50] {
                let mut news = row("2026-03-01T12:00:00Z", "news", "en", 0.1, 100, "n", &[]);
                news.at += chrono::Duration::minutes(hour * 60 + minute);
                rows.push(news);
            }
        }
        let from = at("2026-03-01T12:00:00Z");
        let to = at("2026-03-02T12:00:00Z");
        let overview = summarize(&rows, from, to, chrono::Duration::hours(1), chrono::Duration::hours(1));
        let keys: Vec<(&str, &str)> = overview.rising.iter().map(|r| (r.kind.as_str(), r.key.as_str())).collect();
        assert!(keys.contains(&("rule", "refund")), "{keys:?}");
        assert!(keys.contains(&("source", "forum")), "{keys:?}");
        assert!(!keys.contains(&("source", "news")), "a source at its usual rate is not rising: {keys:?}");
    }
}
