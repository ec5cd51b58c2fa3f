//! Ingest: fetch feeds over HTTP, decode them, parse them into [`Mention`]s and poll on a schedule.

pub mod dedup;
pub mod fetch;
pub mod parse;
pub mod poller;
pub mod push;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// One item seen on a feed (or pushed through the API), as fetched.
///
/// This is the type that crosses from ingest into analyze and the store; its text is kept
/// exactly as the source served it (after charset decoding) so the timeline shows what the
/// team saw.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Mention {
    /// Name of the configured feed, or a free source name for pushed mentions.
    pub feed: String,
    /// Stable identity within the feed: the item's guid, else its link, else a content hash.
    pub guid: String,
    pub title: String,
    /// Summary or content, whichever is longer, as text.
    pub body: String,
    pub author: Option<String>,
    pub url: Option<String>,
    /// When the source says it was published; `None` when absent or unparseable.
    pub published: Option<DateTime<Utc>>,
    /// When tocsin fetched it.
    pub fetched_at: DateTime<Utc>,
    /// Language the feed or item declares (`en`, `zh`, ...), if any.
    pub lang: Option<String>,
    /// Likes + shares + comments, when the source reports them (pushed mentions).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub engagement: Option<f64>,
}

impl Mention {
    /// A mention of just a title and body from `feed`, published and fetched `at`: what a
    /// drill injects, what `tocsin score` reads, and what stories and benchmarks script.
    pub fn text(feed: &str, guid: &str, title: &str, body: &str, at: DateTime<Utc>) -> Mention {
        Mention {
            feed: feed.to_owned(),
            guid: guid.to_owned(),
            title: title.to_owned(),
            body: body.to_owned(),
            author: None,
            url: None,
            published: Some(at),
            fetched_at: at,
            lang: None,
            engagement: None,
        }
    }

    /// The time the mention counts from: its publication time, or the fetch time when unknown
    /// or in the future (a clock-skewed source must not date items ahead of us).
    pub fn effective_time(&self) -> DateTime<Utc> {
        match self.published {
            Some(published) if published <= self.fetched_at => published,
            _ => self.fetched_at,
        }
    }
}
