//! Fetch one feed over HTTP: conditional GET, size and time limits, errors a log line can print.
//!
//! reqwest keeps no ETag cache, so the caller hands back the [`Validators`] of the last good
//! fetch and a `304 Not Modified` becomes [`FetchOutcome::NotModified`]. The body is read as a
//! stream and counted after decompression, so a small gzip bomb cannot fill memory.

use std::time::Duration;

use chrono::{DateTime, Utc};
use futures_util::StreamExt;
use reqwest::header::{self, HeaderMap, HeaderValue};
use reqwest::{StatusCode, redirect};

/// What one fetch may cost.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchLimits {
    /// Deadline for the whole request, body included.
    pub timeout: Duration,
    /// Largest body accepted, counted after decompression.
    pub max_bytes: u64,
    /// Redirects followed before giving up.
    pub max_redirects: usize,
}

/// The cache validators a server gave for the last good fetch, sent back on the next one.
#[derive(Default, Clone, Debug, PartialEq)]
pub struct Validators {
    pub etag: Option<String>,
    pub last_modified: Option<String>,
}

/// The result of a successful fetch.
#[derive(Debug, Clone, PartialEq)]
pub enum FetchOutcome {
    /// The server answered `304`: the feed did not change since the validators were issued.
    NotModified,
    Fetched {
        /// The body after content decoding (gzip), not charset-decoded.
        body: Vec<u8>,
        content_type: Option<String>,
        /// Validators to send on the next fetch.
        validators: Validators,
        /// The URL after redirects (a base for relative links).
        final_url: String,
    },
}

/// Why a fetch failed, worded for a log line or the `feeds` health view.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    #[error("timed out after {}", format_duration(*after))]
    Timeout { after: Duration },
    #[error("response body larger than the limit of {limit} bytes")]
    TooLarge { limit: u64 },
    #[error("server answered HTTP {status}{}{}", reason_suffix(*status), retry_suffix(*retry_after))]
    Status {
        status: u16,
        /// From `Retry-After` (seconds or an HTTP date), when the server sent one.
        retry_after: Option<Duration>,
    },
    #[error("could not connect: {0}")]
    Connect(String),
    #[error("request failed: {0}")]
    Request(String),
    #[error("more than {limit} redirects")]
    TooManyRedirects { limit: usize },
    #[error("could not set up the HTTP client: {0}")]
    Client(String),
}

/// Installs rustls' ring provider as the process default; reqwest is built without one and
/// panics on first use otherwise. Safe to call more than once.
pub fn install_crypto_provider() {
    // An Err only means a provider is already installed, which is what we want.
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// Builds the shared client: gzip on, redirects capped at `limits.max_redirects`.
pub fn build_client(user_agent: &str, limits: &FetchLimits) -> Result<reqwest::Client, FetchError> {
    let mut headers = HeaderMap::new();
    headers.insert(
        header::ACCEPT,
        HeaderValue::from_static(
            "application/rss+xml, application/atom+xml, application/feed+json, \
             application/rdf+xml;q=0.9, application/xml;q=0.9, text/xml;q=0.9, */*;q=0.8",
        ),
    );
    reqwest::Client::builder()
        .user_agent(user_agent)
        .default_headers(headers)
        .redirect(redirect::Policy::limited(limits.max_redirects))
        .gzip(true)
        // The overall deadline is enforced in `fetch`; this only stops a dead host from
        // holding a connection slot for the whole deadline on every attempt.
        .connect_timeout(limits.timeout)
        .build()
        .map_err(|e| FetchError::Client(error_chain(&e)))
}

/// Fetches `url` once, conditionally on `validators`, within `limits`.
pub async fn fetch(
    client: &reqwest::Client,
    url: &str,
    validators: &Validators,
    limits: &FetchLimits,
) -> Result<FetchOutcome, FetchError> {
    match tokio::time::timeout(limits.timeout, fetch_inner(client, url, validators, limits)).await {
        Ok(result) => result,
        Err(_elapsed) => Err(FetchError::Timeout { after: limits.timeout }),
    }
}

async fn fetch_inner(
    client: &reqwest::Client,
    url: &str,
    validators: &Validators,
    limits: &FetchLimits,
) -> Result<FetchOutcome, FetchError> {
    let mut request = client.get(url);
    // A validator that is not a legal header value would make the whole request fail;
    // dropping it costs one unconditional fetch instead.
    if let Some(etag) = validators.etag.as_deref().and_then(|v| HeaderValue::from_str(v).ok()) {
        request = request.header(header::IF_NONE_MATCH, etag);
    }
    if let Some(since) = validators.last_modified.as_deref().and_then(|v| HeaderValue::from_str(v).ok()) {
        request = request.header(header::IF_MODIFIED_SINCE, since);
    }

    let response = request.send().await.map_err(|e| map_reqwest_error(e, limits))?;

    let status = response.status();
    if status == StatusCode::NOT_MODIFIED {
        return Ok(FetchOutcome::NotModified);
    }
    if !status.is_success() {
        let retry_after = response
            .headers()
            .get(header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| parse_retry_after(v, Utc::now()));
        return Err(FetchError::Status { status: status.as_u16(), retry_after });
    }

    // Only known when the body is not being decompressed, so this is an early exit, not the check.
    if response.content_length().is_some_and(|len| len > limits.max_bytes) {
        return Err(FetchError::TooLarge { limit: limits.max_bytes });
    }

    let headers = response.headers();
    let header_text = |name: header::HeaderName| {
        headers.get(name).and_then(|v| v.to_str().ok()).map(|v| v.trim().to_string()).filter(|v| !v.is_empty())
    };
    let content_type = header_text(header::CONTENT_TYPE);
    let new_validators =
        Validators { etag: header_text(header::ETAG), last_modified: header_text(header::LAST_MODIFIED) };
    let final_url = response.url().to_string();

    let capacity = response.content_length().unwrap_or(0).min(limits.max_bytes).min(1 << 20);
    let mut body = Vec::with_capacity(usize::try_from(capacity).unwrap_or(0));
    let mut stream = response.bytes_stream();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| map_reqwest_error(e, limits))?;
        if (body.len() + chunk.len()) as u64 > limits.max_bytes {
            return Err(FetchError::TooLarge { limit: limits.max_bytes });
        }
        body.extend_from_slice(&chunk);
    }

    Ok(FetchOutcome::Fetched { body, content_type, validators: new_validators, final_url })
}

/// Parses a `Retry-After` value: delay seconds, or an HTTP date (a date in the past means now).
pub fn parse_retry_after(value: &str, now: DateTime<Utc>) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    // IMF-fixdate ("Sun, 06 Nov 1994 08:49:37 GMT") is a subset of RFC 2822.
    let at = DateTime::parse_from_rfc2822(value).ok()?.with_timezone(&Utc);
    Some((at - now).to_std().unwrap_or(Duration::ZERO))
}

fn map_reqwest_error(error: reqwest::Error, limits: &FetchLimits) -> FetchError {
    if error.is_timeout() {
        FetchError::Timeout { after: limits.timeout }
    } else if error.is_redirect() {
        FetchError::TooManyRedirects { limit: limits.max_redirects }
    } else if error.is_connect() {
        FetchError::Connect(error_chain(&error))
    } else if error.is_decode() {
        FetchError::Request(format!("could not decode the body: {}", error_chain(&error)))
    } else {
        FetchError::Request(error_chain(&error))
    }
}

/// reqwest's own message ("error sending request for url") hides the cause in its source chain.
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

fn format_duration(duration: Duration) -> String {
    if duration.subsec_millis() == 0 {
        format!("{}s", duration.as_secs())
    } else {
        format!("{}ms", duration.as_millis())
    }
}

fn reason_suffix(status: u16) -> String {
    StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason())
        .map(|reason| format!(" {reason}"))
        .unwrap_or_default()
}

fn retry_suffix(retry_after: Option<Duration>) -> String {
    retry_after.map(|d| format!(" (retry after {})", format_duration(d))).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::{TcpListener, TcpStream};

    fn limits() -> FetchLimits {
        FetchLimits { timeout: Duration::from_secs(5), max_bytes: 1_000_000, max_redirects: 3 }
    }

    fn client(limits: &FetchLimits) -> reqwest::Client {
        install_crypto_provider();
        build_client("tocsin-test/0.1", limits).expect("client builds")
    }

    /// What the test server does with one request (given its head, lowercased).
    enum Reply {
        Bytes(Vec<u8>),
        /// Sends these bytes and then keeps the connection open without finishing.
        Stall(Vec<u8>),
        /// Sends `head`, then `piece` every `every` until the client goes away.
        Dribble {
            head: Vec<u8>,
            piece: Vec<u8>,
            every: Duration,
        },
    }

    /// A real HTTP/1.1 server on loopback that answers each request with `respond`; returns
    /// its base URL and every request head it saw.
    async fn serve<F>(respond: F) -> (String, Arc<Mutex<Vec<String>>>)
    where
        F: Fn(&str) -> Reply + Send + Sync + 'static,
    {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let seen = Arc::new(Mutex::new(Vec::new()));
        let seen_in_server = seen.clone();
        let respond = Arc::new(respond);
        tokio::spawn(async move {
            loop {
                let Ok((socket, _)) = listener.accept().await else {
                    return;
                };
                let respond = respond.clone();
                let seen = seen_in_server.clone();
                tokio::spawn(async move { handle(socket, respond.as_ref(), &seen).await });
            }
        });
        (format!("http://{addr}"), seen)
    }

    async fn handle<F: Fn(&str) -> Reply>(mut socket: TcpStream, respond: &F, seen: &Mutex<Vec<String>>) {
        let mut head = Vec::new();
        let mut buf = [0u8; 1024];
        while !head.windows(4).any(|w| w == b"\r\n\r\n") {
            match socket.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => head.extend_from_slice(&buf[..n]),
            }
        }
        let head = String::from_utf8_lossy(&head).to_lowercase();
        seen.lock().expect("lock").push(head.clone());
        match respond(&head) {
            Reply::Bytes(bytes) => {
                let _ = socket.write_all(&bytes).await;
                let _ = socket.shutdown().await;
            }
            Reply::Stall(bytes) => {
                let _ = socket.write_all(&bytes).await;
                tokio::time::sleep(Duration::from_secs(60)).await;
            }
            Reply::Dribble { head, piece, every } => {
                if socket.write_all(&head).await.is_err() {
                    return;
                }
                while socket.write_all(&piece).await.is_ok() {
                    if !every.is_zero() {
                        tokio::time::sleep(every).await;
                    }
                }
            }
        }
    }

    fn response(status: &str, headers: &[(&str, &str)], body: &[u8]) -> Vec<u8> {
        let mut out = format!("HTTP/1.1 {status}\r\nConnection: close\r\nContent-Length: {}\r\n", body.len());
        for (name, value) in headers {
            out.push_str(&format!("{name}: {value}\r\n"));
        }
        out.push_str("\r\n");
        let mut out = out.into_bytes();
        out.extend_from_slice(body);
        out
    }

    const FEED: &str = r#"<?xml version="1.0"?><rss version="2.0"><channel><title>t</title></channel></rss>"#;

    #[tokio::test]
    async fn a_changed_feed_comes_back_with_its_etag_and_an_unchanged_one_is_not_modified() {
        let (base, seen) = serve(|head| {
            if head.contains("if-none-match: \"v1\"") {
                Reply::Bytes(response("304 Not Modified", &[("ETag", "\"v1\"")], b""))
            } else {
                Reply::Bytes(response(
                    "200 OK",
                    &[
                        ("ETag", "\"v1\""),
                        ("Last-Modified", "Tue, 02 Jan 2024 10:00:00 GMT"),
                        ("Content-Type", "application/rss+xml; charset=utf-8"),
                    ],
                    FEED.as_bytes(),
                ))
            }
        })
        .await;
        let limits = limits();
        let client = client(&limits);
        let url = format!("{base}/feed.xml");

        let first = fetch(&client, &url, &Validators::default(), &limits).await.expect("first fetch");
        let FetchOutcome::Fetched { body, content_type, validators, final_url } = first else {
            panic!("expected a body, got {first:?}");
        };
        assert_eq!(body, FEED.as_bytes());
        assert_eq!(content_type.as_deref(), Some("application/rss+xml; charset=utf-8"));
        assert_eq!(validators.etag.as_deref(), Some("\"v1\""));
        assert_eq!(validators.last_modified.as_deref(), Some("Tue, 02 Jan 2024 10:00:00 GMT"));
        assert_eq!(final_url, url);

        let second = fetch(&client, &url, &validators, &limits).await.expect("second fetch");
        assert_eq!(second, FetchOutcome::NotModified);
        let heads = seen.lock().expect("lock").clone();
        assert!(heads[1].contains("if-modified-since: tue, 02 jan 2024 10:00:00 gmt"), "{}", heads[1]);
    }

    /// A valid gzip member holding `data` in stored (uncompressed) deflate blocks, so the test
    /// needs no compression library.
    fn gzip(data: &[u8]) -> Vec<u8> {
        let mut out = vec![0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff];
        let chunks: Vec<&[u8]> = data.chunks(0xffff).collect();
        for (i, chunk) in chunks.iter().enumerate() {
            out.push(u8::from(i + 1 == chunks.len()));
            let len = chunk.len() as u16;
            out.extend_from_slice(&len.to_le_bytes());
            out.extend_from_slice(&(!len).to_le_bytes());
            out.extend_from_slice(chunk);
        }
        let mut crc = 0xffff_ffffu32;
        for &byte in data {
            crc ^= u32::from(byte);
            for _ in 0..8 {
                crc = if crc & 1 == 1 { (crc >> 1) ^ 0xedb8_8320 } else { crc >> 1 };
            }
        }
        out.extend_from_slice(&(!crc).to_le_bytes());
        out.extend_from_slice(&(data.len() as u32).to_le_bytes());
        out
    }

    #[tokio::test]
    async fn a_gzip_body_is_decoded() {
        let (base, seen) = serve(|_| {
            Reply::Bytes(response(
                "200 OK",
                &[("Content-Encoding", "gzip"), ("Content-Type", "text/xml")],
                &gzip(FEED.as_bytes()),
            ))
        })
        .await;
        let limits = limits();
        let outcome = fetch(&client(&limits), &base, &Validators::default(), &limits).await.expect("fetch");
        let FetchOutcome::Fetched { body, .. } = outcome else {
            panic!("expected a body");
        };
        assert_eq!(body, FEED.as_bytes());
        assert!(seen.lock().expect("lock")[0].contains("gzip"), "client should offer gzip");
    }

    #[tokio::test]
    async fn a_body_over_the_limit_is_refused_even_when_it_arrives_compressed() {
        let big = vec![b'x'; 50_000];
        let compressed = gzip(&big);
        let plain = big.clone();
        let (base, _) = serve(move |head| {
            if head.starts_with("get /gz") {
                Reply::Bytes(response("200 OK", &[("Content-Encoding", "gzip")], &compressed))
            } else {
                Reply::Bytes(response("200 OK", &[], &plain))
            }
        })
        .await;
        let limits = FetchLimits { max_bytes: 10_000, ..limits() };
        let client = client(&limits);
        for path in ["/gz", "/plain"] {
            let err =
                fetch(&client, &format!("{base}{path}"), &Validators::default(), &limits).await.expect_err("too large");
            assert!(matches!(err, FetchError::TooLarge { limit: 10_000 }), "{path}: {err}");
        }
    }

    #[tokio::test]
    async fn a_server_that_never_finishes_times_out() {
        let (base, _) = serve(|_| {
            let mut partial = b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n<rss".to_vec();
            partial.extend_from_slice(b" version=\"2.0\">");
            Reply::Stall(partial)
        })
        .await;
        let limits = FetchLimits { timeout: Duration::from_millis(300), ..limits() };
        let started = std::time::Instant::now();
        let err = fetch(&client(&limits), &base, &Validators::default(), &limits).await.expect_err("timeout");
        assert!(matches!(err, FetchError::Timeout { .. }), "{err}");
        assert!(started.elapsed() < Duration::from_secs(3));
        assert_eq!(err.to_string(), "timed out after 300ms");
    }

    #[tokio::test]
    async fn server_errors_and_rate_limits_report_status_and_retry_after() {
        let (base, _) = serve(|head| {
            if head.starts_with("get /busy") {
                Reply::Bytes(response("429 Too Many Requests", &[("Retry-After", "7")], b"slow down"))
            } else {
                Reply::Bytes(response("500 Internal Server Error", &[], b"oops"))
            }
        })
        .await;
        let limits = limits();
        let client = client(&limits);

        let err = fetch(&client, &base, &Validators::default(), &limits).await.expect_err("500");
        assert!(matches!(err, FetchError::Status { status: 500, retry_after: None }), "{err}");
        assert_eq!(err.to_string(), "server answered HTTP 500 Internal Server Error");

        let err = fetch(&client, &format!("{base}/busy"), &Validators::default(), &limits).await.expect_err("429");
        match &err {
            FetchError::Status { status, retry_after } => {
                assert_eq!(*status, 429);
                assert_eq!(*retry_after, Some(Duration::from_secs(7)));
            }
            other => panic!("expected a status error, got {other:?}"),
        }
        assert_eq!(err.to_string(), "server answered HTTP 429 Too Many Requests (retry after 7s)");
    }

    #[tokio::test]
    async fn a_redirect_loop_stops_at_the_limit() {
        let (base, _) = serve(|_| Reply::Bytes(response("302 Found", &[("Location", "/again")], b""))).await;
        let limits = FetchLimits { max_redirects: 2, ..limits() };
        let err = fetch(&client(&limits), &base, &Validators::default(), &limits).await.expect_err("loop");
        assert!(matches!(err, FetchError::TooManyRedirects { limit: 2 }), "{err}");
    }

    #[tokio::test]
    async fn a_closed_port_is_a_connect_error() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = listener.local_addr().expect("addr");
        drop(listener);
        let limits = limits();
        let err = fetch(&client(&limits), &format!("http://{addr}/"), &Validators::default(), &limits)
            .await
            .expect_err("refused");
        assert!(matches!(err, FetchError::Connect(_)), "{err:?}");
    }

    #[test]
    fn retry_after_accepts_seconds_and_http_dates() {
        let now = DateTime::parse_from_rfc3339("2024-01-02T10:00:00Z").expect("date").with_timezone(&Utc);
        assert_eq!(parse_retry_after(" 120 ", now), Some(Duration::from_secs(120)));
        assert_eq!(parse_retry_after("Tue, 02 Jan 2024 10:01:30 GMT", now), Some(Duration::from_secs(90)));
        assert_eq!(parse_retry_after("Tue, 02 Jan 2024 09:00:00 GMT", now), Some(Duration::ZERO));
        assert_eq!(parse_retry_after("soon", now), None);
    }

    /// A deflate stream, in fixed Huffman codes, of one `x` followed by `repeats` copies of
    /// the 258 bytes before: 13 bits per 258 bytes, so a few hundred kilobytes inflate to
    /// gigabytes. The gzip trailer's CRC is not computed (the client must stop long before).
    fn gzip_bomb(repeats: usize) -> Vec<u8> {
        struct Bits {
            out: Vec<u8>,
            acc: u32,
            n: u32,
        }
        impl Bits {
            fn put(&mut self, value: u32, n: u32) {
                self.acc |= value << self.n;
                self.n += n;
                while self.n >= 8 {
                    self.out.push((self.acc & 0xff) as u8);
                    self.acc >>= 8;
                    self.n -= 8;
                }
            }
            /// Huffman codes go most significant bit first.
            fn code(&mut self, code: u32, n: u32) {
                self.put(code.reverse_bits() >> (32 - n), n);
            }
        }
        let mut bits = Bits { out: vec![0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff], acc: 0, n: 0 };
        bits.put(1, 1); // BFINAL
        bits.put(1, 2); // fixed Huffman
        bits.code(0x30 + u32::from(b'x'), 8);
        for _ in 0..repeats {
            bits.code(0xc5, 8); // length 258
            bits.code(0, 5); // distance 1
        }
        bits.code(0, 7); // end of block
        bits.put(0, 7);
        let inflated = 1 + 258 * repeats as u64;
        bits.out.extend_from_slice(&[0, 0, 0, 0]);
        bits.out.extend_from_slice(&(inflated as u32).to_le_bytes());
        bits.out
    }

    #[tokio::test]
    async fn a_gzip_bomb_stops_at_the_cap() {
        // About 650 kB on the wire (under the cap), 100 MB inflated.
        let bomb = gzip_bomb(400_000);
        assert!(bomb.len() < 1_000_000, "{}", bomb.len());
        let (base, _) = serve(move |_| {
            Reply::Bytes(response(
                "200 OK",
                &[("Content-Encoding", "gzip"), ("Content-Type", "application/rss+xml")],
                &bomb,
            ))
        })
        .await;
        let limits = FetchLimits { max_bytes: 1_000_000, timeout: Duration::from_secs(20), ..limits() };
        let started = std::time::Instant::now();
        let err = fetch(&client(&limits), &base, &Validators::default(), &limits).await.expect_err("too large");
        assert!(matches!(err, FetchError::TooLarge { limit: 1_000_000 }), "{err}");
        // Stopping at the cap means inflating about a megabyte, not a gigabyte.
        assert!(started.elapsed() < Duration::from_secs(10), "{:?}", started.elapsed());
    }

    #[tokio::test]
    async fn an_endless_chunked_body_stops_at_the_cap() {
        let (base, _) = serve(|_| Reply::Dribble {
            head: b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Type: text/xml\r\n\r\n".to_vec(),
            piece: {
                let mut piece = format!("{:x}\r\n", 4096).into_bytes();
                piece.extend(std::iter::repeat_n(b'x', 4096));
                piece.extend_from_slice(b"\r\n");
                piece
            },
            every: Duration::ZERO,
        })
        .await;
        let limits = FetchLimits { max_bytes: 200_000, timeout: Duration::from_secs(10), ..limits() };
        let err = fetch(&client(&limits), &base, &Validators::default(), &limits).await.expect_err("endless");
        assert!(matches!(err, FetchError::TooLarge { limit: 200_000 }), "{err}");
    }

    #[tokio::test]
    async fn a_server_dribbling_bytes_is_cut_off_at_the_deadline() {
        let (base, _) = serve(|_| Reply::Dribble {
            head: b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\nContent-Type: text/xml\r\n\r\n".to_vec(),
            piece: b"x".to_vec(),
            every: Duration::from_millis(100),
        })
        .await;
        let limits = FetchLimits { timeout: Duration::from_millis(500), ..limits() };
        let started = std::time::Instant::now();
        let err = fetch(&client(&limits), &base, &Validators::default(), &limits).await.expect_err("slow");
        assert!(matches!(err, FetchError::Timeout { .. }), "{err}");
        let elapsed = started.elapsed();
        assert!(elapsed >= Duration::from_millis(450) && elapsed < Duration::from_secs(3), "{elapsed:?}");
    }

    const CJK_FEED: &str = "<rss version=\"2.0\"><channel><title>新闻</title>\
        <item><title>艾克米食物中毒 台灣</title><link>https://e.example/1</link></item></channel></rss>";

    async fn fetch_and_parse(body: Vec<u8>, content_type: &'static str) -> crate::ingest::parse::ParsedFeed {
        let (base, _) =
            serve(move |_| Reply::Bytes(response("200 OK", &[("Content-Type", content_type)], &body))).await;
        let limits = limits();
        let outcome = fetch(&client(&limits), &base, &Validators::default(), &limits).await.expect("fetch");
        let FetchOutcome::Fetched { body, content_type, final_url, .. } = outcome else {
            panic!("expected a body");
        };
        crate::ingest::parse::parse_feed("t", &body, content_type.as_deref(), Some(&final_url), Utc::now())
            .expect("parses")
    }

    #[tokio::test]
    async fn a_gbk_feed_declared_only_in_the_http_header_decodes() {
        let doc = CJK_FEED.replace(" 台灣", "");
        let (gbk, _, _) = encoding_rs::GBK.encode(&doc);
        assert!(std::str::from_utf8(&gbk).is_err());
        let feed = fetch_and_parse(gbk.into_owned(), "application/rss+xml; charset=GBK").await;
        assert_eq!(feed.encoding, "GBK");
        assert_eq!(feed.title.as_deref(), Some("新闻"));
        assert_eq!(feed.items[0].title, "艾克米食物中毒");
        assert!(feed.problems.is_empty(), "{:?}", feed.problems);
    }

    #[tokio::test]
    async fn a_big5_feed_declared_only_in_the_xml_declaration_decodes() {
        let doc = format!("<?xml version=\"1.0\" encoding=\"big5\"?>{}", CJK_FEED.replace("新闻", "新聞"))
            .replace("艾克米食物中毒", "艾克米食物中毒事件");
        let (big5, _, unmappable) = encoding_rs::BIG5.encode(&doc);
        assert!(!unmappable);
        let feed = fetch_and_parse(big5.into_owned(), "application/rss+xml").await;
        assert_eq!(feed.encoding, "Big5");
        assert_eq!(feed.title.as_deref(), Some("新聞"));
        assert_eq!(feed.items[0].title, "艾克米食物中毒事件 台灣");
        assert!(feed.problems.is_empty(), "{:?}", feed.problems);
    }
}
