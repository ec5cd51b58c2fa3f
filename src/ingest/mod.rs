//! Ingest: fetch feeds over HTTP, decode them, parse them into [`Mention`]s and poll on a schedule.

pub mod dedup;
pub mod fetch;
pub mod parse;
pub mod poller;
pub mod push;

use std::borrow::Cow;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Most bytes of a title or a body that analysis reads. Matching and sentiment cost grows
/// with the text, and a `NEAR` or `EXCEPT` rule's with the square of its hits, so one item
/// of megabytes would hold up its feed and a runtime worker for minutes; a mention says what
/// it is about well within this. The text is stored whole.
pub const ANALYZED_BYTES: usize = 64 * 1024;

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

    /// The mention with NUL characters removed from its text: they carry nothing a reader
    /// sees, and PostgreSQL refuses them in text, which would make one hostile item stop
    /// its whole batch from being stored, again on every poll.
    pub fn without_nul(mut self) -> Mention {
        for field in [&mut self.feed, &mut self.guid, &mut self.title, &mut self.body] {
            if field.contains('\0') {
                field.retain(|c| c != '\0');
            }
        }
        for field in [&mut self.author, &mut self.url, &mut self.lang].into_iter().flatten() {
            if field.contains('\0') {
                field.retain(|c| c != '\0');
            }
        }
        self
    }

    /// Whether analysis reads only the start of this mention's title or body (see
    /// [`ANALYZED_BYTES`]).
    pub fn is_longer_than_analyzed(&self) -> bool {
        self.title.len() > ANALYZED_BYTES || self.body.len() > ANALYZED_BYTES
    }

    /// The mention as analysis reads it: title and body each cut to [`ANALYZED_BYTES`] at a
    /// character boundary. A prefix, so the offsets of what matched hold in the whole text.
    pub fn for_analysis(&self) -> Cow<'_, Mention> {
        if !self.is_longer_than_analyzed() {
            return Cow::Borrowed(self);
        }
        let start = |text: &str| text[..text.floor_char_boundary(ANALYZED_BYTES)].to_owned();
        Cow::Owned(Mention {
            feed: self.feed.clone(),
            guid: self.guid.clone(),
            title: start(&self.title),
            body: start(&self.body),
            author: self.author.clone(),
            url: self.url.clone(),
            published: self.published,
            fetched_at: self.fetched_at,
            lang: self.lang.clone(),
            engagement: self.engagement,
        })
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nul_characters_are_removed_from_every_text_field() {
        let at = DateTime::from_timestamp(1_700_000_000, 0).expect("valid");
        let mut mention = Mention::text("fo\0rum", "g\u{0}1", "Ac\0me", "body\0 text", at);
        mention.author = Some("\0bob".into());
        let clean = mention.without_nul();
        assert_eq!((clean.feed.as_str(), clean.guid.as_str(), clean.title.as_str()), ("forum", "g1", "Acme"));
        assert_eq!((clean.body.as_str(), clean.author.as_deref()), ("body text", Some("bob")));
    }

    #[test]
    fn analysis_reads_the_start_of_a_long_text_cut_between_characters() {
        let at = DateTime::from_timestamp(1_700_000_000, 0).expect("valid");
        let short = Mention::text("f", "g", "title", "body", at);
        assert!(matches!(short.for_analysis(), Cow::Borrowed(_)));
        // 3-byte characters: the limit falls inside one, which is left out whole.
        let long = Mention::text("f", "g", "title", &"食".repeat(ANALYZED_BYTES), at);
        let read = long.for_analysis();
        assert_eq!(read.body.len(), ANALYZED_BYTES - ANALYZED_BYTES % 3);
        assert!(long.body.starts_with(read.body.as_str()));
        assert_eq!((read.title.as_str(), long.body.len()), ("title", 3 * ANALYZED_BYTES));
    }
}
