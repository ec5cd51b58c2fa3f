//! The OpenAPI document against the running daemon: every operation it documents is served
//! (a route, with that method, behind the token it declares), and no other method is served
//! on a documented path.

use reqwest::{Method, StatusCode};
use serde_json::Value;
use tocsin::analyze::RuleSet;
use tocsin::api::{ApiDoc, Tokens};
use tocsin::clock::Clock;
use tocsin::config::Config;
use tocsin::daemon;
use utoipa::OpenApi;

/// A documented path with its `{parameters}` filled in: `oncall` for a channel's name, `1`
/// for anything else.
fn concrete(path: &str) -> String {
    path.replace("{name}", "oncall").replace("{id}", "1").replace("{step}", "1")
}

/// Whether an answer came from a handler rather than the router's fallback: the router
/// answers an unknown path 404 with an empty body, a handler's 404 is a JSON error.
fn handled(status: StatusCode, body: &str) -> bool {
    status != StatusCode::METHOD_NOT_ALLOWED
        && (status != StatusCode::NOT_FOUND
            || serde_json::from_str::<Value>(body).is_ok_and(|v| v["error"].is_string()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_documented_operation_is_served_behind_the_token_it_declares() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = Config::parse(
        "openapi.toml",
        &format!(
            "[store]\nurl = \"sqlite://{}\"\n\n[http]\nlisten = \"127.0.0.1:0\"\n\n[[feed]]\nname = \"forum\"\n\
             url = \"http://127.0.0.1:9/forum\"\n\n[[channel]]\nname = \"oncall\"\nkind = \"webhook\"\n\
             url = \"http://127.0.0.1:9/hook\"\n",
            dir.path().join("openapi.db").display()
        ),
    )
    .expect("config");
    let tokens = Tokens::parse("lead:lead-token").expect("tokens");
    let running = daemon::start(config, RuleSet::bundled(), Clock::default(), tokens).await.expect("daemon");
    tocsin::ingest::fetch::install_crypto_provider();
    let http = reqwest::Client::new();
    let base = format!("http://{}", running.addr);

    let document = serde_json::to_value(ApiDoc::openapi()).expect("document");
    let paths = document["paths"].as_object().expect("paths");
    let all_methods = [Method::GET, Method::POST, Method::PUT, Method::PATCH, Method::DELETE];
    let mut operations = 0;
    for (path, item) in paths {
        let url = format!("{base}{}", concrete(path));
        for method in &all_methods {
            let key = method.as_str().to_lowercase();
            let Some(operation) = item.get(&key) else {
                let response = http.request(method.clone(), &url).bearer_auth("lead-token").send().await.expect("send");
                assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED, "{method} {path} is not documented");
                continue;
            };
            operations += 1;
            let public = operation["security"] == serde_json::json!([{}]);

            let response = http.request(method.clone(), &url).send().await.expect("send");
            let status = response.status();
            let body = response.text().await.expect("body");
            if public {
                assert_eq!(status, StatusCode::OK, "{method} {path} needs no token: {body}");
            } else {
                assert_eq!(status, StatusCode::UNAUTHORIZED, "{method} {path} without a token: {body}");
            }

            let mut request = http.request(method.clone(), &url).bearer_auth("lead-token");
            if *method == Method::POST {
                request = request.header("content-type", "application/json").body("{}");
            }
            let response = request.send().await.expect("send");
            let status = response.status();
            let streams = response
                .headers()
                .get("content-type")
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| v.starts_with("text/event-stream"));
            if streams {
                // A live stream never ends by itself: its answer is the stream opening.
                let documented = &operation["responses"]["200"]["content"]["text/event-stream"];
                assert!(status == StatusCode::OK && documented.is_object(), "{method} {path}: {status}");
                continue;
            }
            let body = response.text().await.expect("body");
            assert!(handled(status, &body), "{method} {path} is documented but not served: {status} {body}");
            if let Some(error) = serde_json::from_str::<Value>(&body).ok().filter(|_| !status.is_success()) {
                let documented = operation["responses"].get(status.as_str()).is_some();
                assert!(documented, "{method} {path} answered an undocumented {status}: {error}");
            }
        }
    }
    assert!(operations > 20, "the document lists the API: {operations} operations");

    running.shutdown().await;
}
