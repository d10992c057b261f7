//! `mcp-oauth demo`: exits 0 and prints one line per step, each `ok`, with the request counts
//! the demo asserts.

mod common;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{finish, Run};
use serde_json::{json, Value};

fn demo(args: &[&str]) -> (Run, Duration) {
    let started = Instant::now();
    let out = finish(
        Command::new(common::BIN)
            .arg("demo")
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn mcp-oauth demo"),
    );
    (out, started.elapsed())
}

/// Step names and the wire column each must show.
const STATEFUL: [(&str, &str); 8] = [
    ("login", "PRM 1 · AS 1 · DCR 1 · authorize 1 · token 1"),
    ("initialize", "MCP 2"),
    ("tools/list", "MCP 1"),
    (
        "step-up (admin-tool)",
        "authorize 1 · token 1 · MCP 2 (403 → 200)",
    ),
    ("expiry + refresh", "token 1 · MCP 2 (401 → 200)"),
    ("restart from store", "MCP 3"),
    ("logout (revoke)", "revoke 2"),
    ("token after logout", "—"),
];

#[test]
fn demo_exits_0_and_prints_every_step_ok() {
    let (out, elapsed) = demo(&[]);
    assert_eq!(out.code, Some(0), "{out:?}");
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(lines.len(), STATEFUL.len() + 2, "{}", out.stdout);
    assert!(
        lines[0].starts_with("mcp-oauth demo · MCP server http://127.0.0.1:"),
        "{}",
        lines[0]
    );
    for (i, (name, wire)) in STATEFUL.iter().enumerate() {
        let line = lines[i + 1];
        let head = format!("{:>2}. {name:<20} ok      {wire}", i + 1);
        assert!(
            line.starts_with(&head),
            "{line:?} should start with {head:?}"
        );
        assert!(line.ends_with(" ms"), "{line:?}");
    }
    assert!(
        lines[STATEFUL.len() + 1].starts_with("demo ok: 8 steps in "),
        "{}",
        out.stdout
    );
    assert!(elapsed < Duration::from_secs(5), "{elapsed:?}");
    // Every line went out through the terminal sanitiser (cli/src/term.rs).
    assert!(
        !format!("{}{}", out.stdout, out.stderr)
            .chars()
            .any(|c| c.is_control() && c != '\n'),
        "{out:?}"
    );
}

#[test]
fn demo_json_on_the_stateless_wire() {
    let (out, _) = demo(&["--json", "--protocol-version", "2026-07-28"]);
    assert_eq!(out.code, Some(0), "{out:?}");
    let report: Value = serde_json::from_str(&out.stdout).expect("one JSON document");
    assert_eq!(report["ok"], true);
    assert_eq!(report["protocol_version"], "2026-07-28");
    let steps = report["steps"].as_array().expect("steps");
    let names: Vec<&str> = steps.iter().filter_map(|s| s["step"].as_str()).collect();
    assert_eq!(
        names,
        [
            "login",
            "tools/list",
            "step-up (admin-tool)",
            "expiry + refresh",
            "restart from store",
            "logout (revoke)",
            "token after logout"
        ]
    );
    assert!(steps
        .iter()
        .all(|s| s["ok"] == true && s["error"].is_null()));
    assert_eq!(
        steps[0]["wire"],
        json!({"PRM": 1, "AS": 1, "DCR": 1, "authorize": 1, "token": 1})
    );
    assert_eq!(steps[4]["wire"], json!({"MCP": 1}));
    assert_eq!(steps[6]["wire"], json!({}));
}
