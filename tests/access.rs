//! Who may do what, over HTTP against a running daemon: each token's role decides which
//! API calls and dashboard forms it may use, refused ones say the role they need, and the
//! dashboard shows a viewer no button it could not press. Logging in opens a server-side
//! session that expires, ends at logout, and ends when its token is removed; guessing
//! tokens is throttled.

mod common;

use reqwest::StatusCode;
use serde_json::{Value, json};
use tocsin::analyze::RuleSet;
use tocsin::api::Tokens;
use tocsin::clock::Clock;
use tocsin::config::Config;
use tocsin::daemon;

const TOKENS: &str = "vic:viewer-token:viewer,rita:responder-token:responder,ops:admin-token:admin,old:plain-token";

struct Api {
    http: reqwest::Client,
    no_redirects: reqwest::Client,
    base: String,
}

impl Api {
    async fn send(&self, token: &str, method: reqwest::Method, path: &str, body: Option<Value>) -> (StatusCode, Value) {
        let mut request = self.http.request(method, format!("{}{path}", self.base)).bearer_auth(token);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.expect("request");
        let status = response.status();
        let text = response.text().await.expect("body");
        (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
    }

    /// An API call made with a browser's session cookie instead of a bearer token.
    async fn send_with_cookie(&self, cookie: &str, path: &str) -> (StatusCode, Value) {
        let response =
            self.http.get(format!("{}{path}", self.base)).header("Cookie", cookie).send().await.expect("get");
        let status = response.status();
        let text = response.text().await.expect("body");
        (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
    }

    async fn get(&self, token: &str, path: &str) -> (StatusCode, Value) {
        self.send(token, reqwest::Method::GET, path, None).await
    }

    async fn post(&self, token: &str, path: &str, body: Value) -> (StatusCode, Value) {
        self.send(token, reqwest::Method::POST, path, Some(body)).await
    }

    /// Logs in at `/login` as a browser does: the session cookie it is given, if any.
    async fn login(&self, token: &str) -> (StatusCode, Option<String>) {
        let response = self
            .no_redirects
            .post(format!("{}/login", self.base))
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body(format!("token={token}"))
            .send()
            .await
            .expect("login");
        let cookie = response.headers().get("set-cookie").and_then(|v| v.to_str().ok()).map(str::to_owned);
        (response.status(), cookie)
    }

    /// A dashboard page as the browser of `token`'s holder gets it, logged in.
    async fn page(&self, token: &str, path: &str) -> (StatusCode, String) {
        let (_, cookie) = self.login(token).await;
        let session = cookie.as_deref().and_then(|c| c.split(';').next()).expect("a session cookie").to_owned();
        self.page_with(&session, path).await
    }

    /// A dashboard page requested with this cookie, redirects not followed.
    async fn page_with(&self, cookie: &str, path: &str) -> (StatusCode, String) {
        let response =
            self.no_redirects.get(format!("{}{path}", self.base)).header("Cookie", cookie).send().await.expect("page");
        (response.status(), response.text().await.expect("body"))
    }
}

async fn running() -> (daemon::RunningDaemon, Api, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = Config::parse(
        "access.toml",
        &format!(
            "[store]\nurl = \"sqlite://{}\"\n\n[http]\nlisten = \"127.0.0.1:0\"\n\n[[feed]]\nname = \"forum\"\n\
             url = \"http://127.0.0.1:9/forum\"\n\n[[channel]]\nname = \"oncall\"\nkind = \"webhook\"\n\
             url = \"http://127.0.0.1:9/hook\"\n",
            dir.path().join("access.db").display()
        ),
    )
    .expect("config");
    let tokens = Tokens::parse(TOKENS).expect("tokens");
    let running = daemon::start(config, RuleSet::bundled(), Clock::default(), tokens).await.expect("daemon");
    tocsin::ingest::fetch::install_crypto_provider();
    let no_redirects = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("client");
    let api = Api { http: reqwest::Client::new(), no_redirects, base: format!("http://{}", running.addr) };
    (running, api, dir)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_role_does_what_it_may_and_is_told_which_role_the_rest_needs() {
    let (_running, api, _dir) = running().await;
    let crisis = json!({"id": "1", "feed": "forum", "body": "My kid got food poisoning after eating Acme yogurt"});

    // Pushing mentions is an admin's: a responder is told so.
    let (status, refused) = api.post("responder-token", "/api/v1/mentions", crisis.clone()).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{refused}");
    assert_eq!(refused["error"], "this needs the admin role; rita is a responder");
    let (status, pushed) = api.post("admin-token", "/api/v1/mentions", crisis).await;
    assert_eq!(status, StatusCode::OK, "{pushed}");
    let id = pushed["opened"][0].as_i64().expect("an incident opened");

    // A viewer reads everything and changes nothing.
    for path in [
        "/api/v1/incidents".to_owned(),
        format!("/api/v1/incidents/{id}"),
        format!("/api/v1/incidents/{id}/timeline"),
        format!("/api/v1/incidents/{id}/review"),
        "/api/v1/silences".to_owned(),
        "/api/v1/channels".to_owned(),
        "/api/v1/feeds".to_owned(),
    ] {
        let (status, body) = api.get("viewer-token", &path).await;
        assert_eq!(status, StatusCode::OK, "{path}: {body}");
    }
    for (path, body) in [
        (format!("/api/v1/incidents/{id}/ack"), json!({})),
        (format!("/api/v1/incidents/{id}/note"), json!({"text": "x"})),
        (format!("/api/v1/incidents/{id}/assign"), json!({"to": "vic"})),
        (format!("/api/v1/incidents/{id}/resolve"), json!({})),
    ] {
        let (status, refused) = api.post("viewer-token", &path, body).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{path}: {refused}");
        assert_eq!(refused["error"], "this needs the responder role; vic is a viewer", "{path}");
    }

    // A responder works the incident but changes neither silences nor channels.
    let (status, acked) = api.post("responder-token", &format!("/api/v1/incidents/{id}/ack"), json!({})).await;
    assert_eq!((status, acked["status"].as_str()), (StatusCode::OK, Some("acknowledged")), "{acked}");
    let (status, _) =
        api.post("responder-token", &format!("/api/v1/incidents/{id}/note"), json!({"text": "on it"})).await;
    assert_eq!(status, StatusCode::OK);
    let silence = json!({"feed": "forum", "for": "2h", "reason": "troll wave"});
    let (status, refused) = api.post("responder-token", "/api/v1/silences", silence.clone()).await;
    assert_eq!(
        (status, refused["error"].as_str()),
        (StatusCode::FORBIDDEN, Some("this needs the admin role; rita is a responder"))
    );
    let (status, refused) =
        api.post("responder-token", "/api/v1/channels/oncall/disable", json!({"reason": "maintenance"})).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{refused}");

    // An admin does all of it; a token listed without a role is an admin, as before roles.
    let (status, added) = api.post("admin-token", "/api/v1/silences", silence).await;
    assert!(status.is_success(), "{status}: {added}");
    let (status, body) =
        api.post("plain-token", "/api/v1/channels/oncall/disable", json!({"reason": "maintenance"})).await;
    assert!(status.is_success(), "{status}: {body}");

    // The timeline names who did each step.
    let (_, timeline) = api.get("viewer-token", &format!("/api/v1/incidents/{id}/timeline")).await;
    let actors: Vec<&str> =
        timeline["items"].as_array().expect("events").iter().filter_map(|e| e["actor"].as_str()).collect();
    assert!(actors.contains(&"rita"), "{timeline}");
    assert!(!actors.contains(&"vic"), "the viewer did nothing: {timeline}");

    // The dashboard offers a viewer no button, and refuses the form if posted anyway.
    let (status, page) = api.page("viewer-token", &format!("/incidents/{id}")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(!page.contains("/ack\"") && !page.contains("/note\""), "a viewer's incident page has no workflow forms");
    assert!(page.contains("needs the responder role"), "and says why");
    let (status, page) = api.page("responder-token", &format!("/incidents/{id}")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("/resolve\""), "a responder's page offers resolving");
    let (_, page) = api.page("responder-token", "/silences").await;
    assert!(!page.contains("action=\"/silences\""), "but no silences: that is an admin's");
    let (_, page) = api.page("admin-token", "/silences").await;
    assert!(page.contains("action=\"/silences\""));
    let refused = api
        .http
        .post(format!("{}/incidents/{id}/resolve", api.base))
        .bearer_auth("viewer-token")
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body("confirm=on")
        .send()
        .await
        .expect("form");
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    let (_, incident) = api.get("viewer-token", &format!("/api/v1/incidents/{id}")).await;
    assert_eq!(incident["status"], "acknowledged", "the refused form changed nothing");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn guessing_tokens_is_throttled_per_address_on_the_simulated_clock() {
    let (running, api, _dir) = running().await;
    for guess in 0..tocsin::api::FAILURES_ALLOWED {
        let (status, body) = api.get(&format!("guess-{guess}"), "/api/v1/incidents").await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "guess {guess}: {body}");
    }
    // Past the allowance every attempt from the address waits, the right token too, so a
    // guesser cannot tell a hit.
    for token in ["guess-again", "viewer-token"] {
        let response =
            api.http.get(format!("{}/api/v1/incidents", api.base)).bearer_auth(token).send().await.expect("request");
        assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS, "{token}");
        let wait: i64 = response
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse().ok())
            .expect("a Retry-After in seconds");
        assert!(wait > 0 && wait <= 15 * 60, "{wait}");
    }
    let login = api
        .http
        .post(format!("{}/login", api.base))
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body("token=viewer-token")
        .send()
        .await
        .expect("login");
    assert_eq!(login.status(), StatusCode::TOO_MANY_REQUESTS, "the dashboard's login shares the count");
    assert!(login.headers().get("retry-after").is_some());
    let metrics = api.http.get(format!("{}/metrics", api.base)).send().await.expect("metrics");
    let metrics = metrics.text().await.expect("text");
    assert!(metrics.contains("tocsin_login_failures_total"), "failures are counted");
    assert!(metrics.contains("tocsin_login_throttled_total"), "and refusals");

    // The window ends: the right token works again, and a wrong one is a plain 401.
    running.clock.advance(chrono::Duration::minutes(15));
    let (status, _) = api.get("viewer-token", "/api/v1/incidents").await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = api.get("guess-after", "/api/v1/incidents").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_login_is_a_session_that_expires_ends_at_logout_and_with_its_token() {
    let (running, api, dir) = running().await;
    let (status, cookie) = api.login("responder-token").await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let cookie = cookie.expect("a session cookie");
    for attribute in ["HttpOnly", "SameSite=Strict", "Path=/", "Max-Age=604800"] {
        assert!(cookie.contains(attribute), "{attribute} in {cookie}");
    }
    let session = cookie.split(';').next().expect("name=value").to_owned();
    assert!(session.starts_with("tocsin_session=") && !session.contains("responder-token"), "{session}");
    let (status, page) = api.page_with(&session, "/").await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("rita (responder)") && page.contains("action=\"/logout\""), "who, and a way out");
    // The old cookie that held the token itself is no login.
    let (status, _) = api.page_with("tocsin_token=responder-token", "/").await;
    assert_eq!(status, StatusCode::SEE_OTHER, "to the login page");

    // Used within 12 hours, the session lives on; idle for longer, it is over.
    running.clock.advance(chrono::Duration::hours(11));
    assert_eq!(api.page_with(&session, "/").await.0, StatusCode::OK);
    running.clock.advance(chrono::Duration::hours(11));
    assert_eq!(api.page_with(&session, "/").await.0, StatusCode::OK, "the last use moved the idle expiry");
    running.clock.advance(chrono::Duration::hours(13));
    assert_eq!(api.page_with(&session, "/").await.0, StatusCode::SEE_OTHER, "idle too long");
    // However busy, a session ends a week after its login.
    let (_, cookie) = api.login("responder-token").await;
    let busy = cookie.as_deref().and_then(|c| c.split(';').next()).expect("cookie").to_owned();
    for _ in 0..7 {
        running.clock.advance(chrono::Duration::hours(11));
        assert_eq!(api.page_with(&busy, "/").await.0, StatusCode::OK);
    }
    for _ in 0..9 {
        running.clock.advance(chrono::Duration::hours(11));
        api.page_with(&busy, "/").await;
    }
    assert_eq!(api.page_with(&busy, "/").await.0, StatusCode::SEE_OTHER, "past its week");

    // Logout ends the session in the store: the same cookie, replayed, is refused.
    let (_, cookie) = api.login("responder-token").await;
    let fresh = cookie.as_deref().and_then(|c| c.split(';').next()).expect("cookie").to_owned();
    let (_, page) = api.page_with(&fresh, "/").await;
    let csrf = page
        .split("name=\"csrf\" value=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("a csrf field on the logout form")
        .to_owned();
    let out = api
        .no_redirects
        .post(format!("{}/logout", api.base))
        .header("Cookie", &fresh)
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(format!("csrf={csrf}"))
        .send()
        .await
        .expect("logout");
    assert_eq!(out.status(), StatusCode::SEE_OTHER);
    let cleared = out.headers().get("set-cookie").and_then(|v| v.to_str().ok()).unwrap_or_default();
    assert!(cleared.contains("Max-Age=0"), "{cleared}");
    assert_eq!(api.page_with(&fresh, "/").await.0, StatusCode::SEE_OTHER, "a logged-out session is refused");
    let (status, _) = api.send_with_cookie(&fresh, "/api/v1/incidents").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "by the API too");

    // A token removed from TOCSIN_API_TOKENS ends its sessions: the same database under a
    // daemon that no longer lists rita's token.
    let (_, cookie) = api.login("responder-token").await;
    let kept = cookie.as_deref().and_then(|c| c.split(';').next()).expect("cookie").to_owned();
    assert_eq!(api.send_with_cookie(&kept, "/api/v1/incidents").await.0, StatusCode::OK);
    drop(running);
    let config = Config::parse(
        "access.toml",
        &format!(
            "[store]\nurl = \"sqlite://{}\"\n\n[http]\nlisten = \"127.0.0.1:0\"\n",
            dir.path().join("access.db").display()
        ),
    )
    .expect("config");
    let tokens = Tokens::parse("ops:admin-token:admin").expect("tokens");
    let restarted = daemon::start(config, RuleSet::bundled(), Clock::default(), tokens).await.expect("daemon");
    let base = format!("http://{}", restarted.addr);
    let refused = api.http.get(format!("{base}/api/v1/incidents")).header("Cookie", &kept).send().await.expect("get");
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED, "rita's token is gone, and so is her session");
}

/// The session rows as both backends keep them: digests in, the same row out, touched,
/// forgotten when old, ended.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn both_backends_keep_sessions_alike() {
    use tocsin::store::{PostgresStore, SqliteStore};
    let dir = tempfile::tempdir().expect("tempdir");
    let sqlite = SqliteStore::connect(&format!("sqlite://{}", dir.path().join("s.db").display())).await.expect("open");
    sessions_round_trip(&sqlite).await;
    if let Some(scratch) = common::Scratch::new().await {
        let postgres = PostgresStore::connect(&scratch.url).await.expect("connect");
        sessions_round_trip(&postgres).await;
        scratch.drop_schema().await;
    }
}

async fn sessions_round_trip<S: tocsin::store::Store>(store: &S) {
    store.migrate().await.expect("migrate");
    let at = chrono::DateTime::parse_from_rfc3339("2026-03-02T09:00:00Z").expect("time").to_utc();
    let (old, id, token) = ([1u8; 32], [2u8; 32], [3u8; 32]);
    store
        .create_session(&old, &token, at - chrono::Duration::days(9), at - chrono::Duration::days(30))
        .await
        .expect("old");
    store.create_session(&id, &token, at, at - chrono::Duration::days(7)).await.expect("create");
    assert!(store.session(&old).await.expect("read").is_none(), "a session unseen past the lifetime is forgotten");
    let session = store.session(&id).await.expect("read").expect("the session");
    assert_eq!((session.token_digest.as_slice(), session.created_at, session.last_seen_at), (token.as_slice(), at, at));
    store.touch_session(&id, at + chrono::Duration::hours(1)).await.expect("touch");
    let session = store.session(&id).await.expect("read").expect("the session");
    assert_eq!(session.last_seen_at, at + chrono::Duration::hours(1));
    store.end_session(&id).await.expect("end");
    assert!(store.session(&id).await.expect("read").is_none());
}
