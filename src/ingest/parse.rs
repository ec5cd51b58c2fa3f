//! Turn fetched feed bytes into [`Mention`]s: charset decoding, recovery of common breakage,
//! feed-rs parsing, and HTML-to-text for titles and bodies.
//!
//! Real feeds are often slightly broken (a bare `&` in a URL, `&nbsp;` that XML does not
//! define). Rather than lose a whole feed during a crisis, the input is repaired before
//! parsing and every repair is listed in [`ParsedFeed::problems`] so the feed's owner can be
//! told.

use std::borrow::Cow;
use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use encoding_rs::Encoding;
use feed_rs::model::{Entry, Feed, FeedType, Link, Text};
use feed_rs::parser::{self, ParseErrorKind, ParseFeedError};
use serde::Serialize;
use sha2::{Digest, Sha256};

use super::{ANALYZED_BYTES, Mention};

/// One feed document, parsed as the poller sees it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ParsedFeed {
    pub title: Option<String>,
    pub link: Option<String>,
    pub language: Option<String>,
    /// The charset the document was decoded with (WHATWG name, e.g. `UTF-8`, `GBK`).
    pub encoding: String,
    pub items: Vec<Mention>,
    /// What was wrong with the document and how it was worked around, for the feed's owner.
    pub problems: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum ParseError {
    /// The document is something other than RSS, Atom or JSON Feed.
    #[error("not a feed: {0}")]
    NotAFeed(String),
    /// The document is a feed but too broken to read even after recovery.
    #[error("malformed feed: {0}")]
    Malformed(String),
}

/// What `tocsin feed parse` prints (SPEC §2): the feed as the poller reads it, with each
/// item's fields kept apart rather than folded into a [`Mention`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FeedReport {
    pub title: Option<String>,
    pub link: Option<String>,
    pub language: Option<String>,
    /// The charset the document was decoded with (WHATWG name, e.g. `UTF-8`, `GBK`).
    pub encoding: String,
    pub problems: Vec<String>,
    pub items: Vec<ItemReport>,
}

/// One item of a [`FeedReport`]; text fields are plain text (HTML removed), times UTC.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ItemReport {
    /// The stable id the poller uses: the guid, else the link, else a content hash.
    pub id: String,
    pub title: Option<String>,
    pub link: Option<String>,
    pub summary: Option<String>,
    pub content: Option<String>,
    pub author: Option<String>,
    pub published: Option<DateTime<Utc>>,
    pub updated: Option<DateTime<Utc>>,
    /// The item's language, else the feed's.
    pub language: Option<String>,
}

/// Parses one fetched document into mentions of `feed_name`.
///
/// `content_type` is the HTTP `Content-Type` (its charset wins over the XML declaration);
/// `base_url` resolves relative links (pass the final URL after redirects).
pub fn parse_feed(
    feed_name: &str,
    bytes: &[u8],
    content_type: Option<&str>,
    base_url: Option<&str>,
    fetched_at: DateTime<Utc>,
) -> Result<ParsedFeed, ParseError> {
    let parsed = parse_document(bytes, content_type, base_url)?;
    let mut problems = parsed.problems;
    let total = parsed.items.len();
    let items: Vec<Mention> = parsed
        .items
        .into_iter()
        .filter(|item| !item.is_empty())
        .map(|item| item.into_mention(feed_name, fetched_at))
        .collect();
    let empty_items = total - items.len();
    if empty_items > 0 {
        problems.push(format!("skipped {empty_items} item(s) with neither a title nor any text"));
    }
    Ok(ParsedFeed {
        title: parsed.title,
        link: parsed.link,
        language: parsed.language,
        encoding: parsed.encoding.to_string(),
        items,
        problems,
    })
}

/// Parses one fetched document exactly as [`parse_feed`] does, keeping each item's fields
/// apart, for `tocsin feed parse`. Unlike the mention list, the report also lists items with
/// neither a title nor any text (the poller skips those), so a user can see them. `fetched_at` is accepted for symmetry with the poller; no
/// field of the report depends on it (an unreadable date stays `null` and is listed in
/// `problems`).
pub fn parse_report(
    bytes: &[u8],
    content_type: Option<&str>,
    base_url: Option<&str>,
    _fetched_at: DateTime<Utc>,
) -> Result<FeedReport, ParseError> {
    let parsed = parse_document(bytes, content_type, base_url)?;
    Ok(FeedReport {
        title: parsed.title,
        link: parsed.link,
        language: parsed.language,
        encoding: parsed.encoding.to_string(),
        problems: parsed.problems,
        items: parsed.items.into_iter().map(ItemFields::into_report).collect(),
    })
}

/// The one parse behind [`parse_feed`] and [`parse_report`].
struct Document {
    title: Option<String>,
    link: Option<String>,
    language: Option<String>,
    encoding: &'static str,
    problems: Vec<String>,
    items: Vec<ItemFields>,
}

/// An item's fields as text, before they are folded into a [`Mention`].
struct ItemFields {
    guid: String,
    title: String,
    summary: String,
    content: String,
    url: Option<String>,
    author: Option<String>,
    published: Option<DateTime<Utc>>,
    updated: Option<DateTime<Utc>>,
    lang: Option<String>,
}

impl ItemFields {
    fn is_empty(&self) -> bool {
        self.title.is_empty() && self.summary.is_empty() && self.content.is_empty()
    }

    /// Whether the mention's body is the content rather than the summary: the longer one.
    fn body_is_content(&self) -> bool {
        self.content.chars().count() > self.summary.chars().count()
    }

    /// Whether analysis will read only the start of this item (see [`ANALYZED_BYTES`]).
    fn is_longer_than_analyzed(&self) -> bool {
        let body = if self.body_is_content() { &self.content } else { &self.summary };
        self.title.len() > ANALYZED_BYTES || body.len() > ANALYZED_BYTES
    }

    fn into_mention(self, feed_name: &str, fetched_at: DateTime<Utc>) -> Mention {
        let body = if self.body_is_content() { self.content } else { self.summary };
        Mention {
            feed: feed_name.to_string(),
            guid: self.guid,
            title: self.title,
            body,
            author: self.author,
            url: self.url,
            published: self.published.or(self.updated),
            fetched_at,
            lang: self.lang,
            engagement: None,
        }
    }

    fn into_report(self) -> ItemReport {
        let some = |s: String| (!s.is_empty()).then_some(s);
        ItemReport {
            id: self.guid,
            title: some(self.title),
            link: self.url,
            summary: some(self.summary),
            content: some(self.content),
            author: self.author,
            published: self.published,
            updated: self.updated,
            language: self.lang,
        }
    }
}

/// Parses a document, turning a panic inside the XML or feed libraries into an error for
/// this feed: fuzzing found inputs that make feed-rs 3 and quick-xml panic (an e-mail
/// address next to a non-ASCII character in an author, a second XML declaration), and one
/// hostile feed must not take its poller down.
fn parse_document(bytes: &[u8], content_type: Option<&str>, base_url: Option<&str>) -> Result<Document, ParseError> {
    std::panic::catch_unwind(|| parse_document_unguarded(bytes, content_type, base_url)).unwrap_or_else(|_| {
        Err(ParseError::Malformed("the feed parser failed on this document (a known feed-rs defect)".to_owned()))
    })
}

fn parse_document_unguarded(
    bytes: &[u8],
    content_type: Option<&str>,
    base_url: Option<&str>,
) -> Result<Document, ParseError> {
    let decoded = decode(bytes, content_type);
    let mut problems = decoded.problems;
    let text = decoded.text;
    if let Some(media_type) = content_type.and_then(|ct| ct.split(';').next()).map(str::trim)
        && ["text/plain", "text/html"].iter().any(|t| media_type.eq_ignore_ascii_case(t))
    {
        problems.push(format!("served as {media_type}, not as a feed; read anyway"));
    }

    let kind = sniff(&text)?;
    let source = match &kind {
        Sniffed::Xml { root } => {
            let (mut repaired, repairs) = repair_xml(&text);
            problems.extend(repairs);
            if let Some(root) = root
                && let Some((fixed, problem)) = fix_rss_version(&repaired, root)
            {
                repaired = Cow::Owned(fixed);
                problems.extend(problem);
            }
            // feed-rs knows Atom 1.0's namespace only; Atom 0.3 uses the same element names
            // for what tocsin reads.
            if repaired.contains(ATOM_03_NS) {
                repaired = Cow::Owned(atom_03_as_10(&repaired));
            }
            if root.as_deref().is_some_and(|r| r.rsplit(':').next() == Some("RDF"))
                && let Some(fixed) = rdf_for_feed_rs(&repaired)
            {
                repaired = Cow::Owned(fixed);
            }
            repaired
        }
        Sniffed::Json => Cow::Borrowed(text.as_ref()),
    };

    let mut whole = true;
    let feed = match run_feed_rs(source.as_bytes(), base_url) {
        Ok(feed) => feed,
        Err(error @ ParseFeedError::XmlReader(_)) => {
            let recovered = match &kind {
                Sniffed::Xml { root: Some(root) } => recover_truncated(&source, root, base_url),
                _ => None,
            };
            match recovered {
                Some((feed, problem)) => {
                    problems.push(format!("{problem} ({error})"));
                    whole = false;
                    feed
                }
                None => return Err(explain_parse_error(error, &kind)),
            }
        }
        Err(ParseFeedError::ParseError(ParseErrorKind::NoFeedRoot)) if matches!(&kind, Sniffed::Xml { root: Some(root) } if is_feed_root(root)) =>
        {
            // `<rss version="2.0"></rss>`: a feed with nothing in it yet, not an error.
            return Ok(Document {
                title: None,
                link: None,
                language: None,
                encoding: decoded.encoding,
                problems,
                items: Vec::new(),
            });
        }
        Err(error) => return Err(explain_parse_error(error, &kind)),
    };

    if whole && let Sniffed::Xml { root: Some(root) } = &kind {
        let dated = feed.entries.iter().filter(|e| e.published.is_some() || e.updated.is_some()).count();
        let unreadable = dated_items_in_source(&source, root).saturating_sub(dated);
        if unreadable > 0 {
            problems.push(format!("{unreadable} item(s) had no readable date; fetch time used"));
        }
    }

    let mut document = convert(&feed);
    let long_items = document.items.iter().filter(|item| item.is_longer_than_analyzed()).count();
    if long_items > 0 {
        problems.push(format!(
            "{long_items} item(s) longer than {ANALYZED_BYTES} bytes: rules and sentiment read the first \
             {ANALYZED_BYTES} bytes of each; the whole text is stored"
        ));
    }
    document.encoding = decoded.encoding;
    document.problems = problems;
    Ok(document)
}

const ATOM_03_NS: &str = "http://purl.org/atom/ns#";
const ATOM_10_NS: &str = "http://www.w3.org/2005/Atom";

/// Atom 0.3 reads as Atom 1.0 once its namespace is swapped, its text constructs' MIME types
/// (`type="text/html"`, with `mode="escaped"`) are given 1.0's names, `issued` and
/// `modified` become `published` and `updated`, and `mode="base64"` text is decoded.
fn atom_03_as_10(text: &str) -> String {
    let mut out = text.replace(ATOM_03_NS, ATOM_10_NS);
    for (from, to) in [("text/plain", "text"), ("text/html", "html"), ("application/xhtml+xml", "xhtml")] {
        for quote in ['"', '\''] {
            out = out.replace(&format!("type={quote}{from}{quote}"), &format!("type={quote}{to}{quote}"));
        }
    }
    for (from, to) in [("issued>", "published>"), ("modified>", "updated>")] {
        out = out.replace(&format!("<{from}"), &format!("<{to}")).replace(&format!("</{from}"), &format!("</{to}"));
    }
    if out.contains("mode=\"base64\"") { decode_base64_elements(&out) } else { out }
}

/// Atom 0.3's `mode="base64"` text, decoded and escaped as the element's text.
fn decode_base64_elements(text: &str) -> String {
    use base64::Engine;
    const MODE: &str = "mode=\"base64\"";
    let mut out = String::with_capacity(text.len());
    let mut copied = 0;
    let mut at = 0;
    while let Some(found) = text[at..].find(MODE) {
        let mode_at = at + found;
        at = mode_at + MODE.len();
        let Some(tag_end) = text[at..].find('>').map(|end| at + end + 1) else { break };
        let Some(body_len) = text[tag_end..].find('<') else { break };
        let encoded: String = text[tag_end..tag_end + body_len].split_whitespace().collect();
        let Ok(decoded) = base64::engine::general_purpose::STANDARD.decode(encoded.as_bytes()) else { continue };
        let decoded = String::from_utf8_lossy(&decoded);
        out.push_str(&text[copied..mode_at]);
        out.push_str(&text[at..tag_end]);
        out.push_str(&decoded.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;"));
        copied = tag_end + body_len;
        at = copied;
    }
    out.push_str(&text[copied..]);
    out
}

/// feed-rs drops every RSS 1.0 item without a `<link>`, though its `rdf:about` names the
/// same resource, and knows RSS 0.90's namespace not at all. Items get their `rdf:about` as
/// a link; 0.90 reads as 1.0.
fn rdf_for_feed_rs(text: &str) -> Option<String> {
    const RSS_090_NS: &str = "http://my.netscape.com/rdf/simple/0.9/";
    const RSS_10_NS: &str = "http://purl.org/rss/1.0/";
    let mut out = String::new();
    let mut copied = 0;
    let mut at = 0;
    while let Some(found) = text[at..].find("<item") {
        let open = at + found;
        let after = &text[open + "<item".len()..];
        at = open + "<item".len();
        if !after.starts_with(|c: char| c == '>' || c.is_ascii_whitespace()) {
            continue;
        }
        let Some(tag_len) = after.find('>') else { break };
        let tag = &after[..tag_len];
        let body_start = at + tag_len + 1;
        let body_end = text[body_start..].find("</item>").map_or(text.len(), |end| body_start + end);
        let body = &text[body_start..body_end];
        at = body_end;
        if body.contains("<link") || tag.ends_with('/') {
            continue;
        }
        let Some(about) = attribute(tag, "rdf:about").filter(|a| !a.trim().is_empty()) else { continue };
        out.push_str(&text[copied..body_start]);
        out.push_str("<link>");
        out.push_str(about.trim());
        out.push_str("</link>");
        copied = body_start;
    }
    if copied == 0 && !text.contains(RSS_090_NS) {
        return None;
    }
    out.push_str(&text[copied..]);
    Some(out.replace(RSS_090_NS, RSS_10_NS))
}

/// The value of `name="..."` (or `'...'`) in the attributes of a start tag.
fn attribute<'a>(tag: &'a str, name: &str) -> Option<&'a str> {
    let at = tag.find(name)?;
    let after = tag[at + name.len()..].trim_start().strip_prefix('=')?.trim_start();
    let quote = after.chars().next().filter(|c| *c == '"' || *c == '\'')?;
    let value = &after[1..];
    Some(&value[..value.find(quote)?])
}

/// Date elements an item may carry; feed-rs leaves the date out when it cannot read it.
const DATE_TAGS: &[&str] =
    &["<pubDate>", "<published>", "<updated>", "<dc:date>", "<atom:updated>", "<atom:published>"];

/// How many items of an RSS, RDF or Atom source hold a non-empty date element: a cheap
/// scan, compared with what feed-rs could read to find unreadable dates.
fn dated_items_in_source(source: &str, root: &str) -> usize {
    let (open, close) = match root.rsplit(':').next().unwrap_or(root) {
        "rss" | "RDF" => ("<item", "</item>"),
        "feed" => ("<entry", "</entry>"),
        _ => return 0,
    };
    let mut count = 0;
    let mut rest = source;
    while let Some(at) = rest.find(open) {
        let after = &rest[at + open.len()..];
        if !after.starts_with(|c: char| c == '>' || c.is_ascii_whitespace()) {
            rest = after;
            continue;
        }
        let end = after.find(close).unwrap_or(after.len());
        let item = &after[..end];
        let has_date = DATE_TAGS.iter().any(|tag| {
            item.match_indices(tag).any(|(pos, _)| {
                let value = &item[pos + tag.len()..];
                let value = &value[..value.find('<').unwrap_or(value.len())];
                !value.trim().is_empty()
            })
        });
        count += usize::from(has_date);
        rest = &after[end..];
    }
    count
}

fn run_feed_rs(source: &[u8], base_url: Option<&str>) -> Result<Feed, ParseFeedError> {
    // feed-rs invents ids (a hash of link and title, or a random UUID) for items without
    // one; the UUID would make every re-fetch look new. Leaving them empty lets us fall
    // back to the link, which is stable.
    parser::Builder::new().base_uri(base_url).id_generator(|_, _, _| String::new()).build().parse(source)
}

fn convert(feed: &Feed) -> Document {
    let markup = Markup::of(feed.feed_type.clone());
    let rss = matches!(feed.feed_type, FeedType::RSS0 | FeedType::RSS2);
    let feed_language = language_tag(feed.language.as_deref());
    let items = feed.entries.iter().map(|entry| item_fields(entry, markup, rss, feed_language.as_deref())).collect();

    Document {
        title: feed.title.as_ref().map(|t| one_line(&markup.text(t))).filter(|t| !t.is_empty()),
        link: main_link(&feed.links),
        language: feed_language,
        encoding: "",
        problems: Vec::new(),
        items,
    }
}

fn item_fields(entry: &Entry, markup: Markup, rss: bool, feed_language: Option<&str>) -> ItemFields {
    let title = entry.title.as_ref().map(|t| one_line(&markup.text(t))).unwrap_or_default();
    let summary = entry.summary.as_ref().map(|t| markup.text(t)).unwrap_or_default();
    let content = entry
        .content
        .as_ref()
        .and_then(|c| {
            let media_type = c.content_type.to_string();
            c.body.as_deref().and_then(|body| markup.content(&media_type, body))
        })
        .unwrap_or_default();

    // An RSS guid is a permalink unless it says otherwise; one that is a web address stands
    // in for a missing <link>.
    let url = main_link(&entry.links).or_else(|| {
        let id = entry.id.trim();
        (rss && (id.starts_with("http://") || id.starts_with("https://"))).then(|| id.to_string())
    });
    let guid = match entry.id.trim() {
        "" => url.clone().unwrap_or_else(|| {
            let body = if content.chars().count() > summary.chars().count() { &content } else { &summary };
            content_hash(&title, body)
        }),
        id => id.to_string(),
    };
    let author = entry.authors.iter().find_map(|person| {
        non_empty(person.name.as_deref()).or_else(|| non_empty(person.email.as_deref())).map(|name| person_name(&name))
    });

    ItemFields {
        guid,
        title,
        summary,
        content,
        url,
        author,
        published: entry.published,
        updated: entry.updated,
        lang: language_tag(entry.language.as_deref()).or_else(|| feed_language.map(str::to_string)),
    }
}

/// How a feed format carries text: RSS says nothing, and in practice its text is HTML;
/// Atom and JSON Feed say so per field, and their plain text must not lose a literal `<`.
#[derive(Clone, Copy)]
enum Markup {
    AlwaysHtml,
    Declared,
}

impl Markup {
    fn of(feed_type: FeedType) -> Markup {
        match feed_type {
            FeedType::Atom | FeedType::JSON => Markup::Declared,
            FeedType::RSS0 | FeedType::RSS1 | FeedType::RSS2 => Markup::AlwaysHtml,
        }
    }

    fn text(self, text: &Text) -> String {
        match self {
            Markup::Declared if text.content_type.to_string().eq_ignore_ascii_case("text/plain") => {
                tidy_whitespace(&text.content)
            }
            _ => html_to_text(&text.content),
        }
    }

    /// Text of an item's content, or `None` when it is not text (an image, base64 data).
    fn content(self, media_type: &str, body: &str) -> Option<String> {
        let media_type = media_type.to_ascii_lowercase();
        let media_type = media_type.split(';').next().unwrap_or_default().trim();
        if media_type == "text/plain" && matches!(self, Markup::Declared) {
            Some(tidy_whitespace(body))
        } else if media_type.starts_with("text/") || media_type.contains("html") || media_type.ends_with("xml") {
            Some(html_to_text(body))
        } else {
            None
        }
    }
}

/// The link a reader would open: the first without a `rel` or with `rel="alternate"`
/// (Atom lists `self` and `edit` links too), else the first of any kind.
fn main_link(links: &[Link]) -> Option<String> {
    links
        .iter()
        .find(|l| l.rel.as_deref().is_none_or(|rel| rel.eq_ignore_ascii_case("alternate")))
        .or_else(|| links.first())
        .and_then(|l| non_empty(Some(&l.href)))
}

/// RSS writes authors as `email (Name)`; feed-rs keeps the parentheses on the name.
fn person_name(raw: &str) -> String {
    let name = one_line(&html_to_text(raw));
    match name.strip_prefix('(').and_then(|n| n.strip_suffix(')')) {
        Some(inner) if !inner.trim().is_empty() => inner.trim().to_string(),
        _ => name,
    }
}

pub(crate) fn content_hash(title: &str, body: &str) -> String {
    let mut hasher = Sha256::new();
    hasher.update(title.as_bytes());
    // The separator keeps ("ab", "c") and ("a", "bc") apart.
    hasher.update([0u8]);
    hasher.update(body.as_bytes());
    hasher.finalize().iter().map(|byte| format!("{byte:02x}")).collect()
}

/// A language tag as BCP 47 writes it: `en_US` is `en-US`.
fn language_tag(value: Option<&str>) -> Option<String> {
    non_empty(value).map(|tag| tag.replace('_', "-"))
}

fn non_empty(value: Option<&str>) -> Option<String> {
    value.map(str::trim).filter(|v| !v.is_empty()).map(str::to_string)
}

// ---------------------------------------------------------------------------------------------
// Charset

struct Decoded<'a> {
    text: Cow<'a, str>,
    /// WHATWG name of the charset used.
    encoding: &'static str,
    problems: Vec<String>,
}

/// Decodes to UTF-8 so that everything after works on one representation, choosing the
/// charset as browsers and RFC 7303 do: byte order mark, then the HTTP charset, then the XML
/// declaration, then UTF-8, then what the bytes look like. A charset that does not fit the bytes gives way to the next one
/// that does, because servers often send a default `charset=utf-8` for files in GBK.
fn decode<'a>(bytes: &'a [u8], content_type: Option<&str>) -> Decoded<'a> {
    let mut problems = Vec::new();

    // encoding_rs leaves out UTF-32 (no browser needs it); some feed generators still emit
    // it. Checked first because its little-endian mark starts like UTF-16's.
    for (big_endian, bom, start) in
        [(true, &b"\0\0\xFE\xFF"[..], &b"\0\0\0<"[..]), (false, &b"\xFF\xFE\0\0"[..], &b"<\0\0\0"[..])]
    {
        let body = match bytes.strip_prefix(bom) {
            Some(body) => body,
            None if bytes.starts_with(start) => bytes,
            None => continue,
        };
        let (text, had_errors) = decode_utf32(body, big_endian);
        let name = if big_endian { "UTF-32BE" } else { "UTF-32LE" };
        return finish(Cow::Owned(text), name, had_errors, problems);
    }

    if let Some((encoding, bom_len)) = Encoding::for_bom(bytes) {
        let (text, _) = encoding.decode_without_bom_handling(&bytes[bom_len..]);
        return finish(text, encoding.name(), false, problems);
    }
    // UTF-16 without a byte order mark still starts with "<?" in two-byte units.
    if bytes.starts_with(b"<\0?\0") || bytes.starts_with(b"\0<\0?") {
        let encoding = if bytes[0] == 0 { encoding_rs::UTF_16BE } else { encoding_rs::UTF_16LE };
        let (text, had_errors) = encoding.decode_without_bom_handling(bytes);
        return finish(text, encoding.name(), had_errors, problems);
    }

    let http_label = content_type.and_then(charset_param);
    let http = http_label.as_deref().and_then(|label| {
        let found = Encoding::for_label(label.as_bytes());
        if found.is_none() {
            problems.push(format!("unknown charset {label:?} in Content-Type; ignored"));
        }
        found
    });
    let declared_label = declared_encoding(bytes);
    let declared = declared_label.as_deref().and_then(|label| {
        match Encoding::for_label(label.as_bytes()) {
            None => {
                problems.push(format!("unknown encoding {label:?} in the XML declaration; ignored"));
                None
            }
            // The declaration was readable as ASCII, so the document cannot be UTF-16.
            Some(e) if e == encoding_rs::UTF_16LE || e == encoding_rs::UTF_16BE => {
                problems.push(format!("the XML declaration says {label:?} but the document is not UTF-16"));
                None
            }
            found => found,
        }
    });

    let mut candidates: Vec<&'static Encoding> = Vec::new();
    for encoding in [http, declared, Some(encoding_rs::UTF_8)].into_iter().flatten() {
        if !candidates.contains(&encoding) {
            candidates.push(encoding);
        }
    }
    // Nothing declared fits: sniff from the bytes, as browsers do (chardetng is Firefox's
    // detector; on Latin bytes it answers windows-1252, which decodes anything).
    let mut detector = chardetng::EncodingDetector::new(chardetng::Iso2022JpDetection::Deny);
    detector.feed(bytes, true);
    let sniffed = detector.guess(None, chardetng::Utf8Detection::Allow);
    if !candidates.contains(&sniffed) {
        candidates.push(sniffed);
    }

    if let (Some(http), Some(declared)) = (http, declared)
        && http != declared
    {
        problems.push(format!(
            "Content-Type says charset {} but the document declares {}",
            http.name(),
            declared.name()
        ));
    }

    let first = candidates[0];
    for &encoding in &candidates {
        let (text, had_errors) = encoding.decode_without_bom_handling(bytes);
        // A UTF-8 document with a few broken bytes stays UTF-8, each broken sequence a
        // U+FFFD: read as a charset that takes any byte, every other character would be
        // garbled to save those few.
        if !had_errors || (encoding == encoding_rs::UTF_8 && mostly_utf8(bytes)) {
            if encoding != first {
                problems.push(format!("the bytes are not valid {}; decoded as {}", first.name(), encoding.name()));
            }
            return finish(text, encoding.name(), had_errors, problems);
        }
    }
    let (text, had_errors) = first.decode_without_bom_handling(bytes);
    finish(text, first.name(), had_errors, problems)
}

/// Whether bytes that are not valid UTF-8 are still UTF-8 text with some damage: more than
/// twice as many well-formed multi-byte characters as broken sequences. Text in GBK, Big5
/// or Latin-1 forms well-formed UTF-8 sequences only by chance, far fewer than broken ones.
fn mostly_utf8(bytes: &[u8]) -> bool {
    let (mut multibyte, mut broken) = (0usize, 0usize);
    for chunk in bytes.utf8_chunks() {
        multibyte += chunk.valid().chars().filter(|c| !c.is_ascii()).count();
        broken += usize::from(!chunk.invalid().is_empty());
    }
    multibyte > 2 * broken
}

fn decode_utf32(bytes: &[u8], big_endian: bool) -> (String, bool) {
    let mut had_errors = !bytes.len().is_multiple_of(4);
    let text = bytes
        .chunks_exact(4)
        .map(|unit| {
            let unit = [unit[0], unit[1], unit[2], unit[3]];
            let code = if big_endian { u32::from_be_bytes(unit) } else { u32::from_le_bytes(unit) };
            char::from_u32(code).unwrap_or_else(|| {
                had_errors = true;
                '\u{FFFD}'
            })
        })
        .collect();
    (text, had_errors)
}

fn finish<'a>(text: Cow<'a, str>, encoding: &'static str, had_errors: bool, mut problems: Vec<String>) -> Decoded<'a> {
    if had_errors {
        problems.push(format!("some bytes are not valid {encoding}; replaced with U+FFFD"));
    }
    // The text is UTF-8 now; a declaration naming another charset would make feed-rs
    // decode it a second time.
    let text = match xml_declaration_end(&text) {
        Some(end) => match text {
            Cow::Borrowed(s) => Cow::Borrowed(&s[end..]),
            Cow::Owned(s) => Cow::Owned(s[end..].to_string()),
        },
        None => text,
    };
    Decoded { text, encoding, problems }
}

/// The `charset` parameter of a Content-Type value.
fn charset_param(content_type: &str) -> Option<String> {
    content_type.split(';').skip(1).find_map(|param| {
        let (name, value) = param.split_once('=')?;
        name.trim()
            .eq_ignore_ascii_case("charset")
            .then(|| value.trim().trim_matches(['"', '\'']).to_string())
            .filter(|v| !v.is_empty())
    })
}

/// The `encoding` of an XML declaration, read as ASCII (every charset a feed uses, except
/// UTF-16, spells it so).
fn declared_encoding(bytes: &[u8]) -> Option<String> {
    let head = &bytes[..bytes.len().min(512)];
    let start = head.iter().position(|b| !b.is_ascii_whitespace())?;
    let head = &head[start..];
    if !head.starts_with(b"<?xml") {
        return None;
    }
    let end = head.windows(2).position(|w| w == b"?>")?;
    let decl = std::str::from_utf8(&head[..end]).ok()?;
    let after = &decl[decl.find("encoding")? + "encoding".len()..];
    let after = after.trim_start().strip_prefix('=')?.trim_start();
    let quote = after.chars().next().filter(|c| *c == '"' || *c == '\'')?;
    let value = &after[1..];
    Some(value[..value.find(quote)?].trim().to_string())
}

/// Byte offset just past a leading `<?xml ...?>` declaration.
fn xml_declaration_end(text: &str) -> Option<usize> {
    let start = text.len() - text.trim_start().len();
    text[start..].starts_with("<?xml").then(|| text[start..].find("?>").map(|end| start + end + 2)).flatten()
}

// ---------------------------------------------------------------------------------------------
// Recognising what was fetched

enum Sniffed {
    /// `root` is the root element's name, when one was found.
    Xml {
        root: Option<String>,
    },
    Json,
}

/// Refuses what is plainly not a feed, with a message that says what it was instead: a
/// login page or a CDN error page served with status 200 is the usual case.
fn sniff(text: &str) -> Result<Sniffed, ParseError> {
    let trimmed = text.trim_start_matches(|c: char| c.is_whitespace() || c == '\u{feff}');
    match trimmed.chars().next() {
        None => Err(ParseError::NotAFeed("the body is empty".to_string())),
        Some('{') => Ok(Sniffed::Json),
        Some('[') => Err(ParseError::NotAFeed("got a JSON array, not a JSON Feed object".to_string())),
        Some('<') => {
            let root = root_element(trimmed);
            if let Some(root) = &root {
                let local = root.rsplit(':').next().unwrap_or(root).to_ascii_lowercase();
                if matches!(local.as_str(), "html" | "head" | "body") {
                    return Err(ParseError::NotAFeed(format!("got an HTML page (<{root}>)")));
                }
            }
            if doctype_is_html(trimmed) && !root.as_deref().is_some_and(is_feed_root) {
                return Err(ParseError::NotAFeed("got an HTML page (<!DOCTYPE html>)".to_string()));
            }
            Ok(Sniffed::Xml { root })
        }
        Some(_) => Err(ParseError::NotAFeed(format!(
            "got text that is neither XML nor JSON, starting {:?}",
            trimmed.chars().take(40).collect::<String>()
        ))),
    }
}

/// The name of the first element, skipping declarations, comments and the doctype.
fn root_element(text: &str) -> Option<String> {
    root_element_at(text).map(|(name, _)| name)
}

/// The root element's name and the byte offset of its `<`.
fn root_element_at(text: &str) -> Option<(String, usize)> {
    let mut rest = text;
    loop {
        rest = rest.trim_start();
        if rest.starts_with("<?") {
            rest = &rest[rest.find("?>")? + 2..];
        } else if rest.starts_with("<!--") {
            rest = &rest[rest.find("-->")? + 3..];
        } else if rest.starts_with("<!") {
            rest = &rest[rest.find('>')? + 1..];
        } else if let Some(tag) = rest.strip_prefix('<') {
            let name: String =
                tag.chars().take_while(|c| c.is_alphanumeric() || matches!(c, ':' | '-' | '_' | '.')).collect();
            return (!name.is_empty()).then_some((name, text.len() - rest.len()));
        } else {
            return None;
        }
    }
}

/// feed-rs only accepts `<rss>` with version 2.0, 0.91 or 0.92 and rejects the rest as "no
/// feed"; 0.93, 0.94, 2.01 and a missing version are all read fine as 2.0.
fn fix_rss_version(text: &str, root: &str) -> Option<(String, Option<String>)> {
    if root != "rss" {
        return None;
    }
    let (_, start) = root_element_at(text)?;
    let tag_end = start + text[start..].find('>')?;
    let attrs_start = start + "<rss".len();
    let attrs = &text[attrs_start..tag_end];
    let version = attrs.find("version").and_then(|at| {
        let after = attrs[at + "version".len()..].trim_start().strip_prefix('=')?.trim_start();
        let quote = after.chars().next().filter(|c| *c == '"' || *c == '\'')?;
        let value_start = attrs.len() - after.len() + 1;
        let value_len = after[1..].find(quote)?;
        Some((at, value_start, value_len))
    });
    let mut fixed = String::with_capacity(text.len() + 16);
    let problem = match version {
        Some((_, value_start, value_len)) => {
            let value = &attrs[value_start..value_start + value_len];
            if matches!(value.trim(), "2.0" | "" | "0.91" | "0.92") {
                return None;
            }
            fixed.push_str(&text[..attrs_start + value_start]);
            fixed.push_str("2.0");
            fixed.push_str(&text[attrs_start + value_start + value_len..]);
            Some(format!("unsupported RSS version {value:?}; read as RSS 2.0"))
        }
        None => {
            fixed.push_str(&text[..attrs_start]);
            fixed.push_str(" version=\"2.0\"");
            fixed.push_str(&text[attrs_start..]);
            // Readers all take a versionless <rss> as RSS; nothing for the owner to fix.
            None
        }
    };
    Some((fixed, problem))
}

/// Reads as many whole items as possible from a document that is cut off or broken part
/// way: the longest prefix ending at an item's end tag that parses once the open elements
/// are closed. Binary search keeps a huge broken feed to a few parses. A document whose
/// only damage is a cut-off end tag of its root (`</rss`) loses nothing.
fn recover_truncated(text: &str, root: &str, base_url: Option<&str>) -> Option<(Feed, String)> {
    let local = root.rsplit(':').next().unwrap_or(root);
    let item_end = match local {
        "rss" | "RDF" => "</item>",
        "feed" => "</entry>",
        _ => return None,
    };
    let closers = |cut: usize| {
        let head = &text[..cut];
        let channel_open = local == "rss"
            && head.rfind("<channel").is_some_and(|open| head.rfind("</channel>").is_none_or(|close| close < open));
        format!("{}</{root}>", if channel_open { "</channel>" } else { "" })
    };
    let mut cuts: Vec<usize> = text.match_indices(item_end).map(|(at, _)| at + item_end.len()).collect();
    let trimmed = text.trim_end();
    let root_end = format!("</{root}");
    let tail_cut = trimmed
        .rfind("</")
        .filter(|&at| root_end.starts_with(&trimmed[at..]) && cuts.last().is_none_or(|&last| last <= at));
    cuts.extend(tail_cut);

    let attempt = |cut: usize| {
        let mut candidate = text[..cut].to_string();
        candidate.push_str(&closers(cut));
        run_feed_rs(candidate.as_bytes(), base_url).ok()
    };
    let (mut low, mut high) = (0, cuts.len());
    let mut best = None;
    while low < high {
        let mid = low + (high - low) / 2;
        match attempt(cuts[mid]) {
            Some(feed) => {
                best = Some((cuts[mid], feed));
                low = mid + 1;
            }
            None => high = mid,
        }
    }
    let (cut, feed) = best?;
    if Some(cut) == tail_cut {
        return Some((feed, format!("the end tag of <{root}> is cut off")));
    }
    let line = text[..cut].matches('\n').count() + 1;
    let problem = format!(
        "the document is cut off or broken after line {line}; kept the {} item(s) before that",
        feed.entries.len()
    );
    Some((feed, problem))
}

fn doctype_is_html(text: &str) -> bool {
    let head: String = text.chars().take(200).collect::<String>().to_ascii_lowercase();
    head.find("<!doctype").is_some_and(|at| head[at + "<!doctype".len()..].trim_start().starts_with("html"))
}

fn is_feed_root(root: &str) -> bool {
    matches!(root.rsplit(':').next().unwrap_or(root), "rss" | "feed" | "RDF" | "entry")
}

fn explain_parse_error(error: ParseFeedError, kind: &Sniffed) -> ParseError {
    match (error, kind) {
        (ParseFeedError::ParseError(ParseErrorKind::NoFeedRoot), Sniffed::Xml { root: Some(root) })
            if is_feed_root(root) =>
        {
            ParseError::NotAFeed(format!("got an empty <{root}> document (no <channel>, or none that can be read)"))
        }
        (ParseFeedError::ParseError(ParseErrorKind::NoFeedRoot), Sniffed::Xml { root: Some(root) }) => {
            ParseError::NotAFeed(format!("got an XML document whose root is <{root}>, not <rss>, <feed> or <rdf:RDF>"))
        }
        (ParseFeedError::ParseError(ParseErrorKind::NoFeedRoot), _) => {
            ParseError::NotAFeed("the document has no root element".to_string())
        }
        (ParseFeedError::JsonSerde(e), _) => ParseError::NotAFeed(format!("got JSON that is not a JSON Feed ({e})")),
        (ParseFeedError::JsonUnsupportedVersion(version), _) => {
            ParseError::NotAFeed(format!("got JSON with an unsupported JSON Feed version {version:?}"))
        }
        (error, _) => ParseError::Malformed(error.to_string()),
    }
}

// ---------------------------------------------------------------------------------------------
// Recovery before parsing

/// Repairs entity mistakes that make XML parsers give up: a bare `&` is escaped, HTML
/// entities XML does not define become character references, and character references to
/// characters XML forbids become U+FFFD. CDATA sections and comments are left alone,
/// since `&` is literal there.
fn repair_xml(text: &str) -> (Cow<'_, str>, Vec<String>) {
    let mut out = String::new();
    let mut copied = 0; // `text[..copied]` is already in `out`
    let mut stray = Tally::default();
    let mut html_entities = Tally::default();
    let mut unknown_entities = Tally::default();
    let mut bad_refs = Tally::default();
    let mut upper_x = Tally::default();

    let mut i = 0;
    while let Some(offset) = text[i..].find(['&', '<']) {
        i += offset;
        let rest = &text[i..];
        if rest.starts_with('<') {
            let skip_to = if rest.starts_with("<![CDATA[") {
                rest.find("]]>").map(|end| end + 3)
            } else if rest.starts_with("<!--") {
                rest.find("-->").map(|end| end + 3)
            } else {
                Some(1)
            };
            // An unterminated section runs to the end; nothing after it can be repaired.
            i += skip_to.unwrap_or(rest.len());
            continue;
        }

        let (replacement, len): (Cow<str>, usize) = match entity_at(rest) {
            Some((EntityRef::Char(code), len)) if is_xml_char(code) => {
                if !rest.starts_with("&#X") {
                    i += len;
                    continue;
                }
                upper_x.add(&rest[..len], text, i);
                (Cow::Owned(format!("&#x{code:X};")), len)
            }
            Some((EntityRef::Char(_), len)) => {
                bad_refs.add(&rest[..len], text, i);
                (Cow::Borrowed("&#xFFFD;"), len)
            }
            Some((EntityRef::Named(name), len)) => {
                if matches!(name, "amp" | "lt" | "gt" | "quot" | "apos") {
                    i += len;
                    continue;
                }
                match html_entity(name) {
                    Some(code) => {
                        html_entities.add(&rest[..len], text, i);
                        (Cow::Owned(format!("&#{code};")), len)
                    }
                    None => {
                        unknown_entities.add(&rest[..len], text, i);
                        (Cow::Owned(format!("&amp;{name};")), len)
                    }
                }
            }
            None => {
                stray.add("&", text, i);
                (Cow::Borrowed("&amp;"), 1)
            }
        };
        out.push_str(&text[copied..i]);
        out.push_str(&replacement);
        i += len;
        copied = i;
    }

    let mut problems = Vec::new();
    upper_x.report(
        &mut problems,
        "rewrote",
        "character reference(s) written with an uppercase X, which XML does not allow",
    );
    stray.report(&mut problems, "escaped", "stray '&' not starting an entity");
    html_entities.report(
        &mut problems,
        "replaced",
        "HTML entity reference(s) that XML does not define with character references",
    );
    unknown_entities.report(&mut problems, "escaped", "unknown entity reference(s), kept as text");
    bad_refs.report(&mut problems, "replaced", "character reference(s) to characters XML forbids with U+FFFD");

    if copied == 0 {
        (Cow::Borrowed(text), problems)
    } else {
        out.push_str(&text[copied..]);
        (Cow::Owned(out), problems)
    }
}

/// Counts one kind of repair, remembering a few examples and where the first was.
#[derive(Default)]
struct Tally {
    count: usize,
    first_line: usize,
    examples: BTreeSet<String>,
}

impl Tally {
    fn add(&mut self, example: &str, text: &str, at: usize) {
        if self.count == 0 {
            self.first_line = text[..at].matches('\n').count() + 1;
        }
        self.count += 1;
        if self.examples.len() < 5 {
            self.examples.insert(example.to_string());
        }
    }

    fn report(&self, problems: &mut Vec<String>, verb: &str, what: &str) {
        if self.count == 0 {
            return;
        }
        let examples: Vec<&str> = self.examples.iter().map(String::as_str).collect();
        problems.push(format!(
            "{verb} {} {what} ({}; first on line {})",
            self.count,
            examples.join(" "),
            self.first_line
        ));
    }
}

enum EntityRef<'a> {
    Char(u32),
    Named(&'a str),
}

/// Reads a well-formed reference at the start of `text` (which starts with `&`): `&#123;`,
/// `&#x1F;` or `&name;`. Returns it with its length in bytes.
fn entity_at(text: &str) -> Option<(EntityRef<'_>, usize)> {
    let body = text.strip_prefix('&')?;
    let end = body.bytes().take(34).position(|b| b == b';')?;
    let inner = &body[..end];
    let len = end + 2;
    if let Some(number) = inner.strip_prefix('#') {
        let code = match number.strip_prefix(['x', 'X']) {
            Some(hex) if !hex.is_empty() && hex.bytes().all(|b| b.is_ascii_hexdigit()) => {
                u32::from_str_radix(hex, 16).unwrap_or(u32::MAX)
            }
            Some(_) => return None,
            None if !number.is_empty() && number.bytes().all(|b| b.is_ascii_digit()) => {
                number.parse().unwrap_or(u32::MAX)
            }
            None => return None,
        };
        return Some((EntityRef::Char(code), len));
    }
    let mut bytes = inner.bytes();
    let valid_name = bytes.next().is_some_and(|b| b.is_ascii_alphabetic()) && bytes.all(|b| b.is_ascii_alphanumeric());
    valid_name.then_some((EntityRef::Named(inner), len))
}

/// XML 1.0's `Char` production.
fn is_xml_char(code: u32) -> bool {
    matches!(code, 0x9 | 0xA | 0xD | 0x20..=0xD7FF | 0xE000..=0xFFFD | 0x1_0000..=0x10_FFFF)
}

// ---------------------------------------------------------------------------------------------
// HTML to text

/// Elements whose content is not text a reader sees; dropped whole, so script in a hostile
/// feed never reaches rules, alerts or the dashboard.
const DROPPED_ELEMENTS: &[&str] = &["script", "style", "noscript", "template", "svg", "math", "head", "title"];

/// Elements that end a line of text.
const BLOCK_ELEMENTS: &[&str] = &[
    "address",
    "article",
    "aside",
    "blockquote",
    "br",
    "dd",
    "div",
    "dl",
    "dt",
    "figcaption",
    "figure",
    "footer",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "header",
    "hr",
    "li",
    "main",
    "nav",
    "ol",
    "p",
    "pre",
    "section",
    "table",
    "tr",
    "ul",
];

/// Every other HTML element name; `<` followed by anything else is text ("x<y", "<3").
const INLINE_ELEMENTS: &[&str] = &[
    "a",
    "abbr",
    "acronym",
    "area",
    "audio",
    "b",
    "base",
    "bdi",
    "bdo",
    "big",
    "body",
    "button",
    "canvas",
    "caption",
    "center",
    "cite",
    "code",
    "col",
    "colgroup",
    "data",
    "datalist",
    "del",
    "details",
    "dfn",
    "dialog",
    "em",
    "embed",
    "fieldset",
    "font",
    "form",
    "frame",
    "frameset",
    "html",
    "i",
    "img",
    "input",
    "ins",
    "kbd",
    "label",
    "legend",
    "link",
    "map",
    "mark",
    "menu",
    "meta",
    "meter",
    "output",
    "param",
    "picture",
    "progress",
    "q",
    "rp",
    "rt",
    "ruby",
    "s",
    "samp",
    "select",
    "small",
    "source",
    "span",
    "strike",
    "strong",
    "sub",
    "summary",
    "sup",
    "tbody",
    "td",
    "textarea",
    "tfoot",
    "th",
    "thead",
    "time",
    "track",
    "tt",
    "u",
    "var",
    "video",
    "wbr",
    "option",
    "optgroup",
    // Obsolete or plugin elements: the tags go, any fallback text inside stays.
    "iframe",
    "object",
    "applet",
    "blink",
    "marquee",
    "basefont",
    "bgsound",
    "datagrid",
    "dir",
    "m",
    "multicol",
    "nextid",
    "sound",
    "spacer",
    "nobr",
    "listing",
    "xmp",
    "keygen",
    "layer",
    "ilayer",
    "isindex",
    "noembed",
    "noframes",
    "plaintext",
    "strike",
    "image",
];

/// Text of an HTML fragment: tags removed (script and style with their content), entities
/// decoded, whitespace collapsed, block elements kept as line breaks.
pub fn html_to_text(html: &str) -> String {
    let mut out = String::with_capacity(html.len());
    let mut i = 0;
    while let Some(offset) = html[i..].find(['<', '&']) {
        out.push_str(&html[i..i + offset]);
        i += offset;
        let rest = &html[i..];
        if rest.starts_with('&') {
            match decode_html_entity(rest) {
                Some((ch, len)) => {
                    out.push(ch);
                    i += len;
                }
                None => {
                    out.push('&');
                    i += 1;
                }
            }
            continue;
        }
        if let Some(inner) = rest.strip_prefix("<![CDATA[") {
            let end = inner.find("]]>").unwrap_or(inner.len());
            out.push_str(&inner[..end]);
            i += "<![CDATA[".len() + (end + 3).min(inner.len());
        } else if rest.starts_with("<!--") {
            i += rest.find("-->").map_or(rest.len(), |end| end + 3);
        } else if (rest.starts_with("<!") || rest.starts_with("<?"))
            && rest[2..].starts_with(|c: char| c.is_ascii_alphabetic())
        {
            i += rest.find('>').map_or(rest.len(), |end| end + 1);
        } else if let Some(tag) = read_tag(rest) {
            i += tag.len;
            let name = tag.name.as_str();
            if !tag.closing && !tag.self_closing && DROPPED_ELEMENTS.contains(&name) {
                // Unclosed script swallows the rest: leaking code as text is worse than
                // losing a tail.
                i += find_closing_tag(&html[i..], name).unwrap_or(html.len() - i);
            } else if BLOCK_ELEMENTS.contains(&name) {
                out.push('\n');
            } else if matches!(name, "td" | "th" | "img") {
                out.push(' ');
            }
        } else {
            out.push('<');
            i += 1;
        }
    }
    out.push_str(&html[i..]);
    tidy_whitespace(&out)
}

struct Tag {
    name: String,
    closing: bool,
    self_closing: bool,
    len: usize,
}

/// Reads a tag at the start of `text` when it names an HTML element (or a namespaced one
/// like Word's `<o:p>`) and is closed by `>`; quoted attribute values may contain `>`.
fn read_tag(text: &str) -> Option<Tag> {
    let after_lt = text.strip_prefix('<')?;
    let (closing, name_start) = match after_lt.strip_prefix('/') {
        Some(rest) => (true, rest),
        None => (false, after_lt),
    };
    let name_len = name_start
        .bytes()
        .position(|b| !(b.is_ascii_alphanumeric() || matches!(b, b':' | b'-' | b'_')))
        .unwrap_or(name_start.len());
    let name = name_start[..name_len].to_ascii_lowercase();
    let known = BLOCK_ELEMENTS.contains(&name.as_str())
        || INLINE_ELEMENTS.contains(&name.as_str())
        || DROPPED_ELEMENTS.contains(&name.as_str())
        || (name.contains([':', '-']) && name.starts_with(|c: char| c.is_ascii_alphabetic()));
    if !known {
        return None;
    }
    let after_name = &name_start[name_len..];
    if !(after_name.is_empty() || after_name.starts_with(|c: char| c.is_ascii_whitespace() || c == '/' || c == '>')) {
        return None;
    }

    let mut quote: Option<u8> = None;
    for (pos, byte) in after_name.bytes().enumerate() {
        match (quote, byte) {
            (Some(q), b) if b == q => quote = None,
            (Some(_), _) => {}
            (None, b'"' | b'\'') => quote = Some(byte),
            (None, b'>') => {
                let consumed = text.len() - after_name.len() + pos + 1;
                return Some(Tag {
                    self_closing: after_name[..pos].trim_end().ends_with('/'),
                    name,
                    closing,
                    len: consumed,
                });
            }
            (None, _) => {}
        }
    }
    None
}

/// Length of `text` up to and including the `</name ...>` that closes a dropped element.
fn find_closing_tag(text: &str, name: &str) -> Option<usize> {
    let needle = format!("</{name}");
    let bytes = text.as_bytes();
    let start = bytes.windows(needle.len()).position(|w| w.eq_ignore_ascii_case(needle.as_bytes()))?;
    let end = text[start..].find('>')?;
    Some(start + end + 1)
}

/// Decodes one HTML character reference at the start of `text`.
fn decode_html_entity(text: &str) -> Option<(char, usize)> {
    let (entity, len) = entity_at(text)?;
    let code = match entity {
        EntityRef::Named(name) => html_entity(name)?,
        // HTML reads &#128;..&#159; as windows-1252, as old feeds meant them.
        EntityRef::Char(code @ 0x80..=0x9F) => {
            let byte = [u8::try_from(code).ok()?];
            let (decoded, _) = encoding_rs::WINDOWS_1252.decode_without_bom_handling(&byte);
            return decoded.chars().next().map(|ch| (ch, len));
        }
        EntityRef::Char(0) => 0xFFFD,
        EntityRef::Char(code) => code,
    };
    Some((char::from_u32(code).unwrap_or('\u{FFFD}'), len))
}

/// Latin-1 entity names, in code point order from U+00A0.
const LATIN1_ENTITIES: [&str; 96] = [
    "nbsp", "iexcl", "cent", "pound", "curren", "yen", "brvbar", "sect", "uml", "copy", "ordf", "laquo", "not", "shy",
    "reg", "macr", "deg", "plusmn", "sup2", "sup3", "acute", "micro", "para", "middot", "cedil", "sup1", "ordm",
    "raquo", "frac14", "frac12", "frac34", "iquest", "Agrave", "Aacute", "Acirc", "Atilde", "Auml", "Aring", "AElig",
    "Ccedil", "Egrave", "Eacute", "Ecirc", "Euml", "Igrave", "Iacute", "Icirc", "Iuml", "ETH", "Ntilde", "Ograve",
    "Oacute", "Ocirc", "Otilde", "Ouml", "times", "Oslash", "Ugrave", "Uacute", "Ucirc", "Uuml", "Yacute", "THORN",
    "szlig", "agrave", "aacute", "acirc", "atilde", "auml", "aring", "aelig", "ccedil", "egrave", "eacute", "ecirc",
    "euml", "igrave", "iacute", "icirc", "iuml", "eth", "ntilde", "ograve", "oacute", "ocirc", "otilde", "ouml",
    "divide", "oslash", "ugrave", "uacute", "ucirc", "uuml", "yacute", "thorn", "yuml",
];

/// Code point of an HTML named entity: Latin-1 and the punctuation, symbols and Greek
/// letters that turn up in feeds (HTML 4's set, which covers them).
fn html_entity(name: &str) -> Option<u32> {
    if let Some(index) = LATIN1_ENTITIES.iter().position(|n| *n == name) {
        return u32::try_from(index).ok().map(|i| 0xA0 + i);
    }
    let code = match name {
        "quot" => 34,
        "amp" => 38,
        "apos" => 39,
        "lt" => 60,
        "gt" => 62,
        "OElig" => 338,
        "oelig" => 339,
        "Scaron" => 352,
        "scaron" => 353,
        "Yuml" => 376,
        "fnof" => 402,
        "circ" => 710,
        "tilde" => 732,
        "Alpha" => 913,
        "Beta" => 914,
        "Gamma" => 915,
        "Delta" => 916,
        "Epsilon" => 917,
        "Zeta" => 918,
        "Eta" => 919,
        "Theta" => 920,
        "Iota" => 921,
        "Kappa" => 922,
        "Lambda" => 923,
        "Mu" => 924,
        "Nu" => 925,
        "Xi" => 926,
        "Omicron" => 927,
        "Pi" => 928,
        "Rho" => 929,
        "Sigma" => 931,
        "Tau" => 932,
        "Upsilon" => 933,
        "Phi" => 934,
        "Chi" => 935,
        "Psi" => 936,
        "Omega" => 937,
        "alpha" => 945,
        "beta" => 946,
        "gamma" => 947,
        "delta" => 948,
        "epsilon" => 949,
        "zeta" => 950,
        "eta" => 951,
        "theta" => 952,
        "iota" => 953,
        "kappa" => 954,
        "lambda" => 955,
        "mu" => 956,
        "nu" => 957,
        "xi" => 958,
        "omicron" => 959,
        "pi" => 960,
        "rho" => 961,
        "sigmaf" => 962,
        "sigma" => 963,
        "tau" => 964,
        "upsilon" => 965,
        "phi" => 966,
        "chi" => 967,
        "psi" => 968,
        "omega" => 969,
        "thetasym" => 977,
        "upsih" => 978,
        "piv" => 982,
        "ensp" => 0x2002,
        "emsp" => 0x2003,
        "thinsp" => 0x2009,
        "zwnj" => 0x200C,
        "zwj" => 0x200D,
        "lrm" => 0x200E,
        "rlm" => 0x200F,
        "ndash" => 0x2013,
        "mdash" => 0x2014,
        "lsquo" => 0x2018,
        "rsquo" => 0x2019,
        "sbquo" => 0x201A,
        "ldquo" => 0x201C,
        "rdquo" => 0x201D,
        "bdquo" => 0x201E,
        "dagger" => 0x2020,
        "Dagger" => 0x2021,
        "bull" => 0x2022,
        "hellip" => 0x2026,
        "permil" => 0x2030,
        "prime" => 0x2032,
        "Prime" => 0x2033,
        "lsaquo" => 0x2039,
        "rsaquo" => 0x203A,
        "oline" => 0x203E,
        "frasl" => 0x2044,
        "euro" => 0x20AC,
        "image" => 0x2111,
        "weierp" => 0x2118,
        "real" => 0x211C,
        "trade" => 0x2122,
        "alefsym" => 0x2135,
        "larr" => 0x2190,
        "uarr" => 0x2191,
        "rarr" => 0x2192,
        "darr" => 0x2193,
        "harr" => 0x2194,
        "crarr" => 0x21B5,
        "lArr" => 0x21D0,
        "uArr" => 0x21D1,
        "rArr" => 0x21D2,
        "dArr" => 0x21D3,
        "hArr" => 0x21D4,
        "forall" => 0x2200,
        "part" => 0x2202,
        "exist" => 0x2203,
        "empty" => 0x2205,
        "nabla" => 0x2207,
        "isin" => 0x2208,
        "notin" => 0x2209,
        "ni" => 0x220B,
        "prod" => 0x220F,
        "sum" => 0x2211,
        "minus" => 0x2212,
        "lowast" => 0x2217,
        "radic" => 0x221A,
        "prop" => 0x221D,
        "infin" => 0x221E,
        "ang" => 0x2220,
        "and" => 0x2227,
        "or" => 0x2228,
        "cap" => 0x2229,
        "cup" => 0x222A,
        "int" => 0x222B,
        "there4" => 0x2234,
        "sim" => 0x223C,
        "cong" => 0x2245,
        "asymp" => 0x2248,
        "ne" => 0x2260,
        "equiv" => 0x2261,
        "le" => 0x2264,
        "ge" => 0x2265,
        "sub" => 0x2282,
        "sup" => 0x2283,
        "nsub" => 0x2284,
        "sube" => 0x2286,
        "supe" => 0x2287,
        "oplus" => 0x2295,
        "otimes" => 0x2297,
        "perp" => 0x22A5,
        "sdot" => 0x22C5,
        "lceil" => 0x2308,
        "rceil" => 0x2309,
        "lfloor" => 0x230A,
        "rfloor" => 0x230B,
        "lang" => 0x2329,
        "rang" => 0x232A,
        "loz" => 0x25CA,
        "spades" => 0x2660,
        "clubs" => 0x2663,
        "hearts" => 0x2665,
        "diams" => 0x2666,
        _ => return None,
    };
    Some(code)
}

/// Collapses runs of whitespace (no-break spaces included) to one space per line and drops
/// empty lines.
fn tidy_whitespace(text: &str) -> String {
    let text = c1_as_windows_1252(text);
    text.lines()
        .map(|line| line.split_whitespace().collect::<Vec<_>>().join(" "))
        .filter(|line| !line.is_empty())
        .collect::<Vec<_>>()
        .join("\n")
}

/// U+0080..U+009F are control characters nobody means; a feed that has them (usually from
/// `&#146;`) meant windows-1252's curly quotes and dashes, as browsers read them.
fn c1_as_windows_1252(text: &str) -> Cow<'_, str> {
    if !text.chars().any(|c| matches!(c, '\u{80}'..='\u{9f}')) {
        return Cow::Borrowed(text);
    }
    Cow::Owned(
        text.chars()
            .map(|c| match u8::try_from(u32::from(c)) {
                Ok(byte @ 0x80..=0x9f) => {
                    encoding_rs::WINDOWS_1252.decode_without_bom_handling(&[byte]).0.chars().next().unwrap_or(c)
                }
                _ => c,
            })
            .collect(),
    )
}

fn one_line(text: &str) -> String {
    text.replace('\n', " ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inputs_that_panic_the_feed_libraries_are_errors_or_feeds_never_panics() {
        let crashes: [&[u8]; 3] = [
            "<rss version=\"2.0\"><channel><title>c</title><item><title>t</title><author>me@example.com（编辑）</author></item></channel></rss>".as_bytes(),
            "<rss version=\"2.0\"><channel><title>c</title><item><title>t</title><author>作者：me@example.com</author></item></channel></rss>".as_bytes(),
            b"<?xml version=\"1.0\"?><rss version=\"2.0\"><channel><title>c</title><item><title>t</title></item><?xml version=\"1.0\" encoding=\"gbk\"?></channel></rss>",
        ];
        for input in crashes {
            // Either outcome is fine; what matters is that it returns.
            let _ = parse_feed("f", input, None, None, Utc::now());
            let _ = parse_report(input, Some("text/xml; charset=gbk"), None, Utc::now());
        }
    }

    #[test]
    fn an_undeclared_gbk_feed_is_sniffed() {
        let xml = "<?xml version=\"1.0\"?><rss version=\"2.0\"><channel><title>艾克米酸奶食物中毒事件持续发酵</title>\
                   <item><title>网友称喝了艾克米酸奶后食物中毒，孩子上吐下泻，已经去医院检查</title></item></channel></rss>";
        let (bytes, _, _) = encoding_rs::GBK.encode(xml);
        let report = parse_report(&bytes, Some("application/rss+xml"), None, Utc::now()).expect("parses");
        assert_eq!(report.encoding, "GBK");
        assert_eq!(report.title.as_deref(), Some("艾克米酸奶食物中毒事件持续发酵"));
    }
    use chrono::TimeZone;

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2024, 3, 1, 12, 0, 0).single().expect("valid time")
    }

    fn parse(doc: &str) -> ParsedFeed {
        parse_feed("test", doc.as_bytes(), None, None, now()).expect("parses")
    }

    const RSS: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0">
  <channel>
    <title>Acme News</title>
    <link>https://news.example.com/</link>
    <language>en-us</language>
    <item>
      <title>Acme &lt;b&gt;recall&lt;/b&gt; widens</title>
      <link>https://news.example.com/a/1</link>
      <guid isPermaLink="false">tag:news.example.com,2024:1</guid>
      <description>&lt;p&gt;Acme recalls &amp;amp; apologises.&lt;/p&gt;&lt;p&gt;Second para&lt;/p&gt;</description>
      <author>desk@news.example.com (News Desk)</author>
      <pubDate>Tue, 27 Feb 2024 09:30:00 +0000</pubDate>
    </item>
  </channel>
</rss>"#;

    #[test]
    fn an_rss_item_becomes_a_mention_with_text_not_html() {
        let feed = parse(RSS);
        assert_eq!(feed.title.as_deref(), Some("Acme News"));
        assert_eq!(feed.link.as_deref(), Some("https://news.example.com/"));
        assert_eq!(feed.language.as_deref(), Some("en-us"));
        assert_eq!(feed.encoding, "UTF-8");
        assert!(feed.problems.is_empty(), "{:?}", feed.problems);
        let item = &feed.items[0];
        assert_eq!(item.feed, "test");
        assert_eq!(item.guid, "tag:news.example.com,2024:1");
        assert_eq!(item.title, "Acme recall widens");
        assert_eq!(item.body, "Acme recalls & apologises.\nSecond para");
        assert_eq!(item.url.as_deref(), Some("https://news.example.com/a/1"));
        assert_eq!(item.author.as_deref(), Some("News Desk"));
        assert_eq!(item.published, Utc.with_ymd_and_hms(2024, 2, 27, 9, 30, 0).single());
        assert_eq!(item.fetched_at, now());
        assert_eq!(item.lang.as_deref(), Some("en-us"));
    }

    #[test]
    fn an_atom_entry_keeps_plain_text_and_prefers_the_longer_content() {
        let doc = r#"<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom" xml:lang="en">
  <title>Complaints</title>
  <id>urn:feed</id>
  <link rel="self" href="https://c.example.org/feed.atom"/>
  <link rel="alternate" href="https://c.example.org/"/>
  <updated>2024-02-28T10:00:00Z</updated>
  <entry>
    <title type="text">Is x &lt; y at Acme?</title>
    <id>urn:entry:42</id>
    <link rel="edit" href="https://c.example.org/edit/42"/>
    <link rel="alternate" href="https://c.example.org/42"/>
    <updated>2024-02-28T09:00:00Z</updated>
    <author><name>Jane Roe</name></author>
    <summary>Short.</summary>
    <content type="html">&lt;div&gt;The long story: Acme &amp;mdash; again&lt;br/&gt;late delivery&lt;/div&gt;</content>
  </entry>
</feed>"#;
        let feed = parse(doc);
        assert_eq!(feed.title.as_deref(), Some("Complaints"));
        assert_eq!(feed.link.as_deref(), Some("https://c.example.org/"));
        let item = &feed.items[0];
        assert_eq!(item.guid, "urn:entry:42");
        assert_eq!(item.title, "Is x < y at Acme?");
        assert_eq!(item.body, "The long story: Acme — again\nlate delivery");
        assert_eq!(item.url.as_deref(), Some("https://c.example.org/42"));
        assert_eq!(item.author.as_deref(), Some("Jane Roe"));
        // No <published>: the update time stands in.
        assert_eq!(item.published, Utc.with_ymd_and_hms(2024, 2, 28, 9, 0, 0).single());
    }

    #[test]
    fn an_rdf_item_uses_its_link_as_guid() {
        let doc = r#"<?xml version="1.0"?>
<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns="http://purl.org/rss/1.0/"
         xmlns:dc="http://purl.org/dc/elements/1.1/">
  <channel rdf:about="https://forum.example.net/">
    <title>Forum</title>
    <link>https://forum.example.net/</link>
    <dc:language>zh-cn</dc:language>
  </channel>
  <item rdf:about="https://forum.example.net/t/7">
    <title>艾克米 酸奶 食物中毒?</title>
    <link>https://forum.example.net/t/7</link>
    <description>孩子吃了以后肚子疼</description>
    <dc:date>2024-02-29T08:00:00+08:00</dc:date>
    <dc:creator>小王</dc:creator>
  </item>
</rdf:RDF>"#;
        let feed = parse(doc);
        assert_eq!(feed.title.as_deref(), Some("Forum"));
        let item = &feed.items[0];
        assert_eq!(item.guid, "https://forum.example.net/t/7");
        assert_eq!(item.title, "艾克米 酸奶 食物中毒?");
        assert_eq!(item.body, "孩子吃了以后肚子疼");
        assert_eq!(item.author.as_deref(), Some("小王"));
        assert_eq!(item.published, Utc.with_ymd_and_hms(2024, 2, 29, 0, 0, 0).single());
    }

    #[test]
    fn a_guidless_item_gets_the_same_guid_on_every_fetch() {
        let doc = r#"<rss version="2.0"><channel><title>t</title>
            <item><title>One</title><link>https://e.example/1</link></item>
            <item><title>Linkless</title><description>only text</description></item>
        </channel></rss>"#;
        let first = parse(doc);
        let second = parse(doc);
        assert_eq!(first.items[0].guid, "https://e.example/1");
        assert_eq!(first.items[1].guid.len(), 64, "content hash: {}", first.items[1].guid);
        assert_eq!(
            first.items.iter().map(|m| &m.guid).collect::<Vec<_>>(),
            second.items.iter().map(|m| &m.guid).collect::<Vec<_>>()
        );
    }

    #[test]
    fn relative_links_resolve_against_the_base_url() {
        let doc = r#"<rss version="2.0"><channel><title>t</title>
            <item><title>One</title><link>/story/1</link></item></channel></rss>"#;
        let feed = parse_feed("t", doc.as_bytes(), None, Some("https://e.example/feeds/rss"), now()).expect("parses");
        assert_eq!(feed.items[0].url.as_deref(), Some("https://e.example/story/1"));
        assert_eq!(feed.items[0].guid, "https://e.example/story/1");
    }

    #[test]
    fn a_stray_ampersand_is_escaped_and_reported() {
        let doc = r#"<rss version="2.0"><channel><title>Q&A with Acme</title>
            <item><title>Tom & Jerry &amp; Acme</title><link>https://e.example/?a=1&b=2</link>
            <description><![CDATA[<p>R&D & more</p>]]></description></item></channel></rss>"#;
        let feed = parse(doc);
        assert_eq!(feed.title.as_deref(), Some("Q&A with Acme"));
        let item = &feed.items[0];
        assert_eq!(item.title, "Tom & Jerry & Acme");
        assert_eq!(item.url.as_deref(), Some("https://e.example/?a=1&b=2"));
        // CDATA is left alone: its '&' was never a problem.
        assert_eq!(item.body, "R&D & more");
        assert_eq!(feed.problems.len(), 1, "{:?}", feed.problems);
        assert!(feed.problems[0].starts_with("escaped 3 stray '&'"), "{}", feed.problems[0]);
        assert!(feed.problems[0].contains("first on line 1"), "{}", feed.problems[0]);
    }

    #[test]
    fn html_entities_undefined_in_xml_are_recovered() {
        let doc = "<rss version=\"2.0\"><channel><title>t</title>\n<item><title>Acme&nbsp;Corp &mdash; &eacute;t&eacute; &bogus;</title>\
                   <link>https://e.example/1</link></item></channel></rss>";
        let feed = parse(doc);
        assert_eq!(feed.items[0].title, "Acme Corp — été &bogus;");
        assert!(
            feed.problems.iter().any(|p| p.starts_with("replaced 4 HTML entity") && p.contains("&nbsp;")),
            "{:?}",
            feed.problems
        );
        assert!(feed.problems.iter().any(|p| p.contains("&bogus;")), "{:?}", feed.problems);
    }

    #[test]
    fn script_and_style_content_never_reaches_the_body() {
        let doc = r#"<rss version="2.0"><channel><title>t</title><item><title>Hi</title>
            <link>https://e.example/1</link>
            <description>&lt;p onclick="steal()"&gt;Real text&lt;/p&gt;&lt;SCRIPT type="text/javascript"&gt;var x = "&lt;/p&gt;"; alert(document.cookie)&lt;/script &gt;&lt;style&gt;p{color:red}&lt;/style&gt; tail &lt;!-- hidden --&gt;</description>
            </item></channel></rss>"#;
        let body = &parse(doc).items[0].body;
        assert_eq!(body, "Real text\ntail");
    }

    #[test]
    fn html_to_text_keeps_literal_angle_brackets_and_decodes_references() {
        assert_eq!(html_to_text("a<b>b</b> x<y 1 <3 you"), "ab x<y 1 <3 you");
        assert_eq!(
            html_to_text("&#8220;quoted&#8221; &#x4e2d;&#25991; &#146;s &amp;amp; AT&T"),
            "“quoted” 中文 ’s &amp; AT&T"
        );
        assert_eq!(html_to_text("<img src=x alt='a>b'>after"), "after");
        assert_eq!(html_to_text("<o:p>word</o:p>"), "word");
        assert_eq!(html_to_text("<!' <!DOCTYPE x>ok <?php echo 1 ?>"), "<!' ok");
        assert_eq!(html_to_text("<script>never closed"), "");
        assert_eq!(html_to_text("  spaced \u{a0} out\n\n\nlines "), "spaced out\nlines");
    }

    #[test]
    fn the_latin1_entity_table_lines_up_with_code_points() {
        assert_eq!(html_entity("nbsp"), Some(0xA0));
        assert_eq!(html_entity("copy"), Some(0xA9));
        assert_eq!(html_entity("eacute"), Some(0xE9));
        assert_eq!(html_entity("yuml"), Some(0xFF));
        assert_eq!(html_entity("nope"), None);
    }

    #[test]
    fn documents_that_are_not_feeds_say_what_they_are() {
        let cases = [
            (
                "<!DOCTYPE html>\n<html><head><title>Login</title></head></html>",
                "not a feed: got an HTML page (<html>)",
            ),
            ("<!doctype html><meta charset=utf-8><p>Hi", "not a feed: got an HTML page (<!DOCTYPE html>)"),
            ("", "not a feed: the body is empty"),
            ("  \n ", "not a feed: the body is empty"),
            ("[1, 2]", "not a feed: got a JSON array, not a JSON Feed object"),
            (
                "<?xml version=\"1.0\"?><note><to>x</to></note>",
                "not a feed: got an XML document whose root is <note>, not <rss>, <feed> or <rdf:RDF>",
            ),
            (
                "Service Unavailable",
                "not a feed: got text that is neither XML nor JSON, starting \"Service Unavailable\"",
            ),
        ];
        for (doc, expected) in cases {
            let err = parse_feed("t", doc.as_bytes(), None, None, now()).expect_err(doc);
            assert!(matches!(err, ParseError::NotAFeed(_)), "{doc}: {err:?}");
            assert_eq!(err.to_string(), expected, "{doc}");
        }
        let err = parse_feed("t", br#"{"error": "rate limited"}"#, None, None, now()).expect_err("json");
        assert!(matches!(err, ParseError::NotAFeed(ref m) if m.starts_with("got JSON")), "{err}");
    }

    #[test]
    fn a_json_feed_parses() {
        let doc = r#"{"version": "https://jsonfeed.org/version/1.1", "title": "J", "language": "en",
            "items": [{"id": "1", "url": "https://j.example/1", "title": "T",
                       "content_html": "<p>Hello <b>world</b></p>", "date_published": "2024-02-01T00:00:00Z"}]}"#;
        let feed = parse(doc);
        assert_eq!(feed.title.as_deref(), Some("J"));
        let item = &feed.items[0];
        assert_eq!((item.guid.as_str(), item.body.as_str()), ("1", "Hello world"));
    }

    #[test]
    fn the_http_charset_decodes_a_gbk_feed() {
        let xml = "<?xml version=\"1.0\"?><rss version=\"2.0\"><channel><title>新闻</title>\
                   <item><title>艾克米食物中毒</title><link>https://e.example/1</link></item></channel></rss>";
        let (gbk, _, _) = encoding_rs::GBK.encode(xml);
        let feed = parse_feed("t", &gbk, Some("text/xml; charset=GB2312"), None, now()).expect("parses");
        assert_eq!(feed.encoding, "GBK");
        assert_eq!(feed.items[0].title, "艾克米食物中毒");

        // The same bytes declared in the document, with a server that claims UTF-8.
        let declared = xml.replace("<?xml version=\"1.0\"?>", "<?xml version=\"1.0\" encoding=\"gb2312\"?>");
        let (gbk, _, _) = encoding_rs::GBK.encode(&declared);
        let feed = parse_feed("t", &gbk, Some("application/rss+xml; charset=utf-8"), None, now()).expect("parses");
        assert_eq!(feed.encoding, "GBK");
        assert_eq!(feed.items[0].title, "艾克米食物中毒");
        assert!(feed.problems.iter().any(|p| p.contains("not valid UTF-8")), "{:?}", feed.problems);
    }

    #[test]
    fn a_utf8_feed_with_a_few_broken_bytes_keeps_its_text_with_replacement_characters() {
        let mut doc = b"<?xml version=\"1.0\" encoding=\"UTF-8\"?><rss version=\"2.0\"><channel><title>t</title>\
            <item><title>\xe8\x89\xbe\xe5\x85\x8b\xe7\xb1\xb3\xff\xe9\x85\xb8\xe5\xa5\xb6</title></item>"
            .to_vec();
        doc.extend_from_slice(b"<item><title>Caf\xe9 \xe4\xb8\xad\xe6\x96\x87</title></item></channel></rss>");
        let feed = parse_feed("t", &doc, Some("application/rss+xml; charset=utf-8"), None, now()).expect("parses");
        assert_eq!(feed.encoding, "UTF-8");
        let titles: Vec<&str> = feed.items.iter().map(|i| i.title.as_str()).collect();
        assert_eq!(titles, ["艾克米\u{FFFD}酸奶", "Caf\u{FFFD} 中文"]);
        assert_eq!(feed.problems, ["some bytes are not valid UTF-8; replaced with U+FFFD"]);

        // Latin-1 text labelled UTF-8 has no UTF-8 in it at all: read as windows-1252.
        let latin = b"<rss version=\"2.0\"><channel><item><title>Caf\xe9 cr\xe8me</title></item></channel></rss>";
        let feed = parse_feed("t", latin, Some("text/xml; charset=utf-8"), None, now()).expect("parses");
        assert_eq!(feed.items[0].title, "Café crème");
    }

    #[test]
    fn an_item_with_no_text_at_all_is_skipped_and_reported() {
        let doc = r#"<rss version="2.0"><channel><title>t</title>
            <item><guid>x</guid></item><item><title>kept</title></item></channel></rss>"#;
        let feed = parse(doc);
        assert_eq!(feed.items.len(), 1);
        assert_eq!(feed.problems, vec!["skipped 1 item(s) with neither a title nor any text".to_string()]);
    }

    #[test]
    fn serializes_for_feed_parse() {
        let json = serde_json::to_value(parse(RSS)).expect("serializes");
        assert_eq!(json["title"], "Acme News");
        assert_eq!(json["encoding"], "UTF-8");
        assert_eq!(json["items"][0]["guid"], "tag:news.example.com,2024:1");
        assert_eq!(json["items"][0]["published"], "2024-02-27T09:30:00Z");
    }

    #[test]
    fn the_report_keeps_each_field_apart_in_the_spec_shape() {
        let doc = r#"<feed xmlns="http://www.w3.org/2005/Atom" xml:lang="en"><title>C</title>
  <link href="https://c.example.org/"/>
  <entry><id>urn:1</id><title>T</title><link href="https://c.example.org/1"/>
    <published>2024-02-28T08:00:00+01:00</published><updated>2024-02-28T09:00:00Z</updated>
    <author><name>Jane</name></author><summary>Short.</summary>
    <content type="html">&lt;p&gt;Long &lt;b&gt;body&lt;/b&gt;&lt;/p&gt;</content></entry>
  <entry><id>urn:2</id></entry>
</feed>"#;
        let report = parse_report(doc.as_bytes(), None, None, now()).expect("parses");
        let json = serde_json::to_value(&report).expect("serializes");
        for key in ["title", "link", "language", "encoding", "problems", "items"] {
            assert!(json.get(key).is_some(), "missing {key}: {json}");
        }
        let item = &json["items"][0];
        assert_eq!(item["id"], "urn:1");
        assert_eq!(item["title"], "T");
        assert_eq!(item["link"], "https://c.example.org/1");
        assert_eq!(item["summary"], "Short.");
        assert_eq!(item["content"], "Long body");
        assert_eq!(item["author"], "Jane");
        assert_eq!(item["published"], "2024-02-28T07:00:00Z");
        assert_eq!(item["updated"], "2024-02-28T09:00:00Z");
        assert_eq!(item["language"], "en");
        // The empty entry is shown (the poller skips it), with nulls for what it lacks.
        let empty = &json["items"][1];
        assert_eq!(empty["id"], "urn:2");
        for key in ["title", "link", "summary", "content", "author", "published", "updated"] {
            assert!(empty[key].is_null(), "{key}: {empty}");
        }
        assert!(report.problems.is_empty(), "{:?}", report.problems);

        // The same parse behind the poller's mentions.
        let feed = parse(doc);
        assert_eq!(feed.items.len(), 1);
        assert_eq!(feed.items[0].body, "Long body");
        assert_eq!(feed.items[0].published, Utc.with_ymd_and_hms(2024, 2, 28, 7, 0, 0).single());
    }

    #[test]
    fn unreadable_dates_are_reported_once_and_the_item_kept() {
        let doc = r#"<rss version="2.0"><channel><title>t</title>
            <item><title>a</title><pubDate>the day before yesterday</pubDate></item>
            <item><title>b</title><pubDate>sometime soon</pubDate></item>
            <item><title>c</title><pubDate>Tue, 27 Feb 2024 09:30:00 +0000</pubDate></item>
            <item><title>d</title></item></channel></rss>"#;
        let feed = parse(doc);
        assert_eq!(feed.items.len(), 4);
        assert_eq!(feed.items[0].published, None);
        assert_eq!(feed.items[0].effective_time(), now());
        assert_eq!(feed.problems, vec!["2 item(s) had no readable date; fetch time used".to_string()]);
        let report = parse_report(doc.as_bytes(), None, None, now()).expect("parses");
        assert_eq!(report.problems, feed.problems);
        assert_eq!(report.items[0].published, None);
    }

    #[test]
    fn rss_1_items_without_a_link_and_atom_0_3_feeds_are_read() {
        let rdf = r#"<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns="http://purl.org/rss/1.0/">
<channel rdf:about="https://f.example/"><title>F</title><items><rdf:Seq><rdf:li resource="https://f.example/1"/></rdf:Seq></items></channel>
<item rdf:about="https://f.example/1"><title>One</title></item></rdf:RDF>"#;
        let feed = parse(rdf);
        assert_eq!(feed.items.len(), 1);
        assert_eq!(feed.items[0].url.as_deref(), Some("https://f.example/1"));

        let atom03 = r#"<feed version="0.3" xmlns="http://purl.org/atom/ns#"><title type="text/plain">A</title>
<entry><title type="text/html" mode="escaped">&lt;b&gt;Bold&lt;/b&gt; move</title>
<summary type="text/html" mode="base64">PGk+aGk8L2k+ICZhbXA7IGJ5ZQ==</summary>
<issued>2024-02-01T00:00:00Z</issued></entry></feed>"#;
        let feed = parse(atom03);
        assert_eq!(feed.title.as_deref(), Some("A"));
        assert_eq!(feed.items[0].title, "Bold move");
        assert_eq!(feed.items[0].body, "hi & bye");
        assert_eq!(feed.items[0].published, Utc.with_ymd_and_hms(2024, 2, 1, 0, 0, 0).single());
        assert!(feed.problems.is_empty(), "{:?}", feed.problems);
    }

    #[test]
    fn a_feed_served_as_plain_text_is_read_and_flagged_and_language_tags_are_normalized() {
        let doc = "<rss version=\"2.0\"><channel><title>t</title><language>en_US</language>\
                   <item><title>x</title></item></channel></rss>";
        let feed = parse_feed("t", doc.as_bytes(), Some("text/plain; charset=utf-8"), None, now()).expect("parses");
        assert_eq!(feed.items.len(), 1);
        assert_eq!(feed.language.as_deref(), Some("en-us"));
        assert_eq!(feed.problems, vec!["served as text/plain, not as a feed; read anyway".to_string()]);
    }

    #[test]
    fn c1_controls_from_old_feeds_read_as_windows_1252() {
        let doc = "<rss version=\"2.0\"><channel><title>t</title><item><title>don&#146;t \u{93}x\u{94}</title></item></channel></rss>";
        assert_eq!(parse(doc).items[0].title, "don\u{2019}t \u{201c}x\u{201d}");
    }

    /// The feedparser project's corpora: every well-formed RSS, RDF and Atom document that
    /// has a channel or entries must parse, and so must its entity and encoding tests
    /// (except CDF and the Atom base64 text constructs that feed-rs refuses).
    #[test]
    fn feedparser_corpus_parses() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/data/feeds/feedparser");
        assert!(root.exists(), "the shared test data is missing: {}", root.display());
        let mut failures = Vec::new();
        let mut count = 0;
        for dir in ["wellformed/rss", "wellformed/rdf", "wellformed/atom", "wellformed/lang", "entities", "encoding"] {
            let entries = std::fs::read_dir(root.join(dir)).expect("corpus directory");
            for entry in entries.flatten() {
                let path = entry.path();
                let Ok(bytes) = std::fs::read(&path) else {
                    continue;
                };
                let text = String::from_utf8_lossy(&bytes).replace('\0', "");
                let has_content = ["<channel", "<entry", "<feed"].iter().any(|t| text.contains(t));
                if !has_content {
                    continue;
                }
                count += 1;
                if let Err(e) = parse_feed("corpus", &bytes, None, Some("http://example.com/"), now()) {
                    failures.push(format!("{}: {e}", path.display()));
                }
            }
        }
        assert!(count > 400, "only {count} files");
        assert!(failures.is_empty(), "{} of {count} failed:\n{}", failures.len(), failures.join("\n"));
    }

    #[test]
    fn a_cut_off_feed_keeps_its_complete_items() {
        let doc = "<rss version=\"2.0\"><channel><title>t</title>\n<item><title>one</title></item>\n\
                   <item><title>two</title></item>\n<item><title>thr";
        let feed = parse(doc);
        assert_eq!(feed.items.iter().map(|m| m.title.as_str()).collect::<Vec<_>>(), ["one", "two"]);
        assert!(
            feed.problems[0].starts_with("the document is cut off or broken after line 3; kept the 2 item(s)"),
            "{:?}",
            feed.problems
        );

        let doc =
            "<feed xmlns=\"http://www.w3.org/2005/Atom\"><title>t</title><entry><id>1</id><title>a</title></entry></fe";
        let feed = parse(doc);
        assert_eq!(feed.items.len(), 1);
        assert!(feed.problems[0].starts_with("the end tag of <feed> is cut off"), "{:?}", feed.problems);
    }

    #[test]
    fn an_rss_document_without_a_usable_version_is_read_as_2_0() {
        // A versionless <rss> is common and harmless: read as 2.0 without a complaint.
        let feed = parse("<rss><channel><title>t</title><item><title>x</title></item></channel></rss>");
        assert_eq!(feed.items.len(), 1);
        assert!(feed.problems.is_empty(), "{:?}", feed.problems);
        for root in ["<rss version=\"0.94\">", "<rss version='2.01' xmlns:dc=\"http://purl.org/dc/elements/1.1/\">"] {
            let doc = format!("{root}<channel><title>t</title><item><title>x</title></item></channel></rss>");
            let feed = parse(&doc);
            assert_eq!(feed.items.len(), 1, "{root}");
            assert!(feed.problems[0].contains("read as RSS 2.0"), "{root}: {:?}", feed.problems);
        }
    }

    #[test]
    fn utf16_and_utf32_documents_decode() {
        let xml = "<?xml version=\"1.0\" encoding=\"utf-16\"?><rss version=\"2.0\"><channel><title>t</title><item><title>中文 ok</title></item></channel></rss>";
        let mut utf16 = vec![0xFF, 0xFE];
        utf16.extend(xml.encode_utf16().flat_map(u16::to_le_bytes));
        let feed = parse_feed("t", &utf16, None, None, now()).expect("utf-16");
        assert_eq!((feed.encoding.as_str(), feed.items[0].title.as_str()), ("UTF-16LE", "中文 ok"));

        let utf32: Vec<u8> = xml.chars().flat_map(|c| u32::from(c).to_be_bytes()).collect();
        let feed = parse_feed("t", &utf32, None, None, now()).expect("utf-32");
        assert_eq!((feed.encoding.as_str(), feed.items[0].title.as_str()), ("UTF-32BE", "中文 ok"));
    }
}
