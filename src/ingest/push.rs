//! Mentions pushed by other tools (`POST /api/v1/mentions`, `tocsin replay` JSONL), in the
//! shape SPEC §2 fixes, turned into the same [`Mention`] the poller makes.

use super::Mention;
use super::parse::content_hash;
use chrono::{DateTime, Utc};
use serde::Deserialize;

/// Source name of pushed mentions that name no feed.
pub const DEFAULT_SOURCE: &str = "api";

/// One pushed mention. `title` or `body` is required; everything else is optional.
#[derive(Debug, Clone, PartialEq, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MentionInput {
    pub id: Option<String>,
    pub feed: Option<String>,
    pub title: Option<String>,
    pub body: Option<String>,
    pub author: Option<String>,
    pub url: Option<String>,
    pub published: Option<DateTime<Utc>>,
    pub lang: Option<String>,
    /// Likes, shares, comments... as the source counts them; kept for the risk model.
    pub engagement: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PushError {
    #[error("mention {index}: needs a title or a body")]
    Empty { index: usize },
    #[error("mention {index}: engagement must be a non-negative number")]
    Engagement { index: usize },
}

impl MentionInput {
    /// The mention this input describes; `index` only labels errors. The identity is the
    /// given id, else the url, else a hash of the text, so a re-push is recognised.
    pub fn into_mention(self, index: usize, now: DateTime<Utc>) -> Result<Mention, PushError> {
        let title = self.title.unwrap_or_default();
        let body = self.body.unwrap_or_default();
        if title.trim().is_empty() && body.trim().is_empty() {
            return Err(PushError::Empty { index });
        }
        if self.engagement.is_some_and(|e| !(e.is_finite() && e >= 0.0)) {
            return Err(PushError::Engagement { index });
        }
        let guid = match (self.id, &self.url) {
            (Some(id), _) if !id.trim().is_empty() => id,
            (_, Some(url)) if !url.trim().is_empty() => url.clone(),
            _ => format!("sha256:{}", content_hash(&title, &body)),
        };
        Ok(Mention {
            feed: self.feed.filter(|f| !f.trim().is_empty()).unwrap_or_else(|| DEFAULT_SOURCE.to_owned()),
            guid,
            title,
            body,
            author: self.author,
            url: self.url,
            published: self.published,
            fetched_at: now,
            lang: self.lang,
            engagement: self.engagement,
        })
    }
}

/// A push body: one mention or a list of them.
#[derive(Debug, Clone, PartialEq, Deserialize, utoipa::ToSchema)]
#[serde(untagged)]
pub enum PushBody {
    Many(Vec<MentionInput>),
    One(MentionInput),
}

impl PushBody {
    pub fn into_inputs(self) -> Vec<MentionInput> {
        match self {
            PushBody::Many(inputs) => inputs,
            PushBody::One(input) => vec![input],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> DateTime<Utc> {
        DateTime::from_timestamp(1_700_000_000, 0).expect("valid")
    }

    #[test]
    fn identity_is_the_id_then_the_url_then_the_text() {
        let input: MentionInput =
            serde_json::from_str(r#"{"title": "t", "url": "https://x.example/1"}"#).expect("json");
        assert_eq!(input.clone().into_mention(0, now()).expect("ok").guid, "https://x.example/1");
        let with_id = MentionInput { id: Some("abc".into()), ..input };
        assert_eq!(with_id.into_mention(0, now()).expect("ok").guid, "abc");
        let bare: MentionInput = serde_json::from_str(r#"{"body": "艾克米"}"#).expect("json");
        let first = bare.clone().into_mention(0, now()).expect("ok");
        assert!(first.guid.starts_with("sha256:"));
        assert_eq!(first.guid, bare.into_mention(0, now()).expect("ok").guid, "stable across pushes");
        assert_eq!(first.feed, DEFAULT_SOURCE);
    }

    #[test]
    fn empty_mentions_and_unknown_keys_are_refused() {
        let empty: MentionInput = serde_json::from_str(r#"{"title": " "}"#).expect("json");
        assert_eq!(empty.into_mention(3, now()), Err(PushError::Empty { index: 3 }));
        assert!(serde_json::from_str::<PushBody>(r#"{"titel": "x"}"#).is_err());
        let many: PushBody = serde_json::from_str(r#"[{"title": "a"}, {"body": "b"}]"#).expect("json");
        assert_eq!(many.into_inputs().len(), 2);
    }
}
