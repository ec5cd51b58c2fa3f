//! `tocsin demo` as the README tells a newcomer to run it: offline, end to end.

use std::process::Command;

#[test]
fn the_demo_opens_an_incident_emails_the_mailbox_and_pages_on_call() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = Command::new(env!("CARGO_BIN_EXE_tocsin"))
        .current_dir(dir.path())
        .args(["demo", "--once", "--speed", "40"])
        .env("TOCSIN_LOG", "warn")
        .output()
        .expect("run the demo");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("incident #1 opened [critical]"), "negativity lifts the 70 of food-safety: {stdout}");
    assert!(stdout.contains("webhook incident.escalated for incident #1"), "{stdout}");
    assert!(stdout.contains("signature valid"), "{stdout}");
    assert!(stdout.contains("mentions stored: 7"), "{stdout}");
    let mailbox = dir.path().join("tocsin-demo/mailbox");
    let emails = std::fs::read_dir(&mailbox).expect("mailbox").count();
    assert!(emails >= 1, "the PR team's email is in the mailbox");
}
