//! `status` over several stored sessions: one unreadable session is reported on stderr (exit
//! 1) while the readable ones are still shown; nothing secret is printed.

mod common;

use common::Env;
use mcp_oauth_blocking::{FileStore, SessionStore};
use mcp_oauth_core::Session;
use mcp_oauth_testbed::testbed::TestbedConfig;
use serde_json::Value;

/// A stored session, written as JSON so the test does not depend on every field of the type.
fn session(server: &str) -> Session {
    let json = serde_json::json!({
        "version": 1,
        "server": server,
        "resource": server,
        "issuer": "https://as.example.com",
        "token_endpoint": "https://as.example.com/token",
        "client": {
            "kind": "metadata_document",
            "issuer": "https://as.example.com",
            "client_id": "https://app.example/cimd.json",
            "client_secret": "SECRET-client",
            "auth_method": "none"
        },
        "tokens": {
            "access_token": "SECRET-access",
            "token_type": "Bearer",
            "refresh_token": "SECRET-refresh"
        },
        "scopes": ["files:read"]
    });
    Session::from_json(&json.to_string()).expect("a valid session")
}

#[test]
fn an_unreadable_session_is_reported_and_the_others_shown() {
    let env = Env::new(TestbedConfig::default());
    let store = FileStore::new(env.state_dir()).expect("file store");
    let good = "https://mcp.example.com/mcp";
    store.save(good, &session(good)).expect("save");
    // A second session whose content is not a session any more.
    let bad = "https://broken.example.com/mcp";
    store.save(bad, &session(bad)).expect("save");
    let path = store.path_for(bad);
    std::fs::write(
        &path,
        format!(r#"{{"key":"{bad}","session":{{"version":1,"server":42}}}}"#),
    )
    .expect("corrupt the file");

    let out = env.run(&["status", "--json"]);
    assert_eq!(out.code, Some(1), "{out:?}");
    let doc: Value = serde_json::from_str(&out.stdout).expect("JSON");
    assert_eq!(doc.as_array().map(Vec::len), Some(1), "{doc}");
    assert_eq!(doc[0]["server"], good);
    assert_eq!(doc[0]["client_kind"], "cimd");
    assert_eq!(doc[0]["expires_at"], Value::Null);
    assert!(out.stderr.contains(bad), "{}", out.stderr);
    assert!(
        out.stderr.contains("1 stored session(s) could not be read"),
        "{}",
        out.stderr
    );

    let out = env.run(&["status"]);
    assert_eq!(out.code, Some(1), "{out:?}");
    assert!(
        out.stdout.starts_with(&format!("{good}\n")),
        "{}",
        out.stdout
    );
    assert!(out
        .stdout
        .contains("token:   Bearer, no expiry given, refresh token stored"));
    for text in [&out.stdout, &out.stderr] {
        assert!(!text.contains("SECRET"), "{text}");
    }
}
