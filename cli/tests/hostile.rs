//! A hostile server's strings never reach the terminal raw (issue 15 items 1 and 10): `scope`
//! from the token response or from the resource's `scopes_supported`, and a 3 KB JSON-RPC
//! error message full of escape sequences. Every output path of the real binary is checked:
//! `login`, `status` (human and `--json`), `token`, `call` (result and error), `logout`.

mod common;

use common::{Env, Run};
use mcp_oauth_testbed::testbed::{TestbedConfig, HOSTILE_TOOL};
use serde_json::Value;

/// Scope tokens a hostile authorization server sends: an OSC window title, a clear-screen
/// CSI, an 8-bit CSI and a bidi override.
const HOSTILE_SCOPES: [&str; 4] = [
    "mcp:basic",
    "\u{1b}]0;pwned\u{7}",
    "\u{1b}[2J\u{9b}31m",
    "\u{202e}desrever",
];

/// Characters that must never be written raw to a terminal.
fn raw_control(c: char) -> bool {
    (c.is_control() && c != '\n') || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

fn assert_inert(what: &str, run: &Run) {
    for (stream, text) in [("stdout", &run.stdout), ("stderr", &run.stderr)] {
        assert!(
            !text.chars().any(raw_control),
            "{what}: raw control character on {stream}: {text:?}"
        );
    }
}

#[cfg(unix)]
#[test]
fn hostile_scopes_from_the_token_response_are_shown_inert_everywhere() {
    let env = Env::new(TestbedConfig {
        token_scope: Some(HOSTILE_SCOPES.join(" ")),
        ..TestbedConfig::default()
    });
    let url = env.url();
    let login = env.run(&["login", &url, "--login-timeout", "30"]);
    assert_eq!(login.code, Some(0), "{login:?}");
    assert_inert("login", &login);
    assert!(
        login.stderr.contains("\\u001b]0;pwned\\u0007"),
        "the escape is shown, not obeyed: {}",
        login.stderr
    );
    let session = env.session().expect("stored");
    assert_eq!(
        session.scopes, HOSTILE_SCOPES,
        "stored verbatim, escaped only on output"
    );

    let login_json = env.run(&["login", &url, "--login-timeout", "30", "--json"]);
    assert_eq!(login_json.code, Some(0), "{login_json:?}");
    assert_inert("login --json", &login_json);
    let doc: Value = serde_json::from_str(&login_json.stdout).expect("login --json is JSON");
    assert_eq!(doc["scopes"], serde_json::json!(HOSTILE_SCOPES));

    let status = env.run(&["status"]);
    assert_eq!(status.code, Some(0), "{status:?}");
    assert_inert("status", &status);
    assert!(
        status.stdout.contains("\\u009b31m"),
        "8-bit CSI escaped: {}",
        status.stdout
    );

    // JSON: serde_json escapes C0 itself; C1 and bidi controls are escaped too, and the
    // document still decodes to the server's exact strings.
    let json = env.run(&["status", "--json"]);
    assert_eq!(json.code, Some(0), "{json:?}");
    assert_inert("status --json", &json);
    let doc: Value = serde_json::from_str(&json.stdout).expect("status --json is JSON");
    assert_eq!(doc[0]["scopes"], serde_json::json!(HOSTILE_SCOPES));

    for args in [
        vec!["token", url.as_str()],
        vec!["token", "--json", url.as_str()],
    ] {
        let token = env.run(&args);
        assert_eq!(token.code, Some(0), "{token:?}");
        assert_inert("token", &token);
    }

    let call = env.run(&["call", &url, "tools/list"]);
    assert_eq!(call.code, Some(0), "{call:?}");
    assert_inert("call", &call);

    let logout = env.run(&["logout", &url]);
    assert_eq!(logout.code, Some(0), "{logout:?}");
    assert_inert("logout", &logout);
}

#[cfg(unix)]
#[test]
fn hostile_scopes_supported_are_shown_inert_when_the_token_response_names_none() {
    let env = Env::new(TestbedConfig {
        prm_scopes_supported: Some(HOSTILE_SCOPES.iter().map(|s| (*s).to_owned()).collect()),
        as_scopes_supported: None,
        token_scope: Some(String::new()),
        ..TestbedConfig::default()
    });
    let url = env.url();
    let login = env.run(&["login", &url, "--login-timeout", "30"]);
    assert_eq!(login.code, Some(0), "{login:?}");
    assert_inert("login", &login);
    let session = env.session().expect("stored");
    assert!(
        session.scopes.iter().any(|s| s.contains('\u{1b}')),
        "the requested (hostile) scopes were kept: {:?}",
        session.scopes
    );
    assert!(login.stderr.contains("\\u001b[2J"), "{}", login.stderr);
    let status = env.run(&["status"]);
    assert_eq!(status.code, Some(0), "{status:?}");
    assert_inert("status", &status);
}

#[cfg(unix)]
#[test]
fn a_huge_hostile_json_rpc_error_is_capped_and_inert() {
    let env = Env::new(TestbedConfig::default());
    let url = env.url();
    let login = env.run(&["login", &url, "--login-timeout", "30"]);
    assert_eq!(login.code, Some(0), "{login:?}");
    let params = format!(r#"{{"name":"{HOSTILE_TOOL}"}}"#);
    let call = env.run(&["call", &url, "tools/call", &params]);
    assert_eq!(call.code, Some(4), "{call:?}");
    assert_eq!(call.stdout, "");
    assert_inert("call error", &call);
    let line = call.stderr.trim_end();
    assert_eq!(
        line.lines().count(),
        1,
        "one line, no forged second line: {line}"
    );
    assert!(
        line.starts_with(
            "mcp-oauth: JSON-RPC error -32603: \\u001b]0;pwned\\u0007\\u001b[2J\\u009b31mred\\u202edesrever \
             mcp-oauth: forged line AAA"
        ),
        "{line}"
    );
    assert!(line.ends_with("AAA…"), "capped with an ellipsis: {line}");
    // 512 characters of the message, some expanded to six-character escapes, plus the prefix.
    assert!(line.chars().count() < 700, "{} chars", line.chars().count());
}

#[test]
fn client_metadata_output_is_inert_json() {
    let env = Env::new(TestbedConfig::default());
    let name = "app \u{1b}]0;pwned\u{7} \u{9b}2J \u{202e}x";
    let run = env.run(&[
        "client-metadata",
        "https://app.example/cimd.json",
        "--redirect-port",
        "5000",
        "--client-name",
        name,
    ]);
    assert_eq!(run.code, Some(0), "{run:?}");
    assert_inert("client-metadata", &run);
    let doc: Value = serde_json::from_str(&run.stdout).expect("a JSON document");
    assert_eq!(doc["client_name"], name);
}
