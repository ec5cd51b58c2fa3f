//! `tocsin demo` as the README tells a newcomer to run it: offline, end to end, from the
//! first report to the post-incident review.

use std::process::Command;

/// Runs `tocsin demo --once --speed 40` in a fresh folder; returns its output and folder.
fn run_demo() -> (String, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = Command::new(env!("CARGO_BIN_EXE_tocsin"))
        .current_dir(dir.path())
        .args(["demo", "--once", "--speed", "40"])
        .env("TOCSIN_LOG", "error")
        .output()
        .expect("run the demo");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    (stdout, dir)
}

/// The figure printed after `label` in the review summary, e.g. `2m 9s`.
fn figure<'a>(stdout: &'a str, label: &str) -> &'a str {
    stdout
        .lines()
        .find_map(|line| line.trim().strip_prefix(label))
        .map(str::trim)
        .unwrap_or_else(|| panic!("no {label:?} line in {stdout}"))
}

#[test]
fn the_demo_tells_a_bilingual_crisis_from_first_report_to_the_review() {
    let (stdout, dir) = run_demo();
    let folder = dir.path().join("tocsin-demo");

    // The factual first report opens the incident at `high`; the posts that follow, each
    // too light to raise it, spike the rule's volume against its days-old baseline.
    assert!(stdout.contains("incident #1 opened [high]"), "{stdout}");
    assert!(stdout.contains("↑ incident #1 level high → critical (volume spike: "), "{stdout}");
    let spike = stdout.lines().find(|line| line.contains("(volume spike: ")).expect("a spike line");
    let expected: f64 = spike
        .split(" expected")
        .next()
        .and_then(|head| head.rsplit(' ').next())
        .and_then(|figure| figure.parse().ok())
        .unwrap_or_else(|| panic!("no expected figure in {spike}"));
    assert!(expected > 0.0 && expected < 0.05, "a few posts over three days expect almost none in 15m: {spike}");

    // Level 0 tells the PR team by email and DingTalk (in Chinese), level 1 pages on-call.
    assert!(stdout.contains("→ DingTalk chat: 【高】新事件：Food safety complaint about our brand"), "{stdout}");
    assert!(stdout.contains("- 级别：高"), "the chat message's first lines are printed: {stdout}");
    assert!(stdout.contains("→ DingTalk chat: 【严重】级别提升："), "the spike re-notifies the chat: {stdout}");
    assert!(stdout.contains("webhook incident.escalated for incident #1"), "{stdout}");
    assert!(!stdout.contains("signature INVALID"), "{stdout}");

    let mut subjects = Vec::new();
    let mut chinese_in_a_body = false;
    for entry in std::fs::read_dir(folder.join("mailbox")).expect("mailbox") {
        let raw = std::fs::read(entry.expect("entry").path()).expect("read email");
        let message = mail_parser::MessageParser::default().parse(&raw).expect("a parseable email");
        assert_eq!(message.to().and_then(|to| to.first()).and_then(|a| a.address()), Some("pr-team@acme.example"));
        subjects.push(message.subject().expect("a subject").to_owned());
        chinese_in_a_body |= message.body_text(0).is_some_and(|body| body.contains("艾克米"));
    }
    subjects.sort();
    let title = "Food safety complaint about our brand: Parents link children's vomiting to Acme yogurt (#1)";
    assert_eq!(
        subjects,
        [
            format!("[tocsin][CRITICAL] Acknowledged: {title}"),
            format!("[tocsin][CRITICAL] Level raised: {title}"),
            format!("[tocsin][CRITICAL] Resolved: {title}"),
            format!("[tocsin][HIGH] Opened: {title}"),
        ]
    );
    assert!(chinese_in_a_body, "the Weibo posts are quoted in the PR team's email");

    // The on-call's part, and the review it leaves.
    assert!(stdout.contains("✓ incident #1 acknowledged"), "{stdout}");
    assert!(stdout.contains("✓ step publish-statement done"), "{stdout}");
    assert!(stdout.contains("✓ incident #1 resolved"), "{stdout}");
    for label in ["time to detect", "time to acknowledge", "time to statement", "time to resolve"] {
        assert_ne!(figure(&stdout, label), "—", "{label}: {stdout}");
    }
    // Acknowledged after the 2-minute escalation paged on-call.
    assert!(figure(&stdout, "time to acknowledge").starts_with("2m"), "{stdout}");
    // Six crisis mentions and three after the statement. At 40x one poll is 10 scenario
    // seconds and each feed is polled on its own, so a post polled just before the report
    // that opens the incident may be stored before the incident exists, and not attached.
    let before = if stdout.contains("before the statement 6 mention(s)") { 6 } else { 5 };
    assert!(stdout.contains(&format!("before the statement {before} mention(s)")), "{stdout}");
    assert!(stdout.contains("after 3 mention(s)"), "{stdout}");
    assert_eq!(figure(&stdout, "mentions"), (before + 3).to_string(), "{stdout}");
    assert_eq!(figure(&stdout, "notifications"), "11 delivered of 11", "{stdout}");
    assert!(stdout.contains("4 DingTalk chat message(s) received"), "{stdout}");
    assert!(stdout.contains("3 on-call webhook(s) received"), "escalated, acknowledged, resolved: {stdout}");
    assert!(stdout.contains("mentions stored: 18"), "{stdout}");

    let markdown = std::fs::read_to_string(folder.join("review-1.md")).expect("the Markdown review");
    assert!(markdown.contains("- Time to acknowledge: 2m"), "{markdown}");
    // The level change carries the spike's p-value: the chain holds over the stored bytes.
    assert!(markdown.contains("Timeline hash chain verified"), "{markdown}");
    assert!(markdown.contains("## Before and after the official statement"), "{markdown}");
    assert!(markdown.contains("| pr-dingtalk | incident.level\\_changed | 1 | delivered |"), "{markdown}");
    let html = std::fs::read_to_string(folder.join("review-1.html")).expect("the HTML review");
    assert!(html.contains("艾克米"), "the HTML review quotes the Chinese mentions");
}
