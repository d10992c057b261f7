//! The real `mcp-oauth` binary against a hostile testbed (issue 15, "Bad servers and bad
//! days"): a refresh answered `503 {"error": "temporarily_unavailable"}` keeps both stored
//! tokens, and the still-valid access token is printed; a protected-resource metadata 503 is
//! named in the error instead of falling back to the 2025-03-26 legacy endpoints.

mod common;

use std::time::{SystemTime, UNIX_EPOCH};

use common::Env;
use mcp_oauth_core::HttpResponse;
use mcp_oauth_testbed::testbed::{HostileTarget, RequestKind as K, TestbedConfig};
use serde_json::json;

fn wall_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Logs in through the scripted browser and forgets the login's requests.
#[cfg(unix)]
fn login(env: &Env) {
    let run = env.run(&["login", &env.url(), "--login-timeout", "30"]);
    assert_eq!(run.code, Some(0), "{run:?}");
    env.clear_log();
}

/// Sets the stored access token's expiry. The issue time is forgotten too: with it, a token
/// shortened by hand would look short-lived and get a margin of half its (fake) lifetime.
fn expire_at(env: &Env, at: u64) {
    let mut session = env.session().expect("a session");
    if let Some(t) = session.tokens.as_mut() {
        t.expires_at = Some(at);
        t.obtained_at = None;
    }
    env.save(&session);
}

fn unavailable() -> HttpResponse {
    HttpResponse::json(503, &json!({"error": "temporarily_unavailable"}))
}

#[cfg(unix)]
#[test]
fn a_503_refresh_keeps_both_tokens_and_prints_the_still_valid_one() {
    let env = Env::new(TestbedConfig::default());
    let url = env.url();
    login(&env);
    let (access, refresh) = env.tokens();
    assert!(refresh.is_some());
    env.server
        .with_testbed(|t| t.answer_hostile(HostileTarget::Refresh, unavailable()));
    // Inside the 60 s refresh margin, still valid for a while: the refresh is tried first.
    expire_at(&env, wall_now() + 50);
    let run = env.run(&["token", &url]);
    assert_eq!(run.code, Some(0), "{run:?}");
    assert_eq!(run.stdout, format!("{access}\n"));
    assert_eq!(env.kinds(), [K::Token], "one refresh attempt, no login");
    assert_eq!(env.tokens(), (access, refresh), "both tokens still stored");
}

#[cfg(unix)]
#[test]
fn a_503_refresh_of_an_expired_token_fails_without_forgetting_anything() {
    let env = Env::new(TestbedConfig::default());
    let url = env.url();
    login(&env);
    let before = env.tokens();
    env.server
        .with_testbed(|t| t.answer_hostile(HostileTarget::Refresh, unavailable()));
    expire_at(&env, 1);
    let run = env.run(&["token", &url]);
    // A failure to retry later (1), not "login required" (3).
    assert_eq!(run.code, Some(1), "{run:?}");
    assert_eq!(run.stdout, "");
    assert!(run.stderr.contains("HTTP 503"), "{}", run.stderr);
    assert_eq!(env.kinds(), [K::Token], "no browser, no discovery");
    assert_eq!(env.tokens(), before, "both tokens still stored");

    // The server recovers: the kept refresh token still works.
    env.server.with_testbed(|t| t.calm());
    let run = env.run(&["token", &url]);
    assert_eq!(run.code, Some(0), "{run:?}");
    assert_ne!(env.tokens().0, before.0, "refreshed");
}

#[cfg(unix)]
#[test]
fn a_503_from_protected_resource_metadata_is_named_and_not_guessed_around() {
    let env = Env::new(TestbedConfig::default());
    let url = env.url();
    env.server.with_testbed(|t| {
        t.answer_hostile(
            HostileTarget::Kind(K::ResourceMetadata),
            HttpResponse::json(503, &json!({"error": "temporarily_unavailable"})),
        )
    });
    let run = env.run(&["login", &url, "--login-timeout", "30"]);
    assert_ne!(run.code, Some(0), "{run:?}");
    let prm_url = env
        .server
        .with_testbed(|t| t.prm_url())
        .expect("the testbed serves PRM");
    assert!(
        run.stderr.contains(&format!(
            "the protected-resource metadata at {prm_url} answered HTTP 503"
        )),
        "{}",
        run.stderr
    );
    // Both PRM candidates, then nothing: no legacy metadata at the MCP origin, no browser.
    assert_eq!(env.kinds(), [K::ResourceMetadata, K::ResourceMetadata]);
    assert!(env.session().is_none());
}

/// Issue 15 item 3: after a successful refresh in the same `call`, the MCP server answers 401
/// and both metadata documents answer 503. That is a transient fault: the stored session (its
/// refresh token above all) survives, and the error names the 503, not a registration.
#[cfg(unix)]
#[test]
fn a_401_then_503_metadata_after_a_refresh_never_deletes_the_session() {
    let env = Env::new(TestbedConfig::default());
    let url = env.url();
    login(&env);
    expire_at(&env, wall_now() + 30); // inside the margin: the call refreshes first
    let mut refusal = HttpResponse::json(401, &json!({}));
    refusal.headers.push((
        "WWW-Authenticate".into(),
        r#"Bearer error="invalid_token""#.into(),
    ));
    env.server.with_testbed(|t| {
        t.answer_hostile(HostileTarget::Kind(K::Mcp), refusal);
        t.answer_hostile(HostileTarget::Kind(K::ResourceMetadata), unavailable());
        t.answer_hostile(HostileTarget::Kind(K::ServerMetadata), unavailable());
    });
    let run = env.run(&["call", &url, "tools/list", "--login-timeout", "30"]);
    assert_ne!(run.code, Some(0), "{run:?}");
    let kinds = env.kinds();
    assert!(kinds.contains(&K::Token), "the refresh ran: {kinds:?}");
    assert!(
        kinds.contains(&K::ResourceMetadata),
        "re-discovery met the 503: {kinds:?}"
    );
    assert!(run.stderr.contains("503"), "the 503 is named: {run:?}");
    assert!(
        !run.stderr.to_lowercase().contains("registration"),
        "no registration is blamed: {run:?}"
    );
    let session = env.session().expect("the session survives");
    let tokens = session.tokens.expect("with its tokens");
    assert!(tokens.refresh_token.is_some(), "and its refresh token");
}
