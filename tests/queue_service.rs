//! The main job, run as a person would: the `queue_service` example binary on a small
//! input. Checks the exact accounting, the escalation path, and a SIGINT mid-run.

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// The example binary, built (once per test run) in this test's profile.
fn binary() -> PathBuf {
    static BUILD: std::sync::Once = std::sync::Once::new();
    BUILD.call_once(|| {
        let status = Command::new(env!("CARGO"))
            .args(["build", "--quiet", "--example", "queue_service"])
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .status()
            .expect("run cargo");
        assert!(status.success(), "building the example failed");
    });
    let mut dir = std::env::current_exe().expect("test binary path");
    dir.pop(); // deps
    dir.pop(); // debug (or release)
    let path = dir.join("examples").join("queue_service");
    assert!(
        path.exists(),
        "{} is missing; `cargo test` builds examples",
        path.display()
    );
    path
}

/// The `key=value` pairs of the last line.
fn summary(output: &Output) -> HashMap<String, String> {
    let stdout = String::from_utf8_lossy(&output.stdout);
    let last = stdout.lines().last().unwrap_or_default();
    last.split_whitespace()
        .filter_map(|pair| pair.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}

/// Everything the run printed, for assertion messages.
fn printed(output: &Output) -> String {
    format!(
        "--- stdout\n{}\n--- stderr\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

fn number(summary: &HashMap<String, String>, key: &str) -> i64 {
    summary
        .get(key)
        .unwrap_or_else(|| panic!("no `{key}` in {summary:?}"))
        .parse()
        .unwrap()
}

fn run(args: &[&str]) -> Output {
    Command::new(binary())
        .args(args)
        .output()
        .expect("run queue_service")
}

#[test]
fn every_message_is_processed_or_dead_lettered_exactly_once() {
    let output = run(&[
        "--messages",
        "5000",
        "--workers",
        "3",
        "--malformed-ratio",
        "0.05",
        "--seed",
        "7",
    ]);
    let s = summary(&output);
    assert!(
        output.status.success(),
        "exit {:?}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(number(&s, "lost"), 0, "{}", printed(&output));
    assert_eq!(number(&s, "processed") + number(&s, "dead_lettered"), 5000);
    assert!(
        number(&s, "restarts") > 100,
        "malformed payloads crashed parsers: {s:?}"
    );
    // Each malformed payload crashed exactly one parser and was dead-lettered once.
    let stdout = String::from_utf8_lossy(&output.stdout);
    let malformed: i64 = stdout
        .lines()
        .find(|l| l.contains("malformed: the parser panicked on it"))
        .and_then(|l| l.split_whitespace().next())
        .map(|n| n.parse().unwrap())
        .unwrap_or(0);
    assert_eq!(
        malformed,
        number(&s, "restarts"),
        "one restart per poison message"
    );
    assert!(
        stdout.contains("queue-service [supervisor OneForOne]"),
        "prints the tree:\n{stdout}"
    );
}

#[test]
fn the_same_seed_gives_the_same_accounting() {
    let (first, second) = (
        run(&["--messages", "2000", "--seed", "11"]),
        run(&["--messages", "2000", "--seed", "11"]),
    );
    let (a, b) = (summary(&first), summary(&second));
    for key in ["processed", "dead_lettered", "restarts", "lost"] {
        assert_eq!(
            a[key],
            b[key],
            "{key}\n=== first run\n{}\n=== second run\n{}",
            printed(&first),
            printed(&second)
        );
    }
}

#[test]
fn a_high_malformed_ratio_escalates_and_still_accounts_for_everything() {
    let output = run(&[
        "--messages",
        "20000",
        "--workers",
        "2",
        "--malformed-ratio",
        "0.9",
        "--max-restarts",
        "500",
    ]);
    let s = summary(&output);
    assert!(
        !output.status.success(),
        "escalation exits non-zero\n{}",
        printed(&output)
    );
    assert_eq!(number(&s, "lost"), 0, "{}", printed(&output));
    assert_eq!(number(&s, "processed") + number(&s, "dead_lettered"), 20000);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.contains("gave up"),
        "reports the escalation clearly:\n{stdout}"
    );
    assert!(
        stdout.contains("unprocessed: the parser pool gave up"),
        "{stdout}"
    );
}

#[test]
fn sigint_stops_gracefully_with_exact_accounting() {
    let mut child = Command::new(binary())
        .args(["--messages", "200000", "--slow-ratio", "0.2", "--workers", "2"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start queue_service");
    // Wait until it says it is running, then interrupt it.
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    while stderr.read_line(&mut line).unwrap() > 0 && !line.contains("running") {
        line.clear();
    }
    let status = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let started = Instant::now();
    let output = child.wait_with_output().unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "stopped within its shutdown timeouts"
    );
    let s = summary(&output);
    assert_eq!(output.status.code(), Some(130), "interrupted exit code");
    assert_eq!(number(&s, "lost"), 0, "{}", printed(&output));
    assert_eq!(number(&s, "processed") + number(&s, "dead_lettered"), 200000);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains("unprocessed: shutdown requested"), "{stdout}");
}

#[test]
fn bad_flags_are_refused_with_usage() {
    let output = run(&["--workers", "0"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("usage: queue_service"));
}
