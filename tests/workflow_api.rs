//! The response workflow over HTTP, against a running daemon: a pushed mention opens an
//! incident, the lead assigns it, notes, ticks off playbook steps, silences a noisy feed and
//! reads the review; every action is attributed to the token's name, and bad requests get
//! a clear JSON error.

mod common;

use reqwest::StatusCode;
use serde_json::{Value, json};
use tocsin::analyze::RuleSet;
use tocsin::api::Tokens;
use tocsin::clock::Clock;
use tocsin::config::Config;
use tocsin::daemon;
use tocsin::store::Store;

struct Api {
    http: reqwest::Client,
    base: String,
}

impl Api {
    async fn send(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> (StatusCode, Value) {
        let mut request = self.http.request(method, format!("{}{path}", self.base)).bearer_auth("lead-token");
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.expect("request");
        let status = response.status();
        let text = response.text().await.expect("body");
        (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
    }

    async fn get(&self, path: &str) -> (StatusCode, Value) {
        self.send(reqwest::Method::GET, path, None).await
    }

    async fn post(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.send(reqwest::Method::POST, path, Some(body)).await
    }

    /// Pushes the forum post every story here starts from; the id of the incident it opens.
    async fn open_incident(&self) -> i64 {
        let post = json!({"id": "1", "feed": "forum", "body": "My kid got food poisoning after eating Acme yogurt"});
        let (status, pushed) = self.post("/api/v1/mentions", post).await;
        assert_eq!(status, StatusCode::OK, "{pushed}");
        pushed["opened"][0].as_i64().expect("an incident opened")
    }
}

/// Reads the event stream until an event of `kind` arrives: its SSE id and its JSON data.
async fn next_event(stream: &mut reqwest::Response, kind: &str) -> (String, Value) {
    let mut text = String::new();
    let read = async {
        loop {
            while let Some(end) = text.find("\n\n") {
                let block: String = text.drain(..end + 2).collect();
                let field =
                    |name: &str| block.lines().find_map(|line| line.strip_prefix(name)).map(|v| v.trim().to_owned());
                if field("event:").as_deref() == Some(kind) {
                    let data = field("data:").expect("an event carries data");
                    return (field("id:").unwrap_or_default(), serde_json::from_str(&data).expect("JSON data"));
                }
            }
            let chunk = stream.chunk().await.expect("read the stream").expect("the stream stays open");
            text.push_str(std::str::from_utf8(&chunk).expect("UTF-8 events"));
        }
    };
    tokio::time::timeout(std::time::Duration::from_secs(20), read).await.expect("an event within 20 s")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_lead_runs_the_response_over_the_api_and_every_step_is_on_the_timeline() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = Config::parse(
        "api.toml",
        &format!(
            "[store]\nurl = \"sqlite://{}\"\n\n[http]\nlisten = \"127.0.0.1:0\"\n\n[[feed]]\nname = \"forum\"\n\
             url = \"http://127.0.0.1:9/forum\"\ntags = [\"social\"]\n\n[[channel]]\nname = \"oncall\"\n\
             kind = \"webhook\"\nurl = \"http://127.0.0.1:9/hook\"\n",
            dir.path().join("api.db").display()
        ),
    )
    .expect("config");
    let tokens = Tokens::parse("lead:lead-token").expect("tokens");
    let running = daemon::start(config, RuleSet::bundled(), Clock::default(), tokens).await.expect("daemon");
    tocsin::ingest::fetch::install_crypto_provider();
    let api = Api { http: reqwest::Client::new(), base: format!("http://{}", running.addr) };

    // The API describes itself.
    let (status, document) = api.get("/api/v1/openapi.json").await;
    assert_eq!(status, StatusCode::OK);
    assert!(document["paths"]["/api/v1/incidents"]["get"].is_object(), "{document}");

    let id = api.open_incident().await;

    // Search: mentions by text, rule and feed, incidents by level and time, paged.
    for n in 0..3 {
        let body =
            json!({"id": format!("chatter-{n}"), "feed": "forum", "body": format!("Acme kettle review {n}: fine")});
        api.post("/api/v1/mentions", body).await;
    }
    let (status, found) = api.get("/api/v1/mentions?q=FOOD+poisoning&rule=food-safety").await;
    assert_eq!(status, StatusCode::OK, "{found}");
    assert_eq!(found["items"].as_array().map(Vec::len), Some(1), "{found}");
    assert_eq!(found["items"][0]["rules"], json!(["food-safety"]));
    assert!(found["items"][0]["breakdown"]["score"].is_number(), "the why travels with the mention");
    let (_, page1) = api.get("/api/v1/mentions?feed=forum&limit=2").await;
    let cursor = page1["next"].as_i64().expect("a next page");
    let (_, page2) = api.get(&format!("/api/v1/mentions?feed=forum&limit=2&cursor={cursor}")).await;
    assert_eq!(page2["items"].as_array().map(Vec::len), Some(2), "four forum mentions in two pages");
    assert_eq!(page2["next"], Value::Null, "the last page says so");
    let (status, error) = api.get("/api/v1/mentions?since=yesterday").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(error["error"].as_str().is_some_and(|e| e.contains("since \"yesterday\" is not an RFC 3339 time")));
    let (_, high) = api.get("/api/v1/incidents?level=critical&since=2000-01-01T00:00:00Z").await;
    assert_eq!(high["items"][0]["id"], id);
    let (_, none) = api.get("/api/v1/incidents?level=low").await;
    assert_eq!(none["items"].as_array().map(Vec::len), Some(0));
    let (status, _) = api.get("/api/v1/incidents?level=severe").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    // Live: the event stream tells of each change as it happens; a client that comes back
    // with the last id it saw gets what it missed meanwhile.
    let mut live =
        api.http.get(format!("{}/api/v1/events", api.base)).bearer_auth("lead-token").send().await.expect("events");
    assert_eq!(live.status(), StatusCode::OK);
    let content_type = live.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
    assert!(content_type.starts_with("text/event-stream"), "{content_type}");
    let (status, _) = api.post(&format!("/api/v1/incidents/{id}/note"), json!({"text": "Hotline staffed"})).await;
    assert_eq!(status, StatusCode::OK);
    let (seen, change) = next_event(&mut live, "incident").await;
    assert_eq!((change["incident"]["id"].as_i64(), &change["kinds"]), (Some(id), &json!(["note"])), "{change}");
    drop(live);
    let (status, _) = api.post(&format!("/api/v1/incidents/{id}/update"), json!({"text": "Hotline open 24/7"})).await;
    assert_eq!(status, StatusCode::OK);
    let mut resumed = api
        .http
        .get(format!("{}/api/v1/events?incident={id}", api.base))
        .bearer_auth("lead-token")
        .header("last-event-id", seen)
        .send()
        .await
        .expect("events");
    let (_, missed) = next_event(&mut resumed, "incident").await;
    assert_eq!(missed["kinds"], json!(["status_update"]), "{missed}");
    // `resumed` stays open to the end: the daemon must still stop.
    let (status, error) = api.get("/api/v1/events?incident=999").await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{error}");
    let (status, error) = api.get("/api/v1/events?since=1").await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{error}");
    assert!(error["error"].as_str().is_some_and(|e| e.contains("unknown field `since`")), "{error}");
    let (status, error) = api.post(&format!("/api/v1/incidents/{id}/update"), json!({"text": " "})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(error["error"].as_str().is_some_and(|e| e.contains("needs some text")), "{error}");

    // Assign, note, and the playbook.
    let (status, incident) = api.post(&format!("/api/v1/incidents/{id}/assign"), json!({"to": "mei"})).await;
    assert_eq!((status, incident["assignee"].as_str()), (StatusCode::OK, Some("mei")), "{incident}");
    assert_eq!(incident["crisis_type"], "product_quality");
    let (status, _) =
        api.post(&format!("/api/v1/incidents/{id}/note"), json!({"text": "Batch 42 pulled from shelves"})).await;
    assert_eq!(status, StatusCode::OK);
    let (status, checklist) = api.get(&format!("/api/v1/incidents/{id}/checklist")).await;
    assert_eq!(status, StatusCode::OK);
    let first = checklist["steps"][0]["id"].as_str().expect("a first step").to_owned();
    assert!(checklist["steps"][0]["due_at"].is_string(), "{checklist}");
    let (status, _) =
        api.post(&format!("/api/v1/incidents/{id}/steps/{first}"), json!({"note": "confirmed with QA"})).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = api.post(&format!("/api/v1/incidents/{id}/steps/publish-statement"), json!({})).await;
    assert_eq!(status, StatusCode::OK);
    let (_, checklist) = api.get(&format!("/api/v1/incidents/{id}/checklist")).await;
    assert_eq!(checklist["steps"][0]["done"]["actor"], "lead", "the token's name did it");
    assert_eq!(checklist["steps"][0]["done"]["note"], "confirmed with QA");

    // Refusals: clear, and nothing written.
    let (status, error) = api.post(&format!("/api/v1/incidents/{id}/steps/{first}"), json!({})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(error["error"].as_str().is_some_and(|e| e.contains("already done by lead")), "{error}");
    let (status, error) = api.post(&format!("/api/v1/incidents/{id}/steps/dance"), json!({})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(error["error"].as_str().is_some_and(|e| e.contains("its steps are: ")), "{error}");
    let (status, error) = api.post(&format!("/api/v1/incidents/{id}/assign"), json!({"who": "mei"})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(error["error"].as_str().is_some_and(|e| e.contains("unknown field `who`")), "{error}");
    let (status, _) = api.post("/api/v1/incidents/999/note", json!({"text": "x"})).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let anonymous = api.http.post(format!("{}/api/v1/incidents/{id}/note", api.base)).json(&json!({"text": "x"}));
    assert_eq!(anonymous.send().await.expect("request").status(), StatusCode::UNAUTHORIZED);

    let kinds: Vec<String> = running
        .store
        .timeline(id)
        .await
        .expect("timeline")
        .into_iter()
        .map(|e| format!("{}:{}", e.kind, e.actor))
        .collect();
    assert_eq!(
        kinds[1..],
        ["note:lead", "status_update:lead", "assigned:lead", "note:lead", "step_done:lead", "step_done:lead"],
        "one event per accepted action, none for refusals"
    );

    // Silences.
    let (status, silence) =
        api.post("/api/v1/silences", json!({"tag": "social", "for": "2h", "reason": "troll wave"})).await;
    assert_eq!(status, StatusCode::CREATED, "{silence}");
    let (status, error) =
        api.post("/api/v1/silences", json!({"rule": "food-safetyy", "for": "2h", "reason": "typo"})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(error["error"].as_str().is_some_and(|e| e.starts_with("no rule `food-safetyy`")), "{error}");
    let (status, _) =
        api.post("/api/v1/silences", json!({"rule": "food-safety", "feed": "forum", "for": "2h", "reason": "x"})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "one scope at a time");
    let (status, _) = api.post("/api/v1/silences", json!({"feed": "forum", "for": "soon", "reason": "x"})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (_, listed) = api.get("/api/v1/silences").await;
    assert_eq!(listed["items"][0]["id"], silence["id"]);
    assert_eq!(listed["items"][0]["created_by"], "lead");
    let (status, ended) = api.post(&format!("/api/v1/silences/{}/end", silence["id"]), json!({})).await;
    assert_eq!((status, ended["ended_by"].as_str()), (StatusCode::OK, Some("lead")));
    let (_, listed) = api.get("/api/v1/silences").await;
    assert_eq!(listed["items"].as_array().map(Vec::len), Some(0), "ended silences leave the active list");
    let (status, _) = api.post("/api/v1/silences/999/end", json!({})).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // Channels: disabled by hand (notices go to the fallback), enabled again.
    let (status, disabled) =
        api.post("/api/v1/channels/oncall/disable", json!({"reason": "endpoint being migrated"})).await;
    assert_eq!(status, StatusCode::OK, "{disabled}");
    assert_eq!(disabled["disabled_reason"], "disabled by lead: endpoint being migrated");
    let (_, channels) = api.get("/api/v1/channels").await;
    assert_eq!(channels["items"][0]["availability"]["state"], "disabled", "{channels}");
    let (status, _) = api.post("/api/v1/channels/oncall/enable", json!({})).await;
    assert_eq!(status, StatusCode::OK);
    let (_, channels) = api.get("/api/v1/channels").await;
    assert_eq!(channels["items"][0]["availability"]["state"], "up");
    let (status, _) = api.post("/api/v1/channels/pager/enable", json!({})).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = api.post("/api/v1/channels/oncall/disable", json!({})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "a reason is required");

    // The review in its three formats.
    let (status, review) = api.get(&format!("/api/v1/incidents/{id}/review")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(review["times"]["to_statement"]["seconds"].is_number(), "{}", review["times"]);
    assert_eq!(review["chain"]["status"], "verified");
    for (format, content_type, marker) in [("md", "text/markdown", "# "), ("html", "text/html", "<!DOCTYPE html>")] {
        let response = api
            .http
            .get(format!("{}/api/v1/incidents/{id}/review?format={format}", api.base))
            .bearer_auth("lead-token")
            .send()
            .await
            .expect("review");
        let header = response.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
        assert!(header.starts_with(content_type), "{header}");
        assert!(response.text().await.expect("text").contains(marker));
    }
    let (status, _) = api.get(&format!("/api/v1/incidents/{id}/review?format=pdf")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    // The dashboard shows the checklist and the owner, and its forms act as the logged-in name.
    let page = api
        .http
        .get(format!("{}/incidents/{id}", api.base))
        .bearer_auth("lead-token")
        .send()
        .await
        .expect("page")
        .text()
        .await
        .expect("html");
    for expected in ["Playbook: ", "confirmed with QA", "Owner: <strong>mei</strong>", "(official statement)"] {
        assert!(page.contains(expected), "the incident page shows {expected:?}");
    }
    let step = checklist["steps"][1]["id"].as_str().expect("a second step");
    let no_redirects = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("client");
    // A browser logs in once and carries a session id, never the token.
    let login = no_redirects
        .post(format!("{}/login", api.base))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("token=lead-token")
        .send()
        .await
        .expect("login");
    let session = login
        .headers()
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .expect("a session cookie")
        .to_owned();
    assert!(session.starts_with("tocsin_session=") && !session.contains("lead-token"), "{session}");
    let post_form = |body: String| {
        no_redirects
            .post(format!("{}/incidents/{id}/steps/{step}", api.base))
            .header("cookie", session.clone())
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
    };
    // A browser form without the page's token (a forged cross-site post) is refused.
    let forged = post_form("note=forged".into()).await.expect("form");
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);
    let forged = post_form("note=forged&csrf=AAAA".into()).await.expect("form");
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);
    // The page as the browser sees it (cookie session) carries the token in every form.
    let page = api
        .http
        .get(format!("{}/incidents/{id}", api.base))
        .header("cookie", session.clone())
        .send()
        .await
        .expect("page")
        .text()
        .await
        .expect("html");
    let csrf = page
        .split("name=\"csrf\" value=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("a csrf field in the page's forms")
        .to_owned();
    let form = post_form(format!("note=done+from+the+dashboard&csrf={csrf}")).await.expect("form");
    assert_eq!(form.status(), StatusCode::SEE_OTHER);
    let (_, checklist) = api.get(&format!("/api/v1/incidents/{id}/checklist")).await;
    assert_eq!(checklist["steps"][1]["done"]["note"], "done from the dashboard");
    assert!(page.contains("<svg"), "the incident page charts volume and sentiment");

    // The other pages: filters, feed health, silences through forms, and the language.
    let browse = |path: &str, cookies: &str| {
        no_redirects.get(format!("{}{path}", api.base)).header("cookie", cookies.to_owned()).send()
    };
    let text = |response: reqwest::Response| async move { response.text().await.expect("html") };
    let critical = text(browse("/incidents?level=critical", &session).await.expect("list")).await;
    assert!(critical.contains(&format!("href=\"/incidents/{id}\"")), "filtered by level");
    assert!(critical.contains("data-watch=\"incidents\""), "the list follows the live stream");
    assert!(critical.contains("<script src=\"/static/live-"), "with tocsin's own script");
    let low = text(browse("/incidents?level=low", &session).await.expect("list")).await;
    assert!(!low.contains(&format!("href=\"/incidents/{id}\"")));
    let feeds = text(browse("/feeds", &session).await.expect("feeds")).await;
    assert!(feeds.contains("forum") && feeds.contains("Failures in a row"), "{feeds}");
    let switched = browse("/lang/zh", &session).await.expect("lang");
    let cookie = switched.headers().get("set-cookie").and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
    assert!(cookie.starts_with("tocsin_lang=zh"), "{cookie}");
    let chinese = text(browse("/incidents", &format!("{session}; tocsin_lang=zh")).await.expect("list")).await;
    assert!(chinese.contains("<h1>事件</h1>") && chinese.contains("lang=\"zh-CN\""), "the Chinese UI");

    let silences = text(browse("/silences", &session).await.expect("silences")).await;
    let csrf = silences
        .split("name=\"csrf\" value=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("a csrf field")
        .to_owned();
    let post = |path: &str, body: String| {
        no_redirects
            .post(format!("{}{path}", api.base))
            .header("cookie", session.clone())
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
    };
    let forged = post("/silences", "scope=rule&value=food-safety&for=1h&reason=x".into()).await.expect("post");
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);
    let added = post("/silences", format!("scope=rule&value=food-safety&for=1h&reason=press+conference&csrf={csrf}"))
        .await
        .expect("post");
    assert_eq!(added.status(), StatusCode::SEE_OTHER);
    let (_, listed) = api.get("/api/v1/silences").await;
    let silence = listed["items"][0]["id"].as_i64().expect("the silence added from the page");
    assert_eq!(listed["items"][0]["reason"], "press conference");
    let ended = post(&format!("/silences/{silence}/end"), format!("csrf={csrf}")).await.expect("post");
    assert_eq!(ended.status(), StatusCode::SEE_OTHER);
    let bad = post("/silences", format!("scope=rule&value=nope&for=1h&reason=x&csrf={csrf}")).await.expect("post");
    assert_eq!(bad.status(), StatusCode::BAD_REQUEST, "an unknown rule is refused on the page too");

    // A live stream left open does not keep the daemon from stopping: the stream ends.
    tokio::time::timeout(std::time::Duration::from_secs(10), running.shutdown())
        .await
        .expect("the daemon stops with a live stream open");
    let ended = tokio::time::timeout(std::time::Duration::from_secs(5), async {
        while let Ok(Some(_)) = resumed.chunk().await {}
    })
    .await;
    assert!(ended.is_ok(), "the stream ends when the daemon stops");
}

/// Every curl line in docs/api.md runs, in order, against a fresh daemon, and succeeds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_curl_examples_in_docs_api_md_run_as_written() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = Config::parse(
        "api.toml",
        &format!(
            "[store]\nurl = \"sqlite://{}\"\n\n[http]\nlisten = \"127.0.0.1:0\"\n\n[[feed]]\nname = \"forum\"\n\
             url = \"http://127.0.0.1:9/forum\"\n",
            dir.path().join("docs.db").display()
        ),
    )
    .expect("config");
    let tokens = Tokens::parse("docs:docs-token").expect("tokens");
    let running = daemon::start(config, RuleSet::bundled(), Clock::default(), tokens).await.expect("daemon");
    let doc = std::fs::read_to_string(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/api.md"))
        .expect("docs/api.md");
    let block = doc.split("```sh\n").nth(1).and_then(|rest| rest.split("```").next()).expect("a sh block");
    let mut ran = 0;
    for line in block.lines().filter(|l| l.starts_with("curl ")) {
        let out = tokio::process::Command::new("sh")
            .arg("-c")
            .arg(line)
            .env("TOCSIN_URL", format!("http://{}", running.addr))
            .env("TOCSIN_TOKEN", "docs-token")
            .output()
            .await
            .expect("run curl (Debian package curl)");
        assert!(out.status.success(), "{line}\n{}", String::from_utf8_lossy(&out.stderr));
        ran += 1;
    }
    assert!(ran >= 15, "the examples cover the API: {ran}");
    let incident = running.store.incident(1).await.expect("read").expect("the example opened incident 1");
    assert_eq!(incident.assignee.as_deref(), Some("mei"));
    assert_eq!(incident.status, tocsin::incident::Status::Resolved);
    running.shutdown().await;
}

/// A daemon whose one channel is `channel` (a `[[channel]]` table's keys, named
/// `on-call`), notified at once by the default policy, and the lead's API on it.
async fn daemon_with_channel(dir: &std::path::Path, channel: &str) -> (daemon::RunningDaemon, Api) {
    let config = Config::parse(
        "tools.toml",
        &format!(
            "[store]\nurl = \"sqlite://{}\"\n\n[http]\nlisten = \"127.0.0.1:0\"\n\n[[channel]]\nname = \"on-call\"\n\
             {channel}\n\n[[escalation]]\nname = \"default\"\nlevels = [{{ after = \"0m\", notify = [\"on-call\"] }}]\n",
            dir.join("tools.db").display(),
        ),
    )
    .expect("config");
    let tokens = Tokens::parse("lead:lead-token").expect("tokens");
    let running = daemon::start(config, RuleSet::bundled(), Clock::default(), tokens).await.expect("daemon");
    let api = Api { http: reqwest::Client::new(), base: format!("http://{}", running.addr) };
    (running, api)
}

/// The incident was acknowledged under `tool`'s name, and its notice of that was not sent
/// back to the tool.
async fn assert_acknowledged_by_without_echo(running: &daemon::RunningDaemon, id: i64, tool: &str, skipped: &str) {
    let not_echoed = || async {
        running.store.timeline(id).await.expect("timeline").iter().any(|e| {
            e.kind == "notified"
                && e.details["type"] == "incident.acknowledged"
                && e.details["detail"].as_str().is_some_and(|d| d.contains(skipped))
        })
    };
    common::wait_until(std::time::Duration::from_secs(20), not_echoed)
        .await
        .expect("the acknowledgement is not echoed");
    let acked = running.store.timeline(id).await.expect("timeline").into_iter().find(|e| e.kind == "acknowledged");
    assert_eq!(acked.map(|e| e.actor).as_deref(), Some(tool));
}

/// A PagerDuty round trip against a loopback Events API: the incident tocsin opens is
/// triggered there; PagerDuty's signed webhook acknowledges it in tocsin under
/// `pagerduty`, and tocsin does not send that acknowledgement back; a person resolves it in
/// tocsin and the resolution goes to PagerDuty. One `dedup_key` throughout, nothing sent
/// twice; a repeated delivery changes nothing and a forged one is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_acknowledgement_in_pagerduty_is_mirrored_and_a_resolution_in_tocsin_goes_back() {
    use hmac::{KeyInit, Mac};
    let events_api = common::WebhookReceiver::start().await;
    events_api.accept_with(r#"{"status":"success","message":"Event processed"}"#);
    // SAFETY: set before the daemon reads them; no other thread of this test touches them.
    unsafe {
        std::env::set_var("TOCSIN_TEST_PD_ROUTING_KEY", "R0UT1NGKEY");
        std::env::set_var("TOCSIN_TEST_PD_WEBHOOK_SECRET", "pd-webhook-secret");
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let channel = format!(
        "kind = \"pagerduty\"\nurl = \"{}\"\nsecret_env = \"TOCSIN_TEST_PD_ROUTING_KEY\"\n\
         webhook_secret_env = \"TOCSIN_TEST_PD_WEBHOOK_SECRET\"",
        events_api.url()
    );
    let (running, api) = daemon_with_channel(dir.path(), &channel).await;
    let sent = || events_api.received().into_iter().map(|r| r.json()).collect::<Vec<Value>>();

    let id = api.open_incident().await;
    let dedup = format!("tocsin-incident-{id}");
    common::wait_until(std::time::Duration::from_secs(20), || async { !sent().is_empty() }).await.expect("triggered");
    let trigger = &sent()[0];
    assert_eq!((&trigger["event_action"], &trigger["dedup_key"]), (&json!("trigger"), &json!(dedup)));
    assert_eq!(trigger["routing_key"], "R0UT1NGKEY");
    assert!(trigger["payload"]["summary"].as_str().is_some_and(|s| s.len() <= 1024), "{trigger}");
    assert!(["critical", "error", "warning", "info"].contains(&trigger["payload"]["severity"].as_str().unwrap_or("")));

    // PagerDuty's webhook, signed the way its v3 subscriptions sign.
    let delivery = json!({"event": {
        "id": "01DEN", "event_type": "incident.acknowledged", "resource_type": "incident",
        "occurred_at": "2026-12-07T10:00:00Z", "agent": {"type": "user_reference", "summary": "Mei Lin"},
        "data": {"id": "PGR0VU2", "type": "incident", "status": "acknowledged", "incident_key": dedup},
    }})
    .to_string();
    let sign = |body: &str, secret: &[u8]| {
        let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret).expect("key");
        mac.update(body.as_bytes());
        let hex: String = mac.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect();
        format!("v1={hex}")
    };
    let webhook = |body: String, signature: String| {
        let request = api.http.post(format!("{}/api/v1/integrations/pagerduty", api.base));
        async move {
            let response = request
                .header("content-type", "application/json")
                .header("x-pagerduty-signature", signature)
                .body(body)
                .send()
                .await
                .expect("webhook");
            let status = response.status();
            (status, response.json::<Value>().await.expect("JSON"))
        }
    };
    let (status, forged) = webhook(delivery.clone(), sign(&delivery, b"guessed")).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{forged}");
    let (status, applied) = webhook(delivery.clone(), sign(&delivery, b"pd-webhook-secret")).await;
    assert_eq!((status, applied["result"].as_str()), (StatusCode::OK, Some("applied")), "{applied}");
    let (status, again) = webhook(delivery.clone(), sign(&delivery, b"pd-webhook-secret")).await;
    assert_eq!((status, again["result"].as_str()), (StatusCode::OK, Some("unchanged")), "{again}");
    let (_, incident) = api.get(&format!("/api/v1/incidents/{id}")).await;
    assert_eq!(incident["status"], "acknowledged");
    assert_acknowledged_by_without_echo(&running, id, "pagerduty", "not sent: the action came from PagerDuty").await;

    // Resolved in tocsin by a person: PagerDuty hears of it, on the same alert.
    let (status, _) = api.post(&format!("/api/v1/incidents/{id}/resolve"), json!({})).await;
    assert_eq!(status, StatusCode::OK);
    common::wait_until(std::time::Duration::from_secs(20), || async { sent().len() >= 2 })
        .await
        .expect("resolved there");
    let actions: Vec<(String, String)> = sent()
        .iter()
        .map(|e| {
            (e["event_action"].as_str().unwrap_or("").to_owned(), e["dedup_key"].as_str().unwrap_or("").to_owned())
        })
        .collect();
    assert_eq!(actions, [("trigger".to_owned(), dedup.clone()), ("resolve".to_owned(), dedup.clone())]);
    running.shutdown().await;
}

/// The same round trip with Opsgenie: the alert is created under the incident's alias with
/// the API key, Opsgenie's webhook (its shared-token header) acknowledges the incident as
/// `opsgenie` without an echo, a resolution in tocsin closes the alert by alias; a webhook
/// without the token is refused and one about tocsin's own request is ignored.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_acknowledgement_in_opsgenie_is_mirrored_and_a_resolution_in_tocsin_closes_its_alert() {
    let alerts_api = common::WebhookReceiver::start().await;
    alerts_api.accept_with(r#"{"result":"Request will be processed","took":0.2,"requestId":"43a29c5c"}"#);
    // SAFETY: set before the daemon reads them; no other thread of this test touches them.
    unsafe {
        std::env::set_var("TOCSIN_TEST_OPSGENIE_KEY", "genie-key");
        std::env::set_var("TOCSIN_TEST_OPSGENIE_TOKEN", "shared-token");
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let channel = format!(
        "kind = \"opsgenie\"\nurl = \"http://{}\"\nsecret_env = \"TOCSIN_TEST_OPSGENIE_KEY\"\n\
         webhook_secret_env = \"TOCSIN_TEST_OPSGENIE_TOKEN\"",
        alerts_api.addr
    );
    let (running, api) = daemon_with_channel(dir.path(), &channel).await;
    let requests = || alerts_api.received();
    let id = api.open_incident().await;
    let alias = format!("tocsin-incident-{id}");
    common::wait_until(std::time::Duration::from_secs(20), || async { !requests().is_empty() }).await.expect("created");
    let created = &requests()[0];
    assert_eq!(
        (created.uri.as_str(), created.header("authorization")),
        ("/v2/alerts", "GenieKey genie-key".to_owned())
    );
    let alert = created.json();
    assert_eq!(alert["alias"], alias.as_str());
    assert!(alert["message"].as_str().is_some_and(|m| m.chars().count() <= 130), "{alert}");
    assert!(["P1", "P2", "P3", "P4"].contains(&alert["priority"].as_str().unwrap_or("")), "{alert}");

    let hook = |body: Value, token: &str| {
        let request =
            api.http.post(format!("{}/api/v1/integrations/opsgenie", api.base)).header("x-tocsin-token", token);
        async move {
            let response = request.json(&body).send().await.expect("webhook");
            (response.status(), response.json::<Value>().await.expect("JSON"))
        }
    };
    let ack = json!({"action": "Acknowledge", "alert": {"alias": alias, "username": "mei@example.com"}, "source": {"name": "iOS"}});
    let (status, refused) = hook(ack.clone(), "wrong").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{refused}");
    let echo = json!({"action": "Close", "alert": {"alias": alias}, "source": {"name": "tocsin"}});
    let (status, ignored) = hook(echo, "shared-token").await;
    assert_eq!((status, ignored["result"].as_str()), (StatusCode::OK, Some("ignored")), "{ignored}");
    let (status, applied) = hook(ack, "shared-token").await;
    assert_eq!((status, applied["result"].as_str()), (StatusCode::OK, Some("applied")), "{applied}");
    assert_acknowledged_by_without_echo(&running, id, "opsgenie", "not sent: the action came from Opsgenie").await;

    let (status, _) = api.post(&format!("/api/v1/incidents/{id}/resolve"), json!({})).await;
    assert_eq!(status, StatusCode::OK);
    common::wait_until(std::time::Duration::from_secs(20), || async { requests().len() >= 2 }).await.expect("closed");
    let uris: Vec<String> = requests().iter().map(|r| r.uri.clone()).collect();
    assert_eq!(uris, ["/v2/alerts".to_owned(), format!("/v2/alerts/{alias}/close?identifierType=alias")]);
    assert_eq!(requests()[1].json()["user"], "lead", "closed in Opsgenie on behalf of who resolved it");
    running.shutdown().await;
}
