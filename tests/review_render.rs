//! The post-incident review is a document people open in a browser, often
//! offline or from an archive, so it must stand on its own. This test opens
//! the review of the scripted incident (the committed golden file, which the
//! library's own golden test keeps identical to `Review::to_html()`) in
//! headless Chromium with the network cut off, and checks that the browser
//! renders a real page: a PNG screenshot kept in `target/test-artifacts/` for
//! people to look at, and a DOM that shows the incident, carries the inline
//! SVG chart and holds no script.
//!
//! Chromium is required: `.ci/run` installs it, so a missing browser fails
//! the test instead of skipping it.

use std::fs::{self, File};
use std::io::ErrorKind;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The scripted incident's title, shown in the review's heading.
const TITLE: &str = "Food safety complaint about our brand";

/// The browser window, and so the screenshot, in CSS pixels.
const WIDTH: u32 = 1200;
const HEIGHT: u32 = 2400;

/// A screenshot smaller than this is taken as a blank page. Measured with
/// this window size: an empty page encodes to about 13 KB and a page with a
/// single heading to about 18 KB, while the review is about 260 KB. 64 KB
/// sits well clear of both sides.
const MIN_PNG_BYTES: u64 = 64 * 1024;

/// Chromium gets this long to render before it is killed.
const TIMEOUT: Duration = Duration::from_secs(60);

const PNG_SIGNATURE: [u8; 8] = [0x89, b'P', b'N', b'G', b'\r', b'\n', 0x1a, b'\n'];

fn manifest_dir() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn review_url() -> String {
    file_url(&manifest_dir().join("tests/golden/review.html"))
}

/// `file://` URL of an absolute path, percent-encoding every byte that is not
/// unreserved in a URL path.
fn file_url(path: &Path) -> String {
    let mut url = String::from("file://");
    for &b in path.to_str().expect("the review's path is UTF-8").as_bytes() {
        if b.is_ascii_alphanumeric() || b"/-._~".contains(&b) {
            url.push(char::from(b));
        } else {
            url.push_str(&format!("%{b:02X}"));
        }
    }
    url
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

/// What a finished Chromium run left behind.
struct Run {
    stdout: String,
    stderr: String,
}

/// Runs headless Chromium on `url` with `args`, offline, in a throwaway
/// profile; kills it after `TIMEOUT` and fails unless it exits 0.
fn chromium(args: &[String], url: &str) -> Run {
    let scratch = tempfile::tempdir().expect("create a scratch folder for chromium");
    let stdout_path = scratch.path().join("stdout");
    let stderr_path = scratch.path().join("stderr");
    let spawned = Command::new("chromium")
        .args([
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
            // No name resolves and every request goes to a closed port, so a
            // remote font, style sheet or image would be missing.
            "--host-resolver-rules=MAP * ~NOTFOUND",
            "--proxy-server=127.0.0.1:9",
        ])
        .arg(format!("--user-data-dir={}", scratch.path().join("profile").display()))
        .args(args)
        .arg(url)
        .stdin(Stdio::null())
        .stdout(File::create(&stdout_path).expect("create chromium's stdout file"))
        .stderr(File::create(&stderr_path).expect("create chromium's stderr file"))
        .spawn();
    let mut child = match spawned {
        Ok(child) => child,
        Err(e) if e.kind() == ErrorKind::NotFound => panic!(
            "`chromium` is not installed: this test needs it, and `.ci/run` installs it \
             (apt-get install chromium chromium-driver)"
        ),
        Err(e) => panic!("could not start chromium: {e}"),
    };
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for chromium") {
            break status;
        }
        if started.elapsed() > TIMEOUT {
            child.kill().expect("kill chromium");
            child.wait().expect("reap chromium");
            panic!("chromium did not finish within {TIMEOUT:?}: {args:?} {url}");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let run = Run {
        stdout: fs::read_to_string(&stdout_path).expect("read chromium's stdout"),
        stderr: fs::read_to_string(&stderr_path).expect("read chromium's stderr"),
    };
    assert!(status.success(), "chromium exited with {status}: {args:?} {url}\n{}", run.stderr);
    run
}

#[test]
fn review_renders_offline_to_a_non_blank_screenshot() {
    let png_path = artifacts_dir().join("review.png");
    // A screenshot left by an earlier run must not pass for this one.
    if let Err(e) = fs::remove_file(&png_path) {
        assert_eq!(e.kind(), ErrorKind::NotFound, "remove the old screenshot: {e}");
    }

    let run = chromium(
        &[format!("--window-size={WIDTH},{HEIGHT}"), format!("--screenshot={}", png_path.display())],
        &review_url(),
    );

    let png = fs::read(&png_path)
        .unwrap_or_else(|e| panic!("chromium wrote no screenshot at {}: {e}\n{}", png_path.display(), run.stderr));
    assert!(png.len() >= 24 && png.starts_with(&PNG_SIGNATURE), "{} is not a PNG", png_path.display());
    // The first chunk is IHDR: length, type, then width and height big-endian.
    assert_eq!(&png[12..16], b"IHDR", "the PNG starts with its IHDR chunk");
    let width = u32::from_be_bytes(png[16..20].try_into().expect("4 width bytes"));
    let height = u32::from_be_bytes(png[20..24].try_into().expect("4 height bytes"));
    assert_eq!((width, height), (WIDTH, HEIGHT), "screenshot size in pixels");
    let size = png.len() as u64;
    assert!(
        size > MIN_PNG_BYTES,
        "the screenshot is {size} bytes, no more than {MIN_PNG_BYTES}: the review rendered blank \
         (see {})",
        png_path.display()
    );
}

#[test]
fn review_dom_shows_the_incident_and_chart_without_scripts() {
    let dom = chromium(&["--dump-dom".to_string()], &review_url()).stdout;

    assert!(dom.contains(TITLE), "the rendered DOM names the incident {TITLE:?}:\n{dom}");
    assert!(dom.contains("<svg"), "the rendered DOM holds the inline SVG chart:\n{dom}");
    // Mention titles such as "<script>" stay escaped text and serialize as
    // "&lt;script&gt;", so only a real element matches here.
    assert!(
        !dom.to_ascii_lowercase().contains("<script"),
        "the review must be script-free, but its DOM has a <script> element:\n{dom}"
    );
}
