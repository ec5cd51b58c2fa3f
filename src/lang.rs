//! The languages tocsin speaks to people in: the dashboard, chat templates, the words it
//! uses to explain a score or a timeline event.

use serde::{Deserialize, Serialize};

/// A reader's language (`lang = "en"` or `"zh"` in a channel's config, the dashboard's
/// language switch).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Lang {
    /// English.
    #[default]
    En,
    /// Simplified Chinese.
    Zh,
}

impl Lang {
    pub fn key(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::Zh => "zh",
        }
    }

    /// The text written for this language.
    pub fn pick<'a>(self, en: &'a str, zh: &'a str) -> &'a str {
        match self {
            Lang::En => en,
            Lang::Zh => zh,
        }
    }
}
