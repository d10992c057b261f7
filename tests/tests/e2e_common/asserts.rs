//! Assertions on the testbed's log shared by the two adapters' tests: each scenario must leave
//! the same trace whichever adapter ran it.

use mcp_oauth_core::HttpRequest;
use mcp_oauth_store::SessionStore;
use mcp_oauth_tests::serve::TestbedServer;
use mcp_oauth_tests::testbed::{ExpectedScope, RequestKind, TestbedConfig};
use serde_json::json;

use super::{
    assert_no_violations, authorize_scopes, grant_types, kinds, logged, stored_tokens, Call,
    ScriptedBrowser, LOGIN_THEN_MCP,
};

/// After a first login and one `tools/list`: the testbed saw PRM, AS metadata, DCR, the
/// browser's authorization request, the code exchange and the MCP call, in that order; the
/// browser went to the registered loopback redirect URI; the MCP call carried `access`.
pub fn assert_first_login(server: &TestbedServer, browser: &ScriptedBrowser, access: &str) {
    assert_eq!(kinds(server), LOGIN_THEN_MCP);
    assert_eq!(browser.failures(), Vec::<String>::new());
    let locations = browser.locations();
    assert_eq!(locations.len(), 1);
    let redirect_uri = locations[0]
        .split('?')
        .next()
        .unwrap_or_default()
        .to_string();
    assert!(
        redirect_uri.starts_with("http://127.0.0.1:"),
        "{redirect_uri}"
    );
    let registration = server.with_testbed(|t| t.registration_requests());
    assert_eq!(registration[0]["redirect_uris"], json!([redirect_uri]));
    let authorize = logged(server, RequestKind::Authorize);
    assert_eq!(authorize[0].query("redirect_uri"), Some(redirect_uri));
    assert_eq!(grant_types(server), ["authorization_code"]);
    let mcp = logged(server, RequestKind::Mcp);
    assert_eq!(mcp[0].authorization, None);
    assert_eq!(mcp[0].status, 401);
    assert_eq!(mcp[1].authorization, Some(format!("Bearer {access}")));
    assert_eq!(mcp[1].status, 200);
    assert_no_violations(server);
}

/// The step-up testbed: `tools/list` needs `mcp:basic` (the 401 challenge's scope), `tools/call`
/// of `test-tool` also `mcp:write`; the testbed itself checks both authorization requests'
/// scopes (the first from the challenge, the step-up the union: ARCHITECTURE.md §8).
pub fn step_up_config() -> TestbedConfig {
    TestbedConfig {
        challenge_scope: Some("mcp:basic".into()),
        call_scopes: vec!["mcp:write".into()],
        expected_first_scope: Some(ExpectedScope::Contains(vec!["mcp:basic".into()])),
        expected_reauth_scope: Some(vec!["mcp:basic".into(), "mcp:write".into()]),
        ..TestbedConfig::default()
    }
}

/// After probe (401), login, `tools/list`, `tools/call` (403, step-up, retry): the second
/// authorization request asked for the union of scopes, and discovery and registration ran
/// once.
pub fn assert_step_up(server: &TestbedServer, browser: &ScriptedBrowser, stored_scopes: &[String]) {
    let basic = vec!["mcp:basic".to_string()];
    let union = vec!["mcp:basic".to_string(), "mcp:write".to_string()];
    assert_eq!(authorize_scopes(server), [basic, union.clone()]);
    let count = |k| server.with_testbed(|t| t.count(k));
    assert_eq!(
        count(RequestKind::ResourceMetadata),
        1,
        "no second PRM fetch"
    );
    assert_eq!(
        count(RequestKind::ServerMetadata),
        1,
        "no second AS metadata fetch"
    );
    assert_eq!(count(RequestKind::Registration), 1);
    assert_eq!(
        grant_types(server),
        ["authorization_code", "authorization_code"]
    );
    let mcp: Vec<u16> = logged(server, RequestKind::Mcp)
        .iter()
        .map(|r| r.status)
        .collect();
    assert_eq!(mcp, [401, 200, 403, 200]);
    assert_eq!(browser.opened(), 2);
    let mut scopes = stored_scopes.to_vec();
    scopes.sort();
    assert_eq!(scopes, union);
    assert_no_violations(server);
}

/// After a logout: two RFC 7009 requests, the refresh token first (revoking it revokes the
/// grant, §2.1), then the access token, each with its `token_type_hint`; the store is empty.
pub fn assert_logout(
    server: &TestbedServer,
    store: &dyn SessionStore,
    key: &str,
    (access, refresh): (&str, Option<&str>),
) {
    assert_eq!(
        kinds(server),
        [RequestKind::Revocation, RequestKind::Revocation]
    );
    let revocations = logged(server, RequestKind::Revocation);
    assert_eq!(revocations[0].form_value("token"), refresh);
    assert_eq!(
        revocations[0].form_value("token_type_hint"),
        Some("refresh_token")
    );
    assert_eq!(revocations[1].form_value("token"), Some(access));
    assert_eq!(
        revocations[1].form_value("token_type_hint"),
        Some("access_token")
    );
    assert!(revocations.iter().all(|r| r.status == 200));
    assert!(store.load(key).expect("store readable").is_none());
    assert_no_violations(server);
}

/// A `tools/list` request carrying a given bearer token (to replay a token after logout).
pub fn tools_list_with(mcp_url: &str, access: &str) -> HttpRequest {
    let mut request = Call::tools_list(mcp_url).request;
    request
        .headers
        .push(("Authorization".into(), format!("Bearer {access}")));
    request
}

/// After a stampede of `calls` calls on one expired token: one refresh, every call answered 200
/// with the refreshed (stored) token.
pub fn assert_one_refresh_for_all(
    server: &TestbedServer,
    store: &dyn SessionStore,
    key: &str,
    calls: usize,
) {
    assert_eq!(
        grant_types(server),
        ["refresh_token"],
        "exactly one refresh"
    );
    let mcp = logged(server, RequestKind::Mcp);
    assert_eq!(mcp.len(), calls);
    let (access, _) = stored_tokens(store, key);
    let bearer = format!("Bearer {access}");
    assert!(mcp
        .iter()
        .all(|r| r.status == 200 && r.authorization.as_deref() == Some(bearer.as_str())));
    assert_no_violations(server);
}
