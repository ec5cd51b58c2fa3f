//! The dashboard as a person uses it, in a real browser: headless Chromium driven over
//! WebDriver by chromedriver.
//!
//! A forum post reports food poisoning after eating Acme yogurt, and its title carries hostile
//! markup: a script that would set the page title to `PWNED` and an image whose error handler
//! would open a dialog, if either ever became an element of the page. The daemon polls
//! the feed and opens an incident. The lead logs in with their token, sees the incident in
//! the list, opens it and finds the hostile title shown as plain text, with no script run and
//! no dialog open. They press Acknowledge: the page comes back with the status acknowledged
//! and a timeline row saying `lead` did it, and the store agrees. Each step leaves a
//! screenshot in `target/test-artifacts/` (`browser-1-list.png`, `browser-2-incident.png`,
//! `browser-3-acknowledged.png`) for people to look at.
//!
//! Then each role in turn (viewer, responder, admin) logs in and finds only the forms it may
//! use; a form the page did not offer, posted anyway with the session's own CSRF token, is
//! refused with the role it needs, and the store shows what each one did and did not do.
//!
//! Chromium and chromedriver are required: `.ci/run` installs them, so a missing browser or
//! driver fails the test instead of skipping it.

mod common;

use std::fs;
use std::io::ErrorKind;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::{FeedServer, Format, Item, WebhookReceiver, wait_until};
use fantoccini::wd::Capabilities;
use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use tocsin::analyze::RuleSet;
use tocsin::api::Tokens;
use tocsin::clock::Clock;
use tocsin::config::Config;
use tocsin::daemon;
use tocsin::incident::{Incident, Status};
use tocsin::store::{IncidentFilter, MentionFilter, Store};

/// Markup that runs script if a page inserts it as markup rather than text: an inline
/// script that sets the page title, and an image whose error handler opens a dialog as soon
/// as the element exists.
const HOSTILE: &str = "<script>document.title='PWNED'</script><img src=x onerror=alert(1)>";

/// The forum post's title as the feed carries it. Feeds carry titles as HTML and tocsin keeps
/// only their text, so a bare tag would simply be dropped; written escaped, as a site shows
/// markup in a title, it decodes to its words followed by `HOSTILE` as plain text, which the
/// dashboard must then escape.
const FEED_TITLE: &str =
    "Acme yogurt food poisoning &lt;script&gt;document.title='PWNED'&lt;/script&gt;&lt;img src=x onerror=alert(1)&gt;";

/// What the hostile markup sets the page title to if it runs.
const MARKER: &str = "PWNED";

/// The lead's dashboard token.
const TOKEN: &str = "lead-token";

/// Longest wait for the daemon, the driver or an element on a page.
const WAIT: Duration = Duration::from_secs(20);

/// The browser window in CSS pixels; screenshots keep its width and grow to the page's height.
const WINDOW: &str = "--window-size=1280,1600";

fn manifest_dir() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// `target/test-artifacts/`, created if needed.
fn artifacts_dir() -> PathBuf {
    let target = match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) => manifest_dir().join(dir),
        None => manifest_dir().join("target"),
    };
    let dir = target.join("test-artifacts");
    fs::create_dir_all(&dir).expect("create target/test-artifacts");
    dir
}

/// The first executable called `name` on `PATH`.
fn on_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path).map(|dir| dir.join(name)).find(|candidate| candidate.is_file())
}

fn config_text(dir: &Path, feeds: &FeedServer) -> String {
    format!(
        r#"
[store]
url = "sqlite://{db}"

[http]
listen = "127.0.0.1:0"

[poll]
default_interval = "1s"
timeout = "3s"

[[feed]]
name = "forum"
url = "{forum}"
"#,
        db = dir.join("tocsin.db").display(),
        forum = feeds.url("forum"),
    )
}

/// chromedriver on a free loopback port, in its own process group so that dropping it also
/// ends the browsers it started, even when the test fails half-way.
struct Chromedriver {
    child: Child,
    url: String,
}

impl Chromedriver {
    async fn start() -> Chromedriver {
        let port = common::free_port();
        let spawned = Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .process_group(0)
            .spawn();
        let child = match spawned {
            Ok(child) => child,
            Err(e) if e.kind() == ErrorKind::NotFound => panic!(
                "`chromedriver` is not installed: this test needs it, and `.ci/run` installs it \
                 (apt-get install chromium chromium-driver)"
            ),
            Err(e) => panic!("could not start chromedriver: {e}"),
        };
        let driver = Chromedriver { child, url: format!("http://127.0.0.1:{port}") };
        wait_until(WAIT, || async { tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_ok() })
            .await
            .expect("chromedriver listens on its port");
        driver
    }

    /// A headless Chromium session with a throwaway profile in `profile`.
    async fn session(&self, profile: &Path) -> Client {
        let chromium = on_path("chromium").unwrap_or_else(|| {
            panic!(
                "`chromium` is not installed: this test needs it, and `.ci/run` installs it \
                 (apt-get install chromium chromium-driver)"
            )
        });
        let capabilities: Capabilities = serde_json::from_value(serde_json::json!({
            "browserName": "chrome",
            // Leave any dialog open, so the test can see it instead of the driver closing it.
            "unhandledPromptBehavior": "ignore",
            "goog:chromeOptions": {
                "binary": chromium,
                "args": [
                    "--headless=new",
                    "--no-sandbox",
                    "--disable-gpu",
                    "--hide-scrollbars",
                    WINDOW,
                    format!("--user-data-dir={}", profile.display()),
                ],
            },
        }))
        .expect("capabilities are a JSON object");
        ClientBuilder::new(HttpConnector::new())
            .capabilities(capabilities)
            .connect(&self.url)
            .await
            .expect("chromedriver opens a headless Chromium session")
    }
}

impl Drop for Chromedriver {
    fn drop(&mut self) {
        // The negative id names the whole group: chromedriver and every browser it started.
        let _ = Command::new("kill").args(["-KILL", "--", &format!("-{}", self.child.id())]).status();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Waits for an element, failing with `what` and the page the browser is on.
async fn find(browser: &Client, locator: Locator<'_>, what: &str) -> fantoccini::elements::Element {
    match browser.wait().at_most(WAIT).for_element(locator).await {
        Ok(element) => element,
        Err(e) => {
            let url = browser.current_url().await.map(|u| u.to_string()).unwrap_or_default();
            let text = match browser.find(Locator::Css("body")).await {
                Ok(body) => body.text().await.unwrap_or_default(),
                Err(_) => String::new(),
            };
            panic!("{what}: not seen within {WAIT:?} ({e}) on {url}:\n{text}")
        }
    }
}

/// Saves the whole page as `name` in the artifacts folder. WebDriver only captures the
/// viewport, so the window grows to the page's height for the shot, then shrinks back.
async fn screenshot(browser: &Client, name: &str) {
    let (width, height) = browser.get_window_size().await.expect("read the window size");
    let measured = browser
        .execute("return [document.documentElement.scrollHeight, window.outerHeight - window.innerHeight];", vec![])
        .await
        .expect("measure the page");
    let [page, chrome] = [0, 1].map(|i| measured[i].as_u64().expect("page and window heights are numbers"));
    let full = u32::try_from((page + chrome).max(height)).expect("a page height that fits in u32");
    browser.set_window_size(u32::try_from(width).expect("window width"), full).await.expect("grow the window");
    let png = browser.screenshot().await.expect("take a screenshot");
    browser
        .set_window_size(u32::try_from(width).expect("window width"), u32::try_from(height).expect("window height"))
        .await
        .expect("restore the window size");
    let path = artifacts_dir().join(name);
    fs::write(&path, png).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
}

/// A daemon with `tokens` polling a forum whose one post (`title`, `body`) opens an
/// incident: the daemon, the feed server it polls (kept alive), and the incident. `extra`
/// is config added to the test's own (channels, policies, risk levels).
async fn daemon_with_incident(
    dir: &Path,
    title: &str,
    body: &str,
    tokens: &str,
    extra: &str,
) -> (daemon::RunningDaemon, FeedServer, Incident) {
    let feeds = FeedServer::start().await;
    feeds.set("forum", Format::Rss, vec![Item::new("f1", title, body)]);
    let config = format!("{}\n{extra}", config_text(dir, &feeds));
    let config = Config::parse("browser.toml", &config).expect("test config is valid");
    let tokens = Tokens::parse(tokens).expect("tokens");
    let running = daemon::start(config, RuleSet::bundled(), Clock::default(), tokens).await.expect("daemon starts");
    let store = running.store.clone();
    let all = IncidentFilter { limit: 10, ..Default::default() };
    wait_until(WAIT, || async { store.incidents(&all).await.is_ok_and(|list| !list.is_empty()) })
        .await
        .expect("the food-poisoning post opens an incident");
    let incident = store.incidents(&all).await.expect("list incidents").remove(0);
    (running, feeds, incident)
}

/// Types `token` into the login page and presses Log in.
async fn log_in(browser: &Client, base: &str, token: &str) {
    browser.goto(&format!("{base}/login")).await.expect("open the login page");
    find(browser, Locator::Css("input[name='token']"), "the token field")
        .await
        .send_keys(token)
        .await
        .expect("type the token");
    find(browser, Locator::XPath("//button[normalize-space()='Log in']"), "the Log in button")
        .await
        .click()
        .await
        .expect("press Log in");
    find(browser, Locator::XPath("//form[@action='/logout']"), "the logged-in navigation").await;
}

/// The actions of the forms on the page the browser is on.
async fn form_actions(browser: &Client) -> Vec<String> {
    let mut actions = Vec::new();
    for form in browser.find_all(Locator::Css("form")).await.expect("look for forms") {
        actions.push(form.attr("action").await.expect("read a form's action").unwrap_or_default());
    }
    actions
}

/// Posts `path` from the page, as a form the page did not offer would be (built in the page,
/// carrying the session's own CSRF token, so only the role can refuse it), and returns the
/// answer's status (the navigation's, as the browser saw it) and the text of its page.
async fn forge_post(browser: &Client, path: &str, fields: &[(&str, &str)]) -> (u64, String) {
    let script = "const [path, fields] = arguments; \
        const form = document.createElement('form'); \
        form.method = 'post'; form.action = path; \
        const add = (name, value) => { const input = document.createElement('input'); \
            input.type = 'hidden'; input.name = name; input.value = value; form.appendChild(input); }; \
        add('csrf', document.querySelector(\"input[name='csrf']\").value); \
        for (const [name, value] of fields) add(name, value); \
        document.body.appendChild(form); form.submit();";
    let fields: Vec<serde_json::Value> = fields.iter().map(|(name, value)| serde_json::json!([name, value])).collect();
    browser.execute(script, vec![path.into(), fields.into()]).await.unwrap_or_else(|e| panic!("post {path}: {e}"));
    find(browser, Locator::XPath("//h1[normalize-space()='Error']"), "the refusal page").await;
    let text = browser.find(Locator::Css("body")).await.expect("the body").text().await.expect("its text");
    let status = browser
        .execute("return performance.getEntriesByType('navigation')[0].responseStatus;", vec![])
        .await
        .expect("read the navigation's status");
    (status.as_u64().expect("a status"), text)
}

/// The hostile markup did not run: the title is not the marker, no dialog is open, and the
/// page holds neither the script nor the image as elements.
async fn assert_nothing_ran(browser: &Client, page: &str) {
    let title = browser.title().await.expect("read the page title");
    assert_ne!(title, MARKER, "a script from the mention title ran on {page}");
    match browser.get_alert_text().await {
        Err(e) if e.is_no_such_alert() => {}
        Ok(text) => panic!("a dialog is open on {page}: {text:?}"),
        Err(e) => panic!("could not check for a dialog on {page}: {e}"),
    }
    let injected = browser
        .find_all(Locator::XPath(&format!("//script[contains(., '{MARKER}')] | //img[@onerror]")))
        .await
        .expect("look for injected elements");
    assert!(injected.is_empty(), "{page} holds {} script or image elements from feed text", injected.len());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_lead_logs_in_opens_and_acknowledges_an_incident_whose_title_is_hostile() {
    let artifacts = artifacts_dir();
    for name in ["browser-1-list.png", "browser-2-incident.png", "browser-3-acknowledged.png"] {
        // A screenshot left by an earlier run must not pass for this one.
        if let Err(e) = fs::remove_file(artifacts.join(name)) {
            assert_eq!(e.kind(), ErrorKind::NotFound, "remove the old {name}: {e}");
        }
    }

    // A forum post about food poisoning, with a script in its title, opens an incident.
    let dir = tempfile::tempdir().expect("tempdir");
    let (running, _feeds, incident) = daemon_with_incident(
        dir.path(),
        FEED_TITLE,
        "My kid got food poisoning after eating Acme yogurt, sick all night.",
        &format!("lead:{TOKEN}"),
        "",
    )
    .await;
    let store = running.store.clone();
    let base = format!("http://{}", running.addr);
    assert_eq!((incident.rule.as_str(), incident.status), ("food-safety", Status::Open));
    assert!(incident.title.contains(HOSTILE), "the incident title carries the markup as text: {:?}", incident.title);

    let driver = Chromedriver::start().await;
    let profile = tempfile::tempdir().expect("a throwaway browser profile");
    let browser = driver.session(profile.path()).await;

    // Log in with the token; the dashboard lands on the incident list.
    log_in(&browser, &base, TOKEN).await;
    // Any link to the incident shows the list has loaded; check nothing ran before reading it.
    let to_incident = format!("//a[@href='/incidents/{}']", incident.id);
    find(&browser, Locator::XPath(&to_incident), "a link to the incident in the list").await;
    assert_nothing_ran(&browser, "the incident list").await;
    let list_url = browser.current_url().await.expect("current URL");
    assert_eq!(list_url.path(), "/", "logging in lands on the overview, open incidents on top");
    let link = find(&browser, Locator::LinkText(&incident.title), "the incident's title as text in the list").await;
    screenshot(&browser, "browser-1-list.png").await;

    // Open the incident: nothing ran, and the hostile titles read as text.
    link.click().await.expect("open the incident");
    let acknowledge = Locator::XPath("//form//button[normalize-space()='Acknowledge']");
    let button = find(&browser, acknowledge, "the Acknowledge button").await;
    assert_nothing_ran(&browser, "the incident page").await;
    let page_url = browser.current_url().await.expect("current URL");
    assert_eq!(page_url.path(), format!("/incidents/{}", incident.id));
    let heading = find(&browser, Locator::Css("h1"), "the heading").await.text().await.expect("heading text");
    assert_eq!(heading, format!("#{} {}", incident.id, incident.title), "the heading shows the title as text");
    let mention_title = format!("Acme yogurt food poisoning {HOSTILE}");
    find(&browser, Locator::LinkText(&mention_title), "the mention's full title as text").await;
    screenshot(&browser, "browser-2-incident.png").await;

    // Acknowledge: the page comes back acknowledged, with the lead on the timeline.
    button.click().await.expect("press Acknowledge");
    find(&browser, Locator::XPath("//p/strong[normalize-space()='acknowledged']"), "the acknowledged status").await;
    find(
        &browser,
        Locator::XPath(
            "//h2[normalize-space()='Timeline']/following::table[1]\
             //tr[td[normalize-space()='acknowledged'] and td[normalize-space()='lead']]",
        ),
        "a timeline row: lead acknowledged",
    )
    .await;
    let buttons = browser.find_all(acknowledge).await.expect("look for the Acknowledge button");
    assert!(buttons.is_empty(), "an acknowledged incident offers no Acknowledge button");
    assert_nothing_ran(&browser, "the acknowledged incident page").await;
    screenshot(&browser, "browser-3-acknowledged.png").await;

    let acked = store.incident(incident.id).await.expect("load the incident").expect("the incident exists");
    assert_eq!(acked.status, Status::Acknowledged, "the store has the incident acknowledged");
    let events = store.timeline(incident.id).await.expect("load the timeline");
    let ack = events.iter().find(|e| e.kind == "acknowledged").expect("an acknowledged event in the store");
    assert_eq!(ack.actor, "lead");

    browser.close().await.expect("end the browser session");
    drop(driver);
    running.shutdown().await;
}

/// Each role is offered the forms it may use and no others, and a form the page did not
/// offer, posted anyway with the session's own CSRF token, is refused with the role it needs.
/// A viewer reads the incident; a responder acknowledges it but cannot silence; an admin
/// adds a silence through the form. Screenshots: `browser-role-{viewer,responder,admin}.png`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_role_is_offered_what_it_may_do_and_refused_the_rest() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (running, _feeds, incident) = daemon_with_incident(
        dir.path(),
        "Acme yogurt food poisoning",
        "My kid got food poisoning after eating Acme yogurt.",
        "vera:viewer-token:viewer,rita:responder-token:responder,ada:admin-token:admin",
        "",
    )
    .await;
    let store = running.store.clone();
    let base = format!("http://{}", running.addr);
    let id = incident.id;
    let incident_page = format!("{base}/incidents/{id}");
    let working: Vec<String> =
        ["ack", "resolve", "assign", "note"].iter().map(|action| format!("/incidents/{id}/{action}")).collect();
    let driver = Chromedriver::start().await;

    // The viewer reads the incident and is told why there is nothing to press.
    let profile = tempfile::tempdir().expect("a throwaway browser profile");
    let viewer = driver.session(profile.path()).await;
    log_in(&viewer, &base, "viewer-token").await;
    viewer.goto(&incident_page).await.expect("open the incident");
    find(&viewer, Locator::XPath("//*[contains(., 'needs the responder role')]"), "the read-only notice").await;
    let offered = form_actions(&viewer).await;
    assert!(working.iter().all(|action| !offered.contains(action)), "a viewer is offered {offered:?}");
    find(&viewer, Locator::XPath("//h2[normalize-space()='Timeline']"), "the timeline").await;
    screenshot(&viewer, "browser-role-viewer.png").await;
    let (status, body) = forge_post(&viewer, &format!("/incidents/{id}/ack"), &[]).await;
    assert_eq!(status, 403, "a viewer's forged acknowledgement: {body}");
    assert!(body.contains("needs the responder role"), "the refusal names the role: {body}");
    viewer.goto(&format!("{base}/silences")).await.expect("open the silences");
    find(&viewer, Locator::XPath("//h1[normalize-space()='Silences']"), "the silences page").await;
    assert_eq!(form_actions(&viewer).await, ["/logout"], "a viewer is offered no silence form");
    viewer.close().await.expect("end the viewer's session");
    assert_eq!(store.incident(id).await.expect("load").expect("exists").status, Status::Open);

    // The responder works the incident but is not offered, nor allowed, a silence.
    let profile = tempfile::tempdir().expect("a throwaway browser profile");
    let responder = driver.session(profile.path()).await;
    log_in(&responder, &base, "responder-token").await;
    responder.goto(&incident_page).await.expect("open the incident");
    let offered = form_actions(&responder).await;
    assert!(working.iter().all(|action| offered.contains(action)), "a responder is offered {offered:?}");
    screenshot(&responder, "browser-role-responder.png").await;
    find(&responder, Locator::XPath("//form//button[normalize-space()='Acknowledge']"), "the Acknowledge button")
        .await
        .click()
        .await
        .expect("press Acknowledge");
    find(&responder, Locator::XPath("//p/strong[normalize-space()='acknowledged']"), "the acknowledged status").await;
    responder.goto(&format!("{base}/silences")).await.expect("open the silences");
    find(&responder, Locator::XPath("//h1[normalize-space()='Silences']"), "the silences page").await;
    assert_eq!(form_actions(&responder).await, ["/logout"], "a responder is offered no silence form");
    let (status, body) = forge_post(
        &responder,
        "/silences",
        &[("scope", "rule"), ("value", "food-safety"), ("for", "2h"), ("reason", "forged")],
    )
    .await;
    assert_eq!(status, 403, "a responder's forged silence: {body}");
    assert!(body.contains("needs the admin role"), "the refusal names the role: {body}");
    responder.close().await.expect("end the responder's session");
    let acked = store.incident(id).await.expect("load").expect("exists");
    assert_eq!(acked.status, Status::Acknowledged);
    let events = store.timeline(id).await.expect("timeline");
    assert!(events.iter().any(|e| e.kind == "acknowledged" && e.actor == "rita"), "rita acknowledged");
    assert!(store.silences(None).await.expect("silences").is_empty(), "the forged silence was not added");

    // The admin silences the rule through the form and can end it.
    let profile = tempfile::tempdir().expect("a throwaway browser profile");
    let admin = driver.session(profile.path()).await;
    log_in(&admin, &base, "admin-token").await;
    admin.goto(&format!("{base}/silences")).await.expect("open the silences");
    find(&admin, Locator::Css("form[action='/silences'] input[name='value']"), "the silence form's value")
        .await
        .send_keys("food-safety")
        .await
        .expect("type the rule");
    find(&admin, Locator::Css("form[action='/silences'] input[name='reason']"), "the silence form's reason")
        .await
        .send_keys("press conference at noon")
        .await
        .expect("type the reason");
    find(&admin, Locator::XPath("//form[@action='/silences']//button"), "the Silence button")
        .await
        .click()
        .await
        .expect("press Silence");
    find(&admin, Locator::XPath("//td[contains(., 'press conference at noon')]"), "the new silence in the list").await;
    find(&admin, Locator::XPath("//form[contains(@action, '/end')]//button"), "the End now button").await;
    screenshot(&admin, "browser-role-admin.png").await;
    // The silences and feeds tables read as labelled cards on a phone.
    admin.set_window_size(390, 1000).await.expect("size the window");
    for page in ["silences", "feeds"] {
        admin.goto(&format!("{base}/{page}")).await.expect("open the page");
        let label = if page == "silences" { "Reason" } else { "Next poll" };
        let cell = find(&admin, Locator::Css(&format!("table.wide td[data-label='{label}']")), "a labelled cell").await;
        assert_eq!(cell.css_value("display").await.expect("its display"), "block", "{page}: cells stack at 390 px");
        assert_no_sideways_scroll(&admin, &format!("the {page} page"), 390).await;
        screenshot(&admin, &format!("browser-{page}-390.png")).await;
    }
    admin.close().await.expect("end the admin's session");
    let silences = store.silences(None).await.expect("silences");
    assert_eq!(silences.len(), 1);
    assert_eq!((silences[0].value.as_str(), silences[0].created_by.as_str()), ("food-safety", "ada"));

    drop(driver);
    running.shutdown().await;
}

/// The feedback loop in the browser, at desktop and phone width: the responder finds the
/// matched post on the Mentions page, presses "Not relevant", sees it marked, and the
/// rule's page counts the verdict and offers it as a `[[rule.example]]` block; neither page
/// scrolls sideways at 390 px. Screenshots: `browser-mentions-{1440,390}.png`,
/// `browser-rule-{1440,390}.png`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_responder_marks_a_mention_not_relevant_and_the_rule_page_counts_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (running, _feeds, _incident) = daemon_with_incident(
        dir.path(),
        "Acme yogurt food poisoning",
        "My kid got food poisoning after eating Acme yogurt.",
        "rita:responder-token:responder",
        "",
    )
    .await;
    let base = format!("http://{}", running.addr);
    let driver = Chromedriver::start().await;
    let profile = tempfile::tempdir().expect("a throwaway browser profile");
    let browser = driver.session(profile.path()).await;
    log_in(&browser, &base, "responder-token").await;
    for width in [1440u32, 390] {
        browser.set_window_size(width, 1000).await.expect("size the window");
        browser.goto(&format!("{base}/mentions?rule=food-safety")).await.expect("open the mentions");
        let button = Locator::XPath("//li[contains(@class, 'mention')]//button[normalize-space()='Not relevant']");
        if width == 1440 {
            find(&browser, button, "the Not relevant button").await.click().await.expect("press Not relevant");
        }
        find(&browser, Locator::XPath("//strong[normalize-space()='Marked not relevant']"), "the verdict").await;
        assert_no_sideways_scroll(&browser, "the mentions page", width).await;
        screenshot(&browser, &format!("browser-mentions-{width}.png")).await;

        browser.goto(&format!("{base}/rules/food-safety?period=24h")).await.expect("open the rule page");
        let counted = find(&browser, Locator::Css("td.not-relevant"), "the not-relevant count").await;
        assert_eq!(counted.text().await.expect("read the count"), "1");
        let block = find(&browser, Locator::Css("pre.examples"), "the examples block").await;
        let block = block.text().await.expect("read the examples");
        assert!(block.contains("[[rule.example]]") && block.contains("match = false"), "{block}");
        assert!(block.contains("title = \"Acme yogurt food poisoning\""), "{block}");
        assert_no_sideways_scroll(&browser, "the rule page", width).await;
        screenshot(&browser, &format!("browser-rule-{width}.png")).await;
    }

    // A post no rule matches, which the responder sees is trouble: escalated from the
    // mentions page, it opens an incident of its own with the responder on its timeline.
    let missed = "Acme staff seen shredding boxes of documents behind the Leeds office tonight";
    let outcome = running
        .pipeline
        .process(tocsin::ingest::Mention::text("forum", "missed", missed, missed, chrono::Utc::now()))
        .await
        .expect("store the post");
    assert!(matches!(outcome, tocsin::store::IngestOutcome::Stored { ref opened, .. } if opened.is_empty()));
    browser.set_window_size(1440, 1000).await.expect("size the window");
    browser.goto(&format!("{base}/mentions?q=shredding")).await.expect("open the mentions");
    let escalate =
        Locator::XPath("//li[contains(@class, 'mention')]//button[normalize-space()='Escalate to incident']");
    find(&browser, escalate, "the Escalate button").await.click().await.expect("press Escalate");
    // The heading names the new incident once the browser is on its page (the mentions
    // page has an h1 too, until the click's navigation lands).
    let opened = format!("//h1[contains(., 'Escalated by rita: {missed}')]");
    find(&browser, Locator::XPath(&opened), "the new incident's heading").await;
    find(
        &browser,
        Locator::XPath(
            "//div[@data-live='timeline']//tr[td[normalize-space()='opened'] and td[normalize-space()='rita']]",
        ),
        "the opening on the timeline, by the responder",
    )
    .await;
    screenshot(&browser, "browser-escalated.png").await;
}

/// One pushed mention of the scripted day: source, language, hours before now, title.
struct Scripted {
    feed: &'static str,
    lang: &'static str,
    hours_ago: f64,
    title: String,
}

/// The day the overview test pushes: six English store-opening stories on the news, a
/// Chinese complaint copied three times on Weibo in the last two hours and once on the news.
fn scripted_day() -> Vec<Scripted> {
    let mut day: Vec<Scripted> = (0..6)
        .map(|i| Scripted {
            feed: "news",
            lang: "en",
            hours_ago: 20.0 - f64::from(i),
            title: format!("Acme opens its new store number {} in Leeds with a family day", i + 1),
        })
        .collect();
    for (feed, hours_ago) in [("weibo", 1.9), ("weibo", 1.2), ("weibo", 0.6), ("news", 0.4)] {
        day.push(Scripted {
            feed,
            lang: "zh",
            hours_ago,
            title: "孩子喝了艾克米酸奶后食物中毒，家长要求艾克米给个说法".to_owned(),
        });
    }
    day
}

/// The overview for a scripted day, at desktop and phone width and in both languages: the
/// counts per source and language are the script's, the volume chart has a bar per busy
/// hour, the charts carry their axis labels, open incidents are on top, and nothing scrolls
/// sideways at 390 px. Screenshots: `browser-overview-{1440,390}.png`, `browser-overview-zh.png`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_overview_shows_a_scripted_day_per_source_and_language_with_its_charts() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (running, _feeds, incident) = daemon_with_incident(
        dir.path(),
        "Acme yogurt food poisoning",
        "My kid got food poisoning after eating Acme yogurt.",
        "lead:lead-token",
        "",
    )
    .await;
    let base = format!("http://{}", running.addr);
    let now = chrono::Utc::now();
    let day = scripted_day();
    let pushed: Vec<serde_json::Value> = day
        .iter()
        .enumerate()
        .map(|(i, mention)| {
            let at = now - chrono::Duration::seconds((mention.hours_ago * 3600.0) as i64);
            serde_json::json!({
                "id": format!("day-{i}"), "feed": mention.feed, "title": mention.title,
                "body": mention.title, "lang": mention.lang, "published": at,
            })
        })
        .collect();
    let response = reqwest::Client::new()
        .post(format!("{base}/api/v1/mentions"))
        .bearer_auth("lead-token")
        .json(&pushed)
        .send()
        .await
        .expect("push the day");
    assert!(response.status().is_success(), "push: {}", response.text().await.unwrap_or_default());
    let store = running.store.clone();
    let stored = store.mention_count().await.expect("count");
    assert_eq!(stored, 1 + day.len() as i64, "the forum post and the scripted day are stored");

    // Expected figures, from the script alone (plus the forum post that opened the incident).
    let count = |pick: &dyn Fn(&Scripted) -> bool| day.iter().filter(|m| pick(m)).count();
    let news = count(&|m| m.feed == "news");
    let weibo = count(&|m| m.feed == "weibo");
    let zh = count(&|m| m.lang == "zh");
    let en = count(&|m| m.lang == "en") + 1;
    let mut hours: Vec<i64> = day
        .iter()
        .map(|m| (now - chrono::Duration::seconds((m.hours_ago * 3600.0) as i64)).timestamp() / 3600)
        .collect();
    let forum = MentionFilter { feed: Some("forum".into()), limit: 1, ..MentionFilter::default() };
    let post = store.mentions(&forum).await.expect("the forum post").remove(0);
    let post_at = post.published.filter(|at| *at <= post.fetched_at).unwrap_or(post.fetched_at);
    hours.push(post_at.timestamp() / 3600);
    hours.sort_unstable();
    hours.dedup();

    let driver = Chromedriver::start().await;
    let profile = tempfile::tempdir().expect("a throwaway browser profile");
    let browser = driver.session(profile.path()).await;
    log_in(&browser, &base, "lead-token").await;
    for width in [1440u32, 390] {
        browser.set_window_size(width, 1200).await.expect("size the window");
        browser.goto(&format!("{base}/?period=24h")).await.expect("open the overview");
        let total = find(&browser, Locator::Css("strong.total"), "the period's total").await;
        assert_eq!(total.text().await.expect("total"), (day.len() + 1).to_string());
        for (section, key, expected) in [
            ("sources", "news", news),
            ("sources", "weibo", weibo),
            ("sources", "forum", 1),
            ("languages", "zh", zh),
            ("languages", "en", en),
        ] {
            let cell = format!("//section[contains(@class, '{section}')]//tr[td[1][normalize-space()='{key}']]/td[2]");
            let shown = find(&browser, Locator::XPath(&cell), &format!("the {key} row of {section}")).await;
            assert_eq!(shown.text().await.expect("count"), expected.to_string(), "{section} {key}");
        }
        let bars = browser.find_all(Locator::Css("svg.volume rect.bar")).await.expect("bars");
        assert_eq!(bars.len(), hours.len(), "one bar per hour that had mentions");
        let charts = browser.find_all(Locator::Css("svg.chart")).await.expect("charts");
        assert!(charts.len() >= 3, "volume, sentiment and per-rule charts: {}", charts.len());
        let axis = find(
            &browser,
            Locator::XPath("//*[name()='svg']//*[name()='text'][.='mentions per hour']"),
            "the y axis label",
        )
        .await;
        assert!(axis.is_displayed().await.expect("visible"));
        find(
            &browser,
            Locator::XPath(
                "//section[contains(@class, 'stories')]//li[contains(., '3 copies') or contains(., '4 copies')]",
            ),
            "the complaint as one story of several copies",
        )
        .await;
        find(&browser, Locator::LinkText(&incident.title), "the open incident on top").await;
        assert_no_sideways_scroll(&browser, "the overview", width).await;
        screenshot(&browser, &format!("browser-overview-{width}.png")).await;
    }
    browser.goto(&format!("{base}/lang/zh")).await.expect("switch to Chinese");
    browser.set_window_size(1440, 1200).await.expect("size the window");
    browser.goto(&format!("{base}/?period=24h")).await.expect("open the overview in Chinese");
    find(&browser, Locator::XPath("//*[name()='svg']//*[name()='text'][.='每小时提及数']"), "the Chinese y axis label")
        .await;
    find(&browser, Locator::XPath("//h2[normalize-space()='来源']"), "the Chinese sources heading").await;
    let page = browser.source().await.expect("page source");
    for english in ["mentions per hour", "Top stories", "Open incidents", "Rising now"] {
        assert!(!page.contains(english), "no English left in the Chinese overview: {english}");
    }
    screenshot(&browser, "browser-overview-zh.png").await;
}

async fn assert_no_sideways_scroll(browser: &Client, page: &str, width: u32) {
    let sizes = browser
        .execute("return [document.documentElement.scrollWidth, window.innerWidth];", vec![])
        .await
        .expect("measure the page");
    let [scroll, inner] = [0, 1].map(|i| sizes[i].as_u64().expect("widths are numbers"));
    if scroll > inner {
        // Name the elements that stick out, so the failure says what to fix.
        let wide = browser
            .execute(
                "return Array.from(document.querySelectorAll('body *')) \
                 .filter((e) => e.getBoundingClientRect().right > window.innerWidth + 1) \
                 .slice(0, 8).map((e) => `${e.tagName.toLowerCase()}.${e.className} ${Math.round(e.getBoundingClientRect().width)}px`);",
                vec![],
            )
            .await
            .expect("find the wide elements");
        panic!("{page} at {width} px is {scroll} px wide in a {inner} px window; sticking out: {wide}");
    }
}

/// What a lead sees of an incident and its team's channel while it runs: a written status
/// update goes from the incident page to the team's webhook and onto the timeline; the page
/// then follows the story on its own (a new mention shows without a reload), and on the
/// incident list a new critical incident is announced and listed as it opens. At 1440 and
/// 390 px, with no sideways scroll. Screenshots: `browser-incident-{1440,390}.png`,
/// `browser-live-{1440,390}.png`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_status_update_reaches_the_webhook_and_the_pages_follow_the_story_live() {
    let dir = tempfile::tempdir().expect("tempdir");
    let hook = WebhookReceiver::start().await;
    // Critical from 60: the crises pushed below open at critical, to be announced.
    let extra = format!(
        "[risk]\nlevels = {{ low = 0, medium = 20, high = 40, critical = 60 }}\n\n\
         [[channel]]\nname = \"team\"\nkind = \"webhook\"\nurl = \"{}\"\n\n\
         [[escalation]]\nname = \"default\"\nlevels = [{{ after = \"0m\", notify = [\"team\"] }}]\n",
        hook.url()
    );
    let post = "My kid got food poisoning after eating Acme yogurt.";
    let (running, _feeds, incident) =
        daemon_with_incident(dir.path(), "Acme yogurt food poisoning", post, "lead:lead-token", &extra).await;
    let store = running.store.clone();
    let all = IncidentFilter { limit: 10, ..Default::default() };
    let of_type = |kind: &str| {
        hook.received().into_iter().map(|r| r.json()).filter(|body| body["type"] == kind).collect::<Vec<_>>()
    };
    wait_until(WAIT, || async { !of_type("incident.opened").is_empty() }).await.expect("the team hears of the opening");

    let base = format!("http://{}", running.addr);
    let push = |id: &str, feed: &str, title: &str, text: &str| {
        let body = serde_json::json!({ "id": id, "feed": feed, "title": title, "body": text });
        let request = reqwest::Client::new().post(format!("{base}/api/v1/mentions")).bearer_auth("lead-token");
        async move {
            let response = request.json(&body).send().await.expect("push a mention");
            assert!(response.status().is_success(), "push: {}", response.text().await.unwrap_or_default());
        }
    };
    let driver = Chromedriver::start().await;
    let profile = tempfile::tempdir().expect("a throwaway browser profile");
    let browser = driver.session(profile.path()).await;
    log_in(&browser, &base, "lead-token").await;
    for (n, width) in [1440u32, 390].into_iter().enumerate() {
        browser.set_window_size(width, 1000).await.expect("size the window");
        browser.goto(&format!("{base}/incidents/{}", incident.id)).await.expect("open the incident");

        // A written update, from the page to the team's channel and the timeline.
        let text = format!("Batch 42 is off the shelves; statement at 11:00 (update {}).", n + 1);
        let field = find(&browser, Locator::Css("form.update textarea"), "the status update field").await;
        field.send_keys(&text).await.expect("write the update");
        find(&browser, Locator::XPath("//form[contains(@class, 'update')]//button"), "the Send update button")
            .await
            .click()
            .await
            .expect("send the update");
        let row = format!(
            "//div[@data-live='timeline']//tr[td[normalize-space()='status_update'] and td[normalize-space()='lead'] \
             and td[contains(., '{text}')]]"
        );
        find(&browser, Locator::XPath(&row), "the update on the timeline, by the lead").await;
        wait_until(WAIT, || async {
            of_type("incident.status_update").iter().any(|body| body["update"] == text.as_str())
        })
        .await
        .expect("the update reaches the team's webhook with its words");
        let sent = of_type("incident.status_update");
        assert_eq!(sent.len(), n + 1, "one notice per update: {sent:?}");
        assert_eq!(sent[n]["incident"]["id"], incident.id);
        assert_no_sideways_scroll(&browser, "the incident page", width).await;
        screenshot(&browser, &format!("browser-incident-{width}.png")).await;

        // Live: a copy of the post on Weibo shows on the open page without a reload, as one
        // more copy of the same story. A reload would lose the marker set on the window.
        browser.execute("window.stillTheSamePage = true;", vec![]).await.expect("mark the page");
        find(&browser, Locator::XPath("/html/body[@data-stream='connected']"), "the page's live stream").await;
        let count = store.incident(incident.id).await.expect("read").expect("the incident").mentions;
        push(&format!("copy-{n}"), "weibo", "Acme yogurt food poisoning", post).await;
        let heading = format!("//div[@data-live='mentions']/h2[contains(., '({})')]", count + 1);
        find(&browser, Locator::XPath(&heading), "the new mention counted on the open page").await;
        let story = format!(
            "//div[@data-live='mentions']/section[contains(@class, 'story')][1]/p[contains(@class, 'story-facts')]\
             [contains(., '{} copies') and contains(., 'forum, weibo')]",
            n + 2
        );
        find(&browser, Locator::XPath(&story), "the copy counted under the post's story").await;
        let stories = browser.find_all(Locator::Css("section.story")).await.expect("stories");
        assert_eq!(stories.len(), 1, "the copies are one story, not a list of rows");
        let same = browser.execute("return window.stillTheSamePage === true;", vec![]).await.expect("read the marker");
        assert_eq!(same, serde_json::json!(true), "the page updated in place, it did not reload");

        // A new critical incident opens while the incident list is open: announced, and
        // listed, without a reload.
        browser.goto(&format!("{base}/incidents")).await.expect("open the incident list");
        find(&browser, Locator::XPath("/html/body[@data-stream='connected']"), "the list's live stream").await;
        browser.execute("window.stillTheSamePage = true;", vec![]).await.expect("mark the page");
        // A crisis of another rule at each width, so each opens an incident of its own.
        let breach = [
            "Acme data breach: hackers stole customer passwords and credit card numbers",
            "Explosion at Acme factory: three workers injured, fire still burning",
        ][n];
        push(&format!("crisis-{n}"), "forum", breach, breach).await;
        let opened = store
            .incidents(&all)
            .await
            .expect("list incidents")
            .into_iter()
            .find(|i| i.title.contains(breach))
            .expect("the crisis opens an incident of its own");
        assert_eq!(opened.level, tocsin::incident::Level::Critical, "{opened:?}");
        let announced =
            format!("//div[@id='announcements']/p[contains(@class, 'announce')]//a[@href='/incidents/{}']", opened.id);
        find(&browser, Locator::XPath(&announced), "the announcement of the critical incident").await;
        let announcements = browser.find_all(Locator::Css("#announcements p.announce")).await.expect("announcements");
        assert_eq!(announcements.len(), 1, "only the incident that opened while the page was open is announced");
        let listed = format!("//div[@data-live='incident-list']//a[@href='/incidents/{}']", opened.id);
        find(&browser, Locator::XPath(&listed), "the new incident in the list").await;
        let same = browser.execute("return window.stillTheSamePage === true;", vec![]).await.expect("read the marker");
        assert_eq!(same, serde_json::json!(true), "the list updated in place");
        assert_no_sideways_scroll(&browser, "the incident list", width).await;
        screenshot(&browser, &format!("browser-live-{width}.png")).await;
    }

    // The same page in Chinese: the interface, the reading of the score, the playbook and
    // the timeline speak Chinese; only what people and feeds wrote stays as written.
    browser.goto(&format!("{base}/lang/zh")).await.expect("switch to Chinese");
    browser.set_window_size(1440, 1000).await.expect("size the window");
    browser.goto(&format!("{base}/incidents/{}", incident.id)).await.expect("open the incident in Chinese");
    find(&browser, Locator::XPath("//h2[normalize-space()='时间线']"), "the Chinese timeline heading").await;
    let text = browser.find(Locator::Css("main")).await.expect("the page").text().await.expect("its text");
    for english in [
        "Timeline",
        "How it got here",
        "Why, as last scored",
        "Playbook",
        "Send update",
        "Status update",
        "copies",
        "sources",
        "published",
        "opened by rule",
        "status update to",
        "Rule",
        "Sentiment",
        "Crisis model",
        "Novelty",
        "Source weight",
        "Confirm the facts",
        "Take responsibility",
        "Owner",
        "Acknowledge",
        "step done",
        "mention attached",
        "delivered",
    ] {
        assert!(!text.contains(english), "English left in the Chinese incident page: {english:?}\n{text}");
    }
    for chinese in [
        "状态通报发送至 team：",
        "预案：产品质量投诉",
        "以整改承担责任",
        "核实事实与信息来源",
        "由规则 food-safety 开启",
    ] {
        assert!(text.contains(chinese), "{chinese:?} missing from the Chinese incident page:\n{text}");
    }
    screenshot(&browser, "browser-incident-zh.png").await;
    browser.close().await.expect("end the browser session");
    drop(driver);
    running.shutdown().await;
}
